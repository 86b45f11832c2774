export { parseSize, parseDuration, formatBytes } from './units.js';

export { parseSize, parseDuration, formatBytes } from './units.js';
export { mulberry32 } from './random.js';

export { download, resolveTarget, defaultOutput, DEFAULT_SERVER, type DownloadOptions, type DownloadEvent, type DownloadSummary } from './download.js';
export { DropPlan, mulberry32, CHANCE_BLOCK, type DropPlanOptions } from './drop-plan.js';
export { MobgetError, EXIT, exitCodeFor, type MobgetErrorCode } from './errors.js';
export { swarm, type SwarmOptions, type SwarmStats, type SwarmSummary, type SwarmFailure } from './swarm.js';
export { ResponseParser, type ResponseEvent, type ResponseHead } from './http/response-parser.js';
export { parseContentRange, strongEtag, sha256FromReprDigest } from './http/validators.js';
export { statePath, loadState, type ResumeState } from './state-file.js';

import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../..');
export const FIXTURES = path.join(REPO, 'fixtures');
export const MOBSERVE = path.join(REPO, 'packages/server/dist/bin/mobserve.js');
export const MOBGET = path.join(REPO, 'packages/client/dist/bin/mobget.js');

/**
 * One jest run for the whole monorepo. Tests are TypeScript, transpiled by
 * @swc/jest (type-checking is `tsc -b`, run by `pnpm test` before jest).
 * End-to-end tests spawn the built binaries in packages/{server,client}/dist.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages/server/test', '<rootDir>/packages/client/test', '<rootDir>/packages/common/test', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // Sources use NodeNext-style `./x.js` specifiers; map them back to the .ts files.
  // '@mobserve/{common,client,server}' resolve to their TypeScript sources, not the built ESM dist.
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^@mobserve/common$': '<rootDir>/packages/common/src/index.ts',
    '^@mobserve/client$': '<rootDir>/packages/client/src/index.ts',
    '^@mobserve/server$': '<rootDir>/packages/server/src/index.ts',
  },
  testTimeout: 30000,
  maxWorkers: 2,
};

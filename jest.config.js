/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  rootDir: '.',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false }, isolatedModules: false }] },
  // src/ and rules/ import with '.js' specifiers (what Node's ES module loader needs); here they are the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
  // A fresh worker process for every test file: the WebGPU-in-Node suites load Dawn (a native
  // module, loaded once per process), and Dawn instances piling up in one long-lived worker made
  // it abort once ("The futex facility returned an unexpected error code", SIGABRT). Recycling
  // after each file (any worker is above this limit) costs about a second per file.
  workerIdleMemoryLimit: '1MB',
  setupFiles: ['<rootDir>/test/setup.ts'],
};

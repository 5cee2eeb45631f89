#!/usr/bin/env node
// The `tfjs-lrp` command (see `tfjs-lrp --help`): the CommonJS build of src/node/cli/main.ts.
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('../dist/cjs/src/node/cli/main.js').run(process.argv.slice(2));

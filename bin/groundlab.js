#!/usr/bin/env node
'use strict';
// The groundlab CLI. Runs the built library (npm run build creates dist/).
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('groundlab: the library is not built yet (no dist/). Run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(2);
}
require(main).main(process.argv.slice(2)).then((code) => { process.exitCode = code; });

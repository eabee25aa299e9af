#!/usr/bin/env node
// @ts-check
/**
 * Entry point of the groundlab Jupyter kernel (kernelspec name `groundlab`).
 * Jupyter starts it as: node kernel/main.js <connection_file>
 * (`--connection-file <f>` and tslab's `kernel --config-path <f>` forms are accepted too).
 */
const fs = require('node:fs');
const { GroundlabKernel } = require('./kernel');

function connectionFile(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--connection-file' || a === '--config-path' || a === '-f') return argv[i + 1];
    const m = /^--(?:connection-file|config-path)=(.+)$/.exec(a);
    if (m) return m[1];
  }
  return argv.find((a) => a.endsWith('.json'));
}

async function main() {
  const file = connectionFile(process.argv.slice(2));
  if (!file) {
    process.stderr.write('usage: node kernel/main.js <connection_file.json>\n(Jupyter starts this; to install the kernel run: node kernel/install.js [--user])\n');
    process.exit(2);
  }
  const conn = JSON.parse(fs.readFileSync(file, 'utf8'));
  const kernel = new GroundlabKernel(conn, { cwd: process.cwd() });
  await kernel.start();
}

main().catch((e) => {
  process.stderr.write(`[groundlab kernel] failed to start: ${(e && e.stack) || e}\n`);
  process.exit(1);
});

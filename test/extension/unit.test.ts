/**
 * Runs the extension's own renderer unit tests (extension/test/*.test.ts: payload in, DOM out, in
 * jsdom) from the root test command. They need extension/node_modules (installed by setup_extension
 * in scripts/setup.sh); without it the test is skipped with a message, except under CI, where that
 * is a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

function findRoot(): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'extension', 'package.json'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error('cannot find the groundlab root from ' + __dirname);
    d = up;
  }
  return d;
}

const EXT = path.join(findRoot(), 'extension');
const installed = fs.existsSync(path.join(EXT, 'node_modules', 'jsdom')) && fs.existsSync(path.join(EXT, 'node_modules', 'vega-lite'));
const skip = !installed && !process.env.CI ? 'skipped: extension/node_modules is missing (run `source scripts/setup.sh && setup_extension`)' : false;

test('extension renderer unit tests (jsdom) pass', { skip, timeout: 180_000 }, () => {
  assert.ok(installed, 'extension/node_modules is missing: setup_extension (scripts/setup.sh) installs it');
  // a nested `node --test` skips its files when it inherits the runner's NODE_TEST_CONTEXT
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync('npm', ['test', '--silent'], { cwd: EXT, encoding: 'utf8', env });
  const out = `${r.stdout}\n${r.stderr}`;
  const pass = /# pass (\d+)/.exec(out);
  const fail = /# fail (\d+)/.exec(out);
  assert.equal(r.status, 0, `extension tests failed:\n${out.slice(-4000)}`);
  assert.ok(pass && Number(pass[1]) >= 10, `expected at least 10 passing renderer tests:\n${out.slice(-2000)}`);
  assert.equal(fail && Number(fail[1]), 0);
});

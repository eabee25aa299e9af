/**
 * Jupyter's conformance suite (jupyter_kernel_test, from scripts/requirements.txt) passes against
 * the installed groundlab kernel, with nothing skipped but the pager, which the kernel does not
 * offer. Subtests (history tail/range/search, is_complete per status) count as their test.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { installKernel, jupyterEnv, jupyterMissing, PYTHON, ROOT, tempDir } from './helpers';

const missing = jupyterMissing(['jupyter_client', 'jupyter_kernel_test']);
let out = '';
let status: number | null = null;

before(() => {
  if (missing) return;
  installKernel();
  const r = spawnSync(PYTHON, ['-u', path.join(ROOT, 'test', 'kernel', 'conformance.py')], { cwd: tempDir('groundlab-conformance-'), encoding: 'utf8', timeout: 300_000, env: jupyterEnv() });
  status = r.status;
  out = `${r.stdout}\n${r.stderr}`;
});

test('jupyter_kernel_test passes against the groundlab kernel', { skip: missing }, () => {
  assert.equal(status, 0, out.slice(-6000));
  assert.match(out, /^Ran \d+ tests/m);
  assert.match(out, /^OK( \(skipped=\d+\))?$/m);
});

test('only the pager is skipped; every other conformance test ran', { skip: missing }, () => {
  const skipped = [...out.matchAll(/^SKIPPED \S+\.(\w+)(?: \(.*\))?: (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual([...new Set(skipped)], ['test_pager'], out.slice(-4000));
  for (const t of ['test_history', 'test_display_data', 'test_clear_output', 'test_inspect', 'test_completion', 'test_is_complete', 'test_execute_result', 'test_error', 'test_execute_stderr', 'test_execute_stdout', 'test_kernel_info'])
    assert.match(out, new RegExp(`^${t} \\(.*\\) \\.\\.\\. ok$`, 'm'), `${t} ran and passed`);
});

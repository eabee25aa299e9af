/**
 * Opening and saving a committed notebook leaves it byte-identical, so JupyterLab's autosave never
 * rewrites a tracked file: its metadata is what the groundlab kernel reports (language_info) and
 * its layout is nbformat's. Checked with a real kernel and jupyter_server's contents manager
 * (open_save.py), for every notebook in notebooks/ and the kernel test's fixture.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installKernel, jupyterEnv, jupyterMissing, PYTHON, ROOT, tempDir } from '../kernel/helpers';

const missing = jupyterMissing(['jupyter_client', 'jupyter_server', 'nbformat']);
const NB = path.join(ROOT, 'notebooks');
const files = fs.readdirSync(NB).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(NB, f));
let res: { changed: string[]; checked: number; language_info: Record<string, unknown> } | undefined;
let log = '';

before(() => {
  if (missing) return;
  installKernel();
  const r = spawnSync(PYTHON, [path.join(ROOT, 'test', 'notebooks', 'open_save.py'), tempDir('groundlab-open-save-'), ...files], { encoding: 'utf8', timeout: 180_000, env: jupyterEnv() });
  log = `${r.stdout}\n${r.stderr}`;
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status === 0) res = JSON.parse(line);
});

test('opening and saving every notebook (real kernel, jupyter_server) leaves it byte-identical', { skip: missing }, () => {
  assert.ok(res, log.slice(-4000));
  assert.equal(res!.checked, files.length);
  assert.deepEqual(res!.changed, []);
});

test("the notebooks' language_info is the kernel's, field for field", { skip: missing }, () => {
  for (const f of files) assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')).metadata.language_info, res!.language_info, f);
});

/**
 * The kernel behind the browser frontends: JupyterLab 4 and Notebook 7 (the .venv's) list the
 * groundlab kernelspec, start it through the REST API, and a cell run over the kernel websocket
 * (the path the browser takes) prints and displays a Vega-Lite figure with its fallbacks. One
 * server (jupyter lab) serves both apps.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installKernel, jupyterEnv, jupyterMissing, PYTHON, ROOT, tempDir } from './helpers';

const missing = jupyterMissing(['jupyterlab', 'tornado']);
// Notebook 7 is in scripts/requirements.txt; an older .venv may lack it.
const missingNotebook = missing ?? jupyterMissing(['notebook']);
let r: Record<string, any> = {};

before(() => {
  if (missing) return;
  installKernel();
  const work = tempDir('groundlab-lab-');
  const out = path.join(work, 'result.json');
  const p = spawnSync(PYTHON, [path.join(ROOT, 'test', 'kernel', 'jupyter_server_driver.py'), 'lab', out, work], { encoding: 'utf8', timeout: 120_000, env: jupyterEnv() });
  r = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : {};
  r.__log = `exit ${p.status}\n${String(p.stderr).slice(-3000)}`;
});

test('JupyterLab 4 lists the kernel, starts it, and runs a cell over the kernel websocket', { skip: missing }, () => {
  assert.ok(r.kernelspecs?.includes('groundlab'), r.__log);
  assert.equal(r.groundlab_spec.display_name, 'groundlab (TypeScript)');
  assert.equal(r.page_status, 200);
  assert.equal(r.kernel_name, 'groundlab');
  assert.equal(r.cell.reply.status, 'ok', JSON.stringify(r.cell).slice(0, 2000));
  const text = r.cell.iopub.filter((m: any) => m.type === 'stream').map((m: any) => m.content.text).join('');
  assert.match(text, /from the server/);
  const fig = r.cell.iopub.find((m: any) => m.type === 'display_data');
  assert.equal(fig.content.data['application/vnd.vegalite.v5+json'].title, 'via server');
  assert.match(fig.content.data['image/svg+xml'], /<svg/);
  assert.ok(fig.content.data['image/png'].length > 100);
});

test('Notebook 7 is served by the same jupyter_server (same kernelspec and kernel API)', { skip: missingNotebook }, () => {
  assert.equal(r.notebook7_page, 200, r.__log);
});

/**
 * A real notebook (fixtures/tiny-train.ipynb) executed end to end by nbclient on the installed
 * groundlab kernel: it trains a `tiny` Transformer with a live progress output, shows the loss
 * table and a Vega-Lite figure (with image fallbacks).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installKernel, jupyterEnv, jupyterMissing, PYTHON, ROOT, tempDir } from './helpers';

const missing = jupyterMissing(['nbclient', 'nbformat']);
let nb: { cells: { cell_type: string; outputs?: any[] }[] };
let runDir = '';
let log = '';
let status: number | null = null;
let seconds = 0;

before(() => {
  if (missing) return;
  installKernel();
  const work = tempDir('groundlab-nb-');
  runDir = path.join(work, 'run');
  const out = path.join(work, 'executed.ipynb');
  const t = Date.now();
  const r = spawnSync(PYTHON, [path.join(ROOT, 'test', 'kernel', 'run_notebook.py'), path.join(ROOT, 'test', 'kernel', 'fixtures', 'tiny-train.ipynb'), out, work], {
    encoding: 'utf8',
    timeout: 240_000,
    env: jupyterEnv({ GROUNDLAB_NB_RUN: runDir }),
  });
  seconds = (Date.now() - t) / 1000;
  status = r.status;
  log = `${r.stdout}\n${r.stderr}`;
  nb = JSON.parse(fs.readFileSync(out, 'utf8'));
});

/** nbformat stores multi-line strings as lists of lines. */
const joined = (x: string | string[]) => ([] as string[]).concat(x).join('');
const outputs = () => nb.cells.filter((c) => c.cell_type === 'code').map((c) => c.outputs ?? []);

test('nbclient runs the tiny-training notebook without errors', { skip: missing }, () => {
  assert.equal(status, 0, log);
  for (const outs of outputs()) assert.ok(!outs.some((o) => o.output_type === 'error'), JSON.stringify(outs).slice(0, 2000));
  assert.ok(seconds < 90, `took ${seconds}s`);
});

test('training shows one progress output that ends at the last step, and saves checkpoints', { skip: missing }, () => {
  const train = outputs()[1];
  const progress = train.filter((o) => o.output_type === 'display_data');
  assert.equal(progress.length, 1, 'one progress output (updates replaced it in place)');
  assert.match(joined(progress[0].data['text/plain']), /^train 30\/30\s+100%\s+loss \d+\.\d+/);
  assert.match(joined(progress[0].data['text/html']), /groundlab-progress/);
  const text = train.filter((o) => o.output_type === 'stream').map((o) => [].concat(o.text).join('')).join('');
  assert.match(text, /completed at step 30/);
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'step-000030')));
});

test('the loss table shows as HTML and the figure as Vega-Lite with SVG and PNG fallbacks', { skip: missing }, () => {
  const [, , tableCell, figCell] = outputs();
  const table = tableCell.find((o) => o.output_type === 'display_data');
  const html = [].concat(table.data['text/html']).join('');
  assert.match(html, /<table>.*<th[^>]*>step<\/th>.*<th[^>]*>loss<\/th>/s);
  assert.match(html, /30 rows x 3 columns/);
  const result = tableCell.find((o) => o.output_type === 'execute_result');
  assert.match([].concat(result.data['text/plain']).join(''), /30/);
  assert.equal(figCell.length, 1, 'the display handle is not shown as a result');
  const fig = figCell[0];
  assert.equal(fig.output_type, 'display_data');
  assert.equal(fig.data['application/vnd.vegalite.v5+json'].title, 'tiny Transformer: training loss');
  assert.equal(fig.data['application/vnd.vegalite.v5+json'].data.values.length, 30);
  assert.match([].concat(fig.data['image/svg+xml']).join(''), /<svg/);
  assert.ok(Buffer.from(fig.data['image/png'], 'base64').subarray(1, 4).equals(Buffer.from('PNG')));
});

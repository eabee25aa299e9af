/**
 * Every curated notebook executed end to end by nbclient on the installed groundlab kernel with the
 * `tiny` preset (the runs they share are trained once, into a temporary folder), then
 * `groundlab reproduce --preset tiny` over those runs: it finds them done and writes the report.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installKernel, jupyterMissing, PYTHON, ROOT, tempDir } from '../kernel/helpers';

const missing = jupyterMissing(['nbclient', 'nbformat']);
const SCRIPT = path.join(ROOT, 'scripts', 'notebooks.py');
const names = fs.readdirSync(path.join(ROOT, 'notebooks', 'src')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
let work = '';
let runs = '';
let log = '';
let status: number | null = null;

before(() => {
  if (missing) return;
  installKernel();
  work = tempDir('groundlab-notebooks-');
  runs = path.join(work, 'runs');
  const r = spawnSync(PYTHON, [SCRIPT, 'run', '--preset', 'tiny', '--out', path.join(work, 'executed'), '--timeout', '900'], {
    encoding: 'utf8',
    timeout: 40 * 60_000,
    env: { ...process.env, GROUNDLAB_RUNS: runs, GROUNDLAB_QUIET: '1' },
  });
  status = r.status;
  log = `${r.stdout}\n${r.stderr}`;
});

test('the committed notebooks match their sources in notebooks/src', { skip: missing }, () => {
  const r = spawnSync(PYTHON, [SCRIPT, 'check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('there is a notebook per result of the paper, the quickstart, and five teaching notebooks', () => {
  assert.ok(names.includes('00-quickstart'));
  assert.equal(names.filter((n) => /^\d\d-/.test(n)).length, 14);
  assert.equal(names.filter((n) => /^t\d-/.test(n)).length, 5);
});

for (const name of names) {
  test(`notebook ${name} runs with the tiny preset and shows its results`, { skip: missing }, () => {
    const file = path.join(work, 'executed', `${name}.ipynb`);
    assert.ok(fs.existsSync(file), `not executed: ${name}\n${log.slice(-3000)}`);
    const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Array<{ cell_type: string; outputs?: Array<{ output_type: string; ename?: string; evalue?: string; data?: Record<string, unknown> }> }> };
    const outs = nb.cells.filter((c) => c.cell_type === 'code').flatMap((c) => c.outputs ?? []);
    const errors = outs.filter((o) => o.output_type === 'error');
    assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), []);
    assert.ok(outs.some((o) => o.output_type === 'display_data' || o.output_type === 'execute_result'), 'no result shown');
  });
}

test('all notebooks succeeded (nbclient exit status)', { skip: missing }, () => {
  assert.equal(status, 0, log.slice(-4000));
});

test('groundlab reproduce --preset tiny over the notebooks\' runs writes REPORT.md, figures and tables', { skip: missing }, () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'groundlab.js'), 'reproduce', '--preset', 'tiny', '--seeds', '0', '--out', runs, '--quiet'], {
    encoding: 'utf8',
    timeout: 20 * 60_000,
    env: { ...process.env, GROUNDLAB_QUIET: '1' },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /reproduce: \d+ figures, 10 tables, 15 claims/); // head counts, heads by layer, ablation (2), path test (2), final G, architectures, emergence, runs
  const report = fs.readFileSync(path.join(runs, 'REPORT.md'), 'utf8');
  assert.match(report, /\| claim \(paper\) \| measured here \| verdict \| rule \|/);
  for (const f of ['gain-by-architecture', 'surprisal-match-mismatch']) {
    assert.ok(fs.existsSync(path.join(runs, 'figures', `${f}.svg`)), f);
    assert.ok(fs.existsSync(path.join(runs, 'figures', `${f}.png`)), f);
  }
  assert.ok(fs.existsSync(path.join(runs, 'tables', 'ablation-aggregate.csv')));
});

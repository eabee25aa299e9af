import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { emergenceContrast, emergenceRows, emergenceSettings, emergenceTable } from '../../src/reproduce/emergence';
import { judgeClaims, writeReport } from '../../src/reproduce/report';
import type { RunTables } from '../../src/reproduce/collect';

/** An emergence run whose G at steps 0, 100, 200, 300 is given. */
function run(arch: string, setting: string, gains: number[], seed = 0): RunTables {
  const steps = gains.map((_, i) => i * 100);
  const gain_summary = gains.map((gain, i) => ({ step: steps[i], gain, match: 5 - gain, mismatch: 5, ci_lo: gain - 0.1, ci_hi: gain + 0.1 }));
  const group = setting.startsWith('simple + ') ? 'emergence/knobs' : 'emergence/settings';
  return { group, cell: `${arch}_${seed}`, label: `${arch} [${setting}]`, arch, seed, dir: '/nowhere', steps, tables: { gain_summary } };
}

test('emergence: the first checkpoint with G > 1 nat per run; never above it is censored at the last step', () => {
  const runs = [
    run('lstm', 'realistic', [0, 0.2, 0.5, 0.9]),
    run('transformer', 'realistic', [0, 0.5, 1.0, 1.5]), // exactly 1 is not above
    run('transformer', 'simple', [0, 2, 5, 8]),
    run('transformer', 'simple + pUnnamed=0.25', [0, 0.9, 1.2, 3]),
    { ...run('transformer', 'simple', [0, 9, 9, 9]), group: 'main', label: 'transformer', setting: 'simple' }, // the same run as the emergence one: counted once
    { ...run('lstm', 'simple', [0, 0, 3, 3]), group: 'main', label: 'lstm', setting: 'simple' }, // the main comparison's run of the simple setting
    { ...run('transformer', 'realistic', [0, 3, 3, 3], 1), group: 'noise', label: 'transformer (realistic corpus)', setting: 'realistic' },
    { ...run('transformer', 'simple', [0, 3, 3, 3], 1), group: 'checks/shared-vocab', label: 'transformer (shared vocabulary)' }, // not a setting of the sweep
  ];
  const rows = emergenceRows(runs);
  assert.deepEqual(
    rows.map((r) => [r.setting, r.arch, r.step, r.censored]),
    [
      ['simple', 'transformer', 100, false],
      ['simple', 'lstm', 200, false],
      ['simple + pUnnamed=0.25', 'transformer', 200, false],
      ['realistic', 'transformer', 300, false],
      ['realistic', 'transformer', 100, false],
      ['realistic', 'lstm', undefined, true],
    ],
  );
  const t = emergenceTable(rows);
  assert.deepEqual(t.rows.map((r) => [r.setting, r.transformer_step, r.lstm_step]), [
    ['simple', 100, 200],
    ['simple + pUnnamed=0.25', 200, undefined],
    ['realistic', '200 (100 to 300, 2 seeds)', '> 300'],
  ]);
  assert.equal(t.rows[2].lstm_gain, 0.9);
  assert.equal(t.rows[2].transformer_gain, 2.25, 'final G: the mean over seeds');
  assert.deepEqual(emergenceSettings().slice(0, 2), ['simple', 'simple + pUnnamed=0.25']);
  assert.equal(emergenceSettings().at(-1), 'realistic');
});

test('emergence over seeds: the mean step when all emerge, the steps and the censored count otherwise', () => {
  const rows = emergenceRows([run('mamba2', 'simple', [0, 2, 2, 2], 0), run('mamba2', 'simple', [0, 0, 0, 2], 1), run('mamba2', 'realistic', [0, 2, 2, 2], 0), run('mamba2', 'realistic', [0, 0, 0, 0], 1)]);
  const t = emergenceTable(rows);
  assert.equal(t.rows[0].mamba2_step, '200 (100 to 300, 2 seeds)');
  assert.equal(t.rows[1].mamba2_step, '100; 1 of 2 > 300');
  const same = emergenceTable(emergenceRows([run('lstm', 'simple', [0, 2, 2, 2], 0), run('lstm', 'simple', [0, 3, 3, 3], 1)]));
  assert.equal(same.rows[0].lstm_step, '100 (all 2 seeds)');
});

test('REPORT.md gets the emergence section, table and figure when the group ran', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-emergence-'));
  const res = await writeReport(out, [run('transformer', 'simple', [0, 2, 5, 8]), run('lstm', 'simple', [0, 0, 0, 0])], { preset: 'tiny', wallSec: 1, command: 'x' });
  const report = fs.readFileSync(res.report, 'utf8');
  assert.match(report, /## When grounding emerges, against referential noise/);
  assert.match(report, /\| simple \| 1 \| 100 \| 8 \| > 300 \| 0 \|/);
  assert.ok(res.figures.includes('emergence-time') && res.tables.includes('emergence'));
  const spec = JSON.parse(fs.readFileSync(path.join(out, 'figures', 'emergence-time.vl.json'), 'utf8'));
  assert.deepEqual(spec.data.values.map((v: { censored: boolean }) => v.censored), [false, true]);
  fs.rmSync(out, { recursive: true, force: true });
});

test('the referential-noise claim reads the emergence steps of simple and realistic (the only evidence at medium)', () => {
  const runs = [
    run('lstm', 'simple', [0, 2, 5, 8]),
    { ...run('lstm', 'realistic', [0, 0, 0.4, 0.6]), group: 'main', label: 'lstm', setting: 'realistic' },
    { ...run('transformer', 'realistic', [0, 0, 3, 3]), group: 'main', label: 'transformer', setting: 'realistic' },
  ];
  const contrast = 'first step with G > 1 nat, simple -> realistic: lstm 100 -> > 300';
  assert.equal(emergenceContrast(emergenceRows(runs)), contrast, 'only architectures with both settings');
  const claim = judgeClaims(runs).find((c) => c.paper.startsWith('Beyond the paper: referential noise'));
  assert.equal(claim?.measured, contrast);
  assert.equal(claim?.verdict, 'reported');
  assert.equal(emergenceContrast(emergenceRows(runs.slice(1))), undefined);
  const none = judgeClaims(runs.slice(1)).find((c) => c.paper.startsWith('Beyond the paper: referential noise'));
  assert.equal(none?.verdict, 'not measured');
});

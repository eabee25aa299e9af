import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import { aggregateSweep, cellStatePath, finalMeasures, seedStats, openSweep, validateSpec } from '../../src/sweep';

function writeArrow(file: string, cols: Record<string, unknown[]>) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, aq.toArrowIPC(aq.table(cols)) as Uint8Array);
}

test('final measures: last step row, timing columns left out', () => {
  const t = aq.table({ step: [10, 30, 20], loss: [3, 1, 2], lr: [0.1, 0.2, 0.3], tokensPerSec: [5, 6, 7], elapsed_sec: [1, 2, 3], grad_norm: [9, 8, 7] });
  assert.deepEqual(finalMeasures(t as never), { step: 30, loss: 1, grad_norm: 8 });
});

test('aggregate: groups over seeds, per-cell mean over nouns, keys kept, only done cells', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-agg-'));
  try {
    const spec = validateSpec({ name: 'a', grid: { arch: ['t', 'l'], seed: [1, 2, 3] }, command: ['{node}', 'fake-train.js'] }, { dir });
    const sweep = openSweep('', { spec });
    const loss: Record<string, number> = { t_s1: 1, t_s2: 2, t_s3: 4, l_s1: 3, l_s2: 5, l_s3: 100 };
    for (const c of sweep.cells) {
      const d = path.join(sweep.dir, c.name);
      const done = c.name !== 'l_s3'; // a cell that did not finish is left out
      fs.mkdirSync(d, { recursive: true });
      fs.mkdirSync(path.dirname(cellStatePath(d)), { recursive: true });
      fs.writeFileSync(cellStatePath(d), JSON.stringify({ name: c.name, index: c.index, state: done ? 'done' : 'failed', stages: {}, attempts: 1 }));
      writeArrow(path.join(d, 'metrics', 'train.arrow'), { step: [1, 2], loss: [9, loss[c.name]] });
      const seed = c.params.seed as number;
      // Two steps x two layers x two nouns: the gain of noun "b" is twice that of "a".
      const cols: Record<string, unknown[]> = { step: [], layer: [], noun: [], gain: [] };
      for (const step of [100, 200]) for (const layer of [0, 1]) for (const [noun, k] of [['a', 1], ['b', 2]] as const) {
        cols.step.push(step);
        cols.layer.push(layer);
        cols.noun.push(noun);
        cols.gain.push(k * (step / 100 + layer + seed));
      }
      writeArrow(path.join(d, 'analysis', 'gain.arrow'), cols);
      // Like analysis/surprisal: condition is a key; noun, env_noun and context are items; ci_lo a statistic.
      writeArrow(path.join(d, 'analysis', 'surprisal.arrow'), {
        step: [100, 100, 100, 100],
        noun: ['a', 'a', 'b', 'b'],
        context: ['c1', 'c2', 'c1', 'c2'],
        condition: ['match', 'mismatch', 'match', 'mismatch'],
        env_noun: ['a', 'x', 'b', 'y'],
        surprisal: [1 + seed, 3 + seed, 2 + seed, 5 + seed],
        ci_lo: [0, 0, 0, 0],
      });
      writeArrow(path.join(d, 'probes', 'env-noun.arrow'), { step: [100, 100], hook: ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post'], layer: [0, 1], accuracy: [0.5 + seed / 10, 0.9] });
    }
    const r = aggregateSweep(sweep);
    assert.deepEqual(r.cells, ['t_s1', 't_s2', 't_s3', 'l_s1', 'l_s2']);
    const f = r.tables.final.objects() as Array<Record<string, number | string>>;
    assert.equal(f.length, 2);
    const ci = seedStats([1, 2, 4]);
    assert.equal(f[0].arch, 't');
    assert.equal(f[0].n, 3);
    assert.equal(f[0].final_step, 2);
    assert.ok(Math.abs((f[0].loss_mean as number) - ci.mean) < 1e-12);
    assert.ok(Math.abs((f[0].loss_lo as number) - ci.lo) < 1e-12 && Math.abs((f[0].loss_hi as number) - ci.hi) < 1e-12);
    assert.equal(f[1].n, 2);
    assert.equal(f[1].loss_mean, 4);
    const g = r.tables['analysis-gain'].objects() as Array<Record<string, number | string>>;
    assert.equal(g.length, 2 * 2 * 2); // arch x step x layer
    assert.deepEqual(Object.keys(g[0]).slice(0, 4), ['arch', 'step', 'layer', 'n']);
    // arch t, step 100, layer 0: per cell mean over nouns = 1.5 * (1 + 0 + seed) -> seeds 1..3 -> 3, 4.5, 6
    assert.equal(g[0].arch, 't');
    assert.equal(g[0].step, 100);
    assert.equal(g[0].layer, 0);
    assert.equal(g[0].n, 3);
    assert.ok(Math.abs((g[0].gain_mean as number) - 4.5) < 1e-12);
    assert.ok(Math.abs((g[0].gain_sd as number) - 1.5) < 1e-12);
    const sp = r.tables['analysis-surprisal'];
    assert.deepEqual(sp.columnNames(), ['arch', 'step', 'condition', 'n', 'surprisal_mean', 'surprisal_sd', 'surprisal_lo', 'surprisal_hi']);
    assert.deepEqual((sp.objects() as Array<Record<string, unknown>>).map((o) => [o.arch, o.condition, o.surprisal_mean]), [['t', 'match', 3.5], ['t', 'mismatch', 6], ['l', 'match', 3], ['l', 'mismatch', 5.5]]);
    const pr = r.tables['probes-env-noun'];
    assert.deepEqual(pr.columnNames().slice(0, 5), ['arch', 'step', 'hook', 'layer', 'n']);
    assert.ok(Math.abs((pr.get('accuracy_mean', 0) as number) - 0.7) < 1e-12);
    assert.ok(fs.existsSync(path.join(sweep.dir, 'aggregate', 'probes-env-noun.csv')));
    const csv = fs.readFileSync(path.join(sweep.dir, 'aggregate', 'final.csv'), 'utf8');
    assert.match(csv.split('\n')[0], /^arch,n,final_step,loss_mean,loss_sd,loss_lo,loss_hi$/);
    const back = aq.fromArrow(fs.readFileSync(path.join(sweep.dir, 'aggregate', 'analysis-gain.arrow')));
    assert.equal(back.numRows(), 8);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

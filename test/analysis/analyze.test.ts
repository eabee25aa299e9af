import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine } from '../../src/engine';
import { analyzeRun, evalRun, gainAcrossRuns, lensFileName, ANALYSES } from '../../src/analysis/analyze';
import { inspectorData, timelineData } from '../../src/analysis/inspect';
import { inspectorPayload, timelinePayload } from '../../src/viz/widgets';
import type { Episode } from '../../src/data/types';
import { copyModel, NOUNS, VOCAB, FRAMES, BETA, Dh, V } from './handmodel';
import { fakeRun } from './runfake';

function episodes(): Episode[] {
  const eps: Episode[] = [];
  for (let i = 0; i < 12; i++) {
    const n = NOUNS[i % 3];
    eps.push({ id: `e${i}`, turns: [{ speaker: 'f1', env: { situation: [], before: [n + '<ENV>'], during: [], after: [] }, utterance: ['f2', n + '<LAN>'] }] });
  }
  return eps;
}

const G = (gamma: number, len: number) => gamma * Math.exp(BETA / Math.sqrt(Dh)) / (Math.exp(BETA / Math.sqrt(Dh)) + len - 1);

test('analyzeRun writes every table, computes only what is missing, and resumes', async () => {
  await initEngine({ log: false });
  const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 100: () => copyModel(1), 200: () => copyModel(5) } });
  const events: string[] = [];
  const res = await analyzeRun(run, {
    only: ['gain', 'cooccurrence', 'heads', 'ablation', 'lens', 'tuned_lens', 'patching'],
    evalSet: { contextsPerNoun: 3, mismatchesPerContext: 2 },
    ablation: { draws: 3 },
    tunedLens: { steps: 5, rows: 4 },
    onProgress: (e) => events.push(e.message ?? ''),
  });
  assert.deepEqual(res.steps, [100, 200]);
  assert.deepEqual(res.computed.surprisal, [100, 200]);
  assert.ok(events.some((m) => /step 200: saliency/.test(m)));
  const gs = (await run.readTable('analysis/gain_summary'))!.objects() as Array<Record<string, number>>;
  assert.deepEqual(gs.map((r) => r.step), [100, 200]);
  const expectG = (gamma: number) => (G(gamma, 3) + G(gamma, 5) + G(gamma, 7)) / 3;
  assert.ok(Math.abs(gs[0].gain - expectG(1)) < 1e-4, `${gs[0].gain} vs ${expectG(1)}`);
  assert.ok(Math.abs(gs[1].gain - expectG(5)) < 1e-4);
  const surprisal = (await run.readTable('analysis/surprisal'))!;
  assert.equal(surprisal.numRows(), 2 * 9 * 3);
  const heads = (await run.readTable('analysis/head_counts'))!.objects() as Array<Record<string, number>>;
  assert.deepEqual(heads.map((h) => [h.step, h.aggregate_heads, h.aggregate_mean_layer, h.gather_heads]), [[100, 1, 1, 0], [200, 1, 1, 0]]);
  const abl = (await run.readTable('analysis/ablation'))!.objects() as Array<Record<string, unknown>>;
  const agg = abl.find((r) => r.step === 200 && r.kind === 'aggregate')!;
  assert.equal(agg.heads, 1);
  assert.ok(Math.abs((agg.ablated as number) - Math.log(V)) < 1e-4);
  assert.ok(Math.abs((agg.control as number) - (agg.intact as number)) < 1e-5);
  assert.ok((agg.p_wilcoxon as number) < 0.01);
  assert.equal(abl.find((r) => r.step === 200 && r.kind === 'gather')!.heads, 0);
  const lens = (await run.readTable('analysis/lens'))!.objects() as Array<Record<string, unknown>>;
  assert.equal(lens.filter((r) => r.step === 200 && r.lens === 'logit').length, 3);
  assert.equal(lens.filter((r) => r.step === 200 && r.lens === 'tuned').length, 3);
  assert.ok(fs.existsSync(path.join(run.dir, lensFileName(200))));
  const co = (await run.readTable('analysis/cooccurrence'))!.objects() as Array<Record<string, unknown>>;
  assert.ok(co.some((r) => r.predictors === 'all' && r.step === 100));
  const stats = (await run.readTable('analysis/cooccurrence_stats'))!.objects() as Array<Record<string, number>>;
  assert.deepEqual(stats.map((s) => [s.env, s.lan, s.cooc]), [[4, 4, 4], [4, 4, 4], [4, 4, 4]]);
  const patch = (await run.readTable('analysis/patching'))!.objects() as Array<Record<string, unknown>>;
  const envPatch = patch.find((r) => r.step === 200 && r.hook === 'blocks.0.hook_resid_post' && r.position === 'env')!;
  assert.ok(Math.abs((envPatch.recovery as number) - 1) < 1e-4);
  const tmpl = (await run.readTable('analysis/templates'))!;
  assert.equal(tmpl.numRows(), 3);
  assert.ok(fs.existsSync(path.join(run.dir, 'eval/evalset.json')));

  // widget data: scores from the heads table, maps of every head at every analysed checkpoint
  const insp = await inspectorData(run);
  assert.deepEqual(insp.steps, [100, 200]);
  assert.equal(insp.examples.length, 3);
  assert.equal(insp.maps.length, 2 * 3 * 2 * 4 * 2);
  assert.ok(Math.abs((insp.scores.aggregate![1][1][1] as number) - 1) < 1e-4);
  const ex = insp.examples[0];
  const sm = insp.maps.find((m) => m.kind === 'saliency' && m.example === ex.id && m.variant === 'match' && m.layer === 1 && m.head === 1)!;
  const T = ex.match.tokens.length;
  const vals = Array.from(sm.values as ArrayLike<number>);
  assert.equal(vals.indexOf(Math.max(...vals)), ex.match.predPos * T + ex.match.envPos);
  inspectorPayload(insp); // accepted by the widget's validator
  const tl = await timelineData(run);
  assert.deepEqual(tl.steps, [100, 200]);
  timelinePayload(tl);
  run.loads.length = 0;
  // a second call finds everything and loads no model
  run.loads.length = 0;
  const again = await analyzeRun(run, { only: ['gain', 'heads', 'ablation', 'lens', 'tuned_lens', 'patching', 'cooccurrence'] });
  assert.deepEqual(run.loads, []);
  assert.deepEqual(again.computed, {});
  // saliency for one step was deleted: only that is recomputed (plus heads that follow from it)
  const sal = (await run.readTable('analysis/saliency'))!.filter((d: { step: number }) => d.step !== 100);
  await run.writeTable('analysis/saliency', sal);
  const third = await analyzeRun(run, { only: ['saliency'] });
  assert.deepEqual(third.computed, { saliency: [100] });
  assert.deepEqual(run.loads, [100]);
  // evalRun returns the summaries; CI over seeds from several runs
  const ev = await evalRun(run);
  assert.equal(ev.length, 2);
  const seeds = await gainAcrossRuns([run, run]);
  assert.equal(seeds.length, 2);
  assert.ok(Math.abs(seeds[1].mean - expectG(5)) < 1e-4);
});

test('analyzeRun stops on abort and resumes', async () => {
  const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 1: () => copyModel(1), 2: () => copyModel(2), 3: () => copyModel(3) } });
  const ac = new AbortController();
  await assert.rejects(
    analyzeRun(run, { only: ['gain'], signal: ac.signal, onProgress: (e) => { if (/step 1: done/.test(e.message ?? '')) ac.abort(); } }),
    (e: Error) => /stopped/.test(e.message),
  );
  const r = await analyzeRun(run, { only: ['gain'] });
  assert.deepEqual(r.computed.gain, [2, 3]);
  await assert.rejects(analyzeRun(run, { checkpoints: [7] }), /no checkpoint at step 7/);
  await assert.rejects(analyzeRun(run, { only: ['gain'], evalSet: { contextsPerNoun: 1 } }), /tables were computed with it/);
  await assert.rejects(analyzeRun(run, { only: ['nope' as never] }), /unknown analysis/);
});

test('analyzeRun on real Mamba-2 and LSTM models (all analyses)', async () => {
  const { createModel, modelPreset } = await import('../../src/models');
  for (const arch of ['mamba2', 'lstm'] as const) {
    const make = () => createModel(modelPreset(arch, 'tiny', VOCAB.length, { dModel: 16, nLayers: 2, contextLength: 16, ...(arch === 'mamba2' ? { headDim: 8, dState: 8 } : {}) } as never), 3);
    const run = fakeRun({ vocab: VOCAB, nouns: NOUNS, frames: FRAMES, episodes: episodes(), models: { 10: make } });
    const res = await analyzeRun(run, { ablation: { draws: 2 }, tunedLens: { steps: 3, rows: 4 }, evalSet: { contextsPerNoun: 2, mismatchesPerContext: 1 } });
    assert.equal(Object.keys(res.computed).length, ANALYSES.length, `${arch}: ${Object.keys(res.computed)}`);
    // paths: no q/k/v hook points in either, so one row says so
    const pt = (await run.readTable('analysis/path_test'))!.objects() as Array<Record<string, unknown>>;
    assert.deepEqual(pt.map((r) => r.note), ['the model has no attention heads with q/k/v hook points']);
    const sal = (await run.readTable('analysis/saliency'))!.objects() as Array<Record<string, unknown>>;
    const hc = (await run.readTable('analysis/head_counts'))!.objects() as Array<Record<string, number>>;
    if (arch === 'lstm') {
      assert.deepEqual([...new Set(sal.map((r) => r.kind))], ['input']);
      assert.equal(hc[0].total_heads, 0);
    } else {
      assert.ok(sal.some((r) => r.kind === 'head'));
      assert.equal(hc[0].total_heads, 2 * 4);
    }
    const lens = (await run.readTable('analysis/lens'))!.objects() as Array<Record<string, unknown>>;
    assert.equal(lens.length, 2 * 3);
    const abl = (await run.readTable('analysis/ablation'))!.objects() as Array<Record<string, unknown>>;
    assert.equal(abl.length, 2);
  }
});

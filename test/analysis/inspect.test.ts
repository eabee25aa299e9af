import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../../src/engine';
import { train } from '../../src/train/trainer';
import { openRun } from '../../src/train/run';
import { analyzeRun } from '../../src/analysis/analyze';
import { inspectorData, timelineData } from '../../src/analysis/inspect';
import { inspectorBundle, timelineBundle, INSPECTOR_MIME, TIMELINE_MIME, decodeMap } from '../../src/viz/widgets';
import { GroundlabError } from '../../src/errors';

test('a trained and analysed tiny run becomes timeline and inspector bundles whose numbers are the run\'s', async () => {
  await initEngine({ log: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-lab-'));
  await train({ out: path.join(dir, 't'), arch: 'transformer', preset: 'tiny', steps: 6, seed: 3 });
  const run = await openRun(path.join(dir, 't'));
  await assert.rejects(timelineData(run), (e: unknown) => e instanceof GroundlabError && /groundlab eval/.test(e.message));
  const last = run.checkpoints[run.checkpoints.length - 1].step;
  const first = run.checkpoints[0].step;
  await analyzeRun(run, { checkpoints: [first, last], only: ['gain', 'heads'], evalSet: { contextsPerNoun: 1, mismatchesPerContext: 2 } });

  const tl = await timelineData(run);
  const gain = (await run.readTable('analysis/gain_summary'))!.objects() as Array<{ step: number; gain: number }>;
  assert.deepEqual(tl.steps, [first, last]);
  assert.equal(tl.curves.infoGain![1], gain.find((g) => g.step === last)!.gain);
  assert.ok(TIMELINE_MIME in timelineBundle(tl));

  const ins = await inspectorData(run, { examples: 1 });
  assert.equal(ins.link, run.dir);
  assert.equal(ins.layers, 2);
  assert.equal(ins.heads, 2);
  assert.equal(ins.examples.length, 1);
  const ex = ins.examples[0];
  assert.match(ex.match.tokens[ex.match.envPos], /<ENV>$/);
  assert.equal(ex.match.target, ex.match.tokens[ex.match.envPos].replace('<ENV>', '<LAN>'));
  assert.notEqual(ex.mismatch!.tokens[ex.mismatch!.envPos], ex.match.tokens[ex.match.envPos]);
  // Attention rows are probability distributions over earlier positions (causal).
  const att = ins.maps.find((m) => m.kind === 'attention' && m.variant === 'match' && m.layer === 1 && m.head === 0)!;
  const T = ex.match.tokens.length;
  const v = Array.from(att.values as ArrayLike<number>);
  for (let q = 0; q < T; q++) {
    const row = v.slice(q * T, (q + 1) * T);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    assert.ok(row.slice(q + 1).every((x) => x === 0));
  }
  // maps of every head at every analysed checkpoint (issue 17 item 8): 2 steps x 2 variants x 2 kinds x 4 heads
  assert.deepEqual(ins.steps, [first, last]);
  assert.equal(ins.maps.length, 2 * 2 * 2 * 4);
  for (const st of [first, last]) assert.equal(ins.maps.filter((m) => m.step === st).length, 16, `maps at step ${st}`);
  // ordered for the size budget: all match maps (every step) before the mismatch maps
  const firstMismatch = ins.maps.findIndex((m) => m.variant === 'mismatch');
  assert.equal(firstMismatch, 16);
  assert.ok(ins.maps.slice(firstMismatch).every((m) => m.variant === 'mismatch'));
  // saliency maps are shares of each head's saliency: every map sums to 1, all cells in [0, 1]
  for (const m of ins.maps.filter((x) => x.kind === 'saliency')) {
    const vals = Array.from(m.values as ArrayLike<number>);
    assert.ok(Math.abs(vals.reduce((a, b) => a + b, 0) - 1) < 1e-9, `L${m.layer}H${m.head} step ${m.step}`);
    assert.ok(vals.every((x) => x >= 0 && x <= 1));
  }
  assert.match(ins.mapUnits!.saliency!, /share of the head's saliency/);
  assert.match(ins.mapUnits!.attention!, /^attention probability/);
  // the initial head is the one with the highest aggregate score at the last checkpoint
  const agg = ins.scores.aggregate![1] as number[][];
  const best = Math.max(...agg.flat());
  assert.equal(agg[ins.initial!.layer!][ins.initial!.head!], best);
  assert.equal(ins.initial!.step, last);
  await assert.rejects(inspectorData(run, { mapSteps: [last + 1] }), (e: unknown) => e instanceof GroundlabError && e.code === 'BAD_ARGUMENT' && /not an analysed checkpoint/.test(e.message));
  const b = inspectorBundle(ins);
  console.log(`inspector bundle of the tiny run: ${ins.maps.length} maps at ${ins.steps.length} checkpoints, ${JSON.stringify(b).length} bytes`);
  const payload = b[INSPECTOR_MIME] as { maps: Array<{ kind: string; n: number; min: number; max: number; encoding: 'u8' | 'u8-lower'; data: string }> };
  const enc = payload.maps.find((m) => m.kind === 'attention')!;
  assert.equal(enc.n, T);
  assert.ok(decodeMap(enc).every((x) => x >= -1e-6 && x <= 1 + 1e-6));
  assert.ok(String(b['image/svg+xml']).startsWith('<svg'));
});

test('the inspector says UNSUPPORTED, not NOT_FOUND, for a run whose model has no token-mixing matrix', async () => {
  const { modelPreset } = await import('../../src/models');
  for (const model of [modelPreset('gru', 'tiny', 20), modelPreset('lstm', 'tiny', 20), modelPreset('transformer', 'tiny', 20, { mixing: 'none' })]) {
    const run = { dir: '/nowhere', config: { model }, readTable: async () => undefined } as unknown as Parameters<typeof inspectorData>[0];
    await assert.rejects(inspectorData(run), (e: unknown) => e instanceof GroundlabError && e.code === 'UNSUPPORTED' && /without token-mixing matrices/.test(e.message) && /timeline/.test(e.hint ?? ''), model.arch);
  }
});

test('inspectorData names what the "attention" maps are: softmax probabilities for a Transformer, SSD mixing weights for Mamba-2', async () => {
  await initEngine({ log: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-lab-'));
  try {
    await train({ out: path.join(dir, 'm'), arch: 'mamba2', preset: 'tiny', steps: 4, seed: 2 });
    const run = await openRun(path.join(dir, 'm'));
    const last = run.checkpoints[run.checkpoints.length - 1].step;
    await analyzeRun(run, { checkpoints: [last], only: ['gain', 'heads'], evalSet: { contextsPerNoun: 1, mismatchesPerContext: 2 } });
    const ins = await inspectorData(run, { examples: 1 });
    assert.match(ins.mapUnits!.attention!, /^SSD mixing weight/);
    assert.ok(ins.maps.some((m) => m.kind === 'attention'));
    assert.ok(INSPECTOR_MIME in inspectorBundle(ins));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

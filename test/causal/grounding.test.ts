import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { evaluateIia, fitDas, identitySubspace, randomSubspace } from '../../src/causal/das';
import { groundingDas, groundingDasSummary, groundingPairs } from '../../src/causal/grounding';
import { plantedReferent } from '../../src/causal/toy';
import type { EvalSequence } from '../../src/eval/evalset';
import { isGroundlabError } from '../../src/errors';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { train, openRun } from '../../src/train';
import { main } from '../../src/cli/main';

// A vocabulary of 12 nouns: ids 0..3 fillers, 4..15 ENV forms, 16..27 LAN forms.
const N = 12;
const envIds = Array.from({ length: N }, (_, i) => 4 + i);
const lanIds = Array.from({ length: N }, (_, i) => 4 + N + i);
const V = 4 + 2 * N;
const frames: Record<string, number[]> = { a: [0, 1, -1, 2, 3], b: [1, -1, 0, 0], c: [2, 2, -1, 3, 1, 0], d: [-1, 3, 3] };
const seqs: EvalSequence[] = Object.entries(frames).flatMap(([frame, toks]) =>
  envIds.map((env, i) => {
    const ids = toks.map((t) => (t < 0 ? env : t));
    return { item: i, noun: `n${i}`, context: frame, condition: 'match' as const, envNoun: `n${i}`, ids, envPos: toks.indexOf(-1), predPos: ids.length - 1, target: lanIds[i] };
  }),
);

test('grounding pairs: same frame, different ENV noun, labelled with the source noun at the pre-LAN position', () => {
  const ps = groundingPairs(seqs, { n: 100, seed: 0, frames: new Set(['a', 'c']) });
  assert.equal(ps.length, 100);
  for (const p of ps) {
    assert.equal(p.base.length, p.source.length);
    assert.ok([5, 6].includes(p.base.length), 'frames a and c only');
    const diff = p.base.map((t, i) => (t !== p.source[i] ? i : -1)).filter((i) => i >= 0);
    assert.equal(diff.length, 1, 'they differ in the ENV token only');
    const srcNoun = envIds.indexOf(p.source[diff[0]]);
    assert.deepEqual(p.labels, p.base.map((_, i) => (i === p.base.length - 1 ? lanIds[srcNoun] : -1)));
    assert.equal(p.basePos, p.base.length - 1);
  }
  assert.deepEqual(groundingPairs(seqs, { n: 100, seed: 0, frames: new Set(['a', 'c']) }), ps);
  assert.throws(() => groundingPairs(seqs.filter((q) => q.item === 0), { n: 4, seed: 0 }), (e) => isGroundlabError(e) && /two different nouns/.test(e.message));
});

test('known answer: DAS finds the planted referent subspace (k = 3) at the pre-LAN position; k = 1 cannot hold 12 nouns', async () => {
  await initEngine({ log: false });
  const D = 16;
  const model = plantedReferent({ vocabSize: V, envIds, lanIds, dim: D, kTrue: 3, seed: 4 });
  const fitP = groundingPairs(seqs, { n: 256, seed: 1, frames: new Set(['a', 'c']) });
  const testP = groundingPairs(seqs, { n: 200, seed: 2, frames: new Set(['b', 'd']) });
  const before = tf.memory().numTensors;
  const fit = await fitDas(model, fitP, { k: 3, steps: 200, lr: 0.05, seed: 0, padId: 0 });
  assert.equal(tf.memory().numTensors, before, 'no leak');
  const r = await evaluateIia(model, testP, fit.w, 3, { padId: 0 });
  // Overlap of the learned and the planted subspaces: ||P^T W||_F^2 / k (1 when they are the same).
  let ov = 0;
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let row = 0; row < D; row++) dot += model.basis[row * 3 + i] * fit.w[row * 3 + j];
      ov += dot * dot;
    }
  ov /= 3;
  const k1 = await fitDas(model, fitP, { k: 1, steps: 200, lr: 0.05, seed: 0, padId: 0 });
  const r1 = await evaluateIia(model, testP, k1.w, 1, { padId: 0 });
  const ident = await evaluateIia(model, testP, identitySubspace(D, 3), 3, { padId: 0 });
  const rand = await evaluateIia(model, testP, randomSubspace(D, 3, 9), 3, { padId: 0 });
  const full = await evaluateIia(model, testP, identitySubspace(D, D), D, { padId: 0 });
  console.log(`# referent DAS k=3 IIA ${r.iia.toFixed(3)} overlap ${ov.toFixed(4)}; k=1 ${r1.iia.toFixed(3)}; identity ${ident.iia.toFixed(3)}; random ${rand.iia.toFixed(3)}; full ${full.iia.toFixed(3)}`);
  assert.ok(r.iia >= 0.99, `IIA ${r.iia}`);
  assert.ok(ov >= 0.99, `overlap ${ov}`);
  assert.ok(fit.orthoError < 1e-4);
  assert.ok(r1.iia < 0.8, `k = 1: ${r1.iia}`);
  assert.ok(ident.iia <= 0.3 && rand.iia <= 0.5, `baselines ${ident.iia} ${rand.iia}`);
  assert.equal(full.iia, 1);
  model.dispose();
});

test('grounding DAS summary: per seed the first checkpoint where a subspace of k <= 8 reaches 0.9 of the ceiling', () => {
  const row = (step: number, layer: number, k: number, method: 'das' | 'identity' | 'random' | 'full', iia: number) => ({ step, layer, site: `blocks.${layer}.hook_resid_post`, k, method, iia, loss: 0, pairs: 10, source_accuracy: 0.8, fit_sec: 0 });
  const rows = [
    row(100, 0, 1, 'das', 0.1), row(100, 0, 8, 'das', 0.5), row(100, 0, 8, 'identity', 0), row(100, 0, 8, 'random', 0), row(100, 0, 128, 'full', 0.2),
    row(300, 0, 1, 'das', 0.2), row(300, 0, 8, 'das', 0.75), row(300, 1, 1, 'das', 0.4), row(300, 1, 8, 'das', 0.6), row(300, 0, 128, 'full', 0.3),
    row(900, 0, 1, 'das', 0.7), row(900, 0, 8, 'das', 0.79), row(900, 0, 128, 'full', 0.8),
  ];
  const s = groundingDasSummary([{ seed: 0, rows, gain: (step) => step / 100 }, { seed: 1, rows: rows.filter((r) => r.step === 100) }]);
  // A subspace at 0.9 of a ceiling the model itself does not reach (< 0.5) does not count.
  const low = rows.map((r) => ({ ...r, source_accuracy: 0.3, iia: Math.min(r.iia, 0.3) }));
  assert.match(groundingDasSummary([{ seed: 2, rows: low }]).verdict, /seed 2: at no checkpoint/);
  assert.equal(s.rows.length, 5);
  assert.deepEqual(s.rows.map((r) => [r.seed, r.step, r.layer, r.das_k1, r.das_k8]), [[0, 100, 0, 0.1, 0.5], [0, 300, 0, 0.2, 0.75], [0, 300, 1, 0.4, 0.6], [0, 900, 0, 0.7, 0.79], [1, 100, 0, 0.1, 0.5]]);
  assert.equal(s.rows[0].gain, 1);
  assert.equal(s.rows[0].full, 0.2);
  assert.match(s.verdict, /seed 0: from checkpoint 300 on .*k = 8 suffices; seed 1: at no checkpoint/);
  assert.deepEqual(s.cols.map((c) => c[0]).slice(4, 6), ['das_k1', 'das_k8']);
});

test('groundingDas on a tiny grounding run and `groundlab das --grounding`: rows per layer, k and method; analysis/das_grounding', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'das-ground-'));
  try {
    const out = path.join(dir, 't');
    await train({ out, arch: 'transformer', preset: 'tiny', steps: 6, log: false });
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((x: string) => ((printed += x), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['das', out, '--grounding', '--dims', '1,2', '--fit-steps', '3', '--pairs', '8', '--quiet']);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(code, 0);
    assert.match(printed, /ENV referent at the pre-LAN position/);
    const run = await openRun(out);
    const rows = (await run.readTable('analysis/das_grounding'))!.objects() as Array<Record<string, unknown>>;
    const L = run.config.model.nLayers;
    assert.equal(rows.length, L * (2 * 3 + 1));
    assert.deepEqual([...new Set(rows.map((r) => r.site))], Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_post`));
    for (const r of rows) assert.ok(Number(r.iia) >= 0 && Number(r.iia) <= 1 && Number(r.pairs) === 8 && Number(r.step) === 6);
    const counting = path.join(dir, 'c');
    await train({ out: counting, arch: 'gru', preset: 'tiny', steps: 2, corpus: { kind: 'counting', knobs: { maxCount: 4, heldOut: 'none', sequences: 16 } }, log: false });
    await assert.rejects(groundingDas(await openRun(counting), { steps: 1 }), (e) => isGroundlabError(e) && e.code === 'UNSUPPORTED');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

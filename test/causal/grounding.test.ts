import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { evaluateIia, fitDas, identitySubspace, randomSubspace } from '../../src/causal/das';
import { groundingPairs } from '../../src/causal/grounding';
import { plantedReferent } from '../../src/causal/toy';
import type { EvalSequence } from '../../src/eval/evalset';
import { isGroundlabError } from '../../src/errors';

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

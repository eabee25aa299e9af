import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { countingTokenizer } from '../../src/data';
import { sampleCounterfactuals } from '../../src/causal/programs';
import { dasLossAndGrad, encodePairs, evaluateIia, fitDas, identitySubspace, padIdOf, probeDirection, randomSubspace } from '../../src/causal/das';
import { causalProgram, trace } from '../../src/causal/programs';
import { countingKnobs, countingSequences } from '../../src/data';
import { plantedCounter } from '../../src/causal/toy';
import { fitBoundlessDas } from '../../src/causal/boundless';

const D = 12;
const tok = countingTokenizer({ task: 'multi', objectTypes: 3 });
const pad = padIdOf(tok);
const pairs = (n: number, seed: number) => encodePairs(sampleCounterfactuals({ program: 'up-down', variables: ['count'], task: 'multi', counts: [1, 2, 3, 4, 5, 6], n, seed }), tok);

test('known answer: DAS k=1 finds the planted count direction; baselines as expected', async () => {
  await initEngine({ log: false });
  const model = plantedCounter(tok, { task: 'multi', dim: D, seed: 7, sharpness: 2 });
  const train = pairs(256, 1);
  const test = pairs(200, 2);
  const before = tf.memory().numTensors;
  const fit = await fitDas(model, train, { k: 1, steps: 150, lr: 0.05, batchSize: 32, seed: 0, padId: pad });
  assert.equal(tf.memory().numTensors, before, 'fitDas leaks no tensors');
  const r = await evaluateIia(model, test, fit.w, 1, { padId: pad });
  let cos = 0;
  for (let i = 0; i < D; i++) cos += fit.w[i] * model.u[i];
  const ident = await evaluateIia(model, test, identitySubspace(D, 1), 1, { padId: pad });
  const rand = await evaluateIia(model, test, randomSubspace(D, 1, 5), 1, { padId: pad });
  const full = await evaluateIia(model, test, identitySubspace(D, D), D, { padId: pad });
  console.log(`# DAS k=1 IIA ${r.iia.toFixed(3)} |cos| ${Math.abs(cos).toFixed(4)} ortho ${fit.orthoError.toExponential(1)}; identity ${ident.iia.toFixed(3)}; random ${rand.iia.toFixed(3)}; full swap ${full.iia.toFixed(3)}; loss ${fit.losses[0].toFixed(2)} -> ${fit.losses.at(-1)!.toFixed(3)}`);
  assert.ok(r.iia >= 0.99, `IIA ${r.iia}`);
  assert.ok(Math.abs(cos) >= 0.99, `|cos| ${cos}`);
  assert.ok(ident.iia <= 0.2, `identity IIA ${ident.iia}`);
  assert.ok(rand.iia <= 0.2, `random IIA ${rand.iia}`);
  assert.equal(full.iia, 1);
  assert.ok(fit.orthoError < 1e-4);
  // The probe-derived direction: ridge regression of the count on the states finds u too.
  const seqs = countingSequences(countingKnobs({ maxCount: 6 }), [1, 2, 3, 5, 6], 4, 0).map((q) => ({ ids: tok.encode(q.tokens), values: trace(causalProgram('up-down'), q.roles).map((x) => x.count) }));
  const pw = await probeDirection(model, seqs, { padId: pad });
  let pcos = 0;
  for (let i = 0; i < D; i++) pcos += pw[i] * model.u[i];
  assert.ok(Math.abs(pcos) > 0.999, `probe |cos| ${pcos}`);
  assert.ok((await evaluateIia(model, test, pw, 1, { padId: pad })).iia >= 0.99);
  // Same seed, same IIA (and same subspace).
  const again = await fitDas(model, train, { k: 1, steps: 150, lr: 0.05, batchSize: 32, seed: 0, padId: pad });
  assert.deepEqual(Array.from(again.w), Array.from(fit.w));
  assert.equal((await evaluateIia(model, test, again.w, 1, { padId: pad })).iia, r.iia);
  // k = 3 keeps three orthonormal columns.
  const f3 = await fitDas(model, train, { k: 3, steps: 20, lr: 0.05, seed: 1, padId: pad });
  assert.ok(f3.orthoError < 1e-4, `k=3 ortho ${f3.orthoError}`);
  model.dispose();
});

test('known answer: boundless DAS keeps one rotated coordinate, the planted direction', async () => {
  await initEngine({ log: false });
  const model = plantedCounter(tok, { task: 'multi', dim: D, seed: 7, sharpness: 2 });
  const fit = await fitBoundlessDas(model, pairs(256, 1), { steps: 150, lr: 0.05, padId: pad, seed: 0 });
  assert.equal(fit.k, 1, `kept ${fit.k}: mask ${Array.from(fit.mask).map((m) => m.toFixed(2))}`);
  let cos = 0;
  for (let i = 0; i < D; i++) cos += fit.w[i] * model.u[i];
  assert.ok(Math.abs(cos) >= 0.99, `|cos| ${cos}`);
  assert.ok(fit.orthoError < 1e-4);
  assert.ok((await evaluateIia(model, pairs(200, 2), fit.w, 1, { padId: pad })).iia >= 0.99);
  model.dispose();
});

test('the intervention gradient matches central finite differences', async () => {
  await initEngine({ log: false });
  const model = plantedCounter(tok, { task: 'multi', dim: 6, seed: 3, sharpness: 2 });
  const ps = pairs(16, 9);
  const k = 2;
  const w = randomSubspace(6, k, 11);
  const { grad } = dasLossAndGrad(model, ps, w, k, pad);
  const eps = 1e-2;
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    const wp = Float32Array.from(w);
    const wm = Float32Array.from(w);
    wp[i] += eps;
    wm[i] -= eps;
    const fd = (dasLossAndGrad(model, ps, wp, k, pad).loss - dasLossAndGrad(model, ps, wm, k, pad).loss) / (2 * eps);
    worst = Math.max(worst, Math.abs(fd - grad[i]) / Math.max(1e-2, Math.abs(fd)));
  }
  console.log(`# worst relative gradient error ${worst.toExponential(2)} over ${w.length} entries`);
  assert.ok(worst < 2e-2, `relative error ${worst}`);
  model.dispose();
});

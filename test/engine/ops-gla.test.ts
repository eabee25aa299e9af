/**
 * Gated linear attention (src/engine/ops-gla.ts): the parallel form (token-mixing matrix P, then
 * P v) equals the recurrence S_t = diag(alpha_t) S_{t-1} + k_t^T v_t, o_t = q_t S_t computed in
 * float64 within 1e-5; the fused gradient matches finite differences and stock autodiff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng } from '../../src/engine';
import { glaPatternFused, glaPatternStock, glaRecurrent } from '../../src/engine/ops-gla';
import { checkGrad, probe, rand } from './gradcheck';

/** Log gates in (-1.5, 0): alpha between 0.22 and 1, as log sigmoid gives. */
function logGates(rng: Rng, shape: number[]): tf.Tensor3D {
  return tf.tidy(() => tf.neg(tf.softplus(rand(rng, shape, 1.2))) as tf.Tensor3D);
}

test('gla: the parallel form equals the float64 recurrence within 1e-5', async () => {
  await initEngine({ log: false });
  const rng = new Rng(21);
  const n = 3, T = 12, K = 4, V = 5;
  const q = rand(rng, [n, T, K], 0.5) as tf.Tensor3D, k = rand(rng, [n, T, K], 0.5) as tf.Tensor3D, v = rand(rng, [n, T, V]) as tf.Tensor3D;
  const la = logGates(rng, [n, T, K]);
  const ref = glaRecurrent(q.dataSync(), k.dataSync(), v.dataSync(), la.dataSync(), n, T, K, V);
  for (const [name, f] of [['fused', glaPatternFused], ['stock', glaPatternStock]] as const) {
    const o = tf.tidy(() => tf.matMul(f(q, k, la), v).dataSync()); // [n, T, V]
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(o[i] - ref[i]));
    assert.ok(worst < 1e-5, `${name}: max |parallel - recurrent| = ${worst}`);
    const p = tf.tidy(() => f(q, k, la).arraySync() as number[][][]);
    assert.ok(p[1][3].slice(4).every((x) => x === 0), `${name}: P is causal`);
  }
  // with all gates 1 (log 0) the pattern is plain causal linear attention q_t . k_s
  const p1 = tf.tidy(() => glaPatternFused(q, k, tf.zeros([n, T, K]) as tf.Tensor3D).arraySync() as number[][][]);
  const qa = q.arraySync() as number[][][], ka = k.arraySync() as number[][][];
  const dot = qa[2][7].reduce((a, x, d) => a + x * ka[2][3][d], 0);
  assert.ok(Math.abs(p1[2][7][3] - dot) < 1e-6, `gates 1: P[7,3] = ${p1[2][7][3]}, q.k = ${dot}`);
});

test('gla: the fused gradient matches finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(4);
  const n = 2, T = 5, K = 3;
  const q = rand(rng, [n, T, K]), k = rand(rng, [n, T, K]), la = logGates(rng, [n, T, K]);
  const r = probe(rng, [n, T, T]);
  checkGrad('gla', (q, k, a) => tf.sum(tf.mul(glaPatternFused(q as tf.Tensor3D, k as tf.Tensor3D, a as tf.Tensor3D), r)), [q, k, la], {
    ref: (q, k, a) => tf.sum(tf.mul(glaPatternStock(q as tf.Tensor3D, k as tf.Tensor3D, a as tf.Tensor3D), r)),
  });
});

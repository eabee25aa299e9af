/**
 * The GRU layer (src/engine/ops-gru.ts): one step against a hand computation of PyTorch's
 * equations, the fused (hand-written BPTT) gradient against finite differences and against tfjs
 * autodiff of the stock recurrence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng } from '../../src/engine';
import { gruLayerFused, gruLayerStock } from '../../src/engine/ops-gru';
import { checkGrad, probe, rand } from './gradcheck';

const sig = (x: number) => 1 / (1 + Math.exp(-x));

test('gru: one step and two steps against a hand computation (D = 1)', async () => {
  await initEngine({ log: false });
  // x-parts (xr, xz, xn) per step, W_hh = (wr, wz, wn), b_hh = (br, bz, bn)
  const xs = [[0.3, -0.2, 0.5], [-0.4, 0.1, 0.9]];
  const w = [0.7, -1.1, 0.4];
  const bh = [0.05, 0.2, -0.3];
  let h = 0;
  const want: number[] = [];
  for (const [xr, xz, xn] of xs) {
    const r = sig(xr + w[0] * h + bh[0]);
    const z = sig(xz + w[1] * h + bh[1]);
    const n = Math.tanh(xn + r * (w[2] * h + bh[2]));
    h = (1 - z) * n + z * h;
    want.push(h);
  }
  const xw = tf.tensor3d(xs.flat(), [2, 1, 3]);
  const whh = tf.tensor2d([w], [1, 3]);
  const bhh = tf.tensor1d(bh);
  for (const [name, f] of [['fused', gruLayerFused], ['stock', gruLayerStock]] as const) {
    const got = f(xw, whh, bhh).dataSync();
    want.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-6, `${name} step ${i}: ${got[i]} vs hand ${v}`));
  }
});

test('gru: the fused gradient matches finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(3);
  const T = 4, B = 2, D = 3;
  const xw = rand(rng, [T, B, 3 * D]), whh = rand(rng, [D, 3 * D], 0.5), bhh = rand(rng, [3 * D], 0.5);
  const r = probe(rng, [T, B, D]);
  checkGrad('gru', (x, w, b) => tf.sum(tf.mul(gruLayerFused(x as tf.Tensor3D, w as tf.Tensor2D, b as tf.Tensor1D), r)), [xw, whh, bhh], {
    ref: (x, w, b) => tf.sum(tf.mul(gruLayerStock(x as tf.Tensor3D, w as tf.Tensor2D, b as tf.Tensor1D), r)),
  });
  const n0 = tf.memory().numTensors;
  tf.dispose(tf.grads((x, w, b) => tf.sum(tf.mul(gruLayerFused(x as tf.Tensor3D, w as tf.Tensor2D, b as tf.Tensor1D), r)))([xw, whh, bhh]));
  assert.equal(tf.memory().numTensors, n0, 'no tensors leak from the fused forward and backward');
});

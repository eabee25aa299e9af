/**
 * Every hand-written gradient in src/engine/ops.ts against central finite differences and against
 * tfjs's own autodiff of the stock implementation (float32, small sizes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng, fusedOps, stockOps, bmmRaw, attentionScores, batchMatMul, lstmLayerFused, lstmLayerStock, ssdPatternFused, ssdPatternStock } from '../../src/engine';
import { checkGrad, probe, rand } from './gradcheck';

test('linear (with and without bias) matches finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(1);
  const x = rand(rng, [5, 4]), w = rand(rng, [4, 3]), b = rand(rng, [3]);
  const r = probe(rng, [5, 3]);
  checkGrad('linear+b', (x, w, b) => tf.sum(tf.mul(fusedOps.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), r)), [x, w, b], {
    ref: (x, w, b) => tf.sum(tf.mul(stockOps.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), r)),
  });
  checkGrad('linear', (x, w) => tf.sum(tf.mul(fusedOps.linear(x as tf.Tensor2D, w as tf.Tensor2D), r)), [x, w], {
    ref: (x, w) => tf.sum(tf.mul(stockOps.linear(x as tf.Tensor2D, w as tf.Tensor2D), r)),
  });
  // the other backward branch (fewer outputs than inputs: dw = (dy^T x)^T)
  const x2 = rand(rng, [5, 6]), w2 = rand(rng, [6, 2]), b2 = rand(rng, [2]);
  const r2 = probe(rng, [5, 2]);
  checkGrad('linear+b O<I', (x, w, b) => tf.sum(tf.mul(fusedOps.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), r2)), [x2, w2, b2], {
    ref: (x, w, b) => tf.sum(tf.mul(stockOps.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), r2)),
  });
  checkGrad('linear O<I', (x, w) => tf.sum(tf.mul(fusedOps.linear(x as tf.Tensor2D, w as tf.Tensor2D), r2)), [x2, w2], {
    ref: (x, w) => tf.sum(tf.mul(stockOps.linear(x as tf.Tensor2D, w as tf.Tensor2D), r2)),
  });
  // forward equals stock
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(fusedOps.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), stockOps.linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D)))).dataSync()[0]);
  assert.ok(d < 1e-5);
});

test('layer norm and RMS norm match finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(2);
  const x = rand(rng, [4, 6]), g = rand(rng, [6]), b = rand(rng, [6]);
  const r = probe(rng, [4, 6]);
  checkGrad('layerNorm', (x, g, b) => tf.sum(tf.mul(fusedOps.layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D), r)), [x, g, b], {
    ref: (x, g, b) => tf.sum(tf.mul(stockOps.layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D), r)),
    h: 5e-3,
  });
  checkGrad('rmsNorm', (x, g) => tf.sum(tf.mul(fusedOps.rmsNorm(x as tf.Tensor2D, g as tf.Tensor1D), r)), [x, g], {
    ref: (x, g) => tf.sum(tf.mul(stockOps.rmsNorm(x as tf.Tensor2D, g as tf.Tensor1D), r)),
    h: 5e-3,
  });
});

test('GELU matches finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(3);
  const x = rand(rng, [3, 7], 2);
  const r = probe(rng, [3, 7]);
  checkGrad('gelu', (x) => tf.sum(tf.mul(fusedOps.gelu(x), r)), [x], { ref: (x) => tf.sum(tf.mul(stockOps.gelu(x), r)), samples: 21 });
});

test('masked cross-entropy matches finite differences, stock autodiff and a direct computation', async () => {
  await initEngine({ log: false });
  const rng = new Rng(4);
  const z = rand(rng, [6, 5], 2);
  const y = tf.tensor1d([0, 4, 2, 2, 1, 3], 'int32');
  const m = tf.tensor1d([1, 0, 1, 1, 0, 1]);
  checkGrad('crossEntropy', (z) => fusedOps.crossEntropy(z as tf.Tensor2D, y, m), [z], {
    ref: (z) => stockOps.crossEntropy(z as tf.Tensor2D, y, m),
    samples: 30,
  });
  // direct: mean over masked rows of -log softmax
  const zv = z.arraySync() as number[][];
  const yv = [0, 4, 2, 2, 1, 3], mv = [1, 0, 1, 1, 0, 1];
  let tot = 0;
  for (let i = 0; i < 6; i++) {
    if (!mv[i]) continue;
    const mx = Math.max(...zv[i]);
    const lse = mx + Math.log(zv[i].reduce((a, v) => a + Math.exp(v - mx), 0));
    tot += lse - zv[i][yv[i]];
  }
  const got = tf.tidy(() => fusedOps.crossEntropy(z as tf.Tensor2D, y, m).dataSync()[0]);
  assert.ok(Math.abs(got - tot / 4) < 1e-4, `${got} vs ${tot / 4}`);
});

test('batched product and fused causal attention match finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(5);
  const a = rand(rng, [3, 4, 5]), b = rand(rng, [3, 5, 2]);
  const r = probe(rng, [3, 4, 2]);
  checkGrad('batchMatMul', (a, b) => tf.sum(tf.mul(batchMatMul(a as tf.Tensor3D, b as tf.Tensor3D), r)), [a, b], {
    ref: (a, b) => tf.sum(tf.mul(tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D), r)),
  });
  const raw = tf.tidy(() => tf.max(tf.abs(tf.sub(bmmRaw(a as tf.Tensor3D, b as tf.Tensor3D), tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D)))).dataSync()[0]);
  assert.ok(raw < 1e-5);

  const q = rand(rng, [2, 5, 3]), k = rand(rng, [2, 5, 3]), v = rand(rng, [2, 5, 3]);
  const rz = probe(rng, [2, 5, 3]);
  checkGrad('causalAttention', (q, k, v) => tf.sum(tf.mul(fusedOps.causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D), rz)), [q, k, v], {
    ref: (q, k, v) => tf.sum(tf.mul(stockOps.causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D), rz)),
    samples: 15,
  });
  // causal: output at position 0 depends only on v at position 0
  const z = tf.tidy(() => fusedOps.causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D).arraySync() as number[][][]);
  const vv = v.arraySync() as number[][][];
  for (let d = 0; d < 3; d++) assert.ok(Math.abs(z[1][0][d] - vv[1][0][d]) < 1e-5);
  // the explicit path (scores -> softmax -> product) gives the same values
  const zs = tf.tidy(() => {
    const p = tf.softmax(attentionScores(q as tf.Tensor3D, k as tf.Tensor3D));
    return tf.max(tf.abs(tf.sub(batchMatMul(p, v as tf.Tensor3D), fusedOps.causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D)))).dataSync()[0];
  });
  assert.ok(zs < 1e-5);
});

test('embedding: gather forward, scatter-add gradient equals one-hot matmul autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(6);
  const table = rand(rng, [7, 4]);
  const ids = tf.tensor1d([3, 0, 3, 6, 1], 'int32');
  const r = probe(rng, [5, 4]);
  checkGrad('embedding', (w) => tf.sum(tf.mul(fusedOps.embedding(ids, w as tf.Tensor2D), r)), [table], {
    ref: (w) => tf.sum(tf.mul(stockOps.embedding(ids, w as tf.Tensor2D), r)),
  });
});

test('fused LSTM layer (hand-written BPTT) matches finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(8);
  const xw = rand(rng, [5, 2, 12]), whh = rand(rng, [3, 12], 0.5);
  const r = probe(rng, [5, 2, 6]);
  const fwd = tf.tidy(() => maxDiff(lstmLayerFused(xw as tf.Tensor3D, whh as tf.Tensor2D), lstmLayerStock(xw as tf.Tensor3D, whh as tf.Tensor2D)));
  assert.ok(fwd < 1e-5);
  checkGrad('lstmLayer', (xw, whh) => tf.sum(tf.mul(lstmLayerFused(xw as tf.Tensor3D, whh as tf.Tensor2D), r)), [xw, whh], {
    ref: (xw, whh) => tf.sum(tf.mul(lstmLayerStock(xw as tf.Tensor3D, whh as tf.Tensor2D), r)),
    samples: 20,
  });
});

test('fused SSD pattern (Mamba-2) matches finite differences and stock autodiff', async () => {
  await initEngine({ log: false });
  const rng = new Rng(9);
  const B = 2, T = 5, H = 2;
  const dt = tf.softplus(rand(rng, [B, T, H])) as tf.Tensor3D;
  const a = tf.tensor1d([-0.7, -1.9]);
  const cb = rand(rng, [B, T, T]) as tf.Tensor3D;
  const r = probe(rng, [B, H, T, T]);
  const fwd = tf.tidy(() => maxDiff(ssdPatternFused(dt, a, cb), ssdPatternStock(dt, a, cb)));
  assert.ok(fwd < 1e-5);
  checkGrad('ssdPattern', (dt, a, cb) => tf.sum(tf.mul(ssdPatternFused(dt as tf.Tensor3D, a as tf.Tensor1D, cb as tf.Tensor3D), r)), [dt, a, cb], {
    ref: (dt, a, cb) => tf.sum(tf.mul(ssdPatternStock(dt as tf.Tensor3D, a as tf.Tensor1D, cb as tf.Tensor3D), r)),
    samples: 15,
    h: 5e-3,
  });
});

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
}

test('fused ops do not leak tensors across forward and backward', async () => {
  await initEngine({ log: false });
  const rng = new Rng(7);
  const x = rand(rng, [8, 6]), w = tf.variable(rand(rng, [6, 6])) as tf.Variable<tf.Rank.R2>, g = tf.variable(tf.ones([6])) as tf.Variable<tf.Rank.R1>, b = tf.variable(tf.zeros([6])) as tf.Variable<tf.Rank.R1>;
  const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 0, 1], 'int32');
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      const h = fusedOps.gelu(fusedOps.layerNorm(fusedOps.linear(x as tf.Tensor2D, w, b), g, b));
      const q = tf.reshape(h, [2, 4, 6]) as tf.Tensor3D;
      const z = tf.reshape(fusedOps.causalAttention(q, q, q), [8, 6]) as tf.Tensor2D;
      return fusedOps.crossEntropy(z, y);
    });
    value.dispose();
    tf.dispose(grads);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
});

test('the wasm PadV2 and Cast overrides give the values of a direct computation', async () => {
  await initEngine({ log: false });
  const { installWasmKernels } = await import('../../src/engine');
  installWasmKernels();
  const vals = Array.from({ length: 2 * 3 * 4 }, (_, i) => i + 1);
  const x = tf.tensor3d(vals, [2, 3, 4]);
  const pads: Array<[number, number]> = [[1, 0], [0, 2], [3, 1]];
  const p = tf.pad(x, pads, -1).arraySync() as number[][][];
  assert.deepEqual([p.length, p[0].length, p[0][0].length], [3, 5, 8]);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 5; j++)
      for (let k = 0; k < 8; k++) {
        const [a, b, c] = [i - 1, j, k - 3];
        const inside = a >= 0 && a < 2 && b < 3 && c >= 0 && c < 4;
        assert.equal(p[i][j][k], inside ? vals[(a * 3 + b) * 4 + c] : -1, `pad at ${i},${j},${k}`);
      }
  assert.deepEqual(tf.pad(tf.tensor1d([5, 6], 'int32'), [[2, 1]]).arraySync(), [0, 0, 5, 6, 0]);
  const same = tf.cast(x, 'float32');
  assert.deepEqual(Array.from(same.dataSync()), vals);
  x.dispose();
  assert.deepEqual(Array.from(same.dataSync()), vals, 'a same-dtype cast outlives its input');
  assert.deepEqual(Array.from(tf.cast(tf.tensor1d([1.7, -2.2]), 'int32').dataSync()), [1, -2]);
  same.dispose();
});

test('the wasm Slice override gives the same values as a direct computation (contiguous and strided)', async () => {
  await initEngine({ log: false });
  const { installWasmKernels } = await import('../../src/engine');
  installWasmKernels();
  const vals = Array.from({ length: 3 * 4 * 5 }, (_, i) => i);
  const x = tf.tensor3d(vals, [3, 4, 5]);
  const at = (i: number, j: number, k: number) => vals[(i * 4 + j) * 5 + k];
  const s = tf.slice(x, [1, 1, 2], [2, 2, 3]).arraySync() as number[][][];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) assert.equal(s[i][j][k], at(1 + i, 1 + j, 2 + k));
  const c = tf.slice(x, [2, 0, 0], [1, 4, 5]).dataSync();
  assert.deepEqual(Array.from(c), vals.slice(40, 60));
  const xi = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32');
  assert.deepEqual(tf.slice(xi, [0, 1], [2, 2]).arraySync(), [[2, 3], [5, 6]]);
  tf.dispose([x, xi]);
});

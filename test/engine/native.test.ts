/**
 * The native kernels (src/engine/native.ts) against the wasm backend's own kernels: every replaced
 * or added kernel, forward and backward, and whole training steps, within 1e-5 relative; the same
 * seed gives the same loss trace bit for bit. Each case runs once with the native kernels removed
 * and once with them registered, in one process.
 *
 * Skipped (with the reason) where the addon is not built, unless GROUNDLAB_REQUIRE_NATIVE=1 (CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng, fusedOps } from '../../src/engine';
import { loadNativeAddon, nativeKernelsActive, nativeLoadError, setNativeKernels, transposeAsSwap } from '../../src/engine/native';
import { createModel, modelPreset } from '../../src/models';
import { AdamW, clipByGlobalNorm } from '../../src/train/optimizer';
import { gruLayerFused } from '../../src/engine/ops-gru';
import { glaPatternFused } from '../../src/engine/ops-gla';
import { ARCHS } from '../../src/models/registry';
import type { Arch } from '../../src/models/types';

const required = process.env.GROUNDLAB_REQUIRE_NATIVE === '1';

async function ready(): Promise<string | false> {
  await initEngine({ log: false });
  if (tf.getBackend() !== 'wasm') return `the backend is ${tf.getBackend()}, not wasm`;
  if (!loadNativeAddon()) return `the native kernels are ${nativeLoadError()}`;
  return false;
}

function rand(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), std), shape);
}

/** Run `f` without and with the native kernels; returns both results as arrays (state restored). */
function both(f: () => tf.Tensor | tf.Tensor[]): { wasm: Float32Array[]; native: Float32Array[] } {
  const was = nativeKernelsActive();
  const run = (on: boolean) => {
    setNativeKernels(on, 1);
    return tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => tf.keep(t));
    });
  };
  const w = run(false);
  const n = run(true);
  setNativeKernels(was);
  const read = (ts: tf.Tensor[]) => ts.map((t) => new Float32Array(t.dataSync()));
  const out = { wasm: read(w), native: read(n) };
  tf.dispose([...w, ...n]);
  return out;
}

/** max |a - b| / max(1e-30, max |a|) over each output, at most `tol`. */
function close(name: string, r: { wasm: Float32Array[]; native: Float32Array[] }, tol = 1e-5): void {
  assert.equal(r.wasm.length, r.native.length, `${name}: number of outputs`);
  r.wasm.forEach((a, i) => {
    const b = r.native[i];
    assert.equal(a.length, b.length, `${name}: output ${i} size`);
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < a.length; j++) {
      assert.ok(Number.isFinite(b[j]), `${name}: output ${i}[${j}] is ${b[j]}`);
      diff = Math.max(diff, Math.abs(a[j] - b[j]));
      scale = Math.max(scale, Math.abs(a[j]));
    }
    assert.ok(diff <= tol * Math.max(scale, 1e-30), `${name}: output ${i} differs by ${diff} (relative ${diff / scale}) between wasm and native`);
  });
}

/** The value and input gradients of a random linear functional of op(...inputs). */
function valueAndGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], seed: string): tf.Tensor[] {
  const rng = new Rng(seed);
  const probe = tf.tidy(() => op(...inputs));
  const w = rand(rng, probe.shape);
  probe.dispose();
  const f = (...xs: tf.Tensor[]) => tf.sum(tf.mul(op(...xs), w)) as tf.Scalar;
  const { value, grads } = tf.valueAndGrads(f)(inputs);
  return [op(...inputs), value, ...grads];
}

test('native kernels: built and registered where required', async (t) => {
  const why = await ready();
  if (why && !required) return t.skip(why);
  assert.equal(why, false, `GROUNDLAB_REQUIRE_NATIVE=1 but ${why}`);
  if (process.env.GROUNDLAB_BACKEND !== 'wasm') assert.ok(nativeKernelsActive(), 'the default engine runs with the native kernels');
  else assert.ok(!nativeKernelsActive(), 'GROUNDLAB_BACKEND=wasm runs without them');
});

test('native matrix products match wasm: 2-D, transposed, batched, broadcast, with bias', async (t) => {
  const why = await ready();
  if (why) return required ? assert.fail(why) : t.skip(why);
  const rng = new Rng('mm');
  const a = rand(rng, [37, 19]);
  const b = rand(rng, [19, 23]);
  const aT = tf.transpose(a);
  const bT = tf.transpose(b);
  const bias = rand(rng, [23]);
  close('a b', both(() => tf.matMul(a, b)));
  close('a^T^T b', both(() => tf.matMul(aT, b, true, false)));
  close('a b^T^T', both(() => tf.matMul(a, bT, false, true)));
  close('a^T^T b^T^T', both(() => tf.matMul(aT, bT, true, true)));
  close('a b + bias', both(() => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias })));
  close('a b + bias, relu (stock path)', both(() => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' })));
  const x = rand(rng, [3, 5, 7]);
  const y = rand(rng, [3, 7, 4]);
  close('batched', both(() => tf.matMul(x, y)));
  close('batched, both transposed', both(() => tf.matMul(tf.transpose(x, [0, 2, 1]), tf.transpose(y, [0, 2, 1]), true, true)));
  close('batch broadcast on the left', both(() => tf.matMul(rand(new Rng('l'), [5, 7]), y)));
  close('batch broadcast on the right', both(() => tf.matMul(x, rand(new Rng('r'), [7, 4]))));
  close('general broadcast (stock path)', both(() => tf.matMul(rand(new Rng('g1'), [2, 1, 5, 7]), rand(new Rng('g2'), [1, 3, 7, 4]))));
  // An empty inner dimension gives zeros (the stock wasm kernel leaves the output uninitialised).
  const was = nativeKernelsActive();
  setNativeKernels(true, 1);
  const empty = tf.matMul(tf.zeros([4, 0]), tf.zeros([0, 3]));
  assert.deepEqual(Array.from(empty.dataSync()), new Array(12).fill(0), 'native product with K = 0');
  empty.dispose();
  setNativeKernels(was);
});

test('native transpose and gather match wasm; other permutations fall back; bad indices are named', async (t) => {
  const why = await ready();
  if (why) return required ? assert.fail(why) : t.skip(why);
  assert.deepEqual(transposeAsSwap([2, 3, 4, 5], [0, 2, 1, 3]), [2, 3, 4, 5]);
  assert.deepEqual(transposeAsSwap([2, 3, 4, 5], [0, 2, 3, 1]), [2, 3, 20, 1]);
  assert.deepEqual(transposeAsSwap([2, 3, 4], [2, 0, 1]), [1, 6, 4, 1]);
  assert.equal(transposeAsSwap([2, 3, 4], [2, 1, 0]), undefined);
  const rng = new Rng('tr');
  const x = rand(rng, [3, 5, 7, 2]);
  for (const perm of [[1, 0, 2, 3], [0, 2, 1, 3], [0, 2, 3, 1], [3, 0, 1, 2], [0, 1, 3, 2], [3, 2, 1, 0], [0, 1, 2, 3]]) {
    close(`transpose ${perm}`, both(() => tf.transpose(x, perm)), 0);
  }
  const table = rand(rng, [6, 4, 3]);
  for (const axis of [0, 1, 2]) {
    const idx = tf.tensor1d(Int32Array.from([2, 0, 2, 1].map((i) => i % table.shape[axis])), 'int32');
    close(`gather along axis ${axis}`, both(() => tf.gather(table, idx, axis)), 0);
  }
  close('gather with 2-D indices', both(() => tf.gather(table, tf.tensor2d([[5, 0], [1, 1]], [2, 2], 'int32'))), 0);
  const was = nativeKernelsActive();
  setNativeKernels(true, 1);
  assert.throws(() => tf.gather(table, tf.tensor1d([0, 6], 'int32')), /index value 6 is not in \[0, 5\]/);
  setNativeKernels(was);
  const ints = tf.tensor3d(Int32Array.from({ length: 60 }, (_, i) => i * 7 - 100), [3, 4, 5], 'int32');
  close('int32 transpose', both(() => tf.cast(tf.transpose(ints, [0, 2, 1]), 'float32')), 0);
});

test('native fused ops match wasm, forward and backward: layer norm, RMS norm, GELU, attention, linear, LSTM and GRU layers, SSD and GLA patterns, causal conv, SiLU, embedding, cross-entropy', async (t) => {
  const why = await ready();
  if (why) return required ? assert.fail(why) : t.skip(why);
  const rng = new Rng('fused');
  const x = rand(rng, [24, 16], 2);
  const g = rand(rng, [16]);
  const b = rand(rng, [16]);
  close('layerNorm', both(() => valueAndGrads((x, g, b) => fusedOps.layerNorm(x as tf.Tensor2D, g, b), [x, g, b], 'ln')));
  close('rmsNorm', both(() => valueAndGrads((x, g) => fusedOps.rmsNorm(x as tf.Tensor2D, g), [x, g], 'rms')));
  const xg = rand(rng, [7, 33], 3);
  close('gelu', both(() => valueAndGrads((x) => fusedOps.gelu(x), [xg], 'gelu')));
  const [q, k, v] = [0, 1, 2].map(() => rand(rng, [6, 9, 8]));
  close('causalAttention', both(() => valueAndGrads((q, k, v) => fusedOps.causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D), [q, k, v], 'att')));
  close('batchMatMul', both(() => valueAndGrads((a, b) => fusedOps.batchMatMul(a as tf.Tensor3D, b as tf.Tensor3D), [q, tf.transpose(k, [0, 2, 1])], 'bmm')));
  const w = rand(rng, [16, 12]);
  const bias = rand(rng, [12]);
  close('linear with bias', both(() => valueAndGrads((x, w, b) => fusedOps.linear(x as tf.Tensor2D, w as tf.Tensor2D, b), [x, w, bias], 'lin')));
  close('linear without bias', both(() => valueAndGrads((x, w) => fusedOps.linear(x as tf.Tensor2D, w as tf.Tensor2D), [x, w], 'lin0')));
  const xw = rand(rng, [7, 3, 4 * 6]);
  const whh = rand(rng, [6, 4 * 6], 0.5);
  close('lstmLayer', both(() => valueAndGrads((xw, whh) => fusedOps.lstmLayer(xw as tf.Tensor3D, whh as tf.Tensor2D), [xw, whh], 'lstm')));
  const gxw = rand(rng, [7, 3, 3 * 6]);
  const gwhh = rand(rng, [6, 3 * 6], 0.5);
  const gbhh = rand(rng, [3 * 6], 0.5);
  close('gruLayer', both(() => valueAndGrads((xw, whh, bhh) => gruLayerFused(xw as tf.Tensor3D, whh as tf.Tensor2D, bhh as tf.Tensor1D), [gxw, gwhh, gbhh], 'gru')));
  const [gq, gk] = [0, 1].map(() => rand(rng, [4, 9, 5]));
  const glogA = tf.neg(tf.softplus(rand(rng, [4, 9, 5])));
  close('glaPattern', both(() => valueAndGrads((q, k, l) => glaPatternFused(q as tf.Tensor3D, k as tf.Tensor3D, l as tf.Tensor3D), [gq, gk, glogA], 'gla')));
  const dt = tf.softplus(rand(rng, [2, 9, 3])) as tf.Tensor3D;
  const aH = tf.neg(tf.exp(rand(rng, [3], 0.5))) as tf.Tensor1D;
  const cb = rand(rng, [2, 9, 9]) as tf.Tensor3D;
  close('ssdPattern', both(() => valueAndGrads((dt, a, cb) => fusedOps.ssdPattern(dt as tf.Tensor3D, a as tf.Tensor1D, cb as tf.Tensor3D), [dt, aH, cb], 'ssd')));
  const table = rand(rng, [11, 5]);
  const ids = tf.tensor1d(Int32Array.from([3, 0, 10, 3, 7, 3, 1]), 'int32');
  close('embedding', both(() => valueAndGrads((w) => fusedOps.embedding(ids, w as tf.Tensor2D), [table], 'emb')));
  const cx = rand(rng, [2, 9, 6]);
  const cw = rand(rng, [4, 6]);
  const cbias = rand(rng, [6]);
  close('causalConv', both(() => valueAndGrads((x, w, b) => fusedOps.causalConv(x as tf.Tensor3D, w as tf.Tensor2D, b as tf.Tensor1D), [cx, cw, cbias], 'conv')));
  close('silu', both(() => valueAndGrads((x) => fusedOps.silu(x), [xg], 'silu')));
  const logits = rand(rng, [20, 31], 3);
  const targets = tf.tensor1d(Int32Array.from({ length: 20 }, (_, i) => (i * 13) % 31), 'int32');
  const mask = tf.tensor1d(Float32Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 0 : 1)));
  const ce = (m?: tf.Tensor1D) => () => {
    const { value, grads } = tf.valueAndGrads((z: tf.Tensor) => fusedOps.crossEntropy(z as tf.Tensor2D, targets, m))([logits]);
    return [value, ...grads];
  };
  close('crossEntropy', both(ce()));
  close('crossEntropy with a mask', both(ce(mask)));
  close('crossEntropy with float targets', both(() => fusedOps.crossEntropy(logits as tf.Tensor2D, tf.cast(targets, 'float32') as tf.Tensor1D)));
});

test('native AdamW updates match the tfjs formulas over several steps', async (t) => {
  const why = await ready();
  if (why) return required ? assert.fail(why) : t.skip(why);
  close('adamw', both(() => {
    const rng = new Rng('adam');
    const params = new Map([['w', tf.variable(rand(rng, [8, 5]))], ['b', tf.variable(rand(rng, [5]))]]);
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    for (let s = 0; s < 4; s++) opt.apply(new Map([...params].map(([k, p]) => [k, rand(rng, p.shape)])), 1e-2);
    const out = [...params.values()].map((p) => tf.clone(p));
    opt.dispose();
    for (const p of params.values()) p.dispose();
    return out;
  }));
});

/** Losses of `steps` training steps of a tiny model (fixed data, AdamW, clipping). */
function lossTrace(arch: Arch, steps: number): number[] {
  const model = createModel(modelPreset(arch, 'tiny', 40), 3);
  const opt = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 });
  const ids = Int32Array.from({ length: 4 * 17 }, (_, i) => (i * 7 + 3) % 40);
  const all = tf.tensor2d(ids, [4, 17], 'int32');
  const x = tf.slice(all, [0, 0], [4, 16]) as tf.Tensor2D;
  const y = tf.slice(all, [0, 1], [4, 16]) as tf.Tensor2D;
  const losses: number[] = [];
  const vars = [...model.params.values()];
  for (let s = 0; s < steps; s++) {
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), vars);
    const g = new Map(Object.entries(grads));
    const clipped = clipByGlobalNorm(g, 1.0);
    opt.apply(clipped.grads, 3e-3);
    losses.push(value.dataSync()[0]);
    tf.dispose([value, clipped.norm, ...g.values(), ...clipped.grads.values()]);
  }
  opt.dispose();
  model.dispose();
  tf.dispose([all, x, y]);
  return losses;
}

test('whole training steps of every architecture: native within 1e-5 of wasm, the same loss trace bit for bit on a rerun, no tensor leak', async (t) => {
  const why = await ready();
  if (why) return required ? assert.fail(why) : t.skip(why);
  const was = nativeKernelsActive();
  for (const arch of ARCHS) {
    setNativeKernels(false);
    const wasm = lossTrace(arch, 4);
    setNativeKernels(true, 1);
    const before = tf.memory().numTensors;
    const native = lossTrace(arch, 4);
    assert.equal(tf.memory().numTensors, before, `${arch}: tensors leaked by native training steps`);
    const again = lossTrace(arch, 4);
    assert.deepEqual(again, native, `${arch}: the same seed gives the same native loss trace bit for bit`);
    wasm.forEach((l, i) => assert.ok(Math.abs(l - native[i]) <= 1e-5 * Math.abs(l), `${arch}: loss of step ${i} wasm ${l} vs native ${native[i]}`));
  }
  // The same with two BLAS threads (OpenBLAS splits the output, not the sums): bit for bit again.
  setNativeKernels(true, 2);
  const two = lossTrace('transformer', 3);
  assert.deepEqual(lossTrace('transformer', 3), two, 'two threads: the same seed gives the same loss trace bit for bit');
  setNativeKernels(true, 1);
  setNativeKernels(was);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng } from '../../src/engine';
import { createModel, modelPreset, countParams, MODEL_PRESETS, type ModelConfig, type LanguageModel, type Arch } from '../../src/models';
import { isGroundlabError } from '../../src/errors';

const V = 13;
const ARCHS: Arch[] = ['transformer', 'mamba2', 'lstm'];

function tokens(b: number, t: number, seed = 1): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Int32Array.from({ length: b * t }, () => rng.int(V)), [b, t], 'int32');
}

function tiny(arch: Arch, over: Partial<ModelConfig> = {}): ModelConfig {
  return modelPreset(arch, 'tiny', V, { contextLength: 16, ...over } as Partial<ModelConfig>);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

test('forward shapes, hook point names and cache shapes for every architecture', async () => {
  await initEngine({ log: false });
  const x = tokens(2, 8);
  for (const arch of ARCHS) {
    const m = createModel(tiny(arch), 1);
    const logits = m.forward(x);
    assert.deepEqual(logits.shape, [2, 8, V], arch);
    const { logits: l2, cache } = m.runWithCache(x);
    assert.deepEqual(cache.names, m.hookPoints(), `${arch}: cache holds every hook point in forward order`);
    assert.ok(maxAbsDiff(logits, l2) < 1e-5, `${arch}: runWithCache gives the same logits`);
    const d = m.config.dModel;
    assert.deepEqual(cache.get('blocks.0.hook_resid_post').shape, [2, 8, d]);
    assert.deepEqual(cache.get('hook_embed').shape, [2, 8, d]);
    if (arch === 'transformer') {
      const h = m.nHeads;
      assert.deepEqual(cache.get('blocks.1.attn.hook_pattern').shape, [2, h, 8, 8]);
      assert.deepEqual(cache.get('blocks.1.attn.hook_z').shape, [2, 8, h, d / h]);
      assert.deepEqual(cache.get('blocks.0.attn.hook_q').shape, [2, 8, h, d / h]);
      // pattern rows are causal distributions
      const p = cache.get('blocks.0.attn.hook_pattern').arraySync() as number[][][][];
      assert.ok(Math.abs(p[1][1][5].reduce((a, v) => a + v, 0) - 1) < 1e-5);
      assert.ok(p[1][1][5].slice(6).every((v) => v === 0));
    } else if (arch === 'mamba2') {
      assert.equal(m.nHeads, 4);
      assert.deepEqual(cache.get('blocks.0.ssd.hook_pattern').shape, [2, 4, 8, 8]);
      assert.deepEqual(cache.get('blocks.0.ssd.hook_z').shape, [2, 8, 4, 16]);
      const p = cache.get('blocks.0.ssd.hook_pattern').arraySync() as number[][][][];
      assert.ok(p[0][2][3].slice(4).every((v) => v === 0), 'SSD pattern is causal');
    } else {
      assert.equal(m.nHeads, 0);
      assert.deepEqual(cache.get('blocks.1.hook_h').shape, [2, 8, d]);
      assert.deepEqual(cache.get('blocks.1.hook_c').shape, [2, 8, d]);
    }
    // a subset by name / pattern
    const sub = m.runWithCache(x, { names: [/hook_resid_post$/] });
    assert.deepEqual(sub.cache.names, m.hookPoints().filter((n) => n.endsWith('hook_resid_post')));
    sub.cache.dispose();
    sub.logits.dispose();
    assert.throws(() => cache.get('nope'), (e: unknown) => isGroundlabError(e) && (e as { code: string }).code === 'NOT_FOUND');
    cache.dispose();
    tf.dispose([logits, l2]);
    m.dispose();
  }
});

test('same seed gives identical weights, another seed different ones', async () => {
  await initEngine({ log: false });
  for (const arch of ARCHS) {
    const a = createModel(tiny(arch), 7), b = createModel(tiny(arch), 7), c = createModel(tiny(arch), 8);
    assert.deepEqual([...a.params.keys()], [...b.params.keys()]);
    for (const [name, v] of a.params) {
      assert.deepEqual(v.dataSync(), b.params.get(name)!.dataSync(), `${arch} ${name}`);
    }
    const w = [...a.params.keys()].find((n) => /in_proj|c_attn\.weight|weight_ih/.test(n))!;
    assert.notDeepEqual(a.params.get(w)!.dataSync(), c.params.get(w)!.dataSync());
    [a, b, c].forEach((m) => m.dispose());
  }
});

test('Transformer parameter names and counts match Hugging Face GPT-2 small', async () => {
  const cfg = modelPreset('transformer', 'paper', 50257, { contextLength: 1024 });
  assert.equal(countParams(cfg), 124439808); // GPT-2 small, tied embeddings
  await initEngine({ log: false });
  const m = createModel(tiny('transformer', { tiedEmbeddings: false }), 1);
  const names = [...m.params.keys()];
  for (const n of ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.1.ln_1.weight', 'transformer.h.0.attn.c_attn.bias', 'transformer.h.1.mlp.c_proj.weight', 'transformer.ln_f.bias', 'lm_head.weight']) {
    assert.ok(names.includes(n), n);
  }
  assert.deepEqual(m.params.get('transformer.h.0.attn.c_attn.weight')!.shape, [32, 96]); // Conv1D [in, out]
  assert.deepEqual(m.params.get('transformer.h.0.mlp.c_fc.weight')!.shape, [32, 128]);
  m.dispose();
});

test('fused and stock (naive) models of every architecture give the same loss and gradients', async () => {
  await initEngine({ log: false });
  const x = tokens(2, 8, 3), y = tokens(2, 8, 4);
  const mask = tf.tensor2d([[1, 1, 1, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 0, 1]]);
  for (const arch of ARCHS) {
    const f = createModel(tiny(arch), 5);
    const s = createModel(tiny(arch, { fused: false }), 5);
    const gf = tf.variableGrads(() => f.loss(x, y, mask), [...f.params.values()]);
    const gs = tf.variableGrads(() => s.loss(x, y, mask), [...s.params.values()]);
    assert.ok(Math.abs(gf.value.dataSync()[0] - gs.value.dataSync()[0]) < 1e-5, arch);
    for (const name of f.params.keys()) {
      const a = gf.grads[f.params.get(name)!.name], b = gs.grads[s.params.get(name)!.name];
      const scale = Math.max(1e-3, tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0]));
      assert.ok(maxAbsDiff(a, b) <= 2e-3 * scale, `${arch} ${name}: fused vs stock gradient`);
    }
    tf.dispose([gf.value, gs.value, gf.grads, gs.grads]);
    f.dispose();
    s.dispose();
  }
});

test('loss with a mask equals the masked mean of -log softmax of forward logits', async () => {
  await initEngine({ log: false });
  const m = createModel(tiny('transformer'), 2);
  const x = tokens(2, 6, 5), y = tokens(2, 6, 6);
  const maskv = [[1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 0]];
  const loss = m.loss(x, y, tf.tensor2d(maskv)).dataSync()[0];
  const lp = tf.tidy(() => tf.logSoftmax(m.forward(x)).arraySync() as number[][][]);
  const yv = y.arraySync();
  let tot = 0, cnt = 0;
  for (let b = 0; b < 2; b++) for (let t = 0; t < 6; t++) if (maskv[b][t]) { tot -= lp[b][t][yv[b][t]]; cnt++; }
  assert.ok(Math.abs(loss - tot / cnt) < 1e-4, `${loss} vs ${tot / cnt}`);
  m.dispose();
});

test('zeroing a head through hook_z removes exactly that head\'s contribution', async () => {
  await initEngine({ log: false });
  const m = createModel(tiny('transformer'), 3);
  const x = tokens(2, 8, 7);
  const h = 1, dh = 16;
  const zero = (z: tf.Tensor) => tf.mul(z, tf.tensor([1, 0], [1, 1, 2, 1]));
  const base = m.runWithCache(x, { names: ['blocks.0.attn.hook_z', 'blocks.0.hook_attn_out'] });
  const abl = m.runWithCache(x, { hooks: { 'blocks.0.attn.hook_z': zero }, names: ['blocks.0.attn.hook_z', 'blocks.0.hook_attn_out'] });
  // the recorded z has head 1 zeroed, head 0 intact
  const za = abl.cache.get('blocks.0.attn.hook_z');
  assert.equal(tf.tidy(() => tf.max(tf.abs(tf.slice(za, [0, 0, 1, 0], [2, 8, 1, dh]))).dataSync()[0]), 0);
  // attn_out(base) - attn_out(ablated) = z_h W_O[h rows]
  const expected = tf.tidy(() => {
    const zh = tf.reshape(tf.slice(base.cache.get('blocks.0.attn.hook_z'), [0, 0, h, 0], [2, 8, 1, dh]), [16, dh]);
    const wo = tf.slice(m.params.get('transformer.h.0.attn.c_proj.weight')!, [h * dh, 0], [dh, 32]);
    return tf.reshape(tf.matMul(zh, wo), [2, 8, 32]);
  });
  const diff = tf.sub(base.cache.get('blocks.0.hook_attn_out'), abl.cache.get('blocks.0.hook_attn_out'));
  assert.ok(maxAbsDiff(diff, expected) < 1e-5);
  assert.ok(maxAbsDiff(base.logits, abl.logits) > 1e-4, 'ablation changes the logits');
  base.cache.dispose();
  abl.cache.dispose();
  m.dispose();
});

test('a pattern hook forces the explicit path: identity replacement keeps the logits; saliency gradient matches finite differences', async () => {
  await initEngine({ log: false });
  const m = createModel(tiny('transformer'), 4);
  const x = tokens(1, 8, 8), y = tokens(1, 8, 9);
  const plain = m.forward(x);
  const hooked = m.forward(x, { hooks: { 'blocks.1.attn.hook_pattern': (p) => tf.mul(p, 1) } });
  assert.ok(maxAbsDiff(plain, hooked) < 1e-5);
  // Saliency: an identity customGrad records dL/dA.
  let recorded: number[] = [];
  let pattern: number[] = [];
  const spy = tf.customGrad(((a: tf.Tensor) => ({ value: tf.clone(a), gradFunc: (dy: tf.Tensor) => { recorded = Array.from(dy.dataSync()); return dy; } })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor) => tf.Tensor;
  const vars = [m.params.get('transformer.h.1.attn.c_attn.weight')!];
  const g = tf.variableGrads(() => m.loss(x, y, undefined, { hooks: { 'blocks.1.attn.hook_pattern': (p) => { pattern = Array.from(p.dataSync()); return spy(p); } } }), vars);
  assert.equal(recorded.length, 1 * 2 * 8 * 8);
  const sal = recorded.reduce((a, gv, i) => a + gv * pattern[i], 0); // sum A * dL/dA
  // d/de L(pattern * (1 + e)) at e = 0 equals sum A * dL/dA
  const eps = 1e-2;
  const lossAt = (e: number) => tf.tidy(() => m.loss(x, y, undefined, { hooks: { 'blocks.1.attn.hook_pattern': (p) => tf.mul(p, 1 + e) } }).dataSync()[0]);
  const fd = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
  assert.ok(Math.abs(fd - sal) < 2e-2 * Math.max(1, Math.abs(fd)), `saliency ${sal} vs finite difference ${fd}`);
  tf.dispose([plain, hooked, g.value, g.grads]);
  m.dispose();
});

test('hook errors: unknown names and wrong replacement shapes are clear GroundlabErrors', async () => {
  await initEngine({ log: false });
  const m = createModel(tiny('transformer'), 1);
  const x = tokens(1, 4);
  assert.throws(() => m.forward(x, { hooks: { 'blocks.0.attn.hook_patern': () => undefined } }), /not a hook point/);
  assert.throws(() => m.forward(x, { hooks: { 'blocks.0.hook_resid_pre': () => tf.zeros([1]) } }), /returned shape/);
  assert.throws(() => m.forward(tokens(1, 40)), /longer than the model's context/);
  assert.throws(() => m.forward(tf.tensor2d([[1, 2, V]], [1, 3], 'int32')), /outside the vocabulary/);
  assert.throws(() => modelPreset('transformer', 'tiny', V, { nHeads: 5 }), (e: unknown) => isGroundlabError(e) && (e as { code: string }).code === 'BAD_CONFIG');
  m.dispose();
});

test('Mamba-2: zeroing an SSD head through hook_z changes the output; hook_pattern replacement is used', async () => {
  await initEngine({ log: false });
  const m = createModel(tiny('mamba2'), 2);
  const x = tokens(2, 8, 10);
  const base = m.forward(x);
  const abl = m.runWithCache(x, { hooks: { 'blocks.1.ssd.hook_z': (z) => tf.mul(z, tf.tensor([1, 1, 0, 1], [1, 1, 4, 1])) }, names: ['blocks.1.ssd.hook_z'] });
  assert.ok(maxAbsDiff(base, abl.logits) > 1e-5);
  const z = abl.cache.get('blocks.1.ssd.hook_z');
  assert.equal(tf.tidy(() => tf.max(tf.abs(tf.slice(z, [0, 0, 2, 0], [2, 8, 1, 16]))).dataSync()[0]), 0);
  // zeroing the whole pattern leaves only the D skip: then the output no longer depends on earlier tokens through this layer
  const zp = m.runWithCache(x, { hooks: { 'blocks.0.ssd.hook_pattern': (p) => tf.zerosLike(p) }, names: ['blocks.0.ssd.hook_z', 'blocks.0.hook_resid_pre'] });
  assert.ok(maxAbsDiff(zp.logits, base) > 1e-5);
  abl.cache.dispose();
  zp.cache.dispose();
  tf.dispose([base, abl.logits, zp.logits]);
  m.dispose();
});

test('Mamba-2 SSD: the quadratic form equals the sequential recurrence', async () => {
  await initEngine({ log: false });
  const { ssdQuadratic, ssdRecurrent } = await import('../../src/models/mamba2');
  const { fusedOps, stockOps } = await import('../../src/engine');
  const rng = new Rng(11);
  const B = 2, T = 7, H = 3, P = 4, N = 5;
  const x = tf.tensor4d(rng.normalArray(B * T * H * P), [B, T, H, P]);
  const dt = tf.softplus(tf.tensor3d(rng.normalArray(B * T * H), [B, T, H])) as tf.Tensor3D;
  const a = tf.tensor1d([-0.5, -1.5, -3]);
  const bm = tf.tensor3d(rng.normalArray(B * T * N), [B, T, N]);
  const cm = tf.tensor3d(rng.normalArray(B * T * N), [B, T, N]);
  const ref = ssdRecurrent(x, dt, a, bm, cm);
  for (const ops of [fusedOps, stockOps]) {
    const y = ssdQuadratic(x, dt, a, bm, cm, ops).dataSync();
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(y[i] - ref[i]) < 1e-4 * Math.max(1, Math.abs(ref[i])), `index ${i}: ${y[i]} vs ${ref[i]}`);
  }
});

test('LSTM: the residual flag changes the computation, not the parameters', async () => {
  await initEngine({ log: false });
  const a = createModel(tiny('lstm'), 3), b = createModel(tiny('lstm', { residual: true }), 3);
  assert.deepEqual([...a.params.keys()], [...b.params.keys()]);
  const x = tokens(2, 6);
  const ca = a.runWithCache(x, { names: ['hook_embed', 'blocks.0.hook_h', 'blocks.0.hook_resid_post'] });
  const cb = b.runWithCache(x, { names: ['hook_embed', 'blocks.0.hook_h', 'blocks.0.hook_resid_post'] });
  assert.ok(maxAbsDiff(ca.cache.get('blocks.0.hook_h'), ca.cache.get('blocks.0.hook_resid_post')) === 0);
  const sum = tf.add(cb.cache.get('hook_embed'), cb.cache.get('blocks.0.hook_h'));
  assert.ok(maxAbsDiff(sum, cb.cache.get('blocks.0.hook_resid_post')) < 1e-6);
  assert.ok(maxAbsDiff(ca.logits, cb.logits) > 1e-6);
  [ca.cache, cb.cache].forEach((c) => c.dispose());
  [a, b].forEach((m) => m.dispose());
});

test('continuous ENV features: a learned projection added at the positions', async () => {
  await initEngine({ log: false });
  for (const arch of ARCHS) {
    const m = createModel(tiny(arch, { envFeatureDim: 3 }), 1);
    assert.deepEqual(m.params.get('env_proj.weight')!.shape, [3, 32]);
    const x = tokens(1, 5);
    const zeros = tf.zeros([1, 5, 3]) as tf.Tensor3D;
    const feats = tf.tensor3d(new Rng(2).normalArray(15), [1, 5, 3]);
    assert.ok(maxAbsDiff(m.forward(x), m.forward(x, { envFeatures: zeros })) < 1e-6);
    assert.ok(maxAbsDiff(m.forward(x), m.forward(x, { envFeatures: feats })) > 1e-6, arch);
    const g = tf.variableGrads(() => m.loss(x, x, undefined, { envFeatures: feats }), [m.params.get('env_proj.weight')!]);
    assert.ok(tf.tidy(() => tf.max(tf.abs(Object.values(g.grads)[0])).dataSync()[0]) > 0);
    tf.dispose([g.value, g.grads]);
    assert.throws(() => createModel(tiny(arch), 1).forward(x, { envFeatures: feats }), /envFeatureDim 0/);
    m.dispose();
  }
});

test('tensor counts do not grow across repeated forward and backward passes', async () => {
  await initEngine({ log: false });
  const x = tokens(2, 8), y = tokens(2, 8, 2);
  for (const arch of ARCHS) {
    for (const fused of [true, false]) {
      const m = createModel(tiny(arch, { fused }), 1);
      const vars = [...m.params.values()];
      const step = () => {
        const { value, grads } = tf.variableGrads(() => m.loss(x, y), vars);
        tf.dispose([value, grads]);
        tf.dispose(m.forward(x));
        const { logits, cache } = m.runWithCache(x);
        logits.dispose();
        cache.dispose();
      };
      step();
      const before = tf.memory().numTensors;
      step();
      step();
      assert.equal(tf.memory().numTensors, before, `${arch} fused=${fused}`);
      m.dispose();
    }
  }
});

test('a tiny model of each architecture learns: loss falls over 30 Adam steps', async () => {
  await initEngine({ log: false });
  // a deterministic sequence: token t+1 = (3 t + 1) mod V, random starts
  const rng = new Rng(5);
  const B = 8, T = 12;
  const seq = new Int32Array(B * (T + 1));
  for (let b = 0; b < B; b++) {
    let v = rng.int(V);
    for (let t = 0; t <= T; t++) {
      seq[b * (T + 1) + t] = v;
      v = (3 * v + 1) % V;
    }
  }
  const all = tf.tensor2d(seq, [B, T + 1], 'int32');
  const x = tf.slice(all, [0, 0], [B, T]) as tf.Tensor2D, y = tf.slice(all, [0, 1], [B, T]) as tf.Tensor2D;
  for (const arch of ARCHS) {
    const m: LanguageModel = createModel(tiny(arch), 1);
    const opt = tf.train.adam(arch === 'lstm' ? 3e-2 : 1e-2);
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const l = opt.minimize(() => m.loss(x, y), true, [...m.params.values()])!;
      losses.push(l.dataSync()[0]);
      l.dispose();
    }
    assert.ok(losses[29] < 0.5 * losses[0], `${arch}: ${losses[0].toFixed(3)} -> ${losses[29].toFixed(3)}`);
    opt.dispose();
    m.dispose();
  }
});

test('presets are data with the documented sizes', () => {
  assert.equal(MODEL_PRESETS.transformer.quick.nLayers, 4);
  assert.equal(MODEL_PRESETS.transformer.paper.dModel, 768);
  assert.equal(MODEL_PRESETS.transformer.paper.nHeads, 12);
  assert.equal(MODEL_PRESETS.lstm.paper.nLayers, 4);
  assert.equal(modelPreset('transformer', 'paper', 100, { nLayers: 18 }).nLayers, 18);
  assert.throws(() => modelPreset('transformer', 'huge' as 'tiny', 10), /unknown preset/);
});

test('timeTrainSteps times fused and stock variants without leaking tensors', async () => {
  await initEngine({ log: false });
  const { timeTrainSteps } = await import('../../src/models');
  const run = () => timeTrainSteps([tiny('transformer'), tiny('transformer', { fused: false })], { batch: 2, seqLen: 8, steps: 2, warmup: 1 });
  run(); // first use may create cached constants (causal masks)
  const before = tf.memory().numTensors;
  run();
  assert.equal(tf.memory().numTensors, before);
  const [f, s] = timeTrainSteps([tiny('transformer'), tiny('transformer', { fused: false })], { batch: 2, seqLen: 8, steps: 2, warmup: 1 });
  assert.equal(f.samples.length, 2);
  assert.ok(f.msPerStep > 0 && s.msPerStep > 0 && f.tokensPerSec > 0);
});

test('countParams and modelParamShapes agree with the created models; regex hooks reach every layer', async () => {
  await initEngine({ log: false });
  const { modelParamShapes } = await import('../../src/models');
  for (const arch of ARCHS) {
    const cfg = tiny(arch, { envFeatureDim: 2 });
    const m = createModel(cfg, 1);
    const total = [...m.params.values()].reduce((a, v) => a + v.size, 0);
    assert.equal(countParams(cfg), total, arch);
    assert.deepEqual(modelParamShapes(cfg).map((p) => p.name), [...m.params.keys()]);
    const seen: string[] = [];
    tf.dispose(m.forward(tokens(1, 4), { hooks: [[/^blocks\.\d+\.hook_resid_post$/, (_x, name) => void seen.push(name)]] }));
    assert.deepEqual(seen, m.hookPoints().filter((n) => n.endsWith('hook_resid_post')));
    m.dispose();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng } from '../../src/engine';
import { actName, createModel, modelAnatomy, modelPreset, type Arch, type ModelConfig } from '../../src/models';
import { isGroundlabError } from '../../src/errors';

const V = 11;

function tokens(b: number, t: number, seed = 3): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(
    Int32Array.from({ length: b * t }, () => rng.int(V)),
    [b, t],
    'int32',
  );
}

function tiny(arch: Arch, over: Record<string, unknown> = {}): ModelConfig {
  return modelPreset(arch, 'tiny', V, { contextLength: 16, ...over } as Partial<ModelConfig>);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function throwsCode(f: () => unknown, code: string, re?: RegExp): void {
  assert.throws(f, (e: unknown) => isGroundlabError(e) && e.code === code && (!re || re.test(e.message)));
}

test('short names resolve through the anatomy: pattern, resid streams, q/k/v/z, MLP and sub-module names, negative layers', async () => {
  await initEngine({ log: false });
  const t = modelAnatomy(tiny('transformer'));
  assert.equal(actName(t, 'pattern', 1), 'blocks.1.attn.hook_pattern');
  assert.equal(actName(t, 'attn', -1), 'blocks.1.attn.hook_pattern');
  assert.equal(actName(t, 'resid_pre', 0), 'blocks.0.hook_resid_pre');
  assert.equal(actName(t, 'resid_mid', 1), 'blocks.1.hook_resid_mid');
  assert.equal(actName(t, 'resid_post', -2), 'blocks.0.hook_resid_post');
  assert.equal(actName(t, 'q', 0), 'blocks.0.attn.hook_q');
  assert.equal(actName(t, 'z', 1), 'blocks.1.attn.hook_z');
  assert.equal(actName(t, 'scores', 1), 'blocks.1.attn.hook_attn_scores');
  assert.equal(actName(t, 'pre', 0), 'blocks.0.mlp.hook_pre');
  assert.equal(actName(t, 'mlp_out', 0), 'blocks.0.hook_mlp_out');
  assert.equal(actName(t, 'ln2.normalized', 0), 'blocks.0.ln2.hook_normalized');
  assert.equal(actName(t, 'embed'), 'hook_embed');
  assert.equal(actName(t, 'pos_embed'), 'hook_pos_embed');
  assert.equal(actName(t, 'ln_final.normalized'), 'ln_final.hook_normalized');
  assert.equal(actName(t, 'blocks.0.attn.hook_v'), 'blocks.0.attn.hook_v');
  throwsCode(() => actName(t, 'normalized', 0), 'BAD_ARGUMENT', /ambiguous.*ln1.*ln2/);
  throwsCode(() => actName(t, 'pattern', 2), 'BAD_ARGUMENT', /layers 0\.\.1/);
  throwsCode(() => actName(t, 'gate', 0), 'NOT_FOUND', /layer 0 has no "gate"/);
  throwsCode(() => actName(t, 'pattern'), 'NOT_FOUND');
  // Mamba-2's token-mixing matrix is its SSD matrix; GLA's is its gated linear attention; LSTM units
  const m = modelAnatomy(tiny('mamba2'));
  assert.equal(actName(m, 'pattern', 0), 'blocks.0.ssd.hook_pattern');
  assert.equal(actName(m, 'z', 0), 'blocks.0.ssd.hook_z');
  assert.equal(actName(modelAnatomy(tiny('gla')), 'pattern', 1), 'blocks.1.attn.hook_pattern');
  const lstm = modelAnatomy(tiny('lstm'));
  assert.equal(actName(lstm, 'h', 1), 'blocks.1.hook_h');
  throwsCode(() => actName(lstm, 'pattern', 0), 'NOT_FOUND', /mixes no tokens/);
  throwsCode(() => actName(lstm, 'resid_pre', 0), 'NOT_FOUND');
  // a layer without attention (mixing: none) has no pattern
  const noMix = modelAnatomy(tiny('transformer', { mixing: 'none/softmax' }));
  throwsCode(() => actName(noMix, 'pattern', 0), 'NOT_FOUND', /mixes no tokens/);
  assert.equal(actName(noMix, 'pattern', 1), 'blocks.1.attn.hook_pattern');
});

test('cache.get(short, layer) returns the cached tensor itself; missing activations name what is cached', async () => {
  await initEngine({ log: false });
  const x = tokens(2, 6);
  const model = createModel(tiny('transformer'), 1);
  const { logits, cache } = model.runWithCache(x);
  assert.equal(cache.get('pattern', 1), cache.get('blocks.1.attn.hook_pattern'));
  assert.equal(cache.get('resid_post', -1), cache.get('blocks.1.hook_resid_post'));
  assert.deepEqual(cache.get('pattern', 0).shape, [2, model.nHeads, 6, 6]);
  assert.ok(cache.has('z', 1) && !cache.has('gate', 1) && !cache.has('pattern', 9));
  cache.dispose();
  logits.dispose();
  const part = model.runWithCache(x, { names: [/attn\.hook_pattern$/] });
  throwsCode(() => part.cache.get('resid_pre', 0), 'NOT_FOUND', /blocks\.0\.hook_resid_pre/);
  throwsCode(() => part.cache.accumulatedResid(), 'NOT_FOUND');
  part.cache.dispose();
  part.logits.dispose();
  model.dispose();
  x.dispose();
});

/** Sum of a [K, B, T, D] stack over its first axis. */
const total = (r: tf.Tensor4D) => tf.sum(r, 0);

test('decomposeResid: embeddings + each attention and MLP output sum to the residual stream within 1e-5 (every additive architecture)', async () => {
  await initEngine({ log: false });
  const x = tokens(3, 9);
  const cases: Array<[string, ModelConfig, string[]]> = [
    ['transformer', tiny('transformer'), ['embed', 'pos_embed', '0_attn_out', '0_mlp_out', '1_attn_out', '1_mlp_out']],
    ['transformer, rotary', tiny('transformer', { positional: 'rope' }), ['embed', '0_attn_out', '0_mlp_out', '1_attn_out', '1_mlp_out']],
    [
      'transformer, no mixing in layer 0',
      tiny('transformer', { mixing: 'none/softmax' }),
      ['embed', 'pos_embed', '0_attn_out', '0_mlp_out', '1_attn_out', '1_mlp_out'],
    ],
    ['gla', tiny('gla'), ['embed', '0_attn_out', '0_mlp_out', '1_attn_out', '1_mlp_out']],
    ['mamba2', tiny('mamba2'), ['embed', '0_mixer_out', '1_mixer_out']],
  ];
  for (const [what, cfg, labels] of cases) {
    const model = createModel(cfg, 2);
    const warm = model.runWithCache(x); // the first pass makes one-time constants (masks)
    warm.cache.dispose();
    warm.logits.dispose();
    const before = tf.memory().numTensors;
    const { logits, cache } = model.runWithCache(x);
    const L = model.anatomy.layers.length;
    const full = cache.decomposeResid();
    assert.deepEqual(full.labels, labels, what);
    assert.deepEqual(full.resid.shape, [labels.length, 3, 9, cfg.dModel], what);
    const errFinal = tf.tidy(() => maxAbsDiff(total(full.resid), cache.get('resid_post', L - 1)));
    assert.ok(errFinal < 1e-5, `${what}: terms sum to the final residual stream (max error ${errFinal})`);
    for (let l = 0; l < L; l++) {
      const d = cache.decomposeResid(l);
      const err = tf.tidy(() => maxAbsDiff(total(d.resid), cache.get('resid_pre', l)));
      assert.ok(err < 1e-5, `${what}: terms before layer ${l} sum to its resid_pre (max error ${err})`);
      d.resid.dispose();
      if (cache.has('resid_mid', l)) {
        const mid = cache.decomposeResid(l, { mlpInput: true });
        assert.equal(mid.labels[mid.labels.length - 1], `${l}_attn_out`);
        const e2 = tf.tidy(() => maxAbsDiff(total(mid.resid), cache.get('resid_mid', l)));
        assert.ok(e2 < 1e-5, `${what}: ... and with layer ${l}'s attention to its resid_mid (${e2})`);
        mid.resid.dispose();
      }
    }
    const noEmb = cache.decomposeResid(undefined, { incEmbeds: false });
    assert.deepEqual(
      noEmb.labels,
      labels.filter((s) => !s.endsWith('embed')),
      what,
    );
    noEmb.resid.dispose();
    full.resid.dispose();
    cache.dispose();
    logits.dispose();
    assert.equal(tf.memory().numTensors, before, `${what}: no tensor leaks`);
    model.dispose();
  }
  x.dispose();
});

test('accumulatedResid stacks the stream entering each layer (TransformerLens labels); recurrent models too; decomposeResid refuses them', async () => {
  await initEngine({ log: false });
  const x = tokens(2, 5);
  const model = createModel(tiny('transformer'), 4);
  const { logits, cache } = model.runWithCache(x);
  const all = cache.accumulatedResid();
  assert.deepEqual(all.labels, ['0_pre', '1_pre', 'final_post']);
  assert.deepEqual(all.hooks, ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre', 'blocks.1.hook_resid_post']);
  for (let k = 0; k < all.hooks.length; k++) {
    const e = tf.tidy(() => maxAbsDiff(tf.squeeze(tf.slice(all.resid, [k], [1]), [0]), cache.get(all.hooks[k])));
    assert.equal(e, 0, `entry ${k} is ${all.hooks[k]}`);
  }
  assert.deepEqual(cache.accumulatedResid(1).labels, ['0_pre', '1_pre']);
  assert.deepEqual(cache.accumulatedResid(undefined, { incMid: true }).labels, ['0_pre', '0_mid', '1_pre', '1_mid', 'final_post']);
  assert.deepEqual(cache.accumulatedResid(1, { mlpInput: true }).labels, ['0_pre', '1_pre', '1_mid']);
  throwsCode(() => cache.accumulatedResid(3), 'BAD_ARGUMENT', /0\.\.2/);
  all.resid.dispose();
  cache.dispose();
  logits.dispose();
  model.dispose();
  const lstm = createModel(tiny('lstm'), 4);
  const r = lstm.runWithCache(x);
  const acc = r.cache.accumulatedResid();
  assert.deepEqual(acc.hooks, ['hook_embed', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']);
  throwsCode(() => r.cache.decomposeResid(), 'UNSUPPORTED', /no additive residual stream/);
  acc.resid.dispose();
  r.cache.dispose();
  r.logits.dispose();
  lstm.dispose();
  x.dispose();
});

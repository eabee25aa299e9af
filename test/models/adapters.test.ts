/**
 * The architecture registry (src/models/registry.ts): for every registered architecture and every
 * Transformer switch, the adapter's fields and the anatomy it declares, checked against the model
 * it builds (hook points, per-head sites and their sizes, mixing patterns [B,H,T,T], lens inputs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng } from '../../src/engine';
import { ADAPTERS, ARCHS, PRESET_NAMES, createModel, modelAnatomy, modelPreset, countParams, type Arch, type ModelConfig } from '../../src/models';
import { isGroundlabError } from '../../src/errors';
import { VARIANTS } from './variants';

const V = 11;

function tokens(b: number, t: number, seed = 1): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Int32Array.from({ length: b * t }, () => rng.int(V)), [b, t], 'int32');
}

test('every registered architecture: adapter fields', () => {
  assert.deepEqual([...ARCHS], ['transformer', 'mamba2', 'lstm', 'gru', 'gla']);
  for (const arch of ARCHS) {
    const ad = ADAPTERS[arch];
    assert.equal(ad.arch, arch);
    assert.ok(ad.title.length > 0 && ad.summary.length > 0, `${arch}: title and summary`);
    assert.deepEqual(Object.keys(ad.presets).sort(), [...PRESET_NAMES].sort(), `${arch}: a preset for every preset name`);
    for (const p of PRESET_NAMES) assert.equal(ad.presets[p].arch, arch);
    for (const f of ['validate', 'paramSpecs', 'anatomy', 'create'] as const) assert.equal(typeof ad[f], 'function', `${arch}.${f}`);
  }
  assert.equal(ADAPTERS.transformer.hf?.format, 'hf-gpt2', 'only the Transformer maps onto Hugging Face GPT-2');
  assert.deepEqual(ARCHS.filter((a) => ADAPTERS[a].hf), ['transformer']);
});

test('every architecture and variant: the anatomy matches the model it builds', async () => {
  await initEngine({ log: false });
  const B = 2, T = 6;
  const x = tokens(B, T);
  for (const v of VARIANTS) {
    const cfg = modelPreset(v.arch, 'tiny', V, { contextLength: 8, ...v.over } as Partial<ModelConfig>);
    const m = createModel(cfg, 0);
    const an = m.anatomy;
    assert.deepEqual(modelAnatomy(cfg), an, `${v.name}: modelAnatomy without building agrees`);
    assert.deepEqual(m.hookPoints(), an.hookPoints);
    assert.equal(new Set(an.hookPoints).size, an.hookPoints.length, `${v.name}: hook names are unique`);
    assert.equal(an.layers.length, cfg.nLayers);
    const { logits, cache } = m.runWithCache(x);
    assert.deepEqual(cache.names, an.hookPoints, `${v.name}: every declared hook point is produced`);
    for (const [l, la] of an.layers.entries()) {
      assert.deepEqual(cache.get(la.residPost).shape, [B, T, cfg.dModel], `${v.name} layer ${l}: residPost`);
      if (la.residPre) assert.deepEqual(cache.get(la.residPre).shape, [B, T, cfg.dModel]);
      assert.ok(la.heads, `${v.name} layer ${l}: every registered layer has a heads site`);
      const z = cache.get(la.heads!.hook);
      assert.equal(z.shape[la.heads!.axis], la.heads!.size, `${v.name} layer ${l}: ${la.heads!.hook} has ${la.heads!.size} ${la.heads!.unit}s on axis ${la.heads!.axis}`);
      if (la.mixing) {
        assert.deepEqual(cache.get(la.mixing.hook).shape, [B, la.mixing.heads, T, T], `${v.name} layer ${l}: mixing pattern`);
        const p = cache.get(la.mixing.hook).arraySync() as number[][][][];
        assert.ok(p[1][0][2].slice(3).every((q) => q === 0), `${v.name} layer ${l}: the pattern is causal`);
      }
    }
    assert.ok(an.hookPoints.includes(an.lens.input), `${v.name}: lens input is a hook point`);
    const emb = m.params.get(an.lens.unembed);
    assert.deepEqual(emb?.shape, [V, cfg.dModel], `${v.name}: lens unembedding ${an.lens.unembed} is [V, D]`);
    if (an.lens.norm) {
      assert.ok(m.params.has(an.lens.norm.weight));
      if (an.lens.norm.bias) assert.ok(m.params.has(an.lens.norm.bias));
    }
    assert.equal(m.nHeads, Math.max(0, ...an.layers.map((la) => la.mixing?.heads ?? 0)), `${v.name}: nHeads counts mixing heads`);
    assert.equal(countParams(cfg), [...m.params.values()].reduce((a, p) => a + p.size, 0));
    cache.dispose();
    logits.dispose();
    m.dispose();
  }
  x.dispose();
});

test('per-layer switches: what each layer declares, and clear errors for bad switches', () => {
  const an = modelAnatomy(modelPreset('transformer', 'tiny', V, { mixing: 'none/softmax' } as Partial<ModelConfig>));
  assert.equal(an.layers[0].mixing, undefined, 'mixing none: no pattern in layer 0');
  assert.equal(an.layers[1].mixing?.hook, 'blocks.1.attn.hook_pattern');
  assert.ok(!an.hookPoints.includes('blocks.0.attn.hook_q') && an.hookPoints.includes('blocks.1.attn.hook_q'), 'no queries without attention');
  const rope = modelAnatomy(modelPreset('transformer', 'tiny', V, { positional: 'rope' } as Partial<ModelConfig>));
  assert.ok(rope.hookPoints.includes('blocks.0.attn.hook_rot_q') && !rope.hookPoints.includes('hook_pos_embed'));
  const bad = (over: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => modelPreset('transformer', 'tiny', V, over as Partial<ModelConfig>), (e: unknown) => isGroundlabError(e) && (e as { code: string }).code === 'BAD_CONFIG' && re.test((e as Error).message), JSON.stringify(over));
  bad({ mixing: 'sparse' }, /mixing: "sparse" is not one of softmax, uniform, static, none/);
  bad({ mixing: 'none/none/none' }, /mixing lists 3 layers, the model has 2/);
  bad({ similarity: 'cosine' }, /similarity/);
  bad({ qkFrom: 'input' }, /qkFrom/);
  bad({ positional: 'alibi' }, /positional/);
  bad({ positional: 'rope', dModel: 30, nHeads: 10 }, /even head size/);
  assert.throws(() => modelPreset('gla', 'tiny', V, { keyRatio: 0.3 } as Partial<ModelConfig>), /keyRatio/);
  assert.throws(() => modelPreset('rnn' as Arch, 'tiny', V), (e: unknown) => isGroundlabError(e) && /unknown architecture "rnn"/.test((e as Error).message) && /gru/.test((e as { hint?: string }).hint ?? ''));
  const hf = ADAPTERS.transformer.hf!;
  assert.equal(hf.unsupported(modelPreset('transformer', 'tiny', V) as never), undefined);
  assert.match(hf.unsupported(modelPreset('transformer', 'tiny', V, { positional: 'rope' } as Partial<ModelConfig>) as never) ?? '', /learned positions/);
  assert.match(hf.unsupported(modelPreset('transformer', 'tiny', V, { mixing: 'softmax/static' } as Partial<ModelConfig>) as never) ?? '', /layer 1 has mixing static/);
});

test('GPT-2 export reads the adapter: only the default Transformer switches map onto GPT-2', async () => {
  const { toHfGpt2Config } = await import('../../src/io/hf-gpt2');
  assert.equal(toHfGpt2Config(modelPreset('transformer', 'tiny', V) as never).n_layer, 2);
  for (const [arch, over, re] of [
    ['transformer', { positional: 'rope' }, /positional: rope/],
    ['transformer', { mixing: 'none' }, /layer 0 has mixing none/],
    ['gla', {}, /Gated Linear Attention Transformer has no hf-gpt2 mapping/],
    ['gru', {}, /GRU has no hf-gpt2 mapping/],
  ] as const) {
    assert.throws(() => toHfGpt2Config(modelPreset(arch, 'tiny', V, over as Partial<ModelConfig>) as never), (e: unknown) => isGroundlabError(e) && (e as { code: string }).code === 'UNSUPPORTED' && re.test((e as Error).message), `${arch} ${JSON.stringify(over)}`);
  }
});

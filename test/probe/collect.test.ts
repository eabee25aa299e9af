import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { Rng } from '../../src/engine/rng';
import { GroundlabError } from '../../src/errors';
import { collectActivations, resolvePosition, parsePosition, residPostHooks, residualHooks, hookLayer, type ProbeContext } from '../../src/probe/collect';
import { probeClassification } from '../../src/probe/evaluate';
import { TinyModel } from './tiny-model';

before(async () => {
  process.env.GROUNDLAB_QUIET = '1';
  await initEngine();
});

test('position selectors', () => {
  const toks = ['<CHI>', 'look', 'ball<ENV>', 'at', 'the'];
  assert.equal(resolvePosition('last', toks), 4);
  assert.equal(resolvePosition('pre-lan', toks), 4);
  assert.equal(resolvePosition('pre-lan', toks, { lanIndex: 3 }), 2);
  assert.equal(resolvePosition('env', toks), 2);
  assert.equal(resolvePosition(1, toks), 1);
  assert.equal(resolvePosition(-2, toks), 3);
  assert.throws(() => resolvePosition('env', ['a', 'b']), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND');
  assert.throws(() => resolvePosition(9, toks), GroundlabError);
  assert.equal(parsePosition('-1'), -1);
  assert.equal(parsePosition('pre-lan'), 'pre-lan');
  assert.throws(() => parsePosition('middle'), GroundlabError);
  assert.equal(hookLayer('blocks.3.hook_resid_post', 4), 4);
  assert.equal(hookLayer('blocks.3.hook_resid_pre', 4), 3);
  assert.equal(hookLayer('blocks.1.attn.hook_z', 4), 1.5);
  assert.equal(hookLayer('hook_embed', 4), 0);
  assert.equal(hookLayer('ln_final.hook_normalized', 4), 4);
});

test('batched collection equals one-at-a-time, keeps only the selected position, leaks no tensors', async () => {
  const model = new TinyModel(20, 8, 3, 1, 16);
  const rng = new Rng(2);
  const contexts: ProbeContext[] = Array.from({ length: 23 }, () => {
    const len = 2 + rng.int(20); // some longer than the context length 16
    const tokens = Array.from({ length: len }, () => rng.int(20));
    return { tokens, position: rng.int(len) };
  });
  assert.deepEqual(residualHooks(model), ['blocks.0.hook_resid_pre', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_post']);
  const hooks = residPostHooks(model);
  assert.deepEqual(hooks, ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_post']);
  const before = tf.memory().numTensors;
  let events = 0;
  const a = await collectActivations(model, contexts, { hooks, batchSize: 5, onProgress: () => events++ });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(events, 5);
  assert.ok(model.maxBatch <= 5);
  const b = await collectActivations(model, contexts, { hooks, batchSize: 1 });
  for (const h of hooks) {
    assert.equal(a.dims[h], 8);
    assert.equal(a.x[h].length, 23 * 8);
    for (let i = 0; i < a.x[h].length; i++) assert.ok(Math.abs(a.x[h][i] - b.x[h][i]) < 1e-5, `${h}[${i}]`);
  }
  // By hand: the last layer at context 0's position, from a cut window of at most 16 tokens.
  const c = contexts[0];
  const start = Math.max(0, c.position + 1 - 16);
  const win = Array.from(c.tokens).slice(start, c.position + 1);
  const { logits, cache } = model.runWithCache(tf.tensor2d([win], [1, win.length], 'int32'), { names: [hooks[2]] });
  const ref = cache.get(hooks[2]).arraySync() as number[][][];
  for (let j = 0; j < 8; j++) assert.ok(Math.abs(ref[0][win.length - 1][j] - a.x[hooks[2]][j]) < 1e-5);
  cache.dispose();
  logits.dispose();
  assert.equal(a.tokenAtPosition[0], c.tokens[c.position]);
  model.dispose();
});

test('unknown and pairwise hooks are refused with a hint; abort stops between batches', async () => {
  const model = new TinyModel(10, 4, 2, 1);
  const ctx = [{ tokens: [1, 2, 3], position: 2 }];
  await assert.rejects(collectActivations(model, ctx, { hooks: ['blocks.9.hook_resid_post'] }), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND' && /hook_resid_post/.test(e.message));
  await assert.rejects(collectActivations(model, ctx, { hooks: ['blocks.0.attn.hook_pattern'] }), (e: unknown) => e instanceof GroundlabError && e.code === 'UNSUPPORTED');
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(collectActivations(model, ctx, { hooks: ['blocks.0.hook_resid_post'], signal: ac.signal }), (e: unknown) => e instanceof GroundlabError && e.code === 'ABORTED');
  model.dispose();
});

test('end to end on the tiny model: a token seen earlier in context is decodable from later layers, not from the embedding', async () => {
  // Context: [k, filler..., q]; label = k (one of 4 "ENV" tokens); read the last position.
  const model = new TinyModel(24, 16, 2, 3);
  const rng = new Rng(5);
  const contexts: ProbeContext[] = [];
  const labels: number[] = [];
  for (let i = 0; i < 400; i++) {
    const k = rng.int(4);
    const tokens = [k, ...Array.from({ length: 3 + rng.int(4) }, () => 4 + rng.int(19)), 23];
    contexts.push({ tokens, position: tokens.length - 1 });
    labels.push(k);
  }
  const acts = await collectActivations(model, contexts, { hooks: ['hook_embed', 'blocks.1.hook_resid_post'], batchSize: 64 });
  const probe = (h: string) =>
    probeClassification({ x: acts.x[h], n: acts.n, d: acts.dims[h], labels: Int32Array.from(labels), classes: ['a', 'b', 'c', 'd'] }, { seed: 1 });
  const embed = probe('hook_embed');
  const deep = probe('blocks.1.hook_resid_post');
  assert.ok(embed.accuracy < 0.4, `embedding at the last token cannot know the first token: ${embed.accuracy}`);
  assert.ok(deep.accuracy > 0.8, `layer 1 mixes earlier tokens in: ${deep.accuracy}`);
  model.dispose();
});

test('collection on the real Transformer, Mamba-2 and LSTM (tiny presets): batched = single, every layer, no leak', async () => {
  const { createModel, modelPreset } = await import('../../src/models');
  for (const arch of ['transformer', 'mamba2', 'lstm'] as const) {
    const model = createModel(modelPreset(arch, 'tiny', 30), 1);
    const rng = new Rng(3);
    const contexts: ProbeContext[] = Array.from({ length: 9 }, () => {
      const len = 3 + rng.int(12);
      return { tokens: Array.from({ length: len }, () => rng.int(30)), position: rng.int(len) };
    });
    const hooks = residPostHooks(model);
    assert.equal(hooks.length, model.config.nLayers);
    if (arch === 'transformer') hooks.push('blocks.0.attn.hook_z');
    // The model caches one causal mask per sequence length: warm those up, then count.
    await collectActivations(model, contexts, { hooks, batchSize: 1 });
    await collectActivations(model, contexts, { hooks, batchSize: 4 });
    const before = tf.memory().numTensors;
    const a = await collectActivations(model, contexts, { hooks, batchSize: 4 });
    const b = await collectActivations(model, contexts, { hooks, batchSize: 1 });
    assert.equal(tf.memory().numTensors, before, arch);
    for (const h of hooks) {
      assert.equal(a.dims[h], model.config.dModel, `${arch} ${h}`);
      let maxDiff = 0;
      for (let i = 0; i < a.x[h].length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.x[h][i] - b.x[h][i]));
      assert.ok(maxDiff < 1e-3, `${arch} ${h}: batched vs single differ by ${maxDiff}`);
    }
    model.dispose();
  }
});

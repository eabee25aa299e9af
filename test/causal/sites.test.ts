import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { createModel } from '../../src/models';
import { modelPreset } from '../../src/models/config';
import { countingTokenizer, countingSequence, countingSequences, countingKnobs } from '../../src/data';
import { Rng } from '../../src/engine/rng';
import { hookSite, siteFor, stateSite } from '../../src/causal/das';
import { countingAccuracy } from '../../src/causal/task';
import { isGroundlabError } from '../../src/errors';

const tok = countingTokenizer({ task: 'multi', objectTypes: 3 });

test('GRU state site: a full swap at step t carries on (the run continues from the source state); hook_h does not', async () => {
  await initEngine({ log: false });
  const model = createModel({ arch: 'gru', vocabSize: tok.vocabSize, contextLength: 32, dModel: 16, nLayers: 1 } as never, 3);
  // Base and source differ before position 3 and agree after it.
  const rng = new Rng(1);
  const a = countingSequence({ task: 'multi', objectTypes: 3 }, 4, rng).tokens;
  const b = [...a];
  b[1] = b[1] === 'obj0' ? 'obj1' : 'obj0';
  b[2] = b[2] === 'obj0' ? 'obj2' : 'obj0';
  const base = tf.tensor2d([tok.encode(a)], [1, a.length], 'int32');
  const src = tf.tensor2d([tok.encode(b)], [1, b.length], 'int32');
  const pos = Int32Array.from([3]);
  const site = stateSite(model, 0);
  const s = site.read(src, pos);
  const swapped = site.run(base, pos, () => s);
  const want = model.forward(src);
  const plain = model.forward(base);
  const tail = (x: tf.Tensor3D) => Array.from(tf.slice(x, [0, 3, 0], [1, a.length - 3, tok.vocabSize]).dataSync());
  const diff = (x: number[], y: number[]) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
  assert.ok(diff(tail(swapped), tail(want)) < 1e-5, `state swap follows the source: ${diff(tail(swapped), tail(want))}`);
  assert.ok(diff(tail(plain), tail(want)) > 1e-3, 'the two runs do differ');
  // At hook_h of the last layer the swap changes position 3 only.
  const hs = hookSite(model, 'blocks.0.hook_h');
  const viaHook = hs.run(base, pos, () => hs.read(src, pos));
  const at = (x: tf.Tensor3D, t: number) => Array.from(tf.slice(x, [0, t, 0], [1, 1, tok.vocabSize]).dataSync());
  assert.ok(diff(at(viaHook, 3), at(want, 3)) < 1e-5);
  assert.ok(diff(at(viaHook, 5), at(plain, 5)) < 1e-5);
  assert.throws(() => siteFor(model, 'blocks.4.state'), (e) => isGroundlabError(e) && /layers 0..0/.test(e.message));
  assert.throws(() => siteFor(model, 'blocks.0.hook_nothing'), (e) => isGroundlabError(e) && e.code === 'NOT_FOUND');
  assert.throws(() => model.forward(base, { stateEdit: { layer: 2, fn: () => undefined } }), (e) => isGroundlabError(e) && /stateEdit.layer/.test(e.message));
  tf.dispose([base, src, s, swapped, want, plain, viaHook]);
  const mamba = createModel(modelPreset('mamba2', 'tiny', tok.vocabSize, { nLayers: 1 }), 0);
  assert.throws(() => stateSite(mamba, 0), (e) => isGroundlabError(e) && e.code === 'UNSUPPORTED');
  mamba.dispose();
  model.dispose();
});

test('LSTM state site: h | c swapped inside the recurrence carries on; h alone or c alone is only half the state', async () => {
  await initEngine({ log: false });
  const d = 12;
  const model = createModel({ arch: 'lstm', vocabSize: tok.vocabSize, contextLength: 32, dModel: d, nLayers: 1 } as never, 5);
  const deep = createModel({ arch: 'lstm', vocabSize: tok.vocabSize, contextLength: 32, dModel: d, nLayers: 2 } as never, 5);
  const rng = new Rng(2);
  const a = countingSequence({ task: 'multi', objectTypes: 3 }, 5, rng).tokens;
  const b = [...a];
  b[1] = b[1] === 'obj0' ? 'obj1' : 'obj0';
  b[3] = b[3] === 'obj0' ? 'obj2' : 'obj0';
  const base = tf.tensor2d([tok.encode(a)], [1, a.length], 'int32');
  const src = tf.tensor2d([tok.encode(b)], [1, b.length], 'int32');
  const pos = Int32Array.from([4]);
  const tail = (x: tf.Tensor3D) => Array.from(tf.slice(x, [0, 4, 0], [1, a.length - 4, tok.vocabSize]).dataSync());
  const diff = (x: number[], y: number[]) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
  const want = tail(model.forward(src));
  const plain = tail(model.forward(base));
  assert.ok(diff(plain, want) > 1e-3, 'the two runs do differ');
  // A no-op edit runs the stock recurrence: the same logits as the fused layer.
  assert.ok(diff(tail(model.forward(base, { stateEdit: { layer: 0, fn: () => undefined } })), plain) < 1e-5);
  const site0 = siteFor(model, 'blocks.0.state');
  assert.equal(site0.dim, 2 * d);
  const s0 = site0.read(src, pos);
  // The state read is h | c of the hooks at that position (also of a deeper layer).
  for (const [m, layer] of [[model, 0], [deep, 1]] as const) {
    const st = siteFor(m, `blocks.${layer}.state`).read(src, pos);
    const { logits, cache } = m.runWithCache(src, { names: [`blocks.${layer}.hook_h`, `blocks.${layer}.hook_c`] });
    const hc = [...tf.slice(cache.get(`blocks.${layer}.hook_h`), [0, 4, 0], [1, 1, d]).dataSync(), ...tf.slice(cache.get(`blocks.${layer}.hook_c`), [0, 4, 0], [1, 1, d]).dataSync()];
    assert.ok(diff(Array.from(st.dataSync()), hc) < 1e-6);
    logits.dispose();
    cache.dispose();
  }
  // The full state carries the whole difference (the tokens after pos agree): the run follows the source.
  const swapped = tail(site0.run(base, pos, () => s0));
  assert.ok(diff(swapped, want) < 1e-5, `state swap follows the source: ${diff(swapped, want)}`);
  // h alone or c alone: the run follows neither the base nor the source.
  for (const part of ['h', 'c']) {
    const site = siteFor(model, `blocks.0.state.${part}`);
    assert.equal(site.dim, d);
    const s = site.read(src, pos);
    const got = tail(site.run(base, pos, () => s));
    assert.ok(diff(got, want) > 1e-4 && diff(got, plain) > 1e-4, `${part} alone`);
  }
  // Two edits in one run: swapping at 2 and again at 4 equals swapping at 4 (the later one wins, the earlier one is carried to it).
  const site = siteFor(model, 'blocks.0.state');
  const s2 = site.read(src, Int32Array.from([2]));
  const s4 = site.read(src, pos);
  const twice = tail(site.runEdits(base, [{ pos: Int32Array.from([2]), edit: () => s2 }, { pos, edit: () => s4 }]));
  assert.ok(diff(twice, want) < 1e-5);
  // A position of -1 means no edit for that row.
  assert.ok(diff(tail(site.runEdits(base, [{ pos: Int32Array.from([-1]), edit: () => s4 }])), plain) < 1e-5);
  assert.throws(() => siteFor(model, 'blocks.0.state.x'), (e) => isGroundlabError(e) && e.code === 'NOT_FOUND');
  assert.throws(() => model.forward(base, { stateEdit: { layer: 2, fn: () => undefined } }), (e) => isGroundlabError(e) && /stateEdit.layer/.test(e.message));
  const gru = createModel({ arch: 'gru', vocabSize: tok.vocabSize, contextLength: 32, dModel: 8, nLayers: 1 } as never, 0);
  assert.throws(() => siteFor(gru, 'blocks.0.state.c'), (e) => isGroundlabError(e) && /one part/.test(e.message));
  gru.dispose();
  deep.dispose();
  model.dispose();
});

test('counting accuracy: an untrained model is wrong, per-count rows add up', async () => {
  await initEngine({ log: false });
  const model = createModel({ arch: 'gru', vocabSize: tok.vocabSize, contextLength: 32, dModel: 8, nLayers: 1 } as never, 0);
  const k = countingKnobs({ maxCount: 5 });
  const acc = await countingAccuracy(model, tok, countingSequences(k, [1, 2, 5], 3, 0));
  assert.equal(acc.n, 9);
  assert.deepEqual(acc.byCount.map((c) => [c.count, c.n]), [[1, 3], [2, 3], [5, 3]]);
  assert.ok(acc.accuracy < 0.5);
  model.dispose();
});

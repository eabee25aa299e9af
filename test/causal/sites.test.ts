import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { createModel } from '../../src/models';
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
  const lstm = createModel({ arch: 'lstm', vocabSize: tok.vocabSize, contextLength: 32, dModel: 8, nLayers: 1 } as never, 0);
  assert.throws(() => stateSite(lstm, 0), (e) => isGroundlabError(e) && e.code === 'UNSUPPORTED');
  lstm.dispose();
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

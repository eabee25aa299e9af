import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  BindingDataset,
  bindingCounterfactual,
  bindingCounterfactuals,
  bindingEvalScenes,
  bindingKnobs,
  bindingScene,
  bindingTokenizer,
  conjunctionTwin,
  cuePosition,
  generateBinding,
  isHeldOut,
  prepareData,
  promptTokens,
  sceneTokens,
  slotStart,
  type BindingScene,
} from '../../src/data';
import { Rng } from '../../src/engine/rng';
import { isGroundlabError } from '../../src/errors';

const scene: BindingScene = {
  objects: [
    { colour: 'red', shape: 'square', x: 2, y: 3 },
    { colour: 'blue', shape: 'circle', x: 0, y: 1 },
  ],
  query: 'colour',
  target: 0,
};

test('binding scene: the text format of each query, slots of 6 tokens', () => {
  assert.deepEqual(sceneTokens(scene), ['<bos>', 'red', 'square', 'at', '2', '3', ';', 'blue', 'circle', 'at', '0', '1', ';', 'colour', 'of', 'square', '?', 'red', '<eos>']);
  assert.deepEqual(sceneTokens({ ...scene, query: 'shape', target: 1 }).slice(13), ['shape', 'of', 'blue', '?', 'circle', '<eos>']);
  assert.deepEqual(sceneTokens({ ...scene, query: 'where', target: 1 }).slice(13), ['where', 'is', 'circle', '?', '0', '1', '<eos>']);
  assert.deepEqual(sceneTokens({ ...scene, query: 'count', target: -1 }).slice(13), ['how', 'many', 'objects', '?', '2', '<eos>']);
  const t = sceneTokens(scene);
  assert.equal(t[slotStart(1)], 'blue');
  assert.equal(t[cuePosition(2)], 'square');
  // Every token is in the fixed vocabulary (no <unk>).
  const k = bindingKnobs({});
  const tok = bindingTokenizer(k);
  const rng = new Rng(3);
  for (const q of ['colour', 'shape', 'where', 'count'] as const) {
    const s = bindingScene(k, 6, rng, { query: q });
    assert.ok(tok.encode(sceneTokens(s)).every((id) => id !== tok.unkId), q);
  }
});

test('binding corpus: distinct features, no held-out combination, twins with the same words and another answer', () => {
  const k = bindingKnobs({ sequences: 400 });
  assert.equal(k.heldOut.length, 8);
  assert.ok(k.heldOut.includes('red-square'));
  const scenes = generateBinding(k, 0);
  assert.equal(scenes.length, 400);
  let twins = 0;
  for (let i = 0; i < scenes.length; i++) {
    const s = scenes[i];
    assert.ok(s.objects.length >= 2 && s.objects.length <= 6);
    for (const f of ['colour', 'shape'] as const) assert.equal(new Set(s.objects.map((o) => o[f])).size, s.objects.length);
    assert.equal(new Set(s.objects.map((o) => `${o.x},${o.y}`)).size, s.objects.length);
    assert.ok(!s.objects.some((o) => isHeldOut(k, o)));
    const prev = scenes[i - 1];
    const same = (a: BindingScene, b: BindingScene) => a.objects.every((o, j) => o.colour === b.objects[j].colour && o.shape === b.objects[j].shape && o.x === b.objects[j].x && o.y === b.objects[j].y);
    if (prev && prev.target === s.target && prev.query === s.query && prev.objects.length === s.objects.length && !same(prev, s) && promptTokens(prev).slice().sort().join(' ') === promptTokens(s).slice().sort().join(' ')) {
      twins++;
      assert.deepEqual(promptTokens(prev).slice(-4), promptTokens(s).slice(-4), 'a twin has the same query');
      assert.notEqual(sceneTokens(prev).at(-2), sceneTokens(s).at(-2), 'and another answer');
    }
  }
  assert.ok(twins > 100 && twins < 200, `twins ${twins} (pTwin 0.5)`);
  // Deterministic.
  assert.deepEqual(generateBinding(k, 0), scenes);
  assert.notDeepEqual(generateBinding(k, 1), scenes);
  // Held-out evaluation scenes query exactly the held-out object.
  const ev = bindingEvalScenes(k, { counts: [2, 4, 6], perCount: 20, seed: 0, query: 'colour', heldOut: 'target' });
  assert.equal(ev.length, 60);
  for (const s of ev) {
    assert.ok(isHeldOut(k, s.objects[s.target]));
    assert.equal(s.objects.filter((o) => isHeldOut(k, o)).length, 1);
  }
  assert.equal(conjunctionTwin({ ...scene, query: 'count', target: -1 }, new Rng(0)), undefined);
});

test('binding counterfactuals: same length, the expected answer of each kind', () => {
  const k = bindingKnobs({});
  const rng = new Rng(5);
  const sw = bindingCounterfactual(k, 'swap-slots', scene, rng);
  assert.deepEqual(sw.source.objects.map((o) => o.shape), ['circle', 'square']);
  assert.equal(sw.source.target, 1);
  assert.equal(sw.sourceAnswer, 'red'); // the same object is asked about
  assert.equal(sw.expected, 'blue'); // the base object in the source's slot
  const cf = bindingCounterfactual(k, 'change-feature', scene, rng);
  assert.equal(cf.source.objects[1].colour, 'blue');
  assert.ok(!['red', 'blue'].includes(cf.expected));
  assert.equal(cf.source.objects[0].colour, cf.expected);
  const cue = bindingCounterfactual(k, 'change-cue', scene, rng);
  assert.deepEqual(sceneTokens(cue.source).slice(13, 17), ['colour', 'of', 'circle', '?']);
  assert.equal(cue.expected, 'blue');
  for (const kind of ['swap-slots', 'change-feature', 'change-cue'] as const) {
    const cfs = bindingCounterfactuals(k, { kind, counts: [2, 3, 5], count: 30, seed: 1 });
    for (const c of cfs) {
      assert.equal(promptTokens(c.base).length, promptTokens(c.source).length);
      assert.notEqual(c.expected, c.baseAnswer);
      assert.equal(c.baseAnswer, sceneTokens(c.base).at(-2));
      if (kind !== 'swap-slots') assert.equal(c.expected, c.sourceAnswer);
      else assert.equal(c.sourceAnswer, c.baseAnswer);
    }
  }
  assert.throws(() => bindingCounterfactual(k, 'swap-slots', { ...scene, query: 'where', target: 0 }, rng), (e) => isGroundlabError(e) && /colour or shape/.test(e.message));
});

test('binding dataset: loss only on the answer and <eos>; prepareData; clear errors', async () => {
  const k = bindingKnobs({ sequences: 50, maxObjects: 3 });
  const scenes = generateBinding(k, 0);
  const tok = bindingTokenizer(k);
  const ds = new BindingDataset(scenes, tok, 32);
  const s = scenes[0];
  const n = sceneTokens(s).length;
  assert.deepEqual(tok.decode(ds.row(0).slice(0, n)), sceneTokens(s));
  const m = ds.mask(0);
  for (let t = 0; t < 32; t++) assert.equal(m[t], t === n - 3 || t === n - 2 ? 1 : 0, `position ${t}`);
  const d = await prepareData({ kind: 'binding', knobs: { sequences: 50, maxObjects: 3 } }, { seqLen: 32 });
  assert.equal(d.train.size, 50);
  assert.deepEqual(Array.from(d.train.row(7)), Array.from(ds.row(7)));
  assert.throws(() => bindingKnobs({ queries: 'colour/size' }), (e) => isGroundlabError(e) && /queries/.test(e.message));
  assert.throws(() => bindingKnobs({ maxObjects: 9 }), (e) => isGroundlabError(e) && /at most 8/.test(e.message));
  assert.throws(() => bindingKnobs({ heldOut: 'red-blob' }), (e) => isGroundlabError(e) && /red-blob/.test(e.message));
  assert.throws(() => bindingKnobs({ size: 3 }), (e) => isGroundlabError(e) && /unknown binding knob/.test(e.message));
  assert.deepEqual(bindingKnobs({ heldOut: 'none' }).heldOut, []);
  // Several queries per row: each answer (and <eos>) is scored, the first query is the prompt.
  const kq = bindingKnobs({ sequences: 20, maxObjects: 3, queriesPerScene: 3, queries: 'colour/where' });
  const sq = generateBinding(kq, 0);
  for (const x of sq) {
    assert.equal(x.more?.length, 2);
    const toks = sceneTokens(x);
    const mq = new BindingDataset([x], bindingTokenizer(kq), 48).mask(0);
    const scored = toks.slice(1).filter((_, t) => mq[t] === 1);
    const answers = [x, ...x.more!.map((q) => ({ ...x, ...q }))].flatMap((q) => sceneTokens({ objects: q.objects, query: q.query, target: q.target }).slice(promptTokens(q).length, -1));
    assert.deepEqual(scored, [...answers, '<eos>']);
    assert.deepEqual(toks.slice(0, promptTokens(x).length), promptTokens(x));
  }
  assert.throws(() => bindingKnobs({ queriesPerScene: 0 }), (e) => isGroundlabError(e) && /queriesPerScene/.test(e.message));
  const big = bindingKnobs({ minObjects: 6, maxObjects: 6, sequences: 2 });
  assert.throws(() => new BindingDataset(generateBinding(big, 0), bindingTokenizer(big), 32), (e) => isGroundlabError(e) && /maxObjects to 4/.test(e.hint ?? ''));
});

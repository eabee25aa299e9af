import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  EntityDataset,
  entityCounterfactual,
  entityCounterfactuals,
  entityEvalScenes,
  entityKnobs,
  entityPromptTokens,
  entitySceneTokens,
  entityTokenizer,
  generateEntities,
  groupStart,
  mechanismPredictions,
  prepareData,
  type EntityScene,
} from '../../src/data';
import { Rng } from '../../src/engine/rng';
import { isGroundlabError } from '../../src/errors';

const scene: EntityScene = {
  groups: [
    { entity: 'ann', item: 'pie' },
    { entity: 'bob', item: 'tea' },
    { entity: 'cat', item: 'jam' },
  ],
  query: 'who',
  target: 1,
};

test('entity binding: the text format, groups of 4 tokens, both query kinds', () => {
  assert.deepEqual(entitySceneTokens(scene), ['<bos>', 'ann', 'loves', 'pie', '.', 'bob', 'loves', 'tea', '.', 'cat', 'loves', 'jam', '.', 'who', 'loves', 'tea', '?', 'bob', '<eos>']);
  assert.deepEqual(entitySceneTokens({ ...scene, query: 'what', target: 2 }).slice(13), ['cat', 'loves', 'what', '?', 'jam', '<eos>']);
  assert.equal(entitySceneTokens(scene)[groupStart(2)], 'cat');
  const k = entityKnobs({ queries: 'who/what' });
  const tok = entityTokenizer(k);
  const ctxs = generateEntities({ ...k, sequences: 200 }, 0);
  for (const s of ctxs) {
    assert.ok(s.groups.length >= 2 && s.groups.length <= 10);
    assert.equal(new Set(s.groups.map((g) => g.entity)).size, s.groups.length);
    assert.equal(new Set(s.groups.map((g) => g.item)).size, s.groups.length);
    assert.ok(tok.encode(entitySceneTokens(s)).every((id) => id !== tok.unkId));
  }
  assert.deepEqual(generateEntities({ ...k, sequences: 200 }, 0), ctxs, 'deterministic');
  assert.notDeepEqual(generateEntities({ ...k, sequences: 200 }, 1), ctxs);
  assert.ok(new Set(ctxs.map((s) => s.query)).size === 2);
  // Evaluation contexts: every slot of every count equally often.
  const ev = entityEvalScenes(k, { counts: [3, 5], perSlot: 4, seed: 0, query: 'who' });
  assert.equal(ev.length, (3 + 5) * 4);
  assert.equal(ev.filter((s) => s.groups.length === 5 && s.target === 4).length, 4);
});

test('entity counterfactuals: the three mechanisms predict three different base entities, none the base answer from 4 groups', () => {
  // Hand-made pair: base ann-pie bob-tea cat-jam (who loves tea? bob); source cat-tea ann-jam bob-pie, who loves jam? ann (slot 1).
  const source: EntityScene = { groups: [{ entity: 'cat', item: 'tea' }, { entity: 'ann', item: 'jam' }, { entity: 'bob', item: 'pie' }], query: 'who', target: 1 };
  assert.deepEqual(mechanismPredictions(scene, source), { positional: 'bob', lexical: 'cat', reflexive: 'ann' });
  const k = entityKnobs({ queries: 'who/what' });
  const pairs = entityCounterfactuals(k, { counts: [3, 4, 6, 10], count: 80, seed: 2 });
  for (const c of pairs) {
    assert.equal(entityPromptTokens(c.base).length, entityPromptTokens(c.source).length);
    assert.equal(c.source.query, c.base.query);
    assert.deepEqual([...c.base.groups.map((g) => g.entity)].sort(), [...c.source.groups.map((g) => g.entity)].sort());
    assert.equal(new Set([c.positional, c.lexical, c.reflexive]).size, 3);
    if (c.base.groups.length >= 4) assert.ok(![c.positional, c.lexical, c.reflexive].includes(c.baseAnswer));
    const side = c.base.query === 'who' ? 'entity' : 'item';
    assert.equal(c.positional, c.base.groups[c.sourcePosition][side]);
    assert.equal(c.reflexive, c.sourceAnswer);
    assert.deepEqual(c.candidates, c.base.groups.map((g) => g[side]));
  }
  assert.throws(() => entityCounterfactual({ ...scene, groups: scene.groups.slice(0, 2), target: 0 }, new Rng(0)), (e) => isGroundlabError(e) && /3 or more groups/.test(e.message));
});

test('entity dataset: loss only on the answers and <eos>; prepareData through the binding kind; clear errors', async () => {
  const k = entityKnobs({ sequences: 30, maxGroups: 4, queriesPerScene: 2 });
  const ctxs = generateEntities(k, 0);
  const tok = entityTokenizer(k);
  const ds = new EntityDataset(ctxs, tok, 32);
  const s = ctxs[0];
  const toks = entitySceneTokens(s);
  assert.deepEqual(tok.decode(ds.row(0).slice(0, toks.length)), toks);
  const scored = toks.slice(1).filter((_, t) => ds.mask(0)[t] === 1);
  assert.deepEqual(scored, [toks[entityPromptTokens(s).length], toks.at(-2), '<eos>']);
  const d = await prepareData({ kind: 'binding', knobs: { variant: 'entities', sequences: 30, maxGroups: 4, queriesPerScene: 2 } }, { seqLen: 32 });
  assert.equal(d.train.size, 30);
  assert.deepEqual(Array.from(d.train.row(3)), Array.from(ds.row(3)));
  assert.throws(() => entityKnobs({ maxGroups: 13 }), (e) => isGroundlabError(e) && /at most 12 groups/.test(e.message));
  assert.throws(() => entityKnobs({ colours: 3 }), (e) => isGroundlabError(e) && /unknown binding knob "colours" for variant entities/.test(e.message));
  assert.throws(() => entityKnobs({ queries: 'whom' }), (e) => isGroundlabError(e) && /queries/.test(e.message));
  assert.equal(entityKnobs({ queriesPerScene: 16 }).queriesPerScene, 16, 'many queries per row: the lookup is learned with 16 (docs/binding.md)');
  assert.throws(() => entityKnobs({ queriesPerScene: 33 }), (e) => isGroundlabError(e) && /queriesPerScene = 33/.test(e.message) && /1\.\.32/.test(e.message));
  await assert.rejects(prepareData({ kind: 'binding', knobs: { variant: 'pictures' } }, { seqLen: 32 }), (e) => isGroundlabError(e) && /variant/.test(e.message));
  const big = entityKnobs({ minGroups: 10, maxGroups: 10, sequences: 2 });
  assert.throws(() => new EntityDataset(generateEntities(big, 0), entityTokenizer(big), 32), (e) => isGroundlabError(e) && /maxGroups to 6/.test(e.hint ?? ''));
});

test('entity binding, queryMark none: the query ends on its cue, the answer follows it; counterfactuals keep the mark', () => {
  const k = entityKnobs({ queryMark: 'none', queriesPerScene: 2, maxGroups: 4, sequences: 50 });
  assert.deepEqual(entitySceneTokens({ ...scene, mark: 'none' }).slice(13), ['who', 'loves', 'tea', 'bob', '<eos>']);
  const ctxs = generateEntities(k, 0);
  // The same draws as with the `?`: only the mark differs.
  assert.deepEqual(
    ctxs.map(({ mark, ...s }) => s),
    generateEntities({ ...k, queryMark: 'end' }, 0),
  );
  for (const s of ctxs) {
    assert.equal(s.mark, 'none');
    const t = entitySceneTokens(s);
    assert.ok(!t.includes('?'));
    assert.equal(t.filter((w) => w === 'who').length, 2, 'both queries of the row');
  }
  const ev = entityEvalScenes(k, { counts: [3], perSlot: 2, seed: 0, query: 'who' });
  assert.ok(
    ev.every((s) => entityPromptTokens(s).at(-1) === s.groups[s.target].item),
    'the prompt ends on the cue item',
  );
  const [c] = entityCounterfactuals(k, { counts: [4], count: 1, seed: 0 });
  assert.equal(c.source.mark, 'none');
  assert.equal(entityPromptTokens(c.base).length, entityPromptTokens(c.source).length);
  assert.throws(
    () => entityKnobs({ queryMark: 'start' }),
    (e) => isGroundlabError(e) && /queryMark.*one of end, none/.test(e.message),
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { buildEvalSet, evalSequences, scoreSequences, checkTemplates, lengthBatches } from '../../src/eval';
import { HandTransformer, ListTokenizer } from '../analysis/handmodel';

const nouns = ['ball', 'cup', 'dog', 'book', 'hat'];
const frames = [
  { id: 'f1', tokens: ['<CHI>', 'asked', 'for', 'a', '{ENV}', '<CHI>', 'i', 'love', 'this'] },
  { id: 'f2', tokens: ['<MOT>', 'look', '{ENV}', '<MOT>', 'a'] },
  { id: 'f3', tokens: ['{ENV}', '<MOT>', 'here', 'is', 'the'] },
];

test('evaluation sets are deterministic and well formed', () => {
  const a = buildEvalSet(nouns, frames, { contextsPerNoun: 2, mismatchesPerContext: 3, seed: 7 });
  const b = buildEvalSet(nouns, frames, { contextsPerNoun: 2, mismatchesPerContext: 3, seed: 7 });
  assert.deepEqual(a, b);
  assert.equal(a.items.length, nouns.length * 2);
  for (const it of a.items) {
    assert.equal(it.mismatches.length, 3);
    assert.ok(!it.mismatches.includes(it.noun));
    assert.equal(new Set(it.mismatches).size, 3);
  }
  for (const n of nouns) assert.equal(new Set(a.items.filter((i) => i.noun === n).map((i) => i.frame)).size, 2);
  const c = buildEvalSet(nouns, frames, { contextsPerNoun: 2, mismatchesPerContext: 3, seed: 8 });
  assert.notDeepEqual(a.items, c.items);
  // all frames / all other nouns when there are fewer than asked
  const all = buildEvalSet(nouns, frames, { contextsPerNoun: 10, mismatchesPerContext: 10 });
  assert.equal(all.items.length, 15);
  assert.equal(all.items[0].mismatches.length, 4);
  assert.throws(() => buildEvalSet(nouns, [{ id: 'x', tokens: ['a', 'b'] }]), /0 \{ENV\} slots/);
  assert.throws(() => buildEvalSet(['ball'], frames), /at least 2 nouns/);
});

test('sequences fill the slot and put the target after the last token', () => {
  const set = buildEvalSet(['ball', 'cup'], [frames[1]], { contextsPerNoun: 1, mismatchesPerContext: 1 });
  const vocab = ['<pad>', '<unk>', '<MOT>', 'look', 'a', 'ball<ENV>', 'cup<ENV>', 'ball<LAN>', 'cup<LAN>'];
  const tok = new ListTokenizer(vocab);
  const seqs = evalSequences(set, tok);
  assert.equal(seqs.length, 4);
  assert.deepEqual(seqs[0].ids, tok.encode(['<MOT>', 'look', 'ball<ENV>', '<MOT>', 'a']));
  assert.equal(seqs[0].condition, 'match');
  assert.equal(seqs[0].envPos, 2);
  assert.equal(seqs[0].predPos, 4);
  assert.equal(seqs[0].target, tok.id('ball<LAN>'));
  assert.deepEqual(seqs[1].ids, tok.encode(['<MOT>', 'look', 'cup<ENV>', '<MOT>', 'a']));
  assert.equal(seqs[1].condition, 'mismatch');
  assert.equal(seqs[1].envNoun, 'cup');
  assert.equal(seqs[1].target, tok.id('ball<LAN>'));
  const withBos = evalSequences(set, tok, { prefix: ['<pad>'], matchOnly: true });
  assert.equal(withBos.length, 2);
  assert.equal(withBos[0].envPos, 3);
  assert.throws(() => evalSequences(buildEvalSet(['ball', 'sun'], [frames[1]]), tok), /"sun<ENV>" is not in the run's vocabulary/);
});

test('scoring: a model with zero unembedding gives log V; right padding changes nothing', async () => {
  await initEngine({ log: false });
  const vocab = ['<pad>', 'a', 'b', 'x<ENV>', 'y<ENV>', 'x<LAN>', 'y<LAN>'];
  const m = new HandTransformer({ arch: 'transformer', vocabSize: 7, contextLength: 8, dModel: 4, nLayers: 1, nHeads: 1, dHead: 2, envFeatureDim: 0, finalNorm: false });
  const seqs = [
    { item: 0, noun: 'x', context: 'c', condition: 'match' as const, envNoun: 'x', ids: [1, 3, 2], envPos: 1, predPos: 2, target: 5 },
    { item: 1, noun: 'y', context: 'c', condition: 'match' as const, envNoun: 'y', ids: [1, 2, 4, 2, 1], envPos: 2, predPos: 4, target: 6 },
  ];
  let s = await scoreSequences(m, seqs);
  for (const v of s) assert.ok(Math.abs(v - Math.log(7)) < 1e-5);
  // logits = embedding of the last token through W_U: P(target) depends only on the last token
  m.set('W_E', Array.from({ length: 7 }, (_, i) => [i === 2 ? 1 : 0, i === 1 ? 1 : 0, 0, 0]));
  const wu = Array.from({ length: 4 }, () => new Array(7).fill(0));
  wu[0][5] = 2; // token "b" raises x<LAN> by 2
  m.set('W_U', wu);
  s = await scoreSequences(m, seqs, { batchSize: 2 });
  const expect = -(2 - Math.log(Math.exp(2) + 6));
  assert.ok(Math.abs(s[0] - expect) < 1e-5, `${s[0]} vs ${expect}`);
  assert.ok(Math.abs(s[1] - Math.log(7)) < 1e-5);
  const before = tf.memory().numTensors;
  await scoreSequences(m, seqs, { batchSize: 1 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(lengthBatches(seqs, 1), [[1], [0]]);
  m.dispose();
});

test('template check flags "here is the" when training says "where is the" of absent things', () => {
  const training: string[][] = [];
  for (let i = 0; i < 10; i++) {
    training.push(['<MOT>', 'where', 'is', 'the', 'dog<LAN>', '<MOT>', 'look', 'ball<ENV>', 'a', 'ball<LAN>']);
    training.push(['cup<ENV>', '<MOT>', 'look', 'a', 'cup<LAN>']);
  }
  const res = checkTemplates(frames, training, { minCount: 5 });
  const byId = Object.fromEntries(res.map((r) => [r.frame, r]));
  assert.equal(byId.f3.flagged, true);
  assert.match(byId.f3.reason, /"is the" is followed in training by a noun absent from the environment 10 of 10 times/);
  assert.equal(byId.f3.suffixes.find((s) => s.n === 3)!.count, 0); // "here is the" itself never occurs
  // "<MOT> a" / "look {ENV} <MOT> a": the noun named is the one present -> grounded, not flagged
  assert.equal(byId.f2.flagged, false);
  assert.equal(byId.f1.flagged, false);
  // a frame that occurs verbatim is not held out
  const v = checkTemplates([{ id: 'v', tokens: ['<MOT>', 'look', '{ENV}', 'a'] }], training);
  assert.equal(v[0].verbatim, 10);
  assert.ok(v[0].flagged);
});

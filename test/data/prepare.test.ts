import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { prepareData } from '../../src/data';
import { isGroundlabError } from '../../src/errors';

test('prepareData(synthetic): tokenizer, rows, stats, nouns passing the filter, eval frames', async () => {
  const d = await prepareData({ kind: 'synthetic', setting: 'simple', seed: 3, knobs: { episodes: 3000, nouns: 20 } }, { seqLen: 32 });
  assert.equal(d.featureDim, 0);
  assert.equal(d.train.seqLen, 32);
  assert.ok(d.train.size > 100);
  assert.equal(d.stats.nouns.length, 20);
  assert.deepEqual(d.nouns, d.stats.passing);
  assert.ok(d.nouns.length >= 15, `${d.nouns.length} nouns pass`);
  assert.ok(d.evalFrames.length >= 2);
  for (const n of d.nouns) assert.notEqual(d.tokenizer.id(n + '<ENV>'), d.tokenizer.id(n + '<LAN>'));
  const again = await prepareData({ kind: 'synthetic', setting: 'simple', seed: 3, knobs: { episodes: 3000, nouns: 20 } }, { seqLen: 32 });
  assert.deepEqual(again.train.row(5), d.train.row(5));
  assert.deepEqual(again.tokenizer.toJSON(), d.tokenizer.toJSON());
});

test('prepareData(sharedVocab): one id for both forms', async () => {
  const d = await prepareData({ kind: 'synthetic', setting: 'simple', knobs: { episodes: 300 }, sharedVocab: true }, { seqLen: 32 });
  assert.equal(d.tokenizer.id('ball<ENV>'), d.tokenizer.id('ball<LAN>'));
});

test('bad specs are GroundlabErrors', async () => {
  await assert.rejects(prepareData({ kind: 'nope' as 'synthetic' }, { seqLen: 8 }), (e) => isGroundlabError(e) && e.code === 'BAD_CONFIG');
  await assert.rejects(prepareData({ kind: 'synthetic', setting: 'bogus' }, { seqLen: 8 }), (e) => isGroundlabError(e));
  await assert.rejects(prepareData({ kind: 'synthetic', knobs: { episodes: 10 } }, { seqLen: 0 }), (e) => isGroundlabError(e) && e.code === 'BAD_ARGUMENT');
});

test('vocabMinCount: rare words become <unk>, for any corpus kind', async () => {
  const spec = { kind: 'synthetic' as const, setting: 'realistic', knobs: { episodes: 200 } };
  const all = await prepareData(spec, { seqLen: 16 });
  const cut = await prepareData({ ...spec, knobs: { ...spec.knobs, vocabMinCount: 50 } }, { seqLen: 16 });
  assert.ok(cut.tokenizer.vocabSize < all.tokenizer.vocabSize);
  for (const n of all.stats.nouns) assert.notEqual(cut.tokenizer.id(n.noun + '<ENV>'), cut.tokenizer.id('<unk>'));
  await assert.rejects(prepareData({ ...spec, knobs: { vocabMinCount: 0 } }, { seqLen: 8 }), (e) => isGroundlabError(e) && /vocabMinCount/.test(e.message));
});

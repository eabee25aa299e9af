import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CountingDataset, countingKnobs, countingSequence, countingTokenizer, generateCounting, prepareData, trainCounts } from '../../src/data';
import { Rng } from '../../src/engine/rng';
import { isGroundlabError } from '../../src/errors';

test('counting sequence: format of the three tasks', () => {
  const rng = new Rng(1);
  const m = countingSequence({ task: 'multi', objectTypes: 3 }, 3, rng);
  assert.equal(m.tokens.length, 2 * 3 + 3);
  assert.equal(m.tokens[0], '<bos>');
  assert.ok(m.tokens.slice(1, 4).every((t) => /^obj[0-2]$/.test(t)));
  assert.deepEqual(m.tokens.slice(4), ['trig', 'resp', 'resp', 'resp', 'end']);
  assert.equal(m.trigger, 4);
  assert.deepEqual(countingSequence({ task: 'single', objectTypes: 3 }, 2, rng).tokens, ['<bos>', 'obj', 'obj', 'trig', 'resp', 'resp', 'end']);
  assert.deepEqual(countingSequence({ task: 'same', objectTypes: 3 }, 2, rng).tokens, ['<bos>', 'obj', 'obj', 'trig', 'obj', 'obj', 'end']);
});

test('counting corpus: held-out counts never trained, loss only on responses and end, fixed vocabulary', async () => {
  const k = countingKnobs({ maxCount: 6, heldOut: '2/5', sequences: 200 });
  assert.deepEqual(trainCounts(k), [1, 3, 4, 6]);
  const seqs = generateCounting(k, 0);
  assert.ok(seqs.every((s) => ![2, 5].includes(s.count)));
  assert.deepEqual(new Set(seqs.map((s) => s.count)), new Set([1, 3, 4, 6]));
  const tok = countingTokenizer(k);
  const ds = new CountingDataset(seqs, tok, 16);
  const s = seqs[0];
  const row = ds.row(0);
  const mask = ds.mask(0);
  assert.deepEqual(tok.decode(row.slice(0, s.tokens.length)), s.tokens);
  // Targets t+1: scored exactly from the first response through the end token.
  for (let t = 0; t < 16; t++) {
    const scored = t + 1 > s.trigger && t + 1 <= s.tokens.length - 1;
    assert.equal(mask[t], scored ? 1 : 0, `position ${t}`);
  }
  const d = await prepareData({ kind: 'counting', knobs: { maxCount: 6, heldOut: '2/5', sequences: 200 } }, { seqLen: 16 });
  assert.equal(d.train.size, 200);
  assert.deepEqual(d.tokenizer.toJSON(), tok.toJSON());
  assert.deepEqual(Array.from(d.train.row(3)), Array.from(ds.row(3)));
});

test('counting knobs and lengths: clear errors', () => {
  assert.throws(() => countingKnobs({ task: 'many' }), (e) => isGroundlabError(e) && /task/.test(e.message));
  assert.throws(() => countingKnobs({ colour: 1 }), (e) => isGroundlabError(e) && /unknown counting knob/.test(e.message));
  assert.throws(() => countingKnobs({ maxCount: 2, heldOut: '1/2' }), (e) => isGroundlabError(e) && /no training count/.test(e.message));
  const k = countingKnobs({ maxCount: 20, sequences: 5 });
  assert.throws(() => new CountingDataset([countingSequence(k, 20, new Rng(0))], countingTokenizer(k), 32), (e) => isGroundlabError(e) && /maxCount to 15/.test(e.hint ?? ''));
});

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { WordTokenizer, packEpisodes, episodeTokens, generateSynthetic, syntheticKnobs, syntheticNouns } from '../../src/data';

test('packing: rows of seqLen + 1 overlapping by one, episodes separated by <eos>, padded tail masked', () => {
  const knobs = syntheticKnobs('simple', { episodes: 50 });
  const eps = generateSynthetic(knobs, 0);
  const tok = WordTokenizer.fromEpisodes(eps, { nouns: syntheticNouns(knobs) });
  const seqLen = 16;
  const ds = packEpisodes(eps, tok, { seqLen });
  const stream = eps.flatMap((e) => [...episodeTokens(e), '<eos>']);
  assert.equal(ds.size, Math.ceil((stream.length - 1) / seqLen));
  assert.equal(ds.featureDim, 0);
  const rebuilt: string[] = [];
  for (let i = 0; i < ds.size; i++) {
    const r = ds.row(i);
    assert.equal(r.length, seqLen + 1);
    if (i > 0) assert.equal(r[0], ds.row(i - 1)[seqLen]);
    rebuilt.push(...tok.decode(i === 0 ? r : r.slice(1)));
    const m = ds.mask(i);
    assert.equal(m.length, seqLen);
    if (i < ds.size - 1) assert.ok(m.every((x) => x === 1));
  }
  const real = stream.length;
  assert.deepEqual(rebuilt.slice(0, real), stream);
  assert.ok(rebuilt.slice(real).every((t) => t === '<pad>'));
  const last = ds.mask(ds.size - 1);
  const padTargets = ds.size * seqLen + 1 - real;
  assert.equal(last.reduce((a, b) => a + b, 0), seqLen - padTargets);
  assert.throws(() => ds.row(ds.size));
});

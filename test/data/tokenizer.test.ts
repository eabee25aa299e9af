import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { WordTokenizer, envToken, lanToken, SPECIAL_TOKENS, type Episode } from '../../src/data';
import { isGroundlabError } from '../../src/errors';

const ep = (utter: string[], env: string[] = [], speaker = '<MOT>'): Episode => ({
  id: 'e',
  turns: [{ speaker, env: { situation: [], before: env, during: [], after: [] }, utterance: utter }],
});

const episodes = [
  ep(['look', 'at', 'the', 'ball<LAN>'], ['mother', 'holds', 'ball<ENV>']),
  ep(['a', 'dog<LAN>'], ['child', 'pets', 'dog<ENV>'], '<CHI>'),
  ep(['the', 'the', 'rare']),
];

test('distinct ids for w<ENV> and w<LAN>; specials first; speakers; unknown words', () => {
  const tok = WordTokenizer.fromEpisodes(episodes, { nouns: ['ball', 'dog', 'cat'] });
  assert.deepEqual(tok.decode([0, 1, 2, 3, 4]), [...SPECIAL_TOKENS]);
  const b = tok.nounIds('ball');
  assert.notEqual(b.env, b.lan);
  assert.notEqual(tok.id('ball<ENV>'), tok.id('dog<ENV>'));
  // a word of interest absent from the corpus still has both forms
  assert.notEqual(tok.id(envToken('cat')), tok.unkId);
  assert.notEqual(tok.id(lanToken('cat')), tok.unkId);
  assert.notEqual(tok.id('<CHI>'), tok.unkId);
  assert.notEqual(tok.id('<MOT>'), tok.unkId);
  assert.equal(tok.id('zebra'), tok.unkId);
  assert.deepEqual(tok.decode(tok.encode(['the', 'zebra', 'dog<LAN>'])), ['the', '<unk>', 'dog<LAN>']);
  // more frequent words get smaller ids
  assert.ok(tok.id('the') < tok.id('rare'));
  assert.equal(new Set(tok.decode(Array.from({ length: tok.vocabSize }, (_, i) => i))).size, tok.vocabSize);
  assert.throws(() => tok.token(tok.vocabSize), (e) => isGroundlabError(e));
});

test('minCount sends rare words to <unk>', () => {
  const tok = WordTokenizer.fromEpisodes(episodes, { nouns: ['ball'], minCount: 2 });
  assert.equal(tok.id('rare'), tok.unkId);
  assert.notEqual(tok.id('the'), tok.unkId);
});

test('shared-vocabulary mode: both forms are one token', () => {
  const tok = WordTokenizer.fromEpisodes(episodes, { nouns: ['ball', 'dog'], sharedVocab: true });
  const sep = WordTokenizer.fromEpisodes(episodes, { nouns: ['ball', 'dog'] });
  assert.equal(tok.id('ball<ENV>'), tok.id('ball<LAN>'));
  assert.equal(tok.id('ball'), tok.id('ball<LAN>'));
  assert.notEqual(tok.id('ball<ENV>'), tok.id('dog<ENV>'));
  assert.equal(tok.vocabSize, sep.vocabSize - 2);
  assert.equal(tok.token(tok.id('dog<ENV>')), 'dog');
});

test('save/load round-trips exactly through JSON text', () => {
  for (const sharedVocab of [false, true]) {
    const tok = WordTokenizer.fromEpisodes(episodes, { nouns: ['ball', 'dog', 'cat'], sharedVocab });
    const back = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    assert.equal(back.vocabSize, tok.vocabSize);
    assert.deepEqual(back.toJSON(), tok.toJSON());
    const toks = ['<MOT>', 'ball<ENV>', 'the', 'ball<LAN>', 'zebra', 'cat<LAN>'];
    assert.deepEqual(back.encode(toks), tok.encode(toks));
  }
});

test('fromJSON rejects what is not a tokenizer with BAD_FILE', () => {
  const good = WordTokenizer.fromEpisodes(episodes, { nouns: ['ball'] }).toJSON();
  for (const bad of [null, 3, {}, { ...good, type: 'bpe' }, { ...good, version: 9 }, { ...good, vocab: [1, 2] }, { ...good, vocab: good.vocab.slice(1) }, { ...good, nouns: ['dog'] }]) {
    assert.throws(() => WordTokenizer.fromJSON(bad), (e) => isGroundlabError(e) && e.code === 'BAD_FILE', JSON.stringify(bad).slice(0, 60));
  }
});

test('episodeTokens: speaker, situation, before, during, utterance, after, turn by turn', async () => {
  const { episodeTokens: et, envToken: e, lanToken: l, baseForm, isEnvToken, isLanToken } = await import('../../src/data');
  const ep: Episode = {
    id: 'x',
    turns: [
      { speaker: '<MOT>', env: { situation: ['s'], before: ['b'], during: ['d'], after: ['a'] }, utterance: ['u', l('ball')] },
      { speaker: '<CHI>', env: { situation: [], before: [], during: [e('ball')], after: [] }, utterance: [] },
    ],
  };
  assert.deepEqual(et(ep), ['<MOT>', 's', 'b', 'd', 'u', 'ball<LAN>', 'a', '<CHI>', 'ball<ENV>']);
  assert.equal(baseForm('ball<ENV>'), 'ball');
  assert.ok(isEnvToken('ball<ENV>') && !isEnvToken('<ENV>') && isLanToken('ball<LAN>') && !isLanToken('ball'));
});

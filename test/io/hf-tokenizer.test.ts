import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HfTokenizer, wordTokenizerHfJSON } from '../../src/io/hf-tokenizer';
import { SPECIAL_TOKENS, WordTokenizer, tokenizerFromJSON } from '../../src/data';
import { isGroundlabError } from '../../src/errors';

/** A byte-level BPE written by hand: its merges make " ball" one token and " bal" two. */
function handBpe(): Record<string, unknown> {
  return {
    version: '1.0',
    added_tokens: [{ id: 9, content: 'ball<ENV>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: { a: 0, b: 1, l: 2, Ġ: 3, Ġb: 4, Ġba: 5, ll: 6, Ġball: 7, x: 8 },
      merges: ['Ġ b', 'Ġb a', 'l l', 'Ġba ll'],
    },
  };
}

test('a byte-level BPE: a word is the one token it makes after a space; text encodes as in Python; words with no token are refused by name', () => {
  const tok = HfTokenizer.fromJSON({ type: 'hf', version: 1, tokenizer: handBpe(), config: {} });
  assert.equal(tok.model, 'BPE');
  assert.equal(tok.vocabSize, 10);
  assert.equal(tok.unkId, -1);
  assert.equal(tok.id('ball'), 7, '"ball" reads as " ball" = Ġball');
  assert.equal(tok.id('Ġball'), 7, 'the vocabulary string itself');
  assert.equal(tok.id('ball<ENV>'), 9, 'an added token');
  assert.equal(tok.id('bal'), -1, '" bal" is two tokens (Ġba, l)');
  assert.deepEqual(tok.encodeText('ball ball'), [1, 0, 6, 7], 'b a ll Ġball: the first word has no space before it');
  assert.deepEqual(tok.encodeText(' bal'), [5, 2]);
  assert.equal(tok.decodeText([7, 7]), ' ball ball');
  assert.deepEqual(tok.encode(['ball', 'ball<ENV>']), [7, 9]);
  assert.throws(
    () => tok.encode(['ball', 'bal', 'cup<LAN>', 'bal']),
    (e: unknown) =>
      isGroundlabError(e) &&
      e.code === 'UNSUPPORTED' &&
      /2 words .*not one token.*1 of them w<ENV>\/w<LAN>.*bal, cup<LAN>/.test(e.message) &&
      /add_tokens/.test(e.hint ?? ''),
  );
  assert.deepEqual(tok.missing(['ball', 'bal', 'x', 'xx']), ['bal', 'xx'], '"x" is a vocabulary string (" x" is two tokens)');
  for (const i of [3, 4, 5, 7, 9]) assert.equal(tok.id(tok.token(i)), i, `id(token(${i})): spaced pieces and added tokens`);
  assert.equal(tok.id(tok.token(1)), 4, '"b" (a piece inside a word) reads as the word " b" = Ġb');
  const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
  assert.ok(back instanceof HfTokenizer);
  assert.equal(back.id('ball'), 7);
  // the model may have more ids than the tokenizer (padded embeddings)
  const padded = HfTokenizer.fromJSON({ ...tok.toJSON(), vocabSize: 12 });
  assert.equal(padded.vocabSize, 12);
  assert.equal(padded.token(11), '<|unused_11|>');
  assert.throws(
    () => HfTokenizer.fromJSON({ ...tok.toJSON(), vocabSize: 5 }),
    (e: unknown) => isGroundlabError(e) && e.code === 'BAD_FILE',
  );
});

test("a groundlab word tokenizer as a Hugging Face WordLevel tokenizer.json gives groundlab's ids, <unk> for unknown words", () => {
  const word = new WordTokenizer({ nouns: ['ball', 'cup'], words: ['<MOT>', '<CHI>', 'look', 'at', 'the'] });
  const json = wordTokenizerHfJSON(word, SPECIAL_TOKENS);
  const tok = HfTokenizer.fromJSON({ type: 'hf', version: 1, tokenizer: json, config: {} });
  assert.equal(tok.vocabSize, word.vocabSize);
  const words = ['<MOT>', 'look', 'at', 'the', 'ball<ENV>', '<CHI>', 'ball<LAN>', 'cup<LAN>', '<eos>'];
  assert.deepEqual(tok.encodeText(words.join(' ')), word.encode(words));
  assert.deepEqual(tok.encode(words), word.encode(words));
  assert.equal(tok.decodeText(word.encode(words)), words.join(' '));
  assert.equal(tok.unkId, word.unkId);
  assert.equal(tok.id('zebra'), word.unkId);
  assert.deepEqual(tok.encodeText('look zebra'), [word.id('look'), word.unkId]);
  for (let i = 0; i < word.vocabSize; i++) assert.equal(tok.token(i), word.token(i));
  // shared vocabulary: both forms of a noun are aliases of its one id
  const shared = new WordTokenizer({ nouns: ['ball'], words: ['look'], sharedVocab: true });
  const sj = wordTokenizerHfJSON(shared, SPECIAL_TOKENS, { 'ball<ENV>': shared.id('ball<ENV>'), 'ball<LAN>': shared.id('ball<LAN>') });
  const st = HfTokenizer.fromJSON({ type: 'hf', version: 1, tokenizer: sj, config: {} });
  assert.deepEqual(st.encodeText('look ball<ENV> ball<LAN>'), shared.encode(['look', 'ball<ENV>', 'ball<LAN>']));
  assert.equal(tokenizerFromJSON(word.toJSON()).vocabSize, word.vocabSize, 'type "word" still restores the word tokenizer');
});

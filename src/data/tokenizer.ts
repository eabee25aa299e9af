/**
 * Word-level tokenizer. Every word of interest has two unrelated ids, `w<ENV>` and `w<LAN>`
 * (or, in shared-vocabulary mode, one id that both forms map to). Speaker tokens ("<MOT>"),
 * special tokens ("<pad>", "<unk>", "<bos>", "<eos>", "<patch>") and the corpus's other words
 * follow. Unknown words map to "<unk>". `toJSON()` / `WordTokenizer.fromJSON()` round-trip exactly.
 */
import { GroundlabError } from '../errors';
import type { Episode, Tokenizer } from './types';
import { HfTokenizer } from '../io/hf-tokenizer';
import { PAD, SPECIAL_TOKENS, UNK, baseForm, envToken, episodeTokens, isEnvToken, isLanToken, isSpeakerToken, lanToken } from './tokens';

export interface WordTokenizerOptions {
  /** Words of interest (base forms); both forms get ids even if the corpus lacks one. */
  nouns: readonly string[];
  /** Other tokens (speakers, words); specials are always first. */
  words?: readonly string[];
  /** `w<ENV>` and `w<LAN>` share one id (the paper's open check 3). */
  sharedVocab?: boolean;
}

export interface WordTokenizerJSON {
  type: 'word';
  version: 1;
  sharedVocab: boolean;
  nouns: string[];
  /** Token strings by id. In shared mode a word of interest appears once, as its base form. */
  vocab: string[];
}

export class WordTokenizer implements Tokenizer {
  readonly sharedVocab: boolean;
  readonly nouns: readonly string[];
  private readonly vocab: string[];
  private readonly ids = new Map<string, number>();
  readonly padId: number;
  readonly unkId: number;

  constructor(opts: WordTokenizerOptions) {
    this.sharedVocab = !!opts.sharedVocab;
    this.nouns = [...opts.nouns];
    const vocab: string[] = [...SPECIAL_TOKENS];
    const add = (t: string) => {
      if (!this.ids.has(t)) {
        this.ids.set(t, vocab.length);
        vocab.push(t);
      }
    };
    for (const t of SPECIAL_TOKENS) this.ids.set(t, SPECIAL_TOKENS.indexOf(t));
    const nounSet = new Set(this.nouns);
    for (const n of this.nouns) {
      if (!n || /\s/.test(n)) throw new GroundlabError('BAD_CONFIG', `bad word of interest ${JSON.stringify(n)}`);
      if (this.sharedVocab) add(n);
      else {
        add(envToken(n));
        add(lanToken(n));
      }
    }
    for (const w of opts.words ?? []) {
      if (isEnvToken(w) || isLanToken(w)) {
        const b = baseForm(w);
        if (nounSet.has(b)) continue;
      }
      if (this.sharedVocab && nounSet.has(w)) continue;
      add(w);
    }
    if (this.sharedVocab)
      for (const n of this.nouns) {
        const id = this.ids.get(n) as number;
        this.ids.set(envToken(n), id);
        this.ids.set(lanToken(n), id);
      }
    this.vocab = vocab;
    this.padId = this.ids.get(PAD) as number;
    this.unkId = this.ids.get(UNK) as number;
  }

  /**
   * Build from a corpus: specials, both forms of every word of interest, speaker tokens, then the
   * corpus's other tokens by descending frequency (ties alphabetical); tokens seen fewer than
   * `minCount` times are left out (they become "<unk>").
   */
  static fromEpisodes(
    episodes: readonly Episode[],
    opts: { nouns: readonly string[]; sharedVocab?: boolean; minCount?: number },
  ): WordTokenizer {
    const counts = new Map<string, number>();
    for (const ep of episodes) for (const t of episodeTokens(ep)) counts.set(t, (counts.get(t) ?? 0) + 1);
    const minCount = opts.minCount ?? 1;
    const speakers = [...counts.keys()].filter(isSpeakerToken).sort();
    const rest = [...counts.entries()]
      .filter(([t, c]) => c >= minCount && !isSpeakerToken(t))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([t]) => t);
    return new WordTokenizer({ nouns: opts.nouns, words: [...speakers, ...rest], sharedVocab: opts.sharedVocab });
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  id(token: string): number {
    return this.ids.get(token) ?? this.unkId;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  token(id: number): string {
    const t = this.vocab[id];
    if (t === undefined) throw new GroundlabError('BAD_ARGUMENT', `token id ${id} is outside the vocabulary (0..${this.vocab.length - 1})`);
    return t;
  }

  encode(tokens: readonly string[]): number[] {
    const out = new Array<number>(tokens.length);
    for (let i = 0; i < tokens.length; i++) out[i] = this.ids.get(tokens[i]) ?? this.unkId;
    return out;
  }

  decode(ids: ArrayLike<number>): string[] {
    const out = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = this.token(ids[i]);
    return out;
  }

  /** Ids of the ENV and LAN forms of a word of interest (equal in shared mode). */
  nounIds(noun: string): { env: number; lan: number } {
    if (!this.ids.has(envToken(noun))) throw new GroundlabError('NOT_FOUND', `"${noun}" is not a word of interest of this tokenizer`);
    return { env: this.id(envToken(noun)), lan: this.id(lanToken(noun)) };
  }

  toJSON(): WordTokenizerJSON {
    return { type: 'word', version: 1, sharedVocab: this.sharedVocab, nouns: [...this.nouns], vocab: [...this.vocab] };
  }

  static fromJSON(json: unknown): WordTokenizer {
    const j = json as Partial<WordTokenizerJSON> | null;
    const bad = (what: string) =>
      new GroundlabError('BAD_FILE', `not a groundlab word tokenizer: ${what}`, {
        hint: 'tokenizer.json should come from WordTokenizer.toJSON()',
      });
    if (!j || typeof j !== 'object' || j.type !== 'word') throw bad('missing type "word"');
    if (j.version !== 1) throw bad(`unsupported version ${String(j.version)}`);
    if (!Array.isArray(j.vocab) || !j.vocab.every((t) => typeof t === 'string')) throw bad('vocab must be a list of strings');
    if (!Array.isArray(j.nouns) || !j.nouns.every((t) => typeof t === 'string')) throw bad('nouns must be a list of strings');
    for (let i = 0; i < SPECIAL_TOKENS.length; i++) if (j.vocab[i] !== SPECIAL_TOKENS[i]) throw bad(`id ${i} must be ${SPECIAL_TOKENS[i]}`);
    const tok = new WordTokenizer({ nouns: j.nouns, words: j.vocab.slice(SPECIAL_TOKENS.length), sharedVocab: !!j.sharedVocab });
    if (tok.vocab.length !== j.vocab.length || tok.vocab.some((t, i) => t !== j.vocab![i]))
      throw bad('vocab order is inconsistent with its nouns');
    return tok;
  }
}

/**
 * Restore a run's tokenizer from its tokenizer.json: groundlab's word tokenizer (`type: "word"`)
 * or a Hugging Face tokenizer of an imported run (`type: "hf"`, src/io/hf-tokenizer.ts).
 */
export function tokenizerFromJSON(json: unknown): Tokenizer {
  const type = json && typeof json === 'object' ? (json as { type?: unknown }).type : undefined;
  if (type === 'hf') return HfTokenizer.fromJSON(json);
  return WordTokenizer.fromJSON(json);
}

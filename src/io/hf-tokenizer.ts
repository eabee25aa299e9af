/**
 * Hugging Face tokenizers (a `tokenizer.json`, as `transformers.AutoTokenizer` saves it) as
 * groundlab tokenizers, for imported runs (`groundlab import`, ./hf-import.ts): GPT-2's
 * byte-level BPE, word-level vocabularies (what `groundlab export` writes, see
 * `wordTokenizerHfJSON`) and the other models of the Hugging Face tokenizers library, run by
 * `@huggingface/tokenizers` (pure JavaScript; nothing is downloaded).
 *
 * groundlab's `Tokenizer` maps token strings to ids one to one. A groundlab token (a word of a
 * corpus, `ball<ENV>`, `<MOT>`) maps to the added token of the same string, else to the single
 * token the tokenizer makes of it after a space (` ball` -> `Ġball` in GPT-2's BPE: the word as
 * it reads in running text; in a word-level vocabulary, the word's entry), else to the vocabulary
 * entry of the same string (`Ġball` itself). A word that is none of these
 * has no id: `id` gives the unknown token's id when the tokenizer has one, else -1, and
 * `encode` refuses it with a GroundlabError naming the words and what to do. Free text goes
 * through `encodeText` / `decodeText`, exactly as in Python.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { GroundlabError } from '../errors';
import type { Tokenizer } from '../data/types';

/** What a run's tokenizer.json holds for a Hugging Face tokenizer. */
export interface HfTokenizerJSON {
  type: 'hf';
  version: 1;
  /** The Hugging Face `tokenizer.json`, verbatim. */
  tokenizer: Record<string, unknown>;
  /** Its `tokenizer_config.json` ({} when the folder had none). */
  config: Record<string, unknown>;
  /** The model's vocabulary size when it is larger than the tokenizer's (padded embeddings). */
  vocabSize?: number;
}

const HINT_MISSING =
  'groundlab evaluates grounding on its own corpus: every word of it (the w<ENV> and w<LAN> forms, speaker tokens, <pad>, <eos>, ...) must be one token of the model. ' +
  'Add the missing ones as added tokens and resize the embeddings before saving (Python: tokenizer.add_tokens([...]); model.resize_token_embeddings(len(tokenizer)); then fine-tune), ' +
  'or import a folder written by `groundlab export`';

export class HfTokenizer implements Tokenizer {
  private readonly hf: HfLibTokenizer;
  private readonly byId: string[];
  private readonly ids: Map<string, number>;
  private readonly words = new Map<string, number>();
  private readonly added = new Map<string, number>();
  /** The Hugging Face model type ("BPE", "WordLevel", "WordPiece", "Unigram"). */
  readonly model: string;
  /** Id of the unknown token, -1 when the tokenizer has none (GPT-2). */
  readonly unkId: number;

  private constructor(private readonly json: HfTokenizerJSON) {
    const bad = (m: string) =>
      new GroundlabError('BAD_FILE', `not a Hugging Face tokenizer.json: ${m}`, {
        hint: 'give the tokenizer.json that tokenizer.save_pretrained(dir) writes',
      });
    const tj = json.tokenizer as { model?: { type?: string; unk_token?: string | null } };
    if (!tj || typeof tj !== 'object' || !tj.model || typeof tj.model !== 'object') throw bad('it has no "model"');
    this.model = String(tj.model.type ?? 'unknown');
    try {
      // The library runs a WordLevel model as its "Legacy" model, which takes the unknown token from the config.
      const unk = this.model === 'WordLevel' && tj.model.unk_token ? { unk_token: tj.model.unk_token } : {};
      this.hf = new HfLibTokenizer(json.tokenizer, { ...unk, ...(json.config ?? {}) });
    } catch (e) {
      throw new GroundlabError('UNSUPPORTED', `the tokenizer (${this.model}) cannot be loaded: ${(e as Error).message}`, { cause: e });
    }
    this.ids = new Map(this.hf.get_vocab(true));
    for (const [id, t] of this.hf.get_added_tokens_decoder()) this.added.set(t.content, id);
    let n = 0;
    for (const id of this.ids.values()) n = Math.max(n, id + 1);
    if (json.vocabSize !== undefined) {
      if (!Number.isInteger(json.vocabSize) || json.vocabSize < n)
        throw bad(`vocabSize ${json.vocabSize} is smaller than the tokenizer's ${n} tokens`);
      n = json.vocabSize;
    }
    this.byId = new Array<string>(n).fill('');
    for (const [t, id] of this.ids) this.byId[id] = t;
    for (let i = 0; i < n; i++) if (!this.byId[i]) this.byId[i] = `<|unused_${i}|>`; // ids the model has and the tokenizer never gives
    const unk = tj.model.unk_token;
    this.unkId = typeof unk === 'string' && this.ids.has(unk) ? (this.ids.get(unk) as number) : -1;
  }

  /** Read `tokenizer.json` (and `tokenizer_config.json` when present) of a Hugging Face folder. */
  static fromDir(dir: string, opts: { vocabSize?: number } = {}): HfTokenizer {
    const file = path.join(dir, 'tokenizer.json');
    const read = (f: string) => {
      try {
        return JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT')
          throw new GroundlabError('NOT_FOUND', `${path.basename(f)} does not exist`, {
            file: f,
            hint: 'a Hugging Face model folder needs the tokenizer.json that tokenizer.save_pretrained(dir) writes (a "fast" tokenizer)',
          });
        throw new GroundlabError('BAD_FILE', `${path.basename(f)} is not valid JSON (${(e as Error).message})`, { file: f, cause: e });
      }
    };
    const cfgFile = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(cfgFile) ? read(cfgFile) : {};
    try {
      return new HfTokenizer({
        type: 'hf',
        version: 1,
        tokenizer: read(file),
        config,
        ...(opts.vocabSize ? { vocabSize: opts.vocabSize } : {}),
      });
    } catch (e) {
      if (e instanceof GroundlabError && !e.file) throw new GroundlabError(e.code, e.message, { file, hint: e.hint, cause: e });
      throw e;
    }
  }

  static fromJSON(json: unknown): HfTokenizer {
    const j = json as Partial<HfTokenizerJSON> | null;
    if (!j || j.type !== 'hf' || j.version !== 1 || !j.tokenizer)
      throw new GroundlabError('BAD_FILE', 'not a groundlab Hugging Face tokenizer (type "hf", version 1, with "tokenizer")');
    return new HfTokenizer({ type: 'hf', version: 1, tokenizer: j.tokenizer, config: j.config ?? {}, vocabSize: j.vocabSize });
  }

  get vocabSize(): number {
    return this.byId.length;
  }

  /** The id of a groundlab token (see the module comment); undefined when it has none. */
  lookup(token: string): number | undefined {
    const added = this.added.get(token);
    if (added !== undefined) return added;
    let w = this.words.get(token);
    if (w === undefined) {
      const ids = token && !/\s/.test(token) ? this.hf.encode(' ' + token, { add_special_tokens: false }).ids : [];
      // one token, and that token is the word (a BPE without an unknown token drops bytes it has no token for)
      w =
        ids.length === 1 && ids[0] !== this.unkId && this.hf.decode(ids).replace(/^ /, '') === token ? ids[0] : (this.ids.get(token) ?? -1);
      this.words.set(token, w);
    }
    return w < 0 ? undefined : w;
  }

  id(token: string): number {
    return this.lookup(token) ?? this.unkId;
  }

  token(id: number): string {
    const t = this.byId[id];
    if (t === undefined) throw new GroundlabError('BAD_ARGUMENT', `token id ${id} is outside the vocabulary (0..${this.byId.length - 1})`);
    return t;
  }

  /** Token strings to ids; words with no id of their own (see the module comment) are refused, all named at once. */
  encode(tokens: readonly string[]): number[] {
    const out = new Array<number>(tokens.length);
    let missing: Set<string> | undefined;
    for (let i = 0; i < tokens.length; i++) {
      const id = this.lookup(tokens[i]);
      if (id === undefined) (missing ??= new Set()).add(tokens[i]);
      out[i] = id ?? this.unkId;
    }
    if (missing && this.unkId < 0) throw this.missingError([...missing]);
    return out;
  }

  decode(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (i) => this.token(i));
  }

  /** Text -> ids, as the Python tokenizer gives them (`tokenizer(text).input_ids`). */
  encodeText(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  decodeText(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.hf.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** Of `words`, those that are not one token of this tokenizer. */
  missing(words: Iterable<string>): string[] {
    const out: string[] = [];
    for (const w of words) if (this.lookup(w) === undefined) out.push(w);
    return out;
  }

  /** The error for words with no id: which ones, and what to do. */
  missingError(missing: string[]): GroundlabError {
    const env = missing.filter((w) => w.endsWith('<ENV>') || w.endsWith('<LAN>')).length;
    return new GroundlabError(
      'UNSUPPORTED',
      `${missing.length} word${missing.length > 1 ? 's' : ''} of groundlab's corpus ${missing.length > 1 ? 'are' : 'is'} not one token of this ${this.model} tokenizer` +
        `${env ? ` (${env} of them w<ENV>/w<LAN> forms)` : ''}: ${missing.slice(0, 12).join(', ')}${missing.length > 12 ? ', ...' : ''}`,
      { hint: HINT_MISSING },
    );
  }

  toJSON(): HfTokenizerJSON {
    return { ...this.json };
  }
}

/**
 * A Hugging Face `tokenizer.json` for a groundlab word-level tokenizer: a WordLevel model with
 * the same ids, `<unk>` as its unknown token, a whitespace-split pre-tokenizer, and groundlab's
 * special tokens as special added tokens; decoding joins the words with spaces. `AutoTokenizer.from_pretrained(dir)` loads it and
 * tokenizes groundlab text (words joined by spaces) to the ids groundlab gives (tested).
 */
export function wordTokenizerHfJSON(
  tok: Tokenizer,
  specials: readonly string[],
  /** More strings for existing ids (a shared-vocabulary tokenizer's w<ENV> and w<LAN> forms). */
  aliases: Record<string, number> = {},
): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (let i = 0; i < tok.vocabSize; i++) vocab[tok.token(i)] = i;
  for (const [t, id] of Object.entries(aliases)) vocab[t] ??= id;
  const added = specials
    .filter((s) => vocab[s] !== undefined && tok.token(vocab[s]) === s)
    .map((s) => ({ id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null, // tokens joined by spaces
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/**
 * Contracts between the data stage (corpora, tokenizer, datasets) and the stages after it
 * (training, evaluation sets, analyses). Implementations live beside this file.
 */

/** The ENV events of one turn, in the order the paper's preprocessing gives them. */
export interface TurnEnv {
  situation: string[]; // %sit, and events with no scope
  before: string[]; // <bef>
  during: string[]; // <dur>
  after: string[]; // <aft>
}

/** One turn: speaker token (e.g. "<MOT>"), ENV events (words of interest carry the "<ENV>" form), utterance words. */
export interface Turn {
  speaker: string;
  env: TurnEnv;
  utterance: string[];
  /** Continuous ENV features (image-grounded dialogue): one vector per patch, in order. */
  patches?: Float32Array[];
  /** Words of interest that the continuous ENV input (`patches`) shows, for statistics only. */
  envNouns?: string[];
  /** Where it came from, for error messages and provenance. */
  source?: { file: string; line: number };
}

export interface Episode {
  id: string;
  turns: Turn[];
}

/** How to get a corpus: saved in a run's config.json, so a run can rebuild its exact data. */
export interface CorpusSpec {
  /** synthetic child-directed speech | caption-grounded dialogue | image-grounded dialogue | CHILDES CHAT folder | a saved corpus file | counting tasks (src/data/counting.ts) | scene binding (src/data/binding.ts) */
  kind: 'synthetic' | 'caption' | 'image' | 'chat' | 'file' | 'counting' | 'binding';
  /** A named setting of the generator's knobs (e.g. "simple", "realistic"). */
  setting?: string;
  /** Knob overrides on top of the setting. */
  knobs?: Record<string, number | boolean | string>;
  seed?: number;
  /** Folder or file for kind "chat" / "file". */
  path?: string;
  /** The paper's open check 3: `w<ENV>` and `w<LAN>` share one token id. */
  sharedVocab?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  /** Token string -> id; unknown words map to the unknown token. */
  id(token: string): number;
  token(id: number): string;
  encode(tokens: readonly string[]): number[];
  decode(ids: ArrayLike<number>): string[];
  /** Plain JSON that `Tokenizer.fromJSON` (in ./tokenizer) restores exactly. */
  toJSON(): unknown;
}

/**
 * Fixed-length training rows. Row i holds seqLen + 1 token ids: inputs are [0, seqLen), targets
 * are [1, seqLen + 1). `mask(i)` (optional) marks target positions that count in the loss.
 */
export interface TokenDataset {
  readonly size: number;
  readonly seqLen: number;
  /** Feature dimension of continuous ENV inputs; 0 when there are none. */
  readonly featureDim: number;
  row(i: number): Int32Array;
  /** [seqLen] 1 where target position t of row i counts in the loss, 0 for padding (absent: all count). */
  mask?(i: number): Uint8Array;
  /** [seqLen * featureDim] features for the input positions of row i (image-grounded data only). */
  features?(i: number): Float32Array;
}

/**
 * A held-out context template (never emitted in training). `tokens` holds exactly one "{ENV}" slot,
 * filled with `v<ENV>` (match) or `u<ENV>` (mismatch); the token to predict right after the last
 * token is `v<LAN>`. For image-grounded data the slot stands for the patches of a scene that shows
 * the object (see `imageEvalContext` in ./image).
 */
export interface EvalFrame {
  id: string;
  tokens: string[];
}

/** Counts of one word of interest in a corpus. */
export interface NounStats {
  noun: string;
  /** Occurrences of `noun<ENV>`. */
  env: number;
  /** Occurrences of `noun<LAN>`. */
  lan: number;
  /** `noun<LAN>` occurrences with a `noun<ENV>` among the `window` tokens before them. */
  cooc: number;
  /** `noun<ENV>` occurrences followed by a `noun<LAN>` within `window` tokens. */
  envFollowed: number;
  /** Whether the noun passes the filter (env >= minCount and lan >= minCount). */
  pass: boolean;
}

export interface CorpusStats {
  episodes: number;
  turns: number;
  /** Tokens of all episodes, speaker tokens included, separators not. */
  tokens: number;
  /** Distinct token strings in the corpus. */
  types: number;
  vocabSize: number;
  /** Co-occurrence window in tokens. */
  window: number;
  /** The filter's threshold (the paper: 100 of each form). */
  minCount: number;
  nouns: NounStats[];
  /** Words of interest that pass the filter, in word-list order. */
  passing: string[];
}

export interface PreparedData {
  spec: CorpusSpec;
  tokenizer: Tokenizer;
  episodes: Episode[];
  train: TokenDataset;
  stats: CorpusStats;
  /** Words of interest that pass the filter, base form e.g. "ball". */
  nouns: string[];
  evalFrames: EvalFrame[];
  /** Feature dimension of continuous ENV inputs (image-grounded data); 0 otherwise. */
  featureDim: number;
}

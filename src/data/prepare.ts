/**
 * `prepareData(spec, { seqLen })`: the one entry point from a CorpusSpec (as saved in a run's
 * config.json) to everything training and analysis need: episodes, tokenizer, packed training rows,
 * statistics, the words of interest that pass the filter, and held-out evaluation frames.
 */
import { GroundlabError } from '../errors';
import type { CorpusSpec, Episode, EvalFrame, PreparedData, TokenDataset, Tokenizer } from './types';
import { CountingDataset, countingEpisodes, countingKnobs, countingTokenizer, generateCounting } from './counting';
import { WordTokenizer } from './tokenizer';
import { loadBindingCorpus } from './binding';
import { packEpisodes } from './dataset';
import { episodeTokens } from './tokens';
import { corpusStats } from './stats';
import { SYNTHETIC_EVAL_FRAMES, generateSynthetic, syntheticKnobs, syntheticNouns } from './synthetic';
import { CAPTION_EVAL_FRAMES, dialogKnobs, generateCaptionDialog } from './caption';
import { nounSubset } from './words';
import { IMAGE_EVAL_FRAMES, generateImageDialog, imageKnobs } from './image';
import { readCorpusFile } from './corpusfile';
import { chatEvalFrames, chatOptionsFromKnobs, readChatTree } from './chat';
import { cdiNouns } from './words';

export interface PrepareOptions {
  seqLen: number;
  /** Co-occurrence window for the statistics (default 64 tokens). */
  window?: number;
  /** The filter's threshold (default 100, the paper's). */
  minCount?: number;
  /** Tokenize with this tokenizer instead of the corpus's own (an imported run's, see src/io/hf-import.ts). */
  tokenizer?: Tokenizer;
}

/** What a corpus source yields before tokenization. */
export interface LoadedCorpus {
  episodes: Episode[];
  /** Words of interest (base forms) this corpus is about. */
  nouns: string[];
  evalFrames: EvalFrame[];
  featureDim: number;
  /** A fixed tokenizer (default: built from the episodes). */
  tokenizer?: Tokenizer;
  /** Training rows of this corpus (default: the episodes packed into a stream). */
  dataset?: (tokenizer: Tokenizer, seqLen: number) => TokenDataset;
}

type Loader = (spec: CorpusSpec) => Promise<LoadedCorpus>;
const loaders: Partial<Record<CorpusSpec['kind'], Loader>> = {};

/** Register the loader of a corpus kind (each corpus module registers its own). */
export function registerCorpusKind(kind: CorpusSpec['kind'], loader: Loader): void {
  loaders[kind] = loader;
}

registerCorpusKind('synthetic', async (spec) => {
  const knobs = syntheticKnobs(spec.setting ?? 'simple', spec.knobs ?? {});
  return {
    episodes: generateSynthetic(knobs, spec.seed ?? 0),
    nouns: syntheticNouns(knobs),
    evalFrames: SYNTHETIC_EVAL_FRAMES.map((f) => ({ ...f, tokens: [...f.tokens] })),
    featureDim: 0,
  };
});

registerCorpusKind('caption', async (spec) => {
  const knobs = dialogKnobs(spec.setting ?? 'simple', spec.knobs ?? {});
  return {
    episodes: generateCaptionDialog(knobs, spec.seed ?? 0),
    nouns: nounSubset(knobs.nouns).map((n) => n.noun),
    evalFrames: CAPTION_EVAL_FRAMES.map((f) => ({ ...f, tokens: [...f.tokens] })),
    featureDim: 0,
  };
});

registerCorpusKind('image', async (spec) => {
  const knobs = imageKnobs(spec.setting ?? 'simple', spec.knobs ?? {});
  return {
    episodes: generateImageDialog(knobs, spec.seed ?? 0),
    nouns: nounSubset(knobs.nouns).map((n) => n.noun),
    evalFrames: IMAGE_EVAL_FRAMES.map((f) => ({ ...f, tokens: [...f.tokens] })),
    featureDim: knobs.featureDim,
  };
});

registerCorpusKind('file', async (spec) => {
  if (!spec.path)
    throw new GroundlabError('BAD_CONFIG', 'a "file" corpus needs a path (a .jsonl file written by `groundlab corpus generate|import`)');
  const f = readCorpusFile(spec.path);
  return { episodes: f.episodes, nouns: f.nouns, evalFrames: f.evalFrames, featureDim: f.featureDim };
});

registerCorpusKind('chat', async (spec) => {
  if (!spec.path) throw new GroundlabError('BAD_CONFIG', 'a "chat" corpus needs a path (a folder of .cha files)');
  const opts = chatOptionsFromKnobs(spec.knobs);
  const nouns = cdiNouns().map((n) => n.noun);
  const c = readChatTree(spec.path, {
    ...opts,
    nouns,
    warn: (w) => process.stderr.write(`warning: ${w.file}${w.line ? ':' + w.line : ''}: ${w.message}\n`),
  });
  return { episodes: c.episodes, nouns, evalFrames: chatEvalFrames(c.episodes), featureDim: 0 };
});

registerCorpusKind('counting', async (spec) => {
  const k = countingKnobs(spec.knobs);
  const seqs = generateCounting(k, spec.seed ?? 0);
  return {
    episodes: countingEpisodes(seqs),
    nouns: [],
    evalFrames: [],
    featureDim: 0,
    tokenizer: countingTokenizer(k),
    dataset: (tok, seqLen) => new CountingDataset(seqs, tok, seqLen),
  };
});

// Its variants (symbolic scenes, text entity groups) are read in src/data/binding.ts.
registerCorpusKind('binding', async (spec) => loadBindingCorpus(spec));

/** Load the episodes of a spec (no tokenizer, no packing). */
export async function loadCorpus(spec: CorpusSpec): Promise<LoadedCorpus> {
  if (!spec || typeof spec !== 'object')
    throw new GroundlabError('BAD_CONFIG', 'corpus spec must be an object like { kind: "synthetic", setting: "simple" }');
  const loader = loaders[spec.kind];
  if (!loader)
    throw new GroundlabError('BAD_CONFIG', `unknown corpus kind "${String(spec.kind)}"`, {
      hint: `kinds: ${Object.keys(loaders).join(', ')}`,
    });
  return loader(splitKnobs(spec).loaderSpec);
}

/**
 * Knobs every corpus kind accepts, handled here rather than by the generator or reader:
 * `vocabMinCount` (words seen fewer times become "<unk>"; default 1, useful for CHAT corpora
 * with large vocabularies).
 */
export const COMMON_KNOBS = ['vocabMinCount'] as const;

function splitKnobs(spec: CorpusSpec): { loaderSpec: CorpusSpec; vocabMinCount: number } {
  const knobs = { ...(spec.knobs ?? {}) };
  let vocabMinCount = 1;
  if (knobs.vocabMinCount !== undefined) {
    const v = Number(knobs.vocabMinCount);
    if (!Number.isInteger(v) || v < 1)
      throw new GroundlabError('BAD_CONFIG', `knob vocabMinCount = ${JSON.stringify(knobs.vocabMinCount)}: expected a whole number >= 1`);
    vocabMinCount = v;
    delete knobs.vocabMinCount;
  }
  return { loaderSpec: { ...spec, knobs }, vocabMinCount };
}

export async function prepareData(spec: CorpusSpec, opts: PrepareOptions): Promise<PreparedData> {
  const c = await loadCorpus(spec);
  return prepareLoaded(spec, c, opts);
}

/** Tokenize, pack and describe an already loaded corpus. */
export function prepareLoaded(spec: CorpusSpec, c: LoadedCorpus, opts: PrepareOptions): PreparedData {
  if (!c.episodes.length)
    throw new GroundlabError('BAD_CONFIG', 'the corpus has no episodes', { hint: 'check the corpus source (an empty folder or file?)' });
  const tokenizer =
    opts.tokenizer ??
    c.tokenizer ??
    WordTokenizer.fromEpisodes(c.episodes, { nouns: c.nouns, sharedVocab: !!spec.sharedVocab, minCount: splitKnobs(spec).vocabMinCount });
  // a given tokenizer sees every distinct word at once, so one that cannot read some names them all
  if (opts.tokenizer) opts.tokenizer.encode([...new Set(c.episodes.flatMap(episodeTokens))]);
  const stats = corpusStats(c.episodes, { nouns: c.nouns, window: opts.window, minCount: opts.minCount, vocabSize: tokenizer.vocabSize });
  const train = c.dataset
    ? c.dataset(tokenizer, opts.seqLen)
    : packEpisodes(c.episodes, tokenizer, { seqLen: opts.seqLen, featureDim: c.featureDim });
  return { spec, tokenizer, episodes: c.episodes, train, stats, nouns: stats.passing, evalFrames: c.evalFrames, featureDim: c.featureDim };
}

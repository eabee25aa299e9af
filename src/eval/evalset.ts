/**
 * Evaluation sets: match and mismatch contexts built from the data stage's held-out EvalFrames.
 * For every noun v: N contexts (frames) and, per context, M mismatched nouns u != v. The choice is
 * deterministic in (seed, noun, frame), so the same run always gets the same set; the set is saved
 * in the run (`eval/evalset.json`) and reused.
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { Tokenizer } from '../data/types';
import { imageContexts, imageSceneFrames, DEFAULT_SCENES_PER_FRAME } from './image';

/** The slot of a frame that takes `v<ENV>` or `u<ENV>`. */
export const ENV_SLOT = '{ENV}';

/** A held-out context template (same shape as the data stage's EvalFrame). */
export interface Frame {
  id: string;
  tokens: string[];
}

export interface EvalSetOptions {
  /** N: contexts per noun (frames drawn without replacement; all frames when there are fewer). */
  contextsPerNoun: number;
  /** M: mismatched nouns per context (all other nouns when there are fewer). */
  mismatchesPerContext: number;
  seed: number;
  /** Token form of the ENV / LAN variants of a noun. */
  envForm: (noun: string) => string;
  lanForm: (noun: string) => string;
}

export const DEFAULT_EVALSET_OPTIONS: EvalSetOptions = {
  contextsPerNoun: 4,
  mismatchesPerContext: 5,
  seed: 0,
  envForm: (n) => n + '<ENV>',
  lanForm: (n) => n + '<LAN>',
};

export interface EvalItem {
  noun: string;
  frame: string;
  mismatches: string[];
}

/** A built evaluation set (plain JSON). */
export interface EvalSet {
  version: 1;
  seed: number;
  contextsPerNoun: number;
  mismatchesPerContext: number;
  nouns: string[];
  frames: Frame[];
  items: EvalItem[];
  /**
   * Image-grounded runs only: the {ENV} slot of every frame stands for a whole image (grid x grid
   * "<patch>" tokens with continuous features) drawn by the data stage's `imageEvalContext` with
   * these knobs and the set's seed. The frames are scene variants of the corpus's image frames
   * (ids "<frame>#scene<k>", see ./image), so a context is a frame with one scene layout; match and
   * mismatch images of a context share that layout and differ only in the object shown.
   */
  image?: ImageEvalSpec;
}

/** How the images of an image-grounded evaluation set are drawn (saved in the set). */
export interface ImageEvalSpec {
  /** Patches per side of the image. */
  grid: number;
  /** Feature dimension of the frozen patch encoder (= the model's envFeatureDim). */
  featureDim: number;
  /** Lighting noise of the patches (as in training). */
  lightingNoise: number;
  /** Scene layouts drawn per corpus frame. */
  scenesPerFrame: number;
}

function checkFrame(f: Frame): void {
  const slots = f.tokens.filter((t) => t === ENV_SLOT).length;
  if (slots !== 1)
    throw new GroundlabError('BAD_CONFIG', `evaluation frame "${f.id}" has ${slots} ${ENV_SLOT} slots (needs exactly one)`, {
      hint: 'every evaluation frame holds one {ENV} slot that takes v<ENV> or u<ENV>',
    });
}

/** Build the evaluation set deterministically. */
export function buildEvalSet(nouns: readonly string[], frames: readonly Frame[], opts: Partial<EvalSetOptions> = {}): EvalSet {
  const o = { ...DEFAULT_EVALSET_OPTIONS, ...opts };
  if (nouns.length < 2)
    throw new GroundlabError('BAD_ARGUMENT', `an evaluation set needs at least 2 nouns, got ${nouns.length}`, {
      hint: 'mismatch contexts need a second noun',
    });
  if (frames.length === 0)
    throw new GroundlabError('BAD_ARGUMENT', 'no evaluation frames', {
      hint: 'the corpus gives held-out frames (PreparedData.evalFrames)',
    });
  if (!(o.contextsPerNoun >= 1) || !(o.mismatchesPerContext >= 1))
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `contextsPerNoun and mismatchesPerContext must be >= 1 (got ${o.contextsPerNoun}, ${o.mismatchesPerContext})`,
    );
  frames.forEach(checkFrame);
  const root = new Rng(`evalset/${o.seed}`);
  const items: EvalItem[] = [];
  for (const noun of nouns) {
    const rn = root.fork(noun);
    const fr = frames.length <= o.contextsPerNoun ? frames.slice() : rn.shuffle(frames.slice()).slice(0, o.contextsPerNoun);
    for (const f of fr) {
      const others = nouns.filter((u) => u !== noun);
      const mm = others.length <= o.mismatchesPerContext ? others : rn.fork(f.id).shuffle(others.slice()).slice(0, o.mismatchesPerContext);
      items.push({ noun, frame: f.id, mismatches: mm });
    }
  }
  return {
    version: 1,
    seed: o.seed,
    contextsPerNoun: o.contextsPerNoun,
    mismatchesPerContext: o.mismatchesPerContext,
    nouns: nouns.slice(),
    frames: frames.map((f) => ({ id: f.id, tokens: f.tokens.slice() })),
    items,
  };
}

/**
 * The evaluation set of an image-grounded run: the corpus's image frames, each in
 * `image.scenesPerFrame` scene layouts (default 4), drawn like any set (N contexts per noun out of
 * frames x scenes, M mismatched nouns per context); `evalSequences` then fills every slot with the
 * context's scene showing the match or mismatch noun, with its patch features.
 */
export function buildImageEvalSet(
  nouns: readonly string[],
  frames: readonly Frame[],
  image: Omit<ImageEvalSpec, 'scenesPerFrame'> & { scenesPerFrame?: number },
  opts: Partial<EvalSetOptions> = {},
): EvalSet {
  for (const [k, v] of [
    ['grid', image.grid],
    ['featureDim', image.featureDim],
  ] as const)
    if (!Number.isInteger(v) || v < 1)
      throw new GroundlabError('BAD_ARGUMENT', `image evaluation set: ${k} must be a whole number >= 1 (got ${v})`);
  if (!(image.lightingNoise >= 0))
    throw new GroundlabError('BAD_ARGUMENT', `image evaluation set: lightingNoise must be >= 0 (got ${image.lightingNoise})`);
  const spec: ImageEvalSpec = {
    grid: image.grid,
    featureDim: image.featureDim,
    lightingNoise: image.lightingNoise,
    scenesPerFrame: image.scenesPerFrame ?? DEFAULT_SCENES_PER_FRAME,
  };
  const set = buildEvalSet(nouns, imageSceneFrames(frames, spec.scenesPerFrame), opts);
  return { ...set, image: spec };
}

/** One sequence to score: the context (input ids) and the token to predict after its last position. */
export interface EvalSequence {
  /** Index of the EvalItem it comes from. */
  item: number;
  noun: string;
  context: string;
  condition: 'match' | 'mismatch';
  envNoun: string;
  ids: number[];
  /** Position of the ENV token in `ids` (image sets: of the first "<patch>" token). */
  envPos: number;
  /** Number of ENV positions from `envPos` on (image sets: the patches of the image); absent = 1. */
  envLength?: number;
  /**
   * Continuous ENV features (image sets only): [ids.length * featureDim], row t = the features of
   * position t (zeros where a position has none). Scoring passes them to the model as envFeatures.
   */
  features?: Float32Array;
  /** Position whose output predicts the target (= ids.length - 1). */
  predPos: number;
  target: number;
}

/**
 * The sequences of a set: for every item, the match context then its mismatches.
 * `prefix` tokens (e.g. a begin-of-sequence token) go before every frame.
 */
export function evalSequences(
  set: EvalSet,
  tokenizer: Tokenizer,
  opts: { prefix?: string[]; envForm?: (n: string) => string; lanForm?: (n: string) => string; matchOnly?: boolean } = {},
): EvalSequence[] {
  const envForm = opts.envForm ?? DEFAULT_EVALSET_OPTIONS.envForm;
  const lanForm = opts.lanForm ?? DEFAULT_EVALSET_OPTIONS.lanForm;
  const prefix = opts.prefix ?? [];
  const frames = new Map(set.frames.map((f) => [f.id, f]));
  const out: EvalSequence[] = [];
  const unknown = tokenizer.id('<unk>');
  const images = set.image ? imageContexts(set.image, set.seed) : undefined;
  const idOf = (t: string) => {
    const id = tokenizer.id(t);
    if (id === unknown && t !== '<unk>')
      throw new GroundlabError('BAD_CONFIG', `the evaluation token "${t}" is not in the run's vocabulary`, {
        hint: 'evaluation frames and nouns must use words the tokenizer knows; rebuild the evaluation set from this run',
      });
    return id;
  };
  set.items.forEach((it, i) => {
    const f = frames.get(it.frame);
    if (!f) throw new GroundlabError('BAD_FILE', `evaluation item refers to an unknown frame "${it.frame}"`);
    const slot = prefix.length + f.tokens.indexOf(ENV_SLOT);
    const target = idOf(lanForm(it.noun));
    const conds: Array<['match' | 'mismatch', string]> = [
      ['match', it.noun],
      ...(opts.matchOnly ? [] : it.mismatches.map((u) => ['mismatch', u] as ['mismatch', string])),
    ];
    for (const [condition, envNoun] of conds) {
      if (images) {
        const c = images(f, envNoun); // the frame's scene showing envNoun: "<patch>" tokens at the slot
        const ids = [...prefix, ...c.tokens].map(idOf);
        const F = set.image!.featureDim;
        const features = new Float32Array(ids.length * F); // [T * F]
        c.features.forEach((v, j) => features.set(v, (slot + j) * F));
        out.push({
          item: i,
          noun: it.noun,
          context: it.frame,
          condition,
          envNoun,
          ids,
          envPos: slot,
          envLength: c.features.length,
          features,
          predPos: ids.length - 1,
          target,
        });
        continue;
      }
      const toks = [...prefix, ...f.tokens];
      toks[slot] = envForm(envNoun);
      const ids = toks.map(idOf);
      out.push({ item: i, noun: it.noun, context: it.frame, condition, envNoun, ids, envPos: slot, predPos: ids.length - 1, target });
    }
  });
  return out;
}

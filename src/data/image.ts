/**
 * Image-grounded dialogue: a stand-in for the paper's third setting (images encoded by a frozen
 * DINOv2, patch embeddings projected into the model). Scenes are drawn procedurally as small RGB
 * images: a background whose colour depends on the place, and each shown object as a block of
 * patches filled with that noun's fixed texture, tinted by the object's colour. A fixed, frozen
 * random encoder (a two-layer MLP whose weights come from a constant seed, never trained) turns each
 * patch into a feature vector. The environment of an episode is the grid of patches ("<patch>"
 * tokens whose features arrive through TokenDataset.features); the dialogue is the same
 * question/answer rounds as the caption-grounded corpus. The model needs a learned projection from
 * features to its residual stream. This is a stand-in with the shape of the real setting, not a
 * model of natural images.
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { Episode, EvalFrame, Turn } from './types';
import { PATCH } from './tokens';
import {
  DIALOG_COLORS,
  DIALOG_LIMITS,
  DIALOG_SETTINGS,
  WeightedNouns,
  dialogRounds,
  drawDialogScene,
  type DialogKnobs,
  type DialogScene,
} from './caption';
import { resolveKnobs, type KnobLimit } from './knobs';
import { nounSubset, type CdiNoun } from './words';

export interface ImageKnobs extends DialogKnobs {
  /** Patches per side of the image (grid x grid patches, one "<patch>" token each). */
  grid: number;
  /** Feature dimension of the frozen encoder's output. */
  featureDim: number;
  /** Lighting noise: standard deviation of each patch's brightness gain and offset (pixels are 0..1). */
  lightingNoise: number;
}

/** Pixels per patch side; each patch is PATCH_PX x PATCH_PX RGB. */
export const PATCH_PX = 4;
const HIDDEN = 32;

export const IMAGE_SETTINGS: Record<'simple' | 'realistic', ImageKnobs> = {
  simple: { ...DIALOG_SETTINGS.simple, episodes: 5000, grid: 4, featureDim: 32, lightingNoise: 0.05 },
  realistic: { ...DIALOG_SETTINGS.realistic, episodes: 8000, grid: 4, featureDim: 32, lightingNoise: 0.15 },
};

const IMAGE_LIMITS: Record<keyof ImageKnobs, KnobLimit> = {
  ...DIALOG_LIMITS,
  grid: [2, 16, true],
  featureDim: [1, 1024, true],
  lightingNoise: [0, 1, false],
};

export function imageKnobs(setting: string = 'simple', overrides: Record<string, unknown> = {}): ImageKnobs {
  return resolveKnobs('image', IMAGE_SETTINGS, IMAGE_LIMITS, setting, overrides);
}

const RGB: Record<string, [number, number, number]> = {
  red: [0.9, 0.1, 0.1],
  blue: [0.1, 0.2, 0.9],
  green: [0.1, 0.7, 0.2],
  yellow: [0.95, 0.9, 0.1],
  white: [0.95, 0.95, 0.95],
  black: [0.05, 0.05, 0.05],
  brown: [0.5, 0.3, 0.1],
  pink: [0.95, 0.5, 0.7],
  // colours of the binding scenes' image variant (src/data/imagebinding.ts)
  purple: [0.55, 0.15, 0.7],
  orange: [0.95, 0.55, 0.1],
  grey: [0.5, 0.5, 0.5],
};
const PLACE_RGB: Record<string, [number, number, number]> = {
  grass: [0.3, 0.6, 0.3],
  floor: [0.6, 0.5, 0.4],
  street: [0.4, 0.4, 0.45],
  beach: [0.9, 0.8, 0.6],
  kitchen: [0.8, 0.8, 0.75],
  yard: [0.45, 0.55, 0.35],
};
for (const c of DIALOG_COLORS) if (!RGB[c]) throw new GroundlabError('INTERNAL', `no RGB for colour ${c}`);

const textureCache = new Map<string, Float32Array>();
/** A noun's fixed texture: [PATCH_PX * PATCH_PX * 3] in [0, 1], the same in every corpus. */
export function nounTexture(noun: string): Float32Array {
  let t = textureCache.get(noun);
  if (!t) {
    const r = new Rng(`groundlab-texture/${noun}`);
    t = new Float32Array(PATCH_PX * PATCH_PX * 3);
    for (let i = 0; i < t.length; i++) t[i] = r.next();
    textureCache.set(noun, t);
  }
  return t;
}

/**
 * The frozen encoder: fixed random weights (a constant seed, never trained),
 * features = tanh(W2 relu(W1 (x - 0.5) + b1)). Pixels of a patch under lighting noise are
 * x' = gain * x + offset, so the first layer is computed once per clean patch and reused:
 * W1 (x' - 0.5) = gain * (W1 x) + (offset - 0.5) * (W1 1).
 */
export class FrozenPatchEncoder {
  readonly inDim = PATCH_PX * PATCH_PX * 3;
  private w1: Float32Array; // [HIDDEN, inDim]
  private b1: Float32Array; // [HIDDEN]
  private w1sum: Float32Array; // [HIDDEN] W1 1
  private w2: Float32Array; // [featureDim, HIDDEN]
  private cache = new Map<string, Float32Array>();
  constructor(readonly featureDim: number) {
    const r = new Rng('groundlab-frozen-encoder');
    this.w1 = r.normalArray(HIDDEN * this.inDim, Math.sqrt(2 / this.inDim));
    this.b1 = r.normalArray(HIDDEN, 0.1);
    this.w1sum = new Float32Array(HIDDEN);
    for (let j = 0; j < HIDDEN; j++) for (let i = 0; i < this.inDim; i++) this.w1sum[j] += this.w1[j * this.inDim + i];
    this.w2 = new Rng(`groundlab-frozen-encoder/out/${featureDim}`).normalArray(featureDim * HIDDEN, Math.sqrt(1 / HIDDEN));
  }
  /** W1 x for clean pixels x [inDim] -> [HIDDEN]. */
  private first(px: Float32Array): Float32Array {
    const h = new Float32Array(HIDDEN);
    for (let j = 0; j < HIDDEN; j++) {
      let s = 0;
      const o = j * this.inDim;
      for (let i = 0; i < this.inDim; i++) s += this.w1[o + i] * px[i];
      h[j] = s;
    }
    return h;
  }
  /** Features [featureDim] of a patch: clean pixels `px` [inDim] (memoised under `key`) under lighting gain and offset. */
  encode(px: Float32Array, gain = 1, offset = 0, key?: string): Float32Array {
    let h0 = key ? this.cache.get(key) : undefined;
    if (!h0) {
      h0 = this.first(px);
      if (key) this.cache.set(key, h0);
    }
    const h = new Float32Array(HIDDEN);
    for (let j = 0; j < HIDDEN; j++) {
      const v = this.b1[j] + gain * h0[j] + (offset - 0.5) * this.w1sum[j];
      h[j] = v > 0 ? v : 0;
    }
    const out = new Float32Array(this.featureDim);
    for (let k = 0; k < this.featureDim; k++) {
      let s = 0;
      const o = k * HIDDEN;
      for (let j = 0; j < HIDDEN; j++) s += this.w2[o + j] * h[j];
      out[k] = Math.tanh(s);
    }
    return out;
  }
}

const cellCache = new Map<string, Float32Array>();
/** Clean pixels [PATCH_PX * PATCH_PX * 3] of a cell: "bg:<place>" or "obj:<noun>:<colour>". */
export function cellPixels(key: string): Float32Array {
  let a = cellCache.get(key);
  if (a) return a;
  const n = PATCH_PX * PATCH_PX * 3;
  a = new Float32Array(n);
  const parts = key.split(':');
  if (parts[0] === 'bg') {
    const bg = PLACE_RGB[parts[1]] ?? [0.5, 0.5, 0.5];
    for (let i = 0; i < n; i++) a[i] = bg[i % 3];
  } else {
    const tex = nounTexture(parts[1]);
    const tint = RGB[parts[2]] ?? [0.5, 0.5, 0.5];
    for (let i = 0; i < n; i++) a[i] = 0.65 * tex[i] + 0.35 * tint[i % 3];
  }
  cellCache.set(key, a);
  return a;
}

/**
 * Lay a scene out on the grid: one cell key per patch, row-major. Big objects take 2 x 2 cells
 * where there is room, small ones 1; an object that finds no free cell at all is not visible (its
 * `shown` becomes false).
 */
export function layoutScene(scene: DialogScene, grid: number, rng: Rng): string[] {
  const cells = new Array<string>(grid * grid).fill(`bg:${scene.place}`);
  const free = new Set(cells.map((_, i) => i));
  for (const o of scene.objects) {
    if (!o.shown) continue;
    const start = rng.int(grid * grid);
    let placed: number[] | undefined;
    // a big object takes 2 x 2 cells where there is room, else one cell like a small one
    for (let side = o.size === 'big' && grid >= 3 ? 2 : 1; side >= 1 && !placed; side--) {
      for (let s = 0; s < grid * grid && !placed; s++) {
        const c = (start + s) % (grid * grid);
        const r0 = Math.floor(c / grid);
        const c0 = c % grid;
        if (r0 + side > grid || c0 + side > grid) continue;
        const block: number[] = [];
        for (let dr = 0; dr < side; dr++) for (let dc = 0; dc < side; dc++) block.push((r0 + dr) * grid + c0 + dc);
        if (block.every((x) => free.has(x))) placed = block;
      }
    }
    if (!placed) {
      o.shown = false;
      continue;
    }
    for (const c of placed) {
      free.delete(c);
      cells[c] = `obj:${o.noun.noun}:${o.color}`;
    }
  }
  return cells;
}

/** Patch features of a scene: [grid * grid] vectors of [featureDim], with per-patch lighting noise. */
export function encodeScene(
  scene: DialogScene,
  k: Pick<ImageKnobs, 'grid' | 'lightingNoise'>,
  rng: Rng,
  enc: FrozenPatchEncoder,
): Float32Array[] {
  return layoutScene(scene, k.grid, rng).map((key) => {
    const gain = 1 + k.lightingNoise * rng.normal();
    const offset = k.lightingNoise * rng.normal();
    return enc.encode(cellPixels(key), gain, offset, key);
  });
}

function imageTurn(scene: DialogScene, k: ImageKnobs, rng: Rng, enc: FrozenPatchEncoder): Turn {
  const patches = encodeScene(scene, k, rng, enc);
  const envNouns = scene.objects.filter((o) => o.shown).map((o) => o.noun.noun);
  return {
    speaker: '<IMG>',
    env: { situation: patches.map(() => PATCH), before: [], during: [], after: [] },
    utterance: [],
    patches,
    envNouns,
  };
}

const encoders = new Map<number, FrozenPatchEncoder>();
/** The frozen encoder for a feature dimension (one per process; its weights never change). */
export function encoderFor(featureDim: number): FrozenPatchEncoder {
  let e = encoders.get(featureDim);
  if (!e) encoders.set(featureDim, (e = new FrozenPatchEncoder(featureDim)));
  return e;
}

/** Generate the image-grounded dialogue corpus. Byte-identical for the same knobs and seed. */
export function generateImageDialog(k: ImageKnobs, seed: number): Episode[] {
  const sampler = new WeightedNouns(nounSubset(k.nouns), k.zipf, 'image');
  const enc = encoderFor(k.featureDim);
  const root = new Rng(`image/${seed}`);
  const out: Episode[] = [];
  for (let i = 0; i < k.episodes; i++) {
    const rng = root.fork(i);
    const scene = drawDialogScene(rng, k, sampler);
    out.push({ id: `img-${seed}-${i}`, turns: [imageTurn(scene, k, rng, enc), ...dialogRounds(rng, k, scene, sampler)] });
  }
  return out;
}

/**
 * Held-out frames for image data: the "{ENV}" slot stands for a whole image (grid x grid
 * "<patch>" tokens); `imageEvalContext` fills it with a scene that shows the given noun.
 */
export const IMAGE_EVAL_FRAMES: EvalFrame[] = [
  { id: 'image/what-is-in-the-photo', tokens: ['<IMG>', '{ENV}', '<Q>', 'what', 'is', 'in', 'the', 'photo', '<A>', 'a'] },
  { id: 'image/can-you-see-the', tokens: ['<IMG>', '{ENV}', '<Q>', 'can', 'you', 'see', 'the'] },
];

/**
 * The tokens and patch features of an image evaluation context: the frame's "{ENV}" slot becomes
 * grid x grid "<patch>" tokens showing one object, `noun` (match: v, mismatch: u), with a seeded
 * colour, size and place. features: one [featureDim] vector per "<patch>" token, in order.
 */
export function imageEvalContext(
  frame: EvalFrame,
  noun: string,
  knobs: ImageKnobs,
  seed = 0,
): { tokens: string[]; features: Float32Array[] } {
  const slot = frame.tokens.indexOf('{ENV}');
  if (slot < 0) throw new GroundlabError('BAD_ARGUMENT', `frame ${frame.id} has no {ENV} slot`);
  const rng = new Rng(`image-eval/${seed}/${frame.id}`); // the same scene layout for every noun at a given seed
  const cdi: CdiNoun = { noun, category: '', kind: 'toy' };
  const scene: DialogScene = {
    place: rng.pick(Object.keys(PLACE_RGB)),
    objects: [{ noun: cdi, color: rng.pick(DIALOG_COLORS), size: rng.pick(['big', 'small']), shown: true, named: true }],
  };
  const features = encodeScene(scene, knobs, rng, encoderFor(knobs.featureDim));
  const tokens = [...frame.tokens.slice(0, slot), ...features.map(() => PATCH), ...frame.tokens.slice(slot + 1)];
  return { tokens, features };
}

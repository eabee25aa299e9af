/**
 * Scene binding, image variant (issue 20 item 1a): the scenes of src/data/binding.ts shown as a
 * grid of patches through the image corpus's frozen patch encoder (src/data/image.ts: `cellPixels`
 * draws an object's cell as its shape's fixed texture tinted by its colour, `encoderFor` the frozen
 * random encoder), which the model reads through its learned projection (envFeatureDim), then the
 * same text query:
 *
 *   <bos> <patch> x grid^2 colour of square ? red <eos>
 *
 * Knob `layout`: `raster` (patch i is cell i, row-major: where an object is, is its sequence
 * position) or `shuffled` (the patches in a random order per scene, each patch's features followed
 * by its coordinates, one-hot x then one-hot y: where an object is must be read from the features).
 * Seed 002's open question: does a position-ID mechanism come from the position embeddings or from
 * the data? Empty cells show the background. Knobs: those of the scenes (colours, shapes, grid,
 * objects, queries with `where` as the pointing task, heldOut, sequences, pTwin, queriesPerScene)
 * and `featureDim` (32), `lightingNoise` (0.05), `layout`.
 *
 * A scene's rendering (lighting noise, the shuffled order) is drawn from a key: training scenes use
 * their index, evaluation scenes a seed; a counterfactual pair renders its base and source from
 * the same key, so they differ only where their objects differ.
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { CorpusSpec, TokenDataset, Tokenizer } from './types';
import { BOS, PATCH } from './tokens';
import { answerLossMask, SequenceRowsDataset } from './dataset';
import { cellPixels, encoderFor } from './image';
import { bindingKnobs, bindingLayout, generateBinding, type BindingCounterfactual, type BindingKnobs, type BindingScene } from './binding';

export type PatchLayout = 'raster' | 'shuffled';
export const PATCH_LAYOUTS: readonly PatchLayout[] = ['raster', 'shuffled'];

export interface ImageBindingKnobs extends BindingKnobs {
  layout: PatchLayout;
  /** Output dimension of the frozen encoder (the coordinates come on top in the shuffled layout). */
  featureDim: number;
  /** Standard deviation of each patch's brightness gain and offset. */
  lightingNoise: number;
}

const IMAGE_ONLY = ['variant', 'layout', 'featureDim', 'lightingNoise'];

/** Knobs of the image variant: its own (layout, featureDim, lightingNoise), the rest as for scenes. */
export function imageBindingKnobs(knobs: CorpusSpec['knobs'] = {}): ImageBindingKnobs {
  const rest = Object.fromEntries(Object.entries(knobs ?? {}).filter(([key]) => !IMAGE_ONLY.includes(key)));
  const k = bindingKnobs(rest);
  const bad = (key: string, want: string) =>
    new GroundlabError('BAD_CONFIG', `binding knob ${key} = ${JSON.stringify(knobs?.[key])} (variant image): expected ${want}`);
  const layout = String(knobs?.layout ?? 'raster');
  if (!PATCH_LAYOUTS.includes(layout as PatchLayout)) throw bad('layout', PATCH_LAYOUTS.join(' or '));
  const featureDim = Number(knobs?.featureDim ?? 32);
  if (!Number.isInteger(featureDim) || featureDim < 1 || featureDim > 1024) throw bad('featureDim', 'a whole number in 1..1024');
  const lightingNoise = Number(knobs?.lightingNoise ?? 0.05);
  if (!(lightingNoise >= 0 && lightingNoise <= 1)) throw bad('lightingNoise', 'a number in [0, 1]');
  if (k.grid < 2) throw bad('grid', 'at least 2 for images');
  return { ...k, layout: layout as PatchLayout, featureDim, lightingNoise };
}

/** Features per patch: the encoder's, plus one-hot x and y in the shuffled layout. */
export const patchFeatureDim = (k: Pick<ImageBindingKnobs, 'featureDim' | 'layout' | 'grid'>): number =>
  k.featureDim + (k.layout === 'shuffled' ? 2 * k.grid : 0);

export interface RenderedScene {
  /** Cell shown at each patch (row-major cell index y * grid + x), in sequence order. */
  cells: number[];
  /** [grid^2 * patchFeatureDim] the patches' features in sequence order. */
  features: Float32Array;
}

/** Draw a scene as patches (lighting and order from `key`). */
export function renderBindingScene(k: ImageBindingKnobs, s: BindingScene, key: string | number): RenderedScene {
  const rng = new Rng(`image-binding/${key}`);
  const g = k.grid;
  const nCells = g * g;
  const at = new Map<number, string>();
  for (const o of s.objects) {
    if (!(o.x >= 0 && o.x < g && o.y >= 0 && o.y < g))
      throw new GroundlabError('BAD_ARGUMENT', `an object at ${o.x} ${o.y} lies outside the ${g} x ${g} grid`);
    at.set(o.y * g + o.x, `obj:${o.shape}:${o.colour}`);
  }
  const cells = Array.from({ length: nCells }, (_, i) => i);
  const order = k.layout === 'shuffled' ? rng.shuffle(cells) : cells;
  const F = patchFeatureDim(k);
  const enc = encoderFor(k.featureDim);
  const features = new Float32Array(nCells * F);
  order.forEach((cell, i) => {
    const pix = at.get(cell) ?? 'bg:floor';
    const gain = 1 + k.lightingNoise * rng.normal();
    const offset = k.lightingNoise * rng.normal();
    features.set(enc.encode(cellPixels(pix), gain, offset, pix), i * F);
    if (k.layout === 'shuffled') {
      features[i * F + k.featureDim + (cell % g)] = 1;
      features[i * F + k.featureDim + g + Math.floor(cell / g)] = 1;
    }
  });
  return { cells: order, features };
}

/** `<bos>`, grid^2 patches: the tokens before the query. */
export const imageSceneTokens = (k: Pick<ImageBindingKnobs, 'grid'>): string[] => [BOS, ...new Array<string>(k.grid * k.grid).fill(PATCH)];

/** The patch position (sequence index) of each object of a rendered scene. */
export function objectPatchPositions(k: Pick<ImageBindingKnobs, 'grid'>, s: BindingScene, r: RenderedScene): number[] {
  return s.objects.map((o) => 1 + r.cells.indexOf(o.y * k.grid + o.x));
}

/** [len * F] features over a sequence of `len` tokens whose patches start at position 1. */
export function sequenceFeatures(k: ImageBindingKnobs, r: RenderedScene, len: number): Float32Array {
  const F = patchFeatureDim(k);
  const out = new Float32Array(len * F);
  out.set(r.features.subarray(0, Math.min(r.features.length, (len - 1) * F)), F);
  return out;
}

/** One row per scene with its patch features; the loss counts the answers and `<eos>` (rows and masks as every task corpus's). */
export class ImageBindingDataset implements TokenDataset {
  readonly size: number;
  readonly featureDim: number;
  private readonly seqRows: SequenceRowsDataset;
  private readonly feats: Float32Array[] = [];

  constructor(
    readonly k: ImageBindingKnobs,
    scenes: readonly BindingScene[],
    tokenizer: Tokenizer,
    readonly seqLen: number,
  ) {
    this.featureDim = patchFeatureDim(k);
    const head = imageSceneTokens(k);
    const rows: string[][] = [];
    const masks: Uint8Array[] = [];
    scenes.forEach((s, i) => {
      const { tokens, answers } = bindingLayout(s, head);
      if (tokens.length > seqLen + 1)
        throw new GroundlabError('BAD_CONFIG', `an image binding scene has ${tokens.length} tokens, more than seqLen + 1 = ${seqLen + 1}`, {
          hint: `raise --seq-len to ${tokens.length - 1} or lower the knob grid (${k.grid} x ${k.grid} patches) or queriesPerScene`,
          codeHint: `raise \`seqLen\` to ${tokens.length - 1} or lower the knob grid or queriesPerScene`,
        });
      rows.push(tokens);
      masks.push(answerLossMask(tokens.length, answers));
      this.feats.push(renderBindingScene(k, s, `train/${i}`).features);
    });
    this.seqRows = new SequenceRowsDataset(rows, masks, tokenizer, seqLen);
    this.size = this.seqRows.size;
  }

  row(i: number): Int32Array {
    return this.seqRows.row(i);
  }

  mask(i: number): Uint8Array {
    return this.seqRows.mask(i);
  }

  /** [seqLen * featureDim]: the patches' features at positions 1..grid^2, zeros elsewhere. */
  features(i: number): Float32Array {
    this.seqRows.row(i); // checks i
    const F = this.featureDim;
    const out = new Float32Array(this.seqLen * F);
    out.set(this.feats[i].subarray(0, Math.min(this.feats[i].length, (this.seqLen - 1) * F)), F);
    return out;
  }
}

/** The training scenes of an image binding corpus (the same draw as the symbolic variant's). */
export const generateImageBinding = (k: ImageBindingKnobs, seed: number): BindingScene[] => generateBinding(k, seed);

/**
 * A counterfactual of the symbolic scenes made for patches. Only swap-slots changes: in text the
 * two objects exchange their place in the text and keep their cells (an image of it would not
 * change); in an image they exchange their cells (the patch an object is read from), each keeping
 * its features. The source still asks about the same object (same answer); the expected answer is
 * the attribute of the base object in the cell where the source's target now is (the same as in text).
 */
export function imageCounterfactual(cf: BindingCounterfactual): BindingCounterfactual {
  if (cf.kind !== 'swap-slots') return cf;
  const t = cf.base.target;
  const other = cf.source.target;
  const objects = cf.base.objects.map((o) => ({ ...o }));
  [objects[t].x, objects[t].y, objects[other].x, objects[other].y] = [objects[other].x, objects[other].y, objects[t].x, objects[t].y];
  return { ...cf, source: { objects, query: cf.base.query, target: t } };
}

/**
 * Evaluation contexts of image-grounded runs. The "{ENV}" slot of an image frame stands for a
 * whole image: grid x grid "<patch>" tokens whose continuous features come from the data stage's
 * frozen encoder (`imageEvalContext` in src/data/image.ts). A context is a frame together with one
 * scene layout (place, colour, size, position, lighting); it is written as a frame variant with
 * the id "<frame>#scene<k>", and the layout is drawn from the set's seed and that id, so match
 * (the image shows v) and mismatch (the same scene showing u != v) differ only in the object.
 *
 * This module only imports types from ./evalset (evalset.ts uses it at run time).
 */
import { GroundlabError } from '../errors';
import { imageEvalContext, type ImageKnobs } from '../data/image';
import type { Frame, ImageEvalSpec } from './evalset';

/** Scene layouts per corpus frame when nothing else is asked (contexts are drawn from frames x scenes). */
export const DEFAULT_SCENES_PER_FRAME = 4;

const SCENE_SEP = '#scene';

/** Scene variants of the corpus's image frames: every frame `scenesPerFrame` times, ids "<frame>#scene<k>". */
export function imageSceneFrames(frames: readonly Frame[], scenesPerFrame = DEFAULT_SCENES_PER_FRAME): Frame[] {
  if (!Number.isInteger(scenesPerFrame) || scenesPerFrame < 1)
    throw new GroundlabError('BAD_ARGUMENT', `scenesPerFrame must be a whole number >= 1 (got ${scenesPerFrame})`);
  const out: Frame[] = [];
  for (const f of frames) for (let k = 0; k < scenesPerFrame; k++) out.push({ id: `${f.id}${SCENE_SEP}${k}`, tokens: f.tokens.slice() });
  return out;
}

/** The corpus frame id of a scene variant ("image/x#scene2" -> "image/x"). */
export function baseFrameId(id: string): string {
  const i = id.lastIndexOf(SCENE_SEP);
  return i < 0 ? id : id.slice(0, i);
}

/**
 * A memoised context builder for one evaluation set: (frame, noun) -> the frame's tokens with
 * "<patch>" tokens at the slot and one [featureDim] vector per patch, in order. Deterministic in
 * (seed, frame id, noun).
 */
export function imageContexts(
  spec: ImageEvalSpec,
  seed: number,
): (frame: Frame, noun: string) => { tokens: string[]; features: Float32Array[] } {
  const knobs = { grid: spec.grid, featureDim: spec.featureDim, lightingNoise: spec.lightingNoise } as ImageKnobs;
  const cache = new Map<string, { tokens: string[]; features: Float32Array[] }>();
  return (frame, noun) => {
    const key = `${frame.id}\u0000${noun}`;
    let c = cache.get(key);
    if (!c) cache.set(key, (c = imageEvalContext(frame, noun, knobs, seed)));
    return c;
  };
}

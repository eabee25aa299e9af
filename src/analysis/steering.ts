/**
 * Steering: intervene on a forward pass and measure what changes. Two interventions, composable:
 * - scale a head's output (its anatomy's per-head site) by a factor (0 = zero-ablation, 2 = doubled);
 * - add a vector (times alpha) to any hook point's activation, at every position, at each
 *   sequence's prediction position, or at one position index. The vector has the size of the
 *   activation's features (D for a residual stream [B, T, D]; H * Dh for [B, T, H, Dh]).
 * `steer` scores the target surprisal of each sequence with and without the interventions, with
 * a paired test and, when the sequences hold match and mismatch contexts, the grounding gain G
 * before and after. `meanActivationDifference` gives a steering direction: the mean activation at
 * the prediction position over one set of sequences minus over another.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { HookSpec, LanguageModel } from '../models/types';
import type { EvalSequence } from '../eval/evalset';
import { lengthBatches, padTokens, padFeatures, targetLogProbs, checkLengths } from '../eval/surprisal';
import { hasBothConditions, meanGainOf } from '../metrics/gain';
import { mean, pairedTest, type PairedTestResult } from '../metrics/stats';
import { selectPositions } from './lens';
import { axisMask } from './pathpatch';

export type Steer =
  | { kind: 'scale-head'; layer: number; head: number; factor: number }
  | { kind: 'add'; hook: string; vector: ArrayLike<number>; alpha?: number; positions?: 'all' | 'pred' | number };

/**
 * Hooks that apply the interventions to a batch. `predPos` (one per row) is needed for
 * `positions: 'pred'`; T is the batch's sequence length.
 */
export function steeringHooks(model: LanguageModel, steers: readonly Steer[], predPos?: readonly number[]): HookSpec {
  const pts = new Set(model.hookPoints());
  const list: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [];
  for (const s of steers) {
    if (s.kind === 'scale-head') {
      const site = model.anatomy.layers[s.layer]?.heads;
      if (!site)
        throw new GroundlabError('UNSUPPORTED', `steering: layer ${s.layer} of this ${model.arch} declares no per-head outputs`, {
          hint: `layers 0..${model.anatomy.layers.length - 1}; scaling needs a layer whose anatomy names a heads site`,
        });
      if (!(s.head >= 0 && s.head < site.size))
        throw new GroundlabError('BAD_ARGUMENT', `steering: layer ${s.layer} has ${site.size} heads, not head ${s.head}`);
      if (!Number.isFinite(s.factor))
        throw new GroundlabError(
          'BAD_ARGUMENT',
          `steering: the factor for L${s.layer}H${s.head} must be a finite number (got ${s.factor})`,
        );
      list.push([
        site.hook,
        (x) => tf.tidy(() => tf.mul(x, tf.add(1, tf.mul(s.factor - 1, axisMask(x.rank, site.axis, site.size, [s.head]))))),
      ]);
    } else {
      if (!pts.has(s.hook))
        throw new GroundlabError('NOT_FOUND', `steering: "${s.hook}" is not a hook point of this model`, {
          hint: 'e.g. blocks.1.hook_resid_post (model.hookPoints() lists all)',
        });
      const vec = Float32Array.from(s.vector);
      if (!vec.every(Number.isFinite))
        throw new GroundlabError('BAD_ARGUMENT', `steering: the vector added at ${s.hook} has non-finite entries`);
      if (s.positions === 'pred' && !predPos)
        throw new GroundlabError('BAD_ARGUMENT', "steering: positions 'pred' needs the prediction positions", {
          hint: 'use steer(), which passes them',
        });
      list.push([
        s.hook,
        (x) => {
          const feat = x.shape.slice(2).reduce((a, b) => a * b, 1);
          if (vec.length !== feat)
            throw new GroundlabError(
              'BAD_ARGUMENT',
              `steering: the vector added at ${s.hook} has ${vec.length} entries, the activation has ${feat} features per position (shape [${x.shape}])`,
            );
          const [B, T] = x.shape as number[];
          const pos = s.positions ?? 'all';
          if (typeof pos === 'number' && !(Number.isInteger(pos) && pos >= 0 && pos < T))
            throw new GroundlabError('BAD_ARGUMENT', `steering: position ${pos} is outside the sequence (${T} positions)`);
          return tf.tidy(() => {
            const v = tf.reshape(tf.mul(tf.tensor1d(vec), s.alpha ?? 1), [1, 1, ...x.shape.slice(2)]);
            if (pos === 'all') return tf.add(x, v);
            const m = new Float32Array(B * T);
            for (let b = 0; b < B; b++) m[b * T + (pos === 'pred' ? predPos![b] : pos)] = 1;
            return tf.add(x, tf.mul(tf.reshape(tf.tensor1d(m), [B, T, ...x.shape.slice(2).map(() => 1)]), v));
          });
        },
      ]);
    }
  }
  return list;
}

export interface SteerResult {
  /** Per sequence surprisal (nats) without and with the interventions. */
  base: Float64Array;
  steered: Float64Array;
  /** Mean of steered - base (nats). */
  meanChange: number;
  /** steered vs base, paired over sequences. */
  test: PairedTestResult;
  /** Grounding gain G (mean over nouns) without and with, when the sequences hold match and mismatch contexts. */
  gain?: { base: number; steered: number };
}

async function scoreWith(
  model: LanguageModel,
  seqs: readonly EvalSequence[],
  steers: readonly Steer[],
  opts: { batchSize?: number; padId?: number; signal?: AbortSignal },
): Promise<Float64Array> {
  const out = new Float64Array(seqs.length);
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 32)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'steering was stopped');
    const batch = idx.map((i) => seqs[i]);
    const lp = tf.tidy(() => {
      const tokens = padTokens(batch, opts.padId ?? 0);
      const env = padFeatures(batch, model.config.envFeatureDim ?? 0);
      const hooks = steers.length
        ? steeringHooks(
            model,
            steers,
            batch.map((s) => s.predPos),
          )
        : undefined;
      return targetLogProbs(model.forward(tokens, { ...(hooks ? { hooks } : {}), ...(env ? { envFeatures: env } : {}) }), batch);
    });
    const v = await lp.data();
    lp.dispose();
    idx.forEach((i, b) => (out[i] = -v[b]));
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/** Score the sequences with and without the interventions. */
export async function steer(
  model: LanguageModel,
  seqs: readonly EvalSequence[],
  steers: readonly Steer[],
  opts: { batchSize?: number; padId?: number; signal?: AbortSignal } = {},
): Promise<SteerResult> {
  if (!steers.length) throw new GroundlabError('BAD_ARGUMENT', 'steering: no interventions given');
  if (!seqs.length) throw new GroundlabError('BAD_ARGUMENT', 'steering: no sequences given');
  checkLengths(model, seqs);
  steeringHooks(
    model,
    steers,
    seqs.map((s) => s.predPos),
  ); // check the interventions before any work
  const base = await scoreWith(model, seqs, [], opts);
  const steered = await scoreWith(model, seqs, steers, opts);
  const hasBoth = hasBothConditions(seqs);
  const g = (s: Float64Array) => meanGainOf(seqs, s);
  return {
    base,
    steered,
    meanChange: mean(steered) - mean(base),
    test: pairedTest(steered, base),
    ...(hasBoth ? { gain: { base: g(base), steered: g(steered) } } : {}),
  };
}

/** Mean activation at the prediction position over `a` minus over `b`, at one hook point (flattened features): a steering direction. */
export async function meanActivationDifference(
  model: LanguageModel,
  a: readonly EvalSequence[],
  b: readonly EvalSequence[],
  hook: string,
  opts: { batchSize?: number; padId?: number } = {},
): Promise<Float32Array> {
  if (!model.hookPoints().includes(hook)) throw new GroundlabError('NOT_FOUND', `"${hook}" is not a hook point of this model`);
  if (!a.length || !b.length) throw new GroundlabError('BAD_ARGUMENT', 'meanActivationDifference needs sequences on both sides');
  const meanOf = async (seqs: readonly EvalSequence[]) => {
    checkLengths(model, seqs);
    let sum: Float64Array | undefined;
    for (const idx of lengthBatches(seqs, opts.batchSize ?? 32)) {
      const batch = idx.map((i) => seqs[i]);
      const t = tf.tidy(() => {
        const tokens = padTokens(batch, opts.padId ?? 0);
        const env = padFeatures(batch, model.config.envFeatureDim ?? 0);
        const { cache } = model.runWithCache(tokens, { names: [hook], ...(env ? { envFeatures: env } : {}) });
        const x = cache.get(hook);
        const flat = tf.reshape(x, [x.shape[0], x.shape[1] as number, -1]);
        const r = tf.sum(
          selectPositions(
            flat,
            batch.map((s) => s.predPos),
          ),
          0,
        );
        cache.dispose();
        return r;
      });
      const v = await t.data();
      t.dispose();
      sum ??= new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) sum[i] += v[i];
    }
    return sum!.map((x) => x / seqs.length);
  };
  const [ma, mb] = [await meanOf(a), await meanOf(b)];
  return Float32Array.from(ma, (x, i) => x - mb[i]);
}

/**
 * Boundless DAS: instead of fixing k, learn a full rotation R [D, D] (orthonormal columns) and a
 * soft mask m = sigmoid(a / tau) over the rotated coordinates, with tau annealed from `tempStart`
 * to `tempEnd`:
 *
 *   h' = h + (((s - h) R) * m) R^T
 *
 * minimising the counterfactual cross-entropy plus `sparsity` * mean(m), so the mask keeps as few
 * rotated coordinates as the intervention needs. The result is the hard subspace: the columns of
 * R whose mask is > 0.5 (k of them), scored like any other subspace (evaluateIia).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import {
  disposeBatch,
  fitBatches,
  fitOptimizer,
  labelLoss,
  orthonormalityError,
  randomSubspace,
  retract,
  tangentProject,
  type EncodedPair,
  type InterventionSite,
} from './das';

export interface BoundlessOptions {
  steps?: number;
  lr?: number;
  /** Learning rate of the mask logits (default 10 x lr). */
  maskLr?: number;
  batchSize?: number;
  seed?: number;
  padId: number;
  tempStart?: number;
  tempEnd?: number;
  /** Weight of mean(m) in the loss (default 2: on the known answer 0.05 kept 8 of 12 coordinates, 1 kept 3, 2 kept 1). */
  sparsity?: number;
  signal?: AbortSignal;
  onProgress?: (p: { step: number; total: number; loss: number; size: number }) => void;
}

export interface BoundlessFit {
  /** The kept rotated coordinates as a [D, k] subspace (row-major), k >= 1. */
  w: Float32Array;
  k: number;
  dim: number;
  /** Final soft mask per rotated coordinate (at the final temperature). */
  mask: Float32Array;
  losses: number[];
  /** max |R^T R - I| of the full rotation after the last step. */
  orthoError: number;
  status: 'completed' | 'aborted';
}

let counter = 0;

export async function fitBoundlessDas(site: InterventionSite, pairs: readonly EncodedPair[], o: BoundlessOptions): Promise<BoundlessFit> {
  const d = site.dim;
  if (!pairs.length) throw new GroundlabError('BAD_ARGUMENT', 'no counterfactual pairs to fit on');
  const steps = o.steps ?? 300;
  const lr = o.lr ?? 0.01;
  const maskLr = o.maskLr ?? 10 * lr;
  const t0 = o.tempStart ?? 1;
  const t1 = o.tempEnd ?? 0.01;
  const lam = o.sparsity ?? 2;
  const bs = Math.min(o.batchSize ?? 32, pairs.length);
  const rng = new Rng(`${o.seed ?? 0}/boundless`);
  const initR = tf.tensor2d(randomSubspace(d, d, `${o.seed ?? 0}/boundless-init`), [d, d]);
  const r = tf.variable(initR, true, `boundless.r#${++counter}`);
  initR.dispose();
  const a = tf.variable(tf.zeros([d]), true, `boundless.a#${counter}`);
  const optR = fitOptimizer('r', r);
  const optA = fitOptimizer('a', a);
  const nextBatch = fitBatches(pairs, bs, rng, o.padId);
  const losses: number[] = [];
  let status: BoundlessFit['status'] = 'completed';
  let tau = t0;
  try {
    for (let s = 0; s < steps; s++) {
      await new Promise((res) => setImmediate(res));
      if (o.signal?.aborted) {
        status = 'aborted';
        break;
      }
      tau = t0 * Math.pow(t1 / t0, s / Math.max(1, steps - 1)); // geometric annealing
      const x = nextBatch();
      const src = tf.tidy(() => site.read(x.source, x.sourcePos));
      const { value, grads } = tf.variableGrads(() => {
        const m = tf.sigmoid(tf.div(a, tau)); // [D]
        const logits = site.run(
          x.base,
          x.basePos,
          (h) => tf.add(h, tf.matMul(tf.mul(tf.matMul(tf.sub(src, h), r), m), r, false, true)) as tf.Tensor2D,
        );
        return tf.add(labelLoss(logits, x.labels), tf.mul(lam, tf.mean(m))) as tf.Scalar;
      }, [r, a]);
      const decay = 0.5 * (1 + Math.cos((Math.PI * s) / steps));
      const tangent = tangentProject(r, grads[r.name] as tf.Tensor2D);
      optR.apply({ r: tangent }, lr * decay);
      optA.apply({ a: grads[a.name] }, maskLr * decay);
      const lv = (await value.data())[0];
      tf.dispose([value, src, tangent, ...Object.values(grads)]);
      disposeBatch(x);
      await retract(r, d, d);
      losses.push(lv);
      if (o.onProgress) {
        const av = (await a.data()) as Float32Array;
        o.onProgress({ step: s + 1, total: steps, loss: lv, size: av.filter((v) => v / tau > 0).length });
      }
    }
    const rv = Float32Array.from((await r.data()) as Float32Array);
    const av = (await a.data()) as Float32Array;
    const mask = Float32Array.from(av, (v) => 1 / (1 + Math.exp(-v / tau)));
    let keep = [...mask.keys()].filter((i) => mask[i] > 0.5);
    if (!keep.length) keep = [mask.indexOf(Math.max(...mask))];
    const k = keep.length;
    const w = new Float32Array(d * k);
    for (let row = 0; row < d; row++) keep.forEach((c, j) => (w[row * k + j] = rv[row * d + c]));
    return { w, k, dim: d, mask, losses, orthoError: orthonormalityError(rv, d, d), status };
  } finally {
    optR.dispose();
    optA.dispose();
    r.dispose();
    a.dispose();
  }
}

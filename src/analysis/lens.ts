/**
 * Lenses: read a layer's residual stream through the model's own final norm and unembedding.
 * - logit lens: the residual as it is;
 * - tuned lens (Belrose et al. 2023): through an affine translator per layer, T_l(h) = h A_l + b_l,
 *   trained so that the lens distribution matches the final layer's (KL(final || lens)), on
 *   hidden states of the run's training data.
 * Layer 0 is the input of the first block (`blocks.0.hook_resid_pre`, or `hook_embed` when the
 * model has no such point); layer l + 1 is `blocks.{l}.hook_resid_post`.
 *
 * The readout needs no knowledge of the architecture: it runs the model on length-1 sequences and
 * replaces the last block's `hook_resid_post` with the given states, so the model's own final
 * norm and unembedding (and anything else after the last block) apply.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { LanguageModel } from '../models/types';
import type { EvalSequence } from '../eval/evalset';
import { lengthBatches, padTokens, checkLengths } from '../eval/surprisal';

/** Hook points the lens reads, layer 0..L: the model anatomy's lens input, then every block's residual output. */
export function lensPoints(model: LanguageModel): string[] {
  const pts = new Set(model.hookPoints());
  const { lens, layers } = model.anatomy;
  const names = [lens.input, ...layers.map((l) => l.residPost)];
  for (const n of names)
    if (!pts.has(n))
      throw new GroundlabError('UNSUPPORTED', `model ${model.arch} has no hook point ${n}`, {
        hint: 'the lens reads the residual stream after every block',
      });
  return names;
}

/** States [N, D] -> logits [N, V] through the model's final norm and unembedding (differentiable). */
export function readout(model: LanguageModel, x: tf.Tensor2D): tf.Tensor2D {
  const [N, D] = x.shape;
  const last = model.anatomy.layers[model.anatomy.layers.length - 1].residPost;
  return tf.tidy(() => {
    const tokens = tf.zeros([N, 1], 'int32') as tf.Tensor2D;
    const logits = model.forward(tokens, { hooks: { [last]: () => tf.reshape(x, [N, 1, D]) } }); // [N, 1, V]
    return tf.reshape(logits, [N, logits.shape[2]]) as tf.Tensor2D;
  });
}

/** A readout function with its own resources (see `makeReadout`). */
export interface Readout {
  /** States [N, D] -> logits [N, V]. */
  fn(x: tf.Tensor2D): tf.Tensor2D;
  /** 'direct': final norm and unembedding computed from the parameters; 'model': through the model (`readout`). */
  kind: 'direct' | 'model';
  dispose(): void;
}

/**
 * The readout, fast when the model's anatomy names its final norm and unembedding: then they are
 * computed directly (a norm and one 2-D matmul) instead of a length-1 pass through every block.
 * The direct path is checked against the model on random states and dropped (falling back to
 * `readout`) if they differ.
 */
export function makeReadout(model: LanguageModel): Readout {
  const generic: Readout = { fn: (x) => readout(model, x), kind: 'model', dispose: () => {} };
  const p = model.params;
  const spec = model.anatomy.lens;
  const ln = (w: string, b: string | undefined, eps: number) => (x: tf.Tensor2D) =>
    tf.tidy(() => {
      const m = tf.mean(x, 1, true);
      const c = tf.sub(x, m);
      const y = tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), 1, true), eps)));
      return (b ? tf.add(tf.mul(y, p.get(w)!), p.get(b)!) : tf.mul(y, p.get(w)!)) as tf.Tensor2D;
    });
  const rms = (w: string, eps: number) => (x: tf.Tensor2D) =>
    tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), 1, true), eps))), p.get(w)!) as tf.Tensor2D);
  const nspec = spec.norm;
  if (nspec && (!p.has(nspec.weight) || (nspec.bias && !p.has(nspec.bias)))) return generic;
  const norm: (x: tf.Tensor2D) => tf.Tensor2D = !nspec
    ? (x) => x
    : nspec.kind === 'layer'
      ? ln(nspec.weight, nspec.bias, nspec.eps)
      : rms(nspec.weight, nspec.eps);
  const head = p.get(spec.unembed);
  if (!head || head.shape.length !== 2 || head.shape[0] !== model.config.vocabSize) return generic;
  const wt = tf.keep(tf.transpose(head)) as tf.Tensor2D; // [D, V]
  const n = norm;
  const direct: Readout = { fn: (x) => tf.tidy(() => tf.matMul(n(x), wt)), kind: 'direct', dispose: () => wt.dispose() };
  const ok = tf.tidy(() => {
    const x = tf.mul(tf.randomNormal([8, model.config.dModel], 0, 1, 'float32', 7), 3) as tf.Tensor2D;
    const d = tf.max(tf.abs(tf.sub(direct.fn(x), generic.fn(x)))).dataSync()[0];
    return d < 1e-3;
  });
  if (ok) return direct;
  direct.dispose();
  return generic;
}

/** Rows of a [B, T, D] tensor at the given positions -> [B, D] (one-hot matmul, differentiable). */
export function selectPositions(x: tf.Tensor, pos: readonly number[]): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, D] = x.shape;
    const sel = new Float32Array(B * B * T);
    pos.forEach((p, b) => (sel[b * B * T + b * T + p] = 1));
    return tf.matMul(tf.tensor2d(sel, [B, B * T]), tf.reshape(x, [B * T, D]) as tf.Tensor2D);
  });
}

/** Per-layer affine translators: layer l maps h to h W_l + b_l (W_l = A_l, [D, D]). */
export interface TunedLens {
  /** weights[l]: [D, D]; biases[l]: [D]; for l = 0..L-1 (layer L, the output, is the identity). */
  weights: tf.Variable[];
  biases: tf.Variable[];
  dispose(): void;
}

export function identityLens(nLayers: number, dModel: number): TunedLens {
  const weights = Array.from({ length: nLayers }, () => tf.variable(tf.eye(dModel)));
  const biases = Array.from({ length: nLayers }, () => tf.variable(tf.zeros([dModel])));
  return { weights, biases, dispose: () => [...weights, ...biases].forEach((v) => v.dispose()) };
}

/** Apply translator l to states [N, D] (layer L and beyond: identity). */
export function translate(lens: TunedLens | undefined, layer: number, x: tf.Tensor2D): tf.Tensor2D {
  if (!lens || layer >= lens.weights.length) return x;
  return tf.tidy(() => tf.add(tf.matMul(x, lens.weights[layer]), lens.biases[layer]) as tf.Tensor2D);
}

export interface TunedLensOptions {
  /** Optimisation steps (default 60; analyzeRun starts them from the least-squares translators). */
  steps: number;
  lr: number;
  /** States per step per layer (default 256). */
  batchSize: number;
  seed: number;
  /** Start from this lens (default identity). */
  init?: TunedLens;
  signal?: AbortSignal;
  onStep?: (step: number, total: number, kl: number) => void;
}

export const DEFAULT_TUNED_LENS: TunedLensOptions = { steps: 60, lr: 1e-2, batchSize: 256, seed: 0 };

/** Hidden states at every lens layer and the final log-distribution, for token rows [B, T]. */
export function collectStates(
  model: LanguageModel,
  rows: readonly Int32Array[],
  batchRows = 16,
): { states: tf.Tensor2D[]; finalLogProbs: tf.Tensor2D } {
  const names = lensPoints(model);
  const parts: tf.Tensor2D[][] = names.map(() => []);
  const finals: tf.Tensor2D[] = [];
  for (let i = 0; i < rows.length; i += batchRows) {
    const chunk = rows.slice(i, i + batchRows);
    tf.tidy(() => {
      const T = chunk[0].length;
      const buf = new Int32Array(chunk.length * T);
      chunk.forEach((r, b) => buf.set(r, b * T));
      const { logits, cache } = model.runWithCache(tf.tensor2d(buf, [chunk.length, T], 'int32'), { names });
      names.forEach((n, l) => {
        const x = cache.get(n);
        parts[l].push(tf.keep(tf.reshape(x, [-1, x.shape[x.shape.length - 1] as number]) as tf.Tensor2D));
      });
      finals.push(tf.keep(tf.logSoftmax(tf.reshape(logits, [-1, logits.shape[2]])) as tf.Tensor2D));
      cache.dispose();
    });
  }
  const states = parts.map((p) => {
    const c = tf.concat(p, 0) as tf.Tensor2D;
    p.forEach((t) => t.dispose());
    return c;
  });
  const finalLogProbs = tf.concat(finals, 0) as tf.Tensor2D;
  finals.forEach((t) => t.dispose());
  return { states, finalLogProbs };
}

/**
 * Least-squares translators: for every layer l, A_l and b_l minimising ||h_l A_l + b_l - h_L||^2
 * (ridge `lambda` on A_l), h_L the last layer's states. A cheap, strong start for the KL training
 * (identity layers give the identity exactly).
 */
export async function leastSquaresLens(states: readonly tf.Tensor2D[], lambda = 1e-3): Promise<TunedLens> {
  const L = states.length - 1;
  const [N, D] = states[L].shape;
  const Y = await states[L].data();
  const weights: tf.Variable[] = [];
  const biases: tf.Variable[] = [];
  for (let l = 0; l < L; l++) {
    const X = await states[l].data();
    const P = D + 1; // augmented with a constant column
    // normal equations M [P, P] and right-hand sides R [P, D]
    const M = new Float64Array(P * P);
    const R = new Float64Array(P * D);
    const row = new Float64Array(P);
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < D; i++) row[i] = X[n * D + i];
      row[D] = 1;
      for (let i = 0; i < P; i++) {
        const ri = row[i];
        if (ri === 0) continue;
        for (let j = i; j < P; j++) M[i * P + j] += ri * row[j];
        for (let j = 0; j < D; j++) R[i * D + j] += ri * Y[n * D + j];
      }
    }
    for (let i = 0; i < P; i++) for (let j = 0; j < i; j++) M[i * P + j] = M[j * P + i];
    const scale = Math.max(1e-12, ...Array.from({ length: D }, (_, i) => M[i * P + i]));
    for (let i = 0; i < D; i++) M[i * P + i] += lambda * scale;
    // Gaussian elimination with partial pivoting on [M | R]
    for (let c = 0; c < P; c++) {
      let piv = c;
      for (let r = c + 1; r < P; r++) if (Math.abs(M[r * P + c]) > Math.abs(M[piv * P + c])) piv = r;
      if (piv !== c) {
        for (let k = 0; k < P; k++) [M[c * P + k], M[piv * P + k]] = [M[piv * P + k], M[c * P + k]];
        for (let k = 0; k < D; k++) [R[c * D + k], R[piv * D + k]] = [R[piv * D + k], R[c * D + k]];
      }
      const d = M[c * P + c];
      if (Math.abs(d) < 1e-12) continue;
      for (let r = 0; r < P; r++) {
        if (r === c) continue;
        const f = M[r * P + c] / d;
        if (f === 0) continue;
        for (let k = c; k < P; k++) M[r * P + k] -= f * M[c * P + k];
        for (let k = 0; k < D; k++) R[r * D + k] -= f * R[c * D + k];
      }
    }
    const A = new Float32Array(D * D);
    const b = new Float32Array(D);
    for (let i = 0; i < P; i++) {
      const d = M[i * P + i];
      for (let k = 0; k < D; k++) {
        const v = Math.abs(d) < 1e-12 ? (i === k ? 1 : 0) : R[i * D + k] / d;
        if (i < D) A[i * D + k] = v;
        else b[k] = v;
      }
    }
    weights.push(tf.variable(tf.tensor2d(A, [D, D])));
    biases.push(tf.variable(tf.tensor1d(b)));
  }
  return { weights, biases, dispose: () => [...weights, ...biases].forEach((v) => v.dispose()) };
}

/**
 * Train a tuned lens on hidden states (from `collectStates`): Adam on the sum over layers of
 * KL(final || lens_l), all layers in one readout call per step. Returns the lens and the final KL per layer.
 */
export async function trainTunedLens(
  model: LanguageModel,
  data: { states: tf.Tensor2D[]; finalLogProbs: tf.Tensor2D },
  opts: Partial<TunedLensOptions> = {},
): Promise<{ lens: TunedLens; kl: number[] }> {
  const o = { ...DEFAULT_TUNED_LENS, ...opts };
  const L = model.config.nLayers;
  const D = model.config.dModel;
  if (data.states.length !== L + 1) throw new GroundlabError('INTERNAL', `expected ${L + 1} state sets, got ${data.states.length}`);
  const lens = o.init ?? identityLens(L, D);
  const N = data.finalLogProbs.shape[0];
  const rng = new Rng(`tuned-lens/${o.seed}`);
  const optimizer = tf.train.adam(o.lr);
  const vars = [...lens.weights, ...lens.biases];
  const batch = Math.min(o.batchSize, N);
  const ro = makeReadout(model);
  const klOf = (idx: tf.Tensor1D) =>
    tf.tidy(() => {
      const p = tf.gather(data.finalLogProbs, idx); // [n, V] log-probs
      const xs = lens.weights.map((_, l) => translate(lens, l, tf.gather(data.states[l], idx) as tf.Tensor2D));
      const lq = tf.logSoftmax(ro.fn(tf.concat(xs, 0) as tf.Tensor2D)); // [L n, V]
      const n = idx.shape[0];
      const pp = tf.tile(p, [L, 1]);
      const kl = tf.sum(tf.mul(tf.exp(pp), tf.sub(pp, lq)), 1); // [L n]
      return tf.mean(tf.reshape(kl, [L, n]), 1) as tf.Tensor1D; // [L]
    });
  for (let s = 0; s < o.steps; s++) {
    if (o.signal?.aborted) {
      optimizer.dispose();
      ro.dispose();
      throw new GroundlabError('ABORTED', 'tuned lens training was stopped');
    }
    const pick = new Int32Array(batch);
    for (let i = 0; i < batch; i++) pick[i] = rng.int(N);
    const idx = tf.tensor1d(pick, 'int32');
    const cost = optimizer.minimize(() => tf.sum(klOf(idx)) as tf.Scalar, true, vars);
    const c = cost ? (await cost.data())[0] : NaN;
    cost?.dispose();
    idx.dispose();
    if (!Number.isFinite(c))
      throw new GroundlabError('NUMERIC', `tuned lens loss is ${c} at step ${s}`, { hint: 'lower the lens learning rate' });
    o.onStep?.(s + 1, o.steps, c);
    if (s % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  optimizer.dispose();
  const all = tf.tensor1d(
    Int32Array.from({ length: Math.min(N, 2048) }, (_, i) => i),
    'int32',
  );
  const klT = klOf(all);
  const kl = Array.from(await klT.data());
  klT.dispose();
  ro.dispose();
  all.dispose();
  return { lens, kl };
}

export interface LensRow {
  lens: 'logit' | 'tuned';
  layer: number;
  /** Per sequence surprisal of the target at this layer. */
  surprisal: Float64Array;
}

/** Layer-wise surprisal of each sequence's target through the logit lens (and the tuned lens, if given). */
export async function lensSurprisal(
  model: LanguageModel,
  seqs: readonly EvalSequence[],
  opts: { tuned?: TunedLens; batchSize?: number; padId?: number; signal?: AbortSignal } = {},
): Promise<LensRow[]> {
  checkLengths(model, seqs);
  const names = lensPoints(model);
  const kinds: Array<'logit' | 'tuned'> = opts.tuned ? ['logit', 'tuned'] : ['logit'];
  const rows: LensRow[] = [];
  const ro = makeReadout(model);
  for (const k of kinds) names.forEach((_, l) => rows.push({ lens: k, layer: l, surprisal: new Float64Array(seqs.length) }));
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 64)) {
    if (opts.signal?.aborted) {
      ro.dispose();
      throw new GroundlabError('ABORTED', 'lens was stopped');
    }
    const batch = idx.map((i) => seqs[i]);
    const out = tf.tidy(() => {
      const { cache } = model.runWithCache(padTokens(batch, opts.padId ?? 0), { names });
      const B = batch.length;
      const xs: tf.Tensor2D[] = [];
      for (const k of kinds)
        names.forEach((n, l) =>
          xs.push(
            k === 'tuned'
              ? translate(
                  opts.tuned,
                  l,
                  selectPositions(
                    cache.get(n),
                    batch.map((s) => s.predPos),
                  ),
                )
              : selectPositions(
                  cache.get(n),
                  batch.map((s) => s.predPos),
                ),
          ),
        );
      cache.dispose();
      const lp = tf.logSoftmax(ro.fn(tf.concat(xs, 0) as tf.Tensor2D)); // [R B, V]
      const V = lp.shape[1] as number;
      const oh = new Float32Array(xs.length * B * V);
      for (let r = 0; r < xs.length; r++) batch.forEach((s, b) => (oh[(r * B + b) * V + s.target] = 1));
      return tf.sum(tf.mul(lp, tf.tensor2d(oh, [xs.length * B, V])), 1); // [R B]
    });
    const v = await out.data();
    out.dispose();
    const B = batch.length;
    rows.forEach((row, r) => idx.forEach((i, b) => (row.surprisal[i] = -v[r * B + b])));
    await new Promise((r) => setImmediate(r));
  }
  ro.dispose();
  return rows;
}

/** Tensors of a lens by name, for saving (`translator.{l}.weight` [D, D], `translator.{l}.bias` [D]). */
export function lensTensors(lens: TunedLens): Map<string, tf.Tensor> {
  const m = new Map<string, tf.Tensor>();
  lens.weights.forEach((w, l) => {
    m.set(`translator.${l}.weight`, w);
    m.set(`translator.${l}.bias`, lens.biases[l]);
  });
  return m;
}

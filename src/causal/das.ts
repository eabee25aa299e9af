/**
 * Interchange interventions and distributed alignment search (DAS).
 *
 * A site is where an intervention acts: a hook point of any model ([B, T, D] activations, the
 * change reaches later positions the way the architecture carries it), or the recurrent state of a
 * GRU layer (carried into the following steps). At one position per row, the base activation h
 * takes the source's activation s inside a subspace spanned by the orthonormal columns of W [D, k]:
 *
 *   h' = h + (s - h) W W^T        (k = D with W = I: the full-vector swap, h' = s)
 *
 * This is a rotation R whose first k rows are W^T, with the rotated coordinates 0..k-1 swapped;
 * the other rows of R never change the result, so only W is kept. DAS learns W with the model
 * frozen, minimising the cross-entropy of the causal program's counterfactual continuation, with
 * Adam on the gradient projected onto the tangent space (learning rate with cosine decay) and a retraction onto orthonormal columns (Gram-Schmidt)
 * after every step. IIA
 * (interchange-intervention accuracy) is the share of pairs whose every scored next token, by
 * argmax, is the counterfactual one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { LanguageModel } from '../models/types';
import type { Tokenizer } from '../data/types';
import { PAD } from '../data/tokens';
import { AdamW } from '../train/optimizer';
import type { Counterfactual, FlipCounterfactual } from './programs';

/** Where interventions act. Tensors returned are owned by the caller. */
export interface InterventionSite {
  /** Human-readable name (a hook point, or `blocks.{l}.state`). */
  readonly name: string;
  /** Width of the activation. */
  readonly dim: number;
  /** Activations at pos[b] of each row: [B, D]. */
  read(tokens: tf.Tensor2D, pos: Int32Array): tf.Tensor2D;
  /** Logits [B, T, V] with row b's activation at pos[b] replaced by edit(h)[b] (edit maps [B, D] to [B, D]). */
  run(tokens: tf.Tensor2D, pos: Int32Array, edit: (h: tf.Tensor2D) => tf.Tensor2D): tf.Tensor3D;
  /**
   * Several interventions in one run, in order: edits[j] replaces row b's activation at
   * edits[j].pos[b] by its edit (pos -1: no intervention for that row). At a recurrent state
   * each replacement is carried on, so a later edit sees what the earlier ones did.
   */
  runEdits(tokens: tf.Tensor2D, edits: readonly SiteEdit[]): tf.Tensor3D;
}

/** One intervention of a run: a position per row (-1: none) and the replacement of the [B, D] activations there. */
export interface SiteEdit {
  pos: Int32Array;
  edit: (h: tf.Tensor2D) => tf.Tensor2D;
}

function checkPos(pos: Int32Array, b: number, t: number, allowNone = false): void {
  if (pos.length !== b) throw new GroundlabError('BAD_ARGUMENT', `${pos.length} positions for a batch of ${b} rows`);
  for (const p of pos)
    if (!((p >= 0 || (allowNone && p === -1)) && p < t))
      throw new GroundlabError('BAD_ARGUMENT', `intervention position ${p} is outside the sequence (0..${t - 1})`);
}

/** [B, 1] 1 for the rows whose position is s (null when none is). */
function rowsAt(pos: Int32Array, s: number): tf.Tensor2D | null {
  const rows = Float32Array.from(pos, (p) => (p === s ? 1 : 0));
  return rows.some((r) => r) ? tf.tensor2d(rows, [pos.length, 1]) : null;
}

/** Rows x[b, pos[b], :] of x [B, T, D]: [B, D] (a one-hot product: the wasm backend has no gradient for gather). */
function gatherAt(x: tf.Tensor, pos: Int32Array): tf.Tensor2D {
  const [b, t] = x.shape as [number, number, number];
  const oh = new Float32Array(b * t);
  pos.forEach((p, i) => (oh[i * t + p] = 1));
  return tf.tidy(() => tf.sum(tf.mul(x, tf.tensor3d(oh, [b, t, 1])), 1) as tf.Tensor2D);
}

/** A hook point with [B, T, D] activations (`blocks.{l}.hook_resid_post`, `blocks.{l}.hook_h`, ...). */
/**
 * A site from its read and its forward pass with edits: `run` is one edit, and every edit's
 * positions are checked (-1 allowed) before `forward` gets them.
 */
function siteOf(
  name: string,
  dim: number,
  read: InterventionSite['read'],
  forward: (tokens: tf.Tensor2D, edits: readonly SiteEdit[], b: number, t: number) => tf.Tensor3D,
): InterventionSite {
  const site: InterventionSite = {
    name,
    dim,
    read,
    run(tokens, pos, edit) {
      checkPos(pos, tokens.shape[0], tokens.shape[1]);
      return site.runEdits(tokens, [{ pos, edit }]);
    },
    runEdits(tokens, edits) {
      const [b, t] = tokens.shape;
      for (const e of edits) checkPos(e.pos, b, t, true);
      return forward(tokens, edits, b, t);
    },
  };
  return site;
}

export function hookSite(model: LanguageModel, hook: string): InterventionSite {
  if (!model.hookPoints().includes(hook)) {
    throw new GroundlabError('NOT_FOUND', `"${hook}" is not a hook point of this ${model.arch}`, {
      hint: `hook points: ${model
        .hookPoints()
        .filter((h) => !h.includes('attn.'))
        .slice(0, 10)
        .join(', ')}, ...`,
    });
  }
  const dim = model.config.dModel;
  return siteOf(
    hook,
    dim,
    (tokens, pos) => {
      checkPos(pos, tokens.shape[0], tokens.shape[1]);
      const { logits, cache } = model.runWithCache(tokens, { names: [hook] });
      logits.dispose();
      const a = cache.get(hook);
      if (a.rank !== 3 || a.shape[2] !== dim) {
        cache.dispose();
        throw new GroundlabError('BAD_ARGUMENT', `${hook} has shape [${a.shape}]; interventions need a [batch, positions, ${dim}] hook`, {
          hint: 'use a residual or hidden-state hook such as blocks.0.hook_resid_post',
        });
      }
      const out = gatherAt(a, pos);
      cache.dispose();
      return out;
    },
    (tokens, edits, b, t) =>
      model.forward(tokens, {
        hooks: {
          // Every edit reads the hook's own activations (positions of one hook do not feed each other).
          [hook]: (x) => {
            let y = x;
            for (const { pos, edit } of edits) {
              const onehot = new Float32Array(b * t);
              pos.forEach((p, i) => p >= 0 && (onehot[i * t + p] = 1));
              const h = gatherAt(x, pos);
              const delta = tf.sub(edit(h), h); // [B, D]
              y = tf.add(y, tf.mul(tf.tensor3d(onehot, [b, t, 1]), tf.expandDims(delta, 1)));
            }
            return y;
          },
        },
      }),
  );
}

/**
 * The recurrent state of layer `layer`, as the architecture declares it in
 * `anatomy.recurrentState`: the GRU's h (read at `blocks.{l}.hook_h`), the LSTM's h | c (read at
 * `hook_h` and `hook_c`, width 2D); `part` 'h' or 'c' takes one half of a two-part state. A
 * replacement is made inside the recurrence (`ForwardOptions.stateEdit`) and carried on.
 */
export function stateSite(model: LanguageModel, layer: number, part?: 'h' | 'c'): InterventionSite {
  const state = model.anatomy.recurrentState;
  if (!state) {
    throw new GroundlabError(
      'UNSUPPORTED',
      `recurrent-state interventions need an architecture whose state can be replaced inside the recurrence (the GRU, the LSTM), not ${model.arch}`,
      {
        hint: 'intervene at a hook point instead (--hook blocks.{l}.hook_resid_post)',
        codeHint: "intervene at a hook point instead (hookSite(model, 'blocks.0.hook_resid_post'))",
      },
    );
  }
  if (part && !state.cell)
    throw new GroundlabError('BAD_ARGUMENT', `blocks.${layer}.state.${part}: the ${model.arch}'s state has one part`, {
      hint: `use blocks.${layer}.state`,
    });
  const d = model.config.dModel;
  const hooks = [state.hook, ...(state.cell ? [state.cell] : [])].map((h) => hookSite(model, `blocks.${layer}.${h}`));
  const full = hooks.length * d;
  // The columns of the full state this site covers: [offset, offset + dim).
  const offset = part === 'c' ? d : 0;
  const dim = part ? d : full;
  const name = `blocks.${layer}.state${part ? `.${part}` : ''}`;
  return siteOf(
    name,
    dim,
    (tokens, pos) => {
      if (hooks.length === 1) return hooks[0].read(tokens, pos);
      if (part) return hooks[part === 'h' ? 0 : 1].read(tokens, pos);
      checkPos(pos, tokens.shape[0], tokens.shape[1]);
      const { logits, cache } = model.runWithCache(tokens, { names: hooks.map((h) => h.name) });
      logits.dispose();
      const out = tf.tidy(
        () =>
          tf.concat(
            hooks.map((h) => gatherAt(cache.get(h.name), pos)),
            1,
          ) as tf.Tensor2D,
      );
      cache.dispose();
      return out;
    },
    (tokens, edits, b) =>
      model.forward(tokens, {
        stateEdit: {
          layer,
          fn: (st, s) => {
            let out: tf.Tensor2D | undefined;
            for (const { pos, edit } of edits) {
              const rows = rowsAt(pos, s);
              if (!rows) continue;
              const cur = out ?? st;
              const h = dim === full ? cur : (tf.slice(cur, [0, offset], [b, dim]) as tf.Tensor2D);
              const delta = tf.mul(rows, tf.sub(edit(h), h)); // [B, dim]
              const padded = dim === full ? delta : tf.concat([tf.zeros([b, offset]), delta, tf.zeros([b, full - offset - dim])], 1);
              out = tf.add(cur, padded) as tf.Tensor2D;
            }
            return out;
          },
        },
      }),
  );
}

/** Parse a site spec: a hook point name, or `blocks.{l}.state` (`.h`, `.c`: one part of an LSTM's state) for a recurrent layer's state. */
export function siteFor(model: LanguageModel, spec: string): InterventionSite {
  const m = /^blocks\.(\d+)\.state(?:\.(h|c))?$/.exec(spec);
  if (m) {
    const l = Number(m[1]);
    if (l >= model.config.nLayers) throw new GroundlabError('BAD_ARGUMENT', `${spec}: the model has layers 0..${model.config.nLayers - 1}`);
    return stateSite(model, l, m[2] as 'h' | 'c' | undefined);
  }
  return hookSite(model, spec);
}

/** h + (s - h) W W^T: h, s [B, D], W [D, k]. */
export function interchange(h: tf.Tensor2D, s: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.add(h, tf.matMul(tf.matMul(tf.sub(s, h), w), w, false, true)) as tf.Tensor2D;
}

/** Gram-Schmidt (twice, in double precision) of the columns of w [D, k] (row-major). */
export function orthonormalize(w: Float32Array | Float64Array, d: number, k: number): Float32Array {
  const a = Float64Array.from(w);
  for (let j = 0; j < k; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < d; r++) dot += a[r * k + i] * a[r * k + j];
        for (let r = 0; r < d; r++) a[r * k + j] -= dot * a[r * k + i];
      }
    }
    let n = 0;
    for (let r = 0; r < d; r++) n += a[r * k + j] ** 2;
    n = Math.sqrt(n);
    if (!(n > 1e-12)) throw new GroundlabError('NUMERIC', `subspace column ${j} collapsed (norm ${n}) while orthonormalising`);
    for (let r = 0; r < d; r++) a[r * k + j] /= n;
  }
  return Float32Array.from(a);
}

/** max |W^T W - I| of w [D, k]. */
export function orthonormalityError(w: Float32Array, d: number, k: number): number {
  let worst = 0;
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let r = 0; r < d; r++) dot += w[r * k + i] * w[r * k + j];
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  return worst;
}

/** The baselines' subspaces: the first k neurons (identity rotation), or a seeded random rotation's first k rows. */
export function identitySubspace(d: number, k: number): Float32Array {
  const w = new Float32Array(d * k);
  for (let j = 0; j < k; j++) w[j * k + j] = 1;
  return w;
}

export function randomSubspace(d: number, k: number, seed: number | string): Float32Array {
  const rng = new Rng(`${seed}/subspace`);
  return orthonormalize(rng.normalArray(d * k), d, k);
}

/** Counterfactual pairs as token ids: the intervened run's inputs and labels, the source's inputs. */
export interface EncodedPair {
  base: number[];
  source: number[];
  basePos: number;
  sourcePos: number;
  /** Label id per input position (-1: not scored), length base.length. */
  labels: number[];
}

export function encodePairs(pairs: readonly Counterfactual[], tokenizer: Tokenizer): EncodedPair[] {
  return pairs.map((p) => {
    const labels = p.labels.map((l) => (l === null ? -1 : tokenizer.id(l)));
    labels.push(-1);
    return {
      base: tokenizer.encode(p.tokens),
      source: tokenizer.encode(p.source.tokens),
      basePos: p.baseStep,
      sourcePos: p.sourceStep,
      labels,
    };
  });
}

/** A padded batch of encoded pairs (internal to src/causal). */
export interface Batch {
  base: tf.Tensor2D;
  source: tf.Tensor2D;
  basePos: Int32Array;
  sourcePos: Int32Array;
  labels: Int32Array; // [B * T], -1 where not scored
  b: number;
  t: number;
}

export function makeBatch(pairs: readonly EncodedPair[], padId: number): Batch {
  const b = pairs.length;
  const t = Math.max(...pairs.map((p) => p.base.length));
  const ts = Math.max(...pairs.map((p) => p.source.length));
  const base = new Int32Array(b * t).fill(padId);
  const source = new Int32Array(b * ts).fill(padId);
  const labels = new Int32Array(b * t).fill(-1);
  pairs.forEach((p, i) => {
    base.set(p.base, i * t);
    source.set(p.source, i * ts);
    labels.set(p.labels, i * t);
  });
  return {
    base: tf.tensor2d(base, [b, t], 'int32'),
    source: tf.tensor2d(source, [b, ts], 'int32'),
    basePos: Int32Array.from(pairs, (p) => p.basePos),
    sourcePos: Int32Array.from(pairs, (p) => p.sourcePos),
    labels,
    b,
    t,
  };
}

export function disposeBatch(x: Batch): void {
  x.base.dispose();
  x.source.dispose();
}

/**
 * The training batches of a subspace fit (DAS, boundless DAS): each call makes the next batch of
 * `size` pairs, read in an order that `rng` shuffles again (in place) whenever it runs out.
 * The caller disposes each batch (disposeBatch).
 */
export function fitBatches(pairs: readonly EncodedPair[], size: number, rng: Rng, padId: number): () => Batch {
  const order = Array.from({ length: pairs.length }, (_, i) => i);
  let cursor = order.length;
  return () => {
    const idx: number[] = [];
    while (idx.length < size) {
      if (cursor >= order.length) {
        rng.shuffle(order);
        cursor = 0;
      }
      idx.push(order[cursor++]);
    }
    return makeBatch(
      idx.map((i) => pairs[i]),
      padId,
    );
  };
}

/** The optimiser of a subspace fit: Adam (0.9, 0.999, eps 1e-8), no weight decay, over one variable. */
export function fitOptimizer(name: string, v: tf.Variable): AdamW {
  return new AdamW(new Map([[name, v]]), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
}

/** The retraction after each step of a subspace fit: v [d, k] back onto orthonormal columns (Gram-Schmidt). */
export async function retract(v: tf.Variable, d: number, k: number): Promise<void> {
  const q = orthonormalize((await v.data()) as Float32Array, d, k);
  tf.tidy(() => v.assign(tf.tensor2d(q, [d, k])));
}

/** Mean cross-entropy of the labelled positions of logits [B, T, V] (labels -1: not scored). */
export function labelLoss(logits: tf.Tensor3D, labels: Int32Array): tf.Scalar {
  const [b, t, v] = logits.shape;
  const n = labels.reduce((a, l) => a + (l >= 0 ? 1 : 0), 0);
  if (n === 0) throw new GroundlabError('BAD_ARGUMENT', 'a batch of counterfactual pairs has no scored position');
  const target = new Float32Array(b * t * v);
  labels.forEach((l, i) => {
    if (l >= 0) target[i * v + l] = 1;
  });
  const lp = tf.logSoftmax(tf.reshape(logits, [b * t, v]));
  return tf.div(tf.neg(tf.sum(tf.mul(lp, tf.tensor2d(target, [b * t, v])))), n) as tf.Scalar;
}

/** The intervened run's loss for subspace w (a tensor, so it can be differentiated). */
function batchLoss(site: InterventionSite, x: Batch, src: tf.Tensor2D, w: tf.Tensor2D): tf.Scalar {
  const logits = site.run(x.base, x.basePos, (h) => interchange(h, src, w));
  return labelLoss(logits, x.labels);
}

export interface IiaResult {
  /** Share of pairs whose every scored next token (argmax) is the counterfactual one. */
  iia: number;
  /** Share of scored positions right. */
  tokenAccuracy: number;
  /** Mean cross-entropy of the scored positions (nats). */
  loss: number;
  n: number;
}

/** IIA of subspace w [D, k] (row-major Float32Array) over encoded pairs. */
export async function evaluateIia(
  site: InterventionSite,
  pairs: readonly EncodedPair[],
  w: Float32Array,
  k: number,
  opts: { padId: number; batchSize?: number; signal?: AbortSignal },
): Promise<IiaResult> {
  if (w.length !== site.dim * k) throw new GroundlabError('BAD_ARGUMENT', `subspace has ${w.length} values, expected ${site.dim} x ${k}`);
  const bs = opts.batchSize ?? 64;
  const tally = iiaTally();
  const W = tf.tensor2d(w, [site.dim, k]);
  try {
    for (let i = 0; i < pairs.length; i += bs) {
      if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'the IIA evaluation was stopped');
      const x = makeBatch(pairs.slice(i, i + bs), opts.padId);
      const [pred, loss] = tf.tidy(() => {
        const src = site.read(x.source, x.sourcePos);
        const logits = site.run(x.base, x.basePos, (h) => interchange(h, src, W));
        return [tf.argMax(logits, 2), labelLoss(logits, x.labels)];
      });
      const [pv, lv] = await Promise.all([pred.data(), loss.data()]);
      tf.dispose([pred, loss]);
      disposeBatch(x);
      tally.add(pv as Int32Array, lv[0], x.labels, x.b, x.t);
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    W.dispose();
  }
  return tally.result(pairs.length);
}

/** Counts of whole rows and tokens right (argmax against labels, -1 not scored), and the loss, over batches. */
function iiaTally() {
  let right = 0;
  let tokRight = 0;
  let tokAll = 0;
  let lossSum = 0;
  return {
    add(pv: Int32Array | Float32Array | Uint8Array, meanLoss: number, labels: Int32Array, b: number, t: number) {
      let scored = 0;
      for (let r = 0; r < b; r++) {
        let ok = true;
        for (let j = 0; j < t; j++) {
          const l = labels[r * t + j];
          if (l < 0) continue;
          scored++;
          tokAll++;
          if (pv[r * t + j] === l) tokRight++;
          else ok = false;
        }
        if (ok) right++;
      }
      lossSum += meanLoss * scored;
    },
    result(n: number): IiaResult {
      return {
        iia: n ? right / n : NaN,
        tokenAccuracy: tokAll ? tokRight / tokAll : NaN,
        loss: tokAll ? lossSum / tokAll : NaN,
        n,
      };
    },
  };
}

/** A phase-flip sequence as token ids: its inputs and labels, and per flip the position and the source. */
export interface EncodedFlip {
  tokens: number[];
  /** Label id per input position (-1: not scored), length tokens.length. */
  labels: number[];
  flips: Array<{ pos: number; source: number[]; sourcePos: number }>;
}

export function encodeFlips(flips: readonly FlipCounterfactual[], tokenizer: Tokenizer): EncodedFlip[] {
  return flips.map((f) => ({
    tokens: tokenizer.encode(f.tokens),
    labels: [...f.labels.map((l) => (l === null ? -1 : tokenizer.id(l))), -1],
    flips: f.interventions.map((i) => ({ pos: i.step, source: tokenizer.encode(i.source.tokens), sourcePos: i.sourceStep })),
  }));
}

/**
 * IIA of repeated interventions: every flip of a sequence interchanges subspace w [D, k] with its
 * source's activation, all in one run (`runEdits`); a sequence counts when every scored next token
 * (each response and the end, of every round) is the program's. w = zeros: no intervention at all.
 */
export async function evaluateFlips(
  site: InterventionSite,
  seqs: readonly EncodedFlip[],
  w: Float32Array,
  k: number,
  opts: { padId: number; batchSize?: number; signal?: AbortSignal },
): Promise<IiaResult> {
  if (w.length !== site.dim * k) throw new GroundlabError('BAD_ARGUMENT', `subspace has ${w.length} values, expected ${site.dim} x ${k}`);
  const nf = seqs[0]?.flips.length ?? 0;
  if (seqs.some((q) => q.flips.length !== nf))
    throw new GroundlabError('BAD_ARGUMENT', 'every phase-flip sequence of one evaluation needs the same number of flips', {
      hint: 'draw them with one `rounds`',
    });
  const bs = opts.batchSize ?? 64;
  const tally = iiaTally();
  const W = tf.tensor2d(w, [site.dim, k]);
  try {
    for (let i = 0; i < seqs.length; i += bs) {
      if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'the IIA evaluation was stopped');
      const batch = seqs.slice(i, i + bs);
      const b = batch.length;
      const t = Math.max(...batch.map((q) => q.tokens.length));
      const ids = new Int32Array(b * t).fill(opts.padId);
      const labels = new Int32Array(b * t).fill(-1);
      batch.forEach((q, r) => {
        ids.set(q.tokens, r * t);
        labels.set(q.labels, r * t);
      });
      const tokens = tf.tensor2d(ids, [b, t], 'int32');
      const sources = Array.from({ length: nf }, (_, j) => {
        const ts = Math.max(...batch.map((q) => q.flips[j].source.length));
        const sid = new Int32Array(b * ts).fill(opts.padId);
        batch.forEach((q, r) => sid.set(q.flips[j].source, r * ts));
        return {
          tokens: tf.tensor2d(sid, [b, ts], 'int32'),
          sourcePos: Int32Array.from(batch, (q) => q.flips[j].sourcePos),
          pos: Int32Array.from(batch, (q) => q.flips[j].pos),
        };
      });
      const [pred, loss] = tf.tidy(() => {
        const edits: SiteEdit[] = sources.map((src) => {
          const a = site.read(src.tokens, src.sourcePos);
          return { pos: src.pos, edit: (h: tf.Tensor2D) => interchange(h, a, W) };
        });
        const logits = site.runEdits(tokens, edits);
        return [tf.argMax(logits, 2), labelLoss(logits, labels)];
      });
      const [pv, lv] = await Promise.all([pred.data(), loss.data()]);
      tf.dispose([pred, loss, tokens, ...sources.map((x) => x.tokens)]);
      tally.add(pv as Int32Array, lv[0], labels, b, t);
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    W.dispose();
  }
  return tally.result(seqs.length);
}

export interface DasOptions {
  /** Dimensions of the aligned subspace. */
  k: number;
  steps?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  padId: number;
  signal?: AbortSignal;
  onProgress?: (p: { step: number; total: number; loss: number }) => void;
}

export interface DasFit {
  /** [D, k] orthonormal columns, row-major. */
  w: Float32Array;
  dim: number;
  k: number;
  /** Training loss per step. */
  losses: number[];
  /** max |W^T W - I| after the last step. */
  orthoError: number;
  /** 'completed' or 'aborted' (stopped by the signal; w is the last step's). */
  status: 'completed' | 'aborted';
}

let fitCounter = 0;

/** G - W sym(W^T G): the gradient g [D, k] projected onto the tangent space of orthonormal frames at w. */
export function tangentProject(w: tf.Tensor2D, g: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const wg = tf.matMul(w, g, true, false);
    return tf.sub(g, tf.matMul(w, tf.mul(0.5, tf.add(wg, tf.transpose(wg))))) as tf.Tensor2D;
  });
}

/** Learn a k-dimensional subspace (DAS) on counterfactual pairs, the model frozen. Deterministic for a seed. */
export async function fitDas(site: InterventionSite, pairs: readonly EncodedPair[], opts: DasOptions): Promise<DasFit> {
  const d = site.dim;
  const k = opts.k;
  if (!Number.isInteger(k) || k < 1 || k > d)
    throw new GroundlabError('BAD_ARGUMENT', `k = ${k}: expected a whole number in 1..${d} (the site's width)`);
  if (!pairs.length) throw new GroundlabError('BAD_ARGUMENT', 'no counterfactual pairs to fit on');
  const steps = opts.steps ?? 200;
  const lr = opts.lr ?? 0.01;
  const bs = Math.min(opts.batchSize ?? 32, pairs.length);
  const rng = new Rng(`${opts.seed ?? 0}/das`);
  const init = tf.tensor2d(randomSubspace(d, k, `${opts.seed ?? 0}/das-init`), [d, k]);
  const w = tf.variable(init, true, `das.w#${++fitCounter}`);
  init.dispose();
  const opt = fitOptimizer('w', w);
  const losses: number[] = [];
  let status: DasFit['status'] = 'completed';
  const nextBatch = fitBatches(pairs, bs, rng, opts.padId);
  try {
    for (let s = 0; s < steps; s++) {
      await new Promise((r) => setImmediate(r));
      if (opts.signal?.aborted) {
        status = 'aborted';
        break;
      }
      const x = nextBatch();
      const src = tf.tidy(() => site.read(x.source, x.sourcePos));
      const { value, grads } = tf.variableGrads(() => batchLoss(site, x, src, w), [w]);
      // The Riemannian gradient: the Euclidean one projected onto the tangent space of orthonormal
      // frames (G - W sym(W^T G)), so Adam never pushes along directions the retraction undoes.
      const tangent = tangentProject(w, grads[w.name] as tf.Tensor2D);
      opt.apply({ w: tangent }, lr * 0.5 * (1 + Math.cos((Math.PI * s) / steps))); // cosine decay
      tangent.dispose();
      const lv = (await value.data())[0];
      tf.dispose([value, src, ...Object.values(grads)]);
      disposeBatch(x);
      await retract(w, d, k);
      losses.push(lv);
      opts.onProgress?.({ step: s + 1, total: steps, loss: lv });
    }
    const out = (await w.data()) as Float32Array;
    return { w: Float32Array.from(out), dim: d, k, losses, orthoError: orthonormalityError(out, d, k), status };
  } finally {
    opt.dispose();
    w.dispose();
  }
}

/** The loss of subspace w on pairs and its gradient (for checks against finite differences). */
export function dasLossAndGrad(
  site: InterventionSite,
  pairs: readonly EncodedPair[],
  w: Float32Array,
  k: number,
  padId: number,
): { loss: number; grad: Float32Array } {
  const x = makeBatch(pairs, padId);
  const W = tf.tensor2d(w, [site.dim, k]);
  const src = tf.tidy(() => site.read(x.source, x.sourcePos));
  const g = tf.grad((ww: tf.Tensor) => batchLoss(site, x, src, ww as tf.Tensor2D));
  const gt = g(W);
  const lt = tf.tidy(() => batchLoss(site, x, src, W));
  const out = { loss: lt.dataSync()[0], grad: Float32Array.from(gt.dataSync()) };
  tf.dispose([W, src, gt, lt]);
  disposeBatch(x);
  return out;
}

/** The pad id of a tokenizer. */
export function padIdOf(tokenizer: Tokenizer): number {
  return tokenizer.id(PAD);
}

/**
 * The probe-derived baseline: the unit direction of a ridge regression of a program variable on
 * the site's activations at every step of `seqs` (one token-id sequence and one value per step
 * each), [D, 1]; `ridge` is relative to the mean variance of the activations (default 0.01).
 * Solved in double precision (normal equations, Cholesky).
 */
export async function probeDirection(
  site: InterventionSite,
  seqs: ReadonlyArray<{ ids: number[]; values: number[] }>,
  opts: { padId: number; ridge?: number; batchSize?: number },
): Promise<Float32Array> {
  const d = site.dim;
  const xtx = new Float64Array(d * d);
  const xty = new Float64Array(d);
  const mean = new Float64Array(d);
  let n = 0;
  let ySum = 0;
  const rows: Array<[Float32Array, number]> = [];
  const bs = opts.batchSize ?? 64;
  for (let i = 0; i < seqs.length; i += bs) {
    const batch = seqs.slice(i, i + bs);
    const t = Math.max(...batch.map((s) => s.ids.length));
    const ids = new Int32Array(batch.length * t).fill(opts.padId);
    batch.forEach((s, b) => ids.set(s.ids, b * t));
    const tokens = tf.tensor2d(ids, [batch.length, t], 'int32');
    for (let p = 0; p < t; p++) {
      const pos = new Int32Array(batch.length).fill(p);
      const a = site.read(tokens, pos);
      const v = (await a.data()) as Float32Array;
      a.dispose();
      batch.forEach((s, b) => {
        if (p < s.values.length) rows.push([v.slice(b * d, (b + 1) * d), s.values[p]]);
      });
    }
    tokens.dispose();
  }
  for (const [x, y] of rows) {
    for (let r = 0; r < d; r++) mean[r] += x[r];
    ySum += y;
    n++;
  }
  if (n < 2) throw new GroundlabError('BAD_ARGUMENT', 'a probe direction needs at least two activations');
  for (let r = 0; r < d; r++) mean[r] /= n;
  const yMean = ySum / n;
  for (const [x, y] of rows) {
    for (let r = 0; r < d; r++) {
      const xr = x[r] - mean[r];
      xty[r] += xr * (y - yMean);
      for (let c = 0; c <= r; c++) xtx[r * d + c] += xr * (x[c] - mean[c]);
    }
  }
  // Ridge relative to the mean variance (trace / D), so that low-variance directions, where a swap changes little, do not dominate.
  let tr = 0;
  for (let r = 0; r < d; r++) tr += xtx[r * d + r];
  const lam = (opts.ridge ?? 0.01) * (tr / d);
  for (let r = 0; r < d; r++) {
    xtx[r * d + r] += lam;
    for (let c = 0; c < r; c++) xtx[c * d + r] = xtx[r * d + c];
  }
  // Cholesky: xtx = L L^T, then two triangular solves.
  const L = new Float64Array(d * d);
  for (let r = 0; r < d; r++)
    for (let c = 0; c <= r; c++) {
      let s = xtx[r * d + c];
      for (let j = 0; j < c; j++) s -= L[r * d + j] * L[c * d + j];
      L[r * d + c] = r === c ? Math.sqrt(Math.max(s, 1e-300)) : s / L[c * d + c];
    }
  const z = new Float64Array(d);
  for (let r = 0; r < d; r++) {
    let s = xty[r];
    for (let j = 0; j < r; j++) s -= L[r * d + j] * z[j];
    z[r] = s / L[r * d + r];
  }
  const beta = new Float64Array(d);
  for (let r = d - 1; r >= 0; r--) {
    let s = z[r];
    for (let j = r + 1; j < d; j++) s -= L[j * d + r] * beta[j];
    beta[r] = s / L[r * d + r];
  }
  return orthonormalize(beta, d, 1);
}

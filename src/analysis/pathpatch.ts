/**
 * Circuit patching beyond single sites (TransformerLens style), on clean / corrupted prompt pairs
 * (`PatchPair`, see patching.ts) and the surprisal of the pair's target after the last position:
 *
 * - path patching: the effect of one sender component (a head or an MLP) on one receiver through
 *   one input (the queries, keys or values of a later head, the input of a later MLP, or the
 *   residual stream into the unembedding), with every other component frozen. Step 1: run clean and corrupted. Step 2: run
 *   the corrupted prompt with the sender's output taken from the clean run and every other
 *   component's output frozen to its corrupted value; record the receiver's input. Step 3: run the
 *   corrupted prompt with only that receiver input replaced (everything else computes freely).
 *   For the 'logits' receiver step 2's output is the answer (the direct path).
 *   With `attribution: true` the same pass also gives edge attribution patching: the change of the
 *   receiver's input from step 2 times the gradient of log p(target) at that input in the
 *   corrupted run (one backward pass for every edge), the gradient approximation of step 3.
 * - attention-pattern patching: one head's token-mixing matrix (its anatomy's mixing hook,
 *   [B, H, T, T]) from the clean run put into the corrupted run.
 * - cross-checkpoint patching: a site (a hook point, or one head of it) of a source model (e.g. a
 *   late checkpoint) put into a target model (an earlier one) on the same sequences.
 *
 * Effects are in nats of surprisal: effect = s_corrupted - s_patched; recovery = effect /
 * (s_corrupted - s_clean), as in activation patching.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { HookSpec, LanguageModel } from '../models/types';
import type { EvalSequence } from '../eval/evalset';
import { lengthBatches, padTokens, padFeatures, targetLogProbs, checkLengths } from '../eval/surprisal';
import { hasBothConditions, meanGainOf } from '../metrics/gain';
import { mean, pairedTest, type PairedTestResult } from '../metrics/stats';
import type { PatchPair } from './patching';
import { hookGradients } from './gradients';

/**
 * A component that writes into the residual stream: one head of a layer's per-head site, a layer's
 * MLP, or the token embedding (`embed`, `hook_embed`: a sender only, given by name; layer -1).
 */
export interface Component {
  kind: 'head' | 'mlp' | 'embed';
  layer: number;
  /** Head index (kind 'head'). */
  head?: number;
}

/** A component with where its output lives. */
export interface ComponentSite extends Component {
  /** 'L1H0' for a head, 'L1.mlp' for an MLP. */
  name: string;
  hook: string;
  /** Axis of the heads (kind 'head'). */
  axis?: number;
  /** Heads at that hook (kind 'head'). */
  size?: number;
}

export const componentName = (c: Component): string =>
  c.kind === 'embed' ? 'embed' : c.kind === 'head' ? `L${c.layer}H${c.head}` : `L${c.layer}.mlp`;

/**
 * The model's components, in forward order: for every layer its heads (the anatomy's per-head
 * output site) and its MLP (`blocks.{l}.hook_mlp_out`, when the model has that hook point).
 */
export function components(model: LanguageModel): ComponentSite[] {
  const pts = new Set(model.hookPoints());
  const out: ComponentSite[] = [];
  model.anatomy.layers.forEach((la, l) => {
    if (la.heads)
      for (let h = 0; h < la.heads.size; h++)
        out.push({ kind: 'head', layer: l, head: h, name: `L${l}H${h}`, hook: la.heads.hook, axis: la.heads.axis, size: la.heads.size });
    const mlp = `blocks.${l}.hook_mlp_out`;
    if (pts.has(mlp)) out.push({ kind: 'mlp', layer: l, name: `L${l}.mlp`, hook: mlp });
  });
  return out;
}

/** Resolve components given by reference (or by name, 'L1H0' / 'L1.mlp' / 'embed') to the model's sites. */
export function resolveComponents(model: LanguageModel, refs: ReadonlyArray<Component | string>): ComponentSite[] {
  const all = components(model);
  if (model.hookPoints().includes('hook_embed')) all.push({ kind: 'embed', layer: -1, name: 'embed', hook: 'hook_embed' });
  return refs.map((r) => {
    const name = typeof r === 'string' ? r : componentName(r);
    const c = all.find((x) => x.name === name);
    if (!c)
      throw new GroundlabError('NOT_FOUND', `the model has no component ${name}`, {
        hint: `components: ${all
          .slice(0, 10)
          .map((x) => x.name)
          .join(', ')}${all.length > 10 ? ', ...' : ''}`,
      });
    return c;
  });
}

/**
 * A receiver of a path: one head's queries, keys or values; a layer's MLP (its normalised input,
 * `blocks.{l}.ln2.hook_normalized`: it reads the heads of its own layer); or the residual stream
 * into the unembedding.
 */
export type Receiver = { layer: number; head: number; input: 'q' | 'k' | 'v' } | { layer: number; input: 'mlp' } | { input: 'logits' };

interface ReceiverSite {
  name: string;
  input: 'q' | 'k' | 'v' | 'mlp' | 'logits';
  layer: number;
  head: number;
  hook: string;
  /** Forward order: a path needs sender order < receiver order (heads of layer l: 2l, its MLP: 2l + 1). */
  order: number;
  /** Heads at the hook (0 for the residual stream). */
  size: number;
}

export const receiverName = (r: Receiver): string =>
  r.input === 'logits' ? 'logits' : r.input === 'mlp' ? `L${r.layer}.mlp` : `L${r.layer}H${r.head}.${r.input}`;

const senderOrder = (c: Component) => (c.kind === 'embed' ? -1 : 2 * c.layer + (c.kind === 'mlp' ? 1 : 0));

function resolveReceiver(model: LanguageModel, r: Receiver): ReceiverSite {
  const layers = model.anatomy.layers;
  if (r.input === 'logits')
    return {
      name: 'logits',
      input: 'logits',
      layer: layers.length,
      head: -1,
      hook: layers[layers.length - 1].residPost,
      size: 0,
      order: Infinity,
    };
  if (r.input === 'mlp') {
    const hook = `blocks.${r.layer}.ln2.hook_normalized`;
    if (!model.hookPoints().includes(hook))
      throw new GroundlabError('UNSUPPORTED', `receiver ${receiverName(r)}: the model has no hook point ${hook}`, {
        hint: "an MLP receiver reads the MLP's normalised input, blocks.{l}.ln2.hook_normalized",
      });
    return { name: receiverName(r), input: 'mlp', layer: r.layer, head: -1, hook, size: 0, order: 2 * r.layer + 1 };
  }
  const hook = `blocks.${r.layer}.attn.hook_${r.input}`;
  const site = layers[r.layer]?.heads;
  if (!site || !model.hookPoints().includes(hook))
    throw new GroundlabError('UNSUPPORTED', `receiver ${receiverName(r)}: the model has no hook point ${hook}`, {
      hint: 'receivers are the q, k or v of a head of a layer with attention-style heads ([B, T, H, Dh] at blocks.{l}.attn.hook_q|k|v), or logits',
    });
  if (r.head < 0 || r.head >= site.size)
    throw new GroundlabError('BAD_ARGUMENT', `receiver ${receiverName(r)}: layer ${r.layer} has ${site.size} heads`);
  return { name: receiverName(r), input: r.input, layer: r.layer, head: r.head, hook, size: site.size, order: 2 * r.layer };
}

/** Every receiver of a model: each head's q, k and v and each MLP (where the hook points exist), then logits. */
export function receivers(model: LanguageModel): Receiver[] {
  const pts = new Set(model.hookPoints());
  const out: Receiver[] = [];
  model.anatomy.layers.forEach((la, l) => {
    if (la.heads)
      for (let h = 0; h < la.heads.size; h++)
        for (const input of ['q', 'k', 'v'] as const) if (pts.has(`blocks.${l}.attn.hook_${input}`)) out.push({ layer: l, head: h, input });
    if (pts.has(`blocks.${l}.ln2.hook_normalized`)) out.push({ layer: l, input: 'mlp' });
  });
  out.push({ input: 'logits' });
  return out;
}

/** [1, ..., size, ..., 1] mask (rank `rank`, `size` along `axis`) with ones at `which`. */
export function axisMask(rank: number, axis: number, size: number, which: readonly number[]): tf.Tensor {
  const m = new Float32Array(size);
  for (const w of which) m[w] = 1;
  const shape = new Array(rank).fill(1);
  shape[axis] = size;
  return tf.reshape(tf.tensor1d(m), shape);
}

/** x with the heads `which` along `axis` taken from src (all of x when `which` is 'all'). */
export function blendHeads(x: tf.Tensor, src: tf.Tensor, axis: number, which: readonly number[] | 'all'): tf.Tensor {
  if (which === 'all') return src;
  return tf.tidy(() => {
    const m = axisMask(x.rank, axis, x.shape[axis], which);
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(src, m));
  });
}

export interface PairBatch {
  /** Indices of the pairs in this batch. */
  idx: number[];
  clean: tf.Tensor2D;
  corrupted: tf.Tensor2D;
  /** What targetLogProbs needs, per row. */
  seqs: Array<{ predPos: number; target: number }>;
}

export interface PairOptions {
  batchSize?: number;
  padId?: number;
  signal?: AbortSignal;
}

/** Check pairs (same length, within the context) and iterate over them in length batches; tensors are disposed after each call. */
export async function forPairBatches(
  model: LanguageModel,
  pairs: readonly PatchPair[],
  opts: PairOptions,
  what: string,
  fn: (b: PairBatch) => Promise<void> | void,
): Promise<void> {
  if (pairs.length === 0) throw new GroundlabError('BAD_ARGUMENT', `${what}: no prompt pairs`);
  pairs.forEach((p, i) => {
    if (p.clean.length !== p.corrupted.length)
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `${what}: pair ${i} has clean and corrupted prompts of different lengths (${p.clean.length} vs ${p.corrupted.length})`,
        { hint: 'a corrupted prompt must align position by position with its clean prompt' },
      );
  });
  const seqs = pairs.map((p) => ({ ids: p.clean, predPos: p.clean.length - 1, target: p.target }));
  checkLengths(model, seqs);
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 32)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', `${what} was stopped`);
    const clean = padTokens(
      idx.map((i) => seqs[i]),
      opts.padId ?? 0,
    );
    const corrupted = padTokens(
      idx.map((i) => ({ ids: pairs[i].corrupted })),
      opts.padId ?? 0,
    );
    try {
      await fn({ idx, clean, corrupted, seqs: idx.map((i) => seqs[i]) });
    } finally {
      clean.dispose();
      corrupted.dispose();
    }
    await new Promise((r) => setImmediate(r));
  }
}

/** Per-pair surprisals of clean, corrupted and patched runs -> a patching summary. */
export interface PatchEffect {
  /** Mean surprisal (nats) of the clean, corrupted and patched runs. */
  clean: number;
  corrupted: number;
  patched: number;
  /** Mean of s_corrupted - s_patched (nats; positive = the patch moves toward clean). */
  effect: number;
  /** Mean per-pair recovery (pairs whose clean and corrupted differ by < 1e-6 nats are left out). */
  recovery: number;
  /** effect / (corrupted - clean), of the means. */
  recoveryOfMeans: number;
  /** Per pair s_corrupted - s_patched. */
  effects: Float64Array;
  n: number;
}

export function patchEffect(sClean: ArrayLike<number>, sCorr: ArrayLike<number>, sPatch: ArrayLike<number>): PatchEffect {
  const n = sClean.length;
  const effects = Float64Array.from({ length: n }, (_, i) => sCorr[i] - sPatch[i]);
  const rec: number[] = [];
  for (let i = 0; i < n; i++) if (Math.abs(sCorr[i] - sClean[i]) >= 1e-6) rec.push(effects[i] / (sCorr[i] - sClean[i]));
  const mc = mean(sClean),
    mk = mean(sCorr),
    mp = mean(sPatch);
  return {
    clean: mc,
    corrupted: mk,
    patched: mp,
    effect: mk - mp,
    recovery: rec.length ? mean(rec) : NaN,
    recoveryOfMeans: Math.abs(mk - mc) >= 1e-9 ? (mk - mp) / (mk - mc) : NaN,
    effects,
    n,
  };
}

export interface PathPatchOptions extends PairOptions {
  /** Sender components (default: every component). */
  senders?: ReadonlyArray<Component | string>;
  /** Receivers (default: every head's q, k, v, every MLP and logits). Only receivers after a sender form a path (a head's q/k/v in a later layer; an MLP of the same or a later layer). */
  receivers?: readonly Receiver[];
  /** Also compute edge attribution patching for every path (one backward pass per batch). */
  attribution?: boolean;
}

export interface PathResult extends PatchEffect {
  sender: string;
  receiver: string;
  /** -1 for the embedding. */
  senderLayer: number;
  senderHead: number;
  senderKind: Component['kind'];
  receiverLayer: number;
  receiverHead: number;
  input: 'q' | 'k' | 'v' | 'mlp' | 'logits';
  /** Edge attribution patching's estimate of `effect` (nats), with `attribution: true`. */
  attribution?: number;
  /** Per pair estimates. */
  attributions?: Float64Array;
}

/** Path patching from each sender to each later receiver (see the file comment). */
export async function pathPatching(model: LanguageModel, pairs: readonly PatchPair[], opts: PathPatchOptions = {}): Promise<PathResult[]> {
  const all = components(model);
  const senders = opts.senders ? resolveComponents(model, opts.senders) : all;
  const recvs = (opts.receivers ?? receivers(model)).map((r) => resolveReceiver(model, r));
  // every head and MLP output is frozen; a sender outside them (the embedding) is patched too
  const compHooks = [...new Set([...all, ...senders].map((c) => c.hook))];
  const recvHooks = [...new Set(recvs.map((r) => r.hook))];
  const paths: Array<[ComponentSite, ReceiverSite]> = [];
  for (const s of senders) for (const r of recvs) if (r.order > senderOrder(s)) paths.push([s, r]);
  if (paths.length === 0)
    throw new GroundlabError('BAD_ARGUMENT', 'path patching: no receiver lies after any sender', {
      hint: "a head's q/k/v receives from earlier layers, an MLP from its own layer's heads and earlier layers; logits from everything",
    });
  const N = pairs.length;
  const sClean = new Float64Array(N),
    sCorr = new Float64Array(N);
  const sPath = paths.map(() => new Float64Array(N));
  const attr = paths.map(() => new Float64Array(N));
  const metric = (seqs: PairBatch['seqs']) => (logits: tf.Tensor3D) => tf.sum(targetLogProbs(logits, seqs)) as tf.Scalar;
  await forPairBatches(model, pairs, opts, 'path patching', async ({ idx, clean, corrupted, seqs }) => {
    const cc = model.runWithCache(clean, { names: compHooks });
    const kc = model.runWithCache(corrupted, { names: [...new Set([...compHooks, ...recvHooks])] });
    const grads = opts.attribution ? hookGradients(model, corrupted, recvHooks, metric(seqs)) : undefined;
    const out: tf.Tensor[] = [];
    try {
      out.push(targetLogProbs(cc.logits, seqs), targetLogProbs(kc.logits, seqs));
      for (const s of senders) {
        const mine = paths.filter((p) => p[0] === s);
        if (!mine.length) continue;
        // step 2: the sender clean, every other component frozen to the corrupted run
        const frozen: HookSpec = compHooks.map(
          (h) =>
            [
              h,
              (x: tf.Tensor) =>
                h === s.hook
                  ? blendHeads(kc.cache.get(h), cc.cache.get(h), s.axis ?? 2, s.kind === 'head' ? [s.head!] : 'all')
                  : kc.cache.get(h),
            ] as [string, (x: tf.Tensor) => tf.Tensor],
        );
        const step2 = model.runWithCache(corrupted, { hooks: frozen, names: recvHooks });
        try {
          const lpDirect = targetLogProbs(step2.logits, seqs);
          for (const [, r] of mine) {
            const a = grads
              ? tf.tidy(() => {
                  const d = tf.sub(step2.cache.get(r.hook), kc.cache.get(r.hook));
                  let prod = tf.mul(d, grads.grads.get(r.hook)!);
                  if (r.size) prod = tf.mul(prod, axisMask(prod.rank, 2, r.size, [r.head]));
                  return tf.sum(tf.reshape(prod, [prod.shape[0], -1]), 1);
                })
              : undefined;
            if (r.input === 'logits') {
              out.push(lpDirect.clone());
            } else {
              // step 3: only the receiver's input changes
              const v = step2.cache.get(r.hook);
              out.push(
                tf.tidy(() =>
                  targetLogProbs(
                    model.forward(corrupted, { hooks: { [r.hook]: (x) => (r.size ? blendHeads(x, v, 2, [r.head]) : v) } }),
                    seqs,
                  ),
                ),
              );
            }
            out.push(a ?? tf.zeros([idx.length]));
          }
          lpDirect.dispose();
        } finally {
          step2.logits.dispose();
          step2.cache.dispose();
        }
      }
      const vals = await Promise.all(out.map((t) => t.data()));
      idx.forEach((i, b) => {
        sClean[i] = -vals[0][b];
        sCorr[i] = -vals[1][b];
        let j = 2;
        for (const s of senders)
          paths.forEach((p, k) => {
            if (p[0] !== s) return;
            sPath[k][i] = -vals[j++][b];
            attr[k][i] = vals[j++][b];
          });
      });
    } finally {
      out.forEach((t) => t.dispose());
      cc.logits.dispose();
      cc.cache.dispose();
      kc.logits.dispose();
      kc.cache.dispose();
      grads?.dispose();
    }
  });
  return paths.map(([s, r], k) => ({
    sender: s.name,
    receiver: r.name,
    senderLayer: s.layer,
    senderHead: s.kind === 'head' ? s.head! : -1,
    senderKind: s.kind,
    receiverLayer: r.layer,
    receiverHead: r.head,
    input: r.input,
    ...patchEffect(sClean, sCorr, sPath[k]),
    ...(opts.attribution ? { attribution: mean(attr[k]), attributions: attr[k] } : {}),
  }));
}

/** The token-mixing hook of a layer (its anatomy's mixing site), or an UNSUPPORTED error. */
function mixingSite(model: LanguageModel, layer: number): { hook: string; heads: number } {
  const m = model.anatomy.layers[layer]?.mixing;
  if (!m)
    throw new GroundlabError('UNSUPPORTED', `layer ${layer} of this ${model.arch} has no token-mixing matrix`, {
      hint: 'pattern patching needs a layer whose anatomy names a mixing hook (attention, SSD or GLA)',
    });
  return { hook: m.hook, heads: m.heads };
}

export interface PatternPatchResult extends PatchEffect {
  layer: number;
  head: number;
  hook: string;
}

/** Attention-pattern patching: each given head's mixing matrix from the clean run into the corrupted run (default: every head of every mixing layer). */
export async function patternPatching(
  model: LanguageModel,
  pairs: readonly PatchPair[],
  opts: PairOptions & { heads?: ReadonlyArray<{ layer: number; head: number }> } = {},
): Promise<PatternPatchResult[]> {
  const heads =
    opts.heads?.slice() ??
    model.anatomy.layers.flatMap((la, l) => (la.mixing ? Array.from({ length: la.mixing.heads }, (_, h) => ({ layer: l, head: h })) : []));
  const sites = heads.map((h) => {
    const m = mixingSite(model, h.layer);
    if (h.head < 0 || h.head >= m.heads)
      throw new GroundlabError('BAD_ARGUMENT', `pattern patching: layer ${h.layer} has ${m.heads} heads, not head ${h.head}`);
    return { ...h, hook: m.hook };
  });
  if (!sites.length) throw new GroundlabError('UNSUPPORTED', `this ${model.arch} has no token-mixing matrix to patch`);
  const hooks = [...new Set(sites.map((s) => s.hook))];
  const N = pairs.length;
  const sClean = new Float64Array(N),
    sCorr = new Float64Array(N);
  const sP = sites.map(() => new Float64Array(N));
  await forPairBatches(model, pairs, opts, 'pattern patching', async ({ idx, clean, corrupted, seqs }) => {
    const cc = model.runWithCache(clean, { names: hooks });
    const out: tf.Tensor[] = [];
    try {
      out.push(
        targetLogProbs(cc.logits, seqs),
        tf.tidy(() => targetLogProbs(model.forward(corrupted), seqs)),
      );
      for (const s of sites)
        out.push(
          tf.tidy(() =>
            targetLogProbs(
              model.forward(corrupted, { hooks: { [s.hook]: (x) => blendHeads(x, cc.cache.get(s.hook), 1, [s.head]) } }),
              seqs,
            ),
          ),
        );
      const vals = await Promise.all(out.map((t) => t.data()));
      idx.forEach((i, b) => {
        sClean[i] = -vals[0][b];
        sCorr[i] = -vals[1][b];
        sites.forEach((_, k) => (sP[k][i] = -vals[2 + k][b]));
      });
    } finally {
      out.forEach((t) => t.dispose());
      cc.logits.dispose();
      cc.cache.dispose();
    }
  });
  return sites.map((s, k) => ({ layer: s.layer, head: s.head, hook: s.hook, ...patchEffect(sClean, sCorr, sP[k]) }));
}

/** A site to carry between models: a hook point, or one head of it (heads along axis 1 of a mixing hook, axis 2 otherwise). */
export interface Site {
  hook: string;
  head?: number;
}

export interface CrossPatchResult {
  hook: string;
  head: number;
  /** Mean surprisal in the target model, the source model and the target model with the source's site. */
  target: number;
  source: number;
  patched: number;
  /** (target - patched) / (target - source), of the means: 1 = the site carries the whole difference. */
  recoveryOfMeans: number;
  /** Per sequence surprisal with the patch. */
  surprisal: Float64Array;
  /** Grounding gain G (nats; mean over nouns) of target, source and patched, when the sequences hold match and mismatch contexts. */
  gain?: { target: number; source: number; patched: number };
}

/**
 * Cross-checkpoint patching: on each sequence, run the source model (e.g. a late checkpoint),
 * put its activation at each site into the target model (e.g. an earlier checkpoint of the same
 * run) and score the target's surprisal. Both models must have the site with the same shape.
 */
export async function crossCheckpointPatching(
  source: LanguageModel,
  target: LanguageModel,
  seqs: readonly EvalSequence[],
  sites: readonly Site[],
  opts: PairOptions = {},
): Promise<CrossPatchResult[]> {
  if (!sites.length) throw new GroundlabError('BAD_ARGUMENT', 'cross-checkpoint patching: no sites');
  const mixing = new Set(target.anatomy.layers.map((l) => l.mixing?.hook).filter(Boolean));
  for (const m of [source, target]) {
    const pts = new Set(m.hookPoints());
    for (const s of sites)
      if (!pts.has(s.hook))
        throw new GroundlabError(
          'NOT_FOUND',
          `cross-checkpoint patching: the ${m === source ? 'source' : 'target'} model has no hook point ${s.hook}`,
          { hint: 'both models must be of the same architecture and size' },
        );
  }
  checkLengths(target, seqs);
  const hooks = [...new Set(sites.map((s) => s.hook))];
  const N = seqs.length;
  const sT = new Float64Array(N),
    sS = new Float64Array(N);
  const sP = sites.map(() => new Float64Array(N));
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 32)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'cross-checkpoint patching was stopped');
    const batch = idx.map((i) => seqs[i]);
    const tokens = padTokens(batch, opts.padId ?? 0);
    const env = padFeatures(batch, target.config.envFeatureDim ?? 0);
    const src = source.runWithCache(tokens, env ? { names: hooks, envFeatures: env } : { names: hooks });
    const out: tf.Tensor[] = [];
    try {
      out.push(
        targetLogProbs(src.logits, batch),
        tf.tidy(() => targetLogProbs(target.forward(tokens, env ? { envFeatures: env } : {}), batch)),
      );
      for (const s of sites) {
        const a = src.cache.get(s.hook);
        out.push(
          tf.tidy(() =>
            targetLogProbs(
              target.forward(tokens, {
                ...(env ? { envFeatures: env } : {}),
                hooks: {
                  [s.hook]: (x) => {
                    if (!tf.util.arraysEqual(x.shape, a.shape))
                      throw new GroundlabError(
                        'BAD_ARGUMENT',
                        `cross-checkpoint patching: ${s.hook} has shape [${a.shape}] in the source and [${x.shape}] in the target`,
                        { hint: 'both models must be of the same architecture and size' },
                      );
                    if (s.head === undefined) return a;
                    const axis = mixing.has(s.hook) ? 1 : 2;
                    if (x.rank <= axis || s.head < 0 || s.head >= (x.shape[axis] as number))
                      throw new GroundlabError(
                        'BAD_ARGUMENT',
                        `cross-checkpoint patching: ${s.hook} (shape [${x.shape}]) has no head ${s.head}`,
                      );
                    return blendHeads(x, a, axis, [s.head]);
                  },
                },
              }),
              batch,
            ),
          ),
        );
      }
      const vals = await Promise.all(out.map((t) => t.data()));
      idx.forEach((i, b) => {
        sS[i] = -vals[0][b];
        sT[i] = -vals[1][b];
        sites.forEach((_, k) => (sP[k][i] = -vals[2 + k][b]));
      });
    } finally {
      out.forEach((t) => t.dispose());
      src.logits.dispose();
      src.cache.dispose();
      tokens.dispose();
      env?.dispose();
    }
    await new Promise((r) => setImmediate(r));
  }
  const hasBoth = hasBothConditions(seqs);
  const g = (s: Float64Array) => meanGainOf(seqs, s);
  const mt = mean(sT),
    ms = mean(sS);
  return sites.map((s, k) => {
    const mp = mean(sP[k]);
    return {
      hook: s.hook,
      head: s.head ?? -1,
      target: mt,
      source: ms,
      patched: mp,
      recoveryOfMeans: Math.abs(mt - ms) >= 1e-9 ? (mt - mp) / (mt - ms) : NaN,
      surprisal: sP[k],
      ...(hasBoth ? { gain: { target: g(sT), source: g(sS), patched: g(sP[k]) } } : {}),
    };
  });
}

export interface PathTestResult {
  /** The tested paths (e.g. every gather head -> every aggregate head's q, k and v). */
  tested: PathResult[];
  /** The control paths: from every head not among the tested senders to the same receivers. */
  controls: PathResult[];
  /** Per pair: mean effect over the tested paths, and over the control paths (nats). */
  effect: Float64Array;
  control: Float64Array;
  /** tested vs control, paired over prompt pairs. */
  test: PairedTestResult;
  /** Rank of each tested path's mean effect among the tested and control paths into the same receiver (1 + the number of larger effects). */
  ranks: number[];
}

/**
 * The causal test of a path set (the paper's gather -> aggregate story): the path effects of the
 * tested senders into the tested receivers, against control paths from every other head into the
 * same receivers, paired over prompt pairs (t-test and Wilcoxon). Receivers default to each
 * tested receiver head's q, k and v.
 */
export async function pathTest(
  model: LanguageModel,
  pairs: readonly PatchPair[],
  senders: ReadonlyArray<Component | string>,
  receiverHeads: ReadonlyArray<{ layer: number; head: number }>,
  opts: PairOptions & { inputs?: ReadonlyArray<'q' | 'k' | 'v'> } = {},
): Promise<PathTestResult> {
  const tested = resolveComponents(model, senders);
  if (!tested.length || !receiverHeads.length)
    throw new GroundlabError('BAD_ARGUMENT', 'path test: give at least one sender and one receiver head');
  const inputs = opts.inputs ?? ['q', 'k', 'v'];
  const recv: Receiver[] = receiverHeads.flatMap((r) => inputs.map((input) => ({ layer: r.layer, head: r.head, input })));
  const testedNames = new Set(tested.map((c) => c.name));
  const controlSenders = components(model).filter((c) => c.kind === 'head' && !testedNames.has(c.name));
  const all = await pathPatching(model, pairs, { ...opts, senders: [...tested, ...controlSenders], receivers: recv });
  return comparePaths(all, testedNames);
}

/**
 * The path test on paths already computed (by one `pathPatching` call over every head): the
 * paths from the `tested` senders against control paths from every other head not in `exclude`
 * (default: the tested senders) into the receivers the tested paths reach, paired over prompt
 * pairs (t-test and Wilcoxon). `pathTest` is this over its own path patching.
 */
export function comparePaths(
  all: readonly PathResult[],
  tested: ReadonlySet<string>,
  exclude: ReadonlySet<string> = tested,
): PathTestResult {
  const t = all.filter((p) => tested.has(p.sender));
  if (!t.length)
    throw new GroundlabError('BAD_ARGUMENT', 'path test: no tested receiver lies after a tested sender', {
      hint: 'a receiver head must be in a later layer than its sender',
    });
  const receiversHit = new Set(t.map((p) => p.receiver));
  const c = all.filter((p) => p.senderHead >= 0 && !tested.has(p.sender) && !exclude.has(p.sender) && receiversHit.has(p.receiver));
  if (!c.length) throw new GroundlabError('BAD_ARGUMENT', 'path test: no control head precedes the tested receivers');
  return pathsVersus(t, c, (p, q) => p.receiver === q.receiver);
}

/**
 * Tested paths against control paths of the same prompt pairs: per pair the mean effect of each
 * set, a paired t-test and Wilcoxon, and each tested path's rank among the tested and control
 * paths that `comparable` pairs with it (1 + the number with a larger effect).
 */
export function pathsVersus(
  tested: readonly PathResult[],
  controls: readonly PathResult[],
  comparable: (p: PathResult, q: PathResult) => boolean = () => true,
): PathTestResult {
  if (!tested.length || !controls.length)
    throw new GroundlabError('BAD_ARGUMENT', 'path test: give at least one tested and one control path');
  const N = tested[0].n;
  if ([...tested, ...controls].some((p) => p.n !== N))
    throw new GroundlabError('BAD_ARGUMENT', 'path test: tested and control paths must come from the same prompt pairs');
  const per = (ps: readonly PathResult[]) => Float64Array.from({ length: N }, (_, i) => mean(ps.map((p) => p.effects[i])));
  const effect = per(tested),
    control = per(controls);
  const ranks = tested.map((p) => 1 + [...tested, ...controls].filter((q) => comparable(p, q) && q.effect > p.effect).length);
  return { tested: [...tested], controls: [...controls], effect, control, test: pairedTest(effect, control), ranks };
}

/**
 * Activation collection for probes: run a model over many contexts in batches and keep only the
 * activation at one selected position of each context, for the requested hook points. Everything
 * else (the rest of the cache, the logits) is disposed batch by batch, so memory grows with
 * n_contexts x n_hooks x width, never with the sequence length or the number of hook points the
 * model has.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { LanguageModel } from '../models/types';

/**
 * Which position of a context a probe reads:
 * - `last`: the last token;
 * - `pre-lan`: the position whose next token is the LAN word to predict (the context's `lanIndex - 1`,
 *   or its last token when the context stops right before the LAN word, as evaluation frames do);
 * - `env`: the (last) ENV token of the context (a token whose string ends with `<ENV>`);
 * - a number: a fixed position, counted from the end when negative (-1 = last).
 */
export type PositionSelector = 'last' | 'pre-lan' | 'env' | number;

export const POSITION_SELECTORS = ['last', 'pre-lan', 'env'] as const;

/** Parse a selector as written on the command line: last | pre-lan | env | an integer. */
export function parsePosition(s: string): PositionSelector {
  if (s === 'last' || s === 'pre-lan' || s === 'env') return s;
  if (/^-?\d+$/.test(s.trim())) return Number(s);
  throw new GroundlabError('BAD_ARGUMENT', `position "${s}" is not a position selector`, {
    hint: 'use last, pre-lan, env or an integer (negative counts from the end)',
  });
}

/** Where the ENV and LAN words of a context sit, when the task knows better than the token strings. */
export interface PositionHints {
  /** Index of the LAN word to predict (may equal tokens.length when the context stops before it). */
  lanIndex?: number;
  /** Index of the ENV token of interest. */
  envIndex?: number;
}

/** Resolve a selector on a context given as token strings; returns an index into `tokens`. */
export function resolvePosition(sel: PositionSelector, tokens: readonly string[], hints: PositionHints = {}): number {
  const n = tokens.length;
  let p: number;
  if (sel === 'last') p = n - 1;
  else if (sel === 'pre-lan') p = (hints.lanIndex ?? n) - 1;
  else if (sel === 'env') {
    p = hints.envIndex ?? -1;
    if (hints.envIndex == null) for (let i = n - 1; i >= 0 && p < 0; i--) if (tokens[i].endsWith('<ENV>')) p = i;
    if (p < 0)
      throw new GroundlabError('NOT_FOUND', `the context has no ENV token: ${tokens.slice(0, 12).join(' ')}${n > 12 ? ' ...' : ''}`);
  } else p = sel < 0 ? n + sel : sel;
  if (!(p >= 0 && p < n)) {
    throw new GroundlabError('BAD_ARGUMENT', `position ${String(sel)} resolves to ${p}, outside a context of ${n} tokens`);
  }
  return p;
}

/** One context to read: token ids and the position whose activations are kept. */
export interface ProbeContext {
  tokens: ArrayLike<number>;
  position: number;
  /** [tokens.length * featureDim] continuous ENV features (image-grounded runs only). */
  features?: Float32Array;
}

export interface ProbeProgressEvent {
  task: string;
  step: number;
  total: number;
  message?: string;
  done?: boolean;
}
/** Structurally the same as the trainer's ProgressFn (src/train/progress.ts). */
export type ProbeProgressFn = (e: ProbeProgressEvent) => void;

export interface CollectOptions {
  /** Hook point names to read (see model.hookPoints()). */
  hooks: string[];
  /** Contexts per forward pass. */
  batchSize?: number;
  /** Token id used to pad shorter contexts on the right (never read: models are causal). */
  padId?: number;
  signal?: AbortSignal;
  onProgress?: ProbeProgressFn;
  /** Label of progress events. */
  progressTask?: string;
}

export interface Activations {
  n: number;
  hooks: string[];
  /** Width of each hook's activation vector. */
  dims: Record<string, number>;
  /** Per hook, [n, dims[hook]] row-major. */
  x: Record<string, Float32Array>;
  /** Token id at the read position of each context. */
  tokenAtPosition: Int32Array;
}

const PAIRWISE = /hook_(pattern|attn_scores)$/;

/**
 * Run `model` over `contexts` and keep, for each hook in `opts.hooks`, the activation vector at each
 * context's position. Contexts are cut after their position (causal models never look ahead) and
 * to the model's context length (keeping the tokens just before the position), sorted by length
 * and batched with right padding. Tensors are disposed per batch.
 */
export async function collectActivations(
  model: LanguageModel,
  contexts: readonly ProbeContext[],
  opts: CollectOptions,
): Promise<Activations> {
  const hooks = [...opts.hooks];
  if (!hooks.length) throw new GroundlabError('BAD_ARGUMENT', 'no hook points to collect');
  const known = new Set(model.hookPoints());
  for (const h of hooks) {
    if (!known.has(h)) {
      const near = [...known].filter((k) => k.includes(h.split('.').pop() ?? h)).slice(0, 6);
      throw new GroundlabError('NOT_FOUND', `hook point "${h}" does not exist in this ${model.arch}`, {
        hint: near.length ? `hook points with a similar name: ${near.join(', ')}` : `hook points: ${[...known].slice(0, 8).join(', ')} ...`,
      });
    }
    if (PAIRWISE.test(h)) {
      throw new GroundlabError('UNSUPPORTED', `hook point "${h}" is position x position; a probe reads one position's vector`, {
        hint: 'probe hook_z, hook_attn_out or the residual stream instead',
      });
    }
  }
  const L = model.config.contextLength;
  const fdim = model.config.envFeatureDim ?? 0;
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const padId = opts.padId ?? 0;
  // Windows: tokens (start, end] around each position, end = position + 1.
  const n = contexts.length;
  const starts = new Int32Array(n);
  const lens = new Int32Array(n);
  const tokenAtPosition = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = contexts[i];
    if (!(Number.isInteger(c.position) && c.position >= 0 && c.position < c.tokens.length)) {
      throw new GroundlabError('BAD_ARGUMENT', `context ${i}: position ${c.position} is outside its ${c.tokens.length} tokens`);
    }
    starts[i] = Math.max(0, c.position + 1 - L);
    lens[i] = c.position + 1 - starts[i];
    tokenAtPosition[i] = c.tokens[c.position];
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => lens[a] - lens[b] || a - b);
  const dims: Record<string, number> = {};
  const x: Record<string, Float32Array> = {};
  const total = Math.ceil(n / batchSize);
  const task = opts.progressTask ?? 'probe activations';
  for (let b = 0; b < total; b++) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', `${task}: stopped after ${b} of ${total} batches`);
    const idx = order.slice(b * batchSize, (b + 1) * batchSize);
    const B = idx.length;
    const T = Math.max(...idx.map((i) => lens[i]));
    const ids = new Int32Array(B * T).fill(padId);
    const rows = new Int32Array(B);
    const feats = fdim > 0 ? new Float32Array(B * T * fdim) : undefined;
    idx.forEach((i, r) => {
      const c = contexts[i];
      for (let t = 0; t < lens[i]; t++) ids[r * T + t] = c.tokens[starts[i] + t];
      rows[r] = r * T + lens[i] - 1;
      if (feats && c.features) feats.set(c.features.subarray(starts[i] * fdim, (starts[i] + lens[i]) * fdim), r * T * fdim);
    });
    const tokens = tf.tensor2d(ids, [B, T], 'int32'); // [B, T]
    const envFeatures = feats ? tf.tensor3d(feats, [B, T, fdim]) : undefined; // [B, T, F]
    let out: ReturnType<LanguageModel['runWithCache']> | undefined;
    try {
      out = model.runWithCache(tokens, { names: hooks, envFeatures });
      for (const h of hooks) {
        const picked = tf.tidy(() => {
          const a = out!.cache.get(h); // [B, T, ...]
          const flat = tf.reshape(a, [B * T, -1]); // [B*T, width]
          return tf.gather(flat, tf.tensor1d(rows, 'int32')); // [B, width]
        });
        const width = picked.shape[1] as number;
        const data = picked.dataSync() as Float32Array;
        picked.dispose();
        if (dims[h] === undefined) {
          dims[h] = width;
          x[h] = new Float32Array(n * width);
        } else if (dims[h] !== width) {
          throw new GroundlabError('INTERNAL', `hook ${h} changed width from ${dims[h]} to ${width} between batches`);
        }
        idx.forEach((i, r) => x[h].set(data.subarray(r * width, (r + 1) * width), i * width));
      }
    } finally {
      out?.cache.dispose();
      out?.logits.dispose();
      tokens.dispose();
      envFeatures?.dispose();
    }
    opts.onProgress?.({ task, step: b + 1, total, done: b + 1 === total });
    // Let other work (progress rendering, SIGINT) run between batches.
    await new Promise((r) => setImmediate(r));
  }
  return { n, hooks, dims, x, tokenAtPosition };
}

/** The residual-stream hook after each block (the model anatomy's `residPost`, e.g. `blocks.{l}.hook_resid_post`). */
export function residPostHooks(model: LanguageModel): string[] {
  const have = new Set(model.hookPoints());
  const out = model.anatomy.layers.map((l) => l.residPost).filter((n) => have.has(n));
  if (!out.length)
    throw new GroundlabError('NOT_FOUND', `this ${model.arch} has no blocks.{l}.hook_resid_post hook points`, {
      hint: 'name the hooks to probe',
    });
  return out;
}

/**
 * The residual stream at every depth: the input of the first block (the anatomy's lens input:
 * `blocks.0.hook_resid_pre`, or `hook_embed` for the recurrent models), then every block's output.
 */
export function residualHooks(model: LanguageModel): string[] {
  const have = new Set(model.hookPoints());
  const first = model.anatomy.lens.input;
  return [...(have.has(first) ? [first] : []), ...residPostHooks(model)];
}

/**
 * Depth of a hook point, numbered as the tuned lens numbers layers: 0 = the input of the first
 * block (embeddings, `blocks.0.hook_resid_pre`), l + 1 = after block l (`blocks.{l}.hook_resid_post`),
 * l + 0.5 for points inside block l (attention, MLP, `hook_resid_mid`), nLayers for the final norm.
 */
export function hookLayer(name: string, nLayers: number): number {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(name);
  if (m) {
    const l = Number(m[1]);
    if (m[2] === 'hook_resid_pre') return l;
    if (m[2] === 'hook_resid_post') return l + 1;
    return l + 0.5;
  }
  if (name.startsWith('ln_final') || name.startsWith('final')) return nLayers;
  return 0;
}

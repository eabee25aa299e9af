/**
 * Saliency flow. For every layer and head: S = |A (elementwise) dL/dA|, with A the attention
 * pattern (Transformer, `blocks.{l}.attn.hook_pattern`) or the SSD token-mixing matrix (Mamba-2,
 * `blocks.{l}.ssd.hook_pattern`), both [B, H, T, T], and L the surprisal of v<LAN> at the
 * prediction position of the match context. dL/dA is recorded by a hook that replaces A with an
 * identity `tf.customGrad` whose backward pass keeps the incoming gradient.
 *
 * Per layer the paper's I_l = |sum_h A_h (elementwise) dL/dA_h|. The flow of interest is the cell
 * (prediction position, v<ENV> position); its share of the layer's (or head's) total saliency is
 * reported. For models without a token-mixing matrix (LSTM, GRU, `mixing: none`) we report gradient-times-input saliency over
 * positions at the embedding: s_t = |sum_d e_{t,d} dL/de_{t,d}|, and the share of position
 * v<ENV>; this is a different quantity (documented in docs/analysis.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { LanguageModel, HookSpec } from '../models/types';
import type { EvalSequence } from '../eval/evalset';
import { lengthBatches, padTokens, targetLogProbs, checkLengths } from '../eval/surprisal';
import { saliencyShares, type HeadShare } from '../metrics/heads';
import { recordingIdentity } from './gradients';

export interface SaliencyOptions {
  /** Also return every context's maps (attention/SSD: [T*T] per layer and head; input: [T] per context). */
  keepMaps?: boolean;
  /** Which contexts to use: the match contexts (default, the paper's measure) or all given sequences. */
  conditions?: 'match' | 'all';
  batchSize?: number;
  padId?: number;
  signal?: AbortSignal;
  onBatch?: (done: number, total: number) => void;
}

export interface LayerFlow {
  layer: number;
  /** Mean over contexts of I_l[pred, env] / sum(I_l). */
  flowShare: number;
  /** Mean over contexts of sum(I_l) (the layer's total saliency). */
  total: number;
}

export interface SaliencyResult {
  /** 'attention' (Transformer), 'ssd' (Mamba-2), 'gla' (gated linear attention) or 'input' (gradient x input; LSTM, GRU, no mixing matrix). */
  kind: 'attention' | 'ssd' | 'gla' | 'input';
  /** Per head mean shares (empty for kind 'input'). */
  heads: HeadShare[];
  /** Per layer flow (for 'input': one row, layer -1, the share of the v<ENV> position). */
  layers: LayerFlow[];
  /** Number of contexts. */
  n: number;
  /** With keepMaps: per context (in the order of the used sequences), maps[l * H + h] = |A * dL/dA| as [T*T] row-major (T = the context's length; l counts the layers that have a mixing matrix, see `mixingHooks`); for 'input', maps[0] = [T]. */
  maps?: Float64Array[][];
  /** The sequences used (match contexts unless conditions = 'all'). */
  used?: EvalSequence[];
}

/**
 * The token-mixing hook points of a model, from its anatomy: the layers that have a mixing matrix
 * [B, H, T, T] (attention, SSD or GLA), their hooks and the number of heads (the largest over those
 * layers; every mixing layer of the registered architectures has the same). Undefined when no layer
 * mixes tokens through a matrix (LSTM, GRU, `mixing: none` everywhere).
 */
export function mixingHooks(
  model: LanguageModel,
): { kind: 'attention' | 'ssd' | 'gla'; names: string[]; layers: number[]; heads: number } | undefined {
  const sites = model.anatomy.layers.map((l, i) => ({ layer: i, site: l.mixing })).filter((x) => x.site);
  if (!sites.length) return undefined;
  return {
    kind: sites[0].site!.kind,
    names: sites.map((x) => x.site!.hook),
    layers: sites.map((x) => x.layer),
    heads: Math.max(...sites.map((x) => x.site!.heads)),
  };
}

/** Saliency of the match contexts of an evaluation set. */
export async function saliency(model: LanguageModel, seqs: readonly EvalSequence[], opts: SaliencyOptions = {}): Promise<SaliencyResult> {
  const match = opts.conditions === 'all' ? seqs.slice() : seqs.filter((s) => s.condition === 'match');
  const maps: Float64Array[][] | undefined = opts.keepMaps ? match.map(() => []) : undefined;
  checkLengths(model, match);
  const mix = mixingHooks(model);
  const kind = mix?.kind ?? 'input';
  if (!mix && !model.hookPoints().includes('hook_embed'))
    throw new GroundlabError('UNSUPPORTED', `model ${model.arch} has neither token-mixing hooks nor hook_embed`, {
      hint: 'saliency needs hook_pattern or hook_embed',
    });
  const names = mix ? mix.names : ['hook_embed'];
  const L = names.length;
  const H = mix ? mix.heads : 0;
  const aggSum = new Float64Array(L * Math.max(H, 1));
  const gatSum = new Float64Array(L * Math.max(H, 1));
  const flowSum = new Float64Array(L);
  const totSum = new Float64Array(L);
  let done = 0;
  for (const idx of lengthBatches(match, opts.batchSize ?? 32)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'saliency was stopped');
    const batch = idx.map((i) => match[i]);
    const recorded: Array<tf.Tensor | undefined> = new Array(L).fill(undefined);
    const tokens = padTokens(batch, opts.padId ?? 0);
    const T = tokens.shape[1];
    const f = (probe: tf.Tensor) => {
      const hooks: HookSpec = {};
      names.forEach((name, l) => {
        const ident = recordingIdentity((x, dy) => {
          recorded[l]?.dispose();
          // attention / SSD: A * dL/dA [B, H, T, T]; input: sum_d e * dL/de [B, T]
          recorded[l] = tf.keep(mix ? tf.mul(x, dy) : tf.sum(tf.mul(x, dy), -1));
        });
        hooks[name] = (x) => ident(x, probe);
      });
      const logits = model.forward(tokens, { hooks });
      return tf.neg(tf.sum(targetLogProbs(logits, batch))) as tf.Scalar;
    };
    const probe = tf.scalar(0);
    const g = tf.grad(f)(probe);
    g.dispose();
    probe.dispose();
    tokens.dispose();
    for (let l = 0; l < L; l++) {
      const r = recorded[l];
      if (!r)
        throw new GroundlabError('INTERNAL', `no gradient reached ${names[l]}`, {
          hint: 'the model must run the hook inside the gradient graph',
        });
      const v = await r.data();
      r.dispose();
      batch.forEach((s, b) => {
        const n = s.ids.length;
        if (maps) {
          const m = maps[idx[b]];
          if (mix) {
            for (let h = 0; h < H; h++) {
              const off = (b * H + h) * T * T;
              const out = new Float64Array(n * n);
              for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = Math.abs(v[off + i * T + j]);
              m[l * H + h] = out;
            }
          } else m[0] = Float64Array.from({ length: n }, (_, t) => Math.abs(v[b * T + t]));
        }
        if (mix) {
          const layerMap = new Float64Array(T * T);
          for (let h = 0; h < H; h++) {
            const off = (b * H + h) * T * T;
            const headMap = new Float64Array(T * T);
            for (let c = 0; c < T * T; c++) {
              headMap[c] = Math.abs(v[off + c]);
              layerMap[c] += v[off + c];
            }
            const sh = saliencyShares(headMap, T, s.envPos, s.predPos);
            aggSum[l * H + h] += sh.aggregate;
            gatSum[l * H + h] += sh.gather;
          }
          for (let c = 0; c < T * T; c++) layerMap[c] = Math.abs(layerMap[c]);
          const sl = saliencyShares(layerMap, T, s.envPos, s.predPos);
          flowSum[l] += sl.aggregate;
          totSum[l] += sl.total;
        } else {
          let tot = 0;
          for (let t = 0; t < T; t++) tot += Math.abs(v[b * T + t]);
          flowSum[l] += tot > 0 ? Math.abs(v[b * T + s.envPos]) / tot : 0;
          totSum[l] += tot;
        }
      });
    }
    done += idx.length;
    opts.onBatch?.(done, match.length);
    await new Promise((r) => setImmediate(r));
  }
  const n = match.length;
  const heads: HeadShare[] = [];
  if (mix)
    for (let l = 0; l < L; l++)
      for (let h = 0; h < H; h++)
        heads.push({ layer: mix.layers[l], head: h, aggregateShare: aggSum[l * H + h] / n, gatherShare: gatSum[l * H + h] / n });
  const layers: LayerFlow[] = Array.from({ length: L }, (_, l) => ({
    layer: mix ? mix.layers[l] : -1,
    flowShare: flowSum[l] / n,
    total: totSum[l] / n,
  }));
  return { kind, heads, layers, n, ...(maps ? { maps, used: match } : {}) };
}

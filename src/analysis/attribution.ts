/**
 * Attribution patching (AtP, Nanda 2023; Syed et al. 2023): the first-order approximation of
 * activation patching. For a hook point with activation a, the effect of putting the clean
 * activation into the corrupted run is estimated as
 *   effect ~ (a_clean - a_corrupted) . d log p(target) / da   (gradient taken in the corrupted run),
 * summed over the entries that are patched (a position, a head, or everything). One forward pass
 * on the clean prompt and one forward + backward pass on the corrupted prompt give the estimate
 * for every hook point, position and head at once. Effects are in nats (the decrease of the
 * target's surprisal), the same quantity `activationPatching` measures exactly
 * (s_corrupted - s_patched), so the two compare directly. Edge attribution patching between
 * components is `pathPatching(..., { attribution: true })` (pathpatch.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { LanguageModel } from '../models/types';
import { targetLogProbs } from '../eval/surprisal';
import { mean } from '../metrics/stats';
import { pairPosition, type PatchPair } from './patching';
import { hookGradients } from './gradients';
import { forPairBatches, type PairOptions } from './pathpatch';

export interface AttributionOptions extends PairOptions {
  /** Hook points to attribute. */
  hooks: string[];
  /** Where: 'all' positions, 'last', a mark name of the pairs, or a position index (default ['all']). */
  positions?: Array<'all' | 'last' | string | number>;
  /** Also one row per head for hooks with heads (a layer's per-head site, a [B, H, T, T] mixing matrix or attention scores, by the query position, or any [B, T, H, X] hook). */
  perHead?: boolean;
}

export interface AttributionResult {
  hook: string;
  position: string;
  /** Head index, or -1 for the whole activation. */
  head: number;
  /** Mean over pairs of the estimated effect (nats of surprisal removed by the patch). */
  attribution: number;
  /** attribution / (s_corrupted - s_clean), of the means: the estimate of activation patching's recoveryOfMeans. */
  recoveryOfMeans: number;
  clean: number;
  corrupted: number;
  /** Per pair estimates. */
  attributions: Float64Array;
  n: number;
}

/** Attribution patching at every given hook point, position (and head). */
export async function attributionPatching(
  model: LanguageModel,
  pairs: readonly PatchPair[],
  opts: AttributionOptions,
): Promise<AttributionResult[]> {
  if (!opts.hooks.length)
    throw new GroundlabError('BAD_ARGUMENT', 'attribution patching: no hook points given', {
      hint: 'e.g. hooks: ["blocks.1.attn.hook_z"]',
    });
  const positions = opts.positions ?? ['all'];
  const mixing = new Set(model.anatomy.layers.map((l) => l.mixing?.hook).filter(Boolean));
  const headSites = new Map(model.anatomy.layers.filter((l) => l.heads).map((l) => [l.heads!.hook, l.heads!.axis]));
  const N = pairs.length;
  const sClean = new Float64Array(N),
    sCorr = new Float64Array(N);
  // per hook: per position spec: [whole, head 0, head 1, ...] -> per pair values
  const acc = new Map<string, Float64Array[][]>();
  await forPairBatches(model, pairs, opts, 'attribution patching', async ({ idx, clean, corrupted, seqs }) => {
    const cc = model.runWithCache(clean, { names: opts.hooks });
    const g = hookGradients(model, corrupted, opts.hooks, (logits) => tf.sum(targetLogProbs(logits, seqs)) as tf.Scalar);
    const out: tf.Tensor[] = [];
    try {
      out.push(
        targetLogProbs(cc.logits, seqs),
        tf.tidy(() => targetLogProbs(model.forward(corrupted), seqs)),
      );
      const shapes: Array<{ hook: string; heads: number }> = [];
      for (const hook of opts.hooks) {
        const a = g.acts.get(hook)!;
        const Tq = corrupted.shape[1];
        // [B, H, T, T] (mixing matrices, attention scores) or [B, T, ...]
        const square =
          mixing.has(hook) ||
          /hook_attn_scores$|hook_pattern$/.test(hook) ||
          (a.rank === 4 && a.shape[1] !== Tq && a.shape[2] === Tq && a.shape[3] === Tq);
        const B = a.shape[0],
          T = a.shape[square ? 2 : 1] as number;
        const headAxis = square ? 1 : (headSites.get(hook) ?? (a.rank === 4 ? 2 : undefined));
        const nH = opts.perHead && headAxis !== undefined ? (a.shape[headAxis] as number) : 0;
        shapes.push({ hook, heads: nH });
        // [B, T, H] (or [B, T]): the products summed over everything else
        const bth = tf.tidy(() => {
          const prod = tf.mul(tf.sub(cc.cache.get(hook), a), g.grads.get(hook)!);
          const posAxis = square ? 2 : 1;
          const lead = nH ? [0, posAxis, headAxis!] : [0, posAxis];
          const rest = prod.shape.map((_, i) => i).filter((i) => !lead.includes(i));
          const t = tf.transpose(prod, [...lead, ...rest]);
          return tf.sum(tf.reshape(t, nH ? [B, T, nH, -1] : [B, T, -1]), -1);
        });
        for (const spec of positions) {
          const mask = new Float32Array(B * T);
          idx.forEach((i, b) => {
            const p = pairPosition(pairs[i], spec, 'attribution');
            if (p === 'all') mask.fill(1, b * T, (b + 1) * T);
            else if (p >= 0 && p < T) mask[b * T + p] = 1;
            else
              throw new GroundlabError(
                'BAD_ARGUMENT',
                `attribution position ${p} is outside pair ${i} (${pairs[i].corrupted.length} tokens)`,
              );
          });
          out.push(
            tf.tidy(() => {
              const m = tf.tensor2d(mask, [B, T]);
              const per = nH ? tf.sum(tf.mul(bth, tf.expandDims(m, 2)), 1) : tf.expandDims(tf.sum(tf.mul(bth, m), 1), 1); // [B, H] or [B, 1]
              return nH ? tf.concat([tf.sum(per, 1, true), per], 1) : per; // [B, 1 + H]
            }),
          );
        }
        bth.dispose();
      }
      const vals = await Promise.all(out.map((t) => t.data()));
      idx.forEach((i, b) => {
        sClean[i] = -vals[0][b];
        sCorr[i] = -vals[1][b];
      });
      let k = 2;
      for (const { hook, heads } of shapes) {
        if (!acc.has(hook))
          acc.set(
            hook,
            positions.map(() => Array.from({ length: 1 + heads }, () => new Float64Array(N))),
          );
        const perPos = acc.get(hook)!;
        positions.forEach((_, p) => {
          const v = vals[k++];
          idx.forEach((i, b) => {
            for (let h = 0; h <= heads; h++) perPos[p][h][i] = v[b * (1 + heads) + h];
          });
        });
      }
    } finally {
      out.forEach((t) => t.dispose());
      cc.logits.dispose();
      cc.cache.dispose();
      g.dispose();
    }
  });
  const mc = mean(sClean),
    mk = mean(sCorr);
  const rows: AttributionResult[] = [];
  for (const hook of opts.hooks)
    positions.forEach((spec, p) =>
      acc.get(hook)![p].forEach((v, h) => {
        const a = mean(v);
        rows.push({
          hook,
          position: String(spec),
          head: h - 1,
          attribution: a,
          recoveryOfMeans: Math.abs(mk - mc) >= 1e-9 ? a / (mk - mc) : NaN,
          clean: mc,
          corrupted: mk,
          attributions: v,
          n: N,
        });
      }),
    );
  return rows;
}

/**
 * Activation patching (as in TransformerLens): run a clean and a corrupted prompt of the same
 * length; at one hook point (and optionally one position), put the clean activation into the
 * corrupted run; measure the surprisal of the target. Recovery = (s_corrupted - s_patched) /
 * (s_corrupted - s_clean): 1 when the patched site carries everything that differs, 0 when nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { LanguageModel } from '../models/types';
import { lengthBatches, padTokens, targetLogProbs, checkLengths } from '../eval/surprisal';
import { mean } from '../metrics/stats';

export interface PatchPair {
  clean: number[];
  corrupted: number[];
  /** Target token predicted after the last position. */
  target: number;
  /** Named positions of this pair (e.g. { env: 4 }) that `positions` may refer to. */
  marks?: Record<string, number>;
}

export interface PatchResult {
  hook: string;
  /** 'all', a mark name, or a position number. */
  position: string;
  clean: number;
  corrupted: number;
  patched: number;
  /** Mean over pairs of the per-pair recovery (pairs where clean and corrupted differ by < 1e-6 nats are left out). */
  recovery: number;
  /** Recovery of the means: (corrupted - patched) / (corrupted - clean). */
  recoveryOfMeans: number;
  n: number;
}

export interface PatchOptions {
  /** Hook points to patch, each on its own. */
  hooks: string[];
  /** Where to patch: 'all' positions, 'last', a mark name of the pairs, or a position index (default ['all']). */
  positions?: Array<'all' | 'last' | string | number>;
  /** Patch only this head (axis 2 of a [B, T, H, X] activation such as hook_z, hook_q, hook_pattern's [B, H, T, T] is not supported). */
  head?: number;
  batchSize?: number;
  padId?: number;
  signal?: AbortSignal;
}

/**
 * The position a patch acts at in pair p: 'all', the last position, a mark name of the pair or a
 * position index (activation and attribution patching; `what` names the method in the error).
 */
export function pairPosition(p: PatchPair, spec: string | number, what: 'patching' | 'attribution'): number | 'all' {
  if (spec === 'all') return 'all';
  if (spec === 'last') return p.corrupted.length - 1;
  if (typeof spec === 'number') return spec;
  const m = p.marks?.[spec];
  if (m === undefined)
    throw new GroundlabError('BAD_ARGUMENT', `${what} position "${spec}" is not marked in a pair`, {
      hint: 'give marks: { name: position } in every pair, or use all / last / a number',
    });
  return m;
}

export async function activationPatching(model: LanguageModel, pairs: readonly PatchPair[], opts: PatchOptions): Promise<PatchResult[]> {
  for (const p of pairs)
    if (p.clean.length !== p.corrupted.length)
      throw new GroundlabError('BAD_ARGUMENT', `clean and corrupted prompts differ in length (${p.clean.length} vs ${p.corrupted.length})`);
  const known = new Set(model.hookPoints());
  for (const h of opts.hooks)
    if (!known.has(h))
      throw new GroundlabError('NOT_FOUND', `no hook point "${h}"`, { hint: `hook points: ${[...known].slice(0, 12).join(', ')}, ...` });
  const cleanSeqs = pairs.map((p) => ({ ids: p.clean, predPos: p.clean.length - 1, target: p.target }));
  const corrSeqs = pairs.map((p) => ({ ids: p.corrupted, predPos: p.corrupted.length - 1, target: p.target }));
  checkLengths(model, cleanSeqs);
  const positions = opts.positions ?? ['all'];
  const sClean = new Float64Array(pairs.length);
  const sCorr = new Float64Array(pairs.length);
  const sPatch = opts.hooks.map(() => positions.map(() => new Float64Array(pairs.length)));
  for (const idx of lengthBatches(cleanSeqs, opts.batchSize ?? 32)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'patching was stopped');
    const cb = idx.map((i) => cleanSeqs[i]);
    const kb = idx.map((i) => corrSeqs[i]);
    const clean = padTokens(cb, opts.padId ?? 0);
    const corr = padTokens(kb, opts.padId ?? 0);
    const [B, T] = clean.shape;
    const { logits, cache } = model.runWithCache(clean, { names: opts.hooks });
    const lpClean = targetLogProbs(logits, cb);
    logits.dispose();
    const lpCorr = tf.tidy(() => targetLogProbs(model.forward(corr), kb));
    const results: tf.Tensor[] = [lpClean, lpCorr];
    for (const hook of opts.hooks) {
      const act = cache.get(hook);
      for (const spec of positions) {
        const mask = new Float32Array(B * T);
        idx.forEach((i, b) => {
          const p = pairPosition(pairs[i], spec, 'patching');
          if (p === 'all') mask.fill(1, b * T, (b + 1) * T);
          else mask[b * T + p] = 1;
        });
        const nH = act.rank === 4 ? (act.shape[2] as number) : 0;
        if (opts.head !== undefined && (nH === 0 || opts.head < 0 || opts.head >= nH)) {
          [...results, clean, corr].forEach((t) => t.dispose());
          cache.dispose();
          throw new GroundlabError('BAD_ARGUMENT', `cannot patch head ${opts.head} of ${hook} (shape ${act.shape.join('x')})`, {
            hint: 'per-head patching needs a [B, T, H, X] hook such as blocks.{l}.attn.hook_z',
          });
        }
        results.push(
          tf.tidy(() => {
            const shape = [B, T, ...act.shape.slice(2).map(() => 1)];
            let m: tf.Tensor = tf.reshape(tf.tensor1d(mask), shape);
            if (opts.head !== undefined) {
              const hm = new Float32Array(nH);
              hm[opts.head] = 1;
              m = tf.mul(m, tf.reshape(tf.tensor1d(hm), [1, 1, nH, 1]));
            }
            const hooks = { [hook]: (x: tf.Tensor) => tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(act, m)) };
            return targetLogProbs(model.forward(corr, { hooks }), kb);
          }),
        );
      }
    }
    cache.dispose();
    clean.dispose();
    corr.dispose();
    const vals = await Promise.all(results.map((r) => r.data()));
    results.forEach((r) => r.dispose());
    idx.forEach((i, b) => {
      sClean[i] = -vals[0][b];
      sCorr[i] = -vals[1][b];
      let k = 2;
      opts.hooks.forEach((_, h) => positions.forEach((_, p) => (sPatch[h][p][i] = -vals[k++][b])));
    });
    await new Promise((r) => setImmediate(r));
  }
  const out: PatchResult[] = [];
  opts.hooks.forEach((hook, h) =>
    positions.forEach((spec, p) => {
      const rec: number[] = [];
      for (let i = 0; i < pairs.length; i++) {
        const d = sCorr[i] - sClean[i];
        if (Math.abs(d) >= 1e-6) rec.push((sCorr[i] - sPatch[h][p][i]) / d);
      }
      const mc = mean(sClean);
      const mk = mean(sCorr);
      const mp = mean(sPatch[h][p]);
      out.push({
        hook,
        position: String(spec),
        clean: mc,
        corrupted: mk,
        patched: mp,
        recovery: rec.length ? mean(rec) : NaN,
        recoveryOfMeans: Math.abs(mk - mc) >= 1e-9 ? (mk - mp) / (mk - mc) : NaN,
        n: pairs.length,
      });
    }),
  );
  return out;
}

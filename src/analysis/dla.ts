/**
 * Direct logit attribution (DLA) and residual decomposition. The residual stream entering the
 * final norm at the prediction position is a sum of terms: the input of the first block
 * (embeddings), then per layer the attention part (resid_mid - resid_pre), split into one term
 * per head plus the attention's bias, and the MLP part (resid_post - resid_mid). Each term's
 * direct contribution to the target logit goes through the final norm with its scale frozen at
 * the value the whole residual gives (the TransformerLens convention): for a layer norm,
 *   dla(c) = ((c - mean(c)) / sigma(x)) * w . u_target,   sigma(x) = sqrt(var(x) + eps),
 * for an RMS norm c / rms(x) * w . u_target, with no norm c . u_target; the norm's bias gives
 * one more term, b . u_target. With the scale frozen the map is linear, so the terms sum to the
 * model's logit exactly (checked on every call). An attention-only block (no MLP, no resid_mid)
 * gives its heads and attention bias alone, read at its resid_post.
 *
 * Per-head terms come from the hooks alone: the layer's per-head outputs (its anatomy's heads
 * site) with only head h kept, minus all heads zeroed, read at resid_mid. That is exact when the
 * heads enter the residual through a linear map (attention and GLA heads); a layer whose heads do
 * not add up is refused with `heads: false` as the way out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import type { LanguageModel, HookSpec } from '../models/types';
import type { EvalSequence } from '../eval/evalset';
import { lengthBatches, padTokens, padFeatures, checkLengths } from '../eval/surprisal';
import { mean } from '../metrics/stats';
import { selectPositions } from './lens';
import { axisMask } from './pathpatch';

export interface DlaTerm {
  /** 'embed', 'L1H0', 'L1.attn_bias', 'L1.attn', 'L1.mlp', 'L1.block', 'norm_bias'. */
  name: string;
  kind: 'embed' | 'head' | 'attn_bias' | 'attn' | 'mlp' | 'block' | 'norm_bias';
  layer: number;
  head: number;
}

export interface DlaOptions {
  /** Split every attention part into heads and bias (default true). */
  heads?: boolean;
  /** The token whose logit is attributed (default: each sequence's target). */
  token?: (s: EvalSequence) => number;
  batchSize?: number;
  padId?: number;
  signal?: AbortSignal;
}

export interface DlaResult {
  terms: DlaTerm[];
  /** contributions[k][i]: term k's direct contribution to sequence i's logit. */
  contributions: Float64Array[];
  /** The model's logit of the token, per sequence. */
  logit: Float64Array;
  /** The frozen scale of the final norm (sigma or rms; 1 without a norm), per sequence. */
  scale: Float64Array;
  /** Largest |sum of terms - logit| over sequences. */
  maxError: number;
}

/** Direct logit attribution of each sequence's target logit at its prediction position. */
export async function directLogitAttribution(
  model: LanguageModel,
  seqs: readonly EvalSequence[],
  opts: DlaOptions = {},
): Promise<DlaResult> {
  const { layers, lens } = model.anatomy;
  const pts = new Set(model.hookPoints());
  const pre = layers.map((l) => l.residPre);
  if (pre.some((p) => !p || !pts.has(p)))
    throw new GroundlabError('UNSUPPORTED', `this ${model.arch} has no residual stream entering its blocks (residPre in its anatomy)`, {
      hint: 'direct logit attribution decomposes a residual stream: Transformer-like models (Transformer, GLA)',
    });
  const post = layers.map((l) => l.residPost);
  // an attention-only block (heads, an attention output and no MLP) has its attention output as its whole write
  const attnOnly = layers.map(
    (la, l) =>
      !!la.heads && !pts.has(`blocks.${l}.hook_resid_mid`) && pts.has(`blocks.${l}.hook_attn_out`) && !pts.has(`blocks.${l}.hook_mlp_out`),
  );
  const mid = layers.map((_, l) =>
    pts.has(`blocks.${l}.hook_resid_mid`) ? `blocks.${l}.hook_resid_mid` : attnOnly[l] ? post[l] : undefined,
  );
  const splitHeads = opts.heads !== false;
  const terms: DlaTerm[] = [{ name: 'embed', kind: 'embed', layer: -1, head: -1 }];
  layers.forEach((la, l) => {
    if (!mid[l]) return void terms.push({ name: `L${l}.block`, kind: 'block', layer: l, head: -1 });
    if (splitHeads && la.heads) {
      for (let h = 0; h < la.heads.size; h++) terms.push({ name: `L${l}H${h}`, kind: 'head', layer: l, head: h });
      terms.push({ name: `L${l}.attn_bias`, kind: 'attn_bias', layer: l, head: -1 });
    } else terms.push({ name: `L${l}.attn`, kind: 'attn', layer: l, head: -1 });
    if (!attnOnly[l]) terms.push({ name: `L${l}.mlp`, kind: 'mlp', layer: l, head: -1 });
  });
  const norm = lens.norm;
  if (norm?.bias) terms.push({ name: 'norm_bias', kind: 'norm_bias', layer: layers.length, head: -1 });
  const P = model.params.get(lens.unembed);
  const { vocabSize: Vs, dModel: Ds } = model.config;
  // [V, D] as the anatomy declares; a [D, V] matrix (V != D) is taken as the unembedding itself
  const U =
    P && P.shape.length === 2 && P.shape[0] === Vs && P.shape[1] === Ds
      ? P
      : P && P.shape.length === 2 && Vs !== Ds && P.shape[0] === Ds && P.shape[1] === Vs
        ? tf.transpose(P)
        : undefined;
  if (!U) throw new GroundlabError('UNSUPPORTED', `the unembedding ${lens.unembed} named by the model's anatomy is not a [V, D] parameter`);
  const w = norm ? model.params.get(norm.weight) : undefined;
  const b = norm?.bias ? model.params.get(norm.bias) : undefined;
  if (norm && (!w || (norm.bias && !b)))
    throw new GroundlabError(
      'UNSUPPORTED',
      `the final norm's parameters ${norm.weight}${norm.bias ? `, ${norm.bias}` : ''} are not in the model`,
    );
  checkLengths(model, seqs);
  const token = opts.token ?? ((s: EvalSequence) => s.target);
  const N = seqs.length;
  const contributions = terms.map(() => new Float64Array(N));
  const logit = new Float64Array(N),
    scale = new Float64Array(N);
  const names = [...new Set([...pre, ...mid.filter(Boolean), ...post])] as string[];
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 32)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'direct logit attribution was stopped');
    const batch = idx.map((i) => seqs[i]);
    const pos = batch.map((s) => s.predPos);
    const tokens = padTokens(batch, opts.padId ?? 0);
    const env = padFeatures(batch, model.config.envFeatureDim ?? 0);
    const fwd = (hooks?: HookSpec, want: string[] = names) =>
      model.runWithCache(tokens, { names: want, ...(hooks ? { hooks } : {}), ...(env ? { envFeatures: env } : {}) });
    let res: { contrib: tf.Tensor; lg: tf.Tensor; sc: tf.Tensor };
    try {
      res = tf.tidy(() => {
        const { logits, cache } = fwd();
        const at = (n: string) => selectPositions(cache.get(n), pos); // [B, D]
        const vecs: tf.Tensor[] = [at(pre[0]!)];
        layers.forEach((la, l) => {
          const p = at(pre[l]!),
            q = at(post[l]);
          if (!mid[l]) return void vecs.push(tf.sub(q, p));
          const m = at(mid[l]!);
          if (splitHeads && la.heads) {
            const site = la.heads;
            const midWith = (keep: number[]) => {
              const r = fwd({ [site.hook]: (z) => tf.mul(z, axisMask(z.rank, site.axis, site.size, keep)) }, [mid[l]!]);
              const v = selectPositions(r.cache.get(mid[l]!), pos);
              r.cache.dispose();
              return v;
            };
            const none = midWith([]);
            let sum: tf.Tensor = tf.sub(none, p);
            const heads = Array.from({ length: site.size }, (_, h) => tf.sub(midWith([h]), none));
            for (const h of heads) sum = tf.add(sum, h);
            const attn = tf.sub(m, p);
            const err = tf.max(tf.abs(tf.sub(sum, attn))).dataSync()[0];
            const size = tf.max(tf.abs(attn)).dataSync()[0];
            if (!(err <= 1e-4 * Math.max(1, size)))
              throw new GroundlabError(
                'UNSUPPORTED',
                `the per-head outputs of layer ${l} (${site.hook}) do not add up to its attention output (off by ${err.toExponential(2)}): its heads do not enter the residual stream linearly`,
                { hint: 'use heads: false for one term per attention part' },
              );
            vecs.push(...heads, tf.sub(none, p));
          } else vecs.push(tf.sub(m, p));
          if (!attnOnly[l]) vecs.push(tf.sub(q, m));
        });
        const x = at(post[post.length - 1]); // [B, D] the residual entering the final norm
        const u = tf.gather(U, tf.tensor1d(batch.map(token), 'int32')) as tf.Tensor2D; // [B, D]
        let sc: tf.Tensor = tf.ones([batch.length, 1]);
        let dir: tf.Tensor = u;
        if (norm) {
          const c = norm.kind === 'layer' ? tf.sub(x, tf.mean(x, 1, true)) : x;
          sc = tf.sqrt(tf.add(tf.mean(tf.square(c), 1, true), norm.eps)); // [B, 1]
          dir = tf.mul(u, w!);
        }
        const contrib = vecs.map((v) => {
          const c = norm?.kind === 'layer' ? tf.sub(v, tf.mean(v, 1, true)) : v;
          return tf.sum(tf.mul(tf.div(c, sc), dir), 1); // [B]
        });
        if (b) contrib.push(tf.sum(tf.mul(u, b), 1));
        const lg = tf.sum(
          tf.mul(selectPositions(logits, pos), tf.oneHot(tf.tensor1d(batch.map(token), 'int32'), model.config.vocabSize)),
          1,
        );
        cache.dispose();
        return { contrib: tf.stack(contrib, 1), lg, sc: tf.reshape(sc, [-1]) };
      });
    } finally {
      tf.dispose([tokens, ...(env ? [env] : [])]);
    }
    const [cv, lv, sv] = await Promise.all([res.contrib.data(), res.lg.data(), res.sc.data()]);
    tf.dispose([res.contrib, res.lg, res.sc]);
    const K = terms.length;
    idx.forEach((i, r) => {
      for (let k = 0; k < K; k++) contributions[k][i] = cv[r * K + k];
      logit[i] = lv[r];
      scale[i] = sv[r];
    });
    await new Promise((r) => setImmediate(r));
  }
  if (U !== P) U.dispose();
  let maxError = 0;
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (const c of contributions) s += c[i];
    maxError = Math.max(maxError, Math.abs(s - logit[i]));
  }
  if (!(maxError <= 1e-3 * Math.max(1, ...Array.from(logit, Math.abs))))
    throw new GroundlabError(
      'UNSUPPORTED',
      `the residual decomposition of this ${model.arch} does not sum to its logits (off by ${maxError.toExponential(2)})`,
      {
        hint: "the model's anatomy must name its final norm and unembedding (lens.norm, lens.unembed), and each block must add its parts to the residual stream",
      },
    );
  return { terms, contributions, logit, scale, maxError };
}

export interface DlaSummaryRow {
  term: string;
  kind: DlaTerm['kind'];
  layer: number;
  head: number;
  /** Mean contribution to the v<LAN> logit over match contexts, over mismatch contexts, and their difference. */
  match: number;
  mismatch: number;
  difference: number;
}

/** Per term: mean direct contribution in the match and the mismatch contexts and the difference (match - mismatch): each component's share of the logit difference behind G. */
export function dlaByCondition(res: DlaResult, seqs: readonly EvalSequence[]): DlaSummaryRow[] {
  if (seqs.length !== res.logit.length)
    throw new GroundlabError('BAD_ARGUMENT', `dlaByCondition: ${seqs.length} sequences for a result over ${res.logit.length}`);
  const m = seqs
    .map((s, i) => [s, i] as const)
    .filter(([s]) => s.condition === 'match')
    .map(([, i]) => i);
  const x = seqs
    .map((s, i) => [s, i] as const)
    .filter(([s]) => s.condition === 'mismatch')
    .map(([, i]) => i);
  return res.terms.map((t, k) => {
    const a = mean(m.map((i) => res.contributions[k][i]));
    const b = mean(x.map((i) => res.contributions[k][i]));
    return { term: t.name, kind: t.kind, layer: t.layer, head: t.head, match: a, mismatch: b, difference: a - b };
  });
}

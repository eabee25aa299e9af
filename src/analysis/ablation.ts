/**
 * Interventions on heads: zero- and mean-ablation of any set of heads through hooks on the
 * per-head outputs each architecture declares in its anatomy (`model.anatomy.layers[l].heads`:
 * `blocks.{l}.attn.hook_z` [B, T, H, Dh] for the Transformer and GLA, `blocks.{l}.ssd.hook_z`
 * [B, T, H, P] for Mamba-2, units of `blocks.{l}.hook_h` [B, T, D] for the LSTM and GRU), and the paper's causal test: ablate a head set, compare with the same number of
 * randomly drawn control heads (repeated seeded draws) and with the intact model, paired over
 * contexts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { LanguageModel, HookSpec } from '../models/types';
import type { EvalSequence } from '../eval/evalset';
import { scoreSequences, lengthBatches, padTokens, checkLengths } from '../eval/surprisal';
import { mean, pairedTest, type PairedTestResult } from '../metrics/stats';

export interface HeadRef {
  layer: number;
  /** Head index (attention, SSD or GLA head; unit index for the LSTM and GRU). */
  head: number;
}

/** The hook point that holds the per-head (per-unit) outputs of a layer, and the number of heads (units) there: the model's anatomy. */
export function headHook(model: LanguageModel, layer: number): { name: string; size: number } {
  const site = model.anatomy.layers[layer]?.heads;
  if (!site)
    throw new GroundlabError('UNSUPPORTED', `model ${model.arch} declares no per-head outputs in layer ${layer}`, {
      hint: 'ablation needs a layer whose anatomy names a heads site (attention, SSD or GLA heads, or recurrent units)',
    });
  if (site.axis !== 2)
    throw new GroundlabError(
      'UNSUPPORTED',
      `the per-head outputs of layer ${layer} (${site.hook}) index heads along axis ${site.axis}; ablation handles axis 2`,
    );
  return { name: site.hook, size: site.size };
}

/** All heads (units) of a model. */
export function allHeads(model: LanguageModel): HeadRef[] {
  const out: HeadRef[] = [];
  for (let l = 0; l < model.anatomy.layers.length; l++) {
    if (!model.anatomy.layers[l].heads) continue;
    const { size } = headHook(model, l);
    for (let h = 0; h < size; h++) out.push({ layer: l, head: h });
  }
  return out;
}

/** Mean output of every head over the valid positions of the given sequences: layer -> [H, X] (for mean-ablation). */
export async function headMeans(
  model: LanguageModel,
  seqs: readonly EvalSequence[],
  opts: { batchSize?: number; padId?: number } = {},
): Promise<Map<number, tf.Tensor>> {
  checkLengths(model, seqs);
  const L = model.config.nLayers;
  const names = Array.from({ length: L }, (_, l) => headHook(model, l).name);
  const sums: Array<tf.Tensor | undefined> = new Array(L).fill(undefined);
  let count = 0;
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 64)) {
    const batch = idx.map((i) => seqs[i]);
    tf.tidy(() => {
      const tokens = padTokens(batch, opts.padId ?? 0);
      const T = tokens.shape[1];
      const valid = new Float32Array(batch.length * T);
      batch.forEach((s, b) => valid.fill(1, b * T, b * T + s.ids.length));
      const { cache } = model.runWithCache(tokens, { names });
      names.forEach((n, l) => {
        const z = cache.get(n); // [B, T, H, X] or [B, T, D]
        const m = tf.reshape(tf.tensor1d(valid), z.rank === 4 ? [batch.length, T, 1, 1] : [batch.length, T, 1]);
        const s = tf.sum(tf.mul(z, m), [0, 1]); // [H, X] or [D]
        const prev = sums[l];
        sums[l] = tf.keep(prev ? tf.add(prev, s) : s);
        prev?.dispose();
      });
      cache.dispose();
    });
    count += batch.reduce((a, s) => a + s.ids.length, 0);
  }
  const out = new Map<number, tf.Tensor>();
  sums.forEach((s, l) => {
    out.set(l, tf.div(s!, count));
    s!.dispose();
  });
  return out;
}

/**
 * Hooks that ablate the given heads: 'zero' sets their outputs to 0, 'mean' to their mean output
 * (from `headMeans`).
 */
export function ablationHooks(
  model: LanguageModel,
  heads: readonly HeadRef[],
  mode: 'zero' | 'mean' = 'zero',
  means?: Map<number, tf.Tensor>,
): HookSpec {
  if (mode === 'mean' && !means)
    throw new GroundlabError('BAD_ARGUMENT', "mean-ablation needs the heads' mean outputs", {
      hint: 'compute them with headMeans(model, seqs)',
    });
  const byLayer = new Map<number, number[]>();
  for (const h of heads) {
    const { size } = headHook(model, h.layer);
    if (h.head < 0 || h.head >= size)
      throw new GroundlabError('BAD_ARGUMENT', `head ${h.head} does not exist in layer ${h.layer} (${size} heads)`);
    (byLayer.get(h.layer) ?? byLayer.set(h.layer, []).get(h.layer)!).push(h.head);
  }
  const hooks: HookSpec = {};
  for (const [layer, hs] of byLayer) {
    const { name, size } = headHook(model, layer);
    const keep = new Float32Array(size).fill(1);
    for (const h of hs) keep[h] = 0;
    hooks[name] = (z) => {
      const shape = z.rank === 4 ? [1, 1, size, 1] : [1, 1, size];
      const k = tf.reshape(tf.tensor1d(keep), shape);
      const kept = tf.mul(z, k);
      if (mode === 'zero') return kept;
      const m = means!.get(layer)!; // [H, X] or [D]
      return tf.add(kept, tf.mul(tf.sub(1, k), tf.reshape(m, z.rank === 4 ? [1, 1, ...m.shape] : [1, 1, m.shape[0]])));
    };
  }
  return hooks;
}

export interface AblationTestOptions {
  /** Random control draws (default 10). */
  draws: number;
  seed: number;
  mode: 'zero' | 'mean';
  /** Heads the controls are drawn from (default: every head not in the tested set). */
  pool?: HeadRef[];
  batchSize?: number;
  padId?: number;
  signal?: AbortSignal;
  /** Per-sequence surprisal of the intact model, if already computed. */
  intact?: Float64Array;
  means?: Map<number, tf.Tensor>;
}

export const DEFAULT_ABLATION_TEST: AblationTestOptions = { draws: 10, seed: 0, mode: 'zero' };

export interface AblationTestResult {
  heads: HeadRef[];
  meanLayer: number;
  /** Mean surprisal over contexts. */
  intact: number;
  ablated: number;
  control: number;
  /** Mean control surprisal of each draw. */
  controlDraws: number[];
  /** ablated vs control (per context, control = mean over draws). */
  vsControl: PairedTestResult;
  /** ablated vs intact. */
  vsIntact: PairedTestResult;
  /** control vs intact. */
  controlVsIntact: PairedTestResult;
  n: number;
}

const key = (h: HeadRef) => `${h.layer}.${h.head}`;

/** The aggregate-vs-control test (or any head set vs control), paired over the given contexts. */
export async function ablationTest(
  model: LanguageModel,
  seqs: readonly EvalSequence[],
  heads: readonly HeadRef[],
  opts: Partial<AblationTestOptions> = {},
): Promise<AblationTestResult> {
  const o = { ...DEFAULT_ABLATION_TEST, ...opts };
  if (heads.length === 0) throw new GroundlabError('BAD_ARGUMENT', 'no heads to ablate');
  const inSet = new Set(heads.map(key));
  const pool = (o.pool ?? allHeads(model)).filter((h) => !inSet.has(key(h)));
  if (pool.length < heads.length)
    throw new GroundlabError('BAD_ARGUMENT', `cannot draw ${heads.length} control heads from ${pool.length} others`, {
      hint: 'the tested set is larger than the rest of the model',
    });
  const means = o.mode === 'mean' ? (o.means ?? (await headMeans(model, seqs, o))) : undefined;
  const score = (hooks?: HookSpec) => scoreSequences(model, seqs, { batchSize: o.batchSize, padId: o.padId, hooks, signal: o.signal });
  const intact = o.intact ?? (await score());
  const ablated = await score(ablationHooks(model, heads, o.mode, means));
  const rng = new Rng(`ablation-control/${o.seed}`);
  const control = new Float64Array(seqs.length);
  const controlDraws: number[] = [];
  for (let r = 0; r < o.draws; r++) {
    const draw = rng.shuffle(pool.slice()).slice(0, heads.length);
    const s = await score(ablationHooks(model, draw, o.mode, means));
    s.forEach((v, i) => (control[i] += v / o.draws));
    controlDraws.push(mean(s));
  }
  if (means && !o.means) means.forEach((t) => t.dispose());
  return {
    heads: heads.slice(),
    meanLayer: mean(heads.map((h) => h.layer)),
    intact: mean(intact),
    ablated: mean(ablated),
    control: mean(control),
    controlDraws,
    vsControl: pairedTest(ablated, control),
    vsIntact: pairedTest(ablated, intact),
    controlVsIntact: pairedTest(control, intact),
    n: seqs.length,
  };
}

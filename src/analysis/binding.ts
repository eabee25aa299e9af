/**
 * Binding mechanisms (seed 002, issue 20) on the scene binding corpus (src/data/binding.ts), from
 * counterfactual pairs (base, source) of the same length, each with the answer expected in the base
 * run when one causal variable comes from the source (`BindingCounterfactual`).
 *
 * - `interventionScores`: run the source, then the base with some sites (a hook point, optionally
 *   one head of its per-head axis; at all positions, the last, or the query's cue) replaced by the
 *   source's values. Per intervention: mediation = mean over pairs of p_patched(expected) -
 *   p_base(expected) (1 when the patch moves the whole answer to the expected token, 0 when it does
 *   nothing), redirect = share of pairs whose argmax becomes the expected token.
 * - `headMediation`: that for every head of the model's per-head sites (the adapter's anatomy, so
 *   any architecture), on each counterfactual kind, at the query's positions and at the last only.
 * - `classifyBindingHeads`: the three stages of seed 002. A head that carries the target's feature
 *   (change-feature mediation at the query >= `feature`) is a feature retrieval head. A head that carries the
 *   target's position ID (swap-slots mediation >= `id`: patching it makes the base answer with the
 *   feature of the object in the source's slot) is an ID head: an ID selection head when its effect
 *   sits at the last position (last-position share of its mediation >= `lastShare`), an ID retrieval
 *   head when it acts earlier (at the cue, whose ID later heads move to the answer position).
 * - `positionIdPatching`: the residual stream of every layer at the last position (and the cue)
 *   patched from swap-slots sources: the share of answers redirected to the object at the source's
 *   slot, per layer.
 * - `positionFeatureSimilarity`: centred cosine similarity of object states per layer, same slot
 *   with other features vs. same features in another slot (is the position code content-independent?).
 * - `bindingAccuracy`: teacher-forced accuracy on scenes, by number of objects and by query; its
 *   errors traced by the answer given (another object's attribute, by slot offset, or absent).
 * - `errorProbe`: the errors traced by a probe: the position the model carried on a wrong answer,
 *   read from its residual stream by a probe trained on right answers.
 * - `bindingRun`: all of it on one checkpoint of a binding run, written to `analysis/binding.arrow`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as aq from 'arquero';
import { GroundlabError } from '../errors';
import type { LanguageModel } from '../models/types';
import type { Tokenizer } from '../data/types';
import { PAD } from '../data/tokens';
import type { Run } from '../train/run';
import {
  BINDING_COLOURS,
  BINDING_SHAPES,
  BINDING_COUNTERFACTUALS,
  bindingVariant,
  bindingCounterfactuals,
  bindingEvalScenes,
  bindingKnobs,
  bindingLayout,
  promptTokens,
  QUERY_TOKENS,
  slotStart,
  SLOT_TOKENS,
  type BindingCounterfactual,
  type BindingCounterfactualKind,
  type BindingKnobs,
  type BindingScene,
} from '../data/binding';
import { lengthBatches, padTokens, checkLengths } from '../eval/surprisal';
import {
  imageBindingKnobs,
  imageCounterfactual,
  imageSceneTokens,
  objectPatchPositions,
  patchFeatureDim,
  renderBindingScene,
  sequenceFeatures,
  type ImageBindingKnobs,
} from '../data/imagebinding';
import { components } from './pathpatch';
import { hookLayer, residualHooks } from '../probe/collect';
import { trainTestSplit } from '../probe/evaluate';
import { fitLogistic, logisticPredict, takeRows } from '../probe/linear';

/**
 * How scenes are shown to the model: as symbolic text (the default) or as patches (the image
 * variant, src/data/imagebinding.ts). `i` is the scene's index in its set: the image view renders
 * scene i from the key `<seed>/<i>`, so a set is rendered the same way every time.
 */
export interface SceneView {
  /** The whole sequence, its answer-token indices and, for patches, [len * F] features over it. */
  sequence(s: BindingScene, i: number): { tokens: string[]; answers: number[]; features?: Float32Array };
  /** The position of each object's state (text: a token of its slot; image: its patch). */
  objectPositions(s: BindingScene, i: number): number[];
  /** Feature dimension (0 for text). */
  featureDim: number;
}

/** The symbolic text: objects read at their colour, shape or closing `;` token. */
export function textSceneView(token: 'colour' | 'shape' | 'end' = 'shape'): SceneView {
  const offset = { colour: 0, shape: 1, end: SLOT_TOKENS - 1 }[token];
  return {
    sequence: (s) => bindingLayout(s),
    objectPositions: (s) => s.objects.map((_, slot) => slotStart(slot) + offset),
    featureDim: 0,
  };
}

/** Patches through the frozen encoder (layout raster or shuffled); objects read at their patch. */
export function imageSceneView(k: ImageBindingKnobs, seed: string | number): SceneView {
  return {
    sequence: (s, i) => {
      const { tokens, answers } = bindingLayout(s, imageSceneTokens(k));
      return { tokens, answers, features: sequenceFeatures(k, renderBindingScene(k, s, `${seed}/${i}`), tokens.length) };
    },
    objectPositions: (s, i) => objectPatchPositions(k, s, renderBindingScene(k, s, `${seed}/${i}`)),
    featureDim: patchFeatureDim(k),
  };
}

/** [B, T, F] features of sequences cut to `t` positions (zeros where a sequence has none). */
function batchFeatures(feats: ReadonlyArray<Float32Array | undefined>, t: number, F: number): tf.Tensor3D | undefined {
  if (!F || !feats.some(Boolean)) return undefined;
  const buf = new Float32Array(feats.length * t * F);
  feats.forEach((f, b) => f && buf.set(f.subarray(0, Math.min(f.length, t * F)), b * t * F));
  return tf.tensor3d(buf, [feats.length, t, F]);
}

/** A counterfactual pair as token ids: the prompts (up to the `?`), the answers' ids. */
export interface BindingPair {
  kind: BindingCounterfactualKind;
  base: number[];
  source: number[];
  baseAnswer: number;
  sourceAnswer: number;
  expected: number;
  objects: number;
  /** Image variant: [len * F] patch features of the base and source prompts (rendered alike). */
  baseFeatures?: Float32Array;
  sourceFeatures?: Float32Array;
}

/** Pairs as token ids (and, with the image view, features: base and source of pair i rendered from the same key). */
export function encodeBindingPairs(cfs: readonly BindingCounterfactual[], tokenizer: Tokenizer, view?: SceneView): BindingPair[] {
  return cfs.map((c, i) => {
    if (view?.featureDim) {
      const prompt = (s: BindingScene) => {
        const q = view.sequence(s, i);
        const len = q.answers[0];
        return { ids: tokenizer.encode(q.tokens.slice(0, len)), features: q.features!.subarray(0, len * view.featureDim) };
      };
      const b = prompt(c.base);
      const src = prompt(c.source);
      return {
        kind: c.kind,
        base: b.ids,
        source: src.ids,
        baseAnswer: tokenizer.id(c.baseAnswer),
        sourceAnswer: tokenizer.id(c.sourceAnswer),
        expected: tokenizer.id(c.expected),
        objects: c.base.objects.length,
        baseFeatures: b.features,
        sourceFeatures: src.features,
      };
    }
    const base = tokenizer.encode(promptTokens(c.base));
    const source = tokenizer.encode(promptTokens(c.source));
    if (base.length !== source.length)
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `a ${c.kind} pair has prompts of ${base.length} and ${source.length} tokens; patching needs equal lengths`,
      );
    return {
      kind: c.kind,
      base,
      source,
      baseAnswer: tokenizer.id(c.baseAnswer),
      sourceAnswer: tokenizer.id(c.sourceAnswer),
      expected: tokenizer.id(c.expected),
      objects: c.base.objects.length,
    };
  });
}

/**
 * Where a patch applies: every position, the query's 4 tokens (after the scene: identical in base
 * and source of every kind but change-cue, so a difference there is what the query retrieved from
 * the scene), the last (the `?`), or the query's cue (the one before).
 */
export type PatchPositions = 'all' | 'query' | 'last' | 'cue';

/** One site taken from the source run: a hook point, optionally one index of its per-head axis. */
export interface SitePatch {
  hook: string;
  /** Axis of `index` (default 2: [B, T, H, X] heads). */
  axis?: number;
  index?: number;
  positions: PatchPositions;
}

export interface Intervention {
  name: string;
  patches: SitePatch[];
}

export interface InterventionScore {
  name: string;
  mediation: number;
  redirect: number;
  n: number;
}

export interface ScoreSummary {
  /** Share of pairs whose base argmax is the base answer / whose source argmax is the source answer. */
  baseAccuracy: number;
  sourceAccuracy: number;
  /** Pairs scored (with `onlyCorrect`, those right on both runs). */
  n: number;
  scores: InterventionScore[];
}

export interface BindingScoreOptions {
  batchSize?: number;
  /** Score only pairs the model answers right on base and source (default true). */
  onlyCorrect?: boolean;
  signal?: AbortSignal;
}

/** [B, V] softmax at each sequence's last prompt position. */
function lastProbs(logits: tf.Tensor3D, lens: number[]): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const sel = new Float32Array(B * B * T);
    lens.forEach((n, b) => (sel[b * B * T + b * T + n - 1] = 1));
    return tf.softmax(tf.matMul(tf.tensor2d(sel, [B, B * T]), tf.reshape(logits, [B * T, V]) as tf.Tensor2D)) as tf.Tensor2D;
  });
}

function posRange(spec: PatchPositions, len: number): [number, number] {
  if (spec === 'all') return [0, Infinity];
  if (spec === 'query') return [len - QUERY_TOKENS, len - 1];
  const at = spec === 'last' ? len - 1 : len - 2;
  return [at, at];
}

export async function interventionScores(
  model: LanguageModel,
  pairs: readonly BindingPair[],
  interventions: readonly Intervention[],
  opts: BindingScoreOptions = {},
): Promise<ScoreSummary> {
  if (!pairs.length)
    throw new GroundlabError('BAD_ARGUMENT', 'no counterfactual pairs to score', {
      hint: 'give at least one pair (bindingCounterfactuals + encodeBindingPairs)',
    });
  const known = new Set(model.hookPoints());
  const hooks = [...new Set(interventions.flatMap((iv) => iv.patches.map((p) => p.hook)))];
  for (const h of hooks)
    if (!known.has(h))
      throw new GroundlabError('NOT_FOUND', `no hook point "${h}"`, { hint: `hook points: ${[...known].slice(0, 12).join(', ')}, ...` });
  checkLengths(
    model,
    pairs.map((p) => ({ ids: p.base })),
  );
  const V = model.config.vocabSize;
  const n = pairs.length;
  const pBase = new Float64Array(n);
  const okBase = new Uint8Array(n);
  const okSource = new Uint8Array(n);
  const pPatch = interventions.map(() => new Float64Array(n));
  const hit = interventions.map(() => new Uint8Array(n));
  const argmax = (p: Float32Array | Int32Array | Uint8Array, b: number) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (p[b * V + v] > p[b * V + best]) best = v;
    return best;
  };
  for (const idx of lengthBatches(
    pairs.map((p) => ({ ids: p.base })),
    opts.batchSize ?? 32,
  )) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'binding interventions were stopped');
    const batch = idx.map((i) => pairs[i]);
    const lens = batch.map((p) => p.base.length);
    const base = padTokens(batch.map((p) => ({ ids: p.base })));
    const source = padTokens(batch.map((p) => ({ ids: p.source })));
    const [B, T] = base.shape;
    const F = model.config.envFeatureDim;
    const srcFeatures = batchFeatures(
      batch.map((p) => p.sourceFeatures),
      T,
      F,
    );
    const envFeatures = batchFeatures(
      batch.map((p) => p.baseFeatures),
      T,
      F,
    );
    const { logits: srcLogits, cache } = model.runWithCache(source, { names: hooks, envFeatures: srcFeatures });
    srcFeatures?.dispose();
    const outs: tf.Tensor[] = [lastProbs(srcLogits, lens)];
    srcLogits.dispose();
    outs.push(tf.tidy(() => lastProbs(model.forward(base, { envFeatures }), lens)));
    try {
      for (const iv of interventions) {
        outs.push(
          tf.tidy(() => {
            const spec: Record<string, (x: tf.Tensor) => tf.Tensor> = {};
            for (const hook of new Set(iv.patches.map((p) => p.hook))) {
              const act = cache.get(hook);
              const shape = act.shape.map((d, a) => (a <= 1 ? d : 1));
              for (const p of iv.patches.filter((q) => q.hook === hook && q.index !== undefined)) {
                const ax = p.axis ?? 2;
                if (ax < 2 || ax >= act.rank || p.index! < 0 || p.index! >= act.shape[ax])
                  throw new GroundlabError(
                    'BAD_ARGUMENT',
                    `cannot patch index ${p.index} along axis ${ax} of ${hook} (shape ${act.shape.join('x')})`,
                    { hint: "a per-head patch needs the head axis of a [B, T, H, X] site, e.g. the anatomy's heads.axis" },
                  );
                shape[ax] = act.shape[ax];
              }
              const size = shape.reduce((a, b) => a * b, 1);
              const per = size / (B * T);
              const m = new Float32Array(size);
              for (const p of iv.patches.filter((q) => q.hook === hook)) {
                const ax = p.axis ?? 2;
                // Offsets inside one [B, T] cell of the mask: the whole cell, or one index of `ax`.
                const inner: number[] = [];
                if (p.index === undefined) for (let j = 0; j < per; j++) inner.push(j);
                else {
                  const stride = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
                  const outer = shape.slice(2, ax).reduce((a, b) => a * b, 1);
                  for (let o = 0; o < outer; o++)
                    for (let s = 0; s < stride; s++) inner.push(o * shape[ax] * stride + p.index * stride + s);
                }
                batch.forEach((_, b) => {
                  const [lo, hi] = posRange(p.positions, lens[b]);
                  for (let t = 0; t < T; t++) {
                    if (t < lo || t > hi) continue;
                    for (const j of inner) m[(b * T + t) * per + j] = 1;
                  }
                });
              }
              const mask = tf.tensor(m, shape);
              spec[hook] = (x: tf.Tensor) => tf.add(tf.mul(x, tf.sub(1, mask)), tf.mul(act, mask));
            }
            return lastProbs(model.forward(base, { hooks: spec, envFeatures }), lens);
          }),
        );
      }
    } catch (e) {
      outs.forEach((t) => t.dispose());
      throw e;
    } finally {
      cache.dispose();
      base.dispose();
      source.dispose();
      envFeatures?.dispose();
    }
    const vals = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    outs.forEach((t) => t.dispose());
    idx.forEach((i, b) => {
      const p = pairs[i];
      okSource[i] = argmax(vals[0], b) === p.sourceAnswer ? 1 : 0;
      okBase[i] = argmax(vals[1], b) === p.baseAnswer ? 1 : 0;
      pBase[i] = vals[1][b * V + p.expected];
      interventions.forEach((_, k) => {
        pPatch[k][i] = vals[2 + k][b * V + p.expected];
        hit[k][i] = argmax(vals[2 + k], b) === p.expected ? 1 : 0;
      });
    });
    await new Promise((r) => setImmediate(r));
  }
  const keep = Array.from({ length: n }, (_, i) => i).filter((i) => !(opts.onlyCorrect ?? true) || (okBase[i] && okSource[i]));
  const avg = (f: (i: number) => number) => (keep.length ? keep.reduce((a, i) => a + f(i), 0) / keep.length : NaN);
  return {
    baseAccuracy: okBase.reduce((a, x) => a + x, 0) / n,
    sourceAccuracy: okSource.reduce((a, x) => a + x, 0) / n,
    n: keep.length,
    scores: interventions.map((iv, k) => ({
      name: iv.name,
      mediation: avg((i) => pPatch[k][i] - pBase[i]),
      redirect: avg((i) => hit[k][i]),
      n: keep.length,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Per-head mediation and the three stages

export interface HeadMediationRow {
  /** 'L1H0' */
  name: string;
  layer: number;
  head: number;
  kind: BindingCounterfactualKind;
  positions: HeadPositions;
  mediation: number;
  redirect: number;
  n: number;
  base_accuracy: number;
}

export type HeadPositions = 'query' | 'last' | 'all';

/**
 * Mediation of every head (anatomy's per-head sites) on pairs of each kind present, patched at the
 * query's positions and at the last (`positions`, default ['query', 'last']; 'all' patches the
 * scene's positions too, where a swap-slots source differs from its base token by token).
 */
export async function headMediation(
  model: LanguageModel,
  pairs: readonly BindingPair[],
  opts: BindingScoreOptions & { positions?: HeadPositions[] } = {},
): Promise<HeadMediationRow[]> {
  const where = opts.positions ?? ['query', 'last'];
  const heads = components(model).filter((c) => c.kind === 'head');
  if (!heads.length)
    throw new GroundlabError('UNSUPPORTED', 'the model has no per-head output site (its anatomy lists no heads)', {
      hint: 'per-head mediation needs attention-like heads (Transformer, Mamba-2, GLA) or units (LSTM, GRU)',
    });
  const rows: HeadMediationRow[] = [];
  for (const kind of BINDING_COUNTERFACTUALS) {
    const ps = pairs.filter((p) => p.kind === kind);
    if (!ps.length) continue;
    const ivs: Intervention[] = [];
    for (const h of heads)
      for (const positions of where)
        ivs.push({ name: `${h.name}|${positions}`, patches: [{ hook: h.hook, axis: h.axis, index: h.head, positions }] });
    const r = await interventionScores(model, ps, ivs, opts);
    r.scores.forEach((s, i) => {
      const h = heads[Math.floor(i / where.length)];
      rows.push({
        name: h.name,
        layer: h.layer,
        head: h.head!,
        kind,
        positions: where[i % where.length],
        mediation: s.mediation,
        redirect: s.redirect,
        n: s.n,
        base_accuracy: r.baseAccuracy,
      });
    });
  }
  return rows;
}

export type BindingRole = 'ID retrieval' | 'ID selection' | 'feature retrieval' | 'none';

export interface RoleThresholds {
  /** swap-slots mediation (query positions) at or above which a head carries the position ID (default 0.5). */
  id: number;
  /** change-feature mediation at or above which a head carries the feature (default 0.5). */
  feature: number;
  /** Share of an ID head's mediation that the last position alone gives, at or above which it is an ID selection head (default 0.5). */
  lastShare: number;
}

export const ROLE_THRESHOLDS: RoleThresholds = { id: 0.5, feature: 0.5, lastShare: 0.5 };

export interface HeadRole {
  name: string;
  layer: number;
  head: number;
  role: BindingRole;
  /** The larger of the ID and the feature mediation. */
  mediation: number;
  id: number;
  idLast: number;
  feature: number;
  cue: number;
}

/** The three stages from per-head mediation rows (needs swap-slots and change-feature rows at the query positions and the last). */
export function classifyBindingHeads(rows: readonly HeadMediationRow[], thresholds: Partial<RoleThresholds> = {}): HeadRole[] {
  const th = { ...ROLE_THRESHOLDS, ...thresholds };
  for (const [k, v] of Object.entries(th))
    if (!(typeof v === 'number' && v > 0 && v <= 1))
      throw new GroundlabError('BAD_ARGUMENT', `role threshold ${k} = ${JSON.stringify(v)}: expected a number in (0, 1]`);
  for (const kind of ['swap-slots', 'change-feature'] as const)
    if (!rows.some((r) => r.kind === kind && r.positions === 'query'))
      throw new GroundlabError('BAD_ARGUMENT', `the role classification needs ${kind} mediation rows`, {
        hint: 'run headMediation on pairs of the kinds swap-slots and change-feature',
      });
  const get = (name: string, kind: BindingCounterfactualKind, positions: HeadPositions) =>
    rows.find((r) => r.name === name && r.kind === kind && r.positions === positions)?.mediation ?? NaN;
  const names = [...new Set(rows.map((r) => r.name))];
  return names.map((name) => {
    const r0 = rows.find((r) => r.name === name)!;
    const id = get(name, 'swap-slots', 'query');
    const idLast = get(name, 'swap-slots', 'last');
    const feature = get(name, 'change-feature', 'query');
    const cue = get(name, 'change-cue', 'query');
    let role: BindingRole = 'none';
    if (feature >= th.feature && !(id > feature)) role = 'feature retrieval';
    else if (id >= th.id) role = idLast / id >= th.lastShare ? 'ID selection' : 'ID retrieval';
    return { name, layer: r0.layer, head: r0.head, role, mediation: Math.max(id, feature), id, idLast, feature, cue };
  });
}

// ---------------------------------------------------------------------------------------------
// Position-ID patching

export interface PositionPatchRow {
  /** The residual-stream hook patched. */
  hook: string;
  /** Layer whose input it is (nLayers for the last layer's output). */
  layer: number;
  positions: 'last' | 'cue';
  redirect: number;
  mediation: number;
  n: number;
}

/** The residual stream entering each layer (and leaving the last) patched at the last position and at the cue from swap-slots sources. */
export async function positionIdPatching(
  model: LanguageModel,
  pairs: readonly BindingPair[],
  opts: BindingScoreOptions = {},
): Promise<PositionPatchRow[]> {
  const ps = pairs.filter((p) => p.kind === 'swap-slots');
  if (!ps.length) throw new GroundlabError('BAD_ARGUMENT', 'position-ID patching needs swap-slots pairs');
  const sites: Array<{ hook: string; layer: number }> = [];
  const L = model.anatomy.layers;
  L.forEach((la, l) => sites.push({ hook: la.residPre ?? (l > 0 ? L[l - 1].residPost : ''), layer: l }));
  sites.push({ hook: L[L.length - 1].residPost, layer: L.length });
  const use = sites.filter((s) => s.hook);
  const ivs: Intervention[] = use.flatMap((s) =>
    (['last', 'cue'] as const).map((positions) => ({ name: `${s.hook}|${positions}`, patches: [{ hook: s.hook, positions }] })),
  );
  const r = await interventionScores(model, ps, ivs, opts);
  return r.scores.map((s, i) => ({
    hook: use[Math.floor(i / 2)].hook,
    layer: use[Math.floor(i / 2)].layer,
    positions: i % 2 === 0 ? 'last' : 'cue',
    redirect: s.redirect,
    mediation: s.mediation,
    n: s.n,
  }));
}

// ---------------------------------------------------------------------------------------------
// Representational similarity: position vs. feature

export interface SimilarityRow {
  hook: string;
  /** Layer whose input the hook is (nLayers for the last layer's output). */
  layer: number;
  /** Mean cosine (after centring) of object states in the same slot with no feature in common. */
  samePosition: number;
  /** Mean cosine of states of the same object (colour and shape) in different slots. */
  sameFeatures: number;
  /** Mean cosine of states with nothing in common (other slot, colour and shape): the baseline. */
  unrelated: number;
  pairs: { samePosition: number; sameFeatures: number; unrelated: number };
}

/**
 * Mean centred cosine similarity within groups of labelled vectors: pairs in the same slot whose
 * colour and shape both differ, pairs with the same colour and shape in different slots, and pairs
 * that share nothing. `vectors` [n, d] row-major.
 */
export function labelSimilarity(
  vectors: Float32Array,
  d: number,
  labels: ReadonlyArray<{ slot: number; colour: string; shape: string }>,
): Omit<SimilarityRow, 'hook' | 'layer'> {
  const n = labels.length;
  if (vectors.length !== n * d)
    throw new GroundlabError('BAD_ARGUMENT', `labelSimilarity: ${vectors.length} values for ${n} labels of dimension ${d}`);
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += vectors[i * d + j] / n;
  const c = new Float64Array(n * d);
  const norm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = vectors[i * d + j] - mu[j];
      c[i * d + j] = v;
      s += v * v;
    }
    norm[i] = Math.sqrt(s) || 1;
  }
  const acc = { samePosition: [0, 0], sameFeatures: [0, 0], unrelated: [0, 0] };
  for (let a = 0; a < n; a++)
    for (let b = a + 1; b < n; b++) {
      const la = labels[a];
      const lb = labels[b];
      const sameSlot = la.slot === lb.slot;
      const sameC = la.colour === lb.colour;
      const sameS = la.shape === lb.shape;
      const key =
        sameSlot && !sameC && !sameS
          ? 'samePosition'
          : !sameSlot && sameC && sameS
            ? 'sameFeatures'
            : !sameSlot && !sameC && !sameS
              ? 'unrelated'
              : undefined;
      if (!key) continue;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += c[a * d + j] * c[b * d + j];
      acc[key][0] += dot / (norm[a] * norm[b]);
      acc[key][1] += 1;
    }
  const m = (x: number[]) => (x[1] ? x[0] / x[1] : NaN);
  return {
    samePosition: m(acc.samePosition),
    sameFeatures: m(acc.sameFeatures),
    unrelated: m(acc.unrelated),
    pairs: { samePosition: acc.samePosition[1], sameFeatures: acc.sameFeatures[1], unrelated: acc.unrelated[1] },
  };
}

/**
 * Is the position code content-independent? The residual stream entering each layer (and leaving
 * the last) at one token of every object (`token`: its colour, shape or closing `;`), compared by
 * `labelSimilarity` over the objects of `scenes`.
 */
export async function positionFeatureSimilarity(
  model: LanguageModel,
  tokenizer: Tokenizer,
  scenes: readonly BindingScene[],
  opts: { token?: 'colour' | 'shape' | 'end'; batchSize?: number; view?: SceneView } = {},
): Promise<SimilarityRow[]> {
  const view = opts.view ?? textSceneView(opts.token ?? 'shape');
  const L = model.anatomy.layers;
  const sites = [
    ...L.map((la, l) => ({ hook: la.residPre ?? (l > 0 ? L[l - 1].residPost : ''), layer: l })),
    { hook: L[L.length - 1].residPost, layer: L.length },
  ].filter((s) => s.hook);
  // The prompt (up to the query's `?`) and its features; objects' states at the view's positions.
  const seqs = scenes.map((s, i) => {
    const q = view.sequence(s, i);
    const len = q.answers[0];
    return { ids: tokenizer.encode(q.tokens.slice(0, len)), features: q.features?.subarray(0, len * view.featureDim) };
  });
  checkLengths(model, seqs);
  const where = scenes.map((s, i) => view.objectPositions(s, i));
  // A slot is where the object sits: its text slot, or its cell in the image variant.
  const labels = scenes.flatMap((s) =>
    s.objects.map((o, slot) => ({ slot: positionKey(view, s, slot), colour: o.colour, shape: o.shape })),
  );
  const D = model.config.dModel;
  const vecs = sites.map(() => new Float32Array(labels.length * D));
  const starts: number[] = [];
  let k = 0;
  for (const s of scenes) {
    starts.push(k);
    k += s.objects.length;
  }
  const bs = opts.batchSize ?? 32;
  for (let i = 0; i < scenes.length; i += bs) {
    const idx = Array.from({ length: Math.min(bs, scenes.length - i) }, (_, j) => i + j);
    const tokens = padTokens(idx.map((j) => seqs[j]));
    const T = tokens.shape[1];
    const envFeatures = batchFeatures(
      idx.map((j) => seqs[j].features),
      T,
      view.featureDim,
    );
    const { logits, cache } = model.runWithCache(tokens, { names: sites.map((s) => s.hook), envFeatures });
    logits.dispose();
    tokens.dispose();
    envFeatures?.dispose();
    for (let si = 0; si < sites.length; si++) {
      const act = cache.get(sites[si].hook);
      if (act.rank !== 3 || act.shape[2] !== D) {
        cache.dispose();
        throw new GroundlabError('UNSUPPORTED', `${sites[si].hook} has shape ${act.shape.join('x')}, not [B, T, ${D}]`);
      }
      const v = (await act.data()) as Float32Array;
      idx.forEach((j, b) =>
        where[j].forEach((pos, slot) => vecs[si].set(v.subarray((b * T + pos) * D, (b * T + pos + 1) * D), (starts[j] + slot) * D)),
      );
    }
    cache.dispose();
    await new Promise((r) => setImmediate(r));
  }
  return sites.map((s, si) => ({ hook: s.hook, layer: s.layer, ...labelSimilarity(vecs[si], D, labels) }));
}

// ---------------------------------------------------------------------------------------------
// Accuracy

/** Where an object sits, as the analyses compare positions: its text slot, or its cell in the image variant. */
function positionKey(view: SceneView, s: BindingScene, slot: number): number {
  return view.featureDim ? s.objects[slot].y * 1000 + s.objects[slot].x : slot;
}

/** The slot of the object whose queried attribute is `word` (-1: none of the scene's objects). */
function saidObjectSlot(s: BindingScene, word: string): number {
  return s.objects.findIndex((o) => (s.query === 'colour' ? o.colour : o.shape) === word);
}

/**
 * Wrong answers of colour and shape queries, by what the model said: the attribute of another
 * object of the scene (a binding error: it retrieved the wrong object; `bySlotOffset` counts them by
 * that object's slot minus the target's), a feature absent from the scene, or any other token.
 */
export interface BindingErrors {
  n: number;
  otherObject: number;
  absentFeature: number;
  other: number;
  bySlotOffset: Array<{ offset: number; n: number }>;
}

export interface BindingAccuracy {
  accuracy: number;
  n: number;
  errors: BindingErrors;
  byObjects: Array<{ objects: number; accuracy: number; n: number }>;
  byQuery: Array<{ query: string; accuracy: number; n: number }>;
}

/** Teacher-forced accuracy: a scene is right when the argmax is right at every answer token. */
export async function bindingAccuracy(
  model: LanguageModel,
  tokenizer: Tokenizer,
  scenes: readonly BindingScene[],
  opts: { batchSize?: number; signal?: AbortSignal; view?: SceneView } = {},
): Promise<BindingAccuracy> {
  const bs = opts.batchSize ?? 64;
  const pad = tokenizer.id(PAD);
  const view = opts.view ?? textSceneView();
  const shown = scenes.map((s, i) => view.sequence(s, i));
  // Inputs are the sequence without its last token (<eos>): the targets are the tokens after them.
  checkLengths(
    model,
    shown.map((q) => ({ ids: tokenizer.encode(q.tokens.slice(0, -1)) })),
  );
  const right: boolean[] = [];
  const errors: BindingErrors = { n: 0, otherObject: 0, absentFeature: 0, other: 0, bySlotOffset: [] };
  const offsets = new Map<number, number>();
  for (let i = 0; i < scenes.length; i += bs) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'the accuracy evaluation was stopped');
    const batch = scenes.slice(i, i + bs);
    const toks = batch.map((_, b) => tokenizer.encode(shown[i + b].tokens));
    const t = Math.max(...toks.map((x) => x.length)) - 1;
    const ids = new Int32Array(batch.length * t).fill(pad);
    toks.forEach((x, b) => ids.set(x.slice(0, -1), b * t));
    const pred = tf.tidy(() => {
      const envFeatures = batchFeatures(
        batch.map((_, b) => shown[i + b].features),
        t,
        view.featureDim,
      );
      return tf.argMax(model.forward(tf.tensor2d(ids, [batch.length, t], 'int32'), { envFeatures }), 2);
    });
    const p = await pred.data();
    pred.dispose();
    batch.forEach((s, b) => {
      let ok = true;
      // The answer tokens (target index a - 1 predicts token a).
      let first = -1;
      for (const a of shown[i + b].answers)
        if (p[b * t + a - 1] !== toks[b][a]) {
          ok = false;
          if (first < 0) first = a - 1;
        }
      right.push(ok);
      if (!ok && (s.query === 'colour' || s.query === 'shape')) {
        errors.n++;
        const said = tokenizer.token(p[b * t + first]);
        const slot = saidObjectSlot(s, said);
        const pool = s.query === 'colour' ? BINDING_COLOURS : BINDING_SHAPES;
        if (slot >= 0) {
          errors.otherObject++;
          offsets.set(slot - s.target, (offsets.get(slot - s.target) ?? 0) + 1);
        } else if ((pool as readonly string[]).includes(said)) errors.absentFeature++;
        else errors.other++;
      }
    });
    await new Promise((r) => setImmediate(r));
  }
  const group = <K>(key: (s: BindingScene) => K) => {
    const g = new Map<K, [number, number]>();
    scenes.forEach((s, i) => {
      const r = g.get(key(s)) ?? [0, 0];
      g.set(key(s), [r[0] + (right[i] ? 1 : 0), r[1] + 1]);
    });
    return [...g.entries()].map(([k, [r, n]]) => ({ k, accuracy: r / n, n }));
  };
  errors.bySlotOffset = [...offsets.entries()].sort((a, b) => a[0] - b[0]).map(([offset, n]) => ({ offset, n }));
  return {
    accuracy: right.filter(Boolean).length / Math.max(1, right.length),
    n: right.length,
    errors,
    byObjects: group((s) => s.objects.length)
      .sort((a, b) => a.k - b.k)
      .map(({ k, accuracy, n }) => ({ objects: k, accuracy, n })),
    byQuery: group((s) => s.query).map(({ k, accuracy, n }) => ({ query: k, accuracy, n })),
  };
}

// ---------------------------------------------------------------------------------------------
// Error tracing with a probe

/** One residual site of `errorProbe`: how well the probe reads the target's position, and what it reads on the errors. */
export interface ErrorProbeRow {
  hook: string;
  /** Depth (`hookLayer`: 0 = entering the first block, L = after the last). */
  layer: number;
  /** Held-out accuracy of the probe on right answers (the retrieved object is the target there). */
  probeAccuracy: number;
  /** 1 / number of positions: the probe's chance level. */
  chance: number;
  /** Right answers the probe was trained on and tested on. */
  nTrain: number;
  nTest: number;
  /** Wrong answers decoded. */
  nErrors: number;
  /** Share of wrong answers whose decoded position is not the target's: errors a wrong position explains. */
  wrongPosition: number;
  /** Share of wrong answers whose decoded position is that of the object whose attribute was said. */
  saidObject: number;
}

export interface ErrorProbe {
  rows: ErrorProbeRow[];
  /** The site where the probe reads the target's position best (the first of ties); null when nothing could be fitted. */
  best: ErrorProbeRow | null;
  /** Right and wrong single-token answers (colour and shape queries). */
  right: number;
  wrong: number;
}

/**
 * Which object did the model retrieve when it answered wrong? A linear probe (softmax regression,
 * src/probe) reads the target object's position from the residual stream at the answer position,
 * at every depth, trained on right answers (where the retrieved object is the target); applied to
 * the wrong answers, it decodes the position the model carried there. `wrongPosition` is the share
 * of errors whose decoded position is not the target's (errors of the ID stages), the rest carried
 * the right position and went wrong later (feature retrieval). `saidObject`: the decoded position is
 * the one of the object whose attribute was said. A position is the object's text slot, or its cell
 * in the image variant. Colour and shape queries only (one answer token).
 */
export async function errorProbe(
  model: LanguageModel,
  tokenizer: Tokenizer,
  scenes: readonly BindingScene[],
  opts: { batchSize?: number; signal?: AbortSignal; view?: SceneView; l2?: number; seed?: number; testFraction?: number } = {},
): Promise<ErrorProbe> {
  const view = opts.view ?? textSceneView();
  const used = scenes.map((s, i) => ({ s, i })).filter(({ s }) => s.query === 'colour' || s.query === 'shape');
  const hooks = residualHooks(model);
  const nLayers = model.anatomy.layers.length;
  const D = model.config.dModel;
  const seqs = used.map(({ s, i }) => {
    const q = view.sequence(s, i);
    const len = q.answers[0];
    return {
      ids: tokenizer.encode(q.tokens.slice(0, len)),
      features: q.features?.subarray(0, len * view.featureDim),
      answer: tokenizer.id(q.tokens[len]),
    };
  });
  checkLengths(model, seqs);
  const vecs = hooks.map(() => new Float32Array(used.length * D));
  const said = new Int32Array(used.length);
  const bs = opts.batchSize ?? 32;
  for (let i = 0; i < used.length; i += bs) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'the error probe was stopped');
    const idx = Array.from({ length: Math.min(bs, used.length - i) }, (_, j) => i + j);
    const tokens = padTokens(idx.map((j) => seqs[j]));
    const T = tokens.shape[1];
    const envFeatures = batchFeatures(
      idx.map((j) => seqs[j].features),
      T,
      view.featureDim,
    );
    const { logits, cache } = model.runWithCache(tokens, { names: hooks, envFeatures });
    tokens.dispose();
    envFeatures?.dispose();
    const top = tf.tidy(() => tf.argMax(logits, 2));
    logits.dispose();
    const p = await top.data();
    top.dispose();
    idx.forEach((j, b) => (said[j] = p[b * T + seqs[j].ids.length - 1]));
    for (let h = 0; h < hooks.length; h++) {
      const v = (await cache.get(hooks[h]).data()) as Float32Array;
      idx.forEach((j, b) => {
        const at = b * T + seqs[j].ids.length - 1;
        vecs[h].set(v.subarray(at * D, (at + 1) * D), j * D);
      });
    }
    cache.dispose();
    await new Promise((r) => setImmediate(r));
  }
  const rightIdx: number[] = [];
  const wrongIdx: number[] = [];
  used.forEach((_, j) => (said[j] === seqs[j].answer ? rightIdx : wrongIdx).push(j));
  // Classes: the positions of right answers' targets (the probe can only name what it was shown).
  const keys = [...new Set(rightIdx.map((j) => positionKey(view, used[j].s, used[j].s.target)))].sort((a, b) => a - b);
  const cls = new Map(keys.map((k, c) => [k, c]));
  const out = { rows: [] as ErrorProbeRow[], best: null as ErrorProbeRow | null, right: rightIdx.length, wrong: wrongIdx.length };
  if (keys.length < 2 || rightIdx.length < 8) return out;
  const labels = Int32Array.from(rightIdx.map((j) => cls.get(positionKey(view, used[j].s, used[j].s.target))!));
  // A held-out set needs a position seen at least twice (a position seen once goes to training).
  if (new Set(labels).size === labels.length) return out;
  const split = trainTestSplit(rightIdx.length, { seed: opts.seed ?? 0, testFraction: opts.testFraction ?? 0.25 }, labels);
  // The object whose attribute was said, per wrong answer (-1: none of the scene's).
  const saidSlot = wrongIdx.map((j) => saidObjectSlot(used[j].s, tokenizer.token(said[j])));
  for (let h = 0; h < hooks.length; h++) {
    const x = (idx: ArrayLike<number>) => takeRows(vecs[h], D, idx);
    const trainRows = Array.from(split.train, (t) => rightIdx[t]);
    const fit = fitLogistic(
      x(trainRows),
      Int32Array.from(split.train, (t) => labels[t]),
      trainRows.length,
      D,
      keys.length,
      { l2: opts.l2 ?? 1e-3 },
    );
    const testPred = logisticPredict(fit, x(Array.from(split.test, (t) => rightIdx[t])), split.test.length);
    let hits = 0;
    split.test.forEach((t, k) => (hits += testPred[k] === labels[t] ? 1 : 0));
    const errPred = wrongIdx.length ? logisticPredict(fit, x(wrongIdx), wrongIdx.length) : new Int32Array(0);
    let wrongPos = 0;
    let saidObj = 0;
    wrongIdx.forEach((j, k) => {
      const { s } = used[j];
      const decoded = keys[errPred[k]];
      if (decoded !== positionKey(view, s, s.target)) wrongPos++;
      if (saidSlot[k] >= 0 && decoded === positionKey(view, s, saidSlot[k])) saidObj++;
    });
    out.rows.push({
      hook: hooks[h],
      layer: hookLayer(hooks[h], nLayers),
      probeAccuracy: hits / split.test.length,
      chance: 1 / keys.length,
      nTrain: split.train.length,
      nTest: split.test.length,
      nErrors: wrongIdx.length,
      wrongPosition: wrongIdx.length ? wrongPos / wrongIdx.length : NaN,
      saidObject: wrongIdx.length ? saidObj / wrongIdx.length : NaN,
    });
    await new Promise((r) => setImmediate(r));
  }
  out.best = out.rows.reduce<ErrorProbeRow | null>((b, r) => (!b || r.probeAccuracy > b.probeAccuracy ? r : b), null);
  return out;
}

// ---------------------------------------------------------------------------------------------
// One checkpoint of a binding run

export interface BindingRunOptions {
  /** Checkpoint step (default: the last). */
  step?: number;
  /** Scenes per object count for accuracy (default 100) and counterfactual pairs per kind (default 200). */
  perCount?: number;
  pairs?: number;
  /** Object counts of the counterfactual pairs (default 2..maxObjects of the run's corpus). */
  counts?: number[];
  thresholds?: Partial<RoleThresholds>;
  seed?: number;
  batchSize?: number;
  signal?: AbortSignal;
}

export interface BindingReport {
  step: number;
  accuracy: BindingAccuracy;
  /** Accuracy on scenes whose queried object has a held-out colour-shape combination. */
  heldOut: BindingAccuracy | null;
  /** The accuracy scenes' errors traced by a probe of the position carried at the answer. */
  errorProbe: ErrorProbe;
  mediation: HeadMediationRow[];
  roles: HeadRole[];
  positionPatching: PositionPatchRow[];
  /** Object states (at their shape tokens) by position vs. by features, per layer. */
  similarity: SimilarityRow[];
  seconds: number;
}

function knobsOf(run: Run): BindingKnobs {
  if (run.config.corpus.kind !== 'binding') {
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `run ${run.dir} was trained on a "${run.config.corpus.kind}" corpus; the binding analyses need a binding run`,
      {
        hint: 'train one with `groundlab train --corpus-kind binding --arch transformer --preset quick --out runs/bind-quick`',
        codeHint: 'train one with `train({ out: "runs/bind-quick", arch: "transformer", preset: "quick", corpus: { kind: "binding" } })`',
      },
    );
  }
  if (bindingVariant(run.config.corpus.knobs) === 'entities')
    throw new GroundlabError('BAD_ARGUMENT', `run ${run.dir} is a text entity binding run; its analyses are entityBindingRun's`, {
      hint: '`groundlab binding <run>` picks the right ones by itself',
    });
  return bindingVariant(run.config.corpus.knobs) === 'image'
    ? imageBindingKnobs(run.config.corpus.knobs)
    : bindingKnobs(run.config.corpus.knobs);
}

/** The view of a run's scenes (text, or patches rendered from `key`). */
function viewOf(k: BindingKnobs, key: string): SceneView {
  return 'layout' in k ? imageSceneView(k as ImageBindingKnobs, key) : textSceneView();
}

/** Accuracy (by objects, held out), per-head mediation, roles and position-ID patching on one checkpoint; rows to analysis/binding.arrow. */
export async function bindingRun(run: Run, o: BindingRunOptions = {}): Promise<BindingReport> {
  const t0 = Date.now();
  const k = knobsOf(run);
  const step = o.step ?? run.checkpoints[run.checkpoints.length - 1]?.step;
  if (step === undefined) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint`);
  const seed = o.seed ?? 0;
  const all = Array.from({ length: k.maxObjects - k.minObjects + 1 }, (_, i) => k.minObjects + i);
  const counts = o.counts ?? all.filter((n) => n >= 2 && n < k.colours && n < k.shapes);
  const tok = run.tokenizer;
  const model = await run.loadModel(step);
  try {
    const common = { batchSize: o.batchSize, signal: o.signal };
    const image = 'layout' in k;
    const accScenes = bindingEvalScenes(k, { counts: all, perCount: o.perCount ?? 100, seed: `${seed}/acc` });
    const accuracy = await bindingAccuracy(model, tok, accScenes, { ...common, view: viewOf(k, `${seed}/acc`) });
    const probed = await errorProbe(model, tok, accScenes, { ...common, view: viewOf(k, `${seed}/acc`), seed });
    const heldOut = k.heldOut.length
      ? await bindingAccuracy(
          model,
          tok,
          bindingEvalScenes(k, { counts: all, perCount: o.perCount ?? 100, seed: `${seed}/held`, query: 'colour', heldOut: 'target' }),
          { ...common, view: viewOf(k, `${seed}/held`) },
        )
      : null;
    // Image pairs: swap-slots exchanges the two objects' cells (imageCounterfactual); base and source rendered alike.
    const pairs = BINDING_COUNTERFACTUALS.flatMap((kind) => {
      const cfs = bindingCounterfactuals(k, { kind, counts, count: o.pairs ?? 200, seed: `${seed}/pairs` });
      return encodeBindingPairs(image ? cfs.map(imageCounterfactual) : cfs, tok, viewOf(k, `${seed}/pairs/${kind}`));
    });
    const mediation = await headMediation(model, pairs, common);
    const roles = classifyBindingHeads(mediation, o.thresholds);
    const positionPatching = await positionIdPatching(model, pairs, common);
    const similarity = await positionFeatureSimilarity(
      model,
      tok,
      bindingEvalScenes(k, { counts: all, perCount: Math.max(1, Math.ceil(200 / all.length)), seed: `${seed}/rsa` }),
      { batchSize: o.batchSize, view: viewOf(k, `${seed}/rsa`) },
    );
    const rows = [
      { section: 'accuracy', name: 'all', kind: '', positions: '', value: accuracy.accuracy, redirect: NaN, n: accuracy.n },
      ...accuracy.byObjects.map((b) => ({
        section: 'accuracy',
        name: `objects=${b.objects}`,
        kind: '',
        positions: '',
        value: b.accuracy,
        redirect: NaN,
        n: b.n,
      })),
      ...(heldOut
        ? [{ section: 'accuracy', name: 'held-out', kind: '', positions: '', value: heldOut.accuracy, redirect: NaN, n: heldOut.n }]
        : []),
      ...(['otherObject', 'absentFeature', 'other'] as const).map((key) => ({
        section: 'errors',
        name: key,
        kind: '',
        positions: '',
        value: accuracy.errors.n ? accuracy.errors[key] / accuracy.errors.n : NaN,
        redirect: NaN,
        n: accuracy.errors[key],
      })),
      ...accuracy.errors.bySlotOffset.map((e) => ({
        section: 'errors',
        name: `slot offset ${e.offset}`,
        kind: '',
        positions: '',
        value: e.n / accuracy.errors.n,
        redirect: NaN,
        n: e.n,
      })),
      ...probed.rows.flatMap((r) =>
        (['probeAccuracy', 'wrongPosition', 'saidObject'] as const).map((key) => ({
          section: 'error-probe',
          name: r.hook,
          kind: key,
          positions: 'last',
          value: r[key],
          redirect: NaN,
          n: key === 'probeAccuracy' ? r.nTest : r.nErrors,
        })),
      ),
      ...mediation.map((m) => ({
        section: 'mediation',
        name: m.name,
        kind: m.kind,
        positions: m.positions,
        value: m.mediation,
        redirect: m.redirect,
        n: m.n,
      })),
      ...roles.map((r) => ({ section: 'role', name: r.name, kind: r.role, positions: '', value: r.mediation, redirect: NaN, n: 0 })),
      ...positionPatching.map((p) => ({
        section: 'position-id',
        name: p.hook,
        kind: 'swap-slots',
        positions: p.positions,
        value: p.mediation,
        redirect: p.redirect,
        n: p.n,
      })),
      ...similarity.flatMap((r) =>
        (['samePosition', 'sameFeatures', 'unrelated'] as const).map((key) => ({
          section: 'similarity',
          name: r.hook,
          kind: key,
          positions: 'shape',
          value: r[key],
          redirect: NaN,
          n: r.pairs[key],
        })),
      ),
    ].map((r) => ({ step, ...r }));
    const old = ((await run.readTable('analysis/binding'))?.objects() ?? []) as Array<{ step: number }>;
    await run.writeTable('analysis/binding', aq.from([...old.filter((r) => r.step !== step), ...rows]));
    return {
      step,
      accuracy,
      heldOut,
      errorProbe: probed,
      mediation,
      roles,
      positionPatching,
      similarity,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    model.dispose();
  }
}

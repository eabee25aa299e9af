/**
 * Text entity binding (seed 004, "Mixing Mechanisms"; issue 20 item 4) on the `entities` variant of
 * the binding corpus (src/data/textbinding.ts):
 *
 * - `entityAccuracy`: accuracy of the first answer by number of groups and by the queried group's
 *   slot (do middle slots degrade?), and the wrong answers by what was said (another group's
 *   answer-side token, by slot offset).
 * - `mechanismPatching`: interchange interventions that separate the three retrieval mechanisms.
 *   From a mechanism counterfactual (a source with the same tokens bound in another order and
 *   another query; the positional, lexical and reflexive mechanisms predict three different base
 *   tokens), the residual stream at the last position entering each layer (and leaving the last)
 *   is taken from the source run into the base run. Per layer: the share of pairs whose argmax is
 *   the positional, lexical or reflexive prediction, the base answer, or anything else, and every
 *   pair's probabilities of the base's candidates (its n answer-side tokens).
 * - `entityMixture`: the three-mechanism causal model (src/analysis/mixture.ts) fitted to those
 *   distributions at one layer (default: where the mechanisms' predictions together take the most
 *   pairs), on half of the pairs, its agreement on the other half; restricted models (one
 *   mechanism and noise) for comparison.
 * - `entityBindingRun`: all of it on one checkpoint of an entities run, rows to `analysis/binding.arrow`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as aq from 'arquero';
import { GroundlabError } from '../errors';
import type { LanguageModel } from '../models/types';
import type { Tokenizer } from '../data/types';
import type { Run } from '../train/run';
import {
  answerSide,
  entityAnswer,
  entityCounterfactuals,
  entityEvalScenes,
  entityKnobs,
  entityPromptTokens,
  type EntityCounterfactual,
  type EntityKnobs,
  type EntityScene,
} from '../data/textbinding';
import { bindingVariant } from '../data/binding';
import { checkLengths, lengthBatches, padTokens } from '../eval/surprisal';
import { fitMixture, mixtureAgreement, type Mechanism, type MixtureAgreement, type MixtureFit, type MixtureItem } from './mixture';

/** [B, V] softmax of each row's logits at position lens[b] - 1. */
function lastSoftmax(logits: tf.Tensor3D, lens: readonly number[]): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const idx = tf.tensor1d(
      lens.map((n, b) => b * T + n - 1),
      'int32',
    );
    return tf.softmax(tf.gather(tf.reshape(logits, [B * T, V]), idx)) as tf.Tensor2D;
  });
}

const argmaxRow = (p: Float32Array, b: number, V: number) => {
  let best = 0;
  for (let v = 1; v < V; v++) if (p[b * V + v] > p[b * V + best]) best = v;
  return best;
};

// ---------------------------------------------------------------------------------------------
// Accuracy by slot

export interface EntityAccuracy {
  accuracy: number;
  n: number;
  byGroups: Array<{ groups: number; accuracy: number; n: number }>;
  bySlot: Array<{ groups: number; slot: number; accuracy: number; n: number }>;
  /** Wrong answers: another group's answer-side token (by its slot minus the target's), or anything else. */
  errors: { n: number; otherGroup: number; other: number; bySlotOffset: Array<{ offset: number; n: number }> };
}

/** Accuracy of the first answer (argmax after the prompt) on contexts, by groups and by the queried slot. */
export async function entityAccuracy(
  model: LanguageModel,
  tokenizer: Tokenizer,
  scenes: readonly EntityScene[],
  opts: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<EntityAccuracy> {
  const seqs = scenes.map((s) => ({ ids: tokenizer.encode(entityPromptTokens(s)) }));
  checkLengths(model, seqs);
  const V = model.config.vocabSize;
  const said = new Int32Array(scenes.length);
  for (const idx of lengthBatches(seqs, opts.batchSize ?? 64)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'the entity accuracy evaluation was stopped');
    const lens = idx.map((i) => seqs[i].ids.length);
    const probs = tf.tidy(() => lastSoftmax(model.forward(padTokens(idx.map((i) => seqs[i]))), lens));
    const p = (await probs.data()) as Float32Array;
    probs.dispose();
    idx.forEach((i, b) => (said[i] = argmaxRow(p, b, V)));
    await new Promise((r) => setImmediate(r));
  }
  const cells = new Map<string, [number, number]>();
  const groups = new Map<number, [number, number]>();
  const errors: EntityAccuracy['errors'] = { n: 0, otherGroup: 0, other: 0, bySlotOffset: [] };
  const offsets = new Map<number, number>();
  let right = 0;
  scenes.forEach((s, i) => {
    const ok = said[i] === tokenizer.id(entityAnswer(s));
    if (ok) right++;
    const n = s.groups.length;
    const key = `${n}/${s.target}`;
    const c = cells.get(key) ?? [0, 0];
    cells.set(key, [c[0] + (ok ? 1 : 0), c[1] + 1]);
    const g = groups.get(n) ?? [0, 0];
    groups.set(n, [g[0] + (ok ? 1 : 0), g[1] + 1]);
    if (!ok) {
      errors.n++;
      const word = tokenizer.token(said[i]);
      const slot = s.groups.findIndex((x) => x[answerSide(s.query)] === word);
      if (slot >= 0) {
        errors.otherGroup++;
        offsets.set(slot - s.target, (offsets.get(slot - s.target) ?? 0) + 1);
      } else errors.other++;
    }
  });
  errors.bySlotOffset = [...offsets.entries()].sort((a, b) => a[0] - b[0]).map(([offset, n]) => ({ offset, n }));
  return {
    accuracy: right / Math.max(1, scenes.length),
    n: scenes.length,
    byGroups: [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([g, [r, n]]) => ({ groups: g, accuracy: r / n, n })),
    bySlot: [...cells.entries()]
      .map(([k, [r, n]]) => {
        const [g, slot] = k.split('/').map(Number);
        return { groups: g, slot, accuracy: r / n, n };
      })
      .sort((a, b) => a.groups - b.groups || a.slot - b.slot),
    errors,
  };
}

// ---------------------------------------------------------------------------------------------
// Interventions that separate the mechanisms

export type MechanismOutcome = 'positional' | 'lexical' | 'reflexive' | 'base' | 'other';
export const MECHANISM_OUTCOMES: readonly MechanismOutcome[] = ['positional', 'lexical', 'reflexive', 'base', 'other'];

export interface MechanismPatchRow {
  /** The residual-stream hook patched at the last position. */
  hook: string;
  /** Layer whose input it is (nLayers: the last layer's output). */
  layer: number;
  /** Share of scored pairs whose argmax is each outcome. */
  shares: Record<MechanismOutcome, number>;
  /** Mean probability mass on the base's candidates (its n answer-side tokens). */
  candidateMass: number;
  n: number;
}

export interface MechanismPatching {
  /** Share of pairs answered right on the base / on the source run. */
  baseAccuracy: number;
  sourceAccuracy: number;
  /** The pairs scored (right on both with onlyCorrect). */
  pairs: EntityCounterfactual[];
  rows: MechanismPatchRow[];
  /** Per row (site), per scored pair: the probabilities of the base's candidates. */
  candidateProbs: Float32Array[][];
}

/** The residual-stream hooks entering each layer and leaving the last (the anatomy's). */
function residualSites(model: LanguageModel): Array<{ hook: string; layer: number }> {
  const L = model.anatomy.layers;
  return [
    ...L.map((la, l) => ({ hook: la.residPre ?? (l > 0 ? L[l - 1].residPost : ''), layer: l })),
    { hook: L[L.length - 1].residPost, layer: L.length },
  ].filter((s) => s.hook);
}

export async function mechanismPatching(
  model: LanguageModel,
  tokenizer: Tokenizer,
  cfs: readonly EntityCounterfactual[],
  opts: { batchSize?: number; onlyCorrect?: boolean; signal?: AbortSignal } = {},
): Promise<MechanismPatching> {
  if (!cfs.length)
    throw new GroundlabError('BAD_ARGUMENT', 'no mechanism counterfactuals to patch', { hint: 'draw some with entityCounterfactuals' });
  const base = cfs.map((c) => ({ ids: tokenizer.encode(entityPromptTokens(c.base)) }));
  const source = cfs.map((c) => tokenizer.encode(entityPromptTokens(c.source)));
  cfs.forEach((c, i) => {
    if (base[i].ids.length !== source[i].length)
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `mechanism pair ${i}: base and source prompts differ in length; patching needs equal lengths`,
      );
  });
  checkLengths(model, base);
  const sites = residualSites(model);
  const V = model.config.vocabSize;
  const N = cfs.length;
  const okBase = new Uint8Array(N);
  const okSource = new Uint8Array(N);
  const outcome = sites.map(() => new Array<MechanismOutcome>(N));
  const mass = sites.map(() => new Float64Array(N));
  const probs = sites.map(() => new Array<Float32Array>(N));
  const ids = cfs.map((c) => ({
    base: tokenizer.id(c.baseAnswer),
    source: tokenizer.id(c.sourceAnswer),
    positional: tokenizer.id(c.positional),
    lexical: tokenizer.id(c.lexical),
    reflexive: tokenizer.id(c.reflexive),
    candidates: c.candidates.map((w) => tokenizer.id(w)),
  }));
  for (const idx of lengthBatches(base, opts.batchSize ?? 32)) {
    if (opts.signal?.aborted) throw new GroundlabError('ABORTED', 'mechanism patching was stopped');
    const lens = idx.map((i) => base[i].ids.length);
    const bTok = padTokens(idx.map((i) => base[i]));
    const sTok = padTokens(idx.map((i) => ({ ids: source[i] })));
    const [B, T] = bTok.shape;
    const { logits: sLogits, cache } = model.runWithCache(sTok, { names: sites.map((s) => s.hook) });
    const outs: tf.Tensor[] = [];
    try {
      outs.push(lastSoftmax(sLogits, lens));
      outs.push(tf.tidy(() => lastSoftmax(model.forward(bTok), lens)));
      const m = new Float32Array(B * T);
      lens.forEach((n, b) => (m[b * T + n - 1] = 1));
      const mask = tf.tensor3d(m, [B, T, 1]);
      try {
        for (const s of sites)
          outs.push(
            tf.tidy(() => {
              const act = cache.get(s.hook);
              const hook = (x: tf.Tensor) => tf.add(tf.mul(x, tf.sub(1, mask)), tf.mul(act, mask));
              return lastSoftmax(model.forward(bTok, { hooks: { [s.hook]: hook } }), lens);
            }),
          );
      } finally {
        mask.dispose();
      }
    } catch (e) {
      outs.forEach((t) => t.dispose());
      throw e;
    } finally {
      sLogits.dispose();
      cache.dispose();
      bTok.dispose();
      sTok.dispose();
    }
    const vals = (await Promise.all(outs.map((t) => t.data()))) as Float32Array[];
    outs.forEach((t) => t.dispose());
    idx.forEach((i, b) => {
      const id = ids[i];
      okSource[i] = argmaxRow(vals[0], b, V) === id.source ? 1 : 0;
      okBase[i] = argmaxRow(vals[1], b, V) === id.base ? 1 : 0;
      sites.forEach((_, k) => {
        const v = vals[2 + k];
        const top = argmaxRow(v, b, V);
        // The base answer first: with 3 groups it may coincide with one mechanism's prediction (unchanged, not redirected).
        outcome[k][i] =
          top === id.base
            ? 'base'
            : top === id.positional
              ? 'positional'
              : top === id.lexical
                ? 'lexical'
                : top === id.reflexive
                  ? 'reflexive'
                  : 'other';
        const cp = new Float32Array(id.candidates.length);
        id.candidates.forEach((c, j) => (cp[j] = v[b * V + c]));
        probs[k][i] = cp;
        mass[k][i] = cp.reduce((a, x) => a + x, 0);
      });
    });
    await new Promise((r) => setImmediate(r));
  }
  const keep = Array.from({ length: N }, (_, i) => i).filter((i) => !(opts.onlyCorrect ?? true) || (okBase[i] && okSource[i]));
  const share = (k: number, o: MechanismOutcome) => (keep.length ? keep.filter((i) => outcome[k][i] === o).length / keep.length : NaN);
  return {
    baseAccuracy: okBase.reduce((a, x) => a + x, 0) / N,
    sourceAccuracy: okSource.reduce((a, x) => a + x, 0) / N,
    pairs: keep.map((i) => cfs[i]),
    rows: sites.map((s, k) => ({
      hook: s.hook,
      layer: s.layer,
      shares: Object.fromEntries(MECHANISM_OUTCOMES.map((o) => [o, share(k, o)])) as Record<MechanismOutcome, number>,
      candidateMass: keep.length ? keep.reduce((a, i) => a + mass[k][i], 0) / keep.length : NaN,
      n: keep.length,
    })),
    candidateProbs: sites.map((_, k) => keep.map((i) => probs[k][i])),
  };
}

// ---------------------------------------------------------------------------------------------
// The mixture model fitted to the patched runs

/** Where in the context the positional mechanism points: the first group, the last, or one between. */
export function positionRegion(position: number, groups: number): 'first' | 'middle' | 'last' {
  return position === 0 ? 'first' : position === groups - 1 ? 'last' : 'middle';
}

export type MixtureCells = 'region' | 'groups' | 'groups-region';

/** Mixture items from a patching result at site `k`, one cell per region / group count / both. */
export function mixtureItems(p: MechanismPatching, k: number, cells: MixtureCells = 'region'): MixtureItem[] {
  return p.pairs.map((c, i) => {
    const n = c.candidates.length;
    const region = positionRegion(c.sourcePosition, n);
    return {
      probs: p.candidateProbs[k][i],
      position: c.sourcePosition,
      lexical: c.candidates.indexOf(c.lexical),
      reflexive: c.candidates.indexOf(c.reflexive),
      cell: cells === 'region' ? region : cells === 'groups' ? `groups=${n}` : `groups=${n}/${region}`,
    };
  });
}

export interface EntityMixtureResult {
  /** The site the model was fitted at. */
  hook: string;
  layer: number;
  cells: MixtureCells;
  fit: MixtureFit;
  /** Agreement on the pairs fitted (even indices) and on the held-out ones (odd). */
  train: MixtureAgreement;
  heldOut: MixtureAgreement;
  /** Held-out agreement of restricted models: one mechanism (and noise). */
  restricted: Array<{ components: Mechanism[]; heldOut: MixtureAgreement }>;
  /** Held-out agreement by number of groups. */
  byGroups: Array<{ groups: number; top1: number; jsSimilarity: number; n: number }>;
}

/**
 * Fit the mixture at one site of a patching result (default: the site where the three mechanisms'
 * predictions together take the largest share of argmaxes) on the even-indexed pairs, and measure
 * its agreement on the odd-indexed ones.
 */
export function entityMixture(
  p: MechanismPatching,
  opts: { layer?: number; cells?: MixtureCells; sigmas?: number[] } = {},
): EntityMixtureResult {
  if (p.pairs.length < 2)
    throw new GroundlabError('BAD_ARGUMENT', `the mixture needs at least 2 scored pairs (one to fit, one to test), not ${p.pairs.length}`, {
      hint: 'use more pairs, or a checkpoint that answers base and source right',
    });
  const explained = (r: MechanismPatchRow) => r.shares.positional + r.shares.lexical + r.shares.reflexive;
  let k = 0;
  if (opts.layer !== undefined) {
    k = p.rows.findIndex((r) => r.layer === opts.layer);
    if (k < 0)
      throw new GroundlabError('BAD_ARGUMENT', `no patched site for layer ${opts.layer}`, {
        hint: `layers: ${p.rows.map((r) => r.layer).join(', ')}`,
      });
  } else p.rows.forEach((r, j) => (explained(r) > explained(p.rows[k]) ? (k = j) : 0));
  const cells = opts.cells ?? 'region';
  const items = mixtureItems(p, k, cells);
  const train = items.filter((_, i) => i % 2 === 0);
  const test = items.filter((_, i) => i % 2 === 1);
  // A held-out cell absent from the fitted half cannot be predicted: drop it from the test half.
  const fit = fitMixture(train, { sigmas: opts.sigmas });
  const fitted = new Set(fit.cells.map((c) => c.cell));
  const testable = test.filter((it) => fitted.has(it.cell));
  if (!testable.length)
    throw new GroundlabError('BAD_ARGUMENT', 'no held-out pair falls in a fitted mixture cell', {
      hint: 'use more pairs or coarser cells (cells: region)',
    });
  const restricted = (['positional', 'lexical', 'reflexive'] as const).map((m) => {
    const components: Mechanism[] = [m, 'noise'];
    return { components, heldOut: mixtureAgreement(fitMixture(train, { components, sigmas: opts.sigmas }), testable) };
  });
  const testPairs = p.pairs.filter((_, i) => i % 2 === 1 && fitted.has(items[i].cell));
  const byN = new Map<number, MixtureItem[]>();
  testable.forEach((it, i) => {
    const n = testPairs[i].candidates.length;
    byN.set(n, [...(byN.get(n) ?? []), it]);
  });
  return {
    hook: p.rows[k].hook,
    layer: p.rows[k].layer,
    cells,
    fit,
    train: mixtureAgreement(fit, train),
    heldOut: mixtureAgreement(fit, testable),
    restricted,
    byGroups: [...byN.entries()].sort((a, b) => a[0] - b[0]).map(([groups, its]) => ({ groups, ...mixtureAgreement(fit, its) })),
  };
}

// ---------------------------------------------------------------------------------------------
// One checkpoint of an entities run

export interface EntityRunOptions {
  step?: number;
  /** Contexts per (group count, slot) for accuracy (default 20) and mechanism pairs (default 400). */
  perSlot?: number;
  pairs?: number;
  /**
   * Largest context for accuracy and pairs: minGroups..maxGroups groups (default the run's
   * maxGroups; more tests contexts longer than any trained, e.g. whether rotary positions extrapolate).
   */
  maxGroups?: number;
  /** Mixture cells (default region). */
  cells?: MixtureCells;
  seed?: number;
  batchSize?: number;
  signal?: AbortSignal;
}

export interface EntityReport {
  step: number;
  accuracy: EntityAccuracy;
  patching: Omit<MechanismPatching, 'candidateProbs' | 'pairs'> & { n: number };
  /** Null when fewer than MIN_MIXTURE_PAIRS pairs are answered right on base and source. */
  mixture: EntityMixtureResult | null;
  seconds: number;
}

/** Scored pairs below which `entityBindingRun` fits no mixture (half fit, half test). */
export const MIN_MIXTURE_PAIRS = 20;

/** The knobs of an entities run, or a clear error for any other run. */
export function entityRunKnobs(run: Run): EntityKnobs {
  const c = run.config.corpus;
  if (c.kind !== 'binding' || bindingVariant(c.knobs) !== 'entities')
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `run ${run.dir} was not trained on text entity binding (corpus kind binding, variant entities)`,
      {
        hint: 'train one with `groundlab train --arch transformer --preset quick --corpus-kind binding --knob variant=entities --seq-len 56 --out runs/ent-quick`',
        codeHint:
          "train one with `await train({ out: 'runs/ent-quick', arch: 'transformer', preset: 'quick', seqLen: 56, corpus: { kind: 'binding', knobs: { variant: 'entities' } } })`",
      },
    );
  return entityKnobs(c.knobs);
}

/** Accuracy by slot, mechanism patching per layer and the mixture model on one checkpoint; rows to analysis/binding.arrow. */
export async function entityBindingRun(run: Run, o: EntityRunOptions = {}): Promise<EntityReport> {
  const t0 = Date.now();
  const k = entityRunKnobs(run);
  const step = o.step ?? run.checkpoints[run.checkpoints.length - 1]?.step;
  if (step === undefined) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint`);
  const seed = o.seed ?? 0;
  const most = Math.min(k.names, k.items);
  const maxGroups = o.maxGroups ?? k.maxGroups;
  if (!Number.isInteger(maxGroups) || maxGroups < k.minGroups || maxGroups > most)
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `maxGroups ${maxGroups}: run ${run.dir} has contexts of ${k.minGroups}..${k.maxGroups} groups, and at most ${most} fit its ${k.names} names and ${k.items} items`,
      {
        hint: `give a whole number in ${k.minGroups}..${most} (--max-groups)`,
        codeHint: `give \`maxGroups\` a whole number in ${k.minGroups}..${most}`,
      },
    );
  const counts = Array.from({ length: maxGroups - k.minGroups + 1 }, (_, i) => k.minGroups + i);
  // From 4 groups the three predictions and the base answer are four different tokens.
  const pairCounts = counts.filter((n) => n >= 4);
  if (!pairCounts.length)
    throw new GroundlabError(
      'BAD_CONFIG',
      `run ${run.dir} is evaluated on contexts of at most ${maxGroups} groups; the mechanism pairs need 4 or more`,
    );
  const model = await run.loadModel(step);
  try {
    const common = { batchSize: o.batchSize, signal: o.signal };
    const query = k.queries[0];
    const accuracy = await entityAccuracy(
      model,
      run.tokenizer,
      entityEvalScenes(k, { counts, perSlot: o.perSlot ?? 20, seed: `${seed}/acc`, query }),
      common,
    );
    const cfs = entityCounterfactuals(k, { counts: pairCounts, count: o.pairs ?? 400, seed: `${seed}/mech`, query });
    const patching = await mechanismPatching(model, run.tokenizer, cfs, common);
    // The mixture needs pairs the model answers right on base and source: too few early in training.
    const mixture = patching.pairs.length >= MIN_MIXTURE_PAIRS ? entityMixture(patching, { cells: o.cells }) : null;
    const row = (section: string, name: string, kind: string, positions: string, value: number, n: number) => ({
      step,
      section,
      name,
      kind,
      positions,
      value,
      redirect: NaN,
      n,
    });
    const mixtureRows = (mixture: EntityMixtureResult) => [
      ...mixture.fit.cells.flatMap((c) => [
        ...(['positional', 'lexical', 'reflexive', 'noise'] as const).map((m) =>
          row('mixture', c.cell, m, mixture.hook, c.weights[m], c.n),
        ),
        row('mixture', c.cell, 'sigma', mixture.hook, c.sigma, c.n),
      ]),
      row('mixture-agreement', 'held-out', 'top1', mixture.hook, mixture.heldOut.top1, mixture.heldOut.n),
      row('mixture-agreement', 'held-out', 'js-similarity', mixture.hook, mixture.heldOut.jsSimilarity, mixture.heldOut.n),
      row('mixture-agreement', 'fitted', 'top1', mixture.hook, mixture.train.top1, mixture.train.n),
      ...mixture.restricted.map((r) =>
        row('mixture-agreement', `only ${r.components[0]}`, 'top1', mixture.hook, r.heldOut.top1, r.heldOut.n),
      ),
    ];
    const rows = [
      row('entity-accuracy', 'all', '', '', accuracy.accuracy, accuracy.n),
      ...accuracy.byGroups.map((g) => row('entity-accuracy', `groups=${g.groups}`, '', '', g.accuracy, g.n)),
      ...accuracy.bySlot.map((g) => row('entity-accuracy', `groups=${g.groups}`, 'slot', String(g.slot), g.accuracy, g.n)),
      ...accuracy.errors.bySlotOffset.map((e) => row('entity-errors', `slot offset ${e.offset}`, '', '', e.n / accuracy.errors.n, e.n)),
      ...patching.rows.flatMap((r) => MECHANISM_OUTCOMES.map((oc) => row('mechanism', r.hook, oc, 'last', r.shares[oc], r.n))),
      ...(mixture ? mixtureRows(mixture) : []),
    ];
    const old = ((await run.readTable('analysis/binding'))?.objects() ?? []) as Array<{ step: number }>;
    await run.writeTable('analysis/binding', aq.from([...old.filter((r) => r.step !== step), ...rows]));
    const { candidateProbs: _c, pairs, ...rest } = patching;
    return { step, accuracy, patching: { ...rest, n: pairs.length }, mixture, seconds: (Date.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}

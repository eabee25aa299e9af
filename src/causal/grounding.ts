/**
 * DAS on grounding (issue 19, item 7): is the identity of the ENV referent held in a
 * low-dimensional subspace at the position that predicts the spoken word (pre-LAN), and from which
 * checkpoint on?
 *
 * Causal model: one variable, the referent (the noun whose ENV token the context holds); the
 * output at the pre-LAN position is that noun's LAN token. Base and source are two match contexts
 * of the same evaluation frame (same template, same length) that differ only in the ENV noun, v
 * and u; interchanging the referent makes the expected output u<LAN>. At `blocks.{l}.hook_resid_post`
 * (the layer's residual stream after the block) of the pre-LAN position, DAS learns a k-dimensional
 * subspace (k = 1, 2, 4, 8) on pairs of half the frames and is scored on pairs of the other half:
 * IIA = share of pairs whose argmax there is u<LAN>. Baselines: the first k neurons (identity
 * rotation), a random rotation, and the full-vector swap (k = D). `source_accuracy` is the share of
 * the scored sources whose own argmax is u<LAN>: what a perfect intervention could reach.
 */
import * as aq from 'arquero';
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { Run } from '../train/run';
import type { ProgressFn } from '../train/progress';
import type { Tokenizer } from '../data/types';
import { evalSequences, type EvalSequence } from '../eval/evalset';
import { runEvalSet } from '../analysis/analyze';
import { evaluateIia, fitDas, hookSite, identitySubspace, padIdOf, randomSubspace, type EncodedPair, type InterventionSite } from './das';

/**
 * Base / source pairs of match contexts: same frame, different ENV noun; the label at the pre-LAN
 * position (the last) is the source's LAN token. `frames` picks the frames pairs are drawn from.
 */
export function groundingPairs(
  seqs: readonly EvalSequence[],
  o: { n: number; seed: number | string; frames?: ReadonlySet<string> },
): EncodedPair[] {
  const byFrame = new Map<string, EvalSequence[]>();
  for (const q of seqs) {
    if (q.condition !== 'match' || q.features) continue;
    if (o.frames && !o.frames.has(q.context)) continue;
    const g = byFrame.get(q.context) ?? [];
    g.push(q);
    byFrame.set(q.context, g);
  }
  const groups = [...byFrame.values()].filter((g) => new Set(g.map((q) => q.envNoun)).size >= 2);
  if (!groups.length)
    throw new GroundlabError('BAD_ARGUMENT', 'no evaluation frame has match contexts of two different nouns to pair', {
      hint: 'use an evaluation set with more contexts per noun (--contexts) or more frames',
    });
  const rng = new Rng(`${o.seed}/grounding-pairs`);
  const out: EncodedPair[] = [];
  for (let tries = 0; out.length < o.n && tries < o.n * 50; tries++) {
    const g = groups[rng.int(groups.length)];
    const base = g[rng.int(g.length)];
    const source = g[rng.int(g.length)];
    if (base.envNoun === source.envNoun) continue;
    const labels = new Array<number>(base.ids.length).fill(-1);
    labels[base.predPos] = source.target;
    out.push({ base: base.ids, source: source.ids, basePos: base.predPos, sourcePos: source.predPos, labels });
  }
  return out;
}

export interface GroundingDasOptions {
  /** Checkpoint steps (default: the last). */
  checkpoints?: number[];
  /** Layers (default all): the site is each layer's residual stream after the block. */
  layers?: number[];
  /** Subspace sizes (default 1, 2, 4, 8). */
  dims?: number[];
  fitPairs?: number;
  testPairs?: number;
  steps?: number;
  lr?: number;
  seed?: number;
  baselines?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface GroundingDasRow {
  step: number;
  layer: number;
  site: string;
  k: number;
  method: 'das' | 'identity' | 'random' | 'full';
  iia: number;
  loss: number;
  pairs: number;
  source_accuracy: number;
  fit_sec: number;
}

/** The share of pairs whose source, run on its own, predicts the label (the ceiling of an intervention). */
async function sourceAccuracy(site: InterventionSite, pairs: readonly EncodedPair[], padId: number): Promise<number> {
  const self = pairs.map((p) => ({ ...p, base: p.source, basePos: p.sourcePos }));
  return (await evaluateIia(site, self, new Float32Array(site.dim), 1, { padId })).iia;
}

/** DAS for the ENV referent at the pre-LAN position, per checkpoint, layer and k; writes `analysis/das_grounding.arrow`. */
export async function groundingDas(run: Run, o: GroundingDasOptions = {}): Promise<GroundingDasRow[]> {
  const tok: Tokenizer = run.tokenizer;
  const set = await runEvalSet(run);
  if (set.image)
    throw new GroundlabError('UNSUPPORTED', `run ${run.dir} is image-grounded: its ENV referent is an image, not a token`, {
      hint: 'run grounding DAS on a text run',
    });
  const seqs = evalSequences(set, tok, { matchOnly: true });
  const frameIds = [...new Set(seqs.map((q) => q.context))].sort();
  if (frameIds.length < 2)
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `the evaluation set has ${frameIds.length} frame; grounding DAS fits on half the frames and scores on the other half`,
    );
  const fitFrames = new Set(frameIds.filter((_, i) => i % 2 === 0));
  const testFrames = new Set(frameIds.filter((_, i) => i % 2 === 1));
  const seed = o.seed ?? 0;
  const fitPairs = groundingPairs(seqs, { n: o.fitPairs ?? 256, seed: `${seed}/fit`, frames: fitFrames });
  const testPairs = groundingPairs(seqs, { n: o.testPairs ?? 256, seed: `${seed}/score`, frames: testFrames });
  const pad = padIdOf(tok);
  const steps = o.checkpoints ?? [run.checkpoints.at(-1)?.step].filter((s): s is number => s !== undefined);
  if (!steps.length) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint`);
  const dims = o.dims ?? [1, 2, 4, 8];
  const fitSteps = o.steps ?? 150;
  const rows: GroundingDasRow[] = [];
  let done = 0;
  for (const step of steps) {
    const model = await run.loadModel(step);
    try {
      const layers = o.layers ?? model.anatomy.layers.map((_, l) => l);
      const total = steps.length * layers.length * dims.length * fitSteps;
      for (const l of layers) {
        const hook = model.anatomy.layers[l]?.residPost;
        if (!hook) throw new GroundlabError('BAD_ARGUMENT', `layer ${l}: the model has layers 0..${model.anatomy.layers.length - 1}`);
        const site = hookSite(model, hook);
        const srcAcc = await sourceAccuracy(site, testPairs, pad);
        const base = { step, layer: l, site: hook, pairs: testPairs.length, source_accuracy: srcAcc };
        for (const k of dims) {
          const t0 = Date.now();
          const fit = await fitDas(site, fitPairs, {
            k,
            steps: fitSteps,
            lr: o.lr ?? 0.01,
            seed,
            padId: pad,
            signal: o.signal,
            onProgress: (p) =>
              o.onProgress?.({ task: `das referent ${hook} k=${k} step ${step}`, step: done + p.step, total, loss: p.loss }),
          });
          done += fitSteps;
          if (fit.status === 'aborted')
            throw new GroundlabError('ABORTED', 'grounding DAS was stopped', { hint: 'nothing was written; run again' });
          const fitSec = (Date.now() - t0) / 1000;
          const r = await evaluateIia(site, testPairs, fit.w, k, { padId: pad, signal: o.signal });
          rows.push({ ...base, k, method: 'das', iia: r.iia, loss: r.loss, fit_sec: fitSec });
          if (o.baselines ?? true)
            for (const [method, w] of [
              ['identity', identitySubspace(site.dim, k)],
              ['random', randomSubspace(site.dim, k, `${seed}/baseline`)],
            ] as const) {
              const b = await evaluateIia(site, testPairs, w, k, { padId: pad, signal: o.signal });
              rows.push({ ...base, k, method, iia: b.iia, loss: b.loss, fit_sec: 0 });
            }
        }
        if (o.baselines ?? true) {
          const f = await evaluateIia(site, testPairs, identitySubspace(site.dim, site.dim), site.dim, { padId: pad, signal: o.signal });
          rows.push({ ...base, k: site.dim, method: 'full', iia: f.iia, loss: f.loss, fit_sec: 0 });
        }
      }
    } finally {
      model.dispose();
    }
  }
  const key = (r: Pick<GroundingDasRow, 'step' | 'site'>) => `${r.step}|${r.site}`;
  const fresh = new Set(rows.map(key));
  const old = ((await run.readTable('analysis/das_grounding'))?.objects() ?? []) as GroundingDasRow[];
  await run.writeTable('analysis/das_grounding', aq.from([...old.filter((r) => !fresh.has(key(r))), ...rows]));
  return rows;
}

/** One row per seed, checkpoint and layer: IIA per k of DAS, the baselines, and the ceiling (for REPORT.md and the notebooks). */
export interface GroundingDasSummaryRow {
  seed: number;
  step: number;
  layer: number;
  gain?: number;
  source_accuracy: number;
  [col: string]: number | undefined;
}

/** Share of the ceiling (source_accuracy) a subspace must reach to count as holding the referent. */
export const GROUNDING_DAS_SHARE = 0.9;
/** The ceiling itself must be at least this: the model names the referent of most sources. */
export const GROUNDING_DAS_MIN_CEILING = 0.5;

/**
 * The table and the verdict of grounding DAS over runs: per seed, checkpoint and layer the IIA of
 * DAS for each k, of the identity and random rotations at the largest k, and of the full swap; the
 * verdict names, per seed, the first checkpoint at which some layer's DAS subspace of k <= 8 reaches
 * GROUNDING_DAS_SHARE of the ceiling while the ceiling is at least GROUNDING_DAS_MIN_CEILING, and
 * the smallest such k at the last checkpoint.
 */
export function groundingDasSummary(
  runs: ReadonlyArray<{ seed: number; rows: readonly GroundingDasRow[]; gain?: (step: number) => number | undefined }>,
): { rows: GroundingDasSummaryRow[]; cols: Array<[string, string]>; verdict: string } {
  const out: GroundingDasSummaryRow[] = [];
  const dims = [...new Set(runs.flatMap((r) => r.rows.filter((x) => x.method === 'das').map((x) => Number(x.k))))].sort((a, b) => a - b);
  const kMax = dims.at(-1) ?? 1;
  const verdicts: string[] = [];
  for (const run of runs) {
    const steps = [...new Set(run.rows.map((r) => Number(r.step)))].sort((a, b) => a - b);
    let first: number | undefined;
    let smallestLast: number | undefined;
    for (const step of steps) {
      const layers = [...new Set(run.rows.filter((r) => Number(r.step) === step).map((r) => Number(r.layer)))].sort((a, b) => a - b);
      let held = false;
      for (const layer of layers) {
        const rs = run.rows.filter((r) => Number(r.step) === step && Number(r.layer) === layer);
        const get = (method: string, k?: number) => rs.find((r) => r.method === method && (k === undefined || Number(r.k) === k))?.iia;
        const ceiling = Number(rs[0]?.source_accuracy);
        const row: GroundingDasSummaryRow = { seed: run.seed, step, layer, gain: run.gain?.(step), source_accuracy: ceiling };
        for (const k of dims) row[`das_k${k}`] = get('das', k);
        row.identity = get('identity', kMax);
        row.random = get('random', kMax);
        row.full = get('full');
        out.push(row);
        const ok = dims.filter(
          (k) => k <= 8 && Number(row[`das_k${k}`]) >= GROUNDING_DAS_SHARE * ceiling && ceiling >= GROUNDING_DAS_MIN_CEILING,
        );
        if (ok.length) {
          held = true;
          if (step === steps.at(-1)) smallestLast = Math.min(smallestLast ?? Infinity, ok[0]);
        }
      }
      if (held && first === undefined) first = step;
    }
    verdicts.push(
      first === undefined
        ? `seed ${run.seed}: at no checkpoint examined (${steps.join(', ')}) does a subspace of k <= 8 reach ${GROUNDING_DAS_SHARE} of a ceiling >= ${GROUNDING_DAS_MIN_CEILING}`
        : `seed ${run.seed}: from checkpoint ${first} on (examined: ${steps.join(', ')}); at the last, k = ${smallestLast ?? 'none'} suffices`,
    );
  }
  const cols: Array<[string, string]> = [
    ['seed', 'seed'],
    ['step', 'step'],
    ['gain', 'G (nats)'],
    ['layer', 'layer'],
    ...dims.map((k): [string, string] => [`das_k${k}`, `DAS k=${k}`]),
    ['identity', `identity k=${kMax}`],
    ['random', `random k=${kMax}`],
    ['full', 'full swap'],
    ['source_accuracy', 'ceiling (source right)'],
  ];
  return { rows: out, cols, verdict: verdicts.join('; ') };
}

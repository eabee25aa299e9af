/**
 * Data for the notebook widgets (src/viz/widgets.ts): the attention / saliency inspector and the
 * timeline, built from a run's analysis tables and, for token x token maps, from its checkpoints.
 */
import { GroundlabError } from '../errors';
import type { LanguageModel } from '../models/types';
import type { EvalSequence } from '../eval/evalset';
import { evalSequences } from '../eval/evalset';
import { padTokens } from '../eval/surprisal';
import type { HeadMap, InspectorData, InspectorExample, TimelineData } from '../viz/widgets';
import { saliency, mixingHooks } from './saliency';
import { isArch, modelAnatomy, type ModelConfig } from '../models';
import { runEvalSet, type AnalysisRun } from './analyze';

/** Attention (or SSD) patterns and saliency maps of every head for the given sequences at one checkpoint. */
export async function headMaps(
  model: LanguageModel,
  seqs: readonly EvalSequence[],
  step: number,
  exampleIds: readonly string[],
): Promise<HeadMap[]> {
  const mix = mixingHooks(model);
  if (!mix)
    throw new GroundlabError('UNSUPPORTED', `this ${model.arch} has no token-mixing matrices (attention, SSD or GLA) to inspect`, {
      hint: 'the inspector needs a layer with a mixing pattern (not the LSTM or GRU, nor mixing: none everywhere); use the timeline',
    });
  const H = mix.heads;
  const out: HeadMap[] = [];
  const variant = (s: EvalSequence) => s.condition;
  // attention patterns
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i];
    const tokens = padTokens([s]);
    const { logits, cache } = model.runWithCache(tokens, { names: mix.names });
    logits.dispose();
    tokens.dispose();
    for (let l = 0; l < mix.names.length; l++) {
      const a = await cache.get(mix.names[l]).data(); // [1, H, T, T]
      const T = s.ids.length;
      for (let h = 0; h < H; h++)
        out.push({
          step,
          example: exampleIds[i],
          variant: variant(s),
          kind: 'attention',
          layer: mix.layers[l],
          head: h,
          values: Float64Array.from(a.subarray(h * T * T, (h + 1) * T * T)),
        });
    }
    cache.dispose();
  }
  // saliency (the loss is the surprisal of v<LAN> in that context, match or mismatch), each head's
  // map divided by its own total: a cell is the share of the head's saliency |A * dL/dA| flowing
  // through it, so maps are comparable across heads and checkpoints (gradients shrink over
  // training), and the ENV -> pre-LAN cell is this context's aggregate share (SALIENCY_MAP_UNIT).
  const sal = await saliency(model, seqs, { keepMaps: true, conditions: 'all', batchSize: 8 });
  sal.used!.forEach((s) => {
    const i = seqs.indexOf(s);
    sal.maps![i].forEach((m, k) => {
      let total = 0;
      for (let j = 0; j < m.length; j++) total += m[j];
      const values = total > 0 ? m.map((x) => x / total) : m;
      out.push({
        step,
        example: exampleIds[i],
        variant: variant(s),
        kind: 'saliency',
        layer: mix.layers[Math.floor(k / H)],
        head: k % H,
        values,
      });
    });
  });
  return out;
}

/** What the inspector's map values are (shown beside its colour scale). */
export const ATTENTION_MAP_UNIT = 'attention probability (each row sums to 1)';
/** The "attention" map of models whose token mixing is not a softmax: the mixing matrix as the model computes it. */
export const MIXING_MAP_UNIT: Record<string, string> = {
  attention: ATTENTION_MAP_UNIT,
  ssd: 'SSD mixing weight (the quadratic form of the state-space layer; rows need not sum to 1)',
  gla: 'GLA mixing weight (gated linear attention; rows need not sum to 1)',
};
export const SALIENCY_MAP_UNIT = "share of the head's saliency |A·dL/dA| (the head's cells sum to 1)";

/**
 * Inspector data of a run: per-head aggregate and gather scores at every analysed checkpoint
 * (from analysis/heads), and token x token maps of every head for `examples` evaluation contexts
 * (match and one mismatch) at `mapSteps` (default: every analysed checkpoint, so the widget shows
 * how the circuit forms). Maps are ordered by importance for the bundle's size budget: the first
 * example's match maps at every checkpoint first, then its mismatch maps, then the next example.
 */
export async function inspectorData(
  run: AnalysisRun,
  opts: {
    steps?: number[];
    mapSteps?: number[];
    examples?: number;
    thresholds?: { aggregate?: number; gather?: number };
    link?: string;
  } = {},
): Promise<InspectorData> {
  const model = run.config?.model as (ModelConfig & { arch?: string }) | undefined;
  if (model?.arch && isArch(model.arch) && !modelAnatomy(model).layers.some((l) => l.mixing)) {
    throw new GroundlabError(
      'UNSUPPORTED',
      `run ${run.dir} is a ${model.arch} without token-mixing matrices (attention, SSD or GLA): it has no heads to inspect`,
      {
        hint: 'use the timeline (timelineData) for its G, lens and saliency over training',
      },
    );
  }
  const rows = ((await run.readTable('analysis/heads'))?.objects() ?? []) as Array<Record<string, unknown>>;
  if (!rows.length)
    throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no analysis/heads table`, {
      hint: `run \`groundlab analyze ${run.dir} --only heads\` first (models without a mixing matrix, e.g. the LSTM and GRU, have no heads to classify: use the timeline)`,
      codeHint:
        'run `await analyzeRun(run, { only: ["heads"] })` first (models without a mixing matrix, e.g. the LSTM and GRU, have no heads to classify: use the timeline)',
    });
  const steps = opts.steps ?? [...new Set(rows.map((r) => Number(r.step)))].sort((a, b) => a - b);
  const L = Math.max(0, ...rows.map((r) => Number(r.layer) + 1));
  const H = Math.max(0, ...rows.map((r) => Number(r.head) + 1));
  const grid = (field: string) =>
    steps.map((st) =>
      Array.from({ length: L }, (_, l) =>
        Array.from({ length: H }, (_, h) => {
          const r = rows.find((x) => Number(x.step) === st && Number(x.layer) === l && Number(x.head) === h);
          return r ? Number(r[field]) : null;
        }),
      ),
    );
  const set = await runEvalSet(run);
  const all = evalSequences(set, run.tokenizer);
  const nEx = opts.examples ?? 4;
  const picked: EvalSequence[] = [];
  const ids: string[] = [];
  const examples: InspectorExample[] = [];
  const seenNouns = new Set<string>();
  for (const s of all) {
    if (examples.length >= nEx) break;
    if (s.condition !== 'match' || seenNouns.has(s.noun)) continue;
    seenNouns.add(s.noun);
    const mm = all.find((r) => r.item === s.item && r.condition === 'mismatch');
    const id = `${s.noun}/${s.context}`;
    const variantOf = (q: EvalSequence) => ({
      tokens: run.tokenizer.decode(q.ids),
      envPos: q.envPos,
      predPos: q.predPos,
      target: run.tokenizer.token(q.target),
    });
    examples.push({ id, label: `${s.noun} (${s.context})`, match: variantOf(s), ...(mm ? { mismatch: variantOf(mm) } : {}) });
    picked.push(s);
    ids.push(id);
    if (mm) {
      picked.push(mm);
      ids.push(id);
    }
  }
  const mapSteps = opts.mapSteps ?? steps;
  for (const st of mapSteps)
    if (!steps.includes(st))
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `inspectorData: mapSteps has step ${st}, which is not an analysed checkpoint of ${run.dir}`,
        { hint: `use steps among ${steps.join(', ')}` },
      );
  const computed: HeadMap[] = [];
  let mixKind = 'attention';
  for (const st of mapSteps) {
    const model = await run.loadModel(st);
    try {
      mixKind = mixingHooks(model)?.kind ?? mixKind;
      computed.push(...(await headMaps(model, picked, st, ids)));
    } finally {
      model.dispose();
    }
  }
  const rank = (m: HeadMap) => ids.indexOf(m.example) * 2 + (m.variant === 'match' ? 0 : 1);
  const maps = computed
    .map((m, i) => ({ m, i }))
    .sort((a, b) => rank(a.m) - rank(b.m) || a.i - b.i)
    .map((x) => x.m);
  // start on the last checkpoint with maps, at the head with the highest aggregate score there
  const initialStep = mapSteps[mapSteps.length - 1] ?? steps[steps.length - 1];
  const agg = grid('aggregate_share');
  const strongest = { layer: 0, head: 0 };
  let best = -Infinity;
  agg[steps.indexOf(initialStep)]?.forEach((row, l) =>
    row.forEach((v, h) => {
      if (v != null && Number.isFinite(v) && v > best) [best, strongest.layer, strongest.head] = [v, l, h];
    }),
  );
  return {
    title: 'Attention / saliency inspector',
    model: run.dir,
    // Widgets with the same link move together: the run's timeline and its inspectors.
    link: opts.link ?? run.dir,
    layers: L,
    heads: H,
    steps,
    scores: { aggregate: agg, gather: grid('gather_share') },
    thresholds: { aggregate: opts.thresholds?.aggregate ?? 0.3, gather: opts.thresholds?.gather ?? 0.3 },
    examples,
    maps,
    mapUnits: { attention: MIXING_MAP_UNIT[mixKind] ?? ATTENTION_MAP_UNIT, saliency: SALIENCY_MAP_UNIT },
    initial: { step: initialStep, example: examples[0]?.id, variant: 'match', kind: 'saliency', ...strongest },
  };
}

/** Timeline data of a run: match / mismatch surprisal, G, R^2 (all predictors) and head counts per analysed step. */
export async function timelineData(run: AnalysisRun, opts: { link?: string } = {}): Promise<TimelineData> {
  const read = async (n: string) => ((await run.readTable(n))?.objects() ?? []) as Array<Record<string, unknown>>;
  const gain = await read('analysis/gain_summary');
  if (!gain.length)
    throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no analysis/gain_summary table`, {
      hint: `run \`groundlab eval ${run.dir}\` first`,
    });
  const co = (await read('analysis/cooccurrence')).filter((r) => r.predictors === 'all');
  const hc = await read('analysis/head_counts');
  const steps = [...new Set([...gain, ...co, ...hc].map((r) => Number(r.step)))].sort((a, b) => a - b);
  const at = (rs: Array<Record<string, unknown>>, f: string) =>
    steps.map((s) => {
      const r = rs.find((x) => Number(x.step) === s);
      return r ? Number(r[f]) : null;
    });
  return {
    title: 'Grounding over training',
    model: run.dir,
    link: opts.link ?? run.dir,
    steps,
    curves: {
      matchSurprisal: at(gain, 'match'),
      mismatchSurprisal: at(gain, 'mismatch'),
      infoGain: at(gain, 'gain'),
      r2Cooccurrence: at(co, 'r2'),
      aggregateHeads: at(hc, 'aggregate_heads'),
      gatherHeads: at(hc, 'gather_heads'),
    },
  };
}

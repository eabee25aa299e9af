/**
 * From a run directory to the data of the JupyterLab widgets (src/viz/widgets.ts): the checkpoint
 * timeline from the run's analysis tables, and the attention/saliency inspector from the tables plus
 * the token x token maps of a few evaluation examples, computed here with the run's checkpoints.
 * The widgets only draw; every number comes from src/analysis and the run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { openRun, type Run } from '../train/run';
import { runEvalSet } from '../analysis/analyze';
import { saliency, mixingHooks } from '../analysis/saliency';
import { evalSequences, type EvalSequence } from '../eval/evalset';
import type { HeadMap, InspectorData, InspectorExample, TimelineData } from '../viz/widgets';

type Row = Record<string, unknown>;
const num = (v: unknown) => Number(v);

async function rows(run: Run, name: string): Promise<Row[]> {
  const t = await run.readTable(name);
  return t ? (t.objects() as Row[]) : [];
}

async function asRun(run: Run | string): Promise<Run> {
  return typeof run === 'string' ? openRun(run) : run;
}

/** The timeline of a run: one value per analysed checkpoint for every curve its tables hold. */
export async function runTimeline(runOrDir: Run | string, opts: { title?: string; link?: string } = {}): Promise<TimelineData> {
  const run = await asRun(runOrDir);
  const gain = await rows(run, 'analysis/gain_summary');
  if (!gain.length)
    throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no analysis/gain_summary table`, { hint: `run \`groundlab eval ${run.dir}\` (or analyze) first` });
  const co = (await rows(run, 'analysis/cooccurrence')).filter((r) => r.predictors === 'all');
  const hc = await rows(run, 'analysis/head_counts');
  const steps = [...new Set([...gain, ...hc].map((r) => num(r.step)))].sort((a, b) => a - b);
  const pick = (rs: Row[], f: string) => steps.map((s) => {
    const r = rs.find((x) => num(x.step) === s);
    return r && Number.isFinite(num(r[f])) ? num(r[f]) : null;
  });
  return {
    title: opts.title ?? `Checkpoint timeline: ${run.dir.split('/').slice(-2).join('/')}`,
    model: `${run.config.arch}, ${run.config.preset} preset, seed ${run.config.seed}`,
    link: opts.link ?? run.dir,
    steps,
    curves: {
      matchSurprisal: pick(gain, 'match'),
      mismatchSurprisal: pick(gain, 'mismatch'),
      infoGain: pick(gain, 'gain'),
      r2Cooccurrence: pick(co, 'r2'),
      aggregateHeads: pick(hc, 'aggregate_heads'),
      gatherHeads: pick(hc, 'gather_heads'),
    },
    initialStep: steps[steps.length - 1],
  };
}

export interface InspectorOptions {
  /** Checkpoints to carry (default: those with a heads table, i.e. the analysed ones). */
  steps?: number[];
  /** Number of evaluation examples (each with its first mismatch variant). Default 2. */
  examples?: number;
  title?: string;
  link?: string;
  maxMapBytes?: number;
}

/** Attention (or SSD mixing) maps [H][T*T] per layer for one sequence. */
function attentionMaps(model: import('../models/types').LanguageModel, seq: EvalSequence, names: string[]): Float64Array[][] {
  const x = tf.tensor2d([seq.ids], [1, seq.ids.length], 'int32');
  const { logits, cache } = model.runWithCache(x, { names });
  try {
    return names.map((n) => {
      const a = cache.get(n); // [1, H, T, T]
      const [, h, t] = a.shape;
      const data = a.dataSync();
      return Array.from({ length: h }, (_, i) => Float64Array.from(data.subarray(i * t * t, (i + 1) * t * t)));
    });
  } finally {
    x.dispose();
    logits.dispose();
    cache.dispose();
  }
}

/**
 * The inspector of a run: per-head aggregate and gather scores at every analysed checkpoint (from
 * analysis/heads), and attention and saliency maps of every head for a few evaluation examples
 * (match and one mismatch), computed from the checkpoints (within the widget's byte budget).
 */
export async function runInspector(runOrDir: Run | string, opts: InspectorOptions = {}): Promise<InspectorData> {
  const run = await asRun(runOrDir);
  const heads = await rows(run, 'analysis/heads');
  const steps = opts.steps ?? [...new Set(heads.map((r) => num(r.step)))].sort((a, b) => a - b);
  if (!steps.length)
    throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no analysis/heads table`, { hint: `run \`groundlab analyze ${run.dir} --only heads\` first` });
  const tok = run.tokenizer;
  const set = await runEvalSet(run);
  const all = evalSequences(set, tok);
  // First `examples` items (one per noun in the set's order), with their first mismatch.
  const chosen: Array<{ match: EvalSequence; mismatch?: EvalSequence }> = [];
  const seenNouns = new Set<string>();
  for (const s of all) {
    if (s.condition !== 'match' || seenNouns.has(s.noun)) continue;
    seenNouns.add(s.noun);
    chosen.push({ match: s, mismatch: all.find((m) => m.item === s.item && m.condition === 'mismatch') });
    if (chosen.length >= (opts.examples ?? 2)) break;
  }
  const variantData = (s: EvalSequence) => ({ tokens: tok.decode(s.ids), envPos: s.envPos, predPos: s.predPos, target: tok.token(s.target) });
  const examples: InspectorExample[] = chosen.map((c, i) => ({
    id: `ex${i}`,
    label: `${c.match.noun}: ${c.match.context}`,
    match: variantData(c.match),
    ...(c.mismatch ? { mismatch: variantData(c.mismatch) } : {}),
  }));

  let layers = 0;
  let nHeads = 0;
  const maps: HeadMap[] = [];
  // Latest checkpoint first: the most important maps come first within the byte budget.
  for (const step of [...steps].reverse()) {
    const model = await run.loadModel(step);
    try {
      const mix = mixingHooks(model);
      if (!mix || model.nHeads === 0)
        throw new GroundlabError('UNSUPPORTED', `the ${model.arch} has no heads to inspect`, { hint: 'the inspector is for Transformer and Mamba-2 runs; use the timeline for the LSTM' });
      layers = mix.names.length;
      nHeads = model.nHeads;
      for (const [e, c] of chosen.entries()) {
        const variants: Array<['match' | 'mismatch', EvalSequence]> = [['match', c.match], ...(c.mismatch ? [['mismatch', c.mismatch] as ['mismatch', EvalSequence]] : [])];
        for (const [variant, seq] of variants) {
          const att = attentionMaps(model, seq, mix.names);
          const sal = await saliency(model, [seq], { keepMaps: true, conditions: 'all' });
          for (let l = 0; l < layers; l++) {
            for (let h = 0; h < nHeads; h++) {
              const base = { step, example: `ex${e}`, variant, layer: l, head: h };
              maps.push({ ...base, kind: 'attention', values: att[l][h] });
              if (sal.maps) maps.push({ ...base, kind: 'saliency', values: sal.maps[0][l * nHeads + h] });
            }
          }
        }
      }
    } finally {
      model.dispose();
    }
  }
  const score = (field: string) =>
    steps.map((s) => Array.from({ length: layers }, (_, l) => Array.from({ length: nHeads }, (_, h) => {
      const r = heads.find((x) => num(x.step) === s && num(x.layer) === l && num(x.head) === h);
      return r && Number.isFinite(num(r[field])) ? num(r[field]) : null;
    })));
  return {
    title: opts.title ?? `Attention / saliency inspector: ${run.dir.split('/').slice(-2).join('/')}`,
    model: `${run.config.model.arch}, ${layers} layers x ${nHeads} heads`,
    link: opts.link ?? run.dir,
    layers,
    heads: nHeads,
    steps,
    scores: { aggregate: score('aggregate_share'), gather: score('gather_share') },
    thresholds: { aggregate: 0.3, gather: 0.3 },
    examples,
    maps,
    maxMapBytes: opts.maxMapBytes,
    initial: { step: steps[steps.length - 1], example: 'ex0', variant: 'match', kind: 'attention', score: 'aggregate' },
  };
}

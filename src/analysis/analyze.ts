/**
 * `analyzeRun`: every measure and analysis of a run, per checkpoint, as arquero tables in the run
 * directory (Arrow IPC, readable by pandas): computes only what is missing, writes after every
 * checkpoint (an interrupted analysis resumes at the next checkpoint), reports progress.
 *
 * Tables (every per-checkpoint table has a `step` column):
 *   eval/evalset.json            the evaluation set (built once, deterministic, reused)
 *   analysis/templates           the evaluation frames checked against the training text (once)
 *   analysis/cooccurrence_stats  per noun: ENV / LAN counts and co-occurrences in training (once)
 *   analysis/surprisal           per sequence: noun, context, condition, env_noun, surprisal
 *   analysis/gain                per noun: G, mean match / mismatch surprisal
 *   analysis/gain_summary        per step: mean G over nouns with a 95% CI over nouns
 *   analysis/cooccurrence        per step and predictor set: R^2 of G against co-occurrence
 *   analysis/saliency            per step, layer (and head): flow share (prediction <- ENV), gather share
 *   analysis/heads               per step and head: shares and gather / aggregate classification
 *   analysis/head_counts         per step: number and mean layer of aggregate and gather heads
 *   analysis/lens                per step, lens (logit | tuned) and layer: match / mismatch surprisal and G
 *   analysis/ablation            per step and head kind: surprisal with the heads zeroed, with control heads zeroed, intact; tests
 *   analysis/patching            per step, hook and position: recovery when patching match into mismatch
 *   analysis/path_test           per step and path: gather -> aggregate (q, k, v), aggregate -> MLP / logits path patching vs control paths
 *   lens/tuned-step-XXXXXX.safetensors  the tuned lens translators
 *
 * Each analysis is one module in ./analyses (name, dependencies, the tables it writes with their
 * columns, how it computes one checkpoint), listed in ./analyses/index.ts; this file sets up the
 * evaluation set and the once-per-run tables, and loops over checkpoints and the registry.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as aq from 'arquero';
import { GroundlabError } from '../errors';
import type { LanguageModel } from '../models/types';
import type { CorpusSpec, Episode, EvalFrame, Tokenizer, TokenDataset } from '../data/types';
import { imageKnobs } from '../data/image';
import { COMMON_KNOBS } from '../data/prepare';
import { batchPadId } from '../data/tokens';
import {
  buildEvalSet,
  buildImageEvalSet,
  evalSequences,
  DEFAULT_EVALSET_OPTIONS,
  type EvalSet,
  type EvalSetOptions,
  type EvalSequence,
  type ImageEvalSpec,
} from '../eval/evalset';
import { baseFrameId } from '../eval/image';
import { checkTemplates } from '../eval/templates';
import { gainOverSeeds } from '../metrics/gain';
import type { HeadThresholds } from '../metrics/heads';
import type { TunedLensOptions } from './lens';
import { countCooccurrence, type NounCounts } from './cooccurrence';
import { REGISTRY, lensFileName, type AnalysisModule, type StepContext } from './analyses';

type ColumnTable = ReturnType<typeof aq.table>;

/** What analyzeRun needs of a run (src/train's Run satisfies it). */
export interface AnalysisRun {
  dir: string;
  checkpoints: Array<{ step: number }>;
  tokenizer: Tokenizer;
  loadModel(step?: number): Promise<LanguageModel>;
  data(): Promise<{ tokenizer: Tokenizer; train: TokenDataset; [key: string]: unknown }>;
  writeTable(name: string, table: ColumnTable): Promise<void>;
  readTable(name: string): Promise<ColumnTable | undefined>;
  writeJSON(name: string, obj: unknown): Promise<void>;
  readJSON<T = unknown>(name: string): Promise<T | undefined>;
  /** The run's config.json (src/train's Run has it): tells an image-grounded run without loading its data. */
  config?: { corpus?: CorpusSpec; model?: { envFeatureDim?: number } };
}

export const ANALYSES = REGISTRY.map((a) => a.name);
export type AnalysisName = (typeof REGISTRY)[number]['name'];

/**
 * Analyses of image-grounded runs (continuous ENV features): surprisal and G with image contexts,
 * and the co-occurrence control (it needs only G and the corpus counts). The others probe or
 * patch a single ENV token position and do not take patch features yet.
 */
export const IMAGE_ANALYSES: readonly AnalysisName[] = REGISTRY.filter((a) => a.image).map((a) => a.name);

const MODULES = new Map<string, AnalysisModule>(REGISTRY.map((a) => [a.name, a]));
for (const a of REGISTRY)
  for (const d of a.depends)
    if (!MODULES.has(d) || REGISTRY.findIndex((x) => x.name === d) > REGISTRY.indexOf(a))
      throw new GroundlabError(
        'INTERNAL',
        `analysis ${a.name} depends on ${d}, which is not an analysis listed before it in src/analysis/analyses/index.ts`,
      );

export interface ProgressLike {
  task: string;
  step: number;
  total: number;
  message?: string;
  done?: boolean;
}

export interface AnalyzeOptions {
  /** Checkpoint steps to analyse (default: all). */
  checkpoints?: number[];
  /** Analyses to run (default: all). Dependencies are computed (and stored) as needed. */
  only?: AnalysisName[];
  /** Recompute even what the tables already hold for these steps. */
  force?: boolean;
  evalSet?: Partial<Pick<EvalSetOptions, 'contextsPerNoun' | 'mismatchesPerContext' | 'seed'>>;
  heads?: Partial<HeadThresholds>;
  ablation?: { draws?: number; mode?: 'zero' | 'mean'; seed?: number };
  tunedLens?: Partial<Pick<TunedLensOptions, 'steps' | 'lr' | 'batchSize' | 'seed'>> & { rows?: number };
  /** Co-occurrence window in tokens (used when the data stage gives no counts). */
  window?: number;
  batchSize?: number;
  onProgress?: (e: ProgressLike) => void;
  signal?: AbortSignal;
}

export interface AnalyzeResult {
  steps: number[];
  /** Per analysis, the steps computed in this call (the others were already there). */
  computed: Partial<Record<AnalysisName, number[]>>;
  /** Evaluation frames the template check flagged. */
  flaggedFrames: Array<{ frame: string; reason: string }>;
  seconds: number;
  /** Wall seconds spent per part (summed over checkpoints; "load" = loading models and data). */
  timings: Record<string, number>;
  /** Analyses left out because this run does not support them (image-grounded runs), with why. */
  skipped: Array<{ analysis: AnalysisName; reason: string }>;
}

export { lensFileName };

function aborted(signal?: AbortSignal) {
  if (signal?.aborted) throw new GroundlabError('ABORTED', 'analysis was stopped; run it again to resume');
}

/** Rows of a table as objects (empty when the table does not exist). */
async function readRows(run: AnalysisRun, name: string): Promise<Array<Record<string, unknown>>> {
  const t = await run.readTable(name);
  return t ? (t.objects() as Array<Record<string, unknown>>) : [];
}

/** Replace the rows of `steps` in a table with new rows, keeping the others; sorted by step (stable). */
async function upsert(run: AnalysisRun, name: string, steps: number[], rows: Array<Record<string, unknown>>): Promise<void> {
  const old = (await readRows(run, name)).filter((r) => !steps.includes(Number(r.step)));
  const all = [...old, ...rows]
    .map((r, i) => [r, i] as const)
    .sort((a, b) => Number(a[0].step) - Number(b[0].step) || a[1] - b[1])
    .map(([r]) => r);
  if (all.length === 0) return;
  await run.writeTable(name, aq.from(all));
}

/** The evaluation set of a run: the saved one, or built from the data stage's frames and nouns and saved. */
export async function runEvalSet(run: AnalysisRun, opts: AnalyzeOptions['evalSet'] = {}): Promise<EvalSet> {
  let saved = await run.readJSON<EvalSet>('eval/evalset');
  const want = { ...DEFAULT_EVALSET_OPTIONS, ...opts };
  if (saved && saved.version === 1 && !saved.image && (await isImageRun(run))) {
    // a set saved before image runs were supported (text {ENV} tokens): it never produced results
    if (await run.readTable('analysis/surprisal'))
      throw new GroundlabError('BAD_FILE', `the run's evaluation set has no images, but the run is image-grounded`, {
        file: path.join(run.dir, 'eval', 'evalset.json'),
        hint: `delete ${run.dir}/eval and ${run.dir}/analysis and run the analysis again`,
      });
    saved = undefined;
  }
  if (saved && saved.version === 1) {
    const same =
      saved.contextsPerNoun === want.contextsPerNoun &&
      saved.mismatchesPerContext === want.mismatchesPerContext &&
      saved.seed === want.seed;
    if (same || Object.keys(opts).length === 0) return saved;
    if (await run.readTable('analysis/surprisal'))
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `the run's evaluation set has N = ${saved.contextsPerNoun} contexts per noun, M = ${saved.mismatchesPerContext} mismatches, seed ${saved.seed}, and its tables were computed with it`,
        {
          hint: `leave out --contexts/--mismatches/--eval-seed, or delete ${run.dir}/eval and ${run.dir}/analysis to start over with another set`,
          codeHint: `leave out \`evalSet\` (or give the one above), or delete ${run.dir}/eval and ${run.dir}/analysis to start over with another set`,
        },
      );
  }
  const data = await run.data();
  const nouns = data.nouns as string[] | undefined;
  const frames = data.evalFrames as EvalFrame[] | undefined;
  if (!nouns?.length || !frames?.length)
    throw new GroundlabError('UNSUPPORTED', "the run's corpus gives no words of interest or no evaluation frames", {
      hint: 'analyses need PreparedData.nouns and PreparedData.evalFrames from the data stage',
    });
  const featureDim = Number(data.featureDim ?? data.train.featureDim ?? 0);
  const set =
    featureDim > 0 ? buildImageEvalSet(nouns, frames, await imageSpecOf(run, data, featureDim), want) : buildEvalSet(nouns, frames, want);
  await run.writeJSON('eval/evalset', set);
  return set;
}

/** Whether a run's model takes continuous ENV features (image-grounded corpus). */
async function isImageRun(run: AnalysisRun): Promise<boolean> {
  const f = run.config?.model?.envFeatureDim;
  if (f !== undefined) return f > 0;
  const data = await run.data();
  return Number(data.featureDim ?? data.train.featureDim ?? 0) > 0;
}

/** The image knobs (grid, lighting noise) of an image-grounded run's corpus, from its spec (or a saved corpus file's header). */
async function imageSpecOf(
  run: AnalysisRun,
  data: Record<string, unknown>,
  featureDim: number,
): Promise<Omit<ImageEvalSpec, 'scenesPerFrame'>> {
  let spec = (run.config?.corpus ?? data.spec) as CorpusSpec | undefined;
  if (spec?.kind === 'file' && spec.path) spec = corpusFileSpec(spec.path) ?? spec;
  if (spec?.kind !== 'image')
    throw new GroundlabError(
      'UNSUPPORTED',
      `the run's corpus has continuous ENV features but is not an image-grounded corpus groundlab can redraw (kind "${spec?.kind ?? 'unknown'}")`,
      {
        hint: 'evaluation images are drawn with the image corpus knobs (grid, featureDim, lightingNoise); train on --corpus-kind image or a corpus file saved from it',
        codeHint:
          'evaluation images are drawn with the image corpus knobs (grid, featureDim, lightingNoise); train on an image corpus (`corpus: { kind: "image" }`) or a corpus file saved from it',
      },
    );
  const knobs = { ...(spec.knobs ?? {}) } as Record<string, unknown>;
  for (const k of COMMON_KNOBS) delete knobs[k];
  const k = imageKnobs(spec.setting ?? 'simple', knobs);
  if (k.featureDim !== featureDim)
    throw new GroundlabError('BAD_CONFIG', `the image corpus knobs give featureDim ${k.featureDim}, but the run's data has ${featureDim}`, {
      hint: "check the run's corpus spec",
    });
  return { grid: k.grid, featureDim: k.featureDim, lightingNoise: k.lightingNoise };
}

/** The original spec in a saved corpus file's header line (undefined when unreadable). */
function corpusFileSpec(file: string): CorpusSpec | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      let text = '';
      const buf = Buffer.alloc(1 << 16);
      for (let pos = 0; !text.includes('\n');) {
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        text += buf.toString('utf8', 0, n);
        pos += n;
      }
      const head = JSON.parse(text.split('\n')[0]) as { spec?: CorpusSpec };
      return head.spec;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function trainingText(data: Record<string, unknown>, tokenizer: Tokenizer): string[][] {
  const episodes = data.episodes as Episode[] | undefined;
  if (episodes?.length) {
    return episodes.map((ep) => {
      const out: string[] = [];
      for (const t of ep.turns) {
        // an image (patch tokens) stands for the ENV forms of the nouns it shows, as in an image frame's {ENV} slot
        const situation = t.patches ? (t.envNouns ?? []).map((n) => DEFAULT_EVALSET_OPTIONS.envForm(n)) : t.env.situation;
        out.push(t.speaker, ...situation, ...t.env.before, ...t.env.during, ...t.utterance, ...t.env.after);
      }
      return out;
    });
  }
  const train = data.train as TokenDataset;
  return Array.from({ length: train.size }, (_, i) => tokenizer.decode(train.row(i)));
}

/** Compute every requested analysis that is missing, for every selected checkpoint. */
export async function analyzeRun(run: AnalysisRun, opts: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  let tMark = Date.now();
  const tick = (part: string) => {
    const now = Date.now();
    timings[part] = (timings[part] ?? 0) + (now - tMark) / 1000;
    tMark = now;
  };
  const progress = opts.onProgress ?? (() => {});
  let only = opts.only ?? [...ANALYSES];
  for (const a of only)
    if (!ANALYSES.includes(a))
      throw new GroundlabError('BAD_ARGUMENT', `unknown analysis "${a}"`, { hint: `use some of: ${ANALYSES.join(', ')}` });
  const have = run.checkpoints.map((c) => c.step);
  if (have.length === 0) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint`, { hint: 'train it first' });
  const steps = opts.checkpoints ?? have;
  for (const s of steps)
    if (!have.includes(s))
      throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint at step ${s}`, {
        hint: `available steps: ${have.join(', ')}`,
      });

  const tok = run.tokenizer;
  const padId = batchPadId(tok);
  const set = await runEvalSet(run, opts.evalSet);
  // Image-grounded runs: what is not supported is an error when asked for by name, and skipped
  // (and reported in `skipped`) when `only` is left at its default (everything).
  const skipped: AnalyzeResult['skipped'] = [];
  if (set.image) {
    const unsupported = only.filter((a) => !IMAGE_ANALYSES.includes(a));
    const reason = 'not implemented for image-grounded runs (continuous ENV features) yet';
    if (unsupported.length && opts.only)
      throw new GroundlabError('UNSUPPORTED', `${unsupported.join(', ')} ${unsupported.length > 1 ? 'are' : 'is'} ${reason}`, {
        hint: `image-grounded runs support ${IMAGE_ANALYSES.join(', ')}; leave out --only to compute those and skip the rest`,
        codeHint: `image-grounded runs support ${IMAGE_ANALYSES.join(', ')}; leave out \`only\` to compute those and skip the rest`,
      });
    for (const a of unsupported) skipped.push({ analysis: a, reason });
    only = only.filter((a) => IMAGE_ANALYSES.includes(a));
    if (skipped.length)
      progress({
        task: 'analyze',
        step: 0,
        total: steps.length,
        message: `image-grounded run: skipping ${unsupported.join(', ')} (${reason})`,
      });
  }
  const seqs = evalSequences(set, tok);
  const matchIdx = seqs
    .map((s, i) => [s, i] as const)
    .filter(([s]) => s.condition === 'match')
    .map(([, i]) => i);
  const match = matchIdx.map((i) => seqs[i]);
  const bs = opts.batchSize ?? 64;

  // Once per run: template check and co-occurrence counts.
  let flaggedFrames: AnalyzeResult['flaggedFrames'] = [];
  const templates = await readRows(run, 'analysis/templates');
  const needData = templates.length === 0 || (only.includes('cooccurrence') && !(await run.readTable('analysis/cooccurrence_stats')));
  if (needData) {
    progress({ task: 'analyze', step: 0, total: steps.length, message: 'checking evaluation frames against the training text' });
    const data = await run.data();
    const text = trainingText(data, tok);
    if (templates.length === 0) {
      // image sets hold scene variants of each corpus frame: check each corpus frame once
      const frames = set.image
        ? [...new Map(set.frames.map((f) => [baseFrameId(f.id), { id: baseFrameId(f.id), tokens: f.tokens }])).values()]
        : set.frames;
      const res = checkTemplates(frames, text);
      const rows = res.map((r) => {
        const worst = r.suffixes.reduce(
          (a, b) => (b.ungrounded > a.ungrounded || (b.ungrounded === a.ungrounded && b.grounded > a.grounded) ? b : a),
          r.suffixes[0],
        );
        return {
          frame: r.frame,
          flagged: r.flagged,
          verbatim: r.verbatim,
          reason: r.reason,
          ngram: worst?.ngram ?? '',
          grounded: worst?.grounded ?? 0,
          ungrounded: worst?.ungrounded ?? 0,
        };
      });
      await run.writeTable('analysis/templates', aq.from(rows));
      templates.push(...rows);
    }
    if (!(await run.readTable('analysis/cooccurrence_stats'))) {
      const stats = (data.stats as { nouns?: NounCounts[] } | undefined)?.nouns;
      const counts = stats?.length
        ? stats.filter((s) => set.nouns.includes(s.noun))
        : countCooccurrence(text, set.nouns, { window: opts.window });
      await run.writeTable(
        'analysis/cooccurrence_stats',
        aq.from(counts.map((c) => ({ noun: c.noun, env: c.env, lan: c.lan, cooc: c.cooc, env_followed: c.envFollowed }))),
      );
    }
  }
  tick('setup');
  flaggedFrames = templates.filter((r) => r.flagged).map((r) => ({ frame: String(r.frame), reason: String(r.reason) }));
  for (const f of flaggedFrames)
    progress({ task: 'analyze', step: 0, total: steps.length, message: `warning: evaluation frame ${f.frame} ${f.reason}` });

  // What to do: requested analyses plus their dependencies, minus what is stored.
  const todo = new Set<AnalysisName>();
  const addWithDeps = (a: AnalysisName) => {
    todo.add(a);
    MODULES.get(a)!.depends.forEach((d) => addWithDeps(d as AnalysisName));
  };
  only.forEach(addWithDeps);
  const doneSteps = new Map<AnalysisName, Set<number>>();
  for (const a of todo) {
    const mod = MODULES.get(a)!;
    const rows = await readRows(run, mod.table);
    const f = mod.doneRows ? mod.doneRows(rows) : rows;
    doneSteps.set(a, new Set(opts.force ? [] : f.map((r) => Number(r.step))));
  }
  const computed: AnalyzeResult['computed'] = {};
  const counts = (await readRows(run, 'analysis/cooccurrence_stats')).map((r) => ({
    noun: String(r.noun),
    env: Number(r.env),
    lan: Number(r.lan),
    cooc: Number(r.cooc),
    envFollowed: Number(r.env_followed),
  }));

  let k = 0;
  for (const step of steps) {
    aborted(opts.signal);
    const missing = REGISTRY.map((a) => a.name).filter((a) => todo.has(a) && !doneSteps.get(a)!.has(step));
    k++;
    if (missing.length === 0) {
      progress({ task: 'analyze', step: k, total: steps.length, message: `step ${step}: up to date` });
      continue;
    }
    let model: LanguageModel | undefined;
    const getModel = async () => {
      if (!model) {
        tick('other');
        model = await run.loadModel(step);
        tick('load');
        const F = model.config.envFeatureDim ?? 0;
        if (F > 0 && !set.image)
          throw new GroundlabError(
            'UNSUPPORTED',
            'the model takes continuous ENV features (image-grounded) but the evaluation set has no images',
            {
              file: path.join(run.dir, 'eval', 'evalset.json'),
              hint: `delete ${run.dir}/eval and ${run.dir}/analysis and run again to build an image evaluation set`,
            },
          );
        if (set.image && F !== set.image.featureDim)
          throw new GroundlabError(
            'BAD_CONFIG',
            `the evaluation images have ${set.image.featureDim} features per patch, the model takes ${F}`,
            {
              file: path.join(run.dir, 'eval', 'evalset.json'),
              hint: `delete ${run.dir}/eval and ${run.dir}/analysis and run again`,
            },
          );
      }
      return model;
    };
    // values one analysis computes for others at this checkpoint (surprisal, saliency, heads, ...)
    const pending = new Map<string, Promise<unknown>>();
    const values = new Map<string, unknown>();
    const ctx: StepContext = {
      step,
      run,
      opts,
      set,
      seqs,
      match,
      matchIdx,
      bs,
      padId,
      counts,
      missing: new Set(missing),
      model: getModel,
      say: (what) => progress({ task: 'analyze', step: k - 1, total: steps.length, message: `step ${step}: ${what}` }),
      tick,
      note: (a) => (computed[a as AnalysisName] ??= []).push(step),
      upsert: (table, rows) => upsert(run, table, [step], rows),
      readRows: (table) => readRows(run, table),
      once: <T>(key: string, f: () => Promise<T>) => {
        if (!pending.has(key))
          pending.set(
            key,
            f().then((v) => (values.set(key, v), v)),
          );
        return pending.get(key) as Promise<T>;
      },
      shared: <T>(key: string) => values.get(key) as T | undefined,
    };
    try {
      for (const a of missing) {
        aborted(opts.signal);
        await MODULES.get(a)!.compute(ctx);
      }
    } finally {
      model?.dispose();
    }
    progress({ task: 'analyze', step: k, total: steps.length, message: `step ${step}: done` });
  }
  tick('other');
  const seconds = (Date.now() - t0) / 1000;
  const did = Object.keys(computed).length > 0;
  progress({
    task: 'analyze',
    step: steps.length,
    total: steps.length,
    done: true,
    message: did ? `${seconds.toFixed(1)} s` : 'already done: every analysis was up to date',
  });
  return { steps, computed, flaggedFrames, seconds, timings, skipped };
}

/** `evalRun`: surprisal and G alone. Returns the gain summary per analysed step. */
export async function evalRun(run: AnalysisRun, opts: Omit<AnalyzeOptions, 'only'> = {}): Promise<Array<Record<string, unknown>>> {
  const res = await analyzeRun(run, { ...opts, only: ['gain'] });
  return (await readRows(run, 'analysis/gain_summary')).filter((r) => res.steps.includes(Number(r.step)));
}

/** Mean G per step over several runs (seeds) with a 95% CI over seeds, from their gain_summary tables. */
export async function gainAcrossRuns(
  runs: readonly AnalysisRun[],
): Promise<Array<{ step: number; mean: number; lo: number; hi: number; n: number }>> {
  const per = await Promise.all(
    runs.map(async (r) => (await readRows(r, 'analysis/gain_summary')).map((x) => ({ step: Number(x.step), gain: Number(x.gain) }))),
  );
  return gainOverSeeds(per).map((r) => ({ step: r.step, mean: r.mean, lo: r.lo, hi: r.hi, n: r.n }));
}

export type { EvalSequence };

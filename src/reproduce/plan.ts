/**
 * What `groundlab reproduce` trains and analyses, as sweeps (src/sweep): each group of runs is an
 * ordinary sweep folder under the reproduce folder, so `groundlab runs`, `groundlab analyze`, the
 * notebooks and the widgets read every run as it is.
 *
 *   <out>/main/      transformer | mamba2 | lstm  x  seeds          (the paper's main comparison)
 *   <out>/checks/    the paper's open checks: residual LSTM, shared vocabulary (gather-head ablation
 *                    comes from the main runs' ablation table)
 *   <out>/noise/     the main comparison on the realistic (referentially noisy) corpus, over the
 *                    same seeds: the paper's claims judged again there (beyond the paper); at
 *                    medium and paper, whose main runs are on that corpus, the main runs themselves
 *   <out>/dialogue/  caption-grounded and image-grounded dialogue (the paper's multimodal settings)
 *   <out>/architectures/  which ingredients grounding needs (issue: architectures as data): the GRU
 *                    and GLA beside the main comparison (archs/), the Transformer with one ingredient
 *                    removed in every layer (ablations/), and softmax attention kept in one layer
 *                    only (one-layer/); one seed each
 *   <out>/emergence/ when grounding emerges against referential noise (issue: findings at depth):
 *                    each noise knob of the realistic setting alone on top of the simple one
 *                    (knobs/), and the setting the main runs do not train (settings/: realistic at
 *                    tiny and quick, simple at medium and paper; the other is the main runs' first
 *                    seed); transformer | mamba2 | lstm
 *                    (tiny: the Transformer), one seed, G at every checkpoint (no other analyses)
 *
 *   <out>/binding/   seed 002's open question (issue 20): learned | rope | no positions x raster |
 *                    shuffled patches x with | without the pointing task, 3 seeds; only when asked
 *                    for (`--only binding`), as every preset's defaults leave it out
 *
 * Which groups run by default depends on the preset (DEFAULT_GROUPS): at `medium` the main
 * comparison and the open checks (the main runs already use the realistic corpus); the others
 * cost too much at that scale and run when asked for (`--only emergence`).
 *
 * No run is trained twice under two names: where a group asks for the preset's own corpus setting
 * (the noise group at medium and paper, whose main runs are already on the realistic corpus; the
 * emergence sweep's row for that setting) it reads the main runs, and the plan includes them.
 */
import * as path from 'node:path';
import { GroundlabError } from '../errors';
import { validateSpec, type SweepSpec } from '../sweep/spec';
import { PRESET_NAMES, TRAIN_PRESETS, type PresetName } from '../train/presets';
import { checkpointSteps } from '../train/schedule';
import type { AnalyzeOptions } from '../analysis/analyze';
import { MODEL_PRESETS } from '../models/config';
import { SYNTHETIC_SETTINGS } from '../data/synthetic';
import { BINDING_GROUP_ANALYSES, bindingGroupGrid, bindingGroupTrain } from './binding';

export interface ReproduceOptions {
  preset: PresetName;
  /** The reproduce folder (default runs/reproduce-<preset>). */
  out: string;
  /** Seeds of the main comparison and the noise group (default DEFAULT_SEEDS: tiny 2, quick and medium 3, paper 5 as in the paper). */
  seeds?: number[];
  /** Only these groups (default DEFAULT_GROUPS of the preset). */
  groups?: ReproduceGroup[];
}

export const REPRODUCE_GROUPS = ['main', 'checks', 'noise', 'dialogue', 'architectures', 'emergence', 'binding'] as const;
export type ReproduceGroup = (typeof REPRODUCE_GROUPS)[number];

/** The groups a reproduction runs when none are named. */
export const DEFAULT_GROUPS: Record<PresetName, readonly ReproduceGroup[]> = {
  tiny: REPRODUCE_GROUPS.filter((g) => g !== 'binding'),
  quick: REPRODUCE_GROUPS.filter((g) => g !== 'binding'),
  medium: ['main', 'checks'],
  paper: REPRODUCE_GROUPS.filter((g) => g !== 'binding'),
};

/** The architectures of the emergence sweep (the paper's three). */
export const EMERGENCE_ARCHS = ['transformer', 'mamba2', 'lstm'] as const;

/**
 * The emergence sweep's noise steps: each knob of the realistic setting that adds referential noise
 * (or spread) set alone to its realistic value on top of the simple setting, as `--knob` values;
 * a distractor and the chance it is named go together. Read from the settings (src/data), so a
 * changed realistic value changes the sweep.
 */
export function noiseSteps(): string[] {
  const simple = SYNTHETIC_SETTINGS.simple;
  const real = SYNTHETIC_SETTINGS.realistic;
  const groups: Array<Array<keyof typeof real>> = [
    ['pUnnamed'],
    ['pNoEnv'],
    ['distractors', 'pNameDistractor'],
    ['pAbsent'],
    ['maxDistance'],
    ['topics'],
    ['zipf'],
    ['namingSpread'],
  ];
  return groups.filter((g) => g.some((k) => real[k] !== simple[k])).map((g) => g.map((k) => `${k}=${real[k]}`).join(','));
}

export const DEFAULT_SEEDS: Record<PresetName, number[]> = { tiny: [0, 1], quick: [0, 1, 2], medium: [0, 1, 2], paper: [0, 1, 2, 3, 4] };

/**
 * Checkpoints that get the expensive analyses (saliency, heads, lenses, ablation): about five spread
 * over training (the checkpoints nearest 5%, 20%, 40%, 70% and 100% of the steps). Surprisal and G run on every checkpoint.
 */
export function detailSteps(preset: PresetName): number[] {
  const t = TRAIN_PRESETS[preset].train;
  const all = checkpointSteps(t.steps, t.checkpoints).filter((s) => s > 0);
  if (all.length <= 5) return all;
  const pick = new Set<number>();
  for (const q of [0.05, 0.2, 0.4, 0.7, 1]) {
    const target = q * t.steps;
    pick.add(all.reduce((best, s) => (Math.abs(s - target) < Math.abs(best - target) ? s : best), all[0]));
  }
  return [...pick].sort((a, b) => a - b);
}

/**
 * Analysis options per preset: the tiny preset is a smoke run (its models are too small and too
 * briefly trained to ground), so it uses a short tuned-lens fit and few control draws.
 */
/**
 * Analysis settings per preset, shared by the CLI plan and the notebooks (a run's evaluation set is
 * fixed by whichever builds it first, so both must ask for the same one). The tiny preset is a
 * smoke run (its models are too small and too briefly trained to ground): a small evaluation set,
 * a short tuned-lens fit and few control draws. quick and paper use the analysis defaults.
 */
export interface PresetAnalysis {
  contexts?: number;
  mismatches?: number;
  lensSteps?: number;
  draws?: number;
}

export const PRESET_ANALYSIS: Record<PresetName, PresetAnalysis> = {
  tiny: { contexts: 2, mismatches: 3, lensSteps: 40, draws: 3 },
  quick: {},
  medium: {},
  paper: {},
};

/** The preset's analysis settings as `analyzeRun` / `evalRun` options. */
export function analysisOptions(preset: PresetName): Pick<AnalyzeOptions, 'evalSet' | 'tunedLens' | 'ablation'> {
  const a = PRESET_ANALYSIS[preset];
  const o: Pick<AnalyzeOptions, 'evalSet' | 'tunedLens' | 'ablation'> = {};
  if (a.contexts !== undefined || a.mismatches !== undefined)
    o.evalSet = {
      ...(a.contexts !== undefined ? { contextsPerNoun: a.contexts } : {}),
      ...(a.mismatches !== undefined ? { mismatchesPerContext: a.mismatches } : {}),
    };
  if (a.lensSteps !== undefined) o.tunedLens = { steps: a.lensSteps };
  if (a.draws !== undefined) o.ablation = { draws: a.draws };
  return o;
}

function analyses(preset: PresetName): SweepSpec['analyses'] {
  const a = PRESET_ANALYSIS[preset];
  const opt = (flag: string, v: number | undefined) => (v === undefined ? [] : [flag, String(v)]);
  const evalArgs = [...opt('--contexts', a.contexts), ...opt('--mismatches', a.mismatches)];
  return [
    { name: 'eval', args: ['--quiet', ...evalArgs] },
    {
      name: 'analyze',
      args: [
        '--quiet',
        '--checkpoints',
        detailSteps(preset).join(','),
        ...evalArgs,
        ...opt('--lens-steps', a.lensSteps),
        ...opt('--draws', a.draws),
      ],
    },
  ];
}

/**
 * The Transformer switches of the `architectures` group: each ingredient of attention removed in
 * every layer (`--model` values), and softmax attention kept in one layer only (no token mixing in
 * the others), one run per layer of the preset's Transformer.
 */
export function architectureAblations(preset: PresetName): { removed: string[]; oneLayer: string[] } {
  const L = MODEL_PRESETS.transformer[preset].nLayers;
  return {
    removed: ['positional=rope', 'positional=none', 'mixing=uniform', 'mixing=static', 'mixing=none', 'similarity=linear', 'qkFrom=embed'],
    oneLayer: Array.from(
      { length: L },
      (_, k) => `mixing=${Array.from({ length: L }, (_, l) => (l === k ? 'softmax' : 'none')).join('/')}`,
    ),
  };
}

/** The sweep specs of a reproduction, in the order they run. */
export function reproducePlan(opts: ReproduceOptions): SweepSpec[] {
  const { preset } = opts;
  if (!(preset in TRAIN_PRESETS))
    throw new GroundlabError('BAD_ARGUMENT', `unknown preset "${preset}"`, { hint: `use one of: ${PRESET_NAMES.join(', ')}` });
  const seeds = opts.seeds ?? DEFAULT_SEEDS[preset];
  const groups = opts.groups ?? [...DEFAULT_GROUPS[preset]];
  const spec = (
    name: string,
    grid: Record<string, Array<string | number | boolean>>,
    train: Record<string, string | number | boolean> = {},
  ) =>
    validateSpec(
      { name: name.replace(/\//g, '-'), out: name, grid, train: { preset, ...train }, analyses: analyses(preset) },
      { dir: path.resolve(opts.out) },
    );
  const specs: SweepSpec[] = [];
  // The main comparison trains on the preset's own corpus setting (simple at tiny and quick, realistic
  // at medium and paper). A group that asks for runs of that setting reads the main runs instead of
  // training the same runs again under another name: the noise group at medium and paper is the main
  // comparison itself, and the emergence sweep's row for that setting is the main runs' first seed.
  const mainSetting = TRAIN_PRESETS[preset].corpusSetting;
  const mainArchs = ['transformer', 'mamba2', 'lstm'];
  const noiseIsMain = groups.includes('noise') && mainSetting === 'realistic';
  // tiny is a smoke run (its models never reach 1 nat): the Transformer alone keeps the emergence sweep short.
  const emergenceArchs = preset === 'tiny' ? ['transformer'] : [...EMERGENCE_ARCHS];
  if (groups.includes('main') || noiseIsMain) specs.push(spec('main', { arch: mainArchs, seed: seeds }));
  else if (groups.includes('emergence')) specs.push(spec('main', { arch: emergenceArchs, seed: [seeds[0]] }));
  if (groups.includes('checks')) {
    // Open check 2 (an LSTM with residual connections) and open check 3 (one token for w<ENV> and
    // w<LAN>), one seed each; open check 1 (gather-head ablation) is part of every analysis.
    specs.push(spec('checks/residual-lstm', { arch: ['lstm'], seed: [seeds[0]] }, { model: 'residual=true' }));
    specs.push(spec('checks/shared-vocab', { arch: ['transformer'], seed: [seeds[0]] }, { 'shared-vocab': true }));
  }
  if (groups.includes('noise') && !noiseIsMain) specs.push(spec('noise', { arch: mainArchs, corpus: ['realistic'], seed: seeds }));
  if (groups.includes('dialogue'))
    specs.push(spec('dialogue', { arch: ['transformer'], 'corpus-kind': ['caption', 'image'], seed: [seeds[0]] }));
  if (groups.includes('architectures')) {
    const { removed, oneLayer } = architectureAblations(preset);
    specs.push(spec('architectures/archs', { arch: ['gru', 'gla'], seed: [seeds[0]] }));
    specs.push(spec('architectures/ablations', { model: removed, seed: [seeds[0]] }, { arch: 'transformer' }));
    specs.push(spec('architectures/one-layer', { model: oneLayer, seed: [seeds[0]] }, { arch: 'transformer' }));
  }
  if (groups.includes('emergence')) {
    // G at every checkpoint is all the emergence step needs: the eval stage only.
    const evalOnly = (s: SweepSpec) => ({ ...s, analyses: s.analyses.filter((a) => a.name === 'eval') });
    // The setting the main runs train on comes from them (above); the emergence sweep trains the other.
    const settings = ['simple', 'realistic'].filter((c) => c !== mainSetting);
    specs.push(evalOnly(spec('emergence/settings', { arch: emergenceArchs, corpus: settings, seed: [seeds[0]] })));
    specs.push(evalOnly(spec('emergence/knobs', { arch: emergenceArchs, knob: noiseSteps(), seed: [seeds[0]] }, { corpus: 'simple' })));
  }
  if (groups.includes('binding')) {
    // Seed 002's open question (src/reproduce/binding.ts): positions x patch layout x pointing task, 3 seeds; asked for by name.
    // Three seeds unless told (`--seeds 0` runs every condition once first; the rest later resume the group).
    const bindingSeeds = opts.seeds ?? (seeds.length >= 3 ? seeds : [0, 1, 2]);
    const s = spec('binding', bindingGroupGrid(preset, bindingSeeds), bindingGroupTrain(preset));
    specs.push({ ...s, analyses: BINDING_GROUP_ANALYSES.map((a) => ({ ...a, args: [...a.args] })) });
  }
  return specs;
}

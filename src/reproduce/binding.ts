/**
 * The reproduce group `binding` (issue 20, seed 002's open question): does a position-ID mechanism
 * for binding come from the position embeddings or from the data, and does a spatial pointing task
 * help? Scenes shown as patches (the image variant, src/data/imagebinding.ts), a small Transformer
 * trained from scratch in every combination of
 *
 *   positions  learned | rope | none                  (--model positional=...)
 *   layout     raster (patch i is cell i) | shuffled (patches in a random order, coordinates as features)
 *   pointing   without | with the `where` query (the answer is the object's cell)
 *
 * three seeds each; `groundlab binding` on the last checkpoint. The report's section compares
 * accuracy (trained object counts and held-out combinations), the position-ID tests (swap-slots
 * mediation of the best head, position-ID patching's largest redirect) and the similarity of
 * object states by cell vs. by features, each as mean and 95% interval over seeds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PresetName } from '../train/presets';
import { meanCI } from '../metrics/stats';
import { openRun } from '../train/run';
import type { Row, RunTables } from './collect';

export const BINDING_POSITIONALS = ['learned', 'rope', 'none'] as const;
export const BINDING_LAYOUTS = ['raster', 'shuffled'] as const;

/** The scenes every run of the group trains on (with `layout` and the query set added per cell). */
export const BINDING_GROUP_SCENES = 'variant=image,grid=3,colours=6,shapes=6,minObjects=2,maxObjects=3,queriesPerScene=4';

/** Training settings per preset: steps, and the model (a Transformer narrower than the preset's). */
export const BINDING_GROUP_TRAIN: Record<PresetName, { steps: number; model: string; seqLen: number; batchSize: number }> = {
  tiny: { steps: 4, model: 'contextLength=64', seqLen: 36, batchSize: 8 },
  // quick: one run (learned positions, raster, no pointing) reached loss 0.011 at step 1000 and 1.000 accuracy at 1200; ~75 s of CPU per run with its analyses
  quick: { steps: 1000, model: 'dModel=64,dMlp=256', seqLen: 36, batchSize: 32 },
  medium: { steps: 4000, model: 'dModel=64,dMlp=256', seqLen: 36, batchSize: 32 },
  paper: { steps: 8000, model: '', seqLen: 36, batchSize: 32 },
};

/** The group's grid: positions (as --model values), layout and pointing (as --knob values), seeds. */
export function bindingGroupGrid(preset: PresetName, seeds: readonly number[]): Record<string, Array<string | number>> {
  const t = BINDING_GROUP_TRAIN[preset];
  return {
    model: BINDING_POSITIONALS.map((p) => [`positional=${p}`, t.model].filter(Boolean).join(',')),
    knob: BINDING_LAYOUTS.flatMap((layout) =>
      ['colour/shape', 'colour/shape/where'].map((queries) => `${BINDING_GROUP_SCENES},layout=${layout},queries=${queries}`),
    ),
    seed: [...seeds],
  };
}

/** The group's training flags (besides the grid). */
export function bindingGroupTrain(preset: PresetName): Record<string, string | number> {
  const t = BINDING_GROUP_TRAIN[preset];
  return { arch: 'transformer', 'corpus-kind': 'binding', steps: t.steps, 'seq-len': t.seqLen, 'batch-size': t.batchSize };
}

/** `groundlab binding` on each run (the last checkpoint). */
export const BINDING_GROUP_ANALYSES = [{ name: 'binding', args: ['--pairs', '100', '--per-count', '50'] }];

type BindingRow = {
  step: number;
  section: string;
  name: string;
  kind: string;
  positions: string;
  value: number;
  redirect: number;
  n: number;
};

/** One run's summary: its condition and the measures of its last analysed checkpoint. */
async function runSummary(r: RunTables): Promise<Row | undefined> {
  const run = await openRun(r.dir);
  const t = await run.readTable('analysis/binding');
  if (!t) return undefined;
  const rows = t.objects() as BindingRow[];
  const step = Math.max(...rows.map((x) => x.step));
  const at = rows.filter((x) => x.step === step);
  const knobs = run.config.corpus.knobs ?? {};
  const positional = String((run.config.model as { positional?: string }).positional ?? 'learned');
  const val = (section: string, name: string) => at.find((x) => x.section === section && x.name === name)?.value ?? NaN;
  const trained = at.filter((x) => x.section === 'accuracy' && x.name.startsWith('objects='));
  const swap = at.filter((x) => x.section === 'mediation' && x.kind === 'swap-slots' && x.positions === 'query').map((x) => x.value);
  const feature = at.filter((x) => x.section === 'mediation' && x.kind === 'change-feature' && x.positions === 'query').map((x) => x.value);
  const pid = at.filter((x) => x.section === 'position-id').map((x) => x.redirect);
  // Similarity after the last layer (the largest `name` index is the last residual site) and its best layer.
  const sim = at.filter((x) => x.section === 'similarity');
  const gap = [...new Set(sim.map((x) => x.name))].map((hook) => {
    const g = (kind: string) => sim.find((x) => x.name === hook && x.kind === kind)?.value ?? NaN;
    return g('samePosition') - g('sameFeatures');
  });
  return {
    positional,
    layout: String(knobs.layout ?? 'raster'),
    pointing: String(knobs.queries ?? '').includes('where') ? 'with' : 'without',
    seed: r.seed,
    step,
    accuracy: trained.length ? trained.reduce((a, x) => a + x.value, 0) / trained.length : NaN,
    heldOut: val('accuracy', 'held-out'),
    swapMax: swap.length ? Math.max(...swap) : NaN,
    featureMax: feature.length ? Math.max(...feature) : NaN,
    positionIdMax: pid.length ? Math.max(...pid) : NaN,
    positionMinusFeature: gap.length ? Math.max(...gap.filter(Number.isFinite)) : NaN,
  };
}

const MEASURES: Array<[string, string]> = [
  ['accuracy', 'accuracy (2-3 objects)'],
  ['heldOut', 'held-out combinations'],
  ['swapMax', 'swap-slots mediation, best head'],
  ['featureMax', 'change-feature mediation, best head'],
  ['positionIdMax', 'position-ID patching, largest redirect'],
  ['positionMinusFeature', 'same cell minus same features (similarity), best layer'],
];

/** Mean and 95% interval over seeds per condition: rows for the report's table. */
export async function bindingComparison(runs: readonly RunTables[]): Promise<{ perRun: Row[]; rows: Row[] }> {
  const perRun = (await Promise.all(runs.filter((r) => r.group === 'binding').map(runSummary))).filter((x): x is Row => !!x);
  const key = (r: Row) => `${r.positional}|${r.layout}|${r.pointing}`;
  const conds = [...new Set(perRun.map(key))];
  const order = (c: string) => {
    const [p, l, q] = c.split('|');
    return BINDING_POSITIONALS.indexOf(p as never) * 4 + BINDING_LAYOUTS.indexOf(l as never) * 2 + (q === 'with' ? 1 : 0);
  };
  const f = (m: { mean: number; lo: number; hi: number }) =>
    !Number.isFinite(m.mean)
      ? 'n/a'
      : Number.isFinite(m.lo)
        ? `${m.mean.toFixed(3)} [${m.lo.toFixed(3)}, ${m.hi.toFixed(3)}]`
        : m.mean.toFixed(3);
  const rows = conds
    .sort((a, b) => order(a) - order(b))
    .map((c) => {
      const rs = perRun.filter((r) => key(r) === c);
      const [positional, layout, pointing] = c.split('|');
      return {
        positional,
        layout,
        pointing,
        seeds: rs.length,
        ...Object.fromEntries(
          MEASURES.map(([m]) => {
            const xs = rs.map((r) => r[m] as number).filter(Number.isFinite);
            return [m, xs.length ? f(meanCI(xs)) : 'n/a'];
          }),
        ),
      };
    });
  return { perRun, rows };
}

/** The REPORT.md section of the binding group (empty when the group did not run). */
export async function bindingReportSection(
  runs: readonly RunTables[],
  tab: (name: string, rows: Row[], cols: Array<[string, string]>) => Promise<void>,
  tabDir: string,
): Promise<string[]> {
  const { perRun, rows } = await bindingComparison(runs);
  if (!rows.length) return [];
  await tab('binding', rows, [
    ['positional', 'positions'],
    ['layout', 'patches'],
    ['pointing', 'pointing task'],
    ['seeds', 'seeds'],
    ...MEASURES,
  ]);
  await tab(
    'binding-runs',
    perRun.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v])),
    ),
    [['positional', 'positions'], ['layout', 'patches'], ['pointing', 'pointing task'], ['seed', 'seed'], ['step', 'step'], ...MEASURES],
  );
  return [
    '## Binding: position IDs from position embeddings or from the data?',
    '',
    "Seed 002's open question on scenes shown as patches through the frozen encoder (3 x 3 cells, 2-3 objects, colour and shape queries): learned, rotary or no position embeddings; patches in raster order (a patch's place in the sequence is its cell) or shuffled with their coordinates as features; with or without the pointing task (`where is <shape> ?`). Mean and 95% interval over seeds (t-interval), at the last checkpoint, from `groundlab binding` (100 pairs per counterfactual kind, 50 scenes per object count). A position-ID mechanism shows as swap-slots mediation (patching a head at the query moves the answer to the object in the swapped cell) and position-ID patching redirects; `same cell minus same features` > 0 means object states are organised by where they are rather than what they are.",
    '',
    fs.readFileSync(path.join(tabDir, 'binding.md'), 'utf8'),
  ];
}

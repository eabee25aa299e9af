/**
 * The figures, tables and REPORT.md of a reproduction: each result of the paper (../shared/PAPER.md)
 * set beside what the runs measured, with a verdict (agrees / partly / disagrees / not measured)
 * that follows from the numbers by the rule written next to each claim.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomicWrite } from '../io/atomic';
import { lineChart, heatmap, dotChart } from '../viz/figures';
import { renderVegaLite } from '../viz/render';
import { at, lastStep, overSeeds, writeArchive, type Row, type RunTables } from './collect';
import { REGISTRY, type ReportContext } from '../analysis/analyses';
import { ablationTable } from '../analysis/analyses/ablation';
import { EMERGENCE_THRESHOLD, emergenceContrast, emergenceRows, emergenceTable } from './emergence';
import { bindingReportSection } from './binding';
import { GROUNDING_DAS_MIN_CEILING, GROUNDING_DAS_SHARE, groundingDasSummary, type GroundingDasRow } from '../causal/grounding';

/** `reported`: an open question (no claim of the paper to judge) that has a run. */
export type Verdict = 'agrees' | 'partly' | 'disagrees' | 'reported' | 'not measured';

/** The claims about the main comparison (judged again wherever the three architectures ran together). */
export const MAIN_CLAIMS: readonly string[] = [
  'gap-transformer',
  'gap-mamba2',
  'gap-lstm',
  'cooccurrence',
  'heads-grow',
  'heads-layers',
  'lens-middle',
  'ablation-aggregate',
  'ablation-gather',
];

export interface Claim {
  id: string;
  paper: string;
  measured: string;
  verdict: Verdict;
  /** How the verdict follows from the numbers. */
  rule: string;
}

export interface ReportFiles {
  figures: string[];
  tables: string[];
  report: string;
  claims: Claim[];
  /** The run archive written beside REPORT.md (`archive/<group>/<cell>.json`, one per run). */
  archive: string[];
}

/** REPORT.md's word on the run archive: where each run's tables are kept, and which runs came from one. */
function archiveNote(out: string, runs: RunTables[]): string[] {
  const from = runs.filter((r) => r.archived);
  return [
    '',
    `Every run's analysis tables are kept in \`archive/<group>/<cell>.json\` beside this report (no weights); commit them with it, and a later report reads a run from there when its folder is gone (\`--merge <report folder>\` reads another report's archive).${
      from.length
        ? ` Read from an archive in this report (their folders were not there): ${from
            .map((r) => `${r.group}/${r.cell} (${path.relative(out, r.archived!).split(path.sep).join('/')})`)
            .join(', ')}.`
        : ''
    }`,
    '',
  ];
}

const num = (v: unknown) => Number(v);
const f2 = (x: unknown) => (Number.isFinite(num(x)) ? num(x).toFixed(2) : 'n/a');
const fp = (p: number) => (!Number.isFinite(p) ? 'n/a' : p < 0.001 ? '< 0.001' : p.toFixed(3));

function markdownTable(rows: Row[], cols: Array<[string, string]>): string {
  const head = `| ${cols.map((c) => c[1]).join(' | ')} |\n|${cols.map(() => '---').join('|')}|`;
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : f2(v)) : String(v ?? ''));
  const body = rows.map((r) => `| ${cols.map(([k]) => cell(r[k])).join(' | ')} |`);
  return [head, ...body].join('\n') + '\n';
}

function csv(rows: Row[], cols: Array<[string, string]>): string {
  const esc = (v: unknown) => {
    const s = String(v ?? '');
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.map((c) => c[0]).join(','), ...rows.map((r) => cols.map(([k]) => esc(r[k])).join(','))].join('\n') + '\n';
}

/** G at the last common step, mean and CI over seeds, for a label. */
function finalGain(runs: RunTables[], label: string) {
  const rows = overSeeds(runs, 'gain_summary', 'gain');
  const step = lastStep(runs, label, 'gain_summary');
  const r = at(rows, label, step);
  return r ? { step: step!, mean: num(r.mean), lo: num(r.lo), hi: num(r.hi), n: num(r.n) } : undefined;
}

function firstGain(runs: RunTables[], label: string) {
  const rows = overSeeds(runs, 'gain_summary', 'gain').filter((r) => r.label === label);
  return rows.length ? { step: num(rows[0].step), mean: num(rows[0].mean) } : undefined;
}

const ci = (g: { mean: number; lo: number; hi: number; n: number }) =>
  g.n > 1
    ? `${g.mean.toFixed(2)} nats (95% CI ${g.lo.toFixed(2)} to ${g.hi.toFixed(2)}, ${g.n} seeds)`
    : `${g.mean.toFixed(2)} nats (1 seed)`;

export { ablationTable };

/** G over training per label (mean and 95% CI over seeds), with the zero line: the report's G figures. */
function gainChart(runs: RunTables[], title: string): Record<string, unknown> {
  return lineChart(overSeeds(runs, 'gain_summary', 'gain'), {
    x: 'step',
    y: 'mean',
    color: 'label',
    lo: 'lo',
    hi: 'hi',
    rule: 0,
    title,
    yTitle: 'G (nats)',
  });
}

/** Build the claims from the collected runs. */
export function judgeClaims(runs: RunTables[]): Claim[] {
  const claims: Claim[] = [];
  const G = (label: string) => finalGain(runs, label);
  const grounded = (g: ReturnType<typeof finalGain>) => g !== undefined && (g.n > 1 ? g.lo > 0 : g.mean > 0.1);
  const gainRule =
    'agrees when G at the last checkpoint is above 0 (the lower end of the 95% CI over seeds; with one seed, G > 0.1 nats) and larger than at the first checkpoint';

  for (const [arch, plural] of [
    ['transformer', 'Transformers'],
    ['mamba2', 'Mamba-2'],
  ] as const) {
    const g = G(arch);
    const g0 = firstGain(runs, arch);
    const opened = g && g0 ? g.mean > g0.mean : false;
    claims.push({
      id: `gap-${arch}`,
      paper: `${plural}: surprisal of v<LAN> is lower in the match condition than in mismatch, and the gap opens during training`,
      measured: g ? `G = ${ci(g)} at step ${g.step}; ${g0 ? `G = ${g0.mean.toFixed(2)} at step ${g0.step}` : ''}` : 'no run',
      verdict: !g ? 'not measured' : grounded(g) && opened ? 'agrees' : grounded(g) || opened ? 'partly' : 'disagrees',
      rule: gainRule,
    });
  }
  {
    const g = G('lstm');
    const t = G('transformer');
    const noGap = g !== undefined && (g.n > 1 ? g.lo <= 0 : Math.abs(g.mean) <= 0.1);
    const small = g !== undefined && t !== undefined && Math.abs(g.mean) < 0.1 * Math.abs(t.mean);
    claims.push({
      id: 'gap-lstm',
      paper: 'The unidirectional LSTM shows no match/mismatch gap',
      measured: g ? `G = ${ci(g)} at step ${g.step}${t ? ` (Transformer: ${t.mean.toFixed(2)})` : ''}` : 'no run',
      verdict: !g ? 'not measured' : noGap ? 'agrees' : small ? 'partly' : 'disagrees',
      rule: "agrees when the 95% CI of G includes 0 (one seed: |G| <= 0.1 nats); partly when G is positive but under a tenth of the Transformer's",
    });
  }
  {
    const r2 = overSeeds(
      runs.filter((r) => r.label === 'transformer'),
      'cooccurrence',
      'r2',
      (r) => String(r.predictors) === 'all',
    );
    const g = overSeeds(
      runs.filter((r) => r.label === 'transformer'),
      'gain_summary',
      'gain',
    );
    if (r2.length >= 3) {
      const peak = r2.reduce((b, r) => (num(r.mean) > num(b.mean) ? r : b));
      const last = r2[r2.length - 1];
      const gPeak = g.find((r) => num(r.step) === num(peak.step));
      const gLast = g.find((r) => num(r.step) === num(last.step));
      const fell = num(last.mean) < num(peak.mean) - 0.05 && num(peak.step) < num(last.step);
      const rose = gPeak && gLast ? num(gLast.mean) > num(gPeak.mean) : false;
      claims.push({
        id: 'cooccurrence',
        paper: 'R^2 of G against co-occurrence statistics rises early in training and then falls while G keeps rising',
        measured: `R^2 peaks at ${f2(peak.mean)} (step ${peak.step}) and is ${f2(last.mean)} at step ${last.step}; G ${gPeak ? f2(gPeak.mean) : 'n/a'} -> ${gLast ? f2(gLast.mean) : 'n/a'}`,
        verdict: fell && rose ? 'agrees' : fell || rose ? 'partly' : 'disagrees',
        rule: 'agrees when R^2 at the end is more than 0.05 below its peak, the peak is before the end, and G at the end is above G at the peak',
      });
    } else
      claims.push({
        id: 'cooccurrence',
        paper: 'R^2 rises then falls while G rises',
        measured: 'fewer than 3 checkpoints with R^2',
        verdict: 'not measured',
        rule: '',
      });
  }
  {
    const tr = runs.filter((r) => r.label === 'transformer');
    const counts = (field: string) => overSeeds(tr, 'head_counts', field);
    const heads = counts('aggregate_heads');
    const gl = counts('gather_mean_layer');
    const al = counts('aggregate_mean_layer');
    if (heads.length >= 2) {
      const first = heads[0];
      const last = heads[heads.length - 1];
      claims.push({
        id: 'heads-grow',
        paper: 'Aggregate heads grow in number over training',
        measured: `aggregate heads by step: ${heads.map((r) => `${r.step}: ${f2(r.mean)}`).join(', ')}`,
        verdict:
          num(last.mean) > num(first.mean) ? 'agrees' : num(last.mean) === num(first.mean) && num(last.mean) > 0 ? 'partly' : 'disagrees',
        rule: 'agrees when the mean number of aggregate heads at the last analysed checkpoint is above the first',
      });
      // Lower: mean layers at the last checkpoint where both kinds exist; earlier: the first analysed
      // checkpoint at which each kind exists (mean count over seeds above 0).
      const both = al
        .map((ar) => ({ a: ar, g: gl.find((gr) => num(gr.step) === num(ar.step)) }))
        .filter((x): x is { a: typeof x.a; g: NonNullable<typeof x.g> } => x.g !== undefined)
        .pop();
      const firstStep = (rows: typeof heads) => rows.find((r) => num(r.mean) > 0)?.step;
      const gFirst = firstStep(counts('gather_heads'));
      const aFirst = firstStep(heads);
      const lower = both ? num(both.a.mean) > num(both.g.mean) : false;
      const earlier = gFirst !== undefined && aFirst !== undefined && num(gFirst) <= num(aFirst);
      claims.push({
        id: 'heads-layers',
        paper: 'Gather heads sit early (mean layer 3.3-3.7 of 12), aggregate heads later (7-8 of 12)',
        measured: both
          ? `mean layer (0-based) of gather heads ${f2(both.g.mean)}, of aggregate heads ${f2(both.a.mean)} at step ${both.a.step}; first analysed step with gather heads ${gFirst}, with aggregate heads ${aFirst}`
          : `no checkpoint with both gather and aggregate heads (first analysed step with gather heads: ${gFirst ?? 'none'}; with aggregate heads: ${aFirst ?? 'none'})`,
        verdict: !both ? 'not measured' : lower && earlier ? 'agrees' : lower || earlier ? 'partly' : 'disagrees',
        rule: "agrees when gather heads sit in lower layers than aggregate heads on average (at the last analysed checkpoint with both) and appear no later in training (first analysed checkpoint with any); partly when one of the two holds (the models here have fewer layers than the paper's 12)",
      });
    }
  }
  {
    const rows = overSeeds(
      runs.filter((r) => r.label === 'transformer'),
      'lens',
      'gain',
      (r) => r.lens === 'tuned',
      ['layer'],
    );
    const step = rows.length ? Math.max(...rows.map((r) => num(r.step))) : undefined;
    const layers = rows.filter((r) => num(r.step) === step).sort((a, b) => num(a.layer) - num(b.layer));
    if (layers.length >= 3) {
      const final = num(layers[layers.length - 1].mean);
      const half = layers.find((r) => num(r.mean) >= final / 2);
      const nBlocks = layers.length - 1; // lens points: 0 = embedding, 1..L = after each block
      const where = half ? num(half.layer) : NaN;
      const depth = where / nBlocks;
      const peak = layers.reduce((b, r) => (num(r.mean) > num(b.mean) ? r : b));
      claims.push({
        id: 'lens-middle',
        paper: 'Grounding concentrates in the middle layers (tuned lens; 7-9 of 12)',
        measured: `tuned-lens G by layer at step ${step}: ${layers.map((r) => `${r.layer}: ${f2(r.mean)}`).join(', ')}; half of the final G is reached after block ${Number.isFinite(where) ? where : 'n/a'} of ${nBlocks}; the largest, ${f2(peak.mean)}, after block ${peak.layer}`,
        verdict: !half || depth >= 1 ? 'disagrees' : depth > 1 / 3 && depth <= 2 / 3 ? 'agrees' : 'partly',
        rule: "agrees when the tuned lens first reaches half of the last layer's G in the middle third of the blocks; partly when earlier (or later, but before the last block); disagrees at the last block",
      });
    } else
      claims.push({
        id: 'lens-middle',
        paper: 'Grounding concentrates in the middle layers',
        measured: 'no tuned-lens table',
        verdict: 'not measured',
        rule: '',
      });
  }
  for (const kind of ['aggregate', 'gather'] as const) {
    const t = ablationTable(runs, 'transformer', kind).filter((r) => Number.isFinite(num(r.p)));
    const last = t[t.length - 1];
    const paper =
      kind === 'aggregate'
        ? 'Zeroing aggregate heads raises v<LAN> surprisal more than zeroing as many random control heads (p < 0.001); control heads have almost no effect'
        : 'Open check 1: zeroing gather heads (against control heads of the same number) has no significant effect';
    if (!last) {
      claims.push({
        id: `ablation-${kind}`,
        paper,
        measured: `no ${kind} heads found at any analysed checkpoint`,
        verdict: 'not measured',
        rule: '',
      });
      continue;
    }
    const effect = num(last.ablated) - num(last.control);
    const sig = num(last.p) < 0.001;
    claims.push({
      id: `ablation-${kind}`,
      paper,
      measured: `step ${last.step}: ${f2(last.heads)} heads; surprisal ${f2(last.ablated)} zeroed vs ${f2(last.control)} control vs ${f2(last.intact)} intact; largest p over seeds ${fp(num(last.p))}`,
      verdict:
        kind === 'aggregate'
          ? sig && effect > 0
            ? 'agrees'
            : effect > 0
              ? 'partly'
              : 'disagrees'
          : num(last.p) >= 0.05
            ? 'agrees'
            : 'disagrees',
      rule:
        kind === 'aggregate'
          ? 'agrees when the zeroed surprisal exceeds the control and p < 0.001 in every seed; partly when it exceeds it without that significance'
          : 'agrees when p >= 0.05',
    });
  }
  for (const [label, paper] of [
    ['transformer (caption dialogue)', 'Caption-grounded dialogue: grounding emerges as in child-directed speech'],
    ['transformer (image dialogue)', 'Image-grounded dialogue (continuous patch features): grounding emerges'],
  ] as const) {
    const g = G(label);
    claims.push({
      id: `dialogue-${label.includes('caption') ? 'caption' : 'image'}`,
      paper,
      measured: g ? `G = ${ci(g)} at step ${g.step}` : 'no run',
      verdict: !g ? 'not measured' : grounded(g) ? 'agrees' : 'disagrees',
      rule: 'agrees when G at the last checkpoint is above 0 (one seed: > 0.1 nats)',
    });
  }
  for (const [label, paper] of [
    ['lstm (residual)', 'Open check 2: an LSTM with residual connections (the paper has no result; its LSTM had none)'],
    ['transformer (shared vocabulary)', 'Open check 3: one token for w<ENV> and w<LAN> (the paper has no result)'],
    [
      'transformer (realistic corpus)',
      'Beyond the paper: referential noise (unnamed objects, absent referents, distractors) delays grounding',
    ],
  ] as const) {
    const g = G(label);
    const base = label.startsWith('lstm') ? G('lstm') : G('transformer');
    // Referential noise: also when grounding emerges on each setting (the emergence group), which at
    // medium and paper is the only evidence (their main runs are the realistic setting).
    const extra = label.includes('realistic') ? emergenceContrast(emergenceRows(runs)) : undefined;
    const measured = [
      g ? `G = ${ci(g)} at step ${g.step}; the same architecture on the default setup: ${base ? base.mean.toFixed(2) : 'n/a'}` : undefined,
      extra,
    ].filter((x) => x !== undefined);
    claims.push({
      id: label.replace(/[^a-z]+/g, '-').replace(/^-|-$/g, ''),
      paper,
      measured: measured.length ? measured.join('; ') : 'no run',
      verdict: measured.length ? 'reported' : 'not measured',
      rule: 'an open question: reported, not judged',
    });
  }
  {
    const g = G('transformer (mixing=none)');
    claims.push({
      id: 'no-mixing',
      paper:
        'Deconstructing attention: without any token mixing (mixing: none in every layer) the prediction position cannot read the ENV token, so no grounding can emerge',
      measured: g ? `G = ${ci(g)} at step ${g.step}` : 'no run',
      verdict: !g ? 'not measured' : Math.abs(g.mean) < 0.05 ? 'agrees' : 'disagrees',
      rule: 'agrees when |G| at the last checkpoint is below 0.05 nats',
    });
  }
  return claims;
}

/** Labels of the architectures comparison: the main architectures, then the `architectures` group's runs. */
function architectureLabels(runs: RunTables[]): string[] {
  const main = ['transformer', 'mamba2', 'lstm'].filter((l) => runs.some((r) => r.group === 'main' && r.label === l));
  return [...main, ...new Set(runs.filter((r) => r.group.startsWith('architectures/')).map((r) => r.label))];
}

/**
 * The architectures comparison, one row per setting: G at the last checkpoint (mean over seeds with
 * its 95% CI over seeds; with one seed, the CI over nouns), G as a share of the default Transformer's
 * (when that one grounds: G > 0.1 nats),
 * gather and aggregate heads at the last analysed checkpoint, and the ablation test of the aggregate
 * heads there (zeroed vs control heads zeroed, paired t-test p).
 */
export function architectureRows(runs: RunTables[]): Row[] {
  const base = finalGain(runs, 'transformer');
  return architectureLabels(runs).map((label) => {
    const g = finalGain(runs, label);
    let lo = g?.lo,
      hi = g?.hi,
      over = g && g.n > 1 ? `${g.n} seeds` : 'nouns';
    if (g && g.n === 1) {
      const r = runs.find((x) => x.label === label)?.tables.gain_summary.find((x) => num(x.step) === g.step);
      lo = num(r?.ci_lo);
      hi = num(r?.ci_hi);
      if (!Number.isFinite(lo!) || !Number.isFinite(hi!)) over = 'n/a';
    }
    const counts = (f: string) => {
      const rows = overSeeds(
        runs.filter((x) => x.label === label),
        'head_counts',
        f,
      );
      return rows.length ? rows[rows.length - 1].mean : undefined;
    };
    const ab = ablationTable(runs, label, 'aggregate').at(-1);
    return {
      setting: label,
      step: g?.step,
      gain: g?.mean,
      lo,
      hi,
      ci_over: g ? over : '',
      share: g && base && base.mean > 0.1 ? g.mean / base.mean : undefined,
      aggregate_heads: counts('aggregate_heads'),
      gather_heads: counts('gather_heads'),
      ablated: ab?.ablated,
      control: ab?.control,
      p: ab ? ab.p_text : '',
    };
  });
}

/**
 * Per-run minutes (training, sweep stages, whole run) and their sum, for the report's cost table.
 * Training is the longer of the run's own clock (`elapsedSec`, every session) and the sweep's train
 * stage, so a run trained outside the sweep (`groundlab train` into the cell's folder, which the
 * sweep then only resumes) still shows its training; a run's total is its cell's time, or training
 * plus eval and analyses where that is more.
 */
export function runCosts(runs: RunTables[]): { rows: Row[]; totalMin?: number } {
  const min = (s: number | undefined) => (s === undefined ? undefined : s / 60);
  const most = (...xs: Array<number | undefined>) => {
    const known = xs.filter((x): x is number => x !== undefined);
    return known.length ? Math.max(...known) : undefined;
  };
  let total = 0;
  let any = false;
  const rows = runs.map((r) => {
    const t = r.timing ?? {};
    const train = most(t.trainSec, t.stageSec?.train);
    const stages = t.stageSec && train !== undefined ? train + (t.stageSec.eval ?? 0) + (t.stageSec.analyze ?? 0) : undefined;
    const whole = t.cellSec === undefined ? undefined : most(t.cellSec, stages);
    if (whole !== undefined) {
      total += whole;
      any = true;
    }
    return {
      run: `${r.group}/${r.cell}`,
      steps: r.steps.length ? r.steps[r.steps.length - 1] : undefined,
      train_min: min(train),
      eval_min: min(t.stageSec?.eval),
      analyze_min: min(t.stageSec?.analyze),
      cell_min: min(whole),
      attempts: t.attempts,
    };
  });
  return { rows, totalMin: any ? total / 60 : undefined };
}

/**
 * Grounding DAS (issue 19, src/causal/grounding.ts), when the main Transformer runs have its table
 * (`analysis/das_grounding.arrow`, written by `groundingDas`): is the ENV referent's identity held
 * in a subspace of k <= 8 at the pre-LAN position, and from which checkpoint on. Reported, not judged
 * (the paper has no such claim).
 */
function groundingDasSection(runs: RunTables[]): { rows: Row[]; cols: Array<[string, string]>; intro: string } | undefined {
  const found: Array<{ seed: number; rows: GroundingDasRow[]; gain: (step: number) => number | undefined }> = [];
  for (const r of runs.filter((x) => x.group === 'main' && x.arch === 'transformer')) {
    const rows = (r.tables.das_grounding ?? []) as unknown as GroundingDasRow[];
    if (rows.length)
      found.push({ seed: r.seed, rows, gain: (step) => num(r.tables.gain_summary?.find((g) => num(g.step) === step)?.gain) });
  }
  if (!found.length) return undefined;
  const s = groundingDasSummary(found.sort((a, b) => a.seed - b.seed));
  const n = found[0].rows[0]?.pairs;
  const intro = `Causal model: one variable, the referent (the noun of the context's ENV token); the output at the pre-LAN position is its LAN token. Base and source are match contexts of the same evaluation frame differing only in the ENV noun; DAS learns a k-dimensional subspace of each layer's residual stream (after the block) at the pre-LAN position on pairs of half the frames and is scored on ${n} pairs of the other half: IIA = share of pairs whose argmax there is the source's LAN token. The ceiling is the share of those sources the model itself names right. Baselines: the first k neurons (identity), a random rotation, the full-vector swap. Verdict (a subspace holds the referent when its IIA reaches ${GROUNDING_DAS_SHARE} of the ceiling and the model itself names at least ${GROUNDING_DAS_MIN_CEILING} of the sources): ${s.verdict}. Reported, not judged: the paper has no such claim.`;
  return { rows: s.rows, cols: s.cols, intro };
}

/** Write every figure (SVG + PNG), table (Markdown + CSV) and REPORT.md of a reproduction into `out`. */
export async function writeReport(
  out: string,
  runs: RunTables[],
  meta: { preset: string; wallSec: number; command: string },
): Promise<ReportFiles> {
  const figDir = path.join(out, 'figures');
  const tabDir = path.join(out, 'tables');
  fs.mkdirSync(figDir, { recursive: true });
  fs.mkdirSync(tabDir, { recursive: true });
  const figures: string[] = [];
  const tables: string[] = [];
  const fig = async (name: string, spec: Record<string, unknown>) => {
    if (!Array.isArray((spec.data as { values?: unknown[] })?.values) || !(spec.data as { values: unknown[] }).values.length) return;
    const r = await renderVegaLite(spec);
    await atomicWrite(path.join(figDir, `${name}.svg`), r.svg);
    await atomicWrite(path.join(figDir, `${name}.png`), r.png);
    await atomicWrite(path.join(figDir, `${name}.vl.json`), JSON.stringify(spec));
    figures.push(name);
  };
  const tab = async (name: string, rows: Row[], cols: Array<[string, string]>) => {
    await atomicWrite(path.join(tabDir, `${name}.md`), markdownTable(rows, cols));
    await atomicWrite(path.join(tabDir, `${name}.csv`), csv(rows, cols));
    tables.push(name);
  };
  const main = runs.filter((r) => r.group === 'main');
  const series = (rows: Row[], suffix: string) => rows.map((r) => ({ ...r, series: `${r.label}${suffix}` }));

  // Figure 1: match vs mismatch surprisal over training, per architecture.
  await fig(
    'surprisal-match-mismatch',
    lineChart(
      [...series(overSeeds(main, 'gain_summary', 'match'), ' match'), ...series(overSeeds(main, 'gain_summary', 'mismatch'), ' mismatch')],
      {
        x: 'step',
        y: 'mean',
        color: 'series',
        lo: 'lo',
        hi: 'hi',
        title: 'Surprisal of v<LAN>: match vs mismatch',
        yTitle: 'surprisal (nats)',
      },
    ),
  );
  await fig('gain-by-architecture', gainChart(main, 'Grounding information gain G'));
  const others = runs.filter(
    (r) => (r.group !== 'main' || r.label === 'transformer' || r.label === 'lstm') && !r.group.startsWith('emergence/'),
  );
  await fig('gain-checks-and-settings', gainChart(others, 'G: open checks, dialogue and referential noise'));
  const tr = main.filter((r) => r.label === 'transformer');
  await fig(
    'cooccurrence-r2',
    lineChart(
      tr.flatMap((r) => r.tables.cooccurrence.map((x) => ({ ...x, series: `${x.predictors} (seed ${r.seed})` }))),
      {
        x: 'step',
        y: 'r2',
        color: 'series',
        title: 'R^2 of G against co-occurrence statistics (Transformer)',
        yTitle: 'R^2',
      },
    ),
  );
  await fig(
    'saliency-flow',
    heatmap(tr[0]?.tables.saliency.filter((r) => r.kind === 'layer') ?? [], {
      x: 'step',
      y: 'layer',
      value: 'flow',
      title: `Saliency flow ENV -> prediction position (Transformer, seed ${tr[0]?.seed ?? ''})`,
      valueTitle: 'share',
    }),
  );
  const lensRows = tr[0]?.tables.lens ?? [];
  const lensLast = lensRows.length ? Math.max(...lensRows.map((r) => num(r.step))) : NaN;
  await fig(
    'lens-layerwise',
    lineChart(
      lensRows
        .filter((r) => num(r.step) === lensLast)
        .flatMap((r) => [
          { layer: r.layer, surprisal: r.match, series: `${r.lens} lens, match` },
          { layer: r.layer, surprisal: r.mismatch, series: `${r.lens} lens, mismatch` },
        ]),
      {
        x: 'layer',
        y: 'surprisal',
        color: 'series',
        title: `Layer-wise surprisal of v<LAN> (Transformer, step ${lensLast})`,
        yTitle: 'surprisal (nats)',
      },
    ),
  );
  await fig(
    'head-counts',
    lineChart(
      [
        ...series(overSeeds(tr, 'head_counts', 'aggregate_heads'), ' aggregate'),
        ...series(overSeeds(tr, 'head_counts', 'gather_heads'), ' gather'),
      ],
      {
        x: 'step',
        y: 'mean',
        color: 'series',
        title: 'Gather and aggregate heads over training (Transformer)',
        yTitle: 'heads',
      },
    ),
  );

  // Tables. The sections that come from one analysis are its module's `reproduce` section, in registry order.
  const rctx: ReportContext = { runs, overSeeds: (rs, ...a) => overSeeds(rs as RunTables[], ...a) };
  const sections: string[] = [];
  for (const a of REGISTRY) {
    const sec = a.reproduce;
    if (!sec) continue;
    const ts = sec.tables(rctx);
    if (!ts.length) continue;
    for (const t of ts) await tab(t.name, t.rows, t.cols);
    sections.push(
      `## ${sec.title}`,
      '',
      ...(sec.intro ? [sec.intro, ''] : []),
      ...ts.filter((t) => t.show !== false).map((t) => fs.readFileSync(path.join(tabDir, `${t.name}.md`), 'utf8')),
      ...(sec.notes?.(rctx) ?? []),
    );
  }
  const finals = [...new Set(runs.map((r) => r.label))].map((label) => {
    const g = finalGain(runs, label);
    return { setting: label, step: g?.step, gain: g?.mean, lo: g?.lo, hi: g?.hi, seeds: g?.n };
  });
  await tab('final-gain', finals, [
    ['setting', 'setting'],
    ['step', 'step'],
    ['gain', 'G (nats)'],
    ['lo', '95% CI low'],
    ['hi', '95% CI high'],
    ['seeds', 'seeds'],
  ]);

  const archRuns = runs.filter((r) => architectureLabels(runs).includes(r.label));
  await fig('gain-architectures', gainChart(archRuns, 'G by architecture and by ingredient of attention'));
  await tab('architectures', architectureRows(runs), [
    ['setting', 'setting'],
    ['step', 'step'],
    ['gain', 'G (nats)'],
    ['lo', '95% CI low'],
    ['hi', '95% CI high'],
    ['ci_over', 'CI over'],
    ['share', "share of the Transformer's G"],
    ['aggregate_heads', 'aggregate heads'],
    ['gather_heads', 'gather heads'],
    ['ablated', 'surprisal, aggregate heads zeroed'],
    ['control', 'control heads zeroed'],
    ['p', 'p (paired t)'],
  ]);

  // Emergence time against referential noise (the emergence group), when it ran.
  const emRows = emergenceRows(runs);
  const emergence: string[] = [];
  if (emRows.length) {
    const t = emergenceTable(emRows);
    await tab('emergence', t.rows, t.cols);
    await fig(
      'emergence-time',
      dotChart(
        emRows.map((r) => ({ setting: r.setting, arch: r.arch, step: r.step ?? r.lastStep, censored: r.censored })),
        {
          x: 'setting',
          y: 'step',
          color: 'arch',
          hollow: 'censored',
          title: `First checkpoint with G > ${EMERGENCE_THRESHOLD} nat (hollow: not within the run)`,
          yTitle: 'training step',
        },
      ),
    );
    emergence.push(
      '## When grounding emerges, against referential noise',
      '',
      `The step at which G (mean over nouns) first exceeds ${EMERGENCE_THRESHOLD} nat, per architecture, on the simple setting, on the simple setting with one noise knob of the realistic setting at its realistic value, and on the realistic setting (every knob; it also has more nouns, mentions and fillers); "> N": not within the run's N steps. The simple and realistic rows also count the main comparison's and the noise group's runs of those settings (the same preset, corpus and seeds: the same runs); over several seeds a cell gives the mean step and its range. Checkpoints are spaced as the preset's schedule, so a step is known to within one checkpoint interval. A result the paper does not have: reported, not judged.`,
      '',
      fs.readFileSync(path.join(tabDir, 'emergence.md'), 'utf8'),
    );
  }

  const gd = groundingDasSection(runs);
  if (gd) await tab('das-grounding', gd.rows, gd.cols);

  // Seed 002's open question, when the binding group ran (src/reproduce/binding.ts).
  const binding = await bindingReportSection(runs, tab, tabDir);

  const costs = runCosts(runs);
  await tab('runs', costs.rows, [
    ['run', 'run'],
    ['steps', 'steps'],
    ['train_min', 'training (min)'],
    ['eval_min', 'eval (min)'],
    ['analyze_min', 'analyses (min)'],
    ['cell_min', 'total (min)'],
    ['attempts', 'attempts'],
  ]);

  const claims = judgeClaims(runs);
  // The paper's main claims again on the realistic corpus (the noise group: the main comparison there).
  const onRealistic = runs.filter((r) => r.group === 'noise').map((r) => ({ ...r, label: r.arch, group: 'main' }));
  const realisticClaims = onRealistic.length ? judgeClaims(onRealistic).filter((c) => MAIN_CLAIMS.includes(c.id)) : [];
  const claimRows = (cs: Claim[]) => [
    '| claim (paper) | measured here | verdict | rule |',
    '|---|---|---|---|',
    ...cs.map((c) => `| ${c.paper} | ${c.measured.replace(/\|/g, '/')} | **${c.verdict}** | ${c.rule} |`),
  ];
  const lines = [
    `# groundlab reproduce --preset ${meta.preset}`,
    '',
    `Command: \`${meta.command}\`. Wall time of this invocation: ${(meta.wallSec / 60).toFixed(1)} min${costs.totalMin !== undefined ? `; the runs' own times (training and analyses, over every invocation and attempt; several run at once) add up to ${costs.totalMin.toFixed(1)} min (table at the end)` : ''}. Runs: ${runs.length} (${[...new Set(runs.map((r) => r.label))].join(', ')}).`,
    `Each verdict follows from the numbers by the rule in the last column; the paper's numbers are for 4-18-layer models trained on CHILDES for tens of thousands of steps, these for the \`${meta.preset}\` preset on the synthetic corpus (see README), so agreement is about direction and shape, not magnitude.`,
    '',
    ...claimRows(claims),
    '',
    ...(realisticClaims.length
      ? [
          '## The same claims on the realistic corpus',
          '',
          `The main comparison again on the \`realistic\` setting of the synthetic corpus (every referential-noise knob at a plausible rate; docs/data.md), the same seeds and rules (${new Set(onRealistic.map((r) => r.seed)).size} seeds).`,
          '',
          ...claimRows(realisticClaims),
          '',
        ]
      : []),
    ...sections,
    '## G at the end of training',
    '',
    fs.readFileSync(path.join(tabDir, 'final-gain.md'), 'utf8'),
    '## Architectures and the ingredients of attention',
    '',
    'Which ingredients grounding needs: the GRU and gated linear attention beside the main architectures; the Transformer with one ingredient removed in every layer (rotary or no positions; uniform, static or no token mixing; a linear similarity kernel; queries and keys from the input embeddings); and softmax attention kept in one layer only, with no token mixing in the others. One seed each: the interval is over nouns. Heads and the ablation test are at the last analysed checkpoint; models without a mixing matrix have no heads to count.',
    '',
    fs.readFileSync(path.join(tabDir, 'architectures.md'), 'utf8'),
    ...emergence,
    ...binding,
    ...(gd
      ? [
          '## Grounding: is the ENV referent held in a low-dimensional subspace? (DAS)',
          '',
          gd.intro,
          '',
          fs.readFileSync(path.join(tabDir, 'das-grounding.md'), 'utf8'),
        ]
      : []),
    '## Figures',
    '',
    ...figures.map((f) => `![${f}](figures/${f}.svg)`),
    '',
    '## Runs and what they cost',
    '',
    "Minutes of wall time per run, summed over attempts (a run interrupted and resumed counts every attempt); \"training\" is the longer of the training loop's own clock (from the run's last checkpoint, every session) and the sweep's train stage, so a run trained outside the sweep keeps its training time; the other stage columns are the sweep's (blank where a run was trained before stage times were recorded); \"total\" is the sweep cell's time, or training plus eval and analyses where that is more.",
    '',
    fs.readFileSync(path.join(tabDir, 'runs.md'), 'utf8'),
    ...archiveNote(out, runs),
  ];
  const archive = await writeArchive(out, runs);
  const report = path.join(out, 'REPORT.md');
  await atomicWrite(report, lines.join('\n'));
  return { figures, tables, report, claims, archive };
}

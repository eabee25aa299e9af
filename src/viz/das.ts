/**
 * The DAS timeline panel's producer (extension/src/das.ts renders it): interchange-intervention
 * accuracy (IIA) per program, variables, site and k over checkpoints, beside task accuracy, with
 * the baselines (identity rotation, random rotation, probe direction, full-vector swap) as
 * reference lines, from `analysis/das.arrow` (src/causal/run.ts writes one row per step, program,
 * variables, site, k and method with iia, task_accuracy, heldout_accuracy, pairs, ...).
 * The widget computes nothing: every number it shows is in the bundle.
 */
import { GroundlabError } from '../errors';
import type { AnalysisRun } from '../analysis/analyze';
import type { DasGroup, DasMethod, DasPayload, DasSeries } from '../../extension/src/contract.generated';
import { DAS_METHOD_COLORS } from '../../extension/src/palette';
import { bad, ensureSteps, esc, initialStepIn, num, payloadHead } from './bundle';
import type { MimeBundle } from './widgets';

export type { DasGroup, DasMethod, DasPayload, DasSeries };

export const DAS_MIME = 'application/vnd.groundlab.das+json';
const METHOD_SET: Record<DasMethod, true> = { das: true, boundless: true, identity: true, random: true, full: true, probe: true };
export const DAS_METHODS = Object.keys(METHOD_SET) as readonly DasMethod[];

export interface DasGroupData {
  program: string;
  variables: string;
  site: string;
  series: Array<{ k: number; method: DasMethod; iia: ArrayLike<number | null>; pairs?: ArrayLike<number | null> }>;
  taskAccuracy: ArrayLike<number | null>;
  heldoutAccuracy?: ArrayLike<number | null>;
}

export interface DasPanelData {
  title?: string;
  model?: string;
  link?: string;
  steps: number[];
  groups: DasGroupData[];
  initialStep?: number;
  /** The group (index) and k shown first (default: group 0, its smallest DAS k; null: every k). */
  initial?: { group?: number; k?: number | null };
}

function values(name: string, v: ArrayLike<number | null> | undefined, C: number): (number | null)[] {
  if (!v) return new Array(C).fill(null);
  if (v.length !== C) bad(`DAS panel: ${name} has ${v.length} values, steps has ${C}`);
  return Array.from(v, (x) => num(x));
}

/** The DAS panel's payload (the JSON under DAS_MIME). */
export function dasPanelPayload(d: DasPanelData): DasPayload {
  ensureSteps(d.steps, 'DAS panel');
  const C = d.steps.length;
  if (!Array.isArray(d.groups) || !d.groups.length) bad('DAS panel: no groups given', 'one group per program, variables and site');
  const seen = new Set<string>();
  const groups: DasGroup[] = d.groups.map((g, i) => {
    const name = `${g.program} ${g.variables} at ${g.site}`;
    if (seen.has(name)) bad(`DAS panel: groups[${i}] (${name}) is given twice`);
    seen.add(name);
    if (!g.series.length) bad(`DAS panel: groups[${i}] (${name}) has no series`);
    const sk = new Set<string>();
    const series = g.series.map((s, j) => {
      const where = `DAS panel: groups[${i}].series[${j}] (${s.method}, k ${s.k})`;
      if (!DAS_METHODS.includes(s.method)) bad(`${where}: unknown method`, `use one of ${DAS_METHODS.join(', ')}`);
      if (!Number.isInteger(s.k) || s.k < 1) bad(`${where}: k must be a positive integer`);
      if (sk.has(`${s.method}|${s.k}`)) bad(`${where}: given twice`);
      sk.add(`${s.method}|${s.k}`);
      const iia = values(`${name} ${s.method} k ${s.k} iia`, s.iia, C);
      for (const x of iia) if (x != null && (x < 0 || x > 1)) bad(`${where}: IIA ${x} is outside [0, 1]`);
      return { k: s.k, method: s.method, iia, ...(s.pairs ? { pairs: values(`${name} pairs`, s.pairs, C) } : {}) };
    });
    return {
      program: String(g.program),
      variables: String(g.variables),
      site: String(g.site),
      series,
      taskAccuracy: values(`${name} taskAccuracy`, g.taskAccuracy, C),
      heldoutAccuracy: values(`${name} heldoutAccuracy`, g.heldoutAccuracy, C),
    };
  });
  const gi = d.initial?.group ?? 0;
  if (!Number.isInteger(gi) || gi < 0 || gi >= groups.length)
    bad(`DAS panel: initial.group ${gi} is not a group index (0..${groups.length - 1})`);
  const dasK = groups[gi].series.filter((s) => s.method === 'das').map((s) => s.k);
  const k = d.initial?.k === undefined ? (dasK.length ? Math.min(...dasK) : null) : d.initial.k;
  if (k !== null && !groups[gi].series.some((s) => s.k === k && (s.method === 'das' || s.method === 'identity')))
    bad(`DAS panel: initial.k ${k} has no DAS series in group ${gi}`, `DAS k of that group: ${dasK.join(', ') || 'none'}`);
  const initialStep = initialStepIn(d.steps, d.initialStep, 'DAS panel');
  return {
    version: 1,
    ...payloadHead(d, 'Distributed alignment search over training'),
    steps: [...d.steps],
    groups,
    initialStep,
    initial: { group: gi, k },
  };
}

/** Line colours per method, the widget's (extension/src/palette.ts): DAS by k, the baselines grey / dashed. */
export const DAS_COLORS: Record<DasMethod, string> = DAS_METHOD_COLORS;

function dasSvg(p: DasPayload): string {
  const g = p.groups[p.initial.group];
  const pw = 300;
  const ph = 130;
  const W = 2 * (pw + 70) + 20;
  const H = 250;
  const s0 = p.steps[0];
  const s1 = p.steps[p.steps.length - 1];
  const X = (ox: number, s: number) => ox + (s1 === s0 ? pw / 2 : ((s - s0) / (s1 - s0)) * pw);
  const Y = (oy: number, v: number) => oy + ph - v * ph;
  const line = (ox: number, oy: number, ys: (number | null)[], color: string, dash: boolean) => {
    const pts = p.steps.map((s, i) => (ys[i] == null ? null : `${X(ox, s).toFixed(1)},${Y(oy, ys[i]!).toFixed(1)}`)).filter(Boolean);
    return `<polyline fill="none" stroke="${color}" stroke-width="1.5"${dash ? ' stroke-dasharray="4 3"' : ''} points="${pts.join(' ')}"/>`;
  };
  const out: string[] = [
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(p.title)}${p.model ? ' — ' + esc(p.model) : ''}</text>`,
    `<text x="10" y="34" font-size="11">${esc(g.program)}, ${esc(g.variables)} at ${esc(g.site)}; static image: install groundlab-widgets for the interactive panel</text>`,
  ];
  const panels: [string, (ox: number, oy: number) => string[]][] = [
    [
      'IIA (interchange-intervention accuracy)',
      (ox, oy) =>
        g.series
          .filter((s) =>
            p.initial.k == null
              ? s.method === 'das' || s.method === 'full'
              : s.k === p.initial.k || s.method === 'full' || s.method === 'probe' || s.method === 'boundless',
          )
          .map((s) => line(ox, oy, s.iia, DAS_COLORS[s.method], s.method !== 'das' && s.method !== 'boundless')),
    ],
    [
      'task accuracy (all counts; held out dashed)',
      (ox, oy) => [line(ox, oy, g.taskAccuracy, '#222', false), line(ox, oy, g.heldoutAccuracy, '#222', true)],
    ],
  ];
  panels.forEach(([title, draw], k) => {
    const ox = 50 + k * (pw + 70);
    const oy = 60;
    out.push(`<text x="${ox}" y="${oy - 8}" font-size="11">${esc(title)}</text>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    out.push(
      `<text x="${ox - 4}" y="${oy + 8}" font-size="9" text-anchor="end">1</text><text x="${ox - 4}" y="${oy + ph}" font-size="9" text-anchor="end">0</text>`,
    );
    out.push(
      `<text x="${ox}" y="${oy + ph + 12}" font-size="9">${s0}</text><text x="${ox + pw}" y="${oy + ph + 12}" font-size="9" text-anchor="end">step ${s1}</text>`,
    );
    out.push(...draw(ox, oy));
  });
  out.push(
    `<text x="50" y="${H - 24}" font-size="9">${DAS_METHODS.map((m) => `<tspan fill="${DAS_COLORS[m]}">${m}</tspan>`).join('  ')} (baselines dashed)</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${out.join('')}</svg>`;
}

function dasText(p: DasPayload): string {
  const last = p.steps.length - 1;
  const lines = [
    `${p.title}${p.model ? ` (${p.model})` : ''}: ${p.groups.length} groups, ${p.steps.length} checkpoints (steps ${p.steps[0]}..${p.steps[last]})`,
  ];
  for (const g of p.groups)
    lines.push(
      `${g.program} ${g.variables} at ${g.site}, step ${p.steps[last]}: task accuracy ${g.taskAccuracy[last] ?? 'n/a'}; IIA ` +
        g.series.map((s) => `${s.method} k${s.k} ${s.iia[last] ?? 'n/a'}`).join(', '),
    );
  return lines.join('\n');
}

/** The full MIME bundle of the DAS panel: JSON payload + static SVG + text. */
export function dasPanelBundle(d: DasPanelData): MimeBundle {
  const p = dasPanelPayload(d);
  return { [DAS_MIME]: p, 'image/svg+xml': dasSvg(p), 'text/plain': dasText(p) };
}

type Row = Record<string, unknown>;

/** DAS panel data of a run from its analysis/das table (`groundlab das RUN ...` or `dasRun` first). */
export async function dasPanelData(
  run: AnalysisRun,
  opts: { link?: string; program?: string; site?: string; initial?: DasPanelData['initial'] } = {},
): Promise<DasPanelData> {
  let rows = ((await run.readTable('analysis/das'))?.objects() ?? []) as Row[];
  if (!rows.length)
    throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no analysis/das table`, {
      hint: `run \`groundlab das ${run.dir} --program up-down --variable count --site ...\` first`,
      codeHint: "run `await dasRun(run, { program: 'up-down', site: ... })` first (src/causal/run.ts)",
    });
  if (opts.program) rows = rows.filter((r) => r.program === opts.program);
  if (opts.site) rows = rows.filter((r) => r.site === opts.site);
  if (!rows.length)
    throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no DAS rows for ${[opts.program, opts.site].filter(Boolean).join(' at ')}`);
  const steps = [...new Set(rows.map((r) => Number(r.step)))].sort((a, b) => a - b);
  const gkey = (r: Row) => `${r.program}|${r.variables}|${r.site}`;
  const groups: DasGroupData[] = [];
  for (const gk of [...new Set(rows.map(gkey))]) {
    const rs = rows.filter((r) => gkey(r) === gk);
    const at = (pred: (r: Row) => boolean, f: string) =>
      steps.map((s) => {
        const r = rs.find((x) => Number(x.step) === s && pred(x));
        return r && r[f] != null ? Number(r[f]) : null;
      });
    const skey = (r: Row) => `${r.method}|${Number(r.k)}`;
    const series = [...new Set(rs.map(skey))]
      .map((sk) => {
        const [method, k] = sk.split('|');
        const pick = (r: Row) => skey(r) === sk;
        return { k: Number(k), method: method as DasMethod, iia: at(pick, 'iia'), pairs: at(pick, 'pairs') };
      })
      .sort((a, b) => DAS_METHODS.indexOf(a.method) - DAS_METHODS.indexOf(b.method) || a.k - b.k);
    groups.push({
      program: String(rs[0].program),
      variables: String(rs[0].variables),
      site: String(rs[0].site),
      series,
      taskAccuracy: at(() => true, 'task_accuracy'),
      heldoutAccuracy: at(() => true, 'heldout_accuracy'),
    });
  }
  return {
    title: 'Distributed alignment search over training',
    model: run.dir,
    link: opts.link ?? run.dir,
    steps,
    groups,
    initial: opts.initial,
  };
}

/** The DAS panel of a run, ready for `display()`: `await display(await dasPanel(run))`. */
export async function dasPanel(run: AnalysisRun, opts: Parameters<typeof dasPanelData>[1] = {}): Promise<MimeBundle> {
  return dasPanelBundle(await dasPanelData(run, opts));
}

/**
 * Plain-text summaries of the analysis tables (what the CLI prints): G per checkpoint, head counts,
 * and the ablation table in the paper's format.
 */
import type { AnalysisRun } from './analyze';

type Row = Record<string, unknown>;

const fmt = (v: unknown, digits = 3): string => {
  if (typeof v === 'number') return Number.isNaN(v) ? '-' : Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : v.toFixed(digits);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return v == null ? '-' : String(v);
};

/** A fixed-width text table. */
export function textTable(rows: readonly Row[], columns: Array<[key: string, title: string]>): string {
  const cells = rows.map((r) => columns.map(([k]) => fmt(r[k])));
  const widths = columns.map(([, t], j) => Math.max(t.length, ...cells.map((c) => c[j].length)));
  const line = (xs: string[]) => xs.map((x, j) => x.padStart(widths[j])).join('  ');
  return [line(columns.map(([, t]) => t)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

async function rows(run: AnalysisRun, name: string, steps?: number[]): Promise<Row[]> {
  const t = await run.readTable(name);
  const all = t ? (t.objects() as Row[]) : [];
  return steps ? all.filter((r) => steps.includes(Number(r.step))) : all;
}

/** The summary the CLI prints after `analyze` / `eval`. */
export async function runReport(run: AnalysisRun, steps?: number[], what: 'all' | 'eval' = 'all'): Promise<string> {
  const out: string[] = [];
  const gain = await rows(run, 'analysis/gain_summary', steps);
  if (gain.length) {
    out.push('grounding information gain G (nats; mean over nouns, 95% CI over nouns)');
    out.push(textTable(gain, [['step', 'step'], ['gain', 'G'], ['ci_lo', 'CI low'], ['ci_hi', 'CI high'], ['match', 'match s'], ['mismatch', 'mismatch s'], ['nouns', 'nouns']]));
  }
  if (what === 'eval') return out.join('\n');
  const co = (await rows(run, 'analysis/cooccurrence', steps)).filter((r) => r.predictors === 'all' || r.predictors === 'log_cooc');
  if (co.length) {
    out.push('', 'co-occurrence control: R^2 of G against corpus statistics');
    out.push(textTable(co, [['step', 'step'], ['predictors', 'predictors'], ['r2', 'R^2'], ['adj_r2', 'adj. R^2'], ['n', 'nouns']]));
  }
  const hc = await rows(run, 'analysis/head_counts', steps);
  if (hc.length) {
    out.push('', 'heads (saliency share >= threshold)');
    out.push(textTable(hc, [['step', 'step'], ['aggregate_heads', 'aggregate'], ['aggregate_mean_layer', 'mean layer'], ['gather_heads', 'gather'], ['gather_mean_layer', 'mean layer'], ['total_heads', 'of heads']]));
  }
  const sal = (await rows(run, 'analysis/saliency', steps)).filter((r) => r.kind !== 'head');
  if (sal.length) {
    out.push('', 'saliency flow v<ENV> -> prediction position (share of the layer\'s saliency; models without a mixing matrix, e.g. LSTM, GRU: gradient x input share of the ENV position)');
    out.push(textTable(sal, [['step', 'step'], ['kind', 'kind'], ['layer', 'layer'], ['flow', 'share']]));
  }
  const lens = await rows(run, 'analysis/lens', steps);
  if (lens.length) {
    out.push('', 'lens: layer-wise surprisal of v<LAN> (layer 0 = embeddings)');
    out.push(textTable(lens, [['step', 'step'], ['lens', 'lens'], ['layer', 'layer'], ['match', 'match s'], ['mismatch', 'mismatch s'], ['gain', 'G']]));
  }
  const abl = await rows(run, 'analysis/ablation', steps);
  if (abl.length) {
    out.push('', 'ablation (surprisal of v<LAN> in match contexts; paired tests over contexts, heads zeroed vs control heads zeroed)');
    const tiny = (v: unknown) => (v === 0 ? '< 1e-300' : v);
    out.push(
      textTable(abl.map((r) => ({ ...r, p_t: tiny(r.p_t), p_wilcoxon: tiny(r.p_wilcoxon) })), [
        ['step', 'checkpoint'],
        ['kind', 'heads'],
        ['heads', 'count'],
        ['mean_layer', 'mean layer'],
        ['ablated', 'zeroed'],
        ['control', 'control zeroed'],
        ['intact', 'intact'],
        ['p_t', 'p (t)'],
        ['p_wilcoxon', 'p (Wilcoxon)'],
        ['cohen_dz', 'd_z'],
      ]),
    );
  }
  const tm = (await rows(run, 'analysis/templates')).filter((r) => r.flagged);
  if (tm.length) out.push('', ...tm.map((r) => `warning: evaluation frame ${r.frame} ${r.reason}`));
  return out.join('\n');
}

/**
 * Plain-text summaries of the analysis tables (what the CLI prints): G per checkpoint, head counts,
 * and the ablation table in the paper's format.
 */
import type { AnalysisRun } from './analyze';
import { REGISTRY } from './analyses';

type Row = Record<string, unknown>;

export { textTable, fmt } from './table';

async function rows(run: AnalysisRun, name: string, steps?: number[]): Promise<Row[]> {
  const t = await run.readTable(name);
  const all = t ? (t.objects() as Row[]) : [];
  return steps ? all.filter((r) => steps.includes(Number(r.step))) : all;
}

/**
 * The summary the CLI prints after `analyze` / `eval`: each analysis's own section (its module's
 * `report`, in registry order; `eval`: G only), then the evaluation frames the template check flagged.
 */
export async function runReport(run: AnalysisRun, steps?: number[], what: 'all' | 'eval' = 'all'): Promise<string> {
  const out: string[] = [];
  const read = (name: string) => rows(run, name, steps);
  for (const a of REGISTRY) {
    if (!a.report || (what === 'eval' && a.name !== 'gain')) continue;
    const lines = await a.report(read);
    if (lines.length) out.push(...(out.length ? [''] : []), ...lines);
  }
  if (what === 'eval') return out.join('\n');
  const tm = (await rows(run, 'analysis/templates')).filter((r) => r.flagged);
  if (tm.length) out.push('', ...tm.map((r) => `warning: evaluation frame ${r.frame} ${r.reason}`));
  return out.join('\n');
}

/**
 * The probe sweep's figure: a layers x checkpoints heat map as a vega-lite v5 spec (data inline),
 * and a plain-text grid of the same numbers for terminals and reports.
 */
import type { ColumnTable } from 'arquero';
import { heatmap } from '../viz/figures';

export type ProbeMetric = 'accuracy' | 'selectivity' | 'control_accuracy' | 'train_accuracy';

export interface ProbeHeatmapOptions {
  metric: ProbeMetric;
  title?: string;
}

interface Cell {
  step: number;
  layer: number;
  hook: string;
  value: number;
  chance: number;
}

function cells(table: ColumnTable, metric: ProbeMetric): Cell[] {
  return (table.objects() as Array<Record<string, unknown>>).map((r) => ({
    step: Number(r.step),
    layer: Number(r.layer),
    hook: String(r.hook),
    value: Number(r[metric]),
    chance: Number(r.chance_majority),
  }));
}

/**
 * A vega-lite heat map (src/viz/figures.ts `heatmap`): x = checkpoint step, y = layer (last on
 * top), colour = the metric on a fixed scale ([0, 1]; [-1, 1] for selectivity) so that figures of
 * different runs compare.
 */
export function probeHeatmapSpec(table: ColumnTable, opts: Partial<ProbeHeatmapOptions> = {}): Record<string, unknown> {
  const metric = opts.metric ?? 'accuracy';
  const task = table.numRows() ? String(table.get('task', 0)) : '';
  const rows = cells(table, metric).map((c) => ({
    step: c.step,
    layer: c.layer,
    hook: c.hook,
    [metric]: Number.isFinite(c.value) ? c.value : null,
    chance: c.chance,
  }));
  const signed = metric === 'selectivity';
  const spec = heatmap(rows, {
    x: 'step',
    y: 'layer',
    value: metric,
    title: opts.title ?? `Probe ${metric.replace('_', ' ')}${task ? `: ${task}` : ''} (layers x checkpoints)`,
    xTitle: 'checkpoint (step)',
    yTitle: 'layer',
    valueTitle: metric.replace('_', ' '),
    diverging: signed,
  }) as { encoding: Record<string, unknown> & { y: Record<string, unknown>; color: Record<string, unknown> } };
  spec.encoding.y.sort = 'descending';
  spec.encoding.color.scale = signed ? { scheme: 'redblue', domain: [-1, 1], reverse: true } : { scheme: 'viridis', domain: [0, 1] };
  spec.encoding.tooltip = [
    { field: 'step' },
    { field: 'hook' },
    { field: metric, format: '.3f' },
    { field: 'chance', title: 'chance (majority)', format: '.3f' },
  ];
  return spec;
}

/** A text grid: one line per layer (last first), one column per checkpoint, values as percentages. */
export function probeGrid(table: ColumnTable, metric: ProbeMetric = 'accuracy'): string {
  const cs = cells(table, metric);
  const steps = [...new Set(cs.map((c) => c.step))].sort((a, b) => a - b);
  const layers = [...new Set(cs.map((c) => c.layer))].sort((a, b) => b - a);
  const get = (l: number, s: number) => cs.find((c) => c.layer === l && c.step === s);
  const w = Math.max(6, ...steps.map((s) => String(s).length + 1));
  const head = 'layer'.padEnd(7) + steps.map((s) => String(s).padStart(w)).join('');
  const lines = layers.map(
    (l) =>
      String(l).padEnd(7) +
      steps
        .map((s) => {
          const c = get(l, s);
          return (c && Number.isFinite(c.value) ? (100 * c.value).toFixed(1) : '-').padStart(w);
        })
        .join(''),
  );
  return [`${metric} (%) by layer (rows) and checkpoint step (columns)`, head, ...lines].join('\n');
}

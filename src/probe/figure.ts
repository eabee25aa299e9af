/**
 * The probe sweep's figure: a layers x checkpoints heat map as a vega-lite v5 spec (data inline),
 * and a plain-text grid of the same numbers for terminals and reports.
 */
import type { ColumnTable } from 'arquero';

export type ProbeMetric = 'accuracy' | 'selectivity' | 'control_accuracy' | 'train_accuracy';

export interface HeatmapOptions {
  metric: ProbeMetric;
  title?: string;
  /** Cell labels with the value (default true). */
  labels?: boolean;
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

/** A vega-lite heat map: x = checkpoint step, y = layer (last on top), colour = the metric. */
export function probeHeatmapSpec(table: ColumnTable, opts: Partial<HeatmapOptions> = {}): Record<string, unknown> {
  const metric = opts.metric ?? 'accuracy';
  const values = cells(table, metric).map((c) => ({ ...c, value: Number.isFinite(c.value) ? c.value : null }));
  const task = table.numRows() ? String(table.get('task', 0)) : '';
  const color = {
    field: 'value',
    type: 'quantitative',
    title: metric.replace('_', ' '),
    scale: metric === 'selectivity' ? { domain: [-1, 1], scheme: 'redblue', reverse: true } : { domain: [0, 1], scheme: 'viridis' },
  };
  const rect = {
    mark: { type: 'rect' },
    encoding: {
      color,
      tooltip: [
        { field: 'step', type: 'ordinal', title: 'checkpoint' },
        { field: 'hook', type: 'nominal' },
        { field: 'value', type: 'quantitative', format: '.3f', title: metric },
        { field: 'chance', type: 'quantitative', format: '.3f', title: 'chance (majority)' },
      ],
    },
  };
  const text = {
    mark: { type: 'text', fontSize: 9 },
    encoding: {
      text: { field: 'value', type: 'quantitative', format: '.2f' },
      color: { condition: { test: metric === 'selectivity' ? 'abs(datum.value) > 0.5' : 'datum.value > 0.6', value: 'black' }, value: 'white' },
    },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: opts.title ?? `Probe ${metric.replace('_', ' ')}${task ? `: ${task}` : ''} (layers x checkpoints)`,
    data: { values },
    encoding: {
      x: { field: 'step', type: 'ordinal', title: 'checkpoint (step)' },
      y: { field: 'layer', type: 'ordinal', title: 'layer', sort: 'descending' },
    },
    layer: opts.labels === false ? [rect] : [rect, text],
    config: { view: { strokeWidth: 0 }, axis: { labelFontSize: 10 } },
  };
}

/** A text grid: one line per layer (last first), one column per checkpoint, values as percentages. */
export function probeGrid(table: ColumnTable, metric: ProbeMetric = 'accuracy'): string {
  const cs = cells(table, metric);
  const steps = [...new Set(cs.map((c) => c.step))].sort((a, b) => a - b);
  const layers = [...new Set(cs.map((c) => c.layer))].sort((a, b) => b - a);
  const get = (l: number, s: number) => cs.find((c) => c.layer === l && c.step === s);
  const w = Math.max(6, ...steps.map((s) => String(s).length + 1));
  const head = 'layer'.padEnd(7) + steps.map((s) => String(s).padStart(w)).join('');
  const lines = layers.map((l) => String(l).padEnd(7) + steps.map((s) => {
    const c = get(l, s);
    return (c && Number.isFinite(c.value) ? (100 * c.value).toFixed(1) : '-').padStart(w);
  }).join(''));
  return [`${metric} (%) by layer (rows) and checkpoint step (columns)`, head, ...lines].join('\n');
}

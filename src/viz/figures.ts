/**
 * Reusable Vega-Lite figure builders (plain spec objects): show them in a notebook with
 * `display(spec)`, or render them headless with `renderVegaLite(spec)` (CLI, `reproduce`).
 * Data is given as rows (objects) or an arquero table.
 */
import { GroundlabError } from '../errors';

export type FigureRow = Record<string, unknown>;
/** Rows, or anything with `objects()` (an arquero table). */
export type FigureData = FigureRow[] | { objects(): object[] };

export const VEGALITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

function rowsOf(data: FigureData): FigureRow[] {
  return (Array.isArray(data) ? data : data.objects()) as FigureRow[];
}

function need(rows: FigureRow[], fields: (string | undefined)[], what: string): void {
  if (rows.length === 0) return;
  const have = new Set(Object.keys(rows[0]));
  for (const f of fields) {
    if (f !== undefined && !have.has(f))
      throw new GroundlabError('BAD_ARGUMENT', `${what}: the data has no column "${f}"`, { hint: `columns are: ${[...have].join(', ')}` });
  }
}

export interface LineChartOptions {
  /** x field (e.g. "step"). */
  x: string;
  /** y field (e.g. "G" or "surprisal"). */
  y: string;
  /** One line per value of this field (e.g. "condition": match / mismatch). */
  color?: string;
  /** Lower and upper bound fields of a band around each line (e.g. a 95% CI). */
  lo?: string;
  hi?: string;
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Log-scaled x axis (steps over orders of magnitude). */
  logX?: boolean;
  /** A horizontal rule at this y (e.g. 0). */
  rule?: number;
  width?: number;
  height?: number;
}

/** Lines over checkpoints with optional confidence bands and a reference rule. */
export function lineChart(data: FigureData, o: LineChartOptions): Record<string, unknown> {
  const rows = rowsOf(data);
  need(rows, [o.x, o.y, o.color, o.lo, o.hi], 'lineChart');
  if ((o.lo === undefined) !== (o.hi === undefined))
    throw new GroundlabError('BAD_ARGUMENT', 'lineChart: give both lo and hi for a band, or neither');
  const x = { field: o.x, type: 'quantitative', title: o.xTitle ?? o.x, ...(o.logX ? { scale: { type: 'log' } } : {}) };
  const color = o.color ? { color: { field: o.color, type: 'nominal', title: o.color } } : {};
  const layers: Record<string, unknown>[] = [];
  if (o.lo !== undefined && o.hi !== undefined) {
    layers.push({
      mark: { type: 'area', opacity: 0.2 },
      encoding: { x, y: { field: o.lo, type: 'quantitative', title: o.yTitle ?? o.y }, y2: { field: o.hi }, ...color },
    });
  }
  layers.push({
    mark: { type: 'line', point: rows.length <= 60 },
    encoding: {
      x,
      y: { field: o.y, type: 'quantitative', title: o.yTitle ?? o.y },
      ...color,
      tooltip: [o.x, o.y, ...(o.color ? [o.color] : []), ...(o.lo ? [o.lo, o.hi!] : [])].map((f) => ({ field: f })),
    },
  });
  if (o.rule !== undefined)
    layers.push({
      data: { values: [{ rule: o.rule }] },
      mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
      encoding: { y: { field: 'rule', type: 'quantitative' } },
    });
  return {
    $schema: VEGALITE_SCHEMA,
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 360,
    height: o.height ?? 220,
    data: { values: rows },
    layer: layers,
  };
}

export interface HeatmapOptions {
  /** x field (e.g. "step"): ordinal columns. */
  x: string;
  /** y field (e.g. "layer" or "head"). */
  y: string;
  /** Value field (e.g. "saliency"). */
  value: string;
  title?: string;
  xTitle?: string;
  yTitle?: string;
  valueTitle?: string;
  /** Vega color scheme (default "viridis"); a diverging one such as "redblue" for signed values. */
  scheme?: string;
  /** Symmetric color domain around 0 (signed values). */
  diverging?: boolean;
  width?: number;
  height?: number;
}

/** A heat map, e.g. layers (or heads) x checkpoints. */
export function heatmap(data: FigureData, o: HeatmapOptions): Record<string, unknown> {
  const rows = rowsOf(data);
  need(rows, [o.x, o.y, o.value], 'heatmap');
  let scale: Record<string, unknown> = { scheme: o.scheme ?? (o.diverging ? 'redblue' : 'viridis') };
  if (o.diverging) {
    const m = Math.max(1e-12, ...rows.map((r) => Math.abs(Number(r[o.value])) || 0));
    scale = { ...scale, domain: [-m, m], reverse: (o.scheme ?? 'redblue') === 'redblue' };
  }
  return {
    $schema: VEGALITE_SCHEMA,
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 360,
    height: o.height ?? 200,
    data: { values: rows },
    mark: 'rect',
    encoding: {
      x: { field: o.x, type: 'ordinal', title: o.xTitle ?? o.x, sort: 'ascending' },
      y: { field: o.y, type: 'ordinal', title: o.yTitle ?? o.y, sort: 'ascending' },
      color: { field: o.value, type: 'quantitative', title: o.valueTitle ?? o.value, scale },
      tooltip: [{ field: o.x }, { field: o.y }, { field: o.value, format: '.4g' }],
    },
  };
}

export interface DotChartOptions {
  /** Category field on the x axis (shown in the order the rows first give its values). */
  x: string;
  /** Value field (y). */
  y: string;
  /** One colour per value of this field. */
  color?: string;
  /** A boolean field: true draws the dot hollow (e.g. a censored value: "not within the run"). */
  hollow?: string;
  title?: string;
  xTitle?: string;
  yTitle?: string;
  width?: number;
  height?: number;
}

/** Dots per category, side by side per colour (e.g. the step at which G first exceeds 1 nat, per setting and architecture). */
export function dotChart(data: FigureData, o: DotChartOptions): Record<string, unknown> {
  const rows = rowsOf(data);
  need(rows, [o.x, o.y, o.color, o.hollow], 'dotChart');
  const order = [...new Set(rows.map((r) => String(r[o.x])))];
  return {
    $schema: VEGALITE_SCHEMA,
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 420,
    height: o.height ?? 220,
    data: { values: rows },
    mark: { type: 'point', size: 70, strokeWidth: 2, filled: true },
    encoding: {
      x: { field: o.x, type: 'nominal', title: o.xTitle ?? o.x, sort: order, axis: { labelAngle: -35, labelLimit: 320 } },
      ...(o.color ? { xOffset: { field: o.color }, color: { field: o.color, type: 'nominal', title: o.color } } : {}),
      y: { field: o.y, type: 'quantitative', title: o.yTitle ?? o.y },
      // A filled point has no outline of its own: the stroke (same colours) is what shows a hollow one.
      ...(o.hollow
        ? {
            fillOpacity: { condition: { test: `datum['${o.hollow}']`, value: 0 }, value: 1 },
            stroke: o.color ? { field: o.color, type: 'nominal', legend: null } : { value: '#4c78a8' },
          }
        : {}),
      tooltip: [o.x, o.y, ...(o.color ? [o.color] : []), ...(o.hollow ? [o.hollow] : [])].map((f) => ({ field: f })),
    },
  };
}

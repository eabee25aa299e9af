/**
 * MIME bundles for values shown in a notebook: what `display(x)` sends and what a cell's last
 * expression shows.
 *  - Vega-Lite specs: `application/vnd.vegalite.v5+json` (JupyterLab renders it natively) plus an
 *    SVG and a PNG rendered in Node (src/viz/render.ts) for frontends without a Vega renderer,
 *    nbconvert and GitHub.
 *  - arquero tables: `text/html` (first rows) + `text/plain`.
 *  - objects with `toMimeBundle()`: that bundle as given (a `text/plain` is added if missing).
 *  - plain bundles `{ 'mime/type': data, ... }` (e.g. src/viz/widgets.ts `inspectorBundle`): as given.
 *  - anything else: `text/plain` (util.inspect).
 */
import { inspect } from 'node:util';
import type { NotebookBundle } from './bridge';

/** Values marked with this symbol are not shown as a cell's result (e.g. display handles). */
export const SILENT = Symbol.for('groundlab.silent');

/** True for values a cell's last expression should not show. */
export function isSilent(x: unknown): boolean {
  return !!x && typeof x === 'object' && (x as Record<symbol, unknown>)[SILENT] === true;
}

export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** A Vega-Lite spec: a `$schema` naming vega-lite, or a top-level mark/layer/concat/facet/repeat view. */
export function isVegaLiteSpec(x: unknown): x is Record<string, unknown> {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  const o = x as Record<string, unknown>;
  if (typeof o.$schema === 'string') return /vega-lite/.test(o.$schema);
  const view = 'mark' in o || 'layer' in o || 'hconcat' in o || 'vconcat' in o || 'concat' in o || 'facet' in o || 'repeat' in o;
  return view && ('data' in o || 'datasets' in o);
}

/** A Plotly figure `{ data: [...traces], layout? }` marked as such. */
export function isPlotlyFigure(x: unknown): boolean {
  if (!x || typeof x !== 'object') return false;
  const o = x as Record<string, unknown>;
  return (
    Array.isArray(o.data) &&
    o.data.every((t) => t && typeof t === 'object' && 'type' in (t as object)) &&
    (o.layout === undefined || typeof o.layout === 'object')
  );
}

/** The arquero ColumnTable surface we use (duck-typed so any arquero version works). */
export interface TableLike {
  numRows(): number;
  numCols(): number;
  columnNames(): string[];
  objects(opts?: { limit?: number }): object[];
}

export function isTable(x: unknown): x is TableLike {
  if (!x || typeof x !== 'object') return false;
  const o = x as Record<string, unknown>;
  return typeof o.numRows === 'function' && typeof o.columnNames === 'function' && typeof o.objects === 'function';
}

function isMimeKey(k: string): boolean {
  return /^[a-z]+\/[\w.+-]+$/i.test(k);
}

/** An object whose keys are all MIME types (at least one). */
export function isPlainBundle(x: unknown): x is Record<string, unknown> {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  const keys = Object.keys(x);
  return keys.length > 0 && keys.every(isMimeKey);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Plain-text rendering of a table: aligned columns, the first `limit` rows. */
export function tableText(t: TableLike, limit = 20): string {
  const cols = t.columnNames();
  const rows = (t.objects({ limit }) as Record<string, unknown>[]).map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, j) => Math.min(40, Math.max(c.length, ...rows.map((r) => r[j].length))));
  const fmt = (r: string[]) => r.map((s, j) => (s.length > width[j] ? s.slice(0, width[j] - 1) + '…' : s.padStart(width[j]))).join('  ');
  const lines = [fmt(cols), ...rows.map(fmt)];
  const n = t.numRows();
  lines.push(
    `[${n} row${n === 1 ? '' : 's'} x ${cols.length} column${cols.length === 1 ? '' : 's'}${n > limit ? `, first ${limit} shown` : ''}]`,
  );
  return lines.join('\n');
}

/**
 * HTML rendering of a table: the first `limit` rows, numbers right-aligned. Column names and values
 * are escaped (arquero's own `toHTML` puts column names into the header raw, so it is not used).
 */
export function tableHtml(t: TableLike, limit = 20): string {
  const n = t.numRows();
  const cols = t.columnNames();
  const note = `<p style="font-size: 0.85em; opacity: 0.7">${n} row${n === 1 ? '' : 's'} x ${cols.length} columns${n > limit ? `, first ${limit} shown` : ''}</p>`;
  const rows = t.objects({ limit }) as Record<string, unknown>[];
  const align = cols.map((c) =>
    rows.length > 0 && rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number') ? 'right' : 'left',
  );
  const head = `<thead><tr>${cols.map((c, j) => `<th style="text-align: ${align[j]}">${escapeHtml(c)}</th>`).join('')}</tr></thead>`;
  const body = rows
    .map((r) => `<tr>${cols.map((c, j) => `<td style="text-align: ${align[j]}">${escapeHtml(cell(r[c]))}</td>`).join('')}</tr>`)
    .join('');
  return `<table>${head}<tbody>${body}</tbody></table>${note}`;
}

function specTitle(spec: Record<string, unknown>): string {
  const t = spec.title;
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { text?: unknown }).text === 'string') return (t as { text: string }).text;
  return spec.description && typeof spec.description === 'string' ? spec.description : 'untitled';
}

export interface BundleOptions {
  /** Rows shown for tables (default 20). */
  limit?: number;
}

/**
 * The bundle for a value, without images for Vega-Lite specs (synchronous; `display()` adds them).
 */
export function mimeBundleOf(x: unknown, opts: BundleOptions = {}): NotebookBundle {
  const limit = opts.limit ?? 20;
  if (x && typeof x === 'object' && typeof (x as { toMimeBundle?: unknown }).toMimeBundle === 'function') {
    const b = (x as { toMimeBundle(): unknown }).toMimeBundle();
    const data =
      b && typeof b === 'object' && 'data' in (b as object) && isPlainBundle((b as NotebookBundle).data)
        ? (b as NotebookBundle)
        : { data: b as Record<string, unknown> };
    if (!('text/plain' in data.data)) data.data = { ...data.data, 'text/plain': inspect(x, { depth: 1 }) };
    return { data: data.data, metadata: data.metadata ?? {} };
  }
  if (isTable(x)) return { data: { 'text/html': tableHtml(x, limit), 'text/plain': tableText(x, limit) }, metadata: {} };
  if (isVegaLiteSpec(x)) return { data: { [VEGALITE_MIME]: x, 'text/plain': `<Vega-Lite figure: ${specTitle(x)}>` }, metadata: {} };
  if (isPlainBundle(x)) {
    const data = { ...x };
    if (!('text/plain' in data)) data['text/plain'] = `<${Object.keys(x)[0]}>`;
    return { data, metadata: {} };
  }
  if (isPlotlyFigure(x)) return { data: { [PLOTLY_MIME]: x, 'text/plain': '<Plotly figure>' }, metadata: {} };
  return { data: { 'text/plain': typeof x === 'string' ? x : inspect(x, { depth: 3 }) }, metadata: {} };
}

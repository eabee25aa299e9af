/**
 * plotly figures where they beat Vega-Lite: interactive heat maps (zoom, pan, hover on 16,000
 * cells without a mark per cell) and rotatable 3-D views of a probe's class subspace. A figure is a
 * plain `{ data, layout }` object shown under plotly's standard MIME type
 * (`application/vnd.plotly.v1+json`, rendered in JupyterLab by the `jupyterlab-plotly` extension
 * that PyPI `plotly` ships). plotly cannot draw headless in Node (its heat maps need a real canvas),
 * so each figure also carries the same data as a Vega-Lite spec (`figureFallback`): `display()`
 * renders that to the SVG fallback that saved notebooks, nbviewer and GitHub show (and a PNG on
 * request), and `plotlyBundle()` does the same for callers without the kernel.
 */
import { scheme as vegaScheme } from 'vega';
import { GroundlabError } from '../errors';
import { PLOTLY_MIME } from '../notebook/mime';
import { renderVegaLite } from './render';
import { heatmap } from './figures';
import type { HeadMap, InspectorData, MapKey, MimeBundle } from './widgets';

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

const FALLBACK = Symbol.for('groundlab.figureFallback');

/** The Vega-Lite spec drawing the same data as a plotly figure (undefined for other values). */
export function figureFallback(x: unknown): Record<string, unknown> | undefined {
  return x && typeof x === 'object' ? ((x as Record<symbol, unknown>)[FALLBACK] as Record<string, unknown> | undefined) : undefined;
}

function withFallback<T extends PlotlyFigure>(fig: T, spec: Record<string, unknown>): T {
  // not enumerable: JSON.stringify(fig) and the MIME payload stay plain plotly
  Object.defineProperty(fig, FALLBACK, { value: spec, enumerable: false });
  return fig;
}

function bad(message: string, hint?: string): never {
  throw new GroundlabError('BAD_ARGUMENT', message, { hint });
}

function finiteOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** plotly layout parts that follow the notebook's theme where plotly lets them: transparent backgrounds. */
const TRANSPARENT = { paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: 'rgba(0,0,0,0)' };

export interface PlotlyHeatmapOptions {
  /** Column labels (e.g. key tokens); default 0..cols-1. Duplicates are fine (axes are positional). */
  x?: string[];
  /** Row labels (e.g. query tokens); default 0..rows-1. */
  y?: string[];
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Name of the values in the hover text and the colour bar (e.g. "attention"). */
  zTitle?: string;
  /** Colour range (default: the data's range); give the same to several figures to compare them. */
  zmin?: number;
  zmax?: number;
  /** Colour scheme (default "Viridis"): the Vega scheme of that name, given to plotly as explicit stops, so the figure and its fallback agree. */
  colorscale?: 'Viridis' | 'Blues' | 'Oranges' | 'Greys';
  width?: number;
  height?: number;
}

/**
 * An interactive heat map: rows top to bottom (row 0 on top, like a matrix), columns left to right.
 * `z[r][c]` is the value of row r, column c; null or NaN cells are left empty.
 */
export function plotlyHeatmap(z: ArrayLike<number | null>[], o: PlotlyHeatmapOptions = {}): PlotlyFigure {
  const rows = z.length;
  if (!Array.isArray(z) || rows === 0) bad('plotlyHeatmap: z must be a non-empty array of rows');
  const cols = z[0].length;
  const vals: (number | null)[][] = z.map((row, r) => {
    if (row.length !== cols) bad(`plotlyHeatmap: row ${r} has ${row.length} values, row 0 has ${cols}`, 'give a rectangular array');
    return Array.from(row, finiteOrNull);
  });
  const xl = o.x ?? Array.from({ length: cols }, (_, i) => String(i));
  const yl = o.y ?? Array.from({ length: rows }, (_, i) => String(i));
  if (xl.length !== cols) bad(`plotlyHeatmap: ${xl.length} x labels for ${cols} columns`);
  if (yl.length !== rows) bad(`plotlyHeatmap: ${yl.length} y labels for ${rows} rows`);
  const flat = vals.flat().filter((v): v is number => v != null);
  const zmin = o.zmin ?? (flat.length ? Math.min(...flat) : 0);
  const zmax = o.zmax ?? (flat.length ? Math.max(...flat) : 1);
  if (!(zmax >= zmin)) bad(`plotlyHeatmap: zmin ${zmin} is above zmax ${zmax}`);
  const zName = o.zTitle ?? 'value';
  const colorscale = o.colorscale ?? 'Viridis';
  // the same colours as the fallback (and the inspector): the Vega scheme sampled into plotly stops
  const interp = vegaScheme(colorscale.toLowerCase()) as (t: number) => string;
  const stops = Array.from({ length: 11 }, (_, i) => [i / 10, interp(i / 10)]);
  const idx = (n: number) => Array.from({ length: n }, (_, i) => i);
  // positional axes with tick labels: repeated tokens ("the", "the") keep their own columns
  const text = vals.map((row, r) => row.map((_, c) => `${yl[r]} (${r}) <- ${xl[c]} (${c})`));
  const tickStep = (n: number) => Math.max(1, Math.ceil(n / 64));
  const ticks = (labels: string[]) => {
    const step = tickStep(labels.length);
    const at = idx(labels.length).filter((i) => i % step === 0);
    return { tickmode: 'array', tickvals: at, ticktext: at.map((i) => labels[i]) };
  };
  const width = o.width ?? Math.max(320, Math.min(900, 140 + cols * 14));
  const height = o.height ?? Math.max(300, Math.min(900, 120 + rows * 14));
  const fig: PlotlyFigure = {
    data: [
      {
        type: 'heatmap',
        z: vals,
        x: idx(cols),
        y: idx(rows),
        text,
        hovertemplate: `%{text}<br>${zName}: %{z:.4g}<extra></extra>`,
        colorscale: stops,
        zmin,
        zmax,
        colorbar: { title: { text: zName } },
        hoverongaps: false,
      },
    ],
    layout: {
      ...TRANSPARENT,
      title: o.title ? { text: o.title } : undefined,
      width,
      height,
      xaxis: { title: { text: o.xTitle ?? '' }, ...ticks(xl), tickangle: -90, constrain: 'domain' },
      yaxis: { title: { text: o.yTitle ?? '' }, ...ticks(yl), autorange: 'reversed', scaleanchor: rows === cols ? 'x' : undefined },
      margin: { t: o.title ? 50 : 20, l: 110, r: 20, b: 110 },
    },
  };
  const cells: Record<string, unknown>[] = [];
  vals.forEach((row, r) => row.forEach((v, c) => cells.push({ r, c, v, label: text[r][c] })));
  // the fallback: the project's Vega-Lite heat map of the same cells, with the labels and range above
  const cell = Math.max(3, Math.min(14, Math.floor(600 / Math.max(rows, cols))));
  const spec = heatmap(cells, {
    x: 'c',
    y: 'r',
    value: 'v',
    title: o.title,
    xTitle: o.xTitle ?? '',
    yTitle: o.yTitle ?? '',
    valueTitle: zName,
    scheme: colorscale.toLowerCase(),
    width: cols * cell,
    height: rows * cell,
  }) as { encoding: Record<string, Record<string, unknown>> };
  const axis = (labels: string[]) => ({ labelExpr: `${JSON.stringify(labels)}[datum.value]`, labelOverlap: true, labelFontSize: 9 });
  spec.encoding.x.axis = { ...axis(xl), labelAngle: -90 };
  spec.encoding.y.axis = axis(yl);
  spec.encoding.color.scale = { scheme: colorscale.toLowerCase(), domain: [zmin, zmax] };
  (spec.encoding as Record<string, unknown>).tooltip = [
    { field: 'label', title: 'cell' },
    { field: 'v', title: zName, format: '.4g' },
  ];
  return withFallback(fig, spec as Record<string, unknown>);
}

/**
 * One head's token x token map from inspector data (the input of `inspectorBundle`) as an
 * interactive heat map, tokens on both axes (rows = query positions, columns = key positions).
 * Softmax attention uses the colour range [0, 1] (probabilities, comparable across heads); maps
 * with values outside it (SSD or GLA mixing weights) their own; pass `zmin`/`zmax` to compare
 * saliency maps on one range.
 */
export function mapHeatmap(data: InspectorData, key: MapKey, o: Pick<PlotlyHeatmapOptions, 'zmin' | 'zmax' | 'title'> = {}): PlotlyFigure {
  const m = data.maps.find(
    (x) =>
      x.step === key.step &&
      x.example === key.example &&
      x.variant === key.variant &&
      x.kind === key.kind &&
      x.layer === key.layer &&
      x.head === key.head,
  );
  const name = `${key.kind} map of L${key.layer} H${key.head} at step ${key.step}, example ${key.example} (${key.variant})`;
  if (!m) {
    const have = [...new Set(data.maps.filter((x) => x.kind === key.kind).map((x) => `L${x.layer}H${x.head}@${x.step}`))].slice(0, 12);
    bad(
      `mapHeatmap: the data has no ${name}`,
      have.length ? `maps of that kind: ${have.join(', ')}` : `the data carries no ${key.kind} maps`,
    );
  }
  const ex = data.examples.find((e) => e.id === key.example)!;
  const v = key.variant === 'match' ? ex.match : ex.mismatch!;
  const n = v.tokens.length;
  const z: (number | null)[][] = mapRows(m, n);
  // a causal map (all zero above the diagonal) leaves those cells empty, as the inspector does
  if (z.every((r, q) => r.every((x, k) => k <= q || x === 0))) z.forEach((r, q) => r.fill(null, q + 1));
  const attention = key.kind === 'attention';
  // softmax attention on [0, 1]; other mixing weights (SSD, GLA) and saliency on their own range
  const within01 = z.every((r) => r.every((x) => x == null || (x >= 0 && x <= 1)));
  return plotlyHeatmap(z, {
    x: v.tokens,
    y: v.tokens,
    title: o.title ?? name,
    xTitle: 'key token (attended to)',
    yTitle: 'query token',
    zTitle: attention ? 'attention' : data.mapUnits?.saliency ? 'saliency share' : 'saliency',
    colorscale: attention ? 'Blues' : 'Oranges',
    zmin: o.zmin ?? (within01 ? 0 : undefined),
    zmax: o.zmax ?? (attention && within01 ? 1 : undefined),
  });
}

/**
 * One head's attention and saliency maps side by side with linked axes: zooming or panning one
 * zooms the other, and the hovered row and column are marked across both (spike lines), so where
 * the head looks and where the gradient flows can be read cell by cell.
 */
export function mapPairHeatmap(data: InspectorData, key: Omit<MapKey, 'kind'>, o: { title?: string } = {}): PlotlyFigure {
  const att = mapHeatmap(data, { ...key, kind: 'attention' });
  const sal = mapHeatmap(data, { ...key, kind: 'saliency' });
  const [ta, ts] = [att.data[0], sal.data[0]];
  const spikes = { showspikes: true, spikemode: 'across', spikesnap: 'cursor', spikethickness: 1, spikedash: 'dot' };
  const ax = (l: Record<string, unknown>, over: Record<string, unknown>) => ({ ...(l as object), ...spikes, ...over });
  const fig: PlotlyFigure = {
    data: [
      { ...ta, xaxis: 'x', yaxis: 'y', colorbar: { title: { text: 'attention' }, x: 0.41, xanchor: 'left', len: 0.9 } },
      { ...ts, xaxis: 'x2', yaxis: 'y2', colorbar: { title: { text: 'saliency' }, x: 0.95, xanchor: 'left', len: 0.9 } },
    ],
    layout: {
      ...TRANSPARENT,
      title: {
        text: o.title ?? `L${key.layer} H${key.head} at step ${key.step}, example ${key.example} (${key.variant}): attention | saliency`,
      },
      width: Math.min(1400, 2 * Number(att.layout.width) + 40),
      height: att.layout.height,
      hovermode: 'closest',
      xaxis: ax(att.layout.xaxis as Record<string, unknown>, { domain: [0, 0.4] }),
      yaxis: ax(att.layout.yaxis as Record<string, unknown>, { scaleanchor: undefined }),
      xaxis2: ax(sal.layout.xaxis as Record<string, unknown>, { domain: [0.55, 0.94], matches: 'x' }),
      yaxis2: ax(sal.layout.yaxis as Record<string, unknown>, {
        anchor: 'x2',
        matches: 'y',
        showticklabels: false,
        title: { text: '' },
        scaleanchor: undefined,
      }),
      margin: att.layout.margin,
    },
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    hconcat: [figureFallback(att)!, figureFallback(sal)!].map(({ $schema: _s, ...rest }) => rest),
  };
  return withFallback(fig, spec);
}

function mapRows(m: HeadMap, n: number): number[][] {
  const first = (m.values as ArrayLike<unknown>)[0];
  if (typeof first === 'object' && first !== null) return Array.from(m.values as ArrayLike<ArrayLike<number>>, (r) => Array.from(r));
  const flat = m.values as ArrayLike<number>;
  if (flat.length !== n * n) bad(`mapHeatmap: the map has ${flat.length} values, expected ${n * n} for ${n} tokens`);
  return Array.from({ length: n }, (_, q) => Array.from({ length: n }, (_, k) => flat[q * n + k]));
}

export interface Point3 {
  x: number;
  y: number;
  z: number;
  /** Group (one colour and one legend entry per label). */
  label: string;
  /** Hover text (e.g. the context). */
  text?: string;
}

export interface Scatter3dOptions {
  title?: string;
  axisTitles?: [string, string, string];
  markerSize?: number;
  width?: number;
  height?: number;
}

/** A rotatable 3-D scatter, one trace per label (click a legend entry to hide a group; hover names each point). */
export function plotlyScatter3d(points: Point3[], o: Scatter3dOptions = {}): PlotlyFigure {
  if (!Array.isArray(points) || points.length === 0) bad('plotlyScatter3d: no points');
  points.forEach((p, i) => {
    if (![p.x, p.y, p.z].every((v) => typeof v === 'number' && Number.isFinite(v)))
      bad(`plotlyScatter3d: point ${i} (${p.label}) has a coordinate that is not a finite number`);
  });
  const [ax, ay, az] = o.axisTitles ?? ['x', 'y', 'z'];
  const labels = [...new Set(points.map((p) => String(p.label)))];
  const data = labels.map((label) => {
    const ps = points.filter((p) => String(p.label) === label);
    return {
      type: 'scatter3d',
      mode: 'markers',
      name: label,
      x: ps.map((p) => p.x),
      y: ps.map((p) => p.y),
      z: ps.map((p) => p.z),
      text: ps.map((p) => p.text ?? label),
      hovertemplate: `%{text}<br>${ax} %{x:.3g}, ${ay} %{y:.3g}, ${az} %{z:.3g}<extra>${label}</extra>`,
      marker: { size: o.markerSize ?? 3, opacity: 0.8 },
    };
  });
  const fig: PlotlyFigure = {
    data,
    layout: {
      ...TRANSPARENT,
      title: o.title ? { text: o.title } : undefined,
      width: o.width ?? 720,
      height: o.height ?? 560,
      scene: { xaxis: { title: { text: ax } }, yaxis: { title: { text: ay } }, zaxis: { title: { text: az } } },
      legend: { itemsizing: 'constant' },
      margin: { t: o.title ? 40 : 10, l: 0, r: 0, b: 0 },
    },
  };
  // the static fallback: the three 2-D projections side by side, same colours per label
  const rows = points.map((p) => ({ x: p.x, y: p.y, z: p.z, label: String(p.label) }));
  const panel = (a: 'x' | 'y' | 'z', b: 'x' | 'y' | 'z', ta: string, tb: string) => ({
    width: 200,
    height: 200,
    mark: { type: 'circle', size: 14, opacity: 0.8 },
    encoding: {
      x: { field: a, type: 'quantitative', title: ta, scale: { zero: false } },
      y: { field: b, type: 'quantitative', title: tb, scale: { zero: false } },
      color: { field: 'label', type: 'nominal', title: null, scale: { domain: labels } },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: o.title ?? '3-D view', subtitle: 'three 2-D projections (rotatable in 3-D in JupyterLab)' },
    data: { values: rows },
    hconcat: [panel('x', 'y', ax, ay), panel('x', 'z', ax, az), panel('y', 'z', ay, az)],
  };
  return withFallback(fig, spec);
}

/** Activations with class labels, as a classification probe takes them (`ProbeClassificationData`). */
export interface LabelledActivations {
  /** [n, d] row-major. */
  x: ArrayLike<number>;
  n: number;
  d: number;
  /** Class index of each row. */
  labels: ArrayLike<number>;
  classes: string[];
  /** Hover text per row (e.g. the context). */
  text?: string[];
}

/**
 * Up to k orthonormal directions of largest variance of the operator `apply` (a symmetric PSD
 * d x d matrix given as v -> A v), found by power iteration with deflation against `fixed` and
 * the directions already found; deterministic (fixed start vectors). Directions with variance
 * below 1e-12 of the first are dropped.
 */
function topDirections(apply: (v: Float64Array) => Float64Array, d: number, k: number, fixed: Float64Array[] = []): Float64Array[] {
  const found: Float64Array[] = [];
  const ortho = (v: Float64Array) => {
    for (const u of [...fixed, ...found]) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += v[i] * u[i];
      for (let i = 0; i < d; i++) v[i] -= dot * u[i];
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < d; i++) v[i] /= norm;
    return norm;
  };
  let first = 0;
  for (let j = 0; j < k; j++) {
    let v = Float64Array.from({ length: d }, (_, i) => 1 + ((i * 7919 + j * 104729) % 97) / 97);
    if (ortho(v) === 0) break;
    let lambda = 0;
    for (let it = 0; it < 300; it++) {
      const w = apply(v);
      const norm = ortho(w);
      const done = Math.abs(norm - lambda) <= 1e-10 * Math.max(norm, 1e-30);
      lambda = norm;
      if (norm === 0) break;
      v = w;
      if (done) break;
    }
    if (j === 0) first = lambda;
    if (lambda <= 1e-12 * first || lambda === 0) break;
    found.push(v);
  }
  return found;
}

/**
 * The subspace in which the classes differ most, and every row projected onto it: the top
 * directions of the between-class scatter (the class means' spread, what a linear probe separates
 * the classes by), completed, where there are fewer than four classes, by the top directions of
 * the remaining total variance. Returns 3 coordinates per row (fewer dimensions give zeros) and the
 * orthonormal basis as [3, d] row-major.
 */
export function classSubspace(a: LabelledActivations): { coords: Float64Array; basis: Float64Array; between: number } {
  const { n, d } = a;
  if (!Number.isInteger(n) || n < 2 || !Number.isInteger(d) || d < 1)
    bad(`classSubspace: needs at least 2 rows of at least 1 dimension (n = ${n}, d = ${d})`);
  if (a.x.length !== n * d) bad(`classSubspace: x has ${a.x.length} values, expected n * d = ${n * d}`);
  if (a.labels.length !== n) bad(`classSubspace: ${a.labels.length} labels for ${n} rows`);
  const C = a.classes.length;
  for (let i = 0; i < n; i++)
    if (!Number.isInteger(a.labels[i]) || a.labels[i] < 0 || a.labels[i] >= C)
      bad(`classSubspace: labels[${i}] = ${a.labels[i]} is not a class index (0..${C - 1})`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += a.x[i * d + j] / n;
  const xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xc[i * d + j] = a.x[i * d + j] - mean[j];
  const count = new Float64Array(C);
  const means = new Float64Array(C * d);
  for (let i = 0; i < n; i++) {
    count[a.labels[i]]++;
    for (let j = 0; j < d; j++) means[a.labels[i] * d + j] += xc[i * d + j];
  }
  for (let c = 0; c < C; c++) if (count[c] > 0) for (let j = 0; j < d; j++) means[c * d + j] /= count[c];
  // between-class scatter S_b v = sum_c count_c mu_c (mu_c . v); total scatter S_t v = X_c^T (X_c v)
  const between = (v: Float64Array) => {
    const out = new Float64Array(d);
    for (let c = 0; c < C; c++) {
      if (!count[c]) continue;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += means[c * d + j] * v[j];
      for (let j = 0; j < d; j++) out[j] += count[c] * dot * means[c * d + j];
    }
    return out;
  };
  const total = (v: Float64Array) => {
    const out = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += xc[i * d + j] * v[j];
      for (let j = 0; j < d; j++) out[j] += dot * xc[i * d + j];
    }
    return out;
  };
  const k = Math.min(3, d);
  const dirs = topDirections(between, d, k);
  const nBetween = dirs.length;
  if (dirs.length < k) dirs.push(...topDirections(total, d, k - dirs.length, dirs));
  const basis = new Float64Array(3 * d);
  dirs.forEach((u, r) => basis.set(u, r * d));
  const coords = new Float64Array(n * 3);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < dirs.length; r++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += xc[i * d + j] * basis[r * d + j];
      coords[i * 3 + r] = dot;
    }
  return { coords, basis, between: nBetween };
}

/**
 * A rotatable 3-D view of activations in the subspace where their classes differ most (see
 * `classSubspace`), one colour per class: e.g. residual-stream vectors at the pre-LAN position
 * coloured by the noun a probe reads out.
 */
export function probeSubspace3d(a: LabelledActivations, o: Scatter3dOptions = {}): PlotlyFigure & { basis: Float64Array } {
  const { coords, basis, between } = classSubspace(a);
  const names = [0, 1, 2].map((r) => (r < between ? `class direction ${r + 1}` : `variance direction ${r + 1 - between}`));
  const points: Point3[] = Array.from({ length: a.n }, (_, i) => ({
    x: coords[i * 3],
    y: coords[i * 3 + 1],
    z: coords[i * 3 + 2],
    label: a.classes[a.labels[i]],
    text: a.text?.[i],
  }));
  const fig = plotlyScatter3d(points, { axisTitles: names as [string, string, string], ...o });
  Object.defineProperty(fig, 'basis', { value: basis, enumerable: false });
  return fig as PlotlyFigure & { basis: Float64Array };
}

/**
 * The full MIME bundle of a plotly figure: the figure under plotly's MIME type and an SVG drawn in
 * Node from the figure's Vega-Lite fallback (what `display(figure)` sends), plus a PNG with
 * `{ png: true }`. The PNG is left out by default because JupyterLab's plotly renderer shows a
 * bundle's PNG instead of the live figure until the pointer enters it (it expects plotly's own
 * picture there); GitHub, nbviewer and VS Code show the SVG.
 */
export async function plotlyBundle(fig: PlotlyFigure, opts: { png?: boolean } = {}): Promise<MimeBundle> {
  const spec = figureFallback(fig);
  const out: MimeBundle = { [PLOTLY_MIME]: { data: fig.data, layout: fig.layout } };
  if (spec) {
    const r = await renderVegaLite(spec);
    out['image/svg+xml'] = r.svg;
    if (opts.png) out['image/png'] = Buffer.from(r.png).toString('base64');
  }
  const title = (fig.layout.title as { text?: string } | undefined)?.text;
  out['text/plain'] = `<plotly figure${title ? `: ${title}` : ''}>`;
  return out;
}

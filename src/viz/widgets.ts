/**
 * The producer side of groundlab's JupyterLab widgets (extension/): the data types the inspector and
 * the timeline show, and builders that turn plain arrays into a full MIME bundle
 *   { 'application/vnd.groundlab.inspector+json' | '...timeline+json': <payload>,
 *     'image/svg+xml': <static fallback>, 'text/plain': <summary> }.
 * The widgets compute no measure: every number they show comes from here. The payload layout is
 * described by the JSON schemas in extension/schema/ (version 1).
 *
 * Token x token maps are quantised to 8 bits per value (value = min + byte / 255 * (max - min),
 * so the error is at most (max - min) / 510) and base64 encoded; causal maps (all zero above the
 * diagonal) store only the lower triangle, T (T + 1) / 2 bytes. Maps are kept in the order given
 * until `maxMapBytes` is reached; the rest are left out and counted, and the widget says which map
 * is not carried when a user asks for it.
 *
 * The payload types are not written here: they are generated from the schemas
 * (extension/schema/*.schema.json -> extension/src/contract.generated.ts, by
 * extension/scripts/gen-contract.mjs), the one definition the extension reads too.
 */
import { bad, ensureSteps, esc, initialStepIn, num, payloadHead } from './bundle';
import type {
  EncodedMap,
  ExamplePayload,
  HeadScore,
  InspectorPayload,
  MapKind,
  TimelinePayload,
  TokenKind,
  Variant,
  VariantPayload,
} from '../../extension/src/contract.generated';

export type { EncodedMap, ExamplePayload, HeadScore, InspectorPayload, MapKind, TimelinePayload, TokenKind, Variant, VariantPayload };

export const INSPECTOR_MIME = 'application/vnd.groundlab.inspector+json';
export const TIMELINE_MIME = 'application/vnd.groundlab.timeline+json';
export const WIDGET_SCHEMA_VERSION = 1;

/** The per-head scores the overview can be coloured by, in the schema's order. aggregate: share of a
 * head's saliency that flows from the ENV token to the pre-LAN position; gather: share flowing into
 * ENV positions from preceding positions; saliencyShare: the head's share of its layer's (or the
 * model's) total saliency. (A Record over the schema's names: the compiler checks none is missing.) */
const HEAD_SCORE_SET: Record<HeadScore, true> = { aggregate: true, gather: true, saliencyShare: true };
export const HEAD_SCORES = Object.keys(HEAD_SCORE_SET) as readonly HeadScore[];

export type MimeBundle = Record<string, unknown>;

/** One variant (match or mismatch) of an evaluation example. */
export interface ExampleVariantData {
  tokens: string[];
  /** Kind of each token; default: `tokenKind(token)`. */
  kinds?: TokenKind[];
  /** Position of the `v<ENV>` (match) or `u<ENV>` (mismatch) token. */
  envPos: number;
  /** The pre-LAN position: the position whose next-token prediction is `v<LAN>`. */
  predPos: number;
  /** The predicted word, e.g. "ball<LAN>" (shown, not used for anything else). */
  target?: string;
}

export interface InspectorExample {
  id: string;
  label?: string;
  match: ExampleVariantData;
  mismatch?: ExampleVariantData;
}

/** Which map: one head's token x token map at one checkpoint for one example variant. */
export type MapKey = Pick<EncodedMap, 'step' | 'example' | 'variant' | 'kind' | 'layer' | 'head'>;

/** A map with its values, as producers give it. */
export interface HeadMap extends MapKey {
  /** [T, T] row-major, row = query (the attending / predicting position), column = key. Either a
   * flat array of T*T numbers or T rows of T numbers. */
  values: ArrayLike<number> | ArrayLike<number>[];
}

export interface InspectorData {
  title?: string;
  /** Free text naming the model/run, e.g. "transformer quick, seed 1". */
  model?: string;
  /** Widgets with the same link key move together (timeline scrubber <-> inspector); default "default". */
  link?: string;
  layers: number;
  heads: number;
  /** Checkpoint steps, ascending. */
  steps: number[];
  /** scores[name][c][l][h] for checkpoint c (steps[c]); NaN or null where unknown. */
  scores: Partial<Record<HeadScore, ArrayLike<number | null>[][]>>;
  /** Classification thresholds to show next to the scores (the paper uses 0.3). */
  thresholds?: Partial<Record<HeadScore, number>>;
  examples: InspectorExample[];
  /** Token x token maps for a bounded selection, most important first. */
  maps: HeadMap[];
  /** Budget for the encoded maps in bytes (default 4 MiB). */
  maxMapBytes?: number;
  /** What the values of each kind of map are, shown beside the colour scale (e.g. "attention probability"). */
  mapUnits?: { attention?: string; saliency?: string };
  /** What the widget shows first. */
  initial?: { step?: number; example?: string; variant?: Variant; kind?: MapKind; score?: HeadScore; layer?: number; head?: number };
}

/** The timeline's curves (the keys of the schema's `curves`). */
export type CurveName = keyof TimelinePayload['curves'];
const CURVE_SET: Record<CurveName, true> = {
  matchSurprisal: true,
  mismatchSurprisal: true,
  infoGain: true,
  r2Cooccurrence: true,
  gatherHeads: true,
  aggregateHeads: true,
};
export const CURVE_NAMES = Object.keys(CURVE_SET) as readonly CurveName[];

export interface TimelineData {
  title?: string;
  model?: string;
  link?: string;
  /** Checkpoint steps, ascending. */
  steps: number[];
  /** One value per step for each curve given; null/NaN where not measured. */
  curves: Partial<Record<CurveName, ArrayLike<number | null>>>;
  initialStep?: number;
}

const SPECIAL = /^<(pad|unk|bos|eos|sep|patch|mask|s|\/s)>$/i;

/** The kind of a token from its text: `x<ENV>` ENV, `x<LAN>` LAN, `<CHI>`-like speaker tokens. */
export function tokenKind(token: string): TokenKind {
  if (/<ENV>$/.test(token)) return 'ENV';
  if (/<LAN>$/.test(token)) return 'LAN';
  if (/^<[A-Za-z0-9_]{2,5}>$/.test(token) && !SPECIAL.test(token)) return 'speaker';
  return 'other';
}

function flattenMap(values: HeadMap['values'], n: number, where: string): Float64Array {
  const out = new Float64Array(n * n);
  const first = (values as ArrayLike<unknown>)[0];
  if (values.length === n && n > 0 && typeof first === 'object' && first !== null) {
    const rows = values as ArrayLike<ArrayLike<number>>;
    for (let i = 0; i < n; i++) {
      if (rows[i].length !== n) bad(`${where}: row ${i} has ${rows[i].length} values, expected ${n}`);
      for (let j = 0; j < n; j++) out[i * n + j] = rows[i][j];
    }
  } else {
    const flat = values as ArrayLike<number>;
    if (flat.length !== n * n) bad(`${where}: has ${flat.length} values, expected T*T = ${n * n} (T = ${n} tokens)`);
    for (let i = 0; i < n * n; i++) out[i] = flat[i];
  }
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) bad(`${where}: value ${i} is not finite`);
  return out;
}

/** Quantises a [T, T] map to bytes (lower triangle only when the upper one is all zero). */
export function encodeMap(values: Float64Array | number[], n: number): Pick<EncodedMap, 'n' | 'min' | 'max' | 'encoding' | 'data'> {
  let min = Infinity;
  let max = -Infinity;
  let causal = true;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = values[i * n + j];
      if (v < min) min = v;
      if (v > max) max = v;
      if (j > i && v !== 0) causal = false;
    }
  }
  if (n === 0) {
    min = 0;
    max = 0;
  }
  const range = max - min;
  const q = (v: number) => (range > 0 ? Math.round(((v - min) / range) * 255) : 0);
  const bytes = new Uint8Array(causal ? (n * (n + 1)) / 2 : n * n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const end = causal ? i + 1 : n;
    for (let j = 0; j < end; j++) bytes[k++] = q(values[i * n + j]);
  }
  return {
    n,
    min: num(min) ?? 0,
    max: max === min ? (num(min) ?? 0) : Number(max.toPrecision(7)),
    encoding: causal ? 'u8-lower' : 'u8',
    data: Buffer.from(bytes).toString('base64'),
  };
}

/** Decodes an encoded map back to T*T values (row-major); the inverse of encodeMap up to quantisation. */
export function decodeMap(m: Pick<EncodedMap, 'n' | 'min' | 'max' | 'encoding' | 'data'>): Float64Array {
  const bytes = Buffer.from(m.data, 'base64');
  const n = m.n;
  const out = new Float64Array(n * n);
  const scale = (m.max - m.min) / 255;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const end = m.encoding === 'u8-lower' ? i + 1 : n;
    for (let j = 0; j < end; j++) out[i * n + j] = m.min + bytes[k++] * scale;
  }
  return out;
}

function checkVariant(v: ExampleVariantData, where: string) {
  if (!Array.isArray(v.tokens) || v.tokens.length === 0) bad(`${where}: tokens must be a non-empty array of strings`);
  const n = v.tokens.length;
  for (const [name, p] of [
    ['envPos', v.envPos],
    ['predPos', v.predPos],
  ] as const) {
    if (!Number.isInteger(p) || p < 0 || p >= n) bad(`${where}: ${name} = ${p} is outside 0..${n - 1}`);
  }
  const kinds = v.kinds ?? v.tokens.map(tokenKind);
  if (kinds.length !== n) bad(`${where}: ${kinds.length} kinds for ${n} tokens`);
  for (const k of kinds)
    if (!['ENV', 'LAN', 'speaker', 'other'].includes(k)) bad(`${where}: unknown token kind "${k}"`, 'use ENV, LAN, speaker or other');
  return { tokens: v.tokens.map(String), kinds, envPos: v.envPos, predPos: v.predPos, target: v.target ?? null };
}

/** The inspector's payload (the JSON under INSPECTOR_MIME). */
export function inspectorPayload(data: InspectorData): InspectorPayload {
  const { layers: L, heads: H } = data;
  if (!Number.isInteger(L) || L < 1 || !Number.isInteger(H) || H < 1)
    bad(`inspector: layers (${L}) and heads (${H}) must be positive integers`);
  ensureSteps(data.steps, 'inspector');
  const C = data.steps.length;
  const scores: InspectorPayload['scores'] = {};
  for (const name of Object.keys(data.scores ?? {}) as HeadScore[]) {
    if (!HEAD_SCORES.includes(name)) bad(`inspector: unknown score "${name}"`, `use one of ${HEAD_SCORES.join(', ')}`);
    const perStep = data.scores[name]!;
    if (perStep.length !== C) bad(`inspector: scores.${name} has ${perStep.length} checkpoints, steps has ${C}`);
    scores[name] = perStep.map((grid, c) => {
      if (grid.length !== L) bad(`inspector: scores.${name}[${c}] has ${grid.length} layers, expected ${L}`);
      const flat: (number | null)[] = [];
      for (let l = 0; l < L; l++) {
        if (grid[l].length !== H) bad(`inspector: scores.${name}[${c}][${l}] has ${grid[l].length} heads, expected ${H}`);
        for (let h = 0; h < H; h++) flat.push(num(grid[l][h]));
      }
      return flat;
    });
  }
  if (Object.keys(scores).length === 0)
    bad('inspector: no per-head scores given', `pass scores.aggregate, scores.gather and/or scores.saliencyShare`);
  if (!Array.isArray(data.examples) || data.examples.length === 0) bad('inspector: at least one example is needed');
  const ids = new Set<string>();
  const examples = data.examples.map((ex, i) => {
    if (!ex.id || ids.has(ex.id)) bad(`inspector: examples[${i}] needs a unique id (got "${ex.id}")`);
    ids.add(ex.id);
    const variants: InspectorPayload['examples'][number]['variants'] = {
      match: checkVariant(ex.match, `inspector: example "${ex.id}" match`),
    };
    if (ex.mismatch) variants.mismatch = checkVariant(ex.mismatch, `inspector: example "${ex.id}" mismatch`);
    return { id: ex.id, label: ex.label ?? ex.id, variants };
  });
  const exById = new Map(examples.map((e) => [e.id, e]));
  const maxMapBytes = data.maxMapBytes ?? 4 * 1024 * 1024;
  const maps: EncodedMap[] = [];
  const seen = new Set<string>();
  let mapBytes = 0;
  let omitted = 0;
  for (const [i, m] of (data.maps ?? []).entries()) {
    const where = `inspector: maps[${i}] (step ${m.step}, ${m.example} ${m.variant} ${m.kind} L${m.layer}H${m.head})`;
    const ex = exById.get(m.example);
    if (!ex) bad(`${where}: unknown example id`);
    const v = ex.variants[m.variant];
    if (!v) bad(`${where}: the example has no ${m.variant} variant`);
    if (!data.steps.includes(m.step)) bad(`${where}: step is not in steps`);
    if (m.kind !== 'attention' && m.kind !== 'saliency') bad(`${where}: kind must be attention or saliency`);
    if (!Number.isInteger(m.layer) || m.layer < 0 || m.layer >= L || !Number.isInteger(m.head) || m.head < 0 || m.head >= H)
      bad(`${where}: layer/head out of range`);
    const key = `${m.step}|${m.example}|${m.variant}|${m.kind}|${m.layer}|${m.head}`;
    if (seen.has(key)) bad(`${where}: given twice`);
    seen.add(key);
    const enc = encodeMap(flattenMap(m.values, v.tokens.length, where), v.tokens.length);
    const cost = enc.data.length + 160;
    if (mapBytes + cost > maxMapBytes) {
      omitted++;
      continue;
    }
    mapBytes += cost;
    maps.push({ step: m.step, example: m.example, variant: m.variant, kind: m.kind, layer: m.layer, head: m.head, ...enc });
  }
  const init = data.initial ?? {};
  const score = init.score ?? (HEAD_SCORES.find((s) => scores[s]) as HeadScore);
  if (!scores[score]) bad(`inspector: initial.score "${score}" is not among the scores given`);
  const step = init.step ?? maps[0]?.step ?? data.steps[C - 1];
  if (!data.steps.includes(step)) bad(`inspector: initial.step ${step} is not in steps`);
  const initial = {
    step,
    example: init.example ?? maps[0]?.example ?? examples[0].id,
    variant: init.variant ?? maps[0]?.variant ?? 'match',
    kind: init.kind ?? maps[0]?.kind ?? 'attention',
    score,
    layer: init.layer ?? maps[0]?.layer ?? 0,
    head: init.head ?? maps[0]?.head ?? 0,
  };
  if (!exById.has(initial.example)) bad(`inspector: initial.example "${initial.example}" is not an example id`);
  // every initial field reaches the SVG fallback and the widget: check it here (the SVG escapes text too)
  if (initial.variant !== 'match' && initial.variant !== 'mismatch')
    bad(`inspector: initial.variant ${JSON.stringify(initial.variant)} must be "match" or "mismatch"`);
  if (initial.kind !== 'attention' && initial.kind !== 'saliency')
    bad(`inspector: initial.kind ${JSON.stringify(initial.kind)} must be "attention" or "saliency"`);
  if (
    !Number.isInteger(initial.layer) ||
    initial.layer < 0 ||
    initial.layer >= L ||
    !Number.isInteger(initial.head) ||
    initial.head < 0 ||
    initial.head >= H
  )
    bad(`inspector: initial.layer/head (${initial.layer}, ${initial.head}) must be within ${L} layers x ${H} heads`);
  return {
    version: WIDGET_SCHEMA_VERSION,
    ...payloadHead(data, 'Attention / saliency inspector'),
    layers: L,
    heads: H,
    steps: [...data.steps],
    scores,
    thresholds: { ...(data.thresholds ?? {}) },
    examples,
    maps,
    carried: { maps: maps.length, omittedMaps: omitted, mapBytes, maxMapBytes },
    initial,
    ...(data.mapUnits ? { mapUnits: { ...data.mapUnits } } : {}),
  };
}

/** The timeline's payload (the JSON under TIMELINE_MIME). */
export function timelinePayload(data: TimelineData): TimelinePayload {
  ensureSteps(data.steps, 'timeline');
  const curves: TimelinePayload['curves'] = {};
  for (const name of Object.keys(data.curves ?? {}) as CurveName[]) {
    if (!CURVE_NAMES.includes(name)) bad(`timeline: unknown curve "${name}"`, `use ${CURVE_NAMES.join(', ')}`);
    const vals = data.curves[name]!;
    if (vals.length !== data.steps.length) bad(`timeline: curve ${name} has ${vals.length} values, steps has ${data.steps.length}`);
    curves[name] = Array.from(vals, (v) => num(v));
  }
  if (Object.keys(curves).length === 0) bad('timeline: no curves given');
  const initialStep = initialStepIn(data.steps, data.initialStep, 'timeline');
  return {
    version: WIDGET_SCHEMA_VERSION,
    ...payloadHead(data, 'Checkpoint timeline'),
    steps: [...data.steps],
    curves,
    initialStep,
  };
}

// ---------------------------------------------------------------------------------------------
// Static SVG fallbacks (drawn here, no browser): what a saved notebook shows without the extension.

/** viridis-like ramp, t in [0, 1]. */
function ramp(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

const KIND_FILL: Record<TokenKind, string> = { ENV: '#d9480f', LAN: '#1971c2', speaker: '#2f9e44', other: '#868e96' };
const SCORE_LABEL: Record<HeadScore, string> = { aggregate: 'aggregate score', gather: 'gather score', saliencyShare: 'saliency share' };

function inspectorSvg(p: InspectorPayload): string {
  const c = p.steps.indexOf(p.initial.step);
  const grid = p.scores[p.initial.score]![c];
  const vals = grid.filter((v): v is number => v != null);
  const lo = Math.min(0, ...vals);
  const hi = Math.max(1e-12, ...vals);
  const cell = Math.max(8, Math.min(22, Math.floor(260 / Math.max(p.layers, p.heads))));
  const x0 = 60;
  const y0 = 56;
  const ex = p.examples.find((e) => e.id === p.initial.example)!;
  const v = ex.variants[p.initial.variant] ?? ex.variants.match!;
  // the initial head's map, if carried: at most 48 x 48 cells (larger maps max-pooled), one colour
  // range per kind of map over the bundle, as in the widget
  const init = p.initial;
  const m = p.maps.find(
    (x) =>
      x.step === init.step &&
      x.example === init.example &&
      x.variant === init.variant &&
      x.kind === init.kind &&
      x.layer === init.layer &&
      x.head === init.head,
  );
  const mx = x0 + p.heads * cell + 90;
  const S = 240;
  const mapH = m ? S + 36 : 0;
  const W = Math.max(x0 + p.heads * cell + 180, m ? mx + S + 20 : 0, 640);
  const tokY = y0 + Math.max(p.layers * cell, mapH) + 40;
  const out: string[] = [];
  if (m) {
    const n = m.n;
    const vals = decodeMap(m);
    const f = Math.ceil(n / 48);
    const k = Math.ceil(n / f);
    const pooled = new Float64Array(k * k).fill(-Infinity);
    for (let q = 0; q < n; q++)
      for (let c2 = 0; c2 < (m.encoding === 'u8-lower' ? q + 1 : n); c2++) {
        const j = Math.floor(q / f) * k + Math.floor(c2 / f);
        pooled[j] = Math.max(pooled[j], vals[q * n + c2]);
      }
    let dmax = 0;
    for (const x of p.maps) if (x.kind === m.kind) dmax = Math.max(dmax, x.max);
    const cs = S / k;
    const rgb = m.kind === 'attention' ? [25, 113, 194] : [217, 72, 15];
    out.push(
      `<text x="${mx}" y="${y0 - 8}" font-size="10">${esc(m.kind)} map of L${m.layer} H${m.head} (rows: query, columns: key)</text>`,
    );
    for (let q = 0; q < k; q++)
      for (let c2 = 0; c2 < k; c2++) {
        const val = pooled[q * k + c2];
        if (val === -Infinity) continue;
        const t = dmax > 0 ? Math.max(0, Math.min(1, val / dmax)) : 0;
        const col = rgb.map((a) => Math.round(255 + (a - 255) * t));
        out.push(
          `<rect x="${(mx + c2 * cs).toFixed(1)}" y="${(y0 + q * cs).toFixed(1)}" width="${cs.toFixed(2)}" height="${cs.toFixed(2)}" fill="rgb(${col.join(',')})"/>`,
        );
      }
    const pq = Math.floor(v.predPos / f);
    const pk = Math.floor(v.envPos / f);
    out.push(
      `<rect x="${(mx + pk * cs).toFixed(1)}" y="${(y0 + pq * cs).toFixed(1)}" width="${cs.toFixed(2)}" height="${cs.toFixed(2)}" fill="none" stroke="#d32f2f" stroke-width="2"/>`,
    );
    out.push(
      `<text x="${mx}" y="${y0 + S + 13}" font-size="9">ENV -> pre-LAN cell outlined${f > 1 ? `; a cell: max of ${f} x ${f}` : ''}</text>`,
    );
    out.push(`<text x="${mx}" y="${y0 + S + 25}" font-size="9">colours 0..${num(dmax)}, shared by all ${esc(m.kind)} maps</text>`);
  }
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">${esc(p.title)}${p.model ? ' — ' + esc(p.model) : ''}</text>`);
  out.push(
    `<text x="10" y="36" font-size="11">${esc(SCORE_LABEL[p.initial.score])} per head at step ${esc(String(p.initial.step))}; static image: install groundlab-widgets for the interactive inspector</text>`,
  );
  for (let l = 0; l < p.layers; l++) {
    out.push(`<text x="${x0 - 6}" y="${y0 + l * cell + cell * 0.7}" font-size="9" text-anchor="end">L${l}</text>`);
    for (let h = 0; h < p.heads; h++) {
      const s = grid[l * p.heads + h];
      const fill = s == null ? '#ccc' : ramp((s - lo) / (hi - lo));
      out.push(
        `<rect x="${x0 + h * cell}" y="${y0 + l * cell}" width="${cell - 1}" height="${cell - 1}" fill="${fill}"><title>L${l} H${h}: ${s ?? 'n/a'}</title></rect>`,
      );
    }
  }
  for (let h = 0; h < p.heads; h++)
    out.push(`<text x="${x0 + h * cell + cell / 2}" y="${y0 - 4}" font-size="9" text-anchor="middle">${h}</text>`);
  const lx = x0 + p.heads * cell + 16;
  for (let i = 0; i <= 10; i++) out.push(`<rect x="${lx}" y="${y0 + (10 - i) * 10}" width="12" height="10" fill="${ramp(i / 10)}"/>`);
  out.push(
    `<text x="${lx + 16}" y="${y0 + 8}" font-size="9">${num(hi)}</text><text x="${lx + 16}" y="${y0 + 108}" font-size="9">${num(lo)}</text>`,
  );
  // tokens, wrapped, coloured by kind
  let tx = 10;
  let ty = tokY;
  out.push(
    `<text x="10" y="${tokY - 14}" font-size="11">example ${esc(ex.label)} (${esc(String(p.initial.variant))}); ENV = orange, LAN = blue, speaker = green</text>`,
  );
  v.tokens.forEach((t, i) => {
    const w = Math.min(120, 6.2 * t.length + 6);
    if (tx + w > W - 10) {
      tx = 10;
      ty += 16;
    }
    const mark = i === v.envPos || i === v.predPos ? ' text-decoration="underline" font-weight="bold"' : '';
    out.push(`<text x="${tx}" y="${ty}" font-size="10" fill="${KIND_FILL[v.kinds[i]]}"${mark}>${esc(t)}</text>`);
    tx += w;
  });
  const H = ty + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${out.join('')}</svg>`;
}

const PANELS: { title: string; curves: CurveName[]; colors: string[] }[] = [
  { title: 'surprisal of v<LAN> (nats)', curves: ['matchSurprisal', 'mismatchSurprisal'], colors: ['#1971c2', '#d9480f'] },
  { title: 'information gain G (nats)', curves: ['infoGain'], colors: ['#2f9e44'] },
  { title: 'R² vs co-occurrence', curves: ['r2Cooccurrence'], colors: ['#7048e8'] },
  { title: 'head counts (gather, aggregate)', curves: ['gatherHeads', 'aggregateHeads'], colors: ['#f08c00', '#c2255c'] },
];

function timelineSvg(p: TimelinePayload): string {
  const panels = PANELS.filter((pa) => pa.curves.some((c) => p.curves[c]));
  const pw = 250;
  const ph = 120;
  const W = 20 + panels.length * (pw + 50);
  const H = 225;
  const out: string[] = [
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(p.title)}${p.model ? ' — ' + esc(p.model) : ''}</text>`,
  ];
  const s0 = p.steps[0];
  const s1 = p.steps[p.steps.length - 1];
  // the same step axis as the widget: symlog (log(1 + step)) when the steps span a factor of 20
  const positive = p.steps.filter((x) => x > 0);
  const logX = positive.length > 1 && positive[positive.length - 1] / positive[0] >= 20;
  const f = (x: number) => (logX ? Math.sign(x) * Math.log1p(Math.abs(x)) : x);
  panels.forEach((pa, k) => {
    const ox = 50 + k * (pw + 50);
    const oy = 50;
    const vals = pa.curves.flatMap((c) => (p.curves[c] ?? []).filter((v): v is number => v != null));
    let lo = Math.min(...vals, 0);
    let hi = Math.max(...vals, 0);
    if (hi === lo) hi = lo + 1;
    const X = (s: number) => ox + (s1 === s0 ? pw / 2 : ((f(s) - f(s0)) / (f(s1) - f(s0))) * pw);
    const Y = (v: number) => oy + ph - ((v - lo) / (hi - lo)) * ph;
    out.push(`<text x="${ox}" y="${oy - 8}" font-size="11">${esc(pa.title)}</text>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    out.push(
      `<text x="${ox - 4}" y="${oy + 8}" font-size="9" text-anchor="end">${num(hi)}</text><text x="${ox - 4}" y="${oy + ph}" font-size="9" text-anchor="end">${num(lo)}</text>`,
    );
    out.push(
      `<text x="${ox}" y="${oy + ph + 12}" font-size="9">${s0}</text><text x="${ox + pw}" y="${oy + ph + 12}" font-size="9" text-anchor="end">step ${s1}${logX ? ' (log scale)' : ''}</text>`,
    );
    pa.curves.forEach((c, j) => {
      const ys = p.curves[c];
      if (!ys) return;
      const pts = p.steps.map((s, i) => (ys[i] == null ? null : `${X(s).toFixed(1)},${Y(ys[i]!).toFixed(1)}`)).filter((x) => x != null);
      out.push(`<polyline fill="none" stroke="${pa.colors[j]}" stroke-width="1.5" points="${pts.join(' ')}"/>`);
      out.push(`<text x="${ox + 4 + j * 110}" y="${oy + ph + 26}" font-size="9" fill="${pa.colors[j]}">${c}</text>`);
    });
  });
  out.push(`<text x="10" y="${H - 8}" font-size="10">static image; install groundlab-widgets for the interactive scrubber</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${out.join('')}</svg>`;
}

function inspectorText(p: InspectorPayload): string {
  const lines = [
    `${p.title}${p.model ? ` (${p.model})` : ''}: ${p.layers} layers x ${p.heads} heads, ${p.steps.length} checkpoints (steps ${p.steps[0]}..${p.steps[p.steps.length - 1]}), ${p.examples.length} examples`,
  ];
  lines.push(
    `scores: ${Object.keys(p.scores).join(', ')}; token x token maps carried: ${p.carried.maps}${p.carried.omittedMaps ? `, left out (over ${p.carried.maxMapBytes} bytes): ${p.carried.omittedMaps}` : ''}`,
  );
  const name = p.initial.score;
  const c = p.steps.indexOf(p.initial.step);
  const grid = p.scores[name]![c];
  const top = grid
    .map((v, i) => ({ v, i }))
    .filter((x) => x.v != null)
    .sort((a, b) => b.v! - a.v!)
    .slice(0, 5);
  lines.push(
    `top heads by ${SCORE_LABEL[name]} at step ${p.initial.step}: ` +
      top.map((x) => `L${Math.floor(x.i / p.heads)}H${x.i % p.heads}=${x.v}`).join(', '),
  );
  return lines.join('\n');
}

function timelineText(p: TimelinePayload): string {
  const last = p.steps.length - 1;
  const parts = (Object.keys(p.curves) as CurveName[]).map((c) => `${c}=${p.curves[c]![last] ?? 'n/a'}`);
  return `${p.title}${p.model ? ` (${p.model})` : ''}: ${p.steps.length} checkpoints (steps ${p.steps[0]}..${p.steps[last]}); at step ${p.steps[last]}: ${parts.join(', ')}`;
}

/** The full MIME bundle of the inspector: JSON payload + static SVG + text. */
export function inspectorBundle(data: InspectorData): MimeBundle {
  const p = inspectorPayload(data);
  return { [INSPECTOR_MIME]: p, 'image/svg+xml': inspectorSvg(p), 'text/plain': inspectorText(p) };
}

/** The full MIME bundle of the timeline: JSON payload + static SVG + text. */
export function timelineBundle(data: TimelineData): MimeBundle {
  const p = timelinePayload(data);
  return { [TIMELINE_MIME]: p, 'image/svg+xml': timelineSvg(p), 'text/plain': timelineText(p) };
}

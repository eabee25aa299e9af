/**
 * The JSON payloads the widgets read (see ../schema/*.schema.json). The producer is groundlab's
 * src/viz/widgets.ts; nothing here computes a measure: values are decoded and shown as given.
 */
export const INSPECTOR_MIME = 'application/vnd.groundlab.inspector+json';
export const TIMELINE_MIME = 'application/vnd.groundlab.timeline+json';
export const SUPPORTED_VERSION = 1;

export type TokenKind = 'ENV' | 'LAN' | 'speaker' | 'other';
export type Variant = 'match' | 'mismatch';
export type MapKind = 'attention' | 'saliency';
export type HeadScore = 'aggregate' | 'gather' | 'saliencyShare';
export type CurveName = 'matchSurprisal' | 'mismatchSurprisal' | 'infoGain' | 'r2Cooccurrence' | 'gatherHeads' | 'aggregateHeads';

export const SCORE_LABELS: Record<HeadScore, string> = {
  aggregate: 'aggregate score',
  gather: 'gather score',
  saliencyShare: 'saliency share'
};

export interface VariantPayload {
  tokens: string[];
  kinds: TokenKind[];
  envPos: number;
  predPos: number;
  target: string | null;
}

export interface EncodedMap {
  step: number;
  example: string;
  variant: Variant;
  kind: MapKind;
  layer: number;
  head: number;
  n: number;
  min: number;
  max: number;
  encoding: 'u8' | 'u8-lower';
  data: string;
}

export interface InspectorPayload {
  version: number;
  title: string;
  model: string;
  link: string;
  layers: number;
  heads: number;
  steps: number[];
  scores: Partial<Record<HeadScore, (number | null)[][]>>;
  thresholds: Partial<Record<HeadScore, number>>;
  examples: { id: string; label: string; variants: Partial<Record<Variant, VariantPayload>> }[];
  maps: EncodedMap[];
  carried: { maps: number; omittedMaps: number; mapBytes: number; maxMapBytes: number };
  initial: { step: number; example: string; variant: Variant; kind: MapKind; score: HeadScore; layer: number; head: number };
}

export interface TimelinePayload {
  version: number;
  title: string;
  model: string;
  link: string;
  steps: number[];
  curves: Partial<Record<CurveName, (number | null)[]>>;
  initialStep: number;
}

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

function need(cond: unknown, message: string): asserts cond {
  if (!cond) throw new PayloadError(message);
}

/** Checks the parts of an inspector payload the widget relies on; throws PayloadError otherwise. */
export function checkInspector(p: unknown): InspectorPayload {
  const x = p as InspectorPayload;
  need(x && typeof x === 'object', 'the inspector payload is not an object');
  need(x.version === SUPPORTED_VERSION, `inspector payload version ${x.version} is not supported (this extension reads version ${SUPPORTED_VERSION}); update groundlab-widgets or groundlab`);
  need(Number.isInteger(x.layers) && x.layers > 0 && Number.isInteger(x.heads) && x.heads > 0, 'layers and heads must be positive integers');
  need(Array.isArray(x.steps) && x.steps.length > 0, 'steps must be a non-empty array');
  need(x.scores && Object.keys(x.scores).length > 0, 'the payload carries no per-head scores');
  for (const [name, per] of Object.entries(x.scores)) {
    need(Array.isArray(per) && per.length === x.steps.length, `scores.${name} must have one entry per step`);
    for (const g of per!) need(Array.isArray(g) && g.length === x.layers * x.heads, `scores.${name} entries must have layers*heads values`);
  }
  need(Array.isArray(x.examples) && x.examples.length > 0, 'the payload carries no example');
  need(Array.isArray(x.maps), 'maps must be an array');
  return x;
}

export function checkTimeline(p: unknown): TimelinePayload {
  const x = p as TimelinePayload;
  need(x && typeof x === 'object', 'the timeline payload is not an object');
  need(x.version === SUPPORTED_VERSION, `timeline payload version ${x.version} is not supported (this extension reads version ${SUPPORTED_VERSION})`);
  need(Array.isArray(x.steps) && x.steps.length > 0, 'steps must be a non-empty array');
  need(x.curves && Object.keys(x.curves).length > 0, 'the payload carries no curve');
  for (const [name, v] of Object.entries(x.curves)) need(Array.isArray(v) && v.length === x.steps.length, `curve ${name} must have one value per step`);
  return x;
}

/** Decodes a quantised map to T*T values, row-major (row = query, column = key). */
export function decodeMap(m: EncodedMap): Float32Array {
  const bin = atob(m.data);
  const n = m.n;
  const expected = m.encoding === 'u8-lower' ? (n * (n + 1)) / 2 : n * n;
  need(bin.length === expected, `map L${m.layer}H${m.head} step ${m.step}: ${bin.length} bytes, expected ${expected}`);
  const out = new Float32Array(n * n);
  const scale = (m.max - m.min) / 255;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const end = m.encoding === 'u8-lower' ? i + 1 : n;
    for (let j = 0; j < end; j++) out[i * n + j] = m.min + bin.charCodeAt(k++) * scale;
  }
  return out;
}

/** The raw bytes of a map as an n x n grid, and which cells are stored (null: all). */
export function decodeBytes(m: EncodedMap): { bytes: Uint8Array; present: Uint8Array | null } {
  const bin = atob(m.data);
  const n = m.n;
  const lower = m.encoding === 'u8-lower';
  need(bin.length === (lower ? (n * (n + 1)) / 2 : n * n), `map L${m.layer}H${m.head} step ${m.step}: wrong byte count ${bin.length}`);
  const bytes = new Uint8Array(n * n);
  const present = lower ? new Uint8Array(n * n) : null;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const end = lower ? i + 1 : n;
    for (let j = 0; j < end; j++) {
      bytes[i * n + j] = bin.charCodeAt(k++);
      if (present) present[i * n + j] = 1;
    }
  }
  return { bytes, present };
}

export function mapKey(step: number, example: string, variant: Variant, kind: MapKind, layer: number, head: number): string {
  return `${step}|${example}|${variant}|${kind}|${layer}|${head}`;
}

/** Formats a number for a readout (4 significant digits, no exponent for ordinary sizes). */
export function fmt(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

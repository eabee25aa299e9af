/**
 * The JSON payloads the widgets read (see ../schema/*.schema.json). The producer is groundlab's
 * src/viz/widgets.ts; nothing here computes a measure: values are decoded and shown as given.
 */
export const INSPECTOR_MIME = 'application/vnd.groundlab.inspector+json';
export const TIMELINE_MIME = 'application/vnd.groundlab.timeline+json';
export const CIRCUIT_MIME = 'application/vnd.groundlab.circuit+json';
export const DAS_MIME = 'application/vnd.groundlab.das+json';
export const BINDING_GRID_MIME = 'application/vnd.groundlab.bindinggrid+json';
export const SUPPORTED_VERSION = 1;

import { BINDING_GRID_SCHEMA, CIRCUIT_SCHEMA, DAS_SCHEMA, INSPECTOR_SCHEMA, TIMELINE_SCHEMA } from './contract.generated';
import type {
  BindingGridPayload,
  CircuitPayload,
  DasPayload,
  EncodedMap,
  HeadScore,
  InspectorPayload,
  MapKind,
  TimelinePayload,
  Variant,
} from './contract.generated';
import { validate } from './schema';

export type {
  TokenKind,
  Variant,
  MapKind,
  HeadScore,
  VariantPayload,
  EncodedMap,
  ExamplePayload,
  InspectorPayload,
  TimelinePayload,
  Curve,
  CircuitPayload,
  CircuitNode,
  CircuitPath,
  DasPayload,
  DasGroup,
  DasSeries,
  DasMethod,
  BindingGridPayload,
} from './contract.generated';
/** The curves a timeline can carry (the keys of TimelinePayload['curves']). */
export type CurveName = keyof TimelinePayload['curves'];

export const SCORE_LABELS: Record<HeadScore, string> = {
  aggregate: 'aggregate score',
  gather: 'gather score',
  saliencyShare: 'saliency share',
};

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

function need(cond: unknown, message: string): asserts cond {
  if (!cond) throw new PayloadError(message);
}

function schemaCheck(what: string, schema: typeof INSPECTOR_SCHEMA, p: unknown, file = what): void {
  need(p && typeof p === 'object' && !Array.isArray(p), `the ${what} payload is not an object`);
  const version = (p as { version?: unknown }).version;
  need(
    version === SUPPORTED_VERSION,
    `${what} payload version ${version} is not supported (this extension reads version ${SUPPORTED_VERSION}); update groundlab-widgets or groundlab`,
  );
  const errors = validate(schema, p, 5);
  need(errors.length === 0, `the ${what} payload does not follow its schema (extension/schema/${file}.schema.json): ${errors.join('; ')}`);
}

/**
 * Checks an inspector payload against its schema and the relations a schema cannot say (lengths
 * that follow layers, heads and steps); throws PayloadError naming what is wrong.
 */
export function checkInspector(p: unknown): InspectorPayload {
  schemaCheck('inspector', INSPECTOR_SCHEMA, p);
  const x = p as InspectorPayload;
  need(Object.keys(x.scores).length > 0, 'the payload carries no per-head scores');
  for (const [name, per] of Object.entries(x.scores)) {
    need(per!.length === x.steps.length, `scores.${name} must have one entry per step`);
    for (const g of per!) need(g.length === x.layers * x.heads, `scores.${name} entries must have layers*heads values`);
  }
  return x;
}

/** Checks a timeline payload against its schema and that every curve has one value per step. */
export function checkTimeline(p: unknown): TimelinePayload {
  schemaCheck('timeline', TIMELINE_SCHEMA, p);
  const x = p as TimelinePayload;
  for (const [name, v] of Object.entries(x.curves)) need(v!.length === x.steps.length, `curve ${name} must have one value per step`);
  return x;
}

/** Checks a circuit graph payload: its schema, one value per path (per node for dla) per step, paths between its nodes. */
export function checkCircuit(p: unknown): CircuitPayload {
  schemaCheck('circuit', CIRCUIT_SCHEMA, p);
  const x = p as CircuitPayload;
  const ids = new Set(x.nodes.map((n) => n.id));
  x.paths.forEach((e, i) =>
    need(ids.has(e.sender) && ids.has(e.receiver), `paths[${i}] (${e.sender} -> ${e.receiver}) names a node the payload does not have`),
  );
  for (const name of ['effect', 'recovery', 'attribution'] as const) {
    const v = x[name];
    if (!v) continue;
    need(v.length === x.steps.length, `${name} must have one entry per step`);
    for (const row of v) need(row.length === x.paths.length, `${name} entries must have one value per path`);
  }
  if (x.dla) for (const row of x.dla) need(row.length === x.nodes.length, 'dla entries must have one value per node');
  if (x.tests)
    for (const row of x.tests)
      for (const t of row) need(t.path < x.paths.length, `a path test names path ${t.path}, the payload has ${x.paths.length}`);
  for (const name of ['gather', 'aggregate', 'pairs', 'tests'] as const)
    if (x[name]) need(x[name]!.length === x.steps.length, `${name} must have one entry per step`);
  return x;
}

/** Checks a DAS panel payload: its schema, one value per step in every series, the initial group. */
export function checkDas(p: unknown): DasPayload {
  schemaCheck('das', DAS_SCHEMA, p);
  const x = p as DasPayload;
  const C = x.steps.length;
  x.groups.forEach((g, i) => {
    for (const s of g.series) need(s.iia.length === C, `groups[${i}] ${s.method} k ${s.k}: iia must have one value per step`);
    need(g.taskAccuracy.length === C && g.heldoutAccuracy.length === C, `groups[${i}]: accuracies must have one value per step`);
  });
  need(x.initial.group < x.groups.length, `initial.group ${x.initial.group} is not a group`);
  return x;
}

/** Checks a binding grid payload: its schema and the sizes that follow layers, heads, slots and grid. */
export function checkBindingGrid(p: unknown): BindingGridPayload {
  schemaCheck('binding grid', BINDING_GRID_SCHEMA, p, 'bindinggrid');
  const x = p as BindingGridPayload;
  const LH = x.layers * x.heads;
  for (const [name, per] of [
    ['slot', LH * x.slots],
    ['cell', LH * x.grid * x.grid],
    ['target', LH],
    ['query', LH],
  ] as const) {
    const v = x[name];
    need(v.length === x.steps.length, `${name} must have one entry per step`);
    for (const row of v) need(row.length === per, `${name} entries must have ${per} values`);
  }
  if (x.roles) {
    need(x.roles.length === x.steps.length, 'roles must have one entry per step');
    for (const row of x.roles) need(row.length === LH, `roles entries must have ${LH} values`);
  }
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

/**
 * Where the circuit graph puts its nodes (one place for the widget and groundlab's static SVG
 * fallback, src/viz/circuit.ts): columns in forward order (embeddings, then per layer its heads and
 * then its MLP, then the logits), so every path runs left to right; heads stacked by index in their
 * layer's column, an MLP in its own column just after its layer's heads. Coordinates in pixels.
 */
import type { CircuitNode } from './contract.generated';

export interface NodePlace {
  x: number;
  y: number;
}

export interface CircuitLayout {
  width: number;
  height: number;
  /** Node radius. */
  r: number;
  at: Map<string, NodePlace>;
}

/** The column of a node: embed 0, heads of layer l 1 + 2l, the MLP of layer l 2 + 2l, logits 1 + 2 * layers. */
export function nodeColumn(n: Pick<CircuitNode, 'kind' | 'layer'>, layers: number): number {
  if (n.kind === 'embed') return 0;
  if (n.kind === 'logits') return 1 + 2 * layers;
  return 1 + 2 * n.layer + (n.kind === 'mlp' ? 1 : 0);
}

export function circuitLayout(
  nodes: readonly CircuitNode[],
  layers: number,
  heads: number,
  opts: { columnWidth?: number; rowHeight?: number } = {},
): CircuitLayout {
  const cw = opts.columnWidth ?? 72;
  const rh = opts.rowHeight ?? Math.max(22, Math.min(48, Math.floor(480 / Math.max(1, heads))));
  const r = Math.max(6, Math.min(13, Math.floor(rh / 2) - 3));
  const pad = 34;
  const height = pad * 2 + Math.max(1, heads - 1) * rh;
  const mid = height / 2;
  const at = new Map<string, NodePlace>();
  for (const n of nodes) {
    const x = pad + nodeColumn(n, layers) * cw;
    const y = n.kind === 'head' ? pad + (heads === 1 ? (height - 2 * pad) / 2 : (n.head ?? 0) * rh) : mid;
    at.set(n.id, { x, y });
  }
  return { width: pad * 2 + (1 + 2 * layers) * cw, height, r, at };
}

/**
 * The control points of an edge from a sender to a receiver: a cubic curve leaving to the right and
 * entering from the left, `bend` pixels apart for the q, k and v inputs of one head. An edge between
 * two nodes on the middle row (embeddings, MLPs, logits) that skips columns arches upward, so it
 * does not run through the nodes between them.
 */
export function edgeCurve(a: NodePlace, b: NodePlace, lay: Pick<CircuitLayout, 'r' | 'height'>, bend: number): [number, number][] {
  const x0 = a.x + lay.r;
  const x1 = b.x - lay.r;
  const dx = Math.max(24, (x1 - x0) / 2);
  const y1 = b.y + bend;
  const flat = Math.abs(a.y - b.y) < 1 && x1 - x0 > 110;
  const lift = flat ? -Math.min(lay.height / 2 - 10, 14 + (x1 - x0) / 10) : 0;
  return [
    [x0, a.y],
    [x0 + dx, a.y + lift],
    [x1 - dx, y1 + lift],
    [x1, y1],
  ];
}

/** The SVG path of an edge (see edgeCurve). */
export function edgePath(a: NodePlace, b: NodePlace, lay: Pick<CircuitLayout, 'r' | 'height'>, bend: number): string {
  const [p0, p1, p2, p3] = edgeCurve(a, b, lay, bend).map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`);
  return `M${p0} C${p1} ${p2} ${p3}`;
}

/** The point of an edge's curve at t in [0, 1]. */
export function edgePointAt(curve: [number, number][], t: number): { x: number; y: number } {
  const u = 1 - t;
  const w = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
  return { x: w.reduce((s, wi, i) => s + wi * curve[i][0], 0), y: w.reduce((s, wi, i) => s + wi * curve[i][1], 0) };
}

/** Vertical offset of an edge's end at its receiver, by the receiver's input (q above, k level, v below). */
export function inputBend(input: string, r: number): number {
  return input === 'q' ? -r * 0.6 : input === 'v' ? r * 0.6 : 0;
}

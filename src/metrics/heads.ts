/**
 * Gather and aggregate heads (after Bick et al. 2025, as used by the paper), classified from
 * per-head saliency maps S = |A (elementwise) dL/dA| of shape [T, T] (row = query position i,
 * column = key position j, i >= j):
 * - aggregate head: the share of the head's saliency on the cell (prediction position, ENV
 *   position) is at least `aggregateThreshold` (default 0.3): it moves the ENV information to the
 *   position that predicts v<LAN>.
 * - gather head: the share of the head's saliency on the ENV row from strictly preceding positions
 *   (cells (env, j) with j < env) is at least `gatherThreshold` (default 0.3): it moves context
 *   into the ENV position.
 * Shares are computed per evaluation context and averaged over contexts.
 */

export interface HeadThresholds {
  aggregateThreshold: number;
  gatherThreshold: number;
}

export const DEFAULT_HEAD_THRESHOLDS: HeadThresholds = { aggregateThreshold: 0.3, gatherThreshold: 0.3 };

/** Shares of one saliency map. `map` is row-major [T, T]; `T` its side. */
export function saliencyShares(
  map: ArrayLike<number>,
  T: number,
  envPos: number,
  predPos: number,
): { aggregate: number; gather: number; total: number } {
  let total = 0;
  for (let i = 0; i < T * T; i++) total += map[i];
  if (!(total > 0)) return { aggregate: 0, gather: 0, total: 0 };
  let gather = 0;
  for (let j = 0; j < envPos; j++) gather += map[envPos * T + j];
  return { aggregate: map[predPos * T + envPos] / total, gather: gather / total, total };
}

export interface HeadShare {
  layer: number;
  head: number;
  /** Mean aggregate share over contexts. */
  aggregateShare: number;
  /** Mean gather share over contexts. */
  gatherShare: number;
}

export interface HeadClass extends HeadShare {
  aggregate: boolean;
  gather: boolean;
}

export function classifyHeads(shares: readonly HeadShare[], thresholds: Partial<HeadThresholds> = {}): HeadClass[] {
  const t = { ...DEFAULT_HEAD_THRESHOLDS, ...thresholds };
  return shares.map((s) => ({ ...s, aggregate: s.aggregateShare >= t.aggregateThreshold, gather: s.gatherShare >= t.gatherThreshold }));
}

/** Count and mean layer (0-based) of the heads of one kind; meanLayer is NaN when there are none. */
export function headSummary(
  heads: readonly HeadClass[],
  kind: 'aggregate' | 'gather',
): { count: number; meanLayer: number; heads: Array<{ layer: number; head: number }> } {
  const sel = heads.filter((h) => h[kind]);
  const meanLayer = sel.length ? sel.reduce((s, h) => s + h.layer, 0) / sel.length : NaN;
  return { count: sel.length, meanLayer, heads: sel.map((h) => ({ layer: h.layer, head: h.head })) };
}

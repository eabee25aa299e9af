/** A small hand-made payload: 3 layers x 2 heads, 6 tokens, 2 checkpoints. */
import type { InspectorPayload, TimelinePayload, EncodedMap } from '../src/payload';

export const TOKENS = ['<CHI>', 'takes', 'ball<ENV>', '<MOT>', 'look', 'this'];
export const MISMATCH = ['<CHI>', 'takes', 'cup<ENV>', '<MOT>', 'look', 'this'];

/** A causal map whose cell (q, k) is (q * 6 + k) / 35 on and below the diagonal. */
export function lowerValues(n: number): number[] {
  const v: number[] = [];
  for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) v.push(k <= q ? (q * n + k) / (n * n - 1) : 0);
  return v;
}

export function encodeLower(values: number[], n: number, min: number, max: number): string {
  const bytes: number[] = [];
  for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) bytes.push(Math.round(((values[q * n + k] - min) / (max - min)) * 255));
  return Buffer.from(bytes).toString('base64');
}

function map(step: number, variant: 'match' | 'mismatch', kind: 'attention' | 'saliency', layer: number, head: number, scale = 1): EncodedMap {
  const n = TOKENS.length;
  const vals = lowerValues(n).map((x) => x * scale);
  const max = Math.max(...vals);
  return { step, example: 'ex1', variant, kind, layer, head, n, min: 0, max, encoding: 'u8-lower', data: encodeLower(vals, n, 0, max) };
}

export function inspectorPayload(): InspectorPayload {
  const grid = (off: number) => Array.from({ length: 6 }, (_, i) => Number(((i + off) / 10).toFixed(2)));
  return {
    version: 1,
    title: 'Inspector',
    model: 'fixture 3x2',
    link: 'unit',
    layers: 3,
    heads: 2,
    steps: [100, 200],
    scores: { aggregate: [grid(0), grid(1)], gather: [grid(2), grid(3)] },
    thresholds: { aggregate: 0.3 },
    examples: [
      { id: 'ex1', label: 'ex1: ball', variants: { match: { tokens: TOKENS, kinds: ['speaker', 'other', 'ENV', 'speaker', 'other', 'other'], envPos: 2, predPos: 5, target: 'ball<LAN>' }, mismatch: { tokens: MISMATCH, kinds: ['speaker', 'other', 'ENV', 'speaker', 'other', 'other'], envPos: 2, predPos: 5, target: 'ball<LAN>' } } },
      { id: 'ex2', label: 'ex2: only match', variants: { match: { tokens: TOKENS.slice(0, 4), kinds: ['speaker', 'other', 'ENV', 'speaker'], envPos: 2, predPos: 3, target: null } } }
    ],
    maps: [map(200, 'match', 'attention', 2, 1), map(200, 'match', 'saliency', 2, 1, 2), map(200, 'mismatch', 'attention', 2, 1, 0.5), map(100, 'match', 'attention', 1, 0)],
    carried: { maps: 4, omittedMaps: 3, mapBytes: 1000, maxMapBytes: 2000 },
    initial: { step: 200, example: 'ex1', variant: 'match', kind: 'attention', score: 'aggregate', layer: 2, head: 1 }
  };
}

export function timelinePayload(): TimelinePayload {
  return {
    version: 1,
    title: 'Timeline',
    model: 'fixture',
    link: 'unit',
    steps: [100, 150, 200],
    curves: { matchSurprisal: [6, 5, 4], mismatchSurprisal: [6.1, 6, 5.9], infoGain: [0.1, 1, 1.9], aggregateHeads: [0, 1, null] },
    initialStep: 200
  };
}

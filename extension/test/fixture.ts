/** A small hand-made payload: 3 layers x 2 heads, 6 tokens, 2 checkpoints. */
import type { InspectorPayload, TimelinePayload, EncodedMap, CircuitPayload, DasPayload, BindingGridPayload } from '../src/payload';

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

/** A hand-made circuit graph: 2 layers x 2 heads, an MLP in layer 0, 5 paths, 2 checkpoints. */
export function circuitPayload(): CircuitPayload {
  const nodes: CircuitPayload['nodes'] = [
    { id: 'embed', kind: 'embed', layer: -1, head: null },
    { id: 'L0H0', kind: 'head', layer: 0, head: 0 },
    { id: 'L0H1', kind: 'head', layer: 0, head: 1 },
    { id: 'L0.mlp', kind: 'mlp', layer: 0, head: null },
    { id: 'L1H0', kind: 'head', layer: 1, head: 0 },
    { id: 'L1H1', kind: 'head', layer: 1, head: 1 },
    { id: 'logits', kind: 'logits', layer: 2, head: null },
  ];
  return {
    version: 1,
    title: 'Circuit',
    model: 'fixture 2x2',
    link: 'unit',
    layers: 2,
    heads: 2,
    steps: [100, 200],
    nodes,
    paths: [
      { sender: 'L0H0', receiver: 'L1H1', input: 'v' },
      { sender: 'L0H0', receiver: 'L1H1', input: 'k' },
      { sender: 'L0H1', receiver: 'L0.mlp', input: 'mlp' },
      { sender: 'L1H1', receiver: 'logits', input: 'logits' },
      { sender: 'L0.mlp', receiver: 'logits', input: 'logits' },
    ],
    effect: [
      [0.2, 0.01, -0.1, 0.5, 0.02],
      [0.8, 0.05, -0.3, 2, 0.04],
    ],
    recovery: [
      [0.1, 0, -0.05, 0.25, 0.01],
      [0.4, 0.02, -0.15, 1, 0.02],
    ],
    attribution: [
      [0.25, 0.02, -0.05, 0.45, 0],
      [0.7, 0.04, -0.35, 1.9, 0.03],
    ],
    dla: [
      [0.1, 0, 0, 0.05, 0, 1, null],
      [0.2, 0, 0, -0.5, 0, 3, null],
    ],
    gather: [[], ['L0H0']],
    aggregate: [['L1H1'], ['L1H1']],
    tests: [
      [],
      [
        { path: 0, test: 'gather->aggregate', control: 0.1, p: 1e-5, significant: true },
        { path: 3, test: 'aggregate->logits', control: 1.8, p: 0.2, significant: false },
      ],
    ],
    pairs: [12, 12],
    threshold: 0.1,
    maxEdges: 400,
    carried: { paths: 5, omittedPaths: 7 },
    initialStep: 200,
  };
}

/** A hand-made DAS panel: two groups, DAS k 1 and 2 with baselines, 3 checkpoints. */
export function dasPayload(): DasPayload {
  return {
    version: 1,
    title: 'DAS',
    model: 'fixture',
    link: 'unit',
    steps: [0, 10, 100],
    groups: [
      {
        program: 'up-down',
        variables: 'count',
        site: 'blocks.0.state',
        series: [
          { k: 1, method: 'das', iia: [0.1, 0.6, 0.98], pairs: [64, 64, 64] },
          { k: 2, method: 'das', iia: [0.12, 0.7, 0.99] },
          { k: 1, method: 'identity', iia: [0.05, 0.1, 0.15] },
          { k: 2, method: 'identity', iia: [0.06, 0.12, 0.2] },
          { k: 1, method: 'random', iia: [0.04, 0.08, 0.1] },
          { k: 2, method: 'random', iia: [0.05, 0.09, 0.12] },
          { k: 16, method: 'full', iia: [1, 1, 1] },
          { k: 1, method: 'probe', iia: [0.1, 0.3, 0.5] },
        ],
        taskAccuracy: [0, 0.5, 0.999],
        heldoutAccuracy: [0, 0.4, 0.99],
      },
      {
        program: 'up-up',
        variables: 'count',
        site: 'blocks.0.state',
        series: [{ k: 1, method: 'das', iia: [0.1, 0.2, 0.3] }],
        taskAccuracy: [0, 0.5, 0.999],
        heldoutAccuracy: [null, null, null],
      },
    ],
    initialStep: 100,
    initial: { group: 0, k: 1 },
  };
}

/** A hand-made binding grid: 1 layer x 2 heads, 3 slots, a 2 x 2 grid, 2 checkpoints. Head 0 reads slot 0, head 1 cell (1, 1). */
export function bindingGridPayload(): BindingGridPayload {
  const step = (s: number) => ({
    slot: [0.9 * s, 0.05, 0.05, 0.2, 0.3, 0.3],
    cell: [0.3, 0.3, 0.3, null, 0, 0, 0, 0.8 * s],
    target: [0.3, 0.5 * s],
    query: [0.05, 0.1],
  });
  const a = step(0.5);
  const b = step(1);
  return {
    version: 1,
    title: 'Binding grid',
    model: 'fixture',
    link: 'unit',
    layers: 1,
    heads: 2,
    steps: [100, 200],
    slots: 3,
    grid: 2,
    slot: [a.slot, b.slot],
    cell: [a.cell, b.cell],
    target: [a.target, b.target],
    query: [a.query, b.query],
    roles: [
      [null, null],
      ['none', 'feature retrieval'],
    ],
    scenes: 40,
    from: 'the answer position',
    units: 'attention probability',
    initialStep: 200,
    initial: { layer: 0, head: 1 },
  };
}

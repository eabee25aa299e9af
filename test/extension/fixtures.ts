/**
 * Synthetic widget data for tests (NOT measurements): a model of `layers` x `heads` whose
 * "aggregate" heads in the middle layers strengthen over checkpoints, causal attention maps with a
 * bump from the ENV token to the pre-LAN position, and saliency = |A * g| for random g. Deterministic
 * through the seeded Rng. The shapes are those a real run gives; the numbers only need to look alive.
 */
import { Rng } from '../../src/engine/rng';
import type { HeadMap, InspectorData, TimelineData, InspectorExample } from '../../src/viz/widgets';

export interface FixtureOptions {
  layers: number;
  heads: number;
  tokens: number;
  steps: number[];
  examples?: number;
  /** heads per checkpoint whose maps are carried (top by aggregate score) */
  mapsPerStep?: number;
  seed?: number;
  link?: string;
}

const FILLER = ['the', 'look', 'at', 'this', 'you', 'want', 'it', 'there', 'oh', 'good', 'now', 'here'];

function example(id: string, nouns: [string, string], T: number, rng: Rng): InspectorExample {
  const [v, u] = nouns;
  const toks: string[] = [];
  const speakers = ['<CHI>', '<MOT>'];
  while (toks.length < T - 8) {
    toks.push(speakers[rng.int(2)]);
    const len = 2 + rng.int(5);
    for (let i = 0; i < len && toks.length < T - 8; i++) toks.push(rng.next() < 0.15 ? `${['dog', 'cup', 'shoe'][rng.int(3)]}<LAN>` : FILLER[rng.int(FILLER.length)]);
  }
  // the evaluation frame at the end: <CHI> takes v<ENV> from mother <CHI> I love this ->  v<LAN>
  const tail = ['<CHI>', 'takes', `${v}<ENV>`, 'from', '<MOT>', 'I', 'love', 'this'];
  const tokens = [...toks, ...tail].slice(-T);
  const envPos = tokens.length - 6;
  const mism = tokens.slice();
  mism[envPos] = `${u}<ENV>`;
  return {
    id,
    label: `${id}: ${v}`,
    match: { tokens, envPos, predPos: tokens.length - 1, target: `${v}<LAN>` },
    mismatch: { tokens: mism, envPos, predPos: tokens.length - 1, target: `${v}<LAN>` },
  };
}

/** A causal attention map [T, T] with a bump from key `env` at query `pred`. */
function attention(T: number, rng: Rng, strength: number, env: number, pred: number): number[] {
  const out = new Array<number>(T * T).fill(0);
  for (let q = 0; q < T; q++) {
    let z = 0;
    const row: number[] = [];
    for (let k = 0; k <= q; k++) {
      let logit = rng.normal() * 1.2 + (k === q ? 1 : 0) + (k === 0 ? 1.5 : 0);
      if (q === pred && k === env) logit += strength;
      const e = Math.exp(logit);
      row.push(e);
      z += e;
    }
    for (let k = 0; k <= q; k++) out[q * T + k] = row[k] / z;
  }
  return out;
}

export function syntheticInspectorData(o: FixtureOptions): InspectorData {
  const rng = new Rng(o.seed ?? 7);
  const { layers: L, heads: H, tokens: T, steps } = o;
  const C = steps.length;
  const nouns: [string, string][] = [['ball', 'cup'], ['book', 'shoe'], ['dog', 'car']];
  const examples = Array.from({ length: o.examples ?? 2 }, (_, i) => example(`ex${i + 1}`, nouns[i % nouns.length], T, rng.fork(`ex${i}`)));
  // heads in the middle layers become aggregate heads over training; early heads become gather heads
  const aggTarget = Array.from({ length: L * H }, (_, i) => (Math.abs(Math.floor(i / H) - Math.round(L * 0.6)) <= 1 && rng.next() < 0.3 ? 0.35 + 0.4 * rng.next() : 0.08 * rng.next()));
  const gatTarget = Array.from({ length: L * H }, (_, i) => (Math.floor(i / H) < L / 3 && rng.next() < 0.35 ? 0.3 + 0.3 * rng.next() : 0.06 * rng.next()));
  const agg: number[][][] = [];
  const gat: number[][][] = [];
  const share: number[][][] = [];
  for (let c = 0; c < C; c++) {
    const t = C === 1 ? 1 : c / (C - 1);
    const grid = (target: number[]) => Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) => Math.max(0, target[l * H + h] * (0.15 + 0.85 * t) + 0.01 * rng.normal())));
    agg.push(grid(aggTarget));
    gat.push(grid(gatTarget));
    const raw = Array.from({ length: L }, () => Array.from({ length: H }, () => rng.next()));
    const tot = raw.flat().reduce((a, b) => a + b, 0);
    share.push(raw.map((r) => r.map((x) => x / tot)));
  }
  const maps: HeadMap[] = [];
  const per = o.mapsPerStep ?? 4;
  for (let c = 0; c < C; c++) {
    const top = agg[c].flat().map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v).slice(0, per);
    for (const { v, i } of top) {
      for (const variant of ['match', 'mismatch'] as const) {
        const ex = examples[0];
        const ev = ex[variant]!;
        const A = attention(T, rng, variant === 'match' ? 6 * v : 1, ev.envPos, ev.predPos);
        const S = A.map((a) => Math.abs(a * rng.normal()));
        const layer = Math.floor(i / H);
        const head = i % H;
        maps.push({ step: steps[c], example: ex.id, variant, kind: 'attention', layer, head, values: A });
        maps.push({ step: steps[c], example: ex.id, variant, kind: 'saliency', layer, head, values: S });
      }
    }
  }
  // the initial view: the last checkpoint's strongest aggregate head
  const last = agg[C - 1].flat();
  const best = last.indexOf(Math.max(...last));
  return {
    title: 'Attention / saliency inspector',
    model: `synthetic ${L}x${H} fixture`,
    link: o.link ?? 'fixture',
    layers: L,
    heads: H,
    steps,
    scores: { aggregate: agg, gather: gat, saliencyShare: share },
    thresholds: { aggregate: 0.3, gather: 0.3 },
    examples,
    maps,
    initial: { step: steps[C - 1], example: 'ex1', variant: 'match', kind: 'attention', score: 'aggregate', layer: Math.floor(best / H), head: best % H },
  };
}

export function syntheticTimelineData(steps: number[], seed = 3, link = 'fixture'): TimelineData {
  const rng = new Rng(seed);
  const C = steps.length;
  const t = steps.map((_, c) => (C === 1 ? 1 : c / (C - 1)));
  const mis = t.map((x) => 7.5 - 0.8 * x + 0.05 * rng.normal());
  const mat = t.map((x, c) => mis[c] - 3 * x * x - 0.02 * Math.abs(rng.normal()));
  return {
    title: 'Checkpoint timeline',
    model: 'synthetic fixture',
    link,
    steps,
    curves: {
      matchSurprisal: mat,
      mismatchSurprisal: mis,
      infoGain: mat.map((m, c) => mis[c] - m),
      r2Cooccurrence: t.map((x) => 0.6 * Math.sin(Math.PI * Math.min(1, x * 1.4)) + 0.05),
      gatherHeads: t.map((x) => Math.round(1 + 6 * x)),
      aggregateHeads: t.map((x) => Math.round(7 * x * x)),
    },
    initialStep: steps[C - 1],
  };
}

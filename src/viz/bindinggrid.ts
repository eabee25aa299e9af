/**
 * The binding grid view's producer (extension/src/bindinggrid.ts renders it): for scene binding runs
 * (src/data/binding.ts), which object slot and which grid cell each head reads from the answer
 * position. Per head: its token-mixing row at the query's last token (the `?`, where the answer is
 * predicted; or the cue) read at the layer's mixing hook as the architecture's anatomy names it
 * (attention, SSD or GLA patterns alike: no case by architecture name), summed over each object's
 * 6 slot tokens (colour shape `at` x y `;`) and averaged over evaluation scenes:
 *   slot[s]      mean weight on slot s, over scenes with more than s objects
 *   cell[y][x]   mean weight on the object at cell (x, y), over scenes with an object there
 *   target       mean weight on the queried object's slot
 *   query        mean weight on the query's 4 tokens
 * and, where `groundlab binding` classified the checkpoint (analysis/binding, section role), each
 * head's role (ID retrieval, ID selection, feature retrieval, none).
 * The widget computes nothing: these numbers are what the bundle carries.
 */
import { GroundlabError } from '../errors';
import type { AnalysisRun } from '../analysis/analyze';
import type { LanguageModel } from '../models/types';
import type { Tokenizer } from '../data/types';
import { mixingHooks } from '../analysis/saliency';
import { ATTENTION_MAP_UNIT, MIXING_MAP_UNIT } from '../analysis/inspect';
import { lengthBatches, padTokens, checkLengths } from '../eval/surprisal';
import {
  bindingEvalScenes,
  bindingKnobs,
  promptTokens,
  slotStart,
  QUERY_TOKENS,
  SLOT_TOKENS,
  type BindingQuery,
  type BindingScene,
} from '../data/binding';
import type { BindingGridPayload } from '../../extension/src/contract.generated';
import { bad, ensureSteps, esc, initialStepIn, num, payloadHead } from './bundle';
import type { MimeBundle } from './widgets';

export type { BindingGridPayload };

export const BINDING_GRID_MIME = 'application/vnd.groundlab.bindinggrid+json';

/** Which query position's row is read: the last prompt token (the `?`, default) or the cue (the token naming the object). */
export type BindingReadPosition = 'answer' | 'cue';

export const READ_POSITION_TEXT: Record<BindingReadPosition, string> = {
  answer: 'the answer position (the query\'s "?", whose next token is the answer)',
  cue: "the query's cue (the feature naming the object)",
};

/** What each head reads at one checkpoint; flat layer-major arrays as in the payload (null: no scene has that slot / cell). */
export interface BindingReads {
  layers: number;
  heads: number;
  slots: number;
  grid: number;
  slot: (number | null)[];
  cell: (number | null)[];
  target: (number | null)[];
  query: (number | null)[];
  scenes: number;
  /** The mixing kind of the model's layers (attention, ssd, gla). */
  kind: string;
}

/**
 * Per-head reads of one model over `scenes` (see the file comment). `grid` and `slots` size the
 * tables (the corpus's grid side and most objects). Layers without a mixing matrix get nulls.
 */
export async function bindingReads(
  model: LanguageModel,
  tokenizer: Tokenizer,
  scenes: readonly BindingScene[],
  o: { grid: number; slots: number; position?: BindingReadPosition; batchSize?: number; signal?: AbortSignal },
): Promise<BindingReads> {
  const mix = mixingHooks(model);
  if (!mix)
    throw new GroundlabError(
      'UNSUPPORTED',
      `this ${model.arch} has no token-mixing matrices (attention, SSD or GLA): no head reads a position`,
      {
        hint: "the binding grid needs a layer whose anatomy names a mixing hook; for recurrent models use the binding analyses' mediation (groundlab binding)",
      },
    );
  if (!scenes.length) bad('binding grid: no scenes', 'give at least one scene (bindingEvalScenes)');
  const { grid: G, slots: S } = o;
  const L = model.anatomy.layers.length;
  const H = mix.heads;
  const seqs = scenes.map((s, i) => {
    if (s.objects.length > S) bad(`binding grid: scene ${i} has ${s.objects.length} objects, more than slots = ${S}`);
    for (const ob of s.objects)
      if (!(ob.x >= 0 && ob.x < G && ob.y >= 0 && ob.y < G))
        bad(`binding grid: scene ${i} has an object at (${ob.x}, ${ob.y}), outside the ${G} x ${G} grid`);
    return { ids: tokenizer.encode(promptTokens(s)) };
  });
  checkLengths(model, seqs);
  const slotSum = new Float64Array(L * H * S);
  const slotN = new Float64Array(S);
  const cellSum = new Float64Array(L * H * G * G);
  const cellN = new Float64Array(G * G);
  const targetSum = new Float64Array(L * H);
  let targetN = 0;
  const querySum = new Float64Array(L * H);
  for (const idx of lengthBatches(seqs, o.batchSize ?? 32)) {
    if (o.signal?.aborted) throw new GroundlabError('ABORTED', 'the binding grid was stopped');
    const tokens = padTokens(idx.map((i) => seqs[i]));
    const T = tokens.shape[1];
    const { logits, cache } = model.runWithCache(tokens, { names: mix.names });
    logits.dispose();
    tokens.dispose();
    try {
      for (let m = 0; m < mix.names.length; m++) {
        const l = mix.layers[m];
        const a = await cache.get(mix.names[m]).data(); // [B, H, T, T]
        const Hm = cache.get(mix.names[m]).shape[1] as number;
        idx.forEach((i, b) => {
          const s = scenes[i];
          const len = seqs[i].ids.length;
          const pos = o.position === 'cue' ? len - 2 : len - 1;
          for (let h = 0; h < Hm; h++) {
            const row = (b * Hm + h) * T * T + pos * T;
            const lh = l * H + h;
            s.objects.forEach((ob, si) => {
              let mass = 0;
              const t0 = slotStart(si);
              for (let t = t0; t < t0 + SLOT_TOKENS; t++) mass += a[row + t];
              slotSum[lh * S + si] += mass;
              cellSum[lh * G * G + ob.y * G + ob.x] += mass;
              if (si === s.target) targetSum[lh] += mass;
            });
            let q = 0;
            for (let t = len - QUERY_TOKENS; t <= pos; t++) q += a[row + t];
            querySum[lh] += q;
          }
        });
      }
    } finally {
      cache.dispose();
    }
    for (const i of idx) {
      const s = scenes[i];
      s.objects.forEach((ob, si) => {
        slotN[si]++;
        cellN[ob.y * G + ob.x]++;
      });
      if (s.target >= 0 && s.target < s.objects.length) targetN++;
    }
    await new Promise((r) => setImmediate(r));
  }
  const mixed = new Set(mix.layers);
  const mean = (sum: Float64Array, n: (j: number) => number, per: number) =>
    Array.from(sum, (v, j) => (mixed.has(Math.floor(j / per / H)) && n(j) > 0 ? v / n(j) : null));
  return {
    layers: L,
    heads: H,
    slots: S,
    grid: G,
    slot: mean(slotSum, (j) => slotN[j % S], S),
    cell: mean(cellSum, (j) => cellN[j % (G * G)], G * G),
    target: mean(targetSum, () => targetN, 1),
    query: mean(querySum, () => scenes.length, 1),
    scenes: scenes.length,
    kind: mix.kind,
  };
}

export interface BindingGridData {
  title?: string;
  model?: string;
  link?: string;
  steps: number[];
  /** One BindingReads per step (same layers, heads, slots, grid and scenes). */
  reads: BindingReads[];
  position?: BindingReadPosition;
  units?: string;
  /** roles[c][layer * heads + head]: the head's binding role at steps[c] (classifyBindingHeads), null where not classified. */
  roles?: Array<Array<string | null>>;
  initialStep?: number;
  initial?: { layer?: number; head?: number };
}

/** The binding grid's payload (the JSON under BINDING_GRID_MIME). */
export function bindingGridPayload(d: BindingGridData): BindingGridPayload {
  ensureSteps(d.steps, 'binding grid');
  const C = d.steps.length;
  if (!Array.isArray(d.reads) || d.reads.length !== C) bad(`binding grid: ${d.reads?.length ?? 0} reads for ${C} steps (one per step)`);
  const r0 = d.reads[0];
  const { layers: L, heads: H, slots: S, grid: G } = r0;
  for (const [name, v] of [
    ['layers', L],
    ['heads', H],
    ['slots', S],
    ['grid', G],
    ['scenes', r0.scenes],
  ] as const)
    if (!Number.isInteger(v) || v < 1) bad(`binding grid: ${name} = ${v} must be a positive integer`);
  d.reads.forEach((r, c) => {
    if (r.layers !== L || r.heads !== H || r.slots !== S || r.grid !== G)
      bad(`binding grid: reads[${c}] is ${r.layers}x${r.heads} heads, ${r.slots} slots, grid ${r.grid}; reads[0] is ${L}x${H}, ${S}, ${G}`);
    for (const [name, v, n] of [
      ['slot', r.slot, L * H * S],
      ['cell', r.cell, L * H * G * G],
      ['target', r.target, L * H],
      ['query', r.query, L * H],
    ] as const)
      if (v.length !== n) bad(`binding grid: reads[${c}].${name} has ${v.length} values, expected ${n}`);
  });
  const init = d.initial ?? {};
  // the head reading the queried object most at the last step, unless told
  let best = { layer: 0, head: 0 };
  const last = d.reads[C - 1].target;
  let bv = -Infinity;
  last.forEach((v, j) => {
    if (v != null && v > bv) [bv, best] = [v, { layer: Math.floor(j / H), head: j % H }];
  });
  const initial = { layer: init.layer ?? best.layer, head: init.head ?? best.head };
  if (!(
    Number.isInteger(initial.layer) &&
    initial.layer >= 0 &&
    initial.layer < L &&
    Number.isInteger(initial.head) &&
    initial.head >= 0 &&
    initial.head < H
  ))
    bad(`binding grid: initial head L${initial.layer}H${initial.head} is outside ${L} layers x ${H} heads`);
  const initialStep = initialStepIn(d.steps, d.initialStep, 'binding grid');
  const pick = (f: 'slot' | 'cell' | 'target' | 'query') => d.reads.map((r) => r[f].map((x) => num(x)));
  if (d.roles) {
    if (d.roles.length !== C) bad(`binding grid: roles has ${d.roles.length} checkpoints, steps has ${C}`);
    d.roles.forEach((r, c) => {
      if (r.length !== L * H) bad(`binding grid: roles[${c}] has ${r.length} values, expected layers*heads = ${L * H}`);
    });
  }
  return {
    version: 1,
    ...payloadHead(d, 'Binding: which slot and cell each head reads'),
    layers: L,
    heads: H,
    steps: [...d.steps],
    slots: S,
    grid: G,
    slot: pick('slot'),
    cell: pick('cell'),
    target: pick('target'),
    query: pick('query'),
    ...(d.roles && d.roles.some((r) => r.some((x) => x != null))
      ? { roles: d.roles.map((r) => r.map((x) => (x == null ? null : String(x)))) }
      : {}),
    scenes: r0.scenes,
    from: READ_POSITION_TEXT[d.position ?? 'answer'],
    units: d.units ?? MIXING_MAP_UNIT[r0.kind] ?? ATTENTION_MAP_UNIT,
    initialStep,
    initial,
  };
}

function blue(t: number): string {
  const x = Math.max(0, Math.min(1, t));
  return `rgb(${Math.round(255 - 230 * x)},${Math.round(255 - 142 * x)},${Math.round(255 - 61 * x)})`;
}

function bindingGridSvg(p: BindingGridPayload): string {
  const c = p.steps.indexOf(p.initialStep);
  const { layers: L, heads: H, slots: S, grid: G } = p;
  const cs = Math.max(6, Math.min(14, Math.floor(84 / Math.max(G, S))));
  const bw = Math.max(G, S) * cs + 22;
  const bh = (G + 1) * cs + 40;
  const W = Math.max(560, 60 + H * bw);
  const Hh = 50 + L * bh + 10;
  const vals = [...p.cell[c], ...p.slot[c]].filter((v): v is number => v != null);
  const hi = Math.max(1e-9, ...vals);
  const out: string[] = [
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(p.title)}${p.model ? ' — ' + esc(p.model) : ''}</text>`,
    `<text x="10" y="34" font-size="11">step ${p.initialStep}: per head, the weight from ${esc(p.from)} on each grid cell (square) and slot (strip), ${p.scenes} scenes; colours 0..${num(hi)}; static image: install groundlab-widgets</text>`,
  ];
  for (let l = 0; l < L; l++)
    for (let h = 0; h < H; h++) {
      const ox = 40 + h * bw;
      const oy = 50 + l * bh;
      const lh = l * H + h;
      out.push(`<text x="${ox}" y="${oy + 9}" font-size="9">L${l}H${h} target ${p.target[c][lh] ?? 'n/a'}</text>`);
      for (let y = 0; y < G; y++)
        for (let x = 0; x < G; x++) {
          const v = p.cell[c][lh * G * G + y * G + x];
          out.push(
            `<rect x="${ox + x * cs}" y="${oy + 14 + y * cs}" width="${cs - 1}" height="${cs - 1}" fill="${v == null ? '#eee' : blue(v / hi)}"><title>L${l}H${h} cell (${x}, ${y}): ${v ?? 'n/a'}</title></rect>`,
          );
        }
      for (let s = 0; s < S; s++) {
        const v = p.slot[c][lh * S + s];
        out.push(
          `<rect x="${ox + s * cs}" y="${oy + 18 + G * cs}" width="${cs - 1}" height="${cs - 1}" fill="${v == null ? '#eee' : blue(v / hi)}"><title>L${l}H${h} slot ${s}: ${v ?? 'n/a'}</title></rect>`,
        );
      }
    }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" viewBox="0 0 ${W} ${Hh}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${out.join('')}</svg>`;
}

function bindingGridText(p: BindingGridPayload): string {
  const c = p.steps.indexOf(p.initialStep);
  const top = p.target[c]
    .map((v, j) => ({ v, j }))
    .filter((x) => x.v != null)
    .sort((a, b) => b.v! - a.v!)
    .slice(0, 5);
  return (
    `${p.title}${p.model ? ` (${p.model})` : ''}: ${p.layers} layers x ${p.heads} heads, ${p.slots} slots, grid ${p.grid} x ${p.grid}, ${p.scenes} scenes, ${p.steps.length} checkpoints\n` +
    `heads reading the queried object most at step ${p.initialStep}: ` +
    top.map((x) => `L${Math.floor(x.j / p.heads)}H${x.j % p.heads}=${x.v}`).join(', ')
  );
}

/** The full MIME bundle of the binding grid: JSON payload + static SVG + text. */
export function bindingGridBundle(d: BindingGridData): MimeBundle {
  const p = bindingGridPayload(d);
  return { [BINDING_GRID_MIME]: p, 'image/svg+xml': bindingGridSvg(p), 'text/plain': bindingGridText(p) };
}

export interface BindingGridOptions {
  /** Checkpoints (default: every checkpoint of the run). */
  steps?: number[];
  /** Evaluation scenes per object count (default 30), seeded. */
  perCount?: number;
  seed?: number;
  /** Query kind of the scenes (default: the training mix). */
  query?: BindingQuery;
  position?: BindingReadPosition;
  link?: string;
  batchSize?: number;
  signal?: AbortSignal;
}

/** Binding grid data of a scene binding run: `bindingReads` at each checkpoint on the same seeded evaluation scenes. */
export async function bindingGridData(run: AnalysisRun, o: BindingGridOptions = {}): Promise<BindingGridData> {
  const corpus = run.config?.corpus;
  if (corpus?.kind !== 'binding')
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `run ${run.dir} was trained on a "${corpus?.kind ?? 'unknown'}" corpus; the binding grid needs a scene binding run`,
      {
        hint: 'train one with `groundlab train --corpus-kind binding --arch transformer --preset quick --out runs/bind-quick`',
        codeHint: 'train one with `train({ out: "runs/bind-quick", arch: "transformer", preset: "quick", corpus: { kind: "binding" } })`',
      },
    );
  const k = bindingKnobs(corpus.knobs);
  const have = run.checkpoints.map((c) => c.step);
  const steps = o.steps ?? have;
  for (const s of steps)
    if (!have.includes(s))
      throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint at step ${s}`, {
        hint: `available steps: ${have.join(', ')}`,
      });
  const counts = Array.from({ length: k.maxObjects - k.minObjects + 1 }, (_, i) => k.minObjects + i);
  const scenes = bindingEvalScenes(k, { counts, perCount: o.perCount ?? 30, seed: `${o.seed ?? 0}/grid`, query: o.query });
  const reads: BindingReads[] = [];
  for (const step of steps) {
    const model = await run.loadModel(step);
    try {
      reads.push(
        await bindingReads(model, run.tokenizer, scenes, {
          grid: k.grid,
          slots: k.maxObjects,
          position: o.position,
          batchSize: o.batchSize,
          signal: o.signal,
        }),
      );
    } finally {
      model.dispose();
    }
  }
  // the roles of classified checkpoints (groundlab binding / bindingRun), shown beside each head
  const table = ((await run.readTable('analysis/binding'))?.objects() ?? []) as Array<Record<string, unknown>>;
  const L = reads[0]?.layers ?? 0;
  const H = reads[0]?.heads ?? 0;
  const roles = steps.map((s) => {
    const out: Array<string | null> = new Array(L * H).fill(null);
    for (const r of table) {
      const m = /^L(\d+)H(\d+)$/.exec(String(r.name));
      if (Number(r.step) !== s || r.section !== 'role' || !m) continue;
      if (Number(m[1]) < L && Number(m[2]) < H) out[Number(m[1]) * H + Number(m[2])] = String(r.kind);
    }
    return out;
  });
  return {
    title: 'Binding: which slot and cell each head reads',
    model: run.dir,
    link: o.link ?? run.dir,
    steps,
    reads,
    position: o.position,
    ...(roles.some((r) => r.some((x) => x != null)) ? { roles } : {}),
  };
}

/** The binding grid of a run, ready for `display()`: `await display(await bindingGrid(run))`. */
export async function bindingGrid(run: AnalysisRun, o: BindingGridOptions = {}): Promise<MimeBundle> {
  return bindingGridBundle(await bindingGridData(run, o));
}

/**
 * Scene binding, symbolic text variant (seed 002's binding task, issue 20): a scene of n objects,
 * each with a colour, a shape and a grid cell, written one object per slot, then a query:
 *
 *   <bos> red square at 2 3 ; blue circle at 0 1 ; colour of square ? red <eos>
 *
 * Every object takes 6 tokens (colour shape `at` x y `;`), so slot i starts at position 1 + 6i and
 * the query (4 tokens) starts at 1 + 6n. Queries (knob `queries`): `colour of <shape> ?` -> colour,
 * `shape of <colour> ?` -> shape (a feature given another feature), `where is <shape> ? x y` (the
 * pointing task: two answer tokens) and `how many objects ? n` (counting). Within a scene colours,
 * shapes and cells are distinct, so every query has one answer, and that answer needs binding: the
 * scene holds every colour and shape it mentions, only their pairing says which goes with which.
 * Conjunction distractors make that explicit: with probability `pTwin` a training scene is followed
 * by its twin, the same words with the queried attribute of the target and another object exchanged
 * (blue square with red circle for `colour of square ?`), whose answer differs. Held-out combinations (knob `heldOut`, default the diagonal: colour i with
 * shape i) never appear in a training scene; evaluation scenes query them.
 *
 * The loss counts only the answer tokens and `<eos>` (the scene's words are random). The vocabulary
 * is fixed by the knobs (same ids for every seed).
 *
 * Counterfactuals (`bindingCounterfactual`) pair a base scene with a source scene of the same length
 * and give the answer expected when one causal variable is carried from the source into the base:
 * - `swap-slots`: the queried object and another exchange slots (text order; each keeps its cell).
 *   The source's answer equals the base's; its position ID differs. Expected (variable `id`): the
 *   attribute of the base object in the source's target slot.
 * - `change-feature`: the queried object's answer feature becomes one absent from the scene.
 *   Expected (variable `feature`): the new feature (the source's answer).
 * - `change-cue`: the query's cue names another object of the same scene (the queried attribute
 *   value changes). Expected (variable `cue`): that object's attribute (the source's answer).
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { CorpusSpec, Episode, Tokenizer } from './types';
import { BOS, EOS } from './tokens';
import { WordTokenizer } from './tokenizer';
import { answerLossMask, checkRowLength, SequenceRowsDataset } from './dataset';
import type { LoadedCorpus } from './prepare';
import { EntityDataset, entityEpisodes, entityKnobs, entityTokenizer, generateEntities } from './textbinding';
import { ImageBindingDataset, imageBindingKnobs, patchFeatureDim } from './imagebinding';

export type BindingQuery = 'colour' | 'shape' | 'where' | 'count';
export const BINDING_QUERIES: readonly BindingQuery[] = ['colour', 'shape', 'where', 'count'];

export const BINDING_COLOURS = ['red', 'blue', 'green', 'yellow', 'purple', 'orange', 'pink', 'brown', 'grey', 'white'] as const;
export const BINDING_SHAPES = ['square', 'circle', 'triangle', 'star', 'heart', 'diamond', 'cross', 'moon', 'ring', 'arrow'] as const;

/** Tokens per object slot (colour shape at x y ;) and per query (4). */
export const SLOT_TOKENS = 6;
export const QUERY_TOKENS = 4;

export interface BindingKnobs {
  /** Colours and shapes in use (the first n of BINDING_COLOURS / BINDING_SHAPES). */
  colours: number;
  shapes: number;
  /** Grid side (cells 0..grid-1 on each axis). */
  grid: number;
  /** Objects per scene, uniform in minObjects..maxObjects. */
  minObjects: number;
  maxObjects: number;
  /** Query kinds of the training scenes, uniform. */
  queries: BindingQuery[];
  /** Held-out "colour-shape" combinations, or the diagonal (colour i with shape i). */
  heldOut: string[];
  /** Training scenes (twins included). */
  sequences: number;
  /** Probability that a training scene is followed by its conjunction twin. */
  pTwin: number;
  /** Queries per training row: the first, then `queriesPerScene - 1` more after its answer (more answers to learn from per row). */
  queriesPerScene: number;
}

export const BINDING_DEFAULTS: Omit<BindingKnobs, 'heldOut'> = {
  colours: 8,
  shapes: 8,
  grid: 4,
  minObjects: 2,
  maxObjects: 6,
  queries: ['colour', 'shape'],
  sequences: 20000,
  pTwin: 0.5,
  queriesPerScene: 1,
};

export interface BindingObject {
  colour: string;
  shape: string;
  x: number;
  y: number;
}

/** A scene with its query: `target` is the slot of the queried object (-1 for count). */
export interface BindingScene {
  objects: BindingObject[];
  query: BindingQuery;
  target: number;
  /** Further queries of a training row, each after the previous answer (knob queriesPerScene). */
  more?: Array<{ query: BindingQuery; target: number }>;
}

const combo = (c: string, s: string) => `${c}-${s}`;

/** The diagonal held-out set: colour i with shape i. */
export function diagonalHeldOut(colours: number, shapes: number): string[] {
  return Array.from({ length: Math.min(colours, shapes) }, (_, i) => combo(BINDING_COLOURS[i], BINDING_SHAPES[i]));
}

export function bindingColours(k: Pick<BindingKnobs, 'colours'>): string[] {
  return BINDING_COLOURS.slice(0, k.colours);
}
export function bindingShapes(k: Pick<BindingKnobs, 'shapes'>): string[] {
  return BINDING_SHAPES.slice(0, k.shapes);
}

/** Knobs from a corpus spec's `knobs` (queries as "colour/shape/where"; heldOut as "red-square/blue-circle", "diagonal" or "none"); bad values name the knob. */
export function bindingKnobs(knobs: CorpusSpec['knobs'] = {}): BindingKnobs {
  const k = { ...BINDING_DEFAULTS, queries: [...BINDING_DEFAULTS.queries] } as BindingKnobs;
  let heldOut: string | undefined;
  const known = [
    'variant',
    'colours',
    'shapes',
    'grid',
    'minObjects',
    'maxObjects',
    'queries',
    'heldOut',
    'sequences',
    'pTwin',
    'queriesPerScene',
  ];
  for (const [key, v] of Object.entries(knobs ?? {})) {
    const bad = (want: string) => new GroundlabError('BAD_CONFIG', `binding knob ${key} = ${JSON.stringify(v)}: expected ${want}`);
    const int = (min: number, max = Infinity) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw bad(`a whole number in ${min}..${max}`);
      return n;
    };
    if (key === 'variant') {
      if (v !== 'scenes')
        throw bad('"scenes" (the knobs of variants "entities" and "image" are read in src/data/textbinding.ts, imagebinding.ts)');
    } else if (key === 'colours') k.colours = int(2, BINDING_COLOURS.length);
    else if (key === 'shapes') k.shapes = int(2, BINDING_SHAPES.length);
    else if (key === 'grid') k.grid = int(1, 10);
    else if (key === 'minObjects') k.minObjects = int(1);
    else if (key === 'maxObjects') k.maxObjects = int(1);
    else if (key === 'sequences') k.sequences = int(1);
    else if (key === 'queriesPerScene') k.queriesPerScene = int(1, 8);
    else if (key === 'pTwin') {
      const p = Number(v);
      if (!(p >= 0 && p <= 1)) throw bad('a probability in [0, 1]');
      k.pTwin = p;
    } else if (key === 'queries') {
      const qs = String(v)
        .split(/[\/;, ]+/)
        .filter(Boolean);
      if (!qs.length || qs.some((q) => !BINDING_QUERIES.includes(q as BindingQuery)))
        throw bad(`query kinds separated by "/", from ${BINDING_QUERIES.join(', ')}`);
      k.queries = qs as BindingQuery[];
    } else if (key === 'heldOut') heldOut = String(v).trim();
    else throw new GroundlabError('BAD_CONFIG', `unknown binding knob "${key}"`, { hint: `binding knobs: ${known.join(', ')}` });
  }
  if (k.minObjects > k.maxObjects)
    throw new GroundlabError('BAD_CONFIG', `binding knobs minObjects ${k.minObjects} > maxObjects ${k.maxObjects}`, {
      hint: 'set minObjects <= maxObjects',
    });
  const most = Math.min(k.colours, k.shapes, k.grid * k.grid);
  if (k.maxObjects > most)
    throw new GroundlabError(
      'BAD_CONFIG',
      `binding knob maxObjects = ${k.maxObjects}: a scene's colours, shapes and cells are distinct, so at most ${most} objects fit (colours ${k.colours}, shapes ${k.shapes}, grid ${k.grid} x ${k.grid})`,
      { hint: `lower maxObjects to ${most} or raise colours / shapes / grid` },
    );
  if (heldOut === undefined || heldOut === 'diagonal') k.heldOut = diagonalHeldOut(k.colours, k.shapes);
  else if (heldOut === '' || heldOut === 'none') k.heldOut = [];
  else {
    const cs = new Set(bindingColours(k));
    const ss = new Set(bindingShapes(k));
    k.heldOut = heldOut
      .split(/[\/;, ]+/)
      .filter(Boolean)
      .map((x) => {
        const [c, s] = x.split('-');
        if (!cs.has(c) || !ss.has(s))
          throw new GroundlabError('BAD_CONFIG', `binding knob heldOut: "${x}" is not a colour-shape combination of this corpus`, {
            hint: `write e.g. heldOut=${combo(BINDING_COLOURS[0], BINDING_SHAPES[1])}/${combo(BINDING_COLOURS[1], BINDING_SHAPES[0])}, diagonal or none; colours ${[...cs].join(' ')}; shapes ${[...ss].join(' ')}`,
          });
        return combo(c, s);
      });
  }
  return k;
}

/** The tokens of one object slot. */
export function objectTokens(o: BindingObject): string[] {
  return [o.colour, o.shape, 'at', String(o.x), String(o.y), ';'];
}

/** The query's 4 tokens. */
export function queryTokens(s: BindingScene): string[] {
  const t = s.objects[s.target];
  if (s.query === 'colour') return ['colour', 'of', t.shape, '?'];
  if (s.query === 'shape') return ['shape', 'of', t.colour, '?'];
  if (s.query === 'where') return ['where', 'is', t.shape, '?'];
  return ['how', 'many', 'objects', '?'];
}

/** The answer tokens (before `<eos>`). */
export function answerTokens(s: BindingScene): string[] {
  const t = s.objects[s.target];
  if (s.query === 'colour') return [t.colour];
  if (s.query === 'shape') return [t.shape];
  if (s.query === 'where') return [String(t.x), String(t.y)];
  return [String(s.objects.length)];
}

/** `<bos>`, the slots, the query: the model predicts the answer after its last token. */
export function promptTokens(s: BindingScene): string[] {
  return [BOS, ...s.objects.flatMap(objectTokens), ...queryTokens(s)];
}

/** The whole sequence: prompt, answer, the further queries with their answers, `<eos>`. */
export function sceneTokens(s: BindingScene): string[] {
  return sceneLayout(s).tokens;
}

/** The tokens and the indices of the answer tokens of every query. */
function sceneLayout(s: BindingScene): { tokens: string[]; answers: number[] } {
  return bindingLayout(s);
}

/**
 * A scene's sequence with the indices of its answer tokens: `head` (default `<bos>` and the text
 * slots; the image variant's patches), the query, the answer, the further queries, `<eos>`.
 */
export function bindingLayout(s: BindingScene, head?: readonly string[]): { tokens: string[]; answers: number[] } {
  const tokens = head ? [...head, ...queryTokens(s)] : [...promptTokens(s)];
  const answers: number[] = [];
  const add = (q: BindingScene) => {
    for (const a of answerTokens(q)) {
      answers.push(tokens.length);
      tokens.push(a);
    }
  };
  add(s);
  for (const m of s.more ?? []) {
    const q = { objects: s.objects, query: m.query, target: m.target };
    tokens.push(...queryTokens(q));
    add(q);
  }
  tokens.push(EOS);
  return { tokens, answers };
}

/** Position of slot i's first token (its colour), and of the query's cue token. */
export const slotStart = (slot: number): number => 1 + SLOT_TOKENS * slot;
export const cuePosition = (nObjects: number): number => 1 + SLOT_TOKENS * nObjects + 2;

/** The fixed vocabulary: specials, colours, shapes, digits, then the structure words. */
export function bindingTokenizer(k: Pick<BindingKnobs, 'colours' | 'shapes' | 'grid' | 'maxObjects'>): WordTokenizer {
  const digits = Array.from({ length: Math.max(k.grid, k.maxObjects + 1, 10) }, (_, i) => String(i));
  const words = [
    ...bindingColours(k),
    ...bindingShapes(k),
    ...digits,
    'at',
    ';',
    'colour',
    'shape',
    'where',
    'how',
    'many',
    'of',
    'is',
    'objects',
    '?',
  ];
  return new WordTokenizer({ nouns: [], words });
}

function heldSet(k: BindingKnobs): Set<string> {
  return new Set(k.heldOut);
}

/** Whether an object's colour-shape combination is held out. */
export function isHeldOut(k: BindingKnobs, o: Pick<BindingObject, 'colour' | 'shape'>): boolean {
  return heldSet(k).has(combo(o.colour, o.shape));
}

export interface SceneOptions {
  query?: BindingQuery;
  /** 'exclude': no object has a held-out combination (training); 'target': the queried object has one (evaluation); 'any'. */
  heldOut?: 'exclude' | 'target' | 'any';
}

/** One scene of n objects (distinct colours, shapes and cells) with a query, drawn with rng. */
export function bindingScene(k: BindingKnobs, n: number, rng: Rng, opts: SceneOptions = {}): BindingScene {
  if (!Number.isInteger(n) || n < 1 || n > Math.min(k.colours, k.shapes, k.grid * k.grid))
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `a binding scene of ${n} objects: expected 1..${Math.min(k.colours, k.shapes, k.grid * k.grid)} (distinct colours, shapes and cells)`,
    );
  const mode = opts.heldOut ?? 'exclude';
  const held = heldSet(k);
  if (mode === 'target' && !held.size)
    throw new GroundlabError('BAD_ARGUMENT', 'held-out evaluation scenes need held-out combinations (the knob heldOut is none)');
  const query = opts.query ?? k.queries[rng.int(k.queries.length)];
  for (let attempt = 0; attempt < 1000; attempt++) {
    const cols = rng.shuffle(bindingColours(k)).slice(0, n);
    const shps = rng.shuffle(bindingShapes(k)).slice(0, n);
    const cells = rng.shuffle(Array.from({ length: k.grid * k.grid }, (_, i) => i)).slice(0, n);
    const objects = cols.map((c, i) => ({ colour: c, shape: shps[i], x: cells[i] % k.grid, y: Math.floor(cells[i] / k.grid) }));
    const target = query === 'count' ? -1 : rng.int(n);
    const isHeld = objects.map((o) => held.has(combo(o.colour, o.shape)));
    if (mode === 'exclude' && isHeld.some(Boolean)) continue;
    if (mode === 'target' && !(target >= 0 && isHeld[target] && isHeld.filter(Boolean).length === 1)) continue;
    return { objects, query, target };
  }
  // Rejection failed (e.g. too many held-out combinations for this n): say so.
  throw new GroundlabError(
    'BAD_CONFIG',
    `could not draw a ${n}-object binding scene ${mode === 'exclude' ? 'without held-out combinations' : 'whose target alone is held out'} in 1000 tries`,
    { hint: 'hold out fewer colour-shape combinations (knob heldOut) or use more colours and shapes' },
  );
}

/** The conjunction twin: the target and another object exchange the queried attribute (the cue stays): the same words, other bindings, another answer. Undefined for count queries or a single object. */
export function conjunctionTwin(s: BindingScene, rng: Rng): BindingScene | undefined {
  const n = s.objects.length;
  if (s.target < 0 || n < 2) return undefined;
  let j = rng.int(n - 1);
  if (j >= s.target) j++;
  const objects = s.objects.map((o) => ({ ...o }));
  const a = objects[s.target];
  const b = objects[j];
  if (s.query === 'colour') [a.colour, b.colour] = [b.colour, a.colour];
  else if (s.query === 'shape') [a.shape, b.shape] = [b.shape, a.shape];
  else [a.x, a.y, b.x, b.y] = [b.x, b.y, a.x, a.y];
  return { objects, query: s.query, target: s.target, ...(s.more ? { more: s.more } : {}) };
}

/** The training scenes: `sequences` of them, object counts uniform in minObjects..maxObjects, twins with probability pTwin, no held-out combination. */
export function generateBinding(k: BindingKnobs, seed: number): BindingScene[] {
  const rng = new Rng(`${seed}/binding-train`);
  const out: BindingScene[] = [];
  const span = k.maxObjects - k.minObjects + 1;
  while (out.length < k.sequences) {
    const s = bindingScene(k, k.minObjects + rng.int(span), rng, { heldOut: 'exclude' });
    if (k.queriesPerScene > 1)
      s.more = Array.from({ length: k.queriesPerScene - 1 }, () => {
        const query = k.queries[rng.int(k.queries.length)];
        return { query, target: query === 'count' ? -1 : rng.int(s.objects.length) };
      });
    out.push(s);
    if (out.length < k.sequences && rng.next() < k.pTwin) {
      const t = conjunctionTwin(s, rng);
      if (t && !t.objects.some((o) => isHeldOut(k, o))) out.push(t);
    }
  }
  return out;
}

/** Evaluation scenes: `perCount` for each object count, seeded; `heldOut: 'target'` queries held-out combinations. */
export function bindingEvalScenes(
  k: BindingKnobs,
  o: { counts: readonly number[]; perCount: number; seed: number | string; query?: BindingQuery; heldOut?: 'exclude' | 'target' | 'any' },
): BindingScene[] {
  const rng = new Rng(`${o.seed}/binding-eval/${o.heldOut ?? 'exclude'}/${o.query ?? 'mixed'}`);
  const out: BindingScene[] = [];
  for (const n of o.counts)
    for (let i = 0; i < o.perCount; i++) out.push(bindingScene(k, n, rng, { query: o.query, heldOut: o.heldOut ?? 'exclude' }));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Counterfactuals

export type BindingCounterfactualKind = 'swap-slots' | 'change-feature' | 'change-cue';
export const BINDING_COUNTERFACTUALS: readonly BindingCounterfactualKind[] = ['swap-slots', 'change-feature', 'change-cue'];

/** The causal variable each counterfactual carries from source to base. */
export const COUNTERFACTUAL_VARIABLE: Record<BindingCounterfactualKind, 'id' | 'feature' | 'cue'> = {
  'swap-slots': 'id',
  'change-feature': 'feature',
  'change-cue': 'cue',
};

export interface BindingCounterfactual {
  kind: BindingCounterfactualKind;
  base: BindingScene;
  source: BindingScene;
  /** The base scene's answer token. */
  baseAnswer: string;
  /** The source scene's answer token. */
  sourceAnswer: string;
  /** The answer expected in the base run when the kind's variable is taken from the source. */
  expected: string;
}

function attr(s: BindingScene, slot: number): string {
  const o = s.objects[slot];
  return s.query === 'colour' ? o.colour : o.shape;
}

/** A counterfactual of a colour or shape query (one answer token); rng picks the other object or the new feature. */
export function bindingCounterfactual(
  k: BindingKnobs,
  kind: BindingCounterfactualKind,
  base: BindingScene,
  rng: Rng,
): BindingCounterfactual {
  if (base.query !== 'colour' && base.query !== 'shape')
    throw new GroundlabError('BAD_ARGUMENT', `counterfactuals need a colour or shape query (one answer token), not "${base.query}"`);
  const n = base.objects.length;
  const other = () => {
    let j = rng.int(n - 1);
    if (j >= base.target) j++;
    return j;
  };
  const baseAnswer = attr(base, base.target);
  if (kind === 'change-feature') {
    const used = new Set(base.objects.map((o) => (base.query === 'colour' ? o.colour : o.shape)));
    const pool = (base.query === 'colour' ? bindingColours(k) : bindingShapes(k)).filter((f) => !used.has(f));
    const t = base.objects[base.target];
    const ok = pool.filter(
      (f) => !isHeldOut(k, base.query === 'colour' ? { colour: f, shape: t.shape } : { colour: t.colour, shape: f }) || isHeldOut(k, t),
    );
    if (!ok.length)
      throw new GroundlabError(
        'BAD_CONFIG',
        `change-feature needs a ${base.query} absent from the scene: ${n} objects use all ${used.size}`,
        { hint: `use scenes of fewer objects or raise the knob ${base.query}s` },
      );
    const f = ok[rng.int(ok.length)];
    const objects = base.objects.map((o) => ({ ...o }));
    if (base.query === 'colour') objects[base.target].colour = f;
    else objects[base.target].shape = f;
    return { kind, base, source: { objects, query: base.query, target: base.target }, baseAnswer, sourceAnswer: f, expected: f };
  }
  if (n < 2) throw new GroundlabError('BAD_ARGUMENT', `${kind} needs a scene of at least 2 objects`);
  const j = other();
  if (kind === 'change-cue') {
    const source = { objects: base.objects, query: base.query, target: j };
    return { kind, base, source, baseAnswer, sourceAnswer: attr(source, j), expected: attr(source, j) };
  }
  if (kind === 'swap-slots') {
    const objects = base.objects.map((o) => ({ ...o }));
    [objects[base.target], objects[j]] = [objects[j], objects[base.target]];
    const source = { objects, query: base.query, target: j };
    return { kind, base, source, baseAnswer, sourceAnswer: attr(source, j), expected: attr(base, j) };
  }
  throw new GroundlabError('BAD_ARGUMENT', `unknown binding counterfactual "${String(kind)}"`, {
    hint: `kinds: ${BINDING_COUNTERFACTUALS.join(', ')}`,
  });
}

/** `count` counterfactuals of one kind on scenes of `counts` objects (colour or shape queries), seeded. */
export function bindingCounterfactuals(
  k: BindingKnobs,
  o: {
    kind: BindingCounterfactualKind;
    counts: readonly number[];
    count: number;
    seed: number | string;
    query?: 'colour' | 'shape';
    heldOut?: 'exclude' | 'any';
  },
): BindingCounterfactual[] {
  const rng = new Rng(`${o.seed}/binding-cf/${o.kind}`);
  const out: BindingCounterfactual[] = [];
  for (let i = 0; i < o.count; i++) {
    const n = o.counts[i % o.counts.length];
    const q = o.query ?? (rng.int(2) === 0 ? 'colour' : 'shape');
    out.push(bindingCounterfactual(k, o.kind, bindingScene(k, n, rng, { query: q, heldOut: o.heldOut ?? 'exclude' }), rng));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Training rows

/** [len - 1] 1 where target t (token t + 1) is an answer token or `<eos>`. */
export function bindingLossMask(s: BindingScene): Uint8Array {
  const { tokens, answers } = sceneLayout(s);
  return answerLossMask(tokens.length, answers);
}

/** One row per scene, padded to seqLen + 1 ids; the mask keeps the answer and `<eos>`. */
export class BindingDataset extends SequenceRowsDataset {
  constructor(
    readonly scenes: readonly BindingScene[],
    tokenizer: Tokenizer,
    seqLen: number,
  ) {
    super(checkedScenes(scenes, seqLen), scenes.map(bindingLossMask), tokenizer, seqLen);
  }
}

/** The scenes' tokens, each checked to fit seqLen + 1. */
function checkedScenes(scenes: readonly BindingScene[], seqLen: number): string[][] {
  return scenes.map((s) => {
    const toks = sceneTokens(s);
    // the most objects that fit: what the queries, answers, <bos> and <eos> leave
    const most = () => Math.floor((seqLen + 1 - (toks.length - SLOT_TOKENS * s.objects.length)) / SLOT_TOKENS);
    checkRowLength(toks.length, seqLen, `a binding scene of ${s.objects.length} objects`, 'maxObjects', most);
    return toks;
  });
}

/** Scenes as episodes (one turn each, the tokens after `<bos>` as its utterance), for the corpus statistics. */
export function bindingEpisodes(scenes: readonly BindingScene[]): Episode[] {
  return scenes.map((s, i) => ({
    id: `bind-${i}`,
    turns: [{ speaker: BOS, env: { situation: [], before: [], during: [], after: [] }, utterance: sceneTokens(s).slice(1) }],
  }));
}

// ---------------------------------------------------------------------------------------------
// Variants of the binding corpus kind

/** The variants of `kind: "binding"` (knob `variant`): symbolic scenes (default), text entity groups (src/data/textbinding.ts) or scenes as patches (src/data/imagebinding.ts). */
export type BindingVariant = 'scenes' | 'entities' | 'image';
export const BINDING_VARIANTS: readonly BindingVariant[] = ['scenes', 'entities', 'image'];

export function bindingVariant(knobs: CorpusSpec['knobs'] = {}): BindingVariant {
  const v = knobs?.variant ?? 'scenes';
  if (!BINDING_VARIANTS.includes(v as BindingVariant))
    throw new GroundlabError('BAD_CONFIG', `binding knob variant = ${JSON.stringify(v)}: expected one of ${BINDING_VARIANTS.join(', ')}`);
  return v as BindingVariant;
}

/** The binding corpus of a spec, in its variant: what `prepareData` needs (fixed tokenizer, one row per scene). */
export function loadBindingCorpus(spec: CorpusSpec): LoadedCorpus {
  const seed = spec.seed ?? 0;
  if (bindingVariant(spec.knobs) === 'entities') {
    const k = entityKnobs(spec.knobs);
    const scenes = generateEntities(k, seed);
    return {
      episodes: entityEpisodes(scenes),
      nouns: [],
      evalFrames: [],
      featureDim: 0,
      tokenizer: entityTokenizer(k),
      dataset: (tok, seqLen) => new EntityDataset(scenes, tok, seqLen),
    };
  }
  if (bindingVariant(spec.knobs) === 'image') {
    const k = imageBindingKnobs(spec.knobs);
    const scenes = generateBinding(k, seed);
    return {
      episodes: bindingEpisodes(scenes),
      nouns: [],
      evalFrames: [],
      featureDim: patchFeatureDim(k),
      tokenizer: bindingTokenizer(k),
      dataset: (tok, seqLen) => new ImageBindingDataset(k, scenes, tok, seqLen),
    };
  }
  const k = bindingKnobs(spec.knobs);
  const scenes = generateBinding(k, seed);
  return {
    episodes: bindingEpisodes(scenes),
    nouns: [],
    evalFrames: [],
    featureDim: 0,
    tokenizer: bindingTokenizer(k),
    dataset: (tok, seqLen) => new BindingDataset(scenes, tok, seqLen),
  };
}

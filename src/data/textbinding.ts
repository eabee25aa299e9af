/**
 * Text entity binding (seed 004, "Mixing Mechanisms"; issue 20 item 4): n entity groups, each a
 * person bound to an item, then a query about one group:
 *
 *   <bos> ann loves pie . bob loves tea . cat loves jam . who loves tea ? bob <eos>
 *
 * A group takes 4 tokens (entity `loves` item `.`), so group i starts at position 1 + 4i and the
 * query (4 tokens) starts at 1 + 4n. Queries (knob `queries`): `who loves <item> ?` -> the entity,
 * `<entity> loves what ?` -> the item. Knob `queryMark=none` drops the `?` (3-token queries), so a
 * `who` query ends on its cue item and the answer is predicted at the cue itself, the form of
 * associative-recall tasks (key then value): the lookup needs no step that first moves the cue to
 * `?`. Entities and items are distinct within a context, so the answer is one token and needs the
 * binding (every entity and item of the context is there; only their pairing answers). A corpus
 * variant of the binding kind: `--corpus-kind binding --knob variant=entities,...`. The loss counts
 * only the answer tokens and `<eos>`.
 *
 * Mechanism counterfactuals (`entityCounterfactual`): a source context with the same entities and
 * items bound in another order and another query, drawn so that the three retrieval mechanisms of
 * seed 004 predict three different base entities when the source's state at the last position
 * replaces the base's:
 * - positional: the base's answer-side token in the group at the source answer's position;
 * - lexical: the base's answer-side token bound to the source query's cue (the item in `who loves tea ?`);
 * - reflexive: the source's answer token itself (a direct pointer to that token).
 * With 4 or more groups none of them is the base's own answer.
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { CorpusSpec, Episode, Tokenizer } from './types';
import { BOS, EOS } from './tokens';
import { WordTokenizer } from './tokenizer';
import { answerLossMask, SequenceRowsDataset } from './dataset';

export const ENTITY_NAMES = [
  'ann',
  'bob',
  'cat',
  'dan',
  'eve',
  'fay',
  'gus',
  'hal',
  'ivy',
  'jon',
  'kim',
  'lee',
  'max',
  'ned',
  'oli',
  'pam',
] as const;
export const ENTITY_ITEMS = [
  'pie',
  'tea',
  'jam',
  'rice',
  'soup',
  'cake',
  'milk',
  'fish',
  'corn',
  'plum',
  'figs',
  'eggs',
  'nuts',
  'beans',
  'bread',
  'honey',
] as const;

export type EntityQuery = 'who' | 'what';
export const ENTITY_QUERIES: readonly EntityQuery[] = ['who', 'what'];
/** Whether a query ends with `?` (`end`) or on its last word (`none`). */
export type QueryMark = 'end' | 'none';
export const QUERY_MARKS: readonly QueryMark[] = ['end', 'none'];

/** Tokens per entity group (entity loves item .). */
export const GROUP_TOKENS = 4;

export interface EntityKnobs {
  variant: 'entities';
  /** Names and items in use (the first n of ENTITY_NAMES / ENTITY_ITEMS). */
  names: number;
  items: number;
  /** Groups per context, uniform in minGroups..maxGroups. */
  minGroups: number;
  maxGroups: number;
  queries: EntityQuery[];
  sequences: number;
  /** Queries per training row (the first, then more after each answer). */
  queriesPerScene: number;
  queryMark: QueryMark;
}

export const ENTITY_DEFAULTS: EntityKnobs = {
  variant: 'entities',
  names: 12,
  items: 12,
  minGroups: 2,
  maxGroups: 10,
  queries: ['who'],
  sequences: 20000,
  queriesPerScene: 1,
  queryMark: 'end',
};

export interface EntityGroup {
  entity: string;
  item: string;
}

/** A context with its query: `target` is the queried group. */
export interface EntityScene {
  groups: EntityGroup[];
  query: EntityQuery;
  target: number;
  more?: Array<{ query: EntityQuery; target: number }>;
  /** Absent: `end`. */
  mark?: QueryMark;
}

/** Knobs of the entity variant (the `variant` knob included); bad values name the knob. */
export function entityKnobs(knobs: CorpusSpec['knobs'] = {}): EntityKnobs {
  const k: EntityKnobs = { ...ENTITY_DEFAULTS, queries: [...ENTITY_DEFAULTS.queries] };
  const known = ['variant', 'names', 'items', 'minGroups', 'maxGroups', 'queries', 'sequences', 'queriesPerScene', 'queryMark'];
  for (const [key, v] of Object.entries(knobs ?? {})) {
    const bad = (want: string) =>
      new GroundlabError('BAD_CONFIG', `binding knob ${key} = ${JSON.stringify(v)} (variant entities): expected ${want}`);
    const int = (min: number, max = Infinity) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw bad(`a whole number in ${min}..${max}`);
      return n;
    };
    if (key === 'variant') {
      if (v !== 'entities') throw bad('"entities"');
    } else if (key === 'names') k.names = int(2, ENTITY_NAMES.length);
    else if (key === 'items') k.items = int(2, ENTITY_ITEMS.length);
    else if (key === 'minGroups') k.minGroups = int(1);
    else if (key === 'maxGroups') k.maxGroups = int(1);
    else if (key === 'sequences') k.sequences = int(1);
    else if (key === 'queriesPerScene') k.queriesPerScene = int(1, 32);
    else if (key === 'queryMark') {
      if (!QUERY_MARKS.includes(v as QueryMark)) throw bad(`one of ${QUERY_MARKS.join(', ')}`);
      k.queryMark = v as QueryMark;
    } else if (key === 'queries') {
      const qs = String(v)
        .split(/[\/;, ]+/)
        .filter(Boolean);
      if (!qs.length || qs.some((q) => !ENTITY_QUERIES.includes(q as EntityQuery)))
        throw bad(`query kinds separated by "/", from ${ENTITY_QUERIES.join(', ')}`);
      k.queries = qs as EntityQuery[];
    } else
      throw new GroundlabError('BAD_CONFIG', `unknown binding knob "${key}" for variant entities`, {
        hint: `knobs of variant entities: ${known.join(', ')}`,
      });
  }
  if (k.minGroups > k.maxGroups)
    throw new GroundlabError('BAD_CONFIG', `binding knobs minGroups ${k.minGroups} > maxGroups ${k.maxGroups}`, {
      hint: 'set minGroups <= maxGroups',
    });
  const most = Math.min(k.names, k.items);
  if (k.maxGroups > most)
    throw new GroundlabError(
      'BAD_CONFIG',
      `binding knob maxGroups = ${k.maxGroups}: the entities and items of a context are distinct, so at most ${most} groups fit (names ${k.names}, items ${k.items})`,
      { hint: `lower maxGroups to ${most} or raise names / items (at most ${ENTITY_NAMES.length})` },
    );
  return k;
}

export const entityNames = (k: Pick<EntityKnobs, 'names'>): string[] => ENTITY_NAMES.slice(0, k.names);
export const entityItems = (k: Pick<EntityKnobs, 'items'>): string[] => ENTITY_ITEMS.slice(0, k.items);

/** The tokens of one group. */
export const groupTokens = (g: EntityGroup): string[] => [g.entity, 'loves', g.item, '.'];

/** The query's tokens about group `target`: 4, or 3 without the `?` (mark `none`). */
export function entityQueryTokens(s: Pick<EntityScene, 'groups' | 'query' | 'target' | 'mark'>): string[] {
  const g = s.groups[s.target];
  const words = s.query === 'who' ? ['who', 'loves', g.item] : [g.entity, 'loves', 'what'];
  return s.mark === 'none' ? words : [...words, '?'];
}

/** What a query asks for (the answer side) and what it names (the cue side). */
export const answerSide = (q: EntityQuery): keyof EntityGroup => (q === 'who' ? 'entity' : 'item');
export const cueSide = (q: EntityQuery): keyof EntityGroup => (q === 'who' ? 'item' : 'entity');

export function entityAnswer(s: Pick<EntityScene, 'groups' | 'query' | 'target'>): string {
  return s.groups[s.target][answerSide(s.query)];
}

/** `<bos>`, the groups, the query: the model predicts the answer after its last token. */
export function entityPromptTokens(s: EntityScene): string[] {
  return [BOS, ...s.groups.flatMap(groupTokens), ...entityQueryTokens(s)];
}

function entityLayout(s: EntityScene): { tokens: string[]; answers: number[] } {
  const tokens = entityPromptTokens(s);
  const answers = [tokens.length];
  tokens.push(entityAnswer(s));
  for (const m of s.more ?? []) {
    const q = { groups: s.groups, mark: s.mark, ...m };
    tokens.push(...entityQueryTokens(q));
    answers.push(tokens.length);
    tokens.push(entityAnswer(q));
  }
  tokens.push(EOS);
  return { tokens, answers };
}

/** The whole sequence: prompt, answer, further queries with their answers, `<eos>`. */
export const entitySceneTokens = (s: EntityScene): string[] => entityLayout(s).tokens;

/** Position of group i's first token (its entity). */
export const groupStart = (group: number): number => 1 + GROUP_TOKENS * group;

/** The fixed vocabulary: specials, names, items, structure words. */
export function entityTokenizer(k: Pick<EntityKnobs, 'names' | 'items'>): WordTokenizer {
  return new WordTokenizer({ nouns: [], words: [...entityNames(k), ...entityItems(k), 'loves', '.', 'who', 'what', '?'] });
}

/** One context of n groups (distinct entities and items) with a query, drawn with rng. */
export function entityScene(k: EntityKnobs, n: number, rng: Rng, opts: { query?: EntityQuery; target?: number } = {}): EntityScene {
  const most = Math.min(k.names, k.items);
  if (!Number.isInteger(n) || n < 1 || n > most)
    throw new GroundlabError('BAD_ARGUMENT', `an entity context of ${n} groups: expected 1..${most} (distinct names and items)`);
  if (opts.target !== undefined && !(Number.isInteger(opts.target) && opts.target >= 0 && opts.target < n))
    throw new GroundlabError('BAD_ARGUMENT', `target group ${opts.target} of a context of ${n} groups: expected 0..${n - 1}`);
  const names = rng.shuffle(entityNames(k)).slice(0, n);
  const items = rng.shuffle(entityItems(k)).slice(0, n);
  const query = opts.query ?? k.queries[rng.int(k.queries.length)];
  const scene: EntityScene = { groups: names.map((entity, i) => ({ entity, item: items[i] })), query, target: opts.target ?? rng.int(n) };
  if (k.queryMark !== 'end') scene.mark = k.queryMark;
  return scene;
}

/** The training contexts: group counts uniform in minGroups..maxGroups. Deterministic in the seed. */
export function generateEntities(k: EntityKnobs, seed: number): EntityScene[] {
  const rng = new Rng(`${seed}/entities-train`);
  const span = k.maxGroups - k.minGroups + 1;
  return Array.from({ length: k.sequences }, () => {
    const s = entityScene(k, k.minGroups + rng.int(span), rng);
    if (k.queriesPerScene > 1)
      s.more = Array.from({ length: k.queriesPerScene - 1 }, () => ({
        query: k.queries[rng.int(k.queries.length)],
        target: rng.int(s.groups.length),
      }));
    return s;
  });
}

/** Evaluation contexts: for each group count, `perSlot` contexts querying each slot (so accuracy by slot has equal cells). */
export function entityEvalScenes(
  k: EntityKnobs,
  o: { counts: readonly number[]; perSlot: number; seed: number | string; query?: EntityQuery },
): EntityScene[] {
  const rng = new Rng(`${o.seed}/entities-eval/${o.query ?? 'mixed'}`);
  const out: EntityScene[] = [];
  for (const n of o.counts)
    for (let t = 0; t < n; t++) for (let i = 0; i < o.perSlot; i++) out.push(entityScene(k, n, rng, { query: o.query, target: t }));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mechanism counterfactuals

export interface EntityCounterfactual {
  base: EntityScene;
  source: EntityScene;
  baseAnswer: string;
  sourceAnswer: string;
  /** What each mechanism predicts in the base run given the source's state at the last position. */
  positional: string;
  lexical: string;
  reflexive: string;
  /** The source answer's group index (the position the positional mechanism carries). */
  sourcePosition: number;
  /** The base's answer-side tokens in group order (the candidates of the mixture model). */
  candidates: string[];
}

/** What the three mechanisms predict for a (base, source) pair of the same query kind and token sets. */
export function mechanismPredictions(base: EntityScene, source: EntityScene): { positional: string; lexical: string; reflexive: string } {
  const a = answerSide(base.query);
  const c = cueSide(base.query);
  const cue = source.groups[source.target][c];
  const lexGroup = base.groups.findIndex((g) => g[c] === cue);
  if (source.query !== base.query || source.groups.length !== base.groups.length || lexGroup < 0)
    throw new GroundlabError(
      'BAD_ARGUMENT',
      'a mechanism counterfactual needs a source with the same query kind, group count and tokens as its base',
    );
  return {
    positional: base.groups[source.target][a],
    lexical: base.groups[lexGroup][a],
    reflexive: source.groups[source.target][a],
  };
}

/**
 * A source for `base` (rng): the base's entities and items, each list permuted, and a query about
 * another group, redrawn until the three mechanisms predict three different base tokens (and, with
 * 4 or more groups, none the base's answer). Needs 3 or more groups.
 */
export function entityCounterfactual(base: EntityScene, rng: Rng): EntityCounterfactual {
  const n = base.groups.length;
  if (n < 3)
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `mechanism counterfactuals need 3 or more groups (three mechanisms, three answers), not ${n}`,
      {
        hint: 'draw the pairs from contexts of 3..maxGroups groups',
      },
    );
  const baseAnswer = entityAnswer(base);
  for (let attempt = 0; attempt < 10000; attempt++) {
    const ents = rng.shuffle(base.groups.map((g) => g.entity));
    const items = rng.shuffle(base.groups.map((g) => g.item));
    const source: EntityScene = { groups: ents.map((entity, i) => ({ entity, item: items[i] })), query: base.query, target: rng.int(n) };
    if (base.mark) source.mark = base.mark;
    const p = mechanismPredictions(base, source);
    const three = new Set([p.positional, p.lexical, p.reflexive]);
    if (three.size < 3) continue;
    if (n >= 4 && three.has(baseAnswer)) continue;
    return {
      base,
      source,
      baseAnswer,
      sourceAnswer: entityAnswer(source),
      ...p,
      sourcePosition: source.target,
      candidates: base.groups.map((g) => g[answerSide(base.query)]),
    };
  }
  throw new GroundlabError('INTERNAL', `no mechanism counterfactual found for a context of ${n} groups`);
}

/** `count` pairs on contexts of `counts` groups (cycled), the base's queried group uniform; seeded. */
export function entityCounterfactuals(
  k: EntityKnobs,
  o: { counts: readonly number[]; count: number; seed: number | string; query?: EntityQuery },
): EntityCounterfactual[] {
  const rng = new Rng(`${o.seed}/entities-cf`);
  return Array.from({ length: o.count }, (_, i) =>
    entityCounterfactual(entityScene(k, o.counts[i % o.counts.length], rng, { query: o.query }), rng),
  );
}

// ---------------------------------------------------------------------------------------------
// Training rows

/** [len - 1] 1 where the target is an answer token or `<eos>`. */
export function entityLossMask(s: EntityScene): Uint8Array {
  const { tokens, answers } = entityLayout(s);
  return answerLossMask(tokens.length, answers);
}

/** One row per context, padded to seqLen + 1 ids; the mask keeps the answers and `<eos>`. */
export class EntityDataset extends SequenceRowsDataset {
  constructor(
    readonly scenes: readonly EntityScene[],
    tokenizer: Tokenizer,
    seqLen: number,
  ) {
    const toks = scenes.map((s) => {
      const t = entitySceneTokens(s);
      if (t.length > seqLen + 1) {
        const most = Math.floor((seqLen + 1 - (t.length - GROUP_TOKENS * s.groups.length)) / GROUP_TOKENS);
        throw new GroundlabError(
          'BAD_CONFIG',
          `an entity context of ${s.groups.length} groups has ${t.length} tokens, more than seqLen + 1 = ${seqLen + 1}`,
          {
            hint: `lower the knob maxGroups to ${most} or raise --seq-len to ${t.length - 1}`,
            codeHint: `lower the knob maxGroups to ${most} or raise \`seqLen\` to ${t.length - 1}`,
          },
        );
      }
      return t;
    });
    super(toks, scenes.map(entityLossMask), tokenizer, seqLen);
  }
}

/** Contexts as episodes (one turn each), for the corpus statistics. */
export function entityEpisodes(scenes: readonly EntityScene[]): Episode[] {
  return scenes.map((s, i) => ({
    id: `ent-${i}`,
    turns: [{ speaker: BOS, env: { situation: [], before: [], during: [], after: [] }, utterance: entitySceneTokens(s).slice(1) }],
  }));
}

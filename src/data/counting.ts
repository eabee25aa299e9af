/**
 * Counting tasks (numeric equivalence, seed 003): a demo phase of n object tokens, a trigger, a
 * response phase that must produce exactly n response tokens, then an end token.
 *
 *   <bos> obj1 obj2 ... objn trig resp resp ... resp end        (n responses)
 *
 * Variants (knob `task`):
 * - `multi`  (Multi-Object): each demo token is drawn uniformly from `objectTypes` tokens obj0..obj{k-1};
 *   the response token is `resp`.
 * - `single` (Single-Object): every demo token is `obj`; the response token is `resp`.
 * - `same`   (Same-Object): demo and response tokens are both `obj`.
 *
 * Every sequence is one training row (padded with `<pad>`); the loss counts only where the target
 * is a response or the end token (targets after `trig` and after each response: the demo phase,
 * whose tokens are random, is not predicted). Counts are 1..maxCount, uniform, except the held-out
 * counts (default 4, 9, 14, 17), which never occur in training. The vocabulary is fixed by the
 * knobs (same ids for every seed).
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { CorpusSpec, Episode, Tokenizer } from './types';
import { BOS } from './tokens';
import { WordTokenizer } from './tokenizer';
import { checkRowLength, SequenceRowsDataset } from './dataset';

export type CountingTask = 'multi' | 'single' | 'same';
export const COUNTING_TASKS: readonly CountingTask[] = ['multi', 'single', 'same'];

export const TRIGGER = 'trig';
export const RESPONSE = 'resp';
export const END = 'end';

export interface CountingKnobs {
  task: CountingTask;
  /** Largest count (counts are 1..maxCount). */
  maxCount: number;
  /** Counts never used in training (held out for evaluation). */
  heldOut: number[];
  /** Training sequences. */
  sequences: number;
  /** Object types of the Multi-Object task. */
  objectTypes: number;
}

export const COUNTING_DEFAULTS: CountingKnobs = { task: 'multi', maxCount: 20, heldOut: [4, 9, 14, 17], sequences: 8000, objectTypes: 3 };

/** The role of each token of a counting sequence. */
export type CountRole = 'bos' | 'demo' | 'trigger' | 'response' | 'end';

/** One sequence: its tokens, the role of each, the count n and where the trigger is. */
export interface CountingSequence {
  tokens: string[];
  roles: CountRole[];
  count: number;
  trigger: number;
}

/** Knobs from a corpus spec's `knobs` (heldOut as "4/9/14/17", "4;9" or "none"); bad values name the knob. */
export function countingKnobs(knobs: CorpusSpec['knobs'] = {}): CountingKnobs {
  const k: CountingKnobs = { ...COUNTING_DEFAULTS, heldOut: [...COUNTING_DEFAULTS.heldOut] };
  const known = ['task', 'maxCount', 'heldOut', 'sequences', 'objectTypes'];
  for (const [key, v] of Object.entries(knobs ?? {})) {
    const bad = (want: string) => new GroundlabError('BAD_CONFIG', `counting knob ${key} = ${JSON.stringify(v)}: expected ${want}`);
    const int = (min: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw bad(`a whole number >= ${min}`);
      return n;
    };
    if (key === 'task') {
      if (!COUNTING_TASKS.includes(v as CountingTask)) throw bad(`one of ${COUNTING_TASKS.join(', ')}`);
      k.task = v as CountingTask;
    } else if (key === 'maxCount') k.maxCount = int(1);
    else if (key === 'sequences') k.sequences = int(1);
    else if (key === 'objectTypes') k.objectTypes = int(1);
    else if (key === 'heldOut') {
      const s = String(v).trim();
      k.heldOut =
        s === '' || s === 'none'
          ? []
          : s.split(/[\/;, ]+/).map((x) => {
              const n = Number(x);
              if (!Number.isInteger(n) || n < 1) throw bad('counts separated by "/", e.g. 4/9/14/17, or none');
              return n;
            });
    } else throw new GroundlabError('BAD_CONFIG', `unknown counting knob "${key}"`, { hint: `counting knobs: ${known.join(', ')}` });
  }
  if (trainCounts(k).length === 0)
    throw new GroundlabError(
      'BAD_CONFIG',
      `counting knobs leave no training count (maxCount ${k.maxCount}, heldOut ${k.heldOut.join('/')})`,
    );
  return k;
}

/** Counts used in training: 1..maxCount without the held-out ones. */
export function trainCounts(k: CountingKnobs): number[] {
  const held = new Set(k.heldOut);
  return Array.from({ length: k.maxCount }, (_, i) => i + 1).filter((n) => !held.has(n));
}

/** Demo object tokens of a task. */
export function demoTokens(k: Pick<CountingKnobs, 'task' | 'objectTypes'>): string[] {
  return k.task === 'multi' ? Array.from({ length: k.objectTypes }, (_, i) => `obj${i}`) : ['obj'];
}

/** The response token of a task (`obj` for Same-Object). */
export function responseToken(task: CountingTask): string {
  return task === 'same' ? 'obj' : RESPONSE;
}

/** The fixed vocabulary: specials, then the task's words. */
export function countingTokenizer(k: Pick<CountingKnobs, 'task' | 'objectTypes'>): WordTokenizer {
  const words = [...new Set([...demoTokens(k), TRIGGER, responseToken(k.task), END])];
  return new WordTokenizer({ nouns: [], words });
}

/** One sequence of count n (demo objects drawn with rng for the Multi-Object task). */
export function countingSequence(k: Pick<CountingKnobs, 'task' | 'objectTypes'>, n: number, rng: Rng): CountingSequence {
  if (!Number.isInteger(n) || n < 0) throw new GroundlabError('BAD_ARGUMENT', `count ${n}: expected a whole number >= 0`);
  const demo = demoTokens(k);
  const tokens = [BOS];
  const roles: CountRole[] = ['bos'];
  for (let i = 0; i < n; i++) {
    tokens.push(demo.length === 1 ? demo[0] : demo[rng.int(demo.length)]);
    roles.push('demo');
  }
  const trigger = tokens.length;
  tokens.push(TRIGGER);
  roles.push('trigger');
  const r = responseToken(k.task);
  for (let i = 0; i < n; i++) {
    tokens.push(r);
    roles.push('response');
  }
  tokens.push(END);
  roles.push('end');
  return { tokens, roles, count: n, trigger };
}

/** Sequences of the given counts, `perCount` each, seeded. */
export function countingSequences(
  k: CountingKnobs,
  counts: readonly number[],
  perCount: number,
  seed: number | string,
): CountingSequence[] {
  const rng = new Rng(`${seed}/counting`);
  const out: CountingSequence[] = [];
  for (const n of counts) for (let i = 0; i < perCount; i++) out.push(countingSequence(k, n, rng));
  return out;
}

/** The training sequences: `sequences` of them, counts uniform over the training counts. */
export function generateCounting(k: CountingKnobs, seed: number): CountingSequence[] {
  const rng = new Rng(`${seed}/counting-train`);
  const counts = trainCounts(k);
  return Array.from({ length: k.sequences }, () => countingSequence(k, counts[rng.int(counts.length)], rng));
}

/** [len - 1] 1 where target t (token t + 1) is a response or the end token. */
export function countingLossMask(s: CountingSequence): Uint8Array {
  const m = new Uint8Array(s.tokens.length - 1);
  for (let t = 0; t + 1 < s.tokens.length; t++) m[t] = s.roles[t + 1] === 'response' || s.roles[t + 1] === 'end' ? 1 : 0;
  return m;
}

/** One row per sequence, padded to seqLen + 1 ids; the mask keeps the response phase and the end token. */
export class CountingDataset extends SequenceRowsDataset {
  constructor(
    readonly sequences: readonly CountingSequence[],
    tokenizer: Tokenizer,
    seqLen: number,
  ) {
    super(checkedCounting(sequences, seqLen), sequences.map(countingLossMask), tokenizer, seqLen);
  }
}

/** The sequences' tokens, each checked to fit seqLen + 1. */
function checkedCounting(sequences: readonly CountingSequence[], seqLen: number): string[][] {
  return sequences.map((s) => {
    checkRowLength(s.tokens.length, seqLen, `a counting sequence of count ${s.count}`, 'maxCount', () => Math.floor((seqLen - 2) / 2));
    return s.tokens;
  });
}

/** Sequences as episodes (one turn each, the tokens after `<bos>` as its utterance), for the corpus statistics. */
export function countingEpisodes(seqs: readonly CountingSequence[]): Episode[] {
  return seqs.map((s, i) => ({
    id: `count-${i}`,
    turns: [{ speaker: s.tokens[0], env: { situation: [], before: [], during: [], after: [] }, utterance: s.tokens.slice(1) }],
  }));
}

/**
 * Built-in probing tasks of the grounding domain, built deterministically from a run's data:
 *
 * - `env-noun`: which noun's ENV token is in context. Held-out evaluation frames (the contexts
 *   G is measured on) filled with each noun's `v<ENV>`; read at the pre-LAN position (the frame's
 *   last token, whose next token would be `v<LAN>`); label = the noun. The frame is the split
 *   group: probes are cross-validated leaving whole frames out (a probe trained with noun v in
 *   other frames would otherwise be scored on frame f against nouns it saw in f). With `source: 'episodes'`
 *   the contexts come from the corpus instead: every `v<LAN>` whose `v<ENV>` is in the L tokens
 *   before it, read at the position just before `v<LAN>`.
 * - `grounded`: is the next LAN word grounded? At every position just before a `v<LAN>` of a noun
 *   of interest in the corpus: 1 when `v<ENV>` is among the L tokens the model sees (the context
 *   window), else 0. Classes are balanced by seeded subsampling (default).
 * - `speaker`: the speaker of the current turn, read at one seeded position inside each turn
 *   (never the speaker token itself), with the turn's speaker token inside the window.
 *
 * L is the model's context length. Every task caps its size with a seeded subsample.
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import type { Episode, EvalFrame, Tokenizer } from '../data/types';
import { envToken, isLanToken, baseForm, turnTokens } from '../data/tokens';
import { resolvePosition, type PositionSelector, type ProbeContext } from './collect';

export const PROBE_TASKS = ['env-noun', 'grounded', 'speaker'] as const;
export type ProbeTaskName = (typeof PROBE_TASKS)[number];

/** What the tasks read from a run's prepared data (a subset of PreparedData). */
export interface TaskSource {
  tokenizer: Tokenizer;
  nouns: string[];
  evalFrames: EvalFrame[];
  episodes: Episode[];
}

export interface TaskOptions {
  /** Context length L of the model (windows are cut to it). */
  contextLength: number;
  /** Where to read: default `pre-lan` for env-noun and grounded; `last` (= a position in the turn) for speaker. */
  position?: PositionSelector;
  /** Cap on the number of examples (seeded subsample). */
  maxExamples: number;
  seed: number;
  /**
   * env-noun: `frames` (held-out frames x nouns, leave-one-frame-out), `episodes` (corpus contexts
   * before a grounded v<LAN>, seeded split), or `transfer` (train on corpus contexts, test on the
   * held-out frames).
   */
  source: 'frames' | 'episodes' | 'transfer';
  /** grounded: subsample so both classes have the same count. */
  balance: boolean;
  /** speaker: drop speakers with fewer turns than this. */
  minPerClass: number;
}

export const TASK_DEFAULTS: Omit<TaskOptions, 'contextLength'> = {
  maxExamples: 3000,
  seed: 0,
  source: 'frames',
  balance: true,
  minPerClass: 10,
};

/** A built task: contexts (token ids and the read position), labels, class names. */
export interface ProbeTask {
  name: string;
  description: string;
  classes: string[];
  contexts: ProbeContext[];
  labels: Int32Array;
  /** The selector the read positions came from (for the table). */
  position: string;
  /** Split group per example (the frame id for env-noun from frames): probes are tested on unseen groups. */
  splitGroups?: string[];
  /** A fixed split (1 = test), e.g. train on corpus contexts and test on held-out frames. */
  testMask?: Uint8Array;
}

const ENV_SLOT = '{ENV}';

function subsample<T>(items: T[], max: number, rng: Rng): T[] {
  if (items.length <= max) return items;
  const idx = rng
    .shuffle(items.map((_, i) => i))
    .slice(0, max)
    .sort((a, b) => a - b);
  return idx.map((i) => items[i]);
}

interface Example {
  tokens: string[];
  position: number;
  label: number;
  group?: string;
  test?: boolean;
}

function finish(
  name: string,
  description: string,
  classes: string[],
  examples: Example[],
  tokenizer: Tokenizer,
  position: string,
): ProbeTask {
  if (!examples.length) throw new GroundlabError('NOT_FOUND', `the probe task "${name}" found no examples in this run's data`);
  return {
    name,
    description,
    classes,
    contexts: examples.map((e) => ({ tokens: tokenizer.encode(e.tokens), position: e.position })),
    labels: Int32Array.from(examples, (e) => e.label),
    position,
    splitGroups: examples.every((e) => e.group !== undefined) ? examples.map((e) => e.group!) : undefined,
    testMask: examples.some((e) => e.test) ? Uint8Array.from(examples, (e) => (e.test ? 1 : 0)) : undefined,
  };
}

/** Cut a window of at most L tokens ending at `end` (inclusive); returns tokens and the read position in it. */
function window(tokens: string[], end: number, L: number): { tokens: string[]; start: number } {
  const start = Math.max(0, end + 1 - L);
  return { tokens: tokens.slice(start, end + 1), start };
}

function envNounFromFrames(src: TaskSource, o: TaskOptions, rng: Rng): ProbeTask {
  const frames = src.evalFrames;
  if (!frames?.length)
    throw new GroundlabError('NOT_FOUND', "this run's corpus has no evaluation frames", {
      hint: 'use --source episodes, or a corpus with held-out frames',
      codeHint: "use `source: 'episodes'`, or a corpus with held-out frames",
    });
  const sel = o.position ?? 'pre-lan';
  const nouns = src.nouns;
  if (nouns.length < 2)
    throw new GroundlabError('NOT_FOUND', `the env-noun task needs at least 2 nouns of interest, the corpus has ${nouns.length}`);
  const examples: Example[] = [];
  for (const f of frames) {
    const slot = f.tokens.indexOf(ENV_SLOT);
    if (slot < 0 || f.tokens.lastIndexOf(ENV_SLOT) !== slot)
      throw new GroundlabError('BAD_CONFIG', `evaluation frame "${f.id}" must hold exactly one ${ENV_SLOT} slot`);
    nouns.forEach((v, label) => {
      const tokens = f.tokens.map((t) => (t === ENV_SLOT ? envToken(v) : t));
      const position = resolvePosition(sel, tokens, { envIndex: slot, lanIndex: tokens.length });
      examples.push({ tokens: tokens.slice(0, position + 1), position, label, group: f.id });
    });
  }
  return finish(
    'env-noun',
    `which noun's ENV token is in context (${frames.length} held-out frames x ${nouns.length} nouns)`,
    nouns,
    subsample(examples, o.maxExamples, rng),
    src.tokenizer,
    String(sel),
  );
}

/** Positions j in an episode's flat tokens where a LAN word of interest is spoken. */
function* lanMentions(
  src: TaskSource,
  nounIndex: Map<string, number>,
): Generator<{ ep: number; tokens: string[]; j: number; noun: string }> {
  for (let e = 0; e < src.episodes.length; e++) {
    const tokens = src.episodes[e].turns.flatMap(turnTokens);
    for (let j = 1; j < tokens.length; j++) {
      if (isLanToken(tokens[j]) && nounIndex.has(baseForm(tokens[j]))) yield { ep: e, tokens, j, noun: baseForm(tokens[j]) };
    }
  }
}

function envNounFromEpisodes(src: TaskSource, o: TaskOptions, rng: Rng): ProbeTask {
  const nounIndex = new Map(src.nouns.map((n, i) => [n, i]));
  const examples: Example[] = [];
  for (const m of lanMentions(src, nounIndex)) {
    const w = window(m.tokens, m.j - 1, o.contextLength);
    if (!w.tokens.includes(envToken(m.noun))) continue;
    examples.push({ tokens: w.tokens, position: w.tokens.length - 1, label: nounIndex.get(m.noun)! });
  }
  if (o.position !== undefined && o.position !== 'pre-lan')
    throw new GroundlabError('UNSUPPORTED', 'env-noun from episodes reads the pre-LAN position only');
  return finish(
    'env-noun',
    `which noun's ENV token is in context (corpus contexts before a grounded v<LAN>)`,
    src.nouns,
    subsample(examples, o.maxExamples, rng),
    src.tokenizer,
    'pre-lan',
  );
}

/** Train on corpus contexts (pre-LAN of grounded mentions), test on every held-out frame x noun. */
function envNounTransfer(src: TaskSource, o: TaskOptions, rng: Rng): ProbeTask {
  if (o.position !== undefined && o.position !== 'pre-lan')
    throw new GroundlabError('UNSUPPORTED', 'env-noun transfer reads the pre-LAN position only');
  const train = envNounFromEpisodes(src, { ...o, position: undefined }, rng.fork('train'));
  const test = envNounFromFrames(src, { ...o, position: 'pre-lan', maxExamples: Number.MAX_SAFE_INTEGER }, rng.fork('test'));
  return {
    name: 'env-noun',
    description: `which noun's ENV token is in context: trained on ${train.contexts.length} corpus contexts, tested on ${test.contexts.length} held-out frame contexts`,
    classes: src.nouns,
    contexts: [...train.contexts, ...test.contexts],
    labels: Int32Array.from([...train.labels, ...test.labels]),
    position: 'pre-lan',
    testMask: Uint8Array.from([...train.contexts.map(() => 0), ...test.contexts.map(() => 1)]),
  };
}

function grounded(src: TaskSource, o: TaskOptions, rng: Rng): ProbeTask {
  if (o.position !== undefined && o.position !== 'pre-lan')
    throw new GroundlabError('UNSUPPORTED', 'the grounded task reads the pre-LAN position only');
  const nounIndex = new Map(src.nouns.map((n, i) => [n, i]));
  const byClass: Example[][] = [[], []];
  for (const m of lanMentions(src, nounIndex)) {
    const w = window(m.tokens, m.j - 1, o.contextLength);
    const label = w.tokens.includes(envToken(m.noun)) ? 1 : 0;
    byClass[label].push({ tokens: w.tokens, position: w.tokens.length - 1, label });
  }
  if (!byClass[0].length || !byClass[1].length) {
    throw new GroundlabError(
      'NOT_FOUND',
      `the grounded task needs both grounded and ungrounded LAN mentions; this corpus has ${byClass[1].length} grounded and ${byClass[0].length} ungrounded`,
      {
        hint: 'use a corpus setting with mentions of absent objects (e.g. --setting realistic)',
        codeHint: 'use a corpus setting with mentions of absent objects (e.g. the `realistic` setting)',
      },
    );
  }
  let examples: Example[];
  if (o.balance) {
    const per = Math.min(byClass[0].length, byClass[1].length, Math.floor(o.maxExamples / 2));
    examples = [...subsample(byClass[0], per, rng.fork('0')), ...subsample(byClass[1], per, rng.fork('1'))];
  } else examples = subsample([...byClass[0], ...byClass[1]], o.maxExamples, rng);
  return finish(
    'grounded',
    'is the next LAN word grounded (its ENV token in the context window)?',
    ['no', 'yes'],
    examples,
    src.tokenizer,
    'pre-lan',
  );
}

function speaker(src: TaskSource, o: TaskOptions, rng: Rng): ProbeTask {
  if (o.position !== undefined && o.position !== 'last')
    throw new GroundlabError('UNSUPPORTED', 'the speaker task reads one seeded position per turn (position "last" of its window)');
  const raw: Array<{ tokens: string[]; position: number; speaker: string }> = [];
  const pick = rng.fork('positions');
  for (const ep of src.episodes) {
    const tokens: string[] = [];
    for (const turn of ep.turns) {
      const tt = turnTokens(turn);
      const start = tokens.length;
      tokens.push(...tt);
      if (tt.length < 2) continue;
      const p = start + 1 + pick.int(tt.length - 1); // a token of the turn after its speaker token
      if (p - start + 1 > o.contextLength) continue; // the speaker token would fall out of the window
      const w = window(tokens, p, o.contextLength);
      raw.push({ tokens: w.tokens, position: w.tokens.length - 1, speaker: turn.speaker });
    }
  }
  const counts = new Map<string, number>();
  for (const r of raw) counts.set(r.speaker, (counts.get(r.speaker) ?? 0) + 1);
  const classes = [...counts.entries()]
    .filter(([, c]) => c >= o.minPerClass)
    .map(([s]) => s)
    .sort();
  if (classes.length < 2)
    throw new GroundlabError(
      'NOT_FOUND',
      `the speaker task needs at least 2 speakers with ${o.minPerClass}+ turns; found ${classes.join(', ') || 'none'}`,
    );
  const index = new Map(classes.map((s, i) => [s, i]));
  const examples = raw
    .filter((r) => index.has(r.speaker))
    .map((r) => ({ tokens: r.tokens, position: r.position, label: index.get(r.speaker)! }));
  return finish(
    'speaker',
    'the speaker of the current turn (read inside the turn, not at the speaker token)',
    classes,
    subsample(examples, o.maxExamples, rng),
    src.tokenizer,
    'in-turn',
  );
}

/** Build a built-in task from a run's data. Deterministic in (data, options). */
export function buildProbeTask(name: string, src: TaskSource, opts: Partial<TaskOptions> & { contextLength: number }): ProbeTask {
  const o: TaskOptions = { ...TASK_DEFAULTS, ...opts };
  const rng = new Rng(`probe-task/${name}/${o.seed}`);
  switch (name) {
    case 'env-noun':
      if (o.source === 'transfer') return envNounTransfer(src, o, rng);
      if (o.source === 'episodes') return envNounFromEpisodes(src, o, rng);
      if (o.source === 'frames') return envNounFromFrames(src, o, rng);
      throw new GroundlabError('BAD_ARGUMENT', `unknown env-noun source "${String(o.source)}"`, {
        hint: 'use frames, episodes or transfer',
      });
    case 'grounded':
      return grounded(src, o, rng);
    case 'speaker':
      return speaker(src, o, rng);
    default:
      throw new GroundlabError('BAD_ARGUMENT', `unknown probe task "${name}"`, { hint: `built-in tasks: ${PROBE_TASKS.join(', ')}` });
  }
}

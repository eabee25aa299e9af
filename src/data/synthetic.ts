/**
 * The synthetic child-directed corpus (groundlab's embedded default): seeded scenes with objects,
 * people and actions; parent and child turns whose ENV annotations (CHAT %act / %sit style) carry
 * `w<ENV>` tokens and whose utterances carry `w<LAN>` tokens. The knobs below control the referential
 * noise that makes grounding hard; named settings bundle plausible values (see docs/data.md).
 */
import { resolveKnobs, type KnobLimit } from './knobs';
import { Rng } from '../engine/rng';
import type { Episode, EvalFrame, Turn, TurnEnv } from './types';
import { envToken, lanToken } from './tokens';
import { nounSubset, type CdiNoun, type NounKind } from './words';

export interface SyntheticKnobs {
  /** Number of episodes (one scene each). */
  episodes: number;
  /** How many CDI nouns are in use (spread evenly over the 100-word list). */
  nouns: number;
  /** Main objects per scene: 1..topics. These are what the parent talks about. */
  topics: number;
  /** Distractor objects per scene: 0..distractors. Present (ENV), not the topic. */
  distractors: number;
  /** Probability that a distractor is named anyway. */
  pNameDistractor: number;
  /** Probability that a main object is present (ENV) but never named: ENV without a later mention. */
  pUnnamed: number;
  /** Probability that a named, present object has no ENV annotation: a mention without ENV. */
  pNoEnv: number;
  /** Probability per episode of an utterance about something that is not there (absent referent). */
  pAbsent: number;
  /** Largest number of turns between an object's first ENV event and its first mention (0: same turn). */
  maxDistance: number;
  /** Mentions of a named object: 1..mentions. */
  mentions: number;
  /** ENV events per annotated object: 1..envEvents. */
  envEvents: number;
  /** Probability of a filler turn (no word of interest) after each planned turn. */
  pFiller: number;
  /** Probability that a turn is the child's. */
  pChild: number;
  /** Probability that a parent turn is the father's (0: the mother only). */
  pFather: number;
  /** Zipf exponent of the nouns' frequencies over a fixed rank order (0: uniform). */
  zipf: number;
  /**
   * Spread of the nouns' naming rates (0: every noun is named as often when present). With spread
   * s, a main object of naming rank r (a second fixed order, independent of frequency) is named with
   * probability min(1, (1 - pUnnamed) * (1 + s * (1/2 - r / (nouns - 1)))): the mean rate stays, the
   * rates of the most and least named nouns differ by 1 + s : 1 - s/2 (before the cap at 1). This
   * gives P(v<LAN> after v<ENV>) a spread across nouns, which the co-occurrence control needs.
   */
  namingSpread: number;
}

export type SyntheticSetting = 'simple' | 'realistic';

/**
 * Named settings. Every value is a modelling assumption, documented in docs/data.md ("Named
 * settings"); none was tuned to make a model ground faster or slower.
 */
export const SYNTHETIC_SETTINGS: Record<SyntheticSetting, SyntheticKnobs> = {
  // A simplified world for quick demos: one object per scene, always annotated, named in the same
  // turn as its ENV event, no distractors, no absent referents, uniform noun frequencies.
  simple: {
    episodes: 9000,
    nouns: 60,
    topics: 1,
    distractors: 0,
    pNameDistractor: 0,
    pUnnamed: 0,
    pNoEnv: 0,
    pAbsent: 0,
    maxDistance: 0,
    mentions: 2,
    envEvents: 1,
    pFiller: 0.3,
    pChild: 0.3,
    pFather: 0,
    zipf: 0,
    namingSpread: 0,
  },
  // Referential noise of the kind observational studies of parent-child play describe: several
  // objects in view, many namings not about what is being handled, many handled things not named,
  // talk about absent things, and naming that lags the action by a few turns.
  realistic: {
    episodes: 12000,
    nouns: 100,
    topics: 2,
    distractors: 2,
    pNameDistractor: 0.25,
    pUnnamed: 0.25,
    pNoEnv: 0.2,
    pAbsent: 0.15,
    maxDistance: 3,
    mentions: 3,
    envEvents: 2,
    pFiller: 0.5,
    pChild: 0.35,
    pFather: 0.25,
    zipf: 0.5,
    namingSpread: 1,
  },
};

const KNOB_LIMITS: Record<keyof SyntheticKnobs, KnobLimit> = {
  episodes: [1, 10_000_000, true],
  nouns: [2, 100, true],
  topics: [1, 5, true],
  distractors: [0, 10, true],
  pNameDistractor: [0, 1, false],
  pUnnamed: [0, 1, false],
  pNoEnv: [0, 1, false],
  pAbsent: [0, 1, false],
  maxDistance: [0, 20, true],
  mentions: [1, 10, true],
  envEvents: [1, 10, true],
  pFiller: [0, 0.95, false],
  pChild: [0, 1, false],
  pFather: [0, 1, false],
  zipf: [0, 3, false],
  namingSpread: [0, 1.9, false],
};

export const SYNTHETIC_KNOB_NAMES = Object.keys(KNOB_LIMITS) as Array<keyof SyntheticKnobs>;

/** The knobs of a setting with overrides applied and checked. */
export function syntheticKnobs(setting: string = 'simple', overrides: Record<string, unknown> = {}): SyntheticKnobs {
  return resolveKnobs('synthetic', SYNTHETIC_SETTINGS, KNOB_LIMITS, setting, overrides);
}

// ---------------------------------------------------------------------------------------------
// Templates. "{O}" is the object (an ENV token), "{A}" the agent, "{R}" the recipient, "{N}" the
// spoken noun (a LAN token). Evaluation frames (below) use combinations that none of these emit.

const GRASP: NounKind[] = ['toy', 'food', 'drink', 'household', 'vehicle', 'clothing', 'animal'];

const ACTIONS_GENERAL = [
  '{A} picks up {O}',
  '{A} holds {O}',
  '{A} gives {O} to {R}',
  '{A} takes {O} from {R}',
  '{A} puts down {O}',
  '{A} shakes {O}',
];
const ACTIONS_ANY = ['{A} points at {O}', '{A} looks at {O}'];
const ACTIONS_KIND: Record<NounKind, string[]> = {
  animal: ['{A} pets {O}', '{O} runs by'],
  vehicle: ['{A} pushes {O}', '{O} goes by'],
  toy: ['{A} plays with {O}', '{A} throws {O}'],
  food: ['{A} eats {O}', '{A} bites {O}'],
  drink: ['{A} drinks {O}', '{A} spills {O}'],
  clothing: ['{A} puts on {O}', '{A} takes off {O}'],
  body: ['{A} touches {O}', '{A} wipes {O}'],
  household: ['{A} opens {O}', '{A} plays with {O}'],
  furniture: ['{A} sits on {O}', '{A} climbs on {O}'],
  outside: ['{A} walks to {O}'],
  place: ['{A} walks to {O}', '{A} waves at {O}'],
  person: ['{O} comes in', '{A} hugs {O}', '{A} waves at {O}'],
};
const SITUATIONS = ['{O} on floor', 'playing with {O}', '{O} in room'];
const ENV_NO_OBJECT = ['{A} laughs', '{A} claps', '{A} sits down', '{A} stands up', '{A} smiles'];

const PARENT_NAMING = [
  'look at the {N}',
  'that is a {N}',
  'do you want the {N}',
  'here is your {N}',
  'you have a {N}',
  'what a nice {N}',
  'give me the {N} please',
  'yes the {N}',
  'it is a {N}',
  '{N}',
];
const PARENT_KIND: Record<NounKind, string[]> = {
  animal: ['see the {N}', 'the {N} is so soft'],
  vehicle: ['push the {N}', 'the {N} goes fast'],
  toy: ['play with the {N}', 'throw the {N}'],
  food: ['eat your {N}', 'do you want some {N}'],
  drink: ['drink your {N}', 'do you want some {N}'],
  clothing: ['put on your {N}', 'take off your {N}'],
  body: ['touch your {N}', 'that is your {N}'],
  household: ['open the {N}', 'hold the {N}'],
  furniture: ['sit on the {N}', 'get off the {N}'],
  outside: ['see the {N}', 'the {N} is big'],
  place: ['we go to the {N}', 'the {N} is fun'],
  person: ['say hi to {N}', 'hi {N}'],
};
const CHILD_NAMING = ['{N}', 'my {N}', 'more {N}', 'a {N}', 'want {N}', '{N} mommy'];
const PARENT_ABSENT = ['we will see a {N} later', 'do you remember the {N}', 'you had a {N} yesterday', 'no {N} now'];
const PARENT_FILLER = [
  'okay',
  'what is that',
  'oh look',
  'good job',
  'yes',
  "let's play",
  'what do you want',
  'can you do it',
  'all done',
  'be careful',
  'you did it',
  'wow',
  "that's right",
  'come here',
  'what else',
  'do you like it',
  'is it fun',
];
const CHILD_FILLER = ['no', 'yes', 'mommy', 'uh oh', 'mine', 'again', 'look', 'up', 'bye bye', 'daddy'];

/**
 * Held-out evaluation frames: ENV phrasings and utterance openings that the generator never emits
 * in training (checked by test/data/synthetic.test.ts against generated corpora). Each is about a
 * present object being named, so the match condition asks the natural question.
 */
export const SYNTHETIC_EVAL_FRAMES: EvalFrame[] = [
  { id: 'holds-up/can-you-see-the', tokens: ['<CHI>', 'child', 'holds', 'up', '{ENV}', '<MOT>', 'can', 'you', 'see', 'the'] },
  { id: 'picks-up/look-it-is-your', tokens: ['<MOT>', 'mother', 'picks', '{ENV}', 'up', 'look', 'it', 'is', 'your'] },
  {
    id: 'plays-laughs/you-like-the',
    tokens: ['<CHI>', 'child', 'plays', 'with', '{ENV}', 'child', 'laughs', '<MOT>', 'yes', 'you', 'like', 'the'],
  },
  {
    id: 'gives-child/that-is-the',
    tokens: ['<MOT>', 'mother', 'gives', 'child', '{ENV}', 'wow', '<CHI>', 'look', '<MOT>', 'that', 'is', 'the'],
  },
  { id: 'holds-up/oh-you-have-your', tokens: ['<MOT>', 'child', 'holds', 'up', '{ENV}', 'oh', 'you', 'have', 'your'] },
  { id: 'picks-up/do-you-like-your', tokens: ['<CHI>', 'child', 'picks', '{ENV}', 'up', '<MOT>', 'do', 'you', 'like', 'your'] },
  { id: 'gives-child/here-is-the', tokens: ['<MOT>', 'mother', 'gives', 'child', '{ENV}', 'here', 'is', 'the'] },
  { id: 'shakes-smiles/oh-look-the', tokens: ['<CHI>', 'child', 'shakes', '{ENV}', 'child', 'smiles', '<MOT>', 'oh', 'look', 'the'] },
];

// ---------------------------------------------------------------------------------------------

interface PlannedTurn {
  env: Array<{ noun: CdiNoun; mentionedHere: boolean }>;
  mentions: Array<{ noun: CdiNoun; absent: boolean }>;
  situation: CdiNoun[];
}

function words(template: string, fill: Record<string, string>): string[] {
  const out: string[] = [];
  for (const w of template.split(' ')) out.push(fill[w] ?? w);
  return out;
}

/** Weighted sampler over nouns: Zipf weights over a rank order that does not depend on the corpus seed. */
class NounSampler {
  private cum: Float64Array;
  /** Per noun: the factor on its naming probability (namingSpread). */
  readonly naming = new Map<CdiNoun, number>();
  constructor(
    private readonly nouns: CdiNoun[],
    zipf: number,
    namingSpread = 0,
  ) {
    const namingOrder = nouns.map((_, i) => i);
    new Rng('groundlab-naming-rank').shuffle(namingOrder); // independent of the frequency rank below
    const last = Math.max(1, nouns.length - 1);
    namingOrder.forEach((nounIdx, rank) => this.naming.set(nouns[nounIdx], 1 + namingSpread * (0.5 - rank / last)));
    const order = nouns.map((_, i) => i);
    new Rng('groundlab-noun-rank').shuffle(order); // fixed rank order, the same for every corpus seed
    const w = new Float64Array(nouns.length);
    order.forEach((nounIdx, rank) => (w[nounIdx] = 1 / Math.pow(rank + 1, zipf)));
    this.cum = new Float64Array(nouns.length);
    let s = 0;
    for (let i = 0; i < w.length; i++) this.cum[i] = s += w[i];
  }
  sample(rng: Rng, exclude: Set<CdiNoun>): CdiNoun {
    const total = this.cum[this.cum.length - 1];
    for (;;) {
      const x = rng.next() * total;
      let lo = 0;
      let hi = this.cum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.cum[mid] > x) hi = mid;
        else lo = mid + 1;
      }
      const n = this.nouns[lo];
      if (!exclude.has(n)) return n;
    }
  }
}

function agentWord(speaker: string, rng: Rng, pChild: number, pFather: number): string {
  // The agent of an action is often, not always, the speaker.
  if (rng.next() < 0.6) return speaker === '<CHI>' ? 'child' : speaker === '<FAT>' ? 'father' : 'mother';
  if (rng.next() < pChild) return 'child';
  return rng.next() < pFather ? 'father' : 'mother';
}

function pickSpeaker(rng: Rng, k: SyntheticKnobs): string {
  if (rng.next() < k.pChild) return '<CHI>';
  return rng.next() < k.pFather ? '<FAT>' : '<MOT>';
}

function actionFor(noun: CdiNoun, rng: Rng): string {
  const pool = GRASP.includes(noun.kind)
    ? [...ACTIONS_GENERAL, ...ACTIONS_ANY, ...ACTIONS_KIND[noun.kind]]
    : [...ACTIONS_ANY, ...ACTIONS_KIND[noun.kind]];
  return rng.pick(pool);
}

function emptyEnv(): TurnEnv {
  return { situation: [], before: [], during: [], after: [] };
}

/** One episode from its own random stream. */
function generateEpisode(id: string, rng: Rng, k: SyntheticKnobs, sampler: NounSampler, nounCount: number): Episode {
  const used = new Set<CdiNoun>();
  const plan: PlannedTurn[] = [];
  const at = (i: number): PlannedTurn => {
    while (plan.length <= i) plan.push({ env: [], mentions: [], situation: [] });
    return plan[i];
  };
  const nTopics = 1 + rng.int(Math.min(k.topics, nounCount - 1));
  const nDistract = rng.int(Math.min(k.distractors, nounCount - nTopics) + 1);

  let cursor = 0;
  for (let t = 0; t < nTopics; t++) {
    const noun = sampler.sample(rng, used);
    used.add(noun);
    // Without a naming spread the old single draw is kept, so existing corpora stay byte-identical.
    const named = k.namingSpread > 0 ? rng.next() < Math.min(1, (1 - k.pUnnamed) * sampler.naming.get(noun)!) : !(rng.next() < k.pUnnamed);
    const annotated = !named || !(rng.next() < k.pNoEnv); // an object neither annotated nor named would be invisible
    const first = cursor + (named ? rng.int(k.maxDistance + 1) : 0);
    if (annotated) {
      const nEnv = 1 + rng.int(k.envEvents);
      at(cursor).env.push({ noun, mentionedHere: named && first === cursor });
      for (let e = 1; e < nEnv; e++) at(cursor + 1 + rng.int(Math.max(1, k.maxDistance + 1))).env.push({ noun, mentionedHere: false });
    }
    if (named) {
      const nMent = 1 + rng.int(k.mentions);
      at(first).mentions.push({ noun, absent: false });
      let m = first;
      for (let j = 1; j < nMent; j++) {
        m += 1 + rng.int(2);
        at(m).mentions.push({ noun, absent: false });
      }
    }
    cursor += 1 + rng.int(2);
  }
  const span = Math.max(plan.length, 1);
  for (let d = 0; d < nDistract; d++) {
    const noun = sampler.sample(rng, used);
    used.add(noun);
    if (rng.next() < 0.5) at(0).situation.push(noun);
    else at(rng.int(span)).env.push({ noun, mentionedHere: false });
    if (rng.next() < k.pNameDistractor) at(rng.int(span + 1)).mentions.push({ noun, absent: false });
  }
  if (rng.next() < k.pAbsent && used.size < nounCount) {
    const noun = sampler.sample(rng, used);
    used.add(noun);
    at(rng.int(span + 1)).mentions.push({ noun, absent: true });
  }

  const turns: Turn[] = [];
  const filler = (): Turn => {
    const speaker = pickSpeaker(rng, k);
    const env = emptyEnv();
    if (rng.next() < 0.3) env.during.push(...words(rng.pick(ENV_NO_OBJECT), { '{A}': agentWord(speaker, rng, k.pChild, k.pFather) }));
    return { speaker, env, utterance: words(rng.pick(speaker === '<CHI>' ? CHILD_FILLER : PARENT_FILLER), {}) };
  };
  for (const p of plan) {
    // Absent referents and situations are talked about by a parent; otherwise anyone may speak.
    const speaker = p.mentions.some((m) => m.absent) ? (rng.next() < k.pFather ? '<FAT>' : '<MOT>') : pickSpeaker(rng, k);
    const env = emptyEnv();
    for (const s of p.situation) env.situation.push(...words(rng.pick(SITUATIONS), { '{O}': envToken(s.noun) }));
    for (const e of p.env) {
      const agent = agentWord(speaker, rng, k.pChild, k.pFather);
      const ev = words(actionFor(e.noun, rng), {
        '{A}': agent,
        // the other party of "gives X to R" / "takes X from R": the child, or a parent when the child acts
        '{R}': agent !== 'child' ? 'child' : speaker === '<FAT>' ? 'father' : 'mother',
        '{O}': envToken(e.noun.noun),
      });
      // Events about an object named in this turn precede the utterance; others may also follow it.
      const scope = e.mentionedHere ? rng.int(2) : rng.int(3);
      (scope === 0 ? env.before : scope === 1 ? env.during : env.after).push(...ev);
    }
    let utterance: string[] = [];
    if (p.mentions.length === 0) utterance = words(rng.pick(speaker === '<CHI>' ? CHILD_FILLER : PARENT_FILLER), {});
    for (const m of p.mentions) {
      const N = lanToken(m.noun.noun);
      let tpl: string;
      if (m.absent) tpl = rng.pick(PARENT_ABSENT);
      else if (speaker === '<CHI>') tpl = rng.pick(CHILD_NAMING);
      else tpl = rng.next() < 0.35 ? rng.pick(PARENT_KIND[m.noun.kind]) : rng.pick(PARENT_NAMING);
      if (utterance.length) utterance.push('and');
      utterance.push(...words(tpl, { '{N}': N }));
    }
    turns.push({ speaker, env, utterance });
    if (rng.next() < k.pFiller) turns.push(filler());
  }
  return { id, turns };
}

/** Generate the synthetic corpus. Byte-identical output for the same knobs and seed. */
export function generateSynthetic(knobs: SyntheticKnobs, seed: number): Episode[] {
  const nouns = nounSubset(knobs.nouns);
  const sampler = new NounSampler(nouns, knobs.zipf, knobs.namingSpread);
  const root = new Rng(`synthetic/${seed}`);
  const out: Episode[] = new Array(knobs.episodes);
  for (let i = 0; i < knobs.episodes; i++) {
    // One stream per episode: episode i is the same whatever the number of episodes.
    out[i] = generateEpisode(`syn-${seed}-${i}`, root.fork(i), knobs, sampler, nouns.length);
  }
  return out;
}

/** The nouns a synthetic corpus with these knobs can contain (its words of interest). */
export function syntheticNouns(knobs: SyntheticKnobs): string[] {
  return nounSubset(knobs.nouns).map((n) => n.noun);
}

/**
 * Caption-grounded dialogue: a stand-in for MSCOCO captions + Visual Dialog (the paper's second
 * setting), generated procedurally so that it needs no download. Each episode is one "image": a
 * caption turn ("<CAP>", the environment: words of interest in their `w<ENV>` form) followed by
 * question/answer rounds ("<Q>", "<A>", language: `w<LAN>`). It is a stand-in with the same shape
 * and the same referential-noise knobs as the synthetic corpus, not a copy of those data sets.
 */
import { resolveKnobs, type KnobLimit } from './knobs';
import { Rng } from '../engine/rng';
import type { Episode, EvalFrame, Turn } from './types';
import { envToken, lanToken } from './tokens';
import { nounSubset, type CdiNoun } from './words';

export interface DialogKnobs {
  /** Number of episodes (one scene each). */
  episodes: number;
  /** How many CDI nouns are in use (spread evenly over the list). */
  nouns: number;
  /** Objects in a scene: 1..objects. */
  objects: number;
  /** Question/answer rounds per episode: 1..rounds. */
  rounds: number;
  /** Probability that an object in the scene is never asked or talked about. */
  pUnnamed: number;
  /** Probability that the caption leaves out an object the dialogue then talks about (mention without ENV). */
  pNoEnv: number;
  /** Probability per round of a question about something not in the scene (absent referent). */
  pAbsent: number;
  /** Probability per round of a question that names no object ("is it sunny"). */
  pGeneric: number;
  /** Zipf exponent of the nouns' frequencies over a fixed rank order (0: uniform). */
  zipf: number;
}

export type DialogSetting = 'simple' | 'realistic';

/** Named settings (documented in docs/data.md). Dialogue rounds: Visual Dialog has 10 per image. */
export const DIALOG_SETTINGS: Record<DialogSetting, DialogKnobs> = {
  simple: { episodes: 6000, nouns: 60, objects: 2, rounds: 3, pUnnamed: 0, pNoEnv: 0, pAbsent: 0, pGeneric: 0.1, zipf: 0 },
  realistic: { episodes: 8000, nouns: 100, objects: 4, rounds: 6, pUnnamed: 0.3, pNoEnv: 0.2, pAbsent: 0.15, pGeneric: 0.3, zipf: 0.5 },
};

export const DIALOG_LIMITS: Record<keyof DialogKnobs, KnobLimit> = {
  episodes: [1, 10_000_000, true],
  nouns: [2, 100, true],
  objects: [1, 6, true],
  rounds: [1, 20, true],
  pUnnamed: [0, 1, false],
  pNoEnv: [0, 1, false],
  pAbsent: [0, 1, false],
  pGeneric: [0, 0.95, false],
  zipf: [0, 3, false],
};

export function dialogKnobs(setting: string = 'simple', overrides: Record<string, unknown> = {}): DialogKnobs {
  return resolveKnobs('dialogue', DIALOG_SETTINGS, DIALOG_LIMITS, setting, overrides);
}

export const DIALOG_COLORS = ['red', 'blue', 'green', 'yellow', 'white', 'black', 'brown', 'pink'];
const SIZES = ['big', 'small'];
const PLACES = ['grass', 'floor', 'street', 'beach', 'kitchen', 'yard'];

/** Zipf-weighted sampling of distinct nouns over a rank order independent of the corpus seed. */
export class WeightedNouns {
  private cum: Float64Array;
  constructor(
    readonly nouns: CdiNoun[],
    zipf: number,
    label: string,
  ) {
    const order = nouns.map((_, i) => i);
    new Rng(`groundlab-noun-rank/${label}`).shuffle(order);
    this.cum = new Float64Array(nouns.length);
    const w = new Float64Array(nouns.length);
    order.forEach((idx, rank) => (w[idx] = 1 / Math.pow(rank + 1, zipf)));
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
      if (!exclude.has(this.nouns[lo])) return this.nouns[lo];
    }
  }
}

export interface DialogSceneObject {
  noun: CdiNoun;
  color: string;
  size: string;
  /** In the caption / drawn in the image. */
  shown: boolean;
  /** Talked about in the dialogue. */
  named: boolean;
}

export interface DialogScene {
  place: string;
  objects: DialogSceneObject[];
}

/** Draw a scene: objects with attributes, which are shown and which are talked about. */
export function drawDialogScene(rng: Rng, k: DialogKnobs, sampler: WeightedNouns): DialogScene {
  const used = new Set<CdiNoun>();
  const n = 1 + rng.int(Math.min(k.objects, sampler.nouns.length - 1));
  const objects: DialogSceneObject[] = [];
  for (let i = 0; i < n; i++) {
    const noun = sampler.sample(rng, used);
    used.add(noun);
    const named = !(rng.next() < k.pUnnamed);
    const shown = !named || !(rng.next() < k.pNoEnv);
    objects.push({ noun, color: rng.pick(DIALOG_COLORS), size: rng.pick(SIZES), shown, named });
  }
  return { place: rng.pick(PLACES), objects };
}

const GENERIC_QA: Array<[string, string[]]> = [
  ['is it sunny', ['yes', 'no']],
  ['is this outside', ['yes', 'no', 'i think so']],
  ['can you see people', ['no', 'yes one']],
  ['is the photo clear', ['yes', 'a little blurry']],
  ['is it day time', ['yes', 'i think so']],
  ['what kind of day is it', ['a nice day', 'sunny']],
  ['is anyone in the photo', ['no', 'yes']],
];

/** Question/answer rounds about a scene: `{N}` marks where the noun's LAN token goes. */
export function dialogRounds(rng: Rng, k: DialogKnobs, scene: DialogScene, sampler: WeightedNouns): Turn[] {
  const turns: Turn[] = [];
  const env = () => ({ situation: [], before: [], during: [], after: [] });
  const say = (speaker: string, text: string, noun?: CdiNoun) =>
    turns.push({ speaker, env: env(), utterance: text.split(' ').map((w) => (w === '{N}' && noun ? lanToken(noun.noun) : w)) });
  const named = scene.objects.filter((o) => o.named);
  const present = new Set(scene.objects.map((o) => o.noun));
  const rounds = 1 + rng.int(k.rounds);
  // Every named object is asked about at least once (in a random round), then rounds are filled.
  const plan: Array<DialogSceneObject | 'absent' | 'generic'> = [...named];
  while (plan.length < rounds) {
    const x = rng.next();
    plan.push(x < k.pAbsent ? 'absent' : x < k.pAbsent + k.pGeneric || !named.length ? 'generic' : rng.pick(named));
  }
  rng.shuffle(plan);
  for (const p of plan) {
    if (p === 'generic') {
      const [q, as] = rng.pick(GENERIC_QA);
      say('<Q>', q);
      say('<A>', rng.pick(as));
    } else if (p === 'absent') {
      const noun = sampler.sample(rng, present);
      say('<Q>', rng.pick(['is there a {N}', 'do you see a {N}']), noun);
      say('<A>', rng.pick(['no', 'no there is not', 'i do not think so']));
    } else {
      const o = p;
      const form = rng.int(5);
      if (form === 0) {
        say('<Q>', rng.pick(['is there a {N}', 'do you see a {N}']), o.noun);
        say('<A>', rng.pick(['yes', 'yes there is', 'yes one {N}']), o.noun);
      } else if (form === 1) {
        say('<Q>', 'what color is the {N}', o.noun);
        say('<A>', rng.pick([`it is ${o.color}`, o.color]));
      } else if (form === 2) {
        say('<Q>', 'is the {N} big', o.noun);
        say('<A>', o.size === 'big' ? 'yes' : rng.pick(['no', 'no it is small']));
      } else if (form === 3) {
        say('<Q>', `what is on the ${scene.place}`);
        say('<A>', rng.pick(['a {N}', `a ${o.color} {N}`]), o.noun);
      } else {
        say('<Q>', 'where is the {N}', o.noun);
        say('<A>', `on the ${scene.place}`);
      }
    }
  }
  return turns;
}

function captionWords(rng: Rng, scene: DialogScene): string[] {
  const shown = scene.objects.filter((o) => o.shown);
  const out: string[] = [];
  shown.forEach((o, i) => {
    if (i > 0) {
      if (i === 1 && rng.next() < 0.5) out.push('next', 'to');
      else out.push('and');
    }
    out.push('a');
    const r = rng.int(3);
    if (r === 0) out.push(o.color);
    else if (r === 1) out.push(o.size);
    out.push(envToken(o.noun.noun));
  });
  if (!shown.length) out.push('an', 'empty');
  out.push(rng.pick(['on', 'in']), 'the', scene.place);
  return out;
}

/** Generate the caption-grounded dialogue corpus. Byte-identical for the same knobs and seed. */
export function generateCaptionDialog(k: DialogKnobs, seed: number): Episode[] {
  const sampler = new WeightedNouns(nounSubset(k.nouns), k.zipf, 'caption');
  const root = new Rng(`caption/${seed}`);
  const out: Episode[] = [];
  for (let i = 0; i < k.episodes; i++) {
    const rng = root.fork(i);
    const scene = drawDialogScene(rng, k, sampler);
    const cap: Turn = { speaker: '<CAP>', env: { situation: captionWords(rng, scene), before: [], during: [], after: [] }, utterance: [] };
    out.push({ id: `cap-${seed}-${i}`, turns: [cap, ...dialogRounds(rng, k, scene, sampler)] });
  }
  return out;
}

/** Held-out frames: caption openings and questions the generator never emits (checked by tests). */
export const CAPTION_EVAL_FRAMES: EvalFrame[] = [
  {
    id: 'photo-of/what-is-in-the-photo',
    tokens: ['<CAP>', 'a', 'photo', 'of', 'a', '{ENV}', '<Q>', 'what', 'is', 'in', 'the', 'photo', '<A>', 'a'],
  },
  {
    id: 'small-on-street/what-is-small',
    tokens: ['<CAP>', 'one', 'small', '{ENV}', 'on', 'the', 'street', '<Q>', 'what', 'is', 'small', '<A>', 'a'],
  },
  { id: 'bare/can-you-see-the', tokens: ['<CAP>', '{ENV}', 'on', 'the', 'beach', '<Q>', 'can', 'you', 'see', 'the'] },
];

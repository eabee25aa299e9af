/**
 * Causal models of the counting tasks (seed 003) as step functions with named variables, and the
 * counterfactual sampler that interchange interventions are trained and scored on.
 *
 * A program reads a counting sequence one token at a time (by role: bos, demo, trigger, response,
 * end); after step t it holds a state (named integer variables) and predicts the next token:
 * `response` or `end` in the response phase, nothing in the demo phase (which is not predicted).
 *
 * - `up-down`: count up per demo object, switch phase at the trigger, count down per response,
 *   end at zero. Variables: count, phase.
 * - `up-up`: count up in the demo; at the trigger store the count as target and restart it; count
 *   up per response; end when count reaches target. Variables: count, target, phase.
 * - `context-distribution`: no carried state: every step recomputes from the context,
 *   count = demo objects - responses so far, phase = trigger seen. Variables: count, phase. An
 *   intervention changes only the prediction of its own step.
 */
import { GroundlabError } from '../errors';
import { Rng } from '../engine/rng';
import {
  END,
  TRIGGER,
  countingSequence,
  demoTokens,
  responseToken,
  type CountRole,
  type CountingKnobs,
  type CountingSequence,
} from '../data/counting';
import { BOS } from '../data/tokens';

export type ProgramName = 'up-down' | 'up-up' | 'context-distribution';
export const PROGRAM_NAMES: readonly ProgramName[] = ['up-down', 'up-up', 'context-distribution'];

export type ProgramState = Record<string, number>;

export interface CausalProgram {
  readonly name: ProgramName;
  readonly variables: readonly string[];
  /** Whether the state after step t comes from the state after t - 1 (true) or from the context alone. */
  readonly markovian: boolean;
  /** The state after reading roles[t], given the state after t - 1 (null at t = 0) and the context roles[0..t]. */
  step(prev: ProgramState | null, roles: readonly CountRole[], t: number): ProgramState;
  /** The predicted next token's role: 'response' | 'end' in the response phase, null in the demo phase. */
  output(s: ProgramState): 'response' | 'end' | null;
}

const upDown: CausalProgram = {
  name: 'up-down',
  variables: ['count', 'phase'],
  markovian: true,
  step(prev, roles, t) {
    const s = prev ? { ...prev } : { count: 0, phase: 0 };
    const r = roles[t];
    if (r === 'demo') s.count = (s.count ?? 0) + 1;
    else if (r === 'trigger') s.phase = 1;
    else if (r === 'response') s.count = (s.count ?? 0) - 1;
    return s;
  },
  output: (s) => (s.phase >= 1 ? (s.count > 0 ? 'response' : 'end') : null),
};

const upUp: CausalProgram = {
  name: 'up-up',
  variables: ['count', 'target', 'phase'],
  markovian: true,
  step(prev, roles, t) {
    const s = prev ? { ...prev } : { count: 0, target: 0, phase: 0 };
    const r = roles[t];
    if (r === 'demo') s.count = (s.count ?? 0) + 1;
    else if (r === 'trigger') {
      s.target = s.count;
      s.count = 0;
      s.phase = 1;
    } else if (r === 'response') s.count = (s.count ?? 0) + 1;
    return s;
  },
  output: (s) => (s.phase >= 1 ? (s.count < s.target ? 'response' : 'end') : null),
};

const contextDistribution: CausalProgram = {
  name: 'context-distribution',
  variables: ['count', 'phase'],
  markovian: false,
  step(_prev, roles, t) {
    let demo = 0;
    let resp = 0;
    let phase = 0;
    for (let i = 0; i <= t; i++) {
      if (roles[i] === 'demo') demo++;
      else if (roles[i] === 'response') resp++;
      else if (roles[i] === 'trigger') phase = 1;
    }
    return { count: demo - resp, phase };
  },
  output: (s) => (s.phase >= 1 ? (s.count > 0 ? 'response' : 'end') : null),
};

const PROGRAMS: Record<ProgramName, CausalProgram> = { 'up-down': upDown, 'up-up': upUp, 'context-distribution': contextDistribution };

/** The program of a name (BAD_ARGUMENT naming the known ones otherwise). */
export function causalProgram(name: string): CausalProgram {
  const p = PROGRAMS[name as ProgramName];
  if (!p) throw new GroundlabError('BAD_ARGUMENT', `unknown causal program "${name}"`, { hint: `programs: ${PROGRAM_NAMES.join(', ')}` });
  return p;
}

/** The program's state after every step of a sequence (no intervention). */
export function trace(p: CausalProgram, roles: readonly CountRole[]): ProgramState[] {
  const out: ProgramState[] = [];
  let s: ProgramState | null = null;
  for (let t = 0; t < roles.length; t++) out.push((s = p.step(s, roles, t)));
  return out;
}

/** One counterfactual: the base with `variables` set at `baseStep` to the source's values at `sourceStep`. */
export interface Counterfactual {
  base: CountingSequence;
  source: CountingSequence;
  variables: string[];
  baseStep: number;
  sourceStep: number;
  /** The source's values of the variables at sourceStep. */
  values: number[];
  /** Input tokens of the intervened run: the base up to baseStep, then the program's counterfactual continuation. */
  tokens: string[];
  /** Expected next token at each input position (length tokens.length - 1); null where not scored. */
  labels: Array<string | null>;
  /** Whether the scored continuation differs from the base's own. */
  changed: boolean;
}

/**
 * Run the program on `base` up to `baseStep`, set the variables, and continue: the base's own demo
 * tokens and trigger are read as they are; in the response phase the program's predictions are
 * both the labels and the next inputs, until it predicts the end (null when it would not end within
 * `maxLength` tokens, or predicts nothing in the response phase).
 */
export function counterfactual(
  p: CausalProgram,
  task: CountingKnobs['task'],
  base: CountingSequence,
  baseStep: number,
  set: Record<string, number>,
  maxLength: number,
): { tokens: string[]; labels: Array<string | null> } | null {
  for (const v of Object.keys(set))
    if (!p.variables.includes(v))
      throw new GroundlabError('BAD_ARGUMENT', `program ${p.name} has no variable "${v}"`, {
        hint: `its variables: ${p.variables.join(', ')}`,
      });
  const end = base.tokens.length - 1;
  if (!Number.isInteger(baseStep) || baseStep < 0 || baseStep >= end)
    throw new GroundlabError('BAD_ARGUMENT', `intervention step ${baseStep} is outside 0..${end - 1}`);
  const tokens = base.tokens.slice(0, baseStep + 1);
  const roles = base.roles.slice(0, baseStep + 1);
  const labels: Array<string | null> = new Array(baseStep).fill(null);
  let s = trace(p, roles)[baseStep];
  s = { ...s, ...set };
  const resp = responseToken(task);
  for (let pos = baseStep; ; pos++) {
    if (tokens.length >= maxLength) return null;
    if (pos < base.trigger) {
      labels.push(null);
      tokens.push(base.tokens[pos + 1]);
      roles.push(base.roles[pos + 1]);
    } else {
      const o = p.output(s);
      if (o === null) return null;
      labels.push(o === 'end' ? END : resp);
      tokens.push(o === 'end' ? END : resp);
      roles.push(o);
      if (o === 'end') return { tokens, labels };
    }
    s = p.step(s, roles, pos + 1);
  }
}

export interface SamplerOptions {
  program: ProgramName;
  /** Variables intervened on together (e.g. ['count'] or ['count', 'phase']). */
  variables: string[];
  task: CountingKnobs['task'];
  objectTypes?: number;
  /** Counts the base and source sequences are drawn from. */
  counts: readonly number[];
  n: number;
  seed: number | string;
  /** Longest intervened sequence (the model's context; default 64). */
  maxLength?: number;
  /** Keep only pairs whose intervention changes the scored continuation (default true). */
  requireChange?: boolean;
  /** Keep only pairs whose counterfactual has at most this many responses (e.g. the largest trained count; default: no limit). */
  maxResponses?: number;
  /** Keep only pairs whose counterfactual has at least this many responses (with maxResponses: an out-of-range band, e.g. 21..30). */
  minResponses?: number;
  /** Intervention steps: 'any' step from the first demo object to the last response (default), 'demo', or 'response' (trigger and responses). */
  steps?: 'any' | 'demo' | 'response';
}

function stepRange(s: CountingSequence, which: SamplerOptions['steps']): [number, number] {
  const last = s.tokens.length - 2; // the last response (or the trigger when n = 0)
  if (which === 'demo') return [1, s.trigger - 1];
  if (which === 'response') return [s.trigger, last];
  return [1, last];
}

/** Seeded counterfactual pairs: random base and source sequences and steps, the source's values interchanged into the base. */
export function sampleCounterfactuals(o: SamplerOptions): Counterfactual[] {
  const p = causalProgram(o.program);
  if (!o.variables.length)
    throw new GroundlabError('BAD_ARGUMENT', 'no variable to intervene on', { hint: `variables of ${p.name}: ${p.variables.join(', ')}` });
  for (const v of o.variables)
    if (!p.variables.includes(v))
      throw new GroundlabError('BAD_ARGUMENT', `program ${p.name} has no variable "${v}"`, {
        hint: `its variables: ${p.variables.join(', ')}`,
      });
  if (!o.counts.length || o.counts.some((c) => !Number.isInteger(c) || c < 1))
    throw new GroundlabError('BAD_ARGUMENT', `counts [${o.counts.join(', ')}]: expected whole numbers >= 1`);
  const rng = new Rng(`${o.seed}/counterfactuals`);
  const k = { task: o.task, objectTypes: o.objectTypes ?? 3 };
  const maxLength = o.maxLength ?? 64;
  const requireChange = o.requireChange ?? true;
  const out: Counterfactual[] = [];
  const pick = (r: [number, number]) => r[0] + rng.int(r[1] - r[0] + 1);
  for (let tries = 0; out.length < o.n; tries++) {
    if (tries > o.n * 200)
      throw new GroundlabError('BAD_ARGUMENT', `could not draw ${o.n} counterfactuals that change the output (${out.length} found)`, {
        hint: 'use more counts, other steps, or requireChange: false',
      });
    const base = countingSequence(k, o.counts[rng.int(o.counts.length)], rng);
    const source = countingSequence(k, o.counts[rng.int(o.counts.length)], rng);
    const br = stepRange(base, o.steps);
    const sr = stepRange(source, o.steps);
    if (br[1] < br[0] || sr[1] < sr[0]) continue;
    const baseStep = pick(br);
    const sourceStep = pick(sr);
    const st = trace(p, source.roles)[sourceStep];
    const values = o.variables.map((v) => st[v]);
    const cf = counterfactual(p, o.task, base, baseStep, Object.fromEntries(o.variables.map((v, i) => [v, values[i]])), maxLength);
    if (!cf) continue;
    const responses = cf.tokens.length - base.trigger - 2;
    if (o.maxResponses !== undefined && responses > o.maxResponses) continue;
    if (o.minResponses !== undefined && responses < o.minResponses) continue;
    const changed = cf.tokens.length !== base.tokens.length || cf.tokens.some((t, i) => t !== base.tokens[i]);
    if (requireChange && !changed) continue;
    out.push({ base, source, variables: [...o.variables], baseStep, sourceStep, values, tokens: cf.tokens, labels: cf.labels, changed });
  }
  return out;
}

/**
 * Repeated phase flips (seed 003's reviewers): one sequence with several demo / response rounds,
 * where the phase flips back to demo by intervention, though in training it only ever flips once.
 *
 *   <bos> obj^a1 trig resp^b1 | obj^a2 trig resp^b2 | ... obj^aR trig resp ... resp end
 *
 * Round i < R: a_i demo objects, the trigger, then b_i responses (0 <= b_i < the program's count,
 * so the program still predicts a response there); after the last of them ("|", the trigger when
 * b_i = 0) the variables are interchanged with a demo-phase source: a single-round sequence read
 * up to its c-th demo object, whose values are (for up-down) count c and phase 0. `count: 'keep'`
 * takes c = the base's own count under the program at that step (a pure phase flip); `'source'`
 * draws c from `counts`. The last round's responses are the program's predictions, until it
 * predicts the end. Scored positions are those whose next token is a response or the end (the
 * response phases, as in training); demo tokens and triggers are the plan's, never predicted.
 */
export interface FlipIntervention {
  /** Step of the intervened run after which the variables are set. */
  step: number;
  source: CountingSequence;
  sourceStep: number;
  values: number[];
}

export interface FlipCounterfactual {
  variables: string[];
  /** Demo objects and responses of each round (the last round's responses are the program's). */
  rounds: Array<{ demo: number; responses: number }>;
  interventions: FlipIntervention[];
  tokens: string[];
  /** Expected next token at each input position (length tokens.length - 1); null where not scored. */
  labels: Array<string | null>;
}

export interface FlipOptions {
  program: ProgramName;
  /** Variables set at each flip (default ['count', 'phase']). */
  variables?: string[];
  task: CountingKnobs['task'];
  objectTypes?: number;
  /** Demo / response rounds per sequence (>= 2: R - 1 flips back to demo). */
  rounds: number;
  /** Demo objects per round are drawn from these. */
  demoCounts: readonly number[];
  /** 'keep' (default): the flip keeps the base's count; 'source': the count is set to one drawn from `counts`. */
  count?: 'keep' | 'source';
  /** Counts of 'source' flips (default demoCounts). */
  counts?: readonly number[];
  /** Largest count the program may reach (default 20: the trained range). */
  maxCount?: number;
  n: number;
  seed: number | string;
  /** Longest sequence (default 64). */
  maxLength?: number;
}

/** Seeded repeated-phase-flip counterfactuals (see FlipCounterfactual). */
export function sampleFlips(o: FlipOptions): FlipCounterfactual[] {
  const p = causalProgram(o.program);
  const variables = o.variables ?? ['count', 'phase'];
  for (const v of variables)
    if (!p.variables.includes(v))
      throw new GroundlabError('BAD_ARGUMENT', `program ${p.name} has no variable "${v}"`, {
        hint: `its variables: ${p.variables.join(', ')}`,
      });
  if (!Number.isInteger(o.rounds) || o.rounds < 2)
    throw new GroundlabError('BAD_ARGUMENT', `rounds = ${o.rounds}: repeated phase flips need at least 2 rounds`);
  if (!o.demoCounts.length || o.demoCounts.some((c) => !Number.isInteger(c) || c < 1))
    throw new GroundlabError('BAD_ARGUMENT', `demoCounts [${o.demoCounts.join(', ')}]: expected whole numbers >= 1`);
  const counts = o.counts ?? o.demoCounts;
  const maxCount = o.maxCount ?? 20;
  const maxLength = o.maxLength ?? 64;
  const k = { task: o.task, objectTypes: o.objectTypes ?? 3 };
  const rng = new Rng(`${o.seed}/flips`);
  const demo = demoTokens(k);
  const resp = responseToken(o.task);
  const out: FlipCounterfactual[] = [];
  for (let tries = 0; out.length < o.n; tries++) {
    if (tries > o.n * 200)
      throw new GroundlabError(
        'BAD_ARGUMENT',
        `could not draw ${o.n} phase-flip sequences within ${maxLength} tokens and counts <= ${maxCount} (${out.length} found)`,
        {
          hint: 'use fewer rounds or smaller demoCounts',
        },
      );
    const tokens = [BOS];
    const roles: CountRole[] = ['bos'];
    let s = p.step(null, roles, 0);
    const push = (tok: string, role: CountRole) => {
      tokens.push(tok);
      roles.push(role);
      s = p.step(s, roles, roles.length - 1);
    };
    // How many responses the program predicts from the current state before the end (null: it never ends within maxLength).
    const responsesLeft = (): number | null => {
      const r2 = [...roles];
      let s2 = s;
      for (let m = 0; r2.length + m < maxLength; m++) {
        const y = p.output(s2);
        if (y !== 'response') return y === 'end' ? m : null;
        r2.push('response');
        s2 = p.step(s2, r2, r2.length - 1);
      }
      return null;
    };
    const rounds: FlipCounterfactual['rounds'] = [];
    const interventions: FlipIntervention[] = [];
    let ok = true;
    for (let r = 0; r < o.rounds && ok; r++) {
      const a = o.demoCounts[rng.int(o.demoCounts.length)];
      for (let i = 0; i < a; i++) push(demo.length === 1 ? demo[0] : demo[rng.int(demo.length)], 'demo');
      push(TRIGGER, 'trigger');
      const m = responsesLeft();
      if (m === null || m > maxCount) {
        ok = false;
        break;
      }
      const last = r === o.rounds - 1;
      if (last) {
        for (let i = 0; i < m; i++) push(resp, 'response');
        push(END, 'end');
        rounds.push({ demo: a, responses: m });
        break;
      }
      if (m < 1) {
        ok = false;
        break;
      }
      // Round i < R: b < m responses, so the program still predicts a response where the flip comes.
      const b = rng.int(m);
      for (let i = 0; i < b; i++) push(resp, 'response');
      rounds.push({ demo: a, responses: b });
      const c = o.count === 'source' ? counts[rng.int(counts.length)] : (s.count ?? 0);
      if (!(Number.isInteger(c) && c >= 1)) {
        ok = false;
        break;
      }
      const source = countingSequence(k, c + rng.int(3), rng);
      const st = trace(p, source.roles)[c];
      const values = variables.map((v) => st[v]);
      interventions.push({ step: tokens.length - 1, source, sourceStep: c, values });
      s = { ...s, ...Object.fromEntries(variables.map((v, i) => [v, values[i]])) };
    }
    if (!ok || tokens.length > maxLength) continue;
    // The generated responses and the end are the program's predictions: those are the labels.
    const labels = tokens.slice(1).map((tok, i) => (roles[i + 1] === 'response' || roles[i + 1] === 'end' ? tok : null));
    out.push({ variables: [...variables], rounds, interventions, tokens, labels });
  }
  return out;
}

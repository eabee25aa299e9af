/**
 * Grounding information gain (PAPER.md "The measures"):
 *   G(v) = 1/N sum_n 1/M sum_{u != v} [ s(v<LAN> | c_n(u<ENV>)) - s(v<LAN> | c_n(v<ENV>)) ]
 * computed from surprisal records of match and mismatch contexts, with confidence intervals over
 * nouns (one run) and over seeds (several runs).
 */
import { GroundlabError } from '../errors';
import { mean, meanCI, type MeanCI } from './stats';

/** One surprisal measurement: the surprisal of `noun`<LAN> after context `context` filled with `envNoun`<ENV>. */
export interface SurprisalRecord {
  noun: string;
  /** Identifies the context c_n of this noun (e.g. the evaluation frame id). */
  context: string;
  condition: 'match' | 'mismatch';
  /** The noun whose ENV form fills the slot (= noun in the match condition). */
  envNoun: string;
  /** Surprisal in nats. */
  surprisal: number;
}

export interface GainRow {
  noun: string;
  /** G(v) in nats. */
  gain: number;
  /** Mean match surprisal over contexts. */
  matchSurprisal: number;
  /** Mean mismatch surprisal over contexts and mismatched nouns. */
  mismatchSurprisal: number;
  /** Number of contexts N that had both a match and at least one mismatch record. */
  contexts: number;
}

/** The records of sequences labelled like an evaluation set's (noun, context, condition, envNoun), sequence i with surprisal s[i]. */
export function surprisalRecords(seqs: ReadonlyArray<Omit<SurprisalRecord, 'surprisal'>>, s: ArrayLike<number>): SurprisalRecord[] {
  return seqs.map((q, i) => ({ noun: q.noun, context: q.context, condition: q.condition, envNoun: q.envNoun, surprisal: s[i] }));
}

/** Whether the sequences have both a match and a mismatch condition (G needs both). */
export function hasBothConditions(seqs: ReadonlyArray<Pick<SurprisalRecord, 'condition'>>): boolean {
  return seqs.some((s) => s.condition === 'match') && seqs.some((s) => s.condition === 'mismatch');
}

/** G(v) per noun, in the order nouns first appear in the records. */
export function groundingGain(records: readonly SurprisalRecord[]): GainRow[] {
  type Ctx = { match?: number; mismatch: number[] };
  const byNoun = new Map<string, Map<string, Ctx>>();
  for (const r of records) {
    if (!Number.isFinite(r.surprisal))
      throw new GroundlabError('NUMERIC', `surprisal of ${r.noun} in context ${r.context} is ${r.surprisal}`);
    let ctxs = byNoun.get(r.noun);
    if (!ctxs) byNoun.set(r.noun, (ctxs = new Map()));
    let c = ctxs.get(r.context);
    if (!c) ctxs.set(r.context, (c = { mismatch: [] }));
    if (r.condition === 'match') {
      if (c.match !== undefined) throw new GroundlabError('BAD_ARGUMENT', `two match records for ${r.noun} in context ${r.context}`);
      c.match = r.surprisal;
    } else {
      if (r.envNoun === r.noun) throw new GroundlabError('BAD_ARGUMENT', `a mismatch record of ${r.noun} has its own ENV form`);
      c.mismatch.push(r.surprisal);
    }
  }
  const out: GainRow[] = [];
  for (const [noun, ctxs] of byNoun) {
    const perCtx: number[] = [];
    const matches: number[] = [];
    const mismatches: number[] = [];
    for (const c of ctxs.values()) {
      if (c.match === undefined || c.mismatch.length === 0) continue;
      const mm = mean(c.mismatch);
      perCtx.push(mm - c.match);
      matches.push(c.match);
      mismatches.push(mm);
    }
    out.push({
      noun,
      gain: perCtx.length ? mean(perCtx) : NaN,
      matchSurprisal: mean(matches),
      mismatchSurprisal: mean(mismatches),
      contexts: perCtx.length,
    });
  }
  return out;
}

export interface GainSummary {
  /** Mean G over nouns with its confidence interval over nouns. */
  gain: MeanCI;
  matchSurprisal: number;
  mismatchSurprisal: number;
  nouns: number;
}

/** Average G over nouns, with a Student-t confidence interval over nouns. */
export function summarizeGain(rows: readonly GainRow[], level = 0.95): GainSummary {
  const ok = rows.filter((r) => Number.isFinite(r.gain));
  return {
    gain: meanCI(
      ok.map((r) => r.gain),
      level,
    ),
    matchSurprisal: mean(ok.map((r) => r.matchSurprisal)),
    mismatchSurprisal: mean(ok.map((r) => r.mismatchSurprisal)),
    nouns: ok.length,
  };
}

/**
 * Confidence interval over seeds: each run contributes its mean G (over nouns) at a step; steps
 * present in every run are kept. Returns one row per step.
 */
export function gainOverSeeds(
  runs: ReadonlyArray<ReadonlyArray<{ step: number; gain: number }>>,
  level = 0.95,
): Array<{ step: number } & MeanCI> {
  if (runs.length === 0) return [];
  const steps = runs.map((r) => new Map(r.map((x) => [x.step, x.gain])));
  const common = [...steps[0].keys()].filter((s) => steps.every((m) => m.has(s))).sort((a, b) => a - b);
  return common.map((step) => ({
    step,
    ...meanCI(
      steps.map((m) => m.get(step) as number),
      level,
    ),
  }));
}

/** The mean G over nouns (summarizeGain) of sequences with surprisals s[i] (see surprisalRecords). */
export function meanGainOf(seqs: ReadonlyArray<Omit<SurprisalRecord, 'surprisal'>>, s: ArrayLike<number>): number {
  return summarizeGain(groundingGain(surprisalRecords(seqs, s))).gain.mean;
}

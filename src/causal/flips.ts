/**
 * `dasFlips(run, opts)`: repeated phase flips on a trained counting run (seed 003's reviewers: "flip
 * the phase variable several times within the same sequence, though in training it only ever
 * flips once"). At the last checkpoint (or `checkpoint`): DAS fits a subspace for count and phase
 * together (k = `k`, default 2) and one for count alone (k = 1) on ordinary counterfactual pairs;
 * then sequences of `rounds` demo / response rounds (`sampleFlips`) are run with every flip back to
 * demo made by interchanging that subspace with a demo-phase source, all flips in one run, and
 * scored on every response and end token. Rows per rounds x count mode ('keep': a pure phase flip;
 * 'source': the count set too) x method: no intervention (`none`), DAS count+phase, DAS count,
 * the identity rotation (first k neurons), a random rotation, the full-vector swap. Writes
 * `analysis/das_flips.arrow` (rows of other programs, sites or checkpoints are kept).
 */
import * as aq from 'arquero';
import type { Run } from '../train/run';
import type { ProgressFn } from '../train/progress';
import { GroundlabError } from '../errors';
import { countingKnobs, trainCounts } from '../data/counting';
import { sampleCounterfactuals, sampleFlips, type ProgramName } from './programs';
import { encodeFlips, encodePairs, evaluateFlips, evaluateIia, fitDas, identitySubspace, padIdOf, randomSubspace, siteFor } from './das';

export interface FlipRunOptions {
  program?: ProgramName;
  /** Site: a recurrent state `blocks.{l}.state` or a hook point. */
  site: string;
  checkpoint?: number;
  /** Rounds per sequence to score (default [2, 3]). */
  rounds?: number[];
  /** Size of the count+phase subspace (default 2). */
  k?: number;
  /** Demo objects per round are drawn from 1..demoMax (default 8). */
  demoMax?: number;
  fitPairs?: number;
  sequences?: number;
  steps?: number;
  lr?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface FlipRow {
  step: number;
  program: string;
  site: string;
  rounds: number;
  count_mode: 'keep' | 'source';
  method: 'none' | 'das count+phase' | 'das count' | 'identity' | 'random' | 'full';
  k: number;
  iia: number;
  token_accuracy: number;
  sequences: number;
  /** IIA of the fitted subspace on ordinary (one-intervention) pairs of training counts. */
  single_iia: number;
}

export async function dasFlips(run: Run, o: FlipRunOptions): Promise<FlipRow[]> {
  if (run.config.corpus.kind !== 'counting')
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `run ${run.dir} was trained on a "${run.config.corpus.kind}" corpus; phase flips need a counting run`,
    );
  const kn = countingKnobs(run.config.corpus.knobs);
  const program = o.program ?? 'up-down';
  const seed = o.seed ?? 0;
  const k = o.k ?? 2;
  const step = o.checkpoint ?? run.checkpoints.at(-1)?.step;
  if (step === undefined) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint`);
  const tok = run.tokenizer;
  const pad = padIdOf(tok);
  const maxLength = run.config.model.contextLength;
  const fitCounts = trainCounts(kn);
  const common = { program, task: kn.task, objectTypes: kn.objectTypes, maxLength, maxResponses: kn.maxCount };
  const pairs = (variables: string[], n: number, s: string) =>
    encodePairs(sampleCounterfactuals({ ...common, variables, counts: fitCounts, n, seed: `${seed}/${s}` }), tok);
  const model = await run.loadModel(step);
  const rows: FlipRow[] = [];
  try {
    const site = siteFor(model, o.site);
    const fits: Array<{ method: FlipRow['method']; w: Float32Array; k: number; single: number }> = [];
    for (const [method, variables, kk] of [
      ['das count+phase', ['count', 'phase'], k],
      ['das count', ['count'], 1],
    ] as const) {
      const fit = await fitDas(site, pairs([...variables], o.fitPairs ?? 384, `fit-${variables.join('+')}`), {
        k: kk,
        steps: o.steps ?? 200,
        lr: o.lr ?? 0.01,
        seed,
        padId: pad,
        signal: o.signal,
        onProgress: (p) => o.onProgress?.({ task: `das ${variables.join('+')} k=${kk}`, step: p.step, total: p.total, loss: p.loss }),
      });
      if (fit.status === 'aborted') throw new GroundlabError('ABORTED', 'DAS was stopped', { hint: 'nothing was written; run again' });
      const single = (await evaluateIia(site, pairs([...variables], 256, `score-${variables.join('+')}`), fit.w, kk, { padId: pad })).iia;
      fits.push({ method, w: fit.w, k: kk, single });
    }
    const d = site.dim;
    const subspaces = [
      { method: 'none' as const, w: new Float32Array(d), k: 1, single: NaN },
      ...fits,
      { method: 'identity' as const, w: identitySubspace(d, k), k, single: NaN },
      { method: 'random' as const, w: randomSubspace(d, k, `${seed}/flip-baseline`), k, single: NaN },
      { method: 'full' as const, w: identitySubspace(d, d), k: d, single: NaN },
    ];
    const demoCounts = Array.from({ length: o.demoMax ?? 8 }, (_, i) => i + 1);
    for (const rounds of o.rounds ?? [2, 3]) {
      for (const mode of ['keep', 'source'] as const) {
        const seqs = encodeFlips(
          sampleFlips({
            program,
            task: kn.task,
            objectTypes: kn.objectTypes,
            rounds,
            demoCounts,
            count: mode,
            counts: fitCounts.filter((c) => c <= (o.demoMax ?? 8)),
            maxCount: kn.maxCount,
            maxLength,
            n: o.sequences ?? 256,
            seed: `${seed}/flips-${rounds}-${mode}`,
          }),
          tok,
        );
        for (const s of subspaces) {
          const r = await evaluateFlips(site, seqs, s.w, s.k, { padId: pad, signal: o.signal });
          rows.push({
            step,
            program,
            site: o.site,
            rounds,
            count_mode: mode,
            method: s.method,
            k: s.k,
            iia: r.iia,
            token_accuracy: r.tokenAccuracy,
            sequences: r.n,
            single_iia: s.single,
          });
        }
        o.onProgress?.({ task: `flips rounds ${rounds} ${mode}`, step: rows.length, total: rows.length });
      }
    }
  } finally {
    model.dispose();
  }
  const key = (r: Pick<FlipRow, 'step' | 'program' | 'site'>) => `${r.step}|${r.program}|${r.site}`;
  const fresh = new Set(rows.map(key));
  const old = ((await run.readTable('analysis/das_flips'))?.objects() ?? []) as FlipRow[];
  await run.writeTable('analysis/das_flips', aq.from([...old.filter((r) => !fresh.has(key(r))), ...rows]));
  return rows;
}

/**
 * `dasRun(run, opts)`: DAS on a trained counting-task run, per checkpoint. For each checkpoint:
 * task accuracy (all counts, held-out counts), then for each k a learned subspace (DAS) and the
 * baselines (identity rotation = the first k neurons, a random rotation, a probe-derived direction,
 * the full-vector swap),
 * each scored by IIA on counterfactual pairs it was not fitted on. Writes `analysis/das.arrow`
 * (one row per checkpoint, k and method; rows of other programs, sites or checkpoints are kept) and the learned subspaces as
 * `analysis/das/<program>-<variables>-<site>-k<k>-step<step>.safetensors` (tensor "w", [D, k]).
 */
import * as path from 'node:path';
import * as aq from 'arquero';
import { GroundlabError } from '../errors';
import type { Run } from '../train/run';
import type { ProgressFn } from '../train/progress';
import { writeSafetensors } from '../io/safetensors';
import { mkdirp } from '../io/atomic';
import { countingKnobs, countingSequences, trainCounts, type CountingKnobs } from '../data/counting';
import { PROGRAM_NAMES, causalProgram, sampleCounterfactuals, trace, type ProgramName } from './programs';
import { encodePairs, evaluateIia, fitDas, identitySubspace, padIdOf, probeDirection, randomSubspace, siteFor } from './das';
import { countingAccuracy } from './task';
import { fitBoundlessDas } from './boundless';

export interface DasRunOptions {
  program: ProgramName;
  /** Variables intervened on together (default ['count']). */
  variables?: string[];
  /** Site: a hook point, or `blocks.{l}.state` (a GRU layer's recurrent state). */
  site: string;
  /** Subspace sizes (default [1]). */
  dims?: number[];
  /** Checkpoint steps (default: the last). */
  checkpoints?: number[];
  /** Counterfactual pairs to fit on and to score on (defaults 512 and 512). */
  trainPairs?: number;
  testPairs?: number;
  steps?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  /** Where interventions happen: any step (default), demo steps, or response steps. */
  at?: 'any' | 'demo' | 'response';
  /** Largest number of responses a counterfactual may have (default the run's maxCount: in range). */
  maxResponses?: number;
  /** Score only on counterfactuals with at least this many responses (e.g. maxCount + 1 with maxResponses 30: beyond the trained range). Fitting pairs stay in range. */
  minResponses?: number;
  /** Also fit boundless DAS (a learned mask over a full rotation; its row's k is the size it kept). */
  boundless?: boolean;
  /** Also score the baselines (default true). */
  baselines?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface DasRow {
  step: number;
  program: string;
  variables: string;
  site: string;
  k: number;
  method: 'das' | 'boundless' | 'identity' | 'random' | 'full' | 'probe';
  iia: number;
  token_accuracy: number;
  loss: number;
  pairs: number;
  task_accuracy: number;
  heldout_accuracy: number;
  ortho_error: number;
  fit_sec: number;
}

function knobsOf(run: Run): CountingKnobs {
  if (run.config.corpus.kind !== 'counting') {
    throw new GroundlabError(
      'BAD_ARGUMENT',
      `run ${run.dir} was trained on a "${run.config.corpus.kind}" corpus; DAS with the counting programs needs a counting run`,
      {
        hint: 'train one with `groundlab train --corpus-kind counting --arch gru --preset quick --out runs/count-gru`; on a grounding run, `groundlab das <run> --grounding` aligns the ENV referent',
        codeHint: "train one with `train({ out: 'runs/count-gru', arch: 'gru', preset: 'quick', corpus: { kind: 'counting' } })`",
      },
    );
  }
  return countingKnobs(run.config.corpus.knobs);
}

export async function dasRun(run: Run, o: DasRunOptions): Promise<DasRow[]> {
  if (!PROGRAM_NAMES.includes(o.program)) causalProgram(o.program); // throws with the list
  const k = knobsOf(run);
  const variables = o.variables ?? ['count'];
  const dims = o.dims ?? [1];
  const seed = o.seed ?? 0;
  const steps = o.checkpoints ?? [run.checkpoints[run.checkpoints.length - 1]?.step].filter((s): s is number => s !== undefined);
  if (!steps.length) throw new GroundlabError('NOT_FOUND', `run ${run.dir} has no checkpoint`);
  const maxLength = run.config.model.contextLength;
  const tok = run.tokenizer;
  const pad = padIdOf(tok);
  const all = Array.from({ length: k.maxCount }, (_, i) => i + 1);
  const fitCounts = trainCounts(k);
  // Counterfactuals stay within the trained range of counts unless `maxResponses` says otherwise (seed 003's reviewers asked about 30).
  const common = {
    program: o.program,
    variables,
    task: k.task,
    objectTypes: k.objectTypes,
    maxLength,
    steps: o.at,
    maxResponses: o.maxResponses ?? k.maxCount,
  };
  const trainPairs = encodePairs(
    sampleCounterfactuals({
      ...common,
      maxResponses: Math.min(common.maxResponses, k.maxCount),
      counts: fitCounts,
      n: o.trainPairs ?? 512,
      seed: `${seed}/fit`,
    }),
    tok,
  );
  const testPairs = encodePairs(
    sampleCounterfactuals({ ...common, minResponses: o.minResponses, counts: all, n: o.testPairs ?? 512, seed: `${seed}/score` }),
    tok,
  );
  const accSeqs = countingSequences(k, all, 8, `${seed}/accuracy`);
  const held = new Set(k.heldOut);
  const rows: DasRow[] = [];
  const outDir = path.join(run.dir, 'analysis', 'das');
  const fitSteps = o.steps ?? 300;
  const total = steps.length * dims.length * fitSteps;
  let done = 0;
  // What every fit shares (DAS at each k, boundless DAS), and how a stopped one ends the run.
  const fitOpts = { steps: fitSteps, lr: o.lr ?? 0.01, batchSize: o.batchSize ?? 32, seed, padId: pad, signal: o.signal };
  const stopped = () =>
    new GroundlabError('ABORTED', 'DAS was stopped', { hint: 'the table of the finished checkpoints was not written; run again' });
  for (const step of steps) {
    const model = await run.loadModel(step);
    try {
      const site = siteFor(model, o.site);
      const acc = await countingAccuracy(model, tok, accSeqs, { signal: o.signal });
      const heldRows = acc.byCount.filter((c) => held.has(c.count));
      const heldN = heldRows.reduce((a, c) => a + c.n, 0);
      const heldAcc = heldN ? heldRows.reduce((a, c) => a + c.accuracy * c.n, 0) / heldN : NaN;
      const base = {
        step,
        program: o.program,
        variables: variables.join('+'),
        site: o.site,
        pairs: testPairs.length,
        task_accuracy: acc.accuracy,
        heldout_accuracy: heldAcc,
      };
      for (const kd of dims) {
        const t0 = Date.now();
        const fit = await fitDas(site, trainPairs, {
          ...fitOpts,
          k: kd,
          onProgress: (p) =>
            o.onProgress?.({ task: `das ${o.program} ${o.site} k=${kd} step ${step}`, step: done + p.step, total, loss: p.loss }),
        });
        done += fitSteps;
        if (fit.status === 'aborted') throw stopped();
        const fitSec = (Date.now() - t0) / 1000;
        const r = await evaluateIia(site, testPairs, fit.w, kd, { padId: pad, signal: o.signal });
        rows.push({
          ...base,
          k: kd,
          method: 'das',
          iia: r.iia,
          token_accuracy: r.tokenAccuracy,
          loss: r.loss,
          ortho_error: fit.orthoError,
          fit_sec: fitSec,
        });
        mkdirp(outDir);
        await writeSafetensors(
          path.join(outDir, `${o.program}-${variables.join('+')}-${o.site}-k${kd}-step${step}.safetensors`),
          { w: { dtype: 'F32', shape: [site.dim, kd], data: fit.w } },
          {
            program: o.program,
            variables: variables.join(','),
            site: o.site,
            step: String(step),
            iia: String(r.iia),
          },
        );
        if (o.baselines ?? true) {
          for (const [method, w] of [
            ['identity', identitySubspace(site.dim, kd)],
            ['random', randomSubspace(site.dim, kd, `${seed}/baseline`)],
          ] as const) {
            const b = await evaluateIia(site, testPairs, w, kd, { padId: pad, signal: o.signal });
            rows.push({ ...base, k: kd, method, iia: b.iia, token_accuracy: b.tokenAccuracy, loss: b.loss, ortho_error: 0, fit_sec: 0 });
          }
        }
      }
      if (o.boundless) {
        const t0 = Date.now();
        const bf = await fitBoundlessDas(site, trainPairs, fitOpts);
        if (bf.status === 'aborted') throw stopped();
        const br = await evaluateIia(site, testPairs, bf.w, bf.k, { padId: pad, signal: o.signal });
        rows.push({
          ...base,
          k: bf.k,
          method: 'boundless',
          iia: br.iia,
          token_accuracy: br.tokenAccuracy,
          loss: br.loss,
          ortho_error: bf.orthoError,
          fit_sec: (Date.now() - t0) / 1000,
        });
      }
      if ((o.baselines ?? true) && variables.length === 1) {
        // The probe-derived direction (k = 1): ridge regression of the variable on the site's activations.
        const prog = causalProgram(o.program);
        const probeSeqs = countingSequences(k, fitCounts, 8, `${seed}/probe`).map((q) => ({
          ids: tok.encode(q.tokens),
          values: trace(prog, q.roles).map((x) => x[variables[0]] ?? 0),
        }));
        const pw = await probeDirection(site, probeSeqs, { padId: pad });
        const pr = await evaluateIia(site, testPairs, pw, 1, { padId: pad, signal: o.signal });
        rows.push({
          ...base,
          k: 1,
          method: 'probe',
          iia: pr.iia,
          token_accuracy: pr.tokenAccuracy,
          loss: pr.loss,
          ortho_error: 0,
          fit_sec: 0,
        });
      }
      if (o.baselines ?? true) {
        const f = await evaluateIia(site, testPairs, identitySubspace(site.dim, site.dim), site.dim, { padId: pad, signal: o.signal });
        rows.push({
          ...base,
          k: site.dim,
          method: 'full',
          iia: f.iia,
          token_accuracy: f.tokenAccuracy,
          loss: f.loss,
          ortho_error: 0,
          fit_sec: 0,
        });
      }
    } finally {
      model.dispose();
    }
  }
  // Rows of other programs, sites, variables or checkpoints already in the table are kept.
  const key = (r: Pick<DasRow, 'step' | 'program' | 'variables' | 'site'>) => `${r.step}|${r.program}|${r.variables}|${r.site}`;
  const fresh = new Set(rows.map(key));
  const old = ((await run.readTable('analysis/das'))?.objects() ?? []) as DasRow[];
  await run.writeTable('analysis/das', aq.from([...old.filter((r) => !fresh.has(key(r))), ...rows]));
  o.onProgress?.({ task: 'das', step: total, total, done: true, message: `${rows.length} rows -> analysis/das.arrow` });
  return rows;
}

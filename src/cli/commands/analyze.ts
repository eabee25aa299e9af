/**
 * `groundlab analyze <run>`: every measure and analysis of a run, per checkpoint, as tables in
 * <run>/analysis/. Computes what is missing, reuses what is there; Ctrl-C stops after the current
 * step of work and the same command resumes.
 */
import { defineCommand, type Command } from '../args';
import { GroundlabError } from '../../errors';
import { initEngine } from '../../engine';
import { openRun, sigintAbort, terminalProgress } from '../../train';
import { analyzeRun, ANALYSES, type AnalysisName } from '../../analysis/analyze';
import { runReport } from '../../analysis/report';

export function parseSteps(xs: string[] | undefined): number[] | undefined {
  if (!xs) return undefined;
  return xs.map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0)
      throw new GroundlabError('BAD_ARGUMENT', `--checkpoints "${x}": expected a step number`, { hint: 'e.g. --checkpoints 500,1000' });
    return n;
  });
}

export const command: Command = defineCommand(
  {
    name: 'analyze',
    summary: 'Compute every measure and analysis of a run, per checkpoint, as tables in <run>/analysis/ (what is there is reused).',
    positionals: [{ name: 'run', help: 'run directory' }],
    options: {
      checkpoints: { type: 'list', help: 'checkpoint steps to analyse, e.g. 500,1000 (default: all)' },
      only: {
        type: 'list',
        choices: [...ANALYSES],
        help: `analyses to run (their dependencies come along): ${ANALYSES.join(', ')} (default: all)`,
      },
      force: { type: 'boolean', help: 'recompute what the tables already hold for the selected checkpoints' },
      contexts: { type: 'int', help: 'N: evaluation contexts per noun (default 4; fixed once the run has an evaluation set)' },
      mismatches: { type: 'int', help: 'M: mismatched nouns per context (default 5)' },
      'eval-seed': { type: 'int', help: 'seed of the evaluation set draw (default 0)' },
      'aggregate-threshold': { type: 'number', default: 0.3, help: 'saliency share (prediction <- ENV) that makes an aggregate head' },
      'gather-threshold': { type: 'number', default: 0.3, help: 'saliency share (ENV <- earlier positions) that makes a gather head' },
      draws: { type: 'int', default: 10, help: 'random control-head draws in the ablation test' },
      ablation: {
        type: 'string',
        choices: ['zero', 'mean'],
        default: 'zero',
        help: 'ablation: zero the head outputs or set them to their mean',
      },
      'lens-steps': { type: 'int', default: 60, help: 'KL optimisation steps of the tuned lens (after a least-squares start)' },
      batch: { type: 'int', default: 64, help: 'evaluation sequences per batch' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
    examples: [
      'groundlab analyze runs/transformer-quick-s0',
      'groundlab analyze runs/t --checkpoints 500,1000 --only gain,ablation',
      'groundlab analyze runs/t --only lens --lens-steps 500',
    ],
  },
  async ({ positionals, options: o }) => {
    await initEngine();
    const run = await openRun(positionals[0]);
    const evalSet: Record<string, number> = {};
    if (o.contexts !== undefined) evalSet.contextsPerNoun = o.contexts as number;
    if (o.mismatches !== undefined) evalSet.mismatchesPerContext = o.mismatches as number;
    if (o['eval-seed'] !== undefined) evalSet.seed = o['eval-seed'] as number;
    const abort = sigintAbort();
    const cpu0 = process.cpuUsage();
    try {
      const steps = parseSteps(o.checkpoints as string[] | undefined);
      const res = await analyzeRun(run, {
        checkpoints: steps,
        only: o.only as AnalysisName[] | undefined,
        force: Boolean(o.force),
        evalSet,
        heads: { aggregateThreshold: o['aggregate-threshold'] as number, gatherThreshold: o['gather-threshold'] as number },
        ablation: { draws: o.draws as number, mode: o.ablation as 'zero' | 'mean' },
        tunedLens: { steps: o['lens-steps'] as number },
        batchSize: o.batch as number,
        signal: abort.signal,
        onProgress: o.quiet ? undefined : terminalProgress(),
      });
      process.stdout.write((await runReport(run, res.steps)) + '\n');
      const done = Object.entries(res.computed).map(([k, v]) => `${k} (${v!.length})`);
      process.stdout.write(
        `\nrun ${run.dir}: ${done.length ? 'computed ' + done.join(', ') : 'everything was already there'} in ${res.seconds.toFixed(1)} s; tables in ${run.dir}/analysis/\n`,
      );
      if (res.skipped.length) process.stdout.write(`skipped: ${res.skipped.map((x) => `${x.analysis} (${x.reason})`).join('; ')}\n`);
      const parts = Object.entries(res.timings)
        .filter(([, v]) => v >= 0.05)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`);
      const cpu = process.cpuUsage(cpu0);
      if (parts.length)
        process.stdout.write(`seconds by part: ${parts.join(', ')}; process CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s\n`);
      return 0;
    } finally {
      abort.dispose();
    }
  },
);

/**
 * `groundlab eval <run...>`: surprisal of v<LAN> in match and mismatch contexts and the grounding
 * information gain G per checkpoint (tables analysis/surprisal, analysis/gain, analysis/gain_summary).
 * With several runs (seeds), also the mean G per step with a 95% CI over seeds.
 */
import { defineCommand, type Command } from '../args';
import { initEngine } from '../../engine';
import { openRun, sigintAbort, terminalProgress } from '../../train';
import { evalRun, gainAcrossRuns, type AnalysisRun } from '../../analysis/analyze';
import { runReport, textTable } from '../../analysis/report';
import { parseSteps } from './analyze';

export const command: Command = defineCommand(
  {
    name: 'eval',
    summary: 'Surprisal and grounding information gain G of a run per checkpoint (several runs: CI over seeds).',
    positionals: [{ name: 'run', help: 'run directories (one or more seeds)', variadic: true }],
    options: {
      checkpoints: { type: 'list', help: 'checkpoint steps, e.g. 500,1000 (default: all)' },
      contexts: { type: 'int', help: 'N: evaluation contexts per noun (default 4)' },
      mismatches: { type: 'int', help: 'M: mismatched nouns per context (default 5)' },
      batch: { type: 'int', default: 64, help: 'evaluation sequences per batch' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
    examples: ['groundlab eval runs/transformer-quick-s0', 'groundlab eval runs/t-s0 runs/t-s1 runs/t-s2'],
  },
  async ({ positionals, options: o }) => {
    await initEngine();
    const abort = sigintAbort();
    try {
      const runs: AnalysisRun[] = [];
      for (const dir of positionals) {
        const run = await openRun(dir);
        const evalSet: Record<string, number> = {};
        if (o.contexts !== undefined) evalSet.contextsPerNoun = o.contexts as number;
        if (o.mismatches !== undefined) evalSet.mismatchesPerContext = o.mismatches as number;
        const steps = parseSteps(o.checkpoints as string[] | undefined);
        await evalRun(run, {
          checkpoints: steps,
          evalSet,
          batchSize: o.batch as number,
          signal: abort.signal,
          onProgress: o.quiet ? undefined : terminalProgress(),
        });
        process.stdout.write(`run ${run.dir}\n${await runReport(run, steps, 'eval')}\n\n`);
        runs.push(run);
      }
      if (runs.length > 1) {
        const seeds = await gainAcrossRuns(runs);
        process.stdout.write(
          `G over ${runs.length} runs (mean, 95% CI over seeds)\n${textTable(seeds, [
            ['step', 'step'],
            ['mean', 'G'],
            ['lo', 'CI low'],
            ['hi', 'CI high'],
            ['n', 'runs'],
          ])}\n`,
        );
      }
      return 0;
    } finally {
      abort.dispose();
    }
  },
);

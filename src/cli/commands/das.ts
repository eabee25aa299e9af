/**
 * `groundlab das <run> --program up-down --variable count --hook blocks.0.state --dims 1,2`:
 * distributed alignment search on a counting-task run (src/causal/run.ts): per checkpoint, task
 * accuracy, the IIA of a learned k-dimensional subspace and of the baselines (identity rotation,
 * random rotation, full-vector swap). Writes `<run>/analysis/das.arrow` and the subspaces under
 * `<run>/analysis/das/`, and prints the table. With `--grounding`, on a grounding run: DAS for the
 * ENV referent at the pre-LAN position of every layer (src/causal/grounding.ts), to
 * `<run>/analysis/das_grounding.arrow`.
 */
import { GroundlabError } from '../../errors';
import { defineCommand, type Command } from '../args';
import { initEngine } from '../../engine';
import { openRun, sigintAbort, terminalProgress } from '../../train';
import { PROGRAM_NAMES, type ProgramName } from '../../causal/programs';
import { dasRun } from '../../causal/run';
import { groundingDas } from '../../causal/grounding';
import { modelAnatomy } from '../../models/create';
import type { ModelConfig } from '../../models/config';
import { textTable } from '../../analysis/report';
import { parseSteps } from './analyze';

function parseDims(xs: string[] | undefined): number[] {
  if (!xs) return [1];
  return xs.map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new GroundlabError('BAD_ARGUMENT', `--dims "${x}": expected subspace sizes like 1,2,4`);
    return n;
  });
}

export const command: Command = defineCommand(
  {
    name: 'das',
    summary:
      'Distributed alignment search on a counting-task run: IIA of a learned subspace for a program variable, with baselines, per checkpoint.',
    positionals: [{ name: 'run', help: 'run directory of a counting run (`groundlab train --corpus-kind counting`)' }],
    options: {
      program: { type: 'string', choices: [...PROGRAM_NAMES], default: 'up-down', help: 'causal program' },
      variable: { type: 'list', help: 'program variables intervened on together (default count; e.g. count,phase)' },
      hook: {
        type: 'string',
        help: "site: a [B, T, D] hook point (e.g. blocks.0.hook_resid_post) or blocks.{l}.state (a GRU layer's h or an LSTM layer's h | c, replaced inside the recurrence and carried on; blocks.{l}.state.h / .c: one half of the LSTM's); default blocks.0.state for a recurrent model, blocks.0.hook_resid_post otherwise",
      },
      dims: { type: 'list', help: 'subspace sizes k, comma-separated (default 1)' },
      checkpoints: { type: 'list', help: 'checkpoint steps, comma-separated (default: the last)' },
      at: { type: 'string', choices: ['any', 'demo', 'response'], default: 'any', help: 'steps intervened on' },
      'max-responses': {
        type: 'int',
        help: "largest count a scored counterfactual may reach (default: the run's maxCount, in range; e.g. 30 to test beyond; fitting stays in range)",
      },
      'min-responses': {
        type: 'int',
        help: 'score only on counterfactuals reaching at least this count (with --max-responses 30 and --min-responses 21: only beyond the trained range)',
      },
      'fit-steps': { type: 'int', default: 300, help: 'optimisation steps of each fit' },
      pairs: { type: 'int', default: 512, help: 'counterfactual pairs to fit on (as many again, drawn apart, to score on)' },
      lr: { type: 'number', default: 0.01, help: 'learning rate (Adam, cosine decay)' },
      seed: { type: 'int', default: 0, help: 'seed of the pairs and of the initial subspace' },
      grounding: {
        type: 'boolean',
        help: 'on a grounding run (not a counting run): DAS for the ENV referent at the pre-LAN position of every layer, k from --dims (default 1,2,4,8), to analysis/das_grounding.arrow',
      },
      boundless: { type: 'boolean', help: "also fit boundless DAS (a learned mask over a full rotation; the row's k is the size it kept)" },
      'no-baselines': { type: 'boolean', help: 'skip the identity, random and full-swap baselines' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
    examples: [
      'groundlab das runs/count-gru --program up-down --variable count --hook blocks.0.state --dims 1,2',
      'groundlab das runs/count-gru --program up-up --checkpoints 100,500,1500',
      'groundlab das runs/t --grounding --checkpoints 200,300,1500 --fit-steps 150 --pairs 256',
    ],
  },
  async ({ positionals, options: o }) => {
    await initEngine();
    const abort = sigintAbort();
    try {
      const run = await openRun(positionals[0]);
      if (o.grounding) {
        const rows = await groundingDas(run, {
          checkpoints: parseSteps(o.checkpoints as string[] | undefined),
          dims: o.dims ? parseDims(o.dims as string[]) : [1, 2, 4, 8],
          steps: o['fit-steps'] as number,
          fitPairs: o.pairs as number,
          testPairs: o.pairs as number,
          lr: o.lr as number,
          seed: o.seed as number,
          baselines: !o['no-baselines'],
          signal: abort.signal,
          onProgress: o.quiet ? undefined : terminalProgress(),
        });
        const fmt = rows.map((r) => ({ ...r, iia: r.iia.toFixed(3), source_accuracy: r.source_accuracy.toFixed(3) }));
        process.stdout.write(
          `run ${run.dir}: the ENV referent at the pre-LAN position\n${textTable(fmt, [
            ['step', 'step'],
            ['site', 'site'],
            ['k', 'k'],
            ['method', 'method'],
            ['iia', 'IIA'],
            ['source_accuracy', 'ceiling'],
            ['pairs', 'pairs'],
          ])}\n`,
        );
        return 0;
      }
      // Default site: the recurrent state where the architecture lets it be replaced, else the residual stream.
      const site =
        (o.hook as string | undefined) ??
        (modelAnatomy(run.config.model as unknown as ModelConfig).recurrentState ? 'blocks.0.state' : 'blocks.0.hook_resid_post');
      const rows = await dasRun(run, {
        program: o.program as ProgramName,
        variables: (o.variable as string[] | undefined) ?? ['count'],
        site,
        dims: parseDims(o.dims as string[] | undefined),
        checkpoints: parseSteps(o.checkpoints as string[] | undefined),
        at: o.at as 'any' | 'demo' | 'response',
        steps: o['fit-steps'] as number,
        trainPairs: o.pairs as number,
        testPairs: o.pairs as number,
        lr: o.lr as number,
        seed: o.seed as number,
        baselines: !o['no-baselines'],
        boundless: !!o.boundless,
        maxResponses: o['max-responses'] as number | undefined,
        minResponses: o['min-responses'] as number | undefined,
        signal: abort.signal,
        onProgress: o.quiet ? undefined : terminalProgress(),
      });
      const fmt = rows.map((r) => ({
        ...r,
        iia: r.iia.toFixed(3),
        task_accuracy: r.task_accuracy.toFixed(4),
        heldout_accuracy: r.heldout_accuracy.toFixed(4),
      }));
      process.stdout.write(
        `run ${run.dir}: ${o.program} ${rows[0]?.variables} at ${site}\n${textTable(fmt, [
          ['step', 'step'],
          ['k', 'k'],
          ['method', 'method'],
          ['iia', 'IIA'],
          ['task_accuracy', 'task acc'],
          ['heldout_accuracy', 'held-out acc'],
          ['pairs', 'pairs'],
        ])}\n`,
      );
      return 0;
    } finally {
      abort.dispose();
    }
  },
);

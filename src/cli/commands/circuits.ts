/**
 * `groundlab circuits <run>`: circuit tracing per checkpoint (path patching with edge attribution,
 * attribution patching against exact patching per head, direct logit attribution, the gather ->
 * aggregate path test), as tables analysis/circuit_* in the run; a step already there is reused.
 */
import { defineCommand, type Command } from '../args';
import { initEngine } from '../../engine';
import { openRun, sigintAbort, terminalProgress } from '../../train';
import { circuitsRun } from '../../analysis/circuits';
import { textTable } from '../../analysis/report';
import { parseSteps } from './analyze';

export const command: Command = defineCommand(
  {
    name: 'circuits',
    summary:
      'Circuit tracing of a run per checkpoint: path patching, attribution patching vs exact, direct logit attribution, the gather -> aggregate path test (tables in <run>/analysis/circuit_*).',
    positionals: [{ name: 'run', help: 'run directory' }],
    options: {
      checkpoints: { type: 'list', help: 'checkpoint steps, e.g. 300,1500 (default: all)' },
      pairs: {
        type: 'int',
        help: 'prompt pairs (match context, its first mismatch) to use, spread over the evaluation set (default: all match contexts)',
      },
      force: { type: 'boolean', help: 'recompute steps the tables already hold' },
      batch: { type: 'int', default: 32, help: 'prompt pairs per batch' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
    examples: ['groundlab circuits runs/transformer-quick-s0 --checkpoints 300,1500 --pairs 120'],
  },
  async ({ positionals, options: o }) => {
    await initEngine();
    const run = await openRun(positionals[0]);
    const abort = sigintAbort();
    try {
      const rows = await circuitsRun(run, {
        checkpoints: parseSteps(o.checkpoints as string[] | undefined),
        pairs: o.pairs as number | undefined,
        force: Boolean(o.force),
        batchSize: o.batch as number,
        signal: abort.signal,
        onProgress: o.quiet ? undefined : terminalProgress(),
      });
      const cols: Array<[string, string]> = [
        ['step', 'step'],
        ['pairs', 'pairs'],
        ['aggregate', 'aggregate'],
        ['gather', 'gather'],
        ['atp_r', 'r(AtP, exact) heads'],
        ['eap_r', 'r(EAP, exact) paths'],
        ['ga_paths', 'gather->aggregate paths'],
        ['ga_effect', 'effect'],
        ['ga_control', 'control'],
        ['ga_p_t', 'p (t)'],
        ['ga_p_wilcoxon', 'p (Wilcoxon)'],
      ];
      process.stdout.write(
        `circuit tracing (effects in nats of v<LAN> surprisal)\n${textTable(rows as unknown as Array<Record<string, unknown>>, cols)}\n\ntables in ${run.dir}/analysis/: circuit_summary, circuit_paths, circuit_heads, circuit_dla\n`,
      );
      return 0;
    } finally {
      abort.dispose();
    }
  },
);

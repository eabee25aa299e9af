/**
 * `groundlab circuits <run>`: circuit tracing per checkpoint (path patching with edge attribution,
 * attribution patching against exact patching per head, direct logit attribution, the `paths`
 * analysis' gather -> aggregate path test on the same prompt pairs), as tables analysis/circuit_*
 * in the run; a step already there is reused.
 */
import { defineCommand, type Command } from '../args';
import { initEngine } from '../../engine';
import { openRun, sigintAbort, terminalProgress } from '../../train';
import { circuitsRun } from '../../analysis/circuits';
import { textTable } from '../../analysis/report';
import { pathTestText } from '../../analysis/analyses/paths';
import { parseSteps } from './analyze';

export const command: Command = defineCommand(
  {
    name: 'circuits',
    summary:
      'Circuit tracing of a run per checkpoint: path patching, attribution patching vs exact, direct logit attribution, the gather -> aggregate path test of `analyze --only paths` on the same prompt pairs (tables in <run>/analysis/circuit_*).',
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
        ['ga', 'gather->aggregate paths (significant)'],
        ['all', 'path tests (significant)'],
      ];
      const shown = rows.map((r) => ({ ...r, ga: `${r.ga_paths} (${r.ga_significant})`, all: `${r.tests} (${r.significant})` }));
      const steps = new Set(rows.map((r) => r.step));
      const tests = ((await run.readTable('analysis/circuit_path_test'))?.objects() ?? []) as Array<Record<string, unknown>>;
      const text = pathTestText(tests.filter((r) => steps.has(Number(r.step))));
      process.stdout.write(
        `circuit tracing (effects in nats of v<LAN> surprisal)\n${textTable(shown, cols)}\n\n${
          text.length ? `${text.join('\n')}\n\n` : ''
        }tables in ${run.dir}/analysis/: circuit_summary, circuit_paths, circuit_heads, circuit_dla, circuit_path_test\n`,
      );
      return 0;
    } finally {
      abort.dispose();
    }
  },
);

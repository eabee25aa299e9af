/**
 * `groundlab probe <run> --task env-noun|grounded|speaker`: linear probes at hook points of every
 * checkpoint of a run. Writes `<run>/probes/<task>.arrow` (one row per checkpoint and hook) and
 * `<run>/probes/<task>.vl.json` (the layers x checkpoints heat map), and prints the grid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError } from '../../errors';
import { defineCommand, type Command, type CommandSpec } from '../args';
import { openRun, sigintAbort, terminalProgress, type Run } from '../../train';
import { PROBE_TASKS, TASK_DEFAULTS } from '../../probe/tasks';
import { PROBE_DEFAULTS } from '../../probe/evaluate';
import { parsePosition } from '../../probe/collect';
import { probeSweep, type ProbeRun } from '../../probe/sweep';
import { probeGrid, probeHeatmapSpec } from '../../probe/figure';
import { vegaLiteToSvg } from '../../viz/render';

/** How the command opens a run and where it prints (tests replace them: toy models, captured output). */
export const probeCommandDeps: { openRun: (dir: string) => Promise<ProbeRun>; write: (s: string) => void } = {
  openRun: (dir) => openRun(dir) as Promise<Run>,
  write: (s) => void process.stdout.write(s),
};

function parseSteps(items: string[] | undefined): number[] | undefined {
  if (!items) return undefined;
  return items.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0)
      throw new GroundlabError('BAD_ARGUMENT', `--checkpoints "${s}": expected whole step numbers like 0,500,1000`);
    return n;
  });
}

export const command: Command & { spec: CommandSpec } = defineCommand(
  {
    name: 'probe',
    summary:
      'Fit linear probes (multinomial logistic regression, L2) at hook points of every checkpoint of a run; report held-out accuracy, chance and a control task (selectivity).',
    positionals: [{ name: 'run', help: 'run directory (the --out of `groundlab train`)' }],
    options: {
      task: {
        type: 'string',
        choices: [...PROBE_TASKS],
        default: 'env-noun',
        help: "env-noun: which noun's ENV token is in context (pre-LAN position); grounded: is the next LAN word's ENV token in the window; speaker: speaker of the current turn",
      },
      hook: {
        type: 'list',
        help: 'hook points, comma-separated (default: blocks.0.hook_resid_pre and blocks.{l}.hook_resid_post of every layer)',
      },
      checkpoints: { type: 'list', help: 'checkpoint steps, comma-separated (default: all)' },
      position: { type: 'string', help: 'env-noun from frames: where to read: pre-lan | env | last | an integer (default pre-lan)' },
      source: {
        type: 'string',
        choices: ['frames', 'episodes', 'transfer'],
        default: TASK_DEFAULTS.source,
        help: 'env-noun contexts: frames = held-out evaluation frames x nouns (leave-one-frame-out); episodes = corpus contexts before a grounded v<LAN> (seeded split); transfer = train on corpus contexts, test on the held-out frames',
      },
      'max-examples': { type: 'int', default: TASK_DEFAULTS.maxExamples, help: 'cap on the number of contexts (seeded subsample)' },
      l2: { type: 'number', default: PROBE_DEFAULTS.l2, help: 'L2 penalty of the probe (on standardised features)' },
      'test-fraction': { type: 'number', default: PROBE_DEFAULTS.testFraction, help: 'share of contexts held out (stratified by class)' },
      folds: {
        type: 'int',
        default: PROBE_DEFAULTS.folds,
        help: 'k-fold cross-validation when >= 2 (every context tested once; k x the fitting time); 1 = one held-out split',
      },
      seed: { type: 'int', default: 0, help: 'seed of the subsample, the split and the control task' },
      'no-control': { type: 'boolean', help: 'skip the control task (halves the fitting time)' },
      batch: { type: 'int', default: 32, help: 'contexts per forward pass' },
      force: { type: 'boolean', help: 'recompute rows the saved table already has' },
      metric: {
        type: 'string',
        choices: ['accuracy', 'selectivity', 'control_accuracy', 'train_accuracy'],
        default: 'accuracy',
        help: 'what the printed grid and the figure show',
      },
      json: { type: 'boolean', help: 'print the table as JSON instead of grids' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
    examples: [
      'groundlab probe runs/transformer-quick-s0 --task env-noun',
      'groundlab probe runs/t --task grounded --checkpoints 500,1000,2000',
      'groundlab probe runs/t --task env-noun --hook blocks.1.hook_resid_mid,blocks.1.hook_resid_post --position env',
      'groundlab probe runs/t --task speaker --metric selectivity',
    ],
  },
  async ({ positionals, options: o }) => {
    const dir = positionals[0];
    if ((o.batch as number) < 1) throw new GroundlabError('BAD_ARGUMENT', '--batch must be >= 1');
    if ((o['max-examples'] as number) < 4) throw new GroundlabError('BAD_ARGUMENT', '--max-examples must be >= 4');
    const position = o.position !== undefined ? parsePosition(o.position as string) : undefined;
    const run = await probeCommandDeps.openRun(dir);
    const abort = sigintAbort({
      message: () => 'groundlab: interrupted; stopping after this probe (finished checkpoints are saved; press Ctrl-C again to quit now)',
    });
    const t0 = Date.now();
    try {
      const task = o.task as string;
      const r = await probeSweep(run, {
        task,
        hooks: o.hook as string[] | undefined,
        checkpoints: parseSteps(o.checkpoints as string[] | undefined),
        taskOptions: {
          position,
          source: o.source as 'frames' | 'episodes' | 'transfer',
          maxExamples: o['max-examples'] as number,
          seed: o.seed as number,
        },
        probe: {
          l2: o.l2 as number,
          testFraction: o['test-fraction'] as number,
          folds: o.folds as number,
          seed: o.seed as number,
          control: !o['no-control'],
        },
        batchSize: o.batch as number,
        force: !!o.force,
        signal: abort.signal,
        onProgress: o.quiet ? undefined : terminalProgress(),
      });
      const metric = o.metric as 'accuracy' | 'selectivity' | 'control_accuracy' | 'train_accuracy';
      const spec = probeHeatmapSpec(r.table, { metric });
      const specFile = path.join(run.dir, `${r.tableName}.vl.json`);
      fs.mkdirSync(path.dirname(specFile), { recursive: true });
      fs.writeFileSync(specFile + '.tmp', JSON.stringify(spec, null, 1));
      fs.renameSync(specFile + '.tmp', specFile);
      const svgFile = path.join(run.dir, `${r.tableName}.svg`);
      fs.writeFileSync(svgFile + '.tmp', await vegaLiteToSvg(spec));
      fs.renameSync(svgFile + '.tmp', svgFile);
      if (o.json) {
        probeCommandDeps.write(
          JSON.stringify(
            r.table.objects().map((x) => ({ ...x, settings: undefined })),
            null,
            1,
          ) + '\n',
        );
        return 0;
      }
      const first = r.table.objects()[0] as Record<string, number> | undefined;
      const lines = [
        `task       ${r.task.name}: ${r.task.description}`,
        `contexts   ${r.task.contexts.length} (${r.task.classes.length} classes), read at ${r.task.position}; ${!first ? '' : r.task.testMask ? `trained on ${first.n_train}, tested on ${first.n_test}` : r.task.splitGroups ? `leave-groups-out cross-validation (${new Set(r.task.splitGroups).size} frames): ${first.n_train} train per fold, all ${first.n_test} tested once` : (o.folds as number) >= 2 ? `${o.folds}-fold cross-validation: ${first.n_train} train per fold, all ${first.n_test} tested once` : `train/test ${first.n_train}/${first.n_test}`}`,
        `chance     majority ${first ? (100 * first.chance_majority).toFixed(1) : '-'}%, uniform ${(100 / r.task.classes.length).toFixed(1)}%`,
        '',
        probeGrid(r.table, metric),
      ];
      if (metric === 'accuracy' && r.table.numRows() && !o['no-control'])
        lines.push('', probeGrid(r.table, 'control_accuracy'), '', probeGrid(r.table, 'selectivity'));
      lines.push(
        '',
        `table      ${path.join(run.dir, r.tableName)}.arrow (${r.computed} probes computed, ${r.reused} reused)`,
        `figure     ${svgFile} (spec: ${specFile})`,
        `time       ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      probeCommandDeps.write(lines.join('\n') + '\n');
      return 0;
    } finally {
      abort.dispose();
    }
  },
);

/** `groundlab reproduce`: every figure and table of the paper, headless, with REPORT.md. */
import { GroundlabError } from '../../errors';
import { defineCommand } from '../args';
import { reproduce } from '../../reproduce/run';
import { DEFAULT_SEEDS, REPRODUCE_GROUPS, type ReproduceGroup } from '../../reproduce/plan';
import { sigintAbort } from '../../train/sigint';
import { terminalProgress } from '../../train/progress';
import { PRESET_NAMES, type PresetName } from '../../train/presets';
import { ARCHS } from '../../models/registry';

export const command = defineCommand(
  {
    name: 'reproduce',
    summary:
      "Train what is missing (several seeds for the main comparison), run every analysis, and write every figure (SVG, PNG), table (Markdown, CSV) and a REPORT.md that sets each result beside the paper's claim. Interrupted work resumes when the command is run again.",
    options: {
      preset: {
        type: 'string',
        help: 'size of everything: tiny (a smoke run: a minute or two), quick (a laptop: an hour), medium (the deepest one CPU core trains: about an hour per run), paper (a GPU)',
        choices: [...PRESET_NAMES],
        default: 'quick',
      },
      out: { type: 'string', help: 'reproduce folder (default runs/reproduce-<preset>)' },
      seeds: {
        type: 'list',
        help: `seeds of the main comparison (default: ${PRESET_NAMES.map((p) => `${DEFAULT_SEEDS[p].length} for ${p}`).join(', ')})`,
      },
      only: {
        type: 'list',
        help: `groups of runs: ${REPRODUCE_GROUPS.join(', ')} (default all; at medium: main and checks)`,
        choices: [...REPRODUCE_GROUPS],
      },
      archs: {
        type: 'list',
        help: 'only the runs of these architectures, e.g. lstm (default all)',
        choices: [...ARCHS],
      },
      merge: {
        type: 'list',
        help: 'report folders (e.g. docs/results-medium) whose run archive fills in runs whose folders are not in --out (trained in another session or on another machine); the runs archived there are not trained again',
      },
      jobs: { type: 'int', help: 'runs trained at once, one process each (default: number of cores)' },
      'report-only': { type: 'boolean', help: 'train nothing: write figures, tables and REPORT.md from the runs that are done' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
    examples: [
      'groundlab reproduce --preset tiny',
      'groundlab reproduce --preset quick --out runs/quick --jobs 2',
      'groundlab reproduce --preset quick --only main --seeds 0,1,2',
      'groundlab reproduce --preset medium --seeds 0 --jobs 1',
      'groundlab reproduce --preset medium --report-only   # a report of the runs done so far',
      'groundlab reproduce --preset medium --archs lstm --jobs 2   # only the LSTM runs',
      'groundlab reproduce --preset medium --report-only --merge docs/results-medium   # with the runs archived there',
    ],
  },
  async (p) => {
    const preset = p.options.preset as PresetName;
    const out = (p.options.out as string | undefined) ?? `runs/reproduce-${preset}`;
    const seeds = (p.options.seeds as string[] | undefined)?.map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new GroundlabError('BAD_ARGUMENT', `--seeds: "${s}" is not a whole number >= 0`);
      return n;
    });
    const stops = sigintAbort();
    try {
      const res = await reproduce({
        preset,
        out,
        seeds,
        groups: p.options.only as ReproduceGroup[] | undefined,
        archs: p.options.archs as string[] | undefined,
        merge: p.options.merge as string[] | undefined,
        jobs: p.options.jobs as number | undefined,
        train: !p.options['report-only'],
        signal: stops.signal,
        onProgress: p.options.quiet ? undefined : terminalProgress(),
        command: `groundlab reproduce ${process.argv.slice(3).join(' ')}`.trim(),
      });
      const claims = res.claims ?? [];
      const counts = claims.reduce<Record<string, number>>((a, c) => ((a[c.verdict] = (a[c.verdict] ?? 0) + 1), a), {});
      process.stdout.write(
        `reproduce: ${res.figures?.length ?? 0} figures, ${res.tables?.length ?? 0} tables, ${claims.length} claims (${Object.entries(
          counts,
        )
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}) in ${(res.wallSec / 60).toFixed(1)} min\n` + `report: ${res.report}\n`,
      );
      if (res.failed.length) {
        process.stderr.write(
          `reproduce: ${res.failed.length} run(s) failed: ${res.failed.join(', ')}; run the command again to retry them\n`,
        );
        return 1;
      }
      return 0;
    } finally {
      stops.dispose();
    }
  },
);

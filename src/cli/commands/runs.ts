/**
 * `groundlab runs [dir]`: list the runs under a folder (or one run in detail) with their checkpoints.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroundlabError } from '../../errors';
import { defineCommand, type Command } from '../args';
import { findRuns, listCheckpoints, readJSONFile, validateRunConfig, type RunSummary } from '../../train/run';

/** Summaries of the runs at or under `root` (a broken run is listed with its error). */
export async function summarizeRuns(root: string, depth = 3): Promise<RunSummary[]> {
  if (!fs.existsSync(root))
    throw new GroundlabError('NOT_FOUND', `folder ${root} does not exist`, {
      hint: 'train a run first: groundlab train --out runs/<name>',
    });
  const out: RunSummary[] = [];
  for (const dir of findRuns(root, depth)) {
    const s: RunSummary = { dir, checkpoints: listCheckpoints(dir) };
    try {
      const f = path.join(dir, 'config.json');
      s.config = validateRunConfig(await readJSONFile(f, 'run config'), f);
      const last = s.checkpoints[s.checkpoints.length - 1];
      if (last) s.lastLoss = (await readJSONFile<{ loss?: number }>(path.join(last.dir, 'state.json'), 'checkpoint state')).loss;
    } catch (e) {
      s.error = (e as Error).message.split('\n')[0];
    }
    out.push(s);
  }
  return out;
}

function compactSteps(steps: number[]): string {
  if (steps.length <= 12) return steps.join(', ');
  return `${steps.slice(0, 6).join(', ')}, ... , ${steps.slice(-4).join(', ')}`;
}

export const command: Command = defineCommand(
  {
    name: 'runs',
    summary: 'List the runs under a folder (default: runs) and their checkpoints; a run folder is shown in detail.',
    positionals: [{ name: 'dir', help: 'a folder of runs, or one run directory (default: runs)', optional: true }],
    options: {
      json: { type: 'boolean', help: 'print JSON instead of a table' },
      depth: { type: 'int', default: 3, help: 'how many folder levels to search for runs' },
    },
    examples: ['groundlab runs', 'groundlab runs runs/transformer-quick-s0', 'groundlab runs sweeps/noise --json'],
  },
  async ({ positionals, options }) => {
    const root = positionals[0] ?? 'runs';
    const runs = await summarizeRuns(root, options.depth as number);
    if (options.json) {
      process.stdout.write(
        JSON.stringify(
          runs.map((r) => ({
            dir: r.dir,
            arch: r.config?.arch,
            preset: r.config?.preset,
            seed: r.config?.seed,
            steps: r.config?.train.steps,
            lastStep: r.checkpoints[r.checkpoints.length - 1]?.step,
            lastLoss: r.lastLoss,
            checkpoints: r.checkpoints.map((c) => c.step),
            initFrom: r.config?.initFrom,
            error: r.error,
          })),
          null,
          2,
        ) + '\n',
      );
      return runs.some((r) => r.error) ? 1 : 0;
    }
    if (!runs.length) {
      process.stdout.write(`no runs under ${root}\n`);
      return 0;
    }
    const single = runs.length === 1 && path.resolve(root) === runs[0].dir;
    const rel = (d: string) => path.relative(process.cwd(), d) || '.';
    const rows = runs.map((r) => {
      const last = r.checkpoints[r.checkpoints.length - 1]?.step;
      if (r.error) return [rel(r.dir), 'ERROR', '', '', '', '', r.error];
      const c = r.config!;
      return [
        rel(r.dir),
        c.arch,
        c.preset,
        String(c.seed),
        `${last ?? '-'}/${c.train.steps}`,
        r.lastLoss !== undefined ? r.lastLoss.toFixed(4) : '-',
        `${r.checkpoints.length}: ${compactSteps(r.checkpoints.map((k) => k.step))}`,
      ];
    });
    const head = ['run', 'arch', 'preset', 'seed', 'step', 'loss', 'checkpoints'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === head.length - 1 ? 0 : r[i].length))));
    const fmt = (r: string[]) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]))).join('  ');
    process.stdout.write([fmt(head), ...rows.map(fmt)].join('\n') + '\n');
    if (single && !runs[0].error) {
      const r = runs[0];
      const c = r.config!;
      process.stdout.write(
        `\nmodel  ${JSON.stringify(c.model)}\ntrain  ${JSON.stringify({ ...c.train, checkpoints: undefined })}\ncorpus ${JSON.stringify(c.corpus)}\n` +
          (c.initFrom ? `init   the weights of ${rel(c.initFrom.run)} at step ${c.initFrom.step}\n` : '') +
          '\ncheckpoints:\n',
      );
      for (const k of r.checkpoints) {
        const st = await readJSONFile<{ loss?: number; tokensSeen?: number }>(path.join(k.dir, 'state.json'), 'checkpoint state').catch(
          () => undefined,
        );
        const size = fs.existsSync(path.join(k.dir, 'model.safetensors')) ? fs.statSync(path.join(k.dir, 'model.safetensors')).size : 0;
        process.stdout.write(
          `  step ${String(k.step).padStart(7)}  loss ${st?.loss !== undefined ? st.loss.toFixed(4) : '   -  '}  tokens ${String(st?.tokensSeen ?? '-').padStart(10)}  ${(size / 1e6).toFixed(2)} MB  ${rel(k.dir)}\n`,
        );
      }
    }
    return runs.some((r) => r.error) ? 1 : 0;
  },
);

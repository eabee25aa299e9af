/**
 * `groundlab <command> [args]`. Each command is a module in ./commands exporting `command: Command`.
 * The table below is the single place commands are registered.
 */
import { GroundlabError, fromSystemError, isGroundlabError, isSystemError } from '../errors';
import type { Command } from './args';

const COMMANDS: Record<string, { module: string; summary: string }> = {
  train: { module: './commands/train', summary: 'train a Transformer, Mamba-2 or LSTM into a run directory' },
  runs: { module: './commands/runs', summary: 'list runs and their checkpoints' },
  export: { module: './commands/export', summary: 'export a checkpoint (e.g. as a Hugging Face GPT-2 folder)' },
  import: { module: './commands/import', summary: 'import a Hugging Face GPT-2 folder as a run directory' },
  corpus: { module: './commands/corpus', summary: 'generate, import and describe corpora' },
  analyze: { module: './commands/analyze', summary: 'compute every measure and analysis of a run, per checkpoint' },
  circuits: {
    module: './commands/circuits',
    summary: 'circuit tracing per checkpoint: path, attribution and exact patching, direct logit attribution',
  },
  eval: { module: './commands/eval', summary: 'surprisal and grounding information gain of a run' },
  probe: { module: './commands/probe', summary: 'linear probes at hook points over layers and checkpoints' },
  das: { module: './commands/das', summary: 'distributed alignment search of a counting program variable (IIA, baselines)' },
  binding: {
    module: './commands/binding',
    summary: 'binding mechanisms of a scene binding run: accuracy, per-head mediation and roles, position-ID patching',
  },
  sweep: { module: './commands/sweep', summary: 'run a grid of runs locally or through Slurm' },
  reproduce: { module: './commands/reproduce', summary: 'train and analyse everything, write figures, tables and REPORT.md' },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`);
  return [
    'usage: groundlab <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'groundlab <command> --help shows the options of a command.',
  ].join('\n');
}

function loadCommand(name: string): Command {
  const entry = COMMANDS[name];
  if (!entry) {
    throw new GroundlabError('BAD_ARGUMENT', `unknown command "${name}"`, { hint: `run \`groundlab --help\` for the list of commands` });
  }
  let mod: { command?: Command };
  try {
    mod = require(entry.module);
  } catch (e) {
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(entry.module.slice(2))) {
      throw new GroundlabError('UNSUPPORTED', `the command "${name}" is not available in this build`, { cause: e });
    }
    throw e;
  }
  if (!mod.command) throw new GroundlabError('INTERNAL', `command module ${entry.module} exports no command`);
  return mod.command;
}

let pipeHandlers = false;

/**
 * A reader that goes away (`groundlab runs | head -1`) closes our stdout: the next write fails with
 * EPIPE. That is not an error of the command: exit quietly, as Unix tools do.
 */
function quietOnClosedPipe(): void {
  if (pipeHandlers) return;
  pipeHandlers = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}

/**
 * The CLI's one error handler: a GroundlabError prints its code, message and hint (exit 1; ABORTED
 * 130); an operating-system error (disk full, read-only, permissions, a path through a file) is named
 * with its path, cause and what to do (exit 1); anything else is a bug, printed with its stack (exit 1).
 */
export function reportError(command: string, e: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (isSystemError(e) && e.code === 'EPIPE') return 0;
  const err = isGroundlabError(e) ? e : isSystemError(e) ? fromSystemError(e) : undefined;
  if (err) {
    write(`groundlab ${command}: error [${err.code}]: ${err.message}\n`);
    if (process.env.GROUNDLAB_DEBUG) write(String(err.stack) + '\n');
    return err.code === 'ABORTED' ? 130 : 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  write(
    `groundlab ${command}: internal error [INTERNAL]: ${msg}\n  this is a bug in groundlab: please report it with the command and this trace\n${e instanceof Error ? e.stack : ''}\n`,
  );
  return 1;
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(require('../../../package.json').version + '\n');
    return 0;
  }
  try {
    const cmd = loadCommand(name);
    return (await cmd.run(rest)) ?? 0;
  } catch (e) {
    return reportError(name, e);
  }
}

/**
 * Shared by the kernel tests: find the checkout, the project's .venv with jupyter_client, install
 * the kernelspec (as scripts/setup.sh does), and run the Python driver that speaks the Jupyter
 * protocol to the installed kernel.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../src/lab/runs';

export const ROOT = repoRoot();
export const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');

/** Why the Jupyter tests cannot run here, or undefined when they can. */
export function jupyterMissing(needs: string[] = ['jupyter_client']): string | undefined {
  if (!fs.existsSync(PYTHON)) return `no ${PYTHON} (run scripts/test.sh, which creates .venv)`;
  const r = spawnSync(PYTHON, ['-c', needs.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8' });
  if (r.status !== 0) return `.venv lacks ${needs.join(', ')}: ${r.stderr.trim().split('\n').pop()}`;
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'index.js')) || !fs.existsSync(path.join(ROOT, 'dist', 'kernel', 'main.js'))) return 'the library and kernel are not built (npm run build)';
  return undefined;
}

/**
 * The environment for Jupyter processes in tests: JUPYTER_PATH puts this checkout's .venv first, so
 * a `groundlab` kernelspec installed with --user for another checkout cannot shadow this one.
 */
export function jupyterEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const own = path.join(ROOT, '.venv', 'share', 'jupyter');
  const prev = process.env.JUPYTER_PATH;
  return { ...process.env, JUPYTER_PATH: prev ? `${own}${path.delimiter}${prev}` : own, ...extra };
}

/** The compiled kernel (kernel/*.ts built into dist/kernel by `npm run build`). */
export const KERNEL_MAIN = path.join(ROOT, 'dist', 'kernel', 'main.js');

/** Install the kernelspec into .venv (idempotent; what scripts/setup.sh does). */
export function installKernel(): void {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'kernel', 'install.js'), '--prefix', path.join(ROOT, '.venv')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kernel install failed: ${r.stderr}`);
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Reply {
  status: string;
  execution_count?: number;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  [k: string]: unknown;
}
export interface IopubMsg {
  type: string;
  content: Record<string, any>;
}
export interface ExecResult {
  reply: Reply;
  reply_type: string;
  iopub: IopubMsg[];
}

/** Run one driver scenario against the installed kernel in `workdir`; returns what it recorded. */
export function runDriver(scenario: string, workdir: string, timeoutMs = 150_000): Record<string, any> {
  const out = path.join(workdir, `${scenario}-result.json`);
  const r = spawnSync(PYTHON, ['-u', path.join(ROOT, 'test', 'kernel', 'jupyter_client_driver.py'), scenario, out, workdir], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: jupyterEnv({ GROUNDLAB_INTERRUPT_GRACE_MS: '20000' }),
  });
  if (!fs.existsSync(out)) throw new Error(`driver ${scenario} wrote nothing (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  const res = JSON.parse(fs.readFileSync(out, 'utf8'));
  res.__log = `${r.stdout}\n${r.stderr}`;
  res.__status = r.status;
  return res;
}

/** Concatenated stream text of a result. */
export function streamText(x: ExecResult, name = 'stdout'): string {
  return x.iopub
    .filter((m) => m.type === 'stream' && m.content.name === name)
    .map((m) => m.content.text)
    .join('');
}

/** Strip ANSI colours. */
export function plain(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}

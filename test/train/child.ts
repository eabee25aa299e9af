/** The groundlab CLI as a child process (for tests that kill or signal it). Not a test file itself. */
import * as path from 'node:path';
import { spawn } from 'node:child_process';

export function childCommand(): string[] {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `cli-entry${ext}`);
  if (ext === '.ts') {
    const loader = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs');
    return [process.execPath, '--import', 'file://' + loader, entry];
  }
  return [process.execPath, entry];
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `groundlab <argv>` in a child process with extra environment; resolves when it exits. */
export function runChild(argv: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  const [cmd, ...pre] = childCommand();
  const child = spawn(cmd, [...pre, ...argv], { env: { ...process.env, GROUNDLAB_TEST_CHILD: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

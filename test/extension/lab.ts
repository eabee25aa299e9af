/**
 * Real JupyterLab and Debian's Chromium for the UI tests (never a downloaded browser): start
 * `.venv/bin/jupyter lab` on a free port with a token and private config/settings/workspace folders,
 * and launch /usr/bin/chromium headless through extension/node_modules/playwright-core.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export function findRoot(): string {
  let d = __dirname;
  for (;;) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'groundlab') return d;
    const up = path.dirname(d);
    if (up === d) throw new Error('cannot find the groundlab root from ' + __dirname);
    d = up;
  }
}

export const ROOT = findRoot();
export const CHROMIUM = '/usr/bin/chromium';
export const JUPYTER = path.join(ROOT, '.venv', 'bin', 'jupyter');
export const OUT = path.join(ROOT, 'test-results', 'extension');
/** Why the UI tests cannot run here ('' when they can). */
export const missing = !fs.existsSync(CHROMIUM) ? `${CHROMIUM} is missing (apt-get install chromium)` : !fs.existsSync(JUPYTER) ? `${JUPYTER} is missing (bash scripts/test.sh sets up .venv)` : '';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function writeJSON(file: string, obj: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj, null, 1));
}

async function waitForServer(url: string, proc: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (proc.exitCode != null) throw new Error(`jupyter lab exited with ${proc.exitCode}:\n${log()}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`jupyter lab did not answer within ${timeoutMs} ms:\n${log()}`);
}

export interface Lab {
  base: string;
  token: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts JupyterLab on `rootDir` with settings that keep the tests quiet and deterministic (no news,
 * no update check, every cell rendered: no windowing); `tmp` holds its config, runtime, settings
 * and workspaces. `exposeApp` sets `window.jupyterapp` so a test can run JupyterLab commands.
 */
export async function startLab(rootDir: string, tmp: string, opts: { env?: Record<string, string>; exposeApp?: boolean } = {}): Promise<Lab> {
  writeJSON(path.join(tmp, 'settings', '@jupyterlab', 'apputils-extension', 'notification.jupyterlab-settings'), { fetchNews: 'false', checkForUpdates: false });
  writeJSON(path.join(tmp, 'settings', '@jupyterlab', 'notebook-extension', 'tracker.jupyterlab-settings'), { windowingMode: 'none' });
  const port = await freePort();
  const token = 'gl' + Math.random().toString(36).slice(2);
  let log = '';
  const own = path.join(ROOT, '.venv', 'share', 'jupyter');
  const lab = spawn(
    JUPYTER,
    ['lab', '--no-browser', `--port=${port}`, '--ip=127.0.0.1', `--IdentityProvider.token=${token}`, ...(process.getuid?.() === 0 ? ['--allow-root'] : []), `--ServerApp.root_dir=${rootDir}`, '--LabApp.news_url=', '--ServerApp.open_browser=False', ...(opts.exposeApp ? ['--LabApp.expose_app_in_browser=True'] : [])],
    {
      env: {
        ...process.env,
        // this checkout's kernelspecs first (a --user groundlab kernel of another checkout cannot shadow it)
        JUPYTER_PATH: process.env.JUPYTER_PATH ? `${own}${path.delimiter}${process.env.JUPYTER_PATH}` : own,
        JUPYTER_CONFIG_DIR: path.join(tmp, 'config'),
        JUPYTER_RUNTIME_DIR: path.join(tmp, 'runtime'),
        JUPYTERLAB_SETTINGS_DIR: path.join(tmp, 'settings'),
        JUPYTERLAB_WORKSPACES_DIR: path.join(tmp, 'ws'),
        ...(opts.env ?? {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  lab.stdout!.on('data', (d) => (log += d));
  lab.stderr!.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    lab.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (lab.exitCode == null) lab.kill('SIGKILL');
  };
  try {
    await waitForServer(`${base}/api/status?token=${token}`, lab, () => log, 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { base, token, log: () => log, stop };
}

/** playwright-core from extension/node_modules, or a clear failure. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function playwright(): { chromium: { launch(o: unknown): Promise<any> } } {
  const extRequire = createRequire(path.join(ROOT, 'extension', 'package.json'));
  try {
    return extRequire('playwright-core');
  } catch {
    throw new Error('extension/node_modules/playwright-core is missing: run `bash scripts/test.sh` (or `source scripts/setup.sh && setup_extension`)');
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function launchChromium(): Promise<any> {
  return playwright().chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Whether groundlab-widgets is installed in .venv (what `jupyter labextension list` says). */
export function widgetsInstalled(): boolean {
  const list = spawnSync(JUPYTER, ['labextension', 'list'], { encoding: 'utf8' });
  return /groundlab-widgets v[\d.]+ \S*enabled/.test(list.stdout + list.stderr);
}

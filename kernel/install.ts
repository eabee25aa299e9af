/**
 * Installs the "groundlab (TypeScript)" kernelspec (name `groundlab`) for Jupyter.
 *
 *   node dist/kernel/install.js                 # into this checkout's .venv (what scripts/setup.sh does)
 *   node dist/kernel/install.js --user          # into your own Jupyter (~/.local/share/jupyter/kernels)
 *   node dist/kernel/install.js --prefix DIR    # into DIR/share/jupyter/kernels (a venv or conda env)
 *   node dist/kernel/install.js --uninstall [--user | --prefix DIR]
 *   node dist/kernel/install.js --print         # print kernel.json and the target folder, write nothing
 *
 * The spec starts `node <this checkout>/dist/kernel/main.js {connection_file}` with the absolute
 * path of the Node that ran this script, so Jupyter does not need node on its PATH. Nothing is
 * copied but the small kernelspec folder: the kernel runs the library from this checkout (dist/).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './resolve';

const NAME = 'groundlab';
const USAGE = `usage:
  node dist/kernel/install.js                 into this checkout's .venv (what scripts/setup.sh does)
  node dist/kernel/install.js --user          into your own Jupyter (~/.local/share/jupyter/kernels)
  node dist/kernel/install.js --prefix DIR    into DIR/share/jupyter/kernels (a venv or conda env)
  node dist/kernel/install.js --uninstall [--user | --prefix DIR]
  node dist/kernel/install.js --print         print kernel.json and the target folder, write nothing
`;

function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  try {
    const out = execFileSync('jupyter', ['--data-dir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (out) return out;
  } catch {
    /* no jupyter on PATH: use the platform default */
  }
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Jupyter');
  if (process.platform === 'win32') return path.join(process.env.APPDATA || os.homedir(), 'jupyter');
  return path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'jupyter');
}

/** The kernel's entry point: the compiled main.ts (`npm run build` writes dist/). */
export const MAIN = path.join(ROOT, 'dist', 'kernel', 'main.js');

export function kernelSpec(): Record<string, unknown> {
  return {
    argv: [process.execPath, MAIN, '{connection_file}'],
    display_name: 'groundlab (TypeScript)',
    language: 'typescript',
    interrupt_mode: 'signal',
    env: { GROUNDLAB_ROOT: ROOT },
    metadata: { groundlab: { root: ROOT }, debugger: false },
  };
}

/** The kernel's logo (an ENV square, a LAN circle and a link between them), as SVG. */
export function logoSvg(): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<rect width="64" height="64" rx="10" fill="#1f3b57"/>
<rect x="8" y="14" width="22" height="22" rx="3" fill="#e8a33d"/>
<rect x="34" y="28" width="22" height="22" rx="11" fill="#5fb4a2"/>
<path d="M30 25 L34 39" stroke="#ffffff" stroke-width="3"/>
</svg>`;
}

/** Run the installer with command-line arguments; returns the exit status. */
export function runInstall(args: string[]): number {
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let target: string;
  const pi = args.indexOf('--prefix');
  if (args.includes('--user')) target = path.join(userDataDir(), 'kernels', NAME);
  else if (pi >= 0) {
    if (!args[pi + 1]) {
      process.stderr.write(`--prefix needs a folder\n${USAGE}`);
      return 2;
    }
    target = path.join(path.resolve(args[pi + 1]), 'share', 'jupyter', 'kernels', NAME);
  } else target = path.join(ROOT, '.venv', 'share', 'jupyter', 'kernels', NAME);
  const spec = kernelSpec();
  if (args.includes('--print')) {
    process.stdout.write(`${target}\n${JSON.stringify(spec, null, 2)}\n`);
    return 0;
  }
  if (args.includes('--uninstall')) {
    fs.rmSync(target, { recursive: true, force: true });
    process.stdout.write(`removed the groundlab kernelspec from ${target}\n`);
    return 0;
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'index.js')))
    process.stderr.write(`note: ${ROOT}/dist is not built yet; run \`npm run build\` there before using the kernel\n`);
  fs.mkdirSync(target, { recursive: true });
  // Write-then-rename: a Jupyter reading the folder meanwhile never sees a half-written file.
  const put = (name: string, data: string | Buffer) => {
    const tmp = path.join(target, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path.join(target, name));
  };
  put('kernel.json', JSON.stringify(spec, null, 2) + '\n');
  put('logo-svg.svg', logoSvg());
  try {
    // PNG logos for frontends that want them (resvg ships prebuilt in the npm package).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
    for (const size of [32, 64]) {
      const png = new Resvg(logoSvg(), { fitTo: { mode: 'width', value: size } }).render().asPng();
      put(`logo-${size}x${size}.png`, png);
    }
  } catch {
    /* logos are optional */
  }
  process.stdout.write(`installed the kernelspec "${NAME}" (groundlab (TypeScript)) in ${target}\n`);
  return 0;
}

if (require.main === module) process.exitCode = runInstall(process.argv.slice(2));

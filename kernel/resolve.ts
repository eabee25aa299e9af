/**
 * Makes `import { ... } from "groundlab"` (and groundlab's own dependencies: @tensorflow/tfjs-core,
 * arquero, vega-lite, ...) work from a notebook in ANY folder, without copying files.
 *
 * Two resolvers must agree:
 *  - Node's `require` (what runs): `Module._resolveFilename` falls back to this checkout when the
 *    notebook's folder does not provide the module itself: "groundlab" and "groundlab/..." map to
 *    the checkout's root (package.json `main`: dist/src/index.js), other bare names are looked up
 *    in the checkout's node_modules.
 *  - TypeScript's resolver inside tslab (what type-checks and completes): tslab resolves modules
 *    from the notebook's folder with Node10 rules. We overlay a virtual `<cwd>/node_modules` on the
 *    TypeScript `sys` object: `<cwd>/node_modules/groundlab/X` reads `<root>/X` and
 *    `<cwd>/node_modules/Y` reads `<root>/node_modules/Y`, but only where the real path does not
 *    exist (a folder's own packages win, as they would in Node). `realpath` maps the virtual paths
 *    to real ones so the compiler continues from the real files.
 */
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as ts from '@tslab/typescript-for-tslab';

/** The checkout this kernel belongs to: GROUNDLAB_ROOT, else the folder of groundlab's package.json above this file. */
function findRoot(): string {
  if (process.env.GROUNDLAB_ROOT) return path.resolve(process.env.GROUNDLAB_ROOT);
  let d = __dirname;
  for (;;) {
    const pj = path.join(d, 'package.json');
    try {
      if ((JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'groundlab') return d;
    } catch {
      /* not here */
    }
    const up = path.dirname(d);
    if (up === d) return path.resolve(__dirname, '..', '..');
    d = up;
  }
}

export const ROOT = findRoot();
export const ROOT_MODULES = path.join(ROOT, 'node_modules');

function isBare(request: string): boolean {
  return !(request.startsWith('.') || request.startsWith('/') || request.startsWith('node:') || path.isAbsolute(request));
}

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: { paths?: string[] }) => string;
let runtimeInstalled = false;

/** Install the `require` fallback (idempotent). */
export function installRuntimeResolver(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const M = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = M._resolveFilename;
  M._resolveFilename = function (this: unknown, request, parent, isMain, options) {
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (err) {
      if ((err as { code?: string })?.code !== 'MODULE_NOT_FOUND' || typeof request !== 'string' || !isBare(request)) throw err;
      if (request === 'groundlab' || request.startsWith('groundlab/')) {
        const target = request === 'groundlab' ? ROOT : path.join(ROOT, request.slice('groundlab/'.length));
        return original.call(this, target, parent, isMain, options);
      }
      try {
        return original.call(this, request, parent, isMain, { ...(options || {}), paths: [ROOT_MODULES] });
      } catch {
        throw err;
      }
    }
  };
}

/**
 * The overlay mapping for TypeScript: a virtual path under `<cwd>/node_modules` to the real file in
 * this checkout, or undefined when the path is not virtual (or really exists).
 * @param cwd the notebook's folder (tslab's root)
 * @param p an absolute path with forward slashes
 */
export function mapVirtual(cwd: string, p: string): string | undefined {
  const base = cwd.replace(/\\/g, '/').replace(/\/$/, '') + '/node_modules';
  if (p !== base && !p.startsWith(base + '/')) return undefined;
  const rest = p.slice(base.length + 1); // '' | 'groundlab/...' | 'arquero/...'
  if (rest === '' || rest.startsWith('tslab/') || rest === 'tslab') return undefined; // tslab forwards its own
  if (fs.existsSync(p)) return undefined;
  // "groundlab" is virtual everywhere, the checkout's own folder included (it has no node_modules/groundlab).
  if (rest === 'groundlab') return ROOT;
  if (rest.startsWith('groundlab/')) return path.join(ROOT, rest.slice('groundlab/'.length));
  if (path.resolve(base) === path.resolve(ROOT_MODULES)) return undefined; // the checkout's packages are real there
  return path.join(ROOT_MODULES, rest);
}

let tsInstalled = false;

/** Patch the `sys` object of tslab's TypeScript (call before tslab creates its converter). */
export function installTypeScriptOverlay(cwd: string): void {
  if (tsInstalled) return;
  tsInstalled = true;
  const sys = ts.sys as unknown as Record<string, ((p: string, ...rest: unknown[]) => unknown) | undefined>;
  const mapped = (p: unknown) => (typeof p === 'string' ? mapVirtual(cwd, p) : undefined);
  for (const name of ['fileExists', 'readFile', 'getDirectories', 'readDirectory', 'getModifiedTime', 'watchFile', 'watchDirectory', 'directoryExists']) {
    const orig = sys[name];
    if (typeof orig !== 'function') continue;
    sys[name] = function (p: string, ...rest: unknown[]) {
      return orig.call(ts.sys, mapped(p) ?? p, ...rest);
    };
  }
  const origRealpath = sys.realpath;
  sys.realpath = function (p: string) {
    const m = mapped(p);
    if (m) {
      try {
        return fs.realpathSync(m).replace(/\\/g, '/');
      } catch {
        return m.replace(/\\/g, '/');
      }
    }
    return origRealpath ? origRealpath.call(ts.sys, p) : p;
  };
}

// @ts-check
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
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

/** The checkout this kernel belongs to (the folder with groundlab's package.json). */
const ROOT = path.resolve(process.env.GROUNDLAB_ROOT || path.join(__dirname, '..'));
const ROOT_MODULES = path.join(ROOT, 'node_modules');

function isBare(request) {
  return !(request.startsWith('.') || request.startsWith('/') || request.startsWith('node:') || path.isAbsolute(request));
}

let runtimeInstalled = false;

/** Install the `require` fallback (idempotent). */
function installRuntimeResolver() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const M = /** @type {any} */ (Module);
  const original = M._resolveFilename;
  M._resolveFilename = function (request, parent, isMain, options) {
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (err) {
      if (!err || err.code !== 'MODULE_NOT_FOUND' || typeof request !== 'string' || !isBare(request)) throw err;
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
 * @param {string} cwd the notebook's folder (tslab's root)
 * @param {string} p an absolute path with forward slashes
 */
function mapVirtual(cwd, p) {
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

/**
 * Patch the `sys` object of tslab's TypeScript (call before tslab creates its converter).
 * @param {string} cwd
 */
function installTypeScriptOverlay(cwd) {
  if (tsInstalled) return;
  tsInstalled = true;
  const ts = require('@tslab/typescript-for-tslab');
  const sys = ts.sys;
  const wrap1 = (name) => {
    const orig = sys[name];
    if (typeof orig !== 'function') return;
    sys[name] = function (p, ...rest) {
      const mapped = typeof p === 'string' ? mapVirtual(cwd, p) : undefined;
      return orig.call(sys, mapped ?? p, ...rest);
    };
  };
  for (const name of ['fileExists', 'readFile', 'getDirectories', 'readDirectory', 'getModifiedTime', 'watchFile', 'watchDirectory']) wrap1(name);
  const origDirExists = sys.directoryExists;
  sys.directoryExists = function (p) {
    const mapped = mapVirtual(cwd, p);
    return origDirExists.call(sys, mapped ?? p);
  };
  const origRealpath = sys.realpath;
  sys.realpath = function (p) {
    const mapped = mapVirtual(cwd, p);
    if (mapped) {
      try {
        return fs.realpathSync(mapped).replace(/\\/g, '/');
      } catch {
        return mapped.replace(/\\/g, '/');
      }
    }
    return origRealpath ? origRealpath.call(sys, p) : p;
  };
}

module.exports = { ROOT, ROOT_MODULES, installRuntimeResolver, installTypeScriptOverlay, mapVirtual };

/**
 * Backend selection. groundlab runs on TensorFlow.js (`@tensorflow/tfjs-core`).
 * Order of preference: tfjs-node-gpu, tfjs-node (only when the user installed them; never required),
 * then the WebAssembly backend (SIMD, one wasm thread per process) with groundlab's native kernels
 * (BLAS matrix products and fused loops on the wasm heap, see ./native.ts) when they are built, then
 * the pure-JS `cpu` backend. `GROUNDLAB_BACKEND=native|wasm|cpu|tensorflow` forces one (`wasm`:
 * without the native kernels). The choice is printed once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { register } from 'node:module';
import { GroundlabError } from '../errors';
import { installWasmKernels } from './ops-kernels';
import { loadNativeAddon, nativeInfo, nativeLoadError, setNativeKernels, threadsFromEnv, type NativeInfo } from './native';
// Types of the chained methods registered at start (see loadGradients).
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
/** What `GROUNDLAB_BACKEND` / `initEngine({ backend })` accept: `native` is wasm with the native kernels. */
export type BackendChoice = BackendName | 'native';

export interface EngineInfo {
  backend: BackendName;
  /** Threads the backend computes with (wasm: 1 per process; with native kernels: the BLAS threads). */
  threads: number;
  /** The native kernels on the wasm backend, when active (BLAS name, threads). */
  native?: NativeInfo;
  /** Why the native kernels are not active, when the wasm backend runs without them. */
  nativeUnavailable?: string;
  /** Where the backend came from (package name). */
  source: string;
  simd?: boolean;
}

export interface InitOptions {
  /** Force a backend; default: `GROUNDLAB_BACKEND` or automatic. */
  backend?: BackendChoice;
  /** Print the chosen backend (once per process). Default true unless GROUNDLAB_QUIET=1. */
  log?: boolean;
}

let info: EngineInfo | undefined;
let pending: Promise<EngineInfo> | undefined;
let gradientsLoaded = false;

/**
 * tfjs-core's CommonJS entry registers no gradients and its ESM gradient files use extensionless
 * imports that Node cannot resolve. A resolve hook scoped to tfjs-core's own dist folder adds the
 * extension, then the ESM registration modules fill the (process-global) gradient registry and add
 * the chained methods (`x.sum()`, `x.reshape(...)`) to the (process-global) Tensor class.
 */
async function loadGradients(): Promise<void> {
  if (gradientsLoaded) return;
  const g = globalThis as { __groundlabGradHook?: boolean };
  if (!g.__groundlabGradHook) {
    const hook =
      'export async function resolve(s, c, next) {' +
      " if (c.parentURL && c.parentURL.includes('/@tensorflow/tfjs-core/dist/') && s.startsWith('.') && !s.endsWith('.js'))" +
      "   return next(s + '.js', c);" +
      ' return next(s, c); }';
    register('data:text/javascript,' + encodeURIComponent(hook));
    g.__groundlabGradHook = true;
  }
  // A real dynamic import (TypeScript would turn `import()` into `require()` under CommonJS).
  const dynImport = new Function('s', 'return import(s)') as (s: string) => Promise<unknown>;
  // Gradients go into the process-global registry; chained ops (`x.sum()`) onto the global Tensor class.
  for (const spec of [
    '@tensorflow/tfjs-core/dist/register_all_gradients.js',
    '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js',
  ]) {
    await dynImport('file://' + require.resolve(spec));
  }
  gradientsLoaded = true;
}

function tryRequire(name: string): boolean {
  try {
    require(name);
    return true;
  } catch {
    return false;
  }
}

async function activate(name: BackendName): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

function parseBackend(v: string | undefined, what: string): BackendChoice | undefined {
  if (v == null || v === '' || v === 'auto') return undefined;
  if (v === 'wasm' || v === 'cpu' || v === 'tensorflow' || v === 'native') return v;
  if (v === 'node' || v === 'tfjs-node' || v === 'gpu' || v === 'tfjs-node-gpu') return 'tensorflow';
  throw new GroundlabError('BAD_ARGUMENT', `${what} is "${v}", which is not a backend`, {
    hint: 'use one of: native (wasm with the native kernels), wasm, cpu, tensorflow (tfjs-node or tfjs-node-gpu, when installed), auto',
  });
}

async function choose(opts: InitOptions): Promise<EngineInfo> {
  const forced = opts.backend ?? parseBackend(process.env.GROUNDLAB_BACKEND, 'GROUNDLAB_BACKEND');
  await loadGradients();
  const candidates: BackendName[] = forced ? [forced === 'native' ? 'wasm' : forced] : ['tensorflow', 'wasm', 'cpu'];
  for (const name of candidates) {
    if (name === 'tensorflow') {
      const src = tryRequire('@tensorflow/tfjs-node-gpu')
        ? '@tensorflow/tfjs-node-gpu'
        : tryRequire('@tensorflow/tfjs-node')
          ? '@tensorflow/tfjs-node'
          : undefined;
      if (src && (await activate('tensorflow'))) return { backend: 'tensorflow', threads: 0, source: src };
    } else if (name === 'wasm') {
      require('@tensorflow/tfjs-backend-wasm');
      if (await activate('wasm')) {
        installWasmKernels();
        const base = { backend: 'wasm' as const, source: '@tensorflow/tfjs-backend-wasm', simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') };
        if (forced === 'wasm') {
          setNativeKernels(false);
          return { ...base, threads: 1 };
        }
        const threads = threadsFromEnv();
        if (loadNativeAddon() && setNativeKernels(true, threads)) return { ...base, threads: nativeInfo()!.threads, native: nativeInfo() };
        if (forced === 'native') {
          throw new GroundlabError('BACKEND', `the native kernels are ${nativeLoadError() ?? 'not available'}`, {
            hint: 'build them with `bash src/engine/native/build.sh`, or set GROUNDLAB_BACKEND=wasm',
          });
        }
        return { ...base, threads: 1, nativeUnavailable: nativeLoadError() };
      }
    } else {
      require('@tensorflow/tfjs-backend-cpu');
      if (await activate('cpu')) return { backend: 'cpu', threads: 1, source: '@tensorflow/tfjs-backend-cpu' };
    }
  }
  throw new GroundlabError('BACKEND', `backend "${forced}" could not be started`, {
    hint:
      forced === 'tensorflow'
        ? 'install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu, or unset GROUNDLAB_BACKEND'
        : 'unset GROUNDLAB_BACKEND to let groundlab pick one',
  });
}

/**
 * Start the engine (idempotent): picks and activates the backend, registers gradients and
 * groundlab's extra kernels. Every entry point (CLI, notebook, tests) awaits this first.
 */
export function initEngine(opts: InitOptions = {}): Promise<EngineInfo> {
  if (info && (!opts.backend || opts.backend === info.backend || (opts.backend === 'native' && info.native))) {
    if (!(opts.backend === 'wasm' && info.native)) return Promise.resolve(info);
  }
  if (pending && !opts.backend) return pending;
  pending = choose(opts).then((i) => {
    info = i;
    const log = opts.log ?? process.env.GROUNDLAB_QUIET !== '1';
    if (log) {
      const simd = i.simd === undefined ? '' : i.simd ? ', SIMD' : ', no SIMD';
      const threads = `${i.threads || 'native'} thread${i.threads === 1 ? '' : 's'}`;
      if (i.native) process.stderr.write(`groundlab: backend wasm + native kernels (${blasLabel(i.native.blas)}, ${threads})\n`);
      else process.stderr.write(`groundlab: backend ${i.backend} (${i.source}${simd}), ${threads}\n`);
      if (i.nativeUnavailable) process.stderr.write(`groundlab: native kernels ${i.nativeUnavailable}; running on pure wasm\n`);
    }
    return i;
  });
  pending.catch(() => (pending = undefined));
  return pending;
}

/** The engine info, or an error if `initEngine()` has not finished. */
export function engineInfo(): EngineInfo {
  if (!info) throw new GroundlabError('INTERNAL', 'the engine is not started', { hint: 'await initEngine() first' });
  return info;
}

/**
 * The BLAS's name, version and, for OpenBLAS, the kernel family it runs ("OpenBLAS 0.3.21
 * SkylakeX"): from `openblas_get_config()`'s words, the first capitalised one after the name.
 */
export function blasLabel(config: string): string {
  const words = config.split(' ');
  const core = words.slice(2).find((w) => /^[A-Z][a-z]/.test(w));
  return [...words.slice(0, 2), ...(core ? [core] : [])].join(' ');
}

/**
 * Native kernels for the wasm backend (see ./native/groundlab_native.cc).
 *
 * The wasm backend keeps every tensor in one WebAssembly.Memory; the addon receives that memory's
 * ArrayBuffer and byte offsets and computes in place, so no tensor is copied. Matrix products go to
 * the system BLAS (OpenBLAS, Accelerate) with its threads; layer norm, GELU, causal softmax,
 * cross-entropy and the AdamW update are fused loops. They are registered as kernels of the `wasm`
 * backend: stock kernels (`BatchMatMul`, `_FusedMatMul`, `Transpose`) are replaced where the
 * arguments fit (and left to the original otherwise), and groundlab's own kernels (`Groundlab*`)
 * are added. `setNativeKernels(false)` puts the wasm kernels back (the tests compare both).
 *
 * Built at set-up by `src/engine/native/build.sh` into `dist/native/groundlab_native.node`.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { BMM_KERNEL, wrapWasmKernel } from './ops-kernels';

/* eslint-disable @typescript-eslint/no-explicit-any */
type WasmBackend = any;

/** The addon's functions (offsets in bytes into `heap`, sizes in elements). */
interface Addon {
  gemm(
    heap: ArrayBuffer,
    ta: number,
    tb: number,
    m: number,
    n: number,
    k: number,
    a: number,
    b: number,
    beta: number,
    c: number,
    batch: number,
    sa: number,
    sb: number,
    sc: number,
  ): void;
  rowBroadcast(heap: ArrayBuffer, rows: number, cols: number, src: number, dst: number): void;
  transpose(heap: ArrayBuffer, outer: number, rows: number, cols: number, inner: number, x: number, y: number): void;
  layerNorm(
    heap: ArrayBuffer,
    n: number,
    d: number,
    eps: number,
    x: number,
    g: number,
    b: number,
    y: number,
    xhat: number,
    rstd: number,
    rms: number,
  ): void;
  layerNormGrad(
    heap: ArrayBuffer,
    n: number,
    d: number,
    dy: number,
    xhat: number,
    rstd: number,
    g: number,
    dx: number,
    dg: number,
    db: number,
    rms: number,
  ): void;
  gelu(heap: ArrayBuffer, size: number, x: number, y: number): void;
  geluGrad(heap: ArrayBuffer, size: number, x: number, dy: number, dx: number): void;
  causalSoftmax(heap: ArrayBuffer, n: number, t: number, scale: number, s: number, p: number): void;
  causalSoftmaxGrad(heap: ArrayBuffer, n: number, t: number, scale: number, p: number, dp: number, ds: number): void;
  crossEntropy(heap: ArrayBuffer, n: number, v: number, z: number, targets: number, mask: number, grad: number, loss: number): void;
  adamw(
    heap: ArrayBuffer,
    size: number,
    p: number,
    g: number,
    m: number,
    v: number,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    bc1: number,
    bc2: number,
    decay: number,
  ): void;
  gather(heap: ArrayBuffer, outer: number, dim: number, nIdx: number, inner: number, x: number, idx: number, out: number): number;
  causalConv(heap: ArrayBuffer, b: number, t: number, c: number, k: number, x: number, w: number, bias: number, y: number): void;
  causalConvGrad(
    heap: ArrayBuffer,
    b: number,
    t: number,
    c: number,
    k: number,
    dy: number,
    x: number,
    w: number,
    dx: number,
    dw: number,
    db: number,
  ): void;
  silu(heap: ArrayBuffer, size: number, x: number, y: number): void;
  siluGrad(heap: ArrayBuffer, size: number, x: number, dy: number, dx: number): void;
  embeddingGrad(heap: ArrayBuffer, n: number, v: number, d: number, ids: number, dy: number, out: number): void;
  glaPattern(heap: ArrayBuffer, n: number, t: number, k: number, q: number, kk: number, logA: number, p: number): void;
  glaPatternGrad(
    heap: ArrayBuffer,
    n: number,
    t: number,
    k: number,
    dp: number,
    q: number,
    kk: number,
    logA: number,
    dq: number,
    dk: number,
    dlogA: number,
  ): void;
  gru(heap: ArrayBuffer, t: number, b: number, d: number, xw: number, whh: number, bhh: number, out: number, acts: number): void;
  gruGrad(
    heap: ArrayBuffer,
    t: number,
    b: number,
    d: number,
    dy: number,
    acts: number,
    out: number,
    whh: number,
    dxw: number,
    dw: number,
    db: number,
  ): void;
  lstm(heap: ArrayBuffer, t: number, b: number, d: number, xw: number, whh: number, out: number, acts: number): void;
  lstmGrad(
    heap: ArrayBuffer,
    t: number,
    b: number,
    d: number,
    dy: number,
    acts: number,
    out: number,
    whh: number,
    dxw: number,
    dw: number,
  ): void;
  ssd(heap: ArrayBuffer, b: number, t: number, h: number, dt: number, a: number, cb: number, decay: number, m: number): void;
  ssdGrad(
    heap: ArrayBuffer,
    b: number,
    t: number,
    h: number,
    g: number,
    decay: number,
    m: number,
    cb: number,
    dt: number,
    a: number,
    dDt: number,
    da: number,
    dCb: number,
  ): void;
  setThreads(n: number): void;
  threads(): number;
  blas(): string;
}

export interface NativeInfo {
  /** The BLAS library and its build, as it reports itself. */
  blas: string;
  /** Threads the BLAS computes with (`GROUNDLAB_THREADS`, default 1). */
  threads: number;
  /** The addon file. */
  file: string;
}

let addon: Addon | undefined;
let addonFile: string | undefined;
let loadError: string | undefined;

/**
 * Where the built addon lives: `GROUNDLAB_NATIVE_ADDON` when set, else `dist/native/` of this
 * checkout (found from `src/` under tsx or from `dist/src/`).
 */
export function nativeAddonCandidates(): string[] {
  if (process.env.GROUNDLAB_NATIVE_ADDON) return [path.resolve(process.env.GROUNDLAB_NATIVE_ADDON)];
  const up = (n: number) => path.resolve(__dirname, ...new Array(n).fill('..'));
  return [path.join(up(2), 'native', 'groundlab_native.node'), path.join(up(2), 'dist', 'native', 'groundlab_native.node')];
}

/** Load the addon once; undefined (with `nativeLoadError()`) when it is not built or does not load. */
export function loadNativeAddon(): Addon | undefined {
  if (addon || loadError) return addon;
  const file = nativeAddonCandidates().find((f) => fs.existsSync(f));
  if (!file) {
    loadError = process.env.GROUNDLAB_NATIVE_ADDON
      ? `not found at GROUNDLAB_NATIVE_ADDON=${process.env.GROUNDLAB_NATIVE_ADDON} (unset it to use the checkout's dist/native/)`
      : 'not built (run `bash src/engine/native/build.sh`; it needs g++ and OpenBLAS: apt-get install libopenblas-dev)';
    return undefined;
  }
  const missing = missingCpuFlags(path.join(path.dirname(file), 'build-info.json'));
  if (missing.length) {
    loadError = `built for CPU features this CPU lacks (${missing.join(', ')}); rebuild here: bash src/engine/native/build.sh --force`;
    return undefined;
  }
  // OpenBLAS picks its kernels from the CPU's model; on a virtual CPU that names no model ("Intel
  // Xeon Processor") it falls back to Prescott's SSE3 kernels, about 4x slower here. The flags decide.
  if (!process.env.OPENBLAS_CORETYPE) {
    const core = openblasCoreType(cpuFlags());
    if (core) process.env.OPENBLAS_CORETYPE = core;
  }
  try {
    addon = require(file) as Addon;
    addonFile = file;
  } catch (e) {
    loadError = `${file} does not load: ${(e as Error).message.split('\n')[0]} (rebuild: bash src/engine/native/build.sh --force)`;
  }
  return addon;
}

/**
 * The CPU flags the build needs (`build-info.json` beside the addon) that this CPU lacks, read from
 * /proc/cpuinfo (Linux; elsewhere nothing is checked). A machine of a cluster with an older CPU
 * than the one that built the checkout then runs on pure wasm instead of crashing.
 */
export function missingCpuFlags(infoFile: string, cpuinfo = '/proc/cpuinfo'): string[] {
  let required: string[] = [];
  try {
    required = (JSON.parse(fs.readFileSync(infoFile, 'utf8')).requiresCpuFlags as string[]) ?? [];
  } catch {
    return [];
  }
  const have = cpuFlags(cpuinfo);
  if (!required.length || !have) return [];
  return required.filter((f) => !have.has(f));
}

/** The CPU's flags from the first `flags` line of /proc/cpuinfo; undefined where there is none (not Linux). */
export function cpuFlags(cpuinfo = '/proc/cpuinfo'): Set<string> | undefined {
  if (!fs.existsSync(cpuinfo)) return undefined;
  const line = fs
    .readFileSync(cpuinfo, 'utf8')
    .split('\n')
    .find((l) => /^flags\s*:/.test(l));
  return line ? new Set(line.split(':')[1].trim().split(/\s+/)) : undefined;
}

/**
 * The OpenBLAS kernel family (an `OPENBLAS_CORETYPE` value) for a CPU with these flags: the widest
 * vector extension it has (AVX-512 with bf16: Cooperlake, AVX-512: SkylakeX, AVX2 with FMA: Haswell,
 * AVX: SandyBridge); undefined for other CPUs (OpenBLAS's own detection stays).
 */
export function openblasCoreType(flags: Set<string> | undefined): string | undefined {
  if (!flags) return undefined;
  const all = (...f: string[]) => f.every((x) => flags.has(x));
  if (all('avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl')) return all('avx512_bf16') ? 'Cooperlake' : 'SkylakeX';
  if (all('avx2', 'fma')) return 'Haswell';
  if (all('avx')) return 'SandyBridge';
  return undefined;
}

/** Why the native kernels are not available (after `loadNativeAddon()` returned undefined). */
export function nativeLoadError(): string | undefined {
  return loadError;
}

/**
 * Parse `GROUNDLAB_THREADS` (a positive integer or `all`), default 1: one thread per process, as on
 * the wasm path, because parallel work (seeds, sweeps, reproduce) runs as one process per core, and
 * a second BLAS thread waiting on a core that another process holds slowed a quick Transformer step
 * from 73 to 98-340 ms on this 2-core machine (alone it gave 73 -> 68 ms).
 */
export function threadsFromEnv(): number {
  const v = process.env.GROUNDLAB_THREADS;
  if (v == null || v === '') return 1;
  if (v === 'all') return Math.max(1, os.cpus().length);
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new GroundlabError('BAD_ARGUMENT', `GROUNDLAB_THREADS is "${v}", which is not a positive integer`, {
      hint: 'set GROUNDLAB_THREADS=1, a number of threads, or all (every core), or unset it',
    });
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Kernel registration (reversible).

const replaced = new Map<string, tf.KernelConfig | undefined>();
let active = false;

/** Whether the native kernels are registered on the wasm backend now. */
export function nativeKernelsActive(): boolean {
  return active && tf.getBackend() === 'wasm';
}

function heap(backend: WasmBackend): ArrayBuffer {
  return backend.wasm.HEAPU8.buffer as ArrayBuffer;
}
function off(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset as number;
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo | null | undefined>; attrs: Record<string, any>; backend: WasmBackend };

function isF32(...ts: Array<tf.TensorInfo | null | undefined>): boolean {
  return ts.every((t) => t == null || t.dtype === 'float32');
}

/**
 * op(A) op(B) for [..., M, K] x [..., K, N] with batch dims equal or one side broadcast (size 1);
 * returns undefined when the batch dims need a general broadcast (the caller falls back).
 */
function matmulNative(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  ta: boolean,
  tb: boolean,
  bias?: tf.TensorInfo | null,
): tf.TensorInfo | undefined {
  const ar = a.shape.length;
  const br = b.shape.length;
  if (ar < 2 || br < 2) return undefined;
  const m = ta ? a.shape[ar - 1] : a.shape[ar - 2];
  const k = ta ? a.shape[ar - 2] : a.shape[ar - 1];
  const k2 = tb ? b.shape[br - 1] : b.shape[br - 2];
  const n = tb ? b.shape[br - 2] : b.shape[br - 1];
  if (k !== k2) return undefined; // let the stock kernel say it
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const na = tf.util.sizeFromShape(batchA);
  const nb = tf.util.sizeFromShape(batchB);
  let outBatch: number[];
  if (na === nb && (batchA.length === batchB.length || na === 1)) outBatch = batchA.length >= batchB.length ? batchA : batchB;
  else if (nb === 1) outBatch = batchA;
  else if (na === 1) outBatch = batchB;
  else return undefined;
  if (na !== nb && batchA.length !== batchB.length && Math.min(na, nb) !== 1) return undefined;
  if (bias && !(bias.shape.length === 1 && bias.shape[0] === n) && !(tf.util.sizeFromShape(bias.shape) === n)) return undefined;
  const batch = Math.max(na, nb);
  const out = backend.makeOutput([...outBatch, m, n], 'float32');
  const h = heap(backend); // after makeOutput: a heap growth detaches earlier buffers
  const cOff = off(backend, out);
  if (m * n > 0) {
    if (bias) for (let i = 0; i < batch; i++) addon!.rowBroadcast(h, m, n, off(backend, bias), cOff + 4 * i * m * n);
    addon!.gemm(
      h,
      ta ? 1 : 0,
      tb ? 1 : 0,
      m,
      n,
      k,
      off(backend, a),
      off(backend, b),
      bias ? 1 : 0,
      cOff,
      batch,
      na === 1 ? 0 : m * k,
      nb === 1 ? 0 : k * n,
      m * n,
    );
  }
  return out;
}

function batchMatMulKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (isF32(a, b)) {
      const out = matmulNative(backend, a, b, !!attrs.transposeA, !!attrs.transposeB);
      if (out) return out;
    }
    return original(args);
  };
}

function fusedMatMulKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const { a, b, bias, preluActivationWeights } = inputs;
    const act = attrs.activation ?? 'linear';
    if (act === 'linear' && preluActivationWeights == null && isF32(a, b, bias)) {
      const out = matmulNative(backend, a!, b!, !!attrs.transposeA, !!attrs.transposeB, bias);
      if (out) return out;
    }
    return original(args);
  };
}

/** [n, M, K] x [n, K, P] -> [n, M, P] (replaces the wasm `GroundlabBmm`). */
function bmmKernel(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend } = args;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const out = matmulNative(backend, a, b, false, false);
  if (!out) throw new Error(`GroundlabBmm: shapes [${a.shape}] x [${b.shape}] do not fit`);
  return out;
}

/** A permutation that swaps two adjacent groups of axes: [outer, rows, cols, inner] sizes, else undefined. */
export function transposeAsSwap(shape: number[], perm: number[]): [number, number, number, number] | undefined {
  const r = perm.length;
  let lo = 0;
  while (lo < r && perm[lo] === lo) lo++;
  if (lo === r) return [1, 1, 1, tf.util.sizeFromShape(shape)];
  let hi = r - 1;
  while (hi > lo && perm[hi] === hi) hi--;
  // perm[lo..hi] must be [j, j+1, ..., hi, lo, lo+1, ..., j-1] for some j in (lo, hi]
  const j = perm[lo];
  if (j <= lo) return undefined;
  const first = hi - j + 1;
  for (let i = 0; i < first; i++) if (perm[lo + i] !== j + i) return undefined;
  for (let i = 0; i < j - lo; i++) if (perm[lo + first + i] !== lo + i) return undefined;
  const prod = (s: number, e: number) => shape.slice(s, e).reduce((x, y) => x * y, 1);
  return [prod(0, lo), prod(lo, j), prod(j, hi + 1), prod(hi + 1, r)];
}

function transposeKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const x = inputs.x as tf.TensorInfo;
    const perm = attrs.perm as number[];
    const swap = x.dtype === 'float32' || x.dtype === 'int32' ? transposeAsSwap(x.shape, perm) : undefined;
    if (!swap) return original(args);
    const outShape = perm.map((p) => x.shape[p]);
    const out = backend.makeOutput(outShape, x.dtype);
    if (tf.util.sizeFromShape(outShape) > 0)
      addon!.transpose(heap(backend), swap[0], swap[1], swap[2], swap[3], off(backend, x), off(backend, out));
    return out;
  };
}

/** `GatherV2` without batch dimensions, 4-byte values and int32 indices (an error names a bad index, as the stock kernel does). */
function gatherKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    if ((attrs.batchDims ?? 0) !== 0 || indices.dtype !== 'int32' || (x.dtype !== 'float32' && x.dtype !== 'int32')) return original(args);
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const out = backend.makeOutput(outShape, x.dtype);
    const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
    const inner = tf.util.sizeFromShape(x.shape.slice(axis + 1));
    const ni = tf.util.sizeFromShape(indices.shape);
    if (tf.util.sizeFromShape(outShape) === 0) return out;
    const bad = addon!.gather(heap(backend), outer, x.shape[axis], ni, inner, off(backend, x), off(backend, indices), off(backend, out));
    if (bad >= 0) {
      backend.disposeData(out.dataId);
      const v = (backend.typedArrayFromHeap(indices) as Int32Array)[bad];
      throw new Error(`GatherV2: the index value ${v} is not in [0, ${x.shape[axis] - 1}]`);
    }
    return out;
  };
}

// groundlab's fused kernels (names used by ./ops.ts and the optimizer through `runKernel`).
export const NATIVE = {
  layerNorm: 'GroundlabLayerNorm',
  layerNormGrad: 'GroundlabLayerNormGrad',
  gelu: 'GroundlabGelu',
  geluGrad: 'GroundlabGeluGrad',
  causalSoftmax: 'GroundlabCausalSoftmax',
  causalSoftmaxGrad: 'GroundlabCausalSoftmaxGrad',
  crossEntropy: 'GroundlabCrossEntropy',
  adamw: 'GroundlabAdamW',
  embeddingGrad: 'GroundlabEmbeddingGrad',
  causalConv: 'GroundlabCausalConv',
  causalConvGrad: 'GroundlabCausalConvGrad',
  silu: 'GroundlabSilu',
  siluGrad: 'GroundlabSiluGrad',
  glaPattern: 'GroundlabGlaPattern',
  glaPatternGrad: 'GroundlabGlaPatternGrad',
  gru: 'GroundlabGru',
  gruGrad: 'GroundlabGruGrad',
  lstm: 'GroundlabLstm',
  lstmGrad: 'GroundlabLstmGrad',
  ssd: 'GroundlabSsd',
  ssdGrad: 'GroundlabSsdGrad',
} as const;

const own: Record<string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]> = {
  // inputs x [N, D], gamma [D], beta [D] (absent: RMS norm); attrs eps -> [y, xhat, rstd [N]]
  [NATIVE.layerNorm]: ({ inputs, attrs, backend }) => {
    const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
    const d = x.shape[x.shape.length - 1];
    const n = tf.util.sizeFromShape(x.shape) / d;
    const y = backend.makeOutput(x.shape, 'float32');
    const xhat = backend.makeOutput(x.shape, 'float32');
    const rstd = backend.makeOutput([n], 'float32');
    addon!.layerNorm(
      heap(backend),
      n,
      d,
      attrs.eps,
      off(backend, x),
      off(backend, gamma),
      beta ? off(backend, beta) : -1,
      off(backend, y),
      off(backend, xhat),
      off(backend, rstd),
      beta ? 0 : 1,
    );
    return [y, xhat, rstd];
  },
  // inputs dy, xhat [N, D], rstd [N], gamma [D]; attrs rms -> [dx, dgamma, dbeta] (rms: [dx, dgamma])
  [NATIVE.layerNormGrad]: ({ inputs, attrs, backend }) => {
    const { dy, xhat, rstd, gamma } = inputs as Record<string, tf.TensorInfo>;
    const d = dy.shape[dy.shape.length - 1];
    const n = tf.util.sizeFromShape(dy.shape) / d;
    const dx = backend.makeOutput(dy.shape, 'float32');
    const dg = backend.makeOutput([d], 'float32');
    const db = attrs.rms ? undefined : backend.makeOutput([d], 'float32');
    addon!.layerNormGrad(
      heap(backend),
      n,
      d,
      off(backend, dy),
      off(backend, xhat),
      off(backend, rstd),
      off(backend, gamma),
      off(backend, dx),
      off(backend, dg),
      db ? off(backend, db) : -1,
      attrs.rms ? 1 : 0,
    );
    return db ? [dx, dg, db] : [dx, dg];
  },
  [NATIVE.gelu]: ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    const y = backend.makeOutput(x.shape, 'float32');
    addon!.gelu(heap(backend), tf.util.sizeFromShape(x.shape), off(backend, x), off(backend, y));
    return y;
  },
  [NATIVE.geluGrad]: ({ inputs, backend }) => {
    const { x, dy } = inputs as Record<string, tf.TensorInfo>;
    const dx = backend.makeOutput(x.shape, 'float32');
    addon!.geluGrad(heap(backend), tf.util.sizeFromShape(x.shape), off(backend, x), off(backend, dy), off(backend, dx));
    return dx;
  },
  // inputs s [n, T, T]; attrs scale -> p (softmax over keys j <= i of scale * s)
  [NATIVE.causalSoftmax]: ({ inputs, attrs, backend }) => {
    const s = inputs.s as tf.TensorInfo;
    const t = s.shape[s.shape.length - 1];
    const p = backend.makeOutput(s.shape, 'float32');
    addon!.causalSoftmax(heap(backend), tf.util.sizeFromShape(s.shape) / (t * t), t, attrs.scale, off(backend, s), off(backend, p));
    return p;
  },
  [NATIVE.causalSoftmaxGrad]: ({ inputs, attrs, backend }) => {
    const { p, dp } = inputs as Record<string, tf.TensorInfo>;
    const t = p.shape[p.shape.length - 1];
    const ds = backend.makeOutput(p.shape, 'float32');
    addon!.causalSoftmaxGrad(
      heap(backend),
      tf.util.sizeFromShape(p.shape) / (t * t),
      t,
      attrs.scale,
      off(backend, p),
      off(backend, dp),
      off(backend, ds),
    );
    return ds;
  },
  // inputs logits [N, V], targets [N] int32, mask [N] (optional) -> [loss [], dlogits [N, V]]
  [NATIVE.crossEntropy]: ({ inputs, backend }) => {
    const { logits, targets, mask } = inputs as Record<string, tf.TensorInfo>;
    const [n, v] = logits.shape;
    const loss = backend.makeOutput([], 'float32');
    const grad = backend.makeOutput([n, v], 'float32');
    addon!.crossEntropy(
      heap(backend),
      n,
      v,
      off(backend, logits),
      off(backend, targets),
      mask ? off(backend, mask) : -1,
      off(backend, grad),
      off(backend, loss),
    );
    return [loss, grad];
  },
  // inputs p, g, m, v (same shape); attrs lr, beta1, beta2, eps, bc1, bc2, decay -> [p', m', v']
  [NATIVE.adamw]: ({ inputs, attrs, backend }) => {
    const { p, g, m, v } = inputs as Record<string, tf.TensorInfo>;
    const size = tf.util.sizeFromShape(p.shape);
    const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
    const h = heap(backend);
    const [po, mo, vo] = outs.map((t) => off(backend, t));
    // The kernel updates in place: copy the old values into the outputs first.
    const f = new Float32Array(h);
    f.copyWithin(po / 4, off(backend, p) / 4, off(backend, p) / 4 + size);
    f.copyWithin(mo / 4, off(backend, m) / 4, off(backend, m) / 4 + size);
    f.copyWithin(vo / 4, off(backend, v) / 4, off(backend, v) / 4 + size);
    addon!.adamw(h, size, po, off(backend, g), mo, vo, attrs.lr, attrs.beta1, attrs.beta2, attrs.eps, attrs.bc1, attrs.bc2, attrs.decay);
    return outs;
  },
};

Object.assign(own, {
  // inputs x [B, T, C], w [K, C], bias [C] -> y [B, T, C]
  [NATIVE.causalConv]: ({ inputs, backend }: KernelArgs) => {
    const { x, w, bias } = inputs as Record<string, tf.TensorInfo>;
    const [b, t, c] = x.shape;
    const y = backend.makeOutput(x.shape, 'float32');
    addon!.causalConv(heap(backend), b, t, c, w.shape[0], off(backend, x), off(backend, w), off(backend, bias), off(backend, y));
    return y;
  },
  // inputs dy, x [B, T, C], w [K, C] -> [dx, dw, dbias]
  [NATIVE.causalConvGrad]: ({ inputs, backend }: KernelArgs) => {
    const { dy, x, w } = inputs as Record<string, tf.TensorInfo>;
    const [b, t, c] = x.shape;
    const dx = backend.makeOutput(x.shape, 'float32');
    const dw = backend.makeOutput(w.shape, 'float32');
    const db = backend.makeOutput([c], 'float32');
    addon!.causalConvGrad(
      heap(backend),
      b,
      t,
      c,
      w.shape[0],
      off(backend, dy),
      off(backend, x),
      off(backend, w),
      off(backend, dx),
      off(backend, dw),
      off(backend, db),
    );
    return [dx, dw, db];
  },
  [NATIVE.silu]: ({ inputs, backend }: KernelArgs) => {
    const x = inputs.x as tf.TensorInfo;
    const y = backend.makeOutput(x.shape, 'float32');
    addon!.silu(heap(backend), tf.util.sizeFromShape(x.shape), off(backend, x), off(backend, y));
    return y;
  },
  [NATIVE.siluGrad]: ({ inputs, backend }: KernelArgs) => {
    const { x, dy } = inputs as Record<string, tf.TensorInfo>;
    const dx = backend.makeOutput(x.shape, 'float32');
    addon!.siluGrad(heap(backend), tf.util.sizeFromShape(x.shape), off(backend, x), off(backend, dy), off(backend, dx));
    return dx;
  },
  // inputs ids [N] int32, dy [N, D]; attrs vocab -> [V, D] (rows summed by id)
  [NATIVE.embeddingGrad]: ({ inputs, attrs, backend }: KernelArgs) => {
    const { ids, dy } = inputs as Record<string, tf.TensorInfo>;
    const [n, d] = dy.shape;
    const out = backend.makeOutput([attrs.vocab, d], 'float32');
    addon!.embeddingGrad(heap(backend), n, attrs.vocab, d, off(backend, ids), off(backend, dy), off(backend, out));
    return out;
  },
  // inputs q, k, logA [n, T, K] -> P [n, T, T]
  [NATIVE.glaPattern]: ({ inputs, backend }: KernelArgs) => {
    const { q, k, logA } = inputs as Record<string, tf.TensorInfo>;
    const [n, t, kd] = q.shape;
    const p = backend.makeOutput([n, t, t], 'float32');
    addon!.glaPattern(heap(backend), n, t, kd, off(backend, q), off(backend, k), off(backend, logA), off(backend, p));
    return p;
  },
  // inputs dp [n, T, T], q, k, logA -> [dq, dk, dlogA]
  [NATIVE.glaPatternGrad]: ({ inputs, backend }: KernelArgs) => {
    const { dp, q, k, logA } = inputs as Record<string, tf.TensorInfo>;
    const [n, t, kd] = q.shape;
    const outs = [0, 1, 2].map(() => backend.makeOutput([n, t, kd], 'float32'));
    addon!.glaPatternGrad(
      heap(backend),
      n,
      t,
      kd,
      off(backend, dp),
      off(backend, q),
      off(backend, k),
      off(backend, logA),
      ...(outs.map((o: tf.TensorInfo) => off(backend, o)) as [number, number, number]),
    );
    return outs;
  },
  // inputs xw [T, B, 3D], whh [D, 3D], bhh [3D] -> [out [T, B, D], acts [T, B, 4D] (r, z, n, hn)]
  [NATIVE.gru]: ({ inputs, backend }: KernelArgs) => {
    const { xw, whh, bhh } = inputs as Record<string, tf.TensorInfo>;
    const [t, b, d3] = xw.shape;
    const out = backend.makeOutput([t, b, d3 / 3], 'float32');
    const acts = backend.makeOutput([t, b, (4 * d3) / 3], 'float32');
    addon!.gru(heap(backend), t, b, d3 / 3, off(backend, xw), off(backend, whh), off(backend, bhh), off(backend, out), off(backend, acts));
    return [out, acts];
  },
  // inputs dy [T, B, D], acts, out, whh -> [dxw [T, B, 3D], dwhh [D, 3D], dbhh [3D]]
  [NATIVE.gruGrad]: ({ inputs, backend }: KernelArgs) => {
    const { dy, acts, out, whh } = inputs as Record<string, tf.TensorInfo>;
    const [t, b, d] = out.shape;
    const dxw = backend.makeOutput([t, b, 3 * d], 'float32');
    const dw = backend.makeOutput(whh.shape, 'float32');
    const db = backend.makeOutput([3 * d], 'float32');
    addon!.gruGrad(
      heap(backend),
      t,
      b,
      d,
      off(backend, dy),
      off(backend, acts),
      off(backend, out),
      off(backend, whh),
      off(backend, dxw),
      off(backend, dw),
      off(backend, db),
    );
    return [dxw, dw, db];
  },
  // inputs xw [T, B, 4D], whh [D, 4D] -> [out [T, B, 2D] (h | c), acts [T, B, 4D]]
  [NATIVE.lstm]: ({ inputs, backend }: KernelArgs) => {
    const { xw, whh } = inputs as Record<string, tf.TensorInfo>;
    const [t, b, d4] = xw.shape;
    const out = backend.makeOutput([t, b, d4 / 2], 'float32');
    const acts = backend.makeOutput([t, b, d4], 'float32');
    addon!.lstm(heap(backend), t, b, d4 / 4, off(backend, xw), off(backend, whh), off(backend, out), off(backend, acts));
    return [out, acts];
  },
  // inputs dy [T, B, 2D], acts, out, whh -> [dxw [T, B, 4D], dwhh [D, 4D]]
  [NATIVE.lstmGrad]: ({ inputs, backend }: KernelArgs) => {
    const { dy, acts, out, whh } = inputs as Record<string, tf.TensorInfo>;
    const [t, b, d4] = acts.shape;
    const dxw = backend.makeOutput([t, b, d4], 'float32');
    const dw = backend.makeOutput(whh.shape, 'float32');
    addon!.lstmGrad(
      heap(backend),
      t,
      b,
      d4 / 4,
      off(backend, dy),
      off(backend, acts),
      off(backend, out),
      off(backend, whh),
      off(backend, dxw),
      off(backend, dw),
    );
    return [dxw, dw];
  },
  // inputs dt [B, T, H], a [H], cb [B, T, T] -> [m [B, H, T, T], decay [B, H, T, T]]
  [NATIVE.ssd]: ({ inputs, backend }: KernelArgs) => {
    const { dt, a, cb } = inputs as Record<string, tf.TensorInfo>;
    const [b, t, h] = dt.shape;
    const m = backend.makeOutput([b, h, t, t], 'float32');
    const decay = backend.makeOutput([b, h, t, t], 'float32');
    addon!.ssd(heap(backend), b, t, h, off(backend, dt), off(backend, a), off(backend, cb), off(backend, decay), off(backend, m));
    return [m, decay];
  },
  // inputs g [B, H, T, T], decay, m, cb, dt, a -> [ddt [B, T, H], da [H], dcb [B, T, T]]
  [NATIVE.ssdGrad]: ({ inputs, backend }: KernelArgs) => {
    const { g, decay, m, cb, dt, a } = inputs as Record<string, tf.TensorInfo>;
    const [b, t, h] = dt.shape;
    const dDt = backend.makeOutput([b, t, h], 'float32');
    const da = backend.makeOutput([h], 'float32');
    const dCb = backend.makeOutput([b, t, t], 'float32');
    addon!.ssdGrad(
      heap(backend),
      b,
      t,
      h,
      off(backend, g),
      off(backend, decay),
      off(backend, m),
      off(backend, cb),
      off(backend, dt),
      off(backend, a),
      off(backend, dDt),
      off(backend, da),
      off(backend, dCb),
    );
    return [dDt, da, dCb];
  },
});

function swapIn(name: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const original = wrapWasmKernel(name, make);
  if (original) replaced.set(name, original);
}

/**
 * Register (true) or remove (false) the native kernels on the wasm backend. Returns whether they
 * are active afterwards (false when the addon is not built or the backend is not wasm).
 */
export function setNativeKernels(on: boolean, threads?: number): boolean {
  if (on === active) {
    if (on && threads) addon!.setThreads(threads);
    return active;
  }
  if (on) {
    if (tf.getBackend() !== 'wasm' || !loadNativeAddon()) return false;
    addon!.setThreads(threads ?? threadsFromEnv());
    swapIn('BatchMatMul', batchMatMulKernel);
    swapIn('_FusedMatMul', fusedMatMulKernel);
    swapIn('Transpose', transposeKernel);
    swapIn('GatherV2', gatherKernel);
    swapIn(BMM_KERNEL, () => bmmKernel as unknown as tf.KernelFunc);
    for (const [name, fn] of Object.entries(own)) {
      if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
    }
    active = true;
  } else {
    for (const [name, original] of replaced) {
      tf.unregisterKernel(name, 'wasm');
      if (original) tf.registerKernel(original);
    }
    replaced.clear();
    for (const name of Object.keys(own)) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    active = false;
  }
  return active;
}

/** Run one of groundlab's native kernels (`NATIVE.*`); several outputs come back as an array. */
export function runNative(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

/** What the native path runs with (undefined when it is not active). */
export function nativeInfo(): NativeInfo | undefined {
  if (!nativeKernelsActive() || !addon) return undefined;
  return { blas: addon.blas(), threads: addon.threads(), file: addonFile! };
}

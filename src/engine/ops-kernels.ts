/**
 * Extra kernels for the wasm backend, registered by the fused ops on first use.
 *
 * - `GroundlabBmm`: a batched matrix product [n, M, K] x [n, K, N] -> [n, M, N] that runs every
 *   batch entry through the backend's fast 2-D path (XNNPACK). The stock wasm `BatchMatMul` uses a
 *   plain loop for batch > 1 (~1.3 GFLOP/s here); this kernel gives each batch entry a temporary
 *   tensor id that points into the input's memory (no copies), so n small products cost n fast
 *   2-D calls and one tfjs op. Other backends use `tf.matMul`.
 * - `Cast` (override): a cast to the same dtype shares memory instead of copying (see sharedCast).
 * - `PadV2` (override): a fill and row copies through heap views (see fastPad).
 * - `Slice` (override): the stock wasm Slice reads its whole input through `readSync`, which copies
 *   the full tensor out of the wasm heap on every call (0.7 ms to cut 8 KB out of a 1 MB tensor).
 *   The override reads a view of the heap instead; results are identical.
 */
import * as tf from '@tensorflow/tfjs-core';

/* eslint-disable @typescript-eslint/no-explicit-any */
type WasmBackend = any;

export const BMM_KERNEL = 'GroundlabBmm';

let installed = false;
let wasmBatchMatMul: ((...args: unknown[]) => void) | undefined;

function bmmKernel(args: { inputs: { a: tf.TensorInfo; b: tf.TensorInfo }; backend: WasmBackend }): tf.TensorInfo {
  const { inputs, backend } = args;
  const { a, b } = inputs;
  const [n, m, k] = a.shape;
  const [nb, k2, p] = b.shape;
  if (n !== nb || k !== k2) throw new Error(`GroundlabBmm: shapes [${a.shape}] x [${b.shape}] do not fit`);
  if (!wasmBatchMatMul) {
    wasmBatchMatMul = backend.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]);
  }
  const out = backend.makeOutput([n, m, p], 'float32');
  const aOff = backend.dataIdMap.get(a.dataId).memoryOffset as number;
  const bOff = backend.dataIdMap.get(b.dataId).memoryOffset as number;
  const oOff = backend.dataIdMap.get(out.dataId).memoryOffset as number;
  const aShape = new Uint8Array(new Int32Array([1, m, k]).buffer);
  const bShape = new Uint8Array(new Int32Array([1, k, p]).buffer);
  const reg = backend.wasm.tfjs;
  for (let i = 0; i < n; i++) {
    const ia = backend.dataIdNextNumber++;
    const ib = backend.dataIdNextNumber++;
    const io = backend.dataIdNextNumber++;
    reg.registerTensor(ia, m * k, aOff + 4 * i * m * k);
    reg.registerTensor(ib, k * p, bOff + 4 * i * k * p);
    reg.registerTensor(io, m * p, oOff + 4 * i * m * p);
    wasmBatchMatMul!(ia, aShape, 3, ib, bShape, 3, 0, 0, io);
    // Forget the temporary ids on the C++ side only: the memory belongs to a, b and out.
    reg.disposeData(ia);
    reg.disposeData(ib);
    reg.disposeData(io);
  }
  return out;
}

function fastSlice(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as {
      inputs: { x: tf.TensorInfo };
      attrs: { begin: number[]; size: number[] };
      backend: WasmBackend;
    };
    const x = inputs.x;
    if (x.dtype === 'string') return original(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, attrs.begin, attrs.size);
    // Allocate first: growing the wasm heap detaches earlier views of it.
    const out = backend.makeOutput(size, x.dtype);
    const xVals = backend.typedArrayFromHeap(x) as Float32Array;
    const outVals = backend.typedArrayFromHeap(out) as Float32Array;
    const strides = tf.util.computeStrides(x.shape);
    const rank = x.shape.length;
    if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
      const off = tf.slice_util.computeFlatOffset(begin, strides);
      outVals.set(xVals.subarray(off, off + tf.util.sizeFromShape(size)));
      return out;
    }
    // General case: copy contiguous runs of the last axis.
    const inner = size[rank - 1];
    const outer = tf.util.sizeFromShape(size.slice(0, -1));
    const idx = new Array(rank - 1).fill(0);
    for (let r = 0; r < outer; r++) {
      let off = begin[rank - 1];
      for (let d = 0; d < rank - 1; d++) off += (begin[d] + idx[d]) * strides[d];
      outVals.set(xVals.subarray(off, off + inner), r * inner);
      for (let d = rank - 2; d >= 0; d--) {
        if (++idx[d] < size[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  };
}

/**
 * `Identity` (override): share the input's memory (reference count + 1, as the wasm Reshape does)
 * instead of copying it. No wasm kernel writes into its inputs, so sharing is safe; it makes
 * `tf.clone` and the copies `tf.customGrad` takes of saved tensors free.
 */
function sharedIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args as unknown as { inputs: { x: tf.TensorInfo }; backend: WasmBackend };
    const x = inputs.x;
    if (x.dtype === 'string') return original(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/**
 * `PadV2` (override): fill the output with the constant, then copy the input's innermost rows into
 * place through views of the heap. The stock wasm PadV2 took 7 ms to pad a [16, 64, 256] tensor
 * here (the gradient of every slice is a pad).
 */
function fastPad(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as {
      inputs: { x: tf.TensorInfo };
      attrs: { paddings: Array<[number, number]>; constantValue: number };
      backend: WasmBackend;
    };
    const x = inputs.x;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return original(args);
    const rank = x.shape.length;
    const outShape = attrs.paddings.map((p, i) => p[0] + x.shape[i] + p[1]);
    const out = backend.makeOutput(outShape, x.dtype);
    const outVals = backend.typedArrayFromHeap(out) as Float32Array;
    outVals.fill(attrs.constantValue);
    const size = tf.util.sizeFromShape(x.shape);
    if (size === 0 || rank === 0) return out;
    const xVals = backend.typedArrayFromHeap(x) as Float32Array;
    const oStrides = tf.util.computeStrides(outShape);
    const inner = x.shape[rank - 1];
    const idx = new Array(rank - 1).fill(0);
    for (let src = 0; src < size; src += inner) {
      let dst = attrs.paddings[rank - 1][0];
      for (let d = 0; d < rank - 1; d++) dst += (idx[d] + attrs.paddings[d][0]) * oStrides[d];
      outVals.set(xVals.subarray(src, src + inner), dst);
      for (let d = rank - 2; d >= 0; d--) {
        if (++idx[d] < x.shape[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  };
}

/**
 * `Cast` (override) to the dtype a tensor already has: share its memory, as `Identity` does. tfjs's
 * gradients cast their inputs to float32 (the gradient of every product does), and the stock wasm
 * Cast copies even then: 65 copies per Mamba-2 quick training step.
 */
function sharedCast(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as { inputs: { x: tf.TensorInfo }; attrs: { dtype: string }; backend: WasmBackend };
    const x = inputs.x;
    if (x.dtype !== attrs.dtype || x.dtype === 'string') return original(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/**
 * Replaces the wasm kernel `name` by `make(its kernel function)`, keeping the rest of its
 * registration; returns the registration it replaced (undefined: no such kernel, nothing done).
 */
export function wrapWasmKernel(name: string, make: (original: tf.KernelFunc) => tf.KernelFunc): tf.KernelConfig | undefined {
  const original = tf.getKernel(name, 'wasm');
  if (!original) return undefined;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...original, kernelFunc: make(original.kernelFunc) });
  return original;
}

/** Register the extra wasm kernels (idempotent; a no-op on other backends). */
export function installWasmKernels(): void {
  if (installed || tf.getBackend() !== 'wasm') return;
  installed = true;
  tf.registerKernel({ kernelName: BMM_KERNEL, backendName: 'wasm', kernelFunc: bmmKernel as unknown as tf.KernelFunc });
  wrapWasmKernel('Identity', sharedIdentity);
  wrapWasmKernel('PadV2', fastPad);
  wrapWasmKernel('Cast', sharedCast);
  wrapWasmKernel('Slice', fastSlice);
}

/** Whether `GroundlabBmm` is available on the active backend. */
export function hasFastBmm(): boolean {
  installWasmKernels();
  return tf.getBackend() === 'wasm';
}

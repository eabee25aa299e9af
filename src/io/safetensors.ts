/**
 * The safetensors format (https://huggingface.co/docs/safetensors), read and written here without
 * any dependency:
 *
 *   [8 bytes: N, unsigned little-endian]  [N bytes: UTF-8 JSON header]  [data bytes]
 *
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets are
 * relative to the start of the data bytes, little-endian values, row-major); the optional key
 * "__metadata__" holds a string -> string map. The writer pads the header with spaces to a multiple
 * of 8 bytes, as the reference implementation does.
 *
 * Reading converts every floating dtype (F32, F16, BF16, F64) to Float32Array and every integer
 * dtype (I32, I64, I16, I8, U8, BOOL) to Int32Array. Writing supports F32 and I32.
 * Every failure names the file and uses the code CORRUPT_CHECKPOINT.
 */
import * as fsp from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { GroundlabError } from '../errors';
import { atomicWrite } from './atomic';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** One tensor as stored: row-major values. Floats come back as Float32Array, integers as Int32Array. */
export interface StoredTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsContent {
  /** Tensors in header order. */
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** A tensor to write: F32 or I32 (inferred from the array type when dtype is omitted). */
export interface TensorToWrite {
  dtype?: 'F32' | 'I32';
  shape: number[];
  data: Float32Array | Int32Array;
}

function corrupt(file: string | undefined, message: string, hint?: string): GroundlabError {
  return new GroundlabError('CORRUPT_CHECKPOINT', message, {
    file,
    hint:
      hint ??
      'the file is truncated or not a safetensors file; re-create it (e.g. train again from the previous checkpoint) or delete this checkpoint',
  });
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function decodeData(dtype: SafetensorsDtype, bytes: Uint8Array, n: number): Float32Array | Int32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      new Uint8Array(out.buffer).set(bytes); // copy (the source may be unaligned); little-endian host
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      return out;
    }
    case 'I16': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true);
      return out;
    }
    case 'I8': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      return out;
    }
    case 'U8':
    case 'BOOL': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      return out;
    }
  }
}

/** Parse safetensors bytes. `file` is used in error messages. */
export function decodeSafetensors(bytes: Uint8Array, file?: string): SafetensorsContent {
  if (bytes.byteLength < 8)
    throw corrupt(file, `safetensors file is ${bytes.byteLength} bytes long, shorter than its 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(bytes.byteLength - 8)) {
    throw corrupt(file, `safetensors header says it is ${n64} bytes long but only ${bytes.byteLength - 8} bytes follow (truncated file?)`);
  }
  const n = Number(n64);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw corrupt(file, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (header == null || typeof header !== 'object' || Array.isArray(header)) throw corrupt(file, 'safetensors header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, StoredTensor>();
  const spans: Array<[number, number, string]> = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw corrupt(file, '__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(raw as object).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info == null || typeof info !== 'object') throw corrupt(file, `tensor "${name}": header entry is not an object`);
    const dtype = info.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw corrupt(
        file,
        `tensor "${name}": unsupported dtype ${JSON.stringify(info.dtype)}`,
        `supported: ${Object.keys(DTYPE_BYTES).join(', ')}`,
      );
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      throw corrupt(file, `tensor "${name}": bad shape ${JSON.stringify(shape)}`);
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0]) {
      throw corrupt(file, `tensor "${name}": bad data_offsets ${JSON.stringify(off)}`);
    }
    const count = numel(shape);
    const want = count * DTYPE_BYTES[dtype];
    if (off[1] - off[0] !== want) {
      throw corrupt(
        file,
        `tensor "${name}": shape [${shape.join(', ')}] ${dtype} needs ${want} bytes but data_offsets span ${off[1] - off[0]}`,
      );
    }
    if (off[1] > dataLen) {
      throw corrupt(file, `tensor "${name}": data ends at byte ${off[1]} but the file holds only ${dataLen} data bytes (truncated file?)`);
    }
    const data = decodeData(dtype, bytes.subarray(dataStart + off[0], dataStart + off[1]), count);
    tensors.set(name, { dtype, shape: shape.slice(), data });
    spans.push([off[0], off[1], name]);
  }
  // As the format requires: the tensors' byte ranges tile the data exactly, with no overlap and no gap.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  let prev = '';
  for (const [b, e, name] of spans) {
    if (b < end)
      throw corrupt(file, `tensors "${prev}" and "${name}" overlap: "${name}" starts at data byte ${b}, before "${prev}" ends at ${end}`);
    if (b > end) throw corrupt(file, `a gap of ${b - end} bytes before tensor "${name}" (data bytes ${end}..${b} belong to no tensor)`);
    end = e;
    prev = name;
  }
  if (end !== dataLen)
    throw corrupt(
      file,
      `${dataLen - end} data bytes after the last tensor belong to no tensor (the data is ${dataLen} bytes, the tensors cover ${end})`,
    );
  return { tensors, metadata };
}

/** Serialise tensors (in the map's order) and metadata into safetensors bytes. */
export function encodeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new GroundlabError('BAD_ARGUMENT', 'a tensor cannot be named "__metadata__"');
    const dtype = t.dtype ?? (t.data instanceof Int32Array ? 'I32' : 'F32');
    if ((dtype === 'F32') !== t.data instanceof Float32Array) {
      throw new GroundlabError('BAD_ARGUMENT', `tensor "${name}": dtype ${dtype} does not match its ${t.data.constructor.name}`);
    }
    if (numel(t.shape) !== t.data.length) {
      throw new GroundlabError('BAD_ARGUMENT', `tensor "${name}": shape [${t.shape.join(', ')}] does not hold ${t.data.length} values`);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  let hbytes = new TextEncoder().encode(json);
  const pad = (8 - (hbytes.byteLength % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    hbytes = new TextEncoder().encode(json);
  }
  const out = new Uint8Array(8 + hbytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.byteLength), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.byteLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Read a safetensors file. Missing file: NOT_FOUND; anything malformed: CORRUPT_CHECKPOINT naming the file. */
export async function readSafetensors(file: string): Promise<SafetensorsContent> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(file);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT')
      throw new GroundlabError('NOT_FOUND', 'safetensors file does not exist', { file, cause: e });
    throw new GroundlabError('BAD_FILE', `cannot read safetensors file: ${(e as Error).message}`, { file, cause: e });
  }
  return decodeSafetensors(bytes, file);
}

/** Write a safetensors file atomically. */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await atomicWrite(file, encodeSafetensors(tensors, metadata));
}

/** Download tfjs tensors (float32 -> F32, int32/bool -> I32) into writable entries. */
export async function tensorsToWrite(tensors: Map<string, tf.Tensor>): Promise<Map<string, TensorToWrite>> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, t] of tensors) {
    const vals = await t.data();
    const data = t.dtype === 'float32' ? new Float32Array(vals as Float32Array) : Int32Array.from(vals as ArrayLike<number>);
    out.set(name, { dtype: t.dtype === 'float32' ? 'F32' : 'I32', shape: t.shape.slice(), data });
  }
  return out;
}

/** Save tfjs tensors (e.g. `model.params`) to a safetensors file, atomically. */
export async function saveTensors(file: string, tensors: Map<string, tf.Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeSafetensors(file, await tensorsToWrite(tensors), metadata);
}

export interface AssignOptions {
  /** Map a variable name to the name in the file (default: identity). */
  rename?: (name: string) => string;
  /** Tensors in the file that no variable takes are an error unless true (default false). */
  allowUnused?: boolean;
  /** Refuse tensors holding NaN or Infinity (CORRUPT_CHECKPOINT naming the tensor and index). */
  finite?: boolean;
}

/** The first non-finite value of float tensors, or undefined. */
export function firstNonFinite(
  tensors: Iterable<[string, { data: Float32Array | Int32Array }]>,
): { name: string; index: number; value: number } | undefined {
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    const d = t.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return { name, index: i, value: d[i] };
  }
  return undefined;
}

/**
 * Assign stored tensors to variables by name, checking that every variable is present with the
 * same shape. Missing tensors and wrong shapes are CORRUPT_CHECKPOINT errors naming the file, the
 * tensor and both shapes. Nothing is assigned unless everything fits.
 */
export function assignTensors(content: SafetensorsContent, vars: Map<string, tf.Variable>, file: string, opts: AssignOptions = {}): void {
  const rename = opts.rename ?? ((n: string) => n);
  const plan: Array<[tf.Variable, StoredTensor, string]> = [];
  const used = new Set<string>();
  const missing: string[] = [];
  for (const [name, v] of vars) {
    const key = rename(name);
    const t = content.tensors.get(key);
    if (!t) {
      missing.push(key);
      continue;
    }
    if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
      throw new GroundlabError(
        'CORRUPT_CHECKPOINT',
        `tensor "${key}" has shape [${t.shape.join(', ')}] but the model expects [${v.shape.join(', ')}]`,
        {
          file,
          hint: "the checkpoint does not fit this model config: check the run's config.json (vocabulary size, d_model, layers) or use the config the checkpoint was trained with",
        },
      );
    }
    if ((v.dtype === 'float32') !== t.data instanceof Float32Array) {
      throw new GroundlabError('CORRUPT_CHECKPOINT', `tensor "${key}" is ${t.dtype} but the model expects ${v.dtype}`, { file });
    }
    used.add(key);
    plan.push([v, t, key]);
  }
  if (missing.length) {
    throw new GroundlabError(
      'CORRUPT_CHECKPOINT',
      `missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
      {
        file,
        hint: 'the checkpoint does not fit this model config (different architecture or number of layers?)',
      },
    );
  }
  if (!opts.allowUnused) {
    const extra = [...content.tensors.keys()].filter((k) => !used.has(k));
    if (extra.length) {
      throw new GroundlabError(
        'CORRUPT_CHECKPOINT',
        `${extra.length} tensor(s) that the model does not have: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`,
        {
          file,
          hint: 'the checkpoint does not fit this model config (different architecture or number of layers?)',
        },
      );
    }
  }
  if (opts.finite) {
    const bad = firstNonFinite(plan.map(([, t, key]) => [key, t] as [string, StoredTensor]));
    if (bad) {
      throw new GroundlabError(
        'CORRUPT_CHECKPOINT',
        `tensor "${bad.name}" holds ${bad.value} at index ${bad.index}: the weights are damaged (training never saves non-finite weights)`,
        {
          file,
          hint: 'delete this checkpoint to use the one before it, or restore the file',
        },
      );
    }
  }
  for (const [v, t] of plan) {
    const val = tf.tensor(t.data, v.shape, v.dtype);
    v.assign(val);
    val.dispose();
  }
}

/** Read a safetensors file into existing variables (see `assignTensors`). */
export async function loadTensorsInto(
  file: string,
  vars: Map<string, tf.Variable>,
  opts: AssignOptions = {},
): Promise<SafetensorsContent['metadata']> {
  const content = await readSafetensors(file);
  assignTensors(content, vars, file, opts);
  return content.metadata;
}

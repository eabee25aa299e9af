import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { GroundlabError } from '../../src/errors';
import {
  assignTensors,
  decodeSafetensors,
  encodeSafetensors,
  loadTensorsInto,
  readSafetensors,
  saveTensors,
  writeSafetensors,
} from '../../src/io/safetensors';
import { atomicWrite, atomicWriteSync } from '../../src/io/atomic';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-io-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tmp = () => fs.mkdtempSync(path.join(root, 't-'));

/** Build safetensors bytes by hand (independent of the writer) from a header and raw data. */
function handBuilt(header: object, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const isCorrupt = (file: string, re: RegExp) => (e: unknown) =>
  e instanceof GroundlabError && e.code === 'CORRUPT_CHECKPOINT' && e.message.includes(file) && re.test(e.message);

test('writer output has the documented layout and round-trips F32 and I32', () => {
  const a = new Float32Array([1.5, -2, 3.25, 0, 1e-8, -7]);
  const b = new Int32Array([7, -3, 2147483647]);
  const bytes = encodeSafetensors({ a: { shape: [2, 3], data: a }, b: { shape: [3], data: b } }, { format: 'pt' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, 'header padded to 8 bytes');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.deepEqual(header.b, { dtype: 'I32', shape: [3], data_offsets: [24, 36] });
  assert.deepEqual(header.__metadata__, { format: 'pt' });
  assert.equal(bytes.length, 8 + n + 36);
  const back = decodeSafetensors(bytes);
  assert.deepEqual([...back.tensors.keys()], ['a', 'b']);
  assert.deepEqual(back.tensors.get('a')!.data, a);
  assert.deepEqual(back.tensors.get('b')!.data, b);
  assert.deepEqual(back.tensors.get('a')!.shape, [2, 3]);
  assert.deepEqual(back.metadata, { format: 'pt' });
});

test('reads F16, BF16, F64, I64 and U8 written by hand', () => {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 65504 = 0x7bff, smallest subnormal 0x0001
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001]);
  // BF16: upper halves of float32 1.0 (0x3f80), -3.0 (0xc040), 0.15625 (0x3e20)
  const bf16 = new Uint16Array([0x3f80, 0xc040, 0x3e20]);
  const f64 = new Float64Array([0.25, -1e3]);
  const i64 = new BigInt64Array([5n, -9n]);
  const u8 = new Uint8Array([0, 255, 3]);
  const parts = [f16, bf16, f64, i64, u8].map((x) => new Uint8Array(x.buffer));
  const offs: number[] = [0];
  for (const p of parts) offs.push(offs[offs.length - 1] + p.length);
  const data = new Uint8Array(offs[offs.length - 1]);
  parts.forEach((p, i) => data.set(p, offs[i]));
  const header = {
    h: { dtype: 'F16', shape: [5], data_offsets: [offs[0], offs[1]] },
    bf: { dtype: 'BF16', shape: [3, 1], data_offsets: [offs[1], offs[2]] },
    d: { dtype: 'F64', shape: [2], data_offsets: [offs[2], offs[3]] },
    l: { dtype: 'I64', shape: [2], data_offsets: [offs[3], offs[4]] },
    u: { dtype: 'U8', shape: [3], data_offsets: [offs[4], offs[5]] },
  };
  const c = decodeSafetensors(handBuilt(header, data));
  assert.deepEqual([...c.tensors.get('h')!.data], [1, -2, 0.5, 65504, 2 ** -24].map(Math.fround));
  assert.deepEqual([...c.tensors.get('bf')!.data], [1, -3, 0.15625]);
  assert.deepEqual(c.tensors.get('bf')!.shape, [3, 1]);
  assert.deepEqual([...c.tensors.get('d')!.data], [0.25, -1000]);
  assert.deepEqual([...c.tensors.get('l')!.data], [5, -9]);
  assert.ok(c.tensors.get('l')!.data instanceof Int32Array);
  assert.deepEqual([...c.tensors.get('u')!.data], [0, 255, 3]);
});

test('truncated and malformed files give CORRUPT_CHECKPOINT errors naming the file', async () => {
  const dir = tmp();
  const file = path.join(dir, 'model.safetensors');
  await writeSafetensors(file, { w: { shape: [4, 4], data: new Float32Array(16).fill(1) } });
  const full = fs.readFileSync(file);
  // cut inside the data
  fs.writeFileSync(file, full.subarray(0, full.length - 5));
  await assert.rejects(readSafetensors(file), isCorrupt(file, /truncated/));
  // cut inside the header
  fs.writeFileSync(file, full.subarray(0, 20));
  await assert.rejects(readSafetensors(file), isCorrupt(file, /header says it is \d+ bytes/));
  // shorter than 8 bytes
  fs.writeFileSync(file, full.subarray(0, 3));
  await assert.rejects(readSafetensors(file), isCorrupt(file, /shorter than its 8-byte/));
  // garbage header
  fs.writeFileSync(file, handBuilt({}, new Uint8Array(0)).fill(0x7b, 8));
  await assert.rejects(readSafetensors(file), isCorrupt(file, /not valid JSON|not a JSON object/));
  // shape and offsets disagree
  fs.writeFileSync(file, handBuilt({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)));
  await assert.rejects(readSafetensors(file), isCorrupt(file, /needs 12 bytes but data_offsets span 8/));
  // unknown dtype
  fs.writeFileSync(file, handBuilt({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)));
  await assert.rejects(readSafetensors(file), isCorrupt(file, /unsupported dtype "Q4"/));
  // missing file
  await assert.rejects(readSafetensors(path.join(dir, 'nope.safetensors')), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND');
});

test('assignTensors checks names and shapes before touching any variable', async () => {
  await initEngine({ log: false });
  const dir = tmp();
  const file = path.join(dir, 'm.safetensors');
  const a = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, 'st_a');
  const b = tf.variable(tf.tensor1d([5, 6, 7]), true, 'st_b');
  await saveTensors(file, new Map<string, tf.Tensor>([['a', a], ['b', b]]));
  const a2 = tf.variable(tf.zeros([2, 2]), true, 'st_a2');
  const b2 = tf.variable(tf.zeros([3]), true, 'st_b2');
  const before = tf.memory().numTensors;
  await loadTensorsInto(file, new Map([['a', a2], ['b', b2]]));
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(await a2.array(), [[1, 2], [3, 4]]);
  assert.deepEqual(await b2.array(), [5, 6, 7]);
  // wrong shape: error names the file, the tensor and both shapes; nothing assigned
  const a3 = tf.variable(tf.zeros([2, 2]), true, 'st_a3');
  const b3 = tf.variable(tf.zeros([4]), true, 'st_b3');
  await assert.rejects(loadTensorsInto(file, new Map([['a', a3], ['b', b3]])), isCorrupt(file, /"b" has shape \[3\] but the model expects \[4\]/));
  assert.deepEqual(await a3.array(), [[0, 0], [0, 0]]);
  // missing and extra tensors
  const c = await readSafetensors(file);
  assert.throws(() => assignTensors(c, new Map([['a', a3], ['z', b3]]), file), isCorrupt(file, /missing 1 tensor\(s\): z/));
  assert.throws(() => assignTensors(c, new Map([['a', a3]]), file), isCorrupt(file, /that the model does not have: b/));
  assignTensors(c, new Map([['a', a3]]), file, { allowUnused: true });
  for (const v of [a, b, a2, b2, a3, b3]) v.dispose();
});

test('atomic writes replace the file and leave no temp files', async () => {
  const dir = tmp();
  const f = path.join(dir, 'sub', 'x.json');
  await atomicWrite(f, 'one');
  atomicWriteSync(f, 'two');
  await atomicWrite(f, new Uint8Array([104, 105]));
  assert.equal(fs.readFileSync(f, 'utf8'), 'hi');
  assert.deepEqual(fs.readdirSync(path.dirname(f)), ['x.json']);
});

test('data_offsets that overlap, leave a gap or leave trailing bytes are refused, naming the tensors', () => {
  const f32 = (n: number) => n * 4;
  const two = (a: [number, number], b: [number, number], data = f32(4)) =>
    handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: a }, b: { dtype: 'F32', shape: [2], data_offsets: b } }, new Uint8Array(data));
  // the well-formed layout reads
  assert.equal(decodeSafetensors(two([0, 8], [8, 16])).tensors.size, 2);
  assert.equal(decodeSafetensors(two([8, 16], [0, 8])).tensors.size, 2, 'header order need not be data order');
  assert.throws(() => decodeSafetensors(two([0, 8], [4, 12]), 'f'), isCorrupt('f', /tensors "a" and "b" overlap: "b" starts at data byte 4, before "a" ends at 8/));
  assert.throws(() => decodeSafetensors(two([0, 8], [0, 8]), 'f'), isCorrupt('f', /overlap/));
  assert.throws(() => decodeSafetensors(two([0, 8], [12, 20], f32(5)), 'f'), isCorrupt('f', /a gap of 4 bytes before tensor "b"/));
  assert.throws(() => decodeSafetensors(two([4, 12], [12, 20], f32(5)), 'f'), isCorrupt('f', /a gap of 4 bytes before tensor "a"/));
  assert.throws(() => decodeSafetensors(two([0, 8], [8, 16], f32(5)), 'f'), isCorrupt('f', /4 data bytes after the last tensor/));
});

test('loading with finite: true refuses NaN or Inf weights, naming the tensor and the index', async () => {
  await initEngine({ log: false });
  const file = path.join(tmp(), 'nan.safetensors');
  await writeSafetensors(file, { w: { shape: [3], data: new Float32Array([1, NaN, 2]) }, i: { shape: [1], data: new Int32Array([4]) } });
  const w = tf.variable(tf.zeros([3]), true, 'st_nan_w');
  const i = tf.variable(tf.zeros([1], 'int32'), true, 'st_nan_i', 'int32');
  const vars = new Map([['w', w], ['i', i]]);
  await assert.rejects(loadTensorsInto(file, vars, { finite: true }), isCorrupt(file, /tensor "w" holds NaN at index 1/));
  assert.deepEqual(await w.array(), [0, 0, 0], 'nothing assigned');
  await loadTensorsInto(file, vars); // without the check the values load as they are
  assert.ok(Number.isNaN(((await w.array()) as number[])[1]));
  w.dispose();
  i.dispose();
});

test('atomic writes: OS errors name the file and the cause; a temp file left by a killed writer is cleaned', async () => {
  const dir = tmp();
  const file = path.join(dir, 'plain.txt');
  fs.writeFileSync(file, 'x');
  // a path through a file (ENOTDIR), for the async and the sync writer
  const notDir = (e: unknown) => e instanceof GroundlabError && e.code === 'IO' && /ENOTDIR/.test(e.message) && e.message.includes(file) && /not a folder/.test(e.message);
  await assert.rejects(atomicWrite(path.join(file, 'sub', 'y.json'), '{}'), notDir);
  assert.throws(() => atomicWriteSync(path.join(file, 'y.json'), '{}'), notDir);
  // a folder with a file's name where the target's parent should be (EEXIST / ENOTDIR)
  const { removeStaleTemps } = await import('../../src/io/atomic');
  fs.writeFileSync(path.join(dir, '.a.json.tmp-2147483646-abc-1'), 'half');
  fs.writeFileSync(path.join(dir, `.b.json.tmp-${process.pid}-abc-2`), 'mine');
  assert.deepEqual(removeStaleTemps(dir), ['.a.json.tmp-2147483646-abc-1']);
  assert.ok(fs.existsSync(path.join(dir, `.b.json.tmp-${process.pid}-abc-2`)), 'a live writer keeps its temp file');
  assert.deepEqual(removeStaleTemps(dir, { all: true }), [`.b.json.tmp-${process.pid}-abc-2`]);
});

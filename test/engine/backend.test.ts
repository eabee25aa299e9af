import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, Rng } from '../../src/engine';

test('initEngine picks wasm here and registers gradients', async () => {
  const info = await initEngine({ log: false });
  assert.equal(info.backend, process.env.GROUNDLAB_BACKEND ?? 'wasm');
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)));
  const dx = g(tf.tensor1d([1, -2, 3]));
  assert.deepEqual(Array.from(dx.dataSync()), [2, -4, 6]);
  // Chained methods are registered too.
  assert.deepEqual(Array.from(tf.tensor1d([1, 2, 3]).reshape([3, 1]).sum().dataSync()), [6]);
});

test('a bad GROUNDLAB_BACKEND is a clear error naming the variable', async () => {
  const { spawnSync } = await import('node:child_process');
  const code = `require(${JSON.stringify(require.resolve('../../src/engine'))}).initEngine().catch(e => { console.log(e.code + ' ' + e.message); })`;
  const r = spawnSync(process.execPath, [...process.execArgv, '-e', code], { env: { ...process.env, GROUNDLAB_BACKEND: 'quantum' }, encoding: 'utf8' });
  assert.match(r.stdout, /BAD_ARGUMENT GROUNDLAB_BACKEND is "quantum"/);
});

test('without the native kernels groundlab says why once and runs on pure wasm; GROUNDLAB_BACKEND=native then fails clearly', async () => {
  const { spawnSync } = await import('node:child_process');
  const code = `require(${JSON.stringify(require.resolve('../../src/engine'))}).initEngine().then(i => console.log(JSON.stringify(i)), e => console.log(e.code + ' ' + e.message))`;
  const env: NodeJS.ProcessEnv = { ...process.env, GROUNDLAB_NATIVE_ADDON: '/nonexistent/groundlab_native.node', GROUNDLAB_QUIET: '0' };
  delete env.GROUNDLAB_BACKEND;
  const auto = spawnSync(process.execPath, [...process.execArgv, '-e', code], { env, encoding: 'utf8' });
  assert.equal(auto.status, 0, auto.stderr);
  const info = JSON.parse(auto.stdout.trim().split('\n').pop()!);
  assert.equal(info.backend, 'wasm');
  assert.equal(info.native, undefined);
  assert.match(info.nativeUnavailable, /not found at GROUNDLAB_NATIVE_ADDON=\/nonexistent/);
  assert.equal(auto.stderr.match(/native kernels not found/g)?.length, 1, `said once: ${auto.stderr}`);
  const forced = spawnSync(process.execPath, [...process.execArgv, '-e', code], { env: { ...env, GROUNDLAB_BACKEND: 'native' }, encoding: 'utf8' });
  assert.match(forced.stdout, /BACKEND the native kernels are not found/);
});

test('an addon built for CPU features this CPU lacks is not loaded (the flags are named)', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { missingCpuFlags } = await import('../../src/engine/native');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cpu-'));
  fs.writeFileSync(path.join(dir, 'build-info.json'), JSON.stringify({ requiresCpuFlags: ['avx2', 'fma'] }));
  fs.writeFileSync(path.join(dir, 'cpuinfo'), 'processor : 0\nflags : fpu sse sse2 avx2\n');
  assert.deepEqual(missingCpuFlags(path.join(dir, 'build-info.json'), path.join(dir, 'cpuinfo')), ['fma']);
  fs.writeFileSync(path.join(dir, 'cpuinfo'), 'processor : 0\nflags : fpu avx2 fma\n');
  assert.deepEqual(missingCpuFlags(path.join(dir, 'build-info.json'), path.join(dir, 'cpuinfo')), []);
  assert.deepEqual(missingCpuFlags(path.join(dir, 'absent.json'), path.join(dir, 'cpuinfo')), []);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('OpenBLAS runs the kernels of the widest vector extension, also on a CPU that names no model', async () => {
  const { spawnSync } = await import('node:child_process');
  const { openblasCoreType, cpuFlags } = await import('../../src/engine/native');
  const { blasLabel } = await import('../../src/engine/backend');
  assert.equal(openblasCoreType(new Set('avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl'.split(' '))), 'SkylakeX');
  assert.equal(openblasCoreType(new Set('avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16'.split(' '))), 'Cooperlake');
  assert.equal(openblasCoreType(new Set(['avx', 'avx2', 'fma'])), 'Haswell');
  assert.equal(openblasCoreType(new Set(['avx', 'avx512f'])), 'SandyBridge');
  assert.equal(openblasCoreType(new Set(['sse2'])), undefined);
  assert.equal(openblasCoreType(undefined), undefined);
  assert.equal(blasLabel('OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64'), 'OpenBLAS 0.3.21 SkylakeX');
  assert.equal(blasLabel('Accelerate'), 'Accelerate');
  // The real addon in a fresh process (this machine's virtual Xeon made OpenBLAS pick Prescott, about 4x slower).
  const expected = openblasCoreType(cpuFlags());
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const code = `const n = require(${JSON.stringify(require.resolve('../../src/engine/native'))}); const a = n.loadNativeAddon(); console.log(a ? a.blas() : 'none')`;
  const out = spawnSync(process.execPath, [...process.execArgv, '-e', code], { env, encoding: 'utf8' }).stdout.trim();
  if (out === 'none' || !out.startsWith('OpenBLAS') || !expected) return;
  assert.ok(out.split(' ').includes(expected), `OpenBLAS reports "${out}", expected the ${expected} kernels`);
});

test('Rng is deterministic, restorable and forkable', () => {
  const a = new Rng(42);
  const xs = [a.next(), a.next()];
  const saved = a.state();
  const ys = [a.next(), a.int(10), a.normal()];
  assert.deepEqual([new Rng(42).next(), new Rng(42).next()], [xs[0], xs[0]]);
  const b = new Rng(saved);
  assert.deepEqual([b.next(), b.int(10), b.normal()], ys);
  assert.notEqual(new Rng(42).fork('x').next(), new Rng(42).fork('y').next());
  assert.notEqual(new Rng(1).next(), new Rng(2).next());
});

/**
 * `npm run bench`: training and analysis speed of groundlab, each figure reported as a ratio against
 * references measured in the same run (never part of the test suite, never a pass/fail on a time):
 *   - hardware: numpy/OpenBLAS float32 GEMM (1 thread, and all threads)
 *   - engine ceiling: the active tfjs backend's 2-D matmul throughput at the model's own shapes
 *   - peer: the same models trained with PyTorch on the CPU, 1 thread and all threads
 *     (bench/torch_models.py in a bench-only virtualenv; skipped when absent)
 *   - backends: groundlab with the native kernels (1 thread and all threads) and on pure wasm
 *   - naive: the same model with stock tfjs ops and tfjs autodiff (`fused: false`)
 * Also the latency of the analyses on the quick Transformer run the notebooks share, when it exists,
 * with the native kernels and on pure wasm. Writes bench/results/latest.{md,json}.
 * Also one DAS fit (src/causal: a 2-layer Transformer of d 128, k 4; and a 1-layer GRU's recurrent state).
 * Also the binding analyses of one checkpoint of each binding run found (--no-binding, --binding-run DIR).
 * Options: --quick-only, --no-torch, --no-analysis, --no-das, --steps N, --profile, --run DIR (the analysed run).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, engineInfo } from '../src/engine';
import { loadNativeAddon, nativeKernelsActive, setNativeKernels } from '../src/engine/native';
import { createModel, modelPreset, type ModelConfig } from '../src/models';
import type { Arch, LanguageModel } from '../src/models/types';
import { ARCHS } from '../src/models/registry';
import { AdamW, clipByGlobalNorm } from '../src/train/optimizer';
import { TRAIN_PRESETS } from '../src/train/presets';
import { repoRoot } from '../src/lab/runs';
import { openRun } from '../src/train/run';
import { analyzeRun, evalRun, runEvalSet } from '../src/analysis/analyze';
import { saliency } from '../src/analysis/saliency';
import { ablationTest } from '../src/analysis/ablation';
import { evalSequences } from '../src/eval/evalset';
import { Rng } from '../src/engine/rng';
import { bindingRun } from '../src/analysis/binding';
import { entityBindingRun } from '../src/analysis/entitybinding';
import { bindingVariant } from '../src/data/binding';
import { countingTokenizer } from '../src/data/counting';
import { sampleCounterfactuals } from '../src/causal/programs';
import { encodePairs, fitDas, padIdOf, siteFor } from '../src/causal/das';

const ROOT = repoRoot();
const VOCAB = 256; // about the synthetic corpus's vocabulary size
const argv = process.argv.slice(2);
const flag = (k: string) => argv.includes(k);
const opt = (k: string, d: number) => {
  const i = argv.indexOf(k);
  return i >= 0 ? Number(argv[i + 1]) : d;
};

interface Row {
  [k: string]: string | number | undefined;
}
const results: Record<string, unknown> = {};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function findPython(module: string): string | undefined {
  for (const py of [path.join(ROOT, '.venv-bench/bin/python'), path.join(ROOT, '.venv/bin/python'), 'python3']) {
    const r = spawnSync(py, ['-c', `import ${module}`], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

function runPy(py: string, script: string, args: string[], env: Record<string, string> = {}): Record<string, unknown> | undefined {
  const r = spawnSync(py, [path.join(ROOT, 'bench', script), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
  if (r.status !== 0) {
    process.stderr.write(`bench: ${script} failed: ${r.stderr.slice(-500)}\n`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** GFLOP/s of the active backend for an [m, k] x [k, n] product (2-D, no transpose flags). */
function matmulGflops(m: number, k: number, n: number): number {
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  for (let i = 0; i < 3; i++) tf.matMul(a, b).dispose();
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const reps = Math.max(1, Math.round(2e8 / (2 * m * k * n)));
    const t0 = performance.now();
    // The wasm backend and the native kernels compute synchronously: no read-back (a copy) per product.
    for (let i = 0; i < reps; i++) tf.matMul(a, b).dispose();
    tf.matMul(a, b).dataSync();
    times.push((performance.now() - t0) / 1000 / reps);
  }
  a.dispose();
  b.dispose();
  return (2 * m * k * n) / median(times) / 1e9;
}

/** The matmul shapes of one Transformer forward pass ([m, k, n] with multiplicity). */
function transformerMatmuls(c: ModelConfig & { arch: 'transformer' }, batch: number, seq: number): Array<[number, number, number, number]> {
  const bt = batch * seq;
  return [
    [bt, c.dModel, 3 * c.dModel, c.nLayers],
    [bt, c.dModel, c.dModel, c.nLayers],
    [bt, c.dModel, c.dMlp, c.nLayers],
    [bt, c.dMlp, c.dModel, c.nLayers],
    [bt, c.dModel, c.vocabSize, 1],
  ];
}

/** Model FLOPs of one training step (3 x forward): the matmuls above plus QK^T and AV. */
function transformerStepFlops(c: ModelConfig & { arch: 'transformer' }, batch: number, seq: number): number {
  let fwd = 0;
  for (const [m, k, n, times] of transformerMatmuls(c, batch, seq)) fwd += 2 * m * k * n * times;
  fwd += c.nLayers * batch * 2 * 2 * seq * seq * c.dModel; // scores and weighted sum, full T x T
  return 3 * fwd;
}

interface StepTiming {
  secPerStep: number;
  tokensPerSec: number;
  /** CPU seconds of the process per step (median): less sensitive than wall time to other jobs on a shared machine. */
  cpuSecPerStep: number;
  peakBytes: number;
}

function makeStep(model: LanguageModel, batch: number, seq: number, seed: number) {
  const opt = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01 });
  const rng = new Rng(seed);
  const ids = new Int32Array(batch * (seq + 1));
  for (let i = 0; i < ids.length; i++) ids[i] = rng.int(model.config.vocabSize);
  const all = tf.tensor2d(ids, [batch, seq + 1], 'int32');
  const x = tf.slice(all, [0, 0], [batch, seq]) as tf.Tensor2D;
  const y = tf.slice(all, [0, 1], [batch, seq]) as tf.Tensor2D;
  all.dispose();
  const vars = [...model.params.values()];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), vars);
    const g = new Map(Object.entries(grads));
    const clipped = clipByGlobalNorm(g, 1.0);
    opt.apply(clipped.grads, 1e-3);
    value.dataSync();
    value.dispose();
    clipped.norm.dispose();
    for (const t of g.values()) t.dispose();
    for (const t of clipped.grads.values()) if (!t.isDisposed) t.dispose();
  };
  return { step, dispose: () => (x.dispose(), y.dispose()) };
}

/** How a variant runs: the native kernels with N threads, or pure wasm. */
type Mode = { native: false } | { native: true; threads: number };
const NATIVE1: Mode = { native: true, threads: 1 };
const ALL_CORES = os.cpus().length;

function setMode(m: Mode): void {
  if (m.native) setNativeKernels(true, m.threads);
  else setNativeKernels(false);
}

/**
 * Median step time of each variant of a model (e.g. fused and naive, native and wasm), their steps
 * interleaved so that every variant sees the same load on a shared machine (ratios stay fair when
 * the load moves).
 */
function timeTrainingVariants(arch: Arch, preset: 'tiny' | 'quick', variants: Array<Partial<ModelConfig> & { mode?: Mode }>, steps: number): StepTiming[] {
  const tp = TRAIN_PRESETS[preset].train;
  const runs = variants.map(({ mode, ...v }) => {
    const model = createModel(modelPreset(arch, preset, VOCAB, v), 0);
    return { model, mode: mode ?? NATIVE1, ...makeStep(model, tp.batchSize, tp.seqLen, 1), times: [] as number[], cpu: [] as number[], peak: 0 };
  });
  for (const r of runs) for (let i = 0; i < 2; i++) (setMode(r.mode), r.step());
  for (let i = 0; i < steps; i++) {
    for (const r of runs) {
      setMode(r.mode);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      r.step();
      r.times.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      r.cpu.push((c.user + c.system) / 1e6);
      r.peak = Math.max(r.peak, tf.memory().numBytes);
    }
  }
  setMode(NATIVE1);
  return runs.map((r) => {
    r.dispose();
    r.model.dispose();
    const s = median(r.times);
    return { secPerStep: s, tokensPerSec: (tp.batchSize * tp.seqLen) / s, cpuSecPerStep: median(r.cpu), peakBytes: r.peak };
  });
}

async function profileStep(): Promise<Row[]> {
  const tp = TRAIN_PRESETS.quick.train;
  const model = createModel(modelPreset('transformer', 'quick', VOCAB), 0);
  const { step, dispose } = makeStep(model, tp.batchSize, tp.seqLen, 1);
  step();
  const info = await tf.profile(() => step());
  dispose();
  model.dispose();
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    // Composite ops (customGrad scopes, fused wrappers) contain their kernels: count leaves only.
    if (k.name === 'unnamed scope' || k.name.endsWith('__op')) continue;
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.calls++;
    byName.set(k.name, e);
  }
  const total = [...byName.values()].reduce((a, b) => a + b.ms, 0);
  return [...byName.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 15)
    .map(([name, e]) => ({ kernel: name, calls: e.calls, ms: +e.ms.toFixed(1), share: `${((100 * e.ms) / total).toFixed(1)}%` }));
}

function table(rows: Row[]): string {
  if (!rows.length) return '(none)\n';
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))]; // rows may add columns (PyTorch at quick only)
  const fmt = (v: unknown) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)) : String(v ?? ''));
  return [`| ${keys.join(' | ')} |`, `|${keys.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${keys.map((k) => fmt(r[k])).join(' | ')} |`)].join('\n') + '\n';
}

/**
 * One DAS fit (issue 19): 200 steps of batch 32, k = 4, on 256 Up-Down count counterfactuals of
 * the counting task, at blocks.0.hook_resid_post of a 2-layer RoPE Transformer (d 128, seq <= 64)
 * and at the recurrent state of a 1-layer GRU (d 128). The models are freshly initialised: a fit's
 * cost does not depend on what the model learned.
 */
async function dasFitBench(): Promise<Row[]> {
  const tok = countingTokenizer({ task: 'multi', objectTypes: 3 });
  const pairs = encodePairs(
    sampleCounterfactuals({ program: 'up-down', variables: ['count'], task: 'multi', counts: Array.from({ length: 20 }, (_, i) => i + 1), n: 256, seed: 0 }),
    tok,
  );
  const rows: Row[] = [];
  for (const [what, cfg, site] of [
    ['Transformer, 2 layers, d 128, RoPE', modelPreset('transformer', 'quick', tok.vocabSize, { nLayers: 2, positional: 'rope' } as Partial<ModelConfig>), 'blocks.0.hook_resid_post'],
    ['GRU, 1 layer, d 128 (state inside the recurrence)', modelPreset('gru', 'quick', tok.vocabSize, { nLayers: 1 } as Partial<ModelConfig>), 'blocks.0.state'],
  ] as const) {
    const model = createModel(cfg, 0);
    const t = performance.now();
    const fit = await fitDas(siteFor(model, site), pairs, { k: 4, steps: 200, batchSize: 32, seed: 0, padId: padIdOf(tok) });
    const sec = (performance.now() - t) / 1000;
    model.dispose();
    rows.push({ model: what, site, k: 4, steps: fit.losses.length, pairs: pairs.length, seconds: sec, 'ms/step': (sec / fit.losses.length) * 1000 });
  }
  return rows;
}

/**
 * The binding analyses of one checkpoint (issue 20 asks for under a minute at quick): `groundlab
 * binding`'s defaults on a fresh copy of each binding run found (runs/bind-quick-4k: symbolic scenes,
 * runs/ent-quick: text entities, runs/bind-img-measure: patches; or --binding-run DIR), with the
 * process's CPU seconds and the load average beside the wall time (the machine may be shared).
 */
async function bindingBench(): Promise<Row[]> {
  const i = argv.indexOf('--binding-run');
  const dirs = i >= 0 ? [path.resolve(argv[i + 1])] : ['bind-quick-4k', 'ent-quick', 'bind-img-measure'].map((d) => path.join(ROOT, 'runs', d));
  const rows: Row[] = [];
  for (const dir of dirs.filter((d) => fs.existsSync(path.join(d, 'config.json')))) {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-bench-binding-'));
    fs.cpSync(dir, copy, { recursive: true });
    fs.rmSync(path.join(copy, 'analysis'), { recursive: true, force: true });
    const run = await openRun(copy);
    const variant = bindingVariant(run.config.corpus.knobs);
    const load = os.loadavg()[0];
    const c0 = process.cpuUsage();
    const t = performance.now();
    if (variant === 'entities') await entityBindingRun(run);
    else await bindingRun(run);
    const sec = (performance.now() - t) / 1000;
    const c = process.cpuUsage(c0);
    rows.push({ run: path.relative(ROOT, dir) || dir, variant, step: run.checkpoints[run.checkpoints.length - 1].step, seconds: sec, 'CPU seconds': (c.user + c.system) / 1e6, 'load average': load });
    fs.rmSync(copy, { recursive: true, force: true });
  }
  return rows;
}

async function main() {
  const t0 = Date.now();
  await initEngine();
  const info = engineInfo();
  const steps = opt('--steps', 5);
  const out: string[] = [];
  const meta = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.version,
    tfjs: tf.version_core,
    backend: `${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'}${info.simd ? ', SIMD' : ''})`,
    loadavg: os.loadavg()[0].toFixed(2),
  };
  results.meta = meta;
  out.push('# groundlab benchmark', '', ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`), `- command: npm run bench -- ${argv.join(' ')}`.trimEnd(), '');

  // 1. Hardware reference.
  const py = findPython('numpy');
  const gemm1 = py ? runPy(py, 'gemm.py', ['512'], { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' }) : undefined;
  const gemmAll = py ? runPy(py, 'gemm.py', ['512']) : undefined;
  const wasm512 = matmulGflops(512, 512, 512);
  results.gemm = { numpy1: gemm1, numpyAll: gemmAll, backend512: wasm512 };
  out.push('## References', '');
  out.push(
    table([
      { reference: `numpy sgemm 512^3, 1 thread`, gflops: (gemm1?.gflops as number) ?? 'skipped (no numpy)' },
      { reference: `numpy sgemm 512^3, all threads`, gflops: (gemmAll?.gflops as number) ?? 'skipped (no numpy)' },
      { reference: `tfjs ${info.backend} matMul 512^3`, gflops: wasm512 },
    ]),
  );

  // 2. The quick Transformer: native (1 thread, all threads), pure wasm and naive, interleaved;
  //    engine ceiling at its shapes; FLOP/s ratios; PyTorch with 1 thread and all threads.
  const native = !!loadNativeAddon() && nativeKernelsActive();
  const tp = TRAIN_PRESETS.quick.train;
  const qc = modelPreset('transformer', 'quick', VOCAB) as ModelConfig & { arch: 'transformer' };
  const shapes = transformerMatmuls(qc, tp.batchSize, tp.seqLen);
  let fl = 0;
  let secs = 0;
  const shapeRows: Row[] = [];
  for (const [m, k, n, times] of shapes) {
    const g = matmulGflops(m, k, n);
    shapeRows.push({ shape: `[${m},${k}]x[${k},${n}]`, per_step_fwd: times, gflops: g });
    fl += 2 * m * k * n * times;
    secs += (2 * m * k * n * times) / (g * 1e9);
  }
  const ceiling = fl / secs / 1e9; // FLOP-weighted throughput at the model's shapes
  const engineName = native ? 'native (BLAS, 1 thread)' : info.backend;
  out.push(`## Engine ceiling at the quick Transformer's shapes (batch ${tp.batchSize} x ${tp.seqLen})`, '', table(shapeRows));
  out.push(`FLOP-weighted ${engineName} matmul ceiling: **${ceiling.toFixed(1)} GFLOP/s**`, '');

  const torchPy = flag('--no-torch') ? undefined : findPython('torch');
  const torchFor = (arch: Arch, threads: number): Record<string, unknown> | undefined => {
    if (!torchPy || !['transformer', 'mamba2', 'lstm'].includes(arch)) return undefined;
    const c = modelPreset(arch, 'quick', VOCAB) as unknown as Record<string, number | boolean>;
    const cfg = {
      arch, vocab: VOCAB, ctx: c.contextLength, d: c.dModel, layers: c.nLayers, heads: c.nHeads, dmlp: c.dMlp, d_state: c.dState, head_dim: c.headDim,
      residual: c.residual ?? false, batch: tp.batchSize, seq: tp.seqLen, warmup: 2, steps: Math.max(steps, 5), threads,
    };
    return runPy(torchPy, 'torch_models.py', [JSON.stringify(cfg)]);
  };
  const modes: Array<{ label: string; mode: Mode }> = native
    ? [{ label: 'groundlab, native kernels, 1 thread (default)', mode: NATIVE1 }, { label: `groundlab, native kernels, ${ALL_CORES} threads`, mode: { native: true, threads: ALL_CORES } }, { label: 'groundlab, pure wasm (GROUNDLAB_BACKEND=wasm)', mode: { native: false } }]
    : [{ label: `groundlab, ${info.backend} (native kernels not built)`, mode: { native: false } }];
  // The naive baseline keeps its meaning from before the native kernels: stock ops and autodiff on pure wasm.
  const timings = timeTrainingVariants('transformer', 'quick', [...modes.map((m) => ({ fused: true, mode: m.mode })), { fused: false, mode: { native: false } }], steps);
  const fused = timings[0];
  const naive = timings[timings.length - 1];
  const allCores = native ? timings[1] : fused;
  const wasm = timings[modes.length - 1];
  const stepFlops = transformerStepFlops(qc, tp.batchSize, tp.seqLen);
  const achieved = stepFlops / fused.secPerStep / 1e9;
  const torch1 = torchFor('transformer', 1);
  const torchAll = torchFor('transformer', ALL_CORES);
  const gf = (sec: number) => stepFlops / sec / 1e9;
  const q: Row[] = modes.map((m, i) => ({ what: m.label, 'ms/step': timings[i].secPerStep * 1000, 'CPU ms/step': timings[i].cpuSecPerStep * 1000, 'tokens/s': timings[i].tokensPerSec, 'model GFLOP/s': gf(timings[i].secPerStep) }));
  q.push({ what: 'naive: stock tfjs ops + autodiff, pure wasm', 'ms/step': naive.secPerStep * 1000, 'CPU ms/step': naive.cpuSecPerStep * 1000, 'tokens/s': naive.tokensPerSec, 'model GFLOP/s': gf(naive.secPerStep) });
  const torchRow = (label: string, r: Record<string, unknown>) => ({ what: label, 'ms/step': (r.sec_per_step as number) * 1000, 'CPU ms/step': (r.cpu_sec_per_step as number) * 1000, 'tokens/s': r.tokens_per_sec as number, 'model GFLOP/s': gf(r.sec_per_step as number) });
  if (torch1) q.push(torchRow(`PyTorch ${torch1.torch} CPU, 1 thread`, torch1));
  if (torchAll) q.push(torchRow(`PyTorch CPU, ${torchAll.threads} threads`, torchAll));
  out.push(`## Training the quick Transformer (${(stepFlops / 1e9).toFixed(2)} GFLOP per step, median of ${steps} steps, groundlab variants interleaved)`, '', table(q));
  const noTorch = torchPy ? 'failed' : 'skipped (no torch: bash bench/setup.sh)';
  const ratios: Row[] = [
    { ratio: 'tokens/s / PyTorch, 1 thread each', value: torch1 ? fused.tokensPerSec / (torch1.tokens_per_sec as number) : noTorch, target: '>= 0.5' },
    { ratio: 'the same from CPU time per step (1 thread each)', value: torch1 ? (torch1.cpu_sec_per_step as number) / fused.cpuSecPerStep : noTorch, target: '' },
    { ratio: `tokens/s / PyTorch, all ${ALL_CORES} cores each`, value: torchAll ? Math.max(fused.tokensPerSec, allCores.tokensPerSec) / (torchAll.tokens_per_sec as number) : noTorch, target: '>= 0.5' },
    { ratio: 'native / pure wasm (speed-up)', value: native ? wasm.secPerStep / fused.secPerStep : 'n/a', target: '' },
    { ratio: 'groundlab default / naive (speed-up)', value: naive.secPerStep / fused.secPerStep, target: '>= 6' },
    { ratio: 'model FLOP/s / matmul ceiling at the model\'s shapes', value: achieved / ceiling, target: '' },
    { ratio: 'model FLOP/s / numpy sgemm (1 thread)', value: gemm1 ? achieved / (gemm1.gflops as number) : 'n/a', target: '' },
  ];
  out.push('### Ratios', '', table(ratios));
  results.quickTransformer = { timings, modes: modes.map((m) => m.label), stepFlops, achieved, ceiling, torch1, torchAll, ratios };

  // 3. Every architecture at tiny and quick: native 1 thread / all threads / pure wasm, and PyTorch at quick.
  if (!flag('--quick-only')) {
    const rows: Row[] = [];
    for (const arch of ARCHS) {
      for (const preset of ['tiny', 'quick'] as const) {
        const n = preset === 'tiny' ? 10 : Math.max(3, Math.ceil(steps / 2));
        const ts = arch === 'transformer' && preset === 'quick' ? timings.slice(0, modes.length) : timeTrainingVariants(arch, preset, modes.map((m) => ({ mode: m.mode })), n);
        const t = TRAIN_PRESETS[preset].train;
        const row: Row = { arch, preset, batch: `${t.batchSize}x${t.seqLen}` };
        modes.forEach((m, i) => (row[native ? ['native 1 thr tok/s', `native ${ALL_CORES} thr tok/s`, 'wasm tok/s'][i] : 'tok/s'] = ts[i].tokensPerSec));
        if (preset === 'quick') {
          const t1 = arch === 'transformer' ? torch1 : torchFor(arch, 1);
          const tAll = arch === 'transformer' ? torchAll : torchFor(arch, ALL_CORES);
          row['PyTorch 1 thr tok/s'] = (t1?.tokens_per_sec as number) ?? 'n/a';
          row[`PyTorch ${ALL_CORES} thr tok/s`] = (tAll?.tokens_per_sec as number) ?? 'n/a';
          row['ratio 1 thr'] = t1 ? ts[0].tokensPerSec / (t1.tokens_per_sec as number) : 'n/a';
          row['ratio 1 thr, CPU time'] = t1 ? (t1.cpu_sec_per_step as number) / ts[0].cpuSecPerStep : 'n/a';
          row['ratio all cores'] = tAll ? Math.max(ts[0].tokensPerSec, ts[native ? 1 : 0].tokensPerSec) / (tAll.tokens_per_sec as number) : 'n/a';
        }
        row['peak tensor MiB'] = ts[0].peakBytes / 2 ** 20;
        rows.push(row);
      }
    }
    out.push('## Training throughput per architecture (tokens/s; ratios: groundlab / PyTorch with the same model, batch, sequence, AdamW + clipping)', '', table(rows));
    results.archs = rows;
  }

  // 4. Analysis latency on a trained quick Transformer (the run the notebooks share), when it exists:
  //    with the native kernels and on pure wasm, each on a fresh copy of the run.
  const runArg = argv.indexOf('--run');
  const quickRun = runArg >= 0 ? path.resolve(argv[runArg + 1]) : path.join(ROOT, 'runs', 'reproduce-quick', 'main', 'transformer_s0');
  if (fs.existsSync(path.join(quickRun, 'config.json')) && !flag('--no-analysis')) {
    const rows: Row[] = [];
    const latency: Record<string, Record<string, number>> = {};
    for (const m of native ? [modes[0], modes[modes.length - 1]] : modes) {
      setMode(m.mode);
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-bench-run-'));
      fs.cpSync(quickRun, copy, { recursive: true });
      for (const sub of ['analysis', 'lens', 'eval']) fs.rmSync(path.join(copy, sub), { recursive: true, force: true });
      const run = await openRun(copy);
      const step = run.checkpoints[run.checkpoints.length - 1].step;
      const rss0 = process.memoryUsage().rss;
      let t = performance.now();
      await evalRun(run);
      const evalSec = (performance.now() - t) / 1000;
      const all = await analyzeRun(run, { checkpoints: [step] });
      const model = await run.loadModel(step);
      const seqs = evalSequences(await runEvalSet(run), run.tokenizer);
      const match = seqs.filter((s) => s.condition === 'match');
      t = performance.now();
      await saliency(model, [match[0]], { keepMaps: true });
      const salSec = (performance.now() - t) / 1000;
      t = performance.now();
      await ablationTest(model, match, [{ layer: 0, head: 0 }], { draws: 10 });
      const ablSec = (performance.now() - t) / 1000;
      model.dispose();
      const label = m.mode.native ? 'native' : 'wasm';
      latency[label] = { evalRun: evalSec, all: all.seconds, saliency: salSec, ablation: ablSec, ...all.timings };
      rows.push(
        { backend: label, what: `evalRun over all ${run.checkpoints.length} checkpoints`, seconds: evalSec },
        { backend: label, what: `all measures, one checkpoint (step ${step}), whole evaluation set (${seqs.length} sequences)`, seconds: all.seconds },
        ...Object.entries(all.timings).map(([k, v]) => ({ backend: label, what: `  of which ${k}`, seconds: v })),
        { backend: label, what: 'saliency of every head for one sequence', seconds: salSec },
        { backend: label, what: `one ablation test (1 head vs 10 control draws, ${match.length} contexts)`, seconds: ablSec },
        { backend: label, what: 'RSS growth (MiB)', seconds: (process.memoryUsage().rss - rss0) / 2 ** 20 },
      );
      fs.rmSync(copy, { recursive: true, force: true });
    }
    setMode(NATIVE1);
    if (latency.native && latency.wasm) {
      rows.push(
        { backend: 'wasm / native', what: 'speed-up of evalRun', seconds: latency.wasm.evalRun / latency.native.evalRun },
        { backend: 'wasm / native', what: 'speed-up of all measures of one checkpoint', seconds: latency.wasm.all / latency.native.all },
      );
    }
    out.push(`## Analysis latency (quick Transformer, ${path.relative(ROOT, quickRun) || quickRun})`, '', table(rows));
    results.analysis = { rows, latency };
  } else {
    out.push('## Analysis latency', '', `skipped: no quick run at ${path.relative(ROOT, quickRun)} (bash scripts/lab.sh or groundlab reproduce --preset quick --only main makes it; or --run DIR)`, '');
  }

  if (!flag('--no-das')) {
    const das = await dasFitBench();
    out.push('## One DAS fit (200 steps, batch 32, k = 4, 256 counterfactual pairs)', '', table(das));
    results.das = das;
  }

  if (!flag('--no-binding')) {
    const rows = await bindingBench();
    if (rows.length) out.push("## Binding analyses of one checkpoint (`groundlab binding`'s defaults)", '', table(rows));
    results.binding = rows;
  }

  if (flag('--profile')) {
    const prof = await profileStep();
    out.push('## Where one quick Transformer training step spends its time (tf.profile, kernel time)', '', table(prof));
    results.profile = prof;
  }

  const rss = process.memoryUsage().rss;
  out.push(`Peak-ish process RSS at the end: ${(rss / 2 ** 20).toFixed(0)} MiB. Total bench wall time: ${((Date.now() - t0) / 1000).toFixed(0)} s.`, '');
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.md'), out.join('\n'));
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(results, null, 2));
  process.stdout.write(out.join('\n') + `\nwritten: bench/results/latest.md, latest.json\n`);
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});

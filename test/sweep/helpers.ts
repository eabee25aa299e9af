/**
 * Test fixtures for sweeps: a fake trainer (a small Node script that behaves like `groundlab train`
 * for a sweep: writes config.json, checkpoints progressively, resumes from its last checkpoint,
 * stops cleanly on SIGINT, writes metrics/train.arrow) and a fake analysis writing analysis/gain.arrow.
 * Their numbers are deterministic functions of the flags, and the loss is a recurrence over steps, so
 * a resume that lost or repeated a step would change the final numbers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const TRAIN = `
'use strict';
let stop = false;
process.on('SIGINT', () => { stop = true; });
const fs = require('fs');
const path = require('path');
const aq = require(${JSON.stringify(require.resolve('arquero'))});
const args = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (!a.startsWith('--')) continue;
  if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) { args[a.slice(2)] = argv[++i]; } else args[a.slice(2)] = true;
}
const out = args.out;
const steps = Number(args.steps || 20);
const seed = Number(args.seed || 0);
const arch = String(args.arch || 'transformer');
const delay = Number(args['delay-ms'] || process.env.FAKE_DELAY_MS || 20);
const every = Number(args['ckpt-every'] || 5);
if (args['fail'] === 'always') { console.error('fake-train: failing on purpose'); process.exit(3); }
function h(...xs) { let v = 2166136261; for (const x of xs) { for (const c of String(x)) { v ^= c.charCodeAt(0); v = Math.imul(v, 16777619) >>> 0; } v ^= 0x9e; v = Math.imul(v, 16777619) >>> 0; } return v / 4294967296; }
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ arch, seed, steps, preset: args.preset || null, noise: args.noise || null }));
let step = 0; let loss = 5 + h(arch, seed); let rows = [];
const ck = path.join(out, 'checkpoints');
if (fs.existsSync(ck)) {
  const last = fs.readdirSync(ck).filter((n) => /^step-\\d+$/.test(n)).sort().pop();
  if (last) { const s = JSON.parse(fs.readFileSync(path.join(ck, last, 'state.json'), 'utf8')); step = s.step; loss = s.loss; rows = s.rows; console.log('fake-train: resuming from step ' + step); }
}
function save() {
  const dir = path.join(ck, 'step-' + String(step).padStart(6, '0'));
  const tmp = dir + '.tmp';
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify({ step, loss, rows }));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}
function tick() {
  if (stop) { save(); console.log('fake-train: stopped at step ' + step); process.exit(130); }
  if (step >= steps) {
    fs.mkdirSync(path.join(out, 'metrics'), { recursive: true });
    const t = aq.table({ step: rows.map((r) => r.step), loss: rows.map((r) => r.loss), tokens_per_sec: rows.map(() => 1000 + Math.random()) });
    fs.writeFileSync(path.join(out, 'metrics', 'train.arrow.tmp'), aq.toArrowIPC(t));
    fs.renameSync(path.join(out, 'metrics', 'train.arrow.tmp'), path.join(out, 'metrics', 'train.arrow'));
    console.log('fake-train: done, loss ' + loss);
    process.exit(0);
  }
  step++;
  loss = loss * 0.97 + 0.05 * h(arch, seed, step) + (args.noise ? Number(args.noise) * 0.01 : 0);
  rows.push({ step, loss });
  if (step % every === 0 || step === steps) save();
  setTimeout(tick, delay);
}
tick();
`;

const ANALYZE = `
'use strict';
const fs = require('fs');
const path = require('path');
const aq = require(${JSON.stringify(require.resolve('arquero'))});
const out = process.argv[2];
const ck = path.join(out, 'checkpoints');
const cols = { step: [], noun: [], gain: [] };
for (const n of fs.readdirSync(ck).filter((n) => /^step-\\d+$/.test(n)).sort()) {
  const s = JSON.parse(fs.readFileSync(path.join(ck, n, 'state.json'), 'utf8'));
  ['ball', 'cup', 'dog'].forEach((noun, i) => { cols.step.push(s.step); cols.noun.push(noun); cols.gain.push((5.5 - s.loss) * (i + 1)); });
}
fs.mkdirSync(path.join(out, 'analysis'), { recursive: true });
fs.writeFileSync(path.join(out, 'analysis', 'gain.arrow'), aq.toArrowIPC(aq.table(cols)));
console.log('fake-analyze: ' + cols.step.length + ' rows');
`;

export interface Fixture {
  dir: string;
  train: string;
  analyze: string;
  cleanup(): void;
}

export function makeFixture(prefix = 'gl-sweep-'): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const train = path.join(dir, 'fake-train.js');
  const analyze = path.join(dir, 'fake-analyze.js');
  fs.writeFileSync(train, TRAIN);
  fs.writeFileSync(analyze, ANALYZE);
  return { dir, train, analyze, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A spec object for the fake trainer. */
export function fakeSpec(fx: Fixture, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'fake',
    grid: { arch: ['transformer', 'mamba2', 'lstm'], seed: [1, 2] },
    train: { steps: 20 },
    command: ['{node}', fx.train],
    analyses: [{ name: 'gain', command: ['{node}', fx.analyze, '{out}'] }],
    ...extra,
  };
}

export function writeSpec(fx: Fixture, spec: Record<string, unknown>, name = 'fake.json'): string {
  const f = path.join(fx.dir, name);
  fs.writeFileSync(f, JSON.stringify(spec, null, 2));
  return f;
}

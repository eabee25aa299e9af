import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GroundlabError } from '../../src/errors';
import { expandCells, flagsToArgv, readSpec, specFromFlags, validateSpec } from '../../src/sweep';

const spec = (raw: unknown) => validateSpec(raw, { file: '/x/s.json', dir: '/x' });
const bad = (raw: unknown, re: RegExp) =>
  assert.throws(
    () => spec(raw),
    (e: unknown) => e instanceof GroundlabError && e.code === 'BAD_CONFIG' && e.message.startsWith('/x/s.json: ') && re.test(e.message),
  );

test('cells: cartesian product, seed fastest and last in deterministic names', () => {
  const s = spec({ name: 'g', grid: { seed: [1, 2], arch: ['transformer', 'lstm'], preset: ['tiny'], noise: [0, 0.3] }, train: { steps: 50 } });
  const cells = expandCells(s);
  assert.equal(cells.length, 8);
  assert.deepEqual(
    cells.map((c) => c.name),
    [
      'transformer_tiny_noise0_s1',
      'transformer_tiny_noise0_s2',
      'transformer_tiny_noise0.3_s1',
      'transformer_tiny_noise0.3_s2',
      'lstm_tiny_noise0_s1',
      'lstm_tiny_noise0_s2',
      'lstm_tiny_noise0.3_s1',
      'lstm_tiny_noise0.3_s2',
    ],
  );
  assert.deepEqual(cells.map((c) => c.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(cells[2].flags, { steps: 50, arch: 'transformer', preset: 'tiny', noise: 0.3, seed: 1 });
  assert.deepEqual(expandCells(s).map((c) => c.name), cells.map((c) => c.name), 'same names every time');
  assert.equal(s.out, '/x/g');
  assert.deepEqual(flagsToArgv({ steps: 5, arch: 'lstm', fast: true, log: false }), ['--steps', '5', '--arch', 'lstm', '--fast', '--no-log']);
});

test('errors name the file and the field', () => {
  bad([], /a sweep spec must be a JSON object/);
  bad({ grid: { seed: [1] }, gird: 1 }, /field "gird": unknown field/);
  bad({}, /field "grid": expected an object of axes/);
  bad({ grid: {} }, /field "grid": no axes/);
  bad({ grid: { seed: [] } }, /field "grid.seed": an axis needs at least one value/);
  bad({ grid: { seed: [1, 1.5] } }, /field "grid.seed\[1\]": a seed is a whole number/);
  bad({ grid: { arch: ['a', { x: 1 }] } }, /field "grid.arch\[1\]": expected a string, number or boolean/);
  bad({ grid: { arch: ['a', 'a'] } }, /field "grid.arch": a value appears twice/);
  bad({ grid: { 'bad key': [1] } }, /field "grid.bad key": "bad key" is not a flag name/);
  bad({ grid: { seed: [1] }, train: { seed: 3 } }, /field "train.seed": "seed" is also an axis/);
  bad({ grid: { seed: [1] }, train: { out: 'x' } }, /field "train.out"/);
  bad({ grid: { seed: [1] }, analyses: 'analyze' }, /field "analyses": expected a list/);
  bad({ grid: { seed: [1] }, analyses: [{ name: 'a', cmd: [] }] }, /field "analyses\[0\].cmd": unknown field/);
  bad({ grid: { seed: [1] }, analyses: ['analyze', 'analyze'] }, /two analyses are named "analyze"/);
  bad({ grid: { seed: [1] }, command: [] }, /field "command": expected a non-empty list/);
  bad({ name: 'a b', grid: { seed: [1] } }, /field "name"/);
  assert.throws(
    () => expandCells(spec({ grid: { corpus: ['a/b', 'a-b'] } })),
    (e: unknown) => e instanceof GroundlabError && /field "grid": cells 0 and 1 would share the folder name "a-b"/.test(e.message),
  );
});

test('readSpec: JSON syntax errors carry the line; analyses forms; out relative to the spec', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-spec-'));
  try {
    const f = path.join(dir, 'noise.json');
    fs.writeFileSync(f, '{\n  "grid": { "seed": [1, 2] },\n  "train": { "steps": 10, }\n}\n');
    assert.throws(() => readSpec(f), (e: unknown) => e instanceof GroundlabError && e.code === 'PARSE' && e.file === f && e.line === 3);
    fs.writeFileSync(f, JSON.stringify({ grid: { seed: [1] }, out: 'runs/n', analyses: ['analyze --only gain', { name: 'probe', args: ['--hook', 'x'] }, { name: 'custom', command: ['{node}', 'a.js', '{out}'] }] }));
    const s = readSpec(f);
    assert.equal(s.name, 'noise');
    assert.equal(s.out, path.join(dir, 'runs/n'));
    assert.deepEqual(s.analyses, [
      { name: 'analyze', args: ['--only', 'gain'] },
      { name: 'probe', args: ['--hook', 'x'], command: undefined },
      { name: 'custom', args: undefined, command: ['{node}', 'a.js', '{out}'] },
    ]);
    assert.throws(() => readSpec(path.join(dir, 'missing.json')), (e: unknown) => e instanceof GroundlabError && e.code === 'NOT_FOUND');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('specFromFlags builds the same kind of grid', () => {
  const s = specFromFlags({ out: '/tmp/sw', arch: ['transformer', 'mamba2'], preset: ['tiny'], seeds: [3, 4], steps: 20, analyses: ['analyze'] });
  assert.deepEqual(expandCells(s).map((c) => c.name), ['transformer_tiny_s3', 'transformer_tiny_s4', 'mamba2_tiny_s3', 'mamba2_tiny_s4']);
  assert.equal(s.out, '/tmp/sw');
  assert.deepEqual(s.train, { steps: 20 });
});

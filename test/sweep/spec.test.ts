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
  // a custom trainer command: its flags are its own (`noise`), not checked against `groundlab train`
  const s = spec({ name: 'g', grid: { seed: [1, 2], arch: ['transformer', 'lstm'], preset: ['tiny'], noise: [0, 0.3] }, train: { steps: 50 }, command: ['{node}', 'fake-train.js'] });
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
  bad(JSON.parse('{"grid": {"seed": [9007199254740993]}}'), /field "grid.seed\[0\]": a seed is at most 2\^53 - 1/);
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
  // a misspelt field, axis or train flag is refused at once with the nearest valid name
  bad({ grid: { seed: [1] }, analyses: [], trian: {} }, /field "trian": unknown field[\s\S]*did you mean "train"\?/);
  bad({ grid: { sed: [1, 2] } }, /field "grid.sed": "sed" is not a `groundlab train` option[\s\S]*did you mean "seed"\?/);
  bad({ grid: { seed: [1] }, train: { step: 300 } }, /field "train.step": "step" is not a `groundlab train` option[\s\S]*did you mean "steps"\?/);
  bad({ grid: { seed: [1] }, analyses: [{ name: 'a', comand: [] }] }, /did you mean "command"\?/);
  // values are checked per cell the way `groundlab train` will check them, before any cell runs
  const badCells = (raw: unknown, re: RegExp) =>
    assert.throws(() => expandCells(spec(raw)), (e: unknown) => e instanceof GroundlabError && e.code === 'BAD_CONFIG' && e.message.startsWith('/x/s.json: ') && re.test(e.message));
  badCells({ grid: { arch: ['transformer', 'lstm'], model: ['nLayers=3', 'nlayers=3'] } }, /cell transformer_nlayers=3: unknown transformer model config field "nlayers"[\s\S]*did you mean "nLayers"\?/);
  badCells({ grid: { arch: ['lstm'], model: ['residual=true', 'nHeads=2'] } }, /cell lstm_nHeads=2: unknown lstm model config field "nHeads"/);
  badCells({ grid: { knob: ['pUnnamed=0.3', 'pUnamed=0.3'] } }, /cell pUnamed=0.3: unknown synthetic knob "pUnamed"[\s\S]*did you mean "pUnnamed"\?/);
  badCells({ grid: { knob: ['pUnnamed=3'] } }, /knob pUnnamed = 3: expected a number from 0 to 1/);
  badCells({ grid: { seed: [1] }, train: { steps: 'many' } }, /cell s1: --steps "many": expected a number/);
  badCells({ grid: { arch: ['transformer', 'rnn'] } }, /cell rnn: --arch "rnn": expected one of/);
  badCells({ grid: { seed: [1] }, train: { 'corpus-kind': 'chat', knob: 'retracing=sometimes' } }, /CHAT option retracing=sometimes/);
  assert.equal(expandCells(spec({ grid: { arch: ['transformer', 'lstm'], model: ['nLayers=3'], knob: ['pUnnamed=0.3,vocabMinCount=2'], seed: [1, 2] } })).length, 4, 'good values pass');
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

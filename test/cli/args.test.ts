import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, helpText, type CommandSpec } from '../../src/cli/args';
import { GroundlabError } from '../../src/errors';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'a demo',
  positionals: [{ name: 'run', help: 'run dir' }],
  options: {
    steps: { type: 'int', help: 'steps', default: 10 },
    arch: { type: 'string', help: 'arch', choices: ['a', 'b'], default: 'a' },
    fast: { type: 'boolean', help: 'fast' },
    only: { type: 'list', help: 'only' },
  },
};

test('parses typed options, defaults and positionals', () => {
  const p = parseArgs(spec, ['r1', '--steps', '5', '--arch=b', '--fast', '--only', 'x,y']);
  assert.deepEqual(p.positionals, ['r1']);
  assert.deepEqual(p.options, { steps: 5, arch: 'b', fast: true, only: ['x', 'y'] });
});

test('bad arguments are GroundlabErrors naming the argument', () => {
  const bad = (argv: string[], re: RegExp) =>
    assert.throws(() => parseArgs(spec, argv), (e: unknown) => e instanceof GroundlabError && re.test(e.message));
  bad(['r', '--steps', 'many'], /--steps "many": expected a number/);
  bad(['r', '--steps', '1.5'], /whole number/);
  bad(['r', '--arch', 'c'], /expected one of a, b/);
  bad(['r', '--stepz', '3'], /unknown option --stepz[\s\S]*--steps/);
  bad([], /missing argument <run>/);
  bad(['r', '--steps'], /--steps needs a value/);
});

test('help lists every option', () => {
  const h = helpText(spec);
  for (const k of ['--steps', '--arch <a|b>', '--fast', '--only', '--help']) assert.ok(h.includes(k), k);
});

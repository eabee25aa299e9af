import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers';

test('every command listed by groundlab --help exists and has --help', async () => {
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  const names = [...top.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
  assert.ok(names.length >= 9, top.stdout);
  for (const name of names) {
    const r = await runCli([name, '--help']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`groundlab ${name}`));
  }
});

test('an unknown command is a clear error with the way to the list', async () => {
  const r = await runCli(['trian']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown command "trian"[\s\S]*groundlab --help/);
});

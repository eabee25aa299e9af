import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../src/lab/runs';
import { runCli } from './helpers';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cli-import-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const FIXTURE = path.join(repoRoot(), 'test', 'fixtures', 'hf-gpt2-tiny'); // also from dist/test

test('groundlab import turns the committed Hugging Face GPT-2 fixture into a run that groundlab runs lists; bad input gives clear errors', async () => {
  const help = await runCli(['import', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--format <hf-gpt2>/);
  const out = path.join(root, 'imported');
  const r = await runCli(['import', '--format', 'hf-gpt2', FIXTURE, '--out', out, '--preset', 'tiny']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tokenizer\s+hf BPE/);
  assert.match(r.stdout, /corpus\s+synthetic simple/);
  assert.match(r.stdout, /next\s+groundlab eval/);
  const runs = await runCli(['runs', root]);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, /imported/);
  const fail = async (argv: string[], re: RegExp) => {
    const x = await runCli(argv);
    assert.equal(x.code, 1, argv.join(' '));
    assert.match(x.stderr, re, argv.join(' '));
  };
  await fail(['import', FIXTURE], /BAD_ARGUMENT.*--out is required/);
  await fail(['import', FIXTURE, '--out', out], /already exists/);
  await fail(['import', path.join(root, 'none'), '--out', path.join(root, 'x')], /NOT_FOUND.*is not a folder/);
  await fail(['import', '--format', 'onnx', FIXTURE, '--out', path.join(root, 'y')], /expected one of hf-gpt2/);
});

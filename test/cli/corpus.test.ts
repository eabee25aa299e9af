import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './helpers';

const FIX = path.join(__dirname, '..', 'data', 'fixtures');
const fixtures = fs.existsSync(FIX) ? FIX : path.join(__dirname, '..', '..', '..', 'test', 'data', 'fixtures');

const run = async (argv: string[]) => {
  const r = await runCli(argv);
  return { rc: r.code, out: r.stdout, err: r.stderr };
};

test('corpus --help and each subcommand --help', async () => {
  const h = await run(['corpus', '--help']);
  assert.equal(h.rc, 0);
  assert.match(h.out, /generate/);
  assert.match(h.out, /import/);
  assert.match(h.out, /stats/);
  for (const sub of ['generate', 'import', 'stats']) {
    const r = await run(['corpus', sub, '--help']);
    assert.equal(r.rc, 0);
    assert.match(r.out, new RegExp(`usage: groundlab corpus ${sub}`));
  }
  const bad = await run(['corpus', 'explode']);
  assert.equal(bad.rc, 1);
  assert.match(bad.err, /unknown subcommand/);
});

test('corpus generate: prints stats, writes the corpus and its stats; same seed, same bytes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cli-corpus-'));
  try {
    const a = path.join(dir, 'a.jsonl');
    const b = path.join(dir, 'b.jsonl');
    const r = await run(['corpus', 'generate', '--knob', 'episodes=300,nouns=10', '--seed', '5', '--out', a, '--show', '1', '--per-noun']);
    assert.equal(r.rc, 0, r.err);
    assert.match(r.out, /episodes 300/);
    assert.match(r.out, /passing the filter/);
    assert.match(r.out, /^syn-5-0: <[A-Z]+>/m);
    await run(['corpus', 'generate', '--knob', 'episodes=300,nouns=10', '--seed', '5', '--out', b]);
    assert.equal(fs.readFileSync(a, 'utf8'), fs.readFileSync(b, 'utf8'));
    const st = JSON.parse(fs.readFileSync(path.join(dir, 'a.stats.json'), 'utf8'));
    assert.equal(st.episodes, 300);
    assert.equal(st.nouns.length, 10);
    const csv = fs.readFileSync(path.join(dir, 'a.stats.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 11);
    assert.equal(csv[0], 'noun,env,lan,cooc,envFollowed,pass');
    const s = await run(['corpus', 'stats', a, '--json']);
    assert.equal(s.rc, 0, s.err);
    assert.equal(JSON.parse(s.out).tokens, st.tokens);
    const bad = await run(['corpus', 'generate', '--knob', 'pUnnamed=7']);
    assert.equal(bad.rc, 1);
    assert.match(bad.err, /pUnnamed/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('corpus import: a tree of transcripts; bad input stops with nothing written unless --skip-bad', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cli-import-'));
  try {
    const ok = path.join(dir, 'tree.jsonl');
    const r = await run(['corpus', 'import', path.join(fixtures, 'tree'), '--out', ok]);
    assert.equal(r.rc, 0, r.err);
    assert.match(r.out, /episodes 2/);
    assert.ok(fs.existsSync(ok));
    assert.ok(fs.existsSync(path.join(dir, 'tree.stats.json')));
    const badOut = path.join(dir, 'all.jsonl');
    const bad = await run(['corpus', 'import', fixtures, '--out', badOut]);
    assert.equal(bad.rc, 1);
    assert.match(bad.err, /\.cha:\d+: /);
    assert.ok(!fs.existsSync(badOut));
    const skip = await run(['corpus', 'import', fixtures, '--out', badOut, '--skip-bad']);
    assert.equal(skip.rc, 0, skip.err);
    assert.match(skip.err, /6 skipped/);
    assert.ok(fs.existsSync(badOut));
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    const e = await run(['corpus', 'import', empty, '--out', path.join(dir, 'e.jsonl')]);
    assert.equal(e.rc, 1);
    assert.match(e.err, /no \.cha files/);
    assert.ok(!fs.existsSync(path.join(dir, 'e.jsonl')));
    const opt = await run(['corpus', 'import', path.join(fixtures, 'constructs.cha'), '--option', 'retracing=sometimes']);
    assert.equal(opt.rc, 1);
    assert.match(opt.err, /retracing/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

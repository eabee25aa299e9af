/**
 * Import of Hugging Face GPT-2 folders and the tokenizer files of an export, against Hugging Face
 * itself. Where PyTorch, transformers and tokenizers are importable (bench/setup.sh's .venv-bench,
 * or GROUNDLAB_PYTHON; GROUNDLAB_PYTHON=none acts as CI), the fixture is built afresh by test/fixtures/hf-gpt2-tiny/hf_fixture.py
 * from the current corpus's words and the export is loaded by AutoTokenizer; elsewhere (CI's
 * .venv has no torch) the committed fixture, made by the same script, is used and only the live
 * Python checks are skipped, with a message.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../src/lab/runs';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine';
import { isGroundlabError } from '../../src/errors';
import { prepareData, SPECIAL_TOKENS, type Episode } from '../../src/data';
import { train } from '../../src/train/trainer';
import { openRun } from '../../src/train/run';
import { exportHfGpt2 } from '../../src/io/hf-gpt2';
import { importHfGpt2 } from '../../src/io/hf-import';
import { HfTokenizer } from '../../src/io/hf-tokenizer';
import { analyzeRun, evalRun } from '../../src/analysis/analyze';
import { circuitsRun } from '../../src/analysis/circuits';
import { inspectorData, timelineData } from '../../src/analysis/inspect';
import { probeSweep } from '../../src/probe/sweep';

const FIXTURE = path.join(repoRoot(), 'test', 'fixtures', 'hf-gpt2-tiny'); // also from dist/test
const SCRIPT = path.join(FIXTURE, 'hf_fixture.py');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-hfimp-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A Python with torch, transformers and tokenizers, or why there is none. */
function findPython(): { python?: string; why: string } {
  if (process.env.GROUNDLAB_PYTHON === 'none') return { why: 'GROUNDLAB_PYTHON=none' };
  const cands = [process.env.GROUNDLAB_PYTHON, path.join(repoRoot(), '.venv-bench', 'bin', 'python')].filter(
    (p): p is string => !!p && fs.existsSync(p),
  );
  for (const p of cands) {
    const r = spawnSync(p, ['-c', 'import torch, transformers, tokenizers'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return { python: p, why: '' };
  }
  return {
    why: `no Python with torch + transformers + tokenizers (looked at ${cands.join(', ') || 'GROUNDLAB_PYTHON and .venv-bench'}; bash bench/setup.sh makes one)`,
  };
}
const PY = findPython();

/** The words of the evaluation corpus (synthetic simple), split as the fixture script wants them. */
async function corpusWords(): Promise<{ words: string[]; added: string[] }> {
  const d = await prepareData({ kind: 'synthetic', setting: 'simple', seed: 0 }, { seqLen: 32 });
  const all = Array.from({ length: d.tokenizer.vocabSize }, (_, i) => d.tokenizer.token(i));
  const isAdded = (w: string) => (SPECIAL_TOKENS as readonly string[]).includes(w) || /^<.*>$/.test(w) || /<(ENV|LAN)>$/.test(w);
  return { words: all.filter((w) => !isAdded(w)), added: all.filter(isAdded) };
}

let fixture: Promise<string> | undefined;
/** The fixture folder: built by Python now where it can be, else the committed one. */
function getFixture(): Promise<string> {
  fixture ??= (async () => {
    if (!PY.python) return FIXTURE;
    const dir = path.join(root, 'fixture');
    const { words, added } = await corpusWords();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'words.txt'), words.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'added.txt'), added.join('\n') + '\n');
    const r = spawnSync(
      PY.python,
      [SCRIPT, 'make', dir, '--words', path.join(dir, 'words.txt'), '--added', path.join(dir, 'added.txt'), '--full'],
      {
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    assert.equal(r.status, 0, `hf_fixture.py make failed:\n${r.stderr}`);
    return dir;
  })();
  return fixture;
}

interface Reference {
  texts: string[];
  ids: number[][];
  next_logprobs: number[][];
  last_logprobs: number[][];
  logprobs?: number[][][];
  versions: Record<string, string>;
}

test('the committed fixture is what hf_fixture.py makes from the committed word lists (byte for byte), and stays small', (t) => {
  const words = fs.readFileSync(path.join(FIXTURE, 'words.txt'), 'utf8');
  const added = fs.readFileSync(path.join(FIXTURE, 'added.txt'), 'utf8');
  assert.ok(words.split('\n').length > 50 && added.includes('ball<ENV>') === added.includes('ball<LAN>'));
  let total = 0;
  for (const f of fs.readdirSync(FIXTURE)) total += fs.statSync(path.join(FIXTURE, f)).size;
  assert.ok(total < 200_000, `fixture is ${total} bytes`);
  const ref = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8')) as Reference;
  assert.ok(ref.versions.transformers && ref.ids.length === ref.texts.length);
  if (!PY.python) return void t.diagnostic(`regeneration check skipped: ${PY.why}`);
  const again = path.join(root, 'again');
  const r = spawnSync(
    PY.python,
    [SCRIPT, 'make', again, '--words', path.join(FIXTURE, 'words.txt'), '--added', path.join(FIXTURE, 'added.txt')],
    {
      encoding: 'utf8',
      timeout: 300_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const now = JSON.parse(fs.readFileSync(path.join(again, 'reference.json'), 'utf8')) as Reference;
  assert.deepEqual(now.ids, ref.ids, 'the same tokenizer');
  if (JSON.stringify(now.versions) !== JSON.stringify(ref.versions))
    return void t.diagnostic(
      `byte comparison skipped: made with ${JSON.stringify(ref.versions)}, this Python has ${JSON.stringify(now.versions)}`,
    );
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'reference.json'])
    assert.ok(fs.readFileSync(path.join(again, f)).equals(fs.readFileSync(path.join(FIXTURE, f))), `${f} differs from the committed one`);
});

test("a random GPT-2 saved by transformers imports: BPE ids and log-probabilities match transformers' within 1e-4", async (t) => {
  await initEngine({ log: false });
  const dir = await getFixture();
  t.diagnostic(PY.python ? `fixture built now by ${PY.python}` : `committed fixture (${PY.why})`);
  const out = path.join(root, 'imported');
  const res = await importHfGpt2(dir, { out, preset: 'tiny' });
  assert.equal(res.tokenizer, 'hf BPE');
  assert.deepEqual(
    res.missing,
    [],
    'every word of the evaluation corpus is one token (added tokens for w<ENV>/w<LAN>, speakers, specials)',
  );
  const run = await openRun(out);
  assert.ok(run.tokenizer instanceof HfTokenizer);
  assert.deepEqual(
    run.checkpoints.map((c) => c.step),
    [0],
  );
  assert.equal(run.config.imported?.format, 'hf-gpt2');
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
  const tok = run.tokenizer as HfTokenizer;
  const model = await run.loadModel();
  let maxNext = 0;
  let maxRow = 0;
  let compared = 0;
  for (let s = 0; s < ref.texts.length; s++) {
    const ids = tok.encodeText(ref.texts[s]);
    assert.deepEqual(ids, ref.ids[s], `the tokenizer gives transformers' ids for ${JSON.stringify(ref.texts[s])}`);
    const x = tf.tensor2d([ids], [1, ids.length], 'int32');
    const lp = tf.tidy(() => tf.logSoftmax(model.forward(x)));
    const rows = ((await lp.array()) as number[][][])[0];
    tf.dispose([x, lp]);
    for (let p = 0; p + 1 < ids.length; p++) maxNext = Math.max(maxNext, Math.abs(rows[p][ids[p + 1]] - ref.next_logprobs[s][p]));
    const last = rows[ids.length - 1];
    for (let v = 0; v < last.length; v++) maxRow = Math.max(maxRow, Math.abs(last[v] - ref.last_logprobs[s][v]));
    compared += ids.length - 1 + last.length;
    if (ref.logprobs)
      for (let p = 0; p < ids.length; p++)
        for (let v = 0; v < last.length; v++) maxRow = Math.max(maxRow, Math.abs(rows[p][v] - ref.logprobs[s][p][v]));
    if (ref.logprobs) compared += ids.length * last.length;
  }
  model.dispose();
  t.diagnostic(`max |log p - transformers| = ${Math.max(maxNext, maxRow).toExponential(2)} over ${compared} values`);
  assert.ok(maxNext < 1e-4 && maxRow < 1e-4, `next-token ${maxNext}, rows ${maxRow}`);
});

test('eval, analyze, probe, circuits and the widget data run on the imported run (its evaluation corpus in its BPE ids)', async () => {
  await initEngine({ log: false });
  const run = await openRun(path.join(root, 'imported'));
  const opts = { evalSet: { contextsPerNoun: 2, mismatchesPerContext: 2 } };
  const gain = await evalRun(run, opts);
  assert.equal(gain.length, 1);
  assert.equal(gain[0].step, 0);
  for (const k of ['gain', 'match', 'mismatch']) assert.ok(Number.isFinite(gain[0][k] as number), `${k} = ${gain[0][k]}`);
  const res = await analyzeRun(run, {
    ...opts,
    only: ['saliency', 'heads', 'lens', 'tuned_lens', 'patching'],
    tunedLens: { steps: 3, rows: 4 },
  });
  assert.deepEqual(res.steps, [0]);
  const lens = (await run.readTable('analysis/lens'))!.objects() as Array<Record<string, unknown>>;
  assert.ok(lens.length > 0 && lens.every((r) => r.step === 0));
  const sal = (await run.readTable('analysis/saliency'))!.objects() as Array<Record<string, unknown>>;
  assert.equal(new Set(sal.map((r) => `${r.layer}/${r.head}`)).size >= 2 * 2, true, 'every layer and head of the 2 x 2');
  assert.ok(sal.every((r) => r.step === 0));
  // probes, circuit tracing and the widgets' data read it too
  const probe = await probeSweep(run, { task: 'env-noun', taskOptions: { maxExamples: 120 } });
  assert.ok(probe.table.numRows() === 3 && (probe.table.objects() as Array<Record<string, unknown>>).every((r) => r.n_classes === 60));
  const [circ] = await circuitsRun(run, { pairs: 24 });
  assert.ok(circ.step === 0 && circ.pairs === 24 && Number.isFinite(circ.atp_r), JSON.stringify(circ));
  const ins = await inspectorData(run, { examples: 1 });
  assert.deepEqual(ins.steps, [0]);
  assert.deepEqual((await timelineData(run)).steps, [0]);
  // training it further is refused (no optimizer state), with what to do
  await assert.rejects(
    train({ out: run.dir, arch: 'transformer', preset: 'tiny', steps: 1 }),
    (e: unknown) => isGroundlabError(e) && e.code === 'UNSUPPORTED' && /was imported/.test(e.message) && /fine-tune/.test(e.hint ?? ''),
  );
  // the data the tuned lens trained on are the corpus in this model's ids
  const data = await run.data();
  assert.equal(data.tokenizer, run.tokenizer);
  const row = data.train.row(0);
  assert.ok(Math.max(...row) < run.config.model.vocabSize);
});

test('a model whose vocabulary lacks the w<ENV>/w<LAN> tokens: import names them, eval refuses with what to do', async () => {
  await initEngine({ log: false });
  const dir = await getFixture();
  const bare = path.join(root, 'no-env-lan');
  fs.mkdirSync(bare);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer_config.json']) fs.copyFileSync(path.join(dir, f), path.join(bare, f));
  const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  tj.added_tokens = tj.added_tokens.filter((a: { content: string }) => !/<(ENV|LAN)>$/.test(a.content));
  fs.writeFileSync(path.join(bare, 'tokenizer.json'), JSON.stringify(tj));
  const res = await importHfGpt2(bare, { out: path.join(root, 'no-env-lan-run'), preset: 'tiny' });
  assert.ok(res.missing.length >= 120 && res.missing.every((w) => /<(ENV|LAN)>$/.test(w)), res.missing.join(' '));
  const run = await openRun(res.dir);
  assert.equal(run.tokenizer.vocabSize, run.config.model.vocabSize, 'the tokenizer is padded to the model vocabulary');
  await assert.rejects(
    evalRun(run, { evalSet: { contextsPerNoun: 2, mismatchesPerContext: 2 } }),
    (e: unknown) =>
      isGroundlabError(e) &&
      e.code === 'UNSUPPORTED' &&
      /^120 words .*not one token.*\(120 of them w<ENV>\/w<LAN> forms\)/.test(e.message) &&
      /add_tokens/.test(e.hint ?? ''),
  );
  await assert.rejects(
    importHfGpt2(bare, { out: res.dir }),
    (e: unknown) => isGroundlabError(e) && e.code === 'BAD_ARGUMENT' && /already exists/.test(e.message),
  );
  await assert.rejects(
    importHfGpt2(path.join(root, 'nowhere'), { out: path.join(root, 'x') }),
    (e: unknown) => isGroundlabError(e) && e.code === 'NOT_FOUND',
  );
  fs.rmSync(path.join(bare, 'tokenizer.json'));
  await assert.rejects(
    importHfGpt2(bare, { out: path.join(root, 'y') }),
    (e: unknown) => isGroundlabError(e) && e.code === 'NOT_FOUND' && /tokenizer\.json/.test(e.message),
  );
});

test("an export's tokenizer.json loads in AutoTokenizer and gives groundlab's ids; export -> import round-trips the run", async (t) => {
  await initEngine({ log: false });
  const r = await train({ out: path.join(root, 'trained'), arch: 'transformer', preset: 'tiny', seed: 1, steps: 3 });
  const run = await openRun(r.dir);
  const out = await exportHfGpt2(run, { out: path.join(root, 'export') });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'groundlab_tokenizer.json'])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  // the structure transformers itself writes (the committed fixture's tokenizer.json)
  const mine = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8'));
  const theirs = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'tokenizer.json'), 'utf8'));
  assert.deepEqual(Object.keys(mine).sort(), Object.keys(theirs).sort());
  assert.deepEqual(Object.keys(mine.added_tokens[0]).sort(), Object.keys(theirs.added_tokens[0]).sort());
  assert.equal(mine.model.type, 'WordLevel');
  const data = await run.data();
  const lines = (data.episodes as Episode[])
    .slice(0, 20)
    .map((ep) =>
      ep.turns.flatMap((tu) => [tu.speaker, ...tu.env.situation, ...tu.env.before, ...tu.env.during, ...tu.utterance, ...tu.env.after]),
    );
  lines.push(['<MOT>', 'look', 'zebra', 'ball<ENV>', '<eos>']); // an unknown word -> <unk>
  const want = lines.map((l) => run.tokenizer.encode(l));
  const js = HfTokenizer.fromDir(out);
  assert.deepEqual(
    lines.map((l) => js.encodeText(l.join(' '))),
    want,
    "the Hugging Face tokenizer (JavaScript) gives the run tokenizer's ids",
  );
  if (!PY.python) t.diagnostic(`AutoTokenizer check skipped: ${PY.why}`);
  else {
    const p = spawnSync(PY.python, [SCRIPT, 'tokenize', out], {
      input: lines.map((l) => l.join(' ')).join('\n') + '\n',
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(p.status, 0, p.stderr);
    const got = p.stdout
      .trim()
      .split('\n')
      .map((s) => JSON.parse(s) as number[]);
    assert.deepEqual(got, want, "AutoTokenizer.from_pretrained(export) gives groundlab's ids");
  }
  // export -> import: the word tokenizer, the run's corpus and the same logits
  const back = await importHfGpt2(out, { out: path.join(root, 'back') });
  assert.equal(back.tokenizer, 'groundlab');
  assert.equal(back.step, 3);
  assert.deepEqual(back.corpus, run.config.corpus);
  assert.deepEqual(back.missing, []);
  const run2 = await openRun(back.dir);
  assert.deepEqual(run2.tokenizer.toJSON(), run.tokenizer.toJSON());
  const [a, b] = [await run.loadModel(), await run2.loadModel()];
  const ids = want.flat().slice(0, 16);
  const x = tf.tensor2d([ids], [1, ids.length], 'int32');
  const [la, lb] = [a.forward(x), b.forward(x)];
  assert.deepEqual(await lb.data(), await la.data());
  // the same folder without groundlab's own tokenizer: its WordLevel tokenizer.json reads the corpus alike
  const hfOnly = path.join(root, 'export-hf-only');
  fs.cpSync(out, hfOnly, { recursive: true });
  fs.rmSync(path.join(hfOnly, 'groundlab_tokenizer.json'));
  const viaHf = await importHfGpt2(hfOnly, { out: path.join(root, 'back-hf') });
  assert.equal(viaHf.tokenizer, 'hf WordLevel');
  assert.deepEqual(viaHf.missing, []);
  const run3 = await openRun(viaHf.dir);
  const d3 = await run3.data();
  for (const i of [0, 1, 7]) assert.deepEqual(d3.train.row(i), data.train.row(i), `training row ${i} in the same ids`);
  const c = await run3.loadModel();
  const lc = c.forward(x);
  assert.deepEqual(await lc.data(), await la.data());
  tf.dispose([x, la, lb, lc]);
  a.dispose();
  b.dispose();
  c.dispose();
});

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeCorpusFile, readCorpusFile, loadCorpus, prepareData, corpusFileText } from '../../src/data';
import { isGroundlabError } from '../../src/errors';

test('corpus files round-trip (with patch features) and feed prepareData', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-corpus-'));
  try {
    for (const kind of ['synthetic', 'image'] as const) {
      const spec = { kind, setting: 'simple', seed: 2, knobs: { episodes: 30 } };
      const c = await loadCorpus(spec);
      const file = path.join(dir, `${kind}.jsonl`);
      await writeCorpusFile(file, { spec, ...c });
      const back = readCorpusFile(file);
      assert.equal(corpusFileText(back), corpusFileText({ spec, ...c }));
      assert.deepEqual(back.episodes, c.episodes);
      const a = await prepareData({ kind: 'file', path: file }, { seqLen: 16 });
      const b = await prepareData(spec, { seqLen: 16 });
      assert.deepEqual(a.train.row(1), b.train.row(1));
      assert.equal(a.featureDim, b.featureDim);
      if (kind === 'image') assert.deepEqual(a.train.features!(0), b.train.features!(0));
    }
    // truncated and foreign files: errors naming file and line
    const good = fs.readFileSync(path.join(dir, 'synthetic.jsonl'), 'utf8');
    const cut = path.join(dir, 'cut.jsonl');
    fs.writeFileSync(cut, good.slice(0, Math.floor(good.length / 2)));
    assert.throws(() => readCorpusFile(cut), (e) => isGroundlabError(e) && e.code === 'PARSE' && e.file === cut && (e.line ?? 0) > 1);
    const other = path.join(dir, 'other.jsonl');
    fs.writeFileSync(other, '{"hello": 1}\n');
    assert.throws(() => readCorpusFile(other), (e) => isGroundlabError(e) && e.code === 'PARSE' && e.line === 1);
    assert.throws(() => readCorpusFile(path.join(dir, 'missing.jsonl')), (e) => isGroundlabError(e) && e.code === 'NOT_FOUND');
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('property: damaged corpus files give GroundlabErrors, nothing else', async () => {
  const fc = (await import('fast-check')).default;
  const { parseCorpusFile } = await import('../../src/data');
  const c = await loadCorpus({ kind: 'image', setting: 'simple', knobs: { episodes: 3, grid: 2, featureDim: 4 } });
  const good = corpusFileText({ spec: { kind: 'image' }, ...c });
  assert.equal(parseCorpusFile(good, 'c.jsonl').episodes.length, 3);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: good.length }), fc.integer({ min: 0, max: 40 }), fc.string({ maxLength: 12 }), (at, cut, ins) => {
      const text = good.slice(0, at) + ins + good.slice(Math.min(good.length, at + cut));
      try {
        parseCorpusFile(text, 'c.jsonl');
      } catch (e) {
        if (!isGroundlabError(e) || e.file !== 'c.jsonl') throw e;
      }
    }),
    { numRuns: 2000, seed: 3 },
  );
});

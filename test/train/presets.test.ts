import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PRESET_NAMES, TRAIN_PRESETS, trainPreset } from '../../src/train/presets';
import { MODEL_PRESETS } from '../../src/models/config';
import { freshConfig } from '../../src/train/steps';
import { withDefaults } from '../../src/train/deps';
import type { CorpusSpec } from '../../src/data/types';

test('every preset name has a training preset and model sizes for every architecture; medium is deeper than quick', () => {
  assert.deepEqual(PRESET_NAMES, ['tiny', 'quick', 'medium', 'paper']);
  for (const p of PRESET_NAMES) {
    assert.ok(TRAIN_PRESETS[p], p);
    for (const sizes of Object.values(MODEL_PRESETS)) assert.ok((sizes as Record<string, unknown>)[p], p);
  }
  assert.ok(MODEL_PRESETS.transformer.medium.nLayers >= 8);
  assert.ok(MODEL_PRESETS.transformer.medium.contextLength >= TRAIN_PRESETS.medium.train.seqLen);
  // a copy: changing it does not change the preset
  trainPreset('medium').corpusKnobs!.episodes = 1;
  assert.equal(TRAIN_PRESETS.medium.corpusKnobs!.episodes, 48000);
});

test("a preset's corpus knobs reach the corpus of its own setting; the user's knobs win; another setting gets none", async () => {
  const seen: CorpusSpec[] = [];
  const stop = new Error('stop after prepareData');
  const deps = withDefaults({
    prepareData: async (spec) => {
      seen.push(spec);
      throw stop;
    },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-presets-'));
  const run = (corpus?: Partial<CorpusSpec>) =>
    assert.rejects(freshConfig({ out: dir, arch: 'transformer', preset: 'medium', ...(corpus ? { corpus: corpus as CorpusSpec } : {}) }, deps, dir), (e) => e === stop);
  await run();
  await run({ kind: 'synthetic', knobs: { episodes: 500, pAbsent: 0 } });
  await run({ kind: 'synthetic', setting: 'simple' });
  assert.deepEqual(seen.map((s) => [s.setting, s.knobs]), [
    ['realistic', { episodes: 48000 }],
    ['realistic', { episodes: 500, pAbsent: 0 }],
    ['simple', undefined],
  ]);
  fs.rmSync(dir, { recursive: true, force: true });
});

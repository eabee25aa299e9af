import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { train, openRun } from '../../src/train';
import { dasRun } from '../../src/causal/run';
import { dasFlips } from '../../src/causal/flips';
import { readSafetensors } from '../../src/io/safetensors';
import { main } from '../../src/cli/main';
import { isGroundlabError } from '../../src/errors';

test('dasRun on a tiny counting run: table rows per method, subspace saved, CLI das', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'das-run-'));
  try {
    const out = path.join(dir, 'count-gru');
    await train({ out, arch: 'gru', preset: 'tiny', steps: 12, corpus: { kind: 'counting', knobs: { maxCount: 6, heldOut: '4', sequences: 64 } }, model: { nLayers: 1, dModel: 8 } });
    const run = await openRun(out);
    const rows = await dasRun(run, { program: 'up-down', site: 'blocks.0.state', dims: [1, 2], steps: 4, trainPairs: 16, testPairs: 16, checkpoints: [0, 12] });
    assert.deepEqual(rows.map((r) => `${r.step}/${r.k}/${r.method}`), ['0/1/das', '0/1/identity', '0/1/random', '0/2/das', '0/2/identity', '0/2/random', '0/1/probe', '0/8/full', '12/1/das', '12/1/identity', '12/1/random', '12/2/das', '12/2/identity', '12/2/random', '12/1/probe', '12/8/full']);
    for (const r of rows) {
      assert.ok(r.iia >= 0 && r.iia <= 1);
      assert.equal(r.pairs, 16);
      assert.ok(r.ortho_error < 1e-4);
    }
    const table = await run.readTable('analysis/das');
    assert.equal(table?.numRows(), rows.length);
    const st = await readSafetensors(path.join(out, 'analysis', 'das', 'up-down-count-blocks.0.state-k2-step12.safetensors'));
    assert.deepEqual(st.tensors.get('w')?.shape, [8, 2]);
    assert.equal(st.metadata.program, 'up-down');
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['das', out, '--program', 'up-up', '--fit-steps', '3', '--pairs', '8', '--quiet', '--no-baselines', '--boundless']);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(code, 0);
    assert.match(printed, /up-up count at blocks\.0\.state/);
    assert.match(printed, /boundless/);
    assert.equal((await run.readTable('analysis/das'))?.numRows(), rows.length + 2, 'the up-up rows join the up-down ones');
    await assert.rejects(dasRun(run, { program: 'up-up', site: 'blocks.0.state', variables: ['phase', 'nothing'], steps: 1 }), (e) => isGroundlabError(e) && /no variable "nothing"/.test(e.message));
    const notCounting = { ...run, config: { ...run.config, corpus: { kind: 'synthetic' as const } } };
    await assert.rejects(dasRun(notCounting, { program: 'up-down', site: 'blocks.0.state' }), (e) => isGroundlabError(e) && /needs a counting run/.test(e.message) && /--corpus-kind counting/.test(e.hint ?? ''));
    // Interrupt (Ctrl-C in the CLI aborts this signal): ABORTED, the table left as it was.
    const ctrl = new AbortController();
    ctrl.abort();
    const before = (await run.readTable('analysis/das'))?.numRows();
    await assert.rejects(dasRun(run, { program: 'up-down', site: 'blocks.0.state', steps: 50, trainPairs: 8, testPairs: 8, signal: ctrl.signal }), (e) => isGroundlabError(e) && e.code === 'ABORTED');
    assert.equal((await run.readTable('analysis/das'))?.numRows(), before);
    // Repeated phase flips on the same run: a row per rounds x flip x method, written to analysis/das_flips.
    const flips = await dasFlips(run, { site: 'blocks.0.state', rounds: [2], demoMax: 3, k: 2, steps: 3, fitPairs: 8, sequences: 8 });
    assert.deepEqual(flips.map((r) => `${r.rounds}/${r.count_mode}/${r.method}`), ['keep', 'source'].flatMap((m) => ['none', 'das count+phase', 'das count', 'identity', 'random', 'full'].map((x) => `2/${m}/${x}`)));
    for (const r of flips) assert.ok(r.iia >= 0 && r.iia <= 1 && r.sequences === 8);
    assert.equal((await run.readTable('analysis/das_flips'))?.numRows(), flips.length);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

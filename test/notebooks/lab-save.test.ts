/**
 * In real JupyterLab and Debian's Chromium: every committed notebook is opened (its groundlab kernel
 * starts and JupyterLab stores what the kernel reports), is not marked modified, and saving it
 * leaves the file byte-identical, so autosave never rewrites a tracked notebook. The notebooks are
 * copies in a temporary folder. Skips without /usr/bin/chromium or .venv.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { launchChromium, missing, startLab, type Lab } from '../extension/lab';
import { installKernel, jupyterMissing, ROOT, tempDir } from '../kernel/helpers';

const skip = missing || jupyterMissing(['jupyterlab']);
const NB = path.join(ROOT, 'notebooks');
const names = fs.readdirSync(NB).filter((f) => f.endsWith('.ipynb')).sort();
let lab: Lab | undefined;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let browser: any;
const work = tempDir('groundlab-lab-save-');
const root = path.join(work, 'notebooks');
const results: Record<string, { dirtyAfterOpen: boolean; language: string; kernel: string; seconds: number }> = {};

before(async () => {
  if (skip) return;
  installKernel();
  fs.mkdirSync(root);
  for (const n of names) fs.copyFileSync(path.join(NB, n), path.join(root, n));
  lab = await startLab(root, path.join(work, 'lab'), { exposeApp: true });
  browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(`${lab.base}/lab?token=${lab.token}`);
  await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('docmanager:open'), undefined, { timeout: 120_000 });
  for (const name of names) {
    const t = Date.now();
    const r = await page.evaluate(async (file: string) => {
      const app = (window as any).jupyterapp;
      const w = await app.commands.execute('docmanager:open', { path: file, factory: 'Notebook' });
      await w.context.ready;
      await w.sessionContext.ready;
      const kernel = w.sessionContext.session?.kernel;
      const info = await kernel.info;
      // JupyterLab stores the kernel's language_info and kernelspec when the kernel's info arrives.
      for (let i = 0; i < 100 && w.context.model.getMetadata('language_info')?.version !== info.language_info.version; i++) await new Promise((res) => setTimeout(res, 50));
      await new Promise((res) => setTimeout(res, 300));
      const dirtyAfterOpen = w.context.model.dirty;
      await w.context.save();
      const out = { dirtyAfterOpen, language: String(w.context.model.getMetadata('language_info')?.name), kernel: String(kernel.name) };
      await w.sessionContext.shutdown();
      w.dispose();
      return out;
    }, name);
    results[name] = { ...r, seconds: (Date.now() - t) / 1000 };
  }
});

after(async () => {
  await browser?.close();
  await lab?.stop();
});

test('JupyterLab opens every notebook with the groundlab kernel without marking it modified', { skip }, () => {
  assert.deepEqual(Object.keys(results).sort(), names);
  for (const n of names) {
    assert.equal(results[n].kernel, 'groundlab', n);
    assert.equal(results[n].language, 'typescript', n);
    assert.equal(results[n].dirtyAfterOpen, false, `${n} was marked modified on opening`);
  }
});

test('saving each notebook in JupyterLab leaves it byte-identical', { skip }, () => {
  const changed = names.filter((n) => !fs.readFileSync(path.join(root, n)).equals(fs.readFileSync(path.join(NB, n))));
  assert.deepEqual(changed, [], `rewritten by a save: ${changed.join(', ')}; seconds per notebook: ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.seconds])))}`);
});

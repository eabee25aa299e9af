/** Fast checks of the kernel layer's pure parts (no Jupyter needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const kernel = require(path.join(ROOT, 'kernel', 'kernel.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const resolve = require(path.join(ROOT, 'kernel', 'resolve.js'));

test('expandShorthand writes { out } as { out: out } and leaves patterns, strings and lines alone', () => {
  const src = 'const r = await train({ out, arch: "x", seed });\nconst { a, b } = o;\n({ c = 1 } = o2);\nconst s = `{ out }`;';
  assert.equal(
    kernel.expandShorthand(src),
    'const r = await train({ out: out, arch: "x", seed: seed });\nconst { a, b } = o;\n({ c: c = 1 } = o2);\nconst s = `{ out }`;',
  );
  assert.equal(kernel.expandShorthand('1 + 2'), '1 + 2');
});

test('matchLine finds the TypeScript line of a transpiled JavaScript line', () => {
  const src = ['const a = 1;', 'const run = await openRun(dir);', 'console.log(run.dir);'];
  assert.equal(kernel.matchLine('const run = await (0, groundlab_1.openRun)(exports.dir);', src, 5), 2);
  assert.equal(kernel.matchLine('console.log(run.dir);', src, 1), 3);
});

test('the TypeScript overlay maps <cwd>/node_modules/groundlab to the checkout, other packages to its node_modules', () => {
  const cwd = tempDir('groundlab-overlay-');
  const nm = `${cwd}/node_modules`;
  assert.equal(resolve.mapVirtual(cwd, `${nm}/groundlab/package.json`), path.join(ROOT, 'package.json'));
  assert.equal(resolve.mapVirtual(cwd, `${nm}/groundlab`), ROOT);
  assert.equal(resolve.mapVirtual(cwd, `${nm}/arquero/package.json`), path.join(ROOT, 'node_modules', 'arquero', 'package.json'));
  assert.equal(resolve.mapVirtual(cwd, `${nm}/tslab/index.d.ts`), undefined, 'tslab forwards its own');
  assert.equal(resolve.mapVirtual(cwd, `${cwd}/other.ts`), undefined);
  // A folder's own package wins.
  fs.mkdirSync(`${nm}/arquero`, { recursive: true });
  fs.writeFileSync(`${nm}/arquero/package.json`, '{}');
  assert.equal(resolve.mapVirtual(cwd, `${nm}/arquero/package.json`), undefined);
  // A kernel started in the checkout itself (a notebook at its top level, or no notebook path):
  // "groundlab" still maps to the checkout, which has no node_modules/groundlab; its packages are real.
  const rootNm = `${ROOT.replace(/\\/g, '/')}/node_modules`;
  assert.equal(resolve.mapVirtual(ROOT, `${rootNm}/groundlab`), ROOT);
  assert.equal(resolve.mapVirtual(ROOT, `${rootNm}/groundlab/package.json`), path.join(ROOT, 'package.json'));
  assert.equal(resolve.mapVirtual(ROOT, `${rootNm}/not-a-package-here/index.d.ts`), undefined);
});

test('install.js writes a kernelspec for --prefix and --user and removes it again', () => {
  const dir = tempDir('groundlab-install-');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(ROOT, 'kernel', 'install.js'), ...args], { encoding: 'utf8', env: { ...process.env, JUPYTER_DATA_DIR: path.join(dir, 'user') } });
  let r = run('--prefix', path.join(dir, 'env'));
  assert.equal(r.status, 0, r.stderr);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'env', 'share', 'jupyter', 'kernels', 'groundlab', 'kernel.json'), 'utf8'));
  assert.equal(spec.display_name, 'groundlab (TypeScript)');
  assert.deepEqual(spec.argv, [process.execPath, path.join(ROOT, 'kernel', 'main.js'), '{connection_file}']);
  assert.equal(spec.interrupt_mode, 'signal');
  r = run('--user');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'user', 'kernels', 'groundlab', 'kernel.json')));
  assert.ok(fs.existsSync(path.join(dir, 'user', 'kernels', 'groundlab', 'logo-64x64.png')));
  r = run('--uninstall', '--user');
  assert.equal(r.status, 0);
  assert.ok(!fs.existsSync(path.join(dir, 'user', 'kernels', 'groundlab')));
  r = run('--print');
  assert.match(r.stdout, /\.venv\/share\/jupyter\/kernels\/groundlab\n\{/);
});

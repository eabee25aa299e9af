/** Fast checks of the kernel's pure parts (no Jupyter needed): source helpers, history, the installer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { enclosingCall, expandShorthand, identifierAt, matchLine, syntaxErrors } from '../../kernel/source';
import { globRegExp, History } from '../../kernel/history';
import { mapVirtual } from '../../kernel/resolve';
import { kernelSpec, runInstall } from '../../kernel/install';
import { completionType } from '../../kernel/engine';
import { ROOT, tempDir } from './helpers';

test('expandShorthand writes { out } as { out: out } and leaves patterns, strings and lines alone', () => {
  const src = 'const r = await train({ out, arch: "x", seed });\nconst { a, b } = o;\n({ c = 1 } = o2);\nconst s = `{ out }`;';
  assert.equal(
    expandShorthand(src),
    'const r = await train({ out: out, arch: "x", seed: seed });\nconst { a, b } = o;\n({ c: c = 1 } = o2);\nconst s = `{ out }`;',
  );
  assert.equal(expandShorthand('1 + 2'), '1 + 2');
});

test('matchLine finds the TypeScript line of a transpiled JavaScript line', () => {
  const src = ['const a = 1;', 'const run = await openRun(dir);', 'console.log(run.dir);'];
  assert.equal(matchLine('const run = await (0, groundlab_1.openRun)(exports.dir);', src, 5), 2);
  assert.equal(matchLine('console.log(run.dir);', src, 1), 3);
});

test('enclosingCall finds the call whose parentheses hold the cursor, closed or not', () => {
  const a = 'const run = await openRun(';
  assert.deepEqual(enclosingCall(a, a.length), { calleeEnd: a.length - 1, callee: 'openRun', argument: 0 });
  const b = 'await display(lineChart(rows, ';
  const cb = enclosingCall(b, b.length)!;
  assert.equal(cb.callee, 'lineChart');
  assert.equal(cb.argument, 1);
  assert.equal(b.slice(0, cb.calleeEnd), 'await display(lineChart');
  const c = 'viz.lineChart(rows, { x: "step" });\nconst z = 1;';
  assert.equal(enclosingCall(c, c.indexOf('x:'))!.calleeEnd, 'viz.lineChart'.length);
  assert.equal(enclosingCall(c, c.indexOf('const z')), undefined, 'after the closing parenthesis');
  assert.equal(enclosingCall('new Map(', 8)!.callee, 'Map');
  assert.equal(enclosingCall('const x = 1', 5), undefined);
});

test('identifierAt and syntaxErrors', () => {
  assert.equal(identifierAt('greeting', 3), true);
  assert.equal(identifierAt('greeting', 8), true);
  assert.equal(identifierAt('f(a, ', 5), false);
  assert.deepEqual(syntaxErrors('const a = 1;'), []);
  assert.ok(syntaxErrors('const = 1;').length > 0);
});

test('history: tail, range, search with glob, unique and n, with outputs', () => {
  const h = new History(3);
  h.add(1, 'const a = 1;');
  h.add(2, '6 * 7', '42');
  h.add(3, 'a + 1', '2');
  h.add(4, '6 * 7', '42');
  assert.deepEqual(h.query({ hist_access_type: 'tail', n: 2 }), [[3, 3, 'a + 1'], [3, 4, '6 * 7']]);
  assert.deepEqual(h.query({ hist_access_type: 'tail', n: 1, output: true }), [[3, 4, ['6 * 7', '42']]]);
  assert.deepEqual(h.query({ hist_access_type: 'range', session: 0, start: 2, stop: 3 }), [[3, 2, '6 * 7']]);
  assert.deepEqual(h.query({ hist_access_type: 'range', session: 3, start: 1, stop: null }).length, 4);
  assert.deepEqual(h.query({ hist_access_type: 'range', session: 2, start: 1 }), [], 'another session');
  assert.deepEqual(h.query({ hist_access_type: 'search', pattern: '6 ?*' }).map((e) => e[1]), [2, 4]);
  assert.deepEqual(h.query({ hist_access_type: 'search', pattern: '6*', unique: true }).map((e) => e[1]), [4]);
  assert.deepEqual(h.query({ hist_access_type: 'search', pattern: '*', n: 2 }).map((e) => e[1]), [3, 4]);
  assert.deepEqual(h.query({ hist_access_type: 'search', pattern: 'a' }), [], 'a glob matches the whole input');
  assert.ok(globRegExp('[ab]*').test('b + 1'));
  assert.ok(!globRegExp('x.y').test('xzy'), 'dots are literal');
});

test('completion types follow the TypeScript element kind', () => {
  assert.equal(completionType('function'), 'function');
  assert.equal(completionType('method'), 'function');
  assert.equal(completionType('const'), 'instance');
  assert.equal(completionType('class'), 'class');
  assert.equal(completionType('alias'), 'module');
  assert.equal(completionType(undefined), 'text');
});

test('the TypeScript overlay maps <cwd>/node_modules/groundlab to the checkout, other packages to its node_modules', () => {
  const cwd = tempDir('groundlab-overlay-');
  const nm = `${cwd}/node_modules`;
  assert.equal(mapVirtual(cwd, `${nm}/groundlab/package.json`), path.join(ROOT, 'package.json'));
  assert.equal(mapVirtual(cwd, `${nm}/groundlab`), ROOT);
  assert.equal(mapVirtual(cwd, `${nm}/arquero/package.json`), path.join(ROOT, 'node_modules', 'arquero', 'package.json'));
  assert.equal(mapVirtual(cwd, `${nm}/tslab/index.d.ts`), undefined, 'tslab forwards its own');
  assert.equal(mapVirtual(cwd, `${cwd}/other.ts`), undefined);
  // A folder's own package wins.
  fs.mkdirSync(`${nm}/arquero`, { recursive: true });
  fs.writeFileSync(`${nm}/arquero/package.json`, '{}');
  assert.equal(mapVirtual(cwd, `${nm}/arquero/package.json`), undefined);
  // A kernel started in the checkout itself (a notebook at its top level, or no notebook path):
  // "groundlab" still maps to the checkout, which has no node_modules/groundlab; its packages are real.
  const rootNm = `${ROOT.replace(/\\/g, '/')}/node_modules`;
  assert.equal(mapVirtual(ROOT, `${rootNm}/groundlab`), ROOT);
  assert.equal(mapVirtual(ROOT, `${rootNm}/groundlab/package.json`), path.join(ROOT, 'package.json'));
  assert.equal(mapVirtual(ROOT, `${rootNm}/not-a-package-here/index.d.ts`), undefined);
});

test('the installer writes a kernelspec for --prefix and --user and removes it again', () => {
  const dir = tempDir('groundlab-install-');
  const prev = process.env.JUPYTER_DATA_DIR;
  const write = process.stdout.write;
  let printed = '';
  process.env.JUPYTER_DATA_DIR = path.join(dir, 'user');
  process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
  try {
    assert.equal(runInstall(['--prefix', path.join(dir, 'env')]), 0);
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'env', 'share', 'jupyter', 'kernels', 'groundlab', 'kernel.json'), 'utf8'));
    assert.equal(spec.display_name, 'groundlab (TypeScript)');
    assert.deepEqual(spec.argv, [process.execPath, path.join(ROOT, 'dist', 'kernel', 'main.js'), '{connection_file}']);
    assert.deepEqual(spec, kernelSpec());
    assert.equal(spec.interrupt_mode, 'signal');
    assert.equal(runInstall(['--user']), 0);
    assert.ok(fs.existsSync(path.join(dir, 'user', 'kernels', 'groundlab', 'kernel.json')));
    assert.ok(fs.existsSync(path.join(dir, 'user', 'kernels', 'groundlab', 'logo-64x64.png')));
    assert.equal(runInstall(['--uninstall', '--user']), 0);
    assert.ok(!fs.existsSync(path.join(dir, 'user', 'kernels', 'groundlab')));
    printed = '';
    assert.equal(runInstall(['--print']), 0);
    assert.match(printed, /\.venv\/share\/jupyter\/kernels\/groundlab\n\{/);
  } finally {
    process.stdout.write = write;
    if (prev === undefined) delete process.env.JUPYTER_DATA_DIR;
    else process.env.JUPYTER_DATA_DIR = prev;
  }
});

test('package.json pins tslab (whose internals the engine uses) exactly, at the installed version', () => {
  const pj = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.match(pj.dependencies.tslab, /^\d+\.\d+\.\d+$/, 'an exact version, no range');
  assert.equal(JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'tslab', 'package.json'), 'utf8')).version, pj.dependencies.tslab);
  assert.match(pj.dependencies.zeromq, /^\d+\.\d+\.\d+$/, 'the socket layer imports zeromq itself');
});

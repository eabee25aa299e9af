/**
 * The installed groundlab kernel against the real jupyter_client (.venv): kernel_info, execute
 * (stdout, execute_result, display_data bundles, errors with tracebacks), complete, inspect,
 * is_complete, comm_info, restart, shutdown. One kernel start (plus the restart) for the file.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { installKernel, jupyterMissing, KERNEL_MAIN, plain, runDriver, streamText, tempDir, type ExecResult } from './helpers';

const missing = jupyterMissing();
let r: Record<string, any> = {};

before(() => {
  if (missing) return;
  installKernel();
  r = runDriver('protocol', tempDir('groundlab-kernel-'));
  assert.equal(r.__status, 0, `driver failed:\n${r.__log}`);
});

const kt = (name: string, fn: () => void) => test(name, { skip: missing }, fn);

kt('the kernel started is the one this checkout installed', () => {
  assert.equal(r.spec_argv[1], KERNEL_MAIN);
});

kt('kernel_info names the groundlab TypeScript kernel', () => {
  const k = r.kernel_info;
  assert.equal(k.status, 'ok');
  assert.equal(k.implementation, 'groundlab');
  assert.equal(k.protocol_version, '5.3');
  assert.equal(k.language_info.name, 'typescript');
  assert.equal(k.language_info.file_extension, '.ts');
});

kt('kernel_info carries the banner (versions; the backend once the engine runs), not the first cell', () => {
  assert.match(r.kernel_info.banner, /^groundlab \d+\.\d+\.\d+: TypeScript 5\.\d+\.\d+ on Node v\d+.*\(tslab 1\.0\.22\)/);
  assert.match(r.kernel_info_later.banner, /backend (wasm|cpu|tensorflow) \(/);
});

kt('execute: stdout stream and the last expression as execute_result, with no banner in the cell', () => {
  const x: ExecResult = r.exec_stdout;
  assert.equal(x.reply.status, 'ok');
  assert.equal(x.reply.execution_count, 1);
  assert.equal(streamText(x), 'hello world\n');
  assert.equal(streamText(x, 'stderr'), '');
  const res = x.iopub.find((m) => m.type === 'execute_result');
  assert.equal(res?.content.data['text/plain'], '42');
  assert.equal(x.iopub[0].type, 'execute_input');
  assert.deepEqual(x.iopub.map((m) => m.type), ['execute_input', 'stream', 'execute_result']);
});

kt('display: groundlab imports from a folder outside the checkout; tables, Vega-Lite figures and widget bundles', () => {
  const x: ExecResult = r.exec_display;
  assert.equal(x.reply.status, 'ok', JSON.stringify(x.reply));
  const shown = x.iopub.filter((m) => m.type === 'display_data');
  assert.equal(shown.length, 3);
  const [table, fig, widget] = shown.map((m) => m.content);
  assert.match(table.data['text/html'], /<table>.*<th[^>]*>step<\/th>.*2\.5/s);
  assert.match(table.data['text/plain'], /3 rows x 2 columns/);
  const spec = fig.data['application/vnd.vegalite.v5+json'];
  assert.equal(spec.title, 'G over steps');
  assert.match(fig.data['image/svg+xml'], /^<svg[\s\S]*G over steps[\s\S]*<\/svg>$/);
  const png = Buffer.from(fig.data['image/png'], 'base64');
  assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
  assert.match(fig.data['text/plain'], /Vega-Lite figure: G over steps/);
  assert.ok(typeof fig.transient.display_id === 'string');
  assert.deepEqual(widget.data['application/vnd.groundlab.timeline+json'], { steps: [1] });
  assert.equal(widget.data['text/plain'], 'timeline');
  // A spec as the last expression: execute_result with the same fallbacks.
  const res = x.iopub.find((m) => m.type === 'execute_result')!.content;
  assert.equal(res.data['application/vnd.vegalite.v5+json'].title, 'as a result');
  assert.match(res.data['image/svg+xml'], /as a result/);
  assert.ok(res.data['image/png'].length > 100);
});

kt("groundlab's dependencies (vega 5, vega-lite 5, tfjs-core, arquero) import and type-check in a cell", () => {
  const x: ExecResult = r.deps;
  assert.equal(x.reply.status, 'ok', JSON.stringify(x.reply));
  const out = x.iopub.find((m) => m.type === 'execute_result')!.content.data['text/plain'];
  assert.match(out, /^function function (wasm|cpu|tensorflow) 6$/);
});

kt('a GroundlabError shows code, message, hint and the notebook line, not a stack', () => {
  const x: ExecResult = r.exec_error;
  assert.equal(x.reply.status, 'error');
  assert.equal(x.reply.ename, 'GroundlabError');
  assert.equal(x.reply.evalue, '[NOT_FOUND] no run at runs/nowhere');
  const err = x.iopub.find((m) => m.type === 'error');
  assert.ok(err, 'an error message on IOPub');
  const tb = plain((err!.content.traceback as string[]).join('\n'));
  assert.match(tb, /GroundlabError \[NOT_FOUND\]: no run at runs\/nowhere/);
  assert.match(tb, /hint: train one first/);
  assert.match(tb, /cell line 2:/);
  assert.match(tb, /---->\s+2\s+throw new GroundlabError/);
  assert.doesNotMatch(tb, /at .*\(.*:\d+:\d+\)/, 'no stack frames');
});

kt('an error thrown inside the library points at the awaiting notebook line; the cell imports are kept', () => {
  const x: ExecResult = r.lib_error;
  assert.equal(x.reply.ename, 'GroundlabError');
  assert.match(x.reply.evalue!, /^\[NOT_FOUND\] .*\/nonexistent\/groundlab-run/);
  assert.match(plain(x.reply.traceback!.join('\n')), /cell line 3:[\s\S]*---->\s+3 await openRun\(missing\)/);
  assert.match(plain(x.reply.traceback!.join('\n')), /hint: give the folder of a trained run \(the `out` of `train\(\{ out, \.\.\. \}\)`\)/, 'the notebook hint');
  assert.doesNotMatch(plain(x.reply.traceback!.join('\n')), /--out/, 'no CLI flag in a notebook');
  assert.equal(r.import_kept.reply.status, 'ok');
  assert.equal(r.import_kept.iopub.find((m: any) => m.type === 'execute_result').content.data['text/plain'], 'function');
});

kt('TypeScript and runtime errors carry ename, evalue and a traceback with the cell line', () => {
  const t: ExecResult = r.exec_type_error;
  assert.equal(t.reply.ename, 'TypeScriptError');
  assert.match(t.reply.evalue!, /not assignable to type 'number'/);
  assert.match(plain(t.reply.traceback!.join('\n')), /1:7 - Type 'string'[\s\S]*---->\s+1 const n/);
  const p: ExecResult = r.exec_plain_error;
  assert.equal(p.reply.ename, 'TypeError');
  assert.match(plain(p.reply.traceback!.join('\n')), /cell line 2:[\s\S]*---->\s+2 const first/);
  // Earlier variables survive errors.
  assert.equal(r.after_error.reply.status, 'ok');
  assert.equal(r.after_error.iopub.find((m: any) => m.type === 'execute_result').content.data['text/plain'], '5');
});

kt('an execute request queued behind a failing cell is aborted', () => {
  assert.equal(r.queued_first.reply.status, 'error');
  assert.equal(r.queued_first.reply.evalue, 'first fails');
  assert.equal(r.queued_second.reply.status, 'aborted');
  assert.equal(streamText(r.queued_second), '');
});

kt('complete and inspect know cell variables and the library', () => {
  assert.deepEqual(r.complete.content.matches, ['toUpperCase']);
  assert.equal(r.complete.content.cursor_start, 'greeting.'.length);
  assert.ok(r.complete_lib.content.matches.includes('initEngine'));
  assert.equal(r.inspect.content.found, true);
  assert.equal(r.inspect.content.data['text/plain'], 'const greeting: string');
  assert.match(r.inspect_lib.content.data['text/plain'], /function lineChart\(data: FigureData/);
});

kt('Shift-Tab inside a call shows the called function\'s signature (Python kernels do the same)', () => {
  assert.equal(r.inspect_call.content.found, true);
  const call = r.inspect_call.content.data['text/plain'];
  assert.match(call, /^\(alias\) openRun\(dir: string, opts\?: OpenRunOptions\): Promise<Run>\n/);
  assert.match(call, /\n\nOpen an existing run directory/, 'with its documentation');
  const arg = r.inspect_call_arg.content.data['text/plain'];
  assert.match(arg, /^\(alias\) lineChart\(data: FigureData/, 'the innermost call first');
  assert.deepEqual(r.inspect_nothing.content, { status: 'ok', found: false, data: {}, metadata: {} });
});

kt('completions carry their kind (_jupyter_types_experimental)', () => {
  const types = r.complete.content.metadata._jupyter_types_experimental;
  assert.deepEqual(types, [{ start: 'greeting.'.length, end: 'greeting.toUpp'.length, text: 'toUpperCase', type: 'function' }]);
  const v = r.complete_var.content.metadata._jupyter_types_experimental.find((t: any) => t.text === 'greeting');
  assert.equal(v.type, 'instance');
});

kt('is_complete tells incomplete code with an indent, and invalid code', () => {
  assert.deepEqual(r.is_complete_incomplete.content, { status: 'incomplete', indent: '  ' });
  assert.equal(r.is_complete_complete.content.status, 'complete');
  assert.equal(r.is_complete_invalid.content.status, 'invalid');
});

kt('comm_info_request is answered with comm_info_reply (shell and control)', () => {
  assert.equal(r.comm_info.type, 'comm_info_reply');
  assert.deepEqual(r.comm_info.content, { status: 'ok', comms: {} });
  assert.equal(r.comm_info_control.type, 'comm_info_reply');
});

kt('restart gives a fresh process without the old variables', () => {
  assert.notEqual(r.restart.pid_before, r.restart.pid_after);
  assert.equal(r.after_restart.reply.status, 'error');
  assert.match(r.after_restart.reply.evalue, /Cannot find name 'greeting'/);
  assert.equal(r.after_restart.reply.execution_count, 1);
  assert.equal(r.after_restart_fresh.reply.status, 'ok');
});

kt('shutdown_request is answered and the process exits', () => {
  assert.equal(r.shutdown_reply.type, 'shutdown_reply');
  assert.deepEqual(r.shutdown_reply.content, { status: 'ok', restart: false });
  assert.equal(r.alive_after_shutdown, false);
  assert.ok(r.timings.end < 60, `the whole protocol run took ${r.timings.end}s`);
});

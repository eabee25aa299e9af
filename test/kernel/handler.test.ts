/**
 * The kernel's message handler without sockets or a compiler: a fake engine and a recording outbox.
 * Requests in, messages out, as jupyter_client would see them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelHandler, type CellEnd, type Engine, type ExecOutcome } from '../../kernel/handler';
import type { Outbox } from '../../kernel/transport';
import type { Header, Request } from '../../kernel/wire';
import { GroundlabError } from '../../src/errors';

interface Sent {
  kind: 'reply' | 'publish';
  type: string;
  content: Record<string, any>;
  parent: string | undefined;
}

function recorder(): Outbox & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    async reply(req, type, content) {
      sent.push({ kind: 'reply', type, content: content as Record<string, any>, parent: req.header.msg_id });
    },
    async publish(type, content, parent) {
      sent.push({ kind: 'publish', type, content: content as Record<string, any>, parent: (parent as Header).msg_id });
    },
  };
}

let n = 0;
function request(type: string, content: Record<string, unknown> = {}, channel: 'shell' | 'control' = 'shell'): Request {
  const header: Header = { msg_id: `m${n++}`, session: 's', username: 'u', date: '', msg_type: type, version: '5.3' };
  return { channel, identities: [], header, parent: {}, metadata: {}, content, buffers: [] };
}

/** An engine whose cells are scripted: code -> what running it does. */
function fakeEngine(run: Record<string, (h: KernelHandler) => Promise<ExecOutcome> | ExecOutcome>, load: Promise<void> = Promise.resolve()) {
  const calls: string[] = [];
  let handler: KernelHandler | undefined;
  const engine: Engine = {
    load: () => load,
    async execute(code) {
      calls.push(`execute ${code}`);
      const f = run[code];
      if (!f) throw new Error(`unscripted cell ${code}`);
      return f(handler!);
    },
    complete: (code, cursor) => ({ matches: ['toUpperCase'], cursor_start: cursor - 3, cursor_end: cursor, metadata: {} }),
    inspect: (code) => (code.includes('openRun(') ? 'openRun(dir: string): Promise<Run>' : undefined),
    isComplete: (code) => (code.endsWith('{') ? { status: 'incomplete', indent: '  ' } : { status: 'complete' }),
    interrupt: () => void calls.push('interrupt'),
    close: () => void calls.push('close'),
    languageInfo: () => ({ name: 'typescript', file_extension: '.ts' }),
    banner: () => 'fake 1.0',
    problem: () => undefined,
  };
  return { engine, calls, bind: (h: KernelHandler) => (handler = h) };
}

const ok = (values: unknown[] = []): ExecOutcome => ({ ok: true, values, diagnostics: [], thrown: [] });

function setup(run: Parameters<typeof fakeEngine>[0], load?: Promise<void>, exit?: () => void) {
  const out = recorder();
  const f = fakeEngine(run, load);
  const h = new KernelHandler(out, f.engine, { version: '9.9.9', graceMs: 50, exit });
  f.bind(h);
  return { out, h, calls: f.calls };
}

const of = (out: { sent: Sent[] }, parent: string) => out.sent.filter((s) => s.parent === parent && !(s.type === 'status'));

test('kernel_info is answered while the engine still loads; other requests wait for it', async () => {
  let loaded!: () => void;
  const { out, h } = setup({ '1': () => ok([1]) }, new Promise<void>((r) => (loaded = r)));
  void h.ready();
  const info = request('kernel_info_request');
  await h.receive(info);
  const reply = out.sent.find((s) => s.parent === info.header.msg_id && s.kind === 'reply')!;
  assert.equal(reply.type, 'kernel_info_reply');
  assert.equal(reply.content.banner, 'fake 1.0');
  assert.equal(reply.content.implementation_version, '9.9.9');
  assert.deepEqual(reply.content.language_info, { name: 'typescript', file_extension: '.ts' });
  const ex = request('execute_request', { code: '1' });
  await h.receive(ex);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(of(out, ex.header.msg_id).length, 0, 'nothing before the engine is loaded');
  loaded();
  await h.idle();
  assert.deepEqual(of(out, ex.header.msg_id).map((s) => s.type), ['execute_input', 'execute_result', 'execute_reply']);
  const statuses = out.sent.filter((s) => s.parent === ex.header.msg_id && s.type === 'status').map((s) => s.content.execution_state);
  assert.deepEqual(statuses, ['busy', 'idle']);
});

test('execute: results, history with outputs, and structured compile errors with the cell line', async () => {
  const { out, h } = setup({
    'const a = 1;\n6 * 7': () => ok([42]),
    'const n: number = "x";': () => ({ ok: false, values: [], thrown: [], diagnostics: [{ line: 1, column: 7, message: "Type 'string' is not assignable to type 'number'.", code: 2322 }] }),
  });
  const a = request('execute_request', { code: 'const a = 1;\n6 * 7' });
  const b = request('execute_request', { code: 'const n: number = "x";' });
  await h.receive(a);
  await h.receive(b);
  await h.idle();
  const res = of(out, a.header.msg_id).find((s) => s.type === 'execute_result')!;
  assert.equal(res.content.data['text/plain'], '42');
  const err = of(out, b.header.msg_id).find((s) => s.type === 'error')!;
  assert.equal(err.content.ename, 'TypeScriptError');
  assert.equal(err.content.evalue, "Type 'string' is not assignable to type 'number'. (TS2322)");
  const tb = (err.content.traceback as string[]).join('\n').replace(/\x1b\[[0-9;]*m/g, '');
  assert.match(tb, /^1:7 - Type 'string' is not assignable to type 'number'\. \(TS2322\)\ncell line 1:\n---->   1 const n: number = "x";\n {16}\^/);
  const hist = request('history_request', { hist_access_type: 'tail', n: 5, output: true, raw: true });
  await h.receive(hist);
  await h.idle();
  assert.deepEqual(of(out, hist.header.msg_id)[0].content.history, [
    [1, 1, ['const a = 1;\n6 * 7', '42']],
    [1, 2, ['const n: number = "x";', null]],
  ]);
});

test('a cell queued behind a failing one is aborted; stop_on_error false lets it run', async () => {
  const { out, h, calls } = setup({ fail: () => ({ ok: false, values: [], diagnostics: [], thrown: [new Error('boom')] }), next: () => ok() });
  const a = request('execute_request', { code: 'fail' });
  const b = request('execute_request', { code: 'next' });
  await h.receive(a);
  await h.receive(b);
  await h.idle();
  assert.equal(of(out, b.header.msg_id).find((s) => s.kind === 'reply')!.content.status, 'aborted');
  assert.deepEqual(calls, ['execute fail']);
  const c = request('execute_request', { code: 'fail', stop_on_error: false });
  const d = request('execute_request', { code: 'next' });
  await h.receive(c);
  await h.receive(d);
  await h.idle();
  assert.equal(of(out, d.header.msg_id).find((s) => s.kind === 'reply')!.content.status, 'ok');
});

test('stopping a job that watches the signal: a GroundlabError [ABORTED] reads like a stopped train, live outputs hear it', async () => {
  const ends: CellEnd[] = [];
  const { out, h, calls } = setup({
    evalRun: async (k) => {
      const sig = k.signal();
      k.onCellEnd((how) => ends.push(how));
      await new Promise<void>((r) => sig.addEventListener('abort', () => r()));
      return { ok: false, values: [], diagnostics: [], thrown: [new GroundlabError('ABORTED', 'scoring was stopped')] };
    },
  });
  const a = request('execute_request', { code: 'evalRun' });
  await h.receive(a);
  await new Promise((r) => setTimeout(r, 10));
  const intr = request('interrupt_request', {}, 'control');
  await h.receive(intr);
  await h.idle();
  assert.equal(out.sent.find((s) => s.parent === intr.header.msg_id && s.kind === 'reply')!.type, 'interrupt_reply');
  const err = of(out, a.header.msg_id).find((s) => s.type === 'error')!;
  assert.equal(err.content.ename, 'Interrupted');
  assert.equal(err.content.evalue, 'the running job stopped at its next step (scoring was stopped)');
  assert.match(err.content.traceback[0], /Interrupted.*; the kernel and its variables are kept$/);
  assert.deepEqual(ends, ['interrupted']);
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(!calls.includes('interrupt'), 'no hard interrupt: the job stopped within the grace time');
});

test('a cell that never asked for the signal is stopped at once (the engine interrupt)', async () => {
  let release!: () => void;
  const { h, calls } = setup({ spin: () => new Promise<ExecOutcome>((r) => (release = () => r({ ok: false, values: [], diagnostics: [], thrown: [Object.assign(new Error('Interrupted asynchronously'))] }))) });
  await h.receive(request('execute_request', { code: 'spin' }));
  await new Promise((r) => setTimeout(r, 10));
  h.interrupt('signal');
  assert.ok(calls.includes('interrupt'));
  release();
  await h.idle();
});

test('complete, inspect, is_complete, comm_info and shutdown', async () => {
  let exited = false;
  const { out, h, calls } = setup({}, undefined, () => (exited = true));
  const reqs = [
    request('complete_request', { code: 'greeting.toU', cursor_pos: 12 }),
    request('inspect_request', { code: 'await openRun(', cursor_pos: 14, detail_level: 0 }),
    request('inspect_request', { code: '1 + ', cursor_pos: 4, detail_level: 0 }),
    request('is_complete_request', { code: 'function f() {' }),
    request('comm_info_request', {}),
  ];
  for (const r of reqs) await h.receive(r);
  await h.idle();
  const reply = (r: Request) => out.sent.find((s) => s.parent === r.header.msg_id && s.kind === 'reply')!;
  assert.deepEqual(reply(reqs[0]).content, { status: 'ok', matches: ['toUpperCase'], cursor_start: 9, cursor_end: 12, metadata: {} });
  assert.deepEqual(reply(reqs[1]).content, { status: 'ok', found: true, data: { 'text/plain': 'openRun(dir: string): Promise<Run>' }, metadata: {} });
  assert.equal(reply(reqs[2]).content.found, false);
  assert.deepEqual(reply(reqs[3]).content, { status: 'incomplete', indent: '  ' });
  assert.deepEqual(reply(reqs[4]).content, { status: 'ok', comms: {} });
  const sd = request('shutdown_request', { restart: false }, 'control');
  await h.receive(sd);
  assert.deepEqual(reply(sd).content, { status: 'ok', restart: false });
  assert.ok(exited && calls.includes('close'));
});

test('a GroundlabError in a notebook gives the API hint, not the CLI flag', async () => {
  const err = new GroundlabError('NOT_FOUND', 'run directory runs/x does not exist', { hint: 'give the --out folder of a `groundlab train` run', codeHint: 'give the folder of a trained run (the `out` of `train({ out })`)' });
  const { out, h } = setup({ open: () => ({ ok: false, values: [], diagnostics: [], thrown: [err] }) });
  const a = request('execute_request', { code: 'open' });
  await h.receive(a);
  await h.idle();
  const e = of(out, a.header.msg_id).find((s) => s.type === 'error')!;
  const tb = (e.content.traceback as string[]).join('\n').replace(/\x1b\[[0-9;]*m/g, '');
  assert.equal(e.content.evalue, '[NOT_FOUND] run directory runs/x does not exist');
  assert.match(tb, /^GroundlabError \[NOT_FOUND\]: run directory runs\/x does not exist\n  hint: give the folder of a trained run \(the `out` of `train\(\{ out \}\)`\)$/);
  assert.doesNotMatch(tb, /--out/);
});

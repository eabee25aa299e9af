/**
 * The kernel's message handler: a request in, messages out (through an Outbox), with no sockets
 * and no compiler of its own: the Engine runs code. Testable with a fake engine and a recording
 * outbox (test/kernel/handler.test.ts); transport.ts gives it real sockets and engine.ts tslab.
 *
 * What it does beyond a plain REPL kernel:
 *  - shell requests run one at a time in arrival order; execute requests that arrived before a
 *    failing cell finished are answered "aborted" (stop_on_error);
 *  - interrupts abort the running cell's AbortSignal (what `interruptSignal()` returns to library
 *    code such as `train`); a cell whose work watches the signal is given time to stop at its next
 *    step and save, then ends as "Interrupted"; a second interrupt, or a cell that never asked for
 *    the signal, falls back to the engine's hard interrupt;
 *  - history (tail, range, search), comm_info, shutdown on shell and control, usage;
 *  - cell-end callbacks, so live outputs (progress bars) can show how their job ended.
 */
import * as os from 'node:os';
import * as util from 'node:util';
import { describeError, formatPlain, BOLD_RED, RESET, type CellDiagnostic, type ErrorContent } from './describe';
import { History, type HistoryRequest } from './history';
import type { Outbox } from './transport';
import { PROTOCOL_VERSION, type Header, type Request } from './wire';

/** What running one cell gave. */
export interface ExecOutcome {
  ok: boolean;
  /** Last-expression values, in order. */
  values: unknown[];
  diagnostics: CellDiagnostic[];
  thrown: unknown[];
  /** The JavaScript that ran (for error lines). */
  js?: string;
}

export interface CompleteResult {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
}

export type IsCompleteResult = { status: 'complete' | 'invalid' | 'unknown' } | { status: 'incomplete'; indent: string };

/** The language side of the kernel. */
export interface Engine {
  /** Load the compiler and the library (slow, synchronous parts allowed). */
  load(): Promise<void>;
  execute(code: string): Promise<ExecOutcome>;
  complete(code: string, cursor: number): CompleteResult;
  /** text/plain for Shift-Tab at `cursor`, or undefined when there is nothing to show. */
  inspect(code: string, cursor: number, detail: number): string | undefined;
  isComplete(code: string): IsCompleteResult;
  /** Stop the running cell now (tslab's interrupt; SIGINT stops synchronous code by itself). */
  interrupt(): void;
  close(): void;
  languageInfo(): Record<string, unknown>;
  banner(): string;
  /** A line for the first cell when something is wrong (library not built, no backend). */
  problem(): string | undefined;
}

/** How a cell ended, as cell-end callbacks are told. */
export type CellEnd = 'ok' | 'error' | 'interrupted';

export interface HandlerOptions {
  version: string;
  /** A cell's last-expression value as a MIME bundle (null: do not show it). */
  bundle?: (value: unknown) => Promise<Record<string, unknown> | null> | Record<string, unknown> | null;
  log?: (line: string) => void;
  /** Seconds a job watching the interrupt signal gets to stop before the hard interrupt. */
  graceMs?: number;
  /** Milliseconds a job watching the signal gets at shutdown to save. */
  shutdownGraceMs?: number;
  /** Called after the shutdown reply is out (the process exits there). */
  exit?: () => void;
  now?: () => number;
}

export class Cell {
  readonly controller = new AbortController();
  signalUsed = false;
  interrupts = 0;
  done = false;
  readonly endCallbacks: ((how: CellEnd) => void)[] = [];
  constructor(
    readonly request: Request,
    readonly code: string,
    readonly count: number,
  ) {}
}

function defaultBundle(v: unknown): Record<string, unknown> {
  return { 'text/plain': typeof v === 'string' ? util.inspect(v) : util.inspect(v, { depth: 3, colors: false }) };
}

export class KernelHandler {
  readonly history = new History();
  private execCount = 0;
  private current: Cell | undefined;
  private last: Cell | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Execute requests numbered below this are answered "aborted" (they were queued when a cell failed). */
  private abortQueuedBefore = -Infinity;
  /** Shell requests received so far: a sequence number, not a clock (two requests can share a millisecond). */
  private receivedCount = 0;
  private readyPromise: Promise<void> | undefined;
  private loadError: unknown;
  private announced = false;
  private readonly log: (line: string) => void;
  private readonly now: () => number;

  constructor(
    private readonly out: Outbox,
    private readonly engine: Engine,
    private readonly opts: HandlerOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
  }

  /** Start loading the engine (once); requests other than kernel_info wait for it. */
  ready(): Promise<void> {
    this.readyPromise ??= this.engine.load().catch((e: unknown) => {
      this.loadError = e;
      this.log(`engine failed to load: ${formatPlain(e)}`);
    });
    return this.readyPromise;
  }

  /** The running cell, or the last one (output printed after a cell ended goes to it). */
  get activeCell(): Cell | undefined {
    return this.current ?? this.last;
  }

  // ------------------------------------------------------------- what library code reaches

  stream(name: 'stdout' | 'stderr', text: string): void {
    const cell = this.activeCell;
    if (cell && text) void this.out.publish('stream', { name, text }, cell.request.header);
  }

  /** display_data, or update_display_data for an output with that display id. */
  display(data: Record<string, unknown>, metadata: Record<string, unknown>, displayId: string | undefined, update: boolean): void {
    const cell = this.activeCell;
    if (!cell) return;
    if (update && !displayId) return; // nothing to update
    const transient = displayId ? { display_id: displayId } : {};
    void this.out.publish(update ? 'update_display_data' : 'display_data', { data, metadata, transient }, cell.request.header);
  }

  clearOutput(wait: boolean): void {
    const cell = this.activeCell;
    if (cell) void this.out.publish('clear_output', { wait }, cell.request.header);
  }

  /** The running cell's AbortSignal (marks the cell as one that stops on it). */
  signal(): AbortSignal {
    const cell = this.activeCell;
    if (!cell) return new AbortController().signal;
    cell.signalUsed = true;
    return cell.controller.signal;
  }

  /** Call `cb` when the running cell ends, with how it ended. */
  onCellEnd(cb: (how: CellEnd) => void): void {
    const cell = this.current;
    if (cell && !cell.done) cell.endCallbacks.push(cb);
  }

  // ------------------------------------------------------------- requests

  /**
   * Take one request. kernel_info is answered at once (a frontend shows the kernel as connected
   * while the compiler loads); other shell requests queue behind the loading and each other;
   * control requests are answered at once.
   */
  receive(req: Request): Promise<void> {
    const type = req.header.msg_type;
    if (req.channel === 'control' || type === 'kernel_info_request') return this.busy(req, () => this.handle(req));
    const received = ++this.receivedCount;
    this.queue = this.queue
      .then(() => this.ready())
      .then(() => this.busy(req, () => (type === 'execute_request' ? this.execute(req, received) : this.handle(req))));
    return Promise.resolve();
  }

  /** Resolves when every queued shell request is answered (tests). */
  idle(): Promise<unknown> {
    return this.queue;
  }

  private async busy(req: Request, fn: () => Promise<unknown>): Promise<void> {
    void this.out.publish('status', { execution_state: 'busy' }, req.header);
    try {
      await fn();
    } catch (e) {
      this.log(`handler for ${req.header.msg_type} failed: ${formatPlain(e)}`);
    } finally {
      void this.out.publish('status', { execution_state: 'idle' }, req.header);
    }
  }

  private reply(req: Request, type: string, content: object): Promise<void> {
    return this.out.reply(req, type, content);
  }

  kernelInfo(): Record<string, unknown> {
    return {
      status: 'ok',
      protocol_version: PROTOCOL_VERSION,
      implementation: 'groundlab',
      implementation_version: this.opts.version,
      language_info: this.engine.languageInfo(),
      banner: this.engine.banner(),
      help_links: [],
      debugger: false,
    };
  }

  private async handle(req: Request): Promise<unknown> {
    const c = req.content;
    switch (req.header.msg_type) {
      case 'kernel_info_request':
        return this.reply(req, 'kernel_info_reply', this.kernelInfo());
      case 'complete_request': {
        const cursor = typeof c.cursor_pos === 'number' ? c.cursor_pos : String(c.code ?? '').length;
        let r: CompleteResult;
        try {
          r = this.engine.complete(String(c.code ?? ''), cursor);
        } catch (e) {
          this.log(`complete failed: ${formatPlain(e)}`);
          r = { matches: [], cursor_start: cursor, cursor_end: cursor, metadata: {} };
        }
        return this.reply(req, 'complete_reply', { status: 'ok', ...r });
      }
      case 'inspect_request': {
        const code = String(c.code ?? '');
        const cursor = typeof c.cursor_pos === 'number' ? c.cursor_pos : code.length;
        let text: string | undefined;
        try {
          text = this.engine.inspect(code, cursor, Number(c.detail_level ?? 0));
        } catch (e) {
          this.log(`inspect failed: ${formatPlain(e)}`);
        }
        return this.reply(req, 'inspect_reply', text ? { status: 'ok', found: true, data: { 'text/plain': text }, metadata: {} } : { status: 'ok', found: false, data: {}, metadata: {} });
      }
      case 'is_complete_request':
        return this.reply(req, 'is_complete_reply', this.engine.isComplete(String(c.code ?? '')));
      case 'comm_info_request':
        // No comms are open: the groundlab widgets are MIME renderers, not comm-based widgets.
        return this.reply(req, 'comm_info_reply', { status: 'ok', comms: {} });
      case 'comm_open':
        // Unknown comm targets are closed at once so the frontend does not wait on them.
        return this.out.publish('comm_close', { comm_id: c.comm_id, data: {} }, req.header);
      case 'comm_msg':
      case 'comm_close':
        return undefined;
      case 'history_request':
        return this.reply(req, 'history_reply', { status: 'ok', history: this.history.query(c as HistoryRequest) });
      case 'interrupt_request':
        this.interrupt('message');
        return this.reply(req, 'interrupt_reply', { status: 'ok' });
      case 'shutdown_request':
        return this.shutdown(req);
      case 'usage_request':
        return this.reply(req, 'usage_reply', { hostname: os.hostname(), pid: process.pid, kernel_memory: process.memoryUsage().rss });
      case 'debug_request':
        return this.reply(req, 'debug_reply', { type: 'response', request_seq: c.seq, success: false, command: c.command, message: 'the groundlab kernel has no debugger' });
      default:
        this.log(`unknown message type ${req.header.msg_type}`);
        return undefined;
    }
  }

  private async shutdown(req: Request): Promise<void> {
    const restart = !!req.content.restart;
    await this.reply(req, 'shutdown_reply', { status: 'ok', restart });
    // A running job that watches the interrupt signal (e.g. train) gets a moment to stop at its
    // next step and save its checkpoint before the process ends.
    const cell = this.current;
    if (cell) {
      cell.controller.abort(new Error('the kernel is shutting down'));
      if (cell.signalUsed) {
        const until = this.now() + (this.opts.shutdownGraceMs ?? 3000);
        while (!cell.done && this.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
    }
    try {
      this.engine.close();
    } catch {
      /* ignore */
    }
    this.opts.exit?.();
  }

  // ------------------------------------------------------------- interrupts

  interrupt(how: 'signal' | 'message'): void {
    const cell = this.current;
    if (!cell) return;
    cell.interrupts++;
    this.log(`interrupt (${how}) #${cell.interrupts} of cell ${cell.count}`);
    if (!cell.controller.signal.aborted) cell.controller.abort(new Error('interrupted by the user'));
    if (cell.interrupts >= 2 || !cell.signalUsed) {
      this.engine.interrupt();
    } else {
      // Give the work that watches the signal time to stop at its next step and save.
      const t = setTimeout(() => {
        if (!cell.done) this.engine.interrupt();
      }, this.opts.graceMs ?? 60_000);
      t.unref?.();
    }
  }

  // ------------------------------------------------------------- execute

  private async execute(req: Request, received: number): Promise<void> {
    const c = req.content;
    const code = String(c.code ?? '');
    const silent = !!c.silent;
    const store = c.store_history !== false && !silent;
    if (received < this.abortQueuedBefore) {
      await this.reply(req, 'execute_reply', { status: 'aborted', execution_count: this.execCount });
      return;
    }
    if (store) this.execCount++;
    const cell = new Cell(req, code, this.execCount);
    if (!silent) void this.out.publish('execute_input', { code, execution_count: cell.count }, req.header);
    if (store) this.history.add(cell.count, code);
    if (this.loadError) {
      const err: ErrorContent = {
        ename: 'KernelSetupError',
        evalue: String((this.loadError as Error)?.message ?? this.loadError),
        traceback: [`${BOLD_RED}the groundlab kernel could not start its TypeScript compiler${RESET}: ${formatPlain(this.loadError)}`, 'run `npm ci` in the groundlab checkout'],
      };
      void this.out.publish('error', err, req.header);
      await this.reply(req, 'execute_reply', { status: 'error', execution_count: cell.count, ...err });
      return;
    }
    this.current = cell;
    this.last = cell;
    if (!this.announced) {
      this.announced = true;
      const problem = this.engine.problem();
      if (problem) this.stream('stderr', problem);
    }
    let outcome: ExecOutcome;
    try {
      outcome = await this.engine.execute(code);
    } catch (e) {
      outcome = { ok: false, values: [], diagnostics: [], thrown: [e] };
    }
    cell.done = true;
    this.current = undefined;
    let ok = outcome.ok;
    if (ok && cell.controller.signal.aborted) {
      ok = false;
      const e = new Error('interrupted');
      e.name = 'Interrupted';
      outcome.thrown.push(e);
    }
    const err = ok
      ? undefined
      : describeError({ code, diagnostics: outcome.diagnostics, thrown: outcome.thrown, js: outcome.js, aborted: cell.controller.signal.aborted, signalUsed: cell.signalUsed, interrupts: cell.interrupts });
    // Live outputs hear how the cell ended before its reply (so their last update is in the cell).
    const end: CellEnd = !err ? 'ok' : err.ename === 'Interrupted' ? 'interrupted' : 'error';
    for (const cb of cell.endCallbacks) {
      try {
        cb(end);
      } catch (e) {
        this.log(`cell-end callback failed: ${formatPlain(e)}`);
      }
    }
    if (!err) {
      let first = true;
      for (const v of outcome.values) {
        if (v === undefined || silent) continue;
        const data = await this.bundle(v);
        if (!data) continue;
        void this.out.publish('execute_result', { execution_count: cell.count, data, metadata: {} }, req.header);
        if (first && store && typeof data['text/plain'] === 'string') this.history.setOutput(cell.count, data['text/plain']);
        first = false;
      }
      await this.reply(req, 'execute_reply', { status: 'ok', execution_count: cell.count, user_expressions: {}, payload: [] });
      return;
    }
    void this.out.publish('error', err, req.header);
    if (c.stop_on_error !== false) this.abortQueuedBefore = this.receivedCount + 1; // every request received so far
    await this.reply(req, 'execute_reply', { status: 'error', execution_count: cell.count, ...err });
  }

  private async bundle(v: unknown): Promise<Record<string, unknown> | null> {
    if (this.opts.bundle) {
      try {
        const b = await this.opts.bundle(v);
        if (b === null) return null; // a value that asks not to be shown (a display handle)
        if (b) return b;
      } catch (e) {
        this.log(`mime bundle failed: ${formatPlain(e)}`);
      }
    }
    return defaultBundle(v);
  }

  /** Errors from code still running after its cell ended go to that cell as stderr. */
  background(what: string, err: unknown): void {
    if (this.last) this.stream('stderr', `${what}: ${formatPlain(err)}\n`);
    else this.log(`${what}: ${formatPlain(err)}`);
  }
}

export type { Header };

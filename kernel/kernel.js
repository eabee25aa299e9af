// @ts-check
/**
 * The groundlab kernel: tslab's TypeScript converter and executor behind our own Jupyter protocol
 * layer. What this layer adds to tslab 1.0.22:
 *  - `error` messages with ename/evalue/traceback (tslab only prints errors to stderr); a
 *    GroundlabError shows its code, message, hint and the notebook line instead of a stack;
 *  - the last expression goes out as an `execute_result` with a rich MIME bundle when groundlab
 *    knows how to show the value (vega-lite specs, arquero tables, `toMimeBundle()` objects);
 *  - interrupts: SIGINT and `interrupt_request` abort the running cell's AbortSignal (what
 *    `interruptSignal()` returns to library code such as `train`); a cell whose work watches the
 *    signal is given time to stop at its next step and save, then the cell ends as interrupted; a
 *    second interrupt (or a cell that never asked for the signal) falls back to tslab's interrupt;
 *  - `comm_info_request` answered with `comm_info_reply`, `shutdown_request` on shell and control,
 *    `history_request`, `execute_input`, aborted replies for cells queued behind an error;
 *  - a bridge on globalThis (Symbol.for('groundlab.kernel')) through which src/notebook sends full
 *    MIME bundles, updates displays in place and reads the interrupt signal.
 */
const util = require('node:util');
const crypto = require('node:crypto');
const path = require('node:path');
const { Protocol, PROTOCOL_VERSION } = require('./protocol');
const { ROOT, installRuntimeResolver, installTypeScriptOverlay } = require('./resolve');

const BRIDGE = Symbol.for('groundlab.kernel');
const MIME_HOOK = Symbol.for('groundlab.mimeBundle');
const GRACE_MS = Number(process.env.GROUNDLAB_INTERRUPT_GRACE_MS || 60000);

const log = (msg) => {
  try {
    origStderrWrite(`[groundlab kernel] ${msg}\n`);
  } catch {
    /* ignore */
  }
};
const origStdoutWrite = process.stdout.write.bind(process.stdout);
const origStderrWrite = process.stderr.write.bind(process.stderr);
/** @type {any} */ (process).__groundlabLog = log;

const RED = '\x1b[0;31m';
const BOLD_RED = '\x1b[1;31m';
const GREEN = '\x1b[0;32m';
const CYAN = '\x1b[0;36m';
const RESET = '\x1b[0m';

/** One running (or last) cell. */
class Cell {
  /** @param {any} msg @param {string} code @param {number} count */
  constructor(msg, code, count) {
    this.msg = msg;
    this.code = code;
    this.count = count;
    this.controller = new AbortController();
    this.signalUsed = false;
    this.interrupts = 0;
    /** @type {unknown[][]} what tslab's executor reported through console.error */
    this.errors = [];
    /** @type {unknown[]} last-expression values */
    this.results = [];
    this.done = false;
  }
}

class GroundlabKernel {
  /** @param {object} conn connection info @param {{ cwd?: string }} [opts] */
  constructor(conn, opts = {}) {
    this.cwd = opts.cwd || process.cwd();
    this.proto = new Protocol(/** @type {any} */ (conn));
    this.execCount = 0;
    /** @type {Cell | undefined} */
    this.current = undefined;
    /** @type {Cell | undefined} */
    this.last = undefined;
    /** @type {Promise<unknown>} */
    this.queue = Promise.resolve();
    this.abortQueuedBefore = 0; // execute requests received before this time are aborted (after an error)
    this.version = require(path.join(ROOT, 'package.json')).version;
    this.library = undefined;
    this.libraryError = undefined;
    this.announced = false;
    /** @type {string | undefined} */
    this.lastJs = undefined;
    /** @type {Promise<unknown>} resolves when the compiler and library are loaded */
    this.ready = Promise.resolve();
    /** @type {unknown} */
    this.setupError = undefined;
    /** @type {(() => void) | undefined} */
    this.startSetup = undefined;
  }

  /** Load tslab's compiler and executor, the library, and the bridge. */
  setup() {
    const kernel = this;
    const { createConverter } = require('tslab/dist/converter');
    const { createExecutor } = require('tslab/dist/executor');
    const convs = {
      _node: /** @type {any} */ (undefined),
      _browser: /** @type {any} */ (undefined),
      get node() {
        return (this._node ??= createConverter({ isJS: false, isBrowser: false }));
      },
      get browser() {
        return (this._browser ??= createConverter({ isJS: false, isBrowser: true }));
      },
      close() {
        this._node?.close();
        this._browser?.close();
      },
    };
    this.convs = convs;
    // Remember the JavaScript that tslab runs for each cell, to map stack lines back to the cell.
    const vm = require('node:vm');
    const runInThisContext = vm.runInThisContext;
    vm.runInThisContext = function (code, options) {
      if (typeof code === 'string' && /^\(?(async )?function\(exports, require\) \{ /.test(code)) kernel.lastJs = code;
      return runInThisContext.call(vm, code, options);
    };
    convs.node; // warm the compiler (several hundred ms)
    this.executor = createExecutor(this.cwd, convs, {
      log: (...args) => {
        const cell = kernel.current;
        if (cell) cell.results.push(args[0]);
        else origStdoutWrite(util.format(...args) + '\n');
      },
      error: (...args) => {
        const cell = kernel.current;
        if (cell) cell.errors.push(args);
        else log(util.format(...args));
      },
    });
    this.loadLibrary();
  }

  /** Preload groundlab (dist/) and start its engine so the first cell is fast and tf ops work. */
  loadLibrary() {
    try {
      this.library = require(ROOT);
    } catch (e) {
      this.libraryError = e;
      log(`groundlab could not be loaded from ${ROOT}: ${e && /** @type {any} */ (e).message}`);
      return;
    }
    if (typeof this.library.initEngine === 'function') {
      this.enginePromise = this.library.initEngine({ log: false }).then(
        (info) => (this.engineInfo = info),
        (e) => (this.engineError = e),
      );
    }
  }

  /** The one line that tells which backend computes (shown once, in the first cell's output). */
  engineLine() {
    if (this.libraryError)
      return `${BOLD_RED}groundlab is not built or cannot load${RESET} (${/** @type {any} */ (this.libraryError).message}); run \`npm run build\` in ${ROOT}\n`;
    if (this.engineError) return `${BOLD_RED}groundlab: no backend${RESET}: ${/** @type {any} */ (this.engineError).message}\n`;
    const i = this.engineInfo;
    if (!i) return '';
    const simd = i.simd === undefined ? '' : i.simd ? ', SIMD' : ', no SIMD';
    return `groundlab ${this.version}: backend ${i.backend} (${i.source}${simd}), ${i.threads || 'native'} thread${i.threads === 1 ? '' : 's'}\n`;
  }

  installBridge() {
    const kernel = this;
    const tslabJupyter = require('tslab/dist/jupyter');
    // tslab's own `display` API (import * as tslab from "tslab") goes through the same channel.
    tslabJupyter.lastWriteDisplayData = (data, update) => kernel.sendDisplay(data, update);
    /** @type {any} */ (globalThis)[BRIDGE] = {
      version: 1,
      kernel: 'groundlab',
      /**
       * Send a MIME bundle. `displayId` makes it updatable; `update` replaces the output that has it.
       * @param {{ data: Record<string, unknown>; metadata?: Record<string, unknown> }} bundle
       * @param {{ displayId?: string; update?: boolean }} [opts]
       */
      display(bundle, opts = {}) {
        kernel.sendDisplay(
          { data: bundle.data, metadata: bundle.metadata || {}, transient: opts.displayId ? { display_id: opts.displayId } : {} },
          !!opts.update,
        );
      },
      newDisplayId() {
        return crypto.randomBytes(8).toString('hex');
      },
      /** The AbortSignal of the running cell: aborted when the user interrupts the kernel. */
      signal() {
        const cell = kernel.current || kernel.last;
        if (!cell) return new AbortController().signal;
        cell.signalUsed = true;
        return cell.controller.signal;
      },
    };
  }

  /** @param {any} data @param {boolean} update */
  sendDisplay(data, update) {
    const cell = this.current || this.last;
    if (!cell) return;
    const content = { data: data.data, metadata: data.metadata || {}, transient: data.transient || {} };
    if (update && !content.transient.display_id) return; // nothing to update
    this.proto.publish(update ? 'update_display_data' : 'display_data', content, cell.msg.header);
  }

  /**
   * Bind the sockets first and answer kernel_info at once; then load tslab's compiler (several
   * seconds), the library and its engine, and warm the compiler with groundlab's types. Requests
   * other than kernel_info wait for that (`this.ready`).
   */
  async start() {
    installRuntimeResolver();
    installTypeScriptOverlay(this.cwd.replace(/\\/g, '/'));
    this.installBridge();
    process.on('SIGINT', () => this.interrupt('signal'));
    process.on('uncaughtException', (err) => this.background('uncaught exception', err));
    process.on('unhandledRejection', (reason) => this.background('unhandled promise rejection', reason));
    await this.proto.start({ shell: (m) => this.onShell(m), control: (m) => this.onControl(m) });
    this.proto.status('starting', {});
    // Exit with the process that started us (a killed notebook server must not leave kernels behind).
    const ppid = process.ppid;
    setInterval(() => {
      if (process.ppid !== ppid) {
        log('parent process is gone; exiting');
        process.exit(0);
      }
    }, 2000).unref();
    log(`started (pid ${process.pid}, cwd ${this.cwd})`);
    this.ready = new Promise((resolve) => {
      let started = false;
      const go = () => {
        if (started) return;
        started = true;
        const t = Date.now();
        try {
          this.setup();
        } catch (e) {
          this.setupError = e;
          log(`setup failed: ${this.formatPlain(e)}`);
          return resolve(undefined);
        }
        // Type-check an import of groundlab once, so the first cell does not pay for loading its types.
        try {
          this.convs.node.convert('', 'import * as __groundlabWarm from "groundlab";\n');
        } catch {
          /* only a warm-up */
        }
        log(`compiler and library ready in ${Date.now() - t} ms`);
        resolve(undefined);
      };
      // The heavy, synchronous loading starts once the frontend has its kernel_info_reply (so it
      // shows the kernel as connected at once), or after 1.5 s whatever happens.
      this.startSetup = () => setTimeout(go, 20);
      setTimeout(go, 1500);
    });
  }

  /** Errors from code still running after its cell ended go to that cell as stderr. */
  background(what, err) {
    const text = `${what}: ${this.formatPlain(err)}\n`;
    if (this.last && !this.proto.closed) this.stream('stderr', text, this.last);
    else log(text);
  }

  /** @param {'stdout' | 'stderr'} name @param {string} text @param {Cell} cell */
  stream(name, text, cell) {
    if (text) this.proto.publish('stream', { name, text }, cell.msg.header);
  }

  /** Route process.stdout/stderr to the cell (and keep it so for output after the cell ends, as tslab does). */
  redirect(cell) {
    const mk = (name) =>
      /** @type {any} */ (
        (chunk, encoding, cb) => {
          const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? /** @type {BufferEncoding} */ (encoding) : 'utf8');
          this.stream(name, text, this.current || cell);
          if (typeof encoding === 'function') encoding();
          else if (typeof cb === 'function') cb();
          return true;
        }
      );
    process.stdout.write = mk('stdout');
    process.stderr.write = mk('stderr');
  }

  // ---------------------------------------------------------------- channels

  /**
   * Shell requests run one at a time in arrival order (as in ipykernel), but the socket is read at
   * once so that each request's arrival time is known: execute requests that arrived before a
   * failing cell finished are answered "aborted" (stop_on_error).
   */
  onShell(msg) {
    const received = Date.now();
    const type = msg.header.msg_type;
    if (type === 'kernel_info_request') {
      return this.busy(msg, () => this.handle(msg, this.proto.shell)).then(() => this.startSetup?.());
    }
    this.queue = this.queue.then(() => this.ready).then(() =>
      type === 'execute_request' ? this.busy(msg, () => this.execute(msg, received)) : this.busy(msg, () => this.handle(msg, this.proto.shell)),
    );
    return Promise.resolve();
  }

  async onControl(msg) {
    await this.busy(msg, () => this.handle(msg, this.proto.control));
  }

  async busy(msg, fn) {
    this.proto.status('busy', msg.header);
    try {
      await fn();
    } catch (e) {
      log(`handler for ${msg.header.msg_type} failed: ${this.formatPlain(e)}`);
    } finally {
      this.proto.status('idle', msg.header);
    }
  }

  reply(sock, msg, type, content) {
    return this.proto.send(sock, type, content, msg.header, msg.identities);
  }

  async handle(msg, sock) {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case 'kernel_info_request':
        return this.reply(sock, msg, 'kernel_info_reply', this.kernelInfo());
      case 'complete_request': {
        let info;
        try {
          info = this.executor.complete(c.code, c.cursor_pos);
        } catch (e) {
          info = { start: c.cursor_pos, end: c.cursor_pos, candidates: [] };
          log(`complete failed: ${this.formatPlain(e)}`);
        }
        return this.reply(sock, msg, 'complete_reply', {
          status: 'ok',
          matches: info.candidates,
          cursor_start: info.start,
          cursor_end: info.end,
          metadata: {},
        });
      }
      case 'inspect_request': {
        let info;
        try {
          info = this.executor.inspect(c.code, c.cursor_pos);
        } catch (e) {
          log(`inspect failed: ${this.formatPlain(e)}`);
        }
        if (!info) return this.reply(sock, msg, 'inspect_reply', { status: 'ok', found: false, data: {}, metadata: {} });
        const { printQuickInfo } = require('tslab/dist/inspect');
        return this.reply(sock, msg, 'inspect_reply', { status: 'ok', found: true, data: { 'text/plain': printQuickInfo(info) }, metadata: {} });
      }
      case 'is_complete_request': {
        const { isCompleteCode } = require('tslab/dist/converter');
        const r = isCompleteCode(c.code);
        return this.reply(sock, msg, 'is_complete_reply', r.completed ? { status: 'complete' } : { status: 'incomplete', indent: r.indent || '' });
      }
      case 'comm_info_request':
        // No comms are open: the groundlab widgets are MIME renderers, not comm-based widgets.
        return this.reply(sock, msg, 'comm_info_reply', { status: 'ok', comms: {} });
      case 'comm_open':
        // Unknown comm targets are closed at once so the frontend does not wait on them.
        return this.proto.publish('comm_close', { comm_id: c.comm_id, data: {} }, msg.header);
      case 'comm_msg':
      case 'comm_close':
        return;
      case 'history_request':
        return this.reply(sock, msg, 'history_reply', { status: 'ok', history: [] });
      case 'interrupt_request':
        this.interrupt('message');
        return this.reply(sock, msg, 'interrupt_reply', { status: 'ok' });
      case 'shutdown_request':
        return this.shutdown(msg, sock);
      case 'usage_request':
        return this.reply(sock, msg, 'usage_reply', { hostname: require('node:os').hostname(), pid: process.pid, kernel_memory: process.memoryUsage().rss });
      case 'debug_request':
        return this.reply(sock, msg, 'debug_reply', { type: 'response', request_seq: c.seq, success: false, command: c.command, message: 'the groundlab kernel has no debugger' });
      default:
        log(`unknown message type ${msg.header.msg_type}`);
    }
  }

  kernelInfo() {
    let tsVersion = '5';
    try {
      tsVersion = require('@tslab/typescript-for-tslab').version;
    } catch {
      /* keep default */
    }
    return {
      status: 'ok',
      protocol_version: PROTOCOL_VERSION,
      implementation: 'groundlab',
      implementation_version: this.version,
      language_info: {
        name: 'typescript',
        version: tsVersion,
        mimetype: 'text/typescript',
        file_extension: '.ts',
        // As in tslab: makes JupyterLab and Notebook highlight TypeScript.
        codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
      },
      banner: `groundlab ${this.version} (TypeScript on Node ${process.version}, tslab)`,
      help_links: [],
      debugger: false,
    };
  }

  async shutdown(msg, sock) {
    const restart = !!(msg.content && msg.content.restart);
    await this.reply(sock, msg, 'shutdown_reply', { status: 'ok', restart });
    // A running job that watches the interrupt signal (e.g. train) gets a moment to stop at its
    // next step and save its checkpoint before the process ends.
    const cell = this.current;
    if (cell) {
      cell.controller.abort(new Error('the kernel is shutting down'));
      if (cell.signalUsed) {
        const until = Date.now() + Number(process.env.GROUNDLAB_SHUTDOWN_GRACE_MS || 3000);
        while (!cell.done && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      }
    }
    this.proto.status('idle', msg.header);
    setTimeout(async () => {
      try {
        this.convs?.close();
      } catch {
        /* ignore */
      }
      await this.proto.close();
      process.exit(0);
    }, 50);
  }

  // ---------------------------------------------------------------- interrupts

  /** @param {'signal' | 'message'} how */
  interrupt(how) {
    const cell = this.current;
    if (!cell) return;
    cell.interrupts++;
    log(`interrupt (${how}) #${cell.interrupts} of cell ${cell.count}`);
    if (!cell.controller.signal.aborted) cell.controller.abort(new Error('interrupted by the user'));
    if (cell.interrupts >= 2 || !cell.signalUsed) {
      this.executor.interrupt();
    } else {
      // Give the work that watches the signal time to stop at its next step and save.
      const t = setTimeout(() => {
        if (!cell.done) this.executor.interrupt();
      }, GRACE_MS);
      t.unref();
    }
  }

  // ---------------------------------------------------------------- execute

  async execute(msg, received) {
    const c = msg.content;
    const silent = !!c.silent;
    const store = c.store_history !== false && !silent;
    if (received < this.abortQueuedBefore) {
      return this.reply(this.proto.shell, msg, 'execute_reply', { status: 'aborted', execution_count: this.execCount });
    }
    if (store) this.execCount++;
    if (this.setupError) {
      const err = { ename: 'KernelSetupError', evalue: String(/** @type {any} */ (this.setupError).message), traceback: [`${BOLD_RED}the groundlab kernel could not start its TypeScript compiler${RESET}: ${/** @type {any} */ (this.setupError).message}`, `run \`npm ci\` in ${ROOT}`] };
      this.proto.publish('error', err, msg.header);
      return this.reply(this.proto.shell, msg, 'execute_reply', { status: 'error', execution_count: this.execCount, ...err });
    }
    const cell = new Cell(msg, String(c.code ?? ''), this.execCount);
    if (!silent) this.proto.publish('execute_input', { code: cell.code, execution_count: cell.count }, msg.header);
    this.current = cell;
    this.last = cell;
    this.redirect(cell);
    // The engine must be ready before the first cell computes anything, announced or not.
    await this.enginePromise;
    if (!this.announced && process.env.GROUNDLAB_QUIET !== '1') {
      this.announced = true;
      this.stream('stdout', this.engineLine(), cell);
    }
    let ok = false;
    try {
      ok = await this.executor.execute(expandShorthand(cell.code));
    } catch (e) {
      cell.errors.push([e]);
    }
    if (!ok && !cell.errors.some((a) => typeof a[0] === 'string')) await this.keepImports(cell);
    cell.done = true;
    this.current = undefined;
    if (ok && cell.controller.signal.aborted) {
      ok = false;
      cell.errors.push([interruptedError()]);
    }
    if (ok) {
      for (const v of cell.results) {
        if (v === undefined) continue;
        const data = await this.mimeBundle(v);
        if (data) this.proto.publish('execute_result', { execution_count: cell.count, data, metadata: {} }, msg.header);
      }
      return this.reply(this.proto.shell, msg, 'execute_reply', { status: 'ok', execution_count: cell.count, user_expressions: {}, payload: [] });
    }
    const err = this.describeError(cell);
    this.proto.publish('error', err, msg.header);
    if (c.stop_on_error !== false) this.abortQueuedBefore = Date.now();
    return this.reply(this.proto.shell, msg, 'execute_reply', { status: 'error', execution_count: cell.count, ...err });
  }

  /**
   * tslab forgets every declaration of a cell that fails at run time, imports included, so one
   * error after `import { train } from "groundlab"` would leave `train` unknown to later cells.
   * Re-run just the cell's import declarations (module loads are cached, so this has no other
   * effect) to keep them, as Python keeps the names bound before an exception.
   * @param {Cell} cell
   */
  async keepImports(cell) {
    const ts = require('@tslab/typescript-for-tslab');
    let imports = '';
    try {
      const sf = ts.createSourceFile('cell.ts', cell.code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
      imports = sf.statements
        .filter((st) => ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st))
        .map((st) => st.getText(sf))
        .join('\n');
    } catch {
      return;
    }
    if (!imports) return;
    const errors = cell.errors.length;
    const results = cell.results.length;
    const js = this.lastJs;
    try {
      await this.executor.execute(imports);
    } catch {
      /* keep the original error */
    }
    this.lastJs = js;
    cell.errors.length = errors; // what the re-run reported does not belong to the cell
    cell.results.length = results;
  }

  /** A MIME bundle for a last-expression value (the library's hook may render images: async). */
  async mimeBundle(v) {
    const hook = /** @type {any} */ (globalThis)[MIME_HOOK];
    if (typeof hook === 'function') {
      try {
        const b = await hook(v);
        if (b === null) return null; // a value that asks not to be shown (a display handle)
        if (b && b.data) return b.data;
      } catch (e) {
        log(`mime bundle failed: ${this.formatPlain(e)}`);
      }
    }
    return { 'text/plain': typeof v === 'string' ? util.inspect(v) : util.inspect(v, { depth: 3, colors: false }) };
  }

  formatPlain(e) {
    if (e instanceof Error) return e.stack || `${e.name}: ${e.message}`;
    return util.inspect(e);
  }

  /**
   * ename / evalue / traceback for a failed cell.
   * @param {Cell} cell
   */
  describeError(cell) {
    const errs = cell.errors;
    // Compile errors: tslab reports them as printf-style lines "LINE:COL - message".
    const diags = errs.filter((a) => typeof a[0] === 'string');
    const thrown = errs.filter((a) => typeof a[0] !== 'string').map((a) => a[0]);
    if (thrown.length === 0 && diags.length > 0) {
      const lines = diags.map((a) => util.format(...a));
      const tb = [];
      for (const l of lines) {
        tb.push(`${RED}${l}${RESET}`);
        const m = /^(?:(\S+) )?(\d+):(\d+) - /.exec(l);
        if (m && !m[1]) tb.push(...this.sourceContext(cell.code, Number(m[2]), Number(m[3])));
      }
      return { ename: 'TypeScriptError', evalue: lines[0].replace(/^\d+:\d+ - /, ''), traceback: tb };
    }
    const e = /** @type {any} */ (thrown[thrown.length - 1]);
    if (isInterrupt(e) || (cell.controller.signal.aborted && !(e && e.name === 'GroundlabError'))) {
      const how = cell.signalUsed && cell.interrupts < 2 ? 'the running job stopped at its next step' : 'the cell was stopped';
      return { ename: 'Interrupted', evalue: how, traceback: [`${BOLD_RED}Interrupted${RESET}: ${how}; the kernel and its variables are kept`] };
    }
    if (e && e.name === 'GroundlabError') {
      const line = this.cellLine(e, cell.code);
      const tb = [`${BOLD_RED}GroundlabError${RESET} [${e.code}]: ${e.message.split('\n')[0]}`];
      for (const extra of String(e.message).split('\n').slice(1)) tb.push(`${CYAN}${extra}${RESET}`);
      if (line) tb.push(...this.sourceContext(cell.code, line, 0));
      return { ename: 'GroundlabError', evalue: `[${e.code}] ${e.message.split('\n')[0]}`, traceback: tb };
    }
    if (e instanceof Error || (e && typeof e.stack === 'string')) {
      const line = this.cellLine(e, cell.code);
      const tb = [`${BOLD_RED}${e.name || 'Error'}${RESET}: ${e.message}`];
      if (line) tb.push(...this.sourceContext(cell.code, line, 0));
      const frames = String(e.stack || '')
        .split('\n')
        .filter((l) => /^\s+at /.test(l))
        .filter((l) => !/\(node:|at node:|\/tslab\/dist\/|\/kernel\/kernel\.js|evalmachine/.test(l))
        .slice(0, 8);
      if (frames.length) tb.push(`${GREEN}stack (library side):${RESET}`, ...frames);
      return { ename: e.name || 'Error', evalue: String(e.message), traceback: tb };
    }
    return { ename: 'Error', evalue: util.inspect(e), traceback: [`${BOLD_RED}thrown${RESET}: ${util.inspect(e)}`] };
  }

  /**
   * The notebook line where an error came from. tslab runs transpiled JavaScript, so the stack
   * points into that; the line is found back in the TypeScript source by the identifiers the
   * JavaScript line shares with it (import aliases such as `groundlab_1.train` count as `train`).
   * @param {any} e @param {string} code @returns {number | undefined} 1-based line in the cell
   */
  cellLine(e, code) {
    const stack = String(e && e.stack || '');
    const m = /evalmachine\.<anonymous>:(\d+):(\d+)/.exec(stack);
    if (!m) return undefined;
    const jsLine = Number(m[1]);
    const js = this.lastJs?.split('\n')[jsLine - 1];
    const srcLines = code.split('\n');
    if (!js) return jsLine <= srcLines.length ? jsLine : undefined;
    return matchLine(js, srcLines, jsLine);
  }

  /** @param {string} code @param {number} line 1-based @param {number} col 1-based, 0 for none */
  sourceContext(code, line, col) {
    const lines = code.split('\n');
    if (line < 1 || line > lines.length) return [];
    const out = [`${GREEN}cell line ${line}:${RESET}`];
    for (let i = Math.max(1, line - 1); i <= Math.min(lines.length, line + 1); i++) {
      out.push(`${i === line ? `${GREEN}---->${RESET}` : '     '} ${String(i).padStart(3)} ${lines[i - 1]}`);
    }
    if (col > 0) out.splice(out.length - (Math.min(lines.length, line + 1) - line), 0, `          ${' '.repeat(col - 1)}${RED}^${RESET}`);
    return out;
  }
}

/**
 * `{ out }` -> `{ out: out }`. tslab rewrites references to earlier cells' variables as
 * `exports.x`, but misses shorthand properties (the checker resolves them to the property), so
 * `train({ out })` with `out` from an earlier cell fails with "out is not defined". The expansion
 * is equivalent JavaScript and keeps line numbers.
 * @param {string} code
 */
function expandShorthand(code) {
  if (!/[{,]\s*[A-Za-z_$][\w$]*\s*[,}=]/.test(code)) return code;
  const ts = require('@tslab/typescript-for-tslab');
  const sf = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  /** @type {number[]} */
  const at = [];
  /** @type {string[]} */
  const names = [];
  const visit = (node) => {
    if (ts.isShorthandPropertyAssignment(node)) {
      at.push(node.name.getEnd());
      names.push(node.name.getText(sf));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  let out = code;
  for (let i = at.length - 1; i >= 0; i--) out = out.slice(0, at[i]) + `: ${names[i]}` + out.slice(at[i]);
  return out;
}

function interruptedError() {
  const e = new Error('interrupted');
  e.name = 'Interrupted';
  return e;
}

function isInterrupt(e) {
  if (!e) return false;
  if (e.name === 'Interrupted') return true;
  if (e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') return true;
  if (e instanceof Error && /^Interrupted asynchronously$/.test(e.message)) return true;
  if (e.name === 'AbortError') return true;
  return false;
}

/**
 * Best TypeScript line for a transpiled JavaScript line: most shared identifiers, ties broken by
 * the nearest line number. Exported for tests.
 * @param {string} js @param {string[]} src @param {number} near
 */
function matchLine(js, src, near) {
  const ids = (s) =>
    new Set(
      (s.match(/[A-Za-z_$][\w$]*/g) || [])
        .map((w) => w.replace(/_\d+$/, ''))
        .filter((w) => !['exports', 'const', 'let', 'var', 'await', 'default', 'require'].includes(w)),
    );
  const want = ids(js);
  let best = -1;
  let bestScore = 0;
  for (let i = 0; i < src.length; i++) {
    const have = ids(src[i]);
    let score = 0;
    for (const w of want) if (have.has(w)) score++;
    if (score > bestScore || (score === bestScore && score > 0 && Math.abs(i + 1 - near) < Math.abs(best + 1 - near))) {
      best = i;
      bestScore = score;
    }
  }
  return best >= 0 ? best + 1 : undefined;
}

module.exports = { GroundlabKernel, matchLine, expandShorthand };

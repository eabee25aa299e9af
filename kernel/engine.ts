/**
 * The engine behind the handler: tslab's TypeScript converter (compiler) and executor, with what
 * groundlab adds: the compiler's structured diagnostics for errors, imports kept after a failing
 * cell, `{ out }` shorthand expanded, Shift-Tab showing the enclosing call's signature, completion
 * kinds, `invalid` for code with a syntax error, and the groundlab library preloaded.
 */
import * as path from 'node:path';
import vm = require('node:vm');
import * as ts from '@tslab/typescript-for-tslab';
import type { Converter, ConvertResult, Diagnostic } from 'tslab/dist/converter';
import type { ConverterSet, Executor } from 'tslab/dist/executor';
import type { CellDiagnostic } from './describe';
import { formatPlain } from './describe';
import type { CompleteResult, Engine, ExecOutcome, IsCompleteResult } from './handler';
import { ROOT } from './resolve';
import { enclosingCall, expandShorthand, identifierAt, importDeclarations, syntaxErrors } from './source';

/** Versions the kernel reports (package.json pins tslab exactly). */
export function versions(): { groundlab: string; tslab: string; typescript: string; node: string } {
  const read = (p: string) => (require(p) as { version: string }).version;
  return {
    groundlab: read(path.join(ROOT, 'package.json')),
    tslab: read('tslab/package.json'),
    typescript: ts.version,
    node: process.version,
  };
}

/**
 * The kernel's `language_info` (kernel_info_reply). JupyterLab stores it in a notebook's metadata
 * when the kernel starts, so scripts/notebooks.py writes exactly this (`main.js --language-info`).
 */
export function languageInfo(): Record<string, unknown> {
  return {
    // As in tslab: makes JupyterLab and Notebook highlight TypeScript.
    codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
    file_extension: '.ts',
    mimetype: 'text/typescript',
    name: 'typescript',
    version: ts.version,
  };
}

/** Jupyter completion types (the icons JupyterLab shows) for TypeScript's element kinds. */
const COMPLETION_TYPES: Record<string, string> = {
  function: 'function',
  'local function': 'function',
  method: 'function',
  constructor: 'function',
  class: 'class',
  'local class': 'class',
  interface: 'interface',
  type: 'type',
  enum: 'enum',
  'enum member': 'property',
  module: 'module',
  'external module name': 'module',
  alias: 'module',
  var: 'instance',
  let: 'instance',
  const: 'instance',
  'local var': 'instance',
  parameter: 'param',
  property: 'property',
  getter: 'property',
  setter: 'property',
  keyword: 'keyword',
  'type parameter': 'type',
  string: 'text',
};

export function completionType(kind: string | undefined): string {
  return (kind && COMPLETION_TYPES[kind]) || 'text';
}

type Library = { initEngine?: (o: { log: boolean }) => Promise<{ backend: string; source: string; simd?: boolean; threads: number }> };

export class TslabEngine implements Engine {
  private executor?: Executor;
  private convs?: ConverterSet;
  private lastDiagnostics: Diagnostic[] = [];
  private lastJs: string | undefined;
  /** What tslab's executor reported for the running cell. */
  private values: unknown[] = [];
  private errors: unknown[][] = [];
  private libraryError: unknown;
  private engineError: unknown;
  private engineInfo?: { backend: string; source: string; simd?: boolean; threads: number };
  private enginePromise: Promise<unknown> = Promise.resolve();
  private readonly v = versions();

  constructor(
    private readonly cwd: string,
    private readonly log: (line: string) => void,
  ) {}

  async load(): Promise<void> {
    const t = Date.now();
    // tslab's internals: package.json pins tslab to the version these modules were read from.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createConverter } = require('tslab/dist/converter') as typeof import('tslab/dist/converter');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createExecutor } = require('tslab/dist/executor') as typeof import('tslab/dist/executor');
    // The converter records each cell's structured diagnostics (tslab's executor only prints them).
    const record = (conv: Converter): Converter => ({
      convert: (prev, src) => {
        const r: ConvertResult = conv.convert(prev, src);
        this.lastDiagnostics = r.diagnostics;
        return r;
      },
      inspect: (prev, src, pos) => conv.inspect(prev, src, pos),
      complete: (prev, src, pos) => conv.complete(prev, src, pos),
      addModule: (name, content, meta) => (this.lastDiagnostics = conv.addModule(name, content, meta)),
      close: () => conv.close(),
    });
    let node: Converter | undefined;
    let browser: Converter | undefined;
    const convs: ConverterSet = {
      get node() {
        return (node ??= record(createConverter({ isJS: false, isBrowser: false })));
      },
      get browser() {
        return (browser ??= record(createConverter({ isJS: false, isBrowser: true })));
      },
      close() {
        node?.close();
        browser?.close();
      },
    };
    this.convs = convs;
    // Remember the JavaScript tslab runs for each cell, to map stack lines back to the cell.
    const run = vm.runInThisContext;
    const self = this;
    (vm as { runInThisContext: typeof vm.runInThisContext }).runInThisContext = function (code: string, options?: vm.RunningScriptOptions | string) {
      if (typeof code === 'string' && /^\(?(async )?function\(exports, require\) \{ /.test(code)) self.lastJs = code;
      return run.call(vm, code, options);
    };
    void convs.node; // the compiler itself: several hundred ms
    this.executor = createExecutor(this.cwd, convs, {
      log: (...args: unknown[]) => this.values.push(args[0]),
      error: (...args: unknown[]) => this.errors.push(args),
    });
    this.loadLibrary();
    // Type-check an import of groundlab once, so the first cell does not pay for loading its types.
    try {
      convs.node.convert('', 'import * as __groundlabWarm from "groundlab";\n');
    } catch {
      /* only a warm-up */
    }
    await this.enginePromise;
    this.log(`compiler and library ready in ${Date.now() - t} ms`);
  }

  /** Preload groundlab (dist/) and start its tensor engine so the first cell is fast and tf ops work. */
  private loadLibrary(): void {
    let lib: Library;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      lib = require(ROOT) as Library;
    } catch (e) {
      this.libraryError = e;
      this.log(`groundlab could not be loaded from ${ROOT}: ${formatPlain(e)}`);
      return;
    }
    if (typeof lib.initEngine === 'function') {
      this.enginePromise = lib.initEngine({ log: false }).then(
        (info) => (this.engineInfo = info),
        (e: unknown) => (this.engineError = e),
      );
    }
  }

  private get exec(): Executor {
    if (!this.executor) throw new Error('the TypeScript engine is not loaded');
    return this.executor;
  }

  async execute(code: string): Promise<ExecOutcome> {
    this.values = [];
    this.errors = [];
    this.lastDiagnostics = [];
    let ok = false;
    try {
      ok = await this.exec.execute(expandShorthand(code));
    } catch (e) {
      this.errors.push([e]);
    }
    const diagnostics = this.lastDiagnostics.map((d) => toCellDiagnostic(d));
    // tslab prints diagnostics through console.error as text; the structured ones replace them.
    const thrown = diagnostics.length ? [] : this.errors.filter((a) => typeof a[0] !== 'string').map((a) => a[0]);
    const js = this.lastJs;
    const values = [...this.values];
    if (!ok && diagnostics.length === 0) await this.keepImports(code);
    return { ok, values, diagnostics, thrown, js };
  }

  /**
   * tslab forgets every declaration of a cell that fails at run time, imports included, so one
   * error after `import { train } from "groundlab"` would leave `train` unknown to later cells.
   * Re-run just the cell's import declarations (module loads are cached, so this has no other
   * effect) to keep them, as Python keeps the names bound before an exception.
   */
  private async keepImports(code: string): Promise<void> {
    let imports = '';
    try {
      imports = importDeclarations(code);
    } catch {
      return;
    }
    if (!imports) return;
    const js = this.lastJs;
    try {
      await this.exec.execute(imports);
    } catch {
      /* keep the original error */
    }
    this.lastJs = js;
  }

  complete(code: string, cursor: number): CompleteResult {
    const info = this.exec.complete(code, cursor);
    const kinds = new Map<string, string>();
    for (const e of info.original?.entries ?? []) if (!kinds.has(e.name)) kinds.set(e.name, e.kind);
    return {
      matches: info.candidates,
      cursor_start: info.start,
      cursor_end: info.end,
      metadata: {
        _jupyter_types_experimental: info.candidates.map((name) => ({ start: info.start, end: info.end, text: name, type: completionType(kinds.get(name)) })),
      },
    };
  }

  private quickInfo(code: string, pos: number): string | undefined {
    const info = this.exec.inspect(code, pos);
    if (!info) return undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { printQuickInfo } = require('tslab/dist/inspect') as typeof import('tslab/dist/inspect');
    return printQuickInfo(info) || undefined;
  }

  /**
   * Shift-Tab: inside a call's parentheses (`openRun(`, `lineChart(rows, `), the called function's
   * signature and documentation first, as Python kernels show; then (or otherwise) the name under
   * the cursor.
   */
  inspect(code: string, cursor: number): string | undefined {
    const parts: string[] = [];
    const call = enclosingCall(code, cursor);
    if (call) {
      const sig = this.quickInfo(code, call.calleeEnd - 1);
      if (sig) parts.push(sig);
    }
    if (identifierAt(code, cursor)) {
      const at = /[\w$]$/.test(code.slice(0, cursor)) ? cursor - 1 : cursor;
      const own = this.quickInfo(code, at);
      if (own && !parts.includes(own)) parts.push(own);
    }
    return parts.length ? parts.join('\n\n') : undefined;
  }

  isComplete(code: string): IsCompleteResult {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { isCompleteCode } = require('tslab/dist/converter') as typeof import('tslab/dist/converter');
    const r = isCompleteCode(code);
    if (!r.completed) return { status: 'incomplete', indent: r.indent || '' };
    return syntaxErrors(code).length ? { status: 'invalid' } : { status: 'complete' };
  }

  interrupt(): void {
    this.executor?.interrupt();
  }

  close(): void {
    this.convs?.close();
  }

  languageInfo(): Record<string, unknown> {
    return languageInfo();
  }

  /** The backend line (when the engine has started), as `initEngine` prints it in a terminal. */
  backendLine(): string | undefined {
    const i = this.engineInfo;
    if (!i) return undefined;
    const simd = i.simd === undefined ? '' : i.simd ? ', SIMD' : ', no SIMD';
    return `backend ${i.backend} (${i.source}${simd}), ${i.threads || 'native'} thread${i.threads === 1 ? '' : 's'}`;
  }

  banner(): string {
    const v = this.v;
    const backend = this.backendLine() ?? 'engineInfo() shows the tensor backend';
    return `groundlab ${v.groundlab}: TypeScript ${v.typescript} on Node ${v.node} (tslab ${v.tslab}); ${backend}`;
  }

  problem(): string | undefined {
    const e = (x: unknown) => (x instanceof Error ? x.message : String(x));
    if (this.libraryError) return `groundlab is not built or cannot load (${e(this.libraryError)}); run \`npm run build\` in ${ROOT}\n`;
    if (this.engineError) return `groundlab: no tensor backend: ${e(this.engineError)}\n`;
    return undefined;
  }
}

function toCellDiagnostic(d: Diagnostic): CellDiagnostic {
  return { line: d.start.line + 1, column: d.start.character + 1, message: d.messageText, code: d.code, ...(d.fileName ? { file: d.fileName } : {}) };
}

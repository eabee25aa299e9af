#!/usr/bin/env node
/**
 * Entry point of the groundlab Jupyter kernel (kernelspec name `groundlab`). Jupyter starts it as
 * `node dist/kernel/main.js <connection_file>` (`--connection-file <f>` and tslab's
 * `kernel --config-path <f>` forms are accepted too). `--language-info` prints the kernel's
 * language_info as JSON (scripts/notebooks.py writes it into the notebooks).
 *
 * It wires the parts together: the socket layer (transport.ts), the message handler (handler.ts),
 * the tslab engine (engine.ts), module resolution from any folder (resolve.ts), and the bridge on
 * globalThis through which src/notebook sends MIME bundles, reads the interrupt signal and hears
 * how a cell ended.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as util from 'node:util';
import { TslabEngine, languageInfo, versions } from './engine';
import { KernelHandler, type CellEnd } from './handler';
import { installRuntimeResolver, installTypeScriptOverlay } from './resolve';
import { ZmqTransport } from './transport';
import type { ConnectionInfo } from './wire';

const BRIDGE = Symbol.for('groundlab.kernel');
const MIME_HOOK = Symbol.for('groundlab.mimeBundle');

const origStdoutWrite = process.stdout.write.bind(process.stdout);
const origStderrWrite = process.stderr.write.bind(process.stderr);
const log = (msg: string) => {
  try {
    origStderrWrite(`[groundlab kernel] ${msg}\n`);
  } catch {
    /* ignore */
  }
};

export function connectionFile(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--connection-file' || a === '--config-path' || a === '-f') return argv[i + 1];
    const m = /^--(?:connection-file|config-path)=(.+)$/.exec(a);
    if (m) return m[1];
  }
  return argv.find((a) => a.endsWith('.json'));
}

/** Route process.stdout/stderr to the running (or last) cell, as tslab does. */
function redirectOutput(handler: KernelHandler): void {
  const mk = (name: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void), cb?: () => void) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8');
      if (handler.activeCell) handler.stream(name, text);
      else (name === 'stdout' ? origStdoutWrite : origStderrWrite)(text);
      if (typeof encoding === 'function') encoding();
      else if (typeof cb === 'function') cb();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = mk('stdout');
  process.stderr.write = mk('stderr');
}

/** The object src/notebook/bridge.ts finds on globalThis. */
function installBridge(handler: KernelHandler): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tslabJupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: (data: { data: Record<string, unknown>; metadata?: Record<string, unknown>; transient?: { display_id?: string } }, update: boolean) => void };
  // tslab's own `display` API (import * as tslab from "tslab") goes through the same channel.
  tslabJupyter.lastWriteDisplayData = (d, update) => handler.display(d.data, d.metadata ?? {}, d.transient?.display_id, update);
  (globalThis as Record<symbol, unknown>)[BRIDGE] = {
    version: 2,
    kernel: 'groundlab',
    display(bundle: { data: Record<string, unknown>; metadata?: Record<string, unknown> }, opts: { displayId?: string; update?: boolean } = {}) {
      handler.display(bundle.data, bundle.metadata ?? {}, opts.displayId, !!opts.update);
    },
    newDisplayId: () => crypto.randomBytes(8).toString('hex'),
    signal: () => handler.signal(),
    onCellEnd: (cb: (how: CellEnd) => void) => handler.onCellEnd(cb),
    clearOutput: (wait = false) => handler.clearOutput(wait),
  };
}

async function bundleOf(v: unknown): Promise<Record<string, unknown> | null> {
  const hook = (globalThis as Record<symbol, unknown>)[MIME_HOOK];
  if (typeof hook === 'function') {
    const b = (await (hook as (x: unknown) => unknown)(v)) as { data?: Record<string, unknown> } | null;
    if (b === null) return null;
    if (b && b.data) return b.data;
  }
  return { 'text/plain': typeof v === 'string' ? util.inspect(v) : util.inspect(v, { depth: 3, colors: false }) };
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--language-info')) {
    origStdoutWrite(JSON.stringify(languageInfo()) + '\n');
    return;
  }
  if (argv.includes('--version')) {
    origStdoutWrite(JSON.stringify(versions()) + '\n');
    return;
  }
  const file = connectionFile(argv);
  if (!file) {
    origStderrWrite('usage: node dist/kernel/main.js <connection_file.json>\n(Jupyter starts this; to install the kernel run: node dist/kernel/install.js [--user])\n');
    process.exit(2);
  }
  const conn = JSON.parse(fs.readFileSync(file, 'utf8')) as ConnectionInfo;
  const cwd = process.cwd();
  installRuntimeResolver();
  installTypeScriptOverlay(cwd.replace(/\\/g, '/'));
  const transport = new ZmqTransport(conn, log);
  const engine = new TslabEngine(cwd, log);
  const handler = new KernelHandler(transport, engine, {
    version: versions().groundlab,
    bundle: bundleOf,
    log,
    graceMs: Number(process.env.GROUNDLAB_INTERRUPT_GRACE_MS || 60_000),
    shutdownGraceMs: Number(process.env.GROUNDLAB_SHUTDOWN_GRACE_MS || 3000),
    exit: () =>
      setTimeout(() => {
        void transport.close().then(() => process.exit(0));
      }, 50),
  });
  installBridge(handler);
  redirectOutput(handler);
  process.on('SIGINT', () => handler.interrupt('signal'));
  process.on('uncaughtException', (err) => handler.background('uncaught exception', err));
  process.on('unhandledRejection', (reason) => handler.background('unhandled promise rejection', reason));
  // The heavy, synchronous loading starts once the frontend has its kernel_info_reply (so it shows
  // the kernel as connected at once), or after 1.5 s whatever happens.
  let loading = false;
  const load = () => {
    if (loading) return;
    loading = true;
    setTimeout(() => void handler.ready(), 20);
  };
  await transport.start(async (req) => {
    await handler.receive(req);
    if (req.header.msg_type === 'kernel_info_request') load();
  });
  void transport.publish('status', { execution_state: 'starting' }, {});
  setTimeout(load, 1500).unref();
  // Exit with the process that started us (a killed notebook server must not leave kernels behind).
  const ppid = process.ppid;
  setInterval(() => {
    if (process.ppid !== ppid) {
      log('parent process is gone; exiting');
      process.exit(0);
    }
  }, 2000).unref();
  log(`started (pid ${process.pid}, cwd ${cwd})`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    origStderrWrite(`[groundlab kernel] failed to start: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}

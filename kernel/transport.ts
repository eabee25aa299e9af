/**
 * The socket layer: binds the five ZeroMQ sockets of a Jupyter connection, feeds parsed requests
 * to a handler and sends what the handler answers. Knows nothing about TypeScript or cells.
 */
import * as zmq from 'zeromq';
import { Wire, type Channel, type ConnectionInfo, type Header, type Request } from './wire';

/** Where the handler's messages go: replies on the request's channel, and IOPub broadcasts. */
export interface Outbox {
  reply(req: Request, msgType: string, content: object): Promise<void>;
  publish(msgType: string, content: object, parent: Partial<Header>, metadata?: object): Promise<void>;
}

export type Log = (line: string) => void;

export class ZmqTransport implements Outbox {
  readonly wire: Wire;
  private readonly conn: ConnectionInfo;
  private readonly log: Log;
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  private iopub?: zmq.Publisher;
  private shell?: zmq.Router;
  private control?: zmq.Router;
  private stdin?: zmq.Router;
  private hb?: zmq.Reply;

  constructor(conn: ConnectionInfo, log: Log) {
    this.conn = conn;
    this.wire = new Wire(conn);
    this.log = log;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  reply(req: Request, msgType: string, content: object): Promise<void> {
    const sock = req.channel === 'control' ? this.control : this.shell;
    return this.send(sock, this.wire.frames(msgType, content, req.header, req.identities), msgType);
  }

  publish(msgType: string, content: object, parent: Partial<Header>, metadata: object = {}): Promise<void> {
    return this.send(this.iopub, this.wire.frames(msgType, content, parent, [this.wire.topic(msgType)], metadata), msgType);
  }

  /**
   * Send at once (zeromq queues a message synchronously when it can): output printed just before a
   * long synchronous loop must reach the notebook while the loop blocks the event loop. A send
   * refused because the socket is busy is retried in order after the pending ones.
   */
  private send(sock: zmq.Publisher | zmq.Router | undefined, frames: Buffer[], what: string): Promise<void> {
    if (this.closed || !sock) return Promise.resolve();
    const attempt = (): Promise<void> => (this.closed ? Promise.resolve() : sock.send(frames));
    let first: Promise<void>;
    try {
      first = attempt();
    } catch (e) {
      first = Promise.reject(e);
    }
    const next = first
      .catch(() => new Promise<void>((r) => setImmediate(r)).then(attempt))
      .catch((e: unknown) => {
        if (!this.closed) this.log(`send ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
      });
    this.pending.add(next);
    void next.finally(() => this.pending.delete(next));
    return next;
  }

  /** Bind the sockets and start reading: every parsed request goes to `onRequest`. */
  async start(onRequest: (req: Request) => Promise<void> | void): Promise<void> {
    const c = this.conn;
    const addr = (port: number) => (c.transport === 'ipc' ? `ipc://${c.ip}-${port}` : `${c.transport}://${c.ip}:${port}`);
    this.iopub = new zmq.Publisher();
    this.shell = new zmq.Router();
    this.control = new zmq.Router();
    this.stdin = new zmq.Router();
    this.hb = new zmq.Reply();
    await Promise.all([
      this.iopub.bind(addr(c.iopub_port)),
      this.shell.bind(addr(c.shell_port)),
      this.control.bind(addr(c.control_port)),
      this.stdin.bind(addr(c.stdin_port)),
      this.hb.bind(addr(c.hb_port)),
    ]);
    const loop = async (sock: zmq.Router, channel: Channel) => {
      try {
        for await (const frames of sock) {
          let req: Request;
          try {
            req = this.wire.parse(frames, channel);
          } catch (e) {
            this.log(`dropped a message: ${e instanceof Error ? e.message : String(e)}`);
            continue;
          }
          await onRequest(req);
        }
      } catch (e) {
        if (!this.closed) this.log(`socket loop ended: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    void loop(this.shell, 'shell');
    void loop(this.control, 'control');
    const hb = this.hb;
    void (async () => {
      try {
        for await (const frames of hb) await hb.send(frames);
      } catch {
        /* closed */
      }
    })();
  }

  /** Wait for the sends in flight, then close every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.pending]).catch(() => {});
    this.closed = true;
    for (const s of [this.iopub, this.shell, this.control, this.stdin, this.hb]) {
      try {
        s?.close();
      } catch {
        /* already closed */
      }
    }
  }
}

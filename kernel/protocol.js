// @ts-check
/**
 * The Jupyter messaging protocol (v5.3) over ZeroMQ: sockets, HMAC-signed multipart messages,
 * heartbeat. Knows nothing about TypeScript; kernel.js gives it the handlers.
 * https://jupyter-client.readthedocs.io/en/latest/messaging.html
 */
const crypto = require('node:crypto');

const DELIM = Buffer.from('<IDS|MSG>');
const PROTOCOL_VERSION = '5.3';

/**
 * @typedef {{ msg_id: string; session: string; username: string; date: string; msg_type: string; version: string }} Header
 * @typedef {{ identities: Buffer[]; header: Header; parent: Header | {}; metadata: object; content: any; buffers: Buffer[] }} Message
 */

class Protocol {
  /**
   * @param {{ key: string; signature_scheme?: string; transport: string; ip: string; shell_port: number;
   *   control_port: number; iopub_port: number; stdin_port: number; hb_port: number }} conn
   */
  constructor(conn) {
    this.conn = conn;
    this.key = conn.key || '';
    this.algo = (conn.signature_scheme || 'hmac-sha256').replace(/^hmac-/, '');
    this.session = crypto.randomUUID();
    /** @type {Set<Promise<void>>} sends not yet settled (awaited before closing) */
    this.pending = new Set();
    this.closed = false;
  }

  sign(parts) {
    if (!this.key) return '';
    const h = crypto.createHmac(this.algo, this.key);
    for (const p of parts) h.update(p);
    return h.digest('hex');
  }

  /** @param {Buffer[]} frames @returns {Message} */
  parse(frames) {
    const i = frames.findIndex((f) => f.equals(DELIM));
    if (i < 0) throw new Error('message without <IDS|MSG> delimiter');
    const identities = frames.slice(0, i);
    const signature = frames[i + 1].toString();
    const parts = frames.slice(i + 2, i + 6);
    const expect = this.sign(parts);
    if (this.key) {
      const a = Buffer.from(signature);
      const b = Buffer.from(expect);
      if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) throw new Error('message with a bad HMAC signature');
    }
    return {
      identities,
      header: JSON.parse(parts[0].toString()),
      parent: JSON.parse(parts[1].toString()),
      metadata: JSON.parse(parts[2].toString()),
      content: JSON.parse(parts[3].toString()),
      buffers: frames.slice(i + 6),
    };
  }

  /**
   * Send a message on a socket.
   * @param {any} sock
   * @param {string} msgType
   * @param {object} content
   * @param {Header | {}} parent
   * @param {Buffer[]} identities
   * @param {object} [metadata]
   */
  send(sock, msgType, content, parent, identities = [], metadata = {}) {
    if (this.closed) return Promise.resolve();
    const header = {
      msg_id: crypto.randomUUID(),
      session: this.session,
      username: 'groundlab',
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    };
    const parts = [header, parent || {}, metadata, content].map((x) => Buffer.from(JSON.stringify(x)));
    const frames = [...identities, DELIM, Buffer.from(this.sign(parts)), ...parts];
    // Send at once (zeromq queues the message synchronously when it can): output printed just
    // before a long synchronous loop must reach the notebook while the loop blocks the event loop.
    // A send refused because the socket is busy is retried in order after the pending ones.
    const attempt = () => (this.closed ? Promise.resolve() : sock.send(frames));
    let first;
    try {
      first = attempt();
    } catch (e) {
      first = Promise.reject(e);
    }
    const next = first
      .catch(() => new Promise((r) => setImmediate(r)).then(attempt))
      .catch((e) => {
        if (!this.closed) process.__groundlabLog?.(`send ${msgType} failed: ${e && e.message}`);
      });
    this.pending.add(next);
    next.finally(() => this.pending.delete(next));
    return next;
  }

  /** Publish on IOPub. */
  publish(msgType, content, parent, metadata = {}) {
    const topic = Buffer.from(`kernel.${this.session.slice(0, 8)}.${msgType}`);
    return this.send(this.iopub, msgType, content, parent, [topic], metadata);
  }

  status(state, parent) {
    return this.publish('status', { execution_state: state }, parent);
  }

  /**
   * Bind the sockets and start the loops.
   * @param {{ shell: (m: Message) => Promise<void>; control: (m: Message) => Promise<void> }} handlers
   */
  async start(handlers) {
    const zmq = require('zeromq');
    const c = this.conn;
    const addr = (port) => (c.transport === 'ipc' ? `ipc://${c.ip}-${port}` : `${c.transport}://${c.ip}:${port}`);
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
    const loop = async (sock, handle) => {
      try {
        for await (const frames of sock) {
          let msg;
          try {
            msg = this.parse(frames);
          } catch (e) {
            process.__groundlabLog?.(`dropped a message: ${e && e.message}`);
            continue;
          }
          await handle(msg);
        }
      } catch (e) {
        if (!this.closed) process.__groundlabLog?.(`socket loop ended: ${e && e.message}`);
      }
    };
    loop(this.shell, handlers.shell);
    loop(this.control, handlers.control);
    (async () => {
      try {
        for await (const frames of this.hb) await this.hb.send(frames);
      } catch {
        /* closed */
      }
    })();
  }

  async close() {
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

module.exports = { Protocol, PROTOCOL_VERSION };

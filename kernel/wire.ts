/**
 * The Jupyter messaging protocol (v5.3) on the wire: message types, HMAC signatures, and the
 * multipart frames of one message. Pure (no sockets): transport.ts moves the frames, handler.ts
 * decides what to answer. https://jupyter-client.readthedocs.io/en/latest/messaging.html
 */
import * as crypto from 'node:crypto';

export const PROTOCOL_VERSION = '5.3';
const DELIM = Buffer.from('<IDS|MSG>');

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

/** The socket a request came in on, and so the one its reply goes out on. */
export type Channel = 'shell' | 'control';

/** A request as the handler sees it. */
export interface Request {
  channel: Channel;
  identities: Buffer[];
  header: Header;
  parent: Partial<Header>;
  metadata: Record<string, unknown>;
  content: Record<string, any>;
  buffers: Buffer[];
}

/** What the kernel needs of a Jupyter connection file. */
export interface ConnectionInfo {
  key: string;
  signature_scheme?: string;
  transport: string;
  ip: string;
  shell_port: number;
  control_port: number;
  iopub_port: number;
  stdin_port: number;
  hb_port: number;
}

/** Signs, parses and builds the frames of messages for one connection (its key and session). */
export class Wire {
  readonly session = crypto.randomUUID();
  private readonly key: string;
  private readonly algo: string;

  constructor(conn: Pick<ConnectionInfo, 'key' | 'signature_scheme'>) {
    this.key = conn.key || '';
    this.algo = (conn.signature_scheme || 'hmac-sha256').replace(/^hmac-/, '');
  }

  sign(parts: Buffer[]): string {
    if (!this.key) return '';
    const h = crypto.createHmac(this.algo, this.key);
    for (const p of parts) h.update(p);
    return h.digest('hex');
  }

  /** Parse the frames of a message; throws on a missing delimiter or a bad signature. */
  parse(frames: Buffer[], channel: Channel): Request {
    const i = frames.findIndex((f) => f.equals(DELIM));
    if (i < 0 || frames.length < i + 6) throw new Error('message without <IDS|MSG> delimiter and its four parts');
    const signature = frames[i + 1].toString();
    const parts = frames.slice(i + 2, i + 6);
    if (this.key) {
      const a = Buffer.from(signature);
      const b = Buffer.from(this.sign(parts));
      if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) throw new Error('message with a bad HMAC signature');
    }
    const json = (b: Buffer) => JSON.parse(b.toString()) as any;
    return {
      channel,
      identities: frames.slice(0, i),
      header: json(parts[0]),
      parent: json(parts[1]),
      metadata: json(parts[2]),
      content: json(parts[3]),
      buffers: frames.slice(i + 6),
    };
  }

  /** The frames of a new message of `msgType` answering (or caused by) `parent`. */
  frames(msgType: string, content: object, parent: Partial<Header>, identities: Buffer[] = [], metadata: object = {}): Buffer[] {
    const header: Header = {
      msg_id: crypto.randomUUID(),
      session: this.session,
      username: 'groundlab',
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    };
    const parts = [header, parent ?? {}, metadata, content].map((x) => Buffer.from(JSON.stringify(x)));
    return [...identities, DELIM, Buffer.from(this.sign(parts)), ...parts];
  }

  /** The IOPub topic of a message type. */
  topic(msgType: string): Buffer {
    return Buffer.from(`kernel.${this.session.slice(0, 8)}.${msgType}`);
  }
}

/**
 * A deliberately minimal HTTP/2 client for unary gRPC calls, written on a TCP socket so
 * that a load generator costs little CPU next to the servers it measures on the same
 * two cores (grpc-js' client costs several hundred µs per call here). Requests are
 * pre-encoded; the request header block is a constant HPACK string without Huffman
 * coding or table updates; responses are not HPACK-decoded: a unary gRPC call succeeded
 * exactly when the server sent a DATA frame before ending the stream (errors come as a
 * trailers-only HEADERS frame). Honours SETTINGS, PING, WINDOW_UPDATE, RST_STREAM and
 * GOAWAY, and the server's MAX_CONCURRENT_STREAMS.
 *
 * Benchmarks only: it is not a general gRPC client.
 */
import { connect, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const T_DATA = 0x0;
const T_HEADERS = 0x1;
const T_RST_STREAM = 0x3;
const T_SETTINGS = 0x4;
const T_PING = 0x6;
const T_GOAWAY = 0x7;
const T_WINDOW_UPDATE = 0x8;
const F_END_STREAM = 0x1;
const F_ACK = 0x1;
const F_END_HEADERS = 0x4;
const F_PADDED = 0x8;

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(stream, 5);
  payload.copy(b, 9);
  return b;
}

/** An HPACK string literal, no Huffman coding (7-bit length prefix). */
function str(s: string): Buffer {
  const v = Buffer.from(s);
  if (v.length >= 127) throw new Error('header value too long for this client');
  return Buffer.concat([Buffer.from([v.length]), v]);
}

/** gRPC message framing: not compressed, 4-byte big-endian length. */
export function grpcFrame(message: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + message.length);
  b[0] = 0;
  b.writeUInt32BE(message.length, 1);
  Buffer.from(message.buffer, message.byteOffset, message.byteLength).copy(b, 5);
  return b;
}

interface Pending {
  resolve(body: Buffer): void;
  reject(e: Error): void;
  chunks: Buffer[];
}

export class RawGrpcSession {
  private readonly sock: Socket;
  private readonly streams = new Map<number, Pending>();
  private readonly waiting: { headers: Buffer; body: Buffer; p: Pending }[] = [];
  private nextId = 1;
  private sendWindow = 65_535;
  private maxStreams = Infinity;
  private out: Buffer[] = [];
  private flushing = false;
  private inbuf: Buffer | null = null;
  private unacked = 0;
  private dead: Error | null = null;
  private readonly headerCache = new Map<string, Buffer>();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs = 30_000,
  ) {
    this.sock = connect({ host, port });
    this.sock.setNoDelay(true);
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
    settings.writeUInt32BE(0x7fffffff, 8);
    const grow = Buffer.alloc(4);
    grow.writeUInt32BE(0x7fffffff - 65_535, 0);
    this.sock.write(Buffer.concat([PREFACE, frame(T_SETTINGS, 0, 0, settings), frame(T_WINDOW_UPDATE, 0, 0, grow)]));
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', (e) => this.fail(e));
    this.sock.on('close', () => this.fail(new Error('connection closed')));
  }

  /** One unary call: `path` like /berth.v1.Objects/Update, `body` already gRPC-framed. */
  call(path: string, body: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.dead) {
        reject(this.dead);
        return;
      }
      let headers = this.headerCache.get(path);
      if (!headers) {
        headers = Buffer.concat([
          Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table)
          Buffer.from([0x04]), str(path), // :path, literal without indexing
          Buffer.from([0x01]), str(`${this.host}:${this.port}`), // :authority
          Buffer.from([0x0f, 0x10]), str('application/grpc'), // content-type (index 31)
          Buffer.from([0x00]), str('te'), str('trailers'),
          Buffer.from([0x00]), str('grpc-timeout'), str(`${this.timeoutMs}m`),
        ]);
        this.headerCache.set(path, headers);
      }
      // The server should end every call by the grpc-timeout it was given; if it does
      // not, fail the call here rather than hang the benchmark.
      const timer = setTimeout(() => p.reject(new Error(`no answer within ${this.timeoutMs + 2000} ms`)), this.timeoutMs + 2000);
      timer.unref();
      const p: Pending = {
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        chunks: [],
      };
      if (this.streams.size >= this.maxStreams || body.length > this.sendWindow || this.waiting.length > 0) {
        this.waiting.push({ headers, body, p });
      } else {
        this.start(headers, body, p);
      }
    });
  }

  close(): void {
    this.fail(new Error('closed'));
  }

  private start(headers: Buffer, body: Buffer, p: Pending): void {
    const id = this.nextId;
    this.nextId += 2;
    this.sendWindow -= body.length;
    this.streams.set(id, p);
    this.write(frame(T_HEADERS, F_END_HEADERS, id, headers));
    this.write(frame(T_DATA, F_END_STREAM, id, body));
  }

  private write(b: Buffer): void {
    this.out.push(b);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      if (this.dead || this.out.length === 0) return;
      this.sock.write(this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out));
      this.out = [];
    });
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.streams.size < this.maxStreams && this.waiting[0]!.body.length <= this.sendWindow) {
      const w = this.waiting.shift()!;
      this.start(w.headers, w.body, w.p);
    }
  }

  private finish(id: number, ok: boolean, why: string): void {
    const p = this.streams.get(id);
    if (!p) return;
    this.streams.delete(id);
    if (ok) p.resolve(Buffer.concat(p.chunks));
    else p.reject(new Error(why));
    this.drain();
  }

  private onData(d: Buffer): void {
    const b = this.inbuf ? Buffer.concat([this.inbuf, d]) : d;
    let off = 0;
    while (b.length - off >= 9) {
      const len = b.readUIntBE(off, 3);
      if (b.length - off < 9 + len) break;
      const type = b[off + 3]!;
      const flags = b[off + 4]!;
      const id = b.readUInt32BE(off + 5) & 0x7fffffff;
      const payload = b.subarray(off + 9, off + 9 + len);
      off += 9 + len;
      this.onFrame(type, flags, id, payload);
    }
    this.inbuf = off < b.length ? b.subarray(off) : null;
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    switch (type) {
      case T_DATA: {
        let data = payload;
        if (flags & F_PADDED) data = payload.subarray(1, payload.length - payload[0]!);
        this.streams.get(id)?.chunks.push(Buffer.from(data));
        this.unacked += payload.length;
        if (this.unacked > 1 << 20) {
          const inc = Buffer.alloc(4);
          inc.writeUInt32BE(this.unacked, 0);
          this.write(frame(T_WINDOW_UPDATE, 0, 0, inc));
          this.unacked = 0;
        }
        if (flags & F_END_STREAM) this.finish(id, (this.streams.get(id)?.chunks.length ?? 0) > 0, 'stream ended without a trailer');
        return;
      }
      case T_HEADERS:
        if (flags & F_END_STREAM) {
          const p = this.streams.get(id);
          // Trailers after a DATA frame: success. A trailers-only response: an error status.
          this.finish(id, Boolean(p && p.chunks.length > 0), 'the server answered with an error status');
        }
        return;
      case T_RST_STREAM:
        this.finish(id, false, `stream reset (code ${payload.readUInt32BE(0)})`);
        return;
      case T_SETTINGS:
        if (flags & F_ACK) return;
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          const key = payload.readUInt16BE(i);
          const value = payload.readUInt32BE(i + 2);
          if (key === 0x3) this.maxStreams = value;
        }
        this.write(frame(T_SETTINGS, F_ACK, 0, Buffer.alloc(0)));
        this.drain();
        return;
      case T_PING:
        if (!(flags & F_ACK)) this.write(frame(T_PING, F_ACK, 0, payload));
        return;
      case T_WINDOW_UPDATE:
        if (id === 0) {
          this.sendWindow += payload.readUInt32BE(0) & 0x7fffffff;
          this.drain();
        }
        return;
      case T_GOAWAY:
        this.fail(new Error('server sent GOAWAY'));
        return;
      default:
        return;
    }
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    for (const p of this.streams.values()) p.reject(e);
    for (const w of this.waiting) w.p.reject(e);
    this.streams.clear();
    this.waiting.length = 0;
    this.sock.destroy();
  }
}

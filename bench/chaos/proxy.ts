/**
 * A fault-injecting TCP proxy for the Raft peer traffic (Node `net`, loopback only).
 *
 * Replica A reaches replica B through a proxy that carries only A→B traffic: A's
 * `--peers` names, for B, the proxy P(A→B) instead of B's own listen address. Every
 * connection through a proxy is attributed to one directed link (from, to) and follows
 * that link's fault:
 *
 *   pass       bytes flow (optionally delayed, with jitter, order kept; optionally "lossy":
 *              each chunk from A has a chance of resetting the connection, which loses
 *              whatever was in flight, as a lossy network does to a TCP stream)
 *   blackhole  nothing flows either way on the link's connections (reads stop, so TCP
 *              backs up as it would behind a dead route); new connections are accepted
 *              and stall the same way. On heal, held bytes flow again, late.
 *   reset      connections are reset and new ones reset at once (a refused route)
 *
 * Raft's transport sends A→B messages on A's own connection to B (B answers on its own
 * connection to A), so blocking the link A→B drops exactly the messages from A to B.
 *
 * A replica removed and added back is given one shared address for everyone (the
 * address travels in the membership change). For it an ingress proxy finds which replica
 * opened each connection from /proc (the process owning the connecting socket), so that
 * the link faults still apply per directed pair.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import type { Rng } from './rng.ts';

export type LinkMode = 'pass' | 'blackhole' | 'reset';

export interface LinkFault {
  mode: LinkMode;
  delayMs: number;
  jitterMs: number;
  /** Chance per forwarded chunk that the connection is reset instead. */
  loss: number;
}

const HEALTHY: LinkFault = { mode: 'pass', delayMs: 0, jitterMs: 0, loss: 0 };

/** The fault of every directed link; proxies follow it as it changes. */
export class LinkTable {
  private readonly faults = new Map<string, LinkFault>();
  private readonly listeners = new Set<(from: number, to: number) => void>();

  get(from: number, to: number): LinkFault {
    return this.faults.get(`${from}>${to}`) ?? HEALTHY;
  }

  set(from: number, to: number, f: Partial<LinkFault>): void {
    const next = { ...this.get(from, to), ...f };
    if (next.mode === 'pass' && next.delayMs === 0 && next.loss === 0) this.faults.delete(`${from}>${to}`);
    else this.faults.set(`${from}>${to}`, next);
    for (const l of this.listeners) l(from, to);
  }

  healAll(): void {
    const links = [...this.faults.keys()].map((k) => k.split('>').map(Number) as [number, number]);
    this.faults.clear();
    for (const [a, b] of links) for (const l of this.listeners) l(a, b);
  }

  /** Links that currently have a fault, for logs. */
  describe(): string {
    return [...this.faults].map(([k, f]) => `${k}:${f.mode}${f.delayMs ? `+${f.delayMs}ms` : ''}${f.loss ? `~${f.loss}` : ''}`).join(' ');
  }

  onChange(cb: (from: number, to: number) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}

/** Bytes waiting out a delay, per direction; released in order. */
interface Delayed {
  at: number;
  buf: Buffer;
}

const MAX_HELD_BYTES = 16 * 1024 * 1024;

class ProxiedConnection {
  private readonly upstream: net.Socket;
  private held: Delayed[] = [];
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private blocked = false;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly client: net.Socket,
    readonly from: number,
    readonly to: number,
  ) {
    client.setNoDelay(true);
    this.upstream = net.connect({ host: proxy.target.host, port: proxy.target.port });
    this.upstream.setNoDelay(true);
    this.upstream.on('error', () => this.close(false));
    this.client.on('error', () => this.close(false));
    this.upstream.on('close', () => this.close(false));
    this.client.on('close', () => this.close(false));
    this.client.on('data', (b: Buffer) => this.forward(b));
    this.upstream.on('data', (b: Buffer) => {
      if (!this.client.write(b)) {
        this.upstream.pause();
        this.client.once('drain', () => this.resumeReads());
      }
    });
    this.apply();
  }

  /** The link's fault changed (or this connection is new): follow it. */
  apply(): void {
    if (this.closed) return;
    const f = this.proxy.table.get(this.from, this.to);
    if (f.mode === 'reset') {
      this.close(true);
      return;
    }
    this.blocked = f.mode === 'blackhole';
    if (this.blocked) {
      this.client.pause();
      this.upstream.pause();
    } else {
      this.resumeReads();
      this.release();
    }
  }

  private resumeReads(): void {
    if (this.closed || this.blocked) return;
    if (this.heldBytes < MAX_HELD_BYTES) this.client.resume();
    if (this.client.writableLength < MAX_HELD_BYTES) this.upstream.resume();
  }

  private forward(b: Buffer): void {
    if (this.closed) return;
    const f = this.proxy.table.get(this.from, this.to);
    if (f.loss > 0 && this.proxy.rng.chance(f.loss)) {
      this.proxy.stats.lossResets++;
      this.close(true);
      return;
    }
    const delay = f.delayMs + (f.jitterMs > 0 ? this.proxy.rng.float() * f.jitterMs : 0);
    if (delay <= 0 && this.held.length === 0 && !this.blocked) {
      this.write(b);
      return;
    }
    // Order is kept: nothing leaves before what came earlier.
    const last = this.held.length > 0 ? this.held[this.held.length - 1]!.at : 0;
    this.held.push({ at: Math.max(performance.now() + delay, last), buf: b });
    this.heldBytes += b.length;
    if (this.heldBytes >= MAX_HELD_BYTES) this.client.pause();
    this.release();
  }

  private write(b: Buffer): void {
    if (!this.upstream.write(b)) {
      this.client.pause();
      this.upstream.once('drain', () => this.resumeReads());
    }
  }

  private release(): void {
    if (this.closed || this.blocked) return;
    const now = performance.now();
    while (this.held.length > 0 && this.held[0]!.at <= now) {
      const d = this.held.shift()!;
      this.heldBytes -= d.buf.length;
      this.write(d.buf);
    }
    if (this.heldBytes < MAX_HELD_BYTES) this.resumeReads();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held.length > 0) this.timer = setTimeout(() => this.release(), Math.max(1, this.held[0]!.at - now));
  }

  close(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.held = [];
    this.heldBytes = 0;
    for (const s of [this.client, this.upstream]) {
      if (reset && typeof s.resetAndDestroy === 'function' && !s.destroyed) {
        try {
          s.resetAndDestroy();
          continue;
        } catch {
          // not connected yet: a plain destroy does
        }
      }
      s.destroy();
    }
    this.proxy.forget(this);
  }
}

export interface FaultProxyOptions {
  /** The replica this proxy leads to. */
  to: number;
  target: { host: string; port: number };
  /** The replica whose connections come here, or a resolver for an ingress proxy. */
  from: number | ((socket: net.Socket) => Promise<number | undefined>);
  table: LinkTable;
  rng: Rng;
  log?: (s: string) => void;
}

export class FaultProxy {
  readonly table: LinkTable;
  readonly target: { host: string; port: number };
  readonly rng: Rng;
  readonly stats = { accepted: 0, lossResets: 0, unattributed: 0 };
  private readonly conns = new Set<ProxiedConnection>();
  private readonly server: net.Server;
  private readonly unsubscribe: () => void;
  private port = 0;

  constructor(private readonly opts: FaultProxyOptions) {
    this.table = opts.table;
    this.target = opts.target;
    this.rng = opts.rng;
    this.server = net.createServer({ pauseOnConnect: true }, (s) => void this.accept(s));
    this.server.on('error', (e) => opts.log?.(`proxy to ${opts.to}: ${e.message}`));
    this.unsubscribe = this.table.onChange((from, to) => {
      if (to !== opts.to) return;
      for (const c of [...this.conns]) if (c.from === from) c.apply();
    });
  }

  listen(host = '127.0.0.1', port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async accept(s: net.Socket): Promise<void> {
    this.stats.accepted++;
    s.on('error', () => s.destroy());
    let from: number | undefined;
    if (typeof this.opts.from === 'number') from = this.opts.from;
    else {
      from = await this.opts.from(s).catch(() => undefined);
      if (from === undefined) {
        // Nobody we know (or it is already gone): pass it through unattributed.
        this.stats.unattributed++;
        from = 0;
      }
    }
    if (s.destroyed) return;
    const c = new ProxiedConnection(this, s, from, this.opts.to);
    this.conns.add(c);
  }

  forget(c: ProxiedConnection): void {
    this.conns.delete(c);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const c of [...this.conns]) c.close(false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------
// Who opened a loopback connection (for ingress proxies)

function hexPort(p: number): string {
  return p.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * The pid (among `pids`) whose socket is the other end of `s`, an accepted loopback
 * connection to `listenPort`: /proc/net/tcp gives the connecting socket's inode, and the
 * owner is the process with a file descriptor on it.
 */
export function socketOwner(s: net.Socket, listenPort: number, pids: number[]): number | undefined {
  const remotePort = s.remotePort;
  if (!remotePort) return undefined;
  let inode: string | undefined;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[1]!.endsWith(`:${hexPort(remotePort)}`) && f[2]!.endsWith(`:${hexPort(listenPort)}`)) {
        inode = f[9];
        break;
      }
    }
    if (inode) break;
  }
  if (!inode || inode === '0') return undefined;
  const want = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

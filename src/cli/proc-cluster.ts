/**
 * Raft replicas as real OS processes on loopback, each driven over an IPC channel.
 * `berth up`, the multi-process tests and the benchmarks start clusters with it; it only
 * ever signals processes it started itself.
 */
import { childExecArgv } from './child-args.ts';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface ProcClusterOptions {
  size: number;
  dir: string;
  basePort: number;
  /** Explicit ports per replica (index 0 = replica 1); overrides basePort. */
  ports?: number[];
  clusterId?: string;
  extraArgs?: string[];
  /** Write each replica's stderr to DIR/replica-N.log (default) or inherit it. */
  logs?: 'file' | 'inherit';
}

interface Proc {
  id: number;
  child: ChildProcess | undefined;
  role: string;
  term: number;
  leader: number;
  pending: Map<number, { resolve(v: unknown): void; reject(e: Error): void }>;
  exited: Promise<void>;
}

export class ReplicaCallError extends Error {
  override name = 'ReplicaCallError';
  constructor(
    message: string,
    readonly code: string,
    readonly leader = 0,
  ) {
    super(message);
  }
}

export class ProcCluster {
  readonly opts: ProcClusterOptions;
  readonly procs = new Map<number, Proc>();
  private rid = 0;
  /** Every leader observed, as "term/id", to count leader changes. */
  readonly leadersSeen = new Set<string>();

  constructor(opts: ProcClusterOptions) {
    this.opts = opts;
  }

  peersFlag(): string {
    const parts: string[] = [];
    for (let i = 1; i <= this.opts.size; i++) parts.push(`${i}=127.0.0.1:${this.opts.ports?.[i - 1] ?? this.opts.basePort + i - 1}`);
    return parts.join(',');
  }

  async startAll(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    await Promise.all(Array.from({ length: this.opts.size }, (_, i) => this.start(i + 1)));
  }

  /** Start (or restart) replica `id`; resolves once it is listening. */
  start(id: number): Promise<void> {
    const args = [
      'raft-node',
      '--id', String(id),
      '--peers', this.peersFlag(),
      '--data-dir', join(this.opts.dir, `replica-${id}`),
      '--cluster-id', this.opts.clusterId ?? 'berth',
      ...(this.opts.extraArgs ?? []),
    ];
    let stdio: ('inherit' | 'ignore' | 'ipc' | number)[];
    let fd: number | undefined;
    if (this.opts.logs === 'inherit') stdio = ['ignore', 'inherit', 'inherit', 'ipc'];
    else {
      fd = openSync(join(this.opts.dir, `replica-${id}.log`), 'a');
      stdio = ['ignore', fd, fd, 'ipc'];
    }
    const child = fork(MAIN, args, { stdio, execArgv: childExecArgv() });
    if (fd !== undefined) closeSync(fd);
    const p: Proc = {
      id,
      child,
      role: 'follower',
      term: 0,
      leader: 0,
      pending: new Map(),
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    this.procs.set(id, p);
    return new Promise((resolve, reject) => {
      child.once('exit', (code, sig) => {
        p.child = undefined;
        p.role = 'dead';
        for (const w of p.pending.values()) w.reject(new ReplicaCallError(`replica ${id} exited`, 'exited'));
        p.pending.clear();
        reject(new Error(`replica ${id} exited before it was ready (code ${code}, signal ${sig})`));
      });
      child.on('message', (m: Record<string, unknown>) => {
        if (m.event === 'ready') resolve();
        else if (m.event === 'role') {
          p.role = String(m.role);
          p.term = Number(m.term);
          p.leader = Number(m.leader);
          if (p.role === 'leader') this.leadersSeen.add(`${p.term}/${id}`);
        } else if (typeof m.rid === 'number') {
          const w = p.pending.get(m.rid);
          if (!w) return;
          p.pending.delete(m.rid);
          if (m.ok) w.resolve(m.result);
          else {
            const e = m.error as { message: string; code: string; leader: number };
            w.reject(new ReplicaCallError(e.message, e.code, e.leader));
          }
        }
      });
    });
  }

  /** Send a control request to replica `id`. */
  call<T = Record<string, unknown>>(id: number, cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const p = this.procs.get(id);
    if (!p?.child?.connected) return Promise.reject(new ReplicaCallError(`replica ${id} is not running`, 'exited'));
    const rid = ++this.rid;
    return new Promise<T>((resolve, reject) => {
      p.pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      p.child!.send({ rid, cmd, ...args });
    });
  }

  /** The live replica that currently believes it leads (highest term wins). */
  leader(): number {
    let best = 0;
    let bestTerm = -1;
    for (const p of this.procs.values()) {
      if (p.child && p.role === 'leader' && p.term > bestTerm) {
        best = p.id;
        bestTerm = p.term;
      }
    }
    return best;
  }

  async waitForLeader(timeoutMs = 10_000, not = 0): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const l = this.leader();
      if (l !== 0 && l !== not) return l;
      await sleep(2);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  running(id: number): boolean {
    return Boolean(this.procs.get(id)?.child);
  }

  /** Kill replica `id` with `signal` and wait for it to exit. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(id);
    if (!p?.child) return;
    p.child.kill(signal);
    await p.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id, 'SIGTERM')));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `n` TCP ports on 127.0.0.1 that were free a moment ago (bind to 0, then release). */
export async function freePorts(n: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

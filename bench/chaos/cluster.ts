/**
 * The chaos runner's own control-plane cluster: `berth server` processes it starts (in
 * network namespaces or behind the proxies, see network.ts), kills, pauses, restarts and
 * sends fault-hook commands to over IPC. It only ever signals processes it started, by
 * their pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childExecArgv } from '../../src/cli/child-args.ts';
import { BerthClient, type ClusterStatus } from '../../src/client/client.ts';
import type { FaultCommand, FaultReply, FaultSettings } from '../../src/server/fault-hooks.ts';
import { SecretCipher } from '../../src/store/index.ts';
import type { Network } from './network.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface ChaosClusterOptions {
  ids: number[];
  dir: string;
  net: Network;
  tickMs?: number;
  /** Serve reads from leader leases (test-only hook), to check clock faults against them. */
  leaseReads?: boolean;
  /**
   * Extra replica flags for runs with node agents: short node timings and every
   * replica's API address (so that agents are told where the leader is).
   */
  nodeFlags?: string[];
  log: (s: string) => void;
}

interface Proc {
  child: ChildProcess | undefined;
  exited: Promise<void>;
  paused: boolean;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class ChaosCluster {
  readonly ids: number[];
  readonly keyFile: string;
  private readonly procs = new Map<number, Proc>();
  private readonly pinned = new Map<number, BerthClient>();
  private readonly waiting = new Map<number, { resolve(r: FaultReply): void }>();
  private faultSeq = 0;
  /** Ids whose process was started with --join (data of a member added later). */
  private readonly joined = new Set<number>();
  private stopping = false;

  constructor(readonly opts: ChaosClusterOptions) {
    this.ids = [...opts.ids];
    this.keyFile = join(opts.dir, 'secret.key');
    opts.net.setPids(() => this.pids());
  }

  dataDir(id: number): string {
    return join(this.opts.dir, `server-${id}`);
  }

  logFile(id: number): string {
    return join(this.opts.dir, `server-${id}.log`);
  }

  async startAll(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    if (!existsSync(this.keyFile)) SecretCipher.generateKeyFile(this.keyFile);
    await Promise.all(this.ids.map((id) => this.start(id)));
  }

  /** Start (or restart) replica `id`; resolves once its API serves. */
  start(id: number, opts: { join?: boolean } = {}): Promise<void> {
    if (this.running(id)) return Promise.resolve();
    if (opts.join) this.joined.add(id);
    const hooks = ['ipc', ...(this.opts.leaseReads ? ['lease-reads'] : [])].join(',');
    const argv = [
      process.execPath,
      ...childExecArgv(),
      MAIN,
      'server',
      '--id', String(id),
      '--peers', this.opts.net.peersFlag(id, this.ids),
      '--listen', this.opts.net.apiAddr(id),
      '--data-dir', this.dataDir(id),
      '--encryption-key-file', this.keyFile,
      '--cluster-id', 'chaos',
      '--tick-ms', String(this.opts.tickMs ?? 20),
      '--fault-hooks', hooks,
      // BERTH_CHAOS_VERBOSE=1 (diagnostics): the replicas' info lines too, for timelines.
      ...(process.env.BERTH_CHAOS_VERBOSE ? [] : ['--quiet']),
      ...(this.opts.nodeFlags ? [...this.opts.nodeFlags, '--api-peers', this.ids.map((i) => `${i}=${this.opts.net.apiAddr(i)}`).join(',')] : []),
      ...(this.joined.has(id) ? ['--join'] : []),
    ];
    const { command, args } = this.opts.net.wrap(id, argv);
    const fd = openSync(this.logFile(id), 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ['ignore', fd, fd, 'ipc'] });
    } finally {
      closeSync(fd);
    }
    const p: Proc = { child, exited: new Promise((r) => child.once('exit', () => r())), paused: false };
    this.procs.set(id, p);
    child.on('message', (m: unknown) => {
      const r = m as FaultReply;
      if (r && typeof r.chaosFaultReply === 'number') {
        const w = this.waiting.get(r.chaosFaultReply);
        this.waiting.delete(r.chaosFaultReply);
        w?.resolve(r);
      }
    });
    child.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server ${id} not ready after 60 s; see ${this.logFile(id)}`)), 60_000);
      child.once('exit', (code, sig) => {
        p.child = undefined;
        p.paused = false;
        clearTimeout(timer);
        reject(new Error(`server ${id} exited (code ${code}, signal ${sig}); see ${this.logFile(id)}`));
      });
      child.on('message', (m: { event?: string }) => {
        if (m?.event === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  running(id: number): boolean {
    return Boolean(this.procs.get(id)?.child);
  }

  paused(id: number): boolean {
    return Boolean(this.procs.get(id)?.paused);
  }

  /** Running and not paused. */
  alive(id: number): boolean {
    return this.running(id) && !this.paused(id);
  }

  pid(id: number): number | undefined {
    return this.procs.get(id)?.child?.pid;
  }

  pids(): Map<number, number> {
    const m = new Map<number, number>();
    for (const [id, p] of this.procs) if (p.child?.pid) m.set(p.child.pid, id);
    return m;
  }

  /** Signal the process and wait for it to exit (a paused one is continued first). */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(id);
    if (!p?.child) return;
    if (p.paused && signal !== 'SIGKILL') this.resume(id);
    p.child.kill(signal);
    const timeout = sleep(signal === 'SIGKILL' ? 10_000 : 8_000).then(() => 'timeout' as const);
    if ((await Promise.race([p.exited.then(() => 'exited' as const), timeout])) === 'timeout' && p.child) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
    p.paused = false;
  }

  pause(id: number): void {
    const p = this.procs.get(id);
    if (!p?.child || p.paused) return;
    p.child.kill('SIGSTOP');
    p.paused = true;
  }

  resume(id: number): void {
    const p = this.procs.get(id);
    if (!p?.child || !p.paused) return;
    p.child.kill('SIGCONT');
    p.paused = false;
  }

  /** Send a fault-hook command; resolves with the replica's settings (rejects after 3 s). */
  fault(id: number, cmd: FaultCommand): Promise<FaultSettings> {
    const child = this.procs.get(id)?.child;
    if (!child?.connected) return Promise.reject(new Error(`replica ${id} is not running`));
    const seq = ++this.faultSeq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new Error(`replica ${id} did not answer fault command ${cmd.type}`));
      }, 3000);
      this.waiting.set(seq, {
        resolve: (r) => {
          clearTimeout(timer);
          if (r.ok && r.settings) resolve(r.settings);
          else reject(new Error(`replica ${id}: ${r.error ?? 'fault command failed'}`));
        },
      });
      child.send({ chaosFault: seq, cmd });
    });
  }

  /** A client of replica `id` only (short deadline, for status and final reads). */
  client(id: number): BerthClient {
    let c = this.pinned.get(id);
    if (!c) {
      c = new BerthClient({ endpoints: [this.opts.net.apiAddr(id)], timeoutMs: 2000 });
      this.pinned.set(id, c);
    }
    return c;
  }

  apiAddresses(): string[] {
    return this.ids.map((id) => this.opts.net.apiAddr(id));
  }

  async status(id: number): Promise<ClusterStatus | undefined> {
    if (!this.alive(id)) return undefined;
    return this.client(id).status().catch(() => undefined);
  }

  /** The leader that the replicas answering agree on and that says it leads; 0 if none. */
  async leader(): Promise<number> {
    const st = (await Promise.all(this.ids.map((id) => this.status(id)))).filter((s): s is ClusterStatus => s !== undefined);
    const claims = st.filter((s) => s.role === 'leader');
    if (claims.length === 0) return 0;
    // Several may claim (an old leader in a minority): the one with the highest term.
    const best = claims.reduce((a, b) => (b.term > a.term ? b : a));
    return best.id;
  }

  async waitForLeader(timeoutMs: number, not = 0): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const l = await this.leader();
      if (l !== 0 && l !== not) return l;
      if (performance.now() > deadline) return 0;
      await sleep(50);
    }
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const id of this.procs.keys()) this.resume(id);
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id, 'SIGTERM')));
    for (const c of this.pinned.values()) c.close();
    this.pinned.clear();
  }

  get isStopping(): boolean {
    return this.stopping;
  }
}

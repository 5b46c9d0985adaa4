/**
 * Node agents of a chaos run: `berth agent` processes (src/cli/main.ts) pointed at every
 * replica, which the orchestration scenarios kill -9 and start again. Each agent keeps its
 * data directory across restarts, so that a restarted agent adopts the containers the
 * previous one started (process and cri runtimes). Like ChaosCluster it only ever signals
 * processes it started, by their pid; the pods of the process runtime are found by the
 * marker in their environment (procscan.ts) and killed by process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childExecArgv } from '../../src/cli/child-args.ts';
import { sleep } from './cluster.ts';
import { killGroups, scanPodProcesses } from './procscan.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export type AgentRuntime = 'process' | 'cri';

export interface ChaosAgentsOptions {
  dir: string;
  /** Every replica's API address. */
  servers: string[];
  count: number;
  runtime: AgentRuntime;
  /** The marker every pod of this run carries in its environment (BERTH_CHAOS_RUN). */
  marker: string;
  criSocket?: string;
  /** Node capacity (small, so that the overcommit check means something). */
  cpu?: string;
  memory?: string;
  maxPods?: number;
  /**
   * Self-test of the checks (BERTH_CHAOS_FORGET_AGENT_STATE=1): a restarted agent gets an
   * empty data directory, so it cannot adopt what its predecessor started and starts the
   * pods again beside the old processes; "no pod runs twice" must then fail.
   */
  forgetOnRestart?: boolean;
  log: (s: string) => void;
}

interface AgentProc {
  child: ChildProcess | undefined;
  exited: Promise<void>;
  startedAt: number;
}

export class ChaosAgents {
  private readonly procs = new Map<number, AgentProc>();
  /** Agents killed by a fault and not started again: their nodes are down. */
  private readonly downSet = new Set<number>();
  private stopping = false;

  constructor(readonly opts: ChaosAgentsOptions) {
    if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error(`agents: count must be a positive integer, not ${opts.count}`);
  }

  ids(): number[] {
    return Array.from({ length: this.opts.count }, (_, i) => i + 1);
  }

  name(n: number): string {
    return `chaos-node-${n}`;
  }

  names(): string[] {
    return this.ids().map((n) => this.name(n));
  }

  idOf(node: string): number | undefined {
    const m = /^chaos-node-(\d+)$/.exec(node);
    return m ? Number(m[1]) : undefined;
  }

  dataDir(n: number): string {
    return join(this.opts.dir, `agent-${n}`);
  }

  logFile(n: number): string {
    return join(this.opts.dir, `agent-${n}.log`);
  }

  running(n: number): boolean {
    return Boolean(this.procs.get(n)?.child);
  }

  /** Nodes whose agent a fault killed (and that were not started again yet). */
  downNodes(): string[] {
    return [...this.downSet].map((n) => this.name(n));
  }

  up(): number[] {
    return this.ids().filter((n) => !this.downSet.has(n));
  }

  async startAll(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    await Promise.all(this.ids().map((n) => this.start(n)));
  }

  /** Start (or restart) agent `n`; resolves once it registered (its 'agent-ready' message). */
  start(n: number): Promise<void> {
    if (this.running(n)) {
      this.downSet.delete(n);
      return Promise.resolve();
    }
    if (this.stopping) return Promise.reject(new Error('agents are stopping'));
    const dataDir = this.dataDir(n);
    if (this.opts.forgetOnRestart && this.procs.has(n) && existsSync(dataDir)) renameSync(dataDir, `${dataDir}.forgotten-${Date.now()}`);
    mkdirSync(dataDir, { recursive: true });
    const args = [
      ...childExecArgv(),
      MAIN,
      'agent',
      '--server', this.opts.servers.join(','),
      '--name', this.name(n),
      '--runtime', this.opts.runtime,
      '--data-dir', dataDir,
      '--cpu', this.opts.cpu ?? '1',
      '--memory', this.opts.memory ?? '2Gi',
      '--max-pods', String(this.opts.maxPods ?? 20),
      '--listen', '127.0.0.1:0',
      '--node-ip', '127.0.0.1',
      '--quiet',
      ...(this.opts.runtime === 'cri' && this.opts.criSocket ? ['--cri-socket', this.opts.criSocket] : []),
    ];
    const fd = openSync(this.logFile(n), 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd, 'ipc'] });
    } finally {
      closeSync(fd);
    }
    const p: AgentProc = { child, exited: new Promise((r) => child.once('exit', () => r())), startedAt: performance.now() };
    child.once('exit', () => (p.child = undefined));
    child.on('error', () => undefined);
    this.procs.set(n, p);
    this.downSet.delete(n);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent ${this.name(n)} not ready after 60 s; see ${this.logFile(n)}`)), 60_000);
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`agent ${this.name(n)} exited (code ${code}, signal ${sig}); see ${this.logFile(n)}`));
      });
      child.on('message', (m: { event?: string }) => {
        if (m?.event === 'agent-ready') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** kill -9 the agent (its pods keep running, as containers outlive a crashed kubelet). */
  async kill(n: number): Promise<void> {
    this.downSet.add(n);
    const p = this.procs.get(n);
    if (!p?.child) return;
    p.child.kill('SIGKILL');
    await Promise.race([p.exited, sleep(10_000)]);
  }

  /**
   * The node dies: its agent and (process runtime) every pod process it ran are killed -9.
   * Returns how many pod process groups were killed.
   */
  async killNode(n: number): Promise<number> {
    await this.kill(n);
    if (this.opts.runtime !== 'process') return 0;
    const node = this.name(n);
    const groups = scanPodProcesses(this.opts.marker).filter((p) => p.node === node).map((p) => p.pgrp);
    killGroups(groups, 'SIGKILL');
    return groups.length;
  }

  /** Start every agent a fault left down. */
  async healAll(): Promise<void> {
    for (const n of this.ids()) {
      if (this.running(n) && !this.downSet.has(n)) continue;
      try {
        await this.start(n);
      } catch (e) {
        this.opts.log(`restart agent ${this.name(n)}: ${(e as Error).message}`);
      }
    }
  }

  /** Stop every agent (SIGTERM, SIGKILL after 8 s) and kill every pod process of the run. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.procs.values()].map(async (p) => {
        if (!p.child) return;
        p.child.kill('SIGTERM');
        if ((await Promise.race([p.exited.then(() => 'exited' as const), sleep(8000).then(() => 'timeout' as const)])) === 'timeout') {
          p.child?.kill('SIGKILL');
          await p.exited;
        }
      }),
    );
    this.killPods();
  }

  /** SIGKILL every pod process group of this run (process runtime). */
  killPods(): number {
    const groups = [...new Set(scanPodProcesses(this.opts.marker).map((p) => p.pgrp))];
    killGroups(groups, 'SIGKILL');
    return groups.length;
  }
}

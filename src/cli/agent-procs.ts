/**
 * Node agents (`berth agent`) as child processes of `berth up` and the benchmarks. Like
 * ServerCluster, it only ever signals processes it started.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childExecArgv } from './child-args.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface AgentProcsOptions {
  /** Where each agent keeps its data (DIR/agent-N) and log (DIR/agent-N.log). */
  dir: string;
  servers: string[];
  runtime: 'cri' | 'process' | 'fake';
  criSocket?: string;
  /** Node names: PREFIX-1, PREFIX-2, ... (default "node"). */
  namePrefix?: string;
  extraArgs?: string[];
}

export class AgentProcs {
  private readonly procs = new Map<number, { child: ChildProcess | undefined; exited: Promise<void> }>();

  constructor(readonly opts: AgentProcsOptions) {}

  name(n: number): string {
    return `${this.opts.namePrefix ?? 'node'}-${n}`;
  }

  logFile(n: number): string {
    return join(this.opts.dir, `agent-${n}.log`);
  }

  /** Start (or restart) agent `n`; resolves once the process runs (it registers on its own). */
  start(n: number): void {
    const dataDir = join(this.opts.dir, `agent-${n}`);
    mkdirSync(dataDir, { recursive: true });
    const args = [
      'agent',
      '--server', this.opts.servers.join(','),
      '--name', this.name(n),
      '--runtime', this.opts.runtime,
      '--data-dir', dataDir,
      ...(this.opts.criSocket ? ['--cri-socket', this.opts.criSocket] : []),
      ...(this.opts.extraArgs ?? []),
    ];
    const fd = openSync(this.logFile(n), 'a');
    const child = fork(MAIN, args, { stdio: ['ignore', fd, fd, 'ipc'], execArgv: childExecArgv() });
    closeSync(fd);
    const p = { child: child as ChildProcess | undefined, exited: new Promise<void>((r) => child.once('exit', () => r())) };
    child.once('exit', () => (p.child = undefined));
    this.procs.set(n, p);
  }

  startAll(count: number): void {
    for (let n = 1; n <= count; n++) this.start(n);
  }

  running(n: number): boolean {
    return Boolean(this.procs.get(n)?.child);
  }

  pid(n: number): number | undefined {
    return this.procs.get(n)?.child?.pid;
  }

  ids(): number[] {
    return [...this.procs.keys()];
  }

  async kill(n: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(n);
    if (!p?.child) return;
    p.child.kill(signal);
    await p.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.ids().map((n) => this.kill(n, 'SIGTERM')));
  }
}

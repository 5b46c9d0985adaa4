/**
 * Control-plane replicas (`berth server`) as child processes on loopback: `berth up`,
 * the multi-process tests and the API benchmarks start clusters with it. It only ever
 * signals processes it started.
 */
import { childExecArgv } from './child-args.ts';
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretCipher } from '../store/index.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface ServerClusterOptions {
  size: number;
  dir: string;
  /** Raft peer ports, one per replica (index 0 = replica 1). */
  peerPorts: number[];
  /** API ports, one per replica. */
  apiPorts: number[];
  clusterId?: string;
  extraArgs?: string[];
  /** Replica logs: DIR/server-N.log (default) or this process's stderr. */
  logs?: 'file' | 'inherit';
}

interface Proc {
  child: ChildProcess | undefined;
  exited: Promise<void>;
}

export class ServerCluster {
  readonly procs = new Map<number, Proc>();
  readonly keyFile: string;

  constructor(readonly opts: ServerClusterOptions) {
    this.keyFile = join(opts.dir, 'secret.key');
  }

  peersFlag(): string {
    return this.opts.peerPorts.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  }

  apiAddress(id: number): string {
    return `127.0.0.1:${this.opts.apiPorts[id - 1]}`;
  }

  apiAddresses(): string[] {
    return this.opts.apiPorts.map((p) => `127.0.0.1:${p}`);
  }

  async startAll(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true });
    if (!existsSync(this.keyFile)) SecretCipher.generateKeyFile(this.keyFile);
    await Promise.all(Array.from({ length: this.opts.size }, (_, i) => this.start(i + 1)));
  }

  /** Start (or restart) replica `id`; resolves once its API is serving. */
  start(id: number): Promise<void> {
    const args = [
      'server',
      '--id', String(id),
      '--peers', this.peersFlag(),
      '--listen', this.apiAddress(id),
      '--data-dir', join(this.opts.dir, `server-${id}`),
      '--encryption-key-file', this.keyFile,
      '--cluster-id', this.opts.clusterId ?? 'berth',
      '--api-peers', this.opts.apiPorts.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(','),
      ...(this.opts.extraArgs ?? []),
    ];
    let fd: number | undefined;
    let stdio: ('ignore' | 'inherit' | 'ipc' | number)[];
    if (this.opts.logs === 'inherit') stdio = ['ignore', 'inherit', 'inherit', 'ipc'];
    else {
      fd = openSync(join(this.opts.dir, `server-${id}.log`), 'a');
      stdio = ['ignore', fd, fd, 'ipc'];
    }
    const child = fork(MAIN, args, { stdio, execArgv: childExecArgv() });
    if (fd !== undefined) closeSync(fd);
    const p: Proc = { child, exited: new Promise((r) => child.once('exit', () => r())) };
    this.procs.set(id, p);
    return new Promise((resolve, reject) => {
      child.once('exit', (code, sig) => {
        p.child = undefined;
        reject(new Error(`server ${id} exited before it was ready (code ${code}, signal ${sig}); see ${join(this.opts.dir, `server-${id}.log`)}`));
      });
      child.on('message', (m: { event?: string }) => {
        if (m.event === 'ready') resolve();
      });
    });
  }

  running(id: number): boolean {
    return Boolean(this.procs.get(id)?.child);
  }

  pid(id: number): number | undefined {
    return this.procs.get(id)?.child?.pid;
  }

  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(id);
    if (!p?.child) return;
    p.child.kill(signal);
    await p.exited;
  }

  signal(id: number, signal: NodeJS.Signals): void {
    this.procs.get(id)?.child?.kill(signal);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id, 'SIGTERM')));
  }
}

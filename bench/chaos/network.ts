/**
 * The network between the replicas, as the chaos runner sees it: where each replica
 * listens, what it is told its peers' addresses are, how its process is started, and how
 * traffic from one replica to another is cut, slowed or made lossy. Two implementations:
 *
 *   proxy  every replica on loopback; one fault-injecting proxy per directed pair sits on
 *          the peer addresses (bench/chaos/proxy.ts)
 *   netns  every replica in its own network namespace on a bridge; nft rules inside the
 *          namespaces cut traffic (bench/chaos/netns.ts); no delay or loss (no netem)
 *
 * The clients (workload, watch, probes) always reach every replica's API directly: the
 * faults are between replicas.
 */
import { freePorts } from '../../src/cli/proc-cluster.ts';
import { Netns, systemBin } from './netns.ts';
import { FaultProxy, LinkTable, socketOwner } from './proxy.ts';
import type { Rng } from './rng.ts';

export type BlockStyle = 'blackhole' | 'reset';

export interface Network {
  readonly kind: 'proxy' | 'netns';
  readonly supports: { delay: boolean; loss: boolean };
  /** Allocate addresses (and proxies) for these replica ids. */
  setup(ids: number[]): Promise<void>;
  /** The Raft peer address replica `id` listens on. */
  listenAddr(id: number): string;
  /** The client API address of replica `id`. */
  apiAddr(id: number): string;
  /** The --peers flag for replica `id`, listing `members` (itself included). */
  peersFlag(id: number, members: number[]): string;
  /** The address to give in a membership change that (re)adds `id`. */
  memberAddr(id: number): Promise<string>;
  /** The command that runs `argv` (node and its arguments) on replica `id`'s host. */
  wrap(id: number, argv: string[]): { command: string; args: string[] };
  /** Tell the network which process is which replica (for attributing connections). */
  setPids(get: () => Map<number, number>): void;
  /** Traffic from `from` to `to` stops. */
  block(from: number, to: number, style: BlockStyle): void;
  /** Traffic from `from` to `to` is delayed. */
  slow(from: number, to: number, delayMs: number, jitterMs: number): void;
  /** Traffic from `from` to `to` is lossy (chance per chunk that the connection breaks). */
  lossy(from: number, to: number, loss: number): void;
  /** Every link back to healthy. */
  heal(): void;
  /** The links that have a fault now. */
  describe(): string;
  teardown(): Promise<void>;
}

// ---------------------------------------------------------------------------------------

export class ProxyNetwork implements Network {
  readonly kind = 'proxy' as const;
  readonly supports = { delay: true, loss: true };
  readonly table = new LinkTable();
  private readonly listen = new Map<number, number>();
  private readonly api = new Map<number, number>();
  /** `${from}>${to}` → the proxy from carries to `to`. */
  private readonly pairs = new Map<string, FaultProxy>();
  private readonly ingress = new Map<number, FaultProxy>();
  private pids: () => Map<number, number> = () => new Map();

  constructor(
    private readonly rng: Rng,
    private readonly log: (s: string) => void,
  ) {}

  async setup(ids: number[]): Promise<void> {
    const ports = await freePorts(2 * ids.length);
    ids.forEach((id, i) => {
      this.listen.set(id, ports[2 * i]!);
      this.api.set(id, ports[2 * i + 1]!);
    });
    for (const from of ids) {
      for (const to of ids) {
        if (from === to) continue;
        const p = new FaultProxy({ to, target: { host: '127.0.0.1', port: this.listen.get(to)! }, from, table: this.table, rng: this.rng.fork(), log: this.log });
        await p.listen();
        this.pairs.set(`${from}>${to}`, p);
      }
    }
  }

  listenAddr(id: number): string {
    return `127.0.0.1:${this.listen.get(id)}`;
  }

  apiAddr(id: number): string {
    return `127.0.0.1:${this.api.get(id)}`;
  }

  peersFlag(id: number, members: number[]): string {
    return members.map((m) => `${m}=${m === id ? this.listenAddr(id) : this.pairs.get(`${id}>${m}`)!.address}`).join(',');
  }

  async memberAddr(id: number): Promise<string> {
    let p = this.ingress.get(id);
    if (!p) {
      let port = 0;
      const resolve = async (s: import('node:net').Socket): Promise<number | undefined> => {
        // The connecting socket may take a moment to show up in /proc.
        for (let i = 0; i < 20; i++) {
          const byPid = this.pids();
          const pid = socketOwner(s, port, [...byPid.keys()]);
          if (pid !== undefined) return byPid.get(pid);
          await new Promise((r) => setTimeout(r, 5));
        }
        return undefined;
      };
      p = new FaultProxy({ to: id, target: { host: '127.0.0.1', port: this.listen.get(id)! }, from: resolve, table: this.table, rng: this.rng.fork(), log: this.log });
      port = await p.listen();
      this.ingress.set(id, p);
    }
    return p.address;
  }

  wrap(_id: number, argv: string[]): { command: string; args: string[] } {
    return { command: argv[0]!, args: argv.slice(1) };
  }

  setPids(get: () => Map<number, number>): void {
    this.pids = get;
  }

  block(from: number, to: number, style: BlockStyle): void {
    this.table.set(from, to, { mode: style });
  }

  slow(from: number, to: number, delayMs: number, jitterMs: number): void {
    this.table.set(from, to, { delayMs, jitterMs });
  }

  lossy(from: number, to: number, loss: number): void {
    this.table.set(from, to, { loss });
  }

  heal(): void {
    this.table.healAll();
  }

  describe(): string {
    return this.table.describe();
  }

  /** Connections no proxy could attribute to a replica (should stay 0). */
  unattributed(): number {
    let n = 0;
    for (const p of this.ingress.values()) n += p.stats.unattributed;
    return n;
  }

  async teardown(): Promise<void> {
    await Promise.all([...this.pairs.values(), ...this.ingress.values()].map((p) => p.close()));
    this.pairs.clear();
    this.ingress.clear();
  }
}

// ---------------------------------------------------------------------------------------

const PEER_PORT = 7001;
const API_PORT = 8001;

export class NetnsNetwork implements Network {
  readonly kind = 'netns' as const;
  readonly supports = { delay: false, loss: false };
  private netns: Netns | undefined;
  private readonly blocked = new Set<string>();

  constructor(private readonly runId: string) {}

  async setup(ids: number[]): Promise<void> {
    this.netns = new Netns(this.runId, ids);
    this.netns.setup();
  }

  private get n(): Netns {
    if (!this.netns) throw new Error('netns network not set up');
    return this.netns;
  }

  listenAddr(id: number): string {
    return `${this.n.ip(id)}:${PEER_PORT}`;
  }

  apiAddr(id: number): string {
    return `${this.n.ip(id)}:${API_PORT}`;
  }

  peersFlag(_id: number, members: number[]): string {
    return members.map((m) => `${m}=${this.listenAddr(m)}`).join(',');
  }

  async memberAddr(id: number): Promise<string> {
    return this.listenAddr(id);
  }

  wrap(id: number, argv: string[]): { command: string; args: string[] } {
    // nsenter, not `ip netns exec` (which remounts /sys); for the net namespace alone it
    // execs the program in place, so the pid we get is the replica's own.
    return { command: systemBin('nsenter') ?? 'nsenter', args: [`--net=/run/netns/${this.n.ns(id)}`, ...argv] };
  }

  setPids(): void {}

  block(from: number, to: number, style: BlockStyle): void {
    const k = `${from}>${to}`;
    if (this.blocked.has(k)) return;
    this.blocked.add(k);
    this.n.block(from, to, style);
  }

  slow(): void {
    throw new Error('delays need --isolation proxy (no tc netem on this host)');
  }

  lossy(): void {
    throw new Error('loss needs --isolation proxy (no tc netem on this host)');
  }

  heal(): void {
    if (this.blocked.size === 0) return;
    this.blocked.clear();
    this.n.heal();
  }

  describe(): string {
    return [...this.blocked].join(' ');
  }

  async teardown(): Promise<void> {
    this.netns?.teardownSync();
  }
}

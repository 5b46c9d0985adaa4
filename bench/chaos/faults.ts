/**
 * Fault primitives for scenarios, and the log of what was injected when. Every fault is
 * a record with an injection time and (for faults that end) a heal time on the same
 * monotonic clock as the history, so that recovery can be measured against it.
 */
import { BerthClient } from '../../src/client/client.ts';
import { sleep, type ChaosCluster } from './cluster.ts';
import type { BlockStyle, Network } from './network.ts';

export interface FaultRecord {
  n: number;
  kind: string;
  target: string;
  injectAt: number;
  healAt?: number;
  note?: string;
  /** From injection to the first acknowledged write invoked after it. */
  recoverInjectMs?: number;
  /** From heal to the first acknowledged write invoked after it. */
  recoverHealMs?: number;
  /** Orchestration runs: from injection to the first converged look at Deployments, pods and nodes. */
  convergeMs?: number;
  /** The same from heal. */
  convergeHealMs?: number;
}

export class Faults {
  readonly records: FaultRecord[] = [];
  /** Members removed by a scenario and not added back yet. */
  readonly removed = new Set<number>();
  private admin: BerthClient | undefined;

  constructor(
    readonly cluster: ChaosCluster,
    readonly net: Network,
    private readonly log: (s: string) => void,
    private readonly t0: number,
  ) {}

  /** Record a fault that starts now. */
  begin(kind: string, target: string | number | number[], note?: string): FaultRecord {
    const t = Array.isArray(target) ? target.join(',') : String(target);
    const r: FaultRecord = { n: this.records.length + 1, kind, target: t, injectAt: performance.now(), ...(note ? { note } : {}) };
    this.records.push(r);
    // With BERTH_CHAOS_VERBOSE the wall-clock time too, to line faults up with the replicas' logs.
    const wall = process.env.BERTH_CHAOS_VERBOSE ? ` @${new Date().toISOString()}` : '';
    this.log(`[${((r.injectAt - this.t0) / 1000).toFixed(1)}s] fault ${r.n}: ${kind} ${t}${note ? ` (${note})` : ''}${wall}`);
    return r;
  }

  /** The fault ends now. */
  end(r: FaultRecord): void {
    r.healAt = performance.now();
    this.log(`[${((r.healAt - this.t0) / 1000).toFixed(1)}s] fault ${r.n}: healed after ${Math.round(r.healAt - r.injectAt)} ms`);
  }

  /** Inject, hold, heal; the record spans the hold. */
  async hold(kind: string, target: string | number | number[], holdMs: number, inject: () => unknown, heal: () => unknown, note?: string): Promise<FaultRecord> {
    const r = this.begin(kind, target, note);
    try {
      await inject();
      await sleep(holdMs);
    } finally {
      await heal();
      this.end(r);
    }
    return r;
  }

  // -------------------------------------------------------------------------------------
  // Network

  /** Cut every link between replicas in different groups (both directions). */
  partition(groups: number[][], style: BlockStyle): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.net.block(a, b, style);
      }
    }
  }

  /** Cut traffic from every `from` to every `to` (one direction only). */
  oneWay(from: number[], to: number[], style: BlockStyle): void {
    for (const a of from) for (const b of to) if (a !== b) this.net.block(a, b, style);
  }

  healNetwork(): void {
    this.net.heal();
  }

  // -------------------------------------------------------------------------------------
  // Processes and hooks

  async crash(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.cluster.kill(id, signal);
  }

  async restart(id: number): Promise<void> {
    await this.cluster.start(id);
  }

  async fsyncDelay(ids: number[], ms: number): Promise<void> {
    await Promise.all(ids.map((id) => this.cluster.fault(id, { type: 'fsyncDelay', ms }).catch((e: Error) => this.log(`fsync delay on ${id}: ${e.message}`))));
  }

  async clockJump(id: number, ms: number): Promise<void> {
    await this.cluster.fault(id, { type: 'clockJump', ms }).catch((e: Error) => this.log(`clock jump on ${id}: ${e.message}`));
  }

  async clockRate(id: number, rate: number): Promise<void> {
    await this.cluster.fault(id, { type: 'clockRate', rate }).catch((e: Error) => this.log(`clock rate on ${id}: ${e.message}`));
  }

  // -------------------------------------------------------------------------------------
  // Membership and leadership (through the API, like `berth cluster`)

  private client(): BerthClient {
    this.admin ??= new BerthClient({ endpoints: this.cluster.apiAddresses(), timeoutMs: 30_000 });
    return this.admin;
  }

  /** Through the leader (or whoever answers); errors are logged, not thrown. */
  async transferLeader(to: number): Promise<boolean> {
    const l = await this.cluster.leader();
    const c = l ? this.cluster.client(l) : this.client();
    try {
      await c.transferLeader(to);
      return true;
    } catch (e) {
      this.log(`transfer leadership to ${to}: ${(e as Error).message}`);
      return false;
    }
  }

  async removeMember(id: number): Promise<boolean> {
    try {
      await this.client().removeMember(id);
      this.removed.add(id);
      return true;
    } catch (e) {
      this.log(`remove member ${id}: ${(e as Error).message}`);
      return false;
    }
  }

  async addMember(id: number): Promise<boolean> {
    const addr = await this.net.memberAddr(id);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.client().addMember(id, addr);
        this.removed.delete(id);
        return true;
      } catch (e) {
        this.log(`add member ${id} at ${addr}: ${(e as Error).message}`);
        await sleep(500);
      }
    }
    return false;
  }

  /** Members (as this run last made them). */
  members(): number[] {
    return this.cluster.ids.filter((id) => !this.removed.has(id));
  }

  /**
   * Undo everything: network healed, processes continued and running, disks and clocks
   * back to normal, removed members added back.
   */
  async healAll(): Promise<void> {
    this.net.heal();
    for (const id of this.cluster.ids) this.cluster.resume(id);
    for (const id of this.cluster.ids) {
      if (!this.cluster.running(id)) {
        try {
          await this.cluster.start(id);
        } catch (e) {
          this.log(`restart ${id}: ${(e as Error).message}`);
        }
      }
    }
    for (const id of this.cluster.ids) {
      await this.cluster.fault(id, { type: 'fsyncDelay', ms: 0 }).catch(() => undefined);
      await this.cluster.fault(id, { type: 'clockRate', rate: 1 }).catch(() => undefined);
    }
    for (const id of [...this.removed]) await this.addMember(id);
  }

  close(): void {
    this.admin?.close();
  }
}

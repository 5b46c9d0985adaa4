/**
 * Leader-only: keeps each Node's Ready condition in line with the heartbeats the leader
 * receives (liveness.ts). The condition is written only when it changes, never per
 * heartbeat, so a quiet fleet costs the log nothing:
 *  - a node that heartbeats and is not Ready=True becomes Ready=True;
 *  - a node silent for longer than the grace period becomes Ready=Unknown
 *    (reason NodeStatusUnknown), once.
 * A node this leader has not heard from yet is left as it is until its grace period,
 * counted from when this replica became leader, runs out.
 */
import type { Clock } from '../../controllers/types.ts';
import type { ObjectStore, StoredObject } from '../../store/index.ts';
import type { PlainObject } from '../convert.ts';
import type { Liveness } from './liveness.ts';

export interface NodeMonitorDeps {
  store: ObjectStore;
  liveness: Liveness;
  clock: Clock;
  /** Write a Node's status, conditional on metadata.resourceVersion. */
  writeStatus(node: PlainObject): Promise<unknown>;
  gracePeriodMs: number;
  /** How often nodes are checked (default min(1 s, grace / 4)). */
  checkEveryMs?: number;
  logger?: { warn(s: string): void; info(s: string): void };
}

interface Condition {
  type: string;
  status: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
  [k: string]: unknown;
}

export const READY_REASON = 'KubeletReady';
export const READY_MESSAGE = 'berth agent is posting ready status';
export const UNKNOWN_REASON = 'NodeStatusUnknown';
export const UNKNOWN_MESSAGE = 'Kubelet stopped posting node status.';

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function readyCondition(node: StoredObject): Condition | undefined {
  const cs = node.status?.conditions;
  if (!Array.isArray(cs)) return undefined;
  return cs.find((c) => typeof c === 'object' && c !== null && (c as Condition).type === 'Ready') as Condition | undefined;
}

export class NodeMonitor {
  private cancelTimer: (() => void) | undefined;
  private readonly inFlight = new Set<string>();
  private stopped = false;
  private soon = false;

  constructor(private readonly d: NodeMonitorDeps) {}

  start(signal: AbortSignal): void {
    if (signal.aborted) return;
    signal.addEventListener('abort', () => this.stop(), { once: true });
    this.check();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** A heartbeat came from a node that may not be Ready yet: check now rather than at the next tick. */
  poke(): void {
    if (this.stopped || this.soon) return;
    this.soon = true;
    this.cancelTimer?.();
    this.cancelTimer = this.d.clock.setTimer(0, () => this.check());
  }

  private get every(): number {
    return this.d.checkEveryMs ?? Math.max(10, Math.min(1000, Math.floor(this.d.gracePeriodMs / 4)));
  }

  /** One pass over every node; then the next one is scheduled. */
  check(): void {
    if (this.stopped) return;
    this.soon = false;
    this.cancelTimer = undefined;
    try {
      const nodes = this.d.store.list({ kind: 'Node' }).items;
      const names = new Set<string>();
      for (const n of nodes) {
        const name = n.metadata.name;
        names.add(name);
        this.d.liveness.observe(name);
        const want = this.desired(name);
        if (!want) continue;
        const cur = readyCondition(n);
        if (cur?.status === want || this.inFlight.has(name)) continue;
        void this.write(n, want);
      }
    } catch (e) {
      this.d.logger?.warn(`node monitor: ${(e as Error).message}`);
    }
    if (!this.stopped && !this.cancelTimer) this.cancelTimer = this.d.clock.setTimer(this.every, () => this.check());
  }

  private desired(name: string): 'True' | 'Unknown' | undefined {
    const silent = this.d.liveness.silentForMs(name);
    if (silent === undefined) return undefined;
    if (silent > this.d.gracePeriodMs) return 'Unknown';
    return this.d.liveness.hasBeaten(name) ? 'True' : undefined;
  }

  private async write(node: StoredObject, want: 'True' | 'Unknown'): Promise<void> {
    const name = node.metadata.name;
    this.inFlight.add(name);
    try {
      const now = this.d.clock.now();
      const prev = readyCondition(node);
      const beat = this.d.liveness.lastBeat(name);
      const cond: Condition =
        want === 'True'
          ? { type: 'Ready', status: 'True', lastHeartbeatTime: iso(beat ?? now), lastTransitionTime: iso(now), reason: READY_REASON, message: READY_MESSAGE }
          : {
              type: 'Ready',
              status: 'Unknown',
              // Unknown keeps the last heartbeat anyone knew of: when the node was last alive.
              ...(prev?.lastHeartbeatTime ? { lastHeartbeatTime: prev.lastHeartbeatTime } : beat !== undefined ? { lastHeartbeatTime: iso(beat) } : {}),
              lastTransitionTime: iso(now),
              reason: UNKNOWN_REASON,
              message: UNKNOWN_MESSAGE,
            };
      const others = ((node.status?.conditions as Condition[] | undefined) ?? []).filter((c) => c?.type !== 'Ready');
      const next: PlainObject = { ...(node as PlainObject), status: { ...(node.status ?? {}), conditions: [cond, ...others] } };
      await this.d.writeStatus(next);
      this.d.logger?.info(`node ${name}: Ready=${want}`);
    } catch (e) {
      // A conflict or a lost leadership: the next pass looks again at what is stored.
      if (!this.stopped) this.d.logger?.warn(`node monitor: cannot set ${name} Ready=${want}: ${(e as Error).message}`);
    } finally {
      this.inFlight.delete(name);
    }
  }
}

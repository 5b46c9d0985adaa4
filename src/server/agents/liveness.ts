/**
 * Node liveness as the leader sees it: the time of each node's last heartbeat, in this
 * replica's memory only (ARCHITECTURE: never in the log). A new leader knows nothing of
 * the heartbeats its predecessor received, so every node is given a full grace period
 * counted from the moment this replica became leader: a failover never makes the whole
 * fleet look dead.
 *
 * `silentForMs` is the LivenessSource of src/controllers/types.ts.
 */
import type { LivenessSource } from '../../controllers/types.ts';

export class Liveness implements LivenessSource {
  /** When this replica became leader (undefined: not leader). */
  private since: number | undefined;
  private readonly beats = new Map<string, number>();
  /** When the leader first knew of a node that has not beaten yet (store listing). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  get leaderSince(): number | undefined {
    return this.since;
  }

  /** This replica became leader: forget everything learnt before (it may be stale). */
  becameLeader(): void {
    this.since = this.now();
    this.beats.clear();
    this.seen.clear();
  }

  lostLeadership(): void {
    this.since = undefined;
    this.beats.clear();
    this.seen.clear();
  }

  beat(node: string): void {
    if (this.since === undefined) return;
    this.beats.set(node, this.now());
  }

  /** The node exists (the leader saw it in its store); it gets a grace period from now. */
  observe(node: string): void {
    if (this.since === undefined || this.beats.has(node) || this.seen.has(node)) return;
    this.seen.set(node, this.now());
  }

  forget(node: string): void {
    this.beats.delete(node);
    this.seen.delete(node);
  }

  /** Whether the node heartbeated to this leader. */
  hasBeaten(node: string): boolean {
    return this.beats.has(node);
  }

  /** The time of the last heartbeat this leader received, if any. */
  lastBeat(node: string): number | undefined {
    return this.beats.get(node);
  }

  silentForMs(node: string): number | undefined {
    if (this.since === undefined) return undefined;
    const last = this.beats.get(node) ?? this.seen.get(node);
    if (last === undefined) return undefined;
    return Math.max(0, this.now() - Math.max(last, this.since));
  }
}

import type { NodeId } from './types.ts';

/**
 * A bounded window of AppMsgs sent to a follower and not yet acknowledged: the flow
 * control of the replicate state. Each slot remembers the last index the message
 * carried and its size in bytes.
 */
export class Inflights {
  private readonly idx: number[] = [];
  private readonly bytes: number[] = [];
  private totalBytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  add(index: number, bytes: number): void {
    this.idx.push(index);
    this.bytes.push(bytes);
    this.totalBytes += bytes;
  }

  /** Release every message whose last index is ≤ `index` (the follower has it). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.idx.length && this.idx[n]! <= index) {
      this.totalBytes -= this.bytes[n]!;
      n++;
    }
    if (n > 0) {
      this.idx.splice(0, n);
      this.bytes.splice(0, n);
    }
  }

  /** Release the oldest slot (the heartbeat-response escape hatch, see Raft.handleHeartbeatResp). */
  freeFirstOne(): void {
    if (this.idx.length === 0) return;
    this.totalBytes -= this.bytes[0]!;
    this.idx.shift();
    this.bytes.shift();
  }

  full(): boolean {
    return this.idx.length >= this.maxCount || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  count(): number {
    return this.idx.length;
  }

  reset(): void {
    this.idx.length = 0;
    this.bytes.length = 0;
    this.totalBytes = 0;
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * What the leader knows of one follower's log (§5.3 nextIndex/matchIndex), and how it
 * is currently sending to it:
 *  - probe: one AppMsg per heartbeat interval until the follower's position is found;
 *  - replicate: optimistic pipelining, up to `inflights.maxCount` messages in flight;
 *  - snapshot: a snapshot is on its way; nothing else is sent until it lands or fails.
 *
 * Invariant: match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state, the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round (or added recently). */
  recentActive = false;
  /** Leader tick of the newest lease heartbeat this follower acknowledged (-1: none). */
  leaseAck = -1;
  /** In probe state: an AppMsg was sent and we wait for its answer or the next heartbeat. */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(
    readonly id: NodeId,
    next: number,
    maxInflight: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** A successful AppResp for `n`. Returns false when it is stale (nothing new). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** After sending entries up to `n` in replicate state. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * A rejected AppMsg at `rejected`; `matchHint` is where the follower suggests to try
   * next. Returns false when the rejection is stale (an old message's answer).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}

/**
 * The scheduling queue, after kube-scheduler's PriorityQueue:
 *
 *  - active: pods ready to be tried, highest spec.priority first, then oldest (creation
 *    time, then arrival order);
 *  - backoff: pods that failed and wait out their back-off (1 s doubling to 10 s,
 *    podInitialBackoff / podMaxBackoff) before going back to active;
 *  - unschedulable: pods no node could take. They wait for a cluster event that may help
 *    them — one whose kind touches a filter plugin that rejected them (a freed pod helps a
 *    pod short of cpu, not one with an untolerated taint) — and at most 5 minutes.
 *
 * A pod that was being tried when such an event came goes to backoff rather than
 * unschedulable (it may have missed what would have let it in). Time comes from the
 * injected clock; timers exist only while something waits on them.
 */
import type { Clock } from '../controllers/types.ts';
import { Heap, type HeapItem } from './heap.ts';
import type { PodInfo } from './pod-info.ts';

export type QueueLocation = 'active' | 'backoff' | 'unschedulable' | 'inFlight';

export class QueuedPod implements HeapItem {
  heapIndex = -1;
  location: QueueLocation = 'active';
  /** Times popped for scheduling. */
  attempts = 0;
  /** When it last failed (ms): its back-off counts from here. */
  failedAt = 0;
  /** The scheduling cycle it was last popped in. */
  cycle = 0;
  /** Bits of the filter plugins that rejected it (0: any event may help). */
  rejectors = 0;

  constructor(
    public pod: PodInfo,
    readonly seq: number,
  ) {}
}

export interface SchedulingQueueOptions {
  clock: Clock;
  /** First back-off (ms); doubles per attempt. */
  initialBackoffMs?: number;
  /** Back-off ceiling (ms). */
  maxBackoffMs?: number;
  /** Longest an unschedulable pod waits for an event before it is retried anyway (ms). */
  maxUnschedulableMs?: number;
  /** Called when pods become active (the scheduler schedules a run). */
  onActive?: () => void;
}

/** How often parked pods are checked against maxUnschedulableMs. */
const LEFTOVER_CHECK_MS = 30_000;

function byPriorityThenAge(a: QueuedPod, b: QueuedPod): boolean {
  if (a.pod.priority !== b.pod.priority) return a.pod.priority > b.pod.priority;
  if (a.pod.createdMs !== b.pod.createdMs) return a.pod.createdMs < b.pod.createdMs;
  return a.seq < b.seq;
}

export class SchedulingQueue {
  private readonly clock: Clock;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly maxUnschedulable: number;
  private readonly onActive: () => void;
  private readonly active = new Heap<QueuedPod>(byPriorityThenAge);
  private readonly backoff = new Heap<QueuedPod>((a, b) => {
    const x = this.backoffExpiry(a);
    const y = this.backoffExpiry(b);
    return x !== y ? x < y : a.seq < b.seq;
  });
  private readonly unschedulable = new Map<string, QueuedPod>();
  private readonly pods = new Map<string, QueuedPod>();
  private seq = 0;
  private cycle = 0;
  private moveRequestCycle = -1;
  private backoffTimer: { at: number; cancel: () => void } | undefined;
  private leftoverTimer: (() => void) | undefined;
  private stopped = false;

  constructor(opts: SchedulingQueueOptions) {
    this.clock = opts.clock;
    this.initialBackoff = opts.initialBackoffMs ?? 1000;
    this.maxBackoff = opts.maxBackoffMs ?? 10_000;
    this.maxUnschedulable = opts.maxUnschedulableMs ?? 5 * 60_000;
    this.onActive = opts.onActive ?? (() => {});
  }

  /** A pod to schedule. A pod already known is updated instead. */
  add(pod: PodInfo): void {
    if (this.stopped) return;
    const cur = this.pods.get(pod.uid);
    if (cur) return this.update(pod);
    const qp = new QueuedPod(pod, this.seq++);
    this.pods.set(pod.uid, qp);
    this.toActive(qp);
  }

  /**
   * The pod's spec or labels changed: take the new info, and retry it now if it was
   * waiting for an event (the change may be what it needed).
   */
  update(pod: PodInfo): void {
    const qp = this.pods.get(pod.uid);
    if (!qp) return this.add(pod);
    qp.pod = pod;
    switch (qp.location) {
      case 'active':
        this.active.fix(qp);
        break;
      case 'unschedulable':
        this.unschedulable.delete(pod.uid);
        this.toBackoffOrActive(qp);
        break;
      case 'backoff':
      case 'inFlight':
        break;
    }
  }

  /** The pod is gone, bound elsewhere, or no longer ours to schedule. */
  delete(uid: string): void {
    const qp = this.pods.get(uid);
    if (!qp) return;
    this.pods.delete(uid);
    this.active.remove(qp);
    this.backoff.remove(qp);
    this.unschedulable.delete(uid);
  }

  get(uid: string): QueuedPod | undefined {
    return this.pods.get(uid);
  }

  /** The next pod to try (it is in flight until failed() or done()). */
  pop(): QueuedPod | undefined {
    const qp = this.active.pop();
    if (!qp) return undefined;
    qp.location = 'inFlight';
    qp.attempts++;
    qp.cycle = ++this.cycle;
    return qp;
  }

  /** Back-off before the next attempt: 1 s doubling per attempt, at most 10 s. */
  backoffDuration(qp: QueuedPod): number {
    let d = this.initialBackoff;
    for (let i = 1; i < qp.attempts && d < this.maxBackoff; i++) d *= 2;
    return Math.min(d, this.maxBackoff);
  }

  backoffExpiry(qp: QueuedPod): number {
    return qp.failedAt + this.backoffDuration(qp);
  }

  /**
   * A try failed. `unschedulable`: no node fits (wait for a relevant event, rejected by
   * the `rejectors` plugins); otherwise an error, e.g. the binding failed (back off).
   */
  failed(qp: QueuedPod, unschedulable: boolean, rejectors = 0): void {
    if (this.stopped || this.pods.get(qp.pod.uid) !== qp || qp.location !== 'inFlight') return;
    qp.failedAt = this.clock.now();
    qp.rejectors = rejectors;
    if (!unschedulable || this.moveRequestCycle >= qp.cycle) {
      this.toBackoffOrActive(qp);
      return;
    }
    qp.location = 'unschedulable';
    this.unschedulable.set(qp.pod.uid, qp);
    this.armLeftover();
  }

  /** The pod was bound: forget it. */
  done(uid: string): void {
    const qp = this.pods.get(uid);
    if (qp && qp.location === 'inFlight') this.pods.delete(uid);
  }

  /**
   * Something changed in the cluster that may help pods rejected by the plugins in
   * `mask`: move them to active (or to backoff while it lasts).
   */
  moveOnEvent(mask: number): void {
    if (this.stopped) return;
    this.moveRequestCycle = this.cycle;
    for (const qp of this.unschedulable.values()) {
      if (qp.rejectors !== 0 && (qp.rejectors & mask) === 0) continue;
      this.unschedulable.delete(qp.pod.uid);
      this.toBackoffOrActive(qp);
    }
  }

  get activeCount(): number {
    return this.active.size;
  }

  counts(): Record<QueueLocation, number> {
    let inFlight = 0;
    for (const qp of this.pods.values()) if (qp.location === 'inFlight') inFlight++;
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size, inFlight };
  }

  stop(): void {
    this.stopped = true;
    this.backoffTimer?.cancel();
    this.backoffTimer = undefined;
    this.leftoverTimer?.();
    this.leftoverTimer = undefined;
    this.active.clear();
    this.backoff.clear();
    this.unschedulable.clear();
    this.pods.clear();
  }

  private toActive(qp: QueuedPod): void {
    qp.location = 'active';
    this.active.push(qp);
    this.onActive();
  }

  private toBackoffOrActive(qp: QueuedPod): void {
    if (qp.attempts > 0 && this.backoffExpiry(qp) > this.clock.now()) {
      qp.location = 'backoff';
      this.backoff.push(qp);
      this.armBackoff();
    } else {
      this.toActive(qp);
    }
  }

  private armBackoff(): void {
    const next = this.backoff.peek();
    if (!next) return;
    const at = this.backoffExpiry(next);
    if (this.backoffTimer && this.backoffTimer.at <= at) return;
    this.backoffTimer?.cancel();
    const cancel = this.clock.setTimer(at - this.clock.now(), () => {
      this.backoffTimer = undefined;
      this.flushBackoff();
    });
    this.backoffTimer = { at, cancel };
  }

  private flushBackoff(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    for (let qp = this.backoff.peek(); qp && this.backoffExpiry(qp) <= now; qp = this.backoff.peek()) {
      this.backoff.pop();
      this.toActive(qp);
    }
    this.armBackoff();
  }

  private armLeftover(): void {
    if (this.leftoverTimer || this.stopped) return;
    this.leftoverTimer = this.clock.setTimer(LEFTOVER_CHECK_MS, () => {
      this.leftoverTimer = undefined;
      if (this.stopped) return;
      const now = this.clock.now();
      for (const qp of this.unschedulable.values()) {
        if (now - qp.failedAt < this.maxUnschedulable) continue;
        this.unschedulable.delete(qp.pod.uid);
        this.toBackoffOrActive(qp);
      }
      if (this.unschedulable.size > 0) this.armLeftover();
    });
  }
}

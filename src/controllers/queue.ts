/**
 * A keyed work queue in the style of client-go's rate-limited workqueue: a key is queued
 * at most once, is never processed by two workers at once (a key added while it is being
 * processed is processed again afterwards), and a failing key is retried with per-key
 * exponential back-off until it succeeds or is forgotten.
 *
 * Time comes from the injected Clock, so tests drive back-off with a fake clock.
 *
 * Keys are processed in a later turn of the event loop than the one that added them, as
 * client-go's workers run apart from its informers: a watch callback (which runs inside
 * the store's apply) only queues, and a burst of events for one key in one apply costs
 * one reconcile, not one per event. A turn starts at most {@link PER_TURN} reconciles
 * (their synchronous parts run in it), so a queue of thousands of keys, e.g. a new
 * leader's initial sync, cannot hold the event loop long enough to miss Raft heartbeats.
 */
import type { Clock } from './types.ts';

export interface WorkQueueOptions {
  clock: Clock;
  /** First retry delay after a failure (ms). */
  baseDelayMs?: number;
  /** Retry delay ceiling (ms). */
  maxDelayMs?: number;
  /** How many keys are processed at the same time. */
  concurrency?: number;
  /** Called when a key's handler throws (after the retry is scheduled). */
  onError?: (key: string, err: unknown, retries: number) => void;
}

/** Return a number to be called again for this key after that many ms (e.g. a pending deadline). */
export type Reconcile = (key: string) => Promise<number | void> | number | void;

/** Reconciles started in one turn of the event loop at most. */
const PER_TURN = 32;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, () => void>();
  private running = 0;
  private stopped = false;
  private pumpScheduled = false;
  /** Reconciles started since the last deferred pump ran (this turn, roughly). */
  private startedThisTurn = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly base: number;
  private readonly max: number;
  private readonly concurrency: number;

  constructor(
    private readonly reconcile: Reconcile,
    private readonly opts: WorkQueueOptions,
  ) {
    this.base = opts.baseDelayMs ?? 5;
    this.max = opts.maxDelayMs ?? 1000 * 1000;
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
  }

  /** Queue `key` now (a pending delayed add is superseded). */
  add(key: string): void {
    if (this.stopped) return;
    const t = this.timers.get(key);
    if (t) {
      t();
      this.timers.delete(key);
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.schedulePump();
  }

  /** Queue `key` after `ms` (an earlier pending delayed add wins). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    if (this.timers.has(key) || this.queued.has(key)) return;
    const cancel = this.opts.clock.setTimer(ms, () => {
      this.timers.delete(key);
      this.add(key);
    });
    this.timers.set(key, cancel);
  }

  /** Forget a key's failure count (call when it succeeded or no longer exists). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failures in a row for `key`. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  get length(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or running (delayed adds do not count). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.wakeIdle();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.startedThisTurn = 0;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.queue.length > 0) {
      if (this.startedThisTurn >= PER_TURN) {
        this.schedulePump();
        return;
      }
      this.startedThisTurn++;
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    let again: number | void = undefined;
    try {
      again = await this.reconcile(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      if (!this.stopped) this.addAfterFailure(key, n);
      this.opts.onError?.(key, err, n);
    } finally {
      this.active.delete(key);
      this.running--;
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (typeof again === 'number' && again >= 0 && !this.stopped) this.addAfter(key, again);
    this.pump();
    if (this.queue.length === 0 && this.running === 0) this.wakeIdle();
  }

  private addAfterFailure(key: string, n: number): void {
    const delay = Math.min(this.max, this.base * 2 ** Math.min(n - 1, 30));
    const cancel = this.opts.clock.setTimer(delay, () => {
      this.timers.delete(key);
      this.add(key);
    });
    const prev = this.timers.get(key);
    if (prev) prev();
    this.timers.set(key, cancel);
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }
}

/**
 * Per-key exponential back-off with kubelet's semantics (k8s.io/client-go/util/flowcontrol):
 * the delay starts at `initialMs`, doubles on each further failure up to `maxMs`, and is
 * forgotten when the thing ran fine for more than twice `maxMs` (10 minutes for the crash
 * back-off of 10 s .. 5 min).
 */
import type { Clock } from './clock.ts';

interface Entry {
  backoff: number;
  lastUpdate: number;
}

export class Backoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    readonly initialMs = 10_000,
    readonly maxMs = 300_000,
  ) {}

  private expired(eventTime: number, e: Entry): boolean {
    return eventTime - e.lastUpdate > this.maxMs * 2;
  }

  /** The current delay for `key` (0 when none). */
  get(key: string): number {
    return this.entries.get(key)?.backoff ?? 0;
  }

  /** Records one more failure at `eventTime`: starts or doubles the delay. */
  next(key: string, eventTime = this.clock.now()): void {
    const e = this.entries.get(key);
    if (!e || this.expired(eventTime, e)) {
      this.entries.set(key, { backoff: this.initialMs, lastUpdate: this.clock.now() });
    } else {
      e.backoff = Math.min(e.backoff * 2, this.maxMs);
      e.lastUpdate = this.clock.now();
    }
  }

  /** True while less than the current delay has passed since `eventTime` (e.g. a container's exit). */
  inBackOffSince(key: string, eventTime: number): boolean {
    const e = this.entries.get(key);
    if (!e || this.expired(eventTime, e)) return false;
    return this.clock.now() - eventTime < e.backoff;
  }

  /** True while less than the current delay has passed since the last `next` (image pulls). */
  inBackOffSinceUpdate(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    return this.clock.now() - e.lastUpdate < e.backoff;
  }

  /** When the back-off started at `eventTime` ends, or undefined when there is none. */
  expiresAt(key: string, eventTime: number): number | undefined {
    const e = this.entries.get(key);
    return e ? eventTime + e.backoff : undefined;
  }

  /** When the back-off since the last failure ends. */
  expiresAtSinceUpdate(key: string): number | undefined {
    const e = this.entries.get(key);
    return e ? e.lastUpdate + e.backoff : undefined;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every key starting with `prefix` (a pod that went away). */
  resetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  /** Drops entries idle for longer than twice the maximum (they would restart at `initialMs` anyway). */
  gc(): void {
    const now = this.clock.now();
    for (const [k, e] of this.entries) if (now - e.lastUpdate > this.maxMs * 2) this.entries.delete(k);
  }
}

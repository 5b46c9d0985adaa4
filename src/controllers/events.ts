/**
 * An EventRecorder that writes core/v1 Events to the cluster (client-go's event
 * broadcaster with its correlator, in miniature).
 *
 * - `event()` never blocks and never throws: it appends to a bounded buffer that one
 *   writer drains in order; when the buffer is full the event is dropped and counted.
 * - Repeats of (involved object, type, reason, message) update the Event already written:
 *   count + 1 and lastTimestamp, read from the store and written conditional on its
 *   resourceVersion; when that Event is gone a new one is created.
 * - Each involved object has a token bucket (burst 25, then one per 5 minutes), so a
 *   looping controller cannot flood the store.
 * - A sweeper deletes Events last seen more than `ttlMs` ago (the API server's event TTL),
 *   each conditional on the version it read.
 *
 * The caches here only map a repeat to the name of its Event and hold rate-limit tokens;
 * the counts themselves are always read from the store.
 */
import type { Event } from '../api/index.ts';
import { clone, formatTime, isAlreadyExists, isConflict, isNotFound, metaOf, parseTime } from './pod-util.ts';
import type { Clock, Cluster, EventRecorder, Logger, PlainObject } from './types.ts';

export interface ClusterEventRecorderOptions {
  cluster: Cluster;
  clock: Clock;
  /** source.component and reportingComponent, e.g. "berth-controller-manager". */
  component: string;
  log: Logger;
  /** Events older than this are deleted (default 1 h). */
  ttlMs?: number;
  /** How often the sweeper runs (default 1 min). */
  sweepIntervalMs?: number;
  /** Events waiting to be written at most (default 1000). */
  bufferSize?: number;
  /** Per-object rate limit: burst, and ms per further token (default 25, 5 min). */
  burst?: number;
  refillMs?: number;
  /** source.host / reportingInstance. */
  host?: string;
  /** Entries kept in the repeat and rate-limit caches (LRU, default 4096). */
  cacheSize?: number;
}

interface Pending {
  object: PlainObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  at: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Kubernetes caps an event's message; longer ones are cut. */
const MAX_MESSAGE = 1024;

/** A Map used as a bounded LRU: a hit moves the key to the end, overflow evicts the oldest. */
class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
}

export class ClusterEventRecorder implements EventRecorder {
  private readonly cluster: Cluster;
  private readonly clock: Clock;
  private readonly component: string;
  private readonly log: Logger;
  private readonly ttlMs: number;
  private readonly sweepMs: number;
  private readonly bufferSize: number;
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly host: string | undefined;
  private readonly buffer: Pending[] = [];
  /** Repeat key → namespace/name of the Event written for it. */
  private readonly names: Lru<{ namespace: string; name: string }>;
  private readonly buckets: Lru<Bucket>;
  private seq = 0;
  private writing = false;
  private started = false;
  private stopped = false;
  private cancelSweep: (() => void) | undefined;
  private sweeping: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Events dropped because the buffer was full (or after stop). */
  dropped = 0;
  /** Events not written because their object exceeded its rate. */
  limited = 0;

  constructor(o: ClusterEventRecorderOptions) {
    this.cluster = o.cluster;
    this.clock = o.clock;
    this.component = o.component;
    this.log = o.log;
    this.ttlMs = o.ttlMs ?? 60 * 60_000;
    this.sweepMs = o.sweepIntervalMs ?? 60_000;
    this.bufferSize = o.bufferSize ?? 1000;
    this.burst = o.burst ?? 25;
    this.refillMs = o.refillMs ?? 5 * 60_000;
    this.host = o.host;
    const cache = o.cacheSize ?? 4096;
    this.names = new Lru(cache);
    this.buckets = new Lru(cache);
  }

  event(object: PlainObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    try {
      if (this.stopped || this.buffer.length >= this.bufferSize) {
        this.dropped++;
        return;
      }
      // Keep what we need now: the caller may change its object afterwards.
      const m = metaOf(object);
      const ref: PlainObject = {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
      };
      this.buffer.push({ object: ref, type, reason, message: String(message).slice(0, MAX_MESSAGE), at: this.clock.now() });
      if (this.started) this.pump();
    } catch {
      this.dropped++;
    }
  }

  /** Begin writing (events recorded before are kept) and sweeping; stop when `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.started || signal.aborted) return;
    this.started = true;
    signal.addEventListener('abort', () => this.stop(), { once: true });
    this.scheduleSweep();
    this.pump();
  }

  /** Resolves when the buffer is empty and nothing is being written or swept (for tests). */
  idle(): Promise<void> {
    if (!this.writing && this.buffer.length === 0 && !this.sweeping) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Run one expiry sweep now (also runs every sweepIntervalMs once started). */
  sweep(): Promise<void> {
    if (!this.sweeping) {
      this.sweeping = this.sweepOnce()
        .catch((e) => this.log.warn(`events: sweep failed: ${(e as Error)?.message ?? String(e)}`))
        .finally(() => {
          this.sweeping = undefined;
          this.wakeIdle();
        });
    }
    return this.sweeping;
  }

  private stop(): void {
    this.stopped = true;
    this.cancelSweep?.();
    this.dropped += this.buffer.length;
    this.buffer.length = 0;
    this.wakeIdle();
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    this.cancelSweep = this.clock.setTimer(this.sweepMs, () => {
      void this.sweep().finally(() => this.scheduleSweep());
    });
  }

  private pump(): void {
    if (this.writing || this.stopped) return;
    this.writing = true;
    void this.drain().finally(() => {
      this.writing = false;
      this.wakeIdle();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.buffer.length > 0) {
      const p = this.buffer.shift()!;
      try {
        await this.write(p);
      } catch (e) {
        this.log.debug(`events: could not write ${p.reason} for ${String(p.object.kind)} ${metaOf(p.object).name ?? ''}: ${(e as Error)?.message ?? String(e)}`);
      }
    }
  }

  private wakeIdle(): void {
    if (this.writing || this.buffer.length > 0 || this.sweeping) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  /** Token bucket per involved object (EventSourceObjectSpamFilter). */
  private allow(objectKey: string, now: number): boolean {
    let b = this.buckets.get(objectKey);
    if (!b) b = { tokens: this.burst, at: now };
    const refill = Math.floor((now - b.at) / this.refillMs);
    if (refill > 0) {
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.at += refill * this.refillMs;
    }
    if (b.tokens >= this.burst) b.at = now;
    const ok = b.tokens > 0;
    if (ok) b.tokens--;
    this.buckets.set(objectKey, b);
    return ok;
  }

  private async write(p: Pending): Promise<void> {
    const m = metaOf(p.object);
    const objectKey = `${this.component}\u0000${String(p.object.kind)}\u0000${m.namespace ?? ''}\u0000${m.name ?? ''}\u0000${m.uid ?? ''}`;
    if (!this.allow(objectKey, p.at)) {
      this.limited++;
      return;
    }
    const repeatKey = `${objectKey}\u0000${p.type}\u0000${p.reason}\u0000${p.message}`;
    const seen = this.names.get(repeatKey);
    if (seen) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const cur = this.cluster.get('Event', seen.namespace, seen.name);
        if (!cur) break;
        const next = clone(cur) as PlainObject & Event;
        next.count = (typeof next.count === 'number' ? next.count : 1) + 1;
        next.lastTimestamp = formatTime(p.at);
        try {
          await this.cluster.update(next);
          return;
        } catch (e) {
          if (isNotFound(e)) break;
          if (!isConflict(e)) throw e;
        }
      }
      this.names.delete(repeatKey);
    }
    const created = await this.create(p);
    if (created) this.names.set(repeatKey, created);
  }

  private async create(p: Pending): Promise<{ namespace: string; name: string } | undefined> {
    const m = metaOf(p.object);
    // Events of cluster-scoped objects (Nodes) live in "default", as in Kubernetes.
    const namespace = m.namespace || 'default';
    const ts = formatTime(p.at);
    for (let attempt = 0; attempt < 3; attempt++) {
      const name = `${m.name ?? 'unknown'}.${this.suffix(p.at)}`;
      const ev: Event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          ...(p.object.apiVersion ? { apiVersion: String(p.object.apiVersion) } : {}),
          kind: String(p.object.kind ?? ''),
          ...(m.namespace ? { namespace: m.namespace } : {}),
          name: m.name ?? '',
          ...(m.uid ? { uid: m.uid } : {}),
          ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
        },
        reason: p.reason,
        message: p.message,
        type: p.type,
        source: { component: this.component, ...(this.host ? { host: this.host } : {}) },
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
        reportingComponent: this.component,
        reportingInstance: this.host ?? '',
      };
      try {
        await this.cluster.create(ev as unknown as PlainObject);
        return { namespace, name };
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
    return undefined;
  }

  /** 16 hex digits from the time in ns (as Kubernetes names events), made unique per recorder. */
  private suffix(at: number): string {
    const ns = BigInt(at) * 1_000_000n + BigInt(this.seq++ % 1_000_000);
    return ns.toString(16).padStart(16, '0');
  }

  private async sweepOnce(): Promise<void> {
    const cutoff = this.clock.now() - this.ttlMs;
    for (const ev of this.cluster.list('Event')) {
      if (this.stopped) return;
      const e = ev as PlainObject & Event;
      const m = metaOf(ev);
      const last = parseTime(e.lastTimestamp) ?? parseTime(e.eventTime) ?? parseTime(e.firstTimestamp) ?? parseTime(m.creationTimestamp);
      if (last === undefined || last > cutoff) continue;
      try {
        // Only the version read: an Event repeated meanwhile is newer and stays.
        await this.cluster.delete('Event', m.namespace ?? '', m.name ?? '', { ...(m.uid ? { uid: m.uid } : {}), ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  }
}

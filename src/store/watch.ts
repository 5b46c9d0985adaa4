/**
 * Watch: a bounded history of changes and the watchers fed from it.
 *
 * The same design as the Kubernetes apiserver's watch cache: the last N change events are
 * kept in order of resourceVersion; a watch from version X is served by replaying the kept
 * events after X and then every new event as it is applied. Replay and registration happen
 * in one synchronous step and events are recorded and delivered in one synchronous step,
 * so a watcher sees each change exactly once, in order, with no gap.
 *
 * Invariant: every change with resourceVersion > `floor` is in the history. A watch can
 * start from any X >= floor; older versions get {@link TooOldResourceVersionError}.
 */
import { deepFreeze, withResourceVersion } from './object-util.ts';
import type { ChangeEvent, StoredObject } from './types.ts';

export interface WatchOptions {
  /** Only this kind (all kinds if absent). */
  kind?: string;
  /** Only this namespace ('' or absent: all namespaces). */
  namespace?: string;
  /**
   * Only objects for which this returns true. An object that changes so that it no longer
   * matches is sent as DELETED (its previous content, stamped with the change's version),
   * one that starts matching as ADDED. Must be a pure function of the object.
   */
  filter?: (o: StoredObject) => boolean;
  /**
   * Only the object of this name (requires `kind`). Such watchers are indexed by name, so
   * a thousand of them (agents following their own objects) cost nothing per change to
   * someone else's object.
   */
  name?: string;
  /**
   * Deliver every change after this version. "0", "" or absent: start from now (send
   * nothing that already happened). A version ahead of the store (a client that read from
   * a more advanced replica) is accepted: delivery starts after it.
   */
  fromResourceVersion?: string | number;
  /** Receive BOOKMARK events when the store's `bookmark()` is called. */
  bookmarks?: boolean;
}

export type WatchEvent =
  /** `origin`: who reported the change, when its command said so (a node's agent). */
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: StoredObject; resourceVersion: string; origin?: string }
  /** No change: the watcher has seen everything up to `resourceVersion`. `object` carries only kind and metadata.resourceVersion. */
  | { type: 'BOOKMARK'; object: StoredObject; resourceVersion: string }
  /** The watch is over (the store was restored from a snapshot, or the callback threw); relist. */
  | { type: 'ERROR'; error: Error; resourceVersion: string };

export interface WatchHandle {
  /** Stop delivery. Idempotent. */
  cancel(): void;
}

/** The requested version is older than the kept history: the client must relist (HTTP 410 Gone in Kubernetes). */
export class TooOldResourceVersionError extends Error {
  override name = 'TooOldResourceVersionError';
  readonly code = 'Gone' as const;
  constructor(
    readonly requested: number,
    /** The oldest version a watch can start from now. */
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}

/** A watch ended by the store (restore, close, or a throwing callback). The client must relist. */
export class WatchClosedError extends Error {
  override name = 'WatchClosedError';
  readonly code = 'Gone' as const;
}

/** A resourceVersion that is not a non-negative integer. */
export class InvalidResourceVersionError extends Error {
  override name = 'InvalidResourceVersionError';
  readonly code = 'Invalid' as const;
}

/** Parse a resourceVersion as sent by clients: a decimal string (or a number). '' means 0. */
export function parseResourceVersion(v: string | number | undefined): number {
  if (v === undefined || v === '') return 0;
  const n = typeof v === 'number' ? v : /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidResourceVersionError(`invalid resource version ${JSON.stringify(v)}: must be a non-negative integer`);
  return n;
}

interface Watcher {
  kind: string | undefined;
  name: string | undefined;
  namespace: string | undefined;
  filter: ((o: StoredObject) => boolean) | undefined;
  /** Deliver only changes with rv > from. */
  from: number;
  /**
   * Sequence number of the next kept event this watcher may receive. Guards against a
   * duplicate when a watch is started from inside a callback while an event is being
   * delivered (the new watcher replays it, and must not get it again from the loop).
   */
  nextSeq: number;
  bookmarks: boolean;
  onEvent: (ev: WatchEvent) => void;
  live: boolean;
}

const ALL = '\u0000all';

export class WatchHub {
  /** Kept events, oldest first, from `start` on (a sliding window compacted now and then). */
  private events: { e: ChangeEvent; seq: number }[] = [];
  private start = 0;
  /** Sequence number the next recorded event gets. */
  private seq = 0;
  private floor: number;
  /** Watchers by kind (ALL for those watching every kind). */
  private readonly watchers = new Map<string, Set<Watcher>>();
  /** DELETED-by-filter copies of `prev`, made once per event however many watchers need one. */
  private readonly stamped = new WeakMap<ChangeEvent, StoredObject>();

  constructor(
    /** How many events to keep. */
    private readonly limit: number,
    floor: number,
  ) {
    this.floor = floor;
  }

  /** The oldest version a watch can start from. */
  oldest(): number {
    return this.floor;
  }

  /** Number of kept events. */
  size(): number {
    return this.events.length - this.start;
  }

  /** Number of open watchers. */
  watcherCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  /**
   * Start a watch at the store's current version `applied`: replay kept events after the
   * requested version through `onEvent` (synchronously, before this returns), then
   * register for live events.
   */
  watch(opts: WatchOptions, applied: number, onEvent: (ev: WatchEvent) => void): WatchHandle {
    let from = parseResourceVersion(opts.fromResourceVersion);
    if (from === 0) from = applied;
    else if (from < this.floor) throw new TooOldResourceVersionError(from, this.floor);
    if (opts.name && !opts.kind) throw new Error('watch: a name needs a kind');
    const w: Watcher = {
      kind: opts.kind || undefined,
      name: opts.name || undefined,
      namespace: opts.namespace || undefined,
      filter: opts.filter,
      from,
      bookmarks: opts.bookmarks === true,
      nextSeq: 0,
      onEvent,
      live: true,
    };
    for (let i = this.firstAfter(from); i < this.events.length; i++) {
      // A throw here reaches the caller: the watch was never established.
      this.deliver(w, this.events[i]!.e, this.events[i]!.seq);
    }
    w.nextSeq = this.seq;
    const slot = w.name ? nameSlot(w.kind!, w.name) : (w.kind ?? ALL);
    let set = this.watchers.get(slot);
    if (!set) this.watchers.set(slot, (set = new Set()));
    set.add(w);
    return {
      cancel: () => {
        w.live = false;
        const s = this.watchers.get(slot);
        if (s) {
          s.delete(w);
          if (s.size === 0) this.watchers.delete(slot);
        }
      },
    };
  }

  /** Record newly applied events (in order) and deliver them to every live watcher. */
  record(events: readonly ChangeEvent[]): void {
    for (const e of events) {
      const seq = this.seq++;
      this.events.push({ e, seq });
      for (const slot of [e.kind, ALL, nameSlot(e.kind, e.object.metadata.name)]) {
        const set = this.watchers.get(slot);
        if (!set) continue;
        for (const w of set) {
          if (!w.live) continue;
          try {
            this.deliver(w, e, seq);
          } catch (err) {
            this.drop(w, slot, new WatchClosedError(`watch callback failed: ${(err as Error)?.message ?? String(err)}`), e.rv);
          }
        }
      }
    }
    this.evict();
  }

  /** Send a BOOKMARK at `applied` to every watcher that asked for them. */
  bookmark(applied: number): void {
    const rv = String(applied);
    for (const [slot, set] of this.watchers) {
      for (const w of set) {
        if (!w.live || !w.bookmarks || applied < w.from) continue;
        const object = deepFreeze({ kind: w.kind ?? '', metadata: { name: '', resourceVersion: rv } });
        try {
          w.onEvent({ type: 'BOOKMARK', object, resourceVersion: rv });
        } catch (err) {
          this.drop(w, slot, new WatchClosedError(`watch callback failed: ${(err as Error)?.message ?? String(err)}`), applied);
        }
      }
    }
  }

  /** Forget the history (it now starts after `floor`) and end every watch with an ERROR carrying `reason`. */
  reset(floor: number, reason: Error): void {
    this.events = [];
    this.start = 0;
    this.floor = floor;
    for (const [slot, set] of [...this.watchers]) for (const w of [...set]) this.drop(w, slot, reason, floor);
  }

  // -------------------------------------------------------------------------------------

  private drop(w: Watcher, slot: string, error: Error, rv: number): void {
    if (!w.live) return;
    w.live = false;
    const s = this.watchers.get(slot);
    s?.delete(w);
    if (s && s.size === 0) this.watchers.delete(slot);
    try {
      w.onEvent({ type: 'ERROR', error, resourceVersion: String(rv) });
    } catch {
      // The watcher is gone either way; a callback that throws on ERROR has nothing to tell us.
    }
  }

  /** Index of the first kept event with rv > v (binary search; rvs never decrease). */
  private firstAfter(v: number): number {
    let lo = this.start;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.e.rv > v) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private evict(): void {
    while (this.events.length - this.start > this.limit) {
      this.floor = this.events[this.start]!.e.rv;
      this.start++;
    }
    if (this.start > 1024 && this.start * 2 > this.events.length) {
      this.events = this.events.slice(this.start);
      this.start = 0;
    }
  }

  private deliver(w: Watcher, e: ChangeEvent, seq: number): void {
    if (seq < w.nextSeq) return;
    w.nextSeq = seq + 1;
    if (e.rv <= w.from) return;
    if (w.kind !== undefined && w.kind !== e.kind) return;
    if (w.namespace !== undefined && w.namespace !== e.namespace) return;
    if (w.name !== undefined && w.name !== e.object.metadata.name) return;
    const resourceVersion = String(e.rv);
    if (!w.filter) {
      w.onEvent(e.origin === undefined ? { type: e.type, object: e.object, resourceVersion } : { type: e.type, object: e.object, resourceVersion, origin: e.origin });
      return;
    }
    const now = e.type !== 'DELETED' && w.filter(e.object);
    const before = e.prev !== undefined && w.filter(e.prev);
    if (now) {
      const type = before ? 'MODIFIED' : 'ADDED';
      w.onEvent(e.origin === undefined ? { type, object: e.object, resourceVersion } : { type, object: e.object, resourceVersion, origin: e.origin });
    } else if (before) {
      w.onEvent({ type: 'DELETED', object: e.type === 'DELETED' ? e.object : this.stampedPrev(e), resourceVersion });
    }
  }

  private stampedPrev(e: ChangeEvent): StoredObject {
    let o = this.stamped.get(e);
    if (!o) {
      o = withResourceVersion(e.prev!, e.rv);
      this.stamped.set(e, o);
    }
    return o;
  }
}

/** The watcher slot of one named object (NUL cannot occur in kinds or names). */
function nameSlot(kind: string, name: string): string {
  return `${kind}\u0000${name}`;
}

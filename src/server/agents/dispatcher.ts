/**
 * The Assignments dispatcher: one per replica, shared by every agent stream it serves.
 *
 * It watches Pods, ConfigMaps and Secrets in the local store ONCE and keeps an index:
 * pods by node, and for each referenced ConfigMap/Secret the nodes whose pods reference
 * it. A change is routed only to the streams of the nodes concerned, so the cost of an
 * event does not grow with the number of agents (1,000 agents × 10,000 pods).
 *
 * A stream starts with either
 *  - a full batch: every pod bound to the node and the objects they reference, as of
 *    the store's applied index; or
 *  - a catch-up batch after `resource_version` X: the net difference between what the
 *    node was assigned at X and now, computed from the store's watch history (replayed
 *    synchronously from X, so nothing in between is missed). X older than the history
 *    gives a full batch instead.
 * and then gets incremental batches, coalesced per event-loop turn. Each batch carries
 * the applied index up to which everything has been sent.
 *
 * Everything here runs synchronously between store applies (the store delivers events
 * synchronously after updating its memory), so the index, the store and every
 * stream's accounting agree at each macrotask boundary.
 */
import { status } from '@grpc/grpc-js';
import { TooOldResourceVersionError, type ObjectStore, type StoredObject, type WatchEvent, type WatchHandle } from '../../store/index.ts';
import { ApiError } from '../errors.ts';
import { keyOf, nodeOf, podRefs, splitKey } from './refs.ts';

export type AssignmentType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface AssignmentItem {
  type: AssignmentType;
  /** The stored (frozen) object; Secrets still sealed: the sink reveals them. */
  object: StoredObject;
}

export interface AssignmentBatchOut {
  full: boolean;
  resourceVersion: string;
  items: AssignmentItem[];
}

/** Where a stream's batches go (the gRPC call, or a test's array). */
export interface AssignmentSink {
  /** Send a batch. False: the transport is full; call the subscription's resume() once it drains. */
  send(batch: AssignmentBatchOut): boolean;
  /** The dispatcher ends the stream (error: with that status; undefined: server stopping). */
  close(err: ApiError | undefined): void;
}

export interface Subscription {
  readonly node: string;
  /** The transport drained: send what is pending. */
  resume(): void;
  /** The client went away. Idempotent. */
  cancel(): void;
}

export interface DispatcherOptions {
  store: ObjectStore;
  logger?: { warn(s: string): void };
  /** Items pending for one stream before it is cut off as too slow (default 50,000). */
  maxBacklog?: number;
  /** How often quiet streams get an empty batch that advances their resource_version (default 5 s; 0: never). */
  progressEveryMs?: number;
  /** Runs fn after the current turn (default setImmediate); tests may inject. */
  defer?: (fn: () => void) => void;
}

interface PodEntry {
  node: string;
  uid: string;
  refs: string[];
  object: StoredObject;
}

/** One key's pending change in a stream: whether the agent had the object before it, and has it after. */
interface Pending {
  key: string;
  uid: string;
  hadBefore: boolean;
  hasAfter: boolean;
  object: StoredObject;
  dropped: boolean;
}

const REF_KINDS = ['ConfigMap', 'Secret'] as const;

class Stream implements Subscription {
  pending: Pending[] = [];
  /** Latest pending entry per key. */
  latest = new Map<string, Pending>();
  full = false;
  blocked = false;
  closed = false;
  sentRv = 0;

  constructor(
    readonly node: string,
    readonly sink: AssignmentSink,
    private readonly owner: AssignmentDispatcher,
  ) {}

  /**
   * Add a change, merged with a pending change of the same object (same uid): the agent
   * needs only the net effect. A new incarnation (other uid) is kept apart so that the
   * agent sees the old one go and the new one come.
   */
  enqueue(type: AssignmentType, object: StoredObject): void {
    const key = keyOf(object);
    const uid = String(object.metadata.uid ?? '');
    const p = this.latest.get(key);
    if (p && !p.dropped && p.uid === uid) {
      p.hasAfter = type !== 'DELETED';
      p.object = object;
      if (!p.hadBefore && !p.hasAfter) {
        p.dropped = true;
        this.latest.delete(key);
      }
      return;
    }
    const entry: Pending = { key, uid, hadBefore: !this.full && type !== 'ADDED', hasAfter: type !== 'DELETED', object, dropped: false };
    if (!entry.hadBefore && !entry.hasAfter) return;
    this.pending.push(entry);
    this.latest.set(key, entry);
  }

  take(): AssignmentItem[] {
    const items: AssignmentItem[] = [];
    for (const p of this.pending) {
      if (p.dropped) continue;
      const type: AssignmentType = p.hadBefore ? (p.hasAfter ? 'MODIFIED' : 'DELETED') : 'ADDED';
      items.push({ type, object: p.object });
    }
    this.pending = [];
    this.latest.clear();
    return items;
  }

  resume(): void {
    if (this.closed || !this.blocked) return;
    this.blocked = false;
    this.owner.markDirty(this);
  }

  cancel(): void {
    this.owner.unsubscribe(this);
  }
}

export class AssignmentDispatcher {
  private readonly store: ObjectStore;
  private readonly maxBacklog: number;
  private readonly defer: (fn: () => void) => void;
  private readonly log: { warn(s: string): void };

  /** Every bound pod: key → where it is and what it references. */
  private readonly pods = new Map<string, PodEntry>();
  /** node → pod keys. */
  private readonly nodePods = new Map<string, Map<string, PodEntry>>();
  /** node → referenced object key → number of the node's pods referencing it. */
  private readonly nodeRefs = new Map<string, Map<string, number>>();
  /** referenced object key → nodes referencing it. */
  private readonly refNodes = new Map<string, Set<string>>();
  /** Current content of every referenced object that exists, as of the last event seen. */
  private readonly refObjects = new Map<string, StoredObject>();

  private readonly streams = new Map<string, Set<Stream>>();
  private readonly dirty = new Set<Stream>();
  private flushScheduled = false;
  private watches: WatchHandle[] = [];
  private progressTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly opts: DispatcherOptions) {
    this.store = opts.store;
    this.maxBacklog = opts.maxBacklog ?? 50_000;
    this.defer = opts.defer ?? ((fn) => void setImmediate(fn));
    this.log = opts.logger ?? { warn: () => {} };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.rebuild();
    const every = this.opts.progressEveryMs ?? 5000;
    if (every > 0) {
      this.progressTimer = setInterval(() => this.progress(), every);
      this.progressTimer.unref();
    }
  }

  /** End every stream (UNAVAILABLE: the agent reconnects elsewhere) and stop watching. */
  stop(): void {
    this.running = false;
    clearInterval(this.progressTimer);
    for (const w of this.watches) w.cancel();
    this.watches = [];
    for (const set of this.streams.values()) {
      for (const s of set) {
        s.closed = true;
        s.sink.close(undefined);
      }
    }
    this.streams.clear();
    this.dirty.clear();
  }

  /** Number of open streams (tests, metrics). */
  streamCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.size;
    return n;
  }

  /** Pod keys bound to `node` as the index has them (tests). */
  podsOf(node: string): string[] {
    return [...(this.nodePods.get(node)?.keys() ?? [])];
  }

  /**
   * Open a stream for `node`. `from` is the resource_version to resume after ('' or '0':
   * start with a full batch). Throws ApiError INVALID_ARGUMENT for a malformed version.
   * Call it only when the store is up to date enough (the service syncs first): a
   * version ahead of the store gets a full batch.
   */
  subscribe(node: string, from: string, sink: AssignmentSink): Subscription {
    if (!this.running) throw new ApiError(status.UNAVAILABLE, 'this replica is stopping; reconnect to another');
    let x = 0;
    if (from !== '' && from !== '0') {
      if (!/^\d{1,16}$/.test(from)) throw new ApiError(status.INVALID_ARGUMENT, `resource_version: Invalid value: "${from}": must be a non-negative integer`);
      x = Number(from);
    }
    const s = new Stream(node, sink, this);
    const catchUp = x > 0 && x <= this.store.appliedIndex() ? this.catchUp(node, x) : undefined;
    if (catchUp) {
      for (const it of catchUp) s.enqueue(it.type, it.object);
    } else {
      s.full = true;
      for (const it of this.fullSet(node)) s.enqueue(it.type, it.object);
    }
    let set = this.streams.get(node);
    if (!set) this.streams.set(node, (set = new Set()));
    set.add(s);
    this.markDirty(s);
    return s;
  }

  // -------------------------------------------------------------------------------------
  // Streams

  unsubscribe(s: Stream): void {
    if (s.closed) return;
    s.closed = true;
    this.dirty.delete(s);
    const set = this.streams.get(s.node);
    set?.delete(s);
    if (set && set.size === 0) this.streams.delete(s.node);
  }

  markDirty(s: Stream): void {
    if (s.closed) return;
    this.dirty.add(s);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.defer(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const rv = this.store.appliedIndex();
    const streams = [...this.dirty];
    this.dirty.clear();
    for (const s of streams) {
      if (s.closed || s.blocked) continue;
      const full = s.full;
      s.full = false;
      const items = s.take();
      s.sentRv = rv;
      this.send(s, { full, resourceVersion: String(rv), items });
    }
  }

  private send(s: Stream, batch: AssignmentBatchOut): void {
    let ok: boolean;
    try {
      ok = s.sink.send(batch);
    } catch (e) {
      this.fail(s, new ApiError(status.INTERNAL, `assignments: could not send a batch: ${(e as Error).message}`));
      return;
    }
    if (!ok) s.blocked = true;
  }

  private fail(s: Stream, err: ApiError): void {
    if (s.closed) return;
    this.unsubscribe(s);
    s.sink.close(err);
  }

  /** Quiet streams get an empty batch now and then, so a reconnect can resume from a recent version. */
  private progress(): void {
    const rv = this.store.appliedIndex();
    for (const set of this.streams.values()) {
      for (const s of set) {
        if (s.closed || s.blocked || s.pending.length > 0 || this.dirty.has(s) || s.sentRv >= rv) continue;
        s.sentRv = rv;
        this.send(s, { full: false, resourceVersion: String(rv), items: [] });
      }
    }
  }

  private route(node: string, type: AssignmentType, object: StoredObject): void {
    const set = this.streams.get(node);
    if (!set) return;
    for (const s of set) {
      s.enqueue(type, object);
      if (s.pending.length > this.maxBacklog) {
        this.fail(s, new ApiError(status.RESOURCE_EXHAUSTED, `agent of node "${node}" is too slow: more than ${this.maxBacklog} assignment changes pending; reconnect with the last resource_version`));
        continue;
      }
      this.markDirty(s);
    }
  }

  // -------------------------------------------------------------------------------------
  // The index, fed by the store

  /** (Re)build the index from the store and watch from there; open streams restart with a full batch. */
  private rebuild(): void {
    for (const w of this.watches) w.cancel();
    this.watches = [];
    this.pods.clear();
    this.nodePods.clear();
    this.nodeRefs.clear();
    this.refNodes.clear();
    this.refObjects.clear();
    const list = this.store.list({ kind: 'Pod' });
    for (const p of list.items) if (nodeOf(p)) this.addPod(keyOf(p), p, false);
    const onError = (ev: WatchEvent) => {
      if (ev.type !== 'ERROR') return false;
      // Restored from a snapshot (or closing): the store state jumped. Rebuild after this
      // turn (the store may still be ending other watches) and resend full sets.
      this.defer(() => {
        if (!this.running) return;
        try {
          this.rebuild();
        } catch (e) {
          this.log.warn(`assignments: cannot watch the store any more: ${(e as Error).message}`);
          this.stop();
          return;
        }
        for (const set of this.streams.values()) {
          for (const s of set) {
            s.pending = [];
            s.latest.clear();
            s.full = true;
            for (const it of this.fullSet(s.node)) s.enqueue(it.type, it.object);
            this.markDirty(s);
          }
        }
      });
      return true;
    };
    let broken = false;
    const guard = (fn: (ev: WatchEvent) => void) => (ev: WatchEvent) => {
      if (broken) return;
      if (onError(ev)) {
        broken = true;
        return;
      }
      fn(ev);
    };
    const from = list.resourceVersion;
    this.watches.push(this.store.watch({ kind: 'Pod', fromResourceVersion: from }, guard((ev) => this.onPod(ev))));
    for (const kind of REF_KINDS) this.watches.push(this.store.watch({ kind, fromResourceVersion: from }, guard((ev) => this.onRef(ev))));
  }

  private onPod(ev: WatchEvent): void {
    if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return;
    const pod = ev.object;
    const key = keyOf(pod);
    const old = this.pods.get(key);
    const node = ev.type === 'DELETED' ? undefined : nodeOf(pod);
    const uid = String(pod.metadata.uid ?? '');
    if (old && (old.node !== node || old.uid !== uid)) {
      this.pods.delete(key);
      this.nodePods.get(old.node)?.delete(key);
      if (this.nodePods.get(old.node)?.size === 0) this.nodePods.delete(old.node);
      // The pod goes first, then what only it referenced.
      this.route(old.node, 'DELETED', old.uid === uid ? pod : old.object);
      for (const r of old.refs) this.unref(old.node, r, true);
    }
    if (!node) return;
    if (old && old.node === node && old.uid === uid && ev.origin === node && statusOnlyChange(old.object, pod)) {
      // The node's own status report, written: its agent knows it already. Nothing it acts
      // on changed (references come from the spec), so only the index keeps the new object.
      const entry: PodEntry = { ...old, object: pod };
      this.pods.set(key, entry);
      this.nodePods.get(node)!.set(key, entry);
      return;
    }
    if (old && old.node === node && old.uid === uid) {
      const refs = podRefs(pod);
      const added = refs.filter((r) => !old.refs.includes(r));
      const removed = old.refs.filter((r) => !refs.includes(r));
      for (const r of added) this.ref(node, r, true);
      const entry: PodEntry = { node, uid, refs, object: pod };
      this.pods.set(key, entry);
      this.nodePods.get(node)!.set(key, entry);
      this.route(node, 'MODIFIED', pod);
      for (const r of removed) this.unref(node, r, true);
      return;
    }
    this.addPod(key, pod, true);
  }

  private addPod(key: string, pod: StoredObject, live: boolean): void {
    const node = nodeOf(pod)!;
    const entry: PodEntry = { node, uid: String(pod.metadata.uid ?? ''), refs: podRefs(pod), object: pod };
    // What the pod needs reaches the agent before the pod itself.
    for (const r of entry.refs) this.ref(node, r, live);
    this.pods.set(key, entry);
    let m = this.nodePods.get(node);
    if (!m) this.nodePods.set(node, (m = new Map()));
    m.set(key, entry);
    if (live) this.route(node, 'ADDED', pod);
  }

  private ref(node: string, r: string, live: boolean): void {
    let counts = this.nodeRefs.get(node);
    if (!counts) this.nodeRefs.set(node, (counts = new Map()));
    const n = counts.get(r) ?? 0;
    counts.set(r, n + 1);
    if (n > 0) return;
    let nodes = this.refNodes.get(r);
    if (!nodes) {
      this.refNodes.set(r, (nodes = new Set()));
      const { kind, namespace, name } = splitKey(r);
      const o = this.store.get(kind, namespace, name);
      if (o) this.refObjects.set(r, o);
    }
    nodes.add(node);
    const o = this.refObjects.get(r);
    if (live && o) this.route(node, 'ADDED', o);
  }

  private unref(node: string, r: string, live: boolean): void {
    const counts = this.nodeRefs.get(node);
    const n = counts?.get(r) ?? 0;
    if (!counts || n === 0) return;
    if (n > 1) {
      counts.set(r, n - 1);
      return;
    }
    counts.delete(r);
    if (counts.size === 0) this.nodeRefs.delete(node);
    const o = this.refObjects.get(r);
    if (live && o) this.route(node, 'DELETED', o);
    const nodes = this.refNodes.get(r);
    nodes?.delete(node);
    if (nodes && nodes.size === 0) {
      this.refNodes.delete(r);
      this.refObjects.delete(r);
    }
  }

  private onRef(ev: WatchEvent): void {
    if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return;
    const key = keyOf(ev.object);
    const nodes = this.refNodes.get(key);
    if (!nodes) return;
    if (ev.type === 'DELETED') this.refObjects.delete(key);
    else this.refObjects.set(key, ev.object);
    for (const node of nodes) this.route(node, ev.type, ev.object);
  }

  // -------------------------------------------------------------------------------------
  // Starting points

  private fullSet(node: string): AssignmentItem[] {
    const items: AssignmentItem[] = [];
    for (const r of this.nodeRefs.get(node)?.keys() ?? []) {
      const o = this.refObjects.get(r);
      if (o) items.push({ type: 'ADDED', object: o });
    }
    for (const e of this.nodePods.get(node)?.values() ?? []) items.push({ type: 'ADDED', object: e.object });
    return items;
  }

  /**
   * The net change for `node` between version `x` and now, or undefined when `x` is older
   * than the store's history. The store replays its kept events after `x` synchronously
   * inside watch(); the watches are cancelled at once (live events come from the index).
   */
  private catchUp(node: string, x: number): AssignmentItem[] | undefined {
    const replay = (kind: string, filter: (o: StoredObject) => boolean): AssignmentItem[] | undefined => {
      const out: AssignmentItem[] = [];
      let h: WatchHandle;
      try {
        h = this.store.watch({ kind, fromResourceVersion: x, filter }, (ev) => {
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED') out.push({ type: ev.type, object: ev.object });
        });
      } catch (e) {
        if (e instanceof TooOldResourceVersionError) return undefined;
        throw e;
      }
      h.cancel();
      return out;
    };
    const podEvents = replay('Pod', (p) => nodeOf(p) === node);
    if (!podEvents) return undefined;
    const first = new Map<string, AssignmentItem>();
    const last = new Map<string, AssignmentItem>();
    for (const ev of podEvents) {
      const k = keyOf(ev.object);
      if (!first.has(k)) first.set(k, ev);
      last.set(k, ev);
    }
    const nowPods = this.nodePods.get(node) ?? new Map<string, PodEntry>();
    // The pods the node had at x: those on it now with no change since, and those whose
    // first change since x was not their arrival (a filtered watch says ADDED for that).
    const atX = new Map<string, StoredObject>();
    for (const [k, e] of nowPods) if (!first.has(k)) atX.set(k, e.object);
    for (const [k, ev] of first) if (ev.type !== 'ADDED') atX.set(k, ev.object);

    // Pod specs cannot change what they reference, so refs at x follow from the pods at x.
    const refsAtX = new Set<string>();
    for (const p of atX.values()) for (const r of podRefs(p)) refsAtX.add(r);
    const refsNow = new Set(this.nodeRefs.get(node)?.keys() ?? []);
    const candidates = new Set([...refsAtX, ...refsNow]);
    const refFirst = new Map<string, AssignmentItem>();
    const refLast = new Map<string, AssignmentItem>();
    for (const kind of REF_KINDS) {
      const evs = replay(kind, (o) => candidates.has(keyOf(o)));
      if (!evs) return undefined;
      for (const ev of evs) {
        const k = keyOf(ev.object);
        if (!refFirst.has(k)) refFirst.set(k, ev);
        refLast.set(k, ev);
      }
    }
    const current = (k: string): StoredObject | undefined => {
      const { kind, namespace, name } = splitKey(k);
      return this.store.get(kind, namespace, name);
    };
    const existedAtX = (k: string) => (refFirst.has(k) ? refFirst.get(k)!.type !== 'ADDED' : current(k) !== undefined);

    const items: AssignmentItem[] = [];
    for (const k of refsNow) {
      const o = this.refObjects.get(k);
      if (!o) continue;
      const had = refsAtX.has(k) && existedAtX(k);
      if (!had) items.push({ type: 'ADDED', object: o });
      else if (refFirst.has(k)) items.push({ type: 'MODIFIED', object: o });
    }
    for (const [k, e] of nowPods) {
      const then = atX.get(k);
      if (!then) items.push({ type: 'ADDED', object: e.object });
      else if (String(then.metadata.uid ?? '') !== e.uid) {
        items.push({ type: 'DELETED', object: then });
        items.push({ type: 'ADDED', object: e.object });
      } else if (first.has(k)) items.push({ type: 'MODIFIED', object: e.object });
    }
    for (const [k, then] of atX) {
      if (nowPods.has(k)) continue;
      const lastSeen = last.get(k)?.object;
      items.push({ type: 'DELETED', object: lastSeen && lastSeen.metadata.uid === then.metadata.uid ? lastSeen : then });
    }
    for (const k of refsAtX) {
      if (refsNow.has(k) && this.refObjects.has(k)) continue;
      if (!existedAtX(k)) continue;
      const o = current(k) ?? refLast.get(k)?.object;
      if (o) items.push({ type: 'DELETED', object: o });
    }
    return items;
  }
}

/**
 * `next` differs from `prev` in its status and resourceVersion alone, as an updateStatus
 * write makes it: every other field is the same value (the store keeps the unchanged parts
 * of an object, so a reference comparison suffices; a copy that is equal counts as a change).
 */
export function statusOnlyChange(prev: StoredObject, next: StoredObject): boolean {
  const a = prev as unknown as Record<string, unknown>;
  const b = next as unknown as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== 'status' && k !== 'metadata' && b[k] !== a[k]) return false;
  for (const k of Object.keys(a)) if (k !== 'status' && k !== 'metadata' && !Object.hasOwn(b, k)) return false;
  const am = prev.metadata as Record<string, unknown>;
  const bm = next.metadata as Record<string, unknown>;
  for (const k of Object.keys(bm)) if (k !== 'resourceVersion' && bm[k] !== am[k]) return false;
  for (const k of Object.keys(am)) if (k !== 'resourceVersion' && !Object.hasOwn(bm, k)) return false;
  return true;
}

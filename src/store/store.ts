/**
 * ObjectStore: berth's one state machine, fed only by committed Raft entries.
 *
 * It is handed (index, command) pairs in index order and knows nothing of Raft or gRPC.
 * The index of the entry that changes an object becomes the object's resourceVersion.
 *
 * All objects live in memory, deep-frozen and shared with readers (never copied), indexed
 * kind → (namespace, name) with sorted keys per kind for paginated lists (table.ts). At
 * open they are loaded as their stored bytes and decoded on first read or by a background
 * warm-up, so a restart waits only for LevelDB to be read. The KV holds the same objects
 * plus the applied index, written BEHIND memory: each chunk of an applyEntries call (see
 * ApplyChunking) queues its changes and its last index, and one write at a time takes
 * everything queued as ONE batch (later changes of a key replace earlier ones), so the KV
 * always holds the state as of some applied index, a little behind memory.
 * The batch is not synced: the Raft log is the durable record, and entries after the
 * stored applied index are applied again at restart (and skipped if already applied).
 * Memory may run ahead of the KV because every applied entry is committed and durable in
 * the Raft log already; snapshot() and restore() first wait for the queued writes, so the
 * log is never compacted past what the KV holds. Not waiting for the KV keeps the apply →
 * watch event → answer path off LevelDB's write queue, where a non-synced batch would
 * otherwise wait behind the Raft log's own synced write (an fsync) of later entries.
 *
 * Ordering rule inside each chunk of applyEntries: compute all changes → queue the KV
 * write → update memory and the applied index → record and deliver watch events →
 * onApplied callbacks; then the event loop runs before the next chunk (the KV write itself
 * starts in a later microtask). Memory and events change in one synchronous step, so
 * watchers never miss or repeat an event. A failed KV write fails the store: every later
 * applyEntries, snapshot, restore and flush rejects with it.
 *
 * KV layout (inside whatever prefix the KV is given):
 *   0x01                         applied index   msgpack {format: 1, applied}
 *   0x02                         restore marker  present only while restore() rewrites the KV
 *   0x03 ‖ kind 0 namespace 0 name   object      msgpack(object)
 */
import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { applyCommand, Txn, type ApplyEnv } from './apply.ts';
import { decodeCommand, MalformedCommandError, packValue, unpackValue } from './commands.ts';
import type { KV, KVOp } from './kv.ts';
import { deepFreeze, fullKey, namespaceOf, nsKey, SEP } from './object-util.ts';
import { CorruptStoreError, KindTable, looksLikeObject } from './table.ts';
import type { KindInfoFn, Result, StoredObject } from './types.ts';
import { WatchClosedError, WatchHub, type WatchEvent, type WatchHandle, type WatchOptions } from './watch.ts';

export { CorruptStoreError };

export interface ObjectStoreOptions {
  /** Plural and scope of a kind; unknown kinds are refused (Invalid). */
  kindInfo: KindInfoFn;
  /** How many change events to keep for watches that resume from an older version (default 10,000). */
  historySize?: number;
  /** Where problems the store survives are reported (a throwing onApplied callback). Default: console. */
  logger?: { warn(s: string): void };
  /**
   * After open, decode the loaded objects in the background, a few milliseconds at a
   * time (default true). Objects not decoded yet are decoded when first read.
   */
  warmUp?: boolean;
  /**
   * Keep objects decoded once read (default true): fastest reads. False keeps each object
   * as its msgpack bytes and decodes it on every read, for about a third of the memory
   * (100,000 objects in well under 300 MB). Implies no warm-up.
   */
  cacheDecoded?: boolean;
  /**
   * Re-checks every pod binding when its entry applies: undefined if `pod` fits on `node`
   * beside `podsOnNode`, else why not. Must be deterministic (it runs on every replica).
   */
  bindCheck?: (node: StoredObject, pod: StoredObject, podsOnNode: StoredObject[]) => string | undefined;
  /** How applyEntries splits long lists of entries (default {@link DEFAULT_APPLY_CHUNKING}). */
  applyChunking?: Partial<ApplyChunking>;
}

export interface ListOptions {
  kind: string;
  /** Only this namespace ('' or absent: all namespaces; ignored for cluster-scoped kinds). */
  namespace?: string;
  filter?: (o: StoredObject) => boolean;
  /** At most this many items (after filtering); 0 or absent: no limit. */
  limit?: number;
  /** The token from the previous page. */
  continue?: string;
}

export interface ListResult {
  /** In (namespace, name) order. Frozen objects: copy before changing. */
  items: StoredObject[];
  /**
   * The version to watch from to see every later change. For the first page this is the
   * applied index. Pages after the first are read from the live state but report the
   * FIRST page's version: watching from it replays every change made while paging (some
   * already visible in later pages, which a client applies idempotently), never a gap.
   */
  resourceVersion: string;
  /** Present when more items may follow. */
  continue?: string;
}

export interface EntryInput {
  index: number;
  data: Uint8Array;
  /** The term the entry was committed in (term preconditions are checked against it). */
  term?: number;
}

/** What onApplied callbacks receive. */
export interface AppliedInfo {
  /** The applied index now. */
  index: number;
  /** The result of each entry applied in this step (skipped entries are not listed). */
  results: { index: number; result: Result }[];
  /** True when the state was replaced by restore(). */
  restored?: boolean;
}

/**
 * How applyEntries splits a long list of entries: a chunk ends once applying its entries
 * took `budgetMs` or it holds `maxEntries`. One entry is never split (a batch command is
 * atomic), so an entry that alone takes longer makes a longer chunk.
 */
export interface ApplyChunking {
  budgetMs: number;
  maxEntries: number;
}

export const DEFAULT_APPLY_CHUNKING: ApplyChunking = { budgetMs: 5, maxEntries: 1000 };

function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** A continue token that is malformed or belongs to another list. */
export class InvalidContinueTokenError extends Error {
  override name = 'InvalidContinueTokenError';
  readonly code = 'Invalid' as const;
}

const deflateRawAsync = promisify(deflateRaw);
const inflateRawAsync = promisify(inflateRaw);

const K_APPLIED = new Uint8Array([0x01]);
const K_RESTORING = new Uint8Array([0x02]);
const P_OBJECT = new Uint8Array([0x03]);
const FORMAT = 1;
const RESTORE_CHUNK = 5000;
/** Queued KV changes (keys) beyond which applying waits for the KV write under way. */
const KV_QUEUE_LIMIT = 20_000;

/**
 * Copies of many small byte strings packed into shared chunks. Each record read from the
 * KV comes in its own buffer (a JS object, a backing store and a malloc'd block: ~40%
 * on top of a ConfigMap's bytes); the views kept here share one chunk per ~256 KB. A chunk
 * is freed once every object in it has been decoded (the warm-up goes in load order).
 */
class Slab {
  private chunk = new Uint8Array(0);
  private used = 0;

  copy(v: Uint8Array): Uint8Array {
    if (v.length > SLAB_CHUNK / 8) return Uint8Array.prototype.slice.call(v);
    if (this.used + v.length > this.chunk.length) {
      this.chunk = new Uint8Array(SLAB_CHUNK);
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + v.length);
    out.set(v);
    this.used += v.length;
    return out;
  }
}
const SLAB_CHUNK = 256 * 1024;

function objectKey(key: string): Uint8Array {
  const k = Buffer.from(key, 'utf8');
  const out = new Uint8Array(1 + k.length);
  out[0] = P_OBJECT[0]!;
  out.set(k, 1);
  return out;
}

function keyOf(o: StoredObject): string {
  return fullKey(o.kind, namespaceOf(o), o.metadata.name);
}

export class ObjectStore {
  private readonly tables = new Map<string, KindTable>();
  /** Index of the last entry applied (0: none). The KV's applied index trails it while a write is queued (see queueWrite). */
  private applied: number;
  /** KV changes applied in memory and not handed to the KV yet, by stored key (see queueWrite). */
  private kvQueue = new Map<string, KVOp>();
  /** The applied index the queued changes bring the KV to. */
  private kvQueuedApplied: number;
  /** The applied index the KV holds (as far as this store has written it). */
  private kvWrittenApplied: number;
  /** The KV write under way, if any. */
  private kvWriting: Promise<void> | undefined;
  /** Set when a KV write failed: the store takes no more entries. */
  private kvFailure: Error | undefined;
  private readonly hub: WatchHub;
  private readonly appliedCallbacks = new Set<(info: AppliedInfo) => void>();
  /** applyEntries and restore run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private warmTimer: NodeJS.Immediate | undefined;
  private readonly logger: { warn(s: string): void };
  /** Pod full keys by spec.nodeName; built on first use. */
  private nodeIndex: Map<string, Set<string>> | undefined;
  private readonly chunking: ApplyChunking;
  /** What every entry's rules get besides its term. */
  private readonly applyEnv: ApplyEnv;

  private constructor(
    private readonly kv: KV,
    private readonly opts: ObjectStoreOptions,
    applied: number,
    /** True when open() found an interrupted restore and started empty (the driver must restore again). */
    readonly recoveredFromInterruptedRestore: boolean,
  ) {
    this.applied = applied;
    this.kvQueuedApplied = applied;
    this.kvWrittenApplied = applied;
    this.hub = new WatchHub(opts.historySize ?? 10_000, applied);
    this.logger = opts.logger ?? { warn: (s) => console.warn(s) };
    this.chunking = { ...DEFAULT_APPLY_CHUNKING, ...opts.applyChunking };
    this.applyEnv = opts.bindCheck ? { bindCheck: opts.bindCheck, podKeysOnNode: (n: string) => this.podKeysOnNode(n) } : {};
  }

  /**
   * Load the applied index and every object from `kv`. The watch history starts empty:
   * watches can resume from the applied index on.
   */
  static async open(kv: KV, opts: ObjectStoreOptions): Promise<ObjectStore> {
    if (await kv.get(K_RESTORING)) {
      // A restore was cut short: the objects are a mix of two states. Start empty; the
      // Raft driver restores from its snapshot again (the entries before it are gone).
      await kv.clear(P_OBJECT);
      await kv.batch([{ type: 'del', key: K_APPLIED }, { type: 'del', key: K_RESTORING }], true);
      return new ObjectStore(kv, opts, 0, true);
    }
    let applied = 0;
    const meta = await kv.get(K_APPLIED);
    if (meta) {
      let m: { format?: unknown; applied?: unknown } | undefined;
      try {
        m = unpackValue(meta) as typeof m;
      } catch (err) {
        throw new CorruptStoreError(`object store: applied index record is not valid msgpack: ${(err as Error).message}`);
      }
      if (typeof m !== 'object' || m === null || m.format !== FORMAT || typeof m.applied !== 'number' || !Number.isSafeInteger(m.applied) || m.applied < 0) {
        throw new CorruptStoreError(`object store: applied index record is not readable (format ${JSON.stringify(m?.format)})`);
      }
      applied = m.applied;
    }
    const store = new ObjectStore(kv, opts, applied, false);
    const slab = new Slab();
    for await (const [k, v] of kv.iterate(P_OBJECT)) {
      const parts = Buffer.from(k.buffer, k.byteOffset + 1, k.byteLength - 1).toString('utf8').split(SEP);
      if (parts.length !== 3) throw new CorruptStoreError(`object store: record key ${JSON.stringify(parts.join('/'))} is not kind/namespace/name`);
      store.table(parts[0]!).load(nsKey(parts[1]!, parts[2]!), slab.copy(v));
    }
    for (const t of store.tables.values()) t.finishLoad();
    if (opts.warmUp !== false && opts.cacheDecoded !== false) store.scheduleWarmUp();
    return store;
  }

  // -------------------------------------------------------------------------------------
  // Reads

  /** Index of the last applied entry: the driver resumes after it; it is the store's resourceVersion. */
  appliedIndex(): number {
    return this.applied;
  }

  /** The stored object, or undefined. Frozen: copy before changing. */
  get(kind: string, namespace: string | undefined, name: string): StoredObject | undefined {
    return this.tables.get(kind)?.get(nsKey(this.scope(kind, namespace), name));
  }

  list(opts: ListOptions): ListResult {
    const ns = this.scope(opts.kind, opts.namespace);
    const wanted = Math.floor(opts.limit ?? 0);
    const limit = wanted >= 1 ? wanted : Infinity;
    let rv = this.applied;
    let after: string | undefined;
    if (opts.continue !== undefined && opts.continue !== '') {
      const tok = decodeContinue(opts.continue);
      if (tok.kind !== opts.kind || tok.ns !== ns) {
        throw new InvalidContinueTokenError(`continue token was issued for another list (kind ${JSON.stringify(tok.kind)}, namespace ${JSON.stringify(tok.ns)})`);
      }
      after = tok.key;
      rv = tok.rv;
    }
    const items: StoredObject[] = [];
    const out: ListResult = { items, resourceVersion: String(rv) };
    const t = this.tables.get(opts.kind);
    if (!t) return out;
    const lo = ns === '' ? 0 : t.bound(ns + SEP);
    // Keys of namespace ns are exactly those in [ns SEP, ns \u0001).
    const hi = ns === '' ? t.length : t.bound(ns + '\u0001');
    const from = after === undefined ? lo : Math.max(lo, t.bound(after, true));
    let lastKey = '';
    for (let i = from; i < hi; i++) {
      const key = t.keyAt(i)!;
      const o = t.get(key)!;
      if (opts.filter && !opts.filter(o)) continue;
      if (items.length === limit) {
        // One more match exists: the next page starts after the last item returned.
        out.continue = encodeContinue({ kind: opts.kind, ns, key: lastKey, rv });
        break;
      }
      items.push(o);
      lastKey = key;
    }
    return out;
  }

  /** Number of objects per kind. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [kind, t] of this.tables) if (t.size > 0) out[kind] = t.size;
    return out;
  }

  /** The oldest resourceVersion a watch can start from. */
  oldestResourceVersion(): number {
    return this.hub.oldest();
  }

  /** Events in the watch history, and open watchers (metrics). */
  watchStats(): { history: number; watchers: number } {
    return { history: this.hub.size(), watchers: this.hub.watcherCount() };
  }

  /**
   * Watch changes after `opts.fromResourceVersion`: first the kept history (delivered
   * synchronously, before this returns), then live changes as they are applied.
   * `onEvent` is called synchronously from applyEntries: it must not block; buffer if the
   * consumer is slow. Throws {@link TooOldResourceVersionError} when the version is older
   * than the kept history, and InvalidResourceVersionError for a malformed version.
   */
  watch(opts: WatchOptions, onEvent: (ev: WatchEvent) => void): WatchHandle {
    if (this.closed) throw new WatchClosedError('object store is closed');
    const o = { ...opts };
    if (o.kind !== undefined) o.namespace = this.scope(o.kind, o.namespace) || undefined;
    return this.hub.watch(o, this.applied, onEvent);
  }

  /** Send a BOOKMARK with the applied index to watchers that asked for bookmarks (call periodically). */
  bookmark(): void {
    this.hub.bookmark(this.applied);
  }

  /** Be told after each step that advances the applied index. Returns an unsubscribe function. */
  onApplied(cb: (info: AppliedInfo) => void): () => void {
    this.appliedCallbacks.add(cb);
    return () => this.appliedCallbacks.delete(cb);
  }

  /** Pods bound to `node` (spec.nodeName), in no particular order. Frozen objects. */
  podsOnNode(node: string): StoredObject[] {
    const out: StoredObject[] = [];
    const t = this.tables.get('Pod');
    if (!t) return out;
    for (const k of this.podKeysOnNode(node)) {
      const parts = k.split(SEP);
      const o = t.get(nsKey(parts[1]!, parts[2]!));
      if (o) out.push(o);
    }
    return out;
  }

  /**
   * Full keys of the pods on `node`. The index is built on first use (a replica that
   * never binds or serves agents never pays for it) and kept current by apply.
   */
  private podKeysOnNode(node: string): Iterable<string> {
    if (!this.nodeIndex) {
      this.nodeIndex = new Map();
      const t = this.tables.get('Pod');
      if (t) {
        for (let i = 0; i < t.length; i++) {
          const key = t.keyAt(i)!;
          const o = t.get(key)!;
          this.reindexPod(fullKey('Pod', namespaceOf(o), o.metadata.name), undefined, o);
        }
      }
    }
    return this.nodeIndex.get(node) ?? [];
  }

  private reindexPod(key: string, before: StoredObject | undefined, after: StoredObject | null): void {
    const idx = this.nodeIndex!;
    const was = before?.spec?.nodeName;
    const now = after?.spec?.nodeName;
    if (was === now) return;
    if (typeof was === 'string' && was !== '') {
      const set = idx.get(was);
      set?.delete(key);
      if (set && set.size === 0) idx.delete(was);
    }
    if (typeof now === 'string' && now !== '') {
      let set = idx.get(now);
      if (!set) idx.set(now, (set = new Set()));
      set.add(key);
    }
  }

  // -------------------------------------------------------------------------------------
  // Writes

  /**
   * Apply committed entries in index order; one result per entry handed in. Entries at or
   * below the applied index are skipped (result: Gone), so a driver may hand entries again
   * after a restart. An entry with empty data is a no-op. A command that cannot be decoded
   * gives an Invalid result and does not stop the others. Rejects only on a KV failure or
   * on a driver bug (indexes not increasing).
   *
   * A long list is applied in chunks (see {@link ApplyChunking}): each chunk queues its KV
   * write (its changes + its last index as the applied index), then updates memory, watch
   * events and onApplied in one step; between chunks the event loop runs, so heartbeats
   * and ticks are not held up by a burst of commits. Readers see the applied index move
   * chunk by chunk; the KV follows behind (see queueWrite). After a KV write failed, this
   * and every later call reject: the store is done, and a store reopened on the KV
   * applies again what the KV does not hold.
   *
   * `onChunk(done, results)` is called after each chunk is applied (after its watch
   * events and onApplied callbacks): `results[0..done)` are final.
   */
  applyEntries(entries: readonly EntryInput[], onChunk?: (done: number, results: readonly Result[]) => void): Promise<Result[]> {
    return this.serial(() => this.apply(entries, onChunk));
  }

  private async apply(entries: readonly EntryInput[], onChunk: ((done: number, results: readonly Result[]) => void) | undefined): Promise<Result[]> {
    this.assertOpen();
    this.assertWritable();
    const results: Result[] = [];
    const budget = this.chunking.budgetMs;
    const maxEntries = this.chunking.maxEntries;
    let i = 0;
    while (i < entries.length) {
      if (i > 0) {
        // Let timers and I/O run between chunks (Raft ticks, heartbeats, gRPC).
        await yieldToLoop();
        this.assertOpen();
      }
      // Memory may run ahead of the KV, but not without bound: when the KV falls this far
      // behind, applying waits for the write under way.
      while (this.kvQueue.size >= KV_QUEUE_LIMIT && this.kvWriting) await this.kvWriting;
      this.assertWritable();
      const txn = new Txn((k) => this.byFullKey(k));
      const applied: { index: number; result: Result }[] = [];
      let last = this.applied;
      const until = performance.now() + budget;
      let n = 0;
      for (; i < entries.length; i++) {
        const { index, data, term } = entries[i]!;
        if (!Number.isSafeInteger(index) || index < 1) throw new Error(`object store: entry index ${index} is not a positive integer`);
        if (index <= this.applied) {
          results.push({ ok: false, code: 'Gone', message: `entry ${index} was already applied (applied index ${this.applied})` });
          continue;
        }
        if (index <= last) throw new Error(`object store: entries out of order: ${index} after ${last}`);
        // A chunk ends at the budget or the entry limit (never before its first entry).
        if (n > 0 && (n >= maxEntries || performance.now() >= until)) break;
        last = index;
        const result = this.applyOne(index, data, txn, term);
        results.push(result);
        applied.push({ index, result });
        n++;
      }
      if (n === 0) break;
      this.commitChunk(txn, last, applied);
      onChunk?.(i, results);
    }
    return results;
  }

  /** Queue one chunk's KV write (changes and applied index), then update memory, watchers and callbacks. */
  private commitChunk(txn: Txn, last: number, applied: { index: number; result: Result }[]): void {
    const ops = new Map<string, KVOp>();
    const packed = new Map<string, Uint8Array>();
    for (const [k, c] of txn.changes) {
      if (c.object) {
        const bytes = packValue(c.object);
        packed.set(k, bytes);
        ops.set(k, { type: 'put', key: objectKey(k), value: bytes });
      } else {
        ops.set(k, { type: 'del', key: objectKey(k) });
      }
    }
    // Queued first: whatever happens below, a later write never carries an applied index
    // past changes it does not hold.
    this.queueWrite(ops, last);
    for (const [k, c] of txn.changes) {
      const key = nsKey(c.namespace, c.name);
      if (c.kind === 'Pod' && this.nodeIndex) this.reindexPod(k, this.tables.get('Pod')?.get(key), c.object);
      if (c.object) this.table(c.kind).set(key, c.object, packed.get(k));
      else this.tables.get(c.kind)?.delete(key);
    }
    this.applied = last;
    this.hub.record(txn.events);
    this.notify({ index: last, results: applied });
  }

  // -------------------------------------------------------------------------------------
  // The KV, written behind memory

  /** Queue one chunk's KV changes (by object key: a later op on a key replaces the earlier). */
  private queueWrite(ops: Map<string, KVOp>, applied: number): void {
    if (this.kvQueue.size === 0) this.kvQueue = ops;
    else for (const [k, op] of ops) this.kvQueue.set(k, op);
    this.kvQueuedApplied = applied;
    this.kvWriting ??= this.writeQueued();
  }

  /** Write what is queued, one batch at a time, until nothing is. */
  private async writeQueued(): Promise<void> {
    // Start in a later microtask: kvWriting is set before this can finish and clear it.
    await Promise.resolve();
    try {
      while (this.kvWrittenApplied < this.kvQueuedApplied && !this.kvFailure) {
        const target = this.kvQueuedApplied;
        const ops = [...this.kvQueue.values()];
        ops.push({ type: 'put', key: K_APPLIED, value: packValue({ format: FORMAT, applied: target }) });
        this.kvQueue = new Map();
        await this.kv.batch(ops, false);
        this.kvWrittenApplied = target;
      }
    } catch (err) {
      this.kvFailure = err instanceof Error ? err : new Error(String(err));
      this.logger.warn(`object store: writing to the KV failed; the store stops taking entries: ${this.kvFailure.message}`);
    } finally {
      this.kvWriting = undefined;
    }
  }

  /**
   * Resolves once every change applied so far is written to the KV (not synced: the Raft
   * log is the durable record); rejects if a KV write failed.
   */
  async flush(): Promise<void> {
    while (this.kvWriting) await this.kvWriting;
    this.assertWritable();
  }

  private assertWritable(): void {
    if (this.kvFailure) throw this.kvFailure;
  }

  private applyOne(index: number, data: Uint8Array, txn: Txn, term: number | undefined): Result {
    if (data.length === 0) return { ok: true };
    let cmd;
    try {
      cmd = decodeCommand(data);
    } catch (err) {
      const why = err instanceof MalformedCommandError ? err.message : String(err);
      return { ok: false, code: 'Invalid', message: `entry ${index}: undecodable command: ${why}` };
    }
    try {
      const env: ApplyEnv = term !== undefined ? { ...this.applyEnv, term } : this.applyEnv;
      return applyCommand(cmd, index, txn, this.opts.kindInfo, env);
    } catch (err) {
      // A bug, not bad input (apply reports bad input as values). Every replica hits the
      // same one on the same entry, so reporting it keeps replicas identical; the command's
      // changes are not in txn (each rule writes to txn only as its last step).
      return { ok: false, code: 'Invalid', message: `entry ${index}: internal error applying ${cmd.op}: ${(err as Error)?.message ?? String(err)}` };
    }
  }

  /**
   * msgpack `{format: 1, applied, objects: [...]}`, compressed (see {@link inflateSnapshot}):
   * every object and the applied index, the state at appliedIndex(). Built from each object's own encoding (objects not decoded
   * since open are copied as stored), which is much faster than packing one huge value.
   */
  async snapshot(): Promise<Uint8Array> {
    // The Raft log is compacted up to (a little before) this snapshot's index: the KV
    // must hold at least what is applied so far, since a restart re-applies from the KV's
    // applied index on.
    await this.flush();
    // The objects and the index are captured at one instant (stored objects are frozen
    // and replaced, never changed, so holding the references is enough); encoding then
    // yields to the event loop every few thousand objects, so that a large store does not
    // stall the replica's heartbeats while it is snapshotted.
    const applied = this.applied;
    const slots: (StoredObject | Uint8Array)[] = [];
    for (const t of this.tables.values()) for (const slot of t.slotsForSnapshot()) slots.push(slot);
    const parts: Uint8Array[] = [new Uint8Array([0x83]), packValue('format'), packValue(FORMAT), packValue('applied'), packValue(applied), packValue('objects')];
    const head = Buffer.alloc(5);
    head[0] = 0xdd;
    head.writeUInt32BE(slots.length, 1);
    parts.push(head);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      parts.push(slot instanceof Uint8Array ? slot : packValue(slot));
      if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
    }
    // Compressed off the event loop (libuv's pool): the Raft log store keeps the latest
    // snapshot in memory and reads it back whole at every restart, so its size is memory.
    // Objects compress well (repeated keys and values): ~9x for ConfigMaps.
    const packed = Buffer.concat(parts);
    const z = await deflateRawAsync(packed, { level: 1 });
    return Buffer.concat([SNAPSHOT_DEFLATE, z]);
  }


  /**
   * Replace everything with a snapshot taken at Raft index `index`: rewrite the KV, reset
   * the watch history (it starts at `index`) and end every open watch with an ERROR event
   * (code Gone) so that clients relist. The KV is rewritten behind a marker, so a crash
   * midway leaves a store that open() empties (see recoveredFromInterruptedRestore).
   */
  restore(data: Uint8Array, index: number): Promise<void> {
    return this.serial(async () => {
      this.assertOpen();
      if (!Number.isSafeInteger(index) || index < 0) throw new Error(`object store: restore index ${index} is not a non-negative integer`);
      await this.flush();
      const objects = decodeSnapshot(await inflateSnapshot(data), index);
      await this.kv.batch([{ type: 'put', key: K_RESTORING, value: new Uint8Array([1]) }, { type: 'del', key: K_APPLIED }], false);
      await this.kv.clear(P_OBJECT);
      for (let i = 0; i < objects.length; i += RESTORE_CHUNK) {
        const ops: KVOp[] = objects.slice(i, i + RESTORE_CHUNK).map((o) => ({ type: 'put', key: objectKey(keyOf(o)), value: packValue(o) }));
        await this.kv.batch(ops, false);
      }
      await this.kv.batch([{ type: 'put', key: K_APPLIED, value: packValue({ format: FORMAT, applied: index }) }, { type: 'del', key: K_RESTORING }], true);

      this.tables.clear();
      this.nodeIndex = undefined;
      for (const o of objects) this.table(o.kind).load(nsKey(namespaceOf(o), o.metadata.name), deepFreeze(o));
      for (const t of this.tables.values()) t.finishLoad();
      this.applied = index;
      this.kvQueuedApplied = index;
      this.kvWrittenApplied = index;
      this.hub.reset(index, new WatchClosedError(`object store was restored from a snapshot at index ${index}; relist`));
      this.notify({ index, results: [], restored: true });
    });
  }

  /** End every watch (ERROR event) and refuse further writes. The KV stays open: it belongs to the caller. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.serial(async () => {
      this.closed = true;
      if (this.warmTimer) clearImmediate(this.warmTimer);
      // What is applied reaches the KV before the caller closes it (a failure was
      // reported when it happened; the Raft log still has those entries).
      await this.flush().catch(() => undefined);
      this.hub.reset(this.applied, new WatchClosedError('object store is closed'));
    });
  }

  // -------------------------------------------------------------------------------------

  /** Decode objects loaded as bytes, ~5 ms at a time, yielding to the event loop in between. */
  private scheduleWarmUp(): void {
    const step = (): void => {
      this.warmTimer = undefined;
      if (this.closed) return;
      const until = performance.now() + 5;
      try {
        for (const t of this.tables.values()) {
          while (t.undecoded > 0 && performance.now() < until) t.decodeSome(64);
          if (performance.now() >= until) break;
        }
      } catch (err) {
        // A corrupt record: reported here, and again to whoever reads it.
        this.logger.warn(`object store: background decoding stopped: ${(err as Error).message}`);
        return;
      }
      for (const t of this.tables.values()) {
        if (t.undecoded > 0) {
          this.warmTimer = setImmediate(step);
          return;
        }
      }
    };
    this.warmTimer = setImmediate(step);
  }

  /** Objects still held as stored bytes (decoded on first read or by the warm-up). */
  undecodedCount(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.undecoded;
    return n;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('object store is closed');
  }

  private notify(info: AppliedInfo): void {
    for (const cb of this.appliedCallbacks) {
      try {
        cb(info);
      } catch (err) {
        this.logger.warn(`object store: onApplied callback failed: ${(err as Error)?.stack ?? String(err)}`);
      }
    }
  }

  private table(kind: string): KindTable {
    let t = this.tables.get(kind);
    if (!t) this.tables.set(kind, (t = new KindTable(kind, this.opts.cacheDecoded !== false)));
    return t;
  }

  private byFullKey(key: string): StoredObject | undefined {
    const i = key.indexOf(SEP);
    return this.tables.get(key.slice(0, i))?.get(key.slice(i + 1));
  }

  /** The namespace a request addresses: '' for cluster-scoped kinds and for "all namespaces". */
  private scope(kind: string, namespace: string | undefined): string {
    const info = this.opts.kindInfo(kind);
    if (info && !info.namespaced) return '';
    return namespace ?? '';
  }
}

// ---------------------------------------------------------------------------------------

interface ContinueToken {
  kind: string;
  ns: string;
  key: string;
  rv: number;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 1, ...t }), 'utf8').toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  let v: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new Error('not base64url');
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidContinueTokenError(`continue token ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '...' : s)} is not valid: not a token issued by this store`);
  }
  const t = v as Partial<ContinueToken> & { v?: unknown };
  if (typeof t !== 'object' || t === null || t.v !== 1 || typeof t.kind !== 'string' || typeof t.ns !== 'string' || typeof t.key !== 'string' || typeof t.rv !== 'number' || !Number.isSafeInteger(t.rv) || t.rv < 0) {
    throw new InvalidContinueTokenError('continue token is not valid: missing or malformed fields');
  }
  return { kind: t.kind, ns: t.ns, key: t.key, rv: t.rv };
}

/**
 * Snapshots start with this tag, then the msgpack snapshot compressed with raw deflate.
 * Snapshots without it (a msgpack map, first byte 0x80..0x8f or 0xde/0xdf) are the
 * uncompressed form older replicas wrote, and are still read.
 */
const SNAPSHOT_DEFLATE = Buffer.from('BSZ1', 'latin1');

/** The msgpack form of a snapshot, compressed or not. */
export async function inflateSnapshot(data: Uint8Array): Promise<Uint8Array> {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < SNAPSHOT_DEFLATE.length || !b.subarray(0, SNAPSHOT_DEFLATE.length).equals(SNAPSHOT_DEFLATE)) return data;
  try {
    return await inflateRawAsync(b.subarray(SNAPSHOT_DEFLATE.length));
  } catch (err) {
    throw new CorruptStoreError(`object store snapshot: compressed data is not readable: ${(err as Error).message}`);
  }
}

function decodeSnapshot(data: Uint8Array, index: number): StoredObject[] {
  let v: unknown;
  try {
    v = unpackValue(data);
  } catch (err) {
    throw new CorruptStoreError(`object store snapshot: not valid msgpack: ${(err as Error).message}`);
  }
  const s = v as { format?: unknown; applied?: unknown; objects?: unknown };
  if (typeof s !== 'object' || s === null || s.format !== FORMAT || typeof s.applied !== 'number' || !Array.isArray(s.objects)) {
    throw new CorruptStoreError('object store snapshot: not a snapshot of this format');
  }
  // The Raft snapshot index may be ahead of the store's (entries without data are not handed to the store).
  if (s.applied > index) throw new CorruptStoreError(`object store snapshot: taken at ${s.applied}, after its index ${index}`);
  s.objects.forEach((o, i) => {
    if (!looksLikeObject(o)) throw new CorruptStoreError(`object store snapshot: item ${i} is not an object`);
  });
  return s.objects as StoredObject[];
}

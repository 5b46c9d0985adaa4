/**
 * Helpers shared by the workload controllers: pod readiness and availability, controller
 * references, claiming (adopt/release) of objects by a controller, creation/deletion
 * expectations, an index of objects by controlling owner, time formatting and an
 * injectable random source for generated names.
 *
 * Everything here reads the store or caches what watches delivered; nothing is a source
 * of truth of its own (ARCHITECTURE rule 3).
 */
import { randomInt } from 'node:crypto';
import type { Condition, OwnerReference, Pod } from '../api/index.ts';
import { kindInfo, type Selector } from '../api/index.ts';
import { WriteError, type Clock, type Cluster, type PlainObject } from './types.ts';

// ---- objects -----------------------------------------------------------------------------

/** The metadata fields the controllers read, as a loose view of any object. */
export interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export function metaOf(o: PlainObject | undefined): Meta {
  return ((o?.metadata ?? {}) as Meta);
}

/** `namespace/name` (cluster-scoped objects: `/name` is never produced; just the name). */
export function keyOf(o: PlainObject): string {
  const m = metaOf(o);
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** A deep, mutable copy of a (frozen) stored object. */
export function clone<T>(o: T): T {
  return structuredClone(o) as T;
}

export function isBeingDeleted(o: PlainObject): boolean {
  return Boolean(metaOf(o).deletionTimestamp);
}

/**
 * The cluster as a leader-only component uses it: once leadership is lost (the signal
 * aborts) every write is refused, so a sync that is half way stops at its next write
 * instead of finishing on a stale view.
 */
export function leaderOnly(cluster: Cluster, signal: AbortSignal): Cluster {
  const lost = () => Promise.reject(new WriteError('Unavailable', 'leadership lost: this controller has stopped'));
  return {
    get: (kind, namespace, name) => cluster.get(kind, namespace, name),
    list: (kind, opts) => cluster.list(kind, opts),
    watch: (kind, onEvent, opts) => cluster.watch(kind, onEvent, opts),
    create: (obj) => (signal.aborted ? lost() : cluster.create(obj)),
    ...(cluster.createMany ? { createMany: (objs: PlainObject[]) => (signal.aborted ? lost() : cluster.createMany!(objs)) } : {}),
    update: (obj) => (signal.aborted ? lost() : cluster.update(obj)),
    updateStatus: (obj) => (signal.aborted ? lost() : cluster.updateStatus(obj)),
    delete: (kind, namespace, name, opts) => (signal.aborted ? lost() : cluster.delete(kind, namespace, name, opts)),
    bind: (bindings) => (signal.aborted ? lost() : cluster.bind(bindings)),
  };
}

// ---- time --------------------------------------------------------------------------------

/** RFC 3339 with whole seconds, as Kubernetes writes timestamps. */
export function formatTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Milliseconds since the epoch, or undefined when absent or malformed. */
export function parseTime(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

// ---- randomness --------------------------------------------------------------------------

/** An integer in [0, n). Injected so that tests name pods deterministically. */
export type RandomSource = (n: number) => number;

export const cryptoRandom: RandomSource = (n) => randomInt(n);

/** A small deterministic generator (mulberry32) for tests and simulations. */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const x = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(x * n);
  };
}

/** Kubernetes' alphabet for generated names: no vowels (no words) and no look-alikes. */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function randomSuffix(random: RandomSource, length = 5): string {
  let s = '';
  for (let i = 0; i < length; i++) s += NAME_ALPHABET[random(NAME_ALPHABET.length)];
  return s;
}

/** `<base>-<suffix>` with the base cut so the name stays a DNS label (as generateName does). */
export function generatedName(base: string, random: RandomSource): string {
  const prefix = `${base}-`.slice(0, 63 - 5);
  return prefix + randomSuffix(random);
}

// ---- pods ----------------------------------------------------------------------------------

export function podCondition(pod: PlainObject, type: string): Condition | undefined {
  return ((pod as Pod).status?.conditions ?? []).find((c) => c.type === type);
}

/** Ready condition True (what Kubernetes' IsPodReady checks). */
export function isPodReady(pod: PlainObject): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

/**
 * Ready for longer than minReadySeconds. As Kubernetes, "longer" is strict, measured from
 * the Ready condition's lastTransitionTime.
 */
export function isPodAvailable(pod: PlainObject, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const since = parseTime(podCondition(pod, 'Ready')?.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 < now;
}

/** For a ready pod that is not yet available: ms until it is; otherwise undefined. */
export function msUntilAvailable(pod: PlainObject, minReadySeconds: number, now: number): number | undefined {
  if (!minReadySeconds || !isPodReady(pod) || isPodAvailable(pod, minReadySeconds, now)) return undefined;
  const since = parseTime(podCondition(pod, 'Ready')?.lastTransitionTime);
  if (since === undefined) return undefined;
  return Math.max(1, since + minReadySeconds * 1000 - now + 1);
}

export function podPhase(pod: PlainObject): string {
  return (pod as Pod).status?.phase ?? 'Pending';
}

export function isPodTerminal(pod: PlainObject): boolean {
  const p = podPhase(pod);
  return p === 'Succeeded' || p === 'Failed';
}

/** Counts as a live replica: not finished and not being deleted (FilterActivePods). */
export function isPodActive(pod: PlainObject): boolean {
  return !isPodTerminal(pod) && !isBeingDeleted(pod);
}

// ---- owner references ------------------------------------------------------------------------

export function getControllerOf(o: PlainObject): OwnerReference | undefined {
  return (metaOf(o).ownerReferences ?? []).find((r) => r.controller === true);
}

/** The reference a controller puts on what it creates or adopts. */
export function controllerRef(owner: PlainObject): OwnerReference {
  const m = metaOf(owner);
  return {
    apiVersion: String(owner.apiVersion ?? ''),
    kind: String(owner.kind ?? ''),
    name: m.name ?? '',
    uid: m.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The object `ref` names, seen from a dependent in `namespace`, if it still exists with
 * that uid. A uid that no longer exists (deleted, or recreated under the same name) is gone.
 */
export function resolveOwner(cluster: Cluster, namespace: string, ref: OwnerReference): PlainObject | undefined {
  const info = kindInfo(ref.kind);
  if (!info) return undefined;
  const o = cluster.get(ref.kind, info.namespaced ? namespace : '', ref.name);
  return o && metaOf(o).uid === ref.uid ? o : undefined;
}

// ---- an index of objects by their controller -----------------------------------------------------

/**
 * Keys of objects of one kind grouped by controlling owner uid, plus the orphans of each
 * namespace, maintained from a watch. A controller reads candidates from here instead of
 * listing its whole namespace on every sync; the objects themselves are read from the
 * store, so the index is only a cache of what the store already said.
 */
export class ControllerIndex {
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly orphans = new Map<string, Set<string>>();
  /** key → owner uid ('' for orphans), to undo on change. */
  private readonly owner = new Map<string, string>();

  /** Record the current state of an object; returns the owner uid it had before ('' orphan, undefined unseen). */
  upsert(o: PlainObject): string | undefined {
    const key = keyOf(o);
    const prev = this.owner.get(key);
    const uid = getControllerOf(o)?.uid ?? '';
    if (prev !== uid) {
      if (prev !== undefined) this.unlink(key, prev, metaOf(o).namespace ?? '');
      this.link(key, uid, metaOf(o).namespace ?? '');
    }
    return prev;
  }

  remove(o: PlainObject): string | undefined {
    const key = keyOf(o);
    const prev = this.owner.get(key);
    if (prev !== undefined) this.unlink(key, prev, metaOf(o).namespace ?? '');
    return prev;
  }

  ownedBy(uid: string): string[] {
    return [...(this.byOwner.get(uid) ?? [])];
  }

  orphansIn(namespace: string): string[] {
    return [...(this.orphans.get(namespace) ?? [])];
  }

  private link(key: string, uid: string, ns: string): void {
    this.owner.set(key, uid);
    const map = uid ? this.byOwner : this.orphans;
    const k = uid || ns;
    let set = map.get(k);
    if (!set) map.set(k, (set = new Set()));
    set.add(key);
  }

  private unlink(key: string, uid: string, ns: string): void {
    this.owner.delete(key);
    const map = uid ? this.byOwner : this.orphans;
    const k = uid || ns;
    const set = map.get(k);
    if (!set) return;
    set.delete(key);
    if (set.size === 0) map.delete(k);
  }
}

// ---- claiming ------------------------------------------------------------------------------------

export interface ClaimResult {
  /** Objects the owner controls after the claim (adopted ones as updated). */
  claimed: PlainObject[];
  /** Adoption or release failures (other than the object being gone); the sync should retry. */
  errors: unknown[];
}

/**
 * Kubernetes' ControllerRefManager: of `candidates`, keep those `owner` controls and that
 * match `selector`, adopt orphans that match, release owned ones that stopped matching.
 * Adoption and release are updates conditional on the object's resourceVersion; before
 * the first adoption the owner is read again so a deleted or replaced owner adopts nothing.
 */
export async function claimObjects(cluster: Cluster, owner: PlainObject, selector: Selector, candidates: readonly PlainObject[]): Promise<ClaimResult> {
  const om = metaOf(owner);
  const ownerDeleting = Boolean(om.deletionTimestamp);
  const claimed: PlainObject[] = [];
  const errors: unknown[] = [];
  let canAdopt: boolean | undefined;
  const work: Promise<void>[] = [];
  for (const o of candidates) {
    const m = metaOf(o);
    const ref = getControllerOf(o);
    const matches = selector.matches(m.labels ?? {});
    if (ref) {
      if (ref.uid !== om.uid) continue;
      if (matches) {
        claimed.push(o);
        continue;
      }
      // A deleting owner keeps what it has: its dependents go with it.
      if (ownerDeleting) continue;
      work.push(
        release(cluster, o, om.uid ?? '').then(
          () => {},
          (e) => {
            if (!isNotFound(e)) errors.push(e);
          },
        ),
      );
      continue;
    }
    if (ownerDeleting || !matches || m.deletionTimestamp) continue;
    if (canAdopt === undefined) {
      const fresh = cluster.get(String(owner.kind), om.namespace ?? '', om.name ?? '');
      canAdopt = Boolean(fresh && metaOf(fresh).uid === om.uid && !metaOf(fresh).deletionTimestamp);
    }
    if (!canAdopt) continue;
    work.push(
      adopt(cluster, o, owner).then(
        (updated) => {
          claimed.push(updated);
        },
        (e) => {
          if (!isNotFound(e)) errors.push(e);
        },
      ),
    );
  }
  await Promise.all(work);
  return { claimed, errors };
}

async function adopt(cluster: Cluster, o: PlainObject, owner: PlainObject): Promise<PlainObject> {
  const copy = clone(o);
  const m = copy.metadata as Meta;
  m.ownerReferences = [...(m.ownerReferences ?? []).filter((r) => r.uid !== metaOf(owner).uid), controllerRef(owner)];
  return cluster.update(copy);
}

async function release(cluster: Cluster, o: PlainObject, ownerUid: string): Promise<PlainObject> {
  const copy = clone(o);
  const m = copy.metadata as Meta;
  m.ownerReferences = (m.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
  if (m.ownerReferences.length === 0) delete m.ownerReferences;
  return cluster.update(copy);
}

export function isNotFound(e: unknown): boolean {
  return e instanceof WriteError && e.reason === 'NotFound';
}

export function isConflict(e: unknown): boolean {
  return e instanceof WriteError && e.reason === 'Conflict';
}

export function isAlreadyExists(e: unknown): boolean {
  return e instanceof WriteError && e.reason === 'AlreadyExists';
}

// ---- expectations -------------------------------------------------------------------------------

interface Expectation {
  add: number;
  /** Keys of objects whose deletion is awaited; each is counted once. */
  del: Set<string>;
  at: number;
}

/**
 * client-go's (UID-tracking) ControllerExpectations: after a controller asks for N
 * creations or deletions it does not act again on that owner until the store has shown
 * them (or they failed, or a TTL passed), because its reads would not include them yet
 * and it would create or delete twice.
 */
export class ControllerExpectations {
  private readonly m = new Map<string, Expectation>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  /** True when nothing is outstanding for `key` (or what was expected is too old to wait for). */
  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del.size === 0) return true;
    return this.clock.now() - e.at > this.ttlMs;
  }

  expectCreations(key: string, n: number): void {
    this.m.set(key, { add: n, del: new Set(), at: this.clock.now() });
  }

  expectDeletions(key: string, keys: readonly string[]): void {
    this.m.set(key, { add: 0, del: new Set(keys), at: this.clock.now() });
  }

  creationObserved(key: string, n = 1): void {
    const e = this.m.get(key);
    if (e) e.add -= n;
  }

  deletionObserved(key: string, objectKey: string): void {
    this.m.get(key)?.del.delete(objectKey);
  }

  /** Outstanding creations for `key` (for tests and logs). */
  pending(key: string): { add: number; del: number } {
    const e = this.m.get(key);
    return { add: Math.max(0, e?.add ?? 0), del: e?.del.size ?? 0 };
  }

  forget(key: string): void {
    this.m.delete(key);
  }
}

// ---- batches ---------------------------------------------------------------------------------------

/** Calls slowStartBatch starts in one event-loop turn. */
const START_PER_TURN = 16;

/**
 * Kubernetes' slowStartBatch: call `fn` `count` times in batches of 1, 2, 4, ... running
 * each batch at once, and stop after the first batch with a failure, so a request that
 * will fail (quota, a bad template) fails once rather than `count` times.
 * Returns how many calls succeeded and the first error.
 */
export async function slowStartBatch(count: number, initial: number, fn: () => Promise<void>): Promise<{ done: number; attempted: number; error?: unknown }> {
  let remaining = count;
  let done = 0;
  let attempted = 0;
  for (let size = Math.min(remaining, initial); size > 0; size = Math.min(2 * size, remaining)) {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      // A call's synchronous part (a create's admission: defaults, validation, encoding)
      // costs about a millisecond; 256 of them in one turn would hold the event loop
      // long enough to delay the leader's Raft heartbeats into an election. Every call of
      // the batch is still in flight together; they are only started a few per turn.
      if (i > 0 && i % START_PER_TURN === 0) await new Promise<void>((r) => setImmediate(r));
      const call = fn();
      // Handled now: a call that fails while later ones are still being started would
      // otherwise be an unhandled rejection (which ends the process) before allSettled
      // below looks at it.
      call.catch(() => {});
      calls.push(call);
    }
    const results = await Promise.allSettled(calls);
    attempted += size;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    done += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { done, attempted, error: failed.reason };
    remaining -= size;
  }
  return { done, attempted };
}

/**
 * slowStartBatch for callers that do a whole batch in one call (many creates in one
 * proposal): `fn(size)` does `size` items and resolves with one outcome per item, undefined
 * for success or the item's error; a rejection fails every item of the batch with it.
 * Batches are 1, 2, 4, ... as in slowStartBatch, and it stops after the first batch with a
 * failed item. Returns how many items succeeded, how many were attempted and the first error.
 */
export async function slowStartBatchMany(
  count: number,
  initial: number,
  fn: (size: number) => Promise<readonly unknown[]>,
): Promise<{ done: number; attempted: number; error?: unknown }> {
  let remaining = count;
  let done = 0;
  let attempted = 0;
  for (let size = Math.min(remaining, initial); size > 0; size = Math.min(2 * size, remaining)) {
    let outcomes: readonly unknown[];
    try {
      outcomes = await fn(size);
    } catch (e) {
      outcomes = new Array<unknown>(size).fill(e ?? new Error('batch failed'));
    }
    attempted += size;
    let error: unknown;
    for (let i = 0; i < size; i++) {
      const o = i < outcomes.length ? outcomes[i] : new Error('the batch reported no outcome for this item');
      if (o === undefined) done++;
      else error ??= o;
    }
    if (error !== undefined) return { done, attempted, error };
    remaining -= size;
  }
  return { done, attempted };
}

/** Structural equality of JSON-shaped values (key order and undefined-valued keys ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted and undefined values dropped: one text per value. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(canonical(v));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

/** Run `fn` on a watch event without letting a throw end the watch (the store ends a watch whose callback throws). */
export function guarded<T>(log: { error(msg: string): void }, what: string, fn: (ev: T) => void): (ev: T) => void {
  return (ev) => {
    try {
      fn(ev);
    } catch (e) {
      log.error(`${what}: ${(e as Error)?.stack ?? String(e)}`);
    }
  };
}

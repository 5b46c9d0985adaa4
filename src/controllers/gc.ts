/**
 * The garbage collector (Kubernetes' pkg/controller/garbagecollector): deletes objects
 * whose owners are gone, and carries out the two deletion modes that need help:
 *
 *  - background: an owner is removed at once; its dependents, now pointing at a uid that
 *    no longer exists, are deleted here.
 *  - foreground: the owner stays, marked for deletion with the `foregroundDeletion`
 *    finalizer, while its dependents are deleted; once no dependent blocks it
 *    (blockOwnerDeletion) the finalizer is removed and the owner goes.
 *  - orphan: the owner stays with the `orphan` finalizer while the reference to it is
 *    removed from every dependent; then the finalizer is removed.
 *
 * It watches every kind and keeps an index of dependents by owner uid (a cache of what
 * the watches said). Whether an owner exists is always read from the store by its kind,
 * namespace and name and compared by uid, so an owner deleted and recreated under the
 * same name is gone as far as its old dependents are concerned.
 *
 * As in Kubernetes, an object is looked at only when there may be something to do: when
 * one of its owners is missing (or another uid) or waits for its dependents (foreground
 * deletion), or when it is itself being deleted with a finalizer this collector handles.
 * An object whose owners are all there and not deleting in the foreground (the common
 * case: every pod of a ReplicaSet) is only indexed; it is queued later by the events
 * that can change that — its owner's deletion (DELETED queues the dependents), the owner
 * waiting for it (the owner's own processing queues its dependents), a change of its
 * ownerReferences.
 */
import { KINDS, kindInfo } from '../api/index.ts';
import { clone, guarded, leaderOnly, isNotFound, metaOf, sameJson, type Meta } from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import type { Controller, ControllerContext, DeleteOptions, ObjectEvent, PlainObject } from './types.ts';
import type { OwnerReference } from '../api/index.ts';

export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';

export interface GarbageCollectorOptions {
  /** Objects processed at the same time. */
  concurrency?: number;
  /** Kinds to watch (default: every kind the API serves). */
  kinds?: readonly string[];
}

interface Node {
  /** Owner uids, in reference order. */
  owners: string[];
  /** The ownerReferences as last seen (canonical JSON), to notice changes. */
  refs: string;
  /**
   * The ownerReferences array itself: the store keeps an unchanged part of an object when
   * it writes a new version (a status, a binding), so the same array means no change and
   * saves making the JSON on every event.
   */
  seen: unknown;
}

const objectKey = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

function parseKey(key: string): { kind: string; namespace: string; name: string } {
  const [kind, namespace, ...rest] = key.split('/');
  return { kind: kind!, namespace: namespace!, name: rest.join('/') };
}

function keyOfObject(o: PlainObject): string {
  const m = metaOf(o);
  return objectKey(String(o.kind), m.namespace ?? '', m.name ?? '');
}

const hasFinalizer = (o: PlainObject, f: string) => (metaOf(o).finalizers ?? []).includes(f);

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  /** owner uid → keys of objects that reference it. */
  private readonly dependents = new Map<string, Set<string>>();
  /** object key → what it references. */
  private readonly nodes = new Map<string, Node>();
  /** uid → object key, for every object seen. */
  private readonly uids = new Map<string, string>();
  private readonly concurrency: number;
  private readonly kinds: readonly string[];
  /** Objects looked at (processed from the queue; tests and metrics). */
  looked = 0;

  constructor(opts: GarbageCollectorOptions = {}) {
    this.concurrency = opts.concurrency ?? 5;
    this.kinds = opts.kinds ?? KINDS.map((k) => k.kind);
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = { ...ctx, cluster: leaderOnly(ctx.cluster, ctx.signal) };
    this.queue = new WorkQueue((key) => this.process(key), {
      clock: ctx.clock,
      concurrency: this.concurrency,
      onError: (key, err, n) => ctx.log.debug(`garbage collector ${key}: failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    const stops: (() => void)[] = [];
    // Index everything first, then look at anything that may need work: an owner that
    // appears later in the listing must be known before its dependents are judged.
    const initial: PlainObject[] = [];
    for (const kind of this.kinds) {
      for (const o of ctx.cluster.list(kind)) {
        this.index(o);
        initial.push(o);
      }
      stops.push(ctx.cluster.watch(kind, guarded(ctx.log, `garbage collector ${kind} watch`, (ev: ObjectEvent) => this.onEvent(ev))));
    }
    for (const o of initial) if (this.needsLook(o) && !this.ownersSolid(o)) this.queue.add(keyOfObject(o));
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        for (const stop of stops) stop();
      },
      { once: true },
    );
  }

  /** Resolves when nothing is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  /** Keys of the objects that reference `uid` (for tests). */
  dependentsOf(uid: string): string[] {
    return [...(this.dependents.get(uid) ?? [])];
  }

  // ---- the graph ----------------------------------------------------------------------------

  /** Record an object; returns the owner uids it had before (undefined when unseen). */
  private index(o: PlainObject): Node | undefined {
    const key = keyOfObject(o);
    const m = metaOf(o);
    if (m.uid) this.uids.set(m.uid, key);
    const before = this.nodes.get(key);
    if (before && m.ownerReferences !== undefined && before.seen === m.ownerReferences) return before;
    const refs = m.ownerReferences ?? [];
    const node: Node = { owners: refs.map((r) => r.uid), refs: JSON.stringify(refs), seen: m.ownerReferences };
    if (before && before.refs === node.refs) return before;
    if (before) this.unlink(key, before);
    if (refs.length > 0) {
      this.nodes.set(key, node);
      for (const uid of node.owners) {
        let set = this.dependents.get(uid);
        if (!set) this.dependents.set(uid, (set = new Set()));
        set.add(key);
      }
    } else {
      this.nodes.delete(key);
    }
    return before;
  }

  private unlink(key: string, node: Node): void {
    for (const uid of node.owners) {
      const set = this.dependents.get(uid);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) this.dependents.delete(uid);
    }
    this.nodes.delete(key);
  }

  /** Something for the collector to do about this object by itself. */
  private needsLook(o: PlainObject): boolean {
    const m = metaOf(o);
    if (m.deletionTimestamp) return hasFinalizer(o, FOREGROUND_FINALIZER) || hasFinalizer(o, ORPHAN_FINALIZER);
    return (m.ownerReferences ?? []).length > 0;
  }

  /**
   * A live object none of whose owners needs the collector: each exists with the uid
   * referenced and is not waiting for its dependents (or is of a kind this cluster does not
   * serve, which attemptToDelete keeps too). Such an object would be left alone anyway.
   */
  private ownersSolid(o: PlainObject): boolean {
    const m = metaOf(o);
    if (m.deletionTimestamp) return false;
    const refs = m.ownerReferences ?? [];
    if (refs.length === 0) return false;
    for (const ref of refs) {
      const info = kindInfo(ref.kind);
      if (!info) continue;
      if (info.namespaced && !m.namespace) return false;
      const owner = this.ctx.cluster.get(ref.kind, info.namespaced ? (m.namespace ?? '') : '', ref.name);
      if (!owner) return false;
      const om = metaOf(owner);
      if (om.uid !== ref.uid) return false;
      if (om.deletionTimestamp && hasFinalizer(owner, FOREGROUND_FINALIZER)) return false;
    }
    return true;
  }

  private onEvent(ev: ObjectEvent): void {
    const o = ev.object;
    const key = keyOfObject(o);
    const m = metaOf(o);
    if (ev.type === 'DELETED') {
      const node = this.nodes.get(key);
      if (node) this.unlink(key, node);
      if (m.uid && this.uids.get(m.uid) === key) this.uids.delete(m.uid);
      // Its owners may be waiting for it; its dependents now point at nothing.
      this.enqueueOwners(node?.owners ?? []);
      for (const dep of this.dependents.get(m.uid ?? '') ?? []) this.queue.add(dep);
      return;
    }
    const before = this.index(o);
    const after = this.nodes.get(key);
    const refsChanged = (before?.refs ?? '[]') !== (after?.refs ?? '[]');
    if (this.needsLook(o) && (ev.type === 'ADDED' || refsChanged || m.deletionTimestamp) && !this.ownersSolid(o)) this.queue.add(key);
    if (refsChanged || m.deletionTimestamp) this.enqueueOwners([...(before?.owners ?? []), ...(after?.owners ?? [])]);
  }

  /** Owners that are themselves being deleted may be waiting for their dependents. */
  private enqueueOwners(uids: readonly string[]): void {
    for (const uid of uids) {
      const key = this.uids.get(uid);
      if (!key) continue;
      const { kind, namespace, name } = parseKey(key);
      const owner = this.ctx.cluster.get(kind, namespace, name);
      if (owner && metaOf(owner).deletionTimestamp) this.queue.add(key);
    }
  }

  // ---- processing ------------------------------------------------------------------------------

  private async process(key: string): Promise<void> {
    this.looked++;
    const { kind, namespace, name } = parseKey(key);
    const o = this.ctx.cluster.get(kind, namespace, name);
    if (!o) return;
    if (metaOf(o).deletionTimestamp) {
      if (hasFinalizer(o, ORPHAN_FINALIZER)) await this.orphanDependents(o);
      else if (hasFinalizer(o, FOREGROUND_FINALIZER)) await this.deleteDependentsFirst(o);
      return;
    }
    if ((metaOf(o).ownerReferences ?? []).length > 0) await this.attemptToDelete(o);
  }

  /** The live objects that reference `owner` (by uid), read from the store. */
  private liveDependents(owner: PlainObject): PlainObject[] {
    const uid = metaOf(owner).uid ?? '';
    const out: PlainObject[] = [];
    for (const key of this.dependents.get(uid) ?? []) {
      const { kind, namespace, name } = parseKey(key);
      const d = this.ctx.cluster.get(kind, namespace, name);
      if (d && (metaOf(d).ownerReferences ?? []).some((r) => r.uid === uid)) out.push(d);
    }
    return out;
  }

  /**
   * An object with owners: delete it when none of them is solid (existing and not
   * itself waiting for its dependents); drop references to gone or waiting owners when
   * another owner still holds it (attemptToDeleteItem).
   */
  private async attemptToDelete(o: PlainObject): Promise<void> {
    const m = metaOf(o);
    const refs = m.ownerReferences ?? [];
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of refs) {
      const info = kindInfo(ref.kind);
      if (!info) {
        // An owner of a kind this cluster does not serve cannot be checked: keep the object.
        solid.push(ref);
        continue;
      }
      // A cluster-scoped object cannot be owned by a namespaced one: such an owner is gone.
      const ns = info.namespaced ? (m.namespace ?? '') : '';
      const owner = info.namespaced && !m.namespace ? undefined : this.ctx.cluster.get(ref.kind, ns, ref.name);
      if (!owner || metaOf(owner).uid !== ref.uid) dangling.push(ref);
      else if (metaOf(owner).deletionTimestamp && hasFinalizer(owner, FOREGROUND_FINALIZER)) waiting.push(ref);
      else solid.push(ref);
    }
    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return;
      const drop = new Set([...dangling, ...waiting].map((r) => r.uid));
      await this.updateRefs(o, (rs) => rs.filter((r) => !drop.has(r.uid)));
      return;
    }
    let policy: DeleteOptions['propagationPolicy'];
    if (waiting.length > 0 && this.liveDependents(o).length > 0) {
      // Its owner waits for it, and it has dependents of its own: they go first too.
      policy = 'foreground';
    } else if (hasFinalizer(o, ORPHAN_FINALIZER)) {
      policy = 'orphan';
    } else if (hasFinalizer(o, FOREGROUND_FINALIZER)) {
      policy = 'foreground';
    } else {
      policy = 'background';
    }
    try {
      await this.ctx.cluster.delete(String(o.kind), m.namespace ?? '', m.name ?? '', { uid: m.uid, propagationPolicy: policy });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Foreground: delete the dependents; when none blocks any more, let the owner go. */
  private async deleteDependentsFirst(owner: PlainObject): Promise<void> {
    const uid = metaOf(owner).uid ?? '';
    const deps = this.liveDependents(owner);
    const blocking = deps.filter((d) => (metaOf(d).ownerReferences ?? []).some((r) => r.uid === uid && r.blockOwnerDeletion === true));
    // Every dependent goes (non-blocking ones too), but only blocking ones are waited for.
    for (const d of deps) if (!metaOf(d).deletionTimestamp) this.queue.add(keyOfObject(d));
    if (blocking.length > 0) return;
    await this.removeFinalizer(owner, FOREGROUND_FINALIZER);
  }

  /** Orphan: remove the reference to the owner from every dependent, then the finalizer. */
  private async orphanDependents(owner: PlainObject): Promise<void> {
    const uid = metaOf(owner).uid ?? '';
    for (const d of this.liveDependents(owner)) {
      await this.updateRefs(d, (rs) => rs.filter((r) => r.uid !== uid));
    }
    await this.removeFinalizer(owner, ORPHAN_FINALIZER);
  }

  /** Rewrite an object's ownerReferences, conditional on the version read. */
  private async updateRefs(o: PlainObject, edit: (refs: OwnerReference[]) => OwnerReference[]): Promise<void> {
    const copy = clone(o);
    const m = copy.metadata as Meta;
    const next = edit(m.ownerReferences ?? []);
    if (sameJson(next, m.ownerReferences ?? [])) return;
    if (next.length > 0) m.ownerReferences = next;
    else delete m.ownerReferences;
    try {
      await this.ctx.cluster.update(copy);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async removeFinalizer(o: PlainObject, finalizer: string): Promise<void> {
    const copy = clone(o);
    const m = copy.metadata as Meta;
    m.finalizers = (m.finalizers ?? []).filter((f) => f !== finalizer);
    if (m.finalizers.length === 0) delete m.finalizers;
    try {
      await this.ctx.cluster.update(copy);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

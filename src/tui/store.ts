/**
 * A client-side cache of one kind's objects, keyed by `namespace/name` (`name` for
 * cluster-scoped kinds), fed by a watch (feed.ts) and read by the views. Objects are never
 * modified once stored: a change replaces the object, so caches keyed by object identity
 * (row text, sort keys, pod requests) stay right without invalidation.
 */
import type { PlainObject } from '../client/client.ts';

export type Obj = Record<string, unknown>;

/** One object that changed: `prev` undefined for an addition, `next` undefined for a deletion. */
export interface StoreChange {
  key: string;
  prev: PlainObject | undefined;
  next: PlainObject | undefined;
}

export type StoreListener = (changes: readonly StoreChange[]) => void;

export function metaOf(o: PlainObject | undefined): Obj {
  const m = o?.metadata;
  return m !== null && typeof m === 'object' ? (m as Obj) : {};
}

export function nameOf(o: PlainObject | undefined): string {
  return String(metaOf(o).name ?? '');
}

export function namespaceOf(o: PlainObject | undefined): string {
  return String(metaOf(o).namespace ?? '');
}

/** `namespace/name`, or `name` for an object without a namespace. */
export function keyOf(o: PlainObject): string {
  const ns = namespaceOf(o);
  return ns ? `${ns}/${nameOf(o)}` : nameOf(o);
}

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class ObjectStore {
  private readonly items = new Map<string, PlainObject>();
  private readonly listeners = new Set<StoreListener>();
  /** The version of the last change seen (an event's or a list's): a watch resumes after it. */
  resourceVersion = '';
  /** True once a full list has been loaded. */
  synced = false;
  /** Bumped on every change; views compare it to know whether to redraw. */
  version = 0;

  constructor(readonly kind: string) {}

  get size(): number {
    return this.items.size;
  }

  get(key: string): PlainObject | undefined {
    return this.items.get(key);
  }

  values(): IterableIterator<PlainObject> {
    return this.items.values();
  }

  subscribe(fn: StoreListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Applies one watch event. BOOKMARKs only move the resourceVersion. */
  apply(ev: { type: string; object: PlainObject | undefined; resourceVersion: string }): void {
    if (ev.resourceVersion) this.resourceVersion = ev.resourceVersion;
    if (!ev.object || (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED')) return;
    const key = keyOf(ev.object);
    const prev = this.items.get(key);
    if (ev.type === 'DELETED') {
      if (!prev) return;
      this.items.delete(key);
      this.emit([{ key, prev, next: undefined }]);
    } else {
      this.items.set(key, ev.object);
      this.emit([{ key, prev, next: ev.object }]);
    }
  }

  /**
   * Replaces the contents with a fresh list (the first load, or a relist after the watch
   * fell too far behind): only what differs is reported as changed.
   */
  replace(items: readonly PlainObject[], resourceVersion: string): void {
    const changes: StoreChange[] = [];
    const seen = new Set<string>();
    for (const o of items) {
      const key = keyOf(o);
      seen.add(key);
      const prev = this.items.get(key);
      if (prev && metaOf(prev).resourceVersion === metaOf(o).resourceVersion && metaOf(o).resourceVersion !== undefined) continue;
      this.items.set(key, o);
      changes.push({ key, prev, next: o });
    }
    for (const [key, prev] of this.items) {
      if (seen.has(key)) continue;
      this.items.delete(key);
      changes.push({ key, prev, next: undefined });
    }
    this.resourceVersion = resourceVersion;
    this.synced = true;
    if (changes.length > 0) this.emit(changes);
    else this.version++;
  }

  private emit(changes: StoreChange[]): void {
    this.version++;
    for (const fn of this.listeners) fn(changes);
  }
}

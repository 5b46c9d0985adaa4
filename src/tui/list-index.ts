/**
 * The rows of one view: the store's objects that the view accepts (scope, namespace,
 * filter), sorted, kept up to date incrementally. A change to a few objects moves just
 * those entries (binary search, splice); only a change of the view's definition (sort,
 * filter, namespace) or a flood of changes sorts everything again. With 10,000 pods an
 * update costs microseconds, and the table renders only the rows on screen.
 */
import type { PlainObject } from '../client/client.ts';
import { keyOf, type ObjectStore } from './store.ts';

export type SortKey = string | number;

export interface IndexSpec {
  /** Whether the object is a row of this view. */
  accept(o: PlainObject): boolean;
  /** Compared with `<`; ties are broken by key. */
  sortKey(o: PlainObject): SortKey;
  desc: boolean;
}

export interface Entry {
  readonly key: string;
  readonly sk: SortKey;
  readonly obj: PlainObject;
}

export class ListIndex {
  private entries: Entry[] = [];
  private readonly byKey = new Map<string, Entry>();
  private readonly dirty = new Set<string>();
  private stale = true;
  private readonly unsubscribe: () => void;
  /** Full rebuilds so far (tests check that small changes do not cause one). */
  rebuilds = 0;

  constructor(
    private readonly store: ObjectStore,
    private spec: IndexSpec,
  ) {
    this.unsubscribe = store.subscribe((changes) => {
      if (this.stale) return;
      for (const c of changes) this.dirty.add(c.key);
    });
  }

  /** A new definition: everything is sorted again on the next read. */
  setSpec(spec: IndexSpec): void {
    this.spec = spec;
    this.stale = true;
    this.dirty.clear();
  }

  dispose(): void {
    this.unsubscribe();
  }

  get length(): number {
    this.refresh();
    return this.entries.length;
  }

  /** Entries [from, to) in order. */
  slice(from: number, to: number): readonly Entry[] {
    this.refresh();
    return this.entries.slice(from, to);
  }

  at(i: number): Entry | undefined {
    this.refresh();
    return this.entries[i];
  }

  /** Position of the object with this key, or -1. O(log n). */
  indexOf(key: string): number {
    this.refresh();
    const e = this.byKey.get(key);
    if (!e) return -1;
    const i = this.lowerBound(e.sk, e.key);
    return this.entries[i] === e ? i : -1;
  }

  all(): readonly Entry[] {
    this.refresh();
    return this.entries;
  }

  private refresh(): void {
    if (this.stale || this.dirty.size > Math.max(64, this.entries.length / 4)) {
      this.rebuild();
      return;
    }
    if (this.dirty.size === 0) return;
    for (const key of this.dirty) {
      const old = this.byKey.get(key);
      const obj = this.store.get(key);
      const e: Entry | undefined = obj && this.spec.accept(obj) ? { key, sk: this.spec.sortKey(obj), obj } : undefined;
      let at = -1;
      if (old) {
        at = this.lowerBound(old.sk, old.key);
        if (this.entries[at] !== old) at = -1;
      }
      // The common change (a status update that leaves the sort key be) keeps its place:
      // no splice, which would move every entry after it.
      if (e && at >= 0 && this.fitsAt(e, at)) {
        this.entries[at] = e;
        this.byKey.set(key, e);
        continue;
      }
      if (at >= 0) this.entries.splice(at, 1);
      this.byKey.delete(key);
      if (e) {
        this.entries.splice(this.lowerBound(e.sk, key), 0, e);
        this.byKey.set(key, e);
      }
    }
    this.dirty.clear();
  }

  private rebuild(): void {
    this.rebuilds++;
    this.stale = false;
    this.dirty.clear();
    this.byKey.clear();
    const out: Entry[] = [];
    for (const obj of this.store.values()) {
      if (!this.spec.accept(obj)) continue;
      const e: Entry = { key: keyOf(obj), sk: this.spec.sortKey(obj), obj };
      out.push(e);
      this.byKey.set(e.key, e);
    }
    out.sort((a, b) => this.compare(a.sk, a.key, b.sk, b.key));
    this.entries = out;
  }

  /** Whether `e` sorts between the neighbours of position `i`. */
  private fitsAt(e: Entry, i: number): boolean {
    const before = this.entries[i - 1];
    const after = this.entries[i + 1];
    return (!before || this.compare(before.sk, before.key, e.sk, e.key) < 0) && (!after || this.compare(e.sk, e.key, after.sk, after.key) < 0);
  }

  private compare(ask: SortKey, akey: string, bsk: SortKey, bkey: string): number {
    if (ask !== bsk) {
      const c = ask < bsk ? -1 : ask > bsk ? 1 : 0;
      if (c !== 0) return this.spec.desc ? -c : c;
    }
    return akey < bkey ? -1 : akey > bkey ? 1 : 0;
  }

  /** First position whose entry is not before (sk, key). */
  private lowerBound(sk: SortKey, key: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid]!;
      if (this.compare(e.sk, e.key, sk, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

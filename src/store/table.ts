/**
 * The objects of one kind, in memory: a map by (namespace, name) and the same keys
 * sorted, for paginated lists in name order.
 *
 * At open, objects are loaded as their stored bytes and decoded on first use (or by the
 * store's background warm-up): reading 100,000 records from LevelDB takes about a second,
 * decoding them two to three more, and a restart should not wait for the latter.
 */
import { unpackValue } from './commands.ts';
import { deepFreeze, namespaceOf, nsKey } from './object-util.ts';
import type { StoredObject } from './types.ts';

/** The KV holds something the store cannot read. */
export class CorruptStoreError extends Error {
  override name = 'CorruptStoreError';
}

export function looksLikeObject(v: unknown): v is StoredObject {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { kind?: unknown; metadata?: { name?: unknown } };
  return typeof o.kind === 'string' && typeof o.metadata === 'object' && o.metadata !== null && typeof o.metadata.name === 'string';
}

export class KindTable {
  /** A decoded, frozen object, or the bytes it was stored as (not decoded yet). */
  private readonly slots = new Map<string, StoredObject | Uint8Array>();
  /**
   * The keys in ascending JS string order, brought up to date lazily: inserting into a
   * 100,000-key array on every create costs a ~50 µs memmove, so creates and deletes only
   * mark it stale and the next ordered read merges (O(n + k log k), once per burst).
   * Invariant once {@link order} has run: exactly the keys of `slots`.
   */
  private sorted: string[] = [];
  /** Keys created since the last merge. */
  private added = new Set<string>();
  /** Some key in `sorted` may have been deleted since the last merge. */
  private stale = false;
  /** How many slots still hold bytes. */
  private raw = 0;

  /**
   * @param cacheDecoded keep an object decoded once it has been read (fast reads), or keep
   *   every object as its stored bytes and decode on each read (a third of the memory).
   */
  constructor(
    readonly kind: string,
    readonly cacheDecoded = true,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  get undecoded(): number {
    return this.raw;
  }

  get(key: string): StoredObject | undefined {
    const v = this.slots.get(key);
    if (v === undefined || !(v instanceof Uint8Array)) return v;
    return this.decode(key, v);
  }

  /** The key at a position of the sorted order. */
  keyAt(i: number): string | undefined {
    return this.order()[i];
  }

  get length(): number {
    return this.order().length;
  }

  /** First position whose key is >= k (or > k with `after`). */
  bound(k: string, after = false): number {
    const s = this.order();
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! < k || (after && s[mid] === k)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Store `o`; `bytes` (its stored encoding) is kept instead when not caching decoded objects. */
  set(key: string, o: StoredObject, bytes?: Uint8Array): void {
    const old = this.slots.get(key);
    if (old === undefined) this.added.add(key);
    else if (old instanceof Uint8Array) this.raw--;
    if (!this.cacheDecoded && bytes) {
      this.slots.set(key, bytes);
      this.raw++;
    } else {
      this.slots.set(key, o);
    }
  }

  delete(key: string): void {
    const old = this.slots.get(key);
    if (old === undefined) return;
    if (old instanceof Uint8Array) this.raw--;
    this.slots.delete(key);
    this.added.delete(key);
    this.stale = true;
  }

  /** The sorted keys, merged with the changes since the last call. */
  private order(): string[] {
    if (this.added.size === 0 && !this.stale) return this.sorted;
    const add = [...this.added].sort();
    const old = this.sorted;
    const out: string[] = [];
    let i = 0;
    let j = 0;
    while (i < old.length || j < add.length) {
      let k: string;
      if (j >= add.length || (i < old.length && old[i]! < add[j]!)) k = old[i++]!;
      else if (i < old.length && old[i] === add[j]) {
        // Deleted and created again since the last merge: one key.
        k = old[i++]!;
        j++;
      } else k = add[j++]!;
      if (this.slots.has(k)) out.push(k);
    }
    this.sorted = out;
    this.added.clear();
    this.stale = false;
    return out;
  }

  /** Bulk load (open, restore): add without keeping order; call {@link finishLoad} after the last. */
  load(key: string, v: StoredObject | Uint8Array): void {
    const old = this.slots.get(key);
    if (old instanceof Uint8Array) this.raw--;
    if (v instanceof Uint8Array) this.raw++;
    this.slots.set(key, v);
  }

  finishLoad(): void {
    // KV keys arrive in byte order, which is JS string order for the ASCII names
    // Kubernetes allows; sorting anyway keeps the invariant (and is cheap on sorted input).
    this.sorted = [...this.slots.keys()].sort();
    this.added.clear();
    this.stale = false;
  }

  /** Every object, decoded. */
  *objects(): IterableIterator<StoredObject> {
    for (const key of this.slots.keys()) yield this.get(key)!;
  }

  /** For snapshots: each slot as stored bytes if not decoded yet, else the object. */
  *slotsForSnapshot(): IterableIterator<StoredObject | Uint8Array> {
    yield* this.slots.values();
  }

  /** Where the warm-up resumes (a live Map iterator: entries added later are visited too). */
  private cursor: IterableIterator<[string, StoredObject | Uint8Array]> | undefined;

  /** Decode up to `max` objects still held as bytes; returns how many were decoded. */
  decodeSome(max: number): number {
    let n = 0;
    while (this.raw > 0 && n < max) {
      this.cursor ??= this.slots.entries();
      const next = this.cursor.next();
      if (next.done) {
        this.cursor = undefined;
        continue;
      }
      const [key, v] = next.value;
      if (!(v instanceof Uint8Array)) continue;
      this.decode(key, v);
      n++;
    }
    return n;
  }

  private decode(key: string, bytes: Uint8Array): StoredObject {
    let o: unknown;
    try {
      o = unpackValue(bytes);
    } catch (err) {
      throw new CorruptStoreError(`object store: ${this.kind} ${JSON.stringify(key.replace('\u0000', '/'))} is not valid msgpack: ${(err as Error).message}`);
    }
    if (!looksLikeObject(o) || o.kind !== this.kind || nsKey(namespaceOf(o), o.metadata.name) !== key) {
      throw new CorruptStoreError(`object store: ${this.kind} ${JSON.stringify(key.replace('\u0000', '/'))} does not hold that object`);
    }
    const frozen = deepFreeze(o);
    if (this.cacheDecoded) {
      this.slots.set(key, frozen);
      this.raw--;
    }
    return frozen;
  }
}

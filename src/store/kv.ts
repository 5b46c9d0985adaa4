/**
 * The storage the object store persists through: four operations on byte keys. The store
 * never needs more, so it runs on an in-memory map in tests and on LevelDB (a whole
 * database, a sublevel, or a key prefix of the replica's one database) in production.
 */

export type KVOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array };

export interface KV {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** All entries whose key starts with prefix, in key order. */
  iterate(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]>;
  /** Apply every op or none. `sync` asks for an fsync before resolving. */
  batch(ops: KVOp[], sync: boolean): Promise<void>;
  /** Delete every entry whose key starts with prefix. */
  clear(prefix: Uint8Array): Promise<void>;
}

// ---------------------------------------------------------------------------------------

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * A KV in a Map, for tests. Keys are kept as lower-case hex, whose string order is the
 * bytes' order. Values are copied in and out so callers cannot alias stored bytes.
 */
export class MemoryKV implements KV {
  private readonly data = new Map<string, Uint8Array>();
  /** Number of batch() calls so far (tests check "one batch per applyEntries"). */
  batches = 0;

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const v = this.data.get(hex(key));
    return v === undefined ? undefined : v.slice();
  }

  async *iterate(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const p = hex(prefix);
    const keys = [...this.data.keys()].filter((k) => k.startsWith(p)).sort();
    for (const k of keys) {
      const v = this.data.get(k);
      if (v !== undefined) yield [Buffer.from(k, 'hex'), v.slice()];
    }
  }

  async batch(ops: KVOp[], _sync: boolean): Promise<void> {
    this.batches++;
    for (const op of ops) {
      if (op.type === 'put') this.data.set(hex(op.key), op.value.slice());
      else this.data.delete(hex(op.key));
    }
  }

  async clear(prefix: Uint8Array): Promise<void> {
    const p = hex(prefix);
    for (const k of [...this.data.keys()]) if (k.startsWith(p)) this.data.delete(k);
  }

  /** Number of stored entries (tests). */
  get size(): number {
    return this.data.size;
  }
}

// ---------------------------------------------------------------------------------------

/**
 * The part of an abstract-level database LevelKV uses. A `Level<Buffer, Buffer>` opened
 * with `{keyEncoding: 'buffer', valueEncoding: 'buffer'}` fits, and so does a sublevel
 * created with the same encodings.
 */
export interface LevelLike {
  get(key: Buffer): Promise<Buffer | undefined>;
  /** A chained batch (abstract-level's `db.batch()` with no arguments). */
  batch(): LevelChainedBatch;
  iterator(options: { gte?: Buffer; lt?: Buffer }): AsyncIterable<[Buffer, Buffer]> & { close(): Promise<void> };
  clear(options: { gte?: Buffer; lt?: Buffer }): Promise<void>;
}

/** The part of an abstract-level chained batch LevelKV uses. */
export interface LevelChainedBatch {
  put(key: Buffer, value: Buffer): unknown;
  del(key: Buffer): unknown;
  write(options: { sync?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** The smallest key greater than every key starting with prefix; undefined if none exists. */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

function range(prefix: Buffer): { gte?: Buffer; lt?: Buffer } {
  const r: { gte?: Buffer; lt?: Buffer } = {};
  if (prefix.length > 0) r.gte = prefix;
  const end = prefixEnd(prefix);
  if (end) r.lt = end;
  return r;
}

/**
 * A KV over a LevelDB database (or sublevel). With `keyPrefix`, every key is stored
 * behind that prefix, so the store can share the replica's database with the Raft log
 * (which uses keys starting 0x01..0x06): pick a prefix no other user starts with.
 */
export class LevelKV implements KV {
  private readonly prefix: Buffer;

  constructor(
    private readonly db: LevelLike,
    keyPrefix: Uint8Array = new Uint8Array(0),
  ) {
    this.prefix = Buffer.from(keyPrefix);
  }

  private key(k: Uint8Array): Buffer {
    return this.prefix.length === 0 ? Buffer.from(k.buffer, k.byteOffset, k.byteLength) : Buffer.concat([this.prefix, k]);
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const v = await this.db.get(this.key(key));
    return v ?? undefined;
  }

  async *iterate(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const it = this.db.iterator(range(this.key(prefix)));
    const skip = this.prefix.length;
    try {
      for await (const [k, v] of it) yield [skip === 0 ? k : k.subarray(skip), v];
    } finally {
      await it.close();
    }
  }

  async batch(ops: KVOp[], sync: boolean): Promise<void> {
    if (ops.length === 0) return;
    // The chained form: abstract-level's array batch validates and copies every operation
    // in a pass of its own first, which showed as ~3% of a busy leader.
    const b = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') b.put(this.key(op.key), Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength));
        else b.del(this.key(op.key));
      }
    } catch (err) {
      await b.close();
      throw err;
    }
    await b.write({ sync });
  }

  async clear(prefix: Uint8Array): Promise<void> {
    await this.db.clear(range(this.key(prefix)));
  }
}

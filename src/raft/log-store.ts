/**
 * Durable Raft storage on LevelDB: one database per replica.
 *
 * The pure Raft core reads only a {@link MemoryStorage}. This module keeps that memory
 * image and a LevelDB database in step: at open, everything on disk is verified and
 * loaded into memory; afterwards every write goes to LevelDB first (one atomic batch)
 * and is mirrored into memory only once the batch has resolved. Nothing is ever read
 * back from disk after open.
 *
 * On-disk layout (keys are raw bytes; every value starts with a 4-byte big-endian CRC32
 * of the bytes that follow it):
 *
 *   0x01 ‖ u64be(index)  entry       msgpack [index, term, type (0 normal, 1 conf), data]
 *   0x02                 hard state  msgpack [term, vote, commit]
 *   0x03                 conf state  msgpack [voters, learners]  (membership as of the last entry)
 *   0x04                 snapshot    msgpack [index, term, voters, learners, logStart, logStartTerm]
 *   0x05                 snapshot data (raw bytes)
 *   0x06 ‖ utf8(name)    application metadata (raw bytes)
 *
 * `logStart` is the index of the log's dummy entry (MemoryStorage's ents[0]): the entries
 * on disk that count are exactly logStart+1 … last. It equals the snapshot index, or is
 * below it when entries were kept behind a snapshot for slow followers. Entry keys at or
 * below logStart are leftovers of an interrupted range delete and are ignored (and
 * removed) at open.
 */
import { crc32 } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { Level } from 'level';
import { Packr } from 'msgpackr';
import { MemoryStorage } from './memory-storage.ts';
import {
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './types.ts';

export interface LogStoreOptions {
  /** Test hook: extra delay before each synced write resolves (chaos "slow disk"). */
  fsyncDelayMs?: number;
  logger?: { info(s: string): void; warn(s: string): void };
}

/** The durable state failed verification in a way that cannot be repaired by truncation. */
export class CorruptLogError extends Error {
  override name = 'CorruptLogError';
  /**
   * @param index the log index concerned (for hard state / conf / metadata: 0, or the
   *   snapshot index for snapshot records)
   * @param what  which record: 'entry', 'hard state', 'conf state', 'snapshot', 'meta "<name>"'
   * @param reason why it was rejected
   */
  constructor(
    readonly index: number,
    readonly what: string,
    readonly reason: string,
  ) {
    super(
      what === 'entry'
        ? `raft log: entry ${index} is corrupt: ${reason}`
        : `raft log: ${what}${index > 0 ? ` (index ${index})` : ''} is corrupt: ${reason}`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Keys and values

const P_ENTRY = 0x01;
const P_HARD = 0x02;
const P_CONF = 0x03;
const P_SNAP_META = 0x04;
const P_SNAP_DATA = 0x05;
const P_META = 0x06;

const HARD_KEY = Buffer.from([P_HARD]);
const CONF_KEY = Buffer.from([P_CONF]);
const SNAP_META_KEY = Buffer.from([P_SNAP_META]);
const SNAP_DATA_KEY = Buffer.from([P_SNAP_DATA]);
/** Sorts before every entry key. */
const ENTRY_START = Buffer.from([P_ENTRY]);
/** Sorts after every entry key. */
const ENTRY_END = Buffer.from([P_ENTRY + 1]);

const KEY_LEN = 9;
const TWO_32 = 0x1_0000_0000;
/** Upper bound on msgpack overhead of one entry: fixarray + 2 × float64/uint64 + type + bin32 header. */
const ENTRY_OVERHEAD = 32;

const packr = new Packr({ useRecords: false });

function writeEntryKey(buf: Buffer, at: number, index: number): void {
  buf[at] = P_ENTRY;
  buf.writeUInt32BE(Math.floor(index / TWO_32), at + 1);
  buf.writeUInt32BE(index >>> 0, at + 5);
}

function entryKey(index: number): Buffer {
  const k = Buffer.allocUnsafe(KEY_LEN);
  writeEntryKey(k, 0, index);
  return k;
}

function readEntryKey(k: Buffer): number {
  return k.readUInt32BE(1) * TWO_32 + k.readUInt32BE(5);
}

function metaKey(name: string): Buffer {
  if (name.length === 0) throw new Error('log store: empty metadata key');
  const n = Buffer.byteLength(name);
  const k = Buffer.allocUnsafe(1 + n);
  k[0] = P_META;
  k.write(name, 1);
  return k;
}

/** CRC32 ‖ payload. */
function seal(payload: Uint8Array): Buffer {
  const v = Buffer.allocUnsafe(4 + payload.length);
  v.writeUInt32BE(crc32(payload), 0);
  v.set(payload, 4);
  return v;
}

/** The payload of a sealed value, or a reason why it cannot be trusted. */
function unseal(v: Buffer): Buffer | string {
  if (v.length < 4) return `value too short (${v.length} bytes)`;
  const payload = v.subarray(4);
  if (crc32(payload) !== v.readUInt32BE(0)) return 'checksum mismatch';
  return payload;
}

function unpackSealed(v: Buffer): unknown[] | string {
  const payload = unseal(v);
  if (typeof payload === 'string') return payload;
  let decoded: unknown;
  try {
    decoded = packr.unpack(payload);
  } catch (err) {
    return `cannot decode: ${(err as Error).message}`;
  }
  if (!Array.isArray(decoded)) return 'cannot decode: not a record';
  return decoded;
}

/** A view on the same bytes as a plain Uint8Array (msgpackr and LevelDB hand out Buffers). */
function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isIdList(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((id) => isIndex(id) && id > 0);
}

function decodeHardState(v: Buffer): HardState {
  const r = unpackSealed(v);
  if (typeof r === 'string') throw new CorruptLogError(0, 'hard state', r);
  const [term, vote, commit] = r;
  if (r.length !== 3 || !isIndex(term) || !isIndex(vote) || !isIndex(commit)) {
    throw new CorruptLogError(0, 'hard state', 'cannot decode: malformed record');
  }
  return { term, vote, commit };
}

function encodeHardState(hs: HardState): Buffer {
  return seal(packr.pack([hs.term, hs.vote, hs.commit]));
}

function decodeConfState(v: Buffer): ConfState {
  const r = unpackSealed(v);
  if (typeof r === 'string') throw new CorruptLogError(0, 'conf state', r);
  const [voters, learners] = r;
  if (r.length !== 2 || !isIdList(voters) || !isIdList(learners)) {
    throw new CorruptLogError(0, 'conf state', 'cannot decode: malformed record');
  }
  return { voters, learners };
}

function encodeConfState(c: ConfState): Buffer {
  return seal(packr.pack([c.voters, c.learners]));
}

interface SnapRecord {
  index: number;
  term: number;
  conf: ConfState;
  logStart: number;
  logStartTerm: number;
}

function decodeSnapMeta(v: Buffer): SnapRecord {
  const r = unpackSealed(v);
  if (typeof r === 'string') throw new CorruptLogError(0, 'snapshot', r);
  const [index, term, voters, learners, logStart, logStartTerm] = r;
  if (
    r.length !== 6 || !isIndex(index) || !isIndex(term) || !isIdList(voters) || !isIdList(learners) ||
    !isIndex(logStart) || !isIndex(logStartTerm) || logStart > index || logStartTerm > term
  ) {
    throw new CorruptLogError(0, 'snapshot', 'cannot decode: malformed record');
  }
  return { index, term, conf: { voters, learners }, logStart, logStartTerm };
}

function encodeSnapMeta(s: SnapRecord): Buffer {
  return seal(packr.pack([s.index, s.term, s.conf.voters, s.conf.learners, s.logStart, s.logStartTerm]));
}

/**
 * Decode the entry stored under `k`, which must be the entry `expected` (the log is
 * contiguous) with a term no lower than `prevTerm`. Returns the reason on failure.
 */
function decodeEntry(k: Buffer, v: Buffer, expected: number, prevTerm: number): Entry | string {
  if (k.length !== KEY_LEN) return `malformed key (${k.length} bytes)`;
  const keyIndex = readEntryKey(k);
  if (keyIndex !== expected) return `missing (next key on disk is ${keyIndex})`;
  const r = unpackSealed(v);
  if (typeof r === 'string') return r;
  const [index, term, type, data] = r;
  if (r.length !== 4 || !isIndex(index) || !isIndex(term) || (type !== 0 && type !== 1) || !(data instanceof Uint8Array)) {
    return 'cannot decode: malformed entry';
  }
  if (index !== keyIndex) return `index mismatch: key says ${keyIndex}, value says ${index}`;
  if (term < prevTerm) return `term ${term} is below the previous entry's term ${prevTerm}`;
  return { term, index, type: type === 1 ? 'conf' : 'normal', data: plain(data) };
}

type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/**
 * Append put operations for `ents[from..]` to `ops`. Keys and values of the whole run
 * share two allocations; the msgpack bytes are copied once behind their checksum.
 */
function putEntries(ops: BatchOp[], ents: Entry[], from: number): void {
  const n = ents.length - from;
  const keys = Buffer.allocUnsafe(KEY_LEN * n);
  let size = 0;
  for (let i = from; i < ents.length; i++) size += 4 + ENTRY_OVERHEAD + ents[i]!.data.length;
  const vals = Buffer.allocUnsafe(size);
  let kp = 0;
  let vp = 0;
  for (let i = from; i < ents.length; i++) {
    const e = ents[i]!;
    writeEntryKey(keys, kp, e.index);
    const m = packr.pack([e.index, e.term, e.type === 'conf' ? 1 : 0, e.data]);
    let value: Buffer;
    if (vp + 4 + m.length <= vals.length) {
      vals.writeUInt32BE(crc32(m), vp);
      vals.set(m, vp + 4);
      value = vals.subarray(vp, vp + 4 + m.length);
      vp += 4 + m.length;
    } else {
      value = seal(m); // only if the overhead bound above were ever wrong
    }
    ops.push({ type: 'put', key: keys.subarray(kp, kp + KEY_LEN), value });
    kp += KEY_LEN;
  }
}

// ---------------------------------------------------------------------------------------

type Db = Level<Buffer, Buffer>;

const silent = { info(): void {}, warn(s: string): void { console.warn(s); } };

export class LogStore {
  /** Writes (save, snapshotAndCompact, putMeta) run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Deletes of compacted entries, in order, off the write path. */
  private background: Promise<void> = Promise.resolve();
  private closed = false;
  private fsyncDelayMs: number;
  private readonly logger: { info(s: string): void; warn(s: string): void };

  private constructor(
    private readonly db: Db,
    opts: LogStoreOptions,
    /** What the raft core reads. Written only by this class. */
    readonly memory: MemoryStorage,
    /** True when the store had no hard state / entries / snapshot yet (fresh replica). */
    readonly fresh: boolean,
  ) {
    this.fsyncDelayMs = opts.fsyncDelayMs ?? 0;
    this.logger = opts.logger ?? silent;
  }

  /**
   * Open (or create) the store in `dir`, verify it and load it into memory.
   * Throws {@link CorruptLogError} when committed state cannot be recovered.
   */
  static async open(dir: string, opts: LogStoreOptions = {}): Promise<LogStore> {
    const db: Db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    try {
      const { memory, fresh } = await load(db, opts.logger ?? silent);
      return new LogStore(db, opts, memory, fresh);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Persist a Ready's durable parts in one LevelDB batch, then mirror them into
   * {@link memory}. Must not be called again before the previous call resolved unless
   * the caller accepts that calls are queued (they are: writes never interleave).
   */
  save(
    rd: { hardState?: HardState; entries: Entry[]; snapshot?: Snapshot; conf?: ConfState },
    sync: boolean,
  ): Promise<void> {
    return this.serial(() => this.doSave(rd, sync));
  }

  private async doSave(
    rd: { hardState?: HardState; entries: Entry[]; snapshot?: Snapshot; conf?: ConfState },
    sync: boolean,
  ): Promise<void> {
    const mem = this.memory;
    const memFirst = mem.firstIndex();
    const memLast = mem.lastIndex();
    const ops: BatchOp[] = [];

    // Snapshot: replaces the whole log (MemoryStorage ignores one older than its own).
    let snap: Snapshot | undefined;
    let offset = memFirst - 1; // the dummy entry's index after this step
    let baseLast = memLast; // the last index after this step
    if (rd.snapshot && rd.snapshot.meta.index >= mem.snapshot().meta.index) {
      snap = rd.snapshot;
      const { index, term, conf } = snap.meta;
      ops.push({
        type: 'put',
        key: SNAP_META_KEY,
        value: encodeSnapMeta({ index, term, conf, logStart: index, logStartTerm: term }),
      });
      ops.push({ type: 'put', key: SNAP_DATA_KEY, value: seal(snap.data) });
      // The snapshot's membership is now the current one, unless this Ready says otherwise.
      if (!rd.conf) ops.push({ type: 'put', key: CONF_KEY, value: encodeConfState(conf) });
      offset = index;
      baseLast = index;
    }

    // Entries: written from the first one not compacted; they may overwrite a suffix.
    let newLast = baseLast;
    const ents = rd.entries;
    if (ents.length > 0) {
      const first = ents[0]!.index;
      const last = first + ents.length - 1;
      if (ents[ents.length - 1]!.index !== last) {
        throw new Error(`log store: entries ${first}…${ents[ents.length - 1]!.index} are not contiguous`);
      }
      if (last > offset) {
        const from = first > offset ? 0 : offset + 1 - first;
        if (first + from > baseLast + 1) {
          throw new Error(`log store: missing log entry: last ${baseLast}, append at ${first + from}`);
        }
        for (let i = from + 1; i < ents.length; i++) {
          if (ents[i]!.index !== first + i) throw new Error(`log store: entries are not contiguous at ${first + i}`);
        }
        putEntries(ops, ents, from);
        newLast = last;
      }
    }
    // Stale suffix: keys the memory image holds beyond the new last index.
    for (let i = Math.max(newLast + 1, memFirst); i <= memLast; i++) ops.push({ type: 'del', key: entryKey(i) });

    if (rd.hardState) ops.push({ type: 'put', key: HARD_KEY, value: encodeHardState(rd.hardState) });
    if (rd.conf) ops.push({ type: 'put', key: CONF_KEY, value: encodeConfState(rd.conf) });
    if (ops.length === 0) return;

    await this.write(ops, sync);

    if (snap) mem.applySnapshot(snap);
    if (ents.length > 0) mem.append(ents);
    if (rd.hardState) mem.setHardState(rd.hardState);
    if (rd.conf) mem.setConfState(rd.conf);

    // Entries at or below the snapshot are no longer part of the log; the snapshot record
    // already says so, so an interrupted delete is harmless (open() finishes it).
    if (snap && memFirst <= offset) this.clearInBackground(offset);
  }

  /**
   * Record the application's snapshot at `index` (≤ applied) and compact the log so that
   * only entries after `index - keepEntries` remain. Returns the snapshot now held by
   * {@link memory} (the existing one if it is not older than `index`).
   */
  snapshotAndCompact(index: number, conf: ConfState, data: Uint8Array, keepEntries = 0): Promise<Snapshot> {
    return this.serial(async () => {
      const mem = this.memory;
      const current = mem.snapshot();
      if (index <= current.meta.index) return current;
      if (index > mem.lastIndex()) throw new UnavailableError(index);
      const term = mem.term(index);
      const offset = mem.firstIndex() - 1;
      const logStart = Math.max(offset, index - Math.max(0, Math.floor(keepEntries)));
      const logStartTerm = mem.term(logStart);
      await this.write(
        [
          { type: 'put', key: SNAP_META_KEY, value: encodeSnapMeta({ index, term, conf, logStart, logStartTerm }) },
          { type: 'put', key: SNAP_DATA_KEY, value: seal(data) },
        ],
        true,
      );
      const snap = mem.createSnapshot(index, conf, data);
      mem.compact(logStart);
      if (logStart > offset) this.clearInBackground(logStart);
      return snap;
    });
  }

  /**
   * The replica's LevelDB, for the application's own state beside the log (keys with a
   * first byte of 0x10 or above; the log uses 0x01..0x06). Writes through it are not
   * ordered with this store's writes.
   */
  get database(): Db {
    return this.db;
  }

  /** Application metadata (e.g. cluster id, member addresses) kept beside the log. */
  async getMeta(key: string): Promise<Uint8Array | undefined> {
    if (this.closed) throw new Error('log store: closed');
    const v = await this.db.get(metaKey(key));
    if (v === undefined) return undefined;
    const payload = unseal(v);
    if (typeof payload === 'string') throw new CorruptLogError(0, `meta "${key}"`, payload);
    return plain(payload);
  }

  /** Store application metadata (synced). */
  putMeta(key: string, value: Uint8Array): Promise<void> {
    const k = metaKey(key);
    return this.serial(() => this.write([{ type: 'put', key: k, value: seal(value) }], true));
  }

  /** Test hook (chaos "slow disk"): change the delay added to every synced write from now on. */
  setFsyncDelay(ms: number): void {
    this.fsyncDelayMs = Math.max(0, ms);
  }

  /** Wait for queued writes, then close the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.background;
    await this.db.close();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('log store: closed'));
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async write(ops: BatchOp[], sync: boolean): Promise<void> {
    // A chained batch costs about a third of an array batch per operation in
    // abstract-level (no per-op validation pass): this is the hot path of every Ready.
    const batch = this.db.batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    await batch.write({ sync });
    if (sync && this.fsyncDelayMs > 0) await sleep(this.fsyncDelayMs);
  }

  /**
   * Delete compacted entry keys without holding up the writes queued behind: those keys
   * are never written again (the log only grows past the snapshot), and the snapshot
   * record already says they are gone, so open() finishes an interrupted delete.
   */
  private clearInBackground(index: number): void {
    this.background = this.background.then(() => this.clearEntriesThrough(index));
  }

  private async clearEntriesThrough(index: number): Promise<void> {
    try {
      await this.db.clear({ gte: ENTRY_START, lt: entryKey(index + 1) });
    } catch (err) {
      this.logger.warn(`raft log: could not delete compacted entries through ${index}: ${(err as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Loading

async function load(db: Db, logger: { warn(s: string): void }): Promise<{ memory: MemoryStorage; fresh: boolean }> {
  const [hardV, confV, metaV, dataV] = await db.getMany([HARD_KEY, CONF_KEY, SNAP_META_KEY, SNAP_DATA_KEY]);
  const hard = hardV === undefined ? undefined : decodeHardState(hardV);
  const conf = confV === undefined ? undefined : decodeConfState(confV);

  let snap: Snapshot | undefined;
  let logStart = 0;
  let logStartTerm = 0;
  if (metaV !== undefined) {
    const m = decodeSnapMeta(metaV);
    if (dataV === undefined) throw new CorruptLogError(m.index, 'snapshot', 'data is missing');
    const data = unseal(dataV);
    if (typeof data === 'string') throw new CorruptLogError(m.index, 'snapshot', `data: ${data}`);
    snap = { meta: { index: m.index, term: m.term, conf: m.conf }, data: plain(data) };
    logStart = m.logStart;
    logStartTerm = m.logStartTerm;
  } else if (dataV !== undefined) {
    throw new CorruptLogError(0, 'snapshot', 'data present without metadata');
  }

  // Entries after logStart, in key order, contiguous, each verified.
  const ents: Entry[] = [];
  let expected = logStart + 1;
  let prevTerm = logStartTerm;
  let bad: { index: number; reason: string } | undefined;
  const it = db.iterator({ gt: entryKey(logStart), lt: ENTRY_END });
  try {
    scan: for (;;) {
      const chunk = await it.nextv(1024);
      if (chunk.length === 0) break;
      for (const [k, v] of chunk) {
        const e = decodeEntry(k, v, expected, prevTerm);
        if (typeof e === 'string') {
          bad = { index: expected, reason: e };
          break scan;
        }
        ents.push(e);
        prevTerm = e.term;
        expected++;
      }
    }
  } finally {
    await it.close();
  }
  const lastIndex = expected - 1;

  // Never serve a log that forgot what was committed, or that ends before its snapshot.
  if (hard && hard.commit > lastIndex) {
    throw new CorruptLogError(
      bad ? bad.index : lastIndex + 1,
      'entry',
      `${bad ? bad.reason : 'missing'}; entries through ${hard.commit} are committed but the log ends at ${lastIndex}`,
    );
  }
  if (snap && lastIndex < snap.meta.index) {
    throw new CorruptLogError(
      bad ? bad.index : lastIndex + 1,
      'entry',
      `${bad ? bad.reason : 'missing'}; the log ends at ${lastIndex}, before its snapshot at ${snap.meta.index}`,
    );
  }
  if (bad) {
    logger.warn(`raft log: entry ${bad.index} is corrupt (${bad.reason}); truncating the log to ${lastIndex}`);
    await db.clear({ gte: entryKey(bad.index), lt: ENTRY_END });
  }
  // Leftovers of an interrupted compaction.
  if (logStart > 0) await db.clear({ gte: ENTRY_START, lt: entryKey(logStart + 1) });

  const memory = new MemoryStorage();
  if (snap) {
    if (logStart === snap.meta.index) {
      if (logStartTerm !== snap.meta.term) {
        throw new CorruptLogError(snap.meta.index, 'snapshot', `log start term ${logStartTerm} differs from term ${snap.meta.term}`);
      }
      memory.applySnapshot(snap);
      memory.append(ents);
    } else {
      // Entries were kept behind the snapshot: start the log at logStart, then record it.
      memory.applySnapshot({
        meta: { index: logStart, term: logStartTerm, conf: snap.meta.conf },
        data: new Uint8Array(),
      });
      memory.append(ents);
      const made = memory.createSnapshot(snap.meta.index, snap.meta.conf, snap.data);
      if (made.meta.term !== snap.meta.term) {
        throw new CorruptLogError(
          snap.meta.index,
          'snapshot',
          `term ${snap.meta.term} differs from the log's term ${made.meta.term} at that index`,
        );
      }
    }
  } else {
    memory.append(ents);
  }
  if (hard) memory.setHardState(hard);
  memory.setConfState(conf ?? snap?.meta.conf ?? { voters: [], learners: [] });

  const fresh = !hard && !conf && !snap && ents.length === 0 && !bad;
  return { memory, fresh };
}

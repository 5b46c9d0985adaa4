import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Level } from 'level';
import { pack } from 'msgpackr';
import { CorruptLogError, LogStore } from '../src/raft/log-store.ts';
import type { ConfState, Entry, EntryType, Snapshot } from '../src/raft/types.ts';

// ---------------------------------------------------------------------------------------
// Helpers

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-log-store-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function ent(index: number, term: number, data: number[] = [index & 0xff, term & 0xff], type: EntryType = 'normal'): Entry {
  return { index, term, type, data: new Uint8Array(data) };
}

function range(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(ent(i, term));
  return out;
}

function captureLogger(): { warnings: string[]; logger: { info(s: string): void; warn(s: string): void } } {
  const warnings: string[] = [];
  return { warnings, logger: { info: () => undefined, warn: (s) => warnings.push(s) } };
}

/** The raw LevelDB handle on the same directory (the store must be closed). */
async function raw<T>(dir: string, fn: (db: Level<Buffer, Buffer>) => Promise<T>): Promise<T> {
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function entryKey(index: number): Buffer {
  const k = Buffer.alloc(9);
  k[0] = 0x01;
  k.writeBigUInt64BE(BigInt(index), 1);
  return k;
}

/** Indexes of the entry keys present on disk. */
async function diskEntryIndexes(dir: string): Promise<number[]> {
  return raw(dir, async (db) => {
    const out: number[] = [];
    for await (const k of db.keys({ gte: Buffer.from([0x01]), lt: Buffer.from([0x02]) })) {
      out.push(Number(k.readBigUInt64BE(1)));
    }
    return out;
  });
}

function sealed(payload: Uint8Array): Buffer {
  const v = Buffer.alloc(4 + payload.length);
  v.writeUInt32BE(crc32(payload), 0);
  v.set(payload, 4);
  return v;
}

function allEntries(store: LogStore): Entry[] {
  const m = store.memory;
  if (m.lastIndex() < m.firstIndex()) return [];
  return m.entries(m.firstIndex(), m.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
}

function terms(store: LogStore): number[] {
  return allEntries(store).map((e) => e.term);
}

const conf3: ConfState = { voters: [1, 2, 3], learners: [] };

// ---------------------------------------------------------------------------------------

test('an empty store is fresh', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  t.true(s.fresh);
  t.is(s.memory.lastIndex(), 0);
  t.is(s.memory.firstIndex(), 1);
  t.deepEqual(s.memory.initialState(), { hardState: { term: 0, vote: 0, commit: 0 }, conf: { voters: [], learners: [] } });
  await s.close();

  // Metadata alone does not make a replica non-fresh; a hard state does.
  const s2 = await LogStore.open(dir);
  t.true(s2.fresh);
  await s2.putMeta('cluster', new Uint8Array([1]));
  await s2.close();
  const s3 = await LogStore.open(dir);
  t.true(s3.fresh);
  await s3.save({ hardState: { term: 1, vote: 0, commit: 0 }, entries: [] }, true);
  await s3.close();
  const s4 = await LogStore.open(dir);
  t.false(s4.fresh);
  await s4.close();
});

test('save and reopen round-trips entries, hard state and conf', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  const ents: Entry[] = [
    ent(1, 1, []),
    ent(2, 1, [0, 255, 7, 0]),
    ent(3, 2, [9, 9], 'conf'),
    ent(4, 2, Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff)),
  ];
  await s.save({ hardState: { term: 2, vote: 3, commit: 3 }, entries: ents, conf: conf3 }, true);
  t.deepEqual(allEntries(s), ents); // mirrored into memory
  await s.save({ hardState: { term: 2, vote: 3, commit: 4 }, entries: [ent(5, 2)] }, false);
  await s.close();

  const r = await LogStore.open(dir);
  t.false(r.fresh);
  t.is(r.memory.firstIndex(), 1);
  t.is(r.memory.lastIndex(), 5);
  const loaded = allEntries(r);
  t.deepEqual(loaded, [...ents, ent(5, 2)]);
  for (const e of loaded) t.is(e.data.constructor, Uint8Array);
  t.is(loaded[2]!.type, 'conf');
  t.deepEqual(r.memory.initialState(), { hardState: { term: 2, vote: 3, commit: 4 }, conf: conf3 });
  await r.close();
});

test('saves issued without waiting are applied in order', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  const a = s.save({ entries: range(1, 3, 1) }, true);
  const b = s.save({ entries: range(4, 6, 1), hardState: { term: 1, vote: 1, commit: 2 } }, true);
  const c = s.save({ entries: range(5, 5, 2), hardState: { term: 2, vote: 1, commit: 3 } }, true);
  await Promise.all([a, b, c]);
  t.deepEqual(terms(s), [1, 1, 1, 1, 2]);
  await s.close();
  // Entry 6 (written by b) must have been deleted by c, which saw b's result.
  t.deepEqual(await diskEntryIndexes(dir), [1, 2, 3, 4, 5]);
  const r = await LogStore.open(dir);
  t.deepEqual(terms(r), [1, 1, 1, 1, 2]);
  t.is(r.memory.hardState().commit, 3);
  await r.close();
});

test('entries overwrite a conflicting suffix', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ hardState: { term: 1, vote: 1, commit: 3 }, entries: range(1, 10, 1) }, true);
  await s.save({ hardState: { term: 2, vote: 2, commit: 3 }, entries: range(6, 7, 2) }, true);
  t.is(s.memory.lastIndex(), 7);
  await s.close();

  t.deepEqual(await diskEntryIndexes(dir), [1, 2, 3, 4, 5, 6, 7]);
  const r = await LogStore.open(dir);
  t.is(r.memory.lastIndex(), 7);
  t.deepEqual(terms(r), [1, 1, 1, 1, 1, 2, 2]);
  // Appending past the end after the overwrite continues normally.
  await r.save({ entries: range(8, 8, 2) }, true);
  await r.close();
  const r2 = await LogStore.open(dir);
  t.deepEqual(terms(r2), [1, 1, 1, 1, 1, 2, 2, 2]);
  await r2.close();
});

test('save refuses entries that would leave a gap, and writes nothing', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ entries: range(1, 3, 1) }, true);
  await t.throwsAsync(s.save({ entries: range(5, 6, 1), hardState: { term: 9, vote: 0, commit: 0 } }, true), {
    message: /missing log entry/,
  });
  t.is(s.memory.lastIndex(), 3);
  await s.save({ entries: range(4, 4, 1) }, true); // the store is still usable
  await s.close();
  const r = await LogStore.open(dir);
  t.is(r.memory.lastIndex(), 4);
  t.is(r.memory.hardState().term, 0);
  await r.close();
});

test('a received snapshot replaces the log and survives a restart', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ hardState: { term: 1, vote: 1, commit: 2 }, entries: range(1, 10, 1), conf: { voters: [1], learners: [] } }, true);
  const snap: Snapshot = { meta: { index: 20, term: 3, conf: conf3 }, data: new Uint8Array([4, 5, 6]) };
  await s.save({ snapshot: snap, entries: range(21, 22, 3), hardState: { term: 3, vote: 0, commit: 21 } }, true);
  t.is(s.memory.firstIndex(), 21);
  t.is(s.memory.lastIndex(), 22);
  await s.close();

  t.deepEqual(await diskEntryIndexes(dir), [21, 22]);
  const r = await LogStore.open(dir);
  t.is(r.memory.firstIndex(), 21);
  t.is(r.memory.lastIndex(), 22);
  t.is(r.memory.term(20), 3);
  t.deepEqual(r.memory.snapshot().meta, snap.meta);
  t.deepEqual(r.memory.snapshot().data, new Uint8Array([4, 5, 6]));
  t.is(r.memory.snapshot().data.constructor, Uint8Array);
  // No conf was given with the snapshot: the snapshot's membership replaces the old one.
  t.deepEqual(r.memory.initialState(), { hardState: { term: 3, vote: 0, commit: 21 }, conf: conf3 });
  await r.close();
});

test('a snapshot inside the log drops the entries after it too', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ entries: range(1, 10, 1) }, true);
  const snap: Snapshot = { meta: { index: 5, term: 2, conf: conf3 }, data: new Uint8Array([1]) };
  await s.save({ snapshot: snap, entries: [], conf: { voters: [1, 2], learners: [3] } }, true);
  await s.close();
  t.deepEqual(await diskEntryIndexes(dir), []);
  const r = await LogStore.open(dir);
  t.is(r.memory.firstIndex(), 6);
  t.is(r.memory.lastIndex(), 5);
  t.is(r.memory.term(5), 2);
  t.deepEqual(r.memory.initialState().conf, { voters: [1, 2], learners: [3] });
  await r.close();
});

test('snapshotAndCompact keeps entries after index - keepEntries, across a restart', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  const ents = [...range(1, 8, 1), ...range(9, 20, 2)];
  await s.save({ hardState: { term: 2, vote: 1, commit: 20 }, entries: ents, conf: conf3 }, true);
  const snap = await s.snapshotAndCompact(15, conf3, new Uint8Array([7, 7, 7]), 5);
  t.deepEqual(snap.meta, { index: 15, term: 2, conf: conf3 });
  t.is(s.memory.firstIndex(), 11);
  // An older snapshot request is a no-op that returns the current snapshot.
  t.is((await s.snapshotAndCompact(12, conf3, new Uint8Array([1]))).meta.index, 15);
  await s.close();

  t.deepEqual(await diskEntryIndexes(dir), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  const r = await LogStore.open(dir);
  t.is(r.memory.firstIndex(), 11);
  t.is(r.memory.lastIndex(), 20);
  t.is(r.memory.term(10), 2);
  t.deepEqual(r.memory.snapshot().meta, { index: 15, term: 2, conf: conf3 });
  t.deepEqual(r.memory.snapshot().data, new Uint8Array([7, 7, 7]));
  t.deepEqual(allEntries(r), ents.slice(10));

  // Compact fully at 18 (crossing into term 2), then keep writing.
  await r.snapshotAndCompact(18, conf3, new Uint8Array([8]));
  t.is(r.memory.firstIndex(), 19);
  await r.save({ entries: range(21, 21, 3), hardState: { term: 3, vote: 1, commit: 21 } }, true);
  await r.close();

  t.deepEqual(await diskEntryIndexes(dir), [19, 20, 21]);
  const r2 = await LogStore.open(dir);
  t.is(r2.memory.firstIndex(), 19);
  t.is(r2.memory.term(18), 2);
  t.is(r2.memory.term(21), 3);
  t.throws(() => r2.memory.term(17), { name: 'CompactedError' });
  t.deepEqual(r2.memory.snapshot().data, new Uint8Array([8]));
  await r2.close();
});

test('snapshotAndCompact beyond the last index is refused', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ entries: range(1, 3, 1) }, true);
  await t.throwsAsync(s.snapshotAndCompact(4, conf3, new Uint8Array()), { name: 'UnavailableError' });
  t.is(s.memory.snapshot().meta.index, 0);
  await s.close();
});

test('a flipped byte in an uncommitted entry truncates the log before it', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ hardState: { term: 1, vote: 1, commit: 5 }, entries: range(1, 10, 1) }, true);
  await s.close();
  await raw(dir, async (db) => {
    const v = Buffer.from((await db.get(entryKey(8)))!);
    v[v.length - 1]! ^= 0x40;
    await db.put(entryKey(8), v);
  });

  const { warnings, logger } = captureLogger();
  const r = await LogStore.open(dir, { logger });
  t.is(r.memory.lastIndex(), 7);
  t.deepEqual(terms(r), [1, 1, 1, 1, 1, 1, 1]);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /entry 8 .*checksum/);
  // The log continues from the truncation point.
  await r.save({ entries: range(8, 8, 2) }, true);
  await r.close();

  t.deepEqual(await diskEntryIndexes(dir), [1, 2, 3, 4, 5, 6, 7, 8]);
  const r2 = await LogStore.open(dir);
  t.deepEqual(terms(r2), [1, 1, 1, 1, 1, 1, 1, 2]);
  await r2.close();
});

test('a corrupt committed entry is a CorruptLogError and the disk is left alone', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ hardState: { term: 1, vote: 1, commit: 9 }, entries: range(1, 10, 1) }, true);
  await s.close();
  await raw(dir, async (db) => {
    const v = Buffer.from((await db.get(entryKey(8)))!);
    v[6]! ^= 0x01;
    await db.put(entryKey(8), v);
  });

  const err = await t.throwsAsync(LogStore.open(dir, { logger: captureLogger().logger }), { instanceOf: CorruptLogError });
  t.is(err!.name, 'CorruptLogError');
  t.is((err as CorruptLogError).index, 8);
  t.regex(err!.message, /\b8\b/);
  t.deepEqual(await diskEntryIndexes(dir), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // The failed open released the database: it refuses again, the same way.
  await t.throwsAsync(LogStore.open(dir, { logger: captureLogger().logger }), { instanceOf: CorruptLogError });
});

test('a value whose index differs from its key is not served', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ hardState: { term: 1, vote: 1, commit: 4 }, entries: range(1, 8, 1) }, true);
  await s.close();
  // A well-formed, correctly checksummed entry 7 stored under key 6.
  await raw(dir, (db) => db.put(entryKey(6), sealed(pack([7, 1, 0, new Uint8Array([1])]))));

  const { warnings, logger } = captureLogger();
  const r = await LogStore.open(dir, { logger });
  t.is(r.memory.lastIndex(), 5);
  t.regex(warnings.join('\n'), /entry 6 .*index mismatch/);
  await r.close();
  t.deepEqual(await diskEntryIndexes(dir), [1, 2, 3, 4, 5]);
});

test('a gap or an undecodable value truncates at the first bad index', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ hardState: { term: 1, vote: 1, commit: 2 }, entries: range(1, 8, 1) }, true);
  await s.close();
  await raw(dir, async (db) => {
    await db.put(entryKey(7), sealed(new Uint8Array([0xc1, 0xc1]))); // right checksum, not msgpack
    await db.del(entryKey(5));
  });
  const { warnings, logger } = captureLogger();
  const r = await LogStore.open(dir, { logger });
  t.is(r.memory.lastIndex(), 4);
  t.regex(warnings.join('\n'), /entry 5 .*missing/);
  await r.close();
  t.deepEqual(await diskEntryIndexes(dir), [1, 2, 3, 4]);

  const dir2 = tempDir(t);
  const s2 = await LogStore.open(dir2);
  await s2.save({ entries: range(1, 8, 1) }, true);
  await s2.close();
  await raw(dir2, (db) => db.put(entryKey(7), sealed(new Uint8Array([0xc1, 0xc1]))));
  const c = captureLogger();
  const r2 = await LogStore.open(dir2, { logger: c.logger });
  t.is(r2.memory.lastIndex(), 6);
  t.regex(c.warnings.join('\n'), /entry 7 .*cannot decode/);
  await r2.close();
});

test('a corrupt hard state or snapshot is a CorruptLogError', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  await s.save({ hardState: { term: 1, vote: 1, commit: 5 }, entries: range(1, 10, 1) }, true);
  await s.snapshotAndCompact(5, conf3, new Uint8Array([1, 2, 3]));
  await s.close();

  for (const key of [0x02, 0x04, 0x05]) {
    const copy = tempDir(t);
    fs.cpSync(dir, copy, { recursive: true });
    await raw(copy, async (db) => {
      const v = Buffer.from((await db.get(Buffer.from([key])))!);
      v[v.length - 1]! ^= 0x80;
      await db.put(Buffer.from([key]), v);
    });
    const err = await t.throwsAsync(LogStore.open(copy), { instanceOf: CorruptLogError });
    t.regex(err!.message, key === 0x02 ? /hard state/ : /snapshot/);
  }
  // The untouched original still opens.
  const r = await LogStore.open(dir);
  t.is(r.memory.firstIndex(), 6);
  await r.close();
});

test('getMeta / putMeta', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir);
  t.is(await s.getMeta('cluster-id'), undefined);
  await s.putMeta('cluster-id', new Uint8Array([1, 2, 3]));
  await s.putMeta('members', Buffer.from('{"1":"a:1"}'));
  await s.putMeta('cluster-id', new Uint8Array([4, 5]));
  t.deepEqual(await s.getMeta('cluster-id'), new Uint8Array([4, 5]));
  await s.close();

  const r = await LogStore.open(dir);
  t.true(r.fresh);
  t.deepEqual(await r.getMeta('cluster-id'), new Uint8Array([4, 5]));
  const m = await r.getMeta('members');
  t.is(m!.constructor, Uint8Array);
  t.is(Buffer.from(m!).toString(), '{"1":"a:1"}');
  t.is(await r.getMeta('cluster'), undefined);
  t.is(r.memory.lastIndex(), 0); // metadata keys are not mistaken for entries
  await r.close();
});

test('fsyncDelayMs still persists every synced write', async (t) => {
  const dir = tempDir(t);
  const s = await LogStore.open(dir, { fsyncDelayMs: 5 });
  await s.save({ hardState: { term: 1, vote: 1, commit: 1 }, entries: range(1, 2, 1) }, true);
  await s.save({ entries: range(3, 3, 1) }, false);
  await s.close();
  const r = await LogStore.open(dir);
  t.is(r.memory.lastIndex(), 3);
  await r.close();
});

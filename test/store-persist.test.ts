import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { pack } from 'msgpackr';
import {
  CorruptStoreError,
  inflateSnapshot,
  encodeCommand,
  LevelKV,
  MemoryKV,
  ObjectStore,
  type Command,
  type StoredObject,
  type WatchEvent,
} from '../src/store/index.ts';
import { EntryFeeder, testKindInfo } from '../src/store/testing.ts';

const NOW = '2025-03-01T10:00:00Z';

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-store-persist-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openLevel(dir: string): Promise<Level<Buffer, Buffer>> {
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return db;
}

function cm(name: string, ns = 'default', data: Record<string, string> = { k: name }): StoredObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, uid: `uid-${ns}-${name}`, labels: { n: name } }, data };
}

/** Everything a store holds, as plain data, for comparing two stores. */
function dump(store: ObjectStore): unknown {
  const out: Record<string, unknown[]> = {};
  for (const kind of Object.keys(store.counts()).sort()) out[kind] = store.list({ kind }).items;
  return { applied: store.appliedIndex(), objects: out };
}

function someCommands(n: number): Command[] {
  const cmds: Command[] = [];
  for (let i = 0; i < n; i++) {
    const name = `c${i % 7}`;
    if (i % 5 === 4) cmds.push({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name, now: NOW });
    else if (i % 3 === 0) cmds.push({ op: 'create', object: cm(name), now: NOW });
    else cmds.push({ op: 'update', object: cm(name, 'default', { k: `v${i}` }), now: NOW });
  }
  cmds.push({ op: 'create', object: { kind: 'Node', metadata: { name: 'n1', uid: 'n1' }, status: { ready: true } }, now: NOW });
  return cmds;
}

test('restart on LevelDB keeps objects and the applied index; entries handed again are skipped', async (t) => {
  const dir = tempDir(t);
  const cmds = someCommands(40);
  const entries = cmds.map((c, i) => ({ index: i + 1, data: encodeCommand(c) }));

  let db = await openLevel(dir);
  let store = await ObjectStore.open(new LevelKV(db), { kindInfo: testKindInfo });
  await store.applyEntries(entries.slice(0, 25));
  const mid = dump(store);
  await store.close();
  await db.close();

  db = await openLevel(dir);
  store = await ObjectStore.open(new LevelKV(db), { kindInfo: testKindInfo });
  t.is(store.appliedIndex(), 25);
  t.deepEqual(dump(store), mid);
  // The Raft driver re-applies from an older point: everything up to 25 is skipped.
  const results = await store.applyEntries(entries.slice(10));
  t.true(results.slice(0, 15).every((r) => !r.ok && r.code === 'Gone'));
  const final = dump(store);
  await store.close();
  await db.close();

  // The same entries applied in one go to a fresh in-memory store give the same state.
  const ref = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  await ref.applyEntries(entries);
  t.deepEqual(final, dump(ref));

  db = await openLevel(dir);
  store = await ObjectStore.open(new LevelKV(db), { kindInfo: testKindInfo, warmUp: false });
  t.true(store.undecodedCount() > 0, 'objects load as bytes and decode on first use');
  t.deepEqual(dump(store), final);
  t.is(store.undecodedCount(), 0);
  await store.close();
  await db.close();
});

test('LevelKV under a key prefix and on a sublevel stays inside its range', async (t) => {
  const dir = tempDir(t);
  const db = await openLevel(dir);
  t.teardown(() => db.close());
  await db.put(Buffer.from([0x01, 0x00]), Buffer.from('raft entry'));
  await db.put(Buffer.from([0xff]), Buffer.from('someone else'));
  const prefixed = new LevelKV(db, new Uint8Array([0x10]));
  const sub = new LevelKV(db.sublevel<Buffer, Buffer>('store', { keyEncoding: 'buffer', valueEncoding: 'buffer' }));
  for (const kv of [prefixed, sub]) {
    const store = await ObjectStore.open(kv, { kindInfo: testKindInfo });
    await new EntryFeeder(store).apply({ op: 'create', object: cm('a'), now: NOW }, { op: 'create', object: cm('b'), now: NOW });
    const snap = await store.snapshot();
    await store.restore(snap, 9);
    await store.close();
    const again = await ObjectStore.open(kv, { kindInfo: testKindInfo });
    t.is(again.appliedIndex(), 9);
    t.is(again.list({ kind: 'ConfigMap' }).items.length, 2);
  }
  t.deepEqual(await db.get(Buffer.from([0x01, 0x00])), Buffer.from('raft entry'));
  t.deepEqual(await db.get(Buffer.from([0xff])), Buffer.from('someone else'));
});

test('snapshot/restore round trip into a fresh store; restore replaces everything and ends watches', async (t) => {
  const src = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  await src.applyEntries(someCommands(60).map((c, i) => ({ index: i + 1, data: encodeCommand(c) })));
  const snap = await src.snapshot();

  const kv = new MemoryKV();
  const dst = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  const feed = new EntryFeeder(dst);
  await feed.apply({ op: 'create', object: cm('stale', 'old'), now: NOW }, { op: 'create', object: cm('c1'), now: NOW });
  const events: WatchEvent[] = [];
  dst.watch({ kind: 'ConfigMap' }, (e) => events.push(e));
  const restored: number[] = [];
  dst.onApplied((i) => i.restored && restored.push(i.index));

  // The Raft snapshot index may be past the store's own (entries without data never reach it).
  await dst.restore(snap, 70);
  t.is(dst.appliedIndex(), 70);
  t.deepEqual(restored, [70]);
  t.deepEqual(dump(dst), { ...(dump(src) as object), applied: 70 });
  t.is(dst.get('ConfigMap', 'old', 'stale'), undefined);
  t.is(events.length, 1);
  t.is(events[0]!.type, 'ERROR');
  t.is(dst.oldestResourceVersion(), 70);

  const reopened = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  t.deepEqual(dump(reopened), dump(dst));
  // Applying continues after the snapshot index.
  const r = await reopened.applyEntries([{ index: 71, data: encodeCommand({ op: 'create', object: cm('new'), now: NOW }) }]);
  t.true(r[0]!.ok);

  await t.throwsAsync(dst.restore(snap, 5), { instanceOf: CorruptStoreError, message: /taken at 61, after its index 5/ });
  await t.throwsAsync(dst.restore(new Uint8Array([1, 2, 3]), 100), { instanceOf: CorruptStoreError });
  await t.throwsAsync(dst.restore(Buffer.concat([Buffer.from('BSZ1'), Buffer.from([1, 2, 3])]), 100), { instanceOf: CorruptStoreError, message: /compressed data is not readable/ });
});

test('snapshots are compressed; the uncompressed form older replicas wrote still restores', async (t) => {
  const src = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  await src.applyEntries(someCommands(60).map((c, i) => ({ index: i + 1, data: encodeCommand(c) })));
  const snap = await src.snapshot();
  const plain = await inflateSnapshot(snap);
  t.true(snap.length < plain.length / 2, `${snap.length} bytes for ${plain.length}`);
  t.is(plain[0], 0x83, 'a msgpack map inside');
  for (const data of [snap, plain]) {
    const dst = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
    await dst.restore(data, 61);
    t.deepEqual(dump(dst), dump(src));
  }
});

test('an interrupted restore is detected at open: the store starts empty and says so', async (t) => {
  const kv = new MemoryKV();
  const store = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  await new EntryFeeder(store).apply({ op: 'create', object: cm('a'), now: NOW });
  // What a crash after restore's first step leaves behind: the marker, no applied index.
  await kv.batch([{ type: 'put', key: new Uint8Array([0x02]), value: new Uint8Array([1]) }, { type: 'del', key: new Uint8Array([0x01]) }], false);
  const again = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  t.true(again.recoveredFromInterruptedRestore);
  t.is(again.appliedIndex(), 0);
  t.deepEqual(again.counts(), {});
  t.is(kv.size, 0);
});

test('a corrupt record is reported with its key, not silently dropped', async (t) => {
  const kv = new MemoryKV();
  const store = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  await new EntryFeeder(store).apply({ op: 'create', object: cm('a'), now: NOW });
  const key = new Uint8Array([0x03, ...Buffer.from('ConfigMap\u0000default\u0000a')]);
  await kv.batch([{ type: 'put', key, value: new Uint8Array(pack({ kind: 'ConfigMap', metadata: { name: 'other', namespace: 'default' } })) }], false);
  const again = await ObjectStore.open(kv, { kindInfo: testKindInfo, warmUp: false });
  t.throws(() => again.get('ConfigMap', 'default', 'a'), { instanceOf: CorruptStoreError, message: /ConfigMap "default\/a" does not hold that object/ });
  await kv.batch([{ type: 'put', key: new Uint8Array([0x01]), value: new Uint8Array([0xc1]) }], false);
  await t.throwsAsync(ObjectStore.open(kv, { kindInfo: testKindInfo }), { instanceOf: CorruptStoreError });
});

test('a failed KV write stops the store; reopened on the KV, it applies the same entries again', async (t) => {
  const kv = new MemoryKV();
  const warnings: string[] = [];
  const store = await ObjectStore.open(kv, { kindInfo: testKindInfo, logger: { warn: (s) => warnings.push(s) } });
  const feed = new EntryFeeder(store);
  await feed.apply({ op: 'create', object: cm('a'), now: NOW });
  await store.flush();
  const events: WatchEvent[] = [];
  store.watch({}, (e) => events.push(e));
  const real = kv.batch.bind(kv);
  kv.batch = async () => {
    throw new Error('disk full');
  };
  const entries = [{ index: 2, data: encodeCommand({ op: 'update', object: cm('a', 'default', { k: 'new' }), now: NOW }) }];
  // The KV is written behind memory: the entry is applied (it is committed in the Raft
  // log), and the failed write then fails the store.
  t.true((await store.applyEntries(entries))[0]!.ok);
  t.deepEqual(events.map((e) => e.type), ['MODIFIED']);
  await t.throwsAsync(store.flush(), { message: 'disk full' });
  await t.throwsAsync(store.applyEntries([{ index: 3, data: new Uint8Array() }]), { message: 'disk full' });
  await t.throwsAsync(store.snapshot(), { message: 'disk full' });
  t.is(store.appliedIndex(), 2);
  t.true(warnings.some((w) => /writing to the KV failed.*disk full/.test(w)));
  // The KV still holds the state as of index 1; a store reopened on it takes entry 2 again.
  kv.batch = real;
  const reopened = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  t.is(reopened.appliedIndex(), 1);
  t.deepEqual(reopened.get('ConfigMap', 'default', 'a')!.data, { k: 'a' });
  t.true((await reopened.applyEntries(entries))[0]!.ok);
  t.deepEqual(reopened.get('ConfigMap', 'default', 'a')!.data, { k: 'new' });
  await reopened.flush();
  t.is((await ObjectStore.open(kv, { kindInfo: testKindInfo })).appliedIndex(), 2);
});

test('the KV is written behind memory: applied changes reach it by flush(), coalesced, and a reopened store sees them', async (t) => {
  const kv = new MemoryKV();
  const store = await ObjectStore.open(kv, { kindInfo: testKindInfo, applyChunking: { maxEntries: 1, budgetMs: 1e9 } });
  const before = kv.batches;
  // Five one-entry chunks, the same object changed in each: memory moves at once, the KV
  // in at most as many batches, ending with the last state.
  const cmds: Command[] = [{ op: 'create', object: cm('a', 'default', { v: '0' }), now: NOW }];
  for (let i = 1; i < 5; i++) cmds.push({ op: 'update', object: cm('a', 'default', { v: String(i) }), now: NOW });
  const r = await store.applyEntries(cmds.map((c, i) => ({ index: i + 1, data: encodeCommand(c) })));
  t.true(r.every((x) => x.ok));
  t.is(store.appliedIndex(), 5);
  await store.flush();
  t.true(kv.batches - before >= 1 && kv.batches - before <= 5);
  const reopened = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  t.is(reopened.appliedIndex(), 5);
  t.deepEqual(reopened.get('ConfigMap', 'default', 'a')!.data, { v: '4' });
  // A snapshot waits for the KV: taken right after applying, the KV already holds its state.
  await store.applyEntries([{ index: 6, data: encodeCommand({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'a', now: NOW }) }]);
  await store.snapshot();
  const again = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  t.is(again.appliedIndex(), 6);
  t.is(again.get('ConfigMap', 'default', 'a'), undefined);
});

test('without the decoded cache, objects live as their stored bytes and read back the same', async (t) => {
  const cached = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const compact = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo, cacheDecoded: false });
  const cmds: Command[] = [
    ...Array.from({ length: 50 }, (_, i): Command => ({ op: 'create', object: cm(`c${i}`, 'default', { v: String(i) }), now: '2026-01-01T00:00:00Z' })),
    { op: 'update', object: cm('c7', 'default', { v: 'changed' }), now: '2026-01-01T00:00:01Z' },
    { op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'c9', now: '2026-01-01T00:00:02Z' },
  ];
  const entries = cmds.map((c, i) => ({ index: i + 1, data: encodeCommand(c) }));
  t.deepEqual(await compact.applyEntries(entries), await cached.applyEntries(entries));
  t.deepEqual(compact.list({ kind: 'ConfigMap' }).items, cached.list({ kind: 'ConfigMap' }).items);
  t.is((compact.get('ConfigMap', 'default', 'c7') as { data?: Record<string, string> } | undefined)?.data?.v, 'changed');
  t.true(Object.isFrozen(compact.get('ConfigMap', 'default', 'c7')));
  // Reading does not turn the bytes into cached objects.
  t.is(compact.undecodedCount(), 49);
  t.is(cached.undecodedCount(), 0);
  t.deepEqual(Buffer.from(await compact.snapshot()), Buffer.from(await cached.snapshot()));
});

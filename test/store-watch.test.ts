import test from 'ava';
import {
  InvalidResourceVersionError,
  MemoryKV,
  ObjectStore,
  TooOldResourceVersionError,
  type Command,
  type StoredObject,
  type WatchEvent,
} from '../src/store/index.ts';
import { EntryFeeder, testKindInfo } from '../src/store/testing.ts';

const NOW = '2025-03-01T10:00:00Z';

/** A small deterministic PRNG (mulberry32), so every run sees the same sequence. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function cm(name: string, ns: string, labels: Record<string, string>, v: string): StoredObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, uid: `uid-${ns}-${name}`, labels }, data: { v } };
}

function pod(name: string, ns: string, phase: string): StoredObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, uid: `uid-${ns}-${name}` }, spec: { containers: [] }, status: { phase } };
}

/** A random command over a small name space, so creates, updates and deletes collide often. */
function randomCommand(r: () => number, i: number): Command {
  const ns = r() < 0.5 ? 'a' : 'b';
  const name = `o${Math.floor(r() * 12)}`;
  const labels = { app: r() < 0.5 ? 'web' : 'db' };
  const x = r();
  if (x < 0.3) return { op: 'create', object: cm(name, ns, labels, `v${i}`), now: NOW };
  if (x < 0.55) return { op: 'update', object: cm(name, ns, labels, `v${i}`), now: NOW };
  if (x < 0.7) return { op: 'delete', kind: 'ConfigMap', namespace: ns, name, now: NOW };
  if (x < 0.8) return { op: 'create', object: pod(name, ns, 'Pending'), now: NOW };
  if (x < 0.87) return { op: 'updateStatus', object: pod(name, ns, r() < 0.5 ? 'Running' : 'Failed'), now: NOW };
  if (x < 0.92) return { op: 'delete', kind: 'Pod', namespace: ns, name, now: NOW };
  if (x < 0.97) return { op: 'batch', commands: [randomCommand(r, i), randomCommand(r, i)].filter((c) => c.op !== 'batch') };
  return { op: 'noop' };
}

const brief = (e: WatchEvent): string =>
  e.type === 'ERROR' ? `ERROR ${e.error.message}` : `${e.type} ${e.object.kind}/${e.object.metadata.namespace ?? ''}/${e.object.metadata.name}@${e.resourceVersion}`;

test('watches from any kept version replay history then live events: no gap, no duplicate, in order', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  const r = rng(42);

  const full: WatchEvent[] = [];
  store.watch({ fromResourceVersion: '0' }, (e) => full.push(e));
  const watchers: { from: number; events: WatchEvent[]; kind?: string; ns?: string }[] = [];

  for (let step = 0; step < 120; step++) {
    const n = 1 + Math.floor(r() * 5);
    const cmds = Array.from({ length: n }, (_, i) => randomCommand(r, step * 10 + i));
    await feed.apply(...cmds);
    if (step % 7 === 3) {
      // Resume from a random version seen so far (history is large enough to hold all of it).
      const from = Math.floor(r() * (store.appliedIndex() + 1));
      const w = { from, events: [] as WatchEvent[] };
      store.watch({ fromResourceVersion: String(from) }, (e) => w.events.push(e));
      watchers.push(w);
    }
    if (step % 11 === 5) {
      const w = { from: store.appliedIndex(), events: [] as WatchEvent[], kind: 'Pod', ns: 'a' };
      store.watch({ kind: 'Pod', namespace: 'a' }, (e) => w.events.push(e));
      watchers.push(w);
    }
  }
  t.true(full.length > 100, `enough changes happened (${full.length})`);

  // The full stream, replayed, must rebuild exactly what is stored: nothing was missed.
  const state = new Map<string, StoredObject>();
  let last = 0;
  for (const e of full) {
    t.true(Number(e.resourceVersion) >= last, 'resourceVersions never go back');
    last = Number(e.resourceVersion);
    if (e.type === 'ERROR' || e.type === 'BOOKMARK') continue;
    const key = `${e.object.kind}/${e.object.metadata.namespace}/${e.object.metadata.name}`;
    t.is(e.object.metadata.resourceVersion, e.resourceVersion);
    if (e.type === 'ADDED') t.false(state.has(key), `ADDED ${key} was not present`);
    else t.true(state.has(key), `${e.type} ${key} was present`);
    if (e.type === 'DELETED') state.delete(key);
    else state.set(key, e.object);
  }
  const stored = [...store.list({ kind: 'ConfigMap' }).items, ...store.list({ kind: 'Pod' }).items];
  const byKey = (a: [string, StoredObject], b: [string, StoredObject]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  t.deepEqual(
    stored.map((o): [string, StoredObject] => [`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o]).sort(byKey),
    [...state].sort(byKey),
  );

  // Every other watcher saw exactly the full stream's suffix after its version (filtered).
  for (const w of watchers) {
    const expected = full.filter(
      (e) => Number(e.resourceVersion) > w.from && (w.kind === undefined || (e.type !== 'ERROR' && e.object.kind === w.kind)) && (w.ns === undefined || (e.type !== 'ERROR' && e.object.metadata.namespace === w.ns)),
    );
    t.deepEqual(w.events.map(brief), expected.map(brief), `watch from ${w.from} ${w.kind ?? ''}`);
  }
});

test('a status written for a reporter names it as the event\'s origin, live, replayed and filtered; other writes name none', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  await feed.one({ op: 'create', object: pod('p', 'a', 'Pending'), now: NOW });
  const live: WatchEvent[] = [];
  const filtered: WatchEvent[] = [];
  store.watch({ kind: 'Pod' }, (e) => live.push(e));
  store.watch({ kind: 'Pod', filter: (o) => o.metadata.name === 'p' }, (e) => filtered.push(e));
  await feed.one({ op: 'updateStatus', object: pod('p', 'a', 'Running'), now: NOW, reporter: 'node-1' });
  await feed.one({ op: 'updateStatus', object: pod('p', 'a', 'Failed'), now: NOW });
  const replayed: WatchEvent[] = [];
  store.watch({ kind: 'Pod', fromResourceVersion: '1' }, (e) => replayed.push(e));
  const origins = (es: WatchEvent[]) => es.map((e) => (e.type === 'MODIFIED' ? (e.origin ?? '-') : e.type));
  t.deepEqual(origins(live), ['node-1', '-']);
  t.deepEqual(origins(filtered), ['node-1', '-']);
  t.deepEqual(origins(replayed), ['node-1', '-']);
  t.false('origin' in live[1]!, 'no origin key at all when there is none');
  await store.close();
});

test('a filtered watch turns objects leaving the filter into DELETED and entering it into ADDED', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  const events: WatchEvent[] = [];
  store.watch({ kind: 'ConfigMap', filter: (o) => o.metadata.labels?.app === 'web' }, (e) => events.push(e));

  await feed.one({ op: 'create', object: cm('x', 'a', { app: 'web' }, '1'), now: NOW }); // 1 ADDED
  await feed.one({ op: 'create', object: cm('y', 'a', { app: 'db' }, '1'), now: NOW }); // 2 not seen
  await feed.one({ op: 'update', object: cm('x', 'a', { app: 'web' }, '2'), now: NOW }); // 3 MODIFIED
  await feed.one({ op: 'update', object: cm('x', 'a', { app: 'db' }, '3'), now: NOW }); // 4 leaves: DELETED
  await feed.one({ op: 'update', object: cm('x', 'a', { app: 'db' }, '4'), now: NOW }); // 5 not seen
  await feed.one({ op: 'update', object: cm('y', 'a', { app: 'web' }, '2'), now: NOW }); // 6 enters: ADDED
  await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'a', name: 'x', now: NOW }); // 7 not seen
  await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'a', name: 'y', now: NOW }); // 8 DELETED

  t.deepEqual(events.map(brief), [
    'ADDED ConfigMap/a/x@1',
    'MODIFIED ConfigMap/a/x@3',
    'DELETED ConfigMap/a/x@4',
    'ADDED ConfigMap/a/y@6',
    'DELETED ConfigMap/a/y@8',
  ]);
  // Leaving the filter: the last content the watcher could see, stamped with the change's version.
  const left = events[2]!;
  if (left.type === 'DELETED') {
    t.deepEqual(left.object.data, { v: '2' });
    t.deepEqual(left.object.metadata.labels, { app: 'web' });
    t.is(left.object.metadata.resourceVersion, '4');
    t.true(Object.isFrozen(left.object));
  }
  // The same transitions are replayed for a watch resuming from the start.
  const replay: WatchEvent[] = [];
  store.watch({ kind: 'ConfigMap', fromResourceVersion: 1, filter: (o) => o.metadata.labels?.app === 'web' }, (e) => replay.push(e));
  t.deepEqual(replay.map(brief), events.slice(1).map(brief));
});

test('a version older than the kept history is refused with "too old resource version"', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo, historySize: 5 });
  const feed = new EntryFeeder(store);
  for (let i = 0; i < 12; i++) await feed.one({ op: 'create', object: cm(`c${i}`, 'a', {}, 'v'), now: NOW });
  t.is(store.oldestResourceVersion(), 7);
  const err = t.throws(() => store.watch({ fromResourceVersion: '6' }, () => undefined), { instanceOf: TooOldResourceVersionError });
  t.is(err?.message, 'too old resource version: 6 (7)');
  t.is(err?.code, 'Gone');
  const got: WatchEvent[] = [];
  store.watch({ fromResourceVersion: '7' }, (e) => got.push(e));
  t.deepEqual(got.map((e) => e.resourceVersion), ['8', '9', '10', '11', '12']);
  t.throws(() => store.watch({ fromResourceVersion: 'abc' }, () => undefined), { instanceOf: InvalidResourceVersionError });

  // After a restart the history is empty: only the applied index itself can be resumed from.
  const kv = new MemoryKV();
  const s1 = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  await new EntryFeeder(s1).apply({ op: 'create', object: cm('a', 'a', {}, 'v'), now: NOW }, { op: 'noop' });
  const s2 = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  t.throws(() => s2.watch({ fromResourceVersion: '1' }, () => undefined), { message: 'too old resource version: 1 (2)' });
  t.notThrows(() => s2.watch({ fromResourceVersion: '2' }, () => undefined));
});

test('from "0" starts now; a version ahead of the store starts after it; cancel stops delivery', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  await feed.one({ op: 'create', object: cm('a', 'a', {}, '1'), now: NOW });
  const now: WatchEvent[] = [];
  const ahead: WatchEvent[] = [];
  const h = store.watch({ fromResourceVersion: '0' }, (e) => now.push(e));
  store.watch({ fromResourceVersion: '3' }, (e) => ahead.push(e));
  t.is(now.length, 0);
  await feed.one({ op: 'update', object: cm('a', 'a', {}, '2'), now: NOW }); // 2
  await feed.one({ op: 'update', object: cm('a', 'a', {}, '3'), now: NOW }); // 3
  h.cancel();
  h.cancel();
  await feed.one({ op: 'update', object: cm('a', 'a', {}, '4'), now: NOW }); // 4
  t.deepEqual(now.map((e) => e.resourceVersion), ['2', '3']);
  t.deepEqual(ahead.map((e) => e.resourceVersion), ['4']);
  t.is(store.watchStats().watchers, 1);
});

test('a watch started from inside a callback gets each event once', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  const inner: WatchEvent[] = [];
  let started = false;
  store.watch({}, (e) => {
    if (!started && e.type === 'ADDED') {
      started = true;
      store.watch({ fromResourceVersion: Number(e.resourceVersion) - 1 }, (x) => inner.push(x));
    }
  });
  await feed.one({ op: 'noop' });
  // Two events at version 2; the inner watch starts while the first is being delivered.
  await feed.one({
    op: 'batch',
    commands: [
      { op: 'create', object: cm('a', 'a', {}, '1'), now: NOW },
      { op: 'create', object: cm('b', 'a', {}, '1'), now: NOW },
    ],
  });
  await feed.one({ op: 'update', object: cm('a', 'a', {}, '2'), now: NOW });
  t.deepEqual(inner.map(brief), ['ADDED ConfigMap/a/a@2', 'ADDED ConfigMap/a/b@2', 'MODIFIED ConfigMap/a/a@3']);
});

test('a throwing callback ends only its own watch, with an ERROR event', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  const bad: WatchEvent[] = [];
  const good: WatchEvent[] = [];
  store.watch({}, (e) => {
    bad.push(e);
    if (e.type !== 'ERROR') throw new Error('consumer bug');
  });
  store.watch({}, (e) => good.push(e));
  await feed.one({ op: 'create', object: cm('a', 'a', {}, '1'), now: NOW });
  await feed.one({ op: 'create', object: cm('b', 'a', {}, '1'), now: NOW });
  t.deepEqual(bad.map((e) => e.type), ['ADDED', 'ERROR']);
  t.deepEqual(good.map((e) => e.type), ['ADDED', 'ADDED']);
});

test('bookmarks go only to watchers that asked, with the applied index', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  const withB: WatchEvent[] = [];
  const without: WatchEvent[] = [];
  store.watch({ kind: 'Pod', bookmarks: true }, (e) => withB.push(e));
  store.watch({ kind: 'Pod' }, (e) => without.push(e));
  await feed.apply({ op: 'create', object: cm('a', 'a', {}, '1'), now: NOW }, { op: 'noop' });
  store.bookmark();
  t.deepEqual(without, []);
  t.is(withB.length, 1);
  const b = withB[0]!;
  t.is(b.type, 'BOOKMARK');
  t.is(b.resourceVersion, '2');
  if (b.type === 'BOOKMARK') {
    t.is(b.object.kind, 'Pod');
    t.is(b.object.metadata.resourceVersion, '2');
  }
});

test('close ends every watch and refuses further writes', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const events: WatchEvent[] = [];
  store.watch({}, (e) => events.push(e));
  await store.close();
  t.deepEqual(events.map((e) => e.type), ['ERROR']);
  await t.throwsAsync(store.applyEntries([{ index: 1, data: new Uint8Array() }]), { message: /closed/ });
});

import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { encodeCommand, LevelKV, MemoryKV, ObjectStore, type KV, type Result, type StoredObject, type Success } from '../src/store/index.ts';
import { EntryFeeder, testKindInfo } from '../src/store/testing.ts';

// ---------------------------------------------------------------------------------------
// Every scenario runs on both KV implementations.

interface Backend {
  name: string;
  make(t: ExecutionContext): Promise<KV>;
}

const backends: Backend[] = [
  { name: 'memory', make: async () => new MemoryKV() },
  {
    name: 'level',
    make: async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-store-apply-'));
      const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
      t.teardown(async () => {
        await db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      return new LevelKV(db);
    },
  },
];

async function setup(t: ExecutionContext, b: Backend): Promise<{ store: ObjectStore; feed: EntryFeeder }> {
  const store = await ObjectStore.open(await b.make(t), { kindInfo: testKindInfo });
  t.teardown(() => store.close());
  return { store, feed: new EntryFeeder(store) };
}

const NOW = '2025-03-01T10:00:00Z';

function cm(name: string, data: Record<string, string> = { k: 'v' }, extra: Partial<StoredObject['metadata']> = {}): StoredObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: `uid-${name}`, ...extra }, data };
}

function deploy(name: string, replicas: number, labels: Record<string, string> = { app: name }): StoredObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels },
    spec: { replicas, template: { spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  };
}

function pod(name: string, nodeName?: string, extraSpec: Record<string, unknown> = {}, finalizers?: string[]): StoredObject {
  const p: StoredObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { containers: [{ name: 'c', image: 'nginx' }], ...extraSpec },
  };
  if (nodeName) p.spec!.nodeName = nodeName;
  if (finalizers) p.metadata.finalizers = finalizers;
  return p;
}

function ok(t: ExecutionContext, r: Result | undefined): Success {
  if (!r || !r.ok) {
    t.fail(`expected success, got ${JSON.stringify(r)}`);
    throw new Error('unreachable');
  }
  return r;
}

for (const b of backends) {
  const name = (s: string): string => `${b.name}: ${s}`;

  test(name('create stamps resourceVersion = entry index, generation 1, creationTimestamp from now; get returns it frozen'), async (t) => {
    const { store, feed } = await setup(t, b);
    await feed.apply({ op: 'noop' }, { op: 'noop' });
    const r = ok(t, await feed.one({ op: 'create', object: cm('web'), now: NOW }));
    t.is(r.object!.metadata.resourceVersion, '3');
    t.is(r.object!.metadata.generation, 1);
    t.is(r.object!.metadata.creationTimestamp, NOW);
    t.is(store.appliedIndex(), 3);
    const got = store.get('ConfigMap', 'default', 'web')!;
    t.deepEqual(got, r.object);
    t.true(Object.isFrozen(got) && Object.isFrozen(got.metadata) && Object.isFrozen(got.data));
    t.throws(() => {
      (got.metadata as { name: string }).name = 'x';
    });
    t.is(store.get('ConfigMap', 'other', 'web'), undefined);
    t.deepEqual(store.counts(), { ConfigMap: 1 });
  });

  test(name('create refuses duplicates, unknown kinds, missing uid or namespace; cluster-scoped kinds drop the namespace'), async (t) => {
    const { store, feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: cm('web'), now: NOW }));
    t.like(await feed.one({ op: 'create', object: cm('web'), now: NOW }), { ok: false, code: 'AlreadyExists', message: 'configmaps "web" already exists' });
    t.like(await feed.one({ op: 'create', object: { kind: 'Gizmo', metadata: { name: 'g', uid: 'u' } }, now: NOW }), { ok: false, code: 'Invalid', message: 'unknown kind "Gizmo"' });
    const noUid = cm('x');
    delete noUid.metadata.uid;
    t.like(await feed.one({ op: 'create', object: noUid, now: NOW }), { ok: false, code: 'Invalid' });
    const noNs = cm('y');
    delete noNs.metadata.namespace;
    t.like(await feed.one({ op: 'create', object: noNs, now: NOW }), { ok: false, code: 'Invalid' });
    const node = ok(t, await feed.one({ op: 'create', object: { kind: 'Node', metadata: { name: 'n1', namespace: 'junk', uid: 'n1' } }, now: NOW }));
    t.false('namespace' in node.object!.metadata);
    t.truthy(store.get('Node', undefined, 'n1'));
    t.truthy(store.get('Node', 'whatever', 'n1'), 'namespace is ignored for cluster-scoped kinds');
  });

  test(name('update: conflict on stale resourceVersion, uid precondition, keeps status, identity and server fields'), async (t) => {
    const { store, feed } = await setup(t, b);
    const created = ok(t, await feed.one({ op: 'create', object: { ...deploy('web', 1), status: { replicas: 0 } }, now: NOW })).object!;
    t.is(created.metadata.resourceVersion, '1');

    const stale = await feed.one({ op: 'update', object: deploy('web', 2), precondition: { resourceVersion: '0' }, now: NOW });
    t.deepEqual(stale, {
      ok: false,
      code: 'Conflict',
      message: 'Operation cannot be fulfilled on deployments "web": the object has been modified; please apply your changes to the latest version and try again',
    });
    const badUid = await feed.one({ op: 'update', object: deploy('web', 2), precondition: { uid: 'other' }, now: NOW });
    t.like(badUid, { ok: false, code: 'Conflict', message: 'Operation cannot be fulfilled on deployments "web": Precondition failed: UID in precondition: other, UID in object meta: uid-web' });

    const req = deploy('web', 2, { app: 'web', tier: 'front' });
    req.metadata.uid = 'forged';
    req.metadata.creationTimestamp = '1999-01-01T00:00:00Z';
    req.metadata.generation = 99;
    req.metadata.resourceVersion = '12345';
    req.status = { replicas: 42 };
    const u = ok(t, await feed.one({ op: 'update', object: req, precondition: { resourceVersion: '1', uid: 'uid-web' }, now: NOW }));
    t.is(u.object!.metadata.resourceVersion, '4');
    t.is(u.object!.metadata.uid, 'uid-web');
    t.is(u.object!.metadata.creationTimestamp, NOW);
    t.is(u.object!.metadata.generation, 2);
    t.deepEqual(u.object!.metadata.labels, { app: 'web', tier: 'front' });
    t.deepEqual(u.object!.status, { replicas: 0 }, 'status only changes through updateStatus');
    t.deepEqual(u.prev, created);
    t.like(await feed.one({ op: 'update', object: deploy('nope', 1), now: NOW }), { ok: false, code: 'NotFound', message: 'deployments "nope" not found' });
    t.is(store.get('Deployment', 'default', 'web')!.metadata.resourceVersion, '4');
  });

  test(name('metadata keeps the request\'s key order with server fields after it; a "__proto__" key stays an own data property'), async (t) => {
    const { feed } = await setup(t, b);
    const req = cm('p');
    req.metadata = JSON.parse('{"labels":{"a":"b"},"name":"p","__proto__":{"polluted":true},"namespace":"default","uid":"uid-p","deletionTimestamp":"2020-01-01T00:00:00Z"}');
    const created = ok(t, await feed.one({ op: 'create', object: req, now: NOW })).object!;
    t.deepEqual(Object.keys(created.metadata), ['labels', 'name', '__proto__', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp']);
    t.is(Object.getPrototypeOf(created.metadata), Object.prototype);
    t.deepEqual(Object.getOwnPropertyDescriptor(created.metadata, '__proto__')?.value, { polluted: true });
    t.is(({} as { polluted?: boolean }).polluted, undefined);
    const upd = cm('p');
    upd.metadata = JSON.parse('{"__proto__":{"again":1},"name":"p","namespace":"default","annotations":{"x":"y"},"generation":7}');
    const updated = ok(t, await feed.one({ op: 'update', object: upd, now: NOW })).object!;
    t.deepEqual(Object.keys(updated.metadata), ['__proto__', 'name', 'namespace', 'annotations', 'generation', 'uid', 'resourceVersion', 'creationTimestamp']);
    t.is(Object.getPrototypeOf(updated.metadata), Object.prototype);
    t.deepEqual(Object.getOwnPropertyDescriptor(updated.metadata, '__proto__')?.value, { again: 1 });
    t.is(updated.metadata.generation, 1, 'generation is the server\'s');
    t.is(updated.metadata.uid, 'uid-p');
  });

  test(name('generation moves only when spec changes; kinds without spec keep theirs; identical update writes nothing'), async (t) => {
    const { store, feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: deploy('web', 1), now: NOW }));
    const labelsOnly = ok(t, await feed.one({ op: 'update', object: deploy('web', 1, { app: 'web', x: 'y' }), now: NOW }));
    t.is(labelsOnly.object!.metadata.generation, 1);
    t.is(labelsOnly.object!.metadata.resourceVersion, '2');
    const spec = ok(t, await feed.one({ op: 'update', object: deploy('web', 3, { app: 'web', x: 'y' }), now: NOW }));
    t.is(spec.object!.metadata.generation, 2);
    const status = ok(t, await feed.one({ op: 'updateStatus', object: { ...deploy('web', 999), status: { ready: 3 } }, now: NOW }));
    t.is(status.object!.metadata.generation, 2);
    t.is(status.object!.spec!.replicas, 3, 'updateStatus ignores spec');
    t.deepEqual(status.object!.status, { ready: 3 });

    const same = ok(t, await feed.one({ op: 'update', object: deploy('web', 3, { app: 'web', x: 'y' }), now: NOW }));
    t.true(same.unchanged);
    t.is(same.object!.metadata.resourceVersion, '4', 'a no-op update keeps the old resourceVersion');
    t.is(store.get('Deployment', 'default', 'web')!.metadata.resourceVersion, '4');

    ok(t, await feed.one({ op: 'create', object: cm('c'), now: NOW }));
    const data = ok(t, await feed.one({ op: 'update', object: cm('c', { k: 'changed' }), now: NOW }));
    t.is(data.object!.metadata.generation, 1);
    t.deepEqual(data.object!.data, { k: 'changed' });
  });

  test(name('updateStatus replaces status only, honours preconditions'), async (t) => {
    const { feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: pod('p'), now: NOW }));
    const withLabels = pod('p');
    withLabels.metadata.labels = { sneaky: 'yes' };
    withLabels.status = { phase: 'Running' };
    const r = ok(t, await feed.one({ op: 'updateStatus', object: withLabels, precondition: { resourceVersion: '1' }, now: NOW }));
    t.deepEqual(r.object!.status, { phase: 'Running' });
    t.is(r.object!.metadata.labels, undefined);
    t.like(await feed.one({ op: 'updateStatus', object: withLabels, precondition: { resourceVersion: '1' }, now: NOW }), { ok: false, code: 'Conflict' });
    t.like(await feed.one({ op: 'updateStatus', object: pod('ghost'), now: NOW }), { ok: false, code: 'NotFound', message: 'pods "ghost" not found' });
  });

  test(name('delete: preconditions, then removal; deleting again is NotFound'), async (t) => {
    const { store, feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: cm('web'), now: NOW }));
    t.like(await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'web', precondition: { uid: 'nope' }, now: NOW }), { ok: false, code: 'Conflict' });
    t.like(await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'web', precondition: { resourceVersion: '7' }, now: NOW }), { ok: false, code: 'Conflict' });
    const d = ok(t, await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'web', precondition: { uid: 'uid-web', resourceVersion: '1' }, now: NOW }));
    t.true(d.removed);
    t.is(d.object!.metadata.resourceVersion, '4', 'the deleted object carries the deleting entry index');
    t.is(store.get('ConfigMap', 'default', 'web'), undefined);
    t.deepEqual(store.counts(), {});
    t.like(await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'web', now: NOW }), { ok: false, code: 'NotFound', message: 'configmaps "web" not found' });
  });

  test(name('finalizers: delete marks once; an update that empties finalizers removes the object'), async (t) => {
    const { store, feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: cm('web', { k: 'v' }, { finalizers: ['berth.dev/protect'] }), now: NOW }));
    const marked = ok(t, await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'web', now: NOW }));
    t.false(marked.removed);
    t.is(marked.object!.metadata.deletionTimestamp, NOW);
    t.is(marked.object!.metadata.deletionGracePeriodSeconds, 0);
    t.is(marked.object!.metadata.generation, 2);
    const again = ok(t, await feed.one({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'web', now: '2025-03-01T11:00:00Z' }));
    t.true(again.unchanged);
    t.is(again.object!.metadata.deletionTimestamp, NOW, 'deletionTimestamp is set once');

    const addFinalizer = cm('web', { k: 'v' }, { finalizers: ['berth.dev/protect', 'other'] });
    t.like(await feed.one({ op: 'update', object: addFinalizer, now: NOW }), { ok: false, code: 'Invalid' });

    const other = cm('web', { k: 'v2' }, { finalizers: ['berth.dev/protect'] });
    const kept = ok(t, await feed.one({ op: 'update', object: other, now: NOW }));
    t.is(kept.object!.metadata.deletionTimestamp, NOW, 'update cannot clear deletionTimestamp');
    t.truthy(store.get('ConfigMap', 'default', 'web'));

    const gone = ok(t, await feed.one({ op: 'update', object: cm('web', { k: 'v2' }, { finalizers: [] }), now: NOW }));
    t.true(gone.removed);
    t.deepEqual(gone.object!.metadata.finalizers, []);
    t.is(store.get('ConfigMap', 'default', 'web'), undefined);
  });

  test(name('pods: bound pods terminate gracefully until the agent confirms with 0; unbound and finished pods go at once'), async (t) => {
    const { store, feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: pod('bound', 'node-1', { terminationGracePeriodSeconds: 45 }), now: NOW }));
    ok(t, await feed.one({ op: 'create', object: pod('default-grace', 'node-1'), now: NOW }));
    ok(t, await feed.one({ op: 'create', object: pod('unbound'), now: NOW }));
    ok(t, await feed.one({ op: 'create', object: { ...pod('done', 'node-1'), status: { phase: 'Succeeded' } }, now: NOW }));

    const g = ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'bound', now: NOW }));
    t.false(g.removed);
    t.is(g.object!.metadata.deletionGracePeriodSeconds, 45);
    t.is(g.object!.metadata.deletionTimestamp, '2025-03-01T10:00:45Z');
    const d30 = ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'default-grace', now: NOW }));
    t.is(d30.object!.metadata.deletionGracePeriodSeconds, 30);

    const shorter = ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'bound', gracePeriodSeconds: 10, now: '2025-03-01T10:00:05Z' }));
    t.is(shorter.object!.metadata.deletionGracePeriodSeconds, 10);
    t.is(shorter.object!.metadata.deletionTimestamp, '2025-03-01T10:00:15Z');
    const longer = ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'bound', gracePeriodSeconds: 60, now: NOW }));
    t.true(longer.unchanged);

    // The agent has stopped the containers: it confirms.
    const confirmed = ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'bound', gracePeriodSeconds: 0, precondition: { uid: 'uid-bound' }, now: NOW }));
    t.true(confirmed.removed);
    t.is(store.get('Pod', 'default', 'bound'), undefined);

    t.true(ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'unbound', now: NOW })).removed);
    t.true(ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'done', now: NOW })).removed);
    t.deepEqual(store.counts(), { Pod: 1 });
  });

  test(name('pods with finalizers and a grace period need both the confirmation and empty finalizers'), async (t) => {
    const { store, feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: pod('p', 'node-1', {}, ['f']), now: NOW }));
    ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'p', now: NOW }));
    // Finalizer removed first: the grace period still holds the pod.
    const u = ok(t, await feed.one({ op: 'update', object: pod('p', 'node-1', {}, []), now: NOW }));
    t.falsy(u.removed);
    t.truthy(store.get('Pod', 'default', 'p'));
    const c = ok(t, await feed.one({ op: 'delete', kind: 'Pod', namespace: 'default', name: 'p', gracePeriodSeconds: 0, now: NOW }));
    t.true(c.removed);
  });

  test(name('batch is all or nothing and reports every failure'), async (t) => {
    const { store, feed } = await setup(t, b);
    ok(t, await feed.one({ op: 'create', object: cm('a'), now: NOW }));
    const bad = await feed.one({
      op: 'batch',
      commands: [
        { op: 'create', object: cm('b'), now: NOW },
        { op: 'update', object: cm('a', { k: 'new' }), now: NOW },
        { op: 'create', object: cm('a'), now: NOW },
        { op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'zzz', now: NOW },
      ],
    });
    t.false(bad.ok);
    if (!bad.ok) {
      t.is(bad.code, 'AlreadyExists');
      t.is(bad.message, 'batch command 2: configmaps "a" already exists');
      t.deepEqual(bad.failed, [2, 3]);
      t.is(bad.results!.length, 4);
      t.like(bad.results![3], { ok: false, code: 'NotFound' });
    }
    t.is(store.get('ConfigMap', 'default', 'b'), undefined, 'nothing of a failed batch applies');
    t.deepEqual(store.get('ConfigMap', 'default', 'a')!.data, { k: 'v' });

    const good = ok(t, await feed.one({
      op: 'batch',
      commands: [
        { op: 'create', object: cm('b'), now: NOW },
        { op: 'update', object: cm('b', { k: 'b2' }), now: NOW },
        { op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'a', now: NOW },
      ],
    }));
    t.is(good.results!.length, 3);
    t.deepEqual(store.get('ConfigMap', 'default', 'b')!.data, { k: 'b2' });
    t.is(store.get('ConfigMap', 'default', 'b')!.metadata.resourceVersion, '3', 'every change of a batch has the batch entry index');
    t.is(store.get('ConfigMap', 'default', 'a'), undefined);
  });

  test(name('undecodable and malformed commands give Invalid and do not stop the entries after them'), async (t) => {
    const { store } = await setup(t, b);
    const results = await store.applyEntries([
      { index: 1, data: new Uint8Array([0xc1]) },
      { index: 2, data: encodeCommand({ op: 'create', object: cm('a'), now: NOW }) },
      { index: 4, data: new Uint8Array(Buffer.from([0x81, 0xa2, 0x6f, 0x70, 0xa4, 0x7a, 0x61, 0x70, 0x21])) }, // {op: "zap!"}
      { index: 5, data: new Uint8Array() },
      { index: 6, data: encodeCommand({ op: 'create', object: cm('b'), now: NOW }) },
    ]);
    t.like(results[0], { ok: false, code: 'Invalid' });
    t.regex((results[0] as { message: string }).message, /^entry 1: undecodable command: /);
    t.like(results[1], { ok: true });
    t.like(results[2], { ok: false, code: 'Invalid' });
    t.regex((results[2] as { message: string }).message, /unknown op "zap!"/);
    t.deepEqual(results[3], { ok: true }, 'an empty entry is a no-op');
    t.is((results[4] as Success).object!.metadata.resourceVersion, '6');
    t.is(store.appliedIndex(), 6);
  });

  test(name('entries at or below the applied index are skipped; out-of-order entries are a driver bug'), async (t) => {
    const { store, feed } = await setup(t, b);
    await feed.apply({ op: 'create', object: cm('a'), now: NOW }, { op: 'create', object: cm('b'), now: NOW });
    const again = await store.applyEntries([
      { index: 2, data: encodeCommand({ op: 'create', object: cm('zzz'), now: NOW }) },
      { index: 3, data: encodeCommand({ op: 'create', object: cm('c'), now: NOW }) },
    ]);
    t.like(again[0], { ok: false, code: 'Gone' });
    t.like(again[1], { ok: true });
    t.is(store.get('ConfigMap', 'default', 'zzz'), undefined);
    await t.throwsAsync(store.applyEntries([{ index: 5, data: new Uint8Array() }, { index: 5, data: new Uint8Array() }]), { message: /out of order/ });
    t.is(store.appliedIndex(), 3, 'a rejected call changes nothing');
  });
}

test('one applyEntries call is one KV batch, holding every change and the applied index', async (t) => {
  const kv = new MemoryKV();
  // No time budget: by default a call is split into chunks of at most 5 ms of applying,
  // which a loaded machine can exceed with 20 entries (chunking has its own tests).
  const store = await ObjectStore.open(kv, { kindInfo: testKindInfo, applyChunking: { budgetMs: 1e9 } });
  const feed = new EntryFeeder(store);
  const before = kv.batches;
  await feed.apply(...Array.from({ length: 20 }, (_, i) => ({ op: 'create' as const, object: cm(`c${i}`), now: NOW })));
  await store.flush();
  t.is(kv.batches - before, 1);
  t.is(kv.size, 21);
  await store.applyEntries([{ index: 3, data: new Uint8Array() }]);
  await store.flush();
  t.is(kv.batches - before, 1, 'a call that applies nothing writes nothing');
});

test('onApplied reports the applied index and each entry result; a throwing callback does not break applying', async (t) => {
  const warnings: string[] = [];
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo, logger: { warn: (s) => warnings.push(s) } });
  const seen: { index: number; results: number[] }[] = [];
  const off = store.onApplied((info) => seen.push({ index: info.index, results: info.results.map((r) => r.index) }));
  store.onApplied(() => {
    throw new Error('boom');
  });
  const feed = new EntryFeeder(store);
  await feed.apply({ op: 'noop' }, { op: 'create', object: cm('a'), now: NOW });
  off();
  await feed.apply({ op: 'noop' });
  t.deepEqual(seen, [{ index: 2, results: [1, 2] }]);
  t.is(warnings.length, 2);
  t.regex(warnings[0]!, /boom/);
});

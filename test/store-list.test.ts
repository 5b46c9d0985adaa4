import test from 'ava';
import { InvalidContinueTokenError, MemoryKV, ObjectStore, type ListResult, type StoredObject, type WatchEvent } from '../src/store/index.ts';
import { EntryFeeder, testKindInfo } from '../src/store/testing.ts';

const NOW = '2025-03-01T10:00:00Z';
const NAMESPACES = ['alpha', 'alpha-2', 'beta'];

function cm(name: string, ns: string, i: number): StoredObject {
  return { kind: 'ConfigMap', metadata: { name, namespace: ns, uid: `u-${ns}-${name}`, labels: { even: String(i % 2 === 0) } }, data: { i: String(i) } };
}

/** 1,000 config maps over three namespaces (one a prefix of another), created in a scrambled order. */
async function thousand(): Promise<{ store: ObjectStore; feed: EntryFeeder; names: string[] }> {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  const all: StoredObject[] = [];
  for (let i = 0; i < 1000; i++) all.push(cm(`cm-${String((i * 7919) % 1000).padStart(4, '0')}`, NAMESPACES[i % 3]!, i));
  for (let i = 0; i < all.length; i += 100) await feed.apply(...all.slice(i, i + 100).map((object) => ({ op: 'create' as const, object, now: NOW })));
  const names = all.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort((a, b) => {
    const [na, xa] = a.split('/') as [string, string];
    const [nb, xb] = b.split('/') as [string, string];
    return na === nb ? (xa < xb ? -1 : 1) : na < nb ? -1 : 1;
  });
  return { store, feed, names };
}

const id = (o: StoredObject): string => `${o.metadata.namespace}/${o.metadata.name}`;

function pages(store: ObjectStore, opts: { namespace?: string; limit: number; filter?: (o: StoredObject) => boolean }): ListResult[] {
  const out: ListResult[] = [];
  let cont: string | undefined;
  do {
    const page = store.list({ kind: 'ConfigMap', ...opts, continue: cont });
    out.push(page);
    cont = page.continue;
  } while (cont !== undefined);
  return out;
}

test('pagination over 1,000 objects returns each once, in namespace/name order', async (t) => {
  const { store, names } = await thousand();
  const all = store.list({ kind: 'ConfigMap' });
  t.is(all.items.length, 1000);
  t.is(all.continue, undefined);
  t.is(all.resourceVersion, '1000');
  t.deepEqual(all.items.map(id), names);

  const ps = pages(store, { limit: 37 });
  t.is(ps.length, Math.ceil(1000 / 37));
  t.true(ps.slice(0, -1).every((p) => p.items.length === 37));
  t.deepEqual(ps.flatMap((p) => p.items).map(id), names);
  t.true(ps.every((p) => p.resourceVersion === '1000'));

  const exact = pages(store, { limit: 500 });
  t.is(exact.length, 2, 'no empty trailing page when the last page is exactly full');
});

test('pagination within a namespace, and with a filter counting only matches', async (t) => {
  const { store, names } = await thousand();
  const alpha = pages(store, { namespace: 'alpha', limit: 50 }).flatMap((p) => p.items);
  t.deepEqual(alpha.map(id), names.filter((n) => n.startsWith('alpha/')));
  const even = pages(store, { limit: 64, filter: (o) => o.metadata.labels?.even === 'true' });
  const evenItems = even.flatMap((p) => p.items);
  t.is(evenItems.length, 500);
  t.true(even.slice(0, -1).every((p) => p.items.length === 64));
  t.deepEqual(evenItems.map(id), store.list({ kind: 'ConfigMap' }).items.filter((o) => o.metadata.labels?.even === 'true').map(id));
  t.deepEqual(store.list({ kind: 'ConfigMap', namespace: 'gamma' }).items, []);
  t.deepEqual(store.list({ kind: 'Pod' }), { items: [], resourceVersion: '1000' });
});

test('pages read while objects change: no duplicates, nothing skipped that existed throughout, and the first page version', async (t) => {
  const { store, feed, names } = await thousand();
  const last = store.list({ kind: 'ConfigMap' }).items.at(-1)!;
  const first = store.list({ kind: 'ConfigMap', limit: 100 });
  const seen = first.items.map(id);
  const watched: WatchEvent[] = [];
  // Between pages: delete an object already returned and one not yet returned, create a new one.
  await feed.apply(
    { op: 'delete', kind: 'ConfigMap', namespace: 'alpha', name: first.items[3]!.metadata.name, now: NOW },
    { op: 'delete', kind: 'ConfigMap', namespace: last.metadata.namespace, name: last.metadata.name, now: NOW },
    { op: 'create', object: cm('zz-new', 'beta', 1), now: NOW },
  );
  let cont = first.continue;
  while (cont) {
    const page = store.list({ kind: 'ConfigMap', limit: 100, continue: cont });
    t.is(page.resourceVersion, first.resourceVersion, 'later pages report the first page version');
    seen.push(...page.items.map(id));
    cont = page.continue;
  }
  t.is(new Set(seen).size, seen.length);
  for (const n of names) if (n !== id(last)) t.true(seen.includes(n), n);
  t.false(seen.includes(id(last)));
  t.true(seen.includes('beta/zz-new'));
  // Watching from the reported version replays the changes made while paging.
  store.watch({ kind: 'ConfigMap', fromResourceVersion: first.resourceVersion }, (e) => watched.push(e));
  t.deepEqual(watched.map((e) => e.type), ['DELETED', 'DELETED', 'ADDED']);
});

test('invalid continue tokens give a clear error', async (t) => {
  const { store } = await thousand();
  t.throws(() => store.list({ kind: 'ConfigMap', continue: 'not a token!' }), { instanceOf: InvalidContinueTokenError, message: /continue token "not a token!" is not valid/ });
  t.throws(() => store.list({ kind: 'ConfigMap', continue: Buffer.from('{"v":2}').toString('base64url') }), { instanceOf: InvalidContinueTokenError });
  const tok = store.list({ kind: 'ConfigMap', namespace: 'alpha', limit: 1 }).continue!;
  t.throws(() => store.list({ kind: 'ConfigMap', namespace: 'beta', continue: tok }), { message: /issued for another list/ });
  t.throws(() => store.list({ kind: 'Pod', namespace: 'alpha', continue: tok }), { message: /issued for another list/ });
  t.is(store.list({ kind: 'ConfigMap', namespace: 'alpha', continue: tok }).items.length, 333);
});

test('listed objects are the stored frozen objects, cluster-scoped kinds ignore the namespace', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  await feed.apply(
    { op: 'create', object: { kind: 'Node', metadata: { name: 'n2', uid: 'n2' } }, now: NOW },
    { op: 'create', object: { kind: 'Node', metadata: { name: 'n1', uid: 'n1' } }, now: NOW },
  );
  const nodes = store.list({ kind: 'Node', namespace: 'ignored' });
  t.deepEqual(nodes.items.map((o) => o.metadata.name), ['n1', 'n2']);
  t.is(store.get('Node', undefined, 'n1'), nodes.items[0]);
  t.true(Object.isFrozen(nodes.items[0]));
});

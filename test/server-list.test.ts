/**
 * Three `berth server` processes: List through the API with label selectors (=, ==, !=,
 * in, notin, exists, !exists), field selectors (metadata.name, metadata.namespace,
 * status.phase for pods) and limit/continue paging, each checked against names written
 * out by hand.
 */
import test from 'ava';
import type { BerthClient } from '../src/client/client.ts';
import { codeOf, configMap, createSurely, listAll, nameOf, readSurely, startCluster, updateSurely } from './server-harness.ts';

const CONFIG_MAPS: [string, string, Record<string, string>][] = [
  ['a1', 'sel-a', { app: 'web', tier: 'front', env: 'prod' }],
  ['a2', 'sel-a', { app: 'web', tier: 'back', env: 'dev' }],
  ['a3', 'sel-a', { app: 'db', env: 'prod' }],
  ['a4', 'sel-a', { app: 'cache' }],
  ['a5', 'sel-a', {}],
  ['b1', 'sel-b', { app: 'web', tier: 'front', env: 'staging' }],
  ['b2', 'sel-b', { app: 'db', tier: 'back' }],
  ['b3', 'sel-b', { env: 'prod' }],
];

const LABEL_CASES: { selector: string; namespace?: string; names: string[] }[] = [
  { selector: 'app=web', names: ['a1', 'a2', 'b1'] },
  { selector: 'app==web', names: ['a1', 'a2', 'b1'] },
  { selector: 'app!=web', names: ['a3', 'a4', 'a5', 'b2', 'b3'] },
  { selector: 'app in (web,db)', names: ['a1', 'a2', 'a3', 'b1', 'b2'] },
  { selector: 'app notin (web,db)', names: ['a4', 'a5', 'b3'] },
  { selector: 'tier', names: ['a1', 'a2', 'b1', 'b2'] },
  { selector: '!tier', names: ['a3', 'a4', 'a5', 'b3'] },
  { selector: 'app=web,env=prod', names: ['a1'] },
  { selector: 'env in (prod,staging),!tier', names: ['a3', 'b3'] },
  { selector: 'tier,app!=web', names: ['b2'] },
  { selector: 'app=nothing', names: [] },
  { selector: 'app=web', namespace: 'sel-a', names: ['a1', 'a2'] },
  { selector: '!app', namespace: 'sel-b', names: ['b3'] },
];

const FIELD_CASES: { field: string; label?: string; namespace?: string; names: string[] }[] = [
  { field: 'metadata.name=a3', names: ['a3'] },
  { field: 'metadata.name!=a3', namespace: 'sel-a', names: ['a1', 'a2', 'a4', 'a5'] },
  { field: 'metadata.namespace=sel-b', names: ['b1', 'b2', 'b3'] },
  { field: 'metadata.namespace!=sel-a', names: ['b1', 'b2', 'b3'] },
  { field: 'metadata.namespace=sel-a', label: 'env=prod', names: ['a1', 'a3'] },
  { field: 'metadata.namespace=sel-a,metadata.name!=a1', label: 'app', names: ['a2', 'a3', 'a4'] },
];

const PODS: [string, string, Record<string, string>][] = [
  ['p1', 'Pending', { app: 'web' }],
  ['p2', 'Running', { app: 'web' }],
  ['p3', 'Running', { app: 'db' }],
  ['p4', 'Succeeded', { app: 'web' }],
  ['p5', 'Failed', {}],
  ['p6', 'Pending', { app: 'db' }],
];

const POD_CASES: { field: string; label?: string; names: string[] }[] = [
  { field: 'status.phase=Running', names: ['p2', 'p3'] },
  { field: 'status.phase!=Running', names: ['p1', 'p4', 'p5', 'p6'] },
  { field: 'status.phase=Pending', names: ['p1', 'p6'] },
  { field: 'status.phase=Running,metadata.name!=p2', names: ['p3'] },
  { field: 'status.phase=Running', label: 'app=web', names: ['p2'] },
  { field: 'status.phase=Unknown', names: [] },
  { field: 'metadata.namespace=sel-a,status.phase!=Pending', label: 'app in (web)', names: ['p2', 'p4'] },
];

const names = (items: { metadata?: Record<string, unknown> }[]) => items.map((o) => nameOf(o)).sort();

test('label and field selectors and limit/continue through the API', async (t) => {
  const h = await startCluster(t, 3);
  const [c1, c2, c3] = h.pinned as [BerthClient, BerthClient, BerthClient];
  for (const ns of ['sel-a', 'sel-b', 'page']) await createSurely(c1, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await Promise.all(CONFIG_MAPS.map(([n, ns, labels], i) => createSurely(h.pinned[i % 3]!, configMap(n, { n }, { namespace: ns, labels }))));
  for (const [n, phase, labels] of PODS) {
    const p = await createSurely(c2, { apiVersion: 'v1', kind: 'Pod', metadata: { name: n, namespace: 'sel-a', labels }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    if (phase !== 'Pending') await updateSurely(c2, { ...p, status: { ...(p.status as object), phase } }, { status: true });
  }

  // Selectors, asked of a different replica each time.
  for (const [i, c] of LABEL_CASES.entries()) {
    const r = await readSurely(() => h.pinned[i % 3]!.list('ConfigMap', { labelSelector: c.selector, namespace: c.namespace ?? '' }));
    t.deepEqual(names(r.items), c.names, `labelSelector ${JSON.stringify(c.selector)}${c.namespace ? ` in ${c.namespace}` : ''}`);
  }
  for (const [i, c] of FIELD_CASES.entries()) {
    const r = await readSurely(() => h.pinned[(i + 1) % 3]!.list('ConfigMap', { fieldSelector: c.field, labelSelector: c.label ?? '', namespace: c.namespace ?? '' }));
    t.deepEqual(names(r.items), c.names, `fieldSelector ${JSON.stringify(c.field)} labelSelector ${JSON.stringify(c.label ?? '')}`);
  }
  for (const [i, c] of POD_CASES.entries()) {
    const r = await readSurely(() => h.pinned[(i + 2) % 3]!.list('pods', { fieldSelector: c.field, labelSelector: c.label ?? '', namespace: 'sel-a' }));
    t.deepEqual(names(r.items), c.names, `pods fieldSelector ${JSON.stringify(c.field)} labelSelector ${JSON.stringify(c.label ?? '')}`);
  }
  // The kind may be named as kubectl does.
  t.deepEqual(names((await c3.list('cm', { namespace: 'sel-b' })).items), ['b1', 'b2', 'b3']);
  t.deepEqual(names((await c3.list('po', { fieldSelector: 'status.phase=Failed' })).items), ['p5']);

  // Malformed selectors are the caller's error.
  for (const [what, opts] of [
    ['label selector syntax', { labelSelector: 'app in web' }],
    ['label selector operator', { labelSelector: 'app=~web' }],
    ['field not selectable for ConfigMaps', { fieldSelector: 'status.phase=Running' }],
    ['field selector syntax', { fieldSelector: 'metadata.name' }],
    ['negative limit', { limit: -1 }],
  ] as const) {
    const e = await c1.list('ConfigMap', opts).catch((x: unknown) => x);
    t.is(codeOf(e), 'INVALID_ARGUMENT', what);
  }
  t.is(codeOf(await c1.list('Frobnicators').catch((x: unknown) => x)), 'NOT_FOUND', 'unknown resource type');

  // Paging: 23 objects, walked with several page sizes, each object exactly once, in
  // the same order as an unpaged list.
  const PAGE = Array.from({ length: 23 }, (_, i) => `p-${String(i).padStart(2, '0')}`);
  await Promise.all(PAGE.map((n, i) => createSurely(h.pinned[i % 3]!, configMap(n, { i: String(i) }, { namespace: 'page', labels: { odd: String(i % 2 === 1) } }))));
  const full = await readSurely(() => c2.list('ConfigMap', { namespace: 'page' }));
  t.deepEqual(full.items.map((o) => nameOf(o)), PAGE, 'an unpaged list returns every object in name order');
  t.is(full.continue, '');
  for (const limit of [1, 5, 7, 22, 23, 24, 500]) {
    const walk = await listAll(h.pinned[limit % 3]!, 'ConfigMap', { namespace: 'page', limit });
    t.deepEqual(walk.items.map((o) => nameOf(o)), PAGE, `limit ${limit}: every object once, in order`);
    const expectedPages = Math.max(1, Math.ceil(PAGE.length / limit));
    t.is(walk.pages, expectedPages, `limit ${limit}: ${walk.pageSizes.join(',')}`);
    t.true(walk.pageSizes.every((s) => s <= limit), `limit ${limit}: no page larger than the limit`);
  }
  // Paging and a selector together: pages are filled with matches only.
  const odd = await listAll(c3, 'ConfigMap', { namespace: 'page', limit: 4, labelSelector: 'odd=true' });
  t.deepEqual(odd.items.map((o) => nameOf(o)), PAGE.filter((_, i) => i % 2 === 1));
  t.deepEqual(odd.pageSizes, [4, 4, 3]);
  // Across all namespaces with a field selector.
  const cross = await listAll(c1, 'ConfigMap', { limit: 2, fieldSelector: 'metadata.namespace!=page' });
  t.deepEqual(names(cross.items), CONFIG_MAPS.map(([n]) => n).sort());
  t.deepEqual(cross.pageSizes, [2, 2, 2, 2]);

  // A continue token issued by one replica is good on another; a page walk can hop.
  let token = '';
  const hopped: string[] = [];
  for (let page = 0; ; page++) {
    const r = await readSurely(() => h.pinned[page % 3]!.list('ConfigMap', { namespace: 'page', limit: 6, ...(token ? { continue: token } : {}) }));
    hopped.push(...r.items.map((o) => nameOf(o)));
    if (!r.continue) break;
    token = r.continue;
  }
  t.deepEqual(hopped, PAGE, 'a walk hopping between replicas');

  // A token for another list, or no token at all, is refused.
  const first = await c1.list('ConfigMap', { namespace: 'page', limit: 3 });
  t.not(first.continue, '');
  t.is(codeOf(await c1.list('ConfigMap', { namespace: 'sel-a', continue: first.continue }).catch((x: unknown) => x)), 'INVALID_ARGUMENT', 'a token of another namespace');
  t.is(codeOf(await c1.list('pods', { namespace: 'page', continue: first.continue }).catch((x: unknown) => x)), 'INVALID_ARGUMENT', 'a token of another kind');
  t.is(codeOf(await c1.list('ConfigMap', { namespace: 'page', continue: 'bm90LWEtdG9rZW4=' }).catch((x: unknown) => x)), 'INVALID_ARGUMENT', 'a made-up token');
});

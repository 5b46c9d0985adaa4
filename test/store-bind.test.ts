import test from 'ava';
import { FakeClock, LocalCluster } from '../src/controllers/testing.ts';
import { WriteError } from '../src/controllers/types.ts';
import type { StoredObject } from '../src/store/index.ts';

const node = (name: string, pods: number) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  status: { allocatable: { pods: String(pods) }, capacity: { pods: String(pods) } },
});
const pod = (name: string, nodeName?: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...(nodeName ? { nodeName } : {}) },
});

// A check that allows as many pods as status.allocatable.pods says.
const podCount = (n: StoredObject, _p: StoredObject, on: StoredObject[]) => (on.length + 1 > Number((n.status as { allocatable: { pods: string } }).allocatable.pods) ? 'Too many pods' : undefined);

test('bindings are re-checked against the pods already on the node, earlier bindings of the same entry included', async (t) => {
  const c = await LocalCluster.create({ clock: new FakeClock(), bindCheck: podCount });
  await c.create(node('n1', 2));
  await c.create(pod('pre', 'n1'));
  const made = await Promise.all(['a', 'b', 'c'].map((n) => c.create(pod(n))));
  const uid = (o: Record<string, unknown>) => (o.metadata as { uid: string }).uid;
  const results = await c.bind(made.map((p) => ({ namespace: 'default', name: (p.metadata as { name: string }).name, uid: uid(p), nodeName: 'n1' })));
  t.deepEqual(results.map((r) => r.ok), [true, false, false]);
  t.is(results[1]!.reason, 'Conflict');
  t.regex(results[1]!.message!, /no longer fits: Too many pods/);
  t.is((c.get('Pod', 'default', 'a')!.spec as { nodeName: string }).nodeName, 'n1');
  t.is(c.store.podsOnNode('n1').length, 2);
  // Deleting a pod frees its place; the index follows.
  await c.delete('Pod', 'default', 'pre', { gracePeriodSeconds: 0 });
  t.is(c.store.podsOnNode('n1').length, 1);
  const again = await c.bind([{ namespace: 'default', name: 'b', uid: uid(made[1]!), nodeName: 'n1' }]);
  t.true(again[0]!.ok);
  // Already bound, wrong uid, unknown node.
  const bad = await c.bind([
    { namespace: 'default', name: 'b', uid: uid(made[1]!), nodeName: 'n1' },
    { namespace: 'default', name: 'c', uid: 'nope', nodeName: 'n1' },
    { namespace: 'default', name: 'c', uid: uid(made[2]!), nodeName: 'n9' },
  ]);
  t.deepEqual(bad.map((r) => r.reason), ['Conflict', 'Conflict', 'NotFound']);
});

test('a write decided in an older term does not commit in a newer one', async (t) => {
  const c = await LocalCluster.create();
  await c.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' }, data: { a: '1' } });
  c.term = 2; // leadership moved on; decisions are still tagged with term 1
  const err = await t.throwsAsync(() => c.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'y', namespace: 'default' } }));
  t.true(err instanceof WriteError);
  t.is((err as WriteError).reason, 'Conflict');
  t.regex(err!.message, /decided in term 1 but committed in term 2/);
  t.is(c.get('ConfigMap', 'default', 'y'), undefined);
  c.decideIn(2);
  await c.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'y', namespace: 'default' } });
  t.truthy(c.get('ConfigMap', 'default', 'y'));
});

test('foreground and orphan deletion mark the object with the finalizer the garbage collector works off', async (t) => {
  const c = await LocalCluster.create();
  await c.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'f', namespace: 'default' } });
  await c.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'o', namespace: 'default' } });
  const f = await c.delete('ConfigMap', 'default', 'f', { propagationPolicy: 'foreground' });
  const o = await c.delete('ConfigMap', 'default', 'o', { propagationPolicy: 'orphan' });
  t.deepEqual((f.metadata as { finalizers: string[] }).finalizers, ['foregroundDeletion']);
  t.deepEqual((o.metadata as { finalizers: string[] }).finalizers, ['orphan']);
  t.truthy((c.get('ConfigMap', 'default', 'f')!.metadata as { deletionTimestamp?: string }).deletionTimestamp);
  const missing = await t.throwsAsync(() => c.delete('ConfigMap', 'default', 'x-missing'));
  t.is((missing as WriteError).reason, 'NotFound');
});

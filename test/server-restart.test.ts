/**
 * Three `berth server` processes: 10,000 ConfigMaps survive stopping and starting every
 * replica. Afterwards each replica lists all of them (paged, 500 at a time) with the
 * resourceVersions and data they were created with.
 */
import test from 'ava';
import { configMap, createSurely, dataOf, listAll, nameOf, pool, rvOf, startCluster, waitForLeader } from './server-harness.ts';

const COUNT = 10_000;
const IN_FLIGHT = 64;
const PAGE = 500;

test('a full restart keeps all 10,000 objects, identical on every replica', async (t) => {
  const h = await startCluster(t, 3);
  const name = (i: number) => `obj-${String(i).padStart(5, '0')}`;
  const created = new Map<string, string>();
  await pool(COUNT, IN_FLIGHT, async (i) => {
    const o = await createSurely(h.pinned[i % h.size]!, configMap(name(i), { i: String(i) }, { labels: { shard: String(i % 7) } }));
    created.set(nameOf(o), rvOf(o));
  });
  t.is(created.size, COUNT);
  t.is(new Set(created.values()).size, COUNT, 'every create got its own resourceVersion');

  await h.cluster.stopAll();
  for (const id of h.ids) t.false(h.cluster.running(id));
  await h.cluster.startAll();
  await waitForLeader(h, { limitMs: 30_000 });

  for (const c of h.pinned) {
    const walk = await listAll(c, 'ConfigMap', { namespace: 'default', limit: PAGE });
    t.is(walk.items.length, COUNT, `${c.endpoint}: object count`);
    t.is(walk.pages, COUNT / PAGE, `${c.endpoint}: pages of ${PAGE}`);
    t.true(walk.pageSizes.every((s) => s === PAGE));
    const mismatched: string[] = [];
    const seen = new Set<string>();
    for (const o of walk.items) {
      const n = nameOf(o);
      if (seen.has(n)) mismatched.push(`${n}: listed twice`);
      seen.add(n);
      if (created.get(n) !== rvOf(o)) mismatched.push(`${n}: resourceVersion ${rvOf(o)}, created at ${created.get(n)}`);
      if (dataOf(o).i !== String(Number(n.slice(4)))) mismatched.push(`${n}: data ${JSON.stringify(dataOf(o))}`);
    }
    t.deepEqual(mismatched.slice(0, 20), [], `${c.endpoint}: ${mismatched.length} objects differ from what was acknowledged`);
  }
  // A selector still works over the reloaded objects.
  const shard3 = await listAll(h.pinned[1]!, 'ConfigMap', { namespace: 'default', labelSelector: 'shard=3', limit: PAGE });
  t.is(shard3.items.length, Array.from({ length: COUNT }, (_, i) => i).filter((i) => i % 7 === 3).length);
});

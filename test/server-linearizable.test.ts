/**
 * Three `berth server` processes: a write acknowledged by one replica is seen at once by
 * a linearizable read on any other replica; serializable (local) reads may lag but never
 * go backwards on one replica, and only ever show a state that was written.
 */
import test from 'ava';
import { ApiCallError, type PlainObject } from '../src/client/client.ts';
import { codeOf, configMap, createSurely, dataOf, readSurely, rvOf, startCluster, updateSurely } from './server-harness.ts';

const ITERATIONS = 150;

test('a write through one replica is seen at once by a linearizable read on any other', async (t) => {
  const h = await startCluster(t, 3);
  const n = h.size;

  // resourceVersion of the shared ConfigMap → the value written at that version.
  const written = new Map<string, string>();
  // Values whose write was sent twice (its first outcome unknown): one copy may sit at a
  // version no acknowledgement named.
  const resent = new Set<string>();
  const first = await createSurely(h.pinned[0]!, configMap('shared', { v: 'init' }));
  written.set(rvOf(first), 'init');
  // The highest version of `shared` each replica has shown in a serializable read.
  const localHigh = new Array<number>(n).fill(0);
  let lagging = 0;

  for (let k = 0; k < ITERATIONS; k++) {
    const i = k % n;
    const j = (i + 1 + (Math.floor(k / n) % (n - 1))) % n;
    const writer = h.pinned[i]!;
    const reader = h.pinned[j]!;

    // An update of one object through replica i, read back through replica j.
    const value = `k${k}`;
    const { object: updated, retried } = await updateSurely(writer, configMap('shared', { v: value }));
    written.set(rvOf(updated), value);
    if (retried) resent.add(value);
    const seen = await readSurely(() => reader.get('ConfigMap', 'default', 'shared'));
    if (dataOf(seen).v !== value || rvOf(seen) !== rvOf(updated)) {
      t.fail(`iteration ${k}: wrote v=${value} at ${rvOf(updated)} through replica ${i + 1}, replica ${j + 1} read v=${dataOf(seen).v} at ${rvOf(seen)}`);
      return;
    }

    // A create through replica i, read back through replica j.
    const name = `fresh-${k}`;
    const created = await createSurely(writer, configMap(name, { k: String(k) }));
    let got: PlainObject;
    try {
      got = await readSurely(() => reader.get('ConfigMap', 'default', name));
    } catch (e) {
      t.fail(`iteration ${k}: created ${name} through replica ${i + 1}; replica ${j + 1} answered ${codeOf(e)}`);
      return;
    }
    t.is(rvOf(got), rvOf(created), `iteration ${k}: resourceVersion of ${name} on replica ${j + 1}`);
    t.is(dataOf(got).k, String(k));
    t.is((got.metadata as { uid?: string }).uid, (created.metadata as { uid?: string }).uid);

    // Serializable reads on every replica: may lag, never go backwards, never invent.
    for (let r = 0; r < n; r++) {
      let local: PlainObject;
      try {
        local = await readSurely(() => h.pinned[r]!.get('ConfigMap', 'default', 'shared', true));
      } catch (e) {
        // Not yet applied there is fine only before the replica has ever shown it.
        if (e instanceof ApiCallError && e.codeName === 'NOT_FOUND' && localHigh[r] === 0) continue;
        throw e;
      }
      const rv = Number(rvOf(local));
      if (rv < localHigh[r]!) {
        t.fail(`iteration ${k}: a serializable read on replica ${r + 1} went back from ${localHigh[r]} to ${rv}`);
        return;
      }
      const expected = written.get(String(rv));
      if (expected === undefined ? !resent.has(dataOf(local).v!) : dataOf(local).v !== expected) {
        t.fail(`iteration ${k}: replica ${r + 1} served v=${dataOf(local).v} at ${rv}, which no write produced`);
        return;
      }
      if (rv < Number(rvOf(updated))) lagging++;
      localHigh[r] = rv;
    }
  }
  t.log(`${ITERATIONS} iterations; serializable reads behind the latest write: ${lagging}`);

  // A linearizable list on every replica sees every create.
  for (let r = 0; r < n; r++) {
    const l = await readSurely(() => h.pinned[r]!.list('ConfigMap', { namespace: 'default' }));
    t.is(l.items.filter((o) => String((o.metadata as { name: string }).name).startsWith('fresh-')).length, ITERATIONS, `replica ${r + 1}`);
  }
});

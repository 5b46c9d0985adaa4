/**
 * Three `berth server` processes: read-modify-write increments of one counter through
 * every replica, with resourceVersion preconditions. Stale writes are refused (ABORTED)
 * and retried; no update is lost: the counter's history, watched, is 1, 2, 3, ... with
 * every acknowledged increment in it once, and the final value counts every increment.
 */
import test from 'ava';
import { ApiCallError, type WatchEventOut } from '../src/client/client.ts';
import { codeOf, configMap, createSurely, dataOf, outcomeUnknown, readSurely, rvOf, startCluster, until } from './server-harness.ts';

const CLIENTS_PER_REPLICA = 3;
const INCREMENTS_EACH = 12;

test('concurrent read-modify-write through different replicas: no lost update', async (t) => {
  const h = await startCluster(t, 3);
  const clients = h.ids.flatMap((id) => Array.from({ length: CLIENTS_PER_REPLICA }, () => h.clientFor(id)));
  const created = await createSurely(h.pinned[0]!, configMap('counter', { n: '0', by: 'create' }));

  // Every change of the counter, from its creation on (no replica is stopped in this test,
  // so a broken stream is resumed on the same replica from the last version seen).
  const history: { n: number; by: string; rv: number }[] = [];
  let lastRv = rvOf(created);
  let stopped = false;
  let cancel: () => void = () => {};
  const open = () => {
    cancel = h.pinned[1]!.watch(
      'ConfigMap',
      { namespace: 'default', fieldSelector: 'metadata.name=counter', resourceVersion: lastRv },
      (ev: WatchEventOut) => {
        if (ev.type === 'BOOKMARK') return;
        history.push({ n: Number(dataOf(ev.object!).n), by: dataOf(ev.object!).by ?? '', rv: Number(ev.resourceVersion) });
        lastRv = ev.resourceVersion;
      },
      () => {
        if (!stopped) setTimeout(open, 50);
      },
    );
  };
  open();
  t.teardown(() => {
    stopped = true;
    cancel();
  });

  const acked = new Map<string, { n: number; rv: number }>();
  const unknown = new Set<string>();
  let aborted = 0;

  // Round one, in lockstep: everyone reads the same version, then everyone writes with it
  // as the precondition. Exactly one write can win; every other must be ABORTED.
  const snapshot = await Promise.all(clients.map((c) => readSurely(() => c.get('ConfigMap', 'default', 'counter'))));
  t.true(snapshot.every((o) => rvOf(o) === rvOf(created)), 'linearizable reads of an object nobody else writes agree');
  const race = await Promise.allSettled(clients.map((c, i) => c.update(configMap('counter', { n: '1', by: `race-${i}` }, { resourceVersion: rvOf(created) }))));
  for (const [i, r] of race.entries()) {
    if (r.status === 'fulfilled') acked.set(`race-${i}`, { n: 1, rv: Number(rvOf(r.value)) });
    else if (outcomeUnknown(r.reason)) unknown.add(`race-${i}`);
    else t.is(codeOf(r.reason), 'ABORTED', `race-${i}: ${String(r.reason)}`);
  }
  t.true(acked.size <= 1, `at most one update with the same precondition succeeds (${acked.size} did)`);
  if (unknown.size === 0) t.is(acked.size, 1, 'exactly one update with the same precondition succeeds');

  // Then free-running: each client makes INCREMENTS_EACH acknowledged increments.
  let attempts = 0;
  const worker = async (c: (typeof clients)[number], w: number) => {
    for (let done = 0; done < INCREMENTS_EACH; ) {
      const cur = await readSurely(() => c.get('ConfigMap', 'default', 'counter'));
      const n = Number(dataOf(cur).n) + 1;
      const by = `c${w}-${++attempts}`;
      try {
        const out = await c.update(configMap('counter', { n: String(n), by }, { resourceVersion: rvOf(cur) }));
        t.is(dataOf(out).n, String(n));
        acked.set(by, { n, rv: Number(rvOf(out)) });
        done++;
      } catch (e) {
        if (e instanceof ApiCallError && e.codeName === 'ABORTED') aborted++;
        else if (outcomeUnknown(e)) unknown.add(by);
        else throw e;
      }
    }
  };
  await Promise.all(clients.map(worker));

  const final = await readSurely(() => h.pinned[2]!.get('ConfigMap', 'default', 'counter'));
  await until(`the watch to reach ${rvOf(final)}`, async () => (Number(lastRv) >= Number(rvOf(final)) ? true : undefined), 20_000);
  t.log(`${clients.length} clients, ${acked.size} acknowledged updates, ${aborted} ABORTED retries, ${unknown.size} of unknown outcome`);

  // The counter went 1, 2, 3, ... one update at a time: no two updates read the same value.
  t.deepEqual(
    history.map((e) => e.n),
    Array.from({ length: history.length }, (_, i) => i + 1),
    'each change increments the counter by exactly one',
  );
  t.is(Number(dataOf(final).n), history.length, 'the final value counts every change');
  t.is(Number(rvOf(final)), history.at(-1)!.rv);
  // Every acknowledged update is in the history once, with the value and version it was
  // acknowledged with; anything else in it is an update whose outcome was unknown.
  const byAttempt = new Map(history.map((e) => [e.by, e]));
  t.is(byAttempt.size, history.length, 'no update appears twice');
  for (const [by, a] of acked) {
    const e = byAttempt.get(by);
    if (!e || e.n !== a.n || e.rv !== a.rv) t.fail(`acknowledged ${by} (n=${a.n} at ${a.rv}) is not in the history as such: ${JSON.stringify(e)}`);
  }
  const landedUnknown = history.filter((e) => !acked.has(e.by));
  for (const e of landedUnknown) t.true(unknown.has(e.by), `${e.by} (n=${e.n}) in the history was neither acknowledged nor of unknown outcome`);
  t.is(Number(dataOf(final).n), acked.size + landedUnknown.length, 'the counter equals the number of successful updates');
  if (unknown.size === 0) t.is(Number(dataOf(final).n), 1 + clients.length * INCREMENTS_EACH);

  // Every replica agrees.
  for (const c of h.pinned) {
    const o = await readSurely(() => c.get('ConfigMap', 'default', 'counter'));
    t.is(dataOf(o).n, dataOf(final).n, `the counter through ${c.endpoint}`);
    t.is(rvOf(o), rvOf(final));
  }
});

test('updates without a resourceVersion do not conflict: every one lands, last write wins', async (t) => {
  const h = await startCluster(t, 3);
  const WRITERS = 24;
  const EACH = 8;
  const created = await createSurely(h.pinned[0]!, configMap('hot', { by: 'create' }));
  const seen: string[] = [];
  let lastRv = rvOf(created);
  let stopped = false;
  let cancel: () => void = () => {};
  const open = () => {
    cancel = h.pinned[2]!.watch(
      'ConfigMap',
      { namespace: 'default', fieldSelector: 'metadata.name=hot', resourceVersion: lastRv },
      (ev: WatchEventOut) => {
        if (ev.type === 'BOOKMARK') return;
        seen.push(dataOf(ev.object!).by ?? '');
        lastRv = ev.resourceVersion;
      },
      () => {
        if (!stopped) setTimeout(open, 50);
      },
    );
  };
  open();
  t.teardown(() => {
    stopped = true;
    cancel();
  });

  const failures: string[] = [];
  const acked = new Set<string>();
  const unknown = new Set<string>();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const c = h.clientFor((w % h.size) + 1);
      for (let k = 0; k < EACH; k++) {
        const by = `w${w}-${k}`;
        try {
          await c.update(configMap('hot', { by }));
          acked.add(by);
        } catch (e) {
          if (outcomeUnknown(e)) unknown.add(by);
          else failures.push(`${by}: ${codeOf(e)} ${(e as Error).message}`);
        }
      }
    }),
  );
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${WRITERS * EACH} unconditional updates failed`);
  const final = await readSurely(() => h.pinned[1]!.get('ConfigMap', 'default', 'hot'));
  await until(`the watch to reach ${rvOf(final)}`, async () => (Number(lastRv) >= Number(rvOf(final)) ? true : undefined), 20_000);
  t.is(seen.at(-1), dataOf(final).by, 'the last change seen is the stored value');
  t.is(new Set(seen).size, seen.length, 'no update applied twice');
  for (const by of acked) t.true(seen.includes(by), `acknowledged ${by} was applied`);
  for (const by of seen) t.true(acked.has(by) || unknown.has(by), `${by} was written`);
});

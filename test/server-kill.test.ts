/**
 * Three `berth server` processes under a steady stream of creates (32 in flight, through
 * every replica): kill -9 a follower, later the leader, and restart each. Every create
 * that was acknowledged is present, with its data, on every replica at the end.
 */
import test from 'ava';
import { ApiCallError } from '../src/client/client.ts';
import { configMap, dataOf, listAll, nameOf, rvOf, sleep, startCluster, until, waitForLeader } from './server-harness.ts';

const IN_FLIGHT = 32;

test('kill -9 a follower and then the leader mid-write: nothing acknowledged is lost', async (t) => {
  const h = await startCluster(t, 3);
  // One failover client per writer, starting at different replicas.
  const writers = Array.from({ length: IN_FLIGHT }, (_, w) => h.failoverClient((w % h.size) + 1, 10_000));
  const acknowledged = new Map<string, { v: string; rv: string }>();
  const failures = new Map<string, number>();
  let seq = 0;
  let stop = false;

  const write = async (w: number) => {
    const c = writers[w]!;
    while (!stop) {
      const n = ++seq;
      const name = `w-${n}`;
      const v = `value-${n}-${w}`;
      try {
        const o = await c.create(configMap(name, { v }));
        acknowledged.set(name, { v: dataOf(o).v!, rv: rvOf(o) });
      } catch (e) {
        if (!(e instanceof ApiCallError)) throw e;
        const k = `${e.codeName}: ${e.message.replace(/\d+/g, 'N').slice(0, 80)}`;
        failures.set(k, (failures.get(k) ?? 0) + 1);
        await sleep(20);
      }
    }
  };
  const acks = (n: number) => until(`${n} acknowledged creates`, async () => (acknowledged.size >= n ? true : undefined), 30_000);

  const running = Array.from({ length: IN_FLIGHT }, (_, w) => write(w));
  try {
    await acks(300);
    const leader1 = await waitForLeader(h);
    const follower = h.ids.find((id) => id !== leader1)!;
    await h.cluster.kill(follower, 'SIGKILL');
    t.log(`killed follower ${follower} after ${acknowledged.size} acks`);
    await acks(acknowledged.size + 300);
    await h.cluster.start(follower);
    await acks(acknowledged.size + 200);

    const leader2 = await waitForLeader(h);
    const atKill = acknowledged.size;
    await h.cluster.kill(leader2, 'SIGKILL');
    t.log(`killed leader ${leader2} after ${atKill} acks`);
    const leader3 = await waitForLeader(h, { not: leader2 });
    t.not(leader3, leader2);
    await acks(atKill + 300);
    await h.cluster.start(leader2);
    await acks(acknowledged.size + 200);
  } finally {
    stop = true;
    await Promise.all(running);
  }
  t.log(`${acknowledged.size} acknowledged creates; failed calls: ${JSON.stringify(Object.fromEntries(failures))}`);
  // Every name is used once: ALREADY_EXISTS could only mean the client sent a create a
  // second time after its first attempt took effect (a write must not be retried when its
  // outcome is unknown, e.g. when the replica died mid-call).
  t.deepEqual(
    [...failures.keys()].filter((k) => k.startsWith('ALREADY_EXISTS')),
    [],
    'no create was sent twice',
  );

  // Every replica, read linearizably once all are back, has every acknowledged create.
  await waitForLeader(h);
  for (const c of h.pinned) {
    const walk = await until(`a full list from ${c.endpoint}`, () => listAll(c, 'ConfigMap', { namespace: 'default', limit: 1000 }), 20_000);
    const have = new Map(walk.items.map((o) => [nameOf(o), o]));
    const lost: string[] = [];
    for (const [name, ack] of acknowledged) {
      const o = have.get(name);
      if (!o) lost.push(`${name}: missing`);
      else if (dataOf(o).v !== ack.v || rvOf(o) !== ack.rv) lost.push(`${name}: ${JSON.stringify(dataOf(o))} at ${rvOf(o)}, acknowledged ${ack.v} at ${ack.rv}`);
    }
    t.deepEqual(lost.slice(0, 20), [], `${c.endpoint}: ${lost.length} acknowledged creates lost or changed`);
    t.is(new Set(walk.items.map((o) => nameOf(o))).size, walk.items.length, 'no name listed twice');
  }
});

/**
 * Three `berth server` processes: watches opened on a follower and on the leader from a
 * resourceVersion, while writers create, update and delete ConfigMaps and leadership moves
 * (two transfers, then kill -9 of the leader and its restart). A watch whose replica dies
 * resumes from the last version it saw on another replica. Every acknowledged write must
 * be seen exactly once, in order, by both watches; nothing that was not written may be
 * seen; and the two watches must see the same history.
 */
import test from 'ava';
import { ApiCallError, type BerthClient, type PlainObject, type WatchEventOut } from '../src/client/client.ts';
import { configMap, createSurely, dataOf, listAll, nameOf, outcomeUnknown, readSurely, rvOf, sleep, startCluster, until, waitForLeader, type Harness } from './server-harness.ts';

const NS = 'wt';
const BASE = 40;
const WRITERS = 6;

interface Seen {
  type: string;
  rv: number;
  name: string;
  token: string;
}

/** A small deterministic PRNG (mulberry32). */
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

/** A watch that, when its stream breaks, resumes from the last version seen on the next running replica. */
class ResumingWatch {
  readonly events: Seen[] = [];
  readonly breaks: string[] = [];
  readonly resumedOn: number[] = [];
  private lastRv: string;
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly h: Harness,
    private on: number,
    fromRv: string,
  ) {
    this.lastRv = fromRv;
    this.open();
  }

  get last(): number {
    return Number(this.lastRv);
  }

  get replica(): number {
    return this.on;
  }

  private open(): void {
    const c: BerthClient = this.h.pinned[this.on - 1]!;
    this.cancel = c.watch(
      'ConfigMap',
      { namespace: NS, resourceVersion: this.lastRv },
      (ev: WatchEventOut) => {
        if (ev.type === 'BOOKMARK') return;
        const o = ev.object!;
        this.events.push({ type: ev.type, rv: Number(ev.resourceVersion), name: nameOf(o), token: dataOf(o).token ?? '' });
        this.lastRv = ev.resourceVersion;
      },
      (err: ApiCallError | undefined) => {
        if (this.stopped) return;
        this.breaks.push(`replica ${this.on} after ${this.lastRv}: ${err ? `${err.codeName} ${err.message}` : 'stream ended'}`);
        void this.resume();
      },
    );
  }

  private async resume(): Promise<void> {
    await sleep(50);
    if (this.stopped) return;
    // The next replica that runs; the one that failed only if no other does.
    const order = this.h.ids.map((_, k) => ((this.on + k) % this.h.size) + 1);
    this.on = order.find((id) => this.h.cluster.running(id)) ?? this.on;
    this.resumedOn.push(this.on);
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }
}

test('watches on a follower and on the leader miss nothing and repeat nothing across leader changes', async (t) => {
  const h = await startCluster(t, 3);
  await createSurely(h.any, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await Promise.all(Array.from({ length: BASE }, (_, k) => createSurely(h.any, configMap(`base-${k}`, { token: `init-${k}` }, { namespace: NS }))));
  const start = await readSurely(() => h.any.list('ConfigMap', { namespace: NS }));
  t.is(start.items.length, BASE);

  const leader0 = await waitForLeader(h);
  const [follower, other] = h.ids.filter((id) => id !== leader0) as [number, number];
  const onFollower = new ResumingWatch(h, follower, start.resourceVersion);
  const onLeader = new ResumingWatch(h, leader0, start.resourceVersion);
  t.teardown(() => {
    onFollower.stop();
    onLeader.stop();
  });

  // Writers: every write carries a unique token, so each event names the write it shows.
  type Op = 'update' | 'create' | 'delete';
  const attempted = new Map<string, { op: Op; name: string }>();
  const acked: { op: Op; name: string; token: string; rv: number }[] = [];
  const ackedDeletes = new Set<string>();
  const maybeDeleted = new Set<string>();
  const failed = new Map<string, number>();
  let stop = false;
  let seq = 0;
  const writer = async (w: number) => {
    const c = h.failoverClient((w % h.size) + 1, 10_000);
    const mine: string[] = [];
    const random = rng(w + 1);
    while (!stop) {
      const pick = Math.floor(random() * 10);
      const token = `t${++seq}-w${w}`;
      let op: Op = 'update';
      try {
        if (pick < 7) {
          const name = `base-${Math.floor(random() * BASE)}`;
          attempted.set(token, { op: 'update', name });
          const o = await c.update(configMap(name, { token }, { namespace: NS }));
          acked.push({ op: 'update', name, token, rv: Number(rvOf(o)) });
        } else if (pick < 9 || mine.length === 0) {
          op = 'create';
          const name = `new-${token}`;
          attempted.set(token, { op: 'create', name });
          const o = await c.create(configMap(name, { token }, { namespace: NS }));
          acked.push({ op: 'create', name, token, rv: Number(rvOf(o)) });
          mine.push(name);
        } else {
          op = 'delete';
          const name = mine.shift()!;
          maybeDeleted.add(name);
          await c.delete('ConfigMap', NS, name);
          ackedDeletes.add(name);
        }
      } catch (e) {
        if (!(e instanceof ApiCallError)) throw e;
        const k = `${op} ${e.codeName}: ${e.message.replace(/\d+/g, 'N').slice(0, 60)}`;
        failed.set(k, (failed.get(k) ?? 0) + 1);
        await sleep(20);
      }
    }
  };
  const acks = (n: number) => until(`${n} acknowledged writes`, async () => (acked.length >= n ? true : undefined), 30_000);
  const leaderIs = (id: number) => until(`replica ${id} to lead`, async () => ((await waitForLeader(h, { limitMs: 2000 })) === id ? true : undefined), 20_000);

  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  try {
    await acks(150);
    await h.pinned[leader0 - 1]!.transferLeader(other);
    await leaderIs(other);
    await acks(acked.length + 150);
    await h.pinned[other - 1]!.transferLeader(leader0);
    await leaderIs(leader0);
    await acks(acked.length + 150);
    await h.cluster.kill(leader0, 'SIGKILL');
    await waitForLeader(h, { not: leader0 });
    await acks(acked.length + 150);
    await h.cluster.start(leader0);
    await acks(acked.length + 150);
  } finally {
    stop = true;
    await Promise.all(writers);
  }

  // A last write through a replica that was never killed: once a watch has seen it, it
  // has seen everything before it.
  let marker: PlainObject | undefined;
  for (let attempt = 0; !marker; attempt++) {
    const token = `final-${attempt}`;
    attempted.set(token, { op: 'update', name: 'base-0' });
    try {
      marker = await h.pinned[follower - 1]!.update(configMap('base-0', { token }, { namespace: NS }));
      acked.push({ op: 'update', name: 'base-0', token, rv: Number(rvOf(marker)) });
    } catch (e) {
      if (!outcomeUnknown(e) || attempt >= 100) throw e;
      await sleep(50);
    }
  }
  for (const [what, w] of [
    ['follower watch', onFollower],
    ['leader watch', onLeader],
  ] as const) {
    await until(`the ${what} to reach ${rvOf(marker)} (at ${w.last}, on replica ${w.replica})`, async () => (w.last >= Number(rvOf(marker)) ? true : undefined), 30_000);
  }
  onFollower.stop();
  onLeader.stop();
  await waitForLeader(h);
  t.log(
    `${acked.length} acknowledged writes (${ackedDeletes.size} deletes), failed calls ${JSON.stringify(Object.fromEntries(failed))}; ` +
      `leader watch: ${onLeader.events.length} events, breaks ${JSON.stringify(onLeader.breaks)}, resumed on ${onLeader.resumedOn.join(',')}; ` +
      `follower watch: ${onFollower.events.length} events, breaks ${onFollower.breaks.length}`,
  );

  for (const [what, w] of [
    ['follower watch', onFollower],
    ['leader watch', onLeader],
  ] as const) {
    const evs = w.events;
    // Strictly increasing versions: nothing repeated, nothing out of order.
    const disorder = evs.flatMap((e, i) => (i > 0 && e.rv <= evs[i - 1]!.rv ? [`${evs[i - 1]!.rv} then ${e.rv}`] : []));
    t.deepEqual(disorder.slice(0, 10), [], `${what}: versions must strictly increase`);
    t.true(evs.length === 0 || evs[0]!.rv > Number(start.resourceVersion), `${what}: nothing from before the start version`);

    // Every acknowledged create and update, at its version, exactly as written.
    const byRv = new Map(evs.map((e) => [e.rv, e]));
    const missing: string[] = [];
    for (const a of acked) {
      const e = byRv.get(a.rv);
      const type = a.op === 'create' ? 'ADDED' : 'MODIFIED';
      if (!e || e.type !== type || e.name !== a.name || e.token !== a.token) {
        missing.push(`${a.op} ${a.name} ${a.token} at ${a.rv}: saw ${e ? `${e.type} ${e.name} ${e.token}` : 'nothing'}`);
      }
    }
    t.deepEqual(missing.slice(0, 10), [], `${what}: ${missing.length} acknowledged writes not seen as written`);

    // Every acknowledged delete, once, after the object's creation.
    for (const name of ackedDeletes) {
      const dels = evs.filter((e) => e.type === 'DELETED' && e.name === name);
      const add = evs.find((e) => e.type === 'ADDED' && e.name === name);
      if (dels.length !== 1 || !add || add.rv > dels[0]!.rv) t.fail(`${what}: delete of ${name}: ${dels.length} DELETED events, ADDED at ${add?.rv}`);
    }

    // Nothing that was not written, and no write seen twice.
    const tokens = new Map<string, number>();
    for (const e of evs) {
      if (e.type === 'DELETED') {
        if (!maybeDeleted.has(e.name)) t.fail(`${what}: DELETED ${e.name} at ${e.rv}, which no writer deleted`);
        continue;
      }
      const a = attempted.get(e.token);
      if (!a || a.name !== e.name) t.fail(`${what}: ${e.type} ${e.name} at ${e.rv} with token ${e.token}, which no writer wrote`);
      tokens.set(e.token, (tokens.get(e.token) ?? 0) + 1);
    }
    t.deepEqual(
      [...tokens].filter(([, n]) => n > 1),
      [],
      `${what}: a write seen more than once`,
    );
  }
  t.deepEqual(
    onLeader.events.map((e) => `${e.rv} ${e.type} ${e.name}`),
    onFollower.events.map((e) => `${e.rv} ${e.type} ${e.name}`),
    'both watches saw the same history',
  );
  t.true(onLeader.breaks.length >= 1, 'the leader watch broke when its replica was killed');
  t.deepEqual(onFollower.breaks, [], 'the follower watch survived every leader change without breaking');

  // The history the watches saw, folded, is the state every replica holds.
  const folded = new Map<string, string>();
  for (const name of start.items.map((o) => nameOf(o))) folded.set(name, `init-${name.slice(5)}`);
  for (const e of onFollower.events) {
    if (e.type === 'DELETED') folded.delete(e.name);
    else folded.set(e.name, e.token);
  }
  for (const c of h.pinned) {
    const now = await until(`a list from ${c.endpoint}`, () => listAll(c, 'ConfigMap', { namespace: NS, limit: 500 }), 20_000);
    t.deepEqual(
      Object.fromEntries(now.items.map((o) => [nameOf(o), dataOf(o).token ?? ''])),
      Object.fromEntries([...folded].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))),
      `${c.endpoint}: the state equals the watched history folded`,
    );
  }
});

import test from 'ava';
import { ClusterEventRecorder } from '../src/controllers/events.ts';
import { formatTime } from '../src/controllers/pod-util.ts';
import { FakeClock, LocalCluster, quietLogger } from '../src/controllers/testing.ts';
import type { PlainObject } from '../src/controllers/types.ts';

async function setup(opts: { ttlMs?: number; bufferSize?: number; start?: boolean } = {}) {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  const rec = new ClusterEventRecorder({
    cluster,
    clock,
    component: 'berth-controller-manager',
    log: quietLogger,
    host: 'replica-1',
    ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
    ...(opts.bufferSize !== undefined ? { bufferSize: opts.bufferSize } : {}),
  });
  const ac = new AbortController();
  if (opts.start !== false) rec.start(ac.signal);
  return { clock, cluster, rec, ac };
}

const pod: PlainObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'default', uid: 'u-1', resourceVersion: '7' } };
const node: PlainObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'u-n1' } };

type Ev = PlainObject & { count: number; reason: string; message: string; type: string; firstTimestamp: string; lastTimestamp: string; involvedObject: Record<string, unknown>; source: Record<string, unknown> };
const eventsIn = (cluster: LocalCluster, ns = 'default') => cluster.list('Event', { namespace: ns }) as Ev[];

test('writes a core/v1 Event about the object', async (t) => {
  const { clock, cluster, rec } = await setup();
  rec.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
  await rec.idle();
  const [ev, ...rest] = eventsIn(cluster);
  t.is(rest.length, 0);
  t.regex((ev!.metadata as { name: string }).name, /^web-1\.[0-9a-f]{16}$/);
  t.like(ev, {
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u-1', resourceVersion: '7' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    type: 'Warning',
    source: { component: 'berth-controller-manager', host: 'replica-1' },
    count: 1,
    firstTimestamp: formatTime(clock.now()),
    lastTimestamp: formatTime(clock.now()),
    reportingComponent: 'berth-controller-manager',
    reportingInstance: 'replica-1',
  });
});

test('repeats are merged into one Event with a count; another message is another Event', async (t) => {
  const { clock, cluster, rec } = await setup();
  rec.event(pod, 'Normal', 'Pulled', 'Image pulled');
  await rec.idle();
  const first = formatTime(clock.now());
  await clock.advance(30_000);
  rec.event(pod, 'Normal', 'Pulled', 'Image pulled');
  rec.event(pod, 'Normal', 'Pulled', 'Image pulled');
  rec.event(pod, 'Normal', 'Pulled', 'Another image pulled');
  await rec.idle();
  const evs = eventsIn(cluster).sort((a, b) => a.message.localeCompare(b.message));
  t.is(evs.length, 2);
  t.like(evs[1], { message: 'Image pulled', count: 3, firstTimestamp: first, lastTimestamp: formatTime(clock.now()) });
  t.like(evs[0], { message: 'Another image pulled', count: 1 });
});

test('events about cluster-scoped objects live in "default"', async (t) => {
  const { cluster, rec } = await setup();
  rec.event(node, 'Normal', 'NodeNotReady', 'Node n1 status is now: NodeNotReady');
  await rec.idle();
  const [ev] = eventsIn(cluster);
  t.like(ev, { involvedObject: { kind: 'Node', name: 'n1' }, reason: 'NodeNotReady' });
  t.false('namespace' in ev!.involvedObject);
});

test('each object gets a burst of 25, then one per 5 minutes', async (t) => {
  const { clock, cluster, rec } = await setup();
  for (let i = 0; i < 40; i++) rec.event(pod, 'Normal', 'Spam', `message ${i}`);
  await rec.idle();
  t.is(eventsIn(cluster).length, 25);
  t.is(rec.limited, 15);
  await clock.advance(5 * 60_000);
  rec.event(pod, 'Normal', 'Spam', 'later 1');
  rec.event(pod, 'Normal', 'Spam', 'later 2');
  await rec.idle();
  t.is(eventsIn(cluster).length, 26);
  // Another object has its own bucket.
  rec.event({ ...pod, metadata: { name: 'web-2', namespace: 'default', uid: 'u-2' } }, 'Normal', 'Spam', 'x');
  await rec.idle();
  t.is(eventsIn(cluster).length, 27);
});

test('the sweeper deletes events not seen for the TTL; a later repeat starts a new Event', async (t) => {
  const { clock, cluster, rec } = await setup({ ttlMs: 60 * 60_000 });
  rec.event(pod, 'Normal', 'Old', 'old news');
  await rec.idle();
  await clock.advance(30 * 60_000);
  rec.event(pod, 'Normal', 'Fresh', 'fresh news');
  await rec.idle();
  await clock.advance(31 * 60_000);
  await rec.idle();
  t.deepEqual(eventsIn(cluster).map((e) => e.reason), ['Fresh']);
  rec.event(pod, 'Normal', 'Old', 'old news');
  await rec.idle();
  const again = eventsIn(cluster).find((e) => e.reason === 'Old');
  t.is(again?.count, 1);
});

test('recording never blocks or throws: the buffer is bounded, bad input is dropped, abort stops it', async (t) => {
  const { cluster, rec, ac } = await setup({ bufferSize: 3, start: false });
  for (let i = 0; i < 5; i++) rec.event(pod, 'Normal', 'Early', `m${i}`);
  t.is(rec.dropped, 2);
  t.notThrows(() => rec.event(null as unknown as PlainObject, 'Normal', 'Bad', 'x'));
  rec.start(ac.signal);
  await rec.idle();
  t.is(eventsIn(cluster).length, 3);
  ac.abort();
  rec.event(pod, 'Normal', 'Late', 'after leadership was lost');
  await rec.idle();
  t.is(eventsIn(cluster).length, 3);
});

import test from 'ava';
import { FakeClock } from '../src/controllers/testing.ts';
import { SchedulingQueue } from '../src/scheduler/queue.ts';
import { podInfo } from './scheduler-fixtures.ts';

function drain(q: SchedulingQueue): string[] {
  const out: string[] = [];
  for (let qp = q.pop(); qp; qp = q.pop()) out.push(qp.pod.name);
  return out;
}

test('active pods come out by priority, then age, then arrival', (t) => {
  const q = new SchedulingQueue({ clock: new FakeClock() });
  q.add(podInfo('low-old', { priority: 0, created: '2026-01-01T00:00:00Z' }));
  q.add(podInfo('high-new', { priority: 100, created: '2026-01-01T00:05:00Z' }));
  q.add(podInfo('low-new', { priority: 0, created: '2026-01-01T00:03:00Z' }));
  q.add(podInfo('high-old', { priority: 100, created: '2026-01-01T00:01:00Z' }));
  q.add(podInfo('low-old-2', { priority: 0, created: '2026-01-01T00:00:00Z' }));
  q.add(podInfo('negative', { priority: -5 }));
  t.deepEqual(drain(q), ['high-old', 'high-new', 'low-old', 'low-old-2', 'low-new', 'negative']);
});

test('a failing pod backs off 1 s, 2 s, 4 s, 8 s, then 10 s', async (t) => {
  const clock = new FakeClock();
  let woken = 0;
  const q = new SchedulingQueue({ clock, onActive: () => woken++ });
  q.add(podInfo('p'));
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    const qp = q.pop()!;
    t.truthy(qp, `attempt ${i + 1}`);
    q.failed(qp, false);
    t.is(q.activeCount, 0);
    const start = clock.now();
    // Step in 500 ms ticks until it is active again.
    while (q.activeCount === 0) await clock.advance(500);
    waits.push(clock.now() - start);
  }
  t.deepEqual(waits, [1000, 2000, 4000, 8000, 10_000, 10_000]);
  t.true(woken >= 7);
});

test('an unschedulable pod waits for an event that touches a plugin that rejected it', async (t) => {
  const clock = new FakeClock();
  const q = new SchedulingQueue({ clock });
  const RESOURCES = 0b01;
  const TAINTS = 0b10;
  q.add(podInfo('cpu'));
  q.add(podInfo('taint'));
  q.failed(q.pop()!, true, RESOURCES);
  q.failed(q.pop()!, true, TAINTS);
  t.deepEqual(q.counts(), { active: 0, backoff: 0, unschedulable: 2, inFlight: 0 });
  await clock.advance(20_000);
  t.is(q.activeCount, 0, 'no event: they stay parked (no back-off timer for them)');
  q.moveOnEvent(RESOURCES);
  t.deepEqual(drain(q), ['cpu'], 'a freed pod helps only the one short of resources');
  q.moveOnEvent(-1);
  t.deepEqual(drain(q), ['taint']);
});

test('a pod moved by an event while still backing off waits out the rest in backoff', async (t) => {
  const clock = new FakeClock();
  const q = new SchedulingQueue({ clock });
  q.add(podInfo('p'));
  q.failed(q.pop()!, true, 1);
  await clock.advance(400);
  q.moveOnEvent(1);
  t.deepEqual(q.counts(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
  await clock.advance(599);
  t.is(q.activeCount, 0);
  await clock.advance(1);
  t.is(q.activeCount, 1);
});

test('an event during a try sends the pod to backoff, not to wait for another event', async (t) => {
  const clock = new FakeClock();
  const q = new SchedulingQueue({ clock });
  q.add(podInfo('p'));
  const qp = q.pop()!;
  q.moveOnEvent(1); // e.g. a node was added while it was being tried
  q.failed(qp, true, 1);
  t.deepEqual(q.counts(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
  await clock.advance(1000);
  t.is(q.activeCount, 1);
});

test('parked pods are retried after 5 minutes without any event', async (t) => {
  const clock = new FakeClock();
  const q = new SchedulingQueue({ clock });
  q.add(podInfo('p'));
  q.failed(q.pop()!, true, 1);
  await clock.advance(4 * 60_000);
  t.is(q.activeCount, 0);
  await clock.advance(90_000);
  t.is(q.activeCount, 1);
  q.stop();
  t.is(clock.pending, 0, 'stop cancels every timer');
});

test('updates, deletes and bound pods', (t) => {
  const q = new SchedulingQueue({ clock: new FakeClock() });
  q.add(podInfo('a', { priority: 1 }));
  q.add(podInfo('b', { priority: 2 }));
  q.update(podInfo('a', { priority: 3 }));
  t.is(q.get('default/a')!.pod.priority, 3);
  q.delete('default/b');
  const a = q.pop()!;
  t.is(a.pod.name, 'a');
  t.is(q.pop(), undefined);
  // A spec change of a parked pod retries it at once.
  q.failed(a, true, 1);
  q.update(podInfo('a', { priority: 3, tolerations: [{ operator: 'Exists' }] }));
  t.deepEqual(q.counts(), { active: 0, backoff: 1, unschedulable: 0, inFlight: 0 });
  // Deleted while in flight: its failure is ignored.
  q.add(podInfo('c'));
  const c = q.pop()!;
  q.delete('default/c');
  q.failed(c, false);
  t.is(q.get('default/c'), undefined);
  q.add(podInfo('d'));
  q.done(q.pop()!.pod.uid);
  t.is(q.get('default/d'), undefined);
});

/**
 * The controllers' work queue: keys are reconciled in a later turn than the one that added
 * them (so a burst of events for one key costs one reconcile), and a turn starts a bounded
 * number of reconciles (so a long queue cannot hold the event loop).
 */
import test from 'ava';
import { WorkQueue } from '../src/controllers/queue.ts';
import { slowStartBatch } from '../src/controllers/pod-util.ts';
import type { Clock } from '../src/controllers/types.ts';

const clock: Clock = { now: () => 0, setTimer: () => () => {} };
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

test('adds in one turn are reconciled later, once per key', async (t) => {
  const seen: string[] = [];
  const q = new WorkQueue((k) => void seen.push(k), { clock, concurrency: 5 });
  for (let i = 0; i < 100; i++) q.add(i % 2 ? 'a' : 'b');
  t.deepEqual(seen, [], 'nothing runs inside the turn that added');
  await q.idle();
  t.deepEqual(seen.sort(), ['a', 'b']);
});

test('a key added while it is being reconciled is reconciled again afterwards', async (t) => {
  let runs = 0;
  let release!: () => void;
  const q = new WorkQueue(
    async () => {
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
    },
    { clock },
  );
  q.add('k');
  await nextTurn();
  t.is(runs, 1);
  q.add('k');
  q.add('k');
  release();
  await q.idle();
  t.is(runs, 2);
});

test('a long queue is worked off over many turns, a bounded number per turn', async (t) => {
  const perTurn: number[] = [];
  let count = 0;
  let turns = 0;
  // Counted per event-loop iteration (a self-renewing setImmediate runs once in each), not
  // per timer tick: a fast machine could work the whole queue off within one millisecond.
  let ticking = true;
  const tick = () => {
    if (!ticking) return;
    perTurn.push(count);
    count = 0;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const q = new WorkQueue(() => void count++, { clock, concurrency: 1000 });
  for (let i = 0; i < 1000; i++) q.add(`k${i}`);
  await q.idle();
  ticking = false;
  perTurn.push(count);
  t.is(perTurn.reduce((a, b) => a + b, 0), 1000);
  t.true(Math.max(...perTurn) < 1000, 'not all in one turn');
  t.true(turns > 0);
});

test('slowStartBatch keeps every call of a batch in flight together and stops after a failing batch', async (t) => {
  // Batches of 1, 2, 4, ..., 32 and the last 37. A call finishes only once every call of its
  // batch has started (no timers: a loaded machine cannot make calls finish early), so the
  // batch completes only if slowStartBatch keeps all of its calls in flight together.
  const sizes = [1, 2, 4, 8, 16, 32, 37];
  let inFlight = 0;
  let peak = 0;
  let started = 0;
  let waiting: (() => void)[] = [];
  const r = await slowStartBatch(100, 1, async () => {
    inFlight++;
    started++;
    peak = Math.max(peak, inFlight);
    let end = 0;
    const size = sizes.find((n) => (end += n) >= started)!;
    await new Promise<void>((res) => {
      waiting.push(res);
      if (waiting.length === size) {
        const all = waiting;
        waiting = [];
        for (const f of all) f();
      }
    });
    inFlight--;
  });
  t.deepEqual(r, { done: 100, attempted: 100 });
  t.is(peak, 37);
  let n = 0;
  const failing = await slowStartBatch(100, 1, async () => {
    if (++n === 5) throw new Error('quota');
  });
  // 1 + 2 + 4 attempted: the batch of 4 holds the fifth call, then it stops.
  t.is(failing.attempted, 7);
  t.is(failing.done, 6);
  t.is((failing.error as Error).message, 'quota');
});

test('slowStartBatch: a call failing while later ones of its batch are still being started is no unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    // 64 at once are started over several turns; each fails as soon as it starts (as a
    // create does when the leader changes under it).
    const r = await slowStartBatch(64, 64, async () => {
      throw new Error('the leader changed while the write was in flight');
    });
    await new Promise<void>((res) => setImmediate(res));
    t.is(r.attempted, 64);
    t.is(r.done, 0);
    t.regex(String((r.error as Error).message), /leader changed/);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  t.deepEqual(unhandled, []);
});

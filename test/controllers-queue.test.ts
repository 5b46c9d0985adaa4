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
  const tick = setInterval(() => {
    perTurn.push(count);
    count = 0;
    turns++;
  }, 0);
  const q = new WorkQueue(() => void count++, { clock, concurrency: 1000 });
  for (let i = 0; i < 1000; i++) q.add(`k${i}`);
  await q.idle();
  clearInterval(tick);
  perTurn.push(count);
  t.is(perTurn.reduce((a, b) => a + b, 0), 1000);
  t.true(Math.max(...perTurn) < 1000, 'not all in one turn');
  t.true(turns > 0);
});

test('slowStartBatch keeps every call of a batch in flight together and stops after a failing batch', async (t) => {
  let inFlight = 0;
  let peak = 0;
  const r = await slowStartBatch(100, 1, async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((res) => setTimeout(res, 1));
    inFlight--;
  });
  t.deepEqual(r, { done: 100, attempted: 100 });
  // Batches of 1, 2, 4, ..., 32 and the last 37: the largest all at once.
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

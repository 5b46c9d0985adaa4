/** The late-tick warning: when it speaks, what it counts, and how often. */
import test from 'ava';
import { LateTicks } from '../src/raft/late-ticks.ts';

test('ticks on time say nothing; a late one is said with its gap and role', (t) => {
  const l = new LateTicks(20);
  t.is(l.note(20, 1000, 'leader'), undefined);
  t.is(l.note(99, 1100, 'leader'), undefined); // under 5 ticks
  const line = l.note(164, 1264, 'leader');
  t.regex(line ?? '', /ticks ran late 1 time\(s\), the worst 164 ms \(tick 20 ms\) as leader/);
  t.regex(line ?? '', /sent no heartbeats/);
  t.notRegex(new LateTicks(20).note(300, 0, 'follower') ?? '', /heartbeats/);
});

test('within the interval late ticks are counted, then said together with the worst', (t) => {
  const l = new LateTicks(20, 5, 5000);
  t.truthy(l.note(120, 0, 'follower'));
  t.is(l.note(150, 1000, 'follower'), undefined);
  t.is(l.note(400, 2000, 'follower'), undefined);
  t.is(l.note(20, 4000, 'follower'), undefined); // on time: not counted
  const line = l.note(110, 5000, 'candidate');
  t.regex(line ?? '', /late 3 time\(s\), the worst 400 ms .* as candidate/);
  // The count starts again after a line.
  t.is(l.note(130, 6000, 'leader'), undefined);
  t.regex(l.note(100, 10_000, 'leader') ?? '', /late 2 time\(s\), the worst 130 ms/);
});

/**
 * The chaos linearizability checker on hand-made histories: it must accept what a
 * linearizable register may do (concurrency, indeterminate writes that happened or not,
 * conflicts explained by unseen writes) and catch what it must not (stale reads, lost
 * writes, values never written, reads that go back in time, a compare-and-set that
 * succeeded on a wrong version), answer "unknown" rather than guess past its budget, and
 * point at a small failing window.
 */
import test from 'ava';
import { checkHistory } from '../bench/chaos/checker.ts';
import type { Observation, Op, RegisterState } from '../bench/chaos/history.ts';

const INIT: RegisterState = { value: 'init', rv: 1 };

class H {
  readonly ops: Op[] = [];
  private id = 0;
  private add(op: Omit<Op, 'id' | 'client'> & { client?: string }): Op {
    const full: Op = { client: op.client ?? 'c0', ...op, id: this.id++ };
    this.ops.push(full);
    return full;
  }
  read(call: number, ret: number, value: string | null, rv: number, key = 'k'): Op {
    return this.add({ key, kind: 'read', call, ret, status: 'ok', value, rv });
  }
  write(call: number, ret: number | undefined, value: string, rv?: number, key = 'k'): Op {
    if (ret === undefined) return this.add({ key, kind: 'write', call, status: 'unknown', value, error: 'deadline exceeded' });
    return this.add({ key, kind: 'write', call, ret, status: 'ok', value, ...(rv !== undefined ? { rv } : {}) });
  }
  cas(call: number, ret: number | undefined, expect: number, value: string, result: number | 'conflict' | 'unknown', key = 'k'): Op {
    if (result === 'unknown' || ret === undefined) return this.add({ key, kind: 'cas', call, status: 'unknown', value, expect });
    if (result === 'conflict') return this.add({ key, kind: 'cas', call, ret, status: 'fail', value, expect });
    return this.add({ key, kind: 'cas', call, ret, status: 'ok', value, expect, rv: result });
  }
  failedRead(call: number, ret: number, key = 'k'): Op {
    return this.add({ key, kind: 'read', call, ret, status: 'error', error: 'UNAVAILABLE' });
  }
  check(opts: { observations?: Observation[]; maxSteps?: number; init?: Map<string, RegisterState> } = {}) {
    return checkHistory(this.ops, opts.init ?? new Map([['k', INIT]]), opts);
  }
}

test('a sequential history of reads, writes and compare-and-sets is linearizable', (t) => {
  const h = new H();
  h.read(0, 1, 'init', 1);
  h.write(2, 3, 'a', 5);
  h.read(4, 5, 'a', 5);
  h.cas(6, 7, 5, 'b', 9);
  h.cas(8, 9, 5, 'c', 'conflict');
  h.read(10, 11, 'b', 9);
  h.failedRead(12, 13);
  t.is(h.check().outcome, 'ok');
});

test('concurrent writes may take effect in either order; reads during them see either', (t) => {
  const h = new H();
  h.write(0, 10, 'a', 5, 'k');
  h.write(1, 9, 'b', 6, 'k');
  h.read(2, 3, 'init', 1);
  h.read(4, 8, 'a', 5);
  h.read(5, 12, 'b', 6);
  h.read(13, 14, 'b', 6);
  t.is(h.check().outcome, 'ok');
});

test('a stale read after a write completed is caught, with a small window naming it', (t) => {
  const h = new H();
  h.write(0, 5, 'a', 5);
  const stale = h.read(6, 7, 'init', 1);
  const r = h.check();
  t.is(r.outcome, 'violation');
  const k = r.keys[0]!;
  t.is(k.culprit?.id, stale.id);
  t.truthy(k.window && k.window.length <= 2);
  t.regex(k.detail ?? '', />>/);
});

test('reads may not go back in time across concurrent writes', (t) => {
  const h = new H();
  h.write(0, 10, 'a', 5);
  h.write(0, 10, 'b', 6);
  h.read(11, 12, 'b', 6);
  h.read(13, 14, 'a', 5);
  t.is(h.check().outcome, 'violation');
});

test('a lost acknowledged write is caught by a later read', (t) => {
  const h = new H();
  h.write(0, 5, 'a', 5);
  h.write(6, 8, 'b', 7);
  // The final read shows the first write: the acknowledged "b" is gone.
  h.read(100, 101, 'a', 5);
  const r = h.check();
  t.is(r.outcome, 'violation');
  t.is(r.keys[0]!.culprit?.ret, 101);
});

test('a value that was never written is caught', (t) => {
  const h = new H();
  h.write(0, 5, 'a', 5);
  h.read(6, 7, 'zzz', 9);
  t.is(h.check().outcome, 'violation');
});

test('an indeterminate write may have taken effect (seen later) or not (never seen)', (t) => {
  const took = new H();
  took.write(0, undefined, 'x');
  took.read(10, 11, 'x', 5);
  took.read(12, 13, 'x', 5);
  t.is(took.check().outcome, 'ok');

  const never = new H();
  never.write(0, undefined, 'x');
  never.read(10, 11, 'init', 1);
  never.write(12, 13, 'y', 8);
  never.read(14, 15, 'y', 8);
  t.is(never.check().outcome, 'ok');

  // Seen, then unseen again: once it took effect it cannot be undone.
  const flip = new H();
  flip.write(0, undefined, 'x');
  flip.read(10, 11, 'x', 5);
  flip.read(12, 13, 'init', 1);
  t.is(flip.check().outcome, 'violation');
});

test('an indeterminate write cannot be seen before it was invoked', (t) => {
  const h = new H();
  h.read(0, 1, 'x', 5);
  h.write(2, undefined, 'x');
  t.is(h.check().outcome, 'violation');
});

test('a compare-and-set is checked against the version it expected', (t) => {
  const ok = new H();
  ok.cas(0, 1, 1, 'a', 5);
  ok.read(2, 3, 'a', 5);
  t.is(ok.check().outcome, 'ok');

  const wrongVersion = new H();
  wrongVersion.write(0, 1, 'a', 4);
  wrongVersion.cas(2, 3, 1, 'b', 5); // succeeded although the version was 4
  t.is(wrongVersion.check().outcome, 'violation');

  const falseConflict = new H();
  falseConflict.cas(0, 1, 1, 'b', 'conflict'); // refused although the version was 1
  t.is(falseConflict.check().outcome, 'violation');

  const concurrent = new H();
  concurrent.write(0, 10, 'y', 4);
  concurrent.cas(2, 3, 1, 'b', 'conflict'); // the write may have come first
  t.is(concurrent.check().outcome, 'ok');
});

test('a conflict may be explained by an indeterminate write nobody saw, but not by one invoked after it', (t) => {
  const h = new H();
  h.write(0, undefined, 'x');
  h.cas(5, 6, 1, 'b', 'conflict');
  h.write(7, 8, 'c', 9);
  h.read(9, 10, 'c', 9);
  t.is(h.check().outcome, 'ok');

  const late = new H();
  late.cas(5, 6, 1, 'b', 'conflict');
  late.write(7, undefined, 'x');
  t.is(late.check().outcome, 'violation');

  // An indeterminate compare-and-set on another version cannot explain it either.
  const casOther = new H();
  casOther.cas(0, undefined, 3, 'x', 'unknown');
  casOther.cas(5, 6, 1, 'b', 'conflict');
  t.is(casOther.check().outcome, 'violation');
  const casSame = new H();
  casSame.cas(0, undefined, 1, 'x', 'unknown');
  casSame.cas(5, 6, 1, 'b', 'conflict');
  t.is(casSame.check().outcome, 'ok');
});

test('a write the watch saw took effect no later than it was seen', (t) => {
  const h = new H();
  h.write(0, undefined, 'x');
  h.read(4, 5, 'init', 1);
  t.is(h.check().outcome, 'ok');
  t.is(h.check({ observations: [{ key: 'k', value: 'x', rv: 5, at: 3 }] }).outcome, 'violation');
  t.is(h.check({ observations: [{ key: 'k', value: 'x', rv: 5, at: 6 }] }).outcome, 'ok');
});

test('keys are checked independently; only the bad key is reported', (t) => {
  const h = new H();
  h.write(0, 5, 'a', 5, 'k1');
  h.write(0, 5, 'b', 6, 'k2');
  h.read(6, 7, 'a', 5, 'k1');
  h.read(6, 7, 'init', 1, 'k2');
  const r = h.check({ init: new Map([['k1', INIT], ['k2', INIT]]) });
  t.is(r.outcome, 'violation');
  t.deepEqual(r.keys.map((k) => [k.key, k.outcome]), [['k1', 'ok'], ['k2', 'violation']]);
});

test('past its budget the checker answers unknown, not a guess', (t) => {
  // Forty concurrent reads and a write, then a read nobody can explain: proving that
  // takes every order of the reads (2^40 configurations), far past 100,000 steps.
  const h = new H();
  for (let i = 0; i < 40; i++) h.read(0, 100, 'init', 1);
  h.write(0, 100, 'a', 5);
  h.read(101, 102, 'zzz', 9);
  const r = h.check({ maxSteps: 100_000 });
  t.is(r.outcome, 'unknown');
  t.regex(r.keys[0]!.detail ?? '', /unknown \(search budget exceeded/);
  // Many concurrent writes are cheap: their versions order them.
  const w = new H();
  for (let i = 0; i < 200; i++) w.write(0, 100, `w${i}`, 400 - i);
  w.read(101, 102, 'w0', 400);
  const rw = w.check({ maxSteps: 100_000 });
  t.is(rw.outcome, 'ok');
});

test('a long history with one stale read yields a window of a few operations around it', (t) => {
  const h = new H();
  let rv = 1;
  let time = 0;
  let value = 'init';
  let stale: Op | undefined;
  for (let i = 0; i < 300; i++) {
    // Two clients: one writes, one reads, overlapping a little.
    value = `v${i}`;
    rv += 2;
    h.write(time, time + 3, value, rv);
    h.read(time + 1, time + 5, i === 0 ? 'init' : `v${i - 1}`, i === 0 ? 1 : rv - 2);
    if (i === 200) stale = h.read(time + 6, time + 7, `v${i - 5}`, rv - 10);
    time += 8;
  }
  const r = h.check();
  t.is(r.outcome, 'violation');
  const k = r.keys[0]!;
  t.is(k.culprit?.id, stale!.id);
  t.true(k.window!.length <= 6, `window of ${k.window!.length} operations:\n${k.detail}`);
});

test('concurrent clients on a shared register: a generated linearizable history passes', (t) => {
  // Simulate a linearizable register: each op takes effect at a random point inside its
  // interval; outcomes follow from the order of those points.
  let seed = 12345;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  type Pending = { call: number; ret: number; at: number; kind: 'read' | 'write' | 'cas'; value: string; expect: number; unknown: boolean };
  const pend: Pending[] = [];
  for (let c = 0; c < 4; c++) {
    let tm = rnd() * 3;
    for (let i = 0; i < 60; i++) {
      const dur = 1 + rnd() * 6;
      const kind = rnd() < 0.5 ? 'read' : rnd() < 0.5 ? 'write' : 'cas';
      pend.push({ call: tm, ret: tm + dur, at: tm + rnd() * dur, kind, value: `c${c}-${i}`, expect: 0, unknown: kind !== 'read' && rnd() < 0.1 });
      tm += dur + rnd() * 2;
    }
  }
  // Clients take the versions they compare against from what they saw: a version made by
  // an indeterminate write is usable only once a read saw it.
  let cur = { value: 'init', rv: 1, seen: true };
  let nextRv = 2;
  const h = new H();
  for (const p of [...pend].sort((a, b) => a.at - b.at)) {
    if (p.kind === 'read') {
      h.read(p.call, p.ret, cur.value, cur.rv);
      cur.seen = true;
    } else if (p.kind === 'write') {
      // An indeterminate write took effect half of the time.
      if (p.unknown && rnd() < 0.5) {
        h.write(p.call, undefined, p.value);
        continue;
      }
      cur = { value: p.value, rv: nextRv++, seen: !p.unknown };
      if (p.unknown) h.write(p.call, undefined, p.value);
      else h.write(p.call, p.ret, p.value, cur.rv);
    } else {
      const expect = rnd() < 0.7 && cur.seen ? cur.rv : cur.rv - 1;
      if (expect === cur.rv) {
        cur = { value: p.value, rv: nextRv++, seen: !p.unknown };
        if (p.unknown) h.cas(p.call, undefined, expect, p.value, 'unknown');
        else h.cas(p.call, p.ret, expect, p.value, cur.rv);
      } else {
        h.cas(p.call, p.ret, expect, p.value, 'conflict');
      }
    }
  }
  h.read(10_000, 10_001, cur.value, cur.rv);
  const r = h.check();
  t.is(r.outcome, 'ok', r.keys[0]?.detail);
});

test('a failing window keeps the writes its compare-and-sets depend on', (t) => {
  const h = new H();
  let time = 0;
  // Writes and compare-and-sets chained on versions, many reads, then one stale read.
  let rv = 1;
  for (let i = 0; i < 40; i++) {
    const next = rv + 3;
    if (i % 2 === 0) h.write(time, time + 2, `w${i}`, next);
    else h.cas(time, time + 2, rv, `w${i}`, next);
    h.read(time + 3, time + 4, `w${i}`, next);
    rv = next;
    time += 5;
  }
  h.read(time + 10, time + 11, 'w30', 1 + 31 * 3);
  const r = h.check();
  t.is(r.outcome, 'violation');
  const win = r.keys[0]!.window!;
  for (const op of win) {
    if (op.kind === 'cas' && op.status === 'ok') {
      t.true(
        op.expect === 1 || win.some((w) => w.kind !== 'read' && w.status === 'ok' && w.rv === op.expect),
        `the window keeps a compare-and-set on version ${op.expect} without the write that made it:\n${r.keys[0]!.detail}`,
      );
    }
  }
  t.true(win.length <= 6, r.keys[0]!.detail);
});

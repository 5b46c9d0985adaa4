/**
 * A linearizability checker for the chaos register workload.
 *
 * The model is a register per key holding (value, resourceVersion) with three operations:
 * read, write (an update without precondition) and compare-and-set (an update conditional
 * on metadata.resourceVersion). Every write creates a new, larger resourceVersion (the
 * Raft index of its entry).
 *
 * The search is Wing & Gong's, with Lowe's memoization, as Porcupine does it: the history
 * is split per key (a register's operations on different keys commute), call and return
 * events go into one time-ordered doubly linked list, and the search repeatedly picks an
 * operation whose call comes before the first pending return, applies it to the model,
 * lifts it out of the list, and backtracks when it meets a return it cannot explain.
 * A set of (linearized operations, model state) already explored is remembered so that no
 * configuration is searched twice.
 *
 * Indeterminate calls (timeouts, lost connections) may take effect at any point after
 * their invocation, or never:
 *  - one whose value some read or the watch saw did take effect, with the version it was
 *    seen at, no later than it was first seen: it becomes an ordinary completed operation;
 *  - one never seen may still have taken effect and been overwritten unseen. Its only
 *    observable trace is then a compare-and-set that failed although the version it
 *    expected was current: such a failure may be explained by linearizing one unseen
 *    indeterminate write just before it (the version is then only known to be larger).
 *    Linearizing it anywhere else would change nothing any operation saw, so the search
 *    never tries that (this keeps it from trying every subset of them).
 *
 * The search is bounded: past the budget the answer is "unknown", never a guess. A
 * violation comes with the smallest window the checker can find: the shortest failing
 * prefix of the key's history, then as few of its operations as still fail, keeping the
 * failing operation and the writes that the kept operations read.
 */
import { describeOp, type Observation, type Op, type RegisterState } from './history.ts';

type Kind = 'read' | 'write' | 'cas' | 'casFail';

/**
 * no: must be linearized before it returned (completed, or seen by someone).
 * known: may be linearized with its known result, or not at all (it was pending when a
 *        prefix of the history ends).
 * unseen: an indeterminate write nobody saw (see the file comment).
 */
type Optional = 'no' | 'known' | 'unseen';

interface MOp {
  op: Op;
  kind: Kind;
  call: number;
  ret: number;
  value: string | null;
  rv: number;
  expect: number;
  optional: Optional;
}

interface State {
  value: string | null;
  rv: number;
  /** False: the version is only known to be larger than `rv` (an unseen write happened). */
  exact: boolean;
}

const UNSEEN = '\u0000unseen';

export type Outcome = 'ok' | 'violation' | 'unknown';

export interface KeyResult {
  key: string;
  /** Operations the search considered. */
  ops: number;
  outcome: Outcome;
  steps: number;
  /** For a violation: the operation that cannot be linearized. */
  culprit?: Op;
  /** For a violation: a small failing window (culprit included), in invocation order. */
  window?: Op[];
  /** Why the answer is unknown, or a human description of the violation. */
  detail?: string;
}

export interface CheckResult {
  outcome: Outcome;
  keys: KeyResult[];
  steps: number;
}

export interface CheckOptions {
  /** Changes seen outside the calls (the watch): they resolve indeterminate writes. */
  observations?: Observation[];
  /** Search steps allowed per key (default 20 million). */
  maxSteps?: number;
  /** Wall-clock limit per key (default 120 s). */
  maxMs?: number;
  /** Look for a small failing window on a violation (default true). */
  minimize?: boolean;
}

/** Check a whole history; `init` gives each key's state before the first operation. */
export function checkHistory(ops: Op[], init: Map<string, RegisterState>, opts: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push(op);
  }
  const obsByKey = new Map<string, Observation[]>();
  for (const o of opts.observations ?? []) {
    let l = obsByKey.get(o.key);
    if (!l) obsByKey.set(o.key, (l = []));
    l.push(o);
  }
  const keys: KeyResult[] = [];
  let steps = 0;
  for (const [key, kops] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const start = init.get(key) ?? { value: null, rv: 0 };
    const r = checkKey(key, kops, start, obsByKey.get(key) ?? [], opts);
    steps += r.steps;
    keys.push(r);
  }
  const outcome: Outcome = keys.some((k) => k.outcome === 'violation') ? 'violation' : keys.some((k) => k.outcome === 'unknown') ? 'unknown' : 'ok';
  return { outcome, keys, steps };
}

function checkKey(key: string, ops: Op[], init: RegisterState, observations: Observation[], opts: CheckOptions): KeyResult {
  const mops = prepare(ops, observations);
  const start: State = { value: init.value, rv: init.rv, exact: true };
  const budget = { steps: opts.maxSteps ?? 20_000_000, deadline: performance.now() + (opts.maxMs ?? 120_000) };
  const r = search(mops, start, budget);
  const result: KeyResult = { key, ops: mops.length, outcome: r.outcome, steps: r.steps };
  if (r.outcome === 'unknown') {
    result.detail = `unknown (search budget exceeded after ${r.steps} steps)`;
    return result;
  }
  if (r.outcome === 'ok' || opts.minimize === false) return result;
  const small = smallestWindow(mops, start, opts);
  result.steps += small.steps;
  if (small.culprit) {
    result.culprit = small.culprit.op;
    result.window = small.window.map((m) => m.op).sort((a, b) => a.call - b.call || a.id - b.id);
  }
  result.detail = describeViolation(result, init);
  return result;
}

// ---------------------------------------------------------------------------------------
// From recorded operations to model operations

function prepare(ops: Op[], observations: Observation[]): MOp[] {
  // The first sighting of each written value, by a completed read or by the watch.
  const seen = new Map<string, { rv: number; at: number }>();
  const sight = (value: string | null | undefined, rv: number | undefined, at: number | undefined) => {
    if (typeof value !== 'string' || rv === undefined || at === undefined) return;
    const s = seen.get(value);
    if (!s || at < s.at) seen.set(value, { rv, at });
  };
  for (const op of ops) if (op.kind === 'read' && op.status === 'ok') sight(op.value, op.rv, op.ret);
  for (const o of observations) sight(o.value, o.rv, o.at);

  const out: MOp[] = [];
  for (const op of ops) {
    const base = { op, call: op.call, value: op.value ?? null, rv: op.rv ?? NaN, expect: op.expect ?? NaN };
    if (op.kind === 'read') {
      if (op.status === 'ok' && op.ret !== undefined) out.push({ ...base, kind: 'read', ret: op.ret, optional: 'no' });
      continue;
    }
    if (op.status === 'error') continue;
    if (op.status === 'fail') {
      if (op.kind === 'cas' && op.ret !== undefined) out.push({ ...base, kind: 'casFail', ret: op.ret, optional: 'no' });
      continue;
    }
    if (op.status === 'ok' && op.ret !== undefined) {
      out.push({ ...base, kind: op.kind, ret: op.ret, optional: 'no' });
      continue;
    }
    // Indeterminate.
    const s = typeof op.value === 'string' ? seen.get(op.value) : undefined;
    if (s) out.push({ ...base, kind: op.kind, rv: s.rv, ret: Math.max(op.call, s.at), optional: 'no' });
    else out.push({ ...base, kind: op.kind, ret: Infinity, optional: 'unseen' });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The search

function step(s: State, m: MOp): State | undefined {
  switch (m.kind) {
    case 'read':
      return s.exact && s.value === m.value && s.rv === m.rv ? s : undefined;
    case 'write':
      return m.rv > s.rv ? { value: m.value, rv: m.rv, exact: true } : undefined;
    case 'cas':
      return s.exact && s.rv === m.expect && m.rv > s.rv ? { value: m.value, rv: m.rv, exact: true } : undefined;
    case 'casFail':
      return !s.exact || s.rv !== m.expect ? s : undefined;
  }
}

interface Budget {
  steps: number;
  deadline: number;
}

interface SearchOutcome {
  outcome: Outcome;
  steps: number;
}

/** Incremental (Zobrist) hashing of the linearized set: one random word pair per op. */
function zobrist(n: number): { a: Uint32Array; b: Uint32Array } {
  const a = new Uint32Array(n);
  const b = new Uint32Array(n);
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < n; i++) {
    a[i] = next();
    b[i] = next();
  }
  return { a, b };
}

function stateHash(s: State): number {
  let h = 0x811c9dc5;
  const str = s.value ?? '\u0000null';
  for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (s.rv | 0), 0x01000193);
  h = Math.imul(h ^ Math.floor(s.rv / 4294967296), 0x01000193);
  return (h ^ (s.exact ? 1 : 2)) >>> 0;
}

function search(mops: MOp[], init: State, budget: Budget): SearchOutcome {
  const listOps = mops.filter((m) => m.optional !== 'unseen');
  const unseen = mops.filter((m) => m.optional === 'unseen').sort((a, b) => a.call - b.call);
  const n = listOps.length;
  const total = n + unseen.length;

  // Events: call of every listed op, return of those that must complete.
  const evTime: number[] = [];
  const evCall: boolean[] = [];
  const evOp: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = listOps[i]!;
    evTime.push(m.call);
    evCall.push(true);
    evOp.push(i);
    if (m.optional === 'no') {
      evTime.push(m.ret);
      evCall.push(false);
      evOp.push(i);
    }
  }
  const order = evTime.map((_, i) => i);
  // At equal times a call goes first: the two operations then count as concurrent, the
  // weaker (never wrongly failing) reading.
  order.sort((x, y) => evTime[x]! - evTime[y]! || (evCall[x] === evCall[y] ? evOp[x]! - evOp[y]! : evCall[x] ? -1 : 1));
  const E = order.length;
  const HEAD = E;
  const next = new Int32Array(E + 1).fill(-1);
  const prev = new Int32Array(E + 1).fill(-1);
  const callEv = new Int32Array(n).fill(-1);
  const retEv = new Int32Array(n).fill(-1);
  const time = new Float64Array(E);
  const isCall = new Uint8Array(E);
  const opOf = new Int32Array(E);
  for (let pos = 0; pos < E; pos++) {
    const ev = order[pos]!;
    time[pos] = evTime[ev]!;
    isCall[pos] = evCall[ev] ? 1 : 0;
    opOf[pos] = evOp[ev]!;
    if (evCall[ev]) callEv[evOp[ev]!] = pos;
    else retEv[evOp[ev]!] = pos;
    prev[pos] = pos === 0 ? HEAD : pos - 1;
    next[pos] = pos === E - 1 ? -1 : pos + 1;
  }
  next[HEAD] = E > 0 ? 0 : -1;

  const unlink = (e: number) => {
    next[prev[e]!] = next[e]!;
    if (next[e]! !== -1) prev[next[e]!] = prev[e]!;
  };
  const relink = (e: number) => {
    next[prev[e]!] = e;
    if (next[e]! !== -1) prev[next[e]!] = e;
  };
  const lift = (i: number) => {
    unlink(callEv[i]!);
    if (retEv[i]! !== -1) unlink(retEv[i]!);
  };
  const unlift = (i: number) => {
    if (retEv[i]! !== -1) relink(retEv[i]!);
    relink(callEv[i]!);
  };

  const words = Math.max(1, Math.ceil(total / 32));
  const bits = new Uint32Array(words);
  const z = zobrist(total);
  let ha = 0;
  let hb = 0;
  const flip = (i: number) => {
    bits[i >>> 5]! ^= 1 << (i & 31);
    ha ^= z.a[i]!;
    hb ^= z.b[i]!;
  };
  const cache = new Map<number, { bits: Uint32Array; s: State }[]>();
  const seenBefore = (s: State): boolean => {
    const key = ((ha ^ stateHash(s)) >>> 0) * 2097152 + (hb & 0x1fffff);
    const bucket = cache.get(key);
    if (bucket) {
      for (const c of bucket) {
        if (c.s.rv !== s.rv || c.s.value !== s.value || c.s.exact !== s.exact) continue;
        let same = true;
        for (let w = 0; w < words; w++) {
          if (c.bits[w] !== bits[w]) {
            same = false;
            break;
          }
        }
        if (same) return true;
      }
    }
    const entry = { bits: bits.slice(), s };
    if (bucket) bucket.push(entry);
    else cache.set(key, [entry]);
    return false;
  };

  let remaining = 0;
  for (let i = 0; i < n; i++) if (retEv[i]! !== -1) remaining++;

  // Every write creates a larger version, so the writes that must be linearized go in
  // the order of their versions: the next one is always sorted[wPos]. Enforcing that as
  // the search goes prunes every configuration that could only dead-end later (without
  // it, k concurrent writes cost 2^k).
  const sorted = listOps
    .map((_, i) => i)
    .filter((i) => (listOps[i]!.kind === 'write' || listOps[i]!.kind === 'cas') && listOps[i]!.optional === 'no')
    .sort((x, y) => listOps[x]!.rv - listOps[y]!.rv);
  const nextWriteRv = (pos: number) => (pos < sorted.length ? listOps[sorted[pos]!]!.rv : Infinity);
  let wPos = 0;
  /** May op i be linearized now as far as version order goes? */
  const inOrder = (i: number): boolean => {
    const m = listOps[i]!;
    if (m.kind !== 'write' && m.kind !== 'cas') return true;
    if (m.optional === 'no') return sorted[wPos] === i;
    return m.rv < nextWriteRv(wPos);
  };

  /** Time of the first return still in the list: what is linearized now happens before it. */
  const firstReturn = (): number => {
    for (let e = next[HEAD]!; e !== -1; e = next[e]!) if (!isCall[e]) return time[e]!;
    return Infinity;
  };
  /** An unseen indeterminate write that may have happened just before now (see file comment). */
  const unseenFor = (s: State): number => {
    const cutoff = firstReturn();
    let casPick = -1;
    for (let u = 0; u < unseen.length; u++) {
      const m = unseen[u]!;
      if (m.call >= cutoff) break;
      if (bits[(n + u) >>> 5]! & (1 << ((n + u) & 31))) continue;
      if (m.kind === 'write') return u;
      if (casPick < 0 && m.expect === s.rv) casPick = u;
    }
    return casPick;
  };

  const stack: { op: number; state: State; unseen: number }[] = [];
  let state = init;
  let entry = next[HEAD]!;
  let steps = 0;
  while (remaining > 0) {
    if (++steps > budget.steps || ((steps & 4095) === 0 && performance.now() > budget.deadline)) {
      return { outcome: 'unknown', steps };
    }
    if (entry === -1) throw new Error('checker: ran off the event list with returns pending');
    if (isCall[entry]) {
      const i = opOf[entry]!;
      const m = listOps[i]!;
      let ns = inOrder(i) ? step(state, m) : undefined;
      let u = -1;
      if (!ns && m.kind === 'casFail' && state.exact && state.rv === m.expect) {
        u = unseenFor(state);
        if (u >= 0) ns = { value: UNSEEN, rv: state.rv, exact: false };
      }
      if (ns) {
        flip(i);
        if (u >= 0) flip(n + u);
        if (!seenBefore(ns)) {
          stack.push({ op: i, state, unseen: u });
          state = ns;
          lift(i);
          if (sorted[wPos] === i) wPos++;
          if (retEv[i]! !== -1) remaining--;
          entry = next[HEAD]!;
          continue;
        }
        flip(i);
        if (u >= 0) flip(n + u);
      }
      entry = next[entry]!;
    } else {
      const top = stack.pop();
      if (!top) return { outcome: 'violation', steps };
      unlift(top.op);
      if (wPos > 0 && sorted[wPos - 1] === top.op) wPos--;
      if (retEv[top.op]! !== -1) remaining++;
      flip(top.op);
      if (top.unseen >= 0) flip(n + top.unseen);
      state = top.state;
      entry = next[callEv[top.op]!]!;
    }
  }
  return { outcome: 'ok', steps };
}

// ---------------------------------------------------------------------------------------
// A small failing window

/**
 * The prefix of the history that ends with event `k` (events in time order, calls first
 * at ties): operations pending at its end may or may not have happened yet.
 */
function prefix(mops: MOp[], events: { t: number; call: boolean; m: MOp }[], k: number): MOp[] {
  const cut = events[k - 1]!.t;
  const included = new Set<MOp>();
  const returned = new Set<MOp>();
  for (let i = 0; i < k; i++) {
    const ev = events[i]!;
    if (ev.call) included.add(ev.m);
    else returned.add(ev.m);
  }
  const out: MOp[] = [];
  for (const m of mops) {
    if (m.optional === 'unseen') {
      if (m.call <= cut) out.push(m);
      continue;
    }
    if (!included.has(m)) continue;
    if (returned.has(m)) out.push(m);
    else if (m.kind === 'write' || m.kind === 'cas') out.push({ ...m, ret: Infinity, optional: 'known' });
    // A read or failed compare-and-set still pending observed nothing yet.
  }
  return out;
}

function smallestWindow(mops: MOp[], init: State, opts: CheckOptions): { culprit: MOp | undefined; window: MOp[]; steps: number } {
  let steps = 0;
  const deadline = performance.now() + Math.min(opts.maxMs ?? 120_000, 60_000);
  const fails = (ms: MOp[]): boolean => {
    const r = search(ms, init, { steps: 2_000_000, deadline: Math.min(deadline + 5_000, performance.now() + 20_000) });
    steps += r.steps;
    return r.outcome === 'violation';
  };
  const events: { t: number; call: boolean; m: MOp }[] = [];
  for (const m of mops) {
    if (m.optional === 'unseen') continue;
    events.push({ t: m.call, call: true, m });
    if (m.optional === 'no') events.push({ t: m.ret, call: false, m });
  }
  events.sort((x, y) => x.t - y.t || (x.call === y.call ? x.m.op.id - y.m.op.id : x.call ? -1 : 1));
  // Failing is monotone in the prefix length: find the shortest failing prefix.
  let lo = 1;
  let hi = events.length;
  while (lo < hi && performance.now() < deadline) {
    const mid = (lo + hi) >>> 1;
    if (fails(prefix(mops, events, mid))) hi = mid;
    else lo = mid + 1;
  }
  const k = hi;
  const last = events[k - 1]!;
  // The prefix became non-linearizable with this return: its operation is the culprit.
  const culpritOrig = last.call ? undefined : last.m;
  let cur = prefix(mops, events, k);
  const culprit = cur.find((m) => m.op === culpritOrig?.op);
  if (!culprit) return { culprit: undefined, window: cur, steps };

  const needed = (m: MOp, keep: MOp[]): boolean => {
    if (m === culprit) return true;
    if (m.kind !== 'write' && m.kind !== 'cas') return false;
    for (const o of keep) {
      if (o.kind === 'read' && o.value === m.value) return true;
      if ((o.kind === 'cas' || o.kind === 'casFail') && o.expect === m.rv) return true;
    }
    return false;
  };
  let attempts = 0;
  let size = Math.ceil((cur.length - 1) / 2);
  while (size >= 1 && attempts < 400 && performance.now() < deadline) {
    const cands = cur.filter((m) => m !== culprit).sort((a, b) => a.call - b.call);
    for (let i = 0; i < cands.length && attempts < 400 && performance.now() < deadline; i += size) {
      const drop = new Set(cands.slice(i, i + size));
      // Keep what the kept operations depend on, and what that depends on in turn.
      for (let changed = true; changed; ) {
        changed = false;
        const keep = cur.filter((m) => !drop.has(m));
        for (const m of [...drop]) {
          if (needed(m, keep)) {
            drop.delete(m);
            changed = true;
          }
        }
      }
      if (drop.size === 0) continue;
      attempts++;
      const t2 = cur.filter((m) => !drop.has(m));
      if (fails(t2)) cur = t2;
    }
    if (size === 1) break;
    size = Math.max(1, Math.floor(size / 2));
  }
  return { culprit, window: cur, steps };
}

function describeViolation(r: KeyResult, init: RegisterState): string {
  const lines: string[] = [];
  if (!r.window || !r.culprit) {
    lines.push(`key ${r.key}: not linearizable (no smaller failing window found)`);
    return lines.join('\n');
  }
  const t0 = r.window[0]!.call;
  lines.push(`key ${r.key}: not linearizable. Smallest failing window found (${r.window.length} of ${r.ops} operations; ms from its first invocation; initial state ${JSON.stringify(init.value)} rv=${init.rv}):`);
  for (const op of r.window) lines.push(`  ${op === r.culprit ? '>>' : '  '} ${describeOp(op, t0)}`);
  lines.push(`  >> marks the operation no linearization of the operations before it can explain.`);
  return lines.join('\n');
}

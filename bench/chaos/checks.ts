/**
 * The checks run on a finished chaos run: linearizability (checker.ts), no acknowledged
 * write lost and no value seen that was never written, the watch delivered every change
 * once and in order, and the time to recover from each fault.
 */
import { checkHistory, type CheckResult as LinResult } from './checker.ts';
import type { FaultRecord } from './faults.ts';
import type { Observation, Op, RegisterState } from './history.ts';
import type { CheckResult } from './types.ts';
import type { WatchRecord } from './watch.ts';

const EXAMPLES = 5;

export function linearizability(ops: Op[], init: Map<string, RegisterState>, observations: Observation[], maxMs: number): { check: CheckResult; result: LinResult } {
  const t = performance.now();
  const result = checkHistory(ops, init, { observations, maxMs });
  const ms = Math.round(performance.now() - t);
  const bad = result.keys.filter((k) => k.outcome !== 'ok');
  const summary =
    result.outcome === 'ok'
      ? `linearizable: ${result.keys.length} keys, ${result.keys.reduce((n, k) => n + k.ops, 0)} operations, ${result.steps} search steps, ${ms} ms`
      : result.outcome === 'unknown'
        ? `unknown (search budget exceeded) on ${bad.map((k) => k.key).join(', ')}`
        : `NOT linearizable on ${bad.filter((k) => k.outcome === 'violation').map((k) => k.key).join(', ')}`;
  return { check: { name: 'linearizability', ok: result.outcome === 'ok', summary, details: bad.map((k) => k.detail ?? `${k.key}: ${k.outcome}`) }, result };
}

/**
 * No acknowledged write lost: each one's (value, version) was delivered by the watch (a
 * committed change) unless the watch had a gap, and the final state of its key is that
 * write or one with a larger version. No value seen (read or watched) that nobody wrote,
 * and no write applied twice (one value at two versions).
 */
export function lostWrites(ops: Op[], init: Map<string, RegisterState>, final: Map<string, RegisterState> | undefined, watch: WatchRecord[], watchComplete: boolean): CheckResult & { lost: number } {
  const details: string[] = [];
  const written = new Set<string>();
  for (const s of init.values()) if (s.value !== null) written.add(s.value);
  for (const op of ops) if (op.kind !== 'read' && typeof op.value === 'string') written.add(op.value);
  const watched = new Map<string, WatchRecord>();
  const versionsOf = new Map<string, Set<number>>();
  for (const e of watch) {
    if (e.value === null) continue;
    watched.set(`${e.key}@${e.rv}`, e);
    let s = versionsOf.get(e.value);
    if (!s) versionsOf.set(e.value, (s = new Set()));
    s.add(e.rv);
  }
  let lost = 0;
  for (const op of ops) {
    if (op.kind === 'read' || op.status !== 'ok' || op.rv === undefined) continue;
    const f = final?.get(op.key);
    let why = '';
    if (f && (f.rv < op.rv || (f.rv === op.rv && f.value !== op.value))) why = `the final state is ${JSON.stringify(f.value)} at ${f.rv}`;
    else if (watchComplete && watched.get(`${op.key}@${op.rv}`)?.value !== op.value) why = `the watch never delivered it (at ${op.rv}: ${JSON.stringify(watched.get(`${op.key}@${op.rv}`)?.value ?? 'nothing')})`;
    if (why) {
      lost++;
      if (details.length < EXAMPLES) details.push(`lost: ${op.client} wrote ${JSON.stringify(op.value)} to ${op.key}, acknowledged at ${op.rv}; ${why}`);
    }
  }
  let phantoms = 0;
  const seenValues: { key: string; value: string | null; rv?: number; by: string }[] = [];
  for (const op of ops) if (op.kind === 'read' && op.status === 'ok') seenValues.push({ key: op.key, value: op.value ?? null, rv: op.rv, by: `read #${op.id}` });
  for (const e of watch) seenValues.push({ key: e.key, value: e.value, rv: e.rv, by: 'watch' });
  for (const s of seenValues) {
    if (s.value === null || written.has(s.value)) continue;
    phantoms++;
    if (details.length < 2 * EXAMPLES) details.push(`never written: ${s.by} saw ${JSON.stringify(s.value)} in ${s.key} at ${s.rv}`);
  }
  let twice = 0;
  for (const [value, versions] of versionsOf) {
    if (versions.size < 2) continue;
    twice++;
    if (details.length < 3 * EXAMPLES) details.push(`applied twice: ${JSON.stringify(value)} at versions ${[...versions].join(', ')}`);
  }
  if (!final) details.push('no final state (final reads failed)');
  const ok = lost === 0 && phantoms === 0 && twice === 0 && final !== undefined;
  return { name: 'lost writes', ok, lost, summary: `${lost} acknowledged writes lost, ${phantoms} values seen that were never written, ${twice} applied twice`, details };
}

/**
 * The watch delivered changes in resourceVersion order, none twice, every acknowledged
 * write among them (unless it had to relist), and its last event per key is the final
 * state.
 */
export function watchCheck(watch: WatchRecord[], ops: Op[], init: Map<string, RegisterState>, final: Map<string, RegisterState> | undefined, gaps: string[], resumes: number): CheckResult & { complete: boolean } {
  const details: string[] = [];
  let outOfOrder = 0;
  const delivered = new Set<string>();
  let dup = 0;
  for (let i = 0; i < watch.length; i++) {
    const e = watch[i]!;
    const k = `${e.key}@${e.rv}`;
    if (delivered.has(k)) {
      dup++;
      if (details.length < EXAMPLES) details.push(`delivered twice: ${e.key} at ${e.rv} (stream ${e.segment})`);
    }
    delivered.add(k);
    const prev = i > 0 ? watch[i - 1]! : undefined;
    if (prev && (e.rv < prev.rv || (e.rv === prev.rv && e.key !== prev.key))) {
      outOfOrder++;
      if (details.length < 2 * EXAMPLES) details.push(`out of order: ${e.key} at ${e.rv} after ${prev.key} at ${prev.rv}`);
    }
  }
  const complete = gaps.length === 0;
  let missed = 0;
  if (complete) {
    for (const op of ops) {
      if (op.kind === 'read' || op.status !== 'ok' || op.rv === undefined) continue;
      if (!delivered.has(`${op.key}@${op.rv}`)) {
        missed++;
        if (details.length < 3 * EXAMPLES) details.push(`missed: ${op.key} at ${op.rv} (${JSON.stringify(op.value)}, acknowledged to ${op.client})`);
      }
    }
  }
  let finalMismatch = 0;
  if (final) {
    const last = new Map<string, { value: string | null; rv: number }>();
    for (const [k, s] of init) last.set(k, s);
    for (const e of watch) last.set(e.key, { value: e.type === 'DELETED' ? null : e.value, rv: e.rv });
    for (const [k, f] of final) {
      const l = last.get(k);
      if (!l || l.rv !== f.rv || l.value !== f.value) {
        finalMismatch++;
        details.push(`final state of ${k} is ${JSON.stringify(f.value)} at ${f.rv}, the watch's last event ${l ? `${JSON.stringify(l.value)} at ${l.rv}` : 'none'}`);
      }
    }
  }
  for (const g of gaps) details.push(`gap: ${g}`);
  const ok = outOfOrder === 0 && dup === 0 && missed === 0 && finalMismatch === 0;
  return {
    name: 'watch',
    ok,
    complete,
    summary: `${watch.length} events over ${resumes + 1} streams: ${outOfOrder} out of order, ${dup} twice, ${missed} acknowledged changes missed, ${finalMismatch} keys whose last event is not the final state${complete ? '' : `; ${gaps.length} gap(s), completeness not checked`}`,
    details,
  };
}

/** Fill in each fault's recovery times from the acknowledged writes. */
export function recovery(faults: FaultRecord[], ops: Op[]): { inject: number[]; heal: number[]; unrecovered: string[] } {
  const writes = ops.filter((o) => o.kind !== 'read' && o.status === 'ok' && o.ret !== undefined && o.client !== 'final').sort((a, b) => a.call - b.call);
  const firstAfter = (t: number): number | undefined => {
    // Binary search the first write invoked at or after t; the earliest completion among
    // those invoked soon after wins (a later call may complete first).
    let lo = 0;
    let hi = writes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (writes[mid]!.call < t) lo = mid + 1;
      else hi = mid;
    }
    let best: number | undefined;
    for (let i = lo; i < writes.length; i++) {
      const w = writes[i]!;
      if (best !== undefined && w.call > best) break;
      if (best === undefined || w.ret! < best) best = w.ret!;
    }
    return best === undefined ? undefined : best - t;
  };
  const inject: number[] = [];
  const heal: number[] = [];
  const unrecovered: string[] = [];
  for (const f of faults) {
    const a = firstAfter(f.injectAt);
    if (a !== undefined) {
      f.recoverInjectMs = a;
      inject.push(a);
    } else unrecovered.push(`fault ${f.n} (${f.kind}): no write succeeded after its injection`);
    if (f.healAt !== undefined) {
      const b = firstAfter(f.healAt);
      if (b !== undefined) {
        f.recoverHealMs = b;
        heal.push(b);
      } else unrecovered.push(`fault ${f.n} (${f.kind}): no write succeeded after it healed`);
    }
  }
  return { inject, heal, unrecovered };
}

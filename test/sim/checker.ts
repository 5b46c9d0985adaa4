import type { Raft } from '../../src/raft/raft.ts';
import type { Entry, NodeId } from '../../src/raft/types.ts';
import { entryKey } from './state-machine.ts';

/** A broken Raft property (or a broken harness assumption): ends the run. */
export class Violation extends Error {
  override name = 'Violation';
}

/** What the checker sees of one running replica. */
export interface LiveNode {
  id: NodeId;
  inc: number;
  raft: Raft;
}

interface AppliedEntry {
  index: number;
  term: number;
  key: string;
  /**
   * An upper bound on the term in which the entry was committed: the term of the first
   * replica that applied it, at that moment (a replica learns a commit index only from a
   * leader of its own term, or commits as that leader). Every leader of a term above the
   * bound must hold the entry (Leader Completeness).
   */
  bound: number;
}

/**
 * The safety invariants of Raft (Figure 3 of the paper), checked after every simulation
 * step, plus a few bookkeeping invariants of this implementation.
 */
export class Checker {
  /** Election Safety: the one leader seen for each term. */
  private leaderOf = new Map<number, NodeId>();
  /**
   * Log Matching, incrementally: every (index, term) ever seen in any log maps to one
   * entry content and one predecessor term. By induction, two logs that share an
   * (index, term) then share everything up to it.
   */
  private entryAt = new Map<number, { key: string; prevTerm: number | undefined }>();
  private seen = new WeakSet<Entry>();
  /** State Machine Safety: the entry first applied at each index. */
  readonly appliedAt = new Map<number, AppliedEntry>();
  private appliedOrder: AppliedEntry[] = [];
  /** Normal-entry data (client values) → the index it was applied at: applied once. */
  private valueAt = new Map<string, number>();
  /** Leader Completeness: per leader incarnation+term, how much of appliedOrder is checked. */
  private leaderCursor = new Map<string, number>();
  /** Commit index per running incarnation (never decreases). */
  private lastCommit = new Map<string, number>();
  /** The highest commit index any replica has ever known: truly committed. */
  globalCommit = 0;
  /** Highest term any leader has been seen at. */
  maxLeaderTerm = 0;

  static readonly TERM_BITS = 2 ** 24;

  private static ek(index: number, term: number): number {
    return index * Checker.TERM_BITS + term;
  }

  /** Register one entry of a replica's log (with the term before it, if known). */
  noteEntry(who: NodeId, e: Entry, prevTerm: number | undefined): void {
    if (this.seen.has(e)) return;
    if (e.term >= Checker.TERM_BITS) throw new Violation(`term ${e.term} too large for the checker`);
    const k = Checker.ek(e.index, e.term);
    const key = entryKey(e);
    const had = this.entryAt.get(k);
    if (!had) {
      this.entryAt.set(k, { key, prevTerm });
    } else {
      if (had.key !== key) {
        throw new Violation(`Log Matching: node ${who} has entry ${e.index}@${e.term} with content ${JSON.stringify(key)}, seen elsewhere as ${JSON.stringify(had.key)}`);
      }
      if (prevTerm !== undefined) {
        if (had.prevTerm === undefined) had.prevTerm = prevTerm;
        else if (had.prevTerm !== prevTerm) {
          throw new Violation(`Log Matching: node ${who} has entry ${e.index}@${e.term} after term ${prevTerm}, seen elsewhere after term ${had.prevTerm}`);
        }
      }
    }
    if (prevTerm !== undefined) this.seen.add(e);
  }

  /** A replica's state machine applied `key` at `index` while at `term`. */
  noteApplied(who: NodeId, index: number, key: string, term: number): void {
    const had = this.appliedAt.get(index);
    if (had) {
      if (had.key !== key) {
        throw new Violation(`State Machine Safety: node ${who} applied ${JSON.stringify(key)} at ${index}, another node applied ${JSON.stringify(had.key)}`);
      }
      if (term < had.bound) had.bound = term;
      return;
    }
    const entryTerm = Number(key.slice(0, key.indexOf('|')));
    const a: AppliedEntry = { index, term: entryTerm, key, bound: term };
    this.appliedAt.set(index, a);
    this.appliedOrder.push(a);
    const bar = key.indexOf('|', key.indexOf('|') + 1);
    if (key[bar - 1] === 'n' && bar + 1 < key.length) {
      const value = key.slice(bar + 1);
      const at = this.valueAt.get(value);
      if (at !== undefined && at !== index) {
        throw new Violation(`value ${JSON.stringify(value)} applied at both ${at} and ${index}: a proposal was duplicated in the log`);
      }
      this.valueAt.set(value, index);
    }
  }

  /** The state machine of `who` was restored from a snapshot holding these keys. */
  noteRestored(who: NodeId, keys: readonly string[]): void {
    for (let i = 0; i < keys.length; i++) {
      const had = this.appliedAt.get(i + 1);
      if (had && had.key !== keys[i]) {
        throw new Violation(`State Machine Safety: node ${who} restored a snapshot with ${JSON.stringify(keys[i])} at ${i + 1}, applied elsewhere: ${JSON.stringify(had.key)}`);
      }
      if (!had) {
        throw new Violation(`node ${who} restored a snapshot holding index ${i + 1} that no replica has applied`);
      }
    }
  }

  /** A crashed incarnation is gone: forget its commit index. */
  forget(id: NodeId, inc: number): void {
    this.lastCommit.delete(`${id}:${inc}`);
  }

  /** Run after every step over the running replicas. */
  afterStep(nodes: readonly LiveNode[]): void {
    for (const n of nodes) {
      const r = n.raft;
      const log = r.log;
      // Bookkeeping: applied ≤ committed ≤ last; committed never decreases.
      if (log.applied > log.committed) throw new Violation(`node ${n.id}: applied ${log.applied} > committed ${log.committed}`);
      if (log.committed > log.lastIndex()) throw new Violation(`node ${n.id}: committed ${log.committed} > last index ${log.lastIndex()}`);
      const ck = `${n.id}:${n.inc}`;
      const prev = this.lastCommit.get(ck) ?? 0;
      if (log.committed < prev) throw new Violation(`node ${n.id}: commit index went back from ${prev} to ${log.committed}`);
      this.lastCommit.set(ck, log.committed);
      if (log.committed > this.globalCommit) this.globalCommit = log.committed;

      // Log Matching: register the unstable tail (everything durable passed through it).
      const u = log.unstable;
      for (let i = 0; i < u.entries.length; i++) {
        const e = u.entries[i]!;
        if (this.seen.has(e)) continue;
        if (e.index !== u.offset + i) throw new Violation(`node ${n.id}: unstable entry at offset ${u.offset}+${i} has index ${e.index}`);
        this.noteEntry(n.id, e, log.maybeTerm(e.index - 1));
      }

      if (r.role === 'leader') {
        // Election Safety.
        const had = this.leaderOf.get(r.term);
        if (had === undefined) this.leaderOf.set(r.term, n.id);
        else if (had !== n.id) throw new Violation(`Election Safety: nodes ${had} and ${n.id} are both leaders of term ${r.term}`);
        if (r.term > this.maxLeaderTerm) this.maxLeaderTerm = r.term;
        // Leader Completeness, incrementally over entries applied since the last look.
        const lk = `${n.id}:${n.inc}:${r.term}`;
        let c = this.leaderCursor.get(lk) ?? 0;
        for (; c < this.appliedOrder.length; c++) {
          const a = this.appliedOrder[c]!;
          if (a.bound >= r.term) continue;
          const t = log.maybeTerm(a.index);
          if (t === undefined && a.index < log.firstIndex()) continue; // compacted: covered by the snapshot
          if (t !== a.term) {
            throw new Violation(`Leader Completeness: leader ${n.id} of term ${r.term} has ${t === undefined ? 'no entry' : `term ${t}`} at ${a.index}, where ${JSON.stringify(a.key)} was applied (committed by term ${a.bound})`);
          }
        }
        this.leaderCursor.set(lk, c);
      }
    }
  }

  /**
   * Log Matching over whole logs (durable + unstable), pairwise: up to the last index at
   * which two logs agree on the term, they must agree on every entry.
   */
  fullLogCheck(nodes: readonly LiveNode[]): void {
    const views = nodes.map((n) => {
      const log = n.raft.log;
      const first = log.firstIndex();
      const last = log.lastIndex();
      const ents = first <= last ? log.slice(first, last + 1, Number.MAX_SAFE_INTEGER) : [];
      if (ents.length !== last - first + 1) throw new Violation(`node ${n.id}: log slice [${first}, ${last}] returned ${ents.length} entries`);
      for (let i = 0; i < ents.length; i++) {
        if (ents[i]!.index !== first + i) throw new Violation(`node ${n.id}: log entry at ${first + i} claims index ${ents[i]!.index}`);
        if (i > 0 && ents[i]!.term < ents[i - 1]!.term) throw new Violation(`node ${n.id}: terms decrease at ${first + i}`);
      }
      return { id: n.id, first, last, ents };
    });
    for (let a = 0; a < views.length; a++) {
      for (let b = a + 1; b < views.length; b++) {
        const x = views[a]!;
        const y = views[b]!;
        const lo = Math.max(x.first, y.first);
        const hi = Math.min(x.last, y.last);
        let top = -1;
        for (let i = hi; i >= lo; i--) {
          if (x.ents[i - x.first]!.term === y.ents[i - y.first]!.term) {
            top = i;
            break;
          }
        }
        for (let i = lo; i <= top; i++) {
          const ex = x.ents[i - x.first]!;
          const ey = y.ents[i - y.first]!;
          if (entryKey(ex) !== entryKey(ey)) {
            throw new Violation(`Log Matching: nodes ${x.id} and ${y.id} agree on the term at ${top} but differ at ${i}: ${JSON.stringify(entryKey(ex))} vs ${JSON.stringify(entryKey(ey))}`);
          }
        }
      }
    }
  }
}

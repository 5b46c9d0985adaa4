import { entrySize, limitSize } from './memory-storage.ts';
import { CompactedError, UnavailableError, type Entry, type Snapshot, type Storage } from './types.ts';

/**
 * Entries (and possibly a snapshot) the core has accepted but the driver has not yet
 * made durable. `entries[i]` has index `offset + i`.
 *
 * Entries before `offsetInProgress` (and the snapshot, when `snapshotInProgress`) have
 * been handed out in a Ready whose write has not completed yet: they are not handed
 * out twice, and they leave this structure once `stableTo` confirms the write.
 */
class Unstable {
  snapshot: Snapshot | undefined;
  snapshotInProgress = false;
  entries: Entry[] = [];
  offset: number;
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.meta.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.meta.index;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Entries not yet handed out. */
  nextEntries(): Entry[] {
    const inProgress = this.offsetInProgress - this.offset;
    return inProgress >= this.entries.length ? [] : this.entries.slice(inProgress);
  }

  nextSnapshot(): Snapshot | undefined {
    return this.snapshot && !this.snapshotInProgress ? this.snapshot : undefined;
  }

  acceptInProgress(): void {
    if (this.entries.length > 0) this.offsetInProgress = this.offset + this.entries.length;
    if (this.snapshot) this.snapshotInProgress = true;
  }

  /**
   * The write of entries up to (index, term) completed. If the entry at `index` was
   * replaced meanwhile (a new leader overwrote it), the write is stale: keep everything.
   */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined || t !== term || index < this.offset) return;
    const n = index + 1 - this.offset;
    this.entries = this.entries.slice(n);
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  stableSnapTo(index: number): void {
    if (this.snapshot && this.snapshot.meta.index === index) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  truncateAndAppend(ents: Entry[]): void {
    const from = ents[0]!.index;
    if (from === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (from <= this.offset) {
      // Replace everything unstable; what is stable beyond `from` is overwritten on disk.
      this.offset = from;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, from - this.offset);
      for (const e of ents) this.entries.push(e);
    }
    this.offsetInProgress = Math.min(this.offsetInProgress, from);
  }

  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

/**
 * The replicated log as the core sees it: durable storage plus the unstable tail.
 *
 * Invariants: applied ≤ committed ≤ lastIndex(); firstIndex()-1 ≤ applied
 * (a snapshot is applied before anything after it).
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known to be committed (§5.3). Never decreases. */
  committed: number;
  /** Highest index the application has applied (confirmed by advance()). */
  applied: number;

  constructor(storage: Storage, applied: number) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // Fix (found by the simulation's lazy-commit driver; directed test and regression
    // seeds in test/raft-sim.test.ts): a snapshot only ever holds committed entries, but a
    // driver that does not write Readies that only move the commit index (as
    // src/raft/replica.ts does) can restart with a durable commit below its own
    // snapshot. The applied index was then clamped below the snapshot: the core handed
    // out compacted entries (CompactedError) or entries the application already had.
    this.committed = Math.max(storage.initialState().hardState.commit, storage.snapshot().meta.index);
    this.applied = Math.min(Math.max(applied, first - 1), this.committed);
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of entry i, or undefined when it is compacted or beyond the log. */
  maybeTerm(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return undefined;
      throw e;
    }
  }

  term(i: number): number {
    const t = this.maybeTerm(i);
    if (t === undefined) {
      if (i < this.firstIndex() - 1) throw new CompactedError(i);
      throw new UnavailableError(i);
    }
    return t;
  }

  matchTerm(i: number, term: number): boolean {
    return this.maybeTerm(i) === term;
  }

  /**
   * Is (lastIndex, lastTerm) at least as up to date as our log (§5.4.1)?
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [lo, lastIndex] within maxBytes (at least one). Throws CompactedError
   * when lo has been compacted away (the follower needs a snapshot).
   */
  entries(lo: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxBytes);
  }

  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (lo === hi) return [];
    const uOff = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < uOff) {
      ents = this.storage.entries(lo, Math.min(hi, uOff), maxBytes);
      // Storage cut the batch short on size: stop there.
      if (ents.length < Math.min(hi, uOff) - lo) return ents;
    }
    if (hi > uOff) {
      const u = this.unstable.slice(Math.max(lo, uOff), hi);
      ents = ents.length > 0 ? ents.concat(u) : u;
    }
    return limitSize(ents, maxBytes);
  }

  /**
   * The index of the first entry in `ents` that is not already in the log with the
   * same term, or 0 when all of them are present.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term` (0 if none is known). Used for
   * the fast backtracking hint: everything after it in `term`'s range conflicts.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i >= 0; i--) {
      const t = this.maybeTerm(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * AppendEntries consistency check and append (§5.3). Returns the index of the last
   * new entry, or undefined when (index, logTerm) does not match.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new Error(`raft: entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(ents.slice(ci - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    if (ents[0]!.index - 1 < this.committed) {
      throw new Error(`raft: append at ${ents[0]!.index} would overwrite committed ${this.committed}`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(c: number): void {
    if (c > this.committed) {
      if (c > this.lastIndex()) {
        throw new Error(`raft: commit ${c} is beyond the last index ${this.lastIndex()}`);
      }
      this.committed = c;
    }
  }

  /** Figure 8: commit by counting replicas only an entry of the leader's current term. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.maybeTerm(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Index up to which entries are durable (stable storage, not the in-flight tail). */
  stableLastIndex(): number {
    if (this.unstable.snapshot) return this.storage.lastIndex();
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  /** Committed entries to apply: (applied, committed], at most maxBytes. */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.unstable.snapshot) return [];
    const hi = Math.min(this.committed, this.lastIndex());
    if (this.applied >= hi) return [];
    return this.slice(this.applied + 1, hi + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    return !this.unstable.snapshot && this.applied < Math.min(this.committed, this.lastIndex());
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed || i < this.applied) {
      throw new Error(`raft: applied ${i} is out of range [${this.applied}, ${this.committed}]`);
    }
    this.applied = i;
  }

  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }
}

export { entrySize };

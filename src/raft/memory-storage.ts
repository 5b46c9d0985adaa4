import {
  CompactedError,
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
  type Storage,
} from './types.ts';

/** Approximate encoded size of an entry, used for flow control and limits. */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/** Cut `ents` so that their total size stays within `maxBytes`, keeping at least one. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * The log as the core reads it: every entry after the last snapshot, held in memory.
 * It mirrors what the driver has made durable (LevelDB) and is rebuilt from disk at start.
 *
 * Invariant: `ents[0]` is a dummy entry at the snapshot's (index, term), so that the term
 * of the entry just before the first real one is always known (needed by AppMsg.logTerm).
 */
export class MemoryStorage implements Storage {
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array() };
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array() }];
  /** The membership as of the last entry written (conf state tracked by the core itself). */
  private conf: ConfState = { voters: [], learners: [] };

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: this.conf };
  }

  /** The membership to boot the core with (the snapshot's, or the one given at bootstrap). */
  setConfState(conf: ConfState): void {
    this.conf = { voters: [...conf.voters], learners: [...conf.learners] };
  }

  hardState(): HardState {
    return { ...this.hard };
  }

  setHardState(hs: HardState): void {
    this.hard = { ...hs };
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError(i);
    if (i - offset >= this.ents.length) throw new UnavailableError(i);
    return this.ents[i - offset]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace everything with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index < this.snap.meta.index) return;
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: 'normal', data: new Uint8Array() }];
    this.conf = snap.meta.conf;
  }

  /**
   * Record the application's snapshot at `index` (≤ applied). Entries before it stay
   * until {@link compact}.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) return this.snap;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.snap = { meta: { index, term: this.term(index), conf }, data };
    return this.snap;
  }

  /** Drop entries before `index` (exclusive); `index` becomes the dummy entry. */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) return;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    const i = index - offset;
    const dummy = { term: this.ents[i]!.term, index, type: 'normal' as const, data: new Uint8Array() };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /** Append entries, overwriting any conflicting suffix. Entries must be contiguous. */
  append(ents: Entry[]): void {
    if (ents.length === 0) return;
    const first = this.firstIndex();
    const last = ents[0]!.index + ents.length - 1;
    if (last < first) return; // all compacted already
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const offset = ents[0]!.index - this.ents[0]!.index;
    if (offset > this.ents.length) {
      throw new Error(`raft: missing log entry: last ${this.lastIndex()}, append at ${ents[0]!.index}`);
    }
    this.ents.length = offset;
    for (const e of ents) this.ents.push(e);
  }
}

import { encodeConfChange } from '../../src/raft/codec.ts';
import { MemoryStorage } from '../../src/raft/memory-storage.ts';
import { DEFAULT_CONFIG, Raft } from '../../src/raft/raft.ts';
import type { Config, ConfChange, ConfState, Entry, Message, NodeId, Ready } from '../../src/raft/types.ts';
import { cloneStorage } from './cluster.ts';

/**
 * A tiny synchronous driver for directed regression tests: every Ready is written,
 * applied and advanced at once, and messages go through a queue the test can filter.
 * (The randomized simulation lives in cluster.ts.)
 */
export class Mini {
  readonly rafts = new Map<NodeId, Raft>();
  readonly stores = new Map<NodeId, MemoryStorage>();
  readonly applied = new Map<NodeId, Entry[]>();
  queue: Message[] = [];

  constructor(
    voters: NodeId[],
    private readonly cfg: Partial<Config> = {},
  ) {
    const conf: ConfState = { voters, learners: [] };
    for (const id of voters) {
      const st = new MemoryStorage();
      st.applySnapshot({ meta: { index: 1, term: 1, conf }, data: new Uint8Array() });
      st.setHardState({ term: 1, vote: 0, commit: 1 });
      st.setConfState(conf);
      this.start(id, st, 1);
    }
  }

  start(id: NodeId, st: MemoryStorage, applied: number): Raft {
    const r = new Raft({ ...DEFAULT_CONFIG, ...this.cfg, id, applied, random: () => 0 }, st);
    this.rafts.set(id, r);
    this.stores.set(id, st);
    if (!this.applied.has(id)) this.applied.set(id, []);
    return r;
  }

  /** Restart `id` from a copy of its durable storage (anything unwritten is lost). */
  restart(id: NodeId, applied: number): Raft {
    return this.start(id, cloneStorage(this.stores.get(id)!), applied);
  }

  raft(id: NodeId): Raft {
    return this.rafts.get(id)!;
  }

  /** Write one Ready to durable storage (no apply, no advance). */
  write(id: NodeId, rd: Ready): void {
    const st = this.stores.get(id)!;
    if (rd.snapshot) st.applySnapshot(rd.snapshot);
    st.append(rd.entries);
    if (rd.hardState) st.setHardState(rd.hardState);
    if (rd.conf) st.setConfState(rd.conf);
  }

  /** Handle one Ready of `id` completely; returns it (or undefined when none). */
  handle(id: NodeId): Ready | undefined {
    const r = this.raft(id);
    if (!r.hasReady()) return undefined;
    const rd = r.ready();
    this.queue.push(...rd.messages);
    this.write(id, rd);
    this.queue.push(...rd.persistedMessages);
    this.applied.get(id)!.push(...rd.committedEntries);
    r.advance();
    return rd;
  }

  /** Handle Readies and deliver messages until nothing moves; `drop` filters messages. */
  stabilize(drop: (m: Message) => boolean = () => false): void {
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const id of this.rafts.keys()) while (this.handle(id)) moved = true;
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        moved = true;
        if (drop(m)) continue;
        this.rafts.get(m.to)?.step(m);
      }
      if (!moved) return;
    }
    throw new Error('mini: no quiescence after 1000 rounds');
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.raft(id).tick();
  }
}

export function confEntry(term: number, index: number, cc: ConfChange): Entry {
  return { term, index, type: 'conf', data: encodeConfChange(cc) };
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

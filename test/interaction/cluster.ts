/**
 * A deterministic in-memory cluster of real Raft cores for tests: every node is a
 * {@link Raft} over a {@link MemoryStorage}, driven through the Ready protocol, and the
 * "network" is one FIFO queue that tests deliver from explicitly. Links can be cut,
 * messages filtered out, and a few safety properties are checked as the cluster runs.
 *
 * No clocks, timers or Math.random: time is tick(), randomness is a seeded generator.
 */

import { decodeConfChange } from '../../src/raft/codec.ts';
import { describeEntry } from '../../src/raft/describe.ts';
import { MemoryStorage } from '../../src/raft/memory-storage.ts';
import { Raft } from '../../src/raft/raft.ts';
import type {
  Config,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ReadState,
  Ready,
  Snapshot,
} from '../../src/raft/types.ts';

export type LogLevel = 'debug' | 'info' | 'warn';

/** mulberry32: a tiny seeded PRNG, returning an integer in [0, n). */
export function seededRandom(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const x = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(x * n);
  };
}

export const TEST_CONFIG: Omit<Config, 'id' | 'random' | 'applied'> = {
  electionTick: 10,
  heartbeatTick: 1,
  maxSizePerMsg: 1 << 20,
  maxInflightMsgs: 256,
  maxUncommittedEntriesSize: 0,
  maxCommittedSizePerReady: 1 << 20,
  preVote: false,
  checkQuorum: false,
  readOnlyOption: 'safe',
};

export interface NodeInit {
  voters: NodeId[];
  learners?: NodeId[];
  /** Start from a snapshot at this index (term `snapshotTerm`, default 1) holding the conf. */
  snapshotIndex?: number;
  snapshotTerm?: number;
  /** Terms of pre-existing log entries, the first one right after the snapshot (or at 1). */
  logTerms?: number[];
  hardState?: Partial<HardState>;
  config?: Partial<Config>;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

interface AppItem {
  index: number;
  data: string;
}

/** The application state snapshot format: the applied data strings, in order. */
function encodeApp(items: AppItem[]): Uint8Array {
  return utf8(JSON.stringify(items.map((i) => i.data)));
}

function decodeApp(b: Uint8Array, index: number): AppItem[] {
  if (b.length === 0) return [];
  return (JSON.parse(text(b)) as string[]).map((data) => ({ index, data }));
}

export function nextConf(c: ConfState, e: Entry): ConfState {
  const cc = decodeConfChange(e.data);
  const voters = new Set(c.voters);
  const learners = new Set(c.learners);
  switch (cc.type) {
    case 'addVoter':
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case 'addLearner':
      if (!voters.has(cc.nodeId)) learners.add(cc.nodeId);
      break;
    case 'removeNode':
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
      break;
  }
  const sort = (s: Set<NodeId>) => [...s].sort((a, b) => a - b);
  return { voters: sort(voters), learners: sort(learners) };
}

export class SimNode {
  /** Normal entries (non-empty data) applied, in order: the replicated state machine. */
  app: AppItem[] = [];
  appliedIndex: number;
  /** Membership after each applied conf change (and the initial one). */
  confHistory: { index: number; conf: ConfState }[];
  readStates: ReadState[] = [];

  constructor(
    readonly id: NodeId,
    readonly raft: Raft,
    readonly storage: MemoryStorage,
    startIndex: number,
    conf: ConfState,
  ) {
    this.appliedIndex = startIndex;
    this.confHistory = [{ index: startIndex, conf }];
  }

  confAt(index: number): ConfState {
    let c = this.confHistory[0]!.conf;
    for (const h of this.confHistory) if (h.index <= index) c = h.conf;
    return c;
  }

  appData(): string[] {
    return this.app.map((a) => a.data);
  }

  /** The durable log (storage), without the snapshot's dummy entry. */
  log(): Entry[] {
    const lo = this.storage.firstIndex();
    const hi = this.storage.lastIndex() + 1;
    return hi > lo ? this.storage.entries(lo, hi, Number.MAX_SAFE_INTEGER) : [];
  }

  /** Terms of the durable log as "index:term" pairs, compact for assertions. */
  logTerms(): number[] {
    return this.log().map((e) => e.term);
  }
}

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  /** Messages sent and not yet delivered, in order. */
  queue: Message[] = [];
  /** Every message handed to the network (also the dropped ones), in order. */
  readonly sent: Message[] = [];
  readonly dropped: Message[] = [];
  /** Return true to drop a message when it is sent (after the link checks). */
  dropIf: ((m: Message) => boolean) | undefined;
  /** Receives every log line of every node. */
  logSink: ((level: LogLevel, line: string) => void) | undefined;
  /** Safety violations seen so far (Election Safety, State Machine Safety). */
  readonly violations: string[] = [];

  private readonly cuts = new Set<string>();
  private readonly leaders = new Map<number, NodeId>();
  private readonly appliedAt = new Map<number, string>();

  constructor(
    private readonly defaults: Partial<Config> = {},
    private readonly randomFor: (id: NodeId) => (n: number) => number = (id) => seededRandom(1000 + id),
  ) {}

  add(id: NodeId, init: NodeInit): SimNode {
    const storage = new MemoryStorage();
    const conf: ConfState = { voters: [...init.voters], learners: [...(init.learners ?? [])] };
    const snapIndex = init.snapshotIndex ?? 0;
    if (snapIndex > 0) {
      storage.applySnapshot({ meta: { index: snapIndex, term: init.snapshotTerm ?? 1, conf }, data: encodeApp([]) });
    }
    storage.setConfState(conf);
    const terms = init.logTerms ?? [];
    storage.append(
      terms.map((term, i) => ({ term, index: snapIndex + 1 + i, type: 'normal' as const, data: utf8(`t${term}i${snapIndex + 1 + i}`) })),
    );
    const lastTerm = terms.length > 0 ? terms[terms.length - 1]! : snapIndex > 0 ? (init.snapshotTerm ?? 1) : 0;
    storage.setHardState({ term: lastTerm, vote: 0, commit: snapIndex, ...init.hardState });
    const logger = {
      debug: (s: string) => this.logSink?.('debug', s),
      info: (s: string) => this.logSink?.('info', s),
      warn: (s: string) => this.logSink?.('warn', s),
    };
    const cfg: Config = {
      ...TEST_CONFIG,
      ...this.defaults,
      ...init.config,
      id,
      applied: snapIndex,
      random: this.randomFor(id),
      logger,
    };
    const raft = new Raft(cfg, storage);
    const node = new SimNode(id, raft, storage, snapIndex, conf);
    this.nodes.set(id, node);
    return node;
  }

  /**
   * Crash and restart `id`: a new core over the same storage (what was persisted), the
   * application keeping what it had applied. Messages the old core had not handed out
   * are lost; messages already on the wire stay there.
   */
  restart(id: NodeId): SimNode {
    const old = this.get(id);
    const cfg: Config = { ...old.raft.cfg, applied: old.appliedIndex };
    const raft = new Raft(cfg, old.storage);
    const node = new SimNode(id, raft, old.storage, old.appliedIndex, old.confHistory[old.confHistory.length - 1]!.conf);
    node.app = old.app;
    node.confHistory = old.confHistory;
    this.nodes.set(id, node);
    return node;
  }

  get(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): Raft {
    return this.get(id).raft;
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  // -------------------------------------------------------------------------------------
  // Network

  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}-${b}`);
    this.cuts.add(`${b}-${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.cuts.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.has(`${from}-${to}`);
  }

  /** Hand a message to the network; returns false when it was dropped. */
  send(m: Message): boolean {
    const c = structuredClone(m);
    this.sent.push(c);
    if (this.isCut(c.from, c.to) || this.dropIf?.(c)) {
      this.dropped.push(c);
      return false;
    }
    this.queue.push(c);
    return true;
  }

  /** Remove and return the queued messages matching `filter`, in order. */
  take(filter: (m: Message) => boolean = () => true): Message[] {
    const out: Message[] = [];
    const keep: Message[] = [];
    for (const m of this.queue) (filter(m) ? out : keep).push(m);
    this.queue = keep;
    return out;
  }

  /** Step one message into its recipient; false if it was lost (cut link, unknown node). */
  stepOne(m: Message): boolean {
    const n = this.nodes.get(m.to);
    if (!n || this.isCut(m.from, m.to)) {
      this.dropped.push(m);
      return false;
    }
    n.raft.step(m);
    return true;
  }

  /** Deliver every queued message matching `filter`, in order. */
  deliver(filter?: (m: Message) => boolean): Message[] {
    const msgs = this.take(filter);
    for (const m of msgs) this.stepOne(m);
    return msgs;
  }

  // -------------------------------------------------------------------------------------
  // The Ready protocol

  /** Handle one Ready of node `id` the way a driver must; undefined if there was none. */
  processReady(id: NodeId): Ready | undefined {
    const n = this.get(id);
    const r = n.raft;
    if (!r.hasReady()) return undefined;
    const rd = r.ready();
    if (rd.softState?.role === 'leader') {
      const prev = this.leaders.get(r.term);
      if (prev !== undefined && prev !== id) {
        this.violations.push(`election safety: ${prev} and ${id} are both leaders of term ${r.term}`);
      }
      this.leaders.set(r.term, id);
    }
    // 1. Messages that do not wait for the disk write.
    for (const m of rd.messages) this.send(m);
    // 2. Persist.
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    if (rd.conf) n.storage.setConfState(rd.conf);
    // 3. Messages that needed the write.
    for (const m of rd.persistedMessages) this.send(m);
    // 4. Apply.
    if (rd.snapshot) this.restoreApp(n, rd.snapshot);
    for (const e of rd.committedEntries) this.apply(n, e);
    n.readStates.push(...rd.readStates);
    // 5.
    r.advance();
    return rd;
  }

  private restoreApp(n: SimNode, s: Snapshot): void {
    n.app = decodeApp(s.data, s.meta.index);
    n.appliedIndex = s.meta.index;
    n.confHistory = [{ index: s.meta.index, conf: s.meta.conf }];
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) {
      this.violations.push(`node ${n.id} applied ${e.index} after ${n.appliedIndex}`);
    }
    const d = describeEntry(e);
    const prev = this.appliedAt.get(e.index);
    if (prev !== undefined && prev !== d) {
      this.violations.push(`state machine safety: index ${e.index} applied as ${prev} and as ${d} (node ${n.id})`);
    }
    this.appliedAt.set(e.index, d);
    n.appliedIndex = e.index;
    if (e.type === 'normal' && e.data.length > 0) n.app.push({ index: e.index, data: text(e.data) });
    if (e.type === 'conf') {
      n.confHistory.push({ index: e.index, conf: nextConf(n.confHistory[n.confHistory.length - 1]!.conf, e) });
    }
  }

  /**
   * Process Readies and deliver messages until nothing moves. Returns the number of
   * delivery rounds (each round moves every queued message one hop).
   */
  stabilize(ids?: NodeId[], maxRounds = 10_000): number {
    const members = () => (ids ?? this.ids()).filter((id) => this.nodes.has(id));
    let rounds = 0;
    for (;;) {
      let moved = false;
      for (const id of members()) {
        while (this.processReady(id)) moved = true;
      }
      const set = new Set(members());
      if (this.deliver((m) => set.has(m.to)).length > 0) moved = true;
      if (!moved) return rounds;
      if (++rounds > maxRounds) throw new Error(`cluster did not stabilize in ${maxRounds} rounds`);
    }
  }

  tick(id: NodeId, n = 1): void {
    const r = this.raft(id);
    for (let i = 0; i < n; i++) r.tick();
  }

  /** Tick every node once, then stabilize. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of this.ids()) this.raft(id).tick();
      this.stabilize();
    }
  }

  /** The node that is leader at the highest term, if any. */
  leader(): NodeId | undefined {
    let best: Raft | undefined;
    for (const n of this.nodes.values()) {
      if (n.raft.role === 'leader' && (!best || n.raft.term > best.term)) best = n.raft;
    }
    return best?.id;
  }

  /** Take a snapshot of `id`'s applied state at `index` and drop the log before it. */
  compact(id: NodeId, index: number): Snapshot {
    const n = this.get(id);
    if (index > n.appliedIndex) throw new Error(`compact ${index} beyond applied ${n.appliedIndex}`);
    const s = n.storage.createSnapshot(index, n.confAt(index), encodeApp(n.app.filter((a) => a.index <= index)));
    n.storage.compact(index);
    return s;
  }
}

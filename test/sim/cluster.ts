import { MemoryStorage } from '../../src/raft/memory-storage.ts';
import { Raft } from '../../src/raft/raft.ts';
import { decodeConfChange } from '../../src/raft/codec.ts';
import {
  ProposalRefused,
  type Config,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Snapshot,
} from '../../src/raft/types.ts';
import { Checker, Violation, type LiveNode } from './checker.ts';
import { EventQueue } from './event-queue.ts';
import { CALM, Network, TICK, oneWayLinks, splitLinks, type NetParams } from './network.ts';
import { Rng, TraceHash } from './rng.ts';
import { StateMachine, bytesKey, copyConf, entryKey, fmtConf, sameConf } from './state-machine.ts';

// ---------------------------------------------------------------------------------------
// Options and results

export interface SimOptions {
  seed: number;
  /** Initial voters: 3 or 5. */
  replicas: number;
  /** Simulation steps (events) in the chaos phase; the healing phase comes on top. */
  steps: number;
  /** Membership changes: add learners, promote them, remove voters (the leader too). */
  churn: boolean;
  /** Snapshots + log compaction on random replicas, so lagging ones need a SnapMsg. */
  snapshots: boolean;
  /** Crash/restart replicas (losing whatever was not yet written). */
  crashes: boolean;
  /** Network partitions (symmetric, one-way, leader isolation, splits). */
  partitions: boolean;
  /**
   * Lease-based reads (readOnlyOption 'lease') in runs where checkQuorum is on: true for
   * every such run, false for none; by default half of them, drawn from the seed apart
   * from the run's main random stream (a run without leases replays as it did before
   * leases were part of the mix). The read check is the same either way: a read index
   * must be at least the highest commit index known anywhere when the read was issued.
   */
  lease?: boolean;
  /** Per-step trace lines (for replaying a failure). */
  verbose?: (line: string) => void;
  /** Also pass the core's own log lines to `verbose`. */
  raftLogs?: boolean;
}

export const DEFAULT_OPTIONS: Omit<SimOptions, 'seed'> = {
  replicas: 3,
  steps: 4000,
  churn: true,
  snapshots: true,
  crashes: true,
  partitions: true,
};

export interface SimStats {
  steps: number;
  healSteps: number;
  ticks: number;
  leaders: number;
  maxTerm: number;
  proposals: number;
  refused: number;
  acked: number;
  committed: number;
  reads: number;
  readsServed: number;
  /** Reads answered at once by the leader they were issued at (from its lease). */
  readsAtOnce: number;
  crashes: number;
  partitions: number;
  confChanges: number;
  confApplied: number;
  transfers: number;
  snapshotsTaken: number;
  snapMsgs: number;
  messages: number;
  dropped: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  /** The command that replays this run. */
  command: string;
  /** The run served reads from leader leases (readOnlyOption 'lease'). */
  lease: boolean;
  traceHash: string;
  stats: SimStats;
}

export function replayCommand(o: SimOptions): string {
  const parts = ['npm run sim --', `--seed ${o.seed}`, `--replicas ${o.replicas}`, `--steps ${o.steps}`];
  if (!o.churn) parts.push('--no-churn');
  if (!o.snapshots) parts.push('--no-snapshots');
  if (!o.crashes) parts.push('--no-crashes');
  if (!o.partitions) parts.push('--no-partitions');
  if (o.lease === true) parts.push('--lease');
  if (o.lease === false) parts.push('--no-lease');
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------
// Replicas

interface SimNode {
  id: NodeId;
  /** Incarnation: bumped by every restart. Events of an earlier incarnation are void. */
  inc: number;
  up: boolean;
  /** Removed from the cluster and shut down for good. */
  retired: boolean;
  /** What survives a crash: the last completed write. */
  storage: MemoryStorage;
  raft: Raft | undefined;
  /** The Ready whose write is in progress (lost on crash). */
  pending: Ready | undefined;
  sm: StateMachine;
  rng: Rng;
  /** The tick (of the simulation's clock) at which this replica last missed one. */
  lastSkip: number;
  /** The last index at the last (re)start: entries up to it may be applied again. */
  replayTo: number;
}

type Ev =
  | { k: 'tick' }
  | { k: 'deliver'; m: Message; via: NodeId; fromInc: number }
  | { k: 'write'; id: NodeId; inc: number }
  | { k: 'chaos' }
  | { k: 'client' }
  | { k: 'compact' }
  | { k: 'heal'; fault: number }
  | { k: 'restart'; id: NodeId; inc: number }
  | { k: 'retire'; id: NodeId }
  | { k: 'crash'; id: NodeId; inc: number; why: string }
  | { k: 'report'; from: NodeId; fromInc: number; to: NodeId; snap: boolean; ok: boolean };

const ROLE_CODE = { follower: 0, preCandidate: 1, candidate: 2, leader: 3 } as const;

const ENC = new TextEncoder();

function cloneMsg(m: Message): Message {
  switch (m.type) {
    case 'app':
      return { ...m, entries: m.entries.map((e) => ({ ...e, data: e.data.slice() })) };
    case 'snap':
      return { ...m, snapshot: cloneSnapshot(m.snapshot) };
    case 'heartbeat':
    case 'heartbeatResp':
    case 'readIndex':
    case 'readIndexResp':
      return { ...m, ctx: m.ctx.slice() };
    default:
      return { ...m };
  }
}

function cloneSnapshot(s: Snapshot): Snapshot {
  return { meta: { index: s.meta.index, term: s.meta.term, conf: copyConf(s.meta.conf) }, data: s.data.slice() };
}

/**
 * A copy of a durable MemoryStorage (what a restarted process reads back from disk),
 * rebuilt through its public interface.
 */
export function cloneStorage(s: MemoryStorage): MemoryStorage {
  const c = new MemoryStorage();
  const snap = s.snapshot();
  const first = s.firstIndex();
  const last = s.lastIndex();
  const dummy = first - 1;
  if (snap.meta.index < dummy) throw new Violation(`storage compacted to ${dummy} beyond its snapshot ${snap.meta.index}`);
  if (snap.meta.index === dummy) {
    c.applySnapshot(cloneSnapshot(snap));
  } else {
    // Entries are kept behind the snapshot: start at the dummy entry, re-record the snapshot.
    c.applySnapshot({ meta: { index: dummy, term: s.term(dummy), conf: copyConf(snap.meta.conf) }, data: new Uint8Array() });
  }
  if (last >= first) c.append(s.entries(first, last + 1, Number.MAX_SAFE_INTEGER).map((e) => ({ ...e })));
  if (snap.meta.index > dummy) c.createSnapshot(snap.meta.index, copyConf(snap.meta.conf), snap.data.slice());
  c.setHardState(s.hardState());
  c.setConfState(copyConf(s.initialState().conf));
  return c;
}

function describe(m: Message): string {
  const h = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'prop':
      return `${h} n${m.data.length}`;
    case 'app':
      return `${h} prev ${m.index}@${m.logTerm} n${m.entries.length}${m.entries.length ? `[${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]` : ''} c${m.commit}`;
    case 'appResp':
      return `${h} ${m.reject ? `reject ${m.index} hint ${m.hintIndex}@${m.hintTerm}` : `ok ${m.index}`}`;
    case 'vote':
    case 'preVote':
      return `${h} last ${m.lastIndex}@${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${h} ${m.reject ? 'reject' : 'grant'}`;
    case 'heartbeat':
      return `${h} c${m.commit}${m.ctx.length ? ` ctx ${bytesKey(m.ctx)}` : ''}`;
    case 'heartbeatResp':
      return `${h}${m.ctx.length ? ` ctx ${bytesKey(m.ctx)}` : ''}`;
    case 'snap':
      return `${h} snap ${m.snapshot.meta.index}@${m.snapshot.meta.term} ${fmtConf(m.snapshot.meta.conf)}`;
    case 'readIndex':
      return `${h} ctx ${bytesKey(m.ctx)}`;
    case 'readIndexResp':
      return `${h} ctx ${bytesKey(m.ctx)} index ${m.index}`;
    case 'timeoutNow':
      return h;
  }
}

/** Salt of the random stream that decides whether a run uses lease reads (see SimOptions.lease). */
const LEASE_SALT = 0x1ea5e;

/** The core configuration for a run: varied per seed to cover flow control and limits. */
function makeConfig(rng: Rng, o: SimOptions): Omit<Config, 'id' | 'random' | 'applied' | 'logger'> {
  const checkQuorum = rng.chance(0.75);
  const lease = o.lease ?? new Rng((o.seed ^ LEASE_SALT) >>> 0).chance(0.5);
  return {
    electionTick: 10,
    heartbeatTick: rng.pick([1, 1, 2, 3]),
    maxSizePerMsg: rng.pick([1 << 20, 1 << 20, 100, 40]),
    maxInflightMsgs: rng.pick([256, 256, 4, 2, 1]),
    maxUncommittedEntriesSize: rng.pick([0, 64 << 20, 64 << 20, 400]),
    maxCommittedSizePerReady: rng.pick([4 << 20, 4 << 20, 80]),
    preVote: rng.chance(0.75),
    checkQuorum,
    readOnlyOption: lease && checkQuorum ? 'lease' : 'safe',
  };
}

// ---------------------------------------------------------------------------------------
// The simulation

interface Proposal {
  id: NodeId;
  inc: number;
  index: number;
  value: string;
}

interface PendingReadReq {
  id: NodeId;
  /** The highest commit index known anywhere when the read was issued. */
  minIndex: number;
  /** When it was issued, and whether at a leader. */
  at: number;
  atLeader: boolean;
}

export class Sim {
  readonly o: SimOptions;
  readonly rng: Rng;
  readonly net: Network;
  readonly checker = new Checker();
  readonly cfg: ReturnType<typeof makeConfig>;
  /** This run serves reads from leader leases. */
  readonly lease: boolean;
  private q = new EventQueue<Ev>();
  private nodes = new Map<NodeId, SimNode>();
  private nextId: number;
  now = 0;
  private healing = false;
  private hash = new TraceHash();
  readonly stats: SimStats = {
    steps: 0,
    healSteps: 0,
    ticks: 0,
    leaders: 0,
    maxTerm: 0,
    proposals: 0,
    refused: 0,
    acked: 0,
    committed: 0,
    reads: 0,
    readsServed: 0,
    readsAtOnce: 0,
    crashes: 0,
    partitions: 0,
    confChanges: 0,
    confApplied: 0,
    transfers: 0,
    snapshotsTaken: 0,
    snapMsgs: 0,
    messages: 0,
    dropped: 0,
  };
  private proposals = new Map<string, Proposal>();
  /** Acknowledged values → the index they were acknowledged at. */
  private acked = new Map<string, number>();
  private reads = new Map<string, PendingReadReq>();
  private valueSeq = 0;
  private readSeq = 0;
  /** Nodes whose removal has been applied somewhere (i.e. committed). */
  private removed = new Set<NodeId>();
  /** Indexes of conf entries applied somewhere (for the stats). */
  private confSeen = new Set<number>();
  private finalValue: string | undefined;
  private lastFullCheck = 0;
  private leaderTerms = new Set<number>();
  /** Per-run fault intensities (drawn from the seed). */
  private crashInWriteP: number;
  private leaderKillP: number;
  /** Snapshot + compact some replica every 1…compactEvery ticks (snapshots on). */
  private compactEvery: number;
  /** The driver skips writing Readies that only move the commit index. */
  private lazyCommit: boolean;
  private leaderCommit = new Map<NodeId, number>();

  constructor(o: SimOptions) {
    this.o = o;
    this.rng = new Rng(o.seed);
    this.net = new Network(this.rng.fork());
    this.cfg = makeConfig(this.rng, o);
    this.lease = this.cfg.readOnlyOption === 'lease';
    this.nextId = o.replicas + 1;
    this.net.params = { ...CALM, maxDelay: this.rng.pick([2, 4, 8]) };
    this.crashInWriteP = this.rng.pick([0, 0.002, 0.01, 0.03]);
    this.leaderKillP = this.rng.pick([0, 0.1, 0.3]);
    this.compactEvery = this.rng.pick([5, 20, 60]);
    this.lazyCommit = this.rng.chance(0.3);
  }

  private trace(s: string): void {
    this.o.verbose?.(`[${this.now} #${this.stats.steps + this.stats.healSteps}] ${s}`);
  }

  // -------------------------------------------------------------------------------------
  // Setup

  private bootstrap(): void {
    const voters: NodeId[] = [];
    for (let i = 1; i <= this.o.replicas; i++) voters.push(i);
    const conf: ConfState = { voters, learners: [] };
    // Every initial replica starts from the same bootstrap snapshot at index 1 (term 1)
    // holding the initial membership; replicas added later start empty and receive it
    // (or a later snapshot) from the leader.
    const boot = new StateMachine(['1|b|boot'], conf);
    this.checker.noteApplied(0, 1, '1|b|boot', 1);
    for (const id of voters) {
      const st = new MemoryStorage();
      st.applySnapshot({ meta: { index: 1, term: 1, conf: copyConf(conf) }, data: boot.encode() });
      st.setHardState({ term: 1, vote: 0, commit: 1 });
      st.setConfState(copyConf(conf));
      this.addNode(id, st);
    }
  }

  private addNode(id: NodeId, storage: MemoryStorage): SimNode {
    const n: SimNode = {
      id,
      inc: 0,
      up: false,
      retired: false,
      storage,
      raft: undefined,
      pending: undefined,
      sm: new StateMachine([], { voters: [], learners: [] }),
      rng: this.rng.fork(),
      replayTo: 0,
      lastSkip: -Infinity,
    };
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  /** (Re)start a replica from its durable storage. */
  private start(n: SimNode): void {
    n.inc++;
    n.storage = cloneStorage(n.storage);
    const snap = n.storage.snapshot();
    n.sm = StateMachine.decode(snap.data, { voters: [], learners: [] });
    if (n.sm.applied !== snap.meta.index) {
      throw new Violation(`node ${n.id}: snapshot at ${snap.meta.index} holds ${n.sm.applied} entries`);
    }
    this.checker.noteRestored(n.id, n.sm.keys);
    const rng = n.rng;
    const cfg: Config = {
      ...this.cfg,
      id: n.id,
      applied: n.sm.applied,
      random: (k) => rng.int(k),
    };
    if (this.o.verbose && this.o.raftLogs) {
      const v = this.o.verbose;
      cfg.logger = { debug: (s) => v(`    raft ${s}`), info: (s) => v(`    raft ${s}`), warn: (s) => v(`    raft WARN ${s}`) };
    }
    n.raft = new Raft(cfg, n.storage);
    // The durable membership can be as recent as the last entry applied before the crash,
    // which may be past the durable commit index (a lazy driver): compare only after that.
    n.replayTo = n.raft.log.lastIndex();
    n.pending = undefined;
    n.up = true;
    this.trace(`start ${n.id} (inc ${n.inc}): term ${n.raft.term} commit ${n.raft.log.committed} applied ${n.raft.log.applied} last ${n.raft.log.lastIndex()} ${fmtConf(n.raft.confState())}`);
  }

  private crash(n: SimNode, why: string): void {
    if (!n.up) return;
    this.trace(`crash ${n.id} (${why})${n.pending ? ` losing a write of ${n.pending.entries.length} entries` : ''}`);
    this.checker.forget(n.id, n.inc);
    n.up = false;
    n.raft = undefined;
    n.pending = undefined;
  }

  // -------------------------------------------------------------------------------------
  // Running

  private schedule(delay: number, ev: Ev): void {
    this.q.push(this.now + Math.max(0, delay), ev);
  }

  private live(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.up) out.push(n);
    return out;
  }

  private liveViews(): LiveNode[] {
    const out: LiveNode[] = [];
    for (const n of this.nodes.values()) if (n.up) out.push({ id: n.id, inc: n.inc, raft: n.raft! });
    return out;
  }

  /** The running leader with the highest term, if any. */
  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.up && n.raft!.role === 'leader' && (!best || n.raft!.term > best.raft!.term)) best = n;
    }
    return best;
  }

  run(): SimResult {
    let error: string | undefined;
    try {
      this.trace(`config ${JSON.stringify(this.cfg)} crashInWrite ${this.crashInWriteP} leaderKill ${this.leaderKillP} compactEvery ${this.compactEvery} lazyCommit ${this.lazyCommit}`);
      this.bootstrap();
      this.afterStep();
      this.schedule(TICK, { k: 'tick' });
      this.schedule(this.rng.range(1, 30) * TICK, { k: 'chaos' });
      this.schedule(this.rng.range(1, 10), { k: 'client' });
      if (this.o.snapshots) this.schedule(this.rng.range(1, this.compactEvery) * TICK, { k: 'compact' });
      while (this.stats.steps < this.o.steps) {
        this.step();
        this.stats.steps++;
      }
      this.heal();
    } catch (e) {
      error = e instanceof Violation ? e.message : e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
      this.trace(`FAILED: ${error}`);
    }
    this.stats.leaders = this.leaderTerms.size;
    this.stats.committed = this.checker.globalCommit;
    const res: SimResult = {
      seed: this.o.seed,
      ok: error === undefined,
      command: replayCommand(this.o),
      lease: this.lease,
      traceHash: this.hash.hex(),
      stats: this.stats,
    };
    if (error !== undefined) res.error = error;
    return res;
  }

  private step(): void {
    const next = this.q.pop();
    if (!next) throw new Violation('simulation: event queue ran dry');
    this.now = next.time;
    const ev = next.item;
    this.hash.int(this.now);
    this.handle(ev);
    this.pumpAll();
    this.afterStep();
  }

  private afterStep(): void {
    const views = this.liveViews();
    this.checker.afterStep(views);
    for (const v of views) {
      const r = v.raft;
      this.hash.int(v.id * 31 + ROLE_CODE[r.role]);
      this.hash.int(r.term);
      this.hash.int(r.log.committed);
      this.hash.int(r.log.lastIndex());
      if (r.role === 'leader' && this.o.crashes && !this.healing) {
        // A leader that dies just after committing, before the rest of its log spreads.
        const before = this.leaderCommit.get(v.id) ?? 0;
        if (r.log.committed > before && this.rng.chance(this.leaderKillP / 4)) {
          this.schedule(this.rng.range(0, 6), { k: 'crash', id: v.id, inc: v.inc, why: 'leader killed after committing' });
        }
        this.leaderCommit.set(v.id, r.log.committed);
      }
      if (r.role === 'leader' && !this.leaderTerms.has(r.term)) {
        this.leaderTerms.add(r.term);
        // Leaders that die young make for the interesting logs (Figure 8 of the paper).
        if (this.o.crashes && !this.healing && this.rng.chance(this.leaderKillP)) {
          this.schedule(this.rng.range(0, 3 * TICK), { k: 'crash', id: v.id, inc: v.inc, why: 'new leader killed' });
        }
      }
      if (r.term > this.stats.maxTerm) this.stats.maxTerm = r.term;
    }
    const s = this.stats.steps + this.stats.healSteps;
    if (s - this.lastFullCheck >= 250) {
      this.lastFullCheck = s;
      this.checker.fullLogCheck(views);
    }
  }

  private handle(ev: Ev): void {
    this.hash.str(ev.k);
    switch (ev.k) {
      case 'tick':
        this.onTick();
        return;
      case 'deliver':
        this.onDeliver(ev.m, ev.via, ev.fromInc);
        return;
      case 'write': {
        const n = this.nodes.get(ev.id)!;
        if (n.up && n.inc === ev.inc && n.pending) this.completeWrite(n);
        return;
      }
      case 'chaos':
        if (this.healing) return;
        this.chaos();
        this.schedule(this.rng.range(1, 15) * TICK, { k: 'chaos' });
        return;
      case 'compact':
        if (this.healing) return;
        this.snapshot();
        this.schedule(this.rng.range(1, this.compactEvery) * TICK, { k: 'compact' });
        return;
      case 'client':
        if (this.healing) return;
        this.client();
        this.schedule(this.rng.range(1, 25), { k: 'client' });
        return;
      case 'heal': {
        const f = this.net.heal(ev.fault);
        if (f) this.trace(`heal: ${f.what}`);
        return;
      }
      case 'restart': {
        const n = this.nodes.get(ev.id)!;
        if (!n.up && !n.retired && n.inc === ev.inc) this.start(n);
        return;
      }
      case 'crash': {
        const n = this.nodes.get(ev.id)!;
        if (this.healing || !n.up || n.inc !== ev.inc || !this.mayCrash()) return;
        this.stats.crashes++;
        this.crash(n, ev.why);
        this.schedule(this.restartDelay(), { k: 'restart', id: n.id, inc: n.inc });
        return;
      }
      case 'retire': {
        const n = this.nodes.get(ev.id)!;
        if (!n.retired) {
          this.crash(n, 'removed from the cluster: shutting down');
          n.retired = true;
        }
        return;
      }
      case 'report': {
        const n = this.nodes.get(ev.from)!;
        if (!n.up || n.inc !== ev.fromInc) return;
        if (ev.snap) {
          this.trace(`reportSnapshot ${ev.from}: to ${ev.to} ${ev.ok ? 'ok' : 'failed'}`);
          n.raft!.reportSnapshot(ev.to, ev.ok);
        } else {
          this.trace(`reportUnreachable ${ev.from}: ${ev.to}`);
          n.raft!.reportUnreachable(ev.to);
        }
        return;
      }
    }
  }

  private onTick(): void {
    this.stats.ticks++;
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      // A little clock skew: a replica occasionally misses a tick. Leases assume the clock
      // rates are bounded (raft.ts leaseValid allows for one tick of drift per lease
      // period), so in lease runs a replica misses at most one tick per election timeout.
      if (!this.healing && this.rng.chance(0.01) && (!this.lease || this.stats.ticks - n.lastSkip >= this.cfg.electionTick)) {
        n.lastSkip = this.stats.ticks;
        continue;
      }
      n.raft!.tick();
    }
    this.schedule(TICK, { k: 'tick' });
  }

  private onDeliver(m: Message, via: NodeId, fromInc: number): void {
    const n = this.nodes.get(m.to);
    this.hash.int(m.from * 4096 + m.to);
    this.hash.str(m.type);
    this.hash.int(m.term);
    const dropped = !n || !n.up || this.net.isBlocked(via, m.to);
    if (dropped) {
      this.stats.dropped++;
      this.trace(`drop ${describe(m)}${!n || !n.up ? ' (down)' : ' (partitioned)'}`);
      if (m.type === 'snap') this.schedule(this.rng.range(1, 3) * TICK, { k: 'report', from: m.from, fromInc, to: m.to, snap: true, ok: false });
      return;
    }
    this.trace(`deliver ${describe(m)}`);
    n.raft!.step(m);
    if (m.type === 'snap') {
      // The transport reports a snapshot as sent once the receiver has it.
      this.schedule(0, { k: 'report', from: m.from, fromInc, to: m.to, snap: true, ok: true });
    }
  }

  /** Send a message from replica `n` through the network. */
  private send(n: SimNode, m: Message): void {
    // A follower forwards a ReadIndex request to its leader on behalf of the requester.
    if (m.from !== n.id && m.type !== 'readIndex') throw new Violation(`node ${n.id} sent a message from ${m.from}: ${describe(m)}`);
    if (m.to === n.id) throw new Violation(`node ${n.id} sent a message to itself: ${describe(m)}`);
    this.stats.messages++;
    if (m.type === 'snap') this.stats.snapMsgs++;
    const delays = this.net.route(m, n.id);
    if (delays.length === 0) {
      this.stats.dropped++;
      this.trace(`lost ${describe(m)}`);
      if (m.type === 'snap') {
        this.schedule(this.rng.range(1, 3) * TICK, { k: 'report', from: n.id, fromInc: n.inc, to: m.to, snap: true, ok: false });
      } else if (m.type === 'app' && this.rng.chance(0.3)) {
        this.schedule(this.rng.range(1, 10), { k: 'report', from: n.id, fromInc: n.inc, to: m.to, snap: false, ok: false });
      }
      return;
    }
    for (const d of delays) this.schedule(d, { k: 'deliver', m: cloneMsg(m), via: n.id, fromInc: n.inc });
  }

  // -------------------------------------------------------------------------------------
  // The Ready loop of each replica

  private pumpAll(): void {
    for (const n of this.nodes.values()) this.pump(n);
  }

  private pump(n: SimNode): void {
    while (n.up && !n.pending && n.raft!.hasReady()) {
      const r = n.raft!;
      const rd = r.ready();
      this.checkReady(n, rd);
      for (const m of rd.messages) this.send(n, m);
      for (const rs of rd.readStates) this.onReadState(n, rs);
      n.pending = rd;
      // The write takes a while (or completes at once, like a synchronous driver).
      let lat = this.rng.chance(0.3) ? 0 : this.rng.chance(0.1) ? this.rng.range(5, 25) : this.rng.range(1, 5);
      if (this.o.crashes && !this.healing && (rd.hardState || rd.entries.length > 0) && this.rng.chance(this.crashInWriteP)) {
        // Crash after the Ready's messages left but before its write lands: the votes and
        // entries it carried are lost, and the node restarts from the previous write.
        lat = Math.max(lat, 2);
        this.schedule(lat - 1, { k: 'crash', id: n.id, inc: n.inc, why: 'in the middle of a write' });
      }
      if (lat === 0) this.completeWrite(n);
      else this.schedule(lat, { k: 'write', id: n.id, inc: n.inc });
    }
  }

  private checkReady(n: SimNode, rd: Ready): void {
    for (let i = 1; i < rd.entries.length; i++) {
      if (rd.entries[i]!.index !== rd.entries[i - 1]!.index + 1) throw new Violation(`node ${n.id}: Ready.entries not contiguous`);
    }
    for (let i = 1; i < rd.committedEntries.length; i++) {
      if (rd.committedEntries[i]!.index !== rd.committedEntries[i - 1]!.index + 1) {
        throw new Violation(`node ${n.id}: Ready.committedEntries not contiguous`);
      }
    }
    if (rd.hardState && rd.hardState.commit < n.storage.hardState().commit) {
      throw new Violation(`node ${n.id}: Ready lowers the durable commit index from ${n.storage.hardState().commit} to ${rd.hardState.commit}`);
    }
    if (rd.hardState && rd.hardState.term < n.storage.hardState().term) {
      throw new Violation(`node ${n.id}: Ready lowers the durable term from ${n.storage.hardState().term} to ${rd.hardState.term}`);
    }
    const lastC = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastC) {
      if (lastC.index > n.raft!.log.committed) throw new Violation(`node ${n.id}: Ready hands out entry ${lastC.index} to apply beyond the commit index ${n.raft!.log.committed}`);
    }
    if (rd.committedEntries.length > 0 && rd.snapshot) throw new Violation(`node ${n.id}: Ready with both a snapshot and committed entries`);
  }

  private completeWrite(n: SimNode): void {
    const rd = n.pending!;
    n.pending = undefined;
    const st = n.storage;
    const r = n.raft!;
    // 1. The write itself, as one batch. A lazy driver (like src/raft/replica.ts) skips
    // the write of a Ready that only moves the commit index: the commit index is
    // volatile state and comes back from the leader.
    const skip = this.lazyCommit && rd.entries.length === 0 && !rd.snapshot && !rd.conf && !rd.mustSync;
    if (skip) {
      // nothing durable
    } else if (rd.snapshot) st.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      st.append(rd.entries);
      for (const e of rd.entries) {
        let prev: number | undefined;
        try {
          prev = st.term(e.index - 1);
        } catch {
          prev = undefined;
        }
        this.checker.noteEntry(n.id, e, prev);
      }
    }
    if (rd.hardState && !skip) st.setHardState(rd.hardState);
    if (rd.conf) st.setConfState(rd.conf);
    const durable = st.hardState();
    if (durable.commit > st.lastIndex()) {
      throw new Violation(`node ${n.id}: durable commit ${durable.commit} is beyond the durable log (last ${st.lastIndex()})`);
    }
    this.trace(`write ${n.id}: ${rd.snapshot ? `snap ${rd.snapshot.meta.index} ` : ''}${rd.entries.length ? `ents [${rd.entries[0]!.index}..${rd.entries[rd.entries.length - 1]!.index}] ` : ''}hs ${durable.term}/${durable.vote}/${durable.commit}${rd.conf ? ` conf ${fmtConf(rd.conf)}` : ''}; apply ${rd.committedEntries.length}`);
    // 2. Messages that needed the write.
    for (const m of rd.persistedMessages) this.send(n, m);
    // 3. Apply.
    if (rd.snapshot) {
      const s = rd.snapshot;
      if (s.meta.index <= n.sm.applied) {
        throw new Violation(`node ${n.id}: snapshot at ${s.meta.index} would roll the state machine back from ${n.sm.applied}`);
      }
      const sm = StateMachine.decode(s.data, s.meta.conf);
      if (sm.applied !== s.meta.index) throw new Violation(`node ${n.id}: snapshot at ${s.meta.index} holds ${sm.applied} entries`);
      if (!sameConf(sm.conf, s.meta.conf)) throw new Violation(`node ${n.id}: snapshot meta conf ${fmtConf(s.meta.conf)} but state ${fmtConf(sm.conf)}`);
      this.checker.noteRestored(n.id, sm.keys);
      n.sm = sm;
      this.trace(`restore ${n.id}: snapshot ${s.meta.index}@${s.meta.term} ${fmtConf(s.meta.conf)}`);
    }
    for (const e of rd.committedEntries) this.apply(n, e);
    r.advance();
    if (r.log.applied !== n.sm.applied) {
      throw new Violation(`node ${n.id}: core says applied ${r.log.applied}, state machine applied ${n.sm.applied}`);
    }
    // The core's membership is the application's, except while a received snapshot is not
    // applied yet (the core adopts its membership on receipt) and, after a restart, until
    // the entries up to the restart's commit index are applied again (the durable
    // membership is the one as of the last applied entry before the crash).
    if (!r.log.unstable.snapshot && n.sm.applied >= n.replayTo && !sameConf(r.confState(), n.sm.conf)) {
      throw new Violation(`node ${n.id}: core membership ${fmtConf(r.confState())} differs from the application's ${fmtConf(n.sm.conf)} at applied ${n.sm.applied}`);
    }
  }

  private apply(n: SimNode, e: Entry): void {
    const r = n.raft!;
    n.sm.apply(e);
    this.checker.noteApplied(n.id, e.index, entryKey(e), r.term);
    if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      this.trace(`apply ${n.id}: ${e.index}@${e.term} conf ${cc.type} ${cc.nodeId} -> ${fmtConf(n.sm.conf)}`);
      if (!this.confSeen.has(e.index)) {
        this.confSeen.add(e.index);
        this.stats.confApplied++;
      }
      if (cc.type === 'removeNode' && !this.removed.has(cc.nodeId)) {
        this.removed.add(cc.nodeId);
        // The operator shuts the removed replica down, some time later.
        this.schedule(this.healing ? 0 : this.rng.range(0, 30) * TICK, { k: 'retire', id: cc.nodeId });
      }
      return;
    }
    if (e.data.length === 0) return;
    const value = bytesKey(e.data);
    const p = this.proposals.get(value);
    if (p && p.id === n.id && p.inc === n.inc) {
      if (p.index !== e.index) {
        throw new Violation(`node ${n.id} proposed ${value} at index ${p.index} but applied it at ${e.index}`);
      }
      if (!this.acked.has(value)) {
        this.acked.set(value, e.index);
        this.stats.acked++;
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Clients

  private client(): void {
    const live = this.live();
    if (live.length === 0) return;
    // Lease runs read more: reads are what they are about.
    if (this.rng.chance(this.lease ? 0.3 : 0.15)) {
      this.issueRead(live);
      return;
    }
    const leaders = live.filter((n) => n.raft!.role === 'leader');
    const target = leaders.length > 0 && this.rng.chance(0.9) ? this.rng.pick(leaders) : this.rng.pick(live);
    const k = this.rng.chance(0.2) ? this.rng.range(2, 5) : 1;
    for (let i = 0; i < k; i++) this.propose(target, `v${++this.valueSeq}`);
  }

  private propose(n: SimNode, value: string): boolean {
    this.stats.proposals++;
    try {
      const index = n.raft!.propose(ENC.encode(value));
      this.proposals.set(value, { id: n.id, inc: n.inc, index, value });
      this.trace(`propose ${value} to ${n.id}: index ${index}`);
      return true;
    } catch (e) {
      if (!(e instanceof ProposalRefused)) throw e;
      this.stats.refused++;
      this.trace(`propose ${value} to ${n.id}: refused (${e.reason})`);
      return false;
    }
  }

  private issueRead(live: SimNode[]): void {
    if (live.length === 0) return;
    const leaders = live.filter((n) => n.raft!.role === 'leader');
    const target = leaders.length > 0 && this.rng.chance(0.5) ? this.rng.pick(leaders) : this.rng.pick(live);
    const ctx = `r${++this.readSeq}`;
    this.stats.reads++;
    try {
      target.raft!.readIndex(ENC.encode(ctx));
      this.reads.set(ctx, { id: target.id, minIndex: this.checker.globalCommit, at: this.now, atLeader: target.raft!.role === 'leader' });
      this.trace(`read ${ctx} at ${target.id} (commit known anywhere: ${this.checker.globalCommit})`);
    } catch (e) {
      if (!(e instanceof ProposalRefused)) throw e;
      this.trace(`read ${ctx} at ${target.id}: refused (${e.reason})`);
    }
  }

  private onReadState(n: SimNode, rs: ReadState): void {
    const ctx = bytesKey(rs.ctx);
    const req = this.reads.get(ctx);
    if (!req) throw new Violation(`node ${n.id}: read state for unknown ctx ${JSON.stringify(ctx)}`);
    if (req.id !== n.id) throw new Violation(`node ${n.id}: got the read state of ${ctx}, issued at node ${req.id}`);
    if (rs.index < req.minIndex) {
      throw new Violation(`ReadIndex: read ${ctx} at node ${n.id} got read index ${rs.index}, but ${req.minIndex} was committed when it was issued (stale read)`);
    }
    this.stats.readsServed++;
    const atOnce = req.atLeader && req.at === this.now;
    if (atOnce) this.stats.readsAtOnce++;
    this.trace(`read state ${ctx} at ${n.id}: index ${rs.index} (≥ ${req.minIndex})${atOnce ? ' at once' : ''}`);
  }

  // -------------------------------------------------------------------------------------
  // Faults

  private chaos(): void {
    const o = this.o;
    const choices: [number, () => void][] = [
      [1, () => this.netMode()],
      [1, () => this.transfer()],
      [0.4, () => this.forceCampaign()],
      [0.6, () => this.issueRead(this.live())],
    ];
    if (o.partitions) choices.push([3, () => this.partition()]);
    if (o.crashes) choices.push([2.5, () => this.crashSome()]);
    if (o.churn) choices.push([4, () => this.churn()]);
    if (o.snapshots) choices.push([2.5, () => this.snapshot()]);
    this.rng.weighted(choices)();
  }

  private netMode(): void {
    const p: NetParams = {
      drop: this.rng.pick([0, 0, 0.01, 0.05, 0.2]),
      dup: this.rng.pick([0, 0, 0.02, 0.1]),
      minDelay: 1,
      maxDelay: this.rng.pick([2, 4, 8, 16]),
      longP: this.rng.pick([0, 0, 0.02, 0.1]),
      longDelay: this.rng.pick([30, 100, 300]),
    };
    this.net.params = p;
    this.trace(`network: drop ${p.drop} dup ${p.dup} delay ${p.minDelay}-${p.maxDelay} long ${p.longP}→${p.longDelay}`);
  }

  private members(): NodeId[] {
    const out: NodeId[] = [];
    for (const n of this.nodes.values()) if (!n.retired) out.push(n.id);
    return out;
  }

  private partition(): void {
    const ids = this.members();
    if (ids.length < 2) return;
    const lead = this.leader()?.id ?? this.rng.pick(ids);
    const others = ids.filter((i) => i !== lead);
    const kind = this.rng.pick(['isolateLeader', 'split', 'split', 'leaderCantSend', 'leaderCantHear', 'oneWayPair', 'isolateOne'] as const);
    let links: [NodeId, NodeId][];
    let what: string;
    switch (kind) {
      case 'isolateLeader':
        links = splitLinks([lead], others);
        what = `isolate leader ${lead}`;
        break;
      case 'isolateOne': {
        const x = this.rng.pick(ids);
        links = splitLinks([x], ids.filter((i) => i !== x));
        what = `isolate ${x}`;
        break;
      }
      case 'split': {
        const sh = [...ids];
        for (let i = sh.length - 1; i > 0; i--) {
          const j = this.rng.int(i + 1);
          [sh[i], sh[j]] = [sh[j]!, sh[i]!];
        }
        const k = this.rng.range(1, Math.floor(sh.length / 2));
        const a = sh.slice(0, k);
        const b = sh.slice(k);
        links = splitLinks(a, b);
        what = `split [${a}] | [${b}]`;
        break;
      }
      case 'leaderCantSend':
        links = oneWayLinks([lead], others);
        what = `one-way: ${lead} -/-> [${others}]`;
        break;
      case 'leaderCantHear':
        links = oneWayLinks(others, [lead]);
        what = `one-way: [${others}] -/-> ${lead}`;
        break;
      case 'oneWayPair': {
        const a = this.rng.pick(ids);
        const b = this.rng.pick(ids.filter((i) => i !== a));
        links = [[a, b]];
        what = `one-way: ${a} -/-> ${b}`;
        break;
      }
    }
    const f = this.net.addFault(what, links);
    this.stats.partitions++;
    this.trace(`partition: ${what}`);
    this.schedule(this.rng.range(2, 50) * TICK, { k: 'heal', fault: f.id });
  }

  /** Keep at least one replica running, and at most a bare majority down. */
  private mayCrash(): boolean {
    const live = this.live().length;
    const all = this.members().length;
    return live > 1 && all - live < Math.ceil(all / 2) + 1;
  }

  private restartDelay(): number {
    // Often quickly (within the same election), sometimes after a long while.
    return this.rng.chance(0.4) ? this.rng.range(1, 20) : this.rng.range(1, 50) * TICK;
  }

  private crashSome(): void {
    if (!this.mayCrash()) return;
    const live = this.live();
    const lead = this.leader();
    const writing = live.filter((n) => n.pending);
    const n =
      lead && this.rng.chance(0.4) ? lead : writing.length > 0 && this.rng.chance(0.3) ? this.rng.pick(writing) : this.rng.pick(live);
    this.stats.crashes++;
    this.crash(n, 'fault');
    this.schedule(this.restartDelay(), { k: 'restart', id: n.id, inc: n.inc });
  }

  private transfer(): void {
    const lead = this.leader();
    if (!lead) return;
    const voters = lead.raft!.confState().voters.filter((v) => v !== lead.id);
    if (voters.length === 0) return;
    const to = this.rng.pick(voters);
    try {
      lead.raft!.transferLeader(to);
      this.stats.transfers++;
      this.trace(`transfer leadership ${lead.id} -> ${to}`);
    } catch (e) {
      if (!(e instanceof ProposalRefused)) throw e;
      this.trace(`transfer ${lead.id} -> ${to}: refused (${e.reason})`);
    }
  }

  private forceCampaign(): void {
    const live = this.live();
    if (live.length === 0) return;
    const n = this.rng.pick(live);
    this.trace(`campaign ${n.id}`);
    n.raft!.campaign();
  }

  private churn(): void {
    const lead = this.leader();
    if (!lead) return;
    const r = lead.raft!;
    const conf = r.confState();
    const maxMembers = this.o.replicas + 2;
    const members = conf.voters.length + conf.learners.length;
    const options: [number, () => void][] = [];
    if (members < maxMembers) {
      options.push([3, () => this.addMember(lead, 'addLearner')]);
      options.push([0.5, () => this.addMember(lead, 'addVoter')]);
    }
    if (conf.learners.length > 0 && conf.voters.length < this.o.replicas + 2) {
      options.push([4, () => this.confChange(lead, 'addVoter', this.rng.pick(conf.learners))]);
    }
    if (conf.voters.length > 2) {
      options.push([2, () => this.confChange(lead, 'removeNode', this.rng.chance(0.3) ? lead.id : this.rng.pick(conf.voters))]);
    }
    if (conf.learners.length > 0) options.push([0.5, () => this.confChange(lead, 'removeNode', this.rng.pick(conf.learners))]);
    if (options.length > 0) this.rng.weighted(options)();
  }

  private addMember(lead: SimNode, type: 'addLearner' | 'addVoter'): void {
    const id = this.nextId;
    if (this.confChange(lead, type, id)) {
      this.nextId++;
      // The new replica starts empty; it gets a snapshot from the leader.
      this.addNode(id, new MemoryStorage());
    }
  }

  private confChange(lead: SimNode, type: 'addLearner' | 'addVoter' | 'removeNode', id: NodeId): boolean {
    try {
      const index = lead.raft!.proposeConfChange({ type, nodeId: id });
      this.stats.confChanges++;
      this.trace(`conf change ${type} ${id} proposed to ${lead.id}: index ${index}`);
      return true;
    } catch (e) {
      if (!(e instanceof ProposalRefused)) throw e;
      this.trace(`conf change ${type} ${id} at ${lead.id}: refused (${e.reason}${e.message.includes('(') ? ` ${e.message.slice(e.message.indexOf('('))}` : ''})`);
      return false;
    }
  }

  private snapshot(): void {
    const cands = this.live().filter((n) => n.sm.applied > n.storage.snapshot().meta.index);
    if (cands.length === 0) return;
    const lead = this.leader();
    const n = lead && cands.includes(lead) && this.rng.chance(0.5) ? lead : this.rng.pick(cands);
    const st = n.storage;
    const applied = n.sm.applied;
    st.createSnapshot(applied, copyConf(n.sm.conf), n.sm.encode());
    const lo = Math.max(st.firstIndex() - 1, applied - 10);
    const to = this.rng.chance(0.5) ? applied : this.rng.range(lo, applied);
    st.compact(to);
    this.stats.snapshotsTaken++;
    this.trace(`snapshot ${n.id} at ${applied} ${fmtConf(n.sm.conf)}, compact to ${to}`);
  }

  // -------------------------------------------------------------------------------------
  // Healing and the final checks

  private heal(): void {
    this.healing = true;
    this.net.healAll();
    this.net.params = { ...CALM };
    this.trace('=== heal: no more faults ===');
    for (const n of this.nodes.values()) {
      if (n.retired) continue;
      if (this.removed.has(n.id)) {
        this.crash(n, 'removed from the cluster: shutting down');
        n.retired = true;
      } else if (!n.up) {
        this.start(n);
      }
    }
    this.pumpAll();
    this.afterStep();
    // Converge within 20 election timeouts, or at least keep making progress (a replica
    // far behind catches up one small AppMsg per round trip with a tiny maxSizePerMsg and
    // inflight window), up to 10 times as long.
    const limit = 20 * this.cfg.electionTick;
    const startTicks = this.stats.ticks;
    let lastProgress = startTicks;
    let progressMark = -1;
    let done = false;
    while (!done) {
      this.step();
      this.stats.healSteps++;
      if (this.stats.ticks > startTicks && this.now % TICK === 0) {
        done = this.converged();
        const mark = this.progressMark();
        if (mark > progressMark) {
          progressMark = mark;
          lastProgress = this.stats.ticks;
        }
        if (!done && (this.stats.ticks - lastProgress >= limit || this.stats.ticks - startTicks >= 10 * limit)) {
          throw new Violation(`liveness: no convergence within ${this.stats.ticks - startTicks} ticks after healing (${this.stats.ticks - lastProgress} without progress): ${this.describeState()}`);
        }
      }
    }
    this.checker.fullLogCheck(this.liveViews());
    this.finalChecks();
  }

  /** Grows while replicas catch up (entries received or applied). */
  private progressMark(): number {
    let sum = 0;
    for (const n of this.nodes.values()) if (n.up) sum += n.sm.applied + n.raft!.log.lastIndex();
    return sum;
  }

  private converged(): boolean {
    const lead = this.leader();
    if (!lead) return false;
    const r = lead.raft!;
    if (r.log.maybeTerm(r.log.committed) !== r.term) return false;
    if (this.finalValue === undefined) {
      const v = `fin${this.o.seed}`;
      if (this.propose(lead, v)) this.finalValue = v;
      return false;
    }
    if (!this.acked.has(this.finalValue)) {
      // The final proposal may have been lost with a leader change: propose again.
      const p = this.proposals.get(this.finalValue)!;
      const proposer = this.nodes.get(p.id)!;
      if (!proposer.up || proposer.inc !== p.inc || proposer.raft!.role !== 'leader' || proposer.raft!.term !== r.term) {
        const v = `fin${this.o.seed}.${++this.valueSeq}`;
        if (this.propose(lead, v)) this.finalValue = v;
      }
      return false;
    }
    if (r.log.committed !== r.log.lastIndex()) return false;
    const conf = r.confState();
    for (const id of [...conf.voters, ...conf.learners]) {
      const n = this.nodes.get(id);
      if (!n || !n.up) return false;
      if (n.sm.applied !== r.log.committed || n.pending) return false;
    }
    return true;
  }

  private finalChecks(): void {
    const lead = this.leader()!;
    const r = lead.raft!;
    const conf = r.confState();
    const ids = [...conf.voters, ...conf.learners];
    if (!conf.voters.includes(lead.id)) throw new Violation(`final leader ${lead.id} is not a voter: ${fmtConf(conf)}`);
    const ref = lead.sm.keys;
    for (const id of ids) {
      const n = this.nodes.get(id)!;
      const keys = n.sm.keys;
      if (keys.length !== ref.length) throw new Violation(`final: node ${id} applied ${keys.length}, leader ${lead.id} applied ${ref.length}`);
      for (let i = 0; i < keys.length; i++) {
        if (keys[i] !== ref[i]) throw new Violation(`final: node ${id} differs from leader ${lead.id} at ${i + 1}: ${keys[i]} vs ${ref[i]}`);
      }
      if (!sameConf(n.raft!.confState(), conf)) {
        throw new Violation(`final: node ${id} has membership ${fmtConf(n.raft!.confState())}, leader ${lead.id} has ${fmtConf(conf)}`);
      }
      if (!sameConf(n.sm.conf, conf)) {
        throw new Violation(`final: node ${id}'s application tracked membership ${fmtConf(n.sm.conf)}, the core has ${fmtConf(conf)}`);
      }
    }
    for (const [value, index] of this.acked) {
      const k = ref[index - 1];
      if (k === undefined || !k.endsWith(`|n|${value}`)) {
        throw new Violation(`final: acknowledged ${value} (index ${index}) is missing: the final log has ${JSON.stringify(k)} there`);
      }
    }
  }

  private describeState(): string {
    const parts: string[] = [];
    for (const n of this.nodes.values()) {
      if (n.retired) {
        parts.push(`${n.id}: retired`);
        continue;
      }
      if (!n.up) {
        parts.push(`${n.id}: down`);
        continue;
      }
      const s = n.raft!.status();
      parts.push(
        `${n.id}: ${s.role} t${s.term} lead ${s.leader} commit ${s.commit} applied ${s.applied} last ${s.lastIndex} ${fmtConf(s.conf)}${
          s.progress.length ? ` prs {${s.progress.map((p) => `${p.id}:${p.state} m${p.match} n${p.next}${p.recentActive ? '' : ' inactive'}`).join(', ')}}` : ''
        }${s.transferee ? ` transferee ${s.transferee}` : ''}${n.pending ? ' (writing)' : ''}`,
      );
    }
    return parts.join('; ');
  }
}

export function runSim(o: SimOptions): SimResult {
  return new Sim(o).run();
}

import { randomInt } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import { decodeConfChange, encodeConfChange } from './codec.ts';
import { LateTicks } from './late-ticks.ts';
import { LogStore } from './log-store.ts';
import { DEFAULT_CONFIG, Raft } from './raft.ts';
import { GrpcTransport } from './transport.ts';
import {
  NONE,
  ProposalRefused,
  type Config,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
  type Role,
} from './types.ts';

/** The application the log drives. Entries arrive in index order, each exactly once per run. */
export interface StateMachine {
  /** Apply committed entries (normal entries with data; no-ops and conf entries are filtered out). */
  apply(entries: Entry[]): void | Promise<void>;
  /** A snapshot of everything applied so far. */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replace the state with a snapshot taken at `index`. */
  restore(data: Uint8Array, index: number): void | Promise<void>;
  /**
   * For a state machine that persists itself: the last index it has durably applied.
   * Entries up to it are not applied again after a restart (a snapshot older than it is
   * not restored). Without it, the machine restarts from the last snapshot.
   */
  appliedIndex?(): number;
  /** Finish any work the machine still does in the background (called before the log closes). */
  drain?(): Promise<void>;
}

/** Time as the driver sees it: injectable so tests and simulations control it. */
export interface Clock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type ReplicaErrorCode =
  | 'notLeader'
  | 'dropped'
  | 'tooLarge'
  | 'shuttingDown'
  | 'timeout'
  | 'busy'
  | 'invalid';

/**
 * Why a request did not complete. `leader`/`leaderAddr` hint where to retry; `temporary`
 * says whether retrying (elsewhere or later) can succeed.
 */
export class ReplicaError extends Error {
  override name = 'ReplicaError';
  constructor(
    readonly code: ReplicaErrorCode,
    message: string,
    readonly leader: NodeId = NONE,
    readonly leaderAddr = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get temporary(): boolean {
    return this.code !== 'tooLarge' && this.code !== 'invalid';
  }
}

export interface ReplicaOptions {
  id: NodeId;
  clusterId: string;
  dataDir: string;
  /** An already opened log store (its database may also hold the application's state). */
  logStore?: LogStore;
  /** Address to listen on for peers ("127.0.0.1:7001"). */
  listen: string;
  /** Every known member's peer address, this replica's included. */
  peers: Map<NodeId, string>;
  /** Voters of a brand-new cluster. Empty when joining an existing cluster. */
  bootstrap: NodeId[];
  stateMachine?: StateMachine;
  /** Milliseconds per Raft tick (default 20). */
  tickMs?: number;
  raft?: Partial<Omit<Config, 'id' | 'random' | 'applied' | 'logger'>>;
  /** Take a snapshot and compact after this many applied entries (default 10,000). */
  snapshotEntries?: number;
  /** Entries kept behind a snapshot so slightly lagging followers avoid a snapshot (default 5,000). */
  keepEntries?: number;
  /** Largest proposal accepted, in bytes (default 1.5 MiB). */
  maxProposalBytes?: number;
  clock?: Clock;
  random?: (n: number) => number;
  logger?: { debug(s: string): void; info(s: string): void; warn(s: string): void; error(s: string): void };
  /** Test hook for chaos: delay added to every synced write. */
  fsyncDelayMs?: number;
}

interface PendingProposal {
  term: number;
  resolve(index: number): void;
  reject(e: Error): void;
}

interface ReadWaiter {
  resolve(index: number): void;
  reject(e: Error): void;
  timer: unknown;
}

/** One ReadIndex round and everyone waiting on it. */
interface PendingRead {
  index: number;
  waiters: Set<ReadWaiter>;
}

export interface ReplicaStatus {
  id: NodeId;
  role: Role;
  term: number;
  leader: NodeId;
  leaderAddr: string;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
  members: { id: NodeId; addr: string; voter: boolean; match: number; lag: number; state: string; active: boolean }[];
  transferee: NodeId;
}

const nullLogger = { debug() {}, info() {}, warn() {}, error() {} };
const TRACE = Boolean(process.env.BERTH_RAFT_TRACE);

/**
 * A Raft replica: joins the pure core with LevelDB storage, the gRPC transport and a real
 * (injectable) clock. One loop turns Readys into durable writes, messages and applies;
 * everything that arrives while a write is in progress joins the next write (group commit).
 */
export class Replica {
  readonly id: NodeId;
  private readonly opts: ReplicaOptions;
  private readonly clock: Clock;
  private readonly log: NonNullable<ReplicaOptions['logger']>;
  private raft!: Raft;
  private store!: LogStore;
  private transport!: GrpcTransport;
  private readonly members = new Map<NodeId, string>();
  private tickHandle: unknown;
  private loopRunning = false;
  private loopScheduled = false;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly proposals = new Map<number, PendingProposal>();
  private forwardQueue: Uint8Array[] = [];
  private readonly stateListeners = new Set<(role: Role, leader: NodeId, term: number) => void>();
  private proposeQueue: { data: Uint8Array; resolve(i: number): void; reject(e: Error): void }[] = [];
  private readonly reads = new Map<string, PendingRead>();
  private readBatch: PendingRead | undefined;
  private readonly readsWaitingApply: PendingRead[] = [];
  private readonly waiters: { pred: () => boolean; resolve(): void }[] = [];
  private readSeq = 0;
  private lastSnapshotIndex = 0;
  /** Highest index the state machine has applied in this run (or restored). */
  private smApplied = 0;
  private port = 0;
  private fatal: Error | undefined;

  private constructor(opts: ReplicaOptions) {
    this.id = opts.id;
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? nullLogger;
  }

  static async start(opts: ReplicaOptions): Promise<Replica> {
    const r = new Replica(opts);
    await r.init();
    return r;
  }

  private async init(): Promise<void> {
    const o = this.opts;
    this.store = o.logStore ?? (await LogStore.open(o.dataDir, { fsyncDelayMs: o.fsyncDelayMs ?? 0, logger: this.log }));
    const savedMembers = await this.store.getMeta('members');
    for (const [id, addr] of o.peers) this.members.set(id, addr);
    if (savedMembers) {
      for (const [id, addr] of unpack(savedMembers) as [NodeId, string][]) this.members.set(id, addr);
    }
    if (this.store.fresh && o.bootstrap.length > 0) {
      // The initial membership goes into the log itself, as committed conf entries at
      // indexes 1..n (identical on every bootstrapping replica), as etcd does: a replica
      // that joins later replays them and learns every member, instead of believing
      // itself alone in a cluster of the members added after the bootstrap.
      const voters = [...o.bootstrap].sort((a, b) => a - b);
      const entries: Entry[] = voters.map((nodeId, i) => ({
        term: 1,
        index: i + 1,
        type: 'conf',
        data: encodeConfChange({ type: 'addVoter', nodeId, ...(this.members.has(nodeId) ? { context: Buffer.from(this.members.get(nodeId)!) } : {}) }),
      }));
      await this.store.save({ entries, hardState: { term: 1, vote: NONE, commit: entries.length }, conf: { voters, learners: [] } }, true);
    }
    // The state machine restarts from the last snapshot, unless it persists itself and is
    // already past it; later entries are applied again.
    const snap = this.store.memory.snapshot();
    let applied = o.stateMachine?.appliedIndex?.() ?? 0;
    if (snap.meta.index > applied) {
      await o.stateMachine?.restore(snap.data, snap.meta.index);
      applied = snap.meta.index;
    }
    this.lastSnapshotIndex = snap.meta.index;
    this.smApplied = applied;
    const random = o.random ?? ((n: number) => randomInt(n));
    // BERTH_RAFT_TRACE=1 (diagnostics): the core's debug lines at info level, and the
    // timing of durable writes, for reconstructing election timelines from the logs.
    const debug = TRACE ? (s: string) => this.log.info(s) : (s: string) => this.log.debug(s);
    const cfg: Config = {
      ...DEFAULT_CONFIG,
      ...o.raft,
      id: o.id,
      applied,
      random,
      logger: { debug, info: (s) => this.log.info(s), warn: (s) => this.log.warn(s) },
    };
    this.raft = new Raft(cfg, this.store.memory);
    this.transport = new GrpcTransport({
      id: o.id,
      clusterId: o.clusterId,
      listen: o.listen,
      peers: new Map([...this.members].filter(([id]) => id !== o.id)),
      onMessages: (msgs) => this.onMessages(msgs),
      onUnreachable: (id) => {
        this.raft.reportUnreachable(id);
        this.schedule();
      },
      onSnapshotStatus: (id, ok) => {
        this.raft.reportSnapshot(id, ok);
        this.schedule();
      },
      logger: this.log,
    });
    this.port = await this.transport.start();
    const tickMs = o.tickMs ?? 20;
    const late = new LateTicks(tickMs);
    let lastTick = this.clock.now();
    this.tickHandle = this.clock.setInterval(() => {
      const now = this.clock.now();
      const line = late.note(now - lastTick, now, this.raft.role);
      if (line) this.log.warn(line);
      lastTick = now;
      this.raft.tick();
      this.schedule();
    }, tickMs);
    this.schedule();
  }

  /** The port the peer transport listens on (useful with port 0). */
  get peerPort(): number {
    return this.port;
  }

  // -------------------------------------------------------------------------------------
  // Requests

  /** Replicate `data`; resolves with its index once it is committed and applied here. */
  propose(data: Uint8Array): Promise<number> {
    this.checkOpen();
    const max = this.opts.maxProposalBytes ?? 1.5 * 1024 * 1024;
    if (data.length > max) {
      return Promise.reject(new ReplicaError('tooLarge', `proposal of ${data.length} bytes exceeds the limit of ${max}`));
    }
    if (this.raft.role !== 'leader') {
      return Promise.reject(this.refusal(new ProposalRefused('notLeader', this.raft.lead)));
    }
    // Proposals made in the same turn of the event loop go into the log together: one
    // append, one AppMsg per follower.
    return new Promise((resolve, reject) => {
      this.proposeQueue.push({ data, resolve, reject });
      // setImmediate, not a microtask: proposals arriving over many I/O callbacks of one
      // event-loop turn (e.g. gRPC calls) join one batch.
      if (this.proposeQueue.length === 1) setImmediate(() => this.flushProposals());
    });
  }

  private flushProposals(): void {
    const batch = this.proposeQueue;
    this.proposeQueue = [];
    if (batch.length === 0) return;
    if (this.stopped) {
      for (const p of batch) p.reject(new ReplicaError('shuttingDown', 'replica is stopped'));
      return;
    }
    let first: number;
    try {
      first = this.raft.proposeBatch(batch.map((p) => p.data));
    } catch (e) {
      const err = this.refusal(e);
      for (const p of batch) p.reject(err);
      return;
    }
    for (let i = 0; i < batch.length; i++) this.track(first + i, batch[i]!.resolve, batch[i]!.reject);
    // Replicate at once; the leader's own write follows in the loop (thesis §10.2.1).
    const out = this.raft.takeMessages();
    if (out.length > 0) this.transport.send(out);
    this.schedule();
  }

  /**
   * Propose `data` through whichever replica leads: appended here when this replica
   * leads, otherwise forwarded to the leader (a `prop` message). Fire and forget: the
   * caller learns the outcome when its entry is applied (it carries the caller's request
   * id) or by its own deadline. Throws when no leader is known.
   */
  submit(data: Uint8Array): void {
    this.checkOpen();
    const max = this.opts.maxProposalBytes ?? 1.5 * 1024 * 1024;
    if (data.length > max) throw new ReplicaError('tooLarge', `proposal of ${data.length} bytes exceeds the limit of ${max}`);
    if (this.raft.role === 'leader') {
      this.propose(data).catch(() => undefined);
      return;
    }
    const lead = this.raft.lead;
    if (lead === NONE) throw new ReplicaError('notLeader', 'no leader is known');
    this.forwardQueue.push(data);
    if (this.forwardQueue.length === 1) {
      setImmediate(() => {
        const batch = this.forwardQueue;
        this.forwardQueue = [];
        const to = this.raft.lead;
        if (to === NONE || this.stopped || batch.length === 0) return;
        this.transport.send([{ type: 'prop', from: this.id, to, term: this.raft.term, data: batch }]);
      });
    }
  }

  /** Remember a proposal; an older one at the same index was overwritten and is dropped. */
  private track(index: number, resolve: (i: number) => void, reject: (e: Error) => void): void {
    const old = this.proposals.get(index);
    if (old) old.reject(new ReplicaError('dropped', `proposal at ${index} was overwritten`, this.raft.lead, this.addrOf(this.raft.lead)));
    this.proposals.set(index, { term: this.raft.term, resolve, reject });
  }

  /**
   * A linearizable read point (ReadIndex, thesis §6.4): resolves with an index once this
   * replica has applied at least that far; a read served afterwards sees every write that
   * completed before the call.
   */
  readIndex(timeoutMs = 5000): Promise<number> {
    this.checkOpen();
    // Requests made in the same turn of the event loop share one ReadIndex round: the
    // round starts after all of them were made, so its index serves each of them.
    return new Promise((resolve, reject) => {
      let batch = this.readBatch;
      if (!batch) {
        batch = { index: 0, waiters: new Set() };
        this.readBatch = batch;
        queueMicrotask(() => this.flushReads());
      }
      const group = batch;
      const w: ReadWaiter = { resolve, reject, timer: undefined };
      w.timer = this.clock.setTimeout(() => {
        group.waiters.delete(w);
        reject(new ReplicaError('timeout', `read index timed out after ${timeoutMs} ms`, this.raft.lead, this.addrOf(this.raft.lead)));
      }, timeoutMs);
      group.waiters.add(w);
    });
  }

  private flushReads(): void {
    const batch = this.readBatch;
    this.readBatch = undefined;
    if (!batch || batch.waiters.size === 0) return;
    const ctx = Buffer.alloc(12);
    ctx.writeUInt32BE(this.id, 0);
    ctx.writeDoubleBE(++this.readSeq, 4);
    try {
      this.raft.readIndex(new Uint8Array(ctx));
    } catch (e) {
      this.settleReads(batch, this.refusal(e));
      return;
    }
    this.reads.set(ctx.toString('latin1'), batch);
    this.schedule();
  }

  /** Resolve every waiter of `batch` with its index, or reject them all with `err`. */
  private settleReads(batch: PendingRead, err?: Error): void {
    for (const w of batch.waiters) {
      this.clock.clearTimeout(w.timer);
      if (err) w.reject(err);
      else w.resolve(batch.index);
    }
    batch.waiters.clear();
  }

  /** Hand leadership to `to`; resolves once `to` is the leader we know of. */
  async transferLeader(to: NodeId, timeoutMs = 3000): Promise<void> {
    this.checkOpen();
    try {
      this.raft.transferLeader(to);
    } catch (e) {
      throw this.refusal(e);
    }
    this.schedule();
    await this.waitFor(() => this.raft.lead === to, timeoutMs, `leadership transfer to ${to}`);
  }

  /**
   * Add a voter the safe way (thesis §4.2.1): first as a learner, which catches up,
   * then promoted. Resolves when the promotion is applied here.
   */
  async addVoter(id: NodeId, addr: string, timeoutMs = 30_000): Promise<void> {
    const deadline = this.clock.now() + timeoutMs;
    if (!this.raft.voters.has(id) && !this.raft.learners.has(id)) await this.addLearner(id, addr);
    // Catch-up: the learner's match must reach what was the last index when it was added.
    const target = this.raft.log.lastIndex();
    await this.waitFor(
      () => (this.raft.prs.get(id)?.match ?? 0) >= target || this.raft.role !== 'leader',
      Math.max(0, deadline - this.clock.now()),
      `learner ${id} to catch up`,
    );
    await this.confChange({ type: 'addVoter', nodeId: id, context: Buffer.from(addr) });
  }

  addLearner(id: NodeId, addr: string): Promise<void> {
    return this.confChange({ type: 'addLearner', nodeId: id, context: Buffer.from(addr) });
  }

  removeMember(id: NodeId): Promise<void> {
    return this.confChange({ type: 'removeNode', nodeId: id });
  }

  private async confChange(cc: ConfChange): Promise<void> {
    this.checkOpen();
    let index: number;
    try {
      index = this.raft.proposeConfChange(cc);
    } catch (e) {
      throw this.refusal(e);
    }
    if (cc.context) this.members.set(cc.nodeId, Buffer.from(cc.context).toString());
    if (cc.type !== 'removeNode' && cc.nodeId !== this.id) this.transport.addPeer(cc.nodeId, this.members.get(cc.nodeId)!);
    this.schedule();
    await new Promise<number>((resolve, reject) => this.track(index, resolve, reject));
    // The entry is applied; the core adopts the change as it advances past it.
    const id = cc.nodeId;
    await this.waitFor(
      () => (cc.type === 'removeNode' ? !this.raft.prs.has(id) : cc.type === 'addVoter' ? this.raft.voters.has(id) : this.raft.learners.has(id) || this.raft.voters.has(id)) || this.raft.role !== 'leader',
      5000,
      `membership change of ${id} to take effect`,
    );
  }

  status(): ReplicaStatus {
    const s = this.raft.status();
    const byId = new Map(s.progress.map((p) => [p.id, p]));
    const ids = [...s.conf.voters, ...s.conf.learners];
    return {
      id: s.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      leaderAddr: this.addrOf(s.leader),
      commit: s.commit,
      applied: s.applied,
      lastIndex: s.lastIndex,
      conf: s.conf,
      members: ids.map((id) => {
        const p = byId.get(id);
        return {
          id,
          addr: this.members.get(id) ?? '',
          voter: s.conf.voters.includes(id),
          match: p?.match ?? 0,
          lag: p ? Math.max(0, s.lastIndex - p.match) : 0,
          state: p?.state ?? '',
          active: p?.recentActive ?? false,
        };
      }),
      transferee: s.transferee,
    };
  }

  isLeader(): boolean {
    return this.raft.role === 'leader';
  }

  /** Resolves when `pred()` holds (checked after every loop iteration and tick). */
  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: () => {
          this.clock.clearTimeout(timer);
          resolve();
        },
      };
      const timer = this.clock.setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new ReplicaError('timeout', `timed out waiting for ${what}`, this.raft.lead, this.addrOf(this.raft.lead)));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearInterval(this.tickHandle);
    await this.loopDone;
    const err = new ReplicaError('shuttingDown', 'replica is shutting down');
    this.failAll(err);
    await this.transport.stop();
    await this.opts.stateMachine?.drain?.().catch((e: Error) => this.log.error(`state machine: ${e.message}`));
    await this.store.close();
  }

  // -------------------------------------------------------------------------------------
  // The loop

  private onMessages(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) {
      try {
        this.raft.step(m);
      } catch (e) {
        this.log.error(`dropping message ${m.type} from ${m.from}: ${(e as Error).message}`);
      }
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.loopRunning && !this.stopped) {
      // A write is in progress: what does not depend on it (a leader's replication
      // traffic, pre-votes, heartbeat answers: Raft.send) need not wait for it.
      const early = this.raft.takeMessages();
      if (early.length > 0) this.transport.send(early);
    }
    if (this.loopScheduled || this.loopRunning || this.stopped) {
      this.checkWaiters();
      return;
    }
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      this.loopDone = this.loop();
    });
  }

  private async loop(): Promise<void> {
    if (this.loopRunning || this.stopped) return;
    this.loopRunning = true;
    try {
      while (!this.stopped && this.raft.hasReady()) {
        await this.handleReady(this.raft.ready());
        this.raft.advance();
        await this.maybeSnapshot();
        this.checkWaiters();
      }
    } catch (e) {
      // A failed disk write leaves us unable to promise durability: stop serving.
      this.fatal = e as Error;
      this.log.error(`replica ${this.id} failed: ${(e as Error).stack ?? e}`);
      this.stopped = true;
      this.clock.clearInterval(this.tickHandle);
      this.failAll(new ReplicaError('shuttingDown', `replica failed: ${(e as Error).message}`));
    } finally {
      this.loopRunning = false;
    }
    this.checkWaiters();
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    // Committed entries already durable here can be applied while this Ready is being
    // written (a committed entry is never overwritten); the rest wait for the write.
    let committed = rd.committedEntries;
    let early: Promise<void> | undefined;
    const durable = this.store.memory.lastIndex();
    if (committed.length > 0 && committed[0]!.index <= durable) {
      const n = Math.min(committed.length, durable - committed[0]!.index + 1);
      early = this.applyEntries(committed.slice(0, n));
      committed = committed.slice(n);
    }
    // A Ready that only moves the commit index needs no write: commit is recovered from
    // the leader after a restart, and the next write carries it anyway. This keeps a disk
    // write off the path between "committed" and "applied".
    if (rd.entries.length > 0 || rd.snapshot || rd.conf || rd.mustSync) {
      const t = TRACE ? performance.now() : 0;
      await this.store.save(rd, rd.mustSync);
      if (TRACE) {
        const ms = performance.now() - t;
        if (rd.mustSync && (ms > 20 || rd.persistedMessages.some((m) => m.type !== 'appResp'))) {
          const hs = rd.hardState ? ` hs term ${rd.hardState.term} vote ${rd.hardState.vote}` : '';
          const out = rd.persistedMessages.map((m) => `${m.type}->${m.to}`).join(',');
          this.log.info(`[${this.id}] trace: wrote ${rd.entries.length} entries${hs} in ${ms.toFixed(1)} ms; then sending [${out}]`);
        }
      }
    }
    if (rd.persistedMessages.length > 0) this.transport.send(rd.persistedMessages);
    if (early) await early;
    if (rd.snapshot) {
      await this.opts.stateMachine?.restore(rd.snapshot.data, rd.snapshot.meta.index);
      this.smApplied = Math.max(this.smApplied, rd.snapshot.meta.index);
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.syncPeers(rd.snapshot.meta.conf);
      for (const [index, p] of this.proposals) {
        if (index <= rd.snapshot.meta.index) {
          this.proposals.delete(index);
          p.reject(new ReplicaError('dropped', `proposal at ${index} superseded by a snapshot`, this.raft.lead));
        }
      }
    }
    if (committed.length > 0) await this.applyEntries(committed);
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.ctx).toString('latin1');
      const pr = this.reads.get(key);
      if (!pr) continue;
      this.reads.delete(key);
      pr.index = rs.index;
      this.readsWaitingApply.push(pr);
    }
    if (rd.readStates.length > 0) this.releaseReads();
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.leader);
    if (rd.conf) await this.persistMembers();
  }

  private async applyEntries(ents: Entry[]): Promise<void> {
    const sm = this.opts.stateMachine;
    const data: Entry[] = [];
    for (const e of ents) {
      if (e.type === 'conf') this.onConfEntry(e);
      else if (e.data.length > 0) data.push(e);
    }
    if (sm && data.length > 0) await sm.apply(data);
    const applied = ents[ents.length - 1]!.index;
    this.smApplied = Math.max(this.smApplied, applied);
    for (const e of ents) {
      const p = this.proposals.get(e.index);
      if (!p) continue;
      this.proposals.delete(e.index);
      if (p.term === e.term) p.resolve(e.index);
      else p.reject(new ReplicaError('dropped', `proposal at ${e.index} was overwritten by term ${e.term}`, this.raft.lead, this.addrOf(this.raft.lead)));
    }
    this.releaseReads();
  }

  /** Reads are released as soon as the state machine has applied their read index. */
  private releaseReads(): void {
    for (let i = this.readsWaitingApply.length - 1; i >= 0; i--) {
      const r = this.readsWaitingApply[i]!;
      if (r.index <= this.smApplied) {
        this.readsWaitingApply.splice(i, 1);
        this.settleReads(r);
      }
    }
  }

  private onConfEntry(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch {
      return;
    }
    if (cc.type === 'removeNode') {
      if (cc.nodeId !== this.id) this.transport.removePeer(cc.nodeId);
      this.members.delete(cc.nodeId);
      return;
    }
    if (cc.context && cc.context.length > 0) {
      const addr = Buffer.from(cc.context).toString();
      this.members.set(cc.nodeId, addr);
      if (cc.nodeId !== this.id) this.transport.addPeer(cc.nodeId, addr);
    }
  }

  private syncPeers(conf: ConfState): void {
    const keep = new Set([...conf.voters, ...conf.learners]);
    for (const id of [...this.members.keys()]) {
      if (!keep.has(id) && id !== this.id) {
        this.transport.removePeer(id);
        this.members.delete(id);
      }
    }
  }

  private async persistMembers(): Promise<void> {
    await this.store.putMeta('members', pack([...this.members]));
  }

  /**
   * Be told of every change of role or known leader (after it is durable). Returns an
   * unsubscribe function.
   */
  onStateChange(cb: (role: Role, leader: NodeId, term: number) => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  private onSoftState(role: Role, leader: NodeId): void {
    if (TRACE) this.log.info(`[${this.id}] trace: now ${role} at term ${this.raft.term}, leader ${leader}`);
    for (const cb of this.stateListeners) {
      try {
        cb(role, leader, this.raft.term);
      } catch (e) {
        this.log.error(`state listener failed: ${(e as Error).message}`);
      }
    }
    if (role !== 'leader') {
      // Read requests queued at a deposed leader are lost with its leadership.
      const err = new ReplicaError('dropped', 'leadership changed while the read was pending', leader, this.addrOf(leader));
      for (const [key, r] of this.reads) {
        this.reads.delete(key);
        this.settleReads(r, err);
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.opts.snapshotEntries ?? 10_000;
    const applied = this.raft.log.applied;
    if (applied - this.lastSnapshotIndex < every) return;
    const sm = this.opts.stateMachine;
    const data = sm ? await sm.snapshot() : new Uint8Array();
    await this.store.snapshotAndCompact(applied, this.raft.confState(), data, this.opts.keepEntries ?? 5000);
    this.lastSnapshotIndex = applied;
  }

  private checkWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred()) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private failAll(err: Error): void {
    for (const p of this.proposeQueue) p.reject(err);
    this.proposeQueue = [];
    for (const p of this.proposals.values()) p.reject(err);
    this.proposals.clear();
    for (const r of [...this.reads.values(), ...this.readsWaitingApply]) this.settleReads(r, err);
    if (this.readBatch) this.settleReads(this.readBatch, err);
    this.readBatch = undefined;
    this.reads.clear();
    this.readsWaitingApply.length = 0;
  }

  private checkOpen(): void {
    if (this.stopped) {
      throw new ReplicaError('shuttingDown', this.fatal ? `replica failed: ${this.fatal.message}` : 'replica is stopped');
    }
  }

  private addrOf(id: NodeId): string {
    return id === NONE ? '' : (this.members.get(id) ?? '');
  }

  private refusal(e: unknown): Error {
    if (!(e instanceof ProposalRefused)) return e as Error;
    const leader = e.leader;
    switch (e.reason) {
      case 'notLeader':
      case 'removed':
        return new ReplicaError('notLeader', leader === NONE ? 'no leader is known' : `not the leader; the leader is ${leader}`, leader, this.addrOf(leader), { cause: e });
      case 'transferring':
      case 'uncommittedLimit':
      case 'confChangePending':
        return new ReplicaError('busy', e.message, leader, this.addrOf(leader), { cause: e });
      case 'invalid':
        return new ReplicaError('invalid', e.message, leader, this.addrOf(leader), { cause: e });
    }
  }
}

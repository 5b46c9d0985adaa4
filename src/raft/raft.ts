import { decodeConfChange, encodeConfChange } from './codec.ts';
import { entrySize, RaftLog } from './log.ts';
import { Progress } from './progress.ts';
import {
  CompactedError,
  NONE,
  ProposalRefused,
  type AppMsg,
  type AppRespMsg,
  type Config,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type HeartbeatMsg,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Role,
  type SnapMsg,
  type Snapshot,
  type SoftState,
  type Status,
  type Storage,
  type VoteMsg,
} from './types.ts';

const EMPTY = new Uint8Array(0);

/** Defaults tuned for a LAN/loopback cluster driven by a 20 ms tick (see README). */
export const DEFAULT_CONFIG: Omit<Config, 'id' | 'random'> = {
  electionTick: 10,
  heartbeatTick: 1,
  maxSizePerMsg: 1 << 20,
  maxInflightMsgs: 256,
  maxUncommittedEntriesSize: 64 << 20,
  maxCommittedSizePerReady: 4 << 20,
  preVote: true,
  checkQuorum: true,
  readOnlyOption: 'safe',
  applied: 0,
};

/** A ReadIndex request waiting for a quorum of heartbeat acknowledgements (§6.4). */
interface PendingRead {
  key: string;
  ctx: Uint8Array;
  index: number;
  from: NodeId;
  acks: Set<NodeId>;
}

/**
 * Each role is a table of the two functions that differ between roles (thesis §3,
 * etcd's raft uses the same shape): how a message at the current term is handled and
 * what a tick does.
 */
interface RoleTable {
  step(r: Raft, m: Message): void;
  tick(r: Raft): void;
}

function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('latin1');
}

function sizeOf(ents: Entry[]): number {
  let s = 0;
  for (const e of ents) s += entrySize(e);
  return s;
}

/**
 * The pure Raft state machine (Ongaro & Ousterhout, "In Search of an Understandable
 * Consensus Algorithm", and Ongaro's thesis). No clocks, sockets, disks or randomness:
 * time is `tick()`, input is `step()`, output is `ready()`.
 */
export class Raft {
  readonly id: NodeId;
  readonly cfg: Config;
  readonly log: RaftLog;

  // Persistent state (Figure 2), persisted through Ready.hardState.
  term = 0;
  vote: NodeId = NONE;

  role: Role = 'follower';
  lead: NodeId = NONE;
  private table: RoleTable = FOLLOWER;

  /** Every member (voters and learners) with the leader's view of its log. */
  readonly prs = new Map<NodeId, Progress>();
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();

  /** Votes received in the current (pre-)campaign: true = granted. */
  private votes = new Map<NodeId, boolean>();
  /** Pre-campaigns started in a row without becoming follower, candidate or leader. */
  private preVoteRounds = 0;

  /**
   * Ticks since the last valid word from the leader (follower), or since the last
   * check-quorum round (leader). Doubles as the leader-transfer deadline.
   */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;

  /** Ticks since this node started: the clock of leader leases. */
  private ticks = 0;
  /**
   * The promise behind a leader's lease: until `ticks` reaches this, the node neither
   * votes for nor campaigns against the leader (transfers aside). It is set one election
   * timeout ahead whenever the node acknowledges a lease heartbeat, and starts at one
   * election timeout in lease mode (an ack may have preceded a crash). Unlike `lead` and
   * `electionElapsed`, it survives role and term changes.
   */
  private promisedUntil = 0;
  /**
   * The term in which this node last sent a timeoutNow. Its lease stays void for the
   * rest of that term: the transferee's election bypasses the voters' lease refusal, and
   * a timeoutNow may be sent long after the transfer started (once the transferee caught
   * up) and may be delayed or duplicated on the wire, arriving after the transfer was
   * given up.
   */
  private transferTerm = 0;
  /** A timeoutNow that arrived while a committed conf change was unapplied (see hup). */
  private pendingTimeoutNow: { term: number } | undefined;
  /** Node we are transferring leadership to, or NONE. Proposals are refused meanwhile. */
  leadTransferee: NodeId = NONE;
  /** No new conf change may be proposed until the log is applied past this index. */
  pendingConfIndex = 0;
  /** Bytes of entries proposed by this leader and not yet committed. */
  uncommittedSize = 0;

  private readQueue: PendingRead[] = [];
  private readByKey = new Map<string, PendingRead>();
  /** Reads received before this leader committed an entry of its term (§6.4 step 1). */
  private readsBeforeCommit: { from: NodeId; ctx: Uint8Array }[] = [];

  private msgs: Message[] = [];
  private msgsAfterAppend: Message[] = [];
  private readStates: ReadState[] = [];

  // What the last Ready carried, so that the next one holds only changes.
  private prevSoft: SoftState = { leader: NONE, role: 'follower' };
  private prevHard: HardState;
  private confChanged = false;
  private inFlight:
    | { lastEntry?: { index: number; term: number }; snapIndex?: number; appliedTo: number; committed: Entry[]; conf?: ConfState }
    | undefined;

  constructor(cfg: Config, storage: Storage) {
    if (cfg.id === NONE) throw new Error('raft: id must not be 0');
    if (cfg.heartbeatTick <= 0 || cfg.electionTick <= cfg.heartbeatTick) {
      throw new Error('raft: need 0 < heartbeatTick < electionTick');
    }
    if (cfg.readOnlyOption === 'lease' && !cfg.checkQuorum) {
      throw new Error('raft: lease-based reads need checkQuorum');
    }
    this.id = cfg.id;
    this.cfg = cfg;
    if (cfg.readOnlyOption === 'lease') this.promisedUntil = cfg.electionTick;
    this.log = new RaftLog(storage, cfg.applied);
    const { hardState, conf } = storage.initialState();
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.prevHard = { ...hardState };
    this.applyConfState(conf);
    this.becomeFollower(this.term, NONE);
    this.logInfo(`started: term ${this.term}, commit ${this.log.committed}, applied ${this.log.applied}, last ${this.log.lastIndex()}, voters [${[...this.voters]}], learners [${[...this.learners]}]`);
  }

  // -------------------------------------------------------------------------------------
  // Public interface

  /** Advance logical time by one tick. */
  tick(): void {
    this.ticks++;
    this.table.tick(this);
  }

  /**
   * Start an election now (as if the election timeout had passed). Not while this node's
   * promise to a leader's lease holds (see `promisedUntil`): its own vote would help
   * elect a second leader while the first still serves reads.
   */
  campaign(): void {
    if (this.ticks < this.promisedUntil) {
      this.logInfo('not campaigning: a leader lease this node acknowledged may still be running');
      return;
    }
    this.hup(false);
  }

  /** Append a normal entry. Returns its index; throws ProposalRefused. */
  propose(data: Uint8Array): number {
    return this.proposeEntries([{ type: 'normal', data, term: 0, index: 0 }]);
  }

  /**
   * Append several normal entries at once (one AppMsg per follower instead of one per
   * entry). Returns the index of the first; they are consecutive. All or none.
   */
  proposeBatch(datas: Uint8Array[]): number {
    if (datas.length === 0) throw new ProposalRefused('invalid', this.lead, 'empty batch');
    return this.proposeEntries(datas.map((data) => ({ type: 'normal' as const, data, term: 0, index: 0 }))) - datas.length + 1;
  }

  /**
   * Messages that may leave before the write in progress completes: a leader's
   * replication traffic, pre-votes and their answers, heartbeat answers (see
   * {@link send}). The driver may drain them between ready() and advance() so that they
   * are not held back by a disk write they do not depend on.
   */
  takeMessages(): Message[] {
    const m = this.msgs;
    this.msgs = [];
    return m;
  }

  /** Propose a single-server membership change (thesis §4.1). */
  proposeConfChange(cc: ConfChange): number {
    if (this.role !== 'leader') throw new ProposalRefused('notLeader', this.lead);
    if (this.pendingConfIndex > this.log.applied) {
      throw new ProposalRefused('confChangePending', this.lead, `index ${this.pendingConfIndex} not applied yet`);
    }
    const problem = this.checkConfChange(cc);
    if (problem) throw new ProposalRefused('invalid', this.lead, problem);
    const index = this.proposeEntry({ type: 'conf', data: encodeConfChange(cc), term: 0, index: 0 });
    this.pendingConfIndex = index;
    return index;
  }

  /** Ask for a linearizable read point; it shows up in Ready.readStates with this ctx. */
  readIndex(ctx: Uint8Array): void {
    if (leaseTickOf(ctx) !== undefined) throw new ProposalRefused('invalid', this.lead, 'context collides with lease heartbeats');
    if (this.role === 'leader') {
      this.leaderReadIndex(this.id, ctx);
    } else if (this.lead !== NONE && this.role === 'follower') {
      this.send({ type: 'readIndex', from: this.id, to: this.lead, term: this.term, ctx });
    } else {
      throw new ProposalRefused('notLeader', this.lead);
    }
  }

  /** Hand leadership to `to` (thesis §3.10). Only on the leader. */
  transferLeader(to: NodeId): void {
    if (this.role !== 'leader') throw new ProposalRefused('notLeader', this.lead);
    const pr = this.prs.get(to);
    if (!pr || pr.isLearner) throw new ProposalRefused('invalid', this.lead, `${to} is not a voter`);
    if (to === this.id) return;
    if (this.leadTransferee === to) return;
    if (this.leadTransferee !== NONE) this.logInfo(`abort transfer to ${this.leadTransferee} for ${to}`);
    this.leadTransferee = to;
    // The transfer must complete within one election timeout.
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
    } else {
      this.sendAppend(to);
    }
  }

  /** The transport could not reach `id`: go back to probing it. */
  reportUnreachable(id: NodeId): void {
    const pr = this.prs.get(id);
    if (this.role !== 'leader' || !pr) return;
    if (pr.state === 'replicate') pr.becomeProbe();
  }

  /** A snapshot sent to `id` arrived (ok) or failed to. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== 'leader' || !pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat) before probing again.
    pr.probeSent = true;
  }

  /** Process a message from a peer. Bad messages are dropped, never thrown on. */
  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.type === 'prop') {
      // Term-less by design: only the current leader appends; anyone else drops.
      if (this.role !== 'leader' || m.data.length === 0) return;
      try {
        this.proposeBatch(m.data);
      } catch (e) {
        if (!(e instanceof ProposalRefused)) throw e;
        this.logDebug(`dropping ${m.data.length} forwarded proposals from ${m.from}: ${e.reason}`);
      }
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        if (this.inLease() && !m.transfer) {
          // A leader we heard from recently is alive: ignore disruptive candidates (§4.2.3).
          this.logDebug(`ignore ${m.type} from ${m.from} at term ${m.term}: leader ${this.lead} is in lease`);
          return;
        }
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // A pre-vote never changes our term (thesis §9.6).
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. back from a partition): tell it our term so it steps down.
        this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, reject: false, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      } else if (m.type === 'vote') {
        // Figure 2: reply false with our term, so a candidate stuck in an old term (one
        // that cannot reach anyone at ours) learns it and campaigns at a newer one.
        this.send({ type: 'voteResp', from: this.id, to: m.from, term: this.term, reject: true });
      } else {
        this.logDebug(`ignoring ${m.type} from ${m.from}: stale term ${m.term} < ${this.term}`);
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVote(m);
      return;
    }
    this.table.step(this, m);
  }

  /**
   * Does this node ignore (pre)votes at a higher term? With checkQuorum, while it heard
   * from its leader within the election timeout (§4.2.3); and while it keeps a promise
   * to a leader's read lease (`promisedUntil`).
   */
  private inLease(): boolean {
    return (
      (this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick) ||
      this.ticks < this.promisedUntil
    );
  }

  hasReady(): boolean {
    if (this.inFlight) return false;
    const soft = this.softState();
    if (soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role) return true;
    if (this.hardChanged()) return true;
    return (
      this.msgs.length > 0 ||
      this.msgsAfterAppend.length > 0 ||
      this.readStates.length > 0 ||
      this.confChanged ||
      this.log.unstable.nextEntries().length > 0 ||
      this.log.unstable.nextSnapshot() !== undefined ||
      this.log.hasNextCommittedEntries()
    );
  }

  /** What to persist, send and apply now. Call advance() once it has been handled. */
  ready(): Ready {
    if (this.inFlight) throw new Error('raft: ready() called before advance()');
    const rd: Ready = {
      entries: this.log.unstable.nextEntries(),
      committedEntries: this.log.nextCommittedEntries(this.cfg.maxCommittedSizePerReady),
      messages: this.msgs,
      persistedMessages: this.msgsAfterAppend,
      readStates: this.readStates,
      mustSync: false,
    };
    const snap = this.log.unstable.nextSnapshot();
    if (snap) rd.snapshot = snap;
    const soft = this.softState();
    if (soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role) {
      rd.softState = soft;
      this.prevSoft = soft;
    }
    const hs = this.hardState();
    if (this.hardChanged()) {
      rd.hardState = hs;
      rd.mustSync = hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote;
      this.prevHard = hs;
    }
    // Fix (found by the simulation; test/raft-sim.test.ts has a directed test and
    // regression seeds): the membership a conf entry produces used to reach
    // Ready.conf only in the Ready *after* the one that handed the entry out for applying.
    // A driver that snapshots right after advance() (at the applied index, with the new
    // membership) and crashes before that next write restarted from the snapshot with
    // the durable, pre-change membership and never applied the change again: replicas
    // ended up with different memberships. Now the Ready that hands out conf entries
    // carries the membership as of its last committed entry, so it is durable before the
    // application can apply (and snapshot) those entries. After a crash between write
    // and apply the durable membership is ahead of the application, and re-applying the
    // entries on top of it is harmless (each change sets one node's role).
    const after = this.confAfter(rd.committedEntries);
    if (after) {
      rd.conf = after;
      this.confChanged = false;
    } else if (this.confChanged) {
      rd.conf = this.confState();
      this.confChanged = false;
    }
    if (rd.entries.length > 0 || rd.snapshot) rd.mustSync = true;
    this.msgs = [];
    this.msgsAfterAppend = [];
    this.readStates = [];
    this.log.unstable.acceptInProgress();
    const lastEntry = rd.entries[rd.entries.length - 1];
    const committedLast = rd.committedEntries[rd.committedEntries.length - 1];
    this.inFlight = {
      appliedTo: committedLast ? committedLast.index : 0,
      committed: rd.committedEntries,
      ...(after ? { conf: after } : {}),
      ...(lastEntry ? { lastEntry: { index: lastEntry.index, term: lastEntry.term } } : {}),
      ...(rd.snapshot ? { snapIndex: rd.snapshot.meta.index } : {}),
    };
    if (this.role === 'leader' && rd.committedEntries.length > 0) {
      // Only entries this leader counted in appendEntries (its term, with data) come off.
      let done = 0;
      for (const e of rd.committedEntries) if (e.term === this.term && e.data.length > 0) done += entrySize(e);
      this.uncommittedSize = Math.max(0, this.uncommittedSize - done);
    }
    return rd;
  }

  /** The last Ready has been persisted, sent and applied. */
  advance(): void {
    const f = this.inFlight;
    if (!f) throw new Error('raft: advance() without ready()');
    this.inFlight = undefined;
    if (f.snapIndex !== undefined) {
      this.log.unstable.stableSnapTo(f.snapIndex);
      this.log.applied = Math.max(this.log.applied, f.snapIndex);
    }
    if (f.lastEntry) this.log.unstable.stableTo(f.lastEntry.index, f.lastEntry.term);
    // Fix (found while reviewing the paths the simulation exercises; directed test in
    // test/raft-sim.test.ts):
    // a snapshot restored while this Ready was out (it is still in the unstable log and
    // is not this Ready's) lies past every entry handed out here, and restore() already
    // adopted its membership. Applying this Ready's conf entries on top of it would
    // resurrect changes the snapshot has superseded (e.g. re-add a removed voter).
    const restoredMeanwhile = f.snapIndex === undefined && this.log.unstable.snapshot !== undefined;
    for (const e of f.committed) {
      if (e.type === 'conf' && !restoredMeanwhile) this.applyConfEntry(e);
    }
    // That membership already went out (and is durable) with this Ready: no need to
    // announce it again, unless something else changed it meanwhile.
    if (f.conf && sameConf(this.confState(), f.conf)) this.confChanged = false;
    if (f.appliedTo > 0) this.log.appliedTo(f.appliedTo);
    if (this.role === 'leader') {
      const self = this.prs.get(this.id);
      if (self && self.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) this.bcastAppend();
    }
    const t = this.pendingTimeoutNow;
    if (t && !this.hasUnappliedConfChange()) {
      this.pendingTimeoutNow = undefined;
      if (t.term === this.term && this.role === 'follower') {
        this.logInfo('conf change applied: honouring the deferred timeoutNow');
        this.hup(true);
      }
    }
  }

  status(): Status {
    const progress =
      this.role === 'leader'
        ? [...this.prs.values()].map((p) => ({
            id: p.id,
            match: p.match,
            next: p.next,
            state: p.state,
            learner: p.isLearner,
            recentActive: p.recentActive,
          }))
        : [];
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      conf: this.confState(),
      progress,
      transferee: this.leadTransferee,
    };
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** Can this node become leader? Only voters of the current membership can. */
  promotable(): boolean {
    return this.voters.has(this.id);
  }

  // -------------------------------------------------------------------------------------
  // Role transitions

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.table = FOLLOWER;
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become pre-candidate');
    // Unlike becomeCandidate, the term and vote do not change (thesis §9.6).
    this.table = CANDIDATE;
    this.votes = new Map();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.table = CANDIDATE;
    this.vote = this.id;
    this.role = 'candidate';
  }

  /** @internal */
  becomeLeader(): void {
    if (this.role === 'follower') throw new Error('raft: follower cannot become leader directly');
    this.reset(this.term);
    this.table = LEADER;
    this.lead = this.id;
    this.role = 'leader';
    const self = this.prs.get(this.id)!;
    // The leader's own match index counts only what is durable (it may still be writing).
    self.becomeReplicate();
    self.match = this.log.stableLastIndex();
    self.next = this.log.lastIndex() + 1;
    self.recentActive = true;
    // A no-op of the new term lets earlier entries commit (§5.4.2, §8), and no conf
    // change is accepted before everything up to it is applied (thesis §4.1 bug fix).
    this.appendEntries([{ type: 'normal', data: EMPTY, term: 0, index: 0 }]);
    this.pendingConfIndex = this.log.lastIndex();
    this.uncommittedSize = 0;
    this.logInfo(`became leader at term ${this.term}`);
    this.bcastAppend();
  }

  private reset(term: number): void {
    this.preVoteRounds = 0;
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.pendingTimeoutNow = undefined;
    this.votes = new Map();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.prs) {
      const fresh = new Progress(id, last + 1, this.cfg.maxInflightMsgs, 0, pr.isLearner);
      if (id === this.id) fresh.match = this.log.stableLastIndex();
      this.prs.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readQueue = [];
    this.readByKey.clear();
    this.readsBeforeCommit = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.random(this.cfg.electionTick);
  }

  // -------------------------------------------------------------------------------------
  // Elections

  /** The election timeout fired (or campaign() was called). */
  hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) {
      this.logDebug('not promotable: will not campaign');
      return;
    }
    if (this.hasUnappliedConfChange()) {
      // The membership we would lead under is not settled yet. A transfer request is
      // kept and honoured once it is (advance()): a removed leader hands over this way.
      this.logInfo('not campaigning: a committed conf change is not applied yet');
      if (transfer) this.pendingTimeoutNow = { term: this.term };
      return;
    }
    if (this.cfg.preVote && !transfer) this.startCampaign('preVote', false);
    else this.startCampaign('vote', transfer);
  }

  private hasUnappliedConfChange(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const lo = this.log.applied + 1;
    const hi = Math.min(this.log.committed, this.log.lastIndex()) + 1;
    if (lo >= hi) return false;
    try {
      for (const e of this.log.slice(lo, hi, Number.MAX_SAFE_INTEGER)) if (e.type === 'conf') return true;
    } catch {
      return false;
    }
    return false;
  }

  /** @internal */
  startCampaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      this.preVoteRounds++;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.recordVote(this.id, true) === 'won') {
      // A single voter wins at once.
      if (kind === 'preVote') this.startCampaign('vote', false);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    this.logDebug(`starting ${kind} campaign at term ${term} (last ${lastIndex}/${lastTerm}${transfer ? ', transfer' : ''})`);
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.send({ type: kind, from: this.id, to: id, term, lastIndex, lastTerm, transfer });
    }
  }

  /** @internal */
  recordVote(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = this.quorum();
    if (yes >= q) return 'won';
    if (no > this.voters.size - q) return 'lost';
    return 'pending';
  }

  private handleVote(m: VoteMsg): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    // A vote at our own term gets here past inLease(): the term may have come from
    // someone else's message (e.g. the answer to a stale heartbeat of ours).
    const promised = this.ticks < this.promisedUntil && !m.transfer && this.vote !== m.from;
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const yielding = m.type !== 'preVote' || this.yieldsPreVoteTo(m);
    if (canVote && !promised && yielding && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      // A pre-vote is answered at the term asked about, so the asker can count it.
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.logDebug(`rejecting ${m.type} from ${m.from} at term ${m.term}: ${!canVote ? `voted ${this.vote}, leader ${this.lead}` : promised ? 'lease promised' : !yielding ? 'pre-campaigning for the same term, and ahead' : 'log behind ours'}`);
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  /**
   * Two nodes whose election timeouts fire within a message delay of each other both
   * pre-campaign, grant each other's pre-vote (neither knows a leader), both become
   * candidates, vote for themselves and split the vote: nobody wins until another
   * election timeout passes (found in the chaos runs: a leader kill with both survivors
   * timing out in the same 20 ms tick). So a pre-candidate in its first round, asked
   * for a pre-vote at the very term it is pre-campaigning for, yields only to a rival
   * that ranks above it: a more up-to-date log, or an equal one and a lower id. Of two
   * such rivals exactly one yields, and the other goes on to win in one round.
   *
   * Pre-votes are never counted for safety, so this is about liveness only. It holds for
   * the first round alone: a pre-candidate that failed to win a round (say it cannot reach
   * a quorum, while its rival can only with its help) grants as usual from the next one.
   */
  private yieldsPreVoteTo(m: VoteMsg): boolean {
    if (this.role !== 'preCandidate' || this.preVoteRounds !== 1 || m.transfer || m.term !== this.term + 1) return true;
    const ourTerm = this.log.lastTerm();
    const ourIndex = this.log.lastIndex();
    if (m.lastTerm !== ourTerm) return m.lastTerm > ourTerm;
    if (m.lastIndex !== ourIndex) return m.lastIndex > ourIndex;
    return m.from < this.id;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  // -------------------------------------------------------------------------------------
  // Replication (leader side)

  private proposeEntry(e: Entry): number {
    return this.proposeEntries([e]);
  }

  private proposeEntries(ents: Entry[]): number {
    if (this.role !== 'leader') throw new ProposalRefused('notLeader', this.lead);
    if (!this.prs.has(this.id)) throw new ProposalRefused('removed', NONE);
    if (this.leadTransferee !== NONE) {
      throw new ProposalRefused('transferring', this.lead, `to ${this.leadTransferee}`);
    }
    this.appendEntries(ents);
    this.bcastAppend();
    return this.log.lastIndex();
  }

  private appendEntries(ents: Entry[]): void {
    const size = sizeOf(ents.filter((e) => e.data.length > 0));
    const limit = this.cfg.maxUncommittedEntriesSize;
    if (limit > 0 && this.uncommittedSize > 0 && this.uncommittedSize + size > limit) {
      throw new ProposalRefused('uncommittedLimit', this.lead, `${this.uncommittedSize} bytes uncommitted`);
    }
    this.uncommittedSize += size;
    let index = this.log.lastIndex();
    for (const e of ents) {
      e.term = this.term;
      e.index = ++index;
    }
    this.log.append(ents);
    // Our own progress moves only once these are durable (advance()).
  }

  /** Commit by quorum of match indexes, only for entries of our term (Figure 8). */
  maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.prs.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    const mci = matches[this.quorum() - 1] ?? 0;
    const wasCommittedInTerm = this.committedInCurrentTerm();
    const changed = this.log.maybeCommit(mci, this.term);
    if (changed && !wasCommittedInTerm) this.releaseReadsBeforeCommit();
    return changed;
  }

  private committedInCurrentTerm(): boolean {
    return this.log.maybeTerm(this.log.committed) === this.term;
  }

  bcastAppend(): void {
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      this.sendAppend(id);
      // Replicate state pipelines: keep sending while the window has room.
      while (this.prs.get(id)!.state === 'replicate' && this.sendAppend(id, false)) {
        /* keep filling the inflight window */
      }
    }
  }

  /**
   * Send the entries `to` lacks, or a snapshot if they were compacted away. Returns
   * whether a message was sent.
   */
  sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.maybeTerm(prevIndex);
    let ents: Entry[] = [];
    if (prevTerm !== undefined) {
      try {
        ents = this.log.entries(pr.next, this.cfg.maxSizePerMsg);
      } catch (e) {
        if (!(e instanceof CompactedError)) throw e;
        return this.sendSnapshot(pr);
      }
    } else {
      return this.sendSnapshot(pr);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    const msg: AppMsg = {
      type: 'app',
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    };
    this.send(msg);
    if (ents.length > 0) {
      const last = ents[ents.length - 1]!.index;
      if (pr.state === 'replicate') {
        pr.optimisticUpdate(last);
        pr.inflights.add(last, sizeOf(ents));
      } else {
        pr.probeSent = true;
      }
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logDebug(`not sending snapshot to ${pr.id}: not recently active`);
      return false;
    }
    const snapshot = this.log.snapshot();
    if (snapshot.meta.index === 0) throw new Error('raft: need a snapshot but none is available');
    const msg: SnapMsg = { type: 'snap', from: this.id, to: pr.id, term: this.term, snapshot };
    this.logInfo(`sending snapshot at ${snapshot.meta.index} to ${pr.id} (match ${pr.match})`);
    pr.becomeSnapshot(snapshot.meta.index);
    this.send(msg);
    return true;
  }

  bcastHeartbeat(ctx: Uint8Array): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      const hb: HeartbeatMsg = { type: 'heartbeat', from: this.id, to: id, term: this.term, commit, ctx };
      this.send(hb);
    }
  }

  handleAppResp(m: AppRespMsg): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      // Fast backtracking: skip the follower's whole conflicting term at once.
      let next = m.hintIndex;
      if (m.hintTerm > 0) next = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (oldPaused && !pr.isPaused()) this.sendAppend(m.from);
      return;
    }
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate();
        break;
      case 'snapshot':
        if (pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case 'replicate':
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (m.from !== this.id) {
      // A follower that was paused when the commit index last moved has not heard of it:
      // send it (possibly empty) now rather than at the next heartbeat.
      this.sendAppend(m.from, oldPaused);
      while (pr.state === 'replicate' && this.sendAppend(m.from, false)) {
        /* fill the window */
      }
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logInfo(`transferee ${m.from} caught up: sending timeoutNow`);
      this.send({ type: 'timeoutNow', from: this.id, to: m.from, term: this.term });
    }
  }

  // -------------------------------------------------------------------------------------
  // Replication (follower side)

  handleAppend(m: AppMsg): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, reject: false, index: this.log.committed, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const last = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== undefined) {
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, reject: false, index: last, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: 'appResp',
      from: this.id,
      to: m.from,
      term: this.term,
      reject: true,
      index: m.index,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  handleHeartbeat(m: HeartbeatMsg): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    // The leader counts this ack towards its lease: promise not to help elect anyone else
    // for an election timeout (on our clock, from now: not before the heartbeat was sent).
    if (leaseTickOf(m.ctx) !== undefined) this.promisedUntil = Math.max(this.promisedUntil, this.ticks + this.cfg.electionTick);
    this.send({ type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, ctx: m.ctx });
  }

  handleSnapshot(m: SnapMsg): void {
    const s = m.snapshot;
    if (this.restore(s)) {
      this.logInfo(`restored snapshot at ${s.meta.index} (term ${s.meta.term})`);
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, reject: false, index: this.log.lastIndex(), hintIndex: 0, hintTerm: 0 });
    } else {
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, reject: false, index: this.log.committed, hintIndex: 0, hintTerm: 0 });
    }
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already hold the snapshot's last entry: just move the commit index.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.applyConfState(s.meta.conf);
    this.confChanged = true;
    return true;
  }

  // -------------------------------------------------------------------------------------
  // Linearizable reads (thesis §6.4)

  /** @internal */
  leaderReadIndex(from: NodeId, ctx: Uint8Array): void {
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.respondRead(from, ctx, this.log.committed);
      return;
    }
    if (!this.committedInCurrentTerm()) {
      // Our commit index may be stale until an entry of our term commits.
      this.readsBeforeCommit.push({ from, ctx });
      return;
    }
    if (this.cfg.readOnlyOption === 'lease' && this.leaseValid()) {
      this.respondRead(from, ctx, this.log.committed);
      return;
    }
    const key = ctxKey(ctx);
    if (this.readByKey.has(key)) return;
    const req: PendingRead = { key, ctx, index: this.log.committed, from, acks: new Set([this.id]) };
    this.readQueue.push(req);
    this.readByKey.set(key, req);
    this.bcastHeartbeat(ctx);
  }

  tickCount(): number {
    return this.ticks;
  }

  /**
   * May the leader answer a read from its lease (thesis §6.4.1)? A follower that acked a
   * heartbeat sent at tick s refuses votes until at least s + electionTick on its own
   * clock, so while a quorum acked heartbeats sent within the last electionTick - 2
   * ticks (one tick for tick phase, one for clock-rate drift), no other leader can have
   * been elected. Void while a leadership transfer is in progress and, once this leader
   * has sent a timeoutNow, for the rest of its term (see transferTerm): the transferee's
   * votes bypass that refusal.
   */
  private leaseValid(): boolean {
    if (this.leadTransferee !== NONE || this.transferTerm === this.term) return false;
    const since = this.ticks - (this.cfg.electionTick - 2);
    let n = 0;
    for (const id of this.voters) {
      if (id === this.id || (this.prs.get(id)?.leaseAck ?? -1) >= since) n++;
    }
    return n >= this.quorum();
  }

  private releaseReadsBeforeCommit(): void {
    const pending = this.readsBeforeCommit;
    this.readsBeforeCommit = [];
    for (const r of pending) this.leaderReadIndex(r.from, r.ctx);
  }

  handleHeartbeatResp(m: Message & { type: 'heartbeatResp' }): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Fix (found by the simulation; directed test and regression seeds in
    // test/raft-sim.test.ts): in replicate state, AppMsgs lost on the wire never get an
    // answer, so a full inflight window stayed full forever and the follower was never
    // sent anything again (liveness). Free one slot per heartbeat answer: the next
    // AppMsg either lands or is rejected for the gap, which puts the follower back into
    // probe. (A window that is merely slow may run one message over per heartbeat.)
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.ctx.length === 0) return;
    const req = this.readByKey.get(ctxKey(m.ctx));
    if (!req) {
      const sent = leaseTickOf(m.ctx);
      if (sent !== undefined && sent <= this.ticks) pr.leaseAck = Math.max(pr.leaseAck, sent);
      return;
    }
    req.acks.add(m.from);
    let acked = 0;
    for (const id of req.acks) if (this.voters.has(id)) acked++;
    if (acked < this.quorum()) return;
    // Everything queued before this request is confirmed too.
    const n = this.readQueue.indexOf(req) + 1;
    for (const r of this.readQueue.splice(0, n)) {
      this.readByKey.delete(r.key);
      this.respondRead(r.from, r.ctx, r.index);
    }
  }

  private respondRead(from: NodeId, ctx: Uint8Array, index: number): void {
    if (from === this.id) this.readStates.push({ index, ctx });
    else this.send({ type: 'readIndexResp', from: this.id, to: from, term: this.term, index, ctx });
  }

  pushReadState(index: number, ctx: Uint8Array): void {
    this.readStates.push({ index, ctx });
  }

  // -------------------------------------------------------------------------------------
  // Membership (single-server changes, thesis §4.1; applied when committed and applied)

  private checkConfChange(cc: ConfChange): string | undefined {
    switch (cc.type) {
      case 'addVoter':
        return undefined;
      case 'addLearner':
        if (this.voters.has(cc.nodeId)) return `${cc.nodeId} is a voter; remove it first`;
        return undefined;
      case 'removeNode':
        if (!this.prs.has(cc.nodeId)) return `${cc.nodeId} is not a member`;
        if (this.voters.has(cc.nodeId) && this.voters.size === 1) return 'cannot remove the last voter';
        return undefined;
    }
  }

  private applyConfEntry(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch (err) {
      this.logWarn(`ignoring undecodable conf change at ${e.index}: ${(err as Error).message}`);
      return;
    }
    this.applyConfChange(cc);
  }

  applyConfChange(cc: ConfChange): void {
    const id = cc.nodeId;
    changeMembership(this.voters, this.learners, cc);
    // Progress follows the sets: a member gets one, a removed node loses it.
    if (this.voters.has(id) || this.learners.has(id)) {
      const pr = this.prs.get(id);
      if (pr) pr.isLearner = this.learners.has(id);
      else this.addProgress(id, this.learners.has(id), this.log.lastIndex());
    } else {
      this.prs.delete(id);
      if (this.leadTransferee === id) this.leadTransferee = NONE;
    }
    this.confChanged = true;
    this.logInfo(`applied conf change ${cc.type} ${id}: voters [${[...this.voters]}], learners [${[...this.learners]}]`);
    if (this.role !== 'leader') return;
    if (!this.voters.has(this.id)) {
      // A removed leader hands over to the most up-to-date voter, then steps down.
      let best: Progress | undefined;
      for (const v of this.voters) {
        const pr = this.prs.get(v);
        if (pr && (!best || pr.match > best.match)) best = pr;
      }
      if (best && best.match === this.log.lastIndex()) {
        this.send({ type: 'timeoutNow', from: this.id, to: best.id, term: this.term });
      }
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.maybeCommit()) this.bcastAppend();
    else if (cc.type !== 'removeNode') this.sendAppend(id);
  }

  /**
   * The membership once `ents` are applied on top of the current one, or undefined when
   * they hold no conf change. Mirrors {@link applyConfChange} without touching any state.
   */
  private confAfter(ents: Entry[]): ConfState | undefined {
    let voters: Set<NodeId> | undefined;
    let learners: Set<NodeId> | undefined;
    for (const e of ents) {
      if (e.type !== 'conf') continue;
      let cc: ConfChange;
      try {
        cc = decodeConfChange(e.data);
      } catch {
        continue; // applyConfEntry ignores it too
      }
      voters ??= new Set(this.voters);
      learners ??= new Set(this.learners);
      changeMembership(voters, learners, cc);
    }
    if (!voters || !learners) return undefined;
    return { voters: [...voters].sort((a, b) => a - b), learners: [...learners].sort((a, b) => a - b) };
  }

  private addProgress(id: NodeId, learner: boolean, last: number): void {
    const pr = new Progress(id, last + 1, this.cfg.maxInflightMsgs, 0, learner);
    // A new member counts as active so that check-quorum does not depose us at once.
    pr.recentActive = true;
    this.prs.set(id, pr);
  }

  private applyConfState(conf: ConfState): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners.filter((l) => !this.voters.has(l)));
    const last = this.log.lastIndex();
    for (const id of [...this.prs.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.prs.delete(id);
    }
    for (const id of [...this.voters, ...this.learners]) {
      const pr = this.prs.get(id);
      if (pr) pr.isLearner = this.learners.has(id);
      else this.prs.set(id, new Progress(id, last + 1, this.cfg.maxInflightMsgs, 0, this.learners.has(id)));
    }
  }

  // -------------------------------------------------------------------------------------
  // Plumbing

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private hardChanged(): boolean {
    return this.term !== this.prevHard.term || this.vote !== this.prevHard.vote || this.log.committed !== this.prevHard.commit;
  }

  /**
   * Queue a message. What may leave before the write in progress completes goes to
   * `msgs`; the rest waits until this Ready is durable (`msgsAfterAppend`):
   *
   * - early: a leader's replication traffic (thesis §10.2.1); pre-votes and their answers
   *   (a pre-vote changes no state and is never counted for safety: only the real vote
   *   that follows is, so neither side needs anything durable first); heartbeat answers
   *   (they acknowledge no entry, and the commit index a heartbeat carries never exceeds
   *   what this follower already acknowledged durably). These are on the critical path
   *   of an election and of check-quorum, and must not queue behind an fsync of entries
   *   they have nothing to do with. (etcd's async-storage mode also sends heartbeat
   *   answers at once, but holds pre-vote answers back with the votes; a pre-vote carries
   *   no safety weight, so holding it back only delays elections.)
   * - after the write: votes (the term and vote must be durable before a vote is
   *   granted or solicited, §3.8), append acknowledgements (the entries must be
   *   durable), and everything else.
   */
  send(m: Message): void {
    if (m.type === 'timeoutNow') this.transferTerm = this.term;
    if (sendsEarly(this.role, m)) {
      this.msgs.push(m);
    } else {
      this.msgsAfterAppend.push(m);
    }
  }

  logInfo(s: string): void {
    this.cfg.logger?.info(`[${this.id}] ${s}`);
  }

  logWarn(s: string): void {
    this.cfg.logger?.warn(`[${this.id}] ${s}`);
  }

  logDebug(s: string): void {
    this.cfg.logger?.debug(`[${this.id}] ${s}`);
  }
}

// ---------------------------------------------------------------------------------------
// Role tables

const FOLLOWER: RoleTable = {
  tick(r) {
    r.electionElapsed++;
    if (r.promotable() && r.electionElapsed >= r.randomizedElectionTimeout) {
      r.electionElapsed = 0;
      r.hup(false);
    }
  },
  step(r, m) {
    switch (m.type) {
      case 'app':
        r.electionElapsed = 0;
        r.lead = m.from;
        r.handleAppend(m);
        return;
      case 'heartbeat':
        r.electionElapsed = 0;
        r.lead = m.from;
        r.handleHeartbeat(m);
        return;
      case 'snap':
        r.electionElapsed = 0;
        r.lead = m.from;
        r.handleSnapshot(m);
        return;
      case 'timeoutNow':
        r.logInfo(`timeoutNow from ${m.from}: campaigning for leadership transfer`);
        r.hup(true);
        return;
      case 'readIndexResp':
        r.pushReadState(m.index, m.ctx);
        return;
      case 'readIndex':
        // A follower does not serve reads for others: forward to the leader if known.
        if (r.lead !== NONE && r.lead !== m.from) r.send({ ...m, to: r.lead, term: r.term });
        return;
      case 'voteResp':
      case 'preVoteResp':
      case 'appResp':
      case 'heartbeatResp':
      case 'vote':
      case 'preVote':
        return; // stale answers to an earlier role
      case 'prop':
        return; // handled in step()
      default:
        assertNever(m);
    }
  },
};

const CANDIDATE: RoleTable = {
  tick: FOLLOWER.tick,
  step(r, m) {
    switch (m.type) {
      case 'app':
        r.becomeFollower(m.term, m.from);
        r.handleAppend(m);
        return;
      case 'heartbeat':
        r.becomeFollower(m.term, m.from);
        r.handleHeartbeat(m);
        return;
      case 'snap':
        r.becomeFollower(m.term, m.from);
        r.handleSnapshot(m);
        return;
      case 'voteResp':
      case 'preVoteResp': {
        const mine = r.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
        if (m.type !== mine) return;
        const result = r.recordVote(m.from, !m.reject);
        r.logDebug(`${m.type} from ${m.from}: ${m.reject ? 'rejected' : 'granted'} (${result})`);
        if (result === 'won') {
          if (r.role === 'preCandidate') r.startCampaign('vote', false);
          else r.becomeLeader();
        } else if (result === 'lost') {
          r.becomeFollower(r.term, NONE);
        }
        return;
      }
      case 'timeoutNow':
      case 'readIndex':
      case 'readIndexResp':
      case 'appResp':
      case 'heartbeatResp':
      case 'vote':
      case 'preVote':
        return;
      case 'prop':
        return; // handled in step()
      default:
        assertNever(m);
    }
  },
};

const LEADER: RoleTable = {
  tick(r) {
    r.heartbeatElapsed++;
    r.electionElapsed++;
    if (r.electionElapsed >= r.cfg.electionTick) {
      r.electionElapsed = 0;
      if (r.cfg.checkQuorum) {
        // Step down unless a quorum was heard from during the last election timeout (§6.2).
        let active = 0;
        for (const id of r.voters) {
          const pr = r.prs.get(id);
          if (id === r.id || pr?.recentActive) active++;
        }
        for (const [id, pr] of r.prs) if (id !== r.id) pr.recentActive = false;
        if (active < r.quorum()) {
          r.logInfo(`stepping down: heard from only ${active} of ${r.voters.size} voters`);
          r.becomeFollower(r.term, NONE);
          return;
        }
      }
      if (r.leadTransferee !== NONE) {
        r.logInfo(`leadership transfer to ${r.leadTransferee} timed out`);
        r.leadTransferee = NONE;
      }
    }
    if (r.heartbeatElapsed >= r.cfg.heartbeatTick) {
      r.heartbeatElapsed = 0;
      r.bcastHeartbeat(r.cfg.readOnlyOption === 'lease' ? leaseCtx(r.tickCount()) : EMPTY);
    }
  },
  step(r, m) {
    switch (m.type) {
      case 'appResp':
        r.handleAppResp(m);
        return;
      case 'heartbeatResp':
        r.handleHeartbeatResp(m);
        return;
      case 'readIndex':
        r.leaderReadIndex(m.from, m.ctx);
        return;
      case 'app':
      case 'heartbeat':
      case 'snap':
        // Another leader at our term cannot exist (Election Safety); drop.
        r.logWarn(`unexpected ${m.type} from ${m.from} at our term ${r.term}`);
        return;
      case 'timeoutNow':
      case 'voteResp':
      case 'preVoteResp':
      case 'readIndexResp':
      case 'vote':
      case 'preVote':
        return;
      case 'prop':
        return; // handled in step()
      default:
        assertNever(m);
    }
  },
};

/**
 * The membership sets after one single-server change: the one rule, used when a change
 * is applied and when the membership a Ready's conf entries will produce is computed.
 */
function changeMembership(voters: Set<NodeId>, learners: Set<NodeId>, cc: ConfChange): void {
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
}

/** Whether a message may leave before the Ready it belongs to is durable (see Raft.send). */
function sendsEarly(role: Role, m: Message): boolean {
  switch (m.type) {
    case 'app':
    case 'heartbeat':
    case 'snap':
    case 'timeoutNow':
      return role === 'leader';
    case 'preVote':
    case 'preVoteResp':
    case 'heartbeatResp':
      return true;
    default:
      return false;
  }
}

const LEASE_MARK = 0xfe;

/** The context of a lease heartbeat: a mark byte and the leader's tick when it was sent. */
function leaseCtx(tick: number): Uint8Array {
  const b = new Uint8Array(9);
  b[0] = LEASE_MARK;
  new DataView(b.buffer).setFloat64(1, tick);
  return b;
}

function leaseTickOf(ctx: Uint8Array): number | undefined {
  if (ctx.length !== 9 || ctx[0] !== LEASE_MARK) return undefined;
  const t = new DataView(ctx.buffer, ctx.byteOffset, 9).getFloat64(1);
  return Number.isSafeInteger(t) && t >= 0 ? t : undefined;
}

function sameConf(a: ConfState, b: ConfState): boolean {
  const eq = (x: NodeId[], y: NodeId[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.voters, b.voters) && eq(a.learners, b.learners);
}

function assertNever(m: never): never {
  throw new Error(`raft: unknown message ${JSON.stringify(m)}`);
}

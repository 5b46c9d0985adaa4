/**
 * The vocabulary of berth's Raft: entries, persistent state, messages and the Ready
 * hand-off. Everything here is plain data so it can be encoded with msgpack, written to
 * LevelDB, sent over gRPC and compared in tests.
 *
 * Node ids are positive integers; 0 means "none" (no vote, no known leader).
 */

export type NodeId = number;
export const NONE: NodeId = 0;

/** What an entry carries. `conf` entries hold an encoded {@link ConfChange}. */
export type EntryType = 'normal' | 'conf';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to Raft for `normal` entries; empty data is the leader's no-op. */
  data: Uint8Array;
}

/** State that must be on disk before a replica votes or acknowledges (§5.1, Figure 2). */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/**
 * The membership. Changes happen one server at a time (thesis §4.1): each committed
 * conf entry adds or removes a single voter or learner, and a leader never has more than
 * one conf entry that is not yet applied.
 */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Free-form data for the application, e.g. the new member's address. */
  context?: Uint8Array;
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMetadata;
  data: Uint8Array;
}

/** A linearizable read point: once `index` is applied, a read for `ctx` may be served. */
export interface ReadState {
  index: number;
  ctx: Uint8Array;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  leader: NodeId;
  role: Role;
}

// ---------------------------------------------------------------------------------------
// Messages between replicas. A discriminated union on `type`; every message carries the
// sender's term (0 only for messages that are term-less by design, i.e. readIndex).

interface Base {
  from: NodeId;
  to: NodeId;
  term: number;
}

/** Pre-vote (thesis §9.6) and vote requests (§5.2). `term` is the term campaigned for. */
export interface VoteMsg extends Base {
  type: 'vote' | 'preVote';
  lastIndex: number;
  lastTerm: number;
  /** Set when the election was started by a leader transfer: bypasses leader leases. */
  transfer: boolean;
}

export interface VoteRespMsg extends Base {
  type: 'voteResp' | 'preVoteResp';
  reject: boolean;
}

/** AppendEntries (§5.3): entries after (index, logTerm). */
export interface AppMsg extends Base {
  type: 'app';
  index: number;
  logTerm: number;
  entries: Entry[];
  commit: number;
}

/**
 * AppendEntries response. On success `index` is the follower's new last matched index.
 * On reject `index` is the rejected `AppMsg.index` and (`hintIndex`, `hintTerm`) point
 * at the largest index ≤ index whose term is ≤ the leader's logTerm: the leader can skip
 * the whole conflicting term at once (fast backtracking, §5.3 "optimization").
 */
export interface AppRespMsg extends Base {
  type: 'appResp';
  reject: boolean;
  index: number;
  hintIndex: number;
  hintTerm: number;
}

export interface HeartbeatMsg extends Base {
  type: 'heartbeat';
  commit: number;
  /** Non-empty when the heartbeat confirms leadership for a ReadIndex request. */
  ctx: Uint8Array;
}

export interface HeartbeatRespMsg extends Base {
  type: 'heartbeatResp';
  ctx: Uint8Array;
}

/** InstallSnapshot. The transport may split `snapshot.data` into chunks on the wire. */
export interface SnapMsg extends Base {
  type: 'snap';
  snapshot: Snapshot;
}

/** Leader transfer (thesis §3.10): the target starts an election at once. */
export interface TimeoutNowMsg extends Base {
  type: 'timeoutNow';
}

/** A follower forwards a ReadIndex request to its leader. */
export interface ReadIndexMsg extends Base {
  type: 'readIndex';
  ctx: Uint8Array;
}

export interface ReadIndexRespMsg extends Base {
  type: 'readIndexResp';
  index: number;
  ctx: Uint8Array;
}

/**
 * Proposals a follower forwards to its leader (etcd's MsgProp). Term-less: the leader
 * appends them if it still leads, otherwise they are dropped and the proposer, which
 * waits for its request to be applied, times out.
 */
export interface PropMsg extends Base {
  type: 'prop';
  data: Uint8Array[];
}

export type Message =
  | PropMsg
  | VoteMsg
  | VoteRespMsg
  | AppMsg
  | AppRespMsg
  | HeartbeatMsg
  | HeartbeatRespMsg
  | SnapMsg
  | TimeoutNowMsg
  | ReadIndexMsg
  | ReadIndexRespMsg;

export type MessageType = Message['type'];

export const MESSAGE_TYPES: readonly MessageType[] = [
  'vote', 'preVote', 'voteResp', 'preVoteResp', 'app', 'appResp', 'heartbeat',
  'heartbeatResp', 'snap', 'timeoutNow', 'readIndex', 'readIndexResp', 'prop',
];

/**
 * What the core hands to its driver. The driver must, in this order:
 *  1. send `messages` (they do not depend on this Ready's disk write: a leader may
 *     replicate in parallel with its own write, thesis §10.2.1);
 *  2. write `snapshot`, `entries` and `hardState` to stable storage in one batch,
 *     synced when `mustSync`;
 *  3. send `persistedMessages` (votes and acknowledgements: only after step 2);
 *  4. apply `committedEntries` (and the snapshot, if any) to the state machine;
 *  5. call `advance()`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  /** Entries to append; they may overwrite a suffix of the stored log. */
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  persistedMessages: Message[];
  readStates: ReadState[];
  /** The membership, when it changed since the last Ready (persist it beside the hard state). */
  conf?: ConfState;
  mustSync: boolean;
}

/** Read-only access to what is durable. The driver writes to it; the core only reads. */
export interface Storage {
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries in [lo, hi), at least one if any, at most `maxBytes` beyond the first. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i, for firstIndex()-1 ≤ i ≤ lastIndex(). Throws CompactedError/UnavailableError. */
  term(i: number): number;
  /** First index still in the log (one past the snapshot). */
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export class CompactedError extends Error {
  override name = 'CompactedError';
  constructor(index: number) {
    super(`raft: index ${index} is compacted`);
  }
}

export class UnavailableError extends Error {
  override name = 'UnavailableError';
  constructor(index: number) {
    super(`raft: index ${index} is beyond the last index`);
  }
}

/** Why the core refused a proposal or a request: an expected outcome, not a bug. */
export type RefusalReason =
  | 'notLeader'
  | 'transferring'
  | 'uncommittedLimit'
  | 'confChangePending'
  | 'removed'
  | 'invalid';

export class ProposalRefused extends Error {
  override name = 'ProposalRefused';
  constructor(
    readonly reason: RefusalReason,
    readonly leader: NodeId,
    detail?: string,
  ) {
    super(`raft: proposal refused: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

export interface Config {
  id: NodeId;
  /** Ticks without a leader's word before a follower campaigns; randomized in [t, 2t). */
  electionTick: number;
  /** Ticks between heartbeats; must be < electionTick. */
  heartbeatTick: number;
  /** Soft bound on the bytes of entries in one AppMsg (at least one entry is sent). */
  maxSizePerMsg: number;
  /** At most this many AppMsgs in flight to a follower in replicate state. */
  maxInflightMsgs: number;
  /** Bytes of entries the leader may hold uncommitted; proposals beyond it are refused. 0 = no limit. */
  maxUncommittedEntriesSize: number;
  /** Bytes of committed entries handed out in one Ready (at least one entry). */
  maxCommittedSizePerReady: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** `lease` serves reads without a heartbeat round; only valid with checkQuorum. */
  readOnlyOption: 'safe' | 'lease';
  /** Applied index to resume from after a restart (entries ≤ applied are not handed out again). */
  applied: number;
  /** Random integer in [0, n): injected so that a seed replays exactly. */
  random: (n: number) => number;
  /** Optional logger; the core never writes anywhere by itself. */
  logger?: RaftLogger;
}

export interface RaftLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export interface PeerStatus {
  id: NodeId;
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  learner: boolean;
  recentActive: boolean;
}

export interface Status {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
  /** Only on the leader. */
  progress: PeerStatus[];
  transferee: NodeId;
}

/**
 * The peer transport between Raft replicas, over gRPC (proto/raft.proto).
 *
 * Every replica dials each of its peers and keeps one long-lived client stream per peer
 * (`RaftPeer.Stream`), on which it sends batches of msgpack-encoded messages; replies come
 * back on the other replica's own stream. Snapshots go through `RaftPeer.Snapshot`, in
 * chunks, on a connection of their own so that they never sit in front of heartbeats.
 *
 * Delivery is best effort, as Raft expects: messages to one peer arrive in the order they
 * were sent or not at all. A slow or dead peer never delays the others: each peer has its
 * own bounded queue, and its own stream that is re-opened with exponential backoff.
 *
 * Callbacks (`onMessages`, `onUnreachable`, `onSnapshotStatus`) are never invoked
 * synchronously from `send`, `addPeer` or `removePeer`; they run from I/O callbacks or
 * `setImmediate`, never after `stop()`.
 */

import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeMessages, encodeMessages, MalformedMessageError } from './codec.ts';
import type { Message, NodeId, SnapMsg } from './types.ts';

// ---------------------------------------------------------------------------------------
// Wire types (as produced by @grpc/proto-loader with keepCase, longs: Number, defaults)

interface WireBatch {
  cluster_id: string;
  from: number;
  to: number;
  payload: Uint8Array;
}

interface WireChunk {
  cluster_id: string;
  from: number;
  to: number;
  header: Uint8Array;
  total_size: number;
  offset: number;
  data: Uint8Array;
  last: boolean;
  crc32: number;
}

type Serialize<T> = (value: T) => Buffer;
type Deserialize<T> = (bytes: Buffer) => T;

const PROTO_PATH = fileURLToPath(new URL('../../proto/raft.proto', import.meta.url));

const packageDefinition = protoLoader.loadSync(PROTO_PATH, {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  berth: { raft: { v1: { RaftPeer: grpc.ServiceClientConstructor } } };
};
/** The RaftPeer service definition (exported for tests and tools that speak the protocol). */
export const RAFT_PEER_SERVICE: grpc.ServiceDefinition = loaded.berth.raft.v1.RaftPeer.service;

const streamMethod = RAFT_PEER_SERVICE['Stream']!;
const snapshotMethod = RAFT_PEER_SERVICE['Snapshot']!;
const serializeBatch = streamMethod.requestSerialize as Serialize<WireBatch>;
const deserializeStreamAck = streamMethod.responseDeserialize as Deserialize<object>;
const serializeChunk = snapshotMethod.requestSerialize as Serialize<WireChunk>;
const deserializeSnapshotAck = snapshotMethod.responseDeserialize as Deserialize<object>;

// ---------------------------------------------------------------------------------------
// Options

export interface TransportLogger {
  info(s: string): void;
  warn(s: string): void;
}

export interface GrpcTransportOptions {
  id: NodeId;
  clusterId: string;
  /** "host:port" to listen on; port 0 picks a free port, returned by `start()`. */
  listen: string;
  /** Peer id -> "host:port". Copied; change it later with addPeer/removePeer. */
  peers: Map<NodeId, string>;
  /** Validated messages addressed to this node, in arrival order (per sending peer). */
  onMessages(msgs: Message[]): void;
  /** A peer's stream broke, could not be opened, or messages to it were dropped. */
  onUnreachable(id: NodeId): void;
  /** Outcome of a snapshot sent to a peer: true once the peer handed it to its Raft. */
  onSnapshotStatus(id: NodeId, ok: boolean): void;
  logger?: TransportLogger;
  /** Largest accepted batch payload (and snapshot chunk), in bytes. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Per-peer bound on queued (not yet written) batches. Default 1024. */
  maxQueuedBatches?: number;
  /** Per-peer bound on the approximate bytes of queued messages. Default 64 MiB. */
  maxQueuedBytes?: number;
  /**
   * Re-dial backoff for a peer that cannot be reached: starts at the first, doubles up to
   * the second (defaults 50 and 200 ms; also gRPC's own reconnect backoff). For tests.
   */
  backoffMs?: [initial: number, max: number];
  /** TLS etc. Default: insecure on both sides. */
  credentials?: {
    server: grpc.ServerCredentials;
    client: grpc.ChannelCredentials;
  };
}

/** What the Raft driver needs from a transport (lets tests substitute an in-memory one). */
export interface Transport {
  start(): Promise<number>;
  send(msgs: Message[]): void;
  addPeer(id: NodeId, addr: string): void;
  removePeer(id: NodeId): void;
  stop(): Promise<void>;
}

const MiB = 1024 * 1024;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * MiB;
const DEFAULT_MAX_QUEUED_BATCHES = 1024;
const DEFAULT_MAX_QUEUED_BYTES = 64 * MiB;
/** Room for the envelope around a payload at the gRPC message-size limits. */
const ENVELOPE_SLACK = 64 * 1024;
/** Messages queued behind a blocked stream are merged into batches up to this size. */
const COALESCE_BYTES = 1 * MiB;
const SNAPSHOT_CHUNK_BYTES = 512 * 1024;
const BACKOFF_INITIAL_MS = 50;
/**
 * Re-dial a peer at least this often while it is unreachable. Kept well below an
 * election timeout (200-400 ms at the default 20 ms tick): a replica that comes back
 * (restart, healed partition) must be heard again before the next election needs its
 * vote, and a dial to a dead peer costs next to nothing.
 */
const BACKOFF_MAX_MS = 200;
/**
 * Hearing from a peer whose outbound stream is down proves it is back: the stream to it
 * is re-dialed at once (on a fresh channel, past gRPC's own reconnect backoff), at most
 * this often per peer.
 */
const KICK_MIN_INTERVAL_MS = 100;
/** A stream not accepted within this long while the peer is heard from is re-dialed. */
const STUCK_DIAL_MS = 200;
const KEEPALIVE_TIME_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 5_000;
const WARN_INTERVAL_MS = 10_000;

const EMPTY = new Uint8Array(0);
const noopLogger: TransportLogger = { info() {}, warn() {} };
const ignore = (): void => {};

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Rough wire size of a message, for queue bounds and coalescing (no encoding needed). */
function estimateSize(m: Message): number {
  switch (m.type) {
    case 'app': {
      let n = 48;
      for (const e of m.entries) n += e.data.length + 20;
      return n;
    }
    case 'heartbeat':
    case 'heartbeatResp':
    case 'readIndex':
    case 'readIndexResp':
      return 40 + (m.ctx?.length ?? 0);
    default:
      return 40;
  }
}

/** A FIFO with O(1) shift. */
class Deque<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  peekLast(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

interface Pending {
  msgs: Message[];
  bytes: number;
}

interface Peer {
  readonly id: NodeId;
  addr: string;
  client: grpc.Client | null;
  call: grpc.ClientWritableStream<WireBatch> | null;
  /** Incremented per opened call, so that events of an abandoned call are ignored. */
  gen: number;
  /** False while waiting for 'drain' on the current call. */
  writable: boolean;
  /** The current call got the server's response headers: the peer accepted the stream. */
  established: boolean;
  openedAt: number;
  queue: Deque<Pending>;
  queuedBytes: number;
  backoffMs: number;
  retryTimer: NodeJS.Timeout | null;
  /** Consecutive failures to open or keep a stream, for logging. */
  failures: number;
  /** When the stream to this peer was last re-dialed because the peer was heard from. */
  kickedAt: number;
  snapshot: SnapshotSend | null;
}

interface SnapshotSend {
  client: grpc.Client;
  call: grpc.ClientWritableStream<WireChunk> | null;
  cancelled: boolean;
}

/** A reason to refuse an inbound stream. */
class Rejection extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export class GrpcTransport implements Transport {
  private readonly id: NodeId;
  private readonly clusterId: string;
  private readonly listen: string;
  private readonly onMessages: (msgs: Message[]) => void;
  private readonly onUnreachable: (id: NodeId) => void;
  private readonly onSnapshotStatus: (id: NodeId, ok: boolean) => void;
  private readonly logger: TransportLogger;
  private readonly maxMessageBytes: number;
  private readonly maxQueuedBatches: number;
  private readonly maxQueuedBytes: number;
  private readonly serverCredentials: grpc.ServerCredentials;
  private readonly clientCredentials: grpc.ChannelCredentials;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly server: grpc.Server;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly snapshotChunkBytes: number;
  private readonly coalesceBytes: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;

  private started = false;
  private stopped = false;
  private pendingUnreachable = new Set<NodeId>();
  private pendingSnapshotStatus: Array<[NodeId, boolean]> = [];
  private deferred: NodeJS.Immediate | null = null;
  private pumpImmediate: NodeJS.Immediate | null = null;
  private readonly pumpPending = new Set<Peer>();
  private lastWarn = new Map<string, number>();

  constructor(opts: GrpcTransportOptions) {
    if (!Number.isSafeInteger(opts.id) || opts.id <= 0) throw new RangeError(`transport: bad node id ${opts.id}`);
    this.id = opts.id;
    this.clusterId = opts.clusterId;
    this.listen = opts.listen;
    this.onMessages = opts.onMessages;
    this.onUnreachable = opts.onUnreachable;
    this.onSnapshotStatus = opts.onSnapshotStatus;
    this.logger = opts.logger ?? noopLogger;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxQueuedBatches = Math.max(1, opts.maxQueuedBatches ?? DEFAULT_MAX_QUEUED_BATCHES);
    this.maxQueuedBytes = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.serverCredentials = opts.credentials?.server ?? grpc.ServerCredentials.createInsecure();
    this.clientCredentials = opts.credentials?.client ?? grpc.credentials.createInsecure();
    this.backoffInitialMs = opts.backoffMs?.[0] ?? BACKOFF_INITIAL_MS;
    this.backoffMaxMs = Math.max(this.backoffInitialMs, opts.backoffMs?.[1] ?? BACKOFF_MAX_MS);
    this.snapshotChunkBytes = Math.max(1024, Math.min(SNAPSHOT_CHUNK_BYTES, this.maxMessageBytes));
    // Merged batches stay small enough to be dropped one at a time when the queue is full.
    this.coalesceBytes = Math.min(COALESCE_BYTES, this.maxMessageBytes, Math.floor(this.maxQueuedBytes / 4));

    const limit = this.maxMessageBytes + ENVELOPE_SLACK;
    const common: grpc.ChannelOptions = {
      'grpc.max_send_message_length': limit,
      'grpc.max_receive_message_length': limit,
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 1,
      // Channelz bookkeeping costs CPU on every message; nothing here reads it.
      'grpc.enable_channelz': 0,
      // http2 session memory, in MiB: room for several maximal batches in flight.
      'grpc-node.max_session_memory': Math.max(256, Math.ceil((4 * limit) / MiB)),
    };
    this.channelOptions = {
      ...common,
      // Let the channel itself retry connecting as eagerly as our own stream backoff.
      'grpc.initial_reconnect_backoff_ms': this.backoffInitialMs,
      'grpc.max_reconnect_backoff_ms': this.backoffMaxMs,
      // Raft tolerates loss; gRPC's retry buffering would only add copies and latency.
      'grpc.enable_retries': 0,
      // One connection per peer and transport, never shared with other channels.
      'grpc.use_local_subchannel_pool': 1,
    };
    this.server = new grpc.Server(common);
    this.server.addService(RAFT_PEER_SERVICE, {
      Stream: (call: grpc.ServerReadableStream<WireBatch, object>, cb: grpc.sendUnaryData<object>) =>
        this.handleStream(call, cb),
      Snapshot: (call: grpc.ServerReadableStream<WireChunk, object>, cb: grpc.sendUnaryData<object>) =>
        this.handleSnapshot(call, cb),
    });

    for (const [id, addr] of opts.peers) {
      if (id !== this.id) this.peers.set(id, this.newPeer(id, addr));
    }
  }

  /** Bind and serve. Resolves with the bound port. */
  start(): Promise<number> {
    if (this.stopped) return Promise.reject(new Error('transport: stopped'));
    if (this.started) return Promise.reject(new Error('transport: already started'));
    this.started = true;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.listen, this.serverCredentials, (err, port) => {
        if (err) reject(err);
        else {
          this.logger.info(`raft transport: node ${this.id} listening on port ${port}`);
          resolve(port);
        }
      });
    });
  }

  /**
   * Queue messages for their peers: one batch per peer per call (fewer when a stream is
   * blocked and batches get merged), `snap` messages through the Snapshot RPC. Never
   * blocks, never throws; what cannot be sent is dropped, logged, and reported through
   * `onUnreachable` (or `onSnapshotStatus(id, false)` for snapshots).
   */
  send(msgs: Message[]): void {
    if (this.stopped) return;
    try {
      let groups: Map<NodeId, Message[]> | null = null;
      for (const m of msgs) {
        if (m.from !== this.id) {
          this.warnLimited('from', `raft transport: dropping ${m.type} with from=${m.from} (this node is ${this.id})`);
          continue;
        }
        if (m.type === 'snap') {
          this.sendSnapshot(m);
          continue;
        }
        groups ??= new Map();
        const g = groups.get(m.to);
        if (g === undefined) groups.set(m.to, [m]);
        else g.push(m);
      }
      if (groups === null) return;
      for (const [to, group] of groups) {
        const p = this.peers.get(to);
        if (p === undefined) {
          this.warnLimited(`unknown:${to}`, `raft transport: dropping ${group.length} message(s) to unknown peer ${to}`);
          this.reportUnreachable(to);
          continue;
        }
        let bytes = 0;
        for (const m of group) bytes += estimateSize(m);
        this.enqueue(p, group, bytes);
        this.schedulePump(p);
      }
    } catch (err) {
      // Never let a transport problem escape into the Raft loop.
      this.logger.warn(`raft transport: send failed: ${errorText(err)}`);
    }
  }

  /** Add a peer or change its address (its stream is re-opened to the new address). */
  addPeer(id: NodeId, addr: string): void {
    if (this.stopped || id === this.id) return;
    const p = this.peers.get(id);
    if (p === undefined) {
      this.peers.set(id, this.newPeer(id, addr));
      return;
    }
    if (p.addr === addr) return;
    this.logger.info(`raft transport: peer ${id} moved from ${p.addr} to ${addr}`);
    this.closeConnections(p);
    p.addr = addr;
    p.backoffMs = this.backoffInitialMs;
    this.safePump(p);
  }

  /** Forget a peer: drop its queue, close its streams; batches from it are refused from now on. */
  removePeer(id: NodeId): void {
    const p = this.peers.get(id);
    if (p === undefined) return;
    this.peers.delete(id);
    this.closeConnections(p);
    p.queue.clear();
    p.queuedBytes = 0;
    this.pendingUnreachable.delete(id);
  }

  /** Close the server, every stream and timer. No callback fires afterwards. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.deferred !== null) clearImmediate(this.deferred);
    this.deferred = null;
    if (this.pumpImmediate !== null) clearImmediate(this.pumpImmediate);
    this.pumpImmediate = null;
    this.pumpPending.clear();
    this.pendingUnreachable.clear();
    this.pendingSnapshotStatus = [];
    for (const p of this.peers.values()) {
      this.closeConnections(p);
      p.queue.clear();
      p.queuedBytes = 0;
    }
    // Peers' streams into this server never end by themselves: do not wait for them.
    this.server.forceShutdown();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // -------------------------------------------------------------------------------------
  // Outbound streams

  private newPeer(id: NodeId, addr: string): Peer {
    return {
      id,
      addr,
      client: null,
      call: null,
      gen: 0,
      writable: false,
      established: false,
      openedAt: 0,
      queue: new Deque(),
      queuedBytes: 0,
      backoffMs: this.backoffInitialMs,
      retryTimer: null,
      failures: 0,
      kickedAt: 0,
      snapshot: null,
    };
  }

  /**
   * A batch from `id` arrived: the peer is up. If our own stream to it is down (backing
   * off after the peer died or was cut off) or stuck dialing, re-dial now on a fresh
   * channel instead of waiting out the backoff; a replica that restarted or came back
   * from a partition otherwise stays deaf to us for up to a backoff period (plus gRPC's
   * own reconnect backoff), which elections and commits then wait for.
   */
  private peerHeard(id: NodeId): void {
    const p = this.peers.get(id);
    if (p === undefined || this.stopped) return;
    const down = p.call === null && p.retryTimer !== null;
    const now = Date.now();
    const stuck = p.call !== null && !p.established && now - p.openedAt >= STUCK_DIAL_MS;
    if (!down && !stuck) return;
    if (now - p.kickedAt < KICK_MIN_INTERVAL_MS) return;
    p.kickedAt = now;
    const snapshot = p.snapshot;
    p.snapshot = null; // a snapshot in flight keeps its own connection
    this.closeConnections(p);
    p.snapshot = snapshot;
    p.backoffMs = this.backoffInitialMs;
    this.safePump(p);
  }

  private enqueue(p: Peer, msgs: Message[], bytes: number): void {
    // Merge into the last queued batch when the stream is blocked: fewer, bigger batches.
    const tail = p.queue.peekLast();
    if (tail !== undefined && tail.bytes + bytes <= this.coalesceBytes) {
      for (const m of msgs) tail.msgs.push(m);
      tail.bytes += bytes;
    } else {
      p.queue.push({ msgs, bytes });
    }
    p.queuedBytes += bytes;
    let dropped = 0;
    while (
      p.queue.length > 1 &&
      (p.queue.length > this.maxQueuedBatches || p.queuedBytes > this.maxQueuedBytes)
    ) {
      const old = p.queue.shift()!;
      p.queuedBytes -= old.bytes;
      dropped += old.msgs.length;
    }
    if (dropped > 0) {
      this.warnLimited(
        `full:${p.id}`,
        `raft transport: queue to peer ${p.id} is full, dropped ${dropped} oldest message(s)`,
      );
      this.reportUnreachable(p.id);
    }
  }

  /**
   * Write at the end of this turn of the event loop rather than at once: everything sent
   * to a peer while handling one round of I/O (many proposals, many acknowledgements)
   * leaves as one batch, one gRPC message.
   */
  private schedulePump(p: Peer): void {
    this.pumpPending.add(p);
    if (this.pumpImmediate !== null) return;
    this.pumpImmediate = setImmediate(() => {
      this.pumpImmediate = null;
      const peers = [...this.pumpPending];
      this.pumpPending.clear();
      for (const q of peers) this.pump(q);
    });
  }

  /** Write queued batches while the stream accepts them; open the stream if needed. */
  private pump(p: Peer): void {
    if (this.stopped || p.queue.length === 0) return;
    if (p.call === null) {
      if (p.retryTimer !== null) return; // backing off; the timer will come back here
      this.open(p);
      if (p.call === null) return;
    }
    const call = p.call!;
    while (p.writable && p.queue.length > 0) {
      const item = p.queue.shift()!;
      p.queuedBytes -= item.bytes;
      for (const payload of this.encodeBatch(p.id, item.msgs)) {
        const ok = call.write({ cluster_id: this.clusterId, from: this.id, to: p.id, payload });
        if (!ok) p.writable = false;
      }
    }
  }

  /** Encode messages as one or more payloads, each within maxMessageBytes. */
  private encodeBatch(to: NodeId, msgs: Message[]): Uint8Array[] {
    let payload: Uint8Array;
    try {
      payload = encodeMessages(msgs);
    } catch (err) {
      if (msgs.length > 1 && err instanceof MalformedMessageError) {
        // Isolate the bad message rather than losing the whole batch.
        const mid = msgs.length >> 1;
        return [...this.encodeBatch(to, msgs.slice(0, mid)), ...this.encodeBatch(to, msgs.slice(mid))];
      }
      this.logger.warn(`raft transport: cannot encode message to peer ${to}: ${errorText(err)}`);
      return [];
    }
    if (payload.length <= this.maxMessageBytes) return [payload];
    if (msgs.length > 1) {
      const mid = msgs.length >> 1;
      return [...this.encodeBatch(to, msgs.slice(0, mid)), ...this.encodeBatch(to, msgs.slice(mid))];
    }
    this.logger.warn(
      `raft transport: dropping ${msgs[0]!.type} to peer ${to}: ${payload.length} bytes exceeds ` +
        `maxMessageBytes ${this.maxMessageBytes}`,
    );
    this.reportUnreachable(to);
    return [];
  }

  /** pump() for timer and event callbacks, where an exception would crash the process. */
  private safePump(p: Peer): void {
    try {
      this.pump(p);
    } catch (err) {
      this.logger.warn(`raft transport: writing to peer ${p.id} failed: ${errorText(err)}`);
    }
  }

  private open(p: Peer): void {
    try {
      p.client ??= new grpc.Client(p.addr, this.clientCredentials, this.channelOptions);
    } catch (err) {
      // E.g. an address gRPC cannot parse: fail like a stream that broke, and retry later.
      this.logger.warn(`raft transport: cannot dial peer ${p.id} at ${p.addr}: ${errorText(err)}`);
      p.gen++;
      p.call = null;
      this.onStreamEnd(p, p.gen, null, true);
      return;
    }
    const gen = ++p.gen;
    const call = p.client.makeClientStreamRequest<WireBatch, object>(
      streamMethod.path,
      serializeBatch,
      deserializeStreamAck,
      new grpc.Metadata(),
      {},
      (err) => this.onStreamEnd(p, gen, err),
    );
    // Failures are reported through the callback above; 'error' may also be emitted by
    // the underlying Writable after the call ended and must not crash the process.
    call.on('error', ignore);
    call.on('metadata', () => {
      if (p.gen !== gen) return;
      p.established = true;
      if (p.failures > 0) this.logger.info(`raft transport: stream to peer ${p.id} (${p.addr}) is up again`);
      p.failures = 0;
    });
    call.on('drain', () => {
      if (p.gen !== gen || p.call !== call) return;
      p.writable = true;
      this.safePump(p);
    });
    p.call = call;
    p.writable = true;
    p.established = false;
    p.openedAt = Date.now();
  }

  private onStreamEnd(p: Peer, gen: number, err: grpc.ServiceError | null, dialFailed = false): void {
    if (p.gen !== gen || (p.call === null && !dialFailed)) return; // abandoned on purpose
    p.call = null;
    p.writable = false;
    if (this.stopped || this.peers.get(p.id) !== p) return;
    p.failures++;
    if (p.failures === 1 || p.failures % 30 === 0) {
      const why = err ? `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}` : 'closed by peer';
      this.logger.warn(`raft transport: stream to peer ${p.id} (${p.addr}) broke (${why}); failures=${p.failures}`);
    }
    this.reportUnreachable(p.id);
    // A stream that lived a while resets the backoff; quick failures keep doubling it.
    if (p.established && Date.now() - p.openedAt >= this.backoffMaxMs) p.backoffMs = this.backoffInitialMs;
    const delay = p.backoffMs;
    p.backoffMs = Math.min(p.backoffMs * 2, this.backoffMaxMs);
    p.retryTimer = setTimeout(() => {
      p.retryTimer = null;
      if (this.peers.get(p.id) === p) this.safePump(p); // opens only if something is queued
    }, delay);
  }

  /** Abandon the peer's stream, snapshot and channel (callbacks of the old call are ignored). */
  private closeConnections(p: Peer): void {
    if (p.retryTimer !== null) clearTimeout(p.retryTimer);
    p.retryTimer = null;
    p.gen++;
    const call = p.call;
    p.call = null;
    p.writable = false;
    if (call !== null) call.cancel();
    if (p.client !== null) p.client.close();
    p.client = null;
    if (p.snapshot !== null) {
      p.snapshot.cancelled = true;
      p.snapshot.call?.cancel();
      p.snapshot = null;
    }
  }

  // -------------------------------------------------------------------------------------
  // Outbound snapshots

  private sendSnapshot(m: SnapMsg): void {
    const p = this.peers.get(m.to);
    if (p === undefined) {
      this.warnLimited(`unknown:${m.to}`, `raft transport: dropping snapshot to unknown peer ${m.to}`);
      this.reportSnapshotStatus(m.to, false);
      return;
    }
    if (p.snapshot !== null) {
      this.logger.warn(
        `raft transport: a snapshot to peer ${p.id} is already in flight; dropping the one at index ` +
          `${m.snapshot.meta.index}`,
      );
      return;
    }
    let header: Uint8Array;
    try {
      header = encodeMessages([{ ...m, snapshot: { meta: m.snapshot.meta, data: EMPTY } }]);
    } catch (err) {
      this.logger.warn(`raft transport: cannot encode snapshot to peer ${p.id}: ${errorText(err)}`);
      this.reportSnapshotStatus(p.id, false);
      return;
    }
    let client: grpc.Client;
    try {
      // A connection of its own: megabytes of chunks must not queue in front of heartbeats.
      client = new grpc.Client(p.addr, this.clientCredentials, this.channelOptions);
    } catch (err) {
      this.logger.warn(`raft transport: cannot dial peer ${p.id} at ${p.addr}: ${errorText(err)}`);
      this.reportSnapshotStatus(p.id, false);
      return;
    }
    const s: SnapshotSend = { client, call: null, cancelled: false };
    p.snapshot = s;
    this.logger.info(
      `raft transport: sending snapshot at index ${m.snapshot.meta.index} ` +
        `(${m.snapshot.data.length} bytes) to peer ${p.id}`,
    );
    this.streamSnapshot(p, s, m, header).then(
      (err) => {
        s.client.close();
        if (p.snapshot === s) p.snapshot = null;
        if (s.cancelled || this.stopped) return;
        if (err === null) {
          this.logger.info(`raft transport: snapshot at index ${m.snapshot.meta.index} delivered to peer ${p.id}`);
        } else {
          this.logger.warn(`raft transport: snapshot to peer ${p.id} failed: ${err}`);
        }
        this.reportSnapshotStatus(p.id, err === null);
      },
      // streamSnapshot never rejects; this is belt and braces.
      (err: unknown) => {
        s.client.close();
        if (p.snapshot === s) p.snapshot = null;
        this.logger.warn(`raft transport: snapshot to peer ${p.id} failed: ${errorText(err)}`);
        if (!s.cancelled && !this.stopped) this.reportSnapshotStatus(p.id, false);
      },
    );
  }

  /** Stream the chunks with backpressure. Resolves with null on success, else a reason. */
  private async streamSnapshot(p: Peer, s: SnapshotSend, m: SnapMsg, header: Uint8Array): Promise<string | null> {
    let ended = false;
    const finished = new Promise<string | null>((resolve) => {
      s.call = s.client.makeClientStreamRequest<WireChunk, object>(
        snapshotMethod.path,
        serializeChunk,
        deserializeSnapshotAck,
        new grpc.Metadata(),
        {},
        (err) => {
          ended = true;
          resolve(err ? `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}` : null);
        },
      );
    });
    const call = s.call!;
    call.on('error', ignore);
    const data = m.snapshot.data;
    let offset = 0;
    let crc = 0;
    do {
      if (ended || s.cancelled) break;
      const chunk = data.subarray(offset, offset + this.snapshotChunkBytes);
      crc = crc32(chunk, crc);
      const last = offset + chunk.length >= data.length;
      const ok = call.write({
        cluster_id: this.clusterId,
        from: this.id,
        to: p.id,
        header: offset === 0 ? header : EMPTY,
        total_size: offset === 0 ? data.length : 0,
        offset,
        data: chunk,
        last,
        crc32: last ? crc : 0,
      });
      offset += chunk.length;
      if (!ok && offset < data.length) {
        await Promise.race([new Promise<void>((resolve) => call.once('drain', resolve)), finished]);
      }
    } while (offset < data.length);
    if (!ended && !s.cancelled) call.end();
    return finished;
  }

  // -------------------------------------------------------------------------------------
  // Inbound

  /** Checks common to batches and snapshot chunks. Returns the sender. */
  private checkEnvelope(e: { cluster_id: unknown; from: unknown; to: unknown }, boundTo: NodeId): NodeId {
    if (e.cluster_id !== this.clusterId) {
      throw new Rejection(
        grpc.status.INVALID_ARGUMENT,
        `cluster id ${JSON.stringify(e.cluster_id)} is not ${JSON.stringify(this.clusterId)}`,
      );
    }
    if (e.to !== this.id) throw new Rejection(grpc.status.INVALID_ARGUMENT, `addressed to ${String(e.to)}, this is node ${this.id}`);
    const from = e.from;
    if (typeof from !== 'number' || !this.peers.has(from)) {
      throw new Rejection(grpc.status.INVALID_ARGUMENT, `sender ${String(from)} is not a known peer`);
    }
    if (boundTo !== 0 && from !== boundTo) {
      throw new Rejection(grpc.status.INVALID_ARGUMENT, `stream from peer ${boundTo} carries a batch from ${from}`);
    }
    return from;
  }

  private checkPayload(payload: unknown, from: NodeId): Message[] {
    if (!(payload instanceof Uint8Array)) throw new Rejection(grpc.status.INVALID_ARGUMENT, 'payload is not bytes');
    if (payload.length > this.maxMessageBytes) {
      throw new Rejection(
        grpc.status.RESOURCE_EXHAUSTED,
        `batch of ${payload.length} bytes exceeds maxMessageBytes ${this.maxMessageBytes}`,
      );
    }
    let msgs: Message[];
    try {
      msgs = decodeMessages(payload);
    } catch (err) {
      throw new Rejection(grpc.status.INVALID_ARGUMENT, `malformed payload: ${errorText(err)}`);
    }
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (m.from !== from || m.to !== this.id) {
        throw new Rejection(
          grpc.status.INVALID_ARGUMENT,
          `messages[${i}] is from ${m.from} to ${m.to}, the batch from ${from} to ${this.id}`,
        );
      }
    }
    return msgs;
  }

  private deliver(msgs: Message[]): void {
    if (msgs.length === 0 || this.stopped) return;
    try {
      this.onMessages(msgs);
    } catch (err) {
      this.logger.warn(`raft transport: onMessages threw: ${errorText(err)}`);
    }
  }

  private handleStream(call: grpc.ServerReadableStream<WireBatch, object>, cb: grpc.sendUnaryData<object>): void {
    let peer: NodeId = 0;
    let done = false;
    const finish = (rej: Rejection | null): void => {
      if (done) return;
      done = true;
      if (rej === null) cb(null, {});
      else cb({ code: rej.code, details: rej.message });
    };
    call.on('error', ignore);
    // Response headers right away: tells the dialer that its stream was accepted.
    call.sendMetadata(new grpc.Metadata());
    call.on('data', (b: WireBatch) => {
      if (done || this.stopped) return;
      try {
        const from = this.checkEnvelope(b, peer);
        const msgs = this.checkPayload(b.payload, from);
        peer = from;
        this.peerHeard(from);
        this.deliver(msgs);
      } catch (err) {
        const rej = err instanceof Rejection ? err : new Rejection(grpc.status.INTERNAL, errorText(err));
        this.warnLimited(
          `in:${String(b?.from)}:${rej.message.slice(0, 24)}`,
          `raft transport: rejecting stream from ${call.getPeer()} (claims node ${String(b?.from)}): ${rej.message}`,
        );
        finish(rej);
      }
    });
    call.on('end', () => finish(null));
  }

  private handleSnapshot(call: grpc.ServerReadableStream<WireChunk, object>, cb: grpc.sendUnaryData<object>): void {
    let peer: NodeId = 0;
    let done = false;
    let snap: SnapMsg | null = null;
    let buf: Uint8Array = EMPTY;
    let received = 0;
    let crc = 0;
    let lastSeen = false;
    let expectedCrc = 0;
    const finish = (rej: Rejection | null): void => {
      if (done) return;
      done = true;
      buf = EMPTY;
      if (rej === null) {
        cb(null, {});
        return;
      }
      this.warnLimited(
        `snap:${peer}:${rej.message.slice(0, 24)}`,
        `raft transport: rejecting snapshot from ${call.getPeer()} (node ${peer || '?'}): ${rej.message}`,
      );
      cb({ code: rej.code, details: rej.message });
    };
    const invalid = (why: string): Rejection => new Rejection(grpc.status.INVALID_ARGUMENT, why);
    call.on('error', ignore);
    call.on('data', (c: WireChunk) => {
      if (done || this.stopped) return;
      try {
        peer = this.checkEnvelope(c, peer);
        if (snap === null) {
          if (c.header.length === 0) throw invalid('first chunk carries no header');
          const msgs = this.checkPayload(c.header, peer);
          const m = msgs[0];
          if (msgs.length !== 1 || m === undefined || m.type !== 'snap') {
            throw invalid('header is not exactly one snap message');
          }
          if (m.snapshot.data.length !== 0) throw invalid('header carries snapshot data');
          const total = c.total_size;
          if (!Number.isSafeInteger(total) || total < 0 || total > bufferConstants.MAX_LENGTH) {
            throw invalid(`bad total_size ${total}`);
          }
          snap = m;
          buf = new Uint8Array(total);
        } else if (c.header.length !== 0) {
          throw invalid('header repeated after the first chunk');
        }
        if (lastSeen) throw invalid('chunk after the last one');
        if (c.offset !== received) throw invalid(`chunk at offset ${c.offset}, expected ${received}`);
        if (received + c.data.length > buf.length) {
          throw invalid(`more data than the announced ${buf.length} bytes`);
        }
        buf.set(c.data, received);
        crc = crc32(c.data, crc);
        received += c.data.length;
        if (c.last) {
          lastSeen = true;
          expectedCrc = c.crc32;
        }
      } catch (err) {
        finish(err instanceof Rejection ? err : new Rejection(grpc.status.INTERNAL, errorText(err)));
      }
    });
    call.on('end', () => {
      if (done || this.stopped) return;
      if (snap === null) return finish(invalid('empty snapshot stream'));
      if (!lastSeen) return finish(invalid('stream ended before the last chunk'));
      if (received !== buf.length) {
        return finish(new Rejection(grpc.status.DATA_LOSS, `received ${received} of ${buf.length} bytes`));
      }
      if (crc !== expectedCrc) {
        return finish(new Rejection(grpc.status.DATA_LOSS, `crc32 ${crc} does not match the sender's ${expectedCrc}`));
      }
      const s: SnapMsg = snap;
      const complete: SnapMsg = { ...s, snapshot: { meta: s.snapshot.meta, data: buf } };
      this.logger.info(
        `raft transport: received snapshot at index ${s.snapshot.meta.index} (${buf.length} bytes) from peer ${peer}`,
      );
      this.deliver([complete]);
      finish(null);
    });
  }

  // -------------------------------------------------------------------------------------
  // Callbacks and logging

  private reportUnreachable(id: NodeId): void {
    if (this.stopped) return;
    this.pendingUnreachable.add(id);
    this.scheduleDeferred();
  }

  private reportSnapshotStatus(id: NodeId, ok: boolean): void {
    if (this.stopped) return;
    this.pendingSnapshotStatus.push([id, ok]);
    this.scheduleDeferred();
  }

  private scheduleDeferred(): void {
    if (this.deferred !== null) return;
    this.deferred = setImmediate(() => {
      this.deferred = null;
      if (this.stopped) return;
      const unreachable = [...this.pendingUnreachable];
      this.pendingUnreachable.clear();
      const statuses = this.pendingSnapshotStatus;
      this.pendingSnapshotStatus = [];
      for (const id of unreachable) {
        try {
          this.onUnreachable(id);
        } catch (err) {
          this.logger.warn(`raft transport: onUnreachable threw: ${errorText(err)}`);
        }
      }
      for (const [id, ok] of statuses) {
        try {
          this.onSnapshotStatus(id, ok);
        } catch (err) {
          this.logger.warn(`raft transport: onSnapshotStatus threw: ${errorText(err)}`);
        }
      }
    });
  }

  /** Log a warning at most once per WARN_INTERVAL_MS per key (dead peers, floods). */
  private warnLimited(key: string, msg: string): void {
    const now = Date.now();
    const last = this.lastWarn.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return;
    if (this.lastWarn.size > 1000) this.lastWarn.clear();
    this.lastWarn.set(key, now);
    this.logger.warn(msg);
  }
}

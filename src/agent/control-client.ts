/**
 * The agent's client of the berth.v1 Agents service. Any replica serves Register and the
 * Assignments stream; Heartbeat and ReportStatus must reach the leader, and a replica that
 * is not the leader answers UNAVAILABLE with trailer `berth-leader: host:port` when it knows
 * who is — the client then calls that address (it may be outside the configured list). On
 * failures it moves round the replicas with exponential back-off and jitter (injected random,
 * so that a fleet of agents does not reconnect in lock-step and tests stay deterministic).
 */
import * as grpc from '@grpc/grpc-js';
import { sleep, systemClock, type Clock } from './clock.ts';
import {
  serviceClient,
  type AssignmentBatch,
  type AssignmentsRequest,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RegisterResponse,
  type ReportStatusRequest,
  type ReportStatusResponse,
} from './proto.ts';

export class ControlCallError extends Error {
  override name = 'ControlCallError';
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly endpoint: string,
    /** The `berth-leader` trailer, when the replica named the leader. */
    readonly leaderHint?: string,
  ) {
    super(message);
  }
  get codeName(): string {
    return grpc.status[this.code] ?? String(this.code);
  }
}

export interface ControlClientOptions {
  /** host:port of each replica's API. */
  endpoints: string[];
  clock?: Clock;
  /** Uniform in [0, 1); used for back-off jitter. */
  random?: () => number;
  /** Deadline of one call to one replica (default 10 s). */
  callTimeoutMs?: number;
  /** Back-off between rounds of failed attempts (default 200 ms doubling to 10 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

type Stub = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.enable_channelz': 0,
  // A replica that vanishes without closing the connection (partition, power loss) must not
  // leave the Assignments stream hanging: ping while calls are open.
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // Reconnects are paced by our own back-off; keep grpc's short so a replica that is back is
  // found promptly.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

/**
 * Runs fn without capturing stack traces. grpc-js records the caller's stack at every call
 * and, for every call that fails, builds two errors and formats both stacks — source-mapped
 * when running under tsx, which is costly. The agent only reads an error's code, details and
 * trailers, so it skips all of that: a fleet of hollow agents sees thousands of failed calls
 * at each election (and every stream cancelled at shutdown).
 */
function withoutStacks<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Delivers each call's final status with stack capture off (see withoutStacks). */
const statusWithoutStacks: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, _listener, next) {
      next(metadata, {
        onReceiveStatus(st, nextStatus) {
          withoutStacks(() => nextStatus(st));
        },
      });
    },
  });

/** A host:port hint (the trailer may hold a bare replica id from older servers: ignored). */
function parseHint(md: grpc.Metadata | undefined): string | undefined {
  const v = md?.get('berth-leader')[0];
  const s = typeof v === 'string' ? v.trim() : Buffer.isBuffer(v) ? v.toString().trim() : '';
  return /^\S+:\d+$/.test(s) ? s : undefined;
}

export interface AssignmentsHandlers {
  onBatch(batch: AssignmentBatch): void;
  /** The stream ended; `err` undefined when the server closed it cleanly. */
  onEnd(err: ControlCallError | undefined): void;
}

export class ControlClient {
  readonly endpoints: string[];
  private readonly stubs = new Map<string, Stub>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly callTimeoutMs: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private current = 0;
  /** The leader's address when known (from a hint, or the replica that last answered a leader call). */
  private leader: string | undefined;
  private closed = false;
  private readonly closing = new AbortController();

  constructor(opts: ControlClientOptions) {
    const eps = opts.endpoints.map((e) => e.trim()).filter(Boolean);
    if (eps.length === 0) throw new Error('no control-plane endpoints given');
    this.endpoints = [...new Set(eps)];
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.baseMs = opts.backoffBaseMs ?? 200;
    this.maxMs = opts.backoffMaxMs ?? 10_000;
    // Start at a random replica so a fleet spreads over them.
    this.current = Math.floor(this.random() * this.endpoints.length) % this.endpoints.length;
  }

  /** The replica Register and Assignments go to next. */
  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  get knownLeader(): string | undefined {
    return this.leader;
  }

  /** Exponential back-off with "equal jitter": half fixed, half random, capped. */
  backoffMs(attempt: number): number {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(30, Math.max(0, attempt)));
    return Math.round(exp / 2 + (exp / 2) * this.random());
  }

  /** Moves Register/Assignments to the next replica (after a failure there). */
  rotate(): void {
    this.current = (this.current + 1) % this.endpoints.length;
  }

  private stub(address: string): Stub {
    let s = this.stubs.get(address);
    if (!s) {
      const Agents = serviceClient('Agents');
      // A copy: grpc-js deletes `interceptors` from the options it is given.
      s = new Agents(address, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, interceptors: [statusWithoutStacks] }) as unknown as Stub;
      this.stubs.set(address, s);
    }
    return s;
  }

  private once<T>(address: string, method: string, req: unknown): Promise<T> {
    const stub = this.stub(address);
    return new Promise<T>((resolve, reject) => {
      withoutStacks(() =>
        stub[method]!(req, { deadline: new Date(Date.now() + this.callTimeoutMs) }, (err: grpc.ServiceError | null, res: T) => {
          if (err) reject(new ControlCallError(err.code, err.details || err.message, address, parseHint(err.metadata)));
          else resolve(res);
        }),
      );
    });
  }

  /**
   * One logical call with retries: UNAVAILABLE (and a per-replica deadline) move on — to the
   * hinted leader when there is a hint, else to the next replica — pausing with back-off after
   * each full round, for at most `attempts` tries. Other errors are the answer.
   */
  private async call<T>(method: string, req: unknown, toLeader: boolean, attempts: number): Promise<T> {
    let last: ControlCallError | undefined;
    let sinceRound = 0;
    let round = 0;
    for (let i = 0; i < attempts && !this.closed; i++) {
      const target = toLeader && this.leader ? this.leader : this.endpoint;
      try {
        const res = await this.once<T>(target, method, req);
        if (toLeader) this.leader = target;
        return res;
      } catch (e) {
        last = e as ControlCallError;
        if (last.code !== grpc.status.UNAVAILABLE && last.code !== grpc.status.DEADLINE_EXCEEDED) throw last;
        if (toLeader && last.leaderHint && last.leaderHint !== target) {
          this.leader = last.leaderHint;
          continue; // go straight to the leader named
        }
        if (target === this.leader) this.leader = undefined;
        else this.rotate();
        if (++sinceRound >= this.endpoints.length) {
          sinceRound = 0;
          await sleep(this.clock, this.backoffMs(round++), this.closing.signal);
        }
      }
    }
    throw last ?? new ControlCallError(grpc.status.CANCELLED, 'client closed', '');
  }

  register(nodeJson: string, attempts = 3): Promise<RegisterResponse> {
    // Registration writes the Node: it goes to the leader when one is known, like heartbeats.
    return this.call<RegisterResponse>('Register', { node_json: nodeJson }, true, attempts);
  }

  heartbeat(req: HeartbeatRequest, attempts = 3): Promise<HeartbeatResponse> {
    return this.call<HeartbeatResponse>('Heartbeat', req, true, attempts);
  }

  reportStatus(req: ReportStatusRequest, attempts = 3): Promise<ReportStatusResponse> {
    return this.call<ReportStatusResponse>('ReportStatus', req, true, attempts);
  }

  /** Opens the Assignments stream on the current replica. Returns a cancel function. */
  assignments(req: AssignmentsRequest, h: AssignmentsHandlers): () => void {
    const address = this.endpoint;
    const stream = withoutStacks(() => this.stub(address).Assignments!(req) as grpc.ClientReadableStream<AssignmentBatch>);
    let ended = false;
    const end = (e: ControlCallError | undefined) => {
      if (ended) return;
      ended = true;
      h.onEnd(e);
    };
    stream.on('data', (b: AssignmentBatch) => {
      if (!ended) h.onBatch(b);
    });
    stream.on('error', (e: grpc.ServiceError) => end(new ControlCallError(e.code, e.details || e.message, address, parseHint(e.metadata))));
    stream.on('end', () => end(undefined));
    return () => {
      stream.cancel();
      end(undefined);
    };
  }

  close(): void {
    this.closed = true;
    this.closing.abort();
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
  }
}

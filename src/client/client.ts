/**
 * A gRPC client of the berth.v1 API with failover between endpoints: any replica takes
 * any call, so a call that finds a replica unavailable moves on to the next one (writes
 * only when they certainly did not happen).
 */
import * as grpc from '@grpc/grpc-js';
import { fromWire, toWire, type PlainObject, type WireObject } from '../server/convert.ts';
import { loadApi } from '../server/service.ts';

export type { PlainObject };

export class ApiCallError extends Error {
  override name = 'ApiCallError';
  constructor(
    readonly code: grpc.status,
    message: string,
    /** For INVALID_ARGUMENT: every field error. */
    readonly fieldErrors: { field: string; type: string; detail: string }[] = [],
    readonly endpoint = '',
  ) {
    super(message);
  }
  get codeName(): string {
    return grpc.status[this.code] ?? String(this.code);
  }
}

export interface ClientOptions {
  /** host:port of each replica's API. */
  endpoints: string[];
  /** Per-call deadline in ms (default 15 s). */
  timeoutMs?: number;
}

export interface WatchEventOut {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: PlainObject | undefined;
  resourceVersion: string;
}

export interface LogsOptions {
  /** Empty: the pod's only container. */
  container?: string;
  follow?: boolean;
  /** Last N lines; negative or absent: all. */
  tailLines?: number;
  previous?: boolean;
  /** Only lines newer than this many seconds; 0 or absent: no limit. */
  sinceSeconds?: number;
  timestamps?: boolean;
}

export interface UsageOut {
  namespace: string;
  name: string;
  cpuMillicores: number;
  memoryBytes: number;
  containers: { name: string; cpuMillicores: number; memoryBytes: number }[];
  timestampMs: number;
  /** Nodes only. */
  cpuAllocatableMillicores: number;
  memoryAllocatableBytes: number;
}

export interface ClusterStatus {
  id: number;
  role: string;
  term: number;
  leader: number;
  leader_api_address: string;
  commit_index: number;
  applied_index: number;
  last_index: number;
  members: { id: number; peer_address: string; api_address: string; voter: boolean; leader: boolean; match_index: number; lag: number; progress_state: string; active: boolean }[];
  version: string;
  cluster_id: string;
}

/** berth.v1.WatchEvent as decoded: one event, or (batched) several in `events`. */
interface WireWatchEvent {
  type: string;
  object: WireObject | null;
  resource_version: string;
  events?: WireWatchEvent[];
}

type Stub = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

let pkgCache: grpc.GrpcObject | undefined;

export class BerthClient {
  private readonly objects: Stub[];
  private readonly cluster: Stub[];
  private readonly pods: Stub[];
  private current = 0;
  readonly endpoints: string[];
  private readonly timeoutMs: number;

  constructor(opts: ClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('no API endpoints given');
    pkgCache ??= loadApi();
    const Objects = pkgCache.Objects as grpc.ServiceClientConstructor;
    const Cluster = pkgCache.Cluster as grpc.ServiceClientConstructor;
    const options = { 'grpc.max_receive_message_length': 256 * 1024 * 1024, 'grpc.max_send_message_length': 16 * 1024 * 1024, 'grpc.enable_channelz': 0 };
    this.endpoints = [...opts.endpoints];
    this.objects = this.endpoints.map((e) => new Objects(e, grpc.credentials.createInsecure(), options) as unknown as Stub);
    this.cluster = this.endpoints.map((e) => new Cluster(e, grpc.credentials.createInsecure(), options) as unknown as Stub);
    const Pods = pkgCache.Pods as grpc.ServiceClientConstructor;
    this.pods = this.endpoints.map((e) => new Pods(e, grpc.credentials.createInsecure(), options) as unknown as Stub);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** The endpoint calls go to now. */
  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  close(): void {
    for (const c of [...this.objects, ...this.cluster, ...this.pods]) c.close();
  }

  // Objects ------------------------------------------------------------------------------

  async create(obj: PlainObject, dryRun = false): Promise<PlainObject> {
    return fromWire(await this.unary<WireObject>('objects', 'Create', { object: toWire(obj), options: { dry_run: dryRun } }, false));
  }

  async update(obj: PlainObject, dryRun = false): Promise<PlainObject> {
    return fromWire(await this.unary<WireObject>('objects', 'Update', { object: toWire(obj), options: { dry_run: dryRun } }, false));
  }

  async updateStatus(obj: PlainObject): Promise<PlainObject> {
    return fromWire(await this.unary<WireObject>('objects', 'UpdateStatus', { object: toWire(obj) }, false));
  }

  async apply(obj: PlainObject, dryRun = false): Promise<{ object: PlainObject; outcome: string }> {
    const r = await this.unary<{ object: WireObject; outcome: string }>('objects', 'Apply', { object: toWire(obj), options: { dry_run: dryRun } }, false);
    return { object: fromWire(r.object), outcome: r.outcome };
  }

  async delete(
    kind: string,
    namespace: string,
    name: string,
    opts: { gracePeriodSeconds?: number; preconditionUid?: string; preconditionResourceVersion?: string; propagationPolicy?: string; dryRun?: boolean } = {},
  ): Promise<PlainObject> {
    const req = {
      ref: { kind, namespace, name },
      precondition_uid: opts.preconditionUid ?? '',
      precondition_resource_version: opts.preconditionResourceVersion ?? '',
      ...(opts.gracePeriodSeconds !== undefined ? { grace_period_seconds: opts.gracePeriodSeconds } : {}),
      propagation_policy: opts.propagationPolicy ?? '',
      options: { dry_run: Boolean(opts.dryRun) },
    };
    return fromWire(await this.unary<WireObject>('objects', 'Delete', req, false));
  }

  async get(kind: string, namespace: string, name: string, serializable = false): Promise<PlainObject> {
    return fromWire(await this.unary<WireObject>('objects', 'Get', { ref: { kind, namespace, name }, serializable }, true));
  }

  async list(
    kind: string,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string; serializable?: boolean } = {},
  ): Promise<{ items: PlainObject[]; resourceVersion: string; continue: string }> {
    const r = await this.unary<{ items: WireObject[]; resource_version: string; continue: string }>(
      'objects',
      'List',
      {
        kind,
        namespace: opts.namespace ?? '',
        label_selector: opts.labelSelector ?? '',
        field_selector: opts.fieldSelector ?? '',
        limit: opts.limit ?? 0,
        continue: opts.continue ?? '',
        serializable: Boolean(opts.serializable),
      },
      true,
    );
    return { items: r.items.map((w) => fromWire(w)), resourceVersion: r.resource_version, continue: r.continue };
  }

  /**
   * Watch from `resourceVersion` ('' = current state as ADDED events, then changes).
   * Returns a cancel function; `onError` gets the status that ended the stream.
   */
  watch(
    kind: string,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; resourceVersion?: string; allowBookmarks?: boolean },
    onEvent: (ev: WatchEventOut) => void,
    onEnd: (err: ApiCallError | undefined) => void,
  ): () => void {
    const stub = this.objects[this.current]!;
    const endpoint = this.endpoint;
    const stream = stub.Watch({
      kind,
      namespace: opts.namespace ?? '',
      label_selector: opts.labelSelector ?? '',
      field_selector: opts.fieldSelector ?? '',
      resource_version: opts.resourceVersion ?? '',
      allow_bookmarks: Boolean(opts.allowBookmarks),
      // Several events may come in one message (WatchEvent.events), in order.
      allow_batches: true,
    }) as grpc.ClientReadableStream<WireWatchEvent>;
    let ended = false;
    const end = (e: ApiCallError | undefined) => {
      if (ended) return;
      ended = true;
      onEnd(e);
    };
    const deliver = (ev: WireWatchEvent) => {
      onEvent({ type: ev.type as WatchEventOut['type'], object: ev.object ? fromWire(ev.object) : undefined, resourceVersion: ev.resource_version });
    };
    stream.on('data', (ev: WireWatchEvent) => {
      if (ev.events && ev.events.length > 0) {
        for (const e of ev.events) {
          if (ended) return;
          deliver(e);
        }
      } else deliver(ev);
    });
    stream.on('error', (e: grpc.ServiceError) => {
      if (e.code === grpc.status.CANCELLED) end(undefined);
      else {
        this.current = (this.current + 1) % this.endpoints.length;
        end(toCallError(e, endpoint));
      }
    });
    stream.on('end', () => end(undefined));
    return () => {
      ended = true;
      stream.cancel();
    };
  }

  // Pods ---------------------------------------------------------------------------------

  /**
   * Stream a container's log: `onData` gets each chunk. Resolves when the log ends (at
   * once without `follow`), rejects with ApiCallError. A replica that cannot be reached
   * before anything arrived is skipped for the next one. `cancel()` stops following.
   */
  logs(namespace: string, pod: string, opts: LogsOptions, onData: (chunk: Buffer) => void): { done: Promise<void>; cancel: () => void } {
    const req = {
      namespace,
      pod,
      container: opts.container ?? '',
      follow: Boolean(opts.follow),
      tail_lines: opts.tailLines ?? -1,
      previous: Boolean(opts.previous),
      since_seconds: opts.sinceSeconds ?? 0,
      timestamps: Boolean(opts.timestamps),
    };
    let stream: grpc.ClientReadableStream<{ data: Buffer }> | undefined;
    let cancelled = false;
    const n = this.endpoints.length;
    const done = new Promise<void>((resolve, reject) => {
      const attempt = (tries: number) => {
        const i = this.current;
        const endpoint = this.endpoints[i]!;
        let got = false;
        const s = this.pods[i]!.Logs(req) as grpc.ClientReadableStream<{ data: Buffer }>;
        stream = s;
        s.on('data', (m: { data: Buffer }) => {
          got = true;
          onData(Buffer.from(m.data));
        });
        s.on('end', () => resolve());
        s.on('error', (e: grpc.ServiceError) => {
          if (cancelled || e.code === grpc.status.CANCELLED) return resolve();
          const err = toCallError(e, endpoint);
          if (!got && err.code === grpc.status.UNAVAILABLE && isConnectionFailure(err.message) && tries + 1 < n) {
            this.current = (i + 1) % n;
            attempt(tries + 1);
            return;
          }
          reject(err);
        });
      };
      attempt(0);
    });
    return {
      done,
      cancel: () => {
        cancelled = true;
        stream?.cancel();
      },
    };
  }

  /** Usage of nodes or pods, as the leader last heard it from the agents. */
  async top(kind: 'nodes' | 'pods', opts: { namespace?: string; allNamespaces?: boolean; labelSelector?: string } = {}): Promise<UsageOut[]> {
    const r = await this.unary<{ items: { namespace: string; name: string; cpu_millicores: number; memory_bytes: number; containers: { name: string; cpu_millicores: number; memory_bytes: number }[]; timestamp_ms: number; cpu_allocatable_millicores: number; memory_allocatable_bytes: number }[] }>(
      'pods',
      'Top',
      { kind, namespace: opts.namespace ?? '', all_namespaces: Boolean(opts.allNamespaces), label_selector: opts.labelSelector ?? '' },
      true,
    );
    return r.items.map((u) => ({
      namespace: u.namespace,
      name: u.name,
      cpuMillicores: Number(u.cpu_millicores),
      memoryBytes: Number(u.memory_bytes),
      containers: (u.containers ?? []).map((c) => ({ name: c.name, cpuMillicores: Number(c.cpu_millicores), memoryBytes: Number(c.memory_bytes) })),
      timestampMs: Number(u.timestamp_ms),
      cpuAllocatableMillicores: Number(u.cpu_allocatable_millicores),
      memoryAllocatableBytes: Number(u.memory_allocatable_bytes),
    }));
  }

  // Cluster ------------------------------------------------------------------------------

  status(endpoint?: number): Promise<ClusterStatus> {
    return this.unary<ClusterStatus>('cluster', 'Status', {}, true, endpoint);
  }

  async addMember(id: number, peerAddress: string, learner = false): Promise<ClusterStatus> {
    return (await this.unary<{ status: ClusterStatus }>('cluster', 'AddMember', { id, peer_address: peerAddress, learner }, false)).status;
  }

  async removeMember(id: number): Promise<ClusterStatus> {
    return (await this.unary<{ status: ClusterStatus }>('cluster', 'RemoveMember', { id }, false)).status;
  }

  async transferLeader(to: number): Promise<ClusterStatus> {
    return (await this.unary<{ status: ClusterStatus }>('cluster', 'TransferLeader', { to }, false)).status;
  }

  // Plumbing -----------------------------------------------------------------------------

  /**
   * One call with failover: on UNAVAILABLE, try the next endpoint — always for reads,
   * for writes only when the write certainly did not happen (no connection, no leader).
   */
  private async unary<T>(service: 'objects' | 'cluster' | 'pods', method: string, req: unknown, idempotent: boolean, only?: number): Promise<T> {
    const n = this.endpoints.length;
    const deadline = Date.now() + this.timeoutMs;
    let last: ApiCallError | undefined;
    // A round in which every endpoint refused the connection ends the call (the cluster
    // is down: fail fast, as kubectl does); a replica that answered "no leader yet" means an
    // election is under way, so keep trying until the deadline.
    let reachedInRound = false;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const i = only ?? this.current;
      const stub = (service === 'objects' ? this.objects : service === 'pods' ? this.pods : this.cluster)[i]!;
      try {
        return await new Promise<T>((resolve, reject) => {
          stub[method]!(req, { deadline: new Date(deadline) }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
        });
      } catch (e) {
        last = toCallError(e as grpc.ServiceError, this.endpoints[i]!);
        // A replica that swallowed a call until its deadline (paused, cut off, overloaded)
        // is not asked first again: the next call starts at the next replica. The call
        // itself stays failed (its outcome is unknown).
        if (only === undefined && last.code === grpc.status.DEADLINE_EXCEEDED) this.current = (i + 1) % n;
        if (only !== undefined || last.code !== grpc.status.UNAVAILABLE) throw last;
        if (!idempotent && mayHaveHappened(last.message)) {
          // The connection broke under the call: later calls try the next replica.
          if (!/outcome is unknown/.test(last.message)) this.current = (i + 1) % n;
          throw last;
        }
        if (!isConnectionFailure(last.message)) reachedInRound = true;
        // A leader-only call names the leader's API address: go there next.
        const hint = (e as grpc.ServiceError).metadata?.get('berth-leader')?.[0];
        const hinted = typeof hint === 'string' && hint !== '' ? this.endpoints.indexOf(hint) : -1;
        this.current = hinted >= 0 && hinted !== i ? hinted : (i + 1) % n;
        if (attempt % n === n - 1) {
          if (!reachedInRound && attempt >= n * 2 - 1) break;
          reachedInRound = false;
          await new Promise((r) => setTimeout(r, Math.min(500, 50 * (1 + attempt / n))));
        }
      }
    }
    throw last ?? new ApiCallError(grpc.status.DEADLINE_EXCEEDED, 'deadline exceeded');
  }
}

/**
 * Whether a write that failed with UNAVAILABLE may still have happened, so that sending it
 * again could apply it twice: the server says its outcome is unknown, or the connection
 * broke after the call went out (the replica died mid-call). A call that never had a
 * connection, or that the server refused unread, certainly did not happen.
 */
/** The replica could not be reached at all (nothing was sent). */
function isConnectionFailure(message: string): boolean {
  return /No connection established|ECONNREFUSED|connect E|Failed to connect|Name resolution failed/i.test(message);
}

function mayHaveHappened(message: string): boolean {
  if (/^(\w+: )?No connection established|^Stream refused by server|^Channel closed before call started/.test(message)) return false;
  return /outcome is unknown|Connection dropped|ECONNRESET|ETIMEDOUT|EPIPE|Write error|Write failed/.test(message);
}

function toCallError(e: grpc.ServiceError, endpoint: string): ApiCallError {
  let fields: { field: string; type: string; detail: string }[] = [];
  const raw = e.metadata?.get('berth-field-errors')?.[0];
  if (typeof raw === 'string') {
    try {
      fields = JSON.parse(raw);
    } catch {
      fields = [];
    }
  }
  return new ApiCallError(e.code ?? grpc.status.UNKNOWN, e.details || e.message, fields, endpoint);
}

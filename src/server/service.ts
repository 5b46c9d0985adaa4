/**
 * The gRPC face of a replica: berth.v1.Objects and berth.v1.Cluster. Converts between
 * wire messages and plain objects, honours deadlines, maps errors to status codes.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { Replica } from '../raft/index.ts';
import type { WatchEvent, WatchHandle } from '../store/index.ts';
import { encodeListResponse, encodeObjectMessage, encodeWatchBatch, encodeWatchEvent, fromWire, toWire, WireFormatError, type PlainObject, type WireObject } from './convert.ts';
import { ApiError, invalidArgument, toServiceError } from './errors.ts';
import type { ObjectsApi } from './objects.ts';

export const API_PROTO = fileURLToPath(new URL('../../proto/berth/v1/api.proto', import.meta.url));
export const AGENT_PROTO = fileURLToPath(new URL('../../proto/berth/v1/agent.proto', import.meta.url));
export const VERSION = '0.1.0';

export const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The berth.v1 package as a grpc-js object (services and client constructors), agent API included. */
export function loadApi(): grpc.GrpcObject {
  const def = protoLoader.loadSync([API_PROTO, AGENT_PROTO], PROTO_OPTIONS);
  return (grpc.loadPackageDefinition(def).berth as grpc.GrpcObject).v1 as grpc.GrpcObject;
}

/** Wire events buffered per watcher before it is cut off as too slow. */
const MAX_WATCH_BACKLOG = 20_000;
const DEFAULT_DEADLINE_MS = 10_000;

export interface ServiceDeps {
  api: ObjectsApi;
  replica: Replica;
  clusterId: string;
  apiAddress: () => string;
  /** Another member's API address when known ('' otherwise). */
  memberApiAddress?: (id: number) => string;
}

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : typeof d === 'number' && Number.isFinite(d) ? d : Infinity;
  return Math.min(ms, Date.now() + DEFAULT_DEADLINE_MS);
}

function unary<Req, Res>(fn: (req: Req, deadline: number) => Promise<Res>): Unary<Req, Res> {
  return (call, callback) => {
    let req: Req;
    try {
      req = call.request;
    } catch (e) {
      callback(toServiceError(invalidArgument((e as Error).message)) as grpc.ServiceError);
      return;
    }
    fn(req, deadlineOf(call)).then(
      (res) => callback(null, res),
      (e) => callback(toServiceError(e instanceof WireFormatError ? invalidArgument(e.message) : e) as grpc.ServiceError),
    );
  };
}

interface ObjectReq {
  object?: WireObject;
  options?: { dry_run?: boolean };
}

interface RefReq {
  ref?: { kind: string; namespace: string; name: string };
}

export function objectsService(d: ServiceDeps): grpc.UntypedServiceImplementation {
  const { api } = d;
  return {
    Create: unary<ObjectReq, WireObject>(async (req, deadline) =>
      toWire(await api.create(fromWire(req.object), { dryRun: Boolean(req.options?.dry_run), deadline })),
    ),
    Update: unary<ObjectReq, WireObject>(async (req, deadline) =>
      toWire(await api.update(fromWire(req.object), { dryRun: Boolean(req.options?.dry_run), deadline })),
    ),
    UpdateStatus: unary<ObjectReq, WireObject>(async (req, deadline) =>
      toWire(await api.update(fromWire(req.object), { dryRun: Boolean(req.options?.dry_run), deadline, status: true })),
    ),
    Apply: unary<ObjectReq, { object: WireObject; outcome: string }>(async (req, deadline) => {
      const r = await api.apply(fromWire(req.object), { dryRun: Boolean(req.options?.dry_run), deadline });
      return { object: toWire(r.object), outcome: r.outcome };
    }),
    Delete: unary<
      RefReq & {
        precondition_uid: string;
        precondition_resource_version: string;
        grace_period_seconds?: number | null;
        propagation_policy: string;
        options?: { dry_run?: boolean };
      },
      WireObject
    >(async (req, deadline) => {
      const ref = requireRef(req);
      return toWire(
        await api.delete(ref.kind, ref.namespace, ref.name, {
          preconditionUid: req.precondition_uid,
          preconditionResourceVersion: req.precondition_resource_version,
          ...(req.grace_period_seconds !== undefined && req.grace_period_seconds !== null ? { gracePeriodSeconds: Number(req.grace_period_seconds) } : {}),
          propagationPolicy: req.propagation_policy,
          dryRun: Boolean(req.options?.dry_run),
          deadline,
        }),
      );
    }),
    Get: unary<RefReq & { serializable: boolean }, WireObject>(async (req, deadline) => {
      const ref = requireRef(req);
      return toWire(await api.get(ref.kind, ref.namespace, ref.name, { serializable: req.serializable, deadline }));
    }),
    List: unary<
      { kind: string; namespace: string; label_selector: string; field_selector: string; limit: number; continue: string; serializable: boolean },
      Buffer
    >(async (req, deadline) => {
      if (!req.kind) throw invalidArgument('kind: Required value');
      const r = await api.list({
        kind: req.kind,
        namespace: req.namespace,
        labelSelector: req.label_selector,
        fieldSelector: req.field_selector,
        limit: Number(req.limit) || 0,
        continue: req.continue,
        serializable: req.serializable,
        deadline,
      });
      // Encoded item by item (each item's intermediate forms die young), not as one tree
      // of a whole page's wire objects.
      return encodeListResponse(r.items, r.resourceVersion, r.continue ?? '');
    }),
    Watch: (call: WatchCall) => serveWatch(d, call),
  };
}

/** A berth.v1.Objects service definition whose Watch and List also send messages already encoded (Buffers) as they are. */
export function objectsServiceDefinition(pkg: grpc.GrpcObject): grpc.ServiceDefinition {
  const def = (pkg.Objects as grpc.ServiceClientConstructor).service;
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = { ...def };
  for (const m of ['Watch', 'List']) {
    const method = def[m]!;
    const serialize = method.responseSerialize;
    out[m] = { ...method, responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : serialize(v)) };
  }
  return out as grpc.ServiceDefinition;
}

type WatchCall = grpc.ServerWritableStream<
  { kind: string; namespace: string; label_selector: string; field_selector: string; resource_version: string; allow_bookmarks: boolean; allow_batches?: boolean },
  unknown
>;

/** At most this many bytes of events in one batched message (well under the clients' receive limit). */
const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * Stream a watch. Events are produced synchronously by the store (all the events of one
 * applied batch in one go); each is encoded once however many watchers get it (the
 * object's message bytes are cached per stored object), queued, and written at the end
 * of the current turn: as one message carrying them all to a client that allows batches,
 * else one message each. The stream drains respecting backpressure, and a watcher that
 * falls too far behind is cut off (RESOURCE_EXHAUSTED) so that it relists rather than
 * pins memory.
 */
function serveWatch(d: ServiceDeps, call: WatchCall): void {
  const req = call.request;
  const batches = Boolean(req.allow_batches);
  let backlog: Buffer[] = [];
  let head = 0;
  let handle: WatchHandle | undefined;
  let done = false;
  let waitingDrain = false;
  let flushQueued = false;
  const finish = (err?: Partial<grpc.ServiceError>) => {
    if (done) return;
    done = true;
    handle?.cancel();
    backlog = [];
    head = 0;
    if (err) call.emit('error', err);
    else call.end();
  };
  const onDrain = () => {
    waitingDrain = false;
    pump();
  };
  const pump = () => {
    flushQueued = false;
    while (!done && !waitingDrain && head < backlog.length) {
      let msg: Buffer;
      if (batches && backlog.length - head > 1) {
        let end = head;
        let bytes = 0;
        while (end < backlog.length && (end === head || bytes + backlog[end]!.length <= MAX_BATCH_BYTES)) bytes += backlog[end++]!.length;
        msg = end - head === 1 ? backlog[head]! : encodeWatchBatch(backlog.slice(head, end));
        head = end;
      } else {
        msg = backlog[head++]!;
      }
      if (head === backlog.length) {
        backlog = [];
        head = 0;
      }
      if (!call.write(msg)) {
        waitingDrain = true;
        call.once('drain', onDrain);
      }
    }
  };
  const onEvent = (ev: WatchEvent) => {
    if (done) return;
    if (ev.type === 'ERROR') {
      pump(); // what came before the end goes out first
      finish(toServiceError(new ApiError(grpc.status.ABORTED, `watch closed: ${(ev as { error?: Error }).error?.message ?? 'store reset'}; relist`)));
      return;
    }
    const rv = String(ev.resourceVersion);
    backlog.push(ev.type === 'BOOKMARK' ? encodeWatchEvent('BOOKMARK', undefined, rv) : encodeWatchEvent(ev.type, encodeObjectMessage(ev.object as PlainObject), rv));
    if (backlog.length - head > MAX_WATCH_BACKLOG) {
      finish(toServiceError(new ApiError(grpc.status.RESOURCE_EXHAUSTED, 'watcher is too slow: more than 20000 events behind; relist')));
      return;
    }
    if (!flushQueued && !waitingDrain) {
      flushQueued = true;
      queueMicrotask(pump);
    }
  };
  call.on('cancelled', () => finish());
  call.on('close', () => finish());
  d.api
    .watch(
      {
        kind: req.kind,
        namespace: req.namespace,
        labelSelector: req.label_selector,
        fieldSelector: req.field_selector,
        resourceVersion: req.resource_version,
        allowBookmarks: req.allow_bookmarks,
      },
      onEvent,
    )
    .then(
      (h) => {
        handle = h;
        if (done) {
          h.cancel();
          return;
        }
        // The response headers go out now rather than with the first event: the client
        // learns the watch is established (as etcd's "created" response tells it), and
        // the stream's one-time cost is paid at open, not on the first change's path.
        call.sendMetadata(new grpc.Metadata());
      },
      (e) => finish(toServiceError(e)),
    );
}

function requireRef(req: RefReq): { kind: string; namespace: string; name: string } {
  const ref = req.ref;
  if (!ref || !ref.kind) throw invalidArgument('ref.kind: Required value');
  if (!ref.name) throw invalidArgument('ref.name: Required value');
  return ref;
}

export function clusterService(d: ServiceDeps): grpc.UntypedServiceImplementation {
  const statusOf = () => {
    const s = d.replica.status();
    return {
      id: s.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      leader_api_address: s.leader === s.id ? d.apiAddress() : (d.memberApiAddress?.(s.leader) ?? ''),
      commit_index: s.commit,
      applied_index: s.applied,
      last_index: s.lastIndex,
      members: s.members.map((m) => ({
        id: m.id,
        peer_address: m.addr,
        api_address: m.id === s.id ? d.apiAddress() : (d.memberApiAddress?.(m.id) ?? ''),
        voter: m.voter,
        leader: m.id === s.leader,
        match_index: m.match,
        lag: m.lag,
        progress_state: m.state,
        active: m.active,
      })),
      version: VERSION,
      cluster_id: d.clusterId,
    };
  };
  return {
    Status: unary<unknown, unknown>(async () => statusOf()),
    AddMember: unary<{ id: number; peer_address: string; learner: boolean }, unknown>(async (req, deadline) => {
      if (!req.id || req.id <= 0) throw invalidArgument('id: Required value: a positive integer');
      if (!/^[^\s:]+:\d+$/.test(req.peer_address)) throw invalidArgument(`peer_address: Invalid value: "${req.peer_address}": expected host:port`);
      if (req.learner) await d.replica.addLearner(req.id, req.peer_address);
      else await d.replica.addVoter(req.id, req.peer_address, Math.max(1, deadline - Date.now()));
      return { status: statusOf() };
    }),
    RemoveMember: unary<{ id: number }, unknown>(async (req) => {
      if (!req.id || req.id <= 0) throw invalidArgument('id: Required value: a positive integer');
      await d.replica.removeMember(req.id);
      return { status: statusOf() };
    }),
    TransferLeader: unary<{ to: number }, unknown>(async (req, deadline) => {
      if (!req.to || req.to <= 0) throw invalidArgument('to: Required value: a positive integer');
      await d.replica.transferLeader(req.to, Math.max(1, deadline - Date.now()));
      return { status: statusOf() };
    }),
  };
}

/**
 * The control-plane side of the agent API (proto/berth/v1/agent.proto), one per replica:
 *
 *  - Agents.Register      any replica       register.ts
 *  - Agents.Heartbeat     leader only       liveness.ts (memory), node-monitor.ts (Ready)
 *  - Agents.Assignments   any replica       dispatcher.ts (one shared store watch)
 *  - Agents.ReportStatus  leader only       status-writer.ts (batched), usage.ts (memory)
 *  - Pods.Logs            any replica       logs.ts (proxied to the node's agent)
 *  - Pods.Top             leader only       usage.ts
 *
 * A follower answers leader-only calls with UNAVAILABLE and the leader's API address in
 * trailer `berth-leader` (leader-hint.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { checkSchema, isDNS1123Subdomain, parseSelector, schemaFor, tryParseQuantity, type FieldSchema } from '../../api/index.ts';
import type { Clock } from '../../controllers/types.ts';
import { ReplicaError, type NodeId, type Replica } from '../../raft/index.ts';
import { SecretCipher, type Command, type ObjectStore, type Result, type StoredObject } from '../../store/index.ts';
import { ApiError, fieldErrors, fromFailure, invalidArgument, toServiceError } from '../errors.ts';
import type { ObjectsApi } from '../objects.ts';
import type { Proposer } from '../proposer.ts';
import { AssignmentDispatcher, type AssignmentBatchOut, type Subscription } from './dispatcher.ts';
import { LeaderHints } from './leader-hint.ts';
import { Liveness } from './liveness.ts';
import { LogsProxy, type LogsRequest } from './logs.ts';
import { NodeMonitor, readyCondition } from './node-monitor.ts';
import { nodeOf } from './refs.ts';
import { parseNode, registerNode } from './register.ts';
import { StatusWriter, type StatusUpdate } from './status-writer.ts';
import { UsageStore } from './usage.ts';

export { Liveness } from './liveness.ts';
export { UsageStore } from './usage.ts';

/**
 * As Kubernetes renews node leases: every 10 s against a 40 s grace period (four chances).
 * A heartbeat is a call to the leader per node, so at 1,000 nodes a 1 s interval cost the
 * leader and the agents more than scheduling did.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
export const DEFAULT_NODE_MONITOR_GRACE_MS = 40_000;
const DEFAULT_DEADLINE_MS = 10_000;

export interface AgentsOptions {
  replica: Replica;
  store: ObjectStore;
  api: ObjectsApi;
  proposer: Proposer;
  cipher: SecretCipher | undefined;
  waitApplied(index: number): Promise<void>;
  clusterId: string;
  /** This replica's API address. */
  apiAddress(): string;
  /** Other members' API addresses (berth server --api-peers). */
  apiPeers?: ReadonlyMap<NodeId, string>;
  heartbeatIntervalMs?: number;
  nodeMonitorGracePeriodMs?: number;
  /** Pending assignment changes per stream before a slow agent is cut off. */
  maxAssignmentBacklog?: number;
  clock?: Clock;
  logger?: { debug(s: string): void; info(s: string): void; warn(s: string): void; error(s: string): void };
}

const wallClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface WireUsage {
  namespace: string;
  name: string;
  uid: string;
  containers: { name: string; cpu_millicores: number; memory_bytes: number }[];
}

interface ReportReq {
  node_name: string;
  pods: { namespace: string; name: string; uid: string; generation: number; status_json: string }[];
  usage: WireUsage[];
  node_cpu_millicores: number;
  node_memory_bytes: number;
}

interface TopReq {
  kind: string;
  namespace: string;
  all_namespaces: boolean;
  label_selector: string;
}

export class AgentsControl {
  readonly liveness: Liveness;
  readonly usage: UsageStore;
  readonly dispatcher: AssignmentDispatcher;
  readonly hints: LeaderHints;
  readonly writer: StatusWriter;
  private readonly clock: Clock;
  private readonly heartbeatMs: number;
  private readonly graceMs: number;
  private monitor: NodeMonitor | undefined;
  private logs: LogsProxy | undefined;
  /** Serialized (revealed) objects, shared by every stream that sends the same version. */
  private readonly json = new WeakMap<StoredObject, string>();

  constructor(private readonly o: AgentsOptions) {
    this.clock = o.clock ?? wallClock;
    this.heartbeatMs = o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.graceMs = o.nodeMonitorGracePeriodMs ?? DEFAULT_NODE_MONITOR_GRACE_MS;
    this.liveness = new Liveness(() => this.clock.now());
    this.usage = new UsageStore(() => this.clock.now());
    this.hints = new LeaderHints(o.replica, o.apiAddress, o.apiPeers);
    this.dispatcher = new AssignmentDispatcher({ store: o.store, ...(o.logger ? { logger: o.logger } : {}), ...(o.maxAssignmentBacklog ? { maxBacklog: o.maxAssignmentBacklog } : {}) });
    this.writer = new StatusWriter({
      propose: async (cmd, deadline): Promise<Result> => (await o.proposer.propose(cmd, deadline)).result,
      now: () => this.stamp(),
      term: () => (o.replica.isLeader() ? o.replica.status().term : undefined),
      notLeader: () => this.hints.notLeader('ReportStatus'),
    });
  }

  start(): void {
    this.dispatcher.start();
  }

  stop(): void {
    this.monitor?.stop();
    this.dispatcher.stop();
    this.logs?.close();
    this.writer.failAll(new ApiError(grpc.status.UNAVAILABLE, 'this replica is stopping'));
  }

  /** Register Agents and Pods on the replica's gRPC server. */
  addServices(server: grpc.Server, pkg: grpc.GrpcObject): void {
    const Agents = pkg.Agents as grpc.ServiceClientConstructor;
    const Pods = pkg.Pods as grpc.ServiceClientConstructor;
    this.logs = new LogsProxy(this.o.api, pkg.Node as grpc.ServiceClientConstructor);
    server.addService(Agents.service, {
      Register: unary((req: { node_json: string }, deadline) => this.register(req, deadline)),
      Heartbeat: unary((req: { node_name: string; node_uid: string }) => this.heartbeat(req)),
      Assignments: (call: grpc.ServerWritableStream<{ node_name: string; resource_version: string }, unknown>) => this.assignments(call),
      ReportStatus: unary((req: ReportReq) => this.reportStatus(req)),
    });
    const logs = this.logs;
    server.addService(Pods.service, {
      Logs: (call: grpc.ServerWritableStream<LogsRequest, { data: Buffer }>) => logs.serve(call),
      Top: unary((req: TopReq) => this.top(req)),
    });
  }

  /** Follow this replica's role: liveness and usage belong to one leadership. */
  onRole(role: string): void {
    if (role === 'leader') {
      if (this.liveness.leaderSince === undefined) {
        this.liveness.becameLeader();
        this.usage.clear();
      }
    } else if (this.liveness.leaderSince !== undefined) {
      this.liveness.lostLeadership();
      this.usage.clear();
      this.monitor?.stop();
      this.monitor = undefined;
      this.writer.failAll(this.hints.notLeader('ReportStatus'));
    }
  }

  /** Leader duties (after the leader committed in its term): the node monitor. */
  startLeaderDuties(signal: AbortSignal): void {
    if (signal.aborted) return;
    this.monitor?.stop();
    // Ready is decided in this term and written conditional on it and on the version read.
    const term = this.o.replica.status().term;
    this.monitor = new NodeMonitor({
      store: this.o.store,
      liveness: this.liveness,
      clock: this.clock,
      gracePeriodMs: this.graceMs,
      writeStatus: async (node) => {
        const m = node.metadata as { resourceVersion?: string };
        const cmd: Command = { op: 'updateStatus', object: node as StoredObject, precondition: { resourceVersion: String(m.resourceVersion ?? ''), term }, now: this.stamp() };
        const r = (await this.o.proposer.propose(cmd, Date.now() + DEFAULT_DEADLINE_MS)).result;
        if (!r.ok) throw fromFailure(r);
      },
      ...(this.o.logger ? { logger: this.o.logger } : {}),
    });
    this.monitor.start(signal);
  }

  private stamp(): string {
    return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  // -------------------------------------------------------------------------------------
  // Agents

  private async register(req: { node_json: string }, deadline: number): Promise<{ node_json: string; heartbeat_interval_ms: number; cluster_id: string }> {
    const node = parseNode(req.node_json);
    const stored = await registerNode({ api: this.o.api }, node, deadline);
    const name = String((stored.metadata as Json).name);
    if (this.o.replica.isLeader()) {
      this.liveness.beat(name);
      this.monitor?.poke();
    }
    return { node_json: JSON.stringify(stored), heartbeat_interval_ms: this.heartbeatMs, cluster_id: this.o.clusterId };
  }

  private async heartbeat(req: { node_name: string; node_uid: string }): Promise<{ heartbeat_interval_ms: number }> {
    const name = req.node_name;
    if (!name) throw invalidArgument('node_name: Required value');
    this.hints.requireLeader('Heartbeat');
    let node = this.o.store.get('Node', '', name);
    if (!node) {
      // A registration committed through another replica may not be applied here yet.
      await this.o.waitApplied(this.o.replica.status().commit);
      node = this.o.store.get('Node', '', name);
    }
    if (!node) throw new ApiError(grpc.status.NOT_FOUND, `nodes "${name}" not found: register first`);
    if (req.node_uid && req.node_uid !== node.metadata.uid) {
      throw new ApiError(grpc.status.FAILED_PRECONDITION, `node "${name}" has uid ${node.metadata.uid ?? ''}, not ${req.node_uid}: it was deleted and made again; register again`);
    }
    this.liveness.beat(name);
    if (readyCondition(node)?.status !== 'True') this.monitor?.poke();
    return { heartbeat_interval_ms: this.heartbeatMs };
  }

  private assignments(call: grpc.ServerWritableStream<{ node_name: string; resource_version: string }, unknown>): void {
    const req = call.request;
    let sub: Subscription | undefined;
    let done = false;
    const end = (err: ApiError | undefined) => {
      if (done) return;
      done = true;
      sub?.cancel();
      if (err) call.emit('error', toServiceError(err));
      else call.emit('error', toServiceError(new ApiError(grpc.status.UNAVAILABLE, 'this replica is stopping; reconnect to another')));
    };
    call.on('cancelled', () => {
      done = true;
      sub?.cancel();
    });
    call.on('close', () => {
      done = true;
      sub?.cancel();
    });
    const name = req.node_name;
    if (!name) return end(invalidArgument('node_name: Required value'));
    const bad = isDNS1123Subdomain(name);
    if (bad.length > 0) return end(invalidArgument(`node_name: Invalid value: "${name}": ${bad.join('; ')}`));
    const rv = req.resource_version ?? '';
    if (rv !== '' && !/^\d{1,16}$/.test(rv)) return end(invalidArgument(`resource_version: Invalid value: "${rv}": must be a non-negative integer`));
    // Serve from a state at least as new as the leader's commit: an agent resuming from a
    // version it got from a more advanced replica must not be served an older state.
    this.o.replica
      .readIndex(5000)
      .then((i) => this.o.waitApplied(i))
      .then(
        () => {
          if (done) return;
          sub = this.dispatcher.subscribe(name, rv, {
            send: (b) => call.write(this.toWire(b)),
            close: (err) => end(err),
          });
          call.on('drain', () => sub?.resume());
        },
        (e) => end(e instanceof ApiError ? e : new ApiError(grpc.status.UNAVAILABLE, `this replica cannot serve assignments now (${(e as Error).message}); try another`)),
      )
      .catch((e) => end(e instanceof ApiError ? e : new ApiError(grpc.status.INTERNAL, (e as Error).message)));
  }

  private toWire(b: AssignmentBatchOut): { full: boolean; resource_version: string; items: { type: string; object_json: string }[] } {
    return { full: b.full, resource_version: b.resourceVersion, items: b.items.map((it) => ({ type: it.type, object_json: this.jsonOf(it.object) })) };
  }

  private jsonOf(o: StoredObject): string {
    let s = this.json.get(o);
    if (s === undefined) {
      const cipher = this.o.cipher;
      const plain = o.kind === 'Secret' && cipher && SecretCipher.isEncrypted(o) ? cipher.decrypt(o) : o;
      s = JSON.stringify(plain);
      this.json.set(o, s);
    }
    return s;
  }

  private async reportStatus(req: ReportReq): Promise<{ ignored: string[] }> {
    const node = req.node_name;
    if (!node) throw invalidArgument('node_name: Required value');
    const reports = (req.pods ?? []).map((p, i) => {
      const at = `pods[${i}]`;
      if (!p.name) throw invalidArgument(`${at}.name: Required value`);
      if (!p.uid) throw invalidArgument(`${at}.uid: Required value`);
      let st: unknown;
      try {
        st = JSON.parse(p.status_json || '{}');
      } catch (e) {
        throw invalidArgument(`${at}.status_json: Invalid value: not JSON: ${(e as Error).message}`);
      }
      if (!isObj(st)) throw invalidArgument(`${at}.status_json: Invalid value: must be a JSON object`);
      return { at, ns: p.namespace || 'default', name: p.name, uid: p.uid, generation: Number(p.generation) || 0, status: st, size: p.status_json.length };
    });
    (req.usage ?? []).forEach((u, i) => {
      if (!u.name) throw invalidArgument(`usage[${i}].name: Required value`);
    });
    this.hints.requireLeader('ReportStatus');
    const store = this.o.store;
    const stale = (r: (typeof reports)[number]) => {
      const pod = store.get('Pod', r.ns, r.name);
      return !pod || pod.metadata.uid !== r.uid || nodeOf(pod) !== node || r.generation < (pod.metadata.generation ?? 0);
    };
    if (reports.some(stale)) {
      // The agent may be ahead of this store: a leader tells the followers an entry is
      // committed before it has applied the entry itself, and an agent can have its
      // assignments from a follower. A report is judged stale (and dropped: the agent does
      // not send it again) only against a store that has applied everything committed.
      try {
        await this.o.waitApplied(await this.o.replica.readIndex(5000));
      } catch {
        if (!this.o.replica.isLeader()) throw this.hints.notLeader('ReportStatus');
        throw new ApiError(grpc.status.UNAVAILABLE, 'cannot tell whether these pod statuses are current now; report again');
      }
    }
    const ignored: string[] = [];
    const updates: StatusUpdate[] = [];
    const keys: string[] = [];
    for (const r of reports) {
      const key = `${r.ns}/${r.name}`;
      const pod = store.get('Pod', r.ns, r.name);
      if (!pod || stale(r)) {
        ignored.push(key);
        continue;
      }
      const errs = podStatusErrors(r.status);
      if (errs.length > 0) {
        const e = fieldErrors('Pod', r.name, errs);
        throw new ApiError(grpc.status.INVALID_ARGUMENT, `${r.at}.status_json: ${e.message}`, e.trailers);
      }
      const complete = Boolean(pod.metadata.deletionTimestamp) && allStopped(pod, r.status);
      // Agents report again and again; an unchanged status costs no proposal.
      if (!complete && sameJson(pod.status, r.status)) continue;
      updates.push({ namespace: r.ns, name: r.name, uid: r.uid, status: r.status, complete, size: r.size, node });
      keys.push(key);
    }
    this.recordUsage(node, req);
    if (updates.length > 0) {
      const outcomes = await this.writer.submit(updates).catch((e: unknown) => {
        // A write lost with the leadership: tell the agent where the leader is now.
        if (!this.o.replica.isLeader() || (e instanceof ReplicaError && e.code === 'notLeader')) throw this.hints.notLeader('ReportStatus');
        throw e;
      });
      outcomes.forEach((o, i) => {
        if (o === 'dropped') ignored.push(keys[i]!);
      });
    }
    return { ignored };
  }

  private recordUsage(node: string, req: ReportReq): void {
    const pods = [];
    for (const u of req.usage ?? []) {
      const ns = u.namespace || 'default';
      const pod = this.o.store.get('Pod', ns, u.name);
      // Usage of a pod that is not (or no longer) this node's is not believed.
      if (!pod || nodeOf(pod) !== node || (u.uid && u.uid !== pod.metadata.uid)) continue;
      pods.push({
        namespace: ns,
        name: u.name,
        uid: String(pod.metadata.uid ?? ''),
        containers: (u.containers ?? []).map((c) => ({ name: c.name, cpuMillicores: Number(c.cpu_millicores) || 0, memoryBytes: Number(c.memory_bytes) || 0 })),
      });
    }
    const totals = req.node_cpu_millicores || req.node_memory_bytes ? { cpuMillicores: Number(req.node_cpu_millicores) || 0, memoryBytes: Number(req.node_memory_bytes) || 0 } : undefined;
    this.usage.record(node, totals, pods);
  }

  // -------------------------------------------------------------------------------------
  // Pods

  private async top(req: TopReq): Promise<{ items: unknown[] }> {
    const kind = (req.kind || '').toLowerCase();
    const nodes = ['nodes', 'node', 'no'].includes(kind);
    if (!nodes && !['pods', 'pod', 'po'].includes(kind)) throw invalidArgument(`kind: Unsupported value: "${req.kind}": supported values: "nodes", "pods"`);
    let sel;
    try {
      sel = req.label_selector ? parseSelector(req.label_selector) : undefined;
    } catch (e) {
      throw invalidArgument(`label_selector: ${(e as Error).message}`);
    }
    this.hints.requireLeader('Top');
    const match = (o: StoredObject) => !sel || sel.matches(o.metadata.labels ?? {});
    const items: unknown[] = [];
    if (nodes) {
      for (const n of this.o.store.list({ kind: 'Node', filter: match }).items) {
        const s = this.usage.nodeSample(n.metadata.name);
        if (!s) continue;
        const alloc = (isObj(n.status?.allocatable) ? n.status.allocatable : isObj(n.status?.capacity) ? n.status.capacity : {}) as Json;
        items.push({
          namespace: '',
          name: n.metadata.name,
          cpu_millicores: s.cpuMillicores,
          memory_bytes: s.memoryBytes,
          containers: [],
          timestamp_ms: s.timestamp,
          cpu_allocatable_millicores: Math.max(0, Math.round(tryParseQuantity(alloc.cpu)?.toMilli() ?? 0)),
          memory_allocatable_bytes: Math.max(0, Math.round(tryParseQuantity(alloc.memory)?.toBytes() ?? 0)),
        });
      }
    } else {
      const ns = req.all_namespaces ? undefined : req.namespace || 'default';
      for (const p of this.o.store.list({ kind: 'Pod', ...(ns ? { namespace: ns } : {}), filter: match }).items) {
        const s = this.usage.podSample(p.metadata.namespace ?? '', p.metadata.name);
        if (!s || s.uid !== p.metadata.uid) continue;
        items.push({
          namespace: p.metadata.namespace ?? '',
          name: p.metadata.name,
          cpu_millicores: s.containers.reduce((a, c) => a + c.cpuMillicores, 0),
          memory_bytes: s.containers.reduce((a, c) => a + c.memoryBytes, 0),
          containers: s.containers.map((c) => ({ name: c.name, cpu_millicores: c.cpuMillicores, memory_bytes: c.memoryBytes })),
          timestamp_ms: s.timestamp,
        });
      }
    }
    return { items };
  }
}

const POD_STATUS_SCHEMA: FieldSchema | undefined = schemaFor('v1', 'Pod')?.fields?.status;

/**
 * What is wrong with a reported pod status. A status report changes nothing but status,
 * and the rest of the pod (metadata, spec) is the stored one, already admitted: of
 * validateObject's checks on the pod with this status, only the schema check of `status`
 * can find anything new (Kubernetes' ValidatePodStatusUpdate likewise looks at status
 * alone). Checking just that spares the leader a walk of the whole pod per report.
 */
export function podStatusErrors(status: Json): ReturnType<typeof checkSchema>['errors'] {
  if (!POD_STATUS_SCHEMA) throw new Error('no schema for v1 Pod status');
  return checkSchema(status, POD_STATUS_SCHEMA, 'status').errors;
}

/**
 * Whether a reported status says the pod has nothing left running: it finished, or every
 * container (init ones included) is terminated or was never started.
 */
export function allStopped(pod: StoredObject, st: Json): boolean {
  if (st.phase === 'Succeeded' || st.phase === 'Failed') return true;
  const spec: Json = isObj(pod.spec) ? pod.spec : {};
  const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObj) : []);
  const byName = new Map([...list(st.containerStatuses), ...list(st.initContainerStatuses)].map((c) => [String(c.name), c]));
  const names = [...list(spec.containers), ...list(spec.initContainers)].map((c) => String(c.name));
  return names.every((n) => {
    const state = byName.get(n)?.state;
    return !isObj(state) || (!state.running && !state.waiting);
  });
}

/** Deep equality of JSON values, whatever the key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameJson(a[k], b[k]));
  }
  return false;
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : typeof d === 'number' && Number.isFinite(d) ? d : Infinity;
  return Math.min(ms, Date.now() + DEFAULT_DEADLINE_MS);
}

function unary<Req, Res>(fn: (req: Req, deadline: number) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let p: Promise<Res>;
    try {
      p = fn(call.request, deadlineOf(call as grpc.ServerUnaryCall<unknown, unknown>));
    } catch (e) {
      callback(toServiceError(e) as grpc.ServiceError);
      return;
    }
    p.then(
      (res) => callback(null, res),
      (e) => callback(toServiceError(e) as grpc.ServiceError),
    );
  };
}



/**
 * What the leader's components (scheduler and controllers) are given to work with.
 *
 * They read the local store (the leader's, which is at least as new as anything it has
 * committed) and write through the same admission path as any client, with a precondition
 * on every write that depends on what was read (ARCHITECTURE rule 3). The leader's
 * implementation adds the term it decided in to every write, so a deposed leader cannot
 * commit a stale decision. Tests use an in-memory implementation with a fake clock
 * (src/controllers/testing.ts).
 */
import type { PlainObject } from '../server/convert.ts';

export type { PlainObject };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObjectEvent {
  type: WatchEventType;
  /** The new state; for DELETED the last state. Frozen: copy before changing. */
  object: PlainObject;
  /**
   * The previous state, when the source has it. The store's watch does not carry it:
   * components that need the old state keep what the last event showed.
   */
  prev?: PlainObject;
}

export interface ListOptions {
  namespace?: string;
  /** Kubernetes label selector syntax, e.g. "app=web,tier in (a,b)". */
  labelSelector?: string;
  /** e.g. "spec.nodeName=n1". */
  fieldSelector?: string;
}

export interface DeleteOptions {
  /** Precondition: delete only this incarnation. */
  uid?: string;
  /** Precondition: delete only this version. */
  resourceVersion?: string;
  /** Pods: 0 removes at once; absent: the pod's terminationGracePeriodSeconds. */
  gracePeriodSeconds?: number;
  propagationPolicy?: 'background' | 'foreground' | 'orphan';
}

/** Why a write failed, as Kubernetes' StatusReason. */
export type WriteErrorReason = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid' | 'Unavailable' | 'Forbidden' | 'Unknown';

export class WriteError extends Error {
  override name = 'WriteError';
  constructor(
    readonly reason: WriteErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A pod binding: put pod `namespace/name` (this `uid`) on `nodeName`. The store checks,
 * when the entry applies, that the pod is still unbound and the node still has room for
 * it; a binding that no longer fits fails with Conflict and the scheduler retries.
 */
export interface Binding {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
}

export interface BindResult {
  binding: Binding;
  ok: boolean;
  reason?: WriteErrorReason;
  message?: string;
}

export interface Cluster {
  // Reads: the local store, synchronous. Objects are frozen: copy before changing.
  get(kind: string, namespace: string, name: string): PlainObject | undefined;
  list(kind: string, opts?: ListOptions): PlainObject[];
  /**
   * Live changes of `kind` after the current state (the caller lists first, then watches:
   * nothing between is missed because both are synchronous). Returns a stop function.
   */
  watch(kind: string, onEvent: (ev: ObjectEvent) => void, opts?: ListOptions): () => void;

  // Writes: resolve with the object as stored, or reject with WriteError.
  create(obj: PlainObject): Promise<PlainObject>;
  /**
   * Create many objects in one proposal (one Raft entry), each on its own: the result has
   * one item per input, the object as stored or the WriteError its create() would have
   * rejected with. Rejects only when the proposal as a whole fails (e.g. Unavailable):
   * then no object of the call may be assumed made. Optional: callers fall back to create().
   */
  createMany?(objs: PlainObject[]): Promise<(PlainObject | WriteError)[]>;
  /** Replace spec/metadata; conditional on obj.metadata.resourceVersion (required). */
  update(obj: PlainObject): Promise<PlainObject>;
  /** Replace status only; conditional on obj.metadata.resourceVersion (required). */
  updateStatus(obj: PlainObject): Promise<PlainObject>;
  /** Resolves with the object's last state (or as marked for deletion). */
  delete(kind: string, namespace: string, name: string, opts?: DeleteOptions): Promise<PlainObject>;
  /** Bind pods in one proposal; each binding succeeds or fails on its own. */
  bind(bindings: Binding[]): Promise<BindResult[]>;
}

/** Time, injected: a fake clock in tests, the wall clock on the leader. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Call fn after ms; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Records Events (Kubernetes' EventRecorder): merged by (object, reason, message) with counts. */
export interface EventRecorder {
  /** type: Normal | Warning. `object` is the involved object (kind, namespace, name, uid needed). */
  event(object: PlainObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** Cluster-wide settings for the leader's components. */
export interface ClusterConfig {
  /** Scheduler scoring: spread pods (LeastAllocated) or pack them (MostAllocated). */
  scoringStrategy: 'LeastAllocated' | 'MostAllocated';
  /** Percentage of feasible nodes to score at scale (kube-scheduler's default: adaptive, 0 = adaptive). */
  percentageOfNodesToScore: number;
  /** Default toleration seconds for not-ready/unreachable NoExecute taints. */
  defaultTolerationSeconds: number;
  /** Node heartbeat grace before NotReady (ms). */
  nodeMonitorGracePeriodMs: number;
  /** Evictions per second per zone when healthy; stops when more than unhealthyZoneThreshold of nodes are not ready. */
  evictionRate: number;
  unhealthyZoneThreshold: number;
  /** HPA downscale stabilization window (ms). */
  hpaDownscaleStabilizationMs: number;
  hpaTolerance: number;
  /** HPA sync period (ms). */
  hpaSyncPeriodMs: number;
}

export const DEFAULT_CLUSTER_CONFIG: ClusterConfig = Object.freeze({
  scoringStrategy: 'LeastAllocated',
  percentageOfNodesToScore: 0,
  defaultTolerationSeconds: 300,
  nodeMonitorGracePeriodMs: 40_000,
  evictionRate: 0.1,
  unhealthyZoneThreshold: 0.55,
  hpaDownscaleStabilizationMs: 300_000,
  hpaTolerance: 0.1,
  hpaSyncPeriodMs: 15_000,
});

/** Pod CPU/memory usage as reported by agents (kept in the leader's memory). */
export interface UsageSource {
  /** Latest sample per container of a pod, or undefined when none is known. */
  podUsage(namespace: string, name: string): { timestamp: number; containers: { name: string; cpuMillicores: number; memoryBytes: number }[] } | undefined;
}

/** Node liveness as the leader sees it (heartbeats in memory). */
export interface LivenessSource {
  /** Milliseconds since the node's last heartbeat as this leader saw it (grace applied after a leader change), or undefined if never seen. */
  silentForMs(nodeName: string): number | undefined;
}

/** Everything a controller or the scheduler is started with. */
export interface ControllerContext {
  cluster: Cluster;
  clock: Clock;
  events: EventRecorder;
  config: ClusterConfig;
  log: Logger;
  usage: UsageSource;
  liveness: LivenessSource;
  /** Aborted when leadership is lost: stop at once. */
  signal: AbortSignal;
}

/** A leader-only component. start() returns once it runs; it stops when ctx.signal aborts. */
export interface Controller {
  readonly name: string;
  start(ctx: ControllerContext): void;
}

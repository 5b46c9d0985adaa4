/**
 * The scheduler: a leader-only component that places pending pods on nodes.
 *
 * Data flow. The Pod and Node watches keep the cache (what is on each node) and the queue
 * (what waits) current. A run, scheduled with setImmediate whenever pods are active, pops
 * up to `batchSize` pods and decides each synchronously on the cache: success assumes the
 * pod on its node (so the next decision sees the room taken) and adds a binding; failure
 * records PodScheduled=False with Kubernetes' message, tries preemption, and parks the pod
 * until an event may help. The run's bindings go to the store as one proposal; bindings
 * the store refuses (its own fit check: a decision raced another) are forgotten and the
 * pods retried after a back-off. Every write carries a precondition (uid), and the leader's
 * Cluster adds its term, so a deposed leader's decisions cannot commit (ARCHITECTURE rule 3).
 */
import type { BindResult, ClusterConfig, Controller, ControllerContext, ObjectEvent, PlainObject } from '../controllers/types.ts';
import { SchedulerCache } from './cache.ts';
import { Framework, seededRandom } from './framework.ts';
import { defaultPlugins, type PluginSet } from './plugins/index.ts';
import { PodInfo, sameLabels } from './pod-info.ts';
import { findPreemption, type PreemptionResult } from './preemption.ts';
import { SchedulingQueue, type QueuedPod } from './queue.ts';
import { isTerminated } from './resources.ts';
import type { Labels } from '../api/labels.ts';

/** Pods naming one of these (or none) are ours. */
export const SCHEDULER_NAMES: readonly string[] = ['default-scheduler', 'berth-scheduler'];

export interface SchedulerOptions {
  /** Tie-breaking between equal nodes and where preemption starts looking (default: seeded, deterministic). */
  random?: () => number;
  /** Most decisions per event-loop turn; they share one binding proposal. */
  batchSize?: number;
  /** Binding proposals in flight at once. */
  maxBindsInFlight?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  schedulerNames?: readonly string[];
  /** The plugins (default: defaultPlugins of the cluster config). */
  plugins?: (config: ClusterConfig) => PluginSet;
  /**
   * Listed pods put in the cache per event-loop turn at start (default 500): a new leader
   * with 10,000 pods must not stall its loop (Raft ticks, heartbeats) for half a second.
   */
  startChunk?: number;
}

export interface SchedulerStats {
  /** Scheduling cycles run (one per pod tried). */
  attempts: number;
  /** Pods bound. */
  scheduled: number;
  /** Cycles that found no node. */
  unschedulable: number;
  /** Bindings the store refused or that failed. */
  bindFailures: number;
  /** Preemptions started (victims deleted). */
  preemptions: number;
  /** Binding proposals sent. */
  batches: number;
}

interface Decision {
  qp: QueuedPod;
  node: string;
}

interface PodMeta {
  uid: string;
  name: string;
  namespace: string;
  generation?: number;
  labels?: Labels;
  deletionTimestamp?: string;
}

interface PodSpecView {
  nodeName?: string;
  schedulerName?: string;
  schedulingGates?: unknown[];
}

interface PodCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

const metaOf = (o: PlainObject): PodMeta => (o.metadata ?? {}) as unknown as PodMeta;

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class Scheduler implements Controller {
  readonly name = 'scheduler';
  readonly stats: SchedulerStats = { attempts: 0, scheduled: 0, unschedulable: 0, bindFailures: 0, preemptions: 0, batches: 0 };
  private readonly opts: SchedulerOptions;
  private readonly random: () => number;
  private readonly batchSize: number;
  private readonly maxBindsInFlight: number;
  private readonly names: ReadonlySet<string>;
  private ctx!: ControllerContext;
  private cache!: SchedulerCache;
  private queue!: SchedulingQueue;
  private fw!: Framework;
  /** Event masks: which rejected pods an event may help (bits of filter plugins). */
  private podFreedMask = 0;
  private podAddedMask = 0;
  private started = false;
  private stopped = false;
  private pumpScheduled = false;
  private bindsInFlight = 0;
  private writesInFlight = 0;
  private unwatch: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private readonly startChunk: number;
  /**
   * While the listing is being put in the cache (over several turns): the watch events that
   * arrived meanwhile, in order, applied once the listing is in. Undefined once loaded.
   */
  private backlog: { node: boolean; ev: ObjectEvent }[] | undefined;

  constructor(opts: SchedulerOptions = {}) {
    this.opts = opts;
    this.random = opts.random ?? seededRandom(0x5eed);
    this.batchSize = Math.max(1, opts.batchSize ?? 500);
    this.maxBindsInFlight = Math.max(1, opts.maxBindsInFlight ?? 4);
    this.names = new Set(opts.schedulerNames ?? SCHEDULER_NAMES);
    this.startChunk = Math.max(1, opts.startChunk ?? 500);
  }

  start(ctx: ControllerContext): void {
    if (this.started) throw new Error('scheduler already started');
    this.started = true;
    this.ctx = ctx;
    if (ctx.signal.aborted) {
      this.stopped = true;
      return;
    }
    const plugins = (this.opts.plugins ?? defaultPlugins)(ctx.config);
    this.fw = new Framework(plugins.filters, plugins.scores, { percentageOfNodesToScore: ctx.config.percentageOfNodesToScore, random: this.random });
    this.podFreedMask = this.fw.bits('NodeResourcesFit', 'NodePorts', 'InterPodAffinity', 'PodTopologySpread');
    this.podAddedMask = this.fw.bits('InterPodAffinity', 'PodTopologySpread');
    this.cache = new SchedulerCache((ns) => (ctx.cluster.get('Namespace', '', ns)?.metadata as { labels?: Labels } | undefined)?.labels);
    this.queue = new SchedulingQueue({
      clock: ctx.clock,
      ...(this.opts.initialBackoffMs !== undefined ? { initialBackoffMs: this.opts.initialBackoffMs } : {}),
      ...(this.opts.maxBackoffMs !== undefined ? { maxBackoffMs: this.opts.maxBackoffMs } : {}),
      onActive: () => this.kick(),
    });
    ctx.signal.addEventListener('abort', () => this.stop(), { once: true });
    // List, then watch: both synchronous, so nothing falls between them. The listing goes
    // into the cache a chunk per turn; events arriving meanwhile wait in `backlog` and are
    // applied after it, in order, so the cache ends as if it had all been done at once.
    // Nothing is scheduled before (kick and idle wait for the load).
    const nodes = ctx.cluster.list('Node');
    const pods = ctx.cluster.list('Pod');
    this.backlog = [];
    this.unwatch.push(ctx.cluster.watch('Node', (ev) => (this.backlog ? this.backlog.push({ node: true, ev }) : this.onNode(ev))));
    this.unwatch.push(ctx.cluster.watch('Pod', (ev) => (this.backlog ? this.backlog.push({ node: false, ev }) : this.onPod(ev))));
    for (const n of nodes) this.cache.setNode(n);
    let i = 0;
    const load = () => {
      if (this.stopped) return;
      const end = Math.min(pods.length, i + this.startChunk);
      for (; i < end; i++) this.onPod({ type: 'ADDED', object: pods[i]! });
      if (i < pods.length) {
        setImmediate(load);
        return;
      }
      const backlog = this.backlog ?? [];
      this.backlog = undefined;
      for (const b of backlog) {
        if (b.node) this.onNode(b.ev);
        else this.onPod(b.ev);
      }
      this.kick();
      this.checkIdle();
    };
    load();
  }

  /** Whether the listing is still being put in the cache (tests). */
  get loading(): boolean {
    return this.backlog !== undefined;
  }

  /** Resolves when no pod is active and no binding or status write is in flight (pods waiting out a back-off do not count). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Pods waiting, by where they wait (tests and metrics). */
  pending(): Record<'active' | 'backoff' | 'unschedulable' | 'inFlight', number> {
    return this.queue.counts();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const u of this.unwatch) u();
    this.unwatch = [];
    this.queue.stop();
    this.checkIdle();
  }

  // ---- watches -------------------------------------------------------------------------

  private wantsScheduling(o: PlainObject): boolean {
    const meta = metaOf(o);
    const spec = (o.spec ?? {}) as PodSpecView;
    if (spec.nodeName || meta.deletionTimestamp !== undefined || isTerminated(o)) return false;
    if (spec.schedulingGates && spec.schedulingGates.length > 0) return false;
    return !spec.schedulerName || this.names.has(spec.schedulerName);
  }

  private onNode(ev: ObjectEvent): void {
    if (this.stopped) return;
    if (ev.type === 'DELETED') {
      this.cache.removeNode(String((ev.object.metadata as { name?: string }).name));
      return;
    }
    // A new or changed node may take any pod that was waiting.
    if (this.cache.setNode(ev.object)) this.queue.moveOnEvent(-1);
  }

  private onPod(ev: ObjectEvent): void {
    if (this.stopped) return;
    const o = ev.object;
    const meta = metaOf(o);
    const uid = meta.uid;
    if (ev.type === 'DELETED') {
      this.queue.delete(uid);
      if (this.cache.removePod(uid)) this.queue.moveOnEvent(this.podFreedMask);
      return;
    }
    const spec = (o.spec ?? {}) as PodSpecView;
    if (spec.nodeName) {
      // Bound (by us or anyone): counted on its node until it finishes or goes.
      this.queue.delete(uid);
      if (isTerminated(o)) {
        if (this.cache.removePod(uid)) this.queue.moveOnEvent(this.podFreedMask);
        return;
      }
      const change = this.cache.setBoundPod(o);
      if (change === 'added' || change === 'updated') this.queue.moveOnEvent(this.podAddedMask);
      return;
    }
    if (!this.wantsScheduling(o)) {
      this.queue.delete(uid);
      this.cache.unnominate(uid);
      return;
    }
    if (this.cache.isAssumed(uid)) return; // its binding is in flight
    const qp = this.queue.get(uid);
    let info: PodInfo;
    if (qp && qp.pod.generation === (meta.generation ?? 0) && sameLabels(qp.pod.labels, meta.labels)) {
      // Status only (often our own condition write): keep the compiled info.
      qp.pod.obj = o;
      info = qp.pod;
    } else {
      info = new PodInfo(o);
      this.queue.add(info);
    }
    // A nomination made by an earlier leader keeps its room.
    const nominated = info.nominatedNodeName;
    if (nominated && this.cache.nominatedNode(uid) !== nominated) this.cache.nominate(info, nominated);
  }

  // ---- the scheduling loop --------------------------------------------------------------

  private kick(): void {
    if (this.stopped || this.backlog || this.pumpScheduled || this.queue.activeCount === 0 || this.bindsInFlight >= this.maxBindsInFlight) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.stopped) return;
    const batch: Decision[] = [];
    for (let i = 0; i < this.batchSize; i++) {
      const qp = this.queue.pop();
      if (!qp) break;
      this.scheduleOne(qp, batch);
    }
    if (batch.length > 0) this.bind(batch);
    this.kick();
    this.checkIdle();
  }

  private scheduleOne(qp: QueuedPod, batch: Decision[]): void {
    const pod = qp.pod;
    this.stats.attempts++;
    const nominated = this.cache.nominatedNode(pod.uid) ?? (pod.nominatedNodeName || undefined);
    const node = this.fw.schedule(pod, this.cache, nominated);
    if (node) {
      this.cache.assume(pod, node.name);
      batch.push({ qp, node: node.name });
      return;
    }
    this.stats.unschedulable++;
    const d = this.fw.diagnosis;
    const message = d.message();
    const rejectors = d.rejectors;
    let nominate: string | undefined;
    const pre = findPreemption(this.fw, pod, this.cache, this.random);
    if (pre) {
      nominate = pre.node.name;
      this.cache.nominate(pod, nominate);
      this.evict(pod, pre);
    }
    this.queue.failed(qp, true, rejectors);
    this.reportUnschedulable(pod, message, nominate);
  }

  private evict(pod: PodInfo, pre: PreemptionResult): void {
    this.stats.preemptions++;
    for (const v of pre.victims) {
      this.ctx.events.event(v.obj, 'Normal', 'Preempted', `Preempted by pod ${pod.uid} on node ${pre.node.name}`);
      // The uid precondition: evict this incarnation only; its own grace period applies.
      this.write(this.ctx.cluster.delete('Pod', v.namespace, v.name, { uid: v.uid }), `evict ${v.namespace}/${v.name}`);
    }
  }

  /** Event every time; the PodScheduled condition (and nomination) only when they change. */
  private reportUnschedulable(pod: PodInfo, message: string, nominate: string | undefined): void {
    this.ctx.events.event(pod.obj, 'Warning', 'FailedScheduling', message);
    const cur = this.ctx.cluster.get('Pod', pod.namespace, pod.name);
    if (!cur || metaOf(cur).uid !== pod.uid || !this.wantsScheduling(cur)) return;
    const status = (cur.status ?? {}) as { conditions?: PodCondition[]; nominatedNodeName?: string };
    const conditions = Array.isArray(status.conditions) ? status.conditions : [];
    const old = conditions.find((c) => c?.type === 'PodScheduled');
    const same = old?.status === 'False' && old.reason === 'Unschedulable' && old.message === message;
    const renominate = nominate !== undefined && status.nominatedNodeName !== nominate;
    if (same && !renominate) return;
    const cond: PodCondition = {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message,
      lastTransitionTime: old?.status === 'False' && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(this.ctx.clock.now()),
    };
    const next = {
      ...cur,
      status: { ...status, conditions: [...conditions.filter((c) => c !== old), cond], ...(nominate !== undefined ? { nominatedNodeName: nominate } : {}) },
    };
    this.write(this.ctx.cluster.updateStatus(next), `status of ${pod.namespace}/${pod.name}`);
  }

  private bind(batch: Decision[]): void {
    this.bindsInFlight++;
    this.stats.batches++;
    const bindings = batch.map(({ qp, node }) => ({ namespace: qp.pod.namespace, name: qp.pod.name, uid: qp.pod.uid, nodeName: node }));
    this.ctx.cluster.bind(bindings).then(
      (results) => this.bound(batch, results),
      (err: unknown) => this.bound(batch, undefined, err),
    );
  }

  private bound(batch: Decision[], results: BindResult[] | undefined, err?: unknown): void {
    this.bindsInFlight--;
    if (this.stopped) return this.checkIdle();
    let forgot = false;
    for (let i = 0; i < batch.length; i++) {
      const { qp, node } = batch[i]!;
      const pod = qp.pod;
      const r = results?.[i];
      if (r?.ok) {
        this.stats.scheduled++;
        this.queue.done(pod.uid);
        this.ctx.events.event(pod.obj, 'Normal', 'Scheduled', `Successfully assigned ${pod.namespace}/${pod.name} to ${node}`);
        continue;
      }
      this.stats.bindFailures++;
      this.cache.forget(pod.uid);
      forgot = true;
      this.ctx.log.debug(`scheduler: binding ${pod.namespace}/${pod.name} to ${node} failed: ${r?.message ?? String((err as Error)?.message ?? err)}`);
      const cur = this.ctx.cluster.get('Pod', pod.namespace, pod.name);
      if (!cur || metaOf(cur).uid !== pod.uid || !this.wantsScheduling(cur)) {
        this.queue.delete(pod.uid); // gone, or bound after all
        continue;
      }
      pod.obj = cur;
      this.queue.failed(qp, false); // decide again, on the cache as it now is, after a back-off
    }
    // The forgotten pods' room is free again.
    if (forgot) this.queue.moveOnEvent(this.podFreedMask);
    this.kick();
    this.checkIdle();
  }

  private write(p: Promise<unknown>, what: string): void {
    this.writesInFlight++;
    p.then(
      () => {},
      (err: unknown) => {
        if (!this.stopped) this.ctx.log.debug(`scheduler: ${what} failed: ${String((err as Error)?.message ?? err)}`);
      },
    ).finally(() => {
      this.writesInFlight--;
      this.checkIdle();
    });
  }

  private isIdle(): boolean {
    if (this.stopped || !this.started) return this.bindsInFlight === 0 && this.writesInFlight === 0;
    return !this.backlog && !this.pumpScheduled && this.queue.activeCount === 0 && this.bindsInFlight === 0 && this.writesInFlight === 0;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }
}

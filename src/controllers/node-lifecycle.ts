/**
 * The node lifecycle controller (Kubernetes' pkg/controller/nodelifecycle with its
 * taint-based eviction manager): taints nodes that stopped being healthy and evicts the
 * pods that do not tolerate that for long.
 *
 * - Health: a node silent for longer than nodeMonitorGracePeriodMs (leader's heartbeat
 *   memory) is Unknown; otherwise its Ready condition (written by the server) decides.
 * - NoSchedule taints (not-ready, unreachable, unschedulable, pressure conditions) follow
 *   the node's state at once.
 * - NoExecute taints (not-ready / unreachable) are added at most `evictionRate` nodes per
 *   second per zone (token bucket on the injected clock), as Kubernetes rate-limits
 *   evictions. A zone where at least `unhealthyZoneThreshold` of the nodes (and more than
 *   two) are not ready gets no new NoExecute taints (largeClusterThreshold and
 *   secondaryEvictionRate as Kubernetes for big zones); when every node of every zone is
 *   not ready, the leader is most likely the one cut off: all NoExecute taints are removed
 *   and nothing is evicted.
 * - Pods on a node with NoExecute taints are deleted (conditional on their uid) once their
 *   tolerations run out, counted from the taint's timeAdded (stored on the node, so a new
 *   leader evicts at the same moment). Pods without a toleration for not-ready/unreachable
 *   get defaultTolerationSeconds, as the DefaultTolerationSeconds admission plugin would
 *   have given them; a toleration without tolerationSeconds tolerates forever.
 * - Pods on a node that is not ready are marked not ready (their Ready condition), so
 *   Services stop sending them traffic before they are evicted.
 */
import type { Condition, Node, Pod, Taint, Toleration } from '../api/index.ts';
import { clone, formatTime, guarded, isBeingDeleted, isNotFound, metaOf, parseTime, podCondition, podPhase, sameJson } from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import type { Controller, ControllerContext, PlainObject } from './types.ts';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
const CONDITION_TAINTS: Record<string, string> = {
  MemoryPressure: 'node.kubernetes.io/memory-pressure',
  DiskPressure: 'node.kubernetes.io/disk-pressure',
  PIDPressure: 'node.kubernetes.io/pid-pressure',
  NetworkUnavailable: 'node.kubernetes.io/network-unavailable',
};
const NO_SCHEDULE_KEYS = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE, ...Object.values(CONDITION_TAINTS)]);
const NO_EXECUTE_KEYS = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE]);
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const REGION_LABEL = 'topology.kubernetes.io/region';

/** Starting: registered, no Ready condition yet, within the start-up grace period. */
export type NodeHealth = 'Ready' | 'NotReady' | 'Unknown' | 'Starting';
export type ZoneState = 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** Kubernetes' ComputeZoneState. */
export function computeZoneState(ready: number, notReady: number, threshold: number): ZoneState {
  if (ready === 0 && notReady > 0) return 'FullDisruption';
  if (notReady > 2 && notReady / (ready + notReady) >= threshold) return 'PartialDisruption';
  return 'Normal';
}

/** A token bucket on an injected clock (burst 1, as Kubernetes' eviction limiter). */
export class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(
    private rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at && this.rate > 0) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = Math.max(this.at, now);
  }

  tryTake(now: number): boolean {
    this.refill(now);
    if (this.rate <= 0 || this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** When the next token will be there (undefined: never, at rate 0). */
  nextAt(now: number): number | undefined {
    this.refill(now);
    if (this.rate <= 0) return undefined;
    if (this.tokens >= 1) return now;
    return now + Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  setRate(rate: number, now: number): void {
    if (rate === this.rate) return;
    this.refill(now);
    // A stopped limiter that starts again starts full, as a new one would.
    if (this.rate <= 0 && rate > 0) this.tokens = this.burst;
    this.rate = rate;
  }

  get currentRate(): number {
    return this.rate;
  }
}

/** Kubernetes' ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if ((t.operator ?? 'Equal') === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/**
 * When a pod on a node with these NoExecute taints must go (ms since the epoch), or
 * Infinity when it tolerates them forever. `start(taint)` is when the pod became exposed
 * to the taint.
 */
export function evictionTime(tolerations: readonly Toleration[], taints: readonly Taint[], defaultTolerationSeconds: number, start: (t: Taint) => number): number {
  let at = Number.POSITIVE_INFINITY;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const match = tolerations.find((t) => tolerates(t, taint));
    let seconds: number | undefined;
    if (!match) {
      // Untolerated: go now, except for the taints admission gives everyone a toleration of.
      if (!NO_EXECUTE_KEYS.has(taint.key)) return Math.min(at, start(taint));
      seconds = defaultTolerationSeconds;
    } else if (match.tolerationSeconds === undefined || match.tolerationSeconds === null) {
      continue;
    } else seconds = Math.max(0, match.tolerationSeconds);
    at = Math.min(at, start(taint) + seconds * 1000);
  }
  return at;
}

export interface NodeLifecycleOptions {
  /** How often node health is looked at (Kubernetes' node-monitor-period, 5 s). */
  monitorPeriodMs?: number;
  /** A node that never reported is Unknown this long after it was created (60 s). */
  startupGracePeriodMs?: number;
  /** Zones with more nodes than this keep evicting slowly in partial disruption (50). */
  largeClusterThreshold?: number;
  secondaryEvictionRate?: number;
}

interface Seen {
  node: PlainObject;
  name: string;
  zone: string;
  health: NodeHealth;
  silentMs: number;
}

export class NodeLifecycleController implements Controller {
  readonly name = 'node-lifecycle';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  private readonly monitorMs: number;
  private readonly startupGraceMs: number;
  private readonly largeCluster: number;
  private readonly secondaryRate: number;
  private readonly buckets = new Map<string, TokenBucket>();
  private zoneStates = new Map<string, ZoneState>();
  private allDisrupted = false;
  private readonly lastHealth = new Map<string, NodeHealth>();
  /** First sight of a NoExecute taint that came without timeAdded. */
  private readonly firstSeen = new Map<string, number>();

  constructor(opts: NodeLifecycleOptions = {}) {
    this.monitorMs = opts.monitorPeriodMs ?? 5000;
    this.startupGraceMs = opts.startupGracePeriodMs ?? 60_000;
    this.largeCluster = opts.largeClusterThreshold ?? 50;
    this.secondaryRate = opts.secondaryEvictionRate ?? 0.01;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = ctx;
    // One key: every pass looks at all nodes (zone states need them all anyway).
    this.queue = new WorkQueue(() => this.pass(), {
      clock: ctx.clock,
      baseDelayMs: 100,
      maxDelayMs: this.monitorMs,
      onError: (_key, err, n) => ctx.log.warn(`node-lifecycle: pass failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    this.queue.add('pass');
    const stop = ctx.cluster.watch('Node', guarded(ctx.log, 'node-lifecycle watch', () => this.queue.add('pass')));
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        stop();
      },
      { once: true },
    );
  }

  /** Resolves when no pass is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  /** The zone states of the last pass (for tests and logs). */
  get zones(): ReadonlyMap<string, ZoneState> {
    return this.zoneStates;
  }

  private observe(node: Node, now: number): { health: NodeHealth; silentMs: number } {
    const name = node.metadata.name ?? '';
    const silent = this.ctx.liveness.silentForMs(name);
    const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
    if (silent !== undefined && silent > this.ctx.config.nodeMonitorGracePeriodMs) return { health: 'Unknown', silentMs: silent };
    if (!ready) {
      const created = parseTime(node.metadata.creationTimestamp);
      if (silent === undefined && created !== undefined && now - created > this.startupGraceMs) return { health: 'Unknown', silentMs: now - created };
      return { health: 'Starting', silentMs: silent ?? 0 };
    }
    const health: NodeHealth = ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown';
    return { health, silentMs: silent ?? 0 };
  }

  private bucket(zone: string, now: number): TokenBucket {
    let b = this.buckets.get(zone);
    if (!b) this.buckets.set(zone, (b = new TokenBucket(this.ctx.config.evictionRate, 1, now)));
    return b;
  }

  private rateFor(state: ZoneState, size: number): number {
    if (state === 'PartialDisruption') return size > this.largeCluster ? this.secondaryRate : 0;
    return this.ctx.config.evictionRate;
  }

  private async pass(): Promise<number> {
    const { cluster, clock, log, events } = this.ctx;
    const now = clock.now();
    const seen: Seen[] = [];
    const zoneCounts = new Map<string, { ready: number; notReady: number; size: number }>();
    for (const obj of cluster.list('Node')) {
      const node = obj as unknown as Node;
      const labels = node.metadata.labels ?? {};
      const zone = `${labels[REGION_LABEL] ?? ''}:${labels[ZONE_LABEL] ?? ''}`;
      const { health, silentMs } = this.observe(node, now);
      const name = node.metadata.name ?? '';
      seen.push({ node: obj, name, zone, health, silentMs });
      const prev = this.lastHealth.get(name);
      if (prev === 'Ready' && (health === 'NotReady' || health === 'Unknown')) events.event(obj, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
      this.lastHealth.set(name, health);
      let z = zoneCounts.get(zone);
      if (!z) zoneCounts.set(zone, (z = { ready: 0, notReady: 0, size: 0 }));
      z.size++;
      // Nodes still starting are neither healthy nor failed: they do not move the zone state.
      if (health === 'Ready') z.ready++;
      else if (health !== 'Starting') z.notReady++;
    }
    for (const name of [...this.lastHealth.keys()]) if (!seen.some((s) => s.name === name)) this.lastHealth.delete(name);

    // Zone states decide how fast (if at all) nodes get NoExecute taints.
    const states = new Map<string, ZoneState>();
    for (const [zone, c] of zoneCounts) states.set(zone, computeZoneState(c.ready, c.notReady, this.ctx.config.unhealthyZoneThreshold));
    const allDisrupted = states.size > 0 && [...states.values()].every((s) => s === 'FullDisruption');
    if (allDisrupted && !this.allDisrupted) {
      log.warn('node-lifecycle: no node is ready; assuming this control plane is cut off: evictions stop and NoExecute taints are lifted');
      for (const s of seen) if (s.health !== 'Ready') events.event(s.node, 'Warning', 'EvictionsStopped', 'All nodes are not ready: no pod is evicted until some node is ready again');
    } else if (!allDisrupted && this.allDisrupted) {
      log.info('node-lifecycle: some nodes are ready again: evictions resume');
    }
    this.allDisrupted = allDisrupted;
    for (const [zone, state] of states) {
      const before = this.zoneStates.get(zone);
      if (before !== undefined && before !== state) {
        (state === 'Normal' ? log.info : log.warn).call(log, `node-lifecycle: zone "${zone}" is now ${state}`);
        if (state === 'PartialDisruption' && !allDisrupted) {
          for (const s of seen) {
            if (s.zone === zone && s.health !== 'Ready' && s.health !== 'Starting') {
              events.event(s.node, 'Warning', 'EvictionsStopped', `Zone "${zone}" is in partial disruption: no new evictions there until more nodes are ready`);
            }
          }
        }
      }
      this.bucket(zone, now).setRate(this.rateFor(state, zoneCounts.get(zone)!.size), now);
    }
    this.zoneStates = states;

    // Taints.
    const errors: unknown[] = [];
    const waiting: Seen[] = [];
    const taintsNow = new Map<string, Taint[]>();
    for (const s of seen) {
      const { taints, wantsNoExecute } = this.desiredTaints(s, now, allDisrupted);
      if (wantsNoExecute) waiting.push(s);
      taintsNow.set(s.name, taints);
    }
    // New NoExecute taints in each zone, longest silent first, as the zone's bucket allows.
    waiting.sort((a, b) => b.silentMs - a.silentMs || readySince(a.node) - readySince(b.node) || a.name.localeCompare(b.name));
    let wake = now + this.monitorMs;
    const blocked = new Set<string>();
    for (const s of waiting) {
      if (blocked.has(s.zone)) continue;
      const b = this.bucket(s.zone, now);
      if (!b.tryTake(now)) {
        blocked.add(s.zone);
        const next = b.nextAt(now);
        if (next !== undefined) wake = Math.min(wake, next);
        continue;
      }
      const key = s.health === 'NotReady' ? TAINT_NOT_READY : TAINT_UNREACHABLE;
      taintsNow.get(s.name)!.push({ key, effect: 'NoExecute', timeAdded: formatTime(now) });
      log.info(`node-lifecycle: node ${s.name} is ${s.health === 'NotReady' ? 'not ready' : 'unreachable'}: tainted ${key}:NoExecute`);
    }
    for (const s of seen) {
      const taints = taintsNow.get(s.name)!;
      const node = s.node as unknown as Node;
      if (sameJson(node.spec?.taints ?? [], taints)) continue;
      const next = clone(s.node) as unknown as Node;
      next.spec = { ...(next.spec ?? {}) };
      if (taints.length > 0) next.spec.taints = taints;
      else delete next.spec.taints;
      try {
        // Conditional on the node's resourceVersion: a node that changed is looked at again.
        await cluster.update(next as unknown as PlainObject);
      } catch (e) {
        if (!isNotFound(e)) errors.push(e);
      }
    }

    // Pods: not ready on unhealthy nodes; evicted from NoExecute-tainted nodes when due.
    for (const s of seen) {
      const unhealthy = s.health === 'NotReady' || s.health === 'Unknown';
      const noExecute = taintsNow.get(s.name)!.filter((t) => t.effect === 'NoExecute');
      if (!unhealthy && noExecute.length === 0) continue;
      for (const p of cluster.list('Pod', { fieldSelector: `spec.nodeName=${s.name}` })) {
        if (isBeingDeleted(p)) continue;
        const phase = podPhase(p);
        if (phase === 'Succeeded' || phase === 'Failed') continue;
        if (noExecute.length > 0) {
          const at = evictionTime((p as unknown as Pod).spec.tolerations ?? [], noExecute, this.ctx.config.defaultTolerationSeconds, (t) =>
            Math.max(this.taintStart(s.name, t, now), podBoundAt(p)),
          );
          if (at <= now) {
            await this.evict(p, s.name, errors);
            continue;
          }
          if (Number.isFinite(at)) wake = Math.min(wake, at);
        }
        if (unhealthy && podCondition(p, 'Ready')?.status === 'True') await this.markNotReady(p, now, errors);
      }
    }
    if (errors.length > 0) throw errors[0];
    return Math.max(1, wake - now);
  }

  /** The node's taints with the managed ones brought up to date (except NoExecute taints still to be rate-limited). */
  private desiredTaints(s: Seen, now: number, allDisrupted: boolean): { taints: Taint[]; wantsNoExecute: boolean } {
    const node = s.node as unknown as Node;
    const existing = node.spec?.taints ?? [];
    const out: Taint[] = existing.filter((t) => !(t.effect === 'NoSchedule' && NO_SCHEDULE_KEYS.has(t.key)) && !(t.effect === 'NoExecute' && NO_EXECUTE_KEYS.has(t.key)));
    const keep = (key: string, effect: Taint['effect'], timeAdded?: string) => {
      const had = existing.find((t) => t.key === key && t.effect === effect);
      out.push(had ? clone(had) : { key, effect, timeAdded: timeAdded ?? formatTime(now) });
    };

    // NoSchedule: the node's state as it is now.
    if (s.health === 'NotReady' || s.health === 'Starting') keep(TAINT_NOT_READY, 'NoSchedule');
    if (s.health === 'Unknown') keep(TAINT_UNREACHABLE, 'NoSchedule');
    if (node.spec?.unschedulable) keep(TAINT_UNSCHEDULABLE, 'NoSchedule');
    if (s.health === 'Ready') {
      for (const c of node.status?.conditions ?? []) {
        const key = CONDITION_TAINTS[c.type];
        if (key && c.status === 'True') keep(key, 'NoSchedule');
      }
    }

    // NoExecute: swapped at once when the kind of failure changes; added only through the bucket.
    const want = allDisrupted ? undefined : s.health === 'NotReady' ? TAINT_NOT_READY : s.health === 'Unknown' ? TAINT_UNREACHABLE : undefined;
    if (!want) return { taints: out, wantsNoExecute: false };
    const had = existing.filter((t) => t.effect === 'NoExecute' && NO_EXECUTE_KEYS.has(t.key));
    if (had.length === 0) return { taints: out, wantsNoExecute: true };
    const same = had.find((t) => t.key === want);
    // Swapping keeps the time the node first failed: the pods' tolerations keep counting.
    out.push(same ? clone(same) : { key: want, effect: 'NoExecute', timeAdded: had[0]!.timeAdded ?? formatTime(now) });
    return { taints: out, wantsNoExecute: false };
  }

  private taintStart(node: string, t: Taint, now: number): number {
    const at = parseTime(t.timeAdded);
    if (at !== undefined) return at;
    const k = `${node}\u0000${t.key}\u0000${t.effect}`;
    let first = this.firstSeen.get(k);
    if (first === undefined) this.firstSeen.set(k, (first = now));
    return first;
  }

  private async evict(pod: PlainObject, node: string, errors: unknown[]): Promise<void> {
    const m = metaOf(pod);
    try {
      // This pod only: one recreated under the same name since is not ours to evict.
      await this.ctx.cluster.delete('Pod', m.namespace ?? '', m.name ?? '', { ...(m.uid ? { uid: m.uid } : {}) });
      this.ctx.events.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${m.namespace}/${m.name}`);
      this.ctx.log.info(`node-lifecycle: evicted pod ${m.namespace}/${m.name} from node ${node}`);
    } catch (e) {
      if (!isNotFound(e)) errors.push(e);
    }
  }

  private async markNotReady(pod: PlainObject, now: number, errors: unknown[]): Promise<void> {
    const next = clone(pod) as unknown as Pod;
    const conds: Condition[] = next.status?.conditions ?? [];
    const c = conds.find((x) => x.type === 'Ready');
    if (!c) return;
    c.status = 'False';
    c.lastTransitionTime = formatTime(now);
    try {
      await this.ctx.cluster.updateStatus(next as unknown as PlainObject);
    } catch (e) {
      if (!isNotFound(e)) errors.push(e);
    }
  }
}

/** When the pod was put on its node (PodScheduled), else when it was created. */
function podBoundAt(pod: PlainObject): number {
  return parseTime(podCondition(pod, 'PodScheduled')?.lastTransitionTime) ?? parseTime(metaOf(pod).creationTimestamp) ?? 0;
}

function readySince(node: PlainObject): number {
  const c = ((node as unknown as Node).status?.conditions ?? []).find((x) => x.type === 'Ready');
  return parseTime(c?.lastTransitionTime) ?? 0;
}

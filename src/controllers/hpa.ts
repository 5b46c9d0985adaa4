/**
 * The HorizontalPodAutoscaler controller (Kubernetes' pkg/controller/podautoscaler), for
 * autoscaling/v2 HPAs with Resource metrics (cpu, memory) whose target is a Deployment or
 * a ReplicaSet.
 *
 * Every sync period each HPA reads its target's spec.replicas and selector, the pods it
 * selects and their usage (agents' samples in the leader's memory), computes Kubernetes'
 * replica recommendation, stabilizes and rate-limits it, and writes the new size to the
 * target conditional on the resourceVersion it read (ARCHITECTURE rule 3).
 *
 * The recommendation history and the scale events that behaviour policies count are kept
 * in memory, as Kubernetes keeps them. A new leader starts each HPA's history with the
 * target's current size (recordInitialRecommendation), so a leader change never lets a
 * scale-down skip its stabilization window.
 */
import type {
  Condition,
  HorizontalPodAutoscaler,
  HorizontalPodAutoscalerStatus,
  HPAScalingRules,
  LabelSelector,
  MetricSpec,
  MetricStatus,
  Pod,
} from '../api/index.ts';
import { Quantity, selectorFromLabelSelector, tryParseQuantity } from '../api/index.ts';
import { clone, formatTime, guarded, keyOf, metaOf, parseTime, podCondition, podPhase, sameJson, splitKey } from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import type { Controller, ControllerContext, ObjectEvent, PlainObject, UsageSource } from './types.ts';

// ---- replica calculation (pure) ------------------------------------------------------------

/** What the calculation needs to know of one pod. */
export interface HpaPod {
  name: string;
  phase: string;
  deleting: boolean;
  /** The pod's Ready condition, if it has one. */
  ready?: { status: string; since?: number };
  startTime?: number;
  /** Sum of the containers' requests of the resource (milli-units); undefined when a container has none. */
  requestMilli?: number;
  /** The first container without a request (for the error message). */
  missingRequestContainer?: string;
  /** Latest usage sample of the resource (milli-units). */
  usage?: { milli: number; timestamp: number };
}

export type ResourceTarget = { type: 'Utilization'; averageUtilization: number } | { type: 'AverageValue'; averageValueMilli: number };

/** Ratios within [1 - down, 1 + up] are close enough: no change. */
export interface Tolerances {
  up: number;
  down: number;
}

export interface ReplicaCalcInput {
  currentReplicas: number;
  pods: readonly HpaPod[];
  resource: string;
  target: ResourceTarget;
  tolerance: Tolerances;
  now: number;
  /** CPU samples of pods started less than this ago are trusted only once ready for a window. */
  cpuInitializationPeriodMs: number;
  /** A pod that turned unready this soon after starting has never been ready. */
  delayOfInitialReadinessStatusMs: number;
  /** The length of the window a usage sample covers. */
  metricWindowMs: number;
}

export interface ReplicaCalcResult {
  replicas: number;
  /** Percentage of request (Utilization targets). */
  utilization?: number;
  /** Average usage per counted pod (milli-units). */
  averageMilli: number;
}

/** A metric that could not be computed; the message is Kubernetes' wording. */
export class MetricError extends Error {
  override name = 'MetricError';
}

function within(t: Tolerances, ratio: number): boolean {
  return 1 - t.down <= ratio && ratio <= 1 + t.up;
}

interface Grouped {
  readyCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** Kubernetes' groupPods: which samples count, which pods are unready, which have no sample. */
function groupPods(input: ReplicaCalcInput): Grouped {
  const g: Grouped = { readyCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const p of input.pods) {
    if (p.deleting || p.phase === 'Failed') {
      g.ignored.add(p.name);
      continue;
    }
    if (p.phase === 'Pending') {
      g.unready.add(p.name);
      continue;
    }
    if (!p.usage) {
      g.missing.add(p.name);
      continue;
    }
    if (input.resource === 'cpu') {
      let unready: boolean;
      if (!p.ready || p.startTime === undefined) unready = true;
      else if (p.startTime + input.cpuInitializationPeriodMs > input.now) {
        // Still starting: CPU spikes at start-up; trust a sample only once a whole window
        // of it was taken while ready.
        const since = p.ready.since ?? p.startTime;
        unready = p.ready.status === 'False' || p.usage.timestamp < since + input.metricWindowMs;
      } else {
        // Past start-up: ignore only a pod that has never been ready.
        const since = p.ready.since ?? p.startTime;
        unready = p.ready.status === 'False' && p.startTime + input.delayOfInitialReadinessStatusMs > since;
      }
      if (unready) {
        g.unready.add(p.name);
        continue;
      }
    }
    g.readyCount++;
  }
  return g;
}

function utilizationRatio(metrics: Map<string, number>, requests: Map<string, number>, target: number): { ratio: number; utilization: number; average: number } {
  let used = 0;
  let requested = 0;
  let n = 0;
  for (const [name, v] of metrics) {
    const r = requests.get(name);
    if (r === undefined) continue;
    used += v;
    requested += r;
    n++;
  }
  if (requested === 0) throw new MetricError('no metrics returned matched known pods');
  // Kubernetes truncates to a whole percentage before comparing with the target.
  const utilization = Math.trunc((used * 100) / requested);
  return { ratio: utilization / target, utilization, average: Math.trunc(used / n) };
}

function averageRatio(metrics: Map<string, number>, targetMilli: number): { ratio: number; average: number } {
  let total = 0;
  for (const v of metrics.values()) total += v;
  const average = Math.trunc(total / metrics.size);
  return { ratio: average / targetMilli, average };
}

/**
 * Kubernetes' GetResourceReplicas / GetRawResourceReplicas: desired = ceil(ready pods ×
 * usage ratio), unless within tolerance; when pods lack samples or are not ready yet, the
 * ratio is recomputed assuming the least helpful value for them (missing: their full
 * request on a scale-down, nothing on a scale-up; unready: nothing on a scale-up), and a
 * change of direction caused by that assumption cancels the change.
 */
export function computeResourceReplicas(input: ReplicaCalcInput): ReplicaCalcResult {
  const { currentReplicas, pods, resource, target, tolerance } = input;
  const metrics = new Map<string, number>();
  for (const p of pods) if (p.usage) metrics.set(p.name, p.usage.milli);
  if (metrics.size === 0) throw new MetricError(`unable to get metrics for resource ${resource}: no metrics returned from resource metrics API`);
  if (pods.length === 0) throw new MetricError('no pods returned by selector while calculating replica count');

  const g = groupPods(input);
  for (const name of g.ignored) metrics.delete(name);
  for (const name of g.unready) metrics.delete(name);
  if (metrics.size === 0) throw new MetricError('did not receive metrics for targeted pods (pods might be unready)');

  const requests = new Map<string, number>();
  if (target.type === 'Utilization') {
    for (const p of pods) {
      if (p.requestMilli === undefined) {
        throw new MetricError(`missing request for ${resource} in container ${p.missingRequestContainer ?? ''} of Pod ${p.name}`);
      }
      requests.set(p.name, p.requestMilli);
    }
  }
  const ratioOf = (m: Map<string, number>) =>
    target.type === 'Utilization' ? utilizationRatio(m, requests, target.averageUtilization) : { ...averageRatio(m, target.averageValueMilli), utilization: undefined };

  const first = ratioOf(metrics);
  const result = (replicas: number): ReplicaCalcResult => ({
    replicas,
    averageMilli: first.average,
    ...(first.utilization !== undefined ? { utilization: first.utilization } : {}),
  });
  const usageRatio = first.ratio;
  const scaleUpWithUnready = g.unready.size > 0 && usageRatio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    if (within(tolerance, usageRatio)) return result(currentReplicas);
    return result(Math.ceil(usageRatio * g.readyCount));
  }

  if (g.missing.size > 0) {
    if (usageRatio < 1) {
      // Scaling down: a pod we cannot see might be busy; assume its full request (or the
      // target, when the target is above 100%).
      for (const name of g.missing) {
        if (target.type === 'Utilization') {
          const fallback = Math.max(100, target.averageUtilization);
          metrics.set(name, Math.trunc(((requests.get(name) ?? 0) * fallback) / 100));
        } else metrics.set(name, target.averageValueMilli);
      }
    } else if (usageRatio > 1) {
      for (const name of g.missing) metrics.set(name, 0);
    }
  }
  if (scaleUpWithUnready) for (const name of g.unready) metrics.set(name, 0);

  const newRatio = ratioOf(metrics).ratio;
  if (within(tolerance, newRatio) || (usageRatio < 1 && newRatio > 1) || (usageRatio > 1 && newRatio < 1)) {
    return result(currentReplicas);
  }
  const replicas = Math.ceil(newRatio * metrics.size);
  if ((newRatio < 1 && replicas > currentReplicas) || (newRatio > 1 && replicas < currentReplicas)) return result(currentReplicas);
  return result(replicas);
}

// ---- stabilization and rate limits (pure, per HPA state) ---------------------------------------

export interface Recommendation {
  at: number;
  replicas: number;
}

export interface ScaleEvent {
  at: number;
  change: number;
  outdated: boolean;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: { type: 'Pods' | 'Percent'; value: number; periodSeconds: number }[];
}

export interface Behavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

export interface Limited {
  replicas: number;
  reason: string;
  message: string;
}

/** A `behavior` with Kubernetes' defaults filled in (the scale-down window defaults to the controller's). */
export function effectiveBehavior(b: { scaleUp?: HPAScalingRules; scaleDown?: HPAScalingRules }, downscaleWindowMs: number): Behavior {
  const rules = (r: HPAScalingRules | undefined, dflt: ScalingRules): ScalingRules => ({
    stabilizationWindowSeconds: r?.stabilizationWindowSeconds ?? dflt.stabilizationWindowSeconds,
    selectPolicy: r?.selectPolicy ?? dflt.selectPolicy,
    policies: r?.policies && r.policies.length > 0 ? r.policies.map((p) => ({ type: p.type, value: p.value, periodSeconds: p.periodSeconds })) : dflt.policies,
  });
  return {
    scaleUp: rules(b.scaleUp, {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    }),
    scaleDown: rules(b.scaleDown, {
      stabilizationWindowSeconds: Math.round(downscaleWindowMs / 1000),
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    }),
  };
}

function changeInPeriod(events: readonly ScaleEvent[], periodSeconds: number, now: number): number {
  const cutoff = now - periodSeconds * 1000;
  let n = 0;
  for (const e of events) if (e.at > cutoff) n += e.change;
  return n;
}

/** The most replicas the scale-up policies allow now (relative to the size at the start of each period). */
export function scaleUpLimit(current: number, up: readonly ScaleEvent[], down: readonly ScaleEvent[], rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(up, p.periodSeconds, now) + changeInPeriod(down, p.periodSeconds, now);
    // Percent rounds up, or a small target could never grow.
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** The fewest replicas the scale-down policies allow now. */
export function scaleDownLimit(current: number, up: readonly ScaleEvent[], down: readonly ScaleEvent[], rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // "Max" means the policy allowing the biggest change, i.e. the fewest replicas.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(up, p.periodSeconds, now) + changeInPeriod(down, p.periodSeconds, now);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/**
 * What one HPA remembers between syncs: recent recommendations (for stabilization) and
 * recent scale events (for behaviour policies). Kubernetes keeps the same in memory.
 */
export class HpaRecommender {
  readonly recommendations: Recommendation[] = [];
  readonly upEvents: ScaleEvent[] = [];
  readonly downEvents: ScaleEvent[] = [];

  /** The first sync assumes the current size was just recommended (recordInitialRecommendation). */
  recordInitial(current: number, now: number): void {
    if (this.recommendations.length === 0) this.recommendations.push({ at: now, replicas: current });
  }

  private record(desired: number, now: number, isOld: (r: Recommendation) => boolean): void {
    // Reuse one expired slot so the history stays as long as the window needs.
    const i = this.recommendations.findIndex(isOld);
    if (i >= 0) this.recommendations[i] = { at: now, replicas: desired };
    else this.recommendations.push({ at: now, replicas: desired });
  }

  /** Without `behavior`: the highest recommendation within the downscale window. */
  stabilizeLegacy(desired: number, now: number, windowMs: number): number {
    const cutoff = now - windowMs;
    let max = desired;
    for (const r of this.recommendations) if (r.at >= cutoff && r.replicas > max) max = r.replicas;
    this.record(desired, now, (r) => r.at < cutoff);
    return max;
  }

  /**
   * With `behavior`: scale up no further than the lowest recommendation of the scale-up
   * window, down no further than the highest of the scale-down window.
   */
  stabilizeWithBehavior(current: number, desired: number, b: Behavior, now: number): Limited {
    const upCutoff = now - b.scaleUp.stabilizationWindowSeconds * 1000;
    const downCutoff = now - b.scaleDown.stabilizationWindowSeconds * 1000;
    let upRec = desired;
    let downRec = desired;
    for (const r of this.recommendations) {
      if (r.at > upCutoff) upRec = Math.min(upRec, r.replicas);
      if (r.at > downCutoff) downRec = Math.max(downRec, r.replicas);
    }
    let rec = current;
    if (rec < upRec) rec = upRec;
    if (rec > downRec) rec = downRec;
    this.record(desired, now, (r) => r.at < upCutoff && r.at < downCutoff);
    return desired >= current
      ? { replicas: rec, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' }
      : { replicas: rec, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
  }

  /** Remember a rescale for the behaviour policies (only HPAs with `behavior` count them). */
  recordScale(b: Behavior | undefined, prev: number, next: number, now: number): void {
    if (!b || prev === next) return;
    const up = next > prev;
    const events = up ? this.upEvents : this.downEvents;
    const rules = up ? b.scaleUp : b.scaleDown;
    const longest = Math.max(0, ...rules.policies.map((p) => p.periodSeconds)) * 1000;
    for (const e of events) if (e.at < now - longest) e.outdated = true;
    const ev: ScaleEvent = { at: now, change: Math.abs(next - prev), outdated: false };
    const i = events.findIndex((e) => e.outdated);
    if (i >= 0) events[i] = ev;
    else events.push(ev);
  }
}

/** Kubernetes' legacy bound without `behavior`: at most max(2 × current, 4) per sync, within min/max. */
export function convertDesiredReplicasWithRules(current: number, desired: number, min: number, max: number): Limited {
  const upLimit = Math.max(2 * current, 4);
  let maxAllowed: number;
  let reason: string;
  let message: string;
  if (max > upLimit) {
    maxAllowed = upLimit;
    reason = 'ScaleUpLimit';
    message = 'the desired replica count is increasing faster than the maximum scale rate';
  } else {
    maxAllowed = max;
    reason = 'TooManyReplicas';
    message = 'the desired replica count is more than the maximum replica count';
  }
  if (desired < min) return { replicas: min, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
  if (desired > maxAllowed) return { replicas: maxAllowed, reason, message };
  return { replicas: desired, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

/** Kubernetes' convertDesiredReplicasWithBehaviorRate: the policies' limits, then min/max. */
export function convertWithBehaviorRate(
  current: number,
  desired: number,
  min: number,
  max: number,
  b: Behavior,
  st: HpaRecommender,
  now: number,
): Limited {
  if (desired > current) {
    let limit = scaleUpLimit(current, st.upEvents, st.downEvents, b.scaleUp, now);
    // Events still in their period may put the limit below the current size: hold.
    if (limit < current) limit = current;
    let maxAllowed = max;
    let reason = 'TooManyReplicas';
    let message = 'the desired replica count is more than the maximum replica count';
    if (maxAllowed > limit) {
      maxAllowed = limit;
      reason = 'ScaleUpLimit';
      message = 'the desired replica count is increasing faster than the maximum scale rate';
    }
    if (desired > maxAllowed) return { replicas: maxAllowed, reason, message };
  } else if (desired < current) {
    let limit = scaleDownLimit(current, st.upEvents, st.downEvents, b.scaleDown, now);
    if (limit > current) limit = current;
    let minAllowed = min;
    let reason = 'TooFewReplicas';
    let message = 'the desired replica count is less than the minimum replica count';
    if (minAllowed < limit) {
      minAllowed = limit;
      reason = 'ScaleDownLimit';
      message = 'the desired replica count is decreasing faster than the maximum scale rate';
    }
    if (desired < minAllowed) return { replicas: minAllowed, reason, message };
  }
  return { replicas: desired, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

// ---- conditions --------------------------------------------------------------------------------

/** Set a condition; the transition time moves only when the status changes. */
function setCondition(conds: Condition[], type: string, status: 'True' | 'False', reason: string, message: string, now: number): void {
  const c = conds.find((x) => x.type === type);
  if (!c) {
    conds.push({ type, status, lastTransitionTime: formatTime(now), reason, message });
    return;
  }
  if (c.status !== status) c.lastTransitionTime = formatTime(now);
  c.status = status;
  c.reason = reason;
  c.message = message;
}

// ---- the controller ------------------------------------------------------------------------------

export interface HpaControllerOptions {
  /** Kubernetes' --horizontal-pod-autoscaler-cpu-initialization-period (5 min). */
  cpuInitializationPeriodMs?: number;
  /** Kubernetes' --horizontal-pod-autoscaler-initial-readiness-delay (30 s). */
  delayOfInitialReadinessStatusMs?: number;
  /** The window one usage sample covers. */
  metricWindowMs?: number;
  concurrency?: number;
}

interface Target {
  obj: PlainObject;
  replicas: number;
  selector?: LabelSelector;
}

interface MetricOutcome {
  replicas: number;
  name: string;
  status?: MetricStatus;
  error?: { reason: string; message: string };
}

const SCALABLE: Record<string, string> = { Deployment: 'deployments.apps', ReplicaSet: 'replicasets.apps' };

export class HorizontalPodAutoscalerController implements Controller {
  readonly name = 'horizontalpodautoscaler';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  /** HPA key → its memory, for the HPA of that uid. */
  private readonly state = new Map<string, { uid: string; rec: HpaRecommender }>();
  /** Generation last seen per HPA: the watch does not say what changed. */
  private readonly generations = new Map<string, number | undefined>();
  private readonly cpuInitMs: number;
  private readonly readinessDelayMs: number;
  private readonly windowMs: number;
  private readonly concurrency: number;

  constructor(opts: HpaControllerOptions = {}) {
    this.cpuInitMs = opts.cpuInitializationPeriodMs ?? 5 * 60_000;
    this.readinessDelayMs = opts.delayOfInitialReadinessStatusMs ?? 30_000;
    this.windowMs = opts.metricWindowMs ?? 30_000;
    this.concurrency = opts.concurrency ?? 3;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = ctx;
    this.queue = new WorkQueue((key) => this.sync(key), {
      clock: ctx.clock,
      concurrency: this.concurrency,
      baseDelayMs: 100,
      maxDelayMs: ctx.config.hpaSyncPeriodMs,
      onError: (key, err, n) => ctx.log.debug(`hpa ${key}: sync failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    for (const h of ctx.cluster.list('HorizontalPodAutoscaler')) {
      this.generations.set(keyOf(h), metaOf(h).generation);
      this.queue.add(keyOf(h));
    }
    const stop = ctx.cluster.watch('HorizontalPodAutoscaler', guarded(ctx.log, 'hpa watch', (ev: ObjectEvent) => this.onHpa(ev)));
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        stop();
      },
      { once: true },
    );
  }

  /** Resolves when no sync is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  private onHpa(ev: ObjectEvent): void {
    const key = keyOf(ev.object);
    const gen = metaOf(ev.object).generation;
    const seen = this.generations.get(key);
    if (ev.type === 'DELETED') this.generations.delete(key);
    else this.generations.set(key, gen);
    // Our own status writes do not change the spec (generation): they need no extra sync.
    if (ev.type === 'MODIFIED' && seen !== undefined && seen === gen) return;
    this.queue.add(key);
  }

  private recommender(key: string, uid: string): HpaRecommender {
    let s = this.state.get(key);
    if (!s || s.uid !== uid) {
      s = { uid, rec: new HpaRecommender() };
      this.state.set(key, s);
    }
    return s.rec;
  }

  private target(namespace: string, hpa: HorizontalPodAutoscaler): Target | { error: string } {
    const ref = hpa.spec.scaleTargetRef;
    const resource = SCALABLE[ref.kind];
    if (!resource || (ref.apiVersion && ref.apiVersion !== 'apps/v1')) {
      return { error: `no scale subresource for ${ref.apiVersion ?? ''}/${ref.kind}` };
    }
    const obj = this.ctx.cluster.get(ref.kind, namespace, ref.name);
    if (!obj) return { error: `${resource} "${ref.name}" not found` };
    const spec = (obj.spec ?? {}) as { replicas?: number; selector?: LabelSelector };
    return { obj, replicas: spec.replicas ?? 1, ...(spec.selector ? { selector: spec.selector } : {}) };
  }

  private async sync(key: string): Promise<number | void> {
    const { cluster, clock, events } = this.ctx;
    const period = this.ctx.config.hpaSyncPeriodMs;
    const { namespace, name } = splitKey(key);
    const obj = cluster.get('HorizontalPodAutoscaler', namespace, name);
    if (!obj) {
      this.state.delete(key);
      return;
    }
    const hpa = obj as unknown as HorizontalPodAutoscaler;
    const now = clock.now();
    const before: HorizontalPodAutoscalerStatus = hpa.status ?? { desiredReplicas: 0 };
    const conds: Condition[] = clone(before.conditions ?? []);
    const writeStatus = async (s: HorizontalPodAutoscalerStatus) => {
      s.conditions = conds;
      if (sameJson(s, hpa.status ?? {})) return;
      await cluster.updateStatus({ ...clone(obj), status: s });
    };

    const t = this.target(namespace, hpa);
    if ('error' in t) {
      events.event(obj, 'Warning', 'FailedGetScale', t.error);
      setCondition(conds, 'AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${t.error}`, now);
      await writeStatus({ ...clone(before), desiredReplicas: before.desiredReplicas ?? 0 });
      return period;
    }
    setCondition(conds, 'AbleToScale', 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale", now);

    const rec = this.recommender(key, metaOf(obj).uid ?? '');
    const current = t.replicas;
    rec.recordInitial(current, now);
    const minReplicas = hpa.spec.minReplicas ?? 1;
    const maxReplicas = hpa.spec.maxReplicas;
    const behavior = hpa.spec.behavior ? effectiveBehavior(hpa.spec.behavior, this.ctx.config.hpaDownscaleStabilizationMs) : undefined;

    let desired = 0;
    let reason = '';
    let rescale = true;
    let metricStatuses: MetricStatus[] = [];
    if (current === 0 && minReplicas !== 0) {
      // Scaled to zero by hand: autoscaling is off until someone scales it up again.
      desired = 0;
      rescale = false;
      setCondition(conds, 'ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero', now);
    } else if (current > maxReplicas) {
      reason = 'Current number of replicas above Spec.MaxReplicas';
      desired = maxReplicas;
    } else if (current < minReplicas) {
      reason = 'Current number of replicas below Spec.MinReplicas';
      desired = minReplicas;
    } else {
      const computed = this.computeReplicasForMetrics(obj, hpa, t, current, conds, now);
      metricStatuses = computed.statuses;
      if (computed.error) {
        events.event(obj, 'Warning', 'FailedComputeMetricsReplicas', computed.error);
        await writeStatus({ ...statusBase(before), currentReplicas: current, desiredReplicas: before.desiredReplicas ?? 0, currentMetrics: metricStatuses });
        return period;
      }
      desired = computed.replicas;
      if (desired > current) reason = `${computed.metric} above target`;
      if (desired < current) reason = 'All metrics below target';
      const limited = behavior
        ? this.normalizeWithBehavior(rec, behavior, current, desired, minReplicas, maxReplicas, conds, now)
        : this.normalizeLegacy(rec, current, desired, minReplicas, maxReplicas, conds, now);
      desired = limited;
      rescale = desired !== current;
    }

    const status: HorizontalPodAutoscalerStatus = { ...statusBase(before), currentReplicas: current, desiredReplicas: desired, currentMetrics: metricStatuses };
    if (rescale) {
      const scaled = clone(t.obj);
      (scaled.spec as { replicas?: number }).replicas = desired;
      try {
        // Conditional on the resourceVersion read: a target changed meanwhile is re-read.
        await cluster.update(scaled);
      } catch (e) {
        const msg = (e as Error)?.message ?? String(e);
        events.event(obj, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${reason}; error: ${msg}`);
        setCondition(conds, 'AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${msg}`, now);
        await writeStatus({ ...status, desiredReplicas: before.desiredReplicas ?? 0 }).catch(() => {});
        throw e;
      }
      setCondition(conds, 'AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`, now);
      events.event(obj, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${reason}`);
      rec.recordScale(behavior, current, desired, now);
      this.ctx.log.info(`hpa ${key}: scaled ${hpa.spec.scaleTargetRef.kind}/${hpa.spec.scaleTargetRef.name} from ${current} to ${desired} (${reason})`);
      status.lastScaleTime = formatTime(now);
    } else {
      status.desiredReplicas = current;
    }
    await writeStatus(status);
    return period;
  }

  private normalizeLegacy(rec: HpaRecommender, current: number, desired: number, min: number, max: number, conds: Condition[], now: number): number {
    const stabilized = rec.stabilizeLegacy(desired, now, this.ctx.config.hpaDownscaleStabilizationMs);
    if (stabilized !== desired) {
      setCondition(conds, 'AbleToScale', 'True', 'ScaleDownStabilized', 'recent recommendations were higher than current one, applying the highest recent recommendation', now);
    } else {
      setCondition(conds, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size', now);
    }
    const l = convertDesiredReplicasWithRules(current, stabilized, min, max);
    setCondition(conds, 'ScalingLimited', l.replicas === stabilized ? 'False' : 'True', l.reason, l.message, now);
    return l.replicas;
  }

  private normalizeWithBehavior(rec: HpaRecommender, b: Behavior, current: number, desired: number, min: number, max: number, conds: Condition[], now: number): number {
    const s = rec.stabilizeWithBehavior(current, desired, b, now);
    if (s.replicas !== desired) setCondition(conds, 'AbleToScale', 'True', s.reason, s.message, now);
    else setCondition(conds, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size', now);
    const l = convertWithBehaviorRate(current, s.replicas, min, max, b, rec, now);
    setCondition(conds, 'ScalingLimited', l.replicas === s.replicas ? 'False' : 'True', l.reason, l.message, now);
    return l.replicas;
  }

  /** Kubernetes' computeReplicasForMetrics: the largest recommendation over the metrics. */
  private computeReplicasForMetrics(
    obj: PlainObject,
    hpa: HorizontalPodAutoscaler,
    t: Target,
    current: number,
    conds: Condition[],
    now: number,
  ): { replicas: number; metric: string; statuses: MetricStatus[]; error?: string } {
    const statuses: MetricStatus[] = [];
    if (!t.selector) {
      const msg = "the HPA target's scale is missing a selector";
      setCondition(conds, 'ScalingActive', 'False', 'InvalidSelector', msg, now);
      this.ctx.events.event(obj, 'Warning', 'SelectorRequired', 'selector is required');
      return { replicas: -1, metric: '', statuses, error: msg };
    }
    let selectorText: string;
    try {
      selectorText = selectorFromLabelSelector(t.selector).toString();
    } catch (e) {
      const msg = `couldn't convert selector into a corresponding internal selector object: ${(e as Error).message}`;
      setCondition(conds, 'ScalingActive', 'False', 'InvalidSelector', msg, now);
      this.ctx.events.event(obj, 'Warning', 'InvalidSelector', msg);
      return { replicas: -1, metric: '', statuses, error: msg };
    }
    const namespace = metaOf(obj).namespace ?? '';
    const podObjs = this.ctx.cluster.list('Pod', { namespace, ...(selectorText ? { labelSelector: selectorText } : {}) });
    const specs = hpa.spec.metrics ?? [];
    let replicas = 0;
    let metric = '';
    let invalid = 0;
    let firstError: { reason: string; message: string } | undefined;
    for (const spec of specs) {
      const out = this.computeMetric(spec, podObjs, current, now);
      if (out.status) statuses.push(out.status);
      if (out.error) {
        invalid++;
        firstError ??= out.error;
        this.ctx.events.event(obj, 'Warning', out.error.reason, out.error.message);
        continue;
      }
      if (out.replicas > replicas) {
        replicas = out.replicas;
        metric = out.name;
      }
    }
    // All invalid, or some invalid and the valid ones would scale down: do not act on partial data.
    if (specs.length === 0 || invalid >= specs.length || (invalid > 0 && replicas < current)) {
      const first = firstError ?? { reason: 'InvalidMetricSourceType', message: 'no metrics specified' };
      setCondition(conds, 'ScalingActive', 'False', first.reason, `the HPA was unable to compute the replica count: ${first.message}`, now);
      return { replicas: -1, metric: '', statuses, error: `invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${first.message}` };
    }
    setCondition(conds, 'ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${metric}`, now);
    return { replicas, metric, statuses };
  }

  private computeMetric(spec: MetricSpec, podObjs: PlainObject[], current: number, now: number): MetricOutcome {
    if (spec.type !== 'Resource' || !spec.resource) {
      return { replicas: 0, name: '', error: { reason: 'InvalidMetricSourceType', message: `unsupported metric source type "${spec.type}"` } };
    }
    const resource = spec.resource.name;
    const tgt = spec.resource.target;
    if (resource !== 'cpu' && resource !== 'memory') {
      return { replicas: 0, name: '', error: { reason: 'FailedGetResourceMetric', message: `failed to get ${resource} resource metric value: unsupported resource ${resource}` } };
    }
    let target: ResourceTarget;
    let name: string;
    if (tgt.type === 'Utilization' && tgt.averageUtilization !== undefined) {
      target = { type: 'Utilization', averageUtilization: tgt.averageUtilization };
      name = `${resource} resource utilization (percentage of request)`;
    } else if (tgt.type === 'AverageValue' && tgt.averageValue !== undefined && tryParseQuantity(tgt.averageValue)) {
      target = { type: 'AverageValue', averageValueMilli: Number(Quantity.parse(tgt.averageValue).milliValue()) };
      name = `${resource} resource`;
    } else {
      return { replicas: 0, name: '', error: { reason: 'FailedGetResourceMetric', message: `invalid resource metric source: neither a utilization target nor a value target was set` } };
    }
    const pods = podObjs.map((p) => toHpaPod(p, resource, this.ctx.usage));
    const tolerance = this.tolerances();
    try {
      const r = computeResourceReplicas({
        currentReplicas: current,
        pods,
        resource,
        target,
        tolerance,
        now,
        cpuInitializationPeriodMs: this.cpuInitMs,
        delayOfInitialReadinessStatusMs: this.readinessDelayMs,
        metricWindowMs: this.windowMs,
      });
      const currentValue =
        target.type === 'Utilization'
          ? { averageUtilization: r.utilization ?? 0, averageValue: Quantity.fromMilli(r.averageMilli).toString() }
          : { averageValue: Quantity.fromMilli(r.averageMilli).toString() };
      return { replicas: r.replicas, name, status: { type: 'Resource', resource: { name: resource, current: currentValue } } };
    } catch (e) {
      const what = target.type === 'Utilization' ? 'utilization' : 'usage';
      return {
        replicas: 0,
        name,
        error: { reason: 'FailedGetResourceMetric', message: `failed to get ${resource} resource metric value: failed to get ${resource} ${what}: ${(e as Error).message}` },
      };
    }
  }

  private tolerances(): Tolerances {
    const t = this.ctx.config.hpaTolerance;
    return { up: t, down: t };
  }
}

function statusBase(s: HorizontalPodAutoscalerStatus): HorizontalPodAutoscalerStatus {
  return { desiredReplicas: s.desiredReplicas ?? 0, ...(s.lastScaleTime ? { lastScaleTime: s.lastScaleTime } : {}) };
}

/** A pod as the calculation sees it: phase, readiness, requests of `resource`, latest usage. */
export function toHpaPod(pod: PlainObject, resource: string, usage: UsageSource): HpaPod {
  const p = pod as unknown as Pod;
  const m = metaOf(pod);
  let request = 0;
  let missing: string | undefined;
  for (const c of p.spec?.containers ?? []) {
    const q = tryParseQuantity(c.resources?.requests?.[resource]);
    if (!q) {
      missing ??= c.name;
      continue;
    }
    request += Number(q.milliValue());
  }
  const ready = podCondition(pod, 'Ready');
  const sample = usage.podUsage(m.namespace ?? '', m.name ?? '');
  let used: HpaPod['usage'];
  if (sample && sample.containers.length > 0) {
    let milli = 0;
    for (const c of sample.containers) milli += resource === 'cpu' ? c.cpuMillicores : c.memoryBytes * 1000;
    used = { milli, timestamp: sample.timestamp };
  }
  const startTime = parseTime(p.status?.startTime);
  const since = parseTime(ready?.lastTransitionTime);
  return {
    name: m.name ?? '',
    phase: podPhase(pod),
    deleting: Boolean(m.deletionTimestamp),
    ...(ready ? { ready: { status: ready.status, ...(since !== undefined ? { since } : {}) } } : {}),
    ...(startTime !== undefined ? { startTime } : {}),
    ...(missing === undefined ? { requestMilli: request } : { missingRequestContainer: missing }),
    ...(used ? { usage: used } : {}),
  };
}

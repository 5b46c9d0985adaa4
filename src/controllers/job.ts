/**
 * The Job controller (Kubernetes' pkg/controller/job, with the TTL-after-finished
 * controller folded in): runs pods from a Job's template until `completions` of them
 * succeed (NonIndexed), or one pod per index succeeds (Indexed), at most `parallelism` at
 * a time, replacing failed pods after an exponential back-off until `backoffLimit` or
 * `activeDeadlineSeconds` fails the Job.
 *
 * Counting follows Kubernetes' pod-tracking finalizers, so a count never depends on pods
 * staying around: every pod is created with the `batch.kubernetes.io/job-tracking`
 * finalizer; a pod that finished is first written into status.uncountedTerminatedPods,
 * then its finalizer is removed, then its uid moves from that list into
 * status.succeeded / status.failed. Each step is a write conditional on what was read,
 * and a crash between steps leaves enough in the store for the next sync to finish the
 * step, never to count a pod twice (ARCHITECTURE rule 3).
 *
 * Finishing is two-step as in recent Kubernetes: FailureTarget / SuccessCriteriaMet first
 * (active pods are deleted), then Failed / Complete once no pod is terminating and
 * everything is counted. A finished Job with ttlSecondsAfterFinished is deleted (background
 * propagation) that long after it finished.
 *
 * Not done: podFailurePolicy, backoffLimitPerIndex / maxFailedIndexes, successPolicy,
 * adoption of orphan pods matching a manual selector.
 */
import type { Condition, Job, JobStatus, Pod } from '../api/index.ts';
import {
  clone,
  ControllerExpectations,
  ControllerIndex,
  cryptoRandom,
  formatTime,
  generatedName,
  getControllerOf,
  guarded,
  isBeingDeleted,
  isNotFound,
  isPodReady,
  keyOf,
  metaOf,
  parseTime,
  podCondition,
  podPhase,
  sameJson,
  slowStartBatch,
  splitKey,
  type RandomSource,
} from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import type { Controller, ControllerContext, ObjectEvent, PlainObject } from './types.ts';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
export const JOB_COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
export const LABEL_CONTROLLER_UID = 'batch.kubernetes.io/controller-uid';
export const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name';
const LEGACY_CONTROLLER_UID = 'controller-uid';
const LEGACY_JOB_NAME = 'job-name';

/** Kubernetes' DefaultJobPodFailureBackOff and the cap of the doubling. */
export const DEFAULT_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 6 * 60_000;

export interface JobControllerOptions {
  /** Source of pod name suffixes. Default: crypto. */
  random?: RandomSource;
  concurrency?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Most pods created or deleted in one sync (Kubernetes' MaxPodCreateDeletePerSync). */
  maxPodsPerSync?: number;
}

// ---- pure helpers ---------------------------------------------------------------------------

/** The delay before the next pod after `failures` failures in a row: 10 s doubling, capped. */
export function podFailureBackoff(failures: number, baseMs = DEFAULT_BACKOFF_MS, maxMs = MAX_BACKOFF_MS): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

/** When a pod finished (Kubernetes' getFinishedTime): Ready turning False, the last container exit, deletion, creation. */
export function podFinishTime(pod: PlainObject): number {
  const p = pod as unknown as Pod;
  const ready = podCondition(pod, 'Ready');
  const phase = podPhase(pod);
  if ((phase === 'Succeeded' || phase === 'Failed') && ready?.status === 'False') {
    const t = parseTime(ready.lastTransitionTime);
    if (t !== undefined) return t;
  }
  let last: number | undefined;
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    const t = parseTime(c.state?.terminated?.finishedAt);
    if (t !== undefined && (last === undefined || t > last)) last = t;
  }
  if (last !== undefined) return last;
  return parseTime(metaOf(pod).deletionTimestamp) ?? parseTime(metaOf(pod).creationTimestamp) ?? 0;
}

function isFailedPod(pod: PlainObject): boolean {
  const phase = podPhase(pod);
  return phase === 'Failed' || (isBeingDeleted(pod) && phase !== 'Succeeded');
}

/**
 * How long until a replacement pod may be created: the back-off for the failures since the
 * last success, counted from the last failure (all read from the pods themselves).
 */
export function backoffRemaining(pods: readonly PlainObject[], now: number, baseMs = DEFAULT_BACKOFF_MS, maxMs = MAX_BACKOFF_MS): number {
  let lastSuccess = Number.NEGATIVE_INFINITY;
  for (const p of pods) if (podPhase(p) === 'Succeeded') lastSuccess = Math.max(lastSuccess, podFinishTime(p));
  let n = 0;
  let lastFailure = Number.NEGATIVE_INFINITY;
  for (const p of pods) {
    if (!isFailedPod(p)) continue;
    const t = podFinishTime(p);
    if (t <= lastSuccess) continue;
    n++;
    lastFailure = Math.max(lastFailure, t);
  }
  if (n === 0) return 0;
  return Math.max(0, lastFailure + podFailureBackoff(n, baseMs, maxMs) - now);
}

/** "1,3-5,7" → {1,3,4,5,7}. Malformed parts are skipped. */
export function parseIndexes(text: string | undefined): Set<number> {
  const out = new Set<number>();
  if (!text) return out;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b && i - a < 1_000_000; i++) out.add(i);
  }
  return out;
}

/** {1,3,4,5,7} → "1,3-5,7". */
export function formatIndexes(set: Iterable<number>): string {
  const xs = [...set].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    parts.push(i === j ? String(xs[i]) : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function completionIndex(pod: PlainObject): number | undefined {
  const v = metaOf(pod).annotations?.[JOB_COMPLETION_INDEX] ?? metaOf(pod).labels?.[JOB_COMPLETION_INDEX];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** Order pods so the cheapest to lose come first (Kubernetes' ActivePods ordering, in short). */
function deletionOrder(a: PlainObject, b: PlainObject): number {
  const pa = a as unknown as Pod;
  const pb = b as unknown as Pod;
  const assigned = (p: Pod) => (p.spec?.nodeName ? 1 : 0);
  if (assigned(pa) !== assigned(pb)) return assigned(pa) - assigned(pb);
  const rank = (p: PlainObject) => ({ Pending: 0, Unknown: 1, Running: 2 })[podPhase(p)] ?? 3;
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  const ready = (p: PlainObject) => (isPodReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  const restarts = (p: Pod) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
  if (restarts(pa) !== restarts(pb)) return restarts(pb) - restarts(pa);
  const created = (p: PlainObject) => parseTime(metaOf(p).creationTimestamp) ?? 0;
  return created(b) - created(a);
}

function hasFinalizer(pod: PlainObject): boolean {
  return (metaOf(pod).finalizers ?? []).includes(JOB_TRACKING_FINALIZER);
}

function condition(conds: readonly Condition[] | undefined, type: string): Condition | undefined {
  return (conds ?? []).find((c) => c.type === type && c.status === 'True');
}

/** The finished condition (Complete or Failed, status True), if any. */
export function jobFinishedCondition(job: PlainObject): Condition | undefined {
  const conds = (job as unknown as Job).status?.conditions;
  return condition(conds, 'Complete') ?? condition(conds, 'Failed');
}

/** Set a Job condition; returns true when it changed. Transition time moves only with the status. */
function setCondition(conds: Condition[], type: string, status: 'True' | 'False', reason: string, message: string, now: number): boolean {
  const c = conds.find((x) => x.type === type);
  if (c && c.status === status && c.reason === reason && c.message === message) return false;
  if (!c) {
    // A False condition that was never True need not be written (ensureJobConditionStatus).
    if (status === 'False') return false;
    conds.push({ type, status, lastProbeTime: formatTime(now), lastTransitionTime: formatTime(now), reason, message });
    return true;
  }
  if (c.status !== status) c.lastTransitionTime = formatTime(now);
  c.lastProbeTime = formatTime(now);
  c.status = status;
  c.reason = reason;
  c.message = message;
  return true;
}

interface Finish {
  /** The interim condition: FailureTarget or SuccessCriteriaMet. */
  type: 'FailureTarget' | 'SuccessCriteriaMet';
  reason: string;
  message: string;
}

// ---- the controller -------------------------------------------------------------------------

export class JobController implements Controller {
  readonly name = 'job';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  private expectations!: ControllerExpectations;
  private readonly pods = new ControllerIndex();
  private readonly random: RandomSource;
  private readonly concurrency: number;
  private readonly backoffBase: number;
  private readonly backoffMax: number;
  private readonly maxPerSync: number;

  constructor(opts: JobControllerOptions = {}) {
    this.random = opts.random ?? cryptoRandom;
    this.concurrency = opts.concurrency ?? 5;
    this.backoffBase = opts.backoffBaseMs ?? DEFAULT_BACKOFF_MS;
    this.backoffMax = opts.backoffMaxMs ?? MAX_BACKOFF_MS;
    this.maxPerSync = opts.maxPodsPerSync ?? 500;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = ctx;
    this.expectations = new ControllerExpectations(ctx.clock);
    this.queue = new WorkQueue((key) => this.sync(key), {
      clock: ctx.clock,
      concurrency: this.concurrency,
      baseDelayMs: 10,
      maxDelayMs: 60_000,
      onError: (key, err, n) => ctx.log.debug(`job ${key}: sync failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    const { cluster } = ctx;
    // List, then watch: both synchronous on the local store, so nothing falls between.
    for (const p of cluster.list('Pod')) {
      this.pods.upsert(p);
      if (hasFinalizer(p) && !this.jobKeyOf(p)) this.queue.add(podKey(p));
    }
    const stopPods = cluster.watch('Pod', guarded(ctx.log, 'job pod watch', (ev: ObjectEvent) => this.onPod(ev)));
    for (const j of cluster.list('Job')) this.queue.add(keyOf(j));
    const stopJobs = cluster.watch('Job', guarded(ctx.log, 'job watch', (ev: ObjectEvent) => this.onJob(ev)));
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        stopPods();
        stopJobs();
      },
      { once: true },
    );
  }

  /** Resolves when no sync is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  // ---- events ---------------------------------------------------------------------------

  private onJob(ev: ObjectEvent): void {
    const key = keyOf(ev.object);
    if (ev.type === 'DELETED') {
      this.expectations.forget(key);
      // Its pods keep our finalizer until we take it off.
      for (const k of this.pods.ownedBy(metaOf(ev.object).uid ?? '')) this.queue.add(`pod:${k}`);
      return;
    }
    this.queue.add(key);
  }

  /** The key of the Job controlling `pod`, when that Job exists with that uid. */
  private jobKeyOf(pod: PlainObject): string | undefined {
    const ref = getControllerOf(pod);
    if (!ref || ref.kind !== 'Job') return undefined;
    const ns = metaOf(pod).namespace ?? '';
    const job = this.ctx.cluster.get('Job', ns, ref.name);
    return job && metaOf(job).uid === ref.uid ? `${ns}/${ref.name}` : undefined;
  }

  private onPod(ev: ObjectEvent): void {
    const pod = ev.object;
    if (ev.type === 'DELETED') this.pods.remove(pod);
    else this.pods.upsert(pod);
    const jobKey = this.jobKeyOf(pod);
    if (!jobKey) {
      if (ev.type !== 'DELETED' && hasFinalizer(pod)) this.queue.add(podKey(pod));
      return;
    }
    if (ev.type === 'ADDED') this.expectations.creationObserved(jobKey);
    // Observing a deletion twice is harmless: each awaited pod is counted once.
    if (ev.type === 'DELETED' || isBeingDeleted(pod)) this.expectations.deletionObserved(jobKey, keyOf(pod));
    this.queue.add(jobKey);
  }

  // ---- sync ------------------------------------------------------------------------------

  private podsOf(uid: string): PlainObject[] {
    const out: PlainObject[] = [];
    for (const k of this.pods.ownedBy(uid)) {
      const { namespace, name } = splitKey(k);
      const p = this.ctx.cluster.get('Pod', namespace, name);
      if (p && getControllerOf(p)?.uid === uid) out.push(p);
    }
    return out;
  }

  private async sync(key: string): Promise<number | void> {
    if (key.startsWith('pod:')) return this.syncOrphanPod(key.slice(4));
    const { cluster } = this.ctx;
    const { namespace, name } = splitKey(key);
    const job = cluster.get('Job', namespace, name);
    if (!job) {
      this.expectations.forget(key);
      return;
    }
    const uid = metaOf(job).uid ?? '';
    const pods = this.podsOf(uid);
    if (jobFinishedCondition(job)) {
      // Counting is over: nothing more may hold a pod.
      await this.removeFinalizers(pods.filter(hasFinalizer));
      this.expectations.forget(key);
      return this.ttl(job);
    }
    if (isBeingDeleted(job)) {
      await this.removeFinalizers(pods.filter(hasFinalizer));
      return;
    }
    return this.syncJob(key, job, pods);
  }

  private async syncJob(key: string, jobObj: PlainObject, pods: PlainObject[]): Promise<number | void> {
    const { cluster, clock, events } = this.ctx;
    const job = jobObj as unknown as Job;
    const spec = job.spec;
    const now = clock.now();
    const uid = metaOf(jobObj).uid ?? '';
    const indexed = spec.completionMode === 'Indexed';
    const completions = spec.completions;
    const parallelism = spec.parallelism ?? 1;
    const backoffLimit = spec.backoffLimit ?? 6;
    const suspended = spec.suspend === true;
    const requeue: number[] = [];

    const st: JobStatus = clone(job.status ?? {});
    const conds: Condition[] = (st.conditions ??= []);
    const uncounted = {
      succeeded: new Set(st.uncountedTerminatedPods?.succeeded ?? []),
      failed: new Set(st.uncountedTerminatedPods?.failed ?? []),
    };
    const completed = parseIndexes(st.completedIndexes);

    const interim = condition(conds, 'FailureTarget') ?? condition(conds, 'SuccessCriteriaMet');
    let finish: Finish | undefined = interim
      ? { type: interim.type as Finish['type'], reason: interim.reason ?? '', message: interim.message ?? '' }
      : undefined;

    // Finished pods still holding our finalizer and not yet listed: count them now.
    const newSucceeded: PlainObject[] = [];
    const newFailed: PlainObject[] = [];
    const uncountable: PlainObject[] = [];
    const newIndexes = new Set<number>();
    for (const p of pods) {
      const puid = metaOf(p).uid ?? '';
      if (!hasFinalizer(p) || uncounted.succeeded.has(puid) || uncounted.failed.has(puid)) continue;
      const phase = podPhase(p);
      const ix = completionIndex(p);
      const validIndex = !indexed || (ix !== undefined && completions !== undefined && ix < completions);
      if (phase === 'Succeeded') {
        if (!validIndex || (indexed && (completed.has(ix!) || newIndexes.has(ix!)))) uncountable.push(p);
        else {
          newSucceeded.push(p);
          if (indexed) newIndexes.add(ix!);
        }
      } else if (phase === 'Failed' || isBeingDeleted(p)) {
        // Pods stopped because the Job was suspended are not failures.
        if ((suspended && !finish && phase !== 'Failed') || !validIndex) uncountable.push(p);
        else newFailed.push(p);
      }
    }
    for (const ix of newIndexes) completed.add(ix);
    const succeededCount = indexed ? completed.size : (st.succeeded ?? 0) + uncounted.succeeded.size + newSucceeded.length;
    const failedCount = (st.failed ?? 0) + uncounted.failed.size + newFailed.length;
    const active = pods.filter((p) => !isBeingDeleted(p) && podPhase(p) !== 'Succeeded' && podPhase(p) !== 'Failed');
    const terminating = pods.filter((p) => isBeingDeleted(p) && podPhase(p) !== 'Succeeded' && podPhase(p) !== 'Failed');

    // Start time, suspension.
    if (!suspended && !st.startTime) st.startTime = formatTime(now);
    if (suspended && !finish) {
      if (setCondition(conds, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now)) events.event(jobObj, 'Normal', 'Suspended', 'Job suspended');
      // The deadline counts active time only: it starts again on resume.
      if (active.length === 0) delete st.startTime;
    } else if (!suspended && condition(conds, 'Suspended')) {
      setCondition(conds, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
      st.startTime = formatTime(now);
      events.event(jobObj, 'Normal', 'Resumed', 'Job resumed');
    }

    // Has it failed?
    if (!finish) {
      const deadline = spec.activeDeadlineSeconds;
      const started = parseTime(st.startTime);
      if (failedCount > backoffLimit || this.pastBackoffLimitOnFailure(job, active)) {
        finish = { type: 'FailureTarget', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
      } else if (deadline !== undefined && !suspended && started !== undefined && now - started >= deadline * 1000) {
        finish = { type: 'FailureTarget', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
      } else if (deadline !== undefined && !suspended && started !== undefined) {
        requeue.push(started + deadline * 1000 - now);
      }
    }

    // Write A: the newly finished pods and the decision, before any finalizer goes.
    for (const p of newSucceeded) uncounted.succeeded.add(metaOf(p).uid ?? '');
    for (const p of newFailed) uncounted.failed.add(metaOf(p).uid ?? '');
    if (finish?.type === 'FailureTarget') setCondition(conds, 'FailureTarget', 'True', finish.reason, finish.message, now);
    if (indexed) st.completedIndexes = formatIndexes(completed);
    st.uncountedTerminatedPods = uncountedStatus(uncounted);
    let current = jobObj;
    if (!sameJson(st, job.status ?? {})) current = await cluster.updateStatus({ ...clone(jobObj), status: clone(st) });

    // Pods: stop them, or make up the difference.
    let deleting: PlainObject[] = [];
    let creating: number[] = [];
    if (finish || suspended) deleting = active;
    else if (this.expectations.satisfied(key)) {
      const plan = indexed ? this.planIndexed(spec, active, terminating, completed, parallelism) : this.planNonIndexed(spec, active, terminating, succeededCount, parallelism);
      deleting = plan.delete;
      creating = plan.create;
      if (creating.length > 0) {
        const wait = backoffRemaining(pods, now, this.backoffBase, this.backoffMax);
        if (wait > 0) {
          requeue.push(wait);
          creating = [];
        }
      }
    }
    const errors: unknown[] = [];
    if (deleting.length > 0) await this.deletePods(key, jobObj, deleting.slice(0, this.maxPerSync), errors);
    else if (creating.length > 0) await this.createPods(key, jobObj, creating.slice(0, this.maxPerSync), errors);

    // Finalizers: of the pods now listed as uncounted, and of those never to be counted.
    const listed = pods.filter((p) => hasFinalizer(p) && (uncounted.succeeded.has(metaOf(p).uid ?? '') || uncounted.failed.has(metaOf(p).uid ?? '')));
    await this.removeFinalizers([...listed, ...uncountable]);

    // Write B: move uids whose finalizer is gone into the counts; active, ready, conditions.
    const after = this.podsOf(uid);
    const holding = new Set(after.filter(hasFinalizer).map((p) => metaOf(p).uid ?? ''));
    for (const u of [...uncounted.succeeded]) {
      if (holding.has(u)) continue;
      uncounted.succeeded.delete(u);
      if (!indexed) st.succeeded = (st.succeeded ?? 0) + 1;
    }
    for (const u of [...uncounted.failed]) {
      if (holding.has(u)) continue;
      uncounted.failed.delete(u);
      st.failed = (st.failed ?? 0) + 1;
    }
    if (indexed) st.succeeded = completed.size;
    st.succeeded ??= 0;
    st.failed ??= 0;
    st.uncountedTerminatedPods = uncountedStatus(uncounted);
    const activeAfter = after.filter((p) => !isBeingDeleted(p) && podPhase(p) !== 'Succeeded' && podPhase(p) !== 'Failed');
    const terminatingAfter = after.filter((p) => isBeingDeleted(p) && podPhase(p) !== 'Succeeded' && podPhase(p) !== 'Failed');
    st.active = activeAfter.length;
    st.ready = activeAfter.filter(isPodReady).length;
    st.terminating = terminatingAfter.length;

    if (!finish && !suspended) {
      const complete = completions === undefined ? succeededCount > 0 && activeAfter.length === 0 : succeededCount >= completions && activeAfter.length === 0;
      if (complete) {
        finish = { type: 'SuccessCriteriaMet', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
        setCondition(conds, 'SuccessCriteriaMet', 'True', finish.reason, finish.message, now);
      }
    }
    // Pods that finished while this sync ran are counted by the next one: not finished before that.
    const unaccounted = after.filter((p) => hasFinalizer(p) && (isBeingDeleted(p) || podPhase(p) === 'Succeeded' || podPhase(p) === 'Failed')).length;
    let finished = false;
    if (finish && uncounted.succeeded.size + uncounted.failed.size + unaccounted === 0 && terminatingAfter.length === 0 && activeAfter.length === 0) {
      const type = finish.type === 'FailureTarget' ? 'Failed' : 'Complete';
      setCondition(conds, type, 'True', finish.reason, finish.message, now);
      if (type === 'Complete') {
        st.completionTime = formatTime(now);
        events.event(jobObj, 'Normal', 'Completed', 'Job completed');
      } else {
        events.event(jobObj, 'Warning', finish.reason, finish.message);
      }
      finished = true;
    }
    if (!sameJson(st, (current as unknown as Job).status ?? {})) current = await cluster.updateStatus({ ...clone(current), status: clone(st) });
    if (errors.length > 0) throw errors[0];
    if (finished) {
      this.expectations.forget(key);
      const t = this.ttl(current);
      if (typeof t === 'number') requeue.push(t);
    }
    const positive = requeue.filter((x) => x >= 0);
    return positive.length > 0 ? Math.max(1, Math.min(...positive)) : undefined;
  }

  /** restartPolicy OnFailure: container restarts of running pods count against backoffLimit. */
  private pastBackoffLimitOnFailure(job: Job, active: PlainObject[]): boolean {
    if (job.spec.template.spec.restartPolicy !== 'OnFailure') return false;
    let restarts = 0;
    for (const p of active) {
      const phase = podPhase(p);
      if (phase !== 'Running' && phase !== 'Pending') continue;
      const s = (p as unknown as Pod).status;
      for (const c of [...(s?.initContainerStatuses ?? []), ...(s?.containerStatuses ?? [])]) restarts += c.restartCount ?? 0;
    }
    const limit = job.spec.backoffLimit ?? 6;
    return limit === 0 ? restarts > 0 : restarts >= limit;
  }

  private planNonIndexed(spec: Job['spec'], active: PlainObject[], terminating: PlainObject[], succeeded: number, parallelism: number): { delete: PlainObject[]; create: number[] } {
    let want: number;
    if (spec.completions === undefined) {
      // A work queue: once one pod succeeded, let the others finish; start no more.
      want = succeeded > 0 ? active.length : parallelism;
    } else {
      want = Math.max(0, Math.min(spec.completions - succeeded, parallelism));
    }
    if (active.length > want) return { delete: [...active].sort(deletionOrder).slice(0, active.length - want), create: [] };
    // With podReplacementPolicy Failed a terminating pod is replaced only once it has failed.
    const busy = active.length + (spec.podReplacementPolicy === 'Failed' ? terminating.length : 0);
    const n = Math.max(0, want - busy);
    return { delete: [], create: Array.from({ length: n }, () => -1) };
  }

  private planIndexed(spec: Job['spec'], active: PlainObject[], terminating: PlainObject[], completed: Set<number>, parallelism: number): { delete: PlainObject[]; create: number[] } {
    const completions = spec.completions ?? 0;
    const toDelete: PlainObject[] = [];
    const running = new Map<number, PlainObject>();
    for (const p of [...active].sort((a, b) => -deletionOrder(a, b))) {
      const ix = completionIndex(p);
      // Out of range, already done, or a second pod for an index: not needed.
      if (ix === undefined || ix >= completions || completed.has(ix) || running.has(ix)) toDelete.push(p);
      else running.set(ix, p);
    }
    if (toDelete.length > 0) return { delete: toDelete, create: [] };
    const want = Math.max(0, Math.min(parallelism, completions - completed.size));
    if (running.size > want) {
      const extra = [...running.values()].sort(deletionOrder).slice(0, running.size - want);
      return { delete: extra, create: [] };
    }
    const busyIndexes = new Set(running.keys());
    if (spec.podReplacementPolicy === 'Failed') for (const p of terminating) if (completionIndex(p) !== undefined) busyIndexes.add(completionIndex(p)!);
    const room = want - running.size - (spec.podReplacementPolicy === 'Failed' ? terminating.length : 0);
    const create: number[] = [];
    for (let i = 0; i < completions && create.length < room; i++) if (!completed.has(i) && !busyIndexes.has(i)) create.push(i);
    return { delete: [], create };
  }

  private async deletePods(key: string, job: PlainObject, pods: PlainObject[], errors: unknown[]): Promise<void> {
    this.expectations.expectDeletions(key, pods.map(keyOf));
    await Promise.all(
      pods.map(async (p) => {
        const m = metaOf(p);
        try {
          await this.ctx.cluster.delete('Pod', m.namespace ?? '', m.name ?? '', { ...(m.uid ? { uid: m.uid } : {}) });
          this.ctx.events.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${m.name}`);
        } catch (e) {
          this.expectations.deletionObserved(key, keyOf(p));
          if (isNotFound(e)) return;
          this.ctx.events.event(job, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error)?.message ?? String(e)}`);
          errors.push(e);
        }
      }),
    );
  }

  private async createPods(key: string, job: PlainObject, indexes: number[], errors: unknown[]): Promise<void> {
    this.expectations.expectCreations(key, indexes.length);
    let next = 0;
    const r = await slowStartBatch(indexes.length, 1, async () => {
      const pod = this.podFor(job as unknown as Job, indexes[next++]!);
      await this.ctx.cluster.create(pod);
      this.ctx.events.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${metaOf(pod).name}`);
    });
    if (r.error !== undefined) {
      // What was not created will never be observed.
      this.expectations.creationObserved(key, indexes.length - r.done);
      this.ctx.events.event(job, 'Warning', 'FailedCreate', `Error creating: ${(r.error as Error)?.message ?? String(r.error)}`);
      errors.push(r.error);
    }
  }

  /** A pod from the template: labels to find it again, our finalizer, the owner reference; Indexed: its index. */
  podFor(job: Job, index: number): PlainObject {
    const m = job.metadata;
    const name = m.name ?? '';
    const uid = m.uid ?? '';
    const tmpl = job.spec.template;
    const labels: Record<string, string> = { ...(tmpl.metadata?.labels ?? {}) };
    if (!job.spec.manualSelector) {
      labels[LABEL_CONTROLLER_UID] = uid;
      labels[LEGACY_CONTROLLER_UID] = uid;
      labels[LABEL_JOB_NAME] = name;
      labels[LEGACY_JOB_NAME] = name;
    }
    const annotations: Record<string, string> = { ...(tmpl.metadata?.annotations ?? {}) };
    const spec = clone(tmpl.spec);
    let podName: string;
    if (index >= 0) {
      labels[JOB_COMPLETION_INDEX] = String(index);
      annotations[JOB_COMPLETION_INDEX] = String(index);
      podName = generatedName(`${name}-${index}`, this.random);
      spec.hostname ??= `${name}-${index}`;
      const env = { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${JOB_COMPLETION_INDEX}']` } } };
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        if (!(c.env ?? []).some((e) => e.name === env.name)) c.env = [...(c.env ?? []), clone(env)];
      }
    } else {
      podName = generatedName(name, this.random);
    }
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: podName,
        namespace: m.namespace,
        labels,
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        finalizers: [JOB_TRACKING_FINALIZER],
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid, controller: true, blockOwnerDeletion: true }],
      },
      spec,
    };
  }

  private async removeFinalizers(pods: PlainObject[]): Promise<void> {
    const results = await Promise.allSettled(pods.map((p) => this.removeFinalizer(p)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async removeFinalizer(pod: PlainObject): Promise<void> {
    const copy = clone(pod);
    const m = copy.metadata as { finalizers?: string[] };
    m.finalizers = (m.finalizers ?? []).filter((f) => f !== JOB_TRACKING_FINALIZER);
    if (m.finalizers.length === 0) delete m.finalizers;
    try {
      // Conditional on the pod's resourceVersion: a pod that changed is looked at again.
      await this.ctx.cluster.update(copy);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** A pod holding our finalizer whose Job is gone (or finished): let it go. */
  private async syncOrphanPod(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pod = this.ctx.cluster.get('Pod', namespace, name);
    if (!pod || !hasFinalizer(pod)) return;
    const jobKey = this.jobKeyOf(pod);
    if (jobKey) {
      this.queue.add(jobKey);
      return;
    }
    await this.removeFinalizer(pod);
  }

  /** ttlSecondsAfterFinished: delete the Job that long after it finished; otherwise when to look again. */
  private async ttl(jobObj: PlainObject): Promise<number | void> {
    const job = jobObj as unknown as Job;
    const ttl = job.spec.ttlSecondsAfterFinished;
    const cond = jobFinishedCondition(jobObj);
    if (ttl === undefined || !cond || isBeingDeleted(jobObj)) return;
    const finishedAt = parseTime(cond.lastTransitionTime) ?? parseTime(job.status?.completionTime);
    if (finishedAt === undefined) return;
    const due = finishedAt + ttl * 1000 - this.ctx.clock.now();
    if (due > 0) return due;
    const m = metaOf(jobObj);
    try {
      // Only this Job as read: one recreated or changed (its TTL too) meanwhile is looked at again.
      await this.ctx.cluster.delete('Job', m.namespace ?? '', m.name ?? '', {
        propagationPolicy: 'background',
        ...(m.uid ? { uid: m.uid } : {}),
        ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
      });
      this.ctx.log.info(`job ${keyOf(jobObj)}: deleted ${ttl}s after it finished (ttlSecondsAfterFinished)`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

function podKey(pod: PlainObject): string {
  return `pod:${keyOf(pod)}`;
}

function uncountedStatus(u: { succeeded: Set<string>; failed: Set<string> }): JobStatus['uncountedTerminatedPods'] {
  return {
    ...(u.succeeded.size > 0 ? { succeeded: [...u.succeeded].sort() } : {}),
    ...(u.failed.size > 0 ? { failed: [...u.failed].sort() } : {}),
  };
}

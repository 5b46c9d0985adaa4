/**
 * The CronJob controller (Kubernetes' cronjob_controllerv2): creates a Job for each
 * scheduled time of a CronJob's schedule (in its time zone), honouring concurrencyPolicy,
 * startingDeadlineSeconds, suspend and the history limits.
 *
 * A Job is named `<cronjob>-<scheduled time in minutes since the epoch>`, so deciding the
 * same scheduled time twice (a retry, a new leader reading an old status) cannot create
 * two Jobs: the second create fails with AlreadyExists. status.active and
 * lastScheduleTime are written conditional on the CronJob's resourceVersion.
 */
import type { CronJob, CronJobStatus, Job, ObjectReference } from '../api/index.ts';
import { isValidTimeZone, nextRun, parseCron, type CronSchedule } from '../api/index.ts';
import { clone, formatTime, getControllerOf, guarded, isAlreadyExists, isBeingDeleted, isNotFound, keyOf, metaOf, parseTime, sameJson, splitKey } from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import type { Controller, ControllerContext, ObjectEvent, PlainObject } from './types.ts';

/** Annotation with the scheduled time a Job was created for (RFC 3339 in the CronJob's zone). */
export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

/** Wake this long after a scheduled time, so the clock has surely passed it. */
const NEXT_SCHEDULE_DELTA_MS = 100;

/** The name of the Job for `scheduled` (minutes since the epoch, as Kubernetes). */
export function jobNameFor(cronJobName: string, scheduledMs: number): string {
  return `${cronJobName}-${Math.floor(scheduledMs / 60_000)}`;
}

export type MissedSchedules = 'none' | 'few' | 'many';

export interface MostRecent {
  /** Where the search started: creation, last schedule, or now - startingDeadlineSeconds. */
  earliest: number;
  /** The latest scheduled time in (earliest, now], if any. */
  mostRecent?: number;
  missed: MissedSchedules;
}

/**
 * Kubernetes' mostRecentScheduleTime: the latest unmet scheduled time, and a rough count of
 * how many were missed. `next(t)` is the first scheduled time strictly after t (or null).
 */
export function mostRecentScheduleTime(
  cj: { creationMs: number; lastScheduleMs?: number; startingDeadlineSeconds?: number },
  now: number,
  next: (t: number) => number | null,
  includeStartingDeadline: boolean,
): MostRecent {
  let earliest = cj.lastScheduleMs ?? cj.creationMs;
  if (includeStartingDeadline && cj.startingDeadlineSeconds !== undefined) {
    // Nothing older than the deadline may start any more.
    const deadline = now - cj.startingDeadlineSeconds * 1000;
    if (deadline > earliest) earliest = deadline;
  }
  const t1 = next(earliest);
  if (t1 === null || now < t1) return { earliest, missed: 'none' };
  const t2 = next(t1);
  if (t2 === null || now < t2) return { earliest, mostRecent: t1, missed: 'none' };
  const between = Math.round((t2 - t1) / 1000);
  if (between < 1) throw new Error('time difference between two schedules is less than 1 second');
  // Estimate how many fit between t1 and now, jump close to the end, then walk to now.
  const elapsed = Math.trunc((now - t1) / 1000);
  const missedCount = Math.trunc(elapsed / between) + 1;
  const potentialEarliest = t1 + (missedCount - 2) * between * 1000;
  let mostRecent: number | undefined;
  for (let t = next(potentialEarliest); t !== null && t <= now; t = next(t)) mostRecent = t;
  const missed: MissedSchedules = missedCount > 100 ? 'many' : missedCount > 0 ? 'few' : 'none';
  return mostRecent === undefined ? { earliest, missed } : { earliest, mostRecent, missed };
}

/** RFC 3339 in an IANA zone, with its offset ("Z" when the offset is zero, as Go prints it). */
export function formatInZone(ms: number, timeZone: string | undefined): string {
  const whole = Math.floor(ms / 1000) * 1000;
  const offset = zoneOffsetMs(whole, timeZone);
  const wall = new Date(whole + offset).toISOString().replace(/\.\d{3}Z$/, '');
  if (offset === 0) return `${wall}Z`;
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / 60_000;
  return `${wall}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Go's RFC1123Z ("Mon, 02 Jan 2006 15:04:05 -0700") in UTC, for the MissSchedule event. */
function formatRFC1123Z(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString().replace('GMT', '+0000');
}

function zoneOffsetMs(ms: number, timeZone: string | undefined): number {
  if (!timeZone || timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(new Date(ms));
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(name);
  if (!m) return 0;
  const v = (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000;
  return m[1] === '-' ? -v : v;
}

function finishedType(job: PlainObject): 'Complete' | 'Failed' | undefined {
  for (const c of (job as unknown as Job).status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  }
  return undefined;
}

function jobRef(job: PlainObject): ObjectReference {
  const m = metaOf(job);
  return { kind: 'Job', namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '', apiVersion: 'batch/v1', ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) };
}

export interface CronJobControllerOptions {
  concurrency?: number;
}

export class CronJobController implements Controller {
  readonly name = 'cronjob';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  private readonly concurrency: number;
  /** Generation last seen per CronJob: the watch does not say what changed. */
  private readonly generations = new Map<string, number | undefined>();

  constructor(opts: CronJobControllerOptions = {}) {
    this.concurrency = opts.concurrency ?? 3;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = ctx;
    this.queue = new WorkQueue((key) => this.sync(key), {
      clock: ctx.clock,
      concurrency: this.concurrency,
      baseDelayMs: 100,
      maxDelayMs: 60_000,
      onError: (key, err, n) => ctx.log.debug(`cronjob ${key}: sync failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    for (const cj of ctx.cluster.list('CronJob')) {
      this.generations.set(keyOf(cj), metaOf(cj).generation);
      this.queue.add(keyOf(cj));
    }
    const stopCron = ctx.cluster.watch('CronJob', guarded(ctx.log, 'cronjob watch', (ev: ObjectEvent) => this.onCronJob(ev)));
    const stopJobs = ctx.cluster.watch('Job', guarded(ctx.log, 'cronjob job watch', (ev: ObjectEvent) => this.onJob(ev)));
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        stopCron();
        stopJobs();
      },
      { once: true },
    );
  }

  /** Resolves when no sync is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  private onCronJob(ev: ObjectEvent): void {
    const key = keyOf(ev.object);
    if (ev.type === 'DELETED') {
      this.generations.delete(key);
      return;
    }
    // Our own status writes change nothing the decision has not already seen (deletion bumps the generation too).
    const gen = metaOf(ev.object).generation;
    const seen = this.generations.get(key);
    this.generations.set(key, gen);
    if (ev.type === 'MODIFIED' && seen !== undefined && seen === gen) return;
    this.queue.add(key);
  }

  private onJob(ev: ObjectEvent): void {
    const ref = getControllerOf(ev.object);
    if (!ref || ref.kind !== 'CronJob') return;
    this.queue.add(`${metaOf(ev.object).namespace ?? ''}/${ref.name}`);
  }

  private jobsOf(cj: PlainObject): PlainObject[] {
    const m = metaOf(cj);
    return this.ctx.cluster.list('Job', { namespace: m.namespace ?? '' }).filter((j) => {
      const ref = getControllerOf(j);
      return ref?.kind === 'CronJob' && ref.uid === m.uid;
    });
  }

  private async sync(key: string): Promise<number | void> {
    const { namespace, name } = splitKey(key);
    const obj = this.ctx.cluster.get('CronJob', namespace, name);
    if (!obj) return;
    const st: CronJobStatus = clone((obj as unknown as CronJob).status ?? {});
    const jobs = this.jobsOf(obj);
    let requeue: number | void = undefined;
    let error: unknown;
    try {
      requeue = await this.syncCronJob(obj, jobs, st);
    } catch (e) {
      error = e;
    }
    // History: always, whatever the schedule decided.
    await this.cleanupFinishedJobs(obj, this.jobsOf(obj), st);
    // Conditional on the version read: a CronJob changed meanwhile is decided again.
    if (!sameJson(st, (obj as unknown as CronJob).status ?? {})) await this.ctx.cluster.updateStatus({ ...clone(obj), status: st });
    if (error !== undefined) throw error;
    return requeue;
  }

  private async syncCronJob(obj: PlainObject, jobs: PlainObject[], st: CronJobStatus): Promise<number | void> {
    const { cluster, clock, events } = this.ctx;
    const cj = obj as unknown as CronJob;
    const m = metaOf(obj);
    const now = clock.now();
    st.active = [...(st.active ?? [])];

    const children = new Set<string>();
    for (const j of jobs) {
      const jm = metaOf(j);
      children.add(jm.uid ?? '');
      const inActive = st.active.some((a) => a.uid === jm.uid);
      const finished = finishedType(j);
      if (!inActive && !finished) {
        events.event(obj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${jm.name}`);
      } else if (inActive && finished) {
        st.active = st.active.filter((a) => a.uid !== jm.uid);
        events.event(obj, 'Normal', 'SawCompletedJob', `Saw completed job: ${jm.name}, condition: ${finished}`);
      }
      if (finished === 'Complete') {
        const done = (j as unknown as Job).status?.completionTime;
        const doneMs = parseTime(done);
        if (done && doneMs !== undefined && (parseTime(st.lastSuccessfulTime) ?? Number.NEGATIVE_INFINITY) < doneMs) st.lastSuccessfulTime = done;
      }
    }
    for (const a of [...st.active]) {
      if (children.has(a.uid ?? '')) continue;
      const j = cluster.get('Job', a.namespace ?? m.namespace ?? '', a.name ?? '');
      if (!j || metaOf(j).uid !== a.uid) {
        events.event(obj, 'Normal', 'MissingJob', `Active job went missing: ${a.name}`);
        st.active = st.active.filter((x) => x.uid !== a.uid);
      }
    }
    if (st.active.length === 0) delete st.active;

    if (isBeingDeleted(obj)) return;
    const tz = cj.spec.timeZone;
    if (tz !== undefined && !isValidTimeZone(tz)) {
      events.event(obj, 'Warning', 'UnknownTimeZone', `invalid timeZone: "${tz}": unknown time zone ${tz}`);
      return;
    }
    if (cj.spec.suspend) return;
    let sched: CronSchedule;
    try {
      sched = parseCron(cj.spec.schedule);
    } catch (e) {
      events.event(obj, 'Warning', 'UnparseableSchedule', `unparseable schedule: "${cj.spec.schedule}" : ${(e as Error).message}`);
      return;
    }
    const next = (t: number): number | null => nextRun(sched, new Date(t), tz)?.getTime() ?? null;
    const times = () => ({
      creationMs: parseTime(m.creationTimestamp) ?? now,
      ...(st.lastScheduleTime ? { lastScheduleMs: parseTime(st.lastScheduleTime)! } : {}),
      ...(cj.spec.startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds: cj.spec.startingDeadlineSeconds } : {}),
    });
    const untilNext = (): number | void => {
      let r: MostRecent;
      try {
        r = mostRecentScheduleTime(times(), now, next, false);
      } catch {
        r = { earliest: now, mostRecent: now, missed: 'none' };
      }
      const n = next(r.mostRecent ?? r.earliest);
      return n === null ? undefined : Math.max(1, n + NEXT_SCHEDULE_DELTA_MS - now);
    };

    let r: MostRecent;
    try {
      r = mostRecentScheduleTime(times(), now, next, true);
    } catch (e) {
      events.event(obj, 'Warning', 'InvalidSchedule', `invalid schedule: ${cj.spec.schedule} : ${(e as Error).message}`);
      return;
    }
    if (r.mostRecent === undefined) return untilNext();
    if (r.missed === 'many') {
      events.event(obj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
      this.ctx.log.warn(`cronjob ${keyOf(obj)}: too many missed start times; starting the latest only`);
    }
    const scheduled = r.mostRecent;
    const sds = cj.spec.startingDeadlineSeconds;
    if (sds !== undefined && scheduled + sds * 1000 < now) {
      events.event(obj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${formatRFC1123Z(scheduled)}`);
      return untilNext();
    }
    const jobName = jobNameFor(m.name ?? '', scheduled);
    if ((st.active ?? []).some((a) => a.name === jobName) || st.lastScheduleTime === formatTime(scheduled)) return untilNext();

    const policy = cj.spec.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && (st.active ?? []).length > 0) {
      events.event(obj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return untilNext();
    }
    if (policy === 'Replace') {
      for (const a of [...(st.active ?? [])]) {
        const j = cluster.get('Job', a.namespace ?? m.namespace ?? '', a.name ?? '');
        if (j && metaOf(j).uid === a.uid) await this.deleteJob(obj, j);
        st.active = (st.active ?? []).filter((x) => x.uid !== a.uid);
      }
      if (st.active?.length === 0) delete st.active;
    }

    const template = cj.spec.jobTemplate;
    const job: PlainObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: jobName,
        namespace: m.namespace,
        labels: { ...(template.metadata?.labels ?? {}) },
        annotations: { ...(template.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP_ANNOTATION]: formatInZone(scheduled, tz ?? sched.timeZone) },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: m.name ?? '', uid: m.uid ?? '', controller: true, blockOwnerDeletion: true }],
      },
      spec: clone(template.spec),
    };
    let created: PlainObject;
    try {
      created = await cluster.create(job);
      events.event(obj, 'Normal', 'SuccessfulCreate', `Created job ${jobName}`);
    } catch (e) {
      if (!isAlreadyExists(e)) {
        events.event(obj, 'Warning', 'FailedCreate', `Error creating job: ${(e as Error)?.message ?? String(e)}`);
        throw e;
      }
      // Decided before (a retry, or an earlier leader): adopt the decision if it is ours.
      const existing = cluster.get('Job', m.namespace ?? '', jobName);
      if (!existing || getControllerOf(existing)?.uid !== m.uid) return untilNext();
      if ((st.active ?? []).some((a) => a.uid === metaOf(existing).uid)) return untilNext();
      created = existing;
    }
    st.active = [...(st.active ?? []), jobRef(created)];
    st.lastScheduleTime = formatTime(scheduled);
    return untilNext();
  }

  private async deleteJob(cj: PlainObject, job: PlainObject): Promise<boolean> {
    const m = metaOf(job);
    try {
      await this.ctx.cluster.delete('Job', m.namespace ?? '', m.name ?? '', { propagationPolicy: 'background', ...(m.uid ? { uid: m.uid } : {}) });
    } catch (e) {
      if (!isNotFound(e)) {
        this.ctx.events.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${(e as Error)?.message ?? String(e)}`);
        return false;
      }
    }
    this.ctx.events.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${m.name}`);
    return true;
  }

  /** Keep the newest successfulJobsHistoryLimit Complete and failedJobsHistoryLimit Failed Jobs. */
  private async cleanupFinishedJobs(obj: PlainObject, jobs: PlainObject[], st: CronJobStatus): Promise<void> {
    const cj = obj as unknown as CronJob;
    const succeeded = jobs.filter((j) => finishedType(j) === 'Complete');
    const failed = jobs.filter((j) => finishedType(j) === 'Failed');
    for (const [list, limit] of [
      [succeeded, cj.spec.successfulJobsHistoryLimit],
      [failed, cj.spec.failedJobsHistoryLimit],
    ] as const) {
      if (limit === undefined || list.length <= limit) continue;
      const oldest = [...list].sort(byStartTime).slice(0, list.length - limit);
      for (const j of oldest) {
        if (isBeingDeleted(j)) continue;
        if (await this.deleteJob(obj, j)) {
          st.active = (st.active ?? []).filter((a) => a.uid !== metaOf(j).uid);
          if (st.active.length === 0) delete st.active;
        }
      }
    }
  }
}

/** Oldest first; Jobs that never started last; then by name (Kubernetes' byJobStartTime). */
function byStartTime(a: PlainObject, b: PlainObject): number {
  const ta = parseTime((a as unknown as Job).status?.startTime);
  const tb = parseTime((b as unknown as Job).status?.startTime);
  if (ta === undefined && tb !== undefined) return 1;
  if (ta !== undefined && tb === undefined) return -1;
  if (ta === tb || ta === undefined) return (metaOf(a).name ?? '').localeCompare(metaOf(b).name ?? '');
  return ta - tb!;
}

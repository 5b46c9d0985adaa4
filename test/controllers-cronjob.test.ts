import test from 'ava';
import { CronJobController, SCHEDULED_TIMESTAMP_ANNOTATION, formatInZone, jobNameFor, mostRecentScheduleTime } from '../src/controllers/cronjob.ts';
import { formatTime, getControllerOf, metaOf } from '../src/controllers/pod-util.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { PlainObject } from '../src/controllers/types.ts';
import { nextRun } from '../src/api/index.ts';

// ---- harness ---------------------------------------------------------------------------------

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  cc: CronJobController;
  start(): void;
  settle(): Promise<void>;
}

async function setup(startAt = Date.UTC(2026, 0, 1, 0, 0, 0), startController = true): Promise<Env> {
  const clock = new FakeClock(startAt);
  const cluster = await LocalCluster.create({ clock });
  const ctx = testContext(cluster, clock);
  const cc = new CronJobController();
  const settle = async () => {
    for (let i = 0; i < 100; i++) {
      const before = cluster.proposals;
      await flush();
      await cc.idle();
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controller did not settle');
  };
  const env = { clock, cluster, ctx, cc, start: () => cc.start(ctx), settle };
  if (startController) env.start();
  return env;
}

function cronJob(name: string, spec: Record<string, unknown>): PlainObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: 'default' },
    spec: {
      ...spec,
      jobTemplate: {
        metadata: { labels: { app: name } },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1' }] } } },
      },
    },
  };
}

function jobsOf(env: Env, name: string): PlainObject[] {
  const uid = metaOf(env.cluster.get('CronJob', 'default', name)!).uid;
  return env.cluster.list('Job', { namespace: 'default' }).filter((j) => getControllerOf(j)?.uid === uid);
}

function status(env: Env, name: string): { active?: { name: string }[]; lastScheduleTime?: string; lastSuccessfulTime?: string } {
  return (env.cluster.get('CronJob', 'default', name)!.status ?? {}) as never;
}

/** Finish a Job the way the Job controller would (it does not run in these tests). */
async function finishJob(env: Env, name: string, type: 'Complete' | 'Failed', startedAt?: number): Promise<void> {
  const j = env.cluster.get('Job', 'default', name)!;
  const now = formatTime(env.clock.now());
  await env.cluster.updateStatus({
    ...structuredClone(j),
    status: {
      startTime: formatTime(startedAt ?? env.clock.now()),
      ...(type === 'Complete' ? { completionTime: now, succeeded: 1 } : { failed: 1 }),
      conditions: [{ type, status: 'True', lastTransitionTime: now }],
    },
  });
}

const MIN = 60_000;

/** Move the clock to `ms` (the controller wakes 100 ms after a scheduled time: give it a second). */
async function advanceTo(env: Env, ms: number): Promise<void> {
  await env.clock.advance(ms - env.clock.now());
  await env.settle();
}

// ---- pure ---------------------------------------------------------------------------------------

test('job names carry the scheduled minute since the epoch', (t) => {
  t.is(jobNameFor('backup', Date.UTC(2026, 0, 1, 0, 5)), `backup-${Date.UTC(2026, 0, 1, 0, 5) / MIN}`);
});

test('scheduled timestamps are written in the CronJob zone', (t) => {
  t.is(formatInZone(Date.UTC(2026, 2, 7, 14, 30), 'America/New_York'), '2026-03-07T09:30:00-05:00');
  t.is(formatInZone(Date.UTC(2026, 2, 9, 13, 30), 'America/New_York'), '2026-03-09T09:30:00-04:00');
  t.is(formatInZone(Date.UTC(2026, 2, 9, 13, 30), 'Asia/Kolkata'), '2026-03-09T19:00:00+05:30');
  t.is(formatInZone(Date.UTC(2026, 2, 9, 13, 30), undefined), '2026-03-09T13:30:00Z');
});

test('mostRecentScheduleTime finds the latest unmet time and counts misses roughly', (t) => {
  const next = (tm: number) => nextRun('*/5 * * * *', new Date(tm))!.getTime();
  const base = Date.UTC(2026, 0, 1);
  t.deepEqual(mostRecentScheduleTime({ creationMs: base }, base + 4 * MIN, next, true), { earliest: base, missed: 'none' });
  t.deepEqual(mostRecentScheduleTime({ creationMs: base }, base + 7 * MIN, next, true), { earliest: base, mostRecent: base + 5 * MIN, missed: 'none' });
  t.deepEqual(mostRecentScheduleTime({ creationMs: base }, base + 23 * MIN, next, true), { earliest: base, mostRecent: base + 20 * MIN, missed: 'few' });
  const many = mostRecentScheduleTime({ creationMs: base }, base + 1000 * MIN, next, true);
  t.is(many.mostRecent, base + 1000 * MIN);
  t.is(many.missed, 'many');
  // A starting deadline moves the search start forward.
  const late = mostRecentScheduleTime({ creationMs: base, startingDeadlineSeconds: 60 }, base + 23 * MIN, next, true);
  t.is(late.earliest, base + 22 * MIN);
  t.is(late.mostRecent, undefined);
});

// ---- the controller ------------------------------------------------------------------------------

test('a job is created at each scheduled minute, named after it', async (t) => {
  const env = await setup();
  await env.cluster.create(cronJob('tick', { schedule: '*/5 * * * *' }));
  await env.settle();
  t.is(jobsOf(env, 'tick').length, 0);
  await env.clock.advance(5 * MIN - 1);
  await env.settle();
  t.is(jobsOf(env, 'tick').length, 0, 'not before the minute');
  await env.clock.advance(1000);
  await env.settle();
  const first = Date.UTC(2026, 0, 1, 0, 5);
  const jobs = jobsOf(env, 'tick');
  t.deepEqual(jobs.map((j) => metaOf(j).name), [jobNameFor('tick', first)]);
  const j = jobs[0]!;
  t.is(metaOf(j).labels?.app, 'tick');
  t.is(metaOf(j).annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION], '2026-01-01T00:05:00Z');
  t.is(getControllerOf(j)?.kind, 'CronJob');
  const st = status(env, 'tick');
  t.is(st.lastScheduleTime, formatTime(first));
  t.deepEqual(st.active?.map((a) => a.name), [jobNameFor('tick', first)]);
  t.is(env.ctx.events.withReason('SuccessfulCreate').length, 1);
});

test('schedules follow the time zone across a daylight-saving change', async (t) => {
  const env = await setup(Date.UTC(2026, 2, 7, 12, 0));
  await env.cluster.create(cronJob('tz', { schedule: '30 9 * * *', timeZone: 'America/New_York', concurrencyPolicy: 'Allow' }));
  await env.settle();
  await env.clock.advance(2 * 60 * MIN + 29 * MIN + 59_000); // 14:29:59Z = 09:29:59 EST
  await env.settle();
  t.is(jobsOf(env, 'tz').length, 0);
  await env.clock.advance(1000);
  await env.settle();
  t.is(jobsOf(env, 'tz').length, 0, 'due 100 ms after the minute');
  await advanceTo(env, Date.UTC(2026, 2, 7, 14, 30, 1));
  t.deepEqual(
    jobsOf(env, 'tz').map((j) => metaOf(j).annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION]),
    ['2026-03-07T09:30:00-05:00'],
  );
  // 8 March: clocks jump forward at 02:00; 09:30 EDT is 13:30Z, 23 h after the last run.
  await advanceTo(env, Date.UTC(2026, 2, 8, 13, 29, 59));
  t.is(jobsOf(env, 'tz').length, 1);
  await advanceTo(env, Date.UTC(2026, 2, 8, 13, 30, 1));
  const names = jobsOf(env, 'tz').map((j) => metaOf(j).name).sort();
  t.deepEqual(names, [jobNameFor('tz', Date.UTC(2026, 2, 7, 14, 30)), jobNameFor('tz', Date.UTC(2026, 2, 8, 13, 30))].sort());
});

test('Forbid skips while a job runs, then starts the missed run when it finishes', async (t) => {
  const env = await setup();
  await env.cluster.create(cronJob('forbid', { schedule: '* * * * *', concurrencyPolicy: 'Forbid' }));
  await advanceTo(env, Date.UTC(2026, 0, 1, 0, 1, 1));
  const [first] = jobsOf(env, 'forbid');
  t.truthy(first);
  await advanceTo(env, Date.UTC(2026, 0, 1, 0, 2, 1));
  t.is(jobsOf(env, 'forbid').length, 1, 'the second run is held back');
  t.true(env.ctx.events.withReason('JobAlreadyActive').length >= 1);
  await env.clock.advance(20_000);
  await finishJob(env, metaOf(first!).name!, 'Complete');
  await env.settle();
  const jobs = jobsOf(env, 'forbid');
  t.is(jobs.length, 2);
  t.true(jobs.some((j) => metaOf(j).name === jobNameFor('forbid', Date.UTC(2026, 0, 1, 0, 2))));
  const st = status(env, 'forbid');
  t.is(st.lastSuccessfulTime, formatTime(env.clock.now()));
  t.is(st.active?.length, 1);
  t.is(env.ctx.events.withReason('SawCompletedJob').length, 1);
});

test('Replace deletes the running job before starting the next', async (t) => {
  const env = await setup();
  await env.cluster.create(cronJob('replace', { schedule: '* * * * *', concurrencyPolicy: 'Replace' }));
  await advanceTo(env, Date.UTC(2026, 0, 1, 0, 1, 1));
  const first = metaOf(jobsOf(env, 'replace')[0]!).name;
  t.is(first, jobNameFor('replace', Date.UTC(2026, 0, 1, 0, 1)));
  await advanceTo(env, Date.UTC(2026, 0, 1, 0, 2, 1));
  const names = jobsOf(env, 'replace').map((j) => metaOf(j).name);
  t.deepEqual(names, [jobNameFor('replace', Date.UTC(2026, 0, 1, 0, 2))]);
  t.not(names[0], first);
  t.deepEqual(status(env, 'replace').active?.map((a) => a.name), names);
  t.is(env.ctx.events.withReason('SuccessfulDelete').length, 1);
});

test('Allow runs jobs side by side', async (t) => {
  const env = await setup();
  await env.cluster.create(cronJob('allow', { schedule: '* * * * *' }));
  await advanceTo(env, Date.UTC(2026, 0, 1, 0, 3, 1));
  t.is(jobsOf(env, 'allow').length, 3);
  t.is(status(env, 'allow').active?.length, 3);
});

test('history limits keep the newest successful and failed jobs', async (t) => {
  const env = await setup();
  await env.cluster.create(cronJob('hist', { schedule: '* * * * *', successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1 }));
  for (let i = 1; i <= 6; i++) {
    await advanceTo(env, Date.UTC(2026, 0, 1, 0, i, 1));
    const newest = jobsOf(env, 'hist').find((j) => !(j.status as { conditions?: unknown[] } | undefined)?.conditions);
    await finishJob(env, metaOf(newest!).name!, i % 2 === 1 ? 'Complete' : 'Failed');
    await env.settle();
  }
  const left = jobsOf(env, 'hist').map((j) => [metaOf(j).name, (j.status as { conditions: { type: string }[] }).conditions[0]!.type]);
  const at = (m: number) => jobNameFor('hist', Date.UTC(2026, 0, 1, 0, m));
  t.deepEqual(
    left.sort(),
    [
      [at(3), 'Complete'],
      [at(5), 'Complete'],
      [at(6), 'Failed'],
    ].sort(),
  );
  t.is(status(env, 'hist').active, undefined);
});

test('startingDeadlineSeconds: a run missed by more than the deadline is skipped', async (t) => {
  const env = await setup(Date.UTC(2026, 0, 1, 0, 0), false);
  await env.cluster.create(cronJob('late', { schedule: '0 * * * *', startingDeadlineSeconds: 60 }));
  await env.cluster.create(cronJob('lenient', { schedule: '0 * * * *', startingDeadlineSeconds: 600 }));
  // The controller (leader) was away from 01:00 until 01:03.
  await env.clock.advance(63 * MIN);
  env.start();
  await env.settle();
  t.is(jobsOf(env, 'late').length, 0);
  t.is(jobsOf(env, 'lenient').length, 1);
  t.is(metaOf(jobsOf(env, 'lenient')[0]!).name, jobNameFor('lenient', Date.UTC(2026, 0, 1, 1, 0)));
  // The late one runs again at the next hour.
  await advanceTo(env, Date.UTC(2026, 0, 1, 2, 0, 1));
  t.deepEqual(jobsOf(env, 'late').map((j) => metaOf(j).name), [jobNameFor('late', Date.UTC(2026, 0, 1, 2, 0))]);
});

test('too many missed runs: warn and start only the latest', async (t) => {
  const env = await setup(Date.UTC(2026, 0, 1, 0, 0), false);
  await env.cluster.create(cronJob('missed', { schedule: '* * * * *' }));
  await env.clock.advance(200 * MIN + 30_000);
  env.start();
  await env.settle();
  t.deepEqual(jobsOf(env, 'missed').map((j) => metaOf(j).name), [jobNameFor('missed', Date.UTC(2026, 0, 1, 3, 20))]);
  t.is(env.ctx.events.withReason('TooManyMissedTimes').length, 1);
});

test('a suspended CronJob creates nothing; a repeated decision creates no second job', async (t) => {
  const env = await setup();
  await env.cluster.create(cronJob('paused', { schedule: '* * * * *', suspend: true }));
  await env.clock.advance(5 * MIN);
  await env.settle();
  t.is(jobsOf(env, 'paused').length, 0);

  // A second controller (a new leader that read an old status) decides the same minute.
  await env.cluster.create(cronJob('once', { schedule: '* * * * *' }));
  await advanceTo(env, env.clock.now() + MIN + 1000);
  const cj = env.cluster.get('CronJob', 'default', 'once')!;
  await env.cluster.updateStatus({ ...structuredClone(cj), status: {} });
  const other = new CronJobController();
  const ctx2 = testContext(env.cluster, env.clock);
  other.start(ctx2);
  for (let i = 0; i < 10; i++) {
    await flush();
    await other.idle();
  }
  t.is(jobsOf(env, 'once').length, 1);
  t.is(status(env, 'once').active?.length, 1, 'the existing job is adopted into the status');
});

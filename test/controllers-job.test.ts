import test from 'ava';
import {
  JobController,
  JOB_COMPLETION_INDEX,
  JOB_TRACKING_FINALIZER,
  LABEL_CONTROLLER_UID,
  backoffRemaining,
  formatIndexes,
  parseIndexes,
  podFailureBackoff,
} from '../src/controllers/job.ts';
import { formatTime, getControllerOf, metaOf, seededRandom } from '../src/controllers/pod-util.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { Cluster, PlainObject } from '../src/controllers/types.ts';

// ---- harness ---------------------------------------------------------------------------------

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  jc: JobController;
  settle(): Promise<void>;
}

async function setup(): Promise<Env> {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  const ctx = testContext(cluster, clock);
  const jc = new JobController({ random: seededRandom(3) });
  jc.start(ctx);
  const settle = async () => {
    for (let i = 0; i < 200; i++) {
      const before = cluster.proposals;
      await flush();
      await jc.idle();
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controller did not settle');
  };
  return { clock, cluster, ctx, jc, settle };
}

function job(name: string, spec: Record<string, unknown>): PlainObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: {
      ...spec,
      template: { metadata: { labels: { app: name } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1' }] } },
    },
  };
}

function getJob(env: Env, name: string): PlainObject & { status: Record<string, any> } {
  return env.cluster.get('Job', 'default', name) as PlainObject & { status: Record<string, any> };
}

function podsOf(env: Env, name: string): PlainObject[] {
  const uid = metaOf(getJob(env, name)).uid;
  return env.cluster.list('Pod', { namespace: 'default' }).filter((p) => getControllerOf(p)?.uid === uid);
}

const running = (env: Env, name: string) =>
  podsOf(env, name).filter((p) => !metaOf(p).deletionTimestamp && !['Succeeded', 'Failed'].includes((p.status as { phase?: string })?.phase ?? ''));

/** The agent's part: the pod's container exits with `code`. */
async function finish(env: Env, pod: PlainObject, code: number): Promise<void> {
  const p = env.cluster.get('Pod', 'default', metaOf(pod).name!)!;
  const at = formatTime(env.clock.now());
  await env.cluster.updateStatus({
    ...structuredClone(p),
    status: {
      phase: code === 0 ? 'Succeeded' : 'Failed',
      containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: 'busybox:1', imageID: '', state: { terminated: { exitCode: code, finishedAt: at } } }],
    },
  });
}

function cond(j: { status: Record<string, any> }, type: string): { status: string; reason?: string } | undefined {
  return (j.status?.conditions ?? []).find((c: { type: string }) => c.type === type);
}

// ---- pure helpers --------------------------------------------------------------------------------

test('back-off doubles from 10 s and is capped at 6 min', (t) => {
  t.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => podFailureBackoff(n)), [0, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 360_000]);
});

test('completed indexes round-trip as intervals', (t) => {
  t.is(formatIndexes([7, 1, 3, 4, 5]), '1,3-5,7');
  t.deepEqual([...parseIndexes('1,3-5,7')], [1, 3, 4, 5, 7]);
  t.is(formatIndexes([]), '');
});

test('back-off counts failures after the last success from the pods', (t) => {
  const pod = (phase: string, at: number): PlainObject => ({
    metadata: { creationTimestamp: formatTime(0) },
    status: { phase, containerStatuses: [{ name: 'c', state: { terminated: { exitCode: phase === 'Failed' ? 1 : 0, finishedAt: formatTime(at) } } }] },
  });
  t.is(backoffRemaining([pod('Failed', 1000_000)], 1000_000), 10_000);
  t.is(backoffRemaining([pod('Failed', 1000_000), pod('Failed', 1010_000)], 1015_000), 15_000);
  // A success resets the count.
  t.is(backoffRemaining([pod('Failed', 1000_000), pod('Succeeded', 1010_000)], 1010_000), 0);
  t.is(backoffRemaining([pod('Failed', 1000_000), pod('Succeeded', 1010_000), pod('Failed', 1020_000)], 1020_000), 10_000);
});

// ---- the controller ---------------------------------------------------------------------------------

test('a job with completions 3 and parallelism 2 runs two at a time and completes', async (t) => {
  const env = await setup();
  await env.cluster.create(job('pi', { completions: 3, parallelism: 2 }));
  await env.settle();
  let pods = running(env, 'pi');
  t.is(pods.length, 2);
  const uid = metaOf(getJob(env, 'pi')).uid!;
  for (const p of pods) {
    const m = metaOf(p);
    t.regex(m.name!, /^pi-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    t.is(m.labels?.['job-name'], 'pi');
    t.is(m.labels?.[LABEL_CONTROLLER_UID], uid);
    t.is(m.labels?.app, 'pi');
    t.deepEqual(m.finalizers, [JOB_TRACKING_FINALIZER]);
    t.is((p.spec as { restartPolicy: string }).restartPolicy, 'Never');
  }
  let j = getJob(env, 'pi');
  t.is(j.status.active, 2);
  t.is(j.status.startTime, formatTime(env.clock.now()));

  await finish(env, pods[0]!, 0);
  await env.settle();
  j = getJob(env, 'pi');
  t.is(j.status.succeeded, 1);
  t.is(j.status.active, 2, 'a third pod replaces the one that finished');
  t.deepEqual(j.status.uncountedTerminatedPods, {});
  t.is(metaOf(env.cluster.get('Pod', 'default', metaOf(pods[0]!).name!)!).finalizers, undefined, 'counted pods lose the finalizer');

  pods = running(env, 'pi');
  await env.clock.advance(7000);
  for (const p of pods) await finish(env, p, 0);
  await env.settle();
  j = getJob(env, 'pi');
  t.is(j.status.succeeded, 3);
  t.is(j.status.active, 0);
  t.is(cond(j, 'SuccessCriteriaMet')?.status, 'True');
  t.is(cond(j, 'Complete')?.status, 'True');
  t.is(cond(j, 'Complete')?.reason, 'CompletionsReached');
  t.is(j.status.completionTime, formatTime(env.clock.now()));
  t.is(podsOf(env, 'pi').length, 3, 'exactly three pods were ever created');
  t.is(env.ctx.events.withReason('SuccessfulCreate').length, 3);
  t.is(env.ctx.events.withReason('Completed').length, 1);
});

test('a work-queue job (parallelism only) completes when one pod succeeded and none runs', async (t) => {
  const env = await setup();
  await env.cluster.create(job('wq', { parallelism: 3 }));
  await env.settle();
  const pods = running(env, 'wq');
  t.is(pods.length, 3);
  await finish(env, pods[0]!, 0);
  await env.settle();
  t.is(running(env, 'wq').length, 2, 'no new pod after a success');
  await finish(env, pods[1]!, 0);
  await finish(env, pods[2]!, 0);
  await env.settle();
  const j = getJob(env, 'wq');
  t.is(j.status.succeeded, 3);
  t.is(cond(j, 'Complete')?.status, 'True');
});

test('failures are replaced after 10 s, 20 s, ... and the job fails past backoffLimit', async (t) => {
  const env = await setup();
  await env.cluster.create(job('flaky', { backoffLimit: 2 }));
  await env.settle();
  const delays = [10_000, 20_000];
  for (const delay of delays) {
    const [p] = running(env, 'flaky');
    await finish(env, p!, 1);
    await env.settle();
    t.is(running(env, 'flaky').length, 0, 'no replacement during the back-off');
    await env.clock.advance(delay - 1);
    await env.settle();
    t.is(running(env, 'flaky').length, 0, `still waiting 1 ms before ${delay} ms`);
    await env.clock.advance(1);
    await env.settle();
    t.is(running(env, 'flaky').length, 1, `replaced after ${delay} ms`);
  }
  const [last] = running(env, 'flaky');
  await finish(env, last!, 1);
  await env.settle();
  const j = getJob(env, 'flaky');
  t.is(j.status.failed, 3);
  t.is(cond(j, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
  t.is(cond(j, 'Failed')?.status, 'True');
  t.is(cond(j, 'Failed')?.reason, 'BackoffLimitExceeded');
  t.is(j.status.completionTime, undefined);
  await env.clock.advance(10 * 60_000);
  await env.settle();
  t.is(podsOf(env, 'flaky').length, 3, 'nothing more is created');
  t.is(env.ctx.events.withReason('BackoffLimitExceeded').length, 1);
});

test('activeDeadlineSeconds kills the active pods and fails the job', async (t) => {
  const env = await setup();
  await env.cluster.create(job('slow', { completions: 4, parallelism: 2, activeDeadlineSeconds: 30 }));
  await env.settle();
  t.is(running(env, 'slow').length, 2);
  await env.clock.advance(29_999);
  await env.settle();
  t.is(cond(getJob(env, 'slow'), 'Failed'), undefined);
  await env.clock.advance(1);
  await env.settle();
  const j = getJob(env, 'slow');
  t.is(cond(j, 'Failed')?.reason, 'DeadlineExceeded');
  t.is(j.status.active, 0);
  t.is(j.status.failed, 2, 'killed pods count as failed');
  t.is(podsOf(env, 'slow').length, 0, 'unbound pods go at once once their finalizer is off');
});

test('ttlSecondsAfterFinished deletes the job that long after it finished', async (t) => {
  const env = await setup();
  await env.cluster.create(job('short', { ttlSecondsAfterFinished: 60 }));
  await env.settle();
  await finish(env, running(env, 'short')[0]!, 0);
  await env.settle();
  t.is(cond(getJob(env, 'short'), 'Complete')?.status, 'True');
  await env.clock.advance(59_000);
  await env.settle();
  t.truthy(env.cluster.get('Job', 'default', 'short'));
  await env.clock.advance(1000);
  await env.settle();
  t.is(env.cluster.get('Job', 'default', 'short'), undefined);
});

test('an evicted (deleted) pod counts as failed and is replaced', async (t) => {
  const env = await setup();
  await env.cluster.create(job('ev', { completions: 1 }));
  await env.settle();
  const [p] = running(env, 'ev');
  await env.cluster.delete('Pod', 'default', metaOf(p!).name!);
  await env.settle();
  let j = getJob(env, 'ev');
  t.is(j.status.failed, 1);
  t.is(env.cluster.get('Pod', 'default', metaOf(p!).name!), undefined, 'the finalizer was lifted');
  await env.clock.advance(10_000);
  await env.settle();
  j = getJob(env, 'ev');
  t.is(j.status.active, 1);
});

test('an indexed job runs one pod per index and records completed indexes', async (t) => {
  const env = await setup();
  await env.cluster.create(job('idx', { completions: 3, parallelism: 3, completionMode: 'Indexed' }));
  await env.settle();
  const pods = running(env, 'idx');
  t.is(pods.length, 3);
  const byIndex = new Map(pods.map((p) => [metaOf(p).annotations?.[JOB_COMPLETION_INDEX], p]));
  t.deepEqual([...byIndex.keys()].sort(), ['0', '1', '2']);
  const p1 = byIndex.get('1')!;
  t.regex(metaOf(p1).name!, /^idx-1-[a-z0-9]{5}$/);
  t.is((p1.spec as { hostname: string }).hostname, 'idx-1');
  const env0 = (p1.spec as { containers: { env: { name: string }[] }[] }).containers[0]!.env;
  t.true(env0.some((e) => e.name === 'JOB_COMPLETION_INDEX'));

  await finish(env, p1, 0);
  await finish(env, byIndex.get('0')!, 1);
  await env.settle();
  let j = getJob(env, 'idx');
  t.is(j.status.completedIndexes, '1');
  t.is(j.status.succeeded, 1);
  t.is(j.status.failed, 1);
  await env.clock.advance(10_000);
  await env.settle();
  const again = running(env, 'idx').map((p) => metaOf(p).annotations?.[JOB_COMPLETION_INDEX]).sort();
  t.deepEqual(again, ['0', '2'], 'index 0 is retried; index 1 is done');
  for (const p of running(env, 'idx')) await finish(env, p, 0);
  await env.settle();
  j = getJob(env, 'idx');
  t.is(j.status.completedIndexes, '0-2');
  t.is(j.status.succeeded, 3);
  t.is(cond(j, 'Complete')?.status, 'True');
});

test('a suspended job runs nothing until resumed; resuming restarts the clock', async (t) => {
  const env = await setup();
  await env.cluster.create(job('sus', { suspend: true, activeDeadlineSeconds: 100 }));
  await env.settle();
  let j = getJob(env, 'sus');
  t.is(running(env, 'sus').length, 0);
  t.is(cond(j, 'Suspended')?.status, 'True');
  t.is(j.status.startTime, undefined);
  await env.clock.advance(200_000);
  const cur = structuredClone(getJob(env, 'sus'));
  (cur.spec as { suspend: boolean }).suspend = false;
  await env.cluster.update(cur);
  await env.settle();
  j = getJob(env, 'sus');
  t.is(running(env, 'sus').length, 1);
  t.is(cond(j, 'Suspended')?.status, 'False');
  t.is(cond(j, 'Suspended')?.reason, 'JobResumed');
  t.is(j.status.startTime, formatTime(env.clock.now()));
  t.is(cond(j, 'Failed'), undefined, 'the deadline counts from the resume');

  // Suspending again stops the pod without counting it as a failure.
  const again = structuredClone(getJob(env, 'sus'));
  (again.spec as { suspend: boolean }).suspend = true;
  await env.cluster.update(again);
  await env.settle();
  j = getJob(env, 'sus');
  t.is(running(env, 'sus').length, 0);
  t.is(j.status.failed, 0);
  t.is(cond(j, 'Suspended')?.status, 'True');
});

test('restartPolicy OnFailure counts container restarts against backoffLimit', async (t) => {
  const env = await setup();
  const j0 = job('restarts', { backoffLimit: 3 });
  ((j0.spec as any).template.spec as { restartPolicy: string }).restartPolicy = 'OnFailure';
  await env.cluster.create(j0);
  await env.settle();
  const [p] = running(env, 'restarts');
  const cur = env.cluster.get('Pod', 'default', metaOf(p!).name!)!;
  await env.cluster.updateStatus({
    ...structuredClone(cur),
    status: { phase: 'Running', containerStatuses: [{ name: 'c', ready: false, restartCount: 3, image: 'busybox:1', imageID: '' }] },
  });
  await env.settle();
  const j = getJob(env, 'restarts');
  t.is(cond(j, 'Failed')?.reason, 'BackoffLimitExceeded');
});

test('pods of a deleted job lose the tracking finalizer', async (t) => {
  const env = await setup();
  await env.cluster.create(job('gone', { parallelism: 2, completions: 2 }));
  await env.settle();
  const names = running(env, 'gone').map((p) => metaOf(p).name!);
  await env.cluster.delete('Job', 'default', 'gone', { propagationPolicy: 'orphan' });
  await env.settle();
  for (const n of names) t.is(metaOf(env.cluster.get('Pod', 'default', n)!).finalizers, undefined);
});

test('a new controller (leader change) continues the count without double-counting', async (t) => {
  const env = await setup();
  await env.cluster.create(job('lead', { completions: 2, parallelism: 1 }));
  await env.settle();
  const [p] = running(env, 'lead');
  env.ctx.abort();
  await finish(env, p!, 0);
  const ctx2 = testContext(env.cluster, env.clock);
  const jc2 = new JobController({ random: seededRandom(9) });
  jc2.start(ctx2);
  for (let i = 0; i < 20; i++) {
    await flush();
    await jc2.idle();
  }
  let j = getJob(env, 'lead');
  t.is(j.status.succeeded, 1);
  const [q] = running(env, 'lead');
  await finish(env, q!, 0);
  for (let i = 0; i < 20; i++) {
    await flush();
    await jc2.idle();
  }
  j = getJob(env, 'lead');
  t.is(j.status.succeeded, 2);
  t.is(cond(j, 'Complete')?.status, 'True');
  t.is(podsOf(env, 'lead').length, 2);
});

test('expectations: a sync before the new pod is seen creates no second pod', async (t) => {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  // Pod watch events are held back, as a slow watch would deliver them.
  const held: (() => void)[] = [];
  let hold = true;
  const slow: Cluster = {
    get: (k, ns, n) => cluster.get(k, ns, n),
    list: (k, o) => cluster.list(k, o),
    watch: (k, cb, o) =>
      cluster.watch(
        k,
        (ev) => {
          if (k === 'Pod' && hold) held.push(() => cb(ev));
          else cb(ev);
        },
        o,
      ),
    create: (o) => cluster.create(o),
    update: (o) => cluster.update(o),
    updateStatus: (o) => cluster.updateStatus(o),
    delete: (k, ns, n, o) => cluster.delete(k, ns, n, o),
    bind: (b) => cluster.bind(b),
  };
  const ctx = { ...testContext(cluster, clock), cluster: slow };
  const jc = new JobController({ random: seededRandom(5) });
  jc.start(ctx);
  await cluster.create(job('slow', { completions: 1 }));
  await flush();
  await jc.idle();
  const count = () => cluster.list('Pod', { namespace: 'default' }).length;
  t.is(count(), 1);
  // Something else makes the Job sync again while the pod is still unseen.
  const j = structuredClone(cluster.get('Job', 'default', 'slow')!);
  (j.metadata as { annotations?: Record<string, string> }).annotations = { poke: '1' };
  await cluster.update(j);
  await flush();
  await jc.idle();
  t.is(count(), 1, 'no second pod');
  hold = false;
  for (const f of held.splice(0)) f();
  await flush();
  await jc.idle();
  t.is(count(), 1);
  t.is((cluster.get('Job', 'default', 'slow')!.status as { active: number }).active, 1);
});

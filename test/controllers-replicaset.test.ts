import test from 'ava';
import { ReplicaSetController, comparePodsForDeletion } from '../src/controllers/replicaset.ts';
import { ControllerExpectations, formatTime, generatedName, getControllerOf, metaOf, seededRandom, slowStartBatch, slowStartBatchMany } from '../src/controllers/pod-util.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { Cluster, PlainObject } from '../src/controllers/types.ts';
import { WriteError } from '../src/controllers/types.ts';

// ---- harness ---------------------------------------------------------------------------------

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  rsc: ReplicaSetController;
  settle(): Promise<void>;
}

async function setup(wrap?: (c: LocalCluster) => LocalCluster): Promise<Env> {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  const base = testContext(cluster, clock);
  const ctx = wrap ? { ...base, cluster: wrap(cluster) } : base;
  const rsc = new ReplicaSetController({ random: seededRandom(7) });
  rsc.start(ctx);
  const settle = async () => {
    // Until a round of syncs writes nothing more.
    for (let i = 0; i < 200; i++) {
      const before = cluster.proposals;
      await flush();
      await rsc.idle();
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controllers did not settle');
  };
  return { clock, cluster, ctx, rsc, settle };
}

function replicaSet(name: string, replicas: number, extra: { minReadySeconds?: number } = {}): PlainObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      ...extra,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, tier: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } },
    },
  };
}

function pod(name: string, labels: Record<string, string>): PlainObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };
}

function podsOf(cluster: Cluster, rs: PlainObject): PlainObject[] {
  const uid = metaOf(rs).uid;
  return cluster.list('Pod', { namespace: 'default' }).filter((p) => getControllerOf(p)?.uid === uid);
}

const activeOf = (cluster: Cluster, rs: PlainObject) => podsOf(cluster, rs).filter((p) => !metaOf(p).deletionTimestamp);

async function setPodStatus(env: Env, name: string, status: Record<string, unknown>): Promise<void> {
  const p = env.cluster.get('Pod', 'default', name)!;
  await env.cluster.updateStatus({ ...structuredClone(p), status: { ...(p.status as object), ...status } });
}

async function makeReady(env: Env, name: string): Promise<void> {
  await setPodStatus(env, name, {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(env.clock.now()) }],
  });
}

async function scale(env: Env, name: string, replicas: number): Promise<void> {
  const rs = structuredClone(env.cluster.get('ReplicaSet', 'default', name)!);
  (rs.spec as { replicas: number }).replicas = replicas;
  await env.cluster.update(rs);
}

/**
 * The two ways the controller creates pods: one create() per pod (a Cluster without
 * createMany), or one createMany() per slow-start batch (LocalCluster, as the leader's).
 */
type CreatePath = 'create' | 'createMany';
const CREATE_PATHS: CreatePath[] = ['create', 'createMany'];

/**
 * A proxy of `c` whose pod creates go through `hook` first, on the given path: `hook(pods)`
 * runs once per create() (one pod) or once per createMany() call (its pods), and resolves
 * with a WriteError per pod to fail (undefined: go ahead), or throws to fail the whole call.
 */
function interceptPodCreates(c: LocalCluster, path: CreatePath, hook: (pods: PlainObject[]) => Promise<(WriteError | undefined)[] | void>): LocalCluster {
  const proxy = Object.create(c) as LocalCluster;
  if (path === 'create') {
    (proxy as { createMany?: unknown }).createMany = undefined;
    proxy.create = async (obj: PlainObject) => {
      if (obj.kind === 'Pod') {
        const fail = (await hook([obj]))?.[0];
        if (fail) throw fail;
      }
      return c.create(obj);
    };
  } else {
    proxy.createMany = async (objs: PlainObject[]) => {
      const pods = objs.filter((o) => o.kind === 'Pod');
      const fail = pods.length > 0 ? ((await hook(pods)) ?? []) : [];
      const go = objs.filter((o) => !fail[pods.indexOf(o)]);
      const made = go.length > 0 ? await c.createMany(go) : [];
      return objs.map((o) => fail[pods.indexOf(o)] ?? made[go.indexOf(o)]!);
    };
  }
  return proxy;
}

const rsStatus = (env: Env, name: string) => env.cluster.get('ReplicaSet', 'default', name)!.status as Record<string, number>;

// ---- pure pieces -----------------------------------------------------------------------------------

test('slow start batches grow 1, 2, 4 and stop after the first failing batch', async (t) => {
  let calls = 0;
  const r = await slowStartBatch(10, 1, async () => {
    const n = ++calls;
    await Promise.resolve();
    if (n === 5) throw new Error('quota');
  });
  // Batches of 1, 2, 4: the failure in the third batch stops the rest.
  t.is(r.attempted, 7);
  t.is(r.done, 6);
  t.is((r.error as Error).message, 'quota');
  const ok = await slowStartBatch(10, 1, async () => {});
  t.deepEqual(ok, { done: 10, attempted: 10 });
});

test('slow start with one call per batch: batches 1, 2, 4; a failed item or a rejected call stops after its batch', async (t) => {
  const sizes: number[] = [];
  // The 5th item (the second of the batch of 4) fails.
  let seen = 0;
  const r = await slowStartBatchMany(10, 1, async (size) => {
    sizes.push(size);
    const first = seen;
    seen += size;
    return Array.from({ length: size }, (_, i) => (first + i === 4 ? new Error('quota') : undefined));
  });
  t.deepEqual(sizes, [1, 2, 4]);
  t.deepEqual({ done: r.done, attempted: r.attempted }, { done: 6, attempted: 7 });
  t.is((r.error as Error).message, 'quota');
  // A call that rejects fails every item of its batch.
  const rejected = await slowStartBatchMany(10, 1, async (size) => {
    if (size === 2) throw new Error('unavailable');
    return new Array(size).fill(undefined);
  });
  t.deepEqual({ done: rejected.done, attempted: rejected.attempted }, { done: 1, attempted: 3 });
  t.is((rejected.error as Error).message, 'unavailable');
  // Missing outcomes count as failures.
  const short = await slowStartBatchMany(3, 1, async (size) => new Array(size - 1).fill(undefined));
  t.deepEqual({ done: short.done, attempted: short.attempted }, { done: 0, attempted: 1 });
  t.truthy(short.error);
  t.deepEqual(await slowStartBatchMany(10, 1, async (size) => new Array(size).fill(undefined)), { done: 10, attempted: 10 });
  t.deepEqual(await slowStartBatchMany(0, 1, async () => []), { done: 0, attempted: 0 });
});

test('expectations wait for every create and each awaited delete once', async (t) => {
  const clock = new FakeClock();
  const e = new ControllerExpectations(clock, 1000);
  t.true(e.satisfied('a'));
  e.expectCreations('a', 2);
  t.false(e.satisfied('a'));
  e.creationObserved('a');
  t.false(e.satisfied('a'));
  e.creationObserved('a');
  t.true(e.satisfied('a'));
  e.expectDeletions('a', ['ns/p1', 'ns/p2']);
  e.deletionObserved('a', 'ns/p1');
  e.deletionObserved('a', 'ns/p1');
  t.false(e.satisfied('a'));
  e.deletionObserved('a', 'ns/p2');
  t.true(e.satisfied('a'));
  // An expectation that is never met expires.
  e.expectCreations('b', 1);
  t.false(e.satisfied('b'));
  await clock.advance(1001);
  t.true(e.satisfied('b'));
});

test('deletion order: unscheduled < scheduled, pending < running, not ready < ready, newer < older', (t) => {
  const mk = (name: string, o: { node?: string; phase?: string; ready?: boolean; created?: string; readySince?: string; restarts?: number }): PlainObject => ({
    kind: 'Pod',
    metadata: { name, creationTimestamp: o.created ?? '2026-01-01T00:00:00Z' },
    spec: { ...(o.node ? { nodeName: o.node } : {}), containers: [] },
    status: {
      phase: o.phase ?? 'Pending',
      conditions: o.ready ? [{ type: 'Ready', status: 'True', lastTransitionTime: o.readySince ?? '2026-01-01T00:00:00Z' }] : [],
      containerStatuses: [{ name: 'c', restartCount: o.restarts ?? 0 }],
    },
  });
  const pods = [
    mk('ready-old', { node: 'n', phase: 'Running', ready: true, readySince: '2026-01-01T00:00:01Z' }),
    mk('ready-recent', { node: 'n', phase: 'Running', ready: true, readySince: '2026-01-01T00:00:09Z' }),
    mk('running', { node: 'n', phase: 'Running' }),
    mk('pending', { node: 'n' }),
    mk('unscheduled', {}),
    mk('restarting', { node: 'n', phase: 'Running', restarts: 3 }),
    mk('newer', { node: 'n', phase: 'Running', created: '2026-01-01T00:05:00Z' }),
  ];
  const order = [...pods].sort((a, b) => comparePodsForDeletion(a, b)).map((p) => metaOf(p).name);
  t.deepEqual(order, ['unscheduled', 'pending', 'restarting', 'newer', 'running', 'ready-recent', 'ready-old']);
});

// ---- the controller ------------------------------------------------------------------------------

test('creates the missing pods with controller references and generated names', async (t) => {
  const env = await setup();
  const rs = await env.cluster.create(replicaSet('web', 3));
  await env.settle();
  const pods = podsOf(env.cluster, rs);
  t.is(pods.length, 3);
  for (const p of pods) {
    const m = metaOf(p);
    t.regex(m.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    t.deepEqual(m.labels, { app: 'web', tier: 'web' });
    const ref = getControllerOf(p)!;
    t.like(ref, { kind: 'ReplicaSet', name: 'web', uid: metaOf(rs).uid, controller: true, blockOwnerDeletion: true });
  }
  t.like(rsStatus(env, 'web'), { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 });
  t.is(env.ctx.events.withReason('SuccessfulCreate').length, 3);
  t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 0, del: 0 });
});

test('the same random source names pods the same way', async (t) => {
  const names = async () => {
    const env = await setup();
    await env.cluster.create(replicaSet('web', 2));
    await env.settle();
    return env.cluster.list('Pod', { namespace: 'default' }).map((p) => metaOf(p).name).sort();
  };
  t.deepEqual(await names(), await names());
});

for (const path of CREATE_PATHS) {
  test(`does not create twice while its creates are not yet seen (expectations), by ${path}`, async (t) => {
    let creates = 0;
    const held: (() => void)[] = [];
    const env = await setup((c) =>
      interceptPodCreates(c, path, async (pods) => {
        creates += pods.length;
        await new Promise<void>((r) => held.push(r));
      }),
    );
    await env.cluster.create(replicaSet('web', 3));
    await flush();
    t.is(creates, 1, 'slow start: one create first');
    // Poke the ReplicaSet while its create is in flight: the sync that runs must not create more.
    const rs = structuredClone(env.cluster.get('ReplicaSet', 'default', 'web')!);
    (rs.metadata as { annotations?: Record<string, string> }).annotations = { poke: '1' };
    await env.cluster.update(rs);
    await flush();
    t.is(creates, 1);
    while (held.length > 0) {
      held.shift()!();
      await flush();
      await flush();
    }
    await env.settle();
    t.is(creates, 3);
    t.is(env.cluster.list('Pod', { namespace: 'default' }).length, 3);
  });

  test(`a failing create stops the batch and is retried with back-off, by ${path}`, async (t) => {
    let attempts = 0;
    let failing = true;
    const env = await setup((c) =>
      interceptPodCreates(c, path, async (pods) => {
        attempts += pods.length;
        return pods.map(() => (failing ? new WriteError('Forbidden', 'exceeded quota') : undefined));
      }),
    );
    await env.cluster.create(replicaSet('web', 4));
    await env.settle();
    // Each sync tried a batch of one and stopped. There were two syncs: the first one's
    // status write (the ReplicaFailure condition) is itself a change that queues the next.
    t.is(attempts, 2);
    const failed = env.cluster.get('ReplicaSet', 'default', 'web')!.status as { conditions?: { type: string; reason: string }[] };
    t.like(failed.conditions?.[0], { type: 'ReplicaFailure', reason: 'FailedCreate' });
    t.is(env.ctx.events.withReason('FailedCreate').length, 2);
    t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 0, del: 0 });
    failing = false;
    await env.clock.advance(1000);
    await env.settle();
    t.is(env.cluster.list('Pod', { namespace: 'default' }).length, 4);
    t.is((env.cluster.get('ReplicaSet', 'default', 'web')!.status as { conditions?: unknown }).conditions, undefined);
  });

  test(`one failed pod of a batch fails the batch like a failed create: no further batch, its expectation dropped, by ${path}`, async (t) => {
    // Pods in creation order: 0 | 1 2 | 3 4 5 6 | ...: the first pod of the batch of 4 fails.
    // Every pod after those 7 waits at a gate, to see what comes next.
    let seen = 0;
    let gatedPods = 0;
    const gated: (() => void)[] = [];
    const env = await setup((c) =>
      interceptPodCreates(c, path, async (pods) => {
        const first = seen;
        seen += pods.length;
        if (first >= 7) {
          gatedPods += pods.length;
          await new Promise<void>((r) => gated.push(r));
          return;
        }
        return pods.map((_, i) => (first + i === 3 ? new WriteError('Forbidden', 'exceeded quota') : undefined));
      }),
    );
    await env.cluster.create(replicaSet('web', 12));
    for (let i = 0; i < 20 && gated.length === 0; i++) {
      await flush();
      if (gated.length === 0) await env.clock.advance(1000);
    }
    await flush();
    t.is(env.cluster.list('Pod', { namespace: 'default' }).length, 6, '1 + 2 + 3 of 4 made');
    t.is(gatedPods, 1, 'the batch of 8 never started: the next sync starts slow again');
    t.is(env.ctx.events.withReason('FailedCreate').length, 1);
    t.is(env.ctx.events.withReason('SuccessfulCreate').length, 6);
    t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 6, del: 0 }, 'the next sync expects the 6 missing; nothing of the failed one is awaited');
    for (let i = 0; i < 50 && (gated.length > 0 || env.cluster.list('Pod', { namespace: 'default' }).length < 12); i++) {
      while (gated.length > 0) {
        gated.shift()!();
        await flush();
      }
      await env.clock.advance(1000);
    }
    await env.settle();
    t.is(env.cluster.list('Pod', { namespace: 'default' }).length, 12);
    t.is(env.ctx.events.withReason('FailedCreate').length, 1);
    t.is(env.ctx.events.withReason('SuccessfulCreate').length, 12);
    t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 0, del: 0 });
  });
}

test('on a cluster with createMany, slow start makes each batch one proposal (at most 16 pods each)', async (t) => {
  const calls: number[] = [];
  const env = await setup((c) =>
    interceptPodCreates(c, 'createMany', async (pods) => {
      calls.push(pods.length);
    }),
  );
  const before = env.cluster.proposals;
  const rs = await env.cluster.create(replicaSet('web', 7));
  await env.settle();
  t.deepEqual(calls, [1, 2, 4]);
  t.is(activeOf(env.cluster, rs).length, 7);
  t.is(env.ctx.events.withReason('SuccessfulCreate').length, 7);
  t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 0, del: 0 });
  // The ReplicaSet, three pod proposals and status writes: far fewer than one per pod plus status.
  t.true(env.cluster.proposals - before <= 1 + 3 + 4, `${env.cluster.proposals - before} proposals`);

  // 200 more: batches 1, 2, 4, 8, 16, then 32, 64 and 73 split into proposals of 16 (and 9).
  calls.length = 0;
  await scale(env, 'web', 207);
  await env.settle();
  t.deepEqual(calls, [1, 2, 4, 8, 16, ...new Array(2 + 4 + 4).fill(16), 9]);
  t.is(activeOf(env.cluster, rs).length, 207);
  t.is(new Set(activeOf(env.cluster, rs).map((p) => metaOf(p).name)).size, 207);
  t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 0, del: 0 });
});

test('a createMany that fails as a whole fails each of its pods as a failed create would', async (t) => {
  let fail = true;
  const calls: number[] = [];
  const env = await setup((c) =>
    interceptPodCreates(c, 'createMany', async (pods) => {
      calls.push(pods.length);
      if (pods.length === 2 && fail) {
        fail = false;
        throw new WriteError('Unavailable', 'no leader');
      }
    }),
  );
  await env.cluster.create(replicaSet('web', 5));
  await env.settle();
  await env.clock.advance(1000);
  await env.settle();
  // First sync: 1 made, then the batch of 2 failed (both pods), nothing more; the next one makes the other 4.
  t.deepEqual(calls.slice(0, 2), [1, 2]);
  t.is(env.ctx.events.withReason('FailedCreate').length, 2);
  t.true(env.ctx.events.withReason('FailedCreate').every((e) => e.message === 'Error creating: no leader'));
  t.is(env.cluster.list('Pod', { namespace: 'default' }).length, 5);
  t.is(env.ctx.events.withReason('SuccessfulCreate').length, 5);
  t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 0, del: 0 });
});

for (const path of CREATE_PATHS) {
  test(`a generated name that is taken is drawn again, by ${path}`, async (t) => {
    const env = await setup((c) => interceptPodCreates(c, path, async () => {}));
    // The name the controller draws first (same seed) belongs to an unrelated pod.
    const taken = generatedName('web', seededRandom(7));
    await env.cluster.create(pod(taken, { app: 'other' }));
    const rs = await env.cluster.create(replicaSet('web', 3));
    await env.settle();
    const mine = activeOf(env.cluster, rs).map((p) => metaOf(p).name);
    t.is(mine.length, 3);
    t.false(mine.includes(taken));
    t.is(env.ctx.events.withReason('FailedCreate').length, 0);
    t.is(env.ctx.events.withReason('SuccessfulCreate').length, 3);
    t.deepEqual(env.rsc.pendingExpectations('default/web'), { add: 0, del: 0 });
  });
}

test('scale down deletes unscheduled, then pending, then not-ready pods, newest first', async (t) => {
  const env = await setup();
  await env.cluster.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
  const rs = await env.cluster.create(replicaSet('web', 1));
  await env.settle();
  // Grow one pod at a time so creation times differ.
  for (let n = 2; n <= 5; n++) {
    await env.clock.advance(2000);
    await scale(env, 'web', n);
    await env.settle();
  }
  const byAge = activeOf(env.cluster, rs).sort((a, b) => Date.parse(metaOf(a).creationTimestamp!) - Date.parse(metaOf(b).creationTimestamp!));
  const [p0, p1, p2, p3, p4] = byAge.map((p) => metaOf(p).name!);
  // p0 ready, p1 running (bound), p2 pending (bound), p3 and p4 unscheduled (p4 newer).
  const bind = async (name: string) => {
    const p = env.cluster.get('Pod', 'default', name)!;
    const [r] = await env.cluster.bind([{ namespace: 'default', name, uid: metaOf(p).uid!, nodeName: 'n1' }]);
    t.true(r!.ok, r!.message);
  };
  for (const n of [p0!, p1!, p2!]) await bind(n);
  await makeReady(env, p0!);
  await setPodStatus(env, p1!, { phase: 'Running' });
  await env.settle();

  const remaining = () => activeOf(env.cluster, rs).map((p) => metaOf(p).name!).sort();
  const expectGone = async (replicas: number, gone: string) => {
    await scale(env, 'web', replicas);
    await env.settle();
    t.false(remaining().includes(gone), `${gone} should go when scaling to ${replicas}`);
    t.is(remaining().length, replicas);
  };
  await expectGone(4, p4!);
  await expectGone(3, p3!);
  await expectGone(2, p2!);
  await expectGone(1, p1!);
  t.deepEqual(remaining(), [p0!]);
  // Bound pods terminate gracefully: they stay, marked, and are not counted as replicas.
  const terminating = podsOf(env.cluster, rs).filter((p) => metaOf(p).deletionTimestamp);
  t.deepEqual(terminating.map((p) => metaOf(p).name).sort(), [p1!, p2!].sort());
  t.like(rsStatus(env, 'web'), { replicas: 1, readyReplicas: 1, availableReplicas: 1 });
  t.is(env.ctx.events.withReason('SuccessfulDelete').length, 4);
});

test('adopts a matching orphan and releases a pod that stops matching', async (t) => {
  const env = await setup();
  await env.cluster.create(pod('orphan', { app: 'web', tier: 'web' }));
  await env.cluster.create(pod('stranger', { app: 'other' }));
  const rs = await env.cluster.create(replicaSet('web', 2));
  await env.settle();
  const owned = podsOf(env.cluster, rs).map((p) => metaOf(p).name!);
  t.is(owned.length, 2);
  t.true(owned.includes('orphan'), 'the orphan was adopted rather than a second pod created');
  t.like(getControllerOf(env.cluster.get('Pod', 'default', 'orphan')!), { uid: metaOf(rs).uid, controller: true });
  t.is(getControllerOf(env.cluster.get('Pod', 'default', 'stranger')!), undefined);

  // Relabel the adopted pod: it is released (reference removed) and replaced.
  const p = structuredClone(env.cluster.get('Pod', 'default', 'orphan')!);
  (p.metadata as { labels: Record<string, string> }).labels = { app: 'debug' };
  await env.cluster.update(p);
  await env.settle();
  t.is(getControllerOf(env.cluster.get('Pod', 'default', 'orphan')!), undefined);
  t.is((metaOf(env.cluster.get('Pod', 'default', 'orphan')!).ownerReferences ?? []).length, 0);
  const now = podsOf(env.cluster, rs).map((p) => metaOf(p).name!);
  t.is(now.length, 2);
  t.false(now.includes('orphan'));
});

test('a pod owned by another controller is left alone', async (t) => {
  const env = await setup();
  const other = pod('taken', { app: 'web', tier: 'web' });
  (other.metadata as Record<string, unknown>).ownerReferences = [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j', uid: 'job-uid', controller: true }];
  await env.cluster.create(other);
  const rs = await env.cluster.create(replicaSet('web', 1));
  await env.settle();
  t.is(podsOf(env.cluster, rs).length, 1);
  t.is(getControllerOf(env.cluster.get('Pod', 'default', 'taken')!)?.uid, 'job-uid');
});

test('terminal pods are not replicas: a failed pod is replaced', async (t) => {
  const env = await setup();
  const rs = await env.cluster.create(replicaSet('web', 2));
  await env.settle();
  const [first] = podsOf(env.cluster, rs);
  await setPodStatus(env, metaOf(first!).name!, { phase: 'Failed' });
  await env.settle();
  const pods = podsOf(env.cluster, rs);
  t.is(pods.length, 3, 'the failed pod stays (for its logs) beside two live ones');
  t.is(pods.filter((p) => (p.status as { phase: string }).phase !== 'Failed').length, 2);
  t.is(rsStatus(env, 'web').replicas, 2);
});

test('availableReplicas waits minReadySeconds after readiness', async (t) => {
  const env = await setup();
  const rs = await env.cluster.create(replicaSet('web', 2, { minReadySeconds: 10 }));
  await env.settle();
  for (const p of podsOf(env.cluster, rs)) await makeReady(env, metaOf(p).name!);
  await env.settle();
  t.like(rsStatus(env, 'web'), { readyReplicas: 2, availableReplicas: 0 });
  await env.clock.advance(9000);
  await env.settle();
  t.is(rsStatus(env, 'web').availableReplicas, 0);
  // The controller asked to be called again when the pods become available.
  await env.clock.advance(1100);
  await env.settle();
  t.is(rsStatus(env, 'web').availableReplicas, 2);
});

test('stops when leadership is lost', async (t) => {
  const env = await setup();
  env.ctx.abort();
  await env.cluster.create(replicaSet('web', 2));
  await env.settle();
  t.is(env.cluster.list('Pod', { namespace: 'default' }).length, 0);
});

for (const path of CREATE_PATHS) {
  test(`a sync in flight when leadership is lost makes no further writes, by ${path}`, async (t) => {
    let creates = 0;
    const held: (() => void)[] = [];
    const env = await setup((c) =>
      interceptPodCreates(c, path, async (pods) => {
        creates += pods.length;
        await new Promise<void>((r) => held.push(r));
      }),
    );
    await env.cluster.create(replicaSet('web', 5));
    await flush();
    t.is(creates, 1);
    env.ctx.abort();
    held.shift()!();
    await env.settle();
    t.is(creates, 1, 'the next batch was refused');
    t.is(env.cluster.list('Pod', { namespace: 'default' }).length, 1);
  });
}

import test from 'ava';
import type { Deployment, ReplicaSet } from '../src/api/index.ts';
import { DeploymentController } from '../src/controllers/deployment/controller.ts';
import { planRollback, rollbackTemplate, RollbackError } from '../src/controllers/deployment/rollback.ts';
import {
  computeHash,
  equalIgnoreHash,
  lastRevision,
  maxSurge,
  maxUnavailable,
  newRSNewReplicas,
  proportionalSizes,
  resolveFenceposts,
  scaledValue,
} from '../src/controllers/deployment/util.ts';
import { formatTime, getControllerOf, metaOf, seededRandom } from '../src/controllers/pod-util.ts';
import { ReplicaSetController } from '../src/controllers/replicaset.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { PlainObject } from '../src/controllers/types.ts';

// ---- harness -------------------------------------------------------------------------------------

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  settle(): Promise<void>;
}

async function setup(): Promise<Env> {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  const ctx = testContext(cluster, clock);
  const rsc = new ReplicaSetController({ random: seededRandom(11) });
  const dc = new DeploymentController();
  rsc.start(ctx);
  dc.start(ctx);
  const settle = async () => {
    for (let i = 0; i < 300; i++) {
      const before = cluster.proposals;
      await flush();
      await Promise.all([rsc.idle(), dc.idle()]);
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controllers did not settle');
  };
  return { clock, cluster, ctx, settle };
}

type Extra = Partial<Deployment['spec']>;

function deployment(name: string, replicas: number, extra: Extra = {}, image = 'nginx:1'): PlainObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } },
      ...extra,
    },
  } as unknown as PlainObject;
}

const getD = (env: Env, name: string) => env.cluster.get('Deployment', 'default', name) as unknown as Deployment;

async function editDeployment(env: Env, name: string, edit: (d: Deployment) => void): Promise<void> {
  const d = structuredClone(getD(env, name));
  edit(d);
  await env.cluster.update(d as unknown as PlainObject);
}

const setImage = (env: Env, name: string, image: string) =>
  editDeployment(env, name, (d) => {
    d.spec.template.spec.containers[0]!.image = image;
  });

function replicaSetsOf(env: Env, name: string): ReplicaSet[] {
  const uid = getD(env, name).metadata.uid;
  return env.cluster.list('ReplicaSet', { namespace: 'default' }).filter((rs) => getControllerOf(rs)?.uid === uid) as unknown as ReplicaSet[];
}

function rsWithImage(env: Env, name: string, image: string): ReplicaSet | undefined {
  return replicaSetsOf(env, name).find((rs) => rs.spec.template.spec.containers[0]!.image === image);
}

function podsOfRS(env: Env, rs: ReplicaSet | undefined): PlainObject[] {
  if (!rs) return [];
  return env.cluster.list('Pod', { namespace: 'default' }).filter((p) => getControllerOf(p)?.uid === rs.metadata.uid && !metaOf(p).deletionTimestamp);
}

function podsOfDeployment(env: Env, name: string): PlainObject[] {
  return replicaSetsOf(env, name).flatMap((rs) => podsOfRS(env, rs));
}

const isReady = (p: PlainObject) => ((p.status as { conditions?: { type: string; status: string }[] }).conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function makeReady(env: Env, pods: PlainObject[]): Promise<void> {
  for (const p of pods) {
    const cur = env.cluster.get('Pod', 'default', metaOf(p).name!)!;
    if (isReady(cur)) continue;
    await env.cluster.updateStatus({
      ...structuredClone(cur),
      status: { ...(cur.status as object), phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(env.clock.now()) }] },
    });
  }
}

async function readyAll(env: Env, name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const notReady = podsOfDeployment(env, name).filter((p) => !isReady(p));
    if (notReady.length === 0) return;
    await makeReady(env, notReady);
    await env.settle();
  }
}

const condition = (d: Deployment, type: string) => (d.status?.conditions ?? []).find((c) => c.type === type);

// ---- pure pieces ------------------------------------------------------------------------------------

test('pod template hash: stable, ignores its own label, moved by the collision count', (t) => {
  const tpl = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };
  const h = computeHash(tpl);
  t.regex(h, /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
  t.is(computeHash(structuredClone(tpl)), h);
  // Key order does not matter; the hash label is not part of the hash.
  t.is(computeHash({ spec: { containers: [{ image: 'nginx:1', name: 'c' }] }, metadata: { labels: { 'pod-template-hash': 'x', app: 'web' } } }), h);
  t.not(computeHash({ ...tpl, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } }), h);
  t.not(computeHash(tpl, 1), h);
  t.not(computeHash(tpl, 1), computeHash(tpl, 2));
  t.true(equalIgnoreHash(tpl, { metadata: { labels: { app: 'web', 'pod-template-hash': h } }, spec: tpl.spec }));
});

test('rollout bounds: percentages round surge up and unavailable down', (t) => {
  t.is(scaledValue('25%', 10, true), 3);
  t.is(scaledValue('25%', 10, false), 2);
  t.is(scaledValue(4, 10, true), 4);
  t.throws(() => scaledValue('abc', 10, true));
  t.deepEqual(resolveFenceposts('25%', '25%', 1), { surge: 1, unavailable: 0 });
  // Both zero would never move: unavailable becomes 1.
  t.deepEqual(resolveFenceposts(0, 0, 5), { surge: 0, unavailable: 1 });
  const d = (replicas: number, strategy: Deployment['spec']['strategy']) => ({ metadata: {}, spec: { replicas, strategy } }) as unknown as Deployment;
  t.is(maxSurge(d(10, { type: 'RollingUpdate', rollingUpdate: { maxSurge: '30%', maxUnavailable: '30%' } })), 3);
  t.is(maxUnavailable(d(10, { type: 'RollingUpdate', rollingUpdate: { maxSurge: '30%', maxUnavailable: '30%' } })), 3);
  t.is(maxUnavailable(d(2, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 5 } })), 2);
  t.is(maxSurge(d(10, { type: 'Recreate' })), 0);
  t.is(maxUnavailable(d(10, { type: 'Recreate' })), 0);
});

test('new replica set growth stays within replicas + maxSurge', (t) => {
  const d = { metadata: {}, spec: { replicas: 10, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } } } as unknown as Deployment;
  const rs = (replicas: number) => ({ metadata: {}, spec: { replicas } }) as unknown as ReplicaSet;
  const newRS = rs(0);
  t.is(newRSNewReplicas(d, [rs(10), newRS], newRS), 3);
  const grown = rs(3);
  t.is(newRSNewReplicas(d, [rs(10), grown], grown), 3, 'already at 13');
  const late = rs(8);
  t.is(newRSNewReplicas(d, [rs(1), late], late), 10, 'never beyond spec.replicas');
});

test('proportional sizes share a resize by size and give the rounding rest to the largest', (t) => {
  const d = { metadata: {}, spec: { replicas: 20, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }, status: { replicas: 13 } } as unknown as Deployment;
  const rs = (name: string, replicas: number, created: string) =>
    ({ metadata: { name, creationTimestamp: created, annotations: { 'deployment.kubernetes.io/max-replicas': '13' } }, spec: { replicas } }) as unknown as ReplicaSet;
  const sizes = proportionalSizes(d, [rs('old', 8, '2026-01-01T00:00:00Z'), rs('new', 5, '2026-01-01T00:01:00Z')]);
  t.deepEqual(Object.fromEntries(sizes), { old: 14, new: 9 });
  // Shrinking to 0 empties both.
  const zero = { ...d, spec: { ...d.spec, replicas: 0 } } as Deployment;
  t.deepEqual(Object.fromEntries(proportionalSizes(zero, [rs('old', 8, '2026-01-01T00:00:00Z'), rs('new', 5, '2026-01-01T00:01:00Z')])), { old: 0, new: 0 });
});

test('lastRevision is the second highest', (t) => {
  const rs = (rev: string) => ({ metadata: { annotations: { 'deployment.kubernetes.io/revision': rev } } }) as PlainObject;
  t.is(lastRevision([rs('1'), rs('3'), rs('2')]), 2);
  t.is(lastRevision([rs('5')]), 0);
});

// ---- the controller ------------------------------------------------------------------------------

test('creates a replica set named by the template hash and scales it up', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('web', 3));
  await env.settle();
  const sets = replicaSetsOf(env, 'web');
  t.is(sets.length, 1);
  const rs = sets[0]!;
  const hash = rs.metadata.labels!['pod-template-hash']!;
  t.is(rs.metadata.name, `web-${hash}`);
  t.is(hash, computeHash(getD(env, 'web').spec.template));
  t.deepEqual(rs.spec.selector.matchLabels, { app: 'web', 'pod-template-hash': hash });
  t.is(rs.spec.template.metadata!.labels!['pod-template-hash'], hash);
  t.like(rs.metadata.annotations, {
    'deployment.kubernetes.io/revision': '1',
    'deployment.kubernetes.io/desired-replicas': '3',
    'deployment.kubernetes.io/max-replicas': '4',
  });
  t.like(getControllerOf(rs as unknown as PlainObject), { kind: 'Deployment', name: 'web', controller: true, blockOwnerDeletion: true });
  t.is(podsOfRS(env, rs).length, 3);
  t.deepEqual(
    env.ctx.events.withReason('ScalingReplicaSet').map((e) => e.message),
    [`Scaled up replica set web-${hash} to 3`],
  );
  let d = getD(env, 'web');
  t.is(d.metadata.annotations!['deployment.kubernetes.io/revision'], '1');
  t.like(d.status, { replicas: 3, updatedReplicas: 3, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 3, observedGeneration: 1 });
  t.like(condition(d, 'Available'), { status: 'False', reason: 'MinimumReplicasUnavailable' });

  await readyAll(env, 'web');
  d = getD(env, 'web');
  t.like(d.status, { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0 });
  t.like(condition(d, 'Available'), { status: 'True', reason: 'MinimumReplicasAvailable' });
  t.like(condition(d, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
});

/** Roll `name` to `image` one readiness step at a time, checking the bounds after every step. */
async function rollStepByStep(t: import('ava').ExecutionContext, env: Env, name: string, image: string, replicas: number, surge: number, unavailable: number): Promise<number> {
  await setImage(env, name, image);
  await env.settle();
  let steps = 0;
  for (; steps < 100; steps++) {
    const pods = podsOfDeployment(env, name);
    const available = pods.filter(isReady).length;
    t.true(pods.length <= replicas + surge, `step ${steps}: ${pods.length} pods > ${replicas} + ${surge}`);
    t.true(available >= replicas - unavailable, `step ${steps}: ${available} available < ${replicas} - ${unavailable}`);
    const newRS = rsWithImage(env, name, image)!;
    const fresh = podsOfRS(env, newRS);
    if (fresh.length === replicas && fresh.every(isReady) && pods.length === replicas) break;
    // One step: the new pods that exist become ready.
    await makeReady(env, fresh);
    await env.settle();
  }
  return steps;
}

test('rolling update keeps within maxSurge and maxUnavailable at every step', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('web', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } }));
  await env.settle();
  await readyAll(env, 'web');
  const steps = await rollStepByStep(t, env, 'web', 'nginx:2', 4, 1, 1);
  t.true(steps >= 2, 'the rollout took several steps');
  const d = getD(env, 'web');
  t.like(d.status, { replicas: 4, updatedReplicas: 4, availableReplicas: 4, unavailableReplicas: 0 });
  t.like(condition(d, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
  t.is(d.metadata.annotations!['deployment.kubernetes.io/revision'], '2');
  const old = rsWithImage(env, 'web', 'nginx:1')!;
  t.is(old.spec.replicas, 0);
  t.is(rsWithImage(env, 'web', 'nginx:2')!.metadata.annotations!['deployment.kubernetes.io/revision'], '2');
  const messages = env.ctx.events.withReason('ScalingReplicaSet').map((e) => e.message);
  t.true(messages.some((m) => m.startsWith(`Scaled down replica set ${old.metadata.name} to`)));
});

test('rolling update with percentages (25%/25% of 10: surge 3, unavailable 2)', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('api', 10));
  await env.settle();
  await readyAll(env, 'api');
  await rollStepByStep(t, env, 'api', 'nginx:2', 10, 3, 2);
  t.like(getD(env, 'api').status, { replicas: 10, updatedReplicas: 10, availableReplicas: 10 });
});

test('rolling update honours minReadySeconds before counting new pods available', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('slow', 2, { minReadySeconds: 30, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }));
  await env.settle();
  await readyAll(env, 'slow');
  await env.clock.advance(31_000);
  await env.settle();
  t.is(getD(env, 'slow').status!.availableReplicas, 2);
  await setImage(env, 'slow', 'nginx:2');
  await env.settle();
  const newRS = () => rsWithImage(env, 'slow', 'nginx:2')!;
  t.is(newRS().spec.replicas, 1);
  t.is(newRS().spec.minReadySeconds, 30);
  await makeReady(env, podsOfRS(env, newRS()));
  await env.settle();
  // Ready but not yet available: the old pods stay (maxUnavailable 0).
  t.is(rsWithImage(env, 'slow', 'nginx:1')!.spec.replicas, 2);
  await env.clock.advance(31_000);
  await env.settle();
  t.is(rsWithImage(env, 'slow', 'nginx:1')!.spec.replicas, 1);
  t.is(newRS().spec.replicas, 2);
});

test('recreate: old pods are all gone before any new pod exists', async (t) => {
  const env = await setup();
  await env.cluster.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
  await env.cluster.create(deployment('db', 3, { strategy: { type: 'Recreate' } }));
  await env.settle();
  const oldRS = replicaSetsOf(env, 'db')[0]!;
  // Bind the old pods so that deleting them is graceful: they linger until confirmed.
  for (const p of podsOfRS(env, oldRS)) {
    const [r] = await env.cluster.bind([{ namespace: 'default', name: metaOf(p).name!, uid: metaOf(p).uid!, nodeName: 'n1' }]);
    t.true(r!.ok);
  }
  await readyAll(env, 'db');
  let overlap = false;
  const live = new Map<string, string>();
  const stop = env.cluster.watch('Pod', (ev) => {
    const owner = getControllerOf(ev.object)?.uid ?? '';
    if (ev.type === 'DELETED') live.delete(metaOf(ev.object).name!);
    else live.set(metaOf(ev.object).name!, owner);
    const owners = new Set(live.values());
    if (owners.has(oldRS.metadata.uid!) && owners.size > 1) overlap = true;
  });
  for (const p of podsOfRS(env, oldRS)) live.set(metaOf(p).name!, oldRS.metadata.uid!);
  await setImage(env, 'db', 'postgres:2');
  await env.settle();
  t.is((env.cluster.get('ReplicaSet', 'default', oldRS.metadata.name!) as unknown as ReplicaSet).spec.replicas, 0);
  t.is(env.cluster.list('Pod', { namespace: 'default' }).filter((p) => metaOf(p).deletionTimestamp).length, 3, 'old pods terminating');
  t.is(rsWithImage(env, 'db', 'postgres:2'), undefined, 'no new replica set while old pods terminate');
  // The node confirms the terminations.
  for (const p of env.cluster.list('Pod', { namespace: 'default' })) {
    await env.cluster.delete('Pod', 'default', metaOf(p).name!, { gracePeriodSeconds: 0 });
  }
  await env.settle();
  const newRS = rsWithImage(env, 'db', 'postgres:2')!;
  t.truthy(newRS);
  t.is(newRS.spec.replicas, 3);
  t.is(podsOfRS(env, newRS).length, 3);
  t.false(overlap);
  stop();
  await readyAll(env, 'db');
  t.like(condition(getD(env, 'db'), 'Progressing'), { reason: 'NewReplicaSetAvailable' });
});

test('rollback to the previous revision and to a given one; the reused set gets a new revision', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('web', 2));
  await env.settle();
  await readyAll(env, 'web');
  for (const image of ['nginx:2', 'nginx:3']) {
    await setImage(env, 'web', image);
    await env.settle();
    await readyAll(env, 'web');
  }
  t.is(getD(env, 'web').metadata.annotations!['deployment.kubernetes.io/revision'], '3');

  const back = rollbackTemplate(env.cluster, getD(env, 'web') as unknown as PlainObject);
  t.is(back.spec.template.spec.containers[0]!.image, 'nginx:2');
  t.false('pod-template-hash' in (back.spec.template.metadata!.labels ?? {}));
  await env.cluster.update(back as unknown as PlainObject);
  await env.settle();
  await readyAll(env, 'web');
  const v2 = rsWithImage(env, 'web', 'nginx:2')!;
  t.is(v2.metadata.annotations!['deployment.kubernetes.io/revision'], '4');
  t.is(v2.metadata.annotations!['deployment.kubernetes.io/revision-history'], '2');
  t.is(getD(env, 'web').metadata.annotations!['deployment.kubernetes.io/revision'], '4');
  t.is(replicaSetsOf(env, 'web').length, 3, 'the old replica set was reused, not duplicated');
  t.is(podsOfRS(env, v2).length, 2);

  const toOne = planRollback(env.cluster, getD(env, 'web') as unknown as PlainObject, 1);
  t.false(toOne.unchanged);
  t.is(toOne.deployment.spec.template.spec.containers[0]!.image, 'nginx:1');
  await env.cluster.update(toOne.deployment as unknown as PlainObject);
  await env.settle();
  await readyAll(env, 'web');
  t.is(rsWithImage(env, 'web', 'nginx:1')!.metadata.annotations!['deployment.kubernetes.io/revision'], '5');
  t.like(getD(env, 'web').status, { updatedReplicas: 2, availableReplicas: 2, replicas: 2 });

  const err = t.throws(() => rollbackTemplate(env.cluster, getD(env, 'web') as unknown as PlainObject, 2), { instanceOf: RollbackError });
  t.is(err!.reason, 'RevisionNotFound', 'revision 2 became 4');
});

test('revisionHistoryLimit removes the oldest idle replica sets', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('web', 1, { revisionHistoryLimit: 2 }));
  await env.settle();
  await readyAll(env, 'web');
  for (let v = 2; v <= 6; v++) {
    await setImage(env, 'web', `nginx:${v}`);
    await env.settle();
    await readyAll(env, 'web');
  }
  const revisions = replicaSetsOf(env, 'web')
    .map((rs) => Number(rs.metadata.annotations!['deployment.kubernetes.io/revision']))
    .sort((a, b) => a - b);
  t.deepEqual(revisions, [4, 5, 6]);
});

test('pause stops the rollout but not scaling; resume continues', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('web', 2));
  await env.settle();
  await readyAll(env, 'web');
  await editDeployment(env, 'web', (d) => {
    d.spec.paused = true;
  });
  await env.settle();
  t.like(condition(getD(env, 'web'), 'Progressing'), { status: 'Unknown', reason: 'DeploymentPaused' });
  await setImage(env, 'web', 'nginx:2');
  await env.settle();
  t.is(replicaSetsOf(env, 'web').length, 1, 'no new replica set while paused');
  await editDeployment(env, 'web', (d) => {
    d.spec.replicas = 4;
  });
  await env.settle();
  t.is(replicaSetsOf(env, 'web')[0]!.spec.replicas, 4, 'scaling works while paused');
  t.is(getD(env, 'web').status!.observedGeneration, getD(env, 'web').metadata.generation);

  await editDeployment(env, 'web', (d) => {
    d.spec.paused = false;
  });
  await env.settle();
  t.truthy(rsWithImage(env, 'web', 'nginx:2'));
  await readyAll(env, 'web');
  const d = getD(env, 'web');
  t.like(d.status, { replicas: 4, updatedReplicas: 4, availableReplicas: 4 });
  t.like(condition(d, 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
});

test('progress deadline: a stuck rollout times out, a slow one that moves does not', async (t) => {
  const env = await setup();
  const strategy = { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
  await env.cluster.create(deployment('stuck', 3, { progressDeadlineSeconds: 60, strategy }));
  await env.cluster.create(deployment('slow', 3, { progressDeadlineSeconds: 60, strategy }));
  await env.settle();
  await readyAll(env, 'stuck');
  await readyAll(env, 'slow');
  await setImage(env, 'stuck', 'nginx:2');
  await setImage(env, 'slow', 'nginx:2');
  await env.settle();
  t.like(condition(getD(env, 'stuck'), 'Progressing'), { status: 'True', reason: 'ReplicaSetUpdated' });

  // Every 40 s one new pod of "slow" becomes ready; none of "stuck" ever does.
  for (let i = 0; i < 6; i++) {
    await env.clock.advance(40_000);
    await env.settle();
    const fresh = podsOfRS(env, rsWithImage(env, 'slow', 'nginx:2')).filter((p) => !isReady(p));
    if (fresh.length > 0) await makeReady(env, [fresh[0]!]);
    await env.settle();
    const slow = condition(getD(env, 'slow'), 'Progressing')!;
    t.is(slow.status, 'True', `slow rollout at ${(i + 1) * 40}s: ${slow.reason}`);
  }
  const stuck = condition(getD(env, 'stuck'), 'Progressing')!;
  t.like(stuck, { status: 'False', reason: 'ProgressDeadlineExceeded' });
  t.regex(stuck.message!, /has timed out progressing/);
  t.like(condition(getD(env, 'slow'), 'Progressing'), { reason: 'NewReplicaSetAvailable' });
  // Timed out is a report, not a stop: the stuck rollout still goes on once pods get ready.
  await readyAll(env, 'stuck');
  t.like(getD(env, 'stuck').status, { updatedReplicas: 3, availableReplicas: 3 });
  t.like(condition(getD(env, 'stuck'), 'Progressing'), { status: 'True', reason: 'NewReplicaSetAvailable' });
});

test('scaling mid-rollout scales the replica sets proportionally', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('web', 10, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }));
  await env.settle();
  await readyAll(env, 'web');
  await setImage(env, 'web', 'nginx:2');
  await env.settle();
  const sizes = () => [rsWithImage(env, 'web', 'nginx:1')!.spec.replicas, rsWithImage(env, 'web', 'nginx:2')!.spec.replicas];
  t.deepEqual(sizes(), [8, 5]);
  await editDeployment(env, 'web', (d) => {
    d.spec.replicas = 20;
  });
  await env.settle();
  t.deepEqual(sizes(), [14, 9], 'each grew by its share of 23 - 13');
  const old = rsWithImage(env, 'web', 'nginx:1')!;
  t.like(old.metadata.annotations, { 'deployment.kubernetes.io/desired-replicas': '20', 'deployment.kubernetes.io/max-replicas': '23' });
  t.true(env.ctx.events.withReason('ScalingReplicaSet').some((e) => e.message === `Scaled up replica set ${old.metadata.name} to 14`));
  await readyAll(env, 'web');
  t.like(getD(env, 'web').status, { replicas: 20, updatedReplicas: 20, availableReplicas: 20 });
  t.is(rsWithImage(env, 'web', 'nginx:1')!.spec.replicas, 0);
});

test('adopts a matching orphan replica set instead of creating a new one', async (t) => {
  const env = await setup();
  const d = deployment('web', 2);
  const tpl = structuredClone((d.spec as Deployment['spec']).template);
  const hash = computeHash(tpl);
  tpl.metadata!.labels!['pod-template-hash'] = hash;
  await env.cluster.create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'handmade', namespace: 'default', labels: { app: 'web' } },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } }, template: tpl },
  });
  await env.settle();
  await env.cluster.create(d);
  await env.settle();
  const sets = replicaSetsOf(env, 'web');
  t.deepEqual(sets.map((rs) => rs.metadata.name), ['handmade']);
  t.is(sets[0]!.metadata.annotations!['deployment.kubernetes.io/revision'], '1');
});

test('stops when leadership is lost', async (t) => {
  const env = await setup();
  env.ctx.abort();
  await env.cluster.create(deployment('web', 2));
  await env.settle();
  t.is(env.cluster.list('ReplicaSet').length, 0);
});

test('a hash collision with a foreign replica set moves the hash (collisionCount)', async (t) => {
  const env = await setup();
  // Paused, it makes no replica set yet: time to take the name its template hashes to.
  await env.cluster.create(deployment('web', 1, { paused: true }));
  await env.settle();
  const hash = computeHash(getD(env, 'web').spec.template);
  await env.cluster.create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `web-${hash}`, namespace: 'default' },
    spec: { replicas: 0, selector: { matchLabels: { app: 'other' } }, template: { metadata: { labels: { app: 'other' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } } },
  });
  await editDeployment(env, 'web', (d) => {
    d.spec.paused = false;
  });
  await env.settle();
  await env.clock.advance(1000);
  await env.settle();
  const got = getD(env, 'web');
  t.is(got.status!.collisionCount, 1);
  const sets = replicaSetsOf(env, 'web');
  t.deepEqual(sets.map((rs) => rs.metadata.name), [`web-${computeHash(got.spec.template, 1)}`]);
  t.is(podsOfRS(env, sets[0]).length, 1);
});

test('legacy rollback request (deprecated.deployment.rollback.to) is carried out and cleared', async (t) => {
  const env = await setup();
  await env.cluster.create(deployment('web', 1));
  await env.settle();
  await readyAll(env, 'web');
  await setImage(env, 'web', 'nginx:2');
  await env.settle();
  await readyAll(env, 'web');
  await editDeployment(env, 'web', (d) => {
    d.metadata.annotations = { ...d.metadata.annotations, 'deprecated.deployment.rollback.to': '0' };
  });
  await env.settle();
  await readyAll(env, 'web');
  const d = getD(env, 'web');
  t.is(d.spec.template.spec.containers[0]!.image, 'nginx:1');
  t.false('deprecated.deployment.rollback.to' in (d.metadata.annotations ?? {}));
  t.is(d.metadata.annotations!['deployment.kubernetes.io/revision'], '3');
  t.deepEqual(env.ctx.events.withReason('DeploymentRollback').map((e) => e.message), ['Rolled back deployment "web" to revision 1']);
});

import test from 'ava';
import { DeploymentController } from '../src/controllers/deployment/controller.ts';
import { GarbageCollector } from '../src/controllers/gc.ts';
import { getControllerOf, metaOf, seededRandom } from '../src/controllers/pod-util.ts';
import { ReplicaSetController } from '../src/controllers/replicaset.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { PlainObject } from '../src/controllers/types.ts';

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  gc: GarbageCollector;
  settle(): Promise<void>;
}

interface Idle {
  idle(): Promise<void>;
  start(ctx: TestContext): void;
}

async function setup(opts: { workloads?: boolean; before?: (c: LocalCluster) => Promise<void> } = {}): Promise<Env> {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  await opts.before?.(cluster);
  const ctx = testContext(cluster, clock);
  const gc = new GarbageCollector();
  const controllers: Idle[] = [gc];
  if (opts.workloads) controllers.push(new ReplicaSetController({ random: seededRandom(3) }), new DeploymentController());
  for (const c of controllers) c.start(ctx);
  const settle = async () => {
    for (let i = 0; i < 300; i++) {
      const before = cluster.proposals;
      await flush();
      await Promise.all(controllers.map((c) => c.idle()));
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controllers did not settle');
  };
  return { clock, cluster, ctx, gc, settle };
}

function configMap(name: string, owners: PlainObject[] = [], opts: { block?: boolean; finalizers?: string[] } = {}): PlainObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: 'default',
      ...(owners.length
        ? {
            ownerReferences: owners.map((o) => ({
              apiVersion: String(o.apiVersion),
              kind: String(o.kind),
              name: metaOf(o).name!,
              uid: metaOf(o).uid!,
              ...(opts.block ? { blockOwnerDeletion: true } : {}),
            })),
          }
        : {}),
      ...(opts.finalizers ? { finalizers: opts.finalizers } : {}),
    },
    data: { k: 'v' },
  };
}

const cm = (env: Env, name: string) => env.cluster.get('ConfigMap', 'default', name);

async function removeFinalizers(env: Env, kind: string, name: string): Promise<void> {
  const o = structuredClone(env.cluster.get(kind, 'default', name)!);
  (o.metadata as { finalizers?: string[] }).finalizers = [];
  await env.cluster.update(o);
}

function deployment(name: string, replicas: number): PlainObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } },
    },
  };
}

// ---- background ------------------------------------------------------------------------------

test('background: dependents of a removed owner are deleted, down the chain', async (t) => {
  const env = await setup();
  const owner = await env.cluster.create(configMap('owner'));
  const child = await env.cluster.create(configMap('child', [owner]));
  await env.cluster.create(configMap('grandchild', [child]));
  await env.cluster.create(configMap('bystander'));
  await env.settle();
  t.deepEqual(env.gc.dependentsOf(metaOf(owner).uid!), ['ConfigMap/default/child']);
  await env.cluster.delete('ConfigMap', 'default', 'owner');
  await env.settle();
  t.is(cm(env, 'child'), undefined);
  t.is(cm(env, 'grandchild'), undefined);
  t.truthy(cm(env, 'bystander'));
});

test('a reference to a uid that no longer exists counts as gone (owner recreated under the same name)', async (t) => {
  const env = await setup({
    before: async (c) => {
      // Before the collector starts: the owner is deleted and a new one takes its name.
      const first = await c.create(configMap('owner'));
      await c.create(configMap('stale', [first]));
      await c.delete('ConfigMap', 'default', 'owner');
      await c.create(configMap('owner'));
    },
  });
  await env.settle();
  t.is(cm(env, 'stale'), undefined);
  t.truthy(cm(env, 'owner'));
  // And live: a dependent created pointing at a uid that does not exist goes too.
  await env.cluster.create(configMap('dangling', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', uid: 'not-the-uid' } }]));
  await env.settle();
  t.is(cm(env, 'dangling'), undefined);
});

test('an object with another live owner only loses the reference to the gone one', async (t) => {
  const env = await setup();
  const a = await env.cluster.create(configMap('a'));
  const b = await env.cluster.create(configMap('b'));
  await env.cluster.create(configMap('shared', [a, b]));
  await env.settle();
  await env.cluster.delete('ConfigMap', 'default', 'a');
  await env.settle();
  const shared = cm(env, 'shared')!;
  t.truthy(shared);
  t.deepEqual((metaOf(shared).ownerReferences ?? []).map((r) => r.name), ['b']);
});

test('an object whose owners are all there and not deleting is not looked at; it is once its owner goes', async (t) => {
  const env = await setup({
    before: async (c) => {
      const pre = await c.create(configMap('pre-owner'));
      for (let i = 0; i < 5; i++) await c.create(configMap(`pre-${i}`, [pre]));
    },
  });
  const owner = await env.cluster.create(configMap('owner'));
  for (let i = 0; i < 10; i++) await env.cluster.create(configMap(`dep-${i}`, [owner]));
  await env.settle();
  t.is(env.gc.looked, 0, 'neither the listed nor the new dependents of a live owner are queued');
  t.is(env.gc.dependentsOf(metaOf(owner).uid!).length, 10, 'but they are indexed');
  // A dependent added pointing at a missing owner is looked at (and collected).
  await env.cluster.create(configMap('lost', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nobody', uid: 'nobody-uid' } }]));
  await env.settle();
  t.is(cm(env, 'lost'), undefined);
  // The owner goes: its dependents are looked at and collected.
  const before = env.gc.looked;
  await env.cluster.delete('ConfigMap', 'default', 'owner');
  await env.cluster.delete('ConfigMap', 'default', 'pre-owner');
  await env.settle();
  for (let i = 0; i < 10; i++) t.is(cm(env, `dep-${i}`), undefined);
  for (let i = 0; i < 5; i++) t.is(cm(env, `pre-${i}`), undefined);
  t.true(env.gc.looked >= before + 15);
});

test('a deployment\'s pods and replica set are not looked at while it lives', async (t) => {
  const env = await setup({ workloads: true });
  await env.cluster.create(deployment('web', 5));
  await env.settle();
  t.is(env.cluster.list('Pod').length, 5);
  t.is(env.gc.looked, 0);
});

test('deleting a deployment removes its replica sets and their pods', async (t) => {
  const env = await setup({ workloads: true });
  await env.cluster.create(deployment('web', 3));
  await env.settle();
  t.is(env.cluster.list('ReplicaSet').length, 1);
  t.is(env.cluster.list('Pod').length, 3);
  await env.cluster.delete('Deployment', 'default', 'web');
  await env.settle();
  t.is(env.cluster.list('ReplicaSet').length, 0);
  t.is(env.cluster.list('Pod').length, 0);
});

// ---- foreground ------------------------------------------------------------------------------------

test('foreground: the owner stays until its blocking dependents are gone', async (t) => {
  const env = await setup();
  const owner = await env.cluster.create(configMap('owner'));
  await env.cluster.create(configMap('blocker', [owner], { block: true, finalizers: ['example.com/hold'] }));
  await env.cluster.create(configMap('loose', [owner]));
  await env.settle();
  await env.cluster.delete('ConfigMap', 'default', 'owner', { propagationPolicy: 'foreground' });
  await env.settle();
  const held = cm(env, 'owner')!;
  t.truthy(held, 'the owner waits for its blocking dependent');
  t.truthy(metaOf(held).deletionTimestamp);
  t.deepEqual(metaOf(held).finalizers, ['foregroundDeletion']);
  t.is(cm(env, 'loose'), undefined, 'non-blocking dependents are deleted too');
  t.truthy(metaOf(cm(env, 'blocker')!).deletionTimestamp, 'the blocking dependent is being deleted');
  // The dependent's own finalizer is done: it goes, and then the owner.
  await removeFinalizers(env, 'ConfigMap', 'blocker');
  await env.settle();
  t.is(cm(env, 'blocker'), undefined);
  t.is(cm(env, 'owner'), undefined);
});

test('foreground through a deployment: pods, then the replica set, then the deployment', async (t) => {
  const env = await setup({ workloads: true });
  await env.cluster.create(deployment('web', 2));
  await env.settle();
  const order: string[] = [];
  const stops = ['Pod', 'ReplicaSet', 'Deployment'].map((kind) =>
    env.cluster.watch(kind, (ev) => {
      if (ev.type === 'DELETED') order.push(kind);
    }),
  );
  await env.cluster.delete('Deployment', 'default', 'web', { propagationPolicy: 'foreground' });
  await env.settle();
  for (const stop of stops) stop();
  t.deepEqual(order, ['Pod', 'Pod', 'ReplicaSet', 'Deployment']);
  t.is(env.cluster.list('Pod').length, 0);
});

// ---- orphan -------------------------------------------------------------------------------------------

test('orphan: dependents lose the reference and stay; then the owner goes', async (t) => {
  const env = await setup();
  const owner = await env.cluster.create(configMap('owner'));
  const other = await env.cluster.create(configMap('other'));
  await env.cluster.create(configMap('kept', [owner, other], { block: true }));
  await env.cluster.create(configMap('kept2', [owner]));
  await env.settle();
  await env.cluster.delete('ConfigMap', 'default', 'owner', { propagationPolicy: 'orphan' });
  await env.settle();
  t.is(cm(env, 'owner'), undefined);
  t.deepEqual((metaOf(cm(env, 'kept')!).ownerReferences ?? []).map((r) => r.name), ['other']);
  t.is(metaOf(cm(env, 'kept2')!).ownerReferences, undefined);
});

test('orphaning a replica set leaves its pods running without an owner', async (t) => {
  const env = await setup({ workloads: true });
  await env.cluster.create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'rs', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } } },
  });
  await env.settle();
  t.is(env.cluster.list('Pod').length, 2);
  await env.cluster.delete('ReplicaSet', 'default', 'rs', { propagationPolicy: 'orphan' });
  await env.settle();
  t.is(env.cluster.get('ReplicaSet', 'default', 'rs'), undefined);
  const pods = env.cluster.list('Pod');
  t.is(pods.length, 2);
  for (const p of pods) t.is(getControllerOf(p), undefined);
});

test('stops when leadership is lost', async (t) => {
  const env = await setup();
  env.ctx.abort();
  const owner = await env.cluster.create(configMap('owner'));
  await env.cluster.create(configMap('child', [owner]));
  await env.cluster.delete('ConfigMap', 'default', 'owner');
  await env.settle();
  t.truthy(cm(env, 'child'));
});

import test from 'ava';
import { DeploymentController } from '../src/controllers/deployment/controller.ts';
import { GarbageCollector } from '../src/controllers/gc.ts';
import { NAMESPACED_KINDS, NamespaceController } from '../src/controllers/namespace.ts';
import { metaOf, seededRandom } from '../src/controllers/pod-util.ts';
import { ReplicaSetController } from '../src/controllers/replicaset.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { PlainObject } from '../src/controllers/types.ts';

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
  const controllers = [new NamespaceController(), new GarbageCollector(), new ReplicaSetController({ random: seededRandom(5) }), new DeploymentController()];
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
  return { clock, cluster, ctx, settle };
}

async function fill(env: Env, ns: string): Promise<void> {
  await env.cluster.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: ns },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } },
    },
  });
  await env.cluster.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: ns }, data: { a: '1' } });
  await env.cluster.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pw', namespace: ns }, stringData: { p: 'x' } });
  await env.cluster.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', namespace: ns }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } });
  await env.settle();
}

function contentOf(env: Env, ns: string): string[] {
  return NAMESPACED_KINDS.flatMap((kind) => env.cluster.list(kind, { namespace: ns }).map((o) => `${kind}/${metaOf(o).name}`));
}

const namespace = (name: string, finalizers?: string[]): PlainObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, ...(finalizers ? { finalizers } : {}) },
});

test('deleting a namespace removes everything in it, and the namespace', async (t) => {
  const env = await setup();
  await env.cluster.create(namespace('team'));
  await env.cluster.create(namespace('other'));
  await fill(env, 'team');
  await fill(env, 'other');
  t.true(contentOf(env, 'team').length >= 6);
  t.deepEqual(env.cluster.get('Namespace', '', 'team')!.spec, { finalizers: ['kubernetes'] });
  await env.cluster.delete('Namespace', '', 'team');
  await env.settle();
  t.is(env.cluster.get('Namespace', '', 'team'), undefined);
  t.deepEqual(contentOf(env, 'team'), []);
  t.true(contentOf(env, 'other').includes('Deployment/web'), 'other namespaces are untouched');
  t.is(env.cluster.list('Pod', { namespace: 'other' }).length, 3);
});

test('a terminating namespace shows Terminating, waits for its content, then drops the kubernetes finalizer', async (t) => {
  const env = await setup();
  // A finalizer of someone else's keeps the namespace visible through the whole process.
  await env.cluster.create(namespace('team', ['example.com/hold']));
  await env.cluster.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
  await fill(env, 'team');
  // A pod on a node terminates gracefully: it stays until the node confirms.
  const solo = env.cluster.get('Pod', 'team', 'solo')!;
  const [bound] = await env.cluster.bind([{ namespace: 'team', name: 'solo', uid: metaOf(solo).uid!, nodeName: 'n1' }]);
  t.true(bound!.ok);

  await env.cluster.delete('Namespace', '', 'team');
  await env.settle();
  let ns = env.cluster.get('Namespace', '', 'team')!;
  t.truthy(metaOf(ns).deletionTimestamp);
  t.is((ns.status as { phase: string }).phase, 'Terminating');
  t.deepEqual(contentOf(env, 'team'), ['Pod/solo']);
  t.deepEqual((ns.spec as { finalizers: string[] }).finalizers, ['kubernetes'], 'kept while content remains');
  // Content created late (if the API lets it in) is removed as well.
  await env.cluster.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late', namespace: 'team' } }).catch(() => undefined);
  await env.settle();
  t.deepEqual(contentOf(env, 'team'), ['Pod/solo']);

  await env.cluster.delete('Pod', 'team', 'solo', { gracePeriodSeconds: 0 });
  await env.settle();
  ns = env.cluster.get('Namespace', '', 'team')!;
  t.deepEqual(contentOf(env, 'team'), []);
  t.deepEqual((ns.spec as { finalizers: string[] }).finalizers, []);
  // The other finalizer's owner finishes: the namespace goes.
  const copy = structuredClone(ns);
  (copy.metadata as { finalizers?: string[] }).finalizers = [];
  await env.cluster.update(copy);
  await env.settle();
  t.is(env.cluster.get('Namespace', '', 'team'), undefined);
});

test('default is never emptied', async (t) => {
  const env = await setup();
  await fill(env, 'default');
  const before = contentOf(env, 'default');
  await env.cluster.delete('Namespace', '', 'default').catch(() => undefined);
  await env.settle();
  t.deepEqual(contentOf(env, 'default'), before);
});

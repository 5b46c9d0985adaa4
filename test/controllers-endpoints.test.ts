import test from 'ava';
import { EndpointsController, HEADLESS_LABEL, repackSubsets } from '../src/controllers/endpoints.ts';
import { formatTime } from '../src/controllers/pod-util.ts';
import { FakeClock, flush, LocalCluster, testContext } from '../src/controllers/testing.ts';
import type { PlainObject } from '../src/controllers/types.ts';

async function setup(startController = true) {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  const ctx = testContext(cluster, clock);
  const ec = new EndpointsController();
  const settle = async () => {
    for (let i = 0; i < 100; i++) {
      const before = cluster.proposals;
      await flush();
      await ec.idle();
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controller did not settle');
  };
  if (startController) ec.start(ctx);
  return { clock, cluster, ctx, ec, settle, start: () => ec.start(ctx) };
}

function service(name: string, spec: Record<string, unknown>): PlainObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', labels: { team: 'a' } }, spec };
}

function pod(name: string, labels: Record<string, string>, ports: { name?: string; containerPort: number }[] = [{ name: 'http', containerPort: 8080 }]): PlainObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels },
    spec: { containers: [{ name: 'c', image: 'nginx:1', ports }] },
  };
}

type Env = Awaited<ReturnType<typeof setup>>;

async function runPod(env: Env, name: string, ip: string, ready: boolean, node = 'n1'): Promise<void> {
  const p = env.cluster.get('Pod', 'default', name)!;
  if (!(p.spec as { nodeName?: string }).nodeName) {
    const [r] = await env.cluster.bind([{ namespace: 'default', name, uid: (p.metadata as { uid: string }).uid, nodeName: node }]);
    if (!r!.ok) throw new Error(r!.message);
  }
  const cur = env.cluster.get('Pod', 'default', name)!;
  await env.cluster.updateStatus({
    ...structuredClone(cur),
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: formatTime(env.clock.now()) }],
    },
  });
}

function endpoints(env: Env, name: string): (PlainObject & { subsets?: any[] }) | undefined {
  return env.cluster.get('Endpoints', 'default', name) as never;
}

async function node(env: Env, name: string): Promise<void> {
  await env.cluster.create({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' } } });
}

test('repack groups addresses by the ports they offer; ready wins', (t) => {
  const a = { ip: '10.0.0.2' };
  const b = { ip: '10.0.0.1' };
  const http = { name: 'http', port: 80, protocol: 'TCP' as const };
  const dns = { name: 'dns', port: 53, protocol: 'UDP' as const };
  const out = repackSubsets([
    { address: a, ready: true, port: http },
    { address: b, ready: false, port: http },
    { address: a, ready: false, port: http },
    { address: a, ready: true, port: dns },
  ]);
  t.deepEqual(out, [
    { addresses: [a], ports: [dns] },
    { addresses: [a], notReadyAddresses: [b], ports: [http] },
  ]);
});

test('endpoints track pod readiness with resolved ports', async (t) => {
  const env = await setup();
  await node(env, 'n1');
  await env.cluster.create(
    service('web', {
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'metrics', port: 9090, targetPort: 9100 },
      ],
    }),
  );
  await env.cluster.create(pod('web-1', { app: 'web' }));
  await env.cluster.create(pod('web-2', { app: 'web' }));
  await env.cluster.create(pod('other', { app: 'other' }));
  await env.settle();
  let ep = endpoints(env, 'web')!;
  t.truthy(ep, 'created at once, empty');
  t.deepEqual(ep.subsets ?? [], []);
  t.deepEqual(ep.metadata!.labels, { team: 'a' });

  await runPod(env, 'web-1', '10.1.0.1', true);
  await runPod(env, 'web-2', '10.1.0.2', false);
  await env.settle();
  ep = endpoints(env, 'web')!;
  const uid1 = (env.cluster.get('Pod', 'default', 'web-1')!.metadata as { uid: string }).uid;
  t.deepEqual(ep.subsets, [
    {
      addresses: [{ ip: '10.1.0.1', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: uid1 } }],
      notReadyAddresses: [{ ip: '10.1.0.2', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-2', uid: (env.cluster.get('Pod', 'default', 'web-2')!.metadata as { uid: string }).uid } }],
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'metrics', port: 9100, protocol: 'TCP' },
      ],
    },
  ]);

  // Readiness flips: web-2 moves to addresses.
  await runPod(env, 'web-2', '10.1.0.2', true);
  await env.settle();
  ep = endpoints(env, 'web')!;
  t.deepEqual(ep.subsets![0].addresses.map((a: { ip: string }) => a.ip), ['10.1.0.1', '10.1.0.2']);
  t.is(ep.subsets![0].notReadyAddresses, undefined);

  // An unrelated pod change writes nothing.
  const before = env.cluster.proposals;
  const p = env.cluster.get('Pod', 'default', 'web-1')!;
  await env.cluster.update({ ...structuredClone(p), metadata: { ...structuredClone(p.metadata), annotations: { note: 'x' } } });
  await env.settle();
  t.is(env.cluster.proposals, before + 1, 'only the test’s own write');

  // A terminating pod leaves; a deleted service takes its endpoints along.
  await env.cluster.delete('Pod', 'default', 'web-1');
  await env.settle();
  t.deepEqual(endpoints(env, 'web')!.subsets![0].addresses.map((a: { ip: string }) => a.ip), ['10.1.0.2']);
  await env.cluster.delete('Service', 'default', 'web');
  await env.settle();
  t.is(endpoints(env, 'web'), undefined);
});

test('publishNotReadyAddresses lists unready pods as ready; a pod without the named port is left out', async (t) => {
  const env = await setup();
  await node(env, 'n1');
  await env.cluster.create(service('db', { selector: { app: 'db' }, publishNotReadyAddresses: true, ports: [{ port: 5432, targetPort: 'pg' }] }));
  await env.cluster.create(pod('db-0', { app: 'db' }, [{ name: 'pg', containerPort: 5432 }]));
  await env.cluster.create(pod('db-1', { app: 'db' }, [{ name: 'other', containerPort: 1 }]));
  await runPod(env, 'db-0', '10.2.0.1', false);
  await runPod(env, 'db-1', '10.2.0.2', true);
  await env.settle();
  const ep = endpoints(env, 'db')!;
  t.is(ep.subsets!.length, 1);
  t.deepEqual(ep.subsets![0].addresses.map((a: { ip: string }) => a.ip), ['10.2.0.1']);
  t.deepEqual(ep.subsets![0].ports, [{ port: 5432, protocol: 'TCP' }]);
});

test('a pod whose labels stop matching leaves the service', async (t) => {
  const env = await setup();
  await node(env, 'n1');
  await env.cluster.create(service('api', { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] }));
  await env.cluster.create(pod('api-1', { app: 'api' }));
  await runPod(env, 'api-1', '10.3.0.1', true);
  await env.settle();
  t.is(endpoints(env, 'api')!.subsets!.length, 1);
  const p = env.cluster.get('Pod', 'default', 'api-1')!;
  await env.cluster.update({ ...structuredClone(p), metadata: { ...structuredClone(p.metadata), labels: { app: 'quarantined' } } });
  await env.settle();
  t.deepEqual(endpoints(env, 'api')!.subsets ?? [], []);
});

test('headless services get the headless label; services without a selector are left alone', async (t) => {
  const env = await setup();
  await env.cluster.create(service('hl', { clusterIP: 'None', selector: { app: 'hl' } }));
  await env.cluster.create(service('manual', { ports: [{ port: 80 }] }));
  await env.cluster.create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'manual', namespace: 'default' }, subsets: [{ addresses: [{ ip: '192.168.0.9' }], ports: [{ port: 80 }] }] });
  await env.settle();
  t.deepEqual(endpoints(env, 'hl')!.metadata!.labels, { team: 'a', [HEADLESS_LABEL]: '' });
  t.deepEqual(endpoints(env, 'manual')!.subsets![0].addresses, [{ ip: '192.168.0.9' }]);
});

test('endpoints whose service went away while no leader watched are removed at start', async (t) => {
  const env = await setup(false);
  await env.cluster.create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'stale', namespace: 'default' }, subsets: [] });
  env.start();
  await env.settle();
  t.is(endpoints(env, 'stale'), undefined);
});

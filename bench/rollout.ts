/**
 * A rolling update at scale: a Deployment of R replicas on hollow nodes rolled to a new
 * version. Reports the total time and, from a watch on its pods, the most pods ever
 * unavailable and the most pods ever present at one moment (bounded by maxUnavailable
 * and replicas + maxSurge).
 *
 *   npm run bench -- rollout [--replicas 1000] [--nodes 100]
 */
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { BerthClient, type PlainObject } from '../src/client/client.ts';
import { startHollowAgents } from '../src/agent/hollow.ts';
import { benchArgs, log, scratchDir, waitForApi } from './lib/util.ts';

const args = benchArgs({ replicas: 1000, nodes: 100, timeout: 600 });
const dir = scratchDir('bench-rollout');
const ports = await freePorts(6);
const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
const client = new BerthClient({ endpoints: cluster.apiAddresses() });
let agents: { stop(): Promise<void> } | undefined;

const isReady = (p: PlainObject) => ((p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const deploymentDone = (d: PlainObject, replicas: number) => {
  const s = (d.status ?? {}) as { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number; replicas?: number };
  return s.observedGeneration === (d.metadata as { generation?: number }).generation && s.updatedReplicas === replicas && s.availableReplicas === replicas && s.replicas === replicas;
};

try {
  await cluster.startAll();
  await waitForApi(client);
  agents = await startHollowAgents({ servers: cluster.apiAddresses(), count: args.nodes, namePrefix: 'hollow', capacity: { cpu: '64', memory: '256Gi', pods: Math.ceil((args.replicas * 2) / args.nodes) + 10 } });
  const R = args.replicas;
  const maxSurge = Math.ceil(R * 0.25);
  const maxUnavailable = Math.floor(R * 0.25);
  const deploy: PlainObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: R,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:v1' }] } },
    },
  };
  await client.create(deploy);
  const waitDone = async (what: string) => {
    for (let i = 0; ; i++) {
      const d = await client.get('Deployment', 'default', 'web');
      if (deploymentDone(d, R)) return;
      if (i > args.timeout * 5) throw new Error(`${what}: not done after ${args.timeout} s: ${JSON.stringify(d.status)}`);
      await sleep(200);
    }
  };
  log(`waiting for ${R} replicas on ${args.nodes} hollow nodes`);
  await waitDone('initial rollout');
  // Track pods: present (not being deleted) and ready.
  const pods = new Map<string, { ready: boolean; deleting: boolean }>();
  for (const p of (await client.list('Pod', { namespace: 'default', labelSelector: 'app=web' })).items) {
    pods.set(String((p.metadata as { name: string }).name), { ready: isReady(p), deleting: Boolean((p.metadata as { deletionTimestamp?: string }).deletionTimestamp) });
  }
  let maxUnavail = 0;
  let maxPresent = 0;
  const observe = () => {
    let ready = 0;
    let present = 0;
    for (const s of pods.values()) {
      if (!s.deleting) present++;
      if (s.ready && !s.deleting) ready++;
    }
    maxUnavail = Math.max(maxUnavail, R - ready);
    maxPresent = Math.max(maxPresent, present);
  };
  const rv = (await client.list('Pod', { namespace: 'default', limit: 1 })).resourceVersion;
  const cancel = client.watch('Pod', { namespace: 'default', labelSelector: 'app=web', resourceVersion: rv }, (ev) => {
    const name = String(ev.object?.metadata?.name ?? '');
    if (ev.type === 'DELETED') pods.delete(name);
    else if (ev.object) pods.set(name, { ready: isReady(ev.object), deleting: Boolean((ev.object.metadata as { deletionTimestamp?: string }).deletionTimestamp) });
    observe();
  }, (err) => {
    if (err) log(`pod watch ended: ${err.message}`);
  });
  const cur = await client.get('Deployment', 'default', 'web');
  const spec = structuredClone(cur.spec) as { template: { spec: { containers: { image: string }[] } } };
  spec.template.spec.containers[0]!.image = 'busybox:v2';
  const t0 = performance.now();
  await client.update({ ...cur, spec });
  log('rolling to v2');
  await waitDone('rollout to v2');
  const totalMs = Math.round(performance.now() - t0);
  cancel();
  console.log(JSON.stringify({ bench: 'rollout', replicas: R, nodes: args.nodes, totalMs, maxUnavailableSeen: maxUnavail, maxUnavailableAllowed: maxUnavailable, maxPodsSeen: maxPresent, maxPodsAllowed: R + maxSurge }));
} finally {
  await agents?.stop();
  client.close();
  await cluster.stopAll();
}

/**
 * Pod start latency on containerd: 3 durable replicas, one agent with the cri runtime,
 * the busybox image already present. Pods are created one at a time, then 20 at once;
 * a pod's latency runs from its creation being committed (the ADDED event) to its
 * Running status being committed (the MODIFIED event with phase Running), both seen on
 * one watch. The same run measures containerd's own floor by direct CRI calls
 * (RunPodSandbox through StartContainer) one at a time and 20 in parallel.
 *
 *   npm run bench -- podstart [--pods 20] [--burst 20]
 */
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { AgentProcs } from '../src/cli/agent-procs.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { BerthClient, type PlainObject } from '../src/client/client.ts';
import { criSocketFromEnv } from '../src/agent/runtimes/cri-env.ts';
import { measureCriFloor } from './lib/cri-floor.ts';
import { benchArgs, log, percentile, round, scratchDir, waitForApi } from './lib/util.ts';

const args = benchArgs({ pods: 20, burst: 20 });
const socket = criSocketFromEnv();
if (!socket) throw new Error('podstart needs containerd: run scripts/host-setup.sh as root (or set BERTH_CRI_SOCKET)');
const registry = process.env.BERTH_REGISTRY ?? 'localhost:5000';
const image = `${registry}/busybox:latest`;

log('measuring containerd\'s own floor (direct CRI calls)');
const floor = await measureCriFloor(socket, { image, pauseImage: `${registry}/pause:latest`, sequential: args.pods, parallel: args.burst });
log(`floor: p50 ${round(floor.p50Ms, 1)} ms, ${args.burst} in parallel ${round(floor.parallelAllRunningMs, 0)} ms`);

const dir = scratchDir('bench-podstart');
const ports = await freePorts(6);
const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
const agents = new AgentProcs({ dir, servers: cluster.apiAddresses(), runtime: 'cri', criSocket: socket, namePrefix: `podstart-${process.pid}` });
const client = new BerthClient({ endpoints: cluster.apiAddresses() });
const ns = 'default';
try {
  await cluster.startAll();
  await waitForApi(client);
  agents.startAll(1);
  const node = agents.name(1);
  for (let i = 0; ; i++) {
    const n = await client.get('Node', '', node).catch(() => undefined);
    const ready = ((n?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready) break;
    if (i > 600) throw new Error(`node ${node} did not become Ready; see ${agents.logFile(1)}`);
    await sleep(100);
  }
  const added = new Map<string, number>();
  const running = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const start = (await client.list('Pod', { namespace: ns, limit: 1 })).resourceVersion;
  const cancel = client.watch('Pod', { namespace: ns, resourceVersion: start }, (ev) => {
    const name = String(ev.object?.metadata?.name ?? '');
    const now = performance.now();
    if (ev.type === 'ADDED' && !added.has(name)) added.set(name, now);
    if ((ev.object?.status as { phase?: string } | undefined)?.phase === 'Running' && !running.has(name)) {
      running.set(name, now);
      waiters.get(name)?.();
    }
  }, (err) => {
    if (err) log(`pod watch ended: ${err.message}`);
  });
  const pod = (name: string): PlainObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { bench: 'podstart' } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'c', image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
    },
  });
  const runningOf = (name: string) => new Promise<void>((r) => (running.has(name) ? r() : waiters.set(name, r)));
  // Warm-up: the image into containerd's cache and the agent's first sandbox.
  await client.create(pod('warm'));
  await runningOf('warm');
  const lat: number[] = [];
  for (let i = 0; i < args.pods; i++) {
    const name = `seq-${i}`;
    await client.create(pod(name));
    await runningOf(name);
    lat.push(running.get(name)! - added.get(name)!);
  }
  const burstNames = Array.from({ length: args.burst }, (_, i) => `burst-${i}`);
  const t0 = performance.now();
  await Promise.all(burstNames.map((n) => client.create(pod(n))));
  await Promise.all(burstNames.map(runningOf));
  const firstAdded = Math.min(...burstNames.map((n) => added.get(n) ?? t0));
  const burstMs = Math.max(...burstNames.map((n) => running.get(n)!)) - firstAdded;
  cancel();
  lat.sort((a, b) => a - b);
  const p50 = percentile(lat, 50);
  const result = {
    bench: 'podstart',
    runtime: 'cri',
    pods: args.pods,
    p50Ms: round(p50, 1),
    p99Ms: round(percentile(lat, 99), 1),
    criFloorP50Ms: round(floor.p50Ms, 1),
    criFloorP99Ms: round(floor.p99Ms, 1),
    overheadRatio: round(p50 / floor.p50Ms, 2),
    burst: args.burst,
    burst20AllRunningMs: round(burstMs, 0),
    criFloorBurstMs: round(floor.parallelAllRunningMs, 0),
    burstRatio: round(burstMs / floor.parallelAllRunningMs, 2),
  };
  log('cleaning up pods');
  for (const n of ['warm', ...Array.from({ length: args.pods }, (_, i) => `seq-${i}`), ...burstNames]) {
    await client.delete('Pod', ns, n, { gracePeriodSeconds: 0 }).catch(() => {});
  }
  // Give the agent a moment to stop the sandboxes it runs before it is stopped.
  for (let i = 0; i < 100 && (await client.list('Pod', { namespace: ns })).items.length > 0; i++) await sleep(100);
  console.log(JSON.stringify(result));
} finally {
  client.close();
  await agents.stopAll();
  await cluster.stopAll();
}

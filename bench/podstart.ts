/**
 * Pod start latency on containerd: 3 durable replicas, one agent with the cri runtime,
 * the busybox image already present. Pods are created one at a time, then `--burst` at once
 * (`--rounds` times); a pod's latency runs from its creation being committed (the ADDED event)
 * to its Running status being committed (the MODIFIED event with phase Running), both seen on
 * one watch.
 *
 * containerd's own floor (RunPodSandbox through StartContainer by direct CRI calls) is sampled
 * in the same run, interleaved with berth's pods — one floor pod beside each berth pod, one
 * floor burst beside each berth burst, alternating which goes first — so that both see the
 * same machine: a floor measured alone before the cluster starts is faster than containerd
 * is while three replicas and an agent share the cores, and the ratio would blame berth for it.
 *
 *   npm run bench -- podstart [--pods 20] [--burst 20] [--rounds 3]
 */
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { AgentProcs } from '../src/cli/agent-procs.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { BerthClient, type PlainObject } from '../src/client/client.ts';
import { CriRuntime } from '../src/agent/runtimes/cri.ts';
import { criSocketFromEnv } from '../src/agent/runtimes/cri-env.ts';
import { LABEL_NODE } from '../src/agent/labels.ts';
import { CriFloor } from './lib/cri-floor.ts';
import { benchArgs, log, percentile, round, scratchDir, waitForApi } from './lib/util.ts';

const args = benchArgs({ pods: 20, burst: 20, rounds: 3 });
if (!(args.pods >= 1 && args.burst >= 1 && args.rounds >= 1)) throw new Error('--pods, --burst and --rounds must be >= 1');
const socket = criSocketFromEnv();
if (!socket) throw new Error('podstart needs containerd: run scripts/host-setup.sh as root (or set BERTH_CRI_SOCKET)');
const registry = process.env.BERTH_REGISTRY ?? 'localhost:5000';
const image = `${registry}/busybox:latest`;

const floor = new CriFloor(socket, { image, pauseImage: `${registry}/pause:latest` });
const cri = new CriRuntime(socket);
const dir = scratchDir('bench-podstart');
const ports = await freePorts(6);
const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
const agents = new AgentProcs({ dir, servers: cluster.apiAddresses(), runtime: 'cri', criSocket: socket, namePrefix: `podstart-${process.pid}` });
const client = new BerthClient({ endpoints: cluster.apiAddresses() });
const ns = 'default';
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const median = (xs: number[]): number => percentile(sorted(xs), 50);
try {
  await floor.prepare();
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
  /** Deletes the pods and waits until neither the API nor containerd has any of this node's. */
  const removeAll = async (names: string[]): Promise<void> => {
    for (const n of names) await client.delete('Pod', ns, n, { gracePeriodSeconds: 0 }).catch(() => {});
    for (let i = 0; ; i++) {
      const api = (await client.list('Pod', { namespace: ns })).items.length;
      const sandboxes = (await cri.listPodSandboxes()).filter((s) => s.labels[LABEL_NODE] === node && s.state === 'ready').length;
      if (api === 0 && sandboxes === 0) return;
      if (i > 600) throw new Error(`pods still there after 60 s: ${api} in the API, ${sandboxes} sandboxes ready in containerd`);
      await sleep(100);
    }
  };

  // Warm-up: the agent's first sandbox and its caches.
  await client.create(pod('warm'));
  await runningOf('warm');
  await removeAll(['warm']);

  const lat: number[] = [];
  const floorSeq: number[] = [];
  const seqNames: string[] = [];
  for (let i = 0; i < args.pods; i++) {
    const name = `seq-${i}`;
    seqNames.push(name);
    const berthOne = async () => {
      await client.create(pod(name));
      await runningOf(name);
      lat.push(running.get(name)! - added.get(name)!);
    };
    if (i % 2 === 0) {
      floorSeq.push((await floor.one()).totalMs);
      await berthOne();
    } else {
      await berthOne();
      floorSeq.push((await floor.one()).totalMs);
    }
  }
  await removeAll(seqNames);

  const bursts: number[] = [];
  const floorBursts: number[] = [];
  for (let r = 0; r < args.rounds; r++) {
    const names = Array.from({ length: args.burst }, (_, i) => `burst-${r}-${i}`);
    const berthBurst = async () => {
      await Promise.all(names.map((n) => client.create(pod(n))));
      await Promise.all(names.map(runningOf));
      const firstAdded = Math.min(...names.map((n) => added.get(n)!));
      bursts.push(Math.max(...names.map((n) => running.get(n)!)) - firstAdded);
      await removeAll(names);
    };
    if (r % 2 === 0) {
      floorBursts.push(await floor.parallel(args.burst));
      await berthBurst();
    } else {
      await berthBurst();
      floorBursts.push(await floor.parallel(args.burst));
    }
    log(`burst round ${r + 1}: berth ${round(bursts[r]!, 0)} ms, containerd ${round(floorBursts[r]!, 0)} ms`);
  }
  cancel();
  const p50 = median(lat);
  const floorP50 = median(floorSeq);
  const burstMs = median(bursts);
  const floorBurstMs = median(floorBursts);
  const result = {
    bench: 'podstart',
    runtime: 'cri',
    pods: args.pods,
    p50Ms: round(p50, 1),
    p99Ms: round(percentile(sorted(lat), 99), 1),
    criFloorP50Ms: round(floorP50, 1),
    criFloorP99Ms: round(percentile(sorted(floorSeq), 99), 1),
    overheadMsP50: round(p50 - floorP50, 1),
    overheadRatio: round(p50 / floorP50, 2),
    burst: args.burst,
    rounds: args.rounds,
    burst20AllRunningMs: round(burstMs, 0),
    criFloorBurstMs: round(floorBurstMs, 0),
    // Each berth burst against the containerd burst beside it: the median of those ratios.
    burstRatio: round(median(bursts.map((b, i) => b / floorBursts[i]!)), 2),
    burstRoundsMs: bursts.map((b) => round(b, 0)),
    criFloorBurstRoundsMs: floorBursts.map((b) => round(b, 0)),
  };
  console.log(JSON.stringify(result));
} finally {
  client.close();
  await agents.stopAll();
  await cluster.stopAll();
  await floor.close();
  await cri.close();
}

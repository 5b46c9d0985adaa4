/**
 * End-to-end scheduling: N hollow nodes (fake runtime), P pods as a mix of Deployments,
 * 3 durable replicas. Each pod's latency runs from its creation (ADDED on a watch) to its
 * Running status (both committed, both seen on the same watch); throughput is pods over
 * the time from the first pod created to the last one Running.
 *
 *   npm run bench -- schedule [--nodes 1000] [--pods 10000] [--deployments 20] [--keepLogs 1]
 *
 * Besides the leader's CPU it reports the followers' and this process's (the hollow agents
 * and the pod watch) per pod, and how many elections happened. To profile, run it as
 * `node --cpu-prof --cpu-prof-dir=DIR --import tsx bench/run.ts schedule ...`: the
 * replicas inherit the flags, and the window start/end lines are on the monotonic clock
 * that the profiles' timestamps use.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { BerthClient } from '../src/client/client.ts';
import { startHollowAgents } from '../src/agent/hollow.ts';
import { procCpuMicros, procRssBytes } from './lib/proc-cpu.ts';
import { benchArgs, log, percentile, round, scratchDir, waitForApi } from './lib/util.ts';

const args = benchArgs({ nodes: 1000, pods: 10000, deployments: 20, timeout: 600, keepLogs: 0 });
const dir = scratchDir('bench-schedule');
const ports = await freePorts(6);
const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
const client = new BerthClient({ endpoints: cluster.apiAddresses() });
let agents: { stop(): Promise<void> } | undefined;
try {
  await cluster.startAll();
  await waitForApi(client);
  const st0 = await client.status();
  const leaderId = st0.leader;
  const leaderPid = cluster.pid(leaderId)!;
  log(`starting ${args.nodes} hollow agents`);
  agents = await startHollowAgents({ servers: cluster.apiAddresses(), count: args.nodes, namePrefix: 'hollow', capacity: { cpu: '32', memory: '128Gi', pods: 110 } });
  for (let i = 0; ; i++) {
    const nodes = (await client.list('Node', { serializable: true })).items;
    const ready = nodes.filter((n) => ((n.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')).length;
    if (ready >= args.nodes) break;
    if (i > 1200) throw new Error(`only ${ready}/${args.nodes} nodes Ready after 2 minutes`);
    await sleep(100);
  }
  log(`${args.nodes} nodes Ready; creating ${args.deployments} Deployments with ${args.pods} pods in all`);
  // The pod watch that measures is served by a follower, like a user's: the leader's time
  // goes to scheduling and controllers, not to encoding every pod change for the bench.
  const followerId = [1, 2, 3].find((id) => id !== leaderId)!;
  const watcher = new BerthClient({ endpoints: [cluster.apiAddresses()[followerId - 1]!] });
  const added = new Map<string, number>();
  const running = new Map<string, number>();
  const bound = new Map<string, number>();
  let done: () => void = () => {};
  const allRunning = new Promise<void>((r) => (done = r));
  let podEvents = 0;
  let rv = (await client.list('Pod', { limit: 1 })).resourceVersion;
  // A replica may die during the run (elections): the watch resumes elsewhere from the
  // last version seen, so the measurement does not hang on a dead stream.
  let cancelled = false;
  let cancelWatch: () => void = () => {};
  const watchPods = () => {
    cancelWatch = watcher.watch('Pod', { namespace: 'default', resourceVersion: rv }, (ev) => {
      const name = String(ev.object?.metadata?.name ?? '');
      const v = String(ev.object?.metadata?.resourceVersion ?? '');
      if (v) rv = v;
      const now = performance.now();
      podEvents++;
      if (ev.type === 'ADDED' && !added.has(name)) added.set(name, now);
      if ((ev.object?.spec as { nodeName?: string } | undefined)?.nodeName && !bound.has(name)) bound.set(name, now);
      if ((ev.object?.status as { phase?: string } | undefined)?.phase === 'Running' && !running.has(name)) {
        running.set(name, now);
        if (running.size >= args.pods) done();
      }
    }, (err) => {
      if (!err || cancelled) return;
      log(`pod watch ended: ${err.message}; resuming from ${rv}`);
      setTimeout(watchPods, 200);
    });
  };
  watchPods();
  const cancel = () => {
    cancelled = true;
    cancelWatch();
  };
  const replicaPids = [1, 2, 3].map((id) => cluster.pid(id)!);
  const cpu0 = procCpuMicros(leaderPid);
  const replicaCpu0 = replicaPids.map((p) => procCpuMicros(p));
  const self0 = process.cpuUsage();
  // On the monotonic clock V8's --cpu-prof uses, to cut profiles to the measured window.
  log(`window start ${process.hrtime.bigint() / 1000n} µs (monotonic)`);
  const per = Math.floor(args.pods / args.deployments);
  await Promise.all(
    Array.from({ length: args.deployments }, (_, i) => {
      const replicas = i === args.deployments - 1 ? args.pods - per * (args.deployments - 1) : per;
      const app = `app-${i}`;
      return client.create({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: app, namespace: 'default' },
        spec: {
          replicas,
          selector: { matchLabels: { app } },
          template: {
            metadata: { labels: { app } },
            spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: i % 2 ? '100m' : '250m', memory: i % 3 ? '64Mi' : '128Mi' } } }] },
          },
        },
      });
    }),
  );
  const progress = setInterval(() => {
    client.status().then(
      (st) => log(`  ${added.size} created, ${running.size} running (term ${st.term}, leader ${st.leader})`),
      () => log(`  ${added.size} created, ${running.size} running`),
    );
  }, 2000);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`only ${running.size}/${args.pods} pods Running after ${args.timeout} s`)), args.timeout * 1000);
  });
  // The timer must not outlive the run: it would hold the process for the whole timeout.
  await Promise.race([allRunning, timedOut]).finally(() => clearTimeout(timer));
  clearInterval(progress);
  const wall = Math.max(...running.values()) - Math.min(...added.values());
  const lat = [...running].map(([n, t]) => t - (added.get(n) ?? t)).sort((a, b) => a - b);
  // The two halves: waiting to be scheduled (creation → bound), and the node's part with the
  // status report (bound → Running).
  const toBind = [...bound].map(([n, t]) => t - (added.get(n) ?? t)).sort((a, b) => a - b);
  const toRun = [...running].map(([n, t]) => t - (bound.get(n) ?? t)).sort((a, b) => a - b);
  log(`window end ${process.hrtime.bigint() / 1000n} µs (monotonic)`);
  const dead = [1, 2, 3].filter((id, i) => !cluster.running(id) || !existsSync(`/proc/${replicaPids[i]}`));
  if (dead.length > 0) throw new Error(`replica(s) ${dead.join(', ')} exited during the run; --keepLogs 1 keeps their logs`);
  const cpuMs = (procCpuMicros(leaderPid) - cpu0) / 1000;
  const replicaCpuUs = replicaPids.map((p, i) => procCpuMicros(p) - replicaCpu0[i]!);
  const self = process.cpuUsage(self0);
  const followerCpuUs = replicaCpuUs.reduce((a, b) => a + b, 0) - cpuMs * 1000;
  const benchCpuUs = self.user + self.system;
  cancel();
  watcher.close();
  const st1 = await client.status();
  // Events written (the scheduler's Scheduled per pod, the controllers'): the recorders drop
  // what they cannot keep up with, so this shows how much of that work was done.
  const events = (await client.list('Event', { serializable: true })).items.length;
  // Ticks that ran ≥ 5 ticks late (the replicas warn of them, summed per warning): how long
  // each process went without running, the cause of any election above.
  const lateTicks = [1, 2, 3].map((id) => {
    const text = existsSync(join(dir, `server-${id}.log`)) ? readFileSync(join(dir, `server-${id}.log`), 'utf8') : '';
    let count = 0;
    let worstMs = 0;
    for (const m of text.matchAll(/raft: ticks ran late (\d+) time\(s\), the worst (\d+) ms/g)) {
      count += Number(m[1]);
      worstMs = Math.max(worstMs, Number(m[2]));
    }
    return { count, worstMs };
  });
  const result = {
    bench: 'schedule',
    nodes: args.nodes,
    pods: args.pods,
    podsPerSec: Math.round((args.pods / wall) * 1000),
    p50Ms: round(percentile(lat, 50), 0),
    p99Ms: round(percentile(lat, 99), 0),
    bindP50Ms: round(percentile(toBind, 50), 0),
    bindP99Ms: round(percentile(toBind, 99), 0),
    runP50Ms: round(percentile(toRun, 50), 0),
    runP99Ms: round(percentile(toRun, 99), 0),
    wallMs: Math.round(wall),
    leaderCpuUsPerPod: Math.round((cpuMs * 1000) / args.pods),
    leaderRssMb: Math.round(procRssBytes(leaderPid) / 2 ** 20),
    // The two followers (mean), and this process: the hollow agents plus the pod watch.
    followerCpuUsPerPod: Math.round(followerCpuUs / 2 / args.pods),
    agentsCpuUsPerPod: Math.round(benchCpuUs / args.pods),
    // Elections during the run (each restarts the scheduler and controllers on a new leader).
    termChanges: st1.term - st0.term,
    events,
    // Pod changes the watch saw per pod (create, bind, status reports, ...): each one is a
    // committed write that every replica applied.
    podWritesPerPod: round(podEvents / args.pods, 2),
    lateTicks: lateTicks.reduce((a, b) => a + b.count, 0),
    worstTickGapMs: Math.max(...lateTicks.map((l) => l.worstMs)),
    totalCpuUsPerPod: Math.round((cpuMs * 1000 + followerCpuUs + benchCpuUs) / args.pods),
  };
  console.log(JSON.stringify(result));
} finally {
  await agents?.stop();
  client.close();
  await cluster.stopAll();
  if (args.keepLogs) {
    const keep = mkdtempSync(join(tmpdir(), 'berth-schedule-logs-'));
    for (const id of [1, 2, 3]) cpSync(join(dir, `server-${id}.log`), join(keep, `server-${id}.log`));
    log(`replica logs kept in ${keep}`);
  }
}

/**
 * Hollow nodes: N agents with the fake runtime (like Kubernetes' kubemark), all in one
 * process, against 3 durable replicas for a while. Heartbeats must all be held: no node
 * may flap NotReady. Reports the leader's CPU and RSS, and how many Node writes the
 * heartbeats caused (they should cause none: liveness lives in the leader's memory).
 *
 *   npm run bench -- hollow [--nodes 1000] [--seconds 60]
 */
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { BerthClient } from '../src/client/client.ts';
import { startHollowAgents } from '../src/agent/hollow.ts';
import { procCpuMicros, procRssBytes } from './lib/proc-cpu.ts';
import { benchArgs, log, round, scratchDir, waitForApi } from './lib/util.ts';

const args = benchArgs({ nodes: 1000, seconds: 60 });
const dir = scratchDir('bench-hollow');
const ports = await freePorts(6);
const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
const client = new BerthClient({ endpoints: cluster.apiAddresses() });
let agents: { stop(): Promise<void> } | undefined;
try {
  await cluster.startAll();
  await waitForApi(client);
  log(`starting ${args.nodes} hollow agents`);
  const t0 = performance.now();
  agents = await startHollowAgents({ servers: cluster.apiAddresses(), count: args.nodes, namePrefix: 'hollow' });
  // All registered and Ready.
  let ready = 0;
  for (let i = 0; ; i++) {
    const nodes = (await client.list('Node', { serializable: true })).items;
    ready = nodes.filter((n) => ((n.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')).length;
    if (ready >= args.nodes) break;
    if (i > 1200) throw new Error(`only ${ready}/${args.nodes} nodes Ready after 2 minutes`);
    await sleep(100);
  }
  const registerMs = performance.now() - t0;
  log(`${ready} nodes Ready after ${Math.round(registerMs)} ms; holding for ${args.seconds} s`);
  // Count flaps and Node writes during the steady period.
  let flaps = 0;
  let nodeWrites = 0;
  const notReady = new Set<string>();
  const startRv = (await client.list('Node', { limit: 1 })).resourceVersion;
  const cancel = client.watch('Node', { resourceVersion: startRv }, (ev) => {
    if (ev.type !== 'MODIFIED') return;
    nodeWrites++;
    const name = String(ev.object?.metadata?.name);
    const ok = ((ev.object?.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    if (!ok && !notReady.has(name)) {
      notReady.add(name);
      flaps++;
    } else if (ok) notReady.delete(name);
  }, (err) => {
    if (err) log(`node watch ended: ${err.message}`);
  });
  // The leader as the hold starts (registration may have moved it).
  const leaderId = (await client.status()).leader;
  const leaderPid = cluster.pid(leaderId)!;
  const cpu0 = procCpuMicros(leaderPid);
  const w0 = performance.now();
  let rssMax = 0;
  while (performance.now() - w0 < args.seconds * 1000) {
    await sleep(1000);
    rssMax = Math.max(rssMax, procRssBytes(leaderPid));
  }
  const wallUs = (performance.now() - w0) * 1000;
  const cpuPct = ((procCpuMicros(leaderPid) - cpu0) / wallUs) * 100;
  const after = await client.status();
  cancel();
  const result = {
    bench: 'hollow',
    nodes: args.nodes,
    seconds: args.seconds,
    registerAllReadyMs: Math.round(registerMs),
    flaps,
    nodeWritesDuringHold: nodeWrites,
    leaderChanges: after.leader !== leaderId ? 1 : 0,
    leaderCpuPercent: round(cpuPct, 1),
    leaderRssMb: Math.round(rssMax / 2 ** 20),
  };
  console.log(JSON.stringify(result));
} finally {
  await agents?.stop();
  client.close();
  await cluster.stopAll();
}

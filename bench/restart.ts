/**
 * Restart of a loaded replica: a three-replica cluster holding N ConfigMaps (default
 * 100,000); one replica is stopped and started again. Measured: from the process start
 * until it serves a linearizable Get of the newest object, and its RSS then (and after
 * its background decoding finishes).
 *
 *   npm run bench -- restart [--objects 100000] [--inflight 256]
 */
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { freePorts } from '../src/cli/proc-cluster.ts';
import { BerthClient } from '../src/client/client.ts';
import { benchArgs, log, round, scratchDir, waitForApi } from './lib/util.ts';
import { procRssBytes } from './lib/proc-cpu.ts';

const args = benchArgs({ objects: 100_000, inflight: 256 });
const dir = scratchDir('bench-restart');
const ports = await freePorts(6);
const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
try {
  await cluster.startAll();
  const client = new BerthClient({ endpoints: cluster.apiAddresses(), timeoutMs: 60_000 });
  await waitForApi(client);
  log(`creating ${args.objects} ConfigMaps at ${args.inflight} in flight`);
  const t0 = performance.now();
  let next = 0;
  let retried = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= args.objects) return;
      const obj = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `cm-${i}`, namespace: 'default', labels: { app: `a${i % 100}` } },
        data: { key: `value-${i}`, other: 'x'.repeat(64) },
      };
      // A write whose outcome is unknown (a leader change under load) is sent again;
      // AlreadyExists then means the first one landed.
      for (let attempt = 0; ; attempt++) {
        try {
          await client.create(obj);
          break;
        } catch (e) {
          const code = (e as { codeName?: string }).codeName;
          if (attempt > 0 && code === 'ALREADY_EXISTS') break;
          if (code !== 'UNAVAILABLE' || attempt >= 20) throw e;
          retried++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      if (i % 10_000 === 0 && i > 0) log(`  ${i} created (${Math.round(i / ((performance.now() - t0) / 1000))}/s)`);
    }
  };
  await Promise.all(Array.from({ length: args.inflight }, worker));
  const createSeconds = (performance.now() - t0) / 1000;
  log(`created in ${round(createSeconds, 1)} s; restarting replica 3`);
  const victim = 3;
  await cluster.kill(victim, 'SIGTERM');
  const only = new BerthClient({ endpoints: [cluster.apiAddress(victim)], timeoutMs: 60_000 });
  const t1 = performance.now();
  await cluster.start(victim);
  const listening = performance.now() - t1;
  let served = 0;
  for (;;) {
    try {
      const o = await only.get('ConfigMap', 'default', `cm-${args.objects - 1}`);
      if (o.data) {
        served = performance.now() - t1;
        break;
      }
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const pid = cluster.pid(victim)!;
  const rssServing = procRssBytes(pid);
  // Count through the restarted replica (its own applied state) to check nothing is missing.
  let count = 0;
  let cont = '';
  do {
    const page = await only.list('ConfigMap', { namespace: 'default', limit: 5000, continue: cont, serializable: true });
    count += page.items.length;
    cont = page.continue;
  } while (cont);
  const rssAfterList = procRssBytes(pid);
  const result = {
    bench: 'restart',
    objects: args.objects,
    createPerSec: Math.round(args.objects / createSeconds),
    listeningMs: Math.round(listening),
    servingMs: Math.round(served),
    rssMBServing: Math.round(rssServing / 2 ** 20),
    rssMBAfterFullList: Math.round(rssAfterList / 2 ** 20),
    objectsAfterRestart: count,
    createsRetried: retried,
  };
  log(`serving again after ${result.servingMs} ms, RSS ${result.rssMBServing} MB (after a full list ${result.rssMBAfterFullList} MB), ${count} objects`);
  client.close();
  only.close();
  await cluster.stopAll();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  await cluster.stopAll();
  throw e;
}

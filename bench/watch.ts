/**
 * Watch fan-out: 1,000 watchers on one replica, each following its own ConfigMap (a
 * field selector, as node agents follow their own pods), plus one watcher of the whole
 * namespace; a writer changes the ConfigMaps at 1,000 changes/s through another replica.
 * Delivery latency is from the moment the update is sent to the moment the event
 * arrives (commit included).
 *
 *   npm run bench -- watch [--watchers 1000] [--rate 1000] [--seconds 10]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { freePorts } from '../src/cli/proc-cluster.ts';
import protobuf from 'protobufjs';
import { BerthClient } from '../src/client/client.ts';
import { toWire } from '../src/server/convert.ts';
import { API_PROTO } from '../src/server/service.ts';
import { RawGrpcSession, grpcFrame } from './lib/raw-h2.ts';
import { benchArgs, log, percentile, round, scratchDir, waitForApi } from './lib/util.ts';
import { procCpuMicros } from './lib/proc-cpu.ts';

const args = benchArgs({ watchers: 1000, rate: 1000, seconds: 10 });
const dir = scratchDir('bench-watch');
const ports = await freePorts(6);
const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
try {
  await cluster.startAll();
  const writer = new BerthClient({ endpoints: [cluster.apiAddress(2), cluster.apiAddress(3)] });
  await waitForApi(writer);
  // Fixed roles, so that runs compare: replica 3 leads, the watchers are on follower 1,
  // the writes go to follower 2 (which forwards them).
  const lead0 = (await writer.status()).leader;
  if (lead0 !== 3) {
    const c = new BerthClient({ endpoints: [cluster.apiAddress(lead0)] });
    await c.transferLeader(3);
    c.close();
    await waitForApi(writer);
  }
  const n = args.watchers;
  log(`creating ${n} ConfigMaps`);
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, j) =>
        writer.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `w-${i + j}`, namespace: 'default' }, data: { seq: '0' } }),
      ),
    );
  }
  // Watchers share a few HTTP/2 connections, as many agents behind one proxy would.
  const watchClients = Array.from({ length: 4 }, () => new BerthClient({ endpoints: [cluster.apiAddress(1)] }));
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  let received = 0;
  let allReceived = 0;
  let broken = 0;
  const cancels: (() => void)[] = [];
  const start = (await writer.list('ConfigMap', { namespace: 'default', limit: 1 })).resourceVersion;
  for (let i = 0; i < n; i++) {
    cancels.push(
      watchClients[i % watchClients.length]!.watch(
        'ConfigMap',
        { namespace: 'default', fieldSelector: `metadata.name=w-${i}`, resourceVersion: start },
        (ev) => {
          if (ev.type !== 'MODIFIED') return;
          const key = `${ev.object?.metadata?.name}/${(ev.object?.data as Record<string, string>)?.seq}`;
          const t = sentAt.get(key);
          if (t !== undefined) {
            lat.push(performance.now() - t);
            received++;
          }
        },
        (err) => {
          if (err) broken++;
        },
      ),
    );
  }
  cancels.push(
    watchClients[0]!.watch('ConfigMap', { namespace: 'default', resourceVersion: start }, (ev) => {
      if (ev.type === 'MODIFIED') allReceived++;
    }, (err) => {
      if (err) broken++;
    }),
  );
  await new Promise((r) => setTimeout(r, 1000)); // let every stream open
  log(`${n} watchers open; writing ${args.rate} changes/s for ${args.seconds} s`);
  // The writer uses the lean HTTP/2 client: grpc-js' client would cost this process more
  // CPU than the watchers it is measuring.
  const UpdateRequest = new protobuf.Root().loadSync(API_PROTO, { keepCase: true }).lookupType('berth.v1.UpdateRequest');
  const wp = ports[4]!;
  const raw = new RawGrpcSession('127.0.0.1', wp, 10_000);
  const encodeUpdate = (name: string, seq: string) =>
    grpcFrame(UpdateRequest.encode(UpdateRequest.fromObject({ object: toWire({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { seq } }) })).finish());
  let sent = 0;
  let failed = 0;
  let firstError: string | undefined;
  const total = args.rate * args.seconds;
  // The load generator's own event-loop stalls would show up as delivery latency:
  // measure them so a reader can tell the two apart.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const pids = [1, 2, 3].map((id) => cluster.pid(id)!);
  const cpuServers0 = pids.map(procCpuMicros);
  const cpuBench0 = process.cpuUsage();
  const t0 = performance.now();
  const inflight: Promise<unknown>[] = [];
  while (sent < total) {
    const due = Math.floor(((performance.now() - t0) / 1000) * args.rate);
    while (sent < Math.min(due, total)) {
      const i = sent % n;
      const seq = String(Math.floor(sent / n) + 1);
      sentAt.set(`w-${i}/${seq}`, performance.now());
      sent++;
      inflight.push(
        raw.call('/berth.v1.Objects/Update', encodeUpdate(`w-${i}`, seq)).catch((e: Error) => {
          failed++;
          firstError ??= e.message;
        }),
      );
    }
    if (inflight.length > 2000) await Promise.all(inflight.splice(0));
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
  const writeSeconds = (performance.now() - t0) / 1000;
  const deadline = Date.now() + 10_000;
  while ((received + failed < total || allReceived + failed < total) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  loopDelay.disable();
  const cpuServers = pids.map((p, i) => procCpuMicros(p) - cpuServers0[i]!);
  const cpuBenchUsage = process.cpuUsage(cpuBench0);
  const cpuBench = cpuBenchUsage.user + cpuBenchUsage.system;
  const leader = (await writer.status()).leader;
  raw.close();
  for (const c of cancels) c();
  lat.sort((a, b) => a - b);
  const result = {
    bench: 'watch',
    watchers: n,
    namespaceWatchers: 1,
    changesPerSec: Math.round(sent / writeSeconds),
    changes: sent,
    writeErrors: failed,
    delivered: received,
    deliveredToNamespaceWatcher: allReceived,
    missing: sent - failed - received,
    brokenStreams: broken,
    p50Ms: round(percentile(lat, 50)),
    p99Ms: round(percentile(lat, 99)),
    maxMs: round(lat[lat.length - 1] ?? 0),
    benchLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    benchLoopDelayMaxMs: round(loopDelay.max / 1e6),
    // CPU per change: the watched replica (1), the replica taking the writes (2), the
    // third (3), and this process (watch streams + writer); which one leads is named.
    leader,
    cpuUsPerChangeWatched: Math.round(cpuServers[0]! / sent),
    cpuUsPerChangeWriteReplica: Math.round(cpuServers[1]! / sent),
    cpuUsPerChangeThird: Math.round(cpuServers[2]! / sent),
    cpuUsPerChangeBench: Math.round(cpuBench / sent),
  };
  log(`delivered ${received}/${sent - failed}, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms${firstError ? `; first write error: ${firstError}` : ''}`);
  writer.close();
  for (const c of watchClients) c.close();
  await cluster.stopAll();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  await cluster.stopAll();
  throw e;
}

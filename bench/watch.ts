/**
 * Watch fan-out: 1,000 watchers on one replica, each following its own ConfigMap (a
 * field selector, as node agents follow their own pods), plus one watcher of the whole
 * namespace; a writer changes the ConfigMaps at 1,000 changes/s through another replica.
 * Delivery latency is from the moment the update is sent to the moment the event
 * arrives (commit included).
 *
 * Before the measured changes, a warm-up writes at the same rate to as many other
 * ConfigMaps that no watcher follows (`--warmup` seconds, default 2): V8 compiles the
 * write, replication and apply paths as any long-running replica has them, while each
 * watcher's first event, its stream's first use, still falls in the measured part.
 * `--warmup 0` measures a cold cluster.
 *
 *   npm run bench -- watch [--watchers 1000] [--rate 1000] [--seconds 10] [--warmup 2]
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

const args = benchArgs({ watchers: 1000, rate: 1000, seconds: 10, warmup: 2 });
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
  const createAll = async (prefix: string) => {
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, j) =>
          writer.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${prefix}-${i + j}`, namespace: 'default' }, data: { seq: '0' } }),
        ),
      );
    }
  };
  log(`creating ${n} ConfigMaps${args.warmup > 0 ? `, and ${n} more for the warm-up` : ''}`);
  await createAll('w');
  if (args.warmup > 0) await createAll('warm');
  // Watchers share a few HTTP/2 connections, as many agents behind one proxy would.
  const watchClients = Array.from({ length: 4 }, () => new BerthClient({ endpoints: [cluster.apiAddress(1)] }));
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  const slow: [sentAt: number, ms: number][] = [];
  /** The writer's view: update sent → answered (committed and applied on the replica that took it). */
  const ackLat: number[] = [];
  const slowAcks: [sentAt: number, ms: number][] = [];
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
            const l = performance.now() - t;
            lat.push(l);
            if (l > 50) slow.push([t, l]);
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
  /** Send `count` updates at args.rate, the i-th made by `make(i)`; resolves when all are answered. */
  const paced = async (count: number, make: (i: number) => Promise<unknown>) => {
    const start = performance.now();
    const pending: Promise<unknown>[] = [];
    let done = 0;
    while (done < count) {
      const due = Math.floor(((performance.now() - start) / 1000) * args.rate);
      while (done < Math.min(due, count)) pending.push(make(done++));
      if (pending.length > 2000) await Promise.all(pending.splice(0));
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(pending);
  };
  if (args.warmup > 0) {
    let warmFailed = 0;
    await paced(Math.round(args.rate * args.warmup), (i) =>
      raw.call('/berth.v1.Objects/Update', encodeUpdate(`warm-${i % n}`, `${i}`)).catch(() => void warmFailed++),
    );
    if (warmFailed > 0) throw new Error(`warm-up: ${warmFailed} updates failed`);
    const settle = Date.now() + 10_000;
    while (allReceived < Math.round(args.rate * args.warmup) && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
    allReceived = 0;
    log(`warmed up: ${Math.round(args.rate * args.warmup)} changes to unwatched ConfigMaps`);
  }
  // The load generator's own event-loop stalls would show up as delivery latency:
  // measure them so a reader can tell the two apart.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const pids = [1, 2, 3].map((id) => cluster.pid(id)!);
  const cpuServers0 = pids.map(procCpuMicros);
  const cpuBench0 = process.cpuUsage();
  const t0 = performance.now();
  log(`measuring from ${new Date().toISOString()} (monotonic ${process.hrtime.bigint() / 1000n} µs)`);
  await paced(total, (k) => {
    const i = k % n;
    const seq = String(Math.floor(k / n) + 1);
    const at = performance.now();
    sentAt.set(`w-${i}/${seq}`, at);
    sent++;
    return raw.call('/berth.v1.Objects/Update', encodeUpdate(`w-${i}`, seq)).then(
      () => {
        const ms = performance.now() - at;
        ackLat.push(ms);
        if (ms > 50) slowAcks.push([at, ms]);
      },
      (e: Error) => {
        failed++;
        firstError ??= e.message;
      },
    );
  });
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
  ackLat.sort((a, b) => a - b);
  // Where the slow deliveries and answers (> 50 ms) fall in the run: a periodic stall
  // shows as a few dense windows, a saturated machine as a spread.
  const windows = new Map<number, { n: number; max: number; acks: number; ackMax: number }>();
  const windowOf = (at: number) => {
    const w = Math.floor((at - t0) / 250) * 250;
    let e = windows.get(w);
    if (!e) windows.set(w, (e = { n: 0, max: 0, acks: 0, ackMax: 0 }));
    return e;
  };
  for (const [at, ms] of slow) {
    const e = windowOf(at);
    e.n++;
    e.max = Math.max(e.max, ms);
  }
  for (const [at, ms] of slowAcks) {
    const e = windowOf(at);
    e.acks++;
    e.ackMax = Math.max(e.ackMax, ms);
  }
  for (const [w, e] of [...windows].sort((a, b) => a[0] - b[0])) {
    log(`sent at +${w} ms: ${e.n} deliveries over 50 ms (max ${Math.round(e.max)}), ${e.acks} writes answered after 50 ms (max ${Math.round(e.ackMax)})`);
  }
  const result = {
    bench: 'watch',
    watchers: n,
    namespaceWatchers: 1,
    warmupSeconds: args.warmup,
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
    writeP50Ms: round(percentile(ackLat, 50)),
    writeP99Ms: round(percentile(ackLat, 99)),
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

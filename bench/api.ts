/**
 * The object API under load: three durable replicas (processes), 256-byte ConfigMap
 * updates at 64 and 256 in flight spread over all replicas, and linearizable Gets at 64
 * in flight. Load comes from worker processes (one per replica endpoint) so that the
 * generator is not the bottleneck; server and generator CPU are read from /proc.
 *
 *   npm run bench -- api [--seconds 10] [--objects 1000] [--updates 0|1] [--gets 0|1]
 *                        [--inflight N]   (one level instead of updates at 64 and 256, gets at 64)
 *                        [--warmup 3]     (seconds of the same load, unmeasured, before each phase)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { freePorts } from '../src/cli/proc-cluster.ts';
import protobuf from 'protobufjs';
import { BerthClient } from '../src/client/client.ts';
import { toWire } from '../src/server/convert.ts';
import { API_PROTO } from '../src/server/service.ts';
import { RawGrpcSession, grpcFrame } from './lib/raw-h2.ts';
import { benchArgs, log, percentile, round, scratchDir, waitForApi } from './lib/util.ts';
import { procCpuMicros } from './lib/proc-cpu.ts';

interface WorkerResult {
  ops: number;
  errors: number;
  lat: number[];
  cpuMicros: number;
  firstError?: string;
}

const SELF = fileURLToPath(import.meta.url);

if (process.env.BERTH_BENCH_WORKER) {
  // A load worker: closed loop against one endpoint over a minimal HTTP/2 client, with
  // every request encoded once up front (the generator must stay cheap next to servers).
  const cfg = JSON.parse(process.env.BERTH_BENCH_WORKER) as { endpoint: string; op: string; inflight: number; seconds: number; objects: number; offset: number; stride: number };
  const root = new protobuf.Root().loadSync(API_PROTO, { keepCase: true });
  const UpdateRequest = root.lookupType('berth.v1.UpdateRequest');
  const GetRequest = root.lookupType('berth.v1.GetRequest');
  const value = 'x'.repeat(256);
  const bodies: Buffer[] = [];
  for (let i = 0; i < cfg.objects; i++) {
    const name = `cm-${i}`;
    const msg =
      cfg.op === 'update'
        ? UpdateRequest.encode(UpdateRequest.fromObject({ object: toWire({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v: value } }) })).finish()
        : GetRequest.encode(GetRequest.fromObject({ ref: { kind: 'ConfigMap', namespace: 'default', name } })).finish();
    bodies.push(grpcFrame(msg));
  }
  const path = cfg.op === 'update' ? '/berth.v1.Objects/Update' : '/berth.v1.Objects/Get';
  const [host, port] = [cfg.endpoint.slice(0, cfg.endpoint.lastIndexOf(':')), Number(cfg.endpoint.slice(cfg.endpoint.lastIndexOf(':') + 1))];
  const session = new RawGrpcSession(host, port, 5000);
  const lat: number[] = [];
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + cfg.seconds * 1000;
  let n = cfg.offset;
  const loop = async () => {
    while (performance.now() < end) {
      const body = bodies[n % cfg.objects]!;
      n += cfg.stride;
      const t = performance.now();
      try {
        await session.call(path, body);
        lat.push(performance.now() - t);
        ops++;
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.inflight }, loop));
  const c = process.cpuUsage(cpu0);
  session.close();
  // Disconnect only once the (large) result has been handed over, or it may be lost.
  process.send!({ ops, errors, lat, cpuMicros: c.user + c.system, ...(firstError ? { firstError } : {}) } satisfies WorkerResult, undefined, {}, () => process.disconnect());
} else {
  await main();
}

async function runWorkers(endpoints: string[], op: string, inflight: number, seconds: number, objects: number): Promise<WorkerResult[]> {
  const per = Math.max(1, Math.round(inflight / endpoints.length));
  return Promise.all(
    endpoints.map(
      (endpoint, i) =>
        new Promise<WorkerResult>((resolve, reject) => {
          const child = fork(SELF, [], {
            execArgv: process.execArgv,
            env: { ...process.env, BERTH_BENCH_WORKER: JSON.stringify({ endpoint, op, inflight: per, seconds, objects, offset: i, stride: endpoints.length }) },
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          child.once('message', (m) => resolve(m as WorkerResult));
          child.once('exit', (code) => reject(new Error(`load worker exited (code ${code}) without a result`)));
        }),
    ),
  );
}

async function main(): Promise<void> {
  const args = benchArgs({ seconds: 10, objects: 1000, updates: 1, gets: 1, inflight: 0, warmup: 3 });
  const dir = scratchDir('bench-api');
  const ports = await freePorts(6);
  const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
  try {
    await cluster.startAll();
    const client = new BerthClient({ endpoints: cluster.apiAddresses() });
    await waitForApi(client);
    log(`creating ${args.objects} ConfigMaps`);
    const value = 'x'.repeat(256);
    for (let i = 0; i < args.objects; i += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, args.objects - i) }, (_, j) =>
          client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i + j}`, namespace: 'default' }, data: { v: value } }),
        ),
      );
    }
    client.close();
    const leaderChangesBefore = await leaderTerm(cluster);
    const runs = [];
    const updateLevels = args.inflight ? [args.inflight] : [64, 256];
    const phases = [
      ...(args.updates ? updateLevels.map((n) => ['update', n] as const) : []),
      ...(args.gets ? [['get', args.inflight || 64] as const] : []),
    ];
    for (const [op, inflight] of phases) {
      // Unmeasured warm-up of the same load: the replicas' JIT has compiled the hot path
      // and LevelDB has settled before the measured seconds start (etcd, compiled ahead of
      // time, has no such start-up cost to hide).
      if (args.warmup > 0) await runWorkers(cluster.apiAddresses(), op, inflight, args.warmup, args.objects);
      const pids = [1, 2, 3].map((id) => cluster.pid(id)!);
      const cpu0 = pids.map(procCpuMicros);
      const t0 = performance.now();
      const res = await runWorkers(cluster.apiAddresses(), op, inflight, args.seconds, args.objects);
      const elapsed = (performance.now() - t0) / 1000;
      const serverCpu = pids.map(procCpuMicros).reduce((a, b, i) => a + b - cpu0[i]!, 0);
      const lat = res.flatMap((r) => r.lat).sort((a, b) => a - b);
      const ops = res.reduce((a, r) => a + r.ops, 0);
      const errors = res.reduce((a, r) => a + r.errors, 0);
      const genCpu = res.reduce((a, r) => a + r.cpuMicros, 0);
      const run = {
        op,
        inflight,
        ops,
        errors,
        opsPerSec: Math.round(ops / args.seconds),
        p50Ms: round(percentile(lat, 50)),
        p99Ms: round(percentile(lat, 99)),
        serverCpuUsPerOp: Math.round(serverCpu / Math.max(1, ops)),
        loadgenCpuUsPerOp: Math.round(genCpu / Math.max(1, ops)),
        wallSeconds: round(elapsed, 1),
      };
      const firstError = res.find((r) => r.firstError)?.firstError;
      log(`${op} @${inflight}: ${run.opsPerSec} ops/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, server ${run.serverCpuUsPerOp} us/op, load generator ${run.loadgenCpuUsPerOp} us/op, errors ${errors}${firstError ? ` (${firstError})` : ''}`);
      runs.push(run);
    }
    const leaderChanges = (await leaderTerm(cluster)) - leaderChangesBefore;
    await cluster.stopAll();
    process.stdout.write(`${JSON.stringify({ bench: 'api', replicas: 3, durable: true, valueBytes: 256, runs, leaderChanges })}\n`);
  } catch (e) {
    await cluster.stopAll();
    throw e;
  }
}

async function leaderTerm(cluster: ServerCluster): Promise<number> {
  const c = new BerthClient({ endpoints: cluster.apiAddresses() });
  try {
    return (await c.status()).term;
  } finally {
    c.close();
  }
}

/**
 * Raft throughput and latency: three replicas as separate processes on loopback, durable
 * (synced LevelDB writes), 256-byte proposals submitted inside the leader's process,
 * closed loop at 1 and at 256 proposals in flight.
 *
 *   npm run bench -- raft [--ops1 3000] [--ops256 100000] [--valueBytes 256]
 */
import { ProcCluster, freePorts } from '../src/cli/proc-cluster.ts';
import { benchArgs, log, scratchDir } from './lib/util.ts';

interface Run {
  inflight: number;
  ops: number;
  failed: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const args = benchArgs({ ops1: 3000, ops256: 100_000, valueBytes: 256, warmup: 5000 });
const dir = scratchDir('bench-raft');
const cluster = new ProcCluster({ size: 3, dir, basePort: 0, ports: await freePorts(3), extraArgs: ['--quiet'] });
try {
  await cluster.startAll();
  const leader = await cluster.waitForLeader(15_000);
  const leadersBefore = cluster.leadersSeen.size;
  log(`leader: replica ${leader}; warming up with ${args.warmup} proposals`);
  await cluster.call(leader, 'load', { inflight: 64, count: args.warmup, valueBytes: args.valueBytes });
  const runs: Run[] = [];
  for (const [inflight, count] of [
    [1, args.ops1],
    [256, args.ops256],
  ] as const) {
    const r = await cluster.call<Run>(leader, 'load', { inflight, count, valueBytes: args.valueBytes });
    log(`inflight ${inflight}: ${r.opsPerSec} ops/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms, failed ${r.failed}`);
    runs.push(r);
  }
  const leaderChanges = cluster.leadersSeen.size - leadersBefore;
  const result = {
    bench: 'raft',
    replicas: 3,
    durable: true,
    valueBytes: args.valueBytes,
    runs: runs.map((r) => ({ inflight: r.inflight, ops: r.ops, opsPerSec: r.opsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, maxMs: r.maxMs })),
    leaderChanges,
  };
  await cluster.stopAll();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (e) {
  await cluster.stopAll();
  throw e;
}

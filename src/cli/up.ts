/**
 * `berth up`: a local cluster on this machine, replicas as separate processes with their
 * data under ./.berth/up. Prints the membership and every leader change; Ctrl-C stops it.
 */
import { resolve } from 'node:path';
import { parseFlags, FlagError } from './flags.ts';
import { ProcCluster, sleep } from './proc-cluster.ts';

export const UP_USAGE = `Usage: berth up [--replicas 3] [--base-port 7001] [--data-dir .berth/up] [--for DURATION]

Starts a local cluster of Raft replicas (separate processes, real gRPC on loopback,
LevelDB under --data-dir) and reports leader changes until Ctrl-C.
`;

export async function runUp(argv: string[]): Promise<void> {
  const f = parseFlags(argv, { replicas: 'int', 'base-port': 'int', 'data-dir': 'string', for: 'duration' });
  const size = (f.replicas as number | undefined) ?? 3;
  if (size < 1 || size > 9) throw new FlagError('--replicas: must be between 1 and 9');
  const cluster = new ProcCluster({
    size,
    dir: resolve((f['data-dir'] as string | undefined) ?? '.berth/up'),
    basePort: (f['base-port'] as number | undefined) ?? 7001,
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping replicas...\n');
    await cluster.stopAll();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  await cluster.startAll();
  process.stdout.write(`started ${size} replicas: ${cluster.peersFlag()} (logs in ${cluster.opts.dir})\n`);
  const leader = await cluster.waitForLeader(15_000);
  const s = await cluster.call<{ term: number; commit: number }>(leader, 'status');
  process.stdout.write(`leader is replica ${leader} (term ${s.term}, commit ${s.commit}); Ctrl-C to stop\n`);
  let last = leader;
  const until = f.for ? Date.now() + (f.for as number) : Infinity;
  while (!stopping && Date.now() < until) {
    await sleep(200);
    const l = cluster.leader();
    if (l !== last && l !== 0) {
      process.stdout.write(`leader changed: replica ${l}\n`);
      last = l;
    }
  }
  await stop();
}

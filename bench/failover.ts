/**
 * Failover time: kill -9 the leader of a three-replica cluster (processes on loopback),
 * measure the time until a proposal through a survivor commits, restart the victim, wait
 * for it to catch up, repeat. A background writer keeps proposing throughout; at the end
 * every acknowledged write must be applied on all three replicas.
 *
 *   npm run bench -- failover [--kills 20]
 */
import { ProcCluster, ReplicaCallError, freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { benchArgs, log, percentile, round, scratchDir } from './lib/util.ts';

const args = benchArgs({ kills: 20 });
const dir = scratchDir('bench-failover');
const cluster = new ProcCluster({ size: 3, dir, basePort: 0, ports: await freePorts(3), extraArgs: ['--quiet', '--keep-values'] });
const acknowledged = new Set<string>();
let seq = 0;
let writing = true;

/** Propose one unique value through whichever replica leads now; retry elsewhere on refusal. */
async function writeOnce(): Promise<void> {
  const l = cluster.leader();
  if (l === 0) {
    await sleep(1);
    return;
  }
  const value = `w${++seq}`;
  try {
    await cluster.call(l, 'propose', { value });
    acknowledged.add(value);
  } catch (e) {
    if (!(e instanceof ReplicaCallError)) throw e;
    await sleep(1); // outcome unknown or refused: not acknowledged
  }
}

async function writer(): Promise<void> {
  while (writing) await writeOnce();
}

/** From the kill until a proposal through a survivor commits. */
async function timeToCommit(victim: number, t0: number): Promise<number> {
  const survivors = [...cluster.procs.keys()].filter((id) => id !== victim);
  for (;;) {
    for (const id of survivors) {
      try {
        const value = `probe${++seq}`;
        await cluster.call(id, 'propose', { value });
        acknowledged.add(value);
        return performance.now() - t0;
      } catch (e) {
        if (!(e instanceof ReplicaCallError)) throw e;
      }
    }
    await sleep(1);
  }
}

async function caughtUp(): Promise<void> {
  for (;;) {
    const l = cluster.leader();
    if (l !== 0) {
      const statuses = await Promise.all([...cluster.procs.keys()].map((id) => cluster.call<{ applied: number; commit: number }>(id, 'status').catch(() => undefined)));
      const ls = statuses[l - 1];
      if (ls && statuses.every((s) => s && s.applied >= ls.commit - 50)) return;
    }
    await sleep(20);
  }
}

/** Wait until every replica has applied exactly what the leader has committed. */
async function converged(): Promise<void> {
  for (;;) {
    const l = cluster.leader();
    if (l !== 0) {
      const statuses = await Promise.all([...cluster.procs.keys()].map((id) => cluster.call<{ applied: number; commit: number }>(id, 'status').catch(() => undefined)));
      const ls = statuses[l - 1];
      if (ls && statuses.every((s) => s && s.applied === ls.commit)) return;
    }
    await sleep(20);
  }
}

const times: number[] = [];
try {
  await cluster.startAll();
  await cluster.waitForLeader(15_000);
  const w = writer();
  for (let k = 0; k < args.kills; k++) {
    await caughtUp();
    await sleep(300); // let the restarted replica settle into the heartbeat rhythm
    const victim = await cluster.waitForLeader(15_000);
    const t0 = performance.now();
    await cluster.kill(victim, 'SIGKILL');
    const ms = await timeToCommit(victim, t0);
    times.push(ms);
    log(`kill ${k + 1}: leader ${victim} killed, a survivor committed after ${round(ms, 1)} ms`);
    await cluster.start(victim);
  }
  writing = false;
  await w;
  await converged();
  // Every acknowledged write must be on every replica.
  let lost = 0;
  for (const id of cluster.procs.keys()) {
    const { values } = await cluster.call<{ values: string[] }>(id, 'applied');
    const have = new Set(values);
    const missing = [...acknowledged].filter((v) => !have.has(v));
    if (missing.length > 0) log(`replica ${id} is missing ${missing.length} acknowledged writes, e.g. ${missing.slice(0, 5).join(' ')}`);
    lost += missing.length;
    if (have.size !== values.length) throw new Error(`replica ${id} applied a value twice`);
  }
  await cluster.stopAll();
  const sorted = [...times].sort((a, b) => a - b);
  log(`acknowledged writes: ${acknowledged.size}, lost: ${lost}`);
  process.stdout.write(
    `${JSON.stringify({ bench: 'failover', kills: times.length, p50Ms: round(percentile(sorted, 50), 1), p99Ms: round(percentile(sorted, 99), 1), maxMs: round(sorted[sorted.length - 1] ?? 0, 1), acknowledged: acknowledged.size, lostAcknowledged: lost })}\n`,
  );
} catch (e) {
  writing = false;
  await cluster.stopAll();
  throw e;
}

/**
 * Three Raft replicas as real OS processes (real gRPC on loopback, real LevelDB):
 * kill -9 the leader while writing, restart it, and check that every acknowledged write
 * is applied on all three, in the same order, exactly once.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcCluster, ReplicaCallError, freePorts, sleep } from '../src/cli/proc-cluster.ts';

async function until<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

test('kill -9 the leader while writing: no acknowledged write is lost', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-proc-'));
  const cluster = new ProcCluster({ size: 3, dir, basePort: 0, ports: await freePorts(3), extraArgs: ['--keep-values'] });
  t.teardown(async () => {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  await cluster.startAll();
  const acknowledged: string[] = [];
  let seq = 0;
  let stop = false;
  let killedAt = -1;

  // Eight concurrent writers, each retrying on whichever replica leads.
  const writer = async () => {
    while (!stop) {
      const l = cluster.leader();
      if (l === 0) {
        await sleep(2);
        continue;
      }
      const value = `v${++seq}`;
      try {
        await cluster.call(l, 'propose', { value });
        acknowledged.push(value);
      } catch (e) {
        if (!(e instanceof ReplicaCallError)) throw e;
        await sleep(2);
      }
    }
  };
  const first = await cluster.waitForLeader(15_000);
  const writers = Array.from({ length: 8 }, writer);
  await until('500 acknowledged writes', async () => (acknowledged.length >= 500 ? true : undefined));
  killedAt = acknowledged.length;
  await cluster.kill(first, 'SIGKILL');
  const second = await cluster.waitForLeader(15_000, first);
  t.not(second, first);
  await until('500 more acknowledged writes', async () => (acknowledged.length >= killedAt + 500 ? true : undefined));
  await cluster.start(first);
  await until('another 200 writes with the old leader back', async () => (acknowledged.length >= killedAt + 700 ? true : undefined));
  stop = true;
  await Promise.all(writers);

  // Wait until all three have applied the same number of entries.
  const lists = await until('all replicas to converge', async () => {
    const all = await Promise.all([1, 2, 3].map((id) => cluster.call<{ values: string[]; index: number }>(id, 'applied')));
    const idx = all.map((a) => a.index);
    return idx.every((i) => i === idx[0]) ? all.map((a) => a.values) : undefined;
  });
  for (const [i, values] of lists.entries()) {
    t.is(new Set(values).size, values.length, `replica ${i + 1} applied a value twice`);
    const have = new Set(values);
    const missing = acknowledged.filter((v) => !have.has(v));
    t.deepEqual(missing, [], `replica ${i + 1} lost acknowledged writes`);
  }
  t.deepEqual(lists[1], lists[0], 'replicas 1 and 2 applied different sequences');
  t.deepEqual(lists[2], lists[0], 'replicas 1 and 3 applied different sequences');
  t.true(acknowledged.length >= killedAt + 700);
});

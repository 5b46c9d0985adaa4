/**
 * Membership through the API: a fourth replica started with --join is added (as a
 * learner that catches up, then a voter), learns every member from the log, serves
 * linearizable reads, takes writes, and is removed again.
 */
import test from 'ava';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childExecArgv } from '../src/cli/child-args.ts';
import { freePorts } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { BerthClient } from '../src/client/client.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

async function eventually<T>(what: string, fn: () => Promise<T>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('a replica started with --join is added, learns the whole membership, serves, and is removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-membership-'));
  const ports = await freePorts(8);
  const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3, 6), extraArgs: ['--quiet', '--no-controllers'] });
  const peer4 = `127.0.0.1:${ports[6]}`;
  const api4 = `127.0.0.1:${ports[7]}`;
  const fourth = fork(
    MAIN,
    ['server', '--id', '4', '--peers', `${cluster.peersFlag()},4=${peer4}`, '--listen', api4, '--data-dir', join(dir, 'server-4'), '--encryption-key-file', cluster.keyFile, '--join', '--quiet'],
    { execArgv: childExecArgv(), stdio: ['ignore', 'ignore', 'ignore', 'ipc'] },
  );
  const clients: BerthClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    fourth.kill('SIGKILL');
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  await cluster.startAll();
  await new Promise((resolve) => fourth.once('message', resolve));
  const all = new BerthClient({ endpoints: cluster.apiAddresses() });
  const c4 = new BerthClient({ endpoints: [api4] });
  clients.push(all, c4);
  await eventually('a leader', () => all.get('Namespace', '', 'default'));
  await all.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'before' }, data: { v: 'old' } });

  // Before it is added, the joiner knows no member and cannot serve.
  t.deepEqual((await c4.status()).members, []);

  const added = await eventually('the add to be accepted', () => all.addMember(4, peer4));
  t.deepEqual(
    added.members.map((m) => [m.id, m.voter]),
    [
      [1, true],
      [2, true],
      [3, true],
      [4, true],
    ],
  );
  // It replayed the bootstrap membership from the log: it sees all four, not only itself.
  const seen = await eventually('replica 4 to see all members', async () => {
    const s = await c4.status();
    if (s.members.length !== 4) throw new Error(`sees ${s.members.map((m) => m.id)}`);
    return s;
  });
  t.deepEqual(seen.members.map((m) => m.id).sort(), [1, 2, 3, 4]);
  t.is(((await c4.get('ConfigMap', 'default', 'before')).data as { v?: string } | undefined)?.v, 'old');
  // It takes writes (forwarded to the leader) and the others see them.
  await c4.update({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'before' }, data: { v: 'new' } });
  t.is(((await all.get('ConfigMap', 'default', 'before')).data as { v?: string } | undefined)?.v, 'new');

  const after = await all.removeMember(4);
  t.deepEqual(after.members.map((m) => m.id).sort(), [1, 2, 3]);
  // The remaining three still commit.
  await all.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after' }, data: { v: '1' } });
  t.is(((await all.get('ConfigMap', 'default', 'after')).data as { v?: string } | undefined)?.v, '1');
});

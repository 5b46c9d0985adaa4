import test from 'ava';
import { status } from '@grpc/grpc-js';
import { kindInfo } from '../src/api/index.ts';
import { encodeCommand, MemoryKV, ObjectStore, type Command, type WatchEvent } from '../src/store/index.ts';
import { ObjectsApi } from '../src/server/objects.ts';
import { ApiCluster } from '../src/server/cluster-adapter.ts';
import { ApiError } from '../src/server/errors.ts';
import { WriteError } from '../src/controllers/types.ts';
import type { PlainObject } from '../src/server/convert.ts';

/** An ObjectsApi over a store fed directly (no Raft): each proposal is one entry. */
async function setup(term = 1) {
  const store = await ObjectStore.open(new MemoryKV(), {
    kindInfo: (k) => {
      const i = kindInfo(k);
      return i ? { plural: i.plural, namespaced: i.namespaced } : undefined;
    },
  });
  let index = 0;
  const proposals: Command[] = [];
  const api = new ObjectsApi({
    replica: { readIndex: async () => store.appliedIndex() },
    store,
    proposer: {
      propose: async (cmd: Command) => {
        proposals.push(cmd);
        const i = ++index;
        const [result] = await store.applyEntries([{ index: i, term, data: encodeCommand(cmd) }]);
        return { index: i, result: result! };
      },
    },
    cipher: undefined,
    waitApplied: async () => {},
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
  await api.ensureNamespaces(Date.now() + 5000);
  proposals.length = 0;
  return { store, api, proposals };
}

const cm = (name: string, extra: Record<string, unknown> = {}): PlainObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: name }, ...extra });

test('createMany writes many objects in one proposal; each succeeds or fails on its own', async (t) => {
  const { store, api, proposals } = await setup();
  await api.create(cm('taken'));
  proposals.length = 0;
  const events: WatchEvent[] = [];
  store.watch({ kind: 'ConfigMap' }, (e) => events.push(e));
  const rs = await api.createMany([
    cm('a'),
    cm('taken'), // AlreadyExists at apply
    cm('Bad_Name'), // refused by admission, never proposed
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'nowhere' } }, // namespace missing
    cm('b'),
    cm('a'), // the same name twice in one batch: the first wins
  ]);
  t.is(proposals.length, 1);
  const p = proposals[0]!;
  t.true(p.op === 'batch' && p.independent === true && p.commands.length === 4);
  t.is(rs.length, 6);
  const ok = (i: number) => ('object' in rs[i]! ? rs[i].object : undefined);
  const err = (i: number) => ('error' in rs[i]! ? rs[i].error : undefined);
  t.is((ok(0)!.metadata as { name: string }).name, 'a');
  t.is((ok(4)!.metadata as { name: string }).name, 'b');
  t.truthy((ok(0)!.metadata as { uid?: string }).uid);
  t.is(err(1)!.code, status.ALREADY_EXISTS);
  t.is(err(2)!.code, status.INVALID_ARGUMENT);
  t.regex(err(2)!.message, /metadata\.name/);
  t.is(err(3)!.code, status.NOT_FOUND);
  t.is(err(3)!.message, 'namespaces "nowhere" not found');
  t.is(err(5)!.code, status.ALREADY_EXISTS);
  t.true(err(1) instanceof ApiError);
  // Both new objects are stored, at the same resourceVersion (one entry), and watched once each.
  const a = store.get('ConfigMap', 'default', 'a')!;
  const b = store.get('ConfigMap', 'default', 'b')!;
  t.is(a.metadata.resourceVersion, b.metadata.resourceVersion);
  t.deepEqual(
    events.map((e) => [e.type, e.type === 'ADDED' ? e.object.metadata.name : '']),
    [
      ['ADDED', 'a'],
      ['ADDED', 'b'],
    ],
  );
});

test('createMany with nothing admissible proposes nothing; dry run proposes nothing', async (t) => {
  const { api, proposals } = await setup();
  const rs = await api.createMany([cm('Bad_Name'), { apiVersion: 'v1', kind: 'Nope', metadata: { name: 'x' } }]);
  t.is(proposals.length, 0);
  t.true(rs.every((r) => 'error' in r));
  const dry = await api.createMany([cm('d')], { dryRun: true });
  t.is(proposals.length, 0);
  t.true('object' in dry[0]!);
});

test('ApiCluster.createMany carries the term to every item and maps failures to WriteErrors', async (t) => {
  const { store, api, proposals } = await setup(2);
  const stale = new ApiCluster({ api, store, term: 1 });
  const rs = await stale.createMany([cm('x'), cm('y')]);
  t.is(proposals.length, 1);
  for (const r of rs) {
    t.true(r instanceof WriteError);
    t.is((r as WriteError).reason, 'Conflict');
  }
  t.is(store.get('ConfigMap', 'default', 'x'), undefined);
  const current = new ApiCluster({ api, store, term: 2 });
  const ok = await current.createMany([cm('x'), cm('x')]);
  t.false(ok[0] instanceof WriteError);
  t.true(ok[1] instanceof WriteError && ok[1].reason === 'AlreadyExists');
});

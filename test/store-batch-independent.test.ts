import test from 'ava';
import { decodeCommand, encodeCommand, MemoryKV, ObjectStore, type StoredObject } from '../src/store/index.ts';
import { packValue } from '../src/store/commands.ts';
import { EntryFeeder, testKindInfo } from '../src/store/testing.ts';

const NOW = '2025-03-01T10:00:00Z';
const cm = (name: string): StoredObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: `uid-${name}` }, data: { k: name } });

test('an independent batch applies what it can: failures change nothing and do not stop the rest', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  const feed = new EntryFeeder(store);
  await feed.one({ op: 'create', object: cm('taken'), now: NOW });
  const r = await feed.one({
    op: 'batch',
    independent: true,
    commands: [
      { op: 'create', object: cm('a'), now: NOW },
      { op: 'create', object: cm('taken'), now: NOW },
      { op: 'create', object: { ...cm('x'), kind: 'Unknown' }, now: NOW },
      { op: 'update', object: { ...cm('a'), data: { k: 'changed' } }, now: NOW },
      { op: 'create', object: cm('b'), now: NOW },
    ],
  });
  t.true(r.ok);
  const rs = r.results!;
  t.deepEqual(
    rs.map((x) => (x.ok ? 'ok' : x.code)),
    ['ok', 'AlreadyExists', 'Invalid', 'ok', 'ok'],
  );
  t.is((store.get('ConfigMap', 'default', 'a') as unknown as { data: { k: string } }).data.k, 'changed');
  t.truthy(store.get('ConfigMap', 'default', 'b'));
  // The plain batch stays all or nothing.
  const all = await feed.one({ op: 'batch', commands: [{ op: 'create', object: cm('c'), now: NOW }, { op: 'create', object: cm('taken'), now: NOW }] });
  t.false(all.ok);
  t.is(store.get('ConfigMap', 'default', 'c'), undefined);
});

test('independent must be a boolean', (t) => {
  t.notThrows(() => decodeCommand(encodeCommand({ op: 'batch', independent: true, commands: [] })));
  t.throws(() => decodeCommand(packValue({ op: 'batch', independent: 'yes', commands: [] })), { message: /independent: must be a boolean/ });
});

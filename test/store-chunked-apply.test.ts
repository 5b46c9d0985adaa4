import test from 'ava';
import { encodeCommand, MemoryKV, ObjectStore, type AppliedInfo, type Command, type Result, type StoredObject, type WatchEvent } from '../src/store/index.ts';
import { testKindInfo } from '../src/store/testing.ts';
import { StoreMachine } from '../src/server/machine.ts';
import { encodeEnvelope, type Applied, type Proposer } from '../src/server/proposer.ts';

const NOW = '2025-03-01T10:00:00Z';

function cm(name: string, v: string): StoredObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: `uid-${name}` }, data: { v } };
}

/** 10 creates, updates of some of them, a delete, a conflicting create: 14 entries. */
function commands(): Command[] {
  const cmds: Command[] = [];
  for (let i = 0; i < 10; i++) cmds.push({ op: 'create', object: cm(`c${i}`, String(i)), now: NOW });
  cmds.push({ op: 'update', object: cm('c1', 'one'), now: NOW });
  cmds.push({ op: 'update', object: cm('c1', 'uno'), now: NOW });
  cmds.push({ op: 'delete', kind: 'ConfigMap', namespace: 'default', name: 'c2', now: NOW });
  cmds.push({ op: 'create', object: cm('c3', 'again'), now: NOW });
  return cmds;
}

function entries(cmds: Command[], from = 1): { index: number; data: Uint8Array }[] {
  return cmds.map((c, i) => ({ index: from + i, data: encodeCommand(c) }));
}

test('a chunked apply gives the same results, objects and watch events as one step', async (t) => {
  const whole = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo, applyChunking: { maxEntries: 1000, budgetMs: 1e9 } });
  const kv = new MemoryKV();
  const chunked = await ObjectStore.open(kv, { kindInfo: testKindInfo, applyChunking: { maxEntries: 3, budgetMs: 1e9 } });
  const evWhole: WatchEvent[] = [];
  const evChunked: WatchEvent[] = [];
  whole.watch({}, (e) => evWhole.push(e));
  chunked.watch({}, (e) => evChunked.push(e));
  const steps: AppliedInfo[] = [];
  chunked.onApplied((i) => steps.push(i));
  const progress: number[] = [];
  const es = entries(commands());
  const r1 = await whole.applyEntries(es);
  const r2 = await chunked.applyEntries(es, (done) => progress.push(done));
  t.deepEqual(r2, r1);
  t.deepEqual(chunked.list({ kind: 'ConfigMap' }), whole.list({ kind: 'ConfigMap' }));
  t.deepEqual(evChunked, evWhole);
  // Watch events come in index order.
  const rvs = evChunked.map((e) => Number((e as { resourceVersion: string }).resourceVersion));
  t.deepEqual(rvs, [...rvs].sort((a, b) => a - b));
  // One KV batch, one onApplied step and one progress report per chunk of 3.
  t.is(kv.batches, 5);
  t.deepEqual(progress, [3, 6, 9, 12, 14]);
  t.deepEqual(
    steps.map((s) => s.index),
    [3, 6, 9, 12, 14],
  );
  t.deepEqual(
    steps.flatMap((s) => s.results.map((r) => r.index)),
    es.map((e) => e.index),
  );
  t.is(chunked.appliedIndex(), 14);
  // The KV holds the last chunk's state: a reopened store has it all.
  const again = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  t.is(again.appliedIndex(), 14);
  t.deepEqual(again.list({ kind: 'ConfigMap' }).items, chunked.list({ kind: 'ConfigMap' }).items);
});

test('the event loop runs between chunks, and what it sees is a chunk boundary the KV holds', async (t) => {
  const kv = new MemoryKV();
  const store = await ObjectStore.open(kv, { kindInfo: testKindInfo, applyChunking: { maxEntries: 4, budgetMs: 1e9 } });
  const seen: number[] = [];
  let stop = false;
  const poll = (): void => {
    seen.push(store.appliedIndex());
    if (!stop) setImmediate(poll);
  };
  setImmediate(poll);
  await store.applyEntries(entries(commands()));
  stop = true;
  // Timers ran while the call was in progress, and never saw a state between chunks.
  const during = seen.filter((i) => i > 0 && i < 14);
  t.true(during.length > 0);
  for (const i of during) t.true([4, 8, 12].includes(i), `applied index ${i} seen between chunks`);
});

test('a budget of zero applies one entry per chunk', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo, applyChunking: { budgetMs: 0 } });
  const steps: number[] = [];
  store.onApplied((i) => steps.push(i.index));
  const r = await store.applyEntries(entries(commands().slice(0, 5)));
  t.true(r.every((x) => x.ok));
  t.deepEqual(steps, [1, 2, 3, 4, 5]);
});

test('a KV failure stops the store; the KV holds the state as of a chunk boundary, and a store reopened on it finishes the entries', async (t) => {
  const kv = new MemoryKV();
  const store = await ObjectStore.open(kv, { kindInfo: testKindInfo, applyChunking: { maxEntries: 5, budgetMs: 1e9 }, logger: { warn: () => {} } });
  const real = kv.batch.bind(kv);
  let calls = 0;
  kv.batch = async (ops, sync) => {
    if (++calls === 2) throw new Error('disk full');
    return real(ops, sync);
  };
  const es = entries(commands());
  // Whether the failure is seen by this call or only by the next depends on how the
  // chunks' writes were coalesced; either way the store takes nothing more.
  await store.applyEntries(es).catch(() => undefined);
  await t.throwsAsync(store.flush(), { message: 'disk full' });
  await t.throwsAsync(store.applyEntries(entries([commands()[0]!], 15)), { message: 'disk full' });
  kv.batch = real;
  const reopened = await ObjectStore.open(kv, { kindInfo: testKindInfo });
  const at = reopened.appliedIndex();
  t.true([5, 10].includes(at), `the KV holds a chunk boundary, not ${at}`);
  t.is(reopened.list({ kind: 'ConfigMap' }).items.length, at === 5 ? 5 : 9);
  const r = await reopened.applyEntries(es);
  t.true(r.slice(0, at).every((x) => (x as { code?: string }).code === 'Gone'));
  t.true(r.slice(at, 13).every((x) => x.ok));
  t.false(r[13]!.ok);
  t.is(reopened.appliedIndex(), 14);
  t.is((reopened.get('ConfigMap', 'default', 'c1') as unknown as { data: { v: string } }).data.v, 'uno');
  // Reopened and finished, it holds what a store that never failed holds.
  const clean = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo });
  await clean.applyEntries(es);
  t.deepEqual(reopened.list({ kind: 'ConfigMap' }).items, clean.list({ kind: 'ConfigMap' }).items);
});

test('the state machine answers each write once its chunk is applied, never before', async (t) => {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo, applyChunking: { maxEntries: 2, budgetMs: 1e9 } });
  const machine = new StoreMachine(store);
  const settled: { id: string; applied: Applied; storeIndex: number }[] = [];
  machine.proposer = { settle: (id: string, applied: Applied) => settled.push({ id, applied, storeIndex: store.appliedIndex() }) } as unknown as Proposer;
  const cmds = commands().slice(0, 7);
  // Entry 4 is not an envelope (handed on as it is); the rest carry request ids.
  machine.apply(
    cmds.map((c, i) => ({
      index: i + 1,
      term: 1,
      type: 'normal' as const,
      data: i === 3 ? encodeCommand(c) : encodeEnvelope({ requestId: `r${i + 1}`, command: encodeCommand(c) }),
    })),
  );
  // A reader waiting for index 3 is released by the chunk that reached it (entries 3-4),
  // not at the end of the list.
  const waited = machine.waitApplied(3).then(() => store.appliedIndex());
  t.is(await waited, 4);
  await machine.drain();
  t.deepEqual(
    settled.map((s) => s.id),
    ['r1', 'r2', 'r3', 'r5', 'r6', 'r7'],
  );
  for (const s of settled) {
    t.true(s.storeIndex >= s.applied.index, `${s.id} answered at applied index ${s.storeIndex}`);
    t.true((s.applied.result as Result).ok);
  }
  // Answered chunk by chunk, not all at the end.
  t.true(settled[0]!.storeIndex < 7);
  // Already applied: no wait.
  await machine.waitApplied(7);
  t.is(store.appliedIndex(), 7);
});

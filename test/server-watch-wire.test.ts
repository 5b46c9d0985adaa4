/**
 * The Watch stream's wire form, on one in-process replica: events encoded once per change
 * and framed per watcher, batched into one message (WatchEvent.events) only for clients
 * that set allow_batches, in order, none missing or repeated; Secrets decrypted; and
 * BerthClient unpacking batches transparently.
 */
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { BerthClient, type WatchEventOut } from '../src/client/client.ts';
import { encodeListResponse, encodeObjectMessage, encodeWatchBatch, encodeWatchEvent, toWire } from '../src/server/convert.ts';
import { API_PROTO, loadApi } from '../src/server/service.ts';
import protobuf from 'protobufjs';
import { startInProcessReplica } from './server-harness.ts';

interface RawEvent {
  type: string;
  object: { metadata: { name: string; resource_version: string } } | null;
  resource_version: string;
  events: RawEvent[];
}


function rawWatch(address: string, req: Record<string, unknown>, onMessage: (m: RawEvent) => void): () => void {
  const Objects = loadApi().Objects as grpc.ServiceClientConstructor;
  const stub = new Objects(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Watch(r: unknown): grpc.ClientReadableStream<RawEvent> };
  const s = stub.Watch(req);
  s.on('data', onMessage);
  s.on('error', () => {});
  return () => {
    s.cancel();
    stub.close();
  };
}

const cm = (name: string, v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v } });

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('hand-framed watch events decode as protobufjs reads them, batches included', (t) => {
  const T = new protobuf.Root().loadSync(API_PROTO, { keepCase: true }).lookupType('berth.v1.WatchEvent');
  const obj = Object.freeze({ apiVersion: 'v1', kind: 'ConfigMap', metadata: Object.freeze({ name: 'a', namespace: 'default', resourceVersion: '300', labels: { x: 'y' } }), data: { k: 'v'.repeat(200) } });
  const one = encodeWatchEvent('MODIFIED', encodeObjectMessage(obj), '300');
  const viaLib = T.encode(T.fromObject({ type: 'MODIFIED', object: toWire(obj), resource_version: '300' })).finish();
  t.deepEqual(Buffer.from(one), Buffer.from(viaLib));
  t.is(encodeObjectMessage(obj), encodeObjectMessage(obj), 'encoded once per turn');
  const bm = encodeWatchEvent('BOOKMARK', undefined, '12345678901');
  const batch = T.toObject(T.decode(encodeWatchBatch([one, bm])), { defaults: true }) as RawEvent;
  t.is(batch.type, '');
  t.deepEqual(batch.events.map((e) => [e.type, e.resource_version, e.object?.metadata.name ?? null]), [
    ['MODIFIED', '300', 'a'],
    ['BOOKMARK', '12345678901', null],
  ]);
});

test('hand-encoded list responses are what protobufjs writes', (t) => {
  const T = new protobuf.Root().loadSync(API_PROTO, { keepCase: true }).lookupType('berth.v1.ListResponse');
  const items = [cm('a', '1'), { ...cm('b', 'é'.repeat(300)), metadata: { name: 'b', namespace: 'default', resourceVersion: '7', labels: { x: 'y' } } }];
  for (const [rv, cont] of [['42', 'tok'], ['', ''], ['9', '']] as const) {
    const ours = encodeListResponse(items, rv, cont);
    const lib = T.encode(T.fromObject({ items: items.map(toWire), resource_version: rv, continue: cont })).finish();
    t.deepEqual(Buffer.from(ours), Buffer.from(lib));
  }
  t.deepEqual(Buffer.from(encodeListResponse([], '5', '')), Buffer.from(T.encode(T.fromObject({ items: [], resource_version: '5', continue: '' })).finish()));
});

test('events of one applied batch come in one message to clients that allow batches, one per message otherwise', async (t) => {
  const { address } = await startInProcessReplica(t, 'wire');
  const client = new BerthClient({ endpoints: [address] });
  t.teardown(() => client.close());
  const start = (await client.list('ConfigMap', { namespace: 'default' })).resourceVersion;

  const batched: RawEvent[] = [];
  const single: RawEvent[] = [];
  const viaClient: WatchEventOut[] = [];
  const stops = [
    rawWatch(address, { kind: 'ConfigMap', namespace: 'default', resource_version: start, allow_batches: true }, (m) => batched.push(m)),
    rawWatch(address, { kind: 'ConfigMap', namespace: 'default', resource_version: start }, (m) => single.push(m)),
    client.watch('ConfigMap', { namespace: 'default', resourceVersion: start }, (e) => viaClient.push(e), () => {}),
  ];
  t.teardown(() => stops.forEach((s) => s()));
  await new Promise((r) => setTimeout(r, 200));

  // Many writes at once commit (and apply) in few batches.
  const N = 200;
  await Promise.all(Array.from({ length: N }, (_, i) => client.create(cm(`c-${i}`, '0'))));
  await Promise.all(Array.from({ length: N }, (_, i) => client.update(cm(`c-${i}`, '1'))));
  const flat = (ms: RawEvent[]) => ms.flatMap((m) => (m.events.length > 0 ? m.events : [m]));
  await until(() => flat(batched).length === 2 * N && single.length === 2 * N && viaClient.length === 2 * N);

  t.true(single.every((m) => m.events.length === 0 && m.type !== ''), 'no batches without allow_batches');
  t.true(batched.length < 2 * N, `batched into ${batched.length} messages`);
  t.true(batched.every((m) => m.events.length === 0 || (m.type === '' && m.object === null && m.resource_version === '')));
  const key = (type: string, name: string | undefined, rv: string) => `${type} ${name} ${rv}`;
  const a = flat(batched).map((e) => key(e.type, e.object?.metadata.name, e.resource_version));
  const b = single.map((e) => key(e.type, e.object?.metadata.name, e.resource_version));
  const c = viaClient.map((e) => key(e.type, e.object?.metadata?.name as string, e.resourceVersion));
  t.deepEqual(a, b);
  t.deepEqual(c, b);
  const rvs = single.map((e) => Number(e.resource_version));
  t.true(rvs.every((rv, i) => i === 0 || rv > rvs[i - 1]!), 'in order, none twice');
  t.is(new Set(b.filter((k) => k.startsWith('ADDED'))).size, N);
  t.is(new Set(b.filter((k) => k.startsWith('MODIFIED'))).size, N);
  for (const e of single) t.is(e.object!.metadata.resource_version, e.resource_version);

  // Lists (hand-encoded) page through everything.
  const names: string[] = [];
  let cont = '';
  do {
    const page = await client.list('ConfigMap', { namespace: 'default', limit: 64, continue: cont });
    names.push(...page.items.map((o) => String(o.metadata?.name)));
    t.is((page.items[0]?.data as Record<string, string> | undefined)?.v, '1');
    cont = page.continue;
  } while (cont);
  t.is(names.length, N);
  t.deepEqual(names, [...names].sort());
});

test('watched Secrets arrive decrypted, from the initial list and from changes', async (t) => {
  const { address } = await startInProcessReplica(t, 'wire');
  const client = new BerthClient({ endpoints: [address] });
  t.teardown(() => client.close());
  await client.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's1', namespace: 'default' }, stringData: { password: 'one' } });
  const seen: WatchEventOut[] = [];
  const stop = client.watch('Secret', { namespace: 'default' }, (e) => seen.push(e), () => {});
  t.teardown(stop);
  await until(() => seen.length === 1);
  await client.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's2', namespace: 'default' }, stringData: { password: 'two' } });
  await until(() => seen.length === 2);
  const pw = (e: WatchEventOut) => Buffer.from(String((e.object?.data as Record<string, string>).password), 'base64').toString();
  t.deepEqual(seen.map((e) => [e.type, e.object?.metadata?.name, pw(e)]), [
    ['ADDED', 's1', 'one'],
    ['ADDED', 's2', 'two'],
  ]);
});

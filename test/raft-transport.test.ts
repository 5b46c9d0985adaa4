import test from 'ava';
import type { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { encodeMessages } from '../src/raft/codec.ts';
import { GrpcTransport, RAFT_PEER_SERVICE, type GrpcTransportOptions } from '../src/raft/transport.ts';
import type { Message, NodeId, SnapMsg } from '../src/raft/types.ts';

const CLUSTER = 'test-cluster';

// ---------------------------------------------------------------------------------------
// Helpers

/** Poll `cond` every few milliseconds; fail (not hang) after a generous bound. */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Node {
  id: NodeId;
  port: number;
  addr: string;
  transport: GrpcTransport;
  received: Message[];
  unreachable: NodeId[];
  snapStatus: Array<[NodeId, boolean]>;
  warnings: string[];
}

async function startNode(
  t: ExecutionContext,
  id: NodeId,
  opts: Partial<GrpcTransportOptions> = {},
): Promise<Node> {
  const node = {
    id,
    received: [] as Message[],
    unreachable: [] as NodeId[],
    snapStatus: [] as Array<[NodeId, boolean]>,
    warnings: [] as string[],
  } as Node;
  node.transport = new GrpcTransport({
    id,
    clusterId: CLUSTER,
    listen: '127.0.0.1:0',
    peers: new Map(),
    onMessages: (msgs) => node.received.push(...msgs),
    onUnreachable: (peer) => node.unreachable.push(peer),
    onSnapshotStatus: (peer, ok) => node.snapStatus.push([peer, ok]),
    logger: { info() {}, warn: (s) => node.warnings.push(s) },
    ...opts,
  });
  t.teardown(() => node.transport.stop());
  node.port = await node.transport.start();
  node.addr = `127.0.0.1:${node.port}`;
  return node;
}

/** Make every node a peer of every other. */
function connect(...nodes: Node[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.transport.addPeer(b.id, b.addr);
}

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs);

function everyType(from: NodeId, to: NodeId): Message[] {
  return [
    { type: 'vote', from, to, term: 5, lastIndex: 10, lastTerm: 4, transfer: false },
    { type: 'preVote', from, to, term: 6, lastIndex: 0, lastTerm: 0, transfer: true },
    { type: 'voteResp', from, to, term: 5, reject: false },
    { type: 'preVoteResp', from, to, term: 6, reject: true },
    {
      type: 'app', from, to, term: 7, index: 100, logTerm: 6, commit: 99,
      entries: [
        { term: 7, index: 101, type: 'normal', data: new Uint8Array(0) },
        { term: 7, index: 102, type: 'normal', data: bytes(0, 255, 1, 254, 0x80, 0xc1) },
        { term: 7, index: 103, type: 'conf', data: bytes(0x93, 1, 2, 3) },
        { term: 2 ** 40, index: Number.MAX_SAFE_INTEGER, type: 'normal', data: new Uint8Array(randomBytes(100_000)) },
      ],
    },
    { type: 'appResp', from, to, term: 7, reject: true, index: 50, hintIndex: 40, hintTerm: 3 },
    { type: 'heartbeat', from, to, term: 7, commit: 103, ctx: bytes(1, 2, 3) },
    { type: 'heartbeatResp', from, to, term: 7, ctx: new Uint8Array(0) },
    { type: 'timeoutNow', from, to, term: 8 },
    { type: 'readIndex', from, to, term: 0, ctx: bytes(42) },
    { type: 'readIndexResp', from, to, term: 8, index: 103, ctx: bytes(42) },
  ];
}

function snapMsg(from: NodeId, to: NodeId, data: Uint8Array): SnapMsg {
  return {
    type: 'snap', from, to, term: 9,
    snapshot: { meta: { index: 1234, term: 9, conf: { voters: [1, 2, 3], learners: [7] } }, data },
  };
}

const heartbeat = (from: NodeId, to: NodeId, commit: number): Message => ({
  type: 'heartbeat', from, to, term: 1, commit, ctx: new Uint8Array(0),
});

function commits(msgs: Message[]): number[] {
  return msgs.map((m) => (m.type === 'heartbeat' ? m.commit : -1));
}

/** A bare gRPC client speaking the RaftPeer protocol, to send what a transport never would. */
function rawClient(t: ExecutionContext, addr: string): grpc.Client {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  t.teardown(() => client.close());
  return client;
}

/** Send raw batches on one Stream call; resolves with the final status code. */
function rawStream(client: grpc.Client, batches: object[]): Promise<grpc.status> {
  const m = RAFT_PEER_SERVICE['Stream']!;
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(
      m.path,
      m.requestSerialize as (v: object) => Buffer,
      m.responseDeserialize as (b: Buffer) => object,
      (err) => resolve(err ? err.code : grpc.status.OK),
    );
    call.on('error', () => {});
    for (const b of batches) call.write(b);
    // Leave the stream open: only the server's verdict ends it (or our end if accepted).
    if (batches.length === 0) call.end();
  });
}

function rawSnapshot(client: grpc.Client, chunks: object[]): Promise<grpc.status> {
  const m = RAFT_PEER_SERVICE['Snapshot']!;
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(
      m.path,
      m.requestSerialize as (v: object) => Buffer,
      m.responseDeserialize as (b: Buffer) => object,
      (err) => resolve(err ? err.code : grpc.status.OK),
    );
    call.on('error', () => {});
    for (const c of chunks) call.write(c);
    call.end();
  });
}

/** A free port: bind a transport to port 0, then stop it. */
async function freePort(t: ExecutionContext): Promise<number> {
  const n = await startNode(t, 99);
  await n.transport.stop();
  return n.port;
}

// ---------------------------------------------------------------------------------------
// Tests

test('two transports exchange every message type exactly', async (t) => {
  const a = await startNode(t, 1);
  const b = await startNode(t, 2);
  connect(a, b);

  const toB = everyType(1, 2);
  a.transport.send(toB);
  await waitFor(() => b.received.length === toB.length, 'b receives all');
  t.deepEqual(b.received, toB);
  for (const m of b.received) {
    if (m.type === 'app') for (const e of m.entries) t.is(Object.getPrototypeOf(e.data), Uint8Array.prototype);
  }

  // Replies travel on b's own stream.
  const toA = everyType(2, 1).reverse();
  b.transport.send(toA);
  await waitFor(() => a.received.length === toA.length, 'a receives all');
  t.deepEqual(a.received, toA);
  t.deepEqual(a.unreachable, []);
  t.deepEqual(b.unreachable, []);
  t.deepEqual(a.warnings, []);
  t.deepEqual(b.warnings, []);
});

test('three transports: one send call fans out per peer, each in order', async (t) => {
  const [a, b, c] = await Promise.all([startNode(t, 1), startNode(t, 2), startNode(t, 3)]);
  connect(a, b, c);
  const msgs: Message[] = [];
  for (let i = 0; i < 20; i++) msgs.push(heartbeat(1, i % 2 === 0 ? 2 : 3, i));
  a.transport.send(msgs);
  c.transport.send([heartbeat(3, 2, 1000)]);
  await waitFor(() => b.received.length === 11 && c.received.length === 10, 'fan-out delivered');
  const fromA = b.received.filter((m) => m.from === 1);
  t.deepEqual(commits(fromA), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  t.deepEqual(commits(c.received), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  t.deepEqual(commits(b.received.filter((m) => m.from === 3)), [1000]);
  t.true(a.received.length === 0);
});

test('order is preserved under a burst of 10,000 messages', async (t) => {
  const a = await startNode(t, 1);
  const b = await startNode(t, 2);
  connect(a, b);
  const N = 10_000;
  for (let i = 0; i < N; i++) {
    // One send call per message, as a busy leader would do over many Readys.
    a.transport.send([
      {
        type: 'app', from: 1, to: 2, term: 3, index: i, logTerm: 3, commit: i,
        entries: [{ term: 3, index: i + 1, type: 'normal', data: new TextEncoder().encode(`entry ${i}`) }],
      },
    ]);
  }
  await waitFor(() => b.received.length >= N, 'burst delivered');
  t.is(b.received.length, N);
  let inOrder = true;
  for (let i = 0; i < N; i++) {
    const m = b.received[i]!;
    if (m.type !== 'app' || m.index !== i || new TextDecoder().decode(m.entries[0]!.data) !== `entry ${i}`) {
      inOrder = false;
      t.fail(`message ${i} out of order: ${JSON.stringify(m.type === 'app' ? m.index : m.type)}`);
      break;
    }
  }
  t.true(inOrder);
  t.deepEqual(a.unreachable, []);
});

test('a peer that is down is reported unreachable and gets messages once it comes up', async (t) => {
  const port = await freePort(t);
  const a = await startNode(t, 1);
  a.transport.addPeer(2, `127.0.0.1:${port}`);

  // Nobody listens: the stream cannot be opened.
  let commit = 0;
  await waitFor(() => {
    a.transport.send([heartbeat(1, 2, commit++)]);
    return a.unreachable.includes(2);
  }, 'unreachable reported for the dead peer');
  const reportsWhileDown = a.unreachable.length;

  // The peer comes up on that address; a keeps sending and the stream is re-opened.
  const b = await startNode(t, 2, { listen: `127.0.0.1:${port}` });
  b.transport.addPeer(1, a.addr);
  const firstAfterUp = commit;
  await waitFor(() => {
    a.transport.send([heartbeat(1, 2, commit++)]);
    return b.received.some((m) => m.type === 'heartbeat' && m.commit >= firstAfterUp);
  }, 'messages flow after the peer came up');

  // Once connected, what is sent arrives, in order.
  const last = commit;
  for (let i = 0; i < 100; i++) a.transport.send([heartbeat(1, 2, last + i)]);
  await waitFor(() => b.received.some((m) => m.type === 'heartbeat' && m.commit === last + 99), 'tail delivered');
  const got = commits(b.received);
  t.deepEqual(got.filter((c) => c >= last), Array.from({ length: 100 }, (_, i) => last + i));
  t.deepEqual([...got].sort((x, y) => x - y), got, 'never reordered');
  t.true(reportsWhileDown >= 1);
  t.true(a.unreachable.every((id) => id === 2));
});

test('hearing from a peer that was unreachable re-dials it at once, without waiting out the backoff', async (t) => {
  // A backoff (ours and gRPC's) far longer than the test: only hearing from the peer can
  // bring the stream back. A replica that restarts or comes back from a partition talks
  // first (its own streams are fresh); it must not stay deaf to us for a backoff period.
  const port = await freePort(t);
  const a = await startNode(t, 1, { backoffMs: [600_000, 600_000] });
  a.transport.addPeer(2, `127.0.0.1:${port}`);
  a.transport.send([heartbeat(1, 2, 1)]);
  await waitFor(() => a.unreachable.includes(2), 'unreachable reported for the dead peer');

  const b = await startNode(t, 2, { listen: `127.0.0.1:${port}` });
  b.transport.addPeer(1, a.addr);
  // b speaks first, on its own fresh stream.
  b.transport.send([heartbeat(2, 1, 7)]);
  await waitFor(() => a.received.some((m) => m.type === 'heartbeat' && m.commit === 7), 'a hears b');
  let commit = 100;
  await waitFor(() => {
    a.transport.send([heartbeat(1, 2, commit++)]);
    return b.received.some((m) => m.type === 'heartbeat' && m.commit >= 100);
  }, 'a reaches b again long before its backoff would have ended');
  t.pass();
});

test('a snapshot of several MiB arrives as one SnapMsg with identical bytes', async (t) => {
  const a = await startNode(t, 1);
  const b = await startNode(t, 2);
  connect(a, b);
  const data = new Uint8Array(randomBytes(5 * 1024 * 1024 + 123));
  const snap = snapMsg(1, 2, data);
  a.transport.send([heartbeat(1, 2, 1), snap, heartbeat(1, 2, 2)]);
  await waitFor(() => a.snapStatus.length === 1, 'snapshot status');
  t.deepEqual(a.snapStatus, [[2, true]]);
  await waitFor(() => b.received.length === 3, 'all three messages');
  const snaps = b.received.filter((m): m is SnapMsg => m.type === 'snap');
  t.is(snaps.length, 1);
  const got = snaps[0]!;
  t.is(got.snapshot.data.length, data.length);
  t.true(Buffer.from(got.snapshot.data).equals(Buffer.from(data)), 'identical bytes');
  // (ava's deepEqual is very slow on MiB-sized arrays: compare the bytes above, the rest here)
  t.deepEqual({ ...got, snapshot: { ...got.snapshot, data: null } }, { ...snap, snapshot: { ...snap.snapshot, data: null } });
  t.deepEqual(commits(b.received.filter((m) => m.type === 'heartbeat')), [1, 2]);

  // An empty snapshot works too.
  a.transport.send([snapMsg(1, 2, new Uint8Array(0))]);
  await waitFor(() => a.snapStatus.length === 2, 'second status');
  t.deepEqual(a.snapStatus[1], [2, true]);
  await waitFor(() => b.received.length === 4, 'empty snapshot delivered');
  t.deepEqual(b.received[3], snapMsg(1, 2, new Uint8Array(0)));
});

test('a snapshot to a dead or unknown peer reports failure', async (t) => {
  const port = await freePort(t);
  const a = await startNode(t, 1);
  a.transport.addPeer(2, `127.0.0.1:${port}`);
  a.transport.send([snapMsg(1, 2, new Uint8Array(1000)), snapMsg(1, 5, new Uint8Array(10))]);
  await waitFor(() => a.snapStatus.length === 2, 'both statuses');
  t.deepEqual(
    [...a.snapStatus].sort((x, y) => x[0] - y[0]),
    [[2, false], [5, false]],
  );
});

test('malformed, foreign, unknown-sender and mismatched batches are rejected; good ones still flow', async (t) => {
  const a = await startNode(t, 1);
  const b = await startNode(t, 2, { maxMessageBytes: 4096 });
  connect(a, b);
  const client = rawClient(t, b.addr);
  const good = encodeMessages([heartbeat(1, 2, 7)]);
  const batch = (over: Record<string, unknown>): object => ({ cluster_id: CLUSTER, from: 1, to: 2, payload: good, ...over });

  const verdicts = {
    malformed: await rawStream(client, [batch({ payload: Buffer.from('definitely not msgpack') })]),
    invalidMessage: await rawStream(client, [batch({ payload: Buffer.from([0x92, 0x01, 0x94, 0x09, 0x01, 0x02, 0xff]) })]),
    wrongCluster: await rawStream(client, [batch({ cluster_id: 'other-cluster' })]),
    unknownSender: await rawStream(client, [batch({ from: 42, payload: encodeMessages([heartbeat(42, 2, 7)]) })]),
    wrongTo: await rawStream(client, [batch({ to: 3 })]),
    messageFromMismatch: await rawStream(client, [batch({ payload: encodeMessages([heartbeat(3, 2, 7)]) })]),
    messageToMismatch: await rawStream(client, [batch({ payload: encodeMessages([heartbeat(1, 3, 7)]) })]),
    oversized: await rawStream(client, [batch({ payload: new Uint8Array(5000) })]),
    switchesSender: await rawStream(client, [batch({}), batch({ from: 3, payload: encodeMessages([heartbeat(3, 2, 7)]) })]),
  };
  t.deepEqual(verdicts, {
    malformed: grpc.status.INVALID_ARGUMENT,
    invalidMessage: grpc.status.INVALID_ARGUMENT,
    wrongCluster: grpc.status.INVALID_ARGUMENT,
    unknownSender: grpc.status.INVALID_ARGUMENT,
    wrongTo: grpc.status.INVALID_ARGUMENT,
    messageFromMismatch: grpc.status.INVALID_ARGUMENT,
    messageToMismatch: grpc.status.INVALID_ARGUMENT,
    oversized: grpc.status.RESOURCE_EXHAUSTED,
    switchesSender: grpc.status.INVALID_ARGUMENT,
  });
  // Only the first batch of the stream that later switched senders was good.
  t.deepEqual(b.received, [heartbeat(1, 2, 7)]);
  t.true(b.warnings.some((w) => w.includes('cluster id')));
  t.true(b.warnings.some((w) => w.includes('not a known peer')));

  // The real transport to b is unaffected.
  a.transport.send([heartbeat(1, 2, 8), heartbeat(1, 2, 9)]);
  await waitFor(() => b.received.length === 3, 'good messages after the bad ones');
  t.deepEqual(commits(b.received), [7, 8, 9]);

  // The server is still healthy for new raw streams too.
  t.is(await rawStream(client, []), grpc.status.OK);
});

test('a transport refuses batches from a peer of another cluster, and the sender sees it as unreachable', async (t) => {
  const a = await startNode(t, 1, { clusterId: 'elsewhere' });
  const b = await startNode(t, 2);
  connect(a, b);
  await waitFor(() => {
    a.transport.send([heartbeat(1, 2, 1)]);
    return a.unreachable.includes(2);
  }, 'rejection seen by the sender');
  t.deepEqual(b.received, []);
  t.true(b.warnings.some((w) => w.includes('cluster id')));
});

test('snapshots with a bad checksum, length or order are rejected and not delivered', async (t) => {
  const a = await startNode(t, 1);
  const b = await startNode(t, 2);
  connect(a, b);
  const client = rawClient(t, b.addr);
  const data = new Uint8Array(randomBytes(3000));
  const header = encodeMessages([snapMsg(1, 2, new Uint8Array(0))]);
  const base = { cluster_id: CLUSTER, from: 1, to: 2 };
  const first = { ...base, header, total_size: 3000, offset: 0, data: data.subarray(0, 1000) };
  const second = { ...base, offset: 1000, data: data.subarray(1000, 2000) };
  const third = { ...base, offset: 2000, data: data.subarray(2000), last: true, crc32: crc32(data) };

  t.is(await rawSnapshot(client, [first, second, { ...third, crc32: crc32(data) ^ 1 }]), grpc.status.DATA_LOSS);
  t.is(await rawSnapshot(client, [first, third]), grpc.status.INVALID_ARGUMENT);
  t.is(await rawSnapshot(client, [first, second]), grpc.status.INVALID_ARGUMENT);
  t.is(await rawSnapshot(client, [{ ...first, header: new Uint8Array(0) }, second, third]), grpc.status.INVALID_ARGUMENT);
  t.is(await rawSnapshot(client, [{ ...first, total_size: 2500 }, second, third]), grpc.status.INVALID_ARGUMENT);
  t.is(await rawSnapshot(client, [{ ...first, from: 9 }, second, third]), grpc.status.INVALID_ARGUMENT);
  t.is(await rawSnapshot(client, []), grpc.status.INVALID_ARGUMENT);
  t.deepEqual(b.received, []);

  // The well-formed version of the same stream is accepted.
  t.is(await rawSnapshot(client, [first, second, third]), grpc.status.OK);
  t.deepEqual(b.received, [snapMsg(1, 2, data)]);
});

test('big sends are split to fit maxMessageBytes; a message too big alone is dropped and reported', async (t) => {
  const a = await startNode(t, 1, { maxMessageBytes: 16 * 1024 });
  const b = await startNode(t, 2, { maxMessageBytes: 16 * 1024 });
  connect(a, b);
  const app = (i: number, size: number): Message => ({
    type: 'app', from: 1, to: 2, term: 1, index: i, logTerm: 1, commit: 0,
    entries: [{ term: 1, index: i + 1, type: 'normal', data: new Uint8Array(size).fill(i) }],
  });
  const msgs: Message[] = [];
  for (let i = 0; i < 40; i++) msgs.push(app(i, 3000)); // ~120 KiB in one send
  a.transport.send(msgs);
  a.transport.send([app(40, 20 * 1024)]); // can never fit
  a.transport.send([app(41, 10)]);
  await waitFor(() => b.received.length === 41, 'split batches delivered');
  t.deepEqual(b.received, [...msgs, app(41, 10)]);
  await waitFor(() => a.unreachable.includes(2), 'oversized message reported');
  t.true(a.warnings.some((w) => w.includes('exceeds maxMessageBytes')));
});

test('a dead peer\'s queue stays bounded: old messages are dropped and reported', async (t) => {
  const port = await freePort(t);
  const a = await startNode(t, 1, { maxQueuedBatches: 4, maxQueuedBytes: 64 * 1024 });
  const c = await startNode(t, 3);
  connect(a, c);
  a.transport.addPeer(2, `127.0.0.1:${port}`);
  for (let i = 0; i < 2000; i++) {
    const msgs: Message[] = [
      {
        type: 'app', from: 1, to: 2, term: 1, index: i, logTerm: 1, commit: 0,
        entries: [{ term: 1, index: i + 1, type: 'normal', data: new Uint8Array(1024) }],
      },
    ];
    if (i % 20 === 0) msgs.push(heartbeat(1, 3, i));
    a.transport.send(msgs);
  }
  await waitFor(() => a.unreachable.includes(2), 'drops reported');
  t.true(a.warnings.some((w) => w.includes('queue to peer 2 is full')));
  // The healthy peer is not held back by the dead one.
  await waitFor(() => c.received.length === 100, 'healthy peer gets everything');
  t.deepEqual(commits(c.received), Array.from({ length: 100 }, (_, i) => i * 20));
  t.false(a.unreachable.includes(3));
});

test('removePeer: batches from a removed peer are refused; send to it is dropped', async (t) => {
  const a = await startNode(t, 1);
  const b = await startNode(t, 2);
  connect(a, b);
  a.transport.send([heartbeat(1, 2, 1)]);
  await waitFor(() => b.received.length === 1, 'first message');
  b.transport.removePeer(1);
  await waitFor(() => {
    a.transport.send([heartbeat(1, 2, 2)]);
    return a.unreachable.includes(2);
  }, 'a notices the refusal');
  t.deepEqual(commits(b.received), [1]);
  b.transport.send([heartbeat(2, 1, 1)]);
  await waitFor(() => b.unreachable.includes(1), 'send to removed peer reported');
  t.deepEqual(a.received, []);
});

test('send never throws and callbacks never run synchronously; stop is idempotent', async (t) => {
  const a = await startNode(t, 1);
  const b = await startNode(t, 2);
  connect(a, b);
  const weird = [
    { type: 'gossip', from: 1, to: 2, term: 1 } as unknown as Message,
    heartbeat(1, 2, 5),
    heartbeat(3, 2, 6), // wrong sender: not this node
    heartbeat(1, 77, 1), // unknown peer
  ];
  t.notThrows(() => a.transport.send(weird));
  t.deepEqual(a.unreachable, [], 'not reported synchronously');
  await waitFor(() => b.received.length === 1 && a.unreachable.length === 1, 'good message through, unknown peer reported');
  t.deepEqual(b.received, [heartbeat(1, 2, 5)]);
  t.deepEqual(a.unreachable, [77]);

  await a.transport.stop();
  await a.transport.stop();
  t.notThrows(() => a.transport.send([heartbeat(1, 2, 6)]));
  await b.transport.stop();
});

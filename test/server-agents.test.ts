/**
 * The agent API against a real three-replica cluster (`berth server` processes), driven
 * by an agent written here (grpc-js over proto/berth/v1/agent.proto): registration,
 * heartbeats and the Ready condition, Assignments (full, incremental, resumed on another
 * replica), status reports, graceful deletion, usage and `berth top`, and logs proxied
 * to a fake agent `Node` service run by this test. The leader change comes last.
 */
import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { ApiCallError, BerthClient, type PlainObject } from '../src/client/client.ts';
import { runLogs } from '../src/cli/commands/logs.ts';
import { runTop } from '../src/cli/commands/top.ts';
import type { Io } from '../src/cli/commands/common.ts';
import { AGENT_PROTO, PROTO_OPTIONS } from '../src/server/service.ts';
import { until } from './server-harness.ts';

const GRACE_MS = 3000;
const BEAT_MS = 200;

const agentPkg = (grpc.loadPackageDefinition(protoLoader.loadSync(AGENT_PROTO, PROTO_OPTIONS)).berth as grpc.GrpcObject).v1 as grpc.GrpcObject;
const AgentsClient = agentPkg.Agents as grpc.ServiceClientConstructor;
const NodeService = (agentPkg.Node as grpc.ServiceClientConstructor).service;

type Stub = grpc.Client & Record<string, (...a: unknown[]) => unknown>;

interface Batch {
  full: boolean;
  resource_version: string;
  items: { type: string; object_json: string }[];
}

const dir = mkdtempSync(join(tmpdir(), 'berth-agents-test-'));
let cluster: ServerCluster;
let addrs: string[] = [];
let client: BerthClient;
const stubs = new Map<string, Stub>();
let failed = false;

function agents(addr: string): Stub {
  let s = stubs.get(addr);
  if (!s) stubs.set(addr, (s = new AgentsClient(addr, grpc.credentials.createInsecure()) as unknown as Stub));
  return s;
}

function call<T>(addr: string, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    agents(addr)[method]!(req, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}

async function leaderId(): Promise<number> {
  return until('a leader', async () => {
    for (const a of addrs) {
      const s = await client.status(addrs.indexOf(a)).catch(() => undefined);
      if (s && s.role === 'leader') return s.id;
    }
    return undefined;
  }, 20_000);
}

async function follower(): Promise<string> {
  const l = await leaderId();
  return addrs.find((_, i) => i + 1 !== l && cluster.running(i + 1))!;
}

function nodeJson(name: string, extra: { labels?: Record<string, string>; port?: number; cpu?: string } = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(extra.labels ?? {}) } },
    status: {
      capacity: { cpu: extra.cpu ?? '4', memory: '8Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: extra.port ?? 10250 } },
      nodeInfo: { kubeletVersion: 'berth-test', operatingSystem: 'linux', architecture: 'amd64' },
      // An agent cannot set conditions: the leader's monitor owns Ready.
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  });
}

async function register(name: string, opts: Parameters<typeof nodeJson>[1] = {}, at = addrs[0]!): Promise<PlainObject> {
  const r = await until(`register ${name}`, () => call<{ node_json: string }>(at, 'Register', { node_json: nodeJson(name, opts) }).catch((e) => (e.code === grpc.status.UNAVAILABLE ? undefined : Promise.reject(e))));
  return JSON.parse(r.node_json) as PlainObject;
}

/** Heartbeats every BEAT_MS, following the leader hint. */
function heartbeat(name: string, uid: string, startAt = addrs[0]!): { stop(): void; beats: () => number; hinted: () => number } {
  let stopped = false;
  let beats = 0;
  let hinted = 0;
  let at = startAt;
  void (async () => {
    while (!stopped) {
      try {
        await call(at, 'Heartbeat', { node_name: name, node_uid: uid, seq: beats });
        beats++;
      } catch (e) {
        const hint = (e as grpc.ServiceError).metadata?.get('berth-leader')?.[0];
        if (typeof hint === 'string' && hint && addrs.includes(hint)) {
          hinted++;
          at = hint;
          continue;
        }
        at = addrs[(addrs.indexOf(at) + 1) % addrs.length]!;
      }
      await sleep(BEAT_MS);
    }
  })();
  return { stop: () => void (stopped = true), beats: () => beats, hinted: () => hinted };
}

function assignments(addr: string, node: string, rv = ''): { batches: Batch[]; error: () => grpc.ServiceError | undefined; cancel(): void } {
  const batches: Batch[] = [];
  let error: grpc.ServiceError | undefined;
  const s = agents(addr).Assignments({ node_name: node, resource_version: rv }) as grpc.ClientReadableStream<Batch>;
  s.on('data', (b: Batch) => batches.push(b));
  s.on('error', (e: grpc.ServiceError) => {
    if (e.code !== grpc.status.CANCELLED) error = e;
  });
  return { batches, error: () => error, cancel: () => s.cancel() };
}

const objects = (b: Batch) => b.items.map((i) => ({ type: i.type, o: JSON.parse(i.object_json) as PlainObject }));
const label = (x: { type: string; o: PlainObject }) => `${x.type} ${String(x.o.kind)}/${String((x.o.metadata as { name: string }).name)}`;
const meta = (o: PlainObject) => o.metadata as { name: string; uid: string; resourceVersion: string; generation: number; deletionTimestamp?: string };

function readyOf(n: PlainObject): { status?: string; reason?: string } | undefined {
  return ((n.status as { conditions?: { type: string; status: string; reason?: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'Ready');
}

function pod(name: string, node: string | undefined, spec: Record<string, unknown> = {}): PlainObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { ...(node ? { nodeName: node } : {}), containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

function fakeIo(): Io & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    write(s: string) {
      io.out += s;
    },
    error(s: string) {
      io.err += s;
    },
    stdin: process.stdin,
    env: { BERTH_CONFIG: join(dir, 'no-config'), BERTH_SERVER: '' },
    now: () => Date.now(),
    tty: false,
  };
  return io;
}

test.before(async () => {
  const ports = await freePorts(6);
  cluster = new ServerCluster({
    size: 3,
    dir,
    peerPorts: ports.slice(0, 3),
    apiPorts: ports.slice(3),
    extraArgs: ['--quiet', '--no-controllers', '--node-heartbeat-interval', `${BEAT_MS}ms`, '--node-monitor-grace-period', `${GRACE_MS}ms`],
  });
  await cluster.startAll();
  addrs = cluster.apiAddresses();
  client = new BerthClient({ endpoints: addrs });
  await leaderId();
  await until('the default namespace', () => client.get('Namespace', '', 'default').catch(() => undefined));
});

test.afterEach.always((t: ExecutionContext) => {
  if (!t.passed) failed = true;
});

test.after.always(async () => {
  for (const s of stubs.values()) s.close();
  client?.close();
  await cluster?.stopAll();
  if (!failed) rmSync(dir, { recursive: true, force: true });
  else console.log(`cluster dir kept: ${dir}`);
});

test.serial('Register creates the Node; a re-register keeps its uid and merges labels; bad input is INVALID_ARGUMENT', async (t) => {
  const f = await follower();
  const r = await call<{ node_json: string; heartbeat_interval_ms: number; cluster_id: string }>(f, 'Register', { node_json: nodeJson('n1') });
  t.is(r.heartbeat_interval_ms, BEAT_MS);
  t.is(r.cluster_id, 'berth');
  const first = JSON.parse(r.node_json) as PlainObject;
  t.truthy(meta(first).uid);
  const stored = await client.get('Node', '', 'n1');
  t.is(meta(stored).uid, meta(first).uid);
  t.deepEqual((stored.status as { allocatable?: unknown }).allocatable, { cpu: '4', memory: '8Gi', pods: '110' }, 'allocatable defaults to capacity');
  t.is(readyOf(stored), undefined, 'the agent cannot set conditions');
  // A user labels the node; the agent registers again (another replica) with more capacity.
  const labels = (stored.metadata as { labels?: Record<string, string> }).labels ?? {};
  await client.update({ ...stored, metadata: { ...(stored.metadata as object), labels: { ...labels, team: 'blue' } } });
  const again = await register('n1', { labels: { zone: 'z1' }, cpu: '8' }, addrs.find((a) => a !== f)!);
  t.is(meta(again).uid, meta(first).uid);
  const now = await client.get('Node', '', 'n1');
  t.deepEqual((now.metadata as { labels: Record<string, string> }).labels, { 'kubernetes.io/hostname': 'n1', team: 'blue', zone: 'z1' });
  t.is((now.status as { capacity: { cpu: string } }).capacity.cpu, '8');

  const bad = await call(f, 'Register', { node_json: '{not json' }).catch((e: grpc.ServiceError) => e);
  t.is((bad as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  t.regex((bad as grpc.ServiceError).details, /node_json/);
  const badName = await call(f, 'Register', { node_json: nodeJson('Bad_Name') }).catch((e: grpc.ServiceError) => e);
  t.is((badName as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  t.regex((badName as grpc.ServiceError).details, /metadata\.name/);
  const noName = await call(f, 'Register', { node_json: '{"kind":"Node"}' }).catch((e: grpc.ServiceError) => e);
  t.regex((noName as grpc.ServiceError).details, /metadata\.name: Required value/);
});

test.serial('Heartbeat: a follower names the leader\'s API address; heartbeats make Ready=True, silence Unknown once', async (t) => {
  const n = await register('n2');
  const uid = meta(n).uid;
  const f = await follower();
  const e = (await call(f, 'Heartbeat', { node_name: 'n2', node_uid: uid }).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
  t.is(e.code, grpc.status.UNAVAILABLE);
  const l = await leaderId();
  t.is(e.metadata.get('berth-leader')[0], cluster.apiAddress(l));
  t.is(e.metadata.get('berth-leader-id')[0], String(l));
  const unknown = (await call(cluster.apiAddress(l), 'Heartbeat', { node_name: 'nobody' }).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
  t.is(unknown.code, grpc.status.NOT_FOUND);
  const wrongUid = (await call(cluster.apiAddress(l), 'Heartbeat', { node_name: 'n2', node_uid: 'other' }).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
  t.is(wrongUid.code, grpc.status.FAILED_PRECONDITION);
  const empty = (await call(f, 'Heartbeat', { node_name: '' }).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
  t.is(empty.code, grpc.status.INVALID_ARGUMENT);

  // Count every change to n2 since it was registered (a registration that reaches the
  // leader counts as a first heartbeat).
  const changes: string[] = [];
  const watcher = new BerthClient({ endpoints: [f] });
  const stopWatch = watcher.watch('Node', { fieldSelector: 'metadata.name=n2', resourceVersion: meta(n).resourceVersion }, (ev) => {
    if (ev.type === 'MODIFIED') changes.push(readyOf(ev.object!)?.status ?? 'none');
  }, () => {});
  const hb = heartbeat('n2', uid);
  await until('n2 Ready=True', async () => (readyOf(await client.get('Node', '', 'n2'))?.status === 'True' ? true : undefined), 15_000);
  // Many more heartbeats: nothing is written for them.
  const beatsAtReady = hb.beats();
  await until('ten more heartbeats', async () => (hb.beats() >= beatsAtReady + 10 ? true : undefined), 15_000);
  hb.stop();
  await until('n2 Ready=Unknown', async () => (readyOf(await client.get('Node', '', 'n2'))?.status === 'Unknown' ? true : undefined), 20_000);
  const node = await client.get('Node', '', 'n2');
  t.is(readyOf(node)?.reason, 'NodeStatusUnknown');
  await sleep(GRACE_MS);
  stopWatch();
  watcher.close();
  t.deepEqual(changes, ['True', 'Unknown'], 'the Node was written exactly twice: once per change');
});

test.serial('Assignments: a full set, then changes; a Secret only to the node that uses it, decrypted; resume on another replica with no gap or duplicate', async (t) => {
  await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { v: '1' } });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await client.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec-a', namespace: 'default' }, data: { k: b64('for-a') } });
  await client.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec-b', namespace: 'default' }, data: { k: b64('for-b') } });
  const refs = (cm: string, secret: string) => ({
    volumes: [{ name: 'cfg', configMap: { name: cm } }],
    containers: [{ name: 'c', image: 'busybox', env: [{ name: 'S', valueFrom: { secretKeyRef: { name: secret, key: 'k' } } }] }],
  });
  await client.create(pod('pa', 'node-a', refs('cfg', 'sec-a')));
  await client.create(pod('pb', 'node-b', refs('cfg', 'sec-b')));
  await client.create(pod('unbound', undefined, refs('cfg', 'sec-a')));

  const f = await follower();
  const a = assignments(f, 'node-a');
  const b = assignments(addrs.find((x) => x !== f)!, 'node-b');
  await until('node-a full set', async () => (a.batches.length > 0 ? true : undefined));
  await until('node-b full set', async () => (b.batches.length > 0 ? true : undefined));
  t.true(a.batches[0]!.full);
  t.deepEqual(objects(a.batches[0]!).map(label).sort(), ['ADDED ConfigMap/cfg', 'ADDED Pod/pa', 'ADDED Secret/sec-a']);
  const secret = objects(a.batches[0]!).find((x) => x.o.kind === 'Secret')!.o;
  t.deepEqual(secret.data, { k: b64('for-a') }, 'the agent gets the Secret decrypted');
  t.is(secret.encryptedData, undefined);
  t.false(JSON.stringify(a.batches).includes('sec-b'), 'node-a never sees sec-b');
  t.deepEqual(objects(b.batches[0]!).map(label).sort(), ['ADDED ConfigMap/cfg', 'ADDED Pod/pb', 'ADDED Secret/sec-b']);

  // Incremental: a changed ConfigMap reaches both nodes; a new pod only its node.
  const cfg = await client.get('ConfigMap', 'default', 'cfg');
  await client.update({ ...cfg, data: { v: '2' } });
  await client.create(pod('pa2', 'node-a'));
  const seen = () => a.batches.flatMap(objects).map(label);
  await until('node-a increments', async () => (seen().includes('ADDED Pod/pa2') && seen().includes('MODIFIED ConfigMap/cfg') ? true : undefined));
  await until('node-b increments', async () => (b.batches.flatMap(objects).map(label).includes('MODIFIED ConfigMap/cfg') ? true : undefined));
  t.false(b.batches.flatMap(objects).map(label).includes('ADDED Pod/pa2'));
  for (const x of a.batches.slice(1)) t.false(x.full);

  // The agent loses its stream; changes happen; it resumes on ANOTHER replica.
  await sleep(300);
  const last = a.batches.at(-1)!;
  const rv = last.resource_version;
  const before = a.batches.flatMap(objects);
  a.cancel();
  await client.update({ ...(await client.get('ConfigMap', 'default', 'cfg')), data: { v: '3' } });
  await client.delete('Pod', 'default', 'pa2');
  await client.create(pod('pa3', 'node-a', refs('cfg', 'sec-b')));
  await client.delete('Pod', 'default', 'pb', { gracePeriodSeconds: 0 });
  const other = addrs.find((x) => x !== f)!;
  const a2 = assignments(other, 'node-a', rv);
  await until('the resumed batch', async () => (a2.batches.length > 0 ? true : undefined));
  t.false(a2.batches[0]!.full);
  const resumed = objects(a2.batches[0]!);
  t.deepEqual(resumed.map(label).sort(), ['ADDED Pod/pa3', 'ADDED Secret/sec-b', 'MODIFIED ConfigMap/cfg', 'MODIFIED Pod/pa2'].sort());
  t.truthy(meta(resumed.find((x) => label(x) === 'MODIFIED Pod/pa2')!.o).deletionTimestamp, 'pa2 is being deleted');
  t.deepEqual(resumed.find((x) => x.o.kind === 'ConfigMap')!.o.data, { v: '3' });
  // Nothing the agent already had is sent again: changes are newer than the resume
  // point, additions are of objects it did not hold.
  const held = new Set<string>();
  for (const x of before) {
    const k = `${String(x.o.kind)}/${meta(x.o).name}`;
    if (x.type === 'DELETED') held.delete(k);
    else held.add(k);
  }
  for (const x of resumed) {
    if (x.type === 'ADDED') t.false(held.has(`${String(x.o.kind)}/${meta(x.o).name}`), `${label(x)}: not held before`);
    else t.true(Number(meta(x.o).resourceVersion) > Number(rv), `${label(x)} is newer than the resume point`);
  }
  a2.cancel();
  b.cancel();

  const bad = assignments(f, 'node-a', 'abc');
  await until('an error', async () => bad.error());
  t.is(bad.error()!.code, grpc.status.INVALID_ARGUMENT);
  const badName = assignments(f, 'Not_A_Node');
  await until('an error', async () => badName.error());
  t.is(badName.error()!.code, grpc.status.INVALID_ARGUMENT);
  t.regex(badName.error()!.details, /node_name/);
});

test.serial('ReportStatus writes status, ignores stale reports, records usage for top; a finished pod being deleted goes', async (t) => {
  await register('node-r', { cpu: '2' });
  const p = await client.create(pod('pr', 'node-r'));
  const other = await client.create(pod('pr-other', 'node-x'));
  const l = await leaderId();
  const leader = cluster.apiAddress(l);
  const f = await follower();
  const running = { phase: 'Running', podIP: '10.1.0.5', containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: '2025-03-01T10:00:00Z' } } }] };
  const req = (uid: string, generation: number, st: object, name = 'pr') => ({ node_name: 'node-r', pods: [{ namespace: 'default', name, uid, generation, status_json: JSON.stringify(st) }] });
  const e = (await call(f, 'ReportStatus', req(meta(p).uid, 1, running)).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
  t.is(e.code, grpc.status.UNAVAILABLE);
  t.is(e.metadata.get('berth-leader')[0], leader);

  const r = await call<{ ignored: string[] }>(leader, 'ReportStatus', {
    ...req(meta(p).uid, 1, running),
    usage: [{ namespace: 'default', name: 'pr', uid: meta(p).uid, containers: [{ name: 'c', cpu_millicores: 250, memory_bytes: 64 * 1024 * 1024 }] }],
    node_cpu_millicores: 500,
    node_memory_bytes: 1024 * 1024 * 1024,
  });
  t.deepEqual(r.ignored, []);
  const stored = await client.get('Pod', 'default', 'pr');
  t.is((stored.status as { podIP: string }).podIP, '10.1.0.5');
  t.is((stored.status as { phase: string }).phase, 'Running');
  // An old incarnation, another node's pod, a pod that is gone: all ignored, nothing written.
  const stale = await call<{ ignored: string[] }>(leader, 'ReportStatus', req('old-uid', 1, { phase: 'Failed' }));
  t.deepEqual(stale.ignored, ['default/pr']);
  const notMine = await call<{ ignored: string[] }>(leader, 'ReportStatus', req(meta(other).uid, 1, { phase: 'Failed' }, 'pr-other'));
  t.deepEqual(notMine.ignored, ['default/pr-other']);
  t.is((await client.get('Pod', 'default', 'pr')).status && ((await client.get('Pod', 'default', 'pr')).status as { phase: string }).phase, 'Running');
  const garbage = (await call(leader, 'ReportStatus', { node_name: 'node-r', pods: [{ namespace: 'default', name: 'pr', uid: meta(p).uid, generation: 1, status_json: '[1' }] }).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
  t.is(garbage.code, grpc.status.INVALID_ARGUMENT);
  t.regex(garbage.details, /pods\[0\]\.status_json/);
  const invalid = (await call(leader, 'ReportStatus', req(meta(p).uid, 1, { phase: 'Running', podIP: 42 })).catch((x: grpc.ServiceError) => x)) as grpc.ServiceError;
  t.is(invalid.code, grpc.status.INVALID_ARGUMENT);

  // top, through the client (any endpoint: it follows the leader hint) and the CLI.
  const pods = await client.top('pods');
  t.deepEqual(pods.map((u) => [u.name, u.cpuMillicores, u.memoryBytes]), [['pr', 250, 64 * 1024 * 1024]]);
  const io = fakeIo();
  t.is(await runTop(['pods', '--server', addrs.join(',')], io), 0);
  t.deepEqual(io.out.trim().split('\n').map((l) => l.split(/\s+/)), [['NAME', 'CPU(cores)', 'MEMORY(bytes)'], ['pr', '250m', '64Mi']]);
  const io2 = fakeIo();
  t.is(await runTop(['nodes', '--server', addrs.join(',')], io2), 0);
  t.deepEqual(io2.out.trim().split('\n').map((l) => l.split(/\s+/)), [['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%'], ['node-r', '500m', '25%', '1024Mi', '12%']]);
  const topFollower = (await new Promise<unknown>((resolve) => {
    const c = new BerthClient({ endpoints: [f], timeoutMs: 1500 });
    c.top('nodes').then(resolve, (x) => {
      c.close();
      resolve(x);
    });
  })) as ApiCallError;
  t.is(topFollower.codeName, 'UNAVAILABLE', 'a follower alone cannot answer top');

  // Graceful deletion completes when the agent reports every container terminated.
  await client.delete('Pod', 'default', 'pr');
  const marked = await client.get('Pod', 'default', 'pr');
  t.truthy(meta(marked).deletionTimestamp);
  const terminated = { phase: 'Running', containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: 'busybox', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] };
  const older = await call<{ ignored: string[] }>(leader, 'ReportStatus', req(meta(p).uid, meta(marked).generation - 1, terminated));
  t.deepEqual(older.ignored, ['default/pr'], 'a report for an older generation is stale');
  t.truthy(await client.get('Pod', 'default', 'pr'));
  const done = await call<{ ignored: string[] }>(leader, 'ReportStatus', req(meta(p).uid, meta(marked).generation, terminated));
  t.deepEqual(done.ignored, []);
  const gone = await client.get('Pod', 'default', 'pr').catch((x: ApiCallError) => x);
  t.is((gone as ApiCallError).codeName, 'NOT_FOUND');
});

test.serial('Pods.Logs is proxied to the node agent\'s Node service; errors say why', async (t) => {
  const requests: Record<string, unknown>[] = [];
  let followCancelled = false;
  const fake = new grpc.Server();
  fake.addService(NodeService, {
    ContainerLogs: (c: grpc.ServerWritableStream<Record<string, unknown>, { data: Buffer }>) => {
      requests.push(c.request);
      if (c.request.follow) {
        let n = 0;
        const timer = setInterval(() => c.write({ data: Buffer.from(`line ${n++}\n`) }), 20);
        c.on('cancelled', () => {
          clearInterval(timer);
          followCancelled = true;
        });
        return;
      }
      if (c.request.pod === 'missing-container') {
        c.emit('error', { code: grpc.status.NOT_FOUND, details: 'container not found on this node' });
        return;
      }
      c.write({ data: Buffer.from(`hello from ${String(c.request.pod)}/${String(c.request.container)}\n`) });
      c.write({ data: Buffer.from('héllo again\n') });
      c.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => fake.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => fake.forceShutdown());
  await register('logs-node', { port });
  await client.create(pod('lp', 'logs-node'));
  await client.create(pod('two', 'logs-node', { containers: [{ name: 'a', image: 'busybox' }, { name: 'b', image: 'busybox' }] }));
  await client.create(pod('missing-container', 'logs-node'));
  await client.create(pod('pending', undefined));
  const [closed] = await freePorts(1);
  await register('dead-node', { port: closed! });
  await client.create(pod('on-dead', 'dead-node'));

  const f = await follower();
  const c = new BerthClient({ endpoints: [f] });
  t.teardown(() => c.close());
  let text = '';
  await c.logs('default', 'lp', { tailLines: 5, timestamps: true, sinceSeconds: 60 }, (b) => (text += b.toString())).done;
  t.is(text, 'hello from lp/c\nhéllo again\n');
  t.like(requests.at(-1), { namespace: 'default', pod: 'lp', container: 'c', tail_lines: 5, timestamps: true, since_seconds: 60, follow: false });

  // Following: the user's cancel reaches the agent.
  let followed = '';
  const f2 = c.logs('default', 'lp', { follow: true }, (b) => (followed += b.toString()));
  await until('three followed lines', async () => (followed.split('\n').length > 3 ? true : undefined), 10_000);
  f2.cancel();
  await f2.done;
  await until('the agent to see the cancel', async () => (followCancelled ? true : undefined), 10_000);
  t.true(followed.startsWith('line 0\nline 1\nline 2\n'));

  const io = fakeIo();
  t.is(await runLogs(['two', '-c', 'b', '--tail', '1', '--server', addrs.join(',')], io), 0);
  t.is(io.out, 'hello from two/b\nhéllo again\n');

  const err = async (pod: string, container = '') => {
    const e = await c.logs('default', pod, { container }, () => {}).done.catch((x: ApiCallError) => x);
    return e instanceof ApiCallError ? `${e.codeName}: ${e.message}` : 'no error';
  };
  t.regex(await err('nope'), /^NOT_FOUND: pods "nope" not found/);
  t.regex(await err('two'), /^INVALID_ARGUMENT: a container name must be specified for pod two, choose one of: \[a b\]/);
  t.regex(await err('lp', 'zzz'), /^INVALID_ARGUMENT: container zzz is not valid for pod lp/);
  t.regex(await err('pending'), /^FAILED_PRECONDITION: pod "pending" is not scheduled/);
  t.regex(await err('on-dead'), /^UNAVAILABLE: cannot reach the agent of node "dead-node"/);
  t.regex(await err('missing-container'), /^NOT_FOUND: container not found on this node/);
});

test.serial('after a leader change, nodes that heartbeat to the new leader stay Ready (no mass NotReady)', async (t) => {
  const names = ['f1', 'f2', 'f3'];
  const loops: ReturnType<typeof heartbeat>[] = [];
  // The heartbeats start at a follower, so that they must follow its leader hint: where
  // they go after the leader is killed (rotation or a hint) depends on which replica wins.
  const old = await leaderId();
  const follower = addrs.find((_, i) => i + 1 !== old)!;
  for (const n of names) {
    const node = await register(n);
    loops.push(heartbeat(n, meta(node).uid, follower));
  }
  t.teardown(() => loops.forEach((l) => l.stop()));
  for (const n of names) await until(`${n} Ready=True`, async () => (readyOf(await client.get('Node', '', n))?.status === 'True' ? true : undefined), 15_000);
  await until('heartbeats follow the leader hint', async () => (loops.every((l) => l.hinted() > 0) ? true : undefined), 15_000);
  t.is(await leaderId(), old, 'no leader change before the kill');
  // Watch from a replica that survives.
  const survivor = addrs.find((_, i) => i + 1 !== old)!;
  const watcher = new BerthClient({ endpoints: [survivor] });
  t.teardown(() => watcher.close());
  const notReady: string[] = [];
  const start = await watcher.list('Node');
  const stop = watcher.watch('Node', { resourceVersion: start.resourceVersion }, (ev) => {
    const name = meta(ev.object ?? {}).name;
    if (names.includes(name) && readyOf(ev.object!)?.status !== 'True') notReady.push(name);
  }, () => {});
  t.teardown(stop);
  await cluster.kill(old);
  const next = await until('a new leader', async () => {
    const s = await watcher.status(0).catch(() => undefined);
    return s && s.leader && s.leader !== old ? s.leader : undefined;
  }, 20_000);
  t.not(next, old);
  // Longer than the grace period, counted from the new leadership.
  const beatsBefore = loops.map((l) => l.beats());
  await sleep(GRACE_MS + 2000);
  loops.forEach((l, i) => t.true(l.beats() > beatsBefore[i]! + 5, `${names[i]} heartbeats reached the new leader`));
  for (const n of names) t.is(readyOf(await watcher.get('Node', '', n))?.status, 'True');
  t.deepEqual(notReady, [], 'no node was marked not ready');
});

/**
 * The agent against an in-process fake of the Agents service: registration (the Node it
 * sends), heartbeats at the server's interval, the leader hint, Assignments (full set,
 * incremental, resume after reconnect), batched status reports with retries, deletion,
 * orphan removal, adoption by a restarted agent, usage, and the Node.ContainerLogs service.
 */
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Agent, type AgentOptions } from '../src/agent/agent.ts';
import { serviceClient } from '../src/agent/proto.ts';
import { FakeRuntime } from '../src/agent/runtimes/fake.ts';
import { FakeControl, item } from './agent-fake-control.ts';
import { makePod, tmpDir, until } from './agent-helpers.ts';

async function startAgent(t: { teardown(fn: () => unknown): void }, servers: string[], extra: Partial<AgentOptions> = {}) {
  const runtime = extra.runtime instanceof FakeRuntime ? extra.runtime : new FakeRuntime({ images: ['busybox:1.36'] });
  const agent = new Agent({
    name: 'node-1',
    servers,
    runtime,
    dataDir: tmpDir('agent'),
    labels: { zone: 'a' },
    taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }],
    capacity: { cpu: '4', memory: '8Gi', pods: 20 },
    relistMs: 50,
    random: () => 0.5,
    ...extra,
  });
  await agent.start();
  t.teardown(() => agent.stop());
  return { agent, runtime: runtime as FakeRuntime };
}

async function control(t: { teardown(fn: () => unknown): void }) {
  const c = await FakeControl.start();
  t.teardown(() => c.stop());
  return c;
}

const nodePod = (name: string, extra: Parameters<typeof makePod>[2] = {}) => makePod(name, [{ name: 'c0' }], extra);

test('registers a complete Node and heartbeats at the interval the server asks for', async (t) => {
  const cp = await control(t);
  cp.heartbeatIntervalMs = 50;
  const { agent } = await startAgent(t, [cp.address]);
  await agent.registered;
  const node = cp.registers[0] as any;
  t.is(node.kind, 'Node');
  t.is(node.metadata.name, 'node-1');
  t.like(node.metadata.labels, { zone: 'a', 'kubernetes.io/hostname': 'node-1', 'kubernetes.io/os': 'linux' });
  t.truthy(node.metadata.labels['kubernetes.io/arch']);
  t.deepEqual(node.spec.taints, [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }]);
  t.deepEqual(node.status.capacity, { cpu: '4', memory: '8Gi', pods: '20' });
  t.deepEqual(node.status.allocatable, node.status.capacity);
  t.is(node.status.nodeInfo.containerRuntimeVersion, 'fake://0.1.0');
  t.is(node.status.nodeInfo.operatingSystem, 'linux');
  t.is(node.status.daemonEndpoints.kubeletEndpoint.Port, agent.nodePort);
  t.true(agent.nodePort > 0);
  t.deepEqual(node.status.addresses[0], { type: 'InternalIP', address: '127.0.0.1' });
  t.true(await until(() => cp.heartbeats.length >= 3));
  t.is(cp.heartbeats[0]!.node_uid, 'node-uid-1');
  t.deepEqual(cp.heartbeats.slice(0, 3).map((h) => h.seq), [1, 2, 3]);
  // A Node deleted on the server side: the agent registers again.
  cp.nodeUnknown = true;
  t.true(await until(() => cp.registers.length >= 2));
  cp.nodeUnknown = false;
});

test('heartbeats and status reports follow the berth-leader hint; assignments come from any replica', async (t) => {
  const leader = await control(t);
  const follower = await control(t);
  follower.leaderHint = leader.address;
  leader.heartbeatIntervalMs = 50;
  follower.onAssignments = () => [{ full: true, resource_version: '7', items: [item('ADDED', nodePod('web'))] }];
  const { agent } = await startAgent(t, [follower.address]);
  await agent.registered;
  t.is(leader.registers.length, 1);
  t.true(await until(() => leader.heartbeats.length >= 2));
  t.is(follower.heartbeats.length, 0);
  t.true(await until(() => leader.lastStatus('web')?.phase === 'Running'));
  t.is(follower.assignmentRequests.length, 1);
  t.is(leader.assignmentRequests.length, 0);
});

test('control client: a failed call is a ControlCallError with code, endpoint and leader hint; stack capture is restored after', async (t) => {
  const leader = await control(t);
  const follower = await control(t);
  follower.leaderHint = leader.address;
  const { ControlClient, ControlCallError } = await import('../src/agent/control-client.ts');
  const c = new ControlClient({ endpoints: [follower.address], random: () => 0 });
  t.teardown(() => c.close());
  const limit = Error.stackTraceLimit;
  // One attempt only: the follower's UNAVAILABLE with its hint is the answer.
  const err = await c.heartbeat({ node_name: 'n', node_uid: '', seq: 1 }, 1).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.true(err instanceof ControlCallError);
  t.is((err as InstanceType<typeof ControlCallError>).code, grpc.status.UNAVAILABLE);
  t.is((err as InstanceType<typeof ControlCallError>).endpoint, follower.address);
  t.is((err as InstanceType<typeof ControlCallError>).leaderHint, leader.address);
  t.is(Error.stackTraceLimit, limit);
  // With retries the hint is followed.
  await t.notThrowsAsync(c.heartbeat({ node_name: 'n', node_uid: '', seq: 2 }));
  t.is(c.knownLeader, leader.address);
  // A stream's error too.
  const ended = await new Promise<unknown>((resolve) => {
    void follower.stop().then(() => {
      c.rotate();
      c.assignments({ node_name: 'n', resource_version: '' }, { onBatch: () => {}, onEnd: resolve });
    });
  });
  t.true(ended instanceof ControlCallError);
  t.is(Error.stackTraceLimit, limit);
});

test('assignments: a full set, then changes; deletion stops with grace and reports; DELETED cleans up', async (t) => {
  const cp = await control(t);
  const pod = nodePod('web', { terminationGracePeriodSeconds: 3 });
  cp.onAssignments = () => [{ full: true, resource_version: '10', items: [item('ADDED', pod)] }];
  const { agent, runtime } = await startAgent(t, [cp.address]);
  t.true(await until(() => cp.lastStatus('web')?.phase === 'Running'));
  const s = cp.lastStatus('web')!;
  t.is(s.containerStatuses[0].ready, true);
  t.is(s.hostIP, '127.0.0.1');
  const report = cp.reports.flatMap((r) => r.pods).find((p) => p.name === 'web')!;
  t.is(report.uid, pod.metadata.uid!);
  t.is(report.namespace, 'default');
  t.is(report.generation, 1);
  t.is(agent.lastResourceVersion, '10');

  // A second pod arrives incrementally.
  const api = nodePod('api');
  cp.push({ full: false, resource_version: '11', items: [item('ADDED', api)] });
  t.true(await until(() => cp.lastStatus('api')?.phase === 'Running'));

  // Graceful deletion.
  const deleting = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 2 } };
  cp.push({ full: false, resource_version: '12', items: [item('MODIFIED', deleting)] });
  t.true(await until(() => cp.lastStatus('web')?.phase === 'Failed'));
  t.is(cp.lastStatus('web')!.containerStatuses[0].state.terminated.exitCode, 143);
  t.true(runtime.stopCalls.some((c) => c.timeoutSeconds === 2));
  cp.push({ full: false, resource_version: '13', items: [item('DELETED', deleting)] });
  t.true(await until(async () => (await runtime.listPodSandboxes()).length === 1));
  t.is(agent.assignedPods().length, 1);

  // A full set without `api` removes it too.
  cp.push({ full: true, resource_version: '20', items: [] });
  t.true(await until(async () => runtime.sandboxCount === 0 && runtime.containerCount === 0));
  t.is(agent.lastResourceVersion, '20');
});

test('after the stream breaks the agent resumes from the last resourceVersion', async (t) => {
  const cp = await control(t);
  let n = 0;
  cp.onAssignments = (req) => (n++ === 0 ? [{ full: true, resource_version: '5', items: [item('ADDED', nodePod('a'))] }] : req.resource_version === '6' ? [] : []);
  const { agent } = await startAgent(t, [cp.address]);
  t.true(await until(() => cp.lastStatus('a')?.phase === 'Running'));
  cp.push({ full: false, resource_version: '6', items: [] });
  t.true(await until(() => agent.lastResourceVersion === '6'));
  cp.endStreams();
  t.true(await until(() => cp.assignmentRequests.length === 2, 10_000));
  t.is(cp.assignmentRequests[0]!.resource_version, '');
  t.is(cp.assignmentRequests[1]!.resource_version, '6');
  t.is(cp.assignmentRequests[1]!.node_name, 'node-1');
  t.is(agent.assignedPods().length, 1); // nothing lost meanwhile
});

test('status reports are batched per pod and retried after failures', async (t) => {
  const cp = await control(t);
  const pods = Array.from({ length: 40 }, (_, i) => nodePod(`p${i}`));
  cp.onAssignments = () => [{ full: true, resource_version: '1', items: pods.map((p) => item('ADDED', p)) }];
  cp.failReports = 2;
  await startAgent(t, [cp.address], { statusFlushMs: 100 });
  t.true(await until(() => pods.every((p) => cp.lastStatus(p.metadata.name!)?.phase === 'Running'), 15_000));
  // Far fewer requests than statuses, and no request carries one pod twice.
  t.true(cp.reports.length < 40);
  for (const r of cp.reports) t.is(new Set(r.pods.map((p) => p.uid)).size, r.pods.length);
});

test('sandboxes of pods no longer assigned are removed; a restarted agent adopts the rest', async (t) => {
  const cp = await control(t);
  const keep = nodePod('keep');
  cp.onAssignments = () => [{ full: true, resource_version: '1', items: [item('ADDED', keep)] }];
  const runtime = new FakeRuntime({ images: ['busybox:1.36'] });
  const first = await startAgent(t, [cp.address], { runtime });
  t.true(await until(() => cp.lastStatus('keep')?.phase === 'Running'));
  const before = await runtime.listContainers();
  // An orphan: started by this node for a pod the control plane no longer has.
  const sb = await runtime.runPodSandbox({
    name: 'gone', namespace: 'default', uid: 'uid-gone', attempt: 0, hostname: 'gone', logDirectory: tmpDir('orphan'),
    labels: { 'berth.io/pod-uid': 'uid-gone', 'berth.io/pod-name': 'gone', 'berth.io/pod-namespace': 'default', 'berth.io/node': 'node-1' }, annotations: {}, portMappings: [],
  });
  // And something that is not ours at all: left alone.
  await runtime.runPodSandbox({ name: 'other', namespace: 'x', uid: 'u-x', attempt: 0, hostname: 'o', logDirectory: tmpDir('other'), labels: { app: 'other' }, annotations: {}, portMappings: [] });
  await first.agent.stop();

  const second = await startAgent(t, [cp.address], { runtime });
  await second.agent.firstSync;
  t.true(await until(async () => !(await runtime.listPodSandboxes()).some((s) => s.id === sb)));
  t.is((await runtime.listPodSandboxes()).length, 2);
  const after = await runtime.listContainers();
  t.deepEqual(after.map((c) => c.id), before.map((c) => c.id));
  t.true(await until(() => second.agent.podStatus(keep.metadata.uid!)?.phase === 'Running'));
});

test('usage: CPU as a rate between two samples, memory, per pod and for the node', async (t) => {
  const cp = await control(t);
  cp.onAssignments = () => [{ full: true, resource_version: '1', items: [item('ADDED', nodePod('busy'))] }];
  const runtime = new FakeRuntime({ images: ['busybox:1.36'], behaviour: () => ({ cpuMillicores: 250, memoryBytes: 64 << 20 }) });
  const { agent } = await startAgent(t, [cp.address], { runtime, usageIntervalMs: 60_000 });
  t.true(await until(() => cp.lastStatus('busy')?.phase === 'Running'));
  await agent.relist();
  await agent.collectUsage();
  await new Promise((r) => setTimeout(r, 200));
  await agent.collectUsage();
  t.true(await until(() => cp.reports.some((r) => r.usage.length > 0)));
  const r = cp.reports.find((x) => x.usage.length > 0)!;
  t.is(r.usage[0]!.name, 'busy');
  const c = r.usage[0]!.containers[0]!;
  t.is(c.name, 'c0');
  t.is(c.memory_bytes, 64 << 20);
  t.true(c.cpu_millicores >= 240 && c.cpu_millicores <= 260);
  t.is(r.node_memory_bytes, 64 << 20);
});

test('Node.ContainerLogs serves the CRI log: tail, timestamps, previous, errors', async (t) => {
  const cp = await control(t);
  const pod = makePod('logs', [{ name: 'c0' }, { name: 'c1' }]);
  cp.onAssignments = () => [{ full: true, resource_version: '1', items: [item('ADDED', pod)] }];
  const { agent, runtime } = await startAgent(t, [cp.address]);
  t.true(await until(() => cp.lastStatus('logs')?.phase === 'Running'));
  const c0 = (await runtime.listContainers()).find((c) => c.name === 'c0')!;
  mkdirSync(dirname(c0.logPath!), { recursive: true });
  writeFileSync(
    c0.logPath!,
    [
      '2024-01-01T00:00:00.000000001Z stdout F one',
      '2024-01-01T00:00:01.000000000Z stderr F two',
      '2024-01-01T00:00:02.000000000Z stdout P thr',
      '2024-01-01T00:00:02.100000000Z stdout F ee',
      '',
    ].join('\n'),
  );
  const Node = serviceClient('Node');
  const client = new Node(`127.0.0.1:${agent.nodePort}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (req: unknown) => grpc.ClientReadableStream<{ data: Buffer }>>;
  t.teardown(() => client.close());
  const read = (req: Record<string, unknown>) =>
    new Promise<{ text: string; err?: grpc.ServiceError }>((resolve) => {
      let text = '';
      const s = client.ContainerLogs!({ namespace: 'default', pod: 'logs', container: 'c0', tail_lines: -1, ...req });
      s.on('data', (c: { data: Buffer }) => (text += c.data.toString()));
      s.on('error', (err: grpc.ServiceError) => resolve({ text, err }));
      s.on('end', () => resolve({ text }));
    });
  t.is((await read({})).text, 'one\ntwo\nthree\n');
  t.is((await read({ tail_lines: 2 })).text, 'two\nthree\n');
  t.is((await read({ tail_lines: 0 })).text, '');
  t.is((await read({ timestamps: true, tail_lines: 1 })).text, '2024-01-01T00:00:02.000000000Z three\n');
  const noPod = await read({ pod: 'nope' });
  t.is(noPod.err?.code, grpc.status.NOT_FOUND);
  const noContainer = await read({ container: 'zzz' });
  t.is(noContainer.err?.code, grpc.status.NOT_FOUND);
  const ambiguous = await read({ container: '' });
  t.is(ambiguous.err?.code, grpc.status.INVALID_ARGUMENT);
  t.regex(ambiguous.err?.details ?? '', /choose one of: \[c0 c1\]/);
  const noPrev = await read({ previous: true });
  t.is(noPrev.err?.code, grpc.status.NOT_FOUND);
  // After a restart, --previous reads the former instance.
  runtime.exit(c0.id, 1);
  await agent.relist();
  t.true(await until(() => cp.lastStatus('logs')?.containerStatuses.find((c: any) => c.name === 'c0')?.restartCount === 1));
  t.is((await read({ previous: true })).text, 'one\ntwo\nthree\n');
  t.is((await read({})).text, '');
});

test('a follow stream gets lines as they are written and ends when the container stops', async (t) => {
  const cp = await control(t);
  const pod = makePod('follow', [{ name: 'c0' }], { restartPolicy: 'Never' });
  cp.onAssignments = () => [{ full: true, resource_version: '1', items: [item('ADDED', pod)] }];
  const { agent, runtime } = await startAgent(t, [cp.address]);
  t.true(await until(() => cp.lastStatus('follow')?.phase === 'Running'));
  const c0 = (await runtime.listContainers())[0]!;
  mkdirSync(dirname(c0.logPath!), { recursive: true });
  writeFileSync(c0.logPath!, '2024-01-01T00:00:00Z stdout F first\n');
  const Node = serviceClient('Node');
  const client = new Node(`127.0.0.1:${agent.nodePort}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (req: unknown) => grpc.ClientReadableStream<{ data: Buffer }>>;
  t.teardown(() => client.close());
  let text = '';
  let ended = false;
  const s = client.ContainerLogs!({ namespace: 'default', pod: 'follow', container: '', follow: true, tail_lines: -1 });
  s.on('data', (c: { data: Buffer }) => (text += c.data.toString()));
  s.on('end', () => (ended = true));
  s.on('error', () => (ended = true));
  t.true(await until(() => text === 'first\n'));
  writeFileSync(c0.logPath!, '2024-01-01T00:00:00Z stdout F first\n2024-01-01T00:00:01Z stdout F second\n');
  t.true(await until(() => text === 'first\nsecond\n'));
  t.false(ended);
  runtime.exit(c0.id, 0);
  t.true(await until(() => ended, 10_000));
});

test('malformed assignments are skipped; the rest of the batch still runs', async (t) => {
  const cp = await control(t);
  const good = nodePod('good');
  const weird = nodePod('weird');
  (weird as any).status = { podIPs: 'not-a-list', startTime: 42 };
  (weird.spec as any).initContainers = { not: 'a list' };
  cp.onAssignments = () => [
    {
      full: true,
      resource_version: '1',
      items: [
        { type: 'ADDED', object_json: 'this is not json' },
        { type: 'ADDED', object_json: '[1,2]' },
        item('ADDED', { kind: 'Pod' }),
        item('ADDED', { kind: 'Pod', metadata: { uid: 'u1', name: 'nospec' } }),
        item('ADDED', { kind: 'Pod', metadata: { uid: 'u2', name: 'badcontainers' }, spec: { containers: 'x' } }),
        item('ADDED', weird),
        item('ADDED', { kind: 'ConfigMap' }),
        item('ADDED', good),
      ],
    },
  ];
  const { agent } = await startAgent(t, [cp.address]);
  t.true(await until(() => cp.lastStatus('good')?.phase === 'Running'));
  cp.push({ full: false, resource_version: '2', items: [{ type: 'MODIFIED', object_json: '{' }, item('DELETED', { kind: 'Pod', metadata: {} })] });
  t.true(await until(() => agent.lastResourceVersion === '2'));
  t.is(cp.lastStatus('good')?.phase, 'Running');
});

test('a Ready=False written by someone else (the node controller, while the node looked dead) is corrected by the agent', async (t) => {
  const cp = await control(t);
  const pod = nodePod('web');
  cp.onAssignments = () => [{ full: true, resource_version: '10', items: [item('ADDED', pod)] }];
  await startAgent(t, [cp.address]);
  t.true(await until(() => cp.lastStatus('web')?.phase === 'Running' && cp.lastStatus('web')?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')));
  const ours = cp.lastStatus('web')!;
  const reportsBefore = cp.podReports().filter((r) => r.name === 'web').length;
  // The control plane's copy: the agent's status, with only the pod's Ready condition turned
  // False (what node-lifecycle's markNotReady writes); containers are still ready.
  const marked = structuredClone(ours);
  marked.conditions = marked.conditions.map((c: { type: string; status: string }) => (c.type === 'Ready' ? { ...c, status: 'False' } : c));
  cp.push({ full: false, resource_version: '11', items: [item('MODIFIED', { ...pod, status: marked })] });
  t.true(await until(() => cp.podReports().filter((r) => r.name === 'web').length > reportsBefore));
  const again = cp.lastStatus('web')!;
  t.true(again.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'), 'the agent sends its Ready=True again');
});

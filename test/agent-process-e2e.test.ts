/**
 * The agent with the process runtime end to end (fake control plane, real processes): a pod
 * runs, its volume and env reach the process, `logs` works over the Node service, a
 * restarted agent adopts the running process, and deletion stops it with SIGTERM.
 */
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../src/agent/agent.ts';
import { serviceClient } from '../src/agent/proto.ts';
import { ProcessRuntime } from '../src/agent/runtimes/process.ts';
import { noMounter } from '../src/agent/volumes.ts';
import { FakeControl, item } from './agent-fake-control.ts';
import { makePod, tmpDir, until } from './agent-helpers.ts';

test('a pod of real processes: runs, logs, adoption by a new agent, graceful deletion', async (t) => {
  const cp = await FakeControl.start();
  t.teardown(() => cp.stop());
  const dir = tmpDir('e2e');
  const pod = makePod(
    'hello',
    [
      {
        name: 'main',
        command: ['sh', '-c', 'echo "$(MSG) from $POD_NAME"; cat cfg/greeting; echo; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done'],
        env: [
          { name: 'MSG', value: 'hello' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
        volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }],
        readinessProbe: { exec: { command: ['test', '-f', 'cfg/greeting'] }, periodSeconds: 1 },
      },
    ],
    { terminationGracePeriodSeconds: 10, volumes: [{ name: 'cfg', configMap: { name: 'greet' } }] },
  );
  const greet = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'greet', namespace: 'default' }, data: { greeting: 'good day' } };
  cp.onAssignments = () => [{ full: true, resource_version: '1', items: [item('ADDED', pod), item('ADDED', greet)] }];
  const mk = () => {
    const runtime = new ProcessRuntime({ dir: join(dir, 'runtime'), pumpMs: 50, monitorMs: 200 });
    return new Agent({ name: 'node-1', servers: [cp.address], runtime, dataDir: dir, relistMs: 100, mounter: noMounter, statusFlushMs: 50 });
  };
  let agent = mk();
  await agent.start();
  t.teardown(async () => {
    await agent.stop();
    await agent.runtime.close();
  });
  t.true(await until(() => cp.lastStatus('hello')?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True', 15_000));
  const first = cp.lastStatus('hello')!.containerStatuses[0];
  t.regex(first.containerID, /^process:\/\//);
  t.is(cp.lastStatus('hello')!.podIP, '127.0.0.1');

  const logs = async (port: number) => {
    const Node = serviceClient('Node');
    const client = new Node(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (r: unknown) => grpc.ClientReadableStream<{ data: Buffer }>>;
    try {
      return await new Promise<string>((resolve, reject) => {
        let text = '';
        const s = client.ContainerLogs!({ namespace: 'default', pod: 'hello', container: 'main', tail_lines: -1 });
        s.on('data', (c: { data: Buffer }) => (text += c.data.toString()));
        s.on('error', reject);
        s.on('end', () => resolve(text));
      });
    } finally {
      client.close();
    }
  };
  t.true(await until(async () => (await logs(agent.nodePort)) === 'hello from hello\ngood day\n', 10_000));

  // The agent restarts: the process is adopted, not started again.
  const pid = (await agent.runtime.listContainers())[0]!;
  await agent.stop();
  await agent.runtime.close();
  agent = mk();
  await agent.start();
  await agent.firstSync;
  t.true(await until(() => agent.podStatus(pod.metadata.uid!)?.containerStatuses?.[0]?.state?.running !== undefined, 10_000));
  const after = agent.podStatus(pod.metadata.uid!)!.containerStatuses![0]!;
  t.is(after.containerID, first.containerID);
  t.is(after.restartCount, 0);
  t.is((await agent.runtime.listContainers()).length, 1);
  t.is((await agent.runtime.listContainers())[0]!.id, pid.id);

  // Graceful deletion: SIGTERM, the trap says bye and exits 0.
  const deleting = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 10 } };
  cp.push({ full: false, resource_version: '2', items: [item('MODIFIED', deleting)] });
  t.true(await until(() => ['Succeeded', 'Failed'].includes(cp.lastStatus('hello')?.phase), 15_000));
  const term = cp.lastStatus('hello')!.containerStatuses[0].state.terminated;
  t.is(term.exitCode, 0);
  t.is(cp.lastStatus('hello')!.phase, 'Succeeded');
  t.true(await until(async () => (await logs(agent.nodePort)).endsWith('bye\n'), 5000));
  cp.push({ full: false, resource_version: '3', items: [item('DELETED', deleting)] });
  t.true(await until(async () => (await agent.runtime.listContainers()).length === 0, 10_000));
  // Nothing of the pod is left running.
  t.deepEqual(processesMatching('cat cfg/greeting'), []);
});

/** Pids whose command line contains `text`. */
function processesMatching(text: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${n}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(text)) out.push(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

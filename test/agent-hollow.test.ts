/**
 * Hollow nodes: many fake-runtime agents in one process, each registering, streaming its own
 * assignments and reporting its pods, sharing one Node service for logs.
 */
import test from 'ava';
import { startHollowAgents } from '../src/agent/hollow.ts';
import { FakeControl, item } from './agent-fake-control.ts';
import { makePod, until } from './agent-helpers.ts';

test('a fleet of hollow agents registers, runs its pods and stops', async (t) => {
  const cp = await FakeControl.start();
  t.teardown(() => cp.stop());
  cp.onAssignments = (req) => {
    const pod = makePod(`p-${req.node_name}`, [{ name: 'c0' }]);
    pod.spec.nodeName = req.node_name;
    return [{ full: true, resource_version: '1', items: [item('ADDED', pod)] }];
  };
  const count = 40;
  const fleet = await startHollowAgents({ servers: [cp.address], count, namePrefix: 'h', capacity: { cpu: '8', memory: '32Gi', pods: 50 } });
  t.teardown(() => fleet.stop());
  t.is(cp.registers.length, count);
  const names = new Set(cp.registers.map((n) => (n as { metadata: { name: string } }).metadata.name));
  t.is(names.size, count);
  t.true(names.has('h-0') && names.has(`h-${count - 1}`));
  const ports = new Set(cp.registers.map((n) => (n as { status: { daemonEndpoints: { kubeletEndpoint: { Port: number } } } }).status.daemonEndpoints.kubeletEndpoint.Port));
  t.deepEqual([...ports], [fleet.nodeServer.port]);
  t.true(await until(() => Array.from({ length: count }, (_, i) => cp.lastStatus(`p-h-${i}`)?.phase).every((p) => p === 'Running'), 20_000));
  await fleet.stop();
  t.pass();
});

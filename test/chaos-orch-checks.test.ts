/**
 * The pure parts of the orchestration chaos checks (bench/chaos/orch-checks.ts and the
 * convergence predicates of bench/chaos/orchestration.ts), on hand-made inputs that must
 * pass and inputs that must fail.
 */
import test from 'ava';
import type { PlainObject } from '../src/client/client.ts';
import {
  allocatableOf,
  convergedAfter,
  overcommitViolations,
  requestsOf,
  sandboxViolations,
  twiceViolations,
  type Allocatable,
} from '../bench/chaos/orch-checks.ts';
import { convergedNow, finalDeploymentProblems } from '../bench/chaos/orchestration.ts';
import type { PodProcess } from '../bench/chaos/procscan.ts';

const proc = (pgrp: number, uid: string, name: string, node: string, container = 'c'): PodProcess => ({ pgrp, uid, name, namespace: 'ns', node, container });

test('twice: different pods, and two containers of one pod, are fine', (t) => {
  t.deepEqual(twiceViolations([]), []);
  t.deepEqual(twiceViolations([proc(10, 'u1', 'a', 'n1'), proc(11, 'u2', 'b', 'n1'), proc(12, 'u3', 'c', 'n2')]), []);
  t.deepEqual(twiceViolations([proc(10, 'u1', 'a', 'n1', 'app'), proc(11, 'u1', 'a', 'n1', 'sidecar')]), []);
});

test('twice: one pod on two nodes at once', (t) => {
  const v = twiceViolations([proc(10, 'u1', 'a', 'n1'), proc(20, 'u1', 'a', 'n2')]);
  t.true(v.some((m) => /runs on n1 and n2 at once/.test(m)), v.join('\n'));
});

test('twice: one container of a pod running twice on one node (a second sandbox, not adopted)', (t) => {
  const v = twiceViolations([proc(10, 'u1', 'a', 'n1'), proc(11, 'u1', 'a', 'n1')]);
  t.is(v.length, 1);
  t.regex(v[0]!, /container c runs 2 times at once \(process groups 10, 11\)/);
});

test('twice: one pod name running as two pods', (t) => {
  const v = twiceViolations([proc(10, 'u1', 'a', 'n1'), proc(20, 'u2', 'a', 'n2')]);
  t.is(v.length, 1);
  t.regex(v[0]!, /pod name ns\/a runs as 2 pods at once/);
});

test('sandboxes: a stopped one beside a ready one is fine, two ready ones are not', (t) => {
  const sb = (id: string, node: string, state: string) => ({ id, node, state, uid: 'u1', name: 'a', namespace: 'ns' });
  t.deepEqual(sandboxViolations([sb('s1', 'n1', 'notready'), sb('s2', 'n1', 'ready')]), []);
  const v = sandboxViolations([sb('s1', 'n1', 'ready'), sb('s2', 'n2', 'ready')]);
  t.is(v.length, 1);
  t.regex(v[0]!, /2 ready sandboxes: s1 on n1, s2 on n2/);
});

function pod(name: string, node: string | undefined, cpu: string, o: { phase?: string; terminating?: boolean; memory?: string; init?: string } = {}): PlainObject {
  return {
    kind: 'Pod',
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...(o.terminating ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: {
      ...(node ? { nodeName: node } : {}),
      containers: [{ name: 'c', resources: { requests: { cpu, ...(o.memory ? { memory: o.memory } : {}) } } }],
      ...(o.init ? { initContainers: [{ name: 'i', resources: { requests: { cpu: o.init } } }] } : {}),
    },
    status: { phase: o.phase ?? 'Running' },
  };
}

const nodes = new Map<string, Allocatable>([
  ['n1', { cpuMilli: 1000, memoryBytes: 1024 ** 3, pods: 4 }],
  ['n2', { cpuMilli: 1000, memoryBytes: 64 * 1024 ** 2, pods: 10 }],
]);

test('overcommit: within allocatable passes; finished, unbound and other-node pods do not count', (t) => {
  const pods = [
    pod('a', 'n1', '300m'),
    pod('b', 'n1', '300m'),
    pod('c', 'n1', '400m'),
    pod('done', 'n1', '900m', { phase: 'Succeeded' }),
    pod('failed', 'n1', '900m', { phase: 'Failed' }),
    pod('pending', undefined, '900m', { phase: 'Pending' }),
    pod('x', 'n2', '900m'),
    pod('elsewhere', 'n9', '5'),
  ];
  t.deepEqual(overcommitViolations(nodes, pods), []);
});

test('overcommit: cpu over allocatable fails, and terminating pods still hold their requests', (t) => {
  const v = overcommitViolations(nodes, [pod('a', 'n1', '300m'), pod('b', 'n1', '300m'), pod('c', 'n1', '300m'), pod('old', 'n1', '300m', { terminating: true })]);
  t.is(v.length, 1);
  t.regex(v[0]!, /node n1 overcommitted: cpu 1200m > 1000m \(a b c old\)/);
});

test('overcommit: memory and pod count', (t) => {
  const mem = overcommitViolations(nodes, [pod('a', 'n2', '10m', { memory: '40Mi' }), pod('b', 'n2', '10m', { memory: '40Mi' })]);
  t.is(mem.length, 1);
  t.regex(mem[0]!, /memory 83886080 > 67108864 bytes/);
  const count = overcommitViolations(nodes, ['a', 'b', 'c', 'd', 'e'].map((n) => pod(n, 'n1', '0')));
  t.is(count.length, 1);
  t.regex(count[0]!, /5 pods > 4/);
  // Only the nodes asked about.
  t.deepEqual(overcommitViolations(nodes, ['a', 'b', 'c', 'd', 'e'].map((n) => pod(n, 'n1', '0')), new Set(['n2'])), []);
});

test('requests: containers add up, an init container counts by its peak', (t) => {
  t.deepEqual(requestsOf(pod('a', 'n1', '250m', { memory: '1Gi' })), { cpuMilli: 250, memoryBytes: 1024 ** 3 });
  t.is(requestsOf(pod('a', 'n1', '250m', { init: '800m' })).cpuMilli, 800);
  t.is(requestsOf(pod('a', 'n1', '250m', { init: '100m' })).cpuMilli, 250);
});

test('allocatable: from status.allocatable, else capacity', (t) => {
  t.deepEqual(allocatableOf({ status: { allocatable: { cpu: '1', memory: '2Gi', pods: '20' } } }), { cpuMilli: 1000, memoryBytes: 2 * 1024 ** 3, pods: 20 });
  t.deepEqual(allocatableOf({ status: { capacity: { cpu: '1500m' } } }), { cpuMilli: 1500, memoryBytes: Infinity, pods: Infinity });
  t.is(allocatableOf({ status: {} }), undefined);
});

test('convergence per fault: only looks that began after the moment count', (t) => {
  const samples = [
    { start: 0, end: 50, converged: true },
    { start: 100, end: 160, converged: false },
    { start: 300, end: 350, converged: true },
  ];
  t.is(convergedAfter(samples, 10), 340);
  t.is(convergedAfter(samples, 0), 50);
  t.is(convergedAfter(samples, 301), undefined);
});

function deployment(name: string, replicas: number, status: { gen?: number; replicas?: number; updated?: number; available?: number } = {}): PlainObject {
  return {
    kind: 'Deployment',
    metadata: { name, namespace: 'ns', generation: 3 },
    spec: { replicas },
    status: { observedGeneration: status.gen ?? 3, replicas: status.replicas ?? replicas, updatedReplicas: status.updated ?? replicas, availableReplicas: status.available ?? replicas },
  };
}

function node(name: string, ready: boolean): PlainObject {
  return { kind: 'Node', metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown' }] } };
}

function appPod(name: string, app: string, nodeName: string, version: string, o: { ready?: boolean; terminating?: boolean } = {}): PlainObject {
  return {
    kind: 'Pod',
    metadata: { name, namespace: 'ns', labels: { app }, ...(o.terminating ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: { nodeName, containers: [{ name: 'c', env: [{ name: 'VERSION', value: version }] }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

test('converged now: available replicas, no live pod on a down node, every up node Ready', (t) => {
  const ds = [deployment('web', 2)];
  const ns = [node('n1', true), node('n2', false)];
  const ours = ['n1', 'n2'];
  t.deepEqual(convergedNow(ds, [appPod('p1', 'web', 'n1', 'v1'), appPod('p2', 'web', 'n1', 'v1'), appPod('gone', 'web', 'n2', 'v1', { terminating: true })], ns, ours, new Set(['n2'])), []);
  t.true(convergedNow(ds, [appPod('p1', 'web', 'n2', 'v1')], ns, ours, new Set(['n2'])).some((m) => /still on n2/.test(m)));
  t.true(convergedNow(ds, [], ns, ours, new Set()).some((m) => /node n2 not Ready/.test(m)));
  t.true(convergedNow([deployment('web', 2, { available: 1 })], [], [node('n1', true)], ['n1'], new Set()).some((m) => /1\/2 available/.test(m)));
  t.true(convergedNow([deployment('web', 2, { gen: 2 })], [], [node('n1', true)], ['n1'], new Set()).some((m) => /generation not observed/.test(m)));
});

test('final deployment state: exact replicas at the final version, nothing terminating', (t) => {
  const want = [{ name: 'web', replicas: 2, version: 'v2' }];
  const good = [appPod('p1', 'web', 'n1', 'v2'), appPod('p2', 'web', 'n2', 'v2')];
  t.deepEqual(finalDeploymentProblems(want, [deployment('web', 2)], good, new Set()), []);
  // An old pod still there, one of the wrong version, one not ready, one on a down node.
  t.true(finalDeploymentProblems(want, [deployment('web', 2)], [...good, appPod('old', 'web', 'n1', 'v1', { terminating: true })], new Set()).some((m) => /still terminating/.test(m)));
  t.true(finalDeploymentProblems(want, [deployment('web', 2)], [good[0]!, appPod('p3', 'web', 'n1', 'v1')], new Set()).some((m) => /1 running v2 and ready/.test(m)));
  t.true(finalDeploymentProblems(want, [deployment('web', 2)], [good[0]!, appPod('p3', 'web', 'n1', 'v2', { ready: false })], new Set()).some((m) => /not-ready/.test(m)));
  t.true(finalDeploymentProblems(want, [deployment('web', 2)], good, new Set(['n2'])).length > 0);
  t.true(finalDeploymentProblems(want, [deployment('web', 2, { updated: 1 })], good, new Set()).some((m) => /updated 1/.test(m)));
  t.true(finalDeploymentProblems(want, [deployment('web', 3)], good, new Set()).length > 0);
  t.true(finalDeploymentProblems(want, [], good, new Set()).some((m) => /is gone/.test(m)));
});

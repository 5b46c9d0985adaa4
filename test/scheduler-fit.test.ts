import test from 'ava';
import type { PlainObject } from '../src/controllers/types.ts';
import { bindingFits, REASON_PORTS } from '../src/scheduler/fit.ts';
import { seededRandom } from '../src/scheduler/framework.ts';
import { NodePorts, NodeResourcesFit } from '../src/scheduler/plugins/index.ts';
import { podRequests } from '../src/scheduler/resources.ts';
import { cacheOf, node, pod, podInfo, runFilter, type PodOpts } from './scheduler-fixtures.ts';

const on = (name: string, o: PodOpts = {}): PlainObject => pod(name, { uid: name, nodeName: 'n', ...o });

interface Case {
  name: string;
  node: PlainObject;
  pod: PlainObject;
  others: PlainObject[];
  want: string | undefined;
}

const cases: Case[] = [
  { name: 'an empty node', node: node('n'), pod: pod('p', { cpu: '1', memory: '1Gi' }), others: [], want: undefined },
  { name: 'exactly full fits', node: node('n', { cpu: '2' }), pod: pod('p', { cpu: '1' }), others: [on('a', { cpu: '1' })], want: undefined },
  { name: 'one millicore too many', node: node('n', { cpu: '2' }), pod: pod('p', { cpu: '1001m' }), others: [on('a', { cpu: '1' })], want: 'Insufficient cpu' },
  { name: 'memory', node: node('n', { memory: '1Gi' }), pod: pod('p', { memory: '512Mi' }), others: [on('a', { memory: '600Mi' })], want: 'Insufficient memory' },
  {
    name: 'every short resource, in kube-scheduler order',
    node: node('n', { cpu: '1', memory: '1Gi', pods: 1 }),
    pod: pod('p', { cpu: '1', memory: '1Gi' }),
    others: [on('a', { cpu: '500m', memory: '1Mi' })],
    want: 'Too many pods, Insufficient cpu, Insufficient memory',
  },
  { name: 'finished pods hold nothing', node: node('n', { cpu: '1', pods: 1 }), pod: pod('p', { cpu: '1' }), others: [on('a', { cpu: '1', phase: 'Succeeded' }), on('b', { cpu: '1', phase: 'Failed' })], want: undefined },
  { name: 'the pod itself is not counted twice', node: node('n', { cpu: '1' }), pod: pod('p', { uid: 'p', cpu: '1' }), others: [on('p', { cpu: '1' })], want: undefined },
  { name: 'a best-effort pod needs only a slot', node: node('n', { cpu: '0', memory: '0', pods: 2 }), pod: pod('p'), others: [on('a')], want: undefined },
  { name: 'no slot left', node: node('n', { pods: 1 }), pod: pod('p'), others: [on('a')], want: 'Too many pods' },
  { name: 'host port taken', node: node('n'), pod: pod('p', { hostPort: 8080 }), others: [on('a', { hostPort: 8080 })], want: REASON_PORTS },
  { name: 'host port and cpu', node: node('n', { cpu: '1' }), pod: pod('p', { hostPort: 8080, cpu: '1' }), others: [on('a', { hostPort: 8080, cpu: '1' })], want: `Insufficient cpu, ${REASON_PORTS}` },
  {
    name: 'init containers: max(max(init), sum(app))',
    node: node('n', { cpu: '3' }),
    pod: pod('p', {
      containers: [{ name: 'a', image: 'x', resources: { requests: { cpu: '500m' } } }],
      initContainers: [{ name: 'i', image: 'x', resources: { requests: { cpu: '2' } } }],
    }),
    others: [on('a', { cpu: '1500m' })],
    want: 'Insufficient cpu',
  },
  { name: 'extended resources', node: node('n', { extra: { 'vendor.io/gpu': '1' } }), pod: pod('p', { requests: { 'vendor.io/gpu': '1' } }), others: [on('a', { requests: { 'vendor.io/gpu': '1' } })], want: 'Insufficient vendor.io/gpu' },
];

for (const c of cases) {
  test(`bindingFits: ${c.name}`, (t) => {
    t.is(bindingFits(c.node, c.pod, c.others), c.want);
    t.is(bindingFits(c.node, c.pod, c.others), c.want, 'same answer again (cached per object)');
  });
}

test('bindingFits: a node that reports no pod slots has no pod limit', (t) => {
  const n = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, status: { allocatable: { cpu: '1', memory: '1Gi' } } };
  t.is(bindingFits(n, pod('p'), Array.from({ length: 500 }, (_, i) => on(`a${i}`))), undefined);
});

test('pod requests: sidecars, init containers and overhead', (t) => {
  const p = pod('p', {
    containers: [
      { name: 'a', image: 'x', resources: { requests: { cpu: '1', memory: '1Gi' } } },
      { name: 'b', image: 'x' },
    ],
    initContainers: [
      { name: 'side', image: 'x', restartPolicy: 'Always', resources: { requests: { cpu: '200m', memory: '100Mi' } } },
      { name: 'init', image: 'x', resources: { requests: { cpu: '3', memory: '10Mi' } } },
    ],
  });
  (p.spec as Record<string, unknown>).overhead = { cpu: '50m' };
  const r = podRequests(p);
  t.is(r.cpu, 3200 + 50); // max(1 + 0.2, 3 + 0.2) + overhead
  t.is(r.memory, 1024 ** 3 + 100 * 1024 ** 2);
  t.is(r.nonZeroCpu, Math.max(1000 + 100 + 200, 3200) + 50);
  t.is(r.nonZeroMemory, 1024 ** 3 + 200 * 1024 ** 2 + 100 * 1024 ** 2);
  t.false(r.empty);
});

test('bindingFits agrees with the scheduler filters (NodeResourcesFit + NodePorts) on generated cases', (t) => {
  const rnd = seededRandom(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const cpus = ['', '100m', '250m', '500m', '1', '1500m'];
  const mems = ['', '64Mi', '256Mi', '1Gi'];
  const ports = [0, 0, 0, 80, 443];
  let refused = 0;
  for (let i = 0; i < 300; i++) {
    const n = node('n', { cpu: pick(['1', '2', '3']), memory: pick(['1Gi', '2Gi']), pods: pick([2, 4, 8]) });
    const opts = (): PodOpts => {
      const o: PodOpts = {};
      const c = pick(cpus);
      const m = pick(mems);
      const hp = pick(ports);
      if (c) o.cpu = c;
      if (m) o.memory = m;
      if (hp) o.hostPort = hp;
      if (rnd() < 0.1) o.phase = 'Succeeded';
      return o;
    };
    const others = Array.from({ length: Math.floor(rnd() * 6) }, (_, j) => on(`o${j}`, opts()));
    const o = opts();
    delete o.phase;
    const p = pod('p', o);
    const viaStore = bindingFits(n, p, others);
    const cache = cacheOf([n], others.filter((x) => (x.status as { phase?: string } | undefined)?.phase === undefined));
    const info = podInfo('p', o);
    const r1 = runFilter(new NodeResourcesFit(), info, cache).n;
    const r2 = runFilter(NodePorts, info, cache).n;
    const viaFilters = [...(r1 === undefined ? [] : typeof r1 === 'string' ? [r1] : r1), ...(r2 === undefined ? [] : [r2])];
    t.is(viaStore, viaFilters.length === 0 ? undefined : viaFilters.join(', '), `case ${i}`);
    if (viaStore !== undefined) refused++;
  }
  t.true(refused > 30 && refused < 270, `both outcomes are exercised (${refused}/300 refused)`);
});

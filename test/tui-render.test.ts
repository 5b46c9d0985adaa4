/**
 * The TUI rendered by ink onto a fake terminal (a stdout that keeps frames, a stdin that
 * types), over an in-memory cluster: every view, the drill-down from a Deployment to its
 * containers' logs, the text views, prompts, reconnects, and 10,000 pods drawn as one
 * screenful.
 */
import test from 'ava';
import { FakeTimers } from '../src/tui/clock.ts';
import { Controller } from '../src/tui/controller.ts';
import { mount as mountUi } from '../src/tui/mount.tsx';
import { FakeClient, FakeStdin, FakeStdout, replicaStatus } from '../src/tui/testing.ts';

const T0 = Date.parse('2025-01-01T01:00:00Z');

function fixture(c: FakeClient): void {
  c.statuses = [1, 2, 3].map((i) => replicaStatus(i, 2, 7, c.endpoints));
  for (const ns of ['default', 'shop', 'kube-system']) c.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, status: { phase: 'Active' } });
  c.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', labels: { 'node-role.kubernetes.io/worker': '' } }, spec: {}, status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.31-berth' } } });
  c.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-2' }, spec: { unschedulable: true }, status: { allocatable: { cpu: '2', memory: '4Gi' }, conditions: [{ type: 'Ready', status: 'False' }] } });
  c.put({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', uid: 'd-web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }, { name: 'log', image: 'busybox' }] } } }, status: { replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } });
  c.put({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-7f9', namespace: 'shop', uid: 'rs-web', annotations: { 'deployment.kubernetes.io/revision': '1' }, ownerReferences: [{ kind: 'Deployment', name: 'web', uid: 'd-web', controller: true }] }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } } }, status: { replicas: 2, readyReplicas: 1 } });
  c.put({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'other-1', namespace: 'shop', uid: 'rs-other' }, spec: { replicas: 1 }, status: { replicas: 1, readyReplicas: 1 } });
  for (const [i, phase] of [[1, 'Running'], [2, 'Pending']] as const) {
    c.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `web-7f9-${i}`, namespace: 'shop', uid: `p${i}`, labels: { app: 'web' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7f9', uid: 'rs-web', controller: true }] },
      spec: { nodeName: 'node-1', containers: [{ name: 'web', image: 'nginx:1.27', resources: { requests: { cpu: '500m', memory: '1Gi' } } }, { name: 'log', image: 'busybox' }] },
      status: { phase, podIP: `10.1.0.${i}`, containerStatuses: [{ name: 'web', ready: phase === 'Running', restartCount: 0, state: phase === 'Running' ? { running: { startedAt: '2025-01-01T00:30:00Z' } } : { waiting: { reason: 'ContainerCreating' } } }] },
    });
  }
  c.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', namespace: 'default', uid: 'solo' }, spec: { containers: [{ name: 'app', image: 'busybox' }] }, status: { phase: 'Pending' } });
  c.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'coredns', namespace: 'kube-system', uid: 'dns' }, spec: { nodeName: 'node-1', containers: [{ name: 'dns', image: 'coredns' }] }, status: { phase: 'Running' } });
  c.put({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'pi', namespace: 'shop', uid: 'job-pi' }, spec: { completions: 1 }, status: { succeeded: 1, startTime: '2025-01-01T00:00:00Z', completionTime: '2025-01-01T00:00:30Z', conditions: [{ type: 'Complete', status: 'True' }] } });
  c.put({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP' }] } });
  c.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config', namespace: 'shop' }, data: { greeting: 'hello', mode: 'fast' } });
  c.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop' }, type: 'Opaque', data: { password: Buffer.from('hunter2').toString('base64') } });
  c.put({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'web.1', namespace: 'shop' }, involvedObject: { kind: 'Pod', name: 'web-7f9-2', namespace: 'shop', uid: 'p2' }, type: 'Warning', reason: 'FailedScheduling', message: '0/2 nodes are available', lastTimestamp: '2025-01-01T00:59:00Z', source: { component: 'scheduler' } });
  c.put({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'web.2', namespace: 'shop' }, involvedObject: { kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'd-web' }, type: 'Normal', reason: 'ScalingReplicaSet', message: 'Scaled up replica set web-7f9 to 2', lastTimestamp: '2025-01-01T00:58:00Z' });
  c.logLines = ['starting nginx', 'listening on :80'];
}

const flush = () => new Promise((r) => setImmediate(r));

interface Mounted {
  client: FakeClient;
  controller: Controller;
  timers: FakeTimers;
  stdout: FakeStdout;
  frame(): string;
  type(...keys: string[]): Promise<string>;
  settle(): Promise<void>;
  close(): void;
}

async function mount(opts: { view?: string; namespace?: string; width?: number; height?: number; setup?: (c: FakeClient) => void } = {}): Promise<Mounted> {
  const client = new FakeClient();
  (opts.setup ?? fixture)(client);
  const timers = new FakeTimers(T0);
  const width = opts.width ?? 140;
  const height = opts.height ?? 24;
  const stdout = new FakeStdout(width, height);
  const stdin = new FakeStdin();
  const controller = new Controller({ client, timers, context: 'test', namespace: opts.namespace ?? 'shop', ...(opts.view ? { view: opts.view } : {}), width, height, tickMs: 0 });
  const ui = mountUi(controller, { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, debug: true, patchConsole: false, exitOnCtrlC: false });
  controller.start();
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await flush();
      timers.advance(60);
    }
    await flush();
  };
  await settle();
  return {
    client,
    controller,
    timers,
    stdout,
    frame: () => stdout.last,
    settle,
    async type(...keys: string[]) {
      for (const k of keys) {
        stdin.type(k);
        await settle();
      }
      return stdout.last;
    },
    close() {
      ui.unmount();
      controller.stop();
    },
  };
}

function rowOf(frame: string, text: string): string {
  return frame.split('\n').find((l) => l.includes(text)) ?? '';
}

test('header: context, endpoint, leader and term, namespace; pods with kubectl\'s columns', async (t) => {
  const m = await mount();
  const f = m.frame();
  t.regex(f, /Context: test {3}Endpoint: 127\.0\.0\.1:7001 {3}Leader: 2 \(127\.0\.0\.1:7002\) {3}Term: 7 {3}Namespace: shop/);
  t.regex(f, /Pods\(shop\)\[2\] sort:NAME↑/);
  t.regex(rowOf(f, ' NAME '), /NAME +READY +STATUS +RESTARTS +IP +NODE +AGE/);
  t.regex(rowOf(f, 'web-7f9-1'), /web-7f9-1 +1\/2 +Running +0 +10\.1\.0\.1 +node-1 +60m/);
  t.regex(rowOf(f, 'web-7f9-2'), /web-7f9-2 +0\/2 +ContainerCreating/);
  t.false(f.includes('solo'), 'other namespaces are not shown');
  // The cursor is marked (for terminals without colours) and moves with j.
  t.regex(f, /^>web-7f9-1 /m);
  t.regex(await m.type('j'), /^>web-7f9-2 /m);
  await m.type('k');
  // Lines are painted by tone: the Running pod cyan, the pending one yellow, the cursor inverted.
  const lines = m.controller.screen().lines;
  t.like(lines.find((l) => l.text.includes('web-7f9-1')), { tone: 'warn', inverse: true });
  t.like(lines.find((l) => l.text.includes('web-7f9-2')), { tone: 'warn' });
  m.close();
});

test('every view draws its table: deploy, rs, jobs, svc, cm, secrets, events, nodes, ns, cluster', async (t) => {
  const m = await mount();
  const expect: [string, RegExp, RegExp][] = [
    ['deploy', /Deployments\(shop\)\[1\]/, /web +1\/2 +1 +1 +█████░░░░░ 1\/2 +60m/],
    ['rs', /ReplicaSets\(shop\)\[2\]/, /web-7f9 +2 +2 +1 +60m/],
    ['jobs', /Jobs\(shop\)\[1\]/, /pi +Complete +1\/1 +30s +60m/],
    ['svc', /Services\(shop\)\[1\]/, /web +ClusterIP +10\.96\.0\.10 +<none> +80\/TCP +60m/],
    ['cm', /ConfigMaps\(shop\)\[1\]/, /web-config +2 +60m/],
    ['secrets', /Secrets\(shop\)\[1\]/, /db +Opaque +1 +60m/],
    ['events', /Events\(shop\)\[2\] sort:LAST SEEN↑/, /\d+s +Warning +FailedScheduling +pod\/web-7f9-2 +0\/2 nodes are available/],
    ['nodes', /Nodes\[2\]/, /node-1 +Ready +worker +3 +██▌?░*.* +25% 1000m\/4000m +███░░░░░░░ +25% 2Gi\/8Gi/],
    ['ns', /Namespaces\[3\]/, /kube-system +Active +60m/],
    ['cluster', /Cluster\[3\]/, /2 +leader +7 +42 +42 +0 +\* +127\.0\.0\.1:7002 +127\.0\.0\.1:9002 +ok \d+ms/],
  ];
  for (const [alias, title, row] of expect) {
    const f = await m.type(`:${alias}\r`);
    t.regex(f, title, alias);
    t.regex(f, row, alias);
  }
  // Events: the newest first; nodes: a cordoned, not-ready node.
  const ev = await m.type(':ev\r');
  t.true(ev.indexOf('FailedScheduling') < ev.indexOf('ScalingReplicaSet'));
  t.regex(await m.type(':no\r'), /node-2 +NotReady,SchedulingDisabled +<none> +0 +░{10} +0% 0m\/2000m/);
  m.close();
});

test('enter drills from a Deployment to its ReplicaSets, their pods, a pod\'s containers and a container\'s logs; esc climbs back', async (t) => {
  const m = await mount();
  await m.type(':deploy\r');
  let f = await m.type('\r');
  t.regex(f, /ReplicaSets\(deployment shop\/web\)\[1\]/);
  t.false(f.includes('other-1'));
  f = await m.type('\r');
  t.regex(f, /Pods\(replicaset shop\/web-7f9\)\[2\]/);
  t.regex(f, /Deployments › ReplicaSets\(deployment shop\/web\) › Pods\(replicaset shop\/web-7f9\)/);
  f = await m.type('j', '\r');
  t.regex(f, /Containers\(pod shop\/web-7f9-2\)\[2\]/);
  t.regex(rowOf(f, 'nginx:1.27'), /web +false +nginx:1\.27 +false +Waiting: ContainerCreating +0 +-/);
  t.regex(rowOf(f, 'busybox'), /log +false +busybox +false +Pending/);
  f = await m.type('l');
  t.regex(f, /Logs: shop\/web-7f9-2 \[web\] +follow on · wrap off · timestamps off · tail 100/);
  t.true(f.includes('starting nginx') && f.includes('listening on :80'));
  t.true(m.client.calls.includes('logs shop/web-7f9-2 web tail=100'));
  m.client.emitLog('GET / 200\n');
  f = (await m.settle(), m.frame());
  t.true(f.includes('GET / 200'));
  f = await m.type('\u001b');
  t.regex(f, /Containers\(pod shop\/web-7f9-2\)/);
  await m.type('\u001b', '\u001b');
  t.regex(await m.type('\u001b'), /Deployments\(shop\)\[1\]/);
  m.close();
});

test('services lead to their pods, nodes to theirs (every namespace), namespaces switch the pods view', async (t) => {
  const m = await mount();
  await m.type(':svc\r');
  t.regex(await m.type('\r'), /Pods\(service shop\/web\)\[2\]/);
  await m.type(':nodes\r');
  const f = await m.type('\r');
  t.regex(f, /Pods\(node node-1\)\[3\]/);
  t.regex(rowOf(f, 'coredns'), /kube-system +coredns/);
  await m.type(':ns\r');
  const ns = await m.type('j', '\r');
  t.regex(ns, /Pods\(kube-system\)\[1\]/);
  t.regex(ns, /Namespace: kube-system/);
  t.regex(await m.type('0'), /Pods\(all\)\[4\]/);
  m.close();
});

test('filters: regex, inverse, labels; the title shows the filter', async (t) => {
  const m = await mount({ namespace: '' });
  let f = await m.type('/', 'w', 'e', 'b');
  t.regex(f, /Pods\(all\)\[2\] <\/web>/);
  t.regex(f, /\/web▏/);
  f = await m.type('\r');
  t.false(f.includes('coredns'));
  f = await m.type('/', '\u007f', '\u007f', '\u007f', '!', 'w', 'e', 'b', '\r');
  t.regex(f, /Pods\(all\)\[2\] <\/!web>/);
  t.true(f.includes('coredns') && f.includes('solo'));
  f = await m.type('/', '\u0015', ...'-l app=web', '\r');
  t.regex(f, /Pods\(all\)\[2\] <\/-l app=web>/);
  f = await m.type('/', '\u0015', ...'nomatch', '\r');
  t.regex(f, /No pods match the filter/);
  t.regex(await m.type('\u001b'), /Pods\(all\)\[4\]/);
  m.close();
});

test('sorting by status and by age, reversed by pressing again', async (t) => {
  const m = await mount({ namespace: '' });
  let f = await m.type('S');
  t.regex(f, /sort:STATUS↑/);
  t.true(f.indexOf('web-7f9-2') < f.indexOf('web-7f9-1'), 'ContainerCreating before Pending before Running');
  f = await m.type('S');
  t.regex(f, /sort:STATUS↓/);
  t.true(f.indexOf('web-7f9-1') < f.indexOf('web-7f9-2'));
  t.regex(await m.type('A'), /sort:AGE↑/);
  t.regex(await m.type('N'), /sort:NAME↑/);
  m.close();
});

test('describe, YAML and secrets: values hidden until x', async (t) => {
  const m = await mount();
  let f = await m.type('j', 'd');
  t.regex(f, /Describe: pod\/shop\/web-7f9-2/);
  t.regex(f, /Node: +node-1/);
  t.regex(await m.type('G'), /Warning +FailedScheduling +\S+ +scheduler +0\/2 nodes are available/);
  f = await m.type('q', 'y');
  t.regex(f, /YAML: pod\/shop\/web-7f9-2/);
  t.regex(f, /kind: Pod/);
  await m.type('q', ':secrets\r');
  f = await m.type('y');
  t.regex(f, /values hidden · x: reveal/);
  t.false(f.includes('hunter2'));
  t.regex(f, /password: "<hidden: 7 bytes; press x to reveal>"/);
  f = await m.type('x');
  t.regex(f, /values REVEALED/);
  t.regex(f, /password: hunter2/);
  f = await m.type('q', 'd');
  t.regex(f, /password: +7 bytes/);
  t.false(f.includes('hunter2'));
  m.close();
});

test('help lists the keys of the view it was opened on', async (t) => {
  const m = await mount();
  await m.type(':deploy\r');
  const f = await m.type('?');
  t.regex(f, /Help: Deployments/);
  for (const s of ['s  ', 'Scale', 'ctrl-l', 'Roll back to the previous revision', 'Rollout restart', 'ctrl-d', 'Delete (asks first)', 'by NAME', 'by AGE']) t.true(f.includes(s), s);
  t.regex(await m.type('?'), /Deployments\(shop\)\[1\]/);
  m.close();
});

test('scale, restart, rollback and delete ask, then call the API; the result is flashed', async (t) => {
  const m = await mount();
  await m.type(':deploy\r');
  let f = await m.type('s');
  t.regex(f, /Scale deployment web to replicas: 2▏/);
  f = await m.type('\u007f', '5', '\r');
  t.regex(f, /deployment\/web scaled to 5/);
  t.is(((await m.client.get('Deployment', 'shop', 'web')).spec as { replicas: number }).replicas, 5);
  t.regex(await m.type('r'), /Restart deployment shop\/web\? +\(y: yes, any other key: no\)/);
  t.regex(await m.type('y'), /deployment\/web restarted/);
  t.regex(await m.type('\u000c'), /Roll deployment shop\/web back to its previous revision\?/);
  t.regex(await m.type('n'), /Cancelled/);
  t.regex(await m.type('\u0004'), /Delete deployment shop\/web\?/);
  f = await m.type('y');
  t.regex(f, /deployment\/web deleted/);
  t.regex(f, /Deployments\(shop\)\[0\]/);
  // The message goes away after a while.
  m.timers.advance(5000);
  await m.settle();
  t.false(m.frame().includes('deleted'));
  m.close();
});

test('cordon on nodes and leadership transfer on the cluster view', async (t) => {
  const m = await mount();
  await m.type(':nodes\r');
  t.regex(await m.type('c'), /node\/node-1 cordoned/);
  t.regex(m.frame(), /node-1 +Ready,SchedulingDisabled/);
  await m.type(':cluster\r');
  t.regex(await m.type('t'), /Transfer leadership to replica 1\?/);
  t.regex(await m.type('y'), /replica 1 now leads/);
  t.true(m.client.calls.includes('transferLeader 1'));
  t.regex(await m.type('y'), /Replica 1/);
  t.regex(m.frame(), /id: 1\n/);
  m.close();
});

test('a broken watch shows the reconnect, then the endpoint it resumed on; changes made meanwhile arrive', async (t) => {
  const m = await mount();
  m.client.breakWatches(14, 'Connection dropped');
  await flush();
  m.controller.screen();
  m.client.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-new', namespace: 'shop' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Pending' } });
  const down = m.controller.screen().lines[1]!.text;
  t.regex(down, /pods stream from 127\.0\.0\.1:7001 lost \(Connection dropped\); reconnecting in 1s \(attempt 1\)/);
  await m.settle();
  await m.settle();
  const f = m.frame();
  t.regex(f, /Endpoint: 127\.0\.0\.1:7002/);
  t.regex(f, /web-new/);
  m.close();
});

test('10,000 pods: one screenful is drawn; G jumps to the last; updates show in place', async (t) => {
  const m = await mount({
    namespace: 'bulk',
    setup: (c) => {
      c.statuses = [replicaStatus(1, 1, 1, c.endpoints)];
      for (let i = 0; i < 10_000; i++) c.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod-${String(i).padStart(5, '0')}`, namespace: 'bulk' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Pending' } });
    },
  });
  let f = m.frame();
  t.regex(f, /Pods\(bulk\)\[10000\]/);
  const rows = f.split('\n').filter((l) => /^[ >]pod-\d{5} /.test(l));
  t.is(rows.length, 24 - 1 - 4 - 1);
  f = await m.type('G');
  t.regex(f, /pod-09999/);
  t.false(f.includes('pod-00000'));
  m.client.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod-09998', namespace: 'bulk' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Running', podIP: '10.9.9.9' } });
  await m.settle();
  t.regex(rowOf(m.frame(), 'pod-09998'), /10\.9\.9\.9/);
  m.close();
});

test('the screen follows the terminal size', async (t) => {
  const m = await mount({ width: 100, height: 20 });
  m.stdout.resize(60, 12);
  await m.settle();
  const lines = m.frame().split('\n');
  t.true(lines.every((l) => [...l].length <= 60), 'no line wider than the terminal');
  t.is(lines.length, 11);
  m.close();
});

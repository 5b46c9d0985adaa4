import test from 'ava';
import { status } from '@grpc/grpc-js';
import { lookupKind, parseManifests, type KindInfo } from '../src/api/index.ts';
import { ApiCallError } from '../src/client/client.ts';
import { age, humanDuration } from '../src/cli/output/age.ts';
import {
  formatEndpoints,
  formatHpaTargets,
  formatLabels,
  jobStatus,
  nodeRoles,
  nodeStatus,
  podSummary,
  servicePorts,
  serviceExternalIP,
  tableHeaders,
  tableRows,
} from '../src/cli/output/columns.ts';
import { formatError, formatInvalid, parseInvalid, qualifyMessage } from '../src/cli/output/errors.ts';
import { listOf, objectRef, resourceName, toJson, toYaml } from '../src/cli/output/format.ts';
import { layoutTable, renderTable, visibleWidth } from '../src/cli/output/table.ts';
import { mergeStatuses, statusTable, type EndpointStatus } from '../src/cli/commands/cluster.ts';
import type { ClusterStatus } from '../src/client/client.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const NOW = Date.parse('2025-06-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const kind = (name: string): KindInfo => lookupKind(name)!;

test('ages as kubectl prints them', (t) => {
  const cases: [number, string][] = [
    [-5 * S, '<invalid>'],
    [-900, '0s'],
    [0, '0s'],
    [59 * S, '59s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [5 * M + 12 * S, '5m12s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 20 * M, '3h20m'],
    [8 * H + 30 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [3 * D + 4 * H, '3d4h'],
    [8 * D, '8d'],
    [400 * D, '400d'],
    [2 * 365 * D, '2y'],
    [2 * 365 * D + 40 * D, '2y40d'],
    [9 * 365 * D, '9y'],
  ];
  for (const [ms, want] of cases) t.is(humanDuration(ms), want, `${ms} ms`);
  t.is(age(ago(5 * M + 12 * S), NOW), '5m12s');
  t.is(age(undefined, NOW), '<unknown>');
  t.is(age('not a time', NOW), '<unknown>');
});

test('tables: columns as wide as their widest cell plus three, at least six; the last unpadded', (t) => {
  const rows = [
    ['NAME', 'DATA', 'AGE'],
    ['web', '1', '5m'],
    ['a-much-longer-name', '12', '3d4h'],
  ];
  t.deepEqual(layoutTable(rows), [
    'NAME                 DATA   AGE',
    'web                  1      5m',
    'a-much-longer-name   12     3d4h',
  ]);
  t.deepEqual(layoutTable([['A', 'B'], ['x', 'y']]), ['A     B', 'x     y']);
  t.is(renderTable([]), '');
  t.is(visibleWidth('\u001b[32mleader\u001b[39m'), 6);
  t.deepEqual(layoutTable([['\u001b[32mID\u001b[39m', 'X']]), ['\u001b[32mID\u001b[39m    X']);
});

const pod = (over: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'default', creationTimestamp: ago(5 * M + 12 * S), labels: { app: 'web', tier: 'front' } },
  spec: { containers: [{ name: 'web', image: 'nginx' }, { name: 'log', image: 'busybox' }], nodeName: 'node-a' },
  status: {
    phase: 'Running',
    podIP: '10.1.0.7',
    podIPs: [{ ip: '10.1.0.7' }],
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [
      { name: 'web', ready: true, restartCount: 2, state: { running: {} }, lastState: { terminated: { exitCode: 1, finishedAt: ago(3 * M) } } },
      { name: 'log', ready: true, restartCount: 0, state: { running: {} } },
    ],
  },
  ...over,
});

test('pods: READY, STATUS, RESTARTS (with the last restart), wide columns', (t) => {
  const rows = tableRows(kind('po'), [pod()], { now: NOW, wide: true });
  t.deepEqual(rows, [
    ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
    ['web-1', '2/2', 'Running', '2 (3m ago)', '5m12s', '10.1.0.7', 'node-a', '<none>', '<none>'],
  ]);
  const pending = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', creationTimestamp: ago(10 * S) }, spec: { containers: [{ name: 'a' }] }, status: { phase: 'Pending' } };
  t.deepEqual(tableRows(kind('pods'), [pending], { now: NOW, noHeaders: true }), [['p', '0/1', 'Pending', '0', '10s']]);
  t.deepEqual(tableRows(kind('pods'), [pending], { now: NOW, wide: true, noHeaders: true })[0]!.slice(5), ['<none>', '<none>', '<none>', '<none>']);
});

test('pod status reasons: waiting, terminated, init containers, terminating', (t) => {
  const waiting = pod({
    status: {
      phase: 'Pending',
      containerStatuses: [
        { name: 'web', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } },
        { name: 'log', ready: true, restartCount: 0, state: { running: {} } },
      ],
    },
  });
  t.like(podSummary(waiting, NOW), { ready: '1/2', status: 'CrashLoopBackOff', restarts: '4' });
  const exited = pod({ status: { phase: 'Failed', containerStatuses: [{ name: 'web', ready: false, restartCount: 0, state: { terminated: { exitCode: 137 } } }] } });
  t.is(podSummary(exited, NOW).status, 'ExitCode:137');
  const signalled = pod({ status: { phase: 'Failed', containerStatuses: [{ name: 'web', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, signal: 9 } } }] } });
  t.is(podSummary(signalled, NOW).status, 'Signal:9');
  const init = pod({
    spec: { initContainers: [{ name: 'migrate', image: 'x' }, { name: 'warm', image: 'y' }], containers: [{ name: 'web', image: 'nginx' }] },
    status: {
      phase: 'Pending',
      initContainerStatuses: [
        { name: 'migrate', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } },
        { name: 'warm', ready: false, restartCount: 0, state: { running: {} } },
      ],
    },
  });
  t.like(podSummary(init, NOW), { ready: '0/1', status: 'Init:1/2' });
  const initFailed = pod({
    spec: { initContainers: [{ name: 'migrate', image: 'x' }], containers: [{ name: 'web', image: 'nginx' }] },
    status: { phase: 'Pending', initContainerStatuses: [{ name: 'migrate', ready: false, restartCount: 3, state: { terminated: { exitCode: 2, reason: 'Error' } } }] },
  });
  t.like(podSummary(initFailed, NOW), { status: 'Init:Error', restarts: '3' });
  const sidecar = pod({
    spec: { initContainers: [{ name: 'proxy', image: 'envoy', restartPolicy: 'Always' }], containers: [{ name: 'web', image: 'nginx' }] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Initialized', status: 'True' }],
      initContainerStatuses: [{ name: 'proxy', ready: true, started: true, restartCount: 0, state: { running: {} } }],
      containerStatuses: [{ name: 'web', ready: true, restartCount: 0, state: { running: {} } }],
    },
  });
  t.like(podSummary(sidecar, NOW), { ready: '2/2', status: 'Running' });
  const deleting = pod({ metadata: { name: 'x', deletionTimestamp: ago(S) } });
  t.is(podSummary(deleting, NOW).status, 'Terminating');
  const gated = pod({ status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] } });
  t.is(podSummary(gated, NOW).status, 'SchedulingGated');
});

test('deployments, replica sets', (t) => {
  const d = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', creationTimestamp: ago(3 * H) },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }, { name: 'side', image: 'busybox' }] } } },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  };
  t.deepEqual(tableRows(kind('deploy'), [d], { now: NOW, wide: true }), [
    ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR'],
    ['web', '2/3', '3', '2', '3h', 'web,side', 'nginx:1.27,busybox', 'app=web'],
  ]);
  const rs = { ...d, kind: 'ReplicaSet', metadata: { name: 'web-5d8f', creationTimestamp: ago(2 * D) }, status: { replicas: 3, readyReplicas: 1 } };
  t.deepEqual(tableRows(kind('rs'), [rs], { now: NOW }), [
    ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    ['web-5d8f', '3', '3', '1', '2d'],
  ]);
});

test('jobs and cron jobs', (t) => {
  const job = (spec: Record<string, unknown>, st: Record<string, unknown>) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', creationTimestamp: ago(10 * M) },
    spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl' }] } }, ...spec },
    status: st,
  });
  const done = job({ completions: 1 }, { succeeded: 1, startTime: ago(10 * M), completionTime: ago(10 * M - 42 * S), conditions: [{ type: 'Complete', status: 'True' }] });
  t.deepEqual(tableRows(kind('jobs'), [done], { now: NOW }), [
    ['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE'],
    ['pi', 'Complete', '1/1', '42s', '10m'],
  ]);
  const running = job({ parallelism: 3 }, { startTime: ago(2 * M) });
  t.deepEqual(tableRows(kind('jobs'), [running], { now: NOW, noHeaders: true }), [['pi', 'Running', '0/1 of 3', '2m', '10m']]);
  t.is(jobStatus(job({}, { conditions: [{ type: 'Failed', status: 'True' }] })), 'Failed');
  t.is(jobStatus(job({}, { conditions: [{ type: 'Suspended', status: 'True' }] })), 'Suspended');
  t.deepEqual(tableRows(kind('jobs'), [job({}, {})], { now: NOW, noHeaders: true }), [['pi', 'Running', '0/1', '', '10m']]);

  const cj = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'backup', creationTimestamp: ago(3 * D) },
    spec: { schedule: '*/5 * * * *', suspend: false, jobTemplate: { spec: { template: { spec: { containers: [{ name: 'b', image: 'restic' }] } } } } },
    status: { active: [{ name: 'backup-1' }], lastScheduleTime: ago(4 * M) },
  };
  t.deepEqual(tableRows(kind('cj'), [cj], { now: NOW }), [
    ['NAME', 'SCHEDULE', 'TIMEZONE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'AGE'],
    ['backup', '*/5 * * * *', '<none>', 'False', '1', '4m', '3d'],
  ]);
});

test('services and endpoints', (t) => {
  const svc = (spec: Record<string, unknown>, st: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', creationTimestamp: ago(M) }, spec, status: st });
  t.deepEqual(tableRows(kind('svc'), [svc({ type: 'ClusterIP', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }], selector: { app: 'web' } })], { now: NOW, wide: true }), [
    ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR'],
    ['web', 'ClusterIP', '10.96.0.10', '<none>', '80/TCP,53/UDP', '60s', 'app=web'],
  ]);
  t.is(servicePorts(svc({ type: 'NodePort', ports: [{ port: 443, nodePort: 30443 }] })), '443:30443/TCP');
  t.is(servicePorts(svc({})), '<none>');
  t.is(serviceExternalIP(svc({ type: 'LoadBalancer' }), false), '<pending>');
  t.is(serviceExternalIP(svc({ type: 'LoadBalancer' }, { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } }), false), '203.0.113.9');
  t.is(serviceExternalIP(svc({ type: 'ExternalName', externalName: 'db.example.com' }), false), 'db.example.com');
  t.is(serviceExternalIP(svc({ type: 'NodePort', externalIPs: ['1.2.3.4'] }), false), '1.2.3.4');

  const ep = (subsets: unknown) => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web' }, subsets });
  t.is(formatEndpoints(ep(undefined)), '<none>');
  t.is(formatEndpoints(ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ port: 80 }] }])), '10.0.0.1:80,10.0.0.2:80');
  t.is(
    formatEndpoints(ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }], ports: [{ port: 80 }, { port: 443 }] }])),
    '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...',
  );
  t.is(formatEndpoints(ep([{ addresses: [{ ip: '10.0.0.1' }] }])), '10.0.0.1');
});

test('config maps, secrets, namespaces, nodes', (t) => {
  const now = { now: NOW, noHeaders: true };
  t.deepEqual(tableHeaders(kind('cm'), {}), ['NAME', 'DATA', 'AGE']);
  t.deepEqual(tableRows(kind('cm'), [{ kind: 'ConfigMap', metadata: { name: 'c', creationTimestamp: ago(S) }, data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }], now), [['c', '3', '1s']]);
  t.deepEqual(tableHeaders(kind('secrets'), {}), ['NAME', 'TYPE', 'DATA', 'AGE']);
  t.deepEqual(tableRows(kind('secret'), [{ kind: 'Secret', metadata: { name: 's', creationTimestamp: ago(S) }, type: 'kubernetes.io/tls', data: { a: 'eA==' } }], now), [['s', 'kubernetes.io/tls', '1', '1s']]);
  t.deepEqual(tableRows(kind('ns'), [{ kind: 'Namespace', metadata: { name: 'default', creationTimestamp: ago(2 * D) }, status: { phase: 'Active' } }], now), [['default', 'Active', '2d']]);
  const node = {
    kind: 'Node',
    metadata: { name: 'n1', creationTimestamp: ago(D), labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'edge' } },
    spec: { unschedulable: true },
    status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'berth-0.1.0' }, addresses: [{ type: 'InternalIP', address: '192.168.1.5' }] },
  };
  t.is(nodeStatus(node), 'Ready,SchedulingDisabled');
  t.is(nodeRoles(node), 'control-plane,edge');
  t.is(nodeStatus({ status: {} }), 'Unknown');
  t.is(nodeStatus({ status: { conditions: [{ type: 'Ready', status: 'False' }] } }), 'NotReady');
  t.deepEqual(tableRows(kind('no'), [node], { now: NOW, wide: true }), [
    ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
    ['n1', 'Ready,SchedulingDisabled', 'control-plane,edge', '24h', 'berth-0.1.0', '192.168.1.5', '<none>', '<unknown>', '<unknown>', '<unknown>'],
  ]);
});

test('events and autoscalers', (t) => {
  const ev = {
    kind: 'Event',
    metadata: { name: 'web-1.17a', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-1', fieldPath: 'spec.containers{web}' },
    reason: 'Pulled',
    message: 'Container image "nginx" already present\n',
    type: 'Normal',
    firstTimestamp: ago(10 * M),
    lastTimestamp: ago(2 * M),
    count: 4,
    source: { component: 'agent', host: 'node-a' },
  };
  t.deepEqual(tableRows(kind('ev'), [ev], { now: NOW, withNamespace: true }), [
    ['NAMESPACE', 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
    ['default', '2m', 'Normal', 'Pulled', 'pod/web-1', 'Container image "nginx" already present'],
  ]);
  t.deepEqual(tableRows(kind('ev'), [ev], { now: NOW, wide: true, noHeaders: true }), [
    ['2m', 'Normal', 'Pulled', 'pod/web-1', 'spec.containers{web}', 'agent, node-a', 'Container image "nginx" already present', '10m', '4', 'web-1.17a'],
  ]);

  const hpa = {
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', creationTimestamp: ago(H) },
    spec: {
      scaleTargetRef: { kind: 'Deployment', name: 'web', apiVersion: 'apps/v1' },
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
    },
    status: { currentReplicas: 3, desiredReplicas: 3, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 41 } } }] },
  };
  t.deepEqual(tableRows(kind('hpa'), [hpa], { now: NOW }), [
    ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE'],
    ['web', 'Deployment/web', 'cpu: 41%/80%', '2', '10', '3', '60m'],
  ]);
  const noStatus = { ...hpa, spec: { ...hpa.spec, minReplicas: undefined }, status: {} };
  t.is(formatHpaTargets(noStatus), 'cpu: <unknown>/80%');
  t.deepEqual(tableRows(kind('hpa'), [noStatus], { now: NOW, noHeaders: true })[0]!.slice(3, 6), ['<unset>', '10', '0']);
  const many = {
    spec: {
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { averageUtilization: 80 } } },
        { type: 'Resource', resource: { name: 'memory', target: { averageValue: '500Mi' } } },
        { type: 'Pods', pods: { metric: { name: 'qps' }, target: { averageValue: '10' } } },
      ],
    },
  };
  t.is(formatHpaTargets(many), 'cpu: <unknown>/80%, memory: <unknown>/500Mi + 1 more...');
});

test('NAMESPACE first with -A, kind-qualified names, labels, label columns', (t) => {
  const objs = [
    { kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', creationTimestamp: ago(M), labels: { app: 'web', 'app.kubernetes.io/tier': 'front' } }, spec: { replicas: 1 }, status: {} },
  ];
  t.deepEqual(tableRows(kind('deploy'), objs, { now: NOW, withNamespace: true, withKind: true, showLabels: true, labelColumns: ['app.kubernetes.io/tier'] }), [
    ['NAMESPACE', 'NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'TIER', 'LABELS'],
    ['shop', 'deployment.apps/web', '0/1', '0', '0', '60s', 'front', 'app=web,app.kubernetes.io/tier=front'],
  ]);
  // Cluster-scoped kinds have no NAMESPACE column even with -A.
  t.deepEqual(tableHeaders(kind('ns'), { withNamespace: true }), ['NAME', 'STATUS', 'AGE']);
  t.is(formatLabels(undefined), '<none>');
  t.is(formatLabels({ b: '2', a: '1' }), 'a=1,b=2');
});

test('resource names and serializations', (t) => {
  t.is(resourceName(kind('cm')), 'configmap');
  t.is(resourceName(kind('deploy')), 'deployment.apps');
  t.is(resourceName(kind('hpa')), 'horizontalpodautoscaler.autoscaling');
  t.is(resourceName(kind('cj')), 'cronjob.batch');
  t.is(objectRef(kind('ep'), 'web'), 'endpoints/web');

  const obj = { metadata: { name: 'x', labels: { b: '1', a: 'yes' } }, kind: 'ConfigMap', apiVersion: 'v1', data: { mode: '0644', list: 'a\nb\n' } };
  t.is(
    toJson(obj),
    '{\n    "apiVersion": "v1",\n    "data": {\n        "list": "a\\nb\\n",\n        "mode": "0644"\n    },\n    "kind": "ConfigMap",\n    "metadata": {\n        "labels": {\n            "a": "yes",\n            "b": "1"\n        },\n        "name": "x"\n    }\n}\n',
  );
  const yaml = toYaml(listOf([obj]));
  t.true(yaml.startsWith('apiVersion: v1\nitems:\n- apiVersion: v1\n'));
  t.regex(yaml, /\nkind: List\nmetadata:\n {2}resourceVersion: ""\n$/);
  // What -o yaml prints, apply -f reads back to the same object (YAML 1.1 scalars quoted).
  t.deepEqual(parseManifests(toYaml(obj), 'x')[0], JSON.parse(toJson(obj)));
});

test('errors as kubectl prints them', (t) => {
  const deploy = kind('deploy');
  t.is(formatError(new ApiCallError(status.NOT_FOUND, 'configmaps "web" not found')), 'Error from server (NotFound): configmaps "web" not found\n');
  t.is(
    formatError(new ApiCallError(status.NOT_FOUND, 'deployments "web" not found'), { kind: deploy }),
    'Error from server (NotFound): deployments.apps "web" not found\n',
  );
  t.is(
    formatError(new ApiCallError(status.ALREADY_EXISTS, 'deployments "web" already exists'), { kind: deploy }),
    'Error from server (AlreadyExists): deployments.apps "web" already exists\n',
  );
  t.is(
    formatError(new ApiCallError(status.ABORTED, 'Operation cannot be fulfilled on deployments "web": the object has been modified'), { kind: deploy }),
    'Error from server (Conflict): Operation cannot be fulfilled on deployments.apps "web": the object has been modified\n',
  );
  t.is(
    formatError(new ApiCallError(status.INVALID_ARGUMENT, 'Pod "x" is invalid:\nspec.containers[0].image: Required value')),
    'The Pod "x" is invalid: spec.containers[0].image: Required value\n',
  );
  t.is(
    formatError(new ApiCallError(status.INVALID_ARGUMENT, 'Pod "x" is invalid:\nspec.containers[0].image: Required value\nmetadata.name: Invalid value: "X": bad')),
    'The Pod "x" is invalid: \n* spec.containers[0].image: Required value\n* metadata.name: Invalid value: "X": bad\n',
  );
  t.is(formatError(new ApiCallError(status.INVALID_ARGUMENT, 'label_selector: unable to parse')), 'Error from server (BadRequest): label_selector: unable to parse\n');
  t.is(
    formatError(new ApiCallError(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1', [], '127.0.0.1:1'), { endpoints: ['127.0.0.1:1', '127.0.0.1:2'] }),
    'The connection to the server 127.0.0.1:1,127.0.0.1:2 was refused - did you specify the right host or port?\n',
  );
  t.is(formatError(new ApiCallError(status.UNAVAILABLE, 'no leader')), 'Error from server (ServiceUnavailable): no leader\n');
  t.is(
    formatError(new ApiCallError(status.NOT_FOUND, 'namespaces "nope" not found'), { kind: kind('cm'), prefix: 'error when creating "cm.yaml": ' }),
    'Error from server (NotFound): error when creating "cm.yaml": namespaces "nope" not found\n',
  );
  t.is(qualifyMessage('jobs "a" not found', kind('jobs')), 'jobs.batch "a" not found');
  t.deepEqual(parseInvalid('Deployment "web" is invalid:\na: b\nc: d'), { kind: 'Deployment', name: 'web', errors: ['a: b', 'c: d'] });
  t.is(parseInvalid('something else'), undefined);
  t.is(formatInvalid('Service', 's', ['spec.ports: Required value']), 'The Service "s" is invalid: spec.ports: Required value\n');
});

const st = (over: Partial<ClusterStatus>, members: ClusterStatus['members']): ClusterStatus => ({
  id: 1,
  role: 'follower',
  term: 3,
  leader: 2,
  leader_api_address: '',
  commit_index: 10,
  applied_index: 10,
  last_index: 10,
  members,
  version: '0.1.0',
  cluster_id: 'c',
  ...over,
});
const member = (id: number, over: Partial<ClusterStatus['members'][number]> = {}) => ({
  id,
  peer_address: `127.0.0.1:700${id}`,
  api_address: '',
  voter: true,
  leader: false,
  match_index: 0,
  lag: 0,
  progress_state: '',
  active: false,
  ...over,
});

test('cluster status merges every replica view; unreachable members are marked', (t) => {
  const leaderView = [member(1, { lag: 2, match_index: 8 }), member(2, { leader: true, match_index: 10 }), member(3, { lag: 10 })];
  const answers: EndpointStatus[] = [
    { endpoint: '127.0.0.1:8001', status: st({ id: 1, commit_index: 9, applied_index: 8 }, [member(1), member(2), member(3)]) },
    { endpoint: '127.0.0.1:8002', status: st({ id: 2, role: 'leader', commit_index: 10, applied_index: 10 }, leaderView) },
  ];
  const merged = mergeStatuses(answers);
  t.is(merged.leader, 2);
  t.is(merged.term, 3);
  t.deepEqual(
    merged.members.map((m) => [m.id, m.role, m.term, m.commit, m.applied, m.lag, m.apiAddress]),
    [
      [1, 'follower', 3, 9, 8, 2, '127.0.0.1:8001'],
      [2, 'leader', 3, 10, 10, 0, '127.0.0.1:8002'],
      [3, 'unreachable', undefined, undefined, undefined, 10, ''],
    ],
  );
  t.is(
    statusTable(merged.members, merged.leader),
    [
      'ID    ROLE          TERM   COMMIT   APPLIED   LAG   PEER ADDRESS     API ADDRESS',
      '1     follower      3      9        8         2     127.0.0.1:7001   127.0.0.1:8001',
      '2*    leader        3      10       10        0     127.0.0.1:7002   127.0.0.1:8002',
      '3     unreachable   -      -        -         10    127.0.0.1:7003   -',
      '',
    ].join('\n'),
  );
  // Without a leader, no lag is known.
  const leaderless = mergeStatuses([{ endpoint: 'a:1', status: st({ id: 1, role: 'candidate', leader: 0 }, [member(1), member(2, { voter: false })]) }]);
  t.is(leaderless.leader, 0);
  t.deepEqual(leaderless.members.map((m) => [m.role, m.lag]), [['candidate', undefined], ['unreachable', undefined]]);
});

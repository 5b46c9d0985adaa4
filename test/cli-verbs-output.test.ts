/**
 * The pure parts of the newer CLI verbs: Go tabwriter layout, JSONPath and custom
 * columns, describers, rollout status/history/undo logic, drain filters, taints, labels,
 * live progress rendering, the edit merge patch and the completion script.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTabbed, PrefixWriter } from '../src/cli/output/tabwriter.ts';
import { customColumnCells, goValue, JsonPath, naturalLess, parseCustomColumns, relaxedJsonPath, sortByField } from '../src/cli/output/jsonpath.ts';
import { describeDeployment, describeNode, describePod, describeProbe, eventInterval, podQos, rfc1123z, smartLabel } from '../src/cli/output/describe.ts';
import { bar, deploymentStatus, jobStatus, podStatus, Progress } from '../src/cli/output/progress.ts';
import { historyText, planUndo } from '../src/cli/commands/rollout.ts';
import { applyTaints, drainErrors, drainVerdicts, drainWarnings, goDuration, parseTaints } from '../src/cli/commands/node-cmds.ts';
import { parseKeyUpdates, updateMap } from '../src/cli/commands/label.ts';
import { applyMergePatch, mergePatch, stripComments } from '../src/cli/commands/edit.ts';
import { bashScript } from '../src/cli/commands/completion.ts';
import { containerNameFromImage } from '../src/cli/commands/create.ts';
import { cascadePolicy } from '../src/cli/commands/delete.ts';
import { parsePrinter } from '../src/cli/commands/get.ts';

process.env.TZ = 'UTC';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

test('tabwriter: blocks of columns as Go formats them (padding 2), nested levels, flush', (t) => {
  const text = 'Name:\tweb\nLabels:\tapp=web\n\ttier=x\nIPs:\n  IP:\t10.0.0.1\nControlled By:\tReplicaSet/web\nConditions:\n  Type\tStatus\n  Ready \tTrue \n';
  t.is(
    formatTabbed(text),
    'Name:    web\nLabels:  app=web\n         tier=x\nIPs:\n  IP:           10.0.0.1\nControlled By:  ReplicaSet/web\nConditions:\n  Type    Status\n  Ready   True \n',
  );
  // Cells of the same column across lines of different lengths; the last cell is never padded.
  t.is(formatTabbed('a\tbb\tc\naaa\tb\n'), 'a    bb  c\naaa  b\n');
  const w = new PrefixWriter();
  w.write(0, 'Long label here:\tx\n');
  w.flush();
  w.write(0, 'Events:\n  Type\tReason\n');
  w.write(1, 'Normal\tStarted\n');
  t.is(w.toString(), 'Long label here:  x\nEvents:\n  Type    Reason\n  Normal  Started\n');
});

const LIST = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { metadata: { name: 'web-10', labels: { app: 'web', 'app.kubernetes.io/name': 'shop' } }, spec: { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'redis' }] }, status: { conditions: [{ type: 'Ready', status: 'True' }], phase: 'Running' } },
    { metadata: { name: 'web-9' }, spec: { containers: [{ name: 'c', image: 'busybox' }] }, status: { conditions: [{ type: 'Ready', status: 'False' }], phase: 'Pending' } },
  ],
};

test('jsonpath: fields, indexes, slices, wildcards, recursion, filters, range, quoted text', (t) => {
  const run = (tpl: string) => new JsonPath(tpl).execute(LIST);
  t.is(run('{.items[*].metadata.name}'), 'web-10 web-9');
  t.is(run('{.items[0].spec.containers[1].image}'), 'redis');
  t.is(run('{.items[-1].metadata.name}'), 'web-9');
  t.is(run('{.items[0:1].metadata.name}'), 'web-10');
  t.is(run('{range .items[*]}{.metadata.name}{"\\t"}{.spec.containers[*].name}{"\\n"}{end}'), 'web-10\ta b\nweb-9\tc\n');
  t.is(run('{.items[?(@.status.phase=="Running")].metadata.name}'), 'web-10');
  t.is(run("{.items[*].status.conditions[?(@.type=='Ready')].status}"), 'True False');
  t.is(run('{.items[0].metadata.labels.app\\.kubernetes\\.io/name}'), 'shop');
  t.is(run("{.items[0].metadata.labels['app.kubernetes.io/name']}"), 'shop');
  t.is(run('{..image}'), 'nginx redis busybox');
  t.is(run('{.items[0].metadata.labels}'), '{"app":"web","app.kubernetes.io/name":"shop"}');
  t.is(run('names: {.missing.field}.'), 'names: .');
  t.is(run('{$.kind}'), 'List');
  t.throws(() => new JsonPath('{.items[*]'), { message: /unclosed action/ });
  t.throws(() => new JsonPath('{range .items[*]}{.a}'), { message: /unclosed range/ });
  t.throws(() => new JsonPath('{.a}{end}'), { message: /not in range/ });
});

test('custom columns and --sort-by: values joined by commas, <none>, natural order', (t) => {
  const cols = parseCustomColumns('NAME:.metadata.name,IMAGES:.spec.containers[*].image,LABELS:.metadata.labels,X:{.nope}');
  t.deepEqual(cols.map((c) => c.header), ['NAME', 'IMAGES', 'LABELS', 'X']);
  t.deepEqual(customColumnCells(cols, LIST.items[0]), ['web-10', 'nginx,redis', 'map[app:web app.kubernetes.io/name:shop]', '<none>']);
  t.deepEqual(customColumnCells(cols, LIST.items[1]), ['web-9', 'busybox', '<none>', '<none>']);
  t.throws(() => parseCustomColumns('NAME'), { message: 'unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>' });
  t.is(relaxedJsonPath('metadata.name'), '{.metadata.name}');
  t.is(relaxedJsonPath('{.metadata.name}'), '{.metadata.name}');
  t.is(goValue(['a', 1, true]), '[a 1 true]');
  t.true(naturalLess('web-9', 'web-10'));
  t.false(naturalLess('web-10', 'web-9'));
  t.true(naturalLess('a', 'b'));
  t.deepEqual(sortByField(LIST.items, '.metadata.name').map((o) => o.metadata.name), ['web-9', 'web-10']);
  t.deepEqual(sortByField([{ n: 3 }, { n: 20 }, {}, { n: 1 }], '.n').map((o) => (o as { n?: number }).n), [undefined, 1, 3, 20]);
  t.throws(() => sortByField(LIST.items, '.nope'), { message: /couldn't find any field with path "\{\.nope\}"/ });
  // -o parsing
  t.is(parsePrinter('yaml'), undefined);
  t.is(parsePrinter('jsonpath={.a}')?.t, 'jsonpath');
  t.throws(() => parsePrinter('jsonpath'), { message: 'template format specified but no template given' });
  t.throws(() => parsePrinter('toml'), { message: /unable to match a printer suitable for the output format "toml"/ });
});

test('describe pod: kubectl layout with container states, conditions, QoS, tolerations and events', (t) => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      labels: { app: 'web', tier: 'front' },
      annotations: { note: 'hi' },
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-5d', uid: 'u1', controller: true }],
    },
    spec: {
      nodeName: 'n1',
      containers: [
        {
          name: 'web',
          image: 'nginx:1.27',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          env: [{ name: 'MODE', value: 'prod' }],
          resources: { requests: { cpu: '100m', memory: '64Mi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    status: {
      phase: 'Running',
      hostIP: '10.0.0.5',
      podIP: '10.244.0.7',
      podIPs: [{ ip: '10.244.0.7' }],
      startTime: '2025-06-01T11:50:00Z',
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
      containerStatuses: [
        {
          name: 'web',
          ready: true,
          restartCount: 1,
          containerID: 'containerd://abc',
          imageID: 'sha256:def',
          state: { running: { startedAt: '2025-06-01T11:55:00Z' } },
          lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: '2025-06-01T11:51:00Z', finishedAt: '2025-06-01T11:54:00Z' } },
        },
      ],
    },
  };
  const events = [
    { type: 'Normal', reason: 'Pulled', message: 'Pulled image', source: { component: 'berth-agent' }, firstTimestamp: ago(300_000), lastTimestamp: ago(60_000), count: 3 },
    { type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned shop/web-1 to n1', source: { component: 'default-scheduler' }, firstTimestamp: ago(600_000), lastTimestamp: ago(600_000), count: 1 },
  ];
  t.is(
    describePod(pod, events, NOW),
    `Name:         web-1
Namespace:    shop
Node:         n1/10.0.0.5
Start Time:   Sun, 01 Jun 2025 11:50:00 +0000
Labels:       app=web
              tier=front
Annotations:  note: hi
Status:       Running
IP:           10.244.0.7
IPs:
  IP:           10.244.0.7
Controlled By:  ReplicaSet/web-5d
Containers:
  web:
    Container ID:   containerd://abc
    Image:          nginx:1.27
    Image ID:       sha256:def
    Port:           80/TCP
    Host Port:      0/TCP
    State:          Running
      Started:      Sun, 01 Jun 2025 11:55:00 +0000
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
      Started:      Sun, 01 Jun 2025 11:51:00 +0000
      Finished:     Sun, 01 Jun 2025 11:54:00 +0000
    Ready:          True
    Restart Count:  1
    Requests:
      cpu:      100m
      memory:   64Mi
    Readiness:  http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
    Environment:
      MODE:  prod
    Mounts:
      /data from data (rw)
Conditions:
  Type          Status
  Initialized   True 
  Ready         True 
Volumes:
  data:
    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)
    Medium:      
    SizeLimit:   <unset>
QoS Class:       Burstable
Node-Selectors:  <none>
Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s
Events:
  Type    Reason     Age               From               Message
  ----    ------     ----              ----               -------
  Normal  Scheduled  10m               default-scheduler  Successfully assigned shop/web-1 to n1
  Normal  Pulled     60s (x3 over 5m)  berth-agent        Pulled image
`,
  );
  t.is(podQos({ spec: { containers: [{ resources: {} }] } }), 'BestEffort');
  t.is(podQos({ spec: { containers: [{ resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } } }] } }), 'Guaranteed');
  t.is(describeProbe({ exec: { command: ['cat', '/tmp/ok'] } }), 'exec [cat /tmp/ok] delay=0s timeout=0s period=0s #success=0 #failure=0');
  t.is(eventInterval({ eventTime: ago(5000) }, NOW), '5s');
  t.is(rfc1123z('2025-06-02T10:00:00Z'), 'Mon, 02 Jun 2025 10:00:00 +0000');
  t.is(smartLabel('podIP'), 'Pod IP');
  t.is(smartLabel('apiVersion'), 'API Version');
});

test('describe deployment and node: replicas, strategy, template, replica sets; capacity and allocated resources', (t) => {
  const d = {
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2025-06-01T10:00:00Z', labels: { app: 'web' }, annotations: { 'deployment.kubernetes.io/revision': '2' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.28' }] } },
    },
    status: {
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 2,
      unavailableReplicas: 1,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
      ],
    },
  };
  const rs = (name: string, replicas: number) => ({ metadata: { name }, spec: { replicas }, status: { replicas } });
  t.is(
    describeDeployment(d, [rs('web-1a', 0)], rs('web-2b', 3), [], NOW),
    `Name:                   web
Namespace:              default
CreationTimestamp:      Sun, 01 Jun 2025 10:00:00 +0000
Labels:                 app=web
Annotations:            deployment.kubernetes.io/revision: 2
Selector:               app=web
Replicas:               3 desired | 3 updated | 3 total | 2 available | 1 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  25% max unavailable, 25% max surge
Pod Template:
  Labels:  app=web
  Containers:
   web:
    Image:         nginx:1.28
    Port:          <none>
    Host Port:     <none>
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
Conditions:
  Type           Status  Reason
  ----           ------  ------
  Available      True    MinimumReplicasAvailable
  Progressing    True    NewReplicaSetAvailable
OldReplicaSets:  web-1a (0/0 replicas created)
NewReplicaSet:   web-2b (3/3 replicas created)
Events:          <none>
`,
  );
  const node = {
    metadata: { name: 'n1', creationTimestamp: '2025-06-01T09:00:00Z', labels: { 'node-role.kubernetes.io/worker': '' } },
    spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] },
    status: {
      capacity: { cpu: '4', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: '10.0.0.5' }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: '2025-06-01T11:59:00Z', lastTransitionTime: '2025-06-01T09:00:00Z' }],
      nodeInfo: { kubeletVersion: 'v0.1.0', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
  const pod = {
    metadata: { name: 'web-1', namespace: 'default', creationTimestamp: ago(120_000) },
    spec: { containers: [{ resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } } }] },
    status: { phase: 'Running' },
  };
  const text = describeNode(node, [pod], [], NOW);
  t.true(text.includes('Roles:              worker\n'), text);
  t.true(text.includes('Taints:             dedicated=gpu:NoSchedule\nUnschedulable:      false\n'), text);
  t.true(text.includes('Capacity:\n  cpu:     4\n  memory:  8Gi\n  pods:    110\n'), text);
  t.true(text.includes('Non-terminated Pods:          (1 in total)\n  Namespace                   Name     CPU Requests  CPU Limits  Memory Requests  Memory Limits  Age\n'), text);
  t.true(text.includes('  default                     web-1    500m (12%)    1 (25%)     1Gi (12%)        2Gi (25%)      2m\n'), text);
  t.true(text.includes('  cpu                500m (12%)  1 (25%)\n  memory             1Gi (12%)   2Gi (25%)\n  ephemeral-storage  0 (0%)      0 (0%)\n'), text);
  t.true(text.endsWith('Events:              <none>\n'), text);
});

test('rollout status messages, as kubectl words them', (t) => {
  const d = (status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ metadata: { name: 'web', generation: 2, ...extra }, spec: { replicas: 3 }, status: { observedGeneration: 2, ...status } });
  t.is(deploymentStatus({ metadata: { name: 'web', generation: 3 }, spec: { replicas: 3 }, status: { observedGeneration: 2 } }).message, 'Waiting for deployment spec update to be observed...');
  t.is(deploymentStatus(d({ updatedReplicas: 1, replicas: 3 })).message, 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...');
  t.is(deploymentStatus(d({ updatedReplicas: 3, replicas: 4 })).message, 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...');
  t.is(deploymentStatus(d({ updatedReplicas: 3, replicas: 3, availableReplicas: 1 })).message, 'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...');
  const done = deploymentStatus(d({ updatedReplicas: 3, replicas: 3, availableReplicas: 3 }));
  t.true(done.done);
  t.is(done.message, 'deployment "web" successfully rolled out');
  const stuck = deploymentStatus(d({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }));
  t.is(stuck.failed, 'deployment "web" exceeded its progress deadline');
  t.is(deploymentStatus(d({}, { annotations: { 'deployment.kubernetes.io/revision': '2' } }), 3).failed, 'desired revision (3) is different from the running revision (2)');
  t.is(jobStatus({ metadata: { name: 'j' }, spec: { completions: 3 }, status: { succeeded: 1, active: 2 } }).message, 'Waiting for job "j" to complete: 1/3 succeeded, 2 active...');
  t.is(jobStatus({ metadata: { name: 'j' }, spec: {}, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } }).failed, 'job "j" failed: BackoffLimitExceeded: Job has reached the specified backoff limit');
  t.true(jobStatus({ metadata: { name: 'j' }, spec: {}, status: { conditions: [{ type: 'Complete', status: 'True' }] } }).done);
  const waiting = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Pending', containerStatuses: [{ name: 'c', state: { waiting: { reason: 'ImagePullBackOff' } } }] } };
  t.is(podStatus(waiting, NOW).message, 'Waiting for pod "p" to be ready: ImagePullBackOff (0/1 containers ready)...');
  t.is(podStatus({ ...waiting, status: { phase: 'Failed', reason: 'Evicted', message: 'low memory' } }, NOW).failed, 'pod "p" failed: Evicted: low memory');
});

test('live progress: one line per change off a terminal, a redrawn bar on one', (t) => {
  const lines: string[] = [];
  const p = new Progress({ write: (s) => lines.push(s), tty: false }, 'deployment "web"');
  const d = (available: number) => deploymentStatus({ metadata: { name: 'web' }, spec: { replicas: 2 }, status: { updatedReplicas: 2, replicas: 2, availableReplicas: available } });
  p.update(d(0));
  p.update(d(0));
  p.update(d(1));
  p.done(d(2).message);
  t.deepEqual(lines, [
    'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...\n',
    'Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...\n',
    'deployment "web" successfully rolled out\n',
  ]);
  const out: string[] = [];
  let now = 1000;
  const tty = new Progress({ write: (s) => out.push(s), tty: true, columns: 100, color: false, now: () => now }, 'deployment "web"');
  tty.update(d(1));
  now += 3000;
  tty.done('deployment "web" successfully rolled out');
  t.is(out[0], `\r\u001b[2K⠋ deployment "web" ${bar(1, 2)} 1/2 available 0s 1 of 2 updated replicas are available`);
  t.is(out[1], '\r\u001b[2K');
  t.is(out[2], '✓ deployment "web" successfully rolled out\n');
  t.is(bar(1, 4, 8), '██░░░░░░');
});

const revisionRs = (rev: number, image: string, extra: Record<string, string> = {}) => ({
  metadata: { name: `web-${rev}`, annotations: { 'deployment.kubernetes.io/revision': String(rev), ...extra } },
  spec: { template: { metadata: { labels: { app: 'web', 'pod-template-hash': `h${rev}` } }, spec: { containers: [{ name: 'web', image }] } } },
});

test('rollout history and undo: revisions, change causes, the template restored without its hash label', (t) => {
  const sets = [revisionRs(1, 'nginx:1.25'), revisionRs(3, 'nginx:1.27', { 'kubernetes.io/change-cause': 'bump to 1.27' }), revisionRs(2, 'nginx:1.26')];
  t.is(historyText('deployment.apps/web', sets, 0), 'deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n3         bump to 1.27\n\n');
  t.is(historyText('deployment.apps/web', [], 0), 'deployment.apps/web \nNo rollout history found.\n');
  t.is(
    historyText('deployment.apps/web', sets, 2),
    'deployment.apps/web with revision #2\nPod Template:\n  Labels:\tapp=web\n\tpod-template-hash=h2\n  Containers:\n   web:\n    Image:\tnginx:1.26\n    Port:\t<none>\n    Host Port:\t<none>\n    Environment:\t<none>\n    Mounts:\t<none>\n  Volumes:\t<none>\n  Node-Selectors:\t<none>\n  Tolerations:\t<none>\n\n',
  );
  t.throws(() => historyText('deployment.apps/web', sets, 9), { message: 'unable to find the specified revision' });

  const d = {
    metadata: { name: 'web', resourceVersion: '42', annotations: { 'deployment.kubernetes.io/revision': '3', owner: 'me' } },
    spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
  };
  const prev = planUndo(d, sets, 0);
  t.is(prev.revision, 2);
  t.false(prev.unchanged);
  t.deepEqual(prev.deployment.spec, { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.26' }] } } });
  // Bookkeeping annotations stay; the revision's other annotations replace the deployment's.
  t.deepEqual((prev.deployment.metadata as Record<string, unknown>).annotations, { 'deployment.kubernetes.io/revision': '3' });
  t.is((prev.deployment.metadata as Record<string, unknown>).resourceVersion, '42');
  t.is(planUndo(d, sets, 1).revision, 1);
  t.true(planUndo(d, sets, 3).unchanged);
  t.throws(() => planUndo(d, sets, 7), { message: 'unable to find specified revision 7 in history' });
  t.throws(() => planUndo(d, [revisionRs(1, 'x')], 0), { message: 'no rollout history found for deployment "web"' });
  t.throws(() => planUndo({ ...d, spec: { ...d.spec, paused: true } }, sets, 0), { message: /you cannot rollback a paused deployment/ });
});

test('drain filters, taints and label updates, as kubectl decides them', (t) => {
  const pod = (name: string, extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}, phase = 'Running') => ({
    metadata: { name, namespace: 'default', ...extra },
    spec,
    status: { phase },
  });
  const owned = { ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true }] };
  const pods = [
    pod('managed', owned),
    pod('bare'),
    pod('scratch', owned, { volumes: [{ name: 'v', emptyDir: {} }] }),
    pod('ds', { ownerReferences: [{ kind: 'DaemonSet', name: 'ds', uid: 'd', controller: true }] }),
    pod('mirror', { annotations: { 'kubernetes.io/config.mirror': 'x' } }),
    pod('done', {}, {}, 'Succeeded'),
  ];
  const strict = drainVerdicts(pods, { force: false, ignoreDaemonSets: false, deleteEmptyDirData: false });
  t.deepEqual(drainErrors(strict).sort(), [
    'cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/ds',
    'cannot delete Pods that declare no controller (use --force to override): default/bare',
    'cannot delete Pods with local storage (use --delete-emptydir-data to override): default/scratch',
  ]);
  const lax = drainVerdicts(pods, { force: true, ignoreDaemonSets: true, deleteEmptyDirData: true });
  t.deepEqual(drainErrors(lax), []);
  t.deepEqual(lax.filter((v) => v.delete).map((v) => (v.pod.metadata as { name: string }).name), ['managed', 'bare', 'scratch', 'done']);
  // As in kubectl, a later filter's verdict replaces an earlier warning (local storage here).
  t.is(drainWarnings(lax), 'deleting Pods that declare no controller: default/bare; ignoring DaemonSet-managed Pods: default/ds');
  t.is(goDuration(90_000), '1m30s');
  t.is(goDuration(5000), '5s');

  const { add, remove } = parseTaints(['dedicated=gpu:NoSchedule', 'spot:PreferNoSchedule', 'old-', 'legacy:NoExecute-']);
  t.deepEqual(add, [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'spot', effect: 'PreferNoSchedule' }]);
  t.deepEqual(remove, [{ key: 'old', effect: '' }, { key: 'legacy', effect: 'NoExecute' }]);
  t.throws(() => parseTaints(['a=b:Sometimes']), { message: 'invalid taint effect: Sometimes, unsupported taint effect' });
  t.throws(() => parseTaints(['a=b:NoSchedule', 'a-']), { message: /can not both modify and remove/ });
  const current = [{ key: 'old', effect: 'NoSchedule' }, { key: 'old', effect: 'NoExecute' }, { key: 'keep', effect: 'NoSchedule' }];
  t.deepEqual(applyTaints(current, [], [{ key: 'old', effect: '' }], false), { taints: [{ key: 'keep', effect: 'NoSchedule' }], verb: 'untainted' });
  t.is(applyTaints(current, [{ key: 'new', effect: 'NoSchedule' }], [], false).verb, 'tainted');
  t.is(applyTaints(current, [{ key: 'keep', value: 'v', effect: 'NoSchedule' }], [], true).verb, 'modified');
  t.throws(() => applyTaints(current, [], [{ key: 'nope', effect: 'NoSchedule' }], false), { message: 'taint "nope:NoSchedule" not found' });

  const u = parseKeyUpdates(['tier=front', 'old-'], true);
  t.deepEqual(u, { set: { tier: 'front' }, remove: ['old'] });
  t.throws(() => parseKeyUpdates(['bad key=x'], true), { message: 'invalid label spec: bad key=x' });
  t.throws(() => updateMap({ tier: 'back' }, u, false, true), { message: "'tier' already has a value (back), and --overwrite is false" });
  t.throws(() => updateMap({ tier: 'back' }, parseKeyUpdates(['tier=x'], false), false, false), {
    message: "--overwrite is false but found the following declared annotation(s): 'tier' already has a value (back)",
  });
  t.deepEqual(updateMap({ tier: 'back', old: '1' }, u, true, true), { next: { tier: 'front' }, notFound: [] });
  t.deepEqual(updateMap({}, u, false, true).notFound, ['old']);
});

test('edit helpers, create generators and delete --cascade values', (t) => {
  t.is(stripComments('# a\nx: 1\n  # b\ny: 2\n'), 'x: 1\ny: 2\n');
  const from = { a: 1, b: { c: 2, d: 3 }, e: [1, 2] };
  const to = { a: 1, b: { c: 5 }, e: [1], f: 'new' };
  const patch = mergePatch(from, to);
  t.deepEqual(patch, { b: { c: 5, d: null }, e: [1], f: 'new' });
  t.deepEqual(applyMergePatch({ a: 9, b: { c: 2, d: 3, z: 1 }, e: [7] }, patch), { a: 9, b: { c: 5, z: 1 }, e: [1], f: 'new' });
  t.is(containerNameFromImage('registry.local:5000/library/nginx:1.27'), 'nginx');
  t.is(containerNameFromImage('busybox@sha256:abc'), 'busybox');
  t.is(cascadePolicy(undefined), undefined);
  t.is(cascadePolicy('false'), 'orphan');
  t.is(cascadePolicy('Foreground'), 'foreground');
  t.throws(() => cascadePolicy('sideways'), { message: 'invalid cascade value (sideways). Must be "background", "foreground", or "orphan".' });
});

test('the bash completion script completes verbs, kinds, flags and object names', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-completion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'berth.bash');
  writeFileSync(script, bashScript());
  // A stand-in `berth` answers the name lookups the script makes.
  const complete = (line: string) => {
    const words = line.split(' ');
    const probe = `
berth() {
  case "$*" in
    *"get deploy"*|*"get deployments"*) echo "web api" ;;
    *"get nodes"*) echo "node-a node-b" ;;
    *"get namespaces"*) echo "default shop" ;;
  esac
}
source ${JSON.stringify(script)}
COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')})
COMP_CWORD=${words.length - 1}
_berth
printf '%s\\n' "\${COMPREPLY[@]}"
`;
    return execFileSync('bash', ['-c', probe], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).sort();
  };
  t.deepEqual(complete('berth ro'), ['rollout']);
  t.deepEqual(complete('berth get dep'), ['deploy', 'deployment', 'deployments']);
  t.deepEqual(complete('berth get deploy '), ['api', 'web']);
  t.deepEqual(complete('berth describe deploy/w'), ['deploy/web']);
  t.deepEqual(complete('berth rollout '), ['history', 'pause', 'restart', 'resume', 'status', 'undo']);
  t.deepEqual(complete('berth rollout undo deploy/a'), ['deploy/api']);
  t.deepEqual(complete('berth drain node-'), ['node-a', 'node-b']);
  t.deepEqual(complete('berth get pods -n s'), ['shop']);
  t.deepEqual(complete('berth delete --cas'), ['--cascade']);
  t.deepEqual(complete('berth get -o j'), ['json', 'jsonpath-file=', 'jsonpath=']);
  t.deepEqual(complete('berth completion '), ['bash', 'zsh']);
});

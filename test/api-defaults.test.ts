import test from 'ava';
import { defaultImagePullPolicy, defaultObject, parseManifests, type ApiObject } from '../src/api/index.ts';

const one = (yaml: string): ApiObject => parseManifests(yaml, 'd.yaml')[0]!;
/** Defaults a manifest and returns it as plain JSON for deep comparison. */
const defaulted = (yaml: string): Record<string, any> => JSON.parse(JSON.stringify(defaultObject(one(yaml))));

test('pod defaults', (t) => {
  const pod = defaulted(`
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80}]
    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    resources: {limits: {cpu: "0.5", memory: 1024Mi}, requests: {memory: 512Mi}}
    livenessProbe: {httpGet: {port: 80}, periodSeconds: 0}
    readinessProbe: {tcpSocket: {port: 80}, timeoutSeconds: 5}
  volumes:
  - {name: scratch}
  - {name: cfg, configMap: {name: c}}
`);
  t.is(pod.metadata.namespace, 'default');
  t.like(pod.spec, {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    schedulerName: 'default-scheduler',
    securityContext: {},
  });
  const c = pod.spec.containers[0];
  t.is(c.imagePullPolicy, 'Always');
  t.is(c.terminationMessagePath, '/dev/termination-log');
  t.is(c.terminationMessagePolicy, 'File');
  t.deepEqual(c.ports, [{ containerPort: 80, protocol: 'TCP' }]);
  t.deepEqual(c.env[0].valueFrom.fieldRef, { fieldPath: 'metadata.name', apiVersion: 'v1' });
  // quantities are canonical; requests default to limits per resource
  t.deepEqual(c.resources, { limits: { cpu: '500m', memory: '1Gi' }, requests: { memory: '512Mi', cpu: '500m' } });
  t.deepEqual(c.livenessProbe, {
    httpGet: { port: 80, path: '/', scheme: 'HTTP' },
    periodSeconds: 10,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  });
  t.like(c.readinessProbe, { timeoutSeconds: 5, periodSeconds: 10 });
  t.deepEqual(pod.spec.volumes, [
    { name: 'scratch', emptyDir: {} },
    { name: 'cfg', configMap: { name: 'c', defaultMode: 0o644 } },
  ]);
});

test('image pull policy follows the tag', (t) => {
  const table: [string, 'Always' | 'IfNotPresent'][] = [
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.27', 'IfNotPresent'],
    ['registry.local:5000/team/app', 'Always'],
    ['registry.local:5000/team/app:v2', 'IfNotPresent'],
    ['nginx@sha256:0123456789abcdef', 'IfNotPresent'],
  ];
  for (const [image, policy] of table) t.is(defaultImagePullPolicy(image), policy, image);
  const pod = defaulted('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: a:1, imagePullPolicy: Never}]}\n');
  t.is(pod.spec.containers[0].imagePullPolicy, 'Never', 'an explicit policy is kept');
});

test('host network pods expose container ports on the host', (t) => {
  const pod = defaulted('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: c, image: a:1, ports: [{containerPort: 8080}]}]}\n');
  t.deepEqual(pod.spec.containers[0].ports, [{ containerPort: 8080, protocol: 'TCP', hostPort: 8080 }]);
});

test('deployment and replicaset defaults', (t) => {
  const d = defaulted(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: team}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: a:1}]}
`);
  t.is(d.metadata.namespace, 'team', 'an explicit namespace is kept');
  t.like(d.spec, { replicas: 1, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 });
  t.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  t.is(d.spec.template.spec.restartPolicy, 'Always');
  t.deepEqual(d.spec.selector, { matchLabels: { app: 'web' } }, 'apps/v1 never defaults the selector');
  // no requests-from-limits in templates: that happens when pods are created from them
  const recreate = defaulted('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 0, strategy: {type: Recreate}}\n');
  t.is(recreate.spec.replicas, 0, 'zero replicas is a value, not unset');
  t.deepEqual(recreate.spec.strategy, { type: 'Recreate' });
  const rs = defaulted('apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {template: {spec: {containers: [{name: c, image: a:1}]}}}\n');
  t.is(rs.spec.replicas, 1);
});

test('job defaults', (t) => {
  const plain = defaulted(`
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: c, image: a:1}]}
`);
  t.like(plain.spec, {
    completions: 1,
    parallelism: 1,
    backoffLimit: 6,
    completionMode: 'NonIndexed',
    suspend: false,
    podReplacementPolicy: 'TerminatingOrFailed',
  });
  t.is(plain.spec.template.spec.restartPolicy, undefined, 'a Job template restart policy is not defaulted');
  t.deepEqual(plain.metadata.labels, { app: 'batch' }, 'a Job without labels takes its template labels');
  t.is(plain.spec.selector, undefined, 'the controller generates the selector');

  const queue = defaulted('apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {parallelism: 4, template: {spec: {containers: []}}}\n');
  t.is(queue.spec.completions, undefined, 'work queue: completions stays unset');
  t.is(queue.spec.parallelism, 4);

  const indexed = defaulted(
    'apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {completions: 5, completionMode: Indexed, backoffLimitPerIndex: 1, podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}]}, template: {spec: {containers: []}}}\n',
  );
  t.is(indexed.spec.parallelism, 1);
  t.is(indexed.spec.backoffLimit, 2147483647, 'with a per-index limit the global limit is unbounded');
  t.is(indexed.spec.podReplacementPolicy, 'Failed');
  t.deepEqual(indexed.spec.podFailurePolicy.rules[0].onPodConditions, [{ type: 'DisruptionTarget', status: 'True' }]);
});

test('cronjob defaults', (t) => {
  const cj = defaulted(`
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "@hourly"
  jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: a:1}]}}}}
`);
  t.like(cj.spec, { concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
  t.is(cj.spec.jobTemplate.spec.backoffLimit, undefined, 'Job defaults wait for the Job');
  t.is(cj.spec.jobTemplate.spec.template.spec.terminationGracePeriodSeconds, 30);
});

test('service defaults', (t) => {
  const svc = defaulted(`
apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  selector: {app: web}
  ports: [{port: 80}, {name: b, port: 443, targetPort: https}]
`);
  t.like(svc.spec, { type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster' });
  t.deepEqual(svc.spec.ports, [
    { port: 80, protocol: 'TCP', targetPort: 80 },
    { name: 'b', port: 443, targetPort: 'https', protocol: 'TCP' },
  ]);
  const np = defaulted('apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: NodePort, sessionAffinity: ClientIP, ports: [{port: 80}]}\n');
  t.is(np.spec.externalTrafficPolicy, 'Cluster');
  t.deepEqual(np.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
});

test('secret defaults: type and stringData', (t) => {
  const s = defaulted('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ==, b: Yg==}\nstringData: {b: bee, c: sea}\n');
  t.is(s.type, 'Opaque');
  t.deepEqual(s.data, { a: 'YQ==', b: Buffer.from('bee').toString('base64'), c: Buffer.from('sea').toString('base64') });
  t.is(s.stringData, undefined);
});

test('hpa defaults and autoscaling/v1 conversion', (t) => {
  const v2 = defaulted(
    'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {scaleTargetRef: {kind: Deployment, name: d}, maxReplicas: 5, behavior: {scaleDown: {stabilizationWindowSeconds: 60}}}\n',
  );
  t.is(v2.spec.minReplicas, 1);
  t.deepEqual(v2.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
  t.deepEqual(v2.spec.behavior, {
    scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    },
  });
  const v1 = defaulted(
    'apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}, maxReplicas: 10, targetCPUUtilizationPercentage: 50}\n',
  );
  t.is(v1.apiVersion, 'autoscaling/v2');
  t.is(v1.spec.targetCPUUtilizationPercentage, undefined);
  t.deepEqual(v1.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }]);
  t.is(v1.spec.minReplicas, 1);
});

test('node allocatable defaults to capacity; cluster-scoped kinds get no namespace', (t) => {
  const node = defaulted('apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {capacity: {cpu: 4, memory: 8192Mi}}\n');
  t.is(node.metadata.namespace, undefined);
  t.deepEqual(node.status.allocatable, { cpu: '4', memory: '8Gi' });
  t.deepEqual(node.status.capacity, { cpu: '4', memory: '8Gi' });
  const ns = defaulted('apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n');
  t.is(ns.metadata.namespace, undefined);
});

test('defaultObject never mutates its input and is idempotent', (t) => {
  const input = one('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: a, resources: {limits: {cpu: 1}}}]}\n');
  const before = structuredClone(input);
  const once = defaultObject(input);
  t.deepEqual(input, before);
  t.deepEqual(defaultObject(once), once);
  t.not(once, input);
});

test('defaultObject tolerates malformed and unknown objects', (t) => {
  const unknown = { apiVersion: 'v1', kind: 'Foo', metadata: { name: 'x' } } as ApiObject;
  t.deepEqual(defaultObject(unknown), unknown);
  const broken = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { strategy: 'fast', template: 7 } } as ApiObject;
  t.notThrows(() => defaultObject(broken));
  t.deepEqual((defaultObject(broken).spec as Record<string, unknown>).strategy, 'fast');
});

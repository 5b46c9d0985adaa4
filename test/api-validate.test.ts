import test from 'ava';
import {
  FieldError,
  ValidationError,
  assertValid,
  defaultObject,
  parseManifests,
  validateObject,
  type ApiObject,
} from '../src/api/index.ts';

/** Parses one manifest, defaults it (unless raw) and validates it. */
function validate(yaml: string, opts: { raw?: boolean; old?: string } = {}): FieldError[] {
  const [obj] = parseManifests(yaml, 'case.yaml');
  const subject = opts.raw ? obj! : defaultObject(obj!);
  if (opts.old === undefined) return validateObject(subject);
  const [old] = parseManifests(opts.old, 'old.yaml');
  return validateObject(subject, { operation: 'update', old: defaultObject(old!) });
}

/** `field: type` of each error, sorted: what the table compares. */
const shapes = (errors: FieldError[]): string[] => errors.map((e) => `${e.field}: ${e.type}`).sort();

const POD = (spec: string, meta = 'name: p') => `
apiVersion: v1
kind: Pod
metadata: {${meta}}
spec:
${spec}
`;

interface Case {
  name: string;
  yaml: string;
  raw?: boolean;
  expected: string[];
}

const cases: Case[] = [
  {
    name: 'a valid pod has no errors',
    yaml: POD('  containers: [{name: web, image: nginx:1.27, ports: [{containerPort: 80, name: http}]}]'),
    expected: [],
  },
  {
    name: 'unknown kind',
    yaml: 'apiVersion: v1\nkind: Foo\nmetadata: {name: x}\n',
    expected: ['kind: Not supported'],
  },
  {
    name: 'known kind at another version',
    yaml: 'apiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n',
    expected: ['apiVersion: Not supported'],
  },
  {
    name: 'deployment with many mistakes reports all of them',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: Web_1}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}
  template:
    metadata: {labels: {app: other}}
    spec:
      restartPolicy: Never
      containers:
      - name: web
        imagePullPolicyy: Always
        ports: [{containerPort: 70000, name: this-name-is-way-too-long}]
        resources: {requests: {cpu: 600m, memory: 12Q}, limits: {cpu: 500m}}
        livenessProbe: {periodSeconds: 5, successThreshold: 2}
      - name: web
        image: nginx
        volumeMounts: [{name: nope, mountPath: /x}]
`,
    expected: [
      'metadata.name: Invalid value',
      'spec.replicas: Invalid value',
      'spec.strategy.rollingUpdate: Forbidden',
      'spec.template.metadata.labels: Invalid value',
      'spec.template.spec.containers[0].image: Required value',
      'spec.template.spec.containers[0].imagePullPolicyy: Unknown field',
      'spec.template.spec.containers[0].livenessProbe.successThreshold: Invalid value',
      'spec.template.spec.containers[0].livenessProbe: Required value',
      'spec.template.spec.containers[0].ports[0].containerPort: Invalid value',
      'spec.template.spec.containers[0].ports[0].name: Invalid value',
      'spec.template.spec.containers[0].resources.requests[cpu]: Invalid value',
      'spec.template.spec.containers[0].resources.requests[memory]: Invalid value',
      'spec.template.spec.containers[1].name: Duplicate value',
      'spec.template.spec.containers[1].volumeMounts[0].name: Not found',
      'spec.template.spec.restartPolicy: Unsupported value',
    ],
  },
  {
    name: 'deployment selector: required, empty, bad expressions',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector:
    matchExpressions:
    - {key: app, operator: In}
    - {key: tier, operator: Exists, values: [x]}
    - {key: env, operator: Near, values: [a]}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
`,
    expected: [
      'spec.selector.matchExpressions[0].values: Required value',
      'spec.selector.matchExpressions[1].values: Forbidden',
      'spec.selector.matchExpressions[2].operator: Unsupported value',
    ],
  },
  {
    name: 'deployment: missing selector, empty selector elsewhere, rolling update bounds',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: "110%"}}
  progressDeadlineSeconds: 5
  minReadySeconds: 10
  template:
    spec: {containers: [{name: c, image: i}]}
`,
    expected: [
      'spec.progressDeadlineSeconds: Invalid value',
      'spec.selector: Required value',
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value',
    ],
  },
  {
    name: 'replicaset with an empty selector and a pod deadline',
    yaml: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  selector: {}
  template:
    spec: {activeDeadlineSeconds: 10, containers: [{name: c, image: i}]}
`,
    expected: ['spec.selector: Invalid value', 'spec.template.spec.activeDeadlineSeconds: Forbidden'],
  },
  {
    name: 'type errors are reported and do not cascade',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, labels: {version: 1.0}}
spec:
  replicas: three
  paused: "yes"
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: {name: c, image: i}
`,
    expected: [
      'metadata.labels[version]: Invalid value',
      'spec.paused: Invalid value',
      'spec.replicas: Invalid value',
      'spec.template.spec.containers: Invalid value',
    ],
  },
  {
    name: 'pod without containers and without a name',
    yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: []}\n',
    expected: ['metadata.name: Required value', 'spec.containers: Required value'],
  },
  {
    name: 'namespace must be set (after defaulting, validating raw) and be a DNS label',
    yaml: POD('  containers: [{name: c, image: i, imagePullPolicy: Always, terminationMessagePolicy: File}]\n  restartPolicy: Always\n  dnsPolicy: ClusterFirst'),
    raw: true,
    expected: ['metadata.namespace: Required value'],
  },
  {
    name: 'probes: two handlers, liveness threshold, readiness grace period, negative numbers',
    yaml: POD(`  containers:
  - name: c
    image: i
    livenessProbe: {exec: {command: [cat]}, httpGet: {port: 80}, successThreshold: 2, periodSeconds: -1}
    readinessProbe: {tcpSocket: {port: http_port}, terminationGracePeriodSeconds: 5, initialDelaySeconds: -3}
    startupProbe: {grpc: {port: 0}, failureThreshold: -2}`),
    expected: [
      'spec.containers[0].livenessProbe.httpGet: Forbidden',
      'spec.containers[0].livenessProbe.periodSeconds: Invalid value',
      'spec.containers[0].livenessProbe.successThreshold: Invalid value',
      'spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value',
      'spec.containers[0].readinessProbe.tcpSocket.port: Invalid value',
      'spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value',
      'spec.containers[0].startupProbe.failureThreshold: Invalid value',
      'spec.containers[0].startupProbe.grpc.port: Invalid value',
    ],
  },
  {
    name: 'resources: names, signs, request above limit, extended resources',
    yaml: POD(`  containers:
  - name: c
    image: i
    resources:
      limits: {cpu: 500m, memory: 1Gi, gpu: 1, example.com/dongle: 2}
      requests: {cpu: "1", memory: -1Mi, example.com/dongle: 1, example.com/widget: 0.5}`),
    expected: [
      'spec.containers[0].resources.limits[example.com/widget]: Required value',
      'spec.containers[0].resources.limits[gpu]: Invalid value',
      'spec.containers[0].resources.requests[cpu]: Invalid value',
      'spec.containers[0].resources.requests[example.com/dongle]: Invalid value',
      'spec.containers[0].resources.requests[example.com/widget]: Invalid value',
      // requests default to limits in a Pod, so the unknown name is reported twice
      'spec.containers[0].resources.requests[gpu]: Invalid value',
      'spec.containers[0].resources.requests[memory]: Invalid value',
    ],
  },
  {
    name: 'ports: numbers, names, protocols, host port conflicts',
    yaml: POD(`  containers:
  - name: a
    image: i
    ports:
    - {containerPort: 0, name: Web}
    - {containerPort: 80, name: web, hostPort: 8080}
    - {containerPort: 81, name: web, protocol: HTTP}
  - name: b
    image: i
    ports: [{containerPort: 90, hostPort: 8080}]`),
    expected: [
      'spec.containers[0].ports[0].containerPort: Required value',
      'spec.containers[0].ports[0].name: Invalid value',
      'spec.containers[0].ports[2].name: Duplicate value',
      'spec.containers[0].ports[2].protocol: Unsupported value',
      'spec.containers[1].ports[0].hostPort: Duplicate value',
    ],
  },
  {
    name: 'volumes: no source (raw), two sources, duplicate names, bad modes and paths',
    raw: true,
    yaml: POD(`  restartPolicy: Always
  dnsPolicy: ClusterFirst
  containers: [{name: c, image: i, imagePullPolicy: Always, terminationMessagePolicy: File, volumeMounts: [{name: b, mountPath: /b}, {name: b, mountPath: /b}]}]
  volumes:
  - {name: a}
  - {name: b, emptyDir: {}, hostPath: {path: /tmp}}
  - {name: b, configMap: {name: cm, defaultMode: 1000, items: [{key: k, path: ../etc}]}}
  - {name: Bad_Name, secret: {}}`, 'name: p, namespace: default'),
    expected: [
      'spec.containers[0].volumeMounts[1].mountPath: Invalid value',
      'spec.volumes[0]: Required value',
      'spec.volumes[1].hostPath: Forbidden',
      'spec.volumes[2].configMap.defaultMode: Invalid value',
      'spec.volumes[2].configMap.items[0].path: Invalid value',
      'spec.volumes[2].name: Duplicate value',
      'spec.volumes[3].name: Invalid value',
      'spec.volumes[3].secret.secretName: Required value',
    ],
  },
  {
    name: 'env: names, sources, references',
    yaml: POD(`  containers:
  - name: c
    image: i
    env:
    - {name: 1BAD, value: x}
    - {name: A, valueFrom: {}}
    - {name: B, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: C, valueFrom: {fieldRef: {fieldPath: spec.nope}, secretKeyRef: {name: s, key: k}}}
    - {name: D, valueFrom: {configMapKeyRef: {name: cm}}}
    envFrom:
    - {prefix: "9x", configMapRef: {name: cm}}
    - {}`),
    expected: [
      'spec.containers[0].env[0].name: Invalid value',
      'spec.containers[0].env[1].valueFrom: Invalid value',
      'spec.containers[0].env[2].valueFrom: Invalid value',
      'spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Unsupported value',
      'spec.containers[0].env[3].valueFrom: Invalid value',
      'spec.containers[0].env[4].valueFrom.configMapKeyRef.key: Required value',
      'spec.containers[0].envFrom[0].prefix: Invalid value',
      'spec.containers[0].envFrom[1]: Invalid value',
    ],
  },
  {
    name: 'init containers and sidecars',
    yaml: POD(`  initContainers:
  - {name: init, image: i, readinessProbe: {exec: {command: [x]}}}
  - {name: side, image: i, restartPolicy: Never}
  - {name: ok-sidecar, image: i, restartPolicy: Always, startupProbe: {exec: {command: [x]}}}
  containers:
  - {name: init, image: i, restartPolicy: Always}`),
    expected: [
      'spec.containers[0].name: Duplicate value',
      'spec.containers[0].restartPolicy: Forbidden',
      'spec.initContainers[0].readinessProbe: Forbidden',
      'spec.initContainers[1].restartPolicy: Unsupported value',
    ],
  },
  {
    name: 'scheduling: affinity, tolerations, topology spread, node selector',
    yaml: POD(`  containers: [{name: c, image: i}]
  nodeSelector: {"disk type": ssd}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}
      preferredDuringSchedulingIgnoredDuringExecution:
      - {weight: 0, preference: {matchExpressions: [{key: zone, operator: Gt, values: [a, b]}]}}
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - {labelSelector: {matchLabels: {app: web}}}
  tolerations:
  - {key: k, operator: Exists, value: v}
  - {key: k, value: v, effect: NoSchedule, tolerationSeconds: 10}
  topologySpreadConstraints:
  - {maxSkew: 0, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}
  - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}
  - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: Sometimes, minDomains: 2}`),
    expected: [
      'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].values: Required value',
      'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value',
      'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value',
      'spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value',
      'spec.nodeSelector: Invalid value',
      'spec.tolerations[0].operator: Invalid value',
      'spec.tolerations[1].effect: Invalid value',
      'spec.topologySpreadConstraints[0].maxSkew: Invalid value',
      'spec.topologySpreadConstraints[1]: Duplicate value',
      'spec.topologySpreadConstraints[2].minDomains: Invalid value',
      'spec.topologySpreadConstraints[2].whenUnsatisfiable: Unsupported value',
    ],
  },
  {
    name: 'metadata: labels, annotations, generateName, owner controllers, finalizers',
    yaml: POD('  containers: [{name: c, image: i}]', `generateName: "Web-", labels: {"a/b/c": x, ${'k'.repeat(64)}: v}, annotations: {big: "${'x'.repeat(300_000)}"}, ownerReferences: [{apiVersion: v1, kind: A, name: a, uid: "1", controller: true}, {apiVersion: v1, kind: B, name: b, uid: "2", controller: true}, {apiVersion: v1, kind: C, name: c}], finalizers: [orphan, foregroundDeletion]`),
    expected: [
      'metadata.annotations: Too long',
      'metadata.finalizers: Invalid value',
      'metadata.generateName: Invalid value',
      'metadata.labels: Invalid value',
      'metadata.labels: Invalid value',
      'metadata.ownerReferences[1]: Invalid value',
      'metadata.ownerReferences[2].uid: Required value',
    ],
  },
  {
    name: 'service: port names, numbers, node ports, headless NodePort',
    yaml: `
apiVersion: v1
kind: Service
metadata: {name: 1svc}
spec:
  clusterIP: None
  type: NodePort
  ports: [{port: 80}, {port: 0, targetPort: http_x, protocol: HTTP}]
`,
    expected: [
      'metadata.name: Invalid value',
      'spec.clusterIP: Invalid value',
      'spec.ports[0].name: Required value',
      'spec.ports[1].name: Required value',
      'spec.ports[1].port: Invalid value',
      'spec.ports[1].protocol: Unsupported value',
      'spec.ports[1].targetPort: Invalid value',
    ],
  },
  {
    name: 'service: ClusterIP with node port, duplicates, no ports',
    yaml: `
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  selector: {app: web}
  ports:
  - {name: a, port: 80, nodePort: 30080}
  - {name: a, port: 80}
`,
    expected: ['spec.ports[0].nodePort: Forbidden', 'spec.ports[1].name: Duplicate value', 'spec.ports[1]: Duplicate value'],
  },
  {
    name: 'service: ports required unless headless or ExternalName',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {selector: {app: web}}\n',
    expected: ['spec.ports: Required value'],
  },
  {
    name: 'service: ExternalName needs a name and no cluster IP',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {type: ExternalName, clusterIP: 10.0.0.1}\n',
    expected: ['spec.clusterIP: Forbidden', 'spec.externalName: Required value'],
  },
  {
    name: 'job: restart policy, indexed rules, negative counts',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  parallelism: -1
  backoffLimitPerIndex: 1
  maxFailedIndexes: 2
  template:
    spec:
      containers: [{name: c, image: i}]
`,
    expected: [
      'spec.backoffLimitPerIndex: Invalid value',
      'spec.maxFailedIndexes: Invalid value',
      'spec.parallelism: Invalid value',
      'spec.template.spec.restartPolicy: Required value',
    ],
  },
  {
    name: 'job: Indexed without completions, selector not matching, pod failure policy',
    yaml: `
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  completionMode: Indexed
  completions: null
  parallelism: 2
  manualSelector: true
  selector: {matchLabels: {app: batch}}
  podFailurePolicy:
    rules:
    - {action: FailIndex, onExitCodes: {operator: In, values: [0, 3, 2]}}
    - {action: Ignore}
  template:
    metadata: {labels: {app: other}}
    spec:
      restartPolicy: OnFailure
      containers: [{name: c, image: i}]
`,
    expected: [
      'spec.completions: Required value',
      'spec.podFailurePolicy.rules[0].action: Invalid value',
      'spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value',
      'spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value',
      'spec.podFailurePolicy.rules[1]: Invalid value',
      'spec.template.metadata.labels: Invalid value',
      'spec.template.spec.restartPolicy: Invalid value',
    ],
  },
  {
    name: 'cronjob: schedule, time zone, policy, name length, job template',
    yaml: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: ${'c'.repeat(53)}}
spec:
  schedule: "61 * * * *"
  timeZone: Mars/Olympus
  concurrencyPolicy: Sometimes
  jobTemplate:
    spec:
      selector: {matchLabels: {a: b}}
      template: {spec: {containers: [{name: a, image: b}]}}
`,
    expected: [
      'metadata.name: Invalid value',
      'spec.concurrencyPolicy: Unsupported value',
      'spec.jobTemplate.spec.selector: Invalid value',
      'spec.jobTemplate.spec.template.spec.restartPolicy: Required value',
      'spec.schedule: Invalid value',
      'spec.timeZone: Invalid value',
    ],
  },
  {
    name: 'cronjob: TZ in the schedule is refused',
    yaml: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "TZ=Europe/Paris 0 * * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: a, image: b}]}}}}
`,
    expected: ['spec.schedule: Invalid value'],
  },
  {
    name: 'hpa v2: bounds, metric sources, behavior',
    yaml: `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h}
spec:
  scaleTargetRef: {kind: Deployment}
  minReplicas: 0
  maxReplicas: 0
  metrics:
  - {type: Resource, resource: {name: cpu, target: {type: Utilization}}}
  - {type: Memory}
  - {type: Pods, resource: {name: memory, target: {type: AverageValue, averageValue: 1Gi}}}
  behavior:
    scaleUp: {stabilizationWindowSeconds: 4000, policies: [{type: Pods, value: 0, periodSeconds: 2000}]}
`,
    expected: [
      'spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value',
      'spec.behavior.scaleUp.policies[0].value: Invalid value',
      'spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value',
      'spec.maxReplicas: Invalid value',
      'spec.metrics[0].resource.target.averageUtilization: Required value',
      'spec.metrics[1].type: Unsupported value',
      'spec.metrics[2].pods: Required value',
      'spec.metrics[2].resource: Forbidden',
      'spec.minReplicas: Invalid value',
      'spec.scaleTargetRef.name: Required value',
    ],
  },
  {
    name: 'hpa v1 validated as written: the cpu target names its own field',
    raw: true,
    yaml: `
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: h, namespace: default}
spec: {scaleTargetRef: {kind: Deployment, name: d}, minReplicas: 5, maxReplicas: 2, targetCPUUtilizationPercentage: 0}
`,
    expected: ['spec.maxReplicas: Invalid value', 'spec.targetCPUUtilizationPercentage: Invalid value'],
  },
  {
    name: 'configmap: keys, binary data, duplicates',
    yaml: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {"bad key": x, "..": z, dup: z, num: 5}
binaryData: {dup: YWJj, bin: "not base64!"}
`,
    expected: [
      'binaryData[bin]: Invalid value',
      'data[..]: Invalid value',
      'data[bad key]: Invalid value',
      'data[dup]: Invalid value',
      'data[num]: Invalid value',
    ],
  },
  {
    name: 'secret: typed secrets need their keys; data must be base64',
    yaml: `
apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/tls
data: {"bad key": "@@@", ok: YWJj, short: YWJ}
`,
    expected: [
      'data[bad key]: Invalid value',
      'data[bad key]: Invalid value',
      'data[short]: Invalid value',
      'data[tls.crt]: Required value',
      'data[tls.key]: Required value',
    ],
  },
  {
    name: 'namespace: a DNS label, cluster-scoped, finalizers',
    yaml: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: my.team, namespace: default}\nspec: {finalizers: [kubernetes, custom]}\n',
    expected: ['metadata.name: Invalid value', 'metadata.namespace: Forbidden', 'spec.finalizers[1]: Invalid value'],
  },
  {
    name: 'node: taints and pod CIDRs',
    yaml: `
apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  podCIDR: 10.0.0.0/33
  taints:
  - {key: dedicated, value: gpu, effect: NoSchedule}
  - {key: dedicated, value: other, effect: NoSchedule}
  - {key: x, effect: Sometimes}
  - {key: why}
status: {capacity: {cpu: "4", memory: -1Gi}}
`,
    expected: [
      'spec.podCIDR: Invalid value',
      'spec.taints[1]: Duplicate value',
      'spec.taints[2].effect: Unsupported value',
      'spec.taints[3].effect: Required value',
      'status.allocatable[memory]: Invalid value',
      'status.capacity[memory]: Invalid value',
    ],
  },
  {
    name: 'endpoints: addresses and ports',
    yaml: `
apiVersion: v1
kind: Endpoints
metadata: {name: svc}
subsets:
- addresses: [{ip: 10.0.0.300}, {ip: 10.0.0.1, hostname: Bad_Host}]
  ports: [{port: 80}, {port: 70000}]
- ports: [{port: 80}]
`,
    expected: [
      'subsets[0].addresses[0].ip: Invalid value',
      'subsets[0].addresses[1].hostname: Invalid value',
      'subsets[0].ports[0].name: Required value',
      'subsets[0].ports[1].name: Required value',
      'subsets[0].ports[1].port: Invalid value',
      'subsets[1]: Required value',
    ],
  },
  {
    name: 'event: namespace must match the involved object',
    yaml: `
apiVersion: v1
kind: Event
metadata: {name: e1, namespace: team-a}
involvedObject: {kind: Pod, name: p, namespace: team-b}
type: Fatal
reason: Started
`,
    expected: ['involvedObject.namespace: Invalid value', 'type: Unsupported value'],
  },
];

for (const c of cases) {
  test(`validate: ${c.name}`, (t) => {
    t.deepEqual(shapes(validate(c.yaml, { raw: c.raw ?? false })), [...c.expected].sort());
  });
}

test('messages read like the API server', (t) => {
  const errs = validate(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: Web_1}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, foo: 1, resources: {limits: {cpu: 12Q}}}]
`).map(String);
  t.deepEqual(errs, [
    'unknown field "spec.template.spec.containers[0].foo"',
    `spec.template.spec.containers[0].resources.limits[cpu]: Invalid value: "12Q": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    'spec.template.spec.containers[0].image: Required value',
    `metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  ]);
});

test('more exact messages', (t) => {
  const one = (yaml: string) => validate(yaml).map(String);
  t.deepEqual(one('apiVersion: v1\nkind: Foo\nmetadata: {name: x}\n'), ['no kind "Foo" is registered for version "v1"']);
  t.deepEqual(one(POD('  containers: [{name: c, image: i, ports: [{containerPort: 80, protocol: HTTP}]}]')), [
    'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
  ]);
  t.deepEqual(one(POD('  containers: [{name: c, image: i}]\n  restartPolicy: Sometimes')), [
    'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
  ]);
  t.deepEqual(one(POD('  containers: [{name: c, image: i, volumeMounts: [{name: data, mountPath: /d}]}]')), [
    'spec.containers[0].volumeMounts[0].name: Not found: "data"',
  ]);
  t.deepEqual(one(POD('  containers: [{name: c, image: i, resources: {requests: {cpu: 600m}, limits: {cpu: "0.5"}}}]')), [
    'spec.containers[0].resources.requests[cpu]: Invalid value: "600m": must be less than or equal to cpu limit of 500m',
  ]);
  t.deepEqual(one(POD('  containers: [{name: c, image: i, ports: [{containerPort: 80, name: a-very-long-port-name}]}]')), [
    'spec.containers[0].ports[0].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters',
  ]);
  t.deepEqual(
    one('apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {scaleTargetRef: {kind: Deployment, name: d}, minReplicas: 3, maxReplicas: 2}\n'),
    ['spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`'],
  );
  t.deepEqual(
    one('apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n'),
    ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'],
  );
});

test('assertValid throws a ValidationError worded like kubectl', (t) => {
  const [pod] = parseManifests(POD('  containers: [{name: c}]'), 'p.yaml');
  const err = t.throws(() => assertValid(defaultObject(pod!)), { instanceOf: ValidationError });
  t.is(err!.message, 'The Pod "p" is invalid: spec.containers[0].image: Required value');
  t.is(err!.errors.length, 1);
  t.notThrows(() => assertValid(defaultObject(parseManifests(POD('  containers: [{name: c, image: i}]'), 'p.yaml')[0]!)));
});

test('validation never throws on garbage', (t) => {
  const garbage: unknown[] = [
    null,
    42,
    [],
    { apiVersion: 'v1', kind: 'Pod' },
    { apiVersion: 'v1', kind: 'Pod', metadata: 'x', spec: [] },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [null, 3, { name: 7 }] } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: 'x' } } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 'eighty' }] } },
  ];
  for (const g of garbage) {
    t.notThrows(() => validateObject(g));
    t.notThrows(() => validateObject(defaultObject(g as ApiObject)));
    t.true(validateObject(g).length > 0);
  }
});

// ---- updates ---------------------------------------------------------------------

const BASE_POD = POD(`  nodeName: ""
  containers: [{name: c, image: nginx:1.26, ports: [{containerPort: 80}]}]
  tolerations: [{key: a, operator: Exists}]`, 'name: p, uid: u1');

test('update: a pod may change images, add tolerations and be bound once', (t) => {
  const next = POD(`  nodeName: node-1
  containers: [{name: c, image: nginx:1.27, ports: [{containerPort: 80}]}]
  tolerations: [{key: a, operator: Exists}, {key: b, operator: Exists}]`, 'name: p, uid: u1');
  t.deepEqual(shapes(validate(next, { old: BASE_POD })), []);
});

test('update: any other pod spec change is forbidden', (t) => {
  const next = POD(`  containers: [{name: c, image: nginx:1.26, ports: [{containerPort: 81}]}]
  tolerations: []`, 'name: p, uid: u1');
  const errs = validate(next, { old: BASE_POD });
  t.deepEqual(shapes(errs), ['spec: Forbidden']);
  t.regex(errs[0]!.toString(), /^spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`/);
  t.regex(errs[0]!.toString(), /changed: spec\.containers, spec\.tolerations$/);
});

test('update: identity in metadata is immutable', (t) => {
  const next = POD('  containers: [{name: c, image: nginx:1.26, ports: [{containerPort: 80}]}]\n  tolerations: [{key: a, operator: Exists}]', 'name: q, uid: u2, namespace: other');
  t.deepEqual(shapes(validate(next, { old: BASE_POD })), [
    'metadata.name: Invalid value',
    'metadata.namespace: Invalid value',
    'metadata.uid: Invalid value',
  ]);
});

const DEPLOY = (labels: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {${labels}}}
  template:
    metadata: {labels: {app: web, tier: fe}}
    spec: {containers: [{name: c, image: i}]}
`;

test('update: a Deployment selector is immutable', (t) => {
  const errs = validate(DEPLOY('app: web, tier: fe'), { old: DEPLOY('app: web') });
  t.deepEqual(errs.map(String), ['spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"fe"}}: field is immutable']);
  t.deepEqual(validate(DEPLOY('app: web'), { old: DEPLOY('app: web') }), []);
});

test('update: a Job template is immutable', (t) => {
  const job = (image: string) =>
    `apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: ${image}}]}}}\n`;
  t.deepEqual(shapes(validate(job('b'), { old: job('a') })), ['spec.template: Invalid value']);
});

test('update: immutable ConfigMaps and Secrets keep their data', (t) => {
  const cm = (data: string, immutable: boolean) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nimmutable: ${immutable}\ndata: {${data}}\n`;
  t.deepEqual(shapes(validate(cm('a: "2"', true), { old: cm('a: "1"', true) })), ['data: Forbidden']);
  t.deepEqual(shapes(validate(cm('a: "1"', false), { old: cm('a: "1"', true) })), ['immutable: Forbidden']);
  t.deepEqual(shapes(validate(cm('a: "2"', false), { old: cm('a: "1"', false) })), []);
  const secret = (type: string) => `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: ${type}\ndata: {a: YQ==}\n`;
  t.deepEqual(shapes(validate(secret('example.com/custom'), { old: secret('Opaque') })), ['type: Invalid value']);
});

test('update: a deleting object gains no finalizers', (t) => {
  const cm = (fin: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, deletionTimestamp: "2024-01-01T00:00:00Z", finalizers: [${fin}]}\n`;
  t.deepEqual(shapes(validate(cm('a.io/x, b.io/y'), { old: cm('a.io/x') })), ['metadata.finalizers: Forbidden']);
  t.deepEqual(shapes(validate(cm(''), { old: cm('a.io/x') })), []);
});

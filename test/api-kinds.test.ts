import test from 'ava';
import { ExplainError, KINDS, checkSchema, explain, kindForVersion, lookupKind, schemaFor } from '../src/api/index.ts';

test('lookupKind resolves kinds, plurals, singulars and short names case-insensitively', (t) => {
  const table: [string, string | undefined][] = [
    ['po', 'Pod'],
    ['pods', 'Pod'],
    ['pod', 'Pod'],
    ['Pod', 'Pod'],
    ['PODS', 'Pod'],
    ['deploy', 'Deployment'],
    ['deployments.apps', 'Deployment'],
    ['deployment.apps', 'Deployment'],
    ['deployments.v1.apps', 'Deployment'],
    ['rs', 'ReplicaSet'],
    ['jobs', 'Job'],
    ['cj', 'CronJob'],
    ['cronjobs.batch', 'CronJob'],
    ['svc', 'Service'],
    ['ep', 'Endpoints'],
    ['endpoints', 'Endpoints'],
    ['cm', 'ConfigMap'],
    ['secret', 'Secret'],
    ['hpa', 'HorizontalPodAutoscaler'],
    ['horizontalpodautoscalers.autoscaling', 'HorizontalPodAutoscaler'],
    ['horizontalpodautoscalers.v1.autoscaling', 'HorizontalPodAutoscaler'],
    ['ev', 'Event'],
    ['ns', 'Namespace'],
    ['no', 'Node'],
    ['nodes', 'Node'],
    ['deployments.batch', undefined],
    ['daemonsets', undefined],
    ['', undefined],
  ];
  for (const [name, kind] of table) t.is(lookupKind(name)?.kind, kind, name);
});

test('registrations carry Kubernetes names and scopes', (t) => {
  t.deepEqual(lookupKind('deploy'), {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    group: 'apps',
    version: 'v1',
    servedVersions: ['apps/v1'],
    plural: 'deployments',
    singular: 'deployment',
    shortNames: ['deploy'],
    namespaced: true,
  });
  t.false(lookupKind('node')!.namespaced);
  t.false(lookupKind('namespace')!.namespaced);
  t.deepEqual(lookupKind('hpa')!.servedVersions, ['autoscaling/v2', 'autoscaling/v1']);
  t.is(kindForVersion('autoscaling/v1', 'HorizontalPodAutoscaler')?.apiVersion, 'autoscaling/v2');
  t.is(kindForVersion('batch/v1beta1', 'CronJob'), undefined);
  t.is(KINDS.length, 13);
  for (const k of KINDS) for (const v of k.servedVersions) t.truthy(schemaFor(v, k.kind), `${v} ${k.kind} has a schema`);
});

test('explain a field and its children, like kubectl explain', (t) => {
  const out = explain('pod.spec.containers');
  t.true(out.startsWith('KIND:       Pod\nVERSION:    v1\n\nFIELD: containers <[]Container> -required-\n\nDESCRIPTION:\n'));
  t.regex(out, /\n {2}image\t<string> -required-\n {4}Container image reference/);
  t.regex(out, /\n {2}imagePullPolicy\t<string>\n[^]*Possible values: Always, IfNotPresent, Never/);
  t.regex(out, /\n {2}resources\t<ResourceRequirements>\n/);
  t.is(explain('pods', 'spec.containers'), out);
  t.is(explain('po.spec.containers'), out);
});

test('explain a kind, nested objects, maps and scalars', (t) => {
  const kind = explain('deployments.apps');
  t.regex(kind, /^KIND: {7}Deployment\nVERSION: {4}v1\n\nDESCRIPTION:\n/);
  t.regex(kind, /\n {2}spec\t<DeploymentSpec>\n/);
  t.regex(explain('deploy.spec.strategy.rollingUpdate'), /\n {2}maxSurge\t<IntOrString>\n/);
  t.regex(explain('pod.spec.containers.resources.limits'), /FIELD: limits <map\[string\]Quantity>/);
  const scalar = explain('cm.data');
  t.regex(scalar, /FIELD: data <map\[string\]string>/);
  t.false(scalar.includes('FIELDS:'));
  t.regex(explain('hpa.spec.metrics'), /\n {2}resource\t<ResourceMetricSource>\n/);
});

test('explain errors use kubectl wording', (t) => {
  t.throws(() => explain('pod.spec.containerz'), { instanceOf: ExplainError, message: 'field "containerz" does not exist' });
  t.throws(() => explain('pod', 'spec.containers.image.foo'), { message: 'field "foo" does not exist' });
  t.throws(() => explain('daemonsets'), { message: 'the server doesn\'t have a resource type "daemonsets"' });
});

test('schema check cleans the object and reports by path', (t) => {
  const obj = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', labels: { a: null } },
    spec: { ports: [{ port: 'http' }, { port: 80, extra: true }], selector: null },
    bogus: 1,
  };
  const r = checkSchema(obj, schemaFor('v1', 'Service')!);
  t.deepEqual(r.errors.map(String), [
    'spec.ports[0].port: Invalid value: "http": must be of type integer',
    'unknown field "spec.ports[1].extra"',
    'unknown field "bogus"',
  ]);
  t.deepEqual(r.value, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', labels: { a: '' } },
    spec: { ports: [{}, { port: 80 }] },
  });
  t.deepEqual([...r.dropped], ['spec.ports[0].port']);
});

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultObject, parseManifestObjects, validateObject } from '../src/api/index.ts';

/**
 * Every example manifest from the Kubernetes website kept in shared/ is either
 * accepted (parsed, defaulted, validated with no error) or rejected with an
 * error naming exactly what berth does not serve.
 */
const EXAMPLES = join(import.meta.dirname, '..', '..', 'shared', 'k8s-examples');

/** Files rejected on purpose, with the one message each must produce (and why). */
const REJECTED: Record<string, string> = {
  // Kinds berth does not serve.
  'admin__resource__cpu-defaults.yaml': 'no kind "LimitRange" is registered for version "v1"',
  'admin__resource__quota-mem-cpu.yaml': 'no kind "ResourceQuota" is registered for version "v1"',
  'controllers__fluentd-daemonset.yaml': 'no kind "DaemonSet" is registered for version "apps/v1"',
  'policy__zookeeper-pod-disruption-budget-minavailable.yaml':
    'no kind "PodDisruptionBudget" is registered for version "policy/v1"',
  // CronJob at batch/v1beta1, which Kubernetes itself stopped serving in 1.25; berth serves batch/v1.
  'application__job__cronjob.yaml':
    'no kind "CronJob" is registered for version "batch/v1beta1" (berth serves CronJob as batch/v1)',
};

const files = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

test('the example set is the one this test was written for', (t) => {
  t.true(files.length >= 35, `found ${files.length} example files`);
  for (const name of Object.keys(REJECTED)) t.true(files.includes(name), `${name} is present`);
});

for (const file of files) {
  test(`k8s example ${file}`, (t) => {
    const objects = parseManifestObjects(readFileSync(join(EXAMPLES, file), 'utf8'), file);
    t.true(objects.length > 0, 'has at least one object');
    const messages = objects.flatMap(({ object }) => validateObject(defaultObject(object)).map(String));
    const expected = REJECTED[file];
    if (expected === undefined) t.deepEqual(messages, [], `${file} is accepted`);
    else t.deepEqual(messages, [expected], `${file} is rejected by name`);
  });
}

test('defaulting an example does not change the parsed input', (t) => {
  const [deploy] = parseManifestObjects(readFileSync(join(EXAMPLES, 'application__deployment-retainkeys.yaml'), 'utf8'), 'x');
  const before = JSON.stringify(deploy!.object);
  const defaulted = defaultObject(deploy!.object) as unknown as { spec: { replicas: number; strategy: unknown } };
  t.is(JSON.stringify(deploy!.object), before);
  t.is(defaulted.spec.replicas, 1);
  t.deepEqual(defaulted.spec.strategy, { rollingUpdate: { maxSurge: '30%', maxUnavailable: '25%' }, type: 'RollingUpdate' });
});

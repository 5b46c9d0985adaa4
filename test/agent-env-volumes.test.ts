/**
 * Container environment ($(VAR) expansion, envFrom, valueFrom of every kind), resources
 * (cgroup values, QoS, resourceFieldRef) and volumes (emptyDir, hostPath, configMap, secret,
 * downwardAPI; atomic writes and in-place updates; subPath).
 */
import test from 'ava';
import { existsSync, lstatSync, readFileSync, readlinkSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigMap, Pod, Secret } from '../src/api/index.ts';
import { writeAtomic } from '../src/agent/atomic-writer.ts';
import { ConfigError, containerEnv, expandVars, type PodContext } from '../src/agent/env.ts';
import { linuxResources, qosClass, resourceFieldValue } from '../src/agent/resources.ts';
import { noMounter, VolumeError, VolumeManager } from '../src/agent/volumes.ts';
import { makePod, sync, tmpDir, workerHarness } from './agent-helpers.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function ctx(pod: Pod, cms: ConfigMap[] = [], secrets: Secret[] = []): PodContext {
  return {
    pod,
    nodeName: 'node-1',
    hostIP: '192.0.2.10',
    podIPs: ['10.0.0.7'],
    node: { cpuMillis: 4000, memoryBytes: 8 * 1024 ** 3 },
    configMap: (ns, n) => cms.find((c) => c.metadata.name === n && (c.metadata.namespace ?? 'default') === ns),
    secret: (ns, n) => secrets.find((c) => c.metadata.name === n && (c.metadata.namespace ?? 'default') === ns),
  };
}

const cm = (name: string, data: Record<string, string>, binaryData?: Record<string, string>): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
  ...(binaryData ? { binaryData } : {}),
});
const secret = (name: string, data: Record<string, string>): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'default' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

test('$(VAR) expansion follows Kubernetes', (t) => {
  const vars: Record<string, string> = { A: 'x', B: 'y' };
  const f = (s: string) => expandVars(s, (n) => vars[n]);
  t.is(f('$(A)-$(B)'), 'x-y');
  t.is(f('$$(A)'), '$(A)');
  t.is(f('$(MISSING)'), '$(MISSING)');
  t.is(f('a$(b'), 'a$(b');
  t.is(f('cost: 5$'), 'cost: 5$');
  t.is(f('$A $$ $$$(A)'), '$A $ $x');
  t.is(f('plain'), 'plain');
});

test('env: envFrom, values with expansion, every valueFrom, command and args', (t) => {
  const pod = makePod(
    'envy',
    [
      {
        name: 'app',
        resources: { limits: { cpu: '500m' }, requests: { cpu: '250m', memory: '64Mi' } },
        envFrom: [{ configMapRef: { name: 'base' }, prefix: 'CFG_' }, { secretRef: { name: 'creds' } }],
        env: [
          { name: 'GREETING', value: 'hello $(CFG_who)' },
          { name: 'ESCAPED', value: '$$(GREETING)' },
          { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'base', key: 'who' } } },
          { name: 'BIN', valueFrom: { configMapKeyRef: { name: 'base', key: 'bin' } } },
          { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k', optional: true } } },
          { name: 'PASS', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'PODIP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'HOSTIP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
          { name: 'TIER', valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
          { name: 'CPU_LIMIT_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
          { name: 'CPU_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
          { name: 'MEM_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        ],
        command: ['/bin/echo', '$(GREETING)'],
        args: ['$(POD)', '$$(POD)', '$(NOPE)'],
      },
    ],
    {},
    { labels: { tier: 'web' } },
  );
  const out = containerEnv(pod.spec.containers[0]!, ctx(pod, [cm('base', { who: 'world', 'bad key': 'x' }, { bin: b64('bytes') })], [secret('creds', { password: 's3cret', USER: 'me' })]));
  const env = Object.fromEntries(out.env.map((e) => [e.name, e.value]));
  t.like(env, {
    CFG_who: 'world',
    USER: 'me',
    password: 's3cret',
    GREETING: 'hello world',
    ESCAPED: '$(GREETING)',
    FROM_CM: 'world',
    BIN: 'bytes',
    PASS: 's3cret',
    POD: 'envy',
    NS: 'default',
    UID: pod.metadata.uid,
    NODE: 'node-1',
    PODIP: '10.0.0.7',
    HOSTIP: '192.0.2.10',
    TIER: 'web',
    CPU_LIMIT_M: '500',
    CPU_REQ: '1',
    MEM_LIMIT: '8192',
  });
  t.false('OPT' in env);
  t.false('CFG_bad key' in env);
  t.deepEqual(out.command, ['/bin/echo', 'hello world']);
  t.deepEqual(out.args, ['envy', '$(POD)', '$(NOPE)']);
});

test('env: a missing ConfigMap, Secret or key is a ConfigError unless optional', (t) => {
  const mk = (env: object[], envFrom: object[] = []) => makePod('x', [{ name: 'c', env: env as never, envFrom: envFrom as never }]);
  const check = (pod: Pod, re: RegExp) => {
    const e = t.throws(() => containerEnv(pod.spec.containers[0]!, ctx(pod, [cm('base', { a: '1' })])));
    t.true(e instanceof ConfigError);
    t.regex(e!.message, re);
  };
  check(mk([{ name: 'A', valueFrom: { configMapKeyRef: { name: 'nope', key: 'a' } } }]), /configmap "nope" not found/);
  check(mk([{ name: 'A', valueFrom: { configMapKeyRef: { name: 'base', key: 'zz' } } }]), /couldn't find key zz in ConfigMap default\/base/);
  check(mk([{ name: 'A', valueFrom: { secretKeyRef: { name: 'nope', key: 'a' } } }]), /secret "nope" not found/);
  check(mk([], [{ configMapRef: { name: 'nope' } }]), /configmap "nope" not found/);
  const ok = mk([{ name: 'A', valueFrom: { configMapKeyRef: { name: 'base', key: 'zz', optional: true } } }], [{ secretRef: { name: 'nope', optional: true } }]);
  t.deepEqual(containerEnv(ok.spec.containers[0]!, ctx(ok, [cm('base', { a: '1' })])).env, []);
});

test('resources: cgroup values, QoS class, resourceFieldRef defaults', (t) => {
  const c = { name: 'c', resources: { requests: { cpu: '500m', memory: '64Mi' }, limits: { cpu: '250m', memory: '128Mi' } } };
  t.deepEqual(linuxResources(c), { cpuShares: 512, cpuQuota: 25_000, cpuPeriod: 100_000, memoryLimitBytes: 128 * 1024 * 1024, memoryRequestBytes: 64 * 1024 * 1024 });
  t.deepEqual(linuxResources({ name: 'c' }), { cpuShares: 2 });
  t.is(linuxResources({ name: 'c', resources: { requests: { cpu: '1m' } } }).cpuShares, 2);
  t.is(linuxResources({ name: 'c', resources: { limits: { cpu: '2' } } }).cpuShares, 2048); // request defaults to limit
  t.is(qosClass(makePod('a', [{ name: 'c' }])), 'BestEffort');
  t.is(qosClass(makePod('a', [{ name: 'c', resources: { limits: { cpu: '1', memory: '1Gi' } } }])), 'Guaranteed');
  t.is(qosClass(makePod('a', [{ name: 'c', resources: { requests: { cpu: '1' } } }])), 'Burstable');
  const node = { cpuMillis: 4000, memoryBytes: 1 << 30 };
  t.is(resourceFieldValue({ name: 'c' }, 'limits.cpu', undefined, node), '4');
  t.is(resourceFieldValue({ name: 'c' }, 'limits.memory', '1Mi', node), '1024');
  t.is(resourceFieldValue({ name: 'c', resources: { requests: { cpu: '1500m' } } }, 'requests.cpu', undefined, node), '2');
  t.throws(() => resourceFieldValue({ name: 'c' }, 'limits.gpu', undefined, node));
});

test('the atomic writer swaps ..data and updates in place', async (t) => {
  const dir = join(tmpDir('atomic'), 'vol');
  const f = (s: string, mode = 0o644) => ({ data: Buffer.from(s), mode });
  t.true(await writeAtomic(dir, new Map([['a', f('1')], ['sub/b', f('2', 0o600)]])));
  t.is(readFileSync(join(dir, 'a'), 'utf8'), '1');
  t.is(readFileSync(join(dir, 'sub/b'), 'utf8'), '2');
  t.is(statSync(join(dir, 'sub/b')).mode & 0o777, 0o600);
  t.true(lstatSync(join(dir, 'a')).isSymbolicLink());
  t.is(readlinkSync(join(dir, 'a')), '..data/a');
  const first = readlinkSync(join(dir, '..data'));
  t.false(await writeAtomic(dir, new Map([['a', f('1')], ['sub/b', f('2', 0o600)]])));
  t.is(readlinkSync(join(dir, '..data')), first);
  t.true(await writeAtomic(dir, new Map([['a', f('changed')]])));
  t.is(readFileSync(join(dir, 'a'), 'utf8'), 'changed');
  t.not(readlinkSync(join(dir, '..data')), first);
  t.false(existsSync(join(dir, 'sub')));
  t.deepEqual(readdirSync(dir).filter((n) => n.startsWith('..')).length, 2); // ..data and one timestamped dir
  await t.throwsAsync(writeAtomic(dir, new Map([['../evil', f('x')]])));
  await t.throwsAsync(writeAtomic(dir, new Map([['/abs', f('x')]])));
});

test('volumes: emptyDir, hostPath types, configMap/secret/downwardAPI files, subPath, teardown', async (t) => {
  const data = tmpDir('vols');
  const host = tmpDir('hostpath');
  const vm = new VolumeManager({ dataDir: data, mounter: noMounter, secretsOnTmpfs: false });
  const pod = makePod('v', [{ name: 'c', volumeMounts: [{ name: 'cache', mountPath: '/cache', subPath: 'x/y' }, { name: 'cfg', mountPath: '/etc/cfg' }, { name: 'sec', mountPath: '/s' }] }], {
    volumes: [
      { name: 'cache', emptyDir: {} },
      { name: 'mem', emptyDir: { medium: 'Memory' } },
      { name: 'host', hostPath: { path: join(host, 'made'), type: 'DirectoryOrCreate' } },
      { name: 'hostfile', hostPath: { path: join(host, 'f.txt'), type: 'FileOrCreate' } },
      { name: 'cfg', configMap: { name: 'app', items: [{ key: 'conf', path: 'app/app.conf', mode: 0o640 }] } },
      { name: 'cfgall', configMap: { name: 'app', defaultMode: 0o444 } },
      { name: 'opt', configMap: { name: 'absent', optional: true } },
      { name: 'sec', secret: { secretName: 'creds' } },
      { name: 'down', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }, { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
    ],
  }, { labels: { b: '2', a: '1' } });
  const c = ctx(pod, [cm('app', { conf: 'x=1', other: 'y' })], [secret('creds', { token: 't0k' })]);
  const vols = await vm.setup(c);
  const uid = pod.metadata.uid!;
  const podDir = join(data, 'pods', uid, 'volumes');
  t.is(vols.get('cache')!.hostPath, join(podDir, 'kubernetes.io~empty-dir', 'cache'));
  t.is(statSync(vols.get('cache')!.hostPath).mode & 0o777, 0o777);
  t.true(statSync(vols.get('mem')!.hostPath).isDirectory()); // no tmpfs without root: a directory
  t.true(statSync(join(host, 'made')).isDirectory());
  t.true(statSync(join(host, 'f.txt')).isFile());
  const cfg = vols.get('cfg')!;
  t.true(cfg.readOnly);
  t.is(readFileSync(join(cfg.hostPath, 'app/app.conf'), 'utf8'), 'x=1');
  t.is(statSync(join(cfg.hostPath, 'app/app.conf')).mode & 0o777, 0o640);
  t.false(existsSync(join(cfg.hostPath, 'other')));
  t.is(statSync(join(vols.get('cfgall')!.hostPath, 'other')).mode & 0o777, 0o444);
  t.deepEqual(readdirSync(vols.get('opt')!.hostPath).filter((n) => !n.startsWith('..')), []);
  t.is(readFileSync(join(vols.get('sec')!.hostPath, 'token'), 'utf8'), 't0k');
  t.is(statSync(join(vols.get('sec')!.hostPath, 'token')).mode & 0o777, 0o400);
  t.is(readFileSync(join(vols.get('down')!.hostPath, 'name'), 'utf8'), 'v');
  t.is(readFileSync(join(vols.get('down')!.hostPath, 'labels'), 'utf8'), 'a="1"\nb="2"');

  const mounts = await vm.mountsFor(pod.spec.containers[0]!, vols, []);
  t.deepEqual(mounts[0], { containerPath: '/cache', hostPath: join(vols.get('cache')!.hostPath, 'x/y'), readonly: false });
  t.true(statSync(mounts[0]!.hostPath).isDirectory()); // subPath made inside the emptyDir
  t.is(mounts[1]!.readonly, true);
  const bad = makePod('b', [{ name: 'c', volumeMounts: [{ name: 'cache', mountPath: '/x', subPath: '../../etc' }] }]);
  await t.throwsAsync(vm.mountsFor(bad.spec.containers[0]!, vols, []), { instanceOf: VolumeError });

  // Errors name the volume and say what is missing.
  const missing = makePod('m', [{ name: 'c' }], { volumes: [{ name: 'cfg', configMap: { name: 'nope' } }] });
  await t.throwsAsync(vm.setup(ctx(missing)), { instanceOf: VolumeError, message: /configmap "nope" not found/ });
  const notDir = makePod('n', [{ name: 'c' }], { volumes: [{ name: 'h', hostPath: { path: join(host, 'absent'), type: 'Directory' } }] });
  await t.throwsAsync(vm.setup(ctx(notDir)), { instanceOf: VolumeError, message: /is not a directory/ });
  const pvc = makePod('p', [{ name: 'c' }], { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'x' } }] });
  await t.throwsAsync(vm.setup(ctx(pvc)), { instanceOf: VolumeError, message: /not supported/ });

  await vm.teardown(uid);
  t.false(existsSync(join(data, 'pods', uid)));
  t.true(existsSync(join(host, 'made'))); // hostPath is the host's, never removed
});

test('a changed ConfigMap updates the running pod’s volume in place', async (t) => {
  const pod = makePod('cfg', [{ name: 'c0', volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }] }], { volumes: [{ name: 'cfg', configMap: { name: 'app' } }] });
  const h = workerHarness(pod);
  // Until the ConfigMap exists the pod waits in ContainerCreating, saying why.
  await sync(h);
  const waiting = h.status()!.containerStatuses![0]!.state?.waiting;
  t.is(waiting?.reason, 'ContainerCreating');
  t.regex(waiting?.message ?? '', /configmap "app" not found/);
  t.is(h.runtime.containerCount, 0);
  h.configMaps.set('default/app', cm('app', { 'app.conf': 'v=1' }));
  await sync(h);
  t.truthy(h.status()!.containerStatuses![0]!.state?.running);
  const [c] = await h.runtime.listContainers();
  const dir = join(h.dataDir, 'pods', pod.metadata.uid!, 'volumes', 'kubernetes.io~configmap', 'cfg');
  t.is(readFileSync(join(dir, 'app.conf'), 'utf8'), 'v=1');
  h.configMaps.set('default/app', cm('app', { 'app.conf': 'v=2', 'extra.conf': 'e' }));
  await sync(h);
  t.is(readFileSync(join(dir, 'app.conf'), 'utf8'), 'v=2');
  t.is(readFileSync(join(dir, 'extra.conf'), 'utf8'), 'e');
  // Same container: volumes change under it, nothing restarts.
  const [c2] = await h.runtime.listContainers();
  t.is(c2!.id, c!.id);
  t.is(h.status()!.containerStatuses![0]!.restartCount, 0);
});

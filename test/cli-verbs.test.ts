/**
 * The newer CLI verbs end to end against a real three-replica cluster (ServerCluster:
 * `berth server` child processes with the leader's scheduler and controllers): create,
 * get -o jsonpath/custom-columns/--sort-by/-w, describe, label, annotate, scale, rollout,
 * apply --wait, delete --cascade/--force/--wait, edit, cordon, uncordon, drain, taint,
 * explain, events and completion.
 *
 * The verbs run in this process against the cluster (as main.ts runs them, with its error
 * printing); a few run as the real `berth` child process for exit codes and streaming.
 * There are no node agents: the test registers Nodes itself and plays the agent where a
 * test needs pods to become ready or to finish terminating. When the controllers are not
 * running, the tests write the statuses the controllers would have written.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { BerthClient, type PlainObject } from '../src/client/client.ts';
import { ConfigError } from '../src/cli/config.ts';
import { FlagError } from '../src/cli/flags.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { runApply } from '../src/cli/commands/apply.ts';
import type { Io } from '../src/cli/commands/common.ts';
import { runDelete } from '../src/cli/commands/delete.ts';
import { runGet } from '../src/cli/commands/get.ts';
import { runVerb } from '../src/cli/commands/verbs.ts';
import { CliError, formatError } from '../src/cli/output/errors.ts';

process.env.TZ = 'UTC';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'berth-cli-verbs-'));
const configFile = join(dir, 'config');
let cluster: ServerCluster;
let client: BerthClient;
/** Whether the leader runs the controllers (else the tests write their statuses). */
let controllers = false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const ENV = () => ({ ...process.env, BERTH_CONFIG: configFile, BERTH_SERVER: '', NO_COLOR: '1' });

/** A verb run in this process, its errors printed as main.ts prints them. */
async function berth(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    write: (s) => void out.push(s),
    error: (s) => void err.push(s),
    stdin: Readable.from(opts.input !== undefined ? [opts.input] : []),
    env: { ...ENV(), ...opts.env },
    now: () => Date.now(),
    tty: false,
  };
  const [cmd, ...rest] = args;
  let code: number;
  try {
    if (cmd === 'get') code = await runGet(rest, io);
    else if (cmd === 'delete') code = await runDelete(rest, io);
    else if (cmd === 'apply') code = await runApply(rest, io);
    else code = await runVerb(cmd!, rest, io);
  } catch (e) {
    code = 1;
    if (e instanceof FlagError) err.push(`error: ${e.message}\nSee 'berth ${cmd} --help' for usage.\n`);
    else if (e instanceof CliError || e instanceof ConfigError) err.push(`error: ${e.message}\n`);
    else err.push(formatError(e));
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** The real `berth` process. */
function berthProc(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...ENV(), ...opts.env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && code === -1) reject(err);
      else resolve({ code, stdout, stderr });
    });
  });
}

/** Ages (`5s`, `3m12s`, `2d`) replaced by AGE, for comparing tables and descriptions. */
const ages = (s: string) => s.replace(/\b(\d+[smhdy])+\b/g, 'AGE');

function file(name: string, text: string, mode?: number): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  if (mode) chmodSync(p, mode);
  return p;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

const nowText = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const meta = (o: PlainObject) => o.metadata as Record<string, unknown>;

/** Writes an object's status, retrying when a controller wrote it first. */
async function writeStatus(kind: string, ns: string, name: string, status: (o: PlainObject) => Record<string, unknown>): Promise<void> {
  for (let i = 0; ; i++) {
    const cur = await client.get(kind, ns, name);
    try {
      await client.updateStatus({ ...cur, status: status(cur) });
      return;
    } catch (e) {
      if (i > 20) throw e;
      await sleep(50);
    }
  }
}

/** A node as an agent would register it: Ready, with capacity. */
async function registerNode(name: string, ip: string): Promise<void> {
  await client.create({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
  await writeStatus('nodes', '', name, () => ({
    capacity: { cpu: '4', memory: '8Gi', pods: '110' },
    allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: nowText(), lastTransitionTime: nowText() }],
    addresses: [{ type: 'InternalIP', address: ip }],
    nodeInfo: { kubeletVersion: 'v0.1.0', operatingSystem: 'linux', architecture: 'amd64' },
  }));
}

/** Plays the agent for a pod: running, ready. */
async function markReady(ns: string, name: string): Promise<void> {
  await writeStatus('pods', ns, name, (cur) => ({
    phase: 'Running',
    hostIP: '10.0.0.11',
    podIP: '10.244.0.9',
    podIPs: [{ ip: '10.244.0.9' }],
    startTime: nowText(),
    conditions: [
      { type: 'Initialized', status: 'True' },
      { type: 'Ready', status: 'True', lastTransitionTime: nowText() },
      { type: 'ContainersReady', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
    ],
    containerStatuses: ((cur.spec as { containers: { name: string; image: string }[] }).containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: nowText() } },
    })),
  }));
}

/** Plays the agent for terminating pods: confirms their end (until stopped). */
function confirmTerminations(): () => void {
  let stop = false;
  void (async () => {
    while (!stop) {
      const pods = await client.list('pods', {}).catch(() => ({ items: [] as PlainObject[] }));
      for (const p of pods.items) {
        if (meta(p).deletionTimestamp && (p.spec as Record<string, unknown>).nodeName) {
          await client.delete('pods', String(meta(p).namespace), String(meta(p).name), { gracePeriodSeconds: 0 }).catch(() => undefined);
        }
      }
      await sleep(100);
    }
  })();
  return () => {
    stop = true;
  };
}

test.before(async () => {
  const ports = await freePorts(6);
  cluster = new ServerCluster({
    size: 3,
    dir: join(dir, 'cluster'),
    peerPorts: ports.slice(0, 3),
    apiPorts: ports.slice(3),
    // Nodes registered by the test never heartbeat: keep them Ready for the run.
    extraArgs: ['--quiet', '--node-monitor-grace-period', '10m'],
  });
  await cluster.startAll();
  writeFileSync(configFile, `current-context: verbs\ncontexts:\n- name: verbs\n  servers: [${cluster.apiAddresses().join(', ')}]\n`);
  client = new BerthClient({ endpoints: cluster.apiAddresses(), timeoutMs: 5000 });
  await until('the default namespace', async () => ((await client.get('namespaces', '', 'default')) ? true : undefined));
  await registerNode('node-a', '10.0.0.11');
  await registerNode('node-b', '10.0.0.12');
  // Do the controllers run? A Deployment of no replicas gets its status observed at once if so.
  await client.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'probe', namespace: 'default' },
    spec: { replicas: 0, selector: { matchLabels: { app: 'probe' } }, template: { metadata: { labels: { app: 'probe' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  });
  controllers = await until('controllers', async () => ((await client.get('deployments', 'default', 'probe')).status as Record<string, unknown> | undefined)?.observedGeneration !== undefined || undefined, 5000).catch(() => false);
  await client.delete('deployments', 'default', 'probe');
});

test.after.always(async () => {
  client?.close();
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const DEPLOY = (name: string, replicas: number, image = 'nginx:1.27', extra: Record<string, unknown> = {}) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: {app: ${name}}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: web
        image: ${image}
${Object.entries(extra).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join('')}`;

/** Without controllers, a Deployment's status as its controller would write it. */
async function observeDeployment(name: string, status: Record<string, unknown>): Promise<void> {
  if (controllers) return;
  await writeStatus('deployments', 'default', name, (cur) => ({ observedGeneration: meta(cur).generation, ...status }));
}

// ---- create ----------------------------------------------------------------------------------

test.serial('create: -f creates and refuses what exists; generators; --dry-run -o yaml', async (t) => {
  const f = file('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: made\n  labels: {team: a}\ndata: {color: blue}\n');
  const first = await berth(['create', '-f', f]);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout, 'configmap/made created\n');
  const again = await berth(['create', '-f', f]);
  t.is(again.code, 1);
  t.is(again.stderr, `Error from server (AlreadyExists): error when creating "${f}": configmaps "made" already exists\n`);

  t.is((await berth(['create', 'namespace', 'shop'])).stdout, 'namespace/shop created\n');
  const cm = await berth(['create', 'configmap', 'lit', '-n', 'shop', '--from-literal=a=1', '--from-literal', 'b=two']);
  t.is(cm.stdout, 'configmap/lit created\n');
  t.deepEqual((await client.get('configmaps', 'shop', 'lit')).data, { a: '1', b: 'two' });
  const secret = await berth(['create', 'secret', 'generic', 'pw', '--from-literal=password=s3cret']);
  t.is(secret.stdout, 'secret/pw created\n');
  t.deepEqual((await client.get('secrets', 'default', 'pw')).data, { password: Buffer.from('s3cret').toString('base64') });
  const svc = await berth(['create', 'service', 'clusterip', 'front', '--tcp=80:8080']);
  t.is(svc.stdout, 'service/front created\n');

  const dry = await berth(['create', 'deployment', 'gen', '--image=registry.local/nginx:1.27', '--replicas=2', '--port=80', '--dry-run=client', '-o', 'yaml']);
  t.is(dry.code, 0, dry.stderr);
  t.deepEqual(parseYaml(dry.stdout), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { labels: { app: 'gen' }, name: 'gen', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'gen' } },
      template: { metadata: { labels: { app: 'gen' } }, spec: { containers: [{ image: 'registry.local/nginx:1.27', name: 'nginx', ports: [{ containerPort: 80 }] }] } },
    },
  });
  t.is((await berth(['get', 'deploy', 'gen', '--ignore-not-found'])).stdout, '');
  const noImage = await berth(['create', 'deployment', 'x']);
  t.is(noImage.code, 1);
  t.is(noImage.stderr, 'error: required flag(s) "image" not set\n');
});

// ---- get --------------------------------------------------------------------------------------

test.serial('get: -o jsonpath, custom-columns, --sort-by, --no-headers, --show-labels', async (t) => {
  for (const [name, color] of [['c-10', 'red'], ['c-9', 'green'], ['c-1', 'blue']]) {
    await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'shop', labels: { set: 'c' } }, data: { color: color! } });
  }
  const names = await berth(['get', 'cm', '-n', 'shop', '-l', 'set=c', '-o', 'jsonpath={.items[*].metadata.name}']);
  t.is(names.stdout, 'c-1 c-10 c-9');
  const range = await berth(['get', 'cm', '-n', 'shop', '-l', 'set=c', '--sort-by=.metadata.name', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.data.color}{"\\n"}{end}']);
  t.is(range.stdout, 'c-1=blue\nc-9=green\nc-10=red\n');
  const one = await berth(['get', 'cm', 'c-9', '-n', 'shop', '-o', 'jsonpath={.data.color}']);
  t.is(one.stdout, 'green');
  const cols = await berth(['get', 'cm', '-n', 'shop', '-l', 'set=c', '--sort-by', '{.data.color}', '-o', 'custom-columns=NAME:.metadata.name,COLOR:.data.color,MISSING:.spec.nothing']);
  t.is(cols.stdout, 'NAME   COLOR   MISSING\nc-1    blue    <none>\nc-9    green   <none>\nc-10   red     <none>\n');
  const noHeaders = await berth(['get', 'cm', '-n', 'shop', '-l', 'set=c', '--sort-by=.metadata.name', '--no-headers', '--show-labels']);
  t.regex(noHeaders.stdout, /^c-1    1     \S+\s+set=c\nc-9    1     \S+\s+set=c\nc-10   1     \S+\s+set=c\n$/);
  const asJson = await berth(['get', 'cm', '-n', 'shop', '-l', 'set=c', '-o', 'jsonpath-as-json={.items[*].data.color}']);
  t.deepEqual(JSON.parse(asJson.stdout).sort(), ['blue', 'green', 'red']);
  const badPath = await berth(['get', 'cm', '-n', 'shop', '-o', 'jsonpath={.items[*'], {});
  t.is(badPath.code, 1);
  t.is(badPath.stderr, 'error: error parsing jsonpath {.items[*, unclosed action\n');
  const badSort = await berth(['get', 'cm', '-n', 'shop', '-l', 'set=c', '--sort-by=.nope']);
  t.is(badSort.stderr, 'error: couldn\'t find any field with path "{.nope}" in the list of objects\n');
  const badFormat = await berth(['get', 'cm', '-o', 'toml']);
  t.regex(badFormat.stderr, /^error: unable to match a printer suitable for the output format "toml", allowed formats are: custom-columns,/);
});

test.serial('get -w (the real process): the list, then every change as a row', async (t) => {
  await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched', namespace: 'shop', labels: { set: 'w' } }, data: { a: '1' } });
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'get', 'cm', '-n', 'shop', '-l', 'set=w', '-w'], { env: ENV() });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await until('the listed row', async () => (out.includes('watched') ? true : undefined));
  await sleep(300);
  const cm = await client.get('configmaps', 'shop', 'watched');
  await client.update({ ...cm, data: { a: '1', b: '2' } });
  await until('the modified row', async () => (out.split('\n').filter((l) => l.startsWith('watched')).length >= 2 ? true : undefined));
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.is(ages(out), 'NAME      DATA   AGE\nwatched   1      AGE\nwatched   2      AGE\n');
});

// ---- describe ---------------------------------------------------------------------------------

test.serial('describe: a ConfigMap with its events; prefixes; several objects; NotFound', async (t) => {
  const cm = await client.get('configmaps', 'default', 'made');
  const ev = (name: string, reason: string, msg: string, agoMs: number, count = 1) => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: 'default' },
    involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'made', namespace: 'default', uid: meta(cm).uid },
    reason,
    message: msg,
    type: reason === 'Odd' ? 'Warning' : 'Normal',
    source: { component: 'tester' },
    firstTimestamp: new Date(Date.now() - agoMs - 60_000).toISOString(),
    lastTimestamp: new Date(Date.now() - agoMs).toISOString(),
    count,
  });
  await client.create(ev('made.1', 'Checked', 'looked at it', 120_000));
  await client.create(ev('made.2', 'Odd', 'something odd ', 5000, 3));
  const d = await berth(['describe', 'configmap', 'made']);
  t.is(d.code, 0, d.stderr);
  // Ages change the widths of the Events table: compare it with runs of spaces as one.
  t.is(
    ages(d.stdout).replace(/ {2,}/g, '  '),
    `Name:  made
Namespace:  default
Labels:  team=a
Annotations:  <none>

Data
====
color:
----
blue


BinaryData
====

Events:
  Type  Reason  Age  From  Message
  ----  ------  ----  ----  -------
  Normal  Checked  AGE  tester  looked at it
  Warning  Odd  AGE (x3 over AGE)  tester  something odd
`,
  );
  // A prefix describes every object whose name starts with it, separated by a blank line.
  const prefixed = await berth(['describe', 'cm', 'c-', '-n', 'shop', '--show-events=false']);
  t.is(prefixed.code, 0, prefixed.stderr);
  t.is(prefixed.stdout.split('\n\n\nName:').length, 3);
  t.regex(prefixed.stdout, /^Name:\s+c-1\n/);
  const missing = await berth(['describe', 'deploy', 'nope']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'Error from server (NotFound): deployments.apps "nope" not found\n');
  const none = await berth(['describe', 'pods', '-n', 'shop']);
  t.is(none.stderr, 'No resources found in shop namespace.\n');
});

test.serial('describe: a Node with its pods and what they request; a Service with its endpoints', async (t) => {
  await client.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pinned', namespace: 'default' },
    spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } } }] },
  });
  const d = await berth(['describe', 'node', 'node-a', '--show-events=false']);
  t.is(d.code, 0, d.stderr);
  t.regex(d.stdout, /^Name:\s+node-a\nRoles:\s+<none>\nLabels:\s+kubernetes\.io\/hostname=node-a\n/);
  t.regex(d.stdout, /\nConditions:\n  Type\s+Status\s+LastHeartbeatTime\s+LastTransitionTime\s+Reason\s+Message\n/);
  t.regex(d.stdout, /\n  Ready\s+True\s+\w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000\s+.*KubeletReady\s+ready\n/);
  t.regex(d.stdout, /\nAddresses:\n  InternalIP:  10\.0\.0\.11\nCapacity:\n  cpu:     4\n  memory:  8Gi\n  pods:    110\n/);
  t.regex(d.stdout, /\n  default\s+pinned\s+250m \(6%\)\s+500m \(12%\)\s+256Mi \(3%\)\s+512Mi \(6%\)\s+\S+\n/);
  t.regex(d.stdout, /\n  cpu\s+250m \(6%\)\s+500m \(12%\)\n  memory\s+256Mi \(3%\)\s+512Mi \(6%\)\n  ephemeral-storage\s+0 \(0%\)\s+0 \(0%\)\n$/);
  await client.delete('pods', 'default', 'pinned', { gracePeriodSeconds: 0 });

  const svc = await berth(['describe', 'svc', 'front', '--show-events=false']);
  t.is(svc.code, 0, svc.stderr);
  t.regex(svc.stdout, /^Name:\s+front\nNamespace:\s+default\nLabels:\s+app=front\nAnnotations:\s+<none>\nSelector:\s+app=front\nType:\s+ClusterIP\n/);
  t.regex(svc.stdout, /\nPort:\s+80-8080  80\/TCP\nTargetPort:\s+8080\/TCP\nEndpoints:\s+\S+\nSession Affinity:\s+None\n/);
});

// ---- label / annotate ------------------------------------------------------------------------

test.serial('label and annotate: set, --overwrite, remove, --list, -l, --all', async (t) => {
  t.is((await berth(['label', 'cm', 'made', 'tier=front'])).stdout, 'configmap/made labeled\n');
  const clash = await berth(['label', 'configmap/made', 'tier=back']);
  t.is(clash.code, 1);
  t.is(clash.stderr, "error: 'tier' already has a value (front), and --overwrite is false\n");
  t.is((await berth(['label', 'cm', 'made', 'tier=back', '--overwrite'])).stdout, 'configmap/made labeled\n');
  t.is((await berth(['label', 'cm', 'made', 'tier=back'])).stdout, 'configmap/made not labeled\n');
  t.is((await berth(['label', 'cm', 'made', '--list'])).stdout, 'team=a\ntier=back\n');
  t.is((await berth(['label', 'cm', 'made', 'tier-'])).stdout, 'configmap/made unlabeled\n');
  const gone = await berth(['label', 'cm', 'made', 'nothere-']);
  t.is(gone.stdout, 'label "nothere" not found.\nconfigmap/made not labeled\n');
  const bySelector = await berth(['label', 'cm', '-n', 'shop', '-l', 'set=c', 'checked=yes']);
  t.is(bySelector.stdout, 'configmap/c-1 labeled\nconfigmap/c-10 labeled\nconfigmap/c-9 labeled\n');
  const all = await berth(['annotate', 'cm', '--all', '-n', 'shop', 'owner=team-a']);
  t.regex(all.stdout, /^(configmap\/\S+ annotated\n)+$/);
  t.is((await berth(['annotate', 'cm', 'c-1', '-n', 'shop', 'owner=team-b'])).stderr, "error: --overwrite is false but found the following declared annotation(s): 'owner' already has a value (team-a)\n");
  t.deepEqual(meta(await client.get('configmaps', 'shop', 'c-1')).annotations, { owner: 'team-a' });
  const bad = await berth(['label', 'cm', 'made', 'Bad Key=1']);
  t.is(bad.stderr, 'error: invalid label spec: Bad Key=1\n');
  const missing = await berth(['label', 'cm', 'nope', 'a=b']);
  t.is(missing.stderr, 'Error from server (NotFound): configmaps "nope" not found\n');
});

// ---- scale / rollout ---------------------------------------------------------------------------

test.serial('scale: --replicas, --current-replicas precondition, kinds without replicas', async (t) => {
  t.is((await berth(['apply', '-f', file('hist.yaml', DEPLOY('hist', 0, 'nginx:1.25'))])).code, 0);
  t.is((await berth(['scale', 'deploy/hist', '--replicas=0'])).stdout, 'deployment.apps/hist scaled\n');
  const pre = await berth(['scale', 'deploy', 'hist', '--current-replicas=2', '--replicas=3']);
  t.is(pre.code, 1);
  t.is(pre.stderr, 'error: Expected replicas to be 2, was 0\n');
  const cm = await berth(['scale', 'cm', 'made', '--replicas=2']);
  t.is(cm.stderr, 'error: cannot scale configmaps: only deployments and replicasets have a number of replicas\n');
  const noFlag = await berth(['scale', 'deploy/hist']);
  t.is(noFlag.stderr, 'error: required flag(s) "replicas" not set\n');
});

/** A ReplicaSet of a Deployment as its controller would make it (when the controllers do not run). */
async function revisionSet(d: PlainObject, revision: number, image: string): Promise<void> {
  const hash = `h${revision}`;
  await client.create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${String(meta(d).name)}-${hash}`,
      namespace: 'default',
      labels: { app: String(meta(d).name), 'pod-template-hash': hash },
      annotations: { 'deployment.kubernetes.io/revision': String(revision) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: String(meta(d).name), uid: String(meta(d).uid), controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: String(meta(d).name), 'pod-template-hash': hash } },
      template: { metadata: { labels: { app: String(meta(d).name), 'pod-template-hash': hash } }, spec: { containers: [{ name: 'web', image }] } },
    },
  });
}

async function setImage(name: string, image: string): Promise<void> {
  for (let i = 0; ; i++) {
    const d = await client.get('deployments', 'default', name);
    const spec = structuredClone(d.spec) as { template: { spec: { containers: { image: string }[] } } };
    spec.template.spec.containers[0]!.image = image;
    try {
      await client.update({ ...d, spec });
      return;
    } catch (e) {
      if (i > 10) throw e;
    }
  }
}

test.serial('rollout history and undo: revisions of the ReplicaSets, back to a revision', async (t) => {
  const d0 = await client.get('deployments', 'default', 'hist');
  if (controllers) {
    await until('revision 1', async () => (await berth(['rollout', 'history', 'deploy/hist'])).stdout.includes('\n1 ') || undefined);
    await setImage('hist', 'nginx:1.26');
    await until('revision 2', async () => (await berth(['rollout', 'history', 'deploy/hist'])).stdout.includes('\n2 ') || undefined);
    await setImage('hist', 'nginx:1.27');
    await until('revision 3', async () => (await berth(['rollout', 'history', 'deploy/hist'])).stdout.includes('\n3 ') || undefined);
  } else {
    await setImage('hist', 'nginx:1.27');
    for (const [rev, image] of [[1, 'nginx:1.25'], [2, 'nginx:1.26'], [3, 'nginx:1.27']] as const) await revisionSet(d0, rev, image);
  }
  const history = await berth(['rollout', 'history', 'deployment/hist']);
  t.is(history.code, 0, history.stderr);
  t.is(history.stdout, 'deployment.apps/hist \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n3         <none>\n\n');
  const rev1 = await berth(['rollout', 'history', 'deploy', 'hist', '--revision=1']);
  t.regex(rev1.stdout, /^deployment\.apps\/hist with revision #1\nPod Template:\n  Labels:\tapp=hist\n\tpod-template-hash=\S+\n  Containers:\n   web:\n    Image:\tnginx:1\.25\n/);

  const undo = await berth(['rollout', 'undo', 'deploy/hist']);
  t.is(undo.code, 0, undo.stderr);
  t.is(undo.stdout, 'deployment.apps/hist rolled back\n');
  const after = await client.get('deployments', 'default', 'hist');
  const template = (after.spec as { template: { metadata: { labels: Record<string, string> }; spec: { containers: { image: string }[] } } }).template;
  t.is(template.spec.containers[0]!.image, 'nginx:1.26');
  t.deepEqual(template.metadata.labels, { app: 'hist' });
  if (!controllers) {
    // Where the controller would have moved revision 2 to 4.
    await client.delete('replicasets', 'default', 'hist-h2');
    await revisionSet(d0, 4, 'nginx:1.26');
  }
  const to = await berth(['rollout', 'undo', 'deploy/hist', '--to-revision=1']);
  t.is(to.stdout, 'deployment.apps/hist rolled back\n');
  t.is(((await client.get('deployments', 'default', 'hist')).spec as typeof after.spec & { template: typeof template }).template.spec.containers[0]!.image, 'nginx:1.25');
  const missing = await berth(['rollout', 'undo', 'deploy/hist', '--to-revision=42']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'error: unable to find specified revision 42 in history\n');
  const notDeploy = await berth(['rollout', 'history', 'cm/made']);
  t.is(notDeploy.stderr, 'error: no history viewer has been implemented for ConfigMap\n');
});

test.serial('rollout pause, resume, restart', async (t) => {
  t.is((await berth(['rollout', 'pause', 'deploy/hist'])).stdout, 'deployment.apps/hist paused\n');
  t.is((await berth(['rollout', 'pause', 'deploy/hist'])).stderr, 'error: deployments.apps "hist" is already paused\n');
  t.is((await berth(['rollout', 'restart', 'deploy/hist'])).stderr, "error: can't restart paused deployment (run rollout resume first)\n");
  t.regex((await berth(['rollout', 'undo', 'deploy/hist'])).stderr, /^error: you cannot rollback a paused deployment/);
  t.is((await berth(['rollout', 'resume', 'deploy/hist'])).stdout, 'deployment.apps/hist resumed\n');
  t.is((await berth(['rollout', 'resume', 'deploy/hist'])).stderr, 'error: deployments.apps "hist" is not paused\n');
  const before = Date.now() - 1000;
  t.is((await berth(['rollout', 'restart', 'deploy/hist'])).stdout, 'deployment.apps/hist restarted\n');
  const d = await client.get('deployments', 'default', 'hist');
  const at = (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['kubectl.kubernetes.io/restartedAt']!;
  t.true(Date.parse(at) >= before - 1000, at);
});

test.serial('rollout status: live progress until rolled out; --watch=false; --timeout; a missed progress deadline', async (t) => {
  t.is((await berth(['apply', '-f', file('live.yaml', DEPLOY('live', 2))])).code, 0);
  await observeDeployment('live', { replicas: 2, updatedReplicas: 2, unavailableReplicas: 2 });
  const once = await until('the rollout to be observed', async () => {
    const r = await berth(['rollout', 'status', 'deploy/live', '--watch=false']);
    return r.stdout.includes('of 2 updated') ? r : undefined;
  });
  t.is(once.stdout, 'Waiting for deployment "live" rollout to finish: 0 of 2 updated replicas are available...\n');
  const timedOut = await berth(['rollout', 'status', 'deploy/live', '--timeout=1s']);
  t.is(timedOut.code, 1);
  t.is(timedOut.stdout, 'Waiting for deployment "live" rollout to finish: 0 of 2 updated replicas are available...\n');
  t.is(timedOut.stderr, 'error: timed out waiting for the condition\n');

  const status = berth(['rollout', 'status', 'deployment', 'live', '--timeout=60s']);
  await sleep(500);
  if (controllers) {
    // Play the agent: the scheduled pods become ready, one after the other.
    const pods = await until('two scheduled pods', async () => {
      const l = await client.list('pods', { namespace: 'default', labelSelector: 'app=live' });
      return l.items.length === 2 && l.items.every((p) => (p.spec as Record<string, unknown>).nodeName) ? l.items : undefined;
    });
    await markReady('default', String(meta(pods[0]!).name));
    await sleep(500);
    await markReady('default', String(meta(pods[1]!).name));
  } else {
    await observeDeployment('live', { replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1 });
    await sleep(300);
    await observeDeployment('live', { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
  }
  const r = await status;
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines[0], 'Waiting for deployment "live" rollout to finish: 0 of 2 updated replicas are available...');
  t.true(lines.includes('Waiting for deployment "live" rollout to finish: 1 of 2 updated replicas are available...'), r.stdout);
  t.is(lines[lines.length - 1], 'deployment "live" successfully rolled out');
  t.is(ages((await berth(['get', 'deploy', 'live', '--no-headers'])).stdout), 'live   2/2   2     2     AGE\n');

  // A rollout that cannot finish in its progress deadline fails with kubectl's words.
  t.is((await berth(['apply', '-f', file('stuck.yaml', DEPLOY('stuck', 1, 'nginx:1.27', { progressDeadlineSeconds: 1 }))])).code, 0);
  if (!controllers) {
    await observeDeployment('stuck', { replicas: 1, updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] });
  }
  const stuck = await berthProc(['rollout', 'status', 'deploy/stuck', '--timeout=30s']);
  t.is(stuck.code, 1);
  t.is(stuck.stderr, 'error: deployment "stuck" exceeded its progress deadline\n');
  t.regex(stuck.stdout, /^(Waiting for deployment "stuck" rollout to finish: .*\n)*$/);
});

test.serial('apply --wait: a Pod until ready (live lines), a failing Pod with its reason', async (t) => {
  const pod = (name: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  nodeName: node-b
  containers:
  - name: c
    image: busybox
`;
  const applying = berth(['apply', '-f', file('waitpod.yaml', pod('waited')), '--wait', '--timeout=30s']);
  await until('the pod', async () => client.get('pods', 'default', 'waited'));
  await sleep(300);
  await markReady('default', 'waited');
  const r = await applying;
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'pod/waited created\nWaiting for pod "waited" to be ready: Pending (0/1 containers ready)...\npod/waited condition met\n');

  const failing = berth(['apply', '-f', file('failpod.yaml', pod('doomed')), '--wait']);
  await until('the pod', async () => client.get('pods', 'default', 'doomed'));
  await sleep(300);
  await writeStatus('pods', 'default', 'doomed', () => ({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }));
  const f = await failing;
  t.is(f.code, 1);
  t.is(f.stderr, 'error: pod "doomed" failed: Evicted: The node was low on resource: memory.\n');
  const stop = confirmTerminations();
  await berth(['delete', 'pod', 'waited', 'doomed', '--wait']);
  stop();
});

test.serial('apply --wait: a Job until complete', async (t) => {
  const job = `apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  backoffLimit: 0
  template:
    spec:
      nodeName: node-a
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
`;
  const applying = berth(['apply', '-f', file('job.yaml', job), '--wait', '--timeout=30s']);
  if (controllers) {
    // Play the agent: the job's pod runs to completion.
    const pod = await until('the job pod', async () => (await client.list('pods', { namespace: 'default', labelSelector: 'job-name=once' })).items[0]);
    await sleep(300);
    await writeStatus('pods', 'default', String(meta(pod).name), () => ({
      phase: 'Succeeded',
      startTime: nowText(),
      containerStatuses: [{ name: 'c', image: 'busybox', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: nowText(), finishedAt: nowText() } } }],
    }));
  } else {
    await until('the job', async () => client.get('jobs', 'default', 'once'));
    await sleep(300);
    await writeStatus('jobs', 'default', 'once', () => ({ succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }));
  }
  const r = await applying;
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines[0], 'job.batch/once created');
  t.true(lines.slice(1, -1).every((l) => /^Waiting for job "once" to complete: 0\/1 succeeded(, 1 active)?\.\.\.$/.test(l)), r.stdout);
  t.is(lines[lines.length - 1], 'job.batch/once condition met');
  t.regex(ages((await berth(['get', 'job', 'once', '--no-headers'])).stdout), /^once\s+Complete\s+1\/1\s+AGE\s+AGE\n$/);
});

// ---- delete ------------------------------------------------------------------------------------

test.serial('delete: --cascade=orphan keeps the dependents; --force --grace-period=0; --grace-period; --wait', async (t) => {
  const sets = await client.list('replicasets', { namespace: 'default', labelSelector: 'app=hist' });
  t.true(sets.items.length > 0);
  const orphan = await berth(['delete', 'deploy', 'hist', '--cascade=orphan']);
  t.is(orphan.code, 0, orphan.stderr);
  t.is(orphan.stdout, 'deployment.apps "hist" deleted\n');
  if (controllers) {
    await until('the deployment gone', async () => (await berth(['get', 'deploy', 'hist', '--ignore-not-found'])).stdout === '' || undefined);
    const left = await until('orphans', async () => {
      const l = await client.list('replicasets', { namespace: 'default', labelSelector: 'app=hist' });
      return l.items.every((rs) => !(meta(rs).ownerReferences as unknown[] | undefined)?.length) ? l.items : undefined;
    });
    t.is(left.length, sets.items.length);
  } else {
    t.deepEqual(meta(await client.get('deployments', 'default', 'hist')).finalizers, ['orphan']);
  }
  const bad = await berth(['delete', 'deploy', 'live', '--cascade=sideways']);
  t.is(bad.stderr, 'error: invalid cascade value (sideways). Must be "background", "foreground", or "orphan".\n');

  const bound = (name: string) => client.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: 'node-b', containers: [{ name: 'c', image: 'busybox' }] } });
  await bound('forced');
  const forced = await berth(['delete', 'pod', 'forced', '--force', '--grace-period=0']);
  t.is(forced.stdout, 'pod "forced" force deleted\n');
  t.is(forced.stderr, 'Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n');
  t.is((await berth(['get', 'pod', 'forced', '--ignore-not-found'])).stdout, '');

  await bound('graceful');
  t.is((await berth(['delete', 'pod', 'graceful', '--grace-period=60'])).stdout, 'pod "graceful" deleted\n');
  t.regex(ages((await berth(['get', 'pod', 'graceful', '--no-headers'])).stdout), /^graceful\s+0\/1\s+Terminating\s+0\s+AGE\n$/);
  // --wait waits for the agent (played here) to confirm.
  const waiting = berth(['delete', 'pod', 'graceful', '--wait', '--timeout=20s']);
  await sleep(500);
  const stop = confirmTerminations();
  const w = await waiting;
  stop();
  t.is(w.code, 0, w.stderr);
  t.is((await berth(['get', 'pod', 'graceful', '--ignore-not-found'])).stdout, '');
});

// ---- edit --------------------------------------------------------------------------------------

test.serial('edit: saved changes, no changes, an empty file, an invalid object, a conflict', async (t) => {
  await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ed', namespace: 'default' }, data: { color: 'blue' } });
  const sed = (expr: string) => file(`editor-${expr.length}-${Math.random().toString(36).slice(2)}.sh`, `#!/bin/sh\nsed -i '${expr}' "$1"\n`, 0o755);
  const edited = await berth(['edit', 'cm', 'ed'], { env: { KUBE_EDITOR: sed('s/color: blue/color: red/') } });
  t.is(edited.code, 0, edited.stderr);
  t.is(edited.stdout, 'configmap/ed edited\n');
  t.deepEqual((await client.get('configmaps', 'default', 'ed')).data, { color: 'red' });

  const same = await berth(['edit', 'configmap/ed'], { env: { KUBE_EDITOR: 'true', EDITOR: 'false' } });
  t.is(same.code, 0);
  t.is(same.stderr, 'Edit cancelled, no changes made.\n');
  const empty = await berth(['edit', 'cm', 'ed'], { env: { EDITOR: file('editor-empty.sh', '#!/bin/sh\n: > "$1"\n', 0o755) } });
  t.is(empty.stderr, 'Edit cancelled, saved file was empty.\n');

  // An invalid object reopens the file with the errors on top; saving it unchanged gives up.
  const seen = join(dir, 'seen.txt');
  const invalidEditor = file('editor-invalid.sh', `#!/bin/sh\ncat "$1" >> ${seen}\necho ----- >> ${seen}\ngrep -q 'bad key' "$1" || sed -i 's/^  name: ed$/  name: ed\\n  labels: {"bad key": x}/' "$1"\n`, 0o755);
  const invalid = await berth(['edit', 'cm', 'ed'], { env: { EDITOR: invalidEditor } });
  t.is(invalid.code, 1);
  const lines = invalid.stderr.split('\n');
  t.is(lines[0], 'error: configmaps "ed" is invalid');
  t.regex(lines[1]!, /^A copy of your changes has been stored to ".*\.yaml"$/);
  t.is(lines[2], 'error: Edit cancelled, no valid changes were saved.');
  const copy = /"(.*)"/.exec(lines[1]!)![1]!;
  t.true(existsSync(copy));
  const reopened = (await import('node:fs')).readFileSync(seen, 'utf8').split('-----\n')[1]!;
  t.regex(reopened, /^# Please edit the object below\.[\s\S]*#\n# configmaps "ed" was not valid:\n# \* metadata\.labels: Invalid value: "bad key": /);

  // Someone else writes the object while it is being edited: the edit lands on the latest version.
  const go = join(dir, 'go');
  const conflictEditor = file(
    'editor-conflict.sh',
    `#!/bin/sh\nif [ ! -f ${go}.done ]; then\n  touch ${go}.started\n  while [ ! -f ${go} ]; do sleep 0.05; done\n  sed -i 's/color: red/color: green/' "$1"\n  touch ${go}.done\nfi\n`,
    0o755,
  );
  const editing = berth(['edit', 'cm', 'ed'], { env: { EDITOR: conflictEditor } });
  await until('the editor', async () => existsSync(`${go}.started`) || undefined);
  const cur = await client.get('configmaps', 'default', 'ed');
  await client.update({ ...cur, data: { ...(cur.data as Record<string, string>), size: 'xl' } });
  writeFileSync(go, '');
  const conflicted = await editing;
  t.is(conflicted.code, 0, conflicted.stderr);
  t.is(conflicted.stdout, 'configmap/ed edited\n');
  t.regex(conflicted.stderr, /^Error from server \(Conflict\): Operation cannot be fulfilled on configmaps "ed": /);
  t.deepEqual((await client.get('configmaps', 'default', 'ed')).data, { color: 'green', size: 'xl' });
});

// ---- nodes -------------------------------------------------------------------------------------

test.serial('cordon, uncordon, taint', async (t) => {
  t.is((await berth(['cordon', 'node-a'])).stdout, 'node/node-a cordoned\n');
  t.is((await berth(['cordon', 'node/node-a'])).stdout, 'node/node-a already cordoned\n');
  t.regex(ages((await berth(['get', 'node', 'node-a', '--no-headers'])).stdout), /^node-a\s+Ready,SchedulingDisabled\s+<none>\s+AGE\s+v0\.1\.0\n$/);
  t.is((await berth(['uncordon', 'node-a'])).stdout, 'node/node-a uncordoned\n');
  t.is((await berth(['uncordon', 'node-a'])).stdout, 'node/node-a already uncordoned\n');

  t.is((await berth(['taint', 'node-a', 'dedicated=gpu:NoSchedule', 'spot:PreferNoSchedule'])).stdout, 'node/node-a tainted\n');
  const taints = async () =>
    ((((await client.get('nodes', '', 'node-a')).spec as Record<string, unknown>).taints as { key: string; value?: string; effect: string }[] | undefined) ?? [])
      .filter((x) => !x.key.startsWith('node.kubernetes.io/'))
      .map((x) => `${x.key}=${x.value ?? ''}:${x.effect}`)
      .sort();
  t.deepEqual(await taints(), ['dedicated=gpu:NoSchedule', 'spot=:PreferNoSchedule']);
  t.is((await berth(['taint', 'nodes', 'node-a', 'dedicated=ml:NoSchedule'])).stderr, 'error: node node-a already has dedicated taint(s) with same effect(s) and --overwrite is false\n');
  t.is((await berth(['taint', 'node-a', 'dedicated=ml:NoSchedule', '--overwrite'])).stdout, 'node/node-a modified\n');
  t.deepEqual(await taints(), ['dedicated=ml:NoSchedule', 'spot=:PreferNoSchedule']);
  t.is((await berth(['taint', 'node-a', 'dedicated-', 'spot:PreferNoSchedule-'])).stdout, 'node/node-a untainted\n');
  t.deepEqual(await taints(), []);
  t.is((await berth(['taint', 'node-a', 'dedicated:NoSchedule-'])).stderr, 'error: taint "dedicated:NoSchedule" not found\n');
  t.is((await berth(['taint', 'node-a', 'x=y:Sometimes'])).stderr, 'error: invalid taint effect: Sometimes, unsupported taint effect\n');
  t.is((await berth(['cordon', 'nope'])).stderr, 'Error from server (NotFound): nodes "nope" not found\n');
});

test.serial('drain: refuses pods without a controller; with --force evicts every pod and waits until they are gone', async (t) => {
  t.is((await berth(['apply', '-f', file('drained.yaml', DEPLOY('drained', 1, 'nginx:1.27').replace('      containers:', '      nodeSelector: {kubernetes.io/hostname: node-b}\n      containers:'))])).code, 0);
  await client.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'loner', namespace: 'default' }, spec: { nodeName: 'node-b', containers: [{ name: 'c', image: 'busybox' }] } });
  let managed = 'none';
  if (controllers) {
    const p = await until('the deployment pod on node-b', async () => {
      const l = await client.list('pods', { namespace: 'default', labelSelector: 'app=drained', fieldSelector: 'spec.nodeName=node-b' });
      return l.items[0];
    });
    managed = String(meta(p).name);
  }
  const refused = await berth(['drain', 'node-b']);
  t.is(refused.code, 1);
  t.is(refused.stdout, 'node/node-b cordoned\n');
  t.is(
    refused.stderr,
    'error: unable to drain node "node-b" due to error: cannot delete Pods that declare no controller (use --force to override): default/loner, continuing command...\n' +
      'There are pending nodes to be drained:\n node-b\n' +
      'cannot delete Pods that declare no controller (use --force to override): default/loner\n',
  );

  // Every pod on the node goes (other tests' pods may have landed there too).
  const onNode = (await client.list('pods', { fieldSelector: 'spec.nodeName=node-b' })).items.map((p) => String(meta(p).name));
  t.true(onNode.includes('loner'));
  if (controllers) t.true(onNode.includes(managed));
  const stop = confirmTerminations();
  const drained = await berth(['drain', 'node-b', '--force', '--timeout=30s']);
  stop();
  t.is(drained.code, 0, drained.stderr);
  t.is(drained.stderr, 'Warning: deleting Pods that declare no controller: default/loner\n');
  const lines = drained.stdout.trimEnd().split('\n');
  t.is(lines[0], 'node/node-b already cordoned');
  t.is(lines[lines.length - 1], 'node/node-b drained');
  const evicted = onNode;
  t.deepEqual(lines.filter((l) => l.startsWith('evicting pod')).sort(), evicted.map((n) => `evicting pod default/${n}`).sort());
  t.deepEqual(lines.filter((l) => l.endsWith(' evicted')).sort(), evicted.map((n) => `pod/${n} evicted`).sort());
  t.is((await client.list('pods', { fieldSelector: 'spec.nodeName=node-b' })).items.length, 0);
  t.is((await berth(['uncordon', 'node-b'])).stdout, 'node/node-b uncordoned\n');
  await berth(['delete', 'deploy', 'drained']);
});

// ---- explain / events / completion -----------------------------------------------------------

test.serial('explain: a field, --recursive, an unknown field', async (t) => {
  const r = await berth(['explain', 'deployment.spec.replicas']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^KIND:\s+Deployment\nVERSION:\s+v1\n\nFIELD: replicas <integer>\n\nDESCRIPTION:\n/);
  const rec = await berth(['explain', 'pod.spec.containers', '--recursive']);
  t.regex(rec.stdout, /\nFIELDS:\n  name\t<string> -required-\n/);
  t.regex(rec.stdout, /\n  ports\t<\[\]ContainerPort>\n    name\t<string>\n    containerPort\t<integer> -required-\n/);
  const bad = await berth(['explain', 'pod.spec.nope']);
  t.is(bad.code, 1);
  t.is(bad.stderr, 'error: field "nope" does not exist\n');
  t.is((await berth(['explain', 'gadgets'])).stderr, 'error: the server doesn\'t have a resource type "gadgets"\n');
});

test.serial('events: a namespace, --for, -A, --types, none', async (t) => {
  const r = await berth(['events', '--for', 'cm/made']);
  t.is(r.code, 0, r.stderr);
  const collapse = (s: string) => ages(s).replace(/ {3,}/g, '   ');
  t.is(
    collapse(r.stdout),
    'LAST SEEN   TYPE   REASON   OBJECT   MESSAGE\nAGE   Normal   Checked   ConfigMap/made   looked at it\nAGE (x3 over AGE)   Warning   Odd   ConfigMap/made   something odd\n',
  );
  t.regex(r.stdout.split('\n')[1]!, /^\S+ {3,}Normal {4}Checked {3}ConfigMap\/made {3}looked at it$/);
  const warnings = await berth(['events', '-A', '--types=Warning', '--for=configmap/made']);
  t.is(collapse(warnings.stdout), 'NAMESPACE   LAST SEEN   TYPE   REASON   OBJECT   MESSAGE\ndefault   AGE (x3 over AGE)   Warning   Odd   ConfigMap/made   something odd\n');
  const none = await berth(['events', '-n', 'shop', '--for', 'cm/c-1']);
  t.is(none.stdout, '');
  t.is(none.stderr, 'No events found in shop namespace.\n');
  t.is((await berth(['events', '--types=Bad'])).stderr, 'error: valid --types are Normal or Warning\n');
});

test.serial('completion (the real process): bash and zsh scripts; an unknown shell', async (t) => {
  const bash = await berthProc(['completion', 'bash']);
  t.is(bash.code, 0, bash.stderr);
  t.true(bash.stdout.includes('complete -o default -F _berth berth\n'));
  const zsh = await berthProc(['completion', 'zsh']);
  t.true(zsh.stdout.startsWith('#compdef berth\n'));
  const fish = await berthProc(['completion', 'fish']);
  t.is(fish.code, 1);
  t.is(fish.stderr, 'error: Unsupported shell type "fish".\n');
  const help = await berthProc(['--help']);
  t.regex(help.stdout, /\n  rollout         status, history, undo, restart, pause and resume of Deployments\n/);
});

/**
 * `berth ui` in a real terminal: tmux runs it against a real three-replica cluster
 * (ServerCluster child processes) and one node agent (the process runtime, so that pods
 * run and have logs); the test types keys with send-keys and reads the screen with
 * capture-pane, checking through the API that what it asked for happened.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthClient, type PlainObject } from '../src/client/client.ts';
import { AgentProcs } from '../src/cli/agent-procs.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'berth-tui-e2e-'));
const configFile = join(dir, 'config');
const SOCKET = `berth-tui-${process.pid}`;
const SESSION = `ui-${process.pid}`;
let cluster: ServerCluster;
let agents: AgentProcs | undefined;
let client: BerthClient;

function tmux(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-L', SOCKET, ...args], { timeout: 10_000 }, (err, stdout, stderr) => (err ? reject(new Error(`tmux ${args[0]}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

const screen = () => tmux('capture-pane', '-p', '-t', SESSION);

/** Waits until the screen matches (generous: the machine is shared), returning it. */
async function until(re: RegExp, what = String(re), limitMs = 30_000): Promise<string> {
  const deadline = Date.now() + limitMs;
  let last = '';
  for (;;) {
    last = await screen().catch((e: Error) => e.message);
    if (re.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; the screen:\n${last}`);
    await sleep(100);
  }
}

/** Types keys (tmux key names: Enter, Escape, BSpace, C-d) one at a time, as a person would. */
async function keys(...ks: string[]): Promise<void> {
  for (const k of ks) {
    await tmux('send-keys', '-t', SESSION, k);
    await sleep(40);
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

const meta = (o: PlainObject) => o.metadata as { name: string; uid: string; ownerReferences?: { uid: string }[] };

test.before(async () => {
  const ports = await freePorts(6);
  cluster = new ServerCluster({ size: 3, dir: join(dir, 'cluster'), peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
  await cluster.startAll();
  writeFileSync(configFile, `current-context: e2e\ncontexts:\n- name: e2e\n  servers: [${cluster.apiAddresses().join(', ')}]\n`);
  client = new BerthClient({ endpoints: cluster.apiAddresses(), timeoutMs: 5000 });
  await waitFor('the default namespace', async () => ((await client.get('Namespace', '', 'default')) ? true : undefined));
  agents = new AgentProcs({ dir: join(dir, 'agents'), servers: cluster.apiAddresses(), runtime: 'process', extraArgs: ['--quiet'] });
  agents.start(1);
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  await client.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'busybox', command: ['sh', '-c', 'echo hello from $HOSTNAME; while true; do echo tick; sleep 1; done'] }] } },
    },
  });
  await client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config', namespace: 'shop' }, data: { greeting: 'hello' } });
  await waitFor('the two pods of web', async () => ((await client.list('Pod', { namespace: 'shop' })).items.length === 2 ? true : undefined));
  await tmux(
    'new-session', '-d', '-s', SESSION, '-x', '160', '-y', '50',
    // ink draws nothing live when it believes it runs in CI.
    `cd ${ROOT} && env -u CI -u CONTINUOUS_INTEGRATION BERTH_CONFIG=${configFile} BERTH_SERVER= ${process.execPath} --import tsx ${MAIN} ui -n shop; echo "berth ui exited: $?"; sleep 600`,
  );
});

test.after.always(async () => {
  await tmux('kill-session', '-t', SESSION).catch(() => {});
  await tmux('kill-server').catch(() => {});
  // The process runtime's containers outlive their agent (as containerd's outlive the
  // kubelet): scale to zero and let the agent stop them before it is stopped itself.
  await client
    ?.get('Deployment', 'shop', 'web')
    .then((d) => client.update({ ...d, spec: { ...(d.spec as object), replicas: 0 } }))
    .then(() => waitFor('the pods to stop', async () => ((await client.list('Pod', { namespace: 'shop' })).items.length === 0 ? true : undefined), 60_000))
    .catch(() => {});
  client?.close();
  // An agent that does not stop on SIGTERM within a while is killed (seen: it can hang).
  if (agents) await Promise.race([agents.stopAll(), sleep(10_000).then(() => agents!.kill(1, 'SIGKILL'))]);
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('starts on the pods of the namespace, with the context, endpoint, leader and term', async (t) => {
  // The pods come from the watch, the leader from the first status poll: both, whichever is first.
  const s = await until(/Leader: \d \([\s\S]*Pods\(shop\)\[2\]/);
  t.regex(s, /Context: e2e {3}Endpoint: 127\.0\.0\.1:\d+ {3}Leader: \d \(127\.0\.0\.1:\d+\) {3}Term: \d+ {3}Namespace: shop/);
  t.regex(s, /NAME +READY +STATUS +RESTARTS +IP +NODE +AGE/);
  t.regex(s, /web-[a-z0-9]+-[a-z0-9]+ +\d\/1 /);
});

test.serial('switches views with : commands and filters with /', async (t) => {
  await keys(':', 'c', 'm', 'Enter');
  t.regex(await until(/ConfigMaps\(shop\)\[1\]/), /web-config +1 /);
  await keys(':', 'c', 'l', 'u', 's', 't', 'e', 'r', 'Enter');
  const c = await until(/Cluster\[3\][\s\S]*leader/);
  t.regex(c, /ID +ROLE +TERM +COMMIT +APPLIED +LAG +LEADER +API ADDRESS +PEER ADDRESS +RPC/);
  t.is((c.match(/ ok \d+ms/g) ?? []).length, 3);
  await keys(':', 'p', 'o', 'Enter');
  await until(/Pods\(shop\)\[2\]/);
  await keys('/', '!', 'w', 'e', 'b');
  await until(/Pods\(shop\)\[0\] <\/!web>/);
  await keys('Escape');
  await until(/Pods\(shop\)\[2\] sort/);
  await keys(':', 'd', 'e', 'p', 'l', 'o', 'y', 'Enter');
  await keys('/', 'w', 'e', 'b', 'Enter');
  t.regex(await until(/Deployments\(shop\)\[1\] <\/web>/), /web +\d\/2 +\d +\d +[█░]{10} \d\/2/);
});

test.serial('enter opens a Deployment\'s ReplicaSets, then their pods; logs follow a pod', async (t) => {
  const rs = (await client.list('ReplicaSet', { namespace: 'shop' })).items[0]!;
  await keys('Enter');
  t.regex(await until(/ReplicaSets\(deployment shop\/web\)\[1\]/), new RegExp(`${meta(rs).name} +2 +`));
  await keys('Enter');
  const pods = await until(new RegExp(`Pods\\(replicaset shop/${meta(rs).name}\\)\\[2\\]`));
  const names = (await client.list('Pod', { namespace: 'shop' })).items.map((p) => meta(p).name);
  for (const n of names) t.true(pods.includes(n), n);
  await keys('l');
  // A container's log: lines appear while following (the process runtime runs the command).
  const logs = await until(/Logs: shop\/web-\S+ \[web\][\s\S]*tick/, 'log lines', 60_000);
  t.regex(logs, /follow on · wrap off/);
  t.regex(logs, /hello from/);
  await keys('Escape', 'Escape', 'Escape');
  await until(/Deployments\(shop\)\[1\] <\/web>/);
});

test.serial('s scales the selected Deployment: the API has the new replica count', async (t) => {
  await keys('s');
  await until(/Scale deployment web to replicas: 2/);
  await keys('BSpace', '4', 'Enter');
  await until(/deployment\/web scaled to 4/);
  const d = await client.get('Deployment', 'shop', 'web');
  t.is((d.spec as { replicas: number }).replicas, 4);
  // The table follows the watch: the rollout bar counts four.
  await until(/web +\d\/4 +\d +\d +[█░]{10} \d\/4/);
});

test.serial('? lists the keys of the view; :q quits', async (t) => {
  await keys('?');
  const help = await until(/Help: Deployments/);
  for (const k of ['Scale', 'Rollout restart', 'Roll back to the previous revision', 'Delete (asks first)']) t.true(help.includes(k), k);
  await keys('Escape', ':', 'q', 'Enter');
  await until(/berth ui exited: 0/);
});

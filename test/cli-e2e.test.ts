/**
 * The berth CLI end to end: a real three-replica cluster (ServerCluster: `berth server`
 * child processes on free loopback ports), and the CLI itself run as a child process,
 * reading its endpoints from a temporary config file (or --server), as a user would.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { BerthClient } from '../src/client/client.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'berth-cli-e2e-'));
const configFile = join(dir, 'config');
let cluster: ServerCluster;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function berth(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { env: { ...process.env, BERTH_CONFIG: configFile, BERTH_SERVER: '', NO_COLOR: '1', ...opts.env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && code === -1) reject(err);
        else resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

function manifest(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

test.before(async () => {
  const ports = await freePorts(6);
  cluster = new ServerCluster({ size: 3, dir: join(dir, 'cluster'), peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet', '--no-controllers'] });
  await cluster.startAll();
  writeFileSync(configFile, `current-context: e2e\ncontexts:\n- name: e2e\n  servers: [${cluster.apiAddresses().join(', ')}]\n`);
  const client = new BerthClient({ endpoints: cluster.apiAddresses(), timeoutMs: 2000 });
  try {
    // A leader, and the namespaces it creates once it leads.
    await until('the default namespace', async () => ((await client.get('namespaces', '', 'default')) ? true : undefined));
  } finally {
    client.close();
  }
});

test.after.always(async () => {
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const APP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  namespace: shop
  labels: {app: web}
data:
  greeting: hello
---
# a comment-only document in between is skipped
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`;

test.serial('apply a multi-document manifest: created, then unchanged, then configured', async (t) => {
  const ns = await berth(['apply', '-f', manifest('ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n')]);
  t.is(ns.stdout, 'namespace/shop created\n');
  const file = manifest('app.yaml', APP);
  const first = await berth(['apply', '-f', file]);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout, 'configmap/web created\ndeployment.apps/web created\nservice/web created\n');
  const again = await berth(['apply', '-f', file]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'configmap/web unchanged\ndeployment.apps/web unchanged\nservice/web unchanged\n');
  manifest('app.yaml', APP.replace('greeting: hello', 'greeting: bonjour').replace('replicas: 2', 'replicas: 3'));
  const changed = await berth(['apply', '-f', file]);
  t.is(changed.code, 0, changed.stderr);
  t.is(changed.stdout, 'configmap/web configured\ndeployment.apps/web configured\nservice/web unchanged\n');
  // From stdin, too.
  const stdin = await berth(['apply', '-f', '-'], { input: APP.replace('greeting: hello', 'greeting: bonjour').replace('replicas: 2', 'replicas: 3') });
  t.is(stdin.code, 0, stdin.stderr);
  t.regex(stdin.stdout, /^configmap\/web unchanged$/m);
});

// Known server bug (src/server/objects.ts, not the CLI): a Namespace gets spec.finalizers
// ["kubernetes"] when created, and apply compares the manifest with the stored object
// including that field, so re-applying an unchanged Namespace says "configured" (and
// drops the finalizer). Flip this to test.serial once the server keeps server-set fields.
test.serial('re-applying an unchanged Namespace reports it unchanged', async (t) => {
  const again = await berth(['apply', '-f', join(dir, 'ns.yaml')]);
  t.is(again.stdout, 'namespace/shop unchanged\n');
});

test.serial('get: tables, -o json, -o yaml, -o name, -o wide, TYPE/NAME, several kinds', async (t) => {
  const table = await berth(['get', 'deploy', '-n', 'shop']);
  t.is(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
  t.regex(lines[1]!, /^web\s+0\/3\s+0\s+0\s+\d+s$/);
  t.is(lines.length, 2);

  const json = await berth(['get', 'cm', 'web', '-n', 'shop', '-o', 'json']);
  t.is(json.code, 0, json.stderr);
  const cm = JSON.parse(json.stdout);
  t.is(cm.kind, 'ConfigMap');
  t.is(cm.apiVersion, 'v1');
  t.deepEqual(cm.data, { greeting: 'bonjour' });
  t.is(cm.metadata.namespace, 'shop');
  t.truthy(cm.metadata.uid);
  t.true(json.stdout.startsWith('{\n    "apiVersion": "v1",\n'));

  const yaml = await berth(['get', 'svc,cm', '-n', 'shop', '-o', 'yaml']);
  t.is(yaml.code, 0, yaml.stderr);
  const list = parseYaml(yaml.stdout);
  t.is(list.kind, 'List');
  t.deepEqual(
    list.items.map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`),
    ['Service/web', 'ConfigMap/web'],
  );

  const names = await berth(['get', 'deployments.apps,services,configmaps', '-o', 'name', '--namespace=shop']);
  t.is(names.stdout, 'deployment.apps/web\nservice/web\nconfigmap/web\n');

  const wide = await berth(['get', 'deployment/web', 'service/web', '-n', 'shop', '-o', 'wide']);
  t.is(wide.code, 0, wide.stderr);
  const [deployTable, svcTable] = wide.stdout.split('\n\n');
  t.regex(deployTable!, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR\n/);
  t.regex(deployTable!, /\ndeployment\.apps\/web\s+0\/3\s+0\s+0\s+\S+\s+web\s+nginx:1\.27\s+app=web\n?$/);
  t.regex(svcTable!, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR\n/);
  t.regex(svcTable!, /\nservice\/web\s+ClusterIP\s+\S+\s+<none>\s+80\/TCP\s+\S+\s+app=web\n$/);
});

test.serial('get: label selectors, field selectors, -A, chunked lists, empty results', async (t) => {
  const extra = ['a', 'b', 'c']
    .map((n) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-${n}\n  labels: {tier: ${n === 'a' ? 'front' : 'back'}}\ndata: {k: v}\n`)
    .join('---\n');
  t.is((await berth(['apply', '-f', manifest('extra.yaml', extra)])).code, 0);

  const selected = await berth(['get', 'cm', '-l', 'tier=back', '-o', 'name']);
  t.is(selected.stdout, 'configmap/extra-b\nconfigmap/extra-c\n');
  const notIn = await berth(['get', 'cm', '-l', 'tier notin (back)', '--no-headers']);
  t.regex(notIn.stdout, /^extra-a\s+1\s+\S+\n$/);
  const byField = await berth(['get', 'cm', '--field-selector', 'metadata.name=extra-c', '-o', 'name']);
  t.is(byField.stdout, 'configmap/extra-c\n');

  const all = await berth(['get', 'configmaps', '-A', '--show-labels']);
  t.is(all.code, 0, all.stderr);
  const rows = all.stdout.trimEnd().split('\n');
  t.regex(rows[0]!, /^NAMESPACE\s+NAME\s+DATA\s+AGE\s+LABELS$/);
  t.true(rows.some((r) => /^default\s+extra-a\s+1\s+\S+\s+tier=front$/.test(r)));
  t.true(rows.some((r) => /^shop\s+web\s+1\s+\S+\s+app=web$/.test(r)));

  // Pages of one object: every object arrives, once.
  const chunked = await berth(['get', 'cm', '--chunk-size', '1', '-o', 'name']);
  t.is(chunked.stdout, 'configmap/extra-a\nconfigmap/extra-b\nconfigmap/extra-c\n');

  const empty = await berth(['get', 'pods']);
  t.is(empty.code, 0);
  t.is(empty.stdout, '');
  t.is(empty.stderr, 'No resources found in default namespace.\n');
  const emptyAll = await berth(['get', 'po', '-A']);
  t.is(emptyAll.stderr, 'No resources found\n');
  const emptyJson = await berth(['get', 'pods', '-o', 'json']);
  t.deepEqual(JSON.parse(emptyJson.stdout), { apiVersion: 'v1', items: [], kind: 'List', metadata: { resourceVersion: '' } });

  const ns = await berth(['get', 'ns', '--no-headers']);
  t.regex(ns.stdout, /^default\s+Active\s+\S+$/m);
  t.regex(ns.stdout, /^shop\s+Active\s+\S+$/m);
});

test.serial('delete, then NotFound as kubectl prints it', async (t) => {
  const del = await berth(['delete', 'cm', 'extra-a', 'extra-b']);
  t.is(del.code, 0, del.stderr);
  t.is(del.stdout, 'configmap "extra-a" deleted\nconfigmap "extra-b" deleted\n');

  const missing = await berth(['get', 'cm', 'extra-a']);
  t.is(missing.code, 1);
  t.is(missing.stdout, '');
  t.is(missing.stderr, 'Error from server (NotFound): configmaps "extra-a" not found\n');

  const missingDeploy = await berth(['get', 'deploy', 'nope', '-n', 'shop']);
  t.is(missingDeploy.code, 1);
  t.is(missingDeploy.stderr, 'Error from server (NotFound): deployments.apps "nope" not found\n');

  const again = await berth(['delete', 'configmap/extra-a']);
  t.is(again.code, 1);
  t.is(again.stderr, 'Error from server (NotFound): configmaps "extra-a" not found\n');
  t.is((await berth(['delete', 'cm', 'extra-a', '--ignore-not-found'])).code, 0);

  // By selector, and the objects of a manifest.
  const bySelector = await berth(['delete', 'cm', '-l', 'tier=back']);
  t.is(bySelector.stdout, 'configmap "extra-c" deleted\n');
  const byFile = await berth(['delete', '-f', join(dir, 'app.yaml'), '--dry-run=server']);
  t.is(byFile.code, 0, byFile.stderr);
  t.regex(byFile.stdout, /^deployment\.apps "web" deleted \(server dry run\)$/m);
  t.is((await berth(['get', 'deploy', 'web', '-n', 'shop', '-o', 'name'])).stdout, 'deployment.apps/web\n');
});

test.serial('a validation error lists every field path; nothing is created', async (t) => {
  const bad = manifest(
    'bad.yaml',
    `apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: a
  - name: Not_Valid
    image: busybox
    ports:
    - containerPort: 700000
`,
  );
  const r = await berth(['apply', '-f', bad]);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines[0], 'The Pod "bad" is invalid: ');
  t.true(lines.includes('* spec.containers[0].image: Required value'), r.stderr);
  t.true(lines.some((l) => l.startsWith('* spec.containers[1].name: Invalid value: "Not_Valid"')), r.stderr);
  t.true(lines.some((l) => l.startsWith('* spec.containers[1].ports[0].containerPort: Invalid value: 700000')), r.stderr);
  t.is((await berth(['get', 'po', 'bad'])).code, 1);

  const single = manifest('single.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: single\nspec:\n  containers:\n  - name: a\n');
  const one = await berth(['apply', '-f', single]);
  t.is(one.stderr, 'The Pod "single" is invalid: spec.containers[0].image: Required value\n');

  const unknownKind = await berth(['apply', '-f', manifest('widget.yaml', 'apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n')]);
  t.is(unknownKind.code, 1);
  t.regex(unknownKind.stderr, /no matches for kind "Widget" in version "v1"/);
});

test.serial('apply: -n for objects without a namespace, mismatches refused, dry runs persist nothing', async (t) => {
  const cm = manifest('plain.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata: {a: "1"}\n');
  const r = await berth(['apply', '-f', cm, '-n', 'shop']);
  t.is(r.stdout, 'configmap/plain created\n');
  t.is((await berth(['get', 'cm', 'plain', '-n', 'shop', '-o', 'name'])).stdout, 'configmap/plain\n');

  const mismatch = await berth(['apply', '-f', join(dir, 'app.yaml'), '-n', 'default']);
  t.is(mismatch.code, 1);
  t.regex(mismatch.stderr, /the namespace from the provided object "shop" does not match the namespace "default"/);

  const other = manifest('other.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata: {a: "1"}\n');
  const server = await berth(['apply', '-f', other, '--dry-run=server']);
  t.is(server.stdout, 'configmap/dry created (server dry run)\n');
  const client = await berth(['apply', '-f', other, '--dry-run']);
  t.is(client.stdout, 'configmap/dry created (dry run)\n');
  t.is((await berth(['get', 'cm', 'dry'])).code, 1);

  const nsMissing = await berth(['apply', '-f', other, '-n', 'nowhere']);
  t.is(nsMissing.code, 1);
  t.is(nsMissing.stderr, `Error from server (NotFound): error when creating "${other}": namespaces "nowhere" not found\n`);
});

test.serial('secrets are stored encrypted and shown as kubectl shows them', async (t) => {
  const secret = manifest('secret.yaml', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n');
  t.is((await berth(['apply', '-f', secret])).stdout, 'secret/db created\n');
  const table = await berth(['get', 'secrets']);
  t.regex(table.stdout, /^NAME\s+TYPE\s+DATA\s+AGE\ndb\s+Opaque\s+1\s+\S+\n$/);
  const json = JSON.parse((await berth(['get', 'secret', 'db', '-o', 'json'])).stdout);
  t.is(Buffer.from(json.data.password, 'base64').toString(), 'hunter2');
});

test.serial('cluster status shows three members and one leader; version asks every server', async (t) => {
  const r = await berth(['cluster', 'status']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^ID\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LAG\s+PEER ADDRESS\s+API ADDRESS$/);
  t.is(lines.length, 4);
  t.is(lines.filter((l) => /^\d\*\s+leader\s/.test(l)).length, 1);
  t.is(lines.filter((l) => /^\d\s+follower\s/.test(l)).length, 2);
  for (const address of cluster.apiAddresses()) t.true(r.stdout.includes(address));

  const json = JSON.parse((await berth(['cluster', 'status', '-o', 'json'])).stdout);
  t.is(json.members.length, 3);
  t.true(json.leader >= 1 && json.leader <= 3);

  const members = await berth(['cluster', 'members']);
  t.regex(members.stdout, /^ID\s+PEER ADDRESS\s+API ADDRESS\s+VOTE\s+LEADER\n/);
  t.is(members.stdout.trimEnd().split('\n').length, 4);

  const version = await berth(['version']);
  t.is(version.code, 0, version.stderr);
  t.regex(version.stdout, /^Client Version: \d+\.\d+\.\d+\n/);
  t.is(version.stdout.match(/^Server Version: /gm)?.length, 3);
});

test.serial('endpoints from --server and BERTH_SERVER; unreachable servers; unknown types', async (t) => {
  const viaFlag = await berth(['get', 'ns', 'default', '-o', 'name', '--server', cluster.apiAddress(2)], { env: { BERTH_CONFIG: join(dir, 'none') } });
  t.is(viaFlag.stdout, 'namespace/default\n');
  const viaEnv = await berth(['get', 'ns', 'default', '-o', 'name'], { env: { BERTH_CONFIG: join(dir, 'none'), BERTH_SERVER: cluster.apiAddress(3) } });
  t.is(viaEnv.stdout, 'namespace/default\n');

  const [closed] = await freePorts(1);
  const refused = await berth(['get', 'pods', '-s', `127.0.0.1:${closed}`]);
  t.is(refused.code, 1);
  t.is(refused.stderr, `The connection to the server 127.0.0.1:${closed} was refused - did you specify the right host or port?\n`);

  const nothing = await berth(['get', 'pods'], { env: { BERTH_CONFIG: join(dir, 'none') } });
  t.is(nothing.code, 1);
  t.regex(nothing.stderr, /^error: no API server configured/);

  const unknown = await berth(['get', 'widgets']);
  t.is(unknown.code, 1);
  t.is(unknown.stderr, 'error: the server doesn\'t have a resource type "widgets"\n');

  const badFlag = await berth(['get', 'pods', '--bogus']);
  t.is(badFlag.code, 1);
  t.regex(badFlag.stderr, /^error: unknown flag: --bogus\n/);
});

test.serial('config contexts: set-context, use-context, get-contexts', async (t) => {
  const env = { BERTH_CONFIG: join(dir, 'ctx-config') };
  writeFileSync(env.BERTH_CONFIG, '');
  t.is((await berth(['config', 'set-context', 'c1', '--server', cluster.apiAddresses().join(','), '--namespace', 'shop'], { env })).stdout, 'Context "c1" created.\n');
  t.is((await berth(['config', 'set-context', 'broken', '--server', '127.0.0.1:1'], { env })).stdout, 'Context "broken" created.\n');
  t.is((await berth(['config', 'use-context', 'c1'], { env })).stdout, 'Switched to context "c1".\n');
  const contexts = await berth(['config', 'get-contexts'], { env });
  t.regex(contexts.stdout, /^CURRENT\s+NAME\s+SERVERS\s+NAMESPACE\n\*\s+c1\s+\S+\s+shop\n\s+broken\s+127\.0\.0\.1:1\s*\n$/);
  // The context's namespace is the default for -n.
  t.is((await berth(['get', 'deploy', '-o', 'name'], { env })).stdout, 'deployment.apps/web\n');
  t.is((await berth(['get', 'deploy', '-o', 'name', '--context', 'c1'], { env })).stdout, 'deployment.apps/web\n');
  t.is((await berth(['config', 'current-context'], { env })).stdout, 'c1\n');
  const view = parseYaml((await berth(['config', 'view'], { env })).stdout);
  t.is(view['current-context'], 'c1');
  t.is(view.contexts.length, 2);
});

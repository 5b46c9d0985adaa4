/**
 * Every manifest in examples/ is tried: all are admitted by a real cluster (server-side
 * dry run: defaults, validation, admission), and the app `npm start` applies runs for
 * real on the process runtime — its Deployment becomes available, its Service's
 * Endpoints list the ready pods — as does the Job.
 */
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifests } from '../src/api/index.ts';
import { AgentProcs } from '../src/cli/agent-procs.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { BerthClient, type PlainObject } from '../src/client/client.ts';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(200);
  }
}

test('examples: every manifest is admitted; the npm start app and the Job run on the process runtime', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-examples-'));
  const ports = await freePorts(6);
  const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
  const agents = new AgentProcs({ dir, servers: cluster.apiAddresses(), runtime: 'process', namePrefix: `examples-${process.pid}`, extraArgs: ['--quiet'] });
  const client = new BerthClient({ endpoints: cluster.apiAddresses() });
  t.teardown(async () => {
    for (const name of ['hello', 'spread']) await client.delete('Deployment', 'default', name).catch(() => {});
    await client.delete('Job', 'default', 'count').catch(() => {});
    // Let the agent stop what it runs (the process runtime's children outlive it otherwise).
    for (let i = 0; i < 100 && (await client.list('Pod', { namespace: 'default' }).then((l) => l.items.length, () => 0)) > 0; i++) await sleep(200);
    client.close();
    await agents.stopAll();
    await cluster.stopAll();
    if (t.passed) rmSync(dir, { recursive: true, force: true });
    else t.log(`cluster dir kept: ${dir}`);
  });
  await cluster.startAll();
  await until('the API', () => client.get('Namespace', '', 'default'));
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();
  t.true(files.length >= 6, `examples: ${files.join(', ')}`);
  for (const f of files) {
    for (const obj of parseManifests(readFileSync(join(EXAMPLES, f), 'utf8'), f)) {
      const r = await client.apply(obj as PlainObject, true);
      t.is(r.outcome, 'created', `${f}: ${obj.kind} ${obj.metadata?.name}`);
    }
  }
  // Nothing was stored by the dry runs.
  t.deepEqual((await client.list('Deployment', { namespace: 'default' })).items, []);

  agents.startAll(1);
  for (const f of ['hello.yaml', 'job.yaml']) {
    for (const obj of parseManifests(readFileSync(join(EXAMPLES, f), 'utf8'), f)) await client.apply(obj as PlainObject);
  }
  const deploy = await until('hello to be available', async () => {
    const d = await client.get('Deployment', 'default', 'hello');
    return (d.status as { availableReplicas?: number } | undefined)?.availableReplicas === 2 ? d : undefined;
  });
  t.is((deploy.status as { readyReplicas?: number }).readyReplicas, 2);
  const ep = await until('hello endpoints', async () => {
    const e = await client.get('Endpoints', 'default', 'hello');
    const n = ((e.subsets as { addresses?: unknown[] }[] | undefined) ?? []).reduce((a, s) => a + (s.addresses?.length ?? 0), 0);
    return n === 2 ? e : undefined;
  });
  t.truthy(ep);
  const job = await until('the Job to complete', async () => {
    const j = await client.get('Job', 'default', 'count');
    return ((j.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
  });
  t.is((job.status as { succeeded?: number }).succeeded, 3);
  // The greeting from the ConfigMap reached the container's environment.
  const pod = (await client.list('Pod', { namespace: 'default', labelSelector: 'app=hello' })).items[0]!;
  const logs = await until('a greeting in the logs', async () => {
    let text = '';
    await client.logs('default', String((pod.metadata as { name: string }).name), {}, (chunk) => {
      text += chunk.toString('utf8');
    }).done;
    return text.includes('hello from berth') ? text : undefined;
  });
  t.regex(logs, /hello from berth \(hello-/);
});

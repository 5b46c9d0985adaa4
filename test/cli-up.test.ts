/**
 * `berth up` as a user runs it: a child process that starts three replicas, writes the
 * client config, reports leader changes, stops on SIGINT, and — started again on the same
 * directory — resumes the same cluster with the same objects and Secret key.
 */
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { sleep } from '../src/cli/proc-cluster.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Two runs of `n` consecutive free ports (peer and API ranges). */
async function freeRanges(n: number): Promise<[number, number]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000) * 2;
    const ports = Array.from({ length: 2 * n + 1 }, (_, i) => base + i);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return [base, base + n + 1];
  }
  throw new Error('no free port ranges');
}

interface Up {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function startUp(args: string[], env: NodeJS.ProcessEnv): Up {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'up', ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => text, exited };
}

function berth(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, BERTH_SERVER: '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

/** Resolves after `ms` without keeping the process alive. */
function later(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

async function stop(up: Up): Promise<number | null> {
  up.child.kill('SIGINT');
  const code = await Promise.race([up.exited, later(30_000)]);
  if (code === 'timeout') {
    up.child.kill('SIGKILL');
    throw new Error('berth up did not stop within 30 s of SIGINT');
  }
  return code;
}

test('berth up starts a cluster, writes the config, reports leader changes, and resumes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-up-'));
  const running: Up[] = [];
  t.teardown(async () => {
    for (const up of running) {
      if (up.child.exitCode === null && up.child.signalCode === null) {
        up.child.kill('SIGTERM');
        await Promise.race([up.exited, later(15_000)]);
        up.child.kill('SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const env = { BERTH_CONFIG: join(dir, 'config') };
  const [peerBase, apiBase] = await freeRanges(3);
  const args = ['--data-dir', join(dir, 'data'), '--base-port', String(peerBase), '--api-base-port', String(apiBase)];
  const apis = [0, 1, 2].map((i) => `127.0.0.1:${apiBase + i}`);

  // First run.
  const first = startUp(args, env);
  running.push(first);
  await waitFor('the cluster to be up', () => first.out().includes('Ctrl-C stops the cluster.') || first.child.exitCode !== null);
  t.regex(first.out(), /^starting a local cluster of 3 replicas in /m);
  t.regex(first.out(), new RegExp(`^API: ${apis.join(',')}$`, 'm'));
  t.regex(first.out(), /^leader: replica [123] \(term \d+\)$/m);
  const config = parseYaml(readFileSync(env.BERTH_CONFIG, 'utf8'));
  t.is(config['current-context'], 'local');
  t.deepEqual(config.contexts, [{ name: 'local', servers: apis }]);

  // The client finds the cluster through the config alone.
  const manifest = join(dir, 'objects.yaml');
  writeFileSync(manifest, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\ndata: {a: "1"}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: kept\nstringData: {token: s3cret}\n');
  const applied = await berth(['apply', '-f', manifest], env);
  t.is(applied.stdout, 'configmap/kept created\nsecret/kept created\n', applied.stderr);

  // A second `up` on the same directory while the first runs is refused.
  const twice = await berth(['up', ...args], env);
  t.is(twice.code, 1);
  t.regex(twice.stderr, /already running on .* \(pid \d+\)/);

  // Leader changes are reported.
  const status = JSON.parse((await berth(['cluster', 'status', '-o', 'json'], env)).stdout);
  const target = [1, 2, 3].find((id) => id !== status.leader)!;
  const moved = await berth(['cluster', 'transfer-leader', String(target)], env);
  t.is(moved.code, 0, moved.stderr);
  await waitFor('the leader change to be reported', () => first.out().includes(`leader changed: replica ${target} `));

  t.is(await stop(first), 0);
  t.regex(first.out(), /stopping agents and replicas\.\.\.\nstopped\n$/);
  t.regex(first.out(), /^  agent node-1: runtime (cri|process), log /m);
  for (const port of [peerBase, peerBase + 1, peerBase + 2, ...[0, 1, 2].map((i) => apiBase + i)]) t.true(await portFree(port), `port ${port} released`);

  // Second run on the same directory: the same cluster, its objects, its Secret key.
  const second = startUp(['--data-dir', join(dir, 'data')], env);
  running.push(second);
  await waitFor('the cluster to be up again', () => second.out().includes('Ctrl-C stops the cluster.') || second.child.exitCode !== null);
  t.regex(second.out(), /^resuming a local cluster of 3 replicas in /m);
  t.regex(second.out(), new RegExp(`^API: ${apis.join(',')}$`, 'm'));
  const cm = JSON.parse((await berth(['get', 'cm', 'kept', '-o', 'json'], env)).stdout);
  t.deepEqual(cm.data, { a: '1' });
  const secret = JSON.parse((await berth(['get', 'secret', 'kept', '-o', 'json'], env)).stdout);
  t.is(Buffer.from(secret.data.token, 'base64').toString(), 's3cret');
  t.is(await stop(second), 0);
});

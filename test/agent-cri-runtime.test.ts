/**
 * CriRuntime against a real containerd (started by scripts/host-setup.sh): pod IPs, HTTP to a
 * pod from the host and between pods, exit codes and reasons, OOM kills, CRI log files, stats,
 * image pull failures and label round trips.
 *
 * Without a containerd socket these tests are skipped on a developer machine, and fail in CI
 * (CI=true), where host-setup.sh runs first and a missing socket is a broken setup.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriRuntime } from '../src/agent/runtimes/cri.ts';
import { criRequired, criSocketFromEnv, DEFAULT_HOST_DIR } from '../src/agent/runtimes/cri-env.ts';
import { RuntimeError, type ContainerConfig, type ContainerInfo, type SandboxConfig } from '../src/agent/runtimes/types.ts';

const SOCKET = criSocketFromEnv();
const REGISTRY = process.env.BERTH_REGISTRY?.trim() || 'localhost:5000';
const BUSYBOX = `${REGISTRY}/busybox:latest`;
const MISSING_SOCKET =
  `no containerd socket: BERTH_CRI_SOCKET is unset and ${join(process.env.BERTH_HOST_DIR?.trim() || DEFAULT_HOST_DIR, 'containerd.sock')} ` +
  'does not exist; run scripts/host-setup.sh (as root) first';

type Fn = (t: ExecutionContext) => Promise<void>;

/** Real-runtime tests run one at a time: each starts processes on a 2-core machine. */
function criTest(title: string, fn: Fn): void {
  if (SOCKET) test.serial(title, fn);
  else if (criRequired()) test(title, (t) => t.fail(MISSING_SOCKET));
  else test.skip(title, fn);
}

let rt: CriRuntime;
let logRoot: string;

if (SOCKET) {
  test.before(async () => {
    rt = new CriRuntime(SOCKET, { callTimeoutMs: 20_000 });
    await rt.version().catch((e: Error) => {
      throw new Error(`containerd at ${SOCKET} does not answer (${e.message}); run scripts/host-setup.sh`);
    });
    await rt.pullImage(BUSYBOX);
    logRoot = mkdtempSync(join(tmpdir(), 'berth-cri-test-'));
  });
  test.after.always(async () => {
    await rt?.close();
    if (logRoot) rmSync(logRoot, { recursive: true, force: true });
  });
}

const RUN_ID = randomUUID().slice(0, 8);

function sandboxConfig(name: string, extra: Partial<SandboxConfig> = {}): SandboxConfig {
  const uid = randomUUID();
  return {
    name: `${name}-${RUN_ID}`,
    namespace: 'berth-test',
    uid,
    attempt: 0,
    hostname: name,
    logDirectory: join(logRoot, uid),
    labels: { 'berth.test/run': RUN_ID },
    annotations: {},
    portMappings: [],
    ...extra,
  };
}

function containerConfig(name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    name,
    attempt: 0,
    image: BUSYBOX,
    command,
    args: [],
    env: [],
    mounts: [],
    labels: {},
    annotations: {},
    logPath: `${name}/0.log`,
    resources: {},
    ...extra,
  };
}

/** A running sandbox, stopped and removed when the test ends. */
async function pod(t: ExecutionContext, name: string, extra: Partial<SandboxConfig> = {}): Promise<{ id: string; cfg: SandboxConfig }> {
  const cfg = sandboxConfig(name, extra);
  const id = await rt.runPodSandbox(cfg);
  t.teardown(async () => {
    await rt.stopPodSandbox(id);
    await rt.removePodSandbox(id);
  });
  return { id, cfg };
}

async function startContainer(sandbox: { id: string; cfg: SandboxConfig }, cfg: ContainerConfig): Promise<string> {
  const id = await rt.createContainer(sandbox.id, cfg, sandbox.cfg);
  await rt.startContainer(id);
  return id;
}

async function waitExited(id: string, timeoutMs = 15_000): Promise<ContainerInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await rt.containerStatus(id);
    if (!s) throw new Error(`container ${id} vanished while waiting for it to exit`);
    if (s.state === 'exited') return s;
    if (Date.now() > deadline) throw new Error(`container ${id} still ${s.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// busybox httpd as PID 1 ignores SIGTERM; the shell wrapper turns SIGTERM into a clean exit.
const HTTPD = [
  'sh',
  '-c',
  'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && ' +
    '{ httpd -f -p 8080 -h /www & p=$!; trap "kill $p; exit 0" TERM; wait $p; }',
];

function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** GET until it answers: httpd needs a moment after StartContainer returns. */
async function httpGetEventually(url: string, withinMs = 10_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await httpGet(url, 2000);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

criTest('version names containerd', async (t) => {
  const v = await rt.version();
  t.is(v.runtimeName, 'containerd');
  t.truthy(v.runtimeVersion);
});

criTest('image status and pull resolve the same image id', async (t) => {
  const ref = await rt.pullImage(BUSYBOX);
  t.regex(ref, /^sha256:[0-9a-f]{64}$/);
  const st = await rt.imageStatus(BUSYBOX);
  t.is(st?.ref, ref);
  t.true((st?.sizeBytes ?? 0) > 0);
  t.is(await rt.imageStatus(`${REGISTRY}/never-pushed-${RUN_ID}:latest`), undefined);
});

criTest('a sandbox is ready with a pod IP, its labels and annotations', async (t) => {
  const p = await pod(t, 'ip', { labels: { 'berth.test/run': RUN_ID, app: 'web' }, annotations: { note: 'kept as given' } });
  const s = await rt.podSandboxStatus(p.id);
  t.truthy(s);
  t.is(s!.state, 'ready');
  t.regex(s!.ip ?? '', /^10\.88\.\d+\.\d+$/);
  t.is(s!.name, p.cfg.name);
  t.is(s!.namespace, 'berth-test');
  t.is(s!.uid, p.cfg.uid);
  t.deepEqual(s!.labels, { 'berth.test/run': RUN_ID, app: 'web' });
  t.deepEqual(s!.annotations, { note: 'kept as given' });
  t.true(Math.abs(s!.createdAt - Date.now()) < 60_000, 'createdAt is in ms since the epoch');
  const listed = (await rt.listPodSandboxes()).find((x) => x.id === p.id);
  t.is(listed?.ip, s!.ip);
});

criTest('httpd in a pod answers from the host at the pod IP and stops on SIGTERM', async (t) => {
  const p = await pod(t, 'web');
  const id = await startContainer(p, containerConfig('httpd', HTTPD));
  const ip = (await rt.podSandboxStatus(p.id))!.ip!;
  const res = await httpGetEventually(`http://${ip}:8080/`);
  t.is(res.status, 200);
  t.is(res.body.trim(), 'hello from web');
  const started = Date.now();
  await rt.stopContainer(id, 10);
  t.true(Date.now() - started < 5000, 'the wrapped httpd exits on SIGTERM, not after the grace period');
  const s = await rt.containerStatus(id);
  t.is(s?.state, 'exited');
  t.is(s?.exitCode, 0);
});

criTest('two pods reach each other by IP', async (t) => {
  const server = await pod(t, 'server');
  await startContainer(server, containerConfig('httpd', HTTPD));
  const serverIp = (await rt.podSandboxStatus(server.id))!.ip!;
  await httpGetEventually(`http://${serverIp}:8080/`);
  const client = await pod(t, 'client');
  const cid = await startContainer(client, containerConfig('sleeper', ['sleep', '600']));
  const clientIp = (await rt.podSandboxStatus(client.id))!.ip!;
  t.not(clientIp, serverIp);
  // busybox wget -T crashes: bound it with timeout instead.
  const r = await rt.execSync(cid, ['timeout', '5', 'wget', '-qO-', `http://${serverIp}:8080/`], 10);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.trim(), 'hello from server');
});

criTest('dual stack: a pod has an IPv4 and an IPv6 address, and answers HTTP on both', async (t) => {
  const server = await pod(t, 'dual');
  await startContainer(server, containerConfig('httpd', HTTPD));
  const s = (await rt.podSandboxStatus(server.id))!;
  t.regex(s.ip ?? '', /^10\.88\.\d+\.\d+$/);
  const v6 = (s.additionalIps ?? []).find((ip) => ip.includes(':'));
  t.truthy(v6, `an IPv6 address among ${JSON.stringify(s.additionalIps)}`);
  t.regex(v6!, /^fd88:be27:/);
  t.is((await httpGetEventually(`http://${s.ip}:8080/`)).body.trim(), 'hello from dual');
  t.is((await httpGetEventually(`http://[${v6}]:8080/`)).body.trim(), 'hello from dual');
});

criTest('exec returns exit code and both streams; a slow command times out', async (t) => {
  const p = await pod(t, 'exec');
  const id = await startContainer(p, containerConfig('sleeper', ['sleep', '600']));
  const r = await rt.execSync(id, ['sh', '-c', 'echo out; echo err >&2; exit 4'], 5);
  t.deepEqual(r, { exitCode: 4, stdout: 'out\n', stderr: 'err\n' });
  const slow = await rt.execSync(id, ['sleep', '30'], 1);
  t.true(slow.timedOut);
  // Own PID namespace per container: PID 1 is this container's command, not the pause process
  // (which is `sleep inf`).
  const pid1 = await rt.execSync(id, ['cat', '/proc/1/cmdline'], 5);
  t.is(pid1.stdout.split('\0').filter(Boolean).join(' '), 'sleep 600');
});

criTest('exit 3 gives exited, code 3, reason Error; a clean exit gives Completed', async (t) => {
  const p = await pod(t, 'exit');
  const failed = await startContainer(p, containerConfig('fails', ['sh', '-c', 'exit 3']));
  const ok = await startContainer(p, containerConfig('succeeds', ['true']));
  const f = await waitExited(failed);
  t.is(f.exitCode, 3);
  t.is(f.reason, 'Error');
  t.truthy(f.startedAt);
  // containerd stamps startedAt when StartContainer returns: a process that exits at once can
  // finish a few ms "before" it started, so only require both to be close.
  t.true(Math.abs(f.finishedAt! - f.startedAt!) < 10_000);
  const o = await waitExited(ok);
  t.is(o.exitCode, 0);
  t.is(o.reason, 'Completed');
});

criTest('a container over its 16Mi memory limit is OOMKilled', async (t) => {
  const p = await pod(t, 'oom');
  // The shell holds the whole 64 MB string in memory: well past the limit.
  const id = await startContainer(
    p,
    containerConfig('hog', ['sh', '-c', 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo ${#x}'], {
      resources: { memoryLimitBytes: 16 * 1024 * 1024 },
    }),
  );
  const s = await waitExited(id, 30_000);
  t.is(s.exitCode, 137);
  t.is(s.reason, 'OOMKilled');
});

criTest('a missing binary fails StartContainer with RunContainerError; status says StartError', async (t) => {
  const p = await pod(t, 'nobin');
  const id = await rt.createContainer(p.id, containerConfig('nobin', ['/no/such/binary']), p.cfg);
  const err = await t.throwsAsync(rt.startContainer(id), { instanceOf: RuntimeError });
  t.is(err?.reason, 'RunContainerError');
  const s = await rt.containerStatus(id);
  t.is(s?.state, 'exited');
  t.is(s?.reason, 'StartError');
  t.is(s?.exitCode, 128);
});

criTest('container logs are written in CRI format at the reported path', async (t) => {
  const p = await pod(t, 'logs');
  const id = await startContainer(p, containerConfig('talker', ['sh', '-c', 'echo hello; echo oops >&2; printf tail']));
  const s = await waitExited(id);
  t.is(s.logPath, join(p.cfg.logDirectory, 'talker/0.log'));
  const lines = readFileSync(s.logPath!, 'utf8').split('\n').filter(Boolean);
  const parsed = lines.map((l) => {
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(l);
    t.truthy(m, `not a CRI log line: ${JSON.stringify(l)}`);
    t.false(Number.isNaN(Date.parse(m![1]!)), `bad timestamp in ${l}`);
    return { stream: m![2], tag: m![3], text: m![4] };
  });
  // stdout and stderr are separate pipes, so their relative order is not guaranteed.
  t.deepEqual(parsed.filter((x) => x.stream === 'stdout'), [
    { stream: 'stdout', tag: 'F', text: 'hello' },
    { stream: 'stdout', tag: 'P', text: 'tail' },
  ]);
  t.deepEqual(parsed.filter((x) => x.stream === 'stderr'), [{ stream: 'stderr', tag: 'F', text: 'oops' }]);
});

criTest('a hostNetwork pod runs in the node\'s network namespace: no pod IP, the host\'s interfaces', async (t) => {
  const p = await pod(t, 'hostnet', { hostNetwork: true });
  const s = await rt.podSandboxStatus(p.id);
  t.is(s?.state, 'ready');
  t.falsy(s?.ip, 'no CNI address for a host-network sandbox');
  // /sys/class/net lists the interfaces of the network namespace the container runs in.
  const id = await startContainer(p, containerConfig('ifaces', ['sh', '-c', 'ls /sys/class/net']));
  const done = await waitExited(id);
  t.is(done.exitCode, 0);
  const seen = readFileSync(done.logPath!, 'utf8').split('\n').map((l) => l.split(' ').slice(3).join(' ')).filter(Boolean);
  t.true(seen.includes('berth0'), `the host's pod bridge is visible: ${seen.join(', ')}`);
  // A pod on the pod network sees only its own interfaces.
  const q = await pod(t, 'podnet');
  const id2 = await startContainer(q, containerConfig('ifaces', ['sh', '-c', 'ls /sys/class/net']));
  const done2 = await waitExited(id2);
  const seen2 = readFileSync(done2.logPath!, 'utf8').split('\n').map((l) => l.split(' ').slice(3).join(' ')).filter(Boolean);
  t.false(seen2.includes('berth0'), `a pod-network pod does not see the bridge: ${seen2.join(', ')}`);
  t.true(seen2.includes('eth0'));
});

criTest('stats report CPU time and working set for a running container', async (t) => {
  const p = await pod(t, 'stats');
  const id = await startContainer(p, containerConfig('busy', ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 600']));
  await new Promise((r) => setTimeout(r, 300));
  const [one] = await rt.containerStats([id]);
  t.is(one?.containerId, id);
  t.true(Number.isFinite(one!.cpuUsageNanos) && one!.cpuUsageNanos > 0);
  t.true(Number.isFinite(one!.memoryWorkingSetBytes) && one!.memoryWorkingSetBytes > 0);
  t.true(Math.abs(one!.timestamp - Date.now()) < 60_000);
  const all = await rt.containerStats();
  t.truthy(all.find((s) => s.containerId === id));
});

criTest('resources reach the container cgroup', async (t) => {
  const p = await pod(t, 'limits');
  const id = await startContainer(
    p,
    containerConfig('limited', ['sleep', '600'], {
      resources: { cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, memoryLimitBytes: 64 * 1024 * 1024 },
    }),
  );
  // cgroup v1 puts each controller at /sys/fs/cgroup/<controller>; v2 has one unified tree.
  const script =
    'if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then ' +
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us; ' +
    'else cat /sys/fs/cgroup/memory.max; echo 512; cut -d" " -f1 /sys/fs/cgroup/cpu.max; fi';
  const r = await rt.execSync(id, ['sh', '-c', script], 5);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), [String(64 * 1024 * 1024), '512', '50000']);
});

criTest('pulling an unknown image fails with ErrImagePull', async (t) => {
  const err = await t.throwsAsync(rt.pullImage(`${REGISTRY}/no-such-image-${RUN_ID}:latest`), { instanceOf: RuntimeError });
  t.is(err?.reason, 'ErrImagePull');
  t.regex(err!.message, /no-such-image/);
});

criTest('labels and annotations round-trip; list finds containers by label', async (t) => {
  const p = await pod(t, 'labels');
  const labels = { 'berth.io/pod-uid': p.cfg.uid, 'berth.io/container': 'main' };
  const annotations = { 'berth.io/restart-count': '0', 'berth.io/spec-hash': 'abc123' };
  const id = await startContainer(p, containerConfig('main', ['sleep', '600'], { labels, annotations }));
  const other = await startContainer(p, containerConfig('side', ['sleep', '600'], { labels: { 'berth.io/container': 'side' } }));
  const all = await rt.listContainers();
  const found = all.filter((c) => c.labels['berth.io/pod-uid'] === p.cfg.uid);
  t.deepEqual(found.map((c) => c.id), [id]);
  t.deepEqual(found[0]!.labels, labels);
  t.deepEqual(found[0]!.annotations, annotations);
  t.is(found[0]!.sandboxId, p.id);
  t.is(found[0]!.state, 'running');
  t.is(found[0]!.name, 'main');
  const inPod = await rt.listContainers({ sandboxId: p.id });
  t.deepEqual(inPod.map((c) => c.id).sort(), [id, other].sort());
  const st = await rt.containerStatus(id);
  t.deepEqual(st?.labels, labels);
  t.deepEqual(st?.annotations, annotations);
  t.is(st?.sandboxId, p.id);
});

criTest('stop and remove of missing sandboxes and containers succeed; status is undefined', async (t) => {
  const missing = 'f'.repeat(64);
  await rt.stopContainer(missing, 0);
  await rt.removeContainer(missing);
  await rt.stopPodSandbox(missing);
  await rt.removePodSandbox(missing);
  t.is(await rt.containerStatus(missing), undefined);
  t.is(await rt.podSandboxStatus(missing), undefined);
  // And twice on a real one: idempotent.
  const cfg = sandboxConfig('twice');
  const id = await rt.runPodSandbox(cfg);
  await rt.stopPodSandbox(id);
  await rt.stopPodSandbox(id);
  await rt.removePodSandbox(id);
  await rt.removePodSandbox(id);
  t.is(await rt.podSandboxStatus(id), undefined);
});

criTest('a missing socket names itself and the setup script', async (t) => {
  const bad = new CriRuntime(join(logRoot, 'no-such.sock'), { callTimeoutMs: 2000 });
  try {
    const err = await t.throwsAsync(bad.version(), { instanceOf: RuntimeError });
    t.regex(err!.message, /containerd socket .*no-such\.sock not found: run scripts\/host-setup\.sh/);
  } finally {
    await bad.close();
  }
});

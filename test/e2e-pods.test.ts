/**
 * The pod lifecycle through the whole system: three real `berth server` replicas (scheduler
 * and controllers on), one real `berth agent` process, and the API client — for both
 * runtimes, `process` (commands run on the host) and `cri` (real containerd). Each runtime
 * gets one cluster and one agent, reused by its cases, which run one after another.
 *
 * The cri cases follow test/agent-cri-runtime.test.ts: without a containerd socket they are
 * skipped on a developer machine and fail in CI (CI=true), where scripts/host-setup.sh runs
 * first and a missing socket is a broken setup.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { criRequired, criSocketFromEnv, DEFAULT_HOST_DIR } from '../src/agent/runtimes/cri-env.ts';
import { freePorts } from '../src/cli/proc-cluster.ts';
import type { PlainObject } from '../src/client/client.ts';
import {
  berthCli,
  condition,
  criContainersOf,
  firstStatus,
  getPod,
  getPodOrGone,
  httpGet,
  isRunningReady,
  leftovers,
  podLogs,
  podObject,
  podWhere,
  PodRecorder,
  processesMatching,
  removeAllPods,
  startEnv,
  until,
  type Ctr,
  type E2eEnv,
  type PodOut,
  type RuntimeKind,
} from './e2e-helpers.ts';

const SOCKET = criSocketFromEnv();
const REGISTRY = process.env.BERTH_REGISTRY?.trim() || 'localhost:5000';
const BUSYBOX = `${REGISTRY}/busybox:latest`;
const MISSING_SOCKET =
  `no containerd socket: BERTH_CRI_SOCKET is unset and ${join(process.env.BERTH_HOST_DIR?.trim() || DEFAULT_HOST_DIR, 'containerd.sock')} ` +
  'does not exist; run scripts/host-setup.sh (as root) first';
/** In every container command line: what is still running of this run can be found on the host. */
const RUN = `e2e-${randomUUID().slice(0, 8)}`;

type Fn = (t: ExecutionContext, env: E2eEnv) => Promise<void>;

const envs = new Map<RuntimeKind, Promise<E2eEnv>>();
const failed = new Set<RuntimeKind>();

function envOf(kind: RuntimeKind): Promise<E2eEnv> {
  let p = envs.get(kind);
  if (!p) {
    p = startEnv(kind, kind === 'cri' ? SOCKET : undefined);
    envs.set(kind, p);
  }
  return p;
}

test.after.always(async () => {
  for (const [kind, p] of envs) {
    const env = await p.catch(() => undefined);
    await env?.stop(failed.has(kind));
    if (env && failed.has(kind)) console.log(`[${kind}] logs of the failed run kept in ${env.dir}`);
  }
});

/** One case for one runtime, run serially (each starts real processes on a small machine). */
function e2e(kind: RuntimeKind, title: string, fn: Fn): void {
  const name = `[${kind}] ${title}`;
  const run = async (t: ExecutionContext) => {
    t.teardown(() => {
      if (!t.passed) failed.add(kind);
    });
    await fn(t, await envOf(kind));
  };
  if (kind === 'process' || SOCKET) test.serial(name, run);
  else if (criRequired()) test(name, (t) => t.fail(MISSING_SOCKET));
  else test.skip(name, run);
}

function sh(script: string, extra: Record<string, unknown> = {}, name = 'main'): Ctr {
  return { name, image: BUSYBOX, command: ['sh', '-c', `: ${RUN}; ${script}`], ...extra };
}

/** A shell loop that honours SIGTERM at once (sh as a container's PID 1 ignores it otherwise). */
const IDLE = 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done';

async function create(env: E2eEnv, obj: PlainObject): Promise<PodOut> {
  return (await env.client.create(obj)) as unknown as PodOut;
}

/** Records every committed version of pod `name` (start it before creating the pod); ends with the test. */
function record(t: ExecutionContext, env: E2eEnv, name: string): PodRecorder {
  const rec = new PodRecorder(env.client, name);
  t.teardown(() => rec.stop());
  return rec;
}

/** Offers each recorded version, in order, to `done(pod)` until it holds; returns the versions up to it. */
async function observe(rec: PodRecorder, what: string, done: (p: PodOut) => boolean, limitMs = 90_000): Promise<PodOut[]> {
  let seen = 0;
  try {
    return await until(
      `pod ${rec.name}: ${what}`,
      () => {
        for (; seen < rec.history.length; seen++) if (done(rec.history[seen]!)) return rec.history.slice(0, seen + 1);
        return undefined;
      },
      limitMs,
      50,
    );
  } finally {
    rec.stop();
  }
}

/** Whether `seq` holds `want` as a subsequence (in order, gaps allowed). */
function inOrder<T>(seq: T[], want: T[]): boolean {
  let i = 0;
  for (const x of seq) if (i < want.length && x === want[i]) i++;
  return i === want.length;
}

function registerRuntime(kind: RuntimeKind): void {
  const cri = kind === 'cri';
  /** The web pod of the first case, used by later ones (unaffected by others; adopted after an agent restart). */
  const web = { port: 8080, marker: `${RUN}-${kind}-web` };
  /** Where a container may write: /tmp in busybox; its own directory (the working dir) on the host. */
  const tmp = cri ? '/tmp' : '.';
  /** Mount paths as a container sees them: absolute in a container, relative to the working dir on the host. */
  const at = (p: string) => (cri ? p : p.replace(/^\//, ''));

  e2e(kind, 'a pod serving HTTP gets an IP and answers from the host', async (t, env) => {
    let container: Ctr;
    if (cri) {
      // busybox httpd as PID 1 ignores SIGTERM: the shell turns SIGTERM into a clean exit.
      const script = `mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && { httpd -f -p 8080 -h /www & p=$!; trap "kill $p; exit 0" TERM; wait $p; }`;
      container = { name: 'main', image: BUSYBOX, command: ['sh', '-c', `: ${web.marker}; ${script}`] };
    } else {
      [web.port] = await freePorts(1);
      const js = `/*${web.marker}*/ require('http').createServer((q, s) => s.end('hello from ' + process.env.HOSTNAME + '\\n')).listen(${web.port}, '127.0.0.1')`;
      container = { name: 'main', image: BUSYBOX, command: [process.execPath, '-e', js] };
    }
    container.readinessProbe = { httpGet: { path: '/', port: web.port }, periodSeconds: 1 };
    await create(env, podObject('web', [container], { nodeName: env.node }));
    const p = await podWhere(env.client, 'web', 'running and ready', isRunningReady, 90_000);
    const ip = p.status!.podIP!;
    if (cri) {
      // Dual stack (host-setup's CNI has an IPv4 and an IPv6 range): IPv4 first, as kubelet orders them.
      t.regex(ip, /^10\.88\.\d+\.\d+$/);
      t.is(p.status!.podIPs?.length, 2);
      t.deepEqual(p.status!.podIPs![0], { ip });
      t.regex(p.status!.podIPs![1]!.ip, /^fd88:be27:/);
    } else {
      t.is(ip, '127.0.0.1');
      t.deepEqual(p.status!.podIPs, [{ ip }]);
    }
    t.is(p.spec.nodeName, env.node);
    t.regex(firstStatus(p)!.containerID ?? '', cri ? /^containerd:\/\/[0-9a-f]{64}$/ : /^process:\/\//);
    const res = await httpGet(`http://${ip}:${web.port}/`);
    t.is(res.status, 200);
    t.is(res.body.trim(), 'hello from web');
  });

  if (cri) {
    e2e(kind, 'two pods reach each other by IP', async (t, env) => {
      const server = await getPod(env.client, 'web');
      const ip = server.status?.podIP;
      t.truthy(ip, 'the web pod of the first case runs');
      await create(
        env,
        podObject('client', [sh(`trap "exit 0" TERM; while :; do timeout 5 wget -qO- http://${ip}:8080/ 2>&1; sleep 1 & wait $!; done`)], { nodeName: env.node }),
      );
      const c = await podWhere(env.client, 'client', 'running', isRunningReady);
      t.not(c.status!.podIP, ip);
      const log = await until('the client to print the server page', async () => {
        const l = await podLogs(env.client, 'client');
        return l.includes('hello from web') ? l : undefined;
      });
      t.regex(log, /^hello from web$/m);
    });
  }

  e2e(kind, 'a container exiting non-zero restarts with a growing restartCount and back-off', async (t, env) => {
    const rec = record(t, env, 'crasher');
    await create(env, podObject('crasher', [sh('echo crashing; exit 3')], { nodeName: env.node }));
    const backoffs: string[] = [];
    const history = await observe(
      rec,
      'restartCount 2 and back-off 10s then 20s',
      (p) => {
        const w = firstStatus(p)?.state?.waiting;
        if (w?.reason === 'CrashLoopBackOff') {
          const m = /back-off (\S+) restarting failed container=main/.exec(w.message ?? '');
          if (m && backoffs[backoffs.length - 1] !== m[1]) backoffs.push(m[1]!);
        }
        return (firstStatus(p)?.restartCount ?? 0) >= 2 && inOrder(backoffs, ['10s', '20s']);
      },
      120_000,
    );
    const counts = history.map((p) => firstStatus(p)?.restartCount ?? 0);
    t.true(
      counts.every((n, i) => i === 0 || n >= counts[i - 1]!),
      `restartCount never goes down: ${counts.join(',')}`,
    );
    t.deepEqual(backoffs.slice(0, 2), ['10s', '20s'], 'the back-off doubles');
    const last = firstStatus(history[history.length - 1])!;
    t.is(last.lastState?.terminated?.exitCode, 3);
    t.is(last.lastState?.terminated?.reason, 'Error');
    t.is(history[history.length - 1]!.status?.phase, 'Running');
    t.is(condition(history[history.length - 1], 'Ready'), 'False');
    // The previous instance's log, as `berth logs --previous` reads it.
    t.is(await podLogs(env.client, 'crasher', { previous: true }), 'crashing\n');
  });

  e2e(kind, 'a failing liveness probe restarts the container', async (t, env) => {
    const container = sh(`trap "exit 7" TERM; touch ${tmp}/healthy; sleep 3 & wait $!; rm -f ${tmp}/healthy; while :; do sleep 1 & wait $!; done`, {
      livenessProbe: { exec: { command: ['test', '-f', `${tmp}/healthy`] }, initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
    });
    const rec = record(t, env, 'unhealthy');
    await create(env, podObject('unhealthy', [container], { nodeName: env.node, terminationGracePeriodSeconds: 10 }));
    const history = await observe(rec, 'restarted after a liveness failure', (p) => (firstStatus(p)?.restartCount ?? 0) >= 1 && firstStatus(p)?.lastState?.terminated !== undefined);
    t.true(history.some((p) => firstStatus(p)?.state?.running !== undefined && firstStatus(p)?.restartCount === 0), 'it ran before it was restarted');
    const s = firstStatus(history[history.length - 1])!;
    // The trap ran: the container was stopped with SIGTERM, as the probe's kill does.
    t.is(s.lastState!.terminated!.exitCode, 7);
    t.regex(s.lastState!.terminated!.message ?? '', /failed liveness probe/);
  });

  e2e(kind, 'a readiness probe flips the Ready condition as the file comes and goes', async (t, env) => {
    const container = sh(`trap "exit 0" TERM; while :; do sleep 4 & wait $!; touch ${tmp}/ready; sleep 4 & wait $!; rm -f ${tmp}/ready; done`, {
      readinessProbe: { exec: { command: ['test', '-f', `${tmp}/ready`] }, periodSeconds: 1, failureThreshold: 1, successThreshold: 1 },
    });
    const rec = record(t, env, 'flipper');
    await create(env, podObject('flipper', [container], { nodeName: env.node }));
    const seen: string[] = [];
    const history = await observe(rec, 'Ready False, then True, then False', (p) => {
      if (p.status?.phase !== 'Running' || !firstStatus(p)?.state?.running) return false;
      const r = condition(p, 'Ready');
      if (r && seen[seen.length - 1] !== r) seen.push(r);
      return inOrder(seen, ['False', 'True', 'False']);
    });
    t.true(inOrder(seen, ['False', 'True', 'False']), seen.join(' → '));
    // Container readiness agrees with the condition, and the container was never restarted for it.
    for (const p of history) {
      if (p.status?.phase === 'Running' && firstStatus(p)?.state?.running) t.is(String(firstStatus(p)!.ready), String(condition(p, 'ContainersReady') === 'True'));
    }
    t.is(firstStatus(history[history.length - 1])!.restartCount, 0);
  });

  e2e(kind, 'a container over its memory limit is OOMKilled', async (t, env) => {
    const container = sh('x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo ${#x}; sleep 60', {
      resources: { limits: { memory: '16Mi' }, requests: { memory: '16Mi' } },
    });
    await create(env, podObject('hog', [container], { nodeName: env.node, restartPolicy: 'Never' }));
    const p = await podWhere(env.client, 'hog', 'terminated', (x) => firstStatus(x)?.state?.terminated !== undefined, 60_000);
    const term = firstStatus(p)!.state!.terminated!;
    t.is(term.reason, 'OOMKilled');
    t.is(term.exitCode, 137);
    const done = await podWhere(env.client, 'hog', 'failed', (x) => x.status?.phase === 'Failed' || x.status?.phase === 'Succeeded');
    t.is(done.status!.phase, 'Failed');
  });

  e2e(kind, 'a Secret mounted as files has its content and modes', async (t, env) => {
    const token = `s3cr3t-${RUN}`;
    await env.client.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'default' }, type: 'Opaque', stringData: { token } });
    const script = [`stat -L -c %a ${at('/etc/creds')}/token`, `cat ${at('/etc/creds')}/token`, 'echo', `stat -L -c %a ${at('/etc/creds-default')}/token`].join('; ');
    const container = sh(script, {
      volumeMounts: [
        { name: 'creds', mountPath: '/etc/creds', readOnly: true },
        { name: 'creds-default', mountPath: '/etc/creds-default', readOnly: true },
      ],
    });
    await create(
      env,
      podObject('secret-reader', [container], {
        nodeName: env.node,
        restartPolicy: 'Never',
        volumes: [
          { name: 'creds', secret: { secretName: 'creds', defaultMode: 0o440 } },
          { name: 'creds-default', secret: { secretName: 'creds' } },
        ],
      }),
    );
    const p = await podWhere(env.client, 'secret-reader', 'finished', (x) => x.status?.phase === 'Succeeded' || x.status?.phase === 'Failed');
    // The process runtime's log pump may trail the exit by its period (src/agent/runtimes/process.ts):
    // wait for the three lines the script prints, then compare them exactly.
    const log = await until('the secret reader\'s whole log', async () => {
      const l = await podLogs(env.client, 'secret-reader');
      return l.split('\n').length > 3 ? l : undefined;
    }, 10_000).catch(() => podLogs(env.client, 'secret-reader'));
    t.is(p.status!.phase, 'Succeeded', log);
    // defaultMode 0440 as asked; without one, secret files are 0400 (berth's default).
    t.is(log, `440\n${token}\n400\n`);
  });

  e2e(kind, 'berth logs prints what the container printed, and --tail', async (t, env) => {
    await create(env, podObject('talker', [sh(`for i in 1 2 3 4 5; do echo line-$i; done; ${IDLE}`)], { nodeName: env.node }));
    await podWhere(env.client, 'talker', 'running', isRunningReady);
    const want = 'line-1\nline-2\nline-3\nline-4\nline-5\n';
    await until('all five lines in the log', async () => ((await podLogs(env.client, 'talker')) === want ? true : undefined));
    const servers = env.cluster.apiAddresses().join(',');
    const all = await berthCli(['logs', 'talker', '--server', servers], env.dir);
    t.is(all.code, 0, all.stderr);
    t.is(all.stdout, want);
    const tail = await berthCli(['logs', 'pod/talker', '--tail', '2', '--server', servers], env.dir);
    t.is(tail.code, 0, tail.stderr);
    t.is(tail.stdout, 'line-4\nline-5\n');
    t.is(await podLogs(env.client, 'talker', { tailLines: 1 }), 'line-5\n');
  });

  e2e(kind, 'an agent killed and started again adopts its running pods', async (t, env) => {
    const before = await podWhere(env.client, 'web', 'running and ready', isRunningReady);
    const talkerBefore = await podWhere(env.client, 'talker', 'running and ready', isRunningReady);
    const pids = processesMatching(web.marker);
    t.true(pids.length > 0, 'the web pod has processes on the host');

    await env.agents.kill(1, 'SIGKILL');
    env.agents.start(1);
    // A pod bound now runs only once the new agent has registered and synced its assignments.
    await create(env, podObject('after-restart', [sh(IDLE)], { nodeName: env.node }));
    await podWhere(env.client, 'after-restart', 'running (the new agent works)', isRunningReady, 90_000);

    for (const [name, old] of [
      ['web', before],
      ['talker', talkerBefore],
    ] as const) {
      const now = await podWhere(env.client, name, 'running and ready', isRunningReady);
      const a = firstStatus(old)!;
      const b = firstStatus(now)!;
      t.is(b.containerID, a.containerID, `${name}: same container`);
      t.is(b.state?.running?.startedAt, a.state?.running?.startedAt, `${name}: not started again`);
      t.is(b.restartCount, a.restartCount, `${name}: no restart`);
      t.is(now.status!.phase, 'Running');
    }
    t.deepEqual(processesMatching(web.marker), pids, 'the very same processes run');
    if (cri) t.is((await criContainersOf(env, before.metadata.uid)).length, 1, 'no second container was created');
    const res = await httpGet(`http://${before.status!.podIP}:${web.port}/`);
    t.is(res.body.trim(), 'hello from web');
    // The new agent serves logs on a new port: the control plane relays to it.
    t.is(await podLogs(env.client, 'talker'), 'line-1\nline-2\nline-3\nline-4\nline-5\n');
  });

  if (cri) {
    e2e(kind, 'an unknown image gives ErrImagePull, then ImagePullBackOff; other pods are unaffected', async (t, env) => {
      const image = `${REGISTRY}/nope:latest`;
      const rec = record(t, env, 'ghost');
      await create(env, podObject('ghost', [{ name: 'main', image, command: ['sh', '-c', IDLE] }], { nodeName: env.node }));
      const reasons: string[] = [];
      const history = await observe(rec, 'ErrImagePull, then ImagePullBackOff', (p) => {
        const r = firstStatus(p)?.state?.waiting?.reason;
        if (r && reasons[reasons.length - 1] !== r) reasons.push(r);
        return inOrder(reasons, ['ErrImagePull', 'ImagePullBackOff']);
      });
      const pull = history.map((p) => firstStatus(p)?.state?.waiting).find((w) => w?.reason === 'ErrImagePull')!;
      t.log(`waiting reasons as written: ${reasons.join(' → ')}; ErrImagePull: ${pull.message}`);
      t.true((pull.message ?? '').startsWith(`Failed to pull image "${image}": `), pull.message);
      t.regex(pull.message ?? '', /not found/);
      t.is(firstStatus(history[history.length - 1])!.state!.waiting!.message, `Back-off pulling image "${image}"`);
      t.is(history[history.length - 1]!.status!.phase, 'Pending');
      await checkOthersUnaffected(t, env);
    });
  }

  e2e(kind, 'a missing binary fails the start with a clear reason; other pods are unaffected', async (t, env) => {
    await create(env, podObject('nobin', [{ name: 'main', image: BUSYBOX, command: ['/no/such/binary'] }], { nodeName: env.node }));
    const p = await podWhere(env.client, 'nobin', 'a start error', (x) => firstStatus(x)?.lastState?.terminated !== undefined || firstStatus(x)?.state?.terminated !== undefined);
    const s = firstStatus(p)!;
    t.log(JSON.stringify({ state: s.state, lastState: s.lastState, restartCount: s.restartCount, phase: p.status?.phase }));
    // As kubelet: the start fails (RunContainerError, then the crash back-off), the instance
    // ended as StartError with exit code 128; both say which binary is missing.
    t.true(['RunContainerError', 'CrashLoopBackOff'].includes(s.state?.waiting?.reason ?? ''), JSON.stringify(s.state));
    t.is(s.lastState?.terminated?.reason, 'StartError');
    t.is(s.lastState?.terminated?.exitCode, 128);
    t.regex(s.lastState?.terminated?.message ?? '', /"\/no\/such\/binary": stat \/no\/such\/binary: no such file or directory/);
    if (s.state?.waiting?.reason === 'RunContainerError') t.regex(s.state.waiting.message ?? '', /\/no\/such\/binary/);
    await checkOthersUnaffected(t, env);
  });

  e2e(kind, 'deleting a pod stops it gracefully and removes it from the API', async (t, env) => {
    const marker = `${RUN}-leaver`;
    await create(
      env,
      podObject('leaver', [{ name: 'main', image: BUSYBOX, command: ['sh', '-c', `: ${marker}; trap "echo bye; exit 0" TERM; echo started; while :; do sleep 1 & wait $!; done`] }], {
        nodeName: env.node,
        terminationGracePeriodSeconds: 60,
      }),
    );
    const running = await podWhere(env.client, 'leaver', 'running', isRunningReady);
    t.true(processesMatching(marker).length > 0);
    const rec = record(t, env, 'leaver');
    await until('the watch to deliver the pod', () => (rec.latest ? true : undefined), 10_000, 50);
    await env.client.delete('Pod', 'default', 'leaver');
    await until('the pod to disappear from the API', async () => ((await getPodOrGone(env.client, 'leaver')) === undefined ? true : undefined), 90_000, 200);
    await until('the DELETED event', () => (rec.deleted ? true : undefined), 10_000, 50);
    rec.stop();
    // First marked (deletionTimestamp, the grace period given), then gone once the agent confirmed.
    const marked = rec.history.find((p) => p.metadata.deletionTimestamp);
    t.truthy(marked, 'marked for deletion before it was removed');
    t.true(rec.history.indexOf(marked!) < rec.history.length - 1);
    const final = rec.latest!;
    // The trap ran: SIGTERM and a clean exit, not the SIGKILL (137) at the end of the grace period.
    t.is(firstStatus(final)?.state?.terminated?.exitCode, 0);
    t.is(firstStatus(final)?.state?.terminated?.reason, 'Completed');
    await until('no process of the pod left on the host', () => (processesMatching(marker).length === 0 ? true : undefined), 30_000, 200);
    if (cri) await until('no container of the pod left in containerd', async () => ((await criContainersOf(env, running.metadata.uid)).length === 0 ? true : undefined), 30_000, 200);
    t.pass();
  });

  e2e(kind, 'a pod without a node is scheduled onto the agent and runs', async (t, env) => {
    await create(env, podObject('scheduled', [sh(IDLE)]));
    const p = await podWhere(env.client, 'scheduled', 'running', isRunningReady, 90_000);
    t.is(p.spec.nodeName, env.node);
    t.is(condition(p, 'PodScheduled'), 'True');
  });

  e2e(kind, 'deleting every pod with grace 0 leaves nothing behind in the runtime', async (t, env) => {
    await removeAllPods(env);
    t.deepEqual((await env.client.list('Pod', {})).items, []);
    t.deepEqual(await leftovers(env), []);
    await until('no process of this run left on the host', () => (processesMatching(RUN).length === 0 ? true : undefined), 30_000, 200);
    await env.stop(failed.has(kind));
  });
}

/** The long-running pods of the earlier cases still run, ready and not restarted. */
async function checkOthersUnaffected(t: ExecutionContext, env: E2eEnv): Promise<void> {
  for (const name of ['web', 'talker']) {
    const p = await getPod(env.client, name);
    t.true(isRunningReady(p), `${name} still runs and is ready`);
    t.is(firstStatus(p)!.restartCount, 0, `${name} was not restarted`);
  }
}

registerRuntime('process');
registerRuntime('cri');

/**
 * The pod worker on the fake runtime and a manual clock: lifecycle, restart policies and
 * crash back-off, init containers, image pulls, adoption, deletion, deadlines.
 */
import test from 'ava';
import { appState, cond, makePod, sync, workerHarness } from './agent-helpers.ts';

test('a pod goes Running with ready containers, IPs, conditions and container ids', async (t) => {
  const pod = makePod('web', [{ name: 'c0' }, { name: 'c1', image: 'nginx:1.25' }]);
  const h = workerHarness(pod);
  await sync(h);
  const s = h.status()!;
  t.is(s.phase, 'Running');
  t.is(s.hostIP, '192.0.2.10');
  t.regex(s.podIP ?? '', /^10\./);
  t.deepEqual(s.podIPs, [{ ip: s.podIP! }]);
  t.truthy(s.startTime);
  t.is(cond(s, 'Ready'), 'True');
  t.is(cond(s, 'ContainersReady'), 'True');
  t.is(cond(s, 'Initialized'), 'True');
  t.is(cond(s, 'PodScheduled'), 'True');
  for (const name of ['c0', 'c1']) {
    const c = appState(s, name)!;
    t.truthy(c.state?.running?.startedAt);
    t.true(c.ready);
    t.true(c.started);
    t.is(c.restartCount, 0);
    t.regex(c.containerID ?? '', /^fake:\/\//);
    t.regex(c.imageID, /^sha256:/);
  }
  t.deepEqual(h.runtime.pulls, ['nginx:1.25']); // busybox:1.36 was present (IfNotPresent)
  t.is(s.qosClass, 'BestEffort');
  // A sync with nothing changed changes nothing and reports nothing new.
  const n = h.statuses.length;
  await sync(h);
  t.is(h.statuses.length, n);
  t.is(h.runtime.containerCount, 2);
  t.is(h.runtime.sandboxCount, 1);
});

test('restartPolicy Always: immediate first restart, then CrashLoopBackOff doubling from 10 s, reset after 10 min running', async (t) => {
  const pod = makePod('crash', [{ name: 'c0' }]);
  // Attempts 0..3 crash after 1 s; attempt 4 runs 11 minutes, then crashes.
  const h = workerHarness(pod, {
    runtime: { behaviour: (cfg) => ({ exitAfterMs: cfg.attempt === 4 ? 11 * 60_000 : 1000, exitCode: 2 }) },
  });
  await sync(h);
  t.is(appState(h.status())!.restartCount, 0);
  await h.advance(1000);
  // The first crash restarts at once.
  let c = appState(h.status())!;
  t.is(c.restartCount, 1);
  t.truthy(c.state?.running);
  t.is(c.lastState?.terminated?.exitCode, 2);
  t.is(c.lastState?.terminated?.reason, 'Error');
  // Attempt 1 crashes at t=2s: back-off 10 s from its exit.
  await h.advance(1000);
  c = appState(h.status())!;
  t.is(c.state?.waiting?.reason, 'CrashLoopBackOff');
  t.regex(c.state?.waiting?.message ?? '', /back-off 10s restarting failed container=c0/);
  t.is(c.restartCount, 1);
  t.is(h.status()!.phase, 'Running');
  t.is(cond(h.status(), 'Ready'), 'False');
  await h.advance(9500);
  t.is(appState(h.status())!.state?.waiting?.reason, 'CrashLoopBackOff');
  await h.advance(500);
  c = appState(h.status())!;
  t.is(c.restartCount, 2);
  t.truthy(c.state?.running);
  // Attempt 2 crashes 1 s later; the back-off is now 20 s.
  await h.advance(1000);
  t.regex(appState(h.status())!.state?.waiting?.message ?? '', /back-off 20s/);
  await h.advance(19_500);
  t.is(appState(h.status())!.restartCount, 2);
  await h.advance(500);
  t.is(appState(h.status())!.restartCount, 3);
  // Attempt 3 crashes; 40 s back-off; attempt 4 then runs 11 minutes.
  await h.advance(1000);
  t.regex(appState(h.status())!.state?.waiting?.message ?? '', /back-off 40s/);
  await h.advance(40_000);
  t.is(appState(h.status())!.restartCount, 4);
  await h.advance(11 * 60_000, 60_000);
  // After running 11 minutes the back-off was forgotten: restarted at once.
  c = appState(h.status())!;
  t.is(c.restartCount, 5);
  t.truthy(c.state?.running);
});

test('restartPolicy OnFailure restarts failures only and ends Succeeded', async (t) => {
  const pod = makePod('job', [{ name: 'c0' }], { restartPolicy: 'OnFailure' });
  const h = workerHarness(pod, { runtime: { behaviour: (cfg) => ({ exitAfterMs: 1000, exitCode: cfg.attempt === 0 ? 1 : 0 }) } });
  await sync(h);
  await h.advance(1000);
  t.is(appState(h.status())!.restartCount, 1);
  await h.advance(1000);
  const s = h.status()!;
  t.is(s.phase, 'Succeeded');
  t.is(appState(s)!.state?.terminated?.reason, 'Completed');
  t.is(appState(s)!.state?.terminated?.exitCode, 0);
  t.is(appState(s)!.lastState?.terminated?.exitCode, 1);
  t.is(cond(s, 'Ready'), 'False');
  t.is(s.conditions!.find((x) => x.type === 'Ready')!.reason, 'PodCompleted');
  // The sandbox is stopped, the containers stay for status and logs.
  const sb = await h.runtime.listPodSandboxes();
  t.is(sb[0]!.state, 'notready');
  await h.advance(60_000, 10_000);
  t.is(appState(h.status())!.restartCount, 1);
});

test('restartPolicy Never: a failure is final and the pod Failed', async (t) => {
  const pod = makePod('once', [{ name: 'c0' }, { name: 'c1' }], { restartPolicy: 'Never' });
  const h = workerHarness(pod, { runtime: { behaviour: (cfg) => (cfg.name === 'c0' ? { exitAfterMs: 1000, exitCode: 3 } : { exitAfterMs: 2000, exitCode: 0 }) } });
  await sync(h);
  await h.advance(1000);
  t.is(h.status()!.phase, 'Running'); // c1 still runs
  t.is(appState(h.status(), 'c0')!.state?.terminated?.exitCode, 3);
  await h.advance(1000);
  t.is(h.status()!.phase, 'Failed');
  await h.advance(30_000, 10_000);
  t.is(appState(h.status(), 'c0')!.restartCount, 0);
  t.is(h.runtime.containerCount, 2);
});

test('init containers run in order, each to success, before the app containers', async (t) => {
  const pod = makePod('init', [{ name: 'app' }], {
    initContainers: [
      { name: 'i1', image: 'busybox:1.36' },
      { name: 'i2', image: 'busybox:1.36' },
    ],
  });
  const h = workerHarness(pod, { runtime: { behaviour: (cfg) => (cfg.name.startsWith('i') ? { exitAfterMs: 1000, exitCode: 0 } : {}) } });
  await sync(h);
  let s = h.status()!;
  t.is(s.phase, 'Pending');
  t.truthy(s.initContainerStatuses![0]!.state?.running);
  t.is(s.initContainerStatuses![1]!.state?.waiting?.reason, 'PodInitializing');
  t.is(appState(s, 'app')!.state?.waiting?.reason, 'PodInitializing');
  t.is(cond(s, 'Initialized'), 'False');
  t.is(h.runtime.containerCount, 1);
  await h.advance(1000);
  s = h.status()!;
  t.is(s.initContainerStatuses![0]!.state?.terminated?.reason, 'Completed');
  t.truthy(s.initContainerStatuses![1]!.state?.running);
  t.is(h.runtime.containerCount, 2);
  await h.advance(1000);
  s = h.status()!;
  t.is(cond(s, 'Initialized'), 'True');
  t.truthy(appState(s, 'app')!.state?.running);
  t.is(s.phase, 'Running');
  // The app container crashing does not rerun init containers.
  const app = (await h.runtime.listContainers()).find((c) => c.name === 'app')!;
  h.runtime.exit(app.id, 1);
  await sync(h);
  t.is(appState(h.status(), 'app')!.restartCount, 1);
  t.is((await h.runtime.listContainers()).filter((c) => c.name === 'i1').length, 1);
});

test('a failing init container: back-off with Always, pod Failed with Never; app never starts', async (t) => {
  for (const policy of ['Always', 'Never'] as const) {
    const pod = makePod(`initfail-${policy.toLowerCase()}`, [{ name: 'app' }], { restartPolicy: policy, initContainers: [{ name: 'i1', image: 'busybox:1.36' }] });
    const h = workerHarness(pod, { runtime: { behaviour: (cfg) => (cfg.name === 'i1' ? { exitAfterMs: 1000, exitCode: 1 } : {}) } });
    await sync(h);
    await h.advance(1000);
    const s = h.status()!;
    if (policy === 'Never') {
      t.is(s.phase, 'Failed');
      t.is(s.initContainerStatuses![0]!.state?.terminated?.exitCode, 1);
      t.is(s.initContainerStatuses![0]!.restartCount, 0);
    } else {
      t.is(s.phase, 'Pending');
      t.is(s.initContainerStatuses![0]!.restartCount, 1); // restarted at once
      await h.advance(1000);
      t.is(h.status()!.initContainerStatuses![0]!.state?.waiting?.reason, 'CrashLoopBackOff');
      t.is(h.status()!.phase, 'Pending');
    }
    t.false((await h.runtime.listContainers()).some((c) => c.name === 'app'));
  }
});

test('image pulls: ErrImagePull, then ImagePullBackOff while backing off, then success; Never → ErrImageNeverPull', async (t) => {
  const pod = makePod('pull', [{ name: 'c0', image: 'registry.test/app:v1' }]);
  const h = workerHarness(pod);
  h.runtime.failPull('registry.test/app:v1', 'connection refused');
  await sync(h);
  let c = appState(h.status())!;
  t.is(c.state?.waiting?.reason, 'ErrImagePull');
  t.regex(c.state?.waiting?.message ?? '', /Failed to pull image "registry.test\/app:v1": connection refused/);
  t.is(h.status()!.phase, 'Pending');
  await h.advance(5000);
  c = appState(h.status())!;
  t.is(c.state?.waiting?.reason, 'ImagePullBackOff');
  t.is(h.runtime.pulls.length, 1);
  const seen = h.statuses.length;
  await h.advance(5000);
  t.is(h.runtime.pulls.length, 2);
  // The failed retry is reported as ErrImagePull (a later sync in the same instant says ImagePullBackOff).
  t.true(h.statuses.slice(seen).some((x) => appState(x.status)!.state?.waiting?.reason === 'ErrImagePull'));
  // The back-off doubled: 20 s without a pull.
  await h.advance(19_500);
  t.is(h.runtime.pulls.length, 2);
  t.is(appState(h.status())!.state?.waiting?.reason, 'ImagePullBackOff');
  h.runtime.failPull('registry.test/app:v1', undefined);
  await h.advance(500);
  t.truthy(appState(h.status())!.state?.running);

  const never = makePod('never', [{ name: 'c0', image: 'absent:1', imagePullPolicy: 'Never' }]);
  const h2 = workerHarness(never);
  await sync(h2);
  t.is(appState(h2.status())!.state?.waiting?.reason, 'ErrImageNeverPull');
  t.is(h2.runtime.pulls.length, 0);
});

test('create and start failures show CreateContainerError / RunContainerError', async (t) => {
  const pod = makePod('bad', [{ name: 'c0' }, { name: 'c1' }], { restartPolicy: 'Never' });
  const h = workerHarness(pod, {
    runtime: { behaviour: (cfg) => (cfg.name === 'c0' ? { createError: 'no such mount' } : { startError: 'exec: "x": executable file not found' }) },
  });
  await sync(h);
  const s = h.status()!;
  t.is(appState(s, 'c0')!.state?.waiting?.reason, 'CreateContainerError');
  t.is(appState(s, 'c0')!.state?.waiting?.message, 'no such mount');
  const c1 = appState(s, 'c1')!;
  t.is(c1.state?.terminated?.reason, 'StartError');
  t.is(c1.state?.terminated?.exitCode, 128);
});

test('an agent restart adopts the running pod instead of starting it again', async (t) => {
  const pod = makePod('adopt', [{ name: 'c0' }], { initContainers: [{ name: 'i1', image: 'busybox:1.36' }] });
  const h = workerHarness(pod, { runtime: { behaviour: (cfg) => (cfg.name === 'i1' ? { exitAfterMs: 100 } : {}) } });
  await sync(h);
  await h.advance(500);
  const before = appState(h.status())!;
  t.truthy(before.state?.running);
  t.is(h.runtime.sandboxCount, 1);
  t.is(h.runtime.containerCount, 2);
  h.statuses.length = 0;
  h.restart({ ...pod, status: h.worker.status! });
  await sync(h);
  const after = appState(h.status())!;
  t.is(after.containerID, before.containerID);
  t.deepEqual(after.state, before.state);
  t.is(h.runtime.sandboxCount, 1);
  t.is(h.runtime.containerCount, 2); // the init container did not run again
  t.is(h.status()!.phase, 'Running');
  t.is(h.status()!.startTime, h.statuses[0]!.status.startTime);
});

test('deletion: containers get the grace period, then the pod is reported terminated; removal cleans up', async (t) => {
  const pod = makePod('del', [{ name: 'c0' }, { name: 'stubborn' }], { terminationGracePeriodSeconds: 30 });
  const h = workerHarness(pod, { runtime: { behaviour: (cfg) => (cfg.name === 'stubborn' ? { ignoreSigterm: true } : {}) } });
  await sync(h);
  t.is(h.status()!.phase, 'Running');
  const deleting = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date(h.clock.now()).toISOString(), deletionGracePeriodSeconds: 5 } };
  h.worker.update(deleting);
  await h.clock.advance(0);
  t.deepEqual(
    h.runtime.stopCalls.map((c) => c.timeoutSeconds),
    [5, 5],
  );
  // The stubborn one holds out until the grace period ends.
  await h.clock.advance(4000);
  t.is(h.status()!.phase, 'Running');
  await h.clock.advance(1000);
  await h.worker.idle();
  const s = h.status()!;
  t.is(s.phase, 'Failed');
  t.is(appState(s, 'c0')!.state?.terminated?.exitCode, 143);
  t.is(appState(s, 'stubborn')!.state?.terminated?.exitCode, 137);
  t.true(h.statuses[h.statuses.length - 1]!.force);
  h.worker.remove();
  await h.worker.idle();
  t.deepEqual(h.gone, [pod.metadata.uid]);
  t.is(h.runtime.containerCount, 0);
  t.is(h.runtime.sandboxCount, 0);
});

test('activeDeadlineSeconds fails the pod with DeadlineExceeded', async (t) => {
  const pod = makePod('deadline', [{ name: 'c0' }], { activeDeadlineSeconds: 30 });
  const h = workerHarness(pod);
  await sync(h);
  await h.clock.advance(29_000);
  await h.worker.idle();
  t.is(h.status()!.phase, 'Running');
  await h.clock.advance(1000);
  await h.worker.idle();
  const s = h.status()!;
  t.is(s.phase, 'Failed');
  t.is(s.reason, 'DeadlineExceeded');
  t.truthy(appState(s)!.state?.terminated);
});

test('a changed image restarts the container', async (t) => {
  const pod = makePod('img', [{ name: 'c0', image: 'busybox:1.36' }]);
  const h = workerHarness(pod);
  await sync(h);
  const first = appState(h.status())!.containerID;
  const next = { ...pod, spec: { ...pod.spec, containers: [{ name: 'c0', image: 'busybox:1.37' }] } };
  h.worker.update(next);
  await h.worker.idle();
  await sync(h);
  const c = appState(h.status())!;
  t.not(c.containerID, first);
  t.is(c.restartCount, 1);
  t.truthy(c.state?.running);
  t.is(c.image, 'busybox:1.37');
  t.regex(c.lastState?.terminated?.message ?? '', /definition changed/);
});

test('a dead sandbox is replaced and its containers started again in the new one', async (t) => {
  const pod = makePod('sbx', [{ name: 'c0' }]);
  const h = workerHarness(pod);
  await sync(h);
  const [sb] = await h.runtime.listPodSandboxes();
  h.runtime.breakSandbox(sb!.id);
  await sync(h);
  const sbs = await h.runtime.listPodSandboxes();
  const current = sbs.find((s) => s.state === 'ready')!;
  t.is(current.attempt, 1);
  const c = appState(h.status())!;
  t.truthy(c.state?.running);
  t.is(c.restartCount, 1);
});

test('sidecars (restartPolicy Always init containers) start first, keep running, and do not hold a finished pod', async (t) => {
  const pod = makePod('side', [{ name: 'main' }], {
    restartPolicy: 'Never',
    initContainers: [
      { name: 'setup', image: 'busybox:1.36' },
      { name: 'proxy', image: 'busybox:1.36', restartPolicy: 'Always' },
    ],
  });
  const h = workerHarness(pod, {
    runtime: { behaviour: (cfg) => (cfg.name === 'setup' ? { exitAfterMs: 100 } : cfg.name === 'main' ? { exitAfterMs: 5000 } : {}) },
  });
  await sync(h);
  await h.advance(500);
  let s = h.status()!;
  t.is(cond(s, 'Initialized'), 'True');
  t.truthy(s.initContainerStatuses![1]!.state?.running);
  t.truthy(appState(s, 'main')!.state?.running);
  t.is(s.phase, 'Running');
  t.is(cond(s, 'Ready'), 'True');
  // The sidecar crashing is restarted even under restartPolicy Never.
  const proxy = (await h.runtime.listContainers()).find((c) => c.name === 'proxy')!;
  h.runtime.exit(proxy.id, 1);
  await sync(h);
  t.is(h.status()!.initContainerStatuses![1]!.restartCount, 1);
  t.is(h.status()!.phase, 'Running');
  // The main container finishing ends the pod; the sidecar is stopped with it.
  await h.advance(5000);
  s = h.status()!;
  t.is(s.phase, 'Succeeded');
  t.false((await h.runtime.listContainers()).some((c) => c.state === 'running'));
});

test('a failing postStart hook kills the container, which restarts per policy', async (t) => {
  const pod = makePod('hook', [{ name: 'c0', lifecycle: { postStart: { exec: { command: ['setup-hook'] } } } }]);
  let calls = 0;
  const h = workerHarness(pod, { runtime: { exec: () => ({ exitCode: ++calls === 1 ? 1 : 0, stdout: '', stderr: 'no' }) } });
  await sync(h);
  await sync(h);
  const c = appState(h.status())!;
  t.is(c.restartCount, 1);
  t.truthy(c.state?.running);
  t.regex(c.lastState?.terminated?.message ?? '', /PostStartHookError/);
});

test('terminationMessagePolicy FallbackToLogsOnError: the log tail explains a failure', async (t) => {
  const pod = makePod('fallback', [{ name: 'c0', terminationMessagePolicy: 'FallbackToLogsOnError' }], { restartPolicy: 'Never' });
  const h = workerHarness(pod, { runtime: { behaviour: () => ({ exitAfterMs: 1000, exitCode: 2 }) } });
  await sync(h);
  const [c] = await h.runtime.listContainers();
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  mkdirSync(dirname(c!.logPath!), { recursive: true });
  writeFileSync(c!.logPath!, '2024-01-01T00:00:00Z stderr F panic: config missing\n');
  await h.advance(1000);
  const st = appState(h.status())!.state?.terminated;
  t.is(st?.exitCode, 2);
  t.is(st?.message, 'panic: config missing\n');
  t.is(h.status()!.phase, 'Failed');
});

test('a hostNetwork pod asks for the node network and reports the node IP as its pod IP', async (t) => {
  const pod = makePod('hostnet', [{ name: 'c0' }]);
  pod.spec.hostNetwork = true;
  const h = workerHarness(pod);
  await sync(h);
  const s = h.status()!;
  t.is(s.phase, 'Running');
  t.is(s.podIP, '192.0.2.10');
  t.deepEqual(s.podIPs, [{ ip: '192.0.2.10' }]);
  const [sb] = await h.runtime.listPodSandboxes();
  t.falsy(sb?.ip);
  t.true(h.worker.sandboxConfig(0).hostNetwork === true);
});

test('log directories: none for the fake runtime (hollow pods), made per container and removed for a runtime that writes logs', async (t) => {
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const hollow = workerHarness(makePod('hollow', [{ name: 'c0' }]));
  await sync(hollow);
  t.is(hollow.status()!.phase, 'Running');
  t.false(existsSync(hollow.deps.logRoot));
  hollow.worker.remove();
  await hollow.worker.idle();
  t.deepEqual(hollow.gone, [hollow.worker.uid]);

  // The same pod on a runtime that writes log files: its containers' files have a directory.
  const pod = makePod('disk', [{ name: 'c0' }]);
  const h = workerHarness(pod, { runtime: { writesLogFiles: true } });
  await sync(h);
  t.is(h.status()!.phase, 'Running');
  t.true(existsSync(join(h.worker.logDir, 'c0')));
  h.worker.remove();
  await h.worker.idle();
  t.false(existsSync(h.worker.logDir));
});

test('a status-only change does not start a sync; a spec or metadata change does, and a finished status stops the pod', async (t) => {
  const pod = makePod('quiet', [{ name: 'c0' }]);
  const h = workerHarness(pod);
  await sync(h);
  let looks = 0;
  const list = h.runtime.listContainers.bind(h.runtime);
  h.runtime.listContainers = (f) => {
    looks++;
    return list(f);
  };
  const reported = h.status()!;
  // The agent's own report coming back, at a new version: nothing to do.
  const echoed = { ...pod, metadata: { ...pod.metadata, resourceVersion: '42' }, status: reported };
  h.worker.update(echoed);
  await h.worker.idle();
  t.is(looks, 0);
  // A label is part of what the worker acts on (the status carries nothing new, but the pod changed).
  h.worker.update({ ...echoed, metadata: { ...echoed.metadata, resourceVersion: '43', labels: { tier: 'web' } } });
  await h.worker.idle();
  t.true(looks > 0);
  // A status saying the pod finished (written by someone else) ends it even though nothing else changed.
  h.worker.update({ ...echoed, metadata: { ...echoed.metadata, resourceVersion: '44', labels: { tier: 'web' } }, status: { ...reported, phase: 'Failed' } });
  await h.worker.idle();
  t.is(h.status()!.phase, 'Failed');
  t.false((await h.runtime.listPodSandboxes()).some((s) => s.state === 'ready'));
});

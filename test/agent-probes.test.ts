/**
 * Probes in the pod worker: liveness (kill and restart), readiness (flips Ready), startup
 * (gates liveness and readiness), delays and thresholds; exec through the fake runtime,
 * httpGet and tcpSocket against real local servers.
 */
import test from 'ava';
import * as http from 'node:http';
import * as net from 'node:net';
import { appState, cond, makePod, sync, until, workerHarness } from './agent-helpers.ts';

function execScript() {
  const calls: string[] = [];
  /** `<container id> <command>` of every call. */
  const byContainer: string[] = [];
  const results = new Map<string, number>();
  return {
    calls,
    byContainer,
    set: (cmd: string, code: number) => results.set(cmd, code),
    exec: (c: { id: string }, cmd: string[]) => {
      calls.push(cmd[0]!);
      byContainer.push(`${c.id} ${cmd[0]}`);
      return { exitCode: results.get(cmd[0]!) ?? 0, stdout: '', stderr: results.get(cmd[0]!) ? `${cmd[0]} said no` : '' };
    },
  };
}

test('liveness failure kills and restarts the container, with the reason in lastState', async (t) => {
  const ex = execScript();
  const pod = makePod('live', [{ name: 'c0', livenessProbe: { exec: { command: ['live'] }, periodSeconds: 10, failureThreshold: 3 } }], { terminationGracePeriodSeconds: 7 });
  const h = workerHarness(pod, { runtime: { exec: ex.exec } });
  await sync(h);
  t.is(ex.calls.length, 1); // probed at once (no initial delay)
  ex.set('live', 1);
  await h.advance(20_000, 10_000);
  t.is(appState(h.status())!.restartCount, 0); // two failures: under the threshold
  await h.advance(10_000, 10_000);
  const c = appState(h.status())!;
  t.is(c.restartCount, 1);
  t.truthy(c.state?.running);
  t.regex(c.lastState?.terminated?.message ?? '', /Container c0 failed liveness probe, will be restarted: live said no/);
  t.is(c.lastState?.terminated?.exitCode, 143);
  t.is(h.runtime.stopCalls[0]!.timeoutSeconds, 7);
});

test('readiness flips Ready with its thresholds', async (t) => {
  const ex = execScript();
  const pod = makePod('ready', [{ name: 'c0', readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 5, failureThreshold: 2, successThreshold: 2 } }]);
  ex.set('ready', 1);
  const h = workerHarness(pod, { runtime: { exec: ex.exec } });
  await sync(h);
  t.is(cond(h.status(), 'Ready'), 'False'); // readiness starts as failure
  t.false(appState(h.status())!.ready);
  t.true(appState(h.status())!.started);
  ex.set('ready', 0);
  await h.advance(5000, 5000);
  t.is(cond(h.status(), 'Ready'), 'False'); // one success of two
  await h.advance(5000, 5000);
  t.is(cond(h.status(), 'Ready'), 'True');
  t.is(cond(h.status(), 'ContainersReady'), 'True');
  t.true(appState(h.status())!.ready);
  ex.set('ready', 1);
  await h.advance(5000, 5000);
  t.is(cond(h.status(), 'Ready'), 'True');
  await h.advance(5000, 5000);
  t.is(cond(h.status(), 'Ready'), 'False');
  t.regex(h.status()!.conditions!.find((x) => x.type === 'Ready')!.message ?? '', /unready status: \[c0\]/);
  t.is(appState(h.status())!.restartCount, 0); // readiness never restarts
});

test('a startup probe gates liveness and readiness until it succeeds', async (t) => {
  const ex = execScript();
  const pod = makePod('startup', [
    {
      name: 'c0',
      startupProbe: { exec: { command: ['startup'] }, periodSeconds: 10, failureThreshold: 30 },
      livenessProbe: { exec: { command: ['live'] }, periodSeconds: 10, failureThreshold: 1 },
      readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 10 },
    },
  ]);
  ex.set('startup', 1);
  const h = workerHarness(pod, { runtime: { exec: ex.exec } });
  await sync(h);
  await h.advance(60_000, 10_000);
  t.false(ex.calls.includes('live'));
  t.false(ex.calls.includes('ready'));
  t.false(appState(h.status())!.started);
  t.is(appState(h.status())!.restartCount, 0); // liveness would have killed it
  ex.set('startup', 0);
  await h.advance(10_000, 10_000);
  t.true(appState(h.status())!.started);
  const first = (await h.runtime.listContainers())[0]!.id;
  const startupCalls = ex.byContainer.filter((c) => c === `${first} startup`).length;
  ex.set('live', 1);
  await h.advance(10_000, 10_000);
  t.true(ex.calls.includes('live'));
  t.is(ex.byContainer.filter((c) => c === `${first} startup`).length, startupCalls); // a startup probe stops after success
  t.is(appState(h.status())!.restartCount, 1); // now liveness (threshold 1) killed it
});

test('a startup probe that never succeeds kills the container', async (t) => {
  const ex = execScript();
  ex.set('startup', 1);
  const pod = makePod('nostart', [{ name: 'c0', startupProbe: { exec: { command: ['startup'] }, periodSeconds: 5, failureThreshold: 3 } }]);
  const h = workerHarness(pod, { runtime: { exec: ex.exec } });
  await sync(h);
  await h.advance(15_000, 5000);
  const c = appState(h.status())!;
  t.is(c.restartCount, 1);
  t.regex(c.lastState?.terminated?.message ?? '', /failed startup probe/);
});

test('initialDelaySeconds postpones the first probe', async (t) => {
  const ex = execScript();
  const pod = makePod('delay', [{ name: 'c0', readinessProbe: { exec: { command: ['ready'] }, initialDelaySeconds: 30, periodSeconds: 10 } }]);
  const h = workerHarness(pod, { runtime: { exec: ex.exec } });
  await sync(h);
  await h.advance(29_000, 1000);
  t.is(ex.calls.length, 0);
  t.is(cond(h.status(), 'Ready'), 'False');
  await h.advance(1000, 1000);
  t.is(ex.calls.length, 1);
  t.is(cond(h.status(), 'Ready'), 'True');
});

test('httpGet readiness against the pod IP: 2xx/3xx ready, 5xx not', async (t) => {
  let code = 200;
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(`${req.url} ${req.headers['x-probe'] ?? ''}`);
    res.writeHead(code);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  t.teardown(() => server.close());
  const pod = makePod('http', [
    {
      name: 'c0',
      ports: [{ name: 'web', containerPort: port }],
      readinessProbe: { httpGet: { path: '/healthz', port: 'web', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] }, periodSeconds: 5, failureThreshold: 1 },
    },
  ]);
  const h = workerHarness(pod, { runtime: { podIp: () => '127.0.0.1' } });
  await sync(h);
  t.true(await until(async () => {
    await sync(h);
    return cond(h.status(), 'Ready') === 'True';
  }));
  t.is(paths[0], '/healthz yes');
  code = 503;
  await h.clock.advance(5000);
  t.true(await until(async () => {
    await sync(h);
    return cond(h.status(), 'Ready') === 'False';
  }));
  code = 302;
  await h.clock.advance(5000);
  t.true(await until(async () => {
    await sync(h);
    return cond(h.status(), 'Ready') === 'True';
  }));
});

test('tcpSocket liveness: an open port passes, a closed one restarts the container', async (t) => {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const pod = makePod('tcp', [{ name: 'c0', livenessProbe: { tcpSocket: { port }, periodSeconds: 5, failureThreshold: 1 } }]);
  const h = workerHarness(pod, { runtime: { podIp: () => '127.0.0.1' } });
  await sync(h);
  await h.clock.advance(5000);
  await until(async () => false, 100);
  await sync(h);
  t.is(appState(h.status())!.restartCount, 0);
  await new Promise<void>((r) => server.close(() => r()));
  await h.clock.advance(5000);
  t.true(await until(async () => {
    await sync(h);
    return appState(h.status())!.restartCount === 1;
  }));
  t.regex(appState(h.status())!.lastState?.terminated?.message ?? '', /failed liveness probe.*ECONNREFUSED/);
});

test('grpc readiness: the standard health service answering SERVING', async (t) => {
  const grpc = await import('@grpc/grpc-js');
  let serving = 1;
  const server = new grpc.Server();
  server.register(
    '/grpc.health.v1.Health/Check',
    (_call: unknown, cb: (err: null, res: number) => void) => cb(null, serving),
    (status: number) => Buffer.from([0x08, status]),
    (b: Buffer) => b,
    'unary',
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => server.forceShutdown());
  const pod = makePod('grpc', [{ name: 'c0', readinessProbe: { grpc: { port }, periodSeconds: 5, failureThreshold: 1, timeoutSeconds: 5 } }]);
  const h = workerHarness(pod, { runtime: { podIp: () => '127.0.0.1' } });
  await sync(h);
  t.true(await until(async () => {
    await sync(h);
    return cond(h.status(), 'Ready') === 'True';
  }));
  serving = 2; // NOT_SERVING
  await h.clock.advance(5000);
  t.true(await until(async () => {
    await sync(h);
    return cond(h.status(), 'Ready') === 'False';
  }));
});

/**
 * The process runtime on real child processes: start, exit codes, stop with SIGTERM honoured
 * and SIGKILL after the timeout, CRI-format logs, exec, stats, the memory-limit watch, mounts
 * as symlinks, and adoption by a new runtime instance on the same directory.
 */
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCriLine } from '../src/agent/cri-log.ts';
import { ProcessRuntime } from '../src/agent/runtimes/process.ts';
import { RuntimeError, type ContainerConfig, type SandboxConfig } from '../src/agent/runtimes/types.ts';
import { tmpDir, until } from './agent-helpers.ts';

function sandboxCfg(dir: string, name = 'p'): SandboxConfig {
  return { name, namespace: 'default', uid: `uid-${name}`, attempt: 0, hostname: name, logDirectory: join(dir, 'logs', name), labels: { 'berth.io/pod-uid': `uid-${name}` }, annotations: {}, portMappings: [] };
}

function containerCfg(name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return { name, attempt: 0, image: 'ignored', command, args: [], env: [], mounts: [], labels: { 'berth.io/container-name': name }, annotations: { a: '1' }, logPath: `${name}/0.log`, resources: {}, ...extra };
}

async function setup(t: { teardown(fn: () => void | Promise<void>): void }, opts: { monitorMs?: number } = {}) {
  const dir = tmpDir('proc');
  const rt = new ProcessRuntime({ dir: join(dir, 'runtime'), pumpMs: 50, monitorMs: opts.monitorMs ?? 200 });
  const sb = await rt.runPodSandbox(sandboxCfg(dir));
  t.teardown(async () => {
    await rt.stopPodSandbox(sb).catch(() => undefined);
    await rt.close();
  });
  return { dir, rt, sb };
}

async function run(rt: ProcessRuntime, sb: string, dir: string, name: string, command: string[], extra: Partial<ContainerConfig> = {}) {
  const id = await rt.createContainer(sb, containerCfg(name, command, extra), sandboxCfg(dir));
  await rt.startContainer(id);
  return id;
}

async function exited(rt: ProcessRuntime, id: string, ms = 10_000) {
  return until(async () => (await rt.containerStatus(id))?.state === 'exited', ms, 20);
}

function logLines(path: string) {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => parseCriLine(l)!);
  } catch {
    return [];
  }
}

test('a command runs, exits with its code, and its output lands in the CRI log', async (t) => {
  const { rt, sb, dir } = await setup(t);
  const id = await run(rt, sb, dir, 'c', ['sh', '-c', 'echo hello; echo "$GREETING" >&2; printf tail; exit 3'], { env: [{ name: 'GREETING', value: 'hi there' }] });
  const running = await rt.containerStatus(id);
  t.truthy(running?.startedAt);
  t.true(await exited(rt, id));
  const st = (await rt.containerStatus(id))!;
  t.is(st.exitCode, 3);
  t.is(st.reason, 'Error');
  t.truthy(st.finishedAt);
  t.is(st.labels['berth.io/container-name'], 'c');
  t.deepEqual(st.annotations, { a: '1' });
  const logPath = join(dir, 'logs', 'p', 'c', '0.log');
  t.is(st.logPath, logPath);
  t.true(await until(() => logLines(logPath).length === 3));
  const lines = logLines(logPath);
  t.deepEqual(
    lines.map((l) => [l.stream, l.partial, l.text]).sort(),
    [
      ['stderr', false, 'hi there'],
      ['stdout', false, 'hello'],
      ['stdout', true, 'tail'],
    ].sort(),
  );
  t.true(lines.every((l) => Number.isFinite(l.timeMs)));

  const ok = await run(rt, sb, dir, 'ok', ['true']);
  t.true(await exited(rt, ok));
  const s2 = (await rt.containerStatus(ok))!;
  t.is(s2.exitCode, 0);
  t.is(s2.reason, 'Completed');
});

test('stop: SIGTERM is honoured, and SIGKILL follows the timeout', async (t) => {
  const { rt, sb, dir } = await setup(t);
  const polite = await run(rt, sb, dir, 'polite', ['sh', '-c', 'trap "echo bye; exit 0" TERM; while :; do sleep 0.05; done']);
  const plain = await run(rt, sb, dir, 'plain', ['sleep', '1000']);
  const stubborn = await run(rt, sb, dir, 'stubborn', ['sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done']);
  await new Promise((r) => setTimeout(r, 200)); // let the traps be installed
  const t0 = Date.now();
  await rt.stopContainer(polite, 30);
  t.true(Date.now() - t0 < 10_000);
  let s = (await rt.containerStatus(polite))!;
  t.is(s.state, 'exited');
  t.is(s.exitCode, 0);
  t.true(await until(() => logLines(join(dir, 'logs', 'p', 'polite', '0.log')).some((l) => l.text === 'bye')));

  await rt.stopContainer(plain, 30);
  s = (await rt.containerStatus(plain))!;
  t.is(s.exitCode, 143);
  t.is(s.reason, 'Error');

  const t1 = Date.now();
  await rt.stopContainer(stubborn, 1);
  t.true(Date.now() - t1 >= 900);
  s = (await rt.containerStatus(stubborn))!;
  t.is(s.exitCode, 137);
  // Stopping again, or something gone, is fine.
  await rt.stopContainer(stubborn, 1);
  await rt.stopContainer('nope', 1);
  await rt.removeContainer('nope');
});

test('a missing command fails to start (StartError 128); no command fails to create', async (t) => {
  const { rt, sb, dir } = await setup(t);
  const id = await rt.createContainer(sb, containerCfg('x', ['no-such-binary-berth']), sandboxCfg(dir));
  const err = await t.throwsAsync(rt.startContainer(id));
  t.true(err instanceof RuntimeError);
  t.is((err as RuntimeError).reason, 'RunContainerError');
  t.regex(err!.message, /executable file not found in \$PATH/);
  const st = (await rt.containerStatus(id))!;
  t.is(st.state, 'exited');
  t.is(st.exitCode, 128);
  t.is(st.reason, 'StartError');
  const e2 = await t.throwsAsync(rt.createContainer(sb, containerCfg('y', []), sandboxCfg(dir)));
  t.is((e2 as RuntimeError).reason, 'CreateContainerError');
  t.regex(e2!.message, /no command/);
});

test('exec runs in the container environment; a timeout kills it', async (t) => {
  const { rt, sb, dir } = await setup(t);
  const id = await run(rt, sb, dir, 'c', ['sleep', '1000'], { env: [{ name: 'FOO', value: 'bar' }] });
  const r = await rt.execSync(id, ['sh', '-c', 'echo "$FOO $HOSTNAME"; exit 2'], 5);
  t.is(r.exitCode, 2);
  t.is(r.stdout.trim(), 'bar p');
  const slow = await rt.execSync(id, ['sleep', '10'], 1);
  t.true(slow.timedOut);
  const missing = await rt.execSync(id, ['no-such-binary-berth'], 1);
  t.not(missing.exitCode, 0);
});

test('mounts appear as symlinks under the container root, the default working directory', async (t) => {
  const { rt, sb, dir } = await setup(t);
  const vol = join(dir, 'vol');
  mkdirSync(vol);
  writeFileSync(join(vol, 'app.conf'), 'setting=1\n');
  const id = await run(rt, sb, dir, 'c', ['sh', '-c', 'cat config/app.conf; pwd'], { mounts: [{ containerPath: '/config', hostPath: vol, readonly: true }] });
  t.true(await exited(rt, id));
  const logPath = join(dir, 'logs', 'p', 'c', '0.log');
  t.true(await until(() => logLines(logPath).length >= 2));
  t.is(logLines(logPath)[0]!.text, 'setting=1');
  t.regex(logLines(logPath)[1]!.text, /containers\/[0-9a-f]+\/root$/);
  // An existing workingDir is used as is.
  const id2 = await run(rt, sb, dir, 'w', ['pwd'], { workingDir: vol });
  t.true(await exited(rt, id2));
  t.true(await until(() => logLines(join(dir, 'logs', 'p', 'w', '0.log'))[0]?.text === vol));
});

test('stats report CPU time and resident memory of the process group', async (t) => {
  const { rt, sb, dir } = await setup(t);
  // A fixed amount of work in the shell itself, not a wall-clock second of it: on a loaded
  // machine a timed loop of forks can end with less than one clock tick charged to the group.
  const id = await run(rt, sb, dir, 'busy', ['sh', '-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 1000']);
  t.true(
    await until(async () => {
      const [s] = await rt.containerStats([id]);
      return Boolean(s && s.cpuUsageNanos > 0 && s.memoryWorkingSetBytes > 0);
    }, 10_000, 100),
  );
  const [s] = await rt.containerStats();
  t.is(s!.containerId, id);
});

test('a group over its memory limit is killed and reported OOMKilled', async (t) => {
  const { rt, sb, dir } = await setup(t, { monitorMs: 50 });
  const id = await run(rt, sb, dir, 'big', ['sleep', '1000'], { resources: { memoryLimitBytes: 64 * 1024 } });
  t.true(await exited(rt, id));
  const st = (await rt.containerStatus(id))!;
  t.is(st.reason, 'OOMKilled');
  t.is(st.exitCode, 137);
});

test('a new runtime on the same directory adopts running processes and learns their exits', async (t) => {
  const dir = tmpDir('proc-adopt');
  const rdir = join(dir, 'runtime');
  const a = new ProcessRuntime({ dir: rdir, pumpMs: 50, monitorMs: 100 });
  const sb = await a.runPodSandbox(sandboxCfg(dir));
  const long = await run(a, sb, dir, 'long', ['sh', '-c', 'echo started; sleep 1000']);
  const short = await run(a, sb, dir, 'short', ['sh', '-c', 'sleep 1; echo late; exit 4']);
  const logLong = join(dir, 'logs', 'p', 'long', '0.log');
  t.true(await until(() => logLines(logLong).length === 1));
  await a.close(); // the agent goes away; the processes do not

  const b = new ProcessRuntime({ dir: rdir, pumpMs: 50, monitorMs: 100 });
  t.teardown(async () => {
    await b.stopPodSandbox(sb).catch(() => undefined);
    await b.close();
  });
  const list = await b.listContainers({ sandboxId: sb });
  t.deepEqual(list.map((c) => c.id).sort(), [long, short].sort());
  const l = list.find((c) => c.id === long)!;
  t.is(l.state, 'running');
  t.is((await b.listPodSandboxes())[0]!.id, sb);
  // The short one exits while adopted: its code comes from the wrapper's record.
  t.true(await exited(b, short));
  const s = (await b.containerStatus(short))!;
  t.is(s.exitCode, 4);
  t.is(s.reason, 'Error');
  t.true(await until(() => logLines(join(dir, 'logs', 'p', 'short', '0.log')).some((x) => x.text === 'late')));
  // Stopping an adopted process works too.
  await b.stopContainer(long, 10);
  const ls = (await b.containerStatus(long))!;
  t.is(ls.state, 'exited');
  t.is(ls.exitCode, 143);
  t.is(logLines(logLong).filter((x) => x.text === 'started').length, 1); // not pumped twice
  await b.removePodSandbox(sb);
  t.is((await b.listContainers()).length, 0);
  t.is((await b.listPodSandboxes()).length, 0);
});

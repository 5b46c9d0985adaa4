/**
 * `berth agent`: flag parsing and validation, and the command itself as a process — it
 * registers with the control plane and stops cleanly on SIGTERM.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseLabels, parseTaints, runAgent } from '../src/cli/agent-cmd.ts';
import { FlagError } from '../src/cli/flags.ts';
import { FakeControl } from './agent-fake-control.ts';
import { tmpDir, until } from './agent-helpers.ts';

test('--labels and --taints parse and validate', (t) => {
  t.deepEqual(parseLabels(['zone=a,disk=ssd', 'example.com/team=core']), { zone: 'a', disk: 'ssd', 'example.com/team': 'core' });
  t.deepEqual(parseLabels([]), {});
  t.throws(() => parseLabels(['novalue']), { instanceOf: FlagError, message: /not key=value/ });
  t.throws(() => parseLabels(['bad key=x']), { instanceOf: FlagError, message: /invalid key/ });
  t.throws(() => parseLabels(['k=bad value!']), { instanceOf: FlagError, message: /invalid value/ });
  t.deepEqual(parseTaints(['dedicated=gpu:NoSchedule,spot:PreferNoSchedule']), [
    { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
    { key: 'spot', effect: 'PreferNoSchedule' },
  ]);
  t.throws(() => parseTaints(['k=v:Sometimes']), { instanceOf: FlagError, message: /effect "Sometimes"/ });
  t.throws(() => parseTaints(['k=v']), { instanceOf: FlagError, message: /key\[=value\]:Effect/ });
});

test('bad flags are refused with a message naming the flag', async (t) => {
  const bad: [string[], RegExp][] = [
    [[], /--server: required/],
    [['--server', 'nohostport'], /--server: "nohostport" is not host:port/],
    [['--server', '127.0.0.1:1', '--runtime', 'docker'], /--runtime: "docker" must be cri, process or fake/],
    [['--server', '127.0.0.1:1', '--cpu', 'lots'], /--cpu/],
    [['--server', '127.0.0.1:1', '--memory', '-1Gi'], /--memory/],
    [['--server', '127.0.0.1:1', '--max-pods', '0'], /--max-pods/],
    [['--server', '127.0.0.1:1', '--listen', 'localhost'], /--listen/],
    [['--server', '127.0.0.1:1', '--name', 'Not_Valid'], /--name/],
    [['--server', '127.0.0.1:1', '--runtime', 'process', '--cri-socket', '/x.sock'], /--cri-socket/],
    [['--server', '127.0.0.1:1', '--bogus'], /unknown flag: --bogus/],
  ];
  for (const [argv, re] of bad) {
    const e = await t.throwsAsync(runAgent(argv));
    t.true(e instanceof FlagError, argv.join(' '));
    t.regex(e!.message, re);
  }
});

test('berth agent registers and stops cleanly on SIGTERM', async (t) => {
  const cp = await FakeControl.start();
  t.teardown(() => cp.stop());
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import=tsx', main, 'agent', '--server', cp.address, '--runtime', 'fake', '--name', 'cli-node', '--data-dir', tmpDir('cli-agent'), '--labels', 'role=test', '--max-pods', '7', '--quiet'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  t.true(await until(() => cp.registers.length === 1, 30_000), stderr);
  const node = cp.registers[0] as { metadata: { name: string; labels: Record<string, string> }; status: { capacity: Record<string, string> } };
  t.is(node.metadata.name, 'cli-node');
  t.is(node.metadata.labels.role, 'test');
  t.is(node.status.capacity.pods, '7');
  t.true(await until(() => cp.openStreams === 1, 10_000));
  child.kill('SIGTERM');
  t.is(await exited, 0, stderr);
});

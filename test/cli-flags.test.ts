import test from 'ava';
import { FlagError, parseDuration, parseFlags, parsePeers, strs } from '../src/cli/flags.ts';
import { parseResourceArgs, dryRunMode } from '../src/cli/commands/common.ts';
import { CliError } from '../src/cli/output/errors.ts';

const GET = {
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  selector: { type: 'string', short: 'l' },
  'all-namespaces': { type: 'bool', short: 'A' },
  filename: { type: 'strings', short: 'f' },
  'dry-run': { type: 'string', noValue: 'client' },
  'grace-period': 'int',
  timeout: 'duration',
} as const;

test('long flags: separate value, attached value, booleans', (t) => {
  const f = parseFlags(['get', '--namespace', 'kube-system', 'pods', '--output=yaml', '--all-namespaces=false'], GET);
  t.deepEqual(f._, ['get', 'pods']);
  t.is(f.namespace, 'kube-system');
  t.is(f.output, 'yaml');
  t.is(f['all-namespaces'], false);
});

test('short flags: -n ns, -n=ns, -nns, bare boolean', (t) => {
  t.is(parseFlags(['-n', 'a'], GET).namespace, 'a');
  t.is(parseFlags(['-n=b'], GET).namespace, 'b');
  t.is(parseFlags(['-nc'], GET).namespace, 'c');
  t.is(parseFlags(['-ojson'], GET).output, 'json');
  t.is(parseFlags(['-A'], GET)['all-namespaces'], true);
  t.is(parseFlags(['-l', 'app=web,tier!=db'], GET).selector, 'app=web,tier!=db');
});

test('repeated string lists keep every value in order', (t) => {
  const f = parseFlags(['apply', '-f', 'a.yaml', '--filename', 'dir/', '-f=-'], GET);
  t.deepEqual(strs(f, 'filename'), ['a.yaml', 'dir/', '-']);
  t.deepEqual(f._, ['apply']);
});

test('a lone dash and negative numbers are not flags', (t) => {
  t.deepEqual(parseFlags(['-'], GET)._, ['-']);
  t.is(parseFlags(['--grace-period', '-1'], GET)['grace-period'], -1);
  t.deepEqual(parseFlags(['-5'], GET)._, ['-5']);
});

test('flags with a default for the bare form take a value only after =', (t) => {
  const bare = parseFlags(['--dry-run', 'server'], GET);
  t.is(bare['dry-run'], 'client');
  t.deepEqual(bare._, ['server']);
  t.is(parseFlags(['--dry-run=server'], GET)['dry-run'], 'server');
  t.is(dryRunMode(parseFlags(['--dry-run'], GET)), 'client');
  t.is(dryRunMode(parseFlags(['--dry-run=server'], GET)), 'server');
  t.is(dryRunMode(parseFlags([], GET)), 'none');
  t.throws(() => dryRunMode(parseFlags(['--dry-run=maybe'], GET)), { instanceOf: CliError, message: /Invalid dry-run value \(maybe\)/ });
});

test('-- ends the flags', (t) => {
  t.deepEqual(parseFlags(['a', '--', '-n', '--output'], GET)._, ['a', '-n', '--output']);
});

test('errors name the flag as cobra does', (t) => {
  t.throws(() => parseFlags(['--nope'], GET), { instanceOf: FlagError, message: 'unknown flag: --nope' });
  t.throws(() => parseFlags(['-x'], GET), { instanceOf: FlagError, message: "unknown shorthand flag: 'x' in -x" });
  t.throws(() => parseFlags(['-n'], GET), { instanceOf: FlagError, message: 'flag needs an argument: -n' });
  t.throws(() => parseFlags(['--grace-period', 'soon'], GET), { instanceOf: FlagError, message: /invalid argument "soon" for "--grace-period"/ });
  t.throws(() => parseFlags(['--all-namespaces=maybe'], GET), { instanceOf: FlagError });
});

test('durations', (t) => {
  t.is(parseDuration('250ms', 'x'), 250);
  t.is(parseDuration('5s', 'x'), 5000);
  t.is(parseDuration('1m30s', 'x'), 90_000);
  t.is(parseDuration('2h', 'x'), 7_200_000);
  t.is(parseDuration('1.5s', 'x'), 1500);
  t.is(parseDuration('40', 'x'), 40);
  t.is(parseFlags(['--timeout', '30s'], GET).timeout, 30_000);
  t.throws(() => parseDuration('5 s', 'x'), { instanceOf: FlagError });
  t.throws(() => parseDuration('s', 'x'), { instanceOf: FlagError });
  t.throws(() => parseDuration('5sx', 'x'), { instanceOf: FlagError });
});

test('peers', (t) => {
  t.deepEqual([...parsePeers('1=127.0.0.1:7001,2=127.0.0.1:7002')], [
    [1, '127.0.0.1:7001'],
    [2, '127.0.0.1:7002'],
  ]);
  t.throws(() => parsePeers('1=127.0.0.1:7001,1=127.0.0.1:7002'), { message: /listed twice/ });
});

test('resource arguments: types, short names, names, TYPE/NAME, all', (t) => {
  const simple = parseResourceArgs(['po']);
  t.is(simple.length, 1);
  t.is(simple[0]!.info.kind, 'Pod');
  t.is(simple[0]!.name, undefined);

  const named = parseResourceArgs(['deploy,svc', 'a', 'b']);
  t.deepEqual(
    named.map((r) => `${r.info.kind}/${r.name}`),
    ['Deployment/a', 'Deployment/b', 'Service/a', 'Service/b'],
  );

  const slash = parseResourceArgs(['cm/web', 'deployments.apps/api']);
  t.deepEqual(
    slash.map((r) => `${r.info.kind}/${r.name}`),
    ['ConfigMap/web', 'Deployment/api'],
  );

  const shorts = ['po', 'deploy', 'rs', 'svc', 'ns', 'no', 'cm', 'ep', 'ev', 'hpa', 'cj'];
  t.deepEqual(
    shorts.map((s) => parseResourceArgs([s])[0]!.info.kind),
    ['Pod', 'Deployment', 'ReplicaSet', 'Service', 'Namespace', 'Node', 'ConfigMap', 'Endpoints', 'Event', 'HorizontalPodAutoscaler', 'CronJob'],
  );

  t.true(parseResourceArgs(['all']).length >= 5);
  t.throws(() => parseResourceArgs(['widgets']), { instanceOf: CliError, message: 'the server doesn\'t have a resource type "widgets"' });
  t.throws(() => parseResourceArgs(['cm', 'cm/web']), { instanceOf: CliError, message: /no need to specify a resource type as a separate argument/ });
});

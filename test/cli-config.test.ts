import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  configPath,
  deleteContext,
  isAddress,
  loadConfig,
  parseConfig,
  parseServers,
  resolveTarget,
  saveConfig,
  serializeConfig,
  setContext,
  useContext,
  type ClientConfig,
} from '../src/cli/config.ts';
import { planLayout, readLayout } from '../src/cli/up.ts';
import { FlagError } from '../src/cli/flags.ts';

const YAML = `apiVersion: berth/v1
kind: Config
current-context: local
contexts:
- name: local
  servers:
  - 127.0.0.1:8001
  - 127.0.0.1:8002
- name: prod
  servers: [10.0.0.1:8001]
  namespace: shop
  credentials: {token-file: /etc/berth/token}
preferences: {color: false}
`;

test('parses YAML and JSON configs', (t) => {
  const cfg = parseConfig(YAML, 'cfg');
  t.is(cfg.currentContext, 'local');
  t.deepEqual(cfg.contexts[0], { name: 'local', servers: ['127.0.0.1:8001', '127.0.0.1:8002'] });
  t.deepEqual(cfg.contexts[1], { name: 'prod', servers: ['10.0.0.1:8001'], namespace: 'shop', extra: { credentials: { 'token-file': '/etc/berth/token' } } });
  t.deepEqual(cfg.extra, { preferences: { color: false } });
  const json = parseConfig(JSON.stringify({ 'current-context': 'a', contexts: [{ name: 'a', servers: ['[::1]:8001'] }] }), 'cfg.json');
  t.deepEqual(json, { currentContext: 'a', contexts: [{ name: 'a', servers: ['[::1]:8001'] }] });
  t.deepEqual(parseConfig('', 'empty'), { contexts: [] });
  t.deepEqual(parseConfig('# nothing yet\n', 'empty'), { contexts: [] });
});

test('round-trips, keeping fields it does not know', (t) => {
  const cfg = parseConfig(YAML, 'cfg');
  const again = parseConfig(serializeConfig(cfg), 'again');
  t.deepEqual(again, cfg);
  t.true(serializeConfig(cfg).startsWith('apiVersion: berth/v1\nkind: Config\ncurrent-context: local\ncontexts:\n- name: local\n'));
});

test('invalid configs are errors that say where', (t) => {
  const bad: [string, RegExp][] = [
    ['- a\n- b\n', /cfg: expected a mapping at the top level/],
    ['contexts: {a: 1}\n', /cfg: contexts: expected a list/],
    ['contexts:\n- servers: [a:1]\n', /cfg: contexts\[0\]\.name: required/],
    ['contexts:\n- name: a\n  servers: [nope]\n', /cfg: contexts\[0\]\.servers\[0\]: "nope" is not host:port/],
    ['contexts:\n- name: a\n  servers: [a:1]\n- name: a\n  servers: [a:2]\n', /duplicate context "a"/],
    ['apiVersion: v9\n', /apiVersion: unsupported value "v9"/],
    ['contexts: [\n', /^cfg: /],
  ];
  for (const [text, message] of bad) t.throws(() => parseConfig(text, 'cfg'), { instanceOf: ConfigError, message }, text);
});

test('addresses', (t) => {
  t.true(isAddress('127.0.0.1:8001'));
  t.true(isAddress('berth.example.com:443'));
  t.true(isAddress('[::1]:8001'));
  t.false(isAddress('127.0.0.1'));
  t.false(isAddress('127.0.0.1:0'));
  t.false(isAddress('127.0.0.1:70000'));
  t.false(isAddress('http://a:1'));
  t.deepEqual(parseServers(' a:1, b:2 ,', '--server'), ['a:1', 'b:2']);
  t.throws(() => parseServers('a:1,b', '--server'), { message: '--server: "b" is not host:port' });
  t.throws(() => parseServers(',', '--server'), { message: /no server address/ });
});

test('editing contexts', (t) => {
  let cfg: ClientConfig = { contexts: [] };
  const a = setContext(cfg, 'local', { servers: ['127.0.0.1:8001'] });
  t.true(a.created);
  cfg = useContext(a.config, 'local');
  t.is(cfg.currentContext, 'local');
  const b = setContext(cfg, 'local', { namespace: 'shop' });
  t.false(b.created);
  t.deepEqual(b.config.contexts, [{ name: 'local', servers: ['127.0.0.1:8001'], namespace: 'shop' }]);
  const c = setContext(b.config, 'local', { servers: ['127.0.0.1:9001', '127.0.0.1:9002'], namespace: '' });
  t.deepEqual(c.config.contexts, [{ name: 'local', servers: ['127.0.0.1:9001', '127.0.0.1:9002'] }]);
  t.throws(() => setContext(cfg, 'new', { namespace: 'x' }), { message: /give its servers with --server/ });
  t.throws(() => useContext(cfg, 'nope'), { message: 'no context exists with the name: "nope"' });
  const d = deleteContext(c.config, 'local');
  t.deepEqual(d.contexts, []);
  t.is(d.currentContext, undefined);
});

test('endpoints come from --server, then BERTH_SERVER, then the context', (t) => {
  const config = parseConfig(YAML, 'cfg');
  const base = { env: {}, config, path: '/cfg' };
  t.deepEqual(resolveTarget({ ...base }), { endpoints: ['127.0.0.1:8001', '127.0.0.1:8002'], namespace: 'default', source: 'context "local"', context: 'local' });
  t.like(resolveTarget({ ...base, context: 'prod' }), { endpoints: ['10.0.0.1:8001'], namespace: 'shop' });
  t.like(resolveTarget({ ...base, env: { BERTH_SERVER: 'e:1,e:2' } }), { endpoints: ['e:1', 'e:2'], source: 'BERTH_SERVER' });
  t.like(resolveTarget({ ...base, env: { BERTH_SERVER: 'e:1' }, server: 's:1' }), { endpoints: ['s:1'], source: '--server' });
  // The context's namespace still applies with --server.
  t.like(resolveTarget({ ...base, context: 'prod', server: 's:1' }), { endpoints: ['s:1'], namespace: 'shop' });
  t.throws(() => resolveTarget({ ...base, context: 'nope' }), { message: 'context "nope" not found in /cfg' });
  t.throws(() => resolveTarget({ env: {}, config: { contexts: [] }, path: '/cfg' }), { message: /no API server configured: pass --server HOST:PORT, set BERTH_SERVER, or start a local cluster with 'berth up' \(it writes \/cfg\)/ });
  t.throws(() => resolveTarget({ env: {}, config: { currentContext: 'gone', contexts: [] }, path: '/cfg' }), { message: 'current context "gone" not found in /cfg' });
});

test('the config file: $BERTH_CONFIG or ~/.berth/config, written atomically and privately', async (t) => {
  t.is(configPath({ BERTH_CONFIG: '/x/y' }, '/home/u'), '/x/y');
  t.is(configPath({}, '/home/u'), '/home/u/.berth/config');
  const dir = mkdtempSync(join(tmpdir(), 'berth-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'sub', 'config');
  t.deepEqual(await loadConfig(path), { contexts: [] });
  const cfg = parseConfig(YAML, 'cfg');
  await saveConfig(path, cfg);
  t.deepEqual(await loadConfig(path), cfg);
  t.is(statSync(path).mode & 0o777, 0o600);
  writeFileSync(path, 'contexts: 5\n');
  await t.throwsAsync(loadConfig(path), { instanceOf: ConfigError, message: `${path}: contexts: expected a list` });
  t.regex(readFileSync(path, 'utf8'), /contexts: 5/);
});

test('berth up: a new layout from flags, a stored one kept', (t) => {
  const id = () => 'local-1';
  t.deepEqual(planLayout(undefined, {}, id), { replicas: 3, peerPorts: [7001, 7002, 7003], apiPorts: [8001, 8002, 8003], clusterId: 'local-1' });
  t.deepEqual(planLayout(undefined, { replicas: 1, basePort: 9000, apiBasePort: 9100 }, id), { replicas: 1, peerPorts: [9000], apiPorts: [9100], clusterId: 'local-1' });
  t.throws(() => planLayout(undefined, { replicas: 0 }, id), { instanceOf: FlagError });
  t.throws(() => planLayout(undefined, { basePort: 8000, apiBasePort: 8001 }, id), { message: /overlap/ });
  t.throws(() => planLayout(undefined, { basePort: 65534 }, id), { message: /beyond 65535/ });
  const stored = { replicas: 3, peerPorts: [7001, 7002, 7003], apiPorts: [8001, 8002, 8003], clusterId: 'local-9' };
  t.deepEqual(planLayout(stored, {}, id), stored);
  t.deepEqual(planLayout(stored, { apiBasePort: 9001, basePort: 7001, replicas: 3 }, id).apiPorts, [9001, 9002, 9003]);
  t.throws(() => planLayout(stored, { replicas: 5 }, id), { message: /created with 3 replicas/ });
  t.throws(() => planLayout(stored, { basePort: 7100 }, id), { message: /records peer ports 7001,7002,7003/ });

  const dir = mkdtempSync(join(tmpdir(), 'berth-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.is(readLayout(join(dir, 'up.json')), undefined);
  writeFileSync(join(dir, 'up.json'), JSON.stringify(stored));
  t.deepEqual(readLayout(join(dir, 'up.json')), stored);
  writeFileSync(join(dir, 'up.json'), '{"replicas": 2}');
  t.throws(() => readLayout(join(dir, 'up.json')), { message: /not a layout written by 'berth up'/ });
});

import test from 'ava';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ManifestError, parseManifestObjects, parseManifests, readManifestObjects, readManifests } from '../src/api/index.ts';

const CM = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\n`;

test('multi-document YAML, skipping empty documents and comments', (t) => {
  const text = `# leading comment
---
${CM('a')}---
# only a comment
---

---
${CM('b')}...
---
${CM('c')}`;
  const objs = parseManifestObjects(text, 'multi.yaml');
  t.deepEqual(
    objs.map((o) => [o.object.metadata.name, o.document]),
    [
      ['a', 1],
      ['b', 4],
      ['c', 5],
    ],
  );
  t.is(objs[0]!.source, 'multi.yaml');
});

test('empty input gives no objects', (t) => {
  t.deepEqual(parseManifests('', 'e.yaml'), []);
  t.deepEqual(parseManifests('# nothing here\n', 'e.yaml'), []);
  t.deepEqual(parseManifests('---\n---\n', 'e.yaml'), []);
});

test('JSON, including JSON with several spaces and a BOM', (t) => {
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } }, null, 2);
  t.deepEqual(parseManifests(json, 'ns.json'), [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } }]);
  t.is(parseManifests(`\uFEFF${json}`, 'ns.json')[0]!.kind, 'Namespace');
  // JSON-like flow YAML with comments and trailing commas is still read
  const kyaml = `{\n  apiVersion: "v1", # the core group\n  kind: "Namespace",\n  metadata: {name: "x",},\n}\n`;
  t.is(parseManifests(kyaml, 'ns.yaml')[0]!.metadata.name, 'x');
});

test('List and *List objects are flattened', (t) => {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'b' } },
    ],
  };
  const objs = parseManifestObjects(`${CM('first')}---\n${JSON.stringify(list)}\n`, 'list.yaml');
  t.deepEqual(
    objs.map((o) => [o.object.kind, o.object.metadata.name, o.document, o.item]),
    [
      ['ConfigMap', 'first', 1, undefined],
      ['ConfigMap', 'a', 2, 1],
      ['Secret', 'b', 2, 2],
    ],
  );
  const podList = 'apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n';
  t.is(parseManifests(podList, 'pods.yaml')[0]!.metadata.name, 'p');
  t.deepEqual(parseManifests('apiVersion: v1\nkind: List\nitems: []\n', 'empty.yaml'), []);
});

test('syntax errors name the source, document, line and column', (t) => {
  const text = `${CM('ok')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   labels: {a: b}\n`;
  const err = t.throws(() => parseManifests(text, 'web.yaml'), { instanceOf: ManifestError });
  t.is(err!.source, 'web.yaml');
  t.is(err!.document, 2);
  t.is(err!.line, 8);
  t.is(err!.column, 9);
  t.is(err!.message, 'web.yaml: document 2: line 8, column 9: Nested mappings are not allowed in compact mappings');

  const flow = t.throws(() => parseManifests('a: [1, 2\nb: 3\n', 'flow.yaml'), { instanceOf: ManifestError });
  t.is(flow!.message, 'flow.yaml: document 1: line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]');

  const dup = t.throws(() => parseManifests('apiVersion: v1\nkind: Pod\nkind: Pod\n', 'dup.yaml'), { instanceOf: ManifestError });
  t.is(dup!.message, 'dup.yaml: document 1: line 3, column 1: Map keys must be unique');

  const tab = t.throws(() => parseManifests('a:\n\tb: 1\n', 'tab.yaml'), { instanceOf: ManifestError });
  t.is(tab!.message, 'tab.yaml: document 1: line 2, column 1: Tabs are not allowed as indentation');
});

test('documents must be objects with apiVersion and kind', (t) => {
  t.is(
    t.throws(() => parseManifests(`${CM('a')}---\n- 1\n- 2\n`, 'x.yaml'))!.message,
    'x.yaml: document 2: expected an object, got a list',
  );
  t.is(t.throws(() => parseManifests('metadata: {name: a}\n', 'x.yaml'))!.message, 'x.yaml: document 1: apiVersion not set, kind not set');
  t.is(t.throws(() => parseManifests('apiVersion: v1\nmetadata: {}\n', 'x.yaml'))!.message, 'x.yaml: document 1: kind not set');
  t.is(
    t.throws(() => parseManifests('apiVersion: v1\nkind: List\nitems: [{kind: Pod}]\n', 'x.yaml'))!.message,
    'x.yaml: document 1: item 1: apiVersion not set',
  );
  t.is(t.throws(() => parseManifests('just text\n', 'x.yaml'))!.message, 'x.yaml: document 1: expected an object, got string');
});

test('scalars are read as Kubernetes reads them (YAML 1.1)', (t) => {
  const [cm] = parseManifests(
    `${CM('c')}data:\n  date: 2024-01-01\n  time: 12:30\n  word: e1\n  dot: .\n  quoted: "yes"\nbinaryData: {}\nimmutable: yes\n`,
    'c.yaml',
  );
  t.deepEqual(cm!.data, { date: '2024-01-01', time: '12:30', word: 'e1', dot: '.', quoted: 'yes' });
  t.is(cm!.immutable, true, 'yes is a boolean in YAML 1.1');
  const [pod] = parseManifests(
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {volumes: [{name: s, secret: {secretName: s, defaultMode: 0400}}], containers: []}\n',
    'p.yaml',
  );
  const spec = pod!.spec as { volumes: { secret: { defaultMode: number } }[] };
  t.is(spec.volumes[0]!.secret.defaultMode, 0o400, '0400 is octal');
  const [anchors] = parseManifests(`base: &b {app: web}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: {<<: *b, tier: fe}}\n`, 'a.yaml');
  t.deepEqual(anchors!.metadata.labels, { app: 'web', tier: 'fe' }, 'anchors and merge keys');
});

test('readManifests reads files, directories (sorted, yaml/yml/json only) and stdin', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-manifests-'));
  try {
    writeFileSync(join(dir, 'b.yaml'), CM('from-b'));
    writeFileSync(join(dir, 'a.yml'), `${CM('from-a1')}---\n${CM('from-a2')}`);
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-c' } }));
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
    mkdirSync(join(dir, 'sub.yaml'));
    writeFileSync(join(dir, 'sub.yaml', 'nested.yaml'), CM('nested'));

    const all = await readManifestObjects(dir);
    t.deepEqual(
      all.map((o) => o.object.metadata.name),
      ['from-a1', 'from-a2', 'from-b', 'from-c'],
    );
    t.is(all[0]!.source, join(dir, 'a.yml'));
    t.deepEqual((await readManifests(join(dir, 'b.yaml'))).map((o) => o.metadata.name), ['from-b']);

    const stdin = Readable.from([Buffer.from(CM('piped'))]);
    const piped = await readManifestObjects('-', { stdin });
    t.is(piped[0]!.object.metadata.name, 'piped');
    t.is(piped[0]!.source, '<stdin>');

    writeFileSync(join(dir, 'd.yaml'), 'apiVersion: v1\nkind: [\n');
    const err = await t.throwsAsync(readManifests(dir), { instanceOf: ManifestError });
    t.is(err!.source, join(dir, 'd.yaml'));
    await t.throwsAsync(readManifests(join(dir, 'missing.yaml')), {
      message: `${join(dir, 'missing.yaml')}: no such file or directory`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

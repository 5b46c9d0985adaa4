import test from 'ava';
import {
  FieldSelectorParseError,
  Selector,
  SelectorParseError,
  fieldValue,
  formatLabelSelector,
  parseFieldSelector,
  parseSelector,
  selectorFromLabelSelector,
  selectorFromSet,
  supportedFieldSelectors,
  type ApiObject,
  type Labels,
} from '../src/api/index.ts';

const web: Labels = { app: 'web', tier: 'fe', env: 'a', track: 'stable', version: '3' };
const db: Labels = { app: 'db', tier: 'db', env: 'c', legacy: 'true' };
const bare: Labels = {};

// selector, canonical string, matches web, matches db, matches bare
const table: [string, string, boolean, boolean, boolean][] = [
  ['', '', true, true, true],
  ['app=web', 'app=web', true, false, false],
  ['app==web', 'app=web', true, false, false],
  ['app!=web', 'app!=web', false, true, true],
  ['tier!=db', 'tier!=db', true, false, true],
  ['env in (a,b)', 'env in (a,b)', true, false, false],
  ['env in (b, a)', 'env in (a,b)', true, false, false],
  ['env notin (a,b)', 'env notin (a,b)', false, true, true],
  ['!legacy', '!legacy', true, false, true],
  ['track', 'track', true, false, false],
  ['app=web,tier!=db,env in (a,b),!legacy,track', 'app=web,tier!=db,env in (a,b),!legacy,track', true, false, false],
  ['  app = web ,  track ', 'app=web,track', true, false, false],
  ['version>2', 'version>2', true, false, false],
  ['version<3', 'version<3', false, false, false],
  ['legacy=', 'legacy=', false, false, false],
  ['app.kubernetes.io/name=web', 'app.kubernetes.io/name=web', false, false, false],
];

for (const [text, canonical, mWeb, mDb, mBare] of table) {
  test(`selector ${JSON.stringify(text)}`, (t) => {
    const s = parseSelector(text);
    t.is(s.toString(), canonical);
    t.is(s.matches(web), mWeb, 'web');
    t.is(s.matches(db), mDb, 'db');
    t.is(s.matches(bare), mBare, 'no labels');
    t.is(parseSelector(s.toString()).toString(), canonical, 'canonical form round-trips');
  });
}

const errors: [string, RegExp][] = [
  ['app=web,', /found end of selector at position 8, expected: a label key/],
  ['=web', /found '=' at position 0, expected: a label key/],
  ['app in a,b', /found 'a' at position 7, expected: '\('/],
  ['app in ()', /for 'in' operator, values set can't be empty/],
  ['app in (a b)', /found 'b' at position 10, expected: ',' or '\)'/],
  ['app notin (a', /found end of selector at position 12, expected: ',' or '\)'/],
  ['app=web=x', /found '=' at position 7, expected: ',' or end of selector/],
  ['!', /found end of selector at position 1, expected: a label key after '!'/],
  ['app>x', /the value must be an integer: 'x' at position 4/],
  ['bad key!=x', /found 'key' at position 4/],
  ['-app=web', /invalid label key "-app" at position 0/],
  ['app=-web', /invalid label value "-web" at position 4/],
  ['a/b/c=d', /invalid label key "a\/b\/c"/],
];

for (const [text, message] of errors) {
  test(`selector error ${JSON.stringify(text)}`, (t) => {
    const err = t.throws(() => parseSelector(text), { instanceOf: SelectorParseError });
    t.regex(err!.message, message);
  });
}

test('LabelSelector objects', (t) => {
  const sel = selectorFromLabelSelector({
    matchLabels: { tier: 'fe', app: 'web' },
    matchExpressions: [
      { key: 'env', operator: 'In', values: ['b', 'a'] },
      { key: 'legacy', operator: 'DoesNotExist' },
      { key: 'track', operator: 'Exists' },
      { key: 'app', operator: 'NotIn', values: ['db'] },
    ],
  });
  t.is(sel.toString(), 'app=web,tier=fe,env in (a,b),!legacy,track,app notin (db)');
  t.true(sel.matches(web));
  t.false(sel.matches(db));
  t.true(selectorFromLabelSelector({}).matches(db), 'empty selects everything');
  t.true(selectorFromLabelSelector({}).isEmpty());
  t.false(selectorFromLabelSelector(undefined).matches(web), 'missing selects nothing');
  t.false(selectorFromLabelSelector(null).matches(bare));
  t.throws(() => selectorFromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), {
    instanceOf: SelectorParseError,
  });
  t.throws(() => selectorFromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), {
    instanceOf: SelectorParseError,
  });
  t.throws(() => selectorFromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Near' as 'In' }] }), {
    message: /"Near" is not a valid label selector operator/,
  });
});

test('selectors from sets and formatting', (t) => {
  t.is(selectorFromSet({ b: '2', a: '1' }).toString(), 'a=1,b=2');
  t.true(selectorFromSet({ app: 'web' }).matches(web));
  t.true(selectorFromSet(undefined).matches(bare));
  t.is(formatLabelSelector({ matchLabels: { app: 'web' } }), 'app=web');
  t.is(formatLabelSelector({}), '<none>');
  t.is(formatLabelSelector(undefined), '<none>');
  t.true(Selector.everything().matches(undefined));
  t.false(Selector.nothing().matches({}));
});

// ---- field selectors ------------------------------------------------------------------

const pod = (name: string, node: string | undefined, phase: string): ApiObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [], ...(node ? { nodeName: node } : {}) },
  status: { phase },
});

const pods = [pod('a', 'n1', 'Running'), pod('b', undefined, 'Pending'), pod('c', 'n2', 'Succeeded')];

const fieldTable: [string, string[]][] = [
  ['', ['a', 'b', 'c']],
  ['metadata.name=a', ['a']],
  ['metadata.name==a', ['a']],
  ['metadata.name!=a', ['b', 'c']],
  ['status.phase!=Running', ['b', 'c']],
  ['metadata.name=x,status.phase!=Running', []],
  ['spec.nodeName=', ['b']],
  ['spec.nodeName!=,status.phase=Running', ['a']],
  ['metadata.namespace=default,spec.hostNetwork=false', ['a', 'b', 'c']],
];

for (const [text, names] of fieldTable) {
  test(`field selector ${JSON.stringify(text)}`, (t) => {
    const sel = parseFieldSelector(text, 'Pod');
    t.deepEqual(pods.filter((p) => sel.matches(p)).map((p) => p.metadata.name), names);
  });
}

test('field selector parsing, escapes and errors', (t) => {
  t.is(parseFieldSelector('metadata.name=a\\,b').requirements[0]!.value, 'a,b');
  t.is(parseFieldSelector('metadata.name=a\\=b\\\\').requirements[0]!.value, 'a=b\\');
  t.is(parseFieldSelector('metadata.name=a\\,b,status.phase!=x').toString(), 'metadata.name=a\\,b,status.phase!=x');
  t.throws(() => parseFieldSelector('spec.foo=1', 'Pod'), { instanceOf: FieldSelectorParseError, message: 'field label not supported: spec.foo' });
  t.throws(() => parseFieldSelector('status.phase=Running', 'Deployment'), { message: 'field label not supported: status.phase' });
  t.throws(() => parseFieldSelector('metadata.name'), { message: "invalid selector: 'metadata.name'; can't understand 'metadata.name'" });
  t.throws(() => parseFieldSelector('metadata.name=a\\b'), { message: /invalid escape sequence/ });
  t.notThrows(() => parseFieldSelector('involvedObject.name=p,type=Warning,source=kubelet', 'Event'));
  t.true(supportedFieldSelectors('Node').includes('spec.unschedulable'));
});

test('fieldValue reads kind-specific fields', (t) => {
  const ev: ApiObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e' },
    involvedObject: { kind: 'Pod', name: 'p' },
    source: { component: 'default-scheduler' },
  };
  t.is(fieldValue(ev, 'source'), 'default-scheduler');
  t.is(fieldValue(ev, 'involvedObject.kind'), 'Pod');
  t.is(fieldValue(ev, 'reason'), '');
  const job: ApiObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status: { succeeded: 3 } };
  t.is(fieldValue(job, 'status.successful'), '3');
  const node: ApiObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } };
  t.is(fieldValue(node, 'spec.unschedulable'), 'false');
});

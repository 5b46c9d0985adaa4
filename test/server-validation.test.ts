/**
 * Three `berth server` processes: broken manifests are refused with INVALID_ARGUMENT
 * naming exactly the broken fields (message and structured field errors), an oversized
 * object with RESOURCE_EXHAUSTED, malformed wire JSON (sent with a raw gRPC client) with
 * INVALID_ARGUMENT naming the message field; and no replica falls over.
 */
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ApiCallError, type PlainObject } from '../src/client/client.ts';
import { API_PROTO } from '../src/server/service.ts';
import { codeOf, configMap, createSurely, dataOf, readSurely, startCluster } from './server-harness.ts';

const pod = (spec: unknown, name = 'p'): PlainObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec });
const container = (extra: Record<string, unknown> = {}) => ({ name: 'c', image: 'nginx:1.27', ...extra });
const deployment = (selector: Record<string, string>, labels: Record<string, string>, name = 'd'): PlainObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: { selector: { matchLabels: selector }, template: { metadata: { labels }, spec: { containers: [container()] } } },
});

/** Each broken manifest and the exact `path: type` of every error it must get. */
const CASES: { name: string; object: PlainObject; errors: string[] }[] = [
  { name: 'name with capitals and underscore', object: configMap('Bad_Name', {}), errors: ['metadata.name: Invalid value'] },
  { name: 'no name', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }, errors: ['metadata.name: Required value'] },
  { name: 'bad namespace name', object: configMap('ok', {}, { namespace: 'No_Such' }), errors: ['metadata.namespace: Invalid value'] },
  { name: 'bad label key', object: configMap('ok', {}, { labels: { 'a b': 'x' } }), errors: ['metadata.labels: Invalid value'] },
  { name: 'bad ConfigMap key', object: configMap('ok', { 'a/b': 'x' }), errors: ['data[a/b]: Invalid value'] },
  { name: 'missing image', object: pod({ containers: [{ name: 'c' }] }), errors: ['spec.containers[0].image: Required value'] },
  {
    name: 'bad quantity 12Q',
    object: pod({ containers: [container({ resources: { requests: { memory: '12Q' } } })] }),
    errors: ['spec.containers[0].resources.requests[memory]: Invalid value'],
  },
  { name: 'unknown field', object: pod({ containers: [container()], restartPolicyy: 'Always' }), errors: ['spec.restartPolicyy: Unknown field'] },
  { name: 'unknown kind', object: { apiVersion: 'v1', kind: 'Frobnicator', metadata: { name: 'x' } }, errors: ['kind: Not supported'] },
  { name: 'kind at an unserved version', object: { ...deployment({ a: 'b' }, { a: 'b' }), apiVersion: 'apps/v2' }, errors: ['apiVersion: Not supported'] },
  { name: 'no kind', object: { apiVersion: 'v1', metadata: { name: 'x' } }, errors: ['kind: Required value'] },
  {
    name: 'container port out of range',
    object: pod({ containers: [container({ ports: [{ containerPort: 70000 }] })] }),
    errors: ['spec.containers[0].ports[0].containerPort: Invalid value'],
  },
  {
    name: 'service port 0 (targetPort defaults to it, as in Kubernetes)',
    object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selector: { a: 'b' }, ports: [{ port: 0 }] } },
    errors: ['spec.ports[0].port: Invalid value', 'spec.ports[0].targetPort: Invalid value'],
  },
  {
    name: 'duplicate container names',
    object: pod({ containers: [container(), container({ image: 'busybox' })] }),
    errors: ['spec.containers[1].name: Duplicate value'],
  },
  {
    name: 'probe with two handlers',
    object: pod({ containers: [container({ livenessProbe: { exec: { command: ['true'] }, httpGet: { port: 80 } } })] }),
    errors: ['spec.containers[0].livenessProbe.httpGet: Forbidden'],
  },
  {
    name: 'two errors at once',
    object: pod({ restartPolicy: 'Sometimes', containers: [{ name: 'c' }] }),
    errors: ['spec.containers[0].image: Required value', 'spec.restartPolicy: Unsupported value'],
  },
  { name: 'Deployment selector not matching the template labels', object: deployment({ app: 'a' }, { app: 'b' }), errors: ['spec.template.metadata.labels: Invalid value'] },
  { name: 'wrong JSON type', object: pod({ containers: 'nginx' }), errors: ['spec.containers: Invalid value'] },
  {
    name: 'CronJob schedule',
    object: {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'cj' },
      spec: { schedule: 'every minute', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [container()] } } } } },
    },
    errors: ['spec.schedule: Invalid value'],
  },
];

/** The `path: type` lines of an INVALID_ARGUMENT message (after the `X "n" is invalid:` header). */
function messageEntries(message: string): string[] {
  const lines = message.split('\n');
  if (/ is invalid:$/.test(lines[0] ?? '')) lines.shift();
  return lines.map((l) => {
    const unknown = /^unknown field "(.*)"$/.exec(l);
    if (unknown) return `${unknown[1]}: Unknown field`;
    const notServed = /^no kind ".*" is registered for version/.exec(l);
    if (notServed) return `<not served>: Not supported`;
    const m = /^(\S+): (Required value|Invalid value|Unsupported value|Duplicate value|Not found|Forbidden|Too long|Too many|Internal error)/.exec(l);
    return m ? `${m[1]}: ${m[2]}` : `<unparsed line> ${l}`;
  });
}

test('broken manifests, oversized objects and malformed wire JSON are refused precisely; replicas keep serving', async (t) => {
  const h = await startCluster(t, 3);

  for (const [i, c] of CASES.entries()) {
    const client = h.pinned[i % h.size]!;
    const err = await client.create(c.object).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof ApiCallError)) {
      t.fail(`${c.name}: expected INVALID_ARGUMENT, got ${err === undefined ? 'success' : String(err)}`);
      continue;
    }
    t.is(err.codeName, 'INVALID_ARGUMENT', `${c.name}: ${err.message}`);
    const structured = err.fieldErrors.map((f) => `${f.field}: ${f.type}`).sort();
    t.deepEqual(structured, [...c.errors].sort(), `${c.name}: field errors (message: ${JSON.stringify(err.message)})`);
    const expectedLines = c.errors.map((e) => (e.endsWith(': Not supported') ? '<not served>: Not supported' : e)).sort();
    t.deepEqual(messageEntries(err.message).sort(), expectedLines, `${c.name}: message ${JSON.stringify(err.message)}`);
    // Dry run validates the same way.
    const dry = await client.create(c.object, true).then(
      () => 'success',
      (e: unknown) => codeOf(e),
    );
    t.is(dry, 'INVALID_ARGUMENT', `${c.name}: dry run`);
  }

  // Updates are validated too: a Deployment's selector is immutable, and a valid object
  // cannot be updated into an invalid one.
  await createSurely(h.any, deployment({ app: 'a' }, { app: 'a' }, 'web'));
  const immut = await h.pinned[1]!.update(deployment({ app: 'b' }, { app: 'b' }, 'web')).catch((e: unknown) => e);
  t.true(immut instanceof ApiCallError && immut.codeName === 'INVALID_ARGUMENT', String(immut));
  t.deepEqual((immut as ApiCallError).fieldErrors.map((f) => `${f.field}: ${f.type}`), ['spec.selector: Invalid value']);
  await createSurely(h.any, configMap('valid', { a: '1' }));
  const badUpdate = await h.pinned[2]!.update(configMap('valid', { 'a/b': '1' })).catch((e: unknown) => e);
  t.is(codeOf(badUpdate), 'INVALID_ARGUMENT');
  t.deepEqual((badUpdate as ApiCallError).fieldErrors.map((f) => `${f.field}: ${f.type}`), ['data[a/b]: Invalid value']);
  t.deepEqual(dataOf(await readSurely(() => h.pinned[0]!.get('ConfigMap', 'default', 'valid'))), { a: '1' }, 'the refused update changed nothing');

  // A 2 MB object: RESOURCE_EXHAUSTED, whichever replica takes it.
  const big = 'x'.repeat(2 * 1024 * 1024);
  for (const c of h.pinned) {
    const e = await c.create(configMap('big', { blob: big })).catch((x: unknown) => x);
    t.is(codeOf(e), 'RESOURCE_EXHAUSTED', `2 MB create through ${c.endpoint}: ${String(e)}`);
  }
  const e2 = await h.pinned[1]!.create({ ...pod({ containers: [container({ args: [big] })] }, 'bigpod') }).catch((x: unknown) => x);
  t.is(codeOf(e2), 'RESOURCE_EXHAUSTED', '2 MB Pod');
  const e3 = await h.pinned[2]!.update({ ...deployment({ app: 'a' }, { app: 'a' }, 'web'), metadata: { name: 'web', annotations: {} }, spec: { ...(deployment({ app: 'a' }, { app: 'a' }).spec as object), template: { metadata: { labels: { app: 'a' } }, spec: { containers: [container({ args: [big] })] } } } }).catch((x: unknown) => x);
  t.is(codeOf(e3), 'RESOURCE_EXHAUSTED', `2 MB update: ${String(e3)}`);
  for (const c of h.pinned) {
    await t.throwsAsync(() => c.get('ConfigMap', 'default', 'big'), { instanceOf: ApiCallError, message: /not found/ });
  }

  // Malformed JSON on the wire, bypassing the client's encoding.
  const def = protoLoader.loadSync(API_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const v1 = (grpc.loadPackageDefinition(def).berth as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const Objects = v1.Objects as grpc.ServiceClientConstructor;
  const raw = new Objects(h.cluster.apiAddress(2), grpc.credentials.createInsecure());
  t.teardown(() => raw.close());
  const call = (method: string, req: unknown) =>
    new Promise<grpc.ServiceError | undefined>((resolve) => {
      (raw as unknown as Record<string, (r: unknown, o: unknown, cb: (e: grpc.ServiceError | null) => void) => void>)[method]!(
        req,
        { deadline: Date.now() + 10_000 },
        (e) => resolve(e ?? undefined),
      );
    });
  const wireMeta = { name: 'raw' };
  const malformed: { what: string; method: string; req: unknown; names: RegExp }[] = [
    { what: "spec_json '{'", method: 'Create', req: { object: { api_version: 'v1', kind: 'Pod', metadata: wireMeta, spec_json: '{' } }, names: /^object\.spec_json: invalid JSON/ },
    { what: "status_json '[1,'", method: 'UpdateStatus', req: { object: { api_version: 'v1', kind: 'Pod', metadata: wireMeta, status_json: '[1,' } }, names: /^object\.status_json: invalid JSON/ },
    { what: 'fields_json an array', method: 'Create', req: { object: { api_version: 'v1', kind: 'ConfigMap', metadata: wireMeta, fields_json: '[1]' } }, names: /^object\.fields_json: expected a JSON object/ },
    { what: 'fields_json smuggling spec', method: 'Apply', req: { object: { api_version: 'v1', kind: 'ConfigMap', metadata: wireMeta, fields_json: '{"spec":{}}' } }, names: /^object\.fields_json: field "spec"/ },
    { what: 'no object', method: 'Create', req: {}, names: /^object: required/ },
    { what: 'Get without a ref', method: 'Get', req: {}, names: /^ref\.kind: Required value/ },
  ];
  for (const m of malformed) {
    const err = await call(m.method, m.req);
    t.is(err?.code, grpc.status.INVALID_ARGUMENT, `${m.what}: ${err?.details}`);
    t.regex(err?.details ?? '', m.names, m.what);
  }

  // Every replica is still up and serving reads and writes.
  for (const id of h.ids) t.true(h.cluster.running(id), `replica ${id} is still running`);
  for (const [i, c] of h.pinned.entries()) {
    const st = await c.status();
    t.is(st.id, i + 1);
    const o = await createSurely(c, configMap(`after-${i}`, { ok: 'yes' }));
    for (const r of h.pinned) t.deepEqual(dataOf(await readSurely(() => r.get('ConfigMap', 'default', String((o.metadata as { name: string }).name)))), { ok: 'yes' });
  }
});

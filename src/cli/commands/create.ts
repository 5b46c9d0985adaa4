/**
 * `berth create -f FILE` (create each object; an existing one is an error, unlike apply)
 * and kubectl's generators: `create namespace|configmap|secret generic|deployment|job|
 * cronjob|service clusterip|service nodeport NAME ...`. `--dry-run=client -o yaml` prints
 * the object instead of creating it.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { status } from '@grpc/grpc-js';
import { defaultObject, kindForVersion, kindInfo, readManifestObjects, validateObject, type ApiObject, type KindInfo } from '../../api/index.ts';
import { ApiCallError, type PlainObject } from '../../client/client.ts';
import { bool, int, parseFlags, str, strs, type ParsedFlags } from '../flags.ts';
import { CliError, formatError, formatInvalid } from '../output/errors.ts';
import { listOf, objectRef, toJson, toYaml } from '../output/format.ts';
import { connect, dryRunMode, dryRunSuffix, GLOBAL_FLAGS, GLOBAL_HELP, resolveKind, type Io, type Session } from './common.ts';
import { metaOf, rec } from './workloads.ts';

export const CREATE_USAGE = `Create objects from files or from the command line.

Usage:
  berth create -f FILENAME [-f FILENAME...] [flags]
  berth create namespace NAME
  berth create configmap NAME [--from-literal=KEY=VALUE] [--from-file=[KEY=]PATH] [--from-env-file=PATH]
  berth create secret generic NAME [--from-literal=KEY=VALUE] [--from-file=[KEY=]PATH] [--type TYPE]
  berth create deployment NAME --image=IMAGE [--replicas=N] [--port=PORT] [-- COMMAND [ARGS...]]
  berth create job NAME --image=IMAGE [-- COMMAND [ARGS...]]
  berth create job NAME --from=cronjob/NAME
  berth create cronjob NAME --image=IMAGE --schedule='*/5 * * * *' [-- COMMAND [ARGS...]]
  berth create service clusterip|nodeport NAME --tcp=PORT[:TARGET_PORT] [--tcp ...]

Flags:
  -f, --filename PATH          file, directory or - (repeatable)
      --dry-run[=client|server] show the object without creating it
  -o, --output FORMAT          name, yaml or json instead of "created" lines
${GLOBAL_HELP}`;

export async function runCreate(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    filename: { type: 'strings', short: 'f' },
    'dry-run': { type: 'string', noValue: 'client' },
    output: { type: 'string', short: 'o' },
    'save-config': 'bool',
    'from-literal': 'strings',
    'from-file': 'strings',
    'from-env-file': 'strings',
    type: 'string',
    image: 'strings',
    replicas: 'int',
    port: 'int',
    from: 'string',
    schedule: 'string',
    restart: 'string',
    tcp: 'strings',
    'node-port': 'int',
  });
  if (bool(f, 'help')) {
    io.write(CREATE_USAGE);
    return 0;
  }
  const output = str(f, 'output') ?? '';
  if (!['', 'name', 'yaml', 'json'].includes(output)) {
    throw new CliError(`unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,yaml`);
  }
  const mode = dryRunMode(f);
  const files = strs(f, 'filename');
  if (files.length > 0) {
    if (f._.length > 0) throw new CliError(`unexpected argument "${f._[0]}": create -f reads objects from files only`);
    return createFromFiles(files, f, io, mode, output);
  }
  if (f._.length === 0) throw new CliError('must specify one of -f and -k, or a kind to create (namespace, configmap, secret, deployment, job, cronjob, service)');
  // Everything after `--` is the container's command (the flag parser puts it in `_` too).
  const dashdash = argv.indexOf('--');
  const command = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const positional = dashdash >= 0 ? f._.slice(0, f._.length - command.length) : f._;
  const obj = await generate(positional, f, command);
  const session = await connect(f, io);
  try {
    const info = kindForVersion(String(obj.apiVersion), String(obj.kind))!;
    if (info.namespaced) (obj.metadata as Record<string, unknown>).namespace = session.namespace;
    if (obj.kind === 'Job' && str(f, 'from')) await fillJobFromCronJob(obj, str(f, 'from')!, session);
    return (await createOne(session, info, obj, mode, output, io, '')) ? 0 : 1;
  } finally {
    session.client.close();
  }
}

async function createFromFiles(files: string[], f: ParsedFlags, io: Io, mode: 'none' | 'client' | 'server', output: string): Promise<number> {
  const manifests = [];
  for (const file of files) manifests.push(...(await readManifestObjects(file, { stdin: io.stdin })));
  if (manifests.length === 0) throw new CliError('no objects passed to create');
  const session = await connect(f, io);
  let failed = false;
  const results: PlainObject[] = [];
  try {
    for (const m of manifests) {
      const source = m.source === '<stdin>' ? 'STDIN' : m.source;
      const obj = structuredClone(m.object) as unknown as PlainObject;
      const meta = (obj.metadata ??= {}) as Record<string, unknown>;
      const info = kindForVersion(String(obj.apiVersion), String(obj.kind));
      if (!info) {
        io.error(`error: resource mapping not found for name: "${String(meta.name ?? '')}" namespace: "${String(meta.namespace ?? '')}" from "${source}": no matches for kind "${String(obj.kind)}" in version "${String(obj.apiVersion)}"\n`);
        failed = true;
        continue;
      }
      if (info.namespaced) {
        const own = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : undefined;
        if (own && session.explicitNamespace && own !== session.namespace) {
          io.error(`error: the namespace from the provided object "${own}" does not match the namespace "${session.namespace}". You must pass '--namespace=${own}' to perform this operation.\n`);
          failed = true;
          continue;
        }
        meta.namespace = own ?? session.namespace;
      } else delete meta.namespace;
      const r = await createOne(session, info, obj, mode, output === 'json' || output === 'yaml' ? 'collect' : output, io, source, results);
      if (!r) failed = true;
      if (r === undefined) break;
    }
    if ((output === 'json' || output === 'yaml') && results.length > 0) {
      const value = results.length === 1 ? results[0] : listOf(results);
      io.write(output === 'json' ? toJson(value) : toYaml(value));
    }
  } finally {
    session.client.close();
  }
  return failed ? 1 : 0;
}

/** Creates (or dry-runs) one object and prints the outcome; false on error, undefined when the cluster is unreachable. */
async function createOne(
  session: Session,
  info: KindInfo,
  obj: PlainObject,
  mode: 'none' | 'client' | 'server',
  output: string,
  io: Io,
  source: string,
  collect?: PlainObject[],
): Promise<boolean | undefined> {
  const name = String(metaOf(obj).name ?? '');
  let result = obj;
  try {
    if (mode === 'client') {
      const errs = validateObject(defaultObject(structuredClone(obj) as unknown as ApiObject), { operation: 'create' });
      if (errs.length > 0) {
        io.error(formatInvalid(info.kind, name, errs.map((e) => e.toString())));
        return false;
      }
    } else {
      result = await session.client.create(obj, mode === 'server');
    }
  } catch (e) {
    io.error(formatError(e, { kind: info, endpoints: session.client.endpoints, ...(source ? { prefix: `error when creating "${source}": ` } : {}) }));
    return e instanceof ApiCallError && e.code === status.UNAVAILABLE ? undefined : false;
  }
  const ref = objectRef(info, name);
  if (output === 'collect') collect?.push(result);
  else if (output === 'json') io.write(toJson(result));
  else if (output === 'yaml') io.write(toYaml(result));
  else if (output === 'name') io.write(`${ref}\n`);
  else io.write(`${ref} created${dryRunSuffix(mode)}\n`);
  return true;
}

// ---- generators ----------------------------------------------------------------------------

/** A container name from an image, as kubectl derives it: `docker.io/library/nginx:1.27` → `nginx`. */
export function containerNameFromImage(image: string): string {
  let name = basename(image.split('@')[0]!);
  const colon = name.indexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  return name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '') || 'container';
}

async function dataFrom(f: ParsedFlags, binary: boolean): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  const put = (key: string, value: string | Buffer) => {
    if (key in data) throw new CliError(`cannot add key ${key}, another key by that name already exists in data`);
    data[key] = binary ? Buffer.from(value).toString('base64') : value.toString();
  };
  for (const lit of strs(f, 'from-literal')) {
    const eq = lit.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid literal source ${lit}, expected key=value`);
    put(lit.slice(0, eq), lit.slice(eq + 1));
  }
  for (const spec of strs(f, 'from-file')) {
    const eq = spec.indexOf('=');
    const key = eq > 0 ? spec.slice(0, eq) : basename(spec);
    const path = eq > 0 ? spec.slice(eq + 1) : spec;
    let content: Buffer;
    try {
      content = await readFile(path);
    } catch {
      throw new CliError(`error reading ${path}: no such file or directory`);
    }
    put(key, content);
  }
  for (const path of strs(f, 'from-env-file')) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      throw new CliError(`error reading ${path}: no such file or directory`);
    }
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const eq = line.indexOf('=');
      if (eq <= 0) throw new CliError(`invalid env file line: ${line}`);
      put(line.slice(0, eq), line.slice(eq + 1));
    }
  }
  return data;
}

function onlyOneName(rest: string[], what: string): string {
  if (rest.length === 0) throw new CliError(`NAME is required for ${what}`);
  if (rest.length > 1) throw new CliError(`exactly one NAME is required, got ${rest.length}`);
  return rest[0]!;
}

function containers(images: string[], command: string[], port: number | undefined): Record<string, unknown>[] {
  const used = new Map<string, number>();
  return images.map((image) => {
    let cname = containerNameFromImage(image);
    const n = used.get(cname) ?? 0;
    used.set(cname, n + 1);
    if (n > 0) cname = `${cname}-${n}`;
    return {
      name: cname,
      image,
      ...(command.length > 0 ? { command } : {}),
      ...(port !== undefined ? { ports: [{ containerPort: port }] } : {}),
    };
  });
}

async function generate(args: string[], f: ParsedFlags, command: string[]): Promise<PlainObject> {
  const [what, ...rest] = args;
  const images = strs(f, 'image');
  switch (what) {
    case 'namespace':
    case 'ns':
      return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: onlyOneName(rest, 'namespace') } };
    case 'configmap':
    case 'cm':
      return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: onlyOneName(rest, 'configmap') }, data: await dataFrom(f, false) };
    case 'secret': {
      const [type, ...names] = rest;
      if (type !== 'generic') throw new CliError(`unknown secret type "${type ?? ''}": berth creates generic secrets (berth create secret generic NAME ...)`);
      return {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: onlyOneName(names, 'secret') },
        type: str(f, 'type') ?? 'Opaque',
        data: await dataFrom(f, true),
      };
    }
    case 'deployment':
    case 'deploy': {
      const name = onlyOneName(rest, 'deployment');
      if (images.length === 0) throw new CliError('required flag(s) "image" not set');
      if (command.length > 0 && images.length > 1) throw new CliError('cannot specify multiple --image options and command');
      const labels = { app: name };
      return {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, labels },
        spec: {
          replicas: int(f, 'replicas') ?? 1,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: containers(images, command, int(f, 'port')) } },
        },
      };
    }
    case 'job': {
      const name = onlyOneName(rest, 'job');
      if (str(f, 'from')) {
        if (images.length > 0) throw new CliError('either --image or --from must be specified');
        return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: {} };
      }
      if (images.length !== 1) throw new CliError('either --image or --from must be specified');
      return {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name },
        spec: { template: { spec: { containers: [{ name, image: images[0]!, ...(command.length > 0 ? { command } : {}) }], restartPolicy: str(f, 'restart') ?? 'Never' } } },
      };
    }
    case 'cronjob':
    case 'cj': {
      const name = onlyOneName(rest, 'cronjob');
      if (images.length !== 1) throw new CliError('required flag(s) "image" not set');
      const schedule = str(f, 'schedule');
      if (!schedule) throw new CliError('required flag(s) "schedule" not set');
      return {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name },
        spec: {
          schedule,
          jobTemplate: {
            metadata: { name },
            spec: { template: { spec: { containers: [{ name, image: images[0]!, ...(command.length > 0 ? { command } : {}) }], restartPolicy: str(f, 'restart') ?? 'OnFailure' } } },
          },
        },
      };
    }
    case 'service':
    case 'svc': {
      const [type, ...names] = rest;
      if (type !== 'clusterip' && type !== 'nodeport') throw new CliError(`unknown service type "${type ?? ''}": use clusterip or nodeport`);
      const name = onlyOneName(names, 'service');
      const tcp = strs(f, 'tcp');
      if (tcp.length === 0) throw new CliError('at least one tcp port specifier must be provided');
      const ports = tcp.map((spec) => {
        const [port, target] = spec.split(':');
        if (!port || !/^\d+$/.test(port) || (target !== undefined && target === '')) throw new CliError(`invalid port specification: ${spec}`);
        const targetPort = target === undefined ? Number(port) : /^\d+$/.test(target) ? Number(target) : target;
        return {
          name: `${port}-${target ?? port}`,
          protocol: 'TCP',
          port: Number(port),
          targetPort,
          ...(type === 'nodeport' && int(f, 'node-port') !== undefined ? { nodePort: int(f, 'node-port') } : {}),
        };
      });
      return {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, labels: { app: name } },
        spec: { type: type === 'clusterip' ? 'ClusterIP' : 'NodePort', selector: { app: name }, ports },
      };
    }
    default:
      throw new CliError(`unknown kind to create "${what}": berth creates namespace, configmap, secret generic, deployment, job, cronjob and service objects (or anything from -f)`);
  }
}

/** `create job NAME --from=cronjob/NAME`: the CronJob's job template, owned by it, marked as manual. */
async function fillJobFromCronJob(job: PlainObject, from: string, session: Session): Promise<void> {
  const slash = from.indexOf('/');
  if (slash <= 0) throw new CliError(`from must be of the form <resource>/<name>`);
  const info = resolveKind(from.slice(0, slash));
  if (info !== kindInfo('CronJob')) throw new CliError(`from must be an existing cronjob: ${info.plural}`);
  const cj = await session.client.get('cronjobs', session.namespace, from.slice(slash + 1));
  const template = rec(rec(cj.spec).jobTemplate);
  const m = metaOf(job);
  const tm = rec(template.metadata);
  job.metadata = {
    ...m,
    ...(tm.labels ? { labels: tm.labels } : {}),
    annotations: { ...rec(tm.annotations), 'cronjob.kubernetes.io/instantiate': 'manual' },
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: String(metaOf(cj).name), uid: String(metaOf(cj).uid), controller: true }],
  };
  job.spec = structuredClone(rec(template.spec));
}

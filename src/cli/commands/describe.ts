/**
 * `berth describe TYPE [NAME_PREFIX] | TYPE/NAME | TYPE -l SELECTOR`: an object in
 * detail, with what relates to it (a Deployment's ReplicaSets, a Node's pods and what they
 * request, a Service's endpoints) and the Events about it, laid out as kubectl does.
 * Several objects are separated by a blank line.
 */
import { formatLabelSelector, type KindInfo, type LabelSelector } from '../../api/index.ts';
import type { BerthClient, PlainObject } from '../../client/client.ts';
import { bool, parseFlags, str } from '../flags.ts';
import {
  countPodPhases,
  describeConfigMap,
  describeCronJob,
  describeDeployment,
  describeEndpoints,
  describeGeneric,
  describeHpa,
  describeJob,
  describeNamespace,
  describeNode,
  describePod,
  describeReplicaSet,
  describeSecret,
  describeService,
} from '../output/describe.ts';
import { CliError, formatError } from '../output/errors.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, parseResourceArgs, type Io } from './common.ts';
import { eventsFor, isNotFound, listAll, metaOf, nameOf, rec, replicaSetsOf } from './workloads.ts';

export const DESCRIBE_USAGE = `Show details of an object or group of objects, with the events about them.

Usage:
  berth describe TYPE [NAME_PREFIX] [flags]
  berth describe TYPE/NAME [flags]
  berth describe TYPE -l SELECTOR [flags]

A NAME_PREFIX that is not the name of an object describes every object whose name starts
with it; no name describes every object of the type.

Examples:
  berth describe pod web-5d4f8c7b9-x2x9z
  berth describe deploy/web
  berth describe nodes
  berth describe po -l app=web

Flags:
  -l, --selector SELECTOR      label selector
  -A, --all-namespaces         every namespace
      --show-events            show the events about the object (default true)
${GLOBAL_HELP}`;

export async function runDescribe(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    selector: { type: 'string', short: 'l' },
    'all-namespaces': { type: 'bool', short: 'A' },
    'show-events': 'bool',
    'chunk-size': 'int',
  });
  if (bool(f, 'help')) {
    io.write(DESCRIBE_USAGE);
    return 0;
  }
  if (f._.length === 0) {
    throw new CliError('You must specify the type of resource to describe. Use "berth api-resources" for a complete list of supported resources.');
  }
  const requests = parseResourceArgs(f._);
  const selector = str(f, 'selector') ?? '';
  const allNs = bool(f, 'all-namespaces');
  const showEvents = f['show-events'] !== false;
  if (selector && requests.some((r) => r.name !== undefined)) throw new CliError('name cannot be provided when a selector is specified');

  const session = await connect(f, io);
  const { client } = session;
  let failed = false;
  let printed = 0;
  try {
    for (const r of requests) {
      const ns = r.info.namespaced ? (allNs ? '' : session.namespace) : '';
      let objects: PlainObject[];
      try {
        if (r.name !== undefined) {
          try {
            objects = [await client.get(r.info.plural, ns, r.name)];
          } catch (e) {
            if (!isNotFound(e)) throw e;
            // kubectl describes every object whose name starts with what was given.
            const prefixed = (await listAll(client, r.info.plural, { namespace: ns })).filter((o) => nameOf(o).startsWith(r.name!));
            if (prefixed.length === 0) throw e;
            objects = prefixed;
          }
        } else {
          objects = await listAll(client, r.info.plural, { namespace: ns, labelSelector: selector });
          if (objects.length === 0) {
            io.error(r.info.namespaced && !allNs ? `No resources found in ${session.namespace} namespace.\n` : 'No resources found\n');
            continue;
          }
        }
      } catch (e) {
        failed = true;
        io.error(formatError(e, { kind: r.info, endpoints: client.endpoints }));
        continue;
      }
      for (const obj of objects) {
        const text = await describeOne(client, r.info, obj, showEvents, io.now());
        io.write(printed === 0 ? text : `\n\n${text}`);
        printed++;
      }
    }
  } finally {
    client.close();
  }
  return failed ? 1 : 0;
}

/** One object's description, fetching what relates to it. */
export async function describeOne(client: BerthClient, info: KindInfo, obj: PlainObject, showEvents: boolean, now: number): Promise<string> {
  const events = showEvents ? await eventsFor(client, info, obj) : undefined;
  const ns = String(metaOf(obj).namespace ?? '');
  const spec = rec(obj.spec);
  switch (info.kind) {
    case 'Pod':
      return describePod(obj, events, now);
    case 'Deployment': {
      const sets = await replicaSetsOf(client, obj).catch(() => ({ all: [], old: [], newSet: undefined }));
      return describeDeployment(obj, sets.old, sets.newSet, events, now);
    }
    case 'ReplicaSet': {
      const selector = spec.selector === undefined ? '' : formatLabelSelector(spec.selector as LabelSelector);
      const pods = await listAll(client, 'pods', { namespace: ns, labelSelector: selector === '<none>' ? '' : selector }).catch(() => []);
      return describeReplicaSet(obj, countPodPhases(pods, String(metaOf(obj).uid ?? '')), events, now);
    }
    case 'Job':
      return describeJob(obj, events, now);
    case 'CronJob':
      return describeCronJob(obj, events, now);
    case 'Service': {
      const endpoints = await client.get('endpoints', ns, nameOf(obj)).catch(() => undefined);
      return describeService(obj, endpoints, events, now);
    }
    case 'Endpoints':
      return describeEndpoints(obj, events, now);
    case 'Node': {
      const pods = await listAll(client, 'pods', { fieldSelector: `spec.nodeName=${nameOf(obj)}` }).catch(() => []);
      return describeNode(obj, pods, events, now);
    }
    case 'ConfigMap':
      return describeConfigMap(obj, events, now);
    case 'Secret':
      return describeSecret(obj);
    case 'Namespace':
      return describeNamespace(obj, events, now);
    case 'HorizontalPodAutoscaler':
      return describeHpa(obj, events, now);
    default:
      return describeGeneric(obj, events, now);
  }
}

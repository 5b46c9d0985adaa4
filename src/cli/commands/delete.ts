/**
 * `berth delete`: by type and name, by selector, everything of a type (--all), or the
 * objects of manifests (-f). Prints `configmap "web" deleted` as kubectl does.
 */
import { status } from '@grpc/grpc-js';
import { kindForVersion, readManifestObjects, type KindInfo } from '../../api/index.ts';
import { ApiCallError } from '../../client/client.ts';
import { bool, int, parseFlags, str, strs } from '../flags.ts';
import { CliError, formatError } from '../output/errors.ts';
import { objectRef, resourceName } from '../output/format.ts';
import { waitForDeletion } from '../output/progress.ts';
import { connect, dryRunMode, dryRunSuffix, GLOBAL_FLAGS, GLOBAL_HELP, parseResourceArgs, type Io } from './common.ts';

export const DELETE_USAGE = `Delete objects by name, by label selector, all of a type, or those of manifests.

Usage:
  berth delete TYPE NAME [NAME...] [flags]
  berth delete TYPE/NAME [TYPE/NAME...] [flags]
  berth delete TYPE -l SELECTOR | --all [flags]
  berth delete -f FILENAME [flags]

Flags:
  -f, --filename PATH          delete the objects of these manifests (repeatable)
  -l, --selector SELECTOR      delete the objects matching a label selector
      --all                    delete every object of the type in the namespace
  -A, --all-namespaces         with -l or --all: in every namespace
      --grace-period N         seconds to let a pod stop (default: the pod's own; 0 needs --force)
      --now                    --grace-period=1
      --force                  with --grace-period=0: remove at once, without waiting for the node
      --cascade[=STRATEGY]     what happens to dependents: background (default), foreground
                               (they go first), orphan (they stay)
      --ignore-not-found       no error for objects that do not exist
      --dry-run[=client|server] show what would be deleted
      --wait                   wait until the objects are gone
      --timeout DURATION       how long --wait waits (default 60s)
  -o, --output name            print TYPE/NAME only
${GLOBAL_HELP}`;

interface Victim {
  info: KindInfo;
  namespace: string;
  name: string;
}

export async function runDelete(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    filename: { type: 'strings', short: 'f' },
    selector: { type: 'string', short: 'l' },
    all: 'bool',
    'all-namespaces': { type: 'bool', short: 'A' },
    'grace-period': 'int',
    now: 'bool',
    force: 'bool',
    cascade: { type: 'string', noValue: 'background' },
    'ignore-not-found': 'bool',
    'dry-run': { type: 'string', noValue: 'client' },
    wait: 'bool',
    timeout: 'duration',
    output: { type: 'string', short: 'o' },
  });
  if (bool(f, 'help')) {
    io.write(DELETE_USAGE);
    return 0;
  }
  const files = strs(f, 'filename');
  const selector = str(f, 'selector') ?? '';
  const all = bool(f, 'all');
  const allNs = bool(f, 'all-namespaces');
  const output = str(f, 'output') ?? '';
  if (output !== '' && output !== 'name') throw new CliError(`unexpected -o ${output}; delete prints only "name"`);
  const mode = dryRunMode(f);
  let grace = int(f, 'grace-period') ?? -1;
  if (bool(f, 'now')) {
    if (grace !== -1) throw new CliError('--now and --grace-period cannot be specified together');
    grace = 1;
  }
  if (bool(f, 'force')) {
    if (grace === -1) grace = 0;
    if (grace === 0) io.error('Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n');
  } else if (grace === 0) {
    // As kubectl: an immediate deletion must be asked for with --force.
    grace = 1;
  }

  const cascade = cascadePolicy(str(f, 'cascade'));
  const forced = bool(f, 'force') && grace === 0;

  if (files.length > 0 && f._.length > 0) throw new CliError('when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well');
  if (files.length === 0 && f._.length === 0) {
    throw new CliError(
      "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'",
    );
  }
  const requests = files.length > 0 ? [] : parseResourceArgs(f._);
  const named = requests.some((r) => r.name !== undefined);
  if (named && (selector || all)) throw new CliError('name cannot be provided when a selector is specified');
  if (files.length === 0 && !named && !selector && !all) throw new CliError('resource(s) were provided, but no name was specified');
  if (selector && all) throw new CliError('cannot set --all and --selector at the same time');

  const session = await connect(f, io);
  let failed = false;
  const fail = (e: unknown, info?: KindInfo) => {
    failed = true;
    io.error(formatError(e, { ...(info ? { kind: info } : {}), endpoints: session.client.endpoints }));
  };
  try {
    const victims: Victim[] = [];
    if (files.length > 0) {
      for (const file of files) {
        for (const m of await readManifestObjects(file, { stdin: io.stdin })) {
          const info = kindForVersion(String(m.object.apiVersion), String(m.object.kind));
          const name = m.object.metadata?.name ?? '';
          if (!info) {
            failed = true;
            io.error(`error: resource mapping not found for name: "${name}" from "${m.source}": no matches for kind "${m.object.kind}" in version "${m.object.apiVersion}"\n`);
            continue;
          }
          const own = m.object.metadata?.namespace;
          if (info.namespaced && own && session.explicitNamespace && own !== session.namespace) {
            failed = true;
            io.error(`error: the namespace from the provided object "${own}" does not match the namespace "${session.namespace}". You must pass '--namespace=${own}' to perform this operation.\n`);
            continue;
          }
          victims.push({ info, namespace: info.namespaced ? own || session.namespace : '', name });
        }
      }
    } else {
      for (const r of requests) {
        const ns = r.info.namespaced ? (allNs && !r.name ? '' : session.namespace) : '';
        if (r.name !== undefined) {
          victims.push({ info: r.info, namespace: ns, name: r.name });
          continue;
        }
        try {
          let cont = '';
          do {
            const page = await session.client.list(r.info.plural, { namespace: ns, labelSelector: selector, limit: 500, continue: cont });
            for (const o of page.items) {
              const m = (o.metadata ?? {}) as Record<string, unknown>;
              victims.push({ info: r.info, namespace: String(m.namespace ?? ''), name: String(m.name ?? '') });
            }
            cont = page.continue;
          } while (cont);
        } catch (e) {
          fail(e, r.info);
        }
      }
      if (victims.length === 0 && !failed && (selector || all)) {
        io.error(allNs || requests.every((r) => !r.info.namespaced) ? 'No resources found\n' : `No resources found in ${session.namespace} namespace.\n`);
      }
    }

    const deleted: (Victim & { uid: string })[] = [];
    for (const v of victims) {
      try {
        let before;
        if (mode === 'client') before = await session.client.get(v.info.plural, v.namespace, v.name);
        else {
          before = await session.client.delete(v.info.plural, v.namespace, v.name, {
            ...(grace >= 0 ? { gracePeriodSeconds: grace } : {}),
            ...(cascade ? { propagationPolicy: cascade } : {}),
            dryRun: mode === 'server',
          });
        }
        deleted.push({ ...v, uid: String((before.metadata as Record<string, unknown> | undefined)?.uid ?? '') });
        const verb = forced ? 'force deleted' : 'deleted';
        io.write(output === 'name' ? `${objectRef(v.info, v.name)}\n` : `${resourceName(v.info)} "${v.name}" ${verb}${dryRunSuffix(mode)}\n`);
      } catch (e) {
        if (bool(f, 'ignore-not-found') && e instanceof ApiCallError && e.code === status.NOT_FOUND) continue;
        fail(e, v.info);
        if (e instanceof ApiCallError && e.code === status.UNAVAILABLE) break;
      }
    }

    if (bool(f, 'wait') && mode === 'none' && deleted.length > 0) {
      const timeout = int(f, 'timeout') ?? 60_000;
      const deadline = timeout > 0 ? Date.now() + timeout : 0;
      for (const v of deleted) {
        // Gone, or replaced by a new object of the same name.
        if (!(await waitForDeletion(session.client, v.info, v.namespace, v.name, deadline, v.uid))) {
          io.error(`error: timed out waiting for the condition on ${v.info.plural}/${v.name}\n`);
          return 1;
        }
      }
    }
  } finally {
    session.client.close();
  }
  return failed ? 1 : 0;
}

/** `--cascade`: kubectl's values (and the old true/false) as a propagation policy; undefined when not given. */
export function cascadePolicy(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  switch (v.toLowerCase()) {
    case 'background':
    case 'true':
      return 'background';
    case 'foreground':
      return 'foreground';
    case 'orphan':
    case 'false':
      return 'orphan';
    default:
      throw new CliError(`invalid cascade value (${v}). Must be "background", "foreground", or "orphan".`);
  }
}

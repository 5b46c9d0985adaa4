/**
 * `berth scale TYPE NAME --replicas N [--current-replicas M]`: set the replicas of
 * Deployments and ReplicaSets, as kubectl does (with M, only if that is what they have).
 */
import type { KindInfo } from '../../api/index.ts';
import type { PlainObject } from '../../client/client.ts';
import { bool, int, parseFlags, str } from '../flags.ts';
import { CliError, formatError } from '../output/errors.ts';
import { objectRef, qualifiedPlural } from '../output/format.ts';
import { waitWithProgress, WaitFailed, WaitTimeout, type WaitState } from '../output/progress.ts';
import { connect, dryRunMode, dryRunSuffix, GLOBAL_FLAGS, GLOBAL_HELP, parseResourceArgs, progressOut, type Io } from './common.ts';
import { isConflict, listAll, metaOf, nameOf, rec } from './workloads.ts';

export const SCALE_USAGE = `Set a new size for a Deployment or ReplicaSet.

Usage:
  berth scale TYPE NAME --replicas COUNT [flags]
  berth scale TYPE/NAME --replicas COUNT [flags]
  berth scale TYPE (-l SELECTOR | --all) --replicas COUNT [flags]

Examples:
  berth scale deploy/web --replicas 5
  berth scale deploy web --current-replicas 2 --replicas 3   # only if it has 2 now

Flags:
      --replicas COUNT         the new number of replicas (required)
      --current-replicas N     precondition: the current number of replicas
      --resource-version RV    precondition: the object's resource version
  -l, --selector SELECTOR      the objects matching a label selector
      --all                    every object of the type in the namespace
      --timeout DURATION       wait this long for the new size to be reached (0: don't wait)
      --dry-run[=client|server] show what would change
  -o, --output name            print TYPE/NAME only
${GLOBAL_HELP}`;

const SCALABLE = ['Deployment', 'ReplicaSet'];

export async function runScale(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    replicas: 'int',
    'current-replicas': 'int',
    'resource-version': 'string',
    selector: { type: 'string', short: 'l' },
    all: 'bool',
    timeout: 'duration',
    'dry-run': { type: 'string', noValue: 'client' },
    output: { type: 'string', short: 'o' },
  });
  if (bool(f, 'help')) {
    io.write(SCALE_USAGE);
    return 0;
  }
  const replicas = int(f, 'replicas');
  if (replicas === undefined) throw new CliError('required flag(s) "replicas" not set');
  if (replicas < 0) throw new CliError('The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0');
  const current = int(f, 'current-replicas') ?? -1;
  const wantedVersion = str(f, 'resource-version') ?? '';
  const output = str(f, 'output') ?? '';
  if (output !== '' && output !== 'name') throw new CliError(`unexpected -o ${output}; scale prints only "name"`);
  const mode = dryRunMode(f);
  if (f._.length === 0) throw new CliError('required resource not specified');
  const requests = parseResourceArgs(f._);
  const selector = str(f, 'selector') ?? '';
  const all = bool(f, 'all');
  const named = requests.some((r) => r.name !== undefined);
  if (named && (selector || all)) throw new CliError('name cannot be provided when a selector is specified');
  if (!named && !selector && !all) throw new CliError('resource(s) were provided, but no name was specified');
  for (const r of requests) {
    if (!SCALABLE.includes(r.info.kind)) throw new CliError(`cannot scale ${qualifiedPlural(r.info)}: only deployments and replicasets have a number of replicas`);
  }

  const session = await connect(f, io);
  const { client } = session;
  let failed = false;
  try {
    const targets: { info: KindInfo; name: string }[] = [];
    for (const r of requests) {
      if (r.name !== undefined) targets.push({ info: r.info, name: r.name });
      else for (const o of await listAll(client, r.info.plural, { namespace: session.namespace, labelSelector: selector })) targets.push({ info: r.info, name: nameOf(o) });
    }
    if (targets.length === 0) throw new CliError('no objects passed to scale');
    if (current >= 0 && targets.length > 1) throw new CliError('cannot use --current-replicas with multiple resources');
    if (wantedVersion && targets.length > 1) throw new CliError('cannot use --resource-version with multiple resources');
    for (const t of targets) {
      try {
        for (let attempt = 0; ; attempt++) {
          const obj = await client.get(t.info.plural, session.namespace, t.name);
          const spec = rec(obj.spec);
          const have = spec.replicas === undefined ? 1 : Number(spec.replicas);
          if (current >= 0 && have !== current) throw new CliError(`Expected replicas to be ${current}, was ${have}`);
          if (wantedVersion && String(metaOf(obj).resourceVersion) !== wantedVersion) {
            throw new CliError(`Expected resource version to be ${wantedVersion}, was ${String(metaOf(obj).resourceVersion)}`);
          }
          const next = structuredClone(obj);
          next.spec = { ...spec, replicas };
          try {
            if (mode !== 'client') await client.update(next, mode === 'server');
            io.write(output === 'name' ? `${objectRef(t.info, t.name)}\n` : `${objectRef(t.info, t.name)} scaled${dryRunSuffix(mode)}\n`);
            break;
          } catch (e) {
            // A precondition decides on what was read: a lost race reads again.
            if (!isConflict(e) || attempt >= 5) throw e;
          }
        }
        const timeoutMs = int(f, 'timeout') ?? 0;
        if (timeoutMs > 0 && mode === 'none') {
          await waitWithProgress(progressOut(io), `${t.info.singular} "${t.name}"`, {
            client,
            info: t.info,
            namespace: session.namespace,
            name: t.name,
            evaluate: (o) => scaledStatus(o, t.info, replicas),
            timeoutMs,
            now: io.now,
          });
        }
      } catch (e) {
        failed = true;
        if (e instanceof WaitTimeout || e instanceof WaitFailed) io.error(`error: ${e.message}\n`);
        else io.error(formatError(e, { kind: t.info, endpoints: client.endpoints }));
      }
    }
  } finally {
    client.close();
  }
  return failed ? 1 : 0;
}

/** Whether a scaled object has the replicas it was asked for. */
function scaledStatus(o: PlainObject, info: KindInfo, want: number): WaitState {
  const st = rec(o.status);
  const have = Number(st.readyReplicas ?? 0);
  const total = Number(st.replicas ?? 0);
  const done = have === want && total === want;
  return {
    done,
    message: done ? `${info.singular} "${nameOf(o)}" scaled to ${want} ready replicas` : `Waiting for ${info.singular} "${nameOf(o)}" to have ${want} ready replicas: ${have} ready, ${total} in total...`,
    progress: { current: have, total: want, unit: 'ready' },
  };
}

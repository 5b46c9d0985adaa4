/**
 * `berth apply -f FILE|DIR|-`: create each object, or replace what the user controls of
 * an existing one; prints `configmap/web created|configured|unchanged` as kubectl does.
 * The outcome is decided by the server (it compares with what is stored).
 */
import { status } from '@grpc/grpc-js';
import { defaultObject, kindForVersion, readManifestObjects, validateObject, type ApiObject, type ManifestObject } from '../../api/index.ts';
import { ApiCallError, type PlainObject } from '../../client/client.ts';
import { bool, int, parseFlags, str, strs } from '../flags.ts';
import { CliError, formatError, formatInvalid } from '../output/errors.ts';
import { listOf, objectRef, toJson, toYaml } from '../output/format.ts';
import { statusFor, waitWithProgress, WaitFailed, WaitTimeout } from '../output/progress.ts';
import { connect, dryRunMode, dryRunSuffix, GLOBAL_FLAGS, GLOBAL_HELP, progressOut, type Io } from './common.ts';

export const APPLY_USAGE = `Apply a configuration to objects by file name or stdin.

Usage:
  berth apply -f FILENAME [-f FILENAME...] [flags]

Examples:
  berth apply -f web.yaml              # one file (several YAML documents, JSON, or a List)
  berth apply -f manifests/            # every .yaml, .yml and .json file of a directory
  cat web.yaml | berth apply -f -      # standard input

Flags:
  -f, --filename PATH          file, directory or - (repeatable)
      --dry-run[=client|server] validate without persisting (bare --dry-run: client)
  -o, --output FORMAT          name, yaml or json instead of "configured" lines
      --wait                   then wait until Deployments are rolled out, Jobs complete and
                               Pods ready (live progress; fails with the reason)
      --timeout DURATION       how long --wait waits (default 5m; 0: no limit)
${GLOBAL_HELP}`;

export async function runApply(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    filename: { type: 'strings', short: 'f' },
    'dry-run': { type: 'string', noValue: 'client' },
    output: { type: 'string', short: 'o' },
    wait: 'bool',
    timeout: 'duration',
  });
  if (bool(f, 'help')) {
    io.write(APPLY_USAGE);
    return 0;
  }
  const files = strs(f, 'filename');
  if (files.length === 0) throw new CliError('must specify -f FILENAME (a file, a directory, or - for stdin)');
  if (f._.length > 0) throw new CliError(`unexpected argument "${f._[0]}": apply reads objects from -f only`);
  const output = str(f, 'output') ?? '';
  if (!['', 'name', 'yaml', 'json'].includes(output)) {
    throw new CliError(`unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,yaml`);
  }
  const mode = dryRunMode(f);

  // Read everything first: a malformed file applies nothing.
  const manifests: ManifestObject[] = [];
  for (const file of files) manifests.push(...(await readManifestObjects(file, { stdin: io.stdin })));
  if (manifests.length === 0) throw new CliError('no objects passed to apply');

  const session = await connect(f, io);
  let failed = false;
  const results: PlainObject[] = [];
  try {
    for (const m of manifests) {
      const source = m.source === '<stdin>' ? 'STDIN' : m.source;
      const obj = structuredClone(m.object) as unknown as PlainObject;
      const meta = (obj.metadata ??= {}) as Record<string, unknown>;
      const name = typeof meta.name === 'string' ? meta.name : '';
      const info = kindForVersion(String(obj.apiVersion), String(obj.kind));
      if (!info) {
        io.error(
          `error: resource mapping not found for name: "${name}" namespace: "${String(meta.namespace ?? '')}" from "${source}": no matches for kind "${String(obj.kind)}" in version "${String(obj.apiVersion)}"\n`,
        );
        failed = true;
        continue;
      }
      if (!name) {
        io.error(`error: error when retrieving current configuration of ${info.kind} from "${source}": resource name may not be empty\n`);
        failed = true;
        continue;
      }
      if (info.namespaced) {
        const own = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : undefined;
        if (own && session.explicitNamespace && own !== session.namespace) {
          io.error(
            `error: the namespace from the provided object "${own}" does not match the namespace "${session.namespace}". You must pass '--namespace=${own}' to perform this operation.\n`,
          );
          failed = true;
          continue;
        }
        meta.namespace = own ?? session.namespace;
      } else {
        delete meta.namespace;
      }
      const ref = objectRef(info, name);
      try {
        let outcome: string;
        let result: PlainObject = obj;
        if (mode === 'client') {
          const errs = validateObject(defaultObject(structuredClone(obj) as unknown as ApiObject), { operation: 'create' });
          if (errs.length > 0) {
            io.error(formatInvalid(info.kind, name, errs.map((e) => e.toString())));
            failed = true;
            continue;
          }
          try {
            await session.client.get(info.plural, String(meta.namespace ?? ''), name);
            outcome = 'configured';
          } catch (e) {
            if (!(e instanceof ApiCallError && e.code === status.NOT_FOUND)) throw e;
            outcome = 'created';
          }
        } else {
          const r = await session.client.apply(obj, mode === 'server');
          outcome = r.outcome;
          result = r.object;
        }
        results.push(result);
        if (output === 'name') io.write(`${ref}\n`);
        else if (output === '') io.write(`${ref} ${outcome}${dryRunSuffix(mode)}\n`);
      } catch (e) {
        failed = true;
        const creating = e instanceof ApiCallError && (e.code === status.NOT_FOUND || e.code === status.ALREADY_EXISTS);
        io.error(formatError(e, { kind: info, endpoints: session.client.endpoints, prefix: `error when ${creating ? 'creating' : 'applying'} "${source}": ` }));
        if (e instanceof ApiCallError && e.code === status.UNAVAILABLE) break;
      }
    }
    if (output === 'json' || output === 'yaml') {
      const value = results.length === 1 ? results[0] : listOf(results);
      if (results.length > 0) io.write(output === 'json' ? toJson(value) : toYaml(value));
    }
    if (bool(f, 'wait') && mode === 'none') {
      const timeoutMs = int(f, 'timeout') ?? 5 * 60_000;
      const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
      for (const r of results) {
        const info = kindForVersion(String(r.apiVersion), String(r.kind));
        const evaluate = info ? statusFor(info.kind) : undefined;
        if (!info || !evaluate) continue;
        const m = (r.metadata ?? {}) as Record<string, unknown>;
        const name = String(m.name ?? '');
        try {
          await waitWithProgress(progressOut(io), `${info.singular} "${name}"`, {
            client: session.client,
            info,
            namespace: String(m.namespace ?? ''),
            name,
            evaluate,
            timeoutMs: deadline > 0 ? Math.max(1, deadline - Date.now()) : 0,
            now: io.now,
          });
        } catch (e) {
          failed = true;
          if (e instanceof WaitFailed) io.error(`error: ${e.message}\n`);
          else if (e instanceof WaitTimeout) {
            const why = e.last?.message ? `: ${e.last.message.replace(/^Waiting for [^:]*: /, '').replace(/\.\.\.$/, '')}` : '';
            io.error(`error: timed out waiting for ${info.singular} "${name}"${why}\n`);
          } else io.error(formatError(e, { kind: info, endpoints: session.client.endpoints }));
        }
      }
    }
  } finally {
    session.client.close();
  }
  return failed ? 1 : 0;
}

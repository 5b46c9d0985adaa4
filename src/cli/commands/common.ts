/**
 * What the client verbs share: their I/O, the global flags (--server, --context, -n,
 * --request-timeout), finding the API endpoints, and resolving what the user typed as a
 * resource type.
 */
import { lookupKind, type KindInfo } from '../../api/index.ts';
import { BerthClient } from '../../client/client.ts';
import { configPath, loadConfig, resolveTarget, type Target } from '../config.ts';
import { int, str, type FlagSpecs, type ParsedFlags } from '../flags.ts';
import { CliError } from '../output/errors.ts';
import type { ProgressOut } from '../output/progress.ts';

export interface Io {
  write(s: string): void;
  error(s: string): void;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** Milliseconds since the epoch (ages are counted to this). */
  now(): number;
  /** Is stdout a terminal (colours)? */
  tty: boolean;
  /** The terminal's width, when stdout is one. */
  columns?: () => number;
}

export function processIo(): Io {
  return {
    write: (s) => void process.stdout.write(s),
    error: (s) => void process.stderr.write(s),
    stdin: process.stdin,
    env: process.env,
    now: () => Date.now(),
    tty: Boolean(process.stdout.isTTY),
    columns: () => process.stdout.columns || 80,
  };
}

/** Where live progress goes: redrawn in place on a terminal, coloured unless NO_COLOR. */
export function progressOut(io: Io): ProgressOut {
  return {
    write: io.write,
    tty: io.tty,
    columns: io.columns?.() ?? 80,
    color: io.tty && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb',
    now: io.now,
  };
}

/** Flags every client verb takes. */
export const GLOBAL_FLAGS: FlagSpecs = {
  server: { type: 'string', short: 's' },
  context: 'string',
  namespace: { type: 'string', short: 'n' },
  'request-timeout': 'duration',
  help: { type: 'bool', short: 'h' },
};

export const GLOBAL_HELP = `Global flags:
  -s, --server HOST:PORT[,...]   API endpoints (default: $BERTH_SERVER, else the config's current context)
      --context NAME             use this context of the config file
  -n, --namespace NS             namespace (default: the context's, else "default")
      --request-timeout DURATION per-call deadline (default 15s)
`;

export interface Session {
  client: BerthClient;
  target: Target;
  /** -n, else the context's namespace, else "default". */
  namespace: string;
  /** Whether -n was given. */
  explicitNamespace: boolean;
}

/** Finds the endpoints (flags, environment, config) and opens a client. */
export async function connect(f: ParsedFlags, io: Io): Promise<Session> {
  const path = configPath(io.env);
  const config = await loadConfig(path);
  const target = resolveTarget({ server: str(f, 'server'), context: str(f, 'context'), env: io.env, config, path });
  const ns = str(f, 'namespace');
  if (ns !== undefined && ns === '') throw new CliError('--namespace: must not be empty');
  const timeoutMs = int(f, 'request-timeout') ?? 15_000;
  const client = new BerthClient({ endpoints: target.endpoints, timeoutMs });
  return { client, target, namespace: ns ?? target.namespace, explicitNamespace: ns !== undefined };
}

/** The kind a user typed (`po`, `deployments.apps`, `Pod`), or a kubectl-worded error. */
export function resolveKind(name: string): KindInfo {
  const info = lookupKind(name);
  if (!info) throw new CliError(`the server doesn't have a resource type "${name}"`);
  return info;
}

/** kubectl's `all` category. */
export const ALL_KINDS = ['pods', 'services', 'deployments', 'replicasets', 'horizontalpodautoscalers', 'jobs', 'cronjobs'];

export interface ResourceArg {
  info: KindInfo;
  /** Undefined: every object of the kind (a list). */
  name?: string;
}

/**
 * Resource arguments as kubectl reads them: `TYPE[,TYPE...] [NAME...]` or
 * `TYPE/NAME [TYPE/NAME...]`. Returns one entry per (kind, name), or per kind when no
 * names are given.
 */
export function parseResourceArgs(args: readonly string[]): ResourceArg[] {
  if (args.length === 0) return [];
  if (args.some((a) => a.includes('/'))) {
    return args.map((a) => {
      const slash = a.indexOf('/');
      if (slash <= 0 || slash === a.length - 1) {
        throw new CliError(
          `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'berth get resource/<resource_name>' instead of 'berth get resource resource/<resource_name>'`,
        );
      }
      return { info: resolveKind(a.slice(0, slash)), name: a.slice(slash + 1) };
    });
  }
  const types = args[0]!
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .flatMap((t) => (t.toLowerCase() === 'all' ? ALL_KINDS : [t]));
  const infos: KindInfo[] = [];
  for (const t of types) {
    const info = resolveKind(t);
    if (!infos.includes(info)) infos.push(info);
  }
  const names = args.slice(1);
  if (names.length === 0) return infos.map((info) => ({ info }));
  return infos.flatMap((info) => names.map((name) => ({ info, name })));
}

/** A `--dry-run` value: none, client or server (bare `--dry-run` means client). */
export function dryRunMode(f: ParsedFlags): 'none' | 'client' | 'server' {
  const v = str(f, 'dry-run');
  if (v === undefined || v === 'none' || v === 'false') return 'none';
  if (v === 'client' || v === 'true') return 'client';
  if (v === 'server') return 'server';
  throw new CliError(`Invalid dry-run value (${v}). Must be "none", "server", or "client".`);
}

export function dryRunSuffix(mode: 'none' | 'client' | 'server'): string {
  return mode === 'client' ? ' (dry run)' : mode === 'server' ? ' (server dry run)' : '';
}

/**
 * `berth logs`: a container's log, read by the node's agent and relayed by the control
 * plane (Pods.Logs), with kubectl's flags.
 */
import { StringDecoder } from 'node:string_decoder';
import { bool, int, parseFlags, str } from '../flags.ts';
import { CliError } from '../output/errors.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, type Io } from './common.ts';

export const LOGS_USAGE = `Print the log of a container in a pod.

Usage:
  berth logs POD [-c CONTAINER] [flags]
  berth logs pod/POD [-c CONTAINER] [flags]

Examples:
  berth logs web                        # the log of web's only container
  berth logs web -c sidecar -f          # follow one container of several
  berth logs web --tail 20 --since 5m   # the last 20 lines of the last five minutes
  berth logs web -p                     # the previous instance (after a restart)

Flags:
  -c, --container NAME   the container (required when the pod has several)
  -f, --follow           keep streaming new lines
      --tail N           only the last N lines (default -1: all)
  -p, --previous         the previous, terminated instance of the container
      --since DURATION   only lines newer than this (e.g. 10s, 5m, 1h)
      --timestamps       prefix each line with its RFC 3339 timestamp
${GLOBAL_HELP}`;

export async function runLogs(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    container: { type: 'string', short: 'c' },
    follow: { type: 'bool', short: 'f' },
    tail: 'int',
    previous: { type: 'bool', short: 'p' },
    since: 'duration',
    timestamps: 'bool',
  });
  if (bool(f, 'help')) {
    io.write(LOGS_USAGE);
    return 0;
  }
  if (f._.length === 0) throw new CliError('expected POD: berth logs POD [-c CONTAINER]');
  if (f._.length > 2) throw new CliError(`unexpected arguments: ${f._.slice(2).join(' ')}`);
  let pod = f._[0]!;
  const slash = pod.indexOf('/');
  if (slash >= 0) {
    const type = pod.slice(0, slash).toLowerCase();
    if (!['pod', 'pods', 'po'].includes(type)) throw new CliError(`berth logs reads pods only, not "${pod.slice(0, slash)}"`);
    pod = pod.slice(slash + 1);
  }
  if (!pod) throw new CliError('expected POD: berth logs POD [-c CONTAINER]');
  // kubectl also takes the container as the second argument.
  const container = str(f, 'container') ?? f._[1] ?? '';
  const tail = int(f, 'tail');
  const sinceMs = int(f, 'since');
  if (sinceMs !== undefined && sinceMs <= 0) throw new CliError('--since: must be a positive duration');
  const session = await connect(f, io);
  try {
    const decoder = new StringDecoder('utf8');
    const stream = session.client.logs(
      session.namespace,
      pod,
      {
        container,
        follow: bool(f, 'follow'),
        ...(tail !== undefined ? { tailLines: tail } : {}),
        previous: bool(f, 'previous'),
        ...(sinceMs !== undefined ? { sinceSeconds: Math.ceil(sinceMs / 1000) } : {}),
        timestamps: bool(f, 'timestamps'),
      },
      (chunk) => io.write(decoder.write(chunk)),
    );
    await stream.done;
    const rest = decoder.end();
    if (rest) io.write(rest);
    return 0;
  } finally {
    session.client.close();
  }
}

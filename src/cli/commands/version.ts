/**
 * `berth version`: this client's version and every configured server's.
 */
import { bool, parseFlags, str } from '../flags.ts';
import { CliError, formatError } from '../output/errors.ts';
import { toJson, toYaml } from '../output/format.ts';
import { gatherStatuses } from './cluster.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, type Io } from './common.ts';

export const CLIENT_VERSION = '0.1.0';

export const VERSION_USAGE = `Print the client and server versions.

Usage:
  berth version [--client] [-o json|yaml]

${GLOBAL_HELP}`;

export async function runVersion(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { ...GLOBAL_FLAGS, client: 'bool', output: { type: 'string', short: 'o' } });
  if (bool(f, 'help')) {
    io.write(VERSION_USAGE);
    return 0;
  }
  const output = str(f, 'output') ?? '';
  if (!['', 'json', 'yaml'].includes(output)) throw new CliError(`--output must be 'yaml' or 'json'`);
  const doc: { clientVersion: string; servers?: { endpoint: string; replica: number; version: string; clusterId: string }[] } = { clientVersion: CLIENT_VERSION };
  if (!output) io.write(`Client Version: ${CLIENT_VERSION}\n`);
  if (!bool(f, 'client')) {
    const session = await connect(f, io);
    try {
      const { answers, errors } = await gatherStatuses(session.client);
      doc.servers = answers.map((a) => ({ endpoint: a.endpoint, replica: a.status.id, version: a.status.version, clusterId: a.status.cluster_id }));
      if (answers.length === 0) {
        io.error(formatError(errors[0], { endpoints: session.client.endpoints }));
        return 1;
      }
      // Endpoints that did not answer are reported, but one answer is enough to succeed.
      const answered = new Set(answers.map((a) => a.endpoint));
      for (const e of session.client.endpoints) if (!answered.has(e)) io.error(`warning: server ${e} did not answer\n`);
    } finally {
      session.client.close();
    }
  }
  if (output === 'json') io.write(toJson(doc));
  else if (output === 'yaml') io.write(toYaml(doc));
  else for (const s of doc.servers ?? []) io.write(`Server Version: ${s.version} (replica ${s.replica} at ${s.endpoint}, cluster ${s.clusterId})\n`);
  return 0;
}

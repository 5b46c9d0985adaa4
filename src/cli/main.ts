#!/usr/bin/env node
/**
 * The `berth` command. Until the object store and API server land, it runs Raft replicas:
 * `berth up` starts a local three-replica cluster, `berth raft-node` runs one replica.
 */
import { runRaftNode, RAFT_NODE_USAGE } from './raft-node.ts';
import { FlagError } from './flags.ts';
import { runUp, UP_USAGE } from './up.ts';
import { runServer, SERVER_USAGE } from './server-cmd.ts';

const VERSION = '0.1.0';

const USAGE = `berth — a Kubernetes-class container orchestrator

Usage: berth COMMAND [flags]

Commands:
  up          start a local cluster of three replicas (Ctrl-C stops it)
  server      run one control-plane replica
  raft-node   run one bare Raft replica process (benchmarks, tests)
  version     print the version

Run 'berth COMMAND --help' for a command's flags.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
    case '--version':
      process.stdout.write(`berth ${VERSION}\n`);
      return 0;
    case 'up':
      if (rest.includes('--help')) process.stdout.write(UP_USAGE);
      else await runUp(rest);
      return 0;
    case 'server':
      if (rest.includes('--help')) process.stdout.write(SERVER_USAGE);
      else await runServer(rest);
      return 0;
    case 'raft-node':
      if (rest.includes('--help')) process.stdout.write(RAFT_NODE_USAGE);
      else await runRaftNode(rest);
      return 0;
    default:
      process.stderr.write(`Error: unknown command "${cmd}" for "berth"\nRun 'berth --help' for usage.\n`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(e instanceof FlagError ? `Error: ${e.message}\n` : `Error: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
  },
);

#!/usr/bin/env node
/**
 * The `berth` command: `berth up` runs a local cluster, `berth server` one control-plane
 * replica; the client verbs (apply, get, delete, cluster, config, version) talk to the API
 * the way kubectl talks to Kubernetes. Verbs are loaded on demand.
 */
import { FlagError } from './flags.ts';
import { ConfigError } from './config.ts';

const USAGE = `berth — a Kubernetes-class container orchestrator

Usage: berth COMMAND [flags]

Cluster:
  up              start a local cluster of three replicas (Ctrl-C stops it)
  server          run one control-plane replica
  agent           run a node agent: this machine becomes a node of the cluster
  cluster         status, members, transfer-leader, add-member, remove-member

Objects:
  apply           create or update objects from manifests (-f FILE|DIR|-)
  get             display objects
  delete          delete objects
  create          create objects from manifests (-f) or from the command line
  describe        show objects in detail, with their events
  edit            edit an object in your editor
  label           add, change or remove labels
  annotate        add, change or remove annotations
  scale           set the replicas of a Deployment or ReplicaSet
  rollout         status, history, undo, restart, pause and resume of Deployments
  events          list events (-w: as they come)
  explain         the fields of a kind
  api-resources   the kinds the API serves, with their short names

Nodes:
  cordon          mark nodes unschedulable
  uncordon        mark nodes schedulable
  drain           cordon a node and evict its pods
  taint           add or remove taints of nodes

Pods:
  logs            print the log of a container in a pod (-f follows)
  top             CPU and memory use of nodes or pods

Interactive:
  ui              a terminal UI for the cluster, in the manner of k9s

Client:
  config          contexts of the client configuration ($BERTH_CONFIG or ~/.berth/config)
  version         client and server versions
  completion      a bash or zsh completion script

Other:
  raft-node       run one bare Raft replica process (benchmarks, tests)

Run 'berth COMMAND --help' for a command's flags.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const help = rest.includes('--help') || rest.includes('-h');
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case '--version': {
      const { CLIENT_VERSION } = await import('./commands/version.ts');
      process.stdout.write(`berth ${CLIENT_VERSION}\n`);
      return 0;
    }
    case 'up': {
      const { runUp, UP_USAGE } = await import('./up.ts');
      if (help) {
        process.stdout.write(UP_USAGE);
        return 0;
      }
      return runUp(rest);
    }
    case 'server': {
      const { runServer, SERVER_USAGE } = await import('./server-cmd.ts');
      if (help) process.stdout.write(SERVER_USAGE);
      else await runServer(rest);
      return 0;
    }
    case 'agent': {
      const { runAgent, AGENT_USAGE } = await import('./agent-cmd.ts');
      if (help) process.stdout.write(AGENT_USAGE);
      else return (await runAgent(rest)) ?? 0;
      return 0;
    }
    case 'raft-node': {
      const { runRaftNode, RAFT_NODE_USAGE } = await import('./raft-node.ts');
      if (help) process.stdout.write(RAFT_NODE_USAGE);
      else await runRaftNode(rest);
      return 0;
    }
    case 'apply':
    case 'get':
    case 'delete':
    case 'cluster':
    case 'config':
    case 'version':
    case 'api-resources':
    case 'ui':
    case 'logs':
    case 'top':
    case 'create':
    case 'describe':
    case 'edit':
    case 'scale':
    case 'rollout':
    case 'label':
    case 'annotate':
    case 'cordon':
    case 'uncordon':
    case 'drain':
    case 'taint':
    case 'explain':
    case 'events':
    case 'completion':
      return runClientVerb(cmd, rest);
    default:
      process.stderr.write(`error: unknown command "${cmd}" for "berth"\nRun 'berth --help' for usage.\n`);
      return 1;
  }
}

async function runClientVerb(cmd: string, argv: string[]): Promise<number> {
  const { processIo } = await import('./commands/common.ts');
  const { CliError, formatError } = await import('./output/errors.ts');
  const io = processIo();
  try {
    switch (cmd) {
      case 'apply':
        return await (await import('./commands/apply.ts')).runApply(argv, io);
      case 'get':
        return await (await import('./commands/get.ts')).runGet(argv, io);
      case 'delete':
        return await (await import('./commands/delete.ts')).runDelete(argv, io);
      case 'cluster':
        return await (await import('./commands/cluster.ts')).runCluster(argv, io);
      case 'config':
        return await (await import('./commands/config-cmd.ts')).runConfig(argv, io);
      case 'version':
        return await (await import('./commands/version.ts')).runVersion(argv, io);
      case 'api-resources':
        return await (await import('./commands/api-resources.ts')).runApiResources(argv, io);
      case 'ui':
        return await (await import('../tui/index.ts')).runUi(argv, io);
      case 'logs':
        return await (await import('./commands/logs.ts')).runLogs(argv, io);
      case 'top':
        return await (await import('./commands/top.ts')).runTop(argv, io);
      default:
        return await (await import('./commands/verbs.ts')).runVerb(cmd, argv, io);
    }
    return 1;
  } catch (e) {
    if (e instanceof FlagError) {
      io.error(`error: ${e.message}\nSee 'berth ${cmd} --help' for usage.\n`);
    } else if (e instanceof CliError || e instanceof ConfigError) {
      io.error(`error: ${e.message}\n`);
    } else if (e instanceof Error && (e.name === 'ApiCallError' || e.name === 'ManifestError')) {
      io.error(formatError(e));
    } else {
      io.error(`error: ${(e as Error)?.stack ?? String(e)}\n`);
    }
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(e instanceof FlagError || e instanceof ConfigError ? `error: ${e.message}\n` : `error: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
  },
);

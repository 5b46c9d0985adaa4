/** `berth ui --help`. */
import { GLOBAL_HELP } from '../cli/commands/common.ts';

export const UI_USAGE = `A terminal UI for the cluster, in the manner of k9s: live views of pods, deployments,
replica sets, jobs, services, config maps, secrets, events, nodes and the control plane's
replicas, with describe, YAML, logs, scale, restart, rollback, delete and cordon.

Usage:
  berth ui [VIEW] [flags]

Examples:
  berth ui                  # pods of the context's namespace
  berth ui deploy -n shop   # deployments of namespace shop
  berth ui cluster          # the Raft replicas: role, term, commit, lag
  berth ui -A               # every namespace

Press ? in the UI for the keys of the current view; :q or ctrl-c quits.

Flags:
  -A, --all-namespaces      start with every namespace
${GLOBAL_HELP}`;

/**
 * `berth completion bash|zsh`: a shell completion script for berth — verbs, their
 * subcommands and flags, resource types, and the names of objects, namespaces, nodes and
 * contexts (asked of the cluster with `berth get` as you type).
 *
 *   source <(berth completion bash)          # bash, this shell
 *   berth completion zsh > "${fpath[1]}/_berth"   # zsh, for good
 */
import { KINDS } from '../../api/index.ts';
import { bool, parseFlags } from '../flags.ts';
import { CliError } from '../output/errors.ts';
import type { Io } from './common.ts';

export const COMPLETION_USAGE = `Output a shell completion script for berth.

Usage:
  berth completion bash|zsh

Examples:
  source <(berth completion bash)                  # bash: this shell
  berth completion bash > /etc/bash_completion.d/berth
  source <(berth completion zsh)                   # zsh: this shell
  berth completion zsh > "\${fpath[1]}/_berth"      # zsh: every shell
`;

const GLOBAL = ['--server', '-s', '--context', '--namespace', '-n', '--request-timeout', '--help', '-h'];

/** Every verb with its own flags (the global ones are added to all client verbs). */
export const VERBS: Record<string, { flags: string[]; subcommands?: string[]; args?: 'kind' | 'node' | 'deployment' | 'pod' | 'context' | 'shell' | 'none' }> = {
  up: { flags: ['--replicas', '--base-port', '--api-base-port', '--data-dir', '--context', '--no-config', '--for', '--agents', '--runtime', '--help'], args: 'none' },
  server: {
    flags: ['--id', '--peers', '--listen', '--data-dir', '--encryption-key-file', '--join', '--cluster-id', '--tick-ms', '--compact-objects', '--api-peers', '--quiet', '--help'],
    args: 'none',
  },
  agent: { flags: ['--help'], args: 'none' },
  cluster: { flags: ['--output', '-o', '--learner', '--api-address'], subcommands: ['status', 'members', 'transfer-leader', 'add-member', 'remove-member'], args: 'none' },
  apply: { flags: ['--filename', '-f', '--dry-run', '--output', '-o', '--wait', '--timeout'], args: 'none' },
  create: {
    flags: ['--filename', '-f', '--dry-run', '--output', '-o', '--from-literal', '--from-file', '--from-env-file', '--type', '--image', '--replicas', '--port', '--from', '--schedule', '--tcp'],
    subcommands: ['namespace', 'configmap', 'secret', 'deployment', 'job', 'cronjob', 'service'],
    args: 'none',
  },
  get: {
    flags: ['--output', '-o', '--selector', '-l', '--field-selector', '--all-namespaces', '-A', '--label-columns', '-L', '--show-labels', '--show-kind', '--no-headers', '--sort-by', '--chunk-size', '--ignore-not-found', '--watch', '-w', '--watch-only'],
    args: 'kind',
  },
  describe: { flags: ['--selector', '-l', '--all-namespaces', '-A', '--show-events'], args: 'kind' },
  delete: {
    flags: ['--filename', '-f', '--selector', '-l', '--all', '--all-namespaces', '-A', '--grace-period', '--now', '--force', '--cascade', '--ignore-not-found', '--dry-run', '--wait', '--timeout', '--output', '-o'],
    args: 'kind',
  },
  edit: { flags: ['--output', '-o', '--selector', '-l'], args: 'kind' },
  label: { flags: ['--overwrite', '--selector', '-l', '--all', '--all-namespaces', '-A', '--list', '--resource-version', '--dry-run', '--output', '-o'], args: 'kind' },
  annotate: { flags: ['--overwrite', '--selector', '-l', '--all', '--all-namespaces', '-A', '--list', '--resource-version', '--dry-run', '--output', '-o'], args: 'kind' },
  scale: { flags: ['--replicas', '--current-replicas', '--resource-version', '--selector', '-l', '--all', '--timeout', '--dry-run', '--output', '-o'], args: 'kind' },
  rollout: { flags: ['--watch', '-w', '--revision', '--timeout', '--to-revision', '--dry-run'], subcommands: ['status', 'history', 'undo', 'restart', 'pause', 'resume'], args: 'deployment' },
  cordon: { flags: ['--selector', '-l', '--dry-run'], args: 'node' },
  uncordon: { flags: ['--selector', '-l', '--dry-run'], args: 'node' },
  drain: { flags: ['--force', '--ignore-daemonsets', '--delete-emptydir-data', '--grace-period', '--timeout', '--pod-selector', '--selector', '-l', '--dry-run'], args: 'node' },
  taint: { flags: ['--overwrite', '--all', '--selector', '-l', '--dry-run'], args: 'node' },
  logs: { flags: ['--container', '-c', '--follow', '-f', '--tail', '--previous', '-p', '--since', '--timestamps'], args: 'pod' },
  ui: { flags: [], args: 'none' },
  top: { flags: ['--all-namespaces', '-A', '--selector', '-l', '--containers', '--no-headers', '--sort-by'], subcommands: ['nodes', 'pods'], args: 'none' },
  events: { flags: ['--all-namespaces', '-A', '--for', '--types', '--watch', '-w', '--output', '-o', '--no-headers'], args: 'none' },
  explain: { flags: ['--recursive'], args: 'kind' },
  'api-resources': { flags: ['--output', '-o', '--namespaced', '--no-headers', '--help'], args: 'none' },
  config: {
    flags: ['--server', '--namespace', '--current', '--output', '-o', '--no-headers'],
    subcommands: ['view', 'get-contexts', 'current-context', 'use-context', 'set-context', 'delete-context'],
    args: 'context',
  },
  version: { flags: ['--output', '-o', '--client'], args: 'none' },
  completion: { flags: [], subcommands: ['bash', 'zsh'], args: 'shell' },
};

/** Verbs that do not take the client's global flags. */
const SERVER_VERBS = new Set(['up', 'server', 'agent', 'completion', 'explain', 'api-resources']);

/** Every name a kind can be typed as. */
function kindWords(): string[] {
  const words = new Set<string>(['all']);
  for (const k of KINDS) {
    words.add(k.plural);
    words.add(k.singular);
    for (const s of k.shortNames) words.add(s);
  }
  return [...words].sort();
}

function flagsOf(verb: string): string[] {
  const v = VERBS[verb]!;
  return [...new Set([...v.flags, ...(SERVER_VERBS.has(verb) ? [] : GLOBAL)])].sort();
}

export function bashScript(): string {
  const verbs = Object.keys(VERBS).sort();
  const flagCases = verbs.map((v) => `        ${v}) flags="${flagsOf(v).join(' ')}" ;;`).join('\n');
  const subCases = verbs.filter((v) => VERBS[v]!.subcommands).map((v) => `        ${v}) subs="${VERBS[v]!.subcommands!.join(' ')}" ;;`).join('\n');
  const argCases = verbs.map((v) => `        ${v}) argkind="${VERBS[v]!.args ?? 'none'}" ;;`).join('\n');
  return `# bash completion for berth                                -*- shell-script -*-
#
# Load it in this shell:    source <(berth completion bash)
# Or for every shell:       berth completion bash > /etc/bash_completion.d/berth

__berth_kinds="${kindWords().join(' ')}"

# The names of objects of a kind, asked of the cluster (quietly: nothing on failure).
__berth_names() {
    local kind="$1"; shift
    berth get "$kind" "$@" -o 'jsonpath={.items[*].metadata.name}' --request-timeout 3s 2>/dev/null
}

__berth_contexts() {
    berth config get-contexts --no-headers 2>/dev/null | awk '{ if ($1 == "*") print $2; else print $1 }'
}

_berth() {
    local cur prev verb="" sub="" kind="" i w ns_args=() positional=()
    COMPREPLY=()
    cur="\${COMP_WORDS[COMP_CWORD]}"
    prev="\${COMP_WORDS[COMP_CWORD-1]}"

    # The verb, its subcommand, and the namespace the command line asks for.
    for (( i = 1; i < COMP_CWORD; i++ )); do
        w="\${COMP_WORDS[i]}"
        case "$w" in
            -n|--namespace) ns_args=(-n "\${COMP_WORDS[i+1]}"); (( i++ )); continue ;;
            --namespace=*) ns_args=(-n "\${w#--namespace=}"); continue ;;
            -A|--all-namespaces) ns_args=(-A); continue ;;
            -o|--output|-l|--selector|-f|--filename|--context|-s|--server|--field-selector|--sort-by|--replicas|--timeout|--grace-period|--to-revision|--revision|--for|--types|--image|--cascade|-c|--container|--tail|--since)
                (( i++ )); continue ;;
            -*) continue ;;
        esac
        if [[ -z "$verb" ]]; then verb="$w"; else positional+=("$w"); fi
    done

    # Values of flags.
    case "$prev" in
        -n|--namespace)
            COMPREPLY=( $(compgen -W "$(__berth_names namespaces)" -- "$cur") ); return 0 ;;
        --context)
            COMPREPLY=( $(compgen -W "$(__berth_contexts)" -- "$cur") ); return 0 ;;
        -o|--output)
            COMPREPLY=( $(compgen -W "wide yaml json name jsonpath= jsonpath-file= custom-columns= custom-columns-file=" -- "$cur") ); compopt -o nospace 2>/dev/null; return 0 ;;
        --cascade)
            COMPREPLY=( $(compgen -W "background foreground orphan" -- "$cur") ); return 0 ;;
        --dry-run)
            COMPREPLY=( $(compgen -W "none client server" -- "$cur") ); return 0 ;;
        --types)
            COMPREPLY=( $(compgen -W "Normal Warning" -- "$cur") ); return 0 ;;
        --for)
            COMPREPLY=( $(compgen -W "$__berth_kinds" -- "$cur") ); return 0 ;;
        -f|--filename)
            COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
        -l|--selector|--field-selector|--sort-by|--replicas|--timeout|--grace-period|--to-revision|--revision|--image|-s|--server|--tail|--since)
            return 0 ;;
    esac

    if [[ -z "$verb" ]]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=( $(compgen -W "--help --version" -- "$cur") )
        else
            COMPREPLY=( $(compgen -W "${verbs.join(' ')}" -- "$cur") )
        fi
        return 0
    fi

    local flags="" subs="" argkind="none"
    case "$verb" in
${flagCases}
    esac
    case "$verb" in
${subCases}
    esac
    case "$verb" in
${argCases}
    esac

    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
        return 0
    fi

    local n=\${#positional[@]}
    if [[ -n "$subs" ]]; then
        if (( n == 0 )); then
            COMPREPLY=( $(compgen -W "$subs" -- "$cur") ); return 0
        fi
        sub="\${positional[0]}"
        positional=("\${positional[@]:1}"); n=\${#positional[@]}
    fi

    case "$argkind" in
        kind)
            if (( n == 0 )); then
                if [[ "$cur" == */* ]]; then
                    kind="\${cur%%/*}"
                    COMPREPLY=( $(compgen -P "$kind/" -W "$(__berth_names "$kind" "\${ns_args[@]}")" -- "\${cur#*/}") )
                else
                    COMPREPLY=( $(compgen -W "$__berth_kinds" -- "$cur") )
                fi
            else
                kind="\${positional[0]}"
                [[ "$kind" == */* ]] && return 0
                COMPREPLY=( $(compgen -W "$(__berth_names "\${kind%%,*}" "\${ns_args[@]}")" -- "$cur") )
            fi ;;
        deployment)
            if [[ "$cur" == */* ]]; then
                COMPREPLY=( $(compgen -P "\${cur%%/*}/" -W "$(__berth_names deployments "\${ns_args[@]}")" -- "\${cur#*/}") )
            elif (( n == 0 )); then
                COMPREPLY=( $(compgen -W "deployment deployments deploy" -- "$cur") )
            else
                COMPREPLY=( $(compgen -W "$(__berth_names deployments "\${ns_args[@]}")" -- "$cur") )
            fi ;;
        node)
            COMPREPLY=( $(compgen -W "$(__berth_names nodes)" -- "$cur") ) ;;
        pod)
            COMPREPLY=( $(compgen -W "$(__berth_names pods "\${ns_args[@]}")" -- "$cur") ) ;;
        context)
            if [[ "$sub" == use-context || "$sub" == delete-context || "$sub" == set-context ]]; then
                COMPREPLY=( $(compgen -W "$(__berth_contexts)" -- "$cur") )
            fi ;;
        shell) ;;
    esac
    return 0
}

complete -o default -F _berth berth
`;
}

export function zshScript(): string {
  const verbs = Object.keys(VERBS).sort();
  const flagCases = verbs.map((v) => `    ${v}) flags=(${flagsOf(v).join(' ')}) ;;`).join('\n');
  const subCases = verbs.filter((v) => VERBS[v]!.subcommands).map((v) => `    ${v}) subs=(${VERBS[v]!.subcommands!.join(' ')}) ;;`).join('\n');
  const argCases = verbs.map((v) => `    ${v}) argkind=${VERBS[v]!.args ?? 'none'} ;;`).join('\n');
  return `#compdef berth
# zsh completion for berth
#
# Load it in this shell:    source <(berth completion zsh)
# Or for every shell:       berth completion zsh > "\${fpath[1]}/_berth"

__berth_names() {
  local kind=$1; shift
  local out
  out=$(berth get "$kind" "$@" -o 'jsonpath={.items[*].metadata.name}' --request-timeout 3s 2>/dev/null)
  print -r -- $out
}

__berth_contexts() {
  berth config get-contexts --no-headers 2>/dev/null | awk '{ if ($1 == "*") print $2; else print $1 }'
}

_berth() {
  local -a kinds verbs flags subs positional ns_args
  local verb="" sub="" argkind=none cur prev w i
  kinds=(${kindWords().join(' ')})
  verbs=(${verbs.join(' ')})
  cur=\${words[CURRENT]}
  prev=\${words[CURRENT-1]}

  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    case $w in
      -n|--namespace) ns_args=(-n \${words[i+1]}); (( i++ )); continue ;;
      --namespace=*) ns_args=(-n \${w#--namespace=}); continue ;;
      -A|--all-namespaces) ns_args=(-A); continue ;;
      -o|--output|-l|--selector|-f|--filename|--context|-s|--server|--field-selector|--sort-by|--replicas|--timeout|--grace-period|--to-revision|--revision|--for|--types|--image|--cascade|-c|--container|--tail|--since)
        (( i++ )); continue ;;
      -*) continue ;;
    esac
    if [[ -z $verb ]]; then verb=$w; else positional+=($w); fi
  done

  case $prev in
    -n|--namespace) compadd -- \${(z)"$(__berth_names namespaces)"}; return ;;
    --context) compadd -- \${(f)"$(__berth_contexts)"}; return ;;
    -o|--output) compadd -S '' -- wide yaml json name jsonpath= jsonpath-file= custom-columns= custom-columns-file=; return ;;
    --cascade) compadd -- background foreground orphan; return ;;
    --dry-run) compadd -- none client server; return ;;
    --types) compadd -- Normal Warning; return ;;
    --for) compadd -- $kinds; return ;;
    -f|--filename) _files; return ;;
    -l|--selector|--field-selector|--sort-by|--replicas|--timeout|--grace-period|--to-revision|--revision|--image|-s|--server|--tail|--since) return ;;
  esac

  if [[ -z $verb ]]; then
    if [[ $cur == -* ]]; then compadd -- --help --version; else compadd -- $verbs; fi
    return
  fi

  case $verb in
${flagCases}
  esac
  case $verb in
${subCases}
  esac
  case $verb in
${argCases}
  esac

  if [[ $cur == -* ]]; then
    compadd -- $flags
    return
  fi

  if (( \${#subs} > 0 )); then
    if (( \${#positional} == 0 )); then compadd -- $subs; return; fi
    sub=\${positional[1]}
    positional=(\${positional[2,-1]})
  fi

  case $argkind in
    kind)
      if (( \${#positional} == 0 )); then
        if [[ $cur == */* ]]; then
          compadd -P "\${cur%%/*}/" -- \${(z)"$(__berth_names \${cur%%/*} $ns_args)"}
        else
          compadd -- $kinds
        fi
      elif [[ \${positional[1]} != */* ]]; then
        compadd -- \${(z)"$(__berth_names \${positional[1]%%,*} $ns_args)"}
      fi ;;
    deployment)
      if [[ $cur == */* ]]; then
        compadd -P "\${cur%%/*}/" -- \${(z)"$(__berth_names deployments $ns_args)"}
      elif (( \${#positional} == 0 )); then
        compadd -- deployment deployments deploy
      else
        compadd -- \${(z)"$(__berth_names deployments $ns_args)"}
      fi ;;
    node) compadd -- \${(z)"$(__berth_names nodes)"} ;;
    pod) compadd -- \${(z)"$(__berth_names pods $ns_args)"} ;;
    context)
      if [[ $sub == use-context || $sub == delete-context || $sub == set-context ]]; then
        compadd -- \${(f)"$(__berth_contexts)"}
      fi ;;
  esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _berth "$@"
else
  compdef _berth berth
fi
`;
}

export async function runCompletion(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { help: { type: 'bool', short: 'h' } });
  if (bool(f, 'help')) {
    io.write(COMPLETION_USAGE);
    return 0;
  }
  const shell = f._[0];
  if (shell === undefined) throw new CliError('Shell not specified.\nSee \'berth completion -h\' for help and examples');
  if (f._.length > 1) throw new CliError('Too many arguments. Expected only the shell type.');
  if (shell === 'bash') io.write(bashScript());
  else if (shell === 'zsh') io.write(zshScript());
  else throw new CliError(`Unsupported shell type "${shell}".`);
  return 0;
}

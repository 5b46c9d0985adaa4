#!/usr/bin/env bash
# Prepare this machine to run real pods: containerd (CRI), CNI, a local OCI registry and two
# images built offline from Debian's busybox-static. Idempotent: a second run with everything up
# only checks and returns (about a second). Run as root.
#
#   scripts/host-setup.sh          set up and start (or confirm running)
#   scripts/host-setup.sh --stop   stop what this script started and remove the pod network
#
# Environment:
#   BERTH_HOST_DIR       state directory (default /var/lib/berth-host)
#   BERTH_REGISTRY_ADDR  registry listen address (default 127.0.0.1:5000); set it when port 5000
#                        is already taken by something else
#
# Afterwards <state dir>/env holds BERTH_CRI_SOCKET and BERTH_REGISTRY for the agent and tests.
set -euo pipefail

DIR=${BERTH_HOST_DIR:-/var/lib/berth-host}
REG_ADDR=${BERTH_REGISTRY_ADDR:-127.0.0.1:5000}
REG_PORT=${REG_ADDR##*:}
REG_HOST_IP=${REG_ADDR%:*}
# Images are named by "localhost:PORT": containerd talks plain HTTP to localhost registries.
REGISTRY="localhost:${REG_PORT}"
SOCK="$DIR/containerd.sock"
CONTAINERD_CMD="containerd --config $DIR/containerd.toml"
REGISTRY_CMD="docker-registry serve $DIR/registry.yml"
BRIDGE=berth0
SUBNET=10.88.0.0/16
# Dual stack: every pod also gets an address from this ULA prefix (status.podIPs lists both).
SUBNET6=fd88:be27::/64
PACKAGES=(containerd runc containernetworking-plugins docker-registry skopeo busybox-static iproute2 iptables)
# Bump when the image recipe below changes, so existing layouts are rebuilt.
IMAGE_RECIPE=1

log() { printf 'host-setup: %s\n' "$*" >&2; }
die() { printf 'host-setup: error: %s\n' "$*" >&2; exit 1; }
# die, after showing the last lines of LOG (CI keeps only what this script prints).
die_log() {
  local log_file=$1
  shift
  printf 'host-setup: error: %s; last lines of %s:\n' "$*" "$log_file" >&2
  tail -n 20 "$log_file" 2>/dev/null | sed 's/^/  | /' >&2 || true
  exit 1
}

[[ $DIR != *[[:space:]]* && $DIR == /* ]] || die "BERTH_HOST_DIR='$DIR' must be an absolute path without spaces"
[[ $(id -u) -eq 0 ]] || die "must run as root (containerd, CNI and iptables need it)"
[[ $REG_PORT =~ ^[0-9]+$ && -n $REG_HOST_IP && $REG_HOST_IP != "$REG_ADDR" ]] \
  || die "BERTH_REGISTRY_ADDR=$REG_ADDR is not HOST:PORT"

# ---------------------------------------------------------------------------------------------
# small helpers

# True when PID exists and is not a zombie (an unreaped child of a PID 1 that does not reap).
proc_running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# True when the pid in FILE is alive and runs exactly CMD (guards against a pid reused after a
# reboot or crash, e.g. by a containerd of another state dir).
pid_alive() {
  local file=$1 cmd=$2 pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_running "$pid" || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline") " == "$cmd "* ]]
}

# Write stdin to FILE only when the content differs; exit status 0 means "changed".
write_if_changed() {
  local file=$1 tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$file"
  return 0
}

# Minimal HTTP/1.0 request over bash's /dev/tcp (curl may be absent on a fresh machine).
# Prints the response headers; status line first.
http_head() {
  local host=$1 port=$2 path=$3 accept=${4:-*/*}
  # shellcheck disable=SC2016 # expanded by the inner bash from its positional arguments
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "HEAD %s HTTP/1.0\r\nHost: %s:%s\r\nAccept: %s\r\n\r\n" "$2" "$0" "$1" "$3" >&3
    tr -d "\r" <&3
  ' "$host" "$port" "$path" "$accept" 2>/dev/null
}

registry_up() {
  http_head "$REG_HOST_IP" "$REG_PORT" /v2/ | head -1 | grep -q ' 200'
}

containerd_up() {
  [[ -S $SOCK ]] || return 1
  timeout 5 ctr --address "$SOCK" version >/dev/null 2>&1
}

port_in_use() {
  [[ -n $(ss -ltnH "sport = :$1" 2>/dev/null) ]]
}

# ---------------------------------------------------------------------------------------------
# --stop

remove_pod_network() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE" && log "removed bridge $BRIDGE"
  fi
  # portmap's chains: CNI-HOSTPORT-* plus one CNI-DN-* per pod with host ports. Drop the rules
  # that jump into them first, then flush and delete the chains.
  if command -v iptables >/dev/null; then
    local rules chains rule chain
    rules=$(iptables -w -t nat -S 2>/dev/null | grep -E '^-A .* -j (CNI-HOSTPORT-|CNI-DN-)' || true)
    while IFS= read -r rule; do
      [[ -n $rule ]] || continue
      # shellcheck disable=SC2086 # the rule is a list of arguments as iptables printed it
      eval "iptables -w -t nat ${rule/-A/-D}" || true
    done <<<"$rules"
    chains=$(iptables -w -t nat -S 2>/dev/null | awk '$1 == "-N" && ($2 ~ /^CNI-HOSTPORT-/ || $2 ~ /^CNI-DN-/) {print $2}' || true)
    for chain in $chains; do iptables -w -t nat -F "$chain" 2>/dev/null || true; done
    for chain in $chains; do iptables -w -t nat -X "$chain" 2>/dev/null || true; done
    [[ -z $chains ]] || log "removed nat chains: ${chains//$'\n'/ }"
  fi
  # Every pod is gone, so no address is in use any more.
  rm -rf "$DIR/cni-ipam"
}

stop_pidfile() {
  local file=$1 name=$2 pid i
  if pid_alive "$file" "$name"; then
    pid=$(<"$file")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      proc_running "$pid" || break
      sleep 0.1
    done
    if proc_running "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$file"
}

do_stop() {
  if pid_alive "$DIR/containerd.pid" "$CONTAINERD_CMD" && containerd_up; then
    # Kill the pods' processes (their shims outlive containerd otherwise) and delete the tasks.
    local ids id
    ids=$(ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null || true)
    for id in $ids; do ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    for id in $ids; do
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        ctr --address "$SOCK" -n k8s.io tasks delete "$id" >/dev/null 2>&1 && break
        sleep 0.2
      done
    done
  fi
  stop_pidfile "$DIR/containerd.pid" "$CONTAINERD_CMD"
  stop_pidfile "$DIR/registry.pid" "$REGISTRY_CMD"
  # Network namespaces of pods are bind mounts under the state dir (netns_mounts_under_state_dir).
  if [[ -d $DIR/state ]]; then
    awk -v d="$DIR/state/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  fi
  remove_pod_network
  rm -f "$DIR/env"
  log "stopped"
}

if [[ ${1:-} == --stop ]]; then
  do_stop
  exit 0
elif [[ $# -gt 0 ]]; then
  die "unknown argument '$1' (usage: host-setup.sh [--stop])"
fi

# ---------------------------------------------------------------------------------------------
# 1. packages

missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || echo "$p"
  done
}

missing=$(missing_packages)
if [[ -n $missing ]]; then
  log "installing: ${missing//$'\n'/ }"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get -o DPkg::Lock::Timeout=300 install -y "${PACKAGES[@]}"; }
  # A fresh machine may have no package lists yet; update once and retry.
  if ! apt_install >"/tmp/berth-host-setup-apt.log" 2>&1; then
    apt-get -o DPkg::Lock::Timeout=300 update >>"/tmp/berth-host-setup-apt.log" 2>&1 || true
    apt_install >>"/tmp/berth-host-setup-apt.log" 2>&1 \
      || die "apt-get install failed; see /tmp/berth-host-setup-apt.log"
  fi
  missing=$(missing_packages)
  [[ -z $missing ]] || die "still missing after apt-get: ${missing//$'\n'/ }"
fi
for bin in containerd ctr runc skopeo docker-registry ip iptables ss; do
  command -v "$bin" >/dev/null || die "$bin not found on PATH after installing packages"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/portmap && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] \
  || die "CNI plugins missing from /usr/lib/cni (package containernetworking-plugins)"
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (package busybox-static)"

# ---------------------------------------------------------------------------------------------
# 2. configuration files

mkdir -p "$DIR" "$DIR/registry" "$DIR/net.d" "$DIR/certs.d/$REGISTRY" "$DIR/cni-ipam" "$DIR/images"
chmod 700 "$DIR"

registry_changed=0
write_if_changed "$DIR/registry.yml" <<EOF && registry_changed=1
# Written by scripts/host-setup.sh. No auth section: the registry listens on loopback only.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/registry
  delete:
    enabled: true
http:
  addr: $REG_ADDR
EOF

containerd_changed=0
write_if_changed "$DIR/containerd.toml" <<EOF && containerd_changed=1
# Written by scripts/host-setup.sh.
version = 2
root = "$DIR/root"
state = "$DIR/state"

[grpc]
  address = "$SOCK"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REGISTRY/pause:latest"
  # Root here lacks CAP_SYS_RESOURCE: without this every RunPodSandbox fails.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$DIR/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$DIR/certs.d"
EOF

# Plain HTTP for the local registry, whatever port it is on.
write_if_changed "$DIR/certs.d/$REGISTRY/hosts.toml" <<EOF || true
server = "http://$REGISTRY"

[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF

# No default route in ipam: pods reach each other and this host, nothing beyond. Two ranges:
# an IPv4 and an IPv6 address per pod (dual stack).
write_if_changed "$DIR/net.d/10-berth.conflist" <<EOF || true
{
  "cniVersion": "1.0.0",
  "name": "berth",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "hairpinMode": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$DIR/cni-ipam",
        "ranges": [[{ "subnet": "$SUBNET" }], [{ "subnet": "$SUBNET6" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
EOF

# ---------------------------------------------------------------------------------------------
# 3. images (reproducible OCI layouts)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# Put FILE into LAYOUT's blob store; prints its digest.
add_blob() {
  local layout=$1 file=$2 d
  d=$(sha256_of "$file")
  mkdir -p "$layout/blobs/sha256"
  mv -f "$file" "$layout/blobs/sha256/$d"
  echo "$d"
}

build_rootfs_layer() {
  local work=$1 root=$1/rootfs applet
  rm -rf "$root"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
  cp "$BUSYBOX" "$root/bin/busybox"
  while IFS= read -r applet; do
    [[ -n $applet && $applet != busybox && $applet != */* ]] || continue
    ln -sf busybox "$root/bin/$applet"
  done < <("$BUSYBOX" --list)
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
  # Fixed modes so the layer does not depend on the caller's umask.
  find "$root" -type d -exec chmod 0755 {} +
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
  chmod 0755 "$root/bin/busybox"
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  (cd "$root" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
    -cf "$work/layer.tar" bin dev etc proc root sys tmp)
}

# Write an OCI image layout at LAYOUT from the layer in WORK and the config's "config" JSON.
write_layout() {
  local layout=$1 work=$2 image_config=$3 arch diff_id layer_digest layer_size cfg_digest cfg_size man_digest man_size
  rm -rf "$layout"
  mkdir -p "$layout/blobs/sha256"
  arch=$(dpkg --print-architecture)
  diff_id=$(sha256_of "$work/layer.tar")
  gzip -n -9 -c "$work/layer.tar" >"$work/layer.tar.gz"
  layer_size=$(size_of "$work/layer.tar.gz")
  layer_digest=$(add_blob "$layout" "$work/layer.tar.gz")
  printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"berth scripts/host-setup.sh"}]}' \
    "$arch" "$image_config" "$diff_id" >"$work/config.json"
  cfg_size=$(size_of "$work/config.json")
  cfg_digest=$(add_blob "$layout" "$work/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cfg_digest" "$cfg_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
  man_size=$(size_of "$work/manifest.json")
  man_digest=$(add_blob "$layout" "$work/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
    "$man_digest" "$man_size" >"$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  echo "sha256:$man_digest" >"$layout/manifest-digest"
}

PATH_ENV='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
recipe_key="recipe=$IMAGE_RECIPE busybox=$(sha256_of "$BUSYBOX") arch=$(dpkg --print-architecture)"
if [[ ! -f $DIR/images/stamp || $(<"$DIR/images/stamp") != "$recipe_key" \
  || ! -f $DIR/images/busybox/manifest-digest || ! -f $DIR/images/pause/manifest-digest ]]; then
  log "building images busybox:latest and pause:latest"
  work=$(mktemp -d "$DIR/images/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  build_rootfs_layer "$work"
  # Both images share the one layer (write_layout only reads layer.tar).
  write_layout "$DIR/images/busybox" "$work" "{$PATH_ENV,\"Cmd\":[\"sh\"]}"
  write_layout "$DIR/images/pause" "$work" "{$PATH_ENV,\"Entrypoint\":[\"/bin/sleep\",\"inf\"]}"
  rm -rf "$work"
  trap - EXIT
  echo "$recipe_key" >"$DIR/images/stamp"
fi

# ---------------------------------------------------------------------------------------------
# 4. registry

if [[ $registry_changed == 1 ]] && pid_alive "$DIR/registry.pid" "$REGISTRY_CMD"; then
  log "registry config changed; restarting it"
  stop_pidfile "$DIR/registry.pid" "$REGISTRY_CMD"
fi
if ! pid_alive "$DIR/registry.pid" "$REGISTRY_CMD"; then
  if port_in_use "$REG_PORT"; then
    die "port $REG_PORT is already in use by another process (not this script's registry): set BERTH_REGISTRY_ADDR=127.0.0.1:PORT to a free port"
  fi
  log "starting docker-registry on $REG_ADDR"
  # shellcheck disable=SC2086 # REGISTRY_CMD is the command and its arguments (no spaces in DIR)
  setsid nohup $REGISTRY_CMD </dev/null >>"$DIR/registry.log" 2>&1 &
  echo $! >"$DIR/registry.pid"
fi
for ((i = 0; ; i++)); do
  registry_up && break
  # Only "alive", not the command check of pid_alive: a child started a moment ago may still be
  # in setsid or nohup, before it execs the registry.
  proc_running "$(<"$DIR/registry.pid")" || die_log "$DIR/registry.log" "docker-registry exited"
  ((i < 100)) || die_log "$DIR/registry.log" "docker-registry did not answer GET /v2/ on $REG_ADDR within 10 s"
  sleep 0.1
done

# Push unless the registry already holds exactly this manifest.
for name in busybox pause; do
  want=$(<"$DIR/images/$name/manifest-digest")
  have=$(http_head "$REG_HOST_IP" "$REG_PORT" "/v2/$name/manifests/latest" application/vnd.oci.image.manifest.v1+json \
    | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
  if [[ $have != "$want" ]]; then
    log "pushing $REGISTRY/$name:latest"
    skopeo copy --quiet --dest-tls-verify=false "oci:$DIR/images/$name:latest" "docker://$REGISTRY/$name:latest" \
      || die "skopeo could not push $name to $REGISTRY"
  fi
done

# ---------------------------------------------------------------------------------------------
# 5. containerd

if [[ $containerd_changed == 1 ]] && pid_alive "$DIR/containerd.pid" "$CONTAINERD_CMD"; then
  log "containerd config changed; restarting it"
  stop_pidfile "$DIR/containerd.pid" "$CONTAINERD_CMD"
fi
if ! pid_alive "$DIR/containerd.pid" "$CONTAINERD_CMD"; then
  if containerd_up; then
    die "a containerd not started by this script already serves $SOCK; stop it or use another BERTH_HOST_DIR"
  fi
  rm -f "$SOCK"
  log "starting containerd (socket $SOCK)"
  # shellcheck disable=SC2086 # as above
  setsid nohup $CONTAINERD_CMD </dev/null >>"$DIR/containerd.log" 2>&1 &
  echo $! >"$DIR/containerd.pid"
fi
for ((i = 0; ; i++)); do
  containerd_up && break
  proc_running "$(<"$DIR/containerd.pid")" || die_log "$DIR/containerd.log" "containerd exited"
  ((i < 300)) || die_log "$DIR/containerd.log" "containerd did not answer on $SOCK within 30 s"
  sleep 0.1
done

write_if_changed "$DIR/env" <<EOF || true
BERTH_CRI_SOCKET=$SOCK
BERTH_REGISTRY=$REGISTRY
BERTH_POD_SUBNET=$SUBNET
BERTH_POD_SUBNET6=$SUBNET6
EOF
log "ready: BERTH_CRI_SOCKET=$SOCK BERTH_REGISTRY=$REGISTRY (env in $DIR/env)"

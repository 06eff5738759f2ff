#!/usr/bin/env bash
# Stops the dvm test cluster that up.sh started and cleans up after it: only the processes in its
# pid files (and the container shims and containers of its own containerd), the mounts under its
# state dir, its pods' network namespaces, its iptables chains, the bridge, its loop devices and
# the kernel settings it changed. Idempotent. `--purge` also deletes the state dir (etcd data,
# certificates, images, volumes), so the next up.sh starts from nothing.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) == 0 ]] || die "down.sh needs root"
lock_cluster
purge=false
case ${1:-} in
  --purge) purge=true ;;
  "") ;;
  *) die "usage: down.sh [--purge]" ;;
esac
if [[ ! -d $STATE ]]; then
  log "no state dir $STATE: nothing to do"
  exit 0
fi

TASKS=$CTRD/state/io.containerd.runtime.v2.task

# Network namespaces of our pod sandboxes, from the OCI specs of containerd's tasks: gathered before
# anything stops, since the bundles go away with the tasks.
netns_paths() {
  [[ -d $TASKS ]] || return 0
  grep -ho '"path":"/var/run/netns/[^"]*"\|"path":"/run/netns/[^"]*"' "$TASKS"/*/*/config.json 2>/dev/null |
    sed -e 's/^"path":"//' -e 's/"$//' | sort -u
}
mapfile -t pod_netns < <(netns_paths)

# Processes whose command line names our containerd socket: its shims.
our_shims() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    { tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null | grep -qF -- "-address $CTRD_SOCK " && echo "$pid"
  done
  return 0
}

kill_containers() {
  local root=$RUNC_ROOT/k8s.io id
  [[ -d $root ]] || return 0
  for id in $(runc --root "$root" list -q 2>/dev/null); do
    runc --root "$root" kill --all "$id" KILL >/dev/null 2>&1 || true
  done
}

stopped_any=false
for c in cluster-controllers haproxy dnsmasq kube-proxy kube-scheduler kube-controller-manager; do
  component_alive "$c" && stopped_any=true
  stop_component "$c" 10
done
component_alive kubelet && stopped_any=true
stop_component kubelet 20
# Containers die while containerd still runs, so it sees the exits and lets the shims go.
kill_containers
if component_alive containerd; then
  stopped_any=true
  for _ in $(seq 1 30); do [[ -z $(our_shims) ]] && break; sleep 0.1; done
fi
stop_component containerd 15
for pid in $(our_shims); do kill -KILL "$pid" 2>/dev/null || true; done
if [[ -d $RUNC_ROOT/k8s.io ]]; then
  for id in $(runc --root "$RUNC_ROOT/k8s.io" list -q 2>/dev/null); do
    runc --root "$RUNC_ROOT/k8s.io" delete --force "$id" >/dev/null 2>&1 || true
  done
fi
for c in kube-apiserver etcd; do
  component_alive "$c" && stopped_any=true
  stop_component "$c" 15
done
$stopped_any && log "stopped the cluster's processes"

# Mounts under the state dir (pod volumes, container root filesystems, sandbox /dev/shm), deepest first.
unmount_under() {
  local prefix=$1 mp
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v p="$prefix" '{ gsub(/\\040/, " ", $5); if ($5 == p || index($5, p "/") == 1) print $5 }' /proc/self/mountinfo | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
    ((${#mounts[@]})) || return 0
    for mp in "${mounts[@]}"; do umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; done
  done
}
unmount_under "$STATE"
for ns in "${pod_netns[@]}"; do
  [[ -e $ns ]] || continue
  umount "$ns" 2>/dev/null || umount -l "$ns" 2>/dev/null || true
  rm -f "$ns"
done
# The IP allocations of pods that no longer exist, and libcni's cached results for our network.
rm -rf "${CNI_DIR:?}/ipam"
rm -f /var/lib/cni/results/dvm-*

# Loop devices on our Block volumes' backing files.
for img in "$VOLUMES"/*.img; do
  [[ -f $img ]] || continue
  for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do losetup -d "$dev" 2>/dev/null || true; done
done

# iptables: kube-proxy's own cleanup, then every KUBE-* chain (kubelet's too) and ours.
if [[ -x $BIN/kube-proxy ]]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
clean_chains() { # iptables|ip6tables
  local ipt=$1 table rule chain
  command -v "$ipt" >/dev/null || return 0
  for table in filter nat mangle raw; do
    "$ipt" -w -t "$table" -S >/dev/null 2>&1 || continue
    while read -r rule; do
      eval "$ipt -w -t $table -D ${rule#-A }" 2>/dev/null || true
    done < <("$ipt" -w -t "$table" -S | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|DVM-)')
    mapfile -t chains < <("$ipt" -w -t "$table" -S | awk '/^-N (KUBE-|DVM-)/ { print $2 }')
    for chain in "${chains[@]}"; do "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in "${chains[@]}"; do "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true; done
  done
}
clean_chains iptables
clean_chains ip6tables

if ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link delete "$BRIDGE"
  log "removed bridge $BRIDGE"
fi

if [[ -f $RUN/sysctl.orig ]]; then
  while IFS='=' read -r key value; do
    [[ -n $key && -n $value ]] && sysctl -qw "$key=$value" 2>/dev/null || true
  done <"$RUN/sysctl.orig"
  rm -f "$RUN/sysctl.orig"
fi

if $purge; then
  unmount_under "$STATE"
  if awk -v p="$STATE" 'index($5, p "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    die "something is still mounted under $STATE; not deleting it"
  fi
  rm -rf --one-file-system "${STATE:?}"
  # The kubelet's device-plugin socket has a fixed path.
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
  # The kubelet's pod logs (its log path is fixed): only the pods of this node ever lived here.
  if [[ -d /var/log/pods ]]; then
    find /var/log/containers -maxdepth 1 -type l -lname '/var/log/pods/*' -delete 2>/dev/null || true
    rm -rf /var/log/pods/*
  fi
  log "purged $STATE"
fi
log "down"

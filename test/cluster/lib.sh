# Shared by up.sh and down.sh (sourced): where things live, the addresses, and process helpers.
# shellcheck shell=bash

CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${DVM_CLUSTER_DIR:-/var/lib/dvm-test-cluster}
BIN=$STATE/bin
PKI=$STATE/pki
RUN=$STATE/run
LOGS=$STATE/logs
CONF=$STATE/config
CTRD=$STATE/containerd
CTRD_SOCK=$CTRD/containerd.sock
RUNC_ROOT=$CTRD/runc
CNI_DIR=$STATE/cni
KUBELET_DIR=$STATE/kubelet
VOLUMES=$STATE/volumes
DNS_DIR=$STATE/dns
ROUTER_DIR=$STATE/router
IMAGES_DIR=$STATE/images
KUBECONFIG_ADMIN=$STATE/admin.kubeconfig

BRIDGE=dvm0
NODE_NAME=dvm-node
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
POD_RANGE_START=10.244.0.10
POD_RANGE_END=10.244.0.199
LB_POOL_START=10.244.0.200
LB_POOL_END=10.244.0.250
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
API_PORT=6443
API_SERVER=https://$NODE_IP:$API_PORT
ETCD_CLIENT=127.0.0.1:12379
ETCD_PEER=127.0.0.1:12380
CLUSTER_DOMAIN=cluster.local
APPS_DOMAIN=apps.dvm.test
ROUTER_IP=$NODE_IP
STORAGE_CLASS=dvm-local
PROVISIONER=dvm.test/local
PAUSE_IMAGE=localhost/dvm-pause:1
PROBE_IMAGE=localhost/dvm-probe:1

# Everything up.sh starts, in start order (down.sh stops them in reverse).
COMPONENTS=(etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy dnsmasq haproxy cluster-controllers)

K8S_SRC=${DVM_K8S_DIR:-}
if [[ -z $K8S_SRC ]]; then
  for candidate in "$CLUSTER_SRC/../../../shared/k8s" /work/shared/k8s; do
    if [[ -f $candidate/kubelet.xz ]]; then K8S_SRC=$(cd "$candidate" && pwd); break; fi
  done
fi

log() { printf '[dvm-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctr() { command ctr --address "$CTRD_SOCK" "$@"; }

# A pid file holds "PID STARTTIME" (field 22 of /proc/PID/stat), so a recycled pid is not ours.
proc_start_time() { [[ -r /proc/$1/stat ]] && sed -E 's/^.*\) //' "/proc/$1/stat" | cut -d' ' -f20; }

# Prints the pid of a running component of ours, or fails.
component_pid() {
  local file=$RUN/$1.pid pid start
  [[ -f $file ]] || return 1
  read -r pid start <"$file" || return 1
  [[ -n $pid && -d /proc/$pid ]] || return 1
  [[ $(proc_start_time "$pid") == "$start" ]] || return 1
  pid_running "$pid" || return 1
  echo "$pid"
}

component_alive() { component_pid "$1" >/dev/null; }

# start_component NAME CMD... : runs CMD in its own session, output appended to logs/NAME.log.
start_component() {
  local name=$1
  shift
  if component_alive "$name"; then return 0; fi
  mkdir -p "$RUN" "$LOGS"
  printf '\n===== %s starting %s\n' "$(date -Is)" "$name" >>"$LOGS/$name.log"
  # Not a process group leader (no job control here), so setsid execs in place: $! is the daemon.
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  local pid=$! start=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    start=$(proc_start_time "$pid") && [[ -n $start ]] && break
    sleep 0.05
  done
  [[ -n $start ]] || die "$name exited at once; see $LOGS/$name.log"
  echo "$pid $start" >"$RUN/$name.pid"
}

# True while PID runs (a zombie, which our reparented daemons are until PID 1 reaps them, is gone).
pid_running() { [[ -r /proc/$1/stat && $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# stop_component NAME [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10).
stop_component() {
  local name=$1 seconds=${2:-10} pid i
  if pid=$(component_pid "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < seconds * 10; i++)); do
      pid_running "$pid" || break
      sleep 0.1
    done
    if pid_running "$pid"; then
      log "$name did not stop in ${seconds}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$RUN/$name.pid"
}

# One up.sh/down.sh at a time per state dir (fd 9; daemons are started without it). down.sh run by
# up.sh inherits the lock.
lock_cluster() {
  [[ ${DVM_CLUSTER_LOCK_HELD:-} == "$STATE" ]] && return 0
  mkdir -p /run/lock
  exec 9>"/run/lock/dvm-test-cluster-$(printf %s "$STATE" | md5sum | cut -c1-12).lock"
  flock -w 600 9 || die "another up.sh or down.sh still runs (lock held for 10 minutes)"
  export DVM_CLUSTER_LOCK_HELD=$STATE
}

# Waits until CMD succeeds: wait_for SECONDS WHAT CMD...
wait_for() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# put_file FILE < content: replaces FILE only when the content differs (atomically, mode 0644 or
# 0600 for kubeconfigs): running daemons watch some of these files (kube-proxy exits when its
# config changes; containerd reloads CNI config on every write).
put_file() {
  local file=$1 mode=${2:-644} tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
  else
    chmod "$mode" "$tmp"
    mv "$tmp" "$file"
  fi
}

#!/usr/bin/env bash
# Brings up (or checks) the dvm single-node Kubernetes test cluster and prints the admin kubeconfig
# path on stdout (progress goes to stderr). Idempotent: when everything is already up and the node
# is Ready it returns at once; otherwise it starts whatever is missing. As root; no stdin needed.
# State in ${DVM_CLUSTER_DIR:-/var/lib/dvm-test-cluster}. See test/cluster/README.md.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) == 0 ]] || die "up.sh needs root"
lock_cluster
T0=$EPOCHREALTIME
elapsed() { awk "BEGIN { printf \"%.1fs\", $EPOCHREALTIME - $T0 }"; }

node_ready() {
  [[ $(kubectl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

# DVM_CLUSTER_IMAGES: image archives (colon-separated) to import too, e.g. the agent image; each is
# imported again only when its size or mtime changed.
extra_image_keys() {
  local archive
  IFS=: read -r -a archives <<<"${DVM_CLUSTER_IMAGES:-}"
  for archive in "${archives[@]}"; do
    [[ -n $archive ]] || continue
    [[ -f $archive ]] || die "DVM_CLUSTER_IMAGES: no such archive $archive"
    echo "$(stat -c '%s %Y' "$archive") $archive"
  done
}
extra_images_current() {
  local key
  while read -r key; do
    [[ -z $key ]] || grep -qxF "$key" "$IMAGES_DIR/extra.imported" 2>/dev/null || return 1
  done < <(extra_image_keys)
}

healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do component_alive "$c" || return 1; done
  [[ -f $KUBECONFIG_ADMIN && -f $STATE/cluster.json ]] || return 1
  # The pause/probe image is rebuilt (and re-imported) when its sources changed.
  [[ -z $(find "$CLUSTER_SRC/pause" -newer "$IMAGES_DIR/dvm-pause.tar" 2>/dev/null) && -f $IMAGES_DIR/dvm-pause.tar ]] || return 1
  extra_images_current || return 1
  ip -4 addr show dev "$BRIDGE" 2>/dev/null | grep -q "inet $NODE_IP/" || return 1
  kubectl get --raw /readyz >/dev/null 2>&1 || return 1
  node_ready
}

if [[ -x $BIN/kubectl ]] && healthy; then
  log "already up and healthy"
  echo "$KUBECONFIG_ADMIN"
  exit 0
fi

# After a crash, a reboot or the end of a session nothing of ours runs, but mounts, pod network
# namespaces, iptables chains and the bridge may be left: clean those up first (keeps all state).
any_alive=false
for c in "${COMPONENTS[@]}"; do component_alive "$c" && any_alive=true; done
if ! $any_alive && { compgen -G "$RUN/*.pid" >/dev/null || ip link show "$BRIDGE" >/dev/null 2>&1; }; then
  log "cleaning up after a cluster that no longer runs"
  "$CLUSTER_SRC/down.sh" >&2
fi

# ---- packages ------------------------------------------------------------------------------------
PACKAGES=(containerd runc etcd-server containernetworking-plugins iptables conntrack dnsmasq-base haproxy
  xz-utils gcc libc6-dev openssl iproute2 util-linux procps kmod)
"$CLUSTER_SRC/../../tools/apt-install.sh" --no-recommends --log up.sh "${PACKAGES[@]}" || die "cannot install ${PACKAGES[*]}"
command -v node >/dev/null || die "node (>= 20) is needed for the cluster's controllers"

mkdir -p "$BIN" "$PKI" "$RUN" "$LOGS" "$CONF" "$CTRD" "$CNI_DIR/net.d" "$CNI_DIR/ipam" "$KUBELET_DIR" \
  "$VOLUMES" "$DNS_DIR" "$ROUTER_DIR" "$IMAGES_DIR" "$STATE/etcd"
chmod 700 "$PKI" "$STATE/etcd"

# ---- binaries ------------------------------------------------------------------------------------
pids=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  if [[ ! -x $BIN/$b ]] || [[ -n $K8S_SRC && $K8S_SRC/$b.xz -nt $BIN/$b ]]; then
    [[ -n $K8S_SRC && -f $K8S_SRC/$b.xz ]] || die "no $b: set DVM_K8S_DIR to the folder with the Kubernetes .xz binaries"
    (xz -dc "$K8S_SRC/$b.xz" >"$BIN/$b.tmp" && chmod 755 "$BIN/$b.tmp" && mv "$BIN/$b.tmp" "$BIN/$b") &
    pids+=($!)
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || die "unpacking a Kubernetes binary failed"; done

# ---- certificates --------------------------------------------------------------------------------
if [[ ! -f $PKI/ca.crt ]]; then
  log "making the cluster CA and certificates"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 3650 -subj "/CN=dvm-test-cluster-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
fi
gen_cert() { # NAME CN ORG EXTENDED_KEY_USAGE [SANS]
  local name=$1 cn=$2 org=$3 eku=$4 sans=${5:-} subj
  [[ -f $PKI/$name.crt && -f $PKI/$name.key ]] && return 0
  subj="/CN=$cn"
  [[ -n $org ]] && subj="/O=$org/CN=$cn"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
gen_cert apiserver kube-apiserver "" serverAuth \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1"
gen_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
gen_cert admin dvm-admin system:masters clientAuth
gen_cert controller-manager system:kube-controller-manager "" clientAuth
gen_cert scheduler system:kube-scheduler "" clientAuth
gen_cert kube-proxy system:kube-proxy "" clientAuth
gen_cert kubelet "system:node:$NODE_NAME" system:nodes clientAuth
gen_cert kubelet-serving "system:node:$NODE_NAME" system:nodes serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
if [[ ! -f $PKI/sa.key ]]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
chmod 600 "$PKI"/*.key

write_kubeconfig() { # FILE USER CERT_NAME
  put_file "$1" 600 <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: dvm-test
    cluster:
      server: $API_SERVER
      certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
  - name: $2
    user:
      client-certificate-data: $(base64 -w0 "$PKI/$3.crt")
      client-key-data: $(base64 -w0 "$PKI/$3.key")
contexts:
  - name: dvm-test
    context: {cluster: dvm-test, user: $2, namespace: default}
current-context: dvm-test
EOF
}
write_kubeconfig "$KUBECONFIG_ADMIN" dvm-admin admin
write_kubeconfig "$CONF/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
write_kubeconfig "$CONF/scheduler.kubeconfig" system:kube-scheduler scheduler
write_kubeconfig "$CONF/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
write_kubeconfig "$CONF/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet

# ---- host network --------------------------------------------------------------------------------
[[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null || true
[[ -d /proc/sys/net/bridge ]] || die "the kernel has no br_netfilter (net.bridge sysctls)"
# The kubelet and kube-proxy change a few kernel settings; down.sh puts the originals back.
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
if [[ ! -f $RUN/sysctl.orig ]]; then
  for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s" 2>/dev/null)"; done >"$RUN/sysctl.orig"
fi
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
ip -4 addr show dev "$BRIDGE" | grep -q "inet $NODE_IP/24" || ip addr add "$NODE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Service addresses stay on the bridge (with the node address as source), never via the default route.
ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
# Pods talk only to this machine: nothing is forwarded between the bridge and any other interface.
iptables -w -N DVM-FORWARD 2>/dev/null || iptables -w -F DVM-FORWARD
iptables -w -A DVM-FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j REJECT
iptables -w -A DVM-FORWARD -o "$BRIDGE" ! -i "$BRIDGE" -j REJECT
iptables -w -C FORWARD -j DVM-FORWARD 2>/dev/null || iptables -w -I FORWARD 1 -j DVM-FORWARD

# ---- configuration files -------------------------------------------------------------------------
put_file "$CTRD/config.toml" <<EOF
# containerd for the dvm test cluster only: own root, state, socket and runc root.
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
        Root = "$RUNC_ROOT"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_DIR/net.d"
    max_conf_num = 1
EOF

put_file "$CNI_DIR/net.d/10-dvm.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "dvm",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "isDefaultGateway": true,
      "hairpinMode": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_DIR/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP", "rangeStart": "$POD_RANGE_START", "rangeEnd": "$POD_RANGE_END"}]]
      }
    }
  ]
}
EOF

echo "nameserver $NODE_IP" | put_file "$CONF/resolv.conf"
put_file "$CONF/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
clusterDNS: [$NODE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $CONF/resolv.conf
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
maxPods: 110
containerLogMaxSize: 10Mi
EOF

put_file "$CONF/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CONF/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$POD_CIDR]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {minSyncPeriod: 200ms, syncPeriod: 30s}
EOF

touch "$DNS_DIR/hosts"
put_file "$DNS_DIR/dnsmasq.conf" <<EOF
# Cluster DNS of the dvm test cluster: Services from $DNS_DIR/hosts (written by controllers.mjs,
# re-read on SIGHUP) and the apps wildcard. Nothing is forwarded anywhere.
port=53
listen-address=$NODE_IP
bind-interfaces
user=root
pid-file=
no-resolv
no-hosts
no-negcache
addn-hosts=$DNS_DIR/hosts
local=/$CLUSTER_DOMAIN/
local=/svc/
address=/$APPS_DOMAIN/$ROUTER_IP
log-facility=-
EOF

CONTROLLER_ENV=(DVM_API_SERVER="$API_SERVER" DVM_CA="$PKI/ca.crt" DVM_CERT="$PKI/admin.crt" DVM_KEY="$PKI/admin.key"
  DVM_NODE_NAME="$NODE_NAME" DVM_CLUSTER_DOMAIN="$CLUSTER_DOMAIN" DVM_APPS_DOMAIN="$APPS_DOMAIN" DVM_ROUTER_IP="$ROUTER_IP"
  DVM_PROVISIONER="$PROVISIONER" DVM_BRIDGE="$BRIDGE" DVM_LB_START="$LB_POOL_START" DVM_LB_END="$LB_POOL_END"
  DVM_DNS_HOSTS="$DNS_DIR/hosts" DVM_DNS_PIDFILE="$RUN/dnsmasq.pid" DVM_HAPROXY_CFG="$ROUTER_DIR/haproxy.cfg"
  DVM_HAPROXY_PIDFILE="$RUN/haproxy.pid" DVM_VOLUMES="$VOLUMES")
[[ -f $ROUTER_DIR/haproxy.cfg ]] || env "${CONTROLLER_ENV[@]}" node "$CLUSTER_SRC/controllers.mjs" haproxy-config "$ROUTER_DIR/haproxy.cfg"

put_file "$STATE/cluster.json" <<EOF
{
  "stateDir": "$STATE",
  "kubeconfig": "$KUBECONFIG_ADMIN",
  "kubectlPath": "$BIN/kubectl",
  "apiServer": "$API_SERVER",
  "nodeName": "$NODE_NAME",
  "nodeIP": "$NODE_IP",
  "podCIDR": "$POD_CIDR",
  "serviceCIDR": "$SERVICE_CIDR",
  "clusterDomain": "$CLUSTER_DOMAIN",
  "dnsServer": "$NODE_IP",
  "appsDomain": "$APPS_DOMAIN",
  "routerAddress": "$ROUTER_IP",
  "routerPort": 443,
  "loadBalancerPool": ["$LB_POOL_START", "$LB_POOL_END"],
  "storageClass": "$STORAGE_CLASS",
  "provisioner": "$PROVISIONER",
  "volumesDir": "$VOLUMES",
  "hostPathAnnotation": "dvm.test/host-path",
  "containerdSocket": "$CTRD_SOCK",
  "pauseImage": "$PAUSE_IMAGE",
  "probeImage": "$PROBE_IMAGE"
}
EOF

# ---- etcd, containerd, API server ----------------------------------------------------------------
start_component etcd "$(command -v etcd)" --name dvm --data-dir "$STATE/etcd" \
  --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
  --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
  --initial-cluster "dvm=http://$ETCD_PEER" --initial-cluster-state new \
  --logger zap --log-level warn --snapshot-count 10000 --quota-backend-bytes 4294967296
start_component containerd "$(command -v containerd)" --config "$CTRD/config.toml"

# The pause/probe image: built from test/cluster/pause, re-imported when its archive changes.
image_tar=$IMAGES_DIR/dvm-pause.tar
("$CLUSTER_SRC/pause/build-image.sh" "$image_tar.new" && { cmp -s "$image_tar.new" "$image_tar" || mv "$image_tar.new" "$image_tar"; } && rm -f "$image_tar.new" && touch "$image_tar") \
  >>"$LOGS/images.log" 2>&1 &
image_build=$!

etcd_healthy() {
  local reply
  exec 3<>"/dev/tcp/${ETCD_CLIENT%:*}/${ETCD_CLIENT#*:}" || return 1
  printf 'GET /health HTTP/1.0\r\n\r\n' >&3
  reply=$(cat <&3)
  exec 3<&-
  [[ $reply == *'"health":"true"'* ]]
}
wait_for 60 etcd etcd_healthy || die "etcd is not healthy; see $LOGS/etcd.log"
start_component kube-apiserver "$BIN/kube-apiserver" \
  --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$API_PORT" \
  --etcd-servers="http://$ETCD_CLIENT" \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction --allow-privileged=true --profiling=false --event-ttl=1h

wait "$image_build" || die "building the pause image failed; see $LOGS/images.log"
wait_for 30 containerd ctr version || die "containerd does not answer; see $LOGS/containerd.log"
imported_digest=$(sha256sum "$image_tar" | cut -d' ' -f1)
if [[ $(cat "$IMAGES_DIR/dvm-pause.imported" 2>/dev/null) != "$imported_digest" ]] ||
  ! ctr -n k8s.io images ls -q | grep -qx "$PAUSE_IMAGE" || ! ctr -n k8s.io images ls -q | grep -qx "$PROBE_IMAGE"; then
  log "importing $PAUSE_IMAGE and $PROBE_IMAGE"
  ctr -n k8s.io images import "$image_tar" >>"$LOGS/images.log" 2>&1 || die "ctr images import failed; see $LOGS/images.log"
  echo "$imported_digest" >"$IMAGES_DIR/dvm-pause.imported"
fi

while read -r size mtime archive; do
  [[ -n ${archive:-} ]] || continue
  key="$size $mtime $archive"
  grep -qxF "$key" "$IMAGES_DIR/extra.imported" 2>/dev/null && continue
  log "importing $archive"
  ctr -n k8s.io images import "$archive" >>"$LOGS/images.log" 2>&1 || die "ctr images import $archive failed; see $LOGS/images.log"
  { grep -vF " $archive" "$IMAGES_DIR/extra.imported" 2>/dev/null || true; echo "$key"; } >"$IMAGES_DIR/extra.imported.new"
  mv "$IMAGES_DIR/extra.imported.new" "$IMAGES_DIR/extra.imported"
done < <(extra_image_keys)

wait_for 90 kube-apiserver kubectl get --raw /readyz || die "the API server is not ready; see $LOGS/kube-apiserver.log"
log "API server ready ($(elapsed))"

# ---- the rest ------------------------------------------------------------------------------------
start_component kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$CONF/controller-manager.kubeconfig" --authentication-kubeconfig="$CONF/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$CONF/controller-manager.kubeconfig" --bind-address=127.0.0.1 --leader-elect=false \
  --controllers='*,-nodeipam,-service,-route,-cloud-node-lifecycle' \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" --use-service-account-credentials=true \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
start_component kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$CONF/scheduler.kubeconfig" --authentication-kubeconfig="$CONF/scheduler.kubeconfig" \
  --authorization-kubeconfig="$CONF/scheduler.kubeconfig" --bind-address=127.0.0.1 --leader-elect=false --profiling=false
start_component kubelet "$BIN/kubelet" --config="$CONF/kubelet.yaml" --kubeconfig="$CONF/kubelet.kubeconfig" \
  --container-runtime-endpoint="unix://$CTRD_SOCK" --root-dir="$KUBELET_DIR" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --pod-infra-container-image="$PAUSE_IMAGE"
start_component kube-proxy "$BIN/kube-proxy" --config="$CONF/kube-proxy.yaml"
start_component dnsmasq "$(command -v dnsmasq)" --keep-in-foreground --conf-file="$DNS_DIR/dnsmasq.conf"
start_component haproxy "$(command -v haproxy)" -W -db -f "$ROUTER_DIR/haproxy.cfg"

kubectl apply -f "$CLUSTER_SRC/manifests/crds.yaml" >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/routes.route.openshift.io crd/ingresses.config.openshift.io >/dev/null
sed -e "s|@APPS_DOMAIN@|$APPS_DOMAIN|g" -e "s|@STORAGE_CLASS@|$STORAGE_CLASS|g" -e "s|@PROVISIONER@|$PROVISIONER|g" \
  "$CLUSTER_SRC/manifests/cluster.yaml.in" | kubectl apply -f - >/dev/null
start_component cluster-controllers env "${CONTROLLER_ENV[@]}" "$(command -v node)" "$CLUSTER_SRC/controllers.mjs"

wait_for 120 node node_ready || die "node $NODE_NAME is not Ready; see $LOGS/kubelet.log"
log "node $NODE_NAME Ready ($(elapsed))"

# ---- a pod runs, resolves a Service name and reaches the API through its Service -----------------
check=dvm-cluster-check
kubectl delete pod "$check" --ignore-not-found --wait=true --timeout=30s >/dev/null 2>&1 || true
pod_manifest() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $check, namespace: default}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  containers:
    - name: probe
      image: $PROBE_IMAGE
      imagePullPolicy: IfNotPresent
      args: [echo, dvm-cluster-check ok, --, resolve, kubernetes.default, --, connect, kubernetes.default.svc, "443", "0"]
EOF
}
# The default ServiceAccount appears a moment after the controller manager starts.
created=""
for _ in $(seq 1 300); do
  if created=$(pod_manifest | kubectl create -f - 2>&1); then break; fi
  sleep 0.2
done
[[ $created == *created* ]] || die "cannot create the check pod: $created"
phase=""
for _ in $(seq 1 300); do
  phase=$(kubectl get pod "$check" -o 'jsonpath={.status.phase}' 2>/dev/null || true)
  [[ $phase == Succeeded || $phase == Failed ]] && break
  sleep 0.2
done
output=$(kubectl logs "$check" 2>&1 || true)
if [[ $phase != Succeeded || $output != *"dvm-cluster-check ok"* || $output != *"$KUBERNETES_SVC_IP"* || $output != *connected* ]]; then
  kubectl describe pod "$check" >&2 || true
  die "the check pod did not succeed (phase '$phase'): $output"
fi
kubectl delete pod "$check" --wait=false >/dev/null 2>&1 || true
log "cluster up ($(elapsed)): a pod ran, resolved kubernetes.default and reached the API Service"
echo "$KUBECONFIG_ADMIN"

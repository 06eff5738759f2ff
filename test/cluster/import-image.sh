#!/usr/bin/env bash
# Imports image archives into the test cluster's containerd (namespace k8s.io), where pods with
# imagePullPolicy IfNotPresent (or Never) find them; nothing can be pulled.
#   import-image.sh [--base-name REPO] ARCHIVE...
# An OCI archive is named by its io.containerd.image.name annotation or a full ref in
# org.opencontainers.image.ref.name (e.g. skopeo copy ... oci-archive:F.tar:localhost/dvm-agent:dev);
# a bare tag there ("dev") needs --base-name localhost/dvm-agent. A docker-archive uses its RepoTags.
# Images live under the state dir: they survive down.sh, not down.sh --purge.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) == 0 ]] || die "import-image.sh needs root"
args=()
if [[ ${1:-} == --base-name ]]; then
  args=(--base-name "${2:?--base-name needs a repository}")
  shift 2
fi
(($#)) || die "usage: import-image.sh [--base-name REPO] ARCHIVE..."
component_alive containerd && ctr version >/dev/null 2>&1 || die "the test cluster's containerd is not running: run test/cluster/up.sh first"
for archive in "$@"; do
  ctr -n k8s.io images import "${args[@]}" "$archive" >&2
done
ctr -n k8s.io images ls -q | grep -v '^sha256:'

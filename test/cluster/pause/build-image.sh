#!/usr/bin/env bash
# Builds the test cluster's pause image (and the probe tool in the same layer) as an OCI archive,
# by hand: one tar layer with /pause and /probe, a config, a manifest and an index that names it
# twice, localhost/dvm-pause:1 (containerd's sandbox_image, entrypoint /pause) and
# localhost/dvm-probe:1 (entrypoint /probe). Deterministic: same sources -> same digests.
#   build-image.sh OUT.tar
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-image.sh OUT.tar}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case $(dpkg --print-architecture 2>/dev/null || uname -m) in
  amd64 | x86_64) arch=amd64 ;;
  arm64 | aarch64) arch=arm64 ;;
  *) arch=$(dpkg --print-architecture) ;;
esac

mkdir -p "$work/rootfs" "$work/oci/blobs/sha256"
gcc -static -O2 -s -o "$work/rootfs/pause" "$here/pause.c"
gcc -static -O2 -s -o "$work/rootfs/probe" "$here/probe.c"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$work/rootfs" -cf "$work/layer.tar" pause probe
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 <"$work/layer.tar" >"$work/layer.tar.gz"

blob() { # file -> prints "digest size", stores it under blobs/
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  cp "$1" "$work/oci/blobs/sha256/$digest"
  echo "$digest $size"
}
read -r layer_digest layer_size < <(blob "$work/layer.tar.gz")

config() { # entrypoint -> config json
  printf '{"architecture":"%s","os":"linux","config":{"User":"65535:65535","Entrypoint":["%s"],"WorkingDir":"/","Env":["PATH=/"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"test/cluster/pause/build-image.sh"}]}' \
    "$arch" "$1" "$diff_id"
}
manifest() { # config digest, config size -> manifest json
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$1" "$2" "$layer_digest" "$layer_size"
}

entries=()
for spec in "localhost/dvm-pause:1 /pause" "localhost/dvm-probe:1 /probe"; do
  read -r name entrypoint <<<"$spec"
  config "$entrypoint" >"$work/config.json"
  read -r config_digest config_size < <(blob "$work/config.json")
  manifest "$config_digest" "$config_size" >"$work/manifest.json"
  read -r manifest_digest manifest_size < <(blob "$work/manifest.json")
  entries+=("$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' \
    "$manifest_digest" "$manifest_size" "$arch" "$name" "${name##*:}")")
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$(IFS=,; echo "${entries[*]}")" >"$work/oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/oci" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"

#!/usr/bin/env bash
# Builds the dvm agent image without a registry or a container engine, from images/image.env (the
# description images/Containerfile follows too): a Debian rootfs from debootstrap, this machine's
# Node binary, the agent's production dependencies, dist/agent, dist/contract and the native relay, packed with umoci as an OCI archive.
#
#   images/build.sh [--controller] [--import] [--ref REF] [--address SOCK] [--namespace NS] [--out FILE] [--refresh-base] [--no-smoke]
#
#   --controller    the controller image instead (images/controller.env: dist/controller, the page, `dvm`)
#   --import        also `ctr images import` the archive (namespace k8s.io) and check it is listed
#   --ref REF       image reference (env DVM_IMAGE_REF; default IMAGE_REF of image.env, localhost/dvm-agent:dev,
#                   or of controller.env, localhost/dvm-controller:dev)
#   --address SOCK  containerd socket for --import (env CONTAINERD_ADDRESS; default /run/containerd/containerd.sock)
#   --namespace NS  containerd namespace for --import (default k8s.io, the one the kubelet uses)
#   --out FILE      the OCI archive (env DVM_IMAGE_ARCHIVE; default $DVM_IMAGE_CACHE/dvm-agent.oci.tar, or dvm-controller.oci.tar)
#   --refresh-base  rebuild the cached Debian rootfs (e.g. for new security updates)
#   --no-smoke      skip the final check that runs the agent inside the assembled, read-only rootfs
#
# As root (debootstrap, chroot, ownership in the layers), no stdin; installs the Debian packages it
# needs. Caches under ${DVM_IMAGE_CACHE:-/var/cache/dvm-image}, each keyed by what goes into it:
# the trimmed rootfs (release, packages, apt sources, user, this script's recipe), the base layers
# (+ the Node binary), npm ci --omit=dev (package.json, package-lock.json, node, npm), the compiled
# agent (agent/**/*.ts, contract/**/*.ts, tsconfig.base.json, typescript) and the native relay
# (native/relay/ sources, the node binary, npm's node-gyp). A fresh build takes a few minutes, a rebuild seconds.
# Writes nothing into the repository. SOURCE_DATE_EPOCH (default 0) dates the config and layer files:
# the same inputs give the same image digest.
set -euo pipefail
umask 022
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=images/image.env
source "$here/image.env"
ARCHIVE_NAME=dvm-agent COMPILE_DIRS="agent contract" KIND=agent
for arg in "$@"; do [[ $arg == --controller ]] && KIND=controller; done
if [[ $KIND == controller ]]; then
  # shellcheck source=images/controller.env
  source "$here/controller.env"
fi

CACHE=${DVM_IMAGE_CACHE:-/var/cache/dvm-image}
OUT=${DVM_IMAGE_ARCHIVE:-$CACHE/$ARCHIVE_NAME.oci.tar}
REF=${DVM_IMAGE_REF:-$IMAGE_REF}
ADDRESS=${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
NAMESPACE=k8s.io
IMPORT=0 REFRESH=0 SMOKE=1
EPOCH=${SOURCE_DATE_EPOCH:-0}

T0=$EPOCHREALTIME
log() { printf '[build.sh %6.1fs] %s\n' "$(awk "BEGIN { print $EPOCHREALTIME - $T0 }")" "$*" >&2; }
die() { printf 'images/build.sh: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-2}"; }

while (($#)); do
  case $1 in
    --controller) ;; # read above
    --import) IMPORT=1 ;;
    --ref) REF=${2:?--ref needs a value}; shift ;;
    --ref=*) REF=${1#*=} ;;
    --address) ADDRESS=${2:?--address needs a socket path}; shift ;;
    --address=*) ADDRESS=${1#*=} ;;
    --namespace) NAMESPACE=${2:?--namespace needs a value}; shift ;;
    --namespace=*) NAMESPACE=${1#*=} ;;
    --out) OUT=${2:?--out needs a file}; shift ;;
    --out=*) OUT=${1#*=} ;;
    --refresh-base) REFRESH=1 ;;
    --no-smoke) SMOKE=0 ;;
    -h | --help) usage 0 ;;
    *) echo "images/build.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
[[ $REF =~ ^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
  die "--ref $REF is not a reference with a tag (like localhost/dvm-agent:dev)"
[[ $EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number of seconds"
[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot and root-owned files in the layers)"
OUT=$(realpath -m "$OUT")
case $OUT/ in "$repo"/*) die "--out $OUT is inside the repository; write the archive elsewhere" ;; esac

# ---- host tools ------------------------------------------------------------------------------------
# node-gyp (node-pty) needs python3, make and g++; strip is in binutils; ctr is in containerd.
HOST_PACKAGES=(debootstrap debian-archive-keyring umoci binutils python3 make g++ tar gzip util-linux)
((IMPORT)) && HOST_PACKAGES+=(containerd)
"$repo/tools/apt-install.sh" --no-recommends --log build.sh "${HOST_PACKAGES[@]}" || die "cannot install ${HOST_PACKAGES[*]}"

NODE_BIN=$(command -v node) || die "node $NODE_MAJOR is needed (it is copied into the image)"
NODE_BIN=$(readlink -f "$NODE_BIN")
node_version=$("$NODE_BIN" -p process.versions.node)
[[ ${node_version%%.*} == "$NODE_MAJOR" ]] || die "this machine's node is v$node_version; the image wants Node $NODE_MAJOR (NODE_MAJOR in images/image.env)"
engines=$("$NODE_BIN" -p "require('$repo/package.json').engines?.node ?? ''")
if [[ $engines =~ ^\>=\ *([0-9]+) ]] && ((${node_version%%.*} < BASH_REMATCH[1])); then
  die "node v$node_version does not satisfy the project's engines ($engines)"
fi
NPM=$(command -v npm) || die "npm is needed (npm ci --omit=dev)"
ARCH=$(dpkg --print-architecture)
case $ARCH in amd64 | arm64) ;; *) die "architecture $ARCH is not supported" ;; esac

mkdir -p "$CACHE" "$(dirname "$OUT")"
exec 9>"$CACHE/.lock"
flock -w 1800 9 || die "another images/build.sh holds $CACHE/.lock"
WORK=$(mktemp -d "$CACHE/work.XXXXXX")
cleanup() {
  local rc=$?
  rm -rf "$WORK" "$CACHE"/*.partial
  ((rc == 0)) || echo "images/build.sh: failed (rc=$rc); logs of the last steps are in $CACHE/logs" >&2
}
trap cleanup EXIT
mkdir -p "$CACHE/logs"
sha() { sha256sum | cut -c1-16; }

# Deterministic tar of some paths under a directory (numeric owners as they are unless told).
det_tar() { # DIR OUT [tar options...] -- PATHS...
  local dir=$1 out=$2
  shift 2
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  tar --sort=name --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    "${opts[@]}" -C "$dir" -cf "$out" -- "$@"
}

top_level() { # DIR: its entries, in TOP
  TOP=()
  local path
  for path in "$1"/* "$1"/.[!.]*; do [[ -e $path || -L $path ]] && TOP+=("${path##*/}"); done
  return 0
}

# ---- 1. the Debian rootfs (cached) -----------------------------------------------------------------
# The machine's Debian sources for the release, its -updates and -security suites ("URI SUITE" lines).
debian_sources() {
  local files=()
  shopt -s nullglob
  files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  shopt -u nullglob
  for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    if [[ $f == *.sources ]]; then
      awk -v rel="$DEBIAN_RELEASE" '
        function flush(   n, m, i, j, U, S) {
          if (types ~ /(^| )deb( |$)/ && enabled != "no" && comps ~ /(^| )main( |$)/) {
            n = split(uris, U, " "); m = split(suites, S, " ")
            for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
              if (S[j] == rel || S[j] == rel "-updates" || S[j] == rel "-security") print U[i], S[j]
          }
          types = uris = suites = comps = enabled = ""
        }
        /^[[:space:]]*#/ { next }
        /^[[:space:]]*$/ { flush(); next }
        { key = tolower($1); $1 = "" ; sub(/^ +/, "") }
        key == "types:" { types = $0 } key == "uris:" { uris = $0 } key == "suites:" { suites = $0 }
        key == "components:" { comps = $0 } key == "enabled:" { enabled = tolower($0) }
        END { flush() }' "$f"
    else
      sed -E 's/#.*//; s/\[[^]]*\]//' "$f" | awk -v rel="$DEBIAN_RELEASE" '
        $1 == "deb" && ($3 == rel || $3 == rel "-updates" || $3 == rel "-security") {
          for (i = 4; i <= NF; i++) if ($i == "main") { print $2, $3; break } }'
    fi
  done | awk '!seen[$0]++'
}
SOURCES=$(debian_sources)
if [[ -n ${DEBIAN_MIRROR:-} ]]; then # an explicit mirror replaces the machine's for the release and -updates
  SOURCES=$(printf '%s %s\n%s %s-updates\n' "$DEBIAN_MIRROR" "$DEBIAN_RELEASE" "$DEBIAN_MIRROR" "$DEBIAN_RELEASE"
    grep -- '-security$' <<<"$SOURCES" || true)
fi
MIRROR=$(awk -v rel="$DEBIAN_RELEASE" '$2 == rel { print $1; exit }' <<<"$SOURCES")
[[ -n $MIRROR ]] || die "no Debian mirror for $DEBIAN_RELEASE main in /etc/apt/sources.list*; set DEBIAN_MIRROR"
PASSWD_LINE="$USER_NAME:x:$USER_UID:$USER_GID:dvm agent:$USER_HOME:$USER_SHELL"

make_rootfs() { # DIR: debootstrap, security updates, trim, the user
  local dir=${1:?} packages
  packages=$(tr ' ' ',' <<<"$DEBIAN_PACKAGES")
  debootstrap --variant=minbase --arch="$ARCH" --components=main --include="$packages" \
    "$DEBIAN_RELEASE" "$dir" "$MIRROR" >"$CACHE/logs/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $CACHE/logs/debootstrap.log"
  # Updates and security fixes from the machine's other suites (the host's rsync is the same then).
  awk '{ print "deb " $1 " " $2 " main" }' <<<"$SOURCES" >"$dir/etc/apt/sources.list"
  unshare --mount --propagation private sh -ec '
    mount -t proc proc "$1/proc"
    chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get -qq update
    chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confold upgrade
  ' sh "$dir" >"$CACHE/logs/apt-upgrade.log" 2>&1 || die "apt-get upgrade in the rootfs failed; see $CACHE/logs/apt-upgrade.log"
  chroot "$dir" dpkg-query -W -f='${Package} ${Version}\n' >"$dir.packages"
  # What the image does not need: apt lists and caches, logs, docs (copyright files stay), man pages,
  # info, locales, device nodes (the runtime mounts /dev), the host's hostname and resolver.
  rm -rf "${dir:?}"/var/lib/apt/lists/* "${dir:?}"/var/cache/apt/* "${dir:?}"/var/cache/debconf/*-old \
    "${dir:?}"/var/lib/dpkg/*-old "${dir:?}"/var/cache/ldconfig/aux-cache "${dir:?}"/usr/share/man/* \
    "${dir:?}"/usr/share/info/* "${dir:?}"/usr/share/locale/* "${dir:?}"/usr/share/lintian "${dir:?}"/var/cache/man \
    "${dir:?}"/dev/* "${dir:?}"/tmp/*
  find "$dir/usr/share/doc" -mindepth 1 ! -type d \( ! -name copyright -o -path "$dir/usr/share/doc/*/*/*" \) -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$dir/var/log" -type f -delete
  cat >"$dir/etc/dpkg/dpkg.cfg.d/dvm-image-excludes" <<'EOF'
# The dvm agent image keeps no docs, man pages or locales (images/build.sh).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  echo localhost >"$dir/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
  : >"$dir/etc/resolv.conf"
  # The agent's user: uid USER_UID in group USER_GID (0: OpenShift's arbitrary uids are in group 0).
  grep -q "^$USER_NAME:" "$dir/etc/passwd" || echo "$PASSWD_LINE" >>"$dir/etc/passwd"
  grep -q "^$USER_NAME:" "$dir/etc/shadow" || echo "$USER_NAME:!::0:99999:7:::" >>"$dir/etc/shadow"
  chroot "$dir" /usr/bin/test -x "$USER_SHELL" || die "USER_SHELL $USER_SHELL is not in the rootfs"
}

ROOTFS_KEY=$({ echo "$DEBIAN_RELEASE|$DEBIAN_PACKAGES|$ARCH|$PASSWD_LINE"; echo "$SOURCES"; declare -f make_rootfs; } | sha)
ROOTFS=$CACHE/rootfs-$ROOTFS_KEY
if ((REFRESH)); then rm -rf "$ROOTFS" "$ROOTFS.packages" "$CACHE"/base-"$ROOTFS_KEY"-*; fi
if [[ ! -d $ROOTFS ]]; then
  log "debootstrap --variant=minbase $DEBIAN_RELEASE from $MIRROR with $DEBIAN_PACKAGES (once; cached as $ROOTFS)"
  rm -rf "$ROOTFS.partial"
  make_rootfs "$ROOTFS.partial"
  mv "$ROOTFS.partial.packages" "$ROOTFS.packages"
  mv "$ROOTFS.partial" "$ROOTFS"
  log "rootfs: $(wc -l <"$ROOTFS.packages") packages, $(du -sm "$ROOTFS" | cut -f1) MiB"
else
  touch "$ROOTFS"
  log "rootfs cached ($ROOTFS)"
fi

# ---- 2. the base layers: rootfs, then node (cached) ------------------------------------------------
NODE_KEY=$(sha256sum "$NODE_BIN" | sha)
BASE=$CACHE/base-$ROOTFS_KEY-$NODE_KEY
created=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
history=(--history.created "$created" --history.author "images/build.sh")
if [[ ! -d $BASE ]]; then
  log "base layers: the rootfs and node v$node_version (once; cached as $BASE)"
  rm -rf "$BASE.partial"
  mkdir -p "$BASE.partial/nodefs/usr/local/bin"
  strip -o "$BASE.partial/nodefs/usr/local/bin/node" "$NODE_BIN" # the host's binary carries ~12 MiB of symbols
  chmod 0755 "$BASE.partial/nodefs/usr/local/bin/node"
  top_level "$ROOTFS"
  det_tar "$ROOTFS" "$WORK/rootfs.tar" -- "${TOP[@]}"
  det_tar "$BASE.partial/nodefs" "$WORK/node.tar" --owner=0 --group=0 --mtime="@$EPOCH" -- usr
  umoci init --layout "$BASE.partial/oci"
  umoci new --image "$BASE.partial/oci:base"
  umoci raw add-layer --image "$BASE.partial/oci:base" "${history[@]}" \
    --history.created_by "debootstrap --variant=minbase --include=$(tr ' ' ',' <<<"$DEBIAN_PACKAGES") $DEBIAN_RELEASE; apt-get upgrade; trimmed; user $USER_UID:$USER_GID" \
    "$WORK/rootfs.tar"
  umoci raw add-layer --image "$BASE.partial/oci:base" "${history[@]}" \
    --history.created_by "node v$node_version at /usr/local/bin/node (stripped)" "$WORK/node.tar"
  rm -f "$WORK/rootfs.tar" "$WORK/node.tar"
  mv "$BASE.partial" "$BASE"
else
  touch "$BASE"
  log "base layers cached ($BASE)"
fi

# ---- 3. production dependencies (cached) -----------------------------------------------------------
npm_version=$("$NPM" --version)
# Keyed by the lockfile and the package.json fields npm ci reads for production (not scripts or tap's config).
DEPS_KEY=$({ "$NODE_BIN" -e '
  const p = require(process.argv[1]);
  const pick = ["name", "dependencies", "optionalDependencies", "peerDependencies", "bundleDependencies", "overrides", "engines", "os", "cpu"];
  console.log(JSON.stringify(pick.map((k) => [k, p[k]])));' "$repo/package.json"
  cat "$repo/package-lock.json"; echo "$node_version $npm_version $ARCH"; } | sha)
DEPS=$CACHE/deps-$DEPS_KEY
if [[ ! -d $DEPS ]]; then
  log "npm ci --omit=dev in a staging copy (once per package-lock.json; cached as $DEPS)"
  rm -rf "$DEPS.partial"
  mkdir -p "$DEPS.partial"
  cp "$repo/package.json" "$repo/package-lock.json" "$DEPS.partial/"
  (cd "$DEPS.partial" && "$NPM" ci --omit=dev --no-audit --no-fund) >"$CACHE/logs/npm-ci.log" 2>&1 ||
    die "npm ci --omit=dev failed; see $CACHE/logs/npm-ci.log"
  chmod -R g=u "$DEPS.partial/node_modules"
  mv "$DEPS.partial" "$DEPS"
else
  touch "$DEPS"
  log "production dependencies cached ($DEPS)"
fi

# ---- 4. dist/agent + dist/contract (cached): tsc with the project's options, those sources only ---
[[ -x $repo/node_modules/.bin/tsc ]] || {
  log "npm ci in the repository (typescript is a dev dependency)"
  (cd "$repo" && "$NPM" ci --no-audit --no-fund) >"$CACHE/logs/npm-ci-repo.log" 2>&1 || die "npm ci failed; see $CACHE/logs/npm-ci-repo.log"
}
read -r -a compile_dirs <<<"$COMPILE_DIRS"
AGENT_KEY=$({ cd "$repo" && find "${compile_dirs[@]}" -name '*.ts' -type f | LC_ALL=C sort | xargs sha256sum; sha256sum tsconfig.base.json;
  "$repo/node_modules/.bin/tsc" --version; sha256sum agent/bundle.sh; "$repo/node_modules/.bin/esbuild" --version; } | sha)
AGENT=$CACHE/$KIND-$AGENT_KEY
if [[ ! -d $AGENT ]]; then
  log "compiling the $KIND (tsc, ${compile_dirs[*]} only, into a clean directory)"
  rm -rf "$AGENT.partial"
  mkdir -p "$AGENT.partial"
  cat >"$WORK/tsconfig.json" <<EOF
{ "extends": "$repo/tsconfig.base.json",
  "compilerOptions": { "outDir": "$AGENT.partial/out", "rootDir": "$repo", "typeRoots": ["$repo/node_modules/@types"] },
  "include": [$(printf '"%s",' "${compile_dirs[@]/#/$repo/}" | sed 's/,$//')] }
EOF
  "$repo/node_modules/.bin/tsc" -p "$WORK/tsconfig.json" >"$CACHE/logs/tsc.log" 2>&1 ||
    die "tsc failed: $(head -5 "$CACHE/logs/tsc.log")"
  for dir in "${compile_dirs[@]}"; do
    [[ -d $AGENT.partial/out/$dir ]] || die "tsc did not produce $dir/"
    mv "$AGENT.partial/out/$dir" "$AGENT.partial/$dir"
  done
  rm -rf "$AGENT.partial/out"
  if [[ $KIND == agent ]]; then
    # The agent in one file (agent/bundle.sh), from the same production dependencies the image gets.
    ESBUILD=$repo/node_modules/.bin/esbuild NODE_PATH=$DEPS/node_modules "$repo/agent/bundle.sh" "$AGENT.partial/agent" >"$CACHE/logs/bundle.log" 2>&1 ||
      die "agent/bundle.sh failed: $(head -5 "$CACHE/logs/bundle.log")"
  fi
  mv "$AGENT.partial" "$AGENT"
else
  touch "$AGENT"
  log "compiled $KIND cached ($AGENT)"
fi

# ---- 4b. the native TLS relay (cached): native/relay/build.sh in a staging copy, for this node ------
RELAY_KEY=$({ cd "$repo" && find native/relay -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' -o -name '*.gyp' -o -name '*.sh' \) | LC_ALL=C sort | xargs sha256sum
  sha256sum "$NODE_BIN"; "$NPM" --version; } | sha)
RELAY=$CACHE/relay-$RELAY_KEY
if [[ ! -d $RELAY ]]; then
  log "building the native relay (node-gyp against node v$node_version's headers, in a staging copy)"
  rm -rf "$RELAY.partial"
  mkdir -p "$RELAY.partial/src"
  cp "$repo"/native/relay/*.c "$repo"/native/relay/*.h "$repo"/native/relay/binding.gyp "$repo"/native/relay/build.sh "$RELAY.partial/src/"
  "$RELAY.partial/src/build.sh" >"$CACHE/logs/relay.log" 2>&1 || die "native/relay/build.sh failed: $(tail -5 "$CACHE/logs/relay.log")"
  strip --strip-unneeded -o "$RELAY.partial/dvm_relay.node" "$RELAY.partial/src/build/Release/dvm_relay.node"
  rm -rf "$RELAY.partial/src"
  mv "$RELAY.partial" "$RELAY"
else
  touch "$RELAY"
  log "native relay cached ($RELAY)"
fi

# ---- 5. the app layer: IMAGE_FILES, then the agent's dependencies only ------------------------------
APP=$WORK/app
for spec in $IMAGE_FILES; do
  src=${spec%%:*} dest=$APP${spec#*:}
  mkdir -p "$(dirname "$dest")"
  case $src in
    node_modules) cp -al "$DEPS/node_modules" "$dest" ;; # hard links; pruning only unlinks
    dist/agent | dist/controller | dist/contract) cp -a "$AGENT/${src#dist/}" "$dest" ;;
    native/relay/build/Release/dvm_relay.node) cp -a "$RELAY/dvm_relay.node" "$dest" ;;
    *) [[ -e $repo/$src ]] || die "IMAGE_FILES names $src, which does not exist"; cp -a "$repo/$src" "$dest" ;;
  esac
done
# The dependencies the image's code does not load (the agent image: the controller's) and other
# platforms' prebuilt binaries.
node "$here/prune-modules.mjs" "$APP$WORKDIR" "${compile_dirs[@]}" >"$CACHE/logs/prune.log" 2>&1 || die "prune-modules: $(cat "$CACHE/logs/prune.log")"
log "$(cat "$CACHE/logs/prune.log")"
chmod -R g=u "$APP$WORKDIR"
chmod 0755 "$APP/usr/local/bin/$ENTRYPOINT"
if [[ $KIND == controller ]]; then
  # The CLI loads with these dependencies and `dvm controller` answers --help.
  (cd "$APP$WORKDIR" && node dist/controller/cli/dvm.js controller --help >/dev/null) ||
    die "the controller does not load with the pruned node_modules"
else
  # Every agent module loads with these dependencies, and the entry point answers --help.
  (cd "$APP$WORKDIR" && node --input-type=module -e "
  import { readdirSync } from 'node:fs'; import { join } from 'node:path';
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.js') && !['main.js', 'dvm-agent.js'].includes(e.name) ? [join(d, e.name)] : []);
  for (const f of walk('$APP$WORKDIR/dist/agent')) await import(f);
  await import('node-pty');
  const relay = (await import('$APP$WORKDIR/dist/agent/tunnel/native-relay.js')).nativeRelay();
  if (!relay.available) throw new Error('the native relay does not load: ' + relay.reason);" && node dist/agent/main.js --help >/dev/null && node dist/agent/dvm-agent.js --help >/dev/null) ||
    die "the agent's modules (or the native relay) do not load with the pruned node_modules"
fi
top_level "$APP"
det_tar "$APP" "$WORK/app.tar" --owner=0 --group=0 --mtime="@$EPOCH" -- "${TOP[@]}"

# ---- 6. the image: layers, config, one tagged manifest ---------------------------------------------
LAYOUT=$WORK/oci
mkdir -p "$LAYOUT/blobs/sha256"
cp "$BASE/oci/oci-layout" "$BASE/oci/index.json" "$LAYOUT/"
ln "$BASE"/oci/blobs/sha256/* "$LAYOUT/blobs/sha256/" # immutable blobs; umoci only adds new ones
umoci raw add-layer --image "$LAYOUT:base" --tag build "${history[@]}" \
  --history.created_by "$(tr ' ' '\n' <<<"$IMAGE_FILES" | cut -d: -f2 | tr '\n' ' ')(images/build.sh)" "$WORK/app.tar"
config=(--config.user "$USER_UID:$USER_GID" --config.workingdir "$WORKDIR" --created "$created"
  --architecture "$ARCH" --os linux --author "images/build.sh" --no-history)
for e in $BASE_ENV $IMAGE_ENV; do config+=(--config.env "$e"); done
for e in $ENTRYPOINT; do config+=(--config.entrypoint "$e"); done
for e in $CMD; do config+=(--config.cmd "$e"); done
umoci config --image "$LAYOUT:build" "${config[@]}"
umoci rm --image "$LAYOUT:base"
umoci gc --layout "$LAYOUT"
# One index entry, named the way containerd (io.containerd.image.name) and OCI tools (the tag) read it.
node -e '
  const fs = require("fs"); const [layout, ref, arch] = process.argv.slice(1);
  const index = JSON.parse(fs.readFileSync(layout + "/index.json", "utf8"));
  if (index.manifests.length !== 1) throw new Error("expected one manifest, got " + index.manifests.length);
  const m = index.manifests[0];
  m.platform = { architecture: arch, os: "linux" };
  m.annotations = { "io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref.slice(ref.lastIndexOf(":") + 1) };
  fs.writeFileSync(layout + "/index.json", JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [m] }));
  process.stdout.write(m.digest);' "$LAYOUT" "$REF" "$ARCH" >"$WORK/digest"
DIGEST=$(cat "$WORK/digest")
chmod -R a+rX "$LAYOUT"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$LAYOUT" -cf "$OUT.partial" oci-layout index.json blobs
mv "$OUT.partial" "$OUT"

# ---- 7. it runs: the entry point as USER_UID:USER_GID in the assembled rootfs, mounted read-only ----
if ((SMOKE)); then
  if [[ $KIND == controller ]]; then
    help_says=controller
    cat >"$WORK/smoke.mjs" <<'EOF'
// The API client loads (the controller's largest dependency; it reads no file at import).
const k8s = await import('@kubernetes/client-node');
if (typeof k8s.KubeConfig !== 'function') { console.error('@kubernetes/client-node has no KubeConfig'); process.exit(1); }
EOF
  else
    help_says=server
    cat >"$WORK/smoke.mjs" <<'EOF'
// rsync under node-pty, as the client agent runs it (the native module loads, a pty opens).
const pty = await import('node-pty');
let out = '';
const child = pty.spawn('rsync', ['--version'], {});
child.onData((data) => { out += data; });
child.onExit(({ exitCode }) => {
  if (exitCode !== 0 || !/rsync +version/.test(out)) { console.error(`rsync --version under a pty: exit ${exitCode}: ${out}`); process.exit(1); }
});
EOF
  fi
  # shellcheck disable=SC2016
  unshare --mount --propagation private sh -ec '
    root=$1 smoke=$8 help_says=${10}
    mkdir -p "$root"
    mount -t overlay overlay -o "lowerdir=$2:$3:$4" "$root" # no upperdir: read-only, like the pods
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    chroot --userspec="$5" "$root" /usr/bin/env -i $6 sh -c "cd $7 && exec $9 --help" | grep -q "$help_says"
    chroot --userspec="$5" "$root" /usr/bin/env -i $6 sh -c "cd $7 && exec node --input-type=module" <"$smoke"
  ' sh "$WORK/root" "$APP" "$BASE/nodefs" "$ROOTFS" "$USER_UID:$USER_GID" "$BASE_ENV $IMAGE_ENV" "$WORKDIR" \
    "$WORK/smoke.mjs" "$ENTRYPOINT" "$help_says" >"$CACHE/logs/smoke.log" 2>&1 ||
    die "the $KIND does not run in the image's rootfs; see $CACHE/logs/smoke.log"
  log "smoke: $ENTRYPOINT --help and $([[ $KIND == controller ]] && echo 'the API client' || echo 'rsync under node-pty') run as $USER_UID:$USER_GID on the read-only rootfs"
fi

size=$(stat -c %s "$OUT")
unpacked=$(($(du -sb "$ROOTFS" | cut -f1) + $(du -sb "$BASE/nodefs" | cut -f1) + $(du -sb "$APP" | cut -f1)))
log "wrote $OUT: $REF $DIGEST, $((size / 1048576)) MiB compressed, $((unpacked / 1048576)) MiB unpacked"

# ---- 8. import into containerd ---------------------------------------------------------------------
if ((IMPORT)); then
  [[ -S $ADDRESS ]] || die "no containerd socket at $ADDRESS (pass --address SOCK or set CONTAINERD_ADDRESS)"
  ctr --address "$ADDRESS" -n "$NAMESPACE" images import "$OUT" >"$CACHE/logs/import.log" 2>&1 ||
    die "ctr images import failed; see $CACHE/logs/import.log"
  listed=$(ctr --address "$ADDRESS" -n "$NAMESPACE" images ls | awk -v ref="$REF" '$1 == ref { print $3 }')
  [[ $listed == "$DIGEST" ]] || die "after the import, ctr -n $NAMESPACE images ls shows ${listed:-no} $REF (expected $DIGEST)"
  log "imported into containerd at $ADDRESS, namespace $NAMESPACE: $REF $DIGEST"
fi

# Older cache entries of each kind: keep the two used last (this build's among them; used ones are touched).
for kind in rootfs base deps agent controller; do
  mapfile -t entries < <(for d in "$CACHE/$kind"-*/; do [[ -d $d ]] && stat -c '%Y %n' "${d%/}"; done | sort -rn | cut -d' ' -f2-)
  for old in "${entries[@]:2}"; do rm -rf "$old" "$old.packages"; done
done
echo "$OUT"

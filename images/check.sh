#!/usr/bin/env bash
# What CI can check of images/Containerfile without a container engine:
#   1. every file it COPYs from the build context exists (and is not ignored by the ignore file),
#   2. what it copies out of the build stage is produced by `npx tsc -b`,
#   3. the built agent runs (`node dist/agent/main.js --help`, tsc's output), directly and through the
#      image's dvm-agent wrapper (the bundle, dist/agent/dvm-agent.js), and rsync is there (the image installs it),
#   4. the Containerfile agrees with images/image.env, the description images/build.sh builds from:
#      base (Node major, Debian release), Debian packages, user, WORKDIR, ENV, USER, ENTRYPOINT, CMD
#      and what the final stage copies where.
# CONTAINERFILE and IMAGE_DESCRIPTION point it at other files (the tests check that it can fail).
set -euo pipefail
cd "$(dirname "$0")/.."
containerfile=${CONTAINERFILE:-images/Containerfile}
ignorefile=images/Containerfile.dockerignore
failures=0
fail() { echo "images/check.sh: $*" >&2; failures=$((failures + 1)); }

# COPY lines without --from: sources are relative to the repository root (the build context).
while read -r line; do
  read -r -a words <<<"${line#COPY }"
  sources=()
  for word in "${words[@]}"; do [[ $word == --* ]] || sources+=("$word"); done
  unset 'sources[${#sources[@]}-1]' # the last word is the destination
  for source in "${sources[@]}"; do
    [[ -e $source ]] || fail "$containerfile copies $source, which does not exist"
    grep -qxF "!${source%/}" "$ignorefile" || grep -qxF "!${source%/}/" "$ignorefile" || fail "$source is copied but excluded by $ignorefile"
  done
done < <(grep -E '^COPY ' "$containerfile" | grep -v -- '--from=')

# What the final stage takes from the build stage: /src/<path> must come out of the build.
while read -r path; do
  [[ -e $path ]] || fail "$containerfile copies $path from the build stage, but the build did not produce it (run npx tsc -b)"
done < <(grep -E '^COPY --from=build ' "$containerfile" | awk '{print $3}' | sed 's#^/src/##')

[[ -x images/dvm-agent ]] || fail "images/dvm-agent is not executable"
node dist/agent/main.js --help >/dev/null || fail "node dist/agent/main.js --help failed"
DVM_HOME="$PWD" images/dvm-agent --help | grep -q 'server' || fail "the dvm-agent wrapper does not run the agent"
command -v rsync >/dev/null || fail "rsync is not installed (the image installs it; CI needs it for the tests)"

# ---- images/image.env: the one description of the image, which build.sh builds from -------------
description=${IMAGE_DESCRIPTION:-images/image.env}
bad_lines=$(grep -nvE '^[[:space:]]*(#.*)?$|^[A-Z][A-Z0-9_]*=("[^"$`\\]*"|[^"$`\\[:space:]]*)$' "$description" || true)
[[ -z $bad_lines ]] || fail "$description: not KEY=value or KEY=\"value\": $bad_lines"
while read -r problem; do fail "$problem"; done < <(
  # shellcheck source=images/image.env
  source "$description"
  for key in DEBIAN_RELEASE DEBIAN_PACKAGES NODE_MAJOR USER_NAME USER_UID USER_GID USER_HOME USER_SHELL \
    WORKDIR BASE_ENV IMAGE_ENV ENTRYPOINT IMAGE_FILES IMAGE_REF; do
    [[ -n ${!key:-} ]] || echo "$description does not set $key"
  done
)
# shellcheck source=images/image.env
source "$description"
[[ $USER_UID =~ ^[0-9]+$ && $USER_UID != 0 ]] || fail "$description: USER_UID must be a numeric non-root uid"

# The Containerfile's final stage, continuation lines joined.
joined=$(awk '{ if (sub(/\\$/, "")) { buf = buf $0 " "; next } print buf $0; buf = "" }' "$containerfile")
final=$(awk '/^FROM /{ n++ } { line[NR] = $0; stage[NR] = n } END { for (i = 1; i <= NR; i++) if (stage[i] == n) print line[i] }' <<<"$joined")
words_after() { # KEYWORD: the words after the final stage's KEYWORD instruction(s)
  grep -E "^$1 " <<<"$final" | sed -E "s/^$1 +//; s/[[:space:]]+$//" | paste -sd' ' -
}
json_words() { # words -> ["a", "b"], the exec form
  local out="" w
  for w in "$@"; do out+="${out:+, }\"$w\""; done
  echo "[$out]"
}
same_set() { [[ $(tr ' ' '\n' <<<"$1" | grep . | sort -u) == $(tr ' ' '\n' <<<"$2" | grep . | sort -u) ]]; }

base_image=$(grep -E '^ARG NODE_IMAGE=' "$containerfile" | head -1 | cut -d= -f2-)
[[ $base_image == *"node:$NODE_MAJOR-$DEBIAN_RELEASE-slim" ]] ||
  fail "$containerfile builds from $base_image, but $description says Node $NODE_MAJOR on Debian $DEBIAN_RELEASE (node:$NODE_MAJOR-$DEBIAN_RELEASE-slim)"

runs=$(grep -E '^RUN ' <<<"$final")
packages=$(sed -nE 's/.*apt-get install ([^&]*).*/\1/p' <<<"$runs" | tr ' ' '\n' | grep -v '^-' | grep . | paste -sd' ' -)
same_set "$packages" "$DEBIAN_PACKAGES" ||
  fail "$containerfile installs Debian packages '$packages', $description says DEBIAN_PACKAGES='$DEBIAN_PACKAGES'"

useradd=$(sed -nE 's/.*useradd ([^&]*).*/\1/p' <<<"$runs" | sed -E 's/[[:space:]]+/ /g; s/ $//')
expected_useradd="--uid $USER_UID --gid $USER_GID --home-dir $USER_HOME --no-create-home --shell $USER_SHELL $USER_NAME"
[[ $useradd == "$expected_useradd" ]] ||
  fail "$containerfile: useradd ${useradd:-(none)}; $description says useradd $expected_useradd"
grep -qE "chmod -R g=u $WORKDIR( |$)" <<<"$runs" || fail "$containerfile does not chmod -R g=u $WORKDIR (the WORKDIR of $description)"

workdir=$(words_after WORKDIR)
[[ $workdir == "$WORKDIR" ]] || fail "$containerfile: WORKDIR $workdir; $description says WORKDIR=$WORKDIR"
env=$(words_after ENV)
[[ $env == "$IMAGE_ENV" ]] || fail "$containerfile: ENV $env; $description says IMAGE_ENV=\"$IMAGE_ENV\""
user=$(words_after USER)
[[ $user == "$USER_UID:$USER_GID" ]] || fail "$containerfile: USER $user; $description says $USER_UID:$USER_GID"
normalize() { sed -E 's/[[:space:]]*,[[:space:]]*/, /g; s/\[[[:space:]]*/[/; s/[[:space:]]*\]/]/'; }
# shellcheck disable=SC2086
entrypoint=$(words_after ENTRYPOINT | normalize) expected=$(json_words $ENTRYPOINT)
[[ $entrypoint == "$expected" ]] || fail "$containerfile: ENTRYPOINT $entrypoint; $description says $expected"
# shellcheck disable=SC2086
cmd=$(words_after CMD | normalize) expected=$(json_words $CMD)
[[ $cmd == "$expected" ]] || fail "$containerfile: CMD $cmd; $description says $expected"

# What the final stage copies, as SOURCE:DESTINATION like IMAGE_FILES (build stages work in /src).
copies=()
while read -r line; do
  read -r -a words <<<"${line#COPY }"
  args=()
  for word in "${words[@]}"; do [[ $word == --* ]] || args+=("$word"); done
  dest=${args[-1]}
  unset 'args[-1]'
  [[ $dest == /* ]] || dest=$WORKDIR/${dest#./}
  for source in "${args[@]}"; do
    source=${source#/src/}
    target=$dest
    [[ $target == */ ]] && target=$target$(basename "$source")
    copies+=("${source%/}:${target%/}")
  done
done < <(grep -E '^COPY ' <<<"$final")
same_set "${copies[*]}" "$IMAGE_FILES" ||
  fail "$containerfile copies '${copies[*]}' into the image; $description says IMAGE_FILES=\"$IMAGE_FILES\""
# The entrypoint is one of the copied files, in a PATH directory of the image.
entry_file=$(tr ' ' '\n' <<<"$IMAGE_FILES" | cut -d: -f2 | grep -E "/${ENTRYPOINT%% *}$" | head -1)
path_dirs=$(tr ' ' '\n' <<<"$BASE_ENV $IMAGE_ENV" | sed -n 's/^PATH=//p' | tail -1)
[[ -n $entry_file && ":$path_dirs:" == *":$(dirname "$entry_file"):"* ]] ||
  fail "$description: the entrypoint ${ENTRYPOINT%% *} is not one of IMAGE_FILES in a PATH directory ($path_dirs)"
for spec in $IMAGE_FILES; do
  source=${spec%%:*}
  case $source in node_modules | dist/*) continue ;; esac # made by npm ci / tsc
  [[ -e $source ]] || fail "$description: IMAGE_FILES names $source, which does not exist"
done

if ((failures > 0)); then
  echo "images/check.sh: $failures problem(s)" >&2
  exit 1
fi
echo "images/check.sh: ok"

#!/usr/bin/env bash
# What CI can check of images/Containerfile without a container engine:
#   1. every file it COPYs from the build context exists (and is not ignored by the ignore file),
#   2. what it copies out of the build stage is produced by `npx tsc -p tsconfig.json`,
#   3. the built agent runs (`node dist/agent/main.js --help`), directly and through the image's
#      dvm-agent wrapper, and rsync is there (the image installs it).
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
  [[ -e $path ]] || fail "$containerfile copies $path from the build stage, but the build did not produce it (run npx tsc -p tsconfig.json)"
done < <(grep -E '^COPY --from=build ' "$containerfile" | awk '{print $3}' | sed 's#^/src/##')

[[ -x images/dvm-agent ]] || fail "images/dvm-agent is not executable"
node dist/agent/main.js --help >/dev/null || fail "node dist/agent/main.js --help failed"
DVM_HOME="$PWD" images/dvm-agent --help | grep -q 'server' || fail "the dvm-agent wrapper does not run the agent"
command -v rsync >/dev/null || fail "rsync is not installed (the image installs it; CI needs it for the tests)"
grep -qE '^USER [1-9][0-9]*' "$containerfile" || fail "the image must run as a non-root numeric user"
grep -qE '^ENTRYPOINT \["dvm-agent"\]' "$containerfile" || fail "the entrypoint must be dvm-agent"

if ((failures > 0)); then
  echo "images/check.sh: $failures problem(s)" >&2
  exit 1
fi
echo "images/check.sh: ok"

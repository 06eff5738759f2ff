#!/usr/bin/env bash
# Installs the Debian packages of the arguments that are not installed yet, and nothing else: a
# machine that has them all is not touched (no apt-get update). apt-get needs root; without it the
# script names what is missing and fails.
#   tools/apt-install.sh [--no-recommends] [--log PREFIX] PACKAGE...
# Used by the Makefile (make demo, make test), test/cluster/up.sh and images/build.sh.
set -euo pipefail
recommends=() prefix=apt-install
while (($#)); do
  case $1 in
    --no-recommends) recommends=(--no-install-recommends); shift ;;
    --log) prefix=$2; shift 2 ;;
    *) break ;;
  esac
done
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) != 0 ]]; then
  echo "$prefix: please install ${missing[*]} (apt-get needs root)" >&2
  exit 1
fi
echo "$prefix: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${recommends[@]}" "${missing[@]}" >/dev/null

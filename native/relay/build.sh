#!/usr/bin/env bash
# Builds build/Release/dvm_relay.node (next to this script) with node-gyp, against the headers of
# the node that runs it (node-gyp --nodedir: nothing is downloaded) and the OpenSSL headers that
# come with them; the addon links to no OpenSSL library, it uses the one inside the node binary.
# Needs python3, make and a C compiler (the Makefile installs them: make build). node-gyp is the
# repository's (node_modules/.bin) when there is one, otherwise the copy npm ships with.
#   native/relay/build.sh     (run by make build, images/build.sh and images/Containerfile)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "native/relay/build.sh: $*" >&2; exit 1; }

node=$(command -v node) || die "node is not on PATH"
nodedir=$(dirname "$(dirname "$(readlink -f "$node")")")
[[ -f $nodedir/include/node/node_api.h && -f $nodedir/include/node/openssl/evp.h ]] ||
  die "no Node headers with OpenSSL's under $nodedir/include/node (node's own packages ship them; Debian's nodejs: libnode-dev)"
gyp=$here/../../node_modules/.bin/node-gyp
if [[ ! -e $gyp ]]; then
  npm=$(command -v npm) || die "neither node_modules/.bin/node-gyp nor npm (which bundles node-gyp) is there"
  gyp=$(dirname "$(dirname "$(readlink -f "$npm")")")/node_modules/node-gyp/bin/node-gyp.js
  [[ -e $gyp ]] || die "npm at $npm has no bundled node-gyp ($gyp)"
fi
cd "$here"
"$node" "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn >build.log 2>&1 || { cat build.log >&2; die "node-gyp failed"; }
[[ -f build/Release/dvm_relay.node ]] || die "node-gyp did not produce build/Release/dvm_relay.node"
# It must load into this node (its OpenSSL symbols resolve against the binary's own).
"$node" -e "require('$here/build/Release/dvm_relay.node').start" >/dev/null || die "the built addon does not load into $node"
rm -f build.log
touch build/Release/dvm_relay.node # (node-gyp keeps the object's time: make would rebuild every time)

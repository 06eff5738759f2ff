#!/bin/sh
# The agent in one file: DIR/main.js (tsc's output) and every module it imports, bundled by esbuild
# into DIR/dvm-agent.js, which is what pods, local mode, the benchmark and the tests run.
#
# Why: an agent starts for every copy, and Node's ES module loader resolves, reads and compiles each
# of the agent's ~360 files one by one. A copy's start-up and exit took 0.5 s of wall time that way,
# twice what a no-change re-sync of 10,000 files takes with plain rsync; bundled, 0.28 s
# (bench/README.md). The code is tsc's, unchanged: esbuild only joins the modules (no minifying, no
# down-levelling, dynamic imports stay lazy).
#
# node-pty stays outside: it loads its native module by a path relative to its own files.
# Usage: agent/bundle.sh [DIR]   (default dist/agent; ESBUILD names the esbuild binary, NODE_PATH
# where the dependencies are when DIR is not inside the repository)
set -eu
dir=${1:-dist/agent}
here=$(dirname "$0")
esbuild=${ESBUILD:-$here/../node_modules/.bin/esbuild}
# ES modules have no require(); the CommonJS dependencies that are bundled in call it for Node's
# built-in modules.
exec "$esbuild" "$dir/main.js" --bundle --platform=node --format=esm --target=node20 \
  --external:node-pty --log-level=warning --outfile="$dir/dvm-agent.js" \
  --banner:js="import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);"

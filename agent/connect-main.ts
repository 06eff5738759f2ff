#!/usr/bin/env node
// Entry of rsync's connect program. Kept apart from main.ts so each connection starts node with
// nothing but node:tls and friends: no CLI parser, no schema library (≈0.3 s of CPU per connection,
// measured in bench/). The client agent hands over a resolved target in $DVM_TUNNEL_TARGET.
import { runConnect, TUNNEL_TARGET_ENV } from './connect.js';

const targetFile = process.env[TUNNEL_TARGET_ENV];
if (!targetFile) {
  process.stderr.write(`dvm connect: ${TUNNEL_TARGET_ENV} is not set; this program is started by the client agent's rsync\n`);
  process.exit(2);
}
process.exitCode = await runConnect(targetFile);

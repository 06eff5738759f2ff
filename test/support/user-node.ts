// Run a node script as a user's shell would: without tap's process tracker.
//
// Why: tap starts every test file with NODE_OPTIONS="--import=@tapjs/processinfo/...", and
// processinfo wraps child_process so that every child gets that NODE_OPTIONS back, even when the
// test passes an environment without it. Each dvm or agent process then loads tap's tracker before
// its own code: here that took the CLI's heap from ≈ 40 MB to ≈ 100 MB and its start-up from 1 s to
// 4 s, so a test of "dvm stays small on a huge input" measured tap, not dvm. The command is
// therefore `env -u NODE_OPTIONS node ...`: processinfo adds its option to env's environment, and
// env drops it before it execs node (same process, so the child's pid is node's).
export function userNodeCommand(script: string, args: readonly string[], nodeFlags: readonly string[] = []): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, ...nodeFlags, script, ...args]];
}

// Node flags every agent process runs with (pods through images/dvm-agent, local mode through
// controller/local/agent-process.ts).
// The tunnel relays allocate a buffer per 16 KiB TLS record; the garbage that makes keeps V8's
// helper GC threads busy, and on a 2-core node they take CPU from rsync. Collecting on the main
// thread alone made copies faster (bench/README.md, "dvm-gc-threads").
export const AGENT_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** The agent as those processes run it: one file in dist/agent/, written by agent/bundle.sh (which,
 * like images/dvm-agent, names it too). */
export const AGENT_BUNDLE_FILE = 'dvm-agent.js';

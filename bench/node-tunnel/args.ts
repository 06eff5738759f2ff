// --name value pairs for the tunnel scripts (they are started by the bench, never by people).

export function readArgs(argv: string[], required: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '');
    const value = argv[i + 1];
    if (!name || value === undefined) throw new Error(`bad arguments: ${argv.join(' ')}`);
    args[name] = value;
  }
  for (const name of required) if (!(name in args)) throw new Error(`missing --${name}`);
  return args;
}

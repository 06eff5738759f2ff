#!/usr/bin/env node
// Prunes APP/node_modules (production dependencies, from npm ci --omit=dev) to what the agent needs:
// the packages dist/agent and dist/contract import and, transitively, their dependencies (dependencies,
// optionalDependencies and installed peerDependencies, resolved the way Node resolves them). Also drops
// prebuilt native binaries for other platforms (prebuilds/<platform>-<arch>), node-gyp's build files
// but the addon (build/Release/*.node), and npm's hidden lockfile.
// The controller's dependencies (@kubernetes/client-node and the like) never load in the agent.
//   node images/prune-modules.mjs APP [DIR...]   (APP has node_modules and the DIRs under dist/;
//                                                default DIRs: agent contract)
// Used by images/build.sh and images/Containerfile alike.
import { builtinModules } from 'node:module';
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const app = resolve(args[0] ?? '.');
const entryDirs = (args.length > 1 ? args.slice(1) : ['agent', 'contract']).map((dir) => join(app, 'dist', dir));
const modules = join(app, 'node_modules');
const die = (message) => {
  process.stderr.write(`prune-modules: ${message}\n`);
  process.exit(1);
};
for (const dir of entryDirs) if (!existsSync(dir)) die(`${dir} does not exist (build it first)`);
if (!existsSync(modules)) die(`${modules} does not exist (npm ci --omit=dev first)`);

const builtins = new Set(builtinModules);
function* files(dir, suffix) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path, suffix);
    else if (entry.name.endsWith(suffix)) yield path;
  }
}

// Bare specifiers in the agent's code (tsc's ES module output): import/export ... from 'x',
// import 'x', import('x'), require('x').
const patterns = [
  /^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];
const packageName = /^(?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*/i;
const roots = new Set();
for (const file of entryDirs.flatMap((dir) => [...files(dir, '.js')])) {
  const code = readFileSync(file, 'utf8');
  for (const pattern of patterns) {
    for (const [, spec] of code.matchAll(pattern)) {
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtins.has(spec)) continue;
      const name = packageName.exec(spec)?.[0];
      if (!name || builtins.has(name)) die(`${relative(app, file)}: cannot tell the package of import '${spec}'`);
      roots.add(name);
    }
  }
}

// Node's lookup: <dir>/node_modules/<name>, walking up from the requiring package to APP.
function locate(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === app || dir === dirname(dir)) return undefined;
  }
}

const keep = new Set();
const queue = [...roots].map((name) => ({ name, from: app, required: true, by: 'dist/agent' }));
while (queue.length > 0) {
  const { name, from, required, by } = queue.shift();
  const dir = locate(name, from);
  if (!dir) {
    if (required) die(`${name} (needed by ${by}) is not installed under ${modules}`);
    continue;
  }
  if (keep.has(dir)) continue;
  keep.add(dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const by2 = relative(app, dir);
  for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push({ name: dep, from: dir, required: true, by: by2 });
  for (const dep of Object.keys(manifest.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, required: false, by: by2 });
  for (const dep of Object.keys(manifest.peerDependencies ?? {})) queue.push({ name: dep, from: dir, required: false, by: by2 });
}

function size(path) {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of readdirSync(path)) total += size(join(path, entry));
  return total;
}

const removed = [];
function remove(path) {
  removed.push(relative(app, path));
  rmSync(path, { recursive: true, force: true });
}

// Every package directory in a node_modules folder: name or @scope/name.
function packagesIn(nodeModules) {
  const out = [];
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(nodeModules, entry.name);
    if (entry.name.startsWith('@') && entry.isDirectory()) {
      for (const scoped of readdirSync(path)) out.push(join(path, scoped));
    } else {
      out.push(path);
    }
  }
  return out;
}

const platform = `${process.platform}-${process.arch}`;
function prune(nodeModules) {
  for (const dir of packagesIn(nodeModules)) {
    if (!keep.has(dir)) {
      remove(dir);
      continue;
    }
    const prebuilds = join(dir, 'prebuilds');
    if (existsSync(prebuilds) && statSync(prebuilds).isDirectory()) {
      for (const target of readdirSync(prebuilds)) if (target !== platform) remove(join(prebuilds, target));
    }
    // node-gyp's leftovers next to the compiled addon (Makefiles and config.gypi name the build directory).
    const build = join(dir, 'build');
    if (existsSync(join(dir, 'binding.gyp')) && existsSync(build)) {
      for (const entry of readdirSync(build)) if (entry !== 'Release') remove(join(build, entry));
      for (const entry of ['obj.target', 'obj', '.deps']) if (existsSync(join(build, 'Release', entry))) remove(join(build, 'Release', entry));
    }
    const nested = join(dir, 'node_modules');
    if (existsSync(nested)) prune(nested);
  }
  for (const entry of readdirSync(nodeModules)) {
    const path = join(nodeModules, entry);
    if (entry.startsWith('@') && readdirSync(path).length === 0) rmSync(path, { recursive: true });
  }
  // Links in .bin to packages that are gone (existsSync follows the link), and npm's hidden lockfile.
  const bin = join(nodeModules, '.bin');
  if (existsSync(bin)) {
    for (const link of readdirSync(bin)) if (!existsSync(join(bin, link))) remove(join(bin, link));
    if (readdirSync(bin).length === 0) rmSync(bin, { recursive: true });
  }
  const hidden = join(nodeModules, '.package-lock.json');
  if (existsSync(hidden)) remove(hidden);
}

const before = size(modules);
prune(modules);
const after = size(modules);
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
process.stdout.write(
  `prune-modules: ${entryDirs.map((dir) => relative(app, dir)).join(' + ')} import ${[...roots].sort().join(', ')}; kept ${keep.size} packages, ` +
    `removed ${removed.length} paths; node_modules ${mib(before)} -> ${mib(after)}\n`,
);

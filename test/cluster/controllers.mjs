#!/usr/bin/env node
// The dvm test cluster's small controllers, in one process started by up.sh (Node built-ins only, so
// it runs before `npm ci`). Each watches the API only as a trigger and reconciles from full lists
// (plus every 10 s), so a missed event or a restart never leaves anything behind:
//   dns     Services (+ Endpoints of headless ones) -> a hosts file for dnsmasq, then SIGHUP it
//   router  Routes -> HAProxy SNI backends (TLS passthrough, to the Service's ClusterIP:port), reload
//           HAProxy (SIGUSR2 to its master), then status.ingress[0] Admitted
//   volumes PVCs of a StorageClass with our provisioner -> a `local` PV on a directory under the
//           state dir (or a loop device for volumeMode Block); Released PVs -> backing removed, PV deleted
//   lb      LoadBalancer Services -> an address from the pool on the bridge, in status.loadBalancer
// Configuration comes from DVM_* environment variables (see up.sh).
//   node controllers.mjs                   run
//   node controllers.mjs haproxy-config F  write the HAProxy config with no routes to F (for up.sh)
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, closeSync, ftruncateSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, join } from 'node:path';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const cfg = {
  server: env('DVM_API_SERVER', 'https://10.244.0.1:6443'),
  node: env('DVM_NODE_NAME', 'dvm-node'),
  clusterDomain: env('DVM_CLUSTER_DOMAIN', 'cluster.local'),
  appsDomain: env('DVM_APPS_DOMAIN', 'apps.dvm.test'),
  routerIp: env('DVM_ROUTER_IP', '10.244.0.1'),
  routerName: 'dvm-router',
  provisioner: env('DVM_PROVISIONER', 'dvm.test/local'),
  bridge: env('DVM_BRIDGE', 'dvm0'),
  lbStart: env('DVM_LB_START', '10.244.0.200'),
  lbEnd: env('DVM_LB_END', '10.244.0.250'),
  get dnsHosts() {
    return env('DVM_DNS_HOSTS');
  },
  get dnsPidFile() {
    return env('DVM_DNS_PIDFILE');
  },
  get haproxyCfg() {
    return env('DVM_HAPROXY_CFG');
  },
  get haproxyPidFile() {
    return env('DVM_HAPROXY_PIDFILE');
  },
  get volumes() {
    return env('DVM_VOLUMES');
  },
};

const HOST_PATH_ANNOTATION = 'dvm.test/host-path';
const LOOP_ANNOTATION = 'dvm.test/loop-device';
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';

const log = (what, ...rest) => console.log(new Date().toISOString(), what, ...rest);

// ---- HAProxy config (pure) -----------------------------------------------------------------------

/** entries: [{host, backend: "ip:port" | null, route: "ns/name"}] */
export function haproxyConfig(entries) {
  const lines = [
    '# Written by test/cluster/controllers.mjs: one SNI rule and backend per admitted Route.',
    'global',
    '  log stdout format raw local0 info',
    '  maxconn 4096',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout client-fin 30s',
    '  timeout server-fin 30s',
    'frontend router',
    `  bind ${cfg.routerIp}:443`,
    '  tcp-request inspect-delay 5s',
    '  tcp-request content accept if { req.ssl_hello_type 1 }',
  ];
  entries.forEach((entry, index) => lines.push(`  use_backend route_${index} if { req.ssl_sni -i ${entry.host} }`));
  lines.push('  default_backend no_route', 'backend no_route');
  entries.forEach((entry, index) => {
    lines.push(`backend route_${index}`, `  # ${entry.route} ${entry.host}`);
    if (entry.backend) lines.push(`  server s0 ${entry.backend}`);
  });
  return `${lines.join('\n')}\n`;
}

if (process.argv[2] === 'haproxy-config') {
  writeFileSync(process.argv[3], haproxyConfig([]));
  process.exit(0);
}

// ---- API client ----------------------------------------------------------------------------------

const agent = new https.Agent({
  ca: readFileSync(env('DVM_CA')),
  cert: readFileSync(env('DVM_CERT')),
  key: readFileSync(env('DVM_KEY')),
  keepAlive: true,
  maxSockets: 32,
});

function request(method, path, body, contentType = 'application/json') {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      new URL(path, cfg.server),
      {
        method,
        agent,
        headers: { accept: 'application/json', ...(payload ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* keep text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

async function call(method, path, body, contentType) {
  const res = await request(method, path, body, contentType);
  if (res.status >= 300) {
    const error = new Error(`${method} ${path}: HTTP ${res.status} ${res.body?.message ?? ''}`);
    error.status = res.status;
    throw error;
  }
  return res.body;
}

const list = async (path) => (await call('GET', path)).items ?? [];
const mergePatch = (path, body) => call('PATCH', path, body, 'application/merge-patch+json');

/** Calls onEvent for every event of a watch on path; reconnects forever. */
function watch(path, onEvent) {
  const connect = () => {
    const req = https.request(
      new URL(`${path}?watch=1&timeoutSeconds=300&allowWatchBookmarks=false`, cfg.server),
      { agent, headers: { accept: 'application/json' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          setTimeout(connect, 2000);
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          buffer += chunk;
          let newline;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            buffer = buffer.slice(newline + 1);
            onEvent();
          }
        });
        res.on('end', () => setTimeout(connect, 100));
        res.on('error', () => setTimeout(connect, 1000));
      },
    );
    req.on('error', () => setTimeout(connect, 1000));
    req.end();
  };
  connect();
}

/** A reconcile function that never runs twice at once; trigger() coalesces bursts of events. */
function reconciler(name, fn) {
  let running = false;
  let again = false;
  let timer;
  const run = async () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await fn();
    } catch (error) {
      log(name, 'error:', error instanceof Error ? error.message : error);
    } finally {
      running = false;
      if (again) {
        again = false;
        trigger();
      }
    }
  };
  const trigger = () => {
    timer ??= setTimeout(run, 30);
  };
  setInterval(trigger, 10_000);
  return trigger;
}

const readPid = (file) => {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
};

const signalPid = (file, signal) => {
  const pid = readPid(file);
  if (!pid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
};

/** Writes the file (atomically) when its content changed; says whether it did. */
function writeIfChanged(file, content) {
  try {
    if (readFileSync(file, 'utf8') === content) return false;
  } catch {
    /* new */
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, content, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
  return true;
}

const key = (obj) => `${obj.metadata.namespace}/${obj.metadata.name}`;

// ---- dns -----------------------------------------------------------------------------------------

async function reconcileDns() {
  const [services, endpoints] = await Promise.all([list('/api/v1/services'), list('/api/v1/endpoints')]);
  const endpointsByKey = new Map(endpoints.map((e) => [key(e), e]));
  const lines = [];
  for (const svc of services) {
    const { name, namespace } = svc.metadata;
    const names = (prefix) => [`${prefix}.${namespace}.svc`, `${prefix}.${namespace}.svc.${cfg.clusterDomain}`];
    const clusterIp = svc.spec?.clusterIP;
    if (clusterIp && clusterIp !== 'None') {
      lines.push(`${clusterIp} ${names(name).join(' ')}`);
    } else if (clusterIp === 'None') {
      for (const subset of endpointsByKey.get(key(svc))?.subsets ?? []) {
        for (const address of subset.addresses ?? []) {
          lines.push(`${address.ip} ${names(name).join(' ')}`);
          if (address.hostname) lines.push(`${address.ip} ${names(`${address.hostname}.${name}`).join(' ')}`);
        }
      }
    }
  }
  const content = `# Written by test/cluster/controllers.mjs from the API's Services.\n${[...new Set(lines)].sort().join('\n')}\n`;
  if (writeIfChanged(cfg.dnsHosts, content)) {
    signalPid(cfg.dnsPidFile, 'SIGHUP');
    log('dns', `${lines.length} names`);
  }
}

// ---- router --------------------------------------------------------------------------------------

function routeBackend(route, svc) {
  const clusterIp = svc?.spec?.clusterIP;
  if (!clusterIp || clusterIp === 'None') return null;
  const ports = svc.spec.ports ?? [];
  const target = route.spec?.port?.targetPort;
  let port;
  if (target === undefined || target === null || target === '') port = ports[0];
  else if (typeof target === 'string' && !/^\d+$/.test(target)) port = ports.find((p) => p.name === target) ?? ports.find((p) => p.targetPort === target);
  else port = ports.find((p) => p.targetPort === Number(target)) ?? ports.find((p) => p.port === Number(target));
  return port ? `${clusterIp}:${port.port}` : null;
}

let lastHaproxy;

async function reconcileRoutes() {
  const [routes, services] = await Promise.all([list('/apis/route.openshift.io/v1/routes'), list('/api/v1/services')]);
  let domain = cfg.appsDomain;
  try {
    const ingress = await call('GET', '/apis/config.openshift.io/v1/ingresses/cluster');
    if (typeof ingress?.spec?.domain === 'string' && ingress.spec.domain) domain = ingress.spec.domain;
  } catch {
    /* the default */
  }
  const servicesByKey = new Map(services.map((s) => [key(s), s]));
  routes.sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || key(a).localeCompare(key(b)));
  const claimed = new Map();
  const entries = [];
  const statuses = [];
  for (const route of routes) {
    if (route.metadata.deletionTimestamp) continue;
    const { name, namespace } = route.metadata;
    let host = route.spec?.host;
    if (!host) {
      host = `${name}-${namespace}.${domain}`;
      await mergePatch(`/apis/route.openshift.io/v1/namespaces/${namespace}/routes/${name}`, { spec: { host } }).catch((e) => log('router', e.message));
    }
    host = host.toLowerCase();
    let condition;
    const owner = claimed.get(host);
    if (owner) {
      condition = { type: 'Admitted', status: 'False', reason: 'HostAlreadyClaimed', message: `route ${owner} already exposes ${host} and is older` };
    } else if (route.spec?.tls?.termination !== 'passthrough') {
      condition = {
        type: 'Admitted',
        status: 'False',
        reason: 'UnsupportedTermination',
        message: 'the dvm test router only serves spec.tls.termination: passthrough',
      };
    } else if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(host)) {
      condition = { type: 'Admitted', status: 'False', reason: 'InvalidHost', message: `host ${host} is not a DNS name` };
    } else {
      claimed.set(host, key(route));
      const svc = route.spec?.to?.kind && route.spec.to.kind !== 'Service' ? undefined : servicesByKey.get(`${namespace}/${route.spec?.to?.name}`);
      entries.push({ host, backend: routeBackend(route, svc), route: key(route) });
      condition = { type: 'Admitted', status: 'True' };
    }
    statuses.push({ route, host, condition });
  }
  const config = haproxyConfig(entries);
  if (config !== lastHaproxy) {
    const candidate = `${cfg.haproxyCfg}.new`;
    writeFileSync(candidate, config);
    try {
      execFileSync('haproxy', ['-c', '-q', '-f', candidate], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      throw new Error(`haproxy rejected the generated config: ${error.stderr?.toString() ?? error}`);
    }
    renameSync(candidate, cfg.haproxyCfg);
    if (!signalPid(cfg.haproxyPidFile, 'SIGUSR2')) throw new Error('haproxy is not running');
    lastHaproxy = config;
    log('router', `${entries.length} routes: ${entries.map((e) => `${e.host} -> ${e.backend ?? 'none'}`).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the new worker takes over the listener
  }
  for (const { route, host, condition } of statuses) {
    const current = route.status?.ingress?.find((i) => i.routerName === cfg.routerName);
    const currentCondition = current?.conditions?.find((c) => c.type === 'Admitted');
    if (current?.host === host && currentCondition?.status === condition.status && (currentCondition.reason ?? '') === (condition.reason ?? '')) continue;
    const ingress = {
      host,
      routerName: cfg.routerName,
      routerCanonicalHostname: `router-default.${domain}`,
      wildcardPolicy: route.spec?.wildcardPolicy ?? 'None',
      conditions: [{ ...condition, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
    };
    await mergePatch(`/apis/route.openshift.io/v1/namespaces/${route.metadata.namespace}/routes/${route.metadata.name}/status`, {
      status: { ingress: [ingress] },
    })
      .then(() => log('router', `${key(route)} ${host} Admitted=${condition.status}${condition.reason ? ` (${condition.reason})` : ''}`))
      .catch((e) => log('router', e.message));
  }
}

// ---- volumes -------------------------------------------------------------------------------------

const SUFFIXES = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  m: 1e-3,
  '': 1,
};

export function quantityBytes(quantity) {
  const match = /^([0-9.]+(?:[eE][-+]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/.exec(String(quantity ?? '').trim());
  if (!match) return undefined;
  return Math.ceil(Number(match[1]) * SUFFIXES[match[2] ?? '']);
}

const losetup = (...args) => execFileSync('losetup', args, { encoding: 'utf8' }).trim();

function backingFileLoop(file) {
  try {
    return losetup('-j', file).split('\n').filter(Boolean)[0]?.split(':')[0];
  } catch {
    return undefined;
  }
}

function insideVolumes(path) {
  return typeof path === 'string' && path.startsWith(`${cfg.volumes}/`) && !path.includes('/../');
}

async function provision(pvc, storageClass) {
  const { name, namespace, uid } = pvc.metadata;
  const pvName = `pvc-${uid}`;
  const volumeMode = pvc.spec?.volumeMode ?? 'Filesystem';
  const requested = pvc.spec?.resources?.requests?.storage ?? '1Gi';
  const annotations = { [PROVISIONED_BY]: cfg.provisioner };
  let local;
  if (volumeMode === 'Block') {
    const bytes = quantityBytes(requested);
    if (!bytes) throw new Error(`${namespace}/${name}: cannot read size ${requested}`);
    const file = join(cfg.volumes, `${pvName}.img`);
    mkdirSync(cfg.volumes, { recursive: true });
    if (!existsSync(file)) {
      const fd = openSync(file, 'w', 0o600);
      ftruncateSync(fd, bytes);
      closeSync(fd);
    }
    const device = backingFileLoop(file) ?? losetup('--find', '--show', file);
    annotations[HOST_PATH_ANNOTATION] = file;
    annotations[LOOP_ANNOTATION] = device;
    local = { path: device };
  } else {
    const dir = join(cfg.volumes, pvName);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    annotations[HOST_PATH_ANNOTATION] = dir;
    local = { path: dir };
  }
  const pv = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: pvName, annotations, labels: { 'dvm.test/provisioner': 'local' } },
    spec: {
      capacity: { storage: requested },
      accessModes: pvc.spec?.accessModes?.length ? pvc.spec.accessModes : ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
      storageClassName: storageClass.metadata.name,
      volumeMode,
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid },
      local,
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [cfg.node] }] }] } },
      ...(storageClass.mountOptions ? { mountOptions: storageClass.mountOptions } : {}),
    },
  };
  try {
    await call('POST', '/api/v1/persistentvolumes', pv);
    log('volumes', `${namespace}/${name} -> ${pvName} ${volumeMode} ${annotations[HOST_PATH_ANNOTATION]}`);
  } catch (error) {
    if (error.status !== 409) throw error;
  }
}

function releaseBacking(pv) {
  const path = pv.metadata.annotations?.[HOST_PATH_ANNOTATION];
  if (!insideVolumes(path)) throw new Error(`${pv.metadata.name}: refusing to remove ${path}, not under ${cfg.volumes}`);
  if (pv.spec?.volumeMode === 'Block') {
    const device = backingFileLoop(path);
    if (device) losetup('-d', device);
  }
  rmSync(path, { recursive: true, force: true });
}

async function reconcileVolumes() {
  const [classes, pvcs, pvs] = await Promise.all([
    list('/apis/storage.k8s.io/v1/storageclasses'),
    list('/api/v1/persistentvolumeclaims'),
    list('/api/v1/persistentvolumes'),
  ]);
  const ours = new Map(classes.filter((c) => c.provisioner === cfg.provisioner).map((c) => [c.metadata.name, c]));
  const pvNames = new Set(pvs.map((pv) => pv.metadata.name));
  for (const pvc of pvcs) {
    if (pvc.status?.phase !== 'Pending' || pvc.metadata.deletionTimestamp) continue;
    const storageClass = ours.get(pvc.spec?.storageClassName ?? '');
    if (!storageClass) continue;
    if (pvc.spec?.volumeName && pvNames.has(pvc.spec.volumeName)) continue;
    if (pvNames.has(`pvc-${pvc.metadata.uid}`)) continue;
    await provision(pvc, storageClass).catch((e) => log('volumes', `${key(pvc)}: ${e.message}`));
  }
  for (const pv of pvs) {
    if (pv.metadata.annotations?.[PROVISIONED_BY] !== cfg.provisioner) continue;
    const phase = pv.status?.phase;
    if ((phase === 'Released' || phase === 'Failed') && pv.spec?.persistentVolumeReclaimPolicy === 'Delete' && !pv.metadata.deletionTimestamp) {
      try {
        releaseBacking(pv);
        await call('DELETE', `/api/v1/persistentvolumes/${pv.metadata.name}`);
        log('volumes', `${pv.metadata.name} released: backing removed, PV deleted`);
      } catch (error) {
        log('volumes', `${pv.metadata.name}: ${error.message}`);
      }
    } else if (pv.spec?.volumeMode === 'Block' && pv.spec?.local?.path) {
      // After down.sh detached it: put the same loop device back on the backing file.
      const file = pv.metadata.annotations?.[HOST_PATH_ANNOTATION];
      if (insideVolumes(file) && existsSync(file) && !backingFileLoop(file)) {
        try {
          losetup(pv.spec.local.path, file);
          log('volumes', `${pv.metadata.name}: reattached ${pv.spec.local.path}`);
        } catch (error) {
          log('volumes', `${pv.metadata.name}: cannot reattach ${pv.spec.local.path}: ${error.message}`);
        }
      }
    }
  }
}

// ---- lb ------------------------------------------------------------------------------------------

const ipToInt = (ip) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const intToIp = (n) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
const inPool = (ip) => typeof ip === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(ip) && ipToInt(ip) >= ipToInt(cfg.lbStart) && ipToInt(ip) <= ipToInt(cfg.lbEnd);

function bridgeAddresses() {
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', cfg.bridge], { encoding: 'utf8' });
  return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]).filter(inPool);
}

async function reconcileLoadBalancers() {
  const services = (await list('/api/v1/services')).filter((s) => s.spec?.type === 'LoadBalancer' && !s.spec?.loadBalancerClass);
  const used = new Set();
  for (const svc of services) for (const ingress of svc.status?.loadBalancer?.ingress ?? []) if (inPool(ingress.ip)) used.add(ingress.ip);
  const wanted = new Set(used);
  const assign = [];
  for (const svc of services) {
    if (svc.status?.loadBalancer?.ingress?.length) continue;
    let ip = inPool(svc.spec?.loadBalancerIP) && !wanted.has(svc.spec.loadBalancerIP) ? svc.spec.loadBalancerIP : undefined;
    for (let n = ipToInt(cfg.lbStart); !ip && n <= ipToInt(cfg.lbEnd); n++) if (!wanted.has(intToIp(n))) ip = intToIp(n);
    if (!ip) {
      log('lb', `${key(svc)}: the pool ${cfg.lbStart}-${cfg.lbEnd} is exhausted`);
      continue;
    }
    wanted.add(ip);
    assign.push([svc, ip]);
  }
  const present = new Set(bridgeAddresses());
  for (const ip of wanted) if (!present.has(ip)) execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', cfg.bridge]);
  for (const ip of present) if (!wanted.has(ip)) execFileSync('ip', ['addr', 'del', `${ip}/32`, 'dev', cfg.bridge]);
  for (const [svc, ip] of assign) {
    await mergePatch(`/api/v1/namespaces/${svc.metadata.namespace}/services/${svc.metadata.name}/status`, { status: { loadBalancer: { ingress: [{ ip }] } } })
      .then(() => log('lb', `${key(svc)} -> ${ip}`))
      .catch((e) => log('lb', `${key(svc)}: ${e.message}`));
  }
}

// ---- main ----------------------------------------------------------------------------------------

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

const dns = reconciler('dns', reconcileDns);
const router = reconciler('router', reconcileRoutes);
const volumes = reconciler('volumes', reconcileVolumes);
const lb = reconciler('lb', reconcileLoadBalancers);

watch('/api/v1/services', () => {
  dns();
  router();
  lb();
});
watch('/api/v1/endpoints', dns);
watch('/apis/route.openshift.io/v1/routes', router);
watch('/apis/config.openshift.io/v1/ingresses', router);
watch('/api/v1/persistentvolumeclaims', volumes);
watch('/api/v1/persistentvolumes', volumes);
watch('/apis/storage.k8s.io/v1/storageclasses', volumes);
for (const trigger of [dns, router, volumes, lb]) trigger();
log('controllers', `started: node ${cfg.node}, apps domain ${cfg.appsDomain}, router ${cfg.routerIp}:443, LB pool ${cfg.lbStart}-${cfg.lbEnd}`);

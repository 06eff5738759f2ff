// The proxy and namespace helpers the fault suite stands on: tinyproxy really authenticates and logs
// CONNECTs, and the namespace topology really forces src -> dst through the proxy host.
import { createServer, connect, type Server } from 'node:net';
import t from 'tap';
import { createTopology, netemAvailable, python3Available } from './support/netns.js';
import { startTinyproxy } from './support/tinyproxy.js';

/** Sends CONNECT through the proxy and returns the proxy's status line. */
function connectVia(proxyPort: number, target: string, auth?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: proxyPort });
    socket.setEncoding('utf8');
    let reply = '';
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.split('\r\n')[0] ?? '');
      }
    });
    socket.on('error', reject);
    const headers = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
    if (auth) headers.push(`Proxy-Authorization: Basic ${Buffer.from(auth).toString('base64')}`);
    socket.write(`${headers.join('\r\n')}\r\n\r\n`);
  });
}

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.end('hello\n'));
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

t.test('tinyproxy with BasicAuth: right password tunnels, wrong one is refused, restart keeps the port', async (t) => {
  const { server, port } = await listen();
  t.teardown(() => server.close());
  const proxy = await startTinyproxy({ user: 'alice', password: 'pw-s3cret' });
  t.teardown(() => proxy.stop());
  t.match(proxy.url, /^http:\/\/alice:pw-s3cret@127\.0\.0\.1:\d+$/);
  t.match(await connectVia(proxy.port, `127.0.0.1:${port}`, 'alice:pw-s3cret'), /^HTTP\/1\.[01] 200/);
  // tinyproxy 1.11.1 quirk: a wrong password gets 401 (not 407); no credentials at all get 407.
  t.match(await connectVia(proxy.port, `127.0.0.1:${port}`, 'alice:wrong'), /^HTTP\/1\.[01] 401/);
  t.match(await connectVia(proxy.port, `127.0.0.1:${port}`), /^HTTP\/1\.[01] 407/);
  t.ok(proxy.connects().includes(`127.0.0.1:${port}`), 'CONNECT logged');
  const before = proxy.pid;
  await proxy.restart();
  t.not(proxy.pid, before, 'a new process');
  t.match(await connectVia(proxy.port, `127.0.0.1:${port}`, 'alice:pw-s3cret'), /^HTTP\/1\.[01] 200/, 'serves again on the same port');
});

t.test('tinyproxy without auth allows CONNECT to any port', async (t) => {
  const { server, port } = await listen();
  t.teardown(() => server.close());
  const proxy = await startTinyproxy();
  t.teardown(() => proxy.stop());
  t.equal(proxy.url, `http://127.0.0.1:${proxy.port}`);
  t.match(await connectVia(proxy.port, `127.0.0.1:${port}`), /^HTTP\/1\.[01] 200/);
});

t.test('namespace topology: proxy-only has no route src -> dst except through the proxy', async (t) => {
  const topo = await createTopology({ route: 'proxy-only' });
  t.teardown(() => topo.teardown());
  // A listener on the dst host (nc is not guaranteed; a one-line node server is).
  const server = topo.spawn(topo.dst, process.execPath, ['-e', `require('net').createServer(s=>s.end('from-dst\\n')).listen(9000,'${topo.addresses.dst}')`], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    server.kill('SIGKILL');
  });
  // wait for the dst listener
  for (let i = 0; i < 100 && (await topo.exec(topo.dst, 'ss', ['-Hltn', 'sport = :9000'])).stdout.trim() === ''; i++)
    await new Promise((r) => setTimeout(r, 50));

  t.same(await topo.dial(topo.src, topo.addresses.proxyFromSrc, 1), { ok: false, data: '', error: 'ECONNREFUSED' }, 'src reaches the proxy host');
  const direct = await topo.dial(topo.src, topo.addresses.dst, 9000);
  t.equal(direct.ok, false, `no direct route src -> dst (${direct.error})`);
  t.same(await topo.dial(topo.proxy, topo.addresses.dst, 9000), { ok: true, data: 'from-dst\n' }, 'the proxy host reaches dst');

  const proxy = await startTinyproxy({ netns: topo.proxy, listen: topo.addresses.proxyFromSrc, allow: [topo.subnets.srcProxy], user: 'u', password: 'p' });
  t.teardown(() => proxy.stop());
  const viaProxy = await topo.dial(topo.src, topo.addresses.dst, 9000, { proxy: proxy.url });
  t.same(viaProxy, { ok: true, data: 'from-dst\n' }, 'through the proxy it works');
  t.same(proxy.connects(), [`${topo.addresses.dst}:9000`]);

  await topo.linkDown(topo.links.srcProxy);
  const down = await topo.dial(topo.src, topo.addresses.dst, 9000, { proxy: proxy.url, timeoutMs: 1500 });
  t.equal(down.ok, false, `link down cuts it (${down.error})`);
  await topo.linkUp(topo.links.srcProxy);
  t.same(await topo.dial(topo.src, topo.addresses.dst, 9000, { proxy: proxy.url }), { ok: true, data: 'from-dst\n' }, 'link up restores it');
});

t.test('namespace topology: routed lets src reach dst directly', async (t) => {
  const topo = await createTopology({ route: 'routed' });
  t.teardown(() => topo.teardown());
  const server = topo.spawn(topo.dst, process.execPath, ['-e', `require('net').createServer(s=>s.end('ok\\n')).listen(9000,'${topo.addresses.dst}')`], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    server.kill('SIGKILL');
  });
  for (let i = 0; i < 100 && (await topo.exec(topo.dst, 'ss', ['-Hltn', 'sport = :9000'])).stdout.trim() === ''; i++)
    await new Promise((r) => setTimeout(r, 50));
  t.same(await topo.dial(topo.src, topo.addresses.dst, 9000), { ok: true, data: 'ok\n' }, 'direct route works');
});

t.test(
  'userspace link: carries traffic, and impair() drops it all at 100% loss',
  { skip: python3Available() ? false : 'python3 is not installed' },
  async (t) => {
    const topo = await createTopology({ route: 'routed', srcLink: 'userspace' });
    t.teardown(() => topo.teardown());
    const server = topo.spawn(topo.dst, process.execPath, ['-e', `require('net').createServer(s=>s.end('ok\\n')).listen(9000,'${topo.addresses.dst}')`], {
      stdio: 'ignore',
    });
    t.teardown(() => {
      server.kill('SIGKILL');
    });
    for (let i = 0; i < 100 && (await topo.exec(topo.dst, 'ss', ['-Hltn', 'sport = :9000'])).stdout.trim() === ''; i++)
      await new Promise((r) => setTimeout(r, 50));
    t.same(await topo.dial(topo.src, topo.addresses.dst, 9000), { ok: true, data: 'ok\n' }, 'works through the userspace link');
    await topo.impair(topo.links.srcProxy, { lossPercent: 100 });
    const lost = await topo.dial(topo.src, topo.addresses.dst, 9000, { timeoutMs: 1500 });
    t.same(lost, { ok: false, data: '', error: 'timeout' }, 'all packets lost');
    await topo.impair(topo.links.srcProxy, { lossPercent: 5, delayMs: 50 });
    t.same(await topo.dial(topo.src, topo.addresses.dst, 9000, { timeoutMs: 15_000 }), { ok: true, data: 'ok\n' }, 'lossy, delayed link still carries TCP');
    await topo.clearImpairment(topo.links.srcProxy);
    await topo.linkDown(topo.links.srcProxy);
    t.equal((await topo.dial(topo.src, topo.addresses.dst, 9000, { timeoutMs: 1500 })).ok, false, 'link down cuts it');
    await topo.linkUp(topo.links.srcProxy);
    t.same(await topo.dial(topo.src, topo.addresses.dst, 9000), { ok: true, data: 'ok\n' }, 'link up restores it');
  },
);

t.test('netem probe answers without leaving a namespace behind', async (t) => {
  t.type(netemAvailable(), 'boolean');
  t.notMatch((await import('node:child_process')).execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /dvmt-probe/);
});

// Who opened a loopback connection (agent/tunnel/socket-owner.ts), from /proc/net/tcp{,6} text: the
// row must match the connection's whole address pair, both addresses and both ports, in either
// table's form; port numbers alone would take a stranger's 127.0.0.N:P -> 127.0.0.1:P for our own
// accepted 127.0.0.1:P -> 127.0.0.N:P.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { canonicalAddress, connectionOwner, findConnectionOwner, parseProcEndpoint } from '../agent/tunnel/socket-owner.js';

const HEADER4 = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const HEADER6 =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const row = (local: string, remote: string, state: string, uid: number) =>
  `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000 ${uid} 0 1 1`;
const ep = (address: string, port: number) => ({ address, port });

t.test('addresses: IPv4, IPv6 and v4-mapped forms compare as one', async (t) => {
  t.equal(canonicalAddress('127.0.0.1'), '00000000000000000000ffff7f000001');
  t.equal(canonicalAddress('::ffff:127.0.0.1'), canonicalAddress('127.0.0.1'));
  t.equal(canonicalAddress('0:0:0:0:0:ffff:7f00:1'), canonicalAddress('127.0.0.1'));
  t.equal(canonicalAddress('::1'), '00000000000000000000000000000001');
  t.equal(canonicalAddress('[::1]'), canonicalAddress('::1'));
  t.not(canonicalAddress('127.0.0.2'), canonicalAddress('127.0.0.1'));
  t.equal(canonicalAddress('not an address'), null);
  t.same(parseProcEndpoint('0100007F:9C40', true), { address: canonicalAddress('127.0.0.1'), port: 0x9c40 }, 'tcp, little-endian host');
  t.same(parseProcEndpoint('7F000001:9C40', false), { address: canonicalAddress('127.0.0.1'), port: 0x9c40 }, 'tcp, big-endian host');
  t.same(parseProcEndpoint('0000000000000000FFFF00000100007F:9C40', true), { address: canonicalAddress('127.0.0.1'), port: 0x9c40 }, 'tcp6, v4-mapped');
  t.same(parseProcEndpoint('00000000000000000000000001000000:0016', true), { address: canonicalAddress('::1'), port: 22 }, 'tcp6, ::1');
  t.equal(parseProcEndpoint('garbage', true), null);
});

t.test('the same port numbers on another 127.0.0.x are not our socket', async (t) => {
  // Entry 127.0.0.1:40000 (9C40). A stranger (65534) bound 127.0.0.7:40000 and connected to it; our
  // accepted socket (uid 0) is 127.0.0.1:40000 -> 127.0.0.7:40000. Either row order.
  const stranger = row('0700007F:9C40', '0100007F:9C40', '01', 65534);
  const accepted = row('0100007F:9C40', '0700007F:9C40', '01', 0);
  const connecting = { local: ep('127.0.0.7', 40000), remote: ep('127.0.0.1', 40000) };
  for (const rows of [
    [accepted, stranger],
    [stranger, accepted],
  ]) {
    t.same(findConnectionOwner([HEADER4, ...rows].join('\n'), connecting, true), { found: 'one', uid: 65534 }, 'the stranger, whichever row comes first');
  }
  t.same(findConnectionOwner([HEADER4, accepted].join('\n'), connecting, true), { found: 'none' }, 'our accepted row alone is not a match: fail closed');
});

t.test('tcp6 rows: an IPv6 socket connected to the IPv4 entry through a v4-mapped address', async (t) => {
  const table = [
    HEADER6,
    row('0000000000000000FFFF00000700007F:9C40', '0000000000000000FFFF00000100007F:9C40', '01', 65534),
    row('0000000000000000FFFF00000100007F:D431', '0000000000000000FFFF00000100007F:9C40', '01', 1000),
  ].join('\n');
  t.same(findConnectionOwner(table, { local: ep('127.0.0.1', 0xd431), remote: ep('127.0.0.1', 40000) }, true), { found: 'one', uid: 1000 });
  t.same(findConnectionOwner(table, { local: ep('::ffff:127.0.0.7', 40000), remote: ep('127.0.0.1', 40000) }, true), { found: 'one', uid: 65534 });
  t.same(findConnectionOwner(table, { local: ep('127.0.0.1', 40000), remote: ep('127.0.0.1', 40000) }, true), { found: 'none' });
});

t.test('only established rows count; a duplicate is trusted by no one', async (t) => {
  const connecting = { local: ep('127.0.0.1', 0xd431), remote: ep('127.0.0.1', 40000) };
  for (const state of ['06', '04', '05', '08', '0A']) {
    t.same(
      findConnectionOwner([HEADER4, row('0100007F:D431', '0100007F:9C40', state, 1000)].join('\n'), connecting, true),
      { found: 'none' },
      `state ${state}`,
    );
  }
  const twice = [HEADER4, row('0100007F:D431', '0100007F:9C40', '01', 0), row('0100007F:D431', '0100007F:9C40', '01', 65534)].join('\n');
  t.same(findConnectionOwner(twice, connecting, true), { found: 'ambiguous' });
});

t.test('connectionOwner reads both tables and fails closed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dvm-owner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tcp = join(dir, 'tcp');
  const tcp6 = join(dir, 'tcp6');
  const le = (await import('node:os')).endianness() === 'LE';
  const v4 = (a: number, b: number, c: number, d: number) =>
    (le ? [d, c, b, a] : [a, b, c, d])
      .map((x) => x.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase();
  writeFileSync(tcp, [HEADER4, row(`${v4(127, 0, 0, 1)}:9C40`, `${v4(127, 0, 0, 1)}:D431`, '01', 0)].join('\n'));
  writeFileSync(
    tcp6,
    [
      HEADER6,
      row(
        `0000000000000000${le ? 'FFFF0000' : '0000FFFF'}${v4(127, 0, 0, 1)}:D431`,
        `0000000000000000${le ? 'FFFF0000' : '0000FFFF'}${v4(127, 0, 0, 1)}:9C40`,
        '01',
        1000,
      ),
    ].join('\n'),
  );
  const accepted = { local: ep('127.0.0.1', 40000), remote: ep('127.0.0.1', 0xd431) };
  t.same(connectionOwner(accepted, [tcp, tcp6]), { found: 'one', uid: 1000 }, 'found in tcp6');
  t.same(connectionOwner(accepted, [tcp]), { found: 'none' }, 'our own accepted row is never the answer');
  t.same(connectionOwner(accepted, [join(dir, 'missing')]), { found: 'unknowable' }, 'no table at all');
  writeFileSync(join(dir, 'dup'), [HEADER4, row(`${v4(127, 0, 0, 1)}:D431`, `${v4(127, 0, 0, 1)}:9C40`, '01', 0)].join('\n'));
  t.same(connectionOwner(accepted, [join(dir, 'dup'), tcp6]), { found: 'ambiguous' }, 'one in each table: trust neither');
});

/**
 * One errno mechanism (sys/errno.ts): the table netd's replies use, the names netlink and
 * socket-option errors carry, and Node's `code` of a system error all read through `errnoOf`.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import * as netdErrno from '../../src/netd/errno.ts';
import {
  ERRNO_TABLE,
  errnoName,
  errnoNumber,
  errnoOf,
  NetlinkError,
  strerror,
} from '../../src/sys/mod.ts';
import { SocketOptionError } from '../../src/xfrm/mod.ts';

test('netd prints the texts of the one table', () => {
  assert.equal(netdErrno.ERRNO_TABLE, ERRNO_TABLE);
  assert.equal(netdErrno.strerror('ENONET'), 'Machine is not on the network');
  assert.equal(strerror('EADDRINUSE'), 'Address already in use');
});

test('names and numbers agree both ways, and with the platform where it knows the name', () => {
  for (const [name, { errno }] of Object.entries(ERRNO_TABLE)) {
    assert.equal(errnoName(errno), name);
    assert.equal(errnoNumber(name as keyof typeof ERRNO_TABLE), errno);
  }
  assert.equal(errnoName(71), 'EPROTO'); // not in the table: the platform's name
  assert.equal(errnoName(100000), 'E100000');
});

test('errnoOf reads netlink errors, socket-option errors and Node system errors alike', async () => {
  assert.equal(errnoOf(new NetlinkError('allocate SPI', errnoNumber('ENOENT'))), 'ENOENT');
  assert.equal(errnoOf(new SocketOptionError('apply IP_XFRM_POLICY', 22)), 'EINVAL');
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  try {
    a.bind(0, '127.0.0.1');
    await once(a, 'listening');
    const busy = once(b, 'error');
    b.bind(a.address().port, '127.0.0.1');
    const [err] = (await busy) as [Error];
    assert.equal(errnoOf(err), 'EADDRINUSE');
  } finally {
    a.close();
    b.close();
  }
  assert.equal(errnoOf(new Error('plain')), undefined);
  assert.equal(errnoOf(undefined), undefined);
  assert.equal(errnoOf({ code: 'ERR_IPSEC_ILLEGAL_STATE' }), undefined);
});

/**
 * NetlinkSocket against the real kernel, inside a scratch network namespace: ALLOCSPI creates
 * larval states the decoder reads, a conflicting SPI fails with ENOENT and the kernel's text,
 * GETSA/DELSA/UPDSA errors map to NetlinkError, dumps end at NLMSG_DONE, the owned-SA flush
 * deletes only tsnetd's reqid, and a closed socket refuses work.
 *
 * @requires root (NETLINK_XFRM in a network namespace)
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { runInNetns } from '../fixtures/xfrm/run_in_netns.ts';

interface Sa {
  destination: string;
  source: string;
  spi: number;
  proto: number;
  family: number;
  reqid: number;
  mode: number;
  lifetime: { hardAddExpiresSeconds: string; softByteLimit: string };
  current: { bytes: string; packets: string; addTime: string };
  selector: { destination: string; destinationPrefixLength: number };
  mark?: { value: number; mask: number };
  replayState?: { seq: number; oseq: number; bitmap: number };
}
interface Failure {
  ok: false;
  error: {
    name: string;
    code: string;
    errno: number;
    errnoName: string;
    kernelMessage: string | null;
    message: string;
  };
}
interface Result {
  allocated: Sa[];
  conflict: Failure;
  sameSpiOtherDst: { ok: true; value: Sa[] } | Failure;
  random6: Sa;
  foreign: Sa;
  larval: Sa[];
  missing: Failure;
  updateMissing: Failure;
  dumpBefore: {
    destination: string;
    spi: number;
    reqid: number;
    mark: { value: number; mask: number } | null;
  }[];
  deleted: number;
  deleteAgain: Failure;
  flushed: { deleted: number; expiring: number };
  dumpAfter: { destination: string; spi: number; reqid: number }[];
  afterClose: Failure;
}

let r: Result;
before(async () => {
  r = (await runInNetns('sa_lifecycle.ts')) as Result;
});

test('NetlinkSocket.request() ALLOCSPI returns the larval SA the kernel created', () => {
  assert.equal(r.allocated.length, 1);
  const sa = r.allocated[0]!;
  assert.equal(sa.spi, 0xd1201d);
  assert.equal(sa.destination, '192.0.2.1');
  assert.equal(sa.source, '0.0.0.0');
  assert.equal(sa.proto, 50);
  assert.equal(sa.family, 2);
  assert.equal(sa.reqid, 4242);
  assert.equal(sa.mode, 0);
  // The kernel gives larval states xfrm_acq_expires (30 s) and fills the selector with /32.
  assert.equal(sa.lifetime.hardAddExpiresSeconds, '30');
  assert.equal(sa.selector.destination, '192.0.2.1');
  assert.equal(sa.selector.destinationPrefixLength, 32);
  assert.equal(sa.current.bytes, '0');
  assert.equal(sa.current.packets, '0');
  assert.ok(Number(sa.current.addTime) > 1_600_000_000);
});

test('NetlinkSocket.request() maps a taken SPI to NetlinkError ENOENT with the kernel text', () => {
  assert.equal(r.conflict.ok, false);
  assert.equal(r.conflict.error.name, 'NetlinkError');
  assert.equal(r.conflict.error.code, 'ERR_SYS_NETLINK');
  assert.equal(r.conflict.error.errno, 2);
  assert.equal(r.conflict.error.errnoName, 'ENOENT');
  assert.equal(r.conflict.error.kernelMessage, 'No SPI available in the requested range');
  assert.match(
    r.conflict.error.message,
    /^Cannot allocate SPI 0x00d1201d: no such file or directory \(ENOENT\)/,
  );
});

test('ALLOCSPI of a taken SPI for another destination: per-destination on old kernels, refused on new ones', () => {
  // Android's rule: uniqueness per (destination, SPI). Linux 6.17+ ("xfrm: Duplicate SPI
  // Handling") checks ALLOCSPI SPIs across all destinations and answers ENOENT.
  if (r.sameSpiOtherDst.ok) {
    assert.equal(r.sameSpiOtherDst.value[0]!.spi, 0xd1201d);
    assert.equal(r.sameSpiOtherDst.value[0]!.destination, '192.0.2.7');
  } else {
    assert.equal(r.sameSpiOtherDst.error.errnoName, 'ENOENT');
  }
});

test('ALLOCSPI with a range yields an SPI inside it and keeps the mark', () => {
  assert.ok(r.random6.spi >= 256 && r.random6.spi <= 0xfffffffe);
  assert.equal(r.random6.destination, '2001:db8::1');
  assert.equal(r.random6.family, 10);
  assert.deepEqual(r.random6.mark, { value: 9, mask: 0xff });
});

test('GETSA on a larval state decodes it; unknown SA gives ESRCH', () => {
  assert.equal(r.larval.length, 1);
  assert.equal(r.larval[0]!.spi, 0xd1201d);
  assert.equal(r.larval[0]!.reqid, 4242);
  assert.deepEqual(r.larval[0]!.replayState, { oseq: 0, seq: 0, bitmap: 0 });
  assert.equal(r.missing.error.errnoName, 'ESRCH');
  // UPDSA builds the state before looking it up: a kernel without ESP stops at the type lookup.
  assert.ok(
    ['ESRCH', 'EPROTONOSUPPORT'].includes(r.updateMissing.error.errnoName),
    r.updateMissing.error.message,
  );
});

test('NetlinkSocket.dump() returns every SA up to NLMSG_DONE', () => {
  const spis = r.dumpBefore
    .filter((s) => s.spi !== 0)
    .map((s) => `${s.destination}/${s.spi}/${s.reqid}`);
  const expected = [
    `192.0.2.1/${0x5000}/77`,
    `192.0.2.1/${0xd1201d}/4242`,
    `2001:db8::1/${r.random6.spi}/4242`,
  ];
  if (r.sameSpiOtherDst.ok) expected.push(`192.0.2.7/${0xd1201d}/4242`);
  assert.deepEqual(spis.sort(), expected.sort());
  assert.deepEqual(r.dumpBefore.find((s) => s.destination === '2001:db8::1')?.mark, {
    value: 9,
    mask: 0xff,
  });
});

test('DELSA with a mark deletes (bare ACK) and a second DELSA gives ESRCH', () => {
  assert.equal(r.deleted, 0);
  assert.equal(r.deleteAgain.error.errnoName, 'ESRCH');
});

test('flushOwnedSas() deletes only the SAs with tsnetd reqid', () => {
  // Own and left: 192.0.2.1/0xd1201d (and 192.0.2.7 where allowed). Every refused ALLOCSPI left
  // an SPI-0 larval state behind, which DELSA cannot address: reported as expiring.
  assert.equal(r.flushed.deleted, r.sameSpiOtherDst.ok ? 2 : 1);
  assert.equal(r.flushed.expiring, r.sameSpiOtherDst.ok ? 1 : 2);
  const left = r.dumpAfter.filter((s) => s.spi !== 0);
  assert.deepEqual(left, [{ destination: '192.0.2.1', spi: 0x5000, reqid: 77 }]);
});

test('NetlinkSocket.close() is idempotent and later requests fail with EBADF', () => {
  assert.equal(r.afterClose.error.errnoName, 'EBADF');
});

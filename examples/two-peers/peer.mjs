#!/usr/bin/env node
/**
 * One IPsec peer of docs/two-peers.md, in plain JavaScript for Node.js ≥ 20 (no TypeScript, no
 * `await using`). Run two of them, `a` and `b`, as two processes:
 *
 *   node peer.mjs keygen keys.json                       # once: a new file, mode 0600
 *   node peer.mjs a keys.json 127.0.0.1:45001:5001 127.0.0.1:45002:5002
 *   node peer.mjs b keys.json 127.0.0.1:45002:5002 127.0.0.1:45001:5001
 *
 * Arguments: name, key file, then own and peer `address:encapsulationPort:dataPort`. The key file
 * holds what an IKE exchange would have produced: for each key generation, one SPI and one
 * AES-GCM key per direction. Each peer reads commands on stdin, one per line, and writes one
 * JSON object per line on stdout:
 *
 *   send N          send N datagrams to the peer           → {"event":"sent",...}
 *   rekey-in G      build and apply the inbound transform of generation G
 *   rekey-out G     build and apply the outbound transform of generation G
 *   close-old       close the transforms of every older generation
 *   state           SA counters of every open transform
 *   quit            close everything and exit 0
 *
 * Every datagram received is reported as {"event":"message","text":...}. The safe rekey order
 * (both peers) is: rekey-in on both, then rekey-out on both, then close-old on both.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { IpSecAlgorithm, IpSecManager, IpSecTransform } from 'tsnetd/ipsec';

/** AES-GCM with a 256-bit key, a 4-byte salt and a 128-bit ICV: 36 key bytes. */
const KEY_BYTES = 36;
const ICV_BITS = 128;

function print(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

/** A random SPI in the range every peer accepts (256..0xFFFFFFFE). */
function randomSpi() {
  return 256 + (randomBytes(4).readUInt32BE(0) % (0xffffffff - 256));
}

/** Writes a new key file (refusing to overwrite one), readable by its owner only. */
function keygen(path, generations = 2) {
  const file = { generations: [] };
  for (let g = 0; g < generations; g++) {
    file.generations.push({
      'a-to-b': { spi: randomSpi(), key: randomBytes(KEY_BYTES).toString('hex') },
      'b-to-a': { spi: randomSpi(), key: randomBytes(KEY_BYTES).toString('hex') },
    });
  }
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

/** Reads the key file, refusing one that others may read or write. */
function readKeys(path) {
  const stat = statSync(path);
  if ((stat.mode & 0o077) !== 0 || stat.uid !== process.getuid()) {
    throw new Error(`${path} must belong to you and have mode 0600 (it holds keys)`);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

function endpoint(text) {
  const [address, encapPort, dataPort] = text.split(':');
  return { address, encapPort: Number(encapPort), dataPort: Number(dataPort) };
}

async function main() {
  const [name, keyPath, localText, peerText] = process.argv.slice(2);
  if (name === 'keygen') {
    keygen(keyPath);
    return;
  }
  if ((name !== 'a' && name !== 'b') || peerText === undefined) {
    throw new Error(
      'usage: peer.mjs keygen FILE | peer.mjs a|b FILE ADDR:ENCAP:DATA ADDR:ENCAP:DATA',
    );
  }
  const keys = readKeys(keyPath);
  const local = endpoint(localText);
  const peer = endpoint(peerText);
  const outName = name === 'a' ? 'a-to-b' : 'b-to-a';
  const inName = name === 'a' ? 'b-to-a' : 'a-to-b';

  const ipsec = await IpSecManager.create(); // the userspace backend: no root needed
  try {
    const encap = await ipsec.openUdpEncapsulationSocket(local.encapPort);
    const socket = ipsec.createDatagramSocket('udp4');
    await socket.bind(local.dataPort, local.address);
    socket.on('message', (msg) => print({ event: 'message', text: String(msg) }));

    /** Open transforms by generation: { in, out }. */
    const transforms = new Map();

    async function build(direction, generation) {
      const sa = keys.generations[generation][direction === 'in' ? inName : outName];
      const key = Buffer.from(sa.key, 'hex');
      // Inbound: this peer is the destination, so it reserves the SPI for its own address.
      // Outbound: the peer chose the SPI of its inbound SA; reserve it for the peer's address.
      const destination = direction === 'in' ? local.address : peer.address;
      const source = direction === 'in' ? peer.address : local.address;
      const spi = await ipsec.allocateSecurityParameterIndex(destination, sa.spi);
      try {
        return await new IpSecTransform.Builder(ipsec)
          .setAuthenticatedEncryption(
            new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, key, ICV_BITS),
          )
          // Both directions name the encapsulation socket; the port is the peer's.
          .setIpv4Encapsulation(encap, peer.encapPort)
          .buildTransportModeTransform(source, spi);
      } finally {
        key.fill(0); // IpSecAlgorithm keeps its own copy
        await spi.close(); // the transform holds the SPI now; this drops our reference only
      }
    }

    async function apply(direction, generation) {
      const transform = await build(direction, generation);
      const slot = transforms.get(generation) ?? {};
      slot[direction] = transform;
      transforms.set(generation, slot);
      const value = direction === 'in' ? IpSecManager.DIRECTION_IN : IpSecManager.DIRECTION_OUT;
      await ipsec.applyTransportModeTransform(socket, value, transform);
      return generation;
    }

    let outGeneration = await apply('out', 0);
    let inGeneration = await apply('in', 0);
    let sent = 0;
    print({ event: 'ready', name, encapPort: encap.getPort() });

    for await (const line of createInterface({ input: process.stdin })) {
      const [command, argument] = line.trim().split(/\s+/);
      if (command === 'send') {
        for (let i = 0; i < Number(argument); i++) {
          await socket.send(`${name}#${sent++}`, peer.dataPort, peer.address);
        }
        print({ event: 'sent', total: sent, generation: outGeneration });
      } else if (command === 'rekey-in') {
        inGeneration = await apply('in', Number(argument));
        print({ event: 'inbound-applied', generation: inGeneration });
      } else if (command === 'rekey-out') {
        outGeneration = await apply('out', Number(argument));
        print({ event: 'outbound-applied', generation: outGeneration });
      } else if (command === 'close-old') {
        const current = Math.min(inGeneration, outGeneration);
        for (const [generation, slot] of transforms) {
          if (generation >= current) continue;
          await slot.in?.close();
          await slot.out?.close();
          transforms.delete(generation);
        }
        print({ event: 'closed-old', open: [...transforms.keys()] });
      } else if (command === 'state') {
        const state = {};
        for (const [generation, slot] of transforms) {
          for (const [direction, transform] of Object.entries(slot)) {
            const s = await transform.requestIpSecTransformState();
            state[`${direction}${generation}`] = {
              tx: String(s.getTxHighestSequenceNumber()),
              rx: String(s.getRxHighestSequenceNumber()),
            };
          }
        }
        print({ event: 'state', state, statistics: ipsec.getStatistics() });
      } else if (command === 'quit') {
        break;
      } else if (command !== undefined && command !== '') {
        print({ event: 'error', message: `unknown command ${command}` });
      }
    }
  } finally {
    await ipsec.close(); // closes every transform, SPI and socket this manager created
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  },
);

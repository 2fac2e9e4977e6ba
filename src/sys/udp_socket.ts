/**
 * Opening a UDP socket on a family's wildcard address, as both IPsec backends open their
 * encapsulation sockets: `0.0.0.0` for IPv4, `::` with `ipv6Only` for IPv6 (an IPv6 socket must
 * not also take the IPv4 port), port 0 = one the kernel chooses. A failed bind closes the socket
 * and throws one error class whatever the cause, with the errno name when there is one.
 */
import { createSocket, type Socket } from 'node:dgram';
import { errnoOf } from './errno.ts';
import { UdpBindError } from './errors.ts';

/**
 * Creates a UDP socket and binds it to the wildcard address of `family`.
 *
 * @param family `'IPv4'` or `'IPv6'` (IPv6 sockets are IPv6-only)
 * @param port 0 = chosen by the kernel
 * @throws {UdpBindError} the bind failed (`errnoName` `'EADDRINUSE'` for a busy port)
 * @example
 * ```ts
 * const udp = await bindWildcardUdpSocket('IPv4', 0);
 * udp.address().port; // a free port
 * udp.close();
 * ```
 */
export function bindWildcardUdpSocket(family: 'IPv4' | 'IPv6', port: number): Promise<Socket> {
  const udp =
    family === 'IPv6' ? createSocket({ type: 'udp6', ipv6Only: true }) : createSocket('udp4');
  return new Promise<Socket>((resolve, reject) => {
    const onError = (err: Error): void => {
      const fail = (): void => reject(new UdpBindError(port, errnoOf(err), { cause: err }));
      try {
        udp.close(fail);
      } catch {
        fail(); // already closed by dgram
      }
    };
    udp.once('error', onError);
    udp.bind(port, family === 'IPv6' ? '::' : '0.0.0.0', () => {
      udp.off('error', onError);
      resolve(udp);
    });
  });
}

#!/usr/bin/python3
# ESP oracle backed by Debian python3-scapy 2.5.0 (scapy.layers.ipsec), an implementation nobody
# in this project wrote. Run with the Debian interpreter: /usr/bin/python3 (the python3 first on
# PATH may be a separate build that cannot import Debian's scapy).
#
# Protocol: one JSON document on stdin, one on stdout. No files, no network.
#   in:  {"requests": [REQUEST, ...]}
#   out: {"scapy": "2.5.0", "results": [RESULT, ...]}      (same order as the requests)
# REQUEST fields (hex strings are lower-case hex):
#   op            "open" (scapy decrypts and verifies our ESP) or "seal" (scapy encrypts)
#   sa            {"spi": int, "crypt_algo": scapy name, "crypt_key": hex (key||salt for AEAD/CTR),
#                  "auth_algo": scapy name or null, "auth_key": hex or null,
#                  "esn_en": bool, "esn": int (high 32 bits of the sequence number),
#                  "nat_t": bool (RFC 3948 UDP 4500 encapsulation, optional)}
#   family        4 or 6 (outer header used for transport mode; addresses are fixed test values)
#   open:  "esp"  hex of SPI..ICV, or "packet" hex of a whole IP packet (with sa.nat_t: IP/UDP/ESP)
#   seal:  "payload" hex, "nh" int, "seq" int (low 32 bits), "iv" hex
# RESULT:
#   open:  {"ok": true, "nh": int, "payload": hex, "padlen": int, "seq": int}
#          or {"ok": false, "error": "<exception class>: <message>"}
#   seal:  {"ok": true, "esp": hex of SPI..ICV, "wire": hex of the whole packet scapy built}
#          or {"ok": false, "error": ...}
# scapy's own limits (2.5.0): NAT-T outer UDP length written as 8, GCM ICV always 16 bytes, ESN only in AEAD AAD (never in HMAC ICVs),
# no padding check on decrypt, no anti-replay; see docs/oracles.md.
import json
import sys
import warnings

warnings.filterwarnings('ignore')

from scapy import VERSION  # noqa: E402
from scapy.all import IP, UDP, IPv6, Raw, raw  # noqa: E402
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402

SRC4, DST4 = '192.0.2.1', '192.0.2.2'
SRC6, DST6 = '2001:db8::1', '2001:db8::2'
B = bytes.fromhex


def make_sa(s):
    kwargs = dict(spi=s['spi'], crypt_algo=s['crypt_algo'],
                  crypt_key=B(s['crypt_key']) if s.get('crypt_key') else None,
                  esn_en=bool(s.get('esn_en', False)), esn=int(s.get('esn', 0)))
    if s.get('auth_algo'):
        kwargs['auth_algo'] = s['auth_algo']
        kwargs['auth_key'] = B(s['auth_key'])
    if s.get('nat_t'):
        kwargs['nat_t_header'] = UDP(sport=4500, dport=4500)
    return SecurityAssociation(ESP, **kwargs)


def outer(family, proto):
    return IP(src=SRC4, dst=DST4, proto=proto) if family == 4 else IPv6(src=SRC6, dst=DST6, nh=proto)


def do_open(req):
    sa = make_sa(req['sa'])
    family = req.get('family', 4)
    if 'packet' in req:
        # A whole packet we framed ourselves (e.g. IPv4/UDP 4500/ESP, RFC 3948).
        pkt = (IP if family == 4 else IPv6)(B(req['packet']))
        esp = raw(pkt[ESP])
    else:
        # Parse as a received packet: outer header (proto 50) + our ESP bytes.
        esp = B(req['esp'])
        pkt = (IP if family == 4 else IPv6)(raw(outer(family, 50) / Raw(esp)))
    # Public API, verify=True: checks the SPI, the HMAC ICV or the AEAD tag, then decrypts.
    clear = sa.decrypt(pkt)
    hdr_len = 20 if family == 4 else 40
    nh = clear.proto if family == 4 else clear.nh
    payload = raw(clear)[hdr_len:]
    # Pad length as scapy's crypto layer reads it (the public API drops it).
    icv = sa.crypt_icv_size or sa.crypt_algo.icv_size or sa.auth_algo.icv_size
    plain = sa.crypt_algo.decrypt(sa, ESP(esp), sa.crypt_key, icv,
                                  esn_en=sa.esn_en, esn=sa.esn)
    if raw(plain.data) != payload or plain.nh != nh:
        raise AssertionError('scapy public and crypto-layer decrypt disagree')
    return {'ok': True, 'nh': nh, 'payload': payload.hex(), 'padlen': plain.padlen,
            'seq': ESP(esp).seq}


def do_seal(req):
    sa = make_sa(req['sa'])
    family = req.get('family', 4)
    pkt = outer(family, req['nh']) / Raw(B(req['payload']))
    pkt = (IP if family == 4 else IPv6)(raw(pkt))
    # scapy 2.5.0 writes `seq_num or self.seq_num`: an explicit 0 (the low half of an ESN
    # 0x...00000000) would silently become the SA counter. Set the counter instead.
    sa.seq_num = req['seq']
    enc = sa.encrypt(pkt, seq_num=None, iv=B(req['iv']))
    if ESP(raw(enc[ESP])).seq != req['seq']:
        raise AssertionError('scapy wrote sequence number %d, not %d' % (enc[ESP].seq, req['seq']))
    wire = raw(enc)
    return {'ok': True, 'esp': raw(enc[ESP]).hex(), 'wire': wire.hex()}


def main():
    doc = json.load(sys.stdin)
    results = []
    for req in doc['requests']:
        try:
            if req['op'] == 'open':
                results.append(do_open(req))
            elif req['op'] == 'seal':
                results.append(do_seal(req))
            else:
                results.append({'ok': False, 'error': 'ValueError: unknown op %r' % req['op']})
        except Exception as e:  # report per request; the caller asserts on it
            results.append({'ok': False, 'error': '%s: %s' % (type(e).__name__, e)})
    json.dump({'scapy': VERSION, 'results': results}, sys.stdout)


if __name__ == '__main__':
    main()

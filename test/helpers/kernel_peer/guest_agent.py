"""Command agent that runs as PID 1's child inside the kernel-peer guest (test/helpers/kernel_peer.ts).

It keeps a UDP socket bound to port 4500 with UDP_ENCAP_ESPINUDP set, so the guest kernel
decapsulates ESP-in-UDP (RFC 3948) arriving there, and serves line-delimited JSON requests on a
TCP control port: run a program (argv, no shell), open UDP sockets that record and optionally
echo what they receive, send UDP datagrams, read what was received.

Request:  {"id": 1, "op": "exec", "argv": ["/sbin/ip", "xfrm", "state"], "timeout": 20}
Response: {"id": 1, "ok": true, "result": {...}}  or  {"id": 1, "ok": false, "error": "..."}

Run with --print-modules on the build host to list the stdlib files this script needs (the image
builder copies exactly those into the initramfs).
"""

import json
import os
import select
import socket
import subprocess
import sys

READY_MARKER = "KERNEL-PEER-READY"
ENCAP_PORT = 4500
UDP_ENCAP = 100  # linux/udp.h
UDP_ENCAP_ESPINUDP = 2  # linux/udp.h (RFC 3948 format)
SO_NO_CHECK = 11  # asm-generic/socket.h: send IPv4 UDP with checksum 0
MAX_DATAGRAM = 65535
MAX_RECORDED = 4096


class UdpEndpoint:
    def __init__(self, sock, echo):
        self.sock = sock
        self.echo = echo
        self.received = []
        self.send_errors = []


def op_exec(req):
    timeout = float(req.get("timeout", 30))
    try:
        done = subprocess.run(
            [str(a) for a in req["argv"]], capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as e:
        return {"code": 127, "stdout": "", "stderr": str(e)}
    except subprocess.TimeoutExpired:
        return {"code": 124, "stdout": "", "stderr": "timed out after %s s" % timeout}
    return {
        "code": done.returncode,
        "stdout": done.stdout.decode("utf-8", "replace"),
        "stderr": done.stderr.decode("utf-8", "replace"),
    }


def make_handlers(endpoints):
    def udp_open(req):
        port = int(req["port"])
        if port in endpoints:
            raise ValueError("port %d is already open" % port)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if req.get("noChecksum", False):
            sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
        sock.bind(("0.0.0.0", port))
        sock.setblocking(False)
        endpoints[port] = UdpEndpoint(sock, bool(req.get("echo", False)))
        return {"port": port}

    def udp_close(req):
        ep = endpoints.pop(int(req["port"]), None)
        if ep is not None:
            ep.sock.close()
        return {}

    def udp_send(req):
        ep = endpoints[int(req["port"])]
        sent = ep.sock.sendto(bytes.fromhex(req["data"]), (req["host"], int(req["dport"])))
        return {"sent": sent}

    def udp_read(req):
        ep = endpoints[int(req["port"])]
        out = {"datagrams": ep.received, "sendErrors": ep.send_errors}
        ep.received = []
        ep.send_errors = []
        return out

    return {
        "exec": op_exec,
        "ping": lambda req: {"pid": os.getpid()},
        "udp_open": udp_open,
        "udp_close": udp_close,
        "udp_send": udp_send,
        "udp_read": udp_read,
    }


def on_datagram(ep):
    try:
        data, addr = ep.sock.recvfrom(MAX_DATAGRAM)
    except BlockingIOError:
        return
    if len(ep.received) < MAX_RECORDED:
        ep.received.append({"host": addr[0], "port": addr[1], "data": data.hex()})
    if ep.echo:
        try:
            ep.sock.sendto(data, addr)
        except OSError as e:
            ep.send_errors.append(str(e))


def handle_line(line, handlers):
    req_id = None
    try:
        req = json.loads(line)
        req_id = req.get("id")
        result = handlers[req["op"]](req)
        return {"id": req_id, "ok": True, "result": result}
    except Exception as e:  # reported to the test, which fails with this text
        return {"id": req_id, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}


def serve(control_port):
    encap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    encap.setsockopt(socket.IPPROTO_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)
    encap.bind(("0.0.0.0", ENCAP_PORT))
    encap.setblocking(False)
    endpoints = {ENCAP_PORT: UdpEndpoint(encap, False)}
    handlers = make_handlers(endpoints)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", control_port))
    listener.listen(4)
    clients = {}
    print(READY_MARKER, control_port, flush=True)

    while True:
        by_fd = {ep.sock.fileno(): ep for ep in endpoints.values()}
        readable, _, _ = select.select([listener] + list(clients) + list(by_fd), [], [])
        for r in readable:
            if r is listener:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                clients[conn] = b""
            elif r in clients:
                chunk = r.recv(65536)
                if not chunk:
                    r.close()
                    del clients[r]
                    continue
                buf = clients[r] + chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    reply = handle_line(line.decode("utf-8"), handlers)
                    r.sendall(json.dumps(reply).encode("utf-8") + b"\n")
                clients[r] = buf
            else:
                ep = by_fd.get(r)
                if ep is not None and ep.sock.fileno() != -1:
                    on_datagram(ep)


def print_modules():
    # Exercise the code paths that import lazily, then list every module file loaded.
    json.loads(json.dumps({"a": [1, "b"]}))
    op_exec({"argv": ["/bin/true"], "timeout": 5})
    files = set()
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__file__", None)
        if path:
            files.add(os.path.realpath(path))
    files.discard(os.path.realpath(__file__))
    import importlib.util  # after the scan: only the cache paths need it

    for path in sorted(files):
        print(path)
        if path.endswith(".py"):
            cached = importlib.util.cache_from_source(path)
            if os.path.exists(cached):
                print(cached)


if __name__ == "__main__":
    if "--print-modules" in sys.argv:
        print_modules()
    else:
        serve(int(sys.argv[1]))

#!/usr/bin/env python3
"""dnsfake.py - a tiny DNS server for tests: a fixed zone over UDP and TCP
on 127.0.0.1, so a sandboxed yubind (dns_servers 127.0.0.1:PORT) can look
up MX, A and AAAA records without a real resolver.

As a module:
    from dnsfake import DnsFake
    dns = DnsFake(["b.test MX 10 mx.b.test", "mx.b.test A 127.0.0.1"])
    dns.start()            # a daemon thread; dns.port is the port
    ... dns.queries ...    # [(name, type), ...] as asked
    dns.stop()

From the shell (prints the port, serves until killed):
    python3 tests/dnsfake.py [--port N] "b.test MX 10 mx.b.test" ...

Records: "NAME MX PREF HOST", "NAME A ADDR", "NAME AAAA ADDR",
"NAME CNAME TARGET", and three behaviours: "NAME SERVFAIL",
"NAME SILENT" (never answered: timeouts), "NAME NODATA" (exists, no
records).  Any other name is NXDOMAIN.  Answers over 512 octets are cut
to a TC reply over UDP, as a real server does, and sent whole over TCP.
"""
import socket
import struct
import sys
import threading

TYPES = {"A": 1, "CNAME": 5, "MX": 15, "AAAA": 28}


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


class DnsFake:
    def __init__(self, records, port=0):
        self.zone = {}          # name -> list of (type, rdata bytes)
        self.flags = {}         # name -> SERVFAIL / SILENT / NODATA
        self.queries = []
        self.want_port = port
        self.port = None
        self._stop = False
        for rec in records:
            self.add(rec)

    def add(self, rec):
        w = rec.split()
        name, kind = w[0].lower().rstrip("."), w[1].upper()
        if kind in ("SERVFAIL", "SILENT", "NODATA"):
            self.flags[name] = kind
            return
        if kind == "MX":
            rdata = struct.pack(">H", int(w[2])) + wire_name(w[3])
        elif kind == "A":
            rdata = socket.inet_pton(socket.AF_INET, w[2])
        elif kind == "AAAA":
            rdata = socket.inet_pton(socket.AF_INET6, w[2])
        elif kind == "CNAME":
            rdata = wire_name(w[2])
        else:
            raise ValueError("dnsfake: unknown record " + rec)
        self.zone.setdefault(name, []).append((TYPES[kind], rdata))

    def answer(self, query, tcp):
        """The reply to one query, or None to stay silent."""
        if len(query) < 17:
            return None
        off, labels = 12, []
        while off < len(query) and query[off] != 0:
            n = query[off]
            labels.append(query[off + 1:off + 1 + n].decode("ascii", "replace"))
            off += 1 + n
        qend = off + 5
        if qend > len(query):
            return None
        name = ".".join(labels).lower()
        qtype = struct.unpack(">H", query[off + 1:off + 3])[0]
        self.queries.append((name, qtype))
        flag = self.flags.get(name)
        if flag == "SILENT":
            return None
        rcode, records, cur = 0, [], name
        if flag == "SERVFAIL":
            rcode = 2
        else:
            for _ in range(16):             # CNAMEs, as a resolver would
                rrs = self.zone.get(cur)
                if rrs is None:
                    if cur == name and self.flags.get(cur) != "NODATA":
                        rcode = 3
                    break
                cname = [r for t, r in rrs if t == TYPES["CNAME"]]
                if cname and qtype != TYPES["CNAME"]:
                    records.append((cur, TYPES["CNAME"], cname[0]))
                    cur = self._text(cname[0])
                    continue
                records += [(cur, t, r) for t, r in rrs if t == qtype]
                break
        head = query[:2] + struct.pack(">BBHHHH", 0x85, 0x80 | rcode, 1,
                                       len(records), 0, 0)
        body = b"".join(wire_name(n) + struct.pack(">HHIH", t, 1, 60,
                                                   len(r)) + r
                        for n, t, r in records)
        reply = head + query[12:qend] + body
        if not tcp and len(reply) > 512:    # TC: ask again over TCP
            reply = query[:2] + struct.pack(">BBHHHH", 0x87, 0x80, 1, 0, 0,
                                            0) + query[12:qend]
        return reply

    @staticmethod
    def _text(wire):
        out, off = [], 0
        while wire[off]:
            out.append(wire[off + 1:off + 1 + wire[off]].decode("ascii"))
            off += 1 + wire[off]
        return ".".join(out).lower()

    def start(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.want_port))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        for fn in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=fn, daemon=True).start()
        return self

    def stop(self):
        self._stop = True
        for s in (self.udp, self.tcp):
            try:
                s.close()
            except OSError:
                pass

    def _serve_udp(self):
        while not self._stop:
            try:
                query, peer = self.udp.recvfrom(2048)
            except OSError:
                return
            reply = self.answer(query, False)
            if reply is not None:
                self.udp.sendto(reply, peer)

    def _serve_tcp(self):
        while not self._stop:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    data = b""
                    while len(data) < 2 or len(data) < 2 + struct.unpack(
                            ">H", data[:2])[0]:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    reply = self.answer(data[2:], True)
                    if reply is not None:
                        conn.sendall(struct.pack(">H", len(reply)) + reply)
                except OSError:
                    pass


def main(argv):
    port = 0
    if len(argv) > 1 and argv[0] == "--port":
        port, argv = int(argv[1]), argv[2:]
    dns = DnsFake(argv, port).start()
    print(dns.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""idle.py - what 1,000 idle connections cost yubind, per protocol.

usage: idle.py [--proto smtp,pop3,imap] [-k 1000] [--active 4]
               [--ops 2000] [--greets 200] [--runs 1]

For each protocol, with a fresh sandbox yubind (every listener on port 0,
max_connections and max_connections_per_ip 1008):
 1. mem0 = the daemon's VmRSS (/proc/PID/status) and Pss
    (/proc/PID/smaps_rollup), after it settles.
 2. Opens K connections (all in flight at once) and waits for every
    greeting; they then stay idle.
 3. NOOP latency: ACTIVE other connections (TCP_NODELAY), OPS NOOPs
    each, lockstep (one command outstanding in all), p50/p99 in ms.
 4. Greeting latency: GREETS times connect -> greeting line, one at a
    time (each then says QUIT, untimed), with the K idle ones open.
 5. mem1 after; KB per idle connection = (mem1 - mem0) / K.
Prints a table and one JSON line.  Needs YUBIND (or ../yubind, ./yubind).
Not part of make check.
"""

import argparse
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import yubintest  # noqa: E402
from yubintest import (Sandbox, Client, PROTO, open_many,  # noqa: E402
                       raise_nofile, TestFailure)
from benchlib import pct  # noqa: E402


def mem(pid):
    rss = pss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    rss = int(ln.split()[1])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for ln in f:
                if ln.startswith("Pss:"):
                    pss = int(ln.split()[1])
    except OSError:
        pass
    return {"rss_kb": rss, "pss_kb": pss}


def one(proto, a):
    p = PROTO[proto]
    sb = Sandbox(conf="max_connections 1008\nmax_connections_per_ip 1008\n"
                      "log_level notice\n")
    res = {"proto": proto, "k": a.k}
    try:
        time.sleep(0.5)
        res["mem0"] = mem(sb.pid)
        res["fds0"] = sb.fd_count()
        t0 = time.monotonic()
        lines, socks = open_many(sb.port(proto), a.k, timeout=60, settle=0)
        res["setup_s"] = round(time.monotonic() - t0, 3)
        import re
        ok = sum(1 for ln, s in zip(lines, socks) if s is not None and ln
                 and re.fullmatch(p.greeting, ln.decode("latin-1")
                                  .rstrip("\r\n")))
        res["idle_ok"] = ok
        time.sleep(1.0)
        res["mem_idle"] = mem(sb.pid)
        res["fds_idle"] = sb.fd_count()
        # NOOP latency, lockstep over ACTIVE connections
        act = []
        for i in range(a.active):
            c = Client(sb.port(proto), nodelay=True)
            c.expect(p.greeting)
            act.append(c)
        cmd = (p.noop + "\r\n").encode()
        noop_re = p.noop_ok[0].encode()
        lat = []
        for i in range(a.ops):
            for c in act:
                t = time.perf_counter()
                c.sock.sendall(cmd)
                ln = c.readline()
                lat.append(time.perf_counter() - t)
                if not re.fullmatch(noop_re, ln.rstrip(b"\r\n")):
                    raise TestFailure("NOOP reply %r" % ln)
        res["noops"] = len(lat)
        res["noop_p50_ms"] = pct(lat, 50)
        res["noop_p99_ms"] = pct(lat, 99)
        res["noop_max_ms"] = pct(lat, 100)
        # greeting latency with the idle ones open
        glat = []
        for i in range(a.greets):
            t = time.perf_counter()
            s = socket.create_connection(("127.0.0.1", sb.port(proto)), 10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Client(0, sock=s)
            c.expect(p.greeting)
            glat.append(time.perf_counter() - t)
            c.quit(proto)          # untimed: frees the slot for the next
        res["greet_p50_ms"] = pct(glat, 50)
        res["greet_p99_ms"] = pct(glat, 99)
        res["mem1"] = mem(sb.pid)
        for k in ("rss_kb", "pss_kb"):
            a0, a1 = res["mem0"][k], res["mem1"][k]
            if a0 is not None and a1 is not None and ok:
                res["kb_per_idle_" + k[:3]] = round((a1 - a0) / float(ok), 2)
        for c in act:
            c.close()
        for s in socks:
            if s is not None:
                s.close()
        res["exit"] = sb.stop()
    finally:
        sb.kill()
    return res


def fmt(v):
    return "-" if v is None else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proto", default="smtp,pop3,imap")
    ap.add_argument("-k", type=int, default=1000)
    ap.add_argument("--active", type=int, default=4)
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--greets", type=int, default=200)
    a = ap.parse_args()
    if a.k + a.active + 1 > 1008:      # +1: the greeting probe
        ap.error("-k + --active must stay under max_connections 1008")
    raise_nofile(a.k + a.active + 200)
    out = {"bench": "yubin-idle", "yubind": yubintest.yubind_path(),
           "k": a.k, "active": a.active, "ops": a.ops, "greets": a.greets,
           "cpus": os.cpu_count(),
           "loadavg1": float(open("/proc/loadavg").read().split()[0]),
           "results": []}
    for proto in a.proto.split(","):
        out["results"].append(one(proto, a))
    hdr = ("proto", "idle ok", "setup s", "noop p50", "noop p99",
           "greet p50", "greet p99", "rss0 KB", "rss1 KB", "KB/conn rss",
           "KB/conn pss")
    rows = [hdr]
    for r in out["results"]:
        rows.append((r["proto"], fmt(r.get("idle_ok")), fmt(r.get("setup_s")),
                     fmt(r.get("noop_p50_ms")), fmt(r.get("noop_p99_ms")),
                     fmt(r.get("greet_p50_ms")), fmt(r.get("greet_p99_ms")),
                     fmt(r["mem0"]["rss_kb"]),
                     fmt(r.get("mem1", {}).get("rss_kb")),
                     fmt(r.get("kb_per_idle_rss")),
                     fmt(r.get("kb_per_idle_pss"))))
    w = [max(len(x[i]) for x in rows) for i in range(len(hdr))]
    print("latencies in ms, %d idle connections, %d x %d NOOPs, %d greets"
          % (a.k, a.active, a.ops, a.greets))
    for x in rows:
        print("  ".join(c.rjust(w[i]) for i, c in enumerate(x)))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

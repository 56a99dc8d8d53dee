#!/usr/bin/env python3
"""proto_limits.py - overlong lines, NUL bytes, idle timeouts, vanishing
clients, and the connection limits (global and per IP) with no descriptor
leak."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

PROTOS = ("smtp", "pop3", "imap")
SB = []


def sb():
    if not SB or not SB[0].alive():
        SB[:] = [Sandbox(conf="smtp_timeout 2\npop3_timeout 2\n"
                              "imap_timeout 2\n")]
    return SB[0]


def healthy(s, proto):
    """The daemon still runs and a fresh session works."""
    if not s.alive():
        fail("yubind died (exit %s)" % s.proc.returncode)
    c = greet(s.port(proto), proto)
    c.noop(proto)
    c.quit(proto)


def greet_when_freed(port, proto, timeout=10.0):
    """Greet on a fresh connection, trying again while it is refused: a
    slot that a client gave up by closing its end is free only once the
    daemon has seen that close, which under load takes a moment."""
    end = time.monotonic() + timeout
    while True:
        c = Client(port)
        ln = c.readline()
        text = ln.decode("latin-1").rstrip("\r\n")
        if ln.endswith(b"\r\n") and re.fullmatch(PROTO[proto].greeting,
                                                 text):
            return c
        c.close()
        if not re.fullmatch(PROTO[proto].refusal, text) or \
                time.monotonic() >= end:
            fail("want the %s greeting once a slot is free, got %r" %
                 (proto, ln))
        time.sleep(0.05)


# a NOOP for IMAP with a tag that tells the replies apart
NOOP = {"smtp": ("NOOP", r"250 2\.0\.0 .*"),
        "pop3": ("NOOP", r"\+OK( .*)?"),
        "imap": ("z9 NOOP", r"z9 OK( .*)?")}


for _p in PROTOS:
    def _mk(proto):
        @case("%s: 200 KB line without newline -> one error, session goes on"
              % proto)
        def _():
            s = sb()
            c = greet(s.port(proto), proto)
            if proto == "imap":
                data = b"a1 NOOP " + b"x" * (200 * 1024)
            else:
                data = b"NOOP " + b"x" * (200 * 1024)
            c.send_raw(data)     # fails if the daemon stops reading
            c.send_raw(b"\r\n")
            err = {"smtp": r"500 5\.5\.2 Line too long",
                   "pop3": r"-ERR( .*)?",
                   "imap": r"(\*|a1) BAD( .*)?"}[proto]
            c.expect(err)
            # exactly one error: the next reply is the NOOP's
            cmd, ok = NOOP[proto]
            c.send(cmd)
            c.expect(ok)
            c.quit(proto)
            healthy(s, proto)

        @case("%s: line just over the limit, in small pieces" % proto)
        def _():
            s = sb()
            lim = {"smtp": 4096, "pop3": 1024, "imap": 65536}[proto]
            c = greet(s.port(proto), proto)
            line = b"NOOP " + b"y" * (lim + 100)
            for i in range(0, len(line), 1000):
                c.send_raw(line[i:i + 1000])
                time.sleep(0.002)
            c.send_raw(b"\r\n")
            c.expect(PROTO[proto].error if proto != "imap"
                     else r"\* BAD( .*)?")
            cmd, ok = NOOP[proto]
            c.send(cmd)
            c.expect(ok)
            c.quit(proto)

        @case("%s: line of limit-2 octets accepted, limit+1 rejected"
              % proto)
        def _():
            # the limit counts octets without CRLF (or with it): limit-2
            # plus CRLF fits either way, limit+1 fits neither
            s = sb()
            lim = {"smtp": 4096, "pop3": 1024, "imap": 65536}[proto]
            pre = b"n1 NOOP " if proto == "imap" else b"NOOP "
            c = greet(s.port(proto), proto)
            c.send_raw(pre + b"x" * (lim - 2 - len(pre)) + b"\r\n")
            m = c.expect({"smtp": r"[25][0-9][0-9] .*", "pop3": r"[-+].*",
                          "imap": r"n1 (OK|BAD|NO)( .*)?"}[proto])
            check(not re.search(r"(?i)too long", m.group(0)),
                  "%d-octet line refused as too long: %r" %
                  (lim - 2, m.group(0)))
            c.send_raw(pre + b"x" * (lim + 1 - len(pre)) + b"\r\n")
            c.expect({"smtp": r"500 5\.5\.2 Line too long",
                      "pop3": r"-ERR( .*)?",
                      "imap": r"(\*|n1) BAD( .*)?"}[proto])
            cmd, ok = NOOP[proto]
            c.send(cmd)
            c.expect(ok)
            c.quit(proto)

        @case("%s: NUL byte in a command -> error, session goes on" % proto)
        def _():
            s = sb()
            c = greet(s.port(proto), proto)
            if proto == "smtp":
                c.send_raw(b"NO\0OP\r\n")
                c.expect(r"500 5\.5\.2( .*)?")
                c.send_raw(b"\0\r\n")
                c.expect(r"500 5\.5\.2( .*)?")
            elif proto == "pop3":
                c.send_raw(b"NO\0OP\r\n")
                c.expect(r"-ERR( .*)?")
                c.send_raw(b"NOOP\0\r\n")
                c.expect(r"-ERR( .*)?")
            else:
                c.send_raw(b"a1 NO\0OP\r\n")
                c.expect(r"(a1|\*) BAD( .*)?")
                c.send_raw(b"a2 NOOP\0\r\n")
                c.expect(r"(a2|\*) BAD( .*)?")
            cmd, ok = NOOP[proto]
            c.send(cmd)
            c.expect(ok)
            c.quit(proto)

        @case("%s: silent client gets the idle farewell after ~2 s" % proto)
        def _():
            s = sb()
            t0 = time.monotonic()
            c = greet(s.port(proto), proto)
            c.expect(PROTO[proto].idle_bye, timeout=6)
            c.expect_close(timeout=3)
            dt = time.monotonic() - t0
            check(1.5 <= dt <= 4.0, "farewell + close after %.2f s, want "
                  "about 2 s (timeout 2)" % dt)

        @case("%s: activity resets the idle timer" % proto)
        def _():
            s = sb()
            c = greet(s.port(proto), proto)
            cmd, ok = NOOP[proto]
            t0 = time.monotonic()
            for i in range(5):       # 5 x 1.0 s > the 2 s timeout
                time.sleep(1.0)
                c.send(cmd)
                c.expect(ok)
            t1 = time.monotonic()
            c.expect(PROTO[proto].idle_bye, timeout=6)
            dt = time.monotonic() - t1
            check(1.5 <= dt <= 4.0, "farewell %.2f s after the last "
                  "command, want about 2 s" % dt)
            c.expect_close(timeout=3)
            check(t1 - t0 > 4, "test itself too fast")

        @case("%s: client vanishes mid-line (FIN and RST)" % proto)
        def _():
            s = sb()
            for reset in (False, True, False, True):
                c = greet(s.port(proto), proto)
                c.send_raw(b"NOO")
                c.close(reset=reset)
            c = greet(s.port(proto), proto)
            c.send_raw(b"x" * 5000)            # partial overlong line
            c.close(reset=True)
            time.sleep(0.2)
            healthy(s, proto)
    _mk(_p)


@case("all: idle sessions time out while others stay busy")
def _():
    s = sb()
    idle = [greet(s.port(p), p) for p in PROTOS]
    busy = greet(s.port("smtp"), "smtp")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:
        busy.noop("smtp")
        time.sleep(0.1)
    for p, c in zip(PROTOS, idle):
        c.expect(PROTO[p].idle_bye, timeout=3)
        c.expect_close(timeout=3)
    busy.quit("smtp")


@case("idle timeouts release every descriptor")
def _():
    s = Sandbox(conf="smtp_timeout 1\npop3_timeout 1\nimap_timeout 1\n"
                     "max_connections_per_ip 100\n")
    time.sleep(0.2)
    base = s.fd_count()
    cs = [(p, greet(s.port(p), p)) for p in PROTOS for i in range(20)]
    for p, c in cs:
        c.expect(PROTO[p].idle_bye, timeout=5)
        c.expect_close(timeout=3)
    n = s.wait_fd_count(base)
    check(n is None or n == base, "%s descriptors after timeouts, "
          "baseline %d" % (n, base))
    for p, c in cs:
        c.close()
    check(s.stop() == 0, "exit code after SIGTERM")


def _limit_test(proto, s, n_ok, n_extra, baseline):
    """Open n_ok + n_extra connections at once: exactly n_ok greeted and
    kept, n_extra refused with the refusal line and closed."""
    p = PROTO[proto]
    import re
    lines, socks = open_many(s.port(proto), n_ok + n_extra, timeout=30)
    greeted = refused = other = 0
    bad = []
    for i, ln in enumerate(lines):
        text = (ln or b"").decode("latin-1")
        if ln and ln.endswith(b"\r\n") and re.fullmatch(p.greeting,
                                                        text[:-2]):
            if socks[i] is None:
                bad.append("greeted then closed: %r" % ln)
            greeted += 1
        elif ln and ln.endswith(b"\r\n") and re.fullmatch(p.refusal,
                                                          text[:-2]):
            if socks[i] is not None:
                bad.append("refused but left open: %r" % ln)
            refused += 1
        else:
            other += 1
            bad.append("unexpected first line %r" % ln)
    try:
        check(greeted == n_ok, "%s: %d greeted, want %d" %
              (proto, greeted, n_ok))
        check(refused == n_extra, "%s: %d refused, want %d" %
              (proto, refused, n_extra))
        check(not bad, "%s: %d odd connections, e.g. %r" %
              (proto, len(bad), bad[:3]))
        if not s.alive():
            fail("yubind died (exit %s)" % s.proc.returncode)
        # the greeted ones work (a sample), and the limit still holds
        kept = [x for x in socks if x is not None]
        for x in kept[:5] + kept[-5:]:
            c = Client(0, sock=x)
            c.noop(proto)
        c = Client(s.port(proto))
        c.expect(p.refusal)
        c.expect_close()
        c.close()
    finally:
        for x in socks:
            if x is not None:
                x.close()
    n = s.wait_fd_count(baseline, timeout=10)
    check(n is None or n == baseline, "%s: %s descriptors open after all "
          "clients left, baseline %d (leak)" % (proto, n, baseline))
    healthy(s, proto)


@case("max_connections 1000: 1100 at once -> 1000 greeted, 100 refused")
def _():
    raise_nofile(1100 * 1 + 200)
    s = Sandbox(conf="max_connections 1000\nmax_connections_per_ip 1000\n")
    time.sleep(0.2)
    base = s.fd_count()
    if base is None:
        note("no /proc/PID/fd: descriptor leak check skipped")
    for proto in PROTOS:
        _limit_test(proto, s, 1000, 100, base)
    rc = s.stop()
    check(rc == 0, "exit code %r after SIGTERM" % rc)


@case("max_connections 3: refusal line per protocol, shared count")
def _():
    s = Sandbox(conf="max_connections 3\nmax_connections_per_ip 3\n")
    time.sleep(0.2)
    base = s.fd_count()
    # one of each protocol uses up the 3
    held = [greet(s.port(p), p) for p in PROTOS]
    for p in PROTOS + ("submission",):
        c = Client(s.port(p))
        c.expect(PROTO[p].refusal)
        c.expect_close()
        c.close()
    # a slot freed is usable again, as soon as the server has closed
    held.pop().quit("imap")
    c = greet(s.port("pop3"), "pop3")
    c.noop("pop3")
    c.close()
    for h in held:
        h.close()
    n = s.wait_fd_count(base)
    check(n is None or n == base, "%s descriptors open at the end, "
          "baseline %d" % (n, base))
    check(s.stop() == 0, "exit code after SIGTERM")


@case("max_connections_per_ip 2: third from one address refused, "
      "another address still served")
def _():
    s = Sandbox(conf="max_connections 10\nmax_connections_per_ip 2\n")
    time.sleep(0.2)
    base = s.fd_count()
    a = [greet(s.port("smtp"), "smtp"), greet(s.port("pop3"), "pop3")]
    for p in PROTOS:
        c = Client(s.port(p))
        c.expect(PROTO[p].refusal)
        c.expect_close()
        c.close()
    try:
        b = [greet(s.port(p), p, source="127.0.0.2") for p in ("imap", "smtp")]
    except OSError as e:
        note("cannot use 127.0.0.2 as a source (%s): part skipped" % e)
        b = []
    if b:
        c = Client(s.port("pop3"), source="127.0.0.2")
        c.expect(PROTO["pop3"].refusal)
        c.expect_close()
        c.close()
        for x, p in zip(b, ("imap", "smtp")):
            x.noop(p)
    for x in a:
        x.close()
    c = greet_when_freed(s.port("imap"), "imap")   # slot of 127.0.0.1 freed
    c.quit("imap")
    for x in b:
        x.close()
    n = s.wait_fd_count(base)
    check(n is None or n == base, "%s descriptors open at the end, "
          "baseline %d" % (n, base))
    check(s.stop() == 0, "exit code after SIGTERM")


@case("max_connections 1: the slot is free as soon as the server has "
      "closed (QUIT, then connect again at once, 2000 times)")
def _():
    s = Sandbox(conf="max_connections 1\nmax_connections_per_ip 1\n"
                     "log_level info\n")
    refused = []
    for i in range(2000):
        c = Client(s.port("pop3"))
        ln = c.readline()
        if not re.fullmatch(PROTO["pop3"].greeting,
                            ln.decode("latin-1").rstrip("\r\n")):
            refused.append((i, ln))
            c.close()
            time.sleep(0.05)        # let the old one go, then go on
            continue
        c.quit("pop3")
    check(not refused, "%d of 2000 connections made right after the "
          "server closed the last one were refused, e.g. %r" %
          (len(refused), refused[:3]))
    check(s.stop() == 0, "exit code after SIGTERM")


main(timeout=300)

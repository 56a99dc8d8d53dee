#!/usr/bin/env python3
"""proto_signals.py - SIGTERM (farewell to every session, prompt exit),
SIGHUP (listeners added and removed, sessions kept, bad config refused)
and SIGPIPE (a client vanishing while we write)."""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

PROTOS = ("smtp", "submission", "pop3", "imap")


def refused(port):
    """True if nothing listens on 127.0.0.1:port any more."""
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


@case("SIGTERM: each open session gets its farewell; exit 0 within 5 s")
def _():
    sb = Sandbox()
    cs = {p: greet(sb.port(p), p) for p in PROTOS}
    # one session in the middle of a line, one with a command in flight
    cs["pop3"].send_raw(b"NOO")
    extra = greet(sb.port("imap"), "imap")
    extra.send("e1 NOOP")
    extra.expect(r"e1 OK( .*)?")
    ports = dict((p, sb.port(p)) for p in PROTOS)
    t0 = time.monotonic()
    sb.signal(signal.SIGTERM)
    for p, c in list(cs.items()) + [("imap", extra)]:
        c.expect(PROTO[p].term_bye, timeout=5)
        c.expect_close(timeout=5)
    rc = sb.wait(5.0 - (time.monotonic() - t0) + 0.5)
    dt = time.monotonic() - t0
    if rc is None:
        sb.kill()
        fail("yubind still running %.1f s after SIGTERM" % dt)
    check(rc == 0, "exit code %r after SIGTERM, want 0" % rc)
    check(dt <= 5.0, "exit took %.2f s" % dt)
    for p, port in ports.items():
        check(refused(port), "%s port %d still accepts after exit" %
              (p, port))


@case("SIGTERM with no sessions: prompt exit 0, pid file handled")
def _():
    sb = Sandbox()
    t0 = time.monotonic()
    rc = sb.stop()
    dt = time.monotonic() - t0
    check(rc == 0, "exit code %r" % rc)
    check(dt < 4.0, "idle daemon took %.2f s to exit" % dt)


@case("SIGTERM: a client that never reads does not delay the exit")
def _():
    sb = Sandbox()
    c = greet(sb.port("smtp"), "smtp")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sock.setblocking(False)
    data = b"NOOP\r\n" * 50000
    try:
        while data:
            data = data[c.sock.send(data):]
    except OSError:
        pass
    time.sleep(0.3)
    t0 = time.monotonic()
    sb.signal(signal.SIGTERM)
    rc = sb.wait(5.5)
    dt = time.monotonic() - t0
    if rc is None:
        sb.kill()
        fail("yubind still running %.1f s after SIGTERM with a stuck "
             "client" % dt)
    check(rc == 0, "exit code %r" % rc)
    c.close()


@case("SIGHUP: pop3 added on a new port, imap removed, sessions kept")
def _():
    sb = Sandbox(conf="pop3_listen\nsubmission_listen\n")
    check(set(sb.ports) == {"smtp", "imap"}, "start listeners %r" %
          sorted(sb.ports))
    old = dict(sb.ports)
    imap_port = sb.port("imap")
    smtp = greet(sb.port("smtp"), "smtp")
    imap = greet(imap_port, "imap")
    smtp.noop("smtp")
    sb.set_conf("imap_listen\nsubmission_listen\n")     # pop3 on port 0
    sb.signal(signal.SIGHUP)
    new = sb.wait_ports(timeout=5, changed_from=old)
    check(set(new) == {"smtp", "pop3"}, "after SIGHUP listeners %r, want "
          "smtp and pop3" % sorted(new))
    if "pop3" in new:
        c = greet(sb.port("pop3"), "pop3")
        c.noop("pop3")
        c.quit("pop3")
    check(wait_until(lambda: refused(imap_port), 3, 0.1),
          "old imap port %d still accepts connections" % imap_port)
    # sessions opened before the reload keep working
    smtp.noop("smtp")
    smtp.noop("smtp")
    imap.send("h1 NOOP")
    imap.expect(r"h1 OK( .*)?")
    # the smtp listener still answers (same or new port: as listed)
    if "smtp" in new:
        if new["smtp"] != old["smtp"]:
            note("smtp listener rebound on SIGHUP (%r -> %r)" %
                 (old["smtp"], new["smtp"]))
        greet(sb.port("smtp"), "smtp").quit("smtp")
    smtp.quit("smtp")
    imap.quit("imap")
    check(sb.alive(), "daemon died")
    check(sb.stop() == 0, "exit code after SIGTERM")


@case("SIGHUP: an unchanged config keeps the listeners on their ports")
def _():
    sb = Sandbox()
    old = dict(sb.ports)
    c = greet(sb.port("pop3"), "pop3")
    n0 = sb.stderr_text().count("reloading ")
    sb.signal(signal.SIGHUP)
    check(wait_until(lambda: not sb.alive() or
                     sb.stderr_text().count("reloading ") > n0, 10),
          "no 'reloading' logged within 10 s of SIGHUP")
    time.sleep(0.2)                 # the reload finishes in the same turn
    check(sb.alive(), "daemon died on SIGHUP")
    new = sb.wait_ports(timeout=3)
    check(new == old, "listeners changed on a reload of the same "
          "config: %r -> %r" % (old, new))
    for p in new:
        greet(sb.port(p), p).quit(p)
    c.noop("pop3")
    c.quit("pop3")
    check(sb.stop() == 0, "exit code after SIGTERM")


@case("SIGHUP with a broken config: keeps running on the old one")
def _():
    sb = Sandbox()
    old = dict(sb.ports)
    c = greet(sb.port("imap"), "imap")
    sb.write_conf("hostname x.example\nno_such_key 1\nimap_listen\n")
    sb.signal(signal.SIGHUP)
    # the reload is over when it says so (a fixed sleep may be too short)
    wait_until(lambda: not sb.alive() or "configuration not reloaded" in
               sb.stderr_text(), 10)
    if not sb.alive():
        fail("daemon exited (%s) on SIGHUP with a bad config" %
             sb.proc.returncode)
    check(sb.wait_ports(timeout=1) == old, "listeners changed on a bad "
          "config: %r -> %r" % (old, sb.ports))
    check("yubin.conf:2:" in sb.stderr_text(),
          "no 'yubin.conf:2:' error logged on stderr")
    for p in PROTOS:
        greet(sb.port(p), p).quit(p)      # imap still there, same host
    c.send("b1 NOOP")
    c.expect(r"b1 OK( .*)?")
    c.quit("imap")
    check(sb.stop() == 0, "exit code after SIGTERM")


@case("SIGHUP many times in a row while sessions talk")
def _():
    sb = Sandbox()
    cs = [greet(sb.port(p), p) for p in ("smtp", "pop3", "imap")]
    for i in range(10):
        sb.signal(signal.SIGHUP)
        for p, c in zip(("smtp", "pop3", "imap"), cs):
            c.noop(p)
        time.sleep(0.05)
    time.sleep(0.5)
    check(sb.alive(), "daemon died")
    sb.wait_ports(timeout=3)
    for p in ("smtp", "pop3", "imap"):
        greet(sb.port(p), p).quit(p)
    check(sb.stop() == 0, "exit code after SIGTERM")


@case("SIGHUP: listeners toggled 10 times leak no descriptors")
def _():
    sb = Sandbox()
    time.sleep(0.2)
    base = sb.fd_count()
    c = greet(sb.port("smtp"), "smtp")
    for i in range(10):
        prev = dict(sb.ports)
        sb.set_conf("imap_listen\npop3_listen\n" if i % 2 == 0 else "")
        sb.signal(signal.SIGHUP)
        cur = sb.wait_ports(timeout=5, changed_from=prev)
        want = {"smtp", "submission"} if i % 2 == 0 else \
            {"smtp", "submission", "pop3", "imap"}
        check(set(cur) == want, "reload %d: listeners %r" % (i, sorted(cur)))
        c.noop("smtp")
    for p in sb.ports:
        greet(sb.port(p), p).quit(p)
    c.quit("smtp")
    n = sb.wait_fd_count(base)
    check(n is None or n == base, "%s descriptors after 10 reloads, "
          "baseline %d" % (n, base))
    check(sb.stop() == 0, "exit code after SIGTERM")


@case("SIGTERM with 600 open sessions: all get their farewell within 5 s")
def _():
    raise_nofile(900)
    sb = Sandbox(conf="max_connections 1000\nmax_connections_per_ip 1000\n")
    import re
    conns = []
    for p in ("smtp", "pop3", "imap"):
        lines, socks = open_many(sb.port(p), 200, settle=0)
        for ln, s in zip(lines, socks):
            check(s is not None and ln is not None and
                  re.fullmatch(PROTO[p].greeting,
                               ln.decode("latin-1").rstrip("\r\n")),
                  "%s: not greeted: %r" % (p, ln))
            if s is not None:
                conns.append((p, Client(0, sock=s)))
    t0 = time.monotonic()
    sb.signal(signal.SIGTERM)
    bad = []
    for p, c in conns:
        try:
            c.expect(PROTO[p].term_bye, timeout=max(0.5, 6 - (
                time.monotonic() - t0)))
            c.expect_close(timeout=2)
        except TestFailure as e:
            bad.append("%s: %s" % (p, e))
        c.close()
    check(not bad, "%d of %d sessions without a proper farewell, e.g. %s"
          % (len(bad), len(conns), bad[:3]))
    rc = sb.wait(max(0.1, 5.5 - (time.monotonic() - t0)))
    dt = time.monotonic() - t0
    if rc is None:
        sb.kill()
        fail("still running %.1f s after SIGTERM" % dt)
    check(rc == 0, "exit code %r" % rc)


@case("SIGPIPE: clients vanishing with unread replies don't kill it")
def _():
    sb = Sandbox()
    for p in ("smtp", "pop3", "imap"):
        cmd = (PROTO[p].noop + "\r\n").encode()
        for i in range(3):
            c = greet(sb.port(p), p)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sock.setblocking(False)
            data = cmd * 30000
            try:
                while data:
                    data = data[c.sock.send(data):]
            except OSError:
                pass
            c.close(reset=(i != 1))
        time.sleep(0.3)
        if not sb.alive():
            fail("yubind died (exit %s) after a %s client vanished" %
                 (sb.proc.returncode, p))
        greet(sb.port(p), p).quit(p)
    check(sb.stop() == 0, "exit code after SIGTERM")


@case("an unrelated SIGCHLD does not kill the daemon")
def _():
    sb = Sandbox()
    sb.signal(signal.SIGCHLD)
    time.sleep(0.2)
    check(sb.alive(), "daemon died on SIGCHLD")
    greet(sb.port("smtp"), "smtp").quit("smtp")
    check(sb.stop() == 0, "exit code after SIGTERM")


main(timeout=180)

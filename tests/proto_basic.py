#!/usr/bin/env python3
"""proto_basic.py - greetings, NOOP, QUIT/LOGOUT, unknown commands, case,
pipelining, APOP timestamps and IMAP tags against a sandbox yubind."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

SB = []


def sb():
    """One daemon shared by the cases of this script."""
    if not SB or not SB[0].alive():
        SB[:] = [Sandbox()]
    return SB[0]


@case("ports file lists smtp, submission, pop3 and imap on 127.0.0.1")
def _():
    s = sb()
    for p in ("smtp", "submission", "pop3", "imap"):
        if check(p in s.ports, "run/ports has no %s line: %r" % (p, s.ports)):
            addr, port = s.ports[p][0]
            check(addr == "127.0.0.1", "%s address %r" % (p, addr))
            check(0 < port < 65536, "%s port %r" % (p, port))
    ports = [v[0][1] for v in s.ports.values()]
    check(len(set(ports)) == len(ports), "ports not distinct: %r" % ports)


@case("pid file holds the daemon's pid")
def _():
    s = sb()
    with open(s.path("run", "yubind.pid")) as f:
        txt = f.read()
    check(txt.strip() == str(s.pid), "run/yubind.pid is %r, pid %d" %
          (txt, s.pid))


for _proto in ("smtp", "submission", "pop3", "imap"):
    def _mk(proto):
        @case("%s: greeting, NOOP, quit closes" % proto)
        def _():
            c = greet(sb().port(proto), proto)
            c.noop(proto)
            c.noop(proto)
            c.quit(proto)
    _mk(_proto)


@case("smtp: unknown verb -> 500 5.5.2, session goes on")
def _():
    c = greet(sb().port("smtp"), "smtp")
    for junk in ("FROBNICATE", "XYZZY arg", "NOOPX", "N OOP", "QUITE"):
        c.send(junk)
        c.expect(r"500 5\.5\.2( .*)?")
    c.noop("smtp")
    c.quit("smtp")


@case("smtp: known verbs get one complete reply each")
def _():
    c = greet(sb().port("smtp"), "smtp")
    for v in ("HELO client.example", "EHLO client.example", "RSET",
              "MAIL FROM:<a@b.example>", "RCPT TO:<demo@%s>" % HOSTNAME,
              "VRFY demo", "EXPN demo", "HELP", "RSET"):
        c.send(v)
        c.smtp_reply()      # one complete reply, any code (for now)
    # DATA last: if it were accepted (354) the rest would be message text
    c.send("RSET")
    c.smtp_reply()
    c.noop("smtp")
    c.quit("smtp")


@case("smtp: commands are case-insensitive")
def _():
    c = greet(sb().port("smtp"), "smtp")
    for v in ("noop", "NoOp", "nOOP"):
        c.send(v)
        c.expect(r"250 2\.0\.0 .*")
    c.send("quit")
    c.expect(r"221 2\.0\.0( .*)?")
    c.expect_close()


@case("smtp: pipelined commands in one write answered in order")
def _():
    c = greet(sb().port("smtp"), "smtp")
    c.send_raw(b"NOOP\r\nFOO\r\nnoop\r\nBAR baz\r\nNOOP\r\nQUIT\r\n")
    c.expect_lines([r"250 2\.0\.0 .*", r"500 5\.5\.2( .*)?",
                    r"250 2\.0\.0 .*", r"500 5\.5\.2( .*)?",
                    r"250 2\.0\.0 .*", r"221 2\.0\.0( .*)?"])
    c.expect_close()


@case("smtp: a command split over several writes")
def _():
    import time
    c = greet(sb().port("smtp"), "smtp")
    for piece in (b"NO", b"O", b"P\r", b"\nNOOP\r\nQU", b"IT\r\n"):
        c.send_raw(piece)
        time.sleep(0.05)
    c.expect_lines([r"250 2\.0\.0 .*", r"250 2\.0\.0 .*",
                    r"221 2\.0\.0( .*)?"])
    c.expect_close()


@case("smtp: bare LF inside a line does not desynchronise replies")
def _():
    # RFC 5321 2.3.8: only CRLF ends a line.  yubind may treat a bare LF
    # as a line end (two NOOPs) or not (one junk line); either way every
    # reply is complete and QUIT still ends the session.
    c = greet(sb().port("smtp"), "smtp")
    c.send_raw(b"NOOP\nNOOP\r\nQUIT\r\n")
    n = 0
    while True:
        m = c.expect(r"(250 2\.0\.0 .*|500 5\.5\.2( .*)?|221 2\.0\.0( .*)?)")
        n += 1
        if m.group(0).startswith("221"):
            break
        check(n < 3, "more than 2 replies before 221")
    c.expect_close()


@case("pop3: unknown command -> -ERR, case-insensitive NOOP, pipelining")
def _():
    c = greet(sb().port("pop3"), "pop3")
    c.send("FROBNICATE")
    c.expect(r"-ERR( .*)?")
    c.send("XYZZY 1 2")
    c.expect(r"-ERR( .*)?")
    for v in ("noop", "NoOp"):
        c.send(v)
        c.expect(r"\+OK( .*)?")
    c.send_raw(b"NOOP\r\nBOGUS\r\nnoop\r\nquit\r\n")
    c.expect_lines([r"\+OK( .*)?", r"-ERR( .*)?", r"\+OK( .*)?",
                    r"\+OK( .*)?"])
    c.expect_close()


@case("pop3: APOP timestamps unique over 3 connections, PID and host")
def _():
    s = sb()
    stamps = []
    for i in range(3):
        c = Client(s.port("pop3"))
        m = c.expect(PROTO["pop3"].greeting)
        t = re.search(r"<([0-9]+)\.([0-9.]+)@([^>]+)>", m.group(0))
        if not check(t is not None, "no APOP timestamp in %r" % m.group(0)):
            continue
        stamps.append(t.group(0))
        check(t.group(1) == str(s.pid), "timestamp %s: PID part is not "
              "the daemon's pid %d" % (t.group(0), s.pid))
        check(t.group(3) == HOSTNAME, "timestamp %s: host part is not %s"
              % (t.group(0), HOSTNAME))
        c.quit("pop3")
    check(len(set(stamps)) == len(stamps),
          "APOP timestamps repeat: %r" % stamps)
    # also unique for connections open at the same time
    cs = [Client(s.port("pop3")) for i in range(3)]
    st = [re.search(r"<[^>]*>", c.expect(PROTO["pop3"].greeting)
                    .group(0)).group(0) for c in cs]
    check(len(set(st + stamps)) == len(st + stamps),
          "APOP timestamps repeat (simultaneous): %r" % (st + stamps))
    for c in cs:
        c.close()


@case("imap: CAPABILITY, NOOP, LOGOUT")
def _():
    c = greet(sb().port("imap"), "imap")
    c.send("a1 CAPABILITY")
    c.expect_lines([r"\* CAPABILITY IMAP4rev1( .*)?", r"a1 OK( .*)?"])
    c.send("a2 NOOP")
    c.expect(r"a2 OK( .*)?")
    c.send("a3 LOGOUT")
    c.expect_lines([r"\* BYE( .*)?", r"a3 OK( .*)?"])
    c.expect_close()


@case("imap: unknown command -> tagged BAD; case-insensitive")
def _():
    c = greet(sb().port("imap"), "imap")
    c.send("x1 FROBNICATE")
    c.expect(r"x1 BAD( .*)?")
    c.send("x2 NOOPX")
    c.expect(r"x2 BAD( .*)?")
    c.send("x3 noop")
    c.expect(r"x3 OK( .*)?")
    c.send("x4 CaPaBiLiTy")
    c.expect_lines([r"\* CAPABILITY IMAP4rev1( .*)?", r"x4 OK( .*)?"])
    c.send("x5 logout")
    c.expect_lines([r"\* BYE( .*)?", r"x5 OK( .*)?"])
    c.expect_close()


@case("imap: tags are echoed exactly")
def _():
    c = greet(sb().port("imap"), "imap")
    for tag in ("A001", "abc", "AbC.1", "t-2_x", "0", "1234567890123456",
                "T]"):
        c.send("%s NOOP" % tag)
        c.expect(r"%s OK( .*)?" % re.escape(tag))
    c.quit("imap")


@case("imap: a line without a tag -> * BAD; tag without command -> BAD")
def _():
    c = greet(sb().port("imap"), "imap")
    c.send(" NOOP")                        # empty tag
    c.expect(r"\* BAD( .*)?")
    c.send("t1")                           # tag, no command
    c.expect(r"(t1|\*) BAD( .*)?")
    c.send("t2 ")                          # tag, empty command
    c.expect(r"(t2|\*) BAD( .*)?")
    c.send("t3 NOOP")
    c.expect(r"t3 OK( .*)?")
    # an empty line: either ignored or * BAD, never a tagged reply
    c.send("")
    c.send("t4 NOOP")
    c.imap_tagged("t4", untagged=r"\* BAD( .*)?")
    c.quit("imap")


@case("imap: pipelined commands in one write answered in order")
def _():
    c = greet(sb().port("imap"), "imap")
    c.send_raw(b"p1 NOOP\r\np2 BOGUS\r\np3 CAPABILITY\r\np4 noop\r\n"
               b"p5 LOGOUT\r\n")
    c.expect_lines([r"p1 OK( .*)?", r"p2 BAD( .*)?",
                    r"\* CAPABILITY IMAP4rev1( .*)?", r"p3 OK( .*)?",
                    r"p4 OK( .*)?", r"\* BYE( .*)?", r"p5 OK( .*)?"])
    c.expect_close()


@case("imap: not-yet-known commands get one tagged reply")
def _():
    c = greet(sb().port("imap"), "imap")
    for i, cmd in enumerate(("LOGIN demo wrongpassword", "SELECT INBOX",
                             "LIST \"\" *", "EXAMINE INBOX", "ID NIL",
                             "STATUS INBOX (MESSAGES)", "CHECK")):
        tag = "k%d" % i
        c.send("%s %s" % (tag, cmd))
        c.imap_tagged(tag, untagged=r"\* .*")
    c.send("k9 NOOP")
    c.imap_tagged("k9")
    c.quit("imap")


@case("every protocol: greeting of many sequential connections")
def _():
    s = sb()
    for proto in ("smtp", "pop3", "imap"):
        for i in range(20):
            c = greet(s.port(proto), proto)
            c.close()
    for proto in ("smtp", "pop3", "imap"):
        greet(s.port(proto), proto).quit(proto)


@case("nothing after QUIT/LOGOUT in the same write is answered")
def _():
    s = sb()
    c = greet(s.port("smtp"), "smtp")
    c.send_raw(b"QUIT\r\nNOOP\r\nNOOP\r\n")
    c.expect(r"221 2\.0\.0( .*)?")
    c.expect_close()
    c = greet(s.port("pop3"), "pop3")
    c.send_raw(b"QUIT\r\nNOOP\r\n")
    c.expect(r"\+OK( .*)?")
    c.expect_close()
    c = greet(s.port("imap"), "imap")
    c.send_raw(b"l1 LOGOUT\r\nl2 NOOP\r\n")
    c.expect_lines([r"\* BYE( .*)?", r"l1 OK( .*)?"])
    c.expect_close()


for _proto in ("smtp", "pop3", "imap"):
    def _mk(proto):
        @case("%s: 20,000 pipelined commands all answered, in order" % proto)
        def _():
            import threading
            c = greet(sb().port(proto), proto)
            n = 20000
            if proto == "imap":
                data = b"".join(b"f%d NOOP\r\n" % i for i in range(n))
            else:
                data = (PROTO[proto].noop + "\r\n").encode() * n
            err = []

            def writer():      # the daemon may stop reading until we read
                try:
                    c.sock.sendall(data)
                except OSError as e:
                    err.append(e)
            t = threading.Thread(target=writer, daemon=True)
            t.start()
            for i in range(n):
                if proto == "imap":
                    c.expect(r"f%d OK( .*)?" % i)
                else:
                    c.expect(PROTO[proto].noop_ok[0])
            t.join(10)
            check(not err, "send failed: %r" % err)
            c.quit(proto)
    _mk(_proto)


@case("daemon still alive and exits 0 on SIGTERM")
def _():
    s = sb()
    check(s.alive(), "yubind died during the tests (exit %s)" %
          s.proc.returncode)
    rc = s.stop()
    check(rc == 0, "exit code after SIGTERM %r, want 0" % rc)


main()

#!/usr/bin/env python3
"""proto_pop3.py - the POP3 server (RFC 1939, 2449 CAPA and response
codes, 5034 AUTH, 2195 CRAM-MD5): greeting and APOP timestamps, every
login method and its failures (delay, other sessions meanwhile, third
failure closes), states, CAPA, STAT/LIST/RETR/TOP/DELE/RSET/UIDL/NOOP
with byte-exact sizes and bodies (CRLF, dot-stuffing, metadata headers
hidden), bad arguments and lines, UPDATE at QUIT, Status: RO, stable
UIDLs (X-UID/X-IMAPbase, qpopper X-UIDL, Dovecot X-UID), [IN-USE],
plaintext_networks, deliveries held back during a session, streaming
of a big message, inetd mode, and the foreign spools of
tests/fixtures/mbox/ when they are there."""

import base64
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

USERS = numbered_users(40, ("demo", "demopw"), ("bob", "bobpw"),
                       ("carol", "c4rol"))
SHARED = SharedSetup(USERS)
sb, new_user, spool = SHARED.sb, SHARED.new_user, SHARED.spool


def port(s=None):
    return (s or sb()).port("pop3")


def login(user, how="user", s=None, want=None):
    return pop3_login(port(s), user, USERS[user], how, want)[0]


RE_AUTH_FAIL = r"-ERR \[AUTH\] Authentication failed"
RE_AUTH_CLOSE = r"-ERR \[AUTH\] Authentication failed; closing"
RE_DELIVERED = r"250 2\.0\.0 Ok: delivered as [0-9A-Za-z]+"
RE_QUEUED = r"250 2\.0\.0 Ok: queued as [0-9A-Za-z]+"


def content_length_msg(head, body):
    """A message with a correct Content-Length: of its body."""
    return head + b"Content-Length: %d\n\n" % len(body) + body


# The fixed mailbox of the size/content cases: every awkward thing.
BODY3 = b"meta body\nline two\n"
FIXED = [
    b"From: a@example.org\nTo: demo@mx.yubintest.example\nSubject: one\n"
    b"Message-ID: <1@example.org>\n\nHello.\n",
    b"From: b@example.org\nSubject: dots\n\n.\n..\n.leading dot\n...\n"
    b" .\na.b\nend\n.\n",
    content_length_msg(b"Status: RO\nX-Status: A\nX-Keywords: $Label1 work\n"
                       b"Subject: meta\nX-UIDL: qpopper-uidl-3\n", BODY3),
    b"From: c@example.org\nSubject: quoted\n\n>From the start\n"
    b">>From deeper\nFromage\n\n\nlong " + b"x" * 4000 + b"\nend\n",
    b"From: d@example.org\nSubject: folded\n  continuation\n\tand tab\n"
    b"X-Status: F\nX-Other: kept\n\nbody\n",
    b"From: e@example.org\nSubject: empty body\n\n",
    b"From: f@example.org\nSubject: 8bit\nContent-Type: text/plain; "
    b"charset=iso-8859-1\n\ncaf\xe9 \xa9 \xff\x80\n",
    b"From: g@example.org\nSubject: trailing blank lines\n\nx\n\n\n",
]


def fixed_user():
    if "fixed" not in STATE:
        u, _ = new_user()
        mbox_install(sb(), u, mbox_build(FIXED))
        STATE["fixed"] = u
    return STATE["fixed"]


STATE = {}


def expect_err(c, line, what=None):
    r = pop3_cmd(c, line, POP3_ERR)
    return r


def stamp_parts(g):
    m = re.search(r"<([0-9]+)\.([0-9]+)\.([0-9]+)@([^>]+)>", g)
    return m


# ------------------------------------------------------------ greeting

@case("greeting: +OK yubin POP3 server ready <PID.TIME.N@HOST>, unique")
def _():
    stamps = []
    for i in range(5):
        c, g = pop3_greet(port())
        m = re.fullmatch(r"\+OK yubin POP3 server ready "
                         r"(<([0-9]+)\.([0-9]+)\.([0-9]+)@([^>]+)>)", g)
        if not check(m, "greeting %r" % g):
            continue
        stamps.append(m.group(1))
        check(int(m.group(2)) == sb().pid, "timestamp pid %s, daemon pid %d"
              % (m.group(2), sb().pid))
        check(abs(int(m.group(3)) - time.time()) < 120, "timestamp time %s "
              "is not now" % m.group(3))
        check(m.group(5) == HOSTNAME, "timestamp host %r, want %r" %
              (m.group(5), HOSTNAME))
        c.quit("pop3")
    check(len(set(stamps)) == len(stamps), "timestamps repeat: %r" % stamps)


@case("CAPA before and after login (RFC 2449)")
def _():
    want = {"TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
            "PIPELINING", "SASL PLAIN LOGIN CRAM-MD5", "IMPLEMENTATION yubin"}
    c, g = pop3_greet(port())
    first, lines = pop3_multi(c, "CAPA")
    check(set(lines) == want and len(lines) == len(want),
          "CAPA before login: %r, want %r" % (lines, sorted(want)))
    pop3_cmd(c, "USER demo")
    pop3_cmd(c, "PASS demopw", POP3_LOGIN_RE % "demo")
    first, lines = pop3_multi(c, "capa")
    check({"TOP", "UIDL", "PIPELINING", "RESP-CODES"} <= set(lines),
          "CAPA after login: %r" % lines)
    pop3_quit(c)


# ------------------------------------------------------------ logins

@case("USER/PASS: +OK USER has N messages (M octets); empty mailbox")
def _():
    u, pw = new_user()
    c, r = pop3_login(port(), u, pw)
    check(r == "+OK %s has 0 messages (0 octets)" % u, "login reply %r" % r)
    pop3_cmd(c, "STAT", r"\+OK 0 0")
    _, lines = pop3_multi(c, "LIST")
    check(lines == [], "LIST of an empty mailbox: %r" % lines)
    _, lines = pop3_multi(c, "UIDL")
    check(lines == [], "UIDL of an empty mailbox: %r" % lines)
    expect_err(c, "RETR 1")
    pop3_quit(c)
    u = fixed_user()
    c, r = pop3_login(port(), u, USERS[u])
    total = sum(len(pop3_form(t)) for t in FIXED)
    check(r == "+OK %s has %d messages (%d octets)" % (u, len(FIXED), total),
          "login reply %r, want %d messages (%d octets)" %
          (r, len(FIXED), total))
    pop3_quit(c)
    # commands are case-insensitive
    c, g = pop3_greet(port())
    pop3_cmd(c, "user %s" % u)
    pop3_cmd(c, "pAsS %s" % USERS[u], POP3_LOGIN_RE % u)
    pop3_cmd(c, "stat", r"\+OK %d %d" % (len(FIXED), total))
    pop3_quit(c)


@case("USER reply does not tell whether the user exists; failure delayed "
      "~2 s, same reply for unknown user and bad password, logged")
def _():
    replies = []
    for name in ("demo", "nosuchuser"):
        c, g = pop3_greet(port())
        replies.append(pop3_cmd(c, "USER %s" % name))
        t0 = time.monotonic()
        r = pop3_cmd(c, "PASS wrong-password", RE_AUTH_FAIL, timeout=15)
        dt = time.monotonic() - t0
        check(1.5 <= dt <= 6, "failed PASS for %s answered after %.2f s, "
              "want ~2 s" % (name, dt))
        replies.append(r)
        c.quit("pop3")
    check(replies[0] == replies[2], "USER replies differ: %r vs %r" %
          (replies[0], replies[2]))
    check(replies[1] == replies[3], "failure replies differ: %r vs %r" %
          (replies[1], replies[3]))
    # an empty password and a password with spaces
    c, g = pop3_greet(port())
    pop3_cmd(c, "USER demo")
    pop3_cmd(c, "PASS", RE_AUTH_FAIL, timeout=15)
    pop3_cmd(c, "USER demo")
    pop3_cmd(c, "PASS demopw x", RE_AUTH_FAIL, timeout=15)
    c.quit("pop3")
    log = sb().log_text() + sb().stderr_text()
    check(re.search(r"(?i)fail.*nosuchuser|nosuchuser.*fail", log),
          "failed login of nosuchuser not logged")


@case("the third failed login closes the connection (mixed methods)")
def _():
    c, g = pop3_greet(port())
    pop3_cmd(c, "USER demo")
    pop3_cmd(c, "PASS bad1", RE_AUTH_FAIL, timeout=15)
    pop3_cmd(c, "APOP demo %s" % ("0" * 32), RE_AUTH_FAIL, timeout=15)
    ir = base64.b64encode(b"\0demo\0bad3").decode()
    pop3_cmd(c, "AUTH PLAIN %s" % ir, RE_AUTH_CLOSE, timeout=15)
    c.expect_close()
    # and a fresh connection starts from zero
    c, r = pop3_login(port(), "demo", "demopw")
    pop3_quit(c)


@case("other sessions go on during a failed login's delay; pipelined "
      "input after it waits its turn")
def _():
    c1, g = pop3_greet(port())
    pop3_cmd(c1, "USER demo")
    t0 = time.monotonic()
    c1.send_raw(b"PASS wrong\r\nNOOP\r\n")
    time.sleep(0.1)
    t1 = time.monotonic()
    c2, r = pop3_login(port(), "bob", "bobpw")
    pop3_cmd(c2, "STAT", r"\+OK [0-9]+ [0-9]+")
    c3, g3 = pop3_greet(port())
    pop3_cmd(c3, "NOOP")
    dt = time.monotonic() - t1
    check(dt < 1.5, "another login + STAT + greeting + NOOP took %.2f s "
          "during a failure delay" % dt)
    check(quiet_for(c1, 0.5), "failed PASS answered early: %r" % c1.buf)
    pop3_cmd(c1, None, RE_AUTH_FAIL, timeout=15)
    dt = time.monotonic() - t0
    check(1.5 <= dt <= 6, "failure answered after %.2f s" % dt)
    pop3_cmd(c1, None, POP3_OK)      # the NOOP, after the delayed reply
    c1.quit("pop3")
    pop3_quit(c2)
    c3.quit("pop3")


@case("PASS without USER, USER twice, states before login")
def _():
    c, g = pop3_greet(port())
    expect_err(c, "PASS demopw")
    for cmd in ("STAT", "LIST", "LIST 1", "RETR 1", "TOP 1 0", "DELE 1",
                "RSET", "UIDL", "UIDL 1"):
        expect_err(c, cmd)
    expect_err(c, "FROBNICATE")
    expect_err(c, "")
    pop3_cmd(c, "USER nosuchuser")
    pop3_cmd(c, "USER demo")          # the last USER counts
    pop3_cmd(c, "PASS demopw", POP3_LOGIN_RE % "demo")
    for cmd in ("USER demo", "PASS demopw", "APOP demo %s" % ("0" * 32),
                "AUTH PLAIN", "AUTH"):
        expect_err(c, cmd)
    expect_err(c, "FROBNICATE")
    pop3_cmd(c, "NOOP")
    pop3_quit(c)
    # QUIT in the AUTHORIZATION state
    c, g = pop3_greet(port())
    pop3_cmd(c, "QUIT", r"\+OK( .*)?")
    c.expect_close()


@case("APOP: good digest, wrong digest, digest of another timestamp, "
      "syntax")
def _():
    c, r = pop3_login(port(), "demo", "demopw", "apop")
    pop3_quit(c)
    c, g = pop3_greet(port())
    st = pop3_stamp(g)
    expect_err(c, "APOP demo")
    expect_err(c, "APOP demo %s" % apop_digest(st, "demopw")[:31])
    pop3_cmd(c, "APOP demo %s" % apop_digest(st, "wrong"), RE_AUTH_FAIL,
             timeout=15)
    c.quit("pop3")
    c, g = pop3_greet(port())
    c2, g2 = pop3_greet(port())
    pop3_cmd(c, "APOP demo %s" % apop_digest(pop3_stamp(g2), "demopw"),
             RE_AUTH_FAIL, timeout=15)
    # upper-case hex is the same digest
    pop3_cmd(c2, "APOP demo %s" % apop_digest(pop3_stamp(g2),
                                              "demopw").upper(),
             r"(%s|%s)" % (POP3_LOGIN_RE % "demo", RE_AUTH_FAIL), timeout=15)
    c.quit("pop3")
    c2.close()


@case("AUTH: mechanism list, PLAIN (with and without initial response, "
      "authzid), LOGIN, CRAM-MD5, cancel with *")
def _():
    c, g = pop3_greet(port())
    _, mechs = pop3_multi(c, "AUTH")
    check(mechs == ["PLAIN", "LOGIN", "CRAM-MD5"], "AUTH list %r" % mechs)
    c.quit("pop3")
    for how in ("plain", "login", "cram"):
        c, r = pop3_login(port(), "bob", "bobpw", how)
        pop3_cmd(c, "STAT", r"\+OK [0-9]+ [0-9]+")
        pop3_quit(c)
    # PLAIN without an initial response, authzid = authcid
    c, g = pop3_greet(port())
    pop3_cmd(c, "AUTH PLAIN", r"\+ ?")
    pop3_cmd(c, base64.b64encode(b"bob\0bob\0bobpw").decode(),
             POP3_LOGIN_RE % "bob", timeout=15)
    pop3_quit(c)
    # authzid of another user: refused
    c, g = pop3_greet(port())
    pop3_cmd(c, "AUTH PLAIN %s" %
             base64.b64encode(b"demo\0bob\0bobpw").decode(), RE_AUTH_FAIL,
             timeout=15)
    c.quit("pop3")
    # LOGIN with the user name as initial response
    c, g = pop3_greet(port())
    pop3_cmd(c, "AUTH LOGIN %s" % base64.b64encode(b"bob").decode(),
             r"\+ UGFzc3dvcmQ6")
    pop3_cmd(c, base64.b64encode(b"bobpw").decode(), POP3_LOGIN_RE % "bob",
             timeout=15)
    pop3_quit(c)
    # cancel at every step, then a normal login on the same connection
    c, g = pop3_greet(port())
    pop3_cmd(c, "AUTH PLAIN", r"\+ ?")
    expect_err(c, "*")
    pop3_cmd(c, "AUTH LOGIN", r"\+ VXNlcm5hbWU6")
    expect_err(c, "*")
    pop3_cmd(c, "AUTH LOGIN", r"\+ VXNlcm5hbWU6")
    pop3_cmd(c, base64.b64encode(b"bob").decode(), r"\+ UGFzc3dvcmQ6")
    expect_err(c, "*")
    m = re.fullmatch(r"\+ ([A-Za-z0-9+/=]+)",
                     pop3_cmd(c, "AUTH CRAM-MD5", r"\+ [A-Za-z0-9+/=]+"))
    ch = base64.b64decode(m.group(1)).decode("latin-1")
    check(re.fullmatch(r"<[^<>@]+@[^<>]+>", ch), "CRAM-MD5 challenge %r is "
          "not <...@host> (RFC 2195)" % ch)
    expect_err(c, "*")
    expect_err(c, "AUTH KERBEROS_V4")
    pop3_cmd(c, "USER bob")
    pop3_cmd(c, "PASS bobpw", POP3_LOGIN_RE % "bob", timeout=15)
    pop3_quit(c)
    # a wrong CRAM-MD5 answer and garbage base64 fail like a password
    c, g = pop3_greet(port())
    m = re.fullmatch(r"\+ ([A-Za-z0-9+/=]+)",
                     pop3_cmd(c, "AUTH CRAM-MD5", r"\+ [A-Za-z0-9+/=]+"))
    pop3_cmd(c, cram_md5_response("bob", "wrong", m.group(1)), RE_AUTH_FAIL,
             timeout=15)
    pop3_cmd(c, "AUTH PLAIN !!!notbase64!!!", POP3_ERR, timeout=15)
    c.quit("pop3")
    # two CRAM-MD5 challenges differ
    chs = []
    for i in range(2):
        c, g = pop3_greet(port())
        chs.append(pop3_cmd(c, "AUTH CRAM-MD5", r"\+ [A-Za-z0-9+/=]+"))
        expect_err(c, "*")
        c.quit("pop3")
    check(chs[0] != chs[1], "CRAM-MD5 challenge repeats: %r" % chs)


# ------------------------------------------------------------ transaction

@case("STAT/LIST sizes are exactly the octets RETR sends (CRLF, no "
      "stuffing, no metadata headers); RETR bytes exact")
def _():
    u = fixed_user()
    c = login(u)
    want = [len(pop3_form(t)) for t in FIXED]
    pop3_cmd(c, "STAT", r"\+OK %d %d" % (len(FIXED), sum(want)))
    sizes = pop3_list_map(c)
    check(sizes == dict(enumerate(want, 1)), "LIST %r, want %r" %
          (sizes, dict(enumerate(want, 1))))
    for i, t in enumerate(FIXED, 1):
        pop3_cmd(c, "LIST %d" % i, r"\+OK %d %d" % (i, want[i - 1]))
        size, data = pop3_retr(c, i)
        check(size == len(data), "RETR %d: +OK %d octets but %d sent" %
              (i, size, len(data)))
        check(data == pop3_form(t), "RETR %d: got %r, want %r" %
              (i, data[:300], pop3_form(t)[:300]))
    # raw check of the stuffing of message 2
    c.send("RETR 2")
    c.expect(r"\+OK [0-9]+ octets( .*)?")
    raw = pop3_read_multi(c)
    check(b"\r\n..\r\n...\r\n..leading dot\r\n....\r\n .\r\n" in raw and
          raw.endswith(b"end\r\n..\r\n"), "message 2 not dot-stuffed as "
          "RFC 1939 3 says: %r" % raw)
    pop3_quit(c)


@case("TOP n m: header, blank line, m body lines; TOP errors")
def _():
    u = fixed_user()
    c = login(u)
    for i, n in ((1, 0), (1, 1), (1, 5), (2, 3), (3, 0), (3, 1), (4, 2),
                 (5, 0), (6, 0), (6, 2), (8, 2), (8, 100)):
        _, data = pop3_retr(c, i, top=n)
        check(data == pop3_top_form(FIXED[i - 1], n), "TOP %d %d: got %r, "
              "want %r" % (i, n, data[:300],
                           pop3_top_form(FIXED[i - 1], n)[:300]))
    for bad in ("TOP", "TOP 1", "TOP 0 1", "TOP 99 1", "TOP 1 -1",
                "TOP 1 x", "TOP x 1", "TOP 1 4294967297x"):
        expect_err(c, bad)
    pop3_cmd(c, "NOOP")
    pop3_quit(c)


@case("bad message numbers: 0, out of range, 4294967297, junk, missing")
def _():
    u = fixed_user()
    c = login(u)
    n = len(FIXED)
    for cmd in ("LIST", "RETR", "DELE", "UIDL"):
        for arg in ("0", str(n + 1), "99", "4294967297",
                    "4294967296", "18446744073709551617",
                    "-1", "abc", "1x", "+1", " 1"):
            expect_err(c, "%s %s" % (cmd, arg))
    for cmd in ("RETR", "DELE"):
        expect_err(c, cmd)
    pop3_cmd(c, "STAT", r"\+OK %d [0-9]+" % n)   # nothing was deleted
    # disconnect without QUIT: nothing happens
    c.close()


@case("DELE, then the message is gone from STAT/LIST/UIDL/RETR/TOP; "
      "RSET undoes; QUIT removes from the file")
def _():
    u, pw = new_user()
    texts = [b"Subject: m%d\n\nbody dele-%d\n" % (i, i) for i in range(1, 6)]
    mbox_install(sb(), u, mbox_build(texts))
    c = login(u)
    pop3_cmd(c, "DELE 2", r"\+OK( .*)?")
    pop3_cmd(c, "DELE 4", r"\+OK( .*)?")
    sizes = [len(pop3_form(t)) for t in texts]
    pop3_cmd(c, "STAT", r"\+OK 3 %d" % (sizes[0] + sizes[2] + sizes[4]))
    check(sorted(pop3_list_map(c)) == [1, 3, 5], "LIST after DELE")
    check(sorted(pop3_uidl_map(c)) == [1, 3, 5], "UIDL after DELE")
    for cmd in ("DELE 2", "RETR 2", "TOP 2 0", "LIST 2", "UIDL 4"):
        expect_err(c, cmd)
    pop3_cmd(c, "RSET", r"\+OK( .*)?")
    pop3_cmd(c, "STAT", r"\+OK 5 %d" % sum(sizes))
    _, d = pop3_retr(c, 2)
    check(d == pop3_form(texts[1]), "RETR 2 after RSET")
    pop3_cmd(c, "DELE 1")
    pop3_cmd(c, "DELE 5")
    pop3_quit(c)
    left = mbox_split(spool(u))
    bodies = [b"dele-%d" % i for i in range(1, 6)]
    got = [[b for b in bodies if b + b"\n" in m[1]] for m in left]
    check(got == [[b"dele-2"], [b"dele-3"], [b"dele-4"]], "after QUIT the "
          "spool holds %r" % got)
    c = login(u)
    pop3_cmd(c, "STAT", r"\+OK 3 %d" % (sizes[1] + sizes[2] + sizes[3]))
    for i, t in enumerate(texts[1:4], 1):
        _, d = pop3_retr(c, i)
        check(d == pop3_form(t), "after QUIT message %d is %r" % (i, d))
    # delete all: the next session sees an empty mailbox
    for i in (1, 2, 3):
        pop3_cmd(c, "DELE %d" % i)
    pop3_cmd(c, "STAT", r"\+OK 0 0")
    pop3_quit(c)
    c = login(u)
    pop3_cmd(c, "STAT", r"\+OK 0 0")
    pop3_quit(c)
    check(mbox_split(spool(u)) == [], "spool not empty: %r" %
          spool(u)[:200])


@case("disconnect without QUIT, and SIGTERM during a session, delete "
      "nothing")
def _():
    s = Sandbox(users=USERS)
    texts = [b"Subject: k%d\n\nbody keep-%d\n" % (i, i) for i in range(1, 4)]
    mbox_install(s, "demo", mbox_build(texts))
    c = login("demo", s=s)
    pop3_cmd(c, "DELE 1")
    pop3_cmd(c, "DELE 2")
    pop3_retr(c, 3)
    c.close(reset=True)
    time.sleep(0.3)
    c = login("demo", s=s)
    pop3_cmd(c, "STAT", r"\+OK 3 [0-9]+")
    pop3_cmd(c, "DELE 3")
    s.signal(signal.SIGTERM)
    r = c.readline(timeout=10)
    check(r == b"" or re.fullmatch(br"-ERR.*\r\n", r), "on SIGTERM the "
          "session got %r" % r)
    rc = s.wait(10)
    check(rc == 0, "exit code %r after SIGTERM" % rc)
    msgs = mbox_split(read_bytes(s.path("mail", "demo")) or b"")
    check(len(msgs) == 3, "%d messages left, want 3" % len(msgs))
    s.start()
    c = login("demo", s=s)
    pop3_cmd(c, "STAT", r"\+OK 3 %d" % sum(len(pop3_form(t))
                                           for t in texts))
    pop3_quit(c)
    s.stop()


@case("argument over 255 chars and line over 1024 -> -ERR, session goes "
      "on; NUL in a command")
def _():
    u = fixed_user()
    c, g = pop3_greet(port())
    expect_err(c, "USER " + "a" * 300)
    c.send_raw(b"NOOP " + b"x" * 3000 + b"\r\n")
    c.expect(POP3_ERR)
    pop3_cmd(c, "NOOP")      # the rest of the long line is not a command
    c.send_raw(b"USER " + b"y" * 1100 + b"\r\nNOOP\r\n")
    c.expect(POP3_ERR)
    pop3_cmd(c, None, POP3_OK)
    c.send_raw(b"NO\0OP\r\n")
    c.expect(POP3_ERR)
    pop3_cmd(c, "USER %s" % u)
    pop3_cmd(c, "PASS %s" % USERS[u], POP3_LOGIN_RE % u)
    expect_err(c, "LIST " + "1" * 256)
    expect_err(c, "TOP 1 " + "0" * 300)
    pop3_cmd(c, "LIST 1", r"\+OK 1 [0-9]+")
    c.send_raw(b"STAT " + b"z" * 100000 + b"\r\n")
    c.expect(POP3_ERR, timeout=15)
    pop3_cmd(c, "STAT", r"\+OK [0-9]+ [0-9]+")
    pop3_quit(c)


@case("PIPELINING: a burst of commands answered in order")
def _():
    u = fixed_user()
    c = login(u)
    burst = b"".join(b"%s\r\n" % x for x in (
        b"STAT", b"LIST 1", b"NOOP", b"RETR 2", b"UIDL 1", b"TOP 1 0",
        b"LIST 99", b"NOOP", b"LIST"))
    c.send_raw(burst)
    c.expect(r"\+OK %d [0-9]+" % len(FIXED))
    c.expect(r"\+OK 1 [0-9]+")
    c.expect(POP3_OK)
    c.expect(r"\+OK [0-9]+ octets( .*)?")
    check(pop3_unstuff(pop3_read_multi(c)) == pop3_form(FIXED[1]), "RETR 2")
    c.expect(r"\+OK 1 \S+")
    c.expect(POP3_OK)
    check(pop3_unstuff(pop3_read_multi(c)) == pop3_top_form(FIXED[0], 0),
          "TOP 1 0")
    c.expect(POP3_ERR)
    c.expect(POP3_OK)
    c.expect(POP3_OK)
    check(len(pop3_read_multi(c).split(b"\r\n")) == len(FIXED) + 1, "LIST")
    c.send_raw(b"NOOP\r\nQUIT\r\n")
    c.expect(POP3_OK)
    c.expect(r"\+OK .*signing off.*")
    c.expect_close()


@case("RETR sets Status: RO in the file at QUIT; X-IMAPbase in the "
      "first message, X-UID in each")
def _():
    u, pw = new_user()
    texts = [b"Subject: s%d\n\nbody status-%d\n" % (i, i) for i in range(3)]
    mbox_install(sb(), u, mbox_build(texts))
    c = login(u)
    pop3_retr(c, 2)
    pop3_retr(c, 3, top=0)
    pop3_quit(c)
    msgs = mbox_split(spool(u))
    check(len(msgs) == 3, "%d messages" % len(msgs))
    if len(msgs) != 3:
        return
    heads = [m[1].split(b"\n\n", 1)[0] for m in msgs]
    st = [re.search(br"(?m)^Status: *([A-Z]*)", h) for h in heads]
    check(st[1] and set(st[1].group(1)) == set(b"RO"), "retrieved message "
          "has %r, want Status: RO" % (st[1] and st[1].group(0)))
    check(not (st[0] and b"R" in st[0].group(1)), "message 1 (not "
          "retrieved) marked read: %r" % (st[0] and st[0].group(0)))
    if st[2] and b"R" in st[2].group(1):
        note("TOP marked message 3 read (%r)" % st[2].group(0))
    base = re.search(br"(?m)^X-IMAPbase: ([0-9]+) ([0-9]+)", heads[0])
    check(base, "no X-IMAPbase: in the first message: %r" % heads[0])
    uids = [re.search(br"(?m)^X-UID: ([0-9]+)", h) for h in heads]
    check(all(uids), "X-UID missing: %r" % heads)
    if base and all(uids):
        ul = [int(x.group(1)) for x in uids]
        check(ul == sorted(ul) and len(set(ul)) == 3 and ul[0] >= 1,
              "X-UIDs %r not ascending" % ul)
        # UW's and Dovecot's form: the second number is the last UID
        check(int(base.group(2)) >= ul[-1], "last UID %s below %r" %
              (base.group(2), ul))
    # and the bodies are untouched
    for i, m in enumerate(msgs):
        check(m[1].endswith(b"\n\nbody status-%d\n\n" % i), "message %d "
              "body changed: %r" % (i + 1, m[1][-80:]))
    c = login(u)
    for i, t in enumerate(texts, 1):
        check(pop3_retr(c, i)[1] == pop3_form(t), "message %d after the "
              "header rewrite" % i)
    pop3_quit(c)


def uidl_check_format(ids):
    for n, v in ids.items():
        check(re.fullmatch(r"[0-9A-F]{16}", v), "UIDL %d %r is not 16 hex "
              "chars" % (n, v))


@case("UIDL: 16 hex chars (UID, UIDVALIDITY), unique, stable across "
      "sessions, DELE and new mail")
def _():
    u, pw = new_user()
    texts = [b"Subject: u%d\n\nbody uidl-%d\n" % (i, i) for i in range(1, 5)]
    mbox_install(sb(), u, mbox_build(texts))
    c = login(u)
    s1 = pop3_uidl_map(c)
    uidl_check_format(s1)
    check(len(set(s1.values())) == 4, "UIDLs repeat: %r" % s1)
    for n, v in s1.items():
        pop3_cmd(c, "UIDL %d" % n, r"\+OK %d %s" % (n, v))
    vals = set(v[8:] for v in s1.values())
    check(len(vals) == 1, "UIDVALIDITY part differs: %r" % s1)
    uids = [int(s1[n][:8], 16) for n in sorted(s1)]
    check(uids == sorted(uids) and len(set(uids)) == 4, "UIDs %r" % uids)
    pop3_cmd(c, "DELE 2")
    pop3_quit(c)
    c = login(u)
    s2 = pop3_uidl_map(c)
    want = [s1[1], s1[3], s1[4]]
    check([s2.get(i) for i in (1, 2, 3)] == want and len(s2) == 3,
          "session 2 UIDL %r, want %r" % (s2, want))
    pop3_quit(c)
    smtp_send(sb().port("smtp"), "a@client.example",
              ["%s@localhost" % u], "Subject: new\n\nbody uidl-new\n")
    c = login(u)
    s3 = pop3_uidl_map(c)
    check(len(s3) == 4 and [s3.get(i) for i in (1, 2, 3)] == want,
          "session 3 UIDL %r, want %r + a new one" % (s3, want))
    if len(s3) == 4:
        check(s3[4] not in s1.values(), "new message got an old UIDL %r "
              "(of the deleted message?)" % s3[4])
        uidl_check_format(s3)
        _, d = pop3_retr(c, 4)
        check(b"body uidl-new\r\n" in d, "new message: %r" % d[-100:])
    # a session that ends without QUIT keeps the UIDLs it showed
    c.close()
    c = login(u)
    check(pop3_uidl_map(c) == s3, "UIDLs changed after a session without "
          "QUIT")
    pop3_quit(c)


@case("qpopper X-UIDL: used as the UIDL and not sent; Dovecot X-UID/"
      "X-IMAPbase used")
def _():
    u = fixed_user()
    c = login(u)
    pop3_cmd(c, "UIDL 3", r"\+OK 3 qpopper-uidl-3")
    ids = pop3_uidl_map(c)
    check(ids.get(3) == "qpopper-uidl-3", "UIDL 3 %r" % ids.get(3))
    check(len(set(ids.values())) == len(ids), "UIDLs repeat: %r" % ids)
    _, d = pop3_retr(c, 3)
    check(b"X-UIDL" not in d, "X-UIDL header sent: %r" % d)
    pop3_quit(c)
    # Dovecot wrote this one
    u, pw = new_user()
    texts = [b"X-IMAPbase: 1234567890 0000000102 $Label1\nX-UID: 100\n"
             b"Status: RO\nSubject: d1\n\nbody dovecot-1\n",
             b"X-UID: 101\nStatus: O\nX-Keywords: $Label1\nSubject: d2\n\n"
             b"body dovecot-2\n",
             b"Subject: d3 (no X-UID yet)\n\nbody dovecot-3\n"]
    mbox_install(sb(), u, mbox_build(texts))
    c = login(u)
    ids = pop3_uidl_map(c)
    check(ids.get(1) == "%08X%08X" % (100, 1234567890) and
          ids.get(2) == "%08X%08X" % (101, 1234567890),
          "Dovecot's UIDs not used: %r" % ids)
    check(ids.get(3, "")[:8] >= "%08X" % 102 and
          ids.get(3, "")[8:] == "%08X" % 1234567890,
          "new UID %r not from UIDNEXT 102" % ids.get(3))
    for i, t in enumerate(texts, 1):
        check(pop3_retr(c, i)[1] == pop3_form(t), "Dovecot message %d" % i)
    pop3_quit(c)


# ------------------------------------------------------------ mailbox

@case("a second login to a held mailbox -> -ERR [IN-USE] at once; works "
      "after QUIT")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build([b"Subject: x\n\nbody in-use\n"]))
    c1 = login(u)
    for how in ("user", "apop", "cram"):
        t0 = time.monotonic()
        c2, r = pop3_login(port(), u, pw, how, want=r"-ERR \[IN-USE\].*")
        check(time.monotonic() - t0 < 2.0, "[IN-USE] after %.2f s" %
              (time.monotonic() - t0))
        pop3_cmd(c2, "STAT", POP3_ERR)       # still not logged in
        if how == "user":
            keep = c2
        else:
            c2.close()
    pop3_cmd(c1, "STAT", r"\+OK 1 [0-9]+")
    pop3_quit(c1)
    pop3_cmd(keep, "USER %s" % u)
    pop3_cmd(keep, "PASS %s" % pw, POP3_LOGIN_RE % u, timeout=15)
    pop3_quit(keep)


@case("a dotlock held by another program: login waits, then succeeds "
      "when it goes; else -ERR [IN-USE] after lock_timeout")
def _():
    s = Sandbox(users=USERS, conf="lock_timeout 2\n")
    p = mbox_install(s, "demo", mbox_build([b"Subject: x\n\nbody dl\n"]))
    lock = p + ".lock"
    with open(lock, "w") as f:
        f.write("0")
    c, g = pop3_greet(port(s))
    pop3_cmd(c, "USER demo")
    t0 = time.monotonic()
    c.send("PASS demopw")
    quiet = quiet_for(c, 0.8)
    os.unlink(lock)
    if not quiet:
        note("login answered at once while dotlocked: %r" % c.buf)
        pop3_cmd(c, None, r"(%s|-ERR \[(IN-USE|SYS/TEMP)\].*)" %
                 (POP3_LOGIN_RE % "demo"))
    else:
        pop3_cmd(c, None, POP3_LOGIN_RE % "demo", timeout=15)
        pop3_quit(c)
    with open(lock, "w") as f:
        f.write("0")
    t0 = time.monotonic()
    c, r = pop3_login(port(s), "demo", "demopw",
                      want=r"-ERR \[(IN-USE|SYS/TEMP)\].*")
    dt = time.monotonic() - t0
    check(dt < 12, "refusal after %.1f s with lock_timeout 2" % dt)
    c.close()
    os.unlink(lock)
    c = login("demo", s=s)
    pop3_quit(c)
    check(not os.path.exists(lock), "dotlock left behind")
    s.stop()


@case("plaintext_networks 10.0.0.0/8: USER refused [AUTH], CAPA/AUTH "
      "without USER/PLAIN/LOGIN, APOP and CRAM-MD5 work")
def _():
    s = Sandbox(users=USERS, conf="plaintext_networks 10.0.0.0/8\n")
    c, g = pop3_greet(port(s))
    pop3_cmd(c, "USER demo", r"-ERR \[AUTH\].*")
    pop3_cmd(c, "PASS demopw", POP3_ERR, timeout=15)
    _, lines = pop3_multi(c, "CAPA")
    check("USER" not in lines, "CAPA lists USER: %r" % lines)
    sasl = [ln for ln in lines if ln.startswith("SASL")]
    check(sasl == ["SASL CRAM-MD5"], "CAPA SASL line %r" % sasl)
    _, mechs = pop3_multi(c, "AUTH")
    check(mechs == ["CRAM-MD5"], "AUTH list %r" % mechs)
    pop3_cmd(c, "AUTH PLAIN %s" %
             base64.b64encode(b"\0demo\0demopw").decode(), POP3_ERR,
             timeout=15)
    pop3_cmd(c, "AUTH LOGIN", POP3_ERR, timeout=15)
    c.quit("pop3")
    for how in ("apop", "cram"):
        c, r = pop3_login(port(s), "demo", "demopw", how)
        pop3_quit(c)
    s.stop()


@case("SMTP delivery during a session waits and lands after QUIT; the "
      "session's view does not change")
def _():
    s = Sandbox(users=USERS)
    texts = [b"Subject: h1\n\nbody held-1\n"]
    mbox_install(s, "demo", mbox_build(texts))
    c = login("demo", s=s)
    d = smtp_open(s.port("smtp"))
    smtp_cmd(d, "MAIL FROM:<a@client.example>", r"250 2\.1\.0 .*")
    smtp_cmd(d, "RCPT TO:<demo@localhost>", r"250 2\.1\.5 .*")
    smtp_cmd(d, "DATA", r"354 .*")
    d.send_raw(smtp_data("Subject: held\n\nbody held-2\n"))
    check(quiet_for(d, 1.2), "SMTP answered while the POP3 session held "
          "the mailbox: %r" % d.buf)
    check(b"held-2" not in (read_bytes(s.path("mail", "demo")) or b""),
          "message written into a held mailbox")
    pop3_cmd(c, "STAT", r"\+OK 1 [0-9]+")
    pop3_cmd(c, "DELE 1")
    pop3_quit(c)
    smtp_cmd(d, None, r"250 2\.0\.0 Ok: (delivered|queued) as [0-9A-Za-z]+")
    d.quit("smtp")
    s.signal(signal.SIGUSR1)
    ok = wait_until(lambda: b"held-2" in (read_bytes(s.path("mail", "demo"))
                                          or b""), 10, 0.1)
    check(ok, "held message not delivered after QUIT")
    c = login("demo", s=s)
    pop3_cmd(c, "STAT", r"\+OK 1 [0-9]+")
    _, data = pop3_retr(c, 1)
    check(data.endswith(b"\r\nbody held-2\r\n"), "message 1 is %r" % data)
    pop3_quit(c)
    s.stop()


@case("SMTP delivery held past lock_timeout 2 -> 250 queued; delivered "
      "after QUIT on SIGUSR1; nothing lost")
def _():
    s = Sandbox(users=USERS, conf="lock_timeout 2\n")
    mbox_install(s, "demo", mbox_build([b"Subject: q1\n\nbody q-1\n"]))
    c = login("demo", s=s)
    t0 = time.monotonic()
    smtp_send(s.port("smtp"), "a@client.example", ["demo@localhost"],
              "Subject: q2\n\nbody q-2\n", want=RE_QUEUED)
    dt = time.monotonic() - t0
    check(1.5 < dt < 12, "queued after %.1f s with lock_timeout 2" % dt)
    smtp_send(s.port("smtp"), "a@client.example",
              ["demo@localhost", "bob@localhost"],
              "Subject: q3\n\nbody q-3\n",
              want=r"250 2\.0\.0 Ok: (queued|delivered) as [0-9A-Za-z]+")
    check(b"body q-3\n" in (read_bytes(s.path("mail", "bob")) or b""),
          "bob (not held) did not get his copy")
    pop3_cmd(c, "STAT", r"\+OK 1 [0-9]+")
    s.signal(signal.SIGUSR1)        # a queue run while still held
    time.sleep(0.5)
    pop3_cmd(c, "NOOP")
    pop3_quit(c)
    s.signal(signal.SIGUSR1)

    def both():
        d = read_bytes(s.path("mail", "demo")) or b""
        return b"body q-2\n" in d and b"body q-3\n" in d
    check(wait_until(both, 15, 0.1), "queued mail not delivered after QUIT "
          "and SIGUSR1")
    d = read_bytes(s.path("mail", "demo")) or b""
    for mk in (b"body q-1\n", b"body q-2\n", b"body q-3\n"):
        check(d.count(mk) == 1, "%r %d times in the spool" % (mk, d.count(mk)))
    c = login("demo", s=s)
    pop3_cmd(c, "STAT", r"\+OK 3 [0-9]+")
    pop3_quit(c)
    s.stop()


@case("a big RETR is streamed; another session answers NOOP meanwhile")
def _():
    u, pw = new_user()
    line = b"0123456789" * 7 + b"\n"
    big = b"Subject: big\n\n" + line * (12 * 1024 * 1024 // len(line)) + \
        b".\n.end\n"
    mbox_install(sb(), u, mbox_build([big, b"Subject: small\n\nsmall\n"]))
    c = login(u)
    c.send("RETR 1")
    m = c.expect(r"\+OK ([0-9]+) octets( .*)?", timeout=15)
    time.sleep(0.3)       # the server fills the socket buffers and waits
    t0 = time.monotonic()
    c2, g = pop3_greet(port())
    pop3_cmd(c2, "NOOP")
    dt = time.monotonic() - t0
    check(dt < 3.0, "greeting+NOOP took %.2f s during a big RETR" % dt)
    c2.quit("pop3")
    data = pop3_unstuff(pop3_read_multi(c, timeout=60))
    check(int(m.group(1)) == len(data), "announced %s, got %d" %
          (m.group(1), len(data)))
    check(data == pop3_form(big), "big message differs (%d vs %d bytes)" %
          (len(data), len(pop3_form(big))))
    size, d2 = pop3_retr(c, 2)
    check(d2 == pop3_form(b"Subject: small\n\nsmall\n"), "message 2")
    pop3_quit(c)


@case("inetd mode: yubind -i pop3 on stdin/stdout")
def _():
    s = Sandbox(users=USERS, start=False)
    texts = [b"Subject: i1\n\nbody inetd-1\n.\n"]
    mbox_install(s, "demo", mbox_build(texts))
    rc, out, err = s.run_inetd("pop3", b"CAPA\r\nUSER demo\r\nPASS demopw\r\n"
                               b"STAT\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n",
                               timeout=20)
    check(rc == 0, "exit code %r (stderr %r)" % (rc, err[-300:]))
    lines = out.split(b"\r\n")
    check(re.fullmatch(br"\+OK yubin POP3 server ready <[^>]+>", lines[0]),
          "greeting %r" % lines[0])
    want = pop3_form(texts[0]).replace(b"\r\n.\r\n", b"\r\n..\r\n")
    check(b"+OK demo has 1 message" in out, "login: %r" % out)
    check(b"\r\n+OK 1 %d\r\n" % len(pop3_form(texts[0])) in out,
          "STAT: %r" % out)
    check(want + b".\r\n" in out, "RETR: %r" % out)
    check(re.search(br"\+OK .*signing off.*\r\n$", out), "QUIT: %r" %
          out[-100:])
    check(mbox_split(read_bytes(s.path("mail", "demo")) or b"") == [],
          "message not deleted")


# ------------------------------------------------------------ foreign

FIXDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fixtures", "mbox")


# Which From_ lines of each file start a message (in order), and the
# UIDs (UIDVALIDITY, [uid per message]) if the file carries them.  The
# expectations follow tests/fixtures/mbox/README.
FOREIGN = {
    "solaris-mail.local.mbox": {
        "froms": [b"From alice@example.com Mon Nov 17 09:12:45 2025\n",
                  b"From bob@example.org Mon Nov 17 10:30:02 2025\n",
                  b"From carol@example.net Mon Nov 17 11:45:59 2025\n"],
        "must": [[b"\r\nFrom the minutes of the last meeting:\r\n",
                  b"\r\nFrom now on, use the new address.\r\n"],
                 [b"\r\nFrom here the list goes on.\r\n\r\nBob\r\n"],
                 [b"\r\nFrom the archive:\r\n\r\nFrom 1998 to 2004"]],
        "uids": None},
    "mutt-mboxcl2.mbox": {
        "froms": [b"From dave@example.com Tue Nov 18 08:00:01 2025\n",
                  b"From erin@example.org Tue Nov 18 09:15:30 2025\n"],
        "must": [[b"\r\n>From what I hear", b"Lines: 6\r\n"],
                 [b"\r\n> From: someone\r\n>From the top.\r\n"]],
        "uids": None},
    "uw-imapd.mbox": {
        "hidden": [b"From MAILER-DAEMON Wed Nov 19 10:00:00 2025\n"],
        "froms": [b"From alice@example.com Wed Nov 19 10:01:02 2025 +0900\n",
                  b"From bob@example.org Wed Nov 19 10:02:03 2025 +0900\n",
                  b"From carol@example.net Wed Nov 19 10:04:05 2025 +0900\n"],
        "must": [[b"\r\none\r\n>From quoted\r\n"], [b"\r\ntwo\r\n"],
                 [b"\r\nfour\r\n\r\n>From the end\r\n"]],
        "uids": (1763514000, [1, 2, 4])},
    "dovecot.mbox": {
        "froms": [b"From alice@example.com  Thu Nov 20 12:00:00 2025\n",
                  b"From bob@example.org  Thu Nov 20 12:05:00 2025\n",
                  b"From MAILER-DAEMON  Thu Nov 20 12:10:00 2025\n"],
        "must": [[b"\r\nHello.\r\n\r\n>From the lab.\r\n"],
                 [b"\r\nSecond.\r\n"], [b"\r\nThird.\r\n"]],
        "uids": (1763600000, [1, 2, 3])},
    "postfix-local.mbox": {
        "froms": [b"From alice@example.com  Fri Nov 21 07:00:01 2025\n",
                  b"From MAILER-DAEMON  Fri Nov 21 07:05:02 2025\n",
                  b"From bob@example.org  Fri Nov 21 07:10:03 2025\n"],
        "must": [[b"\r\n>From the top, please.\r\n>>From twice.\r\n"],
                 [b"This is the mail system"], [b"\r\nbye\r\n"]],
        "uids": None},
}


def foreign_texts(data, spec):
    """Cut the file at the From_ lines that start messages: returns the
    stored text of each visible message (without its From_ line and the
    blank separator line)."""
    starts = []
    pos = 0
    for fl in spec.get("hidden", []) + spec["froms"]:
        i = data.find(fl, pos)
        if i < 0 or (i > 0 and data[i - 1:i] != b"\n"):
            fail("fixture: From_ line %r not found" % fl)
        starts.append((i, i + len(fl)))
        pos = i + len(fl)
    out = []
    for k, (i, j) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(data)
        t = data[j:end]
        if t.endswith(b"\n\n"):
            t = t[:-1]
        out.append(t)
    return out[len(spec.get("hidden", [])):]


def foreign_case(name, spec):
    @case("foreign spool %s: messages, bytes, sizes, UIDLs; the same after "
          "our own rewrite" % name)
    def _():
        path = os.path.join(FIXDIR, name)
        if not os.path.exists(path):
            fail("fixture %s missing" % path)
        data = read_bytes(path)
        texts = foreign_texts(data, spec)
        u, pw = new_user()
        mbox_install(sb(), u, data)
        seen = None
        for rnd in range(3):
            c, r = pop3_login(port(), u, pw)
            want = [len(pop3_form(t)) for t in texts]
            check(r == "+OK %s has %d message%s (%d octets)" %
                  (u, len(texts), "" if len(texts) == 1 else "s", sum(want)),
                  "round %d: login %r, want %d messages (%d octets)" %
                  (rnd, r, len(texts), sum(want)))
            sizes = pop3_list_map(c)
            check(sizes == dict(enumerate(want, 1)), "round %d: LIST %r, "
                  "want %r" % (rnd, sizes, dict(enumerate(want, 1))))
            ids = pop3_uidl_map(c)
            check(len(set(ids.values())) == len(ids), "UIDLs repeat: %r" %
                  ids)
            if spec["uids"]:
                v, ul = spec["uids"]
                wid = dict((i, "%08X%08X" % (x, v))
                           for i, x in enumerate(ul, 1))
                check(ids == wid, "round %d: UIDL %r, want the file's UIDs "
                      "%r" % (rnd, ids, wid))
            if seen is not None:
                check(ids == seen, "UIDLs changed from %r to %r after our "
                      "rewrite" % (seen, ids))
            seen = ids
            for i, t in enumerate(texts, 1):
                if i > len(sizes):
                    break
                size, d = pop3_retr(c, i)
                check(size == len(d), "RETR %d: %d announced, %d sent" %
                      (i, size, len(d)))
                check(d == pop3_form(t), "round %d: RETR %d is %r, want %r"
                      % (rnd, i, d[:400], pop3_form(t)[:400]))
                for m in spec["must"][i - 1]:
                    check(m in d, "RETR %d lacks %r" % (i, m))
            if rnd == 0:
                c.close()          # no QUIT: the file stays as it was
                time.sleep(0.2)
                after = spool(u)
                if after != data:
                    note("%s: file changed by a session without QUIT "
                         "(%d -> %d bytes)" % (name, len(data), len(after)))
            else:
                pop3_quit(c)       # rewrites: Status, X-UID, X-IMAPbase
        check(b"X-UID" in spool(u), "no X-UID written into %s" % name)
        for t in texts:
            sub = re.search(br"(?m)^Subject: .*$", t).group(0)
            check(spool(u).count(sub + b"\n") == 1, "%r not once in the "
                  "rewritten spool" % sub)
    return _


for _name, _spec in sorted(FOREIGN.items()):
    foreign_case(_name, _spec)


@case("foreign spool damaged.mbox: CRLF, NUL, cut last message survive")
def _():
    path = os.path.join(FIXDIR, "damaged.mbox")
    if not os.path.exists(path):
        fail("fixture %s missing" % path)
    u, pw = new_user()
    mbox_install(sb(), u, read_bytes(path))
    c, r = pop3_login(port(), u, pw)
    check(r == "+OK %s has 3 messages (%s octets)" % (u, r.split("(")[1]
                                                       .split()[0]),
          "login %r, want 3 messages" % r)
    sizes = pop3_list_map(c)
    check(len(sizes) == 3, "LIST %r" % sizes)
    must = [[b"Subject: crlf", b"line one", b"line three"],
            [b"Subject: nul", b"before", b"after", b"no From here"],
            [b"Subject: cut"]]
    for i in sorted(sizes):
        c.send("RETR %d" % i)
        m = c.expect(r"\+OK ([0-9]+) octets( .*)?")
        raw = pop3_read_multi(c)
        body = b"".join(ln[1:] if ln.startswith(b".") else ln
                        for ln in raw.split(b"\r\n")[:-1])
        unst = re.sub(br"(?m)^\.", b"", raw)
        check(int(m.group(1)) == len(unst), "RETR %d: %s announced, %d "
              "sent" % (i, m.group(1), len(unst)))
        check(raw.endswith(b"\r\n") or raw == b"", "RETR %d does not end "
              "with CRLF: %r" % (i, raw[-20:]))
        check(b"X-UID" not in raw and b"Status:" not in raw,
              "metadata sent in RETR %d: %r" % (i, raw))
        for x in must[i - 1] if i <= 3 else []:
            check(x in body, "RETR %d lacks %r: %r" % (i, x, raw))
    pop3_quit(c)
    c, r = pop3_login(port(), u, pw)
    check(len(pop3_list_map(c)) == 3, "after our rewrite: not 3 messages")
    pop3_quit(c)


@case("daemon still alive and exits 0 on SIGTERM")
def _():
    s = sb()
    check(s.alive(), "yubind died (exit %s)" % s.proc.returncode)
    rc = s.stop()
    check(rc == 0, "exit code after SIGTERM %r, want 0" % rc)


main(timeout=400)

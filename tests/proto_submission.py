#!/usr/bin/env python3
"""proto_submission.py - the submission port (RFC 6409) with SMTP AUTH
(RFC 4954): what EHLO offers where, AUTH PLAIN, LOGIN and CRAM-MD5 with
and without an initial response, cancel, bad base64, the delayed 535
(without blocking other sessions), 530 before AUTH, relaying after AUTH
(queued for the remote domain, listed by mailq) where the network alone
may not relay, the envelope sender check on and off, the Received: line,
plaintext mechanisms outside plaintext_networks, inetd mode, and swaks
--auth.  Port 25 is checked not to offer or take AUTH."""

import base64
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

USERS = {"demo": "demo", "bob": "bob-secret", "alice": "Alice pw 1"}
# Remote mail waits in the queue: its route leads to a port where
# nothing listens, so a relay transport defers it instead of bouncing it
# (remote.example has no DNS).
DEAD_PORT = free_port()
ROUTE = "route remote.example 127.0.0.1:%d\n" % DEAD_PORT
SHARED = SharedSetup(USERS, conf=ROUTE)
sb = SHARED.sb

RE_OK_MAIL = r"250 2\.1\.0 .*"
RE_OK_RCPT = r"250 2\.1\.5 .*"
RE_235 = r"235 2\.7\.0 .*"
RE_535 = r"535 5\.7\.8 .*"
RE_530 = r"530 5\.7\.0 .*"
RE_503 = r"503 5\.5\.1 .*"
RE_504 = r"504 5\.5\.4 .*"
RE_501_B64 = r"501 5\.5\.2 .*"
RE_CANCEL = r"501 5\.0\.0 .*"
RE_553 = r"553 5\.7\.1 .*"
RE_QUEUED = r"250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)"
RE_DELIVERED = r"250 2\.0\.0 Ok: delivered as ([0-9A-Za-z]+)"
DELAY = 1.5     # a failed AUTH is answered after 2 s; allow for slack
EHLO_BASE = [r"250-%s" % re.escape(HOSTNAME), r"250-PIPELINING",
             r"250-SIZE [0-9]+", r"250-8BITMIME", r"250-ENHANCEDSTATUSCODES"]


def b64(s):
    if isinstance(s, str):
        s = s.encode("latin-1")
    return base64.b64encode(s).decode()


def plain(user, secret, authz=""):
    return b64("%s\0%s\0%s" % (authz, user, secret))


def sub(s=None, helo="client.example"):
    """A submission session after EHLO; returns (client, EHLO lines)."""
    c = greet((s or sb()).port("submission"), "submission")
    r = smtp_cmd(c, "EHLO %s" % helo, r"250 HELP")
    return c, r


def login(c, user, secret, how="plain"):
    """AUTH with one mechanism; the reply must be 235."""
    if how == "plain":
        smtp_cmd(c, "AUTH PLAIN %s" % plain(user, secret), RE_235)
    elif how == "plain-noir":
        smtp_cmd(c, "AUTH PLAIN", r"334 ")
        smtp_cmd(c, plain(user, secret), RE_235)
    elif how == "login":
        smtp_cmd(c, "AUTH LOGIN", r"334 VXNlcm5hbWU6")
        smtp_cmd(c, b64(user), r"334 UGFzc3dvcmQ6")
        smtp_cmd(c, b64(secret), RE_235)
    elif how == "login-ir":
        smtp_cmd(c, "AUTH LOGIN %s" % b64(user), r"334 UGFzc3dvcmQ6")
        smtp_cmd(c, b64(secret), RE_235)
    elif how == "cram":
        c.send("AUTH CRAM-MD5")
        m = c.expect(r"334 ([A-Za-z0-9+/=]+)")
        ch = base64.b64decode(m.group(1)).decode("latin-1")
        check(re.fullmatch(r"<[0-9]+\.[0-9]+\.[0-9]+@%s>" %
                           re.escape(HOSTNAME), ch),
              "CRAM-MD5 challenge %r is not <pid.time.n@host>" % ch)
        smtp_cmd(c, cram_md5_response(user, secret, m.group(1)), RE_235)
    else:
        fail("login: unknown method %r" % how)


def marker():
    marker.n += 1
    return "sub-%d-%d-%f" % (os.getpid(), marker.n, time.time())


marker.n = 0


def send(c, sender, rcpts, text, want=r"250 2\.0\.0 .*"):
    smtp_cmd(c, "MAIL FROM:<%s>" % sender, RE_OK_MAIL)
    for r in rcpts:
        smtp_cmd(c, "RCPT TO:<%s>" % r, RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(text))
    return re.fullmatch(want, smtp_cmd(c, None, want)[-1])


def queue_text(s):
    """Every file under the queue directory, concatenated."""
    out = b""
    for d, _, files in os.walk(s.path("queue")):
        for n in sorted(files):
            out += read_bytes(os.path.join(d, n)) or b""
    return out


def mailq(s):
    """`mailq -S DIR` (the binary under that name): (exit, output)."""
    d = temp_dir("mailq")
    link = os.path.join(d, "mailq")
    os.symlink(yubind_path(), link)
    rc, out, err = run_tool([link, "-S", s.dir], timeout=20)
    return rc, out + err


def log_has(s, regex, timeout=3.0):
    return wait_until(lambda: re.search(regex, s.log_text()), timeout)


# ------------------------------------------------------------ what is offered

@case("EHLO on submission offers AUTH PLAIN LOGIN CRAM-MD5; port 25 "
      "offers no AUTH and refuses it")
def _():
    c, r = sub()
    want = EHLO_BASE + [r"250-AUTH PLAIN LOGIN CRAM-MD5", r"250 HELP"]
    check(len(r) == len(want), "EHLO has %d lines, want %d: %r" %
          (len(r), len(want), r))
    for ln, w in zip(r, want):
        check(re.fullmatch(w, ln), "EHLO line %r does not match /%s/" %
              (ln, w))
    c.quit("smtp")
    c = smtp_open(sb().port("smtp"))
    r = smtp_cmd(c, "EHLO client.example", r"250 HELP")
    check(not any("AUTH" in ln for ln in r), "port 25 offers AUTH: %r" % r)
    smtp_cmd(c, "AUTH PLAIN %s" % plain("demo", "demo"), RE_503)
    # and port 25 still takes mail from loopback without a login
    smtp_cmd(c, "MAIL FROM:<x@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<demo@%s>" % HOSTNAME, RE_OK_RCPT)
    c.quit("smtp")


@case("530 before AUTH; HELO/EHLO, NOOP, RSET, HELP, QUIT need none")
def _():
    c = greet(sb().port("submission"), "submission")
    smtp_cmd(c, "AUTH PLAIN %s" % plain("demo", "demo"), RE_503)  # no EHLO
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_503)
    smtp_cmd(c, "EHLO client.example", r"250 HELP")
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_530)
    smtp_cmd(c, "VRFY demo", RE_530)
    smtp_cmd(c, "EXPN demo", RE_530)
    smtp_cmd(c, "RCPT TO:<demo@%s>" % HOSTNAME, RE_530)
    smtp_cmd(c, "DATA", RE_530)
    smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
    smtp_cmd(c, "RSET", r"250 2\.0\.0 .*")
    r = smtp_cmd(c, "HELP", r"214 .*")
    check(" AUTH " in r[0], "HELP on submission does not list AUTH: %r" % r)
    smtp_cmd(c, "HELO client.example", r"250 .*")
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_530)
    # after HELO (no EHLO) AUTH is still taken
    login(c, "demo", "demo")
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_OK_MAIL)
    c.quit("smtp")


# ------------------------------------------------------------ mechanisms

for _how in ("plain", "plain-noir", "login", "login-ir", "cram"):
    def _mk(how):
        @case("AUTH %s succeeds, is logged, and MAIL is taken" % how)
        def _():
            user, secret = ("alice", USERS["alice"]) if how == "login" \
                else ("bob", USERS["bob"])
            c, _ = sub()
            login(c, user, secret, how)
            smtp_cmd(c, "MAIL FROM:<%s@%s>" % (user, HOSTNAME), RE_OK_MAIL)
            c.quit("smtp")
            mech = {"plain": "PLAIN", "plain-noir": "PLAIN",
                    "login": "LOGIN", "login-ir": "LOGIN",
                    "cram": "CRAM-MD5"}[how]
            check(log_has(sb(), r"submission\[[0-9]+\] 127\.0\.0\.1: AUTH "
                          r"%s: %s logged in" % (mech, user)),
                  "no log line for the AUTH %s success" % mech)
    _mk(_how)


@case("AUTH PLAIN: authzid equal to the user is taken, another refused")
def _():
    c, _ = sub()
    smtp_cmd(c, "AUTH PLAIN %s" % plain("demo", "demo", authz="demo"),
             RE_235)
    c.quit("smtp")
    c, _ = sub()
    smtp_cmd(c, "AUTH PLAIN %s" % plain("demo", "demo", authz="bob"),
             RE_535)
    c.quit("smtp")


@case("AUTH syntax: no mechanism 501, unknown 504, twice 503, in a "
      "transaction 503, CRAM-MD5 with an initial response 501")
def _():
    c, _ = sub()
    smtp_cmd(c, "AUTH", r"501 5\.5\.4 .*")
    smtp_cmd(c, "AUTH DIGEST-MD5", RE_504)
    smtp_cmd(c, "AUTH GSSAPI", RE_504)
    smtp_cmd(c, "AUTH PLAIN a b", r"501 5\.5\.4 .*")
    smtp_cmd(c, "AUTH CRAM-MD5 ", r"334 [A-Za-z0-9+/=]+")  # space, no IR
    smtp_cmd(c, "*", RE_CANCEL)
    smtp_cmd(c, "AUTH CRAM-MD5 %s" % b64("demo 0123"), r"501 5\.7\.0 .*")
    login(c, "demo", "demo", "plain")
    smtp_cmd(c, "AUTH PLAIN %s" % plain("demo", "demo"), RE_503)
    smtp_cmd(c, "AUTH CRAM-MD5", RE_503)
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_OK_MAIL)
    smtp_cmd(c, "AUTH LOGIN", RE_503)
    c.quit("smtp")
    # lower-case mechanism names are the same mechanisms
    c, _ = sub()
    smtp_cmd(c, "auth plain %s" % plain("demo", "demo"), RE_235)
    c.quit("smtp")


@case("'*' cancels every mechanism with 501; AUTH works afterwards")
def _():
    c, _ = sub()
    smtp_cmd(c, "AUTH PLAIN", r"334 ")
    smtp_cmd(c, "*", RE_CANCEL)
    smtp_cmd(c, "AUTH LOGIN", r"334 VXNlcm5hbWU6")
    smtp_cmd(c, "*", RE_CANCEL)
    smtp_cmd(c, "AUTH LOGIN", r"334 VXNlcm5hbWU6")
    smtp_cmd(c, b64("demo"), r"334 UGFzc3dvcmQ6")
    smtp_cmd(c, "*", RE_CANCEL)
    smtp_cmd(c, "AUTH CRAM-MD5", r"334 [A-Za-z0-9+/=]+")
    smtp_cmd(c, "*", RE_CANCEL)
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_530)
    t0 = time.monotonic()
    login(c, "demo", "demo", "cram")
    check(time.monotonic() - t0 < 1.0, "AUTH after cancels was delayed")
    c.quit("smtp")


@case("bad base64 -> 501 5.5.2 at once (initial response and later)")
def _():
    c, _ = sub()
    t0 = time.monotonic()
    for bad in ("AUTH PLAIN !!!!", "AUTH PLAIN ZGVtbw", "AUTH PLAIN ZA=a",
                "AUTH LOGIN @@@@"):
        smtp_cmd(c, bad, RE_501_B64)
    smtp_cmd(c, "AUTH PLAIN", r"334 ")
    smtp_cmd(c, "not base64", RE_501_B64)
    smtp_cmd(c, "AUTH LOGIN", r"334 VXNlcm5hbWU6")
    smtp_cmd(c, "=x=", RE_501_B64)
    smtp_cmd(c, "AUTH LOGIN", r"334 VXNlcm5hbWU6")
    smtp_cmd(c, b64("demo"), r"334 UGFzc3dvcmQ6")
    smtp_cmd(c, "a-b-c", RE_501_B64)
    smtp_cmd(c, "AUTH CRAM-MD5", r"334 .*")
    smtp_cmd(c, "%%%%", RE_501_B64)
    c.send_raw(b"AUTH PLAIN\r\nAB\0C\r\n")      # a NUL in a response
    smtp_cmd(c, None, r"334 ")
    smtp_cmd(c, None, RE_501_B64)
    check(time.monotonic() - t0 < DELAY, "a 501 waited like a 535")
    login(c, "demo", "demo", "login")
    c.quit("smtp")
    check(log_has(sb(), r"AUTH PLAIN failed: bad base64"),
          "bad base64 not logged")


@case("a response line over the limit -> 500 5.5.6, the session goes on")
def _():
    c, _ = sub()
    smtp_cmd(c, "AUTH PLAIN", r"334 ")
    c.send("A" * 20000)
    smtp_cmd(c, None, r"500 5\.5\.6 .*")
    login(c, "demo", "demo")
    c.quit("smtp")


# ------------------------------------------------------------ failures

@case("wrong secret -> 535 5.7.8 after a delay, logged; others are not "
      "kept waiting; pipelined commands wait for the 535")
def _():
    c, _ = sub()
    other, _ = sub()
    t0 = time.monotonic()
    c.send_raw(("AUTH PLAIN %s\r\nNOOP\r\n" %
                plain("demo", "wrong")).encode())
    # meanwhile another session answers at once
    t1 = time.monotonic()
    smtp_cmd(other, "NOOP", r"250 2\.0\.0 .*")
    check(time.monotonic() - t1 < 1.5, "NOOP on another session waited "
          "%.2f s during a failed AUTH" % (time.monotonic() - t1))
    check(quiet_for(c, 1.0), "535 came before a second passed")
    smtp_cmd(c, None, RE_535)
    dt = time.monotonic() - t0
    check(DELAY <= dt < 6, "535 after %.2f s, want about 2" % dt)
    smtp_cmd(c, None, r"250 2\.0\.0 .*")     # the pipelined NOOP
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_530)
    # no user and a wrong secret give the same answer
    t0 = time.monotonic()
    smtp_cmd(c, "AUTH LOGIN %s" % b64("nosuchuser"), r"334 UGFzc3dvcmQ6")
    smtp_cmd(c, b64("demo"), RE_535)
    check(time.monotonic() - t0 >= DELAY, "535 for an unknown user at once")
    check(log_has(sb(), r"AUTH PLAIN failed for \"demo\" \(1\)"),
          "failure 1 (PLAIN, demo) not logged")
    check(log_has(sb(), r"AUTH LOGIN failed for \"nosuchuser\" \(2\)"),
          "failure 2 (LOGIN, nosuchuser) not logged")
    other.quit("smtp")
    c.quit("smtp")


@case("wrong CRAM-MD5 digest and empty PLAIN response -> 535")
def _():
    c, _ = sub()
    c.send("AUTH CRAM-MD5")
    m = c.expect(r"334 ([A-Za-z0-9+/=]+)")
    smtp_cmd(c, cram_md5_response("demo", "not-the-secret", m.group(1)),
             RE_535)
    smtp_cmd(c, "AUTH PLAIN =", RE_535)
    c.quit("smtp")


@case("the third failure closes the connection with 421")
def _():
    c, _ = sub()
    for i in range(2):
        smtp_cmd(c, "AUTH PLAIN %s" % plain("demo", "x%d" % i), RE_535)
    c.send("AUTH PLAIN %s" % plain("demo", "x3"))
    c.expect(RE_535)
    c.expect(r"421 4\.7\.0 .*")
    c.expect_close()
    c.close()


# ------------------------------------------------------------ relaying

@case("after AUTH mail to another domain is taken and queued; mailq "
      "lists it")
def _():
    s = sb()
    c, _ = sub()
    login(c, "demo", "demo")
    mark = marker()
    m = send(c, "demo@%s" % HOSTNAME, ["friend@remote.example"],
             "Subject: %s\n\nrelayed %s\n" % (mark, mark), RE_QUEUED)
    qid = m.group(1)
    c.quit("smtp")
    q = queue_text(s)
    check(mark.encode() in q, "message text not in the queue")
    check(b"friend@remote.example" in q, "recipient not in the queue")
    rc, out = mailq(s)
    check(rc == 0, "mailq exit %d: %s" % (rc, out))
    check(qid in out and "friend@remote.example" in out,
          "mailq does not list %s to friend@remote.example: %r" %
          (qid, out))


@case("relay_networks without loopback: port 25 refuses relaying, "
      "submission after AUTH relays")
def _():
    s = Sandbox(users=USERS, conf="relay_networks 10.0.0.0/8\n" + ROUTE)
    c = smtp_open(s.port("smtp"))
    smtp_cmd(c, "MAIL FROM:<x@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<friend@remote.example>",
             r"550 5\.7\.1 .*Relay access denied.*")
    smtp_cmd(c, "RCPT TO:<demo@%s>" % HOSTNAME, RE_OK_RCPT)   # local: fine
    # the address tricks stay local (and unknown) for everyone
    smtp_cmd(c, "RCPT TO:<friend%%remote.example@%s>" % HOSTNAME,
             r"550 5\.1\.1 .*")
    c.quit("smtp")
    c, _ = sub(s)
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_530)
    login(c, "demo", "demo")
    mark = marker()
    send(c, "demo@%s" % HOSTNAME, ["friend@remote.example",
                                   "demo@%s" % HOSTNAME],
         "Subject: %s\n\nboth %s\n" % (mark, mark), RE_QUEUED)
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<friend%%remote.example@%s>" % HOSTNAME,
             r"550 5\.1\.1 .*")
    c.quit("smtp")
    check(mark.encode() in queue_text(s), "relayed message not queued")
    check(wait_until(lambda: mark.encode() in
                     (read_bytes(s.path("mail", "demo")) or b""), 5),
          "local copy not delivered")


# ------------------------------------------------------------ sender check

@case("sender_login_check yes: only the user's own addresses, never <>")
def _():
    c, _ = sub()
    login(c, "bob", USERS["bob"])
    for bad in ("demo@%s" % HOSTNAME, "bob@remote.example", "",
                "bobby@%s" % HOSTNAME, "bo@%s" % HOSTNAME):
        smtp_cmd(c, "MAIL FROM:<%s>" % bad, RE_553)
    for good in ("bob@%s" % HOSTNAME, "BOB@%s" % HOSTNAME.upper(),
                 "bob@localhost", "bob@[127.0.0.1]"):
        smtp_cmd(c, "MAIL FROM:<%s>" % good, RE_OK_MAIL)
        smtp_cmd(c, "RSET", r"250 .*")
    # the AUTH= parameter of RFC 4954 5 is accepted, and checked
    smtp_cmd(c, "MAIL FROM:<bob@%s> AUTH=<> SIZE=100" % HOSTNAME,
             RE_OK_MAIL)
    smtp_cmd(c, "RSET", r"250 .*")
    smtp_cmd(c, "MAIL FROM:<bob@%s> AUTH=bob+40%s" % (HOSTNAME, HOSTNAME),
             RE_OK_MAIL)
    smtp_cmd(c, "RSET", r"250 .*")
    smtp_cmd(c, "MAIL FROM:<bob@%s> AUTH=bad+zz" % HOSTNAME,
             r"501 5\.5\.4 .*")
    c.quit("smtp")
    check(log_has(sb(), r"sender <demo@%s> refused for user bob" %
                  re.escape(HOSTNAME)), "refused sender not logged")
    # port 25 knows no AUTH= parameter: unchanged
    c = smtp_open(sb().port("smtp"))
    smtp_cmd(c, "MAIL FROM:<x@client.example> AUTH=<>", r"555 5\.5\.4 .*")
    c.quit("smtp")


@case("sender_login_check no: any sender, <> too")
def _():
    s = Sandbox(users=USERS, conf="sender_login_check no\n" + ROUTE)
    c, _ = sub(s)
    login(c, "bob", USERS["bob"])
    for snd in ("demo@%s" % HOSTNAME, "someone@remote.example", ""):
        smtp_cmd(c, "MAIL FROM:<%s>" % snd, RE_OK_MAIL)
        smtp_cmd(c, "RSET", r"250 .*")
    mark = marker()
    send(c, "", ["demo@%s" % HOSTNAME], "Subject: %s\n\nnull\n" % mark,
         RE_DELIVERED)
    c.quit("smtp")


# ------------------------------------------------------------ Received:

@case("Received: says 'with ESMTPA' and who logged in; port 25 mail "
      "does not")
def _():
    s = sb()
    c, _ = sub(helo="laptop.example")
    login(c, "bob", USERS["bob"], "cram")
    mark = marker()
    send(c, "bob@%s" % HOSTNAME, ["demo@%s" % HOSTNAME],
         "Subject: %s\n\nby submission %s\n" % (mark, mark), RE_DELIVERED)
    c.quit("smtp")
    mark2 = marker()
    smtp_send(s.port("smtp"), "x@client.example", ["demo@%s" % HOSTNAME],
              "Subject: %s\n\nby smtp %s\n" % (mark2, mark2))
    msgs = [t for _, t in mbox_split(SHARED.spool("demo"))]
    a = [t for t in msgs if mark.encode() in t]
    b = [t for t in msgs if mark2.encode() in t]
    if not check(len(a) == 1 and len(b) == 1, "messages not delivered "
                 "once each (%d, %d)" % (len(a), len(b))):
        return
    want = (r"Received: from laptop\.example \(\[127\.0\.0\.1\]\)\n"
            r"\t\(authenticated as bob\)\n"
            r"\tby %s \(yubin\) with ESMTPA id [0-9A-F]+\n"
            r"\tfor <demo@%s>; " % (re.escape(HOSTNAME), re.escape(HOSTNAME)))
    check(re.search(want.encode(), a[0]),
          "Received: of the submitted message: %r" % a[0][:400])
    check(re.search(rb"\tby \S+ \(yubin\) with ESMTP id ", b[0]) and
          b"authenticated" not in b[0],
          "Received: of the port 25 message: %r" % b[0][:400])


@case("submission adds Date: and Message-ID: a message lacks (RFC 6409 "
      "8.2, 8.3), keeps those it has; port 25 adds none")
def _():
    s = sb()
    c, _ = sub()
    login(c, "bob", USERS["bob"], "plain")
    m1, m2, m3 = marker(), marker(), marker()
    send(c, "bob@%s" % HOSTNAME, ["demo@%s" % HOSTNAME],
         "Subject: %s\n\nno date, no id\n" % m1, RE_DELIVERED)
    send(c, "bob@%s" % HOSTNAME, ["demo@%s" % HOSTNAME],
         "Subject: %s\nDate: Thu, 1 Jan 2015 00:00:00 +0000\n"
         "Message-ID: <own@laptop.example>\n\nhas both\n" % m2,
         RE_DELIVERED)
    c.quit("smtp")
    smtp_send(s.port("smtp"), "x@client.example", ["demo@%s" % HOSTNAME],
              "Subject: %s\n\nby smtp\n" % m3)
    msgs = [t for _, t in mbox_split(SHARED.spool("demo"))]

    def one(mark):
        got = [t for t in msgs if mark.encode() in t]
        check(len(got) == 1, "%s delivered %d times" % (mark, len(got)))
        return got[0].split(b"\n\n", 1)[0] if got else b""
    h1, h2, h3 = one(m1), one(m2), one(m3)
    check(re.search(rb"\nDate: [A-Z][a-z][a-z], [ 0-9]?[0-9] [A-Z][a-z][a-z] "
                    rb"[0-9]{4} [0-9:]{8} [-+][0-9]{4}", h1) and
          re.search(rb"\nMessage-ID: <[0-9A-F]+@%s>" %
                    re.escape(HOSTNAME.encode()), h1),
          "submitted header without Date/Message-ID added: %r" % h1)
    check(h2.count(b"Date:") == 1 and h2.count(b"Message-ID:") == 1 and
          b"<own@laptop.example>" in h2,
          "a header that had both was changed: %r" % h2)
    check(b"Message-ID:" not in h3 and b"\nDate:" not in h3,
          "port 25 added fields: %r" % h3)


# ------------------------------------------------------------ plaintext

@case("outside plaintext_networks only CRAM-MD5 is offered and taken")
def _():
    s = Sandbox(users=USERS, conf="plaintext_networks 10.0.0.0/8\n")
    c, r = sub(s)
    check(r"250-AUTH CRAM-MD5" in r and
          not any("PLAIN" in x or "LOGIN" in x for x in r),
          "EHLO offers %r" % r)
    smtp_cmd(c, "AUTH PLAIN %s" % plain("demo", "demo"), RE_504)
    smtp_cmd(c, "AUTH LOGIN", RE_504)
    smtp_cmd(c, "AUTH PLAIN", RE_504)
    login(c, "demo", "demo", "cram")
    smtp_cmd(c, "MAIL FROM:<demo@%s>" % HOSTNAME, RE_OK_MAIL)
    c.quit("smtp")


# ------------------------------------------------------------ inetd, swaks

@case("-i submission: AUTH PLAIN over a pipe, a message delivered")
def _():
    s = Sandbox(users=USERS, start=False)
    inp = ("EHLO pipe.example\r\nMAIL FROM:<demo@%s>\r\n"
           "AUTH PLAIN %s\r\nMAIL FROM:<demo@%s>\r\nRCPT TO:<bob@%s>\r\n"
           "DATA\r\nSubject: inetd\r\n\r\nover a pipe\r\n.\r\nQUIT\r\n" %
           (HOSTNAME, plain("demo", "demo"), HOSTNAME, HOSTNAME)).encode()
    rc, out, err = s.run_inetd("submission", inp, timeout=20)
    check(rc == 0, "exit %r, stderr %r" % (rc, err[-300:]))
    for w in (rb"250-AUTH PLAIN LOGIN CRAM-MD5\r\n", rb"\r\n530 5\.7\.0 ",
              rb"\r\n235 2\.7\.0 ", rb"\r\n250 2\.0\.0 Ok: delivered as ",
              rb"\r\n221 2\.0\.0"):
        check(re.search(w, out), "no %r in %r" % (w, out))
    check(b"(authenticated as demo)" in
          (read_bytes(s.path("mail", "bob")) or b""),
          "bob's copy has no authenticated Received: line")


@case("swaks --auth (PLAIN, LOGIN, CRAM-MD5) submits; a wrong password "
      "fails")
def _():
    sw = need_tool("swaks")
    if sw is None:
        return
    s = sb()
    port = str(s.port("submission"))
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        mark = marker()
        rc, out, err = run_tool(
            [sw, "--server", "127.0.0.1", "--port", port,
             "--helo", "swaks.example", "--auth", mech,
             "--auth-user", "alice", "--auth-password", USERS["alice"],
             "--from", "alice@%s" % HOSTNAME, "--to", "bob@%s" % HOSTNAME,
             "--header", "Subject: %s" % mark, "--body", "swaks %s" % mark,
             "--timeout", "15"], timeout=30)
        check(rc == 0, "swaks --auth %s exit %d: %s %s" %
              (mech, rc, out[-800:], err[-300:]))
        check(re.search(r"<-\s+235 2\.7\.0", out),
              "swaks %s: no 235 in %r" % (mech, out[-600:]))
        check(mark.encode() in SHARED.spool("bob"),
              "swaks %s message not in bob's mailbox" % mech)
    rc, out, err = run_tool(
        [sw, "--server", "127.0.0.1", "--port", port,
         "--helo", "swaks.example", "--auth", "LOGIN",
         "--auth-user", "alice", "--auth-password", "wrong",
         "--from", "alice@%s" % HOSTNAME, "--to", "bob@%s" % HOSTNAME,
         "--timeout", "15"], timeout=30)
    check(rc != 0, "swaks with a wrong password exited 0")
    check(re.search(r"<\*\*\s+535 5\.7\.8", out),
          "no 535 in swaks output %r" % out[-600:])


main(timeout=300)

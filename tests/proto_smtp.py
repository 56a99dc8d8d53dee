#!/usr/bin/env python3
"""proto_smtp.py - the SMTP server side: every command and its error
paths, EHLO/HELO, MAIL/RCPT parameters and address syntax, relay denial
and the address tricks, recipient and size limits, message text checks
(long line, NUL, mail loops), pipelining, the error limit, the null
sender, postmaster, aliases and ~/.forward."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

USERS = {"demo": "demo", "bob": "bob", "alice": "alice", "carol": "carol"}
ALIASES = ("# test aliases\n"
           "team: demo, carol\n"
           "Sales: bob\n"
           + "".join("a%d: demo\n" % i for i in range(1, 102)))
LIMIT = 200000          # message_size_limit of the shared sandbox
RE_OK_MAIL = r"250 2\.1\.0 .*"
RE_OK_RCPT = r"250 2\.1\.5 .*"
RE_OK_DATA = r"250 2\.0\.0 .*"
RE_DELIVERED = r"250 2\.0\.0 Ok: delivered as [0-9A-Za-z]+"
RE_QUEUED = r"250 2\.0\.0 Ok: queued as [0-9A-Za-z]+"
RE_503 = r"503 5\.5\.1( .*)?"
RE_NOUSER = r"550 5\.1\.1( .*)?"
RE_RELAY = r"550 5\.7\.1 .*Relay access denied.*"

SB = []


def make_sandbox(conf=""):
    s = Sandbox(conf=conf, users=USERS, start=False)
    with open(s.path("etc", "aliases"), "w") as f:
        f.write(ALIASES)
    home = s.path("home", "bob")
    os.makedirs(home, 0o700, exist_ok=True)
    with open(os.path.join(home, ".forward"), "w") as f:
        f.write("alice\n")
    s.start()
    return s


def sb():
    """One daemon shared by most cases of this script."""
    if not SB or not SB[0].alive():
        SB[:] = [make_sandbox("message_size_limit %d\n" % LIMIT)]
    return SB[0]


def port():
    return sb().port("smtp")


def mbox(user, s=None):
    return read_bytes((s or sb()).path("mail", user)) or b""


def nmsgs(user, s=None):
    return len(mbox_split(mbox(user, s)))


def session(helo="client.example", ehlo=True, s=None):
    return smtp_open((s or sb()).port("smtp"), helo, ehlo)


def transaction(c, sender, rcpts):
    smtp_cmd(c, "MAIL FROM:<%s>" % sender, RE_OK_MAIL)
    for r in rcpts:
        smtp_cmd(c, "RCPT TO:<%s>" % r, RE_OK_RCPT)


def marker():
    marker.n += 1
    return "mark-%d-%d-%f" % (os.getpid(), marker.n, time.time())


marker.n = 0


def message(mark, extra=""):
    return ("From: a@client.example\nTo: x@%s\nSubject: %s\n%s\n"
            "body %s\n" % (HOSTNAME, mark, extra, mark))


def count_mark(user, mark, s=None):
    return mbox(user, s).count(("body %s\n" % mark).encode())


# ------------------------------------------------------------ greeting

@case("greeting, EHLO capabilities exactly, HELO")
def _():
    c = greet(port(), "smtp")
    r = smtp_cmd(c, "EHLO client.example")
    want = [r"250-%s( .*)?" % re.escape(HOSTNAME), r"250-PIPELINING",
            r"250-SIZE %d" % LIMIT, r"250-8BITMIME",
            r"250-ENHANCEDSTATUSCODES", r"250 HELP"]
    check(len(r) == len(want), "EHLO reply has %d lines, want %d: %r" %
          (len(r), len(want), r))
    for ln, w in zip(r, want):
        check(re.fullmatch(w, ln), "EHLO line %r does not match /%s/" %
              (ln, w))
    c.quit("smtp")
    c = greet(port(), "smtp")
    smtp_cmd(c, "HELO client.example", r"250 %s( .*)?" % re.escape(HOSTNAME))
    smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
    c.quit("smtp")


@case("HELO/EHLO without a domain -> 501; a second EHLO is fine")
def _():
    c = greet(port(), "smtp")
    smtp_cmd(c, "EHLO", r"501 5\.5\.4( .*)?")
    smtp_cmd(c, "HELO", r"501 5\.5\.4( .*)?")
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_503)
    smtp_cmd(c, "EHLO client.example", r"250 HELP")
    smtp_cmd(c, "EHLO again.example", r"250 HELP")
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    # RFC 5321 4.1.4: EHLO in a transaction resets it, like RSET
    smtp_cmd(c, "EHLO again.example", r"250 HELP")
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_503)
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    c.quit("smtp")


@case("sequence errors: MAIL before HELO, RCPT before MAIL, DATA before "
      "RCPT, nested MAIL")
def _():
    c = greet(port(), "smtp")
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_503)
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_503)
    smtp_cmd(c, "DATA", RE_503)
    smtp_cmd(c, "HELO client.example", r"250 .*")
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_503)
    smtp_cmd(c, "DATA", RE_503)
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "MAIL FROM:<b@client.example>", RE_503)
    smtp_cmd(c, "DATA", r"(503|554) 5\.5\.1( .*)?")
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_OK_RCPT)
    smtp_cmd(c, "RSET", r"250 2\.0\.0( .*)?")
    # RSET ends the transaction but keeps the HELO
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_503)
    smtp_cmd(c, "DATA", RE_503)
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    c.quit("smtp")


@case("DATA after MAIL whose recipients were all refused -> 554 5.5.1")
def _():
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<nosuchuser@localhost>", RE_NOUSER)
    smtp_cmd(c, "DATA", r"554 5\.5\.1( .*)?")
    smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
    c.quit("smtp")


@case("RSET, NOOP, VRFY, EXPN, HELP, unknown verb")
def _():
    c = greet(port(), "smtp")
    smtp_cmd(c, "RSET", r"250 2\.0\.0( .*)?")     # legal before HELO
    smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
    smtp_cmd(c, "NOOP with an argument", r"250 2\.0\.0 .*")
    smtp_cmd(c, "VRFY demo", r"252 2\.5\.2( .*)?")
    smtp_cmd(c, "VRFY nosuchuser", r"252 2\.5\.2( .*)?")
    smtp_cmd(c, "EXPN team", r"502 5\.5\.1( .*)?")
    r = smtp_cmd(c, "HELP", r"214[ -].*")
    check(all(x.startswith("214") for x in r), "HELP reply %r" % r)
    smtp_cmd(c, "FROBNICATE", r"500 5\.5\.2( .*)?")
    smtp_cmd(c, "TURN", r"50[02] 5\.5\.[12]( .*)?")
    c.quit("smtp")


@case("commands and parameters are case-insensitive")
def _():
    mark = marker()
    c = greet(port(), "smtp")
    smtp_cmd(c, "ehlo client.example", r"250 HELP")
    smtp_cmd(c, "mail from:<a@client.example> size=100 body=8bitmime",
             RE_OK_MAIL)
    smtp_cmd(c, "Rcpt To:<demo@LOCALHOST>", RE_OK_RCPT)
    smtp_cmd(c, "rCpT tO:<demo@MX.YubinTest.Example>", RE_OK_RCPT)
    smtp_cmd(c, "data", r"354 .*")
    c.send_raw(smtp_data(message(mark)))
    smtp_cmd(c, None, RE_DELIVERED)
    smtp_cmd(c, "rset", r"250 2\.0\.0( .*)?")
    smtp_cmd(c, "Noop", r"250 2\.0\.0 .*")
    smtp_cmd(c, "vrfy demo", r"252 2\.5\.2( .*)?")
    smtp_cmd(c, "help", r"214[ -].*")
    c.send("qUiT")
    c.expect(r"221 2\.0\.0( .*)?")
    c.expect_close()
    check(count_mark("demo", mark) == 1, "message not delivered exactly "
          "once to demo (two recipients, one user)")


# ------------------------------------------------------------ MAIL

@case("MAIL FROM syntax errors -> 501")
def _():
    c = session()
    for bad in ("MAIL", "MAIL FROM", "MAIL FROM:", "MAIL TO:<a@b.example>",
                "MAIL FROM:<a@client.example", "MAIL FROMX:<a@b.example>",
                "MAIL FROM:a@client.example>"):
        smtp_cmd(c, bad, r"501 5\.(5\.4|1\.7)( .*)?")
    for bad in ("MAIL FROM:<a b@client.example>",
                "MAIL FROM:<a@client.example@other.example>",
                "MAIL FROM:<@>", "MAIL FROM:<" + "x" * 300 +
                "@client.example>"):
        smtp_cmd(c, bad, r"501 5\.(5\.4|1\.7|1\.3)( .*)?")
    # the transaction did not start
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_503)
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    c.quit("smtp")


@case("MAIL parameters: SIZE, BODY, unknown -> 555, SIZE over limit -> 552")
def _():
    c = session()
    ok = ["MAIL FROM:<a@client.example> SIZE=1000",
          "MAIL FROM:<a@client.example> SIZE=%d" % LIMIT,
          "MAIL FROM:<a@client.example> BODY=8BITMIME",
          "MAIL FROM:<a@client.example> BODY=7BIT",
          "MAIL FROM:<a@client.example> SIZE=10 BODY=8BITMIME",
          "MAIL FROM:<a@client.example> BODY=7BIT SIZE=10",
          "MAIL FROM:<> SIZE=10"]
    for m in ok:
        smtp_cmd(c, m, RE_OK_MAIL)
        smtp_cmd(c, "RSET", r"250 2\.0\.0( .*)?")
    smtp_cmd(c, "MAIL FROM:<a@client.example> SIZE=%d" % (LIMIT + 1),
             r"552 5\.3\.4( .*)?")
    # 20 digits are a valid size-value (RFC 1870 4), only too big
    smtp_cmd(c, "MAIL FROM:<a@client.example> SIZE=99999999999999999999",
             r"552 5\.3\.4( .*)?")
    smtp_cmd(c, "MAIL FROM:<a@client.example> SIZE=999999999999999999999",
             r"501 5\.5\.4( .*)?")
    smtp_cmd(c, "MAIL FROM:<a@client.example> FOO=bar",
             r"555 5\.5\.4( .*)?")
    smtp_cmd(c, "MAIL FROM:<a@client.example> AUTH=<>",
             r"555 5\.5\.4( .*)?")
    smtp_cmd(c, "MAIL FROM:<a@client.example> BODY=BINARYMIME",
             r"(555|501) 5\.5\.4( .*)?")
    smtp_cmd(c, "MAIL FROM:<a@client.example> SIZE=abc",
             r"(555|501) 5\.5\.4( .*)?")
    # none of the refused ones started a transaction
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_503)
    c.quit("smtp")


@case("null sender <> is accepted and delivered")
def _():
    mark = marker()
    r = smtp_send(port(), "", ["demo@localhost"], message(mark))
    check(re.fullmatch(RE_DELIVERED, r), "reply %r" % r)
    msgs = [m for m in mbox_split(mbox("demo")) if mark.encode() in m[1]]
    if check(len(msgs) == 1, "%d copies of the message" % len(msgs)):
        check(msgs[0][0].startswith(b"From MAILER-DAEMON "),
              "From_ line %r" % msgs[0][0])
        check(msgs[0][1].startswith(b"Return-Path: <>\n"),
              "Return-Path: %r" % msgs[0][1][:60])


# ------------------------------------------------------------ RCPT

@case("RCPT to local users, domains, IP literals")
def _():
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    for a in ("demo@localhost", "demo@%s" % HOSTNAME, "demo@mx",
              "demo@[127.0.0.1]", "demo@[IPv6:::1]", "bob@LocalHost",
              "root@localhost", "postmaster@localhost",
              "postmaster@%s" % HOSTNAME, "Postmaster", "postmaster",
              "POSTMASTER"):
        smtp_cmd(c, "RCPT TO:<%s>" % a, RE_OK_RCPT)
    smtp_cmd(c, "RCPT TO:<demo@[127.0.0.2]>", RE_OK_RCPT)
    # a source route to a local address: the route is dropped
    smtp_cmd(c, "RCPT TO:<@relay.example:demo@localhost>", RE_OK_RCPT)
    smtp_cmd(c, "RCPT TO:<@a.example,@b.example:bob@%s>" % HOSTNAME,
             RE_OK_RCPT)
    c.quit("smtp")


@case("RCPT parameters and overlong addresses are refused")
def _():
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<demo@localhost> NOTIFY=NEVER",
             r"555 5\.5\.4( .*)?")
    smtp_cmd(c, "RCPT TO:<demo@localhost> FOO", r"(555|501) 5\.5\.4( .*)?")
    smtp_cmd(c, "RCPT TO:<%s@localhost>" % ("d" * 300),
             r"(501 5\.1\.3|550 5\.1\.1|501 5\.5\.4)( .*)?")
    smtp_cmd(c, "RCPT TO:<demo@%s.localhost>" % ("d" * 300),
             r"(501 5\.1\.3|550 5\.7\.1|501 5\.5\.4)( .*)?")
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_OK_RCPT)
    c.quit("smtp")


@case("RCPT: unknown local user -> 550 5.1.1; syntax errors -> 501")
def _():
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<nosuchuser@localhost>", RE_NOUSER)
    smtp_cmd(c, "RCPT TO:<nosuchuser@%s>" % HOSTNAME, RE_NOUSER)
    # a bare local part other than Postmaster: refused either way
    smtp_cmd(c, "RCPT TO:<nosuchuser>", r"(550 5\.1\.1|501 5\.1\.3)( .*)?")
    for bad in ("RCPT", "RCPT TO:", "RCPT TO", "RCPT FROM:<demo@localhost>",
                "RCPT TO:<demo@localhost", "RCPT TO:<>"):
        smtp_cmd(c, bad, r"501 5\.(5\.4|1\.3)( .*)?")
    # the transaction survives the refusals
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_OK_RCPT)
    c.quit("smtp")


@case("relay: non-local recipient accepted from 127.0.0.1 and queued")
def _():
    s = sb()
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<someone@remote.invalid>", RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(message(marker())))
    smtp_cmd(c, None, RE_QUEUED)
    c.quit("smtp")
    q = os.listdir(s.path("queue"))
    check(any(n.endswith(".msg") for n in q) and
          any(n.endswith(".env") for n in q),
          "no ID.msg + ID.env in the queue: %r" % q)


TRICKS = [
    # (address, reply wanted, what it is)
    ("user%%remote.example@%s" % HOSTNAME, RE_NOUSER, "percent hack"),
    ("user%remote.example@localhost", RE_NOUSER, "percent hack"),
    ('"user@remote.example"@localhost', RE_NOUSER, "quoted local part"),
    ('"user@remote.example"@%s' % HOSTNAME, RE_NOUSER, "quoted local part"),
    ("remote.example!user@localhost", RE_NOUSER, "bang path"),
    ("remote.example!user@%s" % HOSTNAME, RE_NOUSER, "bang path"),
    ("@localhost:user@remote.example", RE_RELAY, "source route"),
    ("@%s,@localhost:user@remote.example" % HOSTNAME, RE_RELAY,
     "source route"),
    ("user@remote.example@localhost", r"501 5\.1\.3( .*)?", "two @"),
    ("user@[192.0.2.1]", RE_RELAY, "foreign IP literal"),
    ("user@[10.1.2.3]", RE_RELAY, "foreign IP literal"),
    ("user@[IPv6:2001:db8::1]", RE_RELAY, "foreign IPv6 literal"),
    ("demo@localhost.", r"501 5\.1\.3( .*)?", "trailing dot"),
    ("demo@%s." % HOSTNAME, r"501 5\.1\.3( .*)?", "trailing dot"),
    ("user@remote.example", RE_RELAY, "plain remote"),
    ("user@REMOTE.example", RE_RELAY, "plain remote"),
]


@case("relay denied outside relay_networks, whatever the address trick")
def _():
    s = make_sandbox("relay_networks 10.0.0.0/8\n")
    c = None
    for i, (addr, want, what) in enumerate(TRICKS):
        if i % 8 == 0:          # stay well under the 20-error limit
            if c is not None:
                c.quit("smtp")
            c = session(s=s)
            smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
        c.send("RCPT TO:<%s>" % addr)
        r = c.smtp_reply()
        check(re.fullmatch(want, r[-1]), "%s: RCPT TO:<%s>: expected /%s/, "
              "got %r" % (what, addr, want, r))
    # local recipients are still fine for this client
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_OK_RCPT)
    smtp_cmd(c, "RCPT TO:<demo@[127.0.0.1]>", RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(message(marker())))
    smtp_cmd(c, None, RE_DELIVERED)
    c.quit("smtp")
    q = [os.path.join(d, n) for d, _, ns in os.walk(s.path("queue"))
         for n in ns]
    check(not q, "queue not empty after relay refusals: %r" % q)
    s.stop()


@case("address tricks from a relay client never reach a local user")
def _():
    # From 127.0.0.1 (a relay client) the tricks with a local domain
    # must still not be re-routed to another host: 550 5.1.1, not 250.
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    for addr, want, what in TRICKS:
        if want != RE_NOUSER:
            continue
        c.send("RCPT TO:<%s>" % addr)
        r = c.smtp_reply()
        check(re.fullmatch(want, r[-1]), "%s: RCPT TO:<%s>: expected /%s/, "
              "got %r" % (what, addr, want, r))
    c.quit("smtp")


@case("101st recipient -> 452 4.5.3; one copy per user")
def _():
    mark = marker()
    before = nmsgs("demo")
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    for i in range(1, 101):
        smtp_cmd(c, "RCPT TO:<a%d@localhost>" % i, RE_OK_RCPT)
    smtp_cmd(c, "RCPT TO:<a101@localhost>", r"452 4\.5\.3( .*)?")
    smtp_cmd(c, "RCPT TO:<bob@localhost>", r"452 4\.5\.3( .*)?")
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(message(mark)))
    smtp_cmd(c, None, RE_DELIVERED)
    c.quit("smtp")
    check(nmsgs("demo") == before + 1, "demo has %d new messages, want 1" %
          (nmsgs("demo") - before))
    check(count_mark("demo", mark) == 1, "marker found %d times" %
          count_mark("demo", mark))


@case("100 recipients pipelined in one write")
def _():
    mark = marker()
    c = session()
    cmds = ["MAIL FROM:<a@client.example>"] + \
        ["RCPT TO:<a%d@localhost>" % i for i in range(1, 102)] + ["DATA"]
    c.send_raw(("\r\n".join(cmds) + "\r\n").encode())
    smtp_cmd(c, None, RE_OK_MAIL)
    for i in range(100):
        smtp_cmd(c, None, RE_OK_RCPT)
    smtp_cmd(c, None, r"452 4\.5\.3( .*)?")
    smtp_cmd(c, None, r"354 .*")
    c.send_raw(smtp_data(message(mark)))
    smtp_cmd(c, None, RE_DELIVERED)
    c.quit("smtp")
    check(count_mark("demo", mark) == 1, "marker found %d times" %
          count_mark("demo", mark))


# ------------------------------------------------------------ DATA

@case("message over message_size_limit -> 552 after the dot, nothing kept")
def _():
    mark = marker()
    before = mbox("demo")
    c = session()
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    body = message(mark) + ("x" * 76 + "\n") * (LIMIT // 77 + 10)
    c.send_raw(smtp_data(body))
    smtp_cmd(c, None, r"552 5\.3\.4( .*)?")
    check(mbox("demo") == before, "mailbox changed")
    # the session goes on, and a message just under the limit passes
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_503)
    smtp_cmd(c, "MAIL FROM:<a@client.example>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<demo@localhost>", RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    mark2 = marker()
    body = message(mark2) + ("y" * 76 + "\n") * (LIMIT // 78 - 100)
    c.send_raw(smtp_data(body))
    smtp_cmd(c, None, RE_DELIVERED)
    c.quit("smtp")
    check(count_mark("demo", mark) == 0, "oversized message stored")
    check(count_mark("demo", mark2) == 1, "message under the limit lost")


@case("a text line over 998 octets -> 554 5.6.0, nothing delivered")
def _():
    for n in (999, 1000, 5000, 100000):
        mark = marker()
        before = mbox("demo")
        c = session()
        transaction(c, "a@client.example", ["demo@localhost"])
        smtp_cmd(c, "DATA", r"354 .*")
        c.send_raw(smtp_data(message(mark, "X-Long: " + "l" * (n - 8) +
                                     "\n")))
        smtp_cmd(c, None, r"554 5\.6\.0( .*)?")
        smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
        c.quit("smtp")
        check(mbox("demo") == before, "line of %d octets: mailbox "
              "changed" % n)
    # 998 is fine
    mark = marker()
    smtp_send(port(), "a@client.example", ["demo@localhost"],
              message(mark, "X-Long: " + "l" * 990 + "\n"))
    check(count_mark("demo", mark) == 1, "998-octet line refused?")


@case("NUL in the text -> 554 5.6.0, nothing delivered")
def _():
    mark = marker()
    before = mbox("demo")
    c = session()
    transaction(c, "a@client.example", ["demo@localhost"])
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(message(mark).encode() + b"nul\x00here\n"))
    smtp_cmd(c, None, r"554 5\.6\.0( .*)?")
    c.quit("smtp")
    check(mbox("demo") == before, "mailbox changed")


@case("more than 50 Received: headers -> 554 5.4.6; 50 are fine")
def _():
    rcv = "".join("Received: from h%d.example by h%d.example; "
                  "Thu, 1 Jan 2015 00:00:00 +0000\n" % (i, i + 1)
                  for i in range(51))
    mark = marker()
    before = mbox("demo")
    c = session()
    transaction(c, "a@client.example", ["demo@localhost"])
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(rcv + message(mark)))
    smtp_cmd(c, None, r"554 5\.4\.6( .*)?")
    c.quit("smtp")
    check(mbox("demo") == before, "looping message stored")
    # folded Received: lines count once each
    rcv50 = "".join("Received: from h%d.example\n\tby h%d.example; "
                    "Thu, 1 Jan 2015 00:00:00 +0000\n" % (i, i + 1)
                    for i in range(50))
    mark = marker()
    smtp_send(port(), "a@client.example", ["demo@localhost"],
              rcv50 + message(mark))
    check(count_mark("demo", mark) == 1, "message with 50 Received: lost")
    # Received: in the BODY does not count
    mark = marker()
    smtp_send(port(), "a@client.example", ["demo@localhost"],
              message(mark) + rcv + rcv)
    check(count_mark("demo", mark) == 1,
          "message with Received: lines in the body lost")


@case("message text split over many small writes, end marker split")
def _():
    import time as _t
    mark = marker()
    c = session()
    transaction(c, "a@client.example", ["demo@localhost"])
    smtp_cmd(c, "DATA", r"354 .*")
    wire = smtp_data(message(mark, "X-Pad: .\n") + ".\n.x\nend\n")
    # cut right inside CRLF . CRLF sequences and everywhere else
    cuts = [1, 5, len(wire) - 5, len(wire) - 4, len(wire) - 3,
            len(wire) - 2, len(wire) - 1]
    cuts += [i for i in range(0, len(wire), 37) if i not in cuts]
    cuts = sorted(set(x for x in cuts if 0 < x < len(wire)))
    last = 0
    for x in cuts + [len(wire)]:
        c.send_raw(wire[last:x])
        last = x
        _t.sleep(0.005)
        if x < len(wire):
            check(quiet_for(c, 0), "reply before the end of the text: %r"
                  % c.buf)
    smtp_cmd(c, None, RE_DELIVERED)
    c.quit("smtp")
    check(count_mark("demo", mark) == 1, "message not stored once")
    check(b"\n.\n.x\nend\n" in mbox("demo"),
          "dot lines not unstuffed as expected")


# ------------------------------------------------------------ pipelining

@case("pipelining: a whole transaction in one write")
def _():
    mark = marker()
    c = greet(port(), "smtp")
    c.send_raw(b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
               b"RCPT TO:<demo@localhost>\r\nRCPT TO:<nosuch@localhost>\r\n"
               b"RCPT TO:<bob@localhost>\r\nDATA\r\n" +
               smtp_data(message(mark)) + b"QUIT\r\n")
    smtp_cmd(c, None, r"250 HELP")
    smtp_cmd(c, None, RE_OK_MAIL)
    smtp_cmd(c, None, RE_OK_RCPT)
    smtp_cmd(c, None, RE_NOUSER)
    smtp_cmd(c, None, RE_OK_RCPT)
    smtp_cmd(c, None, r"354 .*")
    smtp_cmd(c, None, RE_DELIVERED)
    smtp_cmd(c, None, r"221 2\.0\.0( .*)?")
    c.expect_close()
    check(count_mark("demo", mark) == 1, "demo did not get it once")
    check(count_mark("alice", mark) == 1, "alice (bob's .forward) did not "
          "get it once")


@case("pipelining: two messages in one write")
def _():
    m1, m2 = marker(), marker()
    c = greet(port(), "smtp")
    c.send_raw(b"EHLO client.example\r\n"
               b"MAIL FROM:<a@client.example>\r\nRCPT TO:<demo@localhost>\r\n"
               b"DATA\r\n" + smtp_data(message(m1)) +
               b"MAIL FROM:<b@client.example>\r\nRCPT TO:<carol@localhost>\r\n"
               b"DATA\r\n" + smtp_data(message(m2)) +
               b"RSET\r\nNOOP\r\nQUIT\r\n")
    for w in (r"250 HELP", RE_OK_MAIL, RE_OK_RCPT, r"354 .*", RE_DELIVERED,
              RE_OK_MAIL, RE_OK_RCPT, r"354 .*", RE_DELIVERED,
              r"250 2\.0\.0( .*)?", r"250 2\.0\.0 .*", r"221 2\.0\.0( .*)?"):
        smtp_cmd(c, None, w)
    c.expect_close()
    check(count_mark("demo", m1) == 1, "first message not in demo once")
    check(count_mark("carol", m2) == 1, "second message not in carol once")
    check(count_mark("demo", m2) == 0, "second message in demo")
    check(count_mark("carol", m1) == 0, "first message in carol")


@case("pipelining: refused message followed by a good one in one write")
def _():
    m1, m2 = marker(), marker()
    c = session()
    big = message(m1, "X-Long: " + "z" * 2000 + "\n")
    c.send_raw(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<demo@localhost>\r\n"
               b"DATA\r\n" + smtp_data(big) +
               b"MAIL FROM:<a@client.example>\r\nRCPT TO:<demo@localhost>\r\n"
               b"DATA\r\n" + smtp_data(message(m2)) + b"QUIT\r\n")
    for w in (RE_OK_MAIL, RE_OK_RCPT, r"354 .*", r"554 5\.6\.0( .*)?",
              RE_OK_MAIL, RE_OK_RCPT, r"354 .*", RE_DELIVERED,
              r"221 2\.0\.0( .*)?"):
        smtp_cmd(c, None, w)
    c.expect_close()
    check(count_mark("demo", m1) == 0, "refused message stored")
    check(count_mark("demo", m2) == 1, "good message not stored once")


@case("20 errors -> 421 4.7.0 and close")
def _():
    c = greet(port(), "smtp")
    c.send_raw(b"".join(b"BOGUS%d\r\n" % i for i in range(25)))
    for i in range(20):
        smtp_cmd(c, None, r"500 5\.5\.2( .*)?")
    smtp_cmd(c, None, r"421 4\.7\.0( .*)?")
    c.expect_close()
    # good commands in between do not reset the count
    c = greet(port(), "smtp")
    for i in range(19):
        smtp_cmd(c, "BOGUS", r"500 5\.5\.2( .*)?")
        smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
    smtp_cmd(c, "BOGUS", r"500 5\.5\.2( .*)?")
    smtp_cmd(c, None, r"421 4\.7\.0( .*)?")
    c.expect_close()
    # the daemon is fine
    smtp_cmd(session(), "NOOP", r"250 2\.0\.0 .*")


# ------------------------------------------------------------ routing

@case("<Postmaster> without a domain goes to root")
def _():
    mark = marker()
    smtp_send(port(), "a@client.example", ["Postmaster"], message(mark))
    check(count_mark("root", mark) == 1, "root did not get the message")
    mark = marker()
    smtp_send(port(), "", ["postmaster@%s" % HOSTNAME], message(mark))
    check(count_mark("root", mark) == 1, "root did not get the bounce-like "
          "message to postmaster@%s" % HOSTNAME)


@case("aliases: team -> demo, carol; Sales -> bob -> .forward alice")
def _():
    mark = marker()
    smtp_send(port(), "a@client.example", ["team@localhost"], message(mark))
    check(count_mark("demo", mark) == 1, "demo did not get team's message")
    check(count_mark("carol", mark) == 1, "carol did not get team's message")
    mark = marker()
    smtp_send(port(), "a@client.example", ["sales@%s" % HOSTNAME],
              message(mark))
    check(count_mark("alice", mark) == 1, "alice did not get sales' message "
          "(alias bob, bob's .forward alice)")
    check(count_mark("bob", mark) == 0, "bob kept a copy despite .forward")
    # alias plus a direct recipient of the same user: one copy
    mark = marker()
    smtp_send(port(), "a@client.example", ["team@localhost", "demo@localhost",
                                           "demo@mx"],
              message(mark))
    check(count_mark("demo", mark) == 1, "demo got %d copies" %
          count_mark("demo", mark))


@case(".forward to another local user")
def _():
    mark = marker()
    smtp_send(port(), "a@client.example", ["bob@localhost"], message(mark))
    check(count_mark("alice", mark) == 1, "alice did not get bob's mail")
    check(count_mark("bob", mark) == 0, "bob's mailbox got it despite "
          ".forward")
    mark = marker()
    smtp_send(port(), "a@client.example", ["bob@localhost",
                                           "alice@localhost"], message(mark))
    check(count_mark("alice", mark) == 1, "alice got %d copies" %
          count_mark("alice", mark))


@case("daemon still alive and exits 0 on SIGTERM")
def _():
    s = sb()
    check(s.alive(), "yubind died during the tests (exit %s)" %
          s.proc.returncode)
    rc = s.stop()
    check(rc == 0, "exit code after SIGTERM %r, want 0" % rc)


main(timeout=240)

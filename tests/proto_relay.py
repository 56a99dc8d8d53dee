#!/usr/bin/env python3
"""proto_relay.py - mail to other hosts, on loopback (issue 6): two
sandboxes, A (hostname a.test, `route b.test 127.0.0.1:PORT`) and B
(local_domains b.test), and scripted SMTP servers (FakeSMTP) where the
remote host has to misbehave.

Cases: A relays to B byte for byte and logs status=sent; B down ->
queued, mailq shows the error, it survives a restart, SIGUSR1 delivers
it; unknown user on B -> RFC 3464 bounce to the (local) envelope sender;
451 -> deferred with backoff, `yubin-sendmail -q` retries; one of two
recipients refused -> one delivered, one bounce listing only that one;
queue_lifetime -> 4.4.7 bounce; relay control from outside
relay_networks and the address tricks; submission with AUTH relays;
a failing null-sender message bounces nowhere; 8-bit text and a server
without 8BITMIME; a mail loop (too many Received:) bounces; HELO
fallback and dot-stuffing on the wire; SIZE; replies after the dot and
a connection lost there; DNS lookups that never end or come back
malformed (FakeDNS) while SMTP is served; relayhost; a bounce to a
remote sender is relayed; relay_max_per_host bounds the connections.
The DNS of every other sandbox goes to a dead port (yubintest.py)."""

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403
from relaytest import *  # noqa: E402,F401,F403

USERS_A = {"alice": "alice-pw", "bob": "bob-pw"}
USERS_B = {"user": "secret", "carol": "carol-pw"}


# ------------------------------------------------------------ setup

def sandbox_b(port=0, extra="", start=True):
    return Sandbox(conf="hostname b.test\nlocal_domains b.test\n"
                   "smtp_listen 127.0.0.1:%d\n%s" % (port, extra),
                   users=USERS_B, start=start)


def sandbox_a(bport, extra="", start=True, users=None):
    return Sandbox(conf="hostname a.test\nlocal_domains a.test\n"
                   "route b.test 127.0.0.1:%d\n%s" % (bport, extra),
                   users=users or USERS_A, start=start)


def pair(extra_a="", extra_b=""):
    b = sandbox_b(extra=extra_b)
    a = sandbox_a(b.port("smtp"), extra_a)
    return a, b


def spool(sb, user):
    return read_bytes(sb.path("mail", user)) or b""


def wait_msgs(sb, user, n=1, timeout=WAIT):
    """Wait until user's spool in sb holds at least n messages; returns
    the mbox_split list (whatever is there at the timeout)."""
    got = [[]]

    def ok():
        got[0] = mbox_split(spool(sb, user))
        return len(got[0]) >= n
    wait_until(ok, timeout, 0.05)
    return got[0]


def wait_log(sb, to, status, timeout=WAIT, n=1):
    """Wait for n delivery log lines for to with status; returns them."""
    got = [[]]

    def ok():
        got[0] = relay_log(sb, to, status)
        return len(got[0]) >= n
    wait_until(ok, timeout, 0.05)
    return got[0]


def queue_empty(sb, timeout=WAIT):
    """Wait until the queue holds no message; True if it got there."""
    return wait_until(lambda: not queue_ids(sb), timeout, 0.05)


def strip_trace(text):
    """Split a stored message (bytes after the From_ line) into its
    Return-Path line, its leading Received: fields (a list of bytes,
    folded lines joined as stored) and the rest."""
    lines = text.split(b"\n")
    rp = None
    if lines and lines[0].startswith(b"Return-Path:"):
        rp = lines.pop(0)
    received = []
    while lines and lines[0].startswith(b"Received:"):
        f = [lines.pop(0)]
        while lines and lines[0][:1] in (b" ", b"\t"):
            f.append(lines.pop(0))
        received.append(b"\n".join(f))
    return rp, received, b"\n".join(lines)


def check_copy_at_b(msgs, original, sender, rcpt):
    """B's spool holds exactly one message: the original byte for byte
    under B's and A's trace headers."""
    if not check(len(msgs) == 1, "B's spool holds %d messages, want 1" %
                 len(msgs)):
        return
    from_line, text = msgs[0]
    check(from_line.startswith(b"From %s " % sender.encode()),
          "B's From_ line %r: not the envelope sender %s" % (from_line,
                                                             sender))
    rp, received, rest = strip_trace(text)
    check(rp == b"Return-Path: <%s>" % sender.encode(),
          "B's Return-Path %r, want <%s>" % (rp, sender))
    if check(len(received) == 2, "%d Received: fields above the message, "
             "want 2 (B's and A's): %r" % (len(received), received)):
        rb, ra = received
        for want in (b"from a.test ", b"by b.test ", b"with ESMTP",
                     b"for <%s>" % rcpt.encode()):
            check(want in rb, "B's Received: lacks %r (A's EHLO name is "
                  "its hostname, EHLO was used): %r" % (want, rb))
        for want in (b"from client.example ", b"by a.test "):
            check(want in ra, "A's Received: lacks %r: %r" % (want, ra))
    want = mbox_quote(original)
    if not want.endswith(b"\n"):
        want += b"\n"
    want += b"\n"           # the blank line that ends an mbox message
    if rest != want:
        gl, wl = rest.split(b"\n"), want.split(b"\n")
        for i, (g, w) in enumerate(zip(gl, wl)):
            if g != w:
                fail("the copy on B differs at line %d: got %r, want %r" %
                     (i + 1, g[:200], w[:200]))
        fail("the copy on B has %d lines, want %d (tail %r, want %r)" %
             (len(gl), len(wl), rest[-80:], want[-80:]))


def one_bounce(sb, user, timeout=WAIT):
    """Wait for exactly one message in user's spool on sb and check it is
    a bounce from MAILER-DAEMON with the null sender; returns
    (dsn_parse result, stored text)."""
    msgs = wait_msgs(sb, user, 1, timeout)
    if not msgs:
        fail("no bounce in %s's spool within %d s" % (user, timeout))
    time.sleep(0.5)                     # a second one would come now
    msgs = mbox_split(spool(sb, user))
    check(len(msgs) == 1, "%d messages in %s's spool, want one bounce" %
          (len(msgs), user))
    from_line, text = msgs[0]
    check(from_line.startswith(b"From MAILER-DAEMON "),
          "bounce From_ line %r: envelope sender not <>" % from_line)
    check(text.startswith(b"Return-Path: <>\n"),
          "bounce Return-Path is not <>: %r" % text[:60])
    d = dsn_parse(text)
    m = d["msg"]
    check(re.search(r"MAILER-DAEMON@a\.test", m.get("From", ""), re.I),
          "bounce From: %r, want MAILER-DAEMON@a.test" % m.get("From"))
    check(re.search(r"undeliver|undelivered|returned|failure|failed",
                    m.get("Subject", ""), re.I),
          "bounce Subject: %r" % m.get("Subject"))
    check(re.fullmatch(r"dns; ?a\.test", d["per_msg"].get("reporting-mta",
                                                           "")),
          "Reporting-MTA %r, want dns; a.test" %
          d["per_msg"].get("reporting-mta"))
    return d, text


def check_rcpt_block(blk, rcpt, status_re):
    check(re.fullmatch(r"rfc822; ?%s" % re.escape(rcpt),
                       blk.get("final-recipient", ""), re.I),
          "Final-Recipient %r, want rfc822; %s" %
          (blk.get("final-recipient"), rcpt))
    check(blk.get("action", "").lower() == "failed",
          "Action %r, want failed" % blk.get("action"))
    check(re.fullmatch(status_re, blk.get("status", "")),
          "Status %r, want /%s/" % (blk.get("status"), status_re))


def check_original(d, mark):
    o = d["original"]
    if not check(o is not None, "the bounce has no third part with the "
                 "original message or its headers"):
        return
    check(b"Subject: %s" % mark.encode() in o,
          "the original's Subject: is not in the bounce: %r" % o[:300])
    check(b"Message-ID: <%s@client.example>" % mark.encode() in o,
          "the original's Message-ID: is not in the bounce")


def env_lines(sb, qid):
    return (read_bytes(sb.path("queue", qid + ".env")) or b"").decode(
        "latin-1").splitlines()


def wait_env_tries(sb, qid, tries=1, timeout=WAIT):
    """Wait until every R line of the envelope qid counts at least tries
    failed tries.  The daemon logs status=deferred first and writes the
    envelope (fsync, rename) after it, so what the envelope, and mailq,
    says can lag the log line.  Returns the R lines, split in words."""
    got = [[]]

    def ok():
        got[0] = [ln.split(" ") for ln in env_lines(sb, qid)
                  if ln.startswith("R ")]
        return got[0] and all(len(r) >= 5 and r[3].isdigit() and
                              int(r[3]) >= tries for r in got[0])
    wait_until(ok, timeout, 0.05)
    return got[0]


# ------------------------------------------------------------ cases

BODY1 = ("..leading dot becomes one dot\n.\n..\n...\n"
         "From the body, quoted in the mbox\nFrom \n"
         "trailing spaces   \ntab\tinside\n\n\n%s\n \n"
         "last line\n" % ("L" * 990 + "-998-end"))


@case("A relays to B: byte for byte, status=sent logged, queue empty")
def _():
    a, b = pair()
    mark = marker()
    text = message(mark, body=BODY1,
                   headers="X-Folded: one\n\ttwo\n  three\n")
    r = submit(a.port("smtp"), "alice@a.test", ["user@b.test"], text)
    qid = re.search(r"queued as ([0-9A-Za-z]+)", r)
    check(qid, "reply to DATA for a remote recipient %r lacks "
          "`queued as ID`" % r)
    msgs = wait_msgs(b, "user", 1)
    if not msgs:
        fail("nothing arrived in B's spool within %d s (A's log: %r)" %
             (WAIT, a.stderr_text()[-1500:]))
    check_copy_at_b(msgs, text, "alice@a.test", "user@b.test")
    lines = wait_log(a, "user@b.test", "sent")
    if check(len(lines) == 1, "%d status=sent lines for user@b.test in "
             "A's log, want 1:\n%s" % (len(lines), a.stderr_text()[-1500:])):
        m = lines[0]
        if qid:
            check(m.group("id") == qid.group(1), "log id %s, queue id %s" %
                  (m.group("id"), qid.group(1)))
        # host[ip]:port; the route names an address, and an address
        # literal is its own host name: [127.0.0.1]:port will do
        check(re.fullmatch(r"([^\[\] ]+)?\[127\.0\.0\.1\]:%d" %
                           b.port("smtp"), m.group("relay") or ""),
              "relay=%r, want host[127.0.0.1]:%d" % (m.group("relay"),
                                                      b.port("smtp")))
        check(m.group("delay") is not None and int(m.group("delay")) < 30,
              "delay=%r" % m.group("delay"))
        check(re.match(r"250 ", m.group("reply") or ""),
              "the log line does not carry B's reply: %r" % m.group(0))
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    code, out, err = sendmail_run(a, ["-bp"])
    check(code == 0 and "Mail queue is empty" in out,
          "mailq after delivery: %d %r %r" % (code, out, err))
    check(not queue_ids(b), "B queued its local copy: %r" % queue_ids(b))


@case("B down: queued, mailq shows the error, survives a restart and a "
      "crash, SIGUSR1 delivers when B is back")
def _():
    bport = free_port()
    b = sandbox_b(bport, start=False)
    a = sandbox_a(bport)
    mark = marker()
    text = message(mark)
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], text)
    d = wait_log(a, "user@b.test", "deferred")
    check(d, "no status=deferred line for user@b.test in A's log:\n%s" %
          a.stderr_text()[-1500:])
    if d:
        check(re.search(r"refused", d[0].group("reply") or "", re.I),
              "deferred line does not say why: %r" % d[0].group(0))
    ids = queue_ids(a)
    check(len(ids) == 1, "A's queue: %r, want one message" % ids)
    if ids:
        wait_env_tries(a, ids[0])
    code, out, err = sendmail_run(a, ["-bp"])
    check(code == 0, "mailq exit %d: %r" % (code, err))
    check("<user@b.test>" in out and "<alice@a.test>" in out,
          "mailq lacks the sender or recipient: %r" % out)
    check(re.search(r"connect.*refused|refused.*connect", out, re.I | re.S),
          "mailq does not show the connection error: %r" % out)
    if ids:
        size = os.path.getsize(a.path("queue", ids[0] + ".msg"))
        check(re.search(r"(?m)^%s\s+%d\s" % (ids[0], size), out),
              "mailq lacks `ID SIZE` (%s %d): %r" % (ids[0], size, out))
    code, out2, err = sendmail_run(a, [], name="mailq")
    check(code == 0 and out2 == out, "mailq by its own name: %d %r, -bp "
          "said %r" % (code, out2, out))
    # the queue survives a restart and a crash (B still down); each start
    # runs the queue
    a.stop()
    a.start()
    check(queue_ids(a) == ids, "queue after restart %r, before %r" %
          (queue_ids(a), ids))
    check(wait_until(lambda: len(relay_log(a, "user@b.test", "deferred"))
                     >= 2, WAIT), "no try at start after the restart")
    a.kill()
    a.start()
    check(queue_ids(a) == ids, "queue after SIGKILL %r, before %r" %
          (queue_ids(a), ids))
    check(wait_until(lambda: len(relay_log(a, "user@b.test", "deferred"))
                     >= 3, WAIT), "no try at start after the crash")
    check(not spool(b, "user"), "delivered with B down?")
    b.start()
    a.signal(signal.SIGUSR1)
    msgs = wait_msgs(b, "user", 1)
    if not msgs:
        fail("not delivered within %d s of SIGUSR1 with B back; A's log:"
             "\n%s" % (WAIT, a.stderr_text()[-1500:]))
    check_copy_at_b(msgs, text, "alice@a.test", "user@b.test")
    check(wait_log(a, "user@b.test", "sent"), "no status=sent line")
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    time.sleep(0.5)
    check(len(mbox_split(spool(b, "user"))) == 1, "delivered twice")


@case("unknown user on B: 550 -> RFC 3464 bounce in the sender's spool "
      "on A (5.1.1, original headers), to the envelope sender")
def _():
    a, b = pair()
    mark = marker()
    # the header From: is somebody else: the bounce follows the envelope
    text = message(mark, to="nosuch@b.test").replace(
        b"From: Alice Example <alice@a.test>",
        b"From: Bob Header <bob@a.test>")
    submit(a.port("smtp"), "alice@a.test", ["nosuch@b.test"], text)
    d, stored = one_bounce(a, "alice")
    check(not spool(a, "bob"), "the bounce went to the header From: (bob)")
    check(re.search(r"alice@a\.test", d["msg"].get("To", "")),
          "bounce To: %r" % d["msg"].get("To"))
    if check(len(d["rcpts"]) == 1, "%d recipient blocks, want 1: %r" %
             (len(d["rcpts"]), d["rcpts"])):
        blk = d["rcpts"][0]
        check_rcpt_block(blk, "nosuch@b.test", r"5\.1\.1")
        check(blk.get("remote-mta", "").lower().startswith("dns;"),
              "Remote-MTA %r (B answered: it should be named)" %
              blk.get("remote-mta"))
        diag = blk.get("diagnostic-code", "")
        check(re.match(r"smtp; ?550 5\.1\.1", diag, re.I),
              "Diagnostic-Code %r, want smtp; 550 5.1.1 ..." % diag)
    check("nosuch@b.test" in d["human"],
          "the text part does not name the recipient: %r" % d["human"])
    check_original(d, mark)
    check(wait_log(a, "nosuch@b.test", "bounced"),
          "no status=bounced line in A's log")
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    check(not spool(b, "user") and not queue_ids(b),
          "B kept something of the refused message")


@case("B answers 451 to RCPT: deferred with backoff, mailq shows the "
      "reply, yubin-sendmail -q retries, then delivered")
def _():
    fake = FakeSMTP(rcpt=lambda addr, n: "451 4.3.0 Try again later"
                    if n == 0 else "250 2.1.5 Ok")
    a = sandbox_a(fake.port)
    mark = marker()
    text = message(mark)
    t0 = time.time()
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], text)
    d = wait_log(a, "user@b.test", "deferred")
    if not d:
        fail("no status=deferred line; A's log:\n%s" %
             a.stderr_text()[-1500:])
    check("451 4.3.0 Try again later" in (d[0].group("reply") or ""),
          "deferred line lacks the reply: %r" % d[0].group(0))
    check(fake.rcpt_count("user@b.test") == 1 and not fake.delivered(),
          "after the 451: %d RCPTs, %d messages sent" %
          (fake.rcpt_count("user@b.test"), len(fake.delivered())))
    ids = queue_ids(a)
    check(len(ids) == 1, "A's queue %r, want one message" % ids)
    # first retry after 60 s: the envelope's R line (queue.c: R TYPE
    # STATE TRIES NEXT ...) says when
    rl = wait_env_tries(a, ids[0]) if ids else []
    code, out, err = sendmail_run(a, ["-bp"])
    check("451 4.3.0 Try again later" in out and "<user@b.test>" in out,
          "mailq does not show the recipient's last reply: %r" % out)
    if ids:
        if check(len(rl) == 1 and len(rl[0]) >= 5, "R lines %r" % rl):
            nxt = int(rl[0][4])
            check(int(rl[0][3]) == 1, "tries %s, want 1" % rl[0][3])
            check(t0 + 55 <= nxt <= time.time() + 65,
                  "next try at now%+d s, want about +60" %
                  (nxt - time.time()))
    time.sleep(2)
    check(fake.rcpt_count("user@b.test") == 1,
          "retried within 2 s without being asked (%d RCPTs): no backoff" %
          fake.rcpt_count("user@b.test"))
    code, out, err = sendmail_run(a, ["-q"])
    check(code == 0, "yubin-sendmail -q: exit %d %r" % (code, err))
    if not wait_until(lambda: fake.delivered(), WAIT):
        fail("not retried within %d s of -q (%d RCPTs seen)" %
             (WAIT, fake.rcpt_count("user@b.test")))
    s = fake.delivered()[0]
    check(s["mail"].startswith("MAIL FROM:<alice@a.test>"),
          "MAIL line %r" % s["mail"])
    rp, received, rest = strip_trace(s["data"].replace(b"\r\n", b"\n"))
    check(rp is None, "A sent a Return-Path: %r" % rp)
    check(len(received) == 1 and b"by a.test " in received[0],
          "trace fields sent: %r" % received)
    check(rest == text, "sent text differs: %r vs %r" % (rest[:200],
                                                         text[:200]))
    check(wait_log(a, "user@b.test", "sent"), "no status=sent line")
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    fake.close()


@case("one of two recipients refused: one delivered, one bounce that "
      "lists only the refused one")
def _():
    a, b = pair()
    mark = marker()
    text = message(mark)
    submit(a.port("smtp"), "alice@a.test", ["user@b.test", "nosuch@b.test"],
           text)
    msgs = wait_msgs(b, "user", 1)
    if not msgs:
        fail("user@b.test got nothing; A's log:\n%s" %
             a.stderr_text()[-1500:])
    check_copy_at_b(msgs, text, "alice@a.test", "user@b.test")
    d, _ = one_bounce(a, "alice")
    if check(len(d["rcpts"]) == 1, "the bounce lists %d recipients, want "
             "only nosuch@b.test: %r" % (len(d["rcpts"]), d["rcpts"])):
        check_rcpt_block(d["rcpts"][0], "nosuch@b.test", r"5\.1\.1")
    check("user@b.test" not in d["human"].replace("nosuch@b.test", ""),
          "the bounce text names the delivered recipient: %r" % d["human"])
    check_original(d, mark)
    check(wait_log(a, "user@b.test", "sent") and
          wait_log(a, "nosuch@b.test", "bounced"),
          "log lines: %r" % [m.group(0) for m in relay_log(a)])
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))


@case("queue_lifetime 60: a message older than that is bounced with "
      "4.4.7 and the last error")
def _():
    dead = free_port()
    a = sandbox_a(dead, "queue_lifetime 60\n")
    mark = marker()
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], message(mark))
    check(wait_log(a, "user@b.test", "deferred"), "no deferred line; log:"
          "\n%s" % a.stderr_text()[-1500:])
    check(not spool(a, "alice"), "bounced at once (lifetime is 60 s)")
    ids = queue_ids(a)
    if len(ids) != 1:
        fail("A's queue %r, want one message" % ids)
    a.stop()
    # make it two hours old
    p = a.path("queue", ids[0] + ".env")
    lines = env_lines(a, ids[0])
    tl = [i for i, ln in enumerate(lines) if ln.startswith("T ")]
    if len(tl) != 1:
        fail("no single T line in %s: %r" % (p, lines))
    lines[tl[0]] = "T %d" % (int(time.time()) - 7200)
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    a.start()
    d, _ = one_bounce(a, "alice")
    if check(len(d["rcpts"]) == 1, "%d recipient blocks" % len(d["rcpts"])):
        blk = d["rcpts"][0]
        # RFC 3463 X.4.7 "delivery time expired"; Sendmail and Postfix
        # keep the 4 of the last (transient) failure with Action: failed
        check_rcpt_block(blk, "user@b.test", r"[45]\.4\.7")
        check(re.search(r"refused", blk.get("diagnostic-code", "") +
                        d["human"], re.I),
              "the bounce does not give the last error (connection "
              "refused): %r / %r" % (blk.get("diagnostic-code"),
                                     d["human"]))
    check_original(d, mark)
    check(wait_log(a, "user@b.test", "bounced"), "no status=bounced line")
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))


TRICKS_OUTSIDE = [
    # (address, reply wanted, what it is)
    ("user@b.test", RE_DENIED, "plain remote"),
    ("USER@B.TEST", RE_DENIED, "plain remote, upper case"),
    ("@a.test:user@b.test", RE_DENIED, "source route via us"),
    ("@a.test,@b.test:user@b.test", RE_DENIED, "source route"),
    ("user%b.test@a.test", r"5[0-9][0-9] .*", "percent hack"),
    ("user%b.test@[127.0.0.1]", r"5[0-9][0-9] .*", "percent hack, literal"),
    ('"user@b.test"@a.test', r"5[0-9][0-9] .*", "quoted local part"),
    ("b.test!user@a.test", r"5[0-9][0-9] .*", "bang path"),
    ("user@b.test@a.test", r"5[0-9][0-9] .*", "two @"),
    ("user@b.test.", r"5[0-9][0-9] .*", "trailing dot"),
    ("user@[127.0.0.2]", r"5[0-9][0-9] .*", "foreign IP literal"),
    ("user@b.test ", r"5[0-9][0-9] .*", "trailing space"),
]
TRICKS_LOCAL = [t for t in TRICKS_OUTSIDE if t[0].endswith("@a.test") or
                "@[127.0.0.1]" in t[0]]


@case("relay control: outside relay_networks nothing relays, whatever "
      "the trick; from inside, local-domain tricks do not relay either")
def _():
    b = sandbox_b()
    a = sandbox_a(b.port("smtp"), "relay_networks 10.0.0.0/8\n")
    c = None
    for i, (addr, want, what) in enumerate(TRICKS_OUTSIDE):
        if i % 6 == 0:
            if c is not None:
                c.quit("smtp")
            c, _ = open_smtp(a.port("smtp"))
            smtp_cmd(c, "MAIL FROM:<alice@a.test>", RE_OK_MAIL)
        c.send("RCPT TO:<%s>" % addr)
        r = c.smtp_reply()
        check(re.fullmatch(want, r[-1]), "outside, %s: RCPT TO:<%s>: "
              "expected /%s/, got %r" % (what, addr, want, r))
    c.send("DATA")
    r = c.smtp_reply()
    check(r[-1][:1] == "5", "DATA with no recipient accepted: %r" % r)
    c.quit("smtp")
    # from inside (A's default relay_networks has 127.0.0.0/8): tricks
    # with a local domain are local addresses, never relayed
    a2 = sandbox_a(b.port("smtp"))
    c, _ = open_smtp(a2.port("smtp"))
    smtp_cmd(c, "MAIL FROM:<alice@a.test>", RE_OK_MAIL)
    for addr, want, what in TRICKS_LOCAL:
        c.send("RCPT TO:<%s>" % addr)
        r = c.smtp_reply()
        check(r[-1][:1] == "5", "inside, %s: RCPT TO:<%s> got %r" %
              (what, addr, r))
    smtp_cmd(c, "RCPT TO:<bob@a.test>", RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(message(marker(), to="bob@a.test")))
    smtp_cmd(c, None, RE_ACCEPTED)
    c.quit("smtp")
    check(wait_msgs(a2, "bob", 1), "the local copy did not arrive")
    time.sleep(1)
    for sb, who in ((a, "A outside"), (a2, "A inside")):
        check(not queue_ids(sb), "%s: queued %r" % (who, queue_ids(sb)))
    check(not os.path.exists(b.path("mail")) or
          not os.listdir(b.path("mail")),
          "B received something: %r" % os.listdir(b.path("mail")))
    check(not relay_log(a, status="sent") and
          not relay_log(a2, "user@b.test"), "A relayed: %r" %
          [m.group(0) for m in relay_log(a) + relay_log(a2)])


@case("submission: no relay and no MAIL without AUTH; PLAIN, LOGIN and "
      "CRAM-MD5 users relay from outside relay_networks; sender checked")
def _():
    import base64
    b = sandbox_b()
    a = sandbox_a(b.port("smtp"), "relay_networks 10.0.0.0/8\n")
    port = a.port("submission")
    c, ehlo = open_smtp(port)
    auth = [ln for ln in ehlo if re.match(r"250[- ]AUTH ", ln)]
    if check(auth, "EHLO on submission offers no AUTH: %r" % ehlo):
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
            check(mech in auth[0].split()[1:], "AUTH line %r lacks %s" %
                  (auth[0], mech))
    smtp_cmd(c, "MAIL FROM:<alice@a.test>", r"530 5\.7\.0 .*")
    smtp_cmd(c, "AUTH PLAIN %s" % base64.b64encode(
        b"\0alice\0wrong").decode(), r"535 5\.7\.8 .*")
    smtp_cmd(c, "AUTH PLAIN %s" % base64.b64encode(
        b"\0alice\0alice-pw").decode(), r"235 2\.7\.0 .*")
    # the envelope sender must be the user's (sender_login_check)
    smtp_cmd(c, "MAIL FROM:<bob@a.test>", r"5[0-9][0-9] 5\.7\.[0-9] .*")
    smtp_cmd(c, "MAIL FROM:<alice@a.test>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<user@b.test>", RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    mark = marker()
    text = message(mark)
    c.send_raw(smtp_data(text))
    smtp_cmd(c, None, RE_ACCEPTED)
    c.quit("smtp")
    msgs = wait_msgs(b, "user", 1)
    if check(msgs, "the authenticated user's message did not reach B"):
        rp, received, rest = strip_trace(msgs[0][1])
        check(rest == text + b"\n", "copy on B differs")
        check(len(received) == 2 and b"alice" in received[1],
              "A's Received: does not record the authenticated user: %r" %
              received)
    # LOGIN and CRAM-MD5
    c, _ = open_smtp(port)
    smtp_cmd(c, "AUTH LOGIN", r"334 VXNlcm5hbWU6")
    smtp_cmd(c, base64.b64encode(b"bob").decode(), r"334 UGFzc3dvcmQ6")
    smtp_cmd(c, base64.b64encode(b"bob-pw").decode(), r"235 2\.7\.0 .*")
    smtp_cmd(c, "MAIL FROM:<bob@a.test>", RE_OK_MAIL)
    smtp_cmd(c, "RCPT TO:<carol@b.test>", RE_OK_RCPT)
    c.quit("smtp")
    c, _ = open_smtp(port)
    r = smtp_cmd(c, "AUTH CRAM-MD5", r"334 [A-Za-z0-9+/=]+")
    smtp_cmd(c, cram_md5_response("alice", "alice-pw", r[-1][4:]),
             r"235 2\.7\.0 .*")
    smtp_cmd(c, "MAIL FROM:<alice@a.test>", RE_OK_MAIL)
    c.quit("smtp")
    # sender_login_check no: any sender for a logged-in user
    a.stop()
    a.set_conf("hostname a.test\nlocal_domains a.test\n"
               "route b.test 127.0.0.1:%d\nrelay_networks 10.0.0.0/8\n"
               "sender_login_check no\n" % b.port("smtp"))
    a.start()
    c, _ = open_smtp(a.port("submission"))
    smtp_cmd(c, "AUTH PLAIN %s" % base64.b64encode(
        b"\0alice\0alice-pw").decode(), r"235 2\.7\.0 .*")
    smtp_cmd(c, "MAIL FROM:<bob@a.test>", RE_OK_MAIL)
    c.quit("smtp")


@case("a null-sender message that fails bounces nowhere, and leaves "
      "the queue")
def _():
    a, b = pair()
    before = dict((u, spool(a, u)) for u in USERS_A)
    submit(a.port("smtp"), "", ["nosuch@b.test"], message(marker(),
                                                          "nosuch@b.test"))
    check(wait_log(a, "nosuch@b.test", "bounced"),
          "no status=bounced line; log:\n%s" % a.stderr_text()[-1500:])
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    time.sleep(1)
    for u in USERS_A:
        check(spool(a, u) == before[u], "%s on A got mail" % u)
    check(not os.path.isdir(b.path("mail")) or
          not any(os.path.getsize(b.path("mail", f))
                  for f in os.listdir(b.path("mail"))),
          "B got mail: %r" % os.listdir(b.path("mail")))
    check(not queue_ids(a) and not queue_ids(b), "a bounce was queued: "
          "A %r B %r" % (queue_ids(a), queue_ids(b)))


@case("8-bit text: to a server without 8BITMIME -> bounce that says so; "
      "with 8BITMIME -> sent with BODY=8BITMIME; 7-bit -> no BODY=")
def _():
    fake7 = FakeSMTP(ehlo=["PIPELINING", "ENHANCEDSTATUSCODES"])
    a = sandbox_a(fake7.port)
    mark = marker()
    text8 = message(mark, body="caf\xe9 \xe4\xf6\xfc \xc3\xa9\n")
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], text8,
           " BODY=8BITMIME")
    d, _ = one_bounce(a, "alice")
    if check(len(d["rcpts"]) == 1, "%d recipient blocks" % len(d["rcpts"])):
        check_rcpt_block(d["rcpts"][0], "user@b.test", r"5\.6\.[0-9]")
        check(re.search(r"8.?bit", d["rcpts"][0].get("diagnostic-code", "")
                        + d["human"], re.I),
              "the bounce does not say the server cannot take 8-bit "
              "text: %r / %r" % (d["rcpts"][0].get("diagnostic-code"),
                                 d["human"]))
    check(not fake7.delivered(), "8-bit text sent to a 7-bit server")
    check(not any("8BITMIME" in m.upper() for m in fake7.mail_lines()),
          "BODY=8BITMIME sent to a server that did not offer it: %r" %
          fake7.mail_lines())
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    # 7-bit text to the same server goes through, without BODY=
    text7 = message(marker())
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], text7)
    if check(wait_until(lambda: fake7.delivered(), WAIT),
             "7-bit text not sent to the 7-bit server"):
        s = fake7.delivered()[0]
        check("BODY=" not in s["mail"].upper(), "MAIL %r" % s["mail"])
        check(s["data"].replace(b"\r\n", b"\n").endswith(text7),
              "7-bit text changed on the way")
    fake7.close()
    # 8-bit text to a server that offers 8BITMIME
    fake8 = FakeSMTP()
    a2 = sandbox_a(fake8.port)
    submit(a2.port("smtp"), "alice@a.test", ["user@b.test"], text8,
           " BODY=8BITMIME")
    if check(wait_until(lambda: fake8.delivered(), WAIT),
             "8-bit text not sent to an 8BITMIME server; log:\n%s" %
             a2.stderr_text()[-1500:]):
        s = fake8.delivered()[0]
        check(re.search(r"\sBODY=8BITMIME(\s|$)", s["mail"], re.I),
              "MAIL without BODY=8BITMIME: %r" % s["mail"])
        check(s["data"].replace(b"\r\n", b"\n").endswith(text8),
              "8-bit text changed on the way")
    check(not spool(a2, "alice"), "a bounce for the 8BITMIME server")
    fake8.close()


@case("mail loop: 60 Received: fields are refused by SMTP, and bounced "
      "(5.4.6) instead of relayed when they come by the maildrop")
def _():
    a, b = pair()
    mark = marker()
    hops = "".join("Received: from hop%d.example by hop%d.example; "
                   "Thu, 1 Jan 2015 00:00:%02d +0000\n" % (i, i + 1, i % 60)
                   for i in range(60))
    text = (hops.encode() + message(mark))
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], text,
           want=r"554 5\.4\.6 .*")
    check(not queue_ids(a), "refused loop queued: %r" % queue_ids(a))
    # sendmail with the daemon down writes to the maildrop, which does
    # not look at Received:; the relay must
    a.stop()
    code, out, err = sendmail_run(a, ["-f", "alice@a.test", "user@b.test"],
                                  text)
    check(code == 0, "yubin-sendmail (maildrop): exit %d %r" % (code, err))
    a.start()
    d, _ = one_bounce(a, "alice")
    if check(len(d["rcpts"]) == 1, "%d recipient blocks" % len(d["rcpts"])):
        check_rcpt_block(d["rcpts"][0], "user@b.test", r"5\.4\.6")
    check(re.search(r"loop|Received", d["human"] + str(d["rcpts"]), re.I),
          "the bounce does not say it is a loop: %r" % d["human"])
    check(not spool(b, "user"), "the looping message was relayed to B")
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))


@case("EHLO refused -> HELO; dot-stuffing on the wire; no ESMTP "
      "parameters to a HELO server")
def _():
    fake = FakeSMTP(ehlo=None)
    a = sandbox_a(fake.port)
    text = message(marker(), body=BODY1)
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], text)
    if not wait_until(lambda: fake.delivered(), WAIT):
        fail("nothing sent to a server that only knows HELO; lines %r; "
             "log:\n%s" % ([s["lines"] for s in fake.sessions],
                           a.stderr_text()[-1500:]))
    s = fake.delivered()[0]
    check(s["helo"] == "HELO a.test", "greeting command %r, want HELO a.test"
          % s["helo"])
    check(s["mail"] == "MAIL FROM:<alice@a.test>", "MAIL %r (no ESMTP "
          "parameters after HELO)" % s["mail"])
    check(wait_until(lambda: s["session"]["quit"], 5), "no QUIT at the end")
    raw = s["raw"]
    check(raw.count(b"\n") == raw.count(b"\r\n") and
          raw.count(b"\r") == raw.count(b"\r\n"),
          "bare CR or LF on the wire")
    for ln in raw.split(b"\r\n")[:-2]:
        if ln.startswith(b"."):
            check(ln.startswith(b".."), "unstuffed dot line %r" % ln)
    got = s["data"].replace(b"\r\n", b"\n")
    _, received, rest = strip_trace(got)
    check(rest == text, "text changed on the way: %r" % rest[:300])


@case("SIZE: MAIL says SIZE= when offered; a server whose limit is "
      "smaller gets no text, and the sender a 5.3.4 bounce")
def _():
    fake = FakeSMTP(ehlo=["PIPELINING", "8BITMIME", "SIZE 2000"])
    a = sandbox_a(fake.port)
    small = message(marker())
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], small)
    if check(wait_until(lambda: fake.delivered(), WAIT),
             "a small message was not sent"):
        m = re.search(r"\sSIZE=([0-9]+)", fake.delivered()[0]["mail"], re.I)
        if check(m, "no SIZE= on MAIL to a server that offers SIZE: %r" %
                 fake.delivered()[0]["mail"]):
            check(int(m.group(1)) >= len(small),
                  "SIZE=%s is less than the message (%d octets)" %
                  (m.group(1), len(small)))
    mark = marker()
    big = message(mark, body=("x" * 70 + "\n") * 60)
    submit(a.port("smtp"), "alice@a.test", ["user@b.test"], big)
    d, _ = one_bounce(a, "alice")
    if check(len(d["rcpts"]) == 1, "%d recipient blocks" % len(d["rcpts"])):
        check_rcpt_block(d["rcpts"][0], "user@b.test", r"5\.3\.4")
    check(len(fake.delivered()) == 1, "the big message was sent: %d "
          "messages" % len(fake.delivered()))
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    fake.close()


@case("after the dot: 554 -> bounce; 451 -> deferred, sent on the next "
      "run; connection lost before the reply -> deferred, sent once")
def _():
    replies = {}

    def data(txn):
        subj = re.search(rb"Subject: (\S+)", txn["data"]).group(1).decode()
        n = replies.get(subj, 0)
        replies[subj] = n + 1
        if subj.endswith("-perm"):
            return "554 5.7.1 Message refused by content filter"
        if subj.endswith("-temp") and n == 0:
            return "451 4.3.0 Queue full, try later"
        if subj.endswith("-drop") and n == 0:
            return None         # hang up instead of answering
        return "250 2.0.0 Ok: queued by fake"
    fake = FakeSMTP(data=data)
    a = sandbox_a(fake.port)
    base = marker()
    for kind in ("perm", "temp", "drop"):
        submit(a.port("smtp"), "alice@a.test", ["user@b.test"],
               message("%s-%s" % (base, kind)))
    d, _ = one_bounce(a, "alice")
    if check(len(d["rcpts"]) == 1, "%d recipient blocks" % len(d["rcpts"])):
        check_rcpt_block(d["rcpts"][0], "user@b.test", r"5\.7\.1")
        check("554 5.7.1 Message refused" in
              d["rcpts"][0].get("diagnostic-code", ""),
              "Diagnostic-Code %r" % d["rcpts"][0].get("diagnostic-code"))
    check_original(d, "%s-perm" % base)
    check(wait_until(lambda: len(relay_log(a, "user@b.test", "deferred"))
                     >= 2, WAIT), "not two deferred lines: %r" %
          [m.group(0) for m in relay_log(a)])
    check(len(queue_ids(a)) == 2, "A's queue %r, want the two deferred" %
          queue_ids(a))
    a.signal(signal.SIGUSR1)
    check(queue_empty(a), "A's queue still holds %r after SIGUSR1" %
          queue_ids(a))
    for kind in ("temp", "drop"):
        check(replies.get("%s-%s" % (base, kind)) == 2,
              "%s: sent %s times, want 2 (the failed try, then once)" %
              (kind, replies.get("%s-%s" % (base, kind))))
    check(replies.get("%s-perm" % base) == 1, "perm: sent %s times" %
          replies.get("%s-perm" % base))
    time.sleep(0.5)
    check(len(mbox_split(spool(a, "alice"))) == 1, "more than one bounce")
    fake.close()


class FakeDNS:
    """A UDP DNS server on 127.0.0.1 in a thread: records the questions
    (id, name, type) and answers each with what answer(query bytes)
    returns, a list of datagrams (none: it never answers)."""

    def __init__(self, answer=None):
        import threading
        self.answer = answer or (lambda q: [])
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.closed:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            name, i = [], 12
            while i < len(q) and q[i] != 0:
                name.append(q[i + 1:i + 1 + q[i]].decode("latin-1"))
                i += 1 + q[i]
            qtype = int.from_bytes(q[i + 1:i + 3], "big") if i + 3 <= len(q) \
                else None
            self.queries.append((q[:2], ".".join(name), qtype))
            for d in self.answer(q):
                try:
                    self.sock.sendto(d, peer)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.sock.close()


def garbage_answers(q):
    """Broken answers to the query q, each with q's id: a header that
    promises records that are not there, a name that points at itself,
    a record longer than the packet, an MX whose exchange points past
    the end."""
    qid = q[:2]
    i = 12
    while i < len(q) and q[i] != 0:
        i += 1 + q[i]
    question = q[12:i + 5]
    hdr = lambda an: qid + b"\x81\x80\x00\x01" + an.to_bytes(2, "big") + \
        b"\x00\x00\x00\x00"
    loop_at = 12 + len(question)
    return [
        qid + b"\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00",
        hdr(1) + question + bytes([0xC0 | (loop_at >> 8), loop_at & 0xFF]) +
        b"\x00\x0f\x00\x01\x00\x00\x00\x3c\x00\x04\x00\x0a\xc0\x0c",
        hdr(1) + question + b"\xc0\x0c\x00\x0f\x00\x01\x00\x00\x00\x3c"
        b"\xff\xff\x00\x0a",
        hdr(1) + question + b"\xc0\x0c\x00\x0f\x00\x01\x00\x00\x00\x3c"
        b"\x00\x04\x00\x0a\xff\xf0",
    ]


@case("DNS in the loop: SMTP is served while an MX lookup waits for a "
      "server that never answers; then deferred; garbage answers do "
      "not hurt")
def _():
    dns = FakeDNS()
    rc = os.path.join(temp_dir("resolv"), "resolv.conf")
    with open(rc, "w") as f:
        f.write("options timeout:3 attempts:1\n")
    a = Sandbox(conf="hostname a.test\nlocal_domains a.test\n"
                "dns_servers 127.0.0.1:%d\nresolv_conf %s\n" % (dns.port, rc),
                users=USERS_A)
    submit(a.port("smtp"), "alice@a.test", ["user@slow.example"],
           message(marker(), to="user@slow.example"))
    if not wait_until(lambda: dns.queries, WAIT):
        fail("no DNS question for slow.example; log:\n%s" %
             a.stderr_text()[-1500:])
    check(any(n == "slow.example" and t == 15 for _, n, t in dns.queries),
          "questions %r: no MX for slow.example" % dns.queries)
    t0 = time.monotonic()
    c, _ = open_smtp(a.port("smtp"))
    smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
    c.quit("smtp")
    dt = time.monotonic() - t0
    pending = not relay_log(a, "user@slow.example")
    check(pending, "the lookup was over before the check (no overlap)")
    check(dt < 2.0, "an SMTP session took %.2f s while a DNS lookup was "
          "waiting: the loop blocks" % dt)
    d = wait_log(a, "user@slow.example", "deferred", timeout=WAIT)
    if check(d, "no deferred line after the DNS timeout; log:\n%s" %
             a.stderr_text()[-1500:]):
        check(re.match(r"4\.4\.[0-9]", d[0].group("reply") or ""),
              "deferred reply %r, want 4.4.x" % d[0].group("reply"))
    check(len(queue_ids(a)) == 1, "queue %r" % queue_ids(a))
    # now broken answers
    n0 = len(dns.queries)
    dns.answer = garbage_answers
    a.signal(signal.SIGUSR1)
    check(wait_until(lambda: len(relay_log(a, "user@slow.example")) >= 2,
                     WAIT), "no second try; log:\n%s" %
          a.stderr_text()[-1500:])
    check(len(dns.queries) > n0, "no new DNS question")
    check(a.alive(), "yubind died on malformed DNS answers (exit %s)" %
          a.proc.poll())
    if a.alive():
        c, _ = open_smtp(a.port("smtp"))
        smtp_cmd(c, "NOOP", r"250 2\.0\.0 .*")
        c.quit("smtp")
    check(len(queue_ids(a)) == 1 and not spool(a, "alice"),
          "after garbage DNS answers: queue %r, alice's spool %d bytes "
          "(want: still queued, no bounce)" % (queue_ids(a),
                                                 len(spool(a, "alice"))))
    dns.close()


@case("relayhost sends mail for any other domain to the smarthost")
def _():
    fake = FakeSMTP()
    a = Sandbox(conf="hostname a.test\nlocal_domains a.test\n"
                "relayhost 127.0.0.1:%d\n" % fake.port, users=USERS_A)
    text = message(marker(), to="someone@elsewhere.example")
    submit(a.port("smtp"), "alice@a.test",
           ["someone@elsewhere.example", "other@third.example"], text)
    if not wait_until(lambda: sum(len(s["rcpts"]) for s in
                                  fake.delivered()) >= 2, WAIT):
        fail("smarthost got %r; log:\n%s" % (
            fake.mail_lines(), a.stderr_text()[-1500:]))
    got = sorted(r for s in fake.delivered() for r, _ in s["rcpts"])
    check(got == ["other@third.example", "someone@elsewhere.example"],
          "recipients at the smarthost: %r" % got)
    check(wait_log(a, "someone@elsewhere.example", "sent"), "no sent line")
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    fake.close()


@case("a bounce to a remote sender is relayed to the sender's host")
def _():
    a, b = pair()
    mark = marker()
    submit(a.port("smtp"), "carol@b.test", ["nosuch@b.test"],
           message(mark, to="nosuch@b.test"))
    msgs = wait_msgs(b, "carol", 1)
    if not msgs:
        fail("no bounce reached carol@b.test; A's log:\n%s" %
             a.stderr_text()[-2000:])
    from_line, text = msgs[0]
    check(from_line.startswith(b"From MAILER-DAEMON "),
          "envelope sender of the relayed bounce: %r" % from_line)
    rp, received, rest = strip_trace(text)
    d = dsn_parse(rest)
    if check(len(d["rcpts"]) == 1, "%d recipient blocks" % len(d["rcpts"])):
        check_rcpt_block(d["rcpts"][0], "nosuch@b.test", r"5\.1\.1")
    check_original(d, mark)
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))


@case("relay_max_per_host 2: never more than 2 connections to one host "
      "(one that is saying QUIT counts); all 6 messages get there")
def _():
    # a slow greeting makes the requests queue up for the slots; a slow
    # goodbye shows whether a slot is given back before its connection
    # is closed
    fake = FakeSMTP(delay=0.6, quit_delay=0.3)
    a = sandbox_a(fake.port, "relay_max_per_host 2\nrelay_max 10\n")
    for i in range(6):
        submit(a.port("smtp"), "alice@a.test", ["user@b.test"],
               message(marker()))
    a.signal(signal.SIGUSR1)        # in case the first tries wait a run
    ok = wait_until(lambda: len(fake.delivered()) >= 6, 3 * WAIT)
    check(ok, "%d of 6 messages sent; log:\n%s" % (
        len(fake.delivered()), a.stderr_text()[-1500:]))
    check(fake.max_active <= 2, "%d connections at once to one host, "
          "relay_max_per_host is 2" % fake.max_active)
    check(queue_empty(a), "A's queue still holds %r" % queue_ids(a))
    fake.close()


if __name__ == "__main__":
    main(timeout=240)

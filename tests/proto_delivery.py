#!/usr/bin/env python3
"""proto_delivery.py - what SMTP delivery writes into the mbox, byte for
byte (From_ line, Return-Path, Received, quoting, stripped metadata
headers, dot-unstuffing, 8-bit, CRLF), appends to odd files, concurrent
deliveries to one mailbox, dotlock/lockf waiting, lock timeout -> queue
-> queue runner (SIGUSR1 and start), full disk (tmpfs ENOSPC), clients
that vanish mid-DATA and stale dotlocks."""

import atexit
import calendar
import email.utils
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

USERS = {"demo": "demo", "bob": "bob", "u1": "x", "u2": "x", "u3": "x",
         "u4": "x", "u5": "x", "many": "x"}
RE_DELIVERED = r"250 2\.0\.0 Ok: delivered as ([0-9A-Za-z]+)"
RE_QUEUED = r"250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)"
RFC5322_DATE = (r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} "
                r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                r"[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}")
IN_CI = os.environ.get("CI") == "true"

SB = []


def sb():
    if not SB or not SB[0].alive():
        SB[:] = [Sandbox(users=USERS)]
    return SB[0]


def mbox_path(user, s=None):
    return (s or sb()).path("mail", user)


def mbox(user, s=None):
    return read_bytes(mbox_path(user, s)) or b""


def queue_files(s):
    """Regular files anywhere under the queue directory (sub-directories
    such as the sendmail maildrop are not entries themselves)."""
    top = s.path("queue")
    out = []
    for d, dirs, files in os.walk(top):
        for n in files:
            out.append(os.path.relpath(os.path.join(d, n), top))
    return sorted(out)


def queue_text(s):
    out = b""
    for n in queue_files(s):
        p = s.path("queue", n)
        if os.path.isfile(p):
            out += read_bytes(p) or b""
    return out


def marker():
    marker.n += 1
    return "mark-%d-%d-%d" % (os.getpid(), marker.n, int(time.time() * 1e6))


marker.n = 0


def simple(mark, size=0):
    body = "body %s\n" % mark
    if size:
        body += ("%s\n" % ("f" * 75)) * (size // 76)
    return ("From: a@client.example\nSubject: %s\n\n%s" % (mark, body))


def check_from_line(line, sender):
    """line: the From_ line without its LF."""
    m = re.fullmatch(FROM_LINE_RE, line)
    if not check(m, "From_ line %r is not `From SENDER asctime`" % line):
        return
    check(m.group(1) == sender.encode(), "From_ sender %r, want %r" %
          (m.group(1), sender))
    t = line.decode().split(" ", 2)[2]
    try:
        when = time.mktime(time.strptime(t, "%a %b %d %H:%M:%S %Y"))
        check(abs(when - time.time()) < 120, "From_ date %r is not now" % t)
    except ValueError as e:
        check(False, "From_ date %r: %s" % (t, e))
    # asctime pads the day with a space, not a zero
    check(not re.search(br" 0[0-9] ", line), "From_ date has a "
          "zero-padded day: %r" % line)


def send_one(port, sender, rcpts, wire, helo="client.example", want=None):
    """A transaction with a prepared DATA payload (bytes on the wire);
    returns the reply line after the dot."""
    c = smtp_open(port, helo)
    smtp_cmd(c, "MAIL FROM:<%s>" % sender, r"250 2\.1\.0 .*")
    for r in rcpts:
        smtp_cmd(c, "RCPT TO:<%s>" % r, r"250 2\.1\.5 .*")
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(wire)
    r = smtp_cmd(c, None, want)[-1]
    c.quit("smtp")
    return r


# ------------------------------------------------------------ format

HDR_IN = (
    b"From: Sender <a@client.example>\r\n"
    b"To: demo@localhost\r\n"
    b"Subject: exact\r\n"
    b"Status: RO\r\n"
    b"X-Status: AF\r\n"
    b"X-Keywords: $Junk\r\n"
    b" continued-keyword\r\n"
    b"\tand-another\r\n"
    b"X-UID: 5\r\n"
    b"X-IMAP: 1234 5\r\n"
    b"X-IMAPbase: 1234 6 $Junk\r\n"
    b"X-UIDL: 8a7b6c\r\n"
    b"Content-Length: 999\r\n"
    b"\tcontinuation of content-length\r\n"
    b"x-uid: 6\r\n"
    b"STATUS: O\r\n"
    b"X-Keep-Me: yes\r\n"
    b" folded keep line\r\n"
    b"X-UID-Extra: not a metadata header\r\n"
    b"Statusbar: not a metadata header either\r\n"
    b"Date: Thu, 1 Jan 2015 00:00:00 +0000\r\n"
    b"\r\n")
HDR_OUT = (
    b"From: Sender <a@client.example>\n"
    b"To: demo@localhost\n"
    b"Subject: exact\n"
    b"X-Keep-Me: yes\n"
    b" folded keep line\n"
    b"X-UID-Extra: not a metadata header\n"
    b"Statusbar: not a metadata header either\n"
    b"Date: Thu, 1 Jan 2015 00:00:00 +0000\n"
    b"\n")
LINE998 = b"L" * 990 + b"-998-end"
assert len(LINE998) == 998
# (as sent on the wire after dot-stuffing, as stored)
BODY = [
    (b"first body line", b"first body line"),
    (b"Status: RO", b"Status: RO"),
    (b"X-UID: 77", b"X-UID: 77"),
    (b"Content-Length: 5", b"Content-Length: 5"),
    (b"X-IMAPbase: 1 2", b"X-IMAPbase: 1 2"),
    (b"..leading dot", b".leading dot"),
    (b"...two dots", b"..two dots"),
    (b"..", b"."),
    (b"From the body, quoted", b">From the body, quoted"),
    (b"From ", b">From "),
    (b"From:not quoted", b"From:not quoted"),
    (b"from lower case not quoted", b"from lower case not quoted"),
    (b" From indented not quoted", b" From indented not quoted"),
    (b"8bit: \xe9\xe8\xff\x80\xc3\xa9 \x1b$B\x1b(B", b"8bit: \xe9\xe8\xff"
     b"\x80\xc3\xa9 \x1b$B\x1b(B"),
    (b"trailing spaces   ", b"trailing spaces   "),
    (b"tab\tinside", b"tab\tinside"),
    (b"", b""),
    (b"", b""),
    (LINE998, LINE998),
    (b"", b""),
    (b"last line", b"last line"),
]


@case("mbox: From_ line, Return-Path, Received, body byte-exact")
def _():
    s = sb()
    wire = HDR_IN + b"".join(w + b"\r\n" for w, _ in BODY) + b".\r\n"
    text = HDR_OUT + b"".join(o + b"\n" for _, o in BODY)
    c = smtp_open(s.port("smtp"), "client.example")
    smtp_cmd(c, "MAIL FROM:<a@client.example> BODY=8BITMIME",
             r"250 2\.1\.0 .*")
    smtp_cmd(c, "RCPT TO:<demo@localhost>", r"250 2\.1\.5 .*")
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(wire)
    r = smtp_cmd(c, None, RE_DELIVERED)[-1]
    c.quit("smtp")
    qid = re.fullmatch(RE_DELIVERED, r).group(1)
    data = mbox("demo")
    check(b"\r" not in data, "a CR was stored (CRLF not turned into LF)")
    nl = data.index(b"\n")
    check_from_line(data[:nl], "a@client.example")
    rest = data[nl + 1:]
    m = re.match(br"Return-Path: <a@client\.example>\n"
                 br"Received: from client\.example \(\[127\.0\.0\.1\]\)\n"
                 br"\tby " + re.escape(HOSTNAME.encode()) +
                 br" \(yubin\) with ESMTP id " + re.escape(qid.encode()) +
                 br"\n\tfor <demo@localhost>; (" + RFC5322_DATE.encode() +
                 br")\n", rest)
    if not check(m, "trace headers wrong: %r" % rest[:300]):
        return
    when = email.utils.parsedate_tz(m.group(1).decode())
    check(when and abs(email.utils.mktime_tz(when) - time.time()) < 120,
          "Received date %r is not now" % m.group(1))
    got = rest[m.end():]
    want = text + b"\n"
    if got != want:
        gl, wl = got.split(b"\n"), want.split(b"\n")
        for i, (g, w) in enumerate(zip(gl, wl)):
            if g != w:
                fail("stored message differs at line %d: got %r, want %r" %
                     (i + 1, g[:200], w[:200]))
        fail("stored message has %d lines, want %d (tail got %r want %r)" %
             (len(gl), len(wl), got[-80:], want[-80:]))
    check(data.endswith(b"last line\n\n"), "mbox does not end with the "
          "message's last line and one blank line: %r" % data[-30:])


@case("mbox: null sender -> From MAILER-DAEMON, Return-Path: <>; "
      "HELO name and several messages")
def _():
    s = sb()
    before = mbox("bob")
    m1, m2 = marker(), marker()
    send_one(s.port("smtp"), "", ["bob@localhost"],
             smtp_data(simple(m1)), helo="bounce.example",
             want=RE_DELIVERED)
    send_one(s.port("smtp"), "x@client.example", ["bob@%s" % HOSTNAME],
             smtp_data(simple(m2)), want=RE_DELIVERED)
    data = mbox("bob")
    check(data.startswith(before), "old contents changed")
    msgs = mbox_split(data[len(before):])
    if not check(len(msgs) == 2, "%d new messages, want 2" % len(msgs)):
        return
    check_from_line(msgs[0][0], "MAILER-DAEMON")
    check(msgs[0][1].startswith(b"Return-Path: <>\nReceived: from "
                                b"bounce.example ([127.0.0.1])\n"),
          "first message starts %r" % msgs[0][1][:100])
    check(msgs[1][1].startswith(b"Return-Path: <x@client.example>\n"),
          "second message starts %r" % msgs[1][1][:100])
    check(b"\tfor <bob@%s>; " % HOSTNAME.encode() in msgs[1][1],
          "Received: for clause of the second message")
    for i, (fl, t) in enumerate(msgs):
        mk = (m1, m2)[i].encode()
        check(t.endswith(b"body " + mk + b"\n\n"), "message %d does not "
              "end with its body and one blank line: %r" % (i, t[-60:]))


@case("mbox: a message without a body, and one with only a blank line")
def _():
    s = sb()
    before = mbox("u5")
    send_one(s.port("smtp"), "a@client.example", ["u5@localhost"],
             b"Subject: no body\r\n.\r\n", want=RE_DELIVERED)
    send_one(s.port("smtp"), "a@client.example", ["u5@localhost"],
             b"Subject: empty body\r\n\r\n.\r\n", want=RE_DELIVERED)
    data = mbox("u5")[len(before):]
    msgs = mbox_split(data)
    if not check(len(msgs) == 2, "%d messages, want 2: %r" %
                 (len(msgs), data[-400:])):
        return
    for fl, t in msgs:
        check(t.endswith(b"\n\n"), "message not followed by a blank line: "
              "%r" % t[-60:])
    check(re.search(br"\nSubject: no body\n\n", msgs[0][1]),
          "header-only message stored as %r" % msgs[0][1][-80:])


@case("append to files ending without newline, with one, with two, empty")
def _():
    s = sb()
    old = b"From old@example Thu Jan  1 00:00:00 2015\nSubject: old\n\nold"
    cases = {"u1": (old, b"\n\n"), "u2": (old + b"\n", b"\n"),
             "u3": (old + b"\n\n", b""), "u4": (b"", b"")}
    for u, (pre, add) in cases.items():
        p = mbox_path(u, s)
        with open(p, "wb") as f:
            f.write(pre)
        os.chmod(p, 0o600)
    for u, (pre, add) in cases.items():
        mark = marker()
        send_one(s.port("smtp"), "a@client.example", ["%s@localhost" % u],
                 smtp_data(simple(mark)), want=RE_DELIVERED)
        data = mbox(u)
        if not check(data.startswith(pre + add + b"From a@client.example "),
                     "%s: file of %r: new message not appended after %r: "
                     "%r" % (u, pre[-8:], add, data[len(pre) - 8:
                                                    len(pre) + 30])):
            continue
        msgs = mbox_split(data)
        check(len(msgs) == (2 if pre else 1), "%s: %d messages" %
              (u, len(msgs)))
        check(data.endswith(b"body %s\n\n" % mark.encode()),
              "%s: tail %r" % (u, data[-40:]))


@case("20 clients x 5 messages to one mailbox at once -> 100 intact")
def _():
    s = sb()
    nclients, nmsg, nlines = 20, 5, 60
    errors = []

    def text(i, j):
        mk = "cc-%02d-%d" % (i, j)
        return mk, ("From: c%d@client.example\nSubject: %s\n\n" % (i, mk) +
                    "".join("%s line %03d %s\n" % (mk, k, "p" * 50)
                            for k in range(nlines)))

    def client(i):
        try:
            c = smtp_open(s.port("smtp"), "c%d.example" % i, timeout=60)
            for j in range(nmsg):
                smtp_cmd(c, "MAIL FROM:<c%d@client.example>" % i,
                         r"250 2\.1\.0 .*")
                smtp_cmd(c, "RCPT TO:<many@localhost>", r"250 2\.1\.5 .*")
                smtp_cmd(c, "DATA", r"354 .*")
                c.send_raw(smtp_data(text(i, j)[1]))
                smtp_cmd(c, None, RE_DELIVERED)
            c.quit("smtp")
        except Exception as e:     # noqa
            errors.append("client %d: %s" % (i, e))
    ts = [threading.Thread(target=client, args=(i,), daemon=True)
          for i in range(nclients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    check(not any(t.is_alive() for t in ts), "clients still running")
    for e in errors:
        check(False, e)
    data = mbox("many")
    msgs = mbox_split(data)
    check(len(msgs) == nclients * nmsg, "%d messages in the mailbox, want "
          "%d" % (len(msgs), nclients * nmsg))
    seen = {}
    for fl, t in msgs:
        m = re.search(br"\nSubject: (cc-[0-9]+-[0-9]+)\n", t)
        if not check(m, "message without a known Subject: %r" % t[:300]):
            continue
        mk = m.group(1).decode()
        seen[mk] = seen.get(mk, 0) + 1
        i, j = int(mk.split("-")[1]), int(mk.split("-")[2])
        want = text(i, j)[1].encode()
        check(t.endswith(want + b"\n"), "message %s is not intact" % mk)
        check(data.count(mk.encode() + b" line 000 ") == 1,
              "%s first line found %d times" % (mk, data.count(
                  mk.encode() + b" line 000 ")))
    missing = [text(i, j)[0] for i in range(nclients) for j in range(nmsg)
               if seen.get(text(i, j)[0]) != 1]
    check(not missing, "messages missing or doubled: %r" % missing[:10])
    check(not os.path.exists(mbox_path("many") + ".lock"),
          "dotlock left behind")


# ------------------------------------------------------------ locks

def start_data(s, user, mark, size=0):
    """Open a session up to the end of the text, without reading the
    reply to the final dot; returns the client."""
    c = smtp_open(s.port("smtp"))
    smtp_cmd(c, "MAIL FROM:<a@client.example>", r"250 2\.1\.0 .*")
    smtp_cmd(c, "RCPT TO:<%s@localhost>" % user, r"250 2\.1\.5 .*")
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(simple(mark, size)))
    return c


def make_lock(path):
    with open(path, "w") as f:
        f.write("0")


@case("a dotlock held by another process delays delivery until removed")
def _():
    s = sb()
    lock = mbox_path("demo") + ".lock"
    before = mbox("demo")
    make_lock(lock)
    try:
        mark = marker()
        c = start_data(s, "demo", mark)
        check(quiet_for(c, 1.2), "reply came while the dotlock was held: %r"
              % c.buf)
        check(mark.encode() not in mbox("demo"), "message written while "
              "the dotlock was held")
        # the loop is not blocked by the waiting delivery
        t0 = time.monotonic()
        c2 = smtp_open(s.port("smtp"))
        smtp_cmd(c2, "NOOP", r"250 2\.0\.0 .*")
        c2.quit("smtp")
        check(time.monotonic() - t0 < 0.9, "another session took %.2f s "
              "while a delivery waited for the lock" %
              (time.monotonic() - t0))
    finally:
        os.unlink(lock)
    t0 = time.monotonic()
    smtp_cmd(c, None, RE_DELIVERED)
    note("250 came %.1f s after the dotlock was removed" %
         (time.monotonic() - t0))
    c.quit("smtp")
    data = mbox("demo")
    check(data.startswith(before), "old contents changed")
    check(data.count(b"body " + mark.encode() + b"\n") == 1,
          "message not in the mailbox once")
    check(not os.path.exists(lock), "dotlock left behind after delivery")
    check(not queue_files(s), "queue not empty: %r" % queue_files(s))


@case("a lockf lock held by another process delays delivery")
def _():
    s = sb()
    p = mbox_path("bob")
    if not os.path.exists(p):
        send_one(s.port("smtp"), "a@client.example", ["bob@localhost"],
                 smtp_data(simple(marker())), want=RE_DELIVERED)
    before = mbox("bob")
    f = open(p, "r+b")
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        mark = marker()
        c = start_data(s, "bob", mark)
        check(quiet_for(c, 1.2), "reply came while the lockf lock was "
              "held: %r" % c.buf)
        check(mbox("bob") == before, "mailbox written while locked")
        fcntl.lockf(f, fcntl.LOCK_UN)
    finally:
        f.close()
    smtp_cmd(c, None, RE_DELIVERED)
    c.quit("smtp")
    data = mbox("bob")
    check(data.startswith(before), "old contents changed")
    check(data.count(b"body " + mark.encode() + b"\n") == 1,
          "message not in the mailbox once")
    check(not os.path.exists(p + ".lock"), "dotlock left behind")


@case("dotlock held past lock_timeout -> 250 queued; SIGUSR1 and restart "
      "deliver from the queue")
def _():
    s = Sandbox(users=USERS, conf="lock_timeout 2\n")
    p = mbox_path("demo", s)
    old = b"From old@example Thu Jan  1 00:00:00 2015\nSubject: old\n\nold\n\n"
    with open(p, "wb") as f:
        f.write(old)
    os.chmod(p, 0o600)
    lock = p + ".lock"
    make_lock(lock)
    mark = marker()
    c = start_data(s, "demo", mark)
    t0 = time.monotonic()
    r = smtp_cmd(c, None, RE_QUEUED)[-1]
    dt = time.monotonic() - t0
    check(1.5 < dt < 12, "queued reply after %.1f s with lock_timeout 2" % dt)
    c.quit("smtp")
    check(mbox("demo", s) == old, "mailbox touched while locked")
    qf = queue_files(s)
    check(any(n.endswith(".msg") for n in qf) and
          any(n.endswith(".env") for n in qf), "queue has %r" % qf)
    check(mark.encode() in queue_text(s), "message text not in the queue")
    # still locked: SIGUSR1 must not lose or double it
    s.signal(signal.SIGUSR1)
    time.sleep(1.0)
    check(mbox("demo", s) == old, "mailbox touched while still locked")
    os.unlink(lock)
    s.signal(signal.SIGUSR1)
    ok = wait_until(lambda: mark.encode() in mbox("demo", s) and
                    not queue_files(s), 15, 0.1)
    check(ok, "after SIGUSR1: message in mailbox %s, queue %r" %
          (mark.encode() in mbox("demo", s), queue_files(s)))
    data = mbox("demo", s)
    check(data.startswith(old), "old contents changed")
    msgs = mbox_split(data)
    check(len(msgs) == 2, "%d messages, want 2" % len(msgs))
    if len(msgs) == 2:
        check_from_line(msgs[1][0], "a@client.example")
        check(msgs[1][1].startswith(b"Return-Path: <a@client.example>\n"
                                    b"Received: from client.example "),
              "queued copy delivered as %r" % msgs[1][1][:120])
        check(msgs[1][1].count(b"Received:") == 1,
              "queued copy got %d Received: lines" %
              msgs[1][1].count(b"Received:"))
        check(msgs[1][1].endswith(b"body %s\n\n" % mark.encode()),
              "queued copy tail %r" % msgs[1][1][-60:])

    # the queue runner also runs at start
    before = mbox("demo", s)
    make_lock(lock)
    mark2 = marker()
    c = start_data(s, "demo", mark2)
    smtp_cmd(c, None, RE_QUEUED)
    c.quit("smtp")
    rc = s.stop()
    check(rc == 0, "exit code %r after SIGTERM" % rc)
    check(mark2.encode() in queue_text(s), "queued message gone at stop")
    os.unlink(lock)
    s.start()
    ok = wait_until(lambda: mark2.encode() in mbox("demo", s) and
                    not queue_files(s), 15, 0.1)
    check(ok, "after restart: message in mailbox %s, queue %r" %
          (mark2.encode() in mbox("demo", s), queue_files(s)))
    check(mbox("demo", s).startswith(before), "old contents changed")
    # the mark is in the Subject: too: count the body line
    body2 = b"body " + mark2.encode() + b"\n"
    check(mbox("demo", s).count(body2) == 1,
          "restart delivered %d copies" % mbox("demo", s).count(body2))
    s.stop()


@case("lock timeout for one of two users: the other gets one copy now, "
      "the queue retries only the locked one")
def _():
    s = Sandbox(users=USERS, conf="lock_timeout 2\n")
    lock = mbox_path("demo", s) + ".lock"
    make_lock(lock)
    mark = marker()
    c = smtp_open(s.port("smtp"))
    smtp_cmd(c, "MAIL FROM:<a@client.example>", r"250 2\.1\.0 .*")
    smtp_cmd(c, "RCPT TO:<demo@localhost>", r"250 2\.1\.5 .*")
    smtp_cmd(c, "RCPT TO:<bob@localhost>", r"250 2\.1\.5 .*")
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(simple(mark)))
    smtp_cmd(c, None, r"250 2\.0\.0 Ok: (queued|delivered) as [0-9A-Za-z]+")
    c.quit("smtp")
    mk = b"body " + mark.encode() + b"\n"
    check(mbox("bob", s).count(mk) == 1, "bob has %d copies, want 1" %
          mbox("bob", s).count(mk))
    check(mbox("demo", s).count(mk) == 0, "demo's locked mailbox written")
    envs = [n for n in queue_files(s) if n.endswith(".env")]
    check(len(envs) == 1, "queue: %r" % queue_files(s))
    env = b"".join(read_bytes(s.path("queue", n)) or b"" for n in envs)
    check(b"demo" in env, "queue envelope does not name demo: %r" % env)
    os.unlink(lock)
    s.signal(signal.SIGUSR1)
    ok = wait_until(lambda: mk in mbox("demo", s) and not queue_files(s),
                    15, 0.1)
    check(ok, "after SIGUSR1: demo has it %s, queue %r" %
          (mk in mbox("demo", s), queue_files(s)))
    check(mbox("demo", s).count(mk) <= 1, "demo got %d copies" %
          mbox("demo", s).count(mk))
    check(mbox("bob", s).count(mk) == 1, "bob has %d copies after the "
          "queue run, want 1" % mbox("bob", s).count(mk))
    s.stop()


@case("a stale dotlock (older than lock_stale) is removed, delivery goes on")
def _():
    s = Sandbox(users=USERS, conf="lock_stale 1\n")
    lock = mbox_path("demo", s) + ".lock"
    make_lock(lock)
    time.sleep(2.2)
    mark = marker()
    c = start_data(s, "demo", mark)
    t0 = time.monotonic()
    smtp_cmd(c, None, RE_DELIVERED)
    note("stale lock: 250 after %.1f s" % (time.monotonic() - t0))
    c.quit("smtp")
    check(mbox("demo", s).count(b"body " + mark.encode() + b"\n") == 1,
          "message not delivered")
    check(not os.path.exists(lock), "stale dotlock still there")
    check(not queue_files(s), "queue not empty: %r" % queue_files(s))
    s.stop()


# ------------------------------------------------------------ failures

@case("a client that disconnects mid-DATA leaves nothing behind")
def _():
    s = sb()
    for reset in (False, True):
        for tail in (b"", b"Subject: x\r\n\r\npartial body\r\n",
                     b"Subject: x\r\n\r\nhalf a li", b"Subject: x\r\n\r\n."):
            before = mbox("u1")
            c = smtp_open(s.port("smtp"))
            smtp_cmd(c, "MAIL FROM:<a@client.example>", r"250 2\.1\.0 .*")
            smtp_cmd(c, "RCPT TO:<u1@localhost>", r"250 2\.1\.5 .*")
            smtp_cmd(c, "RCPT TO:<remote@remote.invalid>", r"250 2\.1\.5 .*")
            smtp_cmd(c, "DATA", r"354 .*")
            if tail:
                c.send_raw(tail)
            time.sleep(0.1)
            c.close(reset=reset)
            time.sleep(0.4)
            check(mbox("u1") == before, "mailbox changed after %s with %r" %
                  ("RST" if reset else "FIN", tail))
            check(not queue_files(s), "queue not empty after %s with %r: %r"
                  % ("RST" if reset else "FIN", tail, queue_files(s)))
    check(s.alive(), "daemon died")
    mark = marker()
    send_one(s.port("smtp"), "a@client.example", ["u1@localhost"],
             smtp_data(simple(mark)), want=RE_DELIVERED)
    check(mark.encode() in mbox("u1"), "delivery after the aborts failed")


_mounts = []


def _umount_all():
    for m in _mounts:
        subprocess.call(["umount", m], stderr=subprocess.DEVNULL)
        if os.path.ismount(m):
            subprocess.call(["umount", "-l", m], stderr=subprocess.DEVNULL)
        shutil.rmtree(m, ignore_errors=True)
    del _mounts[:]


atexit.register(_umount_all)


def mount_tmpfs(size):
    """A fresh tmpfs of size bytes, or None (with the reason noted)."""
    if os.geteuid() != 0:
        return None, "not root"
    if not shutil.which("mount"):
        return None, "no mount(8)"
    d = tempfile.mkdtemp(prefix="yubintest-tmpfs-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" %
                        size, "yubintest-tmpfs", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    if p.returncode != 0 or not os.path.ismount(d):
        os.rmdir(d)
        return None, "mount -t tmpfs failed: %s" % p.stdout.decode().strip()
    _mounts.append(d)
    return d, None


@case("full disk (tmpfs spool): append cut back, copy queued, mbox intact")
def _():
    size = 64 * 1024
    mnt, why = mount_tmpfs(size)
    if mnt is None:
        if IN_CI:
            fail("CI=true but the tmpfs ENOSPC case cannot run: %s" % why)
        note("SKIP this case: %s" % why)
        return
    try:
        s = Sandbox(users=USERS, conf="spool_dir %s\n" % mnt, start=False)
        p = os.path.join(mnt, "demo")
        old = b"From old@example Thu Jan  1 00:00:00 2015\nSubject: old\n\n" + \
            b"".join(b"old %05d %s\n" % (i, b"o" * 60) for i in range(600)) + \
            b"\n"
        with open(p, "wb") as f:
            f.write(old)
        os.chmod(p, 0o600)
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        note("tmpfs: %d bytes free after a %d-byte mailbox" %
             (free, len(old)))
        s.start()
        mark = marker()
        c = start_data(s, "demo", mark, size=free + 16384)
        smtp_cmd(c, None, RE_QUEUED)
        c.quit("smtp")
        check(read_bytes(p) == old, "mailbox not byte-identical after "
              "ENOSPC (%d bytes, was %d)" % (len(read_bytes(p) or b""),
                                             len(old)))
        check(os.stat(p).st_size == len(old), "size %d, was %d" %
              (os.stat(p).st_size, len(old)))
        check(mark.encode() in queue_text(s), "message not in the queue")
        check(not os.path.exists(p + ".lock"), "dotlock left behind")
        # a small message still fits and is appended after the old ones
        mark2 = marker()
        send_one(s.port("smtp"), "a@client.example", ["demo@localhost"],
                 smtp_data(simple(mark2)), want=RE_DELIVERED)
        data = read_bytes(p)
        check(data.startswith(old) and len(mbox_split(data)) == 2,
              "small message after ENOSPC: %d messages" %
              len(mbox_split(data)))
        check(s.alive(), "daemon died")
        s.stop()
    finally:
        _umount_all()


@case("daemon still alive and exits 0 on SIGTERM")
def _():
    s = sb()
    check(s.alive(), "yubind died during the tests (exit %s)" %
          s.proc.returncode)
    rc = s.stop()
    check(rc == 0, "exit code after SIGTERM %r, want 0" % rc)


main(timeout=300)

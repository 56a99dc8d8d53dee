#!/usr/bin/env python3
"""interop_smtp.py - real SMTP clients against yubind: Python's smtplib
(send_message, sendmail to several recipients, refused recipients) and
swaks; then the mailbox written by yubind is read back with bsd-mailx
and s-nail (shared/LAB.md section 6).  Missing swaks/mailx/s-nail skip
their part, except under CI=true where they must be there."""

import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

IN_CI = os.environ.get("CI") == "true"
USERS = {"demo": "demo", "bob": "bob", "carol": "carol"}
LIMIT = 3000000
SUBJECTS = []           # subjects delivered to demo, in order
SHARED = SharedSetup(USERS, conf="message_size_limit %d\n" % LIMIT)
sb, mbox = SHARED.sb, SHARED.spool


def subject():
    subject.n += 1
    s = "ia%d-%d" % (os.getpid() % 10000, subject.n)
    return s


subject.n = 0


def smtp():
    return smtplib.SMTP("127.0.0.1", sb().port("smtp"),
                        local_hostname="client.example", timeout=10)


def tool(name):
    """Path of a client program; None (noted) when absent, a failure
    under CI=true."""
    p = shutil.which(name)
    if p is None:
        if IN_CI:
            fail("CI=true but %s is not installed (apt-get install %s)" %
                 (name, name))
        note("SKIP this part: %s not installed" % name)
    return p


def run(argv, input=b"", timeout=30, env=None):
    e = dict(os.environ)
    home = tempfile.mkdtemp(prefix="yubintest-home-")
    e.update({"HOME": home, "MAILRC": "/dev/null", "LC_ALL": "C",
              "TERM": "dumb", "COLUMNS": "200"})
    e.update(env or {})
    try:
        p = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=e)
    except subprocess.TimeoutExpired:
        fail("%s did not finish within %d s" % (argv[0], timeout))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------------------ smtplib

@case("smtplib: EHLO features")
def _():
    with smtp() as s:
        code, msg = s.ehlo()
        check(code == 250, "EHLO %d %r" % (code, msg))
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes"):
            check(s.has_extn(ext), "no %s in %r" % (ext, s.esmtp_features))
        check(s.esmtp_features.get("size", "").isdigit(),
              "SIZE value %r" % s.esmtp_features.get("size"))
        code, msg = s.noop()
        check(code == 250, "NOOP %d %r" % (code, msg))


@case("smtplib: send_message to one user")
def _():
    subj = subject()
    m = EmailMessage()
    m["From"] = "Tester <tester@client.example>"
    m["To"] = "demo@localhost"
    m["Subject"] = subj
    m.set_content("hello from smtplib %s\n.\nFrom here\n" % subj)
    with smtp() as s:
        refused = s.send_message(m)
    check(refused == {}, "refused %r" % refused)
    SUBJECTS.append(subj)
    data = mbox("demo")
    check(("Subject: %s\n" % subj).encode() in data, "subject not stored")
    check(("hello from smtplib %s\n.\n>From here\n" % subj).encode() in
          data, "body not stored as expected")


@case("smtplib: sendmail to several recipients, 8-bit body")
def _():
    subj = subject()
    body = ("Subject: %s\r\nFrom: tester@client.example\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "gr\xfc\xdfe %s\r\n" % (subj, subj)).encode("latin-1")
    with smtp() as s:
        refused = s.sendmail("tester@client.example",
                             ["demo@localhost", "bob@localhost",
                              "carol@%s" % HOSTNAME, "demo@%s" % HOSTNAME],
                             body, mail_options=["BODY=8BITMIME"])
    check(refused == {}, "refused %r" % refused)
    SUBJECTS.append(subj)
    for u in ("demo", "bob", "carol"):
        n = mbox(u).count(("Subject: %s\n" % subj).encode())
        check(n == 1, "%s got %d copies" % (u, n))
        check(("gr\xfc\xdfe %s\n" % subj).encode("latin-1") in mbox(u),
              "%s: 8-bit body not kept" % u)


@case("smtplib: a refused recipient")
def _():
    with smtp() as s:
        try:
            s.sendmail("tester@client.example", ["nosuchuser@localhost"],
                       b"Subject: refused\r\n\r\nx\r\n")
            check(False, "no SMTPRecipientsRefused for nosuchuser")
        except smtplib.SMTPRecipientsRefused as e:
            r = e.recipients.get("nosuchuser@localhost")
            check(r is not None and r[0] == 550 and
                  r[1].startswith(b"5.1.1"), "refusal %r" % e.recipients)
    subj = subject()
    with smtp() as s:
        refused = s.sendmail("tester@client.example",
                             ["nosuchuser@localhost", "bob@localhost"],
                             ("Subject: %s\r\n\r\nx\r\n" % subj).encode())
    check(list(refused) == ["nosuchuser@localhost"] and
          refused["nosuchuser@localhost"][0] == 550,
          "partial refusal %r" % refused)
    check(mbox("bob").count(("Subject: %s\n" % subj).encode()) == 1,
          "bob did not get the message")
    # a message over the limit: smtplib announces its SIZE= itself
    with smtp() as s:
        s.ehlo()
        check(s.esmtp_features.get("size") == str(LIMIT),
              "SIZE %r, want %d" % (s.esmtp_features.get("size"), LIMIT))
        try:
            s.sendmail("tester@client.example", ["demo@localhost"],
                       b"Subject: big\r\n\r\n" + b"x" * LIMIT + b"\r\n")
            check(False, "no SMTPSenderRefused for a message over the limit")
        except smtplib.SMTPSenderRefused as e:
            check(e.smtp_code == 552 and e.smtp_error.startswith(b"5.3.4"),
                  "SIZE refusal %r" % (e.args,))


@case("smtplib: a 2 MB message arrives intact")
def _():
    subj = subject()
    lines = ["%06d %s" % (i, "q" * 70) for i in range(2 * 1024 * 1024 // 78)]
    body = "Subject: %s\r\n\r\n" % subj + "\r\n".join(lines) + "\r\n"
    with smtp() as s:
        s.sendmail("tester@client.example", ["demo@localhost"],
                   body.encode())
    SUBJECTS.append(subj)
    data = mbox("demo")
    want = ("Subject: %s\n\n" % subj + "\n".join(lines) + "\n\n").encode()
    check(want in data, "large message not stored intact")


# ------------------------------------------------------------ swaks

@case("swaks: plain, pipelined, refused")
def _():
    sw = tool("swaks")
    if sw is None:
        return
    port = str(sb().port("smtp"))
    subj = subject()
    rc, out, err = run([sw, "--server", "127.0.0.1", "--port", port,
                        "--helo", "client.example",
                        "--from", "swaks@client.example",
                        "--to", "demo@localhost",
                        "--header", "Subject: %s" % subj,
                        "--body", "swaks body %s" % subj,
                        "--timeout", "10"])
    check(rc == 0, "swaks exit %d: %s %s" % (rc, out[-800:], err[-400:]))
    check(re.search(br"<-\s+250 2\.0\.0 Ok: delivered as", out),
          "no 250 delivered in swaks output: %r" % out[-600:])
    SUBJECTS.append(subj)
    check(("Subject: %s\n" % subj).encode() in mbox("demo"),
          "swaks message not in demo's mailbox")
    subj = subject()
    rc, out, err = run([sw, "--server", "127.0.0.1", "--port", port,
                        "--helo", "client.example", "--pipeline",
                        "--from", "swaks@client.example",
                        "--to", "demo@localhost,bob@localhost",
                        "--header", "Subject: %s" % subj,
                        "--body", "swaks pipelined %s" % subj,
                        "--timeout", "10"])
    check(rc == 0, "swaks --pipeline exit %d: %s %s" %
          (rc, out[-800:], err[-400:]))
    SUBJECTS.append(subj)
    for u in ("demo", "bob"):
        check(mbox(u).count(("Subject: %s\n" % subj).encode()) == 1,
              "pipelined swaks message not once in %s" % u)
    rc, out, err = run([sw, "--server", "127.0.0.1", "--port", port,
                        "--helo", "client.example",
                        "--from", "swaks@client.example",
                        "--to", "nosuchuser@localhost", "--timeout", "10"])
    check(rc != 0, "swaks to an unknown user exited 0")
    check(re.search(br"<\*\*\s+550 5\.1\.1", out), "no 550 5.1.1 in swaks "
          "output: %r" % out[-600:])


# ------------------------------------------------------------ readers

def mbox_copy():
    d = tempfile.mkdtemp(prefix="yubintest-mbox-")
    p = os.path.join(d, "demo.mbox")
    try:
        shutil.copyfile(sb().path("mail", "demo"), p)
    except OSError as e:
        shutil.rmtree(d, ignore_errors=True)
        fail("cannot copy demo's mailbox: %s" % e)
    return d, p


@case("bsd-mailx reads the mailbox yubind wrote")
def _():
    mx = tool("bsd-mailx")
    if mx is None:
        return
    if not SUBJECTS:
        fail("no messages were delivered to demo by the earlier cases")
    d, p = mbox_copy()
    try:
        orig = read_bytes(p)
        rc, out, err = run([mx, "-N", "-f", p], input=b"h 1\nx\n")
        check(rc == 0, "bsd-mailx exit %d: %r" % (rc, err[-400:]))
        text = out.decode("latin-1")
        nmsg = len(mbox_split(orig))
        check(re.search(r'": %d messages?( |$)' % nmsg, text, re.M),
              "bsd-mailx does not count %d messages: %r" %
              (nmsg, text[:300]))
        # header lines look like "  N  3 tester@client.ex  Sat ... ia1-2"
        heads = [ln for ln in text.splitlines()
                 if re.match(r"^[ >]?[ A-Z*]{0,3}\s*[0-9]+ ", ln)]
        check(len(heads) >= min(nmsg, 18), "bsd-mailx listed %d headers for"
              " %d messages: %r" % (len(heads), nmsg, text[:1500]))
        for subj in SUBJECTS:
            if nmsg <= 18:
                check(subj in text, "subject %s not in the bsd-mailx header "
                      "list: %r" % (subj, text[:1500]))
        check(read_bytes(p) == orig, "bsd-mailx changed the copy (x should "
              "not write)")
        # print the last message: its body comes out
        rc, out, err = run([mx, "-N", "-f", p], input=b"p $\nx\n")
        check(b"Subject: %s" % SUBJECTS[-1].encode() in out or
              SUBJECTS[-1].encode() in out,
              "bsd-mailx p $ did not show the last message: %r" %
              out[:600])
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case("s-nail reads the mailbox yubind wrote")
def _():
    sn = tool("s-nail")
    if sn is None:
        return
    if not SUBJECTS:
        fail("no messages were delivered to demo by the earlier cases")
    d, p = mbox_copy()
    try:
        orig = read_bytes(p)
        nmsg = len(mbox_split(orig))
        rc, out, err = run([sn, "-n", "-R", "-S", "screen=1000",
                            "-S", "headline=%>%a%m %-18f %s", "-H",
                            "-f", p])
        check(rc == 0, "s-nail exit %d: %r" % (rc, err[-400:]))
        text = out.decode("latin-1")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        check(len(lines) == nmsg, "s-nail -H listed %d messages, the file "
              "has %d: %r" % (len(lines), nmsg, text[:1500]))
        for subj in SUBJECTS:
            check(subj in text, "subject %s not in the s-nail header list: "
                  "%r" % (subj, text[:1500]))
        check(read_bytes(p) == orig, "s-nail -R changed the file")
        rc, out, err = run([sn, "-#", "-n", "-R", "-Y", "type 1",
                            "-Y", "xit", "-f", p])
        check(rc == 0 and b"hello from smtplib" in out,
              "s-nail type 1: rc %d %r" % (rc, out[:600]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case("daemon still alive and exits 0 on SIGTERM")
def _():
    s = sb()
    check(s.alive(), "yubind died during the tests (exit %s)" %
          s.proc.returncode)
    rc = s.stop()
    check(rc == 0, "exit code after SIGTERM %r, want 0" % rc)


main(timeout=180)

#!/usr/bin/env python3
"""interop_sendmail.py - the sendmail(1) interface driven by programs
nobody here wrote: bsd-mailx, s-nail and mutt send through
yubin-sendmail (each passes its own argv: -i -t -f / -i -f -- rcpt /
-- rcpt, shared LAB.md section 6), cron-style `sendmail -t -oi`, and
the mailbox is then read back with `mailx -f`.  Also: the maildrop
when the daemon is down, mailq (-bp), newaliases (-bi), and exit codes.
Missing clients skip their part, except under CI=true."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

IN_CI = os.environ.get("CI") == "true"
USERS = {"demo": "demo", "bob": "bob"}
STATE = {}


def tool(name):
    p = shutil.which(name)
    if p is None:
        if IN_CI:
            fail("CI=true but %s is not installed" % name)
        note("%s not installed: its part is skipped" % name)
    return p


def setup():
    """A sandbox, a yubin-sendmail link to the binary under test, and a
    wrapper that adds -S DIR (what a mail program is configured with)."""
    s = Sandbox(users=USERS)
    d = s.path("bin")
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "yubin-sendmail")
    if not os.path.exists(link):
        os.symlink(yubind_path(), link)
    wrapper = os.path.join(d, "sendmail-wrapper")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec "%s" -S "%s" "$@"\n' % (link, s.dir))
    os.chmod(wrapper, 0o755)
    return s, link, wrapper


def mbox(s, user):
    return read_bytes(s.path("mail", user)) or b""


def run(argv, text, env=None, timeout=20):
    p = subprocess.run(argv, input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def arrived(s, user, needle, timeout=10):
    return wait_until(lambda: needle.encode() in mbox(s, user), timeout, 0.05)


@case("bsd-mailx sends through yubin-sendmail (-i -t -f); mailx -f reads it")
def _():
    mailx = tool("bsd-mailx")
    if mailx is None:
        return
    s, link, wrapper = setup()
    rc = os.path.join(s.dir, "mailrc")
    with open(rc, "w") as f:
        f.write("set sendmail=%s\n" % wrapper)
    env = dict(os.environ, MAILRC=rc, HOME=s.dir)
    code, out, err = run([mailx, "-s", "from bsd-mailx", "-r",
                          "tester@client.example", "demo@localhost"],
                         "hello from mailx\nFrom the body\n", env=env)
    check(code == 0, "bsd-mailx exit %d: %s" % (code, err))
    check(arrived(s, "demo", "hello from mailx"), "message not delivered")
    box = mbox(s, "demo")
    check(b"\n>From the body\n" in box, "From_ quoting missing")
    check(b"Return-Path: <tester@client.example>" in box,
          "envelope sender from -r not kept")
    # read it back: x leaves the mailbox untouched
    code, out, err = run([mailx, "-N", "-f", s.path("mail", "demo")],
                         "h\nx\n", env=env)
    check("from bsd-mailx" in out, "mailx -f header list: %r" % out)
    code, out, err = run([mailx, "-N", "-f", s.path("mail", "demo")],
                         "p 1\nx\n", env=env)
    check("hello from mailx" in out, "mailx -f print: %r" % out)
    s.stop()


@case("s-nail sends through yubin-sendmail (-i -f -- rcpt); s-nail -R reads")
def _():
    snail = tool("s-nail")
    if snail is None:
        return
    s, link, wrapper = setup()
    env = dict(os.environ, HOME=s.dir, MAILRC="/dev/null")
    code, out, err = run([snail, "-n", "-S", "v15-compat", "-S",
                          "mta=" + wrapper, "-s", "from s-nail", "-r",
                          "tester@client.example", "bob@localhost"],
                         "hello from s-nail\n", env=env)
    check(code == 0, "s-nail exit %d: %s" % (code, err))
    check(arrived(s, "bob", "hello from s-nail"), "message not delivered")
    before = mbox(s, "bob")
    code, out, err = run([snail, "-n", "-R", "-H", "-f",
                          s.path("mail", "bob")], "", env=env)
    check("from s-nail" in out, "s-nail -H: %r %r" % (out, err))
    check(mbox(s, "bob") == before, "s-nail -R changed the mailbox")
    s.stop()


@case("mutt sends through yubin-sendmail (-- rcpt)")
def _():
    mutt = tool("mutt")
    if mutt is None:
        return
    s, link, wrapper = setup()
    env = dict(os.environ, HOME=s.dir, TERM="dumb")
    code, out, err = run([mutt, "-n", "-F", "/dev/null",
                          "-e", 'set sendmail="%s"' % wrapper,
                          "-e", "set from=tester@client.example",
                          "-e", "set use_from=yes",
                          "-s", "from mutt", "demo@localhost"],
                         "hello from mutt\n", env=env)
    check(code == 0, "mutt exit %d: %s" % (code, err))
    check(arrived(s, "demo", "hello from mutt"), "message not delivered")
    s.stop()


@case("cron style: sendmail -t -oi; Bcc removed; headers added")
def _():
    s, link, wrapper = setup()
    code, out, err = run([wrapper, "-t", "-oi"],
                         "To: demo@localhost\nBcc: bob@localhost\n"
                         "Subject: cron output\n\n.\nline after a dot\n")
    check(code == 0, "exit %d: %s" % (code, err))
    check(arrived(s, "demo", "line after a dot"), "demo: not delivered")
    check(arrived(s, "bob", "line after a dot"), "bob (Bcc): not delivered")
    for user in ("demo", "bob"):
        box = mbox(s, user)
        check(b"Bcc:" not in box, "%s: Bcc header kept" % user)
        for h in (b"\nFrom: ", b"\nDate: ", b"\nMessage-ID: <"):
            check(h in box, "%s: %r not added" % (user, h))
        check(b"\n.\nline after a dot\n" in box, "-oi: lone dot lost")
    s.stop()


@case("without -i a lone dot ends the message; unknown user -> exit 67")
def _():
    s, link, wrapper = setup()
    code, out, err = run([wrapper, "demo"],
                         "Subject: dot\n\nbefore\n.\nnot sent\n")
    check(code == 0, "exit %d: %s" % (code, err))
    check(arrived(s, "demo", "before"), "not delivered")
    check(b"not sent" not in mbox(s, "demo"), "text after the dot sent")
    code, out, err = run([wrapper, "nosuchuser@localhost"], "x\n")
    check(code == 67, "unknown user: exit %d, want 67 (EX_NOUSER)" % code)
    check("nosuchuser" in err, "no message on stderr: %r" % err)
    code, out, err = run([wrapper, "-f", "<bad", "demo"], "x\n")
    check(code == 64, "bad sender: exit %d, want 64" % code)
    code, out, err = run([wrapper], "x\n")
    check(code == 64, "no recipients: exit %d, want 64" % code)
    s.stop()


@case("daemon down: the message waits in the maildrop, delivered at start")
def _():
    s, link, wrapper = setup()
    s.stop()
    code, out, err = run([wrapper, "-t"],
                         "To: demo@localhost\nSubject: while down\n\n"
                         "kept safe\n")
    check(code == 0, "exit %d: %s" % (code, err))
    drop = s.path("queue", "maildrop")
    files = [f for f in os.listdir(drop)] if os.path.isdir(drop) else []
    check(len(files) == 1, "maildrop holds %r" % files)
    check(b"kept safe" not in mbox(s, "demo"), "delivered with no daemon?")
    s.start()
    check(arrived(s, "demo", "kept safe"), "not delivered after start")
    check(wait_until(lambda: not os.listdir(drop), 5), "maildrop not emptied")
    check(mbox(s, "demo").count(b"kept safe") == 1, "delivered twice")
    s.stop()


@case("mailq lists a queued message; -bi checks the aliases file")
def _():
    s, link, wrapper = setup()
    # a remote recipient waits in the queue (no relay transport yet)
    code, out, err = run([wrapper, "someone@remote.example"],
                         "Subject: q\n\nx\n")
    check(code == 0, "exit %d: %s" % (code, err))
    code, out, err = run([wrapper, "-bp"], "")
    check(code == 0 and "someone@remote.example" in out,
          "mailq: %d %r %r" % (code, out, err))
    with open(s.path("etc", "aliases"), "w") as f:
        f.write("team: demo, bob\n")
    code, out, err = run([wrapper, "-bi"], "")
    check(code == 0, "newaliases on a good file: %d %r" % (code, err))
    with open(s.path("etc", "aliases"), "w") as f:
        f.write("team demo\n")
    code, out, err = run([wrapper, "-bi"], "")
    check(code == 78 and "aliases:1:" in err,
          "newaliases on a bad file: %d %r" % (code, err))
    s.stop()


@case("-bs carries an SMTP session to the daemon")
def _():
    s, link, wrapper = setup()
    code, out, err = run([wrapper, "-bs"],
                         "EHLO local\r\nMAIL FROM:<x@client.example>\r\n"
                         "RCPT TO:<demo@localhost>\r\nDATA\r\n"
                         "Subject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n")
    check(code == 0, "exit %d: %s" % (code, err))
    check(out.startswith("220 ") and "250 2.0.0 Ok" in out and
          "221 " in out, "dialogue: %r" % out)
    check(arrived(s, "demo", "via -bs"), "not delivered")
    s.stop()


if __name__ == "__main__":
    main(timeout=180)

#!/usr/bin/env python3
"""interop_pop3.py - real POP3 clients against yubind (shared LAB.md
sections 4 and 6): Python's poplib (USER/PASS, APOP, STAT, LIST, UIDL,
RETR, TOP, DELE, QUIT), fetchmail (APOP, keep + uidl: a second run
fetches only new mail), mutt (pop:// through a pty with script(1),
copying every message to a local mbox), and openbsd-inetd (or xinetd)
starting `yubind -S DIR -i pop3` for a login and RETR.

A missing client skips its case with a note; under CI=true a missing
client is a failure."""

import os
import poplib
import pwd
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

USERS = {"demo": "demopw", "bob": "bobpw"}


def texts(tag, n=3):
    out = []
    for i in range(1, n + 1):
        out.append(("From: sender%d@example.org\nTo: demo@localhost\n"
                    "Subject: %s message %d\nMessage-ID: <%s-%d@example.org>"
                    "\n\nbody %s-%d\n.\n..two dots\n>From quoted\nend\n" %
                    (i, tag, i, tag, i, tag, i)).encode())
    return out


# ------------------------------------------------------------ poplib

@case("poplib: user/pass_, stat, list, uidl, top, retr, dele, quit, apop")
def _():
    s = Sandbox(users=USERS)
    t = texts("poplib")
    mbox_install(s, "demo", mbox_build(t))
    p = poplib.POP3("127.0.0.1", s.port("pop3"), timeout=10)
    check(p.getwelcome().startswith(b"+OK yubin POP3 server ready <"),
          "welcome %r" % p.getwelcome())
    capa = p.capa()
    check("UIDL" in capa and "TOP" in capa and "SASL" in capa,
          "capa() %r" % capa)
    p.user("demo")
    p.pass_("demopw")
    n, size = p.stat()
    forms = [pop3_form(x) for x in t]
    check(n == 3 and size == sum(len(f) for f in forms), "stat() %r" %
          ((n, size),))
    resp, lst, octets = p.list()
    check([x.split() for x in lst] ==
          [[b"%d" % i, b"%d" % len(f)] for i, f in enumerate(forms, 1)],
          "list() %r" % lst)
    resp, uidls, octets = p.uidl()
    ids = [x.split()[1] for x in uidls]
    check(len(set(ids)) == 3, "uidl() %r" % uidls)
    for i, f in enumerate(forms, 1):
        resp, lines, octets = p.retr(i)
        got = b"".join(ln + b"\r\n" for ln in lines)
        check(got == f, "retr(%d) %r, want %r" % (i, got, f))
        check(octets == len(f), "retr(%d) octets %d, want %d" %
              (i, octets, len(f)))
    resp, lines, octets = p.top(2, 1)
    check(lines[-1] == b"body poplib-2" and b"" in lines, "top(2, 1) %r" %
          lines)
    p.dele(1)
    r = p.quit()
    check(r.startswith(b"+OK"), "quit() %r" % r)
    p = poplib.POP3("127.0.0.1", s.port("pop3"), timeout=10)
    p.apop("demo", "demopw")
    resp, uidls, octets = p.uidl()
    check([x.split()[1] for x in uidls] == ids[1:], "after dele(1): uidl() "
          "%r, want %r" % (uidls, ids[1:]))
    try:
        p.user("bob")
        check(False, "USER after login accepted")
    except poplib.error_proto:
        pass
    p.quit()
    p = poplib.POP3("127.0.0.1", s.port("pop3"), timeout=10)
    p.user("demo")
    try:
        p.pass_("wrong")
        check(False, "wrong password accepted")
    except poplib.error_proto as e:
        check(b"[AUTH]" in e.args[0], "failure %r" % e.args[0])
    p.close()
    s.stop()


# ------------------------------------------------------------ fetchmail

MDA = """#!/bin/sh
# fetchmail MDA for the test: append the message to an mbox
{ echo "From fetchmail@localhost Thu Jan  1 00:00:00 2015"; cat; echo; } \\
    >> "%s"
"""


@case("fetchmail: APOP, keep + uidl, a second run fetches only new mail")
def _():
    fm = need_tool("fetchmail")
    if not fm:
        return
    s = Sandbox(users=USERS)
    t = texts("fetch")
    mbox_install(s, "demo", mbox_build(t))
    d = temp_dir("pop3i")
    out = os.path.join(d, "fetched.mbox")
    mda = os.path.join(d, "mda.sh")
    with open(mda, "w") as f:
        f.write(MDA % out)
    os.chmod(mda, 0o755)
    rc = os.path.join(d, "fetchmailrc")
    fd = os.open(rc, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('set no bouncemail\n'
                'poll 127.0.0.1 service %d protocol APOP timeout 15 uidl\n'
                '  user "demo" password "demopw" is "%s" here\n'
                '  sslproto \'\' keep mda "%s"\n' %
                (s.port("pop3"), pwd.getpwuid(os.getuid()).pw_name, mda))
    os.chmod(rc, 0o600)
    env = dict(os.environ, FETCHMAILHOME=d, HOME=d)
    argv = [fm, "-f", rc, "--pidfile", os.path.join(d, "fetchmail.pid"),
            "-i", os.path.join(d, "fetchids"), "-v"]

    def fetched():
        return mbox_split(read_bytes(out) or b"")

    def marks():
        got = []
        for fl, body in fetched():
            m = re.search(br"\nbody (\S+)\n", body)
            got.append(m.group(1).decode() if m else None)
        return got

    code, so, se = run_tool(argv, env=env)
    check(code == 0, "first run: exit %d\n%s\n%s" % (code, so[-2000:],
                                                     se[-2000:]))
    check(marks() == ["fetch-1", "fetch-2", "fetch-3"], "first run "
          "fetched %r" % marks())
    check("APOP" in so + se or "apop" in (so + se).lower(),
          "fetchmail -v output does not show APOP")
    for fl, body in fetched():
        # fetchmail adds its own Received: line; the rest is the message
        i = int(re.search(br"body fetch-([0-9])", body).group(1))
        want = pop3_form(t[i - 1]).replace(b"\r\n", b"\n")
        check(body.endswith(want + b"\n"), "fetched message %d: %r, want "
              "it to end with %r" % (i, body[-300:], want))
    code, so, se = run_tool(argv, env=env)
    check(code == 1, "second run (no new mail): exit %d, want 1\n%s\n%s" %
          (code, so[-1500:], se[-1500:]))
    check(len(fetched()) == 3, "second run fetched again: %r" % marks())
    smtp_send(s.port("smtp"), "a@client.example", ["demo@localhost"],
              "Subject: new one\n\nbody fetch-4\n")
    code, so, se = run_tool(argv, env=env)
    check(code == 0, "third run: exit %d\n%s\n%s" % (code, so[-1500:],
                                                     se[-1500:]))
    check(marks() == ["fetch-1", "fetch-2", "fetch-3", "fetch-4"],
          "third run: fetched %r" % marks())
    # keep: the server still has all four
    c, r = pop3_login(s.port("pop3"), "demo", "demopw")
    check(r.startswith("+OK demo has 4 messages"), "after fetchmail: %r" %
          r)
    pop3_quit(c)
    s.stop()


# ------------------------------------------------------------ mutt

@case("mutt: pop:// read through a pty, all messages copied to an mbox")
def _():
    mutt = shutil.which("neomutt") or need_tool("mutt")
    script = need_tool("script") if mutt else None
    if not (mutt and script):
        return
    s = Sandbox(users=USERS)
    t = texts("mutt", 4)
    mbox_install(s, "demo", mbox_build(t))
    d = temp_dir("pop3i")
    out = os.path.join(d, "mutt-copy.mbox")
    # a fresh HOME without ~/Mail makes mutt ask whether to create it,
    # and that prompt eats the pushed keys
    os.mkdir(os.path.join(d, "Mail"), 0o700)
    rc = os.path.join(d, "muttrc")
    with open(rc, "w") as f:
        f.write('set pop_user="demo"\nset pop_pass="demopw"\n'
                'set ssl_force_tls=no\nset ssl_starttls=no\n'
                'set mbox_type=mbox\nset confirmcreate=no\n'
                'set confirmappend=no\nset quit=yes\nset move=no\n'
                'set folder="%s"\nset pop_delete=no\n' %
                os.path.join(d, "Mail"))
    keys = ("<tag-pattern>.<enter><tag-prefix-cond><copy-message>%s<enter>"
            "<quit>" % out)
    cmd = ("%s -n -F %s -f pop://127.0.0.1:%d/ -e 'push \"%s\"'" %
           (mutt, rc, s.port("pop3"), keys))
    env = dict(os.environ, TERM="xterm", HOME=d)
    try:
        code, so, se = run_tool([script, "-qec", cmd, "/dev/null"],
                                timeout=40, env=env)
    except subprocess.TimeoutExpired as e:
        scr = re.sub(br"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()=>][A-Z0-9]?", b" ",
                     e.stdout or b"")
        fail("mutt did not finish within 40 s; its screen: %r" %
             scr[-1500:])
    msgs = mbox_split(read_bytes(out) or b"")
    got = []
    for fl, body in msgs:
        m = re.search(br"\nbody (mutt-[0-9])\n", body)
        got.append(m.group(1).decode() if m else None)
    check(got == ["mutt-%d" % i for i in range(1, 5)], "mutt copied %r "
          "(exit %d; output tail %r)" % (got, code, (so + se)[-600:]))
    for fl, body in msgs:
        m = re.search(br"\nbody mutt-([0-9])\n", body)
        if m:
            i = int(m.group(1))
            check(b"\n.\n..two dots\n" in body and b"Subject: mutt message"
                  b" %d\n" % i in body, "copied message %d: %r" %
                  (i, body[:400]))
    # mutt did not delete anything (pop_delete=no, nothing marked)
    c, r = pop3_login(s.port("pop3"), "demo", "demopw")
    check(r.startswith("+OK demo has 4 messages"), "after mutt: %r" % r)
    pop3_quit(c)
    s.stop()


# ------------------------------------------------------------ inetd

@case("inetd starts yubind -S DIR -i pop3: login, LIST, RETR, DELE, QUIT")
def _():
    kind, inetd = need_inetd()
    if inetd is None:
        return
    s = Sandbox(users=USERS, start=False)
    t = texts("inetd")
    mbox_install(s, "demo", mbox_build(t))
    proc, ports = start_inetd(kind, inetd, s, ["pop3"], temp_dir("pop3i"))
    port = ports["pop3"]
    note("using %s (%s)" % (inetd, kind))
    try:
        time.sleep(0.3)     # the probe session exits
        c, r = pop3_login(port, "demo", "demopw", "apop")
        check(r == "+OK demo has 3 messages (%d octets)" %
              sum(len(pop3_form(x)) for x in t), "login %r" % r)
        check(len(pop3_list_map(c)) == 3, "LIST")
        for i, x in enumerate(t, 1):
            size, data = pop3_retr(c, i)
            check(data == pop3_form(x) and size == len(data),
                  "RETR %d: %r" % (i, data))
        pop3_cmd(c, "DELE 2")
        pop3_quit(c)
        c, r = pop3_login(port, "demo", "demopw")
        check(r.startswith("+OK demo has 2 messages"), "after DELE 2: %r" %
              r)
        _, data = pop3_retr(c, 2)
        check(data == pop3_form(t[2]), "message 2 is now %r" % data)
        pop3_quit(c)
        # the same mailbox over poplib too
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.user("demo")
        p.pass_("demopw")
        check(p.stat()[0] == 2, "poplib stat through inetd")
        p.quit()
    finally:
        stop_process(proc)
    # a session process may still be finishing after its client saw BYE
    wait_until(lambda: not processes_with(s.dir), 10, 0.1)
    left = processes_with(s.dir)
    check(not left, "yubind -i processes left: %r" % left)


main(timeout=300)

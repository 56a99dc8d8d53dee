#!/usr/bin/env python3
"""interop_inetd.py - yubind -i under a real inetd (openbsd-inetd, else
xinetd; see shared LAB.md section 4): POP3 and SMTP services on free
loopback ports, greeting + NOOP + QUIT through the superserver.

No inetd installed: SKIP (exit 77), except under CI=true, where CI
installs one and its absence is a failure."""

import os
import pwd
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

KIND, INETD = find_inetd()    # YUBINTEST_INETD=none tests the skip path
if INETD is None:
    if IN_CI:
        print("FAIL: no inetd (install openbsd-inetd or xinetd); CI=true "
              "requires one")
        sys.exit(1)
    skip("SKIP: no inetd (install openbsd-inetd or xinetd)")

USER = pwd.getpwuid(os.getuid()).pw_name
SERVICES = ("pop3", "smtp")


STATE = {}


@case("inetd starts yubind -i pop3 / -i smtp")
def _():
    note("using %s (%s), user %s" % (INETD, KIND, USER))
    sb = Sandbox(start=False)
    workdir = temp_dir("inetd")
    proc, ports = start_inetd(KIND, INETD, sb, SERVICES, workdir, USER)
    STATE.update(sb=sb, ports=ports, proc=proc, workdir=workdir)


@case("pop3 through inetd: greeting, NOOP, QUIT")
def _():
    if "proc" not in STATE:
        fail("no inetd running")
    for i in range(2):
        c = greet(STATE["ports"]["pop3"], "pop3")
        c.noop("pop3")
        c.quit("pop3")


@case("smtp through inetd: greeting, NOOP, QUIT")
def _():
    if "proc" not in STATE:
        fail("no inetd running")
    c = greet(STATE["ports"]["smtp"], "smtp")
    c.noop("smtp")
    c.send("BOGUS")
    c.expect(r"500 5\.5\.2( .*)?")
    c.quit("smtp")


@case("inetd sessions at the same time are independent")
def _():
    if "proc" not in STATE:
        fail("no inetd running")
    cs = [Client(STATE["ports"]["pop3"]) for i in range(3)]
    stamps = [re.search(r"<[^>]+>", c.expect(PROTO["pop3"].greeting)
                        .group(0)).group(0) for c in cs]
    check(len(set(stamps)) == 3, "APOP timestamps repeat: %r" % stamps)
    for c in reversed(cs):
        c.quit("pop3")


@case("stop inetd")
def _():
    proc = STATE.get("proc")
    if proc is None:
        fail("no inetd running")
    stop_process(proc)
    # the session processes it started are gone (each exits after QUIT)
    wait_until(lambda: not processes_with(STATE["sb"].dir), 10, 0.1)
    left = processes_with(STATE["sb"].dir)
    check(not left, "yubind -i processes left running: %r" % left)


main(timeout=90)

#!/usr/bin/env python3
"""interop_inetd.py - yubind -i under a real inetd (openbsd-inetd, else
xinetd; see shared LAB.md section 4): POP3 and SMTP services on free
loopback ports, greeting + NOOP + QUIT through the superserver.

No inetd installed: SKIP (exit 77), except under CI=true, where CI
installs one and its absence is a failure."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubintest  # noqa: E402
from yubintest import *  # noqa: E402,F401,F403


def find_inetd():
    """(kind, path) of the first usable inetd, or (None, None).
    /usr/sbin/inetd is openbsd-inetd's (inetutils-inetd installs as
    inetutils-inetd); both take -d and a config file argument."""
    if os.access("/usr/sbin/inetd", os.X_OK):
        return "openbsd", "/usr/sbin/inetd"
    p = shutil.which("xinetd") or (os.access("/usr/sbin/xinetd", os.X_OK)
                                   and "/usr/sbin/xinetd")
    if p:
        return "xinetd", p
    return None, None


KIND, INETD = find_inetd()
if os.environ.get("YUBINTEST_INETD") == "none":     # test the skip path
    KIND, INETD = None, None
elif os.environ.get("YUBINTEST_INETD"):
    INETD = os.environ["YUBINTEST_INETD"]
    KIND = "xinetd" if "xinetd" in os.path.basename(INETD) else "openbsd"
if INETD is None:
    if os.environ.get("CI") == "true":
        print("FAIL: no inetd (install openbsd-inetd or xinetd); CI=true "
              "requires one")
        sys.exit(1)
    skip("SKIP: no inetd (install openbsd-inetd or xinetd)")

USER = pwd.getpwuid(os.getuid()).pw_name
SERVICES = ("pop3", "smtp")


def start_inetd(sb, ports, workdir):
    y = yubind_path()
    log = open(os.path.join(workdir, "inetd.log"), "ab")
    if KIND == "openbsd":
        conf = os.path.join(workdir, "inetd.conf")
        with open(conf, "w") as f:
            for proto in SERVICES:
                f.write("127.0.0.1:%d stream tcp nowait %s %s yubind -S %s "
                        "-i %s\n" % (ports[proto], USER, y, sb.dir, proto))
        argv = [INETD, "-d", "-i", conf]
    else:
        conf = os.path.join(workdir, "xinetd.conf")
        with open(conf, "w") as f:
            for proto in SERVICES:
                f.write("service yubin-%s\n{\n"
                        "\ttype = UNLISTED\n\tsocket_type = stream\n"
                        "\tprotocol = tcp\n\tport = %d\n\tbind = 127.0.0.1\n"
                        "\twait = no\n\tuser = %s\n\tserver = %s\n"
                        "\tserver_args = -S %s -i %s\n}\n" %
                        (proto, ports[proto], USER, y, sb.dir, proto))
        argv = [INETD, "-dontfork", "-f", conf, "-pidfile",
                os.path.join(workdir, "xinetd.pid")]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log, close_fds=True)
    yubintest.register_process(p)
    return p


def inetd_log(workdir):
    try:
        with open(os.path.join(workdir, "inetd.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]
    except OSError:
        return ""


def wait_listening(port, proc, timeout=10):
    import socket
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        s = socket.socket()
        s.settimeout(1)
        try:
            # a probe connection makes inetd start yubind once; that
            # session just sees EOF
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    return False


STATE = {}


@case("inetd starts yubind -i pop3 / -i smtp")
def _():
    note("using %s (%s), user %s" % (INETD, KIND, USER))
    sb = Sandbox(start=False)
    workdir = tempfile.mkdtemp(prefix="yubintest-inetd-")
    yubintest._tmpdirs.append(workdir)
    proc = None
    for attempt in range(3):   # a "free" port can be taken meanwhile
        ports = {p: free_port() for p in SERVICES}
        proc = start_inetd(sb, ports, workdir)
        if all(wait_listening(ports[p], proc) for p in SERVICES):
            break
        proc.kill()
        proc.wait(5)
        proc = None
    if proc is None:
        fail("inetd did not listen; its log:\n%s" % inetd_log(workdir))
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
    import re
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
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    # the session processes it started are gone (each exits after QUIT)
    time.sleep(0.2)
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True,
                         text=True).stdout if shutil.which("ps") else ""
    left = [ln for ln in out.splitlines() if STATE["sb"].dir in ln]
    check(not left, "yubind -i processes left running: %r" % left)


main(timeout=90)

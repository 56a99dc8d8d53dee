#!/usr/bin/env python3
"""interop_relay_netns.py - the lab exercise of issue 6 as a test with
real hosts: two network namespaces (host A 10.77.0.1, host B 10.77.0.2
and 10.77.0.3) joined by a veth pair, dnsmasq in A's namespace serving
the MX and address records of a.test, b.test and c.test, a yubind in
each namespace on port 25 taking its DNS from that dnsmasq (A through
dns_servers, B through resolv_conf).  bsd-mailx on A sends to
user@b.test: A asks DNS for b.test's MX, tries the preferred host
(down.b.test, 10.77.0.3: nothing listens, connection refused), then
mail.b.test, and the user fetches the message from B over POP3 with
APOP (poplib, run inside B's namespace).  Also: B answers with
yubin-sendmail -t to alice@a.test; c.test has no MX, so its address
record is used (RFC 5321 5.1); an unknown user and a domain that does
not exist bounce to the sender on A.

Shared LAB.md section 5.  Needs root, `ip netns` and dnsmasq; skipped
with a message where they are missing, except under CI=true, where it
must run.  The namespaces, the veth pair and every process are removed
at the end, also on failure."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

PID = os.getpid()
NS_A = "yubinA%d" % PID
NS_B = "yubinB%d" % PID
VETH_A = "yva%d" % PID          # at most 15 characters
VETH_B = "yvb%d" % PID
IP_A, IP_B, IP_DOWN = "10.77.0.1", "10.77.0.2", "10.77.0.3"
USERS_A = {"alice": "alice-pw"}
USERS_B = {"user": "secret", "carol": "carol-pw"}
WAIT = 20

# the POP3 client, run inside B's namespace (the host has no route to
# 10.77.0.x: LAB.md section 5)
POP3_CLIENT = r'''
import base64, json, poplib, sys
host, port, user, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
p = poplib.POP3(host, port, timeout=10)
out = {"greeting": p.getwelcome().decode("latin-1")}
out["apop"] = p.apop(user, secret).decode("latin-1")
n = len(p.list()[1])
out["msgs"] = [base64.b64encode(b"\n".join(p.retr(i)[1]) + b"\n").decode()
               for i in range(1, n + 1)]
out["quit"] = p.quit().decode("latin-1")
print(json.dumps(out))
'''

# a DNS query (RFC 1035), run inside a namespace: prints rcode and the
# number of answers
DNS_CLIENT = r'''
import random, socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], int(sys.argv[3])
qid = random.randint(0, 65535)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(q, (server, 53))
d = s.recv(4096)
rid, flags, qd, an = struct.unpack(">HHHH", d[:8])
print(flags & 15, an if rid == qid else -1)
'''


class Lab:
    """The two hosts; teardown() is idempotent and safe at any stage."""

    def __init__(self):
        self.dir = None
        self.made_ns = []
        self.dnsmasq = None
        self.a = self.b = None
        self.up = False
        self.tried = False

    def ip(self, *args, ok=True):
        p = subprocess.run(["ip"] + list(args), capture_output=True,
                           text=True, timeout=20)
        if ok and p.returncode != 0:
            fail("ip %s: exit %d: %s" % (" ".join(args), p.returncode,
                                         p.stderr.strip()))
        return p

    def in_ns(self, ns, argv, timeout=30, input=None):
        return run_tool(["ip", "netns", "exec", ns] + list(argv),
                        timeout=timeout, input=input)

    def setup(self):
        self.dir = temp_dir("netns")
        for ns in (NS_A, NS_B):
            self.ip("netns", "add", ns)
            self.made_ns.append(ns)
        self.ip("link", "add", VETH_A, "type", "veth", "peer", "name",
                VETH_B)
        self.ip("link", "set", VETH_A, "netns", NS_A)
        self.ip("link", "set", VETH_B, "netns", NS_B)
        self.ip("-n", NS_A, "addr", "add", IP_A + "/24", "dev", VETH_A)
        self.ip("-n", NS_B, "addr", "add", IP_B + "/24", "dev", VETH_B)
        self.ip("-n", NS_B, "addr", "add", IP_DOWN + "/24", "dev", VETH_B)
        for ns, dev in ((NS_A, VETH_A), (NS_B, VETH_B)):
            self.ip("-n", ns, "link", "set", "lo", "up")
            self.ip("-n", ns, "link", "set", dev, "up")
        self.start_dnsmasq()
        # both yubinds: port 25 on the namespace's address
        self.a = shared_sandbox(
            conf="hostname a.test\nlocal_domains a.test\n"
                 "smtp_listen %s:25\ndns_servers %s\n" % (IP_A, IP_A),
            users=USERS_A, prefix=["ip", "netns", "exec", NS_A])
        bdir_conf = os.path.join(self.dir, "resolv.conf.b")
        with open(bdir_conf, "w") as f:
            f.write("# B's resolver: the dnsmasq on host A\n"
                    "nameserver %s\n" % IP_A)
        self.b = shared_sandbox(
            conf="hostname b.test\nlocal_domains b.test c.test d.test\n"
                 "smtp_listen %s:25\npop3_listen %s:110\n"
                 # the key alone: no dns_servers (the sandbox default
                 # points to a dead port), so resolv_conf is used
                 "dns_servers\nresolv_conf %s\n" % (IP_B, IP_B, bdir_conf),
            users=USERS_B, prefix=["ip", "netns", "exec", NS_B])
        self.up = True

    def start_dnsmasq(self):
        dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        self.dns_log = os.path.join(self.dir, "dnsmasq.log")
        argv = ["ip", "netns", "exec", NS_A, dnsmasq, "--no-daemon",
                "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--user=nobody", "--group=nogroup",
                "--listen-address=" + IP_A, "--bind-interfaces",
                "--pid-file=" + os.path.join(self.dir, "dnsmasq.pid"),
                "--log-queries", "--log-facility=" + self.dns_log,
                "--local=/test/",
                "--mx-host=a.test,mail.a.test,10",
                "--mx-host=b.test,down.b.test,5",
                "--mx-host=b.test,mail.b.test,10",
                "--host-record=mail.a.test," + IP_A,
                "--host-record=mail.b.test," + IP_B,
                "--host-record=down.b.test," + IP_DOWN,
                "--host-record=c.test," + IP_B,
                # d.test's MX is a name behind a chain of two CNAMEs
                "--mx-host=d.test,mx.d.test,10",
                "--cname=mx.d.test,alias.d.test",
                "--cname=alias.d.test,mail.b.test"]
        out = open(os.path.join(self.dir, "dnsmasq.out"), "ab")
        self.dnsmasq = register_process(subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            close_fds=True))
        out.close()
        script = os.path.join(self.dir, "dnsq.py")
        with open(script, "w") as f:
            f.write(DNS_CLIENT)

        def answers():
            if self.dnsmasq.poll() is not None:
                return True
            try:
                code, o, e = self.in_ns(NS_B, [sys.executable, script, IP_A,
                                               "b.test", "15"], timeout=5)
            except subprocess.TimeoutExpired:
                return False
            return code == 0 and o.split()[:1] == ["0"] and \
                int(o.split()[1]) >= 2
        if not wait_until(answers, 15, 0.2) or self.dnsmasq.poll() is not None:
            fail("dnsmasq does not answer MX b.test (exit %s): %s" % (
                self.dnsmasq.poll(),
                (read_bytes(os.path.join(self.dir, "dnsmasq.out")) or
                 b"").decode("latin-1")[-1000:]))

    def dns_queries(self):
        return (read_bytes(self.dns_log) or b"").decode("latin-1")

    def teardown(self):
        for sb in (self.a, self.b):
            if sb is not None:
                try:
                    sb.kill()
                except Exception:
                    pass
        if self.dnsmasq is not None and self.dnsmasq.poll() is None:
            try:
                stop_process(self.dnsmasq)
            except Exception:
                pass
        for ns in list(self.made_ns):
            p = subprocess.run(["ip", "netns", "del", ns],
                               capture_output=True, text=True)
            if p.returncode == 0 or "No such file" in p.stderr:
                self.made_ns.remove(ns)
        # the veth pair goes with its namespaces; if A's was never
        # moved, it is still in the host's
        subprocess.run(["ip", "link", "del", VETH_A], capture_output=True)
        self.up = False


LAB = Lab()


def preflight():
    """Skip (or, under CI=true, fail) where namespaces cannot be made;
    nothing is created before this is settled."""
    why = None
    if os.geteuid() != 0:
        why = "not root: network namespaces need CAP_SYS_ADMIN"
    elif not shutil.which("ip"):
        why = "no ip(8) (iproute2)"
    elif not (shutil.which("dnsmasq") or os.access("/usr/sbin/dnsmasq",
                                                   os.X_OK)):
        why = "no dnsmasq (dnsmasq-base)"
    else:
        probe = "yubinP%d" % PID
        p = subprocess.run(["ip", "netns", "add", probe],
                           capture_output=True, text=True)
        if p.returncode != 0:
            why = "cannot make a network namespace: %s" % p.stderr.strip()
        else:
            subprocess.run(["ip", "netns", "del", probe],
                           capture_output=True)
    if why is None:
        return
    if IN_CI:
        print("FAIL: CI=true, but %s" % why, flush=True)
        sys.exit(1)
    skip("SKIP: %s" % why)


def need_lab():
    """The lab, set up by the first case that needs it (so that a case
    named on the command line runs alone)."""
    if not LAB.tried:
        LAB.tried = True
        LAB.setup()
    if not LAB.up:
        fail("the lab is not up (its setup failed)")
    for sb in (LAB.a, LAB.b):
        if not sb.alive():
            fail("a yubind of the lab is not running")


def mbox_msgs(sb, user):
    return mbox_split(read_bytes(sb.path("mail", user)) or b"")


def wait_msgs(sb, user, n=1, timeout=WAIT):
    got = [[]]

    def ok():
        got[0] = mbox_msgs(sb, user)
        return len(got[0]) >= n
    wait_until(ok, timeout, 0.1)
    return got[0]


def wrapper(sb):
    """SB/bin/sendmail-wrapper: what a mail program is configured with
    (yubin-sendmail -S SB ...)."""
    link = sendmail_link(sb)
    w = sb.path("bin", "sendmail-wrapper")
    with open(w, "w") as f:
        f.write('#!/bin/sh\nexec "%s" -S "%s" "$@"\n' % (link, sb.dir))
    os.chmod(w, 0o755)
    return w


def pop3_fetch(user, secret):
    script = os.path.join(LAB.dir, "pop3.py")
    with open(script, "w") as f:
        f.write(POP3_CLIENT)
    code, out, err = LAB.in_ns(NS_B, [sys.executable, script, IP_B, "110",
                                      user, secret])
    if code != 0:
        fail("POP3 client in %s: exit %d: %s" % (NS_B, code, err[-1500:]))
    import base64
    d = json.loads(out)
    d["msgs"] = [base64.b64decode(m) for m in d["msgs"]]
    return d


def marker():
    marker.n += 1
    return "lab-%d-%d-%d" % (PID, marker.n, int(time.time() * 1e6))


marker.n = 0


@case("lab: two namespaces joined by a veth pair; dnsmasq answers MX "
      "and A records; a yubind on port 25 in each")
def _():
    need_lab()
    check((IP_A, 25) in LAB.a.ports.get("smtp", []),
          "A's SMTP listener: %r" % LAB.a.ports)
    check((IP_B, 25) in LAB.b.ports.get("smtp", []) and
          (IP_B, 110) in LAB.b.ports.get("pop3", []),
          "B's listeners: %r" % LAB.b.ports)


@case("mailx on A to user@b.test: MX lookup, the preferred MX refuses, "
      "mail.b.test takes it; user fetches it from B with POP3 APOP")
def _():
    need_lab()
    a, b = LAB.a, LAB.b
    mark = marker()
    mailx = need_tool("bsd-mailx")
    w = wrapper(a)
    body = "Hello from host A\n%s\n.\nFrom the lab\n" % mark
    if mailx:
        rc = a.path("mailrc")
        with open(rc, "w") as f:
            f.write("set sendmail=%s\n" % w)
        env = dict(os.environ, MAILRC=rc, HOME=a.dir)
        p = subprocess.run(["ip", "netns", "exec", NS_A, mailx, "-s",
                            "lab " + mark, "-r", "alice@a.test",
                            "user@b.test"], input=body.encode(),
                           capture_output=True, timeout=30, env=env)
        if p.returncode != 0:
            fail("mailx exit %d: %r %r" % (p.returncode, p.stdout[-500:],
                                            p.stderr[-500:]))
    else:
        code, out, err = LAB.in_ns(NS_A, [w, "-i", "-f", "alice@a.test",
                                          "user@b.test"],
                                   input=("Subject: lab %s\n\n%s" %
                                          (mark, body)).encode())
        if code != 0:
            fail("yubin-sendmail exit %d: %r" % (code, err))
    msgs = wait_msgs(b, "user", 1)
    if not msgs:
        fail("nothing arrived on B within %d s\nA's log:\n%s\nB's log:\n%s"
             "\nqueries:\n%s" % (WAIT, a.stderr_text()[-2000:],
                                 b.stderr_text()[-1000:],
                                 LAB.dns_queries()[-1500:]))
    q = LAB.dns_queries()
    check(re.search(r"query\[MX\] b\.test from %s" % re.escape(IP_A), q),
          "A did not ask dnsmasq for b.test's MX:\n%s" % q[-1500:])
    check(re.search(r"query\[A\] down\.b\.test from %s" % re.escape(IP_A),
                    q), "A did not look up the preferred MX down.b.test "
          "(preference 5) first:\n%s" % q[-1500:])
    wait_until(lambda: relay_log(a, "user@b.test", "sent"), WAIT, 0.1)
    sent = relay_log(a, "user@b.test", "sent")
    if check(len(sent) == 1, "status=sent lines for user@b.test on A: %r"
             % [m.group(0) for m in relay_log(a)]):
        check(sent[0].group("relay") == "mail.b.test[%s]:25" % IP_B,
              "relay=%r, want mail.b.test[%s]:25" % (sent[0].group("relay"),
                                                     IP_B))
    check(wait_until(lambda: not queue_ids(a), WAIT),
          "A's queue still holds %r" % queue_ids(a))
    # the user reads it on B, over POP3 with APOP
    d = pop3_fetch("user", "secret")
    check(re.search(r"<[^<>@]+@[^<>]+>", d["greeting"]),
          "no APOP timestamp in the greeting %r" % d["greeting"])
    check(d["apop"].startswith("+OK"), "APOP: %r" % d["apop"])
    if check(len(d["msgs"]) == 1, "%d messages over POP3, want 1" %
             len(d["msgs"])):
        m = d["msgs"][0]
        check(b"Subject: lab %s" % mark.encode() in m,
              "POP3 message lacks the Subject: %r" % m[:500])
        # (the mbox quotes the From_-like line; POP3 gives the stored
        # text, as tests/yubintest.py pop3_form() says)
        check(m.endswith(b"\n\nHello from host A\n%s\n.\n>From the lab\n"
                         % mark.encode()),
              "POP3 message body differs: %r" % m[-300:])
        check(re.search(br"Received: from a\.test \(", m) or
              re.search(br"Received: from a\.test ", m),
              "B's Received: does not name a.test: %r" % m[:600])
        check(b"Return-Path" not in m or b"Return-Path: <alice@a.test>" in m,
              "wrong Return-Path: %r" % m[:300])


@case("B answers with yubin-sendmail -t to alice@a.test: arrives on A "
      "(B resolves through resolv_conf)")
def _():
    need_lab()
    a, b = LAB.a, LAB.b
    mark = marker()
    w = wrapper(b)
    code, out, err = LAB.in_ns(NS_B, [w, "-t", "-i", "-f", "user@b.test"],
                               input=("To: alice@a.test\nFrom: user@b.test"
                                      "\nSubject: re %s\n\nthanks, %s\n" %
                                      (mark, mark)).encode())
    if code != 0:
        fail("yubin-sendmail -t on B: exit %d %r" % (code, err))
    msgs = wait_msgs(a, "alice", 1)
    if not msgs:
        fail("nothing arrived on A within %d s\nB's log:\n%s" %
             (WAIT, b.stderr_text()[-2000:]))
    check(b"thanks, %s" % mark.encode() in msgs[-1][1], "body differs")
    check(msgs[-1][0].startswith(b"From user@b.test "),
          "envelope sender on A: %r" % msgs[-1][0])
    check(re.search(r"query\[MX\] a\.test from %s" % re.escape(IP_B),
                    LAB.dns_queries()), "B did not ask for a.test's MX")
    check(wait_until(lambda: not queue_ids(b), WAIT),
          "B's queue still holds %r" % queue_ids(b))


@case("c.test has no MX: its A record is used (RFC 5321 5.1)")
def _():
    need_lab()
    a, b = LAB.a, LAB.b
    mark = marker()
    code, out, err = LAB.in_ns(NS_A, [wrapper(a), "-i", "-f",
                                      "alice@a.test", "carol@c.test"],
                               input=("Subject: %s\n\nvia c.test\n" %
                                      mark).encode())
    if code != 0:
        fail("yubin-sendmail: exit %d %r" % (code, err))
    msgs = wait_msgs(b, "carol", 1)
    if not msgs:
        fail("carol@c.test got nothing within %d s\nA's log:\n%s" %
             (WAIT, a.stderr_text()[-2000:]))
    check(mark.encode() in msgs[0][1], "wrong message")
    wait_until(lambda: relay_log(a, "carol@c.test", "sent"), WAIT, 0.1)
    sent = relay_log(a, "carol@c.test", "sent")
    check(sent and sent[0].group("relay") == "c.test[%s]:25" % IP_B,
          "sent line: %r" % [m.group(0) for m in sent])


@case("d.test's MX host is a chain of two CNAMEs: followed to mail.b.test")
def _():
    need_lab()
    a, b = LAB.a, LAB.b
    mark = marker()
    code, out, err = LAB.in_ns(NS_A, [wrapper(a), "-i", "-f",
                                      "alice@a.test", "user@d.test"],
                               input=("Subject: %s\n\nvia d.test\n" %
                                      mark).encode())
    if code != 0:
        fail("yubin-sendmail: exit %d %r" % (code, err))
    ok = wait_until(lambda: any(mark.encode() in t for _, t in
                                mbox_msgs(b, "user")), WAIT, 0.1)
    if not ok:
        fail("user@d.test got nothing within %d s\nA's log:\n%s\n"
             "queries:\n%s" % (WAIT, a.stderr_text()[-2000:],
                                LAB.dns_queries()[-1500:]))
    # B has it before A hears B's 250 and logs: wait for the line too
    wait_until(lambda: relay_log(a, "user@d.test", "sent"), WAIT, 0.1)
    sent = relay_log(a, "user@d.test", "sent")
    check(sent and sent[0].group("relay").endswith("[%s]:25" % IP_B),
          "sent line: %r" % [m.group(0) for m in sent])


@case("unknown user on B and a domain that does not exist: bounces to "
      "alice on A")
def _():
    need_lab()
    a = LAB.a
    before = len(mbox_msgs(a, "alice"))
    w = wrapper(a)
    for rcpt in ("nosuch@b.test", "user@nx.test"):
        code, out, err = LAB.in_ns(NS_A, [w, "-i", "-f", "alice@a.test",
                                          rcpt],
                                   input=("Subject: to %s\n\nx\n" %
                                          rcpt).encode())
        if code != 0:
            fail("yubin-sendmail %s: exit %d %r" % (rcpt, code, err))
    msgs = wait_msgs(a, "alice", before + 2)
    if len(msgs) < before + 2:
        fail("%d bounces arrived, want 2\nA's log:\n%s" % (
            len(msgs) - before, a.stderr_text()[-2000:]))
    seen = {}
    for from_line, text in msgs[before:]:
        check(from_line.startswith(b"From MAILER-DAEMON "),
              "bounce From_ line %r" % from_line)
        d = dsn_parse(text)
        for blk in d["rcpts"]:
            fr = blk.get("final-recipient", "")
            seen[fr.split(";")[-1].strip().lower()] = blk.get("status", "")
    check(re.fullmatch(r"5\.1\.1", seen.get("nosuch@b.test", "")),
          "nosuch@b.test: status %r" % seen.get("nosuch@b.test"))
    # RFC 3463: X.1.2 bad destination system address / X.4.4 unable to
    # route
    check(re.fullmatch(r"5\.(1\.2|4\.4)", seen.get("user@nx.test", "")),
          "user@nx.test (NXDOMAIN): status %r" % seen.get("user@nx.test"))
    check(wait_until(lambda: not queue_ids(a), WAIT),
          "A's queue still holds %r" % queue_ids(a))


@case("teardown: the namespaces, the veth pair and every process are gone")
def _():
    procs = [sb.proc for sb in (LAB.a, LAB.b) if sb is not None]
    if LAB.dnsmasq is not None:
        procs.append(LAB.dnsmasq)
    LAB.teardown()
    names = subprocess.run(["ip", "netns", "list"], capture_output=True,
                           text=True).stdout
    check(NS_A not in names and NS_B not in names,
          "namespaces left: %r" % names)
    links = subprocess.run(["ip", "link", "show"], capture_output=True,
                           text=True).stdout
    check(VETH_A not in links and VETH_B not in links,
          "veth left in the host: %r" % links)
    for p in procs:
        check(p.poll() is not None, "process %d (%s) still running" %
              (p.pid, " ".join(p.args[:5])))


def on_term(signum, frame):
    LAB.teardown()
    sys.exit(1)


if __name__ == "__main__":
    preflight()
    signal.signal(signal.SIGTERM, on_term)
    try:
        main(timeout=240)
    finally:
        LAB.teardown()

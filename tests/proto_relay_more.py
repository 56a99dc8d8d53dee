#!/usr/bin/env python3
"""proto_relay_more.py - regressions of the relay fixes of 2026-11-22
(ChangeLog): sandbox A (hostname a.test, `route DOMAIN 127.0.0.1:PORT`)
in front of scripted next hosts (FakeSMTP) and of a host that takes the
connection but never greets (SilentHost).

Cases: a copy already sent is not sent again after a crash while
another copy of the message waits for a silent host (the envelope is
written after each finished copy); one RCPT per distinct remote address
however it was reached (repeated RCPT, an alias plus the address), the
log line and mailq name the remote address; 130 recipients in one
transaction get 100 x 250 and 30 x 452 with no 421, and yubin-sendmail
gets all 130 there (the rest by the maildrop); a daemon that drains
after SIGTERM does not remove the pid file of the daemon started
meanwhile.  Copies the few helpers of proto_relay.py (importing it
would register its cases here too)."""

import atexit
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403
from relaytest import *  # noqa: E402,F401,F403

USERS_A = {"alice": "alice-pw", "bob": "bob-pw"}


# ------------------------------------------------------------ setup

def sandbox_a(routes, extra="", start=True):
    """A: a.test, with `route DOMAIN 127.0.0.1:PORT` for each item of
    routes ({domain: port})."""
    conf = "hostname a.test\nlocal_domains a.test\n" + "".join(
        "route %s 127.0.0.1:%d\n" % (d, p) for d, p in sorted(routes.items()))
    return Sandbox(conf=conf + extra, users=USERS_A, start=start)


def mailq(sb):
    code, out, err = sendmail_run(sb, ["-bp"])
    check(code == 0, "mailq exit %d: %r" % (code, err))
    return out


def env_r_lines(sb, qid):
    """The R lines of the envelope qid, split in words (queue.c: R TYPE
    STATE TRIES NEXT ...)."""
    t = (read_bytes(sb.path("queue", qid + ".env")) or b"").decode("latin-1")
    return [ln.split(" ") for ln in t.splitlines() if ln.startswith("R ")]


def pidfile(sb):
    t = (read_bytes(sb.path("run", "yubind.pid")) or b"").decode().strip()
    return int(t) if t.isdigit() else None


class SilentHost:
    """A host on 127.0.0.1 that accepts connections and never says a
    word (the relay waits for its greeting for 5 minutes).  conns: the
    accepted sockets, in order."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()
        atexit.register(self.close)

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)

    def count(self):
        with self.lock:
            return len(self.conns)

    def hang_up(self, conns):
        for c in conns:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            self.hang_up(self.conns)


# ------------------------------------------------------------ cases

@case("a crash while one copy waits for a silent host: the copy already "
      "sent is not sent again after the restart; mailq lists only the "
      "waiting one")
def _():
    fast = FakeSMTP()
    slow = SilentHost()
    a = sandbox_a({"b.test": fast.port, "slow.test": slow.port})
    mark = marker()
    submit(a.port("smtp"), "alice@a.test", ["bob@b.test", "x@slow.test"],
           message(mark))
    if not wait_until(lambda: relay_log(a, "bob@b.test", "sent") and
                      slow.count() >= 1, WAIT):
        fail("bob@b.test not sent, or no connection to the silent host "
             "(%d); log:\n%s" % (slow.count(), a.stderr_text()[-1500:]))
    check(len(fast.delivered()) == 1, "the fast host got %d copies before "
          "the crash" % len(fast.delivered()))
    ids = queue_ids(a)
    if len(ids) != 1:
        fail("A's queue %r, want the one message (x@slow.test waits)" % ids)
    # the envelope is written right after the status=sent line
    check(wait_until(lambda: any("bob@b.test" in r and r[2] == "D"
                                 for r in env_r_lines(a, ids[0])), 3),
          "the envelope does not record the copy sent to bob@b.test "
          "while x@slow.test is under way: %r" % env_r_lines(a, ids[0]))
    a.kill()
    n = slow.count()
    a.start()
    a.signal(signal.SIGUSR1)
    # the run at start (and the one asked for) tries x@slow.test again;
    # bob's copy, were it tried, goes out at the same time
    check(wait_until(lambda: slow.count() > n, WAIT),
          "no new try of x@slow.test after the restart")
    wait_until(lambda: len(fast.delivered()) > 1, 3)
    got = [t for t in fast.delivered() if mark.encode() in t["data"]]
    check(len(got) == 1, "the fast host got the message %d times, want "
          "once (sent again after the crash)" % len(got))
    check(fast.rcpt_count("bob@b.test") == 1, "%d RCPT TO:<bob@b.test>, "
          "want 1" % fast.rcpt_count("bob@b.test"))
    check(queue_ids(a) == ids, "A's queue %r, want %r" % (queue_ids(a), ids))
    out = mailq(a)
    check("<x@slow.test>" in out, "mailq lacks the waiting recipient "
          "x@slow.test: %r" % out)
    check("<bob@b.test>" not in out, "mailq lists bob@b.test, whose copy "
          "was sent: %r" % out)
    fast.close()


@case("one RCPT per remote address: the same address twice, an alias "
      "plus the address; to=<carol@b.test>, orig_to=<team@a.test> in the "
      "log; mailq shows the remote address, not the alias")
def _():
    fake = FakeSMTP(rcpt=lambda addr, n: "451 4.3.0 Try later, carol"
                    if addr.lower() == "carol@b.test" else "250 2.1.5 Ok")
    a = sandbox_a({"b.test": fake.port}, start=False)
    with open(a.path("etc", "aliases"), "w") as f:
        f.write("team: bob@b.test, carol@b.test\n")
    a.start()
    # the same address twice in one transaction (and once more with the
    # domain in upper case: a domain is one whatever its case)
    submit(a.port("smtp"), "alice@a.test",
           ["dup@b.test", "dup@b.test", "dup@B.TEST"],
           message(marker(), to="dup@b.test"))
    # an alias that leads to bob and carol, and bob himself
    submit(a.port("smtp"), "alice@a.test", ["bob@b.test", "team@a.test"],
           message(marker(), to="bob@b.test, team@a.test"))
    ok = wait_until(lambda: relay_log(a, "dup@b.test", "sent") and
                    relay_log(a, "bob@b.test", "sent") and
                    re.search(r"to=<(carol@b\.test|team@a\.test)>.*"
                              r"status=deferred", a.stderr_text()), WAIT)
    if not ok:
        fail("the copies were not all tried; log:\n%s" %
             a.stderr_text()[-2000:])
    time.sleep(0.5)                 # a second RCPT would come by now
    for addr in ("dup@b.test", "bob@b.test", "carol@b.test"):
        check(fake.rcpt_count(addr) == 1, "the next host got %d RCPT "
              "TO:<%s>, want 1" % (fake.rcpt_count(addr), addr))
    for t in fake.delivered():
        addrs = [r.lower() for r, _ in t["rcpts"]]
        check(len(addrs) == len(set(addrs)), "one transaction names a "
              "recipient twice: %r" % t["rcpts"])
    sent = [m.group("to").lower() for m in relay_log(a)]
    check(sent.count("dup@b.test") == 1 and sent.count("bob@b.test") == 1,
          "log lines for %r, want one for dup@b.test and one for "
          "bob@b.test" % sent)
    err = a.stderr_text()
    check(re.search(r"to=<carol@b\.test>, orig_to=<team@a\.test>, .*"
                    r"status=deferred \(451 4\.3\.0 Try later, carol",
                    err, re.I | re.M),
          "no `to=<carol@b.test>, orig_to=<team@a.test>, ... "
          "status=deferred` line; log lines: %r" %
          [ln for ln in err.splitlines() if "status=" in ln])
    check(not re.search(r"[:,] to=<team@a\.test>", err, re.I),
          "a log line names the alias in to=<>: %r" %
          [ln for ln in err.splitlines() if " to=<team@" in ln])
    ids = queue_ids(a)
    check(len(ids) == 1, "A's queue %r, want the message with the "
          "deferred copy for carol" % ids)
    out = [""]

    def listed():
        out[0] = mailq(a)
        return "Try later, carol" in out[0]
    check(wait_until(listed, 5), "mailq does not show the 451: %r" % out[0])
    check("<carol@b.test>" in out[0], "mailq lacks <carol@b.test>: %r" %
          out[0])
    check("<team@a.test>" not in out[0].lower(), "mailq shows the alias "
          "<team@a.test> for the remote copy: %r" % out[0])
    check("<bob@b.test>" not in out[0], "mailq lists the sent copy for "
          "bob@b.test: %r" % out[0])
    fake.close()


RCPTS = ["r%d@b.test" % i for i in range(1, 131)]


@case("130 recipients over SMTP: 100 x 250 then 452 4.5.3, no 421; DATA "
      "and a new transaction for the rest; all 130 reach the next host "
      "once")
def _():
    fake = FakeSMTP()
    a = sandbox_a({"b.test": fake.port})
    c, _ = open_smtp(a.port("smtp"))
    smtp_cmd(c, "MAIL FROM:<alice@a.test>", RE_OK_MAIL)
    replies = []
    try:
        for r in RCPTS:
            c.send("RCPT TO:<%s>" % r)
            replies.append(c.smtp_reply()[-1])
            if replies[-1].startswith("421"):
                break
    except (TestFailure, OSError) as e:
        replies.append("(connection lost: %s)" % e)
    bad = [(RCPTS[i], x) for i, x in enumerate(replies)
           if not re.fullmatch(RE_OK_RCPT if i < 100 else
                               r"452 4\.5\.3 .*", x)]
    check(len(replies) == 130 and not bad, "%d replies to 130 RCPTs; "
          "wrong ones (want 250 for the first 100, then 452 4.5.3): %r" %
          (len(replies), bad[:5]))
    if len(replies) < 130 or replies[-1].startswith("421"):
        fail("the session was closed after %d RCPTs (the 452s counted as "
             "errors): %r" % (len(replies), replies[-3:]))
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(message(marker(), to="r1@b.test")))
    smtp_cmd(c, None, RE_ACCEPTED)
    smtp_cmd(c, "MAIL FROM:<alice@a.test>", RE_OK_MAIL)
    for r in RCPTS[100:]:
        smtp_cmd(c, "RCPT TO:<%s>" % r, RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(message(marker(), to="r101@b.test")))
    smtp_cmd(c, None, RE_ACCEPTED)
    c.quit("smtp")
    check(wait_until(lambda: all(fake.rcpt_count(r) for r in RCPTS), WAIT),
          "the next host got %d of the 130 recipients" %
          sum(1 for r in RCPTS if fake.rcpt_count(r)))
    twice = [r for r in RCPTS if fake.rcpt_count(r) > 1]
    check(not twice, "sent more than once: %r" % twice)
    fake.close()


@case("130 recipients through yubin-sendmail: exit 0; 100 go by SMTP, "
      "30 by the maildrop; all 130 reach the next host once")
def _():
    fake = FakeSMTP()
    a = sandbox_a({"b.test": fake.port})
    mark = marker()
    code, out, err = sendmail_run(a, ["-f", "alice@a.test"] + RCPTS,
                                  message(mark, to="r1@b.test"), timeout=30)
    check(code == 0, "yubin-sendmail with 130 recipients: exit %d (%s), "
          "stderr %r" % (code, "killed by signal %d" % -code if code < 0
                         else "", err[-500:]))
    a.signal(signal.SIGUSR1)        # take in the maildrop now
    ok = wait_until(lambda: all(fake.rcpt_count(r) for r in RCPTS), WAIT)
    if not ok:
        a.signal(signal.SIGUSR1)
        ok = wait_until(lambda: all(fake.rcpt_count(r) for r in RCPTS), 5)
    check(ok, "the next host got %d of the 130 recipients (mail lost); "
          "log:\n%s" % (sum(1 for r in RCPTS if fake.rcpt_count(r)),
                        a.stderr_text()[-1500:]))
    time.sleep(0.5)
    twice = [r for r in RCPTS if fake.rcpt_count(r) > 1]
    check(not twice, "sent more than once: %r" % twice)
    got = [t for t in fake.delivered() if mark.encode() in t["data"]]
    check(sum(len(t["rcpts"]) for t in got) == 130,
          "%d recipients in the transactions that carried the message" %
          sum(len(t["rcpts"]) for t in got))
    check(re.search(r"nrcpt=30 \(maildrop", a.stderr_text()),
          "no `nrcpt=30 (maildrop ...)` line for the 30 recipients past "
          "the 100th")
    fake.close()


@case("restart while the old daemon drains: after the old one exits, "
      "run/yubind.pid still holds the new one's pid (and -q works)")
def _():
    slow = SilentHost()
    a = sandbox_a({"slow.test": slow.port})
    submit(a.port("smtp"), "alice@a.test", ["x@slow.test"],
           message(marker(), to="x@slow.test"))
    if not wait_until(lambda: slow.count() >= 1, WAIT):
        fail("no connection to the silent host; log:\n%s" %
             a.stderr_text()[-1500:])
    old_pid = a.pid
    check(pidfile(a) == old_pid, "run/yubind.pid holds %r, want %d" %
          (pidfile(a), old_pid))
    a.signal(signal.SIGTERM)
    if not wait_until(lambda: "stopping on signal" in a.stderr_text(), 5):
        fail("no `stopping on signal` in the log after SIGTERM")
    time.sleep(0.3)
    if not a.alive():
        fail("the old daemon did not wait for its relay (exit %s): no "
             "overlap to test" % a.proc.returncode)
    with slow.lock:
        old_conns = list(slow.conns)
    # the second daemon on the same directory, beside the Sandbox's own
    err2 = open(a.path("yubind2.stderr"), "ab")
    p2 = register_process(subprocess.Popen(
        a.command(), stdin=subprocess.DEVNULL, stdout=err2, stderr=err2,
        close_fds=True))
    err2.close()
    try:
        if not wait_until(lambda: pidfile(a) == p2.pid or
                          p2.poll() is not None, 10):
            fail("the second daemon did not write run/yubind.pid (%r)" %
                 pidfile(a))
        if p2.poll() is not None:
            fail("the second daemon exited with %s: %r" % (
                p2.returncode, read_bytes(a.path("yubind2.stderr"))))
        check(a.alive(), "the old daemon was gone before the new one "
              "started (no overlap)")
        # end the old daemon's wait for the greeting (else it drains for
        # 30 s): it then has nothing left and exits
        slow.hang_up(old_conns)
        rc = a.wait(40)
        if rc is None:
            fail("the old daemon did not exit within 40 s of SIGTERM")
        check(rc == 0, "the old daemon exited with %s" % rc)
        check(p2.poll() is None, "the new daemon is gone (exit %s)" %
              p2.returncode)
        check(pidfile(a) == p2.pid, "run/yubind.pid holds %r after the "
              "old daemon (%d) exited, want the new one's pid %d" %
              (pidfile(a), old_pid, p2.pid))
        code, out, err = sendmail_run(a, ["-q"])
        check(code == 0, "yubin-sendmail -q with the new daemon running: "
              "exit %d %r" % (code, err))
    finally:
        stop_process(p2, 1.0)
        slow.close()


@case("a route (or MX) that leads back to this host: one try, then a "
      "5.4.6 'loops back to myself' bounce, not 50 hops of copies")
def _():
    port = free_port()
    a = sandbox_a({"loop.test": port},
                  extra="smtp_listen 127.0.0.1:%d\n" % port)
    submit(a.port("smtp"), "alice@a.test", ["x@loop.test"],
           message(marker(), to="x@loop.test"))
    got = [b""]

    def bounced():
        got[0] = read_bytes(a.path("mail", "alice")) or b""
        return b"Mail loops back to myself" in got[0]
    check(wait_until(bounced, WAIT), "no loop bounce in alice's spool: %r; "
          "log:\n%s" % (got[0][-600:], a.stderr_text()[-1500:]))
    check(re.search(rb"Status: 5\.4\.6", got[0]) is not None,
          "bounce without Status: 5.4.6: %r" % got[0][-600:])
    check(len(mbox_split(got[0])) == 1, "%d messages in alice's spool" %
          len(mbox_split(got[0])))
    check(wait_until(lambda: not [f for f in os.listdir(a.path("queue"))
                                  if f.endswith(".env")], WAIT),
          "the queue still holds %r" % os.listdir(a.path("queue")))
    check(a.stderr_text().count("from=<alice@a.test>") == 1,
          "the message came back to us: %d from= lines" %
          a.stderr_text().count("from=<alice@a.test>"))


if __name__ == "__main__":
    main(timeout=150)

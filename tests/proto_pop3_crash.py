#!/usr/bin/env python3
"""proto_pop3_crash.py - crash safety of the POP3 UPDATE rewrite
(DESIGN.md "Mail store": recovery file, rewrite in place, truncate,
remove the recovery file; the next open or delivery finishes or rolls
back).  A mailbox of 2,000 messages of varied sizes; one session DELEs
every 3rd message and QUITs; yubind is killed with SIGKILL at many
points of that QUIT:

  - after random delays from 0 to a bit more than a whole QUIT takes
    (measured first; at least 0-200 ms);
  - with strace (if installed) killing the daemon exactly at the Nth
    write/ftruncate/fsync/unlink/rename on the mailbox or the recovery
    file (strace -e inject=...:signal=KILL), which hits the middle of
    the rewrite for sure.

After each kill yubind is restarted (lock_stale 1, so the dead
daemon's dotlock goes) and the mailbox is read back over POP3 (or first
delivered to over SMTP, which must also recover): the messages must be
exactly the original set or the original minus the deleted ones, each
one byte-exact, never duplicated or lost.

YUBINTEST_CRASH_RUNS=N changes the number of random-delay runs (30)."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import yubintest  # noqa: E402
from yubintest import *  # noqa: E402,F401,F403

USERS = {"demo": "demopw"}
NMSG = 2000
RUNS = int(os.environ.get("YUBINTEST_CRASH_RUNS", "30"))
RNG = random.Random(int(os.environ.get("YUBINTEST_SEED", "1939")))
MARK_RE = re.compile(br"marker crash-([0-9]+)\r\n")


def make_texts():
    pool = bytes(random.Random(7).choice(b"abcdefghij klmnopqrstuvwxyz")
                 for _ in range(65536))
    texts = []
    for i in range(NMSG):
        r = random.Random(i)
        size = int(r.choice([200, 600, 1500, 4000, 9000, 20000, 40000]) *
                   r.uniform(0.5, 1.5))
        lines = [b"marker crash-%d" % i]
        have = 0
        while have < size:
            k = r.randrange(12)
            if k == 0:
                ln = b"."
            elif k == 1:
                ln = b".dot line %d" % r.randrange(10**6)
            elif k == 2:
                ln = b">From quoted %d" % r.randrange(10**6)
            elif k == 3:
                ln = b""
            else:
                o = r.randrange(65000)
                ln = pool[o:o + r.randrange(1, 90)]
            lines.append(ln)
            have += len(ln) + 1
        texts.append(b"From: sender%d@example.org\nTo: demo@localhost\n"
                     b"Subject: crash test %d\nMessage-ID: <crash-%d@"
                     b"example.org>\n\n" % (i, i, i) +
                     b"\n".join(lines) + b"\n")
    return texts


TEXTS = make_texts()
ORIG = mbox_build(TEXTS)
FORMS = [pop3_form(t) for t in TEXTS]
DELETED = set(range(0, NMSG, 3))        # indexes; message numbers i + 1
ALL = set(range(NMSG))
AFTER = ALL - DELETED
STATS = {"orig": 0, "final": 0, "recover-file": 0, "mixed-file": 0,
         "other": 0}


def sandbox():
    return Sandbox(users=USERS, conf="lock_stale 1\nlock_timeout 60\n"
                   "log_level info\n")


def recover_path(s):
    return s.path("mail", ".demo.yubin-recover")


def start_session(s):
    """Install the original mailbox, log in, DELE every 3rd message
    (pipelined), and return the client just before QUIT."""
    mbox_install(s, "demo", ORIG)
    c, r = pop3_login(s.port("pop3"), "demo", "demopw")
    check(r == "+OK demo has %d messages (%d octets)" %
          (NMSG, sum(len(f) for f in FORMS)), "login %r" % r)
    c.send_raw(b"".join(b"DELE %d\r\n" % (i + 1) for i in sorted(DELETED)))
    for i in sorted(DELETED):
        c.expect(r"\+OK( .*)?")
    return c


def classify(s):
    """What the kill left on disk (for the statistics)."""
    data = read_bytes(s.path("mail", "demo")) or b""
    rec = os.path.exists(recover_path(s))
    if rec:
        STATS["recover-file"] += 1
    marks = [int(m) for m in re.findall(br"\nmarker crash-([0-9]+)\n", data)]
    if sorted(marks) == sorted(ALL) and len(marks) == NMSG:
        k = "orig"
    elif sorted(marks) == sorted(AFTER) and len(marks) == len(AFTER):
        k = "final"
    else:
        k = "mixed-file"      # only fine if the next open repairs it
    STATS[k] += 1
    return k, rec, len(data), len(marks)


def verify(s, label, extra=None):
    """Log in after the restart and read everything back."""
    c, r = pop3_login(s.port("pop3"), "demo", "demopw",
                      want=POP3_LOGIN_RE % "demo")
    n = int(re.match(POP3_LOGIN_RE % "demo", r).group(1))
    sizes = pop3_list_map(c)
    check(len(sizes) == n, "%s: LIST has %d entries, login said %d" %
          (label, len(sizes), n))
    seen = []
    bad = 0
    got_extra = 0
    for num in sorted(sizes):
        size, data = pop3_retr(c, num, timeout=30)
        if extra is not None and extra in data:
            got_extra += 1
            continue
        m = MARK_RE.search(data)
        if not m:
            bad += 1
            if bad <= 3:
                check(False, "%s: message %d has no marker: %r" %
                      (label, num, data[:200]))
            continue
        i = int(m.group(1))
        seen.append(i)
        if data != FORMS[i] or size != len(FORMS[i]) or \
                sizes[num] != len(FORMS[i]):
            bad += 1
            if bad <= 3:
                check(False, "%s: message %d (crash-%d) damaged: %d bytes "
                      "(LIST %d, RETR says %d), want %d" %
                      (label, num, i, len(data), sizes[num], size,
                       len(FORMS[i])))
    c.close()         # no QUIT: leave the file as it is
    # the session's end still writes the UIDs it handed out, under lock
    check(wait_until(lambda: not os.path.exists(s.path("mail", "demo.lock")),
                     30, 0.05), "%s: dotlock still there 30 s after the "
          "session ended" % label)
    dup = len(seen) - len(set(seen))
    check(dup == 0, "%s: %d duplicated messages" % (label, dup))
    ss = set(seen)
    ok = ss == ALL or ss == AFTER
    check(ok, "%s: the mailbox is neither the original nor the original "
          "minus the deleted: %d messages, %d of the deleted, %d kept ones "
          "missing" % (label, len(ss), len(ss & DELETED),
                       len(AFTER - ss)))
    check(bad == 0, "%s: %d damaged messages" % (label, bad))
    if extra is not None:
        check(got_extra == 1, "%s: the message delivered after the crash "
              "is there %d times" % (label, got_extra))
    return "orig" if ss == ALL else "final" if ss == AFTER else "mixed"


def told_ok(c):
    """Whether the client got the +OK of its QUIT before the kill."""
    quiet_for(c, 0.1)
    return b"+OK" in c.buf and b"signing off" in c.buf


def after_kill(s, label, deliver=False, ok_sent=False):
    st = classify(s)
    s.start()
    extra = None
    if deliver:
        extra = b"after the crash %s" % label.encode()
        smtp_send(s.port("smtp"), "a@client.example", ["demo@localhost"],
                  b"Subject: after crash\n\n" + extra + b"\n",
                  want=r"250 2\.0\.0 Ok: delivered as [0-9A-Za-z]+")
        check(not os.path.exists(recover_path(s)), "%s: recovery file "
              "still there after a delivery" % label)
    res = verify(s, label, extra)
    check(not os.path.exists(recover_path(s)), "%s: recovery file still "
          "there after a login" % label)
    check(not (ok_sent and res != "final"), "%s: QUIT was answered +OK, "
          "but after the restart the deleted messages are back" % label)
    return st, res


def kill_now(s):
    os.kill(s.pid, signal.SIGKILL)
    s.proc.wait(10)


CAL = {}


@case("calibration: a QUIT with 667 deletions on 2,000 messages, no kill")
def _():
    note("mailbox %d bytes, %d messages, %d deleted" %
         (len(ORIG), NMSG, len(DELETED)))
    s = sandbox()
    c = start_session(s)
    t0 = time.monotonic()
    c.send("QUIT")
    c.expect(r"\+OK .*signing off.*", timeout=60)
    dt = time.monotonic() - t0
    c.expect_close()
    note("QUIT took %.0f ms" % (dt * 1000))
    CAL["t"] = dt
    check(not os.path.exists(recover_path(s)), "recovery file left")
    check(verify(s, "no kill") == "final", "deletions not done")
    check(not os.path.exists(s.path("mail", "demo.lock")), "dotlock left")
    s.stop()


@case("SIGKILL at random moments of the QUIT (%d runs)" % RUNS)
def _():
    s = sandbox()
    span = max(0.2, CAL.get("t", 0.2) * 1.3)
    outcomes = []
    for run in range(RUNS):
        c = start_session(s)
        delay = RNG.uniform(0, CAL.get("t", 0.2) * 1.3 if run % 2 else span)
        c.send("QUIT")
        time.sleep(delay)
        kill_now(s)
        ok_sent = told_ok(c)
        c.close()
        label = "run %d (kill %.0f ms after QUIT)" % (run, delay * 1000)
        st, res = after_kill(s, label, deliver=(run % 4 == 3),
                             ok_sent=ok_sent)
        outcomes.append((round(delay * 1000), st[0], st[1], res))
    note("delay ms / file left / recovery file / result after restart: %r"
         % outcomes)
    note("files found after the kills: %r" % STATS)
    s.stop()


def strace_path():
    return shutil.which("strace")


def strace_kill_run(s, syscall, nth, label, deliver=False):
    """Attach strace to the daemon for the QUIT, killing it at the
    nth call of syscall on the mailbox or the recovery file.  Returns
    False if strace did not kill it (fewer calls than nth)."""
    c = start_session(s)
    mbox = s.path("mail", "demo")
    argv = [strace_path(), "-qq", "-f", "-p", str(s.pid),
            "-P", mbox, "-P", recover_path(s), "-P", recover_path(s) + ".tmp",
            "-e", "trace=%s" % syscall,
            "-e", "inject=%s:signal=KILL:when=%d" % (syscall, nth),
            "-o", "/dev/null"]
    st = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    yubintest.register_process(st)
    wait_traced(st, s.pid)
    c.send("QUIT")
    died = wait_until(lambda: s.proc.poll() is not None, 30, 0.02)
    ok_sent = False
    if not died:
        c.expect(r"\+OK .*signing off.*", timeout=60)
    else:
        ok_sent = told_ok(c)
    c.close()
    st.terminate()
    try:
        st.wait(10)
    except subprocess.TimeoutExpired:
        st.kill()
        st.wait(5)
    if not died:
        return False
    after_kill(s, label, deliver, ok_sent)
    return True


@case("SIGKILL at the Nth write/pwrite/ftruncate/fsync/unlink/rename of "
      "the rewrite (strace -e inject)")
def _():
    if not strace_path():
        if os.environ.get("CI") == "true":
            fail("strace not installed (CI=true requires it)")
        note("strace not installed: exact kill points not tested")
        return
    s = sandbox()
    # which calls does the rewrite make on the two files?
    c = start_session(s)
    log = os.path.join(s.dir, "strace.log")
    st = subprocess.Popen([strace_path(), "-qq", "-f", "-p", str(s.pid),
                           "-P", s.path("mail", "demo"), "-P",
                           recover_path(s), "-P", recover_path(s) + ".tmp",
                           "-o", log],
                          stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    yubintest.register_process(st)
    wait_traced(st, s.pid)
    c.send("QUIT")
    c.expect(r"\+OK .*signing off.*", timeout=60)
    c.close()
    time.sleep(0.3)
    st.terminate()
    st.wait(10)
    counts = {}
    with open(log) as f:
        for ln in f:
            m = re.match(r"(?:\[pid +[0-9]+\] |[0-9]+ +)?([a-z0-9_]+)\(", ln)
            if m:
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    note("system calls on the mailbox/recovery file during QUIT: %r" %
         counts)
    check(verify(s, "traced, no kill") == "final", "deletions not done "
          "under strace")
    points = []
    for sc in ("write", "pwrite64", "writev"):
        n = counts.get(sc, 0)
        if n:
            picks = sorted(set([1, 2, n // 4, n // 2, (3 * n) // 4, n - 1,
                                n]) - {0})
            points += [(sc, k) for k in picks]
    for sc in ("ftruncate", "fsync", "fdatasync", "unlink", "unlinkat",
               "rename", "renameat", "renameat2", "openat"):
        n = counts.get(sc, 0)
        points += [(sc, k) for k in range(1, min(n, 4) + 1)]
    check(points, "no write system calls seen on the mailbox: %r" % counts)
    killed = 0
    for j, (sc, k) in enumerate(points):
        if strace_kill_run(s, sc, k, "kill at %s #%d" % (sc, k),
                           deliver=(j % 3 == 2)):
            killed += 1
        else:
            note("%s #%d: not reached (no kill)" % (sc, k))
            verify(s, "%s #%d not reached" % (sc, k))
    note("%d of %d kill points hit; files found: %r" %
         (killed, len(points), STATS))
    check(killed >= len(points) // 2, "only %d of %d strace kills "
          "happened" % (killed, len(points)))
    s.stop()


main(timeout=1500)

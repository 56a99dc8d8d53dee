#!/usr/bin/env python3
"""pop3.py - POP3 download of big mboxes: yubind side by side with Dovecot
and popa3d.

usage: pop3.py [--sizes 10k,100k] [--reps 3] [--servers yubind,dovecot,popa3d]
               [--window 16] [--sample 300] [--setup-peers]
               [--work DIR] [--data DIR] [--peers DIR] [--p3root DIR]
               [--json FILE] [--keep]

The issue's benchmark: login + STAT + UIDL, and RETR of every message, on
mboxes of 10,000 (51 MB) and 100,000 messages (514 MB) made by the shared
kit's mkmbox.py (--seed 1 and 2, as in BASELINE.md; cached in --data).
Every server gets its own copy of the file, fresh for each run, its mtime
set 10 s back (popa3d otherwise waits a second on a file modified in the
current second).  One run = one server, one size, five sessions:
  S1 cold     login+STAT on the fresh copy (yubind: a fresh daemon, so it
              indexes the file; Dovecot: its index deleted), UIDL, LIST,
              QUIT.  QUIT is timed apart: the first QUIT on a fresh file
              makes yubind (X-UID/X-IMAPbase) and Dovecot rewrite it.
  S2 repeat   login+STAT again ("repeated login"), UIDL, LIST, then RETR
              1..N lockstep (one command outstanding, TCP_NODELAY, the
              client ACKs at once: TCP_QUICKACK), then QUIT, timed apart
              (RETR marks messages read, so this QUIT rewrites the file).
              RETR MB/s = wire bytes / (first RETR sent .. last byte of
              the last reply); the QUIT is not in it.
  S3 delack   RETR 1..N lockstep with a normal client (delayed ACKs): a
              server that writes a reply in pieces without TCP_NODELAY
              stalls ~40 ms a message here.  A server that manages less
              than 500 msg/s over the first 200 messages is stopped there,
              and any RETR session after --max-retr-s (60) s.
  S4 pipe     RETR 1..N with --window (16) commands in flight (RFC 2449
              PIPELINING), normal client, same cut-off.  A server that
              sends nothing for --stall (10) s is recorded as stalled
              (with how many replies had arrived) and the session dropped.
  S5 verify   only for yubind: nothing new; the sample checks run in S2:
              the wire text of --sample messages (spread over the file,
              plus every message with a quoted >From line or a line that
              starts with '.') must equal the pristine file's message
              (LF -> CRLF, dot-stuffed, without the From_ line and the
              separator line; so no X-UID/Status/X-IMAPbase/Content-Length
              either), and for every message the octets received (after
              un-stuffing) must equal LIST's size and the +OK line's.
              The same checks are reported for the peers.
Memory (yubind): VmHWM of the daemon at the end of a run (peak RSS; a fresh
daemon per run), and RssAnon after S1's login minus before it, per message
(the index).  loadavg is recorded for every session.
Servers run interleaved, the order rotating with every repetition.
Peers:
  dovecot  a private instance made from PEERS/dovecot/dovecot.conf (base_dir,
           ports, spool and passwd-file moved under --work), users bench1
           (10k) and bench2 (100k), password benchpass.  Needs root, the
           dovecot-pop3d package and those system users.
  popa3d   popa3d 1.0.3 from the .deb unpacked with dpkg -x into P3ROOT,
           under tcpserver (ucspi-tcp), in a private mount namespace with
           the spool bind-mounted on /var/mail (as PEERS/start_popa3d.sh);
           PAM/shadow users bench1/bench2.  Needs root and unshare.
  --setup-peers (root, once): apt-get install dovecot-pop3d ucspi-tcp,
           apt-get download popa3d + dpkg -x, useradd bench1 bench2 popa3d.
  A peer that cannot run is skipped with the reason; yubind is then compared
  with BASELINE.md's figures.
Prints a table of medians [min-max] and JSON lines (stdout, and --json).
Needs YUBIND (or --yubind).  Not part of make check.
"""

import argparse
import os
import pwd
import re
import shutil
import subprocess
import sys
import time

import benchlib
from benchlib import (SIZES, PASSWORD, Dovecot, LineConn, Mbox, Peer,
                      SpoolYubind, Stall, add_bench_users, cell, fmt,
                      free_port, groups, loadavg1, mem_of, need_root_users,
                      note, reference, stop_process, table_head,
                      wait_greeting)

# BASELINE.md (../shared/bench), POP3 table, medians of 3, this kind of
# machine: used when a peer cannot run here.
BASELINE = {
    ("popa3d", "100k"): {"cold_login_s": 0.325, "repeat_login_s": 0.336,
                         "retr_mb_s": 43.9},
    ("popa3d", "10k"): {"cold_login_s": 0.07, "repeat_login_s": 0.0727,
                        "retr_mb_s": 50.2},
    ("dovecot", "100k"): {"cold_login_s": 11.6, "repeat_login_s": 0.0998,
                          "retr_mb_s": 30.3},
    ("dovecot", "10k"): {"cold_login_s": 1.03, "repeat_login_s": 0.0115,
                         "retr_mb_s": 30.2, "pipe_mb_s": 82.8},
}


MAX_RETR_S = 60.0      # --max-retr-s
SERVER_CPUS = None     # --pin: the servers' CPUs (None: not pinned)


def pin_server():
    """preexec_fn for every server process (children inherit it)."""
    if SERVER_CPUS is not None:
        os.sched_setaffinity(0, SERVER_CPUS)


# ------------------------------------------------------------ data

class Pristine(Mbox):
    """The generated file's expected wire text of a sample of messages."""

    def __init__(self, path, nsample):
        Mbox.__init__(self, path)
        pick = self.sample(nsample)
        self.special = 0
        # messages with quoted From_ lines or lines starting with '.'
        for rx in (re.compile(rb"\n>+From "), re.compile(rb"\n\.")):
            for m in rx.finditer(self.data):
                k = self.index(m.start())
                if k not in pick:
                    self.special += 1
                pick.add(k)
        self.expect = {}
        for k in sorted(pick):
            wire = self.message(k).replace(b"\n", b"\r\n")
            if wire.startswith(b"."):
                wire = b"." + wire
            wire = wire.replace(b"\r\n.", b"\r\n..")
            self.expect[k + 1] = wire
        self.data = None

    def summary(self):
        return "%d messages, %d B; %d messages to compare (%d with >From " \
            "or leading dots)" % (self.n, self.bytes, len(self.expect),
                                  self.special)


# ------------------------------------------------------------ client

class Pop3(LineConn):
    """Minimal POP3 client (LineConn: TCP_QUICKACK if quickack)."""

    def multi(self, keep=False):
        """(status line, body octets after un-stuffing, wire body or None);
        octets -1 for -ERR."""
        st = self.line()
        if not st.startswith(b"+OK"):
            return st, -1, None
        start = self.pos - 2
        while True:
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                b0, b1 = self.pos, (i + 2 if i + 2 > self.pos else self.pos)
                n = b1 - b0
                if n:
                    n -= self.buf.count(b"\r\n..", b0 - 2, b1)
                body = bytes(self.buf[b0:b1]) if keep else None
                self.pos = i + 5
                return st, n, body
            start = max(start, len(self.buf) - 4)
            start -= self.fill()

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")


def login(c, user, pw):
    g = c.line()
    if not g.startswith(b"+OK"):
        raise RuntimeError("greeting %r" % g)
    t0 = time.monotonic()
    c.cmd("USER " + user)
    c.line()
    c.cmd("PASS " + pw)
    r = c.line()
    if not r.startswith(b"+OK"):
        raise RuntimeError("login failed: %r" % r)
    c.cmd("STAT")
    st = c.line()
    t = time.monotonic() - t0
    w = st.split()
    return t, int(w[1]), int(w[2])


def listing(c, what):
    t0 = time.monotonic()
    c.cmd(what)
    st = c.line()
    if not st.startswith(b"+OK"):
        raise RuntimeError("%s: %r" % (what, st))
    out = {}
    while True:
        ln = c.line()
        if ln == b".":
            break
        w = ln.split()
        out[int(w[0])] = w[1]
    return time.monotonic() - t0, out


def retr_all(c, n, window, sizes=None, pristine=None, cutoff=True):
    """RETR 1..n with `window` commands in flight.  Returns a dict."""
    res = {"retr_window": window}
    bad_size, bad_ok, bad_text, checked, errs = 0, 0, 0, 0, 0
    first_bad = None
    total, got, sent = 0, 0, 0
    b0 = c.nbytes - (len(c.buf) - c.pos)
    t0 = t_last = time.monotonic()
    limit = n
    try:
        for _ in range(min(window, n)):
            sent += 1
            c.cmd("RETR %d" % sent)
        while got < limit:
            k = got + 1
            keep = pristine is not None and k in pristine.expect
            st, ln, body = c.multi(keep)
            t_last = time.monotonic()
            got += 1
            if ln < 0:
                errs += 1
            else:
                total += ln
                if sizes is not None:
                    if int(sizes.get(k, -1)) != ln:
                        bad_size += 1
                        first_bad = first_bad or ("size", k)
                    w = st.split()
                    # "+OK 1234 octets" (yubind, Dovecot); popa3d says
                    # just "+OK"
                    if len(w) >= 2 and w[1].isdigit() and \
                            w[1] != str(ln).encode():
                        bad_ok += 1
                if keep:
                    checked += 1
                    if body != pristine.expect[k]:
                        bad_text += 1
                        first_bad = first_bad or ("text", k)
            if cutoff and got == 200 and limit > 200 and \
                    200 / (time.monotonic() - t0) < 500:
                limit = 200
                res["retr_cut_off"] = True
            elif cutoff and limit > got and got % 500 == 0 and \
                    time.monotonic() - t0 > MAX_RETR_S:
                limit = sent            # drain what is in flight
                res["retr_cut_off"] = True
            if sent < limit:
                sent += 1
                c.cmd("RETR %d" % sent)
    except Stall:
        # the rate is taken up to the last complete reply
        res["stalled_after"] = got
        res["stalled_outstanding"] = sent - got
    dt = t_last - t0
    wire = c.nbytes - (len(c.buf) - c.pos) - b0
    res.update({"retr_count": got, "retr_errors": errs,
                "retr_octets": total, "retr_wire_bytes": wire,
                "retr_s": round(dt, 4),
                "retr_mb_s": round(wire / 1e6 / dt, 1) if dt else None,
                "retr_msg_s": round(got / dt, 1) if dt else None})
    if sizes is not None:
        res.update({"list_size_mismatch": bad_size, "ok_line_mismatch": bad_ok})
    if pristine is not None:
        res.update({"text_checked": checked, "text_mismatch": bad_text})
        if first_bad:
            res["first_mismatch"] = "%s msg %d" % first_bad
    return res


def quit_(c):
    t0 = time.monotonic()
    c.cmd("QUIT")
    r = c.line()
    t = time.monotonic() - t0
    c.close()
    return t, r.startswith(b"+OK")


# ------------------------------------------------------------ servers

class Yubind(SpoolYubind):
    def __init__(self, a):
        SpoolYubind.__init__(self, a, "pop3", preexec_fn=pin_server)

    def version(self):
        return os.path.basename(self.binary)


class Popa3d(Peer):
    name = "popa3d"

    def __init__(self, a):
        Peer.__init__(self, a)
        self.proc = None
        self.bin = os.path.join(a.p3root, "usr/sbin/popa3d")

    def running(self):
        return self.proc is not None

    def problem(self):
        if not os.access(self.bin, os.X_OK):
            return "no %s (--setup-peers: apt-get download popa3d; dpkg -x)" \
                % self.bin
        for t in ("tcpserver", "unshare"):
            if shutil.which(t) is None:
                return "no %s (ucspi-tcp / util-linux)" % t
        if not os.path.isdir("/var/mail"):
            return "no /var/mail to bind-mount the spool on"
        return need_root_users(["bench1", "bench2", "popa3d"])

    def version(self):
        return "popa3d 1.0.3 (Debian .deb, dpkg -x)"

    def start(self):
        os.makedirs(os.path.join(self.d, "mail"), exist_ok=True)
        os.chmod(os.path.join(self.d, "mail"), 0o1777)
        os.makedirs("/var/lib/popa3d", exist_ok=True)
        self.port = free_port()
        self.log = open(os.path.join(self.d, "popa3d.log"), "wb")
        sh = ("mount --make-rprivate / && mount --bind %s /var/mail && "
              "exec tcpserver -c 1100 -b 1024 -H -R -l 0 127.0.0.1 %d %s"
              % (os.path.join(self.d, "mail"), self.port, self.bin))
        self.proc = subprocess.Popen(["unshare", "-m", "sh", "-c", sh],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     preexec_fn=pin_server)
        if not wait_greeting(self.port, 10, "pop3",
                             lambda: self.proc.poll() is None):
            self.stop()
            raise RuntimeError("popa3d (tcpserver) did not start; see %s" %
                               os.path.join(self.d, "popa3d.log"))

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                stop_process(self.proc, 10)
            self.proc = None
            self.log.close()


def setup_peers(a):
    if os.geteuid() != 0:
        note("--setup-peers needs root")
        return
    if shutil.which("dovecot") is None or shutil.which("tcpserver") is None:
        note("apt-get install dovecot-pop3d ucspi-tcp")
        subprocess.call(["apt-get", "install", "-y", "dovecot-pop3d",
                         "ucspi-tcp"])
    if not os.access(os.path.join(a.p3root, "usr/sbin/popa3d"), os.X_OK):
        debs = os.path.join(os.path.dirname(a.p3root.rstrip("/")), "debs")
        os.makedirs(debs, exist_ok=True)
        note("apt-get download popa3d -> %s; dpkg -x -> %s" % (debs, a.p3root))
        subprocess.call(["apt-get", "download", "popa3d"], cwd=debs)
        found = sorted(f for f in os.listdir(debs)
                       if f.startswith("popa3d_") and f.endswith(".deb"))
        if found:
            subprocess.call(["dpkg", "-x", os.path.join(debs, found[-1]),
                             a.p3root])
    try:
        pwd.getpwnam("popa3d")
    except KeyError:
        subprocess.call(["useradd", "-r", "-d", "/var/lib/popa3d", "-s",
                         "/usr/sbin/nologin", "popa3d"])
    add_bench_users()


# ------------------------------------------------------------ one run

def one_run(a, srv, size, src, pristine, rep):
    n_expect = SIZES[size][0]
    base = {"tool": "yubin-bench-pop3", "server": srv.name, "size": size,
            "rep": rep, "pin": a.pin}
    t_prep = time.monotonic()
    srv.prepare(size, src)
    base["prepare_s"] = round(time.monotonic() - t_prep, 2)
    user = srv.user
    res = dict(base)
    is_y = isinstance(srv, Yubind)
    if is_y:
        time.sleep(0.2)
        m0 = mem_of(srv.pid)
        cpu0 = srv.cpu()
    # S1 cold
    res["loadavg1"] = loadavg1()
    c = Pop3(srv.port, a.timeout, quickack=True)
    t, n, octets = login(c, user, PASSWORD)
    res.update({"cold_login_s": round(t, 4), "messages": n,
                "maildrop_octets": octets})
    if n != n_expect:
        res["wrong_count"] = True
    if is_y:
        m1 = mem_of(srv.pid)
        if m0["anon_kb"] is not None and m1["anon_kb"] is not None:
            res["index_kb"] = m1["anon_kb"] - m0["anon_kb"]
            res["index_b_per_msg"] = round(1024.0 * res["index_kb"] / n, 1)
        res["rss_after_login_kb"] = m1["rss_kb"]
    t, _ = listing(c, "UIDL")
    res["cold_uidl_s"] = round(t, 4)
    t, _ = listing(c, "LIST")
    res["cold_list_s"] = round(t, 4)
    t, ok = quit_(c)
    res["cold_quit_s"] = round(t, 4)
    # S2 repeat + lockstep RETR (quickack) + verification
    c = Pop3(srv.port, a.timeout, quickack=True)
    t, n2, octets2 = login(c, user, PASSWORD)
    res["repeat_login_s"] = round(t, 4)
    if (n2, octets2) != (n, octets):
        res["repeat_stat_differs"] = [n2, octets2]
    t, uidl = listing(c, "UIDL")
    res["repeat_uidl_s"] = round(t, 4)
    t, sizes = listing(c, "LIST")
    res["repeat_list_s"] = round(t, 4)
    r = retr_all(c, n2, 1, sizes=sizes, pristine=pristine, cutoff=True)
    for k, v in r.items():
        res["lock_" + k] = v
    t, ok = quit_(c)
    res["lock_quit_s"] = round(t, 4)
    # S3 delayed-ACK client, lockstep
    c = Pop3(srv.port, a.timeout)
    t, n3, _ = login(c, user, PASSWORD)
    res["third_login_s"] = round(t, 4)
    r = retr_all(c, n3, 1, cutoff=True)
    for k, v in r.items():
        res["delack_" + k] = v
    t, ok = quit_(c)
    res["delack_quit_s"] = round(t, 4)
    # S4 pipelined, delayed-ACK client
    c = Pop3(srv.port, a.stall)
    t, n4, _ = login(c, user, PASSWORD)
    c.cmd("CAPA")
    st, _, capa = c.multi(True)
    if a.window > 1 and b"\r\nPIPELINING\r\n" not in \
            b"\r\n" + (capa or b"").upper():
        # RFC 2449: a client may pipeline only if CAPA says so (popa3d
        # does not, and garbles replies when pipelined)
        res["pipe_skipped"] = "no PIPELINING in CAPA"
        quit_(c)
    else:
        t, sizes4 = listing(c, "LIST")
        r = retr_all(c, n4, a.window, sizes=sizes4, cutoff=True)
        for k, v in r.items():
            res["pipe_" + k] = v
        if "stalled_after" in r:
            c.close()
        else:
            t, ok = quit_(c)
            res["pipe_quit_s"] = round(t, 4)
    res["loadavg1_end"] = loadavg1()
    if is_y:
        time.sleep(0.1)
        m2 = mem_of(srv.pid)
        res["rss_peak_kb"] = m2["hwm_kb"]
        res["rss_end_kb"] = m2["rss_kb"]
        cpu1 = srv.cpu()
        if cpu0 is not None and cpu1 is not None:
            res["server_cpu_s"] = round(cpu1 - cpu0, 2)
        res["mbox_bytes_end"] = os.path.getsize(srv.mbox)
    srv.finish_run(res)
    return res


# ------------------------------------------------------------ report

COLS = [("cold login+STAT s", "cold_login_s"), ("UIDL s", "cold_uidl_s"),
        ("1st QUIT s", "cold_quit_s"), ("repeat login+STAT s", "repeat_login_s"),
        ("RETR MB/s lockstep", "lock_retr_mb_s"),
        ("msg/s", "lock_retr_msg_s"), ("QUIT after RETR s", "lock_quit_s"),
        ("RETR MB/s delayed-ACK", "delack_retr_mb_s"),
        ("RETR MB/s 16 in flight", "pipe_retr_mb_s")]


def report(a, runs, skipped):
    print()
    print("POP3, %d repetition(s), CPU placement %s, medians [min-max]; "
          "MB = 1e6 B of wire data; loadavg1 %s-%s" % (a.reps, a.pin, fmt(min(r["loadavg1"] for r in runs)),
                                   fmt(max(r["loadavg1"] for r in runs))))
    table_head(["server", "mbox"] + [c[0] for c in COLS])
    meds = {}
    for size, name, rs in groups(a, runs):
        row = [name, size]
        for _, key in COLS:
            s, m = cell(rs, key)
            meds[(name, size, key)] = m
            if key.endswith("retr_mb_s"):
                pre = key[:-len("retr_mb_s")]
                cut = [r for r in rs if r.get(pre + "retr_cut_off")]
                st = [r for r in rs if "%sstalled_after" % pre in r]
                if any(r.get(pre + "skipped") for r in rs):
                    s += " (no PIPELINING in CAPA)"
                if cut:
                    s += " (cut off: %s msgs)" % ",".join(
                        str(r[pre + "retr_count"]) for r in cut)
                if st:
                    s += " STALLED %dx after %s replies" % (
                        len(st), ",".join(str(r[pre + "stalled_after"])
                                          for r in st))
            row.append(s)
        print("| " + " | ".join(row) + " |")
    print()
    ys = [r for r in runs if r["server"] == "yubind"]
    for size in a.sizes:
        rs = [r for r in ys if r["size"] == size]
        if not rs:
            continue
        print("yubind %s: peak RSS (VmHWM) %s MB, index %s B/msg "
              "(RssAnon after login - before, %s MB), server CPU/run %s s, "
              "mbox after %s B" % (
                  size, cell([{"x": r["rss_peak_kb"] / 1024.0} for r in rs],
                             "x")[0],
                  cell(rs, "index_b_per_msg")[0],
                  cell([{"x": r["index_kb"] / 1024.0} for r in rs
                        if "index_kb" in r], "x")[0],
                  cell(rs, "server_cpu_s")[0], rs[-1].get("mbox_bytes_end")))
    print()
    for r in runs:
        v = []
        if r.get("lock_text_mismatch") or r.get("lock_list_size_mismatch") \
                or r.get("lock_ok_line_mismatch") or r.get("pipe_list_size_mismatch"):
            v.append("text %d/%d differ, LIST size %d differ, +OK size %d "
                     "differ, pipelined LIST size %s differ (%s)" % (
                         r.get("lock_text_mismatch", 0),
                         r.get("lock_text_checked", 0),
                         r.get("lock_list_size_mismatch", 0),
                         r.get("lock_ok_line_mismatch", 0),
                         r.get("pipe_list_size_mismatch", "-"),
                         r.get("lock_first_mismatch", "")))
        if v:
            print("verify %s %s rep %d: %s" % (r["server"], r["size"], r["rep"],
                                               "; ".join(v)))
    for size in a.sizes:
        rs = [r for r in ys if r["size"] == size]
        if rs:
            ok = all(not r.get("lock_text_mismatch") and
                     not r.get("lock_list_size_mismatch") and
                     not r.get("lock_ok_line_mismatch") and
                     r.get("lock_retr_count") == r["messages"] for r in rs)
            print("verify yubind %s: %s (%d messages' text compared per run, "
                  "LIST size = octets received for all %d)" % (
                      size, "OK" if ok else "FAILED",
                      rs[0].get("lock_text_checked", 0), rs[0]["messages"]))
    for name, why in skipped:
        print("skipped %s: %s" % (name, why))
    # targets (the issue): against popa3d / Dovecot measured in this run,
    # else BASELINE.md
    print()

    for size in a.sizes:
        y = lambda k: meds.get(("yubind", size, k))  # noqa: E731
        if y("cold_login_s") is None:
            continue
        checks = []
        p, src = reference(meds, BASELINE, "popa3d", size, "cold_login_s")
        if p is not None:
            checks.append(("first login+STAT < popa3d %s s (%s)" % (fmt(p), src),
                           y("cold_login_s") < p, y("cold_login_s")))
        checks.append(("repeated login+STAT < 0.1 s", y("repeat_login_s") < 0.1,
                       y("repeat_login_s")))
        p, src = reference(meds, BASELINE, "popa3d", size,
                           "lock_retr_mb_s", "retr_mb_s")
        if p is not None:
            checks.append(("lockstep RETR MB/s > popa3d %s (%s)" % (fmt(p), src),
                           (y("lock_retr_mb_s") or 0) > p, y("lock_retr_mb_s")))
        p, src = reference(meds, BASELINE, "dovecot", size,
                           "pipe_retr_mb_s", "pipe_mb_s")
        if p is None:
            p, src = BASELINE[("dovecot", "10k")]["pipe_mb_s"], "BASELINE.md 10k"
        stalled = any("pipe_stalled_after" in r for r in ys if r["size"] == size)
        checks.append(("16-in-flight RETR MB/s > Dovecot %s (%s)%s" % (
            fmt(p), src, " -- STALLED" if stalled else ""),
            (not stalled) and (y("pipe_retr_mb_s") or 0) > p,
            y("pipe_retr_mb_s")))
        for what, ok, val in checks:
            print("target %s: %s: yubind %s -> %s" % (size, what, fmt(val),
                                                     "met" if ok else "MISSED"))


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    benchlib.mailbox_args(ap, "yubind,dovecot,popa3d", "POP3_WORK",
                          "/tmp/yubin-pop3bench")
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--sample", type=int, default=300,
                    help="messages whose text is compared (plus special ones)")
    ap.add_argument("--stall", type=float, default=10.0,
                    help="pipelined: seconds without data = stalled")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="lockstep sessions: seconds without data = failure")
    ap.add_argument("--max-retr-s", type=float, default=60.0,
                    help="a RETR session is cut off after this (slow peers)")
    ap.add_argument("--p3root", default=os.environ.get(
        "P3ROOT", "/tmp/peerbench/p3root"))
    ap.add_argument("--pin", default="none", choices=("none", "same", "split"),
                    help="CPU placement: none (the scheduler's, as in "
                    "BASELINE.md), same (servers and client on CPU 0), "
                    "split (servers on CPU 1, client on CPU 0)")
    a = ap.parse_args()
    if a.report:
        runs = benchlib.load_report(a, "yubin-bench-pop3",
                                    ("yubind", "dovecot", "popa3d"))
        a.pin = ",".join(sorted(set(r.get("pin", "none") for r in runs)))
        report(a, runs, [])
        return
    benchlib.mailbox_setup(a, "pop3.py")
    if a.setup_peers:
        setup_peers(a)
    global SERVER_CPUS, MAX_RETR_S
    MAX_RETR_S = a.max_retr_s
    if a.pin != "none":
        if len(os.sched_getaffinity(0)) < 2 and a.pin == "split":
            sys.exit("pop3.py: --pin split needs 2 CPUs")
        SERVER_CPUS = {0} if a.pin == "same" else {1}
        os.sched_setaffinity(0, {0})
    servers, skipped = benchlib.start_servers(a, {
        "yubind": Yubind, "dovecot": lambda a: Dovecot(a, "pop3", pin_server),
        "popa3d": Popa3d}, "pop3.py")

    runs = benchlib.run_all(a, servers, skipped, "yubin-bench-pop3",
                            Pristine, one_run)
    if runs:
        report(a, runs, skipped)


if __name__ == "__main__":
    main()

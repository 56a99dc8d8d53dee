#!/usr/bin/env python3
"""smtp.py - SMTP delivery into mbox: yubind side by side with Postfix.

usage: smtp.py [-n 5000] [-s 4096] [-c 1,10,50] [--reps 3]
               [--postfix auto|off|require] [--setup-postfix]
               [--peers DIR] [--pfroot DIR] [--pf-user bench4]
               [--no-strace] [--log-level LEVEL] [--yubin-conf LINE]
               [--json FILE] [--keep]

The issue's benchmark: N messages (S body bytes each, plus ~200 B of
headers, each with a unique marker) to one local mbox over C persistent
connections (lockstep, no PIPELINING; the messages are shared out among
the connections as they become free), for every C, REPS times.  Each run:
  accept msg/s     N / time from the first connect until the last 250
                   after DATA (and QUIT)
  all-in-mbox s    time from the first connect until the mbox holds N
                   From_ lines (polled every 10 ms once the client is done)
  delivered msg/s  N / all-in-mbox s
  p50/p99 ms       DATA end (".") -> 250 latency
  client CPU %     the load generator's CPU (user+sys) over the accept time,
                   as % of one core: if near 100, the client is the limit
  rss peak         yubind's VmHWM (a fresh daemon for every run)
  msgs/fsync,      yubind's fsync(2)/fdatasync(2) calls and all its system
  syscalls/msg     calls, counted with `perf stat -e syscalls:...` (kernel
                   tracepoints, cheap) when perf can; --no-perf: not
  intact           the mbox is parsed afterwards: every message that got
                   250 must be there exactly once, with its body intact
Servers:
  yubind   a fresh `yubind -S DIR` per run (smtp on 127.0.0.1:0, the other
           listeners off, max_connections_per_ip 200, user bench in
           DIR/etc/yubin.passwd, mailbox DIR/mail/bench).
  postfix  one private instance for the whole benchmark, made from the
           shared peer kit (PEERS/postfix/main.cf, master.cf; binaries
           unpacked with dpkg -x into PFROOT), on a free port, delivering
           with local(8) into its own spool (WORK/postfix/mail/USER).
           Needs root, the system users postfix and USER and the group
           postdrop; --setup-postfix creates them and unpacks the .deb
           (apt-get download postfix).  Without them Postfix is skipped,
           the reason is printed, and yubind is compared with the
           baseline figures (BASELINE.md) instead.
The two servers run interleaved (yubind, postfix, postfix, yubind, ...).
Afterwards, unless --no-strace: one more c=10 run of yubind under
`strace -f -y -e trace=fsync,fdatasync,write,writev,sendto,sendmsg`
(group commit: fsyncs and mbox writes per message) and one under
`strace -c -f` (all system calls per message); with Postfix, one c=10
run of Postfix under `strace -c -f` (fsyncs per message).  Traced runs
are slower and are not in the medians.
Prints a table and JSON lines (stdout, and --json FILE).
Needs YUBIND (or --yubind); not part of make check.
"""

import argparse
import grp
import os
import pwd
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import (emit, free_port, json_to, loadavg, med, note, pct,
                      proc_list, proc_status, set_conf, wait_greeting)

HERE = os.path.dirname(os.path.abspath(__file__))

# Postfix 3.7 on this kind of machine (../shared/bench/BASELINE.md, SMTP
# table, median of 3): accept msg/s and delivered msg/s by concurrency.
BASELINE_POSTFIX = {1: (429, 424), 10: (698, 496), 50: (553, 345)}
TARGET_FACTOR = 2.0


# ------------------------------------------------------------ messages

class Messages:
    """The N messages of one run: same body, unique marker per message."""

    def __init__(self, n, size, rcpt, sender="bench-sender@localhost"):
        self.n, self.rcpt, self.sender = n, rcpt, sender
        self.run = "%x%04x" % (int(time.time() * 1000), os.getpid() & 0xffff)
        alpha = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        lines, total, i = [], 0, 0
        while size - total > 82:
            rot = alpha[i % len(alpha):] + alpha[:i % len(alpha)]
            lines.append((rot * 2)[:78] + b"\r\n")
            total += 80
            i += 1
        if size - total >= 3:
            lines.append(alpha[:size - total - 2] + b"\r\n")
        self.body = b"".join(lines)              # exactly size bytes, CRLF
        self.body_lf = self.body.replace(b"\r\n", b"\n")
        self.mail = ("MAIL FROM:<%s>\r\n" % sender).encode()
        self.rcpt_cmd = ("RCPT TO:<%s>\r\n" % rcpt).encode()
        self.tail = self.body + b".\r\n"

    def text(self, seq):
        hdr = ("From: Bench <%s>\r\nTo: <%s>\r\nSubject: bench %d\r\n"
               "Date: Sun, 22 Nov 2026 00:00:00 +0000\r\n"
               "Message-ID: <%s.%d@smtpbench>\r\nX-Bench: %s %d\r\n\r\n"
               % (self.sender, self.rcpt, seq, self.run, seq, self.run, seq))
        return hdr.encode() + self.tail


# ------------------------------------------------------------ load

class Conn:
    __slots__ = ("sock", "state", "rbuf", "wbuf", "seq", "t_dot", "done")


def load(host, port, msgs, conc, timeout=600.0):
    """Send msgs.n messages over conc connections, lockstep.  Returns a
    dict: ok (list of seqs that got 250), errors, latencies (s)."""
    sel = selectors.DefaultSelector()
    st = {"next": 0, "ok": [], "err": 0, "codes": {}, "lat": [],
          "lost": [], "open": 0}
    conns = []
    for _ in range(conc):
        s = socket.create_connection((host, port), timeout=30)
        s.setblocking(False)
        c = Conn()
        c.sock, c.state, c.rbuf, c.wbuf = s, "greet", b"", b""
        c.seq, c.t_dot, c.done = None, 0.0, False
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
        st["open"] += 1

    def send(c, data):
        if c.wbuf:
            c.wbuf += data
            return
        try:
            k = c.sock.send(data)
        except BlockingIOError:
            k = 0
        if k < len(data):
            c.wbuf = data[k:]
            sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def close(c):
        if not c.done:
            c.done = True
            sel.unregister(c.sock)
            c.sock.close()
            st["open"] -= 1

    def bad(c, code):
        st["err"] += 1
        key = "%s:%s" % (c.state, code)
        st["codes"][key] = st["codes"].get(key, 0) + 1

    def next_msg(c):
        if st["next"] < msgs.n:
            c.seq = st["next"]
            st["next"] += 1
            c.state = "mail"
            send(c, msgs.mail)
        else:
            c.seq = None
            c.state = "quit"
            send(c, b"QUIT\r\n")

    def reply(c, code):
        s = c.state
        if s == "greet":
            if code != 220:
                bad(c, code)
                close(c)
                return
            c.state = "ehlo"
            send(c, b"EHLO loadgen.localdomain\r\n")
        elif s == "ehlo":
            if code != 250:
                bad(c, code)
                close(c)
                return
            next_msg(c)
        elif s == "mail":
            if code != 250:
                bad(c, code)
                c.state = "rset"
                send(c, b"RSET\r\n")
                return
            c.state = "rcpt"
            send(c, msgs.rcpt_cmd)
        elif s == "rcpt":
            if code not in (250, 251):
                bad(c, code)
                c.state = "rset"
                send(c, b"RSET\r\n")
                return
            c.state = "data"
            send(c, b"DATA\r\n")
        elif s == "data":
            if code != 354:
                bad(c, code)
                c.state = "rset"
                send(c, b"RSET\r\n")
                return
            c.state = "dot"
            c.t_dot = time.monotonic()
            send(c, msgs.text(c.seq))
        elif s == "dot":
            if code == 250:
                st["ok"].append(c.seq)
                st["lat"].append(time.monotonic() - c.t_dot)
            else:
                bad(c, code)
            next_msg(c)
        elif s == "rset":
            next_msg(c)
        elif s == "quit":
            close(c)

    end = time.monotonic() + timeout
    while st["open"] > 0:
        if time.monotonic() > end:
            for c in conns:
                if not c.done:
                    bad(c, "timeout")
                    close(c)
            break
        for key, ev in sel.select(1.0):
            c = key.data
            if c.done:
                continue
            if ev & selectors.EVENT_WRITE and c.wbuf:
                try:
                    k = c.sock.send(c.wbuf)
                except BlockingIOError:
                    k = 0
                except OSError:
                    k = -1
                if k < 0:
                    bad(c, "send")
                    close(c)
                    continue
                c.wbuf = c.wbuf[k:]
                if not c.wbuf:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if not ev & selectors.EVENT_READ:
                continue
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                if c.state != "quit":
                    bad(c, "eof")
                    if c.state == "dot":
                        st["lost"].append(c.seq)
                close(c)
                continue
            c.rbuf += data
            while not c.done:
                i = c.rbuf.find(b"\n")
                if i < 0:
                    break
                ln, c.rbuf = c.rbuf[:i + 1], c.rbuf[i + 1:]
                if len(ln) >= 4 and ln[3:4] == b"-":
                    continue
                try:
                    code = int(ln[:3])
                except ValueError:
                    code = 0
                reply(c, code)
    sel.close()
    return st


class MboxCounter:
    """Counts From_ lines, reading only what was appended since the last
    poll."""

    def __init__(self, path):
        self.path, self.off, self.count, self.last = path, 0, 0, b"\n"

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except OSError:
            return self.count
        if data:
            self.off += len(data)
            buf = self.last + data
            self.count += buf.count(b"\nFrom ") - self.last.count(b"\nFrom ")
            self.last = buf[-6:]
        return self.count


def verify(path, msgs, ok_seqs):
    """Parse the mbox: every seq that got 250 exactly once, nothing
    else of this run, bodies intact."""
    with open(path, "rb") as f:
        data = f.read()
    parts = re.split(rb"(?:^|\n)(?=From )", data)
    parts = [p for p in parts if p.startswith(b"From ")]
    seen, dups, corrupt, foreign = {}, 0, 0, 0
    rx = re.compile(rb"\nX-Bench: (\S+) (\d+)\n")
    want_tail = msgs.body_lf
    for p in parts:
        m = rx.search(p)
        if m is None or m.group(1).decode() != msgs.run:
            foreign += 1
            continue
        seq = int(m.group(2))
        if seq in seen:
            dups += 1
        seen[seq] = seen.get(seq, 0) + 1
        hb = p.find(b"\n\n")
        body = p[hb + 2:] if hb >= 0 else b""
        # the blank line before the next From_ is the mbox's, not ours
        if body.rstrip(b"\n") != want_tail.rstrip(b"\n"):
            corrupt += 1
    ok = set(ok_seqs)
    missing = len(ok - set(seen))
    extra = len(set(seen) - ok)
    return {"mbox_messages": len(parts), "unique": len(seen),
            "duplicates": dups, "missing": missing, "unacked_present": extra,
            "corrupt": corrupt, "foreign": foreign,
            "intact": (missing == 0 and dups == 0 and corrupt == 0 and
                       foreign == 0 and len(seen) == len(ok) == msgs.n),
            "mbox_bytes": len(data)}


PERF_EVENTS = ("syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync",
               "raw_syscalls:sys_enter")


def perf_ok():
    """Can perf count system call tracepoints here?"""
    if shutil.which("perf") is None:
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", PERF_EVENTS[0], "true"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return r.returncode == 0 and b"sys_enter_fsync" in r.stderr and \
        b"not supported" not in r.stderr


def perf_start(pid, out):
    p = subprocess.Popen(["perf", "stat", "-x,", "-o", out, "-e",
                          ",".join(PERF_EVENTS), "-p", str(pid)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return p


def perf_stop(p, out):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
    got = {}
    try:
        with open(out) as f:
            for ln in f:
                w = ln.strip().split(",")
                if len(w) >= 3 and w[2] in PERF_EVENTS:
                    try:
                        got[w[2]] = int(w[0])
                    except ValueError:
                        pass
    except OSError:
        pass
    return got


def measure(server, host, port, mbox, a, conc, label, pid=None):
    """One run against a running server; returns the JSON dict."""
    msgs = Messages(a.n, a.s, server.rcpt)
    perf = None
    if getattr(a, "perf", False) and server.name == "yubind":
        perf_out = os.path.join(server.dir, "perf.stat")
        perf = perf_start(server.pid, perf_out)
    mc = MboxCounter(mbox)
    base = mc.poll()
    la0 = loadavg()
    srv_cpu0 = server.cpu()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    st = load(host, port, msgs, conc, timeout=a.timeout)
    t_acc = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    got = mc.poll() - base
    while got < len(st["ok"]) and time.monotonic() - t0 < a.timeout:
        time.sleep(0.01)
        got = mc.poll() - base
    t_del = time.monotonic() - t0
    srv_cpu1 = server.cpu()
    if perf is not None:
        got_perf = perf_stop(perf, perf_out)
    cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime)
    res = {"tool": "yubin-bench-smtp", "label": label, "server": server.name,
           "n": a.n, "size": a.s, "conc": conc, "accepted": len(st["ok"]),
           "errors": st["err"], "error_codes": st["codes"],
           "accept_s": round(t_acc, 3), "accept_rate": round(a.n / t_acc, 1),
           "delivered": got, "deliver_s": round(t_del, 3),
           "deliver_rate": round(got / t_del, 1),
           "lat_p50_ms": pct(st["lat"], 50), "lat_p99_ms": pct(st["lat"], 99),
           "client_cpu_s": round(cpu, 3),
           "client_cpu_pct": round(100 * cpu / t_acc, 1)}
    if srv_cpu0 is not None and srv_cpu1 is not None:
        res["server_cpu_s"] = round(srv_cpu1 - srv_cpu0, 3)
        res["server_cpu_pct"] = round(100 * (srv_cpu1 - srv_cpu0) / t_del, 1)
    if perf is not None and got_perf:
        nok = float(len(st["ok"]) or 1)
        fs = got_perf.get(PERF_EVENTS[0], 0) + got_perf.get(PERF_EVENTS[1], 0)
        res["fsyncs"] = fs
        res["fsync_per_msg"] = round(fs / nok, 3)
        res["msgs_per_fsync"] = round(nok / max(fs, 1), 2)
        if PERF_EVENTS[2] in got_perf:
            res["syscalls_per_msg"] = round(got_perf[PERF_EVENTS[2]] / nok, 1)
    res.update(verify(mbox, msgs, st["ok"]))
    rss = server.rss_peak()
    if rss is not None:
        res["rss_peak_kb"] = rss
    la1 = loadavg()
    res["loadavg1_before"] = la0[0] if la0 else None
    res["loadavg1"] = la1[0] if la1 else None
    return res


# ------------------------------------------------------------ servers

class Yubind(benchlib.Yubind):
    """A fresh daemon for every run: user bench's mbox, as many
    connections from 127.0.0.1 as the benchmark opens."""

    def __init__(self, binary, work, log_level=None, extra=()):
        benchlib.Yubind.__init__(self, binary, work)
        self.log_level, self.extra = log_level, list(extra)
        self.user, self.rcpt = "bench", "bench@localhost"

    def start(self):
        d = self.sandbox()
        conf = ["max_connections_per_ip 200"]
        if self.log_level:
            conf.append("log_level %s" % self.log_level)
        self.launch("smtp", conf + self.extra, {self.user: "secret"})
        self.mbox = os.path.join(d, "mail", self.user)
        return self

    def rss_peak(self):
        return proc_status(self.pid, "VmHWM")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Postfix:
    name = "postfix"

    def __init__(self, a, work):
        self.a, self.work = a, work
        self.pfroot = a.pfroot
        self.user = a.pf_user
        self.rcpt = "%s@localhost" % self.user
        self.d = os.path.join(work, "postfix")
        self.env = dict(os.environ,
                        LD_LIBRARY_PATH=os.path.join(self.pfroot,
                                                     "usr/lib/postfix"))
        self.master = None

    def problem(self):
        """Why Postfix cannot run here (None if it can)."""
        kit = os.path.join(self.a.peers, "postfix")
        for f in ("main.cf", "master.cf"):
            if not os.path.isfile(os.path.join(kit, f)):
                return "peer kit file %s/%s not found (--peers)" % (kit, f)
        if os.geteuid() != 0:
            return "not root (Postfix's master and local(8) need root)"
        if not os.access(os.path.join(self.pfroot, "usr/sbin/postfix"),
                          os.X_OK):
            return ("no Postfix binaries in %s (run with --setup-postfix: "
                    "apt-get download postfix; dpkg -x)" % self.pfroot)
        for u in ("postfix", self.user):
            try:
                pwd.getpwnam(u)
            except KeyError:
                return ("no system user %s (run with --setup-postfix)" % u)
        try:
            grp.getgrnam("postdrop")
        except KeyError:
            return "no group postdrop (run with --setup-postfix)"
        return None

    def setup(self):
        """--setup-postfix: unpack the .deb and make the users (root)."""
        if os.geteuid() != 0:
            note("--setup-postfix needs root")
            return
        if not os.access(os.path.join(self.pfroot, "usr/sbin/postfix"),
                          os.X_OK):
            debs = os.path.join(os.path.dirname(self.pfroot), "debs")
            os.makedirs(debs, exist_ok=True)
            note("apt-get download postfix -> %s" % debs)
            subprocess.call(["apt-get", "download", "postfix"], cwd=debs)
            found = [f for f in os.listdir(debs)
                     if f.startswith("postfix_") and f.endswith(".deb")]
            if found:
                subprocess.call(["dpkg", "-x",
                                 os.path.join(debs, sorted(found)[-1]),
                                 self.pfroot])
        try:
            grp.getgrnam("postdrop")
        except KeyError:
            subprocess.call(["groupadd", "--system", "postdrop"])
        for u, extra in (("postfix", ["--system"]), (self.user, [])):
            try:
                pwd.getpwnam(u)
            except KeyError:
                subprocess.call(["useradd"] + extra +
                                ["-M", "-d", "/nonexistent", "-s",
                                 "/usr/sbin/nologin", "-U", u])

    def pf(self, *args):
        return subprocess.run([os.path.join(self.pfroot, "usr/sbin/postfix"),
                               "-c", os.path.join(self.d, "etc")] +
                              list(args), env=self.env,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)

    def start(self):
        d = self.d
        for sub in ("etc", "spool", "data", "mail"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        for p in (self.work, d):
            os.chmod(p, 0o755)
        os.chmod(os.path.join(d, "mail"), 0o1777)
        os.chown(os.path.join(d, "data"), pwd.getpwnam("postfix").pw_uid, -1)
        self.port = self.a.postfix_port or free_port()
        kit = os.path.join(self.a.peers, "postfix")
        subst = {"queue_directory": os.path.join(d, "spool"),
                 "data_directory": os.path.join(d, "data"),
                 "maillog_file": os.path.join(d, "maillog"),
                 "maillog_file_prefixes": d,
                 "mail_spool_directory": os.path.join(d, "mail")}
        with open(os.path.join(kit, "main.cf")) as f:
            main = set_conf(f.read(), subst)
        for k in ("command_directory", "daemon_directory", "meta_directory",
                  "shlib_directory"):
            main = re.sub(r"(?m)^(%s\s*=\s*)/tmp/peerbench/pfroot" % k,
                          r"\g<1>" + self.pfroot, main)
        main = main.replace("LD_LIBRARY_PATH=/tmp/peerbench/pfroot",
                            "LD_LIBRARY_PATH=" + self.pfroot)
        with open(os.path.join(kit, "master.cf")) as f:
            master = f.read()
        master, n = re.subn(r"(?m)^127\.0\.0\.1:\d+(\s+inet\s)",
                            r"127.0.0.1:%d\1" % self.port, master)
        if n != 1:
            raise RuntimeError("master.cf: no 127.0.0.1:PORT inet line")
        for name, text in (("main.cf", main), ("master.cf", master)):
            with open(os.path.join(d, "etc", name), "w") as f:
                f.write(text)
        self.pf("set-permissions")      # complains about the setgid bits
        r = self.pf("start")
        pidf = os.path.join(d, "spool", "pid", "master.pid")
        end = time.monotonic() + 10
        while time.monotonic() < end and self.master is None:
            try:
                with open(pidf) as f:
                    self.master = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.1)
        if self.master is None or not wait_greeting(self.port, 15, "smtp"):
            log = ""
            try:
                with open(os.path.join(d, "maillog")) as f:
                    log = f.read()[-1500:]
            except OSError:
                pass
            raise RuntimeError("postfix start failed: %s\n%s" % (
                r.stdout.decode("utf-8", "replace")[-1500:], log))
        self.mbox = os.path.join(d, "mail", self.user)
        return self

    def reset_mbox(self):
        fd = os.open(self.mbox, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        pw = pwd.getpwnam(self.user)
        os.chown(self.mbox, pw.pw_uid, pw.pw_gid)

    def pids(self):
        """master and its children."""
        return [self.master] + [p[0] for p in proc_list()
                                if p[1] == self.master]

    def cpu(self):
        # only live processes; smtpd/cleanup/local exit when idle, so this
        # undercounts; reported for information only
        return None

    def rss_peak(self):
        return None

    def version(self):
        r = subprocess.run([os.path.join(self.pfroot, "usr/sbin/postconf"),
                            "-c", os.path.join(self.d, "etc"), "-h",
                            "mail_version"], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return r.stdout.decode().strip()

    def stop(self):
        if self.master is None:
            return
        self.pf("stop")
        end = time.monotonic() + 15
        while time.monotonic() < end:
            try:
                os.kill(self.master, 0)
            except OSError:
                break
            time.sleep(0.1)
        self.master = None


# ------------------------------------------------------------ strace

def strace_cmd():
    return shutil.which("strace")


def start_strace(pids, args, out):
    cmd = [strace_cmd(), "-f", "-o", out] + args
    for p in pids:
        cmd += ["-p", str(p)]
    err = open(out + ".stderr", "wb")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err,
                         stderr=err)
    # wait for every "Process N attached"
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with open(out + ".stderr", "rb") as f:
            if f.read().count(b"attached") >= len(pids):
                break
        if p.poll() is not None:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    return p, err


def stop_strace(p, err):
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    err.close()


def parse_strace_c(path):
    """strace -c table -> {syscall: (calls, errors, seconds)}."""
    out = {}
    try:
        with open(path) as f:
            for ln in f:
                w = ln.split()
                if len(w) >= 5 and re.match(r"^[\d.]+$", w[0]) and \
                        w[-1] not in ("total",):
                    try:
                        calls = int(w[3])
                        errs = int(w[4]) if len(w) == 6 else 0
                        out[w[-1]] = (calls, errs, float(w[1]))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def parse_strace_y(path, mbox):
    """strace -f -y trace -> counts by kind of descriptor."""
    mb = os.path.realpath(mbox)
    c = {"fsync_mbox": 0, "fsync_other": 0, "write_mbox": 0,
         "write_mbox_bytes": 0, "write_sock": 0, "write_log": 0,
         "write_lock": 0, "write_other": 0}
    sizes = []
    rx = re.compile(r"^(?:\d+\s+)?(\w+)\((\d+)<([^>]*)>.*?=\s*(-?\d+)")
    with open(path, errors="replace") as f:
        for ln in f:
            m = rx.match(ln)
            if not m:
                continue
            call, target, ret = m.group(1), m.group(3), int(m.group(4))
            is_mbox = target == mb or target.startswith(mb + " ")
            if call in ("fsync", "fdatasync"):
                c["fsync_mbox" if is_mbox else "fsync_other"] += 1
            elif call in ("write", "writev", "sendto", "sendmsg"):
                if is_mbox:
                    c["write_mbox"] += 1
                    if ret > 0:
                        c["write_mbox_bytes"] += ret
                        sizes.append(ret)
                elif target.startswith(mb + "."):
                    c["write_lock"] += 1        # dotlock: bench.lkPID.N
                elif target.startswith(("TCP", "UNIX", "socket")):
                    c["write_sock"] += 1
                elif target.endswith(".log") or target.endswith(".stderr"):
                    c["write_log"] += 1
                else:
                    c["write_other"] += 1
    return c, sizes


# ------------------------------------------------------------ report

def fmt(x):
    """Three significant figures below 10: not benchlib.fmt (two decimals
    there), so that the SMTP table reads as in the reports before it."""
    if x is None:
        return "-"
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.3g" % x


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return "%s [%s-%s]" % (fmt(med(xs)), fmt(min(xs)), fmt(max(xs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("-s", type=int, default=4096)
    ap.add_argument("-c", default="1,10,50")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--yubind", default=os.environ.get("YUBIND"))
    ap.add_argument("--postfix", default="auto",
                    choices=["auto", "off", "require"])
    ap.add_argument("--setup-postfix", action="store_true")
    ap.add_argument("--peers", default=os.environ.get(
        "PEERS", benchlib.PEERS_DEFAULT))
    ap.add_argument("--pfroot", default=os.environ.get(
        "PFROOT", "/tmp/peerbench/pfroot"))
    ap.add_argument("--pf-user", default="bench4")
    ap.add_argument("--postfix-port", type=int, default=0)
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--no-perf", action="store_true",
                    help="do not count yubind's fsyncs with perf stat")
    ap.add_argument("--log-level", default=None,
                    help="yubind log_level (default: the daemon's default)")
    ap.add_argument("--yubin-conf", action="append", default=[],
                    metavar="LINE", help="extra yubin.conf line for yubind, "
                    "e.g. 'lock lockf' (repeatable)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", default=None, help="append JSON lines here")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory")
    a = ap.parse_args()
    concs = [int(x) for x in a.c.replace(",", " ").split()]
    if not a.yubind:
        for y in (os.path.join(HERE, "..", "yubind"), "./yubind"):
            if os.access(y, os.X_OK):
                a.yubind = y
                break
    if not a.yubind or not os.access(a.yubind, os.X_OK):
        sys.exit("smtp.py: no yubind (set YUBIND or --yubind)")
    a.yubind = os.path.abspath(a.yubind)
    a.peers = os.path.abspath(a.peers)
    if a.json:
        json_to(a.json)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 and hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))

    a.perf = not a.no_perf and perf_ok()
    work = tempfile.mkdtemp(prefix="yubin-smtpbench-")
    os.chmod(work, 0o755)
    y = Yubind(a.yubind, work, a.log_level, a.yubin_conf)
    pf = None
    pf_why = None
    if a.postfix != "off":
        pf = Postfix(a, work)
        if a.setup_postfix:
            pf.setup()
        pf_why = pf.problem()
        if pf_why is None:
            try:
                pf.start()
            except Exception as e:          # noqa: BLE001
                pf_why = "postfix did not start: %s" % e
                pf.stop()
        if pf_why is not None:
            if a.postfix == "require":
                sys.exit("smtp.py: Postfix: " + pf_why)
            note("Postfix skipped: " + pf_why)
            note("yubind is compared with the baseline figures instead")
            pf = None
    env = {"tool": "yubin-bench-smtp", "label": "env",
           "yubind": a.yubind, "n": a.n, "size": a.s, "conc": concs,
           "reps": a.reps, "yubin_conf": a.yubin_conf,
           "log_level": a.log_level, "ncpu": os.cpu_count(), "loadavg": loadavg(),
           "postfix": (pf.version() if pf else None),
           "postfix_port": (pf.port if pf else None),
           "postfix_skipped": pf_why, "uname": " ".join(os.uname())}
    emit(env)

    runs = []
    try:
        for c in concs:
            for r in range(a.reps):
                order = ["yubind", "postfix"] if r % 2 == 0 else \
                    ["postfix", "yubind"]
                for who in order:
                    if who == "postfix":
                        if pf is None:
                            continue
                        pf.reset_mbox()
                        time.sleep(0.5)
                        res = measure(pf, "127.0.0.1", pf.port, pf.mbox, a,
                                      c, "postfix/smtp-%dx%d-c%d" %
                                      (a.n, a.s, c))
                    else:
                        y.start()
                        try:
                            time.sleep(0.3)
                            res = measure(y, "127.0.0.1", y.port, y.mbox, a,
                                          c, "yubind/smtp-%dx%d-c%d" %
                                          (a.n, a.s, c))
                        finally:
                            y.stop()
                            y.cleanup()
                    res["rep"] = r + 1
                    runs.append(res)
                    emit(res)
                    time.sleep(1)
        traces = []
        if not a.no_strace and strace_cmd() is None:
            note("strace not found: no system call figures")
        elif not a.no_strace:
            traces = strace_runs(a, y, pf)
    finally:
        if pf is not None:
            pf.stop()
        if a.keep:
            note("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(a, concs, runs, traces, pf_why)


def strace_runs(a, y, pf):
    out = []
    a.perf = False
    c = 10 if 10 in [int(x) for x in a.c.replace(",", " ").split()] else \
        int(a.c.replace(",", " ").split()[0])
    # 1. group commit: fsync and write per descriptor
    y.start()
    try:
        tr = os.path.join(y.work, "strace.y.%d" % y.nrun)
        p, err = start_strace([y.pid], ["-y", "-qq", "-e", "signal=none",
                                        "-e", "trace=fsync,fdatasync,write,"
                                        "writev,sendto,sendmsg"], tr)
        res = measure(y, "127.0.0.1", y.port, y.mbox, a, c,
                      "yubind/strace-writes-c%d" % c)
        stop_strace(p, err)
        cnt, sizes = parse_strace_y(tr, y.mbox)
        n = res["accepted"] or 1
        res.update(cnt)
        res["msgs_per_fsync"] = round(n / max(cnt["fsync_mbox"], 1), 2)
        res["fsync_per_msg"] = round(cnt["fsync_mbox"] / float(n), 3)
        res["mbox_write_per_msg"] = round(cnt["write_mbox"] / float(n), 3)
        res["sock_write_per_msg"] = round(cnt["write_sock"] / float(n), 3)
        res["log_write_per_msg"] = round(cnt["write_log"] / float(n), 3)
        if sizes:
            res["mbox_write_bytes_p50"] = int(med(sizes))
            res["mbox_write_bytes_max"] = max(sizes)
        emit(res)
        out.append(res)
    finally:
        y.stop()
        y.cleanup()
    time.sleep(1)
    # 2. all system calls
    y.start()
    try:
        tr = os.path.join(y.work, "strace.c.%d" % y.nrun)
        p, err = start_strace([y.pid], ["-c", "-qq"], tr)
        res = measure(y, "127.0.0.1", y.port, y.mbox, a, c,
                      "yubind/strace-count-c%d" % c)
        stop_strace(p, err)
        calls = parse_strace_c(tr)
        n = float(res["accepted"] or 1)
        res["syscalls_per_msg"] = round(sum(v[0] for v in calls.values()) / n,
                                        2)
        res["syscalls"] = {k: v[0] for k, v in sorted(
            calls.items(), key=lambda kv: -kv[1][0])}
        res["syscall_errors"] = {k: v[1] for k, v in calls.items() if v[1]}
        emit(res)
        out.append(res)
    finally:
        y.stop()
        y.cleanup()
    # 3. Postfix fsyncs (fresh instance so smtpd/cleanup/local are traced)
    if pf is not None:
        time.sleep(1)
        pf.stop()
        pf.start()
        pf.reset_mbox()
        tr = os.path.join(pf.work, "strace.pf")
        p, err = start_strace(pf.pids(), ["-c", "-qq", "-e",
                                          "trace=fsync,fdatasync,write,"
                                          "writev,rename,fchown,openat"], tr)
        res = measure(pf, "127.0.0.1", pf.port, pf.mbox, a, c,
                      "postfix/strace-count-c%d" % c)
        time.sleep(1)
        stop_strace(p, err)
        calls = parse_strace_c(tr)
        n = float(res["accepted"] or 1)
        res["syscalls"] = {k: v[0] for k, v in calls.items()}
        fs = sum(calls.get(k, (0,))[0] for k in ("fsync", "fdatasync"))
        res["fsync_per_msg"] = round(fs / n, 3)
        emit(res)
        out.append(res)
    return out


def report(a, concs, runs, traces, pf_why):
    def sel(server, c):
        return [r for r in runs if r["server"] == server and r["conc"] == c]

    print()
    print("SMTP: %d msgs x %d B body to one local mbox, medians [min-max] "
          "of %d runs, interleaved" % (a.n, a.s, a.reps))
    hdr = ("| server | c | n | accept msg/s | all in mbox s | delivered "
           "msg/s | vs Postfix | DATA->250 p50/p99 ms | client CPU % | "
           "yubind CPU % | peak RSS MB | msgs/fsync | syscalls/msg | "
           "intact | loadavg1 |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    summary = []
    for c in concs:
        pfd = med([r["deliver_rate"] for r in sel("postfix", c)])
        base_acc, base_del = BASELINE_POSTFIX.get(c, (None, None))
        rows = [("postfix", sel("postfix", c)), ("yubind", sel("yubind", c))]
        for server, rs in rows:
            if not rs:
                continue
            d = med([r["deliver_rate"] for r in rs])
            if server == "yubind":
                ref = pfd if pfd else base_del
                vs = ("%.2fx %s" % (d / ref, "(run)" if pfd else "(baseline)")
                      if ref else "-")
            else:
                vs = "1x"
            rss = [r.get("rss_peak_kb") for r in rs]
            rss = [x / 1024.0 for x in rss if x is not None]
            intact = "%d/%d" % (sum(1 for r in rs if r["intact"]), len(rs))
            print("| %s | %d | %d | %s | %s | %s | %s | %s / %s | %s | %s | "
                  "%s | %s | %s | %s | %s |" % (
                      server, c, len(rs),
                      spread([r["accept_rate"] for r in rs]),
                      spread([r["deliver_s"] for r in rs]),
                      spread([r["deliver_rate"] for r in rs]), vs,
                      fmt(med([r["lat_p50_ms"] for r in rs])),
                      fmt(med([r["lat_p99_ms"] for r in rs])),
                      spread([r["client_cpu_pct"] for r in rs]),
                      spread([r.get("server_cpu_pct") for r in rs]),
                      spread(rss) if rss else "-",
                      spread([r.get("msgs_per_fsync") for r in rs]),
                      spread([r.get("syscalls_per_msg") for r in rs]), intact,
                      spread([r["loadavg1"] for r in rs])))
            s = {"tool": "yubin-bench-smtp", "label": "summary",
                 "server": server, "conc": c, "runs": len(rs),
                 "accept_rate_med": med([r["accept_rate"] for r in rs]),
                 "deliver_rate_med": d,
                 "deliver_rate_min": min(r["deliver_rate"] for r in rs),
                 "deliver_rate_max": max(r["deliver_rate"] for r in rs),
                 "deliver_s_med": med([r["deliver_s"] for r in rs]),
                 "all_intact": all(r["intact"] for r in rs)}
            if server == "yubind":
                s["postfix_deliver_rate_med"] = pfd
                s["baseline_postfix_deliver_rate"] = base_del
                ref = pfd if pfd else base_del
                s["ratio"] = round(d / ref, 2) if ref else None
                s["target"] = round(TARGET_FACTOR * ref, 1) if ref else None
                s["meets_target"] = (d >= TARGET_FACTOR * ref) if ref else None
                if rss:
                    s["rss_peak_mb_max"] = round(max(rss), 1)
            summary.append(s)
    print()
    print("Baseline (BASELINE.md, Postfix 3.7, same kind of machine): "
          "delivered msg/s " + ", ".join(
              "c=%d %d" % (c, BASELINE_POSTFIX[c][1]) for c in concs
              if c in BASELINE_POSTFIX) +
          "; target: yubind >= %gx Postfix's delivered msg/s." % TARGET_FACTOR)
    if pf_why:
        print("Postfix not run: %s" % pf_why)
    for s in summary:
        if s["server"] == "yubind":
            print("c=%d: yubind %s delivered msg/s vs target %s (%s Postfix "
                  "%s): %s" % (
                      s["conc"], fmt(s["deliver_rate_med"]),
                      fmt(s["target"]),
                      "%gx" % TARGET_FACTOR,
                      "this run" if s["postfix_deliver_rate_med"] else
                      "baseline",
                      "MET" if s["meets_target"] else "NOT MET"))
    for t in traces:
        if t["label"].startswith("yubind/strace-writes"):
            print("group commit (c=%d, under strace): %d messages, %d "
                  "fsyncs of the mbox (%.2f msgs/fsync), %d mbox writes, "
                  "%.2f socket writes/msg, %.2f log writes/msg" % (
                      t["conc"], t["accepted"], t["fsync_mbox"],
                      t["msgs_per_fsync"], t["write_mbox"],
                      t["sock_write_per_msg"], t["log_write_per_msg"]))
        elif t["label"].startswith("yubind/strace-count"):
            top = list(t["syscalls"].items())[:8]
            print("yubind system calls (c=%d, strace -c): %.1f per message; "
                  "top: %s" % (t["conc"], t["syscalls_per_msg"], ", ".join(
                      "%s %.2f" % (k, v / float(t["accepted"] or 1))
                      for k, v in top)))
        elif t["label"].startswith("postfix/strace"):
            print("postfix (c=%d, strace -c -f): %.2f fsync per message" % (
                t["conc"], t["fsync_per_msg"]))
    for s in summary:
        emit(s)


if __name__ == "__main__":
    main()

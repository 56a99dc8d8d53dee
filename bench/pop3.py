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
import json
import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

SIZES = {"10k": (10000, 1, "bench1"), "100k": (100000, 2, "bench2")}
PASSWORD = "benchpass"
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
OUT = None


def emit(obj):
    line = json.dumps(obj)
    print(line, flush=True)
    if OUT is not None:
        OUT.write(line + "\n")
        OUT.flush()


def note(msg):
    print("# " + msg, flush=True)


def loadavg1():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return None


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(key + ":"):
                    return int(ln.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            w = f.read().rsplit(")", 1)[1].split()
        return (int(w[11]) + int(w[12])) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


MAX_RETR_S = 60.0      # --max-retr-s
SERVER_CPUS = None     # --pin: the servers' CPUs (None: not pinned)


def pin_server():
    """preexec_fn for every server process (children inherit it)."""
    if SERVER_CPUS is not None:
        os.sched_setaffinity(0, SERVER_CPUS)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_greeting(port, timeout, alive=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
            ln = s.recv(512)
            s.sendall(b"QUIT\r\n")
            s.close()
            if ln.startswith(b"+OK"):
                return True
        except OSError:
            pass
        if alive is not None and not alive():
            return False
        time.sleep(0.1)
    return False


# ------------------------------------------------------------ data

def make_data(a, size):
    n, seed, _ = SIZES[size]
    os.makedirs(a.data, exist_ok=True)
    path = os.path.join(a.data, "m%s.mbox" % size)
    stamp = path + ".ok"
    if os.path.exists(stamp) and os.path.exists(path):
        return path
    mk = os.path.join(a.kit, "mkmbox.py")
    note("generating %s (mkmbox.py -n %d --seed %d)" % (path, n, seed))
    subprocess.check_call([sys.executable, mk, "-n", str(n), "--seed",
                           str(seed), "-o", path])
    with open(stamp, "w") as f:
        f.write("%d\n" % os.path.getsize(path))
    return path


class Pristine:
    """Message offsets of the generated file and the expected wire text of
    a sample of messages."""

    def __init__(self, path, nsample):
        with open(path, "rb") as f:
            data = f.read()
        starts = [0] if data.startswith(b"From ") else []
        i = 0
        while True:
            i = data.find(b"\n\nFrom ", i)
            if i < 0:
                break
            starts.append(i + 2)
            i += 2
        self.n = len(starts)
        rng = random.Random(12345)
        pick = set(rng.sample(range(self.n), min(nsample, self.n)))
        pick.update((0, self.n - 1))
        self.special = 0
        ends = starts[1:] + [len(data)]
        # messages with quoted From_ lines or lines starting with '.'
        for rx in (re.compile(rb"\n>+From "), re.compile(rb"\n\.")):
            for m in rx.finditer(data):
                k = self._index(starts, m.start())
                if k not in pick:
                    self.special += 1
                pick.add(k)
        self.expect = {}
        for k in sorted(pick):
            msg = data[starts[k]:ends[k]]
            msg = msg[msg.index(b"\n") + 1:]          # From_ line
            if k < self.n - 1 or msg.endswith(b"\n\n"):
                msg = msg[:-1]                        # separator line
            wire = msg.replace(b"\n", b"\r\n")
            if wire.startswith(b"."):
                wire = b"." + wire
            wire = wire.replace(b"\r\n.", b"\r\n..")
            self.expect[k + 1] = wire
        del data

    @staticmethod
    def _index(starts, off):
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= off:
                lo = mid
            else:
                hi = mid - 1
        return lo


# ------------------------------------------------------------ client

class Stall(Exception):
    pass


class Pop3:
    """Minimal POP3 client; TCP_NODELAY always, TCP_QUICKACK if quickack."""

    def __init__(self, port, quickack=False, stall=10.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(stall)
        self.qa = quickack
        self.buf, self.pos, self.nbytes = bytearray(), 0, 0

    def fill(self):
        if self.qa:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        try:
            d = self.s.recv(1 << 20)
        except socket.timeout:
            raise Stall()
        if not d:
            raise ConnectionError("server closed the connection")
        self.nbytes += len(d)
        shift = 0
        if self.pos > (8 << 20):
            # callers holding an index into buf must subtract shift
            shift = self.pos
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += d
        return shift

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                ln = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return ln
            self.fill()

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

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


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

class Yubind:
    name = "yubind"

    def __init__(self, a):
        self.a, self.binary = a, a.yubind
        self.proc, self.nrun, self.errf = None, 0, None

    def problem(self):
        if not self.binary or not os.access(self.binary, os.X_OK):
            return "no yubind binary (set YUBIND)"
        return None

    def version(self):
        return os.path.basename(self.binary)

    def prepare(self, size, src):
        """A fresh daemon with a fresh copy of the mbox."""
        self.stop()
        self.nrun += 1
        d = os.path.join(self.a.work, "yubind.%d" % self.nrun)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "etc"))
        os.makedirs(os.path.join(d, "mail"))
        self.user = SIZES[size][2]
        with open(os.path.join(d, "etc", "yubin.conf"), "w") as f:
            f.write("# written by bench/pop3.py\npop3_listen 127.0.0.1:0\n"
                    "smtp_listen\nsubmission_listen\nimap_listen\n")
        fd = os.open(os.path.join(d, "etc", "yubin.passwd"),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("%s:%s\n" % (self.user, PASSWORD))
        self.mbox = os.path.join(d, "mail", self.user)
        copy_mbox(src, self.mbox, None)
        self.dir = d
        self.errf = open(os.path.join(d, "yubind.stderr"), "wb")
        self.proc = subprocess.Popen([self.binary, "-S", d],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.errf, stderr=self.errf,
                                     preexec_fn=pin_server)
        self.pid = self.proc.pid
        end, self.port = time.monotonic() + 10, None
        while time.monotonic() < end and self.port is None:
            if self.proc.poll() is not None:
                break
            try:
                with open(os.path.join(d, "run", "ports")) as f:
                    for ln in f:
                        w = ln.split()
                        if len(w) == 3 and w[0] == "pop3":
                            self.port = int(w[2])
            except OSError:
                pass
            if self.port is None:
                time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError("yubind did not start (no pop3 line in "
                               "run/ports); see %s/yubind.stderr" % d)

    def mem(self):
        return {"rss_anon_kb": proc_status(self.pid, "RssAnon"),
                "vm_rss_kb": proc_status(self.pid, "VmRSS"),
                "vm_hwm_kb": proc_status(self.pid, "VmHWM")}

    def cpu(self):
        return proc_cpu(self.pid)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self.errf is not None:
            self.errf.close()
            self.errf = None

    def finish_run(self):
        if not self.a.keep:
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)


def copy_mbox(src, dst, user):
    tmp = dst + ".tmp%d" % os.getpid()
    shutil.copyfile(src, tmp)
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    os.chmod(tmp, 0o600)
    t = time.time() - 10
    os.utime(tmp, (t, t))
    os.rename(tmp, dst)


def need_root_users(users):
    if os.geteuid() != 0:
        return "not root"
    for u in users:
        try:
            pwd.getpwnam(u)
        except KeyError:
            return "no system user %s (--setup-peers)" % u
    return None


class Dovecot:
    name = "dovecot"

    def __init__(self, a):
        self.a = a
        self.d = os.path.join(a.work, "dovecot")
        self.started = False

    def problem(self):
        if shutil.which("dovecot") is None or \
                not os.path.exists("/usr/lib/dovecot/pop3"):
            return "dovecot-pop3d is not installed (--setup-peers)"
        if not os.path.isfile(os.path.join(self.a.peers, "dovecot",
                                           "dovecot.conf")):
            return "no peer kit dovecot/dovecot.conf (--peers)"
        return need_root_users(["bench1", "bench2", "dovecot", "dovenull"])

    def version(self):
        r = subprocess.run(["dovecot", "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        return "Dovecot " + r.stdout.decode().split()[0]

    def start(self):
        d = self.d
        for sub in ("run", "state", "mail", "home"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        for p in (self.a.work, d, os.path.join(d, "home")):
            os.chmod(p, 0o755)
        os.chmod(os.path.join(d, "mail"), 0o1777)
        self.port = free_port()
        with open(os.path.join(self.a.peers, "dovecot", "dovecot.conf")) as f:
            conf = f.read()
        subst = {"base_dir": os.path.join(d, "run"),
                 "state_dir": os.path.join(d, "state"),
                 "log_path": os.path.join(d, "dovecot.log"),
                 "instance_name": "dovecot-yubinbench%d" % os.getpid(),
                 "protocols": "pop3",
                 "mail_location": "mbox:~/mail:INBOX=%s/%%u" %
                 os.path.join(d, "mail")}
        for k, v in subst.items():
            conf, n = re.subn(r"(?m)^%s\s*=.*$" % k, "%s = %s" % (k, v), conf)
            if n == 0:
                conf += "%s = %s\n" % (k, v)
        conf = conf.replace("/tmp/peerbench/dovecot/users",
                            os.path.join(d, "users"))
        conf = re.sub(r"port = 20110", "port = %d" % self.port, conf)
        conf = re.sub(r"port = 20143", "port = 0", conf)
        with open(os.path.join(d, "dovecot.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(d, "users"), "w") as f:
            for u in ("bench1", "bench2"):
                pw = pwd.getpwnam(u)
                h = os.path.join(d, "home", u)
                os.makedirs(os.path.join(h, "mail"), exist_ok=True)
                for p in (h, os.path.join(h, "mail")):
                    os.chown(p, pw.pw_uid, pw.pw_gid)
                f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (u, PASSWORD, pw.pw_uid,
                                                       pw.pw_gid, h))
        os.chmod(os.path.join(d, "users"), 0o644)
        # not a pipe: the daemon keeps its stdout open
        with open(os.path.join(d, "start.out"), "wb") as out:
            r = subprocess.run(["dovecot", "-c",
                                os.path.join(d, "dovecot.conf")],
                               stdin=subprocess.DEVNULL, stdout=out,
                               stderr=out, preexec_fn=pin_server)
        if r.returncode != 0 or not wait_greeting(self.port, 15):
            with open(os.path.join(d, "start.out"), "rb") as f:
                raise RuntimeError("dovecot did not start: %s" %
                                   f.read().decode("utf-8", "replace")[-1500:])
        self.started = True

    def prepare(self, size, src):
        if not self.started:
            self.start()
        self.user = SIZES[size][2]
        self.mbox = os.path.join(self.d, "mail", self.user)
        copy_mbox(src, self.mbox, self.user)
        shutil.rmtree(os.path.join(self.d, "home", self.user, "mail", ".imap"),
                      ignore_errors=True)

    def finish_run(self):
        pass

    def stop(self):
        if self.started:
            subprocess.run(["doveadm", "-c", os.path.join(self.d, "dovecot.conf"),
                            "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.started = False


class Popa3d:
    name = "popa3d"

    def __init__(self, a):
        self.a = a
        self.d = os.path.join(a.work, "popa3d")
        self.proc = None
        self.bin = os.path.join(a.p3root, "usr/sbin/popa3d")

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
        if not wait_greeting(self.port, 10, lambda: self.proc.poll() is None):
            self.stop()
            raise RuntimeError("popa3d (tcpserver) did not start; see %s" %
                               os.path.join(self.d, "popa3d.log"))

    def prepare(self, size, src):
        if self.proc is None:
            self.start()
        self.user = SIZES[size][2]
        self.mbox = os.path.join(self.d, "mail", self.user)
        copy_mbox(src, self.mbox, self.user)

    def finish_run(self):
        pass

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
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
    for u in ("bench1", "bench2"):
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.call(["useradd", "-M", "-d", "/nonexistent", "-s",
                             "/usr/sbin/nologin", "-U", u])
            p = subprocess.Popen(["chpasswd"], stdin=subprocess.PIPE)
            p.communicate(("%s:%s\n" % (u, PASSWORD)).encode())


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
        m0 = srv.mem()
        cpu0 = srv.cpu()
    # S1 cold
    res["loadavg1"] = loadavg1()
    c = Pop3(srv.port, quickack=True, stall=a.timeout)
    t, n, octets = login(c, user, PASSWORD)
    res.update({"cold_login_s": round(t, 4), "messages": n,
                "maildrop_octets": octets})
    if n != n_expect:
        res["wrong_count"] = True
    if is_y:
        m1 = srv.mem()
        if m0["rss_anon_kb"] is not None and m1["rss_anon_kb"] is not None:
            res["index_kb"] = m1["rss_anon_kb"] - m0["rss_anon_kb"]
            res["index_b_per_msg"] = round(1024.0 * res["index_kb"] / n, 1)
        res["rss_after_login_kb"] = m1["vm_rss_kb"]
    t, _ = listing(c, "UIDL")
    res["cold_uidl_s"] = round(t, 4)
    t, _ = listing(c, "LIST")
    res["cold_list_s"] = round(t, 4)
    t, ok = quit_(c)
    res["cold_quit_s"] = round(t, 4)
    # S2 repeat + lockstep RETR (quickack) + verification
    c = Pop3(srv.port, quickack=True, stall=a.timeout)
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
    c = Pop3(srv.port, quickack=False, stall=a.timeout)
    t, n3, _ = login(c, user, PASSWORD)
    res["third_login_s"] = round(t, 4)
    r = retr_all(c, n3, 1, cutoff=True)
    for k, v in r.items():
        res["delack_" + k] = v
    t, ok = quit_(c)
    res["delack_quit_s"] = round(t, 4)
    # S4 pipelined, delayed-ACK client
    c = Pop3(srv.port, quickack=False, stall=a.stall)
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
        m2 = srv.mem()
        res["rss_peak_kb"] = m2["vm_hwm_kb"]
        res["rss_end_kb"] = m2["vm_rss_kb"]
        cpu1 = srv.cpu()
        if cpu0 is not None and cpu1 is not None:
            res["server_cpu_s"] = round(cpu1 - cpu0, 2)
        res["mbox_bytes_end"] = os.path.getsize(srv.mbox)
    srv.finish_run()
    return res


# ------------------------------------------------------------ report

def med(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2.0


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 100:
            return "%.0f" % x
        if abs(x) >= 10:
            return "%.1f" % x
        if abs(x) >= 1:
            return "%.2f" % x
        return "%.3g" % x
    return str(x)


def cell(runs, key):
    xs = [r.get(key) for r in runs if r.get(key) is not None]
    if not xs:
        return "-", None
    m = med(xs)
    if len(xs) == 1:
        return fmt(m), m
    return "%s [%s-%s]" % (fmt(m), fmt(min(xs)), fmt(max(xs))), m


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
    hdr = ["server", "mbox"] + [c[0] for c in COLS]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    meds = {}
    for size in a.sizes:
        for name in a.servers:
            rs = [r for r in runs if r["server"] == name and r["size"] == size]
            if not rs:
                continue
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

    def ref(peer, size, key, bkey):
        m = meds.get((peer, size, key))
        if m is not None:
            return m, "this run"
        b = BASELINE.get((peer, size), {}).get(bkey)
        return b, "BASELINE.md"

    for size in a.sizes:
        y = lambda k: meds.get(("yubind", size, k))  # noqa: E731
        if y("cold_login_s") is None:
            continue
        checks = []
        p, src = ref("popa3d", size, "cold_login_s", "cold_login_s")
        if p is not None:
            checks.append(("first login+STAT < popa3d %s s (%s)" % (fmt(p), src),
                           y("cold_login_s") < p, y("cold_login_s")))
        checks.append(("repeated login+STAT < 0.1 s", y("repeat_login_s") < 0.1,
                       y("repeat_login_s")))
        p, src = ref("popa3d", size, "lock_retr_mb_s", "retr_mb_s")
        if p is not None:
            checks.append(("lockstep RETR MB/s > popa3d %s (%s)" % (fmt(p), src),
                           (y("lock_retr_mb_s") or 0) > p, y("lock_retr_mb_s")))
        p, src = ref("dovecot", size, "pipe_retr_mb_s", "pipe_mb_s")
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
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--servers", default="yubind,dovecot,popa3d")
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--sample", type=int, default=300,
                    help="messages whose text is compared (plus special ones)")
    ap.add_argument("--stall", type=float, default=10.0,
                    help="pipelined: seconds without data = stalled")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="lockstep sessions: seconds without data = failure")
    ap.add_argument("--max-retr-s", type=float, default=60.0,
                    help="a RETR session is cut off after this (slow peers)")
    ap.add_argument("--yubind", default=os.environ.get("YUBIND"))
    ap.add_argument("--work", default=os.environ.get(
        "POP3_WORK", "/tmp/yubin-pop3bench"))
    ap.add_argument("--data", default=None,
                    help="generated mboxes (default WORK/data; kept)")
    ap.add_argument("--kit", default=None,
                    help="shared bench kit (mkmbox.py; default PEERS/..)")
    ap.add_argument("--peers", default=os.environ.get(
        "PEERS", os.path.join(HERE, "..", "..", "shared", "bench", "peers")))
    ap.add_argument("--p3root", default=os.environ.get(
        "P3ROOT", "/tmp/peerbench/p3root"))
    ap.add_argument("--pin", default="none", choices=("none", "same", "split"),
                    help="CPU placement: none (the scheduler's, as in "
                    "BASELINE.md), same (servers and client on CPU 0), "
                    "split (servers on CPU 1, client on CPU 0)")
    ap.add_argument("--setup-peers", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--report", nargs="+", metavar="JSONL",
                    help="only print the table from earlier --json files")
    ap.add_argument("--keep", action="store_true",
                    help="keep the yubind sandboxes (and daemons running)")
    a = ap.parse_args()
    if a.report:
        runs = []
        for fn in a.report:
            with open(fn) as f:
                runs.extend(r for r in map(json.loads, f)
                            if r.get("tool") == "yubin-bench-pop3" and
                            "failed" not in r)
        a.sizes = [s for s in SIZES if any(r["size"] == s for r in runs)]
        a.servers = [s for s in ("yubind", "dovecot", "popa3d")
                     if any(r["server"] == s for r in runs)]
        a.reps = max(r["rep"] for r in runs)
        a.pin = ",".join(sorted(set(r.get("pin", "none") for r in runs)))
        report(a, runs, [])
        return
    a.sizes = [s for s in a.sizes.split(",") if s]
    for s in a.sizes:
        if s not in SIZES:
            sys.exit("pop3.py: unknown size %s (10k, 100k)" % s)
    a.servers = [s for s in a.servers.split(",") if s]
    a.peers = os.path.abspath(a.peers)
    a.kit = a.kit or os.path.dirname(a.peers)
    a.data = a.data or os.path.join(a.work, "data")
    if a.yubind:
        a.yubind = os.path.abspath(a.yubind)
    if a.json:
        OUT = open(a.json, "a")
    os.makedirs(a.work, exist_ok=True)
    os.chmod(a.work, 0o755)
    if a.setup_peers:
        setup_peers(a)
    global SERVER_CPUS, MAX_RETR_S
    MAX_RETR_S = a.max_retr_s
    if a.pin != "none":
        if len(os.sched_getaffinity(0)) < 2 and a.pin == "split":
            sys.exit("pop3.py: --pin split needs 2 CPUs")
        SERVER_CPUS = {0} if a.pin == "same" else {1}
        os.sched_setaffinity(0, {0})
    cls = {"yubind": Yubind, "dovecot": Dovecot, "popa3d": Popa3d}
    servers, skipped = [], []
    for name in a.servers:
        srv = cls[name](a)
        why = srv.problem()
        if why:
            note("%s skipped: %s" % (name, why))
            skipped.append((name, why))
            continue
        servers.append(srv)
    if not servers or servers[0].name != "yubind" and "yubind" in a.servers:
        sys.exit("pop3.py: yubind cannot run: %s" % dict(skipped).get("yubind"))
    note("servers: %s" % ", ".join(s.version() for s in servers))
    runs = []
    try:
        for size in a.sizes:
            src = make_data(a, size)
            t0 = time.monotonic()
            pristine = Pristine(src, a.sample)
            note("%s: %d messages, %d B; %d messages to compare (%d with "
                 ">From or leading dots) [%.1f s]" % (
                     size, pristine.n, os.path.getsize(src),
                     len(pristine.expect), pristine.special,
                     time.monotonic() - t0))
            for rep in range(a.reps):
                order = servers[rep % len(servers):] + servers[:rep % len(servers)]
                for srv in order:
                    if srv in [s for s in servers if getattr(s, "broken", 0)]:
                        continue
                    try:
                        r = one_run(a, srv, size, src, pristine, rep + 1)
                    except (RuntimeError, OSError, ValueError, IndexError) as e:
                        note("%s %s rep %d failed: %s" % (srv.name, size,
                                                          rep + 1, e))
                        if srv.name != "yubind" and "start" in str(e):
                            srv.broken = 1
                            skipped.append((srv.name, str(e)[:300]))
                        emit(dict(tool="yubin-bench-pop3", server=srv.name,
                                  size=size, rep=rep + 1, failed=str(e)))
                        continue
                    emit(r)
                    runs.append(r)
            del pristine
    finally:
        for s in servers:
            s.stop()
    if runs:
        report(a, runs, skipped)


if __name__ == "__main__":
    main()

"""benchlib.py - what bench/smtp.py, pop3.py and imap.py share, kept in one
place so that the three measure and report alike: JSON lines and notes,
/proc readers, the yubind sandbox daemon, the peers' common parts (Dovecot,
mbox copies, system users, config edits), the generated test mboxes, and
for the two mailbox benchmarks their options, run loop and table cells.
Python 3 standard library only, plus tests/yubintest.py.
"""

import bisect
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
# the tests' driver: helpers that tests and benchmarks share
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from yubintest import free_port, stop_process  # noqa: E402,F401 - re-exported

# The mailbox benchmarks' test mboxes: messages, mkmbox.py --seed and the
# system user that owns it at the peers (as in BASELINE.md, so that the
# figures compare with it).
SIZES = {"10k": (10000, 1, "bench1"), "100k": (100000, 2, "bench2")}
PASSWORD = "benchpass"
# where the shared peer kit lives next to the source tree (bench/*.sh
# pass the same as PEERS)
PEERS_DEFAULT = os.path.join(HERE, "..", "..", "shared", "bench", "peers")


# ------------------------------------------------------------ output

OUT = None      # --json file: every emitted line goes there too


def json_to(path):
    """Appends every emit() to path as well (--json)."""
    global OUT
    OUT = open(path, "a")


def emit(obj):
    line = json.dumps(obj)
    print(line, flush=True)
    if OUT is not None:
        OUT.write(line + "\n")
        OUT.flush()


def note(msg):
    print("# " + msg, flush=True)


# ------------------------------------------------------------ /proc

def loadavg():
    """[1, 5, 15 minute load average] or None: a busy machine makes
    figures that do not compare, so every run records it."""
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def loadavg1():
    la = loadavg()
    return la[0] if la else None


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, RssAnon); None when
    the process is gone (or pid is None)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(key + ":"):
                    return int(ln.split()[1])
    except (OSError, ValueError, IndexError, TypeError):
        pass
    return None


def proc_cpu(pid):
    """utime+stime of pid in s, children not included."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            w = f.read().rsplit(")", 1)[1].split()
        return (int(w[11]) + int(w[12])) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, TypeError):
        return None


def proc_list():
    """[(pid, ppid, uid, comm)] of every process."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            uid = os.stat("/proc/" + d).st_uid
        except (OSError, ValueError, IndexError):
            continue
        out.append((int(d), ppid, uid, comm))
    return out


def mem_of(pid):
    """VmRSS, RssAnon and VmHWM of pid in kB ({} without a pid): RssAnon
    apart because a mapped mbox counts in VmRSS but is not the server's
    own memory."""
    if pid is None:
        return {}
    return {"rss_kb": proc_status(pid, "VmRSS"),
            "anon_kb": proc_status(pid, "RssAnon"),
            "hwm_kb": proc_status(pid, "VmHWM")}


# ------------------------------------------------------------ servers

# what a server says first when it is ready, and what ends the session
GREETINGS = {"smtp": (b"220", b"QUIT\r\n"), "pop3": (b"+OK", b"QUIT\r\n"),
             "imap": ((b"* OK", b"* PREAUTH"), b"z LOGOUT\r\n")}


def wait_greeting(port, timeout, proto, alive=None):
    """Until a connection to port gets proto's greeting; False after
    timeout or once alive() says the server died (a peer's start-up
    command returns before it listens)."""
    ok, bye = GREETINGS[proto]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
            s.settimeout(5)
            ln = s.recv(512)
            s.sendall(bye)
            s.close()
            if ln.startswith(ok):
                return True
        except OSError:
            pass
        if alive is not None and not alive():
            return False
        time.sleep(0.1)
    return False


# yubin.conf's listeners: a benchmark turns off all but the one it
# measures (on port 0), as the others default to the well-known ports
# (25, 587, 110, 143) that a peer or the machine's own server may hold
LISTENERS = ("smtp", "submission", "pop3", "imap")


class Yubind:
    """yubind in a sandbox directory of its own (yubind -S DIR), one
    listener on a port the kernel picks: every run gets a fresh daemon, so
    what it measures (memory, the first open of a mailbox) starts from
    nothing."""
    name = "yubind"

    def __init__(self, binary, work, stop_wait=10):
        self.binary, self.work, self.stop_wait = binary, work, stop_wait
        self.proc, self.errf, self.nrun = None, None, 0

    def problem(self):
        if not self.binary or not os.access(self.binary, os.X_OK):
            return "no yubind binary (set YUBIND)"
        return None

    def sandbox(self):
        """A new empty sandbox directory (self.dir) with its etc/."""
        self.nrun += 1
        d = os.path.join(self.work, "yubind.%d" % self.nrun)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "etc"))
        self.dir = d
        return d

    def launch(self, proto, conf, users, args=(), preexec_fn=None):
        """Starts the daemon in self.dir with proto listening on
        127.0.0.1:0 and the other listeners off, conf (lines) added to
        yubin.conf and users ({user: password}) in yubin.passwd; self.port
        from run/ports."""
        d = self.dir
        lines = ["# written by bench/%s" % os.path.basename(sys.argv[0]),
                 "%s_listen 127.0.0.1:0" % proto]
        lines += ["%s_listen" % p for p in LISTENERS if p != proto]
        with open(os.path.join(d, "etc", "yubin.conf"), "w") as f:
            f.write("\n".join(lines + list(conf)) + "\n")
        fd = os.open(os.path.join(d, "etc", "yubin.passwd"),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for u, pw in users.items():
                f.write("%s:%s\n" % (u, pw))
        self.errf = open(os.path.join(d, "yubind.stderr"), "wb")
        self.proc = subprocess.Popen([self.binary, "-S", d] + list(args),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.errf, stderr=self.errf,
                                     preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        end, self.port = time.monotonic() + 10, None
        while time.monotonic() < end and self.port is None:
            if self.proc.poll() is not None:
                break
            try:
                with open(os.path.join(d, "run", "ports")) as f:
                    for ln in f:
                        w = ln.split()
                        if len(w) == 3 and w[0] == proto:
                            self.port = int(w[2])
            except OSError:
                pass
            if self.port is None:
                time.sleep(0.02)
        if self.port is None:
            self.stop()
            with open(os.path.join(d, "yubind.stderr"), "rb") as f:
                tail = f.read()[-2000:].decode("utf-8", "replace")
            raise RuntimeError("yubind did not start (no %s line in "
                               "run/ports); see %s/yubind.stderr:\n%s"
                               % (proto, d, tail))

    def cpu(self):
        return proc_cpu(self.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            stop_process(self.proc, self.stop_wait)
        self.proc = None
        if self.errf is not None:
            self.errf.close()
            self.errf = None


class SpoolYubind(Yubind):
    """yubind for the mailbox benchmarks: for every run a fresh daemon
    over a fresh copy of the size's mbox, the only user's spool."""

    def __init__(self, a, proto, args=(), preexec_fn=None, stop_wait=10):
        Yubind.__init__(self, a.yubind, a.work, stop_wait)
        self.a, self.proto = a, proto
        self.args, self.preexec_fn = args, preexec_fn

    def version(self):
        return self.binary

    def prepare(self, size, src):
        """A fresh daemon with a fresh copy of the mbox."""
        self.stop()
        d = self.sandbox()
        os.makedirs(os.path.join(d, "mail"))
        self.user = SIZES[size][2]
        self.mbox = os.path.join(d, "mail", self.user)
        copy_mbox(src, self.mbox, None)
        self.launch(self.proto, [], {self.user: PASSWORD}, self.args,
                    self.preexec_fn)

    def finish_run(self, res):
        if self.proc is not None and self.proc.poll() is not None:
            res["yubind_exit"] = self.proc.returncode
        if not self.a.keep:
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)


class Peer:
    """A peer server of the mailbox benchmarks: one instance for all the
    runs, started by the first, serving the test users' spool files in
    WORK/NAME/mail; each run gets a fresh copy of the mbox."""

    def __init__(self, a):
        self.a = a
        self.d = os.path.join(a.work, self.name)

    def prepare(self, size, src):
        if not self.running():
            self.start()
        self.user = SIZES[size][2]
        self.mbox = os.path.join(self.d, "mail", self.user)
        copy_mbox(src, self.mbox, self.user)

    def alive(self):
        return True

    def finish_run(self, res):
        pass


def session_of(user, test):
    """The newest process running as user for which test((pid, ppid, uid,
    comm)) holds: the peers fork a session process at login, and its
    memory is what the IMAP table reports."""
    uid = pwd.getpwnam(user).pw_uid
    ps = [p for p in proc_list() if p[2] == uid and test(p)]
    return max(ps)[0] if ps else None


def copy_mbox(src, dst, user):
    """A fresh copy of src as dst (owned by user unless None), its mtime
    10 s back: popa3d waits a second on a file modified in the current
    second, and none of the servers should see it as just written."""
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
    """Why a peer cannot run (None if it can): they need root and their
    system users."""
    if os.geteuid() != 0:
        return "not root"
    for u in users:
        try:
            pwd.getpwnam(u)
        except KeyError:
            return "no system user %s (--setup-peers)" % u
    return None


def add_bench_users():
    """--setup-peers: the system users of the test mboxes, PASSWORD."""
    for u in ("bench1", "bench2"):
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.call(["useradd", "-M", "-d", "/nonexistent", "-s",
                             "/usr/sbin/nologin", "-U", u])
            p = subprocess.Popen(["chpasswd"], stdin=subprocess.PIPE)
            p.communicate(("%s:%s\n" % (u, PASSWORD)).encode())


def set_conf(text, values):
    """Sets "key = value" lines of a peer's config (Dovecot, Postfix's
    main.cf): replaced where the kit has them, else added."""
    for k, v in values.items():
        text, n = re.subn(r"(?m)^%s\s*=.*$" % k, "%s = %s" % (k, v), text)
        if n == 0:
            text += "%s = %s\n" % (k, v)
    return text


# the ports of PEERS/dovecot/dovecot.conf's listeners
DOVECOT_PORTS = {"pop3": 20110, "imap": 20143}


class Dovecot(Peer):
    """A private Dovecot made from PEERS/dovecot/dovecot.conf: base_dir,
    spool and passwd-file under WORK/dovecot, proto's listener on a free
    port and the other one off; users bench1 and bench2, PASSWORD."""
    name = "dovecot"

    def __init__(self, a, proto, preexec_fn=None):
        Peer.__init__(self, a)
        self.proto, self.preexec_fn = proto, preexec_fn
        self.started = False

    def running(self):
        return self.started

    def problem(self):
        if shutil.which("dovecot") is None or \
                not os.path.exists("/usr/lib/dovecot/" + self.proto):
            return "dovecot-%sd is not installed (--setup-peers)" % self.proto
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
        conf = set_conf(conf, {
            "base_dir": os.path.join(d, "run"),
            "state_dir": os.path.join(d, "state"),
            "log_path": os.path.join(d, "dovecot.log"),
            "instance_name": "dovecot-yubin%s%d" % (self.proto, os.getpid()),
            "protocols": self.proto,
            "mail_location": "mbox:~/mail:INBOX=%s/%%u" %
            os.path.join(d, "mail")})
        conf = conf.replace("/tmp/peerbench/dovecot/users",
                            os.path.join(d, "users"))
        # ours last, so that a free port equal to the other's kit port
        # is not set to 0 again
        for p in sorted(DOVECOT_PORTS, key=lambda p: p == self.proto):
            conf = conf.replace("port = %d" % DOVECOT_PORTS[p], "port = %d" %
                                (self.port if p == self.proto else 0))
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
                               stderr=out, preexec_fn=self.preexec_fn)
        if r.returncode != 0 or not wait_greeting(self.port, 15, self.proto):
            with open(os.path.join(d, "start.out"), "rb") as f:
                raise RuntimeError("dovecot did not start: %s" %
                                   f.read().decode("utf-8", "replace")[-1500:])
        self.started = True

    def prepare(self, size, src):
        """No index either: the first login is a cold one."""
        Peer.prepare(self, size, src)
        shutil.rmtree(os.path.join(self.d, "home", self.user, "mail", ".imap"),
                      ignore_errors=True)

    def session_pid(self, user):
        """Its session processes are named after the protocol."""
        return session_of(user, lambda p: p[3] == self.proto)

    def stop(self):
        if self.started:
            subprocess.run(["doveadm", "-c",
                            os.path.join(self.d, "dovecot.conf"), "stop"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.started = False
        if not self.a.keep:
            for u in ("bench1", "bench2"):
                for p in (os.path.join(self.d, "mail", u),
                          os.path.join(self.d, "home", u, "mail", ".imap")):
                    shutil.rmtree(p, ignore_errors=True)
                    if os.path.isfile(p):
                        os.unlink(p)


# ------------------------------------------------------------ data

def make_data(a, size, also=()):
    """The test mbox of size: generated once into --data with the kit's
    mkmbox.py, or a copy cached there or in the also directories (same
    generator, same seed) whose .ok stamp still gives its size."""
    n, seed, _ = SIZES[size]
    os.makedirs(a.data, exist_ok=True)
    name = "m%s.mbox" % size
    for d in [a.data] + list(also):
        path = os.path.join(d, name)
        if os.path.exists(path + ".ok") and os.path.exists(path):
            with open(path + ".ok") as f:
                if f.read().strip() == str(os.path.getsize(path)):
                    return path
    path = os.path.join(a.data, name)
    mk = os.path.join(a.kit, "mkmbox.py")
    note("generating %s (mkmbox.py -n %d --seed %d)" % (path, n, seed))
    subprocess.check_call([sys.executable, mk, "-n", str(n), "--seed",
                           str(seed), "-o", path])
    with open(path + ".ok", "w") as f:
        f.write("%d\n" % os.path.getsize(path))
    return path


class Mbox:
    """A generated mbox read whole, for the pristine copy the servers'
    answers are checked against: where every message starts and ends."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = data = f.read()
        self.bytes = len(data)
        starts = [0] if data.startswith(b"From ") else []
        i = 0
        while True:
            i = data.find(b"\n\nFrom ", i)
            if i < 0:
                break
            starts.append(i + 2)
            i += 2
        self.starts, self.ends = starts, starts[1:] + [len(data)]
        self.n = len(starts)

    def sample(self, nsample):
        """nsample message indexes (0-based) spread over the file, the
        same ones every run (a fixed seed), and the first and the last."""
        rng = random.Random(12345)
        pick = set(rng.sample(range(self.n), min(nsample, self.n)))
        pick.update((0, self.n - 1))
        return pick

    def index(self, off):
        """The message (0-based) that holds offset off."""
        return max(0, bisect.bisect_right(self.starts, off) - 1)

    def message(self, k):
        """Message k (0-based) as the servers give it: without its From_
        line and the separator line."""
        msg = self.data[self.starts[k]:self.ends[k]]
        msg = msg[msg.index(b"\n") + 1:]
        if k < self.n - 1 or msg.endswith(b"\n\n"):
            msg = msg[:-1]
        return msg


# ------------------------------------------------------------ client

class Stall(Exception):
    """The server sent nothing for the stall timeout."""


class Closed(ConnectionError):
    """The server closed the connection (an OSError, so a run that is not
    ready for it fails as with any other socket error)."""

    def __init__(self):
        ConnectionError.__init__(self, "server closed the connection")


class LineConn:
    """A client connection read through one buffer (buf, pos; nbytes
    counts what came in): TCP_NODELAY always, TCP_QUICKACK before every
    read if quickack (the client then ACKs at once)."""

    def __init__(self, port, stall, quickack=False):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(stall)
        self.quickack = quickack
        self.buf, self.pos, self.nbytes = bytearray(), 0, 0

    def fill(self):
        """Reads what is there; returns how far the buffer moved (callers
        holding an index into buf subtract it)."""
        if self.quickack:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        try:
            d = self.s.recv(1 << 20)
        except socket.timeout:
            raise Stall()
        if not d:
            raise Closed()
        self.nbytes += len(d)
        shift = 0
        if self.pos > (8 << 20):
            shift = self.pos
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += d
        return shift

    def line(self):
        """The next line without its CRLF."""
        start = self.pos
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                ln = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return ln
            start = max(self.pos, len(self.buf) - 1) - self.pos
            self.fill()
            start += self.pos

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ------------------------------------------------------------ options

def mailbox_args(ap, servers, work_env, work, data_help=""):
    """The options bench/pop3.py and imap.py share."""
    ap.add_argument("--sizes", default="10k,100k")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--servers", default=servers)
    ap.add_argument("--yubind", default=os.environ.get("YUBIND"))
    ap.add_argument("--work", default=os.environ.get(work_env, work))
    ap.add_argument("--data", default=None,
                    help="generated mboxes (default WORK/data; kept%s)"
                    % data_help)
    ap.add_argument("--kit", default=None,
                    help="shared bench kit (mkmbox.py; default PEERS/..)")
    ap.add_argument("--peers", default=os.environ.get("PEERS", PEERS_DEFAULT))
    ap.add_argument("--setup-peers", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--report", nargs="+", metavar="JSONL",
                    help="only print the table from earlier --json files")
    ap.add_argument("--keep", action="store_true",
                    help="keep the yubind sandboxes (and daemons running)")


def mailbox_setup(a, prog):
    """Checks and completes the shared options, opens --json, makes WORK."""
    a.sizes = [s for s in a.sizes.split(",") if s]
    for s in a.sizes:
        if s not in SIZES:
            sys.exit("%s: unknown size %s (10k, 100k)" % (prog, s))
    a.servers = [s for s in a.servers.split(",") if s]
    a.peers = os.path.abspath(a.peers)
    a.kit = a.kit or os.path.dirname(a.peers)
    a.data = a.data or os.path.join(a.work, "data")
    if a.yubind:
        a.yubind = os.path.abspath(a.yubind)
    if a.json:
        json_to(a.json)
    os.makedirs(a.work, exist_ok=True)
    os.chmod(a.work, 0o755)


def load_report(a, tool, names):
    """--report: the runs of earlier --json files; sizes, servers (in the
    order of names) and reps as they were."""
    runs = []
    for fn in a.report:
        with open(fn) as f:
            runs.extend(r for r in map(json.loads, f)
                        if r.get("tool") == tool and "failed" not in r)
    a.sizes = [s for s in SIZES if any(r["size"] == s for r in runs)]
    a.servers = [s for s in names if any(r["server"] == s for r in runs)]
    a.reps = max(r["rep"] for r in runs)
    return runs


# ------------------------------------------------------------ runs

def start_servers(a, classes, prog):
    """The servers of --servers that can run here, and [(name, why)] of
    the ones skipped: yubind must run, a peer need not."""
    servers, skipped = [], []
    for name in a.servers:
        if name not in classes:
            sys.exit("%s: unknown server %s" % (prog, name))
        srv = classes[name](a)
        why = srv.problem()
        if why:
            note("%s skipped: %s" % (name, why))
            skipped.append((name, why))
            continue
        servers.append(srv)
    if "yubind" in a.servers and (not servers or servers[0].name != "yubind"):
        sys.exit("%s: yubind cannot run: %s" % (prog,
                                                 dict(skipped).get("yubind")))
    if not servers:
        sys.exit("%s: no server can run" % prog)
    note("servers: %s" % ", ".join(s.version() for s in servers))
    return servers, skipped


def run_all(a, servers, skipped, tool, pristine_cls, one_run, data_also=()):
    """Every size, --reps times every server, interleaved (the order
    rotates with every repetition, so a trend in the machine's load does
    not favour one).  pristine_cls(path, --sample) reads the test mbox
    (an Mbox with a summary()); one_run(a, srv, size, src, pristine, rep)
    measures; data_also: more directories with cached test mboxes
    (make_data).  A peer that fails to start is not tried again.  Returns
    the runs' dicts."""
    runs = []
    try:
        for size in a.sizes:
            src = make_data(a, size, data_also)
            t0 = time.monotonic()
            pristine = pristine_cls(src, a.sample)
            note("%s: %s [%.1f s]" % (size, pristine.summary(),
                                      time.monotonic() - t0))
            for rep in range(a.reps):
                k = rep % len(servers)
                for srv in servers[k:] + servers[:k]:
                    if getattr(srv, "broken", 0):
                        continue
                    try:
                        r = one_run(a, srv, size, src, pristine, rep + 1)
                    except (RuntimeError, OSError, ValueError,
                            IndexError) as e:
                        note("%s %s rep %d failed: %s" % (srv.name, size,
                                                          rep + 1, e))
                        if srv.name != "yubind" and "start" in str(e):
                            srv.broken = 1
                            skipped.append((srv.name, str(e)[:300]))
                        emit(dict(tool=tool, server=srv.name, size=size,
                                  rep=rep + 1, failed=str(e)))
                        continue
                    emit(r)
                    runs.append(r)
            del pristine
    finally:
        for s in servers:
            s.stop()
    return runs


# ------------------------------------------------------------ report

def med(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2.0


def pct(xs, p):
    """The p-th percentile of xs (s) in ms."""
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000.0 * xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))], 3)


def fmt(x):
    """A table figure: integers as they are, floats to 3 or 4 digits."""
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


def cell(runs, key, scale=1.0):
    """("median [min-max]" of key over runs, times scale; the median); a
    run without the figure because its step failed makes it "failed"."""
    xs = [r.get(key) for r in runs if isinstance(r.get(key), (int, float))
          and not isinstance(r.get(key), bool)]
    xs = [x * scale for x in xs]
    if not xs:
        fails = [r for r in runs if r.get(key.rsplit("_", 1)[0] + "_failed")]
        return ("failed" if fails else "-"), None
    m = float(med(xs))
    if len(xs) == 1:
        return fmt(m), m
    return "%s [%s-%s]" % (fmt(m), fmt(float(min(xs))), fmt(float(max(xs)))), m


def table_head(hdr):
    """A markdown table's first two lines."""
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))


def groups(a, runs):
    """(size, server, its runs) in table order, the ones with runs."""
    for size in a.sizes:
        for name in a.servers:
            rs = [r for r in runs if r["server"] == name and r["size"] == size]
            if rs:
                yield size, name, rs


def reference(meds, baseline, peer, size, key, bkey=None):
    """(a peer's figure, where from): its median in this run, else
    BASELINE.md's (bkey, default key)."""
    m = meds.get((peer, size, key))
    if m is not None:
        return m, "this run"
    return baseline.get((peer, size), {}).get(bkey or key), "BASELINE.md"

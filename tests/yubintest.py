"""yubintest.py - the driver shared by the tests/proto_*.py and
tests/interop_*.py scripts (and bench/): sandbox daemons, line clients,
inetd-mode runs and a tiny test runner.  Python 3 standard library only.

Environment (set by Makefile.am / tests/run_py.sh):
  YUBIND        absolute path of the yubind binary under test
  top_builddir  used to find yubind when YUBIND is not set
  YUBINTEST_KEEP=1   keep the temporary sandboxes (printed on exit)
  YUBINTEST_VERBOSE=1  print every line sent and received

A test script looks like:

    from yubintest import *

    @case("smtp greeting")
    def _():
        sb = Sandbox()
        c = Client(sb.port("smtp"))
        c.expect(PROTO["smtp"].greeting)

    main()                  # runs the cases; exit 0, 1, or 77 (skip)

Everything a test starts is stopped on exit, also on failure or timeout.
"""

import atexit
import errno
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

__all__ = [
    "TestFailure", "check", "fail", "skip", "case", "main", "note",
    "Sandbox", "Client", "run_inetd", "yubind_path", "PROTO", "HOSTNAME",
    "open_many", "wait_until", "raise_nofile", "free_port", "VERBOSE",
]

VERBOSE = os.environ.get("YUBINTEST_VERBOSE") == "1"
KEEP = os.environ.get("YUBINTEST_KEEP") == "1"
#: the host name every sandbox is configured with
HOSTNAME = "mx.yubintest.example"
#: default read timeout of a client, seconds
TIMEOUT = 10.0
#: longest line a client accepts before calling the reply broken
MAX_REPLY_LINE = 1 << 20


# ---------------------------------------------------------------- protocols

class Proto:
    """What a test needs to know about one protocol's replies.  Keep the
    regexes tolerant of text that later issues may add; they are matched
    against one whole line without its CRLF."""

    def __init__(self, name, greeting, noop, noop_ok, quit, quit_ok,
                 error, refusal, idle_bye, term_bye):
        self.name = name
        self.greeting = greeting    # first line on connect
        self.noop = noop            # a harmless command (str)
        self.noop_ok = noop_ok      # list of reply regexes for it
        self.quit = quit
        self.quit_ok = quit_ok      # list of reply regexes, then close
        self.error = error          # reply to junk / overlong / NUL
        self.refusal = refusal      # over the connection limits
        self.idle_bye = idle_bye    # idle timeout farewell
        self.term_bye = term_bye    # SIGTERM farewell


PROTO = {
    "smtp": Proto(
        "smtp",
        greeting=r"220 %s ESMTP yubin( .*)?" % re.escape(HOSTNAME),
        noop="NOOP", noop_ok=[r"250 2\.0\.0 .*"],
        quit="QUIT", quit_ok=[r"221 2\.0\.0( .*)?"],
        error=r"500 5\.5\.2( .*)?",
        refusal=r"421 4\.7\.0( .*)?",
        idle_bye=r"421 4\.4\.2( .*)?",
        term_bye=r"421 4\.3\.2( .*)?"),
    # submission shares the SMTP module
    "submission": Proto(
        "submission",
        greeting=r"220 %s ESMTP yubin( .*)?" % re.escape(HOSTNAME),
        noop="NOOP", noop_ok=[r"250 2\.0\.0 .*"],
        quit="QUIT", quit_ok=[r"221 2\.0\.0( .*)?"],
        error=r"500 5\.5\.2( .*)?",
        refusal=r"421 4\.7\.0( .*)?",
        idle_bye=r"421 4\.4\.2( .*)?",
        term_bye=r"421 4\.3\.2( .*)?"),
    # NOTE: RFC 1939 allows NOOP only after login; the current daemon
    # answers it in every state (the spec).  If pop3.c makes it
    # -ERR before login, change noop here to "CAPA" (multi-line).
    "pop3": Proto(
        "pop3",
        greeting=r"\+OK (.* )?<[0-9]+\.[0-9.]+@[^>]+>( .*)?",
        noop="NOOP", noop_ok=[r"\+OK( .*)?"],
        quit="QUIT", quit_ok=[r"\+OK( .*)?"],
        error=r"-ERR( .*)?",
        refusal=r"-ERR \[SYS/TEMP\]( .*)?",
        idle_bye=r"-ERR( .*)?",
        term_bye=r"-ERR( .*)?"),
    "imap": Proto(
        "imap",
        greeting=r"\* OK \[CAPABILITY IMAP4rev1( [^]]*)?\]( .*)?",
        noop="n1 NOOP", noop_ok=[r"n1 OK( .*)?"],
        quit="q1 LOGOUT", quit_ok=[r"\* BYE( .*)?", r"q1 OK( .*)?"],
        error=r"\* BAD( .*)?",
        refusal=r"\* BYE( .*)?",
        idle_bye=r"\* BYE( .*)?",
        term_bye=r"\* BYE( .*)?"),
}

APOP_RE = r"<([0-9]+)\.([0-9.]+)@([^>]+)>"


# ---------------------------------------------------------------- runner

class TestFailure(Exception):
    """A test's expectation was not met (the message says what and how)."""


_cases = []
_failed = []            # (case name, message)
_current = [None]       # name of the running case
_case_sandboxes = []    # sandboxes started by the running case


def note(msg):
    """Print an informational line (not a result)."""
    print("  note: %s" % msg, flush=True)


def check(cond, msg):
    """Record a failure of the running case if cond is false; go on."""
    if not cond:
        _failed.append((_current[0], msg))
        print("  check failed: %s" % msg, flush=True)
    return bool(cond)


def fail(msg):
    """Abort the running case with a failure."""
    raise TestFailure(msg)


def skip(msg):
    """Skip the whole script: print the reason, clean up, exit 77."""
    if not msg.startswith("SKIP"):
        msg = "SKIP: " + msg
    print(msg, flush=True)
    _cleanup()
    sys.stdout.flush()
    os._exit(77)


def case(name):
    """Decorator registering a test case, run in order by main()."""
    def reg(fn):
        _cases.append((name, fn))
        return fn
    return reg


def _alarm(signum, frame):
    raise TestFailure("overall time limit of the script reached (hung?)")


def wait_until(pred, timeout, interval=0.02):
    """Poll pred() until it returns a true value (returned) or timeout
    seconds pass (returns the last false value)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def main(timeout=120):
    """Run the registered cases (or those named on the command line,
    by substring) and exit 0 if all passed, 1 otherwise."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    yubind_path()      # skip or fail early if there is nothing to test
    want = sys.argv[1:]
    npass = nfail = 0
    for name, fn in _cases:
        if want and not any(w in name for w in want):
            continue
        _current[0] = name
        before = len(_failed)
        del _case_sandboxes[:]
        t0 = time.monotonic()
        try:
            fn()
        except TestFailure as e:
            _failed.append((name, str(e)))
            print("  error: %s" % e, flush=True)
        except Exception as e:     # a crash of the test is a failure too
            _failed.append((name, repr(e)))
            print("  exception: %s" % "".join(
                traceback.format_exception(type(e), e, e.__traceback__)),
                flush=True)
        ok = len(_failed) == before
        for sb in list(_case_sandboxes):
            if not ok:
                sb.dump()
            try:
                sb.kill()
            except Exception:
                pass
        dt = time.monotonic() - t0
        print("%s: %s (%.1f s)" % ("PASS" if ok else "FAIL", name, dt),
              flush=True)
        if ok:
            npass += 1
        else:
            nfail += 1
    signal.alarm(0)
    print("%d passed, %d failed" % (npass, nfail), flush=True)
    _cleanup()
    sys.exit(1 if nfail else 0)


# ---------------------------------------------------------------- daemon

def yubind_path():
    """The binary under test: $YUBIND, else $top_builddir/yubind or
    ../yubind next to this file.  Skips if there is none at all."""
    p = os.environ.get("YUBIND")
    if p:
        if not os.access(p, os.X_OK):
            print("FAIL: YUBIND=%s is not an executable file" % p)
            sys.exit(1)
        return os.path.abspath(p)
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.environ.get("top_builddir"), os.path.join(here, ".."), "."):
        if not d:
            continue
        for q in (os.path.join(d, "yubind"), os.path.join(d, "src", "yubind")):
            if os.access(q, os.X_OK) and os.path.isfile(q):
                return os.path.abspath(q)
    skip("SKIP: no yubind binary (set YUBIND=/path/to/yubind)")


def _tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


_sandboxes = []
_tmpdirs = []
_procs = []          # other processes to kill at exit (Popen)


def _cleanup():
    for sb in list(_sandboxes):
        try:
            sb.kill()
        except Exception:
            pass
    for p in list(_procs):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        except Exception:
            pass
    for d in list(_tmpdirs):
        if KEEP:
            print("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    del _sandboxes[:]
    del _procs[:]
    del _tmpdirs[:]


atexit.register(_cleanup)


def register_process(p):
    """Have a Popen object killed at exit (inetd and the like)."""
    _procs.append(p)
    return p


def _default_conf(extra):
    """The sandbox yubin.conf: all listeners on 127.0.0.1:0 and DNS to a
    dead local port, unless extra sets the key itself."""
    given = set()
    for ln in extra.splitlines():
        w = ln.split()
        if w and not w[0].startswith("#"):
            given.add(w[0])
    out = ["# written by tests/yubintest.py"]
    defaults = [("hostname", HOSTNAME),
                ("smtp_listen", "127.0.0.1:0"),
                ("submission_listen", "127.0.0.1:0"),
                ("pop3_listen", "127.0.0.1:0"),
                ("imap_listen", "127.0.0.1:0"),
                # no DNS query may leave this machine: nothing answers
                # on port 1, so lookups fail at once (mail for other
                # domains then waits in the queue)
                ("dns_servers", "127.0.0.1:1"),
                ("log_level", "debug")]
    for k, v in defaults:
        if k not in given:
            out.append("%s %s" % (k, v))
    return "\n".join(out) + "\n" + extra + ("\n" if extra and
                                             not extra.endswith("\n") else "")


class Sandbox:
    """A `yubind -S DIR` in a fresh temporary directory.

    conf:  extra yubin.conf lines (a key given here replaces the default)
    users: {name: secret} written to etc/yubin.passwd (mode 0600)
    raw_conf: if not None, the whole yubin.conf text (no defaults added);
              if False, no yubin.conf at all
    prefix: argv words run in front of yubind, for the daemon and for
            run() (e.g. ["ip", "netns", "exec", "NS"]); they must exec
            yubind so that the process is the daemon itself
    """

    def __init__(self, conf="", users=None, start=True, raw_conf=None,
                 args=(), prefix=()):
        self.dir = _tmpdir("yubintest-")
        _tmpdirs.append(self.dir)
        self.etc = os.path.join(self.dir, "etc")
        os.mkdir(self.etc)
        self.conf_path = os.path.join(self.etc, "yubin.conf")
        if raw_conf is None:
            self.write_conf(_default_conf(conf))
        elif raw_conf is not False:
            self.write_conf(raw_conf)
        if users is None:
            users = {"demo": "demo"}
        pw = os.path.join(self.etc, "yubin.passwd")
        fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for u, s in users.items():
                f.write("%s:%s\n" % (u, s))
        os.chmod(pw, 0o600)
        self.args = list(args)
        self.prefix = list(prefix)
        self.proc = None
        self.pid = None
        self.ports = {}
        self.stderr_path = os.path.join(self.dir, "yubind.stderr")
        self._stderr = None
        self.exit_code = None
        if start:
            self.start()

    # -- files
    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write_conf(self, text):
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.conf_path)

    def set_conf(self, extra):
        """Replace yubin.conf with the defaults plus extra (for SIGHUP)."""
        self.write_conf(_default_conf(extra))

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_text(self):
        try:
            with open(self.path("log", "yubind.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def dump(self, lines=40):
        """Print the tail of the daemon's stderr (on failure)."""
        t = self.stderr_text().splitlines()
        print("  --- yubind stderr (%s), last %d of %d lines ---" %
              (self.dir, min(lines, len(t)), len(t)))
        for ln in t[-lines:]:
            print("  | " + ln)
        if self.proc is not None and self.proc.poll() is not None:
            print("  --- yubind exited with %s" % self.proc.returncode)

    # -- process
    def command(self, *extra):
        return (self.prefix + [yubind_path(), "-S", self.dir] + self.args +
                list(extra))

    def start(self, wait=True):
        if self.proc is not None and self.proc.poll() is None:
            fail("sandbox daemon already running")
        try:
            os.unlink(self.path("run", "ports"))
        except OSError:
            pass
        self._stderr = open(self.stderr_path, "ab")
        if VERBOSE:
            print("  start: %s" % " ".join(self.command()))
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr,
                                     close_fds=True)
        self.pid = self.proc.pid
        self.exit_code = None
        _sandboxes.append(self)
        _case_sandboxes.append(self)
        if wait:
            self.wait_ports()
        return self

    def _read_ports(self):
        try:
            with open(self.path("run", "ports")) as f:
                text = f.read()
        except OSError:
            return None
        ports = {}
        for ln in text.splitlines():
            w = ln.split()
            if not w:
                continue
            if len(w) != 3 or not w[2].isdigit():
                fail("malformed line in run/ports: %r" % ln)
            ports.setdefault(w[0], []).append((w[1], int(w[2])))
        return ports

    def wait_ports(self, timeout=10.0, changed_from=None):
        """Wait for run/ports (or for it to differ from changed_from)."""
        end = time.monotonic() + timeout
        while True:
            p = self._read_ports()
            if p is not None and (changed_from is None or p != changed_from):
                self.ports = p
                return p
            if self.proc.poll() is not None:
                self.dump()
                fail("yubind exited with %s before writing run/ports" %
                     self.proc.returncode)
            if time.monotonic() >= end:
                self.dump()
                fail("run/ports not %s within %.0f s" %
                     ("written" if changed_from is None else "rewritten",
                      timeout))
            time.sleep(0.02)

    def port(self, proto, i=0):
        if proto not in self.ports:
            fail("no %s listener in run/ports: %r" % (proto, self.ports))
        return self.ports[proto][i][1]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if not self.alive():
            fail("yubind is not running (exit %s), cannot send signal %s" %
                 (self.proc.returncode if self.proc else None, sig))
        os.kill(self.pid, sig)

    def wait(self, timeout):
        """Wait for the process to exit; returns its code or None."""
        try:
            self.exit_code = self.proc.wait(timeout)
            return self.exit_code
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=5.0):
        """SIGTERM, wait up to timeout s, return the exit code.  If the
        daemon had to be killed with SIGKILL, that is a failure."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            rc = self.wait(timeout)
            if rc is None:
                self.kill()
                fail("yubind did not exit within %.0f s of SIGTERM "
                     "(killed with SIGKILL)" % timeout)
        self.exit_code = self.proc.returncode
        self._close_stderr()
        return self.exit_code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._close_stderr()
        if self in _sandboxes:
            _sandboxes.remove(self)

    def _close_stderr(self):
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def fd_count(self):
        """Open descriptors of the daemon (Linux /proc), or None."""
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return None

    def wait_fd_count(self, want, timeout=5.0):
        """Wait until the daemon has at most want descriptors open;
        returns the last count seen."""
        n = [None]

        def ok():
            n[0] = self.fd_count()
            return n[0] is not None and n[0] <= want
        wait_until(ok, timeout, 0.05)
        return n[0]

    def run(self, *args, input=b"", timeout=10.0):
        """Run `yubind -S DIR ARGS` to completion (not the daemon):
        returns (exit code, stdout bytes, stderr bytes)."""
        return _run(self.prefix + [yubind_path(), "-S", self.dir] +
                    list(args), input, timeout)

    def run_inetd(self, proto, input_bytes, timeout=10.0):
        return self.run("-i", proto, input=input_bytes, timeout=timeout)


def _run(argv, input, timeout):
    if VERBOSE:
        print("  run: %s" % " ".join(argv))
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, close_fds=True)
    _procs.append(p)
    try:
        out, err = p.communicate(input, timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        fail("%s did not exit within %.0f s; stdout %r stderr %r" %
             (" ".join(argv), timeout, out[-500:], err[-500:]))
    finally:
        if p in _procs:
            _procs.remove(p)
    return p.returncode, out, err


def run_inetd(proto, input_bytes, conf="", timeout=10.0):
    """`yubind -S DIR -i PROTO` in a fresh sandbox, input_bytes on stdin:
    returns (exit code, stdout bytes, stderr bytes)."""
    sb = Sandbox(conf=conf, start=False)
    return sb.run_inetd(proto, input_bytes, timeout)


# ---------------------------------------------------------------- client

class Client:
    """A line-oriented TCP client with timeouts on everything."""

    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT, source=None,
                 nodelay=False, sock=None):
        self.timeout = timeout
        if sock is not None:
            self.sock = sock
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            if source:
                self.sock.bind((source, 0))
            try:
                self.sock.connect((host, port))
            except OSError:
                self.sock.close()
                raise
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def send_raw(self, data):
        if VERBOSE:
            print("  C: %r" % data[:200])
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            fail("send of %d bytes timed out after %.0f s (server not "
                 "reading?)" % (len(data), self.timeout))

    def send(self, line):
        if isinstance(line, str):
            line = line.encode("latin-1")
        self.send_raw(line + b"\r\n")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
        return d

    def readline(self, timeout=None):
        """One line including its line end; b"" at EOF (any partial line
        before EOF is returned as is).  Fails on timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if self.eof:
                ln, self.buf = self.buf, b""
                return ln
            if len(self.buf) > MAX_REPLY_LINE:
                fail("reply line longer than %d bytes: %r..." %
                     (MAX_REPLY_LINE, self.buf[:100]))
            try:
                d = self._fill(deadline)
            except socket.timeout:
                fail("no complete line within %.0f s (got %r)" %
                     (timeout or self.timeout, self.buf[:300]))
            self.buf += d
        i = self.buf.index(b"\n") + 1
        ln, self.buf = self.buf[:i], self.buf[i:]
        if VERBOSE:
            print("  S: %r" % ln[:200])
        return ln

    def expect(self, regex, timeout=None, flags=0):
        """Read ONE line; it must end with CRLF and match regex as a whole
        (without the CRLF).  Returns the match."""
        ln = self.readline(timeout)
        if not ln:
            fail("expected /%s/, got end of connection" % regex)
        if not ln.endswith(b"\r\n"):
            fail("expected /%s/, got %r (not a CRLF-terminated line)" %
                 (regex, ln))
        text = ln[:-2].decode("latin-1")
        m = re.fullmatch(regex, text, flags)
        if not m:
            fail("expected /%s/, got %r" % (regex, ln))
        return m

    def expect_lines(self, regexes, timeout=None):
        return [self.expect(r, timeout) for r in regexes]

    def expect_close(self, timeout=None):
        """The server must close the connection with nothing more said."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                d = self._fill(deadline)
            except socket.timeout:
                fail("connection not closed within %.0f s (pending %r)" %
                     (timeout or self.timeout, self.buf[:300]))
            self.buf += d
        if self.buf:
            fail("expected the connection to close, got %r" % self.buf[:300])

    def smtp_reply(self, timeout=None):
        """A complete SMTP reply (RFC 5321 4.2: `ddd-...` lines then
        `ddd ...`), all with the same code: returns the list of lines."""
        lines = []
        while True:
            m = self.expect(r"([2-5][0-9][0-9])([- ])(.*)", timeout)
            if lines and m.group(1) != lines[0].group(1):
                fail("multi-line reply changes code: %r then %r" %
                     (lines[0].group(0), m.group(0)))
            lines.append(m)
            if m.group(2) == " ":
                return [x.group(0) for x in lines]

    def imap_tagged(self, tag, timeout=None, untagged=r"\* .*"):
        """Read up to the reply tagged tag; untagged lines before it must
        match untagged.  Returns (untagged lines, tagged line)."""
        before = []
        while True:
            m = self.expect(r"(%s|%s (OK|NO|BAD)( .*)?)" %
                            (untagged, re.escape(tag)), timeout)
            t = m.group(0)
            if t.startswith(tag + " "):
                return before, t
            before.append(t)

    def noop(self, proto):
        """The protocol's harmless command; asserts its reply."""
        p = PROTO[proto]
        self.send(p.noop)
        self.expect_lines(p.noop_ok)

    def quit(self, proto):
        p = PROTO[proto]
        self.send(p.quit)
        self.expect_lines(p.quit_ok)
        self.expect_close()
        self.close()

    def close(self, reset=False):
        if self.sock is None:
            return
        if reset:   # RST instead of FIN
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\1\0\0\0\0\0\0\0")
            except OSError:
                pass
        self.sock.close()
        self.sock = None


def greet(port, proto, **kw):
    """Connect and check the greeting; returns the Client."""
    c = Client(port, **kw)
    c.expect(PROTO[proto].greeting)
    return c


__all__.append("greet")


# ---------------------------------------------------------------- many

def raise_nofile(n):
    """Raise RLIMIT_NOFILE to at least n (up to the hard limit); skip if
    impossible."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= n:
        return soft
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < n:
        skip("SKIP: RLIMIT_NOFILE is %d, need %d descriptors" % (soft, n))
    return soft


def open_many(port, n, timeout=30.0, source=None, inflight=100, settle=1.0):
    """Open n connections that are all open at the same time, with at
    most inflight connects waiting for their first line (like
    shared/bench/conn_load.py: a burst bigger than the listen backlog
    would only measure SYN retransmission), and read each one's first
    line.  Returns (lines, socks): lines[i] is the first line (bytes;
    b"" if closed without one; None if nothing came in time), socks[i]
    the socket if still open, or None if the server closed it after its
    line.  Data after the first line is discarded.  After the last first
    line, waits up to settle seconds for the EOFs of refused ones."""
    sel = selectors.DefaultSelector()
    socks, bufs = [None] * n, [b""] * n
    lines, closed = [None] * n, [False] * n
    started = pending = 0
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end and (started < n or pending):
            while started < n and pending < inflight:
                i = started
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                if source:
                    s.bind((source, 0))
                e = s.connect_ex(("127.0.0.1", port))
                if e not in (0, errno.EINPROGRESS, errno.EAGAIN):
                    s.close()
                    fail("connect %d of %d failed: %s" %
                         (i + 1, n, os.strerror(e)))
                socks[i] = s
                sel.register(s, selectors.EVENT_READ, i)
                started += 1
                pending += 1
            for key, _ in sel.select(min(0.5, max(0.0,
                                                  end - time.monotonic()))):
                i = key.data
                try:
                    d = socks[i].recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    d = b""
                if d:
                    bufs[i] += d
                    if lines[i] is None and b"\n" in bufs[i]:
                        j = bufs[i].index(b"\n") + 1
                        lines[i] = bufs[i][:j]
                        bufs[i] = b""
                        pending -= 1
                    continue
                closed[i] = True      # EOF (or reset)
                sel.unregister(socks[i])
                if lines[i] is None:
                    lines[i] = bufs[i]
                    pending -= 1
        # give refused ones a moment to deliver their EOF after the line
        end2 = time.monotonic() + settle
        while time.monotonic() < end2:
            evs = sel.select(max(0.0, end2 - time.monotonic()))
            if not evs:
                break
            for key, _ in evs:
                i = key.data
                try:
                    d = socks[i].recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    d = b""
                if not d:
                    closed[i] = True
                    sel.unregister(socks[i])
    finally:
        sel.close()
    out = []
    for i, s in enumerate(socks):
        if s is None:
            out.append(None)
        elif closed[i]:
            s.close()
            out.append(None)
        else:
            s.setblocking(True)
            out.append(s)
    return lines, out


def wait_traced(st, pid):
    """Wait until strace (the Popen st) has attached to pid: TracerPid in
    /proc/PID/status, before the traced work starts.  A fixed sleep is too
    short under load, and then the QUIT runs untraced."""
    def attached():
        if st.poll() is not None:
            return True
        try:
            with open("/proc/%d/status" % pid) as f:
                m = re.search(r"^TracerPid:\s*([0-9]+)", f.read(), re.M)
        except OSError:
            return True             # the daemon is gone
        return m is not None and int(m.group(1)) == st.pid
    if not os.path.isdir("/proc/%d" % os.getpid()):
        time.sleep(0.5)             # no /proc: give it time
    elif not wait_until(attached, 10, 0.01):
        fail("strace did not attach to %d within 10 s" % pid)


__all__.append("wait_traced")


def free_port():
    """A loopback TCP port that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---------------------------------------------------------------- smtp/mbox
# Helpers for the mail transfer tests (proto_smtp.py, proto_delivery.py,
# interop_smtp.py).

def smtp_cmd(c, line, want=None):
    """Send one SMTP command, read its complete reply (list of lines).
    If want is given, the LAST line must match it as a whole."""
    if line is not None:
        c.send(line)
    r = c.smtp_reply()
    if want is not None and not re.fullmatch(want, r[-1]):
        fail("%r: expected /%s/, got %r" % (line, want, r))
    return r


def smtp_open(port, helo="client.example", ehlo=True, **kw):
    """Connect, check the greeting, say EHLO (or HELO)."""
    c = greet(port, "smtp", **kw)
    smtp_cmd(c, "%s %s" % ("EHLO" if ehlo else "HELO", helo), r"250[ -].*")
    return c


def smtp_data(text):
    """Message text (bytes or str, LF or CRLF line ends) as it goes on
    the wire after DATA: CRLF line ends, dot-stuffed, ending .CRLF."""
    if isinstance(text, str):
        text = text.encode("latin-1")
    text = text.replace(b"\r\n", b"\n")
    out = []
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for ln in lines:
        if ln.startswith(b"."):
            ln = b"." + ln
        out.append(ln + b"\r\n")
    return b"".join(out) + b".\r\n"


def smtp_send(port, sender, rcpts, text, helo="client.example",
              want=r"250 2\.0\.0 .*"):
    """One whole transaction on a fresh connection; every RCPT must be
    accepted.  Returns the reply line after the final dot (it must match
    want)."""
    c = smtp_open(port, helo)
    smtp_cmd(c, "MAIL FROM:<%s>" % sender, r"250 2\.1\.0 .*")
    for r in rcpts:
        smtp_cmd(c, "RCPT TO:<%s>" % r, r"250 2\.1\.5 .*")
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(text))
    r = smtp_cmd(c, None, want)[-1]
    c.quit("smtp")
    return r


def quiet_for(c, seconds):
    """True if nothing at all arrives on c within seconds (the server
    is holding back its reply); data that does arrive stays buffered."""
    import select
    if c.buf:
        return False
    r, _, _ = select.select([c.sock], [], [], seconds)
    if not r:
        return True
    try:
        d = c.sock.recv(65536)
    except ConnectionResetError:
        # a server killed with our input unread resets the connection:
        # for the caller that is an end like any other
        d = b""
    if not d:
        c.eof = True
    c.buf += d
    return False


FROM_LINE_RE = (br"From (\S+) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                br"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                br"[ 0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}")


def mbox_split(data):
    """Split mbox bytes into messages at From_ lines (at the start of the
    file or after an empty line).  Returns a list of (from_line, text)
    where text is everything after the From_ line up to the next
    separator, including the message's trailing blank line."""
    msgs = []
    starts = []
    pat = re.compile(br"(?:\A|(?<=\n\n))" + FROM_LINE_RE + br"\n")
    for m in pat.finditer(data):
        starts.append(m)
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(data)
        msgs.append((m.group(0)[:-1], data[m.end():end]))
    return msgs


def read_bytes(path):
    """A file's contents, or None if it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


__all__ += ["smtp_cmd", "smtp_open", "smtp_data", "smtp_send", "quiet_for",
            "FROM_LINE_RE", "mbox_split", "read_bytes", "register_process"]


def shared_sandbox(**kw):
    """A Sandbox (same arguments) that lives for the whole script, not
    just the running case: main() does not kill it after the case that
    started it (it is still stopped at exit).  For cases that build on
    what earlier cases delivered."""
    s = Sandbox(**kw)
    if s in _case_sandboxes:
        _case_sandboxes.remove(s)
    return s


def numbered_users(n, *fixed):
    """{name: secret} for a Sandbox: the fixed (name, secret) pairs,
    then u1 .. uN with the secret pw-uN (for SharedSetup.new_user)."""
    return dict(list(fixed) +
                [("u%d" % i, "pw-u%d" % i) for i in range(1, n + 1)])


class SharedSetup:
    """One daemon for the cases of a script, shared_sandbox(users=users,
    **kw), started (again) when it is not running, and its users u1,
    u2, ... handed out one per case, so that cases do not see each
    other's mail."""

    def __init__(self, users, **kw):
        self.users = users
        self.kw = kw
        self._sb = None
        self._next_user = 0

    def sb(self):
        """The running shared sandbox."""
        if self._sb is None or not self._sb.alive():
            self._sb = shared_sandbox(users=self.users, **self.kw)
        return self._sb

    def new_user(self):
        """(name, secret) of a user of the shared sandbox that no other
        case has touched."""
        self._next_user += 1
        u = "u%d" % self._next_user
        if u not in self.users:
            fail("out of sandbox users")
        return u, self.users[u]

    def spool(self, user, s=None):
        """The bytes of user's spool file in s (default: the shared
        sandbox); b"" if there is none."""
        return read_bytes((s or self.sb()).path("mail", user)) or b""


__all__ += ["shared_sandbox", "numbered_users", "SharedSetup"]


# ---------------------------------------------------------------- pop3
# Helpers for the POP3 tests (proto_pop3.py, proto_pop3_crash.py,
# interop_pop3.py): commands and multi-line replies, the mbox text a
# test writes into a spool, and what POP3 must send for it.

POP3_OK = r"\+OK( .*)?"
POP3_ERR = r"-ERR( .*)?"
#: the mailbox metadata headers a POP3 client never sees (DESIGN.md)
POP3_META = (b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap",
             b"x-imapbase", b"x-uidl", b"content-length")
POP3_LOGIN_RE = r"\+OK %s has ([0-9]+) messages? \(([0-9]+) octets\)"


def pop3_cmd(c, line, want=POP3_OK, timeout=None):
    """Send one command (unless line is None), read ONE reply line that
    must match want; returns the line (str, no CRLF)."""
    if line is not None:
        c.send(line)
    return c.expect(want, timeout).group(0)


def pop3_read_multi(c, timeout=None):
    """Read the data of a multi-line reply (after its first line) up to
    the terminating ".": returns the raw bytes as sent (CRLF lines,
    still dot-stuffed, without the final .CRLF).  Fast for big bodies."""
    deadline = time.monotonic() + (timeout or c.timeout)
    buf = bytearray(c.buf)
    c.buf = b""
    pos = 0
    while True:
        if buf.startswith(b".\r\n"):
            end, after = 0, 3
            break
        i = buf.find(b"\r\n.\r\n", pos)
        if i >= 0:
            end, after = i + 2, i + 5
            break
        pos = max(0, len(buf) - 4)
        if c.eof:
            fail("connection closed inside a multi-line reply after %d "
                 "bytes (tail %r)" % (len(buf), bytes(buf[-200:])))
        try:
            d = c._fill(deadline)
        except socket.timeout:
            fail("multi-line reply not complete within %.0f s (%d bytes, "
                 "tail %r)" % (timeout or c.timeout, len(buf),
                               bytes(buf[-200:])))
        buf += d
    data = bytes(buf[:end])
    c.buf = bytes(buf[after:])
    if VERBOSE:
        print("  S: <%d bytes of multi-line data>" % len(data))
    return data


def pop3_unstuff(data):
    """Check that data is CRLF lines only (no bare LF or CR) and remove
    the byte-stuffing: returns the message as the server means it."""
    if data.count(b"\n") != data.count(b"\r\n"):
        fail("bare LF in multi-line reply data (%d LF, %d CRLF)" %
             (data.count(b"\n"), data.count(b"\r\n")))
    if data.count(b"\r") != data.count(b"\r\n"):
        fail("bare CR in multi-line reply data")
    if data and not data.endswith(b"\r\n"):
        fail("multi-line data does not end with CRLF: %r" % data[-50:])
    out = []
    for ln in data.split(b"\r\n")[:-1]:
        if ln.startswith(b"."):
            ln = ln[1:]
        out.append(ln + b"\r\n")
    return b"".join(out)


def pop3_multi(c, line, want=POP3_OK, timeout=None):
    """A command with a multi-line reply: returns (first line, [data
    lines as str, unstuffed, without CRLF])."""
    first = pop3_cmd(c, line, want, timeout)
    data = pop3_unstuff(pop3_read_multi(c, timeout))
    return first, [ln.decode("latin-1") for ln in data.split(b"\r\n")[:-1]]


def pop3_retr(c, n, top=None, timeout=None):
    """RETR n (or TOP n top): returns (octets announced by RETR or None
    for TOP, message bytes with CRLF, unstuffed)."""
    if top is None:
        c.send("RETR %s" % n)
        size = int(c.expect(r"\+OK ([0-9]+) octets( .*)?",
                            timeout).group(1))
    else:
        pop3_cmd(c, "TOP %s %s" % (n, top), POP3_OK, timeout)
        size = None
    return size, pop3_unstuff(pop3_read_multi(c, timeout))


def pop3_stamp(greeting):
    """The APOP timestamp <...> of a greeting line."""
    m = re.search(r"<[^<>]*>", greeting)
    if not m:
        fail("no <timestamp> in the greeting %r" % greeting)
    return m.group(0)


def apop_digest(stamp, secret):
    import hashlib
    return hashlib.md5((stamp + secret).encode("latin-1")).hexdigest()


def cram_md5_response(user, secret, challenge_b64):
    """The base64 response to an AUTH CRAM-MD5 challenge (RFC 2195)."""
    import base64
    import hmac
    ch = base64.b64decode(challenge_b64)
    dig = hmac.new(secret.encode("latin-1"), ch, "md5").hexdigest()
    return base64.b64encode(("%s %s" % (user, dig)).encode()).decode()


def pop3_greet(port, **kw):
    """Connect; returns (client, greeting line)."""
    c = Client(port, **kw)
    g = c.expect(PROTO["pop3"].greeting).group(0)
    return c, g


def pop3_login(port, user, secret, how="user", want=None, **kw):
    """Connect and log in (how: user, apop, plain, login, cram); the
    reply must match want (default: the +OK USER has N messages line).
    Returns (client, reply line)."""
    import base64
    c, g = pop3_greet(port, **kw)
    if want is None:
        want = POP3_LOGIN_RE % re.escape(user)
    if how == "user":
        pop3_cmd(c, "USER %s" % user)
        r = pop3_cmd(c, "PASS %s" % secret, want, timeout=15)
    elif how == "apop":
        r = pop3_cmd(c, "APOP %s %s" % (user, apop_digest(pop3_stamp(g),
                                                           secret)),
                     want, timeout=15)
    elif how == "plain":
        ir = base64.b64encode(("\0%s\0%s" % (user, secret)).encode())
        r = pop3_cmd(c, "AUTH PLAIN %s" % ir.decode(), want, timeout=15)
    elif how == "login":
        pop3_cmd(c, "AUTH LOGIN", r"\+ VXNlcm5hbWU6")
        pop3_cmd(c, base64.b64encode(user.encode()).decode(),
                 r"\+ UGFzc3dvcmQ6")
        r = pop3_cmd(c, base64.b64encode(secret.encode()).decode(), want,
                     timeout=15)
    elif how == "cram":
        c.send("AUTH CRAM-MD5")
        m = c.expect(r"\+ ([A-Za-z0-9+/=]+)")
        r = pop3_cmd(c, cram_md5_response(user, secret, m.group(1)), want,
                     timeout=15)
    else:
        fail("pop3_login: unknown method %r" % how)
    return c, r


def pop3_quit(c, want=r"\+OK .*signing off.*", timeout=30):
    """QUIT: the reply must match want, then the server closes."""
    r = pop3_cmd(c, "QUIT", want, timeout)
    c.expect_close(timeout)
    c.close()
    return r


def pop3_uidl_map(c):
    """UIDL: {message number: unique id}."""
    _, lines = pop3_multi(c, "UIDL")
    out = {}
    for ln in lines:
        m = re.fullmatch(r"([0-9]+) ([\x21-\x7e]{1,70})", ln)
        if not m:
            fail("bad UIDL line %r" % ln)
        out[int(m.group(1))] = m.group(2)
    return out


def pop3_list_map(c):
    """LIST: {message number: octets}."""
    _, lines = pop3_multi(c, "LIST")
    out = {}
    for ln in lines:
        m = re.fullmatch(r"([0-9]+) ([0-9]+)", ln)
        if not m:
            fail("bad LIST line %r" % ln)
        out[int(m.group(1))] = int(m.group(2))
    return out


MBOX_FROM = b"From sender@example.org Thu Jan  1 00:00:00 2015\n"


def mbox_quote(text):
    """Quote body lines that begin with "From " as >From (mboxrd-ish,
    as mail.local and Postfix write them)."""
    if isinstance(text, str):
        text = text.encode("latin-1")
    return re.sub(br"(?m)^(>*From )", br">\1", text)


def mbox_build(texts, from_line=MBOX_FROM):
    """An mbox file of the given message texts (bytes or str with LF,
    already quoted; each gets a From_ line and a blank line after)."""
    out = []
    for t in texts:
        if isinstance(t, str):
            t = t.encode("latin-1")
        if not t.endswith(b"\n"):
            t += b"\n"
        out.append(from_line + t + b"\n")
    return b"".join(out)


def mbox_install(sb, user, data, mode=0o600):
    """Write data as user's spool file in the sandbox (atomically)."""
    d = sb.path("mail")
    if not os.path.isdir(d):
        os.makedirs(d, 0o755)
    p = os.path.join(d, user)
    tmp = os.path.join(d, ".%s.yubintest-tmp" % user)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, p)
    return p


def pop3_form(text):
    """What RETR must send (unstuffed) for a message stored as text
    (bytes after the From_ line, without the separating blank line):
    the metadata headers left out, every LF as CRLF."""
    if isinstance(text, str):
        text = text.encode("latin-1")
    if not text.endswith(b"\n"):
        text += b"\n"
    return meta_stripped(text).replace(b"\n", b"\r\n")


__all__.append("meta_stripped")


def meta_stripped(text):
    """A stored message (bytes after the From_ line, LF line ends)
    without the metadata header lines (and their continuation lines)
    that yubind hides from clients."""
    i = text.find(b"\n\n")
    head, body = (text, b"") if i < 0 else (text[:i + 1], text[i + 1:])
    keep, drop = [], False
    for ln in head.split(b"\n")[:-1]:
        if ln[:1] in (b" ", b"\t"):
            if not drop:
                keep.append(ln)
            continue
        name = ln.split(b":", 1)[0].strip().lower()
        drop = name in POP3_META
        if not drop:
            keep.append(ln)
    return b"".join(ln + b"\n" for ln in keep) + body


def pop3_top_form(text, n):
    """What TOP msg n must send: the header, the blank line, n lines."""
    full = pop3_form(text)
    i = full.find(b"\r\n\r\n")
    if i < 0:
        return full
    head, body = full[:i + 4], full[i + 4:]
    lines = body.split(b"\r\n")[:-1]
    return head + b"".join(ln + b"\r\n" for ln in lines[:n])


__all__ += ["POP3_OK", "POP3_ERR", "POP3_META", "POP3_LOGIN_RE", "pop3_cmd",
            "pop3_read_multi", "pop3_unstuff", "pop3_multi", "pop3_retr",
            "pop3_stamp", "apop_digest", "cram_md5_response", "pop3_greet",
            "pop3_login", "pop3_quit", "pop3_uidl_map", "pop3_list_map",
            "MBOX_FROM", "mbox_quote", "mbox_build", "mbox_install",
            "pop3_form", "pop3_top_form"]


# ---------------------------------------------------------------- interop
# Helpers for the tests with real clients and superservers
# (interop_pop3.py, interop_imap.py, interop_inetd.py).

#: under CI=true a missing client is a failure, not a skip
IN_CI = os.environ.get("CI") == "true"


def need_tool(tool, path=None):
    """The tool's path (path if that is executable, else tool on PATH);
    a note and None if it is missing (a failure under CI=true)."""
    p = path if path and os.access(path, os.X_OK) else shutil.which(tool)
    if p:
        return p
    _missing(tool)
    return None


def _missing(tool):
    if IN_CI:
        fail("%s not installed; CI=true requires it (.ci/run installs it)"
             % tool)
    note("SKIP this case: %s not installed" % tool)


def temp_dir(tag):
    """A fresh directory yubintest-TAG-* removed at exit (kept with
    YUBINTEST_KEEP=1)."""
    d = _tmpdir("yubintest-%s-" % tag)
    _tmpdirs.append(d)
    return d


def run_tool(argv, timeout=60, env=None, cwd=None, input=None):
    """Run a client to completion: (exit code, stdout, stderr), the
    outputs as latin-1 text.  stdin is input (bytes), else /dev/null.
    Raises subprocess.TimeoutExpired after timeout seconds."""
    p = subprocess.run(argv, input=input,
                       stdin=None if input is not None else
                       subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=env, cwd=cwd)
    return (p.returncode, p.stdout.decode("latin-1"),
            p.stderr.decode("latin-1"))


def find_inetd():
    """(kind, path) of the inetd to use, or (None, None): openbsd-inetd
    (/usr/sbin/inetd; inetutils-inetd installs as inetutils-inetd; both
    take -d and a config file argument), else xinetd.
    YUBINTEST_INETD=none: none (to test the skip path);
    YUBINTEST_INETD=PATH: that one (xinetd if its name says so)."""
    env = os.environ.get("YUBINTEST_INETD")
    if env == "none":
        return None, None
    if env:
        return ("xinetd" if "xinetd" in os.path.basename(env)
                else "openbsd"), env
    if os.access("/usr/sbin/inetd", os.X_OK):
        return "openbsd", "/usr/sbin/inetd"
    p = shutil.which("xinetd") or (os.access("/usr/sbin/xinetd", os.X_OK)
                                   and "/usr/sbin/xinetd")
    return ("xinetd", p) if p else (None, None)


def need_inetd():
    """find_inetd() for a case that needs one: (None, None) and a note
    if there is none (a failure under CI=true)."""
    kind, inetd = find_inetd()
    if inetd is None:
        _missing("inetd (openbsd-inetd or xinetd)")
    return kind, inetd


def _inetd_conf(kind, sb, ports, user):
    y = yubind_path()
    out = []
    for proto, port in ports.items():
        if kind == "openbsd":
            out.append("127.0.0.1:%d stream tcp nowait %s %s yubind -S %s "
                       "-i %s\n" % (port, user, y, sb.dir, proto))
        else:
            out.append("service yubin-%s\n{\n"
                       "\ttype = UNLISTED\n\tsocket_type = stream\n"
                       "\tprotocol = tcp\n\tport = %d\n\tbind = 127.0.0.1\n"
                       "\twait = no\n\tuser = %s\n\tserver = %s\n"
                       "\tserver_args = -S %s -i %s\n}\n" %
                       (proto, port, user, y, sb.dir, proto))
    return "".join(out)


def start_inetd(kind, inetd, sb, services, workdir, user=None):
    """Start the inetd of find_inetd() in the foreground, running
    `yubind -S SB -i PROTO` as user (default: the current one) for each
    of services on a free loopback port, and wait until it listens on
    all of them (three tries: a "free" port can be taken meanwhile).
    Each probe connection makes inetd start yubind once; that session
    just sees EOF.  Returns (process, {proto: port}); the process is
    killed at exit.  Fails with the tail of its log (WORKDIR/inetd.log)
    if it does not listen."""
    import pwd
    user = user or pwd.getpwuid(os.getuid()).pw_name
    log_path = os.path.join(workdir, "inetd.log")
    for attempt in range(3):
        ports = dict((proto, free_port()) for proto in services)
        if kind == "openbsd":
            conf = os.path.join(workdir, "inetd.conf")
            argv = [inetd, "-d", "-i", conf]
        else:
            conf = os.path.join(workdir, "xinetd.conf")
            argv = [inetd, "-dontfork", "-f", conf, "-pidfile",
                    os.path.join(workdir, "xinetd.pid")]
        with open(conf, "w") as f:
            f.write(_inetd_conf(kind, sb, ports, user))
        with open(log_path, "ab") as log:
            proc = register_process(subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                close_fds=True))

        def listening(port):
            def up():
                if proc.poll() is not None:
                    return True
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    return True
                except OSError:
                    return False
            return wait_until(up, 10, 0.1) and proc.poll() is None
        if all(listening(ports[p]) for p in services):
            return proc, ports
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
    fail("%s did not listen; its log:\n%s" % (
        inetd, (read_bytes(log_path) or b"").decode("latin-1")[-3000:]))


def stop_process(p, timeout=5.0):
    """SIGTERM to a Popen, wait up to timeout s; then SIGKILL (and wait
    up to 5 s)."""
    p.terminate()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


def processes_with(text):
    """The lines of `ps -eo pid,args` that contain text ([] without
    ps), e.g. yubind -i processes of a sandbox still running."""
    if not shutil.which("ps"):
        return []
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True,
                        text=True).stdout
    return [ln for ln in ps.splitlines() if text in ln]


__all__ += ["IN_CI", "need_tool", "temp_dir", "run_tool", "find_inetd",
            "need_inetd", "start_inetd", "stop_process", "processes_with"]


# ---------------------------------------------------------------- relay
# Helpers for the relay tests (proto_relay.py, interop_relay_netns.py):
# a scripted SMTP server standing in for a remote host that misbehaves,
# the sendmail personality of the binary, the queue, the relay log
# lines and RFC 3464 bounces.

def _peer_gone(conn):
    """True if the other end of CONN has hung up (its FIN or a reset has
    arrived), whether or not data is still waiting before it.  Never
    reads and never waits: poll() with POLLRDHUP (Linux); elsewhere only
    a hang-up that poll() reports as POLLHUP is seen."""
    import select
    rdhup = getattr(select, "POLLRDHUP", 0)
    try:
        p = select.poll()
        p.register(conn, select.POLLIN | rdhup)
        ev = p.poll(0)
    except (OSError, ValueError):
        return True
    return any(e & (rdhup | select.POLLHUP | select.POLLERR)
               for _, e in ev)


class FakeSMTP:
    """A scripted SMTP server on 127.0.0.1 in a thread of the test.

    ehlo:  the EHLO keywords offered (a list; None: EHLO is refused with
           500, so the client must fall back to HELO)
    rcpt:  fn(address, n) -> reply line for RCPT TO, where n counts the
           earlier RCPTs of that address (0 the first time)
    data:  fn(transaction) -> reply line after the final dot (None: the
           connection is closed instead of a reply)
    port:  0 for any free port

    Every session is recorded as a dict: helo (the EHLO or HELO line),
    lines (every command line), quit (True if QUIT was said), txns (its
    transactions).  A transaction is a dict: helo, mail (the MAIL FROM
    line), rcpts [(address, reply)], data (the message as the client
    meant it: CRLF lines, dot-unstuffed; None if no DATA), raw (the
    bytes on the wire after 354), session (the session's dict).
    max_active: the most sessions that were open at the same time
    (delay holds each greeting back that long, quit_delay the 221 to
    QUIT, unless the client hangs up first)."""

    def __init__(self, ehlo=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                             "SIZE 10240000"),
                 rcpt=None, data=None, port=0, name="fake.test", delay=0.0,
                 quit_delay=0.0):
        import threading
        self.delay = delay          # seconds before the greeting
        self.quit_delay = quit_delay    # ... and before the 221 to QUIT
        self.active = 0             # sessions open at the last accept
        self.conns = set()          # their sockets
        self.max_active = 0         # the most that were open at once
        self.ehlo = None if ehlo is None else list(ehlo)
        self.rcpt = rcpt or (lambda addr, n: "250 2.1.5 Ok")
        self.data = data or (lambda sess: "250 2.0.0 Ok: queued by fake")
        self.name = name
        self.sessions = []
        self.seen = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        _fakes.append(self)

    def _accept(self):
        import threading
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        sess = {"helo": None, "quit": False, "lines": [], "txns": []}
        txn = None
        with self.lock:
            self.sessions.append(sess)
            # sessions whose client has hung up do not count, even if
            # their thread has not noticed yet (the client may close
            # and connect again before that thread runs)
            self.active = 1 + sum(1 for c in self.conns
                                  if not _peer_gone(c))
            self.conns.add(conn)
            self.max_active = max(self.max_active, self.active)
        conn.settimeout(30)
        f = conn.makefile("rb")

        def say(line):
            if VERBOSE:
                print("  fake S: %s" % line)
            conn.sendall(line.encode("latin-1") + b"\r\n")
        try:
            if self.delay:
                time.sleep(self.delay)
            say("220 %s ESMTP fake" % self.name)
            while True:
                ln = f.readline(4096)
                if not ln:
                    return
                cmd = ln.rstrip(b"\r\n").decode("latin-1")
                sess["lines"].append(cmd)
                if VERBOSE:
                    print("  fake C: %s" % cmd)
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    if self.ehlo is None:
                        say("500 5.5.1 EHLO not understood")
                        continue
                    sess["helo"] = cmd
                    kw = [self.name] + self.ehlo
                    for i, k in enumerate(kw):
                        say("250%s%s" % (" " if i == len(kw) - 1 else "-",
                                         k))
                elif verb == "HELO":
                    sess["helo"] = cmd
                    say("250 %s" % self.name)
                elif verb == "MAIL":
                    lim = [int(k.split()[1]) for k in (self.ehlo or [])
                           if re.fullmatch(r"SIZE [0-9]+", k)]
                    sz = re.search(r"\sSIZE=([0-9]+)", cmd, re.I)
                    if lim and lim[0] and sz and int(sz.group(1)) > lim[0]:
                        say("552 5.3.4 Message size exceeds fixed limit")
                        continue
                    txn = {"helo": sess["helo"], "mail": cmd, "rcpts": [],
                           "data": None, "raw": None, "session": sess}
                    with self.lock:
                        sess["txns"].append(txn)
                    say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    m = re.search(r"<([^>]*)>", cmd)
                    addr = m.group(1) if m else cmd
                    with self.lock:
                        n = self.seen.get(addr.lower(), 0)
                        self.seen[addr.lower()] = n + 1
                    if txn is None:
                        say("503 5.5.1 MAIL first")
                        continue
                    r = self.rcpt(addr, n)
                    txn["rcpts"].append((addr, r))
                    say(r)
                elif verb == "DATA":
                    if txn is None or not any(r.startswith("2")
                                              for _, r in txn["rcpts"]):
                        say("554 5.5.1 No valid recipients")
                        continue
                    say("354 go ahead")
                    raw = []
                    while True:
                        d = f.readline(1 << 20)
                        if not d:
                            return
                        raw.append(d)
                        if d == b".\r\n":
                            break
                    data = b"".join((x[1:] if x.startswith(b".") else x)
                                    for x in raw[:-1])
                    with self.lock:
                        txn["raw"] = b"".join(raw)
                        txn["data"] = data
                    r = self.data(txn)
                    if r is None:
                        return
                    say(r)
                    txn = None
                elif verb == "RSET":
                    txn = None
                    say("250 2.0.0 Ok")
                elif verb == "NOOP":
                    say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    sess["quit"] = True
                    if self.quit_delay:
                        # a slow goodbye; the connection is over as
                        # soon as the client hangs up (then no 221)
                        import select
                        r, _, _ = select.select([conn], [], [],
                                                self.quit_delay)
                        if r and not conn.recv(1, socket.MSG_PEEK):
                            return
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Command not implemented")
        except OSError:
            return
        finally:
            with self.lock:
                self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def delivered(self):
        """The transactions that sent a message (data is not None), in
        the order they began."""
        with self.lock:
            return [t for s in self.sessions for t in s["txns"]
                    if t["data"] is not None]

    def mail_lines(self):
        """Every MAIL FROM line received."""
        with self.lock:
            return [t["mail"] for s in self.sessions for t in s["txns"]]

    def rcpt_count(self, addr):
        with self.lock:
            return self.seen.get(addr.lower(), 0)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        if self in _fakes:
            _fakes.remove(self)


_fakes = []
atexit.register(lambda: [f.close() for f in list(_fakes)])


def sendmail_link(sb, name="yubin-sendmail"):
    """SB/bin/NAME: a symlink to the binary under test, which acts as
    sendmail (or mailq, newaliases) by the name it is called with."""
    d = sb.path("bin")
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, name)
    if not os.path.lexists(link):
        os.symlink(yubind_path(), link)
    return link


def sendmail_run(sb, args, input=b"", name="yubin-sendmail", timeout=20.0):
    """Run `NAME -S SB ARGS` (the binary under that name, in the
    sandbox's prefix such as a network namespace) to completion:
    (exit code, stdout, stderr) as latin-1 text."""
    if isinstance(input, str):
        input = input.encode("latin-1")
    code, out, err = _run(sb.prefix + [sendmail_link(sb, name), "-S",
                                       sb.dir] + list(args), input, timeout)
    return code, out.decode("latin-1"), err.decode("latin-1")


def queue_ids(sb):
    """The ids of the messages in the sandbox's queue (an ID.env each)."""
    try:
        names = os.listdir(sb.path("queue"))
    except OSError:
        return []
    return sorted(n[:-4] for n in names if n.endswith(".env"))


RELAY_LOG_RE = (r"(?P<id>[0-9A-Za-z]+): to=<(?P<to>[^>]*)>, "
                r"(?:orig_to=<[^>]*>, )?(?:relay=(?P<relay>[^,]*), )?"
                r"(?:delay=(?P<delay>[0-9]+), )?"
                r"status=(?P<status>sent|deferred|bounced|expired)"
                r"(?: \((?P<reply>.*)\))?$")


def relay_log(sb, to=None, status=None):
    """The delivery log lines of the daemon's stderr (`ID: to=<..>,
    relay=.., delay=.., status=.. (..)`) as match objects, optionally
    only those for the address to and the given status."""
    out = []
    for ln in sb.stderr_text().splitlines():
        m = re.search(RELAY_LOG_RE, ln)
        if not m:
            continue
        if to is not None and m.group("to").lower() != to.lower():
            continue
        if status is not None and m.group("status") != status:
            continue
        out.append(m)
    return out


def dsn_parse(text):
    """Take a bounce apart (text: the message as stored, bytes, without
    the mbox From_ line).  Returns a dict: msg (email.message.Message),
    human (the first part's text), per_msg (the per-message fields of
    the delivery-status part, {lower-case name: value}), rcpts (a list
    of {name: value} per recipient), original (the bytes of the third
    part: message/rfc822 or text/rfc822-headers), original_type.
    Fails with what is wrong if it is not an RFC 3464 report."""
    import email
    import email.policy
    msg = email.message_from_bytes(text, policy=email.policy.compat32)
    ct = msg.get_content_type()
    if ct != "multipart/report":
        fail("bounce Content-Type is %r, want multipart/report" %
             msg.get("Content-Type"))
    if (msg.get_param("report-type") or "").lower() != "delivery-status":
        fail("bounce report-type is %r, want delivery-status" %
             msg.get_param("report-type"))
    parts = msg.get_payload()
    if not isinstance(parts, list) or len(parts) not in (2, 3):
        fail("bounce has %s parts, want 2 or 3" %
             (len(parts) if isinstance(parts, list) else "no"))
    if parts[0].get_content_type() != "text/plain":
        fail("first part is %s, want text/plain" %
             parts[0].get_content_type())
    if parts[1].get_content_type() != "message/delivery-status":
        fail("second part is %s, want message/delivery-status" %
             parts[1].get_content_type())
    human = parts[0].get_payload(decode=True).decode("latin-1")
    # the delivery-status body: groups of fields separated by blank lines
    ds = parts[1].get_payload()
    if isinstance(ds, list):     # the email package parses it into Messages
        groups = [[(k, v) for k, v in p.items()] for p in ds]
    else:
        groups = []
        for blk in re.split(r"\r?\n\r?\n", ds.strip()):
            fields, last = [], None
            for ln in blk.splitlines():
                if ln[:1] in (" ", "\t") and fields:
                    fields[-1] = (fields[-1][0], fields[-1][1] + " " +
                                  ln.strip())
                elif ":" in ln:
                    k, v = ln.split(":", 1)
                    fields.append((k, v.strip()))
            groups.append(fields)
    groups = [dict((k.strip().lower(), " ".join(v.split())) for k, v in g)
              for g in groups if g]
    if len(groups) < 2:
        fail("delivery-status part has %d field groups, want the "
             "per-message one and at least one per-recipient one: %r" %
             (len(groups), ds))
    original, otype = None, None
    if len(parts) == 3:
        otype = parts[2].get_content_type()
        if otype not in ("message/rfc822", "text/rfc822-headers"):
            fail("third part is %s, want message/rfc822 or "
                 "text/rfc822-headers" % otype)
        p = parts[2].get_payload()
        if isinstance(p, list):
            original = p[0].as_bytes()
        else:
            original = parts[2].get_payload(decode=True) or b""
    return {"msg": msg, "human": human, "per_msg": groups[0],
            "rcpts": groups[1:], "original": original,
            "original_type": otype}


__all__ += ["FakeSMTP", "sendmail_link", "sendmail_run", "queue_ids",
            "RELAY_LOG_RE", "relay_log", "dsn_parse"]

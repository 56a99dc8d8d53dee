"""imaptest.py - IMAP helpers for tests/proto_imap*.py, on top of
yubintest.py: a session object that sends tagged commands (with
synchronizing and non-synchronizing literals), reads untagged
responses (with literals) up to the tagged one, keeps a transcript
that every failure message shows, and a parser for IMAP response data
(parenthesised lists, atoms, quoted strings, literals, NIL) so that a
test compares meaning, not spelling (a literal and a quoted string of
the same octets are equal).  Python 3 standard library only.
"""

import base64
import hmac
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403
import yubintest  # noqa: E402

#: what CAPABILITY must list (issue 5), in any order
IMAP_CAPS_REQUIRED = ["IMAP4rev1", "UIDPLUS", "NAMESPACE", "ID", "UNSELECT",
                      "MOVE", "LITERAL+", "CHILDREN", "ENABLE", "SASL-IR",
                      "AUTH=PLAIN", "AUTH=LOGIN", "AUTH=CRAM-MD5"]
#: lines of transcript shown with a failure
TRANSCRIPT_TAIL = 30
#: a tagged reply that refuses (Imap.cmd's want)
NO_OR_BAD = r"(NO|BAD)( .*)?"


class Lit(bytes):
    """A string that came as a literal (compares equal to bytes)."""


class Atom(str):
    """An atom of response data (NIL is None, not an Atom)."""


def _short(b, n=300):
    if len(b) > n:
        return repr(b[:n]) + "...(%d bytes)" % len(b)
    return repr(b)


class Imap:
    """One IMAP connection.  Everything sent and received is kept in
    self.log; self.fail()/self.check() add its tail to the message."""

    def __init__(self, port, name="c", greet=True, timeout=10.0, client=None):
        self.c = client or Client(port, timeout=timeout)
        self.name = name
        self.n = 0
        self.log = []
        self.greeting = None
        if greet:
            self.greeting = self.line()
            if not re.fullmatch(PROTO["imap"].greeting,
                                self.greeting.decode("latin-1")):
                self.fail("greeting %r" % self.greeting)

    # -- transcript
    def _rec(self, who, data):
        for ln in data.split(b"\r\n"):
            if ln:
                self.log.append("%s %s: %s" % (self.name, who,
                                               _short(ln, 400)))

    def transcript(self, n=TRANSCRIPT_TAIL):
        t = self.log[-n:]
        return "\n    transcript (%s, last %d lines):\n    " % (
            self.name, len(t)) + "\n    ".join(t)

    def fail(self, msg):
        fail(msg + self.transcript())

    def check(self, cond, msg):
        return check(cond, msg + ("" if cond else self.transcript(12)))

    # -- raw I/O
    def send_raw(self, data):
        self._rec("C", data)
        self.c.send_raw(data)

    def send(self, line):
        if isinstance(line, str):
            line = line.encode("latin-1")
        self.send_raw(line + b"\r\n")

    def line(self, timeout=None):
        """One response line WITH the octets of its literals (each
        {n}CRLF followed by n bytes), without the final CRLF."""
        out = b""
        while True:
            try:
                ln = self.c.readline(timeout)
            except TestFailure as e:
                self.fail(str(e))
            if not ln:
                self.fail("connection closed (partial response %r)" % out)
            if not ln.endswith(b"\r\n"):
                self.fail("response line without CRLF: %r" % ln)
            out += ln[:-2]
            m = re.search(br"\{([0-9]+)\}$", ln[:-2])
            if not m:
                self._rec("S", out[-len(ln):] if len(out) > 2000 else out)
                return out
            n = int(m.group(1))
            out += b"\r\n" + self.read_octets(n, timeout)

    def read_octets(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.c.timeout)
        while len(self.c.buf) < n:
            if self.c.eof:
                self.fail("connection closed inside a literal of %d (have "
                          "%d)" % (n, len(self.c.buf)))
            try:
                d = self.c._fill(deadline)
            except socket.timeout:
                self.fail("literal of %d octets not complete (have %d)" %
                          (n, len(self.c.buf)))
            self.c.buf += d
        d, self.c.buf = self.c.buf[:n], self.c.buf[n:]
        return d

    def expect(self, regex, timeout=None):
        """One response line (str, literals included) matching regex."""
        ln = self.line(timeout).decode("latin-1")
        m = re.fullmatch(regex, ln, re.S)
        if not m:
            self.fail("expected /%s/, got %r" % (regex, ln[:500]))
        return m

    def expect_close(self, timeout=None):
        try:
            self.c.expect_close(timeout)
        except TestFailure as e:
            self.fail(str(e))

    def quiet(self, seconds):
        return quiet_for(self.c, seconds)

    def close(self):
        self.c.close()

    # -- commands
    def tag(self):
        self.n += 1
        return "%s%d" % (self.name, self.n)

    def start(self, line):
        """Send a tagged command line (no literals); returns the tag."""
        t = self.tag()
        self.send("%s %s" % (t, line))
        return t

    def result(self, tag, want="OK", timeout=None):
        """Read up to the tagged reply of tag.  want: "OK", "NO", "BAD",
        a regex for the whole tagged line after the tag, or None (any).
        Returns (untagged responses as bytes, tagged line as str)."""
        unt = []
        while True:
            ln = self.line(timeout)
            if ln.startswith(b"* "):
                unt.append(ln)
                continue
            if ln.startswith(b"+"):
                self.fail("unexpected continuation %r while waiting for %s"
                          % (ln, tag))
            s = ln.decode("latin-1")
            if not s.startswith(tag + " "):
                self.fail("response %r is neither untagged nor tagged %s" %
                          (s, tag))
            rest = s[len(tag) + 1:]
            if want is not None:
                rx = want if not re.fullmatch(r"OK|NO|BAD", want) else \
                    want + r"( .*)?"
                if not re.fullmatch(rx, rest, re.S):
                    self.fail("tagged reply %r, want /%s/" % (s, rx))
            return unt, s

    def cmd(self, line, want="OK", timeout=None):
        """Send a command and read its reply: (untagged, tagged)."""
        return self.result(self.start(line), want, timeout)

    def ok(self, line, timeout=None):
        return self.cmd(line, "OK", timeout)[0]

    def cmd_lit(self, parts, want="OK", sync=True, timeout=None,
                cont=r"\+( .*)?"):
        """A command with literals: parts alternates str (command text)
        and bytes (a literal's octets).  sync: wait for the "+" after
        each {n}; else send {n+} (LITERAL+).  Returns (untagged, tagged)."""
        t = self.tag()
        buf = t.encode() + b" "
        for p in parts:
            if isinstance(p, str):
                buf += p.encode("latin-1")
                continue
            buf += b"{%d%s}\r\n" % (len(p), b"" if sync else b"+")
            if sync:
                self.send_raw(buf)
                buf = b""
                ln = self.line(timeout).decode("latin-1")
                if not re.fullmatch(cont, ln):
                    self.fail("after a literal header: %r, want /%s/" %
                              (ln, cont))
            buf += bytes(p)
        self.send_raw(buf + b"\r\n")
        return self.result(t, want, timeout)

    # -- conveniences
    def login(self, user, pw, want="OK"):
        return self.cmd("LOGIN %s %s" % (quote(user), quote(pw)), want,
                        timeout=15)

    def select(self, box="INBOX", examine=False, want="OK"):
        """SELECT/EXAMINE: returns a dict of what it said (exists,
        recent, unseen, uidvalidity, uidnext, flags, permanentflags,
        rw) and the untagged lines under "lines"."""
        unt, tl = self.cmd("%s %s" % ("EXAMINE" if examine else "SELECT",
                                      quote(box)), want)
        return select_info(unt, tl)

    def logout(self):
        t = self.start("LOGOUT")
        self.expect(r"\* BYE( .*)?")
        self.expect(re.escape(t) + r" OK( .*)?")
        self.expect_close()
        self.close()

    def fetch(self, seqset, items, uid=False, want="OK"):
        """FETCH: returns {seq: {ITEM: value}} merged over all FETCH
        responses (value parsed; names upper-case) and the untagged
        responses that are not FETCH under key None."""
        unt, tl = self.cmd("%sFETCH %s %s" % ("UID " if uid else "", seqset,
                                              items), want)
        return fetch_map(unt, self)

    def search(self, crit, uid=False, want="OK"):
        unt, tl = self.cmd("%sSEARCH %s" % ("UID " if uid else "", crit), want)
        return search_result(unt, self)

    def status(self, box, items="(MESSAGES RECENT UIDNEXT UIDVALIDITY "
               "UNSEEN)", want="OK"):
        unt, tl = self.cmd("STATUS %s %s" % (quote(box), items), want)
        out = {}
        for u in unt:
            if u.startswith(b"* STATUS "):
                v = parse(u[9:])
                if len(v) != 2 or not isinstance(v[1], list):
                    self.fail("malformed STATUS %r" % u)
                for k, x in zip(v[1][0::2], v[1][1::2]):
                    out[str(k).upper()] = int(x)
                out["_name"] = v[0]
        return out

    def noop_until(self, kind, timeout=10, interval=0.5):
        """NOOP every interval s until an untagged kind response (e.g.
        "EXISTS") has come, for at most timeout s: returns the untagged
        responses of all those NOOPs."""
        got = []

        def seen():
            unt, _ = self.cmd("NOOP")
            got.extend(unt)
            return self.untagged(got, kind)
        wait_until(seen, timeout, interval)
        return got

    def append(self, box, data, flags=None, date=None, sync=True,
               want="OK", timeout=None):
        """APPEND data (bytes, CRLF) to box: returns (tagged line, the
        UID of its [APPENDUID v uid] or None)."""
        head = "APPEND %s " % quote(box)
        if flags is not None:
            head += "(%s) " % " ".join(flags)
        if date is not None:
            head += '"%s" ' % date
        _, tl = self.cmd_lit([head, data], want, sync, timeout)
        m = re.match(r"\S+ OK \[APPENDUID [0-9]+ ([0-9]+)\]", tl)
        return tl, int(m.group(1)) if m else None

    def fetch_all(self, items="(UID FLAGS BODY.PEEK[])", exists=None,
                  timeout=60):
        """FETCH 1:* of the selected mailbox as a list in sequence
        order (one {ITEM: value} per message); [] if exists is 0.  Every
        sequence number from 1 to the last must have its response."""
        if exists == 0:
            return []
        unt, _ = self.cmd("FETCH 1:* %s" % items, timeout=timeout)
        r = fetch_map(unt, self)
        seqs = sorted(k for k in r if k is not None)
        if seqs != list(range(1, len(seqs) + 1)) or \
                (exists is not None and len(seqs) != exists):
            self.fail("FETCH 1:* answered for %d messages (%s...), %s "
                      "EXISTS" % (len(seqs), seqs[:5], exists))
        return [r[k] for k in seqs]

    def drain(self, timeout=5.0):
        """Everything the server still sends until it closes the
        connection (after a kill: what it said before it died), as
        bytes; what was buffered comes first.  Closes the client."""
        deadline = time.monotonic() + timeout
        while not self.c.eof and self.c.sock is not None:
            try:
                self.c.buf += self.c._fill(deadline)
            except (socket.timeout, OSError):
                break
        data, self.c.buf = self.c.buf, b""
        self._rec("S", data)
        self.close()
        return data

    def untagged(self, unt, kind):
        """The untagged responses of kind (e.g. "EXISTS", "LIST")."""
        out = []
        for u in unt:
            s = u.decode("latin-1")
            m = re.match(r"\* ([0-9]+ )?([A-Za-z.]+)", s)
            if m and m.group(2).upper() == kind.upper():
                out.append(s)
        return out


class ImapSetup(SharedSetup):
    """SharedSetup (the daemon and fresh users of a script) with IMAP
    sessions on it."""

    def connect(self, s=None, name="c"):
        """A connection (greeting read) to s, default the shared
        sandbox."""
        return Imap((s or self.sb()).port("imap"), name)

    def session(self, user, s=None, name="c"):
        """A connection with user logged in."""
        c = self.connect(s, name)
        c.login(user, self.users[user])
        return c


def quote(s):
    """An IMAP quoted string for s (str)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: what select_info() takes from the untagged responses: (regex matched
#: at the start of a line, with the groups k, the key (lower-cased),
#: and v, the value; how to convert v)
_SELECT_DATA = [
    (r"\* (?P<v>[0-9]+) (?P<k>(?i:EXISTS|RECENT))\Z", int),
    (r"\* (?P<k>FLAGS) \((?P<v>.*)\)\Z", str.split),
    (r"\* OK \[(?P<k>UNSEEN|UIDVALIDITY|UIDNEXT) (?P<v>[0-9]+)\]", int),
    (r"\* OK \[(?P<k>PERMANENTFLAGS) \((?P<v>.*?)\)\]", str.split),
]


def select_info(unt, tl):
    info = {"lines": [u.decode("latin-1") for u in unt], "tagged": tl}
    for s in info["lines"]:
        for rx, conv in _SELECT_DATA:
            m = re.match(rx, s)
            if m:
                info[m.group("k").lower()] = conv(m.group("v"))
    m = re.match(r"\S+ OK \[(READ-WRITE|READ-ONLY)\]", tl)
    info["rw"] = m.group(1) if m else None
    return info


def flagset(v, recent=False):
    """The flags of a parsed FLAGS list as a set of str, without
    \\Recent unless recent (it belongs to the session, not the file)."""
    return set(str(f) for f in (v or []) if recent or
               str(f).lower() != "\\recent")


def search_result(unt, ses=None):
    res = None
    for u in unt:
        s = u.decode("latin-1")
        m = re.fullmatch(r"\* SEARCH((?: [0-9]+)*) ?", s)
        if m:
            if res is not None and ses:
                ses.fail("two SEARCH responses")
            res = [int(x) for x in m.group(1).split()]
    if res is None and ses:
        ses.fail("no * SEARCH response")
    return res


def fetch_map(unt, ses=None):
    out = {}
    for u in unt:
        m = re.match(br"\* ([0-9]+) FETCH ", u)
        if not m:
            out.setdefault(None, []).append(u)
            continue
        try:
            v = parse(u[m.end():])
        except ValueError as e:
            if ses:
                ses.fail("unparsable FETCH response %s: %s" % (_short(u), e))
            raise
        if len(v) != 1 or not isinstance(v[0], list) or len(v[0]) % 2:
            if ses:
                ses.fail("malformed FETCH response %s" % _short(u))
        d = out.setdefault(int(m.group(1)), {})
        lst = v[0]
        for k, x in zip(lst[0::2], lst[1::2]):
            d[str(k).upper()] = x
    return out


# ---------------------------------------------------------------- parsing

_ATOM_STOP = b" ()\"{\r\n]"


def parse(data, pos=0):
    """Parse IMAP response data (bytes) into a list of values: list for
    (...), None for NIL, Atom for atoms and numbers, bytes for quoted
    strings, Lit for literals.  An atom may carry [...] (BODY[1.MIME],
    BODY[HEADER.FIELDS (A B)]<0>) with spaces inside the brackets."""
    out, pos = _parse_seq(data, pos, None)
    return out


def _parse_seq(data, pos, close):
    out = []
    n = len(data)
    while True:
        while pos < n and data[pos:pos + 1] == b" ":
            pos += 1
        if pos >= n:
            if close:
                raise ValueError("unbalanced parenthesis")
            return out, pos
        ch = data[pos:pos + 1]
        if ch == b")":
            if not close:
                raise ValueError("unexpected ) at %d" % pos)
            return out, pos + 1
        if ch == b"(":
            v, pos = _parse_seq(data, pos + 1, b")")
            out.append(v)
        elif ch == b'"':
            i = pos + 1
            s = bytearray()
            while True:
                if i >= n:
                    raise ValueError("unterminated quoted string")
                c = data[i:i + 1]
                if c == b"\\":
                    s += data[i + 1:i + 2]
                    i += 2
                    continue
                if c == b'"':
                    break
                if c in (b"\r", b"\n"):
                    raise ValueError("CR/LF in a quoted string")
                s += c
                i += 1
            out.append(bytes(s))
            pos = i + 1
        elif ch == b"{":
            m = re.compile(br"\{([0-9]+)\}\r\n").match(data, pos)
            if not m:
                raise ValueError("bad literal at %d: %r" %
                                 (pos, data[pos:pos + 20]))
            k = int(m.group(1))
            if m.end() + k > n:
                raise ValueError("literal runs past the data")
            out.append(Lit(data[m.end():m.end() + k]))
            pos = m.end() + k
        else:
            i = pos
            while i < n and data[i:i + 1] not in _ATOM_STOP:
                if data[i:i + 1] == b"[":
                    j = data.find(b"]", i)
                    if j < 0:
                        raise ValueError("unclosed [")
                    i = j + 1
                    if data[i:i + 1] == b"<":
                        j = data.find(b">", i)
                        if j < 0:
                            raise ValueError("unclosed <")
                        i = j + 1
                    break
                i += 1
            if i == pos:
                raise ValueError("unexpected %r at %d" % (ch, pos))
            a = data[pos:i].decode("latin-1")
            out.append(None if a.upper() == "NIL" else Atom(a))
            pos = i


def canon(v):
    """A canonical text for parsed data: strings always quoted (octets
    as \\xNN escapes where not printable), atoms as they are, NIL;
    literal vs quoted and the case of atoms like NIL do not matter."""
    if v is None:
        return "NIL"
    if isinstance(v, list):
        return "(" + " ".join(canon(x) for x in v) + ")"
    if isinstance(v, Atom):
        return str(v)
    s = bytes(v)
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92)
                         else "\\x%02x" % b for b in s) + '"'


def canon_text(data):
    """canon() of the one value in data (bytes or str)."""
    if isinstance(data, str):
        data = data.encode("latin-1")
    v = parse(data)
    if len(v) != 1:
        raise ValueError("%d values, want 1" % len(v))
    return canon(v[0])


# ---------------------------------------------------------------- strace

def strace_tool():
    """The path of strace if it can attach to a daemon of ours: else
    None and a note (need_tool(): a missing strace fails under
    CI=true; the Yama ptrace_scope of a non-root user only skips)."""
    tool = need_tool("strace")
    if tool is None:
        return None
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read().strip() or "0")
    except (OSError, ValueError):
        scope = 0
    if scope >= 3 or (scope >= 1 and os.geteuid() != 0):
        note("SKIP this case: kernel.yama.ptrace_scope is %d: strace "
             "cannot attach to yubind as this user" % scope)
        return None
    return tool


class Strace:
    """strace (path: tool, default the one on PATH) attached to a
    running daemon, seeing only the system calls on paths (-P: by name
    or by a descriptor open on one).  With kill=(syscall, n) it kills
    the daemon with SIGKILL at the nth such call of syscall (strace -e
    inject=SYSCALL:signal=KILL:when=N: the call never runs); else it
    logs every call for counts().  Attached when the constructor
    returns; stop() detaches (strace also ends with the daemon).  For
    the crash tests; strace_tool() first."""

    def __init__(self, pid, paths, kill=None, tool=None):
        self.dir = temp_dir("strace")
        self.log = os.path.join(self.dir, "trace")
        argv = [tool or shutil.which("strace"), "-qq", "-f", "-p", str(pid)]
        for p in paths:
            argv += ["-P", p]
        if kill is not None:
            argv += ["-e", "trace=%s" % kill[0],
                     "-e", "inject=%s:signal=KILL:when=%d" % tuple(kill)]
        argv += ["-o", self.log]
        with open(os.path.join(self.dir, "stderr"), "wb") as err:
            self.proc = register_process(subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, close_fds=True))

        wait_traced(self.proc, pid)
        if self.proc.poll() is not None:
            fail("strace exited with %s: %s" % (
                self.proc.returncode, (read_bytes(os.path.join(
                    self.dir, "stderr")) or b"").decode("latin-1")[-500:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def counts(self):
        """{system call name: calls logged} (after stop())."""
        out = {}
        for ln in (read_bytes(self.log) or b"").decode("latin-1").split("\n"):
            m = re.match(r"(?:\[pid +[0-9]+\] |[0-9]+ +)?([a-z0-9_]+)\(", ln)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + 1
        return out


# ---------------------------------------------------------------- helpers

def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode()


def cram_md5(user, secret, challenge_b64):
    ch = base64.b64decode(challenge_b64)
    dig = hmac.new(secret.encode("latin-1"), ch, "md5").hexdigest()
    return b64("%s %s" % (user, dig))


def crlf(b):
    """LF text as the CRLF octets a client sees."""
    if isinstance(b, str):
        b = b.encode("latin-1")
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def mutf7_encode(s):
    """RFC 3501 5.1.3 modified UTF-7."""
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=")
                       .replace("/", ",") + "-")
            del buf[:]
    for ch in s:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def imap_date(t):
    """An IMAP date (d-Mon-yyyy) of a time.time() value, UTC."""
    return time.strftime("%d-%b-%Y", time.gmtime(t))


__all__ = [n for n in dir() if not n.startswith("_") and n not in
           ("base64", "hmac", "os", "re", "shutil", "socket",
            "subprocess", "sys", "time", "yubintest")] + yubintest.__all__

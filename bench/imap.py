#!/usr/bin/env python3
"""imap.py - IMAP open and bulk FETCH of big mboxes: yubind side by side
with Dovecot's IMAP (and GNU mailutils imap4d when installed).

usage: imap.py [--sizes 10k,100k] [--reps 3] [--servers yubind,dovecot,mailutils]
               [--sample 300] [--probe-ms 10] [--setup-peers]
               [--work DIR] [--data DIR] [--peers DIR] [--json FILE]
               [--report JSONL...] [--keep]

The issue's benchmark: SELECT (first and repeated), FETCH 1:* (FLAGS
RFC822.SIZE ENVELOPE) and FETCH 1:* BODY.PEEK[] on mboxes of 10,000
(51 MB) and 100,000 messages (514 MB) made by the shared kit's mkmbox.py
(--seed 1 and 2, as in BASELINE.md and bench/pop3.py; cached in --data).
Every server gets its own fresh copy of the file for each run (they all
write their metadata into it).  One run = one server, one size:
  S1 cold     LOGIN, SELECT INBOX on the fresh copy (yubind: a daemon just
              started, first ever open; Dovecot: its index deleted; mailutils
              keeps none) = "SELECT cold"; FETCH 1:* (FLAGS RFC822.SIZE
              ENVELOPE) = "meta cold"; FETCH 1:* BODY.PEEK[] = body MB/s
              (literal octets / (command sent .. tagged OK)); meanwhile a
              second connection (logged in, not selected) sends NOOP every
              --probe-ms ms and waits for its reply: the NOOP latency while
              the big FETCH runs (a single-process server must not block).
              LOGOUT: "LOGOUT s" = until the server closes the connection.
  S2 settle   a new connection right after that close: LOGIN, SELECT.
              "done after LOGOUT s" = LOGOUT sent .. this SELECT's OK: a
              server that rewrites the mbox at LOGOUT (X-UID/X-IMAPbase,
              Dovecot's and mailutils' own headers) is busy until then.
              Its LOGOUT is timed too.
  S3 warm     a new connection: LOGIN, SELECT = "SELECT warm", FETCH 1:*
              (FLAGS RFC822.SIZE ENVELOPE) = "meta warm", LOGOUT.
Verification (all servers, every run): EXISTS and the number of FETCH
responses = N; every RFC822.SIZE = the size of that message of the
pristine file in CRLF form (From_ line and separator line excluded); every
BODY[] literal length = RFC822.SIZE (and their sum = the sum of the sizes);
the BODY[] text of --sample messages (spread over the file, first, last and
every message with a >From line) = the pristine message with CRLF; their
ENVELOPE date, subject, message-id and from/to mailbox@host = the file's
headers.  Mismatches are counted and the first is shown.
Memory: the RSS of the process serving the session (yubind: the daemon;
Dovecot: the session's imap process; mailutils: its forked child) after
LOGIN, after SELECT, after the meta FETCH, and its peak (VmHWM) after the
body FETCH.  B/msg = (RSS after SELECT - RSS after LOGIN) / N (VmRSS, and
RssAnon for yubind: a mapped file counts in VmRSS, not RssAnon).
Servers run interleaved, the order rotating with every repetition.
Peers (need root and system users bench1 (10k) / bench2 (100k), password
benchpass; --setup-peers installs/creates them):
  dovecot    a private instance from PEERS/dovecot/dovecot.conf (base_dir,
             ports, spool, passwd-file moved under --work); package
             dovecot-imapd.
  mailutils  GNU mailutils imap4d from PEERS/mailutils/imap4d.conf (pidfile,
             port and spool moved under --work), system (shadow) auth;
             package mailutils-imap4d; optional: skipped if not installed.
A peer that cannot run is skipped with the reason; yubind is then compared
with BASELINE.md's figures.
Prints a markdown table of medians [min-max] and JSON lines (stdout, and
--json).  Needs YUBIND (or --yubind).  Not part of make check.
"""

import argparse
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time

import benchlib
from benchlib import (SIZES, PASSWORD, Closed, Dovecot, LineConn, Mbox, Peer,
                      SpoolYubind, Stall, add_bench_users, cell, fmt,
                      free_port, groups, loadavg1, mem_of, need_root_users,
                      note, proc_list, reference, session_of, table_head,
                      wait_greeting)

META = "FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)"
BODY = "FETCH 1:* BODY.PEEK[]"
# BASELINE.md (../shared/bench), IMAP table, medians of 3, this kind of
# machine: used when a peer cannot run here.
BASELINE = {
    ("dovecot", "100k"): {"select_cold_s": 6.36, "meta_cold_s": 5.22,
                          "body_mb_s": 157, "select_warm_s": 0.0184,
                          "meta_warm_s": 4.0},
    ("dovecot", "10k"): {"select_cold_s": 0.764, "meta_cold_s": 0.634,
                         "body_mb_s": 123, "select_warm_s": 0.0043,
                         "meta_warm_s": 0.366},
    ("mailutils", "100k"): {"select_cold_s": 6.07, "meta_cold_s": 4.21,
                            "body_mb_s": 208, "select_warm_s": 5.59},
    ("mailutils", "10k"): {"select_cold_s": 0.569, "meta_cold_s": 0.26,
                           "body_mb_s": 209, "select_warm_s": 0.592},
}


# ------------------------------------------------------------ data

def unfold(v):
    """Unfolded, white space runs as one space (ENVELOPE strings are
    compared so)."""
    if v is None:
        return None
    return re.sub(rb"\s+", b" ", v).strip()


def addr_spec(v):
    """mailbox@host of every address in a header value (lower case)."""
    v = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", v)
    out = []
    for part in v.split(b","):
        m = re.search(rb"<([^<>]*)>", part)
        s = (m.group(1) if m else part).strip()
        if s:
            out.append(s.lower())
    return out


class Pristine(Mbox):
    """The generated file: every message's size in CRLF form, and the
    expected BODY[] text and ENVELOPE fields of a sample of messages."""

    def __init__(self, path, nsample):
        Mbox.__init__(self, path)
        data, starts, ends = self.data, self.starts, self.ends
        self.sizes = [0] * (self.n + 1)         # 1-based
        self.total = 0
        for k in range(self.n):
            b = data.index(b"\n", starts[k]) + 1  # after the From_ line
            e = ends[k]
            if k < self.n - 1 or data.endswith(b"\n\n"):
                e -= 1                            # separator line
            sz = (e - b) + data.count(b"\n", b, e)
            self.sizes[k + 1] = sz
            self.total += sz
        pick = self.sample(nsample)
        self.special = 0
        # a reader of mboxrd (mailutils) takes a '>' off every >+From line
        self.sizes_rd = list(self.sizes)
        for m in re.finditer(rb"\n>+From ", data):
            k = self.index(m.start())
            self.sizes_rd[k + 1] -= 1
            if k not in pick:
                self.special += 1
            pick.add(k)
        self.expect, self.expect_rd, self.env = {}, {}, {}
        for k in sorted(pick):
            msg = self.message(k)
            self.expect[k + 1] = msg.replace(b"\n", b"\r\n")
            if self.sizes_rd[k + 1] != self.sizes[k + 1]:
                self.expect_rd[k + 1] = re.sub(
                    rb"(?m)^>(>*From )", rb"\1", msg).replace(b"\n", b"\r\n")
            hdr = msg.split(b"\n\n", 1)[0] + b"\n"
            fields = {}
            for m in re.finditer(rb"(?m)^([A-Za-z0-9-]+):[ \t]*(.*(?:\n[ \t].*)*)",
                                 hdr):
                fields.setdefault(m.group(1).lower(), unfold(m.group(2)))
            self.env[k + 1] = {
                "date": fields.get(b"date"),
                "subject": fields.get(b"subject"),
                "message-id": fields.get(b"message-id"),
                "from": addr_spec(fields.get(b"from", b"")),
                "to": addr_spec(fields.get(b"to", b""))}
        del data
        self.data = None

    def summary(self):
        return "%d messages, %d B (%d B in CRLF form); %d messages to " \
            "compare (%d with >From)" % (self.n, self.bytes, self.total,
                                         len(self.expect), self.special)


# ------------------------------------------------------------ client

class Imap(LineConn):
    """Minimal IMAP client: tagged commands, untagged responses with
    literals (kept only where asked)."""

    def __init__(self, port, stall=60.0):
        LineConn.__init__(self, port, stall)
        self.tagn = 0
        self.greeting = self.line()

    def literal(self, n, keep):
        while len(self.buf) - self.pos < n:
            self.fill()
        v = bytes(self.buf[self.pos:self.pos + n]) if keep else None
        self.pos += n
        return v

    def response(self, keep=None):
        """One response: (list of text segments, list of literals); a
        literal is (length, bytes or None); keep(first segment) says
        whether to keep the literals."""
        segs, lits = [self.line()], []
        k = None
        while segs[-1].endswith(b"}"):
            ln = segs[-1]
            i = ln.rfind(b"{")
            try:
                n = int(ln[i + 1:-1].rstrip(b"+"))
            except ValueError:
                break
            if k is None:
                k = bool(keep and keep(segs[0]))
            lits.append((n, self.literal(n, k)))
            segs.append(self.line())
        return segs, lits

    def send(self, text):
        self.tagn += 1
        tag = b"a%d" % self.tagn
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        return tag

    def cmd(self, text, untagged=None, keep=None):
        """Sends a tagged command, reads to its tagged reply.  Returns
        (tagged line, untagged responses that untagged() did not take)."""
        tag = self.send(text)
        other = []
        while True:
            segs, lits = self.response(keep)
            if segs[0].startswith(tag + b" "):
                return segs[0], other
            if untagged is None or not untagged(segs, lits):
                if len(other) < 200:
                    other.append(segs[0][:300])


def ok(tagged):
    w = tagged.split(None, 2)
    return len(w) >= 2 and w[1] == b"OK"


class Parser:
    """Values of one response: text segments with literals between them."""

    def __init__(self, segs, lits):
        self.segs, self.lits, self.i, self.p = segs, lits, 0, 0

    def _s(self):
        return self.segs[self.i]

    def space(self):
        s = self._s()
        while self.p < len(s) and s[self.p:self.p + 1] == b" ":
            self.p += 1

    def value(self):
        self.space()
        s = self._s()
        c = s[self.p:self.p + 1]
        if c == b"(":
            self.p += 1
            out = []
            while True:
                self.space()
                s = self._s()
                if self.p >= len(s):
                    raise ValueError("unterminated list")
                if s[self.p:self.p + 1] == b")":
                    self.p += 1
                    return out
                out.append(self.value())
        if c == b'"':
            j, out = self.p + 1, bytearray()
            while j < len(s) and s[j:j + 1] != b'"':
                if s[j:j + 1] == b"\\":
                    j += 1
                out += s[j:j + 1]
                j += 1
            self.p = j + 1
            return bytes(out)
        if c == b"{":
            j = s.index(b"}", self.p)
            lit = self.lits[self.i][1]
            self.i += 1
            self.p = 0
            return lit if lit is not None else b""
        j, depth = self.p, 0
        while j < len(s):
            ch = s[j:j + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b"(", b")"):
                break
            j += 1
        v = s[self.p:j]
        self.p = j
        if v.upper() == b"NIL":
            return None
        return v


def fetch_items(segs, lits):
    """'* N FETCH (k v ...)' -> (N, {KEY: value})."""
    p = Parser(segs, lits)
    w = segs[0].split(None, 3)
    n = int(w[1])
    p.p = len(w[0]) + 1 + len(w[1]) + 1 + len(w[2])
    lst = p.value()
    d = {}
    for j in range(0, len(lst) - 1, 2):
        d[lst[j].upper()] = lst[j + 1]
    return n, d


RX_FETCH = re.compile(rb"^\* (\d+) FETCH ")
RX_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def env_fields(env):
    def addrs(v):
        if not isinstance(v, list):
            return []
        out = []
        for ad in v:
            if isinstance(ad, list) and len(ad) >= 4 and ad[2] is not None:
                out.append((ad[2] + b"@" + (ad[3] or b"")).lower())
        return out
    if not isinstance(env, list) or len(env) < 10:
        return None
    return {"date": unfold(env[0]), "subject": unfold(env[1]),
            "message-id": unfold(env[9]),
            "from": addrs(env[2]), "to": addrs(env[5])}


def do_meta(c, pristine, res, pre):
    """FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE): timing and checks."""
    st = {"n": 0, "bad_size": 0, "bad_env": 0, "env_checked": 0, "rd": 0,
          "bigger": 0,
          "first": None, "sizes": {}, "flags": {}}

    def keep(first):
        m = RX_FETCH.match(first)
        return m is not None and int(m.group(1)) in pristine.env

    def on(segs, lits):
        m = RX_FETCH.match(segs[0])
        if m is None:
            return False
        k = int(m.group(1))
        st["n"] += 1
        sm = None
        for s in segs:
            sm = RX_SIZE.search(s)
            if sm:
                break
        sz = int(sm.group(1)) if sm else -1
        st["sizes"][k] = sz
        if 0 < k <= pristine.n and sz != pristine.sizes[k] and \
                sz == pristine.sizes_rd[k]:
            st["rd"] += 1
        elif k > pristine.n or k < 1 or sz != pristine.sizes[k]:
            st["bad_size"] += 1
            if 0 < k <= pristine.n and sz > pristine.sizes[k]:
                st["bigger"] += 1
            if st["first"] is None:
                st["first"] = "msg %d RFC822.SIZE %d, file says %s" % (
                    k, sz, pristine.sizes[k] if k <= pristine.n else "-")
        if k in pristine.env:
            st["env_checked"] += 1
            try:
                _, d = fetch_items(segs, lits)
                got = env_fields(d.get(b"ENVELOPE"))
                fl = d.get(b"FLAGS")
                if isinstance(fl, list):
                    f = b" ".join(fl).decode("latin-1")
                    st["flags"][f] = st["flags"].get(f, 0) + 1
            except (ValueError, IndexError, AttributeError, TypeError) as e:
                got, why = None, "unparsable: %s" % e
            else:
                why = "no ENVELOPE"
            exp = pristine.env[k]
            if got is None or got != exp:
                st["bad_env"] += 1
                if st["first"] is None:
                    if got is None:
                        st["first"] = "msg %d ENVELOPE %s: %r" % (
                            k, why, segs[0][:200])
                    else:
                        f = [x for x in exp if got.get(x) != exp[x]][0]
                        st["first"] = "msg %d ENVELOPE %s %r, file says %r" % (
                            k, f, got.get(f), exp[f])
        return True

    t0 = time.monotonic()
    tagged, other = c.cmd(META, on, keep)
    res[pre + "_s"] = round(time.monotonic() - t0, 4)
    if not ok(tagged):
        res[pre + "_failed"] = tagged[:200].decode("latin-1")
        res[pre + "_s"] = None
        return None
    res.update({pre + "_fetched": st["n"], pre + "_size_mismatch": st["bad_size"],
                pre + "_env_checked": st["env_checked"],
                pre + "_size_mboxrd": st["rd"],
                pre + "_size_bigger": st["bigger"],
                pre + "_env_mismatch": st["bad_env"],
                pre + "_flags": st["flags"]})
    if st["first"]:
        res[pre + "_first_mismatch"] = st["first"]
    return st["sizes"]


def stream_literals(c, text, keepset):
    """Sends a FETCH whose every response is '* K FETCH (ITEM {N}' + N
    octets + ')' and reads to its tagged reply, as fast as Python can
    (a private buffer filled with recv_into; nothing but the message
    number and the literal's length are looked at while it runs).
    Returns (tagged line, [K], [N], {K: literal for K in keepset},
    [other lines], bytes read)."""
    tag = c.send(text)
    cap = 64 << 20
    buf = bytearray(cap)
    mv = memoryview(buf)
    rest = bytes(c.buf[c.pos:])
    end = len(rest)
    buf[:end] = rest
    pos, nread = 0, 0
    c.buf, c.pos = bytearray(), 0
    recv_into, find, rfind = c.s.recv_into, buf.find, buf.rfind
    ks, ns, kept, odd = [], [], {}, []
    tagsp = tag + b" "
    try:
        while True:
            i = find(b"\r\n", pos, end)
            if i < 0:
                if end - pos >= cap - (1 << 20):
                    raise ValueError("a response line of %d octets" %
                                     (end - pos))
                if cap - end < (8 << 20):
                    n = end - pos
                    buf[0:n] = buf[pos:end]
                    pos, end = 0, n
                got = recv_into(mv[end:])
                if not got:
                    raise Closed()
                end += got
                nread += got
                continue
            if buf[i - 1] == 0x7d:                     # '}'
                j = rfind(b"{", pos, i)
                n = int(buf[j + 1:i - 1].rstrip(b"+"))
                k = int(buf[pos + 2:find(b" ", pos + 2, i)])
                need = i + 2 + n
                while end < need:
                    if need - pos > cap - (1 << 20):
                        raise ValueError("a literal of %d octets" % n)
                    if end == cap or cap - end < (1 << 20):
                        m = end - pos
                        buf[0:m] = buf[pos:end]
                        i, need, end, pos = i - pos, need - pos, m, 0
                    got = recv_into(mv[end:])
                    if not got:
                        raise Closed()
                    end += got
                    nread += got
                ks.append(k)
                ns.append(n)
                if k in keepset:
                    kept[k] = bytes(buf[i + 2:need])
                pos = need
                continue
            if buf[pos] == 0x29 and i == pos + 1:     # ')'
                pos = i + 2
                continue
            line = bytes(buf[pos:i])
            pos = i + 2
            if line.startswith(tagsp):
                tagged = line
                break
            if len(odd) < 20:
                odd.append(line[:200])
    except socket.timeout:
        raise Stall()
    finally:
        c.buf, c.pos = bytearray(buf[pos:end]), 0
        c.nbytes += nread
        del mv
    return tagged, ks, ns, kept, odd, nread


def do_body(c, pristine, sizes, res):
    """FETCH 1:* BODY.PEEK[]: throughput, literal sizes, sample texts."""
    ref = sizes or {}
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    tagged, ks, ns, kept, odd, wire = stream_literals(c, BODY,
                                                      pristine.expect)
    dt = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    if not ok(tagged):
        res["body_failed"] = tagged[:200].decode("latin-1")
        return False
    first, bad_size, bad_text, rd, seen = None, 0, 0, 0, set()
    for k, n in zip(ks, ns):
        seen.add(k)
        want = ref.get(k, pristine.sizes[k] if 0 < k <= pristine.n else -1)
        if n != want:
            bad_size += 1
            if first is None:
                first = "msg %d BODY[] %d octets, RFC822.SIZE %d" % (k, n, want)
    for k, body in kept.items():
        e = pristine.expect[k]
        if body == e:
            continue
        if k in pristine.expect_rd and body == pristine.expect_rd[k]:
            rd += 1
            continue
        bad_text += 1
        if first is None:
            j = 0
            while j < min(len(e), len(body)) and e[j] == body[j]:
                j += 1
            first = "msg %d BODY[] differs at octet %d: got %r, file %r" % (
                k, j, body[j:j + 60], e[j:j + 60])
    octets = sum(ns)
    cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    res.update({"body_s": round(dt, 4), "body_fetched": len(ks),
                "body_distinct": len(seen),
                "body_octets": octets, "body_wire_bytes": wire,
                "body_mb_s": round(octets / 1e6 / dt, 1) if dt else None,
                "body_msg_s": round(len(ks) / dt, 1) if dt else None,
                "body_client_cpu_pct": round(100 * cpu / dt, 1) if dt else None,
                "body_size_mismatch": bad_size,
                "body_text_checked": len(kept),
                "body_text_mismatch": bad_text,
                "body_text_mboxrd": rd,
                "body_total_ok": octets == (sum(ref.values()) if ref
                                            else pristine.total)})
    if odd:
        res["body_other_lines"] = [x.decode("latin-1") for x in odd[:5]]
    if first:
        res["body_first_mismatch"] = first
    return True


def login(port, user, stall):
    c = Imap(port, stall)
    if not c.greeting.startswith(b"* OK"):
        raise RuntimeError("greeting %r" % c.greeting[:200])
    t0 = time.monotonic()
    tagged, _ = c.cmd('LOGIN "%s" "%s"' % (user, PASSWORD))
    if not ok(tagged):
        raise RuntimeError("LOGIN: %r" % tagged[:200])
    return c, time.monotonic() - t0


RX_CODE = re.compile(rb"^\* OK \[(UIDVALIDITY|UIDNEXT) (\d+)\]", re.I)


def select(c, res=None, sfx=""):
    """SELECT INBOX: (seconds, EXISTS, untagged lines); UIDVALIDITY and
    UIDNEXT go into res (keys uidvalidity_SFX, uidnext_SFX)."""
    t0 = time.monotonic()
    tagged, other = c.cmd("SELECT INBOX")
    t = time.monotonic() - t0
    if not ok(tagged):
        raise RuntimeError("SELECT: %r" % tagged[:200])
    n = -1
    for u in other:
        w = u.split()
        if len(w) >= 3 and w[2].upper() == b"EXISTS":
            n = int(w[1])
        m = RX_CODE.match(u)
        if m and res is not None:
            res["%s_%s" % (m.group(1).decode().lower(), sfx)] = int(m.group(2))
    return t, n, other


def logout(c):
    """(s to the tagged OK, s to the server's close)."""
    t0 = time.monotonic()
    tag = c.send("LOGOUT")
    t_ok = None
    try:
        while True:
            segs, _ = c.response()
            if segs[0].startswith(tag + b" "):
                t_ok = time.monotonic() - t0
                break
        while True:
            c.fill()
    except Closed:
        pass
    t_close = time.monotonic() - t0
    c.close()
    return t_ok, t_close


# ------------------------------------------------------------ NOOP probe

def probe_main(port, user, interval, conn, stall):
    """Second connection: LOGIN, then NOOP every interval until told to
    stop; sends back [(t_sent, latency)] or an error string."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        c, _ = login(port, user, stall)
    except Exception as e:          # noqa: BLE001 - reported, not raised
        conn.send(("error", "probe login: %s" % e))
        return
    conn.send(("ready", None))
    lat = []
    try:
        while not conn.poll(0):
            t0 = time.monotonic()
            tagged, _ = c.cmd("NOOP")
            t1 = time.monotonic()
            lat.append((t0, t1 - t0))
            if not ok(tagged):
                conn.send(("error", "NOOP: %r" % tagged[:100]))
                return
            time.sleep(interval)
        conn.recv()
        c.cmd("LOGOUT")
        c.close()
    except Exception as e:          # noqa: BLE001
        conn.send(("error", "probe: %s" % e))
        return
    conn.send(("done", lat))


class Probe:
    def __init__(self, port, user, interval, stall):
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=probe_main,
                                args=(port, user, interval, child, stall))
        self.proc.daemon = True
        self.proc.start()
        self.error = None
        if self.conn.poll(30):
            what, v = self.conn.recv()
            if what != "ready":
                self.error = v
        else:
            self.error = "probe did not log in in 30 s"

    def finish(self, phases, res):
        """phases: {name: (t0, t1)}; a NOOP counts for every phase its
        round trip overlaps.  'body' gives noop_p50/p99/max_ms, the others
        noop_NAME_max_ms."""
        if self.error is None:
            self.conn.send("stop")
            if self.conn.poll(120):
                what, v = self.conn.recv()
                if what == "done":
                    res["noop_total"] = len(v)
                    for name, (t0, t1) in phases.items():
                        lat = sorted(l for (t, l) in v if t < t1 and t + l > t0)
                        if name != "body":
                            res["noop_%s_n" % name] = len(lat)
                            if lat:
                                res["noop_%s_max_ms" % name] = round(
                                    1000 * lat[-1], 3)
                            continue
                        res["noop_n"] = len(lat)
                        if lat:
                            res.update({
                                "noop_p50_ms": round(1000 * lat[len(lat) // 2], 3),
                                "noop_p99_ms": round(1000 * lat[min(
                                    len(lat) - 1, int(len(lat) * 0.99))], 3),
                                "noop_max_ms": round(1000 * lat[-1], 3)})
                else:
                    self.error = v
            else:
                self.error = "probe gave no answer"
        if self.error is not None:
            res["noop_error"] = str(self.error)[:300]
        self.stop()

    def stop(self):
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


# ------------------------------------------------------------ servers

class Yubind(SpoolYubind):
    def __init__(self, a):
        SpoolYubind.__init__(self, a, "imap", args=["-F"], stop_wait=20)

    def session_pid(self, user):
        return self.pid if self.alive() else None


class Mailutils(Peer):
    name = "mailutils"

    def __init__(self, a):
        Peer.__init__(self, a)
        self.master = None

    def running(self):
        return self.master is not None

    def problem(self):
        if shutil.which("imap4d") is None:
            return "GNU mailutils imap4d is not installed (optional; " \
                "--setup-peers installs mailutils-imap4d)"
        if not os.path.isfile(os.path.join(self.a.peers, "mailutils",
                                           "imap4d.conf")):
            return "no peer kit mailutils/imap4d.conf (--peers)"
        return need_root_users(["bench1", "bench2"])

    def version(self):
        r = subprocess.run(["imap4d", "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        return "GNU mailutils imap4d " + \
            (r.stdout.decode().split("\n")[0].split() or ["?"])[-1]

    def start(self):
        d = self.d
        os.makedirs(os.path.join(d, "mail"), exist_ok=True)
        os.chmod(os.path.join(d, "mail"), 0o1777)
        self.port = free_port()
        self.pidfile = os.path.join(d, "imap4d.pid")
        with open(os.path.join(self.a.peers, "mailutils", "imap4d.conf")) as f:
            conf = f.read()
        conf = conf.replace("/tmp/peerbench/mailutils/imap4d.pid", self.pidfile)
        conf = conf.replace("/tmp/peerbench/var/mail", os.path.join(d, "mail"))
        conf = conf.replace("127.0.0.1:20144", "127.0.0.1:%d" % self.port)
        with open(os.path.join(d, "imap4d.conf"), "w") as f:
            f.write(conf)
        try:
            os.unlink(self.pidfile)
        except OSError:
            pass
        with open(os.path.join(d, "start.out"), "wb") as out:
            r = subprocess.run(["imap4d", "--config-file=" +
                                os.path.join(d, "imap4d.conf")],
                               stdin=subprocess.DEVNULL, stdout=out,
                               stderr=out)
        ok_ = r.returncode == 0 and wait_greeting(self.port, 15, "imap")
        try:
            with open(self.pidfile) as f:
                self.master = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            self.master = None
        if not ok_ or self.master is None:
            with open(os.path.join(d, "start.out"), "rb") as f:
                raise RuntimeError("imap4d did not start: %s" %
                                   f.read().decode("utf-8", "replace")[-1500:])

    def session_pid(self, user):
        """It forks a child for every session."""
        return session_of(user, lambda p: p[1] == self.master)

    def finish_run(self, res):
        # its children go on for a moment after the clients left
        end = time.monotonic() + 10
        while time.monotonic() < end and \
                any(p[1] == self.master for p in proc_list()):
            time.sleep(0.1)

    def stop(self):
        if self.master is not None:
            try:
                os.kill(self.master, signal.SIGTERM)
            except OSError:
                pass
            self.master = None
        if not self.a.keep:
            for u in ("bench1", "bench2"):
                p = os.path.join(self.d, "mail", u)
                if os.path.isfile(p):
                    os.unlink(p)


def setup_peers(a):
    if os.geteuid() != 0:
        note("--setup-peers needs root")
        return
    pk = []
    if not os.path.exists("/usr/lib/dovecot/imap"):
        pk.append("dovecot-imapd")
    if shutil.which("imap4d") is None:
        pk.append("mailutils-imap4d")
    if pk:
        note("apt-get install %s" % " ".join(pk))
        subprocess.call(["apt-get", "install", "-y"] + pk,
                        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    add_bench_users()


# ------------------------------------------------------------ one run

def one_run(a, srv, size, src, pristine, rep):
    n_expect = SIZES[size][0]
    res = {"tool": "yubin-bench-imap", "server": srv.name, "size": size,
           "rep": rep}
    if isinstance(srv, Yubind) and os.environ.get("YUBIN_TREE"):
        res["tree"] = os.environ["YUBIN_TREE"]
    t_prep = time.monotonic()
    srv.prepare(size, src)
    res["prepare_s"] = round(time.monotonic() - t_prep, 2)
    user = srv.user
    is_y = isinstance(srv, Yubind)
    mbox0 = os.stat(srv.mbox)
    if is_y:
        time.sleep(0.2)
        m = mem_of(srv.session_pid(user))
        res["idle_rss_kb"], res["idle_anon_kb"] = m.get("rss_kb"), m.get("anon_kb")
        cpu0 = srv.cpu()
    res["loadavg1"] = loadavg1()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    T0 = time.monotonic()
    steps = []

    def step(name, fn):
        """Runs one step; a failure ends the session (returns False)."""
        try:
            fn()
            return True
        except Stall:
            res[name + "_failed"] = "no data for %g s" % a.stall
        except Closed:
            res[name + "_failed"] = "the server closed the connection"
        except Exception as e:      # noqa: BLE001 - a server's fault
            res[name + "_failed"] = ("%s: %s" % (type(e).__name__, e))[:300]
        if is_y and not srv.alive():
            res[name + "_failed"] += " (yubind exited %s)" % srv.proc.returncode
        note("%s %s rep %d: %s: %s" % (srv.name, size, rep, name,
                                       res[name + "_failed"]))
        steps.append(name)
        return False

    # S1 cold
    sess = {}

    def s1_login():
        sess["c"], t = login(srv.port, user, a.stall)
        res["login_s"] = round(t, 4)
        time.sleep(0.05)
        sess["pid"] = srv.session_pid(user)
        m = mem_of(sess["pid"])
        res["login_rss_kb"], res["login_anon_kb"] = m.get("rss_kb"), m.get("anon_kb")
        # the NOOP probe: a 2nd connection, logged in, from here to the
        # end of S2
        sess["probe"] = Probe(srv.port, user, a.probe_ms / 1000.0, a.stall)

    def timed(name, fn):
        t0 = time.monotonic()
        try:
            fn()
        finally:
            phases[name] = (t0, time.monotonic())

    def s1_select():
        t, n, other = select(sess["c"], res, "1")
        res["select_cold_s"] = round(t, 4)
        res["messages"] = n
        if n != n_expect:
            res["wrong_count"] = n
        m = mem_of(sess["pid"])
        res["select_rss_kb"], res["select_anon_kb"] = m.get("rss_kb"), m.get("anon_kb")

    def s1_meta():
        sess["sizes"] = do_meta(sess["c"], pristine, res, "meta_cold")
        m = mem_of(sess["pid"])
        res["meta_rss_kb"], res["meta_anon_kb"] = m.get("rss_kb"), m.get("anon_kb")

    def s1_body():
        do_body(sess["c"], pristine, sess.get("sizes"), res)
        m = mem_of(sess["pid"])
        res["body_rss_kb"], res["peak_rss_kb"] = m.get("rss_kb"), m.get("hwm_kb")

    def s1_logout():
        sess["t_logout"] = time.monotonic()
        t_ok, t_close = logout(sess["c"])
        res["logout_s"] = round(t_ok, 4) if t_ok is not None else None
        res["logout_close_s"] = round(t_close, 4)

    phases = {}
    for name, fn in (("login", s1_login),
                     ("select_cold", lambda: timed("select", s1_select)),
                     ("meta_cold", lambda: timed("meta", s1_meta)),
                     ("body", lambda: timed("body", s1_body)),
                     ("logout", lambda: timed("logout", s1_logout))):
        if not step(name, fn):
            if "c" in sess:
                sess["c"].close()
            break

    # S2 settle: how long until the server is done after the LOGOUT
    def s2():
        t0 = time.monotonic()
        c, _ = login(srv.port, user, a.stall)
        t, n, _ = select(c, res, "2")
        phases["settle"] = (t0, time.monotonic())
        res["select_2nd_s"] = round(t, 4)
        if "t_logout" in sess:
            res["done_after_logout_s"] = round(time.monotonic() -
                                               sess["t_logout"], 4)
        t_ok, t_close = logout(c)
        res["logout_2nd_s"] = round(t_close, 4)

    if "t_logout" in sess or "login" not in steps:
        step("settle", s2)
    if "probe" in sess:
        sess["probe"].finish(phases, res)

    # S3 warm
    def s3():
        c, _ = login(srv.port, user, a.stall)
        sess["c3"] = c
        t, n, _ = select(c, res, "3")
        res["select_warm_s"] = round(t, 4)
        do_meta(c, pristine, res, "meta_warm")
        logout(c)

    if not step("warm", s3) and "c3" in sess:
        sess["c3"].close()
    tot = time.monotonic() - T0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    res["client_cpu_pct"] = round(100 * cpu / tot, 1) if tot else None
    res["total_s"] = round(tot, 2)
    res["loadavg1_end"] = loadavg1()
    if is_y:
        cpu1 = srv.cpu()
        if cpu0 is not None and cpu1 is not None:
            res["server_cpu_s"] = round(cpu1 - cpu0, 2)
        m = mem_of(srv.pid)
        res["end_rss_kb"], res["end_hwm_kb"] = m.get("rss_kb"), m.get("hwm_kb")
    try:
        st = os.stat(srv.mbox)
        res["mbox_bytes_start"] = mbox0.st_size
        res["mbox_bytes_end"] = st.st_size
        res["mbox_rewritten"] = (st.st_ino != mbox0.st_ino or
                                 st.st_mtime != mbox0.st_mtime)
    except OSError:
        pass
    # per message: RSS after SELECT (or the meta FETCH) - RSS idle (yubind:
    # the daemon before any connection; the peers: their session process
    # right after LOGIN, when it is born), over N
    b = "idle" if res.get("idle_rss_kb") is not None else "login"
    for p in ("select", "meta"):
        if res.get(p + "_rss_kb") is not None and \
                res.get(b + "_rss_kb") is not None and \
                (res.get("messages") or 0) > 0:
            res[p + "_b_per_msg"] = round(
                1024.0 * (res[p + "_rss_kb"] - res[b + "_rss_kb"]) /
                res["messages"], 1)
            if res.get(p + "_anon_kb") is not None and \
                    res.get(b + "_anon_kb") is not None:
                res[p + "_anon_b_per_msg"] = round(
                    1024.0 * (res[p + "_anon_kb"] - res[b + "_anon_kb"]) /
                    res["messages"], 1)
    res["failed_steps"] = steps
    srv.finish_run(res)
    return res


# ------------------------------------------------------------ report

COLS = [("SELECT cold s", "select_cold_s", 1),
        ("FETCH meta cold s", "meta_cold_s", 1),
        ("BODY.PEEK[] MB/s", "body_mb_s", 1),
        ("NOOP during BODY FETCH p50/max ms", "noop", 1),
        ("NOOP max ms during SELECT cold/meta/LOGOUT", "noop_phases", 1),
        ("LOGOUT s", "logout_close_s", 1),
        ("done after LOGOUT s", "done_after_logout_s", 1),
        ("SELECT warm s", "select_warm_s", 1),
        ("FETCH meta warm s", "meta_warm_s", 1),
        ("RSS after SELECT MB", "select_rss_kb", 1 / 1024.0),
        ("B/msg (RSS)", "select_b_per_msg", 1),
        ("peak RSS MB", "peak_rss_kb", 1 / 1024.0),
        ("verified", "verify", 1)]


def verdict(r):
    """'ok' or what failed, for one run."""
    bad = []
    n = SIZES[r["size"]][0]
    if r.get("failed_steps"):
        bad.append("failed: " + ",".join(r["failed_steps"]))
    if r.get("messages") not in (None, n):
        bad.append("EXISTS %s" % r.get("messages"))
    for pre in ("meta_cold", "meta_warm"):
        if pre + "_fetched" in r:
            if r[pre + "_fetched"] != n:
                bad.append("%s %d FETCHed" % (pre, r[pre + "_fetched"]))
            if r[pre + "_size_mismatch"]:
                m = r[pre + "_size_mismatch"]
                bad.append("%s RFC822.SIZE %d wrong%s" % (
                    pre, m, " (all bigger than the file's: its own headers "
                    "shown?)" if r.get(pre + "_size_bigger") == m else ""))
            if r[pre + "_env_mismatch"]:
                bad.append("%s ENVELOPE %d/%d wrong" % (
                    pre, r[pre + "_env_mismatch"], r[pre + "_env_checked"]))
    if "body_fetched" in r:
        if r["body_fetched"] != n:
            bad.append("body %d FETCHed" % r["body_fetched"])
        if r["body_size_mismatch"]:
            bad.append("BODY[] size %d wrong" % r["body_size_mismatch"])
        if r["body_text_mismatch"]:
            bad.append("BODY[] text %d/%d wrong" % (r["body_text_mismatch"],
                                                    r["body_text_checked"]))
        if not r.get("body_total_ok"):
            bad.append("BODY[] total != sum of RFC822.SIZE")
    uv = set(r[k] for k in ("uidvalidity_1", "uidvalidity_2",
                             "uidvalidity_3") if k in r)
    if len(uv) > 1:
        bad.append("UIDVALIDITY changed between sessions (%s)" % ", ".join(
            str(r.get("uidvalidity_%d" % i)) for i in (1, 2, 3)))
    un = set(r[k] for k in ("uidnext_1", "uidnext_2", "uidnext_3") if k in r)
    if un and un != set([n + 1]):
        bad.append("UIDNEXT %s, not N+1" % ", ".join(
            str(r.get("uidnext_%d" % i)) for i in (1, 2, 3)))
    if r.get("body_fetched") is not None and r.get("body_distinct") != n:
        bad.append("body %s distinct messages" % r.get("body_distinct"))
    rd = max(r.get("meta_cold_size_mboxrd", 0), r.get("body_text_mboxrd", 0))
    if bad:
        return "; ".join(bad)
    return "ok (>From read as mboxrd)" if rd else "ok"


def report(a, runs, skipped):
    print()
    la = [r["loadavg1"] for r in runs if r.get("loadavg1") is not None]
    print("IMAP, %d repetition(s), medians [min-max]; MB/s = 1e6 B of "
          "literal data per s; loadavg1 %s-%s" % (
              a.reps, fmt(min(la)) if la else "-", fmt(max(la)) if la else "-"))
    table_head(["server", "mbox"] + [c[0] for c in COLS])
    meds = {}
    for size, name, rs in groups(a, runs):
        row = [name, size]
        for _, key, scale in COLS:
            if key == "noop":
                p, _ = cell(rs, "noop_p50_ms")
                x, m = cell([{"x": r["noop_max_ms"]} for r in rs
                             if "noop_max_ms" in r], "x")
                meds[(name, size, "noop_max_ms")] = m
                s = "%s / %s" % (p.split(" ")[0], x.split(" ")[0]) \
                    if p != "-" else "-"
                errs = [r["noop_error"] for r in rs if "noop_error" in r]
                if errs:
                    s += " (probe: %s)" % errs[0][:60]
                row.append(s)
                continue
            if key == "noop_phases":
                v = []
                for ph in ("select", "meta", "logout"):
                    x, m = cell(rs, "noop_%s_max_ms" % ph)
                    meds[(name, size, "noop_%s_max_ms" % ph)] = m
                    v.append(x.split(" ")[0])
                row.append(" / ".join(v))
                continue
            if key == "verify":
                v = [verdict(r) for r in rs]
                row.append("; ".join(sorted(set(v))))
                continue
            s, m = cell(rs, key, scale)
            meds[(name, size, key)] = m
            row.append(s)
        print("| " + " | ".join(row) + " |")
    print()
    print("SELECT cold: first open of a fresh copy (yubind: daemon just "
          "started; Dovecot: index deleted).  LOGOUT s: the 1st session's "
          "LOGOUT until the server closes the connection; done after LOGOUT: "
          "from that LOGOUT to a new session's SELECT OK (the server's "
          "rewrite of the mbox included).  NOOP: a 2nd connection (logged "
          "in) sends NOOP every %g ms; max of the round trips that overlap "
          "each phase.  RSS: the process serving the session (yubind: the "
          "daemon); B/msg = (RSS after SELECT - RSS idle) / N (yubind: idle "
          "= the daemon before any connection; peers: their session process "
          "after LOGIN)." % a.probe_ms)
    trees = sorted(set(r["tree"] for r in runs if r.get("tree")))
    if trees:
        print("yubind tree: %s" % ", ".join(trees))
    print()
    for size, name, rs in groups(a, runs):
        line = "%s %s: RSS after LOGIN %s MB, after SELECT %s MB, after " \
            "meta FETCH %s MB (%s B/msg)" % (
                name, size, cell(rs, "login_rss_kb", 1 / 1024.0)[0],
                cell(rs, "select_rss_kb", 1 / 1024.0)[0],
                cell(rs, "meta_rss_kb", 1 / 1024.0)[0],
                cell(rs, "meta_b_per_msg")[0])
        if name == "yubind":
            line += "; RssAnon B/msg after SELECT %s, after meta %s; " \
                "idle daemon RSS %s MB; server CPU/run %s s" % (
                    cell(rs, "select_anon_b_per_msg")[0],
                    cell(rs, "meta_anon_b_per_msg")[0],
                    cell(rs, "idle_rss_kb", 1 / 1024.0)[0],
                    cell(rs, "server_cpu_s")[0])
        line += "; client CPU in the body FETCH %s %%" % cell(
            rs, "body_client_cpu_pct")[0]
        line += "; LOGOUT tagged OK %s s, 2nd SELECT %s s, 2nd LOGOUT " \
            "%s s; mbox %s -> %s B; client CPU %s %%" % (
                cell(rs, "logout_s")[0], cell(rs, "select_2nd_s")[0],
                cell(rs, "logout_2nd_s")[0], rs[-1].get("mbox_bytes_start"),
                rs[-1].get("mbox_bytes_end"), cell(rs, "client_cpu_pct")[0])
        fl = rs[-1].get("meta_cold_flags")
        if fl:
            line += "; cold FLAGS seen %s" % json.dumps(fl)
        print(line)
    print()
    for r in runs:
        v = verdict(r)
        firsts = [r[k] for k in ("meta_cold_first_mismatch",
                                 "meta_warm_first_mismatch",
                                 "body_first_mismatch") if k in r]
        fails = ["%s: %s" % (k[:-7], r[k]) for k in r if k.endswith("_failed")]
        if not v.startswith("ok") or firsts:
            print("verify %s %s rep %d: %s%s%s" % (
                r["server"], r["size"], r["rep"], v,
                (" -- " + " | ".join(firsts)) if firsts else "",
                (" -- " + " | ".join(fails)) if fails else ""))
    for size, name, rs in groups(a, runs):
        if "body_text_checked" in rs[0]:
            print("verify %s %s: %s (sizes of all %d, BODY[] text of %d, "
                  "ENVELOPE of %s per run)" % (
                      name, size, "OK" if all(verdict(r).startswith("ok")
                                              for r in rs)
                      else "FAILED", SIZES[size][0],
                      rs[0]["body_text_checked"],
                      rs[0].get("meta_cold_env_checked", "-")))
    for name, why in skipped:
        print("skipped %s: %s" % (name, why))
    print()

    for size in a.sizes:
        y = lambda k: meds.get(("yubind", size, k))  # noqa: E731
        checks = []
        if size == "100k":
            checks.append(("cold SELECT < 0.5 s", y("select_cold_s"),
                           lambda v: v < 0.5))
            checks.append(("metadata FETCH (cold) < 2 s", y("meta_cold_s"),
                           lambda v: v < 2))
        p, src = reference(meds, BASELINE, "dovecot", size, "select_warm_s")
        if p is not None:
            checks.append(("warm SELECT <= Dovecot's %s s (%s)" % (fmt(p), src),
                           y("select_warm_s"), lambda v, p=p: v <= p))
        checks.append(("bodies > 208 MB/s (mailutils, BASELINE.md)",
                       y("body_mb_s"), lambda v: v > 208))
        for ph, what in (("noop_max_ms", "the body FETCH"),
                         ("noop_select_max_ms", "the cold SELECT"),
                         ("noop_meta_max_ms", "the cold meta FETCH"),
                         ("noop_logout_max_ms", "the 1st LOGOUT")):
            mx = meds.get(("yubind", size, ph))
            checks.append(("NOOP on a 2nd connection during %s: max < 100 ms"
                           % what, mx, lambda v: v < 100))
        for what, val, test in checks:
            print("target %s: %s: yubind %s -> %s" % (
                size, what, fmt(val),
                "-" if val is None else ("met" if test(val) else "MISSED")))


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    benchlib.mailbox_args(ap, "yubind,dovecot,mailutils", "IMAP_WORK",
                          "/tmp/yubin-imapbench",
                          "; the POP3 bench's are used if there")
    ap.add_argument("--sample", type=int, default=300,
                    help="messages whose text and ENVELOPE are compared "
                    "(plus first, last and those with >From lines)")
    ap.add_argument("--probe-ms", type=float, default=10.0,
                    help="pause between the probe connection's NOOPs")
    ap.add_argument("--stall", type=float, default=60.0,
                    help="seconds without data = the step failed")
    a = ap.parse_args()
    if a.report:
        runs = benchlib.load_report(a, "yubin-bench-imap",
                                    ("yubind", "dovecot", "mailutils"))
        report(a, runs, [])
        return
    benchlib.mailbox_setup(a, "imap.py")
    if a.setup_peers:
        setup_peers(a)
    servers, skipped = benchlib.start_servers(a, {
        "yubind": Yubind, "dovecot": lambda a: Dovecot(a, "imap"),
        "mailutils": Mailutils}, "imap.py")

    # the POP3 bench's cached mboxes (same generator, same seeds) will do
    pop3_data = os.path.join(os.environ.get(
        "POP3_WORK", "/tmp/yubin-pop3bench"), "data")
    runs = benchlib.run_all(a, servers, skipped, "yubin-bench-imap",
                            Pristine, one_run, [pop3_data])
    if runs:
        report(a, runs, skipped)


if __name__ == "__main__":
    main()

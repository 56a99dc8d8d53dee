#!/usr/bin/env python3
"""relay.py - mail relayed to other hosts: yubind side by side with Postfix.

usage: relay.py [-n 5000] [-s 4096] [-d 50] [-c 10] [--reps 3]
                [--servers yubind,postfix] [--no-pipelining]
                [--yubin-conf LINE] [--variant LABEL:LINE[;LINE]]
                [--setup-postfix] [--peers DIR]
                [--pfroot DIR] [--timeout 300] [--json FILE] [--keep]
                [--servers direct] [--report JSONL...]

The issue's benchmark (issue 6): N messages (S body bytes each, under
realistic headers) each to one recipient r<seq>@d<seq mod D>.test, the D
domains in turn, injected over SMTP into the relay under test on C
connections (PIPELINING of MAIL/RCPT/DATA when the relay offers it, as
an MTA's client does; --no-pipelining: lockstep); the relay sends them
on to a sink on loopback (bench/relaysink.c, built here with cc: one
process, poll(), accepts everything, no disk).  Each message carries
"X-Bench: RUN SEQ SUM", SUM the FNV-1a of its body, and the sink checks
the body (after undoing dot-stuffing; some body lines start with a dot)
and the envelope recipient of every message, so loss, duplicates,
corruption and misrouting show.
  at sink           messages the sink got (of N) within --timeout
  end-to-end msg/s  those / time from the first connect of the injector to
                    the sink's receipt of the last one
  injection msg/s   N / time from the first connect until the last 250
                    after DATA (and QUIT): how fast the relay takes mail
  DATA->250 ms      p50/p99 of the end of DATA to its 250
  peak backlog      the most messages at any moment that the relay had
                    acknowledged but the sink had not yet received
  sink peak conns   the most connections the relay held open to the sink
                    at once; sink conns: how many it opened in the run
  msgs/conn         messages per connection at the sink: mean and max
                    (connection reuse; 1.0 = a connection per message)
  relay CPU s       user+sys of the relay's process tree in the run (for
                    Postfix: the live processes' deltas plus what master
                    reaped); sink/client CPU s the same for them; machine
                    CPU % = all of the machine, of 100 % per core
  fsync/msg,        yubind's fsync(2)+fdatasync(2) and all its system
  syscalls/msg      calls per message, counted with perf stat as
                    bench/smtp.py does (--no-perf: not)
  log sent/def/bnc  the relay's own log lines status=sent/deferred/bounced
  queue left        files left in the relay's queue afterwards (0 = done)
  intact            every message that got 250 arrived exactly once, body
                    and recipient right, and nothing else
Relays:
  yubind   a fresh `yubind -S DIR` per run: smtp on 127.0.0.1:0, the other
           listeners off, hostname relay.test, one line
           `route dK.test 127.0.0.1:SINKPORT` per domain, stock relay
           limits (relay_max, relay_max_per_host) unless --yubin-conf.
  postfix  one private instance for the whole benchmark, made from the
           shared peer kit as bench/smtp.py makes it (PEERS/postfix/*.cf,
           binaries unpacked into PFROOT, a free port, root, the users
           postfix and the group postdrop; --setup-postfix), plus
           relay_domains = the D domains and transport_maps (texthash)
           sending each to smtp:[127.0.0.1]:SINKPORT; otherwise stock
           (destination concurrency 20, connection cache on demand).
           Skipped, with the reason printed, where it cannot run.
  yubind LABEL  (--variant LABEL:LINES) yubind again with those lines
           added to yubin.conf, e.g. other relay limits, in the same run.
  direct   (--servers direct) no relay: the injector straight into the
           sink, the ceiling of the harness on this machine.
Runs interleave (yubind, postfix, postfix, yubind, ...); one sink serves
them all, and a run starts only when the sink has no connection open.
Prints a markdown table and JSON lines (stdout, and --json FILE).
Needs YUBIND (or --yubind) and a C compiler; not part of make check.
"""

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import benchlib
import smtp     # its Postfix peer and perf counting
from benchlib import (cell, emit, fmt, json_to, loadavg1, med, note, pct,
                      proc_list, table_head, wait_greeting)

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = "yubin-bench-relay"
SENDER = "bench-sender@src.test"


# ------------------------------------------------------------ messages

def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


WORDS = ("the queue holds every message until the next hop has said 250 "
         "and a relay that loses one is worse than a slow one so each "
         "recipient keeps its state and each attempt is logged with the "
         "host and the reply it gave").split()


class Messages:
    """The messages of one run: realistic headers, a body of size bytes
    (CRLF lines up to 78 characters, some starting with a dot, so the
    relay's dot-stuffing is tested) in NVAR variants, the checksum of
    each in its X-Bench header."""
    NVAR = 97       # prime: not in step with the domains

    def __init__(self, n, size, ndom):
        self.n, self.ndom = n, ndom
        self.run = "%x%04x" % (int(time.time() * 1000), os.getpid() & 0xffff)
        self.bodies = []
        for v in range(self.NVAR):
            lines, total, i = [], 0, 0
            while size - total > 80:
                if i % 17 == 5:
                    ln = "." + WORDS[(v + i) % len(WORDS)]
                elif i % 29 == 11:
                    ln = ".."
                else:
                    ws, k = [], v * 7 + i * 3
                    while len(" ".join(ws)) < 70:
                        ws.append(WORDS[k % len(WORDS)])
                        k += 5
                    ln = " ".join(ws)[:76]
                ln = ln.encode() + b"\r\n"
                lines.append(ln)
                total += len(ln)
                i += 1
            pad = size - total - 2
            lines.append(b"-" * max(pad, 0) + b"\r\n")
            body = b"".join(lines)
            stuffed = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln
                                   for ln in body.split(b"\r\n"))
            self.bodies.append((stuffed + b".\r\n", fnv1a(body)))

    def rcpt(self, seq):
        return "r%d@d%d.test" % (seq, seq % self.ndom)

    def envelope(self, seq):
        return [("MAIL FROM:<%s>\r\n" % SENDER).encode(),
                ("RCPT TO:<%s>\r\n" % self.rcpt(seq)).encode(),
                b"DATA\r\n"]

    def text(self, seq):
        body, s = self.bodies[seq % self.NVAR]
        t = time.gmtime()
        hdr = ("Received: from client.src.test (client.src.test "
               "[192.0.2.%d])\r\n\tby mx.src.test with ESMTP id %s%06d\r\n"
               "\tfor <%s>; %s\r\n"
               "From: \"Bench Sender %d\" <%s>\r\n"
               "To: <%s>\r\n"
               "Subject: relay bench %s message %d of %d\r\n"
               "Date: %s\r\n"
               "Message-ID: <%s.%d@src.test>\r\n"
               "MIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=us-ascii\r\n"
               "Content-Transfer-Encoding: 7bit\r\n"
               "X-Bench: %s %d %08x\r\n\r\n"
               % (seq % 250 + 1, self.run, seq, self.rcpt(seq),
                  time.strftime("%a, %d %b %Y %H:%M:%S +0000", t),
                  seq % 100, SENDER, self.rcpt(seq), self.run, seq, self.n,
                  time.strftime("%a, %d %b %Y %H:%M:%S +0000", t),
                  self.run, seq, self.run, seq, s))
        return hdr.encode() + body


# ------------------------------------------------------------ injector

async def reply(r):
    """One SMTP reply's code (multi-line replies read whole); 0 at EOF."""
    while True:
        ln = await r.readline()
        if not ln:
            return 0
        if ln[3:4] != b"-":
            try:
                return int(ln[:3])
            except ValueError:
                return 0


async def inject(port, msgs, conc, pipelining, timeout):
    """msgs.n messages over conc connections, each taking the next message
    when it is free.  Returns {ok: {seq: time of 250}, err, codes, lat}."""
    st = {"next": 0, "ok": {}, "err": 0, "codes": {}, "lat": []}

    def bad(where, code):
        st["err"] += 1
        k = "%s:%s" % (where, code)
        st["codes"][k] = st["codes"].get(k, 0) + 1

    async def one():
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if await reply(r) != 220:
            bad("greet", "?")
            w.close()
            return
        w.write(b"EHLO client.src.test\r\n")
        ext = []
        while True:
            ln = await r.readline()
            if not ln:
                bad("ehlo", "eof")
                return
            ext.append(ln[4:].strip().upper())
            if ln[3:4] != b"-":
                break
        pipe = pipelining and b"PIPELINING" in ext
        while st["next"] < msgs.n:
            seq = st["next"]
            st["next"] += 1
            env = msgs.envelope(seq)
            codes = []
            if pipe:
                w.write(b"".join(env))
                for _ in env:
                    codes.append(await reply(r))
            else:
                for cmd in env:
                    w.write(cmd)
                    codes.append(await reply(r))
                    if codes[-1] >= 400:
                        break
            if codes[:2] != [250, 250] or codes[-1] != 354:
                bad("envelope", "/".join(map(str, codes)))
                if codes[-1] == 354:
                    w.write(b".\r\n")
                    await reply(r)
                w.write(b"RSET\r\n")
                await reply(r)
                continue
            w.write(msgs.text(seq))
            t = time.monotonic()
            code = await reply(r)
            if code == 250:
                now = time.monotonic()
                st["ok"][seq] = now
                st["lat"].append(now - t)
            else:
                bad("dot", code)
                if code == 0:
                    return
        w.write(b"QUIT\r\n")
        await reply(r)
        w.close()

    tasks = [asyncio.ensure_future(one()) for _ in range(conc)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
        bad("timeout", "")
    for t in done:
        if t.exception() is not None:
            bad("exception", type(t.exception()).__name__)
    return st


# ------------------------------------------------------------ sink

class Sink:
    """bench/relaysink.c, built into WORK and run for the whole benchmark;
    a thread reads its events: M (message), O/C (connection open/close)."""

    def __init__(self, work, ndom):
        src = os.path.join(HERE, "relaysink.c")
        self.binary = os.path.join(work, "relaysink")
        cc = os.environ.get("CC", "cc")
        r = subprocess.run([cc, "-O2", "-o", self.binary, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("cannot build the sink (%s %s): %s" % (
                cc, src, r.stdout.decode("utf-8", "replace")[-1500:]))
        self.proc = subprocess.Popen([self.binary, "-d", str(ndom)],
                                     stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        first = self.proc.stdout.readline().split()
        if len(first) != 2 or first[0] != b"P":
            raise RuntimeError("the sink did not start")
        self.port = int(first[1])
        self.lock = threading.Lock()
        self.msgs, self.conns = [], []          # (t, conn, run, seq, st)
        self.open = 0
        self.th = threading.Thread(target=self.reader, daemon=True)
        self.th.start()

    def reader(self):
        for ln in self.proc.stdout:
            w = ln.decode("ascii", "replace").split()
            if not w:
                continue
            with self.lock:
                if w[0] == "M" and len(w) >= 7:
                    self.msgs.append((float(w[1]), int(w[2]), w[3],
                                      int(w[4]), w[5]))
                elif w[0] in ("O", "C"):
                    self.open = int(w[-1])
                    self.conns.append((w[0], float(w[1]), int(w[2]),
                                       int(w[-1])))

    def mark(self):
        """Where a run starts in the event lists."""
        with self.lock:
            return len(self.msgs), len(self.conns)

    def since(self, mark):
        with self.lock:
            return self.msgs[mark[0]:], self.conns[mark[1]:]

    def idle(self, timeout):
        """Waits until no connection is open (a relay's cached ones
        closed); False after timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if self.open == 0:
                    return True
            time.sleep(0.1)
        return False

    def stop(self):
        benchlib.stop_process(self.proc)


# ------------------------------------------------------------ CPU

def tree_times(root):
    """{pid: utime+stime} of root and its descendants, and root's reaped
    children's time (cutime+cstime), in s."""
    tck = float(os.sysconf("SC_CLK_TCK"))
    if root is None:
        return {}, 0.0
    kids = {}
    for pid, ppid, _, _ in proc_list():
        kids.setdefault(ppid, []).append(pid)
    out, reaped, todo = {}, 0.0, [root]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/stat" % p) as f:
                w = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[p] = (int(w[11]) + int(w[12])) / tck
        if p == root:
            reaped = (int(w[13]) + int(w[14])) / tck
        todo.extend(kids.get(p, ()))
    return out, reaped


def tree_cpu(before, after):
    """CPU s the tree used between two tree_times(): the live processes'
    deltas plus what the root reaped, less what the reaped ones had used
    before."""
    (b, rb), (a, ra) = before, after
    used = sum(t - b.get(p, 0.0) for p, t in a.items())
    gone = sum(t for p, t in b.items() if p not in a)
    return round(used + (ra - rb) - gone, 3)


def machine_busy():
    with open("/proc/stat") as f:
        w = [int(x) for x in f.readline().split()[1:]]
    return sum(w) - w[3] - w[4], sum(w)


# ------------------------------------------------------------ relays

def count_files(*dirs):
    n = 0
    for d in dirs:
        for _, _, files in os.walk(d):
            n += len(files)
    return n


def log_counts(path, off):
    """status=sent/deferred/bounced lines of a log from offset off, and
    the first few lines that are not status=sent and say why."""
    c = {"sent": 0, "deferred": 0, "bounced": 0}
    try:
        with open(path, "rb") as f:
            f.seek(off)
            data = f.read()
    except OSError:
        return c, []
    for k in c:
        c[k] = len(re.findall(rb"status=" + k.encode(), data))
    odd = [ln.decode("utf-8", "replace") for ln in data.splitlines()
           if re.search(rb"status=(deferred|bounced)|warn|error|fatal|panic",
                        ln, re.I)][:5]
    return c, odd


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Yubind(benchlib.Yubind):
    """A fresh daemon for every run, routing the domains to the sink."""

    def __init__(self, a, sink, label=None, conf=()):
        benchlib.Yubind.__init__(self, a.yubind, a.work)
        self.a, self.sink, self.conf = a, sink, list(conf)
        if label:
            self.name = "yubind " + label

    def version(self):
        return "yubind " + self.binary

    def start(self):
        d = self.sandbox()
        conf = ["hostname relay.test", "max_connections_per_ip 200"]
        conf += ["route d%d.test 127.0.0.1:%d" % (k, self.sink.port)
                 for k in range(self.a.d)]
        self.launch("smtp", conf + self.a.yubin_conf + self.conf, {})
        self.root = self.pid
        self.log = os.path.join(d, "log", "yubind.log")
        return self

    def queue_left(self):
        return count_files(os.path.join(self.dir, "queue"))

    def finish(self):
        self.stop()
        if not self.a.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Direct:
    """--servers direct: the injector straight into the sink, no relay:
    the ceiling of the harness itself (client and sink on this machine)."""
    name = "direct"

    def __init__(self, a, sink):
        self.sink, self.log = sink, os.devnull

    def start(self):
        self.port, self.root = self.sink.port, None
        return self

    def version(self):
        return "direct"

    def queue_left(self):
        return 0

    def finish(self):
        pass

    def stop(self):
        pass


def postfix_class():
    """bench/smtp.py's Postfix, relaying the domains to the sink."""

    class Postfix(smtp.Postfix):
        def __init__(self, a, sink):
            # smtp.py's Postfix wants a local user for its mbox figure;
            # nothing is delivered locally here, so postfix itself will do
            a.pf_user, a.postfix_port = "postfix", 0
            smtp.Postfix.__init__(self, a, a.work)
            self.sink = sink

        def start(self):
            if self.master is not None:
                return self
            smtp.Postfix.start(self)
            etc = os.path.join(self.d, "etc")
            doms = ["d%d.test" % k for k in range(self.a.d)]
            with open(os.path.join(etc, "transport"), "w") as f:
                for dom in doms:
                    f.write("%s smtp:[127.0.0.1]:%d\n" % (dom, self.sink.port))
            settings = {"myhostname": "relay.test",
                        "relay_domains": " ".join(doms),
                        "transport_maps": "texthash:" +
                        os.path.join(etc, "transport")}
            cf = os.path.join(etc, "main.cf")
            with open(cf) as f:
                text = benchlib.set_conf(f.read(), settings)
            with open(cf, "w") as f:
                f.write(text)
            r = self.pf("reload")
            time.sleep(1.5)
            if not wait_greeting(self.port, 15, "smtp"):
                raise RuntimeError("postfix reload failed: %s" %
                                   r.stdout.decode("utf-8", "replace"))
            self.root = self.master
            self.log = os.path.join(self.d, "maillog")
            return self

        def queue_left(self):
            sp = os.path.join(self.d, "spool")
            return count_files(*[os.path.join(sp, q) for q in
                                 ("incoming", "active", "deferred", "hold",
                                  "maildrop")])

        def finish(self):
            pass

    return Postfix


# ------------------------------------------------------------ a run

def one_run(a, relay, sink, rep):
    relay.start()
    if not sink.idle(15):
        note("the sink still has connections open; starting anyway")
    msgs = Messages(a.n, a.s, a.d)
    mark = sink.mark()
    logoff = log_size(relay.log)
    cpu0 = tree_times(relay.root)
    scpu0 = benchlib.proc_cpu(sink.pid)
    m0 = machine_busy()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    la0 = loadavg1()
    perf = None
    if a.perf and relay.name.startswith("yubind"):
        perf_out = os.path.join(relay.dir, "perf.stat")
        perf = smtp.perf_start(relay.pid, perf_out)
    t0 = time.monotonic()
    st = asyncio.run(inject(relay.port, msgs, a.c, not a.no_pipelining,
                            a.timeout))
    t_inj = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    # until the sink has every message that got 250 (or nothing comes)
    last_n, last_t = -1, time.monotonic()
    while True:
        ms, _ = sink.since(mark)
        got = set(m[3] for m in ms if m[2] == msgs.run)
        if len(got) >= len(st["ok"]):
            break
        if len(ms) != last_n:
            last_n, last_t = len(ms), time.monotonic()
        elif time.monotonic() - last_t > a.stall:
            note("%s: nothing more reached the sink for %d s; %d of %d "
                 "there" % (relay.name, a.stall, len(got), len(st["ok"])))
            break
        if time.monotonic() - t0 > a.timeout:
            note("%s: timeout" % relay.name)
            break
        time.sleep(0.01)
    t_seen = time.monotonic()
    if perf is not None:
        got_perf = smtp.perf_stop(perf, perf_out)
    m1 = machine_busy()
    cpu1 = tree_times(relay.root)
    scpu1 = benchlib.proc_cpu(sink.pid)
    time.sleep(0.5)                 # the log lines of the last ones
    ms, cs = sink.since(mark)
    mine = [m for m in ms if m[2] == msgs.run]
    t_last = max([m[0] for m in mine] or [t_seen])
    seen, dups, status = {}, 0, {}
    for m in mine:
        if m[3] in seen:
            dups += 1
        seen[m[3]] = m
        status[m[4]] = status.get(m[4], 0) + 1
    foreign = len(ms) - len(mine)
    ok = set(st["ok"])
    missing = len(ok - set(seen))
    unacked = len(set(seen) - ok)
    # connections: messages per connection; peak open during the run
    per = {}
    for m in mine:
        per[m[1]] = per.get(m[1], 0) + 1
    peak = max([c[3] for c in cs if c[0] == "O" and c[1] <= t_last] or [0])
    opened = sum(1 for c in cs if c[0] == "O" and c[1] <= t_last)
    # backlog: acknowledged by the relay, not yet at the sink
    ev = sorted([(t, 1) for t in st["ok"].values()] +
                [(m[0], -1) for m in seen.values()])
    back = peakb = 0
    for _, d in ev:
        back += d
        peakb = max(peakb, back)
    e2e = t_last - t0
    n_ok = len(st["ok"])
    res = {"tool": TOOL, "server": relay.name, "rep": rep, "n": a.n,
           "size": a.s, "domains": a.d, "conc": a.c,
           "pipelining": not a.no_pipelining, "run": msgs.run,
           "accepted": n_ok, "errors": st["err"], "error_codes": st["codes"],
           "inject_s": round(t_inj, 3),
           "inject_rate": round(n_ok / t_inj, 1) if t_inj else None,
           "e2e_s": round(e2e, 3),
           "e2e_rate": round(len(seen) / e2e, 1) if e2e > 0 else None,
           "lat_p50_ms": pct(st["lat"], 50), "lat_p99_ms": pct(st["lat"], 99),
           "received": len(seen), "duplicates": dups, "missing": missing,
           "unacked_received": unacked, "foreign": foreign,
           "sink_status": status, "peak_backlog": peakb,
           "sink_peak_conns": peak, "sink_conns": opened,
           "msgs_per_conn": round(len(mine) / float(len(per)), 1)
           if per else None,
           "msgs_per_conn_max": max(per.values()) if per else None,
           "relay_cpu_s": tree_cpu(cpu0, cpu1),
           "sink_cpu_s": round(scpu1 - scpu0, 3)
           if scpu0 is not None and scpu1 is not None else None,
           "client_cpu_s": round(ru1.ru_utime + ru1.ru_stime -
                                 ru0.ru_utime - ru0.ru_stime, 3),
           "machine_cpu_pct": round(100.0 * (m1[0] - m0[0]) /
                                    max(1, m1[1] - m0[1]) *
                                    (os.cpu_count() or 1), 1),
           "loadavg1_before": la0, "loadavg1": loadavg1()}
    lc, odd = log_counts(relay.log, logoff)
    if odd:
        res["log_odd"] = odd
    res.update({"log_sent": lc["sent"], "log_deferred": lc["deferred"],
                "log_bounced": lc["bounced"],
                "queue_left": relay.queue_left()})
    if perf is not None and got_perf:
        nok = float(n_ok or 1)
        ev_ = smtp.PERF_EVENTS
        fs = got_perf.get(ev_[0], 0) + got_perf.get(ev_[1], 0)
        res["fsync_per_msg"] = round(fs / nok, 2)
        if ev_[2] in got_perf:
            res["syscalls_per_msg"] = round(got_perf[ev_[2]] / nok, 1)
    res["intact"] = (n_ok == a.n and len(seen) == a.n and dups == 0 and
                     missing == 0 and unacked == 0 and
                     status.get("ok", 0) == len(mine))
    if relay.name.startswith("yubind"):
        res["rss_peak_kb"] = benchlib.proc_status(relay.pid, "VmHWM")
        if relay.proc.poll() is not None:
            res["yubind_exit"] = relay.proc.returncode
    relay.finish()
    return res


# ------------------------------------------------------------ report

def report(a, runs, skipped):
    print()
    print("Relay: %d msgs x %d B body, one recipient each in %d domains in "
          "turn, injected on %d connections%s; medians [min-max] of the "
          "runs, interleaved, same sink" % (
              a.n, a.s, a.d, a.c,
              "" if a.no_pipelining else " (PIPELINING)"))
    print()
    cols = [("at sink", "received"),
            ("end-to-end msg/s", "e2e_rate"), ("all at sink s", "e2e_s"),
            ("injection msg/s", "inject_rate"),
            ("DATA->250 p50 ms", "lat_p50_ms"),
            ("DATA->250 p99 ms", "lat_p99_ms"),
            ("peak backlog", "peak_backlog"),
            ("sink peak conns", "sink_peak_conns"),
            ("sink conns", "sink_conns"), ("msgs/conn", "msgs_per_conn"),
            ("msgs/conn max", "msgs_per_conn_max"),
            ("relay CPU s", "relay_cpu_s"),
            ("fsync/msg", "fsync_per_msg"),
            ("syscalls/msg", "syscalls_per_msg"), ("sink CPU s", "sink_cpu_s"),
            ("client CPU s", "client_cpu_s"),
            ("machine CPU %", "machine_cpu_pct"),
            ("loadavg1", "loadavg1_before")]
    table_head(["relay", "runs"] + [c[0] for c in cols] +
               ["log sent/def/bnc", "queue left", "intact"])
    meds = {}
    for name in a.servers:
        rs = [r for r in runs if r["server"] == name]
        if not rs:
            continue
        cells = []
        for _, k in cols:
            txt, m = cell(rs, k)
            ints = [r[k] for r in rs if isinstance(r.get(k), int)]
            if ints and len(ints) == len(rs):
                txt = "%d" % m if len(ints) == 1 else "%g [%d-%d]" % (
                    m, min(ints), max(ints))
            cells.append(txt)
            meds[(name, k)] = m
        logs = "%s/%s/%s" % tuple(fmt(med([r[k] for r in rs])) for k in
                                  ("log_sent", "log_deferred", "log_bounced"))
        print("| %s | %d | %s | %s | %s | %d/%d |" % (
            name, len(rs), " | ".join(cells), logs,
            fmt(max(r["queue_left"] for r in rs)),
            sum(1 for r in rs if r["intact"]), len(rs)))
    print()
    p, pi = meds.get(("postfix", "e2e_rate")), meds.get(("postfix",
                                                          "inject_rate"))
    for name in a.servers:
        y, yi = meds.get((name, "e2e_rate")), meds.get((name, "inject_rate"))
        if name.startswith("yubind") and y and p:
            print("%s / Postfix: end-to-end %.2fx, injection %.2fx" % (
                name, y / p, yi / pi if yi and pi else 0))
    for name, why in skipped:
        print("%s not run: %s" % (name, why))
    for r in runs:
        for ln in r.get("log_odd", ())[:2]:
            print("%s rep %d log: %s" % (r["server"], r["rep"], ln))
        if r["intact"]:
            continue
        late = (r["missing"] and r["queue_left"] and not r["duplicates"] and
                not r["unacked_received"] and
                r["sink_status"].get("ok", 0) == r["received"])
        print("%s: %s rep %d: accepted %d, received %d, missing %d, "
              "duplicates %d, unacked %d, sink %s, errors %s, queue left %d "
              "files" % ("NOT DONE within --timeout" if late else
                         "NOT INTACT", r["server"], r["rep"], r["accepted"],
                         r["received"], r["missing"], r["duplicates"],
                         r["unacked_received"], r["sink_status"],
                         r["error_codes"], r["queue_left"]))


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("-s", type=int, default=4096, help="body bytes")
    ap.add_argument("-d", type=int, default=50, help="recipient domains")
    ap.add_argument("-c", type=int, default=10, help="injecting connections")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--servers", default="yubind,postfix")
    ap.add_argument("--no-pipelining", action="store_true")
    ap.add_argument("--yubind", default=os.environ.get("YUBIND"))
    ap.add_argument("--yubin-conf", action="append", default=[],
                    metavar="LINE", help="extra yubin.conf line for every "
                    "yubind, e.g. 'relay_max 50' (repeatable)")
    ap.add_argument("--variant", action="append", default=[],
                    metavar="LABEL:LINE[;LINE]", help="one more relay: "
                    "yubind with these yubin.conf lines, named 'yubind "
                    "LABEL' (repeatable), e.g. 'ph20:relay_max_per_host 20'")
    ap.add_argument("--peers", default=os.environ.get(
        "PEERS", benchlib.PEERS_DEFAULT))
    ap.add_argument("--pfroot", default=os.environ.get(
        "PFROOT", "/tmp/peerbench/pfroot"))
    ap.add_argument("--setup-postfix", action="store_true")
    ap.add_argument("--timeout", type=float, default=300,
                    help="limit of one run, s")
    ap.add_argument("--stall", type=float, default=30,
                    help="give up when nothing reaches the sink for this "
                    "long after the injection, s")
    ap.add_argument("--no-perf", action="store_true",
                    help="do not count yubind's fsyncs and system calls "
                    "with perf stat")
    ap.add_argument("--work", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--report", nargs="+", metavar="JSONL",
                    help="only print the table from earlier --json files")
    a = ap.parse_args()
    if a.report:
        runs = []
        for fn in a.report:
            with open(fn) as f:
                runs += [r for r in map(json.loads, f)
                         if r.get("tool") == TOOL and "rep" in r and
                         "failed" not in r]
        for k in ("n", "size", "domains", "conc"):
            setattr(a, {"size": "s", "domains": "d", "conc": "c"}.get(k, k),
                    runs[0][k])
        a.no_pipelining = not runs[0]["pipelining"]
        a.servers = []
        for r in runs:
            if r["server"] not in a.servers:
                a.servers.append(r["server"])
        report(a, runs, [])
        return
    a.servers = [s for s in a.servers.split(",") if s]
    a.variants = {}
    for v in a.variant:
        label, _, lines = v.partition(":")
        a.variants[label] = [x.strip() for x in lines.split(";") if x.strip()]
        a.servers.append("yubind " + label)
    if any(s.startswith("yubind") for s in a.servers):
        if not a.yubind:
            y = os.path.join(HERE, "..", "yubind")
            a.yubind = y if os.access(y, os.X_OK) else None
        if not a.yubind or not os.access(a.yubind, os.X_OK):
            sys.exit("relay.py: no yubind (set YUBIND or --yubind)")
        a.yubind = os.path.abspath(a.yubind)
    a.peers = os.path.abspath(a.peers)
    a.perf = False
    if not a.no_perf and any(s.startswith("yubind") for s in a.servers):
        a.perf = smtp.perf_ok()
    if a.json:
        json_to(a.json)
    a.work = a.work or tempfile.mkdtemp(prefix="yubin-relaybench-")
    os.makedirs(a.work, exist_ok=True)
    os.chmod(a.work, 0o755)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 and hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))

    sink = Sink(a.work, a.d)
    relays, skipped = [], []
    try:
        for name in a.servers:
            if name == "yubind":
                relays.append(Yubind(a, sink))
            elif name.startswith("yubind "):
                relays.append(Yubind(a, sink, name[7:],
                                     a.variants[name[7:]]))
            elif name == "direct":
                relays.append(Direct(a, sink))
            elif name == "postfix":
                pf = postfix_class()(a, sink)
                if a.setup_postfix:
                    pf.setup()
                why = pf.problem()
                if why is None:
                    try:
                        pf.start()
                    except Exception as e:      # noqa: BLE001
                        why = "did not start: %s" % e
                        pf.stop()
                if why:
                    note("postfix skipped: %s" % why)
                    skipped.append(("postfix", why))
                    continue
                relays.append(pf)
            else:
                sys.exit("relay.py: unknown server %s" % name)
        emit({"tool": TOOL, "label": "env", "n": a.n, "size": a.s,
              "domains": a.d, "conc": a.c, "reps": a.reps,
              "servers": [r.name for r in relays], "yubind": a.yubind,
              "yubin_conf": a.yubin_conf, "sink_port": sink.port,
              "postfix": next((r.version() for r in relays
                               if r.name == "postfix"), None),
              "ncpu": os.cpu_count(), "loadavg": benchlib.loadavg()})
        runs = []
        for rep in range(a.reps):
            order = relays if rep % 2 == 0 else relays[::-1]
            for relay in order:
                try:
                    r = one_run(a, relay, sink, rep + 1)
                except (RuntimeError, OSError) as e:
                    note("%s rep %d failed: %s" % (relay.name, rep + 1, e))
                    emit({"tool": TOOL, "server": relay.name,
                          "rep": rep + 1, "failed": str(e)})
                    if relay.name.startswith("yubind"):
                        relay.stop()
                    continue
                emit(r)
                runs.append(r)
                time.sleep(1)
    finally:
        for r in relays:
            r.stop()
        sink.stop()
        if a.keep:
            note("kept %s" % a.work)
        else:
            shutil.rmtree(a.work, ignore_errors=True)
    report(a, runs, skipped)
    for name in a.servers:
        rs = [r for r in runs if r["server"] == name]
        if rs:
            emit({"tool": TOOL, "label": "summary", "server": name,
                  "runs": len(rs),
                  "e2e_rate_med": med([r["e2e_rate"] for r in rs]),
                  "inject_rate_med": med([r["inject_rate"] for r in rs]),
                  "all_intact": all(r["intact"] for r in rs)})


if __name__ == "__main__":
    main()

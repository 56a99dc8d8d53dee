#!/usr/bin/env python3
"""proto_imap_crash.py - crash safety of the IMAP writes (issue 5 item
6: EXPUNGE and the flag write-back use the crash-safe rewrite of
DESIGN.md "Mail store" - recovery file, rewrite in place, truncate,
remove the recovery file, the next lock finishes or rolls back - so a
kill -9 at any point loses and duplicates nothing; flag changes may be
written lazily but are never lost on a clean shutdown).

A mailbox of 500 messages (about 5 MB, so that a rewrite takes many
loop turns), UIDs and flags already in the file, every 3rd message
\\Deleted, every 5th \\Seen.  yubind is killed with SIGKILL

  - at random moments of an EXPUNGE, and (with strace) exactly at the
    Nth write/ftruncate/fsync/rename/unlink/openat on the mailbox or its
    recovery files (strace -e inject=...:signal=KILL);
  - at random moments of a CHECK that writes STOREd flags (added to
    half the messages, \\Seen taken from some: headers grow and shrink);
  - at random moments of a series of multi-MB APPENDs, and of a COPY of
    a 4 MB folder into INBOX;

then restarted (its dotlock is aged past lock_stale, as time would)
and the mailbox read back over IMAP (EXAMINE, FETCH 1:* UID FLAGS
BODY.PEEK[]): every message once, byte-exact, its UID and the
UIDVALIDITY unchanged, and the whole either the old or the new state
(never a mixture; after that session the file is byte for byte the old
or the new one); what the server acknowledged with OK is there.  A
partial or complete message of an APPEND/COPY that was never
acknowledged is allowed and counted in a note.  A clean stop (SIGTERM)
with STOREd flags not yet written must write them: read from the file
and by a new yubind.

YUBINTEST_CRASH_RUNS=N changes the number of random-moment EXPUNGE
runs (24; the CHECK, APPEND and COPY runs, 16, 12 and 12, in
proportion).  YUBINTEST_SEED=N changes the kill moments."""

import os
import random
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import *  # noqa: E402,F401,F403

USERS = {"demo": "demopw"}
CONF = "lock_stale 1\nlock_timeout 60\nlog_level info\n"
SETUP = ImapSetup(USERS, conf=CONF)
SCALE = float(os.environ.get("YUBINTEST_CRASH_RUNS", "24")) / 24
RNG = random.Random(int(os.environ.get("YUBINTEST_SEED", "2204")))

NMSG = 500
DELETED = set(range(0, NMSG, 3))        # indexes; sequence numbers i + 1
SEEN = set(range(0, NMSG, 5))
ALL = set(range(NMSG))
AFTER = ALL - DELETED
# the CHECK case: \Flagged and $Crash added to every 2nd, \Seen taken
# from the \Seen ones among the others
FLAG_ADD = set(range(0, NMSG, 2))
SEEN_DEL = set(i for i in SEEN if i % 2)
MID_RE = re.compile(br"\r\nMessage-ID: <([a-z]+)-([0-9]+)-([0-9]+)@crash"
                    br"\.example>\r\n", re.I)


def runs(n):
    return max(1, int(round(n * SCALE)))


# ------------------------------------------------------------ messages

_R = random.Random(99)
_POOL = bytes(_R.choice(b"etaoin shrdlu cmfwyp vbgkqj xz,.")
              for _ in range(1 << 17))


def body_lines(r, size, from_lines):
    """Body text of about size bytes (LF lines): text, empty lines,
    "." lines, ">From " lines, and with from_lines "From " lines (a
    client sends those; the server quotes them when it stores)."""
    out = []
    have = 0
    while have < size:
        k = r.randrange(16)
        if k == 0:
            ln = b"."
        elif k == 1:
            ln = b"..%d" % r.randrange(10 ** 6)
        elif k == 2:
            ln = b""
        elif k == 3:
            ln = b">From the archive %d" % r.randrange(10 ** 6)
        elif k == 4 and from_lines:
            ln = b"From here on %d" % r.randrange(10 ** 6)
        else:
            o = r.randrange(len(_POOL) - 100)
            ln = _POOL[o:o + r.randrange(1, 100)].strip()
        out.append(ln)
        have += len(ln) + 1
    return b"\n".join(out) + b"\n"


def message(kind, run, i, body):
    return (b"From: sender%d@crash.example\nTo: demo@localhost\n"
            b"Subject: %s %d of run %d\nMessage-ID: <%s-%d-%d@crash.example>"
            b"\n\n" % (i, kind.encode(), i, run, kind.encode(), run, i) +
            body)


def make_texts(kind, n, sizes, seed):
    out = []
    for i in range(n):
        r = random.Random(seed * 100003 + i)
        size = int(r.choice(sizes) * r.uniform(0.5, 1.5))
        out.append(message(kind, 0, i, body_lines(r, size, False)))
    return out


TEXTS = make_texts("box", NMSG, [300, 1000, 3000, 8000, 15000, 30000], 1)
FORMS = [pop3_form(t) for t in TEXTS]       # what BODY[] sends
SRC_N = 160
SRC_TEXTS = make_texts("src", SRC_N, [5000, 25000, 50000], 2)
SRC_FORMS = [pop3_form(t) for t in SRC_TEXTS]
# the APPEND series: three messages of a few MB each, "From " lines in
# them, sent with synchronizing and non-synchronizing literals
APP_BODIES = [body_lines(random.Random(300 + k), size, True)
              for k, size in enumerate([2500000, 900000, 1800000])]


def app_text(run, k):
    return message("app", run, k, APP_BODIES[k])


def stored_form(text):
    """BODY[] of a message APPENDed as text (LF): body lines "From "
    come back as ">From " (RFC 4155 quoting), all in CRLF."""
    i = text.index(b"\n\n") + 2
    return crlf(text[:i] + re.sub(br"(?m)^From ", b">From ", text[i:]))


def seqset(idx):
    return ",".join(str(i + 1) for i in sorted(idx))


def ident(body):
    """(kind, run, index) of a message from its Message-ID, or None."""
    m = MID_RE.search(b"\r\n" + body[:4000])
    return m and (m.group(1).decode(), int(m.group(2)), int(m.group(3)))


# ------------------------------------------------------------ sandbox

def sandbox():
    return Sandbox(users=USERS, conf=CONF)


def inbox(s):
    return s.path("mail", "demo")


def folder(s, name):
    return s.path("home", "demo", "mail", name)


def recover_files(s):
    """Recovery files (complete, .tmp, .old) next to the INBOX."""
    d = s.path("mail")
    return sorted(f for f in os.listdir(d) if f.startswith(".demo.yubin-"))


def kill9(s):
    if s.alive():
        os.kill(s.pid, signal.SIGKILL)
    s.proc.wait(10)


def restart(s):
    """Start yubind again after a kill.  The dead daemon's dotlocks
    are made older than lock_stale, as time would, so that the first
    lock breaks them at once."""
    old = time.time() - 60
    for d in (s.path("mail"), os.path.dirname(folder(s, "x"))):
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.endswith(".lock"):
                    os.utime(os.path.join(d, f), (old, old))
    s.start()


def open_box(s, box="INBOX", examine=True, name="c"):
    c = SETUP.session("demo", s, name=name)
    return c, c.select(box, examine=examine)


def read_box(s, box="INBOX"):
    """(SELECT info, [{UID, FLAGS, BODY[]}]) of box, read-only."""
    c, info = open_box(s, box, name="v")
    msgs = c.fetch_all(exists=info.get("exists"))
    c.logout()
    return info, msgs


def said_ok(said, tag):
    return re.search(br"(?m)^%s OK" % re.escape(tag.encode()), said)


# ------------------------------------------------------------ the base

BASE = {}       # the files the runs start from (prepared())
REF = {}        # times and files of the operations without a kill
CAL = {}        # times of the APPENDs and the COPY without a kill
TALLY = {}      # {case: {what happened: runs}} for the notes


def prepared():
    """The mailbox files the runs start from, written by yubind itself
    (UIDs, X-IMAPbase, flags in the file): the INBOX of 500 messages
    with \\Deleted and \\Seen set, a small INBOX of 3, and the folder
    "src" of 160 (4 MB); and their UIDs."""
    if BASE:
        return BASE
    s = sandbox()
    mbox_install(s, "demo", mbox_build(TEXTS))
    c, info = open_box(s, examine=False)
    check(info.get("exists") == NMSG, "setup: %r EXISTS, want %d" %
          (info.get("exists"), NMSG))
    c.ok("STORE %s +FLAGS.SILENT (\\Deleted)" % seqset(DELETED))
    c.ok("STORE %s +FLAGS.SILENT (\\Seen)" % seqset(SEEN))
    c.logout()              # writes the flags, the UIDs, \Recent taken
    info, msgs = read_box(s)
    BASE["snap"] = read_bytes(inbox(s))
    BASE["validity"] = info["uidvalidity"]
    BASE["uids"] = [int(m["UID"]) for m in msgs]
    flags = [flagset(m["FLAGS"]) for m in msgs]
    want = [set((["\\Deleted"] if i in DELETED else []) +
                (["\\Seen"] if i in SEEN else [])) for i in ALL]
    check(flags == want, "setup: flags after the first session differ "
          "from what was stored (first %r)" % ([
              (i, flags[i], want[i]) for i in ALL if flags[i] != want[i]
          ][:3],))
    check([bytes(m["BODY[]"]) for m in msgs] == FORMS, "setup: BODY[] "
          "differs from the stored text")
    check(read_bytes(inbox(s)) == BASE["snap"], "setup: EXAMINE changed "
          "the file")
    # the folder for COPY and the small INBOX for APPEND/COPY
    os.makedirs(os.path.dirname(folder(s, "src")), exist_ok=True)
    with open(folder(s, "src"), "wb") as f:
        f.write(mbox_build(SRC_TEXTS))
    small = [message("small", 0, i, b"small message %d\n" % i)
             for i in range(3)]
    mbox_install(s, "demo", mbox_build(small))
    c, info = open_box(s, "src", examine=False)
    c.select("INBOX")       # src's UIDs are written after this, apart
    c.logout()
    # (files read after a session that waited for those writes)
    info, msgs = read_box(s)
    BASE["small"] = read_bytes(inbox(s))
    BASE["small_forms"] = [pop3_form(t) for t in small]
    BASE["small_validity"] = info["uidvalidity"]
    BASE["small_uids"] = [int(m["UID"]) for m in msgs]
    info, msgs = read_box(s, "src")
    BASE["src"] = read_bytes(folder(s, "src"))
    check([bytes(m["BODY[]"]) for m in msgs] == SRC_FORMS, "setup: BODY[] "
          "of the folder differs from the stored text")
    s.stop()
    note("INBOX %d bytes, %d messages (%d \\Deleted); src %d bytes, %d "
         "messages" % (len(BASE["snap"]), NMSG, len(DELETED),
                       len(BASE["src"]), SRC_N))
    return BASE


# ------------------------------------------------------------ checks

def check_box(s, label, states, files=None):
    """Read INBOX back after a kill.  states: {name: (set of indexes,
    {index: flags})}; the messages must be exactly one state's set (each
    once, byte-exact, UIDs as before) and their flags that state's
    flags; files: {name: bytes} the file must then be.  Returns the
    state's name, or None."""
    b = prepared()
    info, msgs = read_box(s)
    check(info.get("uidvalidity") == b["validity"], "%s: UIDVALIDITY %r, "
          "was %r" % (label, info.get("uidvalidity"), b["validity"]))
    seen, bad = [], 0
    got_flags = {}
    for n, m in enumerate(msgs, 1):
        body = bytes(m.get("BODY[]", b""))
        who = ident(body)
        if who is None or who[0] != "box":
            bad += 1
            if bad <= 3:
                check(False, "%s: message %d is none of ours: %r" %
                      (label, n, body[:200]))
            continue
        i = who[2]
        seen.append(i)
        got_flags[i] = flagset(m.get("FLAGS"))
        if body != FORMS[i] or int(m.get("UID", 0)) != b["uids"][i]:
            bad += 1
            if bad <= 3:
                check(False, "%s: message %d (box-%d) damaged: UID %s (was "
                      "%d), %d bytes (want %d)" %
                      (label, n, i, m.get("UID"), b["uids"][i], len(body),
                       len(FORMS[i])))
    dup = len(seen) - len(set(seen))
    check(dup == 0, "%s: %d messages there twice" % (label, dup))
    check(bad == 0, "%s: %d damaged messages" % (label, bad))
    ss = set(seen)
    match = [k for k, (want, fl) in sorted(states.items())
             if ss == want and all(got_flags[i] == fl[i] for i in ss)]
    if not match:
        desc = ", ".join("%s: %d messages missing, %d too many, flags of "
                         "%d differ" % (k, len(want - ss), len(ss - want),
                                        sum(1 for i in ss & want
                                            if got_flags[i] != fl[i]))
                         for k, (want, fl) in sorted(states.items()))
        check(False, "%s: the mailbox is a mixture: %d messages (%s)" %
              (label, len(ss), desc))
    left = recover_files(s)
    check(not [f for f in left if not f.endswith(".tmp")],
          "%s: recovery files left after a new session: %r" % (label, left))
    # the next lock finished the job: the file itself is whole
    if match and files:
        data = read_bytes(inbox(s))
        check(data == files[match[0]], "%s: the file after the new session "
              "is not byte for byte the %s one (%d bytes, want %d)" %
              (label, match[0], len(data or b""), len(files[match[0]])))
    return match[0] if match else None


def file_state(s, files):
    """What the kill left on disk, before the restart: the name of the
    file of files ({name: bytes}) it is byte for byte, or "mixed" (fine
    only if the next lock repairs it); and the recovery files there
    ("r": complete, "t": .tmp, "o": .old)."""
    data = read_bytes(inbox(s))
    name = "mixed"
    for k, want in sorted(files.items()):
        if data == want:
            name = k
    rec = "".join({"": "r", ".tmp": "t", ".old": "o"}.get(
        f[len(".demo.yubin-recover"):], "?") for f in recover_files(s))
    return name, rec


def base_flags():
    return dict((i, set((["\\Deleted"] if i in DELETED else []) +
                        (["\\Seen"] if i in SEEN else []))) for i in ALL)


def stored_flags():
    fl = base_flags()
    for i in FLAG_ADD:
        fl[i] |= set(["\\Flagged", "$Crash"])
    for i in SEEN_DEL:
        fl[i].discard("\\Seen")
    return fl


EXPUNGE_STATES = {"old": (ALL, base_flags()), "new": (AFTER, base_flags())}
CHECK_STATES = {"old": (ALL, base_flags()), "new": (ALL, stored_flags())}


def reference():
    """How long an EXPUNGE and a CHECK take without a kill, and the
    files they leave (what "new" is, byte for byte)."""
    if "expunge" in REF:
        return REF
    b = prepared()
    s = sandbox()
    c = expunge_session(s)
    t0 = time.monotonic()
    unt, _ = c.cmd("EXPUNGE", timeout=60)
    REF["expunge"] = time.monotonic() - t0
    c.check(len(c.untagged(unt, "EXPUNGE")) == len(DELETED),
            "%d EXPUNGE responses, want %d" %
            (len(c.untagged(unt, "EXPUNGE")), len(DELETED)))
    c.logout()
    check(check_box(s, "EXPUNGE, no kill", EXPUNGE_STATES) == "new",
          "EXPUNGE without a kill did not leave the new state")
    check(not recover_files(s), "recovery file left: %r" % recover_files(s))
    REF["expunge_files"] = {"old": b["snap"], "new": read_bytes(inbox(s))}
    c = check_session(s)
    t0 = time.monotonic()
    c.cmd("CHECK", timeout=60)
    REF["check"] = time.monotonic() - t0
    c.logout()
    check(check_box(s, "CHECK, no kill", CHECK_STATES) == "new", "CHECK "
          "without a kill did not write the flags")
    check(not recover_files(s), "recovery file left: %r" % recover_files(s))
    REF["check_files"] = {"old": b["snap"], "new": read_bytes(inbox(s))}
    s.stop()
    return REF


# ------------------------------------------------------------ EXPUNGE

def tally(case, key):
    t = TALLY.setdefault(case, {})
    t[key] = t.get(key, 0) + 1


def expunge_session(s):
    mbox_install(s, "demo", prepared()["snap"])
    c, info = open_box(s, examine=False)
    c.check(info.get("exists") == NMSG, "EXISTS %r, want %d" %
            (info.get("exists"), NMSG))
    return c


def after_kill(s, c, tag, label, states, files, case_name):
    """The common end of a killed run: what the client was told, what
    the file was, restart, read back; the OK'd state must be "new"."""
    said = c.drain()
    st = file_state(s, files)
    tally(case_name, "file %s%s" % (st[0], "+" + st[1] if st[1] else ""))
    restart(s)
    res = check_box(s, label, states, files)
    tally(case_name, "read back %s" % res)
    if recover_files(s):
        # a copy the kill cut short: never used, and removed by the next
        # rewrite (save_begin), not by the recovery
        tally(case_name, ".tmp copy still there after the next session")
    if said_ok(said, tag):
        tally(case_name, "OK before the kill")
        check(res == "new", "%s: %s was answered OK, but after the "
              "restart the mailbox is %s" % (label, tag, res))
    return st, res


@case("calibration: EXPUNGE of 167 of 500 messages (5 MB) and CHECK of "
      "STOREd flags, no kill")
def _():
    r = reference()
    note("EXPUNGE took %.0f ms, CHECK %.0f ms" %
         (r["expunge"] * 1000, r["check"] * 1000))


@case("SIGKILL at random moments of an EXPUNGE: the old or the new "
      "mailbox, UIDs and UIDVALIDITY kept (%d runs)" % runs(24))
def _():
    r = reference()
    s = sandbox()
    span = max(0.01, r["expunge"] * 1.3)
    out = []
    for run in range(runs(24)):
        c = expunge_session(s)
        delay = RNG.uniform(0, span)
        tag = c.start("EXPUNGE")
        time.sleep(delay)
        kill9(s)
        label = "EXPUNGE run %d (kill at %.0f ms)" % (run, delay * 1000)
        st, res = after_kill(s, c, tag, label, EXPUNGE_STATES,
                             r["expunge_files"], "expunge")
        out.append("%.0f:%s%s/%s" % (delay * 1000, st[0],
                                      "+" + st[1] if st[1] else "", res))
    note("kill ms:file left/read back: %s" % " ".join(out))
    note("EXPUNGE: %r" % sorted(TALLY.get("expunge", {}).items()))
    s.stop()


def strace_run(s, tool, kill, label, sessions):
    """One EXPUNGE with strace killing yubind at kill=(syscall, n) on the
    INBOX or its recovery files.  False if the call was not reached."""
    c = expunge_session(s)
    rp = s.path("mail", ".demo.yubin-recover")
    tr = Strace(s.pid, [inbox(s), rp, rp + ".tmp", rp + ".old"], kill, tool)
    tag = c.start("EXPUNGE")
    died = wait_until(lambda: not s.alive(), 30, 0.01)
    if not died:
        c.result(tag, "OK", timeout=60)
        c.logout()
        tr.stop()
        return False
    kill9(s)
    tr.stop()
    sessions.append(after_kill(s, c, tag, label, EXPUNGE_STATES,
                               reference()["expunge_files"], "strace"))
    return True


@case("SIGKILL at the Nth write/ftruncate/fsync/rename/unlink/openat of "
      "the EXPUNGE rewrite (strace -e inject)")
def _():
    tool = strace_tool()        # notes a skip (fails under CI=true)
    if tool is None:
        return
    reference()
    s = sandbox()
    c = expunge_session(s)
    rp = s.path("mail", ".demo.yubin-recover")
    tr = Strace(s.pid, [inbox(s), rp, rp + ".tmp", rp + ".old"], None, tool)
    c.cmd("EXPUNGE", timeout=60)
    c.logout()
    time.sleep(0.1)
    tr.stop()
    counts = tr.counts()
    note("system calls on the INBOX and its recovery files during "
         "EXPUNGE: %r" % sorted(counts.items()))
    check(check_box(s, "traced, no kill", EXPUNGE_STATES,
                    REF["expunge_files"]) == "new",
          "EXPUNGE under strace did not leave the new state")
    points = []
    for sc in ("write", "pwrite64"):
        n = counts.get(sc, 0)
        if n == 0:
            continue
        picks = [1, 2, 3, n // 8, n // 4, n // 2, (3 * n) // 4, n - 2,
                 n - 1, n]
        points += [(sc, k) for k in sorted(set(k for k in picks if k > 0))]
    for sc in ("ftruncate", "fsync", "fdatasync", "rename", "renameat",
               "renameat2", "unlink", "unlinkat", "openat", "open"):
        n = counts.get(sc, 0)
        points += [(sc, k) for k in range(1, min(n, 4) + 1)]
    check(any(p[0] in ("fsync", "fdatasync") for p in points) and
          any(p[0].startswith("rename") for p in points),
          "no fsync or rename seen in the rewrite: %r" % counts)
    hit, sessions = 0, []
    for sc, k in points:
        if strace_run(s, tool, (sc, k), "kill at %s #%d" % (sc, k),
                      sessions):
            hit += 1
        else:
            note("%s #%d: not reached" % (sc, k))
    note("%d of %d kill points hit; file left/read back: %s" %
         (hit, len(points), " ".join("%s:%s%s/%s" % (
             "%s#%d" % p, st[0], "+" + st[1] if st[1] else "", res)
             for p, (st, res) in zip(points, sessions))))
    note("strace: %r" % sorted(TALLY.get("strace", {}).items()))
    check(hit >= len(points) * 3 // 4, "only %d of %d strace kills "
          "happened" % (hit, len(points)))
    s.stop()


# ------------------------------------------------------------ CHECK

def check_session(s):
    """The 5 MB INBOX selected, flags STOREd (not written yet)."""
    c = expunge_session(s)
    c.ok("STORE %s +FLAGS.SILENT (\\Flagged $Crash)" % seqset(FLAG_ADD))
    c.ok("STORE %s -FLAGS.SILENT (\\Seen)" % seqset(SEEN_DEL))
    return c


@case("SIGKILL at random moments of a CHECK writing STOREd flags: every "
      "message once and intact, all flags old or all new (%d runs)" %
      runs(16))
def _():
    r = reference()
    s = sandbox()
    span = max(0.01, r["check"] * 2)
    out = []
    for run in range(runs(16)):
        c = check_session(s)
        delay = RNG.uniform(0, span)
        tag = c.start("CHECK")
        time.sleep(delay)
        kill9(s)
        label = "CHECK run %d (kill at %.0f ms)" % (run, delay * 1000)
        st, res = after_kill(s, c, tag, label, CHECK_STATES,
                             r["check_files"], "check")
        out.append("%.0f:%s%s/%s" % (delay * 1000, st[0],
                                      "+" + st[1] if st[1] else "", res))
    note("kill ms:file left/read back: %s" % " ".join(out))
    note("CHECK: %r" % sorted(TALLY.get("check", {}).items()))
    s.stop()


# ------------------------------------------------------------ SIGTERM

def meta_of(text):
    """{lower-case header name: value} of our metadata headers."""
    head = text.split(b"\n\n", 1)[0]
    out = {}
    for ln in head.split(b"\n"):
        k, _, v = ln.partition(b":")
        k = k.strip().lower()
        if k in (b"status", b"x-status", b"x-keywords") and k not in out:
            out[k.decode()] = v.strip().decode("latin-1")
    return out


def file_flags(data):
    """{index: flags} from the metadata headers of the file."""
    out = {}
    for _, text in mbox_split(data):
        m = re.search(br"(?m)^Message-ID: <box-0-([0-9]+)@", text)
        if not m:
            continue
        meta = meta_of(text)
        fl = set()
        if "R" in meta.get("status", ""):
            fl.add("\\Seen")
        for ch, f in (("A", "\\Answered"), ("F", "\\Flagged"),
                      ("T", "\\Draft"), ("D", "\\Deleted")):
            if ch in meta.get("x-status", ""):
                fl.add(f)
        fl |= set(meta.get("x-keywords", "").split())
        out[int(m.group(1))] = fl
    return out


@case("SIGTERM with STOREd flags not written yet (session open; session "
      "just dropped): the file has X-Status F and X-Keywords after the "
      "exit, a new yubind shows them")
def _():
    r = reference()
    s = sandbox()
    want = stored_flags()
    for how in ("session open", "connection dropped"):
        c = check_session(s)
        lazy = file_flags(read_bytes(inbox(s))) == base_flags()
        t0 = time.monotonic()
        if how == "connection dropped":
            c.close()
            time.sleep(0.05)
        s.signal(signal.SIGTERM)
        rc = s.wait(35)
        dt = time.monotonic() - t0
        check(rc == 0, "%s: yubind exit %r after SIGTERM" % (how, rc))
        if how == "session open":
            said = c.drain()
            check(re.search(br"(?m)^\* BYE", said), "%s: no * BYE at "
                  "shutdown: %r" % (how, said[-200:]))
        note("%s: flags %s in the file before SIGTERM; yubind exited "
             "%.0f ms after it" % (how, "not yet" if lazy else "already",
                                   dt * 1000))
        got = file_flags(read_bytes(inbox(s)))
        diff = [(i, sorted(got.get(i, [])), sorted(want[i])) for i in ALL
                if got.get(i) != want[i]]
        check(not diff, "%s: after the clean stop the file's flags differ "
              "for %d messages, first %r" % (how, len(diff), diff[:3]))
        check(not recover_files(s), "%s: recovery files after a clean "
              "stop: %r" % (how, recover_files(s)))
        s.start()
        check(check_box(s, how, CHECK_STATES, r["check_files"]) == "new",
              "%s: a new yubind does not show the STOREd flags" % how)
    s.stop()


# ------------------------------------------------------------ APPEND, COPY

def check_appended(s, label, expect, acked, case_name):
    """INBOX after a kill during APPEND or COPY.  expect: [(key, form)]
    of the messages that were on their way, in order; acked: {key: UID
    or None} of those the server said OK to.  The small base comes
    first, unchanged; then a prefix of expect (every acked one, intact,
    with its APPENDUID) whose last one may be cut short if it was never
    acked; then what this check appends itself, intact."""
    b = prepared()
    c = SETUP.session("demo", s, name="v")
    post = message("post", 0, 0, b"appended after the crash\n")
    tl, post_uid = c.append("INBOX", crlf(post), timeout=30)
    info = c.select("INBOX", examine=True)
    msgs = c.fetch_all(exists=info.get("exists"))
    c.logout()
    check(info.get("uidvalidity") == b["small_validity"], "%s: UIDVALIDITY "
          "%r, was %r" % (label, info.get("uidvalidity"),
                          b["small_validity"]))
    uids = [int(m.get("UID", 0)) for m in msgs]
    check(uids == sorted(set(uids)), "%s: UIDs do not ascend: %r" %
          (label, uids))
    check(post_uid is not None and uids[-1:] == [post_uid] and
          int(info.get("uidnext", 0)) > post_uid,
          "%s: the message appended after the crash has UID %r, the last "
          "is %r, UIDNEXT %r" % (label, post_uid, uids[-1:],
                                 info.get("uidnext")))
    bodies = [bytes(m.get("BODY[]", b"")) for m in msgs]
    nb = len(b["small_forms"])
    check(bodies[:nb] == b["small_forms"] and uids[:nb] == b["small_uids"],
          "%s: the messages that were there before changed" % label)
    check(bodies[-1:] == [pop3_form(post)], "%s: the message appended "
          "after the crash is not intact and last: %r" %
          (label, bodies[-1][:300] if bodies else None))
    mid = bodies[nb:-1]
    keys = [k for k, _ in expect]
    forms = dict(expect)
    got = []
    partial = complete = 0
    for j, body in enumerate(mid):
        if j >= len(expect):
            check(False, "%s: %d more messages than were sent" %
                  (label, len(mid) - len(expect)))
            break
        k = keys[j]
        uid = uids[nb + j]
        if body == forms[k]:
            got.append(k)
            if k in acked:
                check(acked[k] is None or acked[k] == uid,
                      "%s: %r has UID %d, APPENDUID said %r" %
                      (label, k, uid, acked[k]))
            else:
                complete += 1
            continue
        # only the last one, never acked, may be cut short
        cut = body.rstrip(b"\r\n")
        short = j == len(mid) - 1 and k not in acked and \
            len(cut) < len(forms[k]) and forms[k].startswith(cut)
        check(short, "%s: message %d (%r) is damaged: %d bytes, want %d%s" %
              (label, nb + j + 1, k, len(body), len(forms[k]),
               "" if k not in acked else " (acknowledged)"))
        if short:
            partial += 1
    missing = [k for k in acked if k not in got]
    check(not missing, "%s: acknowledged with OK but missing: %r" %
          (label, missing))
    tally(case_name, "acked %d of %d" % (len(acked), len(expect)))
    if complete:
        tally(case_name, "runs with complete messages never acked")
    if partial:
        tally(case_name, "runs with a partial trailing message (never "
              "acked)")
    if case_name == "copy" and not acked and \
            0 < len(got) + partial < len(expect):
        tally(case_name, "runs with some but not all of an unacked COPY")
    return len(acked), len(got), complete, partial


def kill_later(s, delay):
    t = threading.Timer(delay, lambda: s.alive() and os.kill(s.pid,
                                                             signal.SIGKILL))
    t.start()
    return t


def append_series(s, run, timer=None):
    """LOGIN, then APPEND the three big messages one after the other,
    sync and LITERAL+ literals.  Returns {k: APPENDUID} of the OK'd ones
    (stops at the first error, e.g. the kill)."""
    acked = {}
    try:
        c = SETUP.session("demo", s)
        for k in range(len(APP_BODIES)):
            tl, uid = c.append("INBOX", crlf(app_text(run, k)),
                               flags=["$Big"] if k == 1 else None,
                               sync=(k != 1), timeout=30)
            acked[("app", run, k)] = uid
        if timer is None:
            c.logout()
        else:
            c.drain(10)
    except (TestFailure, OSError):
        pass
    return acked


@case("SIGKILL at random moments of a series of three APPENDs of 1-2.5 "
      "MB: what was acknowledged is there; the mailbox parses (%d runs)" %
      runs(12))
def _():
    b = prepared()
    s = sandbox()
    took = []
    for attempt in range(2):        # the slower one sets the kill span
        mbox_install(s, "demo", b["small"])
        t0 = time.monotonic()
        acked = append_series(s, 0)
        took.append(time.monotonic() - t0)
        check(len(acked) == 3, "APPENDs without a kill: %r" % acked)
        check_appended(s, "no kill", [(k, stored_form(app_text(0, k[2])))
                                      for k in sorted(acked)], acked, "none")
    CAL["append"] = max(took)
    note("three APPENDs took %s ms" % " and ".join("%.0f" % (t * 1000)
                                                   for t in took))
    out = []
    for run in range(1, runs(12) + 1):
        mbox_install(s, "demo", b["small"])
        delay = RNG.uniform(0.01, CAL["append"] * 1.1)
        t = kill_later(s, delay)
        acked = append_series(s, run, t)
        t.join()
        kill9(s)
        restart(s)
        expect = [(("app", run, k), stored_form(app_text(run, k)))
                  for k in range(len(APP_BODIES))]
        r = check_appended(s, "APPEND run %d (kill at %.0f ms)" %
                           (run, delay * 1000), expect, acked, "append")
        out.append("%.0f:%d/%d/%d" % (delay * 1000, r[0], r[2], r[3]))
    note("kill ms:acked/complete unacked/partial: %s" % " ".join(out))
    # the append to the mailbox itself is a short part of an APPEND: hit
    # it for sure (nothing of it written, half of its body, all of it
    # before the fsync)
    tool = strace_tool()
    if tool is None:
        note("so no kills at exact writes of an APPEND")
    out = []
    for run, point in enumerate([("write", 1), ("write", 3), ("fsync", 1)]
                                if tool else [], 100):
        mbox_install(s, "demo", b["small"])
        c = SETUP.session("demo", s)
        tr = Strace(s.pid, [inbox(s)], point, tool)
        acked = {}
        try:
            tl, uid = c.append("INBOX", crlf(app_text(run, 0)), timeout=30)
            acked[("app", run, 0)] = uid
        except (TestFailure, OSError):
            pass
        kill9(s)
        tr.stop()
        restart(s)
        r = check_appended(s, "APPEND killed at %s #%d" % point,
                           [(("app", run, 0), stored_form(app_text(run, 0)))],
                           acked, "append")
        out.append("%s#%d:%d/%d/%d" % (point + (r[0], r[2], r[3])))
    if out:
        note("strace kill point:acked/complete unacked/partial: %s" %
             " ".join(out))
    note("APPEND: %r" % sorted(TALLY.get("append", {}).items()))
    s.stop()


@case("SIGKILL at random moments of a COPY of 160 messages (4 MB) into "
      "INBOX: all there if OK, else a prefix; the source unchanged (%d "
      "runs)" % runs(12))
def _():
    b = prepared()
    s = sandbox()
    os.makedirs(os.path.dirname(folder(s, "src")), exist_ok=True)
    expect = [(("src", 0, i), SRC_FORMS[i]) for i in range(SRC_N)]

    def copy_run(delay):
        mbox_install(s, "demo", b["small"])
        with open(folder(s, "src"), "wb") as f:
            f.write(b["src"])
        c, info = open_box(s, "src")
        tag = c.start("COPY 1:* INBOX")
        t0 = time.monotonic()
        if delay is None:
            unt, tl = c.result(tag, "OK", timeout=60)
            CAL["copy"] = max(CAL.get("copy", 0), time.monotonic() - t0)
            c.logout()
            return {"all": None}
        time.sleep(delay)
        kill9(s)
        said = c.drain()
        restart(s)
        return {"all": None} if said_ok(said, tag) else {}

    def verify(label, ok):
        acked = dict((k, None) for k, _ in expect) if ok else {}
        r = check_appended(s, label, expect, acked, "copy")
        check(read_bytes(folder(s, "src")) == b["src"], "%s: the source "
              "folder changed" % label)
        return r

    for attempt in range(2):        # the slower one sets the kill span
        verify("no kill", copy_run(None))
    note("COPY took %.0f ms" % (CAL["copy"] * 1000))
    out = []
    for run in range(1, runs(12) + 1):
        delay = RNG.uniform(0, CAL["copy"] * 1.2)
        ok = copy_run(delay)
        r = verify("COPY run %d (kill at %.0f ms)" % (run, delay * 1000), ok)
        out.append("%.0f:%s:%d%s" % (delay * 1000, "OK" if ok else "-",
                                     r[1], "+partial" if r[3] else ""))
    note("kill ms:OK:messages copied (of %d): %s" % (SRC_N, " ".join(out)))
    note("COPY: %r" % sorted(TALLY.get("copy", {}).items()))
    s.stop()


main(timeout=600)

#!/usr/bin/env python3
"""proto_pop3_view.py - the index yubind keeps between POP3 sessions must
never be trusted past a change it did not make: another program rewriting
the mailbox (mutt deleting a message), appending to it (mail.local,
without yubind's own delivery), or replacing it with a file of the same
size.  Each session must then see exactly what is in the file."""

import os
import poplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

USERS = {"demo": "demo"}


def msg(i, filler=0):
    return ("From sender%d@example.org Mon Nov  2 10:00:%02d 2026\n"
            "Subject: number %d\n\nbody of %d\n%s\n" %
            (i, i % 60, i, i, "x" * filler))


def write_box(s, text):
    with open(s.path("mail", "demo"), "w") as f:
        f.write(text)
    os.chmod(s.path("mail", "demo"), 0o600)


def session(s):
    """Log in, return [(uidl, body text)] of every message, QUIT."""
    p = poplib.POP3("127.0.0.1", s.port("pop3"), timeout=10)
    p.user("demo")
    p.pass_("demo")
    n, _ = p.stat()
    out = []
    uidls = dict(x.decode().split() for x in p.uidl()[1])
    for i in range(1, n + 1):
        lines = p.retr(i)[1]
        out.append((uidls[str(i)], b"\n".join(lines).decode()))
    p.quit()
    return out


def subjects(view):
    return [t.split("Subject: ")[1].split("\n")[0] for _, t in view]


@case("kept index: unchanged mailbox read again gives the same messages")
def _():
    s = Sandbox(users=USERS)
    write_box(s, "\n".join(msg(i) for i in range(1, 6)))
    a = session(s)
    b = session(s)
    check(a == b, "second session differs from the first")
    check(subjects(b) == ["number %d" % i for i in range(1, 6)],
          "subjects %r" % subjects(b))
    s.stop()


@case("kept index: another program rewrites the mailbox (deletes one)")
def _():
    s = Sandbox(users=USERS)
    write_box(s, "\n".join(msg(i) for i in range(1, 6)))
    a = session(s)
    # as mutt would: read the file (with our X-UID headers), drop #2
    with open(s.path("mail", "demo")) as f:
        text = f.read()
    parts = text.split("\nFrom ")
    kept = [parts[0]] + ["From " + p for p in parts[1:]]
    del kept[1]
    write_box(s, "\n".join(kept))
    b = session(s)
    check(subjects(b) == ["number 1", "number 3", "number 4", "number 5"],
          "after an external rewrite: %r" % subjects(b))
    uid_a = dict((t.split("Subject: ")[1].split("\n")[0], u) for u, t in a)
    for u, t in b:
        sub = t.split("Subject: ")[1].split("\n")[0]
        check(uid_a.get(sub) == u, "UIDL of %s changed: %s -> %s" %
              (sub, uid_a.get(sub), u))
    s.stop()


@case("kept index: another program appends (unquoted From in the body)")
def _():
    s = Sandbox(users=USERS)
    write_box(s, "\n".join(msg(i) for i in range(1, 4)))
    session(s)
    with open(s.path("mail", "demo"), "a") as f:
        f.write(msg(4) + "\n" + msg(5, 300))
    b = session(s)
    check(subjects(b) == ["number %d" % i for i in range(1, 6)],
          "after an external append: %r" % subjects(b))
    check(b[4][1].endswith("body of 5\n" + "x" * 300),
          "appended message text: %r" % b[4][1][-60:])
    s.stop()


@case("kept index: a same-size replacement with another inode is re-read")
def _():
    s = Sandbox(users=USERS)
    write_box(s, "\n".join(msg(i) for i in range(1, 4)))
    session(s)
    with open(s.path("mail", "demo")) as f:
        text = f.read()
    swapped = text.replace("body of 2", "BODY OF 2")
    tmp = s.path("mail", "demo.new")
    with open(tmp, "w") as f:
        f.write(swapped)
    os.chmod(tmp, 0o600)
    os.rename(tmp, s.path("mail", "demo"))
    b = session(s)
    check(any("BODY OF 2" in t for _, t in b), "stale text served")
    s.stop()


@case("kept index: same inode rewritten in place within the same second")
def _():
    s = Sandbox(users=USERS)
    write_box(s, "\n".join(msg(i, 20) for i in range(1, 4)))
    session(s)
    p = s.path("mail", "demo")
    with open(p, "r+") as f:
        text = f.read()
        # same size, messages shifted: the old offsets now point into text
        new = text.replace("x" * 20 + "\n", "y" * 10 + "\n", 1)
        new = new.replace("body of 3\n", "body of 3\n" + "z" * 10, 1)
        f.seek(0)
        f.write(new)
        f.truncate()
    b = session(s)
    check(subjects(b) == ["number 1", "number 2", "number 3"],
          "after an in-place rewrite: %r" % subjects(b))
    check(any("y" * 10 in t for _, t in b), "stale text served")
    s.stop()


if __name__ == "__main__":
    main(timeout=120)

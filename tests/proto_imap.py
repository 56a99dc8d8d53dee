#!/usr/bin/env python3
"""proto_imap.py - the IMAP4rev1 server (RFC 3501) and its everyday
extensions, part 1: the session (greeting, tags, CAPABILITY, NOOP,
LOGOUT, states), authentication (LOGIN with its delay, LOGINDISABLED,
AUTHENTICATE PLAIN/LOGIN/CRAM-MD5 with and without SASL-IR, cancel, bad
base64), the mailbox commands (SELECT/EXAMINE responses, CREATE,
DELETE, RENAME incl. INBOX, SUBSCRIBE/UNSUBSCRIBE/LSUB, LIST with % *
and "", CHILDREN, modified UTF-7 names, STATUS, CHECK, CLOSE,
UNSELECT, NAMESPACE, ID, ENABLE), commands in the wrong state,
malformed input (never a crash), UIDs kept across sessions and a
restart, two sessions on one INBOX, SMTP delivery while selected, and
a mailbox rewritten by another program under the dotlock.  FETCH,
STORE, SEARCH, COPY, MOVE, EXPUNGE and APPEND are in
proto_imap_fetch.py; BODYSTRUCTURE/ENVELOPE in proto_imap_mime.py.
Every failure message ends with the session transcript."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import *  # noqa: E402,F401,F403

USERS = numbered_users(60, ("demo", "demopw"), ("bob", "bobpw"))
SHARED = ImapSetup(USERS)
sb, new_user, spool = SHARED.sb, SHARED.new_user, SHARED.spool
connect, session = SHARED.connect, SHARED.session


def folder_file(user, name, s=None):
    return (s or sb()).path("home", user, "mail", name)


def msgs(n, tag="m"):
    return [("From: a%d@example.org\nTo: x@example.net\nSubject: %s %d\n"
             "Message-ID: <%s%d@example.org>\n\nbody %s-%d\n" %
             (i, tag, i, tag, i, tag, i)).encode() for i in range(1, n + 1)]


def install_folder(user, name, texts, s=None):
    """Write an mbox folder file under the user's mail directory."""
    p = folder_file(user, name, s)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(mbox_build(texts))
    os.chmod(p, 0o600)
    return p


def list_names(c, ref, pat, cmd="LIST"):
    """{name: (attributes lower-case set, delimiter)} of LIST/LSUB."""
    unt, _ = c.cmd("%s %s %s" % (cmd, quote(ref), quote(pat)))
    out = {}
    for u in unt:
        if not u.startswith(b"* %s " % cmd.encode()):
            continue
        try:
            v = parse(u[len(cmd) + 3:])
        except ValueError as e:
            c.fail("malformed %s response %r: %s" % (cmd, u, e))
        if len(v) != 3 or not isinstance(v[0], list):
            c.fail("malformed %s response %r" % (cmd, u))
        name = v[2].decode("latin-1") if isinstance(v[2], bytes) else v[2]
        out[str(name)] = (set(str(a).lower() for a in v[0]),
                          None if v[1] is None else bytes(v[1]).decode())
    return out


def caps_of(c, line=None):
    if line is None:
        unt, _ = c.cmd("CAPABILITY")
        lines = [u for u in unt if u.startswith(b"* CAPABILITY ")]
        if len(lines) != 1:
            c.fail("want one * CAPABILITY line")
        line = lines[0].decode()[len("* CAPABILITY "):]
    return line.split()


# ------------------------------------------------------------ session

@case("greeting * OK [CAPABILITY ...]; CAPABILITY lists every required "
      "capability, no STARTTLS, no LOGINDISABLED on loopback")
def _():
    c = connect()
    m = re.match(r"\* OK \[CAPABILITY ([^]]*)\]", c.greeting.decode())
    gcaps = m.group(1).split()
    caps = caps_of(c)
    c.check(not [w for w in IMAP_CAPS_REQUIRED if w not in caps],
            "CAPABILITY lacks %r: %r" % ([w for w in IMAP_CAPS_REQUIRED
                                          if w not in caps], caps))
    c.check(not [w for w in IMAP_CAPS_REQUIRED if w not in gcaps],
            "greeting's CAPABILITY lacks %r: %r" % (
                [w for w in IMAP_CAPS_REQUIRED if w not in gcaps], gcaps))
    c.check(caps[:1] == ["IMAP4rev1"] or "IMAP4rev1" in caps,
            "IMAP4rev1 missing")
    for bad in ("STARTTLS", "LOGINDISABLED", "IMAP4"):
        c.check(bad not in caps, "CAPABILITY lists %s: %r" % (bad, caps))
    c.check(len(set(caps)) == len(caps), "repeated capabilities %r" % caps)
    # case-insensitive command names; arguments are BAD
    unt, _ = c.cmd("capability")
    c.check(len(unt) == 1, "lower-case capability: %r" % unt)
    c.cmd("CAPABILITY extra", "BAD")
    c.login("demo", "demopw")
    caps2 = caps_of(c)
    miss = [w for w in IMAP_CAPS_REQUIRED
            if not w.startswith("AUTH=") and w not in caps2]
    c.check(not miss, "CAPABILITY after login lacks %r: %r" % (miss, caps2))
    c.logout()


@case("tags: missing, empty, with + or *, tag alone, unknown command; "
      "the session goes on")
def _():
    c = connect()
    for bad in (b"", b" NOOP", b"+x NOOP", b"a*b NOOP", b"(x NOOP",
                b"a%b NOOP", b'"q" NOOP', b"a{1} NOOP"):
        c.send_raw(bad + b"\r\n")
        c.expect(r"\* BAD( .*)?|\S+ BAD( .*)?")
    c.send("t1")
    c.expect(r"(\* BAD|t1 BAD)( .*)?")
    c.send("t2 FROBNICATE")
    c.expect(r"t2 BAD( .*)?")
    c.send("t3 NOOPX")
    c.expect(r"t3 BAD( .*)?")
    c.send("t4  NOOP")
    c.expect(r"(\* BAD|t4 BAD|t4 OK)( .*)?")
    c.send("t.5:x] NOOP")
    c.expect(r"t\.5:x\] OK( .*)?")
    c.cmd("NOOP")
    c.logout()


@case("NOOP and LOGOUT in every state; LOGOUT is * BYE, tagged OK, "
      "close; arguments are BAD")
def _():
    c = connect()
    c.cmd("NOOP")
    c.cmd("NOOP x", "BAD")
    c.cmd("LOGOUT now", "BAD")
    c.logout()
    c = session("demo")
    c.cmd("NOOP")
    c.logout()
    c = session("demo")
    c.select("INBOX")
    c.cmd("NOOP")
    c.logout()


@case("inetd mode: yubind -i imap speaks IMAP on stdin/stdout")
def _():
    s = Sandbox(users=USERS, start=False)
    mbox_install(s, "demo", mbox_build(msgs(2)))
    rc, out, err = s.run_inetd("imap", b"a CAPABILITY\r\nb LOGIN demo "
                               b"demopw\r\nc SELECT INBOX\r\nd FETCH 2 "
                               b"BODY.PEEK[TEXT]\r\ne LOGOUT\r\n")
    t = out.decode("latin-1")
    check(re.match(r"\* OK \[CAPABILITY IMAP4rev1", t), "greeting %r" %
          t[:200])
    for w in (r"\r\na OK", r"\r\nb OK", r"\* 2 EXISTS\r\n", r"\r\nc OK",
              r"BODY\[TEXT\] \{10\}\r\nbody m-2\r\n", r"\* BYE", r"\r\ne OK"):
        check(re.search(w, t), "inetd output lacks /%s/: %r" % (w, t[-600:]))
    check(rc == 0, "exit %s, stderr %r" % (rc, err[-300:]))


# ------------------------------------------------------------ LOGIN

@case("LOGIN with atoms, quoted strings and literals; LOGIN again is "
      "BAD/NO; missing or extra arguments BAD")
def _():
    c = connect()
    c.cmd("LOGIN", "BAD")
    c.cmd("LOGIN demo", "BAD")
    c.cmd("LOGIN demo demopw extra", "BAD", timeout=15)
    c.cmd('LOGIN "demo" "demopw"')
    c.cmd("LOGIN demo demopw", NO_OR_BAD)
    c.logout()
    c = connect()
    c.cmd_lit(["LOGIN ", b"demo", " ", b"demopw"])
    c.cmd("SELECT INBOX")
    c.logout()
    c = connect()
    c.cmd_lit(["LOGIN ", b"demo", " ", b"demopw"], sync=False)
    c.cmd("NOOP")
    c.logout()
    c = connect()
    c.cmd("login DEMO demopw", "NO", timeout=15)   # user names are exact
    c.cmd("LoGiN demo demopw")
    c.logout()


@case("LOGIN failures: bad password and unknown user get the same NO "
      "after a delay; other sessions go on meanwhile; logged")
def _():
    replies = []
    for user in ("demo", "nosuchuser"):
        c = connect()
        t0 = time.monotonic()
        unt, tl = c.cmd("LOGIN %s wrong-password" % user, "NO", timeout=15)
        dt = time.monotonic() - t0
        c.check(1.0 <= dt <= 8, "failed LOGIN for %s answered after %.2f s, "
                "want a delay of a few seconds" % (user, dt))
        replies.append(tl.split(" ", 1)[1])
        c.cmd("SELECT INBOX", NO_OR_BAD)      # still not authenticated
        c.logout()
    check(replies[0] == replies[1], "failure replies differ: %r" % replies)
    c1 = connect(name="slow")
    t = c1.start("LOGIN demo wrong")
    time.sleep(0.1)
    t0 = time.monotonic()
    c2 = session("bob", name="other")
    c2.cmd("NOOP")
    dt = time.monotonic() - t0
    check(dt < 1.5, "another LOGIN + NOOP took %.2f s during a failure "
          "delay" % dt)
    c1.result(t, "NO", timeout=15)
    c1.logout()
    c2.logout()
    log = sb().log_text() + sb().stderr_text()
    check(re.search(r"(?i)imap.*(fail|denied).*nosuchuser|nosuchuser.*fail",
                    log), "failed IMAP login of nosuchuser not logged")


@case("plaintext_networks 10.0.0.0/8: LOGINDISABLED, no AUTH=PLAIN/LOGIN; "
      "LOGIN and AUTHENTICATE PLAIN refused; CRAM-MD5 works")
def _():
    s = Sandbox(users=USERS, conf="plaintext_networks 10.0.0.0/8\n")
    c = connect(s)
    caps = caps_of(c)
    c.check("LOGINDISABLED" in caps, "no LOGINDISABLED: %r" % caps)
    c.check("AUTH=PLAIN" not in caps and "AUTH=LOGIN" not in caps,
            "plaintext mechanisms still offered: %r" % caps)
    c.check("AUTH=CRAM-MD5" in caps, "no AUTH=CRAM-MD5: %r" % caps)
    c.cmd("LOGIN demo demopw", "NO", timeout=15)
    c.cmd("AUTHENTICATE PLAIN %s" % b64("\0demo\0demopw"), "NO", timeout=15)
    c.cmd("SELECT INBOX", NO_OR_BAD)
    t = c.start("AUTHENTICATE CRAM-MD5")
    m = c.expect(r"\+ ([A-Za-z0-9+/=]+)")
    c.send(cram_md5("demo", "demopw", m.group(1)))
    c.result(t, "OK", timeout=15)
    c.cmd("SELECT INBOX")
    c.logout()
    s.stop()


# ------------------------------------------------------------ AUTHENTICATE

@case("AUTHENTICATE PLAIN: with a continuation, with SASL-IR, with an "
      "authzid equal to the user; '=' is an empty initial response")
def _():
    c = connect()
    t = c.start("AUTHENTICATE PLAIN")
    c.expect(r"\+ ?")
    c.send(b64("\0demo\0demopw"))
    c.result(t, r"OK( .*)?", timeout=15)
    c.cmd("SELECT INBOX")
    c.logout()
    c = connect()
    c.cmd("AUTHENTICATE PLAIN %s" % b64("\0demo\0demopw"))
    c.cmd("NOOP")
    c.cmd("AUTHENTICATE PLAIN %s" % b64("\0demo\0demopw"), NO_OR_BAD)
    c.logout()
    c = connect()
    c.cmd("authenticate plain %s" % b64("demo\0demo\0demopw"))
    c.logout()
    # "=" is an empty initial response (RFC 4959): PLAIN fails on it
    # (or asks again with "+"), it does not authenticate
    c = connect()
    t = c.start("AUTHENTICATE PLAIN =")
    ln = c.line(15).decode("latin-1")
    if ln.startswith("+"):
        c.send("*")
        c.result(t, "BAD")
    else:
        c.check(re.fullmatch(re.escape(t) + r" (NO|BAD)( .*)?", ln),
                "AUTHENTICATE PLAIN = gave %r" % ln)
    c.logout()


@case("AUTHENTICATE LOGIN: Username:/Password: prompts; with SASL-IR "
      "the user name comes with the command")
def _():
    c = connect()
    t = c.start("AUTHENTICATE LOGIN")
    c.expect(r"\+ VXNlcm5hbWU6")
    c.send(b64("demo"))
    c.expect(r"\+ UGFzc3dvcmQ6")
    c.send(b64("demopw"))
    c.result(t, "OK", timeout=15)
    c.logout()
    c = connect()
    t = c.start("AUTHENTICATE LOGIN %s" % b64("demo"))
    c.expect(r"\+ UGFzc3dvcmQ6")
    c.send(b64("demopw"))
    c.result(t, "OK", timeout=15)
    c.logout()


@case("AUTHENTICATE CRAM-MD5: <...@...> challenge, right answer OK, "
      "wrong NO; SASL-IR with CRAM-MD5 is BAD (server speaks first)")
def _():
    import base64
    c = connect()
    t = c.start("AUTHENTICATE CRAM-MD5")
    m = c.expect(r"\+ ([A-Za-z0-9+/=]+)")
    ch = base64.b64decode(m.group(1)).decode("latin-1")
    c.check(re.fullmatch(r"<[^<>@]+@[^<>]+>", ch), "challenge %r" % ch)
    c.send(cram_md5("demo", "demopw", m.group(1)))
    c.result(t, "OK", timeout=15)
    c.logout()
    c = connect()
    t = c.start("AUTHENTICATE CRAM-MD5")
    m = c.expect(r"\+ ([A-Za-z0-9+/=]+)")
    c.send(cram_md5("demo", "wrong", m.group(1)))
    c.result(t, "NO", timeout=15)
    c.cmd("AUTHENTICATE CRAM-MD5 %s" % b64("demo 0123"), NO_OR_BAD,
          timeout=15)
    c.logout()


@case("AUTHENTICATE errors: '*' cancels (BAD), bad base64 BAD, unknown "
      "mechanism NO, wrong password NO, authzid of another user NO")
def _():
    c = connect()
    for mech, prompt in (("PLAIN", r"\+ ?"), ("LOGIN", r"\+ VXNlcm5hbWU6"),
                         ("CRAM-MD5", r"\+ [A-Za-z0-9+/=]+")):
        t = c.start("AUTHENTICATE %s" % mech)
        c.expect(prompt)
        c.send("*")
        c.result(t, "BAD")
    t = c.start("AUTHENTICATE PLAIN")
    c.expect(r"\+ ?")
    c.send("!!!not base64!!!")
    c.result(t, "BAD", timeout=15)
    c.cmd("AUTHENTICATE PLAIN %%%%", "BAD", timeout=15)
    c.cmd("AUTHENTICATE X-UNKNOWN", "NO")
    c.cmd("AUTHENTICATE", "BAD")
    c.cmd("AUTHENTICATE PLAIN %s" % b64("\0demo\0wrong"), "NO", timeout=15)
    c.cmd("AUTHENTICATE PLAIN %s" % b64("bob\0demo\0demopw"), "NO",
          timeout=15)
    c.cmd("SELECT INBOX", NO_OR_BAD)
    c.cmd("NOOP")
    c.logout()
    c = connect()
    c.cmd("AUTHENTICATE PLAIN %s" % b64("\0demo"), NO_OR_BAD, timeout=15)
    c.logout()
    # three failures in a row: the server may hang up (as POP3 does), but
    # then with * BYE first (RFC 3501 7.1.5)
    c = connect()
    for i in range(3):
        c.cmd("LOGIN demo wrong%d" % i, "NO", timeout=15)
    t = c.start("NOOP")
    ln = c.c.readline(15)
    c._rec("S", ln)
    if ln.startswith(b"* BYE"):
        c.expect_close()
    else:
        c.check(ln.startswith(t.encode() + b" OK"), "after three failed "
                "logins, NOOP got %r (closed without * BYE?)" % ln)
        c.logout()


# ------------------------------------------------------------ SELECT

@case("SELECT: FLAGS, n EXISTS, n RECENT, OK [UNSEEN n], OK "
      "[PERMANENTFLAGS ...], OK [UIDVALIDITY n], OK [UIDNEXT n], "
      "[READ-WRITE]; a second session sees RECENT 0")
def _():
    u, pw = new_user()
    texts = msgs(3)
    texts[0] = b"Status: RO\n" + texts[0]          # read, old
    texts[2] = b"Status: O\nX-Status: F\n" + texts[2]  # old, unread
    mbox_install(sb(), u, mbox_build(texts))
    c = session(u)
    i = c.select("INBOX")
    fl = set(i.get("flags", []))
    for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"):
        c.check(f in fl, "FLAGS lacks %s: %r" % (f, i.get("flags")))
    c.check(i.get("exists") == 3, "EXISTS %r" % i.get("exists"))
    c.check(i.get("recent") == 1, "RECENT %r, want 1 (the message without "
            "Status: O)" % i.get("recent"))
    c.check(i.get("unseen") == 2, "UNSEEN %r, want 2" % i.get("unseen"))
    pf = i.get("permanentflags")
    c.check(pf is not None and "\\*" in pf and
            fl - set(["\\Recent"]) <= set(pf) | set(["\\Recent"]),
            "PERMANENTFLAGS %r" % pf)
    c.check((i.get("uidvalidity") or 0) > 0, "UIDVALIDITY %r" %
            i.get("uidvalidity"))
    c.check((i.get("uidnext") or 0) >= 4, "UIDNEXT %r" % i.get("uidnext"))
    c.check(i["rw"] == "READ-WRITE", "tagged %r" % i["tagged"])
    # recent only for the first session that sees it
    d = session(u, name="d")
    j = d.select("INBOX")
    d.check(j.get("recent") == 0, "RECENT %r in a second session" %
            j.get("recent"))
    d.check(j.get("uidvalidity") == i.get("uidvalidity") and
            j.get("uidnext") == i.get("uidnext"), "UIDVALIDITY/UIDNEXT "
            "differ between sessions: %r %r" % (i, j))
    d.logout()
    c.logout()
    # an empty INBOX (no spool file at all)
    u, pw = new_user()
    c = session(u)
    i = c.select("inbox")
    c.check(i.get("exists") == 0 and i.get("recent") == 0,
            "empty INBOX: %r" % i["lines"])
    c.check("unseen" not in i, "UNSEEN in an empty mailbox")
    c.check((i.get("uidnext") or 0) >= 1 and (i.get("uidvalidity") or 0) > 0,
            "UIDNEXT/UIDVALIDITY of an empty mailbox %r" % i["lines"])
    c.logout()


@case("EXAMINE: [READ-ONLY], no \\Recent taken away; SELECT of a missing "
      "mailbox NO and deselects; SELECT of another mailbox does not "
      "expunge")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build(msgs(2)))
    c = session(u)
    i = c.select("INBOX", examine=True)
    c.check(i["rw"] == "READ-ONLY", "EXAMINE tagged %r" % i["tagged"])
    c.check(i.get("exists") == 2, "EXISTS %r" % i.get("exists"))
    c.cmd("STORE 1 +FLAGS (\\Seen)", "NO")
    c.cmd("EXPUNGE", NO_OR_BAD)
    c.ok("CREATE other")
    i = c.select("INBOX")
    c.check(i["rw"] == "READ-WRITE", "SELECT tagged %r" % i["tagged"])
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.select("other")
    c.select("nosuchbox", want="NO")
    c.cmd("FETCH 1 FLAGS", NO_OR_BAD)        # no mailbox selected now
    c.cmd("NOOP")
    i = c.select("INBOX")
    c.check(i.get("exists") == 2, "switching mailboxes expunged: %r" %
            i["lines"])
    c.cmd("SELECT", "BAD")
    c.cmd("SELECT a b", "BAD")
    c.logout()


# ------------------------------------------------------------ CREATE/DELETE

@case("CREATE: new mailbox file 0600; existing name NO; INBOX NO; "
      "parents made; trailing / makes a directory; bad names refused")
def _():
    u, pw = new_user()
    c = session(u)
    c.ok("CREATE proj")
    p = folder_file(u, "proj")
    c.check(os.path.isfile(p), "no file %s" % p)
    if os.path.exists(p):
        c.check(os.stat(p).st_mode & 0o777 == 0o600, "mode %o" %
                (os.stat(p).st_mode & 0o777))
    c.cmd("CREATE proj", "NO")
    c.cmd("CREATE INBOX", "NO")
    c.cmd("CREATE inbox", "NO")
    c.ok("CREATE a/b/c")
    c.check(os.path.isfile(folder_file(u, "a/b/c")), "a/b/c not a file")
    c.ok("CREATE dir/")
    c.check(os.path.isdir(folder_file(u, "dir")), "dir/ not a directory")
    c.ok('CREATE "with space"')
    for bad in ('""', '"../escape"', '"/abs"', '"~bob/x"', '"a//b"',
                '"x/../y"', '"x/./y"'):
        c.cmd("CREATE %s" % bad, NO_OR_BAD)
    c.check(not os.path.exists(sb().path("home", u, "escape")),
            "CREATE ../escape made a file outside the mail directory")
    names = list_names(c, "", "*")
    for n in ("INBOX", "proj", "a", "a/b", "a/b/c", "dir", "with space"):
        c.check(n in names, "LIST * lacks %r: %r" % (n, sorted(names)))
    c.check("\\noselect" in names.get("a", (set(),))[0], "a is not "
            "\\Noselect: %r" % (names.get("a"),))
    c.cmd("CREATE", "BAD")
    c.logout()


@case("DELETE: a mailbox goes; missing NO; INBOX NO; \\Noselect with "
      "inferiors NO; an empty \\Noselect level goes")
def _():
    u, pw = new_user()
    c = session(u)
    c.ok("CREATE gone")
    c.ok("DELETE gone")
    c.check(not os.path.exists(folder_file(u, "gone")), "file still there")
    c.cmd("DELETE gone", "NO")
    c.cmd("DELETE INBOX", "NO")
    c.cmd("DELETE inbox", "NO")
    c.ok("CREATE a/b/c")
    c.cmd("DELETE a", "NO")
    c.ok("DELETE a/b/c")
    c.ok("DELETE a/b")
    names = list_names(c, "", "*")
    c.check("a/b" not in names and "a/b/c" not in names,
            "deleted names listed: %r" % sorted(names))
    c.cmd("DELETE", "BAD")
    # a mailbox with messages, and the selected one
    install_folder(u, "full", msgs(3))
    c.select("full")
    c.ok("DELETE full")
    c.check(not os.path.exists(folder_file(u, "full")), "full still there")
    c.logout()


@case("RENAME: messages move with the name; target exists NO; missing "
      "NO; inferiors move; parents of the new name made; to INBOX NO")
def _():
    u, pw = new_user()
    install_folder(u, "old", msgs(3, "r"))
    c = session(u)
    st = c.status("old")
    c.ok("RENAME old new")
    c.check(not os.path.exists(folder_file(u, "old")), "old still there")
    st2 = c.status("new")
    c.check(st2.get("MESSAGES") == 3, "STATUS new %r" % st2)
    c.cmd("STATUS old (MESSAGES)", "NO")
    c.ok("CREATE other")
    c.cmd("RENAME new other", "NO")
    c.cmd("RENAME nosuch x", "NO")
    c.cmd("RENAME new INBOX", "NO")
    c.ok("CREATE x/y/z")
    c.ok("RENAME x w")
    names = list_names(c, "", "*")
    c.check("w/y/z" in names and "x/y/z" not in names and "x" not in names,
            "after RENAME x w: %r" % sorted(names))
    c.ok("RENAME new p/q/r")
    c.check(os.path.isfile(folder_file(u, "p/q/r")), "p/q/r not made")
    c.cmd("RENAME onlyone", "BAD")
    c.logout()


@case("RENAME INBOX: its messages move to the new mailbox, INBOX stays "
      "and is empty, new mail goes to the empty INBOX")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build(msgs(3, "ib")))
    c = session(u)
    c.ok("RENAME INBOX saved")
    st = c.status("saved")
    c.check(st.get("MESSAGES") == 3, "STATUS saved %r" % st)
    st = c.status("INBOX")
    c.check(st.get("MESSAGES") == 0, "STATUS INBOX %r" % st)
    i = c.select("INBOX")
    c.check(i.get("exists") == 0, "INBOX after RENAME: %r" % i["lines"])
    c.check(b"ib-1" not in spool(u), "spool still holds the messages")
    c.select("saved")
    r = c.fetch("1:*", "BODY.PEEK[TEXT]")
    bodies = [bytes(r[n].get("BODY[TEXT]", b"")) for n in sorted(r) if n]
    c.check(bodies == [b"body ib-%d\r\n" % i for i in (1, 2, 3)],
            "saved holds %r" % bodies)
    c.logout()
    smtp_send(sb().port("smtp"), "a@client.example", ["%s@localhost" % u],
              "Subject: after\n\nbody after-rename\n")
    c = session(u)
    i = c.select("INBOX")
    c.check(i.get("exists") == 1, "INBOX after delivery %r" % i["lines"])
    c.logout()


# ------------------------------------------------------------ SUBSCRIBE/LIST

@case("SUBSCRIBE/UNSUBSCRIBE/LSUB: kept across sessions; % shows a "
      "parent that is not subscribed as \\Noselect")
def _():
    u, pw = new_user()
    c = session(u)
    c.ok("CREATE proj")
    c.ok("CREATE a/b/c")
    c.ok("SUBSCRIBE proj")
    c.ok("SUBSCRIBE a/b/c")
    c.ok("SUBSCRIBE INBOX")
    ls = list_names(c, "", "*", "LSUB")
    c.check(set(ls) == {"proj", "a/b/c", "INBOX"}, "LSUB * %r" % ls)
    c.check(all(v[1] == "/" for v in ls.values()), "delimiters %r" % ls)
    ls = list_names(c, "", "%", "LSUB")
    c.check("proj" in ls and "a" in ls and "a/b/c" not in ls,
            "LSUB %% %r" % ls)
    if "a" in ls:
        c.check("\\noselect" in ls["a"][0], "LSUB a not \\Noselect: %r" %
                (ls["a"],))
    c.logout()
    c = session(u)
    ls = list_names(c, "", "*", "LSUB")
    c.check(set(ls) == {"proj", "a/b/c", "INBOX"}, "LSUB in a new session "
            "%r" % ls)
    c.ok("UNSUBSCRIBE proj")
    ls = list_names(c, "", "*", "LSUB")
    c.check(set(ls) == {"a/b/c", "INBOX"}, "after UNSUBSCRIBE %r" % ls)
    # a subscription outlives its mailbox (RFC 3501 6.3.6)
    c.ok("DELETE a/b/c")
    ls = list_names(c, "", "*", "LSUB")
    c.check("a/b/c" in ls, "subscription dropped with the mailbox: %r" % ls)
    c.cmd("SUBSCRIBE", "BAD")
    c.cmd("LSUB \"\"", "BAD")
    c.logout()


@case("LIST: \"\" \"\" gives the delimiter; %, *, reference, INBOX in any "
      "case; CHILDREN attributes; no match is OK with nothing")
def _():
    u, pw = new_user()
    c = session(u)
    for n in ("top", "a/b/c", "a/b2", "Sent Items"):
        c.ok("CREATE %s" % quote(n))
    unt, _ = c.cmd('LIST "" ""')
    c.check([canon(parse(x[7:])) for x in unt] ==
            [canon(parse(b'(\\Noselect) "/" ""'))],
            "LIST \"\" \"\" gave %r" % unt)
    top = list_names(c, "", "%")
    c.check(set(top) == {"INBOX", "top", "a", "Sent Items"},
            "LIST %% %r" % sorted(top))
    allx = list_names(c, "", "*")
    c.check(set(allx) == {"INBOX", "top", "a", "a/b", "a/b/c", "a/b2",
                          "Sent Items"}, "LIST * %r" % sorted(allx))
    sub = list_names(c, "", "a/%")
    c.check(set(sub) == {"a/b", "a/b2"}, "LIST a/%% %r" % sorted(sub))
    sub = list_names(c, "a/", "%")
    c.check(set(sub) == {"a/b", "a/b2"}, "LIST a/ %% %r" % sorted(sub))
    sub = list_names(c, "", "a/*")
    c.check(set(sub) == {"a/b", "a/b/c", "a/b2"}, "LIST a/* %r" % sorted(sub))
    sub = list_names(c, "", "*c")
    c.check(set(sub) == {"a/b/c"}, "LIST *c %r" % sorted(sub))
    for pat in ("inbox", "InBoX", "INBOX"):
        x = list_names(c, "", pat)
        c.check(set(x) == {"INBOX"}, "LIST %s -> %r" % (pat, x))
    c.check(list_names(c, "", "nomatch*") == {}, "LIST nomatch*")
    if allx:
        c.check("\\haschildren" in allx.get("a", (set(),))[0] and
                "\\haschildren" in allx.get("a/b", (set(),))[0],
                "a, a/b lack \\HasChildren: %r" % allx)
        # \Noinferiors makes \HasNoChildren redundant (RFC 3348 3)
        c.check(all(allx.get(n, (set(),))[0] & {"\\hasnochildren",
                                                "\\noinferiors"}
                    for n in ("top", "a/b/c")) and
                not [n for n, v in allx.items()
                     if {"\\haschildren", "\\noinferiors"} <= v[0] or
                     {"\\haschildren", "\\hasnochildren"} <= v[0]],
                "top, a/b/c lack \\HasNoChildren/\\Noinferiors, or a "
                "contradiction: %r" % allx)
        c.check(all(v[1] == "/" for v in allx.values()), "delimiters %r" %
                allx)
    c.cmd("LIST", "BAD")
    c.cmd('LIST ""', "BAD")
    c.logout()


@case("modified UTF-7 names (RFC 3501 5.1.3): created, listed and "
      "stored as sent; invalid ones refused")
def _():
    u, pw = new_user()
    c = session(u)
    jp = mutf7_encode("日本語")
    amp = mutf7_encode("R&D")
    c.check(jp == "&ZeVnLIqe-" and amp == "R&-D", "helper broken")
    c.ok("CREATE %s" % jp)
    c.ok("CREATE %s" % quote(amp))
    c.ok("CREATE %s" % quote(mutf7_encode("Entwürfe/März")))
    names = list_names(c, "", "*")
    for n in (jp, amp, mutf7_encode("Entwürfe"), mutf7_encode("Entwürfe/März")):
        c.check(n in names, "LIST lacks %r: %r" % (n, sorted(names)))
    c.check(os.path.isfile(folder_file(u, jp)), "file %s not made" % jp)
    c.ok("SELECT %s" % jp)
    for bad in ('"&Jjo"', '"&Jjo!-"', '"&AGEAYgBj-"', '"a&b"', '"&-&"',
                '"&ZeVnLIqe"'):
        c.cmd("CREATE %s" % bad, NO_OR_BAD)
    c.send_raw(b"%s CREATE \"caf\xc3\xa9\"\r\n" % c.tag().encode())
    c.expect(r"\S+ (NO|BAD)( .*)?")
    c.check(sorted(list_names(c, "", "*")) == sorted(names),
            "refused names appeared: %r" % sorted(list_names(c, "", "*")))
    c.logout()


# ------------------------------------------------------------ STATUS etc

@case("STATUS: MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN of a folder "
      "and of INBOX; missing mailbox NO; bad items BAD")
def _():
    u, pw = new_user()
    t = msgs(4, "st")
    t[1] = b"Status: RO\n" + t[1]
    install_folder(u, "box", t)
    mbox_install(sb(), u, mbox_build(msgs(2)))
    c = session(u)
    st = c.status("box")
    c.check(st.get("MESSAGES") == 4 and st.get("UNSEEN") == 3,
            "STATUS box %r" % st)
    c.check(st.get("RECENT") in (3, 4) and st.get("UIDNEXT", 0) >= 5 and
            st.get("UIDVALIDITY", 0) > 0, "STATUS box %r" % st)
    c.check(str(st.get("_name"), "latin-1") if isinstance(
        st.get("_name"), bytes) else st.get("_name") == "box",
        "STATUS name %r" % st.get("_name"))
    st = c.status("INBOX", "(MESSAGES)")
    c.check(st.get("MESSAGES") == 2 and len(st) == 2, "STATUS INBOX %r" % st)
    i = c.select("box")
    st = c.status("box")
    c.check(st.get("UIDVALIDITY") == i.get("uidvalidity") and
            st.get("UIDNEXT") == i.get("uidnext") and
            st.get("MESSAGES") == i.get("exists"),
            "STATUS of the selected box %r vs SELECT %r" % (st, i["lines"]))
    c.cmd("STATUS nosuch (MESSAGES)", "NO")
    c.cmd("STATUS box (BOGUS)", "BAD")
    c.cmd("STATUS box MESSAGES", "BAD")
    c.cmd("STATUS box ()", NO_OR_BAD + r"|OK( .*)?")
    c.cmd("STATUS box", "BAD")
    c.logout()


@case("NAMESPACE: ((\"\" \"/\")) NIL NIL; ID: parameters or NIL, in any "
      "state; ENABLE: only after login, * ENABLED for unknown names")
def _():
    c = connect()
    unt, _ = c.cmd("ID NIL")
    ids = [u for u in unt if u.startswith(b"* ID ")]
    c.check(len(ids) == 1, "ID NIL: %r" % unt)
    if ids:
        v = parse(ids[0][5:])
        c.check(len(v) == 1 and (v[0] is None or (isinstance(v[0], list) and
                                                  len(v[0]) % 2 == 0)),
                "ID response %r" % ids[0])
    c.cmd('ID ("name" "proto_imap" "version" "1.0")')
    c.cmd("ID", "BAD")
    c.cmd("ID foo", "BAD")
    c.cmd('ID ("name")', "BAD")
    c.cmd("NAMESPACE", NO_OR_BAD)
    c.cmd("ENABLE X-FOO", NO_OR_BAD)
    c.login("demo", "demopw")
    unt, _ = c.cmd("NAMESPACE")
    ns = [u for u in unt if u.startswith(b"* NAMESPACE ")]
    c.check(len(ns) == 1 and canon(parse(ns[0][12:])) ==
            canon(parse(b'(("" "/")) NIL NIL')), "NAMESPACE %r" % unt)
    c.cmd("NAMESPACE x", "BAD")
    unt, _ = c.cmd("ENABLE X-FOO")
    c.check([u for u in unt if re.fullmatch(br"\* ENABLED ?", u)],
            "ENABLE X-FOO: %r" % unt)
    c.cmd("ENABLE", "BAD")
    c.logout()


@case("UNSELECT leaves \\Deleted messages; CLOSE expunges them silently; "
      "CLOSE after EXAMINE does not; CHECK")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build(msgs(3, "cl")))
    c = session(u)
    c.select("INBOX")
    c.ok("CHECK")
    c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    unt, _ = c.cmd("UNSELECT")
    c.check(not c.untagged(unt, "EXPUNGE"), "UNSELECT expunged: %r" % unt)
    c.cmd("FETCH 1 FLAGS", NO_OR_BAD)
    c.cmd("UNSELECT", NO_OR_BAD)
    c.cmd("CHECK", NO_OR_BAD)
    c.cmd("CLOSE", NO_OR_BAD)
    i = c.select("INBOX", examine=True)
    c.check(i.get("exists") == 3, "after UNSELECT: %r" % i["lines"])
    c.ok("CLOSE")
    i = c.select("INBOX")
    c.check(i.get("exists") == 3, "CLOSE after EXAMINE expunged: %r" %
            i["lines"])
    unt, _ = c.cmd("CLOSE")
    c.check(not unt, "CLOSE said %r" % unt)
    c.check(b"cl-2" not in spool(u), "expunged message still in the spool")
    c.check(b"cl-1" in spool(u) and b"cl-3" in spool(u), "others lost")
    i = c.select("INBOX")
    c.check(i.get("exists") == 2, "after CLOSE: %r" % i["lines"])
    c.cmd("UNSELECT x", "BAD")
    c.cmd("CLOSE x", "BAD")
    c.logout()


# ------------------------------------------------------------ states

@case("commands in the wrong state: BAD/NO before login, selected-state "
      "commands BAD/NO when nothing is selected")
def _():
    c = connect()
    for cmd in ("SELECT INBOX", "EXAMINE INBOX", "CREATE x", "DELETE x",
                "RENAME x y", "SUBSCRIBE x", "UNSUBSCRIBE x", 'LIST "" *',
                'LSUB "" *', "STATUS INBOX (MESSAGES)", "APPEND x {1+}\r\nx",
                "CHECK", "CLOSE", "EXPUNGE", "SEARCH ALL", "FETCH 1 FLAGS",
                "STORE 1 +FLAGS (\\Seen)", "COPY 1 x", "MOVE 1 x",
                "UID FETCH 1 FLAGS", "UID SEARCH ALL", "UID EXPUNGE 1",
                "UNSELECT", "NAMESPACE", "ENABLE X"):
        c.cmd(cmd, NO_OR_BAD)
    c.login("demo", "demopw")
    for cmd in ("CHECK", "CLOSE", "EXPUNGE", "SEARCH ALL", "FETCH 1 FLAGS",
                "STORE 1 +FLAGS (\\Seen)", "COPY 1 INBOX", "MOVE 1 INBOX",
                "UID FETCH 1 FLAGS", "UID STORE 1 FLAGS ()", "UID COPY 1 x",
                "UID MOVE 1 x", "UID SEARCH ALL", "UID EXPUNGE 1", "UNSELECT",
                "LOGIN demo demopw", "AUTHENTICATE PLAIN %s" %
                b64("\0demo\0demopw")):
        c.cmd(cmd, NO_OR_BAD)
    c.cmd("UID", "BAD")
    c.cmd("UID NOOP", "BAD")
    c.select("INBOX")
    c.cmd("UID BOGUS 1", "BAD")
    c.cmd("NOOP")
    c.logout()


# ------------------------------------------------------------ malformed

@case("malformed input: BAD, never a crash or a hang (parentheses, "
      "literal sizes, 8-bit, NUL, overlong line, bad sequence sets)")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build(msgs(3)))
    c = session(u)
    c.select("INBOX")
    bad = ["FETCH 1 (FLAGS", "FETCH 1 FLAGS)", "FETCH 1 ((FLAGS)",
           "FETCH 1 (FLAGS UID", "SEARCH (" * 200 + "ALL" + ")" * 200,
           "SEARCH ALL)", "STORE 1 +FLAGS (\\Seen", "FETCH 1 BODY[",
           "FETCH 1 BODY[1.]", "FETCH 1 BODY[0]", "FETCH 1 BODY[]<1.>",
           "FETCH 1 BODY[]<x>", "FETCH 1 BODY[HEADER.FIELDS]",
           "FETCH 1 BODY[HEADER.FIELDS ()]", "FETCH 1 BOGUS", "FETCH 1",
           "FETCH 0 FLAGS", "FETCH 1: FLAGS", "FETCH :1 FLAGS",
           "FETCH 1,,2 FLAGS", "FETCH 1:2:3 FLAGS", "FETCH -1 FLAGS",
           "FETCH 4294967296 FLAGS", "FETCH 99999999999999999999 FLAGS",
           "FETCH a FLAGS", "FETCH 1 FLAGS extra", "UID FETCH 0 FLAGS",
           "STORE 1 FLAGS", "STORE 1 +FLAGS", "STORE 1 BOGUS (\\Seen)",
           "SEARCH", "SEARCH BOGUS", "SEARCH SINCE 32-Jan-2020",
           "SEARCH SINCE yesterday", "SEARCH LARGER x", "SEARCH OR ALL",
           "SEARCH NOT", "SEARCH HEADER Subject", "COPY 1",
           "LOGIN \"unterminated", 'SELECT "a\\q"',
           'LIST "" "x', "STATUS INBOX (MESSAGES"]
    for b in bad:
        _, tl = c.cmd(b, None, timeout=15)
        c.check(re.fullmatch(r"\S+ BAD( .*)?", tl), "%s: %r, want BAD" %
                (b, tl))
    # literal sizes the server must refuse without waiting for octets
    for hdr in ("{99999999999}", "{12a}", "{-1}", "{}", "{ 3}",
                "{4294967296}"):
        t = c.start("SEARCH TEXT " + hdr)
        ln = c.line(10).decode("latin-1")
        if not c.check(re.fullmatch(r"(%s|\*) BAD( .*)?" % re.escape(t), ln),
                       "%s: %r, want BAD at once" % (hdr, ln)):
            break
    c.cmd("NOOP")
    # a literal bigger than a command may hold: BAD, no "+" first
    t = c.start("SEARCH TEXT {10000000}")
    c.expect(r"%s (BAD|NO)( .*)?" % re.escape(t))
    # 8-bit garbage, NUL, CR inside a line
    for raw in (b"\xff\xfe\xfd NOOP", b"g1 NOOP\xff", b"g2 \x80\x81\x82",
                b"g3 NOOP\0", b"g4 SEARCH SUBJECT a\0b", b"g5 NO\rOP",
                b"g6 FETCH 1 (FLAGS\x00)"):
        c.send_raw(raw + b"\r\n")
        c.expect(r"(\*|g[0-9]) BAD( .*)?")
    # an overlong line: BAD, and the next command works
    c.send_raw(b"o1 NOOP " + b"x" * 200000 + b"\r\n")
    c.expect(r"(\*|o1) BAD( .*)?", 15)
    c.cmd("NOOP")
    c.check(sb().alive(), "yubind died")
    c.logout()
    # "*" in an empty mailbox
    u, pw = new_user()
    c = session(u)
    c.select("INBOX")
    c.cmd("FETCH * FLAGS", "BAD")
    c.cmd("FETCH 1:* FLAGS", "BAD")
    c.cmd("STORE * +FLAGS (\\Seen)", "BAD")
    c.cmd("UID FETCH 1:* FLAGS")
    c.cmd("UID FETCH * FLAGS")
    unt, _ = c.cmd("SEARCH ALL")
    c.check(search_result(unt, c) == [], "SEARCH ALL in an empty box")
    c.logout()
    # a non-synchronizing literal of unreadable size: the stream cannot be
    # followed; BAD or BYE, and no crash
    c = session(u)
    c.send_raw(b"z1 SEARCH TEXT {99999999999999999999+}\r\nabc\r\n")
    ln = c.line(10).decode("latin-1")
    c.check(re.fullmatch(r"(z1|\*) (BAD|BYE)( .*)?", ln), "huge {n+}: %r" %
            ln)
    c.close()
    # a big non-synchronizing literal is read and thrown away: BAD, and
    # the session goes on
    c = session(u)
    t = c.tag()
    c.send_raw(b"%s SEARCH TEXT {300000+}\r\n" % t.encode() + b"y" * 300000 +
               b"\r\n")
    c.result(t, NO_OR_BAD, timeout=15)
    c.cmd("NOOP")
    c.logout()
    check(sb().alive(), "yubind died")


# ------------------------------------------------------------ persistence

def uid_list(c):
    r = c.fetch("1:*", "UID")
    return [int(r[n]["UID"]) for n in sorted(k for k in r if k)]


@case("UIDs, UIDVALIDITY and UIDNEXT persist across LOGOUT/login and a "
      "yubind restart; new mail gets UIDNEXT")
def _():
    s = Sandbox(users=USERS)
    mbox_install(s, "demo", mbox_build(msgs(3, "p")))
    c = session("demo", s)
    i1 = c.select("INBOX")
    u1 = uid_list(c)
    c.check(len(u1) == 3 and u1 == sorted(set(u1)), "UIDs %r" % u1)
    c.check(u1 and i1.get("uidnext", 0) > u1[-1], "UIDNEXT %r, UIDs %r" %
            (i1.get("uidnext"), u1))
    c.ok("STORE 2 +FLAGS (\\Deleted)")
    c.ok("EXPUNGE")
    c.logout()
    c = session("demo", s)
    i2 = c.select("INBOX")
    u2 = uid_list(c)
    c.check(u2 == [u1[0], u1[2]] if len(u1) == 3 else False,
            "UIDs after LOGOUT/login %r, were %r" % (u2, u1))
    c.check(i2.get("uidvalidity") == i1.get("uidvalidity") and
            i2.get("uidnext") == i1.get("uidnext"),
            "UIDVALIDITY/UIDNEXT changed: %r -> %r" % (i1, i2))
    c.logout()
    s.stop()
    s.start()
    c = session("demo", s)
    i3 = c.select("INBOX")
    u3 = uid_list(c)
    c.check(u3 == u2 and i3.get("uidvalidity") == i1.get("uidvalidity") and
            i3.get("uidnext") == i1.get("uidnext"),
            "after a restart: UIDs %r UIDVALIDITY %r UIDNEXT %r, were %r %r "
            "%r" % (u3, i3.get("uidvalidity"), i3.get("uidnext"), u2,
                    i1.get("uidvalidity"), i1.get("uidnext")))
    c.logout()
    smtp_send(s.port("smtp"), "a@client.example", ["demo@localhost"],
              "Subject: new\n\nbody p-new\n")
    c = session("demo", s)
    i4 = c.select("INBOX")
    u4 = uid_list(c)
    c.check(u4[:-1] == u2 and u4[-1] == i1.get("uidnext") and
            i4.get("uidnext") == u4[-1] + 1 if u4 else False,
            "after a delivery: UIDs %r UIDNEXT %r, want %r + [%r]" %
            (u4, i4.get("uidnext"), u2, i1.get("uidnext")))
    c.logout()
    s.stop()


@case("two sessions on one INBOX: flags, expunges and new messages of "
      "one show in the other at NOOP; sequence numbers stay consistent")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build(msgs(4, "two")))
    a = session(u, name="A")
    b = session(u, name="B")
    a.select("INBOX")
    b.select("INBOX")
    ub = uid_list(b)
    a.ok("STORE 1 +FLAGS (\\Flagged)")
    unt, _ = b.cmd("NOOP")
    f = fetch_map(unt, b)
    b.check(1 in f and "\\Flagged" in [str(x) for x in f[1].get("FLAGS",
                                                                 [])],
            "B did not see the flag at NOOP: %r" % unt)
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    unt, _ = a.cmd("EXPUNGE")
    a.check(a.untagged(unt, "EXPUNGE") == ["* 2 EXPUNGE"], "A: %r" % unt)
    b.cmd("FETCH 2 UID", r"(OK|NO)( .*)?")  # must not announce the expunge
    unt, _ = b.cmd("NOOP")
    b.check(b.untagged(unt, "EXPUNGE") == ["* 2 EXPUNGE"],
            "B at NOOP: %r" % unt)
    ub2 = uid_list(b)
    b.check(ub2 == [ub[0], ub[2], ub[3]] if len(ub) == 4 else False,
            "B's UIDs %r, were %r" % (ub2, ub))
    # a message appended by A appears in B
    a.cmd_lit(["APPEND INBOX ", b"Subject: app\r\n\r\nappended\r\n"])
    unt, _ = b.cmd("NOOP")
    b.check(b.untagged(unt, "EXISTS") == ["* 4 EXISTS"], "B: %r" % unt)
    a.logout()
    b.logout()


@case("an EXPUNGE held back during FETCH, then more new mail: the NOOP "
      "that tells the EXPUNGE also tells EXISTS (RFC 3501 7.4.1, 7.3.1)")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build(msgs(3, "held")))
    a = session(u, name="A")
    b = session(u, name="B")
    a.select("INBOX")
    b.select("INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    b.cmd_lit(["APPEND INBOX ", b"Subject: new 1\r\n\r\none\r\n"])
    # no EXPUNGE may be told during FETCH: A now counts 4
    unt, _ = a.cmd("FETCH 1 (UID)", r"(OK|NO)( .*)?")
    a.check(a.untagged(unt, "EXISTS") == ["* 4 EXISTS"], "A: %r" % unt)
    b.cmd_lit(["APPEND INBOX ", b"Subject: new 2\r\n\r\ntwo\r\n"])
    unt, _ = a.cmd("NOOP")
    # one EXPUNGE takes A to 3; the mailbox holds 4: EXISTS is due
    a.check(a.untagged(unt, "EXPUNGE") == ["* 1 EXPUNGE"] and
            a.untagged(unt, "EXISTS") == ["* 4 EXISTS"],
            "A at NOOP: %r, want * 1 EXPUNGE and * 4 EXISTS" % unt)
    r = fetch_map(a.ok("FETCH 1:* (UID)"), a)
    a.check(sorted(r) == [1, 2, 3, 4], "A's messages %r" % sorted(r))
    a.logout()
    b.logout()


@case("a client gone in the middle of a literal (APPEND, LOGIN) is "
      "closed at once and logged; its connection slot is free again")
def _():
    s = Sandbox(conf="max_connections_per_ip 2\n", users={"demo": "demopw"})
    c = Imap(s.port("imap"), "app")
    c.login("demo", "demopw")
    c.send_raw(b"a1 APPEND INBOX {1000000+}\r\n" + b"x" * 50000)
    c.c.close()
    d = Imap(s.port("imap"), "login")
    d.send_raw(b"a1 LOGIN {10}\r\n")
    d.line()                    # the "+" continuation
    d.send_raw(b"dem")
    d.c.close()
    check(wait_until(lambda: s.stderr_text().count(
        "closed the connection in a literal") >= 2, 10),
        "not logged twice: %s" % s.stderr_text()[-1500:])
    e = Imap(s.port("imap"), "third")
    e.check(e.greeting.startswith(b"* OK"), "third connection: %r" %
            e.greeting)
    e.login("demo", "demopw")
    e.select("INBOX")
    e.logout()
    check(not [f for f in os.listdir(s.path("queue"))
               if f.startswith(".yubin-imap")] if os.path.isdir(
        s.path("queue")) else True, "spool files left in the queue")
    s.stop()


@case("SMTP delivery while INBOX is selected: * n EXISTS and * n RECENT "
      "at NOOP, UID = old UIDNEXT, the text as sent (CRLF)")
def _():
    u, pw = new_user()
    mbox_install(sb(), u, mbox_build(msgs(2, "sm")))
    c = session(u)
    i = c.select("INBOX")
    text = ("From: s@client.example\nTo: %s@localhost\nSubject: live\n\n"
            "line 1\n.leading dot\nFrom here\n\nend\n" % u)
    smtp_send(sb().port("smtp"), "s@client.example", ["%s@localhost" % u],
              text)
    got = c.noop_until("EXISTS", interval=0.3)
    c.check(c.untagged(got, "EXISTS")[-1:] == ["* 3 EXISTS"] and
            c.untagged(got, "RECENT")[-1:] == ["* %d RECENT" %
                                               (i.get("recent", 0) + 1)],
            "after delivery: %r" % got)
    r = c.fetch("3", "(UID RFC822.SIZE BODY.PEEK[] FLAGS)")
    m = r.get(3, {})
    c.check(int(m.get("UID", 0)) == i.get("uidnext"), "UID %r, UIDNEXT was "
            "%r" % (m.get("UID"), i.get("uidnext")))
    body = bytes(m.get("BODY[]", b""))
    # DESIGN.md: a body line "From " is stored as ">From " and shown as
    # stored
    c.check(body.endswith(crlf(text)) or body.endswith(
        crlf(text.replace("\nFrom here", "\n>From here"))),
        "BODY[] %r does not end with what was sent %r" % (body[-300:],
                                                          crlf(text)))
    c.check(int(m.get("RFC822.SIZE", -1)) == len(body), "RFC822.SIZE %r, "
            "BODY[] %d octets" % (m.get("RFC822.SIZE"), len(body)))
    c.check("\\Recent" in [str(x) for x in m.get("FLAGS", [])], "FLAGS %r" %
            m.get("FLAGS"))
    c.logout()


def take_dotlock(path):
    lock = path + ".lock"
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"0")
    os.close(fd)
    return lock


@case("a mailbox changed by another program under the dotlock (mailx "
      "deletes a message, mail.local appends one): EXPUNGE and EXISTS at "
      "NOOP, the other UIDs unchanged, UIDVALIDITY kept")
def _():
    u, pw = new_user()
    p = mbox_install(sb(), u, mbox_build(msgs(4, "ext")))
    c = session(u)
    i = c.select("INBOX")
    u1 = uid_list(c)
    c.ok("CHECK")
    c.ok("UNSELECT")    # let yubind write what it keeps in the file
    i = c.select("INBOX")
    u1 = uid_list(c)
    time.sleep(1.1)     # a new mtime
    lock = take_dotlock(p)
    try:
        parts = mbox_split(read_bytes(p))
        c.check(len(parts) == 4, "spool has %d messages" % len(parts))
        keep = [parts[k] for k in (0, 2, 3)]
        data = b"".join(f + b"\n" + t for f, t in keep)
        with open(p, "r+b") as f:       # as mailx does: rewrite in place
            f.write(data)
            f.truncate()
    finally:
        os.unlink(lock)
    got = c.noop_until("EXPUNGE")
    c.check(c.untagged(got, "EXPUNGE") == ["* 2 EXPUNGE"],
            "after the rewrite: %r" % got)
    u2 = uid_list(c)
    c.check(u2 == [u1[0], u1[2], u1[3]] if len(u1) == 4 else False,
            "UIDs %r, were %r" % (u2, u1))
    r = c.fetch("1:*", "BODY.PEEK[TEXT]")
    c.check([bytes(r[n]["BODY[TEXT]"]) for n in sorted(k for k in r if k)] ==
            [b"body ext-%d\r\n" % k for k in (1, 3, 4)], "texts %r" % r)
    # an append by another program
    time.sleep(1.1)
    lock = take_dotlock(p)
    try:
        with open(p, "ab") as f:
            f.write(mbox_build([b"Subject: ext-new\n\nbody ext-new\n"]))
    finally:
        os.unlink(lock)
    got = c.noop_until("EXISTS")
    c.check(c.untagged(got, "EXISTS")[-1:] == ["* 4 EXISTS"],
            "after an append: %r" % got)
    u3 = uid_list(c)
    c.check(u3[:3] == u2 and len(u3) == 4 and u3[3] >= i.get("uidnext", 0),
            "UIDs %r, were %r, UIDNEXT %r" % (u3, u2, i.get("uidnext")))
    st = c.status("INBOX", "(UIDVALIDITY)")
    c.check(st.get("UIDVALIDITY") == i.get("uidvalidity"),
            "UIDVALIDITY %r -> %r" % (i.get("uidvalidity"),
                                      st.get("UIDVALIDITY")))
    c.logout()


main(timeout=600)

#!/usr/bin/env python3
"""proto_mbox_real.py - spool files as other programs and other systems
leave them, read and rewritten through POP3 and IMAP: CRLF line ends
throughout, a header over HDR_MAX (256 KB) or a message with no blank
line at all, an unquoted "From here on" body line (mail.local), "X-UID :"
with white space before the colon, a header-only message; and IMAP
details found with them: an empty literal for a missing part followed by
a real one in the same FETCH, SEARCH TEXT in the MIME headers of body
parts, HEADER.FIELDS.NOT of a message without a blank line, and a
UIDVALIDITY that must grow when UIDs are renumbered within the second
(RFC 3501 2.3.1.1).  Every case installs its spool file directly."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import *  # noqa: E402,F401,F403

USERS = numbered_users(20)
SHARED = ImapSetup(USERS)
sb, new_user, spool = SHARED.sb, SHARED.new_user, SHARED.spool

#: text of the metadata headers yubind writes, never shown to a client
META_TEXT = (b"X-UID", b"X-IMAPbase", b"Status:", b"X-Status", b"X-Keywords")


def fl(i, nl=b"\n"):
    """A From_ line with a date (RFC 4155)."""
    return b"From u%d@example.org Mon Nov  2 10:00:%02d 2026" % (i, i) + nl


def pop3_session(s, user):
    c, r = pop3_login(s.port("pop3"), user, USERS[user])
    return c, int(re.match(POP3_LOGIN_RE % re.escape(user), r).group(1))


def pop3_all(s, user):
    """One POP3 session: (LIST map, UIDL map, {n: (RETR octets, bytes)})."""
    c, n = pop3_session(s, user)
    sizes = pop3_list_map(c)
    uidls = pop3_uidl_map(c)
    msgs = dict((i, pop3_retr(c, i)) for i in range(1, n + 1))
    pop3_quit(c)
    return sizes, uidls, msgs


def imap_all(s, user, items="(UID RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT])",
             name="c"):
    """One IMAP session: (SELECT info, [{ITEM: value}] of FETCH 1:*)."""
    c = SHARED.session(user, s, name)
    info = c.select()
    r = c.fetch_all(items, exists=info.get("exists"))
    c.logout()
    return info, r


def strip_meta(text):
    """A stored message (bytes after the From_ line) without our
    metadata header lines and without trailing blank lines."""
    return meta_stripped(text).rstrip(b"\n")


# ------------------------------------------------------------ CRLF spool

def crlf_msg(i):
    return (fl(i, b"\r\n") + b"From: a%d@example.org\r\nSubject: crlf %d\r\n"
            b"\r\nbody line 1 of %d\r\nbody line 2\r\n" % (i, i, i))


def pop3_retr_any(c, n):
    """RETR n: (octets announced, the message unstuffed).  Unlike
    pop3_retr() it takes the lines as they come: the CR of a CRLF
    stored line is text (mboxparse.c), so they may end in CR CR LF."""
    c.send("RETR %d" % n)
    octets = int(c.expect(r"\+OK ([0-9]+) octets( .*)?").group(1))
    data = pop3_read_multi(c)
    lines = data.split(b"\r\n")[:-1]
    return octets, b"".join((ln[1:] if ln.startswith(b".") else ln) +
                            b"\r\n" for ln in lines)


@case("CRLF spool: a flag rewrite and a DELE rewrite keep every message's "
      "octets, RFC822.SIZE = len(BODY[]), UIDs/UIDLs survive sessions and "
      "a restart, no metadata lands in a body")
def _():
    s = Sandbox(users=USERS)
    u = "u1"
    msgs = [crlf_msg(i) for i in range(1, 5)]
    mbox_install(s, u, b"\r\n".join(msgs))
    f = s.path("mail", u)

    def look(tag, nums):
        """The IMAP and POP3 views of the messages nums (by subject):
        {number: (uid, BODY[])}, {number: (UIDL, RETR text)}, UIDVALIDITY."""
        c = SHARED.session(u, s, "c")
        info = c.select()
        r = c.fetch_all("(UID FLAGS RFC822.SIZE BODY.PEEK[] "
                        "BODY.PEEK[TEXT])", exists=info.get("exists"))
        c.logout()
        imap = {}
        for m in r:
            body = bytes(m.get("BODY[]", b""))
            k = re.search(br"Subject: crlf ([0-9]+)", body)
            k = int(k.group(1)) if k else None
            imap[k] = (int(m.get("UID", 0)), body)
            check(int(m.get("RFC822.SIZE", -1)) == len(body),
                  "%s: message %s RFC822.SIZE %s, BODY[] has %d octets" %
                  (tag, k, m.get("RFC822.SIZE"), len(body)))
            text = bytes(m.get("BODY[TEXT]", b""))
            check(not any(w.lower() in text.lower() for w in META_TEXT) and
                  body.endswith(text),
                  "%s: BODY[TEXT] of message %s is %r (BODY[] %r)" %
                  (tag, k, text, body))
        c, n = pop3_session(s, u)
        sizes = pop3_list_map(c)
        uidls = pop3_uidl_map(c)
        pop3 = {}
        for i in range(1, n + 1):
            octets, data = pop3_retr_any(c, i)
            k = re.search(br"Subject: crlf ([0-9]+)", data)
            k = int(k.group(1)) if k else None
            pop3[k] = (uidls.get(i), data)
            check(octets == sizes.get(i) == len(data), "%s: RETR %d: "
                  "LIST %s, announced %s, sent %d octets" %
                  (tag, i, sizes.get(i), octets, len(data)))
        pop3_quit(c)
        check(sorted(imap) == sorted(pop3) == nums,
              "%s: messages %r by IMAP, %r by POP3, want %r" %
              (tag, sorted(imap, key=str), sorted(pop3, key=str), nums))
        return imap, pop3, info.get("uidvalidity")

    first = look("first look", [1, 2, 3, 4])
    for k, (uid, body) in first[0].items():
        want = msgs[k - 1].split(b"\r\n", 1)[1]
        check(body.replace(b"\r", b"") == want.replace(b"\r", b""),
              "first look: BODY[] of message %s is %r, stored %r" %
              (k, body, want))

    def same(tag, got, nums):
        want = (dict((k, v) for k, v in first[0].items() if k in nums),
                dict((k, v) for k, v in first[1].items() if k in nums),
                first[2])
        for what, g, w in zip(("IMAP (UID, BODY[])", "POP3 (UIDL, RETR)",
                               "UIDVALIDITY"), got, want):
            check(g == w, "%s: %s is %r, was %r" % (tag, what, g, w))

    # a flag change: the whole file is rewritten at CHECK
    c = SHARED.session(u, s, "f")
    c.select()
    c.ok("STORE 1 +FLAGS (\\Flagged)")
    c.ok("CHECK")
    c.logout()
    check(b"X-UID: " in read_bytes(f), "no X-UID written by the rewrite")
    same("after STORE+CHECK", look("after STORE+CHECK", [1, 2, 3, 4]),
         [1, 2, 3, 4])

    # POP3 DELE 2: another rewrite, which moves messages 3 and 4
    c, n = pop3_session(s, u)
    check(n == 4, "POP3 sees %d messages, want 4" % n)
    pop3_cmd(c, "DELE 2")
    pop3_quit(c, r"\+OK .*\(1 deleted\)")
    same("after DELE 2", look("after DELE 2", [1, 3, 4]), [1, 3, 4])

    # the same from a new daemon, which knows only the file
    s.stop()
    s.start()
    same("after a restart", look("after a restart", [1, 3, 4]), [1, 3, 4])
    data = read_bytes(f)
    check(data.count(b"Subject: crlf ") == 3 and b"crlf 2" not in data,
          "the file after DELE 2: %r" % data)
    s.stop()


# ------------------------------------------------------------ big headers

def plain(i, hdr=b"", body=None):
    return (fl(i) + b"From: u%d@example.org\nSubject: msg %d\n%s\n%s" %
            (i, i, hdr, body if body is not None else b"body %d\n" % i))


BIG_LINE = b"X-Long: " + b"h" * (300 * 1024) + b"\n"
#: a message with no blank line: 300 KB of lines, all of it header
NO_BLANK = (fl(2) + b"From: u2@example.org\nSubject: msg 2\n" +
            b"".join(b"no blank line here, line %05d, padded out .....\n" % k
                     for k in range(6200)))


@case("a header over 256 KB (one long line, or no blank line at all) "
      "between normal messages: QUIT works, UIDLs stay, DELE 1 rewrites "
      "the file with the others intact; sizes announced are sizes sent")
def _():
    for what, mid in (("a 300 KB header line", plain(2, BIG_LINE)),
                      ("no blank line", NO_BLANK)):
        u, _ = new_user()
        texts = [plain(1), mid, plain(3)]
        mbox_install(sb(), u, b"\n".join(texts) + b"\n")
        uidls = []
        for k in range(2):
            c, n = pop3_session(sb(), u)
            check(n == 3, "%s: session %d sees %d messages, want 3" %
                  (what, k + 1, n))
            uidls.append(pop3_uidl_map(c))
            pop3_quit(c, r"\+OK .*signing off.*")
            if k == 0:
                time.sleep(1.1)     # a UIDL made of the time would differ
        check(uidls[0] == uidls[1] and len(uidls[0]) == 3,
              "%s: UIDL differs between sessions: %r" % (what, uidls))
        c, n = pop3_session(sb(), u)
        pop3_cmd(c, "DELE 1", r"\+OK .*")
        pop3_quit(c, r"\+OK .*\(1 deleted\)")
        data = spool(u)
        parts = mbox_split(data)
        check(len(parts) == 2, "%s: %d messages in the file after DELE 1, "
              "want 2" % (what, len(parts)))
        check(b"body 1" not in data, "%s: message 1 still in the file" %
              what)
        for (fline, text), orig in zip(parts, texts[1:]):
            o = orig.split(b"\n", 1)
            check(fline + b"\n" == o[0] + b"\n" and
                  strip_meta(text) == strip_meta(o[1]),
                  "%s: message changed by the rewrite: %r..., want %r..." %
                  (what, (fline + text)[:200], orig[:200]))
        c, n = pop3_session(sb(), u)
        check(n == 2, "%s: %d messages after DELE 1" % (what, n))
        after = pop3_uidl_map(c)
        pop3_quit(c)
        check(after == {1: uidls[0].get(2), 2: uidls[0].get(3)},
              "%s: UIDL after DELE 1 %r, before %r" % (what, after,
                                                        uidls[0]))
        # the big header now carries our metadata: still no size differs
        sizes, _, msgs = pop3_all(sb(), u)
        for i, (octets, text) in msgs.items():
            check(sizes.get(i) == octets == len(text),
                  "%s: message %d: LIST %s, RETR says %s, sends %d" %
                  (what, i, sizes.get(i), octets, len(text)))
        _, r = imap_all(sb(), u)
        for i, m in enumerate(r):
            check(int(m.get("RFC822.SIZE", -1)) == len(m.get("BODY[]") or
                                                       b""),
                  "%s: IMAP message %d: RFC822.SIZE %s, BODY[] %d octets" %
                  (what, i + 1, m.get("RFC822.SIZE"),
                   len(m.get("BODY[]") or b"")))


@case("the last message without a final newline: LIST and STAT count the "
      "CRLF that RETR ends it with; IMAP sends it as it is, RFC822.SIZE "
      "the same")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, plain(1) + b"\n" + fl(2) +
                 b"Subject: two\n\nlast line, no newline")
    sizes, _, msgs = pop3_all(sb(), u)
    for i, (octets, text) in msgs.items():
        check(sizes.get(i) == octets == len(text),
              "message %d: LIST %s, RETR says %s, sends %d" %
              (i, sizes.get(i), octets, len(text)))
    check(msgs[2][1].endswith(b"no newline\r\n"), "RETR 2 %r" % msgs[2][1])
    c, n = pop3_session(sb(), u)
    r = pop3_cmd(c, "STAT", r"\+OK 2 ([0-9]+)")
    pop3_quit(c)
    check(int(r.split()[2]) == sum(len(t) for _, t in msgs.values()),
          "STAT %r, RETR sent %d" % (r, sum(len(t) for _, t in
                                            msgs.values())))
    _, r = imap_all(sb(), u)
    for i, m in enumerate(r):
        check(int(m.get("RFC822.SIZE", -1)) == len(m.get("BODY[]") or b""),
              "IMAP message %d: RFC822.SIZE %s, BODY[] %d octets" %
              (i + 1, m.get("RFC822.SIZE"), len(m.get("BODY[]") or b"")))


# ------------------------------------------------------------ From here on

FROM_HERE = b"From here on, please write to me at my new address."
SOLARIS = [
    fl(1) + b"Subject: one\n\nbody one\n",
    fl(2) + b"Subject: two\n\nDear Bob,\n\n" + FROM_HERE + b"\nAlice\n",
    fl(3) + b"Subject: three\n\nbody three\n",
]


@case("a body line \"From here on\" after a blank line (no date) stays in "
      "its message: 3 messages, RETR 2 has it, DELE 2 leaves nothing of it")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, b"\n".join(SOLARIS))
    c, n = pop3_session(sb(), u)
    check(n == 3, "login says %d messages, want 3" % n)
    pop3_cmd(c, "STAT", r"\+OK 3 [0-9]+")
    octets, m2 = pop3_retr(c, 2)
    check(FROM_HERE + b"\r\n" in m2 and b"Alice\r\n" in m2 and
          b"Subject: two" in m2,
          "RETR 2 is %r, want the whole second message" % m2)
    octets, m3 = pop3_retr(c, 3)
    check(b"Subject: three" in m3, "RETR 3 is %r" % m3)
    pop3_cmd(c, "DELE 2")
    pop3_quit(c, r"\+OK .*\(1 deleted\)")
    data = spool(u)
    for t in (b"Subject: two", b"Dear Bob", b"From here on", b"Alice"):
        check(t not in data, "%r of the deleted message is still in the "
              "file: %r" % (t, data))
    check(data.count(b"Subject: ") == 2 and len(mbox_split(data)) == 2,
          "the file after DELE 2 does not hold 2 messages: %r" % data)
    c, n = pop3_session(sb(), u)
    check(n == 2, "after DELE 2: %d messages, want 2" % n)
    for i, w in ((1, SOLARIS[0]), (2, SOLARIS[2])):
        _, got = pop3_retr(c, i)
        check(got == pop3_form(w.split(b"\n", 1)[1]),
              "RETR %d after DELE 2 is %r, want %r" % (i, got, w))
    pop3_quit(c)


# ------------------------------------------------------------ "X-UID : 6"

@case("\"X-UID : 6\" / \"Status : RO\" (space before the colon): LIST and "
      "RFC822.SIZE equal the octets sent")
def _():
    u, _ = new_user()
    text = (b"Subject: a\nX-UID : 6\nStatus : RO\nX-Keywords\t: kw\n"
            b"X-Other : kept\n\nbody\n")
    mbox_install(sb(), u, mbox_build([text, b"Subject: b\n\nbody b\n"]))
    c, n = pop3_session(sb(), u)
    sizes = pop3_list_map(c)
    st = int(pop3_cmd(c, "STAT", r"\+OK 2 ([0-9]+)").split()[2])
    got = {}
    for i in (1, 2):
        octets, data = pop3_retr(c, i)
        got[i] = data
        check(sizes.get(i) == octets == len(data),
              "message %d: LIST %s, RETR announces %s, sends %d octets: %r"
              % (i, sizes.get(i), octets, len(data), data))
    check(st == len(got[1]) + len(got[2]), "STAT total %d, RETR sent %d" %
          (st, len(got[1]) + len(got[2])))
    check(b"X-Other : kept\r\n" in got[1] and b"X-UID" not in got[1] and
          b"Status" not in got[1], "RETR 1 is %r" % got[1])
    pop3_quit(c)
    info, r = imap_all(sb(), u)
    for i, m in enumerate(r, 1):
        body = bytes(m.get("BODY[]", b""))
        check(int(m.get("RFC822.SIZE", -1)) == len(body) and
              body == got[i], "IMAP message %d: RFC822.SIZE %s, BODY[] %r "
              "(POP3 sent %r)" % (i, m.get("RFC822.SIZE"), body, got[i]))


# ------------------------------------------------------------ header only

@case("a header-only message (no blank line, no body) rewritten by a DELE "
      "elsewhere: LIST = RETR octets and RFC822.SIZE = len(BODY[]) in the "
      "next sessions of the same daemon")
def _():
    u, _ = new_user()
    mbox_install(sb(), u,
                 fl(1) + b"Subject: a\nX-Note: header only\n\n" +
                 fl(2) + b"Subject: b\n\nbody b\n\n" +
                 fl(3) + b"Subject: c\n\nbody c\n")
    c, n = pop3_session(sb(), u)
    check(n == 3, "%d messages, want 3" % n)
    pop3_cmd(c, "DELE 3")
    pop3_quit(c, r"\+OK .*\(1 deleted\)")
    for k in range(2):
        sizes, uidls, got = pop3_all(sb(), u)
        check(len(got) == 2, "%d messages after DELE 3" % len(got))
        for i, (octets, data) in got.items():
            check(sizes.get(i) == octets == len(data),
                  "session %d, message %d: LIST %s, RETR announces %s, "
                  "sends %d octets: %r" % (k + 1, i, sizes.get(i), octets,
                                           len(data), data))
        check(got.get(1, (0, b""))[1].startswith(
            b"Subject: a\r\nX-Note: header only\r\n"),
            "RETR 1 is %r" % (got.get(1),))
        info, r = imap_all(sb(), u)
        for i, m in enumerate(r, 1):
            body = bytes(m.get("BODY[]", b""))
            check(int(m.get("RFC822.SIZE", -1)) == len(body),
                  "session %d, IMAP message %d: RFC822.SIZE %s, BODY[] "
                  "has %d octets" % (k + 1, i, m.get("RFC822.SIZE"),
                                     len(body)))


# ------------------------------------------------------------ FETCH literals

MIME2 = [
    b"Subject: single\n\nsingle part\n",
    b"Subject: multi\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: text/plain\n\none\n--b\nContent-Type: text/plain\n\n"
    b"two\n--b--\n",
]


@case("FETCH of a missing part before a present one (same command, next "
      "message): every literal carries its octets, no desync")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build(MIME2))
    c = Imap(sb().port("imap"), "m", timeout=4)
    c.login(u, USERS[u])
    c.select()
    for cmd, seq, want in (
            ("1:2 (BODY.PEEK[2])", 2, {"BODY[2]": b"two"}),
            ("2 (BODY.PEEK[1.TEXT] BODY.PEEK[2])", 2, {"BODY[2]": b"two"}),
            ("2 (BODY.PEEK[3] BODY.PEEK[1])", 2, {"BODY[1]": b"one"}),
            ("2 (BODY.PEEK[1]<100.10> BODY.PEEK[2])", 2,
             {"BODY[2]": b"two"}),
            ("1:2 (BODY.PEEK[2] BODY.PEEK[1])", 2,
             {"BODY[2]": b"two", "BODY[1]": b"one"})):
        r = c.fetch(cmd.split(" ", 1)[0], cmd.split(" ", 1)[1])
        got = r.get(seq, {})
        for k, v in want.items():
            c.check(bytes(got.get(k) or b"") == v,
                    "FETCH %s: %s of message %d is %r, want %r" %
                    (cmd, k, seq, got.get(k), v))
        if cmd.startswith("1:2"):
            c.check("BODY[1]" not in cmd or
                    bytes(r.get(1, {}).get("BODY[1]") or b"") ==
                    b"single part\r\n",
                    "FETCH %s: BODY[1] of message 1 is %r" %
                    (cmd, r.get(1, {}).get("BODY[1]")))
        # the next command's reply is read as its own
        unt, tl = c.cmd("NOOP")
        c.check(not unt, "NOOP after FETCH %s: %r" % (cmd, unt))
    c.logout()


# ------------------------------------------------------------ SEARCH TEXT

SEARCH_MSGS = [
    b"Subject: report\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: text/plain\n\nsee the file\n--b\n"
    b"Content-Type: application/pdf; name=\"quarterly-report.pdf\"\n"
    b"Content-Disposition: attachment; filename=\"quarterly-report.pdf\"\n"
    b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n",
    b"Subject: other\n\nnothing attached, just text about a report\n",
]


@case("SEARCH TEXT finds an attachment's file name in a part header; "
      "SEARCH BODY still finds body words")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build(SEARCH_MSGS))
    c = SHARED.session(u, name="s")
    c.select()
    for crit, want in (("TEXT quarterly-report", [1]),
                       ("TEXT \"quarterly-report.pdf\"", [1]),
                       ("TEXT attachment", [1]),
                       ("BODY \"see the file\"", [1]),
                       ("TEXT \"see the file\"", [1]),
                       ("BODY attached", [2]),
                       ("TEXT report", [1, 2]),
                       ("TEXT no-such-word-anywhere", [])):
        got = c.search(crit)
        c.check(got == want, "SEARCH %s: %r, want %r" % (crit, got, want))
    c.logout()


# ------------------------------------------------------------ HEADER.FIELDS

@case("BODY[HEADER.FIELDS.NOT (Subject)] has no blank line for a message "
      "with no body and no blank line, and ends with it otherwise")
def _():
    u, _ = new_user()
    mbox_install(sb(), u,
                 fl(1) + b"Subject: a\nX-Foo: one\n\n" +
                 fl(2) + b"Subject: b\nX-Foo: two\n\nbody b\n\n" +
                 fl(3) + b"Subject: c\nX-Foo: three\n")
    c = SHARED.session(u, name="h")
    c.select("INBOX", examine=True)
    r = c.fetch("1:3", "(BODY.PEEK[HEADER.FIELDS.NOT (Subject)] "
                "BODY.PEEK[HEADER.FIELDS (X-Foo)] BODY.PEEK[HEADER] "
                "BODY.PEEK[])")
    for i, foo, blank in ((1, b"one", False), (2, b"two", True),
                          (3, b"three", False)):
        m = r.get(i, {})
        whole = bytes(m.get("BODY[]") or b"")
        if not c.check(blank == (b"\r\n\r\n" in whole),
                       "message %d: BODY[] %r: the blank line is %s" %
                       (i, whole, "missing" if blank else "there")):
            continue
        want = b"X-Foo: %s\r\n%s" % (foo, b"\r\n" if blank else b"")
        for k in ("BODY[HEADER.FIELDS.NOT (SUBJECT)]",
                  "BODY[HEADER.FIELDS (X-FOO)]"):
            got = [v for kk, v in m.items() if kk.upper() == k]
            c.check(got and bytes(got[0] or b"") == want,
                    "message %d %s is %r, want %r" %
                    (i, k, got[0] if got else None, want))
        hdr = bytes(m.get("BODY[HEADER]") or b"")
        c.check(hdr == (whole[:whole.find(b"\r\n\r\n") + 4] if blank
                        else whole),
                "message %d BODY[HEADER] %r, BODY[] %r" % (i, hdr, whole))
    c.logout()


# ------------------------------------------------------------ UIDVALIDITY

@case("UIDs that cannot be kept, lost within the second of the "
      "UIDVALIDITY: the next SELECT shows a greater UIDVALIDITY, the "
      "selected session gets BYE")
def _():
    s = Sandbox(users=USERS)
    u = "u1"
    mbox_install(s, u, mbox_build([b"Subject: m%d\n\nbody %d\n" % (i, i)
                                   for i in range(1, 6)]))
    sp = s.path("mail", u)
    # start early in a second, so that all of it happens in that second
    time.sleep(1.0 - time.time() % 1.0 + 0.02)
    c = SHARED.session(u, s, "v")
    info = c.select()
    uv = info.get("uidvalidity")
    r = c.fetch_all("(UID)", exists=info.get("exists"))
    uids = [int(m.get("UID", 0)) for m in r]
    c.ok("STORE 1 +FLAGS (\\Seen)")
    c.ok("CHECK")        # X-IMAPbase and the X-UIDs are written
    data = read_bytes(sp)
    base = re.search(br"X-IMAPbase: ([0-9]+) ", data)
    check(base and int(base.group(1)) == uv and b"X-UID: 3\n" in data,
          "the file has %r, SELECT said UIDVALIDITY %s" %
          (base and base.group(0), uv))
    # as another program would: the base and one X-UID dropped
    new = re.sub(br"X-IMAPbase: [^\n]*\n", b"", data)
    new = new.replace(b"X-UID: 3\n", b"")
    with open(sp, "r+b") as f:
        f.write(new)
        f.truncate()
    if int(time.time()) != uv:
        note("the file was not rewritten within the second of the "
             "UIDVALIDITY (slow machine?): the case tests less")
    t = c.start("NOOP")
    ln = c.line().decode("latin-1")
    bye = ln.startswith("* BYE")
    while not ln.startswith(t + " ") and not bye:
        ln = c.line().decode("latin-1")
        bye = ln.startswith("* BYE")
    if bye:
        c.drain(5)
    else:
        c.check(re.fullmatch(re.escape(t) + r" OK( .*)?", ln),
                "NOOP: %r" % ln)
    d = SHARED.session(u, s, "w")
    info2 = d.select()
    uv2 = info2.get("uidvalidity")
    r = d.fetch_all("(UID)", exists=info2.get("exists"))
    uids2 = [int(m.get("UID", 0)) for m in r]
    d.logout()
    check(uv2 is not None and uv is not None and uv2 > uv,
          "UIDVALIDITY %s before the renumbering, %s after (UIDs %r, now "
          "%r; the old session %s)" % (uv, uv2, uids, uids2,
                                       "got BYE" if bye else "went on"))
    # a session that goes on would go on with UIDs that are not valid
    check(bye or uv2 == uv, "the selected session went on after the "
          "UIDVALIDITY changed from %s to %s" % (uv, uv2))
    if not bye:
        c.logout()
    s.stop()


if __name__ == "__main__":
    main(timeout=60)

#!/usr/bin/env python3
"""proto_imap_fetch.py - the IMAP commands on messages (RFC 3501 6.4,
RFC 4315 UIDPLUS, RFC 6851 MOVE, RFC 7888 LITERAL+): FETCH of every
item (byte-exact BODY[] in CRLF form, sizes that agree, sections,
partials, HEADER.FIELDS, macros, \\Seen set by BODY[] and not by
BODY.PEEK), STORE, SEARCH (many keys, CHARSET UTF-8, encoded words,
BADCHARSET), UID FETCH/STORE/SEARCH, COPY/UID COPY (COPYUID,
TRYCREATE), MOVE/UID MOVE, EXPUNGE/UID EXPUNGE, APPEND (flags,
date-time, literals, LITERAL+, APPENDUID, size limit, TRYCREATE).
Every failure message ends with the session transcript."""

import base64
import calendar
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import *  # noqa: E402,F401,F403

LIMIT = 100000      # message_size_limit of the sandbox
USERS = numbered_users(60, ("demo", "demopw"))
SHARED = ImapSetup(USERS, conf="message_size_limit %d\n" % LIMIT)
sb, new_user, spool = SHARED.sb, SHARED.new_user, SHARED.spool
session = SHARED.session


def mbox_dated(items):
    """An mbox of (asctime date, text) pairs, one From_ line each."""
    out = b""
    for date, t in items:
        out += mbox_build([t], b"From sender@example.org %s\n" %
                          date.encode())
    return out


def flags(v):
    return set(str(x) for x in (v or []))


# ------------------------------------------------------------ the fixed box

BIG = b"".join(b"line %05d of the big message, padded to sixty octets....\n"
               % i for i in range(1000))
FIXED = [
    # 1: plain text
    b"Date: Mon, 3 Feb 2020 10:00:00 +0000\nFrom: Alice <alice@example.org>"
    b"\nTo: bob@example.net\nSubject: plain one\nMessage-ID: <f1@example.org>"
    b"\n\nHello Bob.\nSecond line.\n",
    # 2: multipart with an attachment
    b"From: carol@example.org\nTo: bob@example.net\nSubject: parts\n"
    b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n"
    b"preamble\n--BB\nContent-Type: text/plain; charset=us-ascii\n\n"
    b"part one text\n--BB\nContent-Type: application/octet-stream\n"
    b"Content-Transfer-Encoding: base64\n\nAAECAwQ=\n--BB--\nepilogue\n",
    # 3: flags in the metadata headers (hidden from clients)
    b"From: dave@example.org\nSubject: flagged\nStatus: RO\nX-Status: AF\n"
    b"X-Keywords: work\nX-Other: kept\n\nmeta body\n",
    # 4: message/rfc822
    b"From: eve@example.org\nSubject: fwd\nContent-Type: multipart/mixed; "
    b"boundary=X\n\n--X\nContent-Type: text/plain\n\nsee attached\n--X\n"
    b"Content-Type: message/rfc822\n\nFrom: inner@example.org\n"
    b"Subject: inner\n\ninner body\n--X--\n",
    # 5: big, >From, dots, 8-bit
    b"From: frank@example.org\nSubject: big\n\n>From quoted\n.dot\n"
    b"caf\xc3\xa9\n" + BIG,
]
FIXED_DATES = ["Mon Feb  3 10:00:00 2020", "Tue Mar  3 11:00:00 2020",
               "Wed Apr  1 12:00:00 2020", "Thu May  7 13:00:00 2020",
               "Fri Jun  5 14:00:00 2020"]


def fixed_session(name="c", examine=False):
    if "fixed" not in STATE:
        u, _ = new_user()
        mbox_install(sb(), u, mbox_dated(zip(FIXED_DATES, FIXED)))
        STATE["fixed"] = u
    c = session(STATE["fixed"], name=name)
    c.select("INBOX", examine=examine)
    return c


STATE = {}


def client_form(text):
    """What BODY[] sends for a stored message (metadata hidden, CRLF)."""
    return pop3_form(text)


def split_hdr(b):
    i = b.find(b"\r\n\r\n")
    return (b[:i + 4], b[i + 4:]) if i >= 0 else (b, b"")


# ------------------------------------------------------------ FETCH

@case("FETCH BODY[] is the stored message in CRLF form, byte for byte; "
      "RFC822.SIZE, RFC822 and BODY[] agree for every message")
def _():
    c = fixed_session()
    r = c.fetch("1:*", "(RFC822.SIZE BODY.PEEK[])")
    for i, t in enumerate(FIXED, 1):
        m = r.get(i, {})
        want = client_form(t)
        got = bytes(m.get("BODY[]", b""))
        c.check(got == want, "message %d BODY[] %r, want %r" %
                (i, got[:300], want[:300]))
        c.check(int(m.get("RFC822.SIZE", -1)) == len(got),
                "message %d RFC822.SIZE %r, BODY[] %d octets" %
                (i, m.get("RFC822.SIZE"), len(got)))
        c.check(b"X-Keywords" not in got and b"Status:" not in got,
                "metadata headers shown in message %d" % i)
    r = c.fetch("1,5", "RFC822")
    for i in (1, 5):
        c.check(bytes(r.get(i, {}).get("RFC822", b"")) ==
                client_form(FIXED[i - 1]), "RFC822 of %d" % i)
    c.logout()


@case("FETCH FLAGS, UID, INTERNALDATE (From_ line date), ENVELOPE, BODY, "
      "BODYSTRUCTURE; macros ALL, FAST, FULL")
def _():
    c = fixed_session()
    r = c.fetch("1:*", "(FLAGS UID INTERNALDATE)")
    uids = [int(r[i]["UID"]) for i in range(1, 6)]
    c.check(uids == sorted(set(uids)), "UIDs %r" % uids)
    c.check({"\\Seen", "\\Answered", "\\Flagged", "work"} <=
            flags(r[3]["FLAGS"]), "message 3 FLAGS %r" % r[3]["FLAGS"])
    for i, d in enumerate(FIXED_DATES, 1):
        got = bytes(r[i]["INTERNALDATE"]).decode()
        m = re.fullmatch(r"([ 0-9][0-9])-([A-Z][a-z]{2})-([0-9]{4}) "
                         r"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([-+][0-9]{4})",
                         got)
        if not c.check(m, "INTERNALDATE %r" % got):
            continue
        t = time.strptime(got[:20].strip(), "%d-%b-%Y %H:%M:%S")
        z = int(m.group(7)[1:3]) * 3600 + int(m.group(7)[3:]) * 60
        z = -z if m.group(7)[0] == "-" else z
        utc = calendar.timegm(t) - z
        want = time.strptime(d, "%a %b %d %H:%M:%S %Y")
        ok = utc in (calendar.timegm(want), time.mktime(want))
        c.check(ok, "INTERNALDATE %r of From_ date %r" % (got, d))
    r = c.fetch("1", "(ENVELOPE BODY BODYSTRUCTURE)")
    env = canon(r[1].get("ENVELOPE"))
    c.check(env == canon(parse(
        b'("Mon, 3 Feb 2020 10:00:00 +0000" "plain one" (("Alice" NIL '
        b'"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        b'(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        b'"example.net")) NIL NIL NIL "<f1@example.org>")')[0]),
        "ENVELOPE %s" % env)
    c.check(canon(r[1].get("BODY")) == canon(parse(
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 26 2)')[0]),
        "BODY %s" % canon(r[1].get("BODY")))
    c.check(canon(r[1].get("BODYSTRUCTURE")) == canon(parse(
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 26 2 NIL '
        b'NIL NIL NIL)')[0]), "BODYSTRUCTURE %s" %
        canon(r[1].get("BODYSTRUCTURE")))
    for macro, keys in (("ALL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE",
                                 "ENVELOPE"}),
                        ("FAST", {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}),
                        ("FULL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE",
                                  "ENVELOPE", "BODY"})):
        r = c.fetch("2", macro)
        c.check(set(r.get(2, {})) == keys, "FETCH %s gave %r" %
                (macro, sorted(r.get(2, {}))))
    c.cmd("FETCH 1 (ALL)", "BAD")
    c.cmd("FETCH 1 (FLAGS FAST)", "BAD")
    c.logout()


@case("FETCH sections: HEADER, TEXT, RFC822.HEADER, RFC822.TEXT, "
      "HEADER.FIELDS (any case, missing fields), HEADER.FIELDS.NOT, part "
      "numbers, MIME, parts of a message/rfc822")
def _():
    c = fixed_session()
    full = client_form(FIXED[0])
    hdr, text = split_hdr(full)
    r = c.fetch("1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.HEADER)")
    m = r[1]
    c.check(bytes(m.get("BODY[HEADER]", b"")) == hdr, "BODY[HEADER] %r" %
            m.get("BODY[HEADER]"))
    c.check(bytes(m.get("BODY[TEXT]", b"")) == text, "BODY[TEXT] %r" %
            m.get("BODY[TEXT]"))
    c.check(bytes(m.get("RFC822.HEADER", b"")) == hdr, "RFC822.HEADER %r" %
            m.get("RFC822.HEADER"))
    r = c.fetch("1", "BODY.PEEK[HEADER.FIELDS (subject FROM X-None)]")
    v = [(k, x) for k, x in r[1].items() if k.startswith("BODY[HEADER.FIELDS")]
    c.check(len(v) == 1 and bytes(v[0][1]) ==
            b"From: Alice <alice@example.org>\r\nSubject: plain one\r\n\r\n",
            "HEADER.FIELDS: %r" % v)
    c.check(v and re.fullmatch(r"BODY\[HEADER\.FIELDS \((?i:subject from "
                               r"x-none)\)\]", v[0][0]), "key %r" % v)
    r = c.fetch("1", "BODY.PEEK[HEADER.FIELDS (X-None)]")
    v = [x for k, x in r[1].items() if k.startswith("BODY[HEADER.FIELDS")]
    c.check(v and bytes(v[0]) == b"\r\n", "no such field: %r" % v)
    r = c.fetch("1", "BODY.PEEK[HEADER.FIELDS.NOT (Subject To Date "
                "Message-ID)]")
    v = [x for k, x in r[1].items() if k.startswith("BODY[HEADER.FIELDS.NOT")]
    c.check(v and bytes(v[0]) == b"From: Alice <alice@example.org>\r\n\r\n",
            "HEADER.FIELDS.NOT %r" % v)
    r = c.fetch("3", "(BODY.PEEK[HEADER.FIELDS (Status X-Status X-Keywords "
                "X-Other)] BODY.PEEK[HEADER.FIELDS.NOT (Subject)])")
    v = [bytes(x) for k, x in sorted(r[3].items()) if k.startswith("BODY[")]
    c.check(len(v) == 2 and v[0] == b"X-Other: kept\r\n\r\n" and
            v[1] == b"From: dave@example.org\r\nX-Other: kept\r\n\r\n",
            "metadata headers leak through HEADER.FIELDS: %r" % v)
    # parts
    r = c.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[1.MIME] "
                "BODY.PEEK[2.MIME] BODY.PEEK[TEXT])")
    m = r.get(2, {})
    want = {"BODY[1]": b"part one text",
            "BODY[2]": b"AAECAwQ=",
            "BODY[1.MIME]": b"Content-Type: text/plain; charset=us-ascii"
                            b"\r\n\r\n",
            "BODY[2.MIME]": b"Content-Type: application/octet-stream\r\n"
                            b"Content-Transfer-Encoding: base64\r\n\r\n",
            "BODY[TEXT]": split_hdr(client_form(FIXED[1]))[1]}
    for k, w in want.items():
        c.check(bytes(m.get(k, b"?")) == w, "%s %r, want %r" %
                (k, m.get(k), w))
    r = c.fetch("1", "BODY.PEEK[1]")
    c.check(bytes(r[1].get("BODY[1]", b"")) == text, "BODY[1] of a "
            "single-part message %r" % r[1].get("BODY[1]"))
    r = c.fetch("4", "(BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2] "
                "BODY.PEEK[2.1])")
    m = r.get(4, {})
    for k, w in (("BODY[2.HEADER]", b"From: inner@example.org\r\n"
                  b"Subject: inner\r\n\r\n"),
                 ("BODY[2.TEXT]", b"inner body"),
                 ("BODY[2]", b"From: inner@example.org\r\nSubject: inner"
                  b"\r\n\r\ninner body"),
                 ("BODY[2.1]", b"inner body")):
        c.check(bytes(m.get(k, b"?")) == w, "%s %r, want %r" % (k, m.get(k),
                                                              w))
    c.logout()


@case("FETCH partial BODY[]<o.n>: origin echoed, cut at the end, past "
      "the end empty; BODY[TEXT]<o.n>; a big partial")
def _():
    c = fixed_session()
    full = client_form(FIXED[4])
    for o, n in ((0, 10), (10, 20), (0, len(full)), (len(full) - 5, 100),
                 (len(full), 10), (len(full) + 100, 10), (1000, 30000)):
        r = c.fetch("5", "BODY.PEEK[]<%d.%d>" % (o, n))
        m = r.get(5, {})
        key = "BODY[]<%d>" % o
        c.check(key in m, "<%d.%d>: keys %r, want %s" % (o, n, sorted(m),
                                                          key))
        c.check(bytes(m.get(key, b"?")) == full[o:o + n],
                "<%d.%d>: %d octets %r, want %d" %
                (o, n, len(m.get(key) or b""), (m.get(key) or b"")[:60],
                 len(full[o:o + n])))
    r = c.fetch("1", "BODY.PEEK[TEXT]<2.5>")
    c.check(bytes(r[1].get("BODY[TEXT]<2>", b"")) == b"llo B",
            "BODY[TEXT]<2.5> %r" % r[1])
    c.cmd("FETCH 1 BODY.PEEK[]<5>", "BAD")
    c.cmd("FETCH 1 BODY.PEEK[]<5.0>", "BAD")      # nz-number
    c.cmd("FETCH 1 BODY.PEEK[]<5.-1>", "BAD")
    c.logout()


@case("FETCH partials in chunks (as Thunderbird reads a big message): "
      "forward, backward, random, interleaved across sections, messages "
      "and flag changes; every octet right")
def _():
    import random
    rnd = random.Random(5)
    lines = []
    for i in range(9000):       # line lengths 0..120, some empty
        n = rnd.choice((0, 1, 2, 59, 60, 61, 75, 120, rnd.randrange(121)))
        lines.append(bytes(rnd.choice(b"abcdefgh ") for _ in range(n)))
    part1 = b"\n".join(lines) + b"\n"
    blob = base64.encodebytes(bytes(rnd.randrange(256)
                                    for _ in range(150000)))
    big = (b"From: big@example.org\nSubject: chunks\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=\"CC\"\n\n"
           b"--CC\nContent-Type: text/plain\n\n" + part1 +
           b"--CC\nContent-Type: application/octet-stream\n"
           b"Content-Transfer-Encoding: base64\n\n" + blob + b"--CC--\n")
    other = b"From: x@example.org\nSubject: small\n\nsmall body\n" * 1
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build([big, other, big]))
    c = session(u)
    c.select("INBOX")
    whole = {}
    for sec in ("", "TEXT", "HEADER", "1", "2"):
        r = c.fetch("1", "BODY.PEEK[%s]" % sec)
        whole[sec] = bytes(r[1]["BODY[%s]" % sec])
    c.check(whole[""] == client_form(big), "BODY[] is not the message")

    def chunk(msg, sec, o, n):
        r = c.fetch(str(msg), "BODY.PEEK[%s]<%d.%d>" % (sec, o, n))
        got = r.get(msg, {}).get("BODY[%s]<%d>" % (sec, o))
        want = whole[sec][o:o + n]
        c.check(got is not None and bytes(got) == want,
                "%d BODY[%s]<%d.%d>: %s octets, want %d; first difference "
                "at %s" % (msg, sec, o, n, None if got is None else len(got),
                           len(want), None if got is None else next(
                               (i for i, (a, b) in enumerate(zip(got, want))
                                if a != b), min(len(got), len(want)))))
    # forward in Thunderbird's 64 KB steps, then odd steps
    for sec in ("", "1", "2", "TEXT"):
        o = 0
        while o < len(whole[sec]) + 10:
            chunk(1, sec, o, 65536)
            o += 65536
        o = 0
        while o < len(whole[sec]):
            n = rnd.choice((1, 2, 3, 100, 4095, 65535, 65537, 131072))
            chunk(1, sec, o, n)
            o += n
    # backward, random, interleaved with other sections and messages,
    # with the flags (hidden headers) changing in between
    for k in range(150):
        sec = rnd.choice(("", "TEXT", "HEADER", "1", "2"))
        ln = len(whole[sec])
        o = rnd.choice((0, 1, ln - 1, ln, ln + 5, rnd.randrange(ln + 1)))
        chunk(rnd.choice((1, 3)), sec, max(o, 0), rnd.choice((1, 2, 777,
                                                              65536)))
        if k % 25 == 0:
            c.cmd("STORE 1,3 %sFLAGS (\\Seen $Work)" % "+-"[k % 2])
        if k % 40 == 0:
            c.fetch("2", "BODY.PEEK[]<0.5>")
    c.logout()


@case("\\Seen: BODY.PEEK and RFC822.HEADER leave it; BODY[] and "
      "RFC822.TEXT set it and FLAGS comes with the FETCH; not in EXAMINE")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build([b"Subject: s%d\n\nseen %d\n" % (i, i)
                                      for i in range(1, 6)]))
    c = session(u)
    c.select("INBOX", examine=True)
    c.fetch("1", "BODY[]")
    r = c.fetch("1", "FLAGS")
    c.check("\\Seen" not in flags(r[1]["FLAGS"]), "EXAMINE set \\Seen")
    c.select("INBOX")
    r = c.fetch("1:2", "(BODY.PEEK[] BODY.PEEK[TEXT] RFC822.HEADER "
                "RFC822.SIZE)")
    r = c.fetch("1:2", "FLAGS")
    c.check(all("\\Seen" not in flags(r[i]["FLAGS"]) for i in (1, 2)),
            "PEEK set \\Seen: %r" % r)
    for i, item in ((1, "BODY[]"), (2, "RFC822.TEXT"), (3, "BODY[1]"),
                    (4, "RFC822")):
        r = c.fetch(str(i), item)
        c.check("\\Seen" in flags(r.get(i, {}).get("FLAGS")),
                "FETCH %s did not answer FLAGS with \\Seen: %r" % (item, r))
    r = c.fetch("5", "BODY[HEADER]")
    c.check("\\Seen" in flags(r.get(5, {}).get("FLAGS")),
            "BODY[HEADER] (not PEEK) sets \\Seen too: %r" % r)
    c.logout()
    c = session(u)
    c.select("INBOX")
    r = c.fetch("1:*", "FLAGS")
    c.check(all("\\Seen" in flags(r[i]["FLAGS"]) for i in range(1, 6)),
            "\\Seen not kept: %r" % r)
    c.logout()


@case("UID FETCH: UID always in the answer; ranges in any order; * and "
      "n:* ; UIDs not there give nothing; FETCH 3:1")
def _():
    c = fixed_session()
    r = c.fetch("1:*", "UID")
    uids = [int(r[i]["UID"]) for i in range(1, 6)]
    r = c.fetch("%d:%d" % (uids[3], uids[1]), "FLAGS", uid=True)
    c.check(sorted(r) == [2, 3, 4] and all("UID" in r[i] for i in r),
            "UID FETCH reversed range: %r" % r)
    r = c.fetch("*", "FLAGS", uid=True)
    c.check(list(r) == [5], "UID FETCH *: %r" % r)
    r = c.fetch("%d:*" % (uids[4] + 100), "UID", uid=True)
    c.check(list(r) == [5], "UID FETCH past:* must give the last: %r" % r)
    r = c.fetch("%d" % (uids[4] + 100), "UID", uid=True)
    c.check(r == {}, "UID FETCH of a missing UID: %r" % r)
    r = c.fetch("%d,%d" % (uids[0], uids[2]), "RFC822.SIZE", uid=True)
    c.check(sorted(r) == [1, 3], "UID FETCH list %r" % r)
    r = c.fetch("3:1", "UID")
    c.check(sorted(r) == [1, 2, 3], "FETCH 3:1 %r" % r)
    r = c.fetch("2,4:*", "UID")
    c.check(sorted(r) == [2, 4, 5], "FETCH 2,4:* %r" % r)
    c.cmd("FETCH 6 UID", NO_OR_BAD)
    c.logout()


# ------------------------------------------------------------ STORE

@case("STORE FLAGS/+FLAGS/-FLAGS (.SILENT), keywords, UID STORE answers "
      "with UID; flags kept in Status/X-Status/X-Keywords after LOGOUT")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build([b"Subject: f%d\n\nflags %d\n" % (i, i)
                                      for i in range(1, 5)]))
    c = session(u)
    c.select("INBOX")
    unt, _ = c.cmd("STORE 1 +FLAGS (\\Seen \\Flagged)")
    f = fetch_map(unt, c)
    c.check(flags(f.get(1, {}).get("FLAGS")) >= {"\\Seen", "\\Flagged"},
            "+FLAGS answer %r" % unt)
    unt, _ = c.cmd("STORE 1 -FLAGS (\\Flagged)")
    f = fetch_map(unt, c)
    c.check("\\Flagged" not in flags(f.get(1, {}).get("FLAGS")) and
            "\\Seen" in flags(f.get(1, {}).get("FLAGS")), "-FLAGS %r" % unt)
    unt, _ = c.cmd("STORE 2 FLAGS (\\Answered $Label1 work)")
    f = fetch_map(unt, c)
    c.check(flags(f.get(2, {}).get("FLAGS")) - {"\\Recent"} ==
            {"\\Answered", "$Label1", "work"}, "FLAGS %r" % unt)
    unt, _ = c.cmd("STORE 3 +FLAGS.SILENT (\\Draft)")
    c.check(not [x for x in unt if b"FETCH" in x], ".SILENT answered %r" %
            unt)
    unt, _ = c.cmd("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    c.check(not [x for x in unt if b"FETCH" in x], ".SILENT answered %r" %
            unt)
    r = c.fetch("1:*", "UID")
    uid4 = int(r[4]["UID"])
    unt, _ = c.cmd("UID STORE %d +FLAGS (\\Flagged)" % uid4)
    f = fetch_map(unt, c)
    c.check(int(f.get(4, {}).get("UID", 0)) == uid4 and
            "\\Flagged" in flags(f.get(4, {}).get("FLAGS")),
            "UID STORE answer %r" % unt)
    unt, _ = c.cmd("UID STORE %d +FLAGS (\\Seen)" % (uid4 + 50))
    c.check(not unt, "UID STORE of a missing UID said %r" % unt)
    c.ok("STORE 2 FLAGS (\\Answered $Label1 work)")
    unt, _ = c.cmd("FETCH 1:4 FLAGS")
    c.cmd("STORE 1 +FLAGS (\\Bogus)", NO_OR_BAD)
    c.cmd("STORE 1 +FLAGS \\Seen")        # a single flag without parens
    c.logout()
    data = spool(u)
    parts = mbox_split(data)
    c.check(len(parts) == 4, "spool has %d messages" % len(parts))
    if len(parts) == 4:
        def hdr(i, name):
            m = re.search(br"(?mi)^%s:[ \t]*(.*)$" % name,
                          parts[i][1].split(b"\n\n")[0])
            return m.group(1).strip() if m else b""
        c.check(b"R" in hdr(0, b"Status"), "msg 1 Status %r" %
                hdr(0, b"Status"))
        c.check(b"A" in hdr(1, b"X-Status") and
                set(hdr(1, b"X-Keywords").split()) == {b"$Label1", b"work"},
                "msg 2 X-Status %r X-Keywords %r" % (hdr(1, b"X-Status"),
                                                    hdr(1, b"X-Keywords")))
        c.check(b"D" in hdr(2, b"X-Status") and b"T" in hdr(2, b"X-Status"),
                "msg 3 X-Status %r" % hdr(2, b"X-Status"))
        c.check(b"F" in hdr(3, b"X-Status"), "msg 4 X-Status %r" %
                hdr(3, b"X-Status"))
    c = session(u)
    c.select("INBOX")
    r = c.fetch("1:*", "FLAGS")
    c.check(flags(r[2]["FLAGS"]) >= {"\\Answered", "$Label1", "work"} and
            flags(r[3]["FLAGS"]) >= {"\\Deleted", "\\Draft"} and
            "\\Recent" not in flags(r[1]["FLAGS"]),
            "flags in a new session: %r" % r)
    c.logout()


# ------------------------------------------------------------ SEARCH

S_MSGS = [
    ("Sat Feb  1 09:00:00 2020",
     b"Date: Sat, 1 Feb 2020 09:00:00 +0000\nFrom: Alice <alice@example.org>"
     b"\nTo: bob@example.net\nSubject: Hello World\nMessage-ID: <s1@x>\n"
     b"Status: RO\n\napple banana\n"),
    ("Mon Mar 15 10:00:00 2021",
     b"Date: Mon, 15 Mar 2021 10:00:00 +0000\nFrom: bob@example.net\n"
     b"To: alice@example.org\nCc: carol@example.com\nSubject: Re: hello\n"
     b"Message-ID: <s2@x>\nStatus: O\nX-Status: AF\n\ncherry pie\n"),
    ("Mon Jan 10 11:00:00 2022",
     b"Date: Mon, 10 Jan 2022 11:00:00 +0000\nFrom: carol@example.com\n"
     b"To: dave@example.com\nBcc: dave-secret@example.com\n"
     b"Subject: =?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?=\nMessage-ID: <s3@x>\n"
     b"X-Keywords: work\n\n" + b"padding line for size\n" * 250),
    ("Tue Jan 10 12:00:00 2023",
     b"Date: Tue, 10 Jan 2023 12:00:00 +0000\nFrom: =?ISO-2022-JP?B?"
     b"GyRCOzNFRBsoQg==?= <yamada@example.jp>\nTo: x@example.jp\n"
     b"Subject: =?ISO-2022-JP?B?GyRCN29MPiVGJTklSBsoQg==?=\n"
     b"Message-ID: <s4@x>\nX-Status: DT\n\nDELETE ME\n"),
]


def search_session():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_dated(S_MSGS))
    c = session(u)
    c.select("INBOX")
    return c


@case("SEARCH keys: flags, keywords, address and header fields, BODY/"
      "TEXT, dates, sizes, sets, UID, OR/NOT/parentheses; case-insensitive")
def _():
    c = search_session()
    uids = [int(v["UID"]) for k, v in sorted(c.fetch("1:*", "UID").items())]
    tests = [
        ("ALL", [1, 2, 3, 4]), ("SEEN", [1]), ("UNSEEN", [2, 3, 4]),
        ("ANSWERED", [2]), ("UNANSWERED", [1, 3, 4]), ("FLAGGED", [2]),
        ("UNFLAGGED", [1, 3, 4]), ("DELETED", [4]), ("UNDELETED", [1, 2, 3]),
        ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3]), ("KEYWORD work", [3]),
        ("UNKEYWORD work", [1, 2, 4]), ("KEYWORD nosuch", []),
        ("RECENT", [3, 4]), ("NEW", [3, 4]), ("OLD", [1, 2]),
        ("FROM alice", [1]), ("FROM ALICE", [1]), ("from example.org", [1]),
        ("TO alice", [2]), ("CC carol", [2]), ("BCC secret", [3]),
        ("SUBJECT hello", [1, 2]), ('SUBJECT "hello world"', [1]),
        ("HEADER Message-ID <s3@x>", [3]), ('HEADER Cc ""', [2]),
        ("HEADER X-Keywords work", []), ("HEADER Status RO", []),
        ("BODY banana", [1]), ("BODY BANANA", [1]), ("BODY alice", []),
        ("TEXT alice", [1, 2]), ("TEXT cherry", [2]),
        ("LARGER 4000", [3]), ("SMALLER 4000", [1, 2, 4]),
        ("SENTBEFORE 1-Jan-2021", [1]), ("SENTON 15-Mar-2021", [2]),
        ("SENTSINCE 10-Jan-2022", [3, 4]), ("BEFORE 1-Jan-2021", [1]),
        ("ON 10-Jan-2022", [3]), ("SINCE 10-Jan-2022", [3, 4]),
        ("SINCE 11-Jan-2022", [4]), ("2:3", [2, 3]), ("2,4:*", [2, 4]),
        ("*", [4]), ("UID %d:%d" % (uids[1], uids[2]), [2, 3]),
        ("UID %d" % (uids[3] + 10), []),
        ("OR SEEN FLAGGED", [1, 2]), ("NOT SEEN", [2, 3, 4]),
        ("(SEEN)", [1]), ("OR (FROM alice) (TO dave)", [1, 3]),
        ("NOT (OR SEEN DELETED)", [2, 3]), ("SEEN FROM alice", [1]),
        ("SEEN FROM bob", []), ("OR OR SEEN FLAGGED DELETED", [1, 2, 4]),
        ("NOT NOT SEEN", [1]), ("1:2 UNSEEN", [2]),
        ("CHARSET US-ASCII SUBJECT hello", [1, 2]),
        ("charset utf-8 body cherry", [2]),
    ]
    for crit, want in tests:
        got = c.search(crit)
        c.check(got == want, "SEARCH %s -> %r, want %r" % (crit, got, want))
    got = c.search("SEEN", uid=True)
    c.check(got == [uids[0]], "UID SEARCH SEEN -> %r, want %r" %
            (got, uids[:1]))
    got = c.search("UID %d:*" % uids[2], uid=True)
    c.check(got == uids[2:], "UID SEARCH UID n:* -> %r" % got)
    c.logout()


@case("SEARCH CHARSET UTF-8 with literals: encoded words (UTF-8, "
      "ISO-2022-JP) decoded in header fields; BADCHARSET for others")
def _():
    c = search_session()
    for text, want in (("日本語", [3]), ("件名", [3, 4]), ("テスト", [4]),
                       ("山田", [4])):
        key = "FROM " if text == "山田" else "SUBJECT "
        unt, _ = c.cmd_lit(["SEARCH CHARSET UTF-8 " + key,
                            text.encode("utf-8")])
        got = search_result(unt, c)
        c.check(got == want, "SEARCH %s%s -> %r, want %r" % (key, text, got,
                                                            want))
    unt, _ = c.cmd_lit(["SEARCH CHARSET UTF-8 TEXT ", "件名".encode()],
                       sync=False)
    c.check(search_result(unt, c) == [3, 4], "TEXT with LITERAL+ %r" % unt)
    unt, tl = c.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT a", "NO")
    m = re.search(r"\[BADCHARSET( \(([^)]*)\))?\]", tl)
    c.check(m, "no [BADCHARSET] in %r" % tl)
    if m and m.group(2):
        c.check("UTF-8" in m.group(2).upper().split(), "BADCHARSET list %r" %
                tl)
    c.cmd("SEARCH CHARSET", "BAD")
    c.logout()


# ------------------------------------------------------------ COPY/MOVE

@case("COPY and UID COPY: [COPYUID v src dst], flags copied, \\Recent in "
      "the target, [TRYCREATE] for a missing mailbox, source unchanged")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build([
        b"Subject: c1\nStatus: RO\nX-Keywords: work\n\ncopy 1\n",
        b"Subject: c2\nX-Status: F\n\ncopy 2\n",
        b"Subject: c3\n\ncopy 3\n"]))
    c = session(u)
    c.ok("CREATE dest")
    c.select("INBOX")
    src = c.fetch("1:*", "(UID FLAGS BODY.PEEK[])")
    su = [int(src[i]["UID"]) for i in (1, 2, 3)]
    unt, tl = c.cmd("COPY 1:2 dest")
    m = re.match(r"\S+ OK \[COPYUID ([0-9]+) ([0-9:,]+) ([0-9:,]+)\]", tl)
    c.check(m, "no COPYUID in %r" % tl)
    st = c.status("dest")
    c.check(st.get("MESSAGES") == 2, "STATUS dest %r" % st)
    if m:
        c.check(int(m.group(1)) == st.get("UIDVALIDITY"),
                "COPYUID validity %s, dest has %r" % (m.group(1), st))
        c.check(m.group(2) in ("%d:%d" % (su[0], su[1]),
                               "%d,%d" % (su[0], su[1])),
                "COPYUID source set %s, want UIDs %r" % (m.group(2), su[:2]))
    unt, tl = c.cmd("UID COPY %d dest" % su[2])
    m2 = re.match(r"\S+ OK \[COPYUID ([0-9]+) ([0-9]+) ([0-9]+)\]", tl)
    c.check(m2 and int(m2.group(2)) == su[2], "UID COPY %r" % tl)
    unt, tl = c.cmd("COPY 1 nosuch", "NO")
    c.check(tl.split(" ", 2)[2].startswith("[TRYCREATE]"), "no [TRYCREATE]:"
            " %r" % tl)
    # RFC 3501 6.4.8: a UID that does not exist is ignored, no error
    unt, tl = c.cmd("UID COPY %d dest" % (su[2] + 100), None)
    c.check(re.fullmatch(r"\S+ OK( .*)?", tl), "UID COPY of a missing UID: "
            "%r, want OK" % tl)
    c.cmd("COPY 9 dest", NO_OR_BAD)
    c.ok("COPY 3 INBOX")
    r = c.fetch("1:*", "UID")
    c.check(len(r) >= 3, "source %r" % r)
    c.select("dest")
    d = c.fetch("1:*", "(UID FLAGS BODY.PEEK[])")
    c.check(sorted(d) == [1, 2, 3], "dest has %r" % sorted(d))
    for i in (1, 2, 3):
        if i not in d:
            continue
        c.check(bytes(d[i]["BODY[]"]) == bytes(src[i]["BODY[]"]),
                "copy %d differs" % i)
        c.check(flags(d[i]["FLAGS"]) - {"\\Recent"} ==
                flags(src[i]["FLAGS"]) - {"\\Recent"} and
                "\\Recent" in flags(d[i]["FLAGS"]),
                "copy %d FLAGS %r, source %r" % (i, d[i]["FLAGS"],
                                                src[i]["FLAGS"]))
    if m:
        du = [int(d[i]["UID"]) for i in sorted(d)]
        c.check(m.group(3) in ("%d:%d" % (du[0], du[1]),
                               "%d,%d" % (du[0], du[1])),
                "COPYUID dest set %s, dest UIDs %r" % (m.group(3), du))
    c.logout()


@case("MOVE and UID MOVE (RFC 6851): * OK [COPYUID], * n EXPUNGE, "
      "tagged OK; gone from the source, in the target")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build([b"Subject: mv%d\n\nmove %d\n" % (i, i)
                                      for i in range(1, 6)]))
    c = session(u)
    c.ok("CREATE dest")
    c.select("INBOX")
    su = [int(v["UID"]) for k, v in sorted(c.fetch("1:*", "UID").items())]
    unt, tl = c.cmd("MOVE 2:3 dest")
    s = [x.decode() for x in unt]
    c.check(any(re.match(r"\* OK \[COPYUID [0-9]+ %d[:,]%d [0-9:,]+\]" %
                         (su[1], su[2]), x) for x in s),
            "no * OK [COPYUID] in %r" % s)
    c.check(c.untagged(unt, "EXPUNGE") in (["* 2 EXPUNGE", "* 2 EXPUNGE"],
                                           ["* 3 EXPUNGE", "* 2 EXPUNGE"]),
            "MOVE expunges %r" % s)
    unt, tl = c.cmd("UID MOVE %d dest" % su[4])
    c.check(c.untagged(unt, "EXPUNGE") == ["* 3 EXPUNGE"], "UID MOVE %r" %
            unt)
    left = [int(v["UID"]) for k, v in sorted(c.fetch("1:*", "UID").items())]
    c.check(left == [su[0], su[3]], "left %r" % left)
    unt, tl = c.cmd("MOVE 1 nosuch", "NO")
    c.check("[TRYCREATE]" in tl, "no TRYCREATE %r" % tl)
    st = c.status("dest")
    c.check(st.get("MESSAGES") == 3, "dest %r" % st)
    c.logout()
    c.check(b"move 2" not in spool(u) and b"move 5" not in spool(u),
            "moved messages still in the spool")


# ------------------------------------------------------------ EXPUNGE

@case("EXPUNGE: * n EXPUNGE in the numbering of the moment; UID EXPUNGE "
      "(RFC 4315) removes only the named \\Deleted UIDs")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build([b"Subject: e%d\n\nexp %d\n" % (i, i)
                                      for i in range(1, 8)]))
    c = session(u)
    c.select("INBOX")
    su = [int(v["UID"]) for k, v in sorted(c.fetch("1:*", "UID").items())]
    c.ok("STORE 2,3,5 +FLAGS.SILENT (\\Deleted)")
    unt, _ = c.cmd("EXPUNGE")
    e = c.untagged(unt, "EXPUNGE")
    c.check(e in (["* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE"],
                  ["* 5 EXPUNGE", "* 3 EXPUNGE", "* 2 EXPUNGE"],
                  ["* 3 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE"]),
            "EXPUNGE said %r" % e)
    left = [int(v["UID"]) for k, v in sorted(c.fetch("1:*", "UID").items())]
    c.check(left == [su[0], su[3], su[5], su[6]], "left %r" % left)
    unt, _ = c.cmd("EXPUNGE")
    c.check(not c.untagged(unt, "EXPUNGE"), "second EXPUNGE %r" % unt)
    c.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    unt, _ = c.cmd("UID EXPUNGE %d,%d" % (su[3], su[6]))
    c.check(c.untagged(unt, "EXPUNGE") in (["* 2 EXPUNGE", "* 3 EXPUNGE"],
                                           ["* 4 EXPUNGE", "* 2 EXPUNGE"]),
            "UID EXPUNGE said %r" % unt)
    left = [int(v["UID"]) for k, v in sorted(c.fetch("1:*", "UID").items())]
    c.check(left == [su[0], su[5]], "left after UID EXPUNGE %r" % left)
    c.cmd("UID EXPUNGE", "BAD")
    c.logout()
    data = spool(u)
    c.check(b"exp 1\n" in data and b"exp 6\n" in data and
            not re.search(br"exp [234578]\n", data), "spool %r" % data)


# ------------------------------------------------------------ APPEND

@case("APPEND: literal with flags and date-time; [APPENDUID v uid]; "
      "FETCH gives back the octets, FLAGS and INTERNALDATE; LITERAL+")
def _():
    u, _ = new_user()
    c = session(u)
    c.ok("CREATE box")
    msg = (b"From: app@example.org\r\nSubject: appended\r\n\r\nline 1\r\n"
           b">From quoted\r\n.dot\r\ncaf\xc3\xa9\r\n\r\n")
    unt, tl = c.cmd_lit(['APPEND box (\\Seen $Work) "05-Jun-2021 '
                         '13:14:15 +0200" ', msg])
    m = re.match(r"\S+ OK \[APPENDUID ([0-9]+) ([0-9]+)\]", tl)
    c.check(m, "no APPENDUID in %r" % tl)
    unt, tl2 = c.cmd_lit(["APPEND box ", b"Subject: two\r\n\r\nplus\r\n"],
                         sync=False)
    m2 = re.match(r"\S+ OK \[APPENDUID ([0-9]+) ([0-9]+)\]", tl2)
    c.check(m2 and m and m2.group(1) == m.group(1) and
            int(m2.group(2)) > int(m.group(2)), "second APPENDUID %r" % tl2)
    c.cmd_lit(["APPEND box () ", b"Subject: three\r\n\r\nempty flags\r\n"
                                 b"\r\nFrom the start\r\n"])
    i = c.select("box")
    c.check(i.get("exists") == 3 and i.get("recent") == 3, "box %r" %
            i["lines"])
    r = c.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    m1 = r.get(1, {})
    c.check(bytes(m1.get("BODY[]", b"")) == msg, "BODY[] %r, want %r" %
            (m1.get("BODY[]"), msg))
    c.check(int(m1.get("RFC822.SIZE", 0)) == len(msg), "RFC822.SIZE %r" %
            m1.get("RFC822.SIZE"))
    c.check(flags(m1.get("FLAGS")) == {"\\Seen", "$Work", "\\Recent"},
            "FLAGS %r" % m1.get("FLAGS"))
    c.check(bytes(m1.get("INTERNALDATE", b"")) in
            (b"05-Jun-2021 13:14:15 +0200", b"05-Jun-2021 11:14:15 +0000"),
            "INTERNALDATE %r" % m1.get("INTERNALDATE"))
    if m:
        c.check(int(m1.get("UID", 0)) == int(m.group(2)) and
                i.get("uidvalidity") == int(m.group(1)),
                "APPENDUID %r vs UID %r UIDVALIDITY %r" %
                (tl, m1.get("UID"), i.get("uidvalidity")))
    c.check(bytes(r.get(2, {}).get("BODY[]", b"")) ==
            b"Subject: two\r\n\r\nplus\r\n", "LITERAL+ message %r" % r.get(2))
    # a body line "From " must not split the message (DESIGN.md: stored
    # as ">From ", and shown as stored)
    b3 = bytes(r.get(3, {}).get("BODY[]", b""))
    c.check(b3 in (b"Subject: three\r\n\r\nempty flags\r\n\r\n"
                   b"From the start\r\n", b"Subject: three\r\n\r\nempty "
                   b"flags\r\n\r\n>From the start\r\n"),
            "message 3 %r" % b3)
    c.logout()
    c = session(u)
    i = c.select("box")
    c.check(i.get("exists") == 3, "box after a new login %r" % i["lines"])
    c.logout()


@case("APPEND to the selected mailbox: * n EXISTS; APPEND errors: missing "
      "mailbox NO [TRYCREATE], too big NO without '+', bad date/flags BAD")
def _():
    u, _ = new_user()
    mbox_install(sb(), u, mbox_build([b"Subject: a\n\nx\n"]))
    c = session(u)
    c.select("INBOX")
    unt, _ = c.cmd_lit(["APPEND INBOX ", b"Subject: b\r\n\r\ny\r\n"])
    unt2, _ = c.cmd("NOOP")
    c.check("* 2 EXISTS" in c.untagged(unt + unt2, "EXISTS"),
            "no * 2 EXISTS: %r %r" % (unt, unt2))
    t = c.tag()
    c.send("%s APPEND nosuch {14}" % t)
    ln = c.line(10).decode("latin-1")
    if ln.startswith("+"):          # it may also refuse before the octets
        c.send_raw(b"Subject: c\r\n\r\n\r\n")
        _, ln = c.result(t, None)
    c.check(re.fullmatch(r"%s NO \[TRYCREATE\]( .*)?" % re.escape(t), ln),
            "APPEND to a missing mailbox: %r" % ln)
    # too big: NO at once instead of the continuation
    t = c.tag()
    c.send("%s APPEND INBOX {%d}" % (t, LIMIT * 3))
    ln = c.line(10).decode("latin-1")
    c.check(re.fullmatch(r"%s NO( .*)?" % re.escape(t), ln),
            "APPEND of %d octets over a limit of %d: %r, want NO without "
            "reading" % (LIMIT * 3, LIMIT, ln))
    c.cmd("NOOP")
    # too big as LITERAL+: refused, octets dropped, the session goes on
    t = c.tag()
    c.send_raw(b"%s APPEND INBOX {%d+}\r\n" % (t.encode(), LIMIT * 2) +
               b"Subject: big\r\n\r\n" + b"z" * (LIMIT * 2 - 17) + b"\r\n")
    ln = c.line(15).decode("latin-1")
    if ln.startswith("* BYE"):
        note("LITERAL+ over the limit: %r (connection closed)" % ln)
    else:
        c.check(re.fullmatch(r"%s (NO|BAD)( .*)?" % re.escape(t), ln),
                "LITERAL+ over the limit: %r" % ln)
        c.cmd("NOOP")
    c = session(u, name="d")
    for args in ('INBOX (\\Bogus) ', 'INBOX "31-Feb-2021 00:00:00 +0000" ',
                 'INBOX "1-Jan-2021" ', 'INBOX (\\Seen ', 'INBOX "x" '):
        t = c.tag()
        c.send("%s APPEND %s{5}" % (t, args))
        ln = c.line(10).decode("latin-1")
        if ln.startswith("+"):
            c.send_raw(b"abcde\r\n")
            ln = c.line(10).decode("latin-1")
        c.check(re.fullmatch(r"%s (BAD|NO)( .*)?" % re.escape(t), ln),
                "APPEND %s: %r" % (args, ln))
    c.cmd("APPEND INBOX", "BAD")
    i = c.select("INBOX")
    c.check(i.get("exists") == 2, "bad APPENDs stored something: %r" %
            i["lines"])
    c.logout()


main(timeout=600)

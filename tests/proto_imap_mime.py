#!/usr/bin/env python3
"""proto_imap_mime.py - FETCH ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501
7.4.2) of a corpus of tricky messages, over the wire:

  tests/fixtures/imap/NAME.eml with NAME.ref: what Dovecot 2.3.19 sends
      (made once by tests/fixtures/imap/mkref.py, edited where RFC 3501
      says otherwise - see the README there);
  tests/fixtures/mime/NAME.eml with NAME.expected: the texts of
      tests/test_mime.c (checked by hand against RFC 3501 and Dovecot),
      including the BODY[section] octets of its SECTION blocks.

All messages go into one spool file; each is fetched by its sequence
number.  Values are compared parsed (a literal equals a quoted string
of the same octets).  BODY[] of each is checked byte for byte against
the stored text in CRLF form, and RFC822.SIZE against it."""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imaptest import *  # noqa: E402,F401,F403

HERE = os.path.dirname(os.path.abspath(__file__))
IMAP_DIR = os.path.join(HERE, "fixtures", "imap")
MIME_DIR = os.path.join(HERE, "fixtures", "mime")


def blocks(path):
    """[(kind, arg, data bytes)] of a .ref/.expected file."""
    with open(path, "rb") as f:
        text = f.read()
    hs = list(re.finditer(br"(?m)^== (\S+)(?: ([^\n]*))?\n", text))
    out = []
    for i, m in enumerate(hs):
        end = hs[i + 1].start() - 1 if i + 1 < len(hs) else len(text) - 1
        out.append((m.group(1).decode(), (m.group(2) or b"").decode(),
                    text[m.end():max(end, m.end())]))
    return out


def corpus():
    """[(name, eml bytes, blocks)], imap fixtures first."""
    out = []
    for d, ext in ((IMAP_DIR, ".ref"), (MIME_DIR, ".expected")):
        for p in sorted(glob.glob(os.path.join(d, "*.eml"))):
            name = os.path.basename(p)[:-4]
            ref = p[:-4] + ext
            if not os.path.exists(ref):
                continue
            with open(p, "rb") as f:
                t = f.read()
            if not t.endswith(b"\n"):
                # an mbox message always ends with a newline: this one
                # (mime/hdronly) cannot be stored as it is
                continue
            if re.search(br"(?m)^From ", t):
                continue
            out.append(("%s/%s" % (os.path.basename(d), name), t,
                        blocks(ref)))
    return out


CORPUS = corpus()
STATE = {}


def mime_session():
    if "sb" not in STATE:
        STATE["sb"] = shared_sandbox()
        mbox_install(STATE["sb"], "demo",
                     mbox_build([t for _, t, _ in CORPUS]))
    c = Imap(STATE["sb"].port("imap"))
    c.login("demo", "demo")
    c.select("INBOX", examine=True)
    return c


def lower_body(v):
    """A body structure with the case-insensitive tokens (types,
    subtypes, parameter names, encodings, disposition types) in lower
    case, for the second try of a comparison."""
    if not isinstance(v, list):
        return v
    out = []
    for x in v:
        if isinstance(x, list):
            out.append(lower_body(x))
        elif isinstance(x, bytes):
            out.append(Lit(x.lower()) if len(x) < 40 else x)
        else:
            out.append(x)
    return out


def sort_params(v):
    """Parameter lists (string pairs) in a stable order: RFC 3501 does not
    say in which order body-fld-param lists its pairs (Dovecot moves RFC
    2231 ones to the end)."""
    if not isinstance(v, list):
        return v
    v = [sort_params(x) for x in v]
    if len(v) >= 4 and len(v) % 2 == 0 and \
            all(isinstance(x, bytes) for x in v):
        pairs = sorted(zip(v[0::2], v[1::2]), key=lambda p: bytes(p[0]).lower())
        v = [x for p in pairs for x in p]
    return v


def compare(c, name, kind, got, want_text):
    try:
        want = parse(want_text)
    except ValueError as e:
        fail("%s: cannot parse the expected %s: %s" % (name, kind, e))
    if len(want) != 1:
        fail("%s: expected %s holds %d values" % (name, kind, len(want)))
    g, w = canon(got), canon(want[0])
    if g == w:
        return True
    if kind != "ENVELOPE" and canon(lower_body(got)) == \
            canon(lower_body(want[0])):
        note("%s %s differs from the reference only in case" % (name, kind))
        return True
    if kind != "ENVELOPE" and canon(sort_params(lower_body(got))) == \
            canon(sort_params(lower_body(want[0]))):
        note("%s %s differs from the reference only in the order of "
             "parameters" % (name, kind))
        return True
    return c.check(False, "%s %s:\n      got  %s\n      want %s" %
                   (name, kind, g, w))


@case("corpus: %d messages stored and opened" % len(CORPUS))
def _():
    check(len(CORPUS) >= 15, "only %d fixtures found in %s and %s" %
          (len(CORPUS), IMAP_DIR, MIME_DIR))
    c = mime_session()
    r = c.fetch("1:*", "UID")
    c.check(len(r) == len(CORPUS), "%d messages in the mailbox, %d "
            "fixtures" % (len(r), len(CORPUS)))
    c.logout()


@case("BODY[] of every fixture is its stored text in CRLF form; "
      "RFC822.SIZE agrees")
def _():
    c = mime_session()
    r = c.fetch("1:*", "(RFC822.SIZE BODY.PEEK[])")
    for i, (name, t, _) in enumerate(CORPUS, 1):
        m = r.get(i, {})
        want = t.replace(b"\n", b"\r\n")
        got = bytes(m.get("BODY[]", b""))
        c.check(got == want, "%s: BODY[] differs (%d octets, want %d): "
                "first difference at %d" % (
                    name, len(got), len(want),
                    next((k for k in range(min(len(got), len(want)))
                          if got[k] != want[k]), min(len(got), len(want)))))
        c.check(int(m.get("RFC822.SIZE", -1)) == len(got),
                "%s: RFC822.SIZE %r, BODY[] %d octets" %
                (name, m.get("RFC822.SIZE"), len(got)))
    c.logout()


def fixture_case(idx, name, bl):
    @case("ENVELOPE/BODY/BODYSTRUCTURE of %s" % name)
    def _():
        c = mime_session()
        n = idx + 1
        r = c.fetch(str(n), "(ENVELOPE BODY BODYSTRUCTURE)").get(n, {})
        for kind, arg, data in bl:
            if kind in ("ENVELOPE", "BODY", "BODYSTRUCTURE"):
                if kind not in r:
                    c.check(False, "%s: no %s in the answer" % (name, kind))
                    continue
                compare(c, name, kind, r[kind], data)
            elif kind in ("SECTION", "NOSECTION") and \
                    not arg.upper().endswith(("HEADER.FIELDS",
                                             "HEADER.FIELDS.NOT")):
                # (test_mime's HEADER.FIELDS blocks carry no field list)
                rr = c.fetch(str(n), "BODY.PEEK[%s]" % arg).get(n, {})
                got = rr.get("BODY[%s]" % arg.upper(), rr.get(
                    "BODY[%s]" % arg, "missing"))
                if kind == "SECTION":
                    want = data.replace(b"\n", b"\r\n")
                    c.check(got != "missing" and got is not None and
                            bytes(got) == want,
                            "%s BODY[%s] %r, want %r" % (name, arg, got, want))
                else:
                    c.check(got is None or got == b"",
                            "%s BODY[%s] names nothing; got %r" %
                            (name, arg, got))
        c.logout()


for _i, (_name, _t, _bl) in enumerate(CORPUS):
    fixture_case(_i, _name, _bl)


main(timeout=300)

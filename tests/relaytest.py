"""relaytest.py - helpers shared by tests/proto_relay*.py, on top of
yubintest.py: SMTP transactions on a sandbox's port, unique markers and
test messages.  Python 3 standard library only."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

__all__ = ["RE_OK_MAIL", "RE_OK_RCPT", "RE_ACCEPTED", "RE_DENIED", "WAIT",
           "open_smtp", "submit", "marker", "message"]

RE_OK_MAIL = r"250 2\.1\.0 .*"
RE_OK_RCPT = r"250 2\.1\.5 .*"
RE_ACCEPTED = r"250 2\.0\.0 .*"
RE_DENIED = r"55[04] 5\.7\.1( .*)?"
WAIT = 15          # seconds for anything that should happen at once


def open_smtp(port, helo="client.example", host=r"\S+", proto="smtp"):
    """Connect to an SMTP listener of a sandbox whose hostname is not
    the default one; greeting and EHLO.  Returns (client, EHLO lines)."""
    c = Client(port)
    c.expect(r"220 %s ESMTP yubin( .*)?" % host)
    r = smtp_cmd(c, "EHLO %s" % helo, r"250 .*")
    return c, r


def submit(port, sender, rcpts, text, mail_params="", want=RE_ACCEPTED):
    """One transaction on A's SMTP port; every RCPT must be accepted.
    Returns the final reply line."""
    c, _ = open_smtp(port)
    smtp_cmd(c, "MAIL FROM:<%s>%s" % (sender, mail_params), RE_OK_MAIL)
    for r in rcpts:
        smtp_cmd(c, "RCPT TO:<%s>" % r, RE_OK_RCPT)
    smtp_cmd(c, "DATA", r"354 .*")
    c.send_raw(smtp_data(text))
    r = smtp_cmd(c, None, want)[-1]
    c.quit("smtp")
    return r


def marker():
    """A string no other message of this run has."""
    marker.n += 1
    return "relay-%d-%d-%d" % (os.getpid(), marker.n, int(time.time() * 1e6))


marker.n = 0


def message(mark, to="user@b.test", body="", headers=""):
    """A message as LF text (bytes)."""
    t = ("From: Alice Example <alice@a.test>\nTo: %s\nSubject: %s\n"
         "Date: Thu, 1 Jan 2015 00:00:00 +0000\n"
         "Message-ID: <%s@client.example>\n%s\nbody %s\n%s" %
         (to, mark, mark, headers, mark, body))
    return t.encode("latin-1")

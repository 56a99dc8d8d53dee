#!/usr/bin/env python3
"""dsn_check.py - the bounces src/dsn.c writes, read by Python's email
package: tests/test_dsn DIR writes samples (LF line ends, as the queue
stores them), each is parsed with both the modern and the compat32 policy
and must come back as a defect-free RFC 3464 multipart/report.

Run as "python3 tests/dsn_check.py [path/to/test_dsn]"; without an
argument it uses $top_builddir/tests/test_dsn.  Exit 0 pass, 1 fail,
77 skip (not built)."""

import email
import email.policy
import email.utils
import os
import subprocess
import sys
import tempfile

failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL: %s" % what)
    return cond


def defects(msg):
    out = []
    for part in msg.walk():
        out.extend(part.defects)
    return out


def check_sample(name, raw):
    for line in raw.split(b"\n"):
        check(len(line) <= 998, "%s: a line of %d octets" % (name, len(line)))
    check(b"\r" not in raw, "%s: a CR" % name)
    for policy in (email.policy.default, email.policy.compat32):
        pname = "default" if policy is email.policy.default else "compat32"
        what = "%s (%s)" % (name, pname)
        msg = email.message_from_bytes(raw, policy=policy)
        check(not defects(msg), "%s: defects %r" % (what, defects(msg)))
        check(msg.get_content_type() == "multipart/report",
              "%s: type %s" % (what, msg.get_content_type()))
        check(msg.get_param("report-type") == "delivery-status",
              "%s: report-type %r" % (what, msg.get_param("report-type")))
        check(msg["Auto-Submitted"] == "auto-replied", "%s: Auto-Submitted"
              % what)
        check(email.utils.parseaddr(str(msg["To"]))[1] == "alice@example.com",
              "%s: To %r" % (what, str(msg["To"])))
        frm = email.utils.parseaddr(str(msg["From"]))
        check(frm == ("Mail Delivery System", "MAILER-DAEMON@mx.example.net"),
              "%s: From %r" % (what, frm))
        check(email.utils.parsedate_tz(str(msg["Date"])) is not None,
              "%s: Date %r" % (what, str(msg["Date"])))
        parts = msg.get_payload()
        if not check(len(parts) in (2, 3), "%s: %d parts" % (what, len(parts))):
            continue
        check(parts[0].get_content_type() == "text/plain", "%s: part 1 %s"
              % (what, parts[0].get_content_type()))
        text = parts[0].get_payload(decode=True).decode("ascii")
        check("This is the mail system at host mx.example.net." in text,
              "%s: text %r" % (what, text[:80]))
        check(parts[1].get_content_type() == "message/delivery-status",
              "%s: part 2 %s" % (what, parts[1].get_content_type()))
        groups = parts[1].get_payload()
        check(len(groups) >= 2, "%s: %d groups" % (what, len(groups)))
        check(groups[0]["Reporting-MTA"] == "dns; mx.example.net",
              "%s: Reporting-MTA %r" % (what, groups[0]["Reporting-MTA"]))
        for g in groups[1:]:
            check(str(g["Final-Recipient"]).startswith("rfc822; "),
                  "%s: Final-Recipient %r" % (what, g["Final-Recipient"]))
            check(g["Action"] in ("failed", "delayed"), "%s: Action %r"
                  % (what, g["Action"]))
            check(g["Status"] is not None and g["Status"][0] in "45",
                  "%s: Status %r" % (what, g["Status"]))
        diag = groups[1]["Diagnostic-Code"]
        if diag is not None and "zzzz" in str(diag):
            # compat32 keeps the folding; unfolded it is the reply.
            d = str(diag).replace("\n", "")
            check(d == "X-Yubin; " + " ".join(["zzzzzzzz"] * 222) + " zz",
                  "%s: long Diagnostic-Code %r" % (what, d[:60]))
        if len(parts) == 3:
            t = parts[2].get_content_type()
            check(t in ("text/rfc822-headers", "message/rfc822"),
                  "%s: part 3 %s" % (what, t))
            if t == "message/rfc822":
                inner = parts[2].get_payload()[0]
                check(inner["Subject"] == "lunch", "%s: inner Subject" % what)
            else:
                check("Subject: lunch" in parts[2].get_payload(),
                      "%s: headers part" % what)


def main():
    prog = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("top_builddir", "."), "tests", "test_dsn")
    if not os.access(prog, os.X_OK):
        print("SKIP: %s not built" % prog)
        return 77
    with tempfile.TemporaryDirectory() as d:
        if not check(subprocess.call([prog, d]) == 0, "%s %s" % (prog, d)):
            return 1
        names = sorted(n for n in os.listdir(d) if n.endswith(".eml"))
        check(len(names) == 5, "%d samples" % len(names))
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                check_sample(n, f.read())
    print("dsn_check: %s" % ("%d failed" % failed if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

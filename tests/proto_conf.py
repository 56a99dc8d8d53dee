#!/usr/bin/env python3
"""proto_conf.py - yubind's command line: -t on good and bad
configurations, -n, -V, sandbox directory creation, a port already in use,
and inetd mode (-i) through pipes."""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yubintest import *  # noqa: E402,F401,F403

KEYS = ("hostname", "smtp_listen", "submission_listen", "pop3_listen",
        "imap_listen", "spool_dir", "queue_dir", "home_mail_dir",
        "passwd_file", "aliases_file", "pid_file", "log_file", "user",
        "local_domains", "relay_networks", "plaintext_networks",
        "message_size_limit", "max_connections", "max_connections_per_ip",
        "smtp_timeout", "pop3_timeout", "imap_timeout", "lock",
        "lock_timeout", "lock_stale", "log_level", "relayhost", "route",
        "relay_port", "relay_max", "relay_max_per_host", "queue_lifetime",
        "resolv_conf", "dns_servers", "sender_login_check")


def txt(b):
    return b.decode("utf-8", "replace")


@case("-t accepts a good configuration")
def _():
    good = """# a comment
hostname mail.example.org
smtp_listen 127.0.0.1:0 127.0.0.1:0
submission_listen
pop3_listen 127.0.0.1:0   # trailing comment
imap_listen 127.0.0.1:0
local_domains example.org localhost
relay_networks 127.0.0.0/8 ::1 10.0.0.0/8
plaintext_networks 127.0.0.0/8
message_size_limit 1000000
max_connections 1008
max_connections_per_ip 1
smtp_timeout 60
pop3_timeout 600
imap_timeout 1800
lock dotlock lockf
lock_timeout 10
lock_stale 300
log_level info
relayhost [192.0.2.25]:587
route b.example mail.b.example
route c.example [::1]:2525
relay_port 25
relay_max 10
relay_max_per_host 2
queue_lifetime 86400
resolv_conf /etc/resolv.conf
dns_servers 127.0.0.1:5353 ::1
sender_login_check no

"""
    sb = Sandbox(raw_conf=good, start=False)
    rc, out, err = sb.run("-t")
    check(rc == 0, "-t on a good config: exit %r, stderr %r" % (rc, txt(err)))


BAD = [
    # (description, lines; the last line is the bad one)
    ("unknown key", ["hostname a.example", "no_such_key 1"]),
    ("bad number", ["hostname a.example", "# c", "max_connections abc"]),
    ("negative number", ["smtp_timeout -5"]),
    ("number with junk", ["pop3_timeout 10s"]),
    ("number out of range", ["max_connections 5000"]),
    ("zero max_connections", ["max_connections 0"]),
    ("overflowing number", ["message_size_limit 99999999999999999999999999"]),
    ("bad address", ["smtp_listen 999.1.1.1:25"]),
    ("bad port", ["", "", "pop3_listen 127.0.0.1:99999"]),
    ("address without port", ["imap_listen 127.0.0.1"]),
    ("garbage address", ["smtp_listen not an address!"]),
    ("bad network", ["relay_networks 10.0.0.0/99"]),
    ("bad log level", ["log_level loud"]),
    ("bad lock method", ["lock dotlock chmod"]),
    ("key without value", ["max_connections"]),
    ("bad relayhost", ["hostname a.example", "relayhost smart..example"]),
    ("relayhost with a bad port", ["relayhost smart.example:0"]),
    ("relayhost with a non-numeric port", ["relayhost smart.example:smtp"]),
    ("relayhost IPv6 without brackets", ["relayhost 2001:db8::25"]),
    ("bad route domain", ["route *.example mx.example"]),
    ("bad route host", ["route b.example -mx.example"]),
    ("route with a bad port", ["route b.example 127.0.0.1:65536"]),
    ("route without a host", ["", "route b.example"]),
    ("DNS server by name", ["dns_servers ns1.example"]),
    ("DNS server with a bad port", ["dns_servers [::1]:0"]),
    ("queue_lifetime under a minute", ["queue_lifetime 30"]),
    ("sender_login_check not yes or no", ["sender_login_check on"]),
    ("relay_port out of range", ["relay_port 70000"]),
    ("relay_max zero", ["relay_max 0"]),
]

for _d, _lines in BAD:
    def _mk(desc, lines):
        @case("-t rejects %s with FILE:LINE" % desc)
        def _():
            conf = "\n".join(lines) + "\n"
            sb = Sandbox(raw_conf=conf, start=False)
            rc, out, err = sb.run("-t")
            e = txt(err)
            check(rc != 0, "%r: exit 0, want non-zero (stderr %r)" %
                  (lines[-1], e))
            want = r"etc/yubin\.conf:%d:" % len(lines)
            check(re.search(want, e) is not None, "%r: stderr %r lacks %s" %
                  (lines[-1], e, want.replace("\\", "")))
            # and the daemon refuses to start with it
            rc, out, err = sb.run(timeout=10)
            check(rc != 0, "%r: daemon started anyway (exit %r)" %
                  (lines[-1], rc))
            check(not os.path.exists(sb.path("run", "ports")),
                  "%r: run/ports written by a refused config" % lines[-1])
    _mk(_d, _lines)


@case("-t reports every error, each with its line")
def _():
    conf = "bogus1 x\nhostname ok.example\nmax_connections x\nbogus2\n"
    sb = Sandbox(raw_conf=conf, start=False)
    rc, out, err = sb.run("-t")
    e = txt(err)
    check(rc != 0, "exit 0 for 3 errors")
    for n in (1, 3, 4):
        check(re.search(r"etc/yubin\.conf:%d:" % n, e) is not None,
              "no message for line %d in %r" % (n, e))
    check(re.search(r"etc/yubin\.conf:2:", e) is None,
          "message for good line 2 in %r" % e)


@case("-n prints every key with the effective values, in file syntax")
def _():
    sb = Sandbox(conf="max_connections 77\nsmtp_timeout 42\n"
                      "local_domains a.example b.example\n", start=False)
    rc, out, err = sb.run("-n")
    o = txt(out)
    check(rc == 0, "-n exit %r, stderr %r" % (rc, txt(err)))
    for k in KEYS:
        check(re.search(r"(?m)^%s(\s|$)" % k, o) is not None,
              "-n output lacks key %s" % k)
    check(re.search(r"(?m)^max_connections\s+77\s*$", o) is not None,
          "-n: max_connections 77 not shown: %r" % o)
    check(re.search(r"(?m)^smtp_timeout\s+42\s*$", o) is not None,
          "-n: smtp_timeout 42 not shown")
    check(re.search(r"(?m)^hostname\s+%s\s*$" % re.escape(HOSTNAME), o)
          is not None, "-n: hostname not shown")
    check(re.search(r"(?m)^local_domains\s+a\.example\s+b\.example\s*$", o)
          is not None, "-n: local_domains not shown")
    # sandbox paths point into the sandbox
    check(re.search(r"(?m)^spool_dir\s+%s/mail/?\s*$" % re.escape(sb.dir), o)
          is not None, "-n: spool_dir not %s/mail" % sb.dir)
    # what -n prints reads back as a valid configuration, to the same
    sb2 = Sandbox(raw_conf=o, start=False)
    rc2, out2, err2 = sb2.run("-t")
    check(rc2 == 0, "-n output does not pass -t: %r" % txt(err2))
    rc3, out3, err3 = sb2.run("-n")
    # (paths -n printed for sb now name sb explicitly)
    o3 = txt(out3).replace(sb2.dir, "DIR").replace(sb.dir, "DIR")
    check(o3 == o.replace(sb.dir, "DIR"),
          "-n of the -n output differs:\n%s\n---\n%s" % (o, txt(out3)))


@case("-n shows the outbound keys normalized, and their defaults")
def _():
    sb = Sandbox(conf="relayhost Smart.Example:2525\n"
                      "route B.Example [IPv6:::1]\n"
                      "route c.example 192.0.2.7\n"
                      "route b.example 127.0.0.1:2526\n"
                      "dns_servers 127.0.0.1 ::1\n", start=False)
    rc, out, err = sb.run("-n")
    o = txt(out)
    check(rc == 0, "-n exit %r, stderr %r" % (rc, txt(err)))
    for ln in ("relayhost smart.example:2525",
               "route b.example [127.0.0.1]:2526",
               "route c.example [192.0.2.7]:25",
               "dns_servers 127.0.0.1:53 [::1]:53",
               "relay_port 25", "relay_max 100", "relay_max_per_host 20",
               "queue_lifetime 432000", "resolv_conf /etc/resolv.conf",
               "sender_login_check yes"):
        check(re.search(r"(?m)^%s$" % re.escape(ln), o) is not None,
              "-n lacks the line %r:\n%s" % (ln, o))
    check(len(re.findall(r"(?m)^route ", o)) == 2,
          "-n: the later route for b.example did not replace the first")
    sb = Sandbox(raw_conf=False, start=False)
    rc, out, err = sb.run("-n")
    o = txt(out)
    for ln in ("relayhost", "route", "dns_servers"):
        check(re.search(r"(?m)^%s$" % ln, o) is not None,
              "-n default: %r not shown bare" % ln)


@case("-n without a config file shows the sandbox defaults")
def _():
    sb = Sandbox(raw_conf=False, start=False)
    rc, out, err = sb.run("-n")
    o = txt(out)
    check(rc == 0, "-n exit %r, stderr %r" % (rc, txt(err)))
    for k, v in (("smtp_listen", "127.0.0.1:2525"),
                 ("submission_listen", "127.0.0.1:2587"),
                 ("pop3_listen", "127.0.0.1:1110"),
                 ("imap_listen", "127.0.0.1:1143")):
        check(re.search(r"(?m)^%s\s+%s\s*$" % (k, re.escape(v)), o)
              is not None, "-n default %s %s not shown" % (k, v))


@case("a bare listen key turns the listener off")
def _():
    sb = Sandbox(conf="submission_listen\nimap_listen\n")
    check(set(sb.ports) == {"smtp", "pop3"},
          "listeners %r, want smtp and pop3 only" % sorted(sb.ports))
    check(sb.stop() == 0, "exit after SIGTERM")


@case("two addresses for one protocol: both listed, both answer")
def _():
    sb = Sandbox(conf="smtp_listen 127.0.0.1:0 127.0.0.2:0\n")
    check(len(sb.ports.get("smtp", [])) == 2, "smtp lines: %r" %
          sb.ports.get("smtp"))
    for addr, port in sb.ports.get("smtp", []):
        greet(port, "smtp", host=addr).quit("smtp")
    check(sorted(a for a, p in sb.ports.get("smtp", [])) ==
          ["127.0.0.1", "127.0.0.2"], "smtp addresses %r" %
          sb.ports.get("smtp"))
    check(sb.stop() == 0, "exit after SIGTERM")


@case("-V prints the version")
def _():
    sb = Sandbox(start=False)
    rc, out, err = sb.run("-V")
    o = txt(out)
    check(rc == 0, "-V exit %r" % rc)
    check(re.search(r"(?i)yubin.*[0-9]+\.[0-9]+", o) is not None,
          "-V stdout %r has no 'yubin ... N.N'" % o)


@case("unknown option -> usage on stderr, non-zero exit")
def _():
    sb = Sandbox(start=False)
    rc, out, err = sb.run("-Q")
    check(rc != 0, "-Q exit 0")
    check(txt(err).strip() != "", "-Q printed nothing on stderr")
    rc, out, err = sb.run("-i", "gopher", input=b"")
    check(rc != 0, "-i gopher exit 0")


@case("missing sandbox directories are created; pid file; log file")
def _():
    sb = Sandbox()
    for d in ("mail", "queue", "home", "log", "run"):
        check(os.path.isdir(sb.path(d)), "%s/ not created" % d)
    with open(sb.path("run", "yubind.pid")) as f:
        check(f.read().strip() == str(sb.pid), "pid file content")
    c = greet(sb.port("smtp"), "smtp")
    c.quit("smtp")
    check(sb.stop() == 0, "exit after SIGTERM")
    check(os.path.isfile(sb.path("log", "yubind.log")),
          "log/yubind.log not written")
    check(sb.log_text().strip() != "", "log/yubind.log is empty")
    check(sb.stderr_text().strip() != "", "nothing logged on stderr")


@case("port in use -> non-zero exit naming address, port and error")
def _():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        sb = Sandbox(conf="smtp_listen 127.0.0.1:%d\n" % port, start=False)
        rc, out, err = sb.run(timeout=10)
        e = txt(err)
        check(rc != 0, "exit %r with port %d in use" % (rc, port))
        check("127.0.0.1:%d" % port in e, "stderr %r does not name "
              "127.0.0.1:%d" % (e, port))
        check(re.search(r"(?i)address already in use", e) is not None,
              "stderr %r does not give the error (Address already in use)"
              % e)
        check(not os.path.exists(sb.path("run", "ports")),
              "run/ports written although a bind failed")
    finally:
        busy.close()


SESSIONS = {
    "smtp": (b"NOOP\r\nnoop\r\nBOGUS\r\nQUIT\r\n",
             [PROTO["smtp"].greeting, r"250 2\.0\.0 .*", r"250 2\.0\.0 .*",
              r"500 5\.5\.2( .*)?", r"221 2\.0\.0( .*)?"]),
    "submission": (b"NOOP\r\nQUIT\r\n",
                   [PROTO["smtp"].greeting, r"250 2\.0\.0 .*",
                    r"221 2\.0\.0( .*)?"]),
    "pop3": (b"NOOP\r\nBOGUS\r\nQUIT\r\n",
             [PROTO["pop3"].greeting, r"\+OK( .*)?", r"-ERR( .*)?",
              r"\+OK( .*)?"]),
    "imap": (b"a1 CAPABILITY\r\na2 NOOP\r\na3 BOGUS\r\na4 LOGOUT\r\n",
             [PROTO["imap"].greeting, r"\* CAPABILITY IMAP4rev1( .*)?",
              r"a1 OK( .*)?", r"a2 OK( .*)?", r"a3 BAD( .*)?",
              r"\* BYE( .*)?", r"a4 OK( .*)?"]),
}


def check_transcript(proto, out, want):
    lines = out.split(b"\r\n")
    check(lines[-1] == b"", "%s: output does not end with CRLF: %r" %
          (proto, out[-50:]))
    lines = lines[:-1]
    check(b"\n" not in b"".join(lines), "%s: bare LF in output %r" %
          (proto, out))
    check(len(lines) == len(want), "%s: %d lines, want %d: %r" %
          (proto, len(lines), len(want), out))
    for ln, w in zip(lines, want):
        check(re.fullmatch(w, txt(ln)) is not None,
              "%s: line %r does not match /%s/" % (proto, ln, w))


for _p in SESSIONS:
    def _mk(proto):
        @case("-i %s: a session through pipes" % proto)
        def _():
            inp, want = SESSIONS[proto]
            rc, out, err = run_inetd(proto, inp)
            check(rc == 0, "%s: exit %r, stderr %r" % (proto, rc, txt(err)))
            check_transcript(proto, out, want)

        @case("-i %s: end of input without quit ends the session" % proto)
        def _():
            inp, want = SESSIONS[proto]
            first = inp.split(b"\r\n")[0] + b"\r\n"
            rc, out, err = run_inetd(proto, first)   # fails if it hangs
            g = out.split(b"\r\n")[0].decode("latin-1")
            check(re.fullmatch(PROTO[proto].greeting, g) is not None,
                  "%s: first line %r is not the greeting" % (proto, g))
            check(len(out.split(b"\r\n")) >= 3, "%s: %r not answered: %r"
                  % (proto, first, out))
            rc, out, err = run_inetd(proto, b"")
            check(len(out.split(b"\r\n")) <= 3, "%s: odd output at EOF: %r"
                  % (proto, out))
    _mk(_p)


@case("-i pop3: APOP timestamps differ between inetd sessions")
def _():
    sb = Sandbox(start=False)
    st = []
    for i in range(3):
        rc, out, err = sb.run_inetd("pop3", b"QUIT\r\n")
        m = re.search(rb"<([0-9]+)\.[0-9.]+@[^>]+>", out)
        if check(m is not None, "no timestamp in %r" % out):
            st.append(m.group(0))
    check(len(set(st)) == len(st), "repeated timestamps %r" % st)


@case("-i with -f CONF (no sandbox)")
def _():
    sb = Sandbox(start=False, conf="hostname inetd-f.example\n")
    argv = [yubind_path(), "-f", sb.conf_path, "-i", "smtp"]
    import subprocess
    p = subprocess.run(argv, input=b"NOOP\r\nQUIT\r\n", capture_output=True,
                       timeout=10)
    check(p.returncode == 0, "exit %r, stderr %r" % (p.returncode,
                                                      txt(p.stderr)))
    check(re.match(rb"220 inetd-f\.example ESMTP yubin[^\r\n]*\r\n250 2\.0\.0"
                   rb"[^\r\n]*\r\n221 2\.0\.0[^\r\n]*\r\n$", p.stdout)
          is not None, "transcript %r" % p.stdout)


@case("-i with a bad config fails without a session")
def _():
    sb = Sandbox(raw_conf="hostname x.example\nno_such_key 1\n", start=False)
    rc, out, err = sb.run_inetd("smtp", b"QUIT\r\n")
    check(rc != 0, "exit 0 with a bad config")
    # no session: at most a temporary-failure line (421), never a greeting
    check(re.fullmatch(rb"(421 [^\r\n]*\r\n)?", out) is not None,
          "stdout %r: a session was served with a broken config" % out)
    # Under a real inetd, stderr is the socket, so the message may go to
    # syslog or the log file instead; only note where it went.
    if "yubin.conf:2:" not in txt(err) + sb.log_text():
        note("-i with a bad config: 'yubin.conf:2:' neither on stderr nor "
             "in log/yubind.log (syslog only?)")


main(timeout=180)

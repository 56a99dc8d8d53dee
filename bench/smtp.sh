#!/bin/sh
# bench/smtp.sh - SMTP delivery benchmark: yubind side by side with Postfix
# (5,000 x 4 KiB messages into one mbox over 1, 10 and 50 connections,
# 3 interleaved runs each; see bench/smtp.py for what is measured).
#
# YUBIND names the binary; otherwise ./yubind or ../yubind is used.
# PEERS is the shared peer kit (default ../shared/bench/peers next to the
# source tree), PFROOT the unpacked Postfix .deb (/tmp/peerbench/pfroot).
# Postfix needs root and the users postfix, postdrop (group) and bench4:
#   bench/smtp.sh --setup-postfix     (apt-get download postfix, dpkg -x,
#                                      groupadd/useradd; once, as root)
# Without them Postfix is skipped (the reason is printed) and yubind is
# compared with the baseline figures.  Arguments go to bench/smtp.py,
# e.g. bench/smtp.sh -n 1000 -c 10 --reps 1 --no-strace
# SMTP_BENCH=0 skips it under make bench.

here=`dirname "$0"`
. "$here/common.sh"
bench_skip SMTP_BENCH
bench_need
bench_peers

echo "== SMTP delivery into mbox: $YUBIND (Postfix kit: $PEERS)"
exec "$PYTHON" "$here/smtp.py" "$@"

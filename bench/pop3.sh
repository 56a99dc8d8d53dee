#!/bin/sh
# bench/pop3.sh - POP3 download benchmark: yubind side by side with Dovecot
# and popa3d (login+STAT, UIDL, RETR of every message on 10,000- and
# 100,000-message mboxes, 3 interleaved runs; see bench/pop3.py).
#
# YUBIND names the binary; otherwise ./yubind or ../yubind is used.
# PEERS is the shared peer kit (default ../shared/bench/peers next to the
# source tree; mkmbox.py is taken from the directory above it).  The peers
# need root, the packages dovecot-pop3d and ucspi-tcp, popa3d unpacked in
# P3ROOT (/tmp/peerbench/p3root) and the users bench1, bench2, popa3d:
#   bench/pop3.sh --setup-peers      (apt-get, dpkg -x, useradd; once)
# Without them a peer is skipped (the reason is printed) and yubind is
# compared with the baseline figures.  The test mboxes (51 MB and 514 MB)
# are generated once into POP3_WORK/data (default /tmp/yubin-pop3bench).
# Arguments go to bench/pop3.py, e.g. bench/pop3.sh --sizes 10k --reps 1
# or --pin same|split (CPU placement; the lockstep figures depend on it).
# POP3_BENCH=0 skips it under make bench.

here=`dirname "$0"`
. "$here/common.sh"
bench_skip POP3_BENCH
bench_need
bench_peers

echo "== POP3 download of big mboxes: $YUBIND (peer kit: $PEERS)"
exec "$PYTHON" "$here/pop3.py" "$@"

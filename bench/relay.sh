#!/bin/sh
# bench/relay.sh - relay benchmark (issue 6): 5,000 x 4 KiB messages to
# 50 recipient domains injected into yubind and into Postfix, each
# relaying them over loopback to the same sink (bench/relaysink.c, built
# with cc), 3 interleaved runs each; see bench/relay.py for what is
# measured.
#
# YUBIND names the binary; otherwise ./yubind or ../yubind is used.
# PEERS is the shared peer kit (default ../shared/bench/peers next to the
# source tree), PFROOT the unpacked Postfix .deb (/tmp/peerbench/pfroot);
# Postfix needs root, the user postfix and the group postdrop
# (bench/relay.sh --setup-postfix, once); without them it is skipped and
# the reason printed.  Arguments go to bench/relay.py, e.g.
#   bench/relay.sh -n 1000 --reps 1 --yubin-conf 'relay_max 50'
# RELAY_BENCH=0 skips it under make bench.

here=`dirname "$0"`
. "$here/common.sh"
bench_skip RELAY_BENCH
bench_need
bench_peers

echo "== SMTP relay to 50 domains: $YUBIND (Postfix kit: $PEERS)"
exec "$PYTHON" "$here/relay.py" "$@"

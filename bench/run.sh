#!/bin/sh
# bench/run.sh - the project's benchmarks (make bench).  Not part of make
# check: the figures depend on the machine; quote medians of several runs.
#
# YUBIND names the binary; otherwise ./yubind or ../yubind is used.
# Extra arguments go to bench/idle.py (e.g. --proto pop3 -k 500).

here=`dirname "$0"`
. "$here/common.sh"
bench_need

sh "$here/smtp.sh" || echo "bench/run.sh: bench/smtp.sh failed" >&2
sh "$here/pop3.sh" || echo "bench/run.sh: bench/pop3.sh failed" >&2
sh "$here/imap.sh" || echo "bench/run.sh: bench/imap.sh failed" >&2
sh "$here/relay.sh" || echo "bench/run.sh: bench/relay.sh failed" >&2
echo "== idle connections: $YUBIND"
exec "$PYTHON" "$here/idle.py" "$@"

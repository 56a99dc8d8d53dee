#!/bin/sh
# bench/run.sh - the project's benchmarks (make bench).  Not part of make
# check: the figures depend on the machine; quote medians of several runs.
#
# YUBIND names the binary; otherwise ./yubind or ../yubind is used.
# Extra arguments go to bench/idle.py (e.g. --proto pop3 -k 500).

here=`dirname "$0"`
if test -z "$YUBIND"; then
	for y in ./yubind ../yubind "$here/../yubind"; do
		if test -x "$y"; then
			YUBIND=`cd \`dirname "$y"\` && pwd`/yubind
			break
		fi
	done
fi
if test -z "$YUBIND" || test ! -x "$YUBIND"; then
	echo "bench/run.sh: no yubind (build it, or set YUBIND)" >&2
	exit 1
fi
export YUBIND
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "bench/run.sh: $PYTHON not found" >&2
	exit 1
fi

sh "$here/smtp.sh" || echo "bench/run.sh: bench/smtp.sh failed" >&2
sh "$here/pop3.sh" || echo "bench/run.sh: bench/pop3.sh failed" >&2
sh "$here/imap.sh" || echo "bench/run.sh: bench/imap.sh failed" >&2
echo "== idle connections: $YUBIND"
exec "$PYTHON" "$here/idle.py" "$@"

# bench/common.sh - sourced by bench/run.sh and the benchmarks' wrappers
# (smtp.sh, pop3.sh, imap.sh), which set here (their directory) first:
# one place that finds the binary, Python and the peer kit, so that make
# bench and a wrapper run by hand measure the same things.

me=bench/`basename "$0"`

# bench_skip VAR: exits (successfully) when VAR is 0, so that make bench
# can leave out a benchmark whose peers or time are not at hand.
bench_skip() {
	eval "bench_v=\${$1:-1}"
	if test "$bench_v" = 0; then
		echo "$me: skipped ($1=0)"
		exit 0
	fi
}

# bench_need: YUBIND (the binary under test: as given, else ./yubind or
# ../yubind or the one next to bench/, made absolute because the
# benchmarks run it from their own directories) and PYTHON, exported.
bench_need() {
	if test -z "$YUBIND"; then
		for y in ./yubind ../yubind "$here/../yubind"; do
			if test -x "$y"; then
				YUBIND=`cd \`dirname "$y"\` && pwd`/yubind
				break
			fi
		done
	fi
	if test -z "$YUBIND" || test ! -x "$YUBIND"; then
		echo "$me: no yubind (build it, or set YUBIND)" >&2
		exit 1
	fi
	export YUBIND
	PYTHON=${PYTHON:-python3}
	if ! command -v "$PYTHON" >/dev/null 2>&1; then
		echo "$me: $PYTHON not found" >&2
		exit 1
	fi
}

# bench_peers: PEERS, the shared peer kit, defaults to ../shared/bench/peers
# next to the source tree (where the project's shared/ is checked out).
bench_peers() {
	if test -z "$PEERS"; then
		top=`cd "$here/.." && pwd`
		PEERS=$top/../shared/bench/peers
		export PEERS
	fi
}

#!/bin/sh
# bench/imap.sh - IMAP benchmark: yubind side by side with Dovecot's IMAP
# (and GNU mailutils imap4d if installed): SELECT cold and warm, FETCH 1:*
# (FLAGS RFC822.SIZE ENVELOPE) cold and warm, FETCH 1:* BODY.PEEK[] MB/s
# with a NOOP probe on a second connection meanwhile, LOGOUT and the time
# until the server is done after it, RSS per message; on 10,000- and
# 100,000-message mboxes (3 interleaved runs; see bench/imap.py).
#
# YUBIND names the binary; otherwise ./yubind or ../yubind is used.
# PEERS is the shared peer kit (default ../shared/bench/peers next to the
# source tree; mkmbox.py is taken from the directory above it).  The peers
# need root, the package dovecot-imapd (mailutils-imap4d optional) and
# the users bench1, bench2 (password benchpass):
#   bench/imap.sh --setup-peers      (apt-get, useradd; once)
# Without them a peer is skipped (the reason is printed) and yubind is
# compared with the baseline figures.  The test mboxes (51 MB and 514 MB)
# are generated once into IMAP_WORK/data (default /tmp/yubin-imapbench; the
# POP3 bench's copies are used if present).
# Arguments go to bench/imap.py, e.g. bench/imap.sh --sizes 10k --reps 1
# or --servers yubind,dovecot.  IMAP_BENCH=0 skips it under make bench.

here=`dirname "$0"`
. "$here/common.sh"
bench_skip IMAP_BENCH
bench_need
bench_peers

# the commit measured goes into the report (+changes: with edits not
# committed yet), so that figures can be told apart later
tree=`cd "$here/.." && git rev-parse --short HEAD 2>/dev/null`
if test -n "$tree" && test -n "`cd \"$here/..\" && git status --porcelain --untracked-files=no 2>/dev/null`"; then
	tree="$tree+changes"
fi

YUBIN_TREE=${YUBIN_TREE:-$tree}
export YUBIN_TREE
echo "== IMAP open and bulk FETCH of big mboxes: $YUBIND${tree:+ (tree $tree)} (peer kit: $PEERS)"
exec "$PYTHON" "$here/imap.py" "$@"

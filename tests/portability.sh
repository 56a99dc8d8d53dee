#!/bin/sh
# portability.sh - "make check-portability": builds yubin out of tree with
# other compilers, another libc, 32-bit, big-endian (cross + qemu) and
# with every compat/ replacement forced on, and reports PASS/FAIL/SKIP
# per item.  DESIGN.md: portability is proven, not assumed.
#
# Environment:
#   PORT_TREE  a clean source tree with configure in it (make
#              check-portability passes one made by "make distdir"; without
#              it, this script runs "make distdir" in the current
#              directory, which must be a configured build directory)
#   PORT_DIR   scratch directory for the builds (default ./port)
#   PORT_ONLY  space-separated item names to run (default: all)
#   MAKE       make program (default make)
#   CI         "true": a missing compiler is a FAIL, not a SKIP (CI
#              installs them all, see .ci/run)
#
# Items: gcc clang pcc tcc musl m32 sparc64 forced noipv6 asan.
# Exit status: 0 if no item failed.

MAKE=${MAKE:-make}
PORT_DIR=${PORT_DIR:-`pwd`/port}
JOBS=${PORT_JOBS:--j2}
ITEMS=${PORT_ONLY:-"gcc clang pcc tcc musl m32 sparc64 forced noipv6 asan"}
STRICT="-std=c89 -pedantic -Wall -Wextra -Werror -O2"
# Long enough for a full "make check"; a hung test must not hang CI.
ITEM_TIMEOUT=${PORT_TIMEOUT:-600}

mkdir -p "$PORT_DIR" || exit 1
PORT_DIR=`cd "$PORT_DIR" && pwd`

if test -z "$PORT_TREE"; then
	PORT_TREE=$PORT_DIR/src
	rm -rf "$PORT_TREE"
	$MAKE distdir distdir="$PORT_TREE" >"$PORT_DIR/distdir.log" 2>&1 || {
		echo "FAIL: make distdir (see $PORT_DIR/distdir.log)"
		exit 1
	}
fi
if test ! -x "$PORT_TREE/configure"; then
	echo "FAIL: $PORT_TREE/configure not found"
	exit 1
fi
# The builds must not write into the sources (as in make distcheck).
chmod -R a-w "$PORT_TREE" 2>/dev/null

npass=0 nfail=0 nskip=0
summary=

have() {
	command -v "$1" >/dev/null 2>&1
}

with_timeout() {
	if have timeout; then
		timeout "$ITEM_TIMEOUT" "$@"
	else
		"$@"
	fi
}

# result NAME PASS|FAIL|SKIP WHY
result() {
	line="$2: $1${3:+ ($3)}"
	echo "$line"
	summary="$summary$line
"
	case $2 in
	PASS) npass=`expr $npass + 1` ;;
	FAIL) nfail=`expr $nfail + 1` ;;
	SKIP) nskip=`expr $nskip + 1` ;;
	esac
}

# missing NAME WHAT: a tool is not installed.
missing() {
	if test "x$CI" = xtrue; then
		result "$1" FAIL "$2 not installed; .ci/run should install it"
	else
		result "$1" SKIP "$2 not installed"
	fi
}

# Shows the end of a failed item's log, and of the failed tests' logs.
show_failure() {
	echo "---- last lines of $1/build.log ----"
	tail -n 40 "$1/build.log"
	for t in `find "$1/tests" -name '*.trs' 2>/dev/null`; do
		if grep -E '^:test-result: (FAIL|ERROR|XPASS)' "$t" >/dev/null; then
			l=`echo "$t" | sed 's/\.trs$/.log/'`
			echo "---- $l ----"
			tail -n 40 "$l"
		fi
	done
	echo "----"
}

# build NAME CHECK CONFIGURE-ARGS...
#   CHECK: none (make only), unit (make check of the C unit tests),
#          full (make check).  $LOG_COMPILER, if set, runs the tests.
build() {
	name=$1 check=$2
	shift 2
	dir=$PORT_DIR/$name
	chmod -R u+w "$dir" 2>/dev/null
	rm -rf "$dir"
	mkdir -p "$dir" || return 1
	(
		cd "$dir" || exit 1
		echo "+ $PORT_TREE/configure $*"
		"$PORT_TREE/configure" "$@" || exit 1
		echo "+ $MAKE $JOBS"
		$MAKE $JOBS || exit 1
		# TESTS='$(check_PROGRAMS)' reaches make unexpanded: the C
		# unit tests only, however many there are.
		case $check in
		none) exit 0 ;;
		unit) set -- check TESTS='$(check_PROGRAMS)' ;;
		full) set -- check ;;
		mail) set -- check TESTS="\$(check_PROGRAMS) $ASAN_TESTS" ;;
		esac
		echo "+ $MAKE $JOBS $*${LOG_COMPILER:+ LOG_COMPILER='$LOG_COMPILER'}"
		if test -n "$LOG_COMPILER"; then
			with_timeout $MAKE $JOBS "$@" LOG_COMPILER="$LOG_COMPILER"
		else
			with_timeout $MAKE $JOBS "$@"
		fi
	) >"$dir/build.log" 2>&1
}

# run_item NAME DESCRIPTION CHECK CONFIGURE-ARGS...
run_item() {
	n=$1 desc=$2
	shift 2
	t0=`date +%s`
	if build "$n" "$@"; then
		if test -n "$post" && ! $post "$PORT_DIR/$n" >>"$PORT_DIR/$n/build.log" 2>&1; then
			show_failure "$PORT_DIR/$n"
			result "$n" FAIL "$desc: `tail -n 1 "$PORT_DIR/$n/build.log"`"
		else
			result "$n" PASS "$desc, `expr \`date +%s\` - $t0`s"
		fi
	else
		show_failure "$PORT_DIR/$n"
		result "$n" FAIL "$desc: see $PORT_DIR/$n/build.log"
	fi
	post=
}

# ---- checks run after a build -----------------------------------------

check_bigendian() {
	if grep '^# *define WORDS_BIGENDIAN 1' "$1/config.h" >/dev/null; then
		echo "WORDS_BIGENDIAN is defined"
	else
		echo "WORDS_BIGENDIAN is NOT defined in config.h"
		return 1
	fi
}

# Every forced function must be in libcompat.a as yubin_X, test_compat
# must contain it, and yubind must not call the system's X anywhere.
FORCED_FUNCS="snprintf vsnprintf strlcpy strlcat getaddrinfo freeaddrinfo \
gai_strerror getnameinfo inet_pton inet_ntop lockf fsync setsid seteuid \
setegid strerror initgroups"
check_forced() {
	ok=0
	for f in $FORCED_FUNCS; do
		if ! nm "$1/compat/libcompat.a" 2>/dev/null |
		    grep " T yubin_$f\$" >/dev/null; then
			echo "libcompat.a lacks yubin_$f"; ok=1
		fi
		if ! nm "$1/tests/test_compat" | grep " T yubin_$f\$" >/dev/null; then
			echo "tests/test_compat does not contain yubin_$f"; ok=1
		fi
		if nm "$1/yubind" | grep " U $f\$" >/dev/null; then
			echo "yubind calls the system's $f, not yubin_$f"; ok=1
		fi
	done
	for v in HAVE_C99_SNPRINTF HAVE_STRLCPY HAVE_SOCKLEN_T HAVE_LOCKF \
	    HAVE_STRUCT_ADDRINFO HAVE_GETNAMEINFO HAVE_INET_PTON; do
		if grep "^#define $v 1" "$1/config.h" >/dev/null; then
			echo "config.h still defines $v"; ok=1
		fi
	done
	used=`nm "$1/yubind" | sed -n 's/.* T yubin_\([a-z_]*\)$/\1/p' |
	    tr '\n' ' '`
	test $ok = 0 && echo "replacements linked; yubind uses: $used"
	return $ok
}

# ---- the items ---------------------------------------------------------

item_gcc() {
	have gcc || { missing gcc gcc; return; }
	run_item gcc "gcc $STRICT, make check" full CC=gcc CFLAGS="$STRICT"
}

item_clang() {
	have clang || { missing clang clang; return; }
	run_item clang "clang strict + -Wdeclaration-after-statement, unit tests" \
	    unit CC=clang CFLAGS="$STRICT -Wdeclaration-after-statement"
}

# pcc and tcc accept C99 silently (LAB.md): they are here as different
# compilers with glibc's headers, not as strictness checks.  tcc -static
# does not work with glibc, so both link dynamically.
item_pcc() {
	have pcc || { missing pcc pcc; return; }
	run_item pcc "pcc, make" none CC=pcc CFLAGS="-O"
}

item_tcc() {
	have tcc || { missing tcc tcc; return; }
	run_item tcc "tcc -Wall, make" none CC=tcc CFLAGS="-Wall"
}

item_musl() {
	have musl-gcc || { missing musl musl-gcc; return; }
	run_item musl "musl-gcc $STRICT, unit tests" unit \
	    CC=musl-gcc CFLAGS="$STRICT"
}

# gcc-multilib conflicts with the Debian cross compilers, and without it
# /usr/include/asm is gone; -isystem brings it back (LAB.md).  Try the
# plain way first, so this works whatever was installed in which order.
m32_cc() {
	printf '#include <errno.h>\n#include <sys/socket.h>\nint main(void) { return errno; }\n' \
	    >"$PORT_DIR/m32.c"
	for extra in "" "-isystem /usr/include/x86_64-linux-gnu"; do
		if gcc -m32 $extra -o "$PORT_DIR/m32" "$PORT_DIR/m32.c" \
		    >/dev/null 2>&1 && "$PORT_DIR/m32"; then
			echo "gcc -m32${extra:+ $extra}"
			rm -f "$PORT_DIR/m32" "$PORT_DIR/m32.c"
			return 0
		fi
	done
	rm -f "$PORT_DIR/m32" "$PORT_DIR/m32.c"
	return 1
}

item_m32() {
	have gcc || { missing m32 gcc; return; }
	cc=`m32_cc` || { missing m32 "32-bit gcc support (gcc-12-multilib)"; return; }
	run_item m32 "$cc $STRICT, unit tests" unit CC="$cc" CFLAGS="$STRICT"
}

item_sparc64() {
	have sparc64-linux-gnu-gcc || {
		missing sparc64 "sparc64-linux-gnu-gcc (gcc-sparc64-linux-gnu)"; return; }
	have qemu-sparc64 || { missing sparc64 "qemu-sparc64 (qemu-user)"; return; }
	post=check_bigendian
	# --build too: with binfmt_misc active, --host alone would make
	# configure believe it is not cross compiling (LAB.md).
	LOG_COMPILER="qemu-sparc64 -L /usr/sparc64-linux-gnu" \
	run_item sparc64 "sparc64 big-endian cross, unit tests under qemu" unit \
	    --build=x86_64-pc-linux-gnu --host=sparc64-linux-gnu CFLAGS="$STRICT"
}

item_forced() {
	have gcc || { missing forced gcc; return; }
	have nm || { missing forced nm; return; }
	post=check_forced
	# ac_cv_func_epoll_create=no: the select() loop gets the full make check.
	run_item forced "every compat replacement forced, gcc strict, make check" \
	    full CC=gcc CFLAGS="$STRICT" \
	    ac_cv_func_snprintf=no ac_cv_func_vsnprintf=no \
	    ac_cv_func_strlcpy=no ac_cv_func_strlcat=no \
	    ac_cv_func_getaddrinfo=no ac_cv_type_struct_addrinfo=no \
	    ac_cv_func_getnameinfo=no ac_cv_func_inet_pton=no \
	    ac_cv_func_inet_ntop=no ac_cv_type_socklen_t=no \
	    ac_cv_type_struct_sockaddr_storage=no ac_cv_func_lockf=no \
	    ac_cv_func_fsync=no ac_cv_func_setsid=no ac_cv_func_seteuid=no \
	    ac_cv_func_setegid=no ac_cv_func_strerror=no \
	    ac_cv_func_initgroups=no ac_cv_have_decl_O_NOFOLLOW=no \
	    ac_cv_func_epoll_create=no
}

# A system without IPv6 (struct sockaddr_in6 / AF_INET6): DESIGN.md
# wants IPv6 "where present", so the IPv4-only paths must build and pass.
item_noipv6() {
	have gcc || { missing noipv6 gcc; return; }
	run_item noipv6 "no IPv6 (forced), gcc strict, unit tests" unit \
	    CC=gcc CFLAGS="$STRICT" ac_cv_type_struct_sockaddr_in6=no
}

# AddressSanitizer and UBSan: the daemon aborts on the first bad memory
# access, so the protocol tests of the mail store, POP3 and IMAP fail on
# it (a use after free in COPY was found this way).  Leaks are not
# checked: the one-shot programs (yubin-sendmail) leave theirs to exit.
ASAN_TESTS="tests/proto_pop3.py tests/proto_pop3_view.py tests/proto_imap.py
    tests/proto_imap_fetch.py tests/proto_imap_mime.py tests/proto_mbox_real.py
    tests/proto_delivery.py"
item_asan() {
	have gcc || { missing asan gcc; return; }
	printf 'int main(void){return 0;}\n' >"$PORT_DIR/asan-probe.c"
	if ! gcc -fsanitize=address,undefined -o "$PORT_DIR/asan-probe" \
	    "$PORT_DIR/asan-probe.c" >/dev/null 2>&1; then
		missing asan "gcc -fsanitize=address (libasan)"
		return
	fi
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export ASAN_OPTIONS UBSAN_OPTIONS
	run_item asan "gcc -fsanitize=address,undefined, unit tests and the mail store, POP3 and IMAP protocol tests" \
	    mail CC=gcc CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined"
	unset ASAN_OPTIONS UBSAN_OPTIONS
}

echo "portability: sources $PORT_TREE, builds in $PORT_DIR"
start=`date +%s`
for item in $ITEMS; do
	post=
	LOG_COMPILER=
	case $item in
	gcc|clang|pcc|tcc|musl|m32|sparc64|forced|noipv6|asan) item_$item ;;
	*) result "$item" FAIL "no such item" ;;
	esac
done

echo
echo "==== portability summary (`expr \`date +%s\` - $start`s) ===="
printf '%s' "$summary"
echo "portability: $npass passed, $nfail failed, $nskip skipped"
test $nfail = 0

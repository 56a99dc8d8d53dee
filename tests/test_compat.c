/*
 * test_compat.c - unit tests of compat/: every function a system may
 * lack, called through compat.h by its standard name.  So the same
 * program tests the system's version in a normal build and the
 * replacement in a build with the replacement forced
 * (./configure ac_cv_func_X=no, see tests/portability.sh); the first
 * lines of output say which ones are in use.
 *
 * Exit 0: all passed; 1: something failed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <pwd.h>

/* Not static, so no compiler can prove it NULL and warn about %s. */
char		*test_compat_null;
static int	failures;
static int	ntests;

static void
check(int ok, const char *what, int line)
{
	ntests++;
	if (ok) {
		printf("ok %d - %s\n", ntests, what);
	} else {
		printf("not ok %d - %s (line %d)\n", ntests, what, line);
		failures++;
	}
}
#define CHECK(e)	check((e) != 0, #e, __LINE__)

/* Compares a formatting result with what C99 says it must be. */
static void
check_fmt(const char *got, int r, const char *want, int line)
{
	int	ok = strcmp(got, want) == 0 && r == (int)strlen(want);

	ntests++;
	if (ok)
		printf("ok %d - \"%s\"\n", ntests, want);
	else {
		printf("not ok %d - got \"%s\" (%d), want \"%s\" (%d) (line %d)\n",
		    ntests, got, r, want, (int)strlen(want), line);
		failures++;
	}
}
#define FMT1(want, f, a) do {					\
	char b_[128];						\
	int r_ = snprintf(b_, sizeof(b_), f, a);		\
	check_fmt(b_, r_, want, __LINE__);			\
} while (0)
#define FMT2(want, f, a, b) do {				\
	char b_[128];						\
	int r_ = snprintf(b_, sizeof(b_), f, a, b);		\
	check_fmt(b_, r_, want, __LINE__);			\
} while (0)

static void
report_impl(void)
{
	static const struct {
		const char	*name;
		int		 replaced;
	} impl[] = {
#ifdef HAVE_C99_SNPRINTF
		{ "snprintf", 0 },
#else
		{ "snprintf", 1 },
#endif
#ifdef HAVE_STRLCPY
		{ "strlcpy", 0 },
#else
		{ "strlcpy", 1 },
#endif
#ifdef HAVE_STRLCAT
		{ "strlcat", 0 },
#else
		{ "strlcat", 1 },
#endif
#ifdef YUBIN_REPLACE_GETADDRINFO
		{ "getaddrinfo", 1 },
#else
		{ "getaddrinfo", 0 },
#endif
#ifdef HAVE_GETNAMEINFO
		{ "getnameinfo", 0 },
#else
		{ "getnameinfo", 1 },
#endif
#ifdef HAVE_INET_PTON
		{ "inet_pton", 0 },
#else
		{ "inet_pton", 1 },
#endif
#ifdef HAVE_INET_NTOP
		{ "inet_ntop", 0 },
#else
		{ "inet_ntop", 1 },
#endif
#ifdef HAVE_LOCKF
		{ "lockf", 0 },
#else
		{ "lockf", 1 },
#endif
#ifdef HAVE_FSYNC
		{ "fsync", 0 },
#else
		{ "fsync", 1 },
#endif
#ifdef HAVE_SETSID
		{ "setsid", 0 },
#else
		{ "setsid", 1 },
#endif
#ifdef HAVE_SETEUID
		{ "seteuid", 0 },
#else
		{ "seteuid", 1 },
#endif
#ifdef HAVE_SETEGID
		{ "setegid", 0 },
#else
		{ "setegid", 1 },
#endif
#ifdef HAVE_STRERROR
		{ "strerror", 0 },
#else
		{ "strerror", 1 },
#endif
#ifdef HAVE_INITGROUPS
		{ "initgroups", 0 },
#else
		{ "initgroups", 1 },
#endif
#ifdef HAVE_SOCKLEN_T
		{ "socklen_t", 0 },
#else
		{ "socklen_t", 1 },
#endif
		{ NULL, 0 }
	};
	int	i;

	printf("# replaced by compat/:");
	for (i = 0; impl[i].name != NULL; i++)
		if (impl[i].replaced)
			printf(" %s", impl[i].name);
	printf("\n# from the system:");
	for (i = 0; impl[i].name != NULL; i++)
		if (!impl[i].replaced)
			printf(" %s", impl[i].name);
	printf("\n");
#ifdef WORDS_BIGENDIAN
	printf("# big-endian, sizeof(long) %d, sizeof(void *) %d\n",
	    (int)sizeof(long), (int)sizeof(void *));
#else
	printf("# little-endian, sizeof(long) %d, sizeof(void *) %d\n",
	    (int)sizeof(long), (int)sizeof(void *));
#endif
}

static int
call_vsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return r;
}

static void
test_snprintf(void)
{
	char	buf[8], big[64];
	int	r, x = 0;

	/* Truncation: the result is cut and terminated, r is the full length. */
	memset(buf, 'X', sizeof(buf));
	r = snprintf(buf, sizeof(buf), "%s", "0123456789");
	CHECK(r == 10);
	CHECK(strcmp(buf, "0123456") == 0);
	r = snprintf(buf, sizeof(buf), "%d-%d", 1234, 5678);
	CHECK(r == 9 && strcmp(buf, "1234-56") == 0);
	/* Exactly full: 7 characters + NUL fit in 8. */
	r = snprintf(buf, sizeof(buf), "%s", "abcdefg");
	CHECK(r == 7 && strcmp(buf, "abcdefg") == 0);
	/* Size 1: only the terminator; size 0: nothing written at all. */
	buf[0] = 'X';
	r = snprintf(buf, 1, "%s", "abc");
	CHECK(r == 3 && buf[0] == '\0');
	buf[0] = 'Y';
	r = snprintf(buf, 0, "%s", "abc");
	CHECK(r == 3 && buf[0] == 'Y');
	CHECK(snprintf(NULL, 0, "%d", 123456) == 6);

	FMT2("[   42]", "[%*d]", 5, 42);
	FMT2("[42   ]", "[%*d]", -5, 42);
	FMT1("[ab   ]", "[%-5s]", "ab");
	FMT1("[   ab]", "[%5s]", "ab");
	FMT1("[abc]", "[%.3s]", "abcdef");
	FMT2("[ab]", "[%.*s]", 2, "abcdef");
	FMT1("[4294967295]", "[%lu]", 4294967295UL);
	FMT1("[-2147483647]", "[%ld]", -2147483647L);
	FMT1("[ff]", "[%x]", 255U);
	FMT1("[FF]", "[%X]", 255U);
	FMT1("[0xff]", "[%#x]", 255U);
	FMT1("[017]", "[%#o]", 15U);
	FMT1("[00042]", "[%05d]", 42);
	FMT1("[-0042]", "[%05d]", -42);
	FMT1("[+42]", "[%+d]", 42);
	FMT1("[ 42]", "[% d]", 42);
	FMT1("[  042]", "[%5.3d]", 42);
	FMT1("[]", "[%.0d]", 0);
	FMT1("[0]", "[%d]", 0);
	FMT1("[-32768]", "[%hd]", (short)-32768);
	FMT1("[65535]", "[%hu]", (unsigned short)65535);
	FMT1("[x]", "[%c]", 'x');
	FMT1("[100%]", "[%d%%]", 100);
	FMT1("[(null)]", "[%s]", test_compat_null);
	FMT1("[3.25]", "[%.2f]", 3.25);
	FMT1("[-0.5]", "[%.1f]", -0.5);
	FMT1("[12]", "[%.0f]", 12.0);
	{
		char	lbuf[64];
		long	lmin = LONG_MIN;

		r = snprintf(lbuf, sizeof(lbuf), "%ld", lmin);
		CHECK(r > 0 && lbuf[0] == '-' && (size_t)r == strlen(lbuf));
	}
	/* %p must not crash and must print something. */
	r = snprintf(big, sizeof(big), "%p", (void *)&x);
	CHECK(r > 0 && (size_t)r == strlen(big));
	r = snprintf(big, sizeof(big), "%p", (void *)NULL);
	CHECK(r > 0 && (size_t)r == strlen(big));

	/* vsnprintf, truncating and not. */
	r = call_vsnprintf(buf, sizeof(buf), "%s=%d", "count", 12345);
	CHECK(r == 11 && strcmp(buf, "count=1") == 0);
	r = call_vsnprintf(big, sizeof(big), "%s=%d", "count", 12345);
	CHECK(r == 11 && strcmp(big, "count=12345") == 0);
	r = call_vsnprintf(NULL, 0, "%5s", "a");
	CHECK(r == 5);
}

static void
test_strl(void)
{
	char	buf[8];
	size_t	r;

	r = strlcpy(buf, "hello", sizeof(buf));
	CHECK(r == 5 && strcmp(buf, "hello") == 0);
	r = strlcpy(buf, "0123456789", sizeof(buf));
	CHECK(r == 10 && strcmp(buf, "0123456") == 0);
	r = strlcpy(buf, "abcdefg", sizeof(buf));
	CHECK(r == 7 && strcmp(buf, "abcdefg") == 0);
	buf[0] = 'Z';
	r = strlcpy(buf, "abc", 0);
	CHECK(r == 3 && buf[0] == 'Z');
	r = strlcpy(buf, "", sizeof(buf));
	CHECK(r == 0 && buf[0] == '\0');

	(void)strlcpy(buf, "abc", sizeof(buf));
	r = strlcat(buf, "de", sizeof(buf));
	CHECK(r == 5 && strcmp(buf, "abcde") == 0);
	r = strlcat(buf, "fghij", sizeof(buf));
	CHECK(r == 10 && strcmp(buf, "abcdefg") == 0);
	r = strlcat(buf, "x", sizeof(buf));
	CHECK(r == 8 && strcmp(buf, "abcdefg") == 0);
	/* No terminator within size: returns size + strlen(src). */
	r = strlcat(buf, "xyz", 3);
	CHECK(r == 6);
	(void)strlcpy(buf, "a", sizeof(buf));
	r = strlcat(buf, "b", 0);
	CHECK(r == 1 && strcmp(buf, "a") == 0);
}

static void
test_inet(void)
{
	unsigned char	a[16];
	char		txt[INET6_ADDRSTRLEN];

	CHECK(inet_pton(AF_INET, "1.2.3.4", a) == 1 &&
	    a[0] == 1 && a[1] == 2 && a[2] == 3 && a[3] == 4);
	CHECK(inet_pton(AF_INET, "255.255.255.255", a) == 1 && a[3] == 255);
	CHECK(inet_pton(AF_INET, "0.0.0.0", a) == 1 && a[0] == 0);
	CHECK(inet_pton(AF_INET, "1.2.3", a) == 0);
	CHECK(inet_pton(AF_INET, "256.1.1.1", a) == 0);
	CHECK(inet_pton(AF_INET, "1.2.3.4x", a) == 0);
	CHECK(inet_pton(AF_INET, "1.2.3.4.5", a) == 0);
	CHECK(inet_pton(AF_INET, "", a) == 0);
	CHECK(inet_pton(AF_INET, "1..2.3", a) == 0);
	CHECK(inet_pton(AF_INET, " 1.2.3.4", a) == 0);

	a[0] = 10; a[1] = 0; a[2] = 0; a[3] = 1;
	CHECK(inet_ntop(AF_INET, a, txt, sizeof(txt)) != NULL &&
	    strcmp(txt, "10.0.0.1") == 0);
	CHECK(inet_ntop(AF_INET, a, txt, 5) == NULL);
#ifdef HAVE_IPV6
	CHECK(inet_pton(AF_INET6, "::1", a) == 1 && a[15] == 1 && a[0] == 0);
	CHECK(inet_pton(AF_INET6, "::", a) == 1 && a[15] == 0);
	CHECK(inet_pton(AF_INET6, "fe80::1:2", a) == 1 &&
	    a[0] == 0xfe && a[1] == 0x80 && a[13] == 1 && a[15] == 2);
	CHECK(inet_pton(AF_INET6, "1:2:3:4:5:6:7:8", a) == 1 && a[15] == 8);
	CHECK(inet_pton(AF_INET6, "::ffff:1.2.3.4", a) == 1 &&
	    a[10] == 0xff && a[11] == 0xff && a[12] == 1 && a[15] == 4);
	CHECK(inet_pton(AF_INET6, ":::", a) == 0);
	CHECK(inet_pton(AF_INET6, "1::2::3", a) == 0);
	CHECK(inet_pton(AF_INET6, "1:2:3:4:5:6:7:8:9", a) == 0);
	CHECK(inet_pton(AF_INET6, "12345::", a) == 0);
	CHECK(inet_pton(AF_INET6, "1:", a) == 0);
	CHECK(inet_pton(AF_INET6, "g::", a) == 0);
	(void)inet_pton(AF_INET6, "2001:db8:0:0:1:0:0:1", a);
	CHECK(inet_ntop(AF_INET6, a, txt, sizeof(txt)) != NULL &&
	    strcmp(txt, "2001:db8::1:0:0:1") == 0);
	(void)inet_pton(AF_INET6, "::1", a);
	CHECK(inet_ntop(AF_INET6, a, txt, sizeof(txt)) != NULL &&
	    strcmp(txt, "::1") == 0);
	(void)inet_pton(AF_INET6, "::ffff:10.1.2.3", a);
	CHECK(inet_ntop(AF_INET6, a, txt, sizeof(txt)) != NULL &&
	    strcmp(txt, "::ffff:10.1.2.3") == 0);
#else
	printf("# no IPv6 on this system: IPv6 cases skipped\n");
#endif
}

static void
test_gai(void)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_in	 sin;
	char			 host[NI_MAXHOST], serv[NI_MAXSERV];
	int			 r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	r = getaddrinfo("127.0.0.1", "25", &hints, &res);
	CHECK(r == 0 && res != NULL);
	if (r == 0 && res != NULL) {
		const struct sockaddr_in *s = (const void *)res->ai_addr;

		CHECK(res->ai_family == AF_INET);
		CHECK(res->ai_socktype == SOCK_STREAM);
		CHECK((size_t)res->ai_addrlen == sizeof(struct sockaddr_in));
		CHECK(s->sin_family == AF_INET);
		CHECK(ntohs(s->sin_port) == 25);
		CHECK(ntohl(s->sin_addr.s_addr) == 0x7f000001UL);
		for (ai = res; ai != NULL; ai = ai->ai_next)
			CHECK(ai->ai_socktype == SOCK_STREAM);
		freeaddrinfo(res);
	}

	/* No node + AI_PASSIVE: the wildcard address. */
	res = NULL;
	r = getaddrinfo(NULL, "143", &hints, &res);
	CHECK(r == 0 && res != NULL);
	if (r == 0 && res != NULL) {
		const struct sockaddr_in *s = (const void *)res->ai_addr;

		CHECK(s->sin_addr.s_addr == htonl(INADDR_ANY));
		CHECK(ntohs(s->sin_port) == 143);
		freeaddrinfo(res);
	}

	/* AI_NUMERICHOST refuses names. */
	res = NULL;
	r = getaddrinfo("no-such-host.invalid", NULL, &hints, &res);
	CHECK(r != 0);
	CHECK(gai_strerror(r) != NULL && gai_strerror(r)[0] != '\0');
	if (r == 0)
		freeaddrinfo(res);

	/* AI_CANONNAME on a numeric host gives the host back. */
	hints.ai_flags = AI_NUMERICHOST | AI_CANONNAME;
	res = NULL;
	r = getaddrinfo("127.0.0.1", NULL, &hints, &res);
	CHECK(r == 0 && res != NULL && res->ai_canonname != NULL);
	if (r == 0)
		freeaddrinfo(res);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(110);
	sin.sin_addr.s_addr = htonl(0x7f000001UL);
	r = getnameinfo((struct sockaddr *)&sin, (socklen_t)sizeof(sin),
	    host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV);
	CHECK(r == 0);
	CHECK(strcmp(host, "127.0.0.1") == 0);
	CHECK(strcmp(serv, "110") == 0);
	/* Too small a buffer is an error, not a truncated answer. */
	r = getnameinfo((struct sockaddr *)&sin, (socklen_t)sizeof(sin),
	    host, 4, NULL, 0, NI_NUMERICHOST);
	CHECK(r != 0);
}

static void
test_socklen(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	 sin;
	socklen_t		 len;
	int			 fd;

	CHECK(sizeof(ss) >= sizeof(struct sockaddr_in));
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET;
	CHECK(((struct sockaddr *)&ss)->sa_family == AF_INET);

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1) {
		printf("# socket: %s: socklen_t call skipped\n", strerror(errno));
		return;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000001UL);
	sin.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sin, (socklen_t)sizeof(sin)) == 0) {
		len = (socklen_t)sizeof(ss);
		CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
		CHECK((size_t)len == sizeof(struct sockaddr_in));
		CHECK(ss.ss_family == AF_INET);
	} else
		printf("# bind 127.0.0.1: %s: getsockname skipped\n",
		    strerror(errno));
	(void)close(fd);
}

/* Runs fn in a child; returns its exit status, or -1. */
static int
in_child(int (*fn)(void *), void *arg)
{
	pid_t	pid;
	int	status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
child_tlock(void *arg)
{
	int	fd = open((const char *)arg, O_RDWR);

	if (fd == -1)
		return 2;
	if (lockf(fd, F_TLOCK, (off_t)0) == 0)
		return 0;	/* got the lock: it was not held */
	return (errno == EAGAIN || errno == EACCES) ? 1 : 3;
}

static int
child_setsid(void *arg)
{
	(void)arg;
	return setsid() == getpid() ? 0 : 1;
}

/*
 * initgroups as root must work; as anyone else it must fail (EPERM),
 * not pretend.  In a child, so this process keeps its groups.
 */
static int
child_initgroups(void *arg)
{
	struct passwd	*pw = getpwuid(geteuid());
	int		 r;

	(void)arg;
	if (pw == NULL)
		return 0;	/* no name to ask for: nothing to test */
	r = initgroups(pw->pw_name, pw->pw_gid);
	if (geteuid() == 0)
		return r == 0 ? 0 : 1;
	return r == -1 ? 0 : 1;
}

static void
test_files(void)
{
	char	path[64];
	int	fd, r;

	(void)snprintf(path, sizeof(path), "test_compat.%ld.tmp", (long)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	CHECK(fd != -1);
	if (fd == -1) {
		printf("# %s: %s\n", path, strerror(errno));
		return;
	}
	CHECK(write(fd, "From a\n\n", 8) == 8);
	CHECK(fsync(fd) == 0);
	CHECK(lseek(fd, (off_t)0, SEEK_SET) == 0);
	CHECK(lockf(fd, F_TLOCK, (off_t)0) == 0);
	CHECK(lockf(fd, F_TEST, (off_t)0) == 0);	/* our own lock */
	/* Another process must not get it while we hold it... */
	r = in_child(child_tlock, path);
	CHECK(r == 1);
	CHECK(lockf(fd, F_ULOCK, (off_t)0) == 0);
	/* ...and must once we let go. */
	r = in_child(child_tlock, path);
	CHECK(r == 0);
	(void)close(fd);
	(void)unlink(path);

	CHECK(fsync(-1) == -1);
}

static void
test_misc(void)
{
	CHECK(strerror(ENOENT) != NULL && strerror(ENOENT)[0] != '\0');
	CHECK(strerror(12345) != NULL);
	CHECK(seteuid(geteuid()) == 0);
	CHECK(setegid(getegid()) == 0);
	CHECK(in_child(child_setsid, NULL) == 0);
	CHECK(in_child(child_initgroups, NULL) == 0);
	CHECK((O_NOFOLLOW & O_CREAT) == 0 || O_NOFOLLOW == 0);	/* defined */
}

int
main(void)
{
	/* A child's lockf test must not leave us killed by SIGPIPE etc. */
	(void)signal(SIGPIPE, SIG_IGN);
	report_impl();
	test_snprintf();
	test_strl();
	test_inet();
	test_gai();
	test_socklen();
	test_files();
	test_misc();
	printf("1..%d\n# %d failed\n", ntests, failures);
	return failures == 0 ? 0 : 1;
}

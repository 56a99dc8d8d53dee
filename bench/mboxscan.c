/*
 * mboxscan.c - how fast src/mboxparse.c indexes an mbox file: read()
 * in 256 KB windows, as mailbox.c does, and time the whole parse.
 *
 * usage: mboxscan [-m] FILE
 *   -m  instead, the floor: the same reads with a bare memchr() loop
 *       counting lines, no parsing.
 * Prints messages (or lines), bytes, seconds and MB/s.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mboxparse.h"

#define WINDOW	(256 * 1024)

struct scan {
	int		fd;
	unsigned long	msgs;
	unsigned long	lines;
};

static long
peek(void *arg, off_t off, char *buf, size_t len)
{
	struct scan *sc = arg;

	return (long)pread(sc->fd, buf, len, off);
}

static int
count(void *arg, const struct mbox_msg *m)
{
	struct scan *sc = arg;

	sc->msgs++;
	sc->lines += m->hdr_lines + m->body_lines;
	return 0;
}

static double
now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* The floor: read and find every line end, nothing else. */
static unsigned long
bare(int fd, char *buf, off_t *total)
{
	unsigned long n = 0;
	const char *s, *e, *q;
	ssize_t r;

	while ((r = read(fd, buf, WINDOW)) > 0) {
		*total += r;
		for (s = buf, e = buf + r;
		    (q = memchr(s, '\n', (size_t)(e - s))) != NULL; s = q + 1)
			n++;
	}
	return n;
}

static int
parse(struct scan *sc, off_t size, char *buf, off_t *total)
{
	struct mboxp *p;
	size_t have = 0;
	ssize_t r;
	long used = 0;

	if ((p = mboxp_new(size, peek, count, sc)) == NULL)
		return -1;
	for (;;) {
		r = read(sc->fd, buf + have, WINDOW - have);
		if (r < 0)
			break;
		*total += r;
		have += (size_t)r;
		if (r == 0) {
			used = mboxp_feed(p, *total - (off_t)have, "", 0);
			break;
		}
		used = mboxp_feed(p, *total - (off_t)have, buf, have);
		if (used < 0)
			break;
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
	}
	mboxp_free(p);
	return r < 0 || used < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct scan sc;
	struct stat st;
	off_t total = 0;
	double t0, t;
	char *buf;
	int floor = 0;

	if (argc > 1 && strcmp(argv[1], "-m") == 0) {
		floor = 1;
		argv++;
		argc--;
	}
	if (argc != 2 || (sc.fd = open(argv[1], O_RDONLY)) < 0 ||
	    fstat(sc.fd, &st) < 0 || (buf = malloc(WINDOW)) == NULL) {
		fprintf(stderr, "usage: mboxscan [-m] FILE\n");
		return 2;
	}
	sc.msgs = sc.lines = 0;
	t0 = now();
	if (floor)
		sc.lines = bare(sc.fd, buf, &total);
	else if (parse(&sc, st.st_size, buf, &total) < 0) {
		fprintf(stderr, "mboxscan: %s: not an mbox or read error\n",
		    argv[1]);
		return 1;
	}
	t = now() - t0;
	printf("%s: %lu messages, %lu lines, %ld bytes, %.3f s, %.0f MB/s\n",
	    floor ? "memchr" : "mboxparse", sc.msgs, sc.lines, (long)total, t,
	    t > 0 ? total / t / 1e6 : 0.0);
	free(buf);
	close(sc.fd);
	return 0;
}

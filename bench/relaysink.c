/*
 * relaysink.c - the far end of bench/relay.py: an SMTP server on
 * loopback that accepts every message and checks it.  One process,
 * poll(), PIPELINING; no disk.  bench/relay.py builds it (cc -O2) and
 * reads what it reports on stdout, one line an event:
 *
 *   P port                       listening (first line)
 *   O time conn open             a connection came; open = how many now
 *   C time conn msgs open        it closed after msgs messages
 *   M time conn run seq status rcpts
 *                                a message ended (250 sent), where
 *                                status is ok, badsum (the body's FNV-1a
 *                                is not the one in its X-Bench header),
 *                                badrcpt (the recipient is not
 *                                r<seq>@d<seq mod ndom>.test), nohdr (no
 *                                X-Bench header), barelf (a line ended
 *                                in a bare LF)
 *
 * time is CLOCK_MONOTONIC in seconds (Python's time.monotonic()).
 * The injector writes "X-Bench: RUN SEQ SUM" into each message's
 * header, SUM the 32-bit FNV-1a of its body as sent (CRLF line ends,
 * before dot-stuffing), in hex.
 *
 * usage: relaysink [-p port] [-d ndomains]      (port 0: the kernel's)
 * Ends on SIGTERM or SIGINT.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN	1000
#define RBUF	(256 * 1024)

struct conn {
	int		fd;
	unsigned long	id;
	char		*in;		/* RBUF bytes */
	size_t		inlen;
	char		*out;
	size_t		outlen, outcap, outoff;
	int		data;		/* in DATA */
	int		inbody;		/* past the header's blank line */
	int		quit;
	unsigned long	msgs;
	int		nrcpt;
	char		rcpt[256];
	char		run[64];
	long		seq;
	unsigned long	sum, want;
	int		havehdr, barelf;
};

static struct conn *conns[MAXCONN];
static struct pollfd pfd[MAXCONN + 1];
static int nconn;
static unsigned long nextid = 1;
static int ndom = 50;
static volatile sig_atomic_t stop;

static void
onsig(int s)
{
	(void)s;
	stop = 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
put(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->outlen + n > c->outcap) {
		c->outcap = (c->outlen + n) * 2 + 256;
		c->out = realloc(c->out, c->outcap);
		if (c->out == NULL) {
			perror("relaysink: realloc");
			exit(1);
		}
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static unsigned long
fnv(unsigned long h, const char *p, size_t n)
{
	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h = (h * 16777619UL) & 0xffffffffUL;
	}
	return h;
}

static int
prefix(const char *line, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && strncasecmp(line, p, k) == 0;
}

static void
endmsg(struct conn *c)
{
	const char *st = "ok";
	char want[300];

	c->msgs++;
	sprintf(want, "r%ld@d%ld.test", c->seq, c->seq >= 0 ? c->seq % ndom : 0);
	if (!c->havehdr)
		st = "nohdr";
	else if (c->barelf)
		st = "barelf";
	else if (c->sum != c->want)
		st = "badsum";
	else if (c->nrcpt != 1 || strcasecmp(c->rcpt, want) != 0)
		st = "badrcpt";
	printf("M %.6f %lu %s %ld %s %d\n", now(), c->id,
	    c->havehdr ? c->run : "-", c->seq, st, c->nrcpt);
	put(c, "250 2.0.0 Ok: queued\r\n");
	c->data = 0;
	c->nrcpt = 0;
}

/* one line of the message, without its line end */
static void
dataline(struct conn *c, char *line, size_t n, int crlf)
{
	if (n == 1 && line[0] == '.') {
		endmsg(c);
		return;
	}
	if (!crlf)
		c->barelf = 1;
	if (n > 0 && line[0] == '.') {
		line++;
		n--;
	}
	if (c->inbody) {
		c->sum = fnv(c->sum, line, n);
		c->sum = fnv(c->sum, "\r\n", 2);
		return;
	}
	if (n == 0) {
		c->inbody = 1;
		return;
	}
	if (prefix(line, n, "X-Bench:")) {
		char buf[256];
		size_t k = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;

		memcpy(buf, line, k);
		buf[k] = '\0';
		if (sscanf(buf + 8, " %63s %ld %lx", c->run, &c->seq,
		    &c->want) == 3)
			c->havehdr = 1;
	}
}

static void
command(struct conn *c, char *line, size_t n)
{
	line[n] = '\0';
	if (prefix(line, n, "EHLO")) {
		put(c, "250-sink.test\r\n250-PIPELINING\r\n250-SIZE 100000000"
		    "\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
	} else if (prefix(line, n, "HELO")) {
		put(c, "250 sink.test\r\n");
	} else if (prefix(line, n, "MAIL FROM:")) {
		c->nrcpt = 0;
		put(c, "250 2.1.0 Ok\r\n");
	} else if (prefix(line, n, "RCPT TO:")) {
		char *lt = strchr(line, '<'), *gt;

		if (c->nrcpt == 0) {
			c->rcpt[0] = '\0';
			if (lt != NULL && (gt = strchr(lt, '>')) != NULL &&
			    (size_t)(gt - lt - 1) < sizeof(c->rcpt)) {
				memcpy(c->rcpt, lt + 1, gt - lt - 1);
				c->rcpt[gt - lt - 1] = '\0';
			}
		}
		c->nrcpt++;
		put(c, "250 2.1.5 Ok\r\n");
	} else if (prefix(line, n, "DATA")) {
		if (c->nrcpt == 0) {
			put(c, "554 5.5.1 No valid recipients\r\n");
			return;
		}
		c->data = 1;
		c->inbody = 0;
		c->havehdr = 0;
		c->barelf = 0;
		c->seq = -1;
		c->sum = 2166136261UL;
		c->want = 0;
		put(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
	} else if (prefix(line, n, "RSET")) {
		c->nrcpt = 0;
		put(c, "250 2.0.0 Ok\r\n");
	} else if (prefix(line, n, "NOOP")) {
		put(c, "250 2.0.0 Ok\r\n");
	} else if (prefix(line, n, "QUIT")) {
		put(c, "221 2.0.0 Bye\r\n");
		c->quit = 1;
	} else {
		put(c, "502 5.5.2 Error: command not recognized\r\n");
	}
}

static void
closeconn(int i)
{
	struct conn *c = conns[i];

	close(c->fd);
	nconn--;
	printf("C %.6f %lu %lu %d\n", now(), c->id, c->msgs, nconn);
	free(c->in);
	free(c->out);
	free(c);
	conns[i] = conns[nconn];
	pfd[i + 1] = pfd[nconn + 1];
}

/* 0, or -1 when the connection is to be closed */
static int
flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t k = write(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->outoff += k;
	}
	c->outoff = c->outlen = 0;
	return c->quit ? -1 : 0;
}

static int
readconn(struct conn *c)
{
	ssize_t k;
	size_t start = 0;
	char *nl;

	k = read(c->fd, c->in + c->inlen, RBUF - c->inlen);
	if (k < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (k == 0)
		return -1;
	c->inlen += k;
	while (!c->quit && (nl = memchr(c->in + start, '\n',
	    c->inlen - start)) != NULL) {
		char *line = c->in + start;
		size_t n = nl - line;
		int crlf = n > 0 && line[n - 1] == '\r';

		if (crlf)
			n--;
		if (c->data)
			dataline(c, line, n, crlf);
		else
			command(c, line, n);
		start = nl + 1 - c->in;
	}
	if (start == 0 && c->inlen == RBUF) {
		/* a line longer than the buffer: take it as it comes */
		if (c->data)
			dataline(c, c->in, c->inlen, 1);
		c->barelf = 1;
		start = c->inlen;
	}
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	return flush(c);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd, one = 1, port = 0, i, ch;
	struct sigaction act;

	while ((ch = getopt(argc, argv, "p:d:")) != -1) {
		if (ch == 'p')
			port = atoi(optarg);
		else if (ch == 'd')
			ndom = atoi(optarg);
		else {
			fprintf(stderr, "usage: relaysink [-p port] "
			    "[-d ndomains]\n");
			return 2;
		}
	}
	if (ndom < 1)
		ndom = 1;
	memset(&act, 0, sizeof(act));
	act.sa_handler = onsig;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 512) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("relaysink: bind/listen");
		return 1;
	}
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	printf("P %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	while (!stop) {
		if (poll(pfd, nconn + 1, 1000) < 0) {
			if (errno == EINTR)
				continue;
			perror("relaysink: poll");
			return 1;
		}
		for (i = nconn - 1; i >= 0; i--) {
			struct conn *c = conns[i];
			short re = pfd[i + 1].revents;
			int r = 0;

			if (re == 0)
				continue;
			if (re & (POLLIN | POLLHUP | POLLERR))
				r = readconn(c);
			else if (re & POLLOUT)
				r = flush(c);
			if (r < 0) {
				closeconn(i);
				continue;
			}
			pfd[i + 1].events = POLLIN |
			    (c->outlen > c->outoff ? POLLOUT : 0);
		}
		if (pfd[0].revents & POLLIN) {
			int fd;

			while (nconn < MAXCONN &&
			    (fd = accept(lfd, NULL, NULL)) >= 0) {
				struct conn *c = calloc(1, sizeof(*c));

				if (c == NULL || (c->in = malloc(RBUF)) == NULL) {
					perror("relaysink: malloc");
					return 1;
				}
				fcntl(fd, F_SETFL, O_NONBLOCK);
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				c->fd = fd;
				c->id = nextid++;
				conns[nconn] = c;
				pfd[nconn + 1].fd = fd;
				pfd[nconn + 1].events = POLLIN | POLLOUT;
				nconn++;
				printf("O %.6f %lu %d\n", now(), c->id, nconn);
				put(c, "220 sink.test ESMTP relaysink\r\n");
				if (flush(c) < 0)
					closeconn(nconn - 1);
				else
					pfd[nconn].events = POLLIN;
			}
		}
		fflush(stdout);
	}
	return 0;
}

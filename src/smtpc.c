/*
 * smtpc.c - the SMTP client (see smtpc.h): one message, one remote
 * host, inside the loop.  This file is the client's life: a
 * non-blocking connect(), reading replies and writing commands with
 * bounded buffers, the message streamed from the queue file in pieces
 * while the output is low (LF -> CR LF, dot-stuffing), the RFC 5321
 * 4.5.3.2 timeouts, and the report.  The conversation itself (what to
 * send, what a reply means) is in smtpc_reply.c.  Nothing waits and
 * nothing sleeps.
 *
 * This file must never touch the queue or decide about retries: it
 * reports, relay.c decides.  And it never frees a client inside a
 * callback that may still use it: a client is marked dead and freed
 * when the outermost of its own callbacks returns.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#ifdef HAVE_NETINET_TCP_H
#include <netinet/tcp.h>
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ev.h"
#include "log.h"
#include "smtpc.h"
#include "smtpc_priv.h"
#include "util.h"

/* Timeouts in seconds (RFC 5321 4.5.3.2; smtpc_set_timeouts() for
 * tests).  The RFC names none for connect(): 30 s is Postfix's
 * smtp_connect_timeout, short enough to move on to the next MX host. */
#ifndef SMTPC_CONNECT_TIMEOUT
#define SMTPC_CONNECT_TIMEOUT	30
#endif
#define SMTPC_GREETING_TIMEOUT	300	/* 4.5.3.2.1 */
#define SMTPC_HELO_TIMEOUT	300	/* none in the RFC: as MAIL */
#define SMTPC_MAIL_TIMEOUT	300	/* 4.5.3.2.2 */
#define SMTPC_RCPT_TIMEOUT	300	/* 4.5.3.2.3 */
#define SMTPC_DATA_TIMEOUT	120	/* 4.5.3.2.4 */
#define SMTPC_BLOCK_TIMEOUT	180	/* 4.5.3.2.5 */
#define SMTPC_DOT_TIMEOUT	600	/* 4.5.3.2.6 */
/* The results are known by then: the reply to QUIT is a courtesy. */
#define SMTPC_QUIT_TIMEOUT	10

static const char *const sc_state_names[] = {
	"connect", "failed", "greeting", "ehlo", "helo", "transaction",
	"body", "dot", "nulldot", "quit", "dead"
};

#define SMTPC_TIMEOUTS { \
	SMTPC_CONNECT_TIMEOUT * 1000UL, SMTPC_GREETING_TIMEOUT * 1000UL, \
	SMTPC_HELO_TIMEOUT * 1000UL, SMTPC_MAIL_TIMEOUT * 1000UL, \
	SMTPC_RCPT_TIMEOUT * 1000UL, SMTPC_DATA_TIMEOUT * 1000UL, \
	SMTPC_BLOCK_TIMEOUT * 1000UL, SMTPC_DOT_TIMEOUT * 1000UL, \
	SMTPC_QUIT_TIMEOUT * 1000UL }

static struct smtpc_timeouts timeouts = SMTPC_TIMEOUTS;
static int nclients;

static void sc_io(int fd, int what, void *arg);
static void sc_timeout(void *arg);

union sc_sockaddr {
	struct sockaddr		sa;
	struct sockaddr_in	in;
#ifdef HAVE_IPV6
	struct sockaddr_in6	in6;
#endif
};

void
smtpc_set_timeouts(const struct smtpc_timeouts *t)
{
	static const struct smtpc_timeouts rfc = SMTPC_TIMEOUTS;

	timeouts = t != NULL ? *t : rfc;
}

void
smtpc_get_timeouts(struct smtpc_timeouts *t)
{
	*t = timeouts;
}

int
smtpc_count(void)
{
	return nclients;
}

/* ---- small helpers ---------------------------------------------------- */

/* Printable ASCII only: a reply ends up in logs, mailq and bounces. */
void
sc_copy_text(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t i;

	if (dstlen == 0)
		return;
	if (len > dstlen - 1)
		len = dstlen - 1;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch < 32 || ch > 126) ? '?' : (char)ch;
	}
	dst[len] = '\0';
}

/* An address or name we may put on a command line: no controls, no
 * angle brackets, bounded. */
static int
sendable(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 33 || (unsigned char)s[n] == 127 ||
		    s[n] == '<' || s[n] == '>')
			return 0;
	return n <= max;
}

/* "5 min", "30 s", "250 ms": timeouts in the texts people read. */
static void
duration(char *out, size_t len, unsigned long ms)
{
	if (ms >= 60000UL && ms % 60000UL == 0)
		(void)snprintf(out, len, "%lu min", ms / 60000UL);
	else if (ms >= 1000UL && ms % 1000UL == 0)
		(void)snprintf(out, len, "%lu s", ms / 1000UL);
	else
		(void)snprintf(out, len, "%lu ms", ms);
}

void
sc_set_state(struct smtpc *c, enum sc_state st)
{
	log_debug("smtpc %s: %s -> %s", c->name, sc_state_names[c->state],
	    sc_state_names[st]);
	c->state = st;
}

int
sc_arm(struct smtpc *c, unsigned long ms)
{
	c->armed = ms;
	if (ev_timer_set(&c->timer, ms) == 0)
		return 0;
	sc_fail(c, "out of memory for a timer");
	return -1;
}

const char *
sc_waiting_for(const struct smtpc *c)
{
	int s;

	switch (c->state) {
	case SC_GREETING:
		return "the greeting";
	case SC_EHLO:
		return "the reply to EHLO";
	case SC_HELO:
		return "the reply to HELO";
	case SC_TRANS:
		if (c->nacked >= c->nsent)
			return "sending commands";
		s = c->seq[c->nacked];
		return s == SEQ_MAIL ? "the reply to MAIL FROM" :
		    s == SEQ_DATA ? "the reply to DATA" :
		    "the reply to RCPT TO";
	case SC_BODY:
		return "sending the message";
	case SC_DOT:
	case SC_NULLDOT:
		return "the reply to the end of the message";
	default:
		return "the reply";
	}
}

void
sc_set_rcpt(struct smtpc *c, int i, int status, const char *text)
{
	struct smtpc_rcpt *r = &c->job->rcpts[i];

	if (c->rst[i] == RS_ACCEPTED)
		c->naccepted--;
	c->rst[i] = RS_DONE;
	r->status = status;
	sc_copy_text(r->reply, sizeof(r->reply), text, strlen(text));
}

void
sc_set_all(struct smtpc *c, int rs, int status, const char *text)
{
	int i;

	for (i = 0; i < c->job->nrcpts; i++)
		if (c->rst[i] == rs)
			sc_set_rcpt(c, i, status, text);
}

/* ---- the end: report, then QUIT or close ------------------------------- */

void
sc_close(struct smtpc *c)
{
	ev_timer_del(&c->timer);
	if (c->fd >= 0) {
		(void)ev_io(c->fd, 0, NULL, NULL);
		(void)close(c->fd);
		c->fd = -1;
	}
	if (c->state != SC_DEAD)
		sc_set_state(c, SC_DEAD);
	c->dead = 1;
}

void (*smtpc_closed_hook)(const char *host);

static void
sc_free(struct smtpc *c)
{
	/* the connection is really over (QUIT included): the caller's
	 * count of connections per host may go down now */
	if (c->hooked && smtpc_closed_hook != NULL)
		smtpc_closed_hook(c->host);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->seq);
	free(c->rst);
	free(c);
	nclients--;
}

/* The end of one of our callbacks. */
static void
release(struct smtpc *c)
{
	if (--c->busy == 0 && c->dead)
		sc_free(c);
}

/*
 * Every recipient has its result: tell the caller, then say QUIT if the
 * conversation is in a state where that is understood (not after a
 * timeout, a protocol error, a 421 or in the middle of the message).
 */
void
sc_conclude(struct smtpc *c, int quit)
{
	smtpc_done_fn *fn = c->fn;

	if (c->job == NULL)
		return;
	if (c->why[0] == '\0') {
		int i;

		/* Not expected: every path to here answers everyone or
		 * says why not.  Still, no recipient goes without text. */
		for (i = 0; i < c->job->nrcpts; i++)
			if (c->rst[i] != RS_DONE)
				break;
		if (i < c->job->nrcpts)
			(void)snprintf(c->why, sizeof(c->why),
			    "no reply from %s", c->name);
	}
	sc_set_all(c, RS_PENDING, SMTPC_TEMP, c->why);
	sc_set_all(c, RS_ACCEPTED, SMTPC_TEMP, c->why);
	ev_timer_del(&c->timer);
	c->job = NULL;
	c->fn = NULL;
	if (!quit || c->fd < 0)
		sc_close(c);
	if (fn != NULL)
		fn(c->arg, c->greeted, c->why);
	if (c->dead)
		return;			/* closed, or cancelled by fn */
	if (buf_puts(&c->out, "QUIT\r\n") < 0) {
		sc_close(c);
		return;
	}
	sc_set_state(c, SC_QUIT);
	sc_arm(c, c->tmo.quit);
}

void
sc_fail(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;
	char text[SMTPC_REPLY_MAX];
	int r;

	if (c->job == NULL) {
		/* Results are out: only QUIT was pending. */
		sc_close(c);
		return;
	}
	va_start(ap, fmt);
	r = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r < 0)
		(void)strlcpy(text, "(unprintable error)", sizeof(text));
	else if ((size_t)r >= sizeof(text))
		memcpy(text + sizeof(text) - 4, "...", 4);
	sc_copy_text(c->why, sizeof(c->why), text, strlen(text));
	log_notice("smtpc %s: %s", c->name, c->why);
	sc_conclude(c, 0);
}

static void
lost(struct smtpc *c, int err)
{
	if (c->state == SC_QUIT) {
		sc_close(c);
		return;
	}
	sc_fail(c, "lost connection with %s while %s%s%s%s", c->name,
	    c->state == SC_BODY || (c->state == SC_TRANS &&
	    c->nacked >= c->nsent) ? "" : "waiting for ", sc_waiting_for(c),
	    err ? ": " : "", err ? strerror(err) : "");
}

static void
sc_read(struct smtpc *c)
{
	ssize_t n;
	char *p;

	if ((p = buf_reserve(&c->in, IO_CHUNK)) == NULL) {
		sc_fail(c, "out of memory for replies");
		return;
	}
	n = read(c->fd, p, IO_CHUNK);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			lost(c, errno);
		return;
	}
	if (n == 0) {
		lost(c, 0);
		return;
	}
	buf_commit(&c->in, (size_t)n);
	sc_parse_input(c);
	if (!c->dead && buf_used(&c->in) == 0)
		buf_shrink(&c->in, 0);
}

/* ---- the message ---------------------------------------------------- */

/*
 * Convert a piece of the canonical text into what goes on the wire:
 * LF -> CR LF (a CR LF in the file stays as it is), a dot at the start
 * of a line doubled (RFC 5321 4.5.2).  out has room for 2 * n bytes.
 */
static size_t
stuff(struct smtpc *c, const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char ch = in[i];

		if (ch == '\n') {
			if (!c->lastcr)
				out[o++] = '\r';
			out[o++] = '\n';
			c->bol = 1;
			c->lastcr = 0;
			continue;
		}
		if (ch == '.' && c->bol)
			out[o++] = '.';
		out[o++] = ch;
		c->bol = 0;
		c->lastcr = ch == '\r';
	}
	return o;
}

/* Refill the output while it is low; the dot ends it. */
static int
body_fill(struct smtpc *c)
{
	static char raw[SMTPC_BODY_CHUNK];
	size_t want;
	ssize_t n;
	char *dst;

	while (!c->body_end && buf_used(&c->out) < OUT_LOW_WATER) {
		if (c->job->head != NULL && c->hpos < c->job->headlen) {
			want = c->job->headlen - c->hpos;
			if (want > sizeof(raw))
				want = sizeof(raw);
			if ((dst = buf_reserve(&c->out, 2 * want)) == NULL) {
				errno = ENOMEM;
				return -1;
			}
			buf_commit(&c->out, stuff(c, c->job->head + c->hpos,
			    want, dst));
			c->hpos += want;
			continue;
		}
		if (c->bleft == 0) {
			/* The last line may lack its end (RFC 5321 4.1.1.4). */
			if ((!c->bol && buf_puts(&c->out,
			    c->lastcr ? "\n" : "\r\n") < 0) ||
			    buf_puts(&c->out, ".\r\n") < 0) {
				errno = ENOMEM;
				return -1;
			}
			c->body_end = 1;
			break;
		}
		want = c->bleft < (off_t)sizeof(raw) ? (size_t)c->bleft :
		    sizeof(raw);
		if ((dst = buf_reserve(&c->out, 2 * want)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		/* One process, one thread: nobody moves the offset between
		 * the seek and the read. */
		if (lseek(c->job->msgfd, c->boff, SEEK_SET) == (off_t)-1 ||
		    (n = read(c->job->msgfd, raw, want)) < 0)
			return -1;
		if (n == 0) {
			errno = EIO;	/* the file shrank under us */
			return -1;
		}
		buf_commit(&c->out, stuff(c, raw, (size_t)n, dst));
		c->boff += n;
		c->bleft -= n;
	}
	return 0;
}

/* ---- I/O ------------------------------------------------------------ */

/* Queue what can be queued, then write once. */
static void
sc_flush(struct smtpc *c)
{
	ssize_t n;
	int err;

	if (c->state == SC_TRANS)
		sc_emit(c);
	else if (c->state == SC_BODY && body_fill(c) < 0) {
		/* Close without the dot: the server must not deliver. */
		warn("smtpc %s: cannot read the queued message: %s", c->name,
		    strerror(errno));
		sc_fail(c, "cannot read the queued message: %s",
		    strerror(errno));
		return;
	}
	if (c->dead || buf_used(&c->out) == 0)
		return;
	n = write(c->fd, buf_ptr(&c->out), buf_used(&c->out));
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		/* A server that refused and hung up: its last words are
		 * a better reason than EPIPE. */
		err = errno;
		sc_read(c);
		if (!c->dead && c->job != NULL)
			lost(c, err);
		else if (!c->dead)
			sc_close(c);
		return;
	}
	buf_consume(&c->out, (size_t)n);
	if (c->state != SC_BODY)
		return;
	if (!c->body_end || buf_used(&c->out) > 0)
		sc_arm(c, c->tmo.block);
	else {
		sc_set_state(c, SC_DOT);
		sc_arm(c, c->tmo.dot);
	}
}

static void
sc_watch(struct smtpc *c)
{
	int what = EV_READ;

	/* More to write, or more to queue once the output has drained. */
	if (buf_used(&c->out) > 0 || (c->state == SC_BODY && !c->body_end) ||
	    (c->state == SC_TRANS && c->nsent < c->nseq &&
	    ((c->caps & CAP_PIPELINING) || c->nacked == c->nsent)))
		what |= EV_WRITE;
	else if (buf_used(&c->out) == 0)
		buf_shrink(&c->out, 1024);
	if (ev_io(c->fd, what, sc_io, c) < 0)
		sc_fail(c, "cannot watch the connection");
}

static void
connected(struct smtpc *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *)&err, &len) < 0)
		err = errno;
	if (err != 0) {
		sc_fail(c, "connect to %s: %s", c->where, strerror(err));
		return;
	}
	sc_set_state(c, SC_GREETING);
	sc_arm(c, c->tmo.greeting);
}

static void
sc_io(int fd, int what, void *arg)
{
	struct smtpc *c = arg;

	(void)fd;
	c->busy++;
	if (c->state == SC_CONNECT)
		connected(c);
	else if (what & EV_READ)
		sc_read(c);
	if (!c->dead)
		sc_flush(c);
	if (!c->dead)
		sc_watch(c);
	release(c);
}

static void
sc_timeout(void *arg)
{
	struct smtpc *c = arg;
	char d[32];

	c->busy++;
	duration(d, sizeof(d), c->armed);
	switch (c->state) {
	case SC_FAILED:
		sc_conclude(c, 0);
		break;
	case SC_QUIT:
		sc_close(c);
		break;
	case SC_CONNECT:
		sc_fail(c, "connect to %s: timed out after %s", c->where, d);
		break;
	case SC_BODY:
		sc_fail(c, "timeout after %s sending the message to %s", d,
		    c->name);
		break;
	default:
		sc_fail(c, "timeout after %s waiting for %s from %s", d,
		    sc_waiting_for(c), c->name);
		break;
	}
	release(c);
}

/* ---- start and cancel ------------------------------------------------ */

/* The socket address, and the names for texts. */
static int
sc_address(struct smtpc *c, union sc_sockaddr *sa, socklen_t *salen,
    int *af)
{
	const struct smtpc_job *j = c->job;
	char ip[INET6_ADDRSTRLEN];
	int v6 = 0;

	memset(sa, 0, sizeof(*sa));
	if (j->family == 4 || j->family == AF_INET) {
		sa->in.sin_family = AF_INET;
		sa->in.sin_port = htons(j->port);
		memcpy(&sa->in.sin_addr, j->addr, 4);
		*salen = sizeof(sa->in);
		*af = AF_INET;
	}
#ifdef HAVE_IPV6
	else if (j->family == 6 || j->family == AF_INET6) {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(j->port);
		memcpy(&sa->in6.sin6_addr, j->addr, 16);
		*salen = sizeof(sa->in6);
		*af = AF_INET6;
		v6 = 1;
	}
#endif
	else
		return -1;
	if (inet_ntop(*af, j->addr, ip, sizeof(ip)) == NULL)
		return -1;
	(void)snprintf(c->where, sizeof(c->where), v6 ? "[%s]:%u" :
	    "%s:%u", ip, (unsigned)j->port);
	if (j->host != NULL && j->host[0] != '\0' &&
	    strcmp(j->host, ip) != 0)
		(void)snprintf(c->name, sizeof(c->name), "%.255s[%s]:%u",
		    j->host, ip, (unsigned)j->port);
	else
		(void)snprintf(c->name, sizeof(c->name), "[%s]:%u", ip,
		    (unsigned)j->port);
	/* The name goes into every log line: no control characters. */
	sc_copy_text(c->name, sizeof(c->name), c->name, strlen(c->name));
	return 0;
}

/* Fail from a timer, so fn never runs inside smtpc_start(). */
static struct smtpc *
fail_later(struct smtpc *c, const char *why)
{
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
	(void)strlcpy(c->why, why, sizeof(c->why));
	log_notice("smtpc %s: %s", c->name, c->why);
	sc_set_state(c, SC_FAILED);
	if (ev_timer_set(&c->timer, 0) < 0) {
		int i;

		for (i = 0; i < c->job->nrcpts; i++)
			sc_set_rcpt(c, i, SMTPC_TEMP, why);
		sc_free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

/* Check the envelope; plan MAIL, the sendable RCPTs, DATA.  NULL, or
 * why there is nothing to send. */
static const char *
sc_plan(struct smtpc *c)
{
	struct smtpc_job *j = c->job;
	int i;

	c->seq[c->nseq++] = SEQ_MAIL;
	for (i = 0; i < j->nrcpts; i++) {
		j->rcpts[i].status = SMTPC_TEMP;
		j->rcpts[i].reply[0] = '\0';
		if (j->rcpts[i].addr == NULL ||
		    !sendable(j->rcpts[i].addr, SMTPC_ADDR_MAX))
			sc_set_rcpt(c, i, SMTPC_PERM,
			    "5.1.3 Bad recipient address syntax");
		else
			c->seq[c->nseq++] = i;
	}
	c->seq[c->nseq++] = SEQ_DATA;
	if (j->sender == NULL || !sendable(j->sender, SMTPC_ADDR_MAX)) {
		sc_set_all(c, RS_PENDING, SMTPC_PERM,
		    "5.1.7 Bad sender address syntax");
		return "bad sender address";
	}
	return c->nseq > 2 ? NULL : "no recipient to send to";
}

static struct smtpc *
sc_new(struct smtpc_job *job, smtpc_done_fn *fn, void *arg)
{
	struct smtpc *c;
	size_t n = job->nrcpts > 0 ? (size_t)job->nrcpts : 1;

	if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->seq = malloc((n + 2) * sizeof(*c->seq));
	c->rst = malloc(n);
	if (c->seq == NULL || c->rst == NULL) {
		free(c->seq);
		free(c->rst);
		free(c);
		return NULL;
	}
	memset(c->rst, RS_PENDING, n);
	c->job = job;
	c->fn = fn;
	c->arg = arg;
	if (job->host != NULL)
		strlcpy(c->host, job->host, sizeof(c->host));
	c->fd = -1;
	c->state = SC_CONNECT;
	c->tmo = timeouts;
	buf_init(&c->in, SMTPC_LINE_MAX + IO_CHUNK + 2);
	buf_init(&c->out, SMTPC_OUT_MAX);
	ev_timer_init(&c->timer, sc_timeout, c);
	nclients++;
	return c;
}

/* socket() and a non-blocking connect(); -1 with errno. */
static int
sc_connect(struct smtpc *c, const union sc_sockaddr *sa, socklen_t salen,
    int af)
{
	int fl, on = 1;

	if ((c->fd = socket(af, SOCK_STREAM, 0)) < 0)
		return -1;
	if (c->fd >= FD_SETSIZE) {
		errno = EMFILE;
		return -1;
	}
	if ((fl = fcntl(c->fd, F_GETFL, 0)) < 0 ||
	    fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(c->fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
#ifdef TCP_NODELAY
	/* Our writes are whole groups already; Nagle would only hold
	 * back the final dot behind a delayed ACK. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, (void *)&on,
	    sizeof(on));
#else
	(void)on;
#endif
	if (connect(c->fd, &sa->sa, salen) == 0 || errno == EINPROGRESS ||
	    errno == EINTR)
		return 0;
	return -2;			/* refused at once: report it later */
}

struct smtpc *
smtpc_start(struct smtpc_job *job, smtpc_done_fn *fn, void *arg)
{
	struct smtpc *c;
	union sc_sockaddr sa;
	socklen_t salen;
	char text[SMTPC_REPLY_MAX];
	const char *why = NULL, *nothing;
	int af, r, i, err = 0;

	if ((c = sc_new(job, fn, arg)) == NULL) {
		why = "out of memory";
		err = ENOMEM;
	} else if (sc_address(c, &sa, &salen, &af) < 0) {
		why = "unusable address family";
		err = EAFNOSUPPORT;
	} else if (job->helo == NULL || !sendable(job->helo, 255)) {
		why = "unusable host name for EHLO";
		err = EINVAL;
	} else if ((nothing = sc_plan(c)) != NULL) {
		c->hooked = 1;
		return fail_later(c, nothing);
	} else if ((r = sc_connect(c, &sa, salen, af)) == -2) {
		(void)snprintf(text, sizeof(text), "connect to %s: %s",
		    c->where, strerror(errno));
		c->hooked = 1;
		return fail_later(c, text);
	} else if (r < 0) {
		err = errno;
		(void)snprintf(text, sizeof(text), "cannot connect to %s: %s",
		    c->where, strerror(err));
		why = text;
	} else if (ev_timer_set(&c->timer, c->tmo.connect) < 0 ||
	    ev_io(c->fd, EV_WRITE, sc_io, c) < 0) {
		why = "cannot watch the connection";
		err = EMFILE;
	} else
		c->armed = c->tmo.connect;
	if (why == NULL) {
		log_debug("smtpc %s: connecting", c->name);
		c->hooked = 1;
		return c;
	}
	/* The caller may report strerror(errno), as after a system call. */
	warn("smtpc %s: %s", c != NULL ? c->name : "", why);
	for (i = 0; i < job->nrcpts; i++) {
		job->rcpts[i].status = SMTPC_TEMP;
		sc_copy_text(job->rcpts[i].reply, sizeof(job->rcpts[i].reply),
		    why, strlen(why));
	}
	if (c != NULL) {
		ev_timer_del(&c->timer);
		if (c->fd >= 0)
			(void)close(c->fd);
		sc_free(c);
	}
	errno = err;
	return NULL;
}

void
smtpc_cancel(struct smtpc *c)
{
	if (c == NULL)
		return;
	c->job = NULL;
	c->fn = NULL;
	if (!c->dead)
		sc_close(c);
	if (c->busy == 0)
		sc_free(c);
}

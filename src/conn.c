/*
 * conn.c - buffered non-blocking I/O for one client (see conn.h).
 *
 * Input is read in IO_CHUNK pieces into a scratch buffer and split into
 * lines in place; only an incomplete line is copied into the connection's
 * own buffer, so an idle connection holds no buffer memory at all.  All
 * replies produced while handling one read are sent with one write():
 * with TCP_NODELAY on, a reply never waits for a delayed ACK and never
 * goes out in pieces.  Output beyond OUT_HIGH_WATER stops input (a client
 * that pipelines without reading cannot make us buffer without bound);
 * a stream refills output below OUT_LOW_WATER.
 *
 * A connection is never freed inside a callback that may still use it:
 * conn_abort() marks it dead and the free happens from its own timer.
 */
#include "yubin.h"

#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "util.h"

struct conn *conn_list;
int conn_count;
int conn_dead;
void (*conn_on_close)(const struct conn *c);
void (*conn_on_free)(struct conn *c);

static unsigned long conn_ids;
static char scratch[IO_CHUNK];

static void conn_io(int fd, int what, void *arg);
static void conn_progress(struct conn *c);
static void conn_kick(void *arg);
static void conn_tick(void *arg);

/* How long a closing connection may take to drain its output. */
#define CLOSE_DRAIN_MS	30000UL

static int
set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL, 0)) < 0)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

struct conn *
conn_new(int rfd, int wfd, const struct proto *proto, int family,
    const unsigned char *addr, const char *peer)
{
	struct conn *c;

	if (set_nonblock(rfd) < 0 || (wfd != rfd && set_nonblock(wfd) < 0) ||
	    rfd >= FD_SETSIZE || wfd >= FD_SETSIZE ||
	    (c = malloc(sizeof(*c))) == NULL) {
		warn("cannot set up connection from %s: %s", peer,
		    strerror(errno));
		close(rfd);
		if (wfd != rfd)
			close(wfd);
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->id = ++conn_ids;
	c->proto = proto;
	c->rfd = rfd;
	c->wfd = wfd;
	c->family = family;
	if (family != 0)
		memcpy(c->addr, addr, family == 4 ? 4 : 16);
	if (strlcpy(c->peer, peer, sizeof(c->peer)) >= sizeof(c->peer))
		memcpy(c->peer + sizeof(c->peer) - 4, "...", 4);
	/* A partial line is at most line_max + CR, plus one read. */
	buf_init(&c->in, proto->line_max + 2 + IO_CHUNK);
	buf_init(&c->out, 0);
	ev_timer_init(&c->timer, conn_tick, c);
	ev_timer_init(&c->kick, conn_kick, c);
	c->last_io = now_ms();
	c->next = conn_list;
	if (conn_list != NULL)
		conn_list->prev = c;
	conn_list = c;
	conn_count++;
	conn_set_timeout(c, proto->timeout_secs());
	c->flags |= CONN_BUSY;
	c->sess = proto->start(c);
	c->flags &= ~CONN_BUSY;
	if (c->sess == NULL && !(c->flags & CONN_DEAD))
		conn_close(c);
	conn_progress(c);
	return c;
}

static void
conn_free(struct conn *c)
{
	ev_timer_del(&c->timer);
	ev_timer_del(&c->kick);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conn_list = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	conn_count--;
	if (c->flags & CONN_DEAD)
		conn_dead--;
	buf_free(&c->in);
	buf_free(&c->out);
	if (conn_on_free != NULL)
		conn_on_free(c);
	free(c);
}

static void
conn_kick(void *arg)
{
	struct conn *c = arg;

	if (c->flags & CONN_DEAD) {
		if (c->sess != NULL && c->proto->end != NULL)
			c->proto->end(c->sess);
		c->sess = NULL;
		conn_free(c);
		return;
	}
	conn_progress(c);
}

void
conn_abort(struct conn *c, const char *why)
{
	if (c->flags & CONN_DEAD)
		return;
	if (why != NULL)
		log_info("%s[%lu] %s: %s", c->proto->name, c->id, c->peer, why);
	if (c->fill != NULL) {
		c->fill = NULL;
		if (c->done != NULL)
			c->done(c->fill_arg, 0);
	}
	ev_io(c->rfd, 0, NULL, NULL);
	ev_io(c->wfd, 0, NULL, NULL);
	close(c->rfd);
	if (c->wfd != c->rfd)
		close(c->wfd);
	c->flags |= CONN_DEAD;
	/* The client may see the close and connect again before the free
	 * (the next turn, whose accepts come before its timers): the slot
	 * is given back now. */
	conn_dead++;
	if (conn_on_close != NULL)
		conn_on_close(c);
	ev_timer_del(&c->timer);
	/* Freed from the loop, once no caller up the stack can use it. */
	if (ev_timer_set(&c->kick, 0) < 0)
		panic("conn_abort: cannot schedule free");
}

void
conn_close(struct conn *c)
{
	if (c->flags & (CONN_CLOSING | CONN_DEAD))
		return;
	c->flags |= CONN_CLOSING;
	c->timeout_ms = CLOSE_DRAIN_MS;
	c->last_io = now_ms();
	if (ev_timer_set(&c->timer, c->timeout_ms) < 0 ||
	    (!(c->flags & CONN_BUSY) && ev_timer_set(&c->kick, 0) < 0))
		conn_abort(c, "out of memory");
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->flags & CONN_DEAD)
		return -1;
	if (buf_append(&c->out, p, n) < 0) {
		conn_abort(c, "out of memory for output");
		return -1;
	}
	/* Replies made outside an input turn (timers) are flushed soon. */
	if (!(c->flags & CONN_BUSY) && !ev_timer_pending(&c->kick) &&
	    ev_timer_set(&c->kick, 0) < 0) {
		conn_abort(c, "out of memory");
		return -1;
	}
	return 0;
}

int
conn_puts(struct conn *c, const char *s)
{
	return conn_write(c, s, strlen(s));
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	char small[1024];
	char *big;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (r < 0) {
		conn_abort(c, "output formatting error");
		return -1;
	}
	if ((size_t)r < sizeof(small))
		return conn_write(c, small, (size_t)r);
	if ((big = malloc((size_t)r + 1)) == NULL) {
		conn_abort(c, "out of memory for output");
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)r + 1, fmt, ap);
	va_end(ap);
	r = conn_write(c, big, (size_t)r);
	free(big);
	return r;
}

void
conn_hold(struct conn *c)
{
	c->flags |= CONN_HELD;
}

void
conn_release(struct conn *c)
{
	if (!(c->flags & CONN_HELD))
		return;
	c->flags &= ~CONN_HELD;
	if (!(c->flags & (CONN_BUSY | CONN_DEAD)) &&
	    ev_timer_set(&c->kick, 0) < 0)
		conn_abort(c, "out of memory");
}

void
conn_expect_bytes(struct conn *c, size_t n)
{
	c->want_bytes = n;
}

void
conn_stream(struct conn *c, conn_fill_fn *fill, conn_done_fn *done,
    void *arg)
{
	c->fill = fill;
	c->done = done;
	c->fill_arg = arg;
	if (!(c->flags & (CONN_BUSY | CONN_DEAD)) &&
	    ev_timer_set(&c->kick, 0) < 0)
		conn_abort(c, "out of memory");
}

void
conn_set_timeout(struct conn *c, int secs)
{
	if (c->flags & CONN_CLOSING)
		return;
	c->timeout_ms = (unsigned long)secs * 1000UL;
	if (ev_timer_set(&c->timer, c->timeout_ms) < 0)
		conn_abort(c, "out of memory");
}

/*
 * The idle timer is armed once and checked lazily: I/O only records the
 * time, and an early expiry re-arms for the rest, so busy connections
 * cost no heap operations per read.
 */
static void
conn_tick(void *arg)
{
	struct conn *c = arg;
	unsigned long idle = now_ms() - c->last_io;

	if (idle < c->timeout_ms) {
		if (ev_timer_set(&c->timer, c->timeout_ms - idle) < 0)
			conn_abort(c, "out of memory");
		return;
	}
	if (c->flags & CONN_CLOSING) {
		conn_abort(c, "gave up sending to a client that does not read");
		return;
	}
	log_info("%s[%lu] %s: timeout after %lu s idle", c->proto->name,
	    c->id, c->peer, idle / 1000);
	c->flags |= CONN_BUSY;
	if (c->proto->timeout != NULL && c->sess != NULL)
		c->proto->timeout(c->sess);
	c->flags &= ~CONN_BUSY;
	conn_close(c);
	conn_progress(c);
}

/*
 * Hand complete lines (or expected bytes) from p[0..n) to the session.
 * Returns how much was used; the rest waits for more input or for the
 * session to release its hold.
 */
static size_t
conn_feed(struct conn *c, char *p, size_t n)
{
	const struct proto *pr = c->proto;
	size_t done = 0, len, k;
	char *nl, *line;

	while (done < n && !(c->flags & (CONN_HELD | CONN_CLOSING |
	    CONN_DEAD)) && c->fill == NULL) {
		if (c->want_bytes > 0) {
			k = n - done < c->want_bytes ? n - done : c->want_bytes;
			c->want_bytes -= k;
			pr->bytes(c->sess, p + done, k, c->want_bytes == 0);
			done += k;
			continue;
		}
		nl = memchr(p + done, '\n', n - done);
		if (c->flags & CONN_SKIPPING) {
			if (nl == NULL)
				return n;
			c->flags &= ~CONN_SKIPPING;
			done = (size_t)(nl - p) + 1;
			continue;
		}
		if (nl == NULL) {
			/* Over the limit without an end: say so now, and
			 * drop the rest of the line as it comes. */
			if (n - done > pr->line_max + 1) {
				c->flags |= CONN_SKIPPING;
				pr->overlong(c->sess);
				return n;
			}
			break;
		}
		line = p + done;
		len = (size_t)(nl - line);
		done = (size_t)(nl - p) + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > pr->line_max) {
			pr->overlong(c->sess);
			continue;
		}
		line[len] = '\0';
		pr->line(c->sess, line, len);
	}
	return done;
}

static void
conn_read(struct conn *c)
{
	ssize_t n;
	size_t used;

	n = read(c->rfd, scratch, sizeof(scratch));
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_abort(c, strerror(errno));
		return;
	}
	c->last_io = now_ms();
	if (n == 0) {
		c->flags |= CONN_EOF;
		return;
	}
	c->bytes_in += (unsigned long)n;
	if (buf_used(&c->in) == 0) {
		used = conn_feed(c, scratch, (size_t)n);
		if (used < (size_t)n &&
		    buf_append(&c->in, scratch + used, (size_t)n - used) < 0)
			conn_abort(c, "out of memory for input");
	} else if (buf_append(&c->in, scratch, (size_t)n) < 0)
		conn_abort(c, "out of memory for input");
}

/* Refill from a stream while output is low, then write what we have. */
static void
conn_flush(struct conn *c)
{
	ssize_t n;
	int r;

	while (c->fill != NULL && buf_used(&c->out) < OUT_LOW_WATER) {
		r = c->fill(c->fill_arg, &c->out);
		if (r <= 0) {
			c->fill = NULL;
			if (c->done != NULL)
				c->done(c->fill_arg, r == 0);
			/* Commands pipelined behind the stream wait in the
			 * input buffer; nothing new may arrive to wake them. */
			if (buf_used(&c->in) > 0 && !(c->flags & CONN_DEAD) &&
			    ev_timer_set(&c->kick, 0) < 0)
				conn_abort(c, "out of memory");
			if (r < 0) {
				conn_abort(c, "stream failed");
				return;
			}
		}
	}
	if (buf_used(&c->out) == 0)
		return;
	n = write(c->wfd, buf_ptr(&c->out), buf_used(&c->out));
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_abort(c, strerror(errno));
		return;
	}
	c->last_io = now_ms();
	c->bytes_out += (unsigned long)n;
	buf_consume(&c->out, (size_t)n);
	if (buf_used(&c->out) == 0)
		buf_shrink(&c->out, 1024);
}

static void
conn_watch(struct conn *c)
{
	int rd = 0, wr = 0;

	if (!(c->flags & (CONN_EOF | CONN_CLOSING | CONN_HELD)) &&
	    c->fill == NULL && buf_used(&c->out) < OUT_HIGH_WATER &&
	    buf_used(&c->in) <= c->proto->line_max + 1)
		rd = EV_READ;
	if (buf_used(&c->out) > 0 || c->fill != NULL)
		wr = EV_WRITE;
	if (c->rfd == c->wfd)
		ev_io(c->rfd, rd | wr, conn_io, c);
	else {
		ev_io(c->rfd, rd, conn_io, c);
		ev_io(c->wfd, wr, conn_io, c);
	}
}

/* Do everything that can be done now, then wait for the right events. */
static void
conn_progress(struct conn *c)
{
	size_t used;

	if (c->flags & (CONN_DEAD | CONN_BUSY))
		return;
	c->flags |= CONN_BUSY;
	if (buf_used(&c->in) > 0) {
		used = conn_feed(c, buf_ptr(&c->in), buf_used(&c->in));
		buf_consume(&c->in, used);
		if (buf_used(&c->in) == 0)
			buf_shrink(&c->in, 0);
	}
	c->flags &= ~CONN_BUSY;
	if (c->flags & CONN_DEAD)
		return;
	conn_flush(c);
	if (c->flags & CONN_DEAD)
		return;
	if ((c->flags & CONN_EOF) && !(c->flags & (CONN_HELD | CONN_CLOSING))
	    && c->fill == NULL && c->want_bytes > 0 && buf_used(&c->in) == 0) {
		/* Gone in the middle of a literal: the rest never comes,
		 * and the session (an APPEND's spool file) must not wait
		 * for the idle timeout. */
		conn_abort(c, "client closed the connection in a literal");
		return;
	}
	if ((c->flags & CONN_EOF) && !(c->flags & (CONN_HELD | CONN_CLOSING))
	    && c->fill == NULL && c->want_bytes == 0) {
		/* The client is gone; whatever it sent has been handled. */
		conn_close(c);
	}
	if ((c->flags & CONN_CLOSING) && buf_used(&c->out) == 0 &&
	    c->fill == NULL) {
		conn_abort(c, NULL);
		return;
	}
	conn_watch(c);
}

static void
conn_io(int fd, int what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if ((what & EV_WRITE) && !(c->flags & CONN_DEAD))
		conn_flush(c);
	if ((what & EV_READ) && !(c->flags & CONN_DEAD)) {
		c->flags |= CONN_BUSY;
		conn_read(c);
		c->flags &= ~CONN_BUSY;
	}
	if (!(c->flags & CONN_DEAD))
		conn_progress(c);
}

struct file_stream {
	int		fd;
	off_t		off, left;
	conn_done_fn	*done;
	void		*arg;
};

static int
file_fill(void *arg, struct buf *out)
{
	struct file_stream *fs = arg;
	size_t want;
	ssize_t n;
	char *p;

	if (fs->left == 0)
		return 0;
	want = fs->left < (off_t)STREAM_CHUNK ? (size_t)fs->left : STREAM_CHUNK;
	if ((p = buf_reserve(out, want)) == NULL)
		return -1;
	/* One process, one thread: nobody moves the offset in between. */
	if (lseek(fs->fd, fs->off, SEEK_SET) == (off_t)-1)
		return -1;
	n = read(fs->fd, p, want);
	if (n <= 0)
		return -1;		/* the file shrank under us */
	buf_commit(out, (size_t)n);
	fs->off += n;
	fs->left -= n;
	return fs->left > 0 ? 1 : 0;
}

static void
file_done(void *arg, int ok)
{
	struct file_stream *fs = arg;

	if (fs->done != NULL)
		fs->done(fs->arg, ok);
	free(fs);
}

int
conn_send_file(struct conn *c, int fd, off_t off, off_t len,
    conn_done_fn *done, void *arg)
{
	struct file_stream *fs;

	if ((fs = malloc(sizeof(*fs))) == NULL)
		return -1;
	fs->fd = fd;
	fs->off = off;
	fs->left = len;
	fs->done = done;
	fs->arg = arg;
	conn_stream(c, file_fill, file_done, fs);
	return 0;
}

void
conn_shutdown_all(void)
{
	struct conn *c, *next;

	for (c = conn_list; c != NULL; c = next) {
		next = c->next;
		if (c->flags & (CONN_DEAD | CONN_CLOSING))
			continue;
		if (c->fill != NULL) {
			/* No farewell can be put in the middle of a message. */
			conn_abort(c, "server shutting down");
			continue;
		}
		c->flags |= CONN_BUSY;
		if (c->proto->shutdown != NULL && c->sess != NULL)
			c->proto->shutdown(c->sess);
		c->flags &= ~CONN_BUSY;
		conn_close(c);
		conn_progress(c);
	}
}

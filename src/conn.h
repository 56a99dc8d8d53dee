/*
 * conn.h - one client connection: non-blocking buffered I/O, line
 * framing with a per-protocol limit, an output queue with backpressure,
 * streaming of long output in bounded pieces, and the idle timeout.
 * Nothing but conn.c and net.c touches a client socket.
 */
#ifndef YUBIN_CONN_H
#define YUBIN_CONN_H

#include "yubin.h"

#include <sys/types.h>

#include "buf.h"
#include "ev.h"
#include "proto.h"

/*
 * A stream refills the output queue when it runs low: it appends at most
 * about STREAM_CHUNK bytes to out and returns 1 if there is more to come,
 * 0 when done, -1 on error (the connection is then closed).
 */
typedef int conn_fill_fn(void *arg, struct buf *out);
/* Called when a stream ends (ok = 1) or is abandoned (ok = 0). */
typedef void conn_done_fn(void *arg, int ok);

struct conn {
	struct conn		*next, *prev;	/* all connections */
	unsigned long		id;		/* for log lines */
	const struct proto	*proto;
	void			*sess;
	int			rfd, wfd;	/* the same socket, or 0 and 1 */
	char			peer[64];	/* printable client address */
	int			family;		/* 4, 6, or 0 (not a socket) */
	unsigned char		addr[16];
	struct buf		in, out;
	int			flags;
	size_t			want_bytes;	/* raw bytes still expected */
	unsigned long		last_io;	/* now_ms() of the last I/O */
	unsigned long		timeout_ms;
	struct ev_timer		timer;		/* idle and close deadlines */
	struct ev_timer		kick;		/* resume input processing */
	conn_fill_fn		*fill;
	conn_done_fn		*done;
	void			*fill_arg;
	unsigned long		bytes_in, bytes_out;
};

#define CONN_CLOSING	0x01	/* close once output has drained */
#define CONN_HELD	0x02	/* the session waits: no line dispatch */
#define CONN_SKIPPING	0x04	/* discarding the rest of a long line */
#define CONN_EOF	0x08	/* the client closed its side */
#define CONN_DEAD	0x10	/* freed at the end of this turn */
#define CONN_NOSOCK	0x20	/* stdin/stdout, not an accepted socket */
#define CONN_BUSY	0x40	/* inside conn_progress() */

/*
 * Take over rfd/wfd (made non-blocking) and start proto on them.  peer
 * describes the client.  Returns NULL (descriptors closed) on failure.
 */
struct conn *conn_new(int rfd, int wfd, const struct proto *proto,
    int family, const unsigned char *addr, const char *peer);

/* Queue output.  Failure (memory) closes the connection: -1. */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_puts(struct conn *c, const char *s);
int conn_printf(struct conn *c, const char *fmt, ...) PRINTFLIKE(2, 3);

/* Finish sending what is queued, then close (ends the session). */
void conn_close(struct conn *c);
/* Close now, dropping unsent output. */
void conn_abort(struct conn *c, const char *why);

/* Stop handing lines to the session until conn_release(). */
void conn_hold(struct conn *c);
void conn_release(struct conn *c);
/* The next n bytes go to proto->bytes instead of being split in lines. */
void conn_expect_bytes(struct conn *c, size_t n);
/* Start a stream (see conn_fill_fn); input waits until it is done. */
void conn_stream(struct conn *c, conn_fill_fn *fill, conn_done_fn *done,
    void *arg);
/*
 * Stream len bytes of fd from offset off as they are, in STREAM_CHUNK
 * pieces; done(arg, ok) is called at the end.  fd stays open (the caller
 * owns it).
 */
int conn_send_file(struct conn *c, int fd, off_t off, off_t len,
    conn_done_fn *done, void *arg);

void conn_set_timeout(struct conn *c, int secs);

/* Every connection not yet freed, and how many there are; conn_dead of
 * them are closed already and only wait to be freed (one loop turn). */
extern struct conn *conn_list;
extern int conn_count;
extern int conn_dead;
/* Ask every session to stop (SIGTERM). */
void conn_shutdown_all(void);
/* Called when a connection's socket is closed: its slot is free from
 * then on, although the struct lives one turn longer (net.c counts per
 * address). */
extern void (*conn_on_close)(const struct conn *c);
/* Called when a connection is freed. */
extern void (*conn_on_free)(struct conn *c);

#endif

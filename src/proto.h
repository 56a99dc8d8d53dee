/*
 * proto.h - what a protocol module gives the connection layer.  A module
 * is a state machine fed with lines (or counted bytes) by conn.c; it
 * queues replies with conn_printf() and never touches a socket, so the
 * same code serves a listener, inetd's stdin/stdout and a test driver.
 */
#ifndef YUBIN_PROTO_H
#define YUBIN_PROTO_H

#include <stddef.h>

struct conn;
struct buf;

struct proto {
	const char	*name;		/* "smtp", "submission", "pop3", "imap" */
	size_t		line_max;	/* longest line, CRLF excluded */
	/* Idle timeout in seconds, from the running configuration. */
	int		(*timeout_secs)(void);
	/* A new session: greet and return its state (NULL: close at once). */
	void		*(*start)(struct conn *c);
	/* One input line, CR LF removed; line[len] is '\0'. */
	void		(*line)(void *sess, char *line, size_t len);
	/* Bytes asked for with conn_expect_bytes(); last is set on the
	 * final piece. */
	void		(*bytes)(void *sess, const char *p, size_t n, int last);
	/* The line passed line_max; the rest of it will be discarded. */
	void		(*overlong)(void *sess);
	/* Idle too long: say goodbye and conn_close(). */
	void		(*timeout)(void *sess);
	/* The server is stopping: say goodbye and conn_close(). */
	void		(*shutdown)(void *sess);
	/* The session is over (closed by either side): free it. */
	void		(*end)(void *sess);
	/* The line sent, before closing, to a client over a connection
	 * limit; written into out (no session exists). */
	void		(*busy)(struct buf *out);
};

extern const struct proto proto_smtp;
extern const struct proto proto_submission;
extern const struct proto proto_pop3;
extern const struct proto proto_imap;

/* "smtp" -> &proto_smtp, or NULL. */
const struct proto *proto_by_name(const char *name);

#endif

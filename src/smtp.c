/*
 * smtp.c - the SMTP server session (RFC 5321), on the smtp and the
 * submission ports.  A state machine fed with lines by conn.c; it never
 * touches a socket.  Commands live in one table with the states they are
 * legal in; a sequence error comes from the table, not from the handler.
 *
 * This is the session frame: greeting, NOOP, QUIT, and the replies for
 * what is not (yet) offered.  Mail transactions build on it.
 */
#include "yubin.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "proto.h"
#include "util.h"

enum smtp_state {
	SMTP_CMD = 1		/* waiting for a command */
};

struct smtp_sess {
	struct conn		*c;
	enum smtp_state		state;
	unsigned long		ncmds, nbad;
};

struct smtp_cmd {
	const char	*verb;
	int		states;		/* bit mask of enum smtp_state */
	void		(*fn)(struct smtp_sess *s, char *arg);
};

static void smtp_noop(struct smtp_sess *, char *);
static void smtp_quit(struct smtp_sess *, char *);
static void smtp_notimpl(struct smtp_sess *, char *);

static const struct smtp_cmd smtp_cmds[] = {
	{ "NOOP", SMTP_CMD, smtp_noop },
	{ "QUIT", SMTP_CMD, smtp_quit },
	/* RFC 5321 verbs this server does not offer yet: 502, not 500. */
	{ "HELO", SMTP_CMD, smtp_notimpl },
	{ "EHLO", SMTP_CMD, smtp_notimpl },
	{ "MAIL", SMTP_CMD, smtp_notimpl },
	{ "RCPT", SMTP_CMD, smtp_notimpl },
	{ "DATA", SMTP_CMD, smtp_notimpl },
	{ "RSET", SMTP_CMD, smtp_notimpl },
	{ "VRFY", SMTP_CMD, smtp_notimpl },
	{ "EXPN", SMTP_CMD, smtp_notimpl },
	{ "HELP", SMTP_CMD, smtp_notimpl }
};

/* Every reply carries an RFC 3463 enhanced status code. */
static void
smtp_reply(struct smtp_sess *s, const char *text)
{
	conn_printf(s->c, "%s\r\n", text);
}

static void
smtp_noop(struct smtp_sess *s, char *arg)
{
	/* RFC 5321 4.1.1.9: NOOP may carry a string, which is ignored. */
	(void)arg;
	smtp_reply(s, "250 2.0.0 OK");
}

static void
smtp_quit(struct smtp_sess *s, char *arg)
{
	(void)arg;
	conn_printf(s->c, "221 2.0.0 %s closing connection\r\n",
	    config->hostname);
	conn_close(s->c);
}

static void
smtp_notimpl(struct smtp_sess *s, char *arg)
{
	(void)arg;
	s->nbad++;
	smtp_reply(s, "502 5.5.1 Command not implemented");
}

static void *
smtp_start(struct conn *c)
{
	struct smtp_sess *s;

	if ((s = malloc(sizeof(*s))) == NULL) {
		conn_puts(c, "421 4.3.0 Out of memory, try again later\r\n");
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->state = SMTP_CMD;
	conn_printf(c, "220 %s ESMTP yubin\r\n", config->hostname);
	return s;
}

static void
smtp_line(void *arg, char *line, size_t len)
{
	struct smtp_sess *s = arg;
	const struct smtp_cmd *cmd;
	size_t vlen, i;
	char *p;

	s->ncmds++;
	if (memchr(line, '\0', len) != NULL) {
		s->nbad++;
		smtp_reply(s, "500 5.5.2 NUL character in command");
		return;
	}
	for (vlen = 0; line[vlen] != '\0' && line[vlen] != ' '; vlen++)
		;
	p = line + vlen;
	while (*p == ' ')
		p++;
	for (i = 0; i < NELEM(smtp_cmds); i++) {
		cmd = &smtp_cmds[i];
		if (strlen(cmd->verb) == vlen &&
		    ascii_ncasecmp(cmd->verb, line, vlen) == 0)
			break;
	}
	if (i == NELEM(smtp_cmds)) {
		s->nbad++;
		smtp_reply(s, "500 5.5.2 Command unrecognized");
		return;
	}
	if (!(cmd->states & s->state)) {
		s->nbad++;
		smtp_reply(s, "503 5.5.1 Bad sequence of commands");
		return;
	}
	cmd->fn(s, p);
}

static void
smtp_overlong(void *arg)
{
	struct smtp_sess *s = arg;

	s->nbad++;
	smtp_reply(s, "500 5.5.2 Line too long");
}

static void
smtp_timeout(void *arg)
{
	struct smtp_sess *s = arg;

	/* RFC 5321 4.5.3.2: the server may close after its timeout. */
	conn_printf(s->c, "421 4.4.2 %s Error: timeout exceeded\r\n",
	    config->hostname);
}

static void
smtp_shutdown(void *arg)
{
	struct smtp_sess *s = arg;

	conn_printf(s->c, "421 4.3.2 %s Service shutting down\r\n",
	    config->hostname);
}

static void
smtp_end(void *arg)
{
	struct smtp_sess *s = arg;

	log_info("%s[%lu] %s: disconnect commands=%lu bad=%lu",
	    s->c->proto->name, s->c->id, s->c->peer, s->ncmds, s->nbad);
	free(s);
}

static void
smtp_busy(struct buf *out)
{
	buf_printf(out, "421 4.7.0 %s Too many connections, try again later\r\n",
	    config->hostname);
}

static int
smtp_timeout_secs(void)
{
	return config->smtp_timeout;
}

const struct proto proto_smtp = {
	"smtp", SMTP_LINE_MAX, smtp_timeout_secs, smtp_start, smtp_line,
	NULL, smtp_overlong, smtp_timeout, smtp_shutdown, smtp_end, smtp_busy
};

const struct proto proto_submission = {
	"submission", SMTP_LINE_MAX, smtp_timeout_secs, smtp_start, smtp_line,
	NULL, smtp_overlong, smtp_timeout, smtp_shutdown, smtp_end, smtp_busy
};

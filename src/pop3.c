/*
 * pop3.c - the POP3 server session (RFC 1939, RFC 2449).  A state
 * machine fed with lines by conn.c; one table lists each command and the
 * states it is legal in (popa3d's way).
 *
 * This is the session frame: the greeting with its APOP timestamp,
 * NOOP, QUIT, and errors for everything not offered yet.
 */
#include "yubin.h"

#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "proto.h"
#include "util.h"

enum pop3_state {
	POP3_AUTH = 1,		/* RFC 1939 section 4: AUTHORIZATION */
	POP3_TRANS = 2		/* TRANSACTION */
};

struct pop3_sess {
	struct conn		*c;
	enum pop3_state		state;
	char			stamp[128];	/* APOP timestamp, with <> */
	unsigned long		ncmds, nbad;
};

struct pop3_cmd {
	const char	*verb;
	int		states;
	void		(*fn)(struct pop3_sess *s, char *arg);
};

static void pop3_noop(struct pop3_sess *, char *);
static void pop3_quit(struct pop3_sess *, char *);

static const struct pop3_cmd pop3_cmds[] = {
	{ "NOOP", POP3_AUTH | POP3_TRANS, pop3_noop },
	{ "QUIT", POP3_AUTH | POP3_TRANS, pop3_quit }
};

static void
pop3_noop(struct pop3_sess *s, char *arg)
{
	(void)arg;
	conn_puts(s->c, "+OK\r\n");
}

static void
pop3_quit(struct pop3_sess *s, char *arg)
{
	(void)arg;
	conn_printf(s->c, "+OK %s POP3 server signing off\r\n",
	    config->hostname);
	conn_close(s->c);
}

/*
 * RFC 1939 section 7: the timestamp must differ for every greeting.
 * pid and time as qpopper had them, plus a counter for connections
 * accepted within the same second.
 */
static int
pop3_make_stamp(char *out, size_t len)
{
	static unsigned long seq;
	int r;

	r = snprintf(out, len, "<%ld.%lu.%lu@%s>", (long)getpid(),
	    (unsigned long)time(NULL), ++seq, config->hostname);
	return (r < 0 || (size_t)r >= len) ? -1 : 0;
}

static void *
pop3_start(struct conn *c)
{
	struct pop3_sess *s;

	if ((s = malloc(sizeof(*s))) == NULL) {
		conn_puts(c, "-ERR [SYS/TEMP] Out of memory\r\n");
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->state = POP3_AUTH;
	if (pop3_make_stamp(s->stamp, sizeof(s->stamp)) < 0) {
		conn_puts(c, "-ERR [SYS/TEMP] Host name too long\r\n");
		free(s);
		return NULL;
	}
	conn_printf(c, "+OK yubin POP3 server ready %s\r\n", s->stamp);
	return s;
}

static void
pop3_line(void *arg, char *line, size_t len)
{
	struct pop3_sess *s = arg;
	const struct pop3_cmd *cmd;
	size_t vlen, i;
	char *p;

	s->ncmds++;
	if (memchr(line, '\0', len) != NULL) {
		s->nbad++;
		conn_puts(s->c, "-ERR NUL character in command\r\n");
		return;
	}
	for (vlen = 0; line[vlen] != '\0' && line[vlen] != ' '; vlen++)
		;
	p = line + vlen;
	if (*p == ' ')
		p++;
	for (i = 0; i < NELEM(pop3_cmds); i++) {
		cmd = &pop3_cmds[i];
		if (strlen(cmd->verb) == vlen &&
		    ascii_ncasecmp(cmd->verb, line, vlen) == 0)
			break;
	}
	if (i == NELEM(pop3_cmds)) {
		s->nbad++;
		conn_puts(s->c, "-ERR Unknown command\r\n");
		return;
	}
	if (!(cmd->states & s->state)) {
		s->nbad++;
		conn_puts(s->c, "-ERR Command not valid in this state\r\n");
		return;
	}
	cmd->fn(s, p);
}

static void
pop3_overlong(void *arg)
{
	struct pop3_sess *s = arg;

	s->nbad++;
	conn_puts(s->c, "-ERR Line too long\r\n");
}

static void
pop3_timeout(void *arg)
{
	struct pop3_sess *s = arg;

	/* RFC 1939 section 3: the autologout timer. */
	conn_puts(s->c, "-ERR Autologout; idle for too long\r\n");
}

static void
pop3_shutdown(void *arg)
{
	struct pop3_sess *s = arg;

	conn_puts(s->c, "-ERR [SYS/TEMP] Server shutting down\r\n");
}

static void
pop3_end(void *arg)
{
	struct pop3_sess *s = arg;

	log_info("pop3[%lu] %s: disconnect commands=%lu bad=%lu", s->c->id,
	    s->c->peer, s->ncmds, s->nbad);
	free(s);
}

static void
pop3_busy(struct buf *out)
{
	buf_puts(out, "-ERR [SYS/TEMP] Too many connections, try again later\r\n");
}

static int
pop3_timeout_secs(void)
{
	return config->pop3_timeout;
}

const struct proto proto_pop3 = {
	"pop3", POP3_LINE_MAX, pop3_timeout_secs, pop3_start, pop3_line,
	NULL, pop3_overlong, pop3_timeout, pop3_shutdown, pop3_end, pop3_busy
};

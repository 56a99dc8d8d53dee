/*
 * imap.c - the IMAP4rev1 server session (RFC 3501).  A state machine fed
 * with lines by conn.c; one table lists each command with the states it
 * is legal in.
 *
 * This is the session frame: greeting, tag handling, CAPABILITY, NOOP,
 * LOGOUT, and BAD for what is not offered yet.
 */
#include "yubin.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "proto.h"
#include "util.h"

enum imap_state {
	IMAP_NOTAUTH = 1,	/* RFC 3501 3.1 */
	IMAP_AUTH = 2,
	IMAP_SELECTED = 4
};
#define IMAP_ANY	(IMAP_NOTAUTH | IMAP_AUTH | IMAP_SELECTED)

#define IMAP_CAPS	"IMAP4rev1"
#define IMAP_TAG_MAX	64

struct imap_sess {
	struct conn		*c;
	enum imap_state		state;
	unsigned long		ncmds, nbad;
};

struct imap_cmd {
	const char	*name;
	int		states;
	void		(*fn)(struct imap_sess *s, const char *tag, char *arg);
};

static void imap_capability(struct imap_sess *, const char *, char *);
static void imap_noop(struct imap_sess *, const char *, char *);
static void imap_logout(struct imap_sess *, const char *, char *);

static const struct imap_cmd imap_cmds[] = {
	{ "CAPABILITY", IMAP_ANY, imap_capability },
	{ "NOOP", IMAP_ANY, imap_noop },
	{ "LOGOUT", IMAP_ANY, imap_logout }
};

static void
imap_capability(struct imap_sess *s, const char *tag, char *arg)
{
	if (*arg != '\0') {
		conn_printf(s->c, "%s BAD CAPABILITY takes no arguments\r\n",
		    tag);
		return;
	}
	conn_printf(s->c, "* CAPABILITY " IMAP_CAPS "\r\n"
	    "%s OK CAPABILITY completed\r\n", tag);
}

static void
imap_noop(struct imap_sess *s, const char *tag, char *arg)
{
	if (*arg != '\0') {
		conn_printf(s->c, "%s BAD NOOP takes no arguments\r\n", tag);
		return;
	}
	conn_printf(s->c, "%s OK NOOP completed\r\n", tag);
}

static void
imap_logout(struct imap_sess *s, const char *tag, char *arg)
{
	if (*arg != '\0') {
		conn_printf(s->c, "%s BAD LOGOUT takes no arguments\r\n", tag);
		return;
	}
	/* RFC 3501 6.1.3: BYE first, then the tagged OK. */
	conn_printf(s->c, "* BYE %s IMAP4rev1 server logging out\r\n"
	    "%s OK LOGOUT completed\r\n", config->hostname, tag);
	conn_close(s->c);
}

static void *
imap_start(struct conn *c)
{
	struct imap_sess *s;

	if ((s = malloc(sizeof(*s))) == NULL) {
		conn_puts(c, "* BYE Out of memory\r\n");
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->state = IMAP_NOTAUTH;
	conn_printf(c, "* OK [CAPABILITY " IMAP_CAPS "] %s yubin IMAP4rev1 "
	    "server ready\r\n", config->hostname);
	return s;
}

/*
 * RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+">, i.e. an atom
 * character (no CTL, space, ( ) { % * " \) or "]", but not "+".
 */
static int
imap_tag_char(int ch)
{
	if (ch <= ' ' || ch >= 127)
		return 0;
	return strchr("(){%*\"\\+", ch) == NULL;
}

static void
imap_line(void *arg, char *line, size_t len)
{
	struct imap_sess *s = arg;
	const struct imap_cmd *cmd;
	size_t tlen, nlen, i;
	char *name, *p;

	s->ncmds++;
	for (tlen = 0; tlen < len && imap_tag_char((unsigned char)line[tlen]);
	    tlen++)
		;
	if (tlen == 0 || tlen > IMAP_TAG_MAX || line[tlen] != ' ') {
		s->nbad++;
		conn_puts(s->c, "* BAD Missing or invalid tag\r\n");
		return;
	}
	line[tlen] = '\0';
	if (memchr(line + tlen + 1, '\0', len - tlen - 1) != NULL) {
		s->nbad++;
		log_notice("imap[%lu] %s: NUL character in a command",
		    s->c->id, s->c->peer);
		conn_printf(s->c, "%s BAD NUL character in command\r\n", line);
		return;
	}
	name = line + tlen + 1;
	for (nlen = 0; name[nlen] != '\0' && name[nlen] != ' '; nlen++)
		;
	p = name + nlen;
	if (*p == ' ')
		p++;
	for (i = 0; i < NELEM(imap_cmds); i++) {
		cmd = &imap_cmds[i];
		if (strlen(cmd->name) == nlen &&
		    ascii_ncasecmp(cmd->name, name, nlen) == 0)
			break;
	}
	if (i == NELEM(imap_cmds)) {
		s->nbad++;
		conn_printf(s->c, "%s BAD Unknown command\r\n", line);
		return;
	}
	if (!(cmd->states & s->state)) {
		s->nbad++;
		conn_printf(s->c, "%s BAD Command not valid in this state\r\n",
		    line);
		return;
	}
	cmd->fn(s, line, p);
}

static void
imap_overlong(void *arg)
{
	struct imap_sess *s = arg;

	s->nbad++;
	log_notice("imap[%lu] %s: command line over %d octets", s->c->id,
	    s->c->peer, IMAP_LINE_MAX);
	conn_puts(s->c, "* BAD Line too long\r\n");
}

static void
imap_timeout(void *arg)
{
	struct imap_sess *s = arg;

	/* RFC 3501 5.4: the autologout timer, at least 30 minutes. */
	conn_puts(s->c, "* BYE Autologout; idle for too long\r\n");
}

static void
imap_shutdown(void *arg)
{
	struct imap_sess *s = arg;

	conn_puts(s->c, "* BYE Server shutting down\r\n");
}

static void
imap_end(void *arg)
{
	struct imap_sess *s = arg;

	log_info("imap[%lu] %s: disconnect commands=%lu bad=%lu", s->c->id,
	    s->c->peer, s->ncmds, s->nbad);
	free(s);
}

static void
imap_busy(struct buf *out)
{
	buf_puts(out, "* BYE Too many connections, try again later\r\n");
}

static int
imap_timeout_secs(void)
{
	return config->imap_timeout;
}

const struct proto proto_imap = {
	"imap", IMAP_LINE_MAX, imap_timeout_secs, imap_start, imap_line,
	NULL, imap_overlong, imap_timeout, imap_shutdown, imap_end, imap_busy
};

/*
 * smtp.c - the SMTP server session (RFC 5321), on the smtp and the
 * submission ports.  A state machine fed with lines by conn.c; it never
 * touches a socket.  Commands live in one table with the states they are
 * legal in and the 503 reply for the others: sequence errors come from
 * the table, not from the handlers.
 *
 * Every reply carries an RFC 3463 enhanced status code (RFC 2034).
 * After the final dot the session holds its input (pipelined commands
 * wait) until every copy of the message is on disk or in the queue:
 * 250 is never said before that (DESIGN.md).
 */
#include "yubin.h"

#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "conf.h"
#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "proto.h"
#include "queue.h"
#include "resolve.h"
#include "user.h"
#include "util.h"

enum smtp_state {
	S_INIT = 1,		/* greeted, no HELO/EHLO yet */
	S_READY = 2,		/* no transaction */
	S_MAIL = 4,		/* after MAIL */
	S_RCPT = 8,		/* at least one recipient */
	S_DATA = 16,		/* reading the message */
	S_BUSY = 32		/* delivering it; input held */
};
#define S_SESSION	(S_READY | S_MAIL | S_RCPT)
#define S_ANY		(S_INIT | S_SESSION)

#define SMTP_RCPT_MAX	100	/* RFC 5321 4.5.3.1.8: at least 100 */
#define SMTP_ERRORS_MAX	20	/* then 421: a confused or hostile client */
#define SMTP_HOPS_MAX	50	/* Received: lines: a mail loop (RFC 5321 6.3) */
#define SMTP_TEXT_MAX	998	/* RFC 5322 2.1.1, RFC 5321 4.5.3.1.6 */

struct smtp_sess {
	struct conn		*c;
	enum smtp_state		state;
	int			esmtp;
	char			helo[256];
	struct resolve_ctx	rc;
	struct msg		*m;
	struct rcpt		*rcpts;
	int			nrcpt;
	/* the message being read */
	unsigned long		size;
	int			too_big, long_line, has_nul, in_header, skip;
	int			hops;
	/* its delivery */
	struct dispatch		*disp;
	/* counters for the disconnect line */
	unsigned long		ncmds, nbad, nmsgs;
};

struct smtp_cmd {
	const char	*verb;
	int		states;
	const char	*seq_err;	/* the 503 text in other states */
	void		(*fn)(struct smtp_sess *s, char *arg);
};

static void smtp_helo(struct smtp_sess *, char *);
static void smtp_ehlo(struct smtp_sess *, char *);
static void smtp_mail(struct smtp_sess *, char *);
static void smtp_rcpt(struct smtp_sess *, char *);
static void smtp_data(struct smtp_sess *, char *);
static void smtp_rset(struct smtp_sess *, char *);
static void smtp_noop(struct smtp_sess *, char *);
static void smtp_quit(struct smtp_sess *, char *);
static void smtp_vrfy(struct smtp_sess *, char *);
static void smtp_expn(struct smtp_sess *, char *);
static void smtp_help(struct smtp_sess *, char *);

static const struct smtp_cmd smtp_cmds[] = {
	{ "HELO", S_ANY, "", smtp_helo },
	{ "EHLO", S_ANY, "", smtp_ehlo },
	{ "MAIL", S_READY, "Nested MAIL command", smtp_mail },
	{ "RCPT", S_MAIL | S_RCPT, "Need MAIL before RCPT", smtp_rcpt },
	{ "DATA", S_RCPT, "Need RCPT (recipient) before DATA", smtp_data },
	{ "RSET", S_ANY, "", smtp_rset },
	{ "NOOP", S_ANY, "", smtp_noop },
	{ "QUIT", S_ANY, "", smtp_quit },
	{ "VRFY", S_ANY, "", smtp_vrfy },
	{ "EXPN", S_ANY, "", smtp_expn },
	{ "HELP", S_ANY, "", smtp_help }
};

static void
reply(struct smtp_sess *s, const char *text)
{
	conn_printf(s->c, "%s\r\n", text);
}

static void
error(struct smtp_sess *s, const char *text)
{
	s->nbad++;
	reply(s, text);
}

static void
set_state(struct smtp_sess *s, enum smtp_state st)
{
	if (s->c != NULL)
		log_debug("smtp[%lu] state %d -> %d", s->c->id,
		    (int)s->state, (int)st);
	s->state = st;
}

/* Forget the transaction (RFC 5321 4.1.1.5), keep the session. */
static void
reset(struct smtp_sess *s)
{
	int i;

	for (i = 0; i < s->nrcpt; i++)
		targetlist_free(&s->rcpts[i].tl);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	msg_unref(s->m);
	s->m = NULL;
	if (s->state != S_INIT)
		set_state(s, S_READY);
}

/* "FROM:" / "TO:" then the path, spaces before '<' tolerated. */
static const char *
after_keyword(const char *arg, const char *kw)
{
	size_t n = strlen(kw);

	if (ascii_ncasecmp(arg, kw, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return *arg == '<' ? arg : NULL;
}

static int
helo_arg(struct smtp_sess *s, char *arg)
{
	if (*arg == '\0') {
		error(s, "501 5.5.4 Syntax: HELO/EHLO domain");
		return -1;
	}
	strlcpy(s->helo, arg, sizeof(s->helo));
	reset(s);
	set_state(s, S_READY);
	return 0;
}

static void
smtp_helo(struct smtp_sess *s, char *arg)
{
	if (helo_arg(s, arg) < 0)
		return;
	s->esmtp = 0;
	conn_printf(s->c, "250 %s\r\n", config->hostname);
}

static void
smtp_ehlo(struct smtp_sess *s, char *arg)
{
	if (helo_arg(s, arg) < 0)
		return;
	s->esmtp = 1;
	/* RFC 1870 SIZE, RFC 2920, RFC 6152, RFC 2034 */
	conn_printf(s->c, "250-%s\r\n250-PIPELINING\r\n250-SIZE %lu\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n",
	    config->hostname, config->message_size_limit);
}

static void
smtp_mail(struct smtp_sess *s, char *arg)
{
	struct mail_params mp;
	const char *p, *end;
	struct addr a;
	int r;

	if ((p = after_keyword(arg, "FROM:")) == NULL) {
		error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if ((r = addr_parse_path(p, &a, &end, ADDR_NULL_OK)) != 0) {
		conn_printf(s->c, "501 5.1.7 Bad sender address syntax: %s\r\n",
		    addr_strerror(r));
		s->nbad++;
		return;
	}
	if ((r = addr_parse_params(end, PARAM_SIZE | PARAM_BODY, &mp)) != 0) {
		s->nbad++;
		if (r == ADDR_ERR_PARAM_UNKNOWN)
			conn_printf(s->c, "555 5.5.4 Unsupported parameter "
			    "%s\r\n", mp.keyword);
		else
			conn_printf(s->c, "501 5.5.4 Bad parameter %s: %s\r\n",
			    mp.keyword, addr_strerror(r));
		return;
	}
	/* RFC 1870 6.1: refuse at once what will not fit. */
	if (mp.has_size && mp.size > config->message_size_limit) {
		error(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		return;
	}
	if ((s->m = msg_new()) == NULL) {
		error(s, "451 4.3.0 Out of memory, try again later");
		return;
	}
	msg_make_id(s->m->id, sizeof(s->m->id));
	if (!a.null && addr_format(&a, s->m->sender,
	    sizeof(s->m->sender)) < 0) {
		reset(s);
		error(s, "501 5.1.7 Sender address too long");
		return;
	}
	strlcpy(s->m->helo, s->helo, sizeof(s->m->helo));
	strlcpy(s->m->client, s->c->peer, sizeof(s->m->client));
	strlcpy(s->m->proto, s->esmtp ? "ESMTP" : "SMTP",
	    sizeof(s->m->proto));
	set_state(s, S_MAIL);
	reply(s, "250 2.1.0 Ok");
}

static int
rcpt_add(struct smtp_sess *s, const char *orig, struct targetlist *tl)
{
	struct rcpt *nv;

	nv = realloc(s->rcpts, (size_t)(s->nrcpt + 1) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	s->rcpts = nv;
	strlcpy(nv[s->nrcpt].orig, orig, sizeof(nv[s->nrcpt].orig));
	nv[s->nrcpt].tl = *tl;
	s->nrcpt++;
	return 0;
}

static void
smtp_rcpt(struct smtp_sess *s, char *arg)
{
	struct mail_params mp;
	struct targetlist tl;
	char text[MSG_ADDR_MAX], why[128];
	const char *p, *end;
	struct addr a;
	int r;

	if ((p = after_keyword(arg, "TO:")) == NULL) {
		error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if ((r = addr_parse_path(p, &a, &end, ADDR_POSTMASTER_OK)) != 0 ||
	    addr_format(&a, text, sizeof(text)) < 0) {
		conn_printf(s->c, "501 5.1.3 Bad recipient address syntax: "
		    "%s\r\n", r ? addr_strerror(r) : "too long");
		s->nbad++;
		return;
	}
	if ((r = addr_parse_params(end, 0, &mp)) != 0) {
		conn_printf(s->c, "555 5.5.4 Unsupported parameter %s\r\n",
		    mp.keyword);
		s->nbad++;
		return;
	}
	if (s->nrcpt >= SMTP_RCPT_MAX) {
		error(s, "452 4.5.3 Too many recipients");
		return;
	}
	targetlist_init(&tl);
	r = resolve_rcpt(&a, &s->rc, &tl, why, sizeof(why));
	if (r == RESOLVE_OK && rcpt_add(s, text, &tl) < 0)
		r = RESOLVE_TEMP;
	if (r != RESOLVE_OK)
		targetlist_free(&tl);
	switch (r) {
	case RESOLVE_OK:
		set_state(s, S_RCPT);
		reply(s, "250 2.1.5 Ok");
		return;
	case RESOLVE_UNKNOWN:
		conn_printf(s->c, "550 5.1.1 <%s>: Recipient address rejected: "
		    "User unknown\r\n", text);
		break;
	case RESOLVE_DENIED:
		log_notice("%s: relay attempt to <%s> denied", s->c->peer,
		    text);
		conn_printf(s->c, "550 5.7.1 <%s>: Relay access denied\r\n",
		    text);
		break;
	default:
		conn_printf(s->c, "451 4.3.0 <%s>: Temporary failure: %s\r\n",
		    text, why);
		break;
	}
	s->nbad++;
}

static void
smtp_data(struct smtp_sess *s, char *arg)
{
	if (*arg != '\0') {
		error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	s->size = 0;
	s->too_big = s->long_line = s->has_nul = s->skip = s->hops = 0;
	s->in_header = 1;
	set_state(s, S_DATA);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
smtp_rset(struct smtp_sess *s, char *arg)
{
	if (*arg != '\0') {
		error(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	reset(s);
	reply(s, "250 2.0.0 Ok");
}

static void
smtp_noop(struct smtp_sess *s, char *arg)
{
	/* RFC 5321 4.1.1.9: NOOP may carry a string, which is ignored. */
	(void)arg;
	reply(s, "250 2.0.0 OK");
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
smtp_vrfy(struct smtp_sess *s, char *arg)
{
	if (*arg == '\0') {
		error(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	/* RFC 5321 3.5.3: 252 neither confirms nor denies a user. */
	reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and "
	    "attempt delivery");
}

static void
smtp_expn(struct smtp_sess *s, char *arg)
{
	(void)arg;
	/* RFC 5321 3.5.3: EXPN may be disabled; lists are not shown. */
	error(s, "502 5.5.1 EXPN not available");
}

static void
smtp_help(struct smtp_sess *s, char *arg)
{
	(void)arg;
	reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP "
	    "QUIT VRFY HELP\r\n214 2.0.0 End of HELP info");
}

/* --- the message text --- */

static void
data_header(struct smtp_sess *s, const char *line, size_t len)
{
	if (len == 0) {
		s->in_header = 0;
		s->skip = 0;
		return;
	}
	if (line[0] == ' ' || line[0] == '\t')
		return;			/* continues the field before */
	s->skip = msg_header_is_ours(line, len);
	if (len >= 9 && ascii_ncasecmp(line, "Received:", 9) == 0)
		s->hops++;
}

static void data_end(struct smtp_sess *s);

static void
data_line(struct smtp_sess *s, char *line, size_t len)
{
	if (len == 1 && line[0] == '.') {
		data_end(s);
		return;
	}
	/* RFC 5321 4.5.2: a leading dot was doubled by the client. */
	if (line[0] == '.') {
		line++;
		len--;
	}
	s->size += len + 2;
	if (s->size > config->message_size_limit)
		s->too_big = 1;
	if (len > SMTP_TEXT_MAX)
		s->long_line = 1;
	if (memchr(line, '\0', len) != NULL)
		s->has_nul = 1;
	/* A message that will be refused is read to its end, not kept. */
	if (s->too_big || s->long_line || s->has_nul)
		return;
	if (s->in_header)
		data_header(s, line, len);
	if (s->skip)
		return;
	if (buf_append(&s->m->data, line, len) < 0 ||
	    buf_append(&s->m->data, "\n", 1) < 0)
		s->too_big = 2;		/* out of memory: a 4xx */
}

/* --- delivery: every copy on disk or queued before the reply --- */

static void
dispatched(void *arg, int ok, const char *status)
{
	struct smtp_sess *s = arg;

	s->disp = NULL;
	if (ok) {
		s->nmsgs++;
		conn_printf(s->c, "250 2.0.0 Ok: %s as %s\r\n", status,
		    s->m->id);
	} else
		error(s, "451 4.3.0 Local error in processing, try again "
		    "later");
	reset(s);
	conn_release(s->c);
}

static void
start_delivery(struct smtp_sess *s)
{
	log_info("%s: from=<%s>, size=%lu, nrcpt=%d", s->m->id, s->m->sender,
	    s->size, s->nrcpt);
	s->disp = dispatch_start(s->m, s->rcpts, s->nrcpt, dispatched, s);
	if (s->disp == NULL) {
		error(s, "451 4.3.0 Out of memory, try again later");
		reset(s);
		return;
	}
	set_state(s, S_BUSY);
	conn_hold(s->c);
}

static void
data_end(struct smtp_sess *s)
{
	if (s->too_big == 2)
		error(s, "451 4.3.0 Out of memory, try again later");
	else if (s->too_big) {
		log_notice("%s[%lu] %s: message over %lu octets refused",
		    s->c->proto->name, s->c->id, s->c->peer,
		    config->message_size_limit);
		error(s, "552 5.3.4 Message size exceeds fixed maximum message "
		    "size");
	} else if (s->long_line) {
		log_notice("%s[%lu] %s: message with a line over 1000 octets "
		    "refused", s->c->proto->name, s->c->id, s->c->peer);
		error(s, "554 5.6.0 Message has a line longer than 1000 octets "
		    "(RFC 5321 4.5.3.1.6)");
	} else if (s->has_nul) {
		log_notice("%s[%lu] %s: message with NUL characters refused",
		    s->c->proto->name, s->c->id, s->c->peer);
		error(s, "554 5.6.0 Message contains NUL characters");
	} else if (s->hops > SMTP_HOPS_MAX) {
		log_notice("%s[%lu] %s: message with %d Received: lines refused "
		    "(mail loop?)", s->c->proto->name, s->c->id, s->c->peer,
		    s->hops);
		error(s, "554 5.4.6 Too many hops: mail loop?");
	} else {
		start_delivery(s);
		return;
	}
	reset(s);
}

/* --- the session --- */

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
	s->state = S_INIT;
	s->rc.may_relay = c->family != 0 &&
	    netlist_match(&config->relay_networks, c->family, c->addr);
	if (net_local(c->rfd, &s->rc.local_family, s->rc.local_addr) < 0)
		s->rc.local_family = 0;
	conn_printf(c, "220 %s ESMTP yubin\r\n", config->hostname);
	return s;
}

static void
smtp_command(struct smtp_sess *s, char *line, size_t len)
{
	const struct smtp_cmd *cmd;
	size_t vlen, i;
	char *p;

	s->ncmds++;
	if (memchr(line, '\0', len) != NULL) {
		log_notice("%s[%lu] %s: NUL character in a command",
		    s->c->proto->name, s->c->id, s->c->peer);
		error(s, "500 5.5.2 NUL character in command");
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
		error(s, "500 5.5.2 Command unrecognized");
		return;
	}
	if (!(cmd->states & s->state)) {
		if (s->state == S_INIT)
			error(s, "503 5.5.1 Send HELO/EHLO first");
		else if (cmd->fn == smtp_data && s->state == S_MAIL)
			/* RFC 2920 3.1: no valid recipients */
			error(s, "554 5.5.1 No valid recipients");
		else {
			conn_printf(s->c, "503 5.5.1 %s\r\n", cmd->seq_err);
			s->nbad++;
		}
		return;
	}
	cmd->fn(s, p);
}

static void
smtp_line(void *arg, char *line, size_t len)
{
	struct smtp_sess *s = arg;

	if (s->state == S_DATA) {
		data_line(s, line, len);
		return;
	}
	smtp_command(s, line, len);
	if (s->nbad >= SMTP_ERRORS_MAX && !(s->c->flags & CONN_CLOSING)) {
		conn_printf(s->c, "421 4.7.0 %s Too many errors\r\n",
		    config->hostname);
		conn_close(s->c);
	}
}

static void
smtp_overlong(void *arg)
{
	struct smtp_sess *s = arg;

	/* In the text, the rest of the line is dropped; the message will
	 * be refused at its end, not cut. */
	if (s->state == S_DATA) {
		s->long_line = 1;
		return;
	}
	log_notice("%s[%lu] %s: command line over %d octets",
	    s->c->proto->name, s->c->id, s->c->peer, SMTP_LINE_MAX);
	error(s, "500 5.5.2 Line too long");
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

	/* A message being delivered gets its 250 (or 451) first. */
	if (s->state == S_BUSY)
		return;
	conn_printf(s->c, "421 4.3.2 %s Service shutting down\r\n",
	    config->hostname);
}

static void
smtp_end(void *arg)
{
	struct smtp_sess *s = arg;

	log_info("%s[%lu] %s: disconnect commands=%lu bad=%lu messages=%lu",
	    s->c->proto->name, s->c->id, s->c->peer, s->ncmds, s->nbad,
	    s->nmsgs);
	/* Copies still being written finish (or are queued) without us. */
	if (s->disp != NULL)
		dispatch_detach(s->disp);
	s->c = NULL;
	reset(s);
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

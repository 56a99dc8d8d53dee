/*
 * smtpc_reply.c - the SMTP client's conversation (see smtpc.h): the
 * replies it reads and the commands they lead to.
 *
 * RFC 5321 with three extensions: PIPELINING (RFC 2920: MAIL, every
 * RCPT and DATA go out as one group, DATA last, and the replies are
 * matched to the commands by counting, never by their codes or text),
 * SIZE (RFC 1870) and 8BITMIME (RFC 6152: 8-bit data is never sent to
 * a server that does not offer it; we do not convert, so that is a
 * bounce).  Without PIPELINING the same sequence goes one command per
 * reply.  Replies are parsed line by line as they arrive (RFC 5321
 * 4.2: every line checked, one code throughout); only the first line
 * of a reply is kept.
 *
 * This file never touches a socket or a file: it reads c->in and
 * queues into c->out; smtpc.c does the I/O.
 */
#include "yubin.h"

#include <sys/types.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "smtpc.h"
#include "smtpc_priv.h"
#include "util.h"

/* The timeout for the reply to a command of the sequence. */
static unsigned long
seq_timeout(const struct smtpc *c, int s)
{
	return s == SEQ_MAIL ? c->tmo.mail : s == SEQ_DATA ? c->tmo.data :
	    c->tmo.rcpt;
}

/* 2xx/3xx as wanted -> SENT, 4xx -> TEMP, 5xx -> PERM, else -1. */
static int
reply_kind(int code, int want)
{
	if (code / 100 == want)
		return SMTPC_SENT;
	if (code / 100 == 4)
		return SMTPC_TEMP;
	if (code / 100 == 5)
		return SMTPC_PERM;
	return -1;
}

/* A reply that ends the session for everyone still waiting. */
static void
fail_reply(struct smtpc *c, int status, int quit)
{
	log_notice("smtpc %s: %s: %s", c->name, sc_waiting_for(c), c->rtext);
	(void)strlcpy(c->why, c->rtext, sizeof(c->why));
	sc_set_all(c, RS_PENDING, status, c->rtext);
	sc_set_all(c, RS_ACCEPTED, status, c->rtext);
	sc_conclude(c, quit);
}

static void
protocol_error(struct smtpc *c, const char *what)
{
	sc_fail(c, "protocol error from %s while waiting for %s: %s", c->name,
	    sc_waiting_for(c), what);
}

/* Refuse the message ourselves (8BITMIME, SIZE), then QUIT. */
static void
refuse(struct smtpc *c, const char *text)
{
	log_notice("smtpc %s: %s", c->name, text);
	sc_set_all(c, RS_PENDING, SMTPC_PERM, text);
	sc_conclude(c, 1);
}

static int
emit_cmd(struct smtpc *c, int s)
{
	const struct smtpc_job *j = c->job;

	if (s == SEQ_DATA)
		return buf_puts(&c->out, "DATA\r\n");
	if (s >= 0)
		return buf_printf(&c->out, "RCPT TO:<%s>\r\n",
		    j->rcpts[s].addr);
	if (buf_printf(&c->out, "MAIL FROM:<%s>", j->sender) < 0)
		return -1;
	if ((c->caps & CAP_SIZE) && buf_printf(&c->out, " SIZE=%lu",
	    j->size != 0 ? j->size : (unsigned long)j->msglen) < 0)
		return -1;
	if (j->eightbit && buf_puts(&c->out, " BODY=8BITMIME") < 0)
		return -1;
	return buf_puts(&c->out, "\r\n");
}

/*
 * Send what may be sent of MAIL, RCPT..., DATA: the whole group with
 * PIPELINING (RFC 2920 3.1: DATA last), one command per reply without.
 * The output buffer's low mark bounds what a long list queues at once.
 */
void
sc_emit(struct smtpc *c)
{
	int s;

	while (c->nsent < c->nseq && buf_used(&c->out) < OUT_LOW_WATER) {
		if (!(c->caps & CAP_PIPELINING) && c->nacked < c->nsent)
			return;
		s = c->seq[c->nsent];
		if (emit_cmd(c, s) < 0) {
			sc_fail(c, "out of memory for commands");
			return;
		}
		c->nsent++;
		if (c->nacked == c->nsent - 1 &&
		    sc_arm(c, seq_timeout(c, s)) < 0)
			return;
	}
}

static void
send_ehlo(struct smtpc *c, const char *verb, enum sc_state st)
{
	c->caps = 0;
	c->size_max = 0;
	if (buf_printf(&c->out, "%s %s\r\n", verb, c->job->helo) < 0) {
		sc_fail(c, "out of memory for commands");
		return;
	}
	sc_set_state(c, st);
	sc_arm(c, c->tmo.helo);
}

/* EHLO or HELO accepted: check what the message needs, then go. */
static void
start_trans(struct smtpc *c)
{
	const struct smtpc_job *j = c->job;
	char text[SMTPC_REPLY_MAX];
	unsigned long size = j->size != 0 ? j->size : (unsigned long)j->msglen;

	if (j->eightbit && !(c->caps & CAP_8BITMIME)) {
		/* RFC 6152 3: never 8-bit data to a server that has not
		 * said 8BITMIME; we do not convert, so this is final. */
		(void)snprintf(text, sizeof(text), "5.6.3 Cannot send 8-bit "
		    "data to a 7-bit server: %s does not offer 8BITMIME",
		    c->name);
		refuse(c, text);
		return;
	}
	if ((c->caps & CAP_SIZE) && c->size_max > 0 && size > c->size_max) {
		/* RFC 1870 6.1: a message over the fixed maximum is not
		 * tried; 5.3.4 is RFC 3463's "too big for system". */
		(void)snprintf(text, sizeof(text), "5.3.4 Message too big "
		    "for %s: %lu bytes, it accepts %lu", c->name, size,
		    c->size_max);
		refuse(c, text);
		return;
	}
	sc_set_state(c, SC_TRANS);
	ev_timer_del(&c->timer);
}

/* Does the greeting ("220 name ...") give our own host name? */
static int
greets_as_us(const struct smtpc *c)
{
	const char *name = c->rtext + 4, *sp;
	size_t n = strlen(c->job->helo);

	if (strlen(c->rtext) <= 4 || n == 0)
		return 0;
	sp = strchr(name, ' ');
	return (sp != NULL ? (size_t)(sp - name) : strlen(name)) == n &&
	    ascii_ncasecmp(name, c->job->helo, n) == 0;
}

static void
on_greeting(struct smtpc *c, int code)
{
	int k = reply_kind(code, 2);

	if (k == SMTPC_SENT) {
		c->greeted = 1;
		if (greets_as_us(c)) {
			char text[SMTPC_REPLY_MAX + 64];

			/* RFC 5321 5.1: a host that is ourselves is no
			 * place to relay to (an MX or address record that
			 * points here, a route to our own port); sendmail
			 * and Postfix bounce "loops back to myself" */
			(void)snprintf(text, sizeof(text), "5.4.6 Mail loops "
			    "back to myself: %s greets as %s", c->name,
			    c->job->helo);
			refuse(c, text);
			return;
		}
		send_ehlo(c, "EHLO", SC_EHLO);
	} else if (k < 0)
		protocol_error(c, c->rtext);
	else
		/* A 554 greeting means no service here (RFC 5321 3.1):
		 * like Postfix, try the next MX host rather than bounce. */
		fail_reply(c, SMTPC_TEMP, 1);
}

static void
on_helo(struct smtpc *c, int code)
{
	int k = reply_kind(code, 2);

	if (k == SMTPC_SENT)
		start_trans(c);
	else if (k < 0)
		protocol_error(c, c->rtext);
	else if (k == SMTPC_PERM && c->state == SC_EHLO)
		send_ehlo(c, "HELO", SC_HELO);	/* RFC 5321 3.2 */
	else
		fail_reply(c, k, 1);
}

/* One line of an EHLO reply after the first: a keyword and parameters. */
static void
ehlo_keyword(struct smtpc *c, const char *p)
{
	char word[32], *sp;
	unsigned long n;

	if (strlcpy(word, p, sizeof(word)) >= sizeof(word))
		return;			/* nothing we know is that long */
	if ((sp = strchr(word, ' ')) != NULL)
		*sp++ = '\0';
	if (ascii_casecmp(word, "PIPELINING") == 0)
		c->caps |= CAP_PIPELINING;
	else if (ascii_casecmp(word, "8BITMIME") == 0)
		c->caps |= CAP_8BITMIME;
	else if (ascii_casecmp(word, "SIZE") == 0) {
		c->caps |= CAP_SIZE;
		/* No number, or one we cannot read: no fixed limit. */
		c->size_max = sp != NULL && parse_ulong(sp, 0xffffffffUL,
		    &n) == 0 ? n : 0;
	}
}

static void
on_mail(struct smtpc *c, int k)
{
	if (k == SMTPC_SENT)
		return;
	c->mail_failed = 1;
	sc_set_all(c, RS_PENDING, k, c->rtext);
	/* Nothing more is sent; pipelined replies are still counted. */
	c->nseq = c->nsent;
}

static void
on_rcpt(struct smtpc *c, int i, int k)
{
	if (c->rst[i] != RS_PENDING)
		return;			/* MAIL failed: already answered */
	if (k == SMTPC_SENT) {
		c->rst[i] = RS_ACCEPTED;
		c->naccepted++;
	} else
		sc_set_rcpt(c, i, k, c->rtext);
}

static void
on_data(struct smtpc *c, int k)
{
	if (k != SMTPC_SENT) {
		sc_set_all(c, RS_ACCEPTED, k, c->rtext);
		sc_conclude(c, 1);
	} else if (c->naccepted == 0) {
		/* RFC 2920 3.1: DATA accepted although no RCPT was: send
		 * a lone dot, the server must not deliver the empty mail. */
		if (buf_puts(&c->out, ".\r\n") < 0) {
			sc_fail(c, "out of memory for commands");
			return;
		}
		sc_set_state(c, SC_NULLDOT);
		sc_arm(c, c->tmo.dot);
	} else {
		c->boff = c->job->msgoff;
		c->bleft = c->job->msglen;
		c->hpos = 0;
		c->bol = 1;
		c->lastcr = 0;
		c->body_end = 0;
		sc_set_state(c, SC_BODY);
		sc_arm(c, c->tmo.block);
	}
}

/* The reply to the next command of the sequence. */
static void
on_trans(struct smtpc *c, int code)
{
	int s, k;

	if (c->nacked >= c->nsent) {
		protocol_error(c, "a reply to no command");
		return;
	}
	s = c->seq[c->nacked++];
	if ((k = reply_kind(code, s == SEQ_DATA ? 3 : 2)) < 0) {
		protocol_error(c, c->rtext);
		return;
	}
	if (s == SEQ_DATA) {
		on_data(c, k);
		return;
	}
	if (s == SEQ_MAIL)
		on_mail(c, k);
	else
		on_rcpt(c, s, k);
	if (c->nacked < c->nsent)
		sc_arm(c, seq_timeout(c, c->seq[c->nacked]));
	else if (c->nsent == c->nseq || (c->seq[c->nsent] == SEQ_DATA &&
	    c->naccepted == 0))
		/* All answered, or no recipient left for DATA (without
		 * PIPELINING only: with it, DATA went out already). */
		sc_conclude(c, 1);
	else
		ev_timer_del(&c->timer);
}

static void
on_dot(struct smtpc *c, int code)
{
	int k = reply_kind(code, 2);

	if (k < 0) {
		protocol_error(c, c->rtext);
		return;
	}
	sc_set_all(c, RS_ACCEPTED, k, c->rtext);
	sc_conclude(c, 1);
}

/* A whole reply (the last line's code, the first line's text). */
static void
on_reply(struct smtpc *c)
{
	int code = c->rcode;

	if (c->state == SC_QUIT) {
		sc_close(c);
		return;
	}
	if (code == 421) {
		/* RFC 5321 3.8: the server is closing the channel. */
		fail_reply(c, SMTPC_TEMP, 0);
		return;
	}
	switch (c->state) {
	case SC_GREETING:
		on_greeting(c, code);
		break;
	case SC_EHLO:
	case SC_HELO:
		on_helo(c, code);
		break;
	case SC_TRANS:
		on_trans(c, code);
		break;
	case SC_BODY:
		/* An answer before our dot: a refusal, or nonsense. */
		if (reply_kind(code, 2) <= SMTPC_SENT)
			protocol_error(c, c->rtext);
		else
			fail_reply(c, reply_kind(code, 2), 0);
		break;
	case SC_DOT:
		on_dot(c, code);
		break;
	case SC_NULLDOT:
		sc_conclude(c, 1);
		break;
	default:
		protocol_error(c, "an unexpected reply");
		break;
	}
}

/* One reply line, CR LF removed, NUL-terminated (RFC 5321 4.2). */
static void
reply_line(struct smtpc *c, const char *p, size_t len)
{
	int code, last;

	if (len < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' ||
	    p[2] < '0' || p[2] > '9' || (len > 3 && p[3] != ' ' &&
	    p[3] != '-')) {
		char bad[80];

		sc_copy_text(bad, sizeof(bad), p, len);
		protocol_error(c, bad[0] != '\0' ? bad : "an empty line");
		return;
	}
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	last = len == 3 || p[3] == ' ';
	if (c->rlines == 0) {
		c->rcode = code;
		(void)snprintf(c->rtext, sizeof(c->rtext), "%d ", code);
		sc_copy_text(c->rtext + 4, sizeof(c->rtext) - 4,
		    len > 4 ? p + 4 : "", len > 4 ? len - 4 : 0);
		if (len <= 4)
			c->rtext[3] = '\0';
	} else if (code != c->rcode) {
		protocol_error(c, "a multiline reply whose codes differ");
		return;
	}
	if (++c->rlines > SMTPC_REPLY_LINES) {
		protocol_error(c, "a reply of too many lines");
		return;
	}
	if (c->state == SC_EHLO && c->rlines > 1 && code / 100 == 2)
		ehlo_keyword(c, len > 4 ? p + 4 : "");
	if (last) {
		c->rlines = 0;
		on_reply(c);
	}
}

/* Handle every complete line in the input buffer. */
void
sc_parse_input(struct smtpc *c)
{
	char *p, *nl;
	size_t used, len;

	while (!c->dead && (used = buf_used(&c->in)) > 0) {
		p = buf_ptr(&c->in);
		if ((nl = memchr(p, '\n', used)) == NULL) {
			if (used > SMTPC_LINE_MAX)
				protocol_error(c, "a reply line too long");
			return;
		}
		len = (size_t)(nl - p);
		if (len > SMTPC_LINE_MAX) {
			protocol_error(c, "a reply line too long");
			return;
		}
		/* Consuming only moves offsets: p stays valid. */
		buf_consume(&c->in, len + 1);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		p[len] = '\0';
		reply_line(c, p, len);
	}
}

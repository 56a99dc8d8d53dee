/*
 * smtp.c - the SMTP server session (RFC 5321), on the smtp and the
 * submission ports.  A state machine fed with lines by conn.c; it never
 * touches a socket.  Commands live in one table with the states they are
 * legal in and the 503 reply for the others: sequence errors come from
 * the table, not from the handlers.
 *
 * Submission (RFC 6409) is the same session with AUTH (RFC 4954): it is
 * offered and required there, and only there (as Postfix does by
 * default: port 25 takes mail for us and from relay_networks, and a
 * password typed on port 25 is one more thing to guess at).  Plaintext
 * mechanisms are offered only to plaintext_networks, as pop3.c and
 * imap.c do.  A failed AUTH is answered after a delay kept by a timer;
 * nothing here ever sleeps.
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
#include "auth.h"
#include "base64.h"
#include "conf.h"
#include "conn.h"
#include "dispatch.h"
#include "ev.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "proto.h"
#include "queue.h"
#include "resolve.h"
#include "rfc822.h"
#include "user.h"
#include "util.h"

enum smtp_state {
	S_INIT = 1,		/* greeted, no HELO/EHLO yet */
	S_READY = 2,		/* no transaction */
	S_MAIL = 4,		/* after MAIL */
	S_RCPT = 8,		/* at least one recipient */
	S_DATA = 16,		/* reading the message */
	S_BUSY = 32,		/* delivering it; input held */
	S_SASL = 64		/* inside an AUTH exchange, or its delay */
};
#define S_SESSION	(S_READY | S_MAIL | S_RCPT)
#define S_ANY		(S_INIT | S_SESSION)

#define SMTP_RCPT_MAX	100	/* RFC 5321 4.5.3.1.8: at least 100 */
#define SMTP_ERRORS_MAX	20	/* then 421: a confused or hostile client */
#define SMTP_HOPS_MAX	50	/* Received: lines: a mail loop (RFC 5321 6.3) */
#define SMTP_TEXT_MAX	998	/* RFC 5322 2.1.1, RFC 5321 4.5.3.1.6 */
#define AUTH_DELAY_MS	2000UL	/* before a failed AUTH is answered */
#define AUTH_FAILS_MAX	3	/* then the connection is closed */

/* SASL mechanisms (RFC 4954 4) */

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
	int			has_date, has_msgid;	/* in the header */
	int			hops;
	/* its delivery */
	struct dispatch		*disp;
	/* AUTH: only on the submission port */
	int			submission;
	char			auth_user[USER_NAME_MAX + 1];	/* "" before */
	int			mech, sasl_step;
	char			sasl_user[USER_NAME_MAX + 1];	/* LOGIN's */
	char			challenge[128];			/* CRAM-MD5's */
	int			auth_fails;
	struct ev_timer		delay;
	int			close_after;
	/* counters for the disconnect line */
	unsigned long		ncmds, nbad, nmsgs;
};

struct smtp_cmd {
	const char	*verb;
	int		states;
	const char	*seq_err;	/* the 503 text in other states */
	void		(*fn)(struct smtp_sess *s, char *arg);
	int		needs_auth;	/* on submission: 530 before AUTH */
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
static void smtp_auth(struct smtp_sess *, char *);

/* RFC 4954 6: 530 for anything but AUTH, EHLO, HELO, NOOP, RSET, QUIT
 * (and HELP, which tells nothing) until the client has logged in. */
static const struct smtp_cmd smtp_cmds[] = {
	{ "HELO", S_ANY, "", smtp_helo, 0 },
	{ "EHLO", S_ANY, "", smtp_ehlo, 0 },
	{ "MAIL", S_READY, "Nested MAIL command", smtp_mail, 1 },
	{ "RCPT", S_MAIL | S_RCPT, "Need MAIL before RCPT", smtp_rcpt, 1 },
	{ "DATA", S_RCPT, "Need RCPT (recipient) before DATA", smtp_data, 1 },
	{ "RSET", S_ANY, "", smtp_rset, 0 },
	{ "NOOP", S_ANY, "", smtp_noop, 0 },
	{ "QUIT", S_ANY, "", smtp_quit, 0 },
	{ "VRFY", S_ANY, "", smtp_vrfy, 1 },
	{ "EXPN", S_ANY, "", smtp_expn, 1 },
	{ "HELP", S_ANY, "", smtp_help, 0 },
	/* RFC 4954 4: not during a mail transaction */
	{ "AUTH", S_READY, "AUTH not permitted during a mail transaction",
	    smtp_auth, 0 }
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
		log_debug("%s[%lu] state %d -> %d", s->c->proto->name,
		    s->c->id, (int)s->state, (int)st);
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

/* Plaintext secrets only where the configuration allows them. */
static int
plaintext_ok(const struct smtp_sess *s)
{
	return s->c->family == 0 ||
	    netlist_match(&config->plaintext_networks, s->c->family,
	    s->c->addr);
}

static void
smtp_ehlo(struct smtp_sess *s, char *arg)
{
	if (helo_arg(s, arg) < 0)
		return;
	s->esmtp = 1;
	/* RFC 1870 SIZE, RFC 2920, RFC 6152, RFC 2034, RFC 4954 AUTH */
	conn_printf(s->c, "250-%s\r\n250-PIPELINING\r\n250-SIZE %lu\r\n"
	    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n%s%s%s250 HELP\r\n",
	    config->hostname, config->message_size_limit,
	    s->submission ? "250-AUTH " : "",
	    s->submission && plaintext_ok(s) ? "PLAIN LOGIN " : "",
	    s->submission ? "CRAM-MD5\r\n" : "");
}

/*
 * RFC 4954 5: a client that saw AUTH may add AUTH=<mailbox> (xtext) to
 * MAIL.  The identity that counts is the one logged in, which Received:
 * records, so the value is only checked and then dropped, with the
 * space before it.  0, or -1 if it is not xtext.
 */
static int
strip_auth_param(char *params)
{
	char val[MSG_ADDR_MAX];
	char *w, *start, *e;

	for (w = params; *w != '\0'; w = e) {
		start = w;
		while (*w == ' ')
			w++;
		e = w + strcspn(w, " ");
		if (e - w > 5 && ascii_ncasecmp(w, "AUTH=", 5) == 0) {
			if (xtext_get(w + 5, (size_t)(e - w - 5), val,
			    sizeof(val)) < 0)
				return -1;
			memmove(start, e, strlen(e) + 1);
			return 0;
		}
	}
	return 0;
}

/*
 * sender_login_check: a user logged in on submission sends as a mailbox
 * of their own, their name at one of our domains (RFC 6409 8.1 lets the
 * server enforce this).  Never as <>: only the server bounces.
 */
static int
sender_owned(const struct smtp_sess *s, const struct addr *a)
{
	if (!s->submission || !config->sender_login_check)
		return 1;
	return !a->null && ascii_casecmp(a->local, s->auth_user) == 0 &&
	    a->domain[0] != '\0' && resolve_is_local(a, &s->rc);
}

static void
smtp_mail(struct smtp_sess *s, char *arg)
{
	struct mail_params mp;
	char text[MSG_ADDR_MAX];
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
	if (s->submission && strip_auth_param((char *)end) < 0) {
		error(s, "501 5.5.4 Bad parameter AUTH: not xtext");
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
	if (!sender_owned(s, &a)) {
		if (a.null || addr_format(&a, text, sizeof(text)) < 0)
			text[0] = '\0';
		log_notice("%s[%lu] %s: sender <%s> refused for user %s",
		    s->c->proto->name, s->c->id, s->c->peer, text,
		    s->auth_user);
		conn_printf(s->c, "553 5.7.1 <%s>: Sender address rejected: "
		    "not owned by user %s\r\n", text, s->auth_user);
		s->nbad++;
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
	/* RFC 3848: ESMTPA when the client logged in */
	strlcpy(s->m->proto, s->auth_user[0] != '\0' ? "ESMTPA" :
	    s->esmtp ? "ESMTP" : "SMTP", sizeof(s->m->proto));
	strlcpy(s->m->auth, s->auth_user, sizeof(s->m->auth));
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
		/* RFC 5321 4.5.3.1.10: the client is to send the rest in
		 * another transaction; that is no error of its own (nor is
		 * it to Postfix, up to smtpd_recipient_overshoot_limit),
		 * so it does not count towards the 421 Too many errors. */
		reply(s, "452 4.5.3 Too many recipients");
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
	s->has_date = s->has_msgid = 0;
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
	conn_printf(s->c, "214-2.0.0 Commands: HELO EHLO %sMAIL RCPT DATA "
	    "RSET NOOP QUIT VRFY HELP\r\n214 2.0.0 End of HELP info\r\n",
	    s->submission ? "AUTH " : "");
}

/* --- AUTH (RFC 4954), submission only --- */

static void
sasl_end(struct smtp_sess *s)
{
	s->mech = 0;
	s->sasl_step = 0;
	auth_wipe(s->sasl_user, sizeof(s->sasl_user));
	set_state(s, S_READY);
}

static const char *
mech_name(int mech)
{
	return mech == MECH_PLAIN ? "PLAIN" : mech == MECH_LOGIN ? "LOGIN" :
	    "CRAM-MD5";
}

/* A response that is not base64 at all is 501; a wrong one is 535. */
static int
base64_ok(const char *resp)
{
	unsigned char out[SASL_DECODED_MAX];
	size_t n;
	int r;

	r = base64_decode(resp, strlen(resp), out, sizeof(out), &n);
	auth_wipe(out, sizeof(out));
	return r == 0;
}

static void
auth_delayed(void *arg)
{
	struct smtp_sess *s = arg;

	conn_puts(s->c, "535 5.7.8 Authentication credentials invalid\r\n");
	if (s->close_after) {
		conn_printf(s->c, "421 4.7.0 %s Too many authentication "
		    "failures\r\n", config->hostname);
		conn_close(s->c);
	} else
		sasl_end(s);
	conn_release(s->c);
}

/*
 * A failed AUTH: the same reply whatever failed (no telling whether the
 * user exists), after a delay that a timer keeps while other sessions
 * go on; pipelined commands wait for it.  The third closes.
 */
static void
auth_failed(struct smtp_sess *s, const char *name)
{
	s->auth_fails++;
	s->nbad++;
	warn("%s[%lu] %s: AUTH %s failed for \"%s\" (%d)", s->c->proto->name,
	    s->c->id, s->c->peer, mech_name(s->mech), name, s->auth_fails);
	s->close_after = s->auth_fails >= AUTH_FAILS_MAX;
	conn_hold(s->c);
	if (ev_timer_set(&s->delay, AUTH_DELAY_MS) < 0)
		auth_delayed(s);
}

static void
auth_result(struct smtp_sess *s, int r, const struct user *u,
    const char *name)
{
	if (r == AUTH_TEMP) {
		warn("%s[%lu] %s: AUTH %s for \"%s\": cannot check secrets now",
		    s->c->proto->name, s->c->id, s->c->peer,
		    mech_name(s->mech), name);
		error(s, "454 4.7.0 Temporary authentication failure");
		sasl_end(s);
	} else if (r != AUTH_OK)
		auth_failed(s, name);
	else {
		strlcpy(s->auth_user, u->name, sizeof(s->auth_user));
		/* a logged-in user may send anywhere (resolve.h) */
		s->rc.may_relay = 1;
		log_info("%s[%lu] %s: AUTH %s: %s logged in", s->c->proto->name,
		    s->c->id, s->c->peer, mech_name(s->mech), s->auth_user);
		reply(s, "235 2.7.0 Authentication successful");
		sasl_end(s);
	}
}

/* The response was not base64, or the client gave up ("*"). */
static int
sasl_abort(struct smtp_sess *s, const char *resp)
{
	if (strcmp(resp, "*") == 0) {
		log_info("%s[%lu] %s: AUTH %s cancelled by the client",
		    s->c->proto->name, s->c->id, s->c->peer,
		    mech_name(s->mech));
		error(s, "501 5.0.0 Authentication cancelled");
	} else if (!base64_ok(resp)) {
		log_notice("%s[%lu] %s: AUTH %s failed: bad base64",
		    s->c->proto->name, s->c->id, s->c->peer,
		    mech_name(s->mech));
		error(s, "501 5.5.2 Cannot decode response (bad base64)");
	} else
		return 0;
	sasl_end(s);
	return 1;
}

/* One client response ("=" is an empty one: RFC 4954 4). */
static void
sasl_step(struct smtp_sess *s, const char *resp)
{
	char user[USER_NAME_MAX + 1], secret[AUTH_SECRET_MAX + 1], b64[256];
	struct user u;
	int r = AUTH_FAIL;

	if (sasl_abort(s, resp))
		return;
	user[0] = secret[0] = '\0';
	switch (s->mech) {
	case MECH_PLAIN:
		if (sasl_plain(resp, user, sizeof(user), secret,
		    sizeof(secret)) == 0)
			r = auth_password(user, secret, &u);
		break;
	case MECH_LOGIN:
		if (s->sasl_step == 0) {
			if (sasl_decode(resp, s->sasl_user,
			    sizeof(s->sasl_user)) < 0)
				s->sasl_user[0] = '\0';	/* fails below */
			s->sasl_step = 1;
			reply(s, "334 " SASL_LOGIN_PASSWORD);
			return;
		}
		strlcpy(user, s->sasl_user, sizeof(user));
		if (user[0] != '\0' &&
		    sasl_decode(resp, secret, sizeof(secret)) == 0)
			r = auth_password(user, secret, &u);
		break;
	default:
		if (sasl_cram_response(resp, user, sizeof(user), b64,
		    sizeof(b64)) == 0)
			r = auth_cram(user, s->challenge, b64, &u);
		break;
	}
	auth_wipe(secret, sizeof(secret));
	auth_result(s, r, &u, user[0] != '\0' ? user : "?");
}

/* AUTH mechanism [initial-response] */
static void
smtp_auth(struct smtp_sess *s, char *arg)
{
	char b64[256], *ir;

	if (!s->submission) {
		error(s, "503 5.5.1 Authentication not enabled on this port "
		    "(use submission)");
		return;
	}
	if (s->auth_user[0] != '\0') {
		error(s, "503 5.5.1 Already authenticated");
		return;
	}
	if ((ir = strchr(arg, ' ')) != NULL)
		*ir++ = '\0';
	/* "AUTH CRAM-MD5 " (a space, no response), as mutt writes in IMAP */
	if (ir != NULL && *ir == '\0')
		ir = NULL;
	if (*arg == '\0' || (ir != NULL && strchr(ir, ' ') != NULL)) {
		error(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if ((s->mech = sasl_mech(arg, plaintext_ok(s))) == 0) {
		/* RFC 4954 4 and 6: also for what is not offered here */
		error(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	s->sasl_step = 0;
	set_state(s, S_SASL);
	if (ir != NULL) {
		if (s->mech == MECH_CRAM) {
			/* RFC 4954 4: the server speaks first */
			error(s, "501 5.7.0 CRAM-MD5 takes no initial response");
			sasl_end(s);
			return;
		}
		sasl_step(s, strcmp(ir, "=") == 0 ? "" : ir);
		return;
	}
	/* (PLAIN's is empty: "334 ", RFC 4954 4) */
	if (sasl_first_challenge(s->mech, s->challenge, sizeof(s->challenge),
	    b64, sizeof(b64)) < 0) {
		error(s, "454 4.7.0 Temporary authentication failure");
		sasl_end(s);
		return;
	}
	conn_printf(s->c, "334 %s\r\n", b64);
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
	if (rfc822_field(line, len, "Date") != 0)
		s->has_date = 1;
	if (rfc822_field(line, len, "Message-ID") != 0)
		s->has_msgid = 1;
}

/*
 * RFC 6409 8.2, 8.3: on the submission port the fields a message must
 * have (RFC 5322 3.6) and a client left out are added at the end of
 * its header: Date: (the time it came) and Message-ID:, as
 * yubin-sendmail adds them.
 */
static void
data_complete_header(struct smtp_sess *s)
{
	char date[64];
	int e = 0;

	if (!s->submission)
		return;
	if (!s->has_date) {
		if (rfc822_date(time(NULL), date, sizeof(date)) < 0)
			e = -1;
		else
			e |= buf_printf(&s->m->data, "Date: %s\n", date);
	}
	if (!s->has_msgid)
		e |= buf_printf(&s->m->data, "Message-ID: <%s@%s>\n", s->m->id,
		    config->hostname);
	s->has_date = s->has_msgid = 1;
	if (e != 0)
		s->too_big = 2;		/* out of memory: a 4xx */
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
	if (s->in_header && len == 0)
		data_complete_header(s);
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
	if (s->in_header && !s->too_big && !s->long_line && !s->has_nul)
		data_complete_header(s);	/* a header without body */
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
	s->submission = (c->proto == &proto_submission);
	ev_timer_init(&s->delay, auth_delayed, s);
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
	/* RFC 4954 6: before sequence errors, once HELO/EHLO was said */
	if (cmd->needs_auth && s->submission && s->auth_user[0] == '\0' &&
	    s->state != S_INIT) {
		error(s, "530 5.7.0 Authentication required");
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
	if (s->state == S_SASL)		/* a NUL is not base64: 501 */
		sasl_step(s, memchr(line, '\0', len) != NULL ? "\001" : line);
	else
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
	if (s->state == S_SASL) {
		sasl_end(s);
		error(s, "500 5.5.6 Authentication exchange line is too long");
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
	ev_timer_del(&s->delay);
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

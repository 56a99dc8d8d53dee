/*
 * pop3.c - the POP3 server session (RFC 1939, RFC 2449 CAPA and
 * response codes, RFC 5034 AUTH).  A state machine fed with lines by
 * conn.c; one table lists each command with the states it is legal in
 * (popa3d's way), and handlers validate their arguments before acting.
 *
 * The maildrop is locked from login to QUIT (DESIGN.md): deliveries
 * meanwhile wait, and are neither lost nor refused.  Messages are
 * streamed from the file in POP3 form; DELE takes effect at QUIT
 * through the crash-safe rewrite of mailbox.c.
 */
#include "yubin.h"

#include <sys/types.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "conn.h"
#include "log.h"
#include "mailbox.h"
#include "proto.h"
#include "user.h"
#include "util.h"

#ifndef MAIL_GROUP
#define MAIL_GROUP	""
#endif

enum pop3_state {
	P_AUTH = 1,		/* RFC 1939 4: AUTHORIZATION */
	P_TRANS = 2,		/* TRANSACTION */
	P_WAIT = 4,		/* opening, committing, delaying: input held */
	P_SASL = 8		/* inside an AUTH exchange */
};

#define POP3_FAILS_MAX	3	/* then the connection is closed */
#define POP3_DELAY_MS	2000UL	/* before a failed login is answered */
#define POP3_ARG_MAX	255	/* RFC 2449 4: 40 for arguments; be kind */

struct pop3_sess {
	struct conn		*c;
	enum pop3_state		state;
	char			stamp[128];	/* APOP timestamp, with <> */
	char			user[USER_NAME_MAX + 1];
	int			have_user;	/* USER given */
	struct user		u;
	struct mailbox		*mb;
	int			fails;
	struct ev_timer		delay;
	char			pending[160];	/* reply after the delay */
	int			close_after;
	/* SASL */
	int			mech;		/* 1 PLAIN, 2 LOGIN, 3 CRAM */
	int			step;
	char			challenge[128];
	unsigned long		ncmds, nbad, nretr, ndele;
};

struct pop3_cmd {
	const char	*verb;
	int		states;
	void		(*fn)(struct pop3_sess *s, char *arg);
};

static void pop3_user(struct pop3_sess *, char *);
static void pop3_pass(struct pop3_sess *, char *);
static void pop3_apop(struct pop3_sess *, char *);
static void pop3_auth(struct pop3_sess *, char *);
static void pop3_capa(struct pop3_sess *, char *);
static void pop3_quit(struct pop3_sess *, char *);
static void pop3_stat(struct pop3_sess *, char *);
static void pop3_list(struct pop3_sess *, char *);
static void pop3_retr(struct pop3_sess *, char *);
static void pop3_top(struct pop3_sess *, char *);
static void pop3_dele(struct pop3_sess *, char *);
static void pop3_noop(struct pop3_sess *, char *);
static void pop3_rset(struct pop3_sess *, char *);
static void pop3_uidl(struct pop3_sess *, char *);

/*
 * RFC 1939 LIST: "the exact size of the message", which is what RETR
 * sends: a last line without LF at the end of the file is ended with
 * CRLF there, so that the terminating "." has a line of its own.
 */
static unsigned long
pop3_size(const struct mb_msg *m)
{
	return m->size + (m->nolf ? 2UL : 0UL);
}

static const struct pop3_cmd pop3_cmds[] = {
	{ "USER", P_AUTH, pop3_user },
	{ "PASS", P_AUTH, pop3_pass },
	{ "APOP", P_AUTH, pop3_apop },
	{ "AUTH", P_AUTH, pop3_auth },
	{ "CAPA", P_AUTH | P_TRANS, pop3_capa },
	{ "QUIT", P_AUTH | P_TRANS, pop3_quit },
	{ "STAT", P_TRANS, pop3_stat },
	{ "LIST", P_TRANS, pop3_list },
	{ "RETR", P_TRANS, pop3_retr },
	{ "TOP", P_TRANS, pop3_top },
	{ "DELE", P_TRANS, pop3_dele },
	{ "NOOP", P_AUTH | P_TRANS, pop3_noop },
	{ "RSET", P_TRANS, pop3_rset },
	{ "UIDL", P_TRANS, pop3_uidl }
};

static void
ok(struct pop3_sess *s, const char *text)
{
	conn_printf(s->c, "+OK %s\r\n", text);
}

static void
err(struct pop3_sess *s, const char *text)
{
	s->nbad++;
	conn_printf(s->c, "-ERR %s\r\n", text);
}

static void
set_state(struct pop3_sess *s, enum pop3_state st)
{
	log_debug("pop3[%lu] state %d -> %d", s->c->id, (int)s->state,
	    (int)st);
	s->state = st;
}

/* Plaintext secrets only where the configuration allows them. */
static int
plaintext_ok(const struct pop3_sess *s)
{
	return s->c->family == 0 ||
	    netlist_match(&config->plaintext_networks, s->c->family,
	    s->c->addr);
}

/* --- message numbers (popa3d: "LIST 4294967297" is no message 1) --- */

static struct mb_msg *
msg_arg(struct pop3_sess *s, const char *arg, int *index)
{
	unsigned long n;
	struct mb_msg *m;

	if (parse_ulong(arg, (unsigned long)mailbox_count(s->mb), &n) < 0 ||
	    n == 0) {
		err(s, "No such message");
		return NULL;
	}
	m = mailbox_msg(s->mb, (int)n - 1);
	if (m->deleted) {
		conn_printf(s->c, "-ERR Message %lu is deleted\r\n", n);
		s->nbad++;
		return NULL;
	}
	*index = (int)n - 1;
	return m;
}

/* --- AUTHORIZATION --- */

static void
delayed_reply(void *arg)
{
	struct pop3_sess *s = arg;

	conn_puts(s->c, s->pending);
	if (s->close_after)
		conn_close(s->c);
	else
		set_state(s, P_AUTH);
	conn_release(s->c);
}

/*
 * A failed login: the same reply whatever failed, after a delay that a
 * timer keeps (no sleep: other sessions go on), and logged with the
 * client's address.  The third failure closes the connection.
 */
static void
login_failed(struct pop3_sess *s, const char *how, const char *name)
{
	s->fails++;
	s->nbad++;
	warn("pop3[%lu] %s: %s login failed for \"%s\" (%d)", s->c->id,
	    s->c->peer, how, name, s->fails);
	s->close_after = s->fails >= POP3_FAILS_MAX;
	strlcpy(s->pending, s->close_after ?
	    "-ERR [AUTH] Authentication failed; closing\r\n" :
	    "-ERR [AUTH] Authentication failed\r\n", sizeof(s->pending));
	s->have_user = 0;
	set_state(s, P_WAIT);
	conn_hold(s->c);
	if (ev_timer_set(&s->delay, POP3_DELAY_MS) < 0)
		delayed_reply(s);
}

/* Under inetd the process is this one session: it becomes the user. */
static int
become_user(struct pop3_sess *s)
{
	if (!(s->c->flags & CONN_NOSOCK))
		return 0;
	return user_become(&s->u);
}

static void
opened(void *arg, int status, struct mailbox *mb)
{
	struct pop3_sess *s = arg;
	unsigned long total = 0;
	int i, n;

	s->mb = mb;
	if (status != MB_OK) {
		set_state(s, P_AUTH);
		if (status == MB_INUSE)
			err(s, "[IN-USE] Mailbox in use by another session");
		else
			err(s, "[SYS/TEMP] Cannot open the mailbox");
		conn_release(s->c);
		return;
	}
	n = mailbox_count(mb);
	for (i = 0; i < n; i++)
		total += pop3_size(mailbox_msg(mb, i));
	log_info("pop3[%lu] %s: %s logged in, %d messages (%lu octets)",
	    s->c->id, s->c->peer, s->u.name, n, total);
	set_state(s, P_TRANS);
	conn_printf(s->c, "+OK %s has %d message%s (%lu octets)\r\n",
	    s->u.name, n, n == 1 ? "" : "s", total);
	conn_release(s->c);
}

/* Authenticated: lock and read the maildrop (in steps), then answer. */
static void
login(struct pop3_sess *s)
{
	if (become_user(s) < 0) {
		err(s, "[SYS/PERM] Internal error");
		conn_close(s->c);
		return;
	}
	set_state(s, P_WAIT);
	conn_hold(s->c);
	s->mb = mailbox_open(&s->u, s->u.spool, opened, s);
	if (s->mb == NULL) {
		set_state(s, P_AUTH);
		if (errno == EBUSY)
			err(s, "[IN-USE] Mailbox in use by another session");
		else
			err(s, "[SYS/TEMP] Cannot open the mailbox");
		conn_release(s->c);
	}
}

static void
pop3_user(struct pop3_sess *s, char *arg)
{
	if (!plaintext_ok(s)) {
		err(s, "[AUTH] Plaintext logins are not allowed here; use APOP");
		return;
	}
	if (*arg == '\0' || strlen(arg) > USER_NAME_MAX) {
		err(s, "Syntax: USER name");
		return;
	}
	strlcpy(s->user, arg, sizeof(s->user));
	s->have_user = 1;
	/* RFC 1939 7: the reply must not tell whether the user exists. */
	ok(s, "Send your password");
}

static void
pop3_pass(struct pop3_sess *s, char *arg)
{
	int r;

	if (!s->have_user) {
		err(s, "Send USER first");
		return;
	}
	r = auth_password(s->user, arg, &s->u);
	if (r == AUTH_TEMP) {
		err(s, "[SYS/TEMP] Cannot check passwords now");
		return;
	}
	if (r != AUTH_OK) {
		login_failed(s, "USER/PASS", s->user);
		return;
	}
	login(s);
}

static void
pop3_apop(struct pop3_sess *s, char *arg)
{
	char *digest = strchr(arg, ' ');
	int r;

	if (digest == NULL || digest == arg || strlen(digest + 1) != 32 ||
	    (size_t)(digest - arg) > USER_NAME_MAX) {
		err(s, "Syntax: APOP name digest");
		return;
	}
	*digest++ = '\0';
	r = auth_apop(arg, s->stamp, digest, &s->u);
	if (r == AUTH_TEMP) {
		err(s, "[SYS/TEMP] Cannot check secrets now");
		return;
	}
	if (r != AUTH_OK) {
		login_failed(s, "APOP", arg);
		return;
	}
	login(s);
}

/* --- AUTH (RFC 5034) --- */


static void
sasl_step(struct pop3_sess *s, const char *resp)
{
	char user[USER_NAME_MAX + 1], secret[256];
	char b64[256];
	int r = AUTH_FAIL;

	if (strcmp(resp, "*") == 0) {
		set_state(s, P_AUTH);
		err(s, "AUTH cancelled");
		return;
	}
	switch (s->mech) {
	case MECH_PLAIN:
		if (sasl_plain(resp, user, sizeof(user), secret,
		    sizeof(secret)) == 0)
			r = auth_password(user, secret, &s->u);
		break;
	case MECH_LOGIN:
		if (s->step == 0) {
			if (sasl_decode(resp, s->user, sizeof(s->user)) < 0) {
				set_state(s, P_AUTH);
				err(s, "Bad base64 in AUTH LOGIN");
				return;
			}
			s->step = 1;
			/* "Password:" */
			conn_puts(s->c, "+ " SASL_LOGIN_PASSWORD "\r\n");
			return;
		}
		strlcpy(user, s->user, sizeof(user));
		if (sasl_decode(resp, secret, sizeof(secret)) == 0)
			r = auth_password(user, secret, &s->u);
		break;
	default:
		if (sasl_cram_response(resp, user, sizeof(user), b64,
		    sizeof(b64)) == 0)
			r = auth_cram(user, s->challenge, b64, &s->u);
		break;
	}
	memset(secret, 0, sizeof(secret));
	set_state(s, P_AUTH);
	if (r == AUTH_TEMP)
		err(s, "[SYS/TEMP] Cannot check secrets now");
	else if (r != AUTH_OK)
		login_failed(s, "AUTH", s->mech == MECH_LOGIN ? s->user : "?");
	else
		login(s);
}

static void
pop3_auth(struct pop3_sess *s, char *arg)
{
	char *ir = strchr(arg, ' ');
	char b64[256];

	if (*arg == '\0') {
		/* RFC 5034 4: no argument lists the mechanisms */
		conn_printf(s->c, "+OK\r\n%sCRAM-MD5\r\n.\r\n",
		    plaintext_ok(s) ? "PLAIN\r\nLOGIN\r\n" : "");
		return;
	}
	if (ir != NULL)
		*ir++ = '\0';
	if ((s->mech = sasl_mech(arg, plaintext_ok(s))) == 0) {
		err(s, "Unsupported authentication mechanism");
		return;
	}
	s->step = 0;
	set_state(s, P_SASL);
	/* RFC 5034 4: an initial response ("=" is an empty one). */
	if (ir != NULL && s->mech != MECH_CRAM) {
		sasl_step(s, strcmp(ir, "=") == 0 ? "" : ir);
		return;
	}
	if (sasl_first_challenge(s->mech, s->challenge, sizeof(s->challenge),
	    b64, sizeof(b64)) < 0) {
		set_state(s, P_AUTH);
		err(s, "[SYS/TEMP] Internal error");
		return;
	}
	conn_printf(s->c, "+ %s\r\n", b64);
}

static void
pop3_capa(struct pop3_sess *s, char *arg)
{
	(void)arg;
	/* RFC 2449 6 */
	conn_printf(s->c, "+OK Capability list follows\r\nTOP\r\n%sUIDL\r\n"
	    "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSASL %sCRAM-MD5\r\n"
	    "IMPLEMENTATION yubin\r\n.\r\n", plaintext_ok(s) ? "USER\r\n" : "",
	    plaintext_ok(s) ? "PLAIN LOGIN " : "");
}

/* --- TRANSACTION --- */

static void
pop3_stat(struct pop3_sess *s, char *arg)
{
	unsigned long total = 0;
	int i, n = 0;

	if (*arg != '\0') {
		err(s, "STAT takes no argument");
		return;
	}
	for (i = 0; i < mailbox_count(s->mb); i++)
		if (!mailbox_msg(s->mb, i)->deleted) {
			n++;
			total += pop3_size(mailbox_msg(s->mb, i));
		}
	conn_printf(s->c, "+OK %d %lu\r\n", n, total);
}

static void
pop3_list(struct pop3_sess *s, char *arg)
{
	struct mb_msg *m;
	int i;

	if (*arg != '\0') {
		if ((m = msg_arg(s, arg, &i)) != NULL)
			conn_printf(s->c, "+OK %d %lu\r\n", i + 1, pop3_size(m));
		return;
	}
	conn_puts(s->c, "+OK scan listing follows\r\n");
	for (i = 0; i < mailbox_count(s->mb); i++)
		if (!(m = mailbox_msg(s->mb, i))->deleted)
			conn_printf(s->c, "%d %lu\r\n", i + 1, pop3_size(m));
	conn_puts(s->c, ".\r\n");
}

static void
pop3_uidl(struct pop3_sess *s, char *arg)
{
	struct mb_msg *m;
	char id[80];
	int i;

	if (*arg != '\0') {
		if ((m = msg_arg(s, arg, &i)) == NULL)
			return;
		conn_printf(s->c, "+OK %d %s\r\n", i + 1, m->uidl != NULL ?
		    m->uidl : (snprintf(id, sizeof(id), "%08lX%08lX", m->uid,
		    mailbox_uidvalidity(s->mb)), id));
		return;
	}
	conn_puts(s->c, "+OK unique-id listing follows\r\n");
	for (i = 0; i < mailbox_count(s->mb); i++) {
		if ((m = mailbox_msg(s->mb, i))->deleted)
			continue;
		/* RFC 1939 7: stable across sessions; Dovecot's format */
		if (m->uidl != NULL)
			conn_printf(s->c, "%d %s\r\n", i + 1, m->uidl);
		else
			conn_printf(s->c, "%d %08lX%08lX\r\n", i + 1, m->uid,
			    mailbox_uidvalidity(s->mb));
	}
	conn_puts(s->c, ".\r\n");
}

static void
sent(void *arg, int okay)
{
	struct pop3_sess *s = arg;

	if (!okay)
		log_notice("pop3[%lu] %s: message stream failed", s->c->id,
		    s->c->peer);
}

static void
send_msg(struct pop3_sess *s, int i, long lines)
{
	struct mb_msg *m = mailbox_msg(s->mb, i);

	if (lines < 0) {
		conn_printf(s->c, "+OK %lu octets\r\n", pop3_size(m));
		/* so that mailx shows it as read (Status: RO) */
		if ((m->flags & (MF_SEEN | MF_OLD)) != (MF_SEEN | MF_OLD)) {
			m->flags |= MF_SEEN | MF_OLD;
			m->changed = 1;
		}
		s->nretr++;
	} else
		conn_puts(s->c, "+OK top of message follows\r\n");
	if (mailbox_send_pop3(s->mb, s->c, i, lines, sent, s) < 0) {
		conn_abort(s->c, "out of memory");
	}
}

static void
pop3_retr(struct pop3_sess *s, char *arg)
{
	int i;

	if (msg_arg(s, arg, &i) != NULL)
		send_msg(s, i, -1);
}

static void
pop3_top(struct pop3_sess *s, char *arg)
{
	unsigned long lines;
	char *sp = strchr(arg, ' ');
	int i;

	if (sp == NULL) {
		err(s, "Syntax: TOP msg lines");
		return;
	}
	*sp++ = '\0';
	if (parse_ulong(sp, 0x7fffffffUL, &lines) < 0) {
		err(s, "Bad line count");
		return;
	}
	if (msg_arg(s, arg, &i) != NULL)
		send_msg(s, i, (long)lines);
}

static void
pop3_dele(struct pop3_sess *s, char *arg)
{
	struct mb_msg *m;
	int i;

	if ((m = msg_arg(s, arg, &i)) == NULL)
		return;
	m->deleted = 1;
	s->ndele++;
	conn_printf(s->c, "+OK Message %d deleted\r\n", i + 1);
}

static void
pop3_noop(struct pop3_sess *s, char *arg)
{
	(void)arg;
	ok(s, "");
}

static void
pop3_rset(struct pop3_sess *s, char *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < mailbox_count(s->mb); i++)
		mailbox_msg(s->mb, i)->deleted = 0;
	s->ndele = 0;
	conn_printf(s->c, "+OK maildrop has %d messages\r\n",
	    mailbox_count(s->mb));
}

/* --- UPDATE --- */

static void
committed(void *arg, int okay)
{
	struct pop3_sess *s = arg;

	s->mb = NULL;
	if (okay)
		conn_printf(s->c, "+OK %s POP3 server signing off (%lu "
		    "deleted)\r\n", config->hostname, s->ndele);
	else
		conn_puts(s->c, "-ERR [SYS/TEMP] Some deleted messages not "
		    "removed\r\n");
	conn_close(s->c);
	conn_release(s->c);
}

static void
pop3_quit(struct pop3_sess *s, char *arg)
{
	(void)arg;
	if (s->state == P_AUTH) {
		conn_printf(s->c, "+OK %s POP3 server signing off\r\n",
		    config->hostname);
		conn_close(s->c);
		return;
	}
	/* RFC 1939 6: the UPDATE state; the reply waits for the disk. */
	set_state(s, P_WAIT);
	conn_hold(s->c);
	if (mailbox_commit(s->mb, committed, s) < 0) {
		s->mb = NULL;
		conn_puts(s->c, "-ERR [SYS/TEMP] Cannot update the mailbox\r\n");
		conn_close(s->c);
		conn_release(s->c);
	}
}

/* --- the session --- */

/*
 * RFC 1939 7: the timestamp must differ for every greeting.  pid and
 * time as qpopper had them, plus a counter for the same second.
 */
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
	s->state = P_AUTH;
	ev_timer_init(&s->delay, delayed_reply, s);
	if (auth_challenge(s->stamp, sizeof(s->stamp)) < 0) {
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
		if (s->state == P_SASL)
			set_state(s, P_AUTH);
		log_notice("pop3[%lu] %s: NUL character in a command", s->c->id,
		    s->c->peer);
		err(s, "NUL character in command");
		return;
	}
	if (s->state == P_SASL) {
		sasl_step(s, line);
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
		err(s, "Unknown command");
		return;
	}
	if (!(cmd->states & s->state)) {
		err(s, s->state == P_AUTH ? "Not logged in" :
		    "Command not valid in this state");
		return;
	}
	if (strlen(p) > POP3_ARG_MAX) {
		err(s, "Argument exceeds 255 octets (RFC 2449 4)");
		return;
	}
	cmd->fn(s, p);
}

static void
pop3_overlong(void *arg)
{
	struct pop3_sess *s = arg;

	if (s->state == P_SASL)
		set_state(s, P_AUTH);
	log_notice("pop3[%lu] %s: command line over %d octets", s->c->id,
	    s->c->peer, POP3_LINE_MAX);
	err(s, "Line too long");
}

static void
pop3_timeout(void *arg)
{
	struct pop3_sess *s = arg;

	/* RFC 1939 3: the autologout timer; no UPDATE (RFC 1939 6). */
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

	log_info("pop3[%lu] %s: disconnect commands=%lu bad=%lu retr=%lu "
	    "dele=%lu", s->c->id, s->c->peer, s->ncmds, s->nbad, s->nretr,
	    s->ndele);
	ev_timer_del(&s->delay);
	/* Gone without QUIT: nothing is deleted (RFC 1939 6). */
	if (s->mb != NULL)
		mailbox_cancel(s->mb);
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

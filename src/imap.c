/*
 * imap.c - the IMAP4rev1 server session (RFC 3501): command framing
 * (imapparse.c gathers a command with its literals), the command table
 * with the states each command is legal in, authentication (LOGIN,
 * AUTHENTICATE with SASL-IR), and the commands that work on names
 * rather than messages: LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE,
 * STATUS, NAMESPACE, ID, ENABLE.  The selected state is imap_mbox.c's.
 *
 * It never touches a socket (conn.c does) and never waits: a command
 * that needs a mailbox holds the connection's input and finishes from
 * the loop.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "base64.h"
#include "conf.h"
#include "conn.h"
#include "imap.h"
#include "imap_folder.h"
#include "log.h"
#include "proto.h"
#include "util.h"

#define IMAP_ANY	(IMAP_NOTAUTH | IMAP_AUTH | IMAP_SELECTED)
#define IMAP_IN		(IMAP_AUTH | IMAP_SELECTED)

struct imap_cmd {
	const char	*name;
	int		states;
	int		uid;		/* may follow "UID" */
	void		(*fn)(struct imap_sess *s, struct imap_tok *t);
};

static void cmd_capability(struct imap_sess *, struct imap_tok *);
static void cmd_noop(struct imap_sess *, struct imap_tok *);
static void cmd_logout(struct imap_sess *, struct imap_tok *);
static void cmd_login(struct imap_sess *, struct imap_tok *);
static void cmd_authenticate(struct imap_sess *, struct imap_tok *);
static void cmd_id(struct imap_sess *, struct imap_tok *);
static void cmd_enable(struct imap_sess *, struct imap_tok *);
static void cmd_namespace(struct imap_sess *, struct imap_tok *);
static void cmd_select(struct imap_sess *, struct imap_tok *);
static void cmd_examine(struct imap_sess *, struct imap_tok *);
static void cmd_create(struct imap_sess *, struct imap_tok *);
static void cmd_delete(struct imap_sess *, struct imap_tok *);
static void cmd_rename(struct imap_sess *, struct imap_tok *);
static void cmd_subscribe(struct imap_sess *, struct imap_tok *);
static void cmd_unsubscribe(struct imap_sess *, struct imap_tok *);
static void cmd_list(struct imap_sess *, struct imap_tok *);
static void cmd_lsub(struct imap_sess *, struct imap_tok *);
static void cmd_status(struct imap_sess *, struct imap_tok *);
static void cmd_append(struct imap_sess *, struct imap_tok *);
static void cmd_check(struct imap_sess *, struct imap_tok *);
static void cmd_close(struct imap_sess *, struct imap_tok *);
static void cmd_unselect(struct imap_sess *, struct imap_tok *);
static void cmd_expunge(struct imap_sess *, struct imap_tok *);
static void cmd_search(struct imap_sess *, struct imap_tok *);
static void cmd_fetch(struct imap_sess *, struct imap_tok *);
static void cmd_store(struct imap_sess *, struct imap_tok *);
static void cmd_copy(struct imap_sess *, struct imap_tok *);
static void cmd_move(struct imap_sess *, struct imap_tok *);

static const struct imap_cmd imap_cmds[] = {
	{ "CAPABILITY", IMAP_ANY, 0, cmd_capability },
	{ "NOOP", IMAP_ANY, 0, cmd_noop },
	{ "LOGOUT", IMAP_ANY, 0, cmd_logout },
	{ "ID", IMAP_ANY, 0, cmd_id },
	{ "LOGIN", IMAP_NOTAUTH, 0, cmd_login },
	{ "AUTHENTICATE", IMAP_NOTAUTH, 0, cmd_authenticate },
	{ "ENABLE", IMAP_AUTH, 0, cmd_enable },
	{ "NAMESPACE", IMAP_IN, 0, cmd_namespace },
	{ "SELECT", IMAP_IN, 0, cmd_select },
	{ "EXAMINE", IMAP_IN, 0, cmd_examine },
	{ "CREATE", IMAP_IN, 0, cmd_create },
	{ "DELETE", IMAP_IN, 0, cmd_delete },
	{ "RENAME", IMAP_IN, 0, cmd_rename },
	{ "SUBSCRIBE", IMAP_IN, 0, cmd_subscribe },
	{ "UNSUBSCRIBE", IMAP_IN, 0, cmd_unsubscribe },
	{ "LIST", IMAP_IN, 0, cmd_list },
	{ "LSUB", IMAP_IN, 0, cmd_lsub },
	{ "STATUS", IMAP_IN, 0, cmd_status },
	{ "APPEND", IMAP_IN, 0, cmd_append },
	{ "CHECK", IMAP_SELECTED, 0, cmd_check },
	{ "CLOSE", IMAP_SELECTED, 0, cmd_close },
	{ "UNSELECT", IMAP_SELECTED, 0, cmd_unselect },
	{ "EXPUNGE", IMAP_SELECTED, 1, cmd_expunge },
	{ "SEARCH", IMAP_SELECTED, 1, cmd_search },
	{ "FETCH", IMAP_SELECTED, 1, cmd_fetch },
	{ "STORE", IMAP_SELECTED, 1, cmd_store },
	{ "COPY", IMAP_SELECTED, 1, cmd_copy },
	{ "MOVE", IMAP_SELECTED, 1, cmd_move }
};


/* --- replies --- */

static int
reply(struct imap_sess *s, const char *what, const char *fmt, va_list ap)
{
	char text[512];
	int r;

	r = vsnprintf(text, sizeof(text), fmt, ap);
	if (r < 0 || (size_t)r >= sizeof(text))
		strlcpy(text, "Completed", sizeof(text));
	return conn_printf(s->c, "%s %s %s\r\n", s->tag, what, text);
}

int
imap_ok(struct imap_sess *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = reply(s, "OK", fmt, ap);
	va_end(ap);
	return r;
}

int
imap_no(struct imap_sess *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = reply(s, "NO", fmt, ap);
	va_end(ap);
	return r;
}

int
imap_bad(struct imap_sess *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	s->nbad++;
	va_start(ap, fmt);
	r = reply(s, "BAD", fmt, ap);
	va_end(ap);
	return r;
}

void
imap_result(struct imap_sess *s, const char *what, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(text))
		strlcpy(text, "Completed", sizeof(text));
	r = snprintf(s->result, sizeof(s->result), "%s %s %s\r\n", s->tag,
	    what, text);
	if (r < 0 || (size_t)r >= sizeof(s->result))
		(void)snprintf(s->result, sizeof(s->result), "%s %s\r\n",
		    s->tag, what);
	if (strcmp(what, "BAD") == 0)
		s->nbad++;
}

/* A parse error: the tokenizer says why. */
static void
bad_args(struct imap_sess *s, struct imap_tok *t)
{
	imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid arguments");
}

void
imap_set_state(struct imap_sess *s, enum imap_state st)
{
	log_debug("imap[%lu] state %d -> %d", s->c->id, (int)s->state,
	    (int)st);
	s->state = st;
}

/* The command that held the input is over: take the next one. */
void
imap_done(struct imap_sess *s)
{
	s->busy = 0;
	if (s->logout) {
		conn_printf(s->c, "* BYE %s IMAP4rev1 server logging out\r\n"
		    "%s OK LOGOUT completed\r\n", config->hostname, s->tag);
		conn_close(s->c);
	}
	conn_release(s->c);
}

/*
 * A string as RFC 3501 4.3 allows: quoted when every octet may be, a
 * literal otherwise (8-bit, CR, LF, NUL).
 */
int
imap_put_string(struct buf *b, const char *p, size_t len)
{
	size_t i;
	int e = 0;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == 0 || ch >= 0x80 || ch == '\r' || ch == '\n')
			break;
	}
	if (i < len || len > 1024)
		return buf_printf(b, "{%lu}\r\n", (unsigned long)len) < 0 ||
		    buf_append(b, p, len) < 0 ? -1 : 0;
	e |= buf_append(b, "\"", 1);
	for (i = 0; i < len; i++) {
		if ((p[i] == '"' || p[i] == '\\'))
			e |= buf_append(b, "\\", 1);
		e |= buf_append(b, p + i, 1);
	}
	e |= buf_append(b, "\"", 1);
	return e ? -1 : 0;
}

int
imap_put_flags(struct buf *b, unsigned flags, const char *keywords,
    int recent)
{
	const char *sp = "";
	int e = 0;

	e |= buf_append(b, "(", 1);
	if (flags & MF_SEEN) {
		e |= buf_printf(b, "%s\\Seen", sp);
		sp = " ";
	}
	if (flags & MF_ANSWERED) {
		e |= buf_printf(b, "%s\\Answered", sp);
		sp = " ";
	}
	if (flags & MF_FLAGGED) {
		e |= buf_printf(b, "%s\\Flagged", sp);
		sp = " ";
	}
	if (flags & MF_DELETED) {
		e |= buf_printf(b, "%s\\Deleted", sp);
		sp = " ";
	}
	if (flags & MF_DRAFT) {
		e |= buf_printf(b, "%s\\Draft", sp);
		sp = " ";
	}
	if (recent) {
		e |= buf_printf(b, "%s\\Recent", sp);
		sp = " ";
	}
	if (keywords != NULL && *keywords != '\0')
		e |= buf_printf(b, "%s%s", sp, keywords);
	e |= buf_append(b, ")", 1);
	return e ? -1 : 0;
}

/*
 * An anonymous spool file for APPEND's message and COPY's messages: made
 * in the queue directory (root's, not the user's) and unlinked at once,
 * so a crash leaves nothing behind.
 */
int
imap_spool_open(void)
{
	static unsigned long seq;
	const char *dirs[2], *tmp;
	char path[600];
	int fd, r, i;

	/* Under inetd the session is the user by now, and may not write
	 * in the queue directory: then the system's temporary one. */
	dirs[0] = config->queue_dir;
	dirs[1] = (tmp = getenv("TMPDIR")) != NULL && *tmp == '/' ? tmp :
	    "/tmp";
	for (i = 0; i < 2; i++) {
		r = snprintf(path, sizeof(path), "%s/.yubin-imap.%ld.%lu",
		    dirs[i], (long)getpid(), ++seq);
		if (r < 0 || (size_t)r >= sizeof(path))
			continue;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			(void)unlink(path);
			return fd;
		}
	}
	return -1;
}

/* --- CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE --- */

/* Plaintext secrets only where the configuration allows them. */
static int
plaintext_ok(const struct imap_sess *s)
{
	return s->c->family == 0 ||
	    netlist_match(&config->plaintext_networks, s->c->family,
	    s->c->addr);
}

#define IMAP_CAPS_BASE	"IMAP4rev1 LITERAL+ SASL-IR ID ENABLE NAMESPACE " \
	"UIDPLUS UNSELECT MOVE CHILDREN"

static const char *
caps(const struct imap_sess *s)
{
	if (s->state != IMAP_NOTAUTH)
		return IMAP_CAPS_BASE;
	return plaintext_ok(s) ?
	    IMAP_CAPS_BASE " AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5" :
	    IMAP_CAPS_BASE " LOGINDISABLED AUTH=CRAM-MD5";
}

static void
cmd_capability(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	conn_printf(s->c, "* CAPABILITY %s\r\n", caps(s));
	imap_ok(s, "CAPABILITY completed");
}

static void
cmd_noop(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	if (s->state == IMAP_SELECTED) {
		/* RFC 3501 6.1.2: the poll for new messages and changes */
		s->expunge_ok = 1;
		imap_sync(s, imap_op_noop);
		return;
	}
	imap_ok(s, "NOOP completed");
}

static void
cmd_logout(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	/* RFC 3501 6.1.3: BYE first, then the tagged OK; flags changed in
	 * the session reach the file first. */
	s->logout = 1;
	imap_set_state(s, IMAP_LOGOUT);
	if (s->path[0] != '\0' && s->v != NULL) {
		imap_unselect(s, 0);
		return;
	}
	conn_hold(s->c);
	s->busy = 1;
	imap_done(s);
}

/* RFC 2971: the client's list is read (and logged), ours is sent. */
static void
cmd_id(struct imap_sess *s, struct imap_tok *t)
{
	const char *k, *v;
	char line[256];
	size_t used = 0;
	int n = 0;

	line[0] = '\0';
	if (imap_peek(t) == IMAP_T_NIL) {
		if (imap_skip(t) < 0 || imap_get_end(t) < 0) {
			bad_args(s, t);
			return;
		}
	} else {
		if (imap_get_list_begin(t) < 0) {
			bad_args(s, t);
			return;
		}
		while (imap_peek(t) != IMAP_T_LIST_CLOSE) {
			/* RFC 2971 3.3: at most 30 pairs, field <= 30 */
			if (++n > 30 || imap_get_string(t, &k, NULL) < 0 ||
			    strlen(k) > 30 ||
			    imap_get_nstring(t, &v, NULL) < 0) {
				imap_bad(s, "Invalid ID list");
				return;
			}
			if (used < sizeof(line) - 1) {
				int r = snprintf(line + used,
				    sizeof(line) - used, "%s%s=%.60s",
				    used ? " " : "", k, v ? v : "NIL");

				used = r < 0 ? sizeof(line) - 1 :
				    used + (size_t)r;
				if (used >= sizeof(line))
					used = sizeof(line) - 1;
			}
		}
		if (imap_get_list_end(t) < 0 || imap_get_end(t) < 0) {
			bad_args(s, t);
			return;
		}
		log_info("imap[%lu] %s: client id %s", s->c->id, s->c->peer,
		    line);
	}
	conn_printf(s->c, "* ID (\"name\" \"yubin\" \"version\" \"%s\")\r\n",
	    PACKAGE_VERSION);
	imap_ok(s, "ID completed");
}

/* RFC 5161: nothing here can be enabled; the list says so. */
static void
cmd_enable(struct imap_sess *s, struct imap_tok *t)
{
	const char *cap;

	if (imap_at_end(t)) {
		imap_bad(s, "ENABLE needs a capability");
		return;
	}
	while (!imap_at_end(t))
		if (imap_get_atom(t, &cap) < 0) {
			bad_args(s, t);
			return;
		}
	conn_puts(s->c, "* ENABLED\r\n");
	imap_ok(s, "ENABLE completed");
}

/* RFC 2342: one personal namespace, no others. */
static void
cmd_namespace(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	conn_puts(s->c, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_ok(s, "NAMESPACE completed");
}

/* --- authentication --- */

static void
delayed_reply(void *arg)
{
	struct imap_sess *s = arg;

	conn_puts(s->c, s->pending);
	if (s->fails >= IMAP_FAILS_MAX)
		conn_close(s->c);
	imap_done(s);
}

/*
 * A failed login: one reply whatever failed (no user, bad secret),
 * after a delay kept by a timer, logged; the third failure closes.
 */
static void
login_failed(struct imap_sess *s, const char *how, const char *name)
{
	int r;

	s->fails++;
	s->nbad++;
	warn("imap[%lu] %s: %s failed for \"%s\" (%d)", s->c->id, s->c->peer,
	    how, name, s->fails);
	r = snprintf(s->pending, sizeof(s->pending),
	    "%s%s NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
	    s->fails >= IMAP_FAILS_MAX ? "* BYE Too many failures\r\n" : "",
	    s->tag);
	if (r < 0 || (size_t)r >= sizeof(s->pending))
		strlcpy(s->pending, "* BYE Authentication failed\r\n",
		    sizeof(s->pending));
	if (s->fails >= IMAP_FAILS_MAX && r >= 0 &&
	    (size_t)r < sizeof(s->pending)) {
		/* the tagged NO goes before the BYE (RFC 3501 7.1.5) */
		r = snprintf(s->pending, sizeof(s->pending),
		    "%s NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
		    "* BYE Too many failures\r\n", s->tag);
		if (r < 0 || (size_t)r >= sizeof(s->pending))
			strlcpy(s->pending, "* BYE\r\n", sizeof(s->pending));
	}
	s->busy = 1;
	conn_hold(s->c);
	if (ev_timer_set(&s->delay, IMAP_DELAY_MS) < 0)
		delayed_reply(s);
}

static void
login_ok(struct imap_sess *s, const char *how)
{
	/* Under inetd the process is this session: become the user. */
	if ((s->c->flags & CONN_NOSOCK) && user_become(&s->u) < 0) {
		conn_puts(s->c, "* BYE Internal error\r\n");
		imap_no(s, "[SERVERBUG] Cannot switch to the user");
		conn_close(s->c);
		return;
	}
	log_info("imap[%lu] %s: %s logged in (%s)", s->c->id, s->c->peer,
	    s->u.name, how);
	imap_set_state(s, IMAP_AUTH);
	imap_ok(s, "[CAPABILITY %s] Logged in", caps(s));
}

static void
auth_result(struct imap_sess *s, int r, const char *how, const char *name)
{
	if (r == AUTH_OK)
		login_ok(s, how);
	else if (r == AUTH_TEMP)
		imap_no(s, "[UNAVAILABLE] Cannot check secrets now");
	else
		login_failed(s, how, name);
}

static void
cmd_login(struct imap_sess *s, struct imap_tok *t)
{
	const char *user, *pass;
	size_t plen;
	int r;

	if (imap_get_astring(t, &user, NULL) < 0 ||
	    imap_get_astring(t, &pass, &plen) < 0 || imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	if (!plaintext_ok(s)) {
		/* RFC 3501 6.2.3 and 7.2.1 LOGINDISABLED */
		imap_no(s, "[PRIVACYREQUIRED] Plaintext login disabled");
		return;
	}
	if (strlen(pass) != plen) {
		login_failed(s, "LOGIN", user);
		return;
	}
	r = auth_password(user, pass, &s->u);
	auth_wipe((char *)pass, plen);
	auth_result(s, r, "LOGIN", user);
}

static void
sasl_end(struct imap_sess *s)
{
	s->mech = 0;
	s->sasl_step = 0;
}

/* A response that is not base64 at all is BAD; a wrong one is NO. */
static int
base64_ok(const char *resp)
{
	unsigned char out[SASL_DECODED_MAX];
	size_t n;

	return base64_decode(resp, strlen(resp), out, sizeof(out), &n) == 0;
}

/* One client response to an AUTHENTICATE challenge (RFC 3501 6.2.2). */
static void
sasl_step(struct imap_sess *s, const char *resp)
{
	char user[USER_NAME_MAX + 1], secret[256], b64[256];
	int r = AUTH_FAIL, mech = s->mech;

	if (strcmp(resp, "*") == 0) {
		sasl_end(s);
		imap_bad(s, "AUTHENTICATE cancelled");
		return;
	}
	user[0] = '\0';
	switch (mech) {
	case MECH_PLAIN:
		if (sasl_plain(resp, user, sizeof(user), secret,
		    sizeof(secret)) == 0)
			r = auth_password(user, secret, &s->u);
		else if (!base64_ok(resp)) {
			sasl_end(s);
			imap_bad(s, "Invalid base64 response");
			return;
		}
		break;
	case MECH_LOGIN:
		if (s->sasl_step == 0) {
			if (sasl_decode(resp, s->sasl_user,
			    sizeof(s->sasl_user)) < 0) {
				sasl_end(s);
				imap_bad(s, "Invalid base64 response");
				return;
			}
			s->sasl_step = 1;
			conn_puts(s->c, "+ " SASL_LOGIN_PASSWORD "\r\n");
			return;
		}
		strlcpy(user, s->sasl_user, sizeof(user));
		if (sasl_decode(resp, secret, sizeof(secret)) < 0) {
			sasl_end(s);
			imap_bad(s, "Invalid base64 response");
			return;
		}
		r = auth_password(user, secret, &s->u);
		break;
	default:
		if (sasl_cram_response(resp, user, sizeof(user), b64,
		    sizeof(b64)) == 0)
			r = auth_cram(user, s->challenge, b64, &s->u);
		else if (!base64_ok(resp)) {
			sasl_end(s);
			imap_bad(s, "Invalid base64 response");
			return;
		}
		break;
	}
	auth_wipe(secret, sizeof(secret));
	sasl_end(s);
	auth_result(s, r, mech == MECH_CRAM ? "AUTHENTICATE CRAM-MD5" :
	    mech == MECH_PLAIN ? "AUTHENTICATE PLAIN" : "AUTHENTICATE LOGIN",
	    user[0] != '\0' ? user : "?");
}

static void
cmd_authenticate(struct imap_sess *s, struct imap_tok *t)
{
	const char *mech, *ir;
	char b64[256];
	size_t irlen;

	if (imap_get_atom(t, &mech) < 0) {
		bad_args(s, t);
		return;
	}
	/* mutt 2.2 sends "AUTHENTICATE CRAM-MD5 " (a space, no initial
	 * response); Dovecot and UW take it, so do we. */
	if (t->pos + 1 == t->len && t->p[t->pos] == ' ')
		ir = NULL;
	else if (imap_get_sasl_ir(t, &ir, &irlen) < 0 || imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	if ((s->mech = sasl_mech(mech, plaintext_ok(s))) == 0) {
		imap_no(s, "Unsupported authentication mechanism");
		return;
	}
	s->sasl_step = 0;
	/* RFC 4959: an initial response saves a round trip (not for
	 * CRAM-MD5, where the server speaks first). */
	if (ir != NULL) {
		if (s->mech == MECH_CRAM) {
			sasl_end(s);
			imap_bad(s, "CRAM-MD5 takes no initial response");
			return;
		}
		sasl_step(s, ir);
		return;
	}
	if (sasl_first_challenge(s->mech, s->challenge, sizeof(s->challenge),
	    b64, sizeof(b64)) < 0) {
		sasl_end(s);
		imap_no(s, "[SERVERBUG] Internal error");
		return;
	}
	conn_printf(s->c, "+ %s\r\n", b64);
}

/* --- names: CREATE, DELETE, RENAME, SUBSCRIBE, LIST, LSUB --- */

/* A folder call's result as the reply. */
static void
folder_reply(struct imap_sess *s, int r, const char *err, const char *what)
{
	if (r == 0)
		imap_ok(s, "%s completed", what);
	else if (r == FOLDER_BAD)
		imap_bad(s, "%s", err != NULL ? err : "Invalid mailbox name");
	else
		imap_no(s, "%s", err != NULL ? err : "Failed");
}

static void
cmd_create(struct imap_sess *s, struct imap_tok *t)
{
	const char *name, *err = NULL;
	int r;

	if (imap_get_mailbox(t, &name) < 0 || imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	r = folder_create(&s->u, name, &err);
	folder_reply(s, r, err, "CREATE");
}

static void
cmd_delete(struct imap_sess *s, struct imap_tok *t)
{
	const char *name, *err = NULL;
	char path[512];
	int r;

	if (imap_get_mailbox(t, &name) < 0 || imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	/* The selected mailbox may go: its messages vanish for us too. */
	if (s->state == IMAP_SELECTED &&
	    folder_path(&s->u, name, path, sizeof(path), &err) == 0 &&
	    strcmp(path, s->path) == 0 && !folder_is_inbox(name)) {
		imap_close_view(s);
		imap_set_state(s, IMAP_AUTH);
	}
	r = folder_delete(&s->u, name, &err);
	folder_reply(s, r, err, "DELETE");
}

static void
cmd_rename(struct imap_sess *s, struct imap_tok *t)
{
	const char *from, *to, *err = NULL;
	char path[512];
	int r;

	if (imap_get_mailbox(t, &from) < 0 || imap_get_mailbox(t, &to) < 0 ||
	    imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	if (folder_is_inbox(to)) {
		imap_no(s, "[ALREADYEXISTS] INBOX exists");
		return;
	}
	if (folder_is_inbox(from)) {
		/* RFC 3501 6.3.5: every message moves to the new name and
		 * INBOX stays, empty.  A MOVE of all of INBOX does it. */
		if (folder_path(&s->u, to, s->dest, sizeof(s->dest),
		    &err) < 0) {
			imap_no(s, "%s", err != NULL ? err :
			    "Invalid mailbox name");
			return;
		}
		if (folder_create(&s->u, to, &err) < 0) {
			imap_no(s, "%s", err != NULL ? err : "Cannot create");
			return;
		}
		imap_rename_inbox(s);
		return;
	}
	if (s->state == IMAP_SELECTED &&
	    folder_path(&s->u, from, path, sizeof(path), &err) == 0 &&
	    strcmp(path, s->path) == 0) {
		imap_close_view(s);
		imap_set_state(s, IMAP_AUTH);
	}
	r = folder_rename(&s->u, from, to, &err);
	folder_reply(s, r, err, "RENAME");
}

static void
subscribe(struct imap_sess *s, struct imap_tok *t, int on)
{
	const char *name, *err = NULL;
	int r;

	if (imap_get_mailbox(t, &name) < 0 || imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	/* the call first: it sets err */
	r = folder_subscribe(&s->u, name, on, &err);
	folder_reply(s, r, err, on ? "SUBSCRIBE" : "UNSUBSCRIBE");
}

static void
cmd_subscribe(struct imap_sess *s, struct imap_tok *t)
{
	subscribe(s, t, 1);
}

static void
cmd_unsubscribe(struct imap_sess *s, struct imap_tok *t)
{
	subscribe(s, t, 0);
}

struct list_ctx {
	struct imap_sess	*s;
	const char		*what;
	struct buf		b;
};

static int
list_one(void *arg, const char *name, int attrs)
{
	struct list_ctx *lc = arg;
	struct buf *b = &lc->b;
	const char *sp = "";
	int e = 0;

	buf_reset(b);
	e |= buf_printf(b, "* %s (", lc->what);
	if (attrs & FOLDER_NOSELECT) {
		e |= buf_printf(b, "%s\\Noselect", sp);
		sp = " ";
	}
	if (attrs & FOLDER_NOINFERIORS) {
		e |= buf_printf(b, "%s\\NoInferiors", sp);
		sp = " ";
	}
	if (attrs & FOLDER_HASCHILDREN) {
		e |= buf_printf(b, "%s\\HasChildren", sp);
		sp = " ";
	}
	if (attrs & FOLDER_HASNOCHILDREN) {
		e |= buf_printf(b, "%s\\HasNoChildren", sp);
		sp = " ";
	}
	if (attrs & FOLDER_MARKED) {
		e |= buf_printf(b, "%s\\Marked", sp);
		sp = " ";
	}
	if (attrs & FOLDER_UNMARKED)
		e |= buf_printf(b, "%s\\Unmarked", sp);
	e |= buf_puts(b, ") \"/\" ");
	e |= imap_put_string(b, name, strlen(name));
	e |= buf_puts(b, "\r\n");
	if (e)
		return -1;
	return conn_write(lc->s->c, b->data, b->len);
}

static void
list(struct imap_sess *s, struct imap_tok *t, int lsub)
{
	const char *ref, *pat, *err = NULL;
	struct list_ctx lc;
	int r;

	if (imap_get_mailbox(t, &ref) < 0 ||
	    imap_get_list_mailbox(t, &pat) < 0 || imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	if (!lsub && *pat == '\0') {
		/* RFC 3501 6.3.8: the delimiter and the reference's root */
		conn_puts(s->c, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_ok(s, "LIST completed");
		return;
	}
	lc.s = s;
	lc.what = lsub ? "LSUB" : "LIST";
	buf_init(&lc.b, 0);
	r = folder_list(&s->u, ref, pat, lsub, list_one, &lc, &err);
	buf_free(&lc.b);
	folder_reply(s, r, err, lc.what);
}

static void
cmd_list(struct imap_sess *s, struct imap_tok *t)
{
	list(s, t, 0);
}

static void
cmd_lsub(struct imap_sess *s, struct imap_tok *t)
{
	list(s, t, 1);
}

/* --- commands of imap_mbox.c, their arguments read here --- */

static void
cmd_select(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_select(s, t, 0);
}

static void
cmd_examine(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_select(s, t, 1);
}

static void
cmd_status(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_status(s, t);
}

static void
cmd_append(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_append(s, t);
}

static void
cmd_check(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	imap_cmd_check(s);
}

static void
cmd_close(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	s->closing = 1;
	imap_unselect(s, !s->readonly);
	s->closing = 0;
}

static void
cmd_unselect(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_get_end(t) < 0) {
		bad_args(s, t);
		return;
	}
	imap_unselect(s, 0);
}

static void
cmd_expunge(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_expunge(s, t);
}

static void
cmd_search(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_search(s, t);
}

static void
cmd_fetch(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_fetch(s, t);
}

static void
cmd_store(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_store(s, t);
}

static void
cmd_copy(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_copy(s, t, 0);
}

static void
cmd_move(struct imap_sess *s, struct imap_tok *t)
{
	imap_cmd_copy(s, t, 1);
}

/* --- the session --- */

static void step_timer(void *arg);

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
	s->fd = -1;
	s->tag = "*";
	imapcb_init(&s->cb);
	buf_init(&s->reply, 0);
	ev_timer_init(&s->delay, delayed_reply, s);
	ev_timer_init(&s->flush, imap_flush_timer, s);
	ev_timer_init(&s->step, step_timer, s);
	conn_printf(c, "* OK [CAPABILITY %s] %s yubin IMAP4rev1 server "
	    "ready\r\n", caps(s), config->hostname);
	return s;
}

/* The next piece of a long SEARCH or COPY. */
static void
step_timer(void *arg)
{
	struct imap_sess *s = arg;

	if (s->stepper != NULL)
		s->stepper(s);
}

static const struct imap_cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(imap_cmds); i++)
		if (ascii_casecmp(imap_cmds[i].name, name) == 0)
			return &imap_cmds[i];
	return NULL;
}

/* A complete command: check it against the table and run it. */
static void
run_command(struct imap_sess *s)
{
	const struct imap_cmd *cmd;
	struct imap_tok *t = &s->tok;
	const char *name;

	s->ncmds++;
	strlcpy(s->tagbuf, imapcb_tag(&s->cb), sizeof(s->tagbuf));
	s->tag = s->tagbuf;
	if (imap_tok_init(t, &s->cb) < 0) {
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid command");
		return;
	}
	s->uid_cmd = 0;
	name = t->name;
	if (ascii_casecmp(name, "UID") == 0) {
		if (imap_get_atom(t, &name) < 0) {
			bad_args(s, t);
			return;
		}
		s->uid_cmd = 1;
	}
	cmd = find_cmd(name);
	if (cmd == NULL || (s->uid_cmd && !cmd->uid)) {
		imap_bad(s, "Unknown command");
		return;
	}
	if (!(cmd->states & s->state)) {
		imap_bad(s, "%s not valid in this state", cmd->name);
		return;
	}
	cmd->fn(s, t);
}

static void
imap_line(void *arg, char *line, size_t len)
{
	struct imap_sess *s = arg;
	enum imapcb_res r;

	if (s->mech != 0) {		/* an AUTHENTICATE response */
		if (memchr(line, '\0', len) != NULL) {
			sasl_end(s);
			imap_bad(s, "NUL in response");
			return;
		}
		sasl_step(s, line);
		return;
	}
	r = imapcb_line(&s->cb, line, len);
	switch (r) {
	case IMAPCB_COMPLETE:
		run_command(s);
		break;
	case IMAPCB_LITERAL:
		if (imapcb_is_append_message(&s->cb)) {
			imap_append_literal(s);
			break;
		}
		if (s->cb.lit_sync)
			conn_puts(s->c, "+ Ready for literal data\r\n");
		if (s->cb.lit_len > 0)
			conn_expect_bytes(s->c, (size_t)s->cb.lit_len);
		break;
	case IMAPCB_BAD:
	case IMAPCB_BAD_DISCARD:
		s->nbad++;
		log_notice("imap[%lu] %s: refused: %s", s->c->id, s->c->peer,
		    s->cb.err != NULL ? s->cb.err : "bad command");
		conn_printf(s->c, "%s BAD %s\r\n", imapcb_tag(&s->cb),
		    s->cb.err != NULL ? s->cb.err : "Invalid command");
		if (r == IMAPCB_BAD_DISCARD && s->cb.lit_len > 0)
			conn_expect_bytes(s->c, (size_t)s->cb.lit_len);
		break;
	case IMAPCB_SKIP:
		break;
	case IMAPCB_SKIP_DISCARD:
		if (s->cb.lit_len > 0)
			conn_expect_bytes(s->c, (size_t)s->cb.lit_len);
		break;
	case IMAPCB_BYE:
		s->nbad++;
		log_notice("imap[%lu] %s: %s", s->c->id, s->c->peer,
		    s->cb.err != NULL ? s->cb.err : "unreadable command");
		conn_printf(s->c, "* BYE %s\r\n", s->cb.err != NULL ?
		    s->cb.err : "Protocol error");
		conn_close(s->c);
		break;
	}
}

/* The octets of a literal (conn_expect_bytes()). */
static void
imap_bytes(void *arg, const char *p, size_t n, int last)
{
	struct imap_sess *s = arg;

	if (s->appending) {
		imap_append_bytes(s, p, n, last);
		return;
	}
	(void)imapcb_literal(&s->cb, p, n);
}

static void
imap_overlong(void *arg)
{
	struct imap_sess *s = arg;

	s->nbad++;
	log_notice("imap[%lu] %s: command line over %d octets", s->c->id,
	    s->c->peer, IMAP_LINE_MAX);
	/* the rest of the line is dropped by conn.c; so is the command */
	imapcb_reset(&s->cb);
	conn_puts(s->c, "* BAD Line too long\r\n");
}

static void
imap_timeout(void *arg)
{
	struct imap_sess *s = arg;

	/* RFC 3501 5.4: the autologout timer, at least 30 minutes. */
	conn_puts(s->c, "* BYE Autologout; idle for too long\r\n");
	conn_close(s->c);
}

static void
imap_shutdown(void *arg)
{
	struct imap_sess *s = arg;

	conn_puts(s->c, "* BYE Server shutting down\r\n");
	conn_close(s->c);
}

static void
imap_end(void *arg)
{
	struct imap_sess *s = arg;

	log_info("imap[%lu] %s: disconnect commands=%lu bad=%lu", s->c->id,
	    s->c->peer, s->ncmds, s->nbad);
	/* What the session changed still reaches the file. */
	imap_session_end(s);
	ev_timer_del(&s->delay);
	ev_timer_del(&s->flush);
	imapcb_free(&s->cb);
	buf_free(&s->reply);
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
	imap_bytes, imap_overlong, imap_timeout, imap_shutdown, imap_end,
	imap_busy
};

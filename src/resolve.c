/*
 * resolve.c - recipients: local domains, the aliases file, ~/.forward,
 * and the relay decision (see resolve.h).
 *
 * "No address trick relays" (issue 3, DESIGN.md): the only thing that
 * makes an address remote is its domain after addr.c has parsed it
 * strictly.  A local part is never re-parsed for '%', '!' or '@' as old
 * sendmail did, so user%remote@here is the local user "user%remote"
 * (there is none: 550), and "user@remote"@here likewise.
 *
 * |command and /file targets are not delivered to, from the aliases file
 * or from .forward: running programs as another user is a later job, and
 * until then such a target is logged and skipped, never half done.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "log.h"
#include "resolve.h"
#include "user.h"
#include "util.h"

#define FORWARD_MAX	65536	/* a .forward is a few addresses */
#define RESOLVE_DEPTH	8	/* address -> alias -> .forward -> ... */

static struct aliases *aliases;
static struct stat aliases_st;
static char aliases_path[1024];

void
resolve_reset(void)
{
	aliases_free(aliases);
	aliases = NULL;
	aliases_path[0] = '\0';
}

/* The aliases table, re-read when the file changes (newaliases-free). */
static const struct aliases *
aliases_get(void)
{
	struct aliases *a;
	struct stat st;
	int nerr = 0;

	memset(&st, 0, sizeof(st));
	if (stat(config->aliases_file, &st) < 0 && errno != ENOENT)
		return aliases;
	if (aliases != NULL && strcmp(aliases_path, config->aliases_file) == 0
	    && st.st_mtime == aliases_st.st_mtime &&
	    st.st_size == aliases_st.st_size && st.st_ino == aliases_st.st_ino)
		return aliases;
	if ((a = aliases_load(config->aliases_file, &nerr)) == NULL)
		return aliases;		/* keep the old table */
	aliases_free(aliases);
	aliases = a;
	aliases_st = st;
	strlcpy(aliases_path, config->aliases_file, sizeof(aliases_path));
	return aliases;
}

static int
domain_eq(const char *a, const char *b)
{
	return b != NULL && ascii_casecmp(a, b) == 0;
}

int
resolve_is_local(const struct addr *a, const struct resolve_ctx *rc)
{
	static const unsigned char lo6[16] = { 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1 };
	const char *dot;
	size_t n;

	if (a->domain[0] == '\0')
		return 1;		/* <postmaster> */
	if (a->literal) {
		/* RFC 5321 4.1.3: a literal of one of our addresses. */
		if (a->lit_family == 4 && a->lit_addr[0] == 127)
			return 1;
		if (a->lit_family == 6 && memcmp(a->lit_addr, lo6, 16) == 0)
			return 1;
		return rc != NULL && a->lit_family == rc->local_family &&
		    memcmp(a->lit_addr, rc->local_addr,
		    a->lit_family == 4 ? 4 : 16) == 0;
	}
	if (domain_eq(a->domain, config->hostname) ||
	    domain_eq(a->domain, "localhost") ||
	    strlist_has_nocase(&config->local_domains, a->domain))
		return 1;
	/* The short name of this host. */
	if ((dot = strchr(config->hostname, '.')) != NULL) {
		n = (size_t)(dot - config->hostname);
		if (strlen(a->domain) == n &&
		    ascii_ncasecmp(a->domain, config->hostname, n) == 0)
			return 1;
	}
	return 0;
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Read ~user/.forward, if any, as text (NULL if none). */
static char *
forward_read(const struct user *u, size_t *len)
{
	char path[600];
	struct stat st;
	ssize_t n;
	char *text;
	int fd, r;

	if (u->home[0] == '\0')
		return NULL;
	r = snprintf(path, sizeof(path), "%s/.forward", u->home);
	if (r < 0 || (size_t)r >= sizeof(path))
		return NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW, 0)) < 0)
		return NULL;
	/* Only the user's own, regular, small file counts (sendmail). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != u->uid || st.st_size > FORWARD_MAX ||
	    (text = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = (size_t)n;
	return text;
}

static int resolve_addr(const struct addr *a, const struct resolve_ctx *rc,
    struct targetlist *out, int depth);

/* An address from an alias or a .forward: "user@host" or "user". */
static int
resolve_text(const char *text, const struct resolve_ctx *rc,
    struct targetlist *out, int depth)
{
	char path[600];
	struct addr a;
	const char *end;
	int r;

	r = snprintf(path, sizeof(path), "<%s>", text);
	if (r < 0 || (size_t)r >= sizeof(path) ||
	    addr_parse_path(path, &a, &end, 0) != 0 || *end != '\0') {
		warn("alias or .forward target <%s>: bad address; skipped",
		    text);
		return RESOLVE_UNKNOWN;
	}
	return resolve_addr(&a, rc, out, depth);
}

static int resolve_local(const char *name, const struct resolve_ctx *rc,
    struct targetlist *out, int depth);

/* Combine outcomes: any success wins, then a temporary failure. */
static int
merge(int acc, int r)
{
	if (acc == RESOLVE_OK || r == RESOLVE_OK)
		return RESOLVE_OK;
	if (acc == RESOLVE_TEMP || r == RESOLVE_TEMP)
		return RESOLVE_TEMP;
	return r;
}

static int
resolve_targets(const struct targetlist *tl, const char *self,
    const struct resolve_ctx *rc, struct targetlist *out, int depth)
{
	int i, r = RESOLVE_UNKNOWN;
	const struct target *t;
	struct user u;

	for (i = 0; i < tl->n; i++) {
		t = &tl->v[i];
		switch (t->type) {
		case T_LOCAL:
			/* "\user", or a .forward naming its own user: the
			 * mailbox itself, no further forwarding. */
			if (t->noforward ||
			    (self != NULL && strcmp(t->name, self) == 0))
				r = merge(r, user_lookup(t->name, &u) == 0 &&
				    targetlist_add(out, T_LOCAL, t->name, 1,
				    NULL) == 0 ? RESOLVE_OK : RESOLVE_UNKNOWN);
			else
				r = merge(r, resolve_local(t->name, rc, out,
				    depth + 1));
			break;
		case T_ADDRESS:
			r = merge(r, resolve_text(t->name, rc, out, depth + 1));
			break;
		default:
			warn("target %s%s: delivery to programs and files is "
			    "not supported; skipped",
			    t->type == T_PIPE ? "|" : "", t->name);
			break;
		}
	}
	return r;
}

static int
resolve_user(const char *name, const struct resolve_ctx *rc,
    struct targetlist *out, int depth)
{
	struct targetlist fl;
	struct user u;
	size_t len = 0;
	char *fw;
	int r;

	if (user_lookup(name, &u) < 0)
		return RESOLVE_UNKNOWN;
	if (depth < RESOLVE_DEPTH && (fw = forward_read(&u, &len)) != NULL) {
		targetlist_init(&fl);
		r = forward_parse(fw, len, &fl);
		free(fw);
		/* A broken .forward: the mailbox, rather than a guess. */
		r = r == 0 && fl.n > 0 ?
		    resolve_targets(&fl, name, rc, out, depth) :
		    RESOLVE_UNKNOWN;
		targetlist_free(&fl);
		if (r == RESOLVE_OK)
			return r;
	}
	return targetlist_add(out, T_LOCAL, u.name, 1, NULL) == 0 ?
	    RESOLVE_OK : RESOLVE_TEMP;
}

static int
resolve_local(const char *name, const struct resolve_ctx *rc,
    struct targetlist *out, int depth)
{
	struct targetlist tl;
	char lname[256];
	int i, r;

	if (depth > RESOLVE_DEPTH) {
		warn("recipient %s: aliases and .forward nest too deep", name);
		return RESOLVE_TEMP;
	}
	strlcpy(lname, name, sizeof(lname));
	lowercase(lname);
	targetlist_init(&tl);
	if (aliases_expand(aliases_get(), lname, &tl) < 0) {
		targetlist_free(&tl);
		return RESOLVE_TEMP;
	}
	/* An alias resolves to users, who may have a .forward each. */
	r = RESOLVE_UNKNOWN;
	for (i = 0; i < tl.n; i++) {
		if (tl.v[i].type == T_LOCAL && !tl.v[i].noforward)
			r = merge(r, resolve_user(tl.v[i].name, rc, out, depth));
		else {
			struct targetlist one;

			one.v = &tl.v[i];
			one.n = one.cap = 1;
			r = merge(r, resolve_targets(&one, NULL, rc, out,
			    depth));
		}
	}
	targetlist_free(&tl);
	return r;
}

static int
resolve_addr(const struct addr *a, const struct resolve_ctx *rc,
    struct targetlist *out, int depth)
{
	char text[520];

	if (resolve_is_local(a, rc))
		return resolve_local(a->local, rc, out, depth);
	/* Remote: a client may relay only if trusted, by its network
	 * (relay_networks) or because it logged in (SMTP AUTH: smtp.c sets
	 * may_relay then); the admin's aliases and a user's .forward
	 * (depth > 0) always may. */
	if (depth == 0 && !rc->may_relay)
		return RESOLVE_DENIED;
	if (addr_format(a, text, sizeof(text)) < 0)
		return RESOLVE_UNKNOWN;
	return targetlist_add(out, T_ADDRESS, text, 0, NULL) == 0 ?
	    RESOLVE_OK : RESOLVE_TEMP;
}

int
resolve_rcpt(const struct addr *a, const struct resolve_ctx *rc,
    struct targetlist *out, char *why, size_t whylen)
{
	int r = resolve_addr(a, rc, out, 0);
	static const char *const reasons[] = {
		"OK", "no such user here", "relaying denied",
		"cannot expand aliases now"
	};

	strlcpy(why, reasons[r], whylen);
	return r;
}

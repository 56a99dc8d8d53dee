/*
 * conf.c - yubin.conf(5): defaults, reading, checking and printing of the
 * configuration.
 *
 * Every key is one line of the keys[] table: its name, its type (how a
 * value is parsed, printed and freed), where it lives in struct conf and
 * its range.  Adding a key is adding a line there.
 *
 * This file must never change the running configuration: callers fill a
 * fresh struct conf and swap it in only when conf_read() and
 * conf_finish() report no error, so a broken file on SIGHUP leaves the
 * daemon as it was.  It must not block the event loop either: the one
 * name lookup conf_finish() may do is made once per process and cached.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/time.h>
#ifdef HAVE_SYS_SELECT_H
#include <sys/select.h>
#endif
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <netdb.h>

#include "conf.h"
#include "log.h"
#include "util.h"

struct conf *config;

/* A word quoted in an error message is cut here: a log line is bounded. */
#define QUOTE_MAX	200

/*
 * Defaults of the outbound keys (issue 6).  They belong with the other
 * limits in params.h; kept here, overridable the same way, while the
 * transport that reads them is written beside this file.
 */
#ifndef RELAY_PORT
#define RELAY_PORT		25	/* RFC 5321 4.5.4.2: MX hosts on 25 */
#endif
#ifndef RELAY_MAX
#define RELAY_MAX		100	/* outbound connections in all */
#endif
#ifndef RELAY_MAX_PER_HOST
#define RELAY_MAX_PER_HOST	20	/* Postfix's default per destination */
#endif
#ifndef QUEUE_LIFETIME
#define QUEUE_LIFETIME		(5L * 86400L)	/* RFC 5321 4.5.4.1: 4-5 days */
#endif
#ifndef RESOLV_CONF
#define RESOLV_CONF		"/etc/resolv.conf"
#endif
#define DNS_PORT		53
#define SMTP_PORT		25	/* relayhost and routes without a port */
/* conf_print() starts a new line (repeating the key) past these. */
#define PRINT_WORDS	16
#define PRINT_WIDTH	200

struct ctx;
struct key;

/* How one kind of value is set from words, printed back and freed. */
struct ktype {
	void	(*set)(struct ctx *, const struct key *, char **, int);
	void	(*print)(const struct conf *, const struct key *, FILE *);
	void	(*release)(struct conf *, const struct key *);
	/* for strings and string lists: why a word is bad, or NULL */
	const char *(*check)(const char *);
};

#define K_UNSET		1	/* the key alone means "not set" (NULL) */

struct key {
	const char		*name;
	const struct ktype	*type;
	size_t			off;	/* of the field in struct conf */
	unsigned long		min;	/* numbers and sizes */
	unsigned long		max;
	int			flags;
};

/* What one conf_read() call is doing: for errors and list semantics. */
struct ctx {
	struct conf	*c;
	const char	*file;
	int		line;
	int		errors;
	unsigned char	*seen;		/* list keys met in this file */
};

static void set_str(struct ctx *, const struct key *, char **, int);
static void set_int(struct ctx *, const struct key *, char **, int);
static void set_size(struct ctx *, const struct key *, char **, int);
static void set_strlist(struct ctx *, const struct key *, char **, int);
static void set_listen(struct ctx *, const struct key *, char **, int);
static void set_nets(struct ctx *, const struct key *, char **, int);
static void set_lock(struct ctx *, const struct key *, char **, int);
static void set_loglevel(struct ctx *, const struct key *, char **, int);
static void set_hostport(struct ctx *, const struct key *, char **, int);
static void set_route(struct ctx *, const struct key *, char **, int);
static void set_servers(struct ctx *, const struct key *, char **, int);
static void set_bool(struct ctx *, const struct key *, char **, int);
static void print_str(const struct conf *, const struct key *, FILE *);
static void print_int(const struct conf *, const struct key *, FILE *);
static void print_size(const struct conf *, const struct key *, FILE *);
static void print_strlist(const struct conf *, const struct key *, FILE *);
static void print_nets(const struct conf *, const struct key *, FILE *);
static void print_lock(const struct conf *, const struct key *, FILE *);
static void print_loglevel(const struct conf *, const struct key *, FILE *);
static void print_routes(const struct conf *, const struct key *, FILE *);
static void print_bool(const struct conf *, const struct key *, FILE *);
static void free_str(struct conf *, const struct key *);
static void free_strlist(struct conf *, const struct key *);
static void free_nets(struct conf *, const struct key *);
static const char *check_host(const char *);
static const char *check_user(const char *);
static const char *check_abspath(const char *);
static const char *check_relpath(const char *);

static const struct ktype t_host =
    { set_str, print_str, free_str, check_host };
static const struct ktype t_user =
    { set_str, print_str, free_str, check_user };
static const struct ktype t_path =
    { set_str, print_str, free_str, check_abspath };
static const struct ktype t_relpath =
    { set_str, print_str, free_str, check_relpath };
static const struct ktype t_int =
    { set_int, print_int, NULL, NULL };
static const struct ktype t_size =
    { set_size, print_size, NULL, NULL };
static const struct ktype t_domains =
    { set_strlist, print_strlist, free_strlist, check_host };
static const struct ktype t_listen =
    { set_listen, print_strlist, free_strlist, NULL };
static const struct ktype t_nets =
    { set_nets, print_nets, free_nets, NULL };
static const struct ktype t_lock =
    { set_lock, print_lock, NULL, NULL };
static const struct ktype t_loglevel =
    { set_loglevel, print_loglevel, NULL, NULL };
static const struct ktype t_hostport =
    { set_hostport, print_str, free_str, NULL };
static const struct ktype t_routes =
    { set_route, print_routes, free_strlist, NULL };
static const struct ktype t_servers =
    { set_servers, print_strlist, free_strlist, NULL };
static const struct ktype t_bool =
    { set_bool, print_bool, NULL, NULL };

#define OFF(field)	offsetof(struct conf, field)
/* select() cannot watch a descriptor at or above FD_SETSIZE. */
#define CONN_MAX	((unsigned long)(FD_SETSIZE - FD_RESERVE))
#define DAY		86400UL

static const struct key keys[] = {
	{ "hostname", &t_host, OFF(hostname), 0, 0, K_UNSET },
	{ "smtp_listen", &t_listen, OFF(smtp_listen), 0, 0, 0 },
	{ "submission_listen", &t_listen, OFF(submission_listen), 0, 0, 0 },
	{ "pop3_listen", &t_listen, OFF(pop3_listen), 0, 0, 0 },
	{ "imap_listen", &t_listen, OFF(imap_listen), 0, 0, 0 },
	{ "spool_dir", &t_path, OFF(spool_dir), 0, 0, 0 },
	{ "queue_dir", &t_path, OFF(queue_dir), 0, 0, 0 },
	{ "home_mail_dir", &t_relpath, OFF(home_mail_dir), 0, 0, 0 },
	{ "passwd_file", &t_path, OFF(passwd_file), 0, 0, 0 },
	{ "aliases_file", &t_path, OFF(aliases_file), 0, 0, 0 },
	{ "pid_file", &t_path, OFF(pid_file), 0, 0, 0 },
	{ "log_file", &t_path, OFF(log_file), 0, 0, K_UNSET },
	{ "user", &t_user, OFF(user), 0, 0, 0 },
	{ "local_domains", &t_domains, OFF(local_domains), 0, 0, 0 },
	{ "relay_networks", &t_nets, OFF(relay_networks), 0, 0, 0 },
	{ "plaintext_networks", &t_nets, OFF(plaintext_networks), 0, 0, 0 },
	{ "message_size_limit", &t_size, OFF(message_size_limit),
	    1024UL, 2048UL * 1024UL * 1024UL, 0 },
	{ "max_connections", &t_int, OFF(max_connections), 1, CONN_MAX, 0 },
	/* the upper bound is max_connections, checked by conf_finish() */
	{ "max_connections_per_ip", &t_int, OFF(max_connections_per_ip),
	    1, CONN_MAX, 0 },
	{ "smtp_timeout", &t_int, OFF(smtp_timeout), 1, DAY, 0 },
	{ "pop3_timeout", &t_int, OFF(pop3_timeout), 1, DAY, 0 },
	{ "imap_timeout", &t_int, OFF(imap_timeout), 1, DAY, 0 },
	{ "lock", &t_lock, OFF(lock_methods), 0, 0, 0 },
	{ "lock_timeout", &t_int, OFF(lock_timeout), 1, DAY, 0 },
	{ "lock_stale", &t_int, OFF(lock_stale), 1, DAY, 0 },
	{ "log_level", &t_loglevel, OFF(log_level), 0, 0, 0 },
	{ "relayhost", &t_hostport, OFF(relayhost), 0, 0, K_UNSET },
	{ "route", &t_routes, OFF(routes), 0, 0, 0 },
	{ "relay_port", &t_int, OFF(relay_port), 1, 65535, 0 },
	{ "relay_max", &t_int, OFF(relay_max), 1, CONN_MAX, 0 },
	/* the upper bound is relay_max, checked by conf_finish() */
	{ "relay_max_per_host", &t_int, OFF(relay_max_per_host), 1, CONN_MAX,
	    0 },
	/* a minute at least: the queue runs about once a minute */
	{ "queue_lifetime", &t_int, OFF(queue_lifetime), 60, 365 * DAY, 0 },
	{ "resolv_conf", &t_path, OFF(resolv_conf), 0, 0, 0 },
	{ "dns_servers", &t_servers, OFF(dns_servers), 0, 0, 0 },
	{ "sender_login_check", &t_bool, OFF(sender_login_check), 0, 0, 0 }
};

/* The field of c that key k describes. */
#define FIELD(c, k, type)	((type *)(void *)((char *)(c) + (k)->off))
#define CFIELD(c, k, type)	\
	((const type *)(const void *)((const char *)(c) + (k)->off))

static const struct {
	const char	*name;
	int		bit;
} lock_names[] = {
	{ "dotlock", LOCK_DOTLOCK }, { "lockf", LOCK_LOCKF },
	{ "flock", LOCK_FLOCK }
};

static void conf_err(struct ctx *, const char *, ...) PRINTFLIKE(2, 3);

static void
conf_err(struct ctx *x, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r < 0)
		msg[0] = '\0';
	else if ((size_t)r >= sizeof(msg))	/* mark, don't hide, a cut */
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	warn("%s:%d: %s", x->file, x->line, msg);
	x->errors++;
}

/*
 * Single-valued keys take exactly one word.  Returns 1 if so, else logs
 * why not and returns 0.
 */
static int
one_value(struct ctx *x, const struct key *k, int nw)
{
	if (nw == 0) {
		conf_err(x, "%s: missing value", k->name);
		return 0;
	}
	if (nw > 1) {
		conf_err(x, "%s: takes one value, not %d", k->name, nw);
		return 0;
	}
	return 1;
}

static void
set_str(struct ctx *x, const struct key *k, char **w, int nw)
{
	char **p = FIELD(x->c, k, char *);
	const char *why;

	if (nw == 0 && (k->flags & K_UNSET)) {
		free(*p);
		*p = NULL;
		return;
	}
	if (!one_value(x, k, nw))
		return;
	if ((why = k->type->check(w[0])) != NULL) {
		conf_err(x, "%s: \"%.*s\" %s", k->name, QUOTE_MAX, w[0], why);
		return;
	}
	free(*p);
	*p = xstrdup(w[0]);
}

/*
 * Parse a number for key k.  A word of digits too big for an unsigned
 * long is out of range, not "not a number": say what the admin meant.
 */
static int
get_number(struct ctx *x, const struct key *k, const char *w, size_t len,
    unsigned long *v)
{
	size_t i;

	if (parse_ulong_n(w, len, (unsigned long)-1, v) == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (w[i] < '0' || w[i] > '9')
			break;
	if (len > 0 && i == len)
		conf_err(x, "%s: \"%.*s\" is out of range", k->name,
		    QUOTE_MAX, w);
	else
		conf_err(x, "%s: \"%.*s\" is not a number", k->name,
		    QUOTE_MAX, w);
	return -1;
}

static void
set_int(struct ctx *x, const struct key *k, char **w, int nw)
{
	unsigned long v;

	if (!one_value(x, k, nw) ||
	    get_number(x, k, w[0], strlen(w[0]), &v) < 0)
		return;
	if (v < k->min || v > k->max) {
		conf_err(x, "%s: \"%.*s\" is out of range (%lu..%lu)",
		    k->name, QUOTE_MAX, w[0], k->min, k->max);
		return;
	}
	*FIELD(x->c, k, int) = (int)v;
}

/* Write a size with the biggest suffix that keeps it exact. */
static void
size_format(unsigned long v, char *out, size_t outlen)
{
	static const char suffix[] = "KMG";
	int i, r;

	for (i = 0; v != 0 && v % 1024 == 0 && i < 3; i++)
		v /= 1024;
	if (i == 0)
		r = snprintf(out, outlen, "%lu", v);
	else
		r = snprintf(out, outlen, "%lu%c", v, suffix[i - 1]);
	if (r < 0 || (size_t)r >= outlen)
		panic("size_format: buffer too small");
}

/* Bytes, or a number with K, M or G (powers of 1024) after it. */
static void
set_size(struct ctx *x, const struct key *k, char **w, int nw)
{
	static const char units[] = "KMGkmg";
	unsigned long v, mult;
	char lo[32], hi[32];
	const char *u;
	size_t len;
	int i;

	if (!one_value(x, k, nw))
		return;
	len = strlen(w[0]);
	mult = 1;
	if (len > 0 && (u = strchr(units, w[0][len - 1])) != NULL) {
		for (i = 0; i <= (int)(u - units) % 3; i++)
			mult *= 1024;
		len--;
	}
	if (get_number(x, k, w[0], len, &v) < 0)
		return;
	if (v > (unsigned long)-1 / mult || v * mult < k->min ||
	    v * mult > k->max) {
		size_format(k->min, lo, sizeof(lo));
		size_format(k->max, hi, sizeof(hi));
		conf_err(x, "%s: \"%.*s\" is out of range (%s..%s)",
		    k->name, QUOTE_MAX, w[0], lo, hi);
		return;
	}
	*FIELD(x->c, k, unsigned long) = v * mult;
}

/*
 * The first time a list key appears in a file it replaces the default
 * (so "smtp_listen 127.0.0.1:2525" means only that); after that, lines
 * append.  Returns nothing: the list is ready to be added to.
 */
static void
list_begin(struct ctx *x, const struct key *k)
{
	size_t i = (size_t)(k - keys);

	if (x->seen[i])
		return;
	x->seen[i] = 1;
	k->type->release(x->c, k);
}

static void
set_strlist(struct ctx *x, const struct key *k, char **w, int nw)
{
	struct strlist *l = FIELD(x->c, k, struct strlist);
	const char *why;
	int i;

	list_begin(x, k);
	for (i = 0; i < nw; i++) {
		if ((why = k->type->check(w[i])) != NULL)
			conf_err(x, "%s: \"%.*s\" %s", k->name, QUOTE_MAX,
			    w[i], why);
		else if (!strlist_has_nocase(l, w[i]))
			strlist_add(l, w[i]);
	}
}

/*
 * Check a listen address and write it in the one form net.c reads:
 * "A.B.C.D:PORT" or "[V6]:PORT"; "*:PORT" becomes "0.0.0.0:PORT".
 * Only numeric addresses: resolving a name here could block the loop
 * on SIGHUP, and a name may have many addresses.  Port 0 lets the
 * kernel choose (the tests use it; a sandbox lists the result).
 */
static const char *
listen_norm(const char *w, char *out, size_t outlen)
{
	const char *a, *port;
	char addr[64];
	struct netmask m;
	unsigned long p;
	size_t alen;
	int r, v6;

	v6 = (w[0] == '[');
	if (v6) {
		a = w + 1;
		if ((port = strchr(a, ']')) == NULL)
			return "has no closing \"]\"";
		alen = (size_t)(port - a);
		if (*++port != ':')
			return "has no port (ADDR:PORT)";
	} else {
		a = w;
		if ((port = strchr(a, ':')) == NULL)
			return "has no port (ADDR:PORT)";
		alen = (size_t)(port - a);
		if (strchr(port + 1, ':') != NULL)
			return "is an IPv6 address without [ ] around it";
	}
	if (parse_ulong(port + 1, 65535, &p) < 0)
		return "has a bad port (0..65535)";
	if (alen == 0 || alen >= sizeof(addr))
		return "has a bad address";
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (!v6 && strcmp(addr, "*") == 0)
		strcpy(addr, "0.0.0.0");
	else if (strchr(addr, '/') != NULL || netmask_parse(addr, &m) < 0 ||
	    m.family != (v6 ? 6 : 4))
		return "has a bad address (numeric IPv4, [IPv6] or *)";
	r = snprintf(out, outlen, v6 ? "[%s]:%lu" : "%s:%lu", addr, p);
	if (r < 0 || (size_t)r >= outlen)
		return "is too long";
	return NULL;
}

static void
set_listen(struct ctx *x, const struct key *k, char **w, int nw)
{
	struct strlist *l = FIELD(x->c, k, struct strlist);
	char norm[128];
	const char *why;
	int i, j;

	list_begin(x, k);
	for (i = 0; i < nw; i++) {
		if ((why = listen_norm(w[i], norm, sizeof(norm))) != NULL) {
			conf_err(x, "%s: \"%.*s\" %s", k->name, QUOTE_MAX,
			    w[i], why);
			continue;
		}
		/* port 0 twice is two listeners on ports the kernel picks */
		for (j = 0; j < l->n; j++)
			if (strcmp(l->v[j], norm) == 0 &&
			    strcmp(strrchr(norm, ':'), ":0") != 0)
				break;
		if (j < l->n)
			conf_err(x, "%s: \"%s\" is listed twice", k->name,
			    norm);
		else
			strlist_add(l, norm);
	}
}

static void
set_nets(struct ctx *x, const struct key *k, char **w, int nw)
{
	struct netlist *l = FIELD(x->c, k, struct netlist);
	struct netmask m;
	int i;

	list_begin(x, k);
	for (i = 0; i < nw; i++) {
		if (netmask_parse(w[i], &m) < 0)
			conf_err(x, "%s: \"%.*s\" is not a network "
			    "(ADDR or ADDR/BITS)", k->name, QUOTE_MAX, w[i]);
		else
			netlist_add(l, &m);
	}
}

static void
set_lock(struct ctx *x, const struct key *k, char **w, int nw)
{
	int i, j, bits, bad;

	if (nw == 0) {
		conf_err(x, "%s: missing value (dotlock, lockf, flock)",
		    k->name);
		return;
	}
	bits = 0;
	bad = 0;
	for (i = 0; i < nw; i++) {
		for (j = 0; j < (int)NELEM(lock_names); j++)
			if (strcmp(w[i], lock_names[j].name) == 0)
				break;
		if (j == (int)NELEM(lock_names)) {
			conf_err(x, "%s: \"%.*s\" is not a lock method "
			    "(dotlock, lockf, flock)", k->name, QUOTE_MAX,
			    w[i]);
			bad = 1;
		} else if (bits & lock_names[j].bit) {
			conf_err(x, "%s: \"%s\" is given twice", k->name,
			    lock_names[j].name);
			bad = 1;
		} else
			bits |= lock_names[j].bit;
	}
	if (!bad)
		*FIELD(x->c, k, int) = bits;
}

static void
set_loglevel(struct ctx *x, const struct key *k, char **w, int nw)
{
	int level;

	if (!one_value(x, k, nw))
		return;
	if ((level = log_level_parse(w[0])) < 0) {
		conf_err(x, "%s: \"%.*s\" is not a log level "
		    "(err, warning, notice, info, debug)", k->name,
		    QUOTE_MAX, w[0]);
		return;
	}
	*FIELD(x->c, k, int) = level;
}

static void
lower_ascii(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Check a HOST[:PORT] word and write it in the stored form (conf.h):
 * "host:port" in lower case, or "[addr]:port" for an address literal,
 * which may be written as RFC 5321 4.1.3 does ("[IPv6:...]").  A bare
 * dotted quad is taken for the address it is, not for a name to look
 * up.  Port 0 is refused: unlike a listener, nothing picks one for us.
 */
static const char *
hostport_norm(const char *w, unsigned long defport, char *out,
    size_t outlen)
{
	unsigned char ab[16];
	const char *end, *port, *why;
	unsigned long p;
	char host[256];
	size_t hlen;
	int r, lit;

	if ((lit = (w[0] == '[')) != 0) {
		if ((end = strchr(w, ']')) == NULL)
			return "has no closing \"]\"";
		w++;
		if (ascii_ncasecmp(w, "IPv6:", 5) == 0)
			w += 5;
		hlen = (size_t)(end - w);
		port = end + 1;
		if (*port != '\0' && *port != ':')
			return "has junk after \"]\"";
	} else {
		if ((port = strchr(w, ':')) != NULL &&
		    strchr(port + 1, ':') != NULL)
			return "is an IPv6 address without [ ] around it";
		hlen = port != NULL ? (size_t)(port - w) : strlen(w);
		if (port == NULL)
			port = w + hlen;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return "has a bad host";
	memcpy(host, w, hlen);
	host[hlen] = '\0';
	p = defport;
	if (*port == ':' && (parse_ulong(port + 1, 65535, &p) < 0 || p == 0))
		return "has a bad port (1..65535)";
	if (lit || ipaddr_parse(host, ab) == 4) {
		if (strchr(host, '/') != NULL || ipaddr_parse(host, ab) < 0)
			return "has a bad address literal";
		r = snprintf(out, outlen, "[%s]:%lu", host, p);
	} else {
		if ((why = check_host(host)) != NULL)
			return why;
		lower_ascii(host);
		r = snprintf(out, outlen, "%s:%lu", host, p);
	}
	if (r < 0 || (size_t)r >= outlen)
		return "is too long";
	return NULL;
}

/* relayhost HOST[:PORT]; the key alone: none. */
static void
set_hostport(struct ctx *x, const struct key *k, char **w, int nw)
{
	char **p = FIELD(x->c, k, char *);
	char norm[300];
	const char *why;

	if (nw == 0) {
		free(*p);
		*p = NULL;
		return;
	}
	if (!one_value(x, k, nw))
		return;
	if ((why = hostport_norm(w[0], SMTP_PORT, norm, sizeof(norm))) !=
	    NULL) {
		conf_err(x, "%s: \"%.*s\" %s", k->name, QUOTE_MAX, w[0], why);
		return;
	}
	free(*p);
	*p = xstrdup(norm);
}

/*
 * route DOMAIN HOST[:PORT]: one line per domain, stored as "domain
 * host:port".  A later line for a domain replaces the earlier one, as
 * a later single-valued key does.  Exact domains only: a wildcard
 * would make "which route wins" a question, and relayhost already
 * covers "everything else".
 */
static void
set_route(struct ctx *x, const struct key *k, char **w, int nw)
{
	struct strlist *l = FIELD(x->c, k, struct strlist);
	char hp[300], line[600];
	const char *why;
	size_t dlen;
	int i, r;

	list_begin(x, k);
	if (nw == 0)
		return;			/* the key alone: no routes */
	if (nw != 2) {
		conf_err(x, "%s: takes a domain and a host (DOMAIN "
		    "HOST[:PORT]), not %d word%s", k->name, nw,
		    nw == 1 ? "" : "s");
		return;
	}
	if ((why = check_host(w[0])) != NULL) {
		conf_err(x, "%s: domain \"%.*s\" %s", k->name, QUOTE_MAX, w[0],
		    why);
		return;
	}
	if ((why = hostport_norm(w[1], SMTP_PORT, hp, sizeof(hp))) != NULL) {
		conf_err(x, "%s: \"%.*s\" %s", k->name, QUOTE_MAX, w[1], why);
		return;
	}
	r = snprintf(line, sizeof(line), "%s %s", w[0], hp);
	if (r < 0 || (size_t)r >= sizeof(line)) {
		conf_err(x, "%s: line too long", k->name);
		return;
	}
	dlen = strlen(w[0]);
	line[dlen] = '\0';
	lower_ascii(line);
	line[dlen] = ' ';
	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i], line, dlen + 1) == 0) {
			free(l->v[i]);
			l->v[i] = xstrdup(line);
			return;
		}
	strlist_add(l, line);
}

/*
 * A name server: a numeric address (a name would need DNS to find DNS),
 * port 53 unless given.  resolv.conf writes IPv6 servers bare, so a
 * bare IPv6 address is one (with port 53); [ADDR]:PORT gives a port.
 * Stored like a listen address: "A.B.C.D:PORT" or "[V6]:PORT".
 */
static const char *
server_norm(const char *w, char *out, size_t outlen)
{
	unsigned char ab[16];
	char tmp[300];
	const char *why;
	size_t n;
	int r;

	if (w[0] != '[' && ipaddr_parse(w, ab) == 6) {
		r = snprintf(tmp, sizeof(tmp), "[%s]", w);
		if (r < 0 || (size_t)r >= sizeof(tmp))
			return "is too long";
		w = tmp;
	}
	if ((why = hostport_norm(w, DNS_PORT, out, outlen)) != NULL)
		return why;
	if (out[0] != '[')
		return "is not a numeric address (ADDR, ADDR:PORT or "
		    "[IPv6]:PORT)";
	n = (size_t)(strchr(out, ']') - out);
	if (memchr(out, ':', n) == NULL) {
		/* IPv4: no brackets, as in a listen address */
		memmove(out, out + 1, n - 1);
		memmove(out + n - 1, out + n + 1, strlen(out + n + 1) + 1);
	}
	return NULL;
}

static void
set_servers(struct ctx *x, const struct key *k, char **w, int nw)
{
	struct strlist *l = FIELD(x->c, k, struct strlist);
	char norm[300];
	const char *why;
	int i;

	list_begin(x, k);
	for (i = 0; i < nw; i++) {
		if ((why = server_norm(w[i], norm, sizeof(norm))) != NULL)
			conf_err(x, "%s: \"%.*s\" %s", k->name, QUOTE_MAX,
			    w[i], why);
		else if (strlist_has_nocase(l, norm))
			conf_err(x, "%s: \"%s\" is listed twice", k->name,
			    norm);
		else
			strlist_add(l, norm);
	}
}

static void
set_bool(struct ctx *x, const struct key *k, char **w, int nw)
{
	if (!one_value(x, k, nw))
		return;
	if (strcmp(w[0], "yes") == 0)
		*FIELD(x->c, k, int) = 1;
	else if (strcmp(w[0], "no") == 0)
		*FIELD(x->c, k, int) = 0;
	else
		conf_err(x, "%s: \"%.*s\" is not yes or no", k->name,
		    QUOTE_MAX, w[0]);
}

/*
 * A host or domain name: dot-separated labels of letters, digits, "-"
 * and "_" (seen in the wild), none empty, none starting with "-".
 */
static const char *
check_host(const char *w)
{
	size_t label, len;
	const char *s;

	label = 0;
	for (s = w; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return "is not a valid host name";
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' ||
		    (*s == '-' && label > 0)))
			return "is not a valid host name";
		if (++label > 63)
			return "has a label longer than 63 characters";
	}
	len = (size_t)(s - w);
	if (len == 0 || label == 0)
		return "is not a valid host name";
	if (len > 253)
		return "is longer than 253 characters";
	return NULL;
}

/* A login name: what passwd(5) and our passwd file can hold. */
static const char *
check_user(const char *w)
{
	if (w[0] == '-' || strchr(w, ':') != NULL || strchr(w, '/') != NULL)
		return "is not a valid user name";
	return NULL;
}

/*
 * The daemon chdir()s and may run from inetd with any working
 * directory: a relative path would mean something different each time.
 */
static const char *
check_abspath(const char *w)
{
	if (w[0] != '/')
		return "is not an absolute path";
	return NULL;
}

/*
 * home_mail_dir is joined to a user's home and used with the user's
 * rights; ".." could still lead out of the home, so refuse it.
 */
static const char *
check_relpath(const char *w)
{
	const char *s;
	size_t n;

	if (w[0] == '/')
		return "must be relative to the home directory";
	for (s = w; *s != '\0'; s += n) {
		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return "must not contain \"..\"";
	}
	return NULL;
}

/* conf_print() writes words after a key, starting new lines as needed. */
struct pline {
	FILE		*fp;
	const char	*key;
	int		words;		/* on the current line */
	size_t		width;
};

static void
pline_word(struct pline *p, const char *w)
{
	if (p->words > 0 && (p->words >= PRINT_WORDS ||
	    p->width + 1 + strlen(w) > PRINT_WIDTH)) {
		putc('\n', p->fp);
		p->words = 0;
	}
	if (p->words == 0) {
		fputs(p->key, p->fp);
		p->width = strlen(p->key);
	}
	fprintf(p->fp, " %s", w);
	p->width += 1 + strlen(w);
	p->words++;
}

/* Lines after the first append (list semantics), so this round-trips. */
static void
pline_end(struct pline *p)
{
	if (p->words == 0)
		fputs(p->key, p->fp);	/* the bare key: an empty list */
	putc('\n', p->fp);
}

static void
print_str(const struct conf *c, const struct key *k, FILE *fp)
{
	const char *s = *CFIELD(c, k, char *);

	if (s == NULL)
		fprintf(fp, "%s\n", k->name);
	else
		fprintf(fp, "%s %s\n", k->name, s);
}

static void
print_int(const struct conf *c, const struct key *k, FILE *fp)
{
	fprintf(fp, "%s %d\n", k->name, *CFIELD(c, k, int));
}

static void
print_size(const struct conf *c, const struct key *k, FILE *fp)
{
	fprintf(fp, "%s %lu\n", k->name, *CFIELD(c, k, unsigned long));
}

static void
print_strlist(const struct conf *c, const struct key *k, FILE *fp)
{
	const struct strlist *l = CFIELD(c, k, struct strlist);
	struct pline p;
	int i;

	p.fp = fp;
	p.key = k->name;
	p.words = 0;
	for (i = 0; i < l->n; i++)
		pline_word(&p, l->v[i]);
	pline_end(&p);
}

static void
print_nets(const struct conf *c, const struct key *k, FILE *fp)
{
	const struct netlist *l = CFIELD(c, k, struct netlist);
	struct pline p;
	char buf[64];
	int i;

	p.fp = fp;
	p.key = k->name;
	p.words = 0;
	for (i = 0; i < l->n; i++) {
		netmask_format(&l->v[i], buf, sizeof(buf));
		pline_word(&p, buf);
	}
	pline_end(&p);
}

static void
print_lock(const struct conf *c, const struct key *k, FILE *fp)
{
	int bits = *CFIELD(c, k, int);
	size_t i;

	fputs(k->name, fp);
	for (i = 0; i < NELEM(lock_names); i++)
		if (bits & lock_names[i].bit)
			fprintf(fp, " %s", lock_names[i].name);
	putc('\n', fp);
}

static void
print_loglevel(const struct conf *c, const struct key *k, FILE *fp)
{
	fprintf(fp, "%s %s\n", k->name, log_level_name(*CFIELD(c, k, int)));
}

/* One line per route: a route line takes one domain. */
static void
print_routes(const struct conf *c, const struct key *k, FILE *fp)
{
	const struct strlist *l = CFIELD(c, k, struct strlist);
	int i;

	if (l->n == 0)
		fprintf(fp, "%s\n", k->name);
	for (i = 0; i < l->n; i++)
		fprintf(fp, "%s %s\n", k->name, l->v[i]);
}

static void
print_bool(const struct conf *c, const struct key *k, FILE *fp)
{
	fprintf(fp, "%s %s\n", k->name, *CFIELD(c, k, int) ? "yes" : "no");
}

static void
free_str(struct conf *c, const struct key *k)
{
	char **p = FIELD(c, k, char *);

	free(*p);
	*p = NULL;
}

static void
free_strlist(struct conf *c, const struct key *k)
{
	strlist_free(FIELD(c, k, struct strlist));
}

static void
free_nets(struct conf *c, const struct key *k)
{
	netlist_free(FIELD(c, k, struct netlist));
}

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/*
 * Split a line into words at spaces and tabs ("\r" too: a file edited
 * on another system may end its lines with CR LF).  A word starting
 * with "#" starts a comment.  Returns the count, or -1 if there are
 * more than max.
 */
static int
split(char *s, char **w, int max)
{
	int n;

	n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			*s++ = '\0';
		if (*s == '\0' || *s == '#')
			return n;
		if (n == max)
			return -1;
		w[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
			s++;
	}
}

static void
conf_line(struct ctx *x, char *line)
{
	char *w[CONF_WORDS_MAX];
	const struct key *k;
	int nw;

	if ((nw = split(line, w, CONF_WORDS_MAX)) < 0) {
		conf_err(x, "too many words (more than %d)", CONF_WORDS_MAX);
		return;
	}
	if (nw == 0)
		return;
	if ((k = key_find(w[0])) == NULL) {
		conf_err(x, "unknown key \"%.*s\"", QUOTE_MAX, w[0]);
		return;
	}
	k->type->set(x, k, w + 1, nw - 1);
}

#define LINE_OK		0
#define LINE_LONG	1
#define LINE_NUL	2
#define LINE_CTRL	3

/*
 * Read one line without its newline into buf (size CONF_LINE_MAX + 1).
 * Returns -1 at the end of the file, else a LINE_* verdict; a bad line is
 * read to its end so the next one starts in the right place.  getc, not
 * fgets: fgets cannot tell a NUL byte from the end of the line.
 */
static int
read_line(FILE *fp, char *buf)
{
	size_t n;
	int ch, verdict, any;

	n = 0;
	any = 0;
	verdict = LINE_OK;
	while ((ch = getc(fp)) != EOF) {
		any = 1;
		if (ch == '\n')
			break;
		if (ch == '\0')
			verdict = LINE_NUL;
		else if ((ch < 32 && ch != '\t' && ch != '\r') || ch == 127) {
			if (verdict == LINE_OK)
				verdict = LINE_CTRL;
		} else if (n == CONF_LINE_MAX) {
			if (verdict == LINE_OK)
				verdict = LINE_LONG;
		} else
			buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	return any ? verdict : -1;
}

static void
conf_lines(struct ctx *x, FILE *fp)
{
	char buf[CONF_LINE_MAX + 1];
	int verdict;

	while ((verdict = read_line(fp, buf)) >= 0) {
		x->line++;
		if (verdict == LINE_LONG)
			conf_err(x, "line longer than %d bytes",
			    CONF_LINE_MAX);
		else if (verdict == LINE_NUL)
			conf_err(x, "NUL byte in line");
		else if (verdict == LINE_CTRL)
			conf_err(x, "control character in line");
		else
			conf_line(x, buf);
	}
}

int
conf_read(struct conf *c, const char *path, int optional)
{
	unsigned char seen[NELEM(keys)];
	struct ctx x;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		if (optional && errno == ENOENT)
			return 0;
		warn("%s: %s", path, strerror(errno));
		return 1;
	}
	memset(seen, 0, sizeof(seen));
	x.c = c;
	x.file = path;
	x.line = 0;
	x.errors = 0;
	x.seen = seen;
	conf_lines(&x, fp);
	if (ferror(fp)) {
		warn("%s: read error after line %d: %s", path, x.line,
		    strerror(errno));
		x.errors++;
	}
	fclose(fp);
	free(c->file);
	c->file = xstrdup(path);
	return x.errors;
}

/* dir + "/" + rel, for the sandbox layout. */
static char *
path_join(const char *dir, const char *rel)
{
	size_t len, n;
	char *p;
	int r;

	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	n = len + 1 + strlen(rel) + 1;
	p = xmalloc(n);
	r = snprintf(p, n, "%.*s/%s", (int)len, dir, rel);
	if (r < 0 || (size_t)r >= n)
		panic("path_join: buffer too small");
	return p;
}

static void
default_listen(struct strlist *l, const char *v4, const char *v6)
{
	strlist_add(l, v4);
#ifdef HAVE_IPV6
	/* net.c sets IPV6_V6ONLY, so both can be bound */
	strlist_add(l, v6);
#else
	(void)v6;
#endif
}

static void
default_nets(struct netlist *l)
{
	static const char *const nets[] = { "127.0.0.0/8", "::1" };
	struct netmask m;
	size_t i;

	for (i = 0; i < NELEM(nets); i++) {
		if (netmask_parse(nets[i], &m) < 0)
			panic("default network %s does not parse", nets[i]);
		netlist_add(l, &m);
	}
}

static void
conf_sandbox(struct conf *c, const char *dir)
{
	c->sandbox = xstrdup(dir);
	strlist_add(&c->smtp_listen, SANDBOX_SMTP);
	strlist_add(&c->submission_listen, SANDBOX_SUBMISSION);
	strlist_add(&c->pop3_listen, SANDBOX_POP3);
	strlist_add(&c->imap_listen, SANDBOX_IMAP);
	c->spool_dir = path_join(dir, SANDBOX_SPOOL);
	c->queue_dir = path_join(dir, SANDBOX_QUEUE);
	c->passwd_file = path_join(dir, SANDBOX_PASSWD);
	c->aliases_file = path_join(dir, SANDBOX_ALIASES);
	c->pid_file = path_join(dir, SANDBOX_PIDFILE);
	c->log_file = path_join(dir, SANDBOX_LOG);
}

static void
conf_system(struct conf *c)
{
	default_listen(&c->smtp_listen, "0.0.0.0:25", "[::]:25");
	default_listen(&c->submission_listen, "0.0.0.0:587", "[::]:587");
	default_listen(&c->pop3_listen, "0.0.0.0:110", "[::]:110");
	default_listen(&c->imap_listen, "0.0.0.0:143", "[::]:143");
	c->spool_dir = xstrdup(SPOOLDIR);
	c->queue_dir = xstrdup(QUEUEDIR);
	c->passwd_file = xstrdup(PASSWD_FILE);
	c->aliases_file = xstrdup(SYSTEM_ALIASES);
	c->pid_file = xstrdup(PID_FILE);
	c->log_file = NULL;
}

struct conf *
conf_new(const char *sandbox)
{
	static const struct conf zero;	/* NULL pointers, portably */
	struct conf *c;

	c = xmalloc(sizeof(*c));
	*c = zero;
	if (sandbox != NULL)
		conf_sandbox(c, sandbox);
	else
		conf_system(c);
	c->home_mail_dir = xstrdup("mail");
	c->user = xstrdup(YUBIN_USER);
	/* local_domains stays empty: the host names are added at use */
	default_nets(&c->relay_networks);
	default_nets(&c->plaintext_networks);
	c->message_size_limit = MESSAGE_SIZE_LIMIT;
	/* a small FD_SETSIZE (some systems have 256, or less) wins */
	c->max_connections = MAX_CONNECTIONS < CONN_MAX ?
	    MAX_CONNECTIONS : (int)CONN_MAX;
	c->max_connections_per_ip = MAX_CONNECTIONS_PER_IP < CONN_MAX ?
	    MAX_CONNECTIONS_PER_IP : (int)CONN_MAX;
	c->smtp_timeout = SMTP_TIMEOUT;
	c->pop3_timeout = POP3_TIMEOUT;
	c->imap_timeout = IMAP_TIMEOUT;
	c->lock_methods = LOCK_DOTLOCK | LOCK_LOCKF;
	c->lock_timeout = LOCK_TIMEOUT;
	c->lock_stale = LOCK_STALE;
	c->log_level = LOG_INFO;
	/* relayhost, routes and dns_servers start empty (NULL) */
	c->relay_port = RELAY_PORT;
	c->relay_max = RELAY_MAX < CONN_MAX ? RELAY_MAX : (int)CONN_MAX;
	c->relay_max_per_host = RELAY_MAX_PER_HOST < c->relay_max ?
	    RELAY_MAX_PER_HOST : c->relay_max;
	c->queue_lifetime = (int)QUEUE_LIFETIME;
	c->resolv_conf = xstrdup(RESOLV_CONF);
	c->sender_login_check = 1;
	return c;
}

/*
 * The canonical name of a short host name, or NULL.  Asked at most once
 * per process: a resolver that does not answer would otherwise stall
 * the loop on every SIGHUP.
 */
static const char *
canonical_name(const char *shortname)
{
	static char *asked, *answer;
	struct addrinfo hints, *res;

	if (asked != NULL)
		return strcmp(asked, shortname) == 0 ? answer : NULL;
	asked = xstrdup(shortname);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(shortname, NULL, &hints, &res) != 0)
		return NULL;
	if (res != NULL && res->ai_canonname != NULL &&
	    strchr(res->ai_canonname, '.') != NULL &&
	    check_host(res->ai_canonname) == NULL)
		answer = xstrdup(res->ai_canonname);
	freeaddrinfo(res);
	return answer;
}

/* This host's name, fully qualified if the system knows how. */
static char *
host_default(void)
{
	char name[256 + 1];
	const char *canon;

	if (gethostname(name, sizeof(name) - 1) != 0)
		return NULL;
	name[sizeof(name) - 1] = '\0';	/* truncation leaves no NUL */
	if (name[0] == '\0')
		return NULL;
	if (strchr(name, '.') == NULL &&
	    (canon = canonical_name(name)) != NULL)
		return xstrdup(canon);
	return xstrdup(name);
}

/*
 * Report every listener after entry i of key ka that has the same
 * address and port as it.  Returns the number found.
 */
static int
listen_clashes(const struct conf *c, const char *where,
    const struct key *ka, int i)
{
	const struct strlist *la = CFIELD(c, ka, struct strlist);
	const struct strlist *lb;
	const struct key *kb;
	int j, errors;

	errors = 0;
	for (kb = ka; kb < keys + NELEM(keys); kb++) {
		if (kb->type != &t_listen)
			continue;
		lb = CFIELD(c, kb, struct strlist);
		for (j = (kb == ka ? i + 1 : 0); j < lb->n; j++)
			if (strcmp(la->v[i], lb->v[j]) == 0) {
				warn("%s: %s and %s both listen on %s",
				    where, ka->name, kb->name, la->v[i]);
				errors++;
			}
	}
	return errors;
}

/*
 * Two listeners on the same address and port cannot both be bound;
 * tell the admin now rather than at bind time.  Port 0 is exempt: the
 * kernel gives each its own port.
 */
static int
check_listeners(const struct conf *c, const char *where)
{
	const struct strlist *l;
	const struct key *k;
	int i, errors;

	errors = 0;
	for (k = keys; k < keys + NELEM(keys); k++) {
		if (k->type != &t_listen)
			continue;
		l = CFIELD(c, k, struct strlist);
		for (i = 0; i < l->n; i++)
			if (strcmp(strrchr(l->v[i], ':'), ":0") != 0)
				errors += listen_clashes(c, where, k, i);
	}
	return errors;
}

int
conf_finish(struct conf *c)
{
	const char *where;
	int errors;

	where = c->file != NULL ? c->file : "configuration";
	errors = 0;
	if (c->hostname == NULL && (c->hostname = host_default()) == NULL) {
		warn("%s: cannot find this host's name: set hostname", where);
		errors++;
	}
	if (c->max_connections_per_ip > c->max_connections) {
		warn("%s: max_connections_per_ip (%d) is more than "
		    "max_connections (%d)", where, c->max_connections_per_ip,
		    c->max_connections);
		errors++;
	}
	if (c->relay_max_per_host > c->relay_max) {
		warn("%s: relay_max_per_host (%d) is more than relay_max (%d)",
		    where, c->relay_max_per_host, c->relay_max);
		errors++;
	}
	errors += check_listeners(c, where);
	return errors;
}

void
conf_print(const struct conf *c, FILE *fp)
{
	size_t i;

	for (i = 0; i < NELEM(keys); i++)
		keys[i].type->print(c, &keys[i], fp);
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NELEM(keys); i++)
		if (keys[i].type->release != NULL)
			keys[i].type->release(c, &keys[i]);
	free(c->file);
	free(c->sandbox);
	free(c);
}

struct conf *
conf_load(const char *sandbox, const char *conffile, char *path,
    size_t pathlen)
{
	char sdir[1024], cwd[900];
	struct conf *c;
	int r, errs;

	r = 0;
	if (sandbox != NULL && sandbox[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return NULL;
		r = snprintf(sdir, sizeof(sdir), "%s/%s", cwd, sandbox);
	} else if (sandbox != NULL)
		r = snprintf(sdir, sizeof(sdir), "%s", sandbox);
	if (r < 0 || (size_t)r >= sizeof(sdir))
		return NULL;
	if (conffile != NULL)
		r = snprintf(path, pathlen, "%s", conffile);
	else if (sandbox != NULL)
		r = snprintf(path, pathlen, "%s/%s", sdir, SANDBOX_CONF);
	else
		r = snprintf(path, pathlen, "%s", CONF_FILE);
	if (r < 0 || (size_t)r >= pathlen)
		return NULL;
	c = conf_new(sandbox != NULL ? sdir : NULL);
	/* The default file may be absent (all defaults); a named one not. */
	errs = conf_read(c, path, conffile == NULL);
	errs += conf_finish(c);
	if (errs > 0) {
		warn("%s: %d error%s in the configuration", path, errs,
		    errs == 1 ? "" : "s");
		conf_free(c);
		return NULL;
	}
	return c;
}

int
conf_hostport(const char *s, char *host, size_t hlen, unsigned *port)
{
	const char *colon, *h;
	unsigned long p;
	size_t n;

	if (s == NULL)
		return -1;
	h = s;
	if (s[0] == '[') {
		/* the brackets stay: "[192.0.2.1]" is not a name to look up */
		if ((colon = strchr(s, ']')) == NULL)
			return -1;
		colon++;
		n = (size_t)(colon - h);
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(colon - h);
	}
	if (*colon != ':' || n == 0 || n >= hlen ||
	    parse_ulong(colon + 1, 65535, &p) < 0 || p == 0)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (unsigned)p;
	return 0;
}

int
conf_route(const struct conf *c, const char *domain, char *host,
    size_t hlen, unsigned *port)
{
	size_t dlen = strlen(domain);
	int i;

	for (i = 0; i < c->routes.n; i++)
		if (ascii_ncasecmp(c->routes.v[i], domain, dlen) == 0 &&
		    c->routes.v[i][dlen] == ' ')
			return conf_hostport(c->routes.v[i] + dlen + 1, host,
			    hlen, port) == 0;
	return 0;
}

int
conf_relayhost(const struct conf *c, char *host, size_t hlen,
    unsigned *port)
{
	return c->relayhost != NULL &&
	    conf_hostport(c->relayhost, host, hlen, port) == 0;
}

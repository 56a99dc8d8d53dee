/*
 * sendmail.c - the sendmail(1) interface: what mailx, mutt and cron run
 * to send mail (invoked as sendmail, yubin-sendmail, mailq or
 * newaliases).  This is a short-lived client process, not the daemon,
 * so it may block.
 *
 * A message goes to the running daemon over SMTP on the loopback, which
 * answers 250 only once every copy is on disk.  If the daemon is not
 * running (or refuses for now), the message is written, fsynced, into
 * the queue's maildrop directory, where the daemon picks it up when it
 * runs next: mail given to sendmail is never lost.  If neither works,
 * the exit status says so (EX_TEMPFAIL) and the caller keeps the mail
 * (mailx writes dead.letter).
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netdb.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "aliases.h"
#include "buf.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "msg.h"
#include "pickup.h"
#include "queue.h"
#include "rfc822.h"
#include "sendmail.h"
#include "util.h"

/* sysexits.h values (not in C89 or POSIX.1-1990). */
#define EX_OK		0
#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_NOUSER	67
#define EX_UNAVAILABLE	69
#define EX_SOFTWARE	70
#define EX_OSERR	71
#define EX_IOERR	74
#define EX_TEMPFAIL	75
#define EX_NOPERM	77
#define EX_CONFIG	78

#define SUBMIT_TIMEOUT	600	/* seconds for the whole SMTP dialogue */

struct opts {
	int		mode;		/* 'm' deliver, 'p' mailq, 'i' newaliases,
					 * 's' SMTP on stdin, 'q' run queue */
	int		extract;	/* -t */
	int		dot_ends;	/* no -i: a lone "." ends the input */
	int		verbose;
	const char	*sender;	/* -f / -r */
	const char	*fullname;	/* -F */
	const char	*conffile;	/* -C */
	const char	*sandbox;	/* -S */
	struct strlist	rcpts;
};

static const char *progname = "sendmail";

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-t] [-i] [-f sender] [-F name] [-bm|-bs|"
	    "-bp|-bi] [-q] [-C conf] [-S dir] [-o opt] [-v] [--] "
	    "[recipient ...]\n", progname);
	exit(EX_USAGE);
}

/* An option's argument: attached ("-fuser") or the next word. */
static const char *
optarg_of(char **argv, int *i, const char *rest)
{
	if (*rest != '\0')
		return rest;
	if (argv[*i + 1] == NULL)
		usage();
	return argv[++*i];
}

/*
 * The flags sendmail takes, those mailx/cron/mutt pass included.  Flags
 * without an argument may be clustered ("-ti"); a flag with one takes
 * the rest of its word or the next word ("-fuser", "-f user").
 */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	const char *a;
	int i;

	(void)argc;
	for (i = 1; argv[i] != NULL && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		for (a = argv[i] + 1; *a != '\0'; a++) {
			switch (*a) {
			case 't': o->extract = 1; continue;
			case 'i': o->dot_ends = 0; continue;
			case 'v': o->verbose = 1; continue;
			case 'U': case 'G': case 'm': case 'n': case 'e':
				continue;	/* accepted for compatibility */
			case 'f': case 'r':
				o->sender = optarg_of(argv, &i, a + 1);
				break;
			case 'F': o->fullname = optarg_of(argv, &i, a + 1); break;
			case 'C': o->conffile = optarg_of(argv, &i, a + 1); break;
			case 'S': o->sandbox = optarg_of(argv, &i, a + 1); break;
			case 'q': o->mode = 'q'; break;	/* -q, -q30m */
			case 'b':
				if (a[1] == '\0' || strchr("mspi", a[1]) == NULL ||
				    a[2] != '\0')
					usage();
				o->mode = a[1];
				break;
			case 'o':
				/* -oi is -i; -oem -odi -odb -oQdir: accepted */
				if (a[1] == 'i' && a[2] == '\0')
					o->dot_ends = 0;
				else if (a[1] == '\0')
					(void)optarg_of(argv, &i, a + 1);
				break;
			case 'N': case 'R': case 'V': case 'B': case 'L':
			case 'h': case 'O': case 'X':
				(void)optarg_of(argv, &i, a + 1);	/* ignored */
				break;
			default:
				usage();
			}
			break;		/* the rest of the word was an argument */
		}
	}
	for (; argv[i] != NULL; i++)
		if (rfc822_addresses(argv[i], strlen(argv[i]), &o->rcpts) < 0) {
			fprintf(stderr, "%s: bad address: %s\n", progname,
			    argv[i]);
			exit(EX_USAGE);
		}
	return 0;
}

static const char *
login_name(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw != NULL ? pw->pw_name : "nobody";
}

/* Whether a is an address RFC 5321 would take in a path. */
static int
address_ok(const char *a)
{
	char path[MSG_ADDR_MAX + 2];
	const char *end;
	struct addr p;

	if (snprintf(path, sizeof(path), "<%s>", a) >= (int)sizeof(path))
		return 0;
	return addr_parse_path(path, &p, &end, 0) == 0 && *end == '\0';
}

/* "user" -> "user@hostname"; addresses with a domain stay as they are. */
static void
qualify(const char *a, char *out, size_t len)
{
	int r;

	if (strchr(a, '@') != NULL || a[0] == '\0')
		r = snprintf(out, len, "%s", a);
	else
		r = snprintf(out, len, "%s@%s", a, config->hostname);
	if (r < 0 || (size_t)r >= len) {
		fprintf(stderr, "%s: address too long: %s\n", progname, a);
		exit(EX_DATAERR);
	}
}

/*
 * Read the message from stdin into m->data in canonical form (LF line
 * ends).  Without -i a line holding only "." ends it.  Returns the exit
 * code on failure, 0 on success.
 */
static int
read_message(struct buf *in, int dot_ends)
{
	char line[8192];
	size_t len;
	int at_bol = 1;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strlen(line);
		if (at_bol && dot_ends &&
		    (strcmp(line, ".\n") == 0 || strcmp(line, ".\r\n") == 0))
			break;
		at_bol = line[len - 1] == '\n';
		if (len >= 2 && line[len - 2] == '\r' && at_bol) {
			line[len - 2] = '\n';
			len--;
		}
		if (buf_used(in) + len > config->message_size_limit) {
			fprintf(stderr, "%s: message larger than %lu bytes\n",
			    progname, config->message_size_limit);
			return EX_DATAERR;
		}
		if (buf_append(in, line, len) < 0) {
			fprintf(stderr, "%s: out of memory\n", progname);
			return EX_OSERR;
		}
	}
	if (ferror(stdin)) {
		fprintf(stderr, "%s: reading the message: %s\n", progname,
		    strerror(errno));
		return EX_IOERR;
	}
	if (buf_used(in) > 0 && in->data[in->len - 1] != '\n' &&
	    buf_append(in, "\n", 1) < 0)
		return EX_OSERR;
	return 0;
}

/* A header field name: printable, no space, ended by ':'. */
static int
is_field_start(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == ':')
			return i > 0;
		if (p[i] <= ' ' || p[i] >= 127)
			return 0;
	}
	return 0;
}

struct hdrinfo {
	int		has_from, has_date, has_msgid;
	struct strlist	extracted;	/* -t: To, Cc, Bcc */
};

/* One whole field (with its continuation lines) from p[0..n). */
static int
take_field(struct hdrinfo *h, const char *p, size_t n, int extract,
    struct buf *out)
{
	size_t body;

	if (rfc822_field(p, n, "From") != 0)
		h->has_from = 1;
	else if (rfc822_field(p, n, "Date") != 0)
		h->has_date = 1;
	else if (rfc822_field(p, n, "Message-ID") != 0)
		h->has_msgid = 1;
	if (extract && ((body = rfc822_field(p, n, "To")) != 0 ||
	    (body = rfc822_field(p, n, "Cc")) != 0 ||
	    (body = rfc822_field(p, n, "Bcc")) != 0) &&
	    rfc822_addresses(p + body, n - body, &h->extracted) < 0) {
		fprintf(stderr, "%s: bad address in header: %.*s", progname,
		    (int)(n > 200 ? 200 : n), p);
		return -1;
	}
	/* Blind copies are blind: the field never leaves this host. */
	if (rfc822_field(p, n, "Bcc") != 0)
		return 0;
	return buf_append(out, p, n);
}

/*
 * Split in into header and body, collecting what -t needs and what is
 * missing; the header (without Bcc) goes to hdr, and *bodyp points at
 * the body (after the blank line, or at the first line that is no
 * header field).
 */
static int
scan_header(struct buf *in, int extract, struct hdrinfo *h, struct buf *hdr,
    const char **bodyp)
{
	const char *p = buf_ptr(in), *end = p + buf_used(in), *nl, *f;

	/* An mbox From_ line in front is an envelope, not a header. */
	if (end - p >= 5 && memcmp(p, "From ", 5) == 0 &&
	    (nl = memchr(p, '\n', (size_t)(end - p))) != NULL)
		p = nl + 1;
	while (p < end && *p != '\n' &&
	    is_field_start(p, (size_t)(end - p))) {
		f = p;
		do {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		if (take_field(h, f, (size_t)(p - f), extract, hdr) < 0)
			return -1;
	}
	if (p < end && *p == '\n')
		p++;
	*bodyp = p;
	return 0;
}

static int
build_message(const struct opts *o, struct buf *in, const char *sender,
    struct hdrinfo *h, struct msg *m)
{
	struct buf hdr;
	const char *body, *name;
	struct passwd *pw;
	char date[64], full[256];
	size_t i;
	int e = 0;

	buf_init(&hdr, 0);
	if (scan_header(in, o->extract, h, &hdr, &body) < 0)
		return EX_DATAERR;
	if (rfc822_date(time(NULL), date, sizeof(date)) < 0)
		return EX_SOFTWARE;
	e |= buf_printf(&m->data, "Received: by %s (yubin-sendmail, from "
	    "userid %ld)\n\tid %s; %s\n", config->hostname, (long)getuid(),
	    m->id, date);
	if (!h->has_from) {
		name = o->fullname;
		if (name == NULL && (pw = getpwuid(getuid())) != NULL &&
		    pw->pw_gecos != NULL) {
			/* the GECOS full name ends at the first comma */
			strlcpy(full, pw->pw_gecos, sizeof(full));
			for (i = 0; full[i] != '\0' && full[i] != ','; i++)
				;
			full[i] = '\0';
			name = full;
		}
		if (name != NULL && name[0] != '\0' &&
		    strpbrk(name, "\"\\\r\n") == NULL)
			e |= buf_printf(&m->data, "From: \"%s\" <%s>\n", name,
			    sender[0] ? sender : "MAILER-DAEMON");
		else
			e |= buf_printf(&m->data, "From: <%s>\n",
			    sender[0] ? sender : "MAILER-DAEMON");
	}
	if (!h->has_date)
		e |= buf_printf(&m->data, "Date: %s\n", date);
	if (!h->has_msgid)
		e |= buf_printf(&m->data, "Message-ID: <%s@%s>\n", m->id,
		    config->hostname);
	e |= buf_append(&m->data, buf_ptr(&hdr), buf_used(&hdr));
	e |= buf_append(&m->data, "\n", 1);
	e |= buf_append(&m->data, body,
	    (size_t)(buf_ptr(in) + buf_used(in) - body));
	buf_free(&hdr);
	return e ? EX_OSERR : 0;
}

/* --- handing the message to the daemon over SMTP --- */

static void
on_alarm(int sig)
{
	static const char msg[] = "sendmail: timed out talking to yubind\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(EX_TEMPFAIL);
}

/*
 * A sandbox may listen on port 0 (any): the ports it really bound are in
 * DIR/run/ports as "smtp ADDR PORT" lines.
 */
static int
sandbox_listener(char *spec, size_t len)
{
	char path[1100], line[256], proto[32], host[128];
	unsigned long port;
	FILE *fp;
	int r = -1;

	if (snprintf(path, sizeof(path), "%s/%s", config->sandbox,
	    SANDBOX_PORTSFILE) >= (int)sizeof(path) ||
	    (fp = fopen(path, "r")) == NULL)
		return -1;
	while (r < 0 && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%31s %127s %lu", proto, host, &port) == 3 &&
		    strcmp(proto, "smtp") == 0)
			r = snprintf(spec, len, strchr(host, ':') ? "[%s]:%lu" :
			    "%s:%lu", host, port) < (int)len ? 0 : -1;
	fclose(fp);
	return r;
}

/*
 * The daemon may listen only on a LAN address (a lab host's 10.x.y.z:25),
 * which relay_networks (loopback by default) does not cover: a local
 * submission then comes from the loopback address all the same, so it
 * may relay like any program on this host.  If the bind fails, the
 * kernel picks the address as usual.
 */
static void
from_loopback(int fd, int family)
{
	struct sockaddr_in in4;
#ifdef HAVE_IPV6
	struct sockaddr_in6 in6;
#endif

	if (family == AF_INET) {
		memset(&in4, 0, sizeof(in4));
		in4.sin_family = AF_INET;
		in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		(void)bind(fd, (struct sockaddr *)&in4, sizeof(in4));
	}
#ifdef HAVE_IPV6
	else if (family == AF_INET6) {
		memset(&in6, 0, sizeof(in6));
		in6.sin6_family = AF_INET6;
		in6.sin6_addr = in6addr_loopback;
		(void)bind(fd, (struct sockaddr *)&in6, sizeof(in6));
	}
#endif
}

/* Connect to the first SMTP listener of the running daemon. */
static int
daemon_connect(void)
{
	struct addrinfo hints, *ai, *a;
	char host[128], port[16], found[200];
	const char *spec, *colon;
	size_t hlen;
	int fd = -1;

	if (config->sandbox != NULL &&
	    sandbox_listener(found, sizeof(found)) == 0)
		spec = found;
	else if (config->smtp_listen.n > 0)
		spec = config->smtp_listen.v[0];
	else
		return -1;
	if ((colon = strrchr(spec, ':')) == NULL)
		return -1;
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[') {
		spec++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host) || strlen(colon + 1) >= sizeof(port))
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	strlcpy(port, colon + 1, sizeof(port));
	/* A wildcard listener is reached on the loopback. */
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
		strlcpy(host, "127.0.0.1", sizeof(host));
	else if (strcmp(host, "::") == 0)
		strlcpy(host, "::1", sizeof(host));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	for (a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (fd >= 0)
			from_loopback(fd, a->ai_family);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* Read one (possibly multi-line) reply; its code, or -1. */
static int
read_reply(FILE *fp, char *text, size_t len, int verbose)
{
	char line[1024];

	for (;;) {
		if (fgets(line, sizeof(line), fp) == NULL || strlen(line) < 4)
			return -1;
		if (verbose)
			fprintf(stderr, "<<< %s", line);
		strlcpy(text, line, len);
		if (line[3] != '-')
			return atoi(line);
	}
}

static int
command(FILE *out, FILE *in, char *text, size_t len, int verbose,
    const char *fmt, const char *arg)
{
	if (verbose) {
		fprintf(stderr, ">>> ");
		fprintf(stderr, fmt, arg);
		fprintf(stderr, "\n");
	}
	fprintf(out, fmt, arg);
	fprintf(out, "\r\n");
	if (fflush(out) != 0)
		return -1;
	return read_reply(in, text, len, verbose);
}

/* The text, CRLF line ends, dot-stuffed (RFC 5321 4.5.2). */
static int
send_text(FILE *out, const struct buf *data)
{
	const char *p = buf_ptr(data), *end = p + buf_used(data), *nl;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (*p == '.')
			putc('.', out);
		fwrite(p, 1, (size_t)(nl - p), out);
		fputs("\r\n", out);
		p = nl + 1;
	}
	fputs(".\r\n", out);
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/*
 * Hand m to the daemon.  Recipients it could not take now (no daemon, a
 * 4xx, a lost connection) are added to later, for the maildrop.  Returns
 * EX_OK, EX_NOUSER (some recipients refused for good: reported), or
 * EX_DATAERR (the sender or the message refused for good: reported).
 */
static int
submit_smtp(const struct opts *o, struct msg *m, const struct strlist *r,
    struct strlist *later)
{
	struct strlist acc;
	char text[1024];
	FILE *in, *out;
	int fd, code, i, ret = EX_OK;

	memset(&acc, 0, sizeof(acc));
	alarm(SUBMIT_TIMEOUT);
	if ((fd = daemon_connect()) < 0)
		goto all_later;
	if ((in = fdopen(fd, "r")) == NULL ||
	    (out = fdopen(dup(fd), "w")) == NULL) {
		close(fd);
		goto all_later;
	}
	if (read_reply(in, text, sizeof(text), o->verbose) != 220 ||
	    command(out, in, text, sizeof(text), o->verbose, "EHLO %s",
	    "localhost") != 250)
		goto quit_all_later;
	code = command(out, in, text, sizeof(text), o->verbose,
	    "MAIL FROM:<%s>", m->sender);
	if (code >= 500) {
		fprintf(stderr, "%s: sender <%s> refused: %s", progname,
		    m->sender, text);
		ret = EX_DATAERR;
		goto quit;
	}
	if (code != 250)
		goto quit_all_later;
	for (i = 0; i < r->n; i++) {
		code = command(out, in, text, sizeof(text), o->verbose,
		    "RCPT TO:<%s>", r->v[i]);
		if (code == 250 || code == 251)
			strlist_add(&acc, r->v[i]);
		else if (code >= 500) {
			fprintf(stderr, "%s: %s... %s", progname, r->v[i], text);
			ret = EX_NOUSER;
		} else if (code < 0)
			goto quit_all_later;	/* what was accepted too */
		else
			strlist_add(later, r->v[i]);	/* 4xx: this one later */
	}
	if (acc.n == 0)
		goto quit;
	code = command(out, in, text, sizeof(text), o->verbose, "DATA%s", "");
	if (code == 354 && send_text(out, &m->data) == 0)
		code = read_reply(in, text, sizeof(text), o->verbose);
	if (code >= 500) {
		fprintf(stderr, "%s: message refused: %s", progname, text);
		ret = EX_DATAERR;
	} else if (code != 250)
		for (i = 0; i < acc.n; i++)	/* not taken: all later */
			strlist_add(later, acc.v[i]);
quit:
	fputs("QUIT\r\n", out);
	fclose(out);
	fclose(in);
	strlist_free(&acc);
	alarm(0);
	return ret;
quit_all_later:
	fputs("QUIT\r\n", out);
	fclose(out);
	fclose(in);
all_later:
	for (i = 0; i < r->n; i++)
		strlist_add(later, r->v[i]);
	strlist_free(&acc);
	alarm(0);
	return EX_OK;
}

/* --- the modes --- */

static int
mode_deliver(struct opts *o)
{
	struct hdrinfo h;
	struct buf in;
	struct strlist all, later;
	char addr[MSG_ADDR_MAX];
	struct msg *m;
	int i, r;

	if ((m = msg_new()) == NULL)
		return EX_OSERR;
	msg_make_id(m->id, sizeof(m->id));
	if (o->sender != NULL && (strcmp(o->sender, "<>") == 0 ||
	    o->sender[0] == '\0'))
		m->sender[0] = '\0';
	else {
		qualify(o->sender != NULL ? o->sender : login_name(),
		    m->sender, sizeof(m->sender));
		if (!address_ok(m->sender)) {
			fprintf(stderr, "%s: bad sender address: %s\n",
			    progname, m->sender);
			return EX_USAGE;
		}
	}
	buf_init(&in, 0);
	memset(&h, 0, sizeof(h));
	memset(&all, 0, sizeof(all));
	if ((r = read_message(&in, o->dot_ends)) != 0 ||
	    (r = build_message(o, &in, m->sender, &h, m)) != 0)
		return r;
	/* Postfix's way: -t adds the header recipients to the others. */
	for (i = 0; i < o->rcpts.n + h.extracted.n; i++) {
		qualify(i < o->rcpts.n ? o->rcpts.v[i] :
		    h.extracted.v[i - o->rcpts.n], addr, sizeof(addr));
		if (!address_ok(addr)) {
			fprintf(stderr, "%s: bad recipient address: %s\n",
			    progname, addr);
			return EX_USAGE;
		}
		strlist_add(&all, addr);
	}
	if (all.n == 0) {
		fprintf(stderr, "%s: no recipients\n", progname);
		return EX_USAGE;
	}
	memset(&later, 0, sizeof(later));
	r = submit_smtp(o, m, &all, &later);
	if (later.n > 0) {
		if (maildrop_write(m, &later) < 0) {
			fprintf(stderr, "%s: yubind is not running and the "
			    "maildrop %s/%s cannot take the message: %s\n",
			    progname, config->queue_dir, MAILDROP_DIR,
			    strerror(errno));
			return EX_TEMPFAIL;
		}
		if (o->verbose)
			fprintf(stderr, "%s: %d recipient%s left for yubind in "
			    "the maildrop as %s\n", progname, later.n,
			    later.n == 1 ? "" : "s", m->id);
	}
	return r;
}

static int
mode_queue_run(void)
{
	long pid;

	if ((pid = pidfile_read(config->pid_file)) < 0) {
		fprintf(stderr, "%s: yubind is not running (%s)\n", progname,
		    config->pid_file);
		return EX_UNAVAILABLE;
	}
	if (kill((pid_t)pid, SIGUSR1) < 0) {
		fprintf(stderr, "%s: cannot signal yubind (pid %ld): %s\n",
		    progname, pid, strerror(errno));
		return errno == EPERM ? EX_NOPERM : EX_UNAVAILABLE;
	}
	return EX_OK;
}

static int
mode_newaliases(void)
{
	struct aliases *a;
	int nerr = 0;

	if ((a = aliases_load(config->aliases_file, &nerr)) == NULL)
		return EX_CONFIG;
	aliases_free(a);
	if (nerr > 0) {
		fprintf(stderr, "%s: %s: %d error%s\n", progname,
		    config->aliases_file, nerr, nerr == 1 ? "" : "s");
		return EX_CONFIG;
	}
	printf("%s: %s is fine (yubind reads it again whenever it changes)\n",
	    progname, config->aliases_file);
	return EX_OK;
}

/* -bs: the session is the daemon's; we only carry the bytes. */
static int
mode_smtp(void)
{
	char buf[8192];
	fd_set rs;
	ssize_t n;
	int fd, maxfd, in_open = 1;

	if ((fd = daemon_connect()) < 0) {
		printf("421 4.3.0 yubind is not running\r\n");
		return EX_TEMPFAIL;
	}
	maxfd = fd > 0 ? fd : 0;
	for (;;) {
		FD_ZERO(&rs);
		FD_SET(fd, &rs);
		if (in_open)
			FD_SET(0, &rs);
		if (select(maxfd + 1, &rs, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			return EX_OSERR;
		}
		if (FD_ISSET(fd, &rs)) {
			if ((n = read(fd, buf, sizeof(buf))) <= 0)
				return EX_OK;
			if (write(1, buf, (size_t)n) != n)
				return EX_IOERR;
		}
		if (in_open && FD_ISSET(0, &rs)) {
			if ((n = read(0, buf, sizeof(buf))) <= 0) {
				in_open = 0;
				(void)shutdown(fd, 1);
			} else if (write(fd, buf, (size_t)n) != n)
				return EX_IOERR;
		}
	}
}

static int
load_config(const struct opts *o)
{
	char path[1024];

	config = conf_load(o->sandbox, o->conffile, path, sizeof(path));
	return config != NULL ? 0 : -1;
}

int
sendmail_main(int argc, char **argv, int mode)
{
	struct opts o;
	const char *slash;
	int r;

	if ((slash = strrchr(argv[0], '/')) != NULL)
		progname = slash + 1;
	else
		progname = argv[0];
	memset(&o, 0, sizeof(o));
	o.mode = mode;
	o.dot_ends = 1;
	parse_opts(argc, argv, &o);
	log_open(progname, LOG_TO_STDERR, NULL);
	if (load_config(&o) < 0)
		return EX_CONFIG;
	log_set_level(LOG_WARNING);
	/* Only the dialogue with the daemon is timed: reading the message
	 * takes as long as the program writing it (cron) takes. */
	signal(SIGALRM, on_alarm);
	/* A daemon that closes the connection (421 after too many errors,
	 * a stop) must not kill us halfway: the write fails, and what was
	 * not taken goes to the maildrop. */
	signal(SIGPIPE, SIG_IGN);
	switch (o.mode) {
	case 'p':
		r = queue_list(stdout) < 0 ? EX_NOPERM : EX_OK;
		if (r != EX_OK)
			fprintf(stderr, "%s: cannot read the queue %s: %s\n",
			    progname, config->queue_dir, strerror(errno));
		return r;
	case 'i':
		return mode_newaliases();
	case 'q':
		return mode_queue_run();
	case 's':
		return mode_smtp();
	default:
		return mode_deliver(&o);
	}
}

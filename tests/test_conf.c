/*
 * test_conf.c - unit tests for conf.c: defaults, every key type, list
 * semantics, error messages with their line numbers, conf_print()
 * round trips, and the sample file shipped in doc/.
 *
 * Errors are captured by logging to a file (log_open LOG_TO_FILE) and
 * searching it.  Exits 0 when every check passes, 1 otherwise; each
 * failed check is printed as file:line.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#ifdef HAVE_SYS_SELECT_H
#include <sys/select.h>
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "check.h"

/* conf_new() lowers the default where select() cannot watch enough. */
#define CONN_MAX	((int)(FD_SETSIZE - FD_RESERVE))
#define DEF_CONN	\
	(MAX_CONNECTIONS < CONN_MAX ? MAX_CONNECTIONS : CONN_MAX)

static char dir[1024];
static char logpath[1100];

/* CHECK() for a line number other than our own (helpers' callers). */
static void
check_at(int ok, const char *what, int line)
{
	check_run++;
	if (!ok) {
		check_failed++;
		fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, line, what);
	}
}

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* A private directory: mkdir() fails if the name is taken. */
static void
make_dir(void)
{
	const char *tmp;
	int i, r;

	if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] != '/')
		tmp = "/tmp";
	for (i = 0; i < 100; i++) {
		r = snprintf(dir, sizeof(dir), "%s/test_conf.%ld.%d", tmp,
		    (long)getpid(), i);
		if (r < 0 || (size_t)r >= sizeof(dir)) {
			fprintf(stderr, "TMPDIR too long\n");
			exit(1);
		}
		if (mkdir(dir, 0700) == 0)
			return;
		if (errno != EEXIST)
			break;
	}
	fprintf(stderr, "cannot make a directory under %s\n", tmp);
	exit(1);
}

/* The path of name in our directory (a static buffer per call slot). */
static const char *
tpath(const char *name)
{
	static char buf[4][1100];
	static int slot;
	char *p;
	int r;

	p = buf[slot++ % 4];
	r = snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	if (r < 0 || (size_t)r >= sizeof(buf[0])) {
		fprintf(stderr, "path too long\n");
		exit(1);
	}
	return p;
}

static const char *
write_file(const char *name, const char *text, size_t len)
{
	const char *path = tpath(name);
	FILE *fp;

	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(text, 1, len, fp) != len || fclose(fp) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	return path;
}

/* Start a fresh capture of warn() output. */
static void
log_fresh(void)
{
	remove(logpath);
	if (log_open("test_conf", LOG_TO_FILE, logpath) < 0) {
		fprintf(stderr, "cannot open %s\n", logpath);
		exit(1);
	}
}

/* Whether the captured log holds "file:line: text". */
static int
logged(const char *file, int line, const char *text)
{
	static char buf[65536];
	char want[2048];
	FILE *fp;
	size_t n;

	if (line > 0)
		sprintf(want, "%.900s:%d: %.900s", file, line, text);
	else
		sprintf(want, "%.900s: %.900s", file, text);
	if ((fp = fopen(logpath, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, want) != NULL;
}

#define LOGGED(f, l, t)	check_at(logged(f, l, t), t, __LINE__)

/* Read text as a configuration on top of the defaults. */
static struct conf *
conf_text(const char *sandbox, const char *text, int *errors)
{
	struct conf *c;
	const char *path;

	path = write_file("t.conf", text, strlen(text));
	c = conf_new(sandbox);
	*errors = conf_read(c, path, 0);
	return c;
}

static int
has_net(const struct netlist *l, const char *addr)
{
	struct netmask m;

	if (netmask_parse(addr, &m) < 0)
		return -1;
	return netlist_match(l, m.family, m.addr);
}

static void
test_defaults(void)
{
	struct conf *c = conf_new(NULL);

	CHECK(c->file == NULL && c->sandbox == NULL && c->hostname == NULL);
#ifdef HAVE_IPV6
	CHECK(c->smtp_listen.n == 2 && streq(c->smtp_listen.v[1], "[::]:25"));
#else
	CHECK(c->smtp_listen.n == 1);
#endif
	CHECK(streq(c->smtp_listen.v[0], "0.0.0.0:25"));
	CHECK(streq(c->submission_listen.v[0], "0.0.0.0:587"));
	CHECK(streq(c->pop3_listen.v[0], "0.0.0.0:110"));
	CHECK(streq(c->imap_listen.v[0], "0.0.0.0:143"));
	CHECK(streq(c->spool_dir, SPOOLDIR));
	CHECK(streq(c->queue_dir, QUEUEDIR));
	CHECK(streq(c->home_mail_dir, "mail"));
	CHECK(streq(c->passwd_file, PASSWD_FILE));
	CHECK(streq(c->aliases_file, SYSTEM_ALIASES));
	CHECK(streq(c->pid_file, PID_FILE));
	CHECK(c->log_file == NULL);
	CHECK(streq(c->user, YUBIN_USER));
	CHECK(c->local_domains.n == 0);
	CHECK(c->relay_networks.n == 2);
	CHECK(has_net(&c->relay_networks, "127.1.2.3") == 1);
	CHECK(has_net(&c->relay_networks, "::1") == 1);
	CHECK(has_net(&c->relay_networks, "10.0.0.1") == 0);
	CHECK(has_net(&c->plaintext_networks, "127.0.0.1") == 1);
	CHECK(has_net(&c->plaintext_networks, "::1") == 1);
	CHECK(c->message_size_limit == MESSAGE_SIZE_LIMIT);
	CHECK(c->max_connections == DEF_CONN);
	CHECK(c->max_connections_per_ip <= c->max_connections);
	CHECK(c->smtp_timeout == SMTP_TIMEOUT);
	CHECK(c->pop3_timeout == POP3_TIMEOUT);
	CHECK(c->imap_timeout == IMAP_TIMEOUT);
	CHECK(c->lock_methods == (LOCK_DOTLOCK | LOCK_LOCKF));
	CHECK(c->lock_timeout == LOCK_TIMEOUT);
	CHECK(c->lock_stale == LOCK_STALE);
	CHECK(c->log_level == LOG_INFO);
	CHECK(c->relayhost == NULL);
	CHECK(c->routes.n == 0);
	CHECK(c->relay_port == 25);
	CHECK(c->relay_max == (100 < CONN_MAX ? 100 : CONN_MAX));
	CHECK(c->relay_max_per_host == 20);
	CHECK(c->queue_lifetime == 5 * 86400);
	CHECK(streq(c->resolv_conf, "/etc/resolv.conf"));
	CHECK(c->dns_servers.n == 0);
	CHECK(c->sender_login_check == 1);
	conf_free(c);
}

static void
test_sandbox(void)
{
	struct conf *c;
	int i;

	for (i = 0; i < 2; i++) {
		/* a trailing slash must not double up in the paths */
		c = conf_new(i == 0 ? "/sb" : "/sb/");
		CHECK(c->sandbox != NULL);
		CHECK(c->smtp_listen.n == 1 &&
		    streq(c->smtp_listen.v[0], "127.0.0.1:2525"));
		CHECK(c->submission_listen.n == 1 &&
		    streq(c->submission_listen.v[0], "127.0.0.1:2587"));
		CHECK(c->pop3_listen.n == 1 &&
		    streq(c->pop3_listen.v[0], "127.0.0.1:1110"));
		CHECK(c->imap_listen.n == 1 &&
		    streq(c->imap_listen.v[0], "127.0.0.1:1143"));
		CHECK(streq(c->spool_dir, "/sb/mail"));
		CHECK(streq(c->queue_dir, "/sb/queue"));
		CHECK(streq(c->passwd_file, "/sb/etc/yubin.passwd"));
		CHECK(streq(c->aliases_file, "/sb/etc/aliases"));
		CHECK(streq(c->pid_file, "/sb/run/yubind.pid"));
		CHECK(streq(c->log_file, "/sb/log/yubind.log"));
		CHECK(streq(c->home_mail_dir, "mail"));
		CHECK(c->max_connections == DEF_CONN);
		/* outbound mail: the system's resolver, MX hosts on 25 */
		CHECK(c->relayhost == NULL && c->routes.n == 0);
		CHECK(c->relay_port == 25);
		CHECK(streq(c->resolv_conf, "/etc/resolv.conf"));
		CHECK(c->dns_servers.n == 0);
		CHECK(c->sender_login_check == 1);
		conf_free(c);
	}
}

/* A value for every key, none the default (one string is too long
 * for C89: 509 characters). */
static const char *const every_key_lines[] = {
	"hostname mail.example.org\n",
	"smtp_listen *:0 [::1]:2525\n",
	"submission_listen 127.0.0.1:0\n",
	"pop3_listen 10.1.2.3:110\n",
	"imap_listen [::]:143\n",
	"spool_dir /var/spool/mail\n",
	"queue_dir /q\n",
	"home_mail_dir Mail/folders\n",
	"passwd_file /p\n",
	"aliases_file /a\n",
	"pid_file /r/y.pid\n",
	"log_file /l/y.log\n",
	"user mailer\n",
	"local_domains example.org Example.NET mail-1.example.org\n",
	"relay_networks 192.168.0.0/16 2001:db8::/32\n",
	"plaintext_networks 10.0.0.1\n",
	"message_size_limit 5M\n",
	"max_connections 20\n",
	"max_connections_per_ip 3\n",
	"smtp_timeout 1\n",
	"pop3_timeout 86400\n",
	"imap_timeout 31\n",
	"lock flock lockf dotlock\n",
	"lock_timeout 7\n",
	"lock_stale 8\n",
	"log_level debug\n",
	"relayhost [192.0.2.1]:2525\n",
	"route b.example MX.B.example:26\n",
	"route C.Example [IPv6:2001:db8::5]\n",
	"relay_port 2526\n",
	"relay_max 7\n",
	"relay_max_per_host 3\n",
	"queue_lifetime 3600\n",
	"resolv_conf /etc/r.conf\n",
	"dns_servers 127.0.0.1:5353 ::1 [2001:db8::53]:54 10.0.0.53\n",
	"sender_login_check no\n"
};
static char every_key[4096];

static void
every_key_init(void)
{
	size_t i;

	every_key[0] = '\0';
	for (i = 0; i < NELEM(every_key_lines); i++)
		strcat(every_key, every_key_lines[i]);
}

static void
test_types(void)
{
	struct conf *c;
	int errors;

	c = conf_text(NULL, every_key, &errors);
	CHECK(errors == 0);
	CHECK(streq(c->file, tpath("t.conf")));
	CHECK(streq(c->hostname, "mail.example.org"));
	CHECK(c->smtp_listen.n == 2);
	CHECK(streq(c->smtp_listen.v[0], "0.0.0.0:0"));
	CHECK(streq(c->smtp_listen.v[1], "[::1]:2525"));
	CHECK(c->submission_listen.n == 1 &&
	    streq(c->submission_listen.v[0], "127.0.0.1:0"));
	CHECK(streq(c->pop3_listen.v[0], "10.1.2.3:110"));
	CHECK(streq(c->imap_listen.v[0], "[::]:143"));
	CHECK(streq(c->spool_dir, "/var/spool/mail"));
	CHECK(streq(c->queue_dir, "/q"));
	CHECK(streq(c->home_mail_dir, "Mail/folders"));
	CHECK(streq(c->passwd_file, "/p"));
	CHECK(streq(c->aliases_file, "/a"));
	CHECK(streq(c->pid_file, "/r/y.pid"));
	CHECK(streq(c->log_file, "/l/y.log"));
	CHECK(streq(c->user, "mailer"));
	CHECK(c->local_domains.n == 3);
	CHECK(strlist_has_nocase(&c->local_domains, "example.net"));
	CHECK(c->relay_networks.n == 2);
	CHECK(has_net(&c->relay_networks, "192.168.7.7") == 1);
	CHECK(has_net(&c->relay_networks, "2001:db8:1::5") == 1);
	CHECK(has_net(&c->relay_networks, "127.0.0.1") == 0);
	CHECK(c->plaintext_networks.n == 1);
	CHECK(has_net(&c->plaintext_networks, "10.0.0.1") == 1);
	CHECK(has_net(&c->plaintext_networks, "10.0.0.2") == 0);
	CHECK(c->message_size_limit == 5UL * 1024 * 1024);
	CHECK(c->max_connections == 20);
	CHECK(c->max_connections_per_ip == 3);
	CHECK(c->smtp_timeout == 1);
	CHECK(c->pop3_timeout == 86400);
	CHECK(c->imap_timeout == 31);
	CHECK(c->lock_methods == (LOCK_DOTLOCK | LOCK_LOCKF | LOCK_FLOCK));
	CHECK(c->lock_timeout == 7);
	CHECK(c->lock_stale == 8);
	CHECK(c->log_level == LOG_DEBUG);
	CHECK(streq(c->relayhost, "[192.0.2.1]:2525"));
	CHECK(c->routes.n == 2);
	CHECK(streq(c->routes.v[0], "b.example mx.b.example:26"));
	CHECK(streq(c->routes.v[1], "c.example [2001:db8::5]:25"));
	CHECK(c->relay_port == 2526);
	CHECK(c->relay_max == 7);
	CHECK(c->relay_max_per_host == 3);
	CHECK(c->queue_lifetime == 3600);
	CHECK(streq(c->resolv_conf, "/etc/r.conf"));
	CHECK(c->dns_servers.n == 4);
	CHECK(streq(c->dns_servers.v[0], "127.0.0.1:5353"));
	CHECK(streq(c->dns_servers.v[1], "[::1]:53"));
	CHECK(streq(c->dns_servers.v[2], "[2001:db8::53]:54"));
	CHECK(streq(c->dns_servers.v[3], "10.0.0.53:53"));
	CHECK(c->sender_login_check == 0);
	CHECK(conf_finish(c) == 0);
	CHECK(streq(c->hostname, "mail.example.org"));
	conf_free(c);
}

static void
test_sizes(void)
{
	static const struct {
		const char	*text;
		unsigned long	want;
	} t[] = {
		{ "message_size_limit 1024\n", 1024UL },
		{ "message_size_limit 1k\n", 1024UL },
		{ "message_size_limit 1K\n", 1024UL },
		{ "message_size_limit 10240000\n", 10240000UL },
		{ "message_size_limit 3m\n", 3UL * 1024 * 1024 },
		{ "message_size_limit 2G\n", 2048UL * 1024 * 1024 },
		{ "message_size_limit 2048M\n", 2048UL * 1024 * 1024 }
	};
	struct conf *c;
	size_t i;
	int errors;

	for (i = 0; i < NELEM(t); i++) {
		c = conf_text(NULL, t[i].text, &errors);
		CHECK(errors == 0 && c->message_size_limit == t[i].want);
		conf_free(c);
	}
}

static void
test_lists(void)
{
	struct conf *c;
	const char *second;
	int errors;

	/* the first line replaces the default, later lines append */
	c = conf_text(NULL,
	    "smtp_listen 127.0.0.1:1\n"
	    "relay_networks 10.0.0.0/8\n"
	    "smtp_listen 127.0.0.1:2 127.0.0.1:3\n"
	    "relay_networks 172.16.0.0/12\n"
	    "local_domains a.example\n"
	    "local_domains b.example A.EXAMPLE\n"
	    "imap_listen\n"
	    "pop3_listen\n"
	    "pop3_listen 127.0.0.1:110\n"
	    "hostname\n", &errors);
	CHECK(errors == 0);
	CHECK(c->smtp_listen.n == 3);
	CHECK(streq(c->smtp_listen.v[0], "127.0.0.1:1"));
	CHECK(streq(c->smtp_listen.v[2], "127.0.0.1:3"));
	CHECK(c->relay_networks.n == 2);
	CHECK(has_net(&c->relay_networks, "127.0.0.1") == 0);
	CHECK(has_net(&c->relay_networks, "172.17.0.1") == 1);
	CHECK(c->local_domains.n == 2);	/* a.example once, any case */
	CHECK(c->imap_listen.n == 0);	/* bare key: off */
	CHECK(c->pop3_listen.n == 1);
	CHECK(c->submission_listen.n >= 1);	/* untouched default */
	CHECK(c->hostname == NULL);

	/* a second file replaces again on its first line of a key */
	second = write_file("second.conf", "smtp_listen 127.0.0.1:9\n",
	    strlen("smtp_listen 127.0.0.1:9\n"));
	CHECK(conf_read(c, second, 0) == 0);
	CHECK(c->smtp_listen.n == 1 &&
	    streq(c->smtp_listen.v[0], "127.0.0.1:9"));
	CHECK(c->relay_networks.n == 2);
	CHECK(streq(c->file, second));
	conf_free(c);

	/* port 0 twice is two listeners, the kernel picks the ports */
	c = conf_text(NULL, "hostname h.example\nsubmission_listen "
	    "127.0.0.1:0 127.0.0.1:0\nsmtp_listen 127.0.0.1:0\n", &errors);
	CHECK(errors == 0 && c->submission_listen.n == 2);
	CHECK(conf_finish(c) == 0);
	conf_free(c);

	/* bare log_file means none, even in a sandbox */
	c = conf_text("/sb", "log_file\n", &errors);
	CHECK(errors == 0 && c->log_file == NULL);
	conf_free(c);
}

static void
test_comments(void)
{
	char text[CONF_LINE_MAX + 2];
	struct conf *c;
	int errors;

	/* a line of exactly CONF_LINE_MAX bytes is not too long */
	memset(text, ' ', CONF_LINE_MAX);
	memcpy(text, "imap_timeout 3", 14);
	strcpy(text + CONF_LINE_MAX, "\n");
	c = conf_text(NULL, text, &errors);
	CHECK(errors == 0 && c->imap_timeout == 3);
	conf_free(c);

	c = conf_text(NULL,
	    "# a comment\n"
	    "\n"
	    "   \t  \n"
	    "\t# an indented comment\n"
	    "smtp_timeout 5 # after a value\n"
	    "pop3_timeout\t6\t#tab\n"
	    "imap_timeout 7\r\n"
	    "  lock_stale   9  \n"
	    "hostname a#b.example\n"
	    "lock_timeout 11", &errors);	/* no final newline */
	CHECK(errors == 1);	/* "#" inside a word is not a comment */
	CHECK(c->smtp_timeout == 5);
	CHECK(c->pop3_timeout == 6);
	CHECK(c->imap_timeout == 7);
	CHECK(c->lock_stale == 9);
	CHECK(c->lock_timeout == 11);
	conf_free(c);
}

/* Each bad line of this file, and the message it must produce. */
static const struct {
	const char	*line;
	const char	*msg;
} bad[] = {
	{ "smtp_lisen 127.0.0.1:25", "unknown key \"smtp_lisen\"" },
	{ "max_connections 10x", "max_connections: \"10x\" is not a number" },
	{ "max_connections 0", "max_connections: \"0\" is out of range" },
	{ "max_connections -5", "max_connections: \"-5\" is not a number" },
	{ "max_connections 99999999999999999999999",
	    "max_connections: \"99999999999999999999999\" is out of range" },
	{ "smtp_timeout 86401", "smtp_timeout: \"86401\" is out of range" },
	{ "lock_stale", "lock_stale: missing value" },
	{ "smtp_listen 1.2.3.4", "smtp_listen: \"1.2.3.4\" has no port" },
	{ "smtp_listen 1.2.3.4:70000",
	    "smtp_listen: \"1.2.3.4:70000\" has a bad port" },
	{ "smtp_listen [::1:25", "smtp_listen: \"[::1:25\" has no closing" },
	{ "smtp_listen host:abc", "smtp_listen: \"host:abc\" has a bad port" },
	{ "smtp_listen host:25", "smtp_listen: \"host:25\" has a bad address" },
	{ "smtp_listen 1.2.3.4:", "smtp_listen: \"1.2.3.4:\" has a bad port" },
	{ "imap_listen ::1:143", "imap_listen: \"::1:143\" is an IPv6" },
	{ "imap_listen [1.2.3.4]:143",
	    "imap_listen: \"[1.2.3.4]:143\" has a bad address" },
	{ "pop3_listen 127.0.0.1:110 127.0.0.1:110",
	    "pop3_listen: \"127.0.0.1:110\" is listed twice" },
	{ "relay_networks 10.0.0.0/33",
	    "relay_networks: \"10.0.0.0/33\" is not a network" },
	{ "plaintext_networks localhost",
	    "plaintext_networks: \"localhost\" is not a network" },
	{ "lock dotlock none", "lock: \"none\" is not a lock method" },
	{ "lock lockf lockf", "lock: \"lockf\" is given twice" },
	{ "lock", "lock: missing value" },
	{ "spool_dir var/mail",
	    "spool_dir: \"var/mail\" is not an absolute path" },
	{ "home_mail_dir /home/mail", "home_mail_dir: \"/home/mail\" must be" },
	{ "home_mail_dir a/../../b", "home_mail_dir: \"a/../../b\" must not" },
	{ "user", "user: missing value" },
	{ "pid_file /a /b", "pid_file: takes one value, not 2" },
	{ "log_level loud", "log_level: \"loud\" is not a log level" },
	{ "message_size_limit 512",
	    "message_size_limit: \"512\" is out of range (1K..2G)" },
	{ "message_size_limit 3G", "message_size_limit: \"3G\" is out of" },
	{ "message_size_limit 5T", "message_size_limit: \"5T\" is not a" },
	{ "message_size_limit M", "message_size_limit: \"M\" is not a" },
	{ "hostname -bad.example", "hostname: \"-bad.example\" is not" },
	{ "hostname a..example", "hostname: \"a..example\" is not" },
	{ "local_domains ok.example bad@example",
	    "local_domains: \"bad@example\" is not" },
	{ "relayhost bad_host!", "relayhost: \"bad_host!\" is not a valid" },
	{ "relayhost smart.example:0", "relayhost: \"smart.example:0\" has a "
	    "bad port (1..65535)" },
	{ "relayhost smart.example:65536", "relayhost: \"smart.example:65536\" "
	    "has a bad port" },
	{ "relayhost smart.example:", "relayhost: \"smart.example:\" has a bad "
	    "port" },
	{ "relayhost [1.2.3]", "relayhost: \"[1.2.3]\" has a bad address "
	    "literal" },
	{ "relayhost [::1", "relayhost: \"[::1\" has no closing" },
	{ "relayhost [::1]x", "relayhost: \"[::1]x\" has junk after" },
	{ "relayhost 2001:db8::1", "relayhost: \"2001:db8::1\" is an IPv6" },
	{ "relayhost a.example b.example", "relayhost: takes one value, not 2" },
	{ "route example.org", "route: takes a domain and a host" },
	{ "route a.example b.example c.example",
	    "route: takes a domain and a host" },
	{ "route *.example mx.example", "route: domain \"*.example\" is not" },
	{ "route .example mx.example", "route: domain \".example\" is not" },
	{ "route a.example mx.example:x", "route: \"mx.example:x\" has a bad "
	    "port" },
	{ "dns_servers ns.example", "dns_servers: \"ns.example\" is not a "
	    "numeric address" },
	{ "dns_servers 127.0.0.1:0", "dns_servers: \"127.0.0.1:0\" has a bad "
	    "port" },
	{ "dns_servers 127.0.0.1 127.0.0.1:53",
	    "dns_servers: \"127.0.0.1:53\" is listed twice" },
	{ "queue_lifetime 59", "queue_lifetime: \"59\" is out of range "
	    "(60..31536000)" },
	{ "queue_lifetime 5d", "queue_lifetime: \"5d\" is not a number" },
	{ "sender_login_check maybe", "sender_login_check: \"maybe\" is not "
	    "yes or no" },
	{ "sender_login_check", "sender_login_check: missing value" },
	{ "relay_port 0", "relay_port: \"0\" is out of range (1..65535)" },
	{ "relay_max 0", "relay_max: \"0\" is out of range" },
	{ "relay_max_per_host x", "relay_max_per_host: \"x\" is not a number" },
	{ "resolv_conf etc/resolv.conf", "resolv_conf: \"etc/resolv.conf\" is "
	    "not an absolute path" }
};

static void
test_errors(void)
{
	char text[16384], *p;
	const char *path;
	struct conf *c;
	size_t i;
	int line, n;

	p = text;
	p += sprintf(p, "# errors, one per line, and good lines between\n");
	for (i = 0; i < NELEM(bad); i++)
		p += sprintf(p, "%s\n", bad[i].line);
	line = (int)NELEM(bad) + 2;
	p += sprintf(p, "smtp_listen");			/* too many words */
	for (i = 0; i < CONF_WORDS_MAX; i++)
		p += sprintf(p, " 127.0.0.%d:25", (int)i + 1);
	p += sprintf(p, "\n");
	for (i = 0; i <= CONF_LINE_MAX; i++)		/* overlong */
		*p++ = (i % 10) ? 'x' : ' ';
	p += sprintf(p, "\nsmtp_timeout 4");
	*p++ = '\0';					/* a NUL byte */
	p += sprintf(p, "2\nsmtp_timeout 1\001\n");	/* a control char */
	p += sprintf(p, "pop3_timeout 42\n");	/* good: reading went on */
	path = write_file("bad.conf", text, (size_t)(p - text));
	log_fresh();
	c = conf_new(NULL);
	n = conf_read(c, path, 0);
	CHECK(n == (int)NELEM(bad) + 4);
	for (i = 0; i < NELEM(bad); i++)
		LOGGED(path, (int)i + 2, bad[i].msg);
	LOGGED(path, line, "too many words");
	LOGGED(path, line + 1, "line longer than");
	LOGGED(path, line + 2, "NUL byte");
	LOGGED(path, line + 3, "control character");
	CHECK(c->pop3_timeout == 42);
	CHECK(c->smtp_timeout == SMTP_TIMEOUT);
	CHECK(c->lock_methods == (LOCK_DOTLOCK | LOCK_LOCKF));
	/* the good word of a list line with a bad one is kept */
	CHECK(strlist_has_nocase(&c->local_domains, "ok.example"));
	conf_free(c);
}

static void
test_finish(void)
{
	struct conf *c;
	int errors;

	c = conf_text(NULL, "hostname h.example\nmax_connections 10\n"
	    "max_connections_per_ip 11\n", &errors);
	CHECK(errors == 0);
	log_fresh();
	CHECK(conf_finish(c) == 1);
	LOGGED(tpath("t.conf"), 0, "max_connections_per_ip (11) is more");
	conf_free(c);

	c = conf_text(NULL, "hostname h.example\nsmtp_listen 127.0.0.1:25\n"
	    "submission_listen 127.0.0.1:25 127.0.0.1:0\n"
	    "pop3_listen 127.0.0.1:0\n", &errors);
	CHECK(errors == 0);
	CHECK(conf_finish(c) == 1);
	LOGGED(tpath("t.conf"), 0, "smtp_listen and submission_listen");
	conf_free(c);

	c = conf_text(NULL, "hostname h.example\nrelay_max 4\n"
	    "relay_max_per_host 5\n", &errors);
	CHECK(errors == 0);
	log_fresh();
	CHECK(conf_finish(c) == 1);
	LOGGED(tpath("t.conf"), 0, "relay_max_per_host (5) is more than "
	    "relay_max (4)");
	conf_free(c);

	/* no hostname: the system's name */
	c = conf_new("/sb");
	CHECK(conf_finish(c) == 0);
	CHECK(c->hostname != NULL && c->hostname[0] != '\0');
	conf_free(c);
}

static int
lists_equal(const struct strlist *a, const struct strlist *b)
{
	int i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!streq(a->v[i], b->v[i]))
			return 0;
	return 1;
}

static int
nets_equal(const struct netlist *a, const struct netlist *b)
{
	int i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->v[i].family != b->v[i].family ||
		    a->v[i].bits != b->v[i].bits ||
		    memcmp(a->v[i].addr, b->v[i].addr, 16) != 0)
			return 0;
	return 1;
}

/* Every key (not file and sandbox, which are not keys). */
static int
conf_equal(const struct conf *a, const struct conf *b)
{
	return streq(a->hostname, b->hostname) &&
	    lists_equal(&a->smtp_listen, &b->smtp_listen) &&
	    lists_equal(&a->submission_listen, &b->submission_listen) &&
	    lists_equal(&a->pop3_listen, &b->pop3_listen) &&
	    lists_equal(&a->imap_listen, &b->imap_listen) &&
	    streq(a->spool_dir, b->spool_dir) &&
	    streq(a->queue_dir, b->queue_dir) &&
	    streq(a->home_mail_dir, b->home_mail_dir) &&
	    streq(a->passwd_file, b->passwd_file) &&
	    streq(a->aliases_file, b->aliases_file) &&
	    streq(a->pid_file, b->pid_file) &&
	    streq(a->log_file, b->log_file) &&
	    streq(a->user, b->user) &&
	    lists_equal(&a->local_domains, &b->local_domains) &&
	    nets_equal(&a->relay_networks, &b->relay_networks) &&
	    nets_equal(&a->plaintext_networks, &b->plaintext_networks) &&
	    a->message_size_limit == b->message_size_limit &&
	    a->max_connections == b->max_connections &&
	    a->max_connections_per_ip == b->max_connections_per_ip &&
	    a->smtp_timeout == b->smtp_timeout &&
	    a->pop3_timeout == b->pop3_timeout &&
	    a->imap_timeout == b->imap_timeout &&
	    a->lock_methods == b->lock_methods &&
	    a->lock_timeout == b->lock_timeout &&
	    a->lock_stale == b->lock_stale &&
	    a->log_level == b->log_level &&
	    streq(a->relayhost, b->relayhost) &&
	    lists_equal(&a->routes, &b->routes) &&
	    a->relay_port == b->relay_port &&
	    a->relay_max == b->relay_max &&
	    a->relay_max_per_host == b->relay_max_per_host &&
	    a->queue_lifetime == b->queue_lifetime &&
	    streq(a->resolv_conf, b->resolv_conf) &&
	    lists_equal(&a->dns_servers, &b->dns_servers) &&
	    a->sender_login_check == b->sender_login_check;
}

/* Print a to a file and read it into fresh defaults (the other mode's,
 * to show every key is printed); the result must equal a. */
static void
round_trip(const struct conf *a, int line)
{
	static char t1[65536], t2[65536];
	struct conf *b;
	const char *path;
	FILE *fp;
	size_t n1, n2;

	path = tpath("printed.conf");
	if ((fp = fopen(path, "w")) == NULL)
		exit(1);
	conf_print(a, fp);
	fclose(fp);
	b = conf_new(a->sandbox != NULL ? NULL : "/elsewhere");
	check_at(conf_read(b, path, 0) == 0, "printed file reads", line);
	check_at(conf_equal(a, b), "round trip equal", line);
	fp = fopen(path, "r");
	n1 = fread(t1, 1, sizeof(t1), fp);
	fclose(fp);
	fp = fopen(path, "w");
	conf_print(b, fp);
	fclose(fp);
	fp = fopen(path, "r");
	n2 = fread(t2, 1, sizeof(t2), fp);
	fclose(fp);
	check_at(n1 == n2 && memcmp(t1, t2, n1) == 0,
	    "printed twice the same", line);
	conf_free(b);
}

static void
test_print(void)
{
	char text[8192], *p;
	struct conf *c;
	int errors, i;

	c = conf_new(NULL);
	round_trip(c, __LINE__);
	conf_free(c);
	c = conf_new("/sb");
	round_trip(c, __LINE__);
	conf_free(c);

	c = conf_text(NULL, every_key, &errors);
	round_trip(c, __LINE__);
	conf_free(c);

	/* long lists go on several lines; empty lists print bare */
	p = text;
	p += sprintf(p, "imap_listen\nrelay_networks\nlocal_domains");
	for (i = 0; i < 60; i++)
		p += sprintf(p, " host%d.a-rather-long-domain-name.example", i);
	p += sprintf(p, "\nsmtp_listen");
	for (i = 0; i < 40; i++)
		p += sprintf(p, " 127.0.0.1:%d", 1000 + i);
	p += sprintf(p, "\n");
	c = conf_text("/sb", text, &errors);
	CHECK(errors == 0 && c->local_domains.n == 60 &&
	    c->smtp_listen.n == 40 && c->imap_listen.n == 0);
	CHECK(conf_finish(c) == 0);
	round_trip(c, __LINE__);
	conf_free(c);
}

/* route lines, relayhost and the helpers the transport reads them with */
static void
test_routes(void)
{
	char host[256], tiny[4];
	const char *second;
	struct conf *c;
	unsigned port;
	int errors;

	c = conf_text(NULL,
	    "route a.example mx1.a.example\n"
	    "route b.example 127.0.0.1:2526\n"
	    "route A.EXAMPLE Mx2.A.Example:587\n"	/* replaces the first */
	    "route v6.example [::1]:26\n"
	    "relayhost Smart.Example\n", &errors);
	CHECK(errors == 0);
	CHECK(c->routes.n == 3);
	CHECK(streq(c->routes.v[0], "a.example mx2.a.example:587"));
	CHECK(streq(c->routes.v[1], "b.example [127.0.0.1]:2526"));
	CHECK(streq(c->relayhost, "smart.example:25"));
	port = 0;
	CHECK(conf_route(c, "a.example", host, sizeof(host), &port) == 1 &&
	    streq(host, "mx2.a.example") && port == 587);
	CHECK(conf_route(c, "B.Example", host, sizeof(host), &port) == 1 &&
	    streq(host, "[127.0.0.1]") && port == 2526);
	CHECK(conf_route(c, "v6.example", host, sizeof(host), &port) == 1 &&
	    streq(host, "[::1]") && port == 26);
	/* exact domains: no parent, no child, no prefix */
	CHECK(conf_route(c, "example", host, sizeof(host), &port) == 0);
	CHECK(conf_route(c, "x.a.example", host, sizeof(host), &port) == 0);
	CHECK(conf_route(c, "a.exampl", host, sizeof(host), &port) == 0);
	CHECK(conf_route(c, "a.example.org", host, sizeof(host), &port) == 0);
	CHECK(conf_route(c, "", host, sizeof(host), &port) == 0);
	CHECK(conf_route(c, "a.example", tiny, sizeof(tiny), &port) == 0);
	CHECK(conf_relayhost(c, host, sizeof(host), &port) == 1 &&
	    streq(host, "smart.example") && port == 25);

	/* a second file's first route line replaces the list */
	second = write_file("second.conf", "route c.example [10.0.0.1]\n"
	    "relayhost\n", strlen("route c.example [10.0.0.1]\nrelayhost\n"));
	CHECK(conf_read(c, second, 0) == 0);
	CHECK(c->routes.n == 1 && c->relayhost == NULL);
	CHECK(conf_route(c, "a.example", host, sizeof(host), &port) == 0);
	CHECK(conf_route(c, "c.example", host, sizeof(host), &port) == 1 &&
	    streq(host, "[10.0.0.1]") && port == 25);
	CHECK(conf_relayhost(c, host, sizeof(host), &port) == 0);
	conf_free(c);

	/* the key alone: no routes */
	c = conf_text(NULL, "route a.example b.example\nroute\n", &errors);
	CHECK(errors == 0 && c->routes.n == 1);
	conf_free(c);
	c = conf_text(NULL, "route\n", &errors);
	CHECK(errors == 0 && c->routes.n == 0);
	conf_free(c);

	/* conf_hostport on every stored form, and on what is not one */
	CHECK(conf_hostport("h.example:25", host, sizeof(host), &port) == 0 &&
	    streq(host, "h.example") && port == 25);
	CHECK(conf_hostport("[2001:db8::1]:2525", host, sizeof(host),
	    &port) == 0 && streq(host, "[2001:db8::1]") && port == 2525);
	CHECK(conf_hostport("10.0.0.53:53", host, sizeof(host), &port) == 0 &&
	    streq(host, "10.0.0.53") && port == 53);
	CHECK(conf_hostport("h.example", host, sizeof(host), &port) < 0);
	CHECK(conf_hostport("h.example:0", host, sizeof(host), &port) < 0);
	CHECK(conf_hostport("h.example:99999", host, sizeof(host), &port) < 0);
	CHECK(conf_hostport("[::1]", host, sizeof(host), &port) < 0);
	CHECK(conf_hostport("[::1:25", host, sizeof(host), &port) < 0);
	CHECK(conf_hostport(":25", host, sizeof(host), &port) < 0);
	CHECK(conf_hostport(NULL, host, sizeof(host), &port) < 0);
}

static void
test_missing(void)
{
	struct conf *c = conf_new(NULL);
	const char *path = tpath("no-such.conf");

	log_fresh();
	CHECK(conf_read(c, path, 1) == 0);
	CHECK(c->file == NULL);
	CHECK(conf_read(c, path, 0) == 1);
	LOGGED(path, 0, strerror(ENOENT));
	/* a directory is not a file, optional or not */
	CHECK(conf_read(c, dir, 1) >= 1);
	conf_free(c);
}

/*
 * doc/yubin.conf.sample must read cleanly as shipped (all commented out)
 * and with its "#key value" lines uncommented, and mention every key.
 */
static void
test_sample(void)
{
	static char text[65536], uncommented[65536];
	char path[2048], line[1024];
	const char *top;
	struct conf *c, *d;
	FILE *fp;
	char *p;
	size_t n;
	int errors;

	if ((top = getenv("top_srcdir")) == NULL) {
		printf("test_conf: top_srcdir unset, sample not checked\n");
		return;
	}
	sprintf(path, "%.1000s/doc/yubin.conf.sample", top);
	c = conf_new(NULL);
	CHECK(conf_read(c, path, 0) == 0);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	p = uncommented;
	for (n = 0; text[n] != '\0'; n++)	/* drop "#" before a key */
		if (!(text[n] == '#' && (n == 0 || text[n - 1] == '\n') &&
		    text[n + 1] >= 'a' && text[n + 1] <= 'z'))
			*p++ = text[n];
	*p = '\0';
	d = conf_text(NULL, uncommented, &errors);
	/* the sample shows max_connections 1000: too many for some select() */
	CHECK(errors == (CONN_MAX < MAX_CONNECTIONS));
	/* every key conf_print() knows is in the sample */
	fp = fopen(tpath("keys"), "w+");
	conf_print(c, fp);
	rewind(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, " \n")] = '\0';
		sprintf(path, "\n#%s", line);
		check_at(strstr(text, path) != NULL, line, __LINE__);
	}
	fclose(fp);
	conf_free(c);
	conf_free(d);
}

static void
cleanup(void)
{
	static const char *const names[] = { "t.conf", "second.conf",
	    "bad.conf", "printed.conf", "keys", "log" };
	size_t i;

	log_close();
	for (i = 0; i < NELEM(names); i++)
		remove(tpath(names[i]));
	rmdir(dir);
}

int
main(void)
{
	make_dir();
	every_key_init();
	sprintf(logpath, "%s/log", dir);
	log_fresh();
	test_defaults();
	test_sandbox();
	test_types();
	test_sizes();
	test_lists();
	test_comments();
	test_errors();
	test_finish();
	test_print();
	test_routes();
	test_missing();
	test_sample();
	cleanup();
	return check_exit("test_conf");
}

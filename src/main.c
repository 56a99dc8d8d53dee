/*
 * main.c - yubind's entry: options, the modes of the one binary
 * (daemon, foreground, sandbox, inetd, configuration check), signals,
 * and the main loop's start and end.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "conn.h"
#include "daemon.h"
#include "dns.h"
#include "ev.h"
#include "log.h"
#include "mailbox.h"
#include "net.h"
#include "pickup.h"
#include "proto.h"
#include "relay.h"
#include "sendmail.h"
#include "queue.h"
#include "resolve.h"
#include "util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

static char *sandbox;			/* absolute -S DIR */
static char conf_path[1024];
static const char *conf_file;		/* -f, or NULL */
static const struct proto *inetd_proto;
static int stopping;
static struct ev_timer grace;
static struct ev_timer drain;
static unsigned long drain_since;
static char ports_path[1024];

static void
usage(void)
{
	fprintf(stderr, "usage: yubind [-F] [-f conffile] [-S dir] "
	    "[-i smtp|submission|pop3|imap] [-n] [-t] [-V]\n"
	    "       yubind -P [-S dir] [-d] [user]\n");
	exit(64);	/* EX_USAGE */
}

static char *
absolute(const char *dir)
{
	char cwd[1024], *p;
	size_t n;

	if (dir[0] == '/')
		return xstrdup(dir);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd: %s", strerror(errno));
	n = strlen(cwd) + strlen(dir) + 2;
	p = xmalloc(n);
	if (path_join(p, n, cwd, dir) < 0)
		fatal("path too long: %s", dir);
	return p;
}

/* A sandbox makes what it needs under DIR; nothing needs root. */
static void
sandbox_dirs(const struct conf *cf)
{
	static const char *const sub[] = { "etc", "log", "run", "home" };
	char path[1024];
	size_t i;

	for (i = 0; i < NELEM(sub); i++) {
		if (path_join(path, sizeof(path), sandbox, sub[i]) < 0 ||
		    mkdirs(path, 0700) < 0)
			fatal("cannot create %s/%s: %s", sandbox, sub[i],
			    strerror(errno));
	}
	if (mkdirs(cf->spool_dir, 0700) < 0)
		fatal("cannot create %s: %s", cf->spool_dir, strerror(errno));
	if (mkdirs(cf->queue_dir, 0700) < 0)
		fatal("cannot create %s: %s", cf->queue_dir, strerror(errno));
}

static struct conf *
load_conf(void)
{
	return conf_load(sandbox, conf_file, conf_path, sizeof(conf_path));
}

static void
on_hup(int sig)
{
	struct conf *cf, *old;

	(void)sig;
	if (stopping || inetd_proto != NULL)
		return;
	log_notice("reloading %s", conf_path);
	if ((cf = load_conf()) == NULL) {
		warn("configuration not reloaded; the old one stays in force");
		return;
	}
	old = config;
	config = cf;
	log_set_level(cf->log_level);
	resolve_reset();
	if (dns_reload() < 0)
		warn("DNS servers not reloaded; the old ones stay");
	net_listen(cf, 1);
	conf_free(old);
	if (sandbox != NULL && net_write_ports(ports_path) < 0)
		warn("cannot write %s: %s", ports_path, strerror(errno));
}

/*
 * Leave the loop once no session is left and no mailbox is being
 * written: IMAP flag changes are written when a session ends, and a
 * clean stop must not lose them.  A rewrite still running after
 * SHUTDOWN_MAILBOX_MS is cut short; its recovery file makes that safe.
 */
static void
drain_check(void *arg)
{
	(void)arg;
	if (drain_since == 0)
		drain_since = now_ms();
	/* (a relay cut short would send its mail again at the next
	 * start: the remote host may already have it) */
	if (conn_count == 0 && mailbox_busy() == 0 && relay_active() == 0) {
		ev_break();
		return;
	}
	if (conn_count == 0 && now_ms() - drain_since >= SHUTDOWN_MAILBOX_MS) {
		warn("stopping with %d mailbox writes and %d relay connections "
		    "unfinished", mailbox_busy(), relay_active());
		ev_break();
		return;
	}
	if (ev_timer_set(&drain, 50) < 0)
		ev_break();
}

static void
grace_over(void *arg)
{
	struct conn *c, *next;

	(void)arg;
	for (c = conn_list; c != NULL; c = next) {
		next = c->next;
		conn_abort(c, "still open at shutdown");
	}
	drain_check(NULL);
}

static void
on_term(int sig)
{
	if (stopping)
		return;
	stopping = 1;
	log_notice("stopping on signal %d", sig);
	net_close_all();
	conn_shutdown_all();
	if (conn_count == 0)
		drain_check(NULL);
	else if (ev_timer_set(&grace, SHUTDOWN_GRACE_MS) < 0)
		ev_break();
}

static void
conn_freed(struct conn *c)
{
	(void)c;
	if ((stopping || inetd_proto != NULL) && conn_count == 0)
		(void)ev_timer_set(&drain, 0);
}

static void
on_usr1(int sig)
{
	(void)sig;
	log_info("queue run requested");
	queue_kick();
}

static void
setup_signals(void)
{
	ev_timer_init(&grace, grace_over, NULL);
	ev_timer_init(&drain, drain_check, NULL);
	if (ev_signal(SIGTERM, on_term) < 0 || ev_signal(SIGINT, on_term) < 0 ||
	    ev_signal(SIGHUP, on_hup) < 0 || ev_signal(SIGPIPE, NULL) < 0 ||
	    ev_signal(SIGUSR1, on_usr1) < 0)
		fatal("cannot set up signals: %s", strerror(errno));
}

/* inetd: one session on stdin/stdout, then exit (DESIGN.md modes). */
static void
run_inetd(void)
{
	unsigned char addr[16];
	char peer[64];
	int family;
	struct conn *c;

	if (net_peer(0, &family, addr, peer, sizeof(peer)) < 0) {
		family = 0;
		strlcpy(peer, "stdin", sizeof(peer));
	}
	log_info("%s: inetd session from %s", inetd_proto->name, peer);
	if ((c = conn_new(0, 1, inetd_proto, family, addr, peer)) == NULL)
		exit(1);
	c->flags |= CONN_NOSOCK;
	if (conn_count > 0)
		ev_run();
}

/* Under inetd, stderr is the client's socket: never log there. */
static int
stderr_is_socket(void)
{
#ifdef S_ISSOCK
	struct stat st;

	return fstat(2, &st) == 0 && S_ISSOCK(st.st_mode);
#else
	return 1;
#endif
}

static void
open_logs(int daemonized)
{
	char *file = sandbox != NULL ? config->log_file : NULL;
	int where;

	if (inetd_proto != NULL)	/* stderr is the client's socket */
		where = sandbox != NULL ? LOG_TO_FILE : LOG_TO_SYSLOG;
	else if (daemonized)
		where = LOG_TO_SYSLOG;
	else
		where = LOG_TO_STDERR | (sandbox != NULL ? LOG_TO_FILE : 0);
	if (config->log_file != NULL && sandbox == NULL) {
		file = config->log_file;
		where |= LOG_TO_FILE;
	}
	if (log_open("yubind", where, file) < 0)
		warn("cannot open log file %s: %s", file, strerror(errno));
	log_set_level(config->log_level);
}

/* The binary's other names (DESIGN.md "Modes of the one binary"). */
static int
name_mode(const char *argv0)
{
	const char *name = strrchr(argv0, '/');

	name = name != NULL ? name + 1 : argv0;
	/* send-mail: what BSD mailwrapper(8) calls */
	if (strcmp(name, "sendmail") == 0 || strcmp(name, "send-mail") == 0 ||
	    strcmp(name, "yubin-sendmail") == 0)
		return 'm';
	if (strcmp(name, "mailq") == 0)
		return 'p';
	if (strcmp(name, "newaliases") == 0)
		return 'i';
	if (strcmp(name, "yubin-passwd") == 0)
		return 'P';
	return 0;
}

int
main(int argc, char **argv)
{
	const char *conffile = NULL;
	int opt, foreground = 0, check = 0, print = 0, detach;

	/*
	 * Installed setuid root (only for yubin-passwd, as popauth was), the
	 * binary is a user's tool: every other mode gives root up at once.
	 */
	if (name_mode(argv[0]) != 'P' && geteuid() != getuid() &&
	    setuid(getuid()) < 0)
		return 1;
	switch (name_mode(argv[0])) {
	case 'm':
	case 'p':
	case 'i':
		return sendmail_main(argc, argv, name_mode(argv[0]));
	case 'P':
		return passwd_main(argc, argv);
	}
	/* yubind -P USER: the same as yubin-passwd USER */
	if (argc >= 2 && strcmp(argv[1], "-P") == 0) {
		argv[1] = argv[0];
		return passwd_main(argc - 1, argv + 1);
	}
	log_open("yubind", LOG_TO_STDERR, NULL);
	while ((opt = getopt(argc, argv, "f:FS:i:ntV")) != -1) {
		switch (opt) {
		case 'f': conffile = optarg; break;
		case 'F': foreground = 1; break;
		case 'S': sandbox = absolute(optarg); break;
		case 'i':
			if ((inetd_proto = proto_by_name(optarg)) == NULL)
				usage();
			break;
		case 'n': print = 1; break;
		case 't': check = 1; break;
		case 'V':
			printf("yubind (yubin) %s\n", PACKAGE_VERSION);
			return 0;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	conf_file = conffile;
	if (inetd_proto != NULL)	/* keep errors off the client's line */
		log_open("yubind", LOG_TO_SYSLOG |
		    (stderr_is_socket() ? 0 : LOG_TO_STDERR), NULL);
	if ((config = load_conf()) == NULL)
		return 1;
	if (check) {
		printf("%s: configuration OK\n", conf_path);
		return 0;
	}
	if (print) {
		conf_print(config, stdout);
		return 0;
	}
	if (sandbox != NULL)
		sandbox_dirs(config);
	detach = sandbox == NULL && !foreground && inetd_proto == NULL;
	open_logs(0);
	if (ev_init() < 0)
		fatal("cannot start the event loop: %s", strerror(errno));
	setup_signals();
	conn_on_close = net_conn_freed;
	conn_on_free = conn_freed;
	if (inetd_proto != NULL) {
		run_inetd();
		return 0;
	}
	net_listen(config, 0);
	if (detach) {
		if (daemon_detach() < 0)
			fatal("cannot become a daemon: %s", strerror(errno));
		open_logs(1);
	}
	if (pidfile_write(config->pid_file) < 0)
		warn("cannot write %s: %s", config->pid_file, strerror(errno));
	if (sandbox != NULL &&
	    (path_join(ports_path, sizeof(ports_path), sandbox,
	    SANDBOX_PORTSFILE) < 0 || net_write_ports(ports_path) < 0))
		fatal("cannot write the ports file in %s", sandbox);
	if (pickup_init() < 0)
		warn("cannot make the maildrop in %s: %s", config->queue_dir,
		    strerror(errno));
	queue_start();
	log_notice("yubind %s started%s%s", PACKAGE_VERSION,
	    sandbox ? " in sandbox " : "", sandbox ? sandbox : "");
	ev_run();
	pidfile_remove(config->pid_file);
	if (ports_path[0] != '\0')
		(void)unlink(ports_path);
	log_notice("yubind stopped");
	return 0;
}

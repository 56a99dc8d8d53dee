/*
 * conf.h - the configuration: yubin.conf(5) parsed into one structure.
 * Reading never half-applies: a new structure is filled and checked, and
 * only a complete one replaces the running one (SIGHUP).
 */
#ifndef YUBIN_CONF_H
#define YUBIN_CONF_H

#include <stdio.h>
#include "util.h"

/* lock methods, in the fixed order they are taken (DESIGN.md) */
#define LOCK_DOTLOCK	1
#define LOCK_LOCKF	2
#define LOCK_FLOCK	4

struct conf {
	char		*file;		/* file read, NULL if none */
	char		*sandbox;	/* -S DIR (absolute), or NULL */
	char		*hostname;
	struct strlist	smtp_listen;	/* "ADDR:PORT" or "[v6]:PORT" */
	struct strlist	submission_listen;
	struct strlist	pop3_listen;
	struct strlist	imap_listen;
	char		*spool_dir;
	char		*queue_dir;
	char		*home_mail_dir;	/* relative to the user's home */
	char		*passwd_file;
	char		*aliases_file;
	char		*pid_file;
	char		*log_file;	/* extra log file, NULL if none */
	char		*user;		/* unprivileged user */
	struct strlist	local_domains;
	struct netlist	relay_networks;
	struct netlist	plaintext_networks;
	unsigned long	message_size_limit;
	int		max_connections;
	int		max_connections_per_ip;
	int		smtp_timeout;	/* seconds */
	int		pop3_timeout;
	int		imap_timeout;
	int		lock_methods;	/* LOCK_* bits */
	int		lock_timeout;	/* seconds */
	int		lock_stale;	/* seconds */
	int		log_level;	/* LOG_ERR .. LOG_DEBUG */
};

/* The running configuration. */
extern struct conf *config;

/*
 * A configuration with every default filled in, the sandbox paths
 * included.  sandbox is the -S directory (absolute) or NULL.
 */
struct conf *conf_new(const char *sandbox);
/*
 * Read path into c.  Returns the number of errors; each is logged as
 * "file:line: message" with warn().  A missing file is an error unless
 * optional is set (then it counts as empty).
 */
int conf_read(struct conf *c, const char *path, int optional);
/*
 * Fill in the host name if none was set and check the keys against
 * each other; returns the number of errors, logged as above.
 */
int conf_finish(struct conf *c);
/*
 * The whole of loading, as every mode does it: sandbox (relative to the
 * current directory, or NULL) and conffile (or NULL: the sandbox's file
 * or SYSCONFDIR/yubin.conf, which may then be absent) pick the file;
 * its name is left in path.  NULL if it has errors (logged).
 */
struct conf *conf_load(const char *sandbox, const char *conffile,
    char *path, size_t pathlen);
void conf_free(struct conf *c);
/* yubind -n: every key with its effective value, in file syntax. */
void conf_print(const struct conf *c, FILE *fp);

#endif

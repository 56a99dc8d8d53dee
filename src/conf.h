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
	/*
	 * Sending mail to other hosts (issue 6).  Host names and ports are
	 * checked at load and stored in one normalized form, "HOST:PORT"
	 * with the host in lower case, or "[ADDR]:PORT" for an address
	 * (IPv4 or IPv6) literal: read them with conf_hostport().
	 */
	char		*relayhost;	/* smarthost for all remote mail, or NULL */
	struct strlist	routes;		/* "domain HOST:PORT", one per domain */
	int		relay_port;	/* port of MX hosts found in DNS */
	int		relay_max;	/* outbound connections in all */
	int		relay_max_per_host;	/* ... and to one host */
	int		queue_lifetime;	/* seconds before a bounce */
	char		*resolv_conf;	/* nameservers when dns_servers is empty */
	struct strlist	dns_servers;	/* "A.B.C.D:PORT" or "[V6]:PORT" */
	int		sender_login_check;	/* submission: MAIL FROM is the user's */
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

/*
 * Take a stored "HOST:PORT" or "[ADDR]:PORT" (relayhost, the host of a
 * route, a dns_servers entry) apart: host gets the name, or the address
 * literal with its brackets ("[192.0.2.1]", "[2001:db8::1]": not names
 * to look up; a dns_servers IPv4 address has none, "10.0.0.53"); *port
 * the port.  0, or -1 if s is not in that form or host (of hlen bytes)
 * is too small.
 */
int conf_hostport(const char *s, char *host, size_t hlen, unsigned *port);
/*
 * The fixed route for domain (any case; exact domains only, no
 * wildcards): 1 with host and *port filled as conf_hostport() does,
 * or 0 if the domain has no route line.
 */
int conf_route(const struct conf *c, const char *domain, char *host,
    size_t hlen, unsigned *port);
/* relayhost, if set: 1 with host and *port filled, else 0. */
int conf_relayhost(const struct conf *c, char *host, size_t hlen,
    unsigned *port);

#endif

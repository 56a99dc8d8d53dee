/*
 * relay.c - the way out for mail to other domains (see relay.h): the
 * hosts of a domain in order (a route line, else relayhost, else its MX
 * records, else - no MX at all - the domain's own address, RFC 5321
 * 5.1), their addresses, and the SMTP client tried on each until the
 * recipients have a final answer or the hosts run out.  Never waits: DNS
 * and SMTP run in the loop (dns.c, smtpc.c), and a request that finds no
 * free connection slot waits in a list until one frees.
 *
 * Which failures try the next host: a connection that could not be made
 * or that did not greet us with 2xx (RFC 5321 5.1: "try the next").
 * Once a host has answered, its 4xx to a recipient defers that
 * recipient to the next queue run, as Postfix does.
 */
#include "yubin.h"

#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "dns.h"
#include "ev.h"
#include "log.h"
#include "msg.h"
#include "relay.h"
#include "smtpc.h"
#include "util.h"

#define RELAY_HOSTS_MAX		16	/* MX hosts tried per request */
#define RELAY_ADDRS_MAX		8	/* addresses tried per host */

struct relay_host {
	char		name[256];
	unsigned short	port;
};

struct relay_req {
	struct relay_req	*next;		/* waiting for a slot */
	char			id[MSG_ID_MAX];
	char			sender[MSG_ADDR_MAX];
	char			domain[256];
	struct qrcpt		**r;
	int			n;
	int			*status;	/* RELAY_*, -1 not final */
	char			(*mta)[300];	/* who answered */
	char			(*rwhere)[300];	/* its name[ip]:port */
	struct smtpc_rcpt	*sr;		/* the current attempt */
	int			*map;		/* sr[k] is recipient map[k] */
	int			msgfd;
	off_t			size;
	unsigned long		wiresize;
	const char		*head;
	size_t			headlen;
	int			eightbit;
	time_t			arrival;
	relay_done_fn		*done;
	void			*arg;
	struct relay_host	hosts[RELAY_HOSTS_MAX];
	int			nhosts, hi;
	struct dns_addr		addrs[RELAY_ADDRS_MAX];
	int			naddrs, ai;
	struct dns_query	*q;
	struct smtpc		*c;
	struct smtpc_job	job;
	char			where[300];	/* host[ip]:port of the try */
	char			lasterr[512];
	int			waiting, woken;
	int			fixed;		/* route or relayhost */
	char			path[1100];	/* the queued text */
	int			started;
	int			finished;
	struct ev_timer		kick;
};

/* Connections open, overall and per host name. */
struct slot {
	struct slot	*next;
	char		host[256];
	int		n;
};

static int active;
static struct slot *slots;
static struct relay_req *waiters;

static void next_host(struct relay_req *req);
static void try_addr(struct relay_req *req);

int
relay_active(void)
{
	return active;
}

static void slot_give(const char *host);

static struct slot *
slot_find(const char *host, int make)
{
	struct slot *s;

	for (s = slots; s != NULL; s = s->next)
		if (ascii_casecmp(s->host, host) == 0)
			return s;
	if (!make || (s = malloc(sizeof(*s))) == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	strlcpy(s->host, host, sizeof(s->host));
	s->next = slots;
	slots = s;
	return s;
}

/* A connection to host may open now (overall and per-host limits). */
static int
slot_take(const char *host)
{
	struct slot *s;

	if (active >= config->relay_max)
		return 0;
	if ((s = slot_find(host, 1)) == NULL ||
	    s->n >= config->relay_max_per_host)
		return 0;
	s->n++;
	active++;
	return 1;
}

static void
slot_give(const char *host)
{
	struct slot *s, **pp;
	struct relay_req *w;

	active--;
	if ((s = slot_find(host, 0)) != NULL && --s->n <= 0) {
		for (pp = &slots; *pp != s; pp = &(*pp)->next)
			;
		*pp = s->next;
		free(s);
	}
	/* The first waiter that can have a slot now tries again, from the
	 * loop (first come, first served; one woken per slot freed). */
	for (w = waiters; w != NULL && active < config->relay_max;
	    w = w->next) {
		s = slot_find(w->hosts[w->hi].name, 0);
		if (s != NULL && s->n >= config->relay_max_per_host)
			continue;
		if (!w->woken) {
			w->woken = 1;
			(void)ev_timer_set(&w->kick, 0);
		}
		break;
	}
}

static void
unwait(struct relay_req *req)
{
	struct relay_req **pp;

	for (pp = &waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == req) {
			*pp = req->next;
			break;
		}
	req->waiting = 0;
}

/* --- the end --- */

static void
log_rcpt(struct relay_req *req, int i)
{
	static const char *names[] = { "sent", "deferred", "bounced" };
	struct qrcpt *r = req->r[i];
	int st = req->status[i] < 0 ? RELAY_TEMP : req->status[i];

	/* to= the address the copy goes to; orig_to= what the client
	 * gave when an alias or forward led there (as Postfix logs it) */
	if (r->orig[0] != '\0' && strcmp(r->orig, r->target) != 0)
		log_info("%s: to=<%s>, orig_to=<%s>, relay=%s, delay=%ld, "
		    "status=%s (%s)", req->id, r->target, r->orig,
		    req->rwhere[i][0] != '\0' ? req->rwhere[i] : "none",
		    (long)(time(NULL) - req->arrival), names[st], r->why);
	else
		log_info("%s: to=<%s>, relay=%s, delay=%ld, status=%s (%s)",
		    req->id, r->target,
		    req->rwhere[i][0] != '\0' ? req->rwhere[i] : "none",
		    (long)(time(NULL) - req->arrival), names[st], r->why);
}

static void
finish(struct relay_req *req)
{
	int i;

	if (req->finished)
		return;
	req->finished = 1;
	for (i = 0; i < req->n; i++) {
		if (req->status[i] < 0) {
			req->status[i] = RELAY_TEMP;
			strlcpy(req->r[i]->why, req->lasterr[0] != '\0' ?
			    req->lasterr : "no host could be reached",
			    sizeof(req->r[i]->why));
		}
		log_rcpt(req, i);
	}
	req->done(req->arg, req);
}

/* Every recipient not yet final gets this answer now. */
static void
all_final(struct relay_req *req, int status, const char *why)
{
	int i;

	for (i = 0; i < req->n; i++)
		if (req->status[i] < 0) {
			req->status[i] = status;
			strlcpy(req->r[i]->why, why, sizeof(req->r[i]->why));
		}
	strlcpy(req->lasterr, why, sizeof(req->lasterr));
	finish(req);
}

static int
unfinished(const struct relay_req *req)
{
	int i, k = 0;

	for (i = 0; i < req->n; i++)
		k += req->status[i] < 0;
	return k;
}

/* --- SMTP --- */

static void
smtp_done(void *arg, int conn_ok, const char *why)
{
	struct relay_req *req = arg;
	int k, i;

	/* (its slot is given back when the client is gone, after QUIT:
	 * smtpc_closed_hook) */
	req->c = NULL;
	close(req->msgfd);		/* smtpc reads it only until now */
	req->msgfd = -1;
	for (k = 0; k < req->job.nrcpts; k++) {
		i = req->map[k];
		if (req->sr[k].status == SMTPC_TEMP && !conn_ok)
			continue;	/* the next host may do better */
		req->status[i] = req->sr[k].status == SMTPC_SENT ? RELAY_SENT :
		    req->sr[k].status == SMTPC_PERM ? RELAY_PERM : RELAY_TEMP;
		strlcpy(req->r[i]->why, req->sr[k].reply,
		    sizeof(req->r[i]->why));
		/* who answered: its name (the DSN's Remote-MTA) */
		strlcpy(req->mta[i], req->hosts[req->hi].name,
		    sizeof(req->mta[i]));
		strlcpy(req->rwhere[i], req->where, sizeof(req->rwhere[i]));
	}
	if (why != NULL && why[0] != '\0')
		strlcpy(req->lasterr, why, sizeof(req->lasterr));
	if (conn_ok || unfinished(req) == 0) {
		finish(req);
		return;
	}
	req->ai++;
	try_addr(req);
}

static void begin(struct relay_req *req);

static void
kicked(void *arg)
{
	struct relay_req *req = arg;

	if (!req->started) {
		req->started = 1;
		begin(req);
	} else if (req->waiting) {
		unwait(req);
		req->woken = 0;
		try_addr(req);
	}
}

/* Start SMTP with the current address, or wait for a free slot. */
static void
try_addr(struct relay_req *req)
{
	const struct dns_addr *a;
	const struct relay_host *h;
	struct netmask nm;
	char ip[64];
	int k, i;

	if (req->ai >= req->naddrs) {
		req->hi++;
		next_host(req);
		return;
	}
	h = &req->hosts[req->hi];
	a = &req->addrs[req->ai];
	if (!slot_take(h->name)) {
		struct relay_req **pp;

		/* at the end: the queue of waiters is first in, first out */
		for (pp = &waiters; *pp != NULL; pp = &(*pp)->next)
			;
		req->waiting = 1;
		req->woken = 0;
		req->next = NULL;
		*pp = req;
		return;
	}
	/* the text is opened only now: thousands of requests may wait */
	if (req->msgfd < 0 &&
	    (req->msgfd = open(req->path, O_RDONLY, 0)) < 0) {
		slot_give(h->name);
		(void)snprintf(req->lasterr, sizeof(req->lasterr),
		    "4.3.0 cannot open the queued text: %s", strerror(errno));
		finish(req);
		return;
	}
	memset(&nm, 0, sizeof(nm));
	nm.family = a->family;
	memcpy(nm.addr, a->addr, sizeof(nm.addr));
	nm.bits = a->family == 4 ? 32 : 128;
	netmask_format(&nm, ip, sizeof(ip));
	/* Postfix's form: name[ip]:port (a literal's name without []) */
	if (h->name[0] == '[')
		(void)snprintf(req->where, sizeof(req->where), "%s:%u", h->name,
		    (unsigned)h->port);
	else
		(void)snprintf(req->where, sizeof(req->where), "%s[%s]:%u",
		    h->name, ip, (unsigned)h->port);
	memset(&req->job, 0, sizeof(req->job));
	req->job.family = a->family;
	memcpy(req->job.addr, a->addr, sizeof(req->job.addr));
	req->job.port = h->port;
	req->job.host = h->name;
	req->job.helo = config->hostname;
	req->job.sender = req->sender;
	for (k = i = 0; i < req->n; i++) {
		if (req->status[i] >= 0)
			continue;
		memset(&req->sr[k], 0, sizeof(req->sr[k]));
		req->sr[k].addr = req->r[i]->target;
		req->map[k++] = i;
	}
	req->job.rcpts = req->sr;
	req->job.nrcpts = k;
	req->job.msgfd = req->msgfd;
	req->job.msgoff = 0;
	req->job.msglen = req->size;
	req->job.head = req->head;
	req->job.headlen = req->headlen;
	req->job.eightbit = req->eightbit;
	req->job.size = req->wiresize;
	if ((req->c = smtpc_start(&req->job, smtp_done, req)) == NULL) {
		slot_give(h->name);
		(void)snprintf(req->lasterr, sizeof(req->lasterr),
		    "cannot connect to %s: %s", req->where, strerror(errno));
		req->ai++;
		try_addr(req);
	}
}

/* --- DNS --- */

static void
addrs_found(void *arg, int status, const struct dns_addr *a, int n)
{
	struct relay_req *req = arg;
	const char *host = req->hosts[req->hi].name;

	req->q = NULL;
	if (status != DNS_OK || n <= 0) {
		(void)snprintf(req->lasterr, sizeof(req->lasterr), "%s "
		    "%s", host, status == DNS_TEMP ? "4.4.3 lookup failed, "
		    "will retry" : "has no address");
		/* the domain itself without MX and without address: bounce
		 * (a route or relayhost without one is our configuration's
		 * fault, not the sender's: that waits) */
		if (req->nhosts == 1 && status != DNS_TEMP &&
		    status != DNS_BAD && !req->fixed) {
			all_final(req, RELAY_PERM, "5.1.2 host or domain "
			    "name not found");
			return;
		}
		req->hi++;
		next_host(req);
		return;
	}
	if (n > RELAY_ADDRS_MAX)
		n = RELAY_ADDRS_MAX;
	memcpy(req->addrs, a, (size_t)n * sizeof(*a));
	req->naddrs = n;
	req->ai = 0;
	try_addr(req);
}

/* "[192.0.2.1]" or "[IPv6:...]": no lookup. */
static int
literal_host(struct relay_req *req, const char *name)
{
	char buf[256];
	size_t len = strlen(name);
	const char *p;

	if (len < 3 || name[0] != '[' || name[len - 1] != ']' ||
	    len - 2 >= sizeof(buf))
		return 0;
	memcpy(buf, name + 1, len - 2);
	buf[len - 2] = '\0';
	p = ascii_ncasecmp(buf, "IPv6:", 5) == 0 ? buf + 5 : buf;
	memset(&req->addrs[0], 0, sizeof(req->addrs[0]));
	req->addrs[0].family = ipaddr_parse(p, req->addrs[0].addr);
	if (req->addrs[0].family != 4 && req->addrs[0].family != 6)
		return 0;
	req->naddrs = 1;
	req->ai = 0;
	return 1;
}

static void
next_host(struct relay_req *req)
{
	if (req->hi >= req->nhosts) {
		finish(req);
		return;
	}
	if (literal_host(req, req->hosts[req->hi].name)) {
		try_addr(req);
		return;
	}
	req->q = dns_addr(req->hosts[req->hi].name, addrs_found, req);
	if (req->q == NULL) {
		strlcpy(req->lasterr, "4.3.0 cannot start a DNS lookup",
		    sizeof(req->lasterr));
		finish(req);
	}
}

static void
mx_found(void *arg, int status, const struct dns_mx *mx, int n)
{
	struct relay_req *req = arg;
	long ours;
	int i;

	req->q = NULL;
	if (status == DNS_NOTFOUND) {
		all_final(req, RELAY_PERM, "5.1.2 host or domain name not "
		    "found (no such domain in DNS)");
		return;
	}
	/* A malformed or forged answer is no verdict on the domain: the
	 * mail waits (as Postfix does for a corrupt reply). */
	if (status == DNS_TEMP || status == DNS_BAD) {
		all_final(req, RELAY_TEMP, "4.4.3 DNS lookup of the domain's "
		    "mail exchangers failed, will retry");
		return;
	}
	req->nhosts = 0;
	if (status == DNS_OK && n == 1 && mx[0].host[0] == '\0') {
		/* RFC 7505: a null MX says the domain takes no mail */
		all_final(req, RELAY_PERM, "5.1.10 the domain accepts no mail "
		    "(null MX)");
		return;
	}
	/* RFC 5321 5.1: if we are one of the MX hosts, that one and all
	 * of equal or worse preference are dropped (we would send the
	 * mail to ourselves, or loop between equals) */
	for (i = 0, ours = -1; status == DNS_OK && i < n; i++)
		if (ascii_casecmp(mx[i].host, config->hostname) == 0 &&
		    (ours < 0 || (long)mx[i].pref < ours))
			ours = (long)mx[i].pref;
	for (i = 0; status == DNS_OK && i < n &&
	    req->nhosts < RELAY_HOSTS_MAX; i++) {
		if (ours >= 0 && (long)mx[i].pref >= ours)
			continue;
		strlcpy(req->hosts[req->nhosts].name, mx[i].host,
		    sizeof(req->hosts[0].name));
		req->hosts[req->nhosts++].port =
		    (unsigned short)config->relay_port;
	}
	if (status == DNS_OK && req->nhosts == 0) {
		all_final(req, RELAY_PERM, "5.4.6 mail for the domain loops "
		    "back to myself (MX)");
		return;
	}
	if (status != DNS_OK) {
		/* no MX: the domain's own address (RFC 5321 5.1) */
		strlcpy(req->hosts[0].name, req->domain,
		    sizeof(req->hosts[0].name));
		req->hosts[0].port = (unsigned short)config->relay_port;
		req->nhosts = 1;
	}
	req->hi = 0;
	next_host(req);
}

/* HOST[:PORT] or [literal]:PORT into h; -1 if it makes no sense. */
static int
parse_hostport(const char *s, struct relay_host *h)
{
	const char *colon;
	unsigned long port = 25;
	size_t len;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL)
			return -1;
		len = (size_t)(end - s) + 1;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strrchr(s, ':');
		len = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (len == 0 || len >= sizeof(h->name) ||
	    (colon != NULL && (parse_ulong(colon + 1, 65535UL, &port) < 0 ||
	    port == 0)))
		return -1;
	memcpy(h->name, s, len);
	h->name[len] = '\0';
	h->port = (unsigned short)port;
	return 0;
}

/* --- requests --- */

struct relay_req *
relay_start(const struct relay_msg *m, const char *domain,
    struct qrcpt **r, int n, relay_done_fn *done, void *arg)
{
	struct relay_req *req;
	int i;

	smtpc_closed_hook = slot_give;
	if (n <= 0 || (req = malloc(sizeof(*req))) == NULL)
		return NULL;
	memset(req, 0, sizeof(*req));
	req->status = malloc((size_t)n * sizeof(*req->status));
	req->mta = malloc((size_t)n * sizeof(*req->mta));
	req->rwhere = malloc((size_t)n * sizeof(*req->rwhere));
	req->sr = malloc((size_t)n * sizeof(*req->sr));
	req->map = malloc((size_t)n * sizeof(*req->map));
	req->r = malloc((size_t)n * sizeof(*req->r));
	if (req->status == NULL || req->mta == NULL || req->rwhere == NULL ||
	    req->sr == NULL ||
	    req->map == NULL || req->r == NULL) {
		relay_free(req);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		req->status[i] = -1;
		req->mta[i][0] = req->rwhere[i][0] = '\0';
		req->r[i] = r[i];
	}
	req->n = n;
	strlcpy(req->id, m->id, sizeof(req->id));
	strlcpy(req->sender, m->sender, sizeof(req->sender));
	strlcpy(req->domain, domain, sizeof(req->domain));
	req->msgfd = -1;
	strlcpy(req->path, m->path, sizeof(req->path));
	req->size = m->len;
	req->wiresize = m->wiresize;
	req->head = m->head;
	req->headlen = m->headlen;
	req->eightbit = m->eightbit;
	req->arrival = m->arrival;
	req->done = done;
	req->arg = arg;
	ev_timer_init(&req->kick, kicked, req);
	/* the work starts from the loop: done is never called from here */
	if (ev_timer_set(&req->kick, 0) < 0) {
		relay_free(req);
		return NULL;
	}
	return req;
}

/* A route for the domain, else the smarthost, else DNS. */
static void
begin(struct relay_req *req)
{
	char host[300], hp[320];
	unsigned port;

	if (conf_route(config, req->domain, host, sizeof(host), &port)) {
		(void)snprintf(hp, sizeof(hp), "%s:%u", host, port);
		if (parse_hostport(hp, &req->hosts[0]) == 0)
			req->nhosts = 1;
	} else if (config->relayhost != NULL &&
	    parse_hostport(config->relayhost, &req->hosts[0]) == 0)
		req->nhosts = 1;
	if (req->nhosts == 1) {
		req->fixed = 1;
		next_host(req);
		return;
	}
	if ((req->q = dns_mx(req->domain, mx_found, req)) == NULL)
		all_final(req, RELAY_TEMP, "4.3.0 cannot start a DNS lookup");
}

int
relay_rcpt_status(const struct relay_req *req, int i)
{
	return i >= 0 && i < req->n ? req->status[i] : RELAY_TEMP;
}

const char *
relay_rcpt_mta(const struct relay_req *req, int i)
{
	return i >= 0 && i < req->n ? req->mta[i] : "";
}

void
relay_free(struct relay_req *req)
{
	if (req == NULL)
		return;
	if (req->q != NULL)
		dns_cancel(req->q);
	if (req->c != NULL)
		smtpc_cancel(req->c);	/* its hook gives the slot back */
	if (req->waiting)
		unwait(req);
	if (req->msgfd >= 0)
		close(req->msgfd);
	ev_timer_del(&req->kick);
	free(req->status);
	free(req->mta);
	free(req->rwhere);
	free(req->sr);
	free(req->map);
	free(req->r);
	free(req);
}

/*
 * net.c - listeners, accept(), and the connection limits.
 *
 * Every descriptor handed to the loop must be below FD_SETSIZE; the
 * configuration caps max_connections so that clients, listeners and the
 * files sessions open fit, and an accepted descriptor that still lands
 * too high is refused like any client over the limit: the protocol's
 * "busy" line, then close.  Nothing here blocks: listeners and clients
 * are non-blocking, and the refusal is one best-effort write.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#ifdef HAVE_NETINET_TCP_H
#include <netinet/tcp.h>
#endif
#include <netdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "conn.h"
#include "ev.h"
#include "log.h"
#include "proto.h"
#include "util.h"

struct listener {
	int			fd;
	const struct proto	*proto;
	char			spec[96];	/* as configured */
	char			host[64];	/* as bound, printable */
	int			port;
};

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;

/* Connections per client address: a small chained hash. */
struct ipcount {
	struct ipcount	*next;
	int		family;
	unsigned char	addr[16];
	int		n;
};
#define IPHASH_SIZE	509
static struct ipcount *iphash[IPHASH_SIZE];
/* accept() failed for lack of descriptors: pause, don't spin. */
static struct ev_timer accept_pause;

static void net_accept(int fd, int what, void *arg);

static unsigned
iphash_key(int family, const unsigned char *addr)
{
	unsigned h = (unsigned)family;
	int i, n = family == 4 ? 4 : 16;

	for (i = 0; i < n; i++)
		h = h * 31 + addr[i];
	return h % IPHASH_SIZE;
}

static struct ipcount **
iphash_find(int family, const unsigned char *addr)
{
	struct ipcount **pp;

	pp = &iphash[iphash_key(family, addr)];
	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->family == family &&
		    memcmp((*pp)->addr, addr, family == 4 ? 4 : 16) == 0)
			break;
	return pp;
}

static int
ip_count(int family, const unsigned char *addr)
{
	struct ipcount **pp;

	if (family == 0)
		return 0;
	pp = iphash_find(family, addr);
	return *pp != NULL ? (*pp)->n : 0;
}

static int
ip_add(int family, const unsigned char *addr)
{
	struct ipcount **pp, *ic;

	if (family == 0)
		return 0;
	pp = iphash_find(family, addr);
	if (*pp == NULL) {
		if ((ic = malloc(sizeof(*ic))) == NULL)
			return -1;
		memset(ic, 0, sizeof(*ic));
		ic->family = family;
		memcpy(ic->addr, addr, family == 4 ? 4 : 16);
		*pp = ic;
	}
	(*pp)->n++;
	return 0;
}

void
net_conn_freed(const struct conn *c)
{
	struct ipcount **pp, *ic;

	if (c->family == 0 || (c->flags & CONN_NOSOCK))
		return;
	pp = iphash_find(c->family, c->addr);
	if ((ic = *pp) == NULL)
		return;
	if (--ic->n <= 0) {
		*pp = ic->next;
		free(ic);
	}
}

int
net_peer(int fd, int *family, unsigned char *addr, char *text,
    size_t textlen)
{
	union sockaddr_any sa;
	socklen_t len = sizeof(sa);
	char host[NI_MAXHOST];

	*family = 0;
	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, &sa.sa, &len) < 0)
		return -1;
	if (sa.sa.sa_family == AF_INET) {
		*family = 4;
		memcpy(addr, &sa.in.sin_addr, 4);
	}
#ifdef HAVE_IPV6
	else if (sa.sa.sa_family == AF_INET6) {
		*family = 6;
		memcpy(addr, &sa.in6.sin6_addr, 16);
	}
#endif
	else
		return -1;
	if (getnameinfo(&sa.sa, len, host, sizeof(host), NULL, 0,
	    NI_NUMERICHOST) != 0)
		return -1;
	if (strlcpy(text, host, textlen) >= textlen)
		return -1;
	return 0;
}

int
net_local(int fd, int *family, unsigned char *addr)
{
	union sockaddr_any sa;
	socklen_t len = sizeof(sa);

	*family = 0;
	if (getsockname(fd, &sa.sa, &len) < 0)
		return -1;
	if (sa.sa.sa_family == AF_INET) {
		*family = 4;
		memcpy(addr, &sa.in.sin_addr, 4);
		return 0;
	}
#ifdef HAVE_IPV6
	if (sa.sa.sa_family == AF_INET6) {
		*family = 6;
		memcpy(addr, &sa.in6.sin6_addr, 16);
		return 0;
	}
#endif
	return -1;
}

/* The refusal: one write that may fail; the client is closed anyway. */
static void
refuse(int fd, const struct proto *p, const char *peer, const char *why)
{
	struct buf b;

	buf_init(&b, 512);
	if (p->busy != NULL)
		p->busy(&b);
	if (buf_used(&b) > 0 && write(fd, buf_ptr(&b), buf_used(&b)) < 0)
		log_debug("refusal to %s not sent: %s", peer, strerror(errno));
	buf_free(&b);
	close(fd);
	warn("%s: refused connection from %s: %s", p->name, peer, why);
}

static void
accept_resume(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < nlisteners; i++)
		ev_io(listeners[i].fd, EV_READ, net_accept, &listeners[i]);
}

static void
accept_one(struct listener *l, int fd)
{
	unsigned char addr[16];
	char peer[64];
	int family, on = 1;

	if (net_peer(fd, &family, addr, peer, sizeof(peer)) < 0) {
		close(fd);
		return;
	}
	if (fd >= FD_SETSIZE ||
	    conn_count - conn_dead >= config->max_connections) {
		refuse(fd, l->proto, peer, "too many connections");
		return;
	}
	if (ip_count(family, addr) >= config->max_connections_per_ip) {
		refuse(fd, l->proto, peer, "too many connections from it");
		return;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    ip_add(family, addr) < 0) {
		refuse(fd, l->proto, peer, strerror(errno));
		return;
	}
#ifdef TCP_NODELAY
	/* Replies are written whole; never let one wait for an ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (void *)&on, sizeof(on));
#endif
	(void)on;
	log_info("%s: connect from %s", l->proto->name, peer);
	if (conn_new(fd, fd, l->proto, family, addr, peer) == NULL) {
		struct conn tmp;

		tmp.family = family;
		tmp.flags = 0;
		memcpy(tmp.addr, addr, sizeof(tmp.addr));
		net_conn_freed(&tmp);
	}
}

static void
net_accept(int lfd, int what, void *arg)
{
	struct listener *l = arg;
	union sockaddr_any sa;
	socklen_t len;
	int fd, i;

	(void)what;
	/* A burst is taken in bounded gulps, fairly with other work. */
	for (i = 0; i < 64; i++) {
		len = sizeof(sa);
		fd = accept(lfd, &sa.sa, &len);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				warn("accept: %s; pausing for a second",
				    strerror(errno));
				for (i = 0; i < nlisteners; i++)
					ev_io(listeners[i].fd, 0, NULL, NULL);
				(void)ev_timer_set(&accept_pause, 1000);
			}
			return;
		}
		accept_one(l, fd);
	}
}

/*
 * Split "ADDR:PORT", "[V6ADDR]:PORT" or "*:PORT" into host (NULL for
 * any) and port.  conf.c has validated the syntax already; this only
 * takes it apart.
 */
static int
split_spec(const char *spec, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *h;
	size_t hlen;

	if (spec[0] == '[') {
		if ((colon = strstr(spec, "]:")) == NULL)
			return -1;
		h = spec + 1;
		hlen = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL)
			return -1;
		h = spec;
		hlen = (size_t)(colon - spec);
	}
	if (hlen >= hostlen || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0)
		strlcpy(host, "0.0.0.0", hostlen);
	strlcpy(port, colon + 1, portlen);
	return 0;
}

/* Open, bind and listen; returns the descriptor or -1 with *err set. */
static int
open_listener(struct listener *l, const char **err)
{
	struct addrinfo hints, *ai;
	union sockaddr_any sa;
	socklen_t len;
	char host[64], port[16], num[NI_MAXSERV];
	int fd, on = 1, r;

	*err = "bad address";
	if (split_spec(l->spec, host, sizeof(host), port, sizeof(port)) < 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
	if ((r = getaddrinfo(host, port, &hints, &ai)) != 0) {
		*err = gai_strerror(r);
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
		*err = strerror(errno);
		freeaddrinfo(ai);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, (void *)&on, sizeof(on));
#if defined(HAVE_IPV6) && defined(IPV6_V6ONLY)
	/* [::]:25 and 0.0.0.0:25 are separate listeners, as configured. */
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (void *)&on,
		    sizeof(on));
#endif
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 1024) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		*err = strerror(errno);
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	len = sizeof(sa);
	if (getsockname(fd, &sa.sa, &len) < 0 ||
	    getnameinfo(&sa.sa, len, l->host, sizeof(l->host), num,
	    sizeof(num), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		*err = "cannot read the bound address";
		close(fd);
		return -1;
	}
	l->port = atoi(num);
	return fd;
}

struct want {
	const struct proto	*proto;
	const struct strlist	*specs;
};

/* How many times proto p is configured on spec (port 0 may repeat). */
static int
count_wanted(const struct want *w, int nw, const struct proto *p,
    const char *spec)
{
	int i, j, n = 0;

	for (i = 0; i < nw; i++)
		if (w[i].proto == p)
			for (j = 0; j < w[i].specs->n; j++)
				if (strcmp(w[i].specs->v[j], spec) == 0)
					n++;
	return n;
}

static int
count_open(const struct proto *p, const char *spec, int upto)
{
	int i, n = 0;

	for (i = 0; i < upto; i++)
		if (listeners[i].proto == p &&
		    strcmp(listeners[i].spec, spec) == 0)
			n++;
	return n;
}

static void
close_listener(int i)
{
	log_notice("%s: no longer listening on %s", listeners[i].proto->name,
	    listeners[i].spec);
	ev_io(listeners[i].fd, 0, NULL, NULL);
	close(listeners[i].fd);
	listeners[i] = listeners[--nlisteners];
}

static int
add_listener(const struct proto *p, const char *spec, int reload)
{
	struct listener *l;
	const char *err;

	if (nlisteners == MAX_LISTENERS) {
		err = "too many listeners";
		goto fail;
	}
	l = &listeners[nlisteners];
	memset(l, 0, sizeof(*l));
	l->proto = p;
	if (strlcpy(l->spec, spec, sizeof(l->spec)) >= sizeof(l->spec)) {
		err = "address too long";
		goto fail;
	}
	if ((l->fd = open_listener(l, &err)) < 0)
		goto fail;
	if (l->fd >= FD_SETSIZE) {
		close(l->fd);
		err = "descriptor out of range";
		goto fail;
	}
	nlisteners++;
	log_notice("%s: listening on %s port %d", p->name, l->host, l->port);
	return 0;
fail:
	if (!reload)
		fatal("%s: cannot bind %s: %s", p->name, spec, err);
	warn("%s: cannot bind %s: %s", p->name, spec, err);
	return -1;
}

int
net_listen(const struct conf *cf, int reload)
{
	struct want w[4];
	static int inited;
	int i, j, fails = 0;

	if (!inited) {
		ev_timer_init(&accept_pause, accept_resume, NULL);
		inited = 1;
	}
	w[0].proto = &proto_smtp;
	w[0].specs = &cf->smtp_listen;
	w[1].proto = &proto_submission;
	w[1].specs = &cf->submission_listen;
	w[2].proto = &proto_pop3;
	w[2].specs = &cf->pop3_listen;
	w[3].proto = &proto_imap;
	w[3].specs = &cf->imap_listen;
	/* Keep as many listeners per (protocol, address) as are wanted. */
	for (i = 0; i < nlisteners; )
		if (count_open(listeners[i].proto, listeners[i].spec, i + 1) >
		    count_wanted(w, 4, listeners[i].proto, listeners[i].spec))
			close_listener(i);
		else
			i++;
	for (i = 0; i < 4; i++)
		for (j = 0; j < w[i].specs->n; j++)
			if (count_open(w[i].proto, w[i].specs->v[j],
			    nlisteners) < count_wanted(w, 4, w[i].proto,
			    w[i].specs->v[j]) &&
			    add_listener(w[i].proto, w[i].specs->v[j],
			    reload) < 0)
				fails++;
	/* The array may have moved: point every watch at its slot again. */
	accept_resume(NULL);
	return fails;
}

void
net_close_all(void)
{
	while (nlisteners > 0)
		close_listener(nlisteners - 1);
	if (accept_pause.fn != NULL)
		ev_timer_del(&accept_pause);
}

int
net_write_ports(const char *path)
{
	char tmp[1024];
	FILE *fp;
	int i, r;

	r = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return -1;
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	for (i = 0; i < nlisteners; i++)
		fprintf(fp, "%s %s %d\n", listeners[i].proto->name,
		    listeners[i].host, listeners[i].port);
	/* stdio hides write errors until ferror() (LAB.md, ENOSPC). */
	if (fflush(fp) != 0 || ferror(fp)) {
		fclose(fp);
		remove(tmp);
		return -1;
	}
	if (fclose(fp) != 0 || rename(tmp, path) < 0) {
		remove(tmp);
		return -1;
	}
	return 0;
}

const struct proto *
proto_by_name(const char *name)
{
	static const struct proto *const all[] = {
		&proto_smtp, &proto_submission, &proto_pop3, &proto_imap
	};
	size_t i;

	for (i = 0; i < NELEM(all); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

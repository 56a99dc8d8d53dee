/*
 * dns.c - MX and address lookups inside the loop (see dns.h); the wire
 * format is dnswire.c's.
 *
 * A query has one "sub" per question (MX; or A and AAAA side by side).
 * A sub sends its question over UDP from a fresh socket to one server
 * at a time, in resolv.conf's order, "attempts" rounds over all of them,
 * "timeout" seconds each (res_send(3)'s scheme); a truncated answer is
 * asked again over TCP from the same server.  A CNAME whose target's
 * records are not in the answer is asked again under the target's name.
 *
 * Against forged answers (RFC 5452): the query ID comes from
 * /dev/urandom, not rand(): rand() is a small LCG whose next output
 * anyone who saw a few IDs can compute, and the IDs go out on the wire.
 * Each try uses a new socket, so the kernel picks a new (randomised)
 * source port.  The socket is connected to the server, so the kernel
 * drops datagrams from elsewhere, and the source is compared again in
 * case it does not; the ID and the question must match too.  Records of
 * the additional section are never used.
 *
 * Nothing here may block: sockets are non-blocking, connect() to a TCP
 * server completes in the loop, and resolv.conf (a local file, like the
 * configuration) is read only at start and on SIGHUP.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "dns.h"
#include "dnswire.h"
#include "ev.h"
#include "log.h"
#include "net.h"
#include "md5.h"
#include "util.h"

/* Servers from the configuration: more than resolv.conf's 3 is fine,
 * but every one costs a timeout when they are all down. */
#define DNS_SERVERS_MAX	8
/* UDP answers are at most 512 octets without EDNS (RFC 1035 4.2.1),
 * which we never send; a datagram that fills this buffer may have been
 * cut by the kernel, and is treated as truncated. */
#define DNS_UDP_BUF	4096
/* Datagrams read per readiness: junk cannot keep the loop here. */
#define DNS_READS	8

struct dns_server {
	union sockaddr_any	sa;
	socklen_t		len;
	char			name[64];	/* "ADDR:PORT", for logs */
};

static struct dns_server servers[DNS_SERVERS_MAX];
static int nservers, timeout_s = DNS_TIMEOUT, attempts = DNS_ATTEMPTS;
static int loaded, nqueries;

enum sub_state { SUB_UDP, SUB_TCP_WRITE, SUB_TCP_READ, SUB_DONE };

#define Q_MX	1
#define Q_ADDR	2

struct dns_sub {
	struct dns_query	*q;
	enum sub_state		state;
	int			type;		/* DNS_T_MX, _A, _AAAA */
	int			fd;
	int			tries;		/* sends made for this name */
	int			hops;		/* CNAMEs followed */
	int			saw_bad, saw_temp;
	int			status;
	struct dns_server	srv;		/* the one asked now */
	char			name[256];	/* asked now (after CNAMEs) */
	unsigned char		pkt[2 + DNS_QUERY_MAX];	/* TCP length first */
	size_t			pktlen;		/* without the 2 */
	size_t			done;		/* TCP bytes sent or read */
	unsigned char		*tcpbuf;	/* answer over TCP */
	size_t			tcplen;
	struct ev_timer		timer;
	struct dns_addr		addr[DNS_ADDR_MAX];
	int			naddr;
};

struct dns_query {
	int			kind;		/* Q_MX, Q_ADDR */
	dns_mx_fn		*mxfn;
	dns_addr_fn		*addrfn;
	void			*arg;
	struct dns_sub		sub[2];
	int			nsub, ndone;
	struct dns_mx		*mx;		/* Q_MX, when DNS_OK */
	int			nmx;
	int			in_callback;
	/* Armed at start as a deadline for the whole query, then re-armed
	 * to 0 to call back: re-arming a pending timer never grows the
	 * timer heap, so calling back cannot fail for lack of memory. */
	struct ev_timer		later;
};

static void sub_try(struct dns_sub *);
static void udp_read(int, int, void *);
static void tcp_io(int, int, void *);

/* ---- random IDs ---- */

static unsigned char pool[256];
static size_t pool_left;

/*
 * Fill the pool from /dev/urandom (a read of a character device: no
 * wait once the system is up).  Where there is none, MD5 of the time,
 * the pid and the old pool: much weaker, hence the warning.
 */
static void
pool_fill(void)
{
	static unsigned long count;
	struct md5_ctx c;
	struct timeval tv;
	unsigned long pid = (unsigned long)getpid();
	size_t i;
	int fd;

	if ((fd = open("/dev/urandom", O_RDONLY)) >= 0) {
		if (read(fd, pool, sizeof(pool)) == (ssize_t)sizeof(pool)) {
			close(fd);
			pool_left = sizeof(pool);
			return;
		}
		close(fd);
	}
	if (count++ == 0)
		warn("dns: no /dev/urandom: query IDs are less random");
	gettimeofday(&tv, NULL);
	for (i = 0; i + MD5_DIGEST_LEN <= sizeof(pool); i += MD5_DIGEST_LEN) {
		md5_init(&c);
		md5_update(&c, pool, sizeof(pool));
		md5_update(&c, &tv, sizeof(tv));
		md5_update(&c, &pid, sizeof(pid));
		md5_update(&c, &count, sizeof(count));
		md5_update(&c, &i, sizeof(i));
		md5_final(&c, pool + i);
	}
	pool_left = sizeof(pool);
}

static unsigned
random16(void)
{
	if (pool_left < 2)
		pool_fill();
	pool_left -= 2;
	return (unsigned)pool[pool_left] << 8 | pool[pool_left + 1];
}

/* ---- servers ---- */

/* "ADDR", "ADDR:PORT", "[ADDR]", "[ADDR]:PORT", bare IPv6 "ADDR". */
static int
server_parse(const char *spec, struct dns_server *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char a[16];
	const char *end, *port = NULL;
	unsigned long pn = 53;
	int fam;

	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL ||
		    (end[1] != '\0' && end[1] != ':'))
			return -1;
		if (end[1] == ':')
			port = end + 2;
		spec++;
	} else if ((end = strchr(spec, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL)
		port = end + 1;
	else
		end = spec + strlen(spec);
	if ((size_t)(end - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(end - spec));
	host[end - spec] = '\0';
	if ((fam = ipaddr_parse(host, a)) < 0 ||
	    (port != NULL && (parse_ulong(port, 65535, &pn) < 0 || pn == 0)))
		return -1;
	memset(s, 0, sizeof(*s));
	if (fam == 4) {
		s->sa.in.sin_family = AF_INET;
		s->sa.in.sin_port = htons((unsigned short)pn);
		memcpy(&s->sa.in.sin_addr, a, 4);
		s->len = sizeof(s->sa.in);
		snprintf(s->name, sizeof(s->name), "%s:%lu", host, pn);
		return 0;
	}
#ifdef HAVE_IPV6
	s->sa.in6.sin6_family = AF_INET6;
	s->sa.in6.sin6_port = htons((unsigned short)pn);
	memcpy(&s->sa.in6.sin6_addr, a, 16);
	s->len = sizeof(s->sa.in6);
	snprintf(s->name, sizeof(s->name), "[%s]:%lu", host, pn);
	return 0;
#else
	return -1;
#endif
}

static int
same_peer(const union sockaddr_any *a, const struct dns_server *s)
{
	if (a->sa.sa_family != s->sa.sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == s->sa.in.sin_port &&
		    memcmp(&a->in.sin_addr, &s->sa.in.sin_addr, 4) == 0;
#ifdef HAVE_IPV6
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == s->sa.in6.sin6_port &&
		    memcmp(&a->in6.sin6_addr, &s->sa.in6.sin6_addr, 16) == 0;
#endif
	return 0;
}

/* "options timeout:N attempts:N" (others ignored, as the resolver does). */
static void
resolv_option(const char *w, int *t, int *a)
{
	unsigned long v;

	if (strncmp(w, "timeout:", 8) == 0 && parse_ulong(w + 8, 1000, &v) == 0)
		*t = v < 1 ? 1 : v > DNS_TIMEOUT_CAP ? DNS_TIMEOUT_CAP : (int)v;
	else if (strncmp(w, "attempts:", 9) == 0 &&
	    parse_ulong(w + 9, 1000, &v) == 0)
		*a = v < 1 ? 1 : v > DNS_ATTEMPTS_CAP ? DNS_ATTEMPTS_CAP : (int)v;
}

/* resolv.conf: nameserver lines (up to 3) and options.  -1 if unreadable. */
static int
resolv_read(const char *path, struct dns_server *ns, int *n, int *t, int *a)
{
	char line[512], *w, *sp;
	FILE *fp;
	int c, err = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strchr(line, '\n') == NULL && !feof(fp))
			while ((c = getc(fp)) != EOF && c != '\n')
				;	/* an overlong line: the rest is junk */
		if ((w = strtok(line, " \t\r\n")) == NULL || *w == '#' ||
		    *w == ';')
			continue;
		if (strcmp(w, "nameserver") == 0 &&
		    (sp = strtok(NULL, " \t\r\n")) != NULL) {
			if (*n >= DNS_MAXNS)
				continue;
			if (server_parse(sp, &ns[*n]) == 0)
				(*n)++;
			else
				log_debug("dns: %s: nameserver %s skipped",
				    path, sp);
		} else if (strcmp(w, "options") == 0)
			while ((w = strtok(NULL, " \t\r\n")) != NULL)
				resolv_option(w, t, a);
	}
	if (ferror(fp))
		err = -1;
	fclose(fp);
	return err;
}

int
dns_reload(void)
{
	struct dns_server ns[DNS_SERVERS_MAX];
	const char *path = DNS_RESOLV_CONF;
	char desc[600];
	int i, n = 0, t = DNS_TIMEOUT, a = DNS_ATTEMPTS, err = 0;

	if (config != NULL && config->resolv_conf != NULL)
		path = config->resolv_conf;
	if (resolv_read(path, ns, &n, &t, &a) < 0) {
		warn("dns: %s: %s", path, strerror(errno));
		err = -1;
	}
	if (config != NULL && config->dns_servers.n > 0) {
		for (n = 0, i = 0; i < config->dns_servers.n; i++) {
			if (n == DNS_SERVERS_MAX) {
				warn("dns: only %d servers used", n);
				break;
			}
			if (server_parse(config->dns_servers.v[i], &ns[n]) == 0)
				n++;
			else {
				warn("dns: bad server %s",
				    config->dns_servers.v[i]);
				err = -1;
			}
		}
	}
	if (err < 0 && loaded)
		return -1;		/* keep what works */
	if (n == 0 && server_parse("127.0.0.1", &ns[n]) == 0)
		n++;
	memcpy(servers, ns, (size_t)n * sizeof(ns[0]));
	nservers = n;
	timeout_s = t;
	attempts = a;
	loaded = 1;
	dns_describe(desc, sizeof(desc));
	log_debug("dns: servers %s", desc);
	return err;
}

void
dns_describe(char *out, size_t outlen)
{
	char num[64];
	int i;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < nservers; i++) {
		strlcat(out, servers[i].name, outlen);
		strlcat(out, " ", outlen);
	}
	snprintf(num, sizeof(num), "timeout %d attempts %d", timeout_s,
	    attempts);
	strlcat(out, num, outlen);
}

int
dns_pending(void)
{
	return nqueries;
}

/* ---- one question ---- */

static const char *
type_name(int type)
{
	return type == DNS_T_MX ? "MX" : type == DNS_T_A ? "A" : "AAAA";
}

static void
sub_close(struct dns_sub *s)
{
	if (s->fd >= 0) {
		ev_io(s->fd, 0, NULL, NULL);
		close(s->fd);
		s->fd = -1;
	}
	free(s->tcpbuf);
	s->tcpbuf = NULL;
}

static void
sub_done(struct dns_sub *s, int status)
{
	struct dns_query *q = s->q;

	sub_close(s);
	ev_timer_del(&s->timer);
	s->state = SUB_DONE;
	s->status = status;
	log_debug("dns: %s %s: %s", s->name, type_name(s->type),
	    status == DNS_OK ? "ok" : status == DNS_NOTFOUND ? "no such name" :
	    status == DNS_NODATA ? "no data" : status == DNS_TEMP ?
	    "temporary failure" : "refused: malformed name or answer");
	/*
	 * A and AAAA: when one has addresses, the other gets a little
	 * longer, not its whole round of retries (resolvers and servers
	 * that drop AAAA questions are still found in labs).
	 */
	if (++q->ndone == q->nsub) {
		if (ev_timer_set(&q->later, 0) < 0)
			panic("dns: a pending timer could not be re-armed");
	} else if (status == DNS_OK && ev_timer_set(&q->later,
	    DNS_GRACE_MS) < 0)
		panic("dns: a pending timer could not be re-armed");
}

/* A new socket for the server: non-blocking, close-on-exec, watched. */
static int
sub_socket(struct dns_sub *s, int type, int what)
{
	int fl;

	if ((s->fd = socket(s->srv.sa.sa.sa_family, type, 0)) < 0)
		return -1;
	if ((fl = fcntl(s->fd, F_GETFL, 0)) < 0 ||
	    fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(s->fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    ev_io(s->fd, what, type == SOCK_DGRAM ? udp_read : tcp_io, s) < 0 ||
	    ev_timer_set(&s->timer, (unsigned long)timeout_s * 1000) < 0)
		return -1;
	if (connect(s->fd, &s->srv.sa.sa, s->srv.len) < 0 &&
	    errno != EINPROGRESS)
		return -1;
	return 0;
}

static int
udp_send(struct dns_sub *s)
{
	unsigned id = random16();

	s->pkt[2] = (unsigned char)(id >> 8);
	s->pkt[3] = (unsigned char)(id & 0xff);
	s->state = SUB_UDP;
	if (sub_socket(s, SOCK_DGRAM, EV_READ) < 0 ||
	    send(s->fd, s->pkt + 2, s->pktlen, 0) != (ssize_t)s->pktlen) {
		log_debug("dns: %s %s to %s: %s", s->name, type_name(s->type),
		    s->srv.name, strerror(errno));
		sub_close(s);
		return -1;
	}
	log_debug("dns: %s %s? to %s id %u", s->name, type_name(s->type),
	    s->srv.name, id);
	return 0;
}

/* Send to the next server, or end with what the tries have shown. */
static void
sub_try(struct dns_sub *s)
{
	sub_close(s);
	while (s->tries < nservers * attempts) {
		s->srv = servers[s->tries % nservers];
		s->tries++;
		if (udp_send(s) == 0)
			return;
		s->saw_temp = 1;
	}
	sub_done(s, s->saw_bad && !s->saw_temp ? DNS_BAD : DNS_TEMP);
}

/* Ask for name, from the first server on. */
static int
sub_ask(struct dns_sub *s, const char *name)
{
	int n;

	if (strlcpy(s->name, name, sizeof(s->name)) >= sizeof(s->name) ||
	    (n = dns_build_query(s->pkt + 2, sizeof(s->pkt) - 2, 0, name,
	    s->type)) < 0)
		return -1;
	s->pktlen = (size_t)n;
	s->tries = s->saw_bad = s->saw_temp = 0;
	sub_try(s);
	return 0;
}

static void
keep_results(struct dns_sub *s, const struct dns_answer *ans)
{
	struct dns_query *q = s->q;
	unsigned key[DNS_MX_MAX];
	int i;

	if (s->type == DNS_T_MX) {
		if ((q->mx = malloc((size_t)ans->nmx * sizeof(*q->mx))) ==
		    NULL) {
			sub_done(s, DNS_TEMP);
			return;
		}
		memcpy(q->mx, ans->mx, (size_t)ans->nmx * sizeof(*q->mx));
		q->nmx = ans->nmx;
		for (i = 0; i < q->nmx; i++)
			key[i] = random16();
		dns_sort_mx(q->mx, key, q->nmx);
	} else {
		memcpy(s->addr, ans->addr, (size_t)ans->naddr *
		    sizeof(s->addr[0]));
		s->naddr = ans->naddr;
	}
	sub_done(s, DNS_OK);
}

/* What an answer from the server means for the sub. */
static void
sub_answer(struct dns_sub *s, const unsigned char *p, size_t n, int tcp)
{
	static struct dns_answer ans;	/* 9 KB: not on the stack */
	int r;

	r = dns_parse_answer(s->pkt + 2, s->pktlen, p, n, tcp,
	    DNS_CNAME_MAX - s->hops, &ans);
	if (r == DNS_IGNORE && tcp)
		r = DNS_BAD;		/* our own connection: no stray packets */
	switch (r) {
	case DNS_IGNORE:
		log_debug("dns: %s %s: unrelated answer from %s dropped",
		    s->name, type_name(s->type), s->srv.name);
		break;
	case DNS_TRUNC:
		sub_close(s);
		/* The length in front (an earlier TCP answer wrote there). */
		s->pkt[0] = (unsigned char)(s->pktlen >> 8);
		s->pkt[1] = (unsigned char)(s->pktlen & 0xff);
		s->done = 0;
		s->state = SUB_TCP_WRITE;
		log_debug("dns: %s %s: truncated, asking %s over TCP",
		    s->name, type_name(s->type), s->srv.name);
		if (sub_socket(s, SOCK_STREAM, EV_WRITE) < 0) {
			s->saw_temp = 1;
			sub_try(s);
		}
		break;
	case DNS_TEMP:
	case DNS_BAD:
		log_debug("dns: %s %s: %s from %s", s->name, type_name(s->type),
		    r == DNS_TEMP ? "error" : "malformed answer", s->srv.name);
		if (r == DNS_TEMP)
			s->saw_temp = 1;
		else
			s->saw_bad = 1;
		sub_try(s);
		break;
	case DNS_CNAME:
		s->hops += ans.hops;
		log_debug("dns: %s %s: alias of %s", s->name,
		    type_name(s->type), ans.target);
		sub_close(s);
		if (sub_ask(s, ans.target) < 0)
			sub_done(s, DNS_BAD);
		break;
	case DNS_OK:
		keep_results(s, &ans);
		break;
	default:
		sub_done(s, r);
	}
}

static void
udp_read(int fd, int what, void *arg)
{
	static unsigned char buf[DNS_UDP_BUF];
	struct dns_sub *s = arg;
	union sockaddr_any from;
	socklen_t fromlen;
	ssize_t n;
	int i;

	(void)what;
	for (i = 0; i < DNS_READS && s->fd == fd && s->state == SUB_UDP; i++) {
		fromlen = sizeof(from);
		memset(&from, 0, sizeof(from));
		n = recvfrom(fd, (void *)buf, sizeof(buf), 0, &from.sa,
		    &fromlen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			/* ECONNREFUSED: the ICMP "port unreachable" */
			log_debug("dns: %s %s from %s: %s", s->name,
			    type_name(s->type), s->srv.name, strerror(errno));
			s->saw_temp = 1;
			sub_try(s);
			return;
		}
		if (!same_peer(&from, &s->srv)) {
			log_debug("dns: %s: answer from elsewhere dropped",
			    s->name);
			continue;
		}
		/* A full buffer may be a cut datagram: get it whole. */
		if ((size_t)n == sizeof(buf) && n > 3)
			buf[2] |= 0x02;
		sub_answer(s, buf, (size_t)n, 0);
	}
}

/*
 * How a read or write that returned n went: 1 moved data, 0 try again
 * when ready, -1 failed (*why says how).
 */
static int
io_result(ssize_t n, const char **why)
{
	if (n > 0)
		return 1;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 0;
	*why = n == 0 ? "connection closed" : strerror(errno);
	return -1;
}

/* The 2-byte length and the question out: 1 when all is sent. */
static int
tcp_send(struct dns_sub *s, int fd, const char **why)
{
	socklen_t len = sizeof(int);
	ssize_t n;
	int err = 0, r;

	/* The first readiness tells how the non-blocking connect() went. */
	if (s->done == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, (void *)&err,
	    &len) < 0 || err != 0)) {
		*why = strerror(err != 0 ? err : errno);
		return -1;
	}
	n = write(fd, s->pkt + s->done, s->pktlen + 2 - s->done);
	if ((r = io_result(n, why)) <= 0)
		return r;
	s->done += (size_t)n;
	return s->done == s->pktlen + 2;
}

/* The answer's length, then the answer: 1 when it is all in tcpbuf. */
static int
tcp_recv(struct dns_sub *s, int fd, const char **why)
{
	ssize_t n;
	int r;

	if (s->tcpbuf == NULL) {
		/* Into the length bytes of pkt: sent, no longer needed. */
		n = read(fd, s->pkt + s->done, 2 - s->done);
		if ((r = io_result(n, why)) <= 0)
			return r;
		if ((s->done += (size_t)n) < 2)
			return 0;
		/* The 16-bit length bounds the buffer at 64 KB. */
		s->tcplen = (size_t)s->pkt[0] << 8 | s->pkt[1];
		s->done = 0;
		*why = "answer too short";
		if (s->tcplen < DNS_HDR_LEN)
			return -1;
		*why = "out of memory";
		if ((s->tcpbuf = malloc(s->tcplen)) == NULL)
			return -1;
	}
	n = read(fd, s->tcpbuf + s->done, s->tcplen - s->done);
	if ((r = io_result(n, why)) <= 0)
		return r;
	s->done += (size_t)n;
	return s->done == s->tcplen;
}

static void
tcp_io(int fd, int what, void *arg)
{
	struct dns_sub *s = arg;
	const char *why = "";
	int r;

	(void)what;
	if (s->state == SUB_TCP_WRITE) {
		if ((r = tcp_send(s, fd, &why)) == 1) {
			s->state = SUB_TCP_READ;
			s->done = 0;
			why = "too many descriptors";
			r = ev_io(fd, EV_READ, tcp_io, s) < 0 ? -1 : 0;
		}
	} else if ((r = tcp_recv(s, fd, &why)) == 1) {
		sub_answer(s, s->tcpbuf, s->tcplen, 1);
		return;
	}
	if (r < 0) {
		log_debug("dns: %s %s over TCP from %s: %s", s->name,
		    type_name(s->type), s->srv.name, why);
		s->saw_temp = 1;
		sub_try(s);
	}
}

static void
sub_timeout(void *arg)
{
	struct dns_sub *s = arg;

	log_debug("dns: %s %s: no answer from %s in %d s", s->name,
	    type_name(s->type), s->srv.name, timeout_s);
	s->saw_temp = 1;
	sub_try(s);
}

/* ---- queries ---- */

static void
q_free(struct dns_query *q)
{
	int i;

	for (i = 0; i < q->nsub; i++) {
		sub_close(&q->sub[i]);
		ev_timer_del(&q->sub[i].timer);
	}
	ev_timer_del(&q->later);
	free(q->mx);
	free(q);
	nqueries--;
}

/* DNS_OK if either has addresses; else NOTFOUND, TEMP, BAD, NODATA. */
static int
addr_status(const struct dns_query *q)
{
	static const int order[] = { DNS_OK, DNS_NOTFOUND, DNS_TEMP, DNS_BAD };
	size_t i;
	int j;

	for (i = 0; i < NELEM(order); i++)
		for (j = 0; j < q->nsub; j++)
			if (q->sub[j].status == order[i])
				return order[i];
	return DNS_NODATA;
}

/* The callback, from the loop; or the deadline of the whole query. */
static void
q_deliver(void *arg)
{
	struct dns_query *q = arg;
	struct dns_addr out[2 * DNS_ADDR_MAX];
	int i, n = 0, status;

	for (i = 0; i < q->nsub; i++)
		if (q->sub[i].state != SUB_DONE) {
			log_debug("dns: %s %s: out of time", q->sub[i].name,
			    type_name(q->sub[i].type));
			sub_close(&q->sub[i]);
			ev_timer_del(&q->sub[i].timer);
			q->sub[i].state = SUB_DONE;
			q->sub[i].status = DNS_TEMP;
		}
	q->in_callback = 1;
	if (q->kind == Q_MX) {
		status = q->sub[0].status;
		if (status == DNS_OK && q->nmx > 0)
			q->mxfn(q->arg, status, q->mx, q->nmx);
		else
			q->mxfn(q->arg, status == DNS_OK ? DNS_BAD : status,
			    NULL, 0);
	} else {
		status = addr_status(q);
		for (i = 0; status == DNS_OK && i < q->nsub; i++) {
			memcpy(out + n, q->sub[i].addr,
			    (size_t)q->sub[i].naddr * sizeof(out[0]));
			n += q->sub[i].naddr;
		}
		q->addrfn(q->arg, status, n > 0 ? out : NULL, n);
	}
	q_free(q);
}

static struct dns_query *
q_new(int kind, int nsub)
{
	struct dns_query *q;
	unsigned long guard;
	int i;

	if (!loaded)
		(void)dns_reload();
	if (nqueries >= DNS_MAX_QUERIES) {
		log_debug("dns: %d queries running, no more", nqueries);
		return NULL;
	}
	if ((q = malloc(sizeof(*q))) == NULL)
		return NULL;
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->nsub = nsub;
	ev_timer_init(&q->later, q_deliver, q);
	for (i = 0; i < nsub; i++) {
		q->sub[i].q = q;
		q->sub[i].fd = -1;
		q->sub[i].state = SUB_UDP;
		ev_timer_init(&q->sub[i].timer, sub_timeout, &q->sub[i]);
	}
	/* Every server tried in every round, twice (a CNAME asked again,
	 * or TCP after UDP), and a few seconds over: then it is TEMP. */
	guard = ((unsigned long)timeout_s * attempts * nservers * 2 + 5) *
	    1000;
	if (ev_timer_set(&q->later, guard) < 0) {
		free(q);
		return NULL;
	}
	nqueries++;
	return q;
}

/* Start a sub; a name we refuse ends it at once (called back later). */
static void
q_ask(struct dns_query *q, int i, int type, const char *name)
{
	q->sub[i].type = type;
	if (sub_ask(&q->sub[i], name) < 0) {
		strlcpy(q->sub[i].name, name, sizeof(q->sub[i].name));
		sub_done(&q->sub[i], DNS_BAD);
	}
}

struct dns_query *
dns_mx(const char *domain, dns_mx_fn *fn, void *arg)
{
	struct dns_query *q;
	struct dns_addr lit;

	if ((q = q_new(Q_MX, 1)) == NULL)
		return NULL;
	q->mxfn = fn;
	q->arg = arg;
	if (dns_literal(domain, &lit) == 0) {
		q->sub[0].type = DNS_T_MX;
		if ((q->mx = malloc(sizeof(*q->mx))) == NULL) {
			q_free(q);
			return NULL;
		}
		memset(q->mx, 0, sizeof(*q->mx));
		strlcpy(q->mx->host, domain, sizeof(q->mx->host));
		q->nmx = 1;
		strlcpy(q->sub[0].name, domain, sizeof(q->sub[0].name));
		sub_done(&q->sub[0], DNS_OK);
	} else
		q_ask(q, 0, DNS_T_MX, domain);
	return q;
}

/*
 * What host names without asking: an address literal, or "localhost"
 * and names under it (RFC 6761 6.3: loopback, never sent to a server).
 * The addresses into s; 0 if host has to be asked for.
 */
static int
addr_known(const char *host, struct dns_sub *s)
{
	unsigned char scratch[DNS_QUERY_MAX];
	size_t n = strlen(host);

	if (dns_literal(host, &s->addr[0]) == 0) {
		s->naddr = 1;
		return 1;
	}
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (!(n == 9 && ascii_ncasecmp(host, "localhost", 9) == 0) &&
	    !(n > 10 && ascii_ncasecmp(host + n - 10, ".localhost", 10) == 0))
		return 0;
	if (dns_build_query(scratch, sizeof(scratch), 0, host, DNS_T_A) < 0)
		return 0;		/* a bad name: asking refuses it */
	s->naddr = 0;
	if (dns_literal("127.0.0.1", &s->addr[s->naddr]) == 0)
		s->naddr++;
#ifdef HAVE_IPV6
	if (dns_literal("::1", &s->addr[s->naddr]) == 0)
		s->naddr++;
#endif
	return 1;
}

struct dns_query *
dns_addr(const char *host, dns_addr_fn *fn, void *arg)
{
	struct dns_query *q;
	struct dns_sub known;

#ifdef HAVE_IPV6
	int nsub = 2;
#else
	int nsub = 1;		/* no AAAA: we could not connect to one */
#endif
	memset(&known, 0, sizeof(known));
	if (addr_known(host, &known))
		nsub = 1;
	if ((q = q_new(Q_ADDR, nsub)) == NULL)
		return NULL;
	q->addrfn = fn;
	q->arg = arg;
	if (known.naddr > 0) {
		q->sub[0].type = DNS_T_A;
		memcpy(q->sub[0].addr, known.addr, sizeof(known.addr));
		q->sub[0].naddr = known.naddr;
		strlcpy(q->sub[0].name, host, sizeof(q->sub[0].name));
		sub_done(&q->sub[0], DNS_OK);
		return q;
	}
	q_ask(q, 0, DNS_T_A, host);
	if (nsub > 1)
		q_ask(q, 1, DNS_T_AAAA, host);
	return q;
}

void
dns_cancel(struct dns_query *q)
{
	if (q == NULL || q->in_callback)
		return;
	log_debug("dns: %s cancelled", q->sub[0].name);
	q_free(q);
}

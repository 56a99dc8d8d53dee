/*
 * dns.h - our own small DNS client, inside the one loop (issue 6).
 *
 * Why not getaddrinfo()/res_query(): both block, and DESIGN.md says no
 * call may block the loop.  A helper process would need a protocol of
 * its own and a second thing to restart; a stub resolver that sends one
 * UDP question to a recursive server and checks the answer is a few
 * hundred lines.  So: MX, A, AAAA and CNAME over UDP (TCP when the
 * answer is truncated), to the servers of resolv.conf or of the
 * configuration, with timeouts and retries on ev timers.
 *
 * Every callback is called exactly once, from the loop, never from
 * inside the call that started the query; after it has run the query no
 * longer exists.  dns_cancel() before that means it is never called.
 */
#ifndef YUBIN_DNS_H
#define YUBIN_DNS_H

#include <stddef.h>

#define DNS_OK		0
#define DNS_NOTFOUND	1	/* NXDOMAIN: the name does not exist (permanent) */
#define DNS_NODATA	2	/* the name exists but has no record of that type */
#define DNS_TEMP	3	/* timeout, SERVFAIL, network error: try later */
#define DNS_BAD		4	/* a malformed name or answer we refuse (permanent) */

/*
 * Limits (STYLE.md habit 12; params.h may override them).  A query
 * holds at most these many records of an answer: more than 32 MX hosts
 * is never useful (we keep the 32 most preferred), and 32 addresses per
 * family are more than a mail client will ever try.
 */
#ifndef DNS_MX_MAX
#define DNS_MX_MAX	32
#endif
#ifndef DNS_ADDR_MAX
#define DNS_ADDR_MAX	32	/* per family, so 64 for dns_addr() */
#endif
/* CNAMEs followed for one question, in answers and re-asked together:
 * chains of 3-4 exist (CDNs); 8 is what BIND and Unbound allow. */
#ifndef DNS_CNAME_MAX
#define DNS_CNAME_MAX	8
#endif
/* When A or AAAA has addresses, how much longer the other may take
 * before dns_addr() answers with what it has. */
#ifndef DNS_GRACE_MS
#define DNS_GRACE_MS	1000
#endif
/* Queries alive at once; beyond it dns_mx()/dns_addr() return NULL.
 * Each holds one or two sockets while it waits, so this also bounds
 * the descriptors DNS takes from FD_SETSIZE. */
#ifndef DNS_MAX_QUERIES
#define DNS_MAX_QUERIES	256
#endif
/* resolv.conf(5): at most 3 servers (MAXNS), timeout 5 s, 2 attempts,
 * and the caps glibc puts on the options. */
#define DNS_MAXNS		3
#define DNS_TIMEOUT		5
#define DNS_ATTEMPTS		2
#define DNS_TIMEOUT_CAP		30
#define DNS_ATTEMPTS_CAP	5
#define DNS_RESOLV_CONF		"/etc/resolv.conf"

/*
 * One MX record.  host is the exchanger in presentation form without
 * the final dot (letters, digits, '-', '_' only; anything else in an
 * answer is refused), at most 253 characters.  A "null MX" (RFC 7505:
 * the domain accepts no mail) comes back as a host "" (the root); and
 * dns_addr("") is DNS_BAD, so a caller that does not look still fails
 * for good.
 */
struct dns_mx {
	char		host[256];
	unsigned	pref;
};
struct dns_addr {
	int		family;		/* 4 or 6 */
	unsigned char	addr[16];	/* network order; IPv4 in the first 4 */
};

typedef void dns_mx_fn(void *arg, int status, const struct dns_mx *mx, int n);
typedef void dns_addr_fn(void *arg, int status, const struct dns_addr *a,
    int n);

struct dns_query;

/*
 * The MX records of domain, sorted by preference, equal preferences in
 * random order (RFC 5321 5.1); CNAME chains followed (DNS_CNAME_MAX).
 * mx/n are valid only during the call, and n > 0 only with DNS_OK.
 *
 * DNS_NODATA means the domain exists without MX: RFC 5321 5.1 then
 * makes the domain itself the only exchanger (implicit MX, preference
 * 0): call dns_addr(domain).  DNS_NOTFOUND must not fall back.
 *
 * An address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]" or bare)
 * asks nothing: it comes back, as the one host of preference 0, for
 * dns_addr() to answer from the literal.
 *
 * NULL: not started (DNS_MAX_QUERIES alive, or no memory); fn will not
 * be called; treat it as DNS_TEMP.
 */
struct dns_query *dns_mx(const char *domain, dns_mx_fn *fn, void *arg);
/*
 * The addresses of host: A and AAAA asked together, CNAMEs followed,
 * IPv4 addresses first, then IPv6.  IPv4 first because the labs this is
 * for are often IPv4-only while their resolvers still answer AAAA, and
 * a connect() to an unreachable IPv6 address costs a timeout per MX
 * host.  Without IPv6 support (no HAVE_IPV6) AAAA is not asked.
 * When one family has its answer, the other has DNS_GRACE_MS more.
 * DNS_OK if either family has addresses; otherwise NOTFOUND if either
 * says the name does not exist, then TEMP, BAD, NODATA in that order.
 * An address literal ("192.0.2.1", "[192.0.2.1]", "::1", "[IPv6:::1]")
 * is answered from itself without a question, still from the loop, and
 * so are "localhost" and names under it (127.0.0.1 and ::1, RFC 6761).
 * /etc/hosts is not read: sites without DNS use route lines.
 * NULL as for dns_mx().
 */
struct dns_query *dns_addr(const char *host, dns_addr_fn *fn, void *arg);
/* Stop a query whose callback has not run yet; it will not run.
 * Calling it from inside that query's own callback does nothing. */
void dns_cancel(struct dns_query *q);
/*
 * Re-read the servers (SIGHUP): config->dns_servers ("ADDR[:PORT]",
 * "[V6ADDR]:PORT") when it is not empty, otherwise the nameserver lines
 * of config->resolv_conf; the timeout and attempts options come from
 * that file either way.  No server at all means 127.0.0.1.  -1 (and
 * the old list kept) if the file cannot be read or an entry is bad.
 * Queries already running carry on with the new list.  Called by the
 * first query if nobody called it before.
 */
int dns_reload(void);
/* Queries alive (tests, shutdown). */
int dns_pending(void);
/* "SERVER... timeout N attempts N" for logs and tests. */
void dns_describe(char *out, size_t outlen);

#endif

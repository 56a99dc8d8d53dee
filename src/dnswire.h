/*
 * dnswire.h - the DNS message format (RFC 1035 section 4) as pure
 * functions: a question built into a buffer, an answer checked against
 * the question it answers.  No I/O, no state: dns.c does the talking,
 * and tests feed these crafted packets.
 */
#ifndef YUBIN_DNSWIRE_H
#define YUBIN_DNSWIRE_H

#include <stddef.h>

#include "dns.h"

#define DNS_T_A		1
#define DNS_T_CNAME	5
#define DNS_T_MX	15
#define DNS_T_AAAA	28
#define DNS_C_IN	1

#define DNS_HDR_LEN	12
/* A name is at most 255 octets in wire form (RFC 1035 2.3.4), which is
 * at most 253 characters written out without the final dot. */
#define DNS_NAME_MAX	255
#define DNS_QUERY_MAX	(DNS_HDR_LEN + DNS_NAME_MAX + 4)
/*
 * Compression pointers followed for one name.  A name has at most 127
 * labels, and a pointer that leads only to another pointer adds nothing,
 * so a legitimate name never needs more; it is a second guard beside
 * "pointers only point backwards" (RFC 1035 4.1.4: "a prior occurrence")
 * and the 255-octet limit, either of which already ends every loop.
 */
#define DNS_PTR_MAX	127

/* dns_parse_answer() results beside DNS_OK .. DNS_BAD */
#define DNS_IGNORE	(-1)	/* not an answer to this question: drop it */
#define DNS_TRUNC	(-2)	/* TC over UDP: ask again over TCP */
#define DNS_CNAME	(-3)	/* a CNAME chain ends without the data here:
				   ask again for a->target */

struct dns_answer {
	int		rcode;		/* RFC 1035 4.1.1, -1 if not read */
	int		hops;		/* CNAMEs followed in this answer */
	char		target[256];	/* the name the records are for */
	struct dns_mx	mx[DNS_MX_MAX];	/* in the order received */
	int		nmx;
	struct dns_addr	addr[DNS_ADDR_MAX];
	int		naddr;
};

/*
 * The question (name, type, class IN, RD set) with ID id into buf.
 * name is a host or domain name, with or without the final dot, of
 * labels of letters, digits, '-' and '_'.  Returns the length, or -1 for
 * a name we refuse or a buffer too small.
 */
int dns_build_query(unsigned char *buf, size_t size, unsigned id,
    const char *name, int type);
/*
 * Check pkt[0..len) as the answer to query[0..qlen) (as built above)
 * and fill a.  tcp: it came over TCP (TC is then not a reason to ask
 * again).  At most hops_left CNAMEs are followed (more: DNS_BAD).
 * Returns:
 *   DNS_IGNORE	  wrong ID, not a response, another question: drop it
 *   DNS_TRUNC	  truncated, ask over TCP
 *   DNS_TEMP	  SERVFAIL, REFUSED and other errors: ask another server
 *   DNS_BAD	  malformed (a length or pointer out of bounds, a name too
 *		  long, a record of the wrong size, MX hosts none usable)
 *   DNS_NOTFOUND NXDOMAIN
 *   DNS_NODATA	  the name exists without records of the type
 *   DNS_CNAME	  the name is an alias of a->target, whose records are not
 *		  in this answer
 *   DNS_OK	  a->mx or a->addr hold the records of a->target
 */
int dns_parse_answer(const unsigned char *query, size_t qlen,
    const unsigned char *pkt, size_t len, int tcp, int hops_left,
    struct dns_answer *a);
/*
 * An address literal: "192.0.2.1", "2001:db8::1", "[192.0.2.1]",
 * "[IPv6:2001:db8::1]" (RFC 5321 4.1.3).  0 and a filled, or -1.
 */
int dns_literal(const char *s, struct dns_addr *a);
/* Sort by preference; key[i] (random) orders equal preferences. */
void dns_sort_mx(struct dns_mx *mx, unsigned *key, int n);

#endif

/*
 * test_dns.c - unit tests of src/dnswire.c (crafted packets: truncated,
 * pointer loops, oversized names, wrong IDs, CNAME chains, many MX
 * records, AAAA, NXDOMAIN) and of src/dns.c in the loop, against fake
 * servers in this same process on 127.0.0.1: UDP and TCP, a server that
 * never answers, one that fails, one that forges, one that is not there.
 * TEST_DEBUG=1 in the environment shows dns.c's debug log.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "dns.h"
#include "dnswire.h"
#include "ev.h"
#include "log.h"
#include "util.h"

/* ---- crafting packets ---- */

struct pkt {
	unsigned char	b[65536];
	size_t		n;
};

static void
put8(struct pkt *p, unsigned v)
{
	if (p->n < sizeof(p->b))
		p->b[p->n++] = (unsigned char)(v & 0xff);
}

static void
put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v);
}

/* A name, uncompressed; "" is the root. */
static void
put_name(struct pkt *p, const char *name)
{
	const char *dot;
	size_t len;

	while (*name != '\0') {
		dot = strchr(name, '.');
		len = dot != NULL ? (size_t)(dot - name) : strlen(name);
		put8(p, (unsigned)len);
		while (len-- > 0)
			put8(p, (unsigned char)*name++);
		if (*name == '.')
			name++;
	}
	put8(p, 0);
}

/* The reply to query q: header with rcode and flags, the question. */
static void
reply_start(struct pkt *p, const unsigned char *q, size_t qlen,
    unsigned rcode)
{
	memcpy(p->b, q, qlen);
	p->n = qlen;
	p->b[2] = 0x81;			/* QR, RD */
	p->b[3] = (unsigned char)(0x80 | rcode);	/* RA */
}

/* A record's head (owner NULL: a pointer to the question's name); the
 * offset of its data, for rr_end(). */
static size_t
rr_head(struct pkt *p, const char *owner, unsigned type)
{
	unsigned an = (unsigned)p->b[6] << 8 | p->b[7];

	an++;
	p->b[6] = (unsigned char)(an >> 8);
	p->b[7] = (unsigned char)(an & 0xff);
	if (owner == NULL)
		put16(p, 0xc00c);
	else
		put_name(p, owner);
	put16(p, type);
	put16(p, DNS_C_IN);
	put16(p, 0);
	put16(p, 300);
	put16(p, 0);
	return p->n;
}

static void
rr_end(struct pkt *p, size_t start)
{
	p->b[start - 2] = (unsigned char)((p->n - start) >> 8);
	p->b[start - 1] = (unsigned char)((p->n - start) & 0xff);
}

static void
add_mx(struct pkt *p, const char *owner, unsigned pref, const char *host)
{
	size_t at = rr_head(p, owner, DNS_T_MX);

	put16(p, pref);
	put_name(p, host);
	rr_end(p, at);
}

static void
add_a(struct pkt *p, const char *owner, unsigned a, unsigned b, unsigned c,
    unsigned d)
{
	size_t at = rr_head(p, owner, DNS_T_A);

	put8(p, a);
	put8(p, b);
	put8(p, c);
	put8(p, d);
	rr_end(p, at);
}

static void
add_aaaa(struct pkt *p, const char *owner, unsigned last)
{
	static const unsigned char pre[] = { 0x20, 0x01, 0x0d, 0xb8 };
	size_t at = rr_head(p, owner, DNS_T_AAAA), i;

	for (i = 0; i < 15; i++)
		put8(p, i < 4 ? pre[i] : 0);
	put8(p, last);
	rr_end(p, at);
}

static void
add_cname(struct pkt *p, const char *owner, const char *target)
{
	size_t at = rr_head(p, owner, DNS_T_CNAME);

	put_name(p, target);
	rr_end(p, at);
}

/* ---- the wire format ---- */

static unsigned char qbuf[DNS_QUERY_MAX];
static size_t qlen;
static struct pkt r;
static struct dns_answer ans;

static void
ask(const char *name, int type)
{
	int n = dns_build_query(qbuf, sizeof(qbuf), 0x4242, name, type);

	CHECK(n > 0);
	qlen = n > 0 ? (size_t)n : 0;
}

static int
parse(int tcp)
{
	return dns_parse_answer(qbuf, qlen, r.b, r.n, tcp, DNS_CNAME_MAX,
	    &ans);
}

static void
test_build(void)
{
	static const unsigned char want[] = {
		0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'O', 'M', 0,
		0, 15, 0, 1 };
	unsigned char buf[DNS_QUERY_MAX];
	char name[400];
	int i;

	CHECK(dns_build_query(buf, sizeof(buf), 0x1234, "Example.COM",
	    DNS_T_MX) == (int)sizeof(want));
	CHECK(memcmp(buf, want, sizeof(want)) == 0);
	CHECK(dns_build_query(buf, sizeof(buf), 0x1234, "Example.COM.",
	    DNS_T_MX) == (int)sizeof(want));
	CHECK(dns_build_query(buf, sizeof(want) - 1, 1, "Example.COM",
	    DNS_T_MX) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, "", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, ".", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, "a..b", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, ".a", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, "a.b..", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, "a b", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, "a\nb", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, "a>b.c", DNS_T_A) == -1);
	CHECK(dns_build_query(buf, sizeof(buf), 1, "_x-1.b", DNS_T_A) > 0);
	/* labels of 63 are fine, 64 are not */
	memset(name, 'a', 64);
	name[64] = '\0';
	CHECK(dns_build_query(buf, sizeof(buf), 1, name, DNS_T_A) == -1);
	name[63] = '\0';
	CHECK(dns_build_query(buf, sizeof(buf), 1, name, DNS_T_A) > 0);
	/* 255 octets in wire form: 3 labels of 63 and one of 61 */
	memset(name, 'a', sizeof(name));
	for (i = 63; i < 256; i += 64)
		name[i] = '.';
	name[253] = '\0';
	CHECK(dns_build_query(buf, sizeof(buf), 1, name, DNS_T_A) ==
	    DNS_HDR_LEN + 255 + 4);
	name[253] = 'a';
	name[254] = '\0';
	CHECK(dns_build_query(buf, sizeof(buf), 1, name, DNS_T_A) == -1);
}

static void
test_header(void)
{
	size_t full, i;
	int ret, bad = 0;

	ask("mx.test", DNS_T_MX);
	reply_start(&r, qbuf, qlen, 0);
	add_mx(&r, NULL, 10, "b.mx.test");
	add_mx(&r, NULL, 10, "a.mx.test");
	add_mx(&r, "mx.test", 5, "c.mx.test");
	full = r.n;
	CHECK(parse(0) == DNS_OK);
	CHECK(ans.nmx == 3 && strcmp(ans.target, "mx.test") == 0);
	CHECK(ans.nmx == 3 && ans.mx[2].pref == 5 &&
	    strcmp(ans.mx[2].host, "c.mx.test") == 0);
	/* every shorter packet is refused or dropped, never read past */
	for (i = 0; i < full; i++) {
		r.n = i;
		ret = parse(0);
		if (ret != DNS_IGNORE && ret != DNS_BAD)
			bad++;
	}
	CHECK(bad == 0);
	r.n = full;
	/* not ours */
	r.b[1] ^= 1;
	CHECK(parse(0) == DNS_IGNORE);
	r.b[1] ^= 1;
	r.b[2] &= 0x7f;
	CHECK(parse(0) == DNS_IGNORE);	/* a query, not a response */
	r.b[2] |= 0x80;
	r.b[2] |= 0x10;
	CHECK(parse(0) == DNS_IGNORE);	/* another opcode */
	r.b[2] &= ~0x10;
	r.b[DNS_HDR_LEN + 4] = 'u';	/* mx.tesu */
	CHECK(parse(0) == DNS_IGNORE);
	r.b[DNS_HDR_LEN + 4] = 'T';	/* case does not matter */
	CHECK(parse(0) == DNS_OK);
	r.b[DNS_HDR_LEN + 10] = DNS_T_A;	/* another type */
	CHECK(parse(0) == DNS_IGNORE);
	r.b[DNS_HDR_LEN + 10] = DNS_T_MX;
	r.b[5] = 2;
	CHECK(parse(0) == DNS_IGNORE);
	r.b[5] = 1;
	CHECK(parse(0) == DNS_OK);
	/* a shorter query is no query */
	CHECK(dns_parse_answer(qbuf, 11, r.b, r.n, 0, 8, &ans) == DNS_IGNORE);
	/* extra bytes after the records are harmless */
	put8(&r, 0xff);
	CHECK(parse(0) == DNS_OK);
}

static void
test_rcodes(void)
{
	ask("nx.test", DNS_T_A);
	reply_start(&r, qbuf, qlen, 3);
	CHECK(parse(0) == DNS_NOTFOUND);
	reply_start(&r, qbuf, qlen, 2);
	CHECK(parse(0) == DNS_TEMP);
	reply_start(&r, qbuf, qlen, 5);
	CHECK(parse(0) == DNS_TEMP);
	reply_start(&r, qbuf, qlen, 0);
	CHECK(parse(0) == DNS_NODATA);
	r.b[3] = 0;			/* no RA, no AA: a referral */
	CHECK(parse(0) == DNS_TEMP);
	r.b[2] |= 0x04;			/* AA */
	CHECK(parse(0) == DNS_NODATA);
	/* FORMERR without the question */
	reply_start(&r, qbuf, DNS_HDR_LEN, 1);
	r.b[5] = 0;
	CHECK(parse(0) == DNS_TEMP);
	reply_start(&r, qbuf, DNS_HDR_LEN, 0);
	r.b[5] = 0;
	CHECK(parse(0) == DNS_IGNORE);
	/* truncated: over UDP ask again, over TCP take it */
	reply_start(&r, qbuf, qlen, 0);
	r.b[2] |= 0x02;
	add_a(&r, NULL, 192, 0, 2, 1);
	CHECK(parse(0) == DNS_TRUNC);
	CHECK(parse(1) == DNS_OK && ans.naddr == 1);
	/* an A answer with only AAAA and other classes in it */
	reply_start(&r, qbuf, qlen, 0);
	add_aaaa(&r, NULL, 1);
	add_a(&r, NULL, 192, 0, 2, 1);
	r.b[r.n - 4 - 10 + 3] = 3;	/* class CH */
	CHECK(parse(0) == DNS_NODATA);
}

static void
test_names(void)
{
	size_t at, p;
	int i, k;

	ask("mx.test", DNS_T_MX);
	/* an owner that points at itself */
	reply_start(&r, qbuf, qlen, 0);
	r.b[7] = 1;
	put16(&r, 0xc000 | (unsigned)r.n);
	put16(&r, DNS_T_MX);
	CHECK(parse(0) == DNS_BAD);
	/* a pointer forwards */
	reply_start(&r, qbuf, qlen, 0);
	r.b[7] = 1;
	put16(&r, 0xc000 | (unsigned)(r.n + 2));
	put_name(&r, "mx.test");
	CHECK(parse(0) == DNS_BAD);
	/* a pointer past the end */
	reply_start(&r, qbuf, qlen, 0);
	r.b[7] = 1;
	put16(&r, 0xffff);
	CHECK(parse(0) == DNS_BAD);
	/* a label and a pointer back to it: a loop through the label */
	reply_start(&r, qbuf, qlen, 0);
	at = rr_head(&r, NULL, DNS_T_MX);
	put16(&r, 10);
	p = r.n;
	put8(&r, 1);
	put8(&r, 'a');
	put16(&r, 0xc000 | (unsigned)p);
	rr_end(&r, at);
	CHECK(parse(0) == DNS_BAD);
	/* a chain of pointers each to the one before (carried in a record
	 * of a type we skip), and an MX host that points at its end */
	for (k = 0; k < 2; k++) {
		reply_start(&r, qbuf, qlen, 0);
		at = rr_head(&r, NULL, 99);
		put16(&r, 0xc00c);
		for (i = 0; i < (k == 0 ? 3 : DNS_PTR_MAX); i++)
			put16(&r, 0xc000 | (unsigned)(r.n - 2));
		p = r.n - 2;
		rr_end(&r, at);
		at = rr_head(&r, NULL, DNS_T_MX);
		put16(&r, 10);
		put16(&r, 0xc000 | (unsigned)p);
		rr_end(&r, at);
		if (k == 0)
			CHECK(parse(0) == DNS_OK && ans.nmx == 1 &&
			    strcmp(ans.mx[0].host, "mx.test") == 0);
		else
			CHECK(parse(0) == DNS_BAD);
	}
	/* an MX host of 257 octets: four labels of 63 */
	reply_start(&r, qbuf, qlen, 0);
	at = rr_head(&r, NULL, DNS_T_MX);
	put16(&r, 10);
	for (i = 0; i < 4; i++) {
		put8(&r, 63);
		for (k = 0; k < 63; k++)
			put8(&r, 'x');
	}
	put8(&r, 0);
	rr_end(&r, at);
	CHECK(parse(0) == DNS_BAD);
	/* the same, made long by a pointer to a name of 129 octets */
	reply_start(&r, qbuf, qlen, 0);
	at = rr_head(&r, NULL, DNS_T_MX);
	put16(&r, 10);
	p = r.n;
	for (i = 0; i < 2; i++) {
		put8(&r, 63);
		for (k = 0; k < 63; k++)
			put8(&r, 'y');
	}
	put8(&r, 0);
	rr_end(&r, at);
	CHECK(parse(0) == DNS_OK && ans.nmx == 1 &&
	    strlen(ans.mx[0].host) == 127);
	at = rr_head(&r, NULL, DNS_T_MX);
	put16(&r, 10);
	put8(&r, 63);
	for (i = 0; i < 63; i++)
		put8(&r, 'z');
	put8(&r, 63);
	for (i = 0; i < 63; i++)
		put8(&r, 'z');
	put16(&r, 0xc000 | (unsigned)p);	/* 128 + 129 > 255 */
	rr_end(&r, at);
	CHECK(parse(0) == DNS_BAD);
	/* the extended label types */
	reply_start(&r, qbuf, qlen, 0);
	at = rr_head(&r, NULL, DNS_T_MX);
	put16(&r, 10);
	put8(&r, 0x41);
	put8(&r, 0);
	rr_end(&r, at);
	CHECK(parse(0) == DNS_BAD);
	/* record data past the end of the packet */
	reply_start(&r, qbuf, qlen, 0);
	add_mx(&r, NULL, 10, "a.test");
	r.b[r.n - 12] = 0x7f;		/* RDLENGTH 0x7f0a */
	CHECK(parse(0) == DNS_BAD);
	/* an MX name that ends before its record does */
	reply_start(&r, qbuf, qlen, 0);
	at = rr_head(&r, NULL, DNS_T_MX);
	put16(&r, 10);
	put_name(&r, "a.test");
	put8(&r, 0);
	rr_end(&r, at);
	CHECK(parse(0) == DNS_BAD);
	/* MX data too short for a name */
	reply_start(&r, qbuf, qlen, 0);
	at = rr_head(&r, NULL, DNS_T_MX);
	put16(&r, 10);
	rr_end(&r, at);
	CHECK(parse(0) == DNS_BAD);
	/* a host with a byte SMTP must not see: skipped, and if it was
	 * the only one, the answer is refused (RFC 5321 5.1) */
	reply_start(&r, qbuf, qlen, 0);
	add_mx(&r, NULL, 10, "mx\r.test");
	CHECK(parse(0) == DNS_BAD);
	add_mx(&r, NULL, 20, "ok.test");
	CHECK(parse(0) == DNS_OK && ans.nmx == 1 &&
	    strcmp(ans.mx[0].host, "ok.test") == 0);
	/* the null MX (RFC 7505) */
	reply_start(&r, qbuf, qlen, 0);
	add_mx(&r, NULL, 0, "");
	CHECK(parse(0) == DNS_OK && ans.nmx == 1 && ans.mx[0].host[0] == '\0');
	/* A and AAAA of the wrong size */
	ask("h.test", DNS_T_A);
	reply_start(&r, qbuf, qlen, 0);
	at = rr_head(&r, NULL, DNS_T_A);
	put16(&r, 1);
	put16(&r, 2);
	put8(&r, 3);
	rr_end(&r, at);
	CHECK(parse(0) == DNS_BAD);
	ask("h.test", DNS_T_AAAA);
	reply_start(&r, qbuf, qlen, 0);
	add_a(&r, NULL, 1, 2, 3, 4);
	r.b[r.n - 4 - 10 + 1] = DNS_T_AAAA;
	CHECK(parse(0) == DNS_BAD);
}

static void
test_answers(void)
{
	unsigned seen = 0;
	int i;

	/* AAAA */
	ask("h.test", DNS_T_AAAA);
	reply_start(&r, qbuf, qlen, 0);
	add_aaaa(&r, NULL, 1);
	add_aaaa(&r, "H.TEST", 2);
	add_aaaa(&r, "other.test", 3);
	CHECK(parse(0) == DNS_OK && ans.naddr == 2);
	CHECK(ans.addr[0].family == 6 && ans.addr[0].addr[0] == 0x20 &&
	    ans.addr[0].addr[3] == 0xb8 && ans.addr[0].addr[15] == 1);
	CHECK(ans.addr[1].family == 6 && ans.addr[1].addr[15] == 2);
	/* a CNAME chain, in any order, with a decoy on the way */
	ask("www.test", DNS_T_A);
	reply_start(&r, qbuf, qlen, 0);
	add_a(&r, "c2.test", 192, 0, 2, 3);
	add_cname(&r, "c1.test", "c2.test");
	add_a(&r, "c1.test", 6, 6, 6, 6);
	add_cname(&r, NULL, "c1.test");
	CHECK(parse(0) == DNS_OK && ans.naddr == 1 && ans.hops == 2 &&
	    ans.addr[0].family == 4 && ans.addr[0].addr[3] == 3 &&
	    strcmp(ans.target, "c2.test") == 0);
	/* too long for what is left */
	CHECK(dns_parse_answer(qbuf, qlen, r.b, r.n, 0, 1, &ans) == DNS_BAD);
	/* the chain ends without data: ask for c2.test */
	reply_start(&r, qbuf, qlen, 0);
	add_cname(&r, "c1.test", "c2.test");
	add_cname(&r, NULL, "c1.test");
	CHECK(parse(0) == DNS_CNAME && strcmp(ans.target, "c2.test") == 0);
	/* a loop */
	reply_start(&r, qbuf, qlen, 0);
	add_cname(&r, NULL, "c1.test");
	add_cname(&r, "c1.test", "www.test");
	CHECK(parse(0) == DNS_BAD);
	/* a target we would not write out */
	reply_start(&r, qbuf, qlen, 0);
	add_cname(&r, NULL, "c 1.test");
	CHECK(parse(0) == DNS_BAD);
	/* NXDOMAIN at the end of a chain */
	reply_start(&r, qbuf, qlen, 3);
	add_cname(&r, NULL, "c1.test");
	CHECK(parse(0) == DNS_NOTFOUND);
	/* 40 MX records: the 32 most preferred are kept */
	ask("many.test", DNS_T_MX);
	reply_start(&r, qbuf, qlen, 0);
	for (i = 0; i < 40; i++)
		add_mx(&r, NULL, (unsigned)(i * 7 % 40), "mx.many.test");
	CHECK(parse(0) == DNS_OK && ans.nmx == DNS_MX_MAX);
	for (i = 0; i < ans.nmx; i++)
		if (ans.mx[i].pref < 32)
			seen |= 1U << ans.mx[i].pref;
	CHECK(seen == 0xffffffffU);
}

static void
test_literal_sort(void)
{
	struct dns_addr a;
	struct dns_mx mx[4];
	unsigned key[4] = { 3, 2, 1, 4 };
	static const unsigned pref[4] = { 10, 5, 10, 5 };
	int i;

	CHECK(dns_literal("192.0.2.1", &a) == 0 && a.family == 4 &&
	    a.addr[0] == 192 && a.addr[3] == 1);
	CHECK(dns_literal("[192.0.2.1]", &a) == 0 && a.family == 4);
	CHECK(dns_literal("[IPv6:2001:db8::1]", &a) == 0 && a.family == 6 &&
	    a.addr[1] == 1 && a.addr[15] == 1);
	CHECK(dns_literal("[ipv6:::1]", &a) == 0 && a.family == 6);
	CHECK(dns_literal("2001:db8::1", &a) == 0 && a.family == 6);
	CHECK(dns_literal("[IPv6:192.0.2.1]", &a) == -1);
	CHECK(dns_literal("example.com", &a) == -1);
	CHECK(dns_literal("[192.0.2.1", &a) == -1);
	CHECK(dns_literal("[]", &a) == -1);
	CHECK(dns_literal("", &a) == -1);
	CHECK(dns_literal("192.0.2.256", &a) == -1);
	for (i = 0; i < 4; i++) {
		mx[i].pref = pref[i];
		sprintf(mx[i].host, "h%d", i);
	}
	dns_sort_mx(mx, key, 4);
	CHECK(strcmp(mx[0].host, "h1") == 0 && strcmp(mx[1].host, "h3") == 0 &&
	    strcmp(mx[2].host, "h2") == 0 && strcmp(mx[3].host, "h0") == 0);
}

/* ---- fake servers in the loop ---- */

#define FK_SILENT	0	/* reads and never answers */
#define FK_SERVFAIL	1
#define FK_ZONE		2	/* the little zone below */
#define FK_GARBAGE	3	/* right ID and question, broken record */

struct fake {
	int		mode;
	int		udp, tcp;	/* tcp: listening, -1 if none */
	int		conn;		/* one TCP client at a time */
	unsigned char	in[600];
	size_t		inlen;
	unsigned	port;
	int		queries;
	char		spec[32];	/* "127.0.0.1:PORT" */
};

static struct fake fk[4];
static int spoof_fd = -1, asked_localhost;

/* Name and type of a question (as dns_build_query writes them). */
static int
q_parse(const unsigned char *q, size_t n, char *name, unsigned *type)
{
	size_t off = DNS_HDR_LEN, k = 0, len;

	while (off < n && (len = q[off]) != 0) {
		if (off + 1 + len > n || k + len + 1 >= 256)
			return -1;
		if (k > 0)
			name[k++] = '.';
		memcpy(name + k, q + off + 1, len);
		k += len;
		off += 1 + len;
	}
	name[k] = '\0';
	if (off + 5 > n)
		return -1;
	*type = (unsigned)q[off + 1] << 8 | q[off + 2];
	return 0;
}

/* The zone: what a good server answers. */
static void
zone(const unsigned char *q, size_t n, int tcp, struct pkt *p)
{
	char name[256], host[64];
	unsigned type;
	int i;

	if (q_parse(q, n, name, &type) < 0) {
		p->n = 0;
		return;
	}
	reply_start(p, q, n, 0);
	if (strcmp(name, "mx.test") == 0 && type == DNS_T_MX) {
		add_mx(p, NULL, 10, "b.mx.test");
		add_mx(p, NULL, 10, "a.mx.test");
		add_mx(p, NULL, 5, "c.mx.test");
	} else if (strcmp(name, "eq.test") == 0 && type == DNS_T_MX) {
		for (i = 0; i < 4; i++) {
			sprintf(host, "h%d.eq.test", i);
			add_mx(p, NULL, 7, host);
		}
	} else if (strcmp(name, "many.test") == 0 && type == DNS_T_MX) {
		if (!tcp)
			p->b[2] |= 0x02;	/* TC, nothing else */
		else
			for (i = 0; i < 40; i++) {
				sprintf(host, "mx%02d.many.test", 40 - i);
				add_mx(p, NULL, (unsigned)(40 - i), host);
			}
	} else if (strcmp(name, "tcpfail.test") == 0) {
		if (!tcp)
			p->b[2] |= 0x02;
		else
			p->n = 0;	/* a length of 0: no answer */
	} else if (strcmp(name, "nullmx.test") == 0 && type == DNS_T_MX)
		add_mx(p, NULL, 0, "");
	else if (strcmp(name, "host.test") == 0 && type == DNS_T_A) {
		add_a(p, NULL, 192, 0, 2, 1);
		add_a(p, NULL, 192, 0, 2, 2);
	} else if (strcmp(name, "host.test") == 0 && type == DNS_T_AAAA)
		add_aaaa(p, NULL, 1);
	else if (strcmp(name, "alias.test") == 0)
		add_cname(p, NULL, "real.test");
	else if (strcmp(name, "slow6.test") == 0 && type == DNS_T_A)
		add_a(p, NULL, 192, 0, 2, 6);
	else if (strcmp(name, "slow6.test") == 0)
		p->n = 0;		/* AAAA never answered */
	else if (strcmp(name, "real.test") == 0 && type == DNS_T_A)
		add_a(p, NULL, 192, 0, 2, 9);
	else if (strcmp(name, "loop.test") == 0)
		add_cname(p, NULL, "loop2.test");
	else if (strcmp(name, "loop2.test") == 0)
		add_cname(p, NULL, "loop.test");
	else if (strcmp(name, "spoof.test") == 0 && type == DNS_T_A)
		add_a(p, NULL, 192, 0, 2, 7);
	else if (strcmp(name, "nx.test") == 0 ||
	    strcmp(name, "nx.mx.test") == 0)
		p->b[3] |= 3;
}

/* Forgeries before the real answer to spoof.test: from another port,
 * with another ID, for another question. */
static void
forge(int fd, const unsigned char *q, size_t n, struct sockaddr *to,
    socklen_t tolen)
{
	static struct pkt f;

	reply_start(&f, q, n, 0);
	add_a(&f, NULL, 6, 6, 6, 6);
	(void)sendto(spoof_fd, (void *)f.b, f.n, 0, to, tolen);
	f.b[1] ^= 1;
	(void)sendto(fd, (void *)f.b, f.n, 0, to, tolen);
	f.b[1] ^= 1;
	f.b[DNS_HDR_LEN + 2] = 'q';	/* "sqoof.test": another name */
	(void)sendto(fd, (void *)f.b, f.n, 0, to, tolen);
}

static void
fake_udp(int fd, int what, void *arg)
{
	static struct pkt p;
	struct fake *f = arg;
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	unsigned char q[600];
	char name[256];
	unsigned type;
	ssize_t n;

	(void)what;
	name[0] = '\0';
	n = recvfrom(fd, (void *)q, sizeof(q), 0, (struct sockaddr *)&from,
	    &fromlen);
	if (n <= 0)
		return;
	f->queries++;
	if (f->mode == FK_SILENT)
		return;
	reply_start(&p, q, (size_t)n, 2);
	if (f->mode == FK_ZONE)
		zone(q, (size_t)n, 0, &p);
	if (f->mode == FK_GARBAGE) {
		p.b[3] = 0x80;
		add_a(&p, NULL, 1, 2, 3, 4);
		p.b[p.n - 5] = 5;	/* rdlength 5 */
	}
	if (q_parse(q, (size_t)n, name, &type) == 0 &&
	    strcmp(name, "spoof.test") == 0)
		forge(fd, q, (size_t)n, (struct sockaddr *)&from, fromlen);
	if (strstr(name, "localhost") != NULL)
		asked_localhost++;
	if (p.n > 0)
		(void)sendto(fd, (void *)p.b, p.n, 0, (struct sockaddr *)&from,
		    fromlen);
}

static void
fake_conn(int fd, int what, void *arg)
{
	static struct pkt p;
	struct fake *f = arg;
	unsigned char len[2];
	ssize_t n;
	size_t want;

	(void)what;
	n = read(fd, f->in + f->inlen, sizeof(f->in) - f->inlen);
	if (n > 0)
		f->inlen += (size_t)n;
	want = f->inlen >= 2 ? ((size_t)f->in[0] << 8 | f->in[1]) + 2 : 2;
	if (n > 0 && f->inlen < want)
		return;
	if (n > 0) {
		f->queries++;
		zone(f->in + 2, want - 2, 1, &p);
		len[0] = (unsigned char)(p.n >> 8);
		len[1] = (unsigned char)(p.n & 0xff);
		/* small, to a fresh loopback socket: these do not block */
		if (write(fd, len, 2) != 2 || write(fd, p.b, p.n) != (ssize_t)p.n)
			fprintf(stderr, "fake TCP server: write failed\n");
	}
	ev_io(fd, 0, NULL, NULL);
	close(fd);
	f->conn = -1;
	f->inlen = 0;
}

static void
fake_accept(int fd, int what, void *arg)
{
	struct fake *f = arg;
	int c;

	(void)what;
	if ((c = accept(fd, NULL, NULL)) < 0)
		return;
	f->conn = c;
	f->inlen = 0;
	CHECK(ev_io(c, EV_READ, fake_conn, f) == 0);
}

static int
bound_socket(int type, unsigned port, unsigned *got)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, on = 1;

	if ((fd = socket(AF_INET, type, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, (void *)&on,
		    sizeof(on));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 8) < 0)) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
	*got = ntohs(sin.sin_port);
	return fd;
}

/* A UDP server on a random port, and a TCP one on the same number. */
static void
fake_start(struct fake *f, int mode)
{
	unsigned tport;
	int i;

	f->mode = mode;
	f->tcp = f->udp = f->conn = -1;
	for (i = 0; i < 20 && f->tcp < 0; i++) {
		if (f->udp >= 0)
			close(f->udp);
		f->udp = bound_socket(SOCK_DGRAM, 0, &f->port);
		if (f->udp >= 0)
			f->tcp = bound_socket(SOCK_STREAM, f->port, &tport);
	}
	CHECK(f->udp >= 0 && f->tcp >= 0);
	CHECK(ev_io(f->udp, EV_READ, fake_udp, f) == 0);
	CHECK(ev_io(f->tcp, EV_READ, fake_accept, f) == 0);
	sprintf(f->spec, "127.0.0.1:%u", f->port);
}

/* ---- callbacks ---- */

struct result {
	int		called;
	int		status;
	int		n;
	struct dns_mx	mx[DNS_MX_MAX];
	struct dns_addr	a[2 * DNS_ADDR_MAX];
};

static int waiting;

static void
stop(void *arg)
{
	(void)arg;
	ev_break();
}

static void
mx_cb(void *arg, int status, const struct dns_mx *mx, int n)
{
	struct result *res = arg;

	res->called++;
	res->status = status;
	res->n = n;
	if (n > 0 && n <= DNS_MX_MAX)
		memcpy(res->mx, mx, (size_t)n * sizeof(*mx));
	if (--waiting == 0)
		ev_break();
}

static void
addr_cb(void *arg, int status, const struct dns_addr *a, int n)
{
	struct result *res = arg;

	res->called++;
	res->status = status;
	res->n = n;
	if (n > 0 && n <= 2 * DNS_ADDR_MAX)
		memcpy(res->a, a, (size_t)n * sizeof(*a));
	if (--waiting == 0)
		ev_break();
}

/* Run the loop until every expected callback came, or ms passed. */
static void
wait_for(int n, unsigned long ms)
{
	struct ev_timer t;

	waiting += n;
	ev_timer_init(&t, stop, NULL);
	CHECK(ev_timer_set(&t, ms) == 0);
	if (waiting > 0 || n == 0)
		ev_run();		/* n == 0: just let ms pass */
	ev_timer_del(&t);
	CHECK(waiting == 0);
	waiting = 0;
}

/* Servers (by fake index, -1 ends) and resolv.conf options. */
static void
use_servers(const int *which, const char *options)
{
	FILE *fp;
	int i;

	fp = fopen(config->resolv_conf, "w");
	CHECK(fp != NULL);
	if (fp != NULL) {
		fprintf(fp, "nameserver 192.0.2.53\n%s\n", options);
		fclose(fp);
	}
	strlist_free(&config->dns_servers);
	for (i = 0; which[i] >= 0; i++)
		strlist_add(&config->dns_servers, fk[which[i]].spec);
	CHECK(dns_reload() == 0);
	for (i = 0; i < (int)NELEM(fk); i++)
		fk[i].queries = 0;
}

static void
test_reload(void)
{
	char d[600];
	FILE *fp;

	fp = fopen(config->resolv_conf, "w");
	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	fprintf(fp, "# comment\n; comment\ndomain example.com\n"
	    "nameserver 192.0.2.53\nnameserver ::1\nnameserver bogus\n"
	    "nameserver [2001:db8::53]:5353\nnameserver 10.0.0.1\n"
	    "options ndots:2 timeout:3 attempts:9\n");
	fclose(fp);
	CHECK(dns_reload() == 0);
	dns_describe(d, sizeof(d));
#ifdef HAVE_IPV6
	CHECK(strcmp(d, "192.0.2.53:53 [::1]:53 [2001:db8::53]:5353 "
	    "timeout 3 attempts 5") == 0);
#else
	CHECK(strcmp(d, "192.0.2.53:53 10.0.0.1:53 timeout 3 attempts 5") == 0);
#endif
	fp = fopen(config->resolv_conf, "w");
	if (fp != NULL) {
		fprintf(fp, "options timeout:0\n");
		fclose(fp);
	}
	CHECK(dns_reload() == 0);
	dns_describe(d, sizeof(d));
	CHECK(strcmp(d, "127.0.0.1:53 timeout 1 attempts 2") == 0);
	/* the configuration's list wins; a bad entry keeps the old list */
	strlist_add(&config->dns_servers, "192.0.2.1:99");
	strlist_add(&config->dns_servers, "192.0.2.2");
#ifdef HAVE_IPV6
	strlist_add(&config->dns_servers, "[::1]:54");
	CHECK(dns_reload() == 0);
	dns_describe(d, sizeof(d));
	CHECK(strcmp(d, "192.0.2.1:99 192.0.2.2:53 [::1]:54 "
	    "timeout 1 attempts 2") == 0);
#else
	CHECK(dns_reload() == 0);
#endif
	strlist_add(&config->dns_servers, "192.0.2.1:65536");
	CHECK(dns_reload() == -1);
	dns_describe(d, sizeof(d));
	CHECK(strncmp(d, "192.0.2.1:99 192.0.2.2:53 ", 26) == 0);
	strlist_free(&config->dns_servers);
	unlink(config->resolv_conf);
	CHECK(dns_reload() == 0);
	dns_describe(d, sizeof(d));
	CHECK(strcmp(d, "127.0.0.1:53 timeout 5 attempts 2") == 0);
}

static void
test_loop_answers(void)
{
	static const int zone1[] = { 2, -1 };
	static struct result res[12], eq[20], lh[6];
	struct dns_query *q;
	unsigned long t0;
	int i, first[4] = { 0, 0, 0, 0 }, kinds;

	use_servers(zone1, "options timeout:2 attempts:1");
	t0 = now_ms();
	memset(res, 0, sizeof(res));
	CHECK(dns_mx("mx.test", mx_cb, &res[0]) != NULL);
	CHECK(res[0].called == 0);	/* never from inside the call */
	CHECK(dns_mx("many.test", mx_cb, &res[1]) != NULL);
	CHECK(dns_mx("nomx.test", mx_cb, &res[2]) != NULL);
	CHECK(dns_mx("nx.test", mx_cb, &res[3]) != NULL);
	CHECK(dns_mx("nullmx.test", mx_cb, &res[4]) != NULL);
	CHECK(dns_addr("host.test", addr_cb, &res[5]) != NULL);
	CHECK(dns_addr("alias.test", addr_cb, &res[6]) != NULL);
	CHECK(dns_addr("loop.test", addr_cb, &res[7]) != NULL);
	CHECK(dns_addr("spoof.test", addr_cb, &res[8]) != NULL);
	CHECK(dns_addr("[IPv6:2001:db8::5]", addr_cb, &res[9]) != NULL);
	CHECK(dns_mx("[192.0.2.5]", mx_cb, &res[10]) != NULL);
	CHECK(dns_mx("bad..name", mx_cb, &res[11]) != NULL);
	CHECK(dns_mx("tcpfail.test", mx_cb, &lh[3]) != NULL);
	CHECK(dns_addr("", addr_cb, &lh[4]) != NULL);
	CHECK(dns_addr("slow6.test", addr_cb, &lh[5]) != NULL);
	CHECK(dns_addr("LocalHost.", addr_cb, &lh[0]) != NULL);
	CHECK(dns_addr("a.localhost", addr_cb, &lh[1]) != NULL);
	CHECK(dns_addr("a..localhost", addr_cb, &lh[2]) != NULL);
	CHECK(res[9].called == 0 && res[10].called == 0 && res[11].called == 0);
	wait_for(18, 4000);
	for (i = 0; i < 12; i++)
		CHECK(res[i].called == 1);
	for (i = 0; i < 2; i++)
		CHECK(lh[i].called == 1 && lh[i].status == DNS_OK &&
		    lh[i].n >= 1 && lh[i].a[0].family == 4 &&
		    lh[i].a[0].addr[0] == 127 && lh[i].a[0].addr[3] == 1);
	CHECK(lh[2].called == 1 && lh[2].status == DNS_BAD);
	CHECK(lh[3].called == 1 && lh[3].status == DNS_TEMP);
	CHECK(lh[4].called == 1 && lh[4].status == DNS_BAD);
	/* AAAA unanswered: the A record after the grace, not the timeout */
	CHECK(lh[5].called == 1 && lh[5].status == DNS_OK && lh[5].n == 1 &&
	    lh[5].a[0].addr[3] == 6);
	CHECK(now_ms() - t0 < 1900);
	CHECK(asked_localhost == 0);
	CHECK(res[0].status == DNS_OK && res[0].n == 3);
	CHECK(strcmp(res[0].mx[0].host, "c.mx.test") == 0 &&
	    res[0].mx[0].pref == 5 && res[0].mx[1].pref == 10 &&
	    res[0].mx[2].pref == 10);
	/* over TCP after TC, the 32 most preferred, in order */
	CHECK(res[1].status == DNS_OK && res[1].n == DNS_MX_MAX);
	CHECK(res[1].mx[0].pref == 1 && res[1].mx[31].pref == 32 &&
	    strcmp(res[1].mx[0].host, "mx01.many.test") == 0);
	CHECK(res[2].status == DNS_NODATA && res[2].n == 0);
	CHECK(res[3].status == DNS_NOTFOUND);
	CHECK(res[4].status == DNS_OK && res[4].n == 1 &&
	    res[4].mx[0].host[0] == '\0');
	/* IPv4 first */
	CHECK(res[5].status == DNS_OK);
#ifdef HAVE_IPV6
	CHECK(res[5].n == 3 && res[5].a[2].family == 6 &&
	    res[5].a[2].addr[15] == 1);
#endif
	CHECK(res[5].a[0].family == 4 && res[5].a[0].addr[3] == 1 &&
	    res[5].a[1].addr[3] == 2);
	/* the CNAME asked again under its target's name */
	CHECK(res[6].status == DNS_OK && res[6].n == 1 &&
	    res[6].a[0].addr[3] == 9);
	CHECK(res[7].status == DNS_BAD);
	/* forgeries dropped */
	CHECK(res[8].status == DNS_OK && res[8].n == 1 &&
	    res[8].a[0].addr[0] == 192 && res[8].a[0].addr[3] == 7);
	CHECK(res[9].status == DNS_OK && res[9].n == 1 &&
	    res[9].a[0].family == 6 && res[9].a[0].addr[15] == 5);
	CHECK(res[10].status == DNS_OK && res[10].n == 1 &&
	    strcmp(res[10].mx[0].host, "[192.0.2.5]") == 0);
	CHECK(res[11].status == DNS_BAD);
	CHECK(dns_pending() == 0);

	/* equal preferences in random order */
	memset(eq, 0, sizeof(eq));
	for (i = 0; i < 20; i++)
		CHECK(dns_mx("eq.test", mx_cb, &eq[i]) != NULL);
	wait_for(20, 4000);
	for (i = 0; i < 20; i++)
		if (eq[i].status == DNS_OK && eq[i].n == 4)
			first[eq[i].mx[0].host[1] - '0']++;
	for (kinds = 0, i = 0; i < 4; i++)
		kinds += first[i] > 0;
	CHECK(kinds >= 2);

	/* cancelled: never called */
	memset(res, 0, sizeof(res));
	q = dns_addr("host.test", addr_cb, &res[0]);
	CHECK(q != NULL);
	dns_cancel(q);
	q = dns_addr("192.0.2.1", addr_cb, &res[1]);
	dns_cancel(q);
	CHECK(dns_pending() == 0);
	wait_for(0, 200);
	CHECK(res[0].called == 0 && res[1].called == 0);
}

static void
test_loop_failures(void)
{
	static const int silent_zone[] = { 0, 2, -1 }, silent[] = { 0, -1 },
	    fail_zone[] = { 1, 2, -1 }, fail[] = { 1, -1 },
	    garbage[] = { 3, -1 }, closed[] = { 3, -1 };
	static struct result res[4];
	unsigned long t0;

	/* no answer: the next server; with none left, TEMP */
	use_servers(silent_zone, "options timeout:1 attempts:1");
	memset(res, 0, sizeof(res));
	t0 = now_ms();
	CHECK(dns_mx("mx.test", mx_cb, &res[0]) != NULL);
	wait_for(1, 4000);
	CHECK(res[0].status == DNS_OK && res[0].n == 3);
	CHECK(fk[0].queries == 1 && fk[2].queries == 1);
	CHECK(now_ms() - t0 >= 900);
	use_servers(silent, "options timeout:1 attempts:1");
	CHECK(dns_addr("host.test", addr_cb, &res[1]) != NULL);
	wait_for(1, 4000);
	CHECK(res[1].status == DNS_TEMP && res[1].n == 0);
	/* SERVFAIL: the next server at once */
	use_servers(fail_zone, "options timeout:2 attempts:2");
	t0 = now_ms();
	CHECK(dns_mx("mx.test", mx_cb, &res[2]) != NULL);
	wait_for(1, 4000);
	CHECK(res[2].status == DNS_OK && now_ms() - t0 < 900);
	use_servers(fail, "options timeout:2 attempts:2");
	CHECK(dns_mx("mx.test", mx_cb, &res[3]) != NULL);
	wait_for(1, 4000);
	CHECK(res[3].status == DNS_TEMP && fk[1].queries == 2);
	CHECK(now_ms() - t0 < 900);
	/* malformed answers every time: BAD */
	fk[3].mode = FK_GARBAGE;
	use_servers(garbage, "options timeout:2 attempts:2");
	memset(res, 0, sizeof(res));
	CHECK(dns_mx("mx.test", mx_cb, &res[0]) != NULL);
	wait_for(1, 4000);
	CHECK(res[0].status == DNS_BAD && fk[3].queries == 2);
	/* nobody there: "port unreachable" comes back, TEMP without waiting */
	ev_io(fk[3].udp, 0, NULL, NULL);
	close(fk[3].udp);
	use_servers(closed, "options timeout:2 attempts:2");
	t0 = now_ms();
	CHECK(dns_mx("mx.test", mx_cb, &res[1]) != NULL);
	wait_for(1, 4000);
	CHECK(res[1].status == DNS_TEMP && now_ms() - t0 < 900);
	CHECK(dns_pending() == 0);
}

static void
test_limit(void)
{
	static struct result res[DNS_MAX_QUERIES];
	int i, ok = 0;

	memset(res, 0, sizeof(res));
	for (i = 0; i < DNS_MAX_QUERIES; i++)
		ok += dns_addr("192.0.2.1", addr_cb, &res[i]) != NULL;
	CHECK(ok == DNS_MAX_QUERIES);
	CHECK(dns_addr("192.0.2.1", addr_cb, &res[0]) == NULL);
	CHECK(dns_mx("mx.test", mx_cb, &res[0]) == NULL);
	wait_for(DNS_MAX_QUERIES, 4000);
	for (ok = 0, i = 0; i < DNS_MAX_QUERIES; i++)
		ok += res[i].called == 1 && res[i].status == DNS_OK;
	CHECK(ok == DNS_MAX_QUERIES);
	CHECK(dns_pending() == 0);
}

int
main(void)
{
	char rc[] = "/tmp/yubin-test-dns-XXXXXX";
	unsigned port;
	int fd, i;

	log_open("test_dns", getenv("TEST_DEBUG") != NULL ? LOG_TO_STDERR : 0,
	    NULL);
	log_set_level(LOG_DEBUG);
	test_build();
	test_header();
	test_rcodes();
	test_names();
	test_answers();
	test_literal_sort();

	CHECK(ev_init() == 0);
	CHECK(ev_signal(SIGPIPE, NULL) == 0);
	config = conf_new(NULL);
	if ((fd = mkstemp(rc)) >= 0)
		close(fd);
	free(config->resolv_conf);
	config->resolv_conf = xstrdup(rc);
	test_reload();
	for (i = 0; i < (int)NELEM(fk); i++)
		fake_start(&fk[i], i);
	spoof_fd = bound_socket(SOCK_DGRAM, 0, &port);
	CHECK(spoof_fd >= 0);
	test_loop_answers();
	test_loop_failures();
	test_limit();
	unlink(rc);
	return check_exit("test_dns");
}

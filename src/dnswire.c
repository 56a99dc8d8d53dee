/*
 * dnswire.c - DNS questions and answers on the wire (see dnswire.h).
 *
 * Everything in an answer is untrusted: every count, length and
 * compression pointer is checked against the packet before it is used,
 * and a name is copied out only through get_name(), which bounds it to
 * 255 octets and follows pointers only backwards (RFC 1035 4.1.4), so a
 * pointer loop cannot run.  Names are compared in wire form, ignoring
 * ASCII case (RFC 4343); they are turned into text only where they
 * leave this file (MX hosts, CNAME targets), and then only names of
 * letters, digits, '-' and '_' are accepted, so no byte that means
 * something to SMTP, a log line or a file name gets through.
 *
 * This file must never do I/O or keep state.
 */
#include "yubin.h"

#include <string.h>

#include "dnswire.h"
#include "util.h"

#define GET16(p)	((unsigned)(p)[0] << 8 | (unsigned)(p)[1])

#define F_QR		0x8000
#define F_OPCODE	0x7800
#define F_AA		0x0400
#define F_TC		0x0200
#define F_RD		0x0100
#define F_RA		0x0080

#define RCODE_NOERROR	0
#define RCODE_NXDOMAIN	3

static int
host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Text to wire form in out[DNS_NAME_MAX]; the length, or -1. */
static int
name_wire(const char *name, unsigned char *out)
{
	const char *p = name;
	size_t len;
	int n = 0;

	if (*p == '\0' || (p[0] == '.' && p[1] == '\0'))
		return -1;		/* the root is nobody's host */
	while (*p != '\0') {
		for (len = 0; host_char((unsigned char)p[len]); len++)
			;
		if (len == 0 || len > 63 || (p[len] != '.' && p[len] != '\0'))
			return -1;
		if (n + 1 + (int)len + 1 > DNS_NAME_MAX)
			return -1;
		out[n++] = (unsigned char)len;
		memcpy(out + n, p, len);
		n += (int)len;
		p += len;
		if (*p == '.')
			p++;
	}
	out[n++] = 0;
	return n;
}

/*
 * Wire form to text ("" for the root), refusing any byte but letters,
 * digits, '-' and '_'.  out has 256 bytes: 255 octets of wire form are
 * at most 253 characters.  0 or -1.
 */
static int
name_text(const unsigned char *w, char *out)
{
	size_t n = 0;
	unsigned len, i;

	while ((len = *w++) != 0) {
		if (n > 0)
			out[n++] = '.';
		for (i = 0; i < len; i++) {
			if (!host_char(w[i]))
				return -1;
			out[n++] = (char)w[i];
		}
		w += len;
	}
	out[n] = '\0';
	return 0;
}

static int
name_eq(const unsigned char *a, const unsigned char *b)
{
	unsigned len;

	for (;;) {
		if (*a != *b)
			return 0;
		if ((len = *a) == 0)
			return 1;
		a++;
		b++;
		for (; len > 0; len--, a++, b++)
			if (lower(*a) != lower(*b))
				return 0;
	}
}

/*
 * The name at *off in pkt[0..len) into out[DNS_NAME_MAX], uncompressed;
 * *off moves past the name where it stands (a pointer ends it).
 * Labels with the top bits 01 or 10 (RFC 6891 removed the only ones)
 * are refused.  Returns the wire length, or -1.
 */
static int
get_name(const unsigned char *pkt, size_t len, size_t *off,
    unsigned char *out)
{
	size_t p = *off, end = 0, ptr;
	unsigned c;
	int n = 0, jumps = 0;

	for (;;) {
		if (p >= len)
			return -1;
		c = pkt[p];
		if ((c & 0xc0) == 0xc0) {
			if (p + 1 >= len)
				return -1;
			ptr = (size_t)((c & 0x3f) << 8 | pkt[p + 1]);
			if (jumps == 0)
				end = p + 2;
			if (ptr >= p || ++jumps > DNS_PTR_MAX)
				return -1;
			p = ptr;
			continue;
		}
		if ((c & 0xc0) != 0 || n + (int)c + 1 > DNS_NAME_MAX ||
		    p + 1 + c > len)
			return -1;
		memcpy(out + n, pkt + p, c + 1);
		n += (int)c + 1;
		p += c + 1;
		if (c == 0)
			break;
	}
	*off = jumps > 0 ? end : p;
	return n;
}

/* One resource record, its bounds checked. */
struct rr {
	unsigned char	owner[DNS_NAME_MAX];
	unsigned	type, class;
	size_t		rdata, rdlen;	/* offset and length in the packet */
};

/* A name that must fill the rest of the record's data exactly. */
static int
rdata_name(const unsigned char *pkt, size_t len, const struct rr *r,
    size_t skip, unsigned char *out)
{
	size_t off = r->rdata + skip;

	if (r->rdlen < skip + 1 || get_name(pkt, len, &off, out) < 0 ||
	    off != r->rdata + r->rdlen)
		return -1;
	return 0;
}

/* The record at *off; checks its data's size and names by type. */
static int
get_rr(const unsigned char *pkt, size_t len, size_t *off, struct rr *r)
{
	unsigned char name[DNS_NAME_MAX];

	if (get_name(pkt, len, off, r->owner) < 0 || len - *off < 10)
		return -1;
	r->type = GET16(pkt + *off);
	r->class = GET16(pkt + *off + 2);
	r->rdlen = GET16(pkt + *off + 8);
	r->rdata = *off + 10;
	if (len - r->rdata < r->rdlen)
		return -1;
	*off = r->rdata + r->rdlen;
	if (r->class != DNS_C_IN)
		return 0;
	switch (r->type) {
	case DNS_T_A:
		return r->rdlen == 4 ? 0 : -1;
	case DNS_T_AAAA:
		return r->rdlen == 16 ? 0 : -1;
	case DNS_T_CNAME:
		return rdata_name(pkt, len, r, 0, name);
	case DNS_T_MX:
		return rdata_name(pkt, len, r, 2, name);
	}
	return 0;
}

int
dns_build_query(unsigned char *buf, size_t size, unsigned id,
    const char *name, int type)
{
	unsigned char wire[DNS_NAME_MAX];
	int n;

	if ((n = name_wire(name, wire)) < 0 ||
	    size < (size_t)(DNS_HDR_LEN + n + 4))
		return -1;
	memset(buf, 0, DNS_HDR_LEN);
	buf[0] = (unsigned char)(id >> 8 & 0xff);
	buf[1] = (unsigned char)(id & 0xff);
	buf[2] = F_RD >> 8;
	buf[5] = 1;			/* QDCOUNT */
	memcpy(buf + DNS_HDR_LEN, wire, (size_t)n);
	buf[DNS_HDR_LEN + n] = (unsigned char)(type >> 8 & 0xff);
	buf[DNS_HDR_LEN + n + 1] = (unsigned char)(type & 0xff);
	buf[DNS_HDR_LEN + n + 2] = 0;
	buf[DNS_HDR_LEN + n + 3] = DNS_C_IN;
	return DNS_HDR_LEN + n + 4;
}

/*
 * The header and question of pkt against query.  The offset of the
 * answer section in *off, or a DNS_* result that ends the parse.
 */
static int
check_question(const unsigned char *query, size_t qlen,
    const unsigned char *pkt, size_t len, int tcp, size_t *off)
{
	unsigned char qname[DNS_NAME_MAX], name[DNS_NAME_MAX];
	size_t qoff = DNS_HDR_LEN;
	unsigned flags, rcode;

	if (len < DNS_HDR_LEN || qlen < DNS_HDR_LEN ||
	    get_name(query, qlen, &qoff, qname) < 0 || qlen - qoff < 4)
		return DNS_IGNORE;
	flags = GET16(pkt + 2);
	rcode = flags & 0xf;
	if (memcmp(pkt, query, 2) != 0 || !(flags & F_QR) ||
	    (flags & F_OPCODE) != 0)
		return DNS_IGNORE;
	/* Some servers leave the question out of an error (FORMERR). */
	if (GET16(pkt + 4) == 0)
		return rcode != RCODE_NOERROR && rcode != RCODE_NXDOMAIN ?
		    DNS_TEMP : DNS_IGNORE;
	*off = DNS_HDR_LEN;
	if (GET16(pkt + 4) != 1 || get_name(pkt, len, off, name) < 0 ||
	    len - *off < 4 || !name_eq(name, qname) ||
	    memcmp(pkt + *off, query + qoff, 4) != 0)
		return DNS_IGNORE;
	*off += 4;
	if ((flags & F_TC) && !tcp)
		return DNS_TRUNC;
	if (rcode == RCODE_NXDOMAIN)
		return DNS_NOTFOUND;
	if (rcode != RCODE_NOERROR)
		return DNS_TEMP;	/* SERVFAIL, REFUSED, NOTIMP, FORMERR */
	/*
	 * No answer and neither recursion available nor authority: a
	 * referral from a server that does not recurse, not "no data".
	 */
	if (GET16(pkt + 6) == 0 && !(flags & (F_RA | F_AA)))
		return DNS_TEMP;
	return DNS_OK;
}

/* Follow CNAMEs from cur (updated) within the answer section. */
static int
follow_cnames(const unsigned char *pkt, size_t len, size_t start,
    unsigned an, unsigned char *cur, int hops_left, int *hops)
{
	struct rr r;
	size_t off, noff;
	unsigned i;
	int found;

	*hops = 0;
	do {
		found = 0;
		for (off = start, i = 0; i < an; i++) {
			if (get_rr(pkt, len, &off, &r) < 0)
				return -1;
			if (r.class != DNS_C_IN || r.type != DNS_T_CNAME ||
			    !name_eq(r.owner, cur))
				continue;
			if (++*hops > hops_left)
				return -1;	/* too long, or a loop */
			noff = r.rdata;
			if (get_name(pkt, len, &noff, cur) < 0)
				return -1;
			found = 1;
			break;
		}
	} while (found);
	return 0;
}

/* An MX record into a: kept if among the DNS_MX_MAX most preferred. */
static int
add_mx(const unsigned char *pkt, size_t len, const struct rr *r,
    struct dns_answer *a)
{
	unsigned char w[DNS_NAME_MAX];
	struct dns_mx m;
	int i, worst;

	m.pref = GET16(pkt + r->rdata);
	/* The root comes out as "": RFC 7505's null MX. */
	if (rdata_name(pkt, len, r, 2, w) < 0 || name_text(w, m.host) < 0)
		return -1;
	if (a->nmx < DNS_MX_MAX) {
		a->mx[a->nmx++] = m;
		return 0;
	}
	for (worst = 0, i = 1; i < a->nmx; i++)
		if (a->mx[i].pref > a->mx[worst].pref)
			worst = i;
	if (m.pref < a->mx[worst].pref)
		a->mx[worst] = m;
	return 0;
}

/* The records of type (the question's) owned by name. */
static int
collect(const unsigned char *pkt, size_t len, size_t start, unsigned an,
    const unsigned char *name, unsigned type, struct dns_answer *a)
{
	struct rr r;
	size_t off;
	unsigned i;
	int skipped = 0;

	for (off = start, i = 0; i < an; i++) {
		if (get_rr(pkt, len, &off, &r) < 0)
			return DNS_BAD;
		if (r.class != DNS_C_IN || r.type != type ||
		    !name_eq(r.owner, name))
			continue;
		if (type == DNS_T_MX) {
			if (add_mx(pkt, len, &r, a) < 0)
				skipped++;
		} else if (a->naddr < DNS_ADDR_MAX) {
			memset(&a->addr[a->naddr], 0, sizeof(a->addr[0]));
			a->addr[a->naddr].family = type == DNS_T_A ? 4 : 6;
			memcpy(a->addr[a->naddr].addr, pkt + r.rdata, r.rdlen);
			a->naddr++;
		}
	}
	/* RFC 5321 5.1: MX records none of which is usable are an error,
	 * never a reason to fall back to the domain's address. */
	if (skipped > 0 && a->nmx == 0)
		return DNS_BAD;
	return a->nmx + a->naddr > 0 ? DNS_OK : DNS_NODATA;
}

int
dns_parse_answer(const unsigned char *query, size_t qlen,
    const unsigned char *pkt, size_t len, int tcp, int hops_left,
    struct dns_answer *a)
{
	unsigned char cur[DNS_NAME_MAX];
	struct rr r;
	size_t start, off, qoff = DNS_HDR_LEN;
	unsigned an, i, type;
	int ret;

	a->rcode = -1;
	a->hops = a->nmx = a->naddr = 0;
	a->target[0] = '\0';
	if ((ret = check_question(query, qlen, pkt, len, tcp, &start)) !=
	    DNS_OK)
		return ret;
	a->rcode = (int)(GET16(pkt + 2) & 0xf);
	an = GET16(pkt + 6);
	/* Every record of the answer section is checked, used or not. */
	for (off = start, i = 0; i < an; i++)
		if (get_rr(pkt, len, &off, &r) < 0)
			return DNS_BAD;
	if (get_name(query, qlen, &qoff, cur) < 0)
		return DNS_IGNORE;
	type = GET16(query + qoff);
	if (follow_cnames(pkt, len, start, an, cur, hops_left, &a->hops) < 0 ||
	    name_text(cur, a->target) < 0)
		return DNS_BAD;
	ret = collect(pkt, len, start, an, cur, type, a);
	if (ret == DNS_NODATA && a->hops > 0)
		return DNS_CNAME;
	return ret;
}

int
dns_literal(const char *s, struct dns_addr *a)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(s);
	int tagged = 0, fam;

	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return -1;
		s++;
		n -= 2;
		if (n > 5 && ascii_ncasecmp(s, "IPv6:", 5) == 0) {
			tagged = 1;
			s += 5;
			n -= 5;
		}
	}
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(a, 0, sizeof(*a));
	if ((fam = ipaddr_parse(tmp, a->addr)) < 0 || (tagged && fam != 6))
		return -1;
	a->family = fam;
	return 0;
}

void
dns_sort_mx(struct dns_mx *mx, unsigned *key, int n)
{
	struct dns_mx m;
	unsigned k;
	int i, j;

	/* Insertion sort: n is at most DNS_MX_MAX. */
	for (i = 1; i < n; i++) {
		m = mx[i];
		k = key[i];
		for (j = i; j > 0 && (mx[j - 1].pref > m.pref ||
		    (mx[j - 1].pref == m.pref && key[j - 1] > k)); j--) {
			mx[j] = mx[j - 1];
			key[j] = key[j - 1];
		}
		mx[j] = m;
		key[j] = k;
	}
}

/*
 * util.c - small pure helpers: checked number parsing, allocation that
 * gives up loudly (configuration and start-up only), string lists and
 * network masks.  Nothing here does I/O.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/time.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "util.h"
#include "log.h"

int
parse_ulong_n(const char *s, size_t len, unsigned long max,
    unsigned long *out)
{
	unsigned long v;
	size_t i;

	/* popa3d's rule: "LIST 4294967297" is an error, not message 1. */
	if (len == 0)
		return -1;
	v = 0;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		/* d > max first: max - d would wrap around */
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	return parse_ulong_n(s, strlen(s), max, out);
}

void *
xmalloc(size_t n)
{
	void *p;

	p = malloc(n ? n : 1);
	if (p == NULL)
		fatal("out of memory (%lu bytes)", (unsigned long)n);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q;

	q = realloc(p, n ? n : 1);
	if (q == NULL)
		fatal("out of memory (%lu bytes)", (unsigned long)n);
	return q;
}

char *
xstrdup(const char *s)
{
	size_t n;
	char *p;

	n = strlen(s) + 1;
	p = xmalloc(n);
	memcpy(p, s, n);
	return p;
}

void
strlist_add(struct strlist *l, const char *s)
{
	l->v = xrealloc(l->v, (size_t)(l->n + 1) * sizeof(char *));
	l->v[l->n++] = xstrdup(s);
}

void
strlist_free(struct strlist *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
strlist_has_nocase(const struct strlist *l, const char *s)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (ascii_casecmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int
ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	size_t i;
	int d;

	for (i = 0; i < n; i++) {
		d = lower((unsigned char)a[i]) - lower((unsigned char)b[i]);
		if (d != 0 || a[i] == '\0')
			return d;
	}
	return 0;
}

int
ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int d = lower((unsigned char)*a) - lower((unsigned char)*b);

		if (d != 0 || *a == '\0')
			return d;
	}
}

/*
 * Parse a dotted quad strictly: four decimal parts 0-255, nothing else.
 * inet_addr() accepts "1", "0x7f.1" and octal, which no configuration
 * should mean.
 */
static int
parse_ipv4(const char *s, size_t len, unsigned char *out)
{
	unsigned long part;
	size_t i, start;
	int n;

	n = 0;
	start = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (n == 4 || i - start > 3 ||
		    parse_ulong_n(s + start, i - start, 255, &part) < 0)
			return -1;
		out[n++] = (unsigned char)part;
		start = i + 1;
	}
	return n == 4 ? 0 : -1;
}

/* The line feeds in p[0..n): what LF -> CRLF adds to a text's size. */
unsigned long
count_lf(const char *p, size_t n)
{
	unsigned long c = 0;
	const char *e = p + n;

	while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* The value of a hexadecimal digit (either case), or -1. */
int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Parse an IPv6 address (RFC 4291 2.2: groups, one "::", an optional
 * trailing dotted quad).  Our own code so that masks work the same on
 * systems without inet_pton or without IPv6.
 */
static int
parse_ipv6(const char *s, size_t len, unsigned char *out)
{
	unsigned char tmp[16];
	size_t i;
	int n, gap, v, digits;

	memset(tmp, 0, sizeof(tmp));
	n = 0;
	gap = -1;
	i = 0;
	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
	}
	while (i < len) {
		size_t j;

		for (j = i; j < len && s[j] != ':' && s[j] != '.'; j++)
			;
		if (j < len && s[j] == '.') {
			if (n > 12 || parse_ipv4(s + i, len - i, tmp + n) < 0)
				return -1;
			n += 4;
			break;
		}
		v = 0;
		digits = 0;
		for (; i < j; i++) {
			int h = hex_value((unsigned char)s[i]);

			if (h < 0 || ++digits > 4)
				return -1;
			v = v * 16 + h;
		}
		if (digits == 0 || n > 14)
			return -1;
		tmp[n++] = (unsigned char)(v >> 8);
		tmp[n++] = (unsigned char)(v & 0xff);
		if (i == len)
			break;
		i++;			/* the ':' */
		if (i < len && s[i] == ':') {
			if (gap >= 0)
				return -1;
			gap = n;
			i++;
		} else if (i == len)
			return -1;	/* trailing single ':' */
	}
	if (gap >= 0) {
		int tail = n - gap;

		if (n == 16)
			return -1;
		memmove(tmp + 16 - tail, tmp + gap, (size_t)tail);
		memset(tmp + gap, 0, (size_t)(16 - tail - gap));
	} else if (n != 16)
		return -1;
	memcpy(out, tmp, 16);
	return 0;
}

int
netmask_parse(const char *s, struct netmask *m)
{
	const char *slash;
	size_t alen;
	unsigned long bits;

	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	memset(m, 0, sizeof(*m));
	if (parse_ipv4(s, alen, m->addr) == 0) {
		m->family = 4;
		m->bits = 32;
	} else if (parse_ipv6(s, alen, m->addr) == 0) {
		m->family = 6;
		m->bits = 128;
	} else
		return -1;
	if (slash != NULL) {
		if (parse_ulong(slash + 1, (unsigned long)m->bits, &bits) < 0)
			return -1;
		m->bits = (int)bits;
	}
	return 0;
}

/* Parse a bare address (no mask) into 4 or 16 bytes; family 4/6, or -1. */
int
ipaddr_parse(const char *s, unsigned char *out)
{
	if (parse_ipv4(s, strlen(s), out) == 0)
		return 4;
	if (parse_ipv6(s, strlen(s), out) == 0)
		return 6;
	return -1;
}

void
netlist_add(struct netlist *l, const struct netmask *m)
{
	l->v = xrealloc(l->v, (size_t)(l->n + 1) * sizeof(*m));
	l->v[l->n++] = *m;
}

void
netlist_free(struct netlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int i;

	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != b[i])
			return 0;
	if (bits > 0) {
		unsigned mask = (0xffU << (8 - bits)) & 0xffU;

		if ((a[i] & mask) != (b[i] & mask))
			return 0;
	}
	return 1;
}

int
netlist_match(const struct netlist *l, int family, const unsigned char *addr)
{
	static const unsigned char mapped[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	int i;

	/* ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4 client. */
	if (family == 6 && memcmp(addr, mapped, 12) == 0) {
		family = 4;
		addr += 12;
	}
	for (i = 0; i < l->n; i++)
		if (l->v[i].family == family &&
		    prefix_match(l->v[i].addr, addr, l->v[i].bits))
			return 1;
	return 0;
}

void
netmask_format(const struct netmask *m, char *out, size_t outlen)
{
	char tmp[64];
	int i, r;

	if (m->family == 4)
		r = snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", m->addr[0],
		    m->addr[1], m->addr[2], m->addr[3]);
	else {
		/* RFC 5952 4.2: the longest run of two or more zero
		 * groups (the first of equal ones) is written "::". */
		int g[8], best = -1, blen = 1, run, j;

		for (i = 0; i < 8; i++)
			g[i] = m->addr[2 * i] << 8 | m->addr[2 * i + 1];
		for (i = 0; i < 8; i = j + 1) {
			for (j = i; j < 8 && g[j] == 0; j++)
				;
			run = j - i;
			if (run > blen) {
				best = i;
				blen = run;
			}
		}
		r = 0;
		for (i = 0; i < 8; i++) {
			if (i == best) {
				r += snprintf(tmp + r, sizeof(tmp) - (size_t)r,
				    "::");
				i += blen - 1;
				continue;
			}
			r += snprintf(tmp + r, sizeof(tmp) - (size_t)r,
			    i == 0 || i == best + blen ? "%x" : ":%x",
			    (unsigned)g[i]);
		}
	}
	if (m->bits != (m->family == 4 ? 32 : 128))
		r = snprintf(out, outlen, "%s/%d", tmp, m->bits);
	else
		r = snprintf(out, outlen, "%s", tmp);
	if (r < 0 || (size_t)r >= outlen)
		panic("netmask_format: buffer too small");
}

/*
 * Milliseconds on a wrapping clock: unsigned arithmetic is defined to
 * wrap, and callers compare with ms_before(), so a 32-bit long is fine
 * for any interval under 24 days.  gettimeofday is not monotonic; a clock
 * stepped back only delays timers, which is harmless here.
 */
unsigned long
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (unsigned long)tv.tv_sec * 1000UL +
	    (unsigned long)(tv.tv_usec / 1000);
}

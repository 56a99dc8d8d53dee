/*
 * test_dsn.c - unit tests of src/dsn.c: every bounce is parsed back
 * (header fields, the boundary, the parts, the per-recipient fields)
 * and every line measured.
 *
 * "test_dsn DIR" writes the sample bounces to DIR/dsn-N.eml instead,
 * for tests/dsn_check.py to feed to Python's email parser.
 */
#include "yubin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "check.h"
#include "dsn.h"

/* The original message, served through the callback. */
struct orig {
	const char	*text;
	size_t		len;
	int		calls;
	size_t		biggest;	/* the largest read asked for */
	int		fail;		/* answer -1 */
	int		lie;		/* claim more than asked */
};

static long
orig_read(void *arg, unsigned long off, char *buf, size_t len)
{
	struct orig *o = arg;

	o->calls++;
	if (len > o->biggest)
		o->biggest = len;
	if (o->fail)
		return -1;
	if (o->lie)
		return (long)len + 1;
	if (off >= o->len)
		return 0;
	if (len > o->len - off)
		len = o->len - off;
	if (len > 1000)		/* short reads, as a file may give */
		len = 1000;
	memcpy(buf, o->text + off, len);
	return (long)len;
}

static const char hdr_text[] =
    "Received: from client.example.com\n\tby mx.example.net; "
    "Mon, 1 Jan 2024 00:00:00 +0000\n"
    "From: Alice <alice@example.com>\n"
    "To: bob@example.org, carol@example.org\n"
    "Subject: lunch\n"
    "Message-ID: <1234@client.example.com>\n\n";
static const char body_text[] = "Shall we?\n-- \nAlice\n";

/* --- reading a bounce back --- */

/* The header block of a text: up to and including its blank line. */
static size_t
head_len(const char *s, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (s[i] == '\n' && s[i - 1] == '\n')
			return i + 1;
	return n;
}

/* A field of the header block of s[0..n), unfolded (line ends removed). */
static int
field(const char *s, size_t n, const char *name, char *out, size_t outlen)
{
	size_t i = 0, len = strlen(name), h = head_len(s, n), o = 0, e;

	while (i < h) {
		for (e = i; e < h && s[e] != '\n'; e++)
			;
		if (e - i > len && strncmp(s + i, name, len) == 0 &&
		    s[i + len] == ':') {
			i += len + 1;
			while (i < e && s[i] == ' ')
				i++;
			for (;;) {
				while (i < e && o + 1 < outlen)
					out[o++] = s[i++];
				if (e + 1 >= h || (s[e + 1] != ' ' &&
				    s[e + 1] != '\t'))
					break;
				for (i = e + 1, e = i; e < h && s[e] != '\n';
				    e++)
					;
			}
			out[o] = '\0';
			return 1;
		}
		i = e + 1;
	}
	out[0] = '\0';
	return 0;
}

static int
field_is(const char *s, size_t n, const char *name, const char *want)
{
	char v[8192];

	if (!field(s, n, name, v, sizeof(v))) {
		fprintf(stderr, "no %s:\n", name);
		return 0;
	}
	if (strcmp(v, want) != 0) {
		fprintf(stderr, "%s: [%s], want [%s]\n", name, v, want);
		return 0;
	}
	return 1;
}

static int
has(const char *s, size_t n, const char *needle)
{
	size_t len = strlen(needle), i;

	for (i = 0; i + len <= n; i++)
		if (memcmp(s + i, needle, len) == 0)
			return 1;
	return 0;
}

struct part {
	const char	*p;
	size_t		n;
};

/* has(), saying what was there instead. */
static int
part_has(struct part t, const char *needle)
{
	if (has(t.p, t.n, needle))
		return 1;
	fprintf(stderr, "not found: [%s]\nin: [%.*s]\n", needle, (int)t.n,
	    t.p);
	return 0;
}

/* The parts of a multipart body: what lies between "--B" lines. */
static int
split(const char *s, size_t n, const char *b, struct part *pt, int max,
    int *closed)
{
	char dl[128];
	size_t i = 0, e, dn;
	int np = -1;

	i = (size_t)snprintf(dl, sizeof(dl), "--%s", b);
	if (i >= sizeof(dl))
		return -1;
	dn = i;
	i = 0;
	*closed = 0;
	while (i < n) {
		for (e = i; e < n && s[e] != '\n'; e++)
			;
		if (e - i >= dn && memcmp(s + i, dl, dn) == 0) {
			if (np >= 0 && np < max)	/* the LF is the delimiter's */
				pt[np].n = i - 1 - (size_t)(pt[np].p - s);
			if (e - i == dn + 2 && s[i + dn] == '-' &&
			    s[i + dn + 1] == '-') {
				*closed = 1;
				return np + 1;
			}
			if (e - i != dn)	/* "--B" + junk: not ours */
				return -1;
			if (++np < max)
				pt[np].p = s + e + 1;
		}
		i = e + 1;
	}
	return -1;
}

/* The body after a part's (or block's) header. */
static struct part
body_of(struct part p)
{
	struct part b;
	size_t h = head_len(p.p, p.n);

	b.p = p.p + h;
	b.n = p.n - h;
	return b;
}

/* Every line at most 998 octets, no CR, and (if ascii) no 8-bit. */
static int
lines_ok(const char *s, size_t n, int ascii)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r' || (ascii && (unsigned char)s[i] >= 128))
			return 0;
		if (s[i] == '\n')
			col = 0;
		else if (++col > 998)
			return 0;
	}
	return n > 0 && s[n - 1] == '\n';
}

/* The longest line. */
static size_t
longest(const char *s, size_t n)
{
	size_t i, col = 0, max = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			col = 0;
		else if (++col > max)
			max = col;
	}
	return max;
}

/* A bounce taken apart. */
struct parsed {
	char		bnd[128];
	struct part	pt[4];
	int		np;
	struct part	text, status, orig;	/* the parts' bodies */
	struct part	blk[8];			/* delivery-status groups */
	int		nblk;
};

/* Split the message/delivery-status body into its groups. */
static void
groups(struct parsed *x)
{
	const char *s = x->status.p, *end = s + x->status.n;
	size_t h;

	x->nblk = 0;
	while (s < end && x->nblk < 8) {
		h = head_len(s, (size_t)(end - s));
		x->blk[x->nblk].p = s;
		x->blk[x->nblk++].n = h;
		s += h;
	}
}

static int
parse(const struct buf *b, struct parsed *x)
{
	const char *s = buf_ptr(b), *p, *q;
	size_t n = buf_used(b);
	char ct[1024];
	int closed, i;

	memset(x, 0, sizeof(*x));
	if (!field(s, n, "Content-Type", ct, sizeof(ct)) ||
	    (p = strstr(ct, "boundary=\"")) == NULL ||
	    (q = strchr(p + 10, '"')) == NULL || q - p - 10 > 70 ||
	    q - p - 10 < 1)
		return -1;
	memcpy(x->bnd, p + 10, (size_t)(q - p - 10));
	x->bnd[q - p - 10] = '\0';
	x->np = split(s, n, x->bnd, x->pt, 4, &closed);
	if (x->np < 2 || x->np > 3 || !closed)
		return -1;
	/* It ends with the closing delimiter: "\n--B--\n". */
	i = (int)strlen(x->bnd);
	if (n < (size_t)i + 6 || memcmp(s + n - i - 6, "\n--", 3) != 0 ||
	    memcmp(s + n - 3, "--\n", 3) != 0)
		return -1;
	x->text = body_of(x->pt[0]);
	x->status = body_of(x->pt[1]);
	if (x->np == 3)
		x->orig = body_of(x->pt[2]);
	groups(x);
	for (i = 0; i < x->np; i++)
		if (has(x->pt[i].p, x->pt[i].n, x->bnd))
			return -1;
	return 0;
}

/* --- fixtures --- */

static struct dsn_rcpt rc2[2];

static void
setup(struct dsn *d, struct orig *o, const char *text, size_t len)
{
	memset(o, 0, sizeof(*o));
	o->text = text;
	o->len = len;
	memset(rc2, 0, sizeof(rc2));
	rc2[0].orcpt = "Bob@Example.org";
	rc2[0].final = "bob@example.org";
	rc2[0].action = DSN_FAILED;
	rc2[0].status = "5.1.1";
	rc2[0].remote_mta = "mx.example.org";
	rc2[0].diag = "550 5.1.1 <bob@example.org>: No such user";
	rc2[0].last_attempt = 1700000100;
	rc2[1].final = "carol@example.org";
	rc2[1].action = DSN_FAILED;
	rc2[1].status = "5.2.2";
	rc2[1].diag = "mailbox full";
	memset(d, 0, sizeof(*d));
	d->reporting_mta = "mx.example.net";
	d->queue_id = "65A1B2C30001F00D";
	d->sender = "alice@example.com";
	d->arrival = 1700000000;
	d->postmaster = "MAILER-DAEMON@mx.example.net";
	d->rcpts = rc2;
	d->nrcpts = 2;
	d->read = orig_read;
	d->arg = o;
	d->hdr_len = sizeof(hdr_text) - 1;
	d->max_body = 64 * 1024;
}

static char whole[sizeof(hdr_text) + sizeof(body_text)];

/* The ordinary bounce: two failed recipients, the original's header. */
static void
test_basic(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;
	const char *s;
	size_t n;

	setup(&d, &o, whole, strlen(whole));
	buf_init(&b, 0);
	buf_puts(&b, "X-Kept: yes\n");	/* appended after what is there */
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(buf_used(&b) > 12 && memcmp(buf_ptr(&b), "X-Kept: yes\n", 12) == 0);
	buf_consume(&b, 12);
	s = buf_ptr(&b);
	n = buf_used(&b);
	CHECK(lines_ok(s, n, 1));
	CHECK(field_is(s, n, "From",
	    "Mail Delivery System <MAILER-DAEMON@mx.example.net>"));
	CHECK(field_is(s, n, "To", "<alice@example.com>"));
	CHECK(field_is(s, n, "Subject", "Undelivered Mail Returned to Sender"));
	CHECK(field_is(s, n, "Auto-Submitted", "auto-replied"));
	CHECK(field_is(s, n, "MIME-Version", "1.0"));
	CHECK(has(s, head_len(s, n), "\nDate: "));
	CHECK(has(s, head_len(s, n), "\nMessage-ID: <"));
	CHECK(has(s, head_len(s, n), ".65A1B2C30001F00D@mx.example.net>\n"));
	CHECK(!has(s, head_len(s, n), "Content-Transfer-Encoding"));
	CHECK(field_is(s, n, "Content-Type", "multipart/report; "
	    "report-type=delivery-status;\tboundary="
	    "\"65A1B2C30001F00D.0/mx.example.net\""));
	CHECK(parse(&b, &x) == 0);
	CHECK(x.np == 3);
	CHECK(!has(whole, strlen(whole), x.bnd));
	CHECK(field_is(x.pt[0].p, x.pt[0].n, "Content-Type",
	    "text/plain; charset=us-ascii"));
	CHECK(part_has(x.text,
	    "This is the mail system at host mx.example.net.\n\n"
	    "I'm sorry to have to inform you that your message could not\n"
	    "be delivered to one or more recipients. Its header is attached "
	    "below.\n"));
	/* Original-Recipient differs only in case: not "expanded". */
	CHECK(part_has(x.text, "\n<bob@example.org>: host mx.example.org "
	    "said: 550 5.1.1 <bob@example.org>: No\n    such user\n\n"));
	CHECK(part_has(x.text, "\n\n<carol@example.org>: mailbox full"
	    "\n"));
	CHECK(field_is(x.pt[1].p, x.pt[1].n, "Content-Type",
	    "message/delivery-status"));
	CHECK(x.nblk == 3);
	CHECK(field_is(x.blk[0].p, x.blk[0].n, "Reporting-MTA",
	    "dns; mx.example.net"));
	CHECK(field_is(x.blk[0].p, x.blk[0].n, "X-Yubin-Queue-ID",
	    "65A1B2C30001F00D"));
	CHECK(field_is(x.blk[0].p, x.blk[0].n, "X-Yubin-Sender",
	    "rfc822; alice@example.com"));
	CHECK(has(x.blk[0].p, x.blk[0].n, "\nArrival-Date: "));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Final-Recipient",
	    "rfc822; bob@example.org"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Original-Recipient",
	    "rfc822; Bob@Example.org"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Action", "failed"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Status", "5.1.1"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Remote-MTA",
	    "dns; mx.example.org"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Diagnostic-Code",
	    "smtp; 550 5.1.1 <bob@example.org>: No such user"));
	CHECK(has(x.blk[1].p, x.blk[1].n, "\nLast-Attempt-Date: "));
	CHECK(field_is(x.blk[2].p, x.blk[2].n, "Final-Recipient",
	    "rfc822; carol@example.org"));
	CHECK(!has(x.blk[2].p, x.blk[2].n, "Original-Recipient"));
	CHECK(!has(x.blk[2].p, x.blk[2].n, "Remote-MTA"));
	CHECK(!has(x.blk[2].p, x.blk[2].n, "Last-Attempt-Date"));
	CHECK(field_is(x.blk[2].p, x.blk[2].n, "Status", "5.2.2"));
	CHECK(field_is(x.blk[2].p, x.blk[2].n, "Diagnostic-Code",
	    "X-Yubin; mailbox full"));
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Type",
	    "text/rfc822-headers"));
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Description",
	    "Undelivered Message Headers"));
	/* The header, without its blank line and without the body. */
	CHECK(x.orig.n == sizeof(hdr_text) - 2 &&
	    memcmp(x.orig.p, hdr_text, x.orig.n) == 0);
	CHECK(o.calls <= 2);
	CHECK(memcmp(s + n - strlen(x.bnd) - 6, "\n--", 3) == 0);
	buf_free(&b);
}

/* The whole message when it fits; its header alone when it does not. */
static void
test_full(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;

	setup(&d, &o, whole, strlen(whole));
	d.full = 1;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Type", "message/rfc822"));
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Description",
	    "Undelivered Message"));
	CHECK(x.orig.n == strlen(whole) &&
	    memcmp(x.orig.p, whole, x.orig.n) == 0);
	CHECK(part_has(x.text, " It's attached below.\n"));
	CHECK(part_has(x.text, "You can\ndelete your own text"));
	CHECK(lines_ok(buf_ptr(&b), buf_used(&b), 1));
	buf_free(&b);

	/* Exactly the cap fits; one octet less does not. */
	setup(&d, &o, whole, strlen(whole));
	d.full = 1;
	d.max_body = strlen(whole);
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Type", "message/rfc822"));
	buf_reset(&b);
	d.max_body = strlen(whole) - 1;
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Type",
	    "text/rfc822-headers"));
	CHECK(x.orig.n == sizeof(hdr_text) - 2 &&
	    memcmp(x.orig.p, hdr_text, x.orig.n) == 0);
	buf_free(&b);
}

/* Without hdr_len, or with a wrong one, the header end is found. */
static void
test_hdr_len(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;
	static const unsigned long lens[] = { 0, 5, 3000, 1 };
	size_t i;

	for (i = 0; i < NELEM(lens); i++) {
		setup(&d, &o, whole, strlen(whole));
		d.hdr_len = lens[i];
		buf_init(&b, 0);
		CHECK(dsn_compose(&d, &b) == 0);
		CHECK(parse(&b, &x) == 0 && x.np == 3);
		CHECK(x.orig.n == sizeof(hdr_text) - 2 &&
		    memcmp(x.orig.p, hdr_text, x.orig.n) == 0);
		CHECK(o.biggest <= 65536);
		buf_free(&b);
	}

	/* A long header found in pieces, never read past the cap. */
	{
		char *big = malloc(300000);
		size_t n = 0;

		CHECK(big != NULL);
		if (big == NULL)
			return;
		while (n < 100000) {
			memcpy(big + n, "X-Filler: 0123456789\n", 21);
			n += 21;
		}
		memcpy(big + n, "\nbody\n", 6);
		n += 6;
		setup(&d, &o, big, n);
		d.hdr_len = 0;
		d.max_body = 0;		/* DSN_INCLUDE_MAX */
		buf_init(&b, 0);
		CHECK(dsn_compose(&d, &b) == 0);
		CHECK(parse(&b, &x) == 0 && x.np == 3);
		CHECK(x.orig.n == n - 6 && memcmp(x.orig.p, big, x.orig.n) == 0);
		buf_free(&b);

		/* The header alone passes the cap: cut at a line end. */
		d.max_body = 1000;
		o.biggest = 0;
		buf_init(&b, 0);
		CHECK(dsn_compose(&d, &b) == 0);
		CHECK(parse(&b, &x) == 0 && x.np == 3);
		CHECK(x.orig.n == 21 * 47 && memcmp(x.orig.p, big,
		    x.orig.n) == 0);
		CHECK(o.biggest <= 1000);
		buf_free(&b);
		free(big);
	}
}

/* A message that holds the boundary the bounce would have used. */
static void
test_malicious(void)
{
	static const char evil[] =
	    "Subject: gotcha\n"
	    "Content-Type: multipart/mixed; boundary=\"65A1B2C30001F00D.0/"
	    "mx.example.net\"\n\n"
	    "--65A1B2C30001F00D.0/mx.example.net\n\nfake part\n"
	    "--65A1B2C30001F00D.0/mx.example.net--\n"
	    "and 65A1B2C30001F00D.1/mx.example.net too\n";
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;

	setup(&d, &o, evil, strlen(evil));
	d.full = 1;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(strcmp(x.bnd, "65A1B2C30001F00D.2/mx.example.net") == 0);
	CHECK(!has(evil, strlen(evil), x.bnd));
	CHECK(x.orig.n == strlen(evil) && memcmp(x.orig.p, evil, x.orig.n) == 0);
	buf_free(&b);

	/* A remote reply that holds it is checked too. */
	setup(&d, &o, whole, strlen(whole));
	rc2[0].diag = "550 --65A1B2C30001F00D.0/mx.example.net";
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(strcmp(x.bnd, "65A1B2C30001F00D.1/mx.example.net") == 0);
	buf_free(&b);
}

/* A 2000-octet reply folds at spaces; a 2000-octet word is broken. */
static void
test_fold(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;
	char diag[2100], got[8192], *p;
	size_t i, j;

	strcpy(diag, "550 5.7.1");
	for (i = strlen(diag); i < 2000; i++)
		diag[i] = i % 11 == 0 ? ' ' : (char)('a' + i % 26);
	diag[i] = '\0';
	setup(&d, &o, whole, strlen(whole));
	rc2[0].diag = diag;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(lines_ok(buf_ptr(&b), buf_used(&b), 1));
	CHECK(longest(x.status.p, x.status.n) <= 78);
	CHECK(longest(x.text.p, x.text.n) <= 76);
	CHECK(field(x.blk[1].p, x.blk[1].n, "Diagnostic-Code", got,
	    sizeof(got)));
	CHECK(strncmp(got, "smtp; ", 6) == 0 && strcmp(got + 6, diag) == 0);
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Status", "5.1.1"));
	buf_free(&b);

	/* One word: broken at 998 with a folding space. */
	for (i = 0; i < 2000; i++)
		diag[i] = (char)('a' + i % 26);
	diag[i] = '\0';
	rc2[0].diag = diag;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(lines_ok(buf_ptr(&b), buf_used(&b), 1));
	CHECK(longest(x.status.p, x.status.n) == 998);
	CHECK(field(x.blk[1].p, x.blk[1].n, "Diagnostic-Code", got,
	    sizeof(got)));
	/* Unfolded, it is the word with the breaks' spaces in it. */
	for (p = got, j = 0; *p != '\0'; p++)
		if (*p != ' ')
			got[j++] = *p;
	got[j] = '\0';
	CHECK(strncmp(got, "X-Yubin;", 8) == 0 && strcmp(got + 8, diag) == 0);
	buf_free(&b);

	/* Too long: cut at DSN_DIAG_MAX, and it says so. */
	p = malloc(10000);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	for (i = 0; i < 9999; i++)
		p[i] = i % 7 == 6 ? ' ' : 'x';
	p[i] = '\0';
	rc2[0].diag = p;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(field(x.blk[1].p, x.blk[1].n, "Diagnostic-Code", got,
	    sizeof(got)));
	CHECK(strlen(got) <= DSN_DIAG_MAX + 9 && strlen(got) > 4000);
	CHECK(strcmp(got + strlen(got) - 4, " ...") == 0);
	buf_free(&b);
	free(p);
}

/* Lines of the original longer than 998 octets, 8-bit in it. */
static void
test_long_lines(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;
	char *m;
	size_t n = 0, i;

	m = malloc(10000);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	n = (size_t)sprintf(m, "Subject: caf\xc3\xa9\nX-Long: ");
	for (i = 0; i < 1500; i++)
		m[n++] = 'h';
	m[n++] = '\n';
	m[n++] = '\n';
	for (i = 0; i < 3000; i++)
		m[n++] = 'b';
	/* and no line end at the end */
	setup(&d, &o, m, n);
	d.full = 1;
	d.hdr_len = 0;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(lines_ok(buf_ptr(&b), buf_used(&b), 0));
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(field_is(buf_ptr(&b), buf_used(&b), "Content-Transfer-Encoding",
	    "8bit"));
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Transfer-Encoding",
	    "8bit"));
	CHECK(lines_ok(x.text.p, x.text.n, 1));
	CHECK(lines_ok(x.status.p, x.status.n, 1));
	/* The long header line is folded, so it is still one field. */
	CHECK(field(x.orig.p, x.orig.n, "X-Long", m + 5000, 5000) &&
	    strlen(m + 5000) == 1501);
	/* One fold (2 octets), three breaks of the body, a line end. */
	CHECK(x.orig.n == n + 2 + 3 + 1 && x.orig.p[x.orig.n - 1] == '\n');
	buf_free(&b);
	free(m);
}

/* DELAYED: the warning's words and fields. */
static void
test_delayed(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;

	setup(&d, &o, whole, strlen(whole));
	d.nrcpts = 1;
	rc2[0].action = DSN_DELAYED;
	rc2[0].status = "4.4.1";
	rc2[0].diag = "connect to mx.example.org: Connection refused";
	d.arrival = time(NULL) - 4 * 3600 - 1800;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(lines_ok(buf_ptr(&b), buf_used(&b), 1));
	CHECK(field_is(buf_ptr(&b), buf_used(&b), "Subject",
	    "Delayed Mail (still being retried)"));
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(part_has(x.text, "# THIS IS A WARNING ONLY.  YOU DO NOT "
	    "NEED TO RESEND YOUR MESSAGE. #\n"));
	CHECK(part_has(x.text, "could not be delivered for 4.5 hours."));
	CHECK(!has(x.text.p, x.text.n, "I'm sorry"));
	CHECK(x.nblk == 2);
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Action", "delayed"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Status", "4.4.1"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Diagnostic-Code",
	    "X-Yubin; connect to mx.example.org: Connection refused"));
	CHECK(field_is(x.pt[2].p, x.pt[2].n, "Content-Description",
	    "Delayed Message Headers"));
	buf_free(&b);

	/* A 5.x.x for a delayed recipient is made transient. */
	rc2[0].status = "5.4.4";
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Status", "4.4.4"));
	buf_free(&b);

	/* One failed, one delayed: a failure report naming both. */
	d.nrcpts = 2;
	rc2[1].action = DSN_FAILED;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(field_is(buf_ptr(&b), buf_used(&b), "Subject",
	    "Undelivered Mail Returned to Sender"));
	CHECK(parse(&b, &x) == 0 && x.nblk == 3);
	CHECK(part_has(x.text, "\n<bob@example.org>: delivery temporarily "
	    "failed, still being retried: host\n    mx.example.org said: "
	    "connect to mx.example.org: Connection refused\n\n"));
	buf_free(&b);
}

/* What comes from outside: controls, 8-bit, odd addresses, bad codes. */
static void
test_hostile(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;

	setup(&d, &o, whole, strlen(whole));
	rc2[0].final = "<\"john smith\"@example.org>";
	rc2[0].orcpt = "j\xc3\xb6rg@example.org";
	rc2[0].diag = "550-5.1.1 first line\r\n550-5.1.1 second\r\n"
	    "550 5.1.1 caf\xc3\xa9\r\nBcc: injected@example.com";
	rc2[0].remote_mta = "mx.example.org\r\nX-Evil: 1";
	rc2[0].status = "junk";
	rc2[1].status = NULL;
	rc2[1].diag = NULL;
	d.sender = "alice@example.com\nBcc: x@y";
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(lines_ok(buf_ptr(&b), buf_used(&b), 1));
	CHECK(field_is(buf_ptr(&b), buf_used(&b), "To",
	    "<alice@example.com?Bcc: x@y>"));
	CHECK(!has(buf_ptr(&b), buf_used(&b), "\nBcc:"));
	CHECK(!has(buf_ptr(&b), buf_used(&b), "\nX-Evil"));
	CHECK(parse(&b, &x) == 0);
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Final-Recipient",
	    "rfc822; \"john smith\"@example.org"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Original-Recipient",
	    "rfc822; j??rg@example.org"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Status", "5.0.0"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Remote-MTA",
	    "dns; mx.example.org??X-Evil:?1"));
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Diagnostic-Code",
	    "smtp; 550-5.1.1 first line 550-5.1.1 second 550 5.1.1 caf?? "
	    "Bcc: injected@example.com"));
	CHECK(field_is(x.blk[2].p, x.blk[2].n, "Status", "5.0.0"));
	CHECK(!has(x.blk[2].p, x.blk[2].n, "Diagnostic-Code"));
	CHECK(part_has(x.text, "\n<\"john smith\"@example.org> (expanded "
	    "from <j??rg@example.org>): host\n    mx.example.org??X-Evil:?1 "
	    "said: 550-5.1.1 first line 550-5.1.1 second\n    550 5.1.1 caf?? "
	    "Bcc: injected@example.com\n\n"));
	CHECK(part_has(x.text, "<carol@example.org>: other undefined "
	    "status (5.0.0)\n"));
	buf_free(&b);

	/* Codes: kept, or made to agree with the action, or replaced. */
	setup(&d, &o, whole, strlen(whole));
	rc2[0].status = "5.10.100";
	rc2[1].status = "2.1.5";
	rc2[1].diag = NULL;
	rc2[1].remote_mta = "mx.example.org";
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(field_is(x.blk[1].p, x.blk[1].n, "Status", "5.10.100"));
	CHECK(field_is(x.blk[2].p, x.blk[2].n, "Status", "5.1.5"));
	CHECK(part_has(x.text, "<carol@example.org>: host "
	    "mx.example.org: no reason given (5.1.5)\n"));
	buf_reset(&b);
	rc2[1].status = "5.1.1.1";
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(field_is(x.blk[2].p, x.blk[2].n, "Status", "5.0.0"));
	buf_reset(&b);
	rc2[1].status = "5.1234.1";
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(field_is(x.blk[2].p, x.blk[2].n, "Status", "5.0.0"));
	buf_reset(&b);
	rc2[1].status = "5.1.1";
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0);
	CHECK(part_has(x.text, "<carol@example.org>: host "
	    "mx.example.org: bad destination mailbox address\n    (5.1.1)\n"));
	buf_free(&b);
}

/* Errors leave the output as it was; odd originals still bounce. */
static void
test_errors(void)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	struct parsed x;

	buf_init(&b, 0);
	buf_puts(&b, "keep");
	setup(&d, &o, whole, strlen(whole));
	d.sender = "";
	CHECK(dsn_compose(&d, &b) == -1);
	d.sender = "<>";
	CHECK(dsn_compose(&d, &b) == -1);
	d.sender = NULL;
	CHECK(dsn_compose(&d, &b) == -1);
	setup(&d, &o, whole, strlen(whole));
	d.nrcpts = 0;
	CHECK(dsn_compose(&d, &b) == -1);
	setup(&d, &o, whole, strlen(whole));
	rc2[1].action = 3;
	CHECK(dsn_compose(&d, &b) == -1);
	setup(&d, &o, whole, strlen(whole));
	rc2[1].final = NULL;
	CHECK(dsn_compose(&d, &b) == -1);
	setup(&d, &o, whole, strlen(whole));
	d.reporting_mta = NULL;
	CHECK(dsn_compose(&d, &b) == -1);
	setup(&d, &o, whole, strlen(whole));
	o.fail = 1;
	CHECK(dsn_compose(&d, &b) == -1);
	setup(&d, &o, whole, strlen(whole));
	o.lie = 1;
	CHECK(dsn_compose(&d, &b) == -1);
	CHECK(dsn_compose(NULL, &b) == -1);
	CHECK(buf_used(&b) == 4 && memcmp(buf_ptr(&b), "keep", 4) == 0);
	buf_free(&b);

	/* A cap on the output that the bounce passes. */
	buf_init(&b, 1500);
	buf_puts(&b, "keep");
	setup(&d, &o, whole, strlen(whole));
	CHECK(dsn_compose(&d, &b) == -1);
	CHECK(buf_used(&b) == 4 && memcmp(buf_ptr(&b), "keep", 4) == 0);
	buf_free(&b);

	/* No reader: two parts.  No postmaster: MAILER-DAEMON@host. */
	setup(&d, &o, whole, strlen(whole));
	d.read = NULL;
	d.postmaster = NULL;
	d.queue_id = NULL;
	d.arrival = 0;
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 2);
	CHECK(strcmp(x.bnd, "dsn.0/mx.example.net") == 0);
	CHECK(field_is(buf_ptr(&b), buf_used(&b), "From",
	    "Mail Delivery System <MAILER-DAEMON@mx.example.net>"));
	CHECK(!has(x.status.p, x.status.n, "Arrival-Date"));
	CHECK(!has(x.status.p, x.status.n, "X-Yubin-Queue-ID"));
	CHECK(part_has(x.text, "recipients.\n\nFor further"));
	buf_free(&b);

	/* An empty message, an empty header, a header without a body. */
	setup(&d, &o, "", 0);
	buf_init(&b, 0);
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 2);
	buf_reset(&b);
	setup(&d, &o, "\nonly a body\n", 13);
	d.hdr_len = 1;
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 2);
	buf_reset(&b);
	setup(&d, &o, "Subject: no body", 16);
	d.hdr_len = 0;
	CHECK(dsn_compose(&d, &b) == 0);
	CHECK(parse(&b, &x) == 0 && x.np == 3);
	CHECK(x.orig.n == 17 && memcmp(x.orig.p, "Subject: no body\n", 17) == 0);
	buf_free(&b);
}

/* "test_dsn DIR": the samples, for tests/dsn_check.py. */
static int
dump(const char *dir)
{
	struct dsn d;
	struct orig o;
	struct buf b;
	char path[1024], diag[2100];
	FILE *fp;
	size_t i;
	int k, r;

	for (k = 0; k < 5; k++) {
		setup(&d, &o, whole, strlen(whole));
		if (k == 1)
			d.full = 1;
		if (k == 2) {
			for (i = 0; i < 2000; i++)
				diag[i] = i % 9 == 8 ? ' ' : 'z';
			diag[i] = '\0';
			rc2[0].diag = diag;
		}
		if (k == 3) {
			d.nrcpts = 1;
			rc2[0].action = DSN_DELAYED;
			rc2[0].status = "4.4.1";
		}
		if (k == 4)
			d.read = NULL;
		buf_init(&b, 0);
		r = snprintf(path, sizeof(path), "%s/dsn-%d.eml", dir, k);
		if (r < 0 || (size_t)r >= sizeof(path) ||
		    dsn_compose(&d, &b) < 0 || (fp = fopen(path, "w")) == NULL)
			return 1;
		if (fwrite(buf_ptr(&b), 1, buf_used(&b), fp) != buf_used(&b) ||
		    fclose(fp) != 0)
			return 1;
		buf_free(&b);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	strcpy(whole, hdr_text);
	strcat(whole, body_text);
	if (argc > 1)
		return dump(argv[1]);
	test_basic();
	test_full();
	test_hdr_len();
	test_malicious();
	test_fold();
	test_long_lines();
	test_delayed();
	test_hostile();
	test_errors();
	return check_exit("test_dsn");
}

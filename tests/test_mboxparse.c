/*
 * test_mboxparse.c - unit tests of src/mboxparse.c: every input is
 * parsed in one window, in windows of every size from 1 to 37 bytes and
 * at random splits, and the reports must agree field by field; each
 * report must also agree with the bytes (offsets, line counts); then
 * the fixtures in tests/fixtures/mbox/ (files as mail.local, mutt, UW
 * imapd, Dovecot and Postfix write them) are checked message by message.
 */
#include "yubin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mboxparse.h"

#define MAXMSG		64
#define MBOXP_TEST_LONG	9000	/* over mboxparse.c's MBOXP_LINE_MAX */

struct run {
	struct mbox_msg	m[MAXMSG];
	int		n;
	int		overflow;
	int		rc;		/* -1: a feed returned -1 */
	int		fail_at;	/* msg() fails on this message, or -1 */
};

struct ctx {
	const char	*data;
	size_t		len;
	struct run	*r;
};

static unsigned long rnd_state = 1;

static unsigned long
rnd(void)
{
	/* a fixed LCG: the same splits on every run and system */
	rnd_state = (rnd_state * 1103515245UL + 12345UL) & 0x7fffffffUL;
	return rnd_state >> 8;
}

static long
mem_peek(void *arg, off_t off, char *buf, size_t len)
{
	struct ctx *c = arg;

	if (off < 0 || (size_t)off > c->len)
		return -1;
	if (len > c->len - (size_t)off)
		len = c->len - (size_t)off;
	memcpy(buf, c->data + off, len);
	return (long)len;
}

static int
collect(void *arg, const struct mbox_msg *m)
{
	struct ctx *c = arg;

	if (c->r->n == c->r->fail_at)
		return -1;
	if (c->r->n == MAXMSG) {
		c->r->overflow = 1;
		return 0;
	}
	c->r->m[c->r->n++] = *m;
	return 0;
}

/*
 * Parse data; win 0: all at once, > 0: windows of win bytes, < 0:
 * random windows (1 to -win bytes).  Each window is a copy of its own
 * size, so a read past it shows under a memory checker.
 */
static void
parse(const char *data, size_t len, int win, int fail_at, struct run *r)
{
	struct ctx c;
	struct mboxp *p;
	size_t pos = 0, n;
	long got;
	char *w;

	memset(r, 0, sizeof(*r));
	r->fail_at = fail_at;
	c.data = data;
	c.len = len;
	c.r = r;
	p = mboxp_new((off_t)len, mem_peek, collect, &c);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	while (pos < len) {
		n = win == 0 ? len - pos : win > 0 ? (size_t)win :
		    1 + rnd() % (size_t)-win;
		if (n > len - pos)
			n = len - pos;
		if ((w = malloc(n)) == NULL)
			break;
		memcpy(w, data + pos, n);
		got = mboxp_feed(p, (off_t)pos, w, n);
		free(w);
		if (got < 0) {
			r->rc = -1;
			break;
		}
		/* it may keep back a little, never all of a big window */
		if (got == 0 && n >= MBOXP_WINDOW)
			CHECK(!"a big window is consumed");
		if (got == 0 && n == len - pos)
			break;
		pos += (size_t)got;
	}
	if (r->rc == 0 && mboxp_feed(p, (off_t)pos, "", 0) < 0)
		r->rc = -1;
	mboxp_free(p);
}

static int
field_eq(const struct mbox_field *a, const struct mbox_field *b)
{
	return a->off == b->off && (a->off == -1 || a->len == b->len);
}

static int
msg_eq(const struct mbox_msg *a, const struct mbox_msg *b)
{
	return a->from == b->from && a->hdr == b->hdr &&
	    a->body == b->body && a->end == b->end &&
	    a->hdr_lines == b->hdr_lines && a->body_lines == b->body_lines &&
	    a->meta_bytes == b->meta_bytes && a->meta_lines == b->meta_lines &&
	    a->date == b->date && a->uid == b->uid && a->flags == b->flags &&
	    strcmp(a->uidl, b->uidl) == 0 && a->pseudo == b->pseudo &&
	    field_eq(&a->status, &b->status) &&
	    field_eq(&a->xstatus, &b->xstatus) &&
	    field_eq(&a->xkeywords, &b->xkeywords) &&
	    field_eq(&a->xuid, &b->xuid) &&
	    field_eq(&a->ximapbase, &b->ximapbase) &&
	    strcmp(a->keywords, b->keywords) == 0 &&
	    a->keywords_cut == b->keywords_cut &&
	    a->uidvalidity == b->uidvalidity && a->uidnext == b->uidnext;
}

static unsigned long
lfs(const char *d, off_t a, off_t b)
{
	unsigned long n = 0;

	for (; a < b; a++)
		n += d[a] == '\n';
	return n;
}

/* Is [a, b) empty or one blank line (the separator)? */
static int
is_sep(const char *d, off_t a, off_t b)
{
	return b == a || (b == a + 1 && d[a] == '\n') ||
	    (b == a + 2 && d[a] == '\r' && d[a + 1] == '\n');
}

static int
field_in(const struct mbox_msg *m, const struct mbox_field *f)
{
	return f->off == -1 || (f->off >= m->hdr &&
	    f->off + (off_t)f->len <= m->body);
}

/* What every report must satisfy, whatever the input. */
static int
consistent(const char *d, size_t len, const struct run *r)
{
	const struct mbox_msg *m;
	int i;

	for (i = 0; i < r->n; i++) {
		m = &r->m[i];
		if (!(m->from < m->hdr && m->hdr <= m->body &&
		    m->body <= m->end && m->end <= (off_t)len) ||
		    memcmp(d + m->from, "From ", 5) != 0 ||
		    lfs(d, m->hdr, m->body) != m->hdr_lines ||
		    lfs(d, m->body, m->end) != m->body_lines ||
		    m->meta_bytes > (unsigned long)(m->body - m->hdr) ||
		    !field_in(m, &m->status) || !field_in(m, &m->xstatus) ||
		    !field_in(m, &m->xkeywords) || !field_in(m, &m->xuid) ||
		    !field_in(m, &m->ximapbase))
			return 0;
		if (i > 0 && !is_sep(d, r->m[i - 1].end, m->from))
			return 0;
	}
	if (r->n > 0 && !is_sep(d, r->m[r->n - 1].end, (off_t)len))
		return 0;
	return r->n > 0 || len == 0 || r->rc < 0;
}

/* Parse d every way; all must agree with the one-window run, which is
 * left in *ref. */
static void
parse_all(const char *name, const char *d, size_t len, struct run *ref)
{
	static struct run r;
	int w, i, k, ok;

	parse(d, len, 0, -1, ref);
	CHECK(!ref->overflow);
	if (!consistent(d, len, ref)) {
		CHECK(!"report agrees with the bytes");
		fprintf(stderr, "  in %s\n", name);
	}
	for (w = 1; w <= 37 + 8; w++) {
		/* 1..37: fixed sizes; then random splits, 8 seeds */
		if (w <= 37)
			parse(d, len, w, -1, &r);
		else {
			rnd_state = (unsigned long)w * 7919UL;
			parse(d, len, w % 2 ? -7 : -300, -1, &r);
		}
		ok = r.n == ref->n && r.rc == ref->rc;
		for (i = 0, k = -1; ok && i < r.n; i++)
			if (!msg_eq(&r.m[i], &ref->m[i])) {
				ok = 0;
				k = i;
			}
		if (!ok) {
			CHECK(!"windowed parse agrees");
			fprintf(stderr, "  in %s, window %d, message %d\n",
			    name, w, k);
			return;
		}
	}
}

static void
parse_str(const char *name, const char *d, struct run *ref)
{
	parse_all(name, d, strlen(d), ref);
}

/* [a, b) of d is exactly s */
static int
text_is(const char *d, off_t a, off_t b, const char *s)
{
	return b - a == (off_t)strlen(s) && memcmp(d + a, s, strlen(s)) == 0;
}

#define HDR(r, i, s)	text_is(d, (r)->m[i].hdr, (r)->m[i].body, s)
#define BODY(r, i, s)	text_is(d, (r)->m[i].body, (r)->m[i].end, s)

static void
test_small(void)
{
	static struct run r;
	const char *d;

	parse_str("empty", "", &r);
	CHECK(r.rc == 0 && r.n == 0);
	parse_str("not mbox", "Hello\nFrom x\n", &r);
	CHECK(r.rc == -1 && r.n == 0);
	parse_str("short", "Fro", &r);
	CHECK(r.rc == -1 && r.n == 0);
	parse_str("lower case", "from x Sun Nov 22 04:14:00 2026\n", &r);
	CHECK(r.rc == -1);

	d = "From x Sun Nov 22 04:14:00 2026\n";
	parse_str("only From_", d, &r);
	CHECK(r.rc == 0 && r.n == 1 && r.m[0].from == 0 &&
	    r.m[0].hdr == 32 && r.m[0].body == 32 && r.m[0].end == 32 &&
	    r.m[0].date == 1795320840L && r.m[0].uid == 0 &&
	    r.m[0].status.off == -1 && r.m[0].uidl[0] == '\0');
	d = "From x Sun Nov 22 04:14:00 2026";
	parse_str("only From_, no LF", d, &r);
	CHECK(r.rc == 0 && r.n == 1 && r.m[0].hdr == 31 &&
	    r.m[0].end == 31 && r.m[0].date == 1795320840L);

	d = "From a Sun Nov 22 04:14:00 2026\nSubject: 1\n\nbody\n\n"
	    "From b Sun Nov 22 04:15:00 2026\nSubject: 2\n\n";
	parse_str("second body empty", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "body\n") && HDR(&r, 0, "Subject: 1\n\n"));
	/* the file ends "\n\n": the last LF is the separator, and it is the
	 * header's blank line too */
	CHECK(r.n == 2 && HDR(&r, 1, "Subject: 2\n") && BODY(&r, 1, "") &&
	    r.m[1].hdr_lines == 1 && r.m[1].end == (off_t)strlen(d) - 1);
	d = "From a Sun Nov 22 04:14:00 2026\nSubject: 1\n\n\n"
	    "From b Sun Nov 22 04:15:00 2026\nSubject: 2\n\n\n";
	parse_str("empty bodies", d, &r);
	CHECK(r.n == 2 && HDR(&r, 0, "Subject: 1\n\n") && BODY(&r, 0, "") &&
	    HDR(&r, 1, "Subject: 2\n\n") && BODY(&r, 1, "") &&
	    r.m[1].hdr_lines == 2);
	d = "From a Sun Nov 22 04:14:00 2026\nSubject: 1\n\n"
	    "From b Sun Nov 22 04:15:00 2026\nSubject: 2\n\nx";
	parse_str("header blank is the separator", d, &r);
	CHECK(r.n == 2 && HDR(&r, 0, "Subject: 1\n") && BODY(&r, 0, "") &&
	    r.m[0].hdr_lines == 1 && BODY(&r, 1, "x") &&
	    r.m[1].body_lines == 0);
}

/* How the last message ends, and where From_ lines may be. */
static void
test_ends(void)
{
	static struct run r;
	static char big[9100];
	const char *d;

	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\n\nlast line";
	parse_str("no final LF", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "last line") && r.m[0].body_lines == 0);
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\n\nlast\n";
	parse_str("single final LF", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "last\n") && r.m[0].body_lines == 1);
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\n\nlast\n\n\n";
	parse_str("two final blank lines", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "last\n\n") && r.m[0].body_lines == 2);
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\n\nx\nFrom b\n>From c\n"
	    "\n>From d\n\nFrom e Sun Nov 22 04:15:00 2026\n\nz\n";
	parse_str("From_ only after blank", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\nFrom b\n>From c\n\n>From d\n") &&
	    BODY(&r, 1, "z\n") && HDR(&r, 1, "\n") && r.m[1].hdr_lines == 1);
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\n\nx\nFrom \n\nFrom\n\n"
	    "From\tb\n\nFrom";
	parse_str("almost From_", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "x\nFrom \n\nFrom\n\nFrom\tb\n\nFrom"));
	/* a From_ line longer than the parser keeps: no date, still a
	 * message */
	strcpy(big, "From a Sun Nov 22 04:14:00 2026 ");
	memset(big + strlen(big), 'x', 9000);
	strcat(big, "\nS: 1\n\nbody\n");
	d = big;
	parse_str("long From_ line", d, &r);
	CHECK(r.n == 1 && r.m[0].date == 0 && BODY(&r, 0, "body\n"));
}

static void
test_crlf(void)
{
	static struct run r;
	const char *d;

	d = "From a Sun Nov 22 04:14:00 2026\r\nS: 1\r\n\r\nx\r\n\r\n"
	    "From b Sun Nov 22 04:15:00 2026\r\nS: 2\r\n\r\ny\r\n\r\n";
	parse_str("crlf", d, &r);
	CHECK(r.n == 2 && HDR(&r, 0, "S: 1\r\n\r\n") && BODY(&r, 0, "x\r\n") &&
	    BODY(&r, 1, "y\r\n") && r.m[1].body_lines == 1 &&
	    r.m[0].date == 1795320840L);
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\n\nx\n\r\r\nFrom b\n\r";
	parse_str("lone CRs", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "x\n\r\r\nFrom b\n\r"));
}

static void
test_metadata(void)
{
	static struct run r;
	const char *d;

	d = "From a Sun Nov 22 04:14:00 2026\n"
	    "Status: RO\nX-Status: AFTD\nSUBJECT: hi\n"
	    "x-keywords: $Label1, Work\n\tNonJunk   \n"
	    "X-UID: 17  \nX-IMAPbase: 1700000000 0000000018 A B\n"
	    "X-UIDL: 5a1b2c3d4e\nContent-Length: 3\nstatus: D\n\nab\n";
	parse_str("metadata", d, &r);
	CHECK(r.n == 1 && r.m[0].flags == (MF_SEEN | MF_OLD | MF_ANSWERED |
	    MF_FLAGGED | MF_DRAFT | MF_DELETED));
	CHECK(r.n == 1 && strcmp(r.m[0].keywords, "$Label1 Work NonJunk") == 0 &&
	    !r.m[0].keywords_cut);
	CHECK(r.n == 1 && r.m[0].uid == 17 &&
	    r.m[0].uidvalidity == 1700000000UL && r.m[0].uidnext == 19 &&
	    strcmp(r.m[0].uidl, "5a1b2c3d4e") == 0 && !r.m[0].pseudo);
	CHECK(r.n == 1 && r.m[0].status.off == r.m[0].hdr && r.m[0].status.len == 11 &&
	    r.m[0].xkeywords.len == strlen("x-keywords: $Label1, Work\n"
	    "\tNonJunk   \n") && r.m[0].xuid.len == 12);
	/* every metadata line but Subject:, the second Status: too */
	CHECK(r.n == 1 && r.m[0].meta_lines == 9 && r.m[0].meta_bytes ==
	    (unsigned long)(r.m[0].body - r.m[0].hdr) - 1 - 12);
	CHECK(r.n == 1 && BODY(&r, 0, "ab\n"));

	d = "From a Sun Nov 22 04:14:00 2026\nX-UID: 4294967296\n"
	    "X-UIDL: " "0123456789012345678901234567890123456789"
	    "012345678901234567890123456789x\n"
	    "X-IMAPbase: x 5\n\n";
	parse_str("bad numbers", d, &r);
	CHECK(r.n == 1 && r.m[0].uid == 0 && r.m[0].uidl[0] == '\0' &&
	    r.m[0].xuid.off == r.m[0].hdr && r.m[0].uidvalidity == 0 &&
	    r.m[0].uidnext == 6);
	d = "From a Sun Nov 22 04:14:00 2026\nX-UID: 4294967295\n"
	    "X-UIDL: a b\nX-UID: 3\n\n";
	parse_str("max uid", d, &r);
	CHECK(r.n == 1 && r.m[0].uid == 4294967295UL && r.m[0].uidl[0] == '\0');
	d = "From a Sun Nov 22 04:14:00 2026\nX-UID: -1\n\n";
	parse_str("negative uid", d, &r);
	CHECK(r.n == 1 && r.m[0].uid == 0);
	d = "From a Sun Nov 22 04:14:00 2026\n"
	    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
	    "X-IMAP: 1763514000 0000000004 $Forwarded\n\ntext\n\n"
	    "From a Sun Nov 22 04:14:00 2026\n"
	    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\n";
	parse_str("pseudo", d, &r);
	CHECK(r.n == 2 && r.m[0].pseudo && r.m[0].uidvalidity == 1763514000UL &&
	    r.m[0].uidnext == 5 && r.m[0].ximapbase.off > 0 && !r.m[1].pseudo);
	d = "From a Sun Nov 22 04:14:00 2026\n"
	    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
	    "X-IMAP: 1763514000 0000000004";
	parse_str("pseudo, cut short", d, &r);
	CHECK(r.n == 1 && r.m[0].pseudo && r.m[0].uidnext == 5 &&
	    r.m[0].body == r.m[0].end);
}

/* Keywords: cut at a word boundary, and from a header line longer than
 * the parser keeps. */
static void
test_keywords(void)
{
	static struct run r;
	static char d[20000];
	size_t n;
	int i;

	strcpy(d, "From a Sun Nov 22 04:14:00 2026\nX-Keywords:");
	for (i = 0; i < 60; i++)
		sprintf(d + strlen(d), " kw%d", i);
	strcat(d, "\nX-UID: 3\n\nbody\n");
	parse_str("keywords cut", d, &r);
	CHECK(r.n == 1 && r.m[0].keywords_cut && r.m[0].uid == 3 &&
	    strlen(r.m[0].keywords) < 256 && strlen(r.m[0].keywords) > 240 &&
	    r.m[0].keywords[strlen(r.m[0].keywords) - 1] != ' ' &&
	    strncmp(r.m[0].keywords, "kw0 kw1 kw2 ", 12) == 0);

	strcpy(d, "From a Sun Nov 22 04:14:00 2026\nX-Keywords: a b\n"
	    "X-Long:");
	n = strlen(d);
	memset(d + n, 'y', 12000);
	strcpy(d + n + 12000, "\nX-Keywords2: q\nStatus: R\n\nbody\n");
	parse_str("long header line", d, &r);
	CHECK(r.n == 1 && strcmp(r.m[0].keywords, "a b") == 0 &&
	    r.m[0].flags == MF_SEEN && r.m[0].meta_lines == 2);

	strcpy(d, "From a Sun Nov 22 04:14:00 2026\nX-Keywords: a");
	n = strlen(d);
	for (i = 0; i < 3000; i++)
		strcat(d + n, " bb");
	strcat(d + n, "\n\nbody\n");
	parse_str("long keywords line", d, &r);
	CHECK(r.n == 1 && r.m[0].keywords_cut &&
	    strncmp(r.m[0].keywords, "a bb bb", 7) == 0 &&
	    r.m[0].meta_bytes == strlen("X-Keywords: a\n") + 3000 * 3 &&
	    r.m[0].xkeywords.len == r.m[0].meta_bytes);
}

static void
test_content_length(void)
{
	static struct run r;
	const char *d;

	/* lands on "\nFrom ": the From_ lines inside are text */
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 12\n\n"
	    "x\n\nFrom y\nz\n\n"
	    "From b Sun Nov 22 04:15:00 2026\nContent-Length: 10\n\n"
	    "\nFrom q\nr\n\n";
	parse_str("content-length", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\n\nFrom y\nz\n") &&
	    r.m[0].body_lines == 4 && r.m[0].meta_lines == 1 &&
	    r.m[0].meta_bytes == 19);
	/* lands on "\n" and the end of the file */
	CHECK(r.n == 2 && BODY(&r, 1, "\nFrom q\nr\n") && r.m[1].body_lines == 3);
	/* lands on the end of the file: all of it is text */
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 8\n\n"
	    "x\n\nFrom ";
	parse_str("content-length at EOF", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "x\n\nFrom "));
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 4\n\n"
	    "x\n\n\n";
	parse_str("content-length at EOF, body ends in blank", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "x\n\n\n"));
	/* lands right on "From " at the start of a line */
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 2\n\n"
	    "x\nFrom b Sun Nov 22 04:15:00 2026\n\ny\n";
	parse_str("content-length on From", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\n") && BODY(&r, 1, "y\n") &&
	    r.m[0].end == r.m[1].from);
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 0\n\n"
	    "From b Sun Nov 22 04:15:00 2026\n\ny\n";
	parse_str("content-length 0 on From", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "") && HDR(&r, 0, "Content-Length: 0\n\n"));
	/* wrong ones: fall back to From_ lines after blank lines */
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 5\n\n"
	    "x\n\nFrom y Sun Nov 22 04:16:00 2026\nz\n";
	parse_str("content-length mid-line", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\n") && HDR(&r, 1, "z\n") &&
	    BODY(&r, 1, ""));
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 1\n\n"
	    "xFrom y\n";
	parse_str("content-length on From mid-line", d, &r);
	CHECK(r.n == 1 && BODY(&r, 0, "xFrom y\n"));
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 500\n\n"
	    "x\n\nFrom y Sun Nov 22 04:16:00 2026\nz\n";
	parse_str("content-length too big", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\n"));
	d = "From a Sun Nov 22 04:14:00 2026\n"
	    "Content-Length: 99999999999999999999999999\n\nx\n\n"
	    "From y Sun Nov 22 04:16:00 2026\nz\n";
	parse_str("content-length overflow", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\n") && r.m[0].meta_lines == 1);
	d = "From a Sun Nov 22 04:14:00 2026\nContent-Length: 2x\n\n"
	    "x\n\nFrom y Sun Nov 22 04:16:00 2026\nz\n";
	parse_str("content-length junk", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\n"));
}

/* A line after a blank line that begins "From " starts a message only
 * if it holds a date (RFC 4155; Dovecot, mutt, mailx). */
static void
test_from_date(void)
{
	static struct run r;
	const char *d;

	d = "From a Sun Nov 22 04:14:00 2026\n\nx\n\n"
	    "From here on, please write to me\nat home.\n\n"
	    "From y\nz\n\nFrom b Sun Nov 22 04:15:00 2026\n\ny\n";
	parse_str("From without a date is body", d, &r);
	CHECK(r.n == 2 && BODY(&r, 0, "x\n\nFrom here on, please write to "
	    "me\nat home.\n\nFrom y\nz\n") && BODY(&r, 1, "y\n") &&
	    r.m[0].body_lines == 7 && r.m[1].date == 1795320900L);
	/* a date of the right shape that is no time_t still separates */
	d = "From a Sun Nov 22 04:14:00 2026\n\nx\n\n"
	    "From b Thu Jan  1 00:00:00 1970\n\ny\n\n"
	    "From c Wed Feb 30 00:00:00 2022\n\nz\n";
	parse_str("From_ with a date before 1970 or no such day", d, &r);
	CHECK(r.n == 3 && BODY(&r, 1, "y\n") && r.m[1].date == 0 &&
	    BODY(&r, 2, "z\n") && r.m[2].date == 0);
	/* a last line without LF is flagged (POP3 adds CRLF to it) */
	d = "From a Sun Nov 22 04:14:00 2026\n\nx\n\n"
	    "From b Sun Nov 22 04:15:00 2026\nS: 1\n\nlast";
	parse_str("no LF at the end", d, &r);
	CHECK(r.n == 2 && !r.m[0].nolf && r.m[1].nolf &&
	    BODY(&r, 1, "last"));
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1";
	parse_str("header without LF at the end", d, &r);
	CHECK(r.n == 1 && r.m[0].nolf);
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\nX-UID: 7";
	parse_str("hidden header line without LF at the end", d, &r);
	CHECK(r.n == 1 && !r.m[0].nolf);
	d = "From a Sun Nov 22 04:14:00 2026\nS: 1\n\nx\n\n";
	parse_str("LF at the end", d, &r);
	CHECK(r.n == 1 && !r.m[0].nolf);
	d = "From a Sun Nov 22 04:14:00 2026";
	parse_str("From_ line only", d, &r);
	CHECK(r.n == 1 && !r.m[0].nolf);
	/* "From " at the end of the file without its LF: body */
	d = "From a Sun Nov 22 04:14:00 2026\n\nx\n\nFrom b Sun Nov 22 "
	    "04:15:00 2026";
	parse_str("From_ without LF at EOF", d, &r);
	CHECK(r.n == 1);
	/* a From_ line longer than the parser keeps is body */
	{
		static char big[MBOXP_TEST_LONG + 200];

		strcpy(big, "From a Sun Nov 22 04:14:00 2026\n\nx\n\nFrom ");
		memset(big + strlen(big), 'q', MBOXP_TEST_LONG);
		strcat(big, " Sun Nov 22 04:15:00 2026\n\ny\n");
		parse_str("From_ line too long", big, &r);
		CHECK(r.n == 1);
	}
	CHECK(mbox_is_from_line("From a Sun Nov 22 04:14:00 2026\n", 32));
	d = "From \"a b\"@c Sun Nov 22 04:14 2026";
	CHECK(mbox_is_from_line(d, strlen(d)));
	CHECK(!mbox_is_from_line("From here on, please", 20));
	CHECK(!mbox_is_from_line(">From a Sun Nov 22 04:14:00 2026", 32));
	CHECK(!mbox_is_from_line("From a Sun Nov 22 2026", 22));
}

static void
test_failures(void)
{
	static struct run r;
	struct mboxp *p;
	struct ctx c;
	const char *d = "From a Sun Nov 22 04:14:00 2026\n\nx\n\n"
	    "From b Sun Nov 22 04:15:00 2026\n\ny\n";

	parse(d, strlen(d), 0, 0, &r);
	CHECK(r.rc == -1 && r.n == 0);
	parse(d, strlen(d), 3, 1, &r);
	CHECK(r.rc == -1 && r.n == 1);
	c.data = d;
	c.len = strlen(d);
	c.r = &r;
	memset(&r, 0, sizeof(r));
	r.fail_at = -1;
	p = mboxp_new((off_t)c.len, mem_peek, collect, &c);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(mboxp_feed(p, 0, d, 10) == 10);
	CHECK(mboxp_feed(p, 11, d + 11, 5) == -1);	/* not where it was */
	CHECK(mboxp_feed(p, 10, d + 10, c.len - 10) == (long)(c.len - 10));
	CHECK(mboxp_feed(p, (off_t)c.len, "", 0) == 0 && r.n == 2);
	mboxp_free(p);
}

static void
test_dates(void)
{
	static const struct {
		const char	*s;
		long		t;
	} v[] = {
		{ "From a Sun Nov 22 04:14:00 2026", 1795320840L },
		{ "Sun Nov 22 04:14:00 2026", 1795320840L },
		{ "From a  Sun Nov 22 04:14:00 2026\n", 1795320840L },
		{ "From a Sun Nov 22 04:14:00 JST 2026", 1795320840L },
		{ "From a Sun Nov 22 04:14:00 +0900 2026", 1795288440L },
		{ "From a Sun Nov 22 04:14:00 2026 +0900", 1795288440L },
		{ "From a Sun Nov 22 04:14:00 2026 -0130\r\n", 1795326240L },
		{ "From a Sun Nov 22 04:14 2026", 1795320840L },
		{ "From a Thu Feb 29 12:00:00 2024 remote from b", 1709208000L },
		{ "From \"x y\"@z Mon Jan  1 00:00:00 2001", 978307200L },
		{ "From a Thu Jan  1 00:00:01 1970", 1 },
		{ "From a Thu Feb 29 12:00:00 2023", 0 },
		{ "From a Sun Nov 31 04:14:00 2026", 0 },
		{ "From a Sun Nov 22 24:14:00 2026", 0 },
		{ "From a Sun Nov 22 04:14:00 1969", 0 },
		{ "From a Sun Nov 22 04:14:00", 0 },
		{ "From a Sun Foo 22 04:14:00 2026", 0 },
		{ "From a 2026-11-22T04:14:00Z", 0 },
		{ "From a", 0 },
		{ "", 0 }
	};
	size_t i;

	for (i = 0; i < NELEM(v); i++)
		if (mbox_from_date(v[i].s, strlen(v[i].s)) != (time_t)v[i].t) {
			CHECK(!"mbox_from_date");
			fprintf(stderr, "  \"%s\" gives %ld\n", v[i].s,
			    (long)mbox_from_date(v[i].s, strlen(v[i].s)));
		}
	/* a length, not a NUL, ends the line */
	CHECK(mbox_from_date("Sun Nov 22 04:14:00 2026", 20) == 0);
}

/*
 * Random files from pieces that matter (blank lines, From_ lines, CRs,
 * metadata, right and wrong Content-Lengths): windowed parses must agree
 * and every report must agree with the bytes.
 */
static void
test_random(void)
{
	static const char *piece[] = {
		"\n", "\n", "\n", "From ", "From x Sun Nov 22 04:14:00 2026\n",
		"\r\n", "\r", "x", "text line\n", "Status: RO\n",
		"X-Keywords: a b\n", " c\n", "X-UID: 9\n", "Content-Length: 0\n",
		"Content-Length: 5\n", "Content-Length: 13\n", "From", ">From ",
		"X-IMAPbase: 1 2\n", "F"
	};
	static struct run r;
	static char d[600];
	char name[40];
	int i, k, n;

	for (i = 0; i < 400; i++) {
		rnd_state = (unsigned long)i + 1000;
		strcpy(d, "From a Sun Nov 22 04:14:00 2026\n");
		n = (int)(rnd() % 40);
		for (k = 0; k < n; k++)
			strcat(d, piece[rnd() % NELEM(piece)]);
		sprintf(name, "random %d", i);
		parse_str(name, d, &r);
		CHECK(r.rc == 0 && r.n >= 1);
	}
}

/* --- fixtures --- */

static char *
load(const char *name, size_t *len)
{
	const char *top;
	char path[1024];
	FILE *f;
	char *d;
	long n;

	if ((top = getenv("top_srcdir")) == NULL)
		top = ".";
	sprintf(path, "%.900s/tests/fixtures/mbox/%.100s", top, name);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "test_mboxparse: cannot open %s\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (d = malloc((size_t)n + 1)) == NULL ||
	    fread(d, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	d[n] = '\0';
	*len = (size_t)n;
	return d;
}

static char *
fixture(const char *name, struct run *r, size_t *lenp)
{
	char *d;
	size_t len;

	memset(r, 0, sizeof(*r));
	*lenp = 0;
	if ((d = load(name, &len)) == NULL) {
		CHECK(!"fixture present");
		return NULL;
	}
	parse_all(name, d, len, r);
	CHECK(r->rc == 0);
	*lenp = len;
	return d;
}

/* The header holds line s (a whole line, with its LF). */
static int
hdr_has(const char *d, const struct mbox_msg *m, const char *s)
{
	size_t n = strlen(s);
	off_t o;

	for (o = m->hdr; o + (off_t)n <= m->body; o++)
		if ((o == m->hdr || d[o - 1] == '\n') &&
		    memcmp(d + o, s, n) == 0)
			return 1;
	return 0;
}

static void
test_solaris(void)
{
	static struct run r;
	char *d;
	size_t len;

	if ((d = fixture("solaris-mail.local.mbox", &r, &len)) == NULL)
		return;
	CHECK(r.n == 3);
	if (r.n == 3) {
		CHECK(BODY(&r, 0, "Hello Taro,\n\nFrom the minutes of the last "
		    "meeting:\nthe server moves on Friday.\nFrom now on, use "
		    "the new address.\n\nAlice\n"));
		CHECK(r.m[0].flags == (MF_SEEN | MF_OLD) &&
		    r.m[0].meta_lines == 2 && r.m[0].meta_bytes ==
		    strlen("Content-Length: 120\nStatus: RO\n") &&
		    r.m[0].date == 1763370765L && r.m[0].hdr_lines == 13);
		/* the wrong Content-Length is not followed */
		CHECK(text_is(d, r.m[1].end - 5, r.m[1].end, "\nBob\n") &&
		    r.m[1].meta_lines == 1 && r.m[1].date == 1763375402L);
		CHECK(BODY(&r, 2, "Last one.\nFrom the archive:\n\nFrom 1998 "
		    "to 2004 the list was on paper.\n\nCarol\n") &&
		    r.m[2].body_lines == 6 && r.m[2].date == 1763379959L);
	}
	free(d);
}

static void
test_mutt(void)
{
	static struct run r;
	char *d;
	size_t len;

	if ((d = fixture("mutt-mboxcl2.mbox", &r, &len)) == NULL)
		return;
	CHECK(r.n == 2);
	if (r.n == 2) {
		CHECK(BODY(&r, 0, "Hi,\n\n>From what I hear the move is on "
		    "Friday.\n\n-- \nDave\n") && r.m[0].body_lines == 6);
		CHECK(r.m[0].flags == (MF_SEEN | MF_OLD | MF_ANSWERED) &&
		    r.m[0].meta_lines == 3 && r.m[0].meta_bytes ==
		    strlen("Status: RO\nX-Status: A\nContent-Length: 56\n") &&
		    hdr_has(d, &r.m[0], "Lines: 6\n") &&
		    r.m[0].date == 1763452801L);
		CHECK(BODY(&r, 1, "Quoted:\n> From: someone\n>From the top.\n") &&
		    r.m[1].flags == (MF_OLD | MF_FLAGGED));
	}
	free(d);
}

static void
test_uw(void)
{
	static struct run r;
	char *d;
	size_t len;

	if ((d = fixture("uw-imapd.mbox", &r, &len)) == NULL)
		return;
	CHECK(r.n == 4);
	if (r.n == 4) {
		/* "X-IMAP: V 0000000004": the last UID, so 5 comes next */
		CHECK(r.m[0].pseudo && r.m[0].uidvalidity == 1763514000UL &&
		    r.m[0].uidnext == 5 && r.m[0].date == 1763546400L &&
		    r.m[0].ximapbase.len == strlen("X-IMAP: 1763514000 "
		    "0000000004 $Forwarded Junk\n") &&
		    r.m[0].meta_lines == 2);
		CHECK(!r.m[1].pseudo && r.m[1].uid == 1 &&
		    r.m[1].flags == (MF_SEEN | MF_OLD | MF_ANSWERED) &&
		    strcmp(r.m[1].keywords, "$Forwarded") == 0 &&
		    r.m[1].meta_lines == 4 && r.m[1].uidvalidity == 0 &&
		    r.m[1].date == 1763514062L &&
		    BODY(&r, 1, "one\n>From quoted\n"));
		CHECK(r.m[2].uid == 2 && r.m[2].flags == MF_OLD &&
		    r.m[2].keywords[0] == '\0' && r.m[2].xkeywords.len == 12 &&
		    r.m[2].xstatus.len == 11);
		CHECK(r.m[3].uid == 4 && r.m[3].flags == (MF_SEEN | MF_OLD |
		    MF_DELETED | MF_FLAGGED | MF_DRAFT) &&
		    strcmp(r.m[3].keywords, "Junk $Forwarded") == 0 &&
		    BODY(&r, 3, "four\n\n>From the end\n"));
	}
	free(d);
}

static void
test_dovecot(void)
{
	static struct run r;
	char *d;
	size_t len;

	if ((d = fixture("dovecot.mbox", &r, &len)) == NULL)
		return;
	CHECK(r.n == 3);
	if (r.n == 3) {
		/* last UID 3 (Dovecot writes it so): UIDNEXT 4 */
		CHECK(r.m[0].uidvalidity == 1763600000UL &&
		    r.m[0].uidnext == 4 && r.m[0].uid == 1 &&
		    r.m[0].flags == (MF_SEEN | MF_OLD | MF_ANSWERED) &&
		    strcmp(r.m[0].keywords, "$Forwarded NonJunk") == 0 &&
		    r.m[0].xkeywords.len == 31 + 40 && r.m[0].meta_lines == 6 &&
		    r.m[0].date == 1763640000L &&
		    BODY(&r, 0, "Hello.\n\n>From the lab.\n"));
		CHECK(r.m[1].uid == 2 && r.m[1].flags == MF_OLD &&
		    r.m[1].keywords[0] == '\0' && r.m[1].xkeywords.len == 72 &&
		    r.m[1].uidvalidity == 0 && BODY(&r, 1, "Second.\n"));
		CHECK(r.m[2].uid == 3 && strcmp(r.m[2].keywords,
		    "Work $Forwarded") == 0 && r.m[2].flags == (MF_SEEN |
		    MF_OLD | MF_DELETED | MF_DRAFT) && r.m[2].meta_lines == 6 &&
		    BODY(&r, 2, "Third.\n"));
	}
	free(d);
}

static void
test_postfix(void)
{
	static struct run r;
	char *d;
	size_t len;
	int i;

	if ((d = fixture("postfix-local.mbox", &r, &len)) == NULL)
		return;
	CHECK(r.n == 3);
	for (i = 0; i < r.n; i++)
		CHECK(r.m[i].meta_bytes == 0 && r.m[i].flags == 0 &&
		    r.m[i].uid == 0 && r.m[i].date != 0);
	if (r.n == 3) {
		CHECK(BODY(&r, 0, "Hi,\n\n>From the top, please.\n>>From "
		    "twice.\n") && r.m[1].date == 1763708702L &&
		    BODY(&r, 2, "bye\n"));
	}
	free(d);
}

static void
test_damaged(void)
{
	static struct run r;
	char *d;
	size_t len;

	if ((d = fixture("damaged.mbox", &r, &len)) == NULL)
		return;
	CHECK(r.n == 3);
	if (r.n == 3) {
		CHECK(HDR(&r, 0, "Subject: crlf\r\nStatus: R\r\nX-UID: 5\r\n\r\n") &&
		    BODY(&r, 0, "line one\r\n\r\nline three\r\n") &&
		    r.m[0].uid == 5 && r.m[0].flags == MF_SEEN &&
		    r.m[0].meta_bytes == 21 && r.m[0].body_lines == 3);
		CHECK(r.m[1].uid == 0 && r.m[1].xuid.off != -1 &&
		    r.m[1].end - r.m[1].body == 26 && r.m[1].body_lines == 2);
		CHECK(HDR(&r, 2, "Subject: cut\nX-UID: 7") &&
		    r.m[2].body == r.m[2].end && r.m[2].end == (off_t)len &&
		    r.m[2].uid == 7 && r.m[2].hdr_lines == 1 &&
		    r.m[2].meta_lines == 0 && r.m[2].meta_bytes == 8 &&
		    r.m[2].date == 1763798520L);
	}
	free(d);
}

/* Resuming at a message boundary (what was appended): the offsets of
 * the first message found are the file's, not the window's. */
static void
test_resume(void)
{
	static const char data[] =
	    "From a Sun Nov 22 07:28:47 2026\nSubject: one\n\nbody\n\n"
	    "From b Sun Nov 22 07:28:48 2026\nSubject: two\n\nbody\n\n";
	size_t first = strlen("From a Sun Nov 22 07:28:47 2026\n"
	    "Subject: one\n\nbody\n\n");
	size_t len = sizeof(data) - 1;
	struct run r;
	struct ctx c;
	struct mboxp *p;
	long got;

	memset(&r, 0, sizeof(r));
	r.fail_at = -1;
	c.data = data;
	c.len = len;
	c.r = &r;
	p = mboxp_new((off_t)len, mem_peek, collect, &c);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	mboxp_start_at(p, (off_t)first);
	got = mboxp_feed(p, (off_t)first, data + first, len - first);
	CHECK(got >= 0);
	CHECK(mboxp_feed(p, (off_t)first + got, "", 0) >= 0);
	mboxp_free(p);
	CHECK(r.n == 1);
	if (r.n == 1) {
		CHECK(r.m[0].from == (off_t)first);
		CHECK(r.m[0].hdr == (off_t)first + 32);
		CHECK(r.m[0].body == (off_t)first + 32 + 14);
	}
}

int
main(void)
{
	test_small();
	test_ends();
	test_crlf();
	test_metadata();
	test_keywords();
	test_content_length();
	test_failures();
	test_dates();
	test_from_date();
	test_random();
	test_solaris();
	test_mutt();
	test_uw();
	test_dovecot();
	test_postfix();
	test_damaged();
	test_resume();
	return check_exit("test_mboxparse");
}

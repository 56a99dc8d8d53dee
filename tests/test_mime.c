/*
 * test_mime.c - unit tests of src/mime.c: the fixtures in
 * tests/fixtures/mime/ (NAME.eml with its ENVELOPE, BODY, BODYSTRUCTURE
 * and some BODY[section] contents in NAME.expected), messages made here
 * (a 1 MB attachment, deep nesting, huge headers, many parts), and
 * random messages checked against invariants.
 *
 * "test_mime -g FILE" prints FILE's ENVELOPE, BODY and BODYSTRUCTURE in
 * the .expected format: a start for a new fixture, to be checked by hand
 * (tests/fixtures/mime/README) before it is committed.
 */
#include "yubin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "mime.h"

static const char *fixtures[] = {
	"nested", "rfc822", "notype", "rfc2231", "iso2022jp", "8bit",
	"crlf", "group", "empty", "hdronly", "badbound", "digest"
};

static char *
load(const char *path, size_t *len)
{
	FILE *f;
	char *d;
	long n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (d = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(d, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(d);
		return NULL;
	}
	fclose(f);
	d[n] = '\0';
	*len = (size_t)n;
	return d;
}

/* Reads in pieces of 1 to 13 bytes: the window must not matter. */
struct src {
	const char	*p;
	size_t		len;
	unsigned long	next;		/* offsets must only increase */
	int		backwards;
	unsigned long	calls;
	size_t		most;		/* the largest read asked for */
};

static long
src_read(void *arg, unsigned long off, char *buf, size_t len)
{
	struct src *s = arg;

	s->calls++;
	if (len > s->most)
		s->most = len;
	if (off < s->next)
		s->backwards = 1;
	if (off >= s->len)
		return 0;
	if (len > s->len - off)
		len = s->len - off;
	if (len > 1 + s->calls % 13)
		len = 1 + s->calls % 13;
	memcpy(buf, s->p + off, len);
	s->next = off + len;
	return (long)len;
}

static long
src_fail(void *arg, unsigned long off, char *buf, size_t len)
{
	(void)arg;
	(void)len;
	buf[0] = off % 20 == 19 ? '\n' : 'x';
	return off > 100 ? -1 : 1;
}

/* CRLF size of d[a, b): bytes + LFs. */
static unsigned long
crlf_size(const char *d, unsigned long a, unsigned long b)
{
	unsigned long n = b - a;

	for (; a < b; a++)
		if (d[a] == '\n')
			n++;
	return n;
}

/* All three texts, as the .expected file has them. */
static int
render(const struct mime_tree *t, struct buf *b)
{
	return buf_puts(b, "== ENVELOPE\n") < 0 ||
	    mime_envelope(b, t->root) < 0 ||
	    buf_puts(b, "\n== BODY\n") < 0 ||
	    mime_bodystructure(b, t->root, 0) < 0 ||
	    buf_puts(b, "\n== BODYSTRUCTURE\n") < 0 ||
	    mime_bodystructure(b, t->root, 1) < 0 ||
	    buf_puts(b, "\n") < 0 ? -1 : 0;
}

/* The next "== KEY ARG" block of an .expected file. */
static const char *
next_block(const char *p, const char *end, char *key, size_t keylen,
    const char **data, size_t *dlen)
{
	const char *nl, *q;

	if (p >= end || end - p < 3 || memcmp(p, "== ", 3) != 0)
		return NULL;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    (size_t)(nl - p - 3) >= keylen)
		return NULL;
	memcpy(key, p + 3, (size_t)(nl - p - 3));
	key[nl - p - 3] = '\0';
	*data = nl + 1;
	for (q = nl + 1; q < end; q++)
		if (*q == '\n' && (q + 1 == end || (end - q > 3 &&
		    memcmp(q + 1, "== ", 3) == 0)))
			break;
	*dlen = (size_t)(q - *data);
	return q < end ? q + 1 : end;
}

static void
check_block(const char *name, const char *msg, const struct mime_tree *t,
    const char *key, const char *data, size_t dlen)
{
	struct buf b;
	struct mime_range r;
	int ok;

	buf_init(&b, 0);
	if (strcmp(key, "ENVELOPE") == 0)
		ok = mime_envelope(&b, t->root) == 0;
	else if (strcmp(key, "BODY") == 0)
		ok = mime_bodystructure(&b, t->root, 0) == 0;
	else if (strcmp(key, "BODYSTRUCTURE") == 0)
		ok = mime_bodystructure(&b, t->root, 1) == 0;
	else if (strncmp(key, "SECTION ", 8) == 0) {
		ok = mime_section_range(t->root, key + 8, &r) == 0 &&
		    r.octets == crlf_size(msg, r.off, r.end) &&
		    buf_append(&b, msg + r.off, r.end - r.off) == 0;
	} else if (strncmp(key, "NOSECTION ", 10) == 0)
		ok = mime_section_range(t->root, key + 10, &r) < 0;
	else
		ok = 0;
	if (!ok || b.len != dlen || (dlen > 0 &&
	    memcmp(b.data, data, dlen) != 0)) {
		fprintf(stderr, "%s: %s differs:\n", name, key);
		fwrite(b.data, 1, b.len, stderr);
		fprintf(stderr, "\n");
		CHECK(!"fixture output as expected");
	}
	buf_free(&b);
}

/* Every range and size must agree with the text itself. */
static void
check_part(const char *d, size_t len, const struct mime_part *p,
    const struct mime_part *parent)
{
	const struct mime_part *c;

	CHECK(p->hdr <= p->body && p->body <= p->end && p->end <= len);
	CHECK(p->octets == crlf_size(d, p->body, p->end));
	CHECK(p->hdr_octets == crlf_size(d, p->hdr, p->body));
	CHECK(p->lines + p->end - p->body == p->octets);
	CHECK(p->depth <= MIME_MAX_DEPTH);
	if (parent != NULL && !(p->hdr >= parent->body &&
	    p->end <= parent->end)) {
		fprintf(stderr, "part %lu-%lu-%lu in %lu-%lu-%lu\n", p->hdr,
		    p->body, p->end, parent->hdr, parent->body, parent->end);
		CHECK(!"part inside its parent");
	}
	for (c = p->children; c != NULL; c = c->next) {
		check_part(d, len, c, p);
		if (c->next != NULL)
			CHECK(c->end < c->next->hdr);
	}
}

static void
test_fixture(const char *name)
{
	char path[1024], key[256];
	const char *top, *p, *end, *data;
	char *msg, *exp;
	size_t mlen, elen, dlen;
	struct mime_tree *t, *t2;
	struct buf b1, b2;
	struct src s;
	int blocks = 0;

	if ((top = getenv("top_srcdir")) == NULL)
		top = ".";
	sprintf(path, "%.900s/tests/fixtures/mime/%.50s.eml", top, name);
	msg = load(path, &mlen);
	sprintf(path, "%.900s/tests/fixtures/mime/%.50s.expected", top, name);
	exp = load(path, &elen);
	CHECK(msg != NULL && exp != NULL);
	if (msg == NULL || exp == NULL || mime_parse_mem(msg, mlen, &t) != 0) {
		fprintf(stderr, "test_mime: fixture %s unusable\n", name);
		CHECK(!"fixture parsed");
		free(msg);
		free(exp);
		return;
	}
	check_part(msg, mlen, t->root, NULL);
	for (p = exp, end = exp + elen; p != NULL && p < end; blocks++) {
		if ((p = next_block(p, end, key, sizeof(key), &data, &dlen)) ==
		    NULL)
			CHECK(!"well-formed .expected");
		else
			check_block(name, msg, t, key, data, dlen);
	}
	CHECK(blocks >= 3);
	/* the same through the callback in tiny pieces */
	memset(&s, 0, sizeof(s));
	s.p = msg;
	s.len = mlen;
	CHECK(mime_parse(src_read, &s, &t2) == 0 && !s.backwards);
	buf_init(&b1, 0);
	buf_init(&b2, 0);
	CHECK(render(t, &b1) == 0 && render(t2, &b2) == 0 &&
	    b1.len == b2.len && b1.len > 0 &&
	    memcmp(b1.data, b2.data, b1.len) == 0);
	buf_free(&b1);
	buf_free(&b2);
	mime_free(t2);
	mime_free(t);
	free(msg);
	free(exp);
}

static struct mime_tree *
parse_str(const char *s)
{
	struct mime_tree *t = NULL;

	CHECK(mime_parse_mem(s, strlen(s), &t) == 0 && t != NULL);
	if (t != NULL)
		check_part(s, strlen(s), t->root, NULL);
	return t;
}

/* out == want, for a text made by fn from part p */
static int
same(const struct mime_part *p, int what, const char *want)
{
	struct buf b;
	int ok;

	buf_init(&b, 0);
	if (what == 0)
		ok = mime_envelope(&b, p) == 0;
	else
		ok = mime_bodystructure(&b, p, what - 1) == 0;
	ok = ok && b.len == strlen(want) && b.len > 0 &&
	    memcmp(b.data, want, b.len) == 0;
	if (!ok) {
		fprintf(stderr, "want: %s\ngot:  ", want);
		fwrite(b.data, 1, b.len, stderr);
		fprintf(stderr, "\n");
	}
	buf_free(&b);
	return ok;
}

#define ENV	0
#define BODY	1
#define BSTRUCT	2

/* Sizes are of the CRLF form; a last line without LF is still counted. */
static void
test_sizes(void)
{
	struct mime_tree *t;
	const char *m = "Subject: s\n\nab\ncd";

	t = parse_str(m);
	CHECK(t->root->hdr == 0 && t->root->body == 12 && t->root->end == 17);
	CHECK(t->root->hdr_octets == 14 && t->root->octets == 6 &&
	    t->root->lines == 1);
	mime_free(t);
	t = parse_str("\nbody\n");		/* an empty header */
	CHECK(t->root->body == 1 && t->root->hdr_octets == 2 &&
	    t->root->octets == 6 && t->root->lines == 1);
	mime_free(t);
	t = parse_str("");
	CHECK(t->root->end == 0 && t->root->octets == 0);
	CHECK(same(t->root, BODY, "(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 0 0)"));
	mime_free(t);
	/* a stored CR is data: 3 bytes + 1 LF */
	t = parse_str("\nx\r\n");
	CHECK(t->root->octets == 4 && t->root->lines == 1);
	mime_free(t);
}

/* The example of RFC 3501 6.4.5, part for part (C89 caps literals). */
static const char *rfc3501_lines[] = {
	"Subject: top\nContent-Type: MULTIPART/MIXED; boundary=o\n\n",
	"--o\n\nP1\n",
	"--o\nContent-Type: APPLICATION/OCTET-STREAM\n\nP2\n",
	"--o\nContent-Type: MESSAGE/RFC822\n\n",
	    "Subject: three\nContent-Type: MULTIPART/MIXED; boundary=t\n\n",
	    "--t\n\nP3.1\n--t\nContent-Type: APPLICATION/OCTET-STREAM\n\n",
	    "P3.2\n--t--\n",
	"--o\nContent-Type: MULTIPART/MIXED; boundary=f\n\n",
	    "--f\nContent-Type: IMAGE/GIF\n\nP4.1\n",
	    "--f\nContent-Type: MESSAGE/RFC822\n\n",
		"Subject: four\nContent-Type: MULTIPART/MIXED; boundary=g\n\n",
		"--g\n\nP4.2.1\n",
		"--g\nContent-Type: MULTIPART/ALTERNATIVE; boundary=h\n\n",
		    "--h\n\nP4.2.2.1\n--h\nContent-Type: TEXT/RICHTEXT\n\n",
		    "P4.2.2.2\n--h--\n",
		"--g--\n",
	    "--f--\n",
	"--o--\n"
};
static char rfc3501_msg[1024];

static int
section_is(const struct mime_tree *t, const char *spec, const char *want)
{
	struct mime_range r;

	if (mime_section_range(t->root, spec, &r) < 0)
		return want == NULL;
	if (want == NULL || r.end - r.off != strlen(want) ||
	    memcmp(rfc3501_msg + r.off, want, r.end - r.off) != 0) {
		fprintf(stderr, "section %s: %.*s\n", spec,
		    (int)(r.end - r.off), rfc3501_msg + r.off);
		return 0;
	}
	return r.octets == crlf_size(rfc3501_msg, r.off, r.end);
}

static void
test_sections(void)
{
	struct mime_tree *t;
	const struct mime_part *p;
	size_t i;

	for (i = 0; i < NELEM(rfc3501_lines); i++)
		strcat(rfc3501_msg, rfc3501_lines[i]);
	t = parse_str(rfc3501_msg);
	CHECK(t->nparts == 15);
	CHECK(section_is(t, "HEADER", "Subject: top\nContent-Type: "
	    "MULTIPART/MIXED; boundary=o\n\n"));
	CHECK(section_is(t, "", rfc3501_msg));
	CHECK(section_is(t, "1", "P1"));
	CHECK(section_is(t, "1.MIME", "\n"));
	CHECK(section_is(t, "2", "P2"));
	CHECK(section_is(t, "3.HEADER", "Subject: three\nContent-Type: "
	    "MULTIPART/MIXED; boundary=t\n\n"));
	CHECK(section_is(t, "3.1", "P3.1"));
	CHECK(section_is(t, "3.2", "P3.2"));
	CHECK(section_is(t, "3.2.MIME", "Content-Type: "
	    "APPLICATION/OCTET-STREAM\n\n"));
	CHECK(section_is(t, "4.1", "P4.1"));
	CHECK(section_is(t, "4.1.MIME", "Content-Type: IMAGE/GIF\n\n"));
	CHECK(section_is(t, "4.2.header.fields", "Subject: four\n"
	    "Content-Type: MULTIPART/MIXED; boundary=g\n\n"));
	CHECK(section_is(t, "4.2.1", "P4.2.1"));
	CHECK(section_is(t, "4.2.2.1", "P4.2.2.1"));
	CHECK(section_is(t, "4.2.2.2", "P4.2.2.2"));
	CHECK(section_is(t, "4.2.2.2.MIME", "Content-Type: TEXT/RICHTEXT\n\n"));
	/* what names nothing */
	CHECK(section_is(t, "5", NULL));
	CHECK(section_is(t, "0", NULL));
	CHECK(section_is(t, "1.1", NULL));
	CHECK(section_is(t, "1.HEADER", NULL));
	CHECK(section_is(t, "MIME", NULL));
	CHECK(section_is(t, "4.2.2.3", NULL));
	CHECK(section_is(t, "1.", NULL));
	CHECK(section_is(t, "1..2", NULL));
	CHECK(section_is(t, "4294967297", NULL));
	CHECK(section_is(t, "3.TEXTX", NULL));
	CHECK(mime_find_part(t->root, "") == t->root);
	CHECK((p = mime_find_part(t->root, "4.2")) != NULL &&
	    (p->flags & MIME_MESSAGE) && p->children != NULL &&
	    (p->children->flags & MIME_ISMSG));
	CHECK(mime_find_part(t->root, "4.2.") == NULL);
	CHECK(mime_find_part(t->root, "x") == NULL);
	mime_free(t);
	/* a message that is not multipart has one part, its body */
	t = parse_str("Subject: x\n\nhello\n");
	CHECK(mime_find_part(t->root, "1") == t->root);
	CHECK(mime_find_part(t->root, "2") == NULL);
	mime_free(t);
	/* a message/rfc822 message: 1 is the inner message, 1.1 its body */
	t = parse_str("Content-Type: message/rfc822\n\nSubject: in\n\nbody\n");
	CHECK((p = mime_find_part(t->root, "1")) == t->root);
	CHECK((p = mime_find_part(t->root, "1.1")) == t->root->children);
	CHECK(p != NULL && p->body == 43);
	mime_free(t);
}

/* A 1 MB base64 attachment read once, in order, never held whole. */
static void
test_big(void)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct buf m;
	struct mime_tree *t;
	const struct mime_part *p;
	struct src s;
	unsigned long i, body;
	size_t k;

	buf_init(&m, 0);
	buf_puts(&m, "From: big@example.com\nSubject: big\n"
	    "Content-Type: multipart/mixed; boundary=\"big\"\n\n--big\n\n"
	    "see the attachment\n--big\nContent-Type: application/zip\n"
	    "Content-Transfer-Encoding: base64\n\n");
	body = (unsigned long)m.len;
	for (i = 0; i < 1024 * 1024 / 77; i++) {	/* 76 + LF a line */
		for (k = 0; k < 76; k++)
			buf_append(&m, &b64[(i + k) % 64], 1);
		buf_append(&m, "\n", 1);
	}
	buf_puts(&m, "--big--\n");
	memset(&s, 0, sizeof(s));
	s.p = m.data;
	s.len = m.len;
	CHECK(mime_parse(src_read, &s, &t) == 0 && !s.backwards);
	CHECK(s.next == m.len && s.most <= MIME_WINDOW);
	CHECK((p = mime_find_part(t->root, "2")) != NULL);
	CHECK(p->body == body && p->end == m.len - 9);
	CHECK(p->lines == 1024 * 1024 / 77 - 1);
	CHECK(p->octets == p->end - p->body + p->lines);
	check_part(m.data, m.len, t->root, NULL);
	CHECK(same(p, BODY, "(\"application\" \"zip\" NIL NIL NIL \"base64\" "
	    "1062124)"));
	mime_free(t);
	buf_free(&m);
}

/* Nesting past MIME_MAX_DEPTH: text/plain below, no deep recursion. */
static void
test_deep(void)
{
	struct buf m;
	struct mime_tree *t;
	const struct mime_part *p;
	int i, d;

	buf_init(&m, 0);
	for (i = 0; i < 5000; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\n\n"
		    "--b%d\n", i, i);
	buf_puts(&m, "\nleaf\n");
	CHECK(mime_parse_mem(m.data, m.len, &t) == 0);
	for (p = t->root, d = 0; p->children != NULL; p = p->children)
		d++;
	CHECK(d == MIME_MAX_DEPTH);
	CHECK(strcmp(p->type, "text") == 0 && p->end == m.len);
	check_part(m.data, m.len, t->root, NULL);
	mime_free(t);
	buf_reset(&m);
	for (i = 0; i < 5000; i++)
		buf_puts(&m, "Content-Type: message/rfc822\n\n");
	CHECK(mime_parse_mem(m.data, m.len, &t) == 0);
	for (p = t->root, d = 0; p->children != NULL; p = p->children)
		d++;
	CHECK(d == MIME_MAX_DEPTH);
	buf_reset(&m);
	CHECK(mime_bodystructure(&m, t->root, 1) == 0);
	mime_free(t);
	buf_free(&m);
}

/* A huge header, a huge line, too many parts: bounded, not broken. */
static void
test_limits(void)
{
	struct buf m;
	struct mime_tree *t;
	int i;

	buf_init(&m, 0);
	buf_puts(&m, "Subject: first\n");
	for (i = 0; i < 40000; i++)
		buf_puts(&m, "X-Junk: 0123456789\n");
	buf_puts(&m, "Content-Type: text/html\n\nbody\n");
	CHECK(mime_parse_mem(m.data, m.len, &t) == 0);
	CHECK(strcmp(t->root->env[MIME_ENV_SUBJECT], "first") == 0);
	CHECK(strcmp(t->root->subtype, "plain") == 0);	/* past the cap */
	CHECK(t->root->body == m.len - 5);
	mime_free(t);
	/* one header line and one body line, both longer than the window */
	buf_reset(&m);
	buf_puts(&m, "Subject: ");
	for (i = 0; i < 3 * MIME_WINDOW; i++)
		buf_append(&m, "s", 1);
	buf_puts(&m, "\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\n");
	for (i = 0; i < 3 * MIME_WINDOW; i++)
		buf_append(&m, "--z", 3);
	buf_puts(&m, "\n--z--\n");
	CHECK(mime_parse_mem(m.data, m.len, &t) == 0);
	CHECK(strlen(t->root->env[MIME_ENV_SUBJECT]) == 3 * MIME_WINDOW);
	CHECK(t->nparts == 2 && t->root->children->octets ==
	    9 * MIME_WINDOW);
	check_part(m.data, m.len, t->root, NULL);
	mime_free(t);
	/* more parts than MIME_MAX_PARTS */
	buf_reset(&m);
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=p\n\n");
	for (i = 0; i < MIME_MAX_PARTS + 50; i++)
		buf_puts(&m, "--p\n\nx\n");
	buf_puts(&m, "--p--\n");
	CHECK(mime_parse_mem(m.data, m.len, &t) == 0);
	CHECK(t->nparts == MIME_MAX_PARTS);
	check_part(m.data, m.len, t->root, NULL);
	buf_reset(&m);
	CHECK(mime_bodystructure(&m, t->root, 1) == 0);
	mime_free(t);
	buf_free(&m);
}

static void
test_errors(void)
{
	struct mime_tree *t = NULL;
	struct buf b;

	CHECK(mime_parse(src_fail, NULL, &t) == MIME_ERR_READ && t == NULL);
	t = parse_str("Subject: a long subject\n\n");
	buf_init(&b, 10);	/* an output buffer too small */
	CHECK(mime_envelope(&b, t->root) < 0);
	buf_free(&b);
	buf_init(&b, 10);
	CHECK(mime_bodystructure(&b, t->root, 1) < 0);
	buf_free(&b);
	mime_free(t);
}

/* Envelope of a message whose header is h. */
static int
env_is(const char *h, const char *want)
{
	struct mime_tree *t;
	struct buf m;
	int ok;

	buf_init(&m, 0);
	buf_puts(&m, h);
	buf_puts(&m, "\n\n");
	if (mime_parse_mem(m.data, m.len, &t) != 0)
		return 0;
	ok = same(t->root, ENV, want);
	mime_free(t);
	buf_free(&m);
	return ok;
}

#define NIL8	"NIL NIL NIL NIL NIL NIL NIL NIL"

static void
test_addresses(void)
{
	CHECK(env_is("To: a@b", "(NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"b\")) "
	    "NIL NIL NIL NIL)"));
	/* From defaults Sender and Reply-To, also when they are empty */
	CHECK(env_is("From: a@b\nSender:\nReply-To: <>", "(NIL NIL "
	    "((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)"));
	CHECK(env_is("To: \"a\\\\b\\\"c\" <x@y>", "(NIL NIL NIL NIL NIL "
	    "((\"a\\\\b\\\"c\" NIL \"x\" \"y\")) NIL NIL NIL NIL)"));
	CHECK(env_is("To: <x@[10.0.0.1]>, x@ y . z", "(NIL NIL NIL NIL NIL "
	    "((NIL NIL \"x\" \"[10.0.0.1]\")(NIL NIL \"x\" \"y.z\")) "
	    "NIL NIL NIL NIL)"));
	CHECK(env_is("To: g: ;", "(NIL NIL NIL NIL NIL ((NIL NIL \"g\" NIL)"
	    "(NIL NIL NIL NIL)) NIL NIL NIL NIL)"));
	CHECK(env_is("To: g: a@b", "(NIL NIL NIL NIL NIL ((NIL NIL \"g\" NIL)"
	    "(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)"));
	CHECK(env_is("To: :;", "(NIL NIL NIL NIL NIL ((NIL NIL \"\" NIL)"
	    "(NIL NIL NIL NIL)) NIL NIL NIL NIL)"));
	CHECK(env_is("To: ,,, ;;;", "(" NIL8 " NIL NIL)"));
	CHECK(env_is("To: @", "(NIL NIL NIL NIL NIL ((NIL NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)"));
	/* lenient: never a crash, never a loop, always a balanced list */
	CHECK(env_is("To: <<<>>> a <b@c (unclosed", "(NIL NIL NIL NIL NIL "
	    "((\"a\" NIL \"b\" \"c\")) NIL NIL NIL NIL)"));
	CHECK(env_is("To: Name <@a,@b", "(" NIL8 " NIL NIL)"));
	CHECK(env_is("To: x <@a,@b:c@d> ", "(NIL NIL NIL NIL NIL "
	    "((\"x\" \"@a,@b\" \"c\" \"d\")) NIL NIL NIL NIL)"));
	CHECK(env_is("To: [unclosed", "(NIL NIL NIL NIL NIL ((NIL NIL "
	    "\"[unclosed\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)"));
	CHECK(env_is("To: \"unclosed", "(NIL NIL NIL NIL NIL ((NIL NIL "
	    "\"unclosed\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL)"));
	/* strings: an empty Subject is "", 8-bit, CR and long are literals */
	CHECK(env_is("Subject:", "(NIL \"\" NIL NIL NIL NIL NIL NIL NIL NIL)"));
	CHECK(env_is("Subject: a\rb", "(NIL {3}\r\na\rb NIL NIL NIL NIL NIL "
	    "NIL NIL NIL)"));
	CHECK(env_is("Subject: \xe9t\xe9", "(NIL {3}\r\n\xe9t\xe9 " NIL8 ")"));
	CHECK(env_is("Subject: a\n\tb\n  c", "(NIL \"a\tb  c\" " NIL8 ")"));
	CHECK(env_is("Subject: \"q\" \\", "(NIL \"\\\"q\\\" \\\\\" " NIL8 ")"));
}

static void
test_long_string(void)
{
	struct buf m;
	struct mime_tree *t;
	int i;

	buf_init(&m, 0);
	buf_puts(&m, "Subject: ");
	for (i = 0; i < 1001; i++)
		buf_append(&m, "x", 1);
	buf_puts(&m, "\n\n");
	CHECK(mime_parse_mem(m.data, m.len, &t) == 0);
	buf_reset(&m);
	CHECK(mime_envelope(&m, t->root) == 0);
	CHECK(m.len > 12 && memcmp(m.data, "(NIL {1001}\r\nxxx", 16) == 0);
	mime_free(t);
	buf_free(&m);
}

/*
 * Parentheses balance outside strings and literals, and the text has no
 * CR or LF but in a literal's "{n}\r\n": a client can always parse it.
 */
static int
balanced(const char *s, size_t n)
{
	size_t i;
	unsigned long lit;
	int depth = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		} else if (s[i] == '{') {
			for (lit = 0, i++; i < n && s[i] >= '0' && s[i] <= '9';
			    i++)
				lit = lit * 10 + (unsigned long)(s[i] - '0');
			if (i + 2 >= n || s[i] != '}' || s[i + 1] != '\r' ||
			    s[i + 2] != '\n')
				return 0;
			i += 2 + lit;
		} else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth < 0)
			return 0;
		else if (s[i] == '\r' || s[i] == '\n')
			return 0;
	}
	return depth == 0 && i == n;
}

static unsigned long rnd_state;

static unsigned long
rnd(void)
{
	rnd_state = rnd_state * 1103515245UL + 12345UL;
	return (rnd_state >> 16) & 0x7fff;
}

/* Random messages of MIME-ish lines: invariants, and no crash. */
static void
test_random(void)
{
	static const char *piece[] = {
		"Content-Type: multipart/mixed; boundary=a\n",
		"Content-Type: multipart/digest; boundary=\"b\"\n",
		"Content-Type: message/rfc822\n", "Content-Type: text/x\n",
		"Content-Type: multipart/alternative; boundary=a-b\n",
		"--a\n", "--a--\n", "--b\n", "--b--  \n", "--a-b\n", "\n",
		"\n", "\r\n", "text\n", "From: a@b, (c) <d@e>; g:h;\n",
		"To: \"x\\\" <y>, <@z:w@v\n", "Subject: \xff\x01(\n", " fold\n",
		"Content-Disposition: a; filename*0*=x''%41; filename*1=b\n",
		"Content-Language: en, (x) ja\n", "no newline", "\t\n",
		"Content-Type: text/plain; a*=''; b*0=; *=;=\n", "--\n",
	};
	struct buf m, out;
	struct mime_tree *t;
	int i, k, n;

	buf_init(&m, 0);
	buf_init(&out, 0);
	for (i = 0; i < 3000; i++) {
		rnd_state = (unsigned long)i + 77;
		buf_reset(&m);
		n = (int)(rnd() % 60);
		for (k = 0; k < n; k++)
			buf_puts(&m, piece[rnd() % NELEM(piece)]);
		CHECK(mime_parse_mem(m.data, m.len, &t) == 0);
		check_part(m.data, m.len, t->root, NULL);
		buf_reset(&out);
		CHECK(mime_envelope(&out, t->root) == 0 &&
		    balanced(out.data, out.len));
		buf_reset(&out);
		CHECK(mime_bodystructure(&out, t->root, 1) == 0 &&
		    balanced(out.data, out.len));
		mime_free(t);
	}
	buf_free(&m);
	buf_free(&out);
}

static void
test_params(void)
{
	struct mime_tree *t;
	const struct mime_part *p;

	t = parse_str("Content-Type: Text/Plain; NAME*1*=%41%4; name*0*="
	    "UTF-8'ja'%E6%97%A5; CharSet=\"a\\\"b\"; name*2=%41; x*=zz\n\n");
	p = t->root;
	CHECK(strcmp(p->type, "Text") == 0 && strcmp(p->subtype, "Plain") == 0);
	CHECK(p->params != NULL && strcmp(p->params->name, "NAME") == 0 &&
	    p->params->vlen == 9 && memcmp(p->params->value,
	    "\xe6\x97\xa5" "A%4%41", 9) == 0 &&
	    strcmp(p->params->charset, "UTF-8") == 0 &&
	    strcmp(p->params->lang, "ja") == 0);
	CHECK(strcmp(mime_param_get(p->params, "charset"), "a\"b") == 0);
	/* no quotes: not an extended value after all */
	CHECK(strcmp(mime_param_get(p->params, "x"), "zz") == 0);
	CHECK(same(p, BODY, "(\"Text\" \"Plain\" (\"NAME*\" "
	    "\"UTF-8'ja'%E6%97%A5A%254%2541\" \"CharSet\" \"a\\\"b\" "
	    "\"x\" \"zz\") NIL NIL \"7bit\" 0 0)"));
	mime_free(t);
	/* a section 0 missing: no value; %00 kept as a byte */
	t = parse_str("Content-Type: a/b; n*1=x; m*=''%00z\n\n");
	CHECK(mime_param_get(t->root->params, "n") == NULL);
	CHECK(t->root->params != NULL && t->root->params->vlen == 2 &&
	    t->root->params->value[0] == '\0');
	CHECK(same(t->root, BODY, "(\"a\" \"b\" (\"m*\" \"''%00z\") NIL NIL "
	    "\"7bit\" 0)"));
	mime_free(t);
}

int
main(int argc, char **argv)
{
	struct mime_tree *t;
	struct buf b;
	size_t i, len;
	char *d;

	if (argc == 3 && strcmp(argv[1], "-g") == 0) {
		if ((d = load(argv[2], &len)) == NULL ||
		    mime_parse_mem(d, len, &t) != 0)
			return 2;
		buf_init(&b, 0);
		if (render(t, &b) < 0)
			return 2;
		fwrite(b.data, 1, b.len, stdout);
		return 0;
	}
	for (i = 0; i < NELEM(fixtures); i++)
		test_fixture(fixtures[i]);
	test_sizes();
	test_sections();
	test_big();
	test_deep();
	test_limits();
	test_errors();
	test_addresses();
	test_long_string();
	test_params();
	test_random();
	return check_exit("test_mime");
}

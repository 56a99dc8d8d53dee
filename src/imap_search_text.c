/*
 * imap_search_text.c - the text of one message as IMAP SEARCH sees it
 * (RFC 3501 6.4.4): the fields of its header decoded from RFC 2047, the
 * day of its Date: field, and its MIME parts decoded from their transfer
 * encodings and charsets into UTF-8, matched against the text keys of a
 * search (imap_search.c owns the keys and the logic).
 *
 * What it must never do: hold a body in memory (a part goes through in
 * blocks of SEARCH_CHUNK, the matchers keeping their state from block to
 * block), read past what the caller said the message is, or trust it:
 * bad base64, stray "=", unknown charsets and absurd dates are read as
 * well as they can be and never stop the search.
 */
#include "yubin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "charset.h"
#include "imap_search.h"
#include "imap_search_priv.h"
#include "imapparse.h"
#include "mime.h"
#include "util.h"

/* Read [off, end) into b, at most MIME_HDR_MAX of it: as in mime.c,
 * the fields of a header past that cap are not looked at. */
static int
read_block(struct sctx *c, unsigned long off, unsigned long end,
    struct buf *b)
{
	size_t want;
	char *p;
	long n;

	buf_reset(b);
	if (end > c->m->len)
		end = c->m->len;
	if (end > off && end - off > MIME_HDR_MAX)
		end = off + MIME_HDR_MAX;
	while (off < end) {
		want = end - off < SEARCH_CHUNK ? (size_t)(end - off) :
		    SEARCH_CHUNK;
		if ((p = buf_reserve(b, want)) == NULL)
			return -1;
		n = c->m->read(c->m->arg, off, p, want);
		if (n < 0 || (unsigned long)n > want)
			return -1;
		if (n == 0)
			break;		/* shorter than claimed: search it */
		buf_commit(b, (size_t)n);
		off += (unsigned long)n;
	}
	return 0;
}

/* --- header fields --- */

struct field {
	const char	*name, *val;
	size_t		nlen, vlen;
};

/*
 * The next field of a header block at *pos: its name (RFC 5322 2.2,
 * with the white space before the colon RFC 5322 4.5.1 allows) and its
 * value with its continuation lines, folding left in (the decoder
 * unfolds).  Lines that are no field are skipped; the blank line ends
 * the block.  1, or 0 at the end.
 */
static int
next_field(const char *p, size_t len, size_t *pos, struct field *f)
{
	const char *s, *e, *lf, *colon, *n;

	while (*pos < len) {
		s = p + *pos;
		if (*s == '\n' || (*s == '\r' && *pos + 1 < len &&
		    s[1] == '\n'))
			return 0;
		for (e = s;;) {
			if ((lf = memchr(e, '\n', (size_t)(p + len - e))) ==
			    NULL) {
				e = p + len;
				break;
			}
			e = lf + 1;
			if (e == p + len || (*e != ' ' && *e != '\t'))
				break;
		}
		*pos = (size_t)(e - p);
		colon = memchr(s, ':', (size_t)(e - s));
		for (n = colon; n != NULL && n > s && (n[-1] == ' ' ||
		    n[-1] == '\t'); n--)
			;
		if (colon == NULL || n == s ||
		    memchr(s, '\n', (size_t)(n - s)) != NULL)
			continue;
		f->name = s;
		f->nlen = (size_t)(n - s);
		f->val = colon + 1;
		f->vlen = (size_t)(e - colon - 1);
		return 1;
	}
	return 0;
}

static int
field_is(const struct field *f, const char *name)
{
	return strlen(name) == f->nlen &&
	    ascii_ncasecmp(f->name, name, f->nlen) == 0;
}

static int
is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/*
 * The charset parameter of the header's Content-Type (RFC 2045 5.1),
 * into cs ("" if none): how raw 8-bit header text that is not UTF-8 is
 * read, as old Japanese and Western mailers wrote it.
 */
static void
content_charset(const char *p, size_t len, char *cs, size_t cslen)
{
	struct field f;
	const char *v, *e;
	size_t pos, i, n;

	cs[0] = '\0';
	for (pos = 0; next_field(p, len, &pos, &f);) {
		if (!field_is(&f, "Content-Type"))
			continue;
		v = f.val;
		e = f.val + f.vlen;
		for (i = 1; i + 8 < f.vlen; i++)
			if ((v[i - 1] == ';' || v[i - 1] == ' ' ||
			    v[i - 1] == '\t') &&
			    ascii_ncasecmp(v + i, "charset=", 8) == 0)
				break;
		if (i + 8 >= f.vlen)
			return;
		v += i + 8;
		if (*v == '"')
			v++;
		for (n = 0; v + n < e && n + 1 < cslen && (is_alpha(v[n]) ||
		    is_digit(v[n]) || strchr("-_.:+", v[n]) != NULL) &&
		    v[n] != '\0'; n++)
			cs[n] = v[n];
		cs[n] = '\0';
		return;
	}
}

/* CFWS (RFC 5322 3.2.2): white space and comments, nested. */
static size_t
skip_cfws(const char *s, size_t n, size_t i)
{
	size_t depth;

	for (depth = 0; i < n; i++) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && depth > 0)
			depth--;
		else if (s[i] == '\\' && depth > 0 && i + 1 < n)
			i++;
		else if (depth == 0 && s[i] != ' ' && s[i] != '\t' &&
		    s[i] != '\r' && s[i] != '\n')
			break;
	}
	return i;
}

/*
 * The day a Date: field names (RFC 5322 3.3: [day-of-week ","] day
 * month year, with the obsolete two- and three-digit years of 4.3), as
 * written: RFC 3501 6.4.4 compares SENT* dates "disregarding time and
 * timezone", so neither the time nor the zone is read.  The calendar is
 * imapparse.c's, through imap_parse_date().  0 and *day, or -1.
 */
static int
date_day(const char *s, size_t n, long *day)
{
	static const char wdays[] = "montuewedthufrisatsun";
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	unsigned long d, y;
	char text[32];
	size_t i, k;
	time_t t;
	int r, mon;

	i = skip_cfws(s, n, 0);
	if (i < n && is_alpha(s[i])) {
		for (k = 0; k < 7; k++)
			if (n - i >= 3 && ascii_ncasecmp(s + i, wdays + 3 * k,
			    3) == 0)
				break;
		if (k == 7 || (n - i > 3 && is_alpha(s[i + 3])))
			return -1;
		i = skip_cfws(s, n, i + 3);
		if (i < n && s[i] == ',')
			i = skip_cfws(s, n, i + 1);
	}
	for (k = i; k < n && k - i < 3 && is_digit(s[k]); k++)
		;
	if (k - i > 2 || parse_ulong_n(s + i, k - i, 31, &d) < 0)
		return -1;
	i = skip_cfws(s, n, k);
	for (k = 0; k < 12; k++)
		if (n - i >= 3 && ascii_ncasecmp(s + i, months + 3 * k, 3) == 0)
			break;
	if (k == 12 || (n - i > 3 && is_alpha(s[i + 3])))
		return -1;
	mon = (int)k;
	i = skip_cfws(s, n, i + 3);
	for (k = i; k < n && k - i < 5 && is_digit(s[k]); k++)
		;
	if (k - i < 2 || parse_ulong_n(s + i, k - i, 9999, &y) < 0)
		return -1;
	if (k - i == 2)
		y += y < 50 ? 2000 : 1900;
	else if (k - i == 3)
		y += 1900;
	r = snprintf(text, sizeof(text), "%lu-%.3s-%lu", d, months + 3 * mon,
	    y);
	if (r < 0 || (size_t)r >= sizeof(text) ||
	    imap_parse_date(text, (size_t)r, &t) < 0)
		return -1;
	*day = search_day_of(t);
	return 0;
}

/* Does text key k look at field f?  top: 1 for the message's own
 * header, 0 for one of a message/rfc822 part (BODY text, RFC 3501
 * 6.4.4), HDR_PART for the MIME header of a body part: text of the
 * message's body too, so TEXT sees it (as Dovecot's does: an
 * attachment's file name, "Content-Disposition: inline"), BODY not. */
#define HDR_PART	2
static int
wants_field(const struct search_key *k, const struct field *f, int top)
{
	switch (k->type) {
	case K_HEADER:
		return top == 1 && field_is(f, k->field);
	case K_TEXT:
		return 1;
	case K_BODY:
		return top == 0;
	default:
		return 0;
	}
}

/*
 * Match one field against the keys that want it, decoded once (RFC 2047
 * words, folding removed) into UTF-8.  TEXT and BODY see "Name:" and
 * the value as it was written, so "Subject: x" finds "Subject: x".
 * Each field is a haystack of its own: no match runs from one field
 * into the next.
 */
static int
feed_field(struct sctx *c, const struct field *f, const char *fallback,
    int top)
{
	const struct search_key *k;
	struct charset_match *mt;
	int i, decoded;

	decoded = 0;
	for (i = 0; i < c->root->ntext; i++) {
		k = c->root->text[i];
		if (c->res[i] == R_YES || !wants_field(k, f, top))
			continue;
		if (k->len == 0) {
			c->res[i] = R_YES;	/* HEADER name "": it exists */
			continue;
		}
		if (!decoded) {
			buf_reset(&c->val);
			/* CHARSET_TRUNC: search what fitted */
			if (charset_decode_header(f->val, f->vlen, fallback,
			    &c->val) == CHARSET_NOMEM)
				return -1;
			decoded = 1;
		}
		mt = &c->mt[i];
		charset_match_reset(mt);
		if (k->type != K_HEADER) {
			charset_match_feed(mt, f->name, f->nlen);
			charset_match_feed(mt, ":", 1);
		}
		if (buf_used(&c->val) > 0)
			charset_match_feed(mt, buf_ptr(&c->val),
			    buf_used(&c->val));
		if (mt->found)
			c->res[i] = R_YES;
	}
	return 0;
}

static int
feed_fields(struct sctx *c, const char *fallback, int top)
{
	struct field f;
	size_t pos;

	if (buf_used(&c->hdr) == 0)
		return 0;
	for (pos = 0; next_field(buf_ptr(&c->hdr), buf_used(&c->hdr), &pos,
	    &f);)
		if (feed_field(c, &f, fallback, top) < 0)
			return -1;
	return 0;
}

/* Step 2: the top-level header settles HEADER-like and SENT* keys. */
int
search_header_pass(struct sctx *c)
{
	const struct search_key *k;
	struct field f;
	char cs[64];
	size_t pos;
	long day;
	int i;

	if (read_block(c, 0, c->m->hdr_len, &c->hdr) < 0)
		return -1;
	for (i = 0; i < c->root->ntext; i++) {
		k = c->root->text[i];
		if (k->type == K_HEADER || k->type == K_SENT)
			c->res[i] = R_NO;
	}
	if (buf_used(&c->hdr) == 0)
		return 0;
	/* The first Date: field decides (RFC 5322 3.6 allows one). */
	for (pos = 0; (i = next_field(buf_ptr(&c->hdr), buf_used(&c->hdr),
	    &pos, &f)) != 0;)
		if (field_is(&f, "Date"))
			break;
	if (i && date_day(f.val, f.vlen, &day) == 0)
		for (i = 0; i < c->root->ntext; i++) {
			k = c->root->text[i];
			if (k->type == K_SENT)
				c->res[i] = (signed char)search_day_cmp(k->op,
				    day, k->day);
		}
	content_charset(buf_ptr(&c->hdr), buf_used(&c->hdr), cs, sizeof(cs));
	return feed_fields(c, cs[0] != '\0' ? cs : NULL, 1);
}

/* --- bodies --- */

#define E_NONE		0
#define E_B64		1
#define E_QP		2

/* Content-Transfer-Encoding (RFC 2045 6), undone a block at a time. */
struct cte {
	int		enc;
	unsigned	acc;		/* base64: bits not yet output */
	int		bits;
	int		qs;		/* QP: 0 text, 1 "=", 2 "=X", 3 "= " */
	char		qh;
};

/* RFC 2045 6.8: characters outside the alphabet are ignored; "=" ends
 * a quantum, and the leftover bits go. */
static size_t
b64_decode(struct cte *d, const char *in, size_t n, char *out)
{
	size_t i, k;
	int v;

	for (i = k = 0; i < n; i++) {
		if (in[i] == '=') {
			d->bits = 0;
			continue;
		}
		if ((v = base64_value((unsigned char)in[i])) < 0)
			continue;
		d->acc = (d->acc << 6 | (unsigned)v) & 0xFFF;
		d->bits += 6;
		if (d->bits >= 8) {
			d->bits -= 8;
			out[k++] = (char)(d->acc >> d->bits & 0xFF);
		}
	}
	return k;
}

/*
 * RFC 2045 6.7: "=XX" is an octet, "=" at the end of a line (white space
 * may follow it) a soft line break.  A malformed "=" stays as text, as
 * the RFC suggests readers do.  Output: at most n + 2 bytes.
 */
static size_t
qp_decode(struct cte *d, const char *in, size_t n, char *out)
{
	size_t i, k;
	int c;

	for (i = k = 0; i < n; i++) {
		c = (unsigned char)in[i];
		if (d->qs == 1 && hex_value(c) >= 0) {
			d->qh = (char)c;
			d->qs = 2;
		} else if (d->qs == 1 || d->qs == 3) {
			if (c == '\n')
				d->qs = 0;
			else if (c == ' ' || c == '\t' || c == '\r')
				d->qs = 3;
			else {
				if (d->qs == 1)
					out[k++] = '=';
				out[k++] = (char)c;
				d->qs = 0;
			}
		} else if (d->qs == 2) {
			if (hex_value(c) >= 0)
				out[k++] = (char)(hex_value(d->qh) << 4 |
				    hex_value(c));
			else {
				out[k++] = '=';
				out[k++] = d->qh;
				out[k++] = (char)c;
			}
			d->qs = 0;
		} else if (c == '=')
			d->qs = 1;
		else
			out[k++] = (char)c;
	}
	return k;
}

/* The open BODY and TEXT keys take a block of UTF-8. */
static void
body_feed(struct sctx *c, const char *p, size_t n)
{
	int i, t;

	for (i = 0; i < c->root->ntext && n > 0; i++) {
		t = c->root->text[i]->type;
		if ((t == K_BODY || t == K_TEXT) && c->res[i] != R_YES)
			charset_match_feed(&c->mt[i], p, n);
	}
}

/* The UTF-8 a block converted to (c->out may never have been used). */
static void
body_feed_out(struct sctx *c)
{
	if (buf_used(&c->out) > 0)
		body_feed(c, buf_ptr(&c->out), buf_used(&c->out));
}

/* Before a part (reset) or after it: 1 if every open key matched. */
static int
body_sync(struct sctx *c, int reset)
{
	int i, t, all;

	for (all = 1, i = 0; i < c->root->ntext; i++) {
		t = c->root->text[i]->type;
		if ((t != K_BODY && t != K_TEXT) || c->res[i] == R_YES)
			continue;
		if (reset)
			charset_match_reset(&c->mt[i]);
		else if (c->mt[i].found)
			c->res[i] = R_YES;
		if (!c->mt[i].found)
			all = 0;
	}
	return all;
}

/*
 * Charset of a text part.  A declared us-ascii (the default, RFC 2046
 * 4.1.2) or unknown one is guessed from the text, as the header decoder
 * does: an ESC means ISO-2022-JP sent without MIME labels, other 8-bit
 * bytes UTF-8.  CS_UNKNOWN: nothing decided yet (all ASCII so far).
 */
static enum charset_id
sniff(const char *p, size_t n)
{
	size_t i;

	if (memchr(p, 0x1B, n) != NULL)
		return CS_ISO2022JP;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return CS_UTF8;
	return CS_UNKNOWN;
}

static void
part_setup(const struct mime_part *part, int *text, struct cte *d,
    struct charset_conv *conv, int *guess)
{
	const char *cs;
	enum charset_id id;

	memset(d, 0, sizeof(*d));
	*text = ascii_casecmp(part->type, "text") == 0;
	if (*text && part->enc != NULL) {
		if (ascii_casecmp(part->enc, "base64") == 0)
			d->enc = E_B64;
		else if (ascii_casecmp(part->enc, "quoted-printable") == 0)
			d->enc = E_QP;
	}
	cs = mime_param_get(part->params, "charset");
	id = cs != NULL ? charset_lookup(cs, strlen(cs)) : CS_UNKNOWN;
	*guess = id == CS_ASCII || id == CS_UNKNOWN;
	charset_conv_init(conv, *guess ? CS_UTF8 : id);
}

/*
 * Match one leaf part's body a block at a time: text parts decoded and
 * converted to UTF-8, other parts as stored.  Stops early once every
 * open key matched.  -1 if the text cannot be read.
 */
static int
feed_part(struct sctx *c, const struct mime_part *part)
{
	struct charset_conv conv;
	struct cte d;
	enum charset_id id;
	unsigned long off;
	const char *p;
	size_t want, n;
	long got;
	int text, guess;

	part_setup(part, &text, &d, &conv, &guess);
	body_sync(c, 1);
	for (off = part->body; off < part->end; off += (unsigned long)got) {
		want = part->end - off < SEARCH_CHUNK ?
		    (size_t)(part->end - off) : SEARCH_CHUNK;
		got = c->m->read(c->m->arg, off, c->in, want);
		if (got < 0 || (unsigned long)got > want)
			return -1;
		if (got == 0)
			break;
		if (!text) {
			body_feed(c, c->in, (size_t)got);
			if (body_sync(c, 0))
				return 0;
			continue;
		}
		p = d.enc == E_NONE ? c->in : c->dec;
		n = d.enc == E_B64 ? b64_decode(&d, c->in, (size_t)got,
		    c->dec) : d.enc == E_QP ? qp_decode(&d, c->in,
		    (size_t)got, c->dec) : (size_t)got;
		if (guess && (id = sniff(p, n)) != CS_UNKNOWN) {
			charset_conv_init(&conv, id);	/* all ASCII so far */
			guess = 0;
		}
		buf_reset(&c->out);
		if (charset_conv_feed(&conv, p, n, &c->out) == CHARSET_NOMEM)
			return -1;
		body_feed_out(c);
		if (body_sync(c, 0))
			return 0;
	}
	if (text) {
		buf_reset(&c->out);
		if (charset_conv_end(&conv, &c->out) == CHARSET_NOMEM)
			return -1;
		body_feed_out(c);
	}
	body_sync(c, 0);
	return 0;
}

/*
 * Walk the MIME tree (its depth is capped by mime.c): 1 when the answer
 * is known, 0 to go on, -1 on error.
 */
static int
walk(struct sctx *c, const struct mime_part *p, int top)
{
	const struct mime_part *k;
	const char *cs;
	int r;

	if ((p->flags & MIME_ISMSG) && !top) {
		cs = mime_param_get(p->params, "charset");
		if (read_block(c, p->hdr, p->body, &c->hdr) < 0 ||
		    feed_fields(c, cs, 0) < 0)
			return -1;
	} else if (!top && p->body > p->hdr) {
		if (read_block(c, p->hdr, p->body, &c->hdr) < 0 ||
		    feed_fields(c, NULL, HDR_PART) < 0)
			return -1;
	}
	if (p->flags & MIME_MULTIPART) {
		for (k = p->children; k != NULL; k = k->next)
			if ((r = walk(c, k, 0)) != 0)
				return r;
		return 0;
	}
	if (p->flags & MIME_MESSAGE)
		return p->children != NULL ? walk(c, p->children, 0) : 0;
	if (feed_part(c, p) < 0)
		return -1;
	return search_eval(c->root, c->m, c->res) != R_OPEN;
}

/* mime_parse() must not read past the message. */
static long
read_clamped(void *arg, unsigned long off, char *buf, size_t len)
{
	const struct search_msg *m = ((struct sctx *)arg)->m;

	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = (size_t)(m->len - off);
	return m->read(m->arg, off, buf, len);
}

/* Step 3: BODY and TEXT over the parts; what did not match is NO. */
int
search_body_pass(struct sctx *c)
{
	struct mime_tree *tree;
	int i, r;

	if ((c->in = malloc(SEARCH_CHUNK)) == NULL ||
	    (c->dec = malloc(SEARCH_CHUNK + 4)) == NULL)
		return -1;
	if (mime_parse(read_clamped, c, &tree) != 0)
		return -1;
	r = walk(c, tree->root, 1);
	mime_free(tree);
	if (r < 0)
		return -1;
	for (i = 0; i < c->root->ntext; i++)
		if (c->res[i] == R_OPEN)
			c->res[i] = R_NO;
	return 0;
}

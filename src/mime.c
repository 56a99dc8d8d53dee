/*
 * mime.c - the MIME tree of a message and the RFC 3501 7.4.2 texts made
 * from it: ENVELOPE, BODY and BODYSTRUCTURE (see mime.h).
 *
 * What it is for: finding every part of a message of any size with one
 * pass over it, holding only header blocks (each capped) and a window of
 * the body; saying where each part is and how big it is on the wire.
 *
 * What it must never do: hold a body in memory, recurse without bound
 * (depth stops at MIME_MAX_DEPTH; deeper multiparts and messages are
 * shown as text/plain), or trust the message: every bracket may be
 * unclosed, every boundary missing, every number absurd.
 *
 * Choices, for what the RFCs leave open (Dovecot 2.3 was the yardstick;
 * tests/fixtures/mime/README says where we differ and why):
 *   - types, subtypes and parameter names go out as found, quoted; the
 *     defaults as "text" "plain" ("charset" "us-ascii"), and a text part
 *     with no charset gets ("charset" "us-ascii") appended (RFC 2046
 *     4.1.2);
 *   - RFC 2231 parameters are decoded in the tree (value bytes plus
 *     charset and language) and sent as Dovecot and most clients expect:
 *     continuations joined, an extended value as "name*" "cs'lang'%XX";
 *   - a multipart without a boundary, or in which no boundary line is
 *     found, is shown as text/plain: its content stays readable (Dovecot
 *     shows an empty part instead);
 *   - a boundary line is "--" boundary ["--"] and only whitespace after
 *     it (RFC 2046 5.1.1), so a boundary that is the prefix of another
 *     never matches the longer one's lines; a stored CR before the LF
 *     counts as whitespace there, and "\r\n" as the end of a header line;
 *   - a missing domain is sent as "MISSING_DOMAIN", as Dovecot does:
 *     a NIL host means the start of a group (RFC 3501 7.4.2), so
 *     "From: root" must not be sent with one.
 */
#include "yubin.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "util.h"

/* --- memory: one arena per tree, capped at MIME_MEM_MAX --- */

union mem_align {
	long	l;
	double	d;
	void	*p;
};

struct mem_blk {
	struct mem_blk	*next;
	size_t		used, size;
	union mem_align	data[1];
};

struct mime_mem {
	struct mem_blk	*blk;
	size_t		total;
};

#define MEM_BLK		16384

static void *
mem_alloc(struct mime_mem *m, size_t n)
{
	struct mem_blk *b;
	size_t sz, a = sizeof(union mem_align);
	char *p;

	if (n > MIME_MEM_MAX)
		return NULL;
	n = (n + a - 1) / a * a;
	b = m->blk;
	if (b == NULL || b->size - b->used < n) {
		sz = n > MEM_BLK / 4 ? n : MEM_BLK;
		if (sz > MIME_MEM_MAX - m->total ||
		    (b = malloc(sizeof(*b) + sz)) == NULL)
			return NULL;
		b->size = sz;
		b->used = 0;
		m->total += sz;
		/* a big block is used up at once: keep the open one first */
		if (sz > MEM_BLK && m->blk != NULL) {
			b->next = m->blk->next;
			m->blk->next = b;
		} else {
			b->next = m->blk;
			m->blk = b;
		}
	}
	p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

static char *
mem_strndup(struct mime_mem *m, const char *s, size_t n)
{
	char *p;

	if ((p = mem_alloc(m, n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
mem_free(struct mime_mem *m)
{
	struct mem_blk *b, *next;

	if (m == NULL)
		return;
	for (b = m->blk; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(m);
}

/* --- reading: a window over the callback, a line (or piece) at a time --- */

struct rd {
	mime_read_fn	*fn;
	void		*arg;
	char		*win;
	unsigned long	base;		/* offset of win[0] */
	size_t		pos, len;
	unsigned long	nl;		/* LFs before base + pos */
	int		bol;		/* pos starts a line */
	int		eof, err;
};

#define rd_off(r)	((r)->base + (r)->pos)

static void
rd_fill(struct rd *r)
{
	long n;

	if (r->pos > 0) {
		memmove(r->win, r->win + r->pos, r->len - r->pos);
		r->base += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	while (!r->eof && !r->err && r->len < MIME_WINDOW) {
		n = r->fn(r->arg, r->base + r->len, r->win + r->len,
		    MIME_WINDOW - r->len);
		/* offsets are IMAP numbers: 32 bits at least, never wrap */
		if (n < 0 || (unsigned long)n > MIME_WINDOW - r->len ||
		    (unsigned long)n > ULONG_MAX - r->base - r->len)
			r->err = 1;
		else if (n == 0)
			r->eof = 1;
		else
			r->len += (size_t)n;
	}
}

/*
 * The current piece: the rest of the line with its LF, or as much of it
 * as the window holds.  1, or 0 at the end (or on error: see r->err).
 */
static int
rd_piece(struct rd *r, const char **p, size_t *n)
{
	const char *lf;

	lf = memchr(r->win + r->pos, '\n', r->len - r->pos);
	if (lf == NULL && !r->eof && !r->err) {
		rd_fill(r);
		lf = memchr(r->win + r->pos, '\n', r->len - r->pos);
	}
	if (r->pos == r->len)
		return 0;
	*p = r->win + r->pos;
	*n = lf != NULL ? (size_t)(lf - *p) + 1 : r->len - r->pos;
	return 1;
}

static void
rd_skip(struct rd *r, size_t n)
{
	r->pos += n;
	r->bol = r->win[r->pos - 1] == '\n';
	if (r->bol)
		r->nl++;
}

static void
rd_skip_line(struct rd *r)
{
	const char *p;
	size_t n;

	do {
		if (!rd_piece(r, &p, &n))
			return;
		rd_skip(r, n);
	} while (!r->bol);
}

/* --- structured fields (RFC 2045 5.1, RFC 5322 3.2.2) --- */

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Skip white space and comments, nested ones included (no recursion). */
static const char *
skip_cfws(const char *s, const char **comment, size_t *clen)
{
	const char *start = NULL;
	int depth = 0;

	for (; *s != '\0'; s++) {
		if (depth > 0) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0 && comment != NULL) {
				*comment = start;
				*clen = (size_t)(s - start);
			}
		} else if (*s == '(') {
			depth = 1;
			start = s + 1;
		} else if (!is_wsp((unsigned char)*s))
			break;
	}
	return s;
}

/* RFC 2045 token: anything but controls, space and tspecials. */
static size_t
token_len(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0' && (unsigned char)s[n] > ' ' && s[n] != 0x7f &&
	    strchr("()<>@,;:\\\"/[]?=", s[n]) == NULL)
		n++;
	return n;
}

/*
 * Copy the quoted string at s (on its opening quote) without quotes and
 * escapes into out, which has room for strlen(s) bytes.  Returns the
 * end; an unterminated string runs to the end of the field.
 */
static const char *
get_qstring(const char *s, char *out, size_t *olen)
{
	size_t n = 0;

	for (s++; *s != '\0' && *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		out[n++] = *s;
	}
	*olen = n;
	return *s == '"' ? s + 1 : s;
}

/* --- parameters (RFC 2045 5.1, RFC 2231) --- */

/*
 * A bound on parameters per field: RFC 2231 merging looks at every pair,
 * and a header of "a*0=b;" repeated must not cost quadratic time.
 */
#define MAX_PARAMS	128

struct rawparam {
	const char	*name;		/* in the arena, as found */
	size_t		nlen;		/* without the RFC 2231 suffix */
	long		section;	/* -1: none */
	int		ext;		/* ends in '*': %-encoded */
	const char	*val;
	size_t		vlen;
};

/* Split "name*3*" into its base length, section and extended flag. */
static void
param_split(struct rawparam *rp)
{
	const char *s = rp->name, *star;
	unsigned long v;
	size_t n = strlen(s);

	rp->section = -1;
	rp->ext = 0;
	if (n > 1 && s[n - 1] == '*') {
		rp->ext = 1;
		n--;
	}
	rp->nlen = n;
	if ((star = memchr(s, '*', n)) != NULL && star > s &&
	    parse_ulong_n(star + 1, n - (size_t)(star + 1 - s), MAX_PARAMS,
	    &v) == 0) {
		rp->section = (long)v;
		rp->nlen = (size_t)(star - s);
	}
}

/* Parse ";name=value" pairs from s into rp[]; returns how many. */
static int
param_scan(struct mime_mem *m, const char *s, struct rawparam *rp)
{
	const char *name;
	size_t nlen, vlen;
	char *val;
	int n = 0;

	while (n < MAX_PARAMS) {
		s = skip_cfws(s, NULL, NULL);
		if (*s == '\0')
			break;
		if (*s != ';') {	/* junk: go on at the next ';' */
			s++;
			continue;
		}
		s = skip_cfws(s + 1, NULL, NULL);
		name = s;
		if ((nlen = token_len(s)) == 0)
			continue;
		s = skip_cfws(s + nlen, NULL, NULL);
		if (*s != '=')
			continue;
		s = skip_cfws(s + 1, NULL, NULL);
		if ((val = mem_alloc(m, strlen(s) + 1)) == NULL)
			return -1;
		if (*s == '"')
			s = get_qstring(s, val, &vlen);
		else {
			vlen = token_len(s);
			memcpy(val, s, vlen);
			s += vlen;
		}
		val[vlen] = '\0';
		if ((rp[n].name = mem_strndup(m, name, nlen)) == NULL)
			return -1;
		rp[n].val = val;
		rp[n].vlen = vlen;
		param_split(&rp[n]);
		n++;
	}
	return n;
}

/* Append v[0..n), %XX-decoded if enc (RFC 2231 4), at out + *olen. */
static void
pct_decode(char *out, size_t *olen, const char *v, size_t n, int enc)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (enc && v[i] == '%' && i + 2 < n &&
		    hex_value((unsigned char)v[i + 1]) >= 0 &&
		    hex_value((unsigned char)v[i + 2]) >= 0) {
			out[(*olen)++] = (char)(hex_value((unsigned char)v[i + 1])
			    * 16 + hex_value((unsigned char)v[i + 2]));
			i += 2;
		} else
			out[(*olen)++] = v[i];
	}
}

/*
 * Take "charset'lang'" off an extended value (RFC 2231 4).  Without both
 * quotes the value is not extended after all: 0.
 */
static int
ext_prefix(struct mime_mem *m, struct mime_param *p, const char **v,
    size_t *n)
{
	const char *q1, *q2;

	if ((q1 = memchr(*v, '\'', *n)) == NULL ||
	    (q2 = memchr(q1 + 1, '\'', *n - (size_t)(q1 + 1 - *v))) == NULL)
		return 0;
	p->charset = mem_strndup(m, *v, (size_t)(q1 - *v));
	p->lang = mem_strndup(m, q1 + 1, (size_t)(q2 - q1 - 1));
	if (p->charset == NULL || p->lang == NULL)
		return -1;
	*n -= (size_t)(q2 + 1 - *v);
	*v = q2 + 1;
	return 1;
}

/*
 * Build one parameter named as rp[first]: that plain or extended value,
 * or for RFC 2231 continuations sections 0, 1, ... found among rp[0..n)
 * in any order (RFC 2231 3; a gap ends the value, no section 0 means no
 * value).  1 and *out, 0 for none, -1 without memory.
 */
static int
param_build(struct mime_mem *m, struct rawparam *rp, int n, int first,
    struct mime_param **out)
{
	struct mime_param *p;
	size_t total = 0, len = 0, vlen;
	const char *v;
	long sec;
	int i, enc;

	if ((p = mem_alloc(m, sizeof(*p))) == NULL)
		return -1;
	memset(p, 0, sizeof(*p));
	for (i = 0; i < n; i++)
		total += rp[i].vlen;
	p->name = mem_strndup(m, rp[first].name, rp[first].nlen);
	if (p->name == NULL ||
	    (p->value = mem_alloc(m, total + 1)) == NULL)
		return -1;
	for (sec = rp[first].section < 0 ? -1 : 0; ; sec++) {
		for (i = 0; i < n; i++)
			if (rp[i].section == sec &&
			    rp[i].nlen == rp[first].nlen &&
			    ascii_ncasecmp(rp[i].name, rp[first].name,
			    rp[i].nlen) == 0 && (sec >= 0 || i == first))
				break;
		if (i == n)
			break;
		v = rp[i].val;
		vlen = rp[i].vlen;
		enc = rp[i].ext;
		if (sec <= 0 && enc && (enc = ext_prefix(m, p, &v, &vlen)) < 0)
			return -1;
		pct_decode(p->value, &len, v, vlen, enc);
		if (sec < 0)
			break;
	}
	if (sec == 0)
		return 0;
	p->value[len] = '\0';
	p->vlen = len;
	*out = p;
	return 1;
}

/*
 * The parameters of a field, RFC 2231 sections merged, in order; a
 * continued one where its first section appears (as Dovecot has it).
 */
static int
param_list(struct mime_mem *m, const char *s, struct mime_param **out)
{
	struct rawparam rp[MAX_PARAMS];
	struct mime_param *p, **tail = out;
	int n, i, j, rc;

	*out = NULL;
	if ((n = param_scan(m, s, rp)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && rp[i].section >= 0; j++)
			if (rp[j].section >= 0 && rp[j].nlen == rp[i].nlen &&
			    ascii_ncasecmp(rp[j].name, rp[i].name,
			    rp[i].nlen) == 0)
				break;
		if (rp[i].section >= 0 && j < i)
			continue;		/* merged already */
		if ((rc = param_build(m, rp, n, i, &p)) < 0)
			return -1;
		if (rc > 0) {
			*tail = p;
			tail = &p->next;
		}
	}
	return 0;
}

const char *
mime_param_get(const struct mime_param *p, const char *name)
{
	for (; p != NULL; p = p->next)
		if (ascii_casecmp(p->name, name) == 0)
			return p->value;
	return NULL;
}

/* --- the parser --- */

struct ctx {
	struct rd		rd;
	struct mime_tree	*t;
	struct buf		hdr;		/* the header block read */
	int			hdr_full;	/* MIME_HDR_MAX passed */
	/* the boundaries of the multiparts we are inside, outermost first */
	const char		*bnd[MIME_MAX_DEPTH + 1];
	size_t			bndlen[MIME_MAX_DEPTH + 1];
	int			nbnd;
	int			nomem;
};

/* The boundary-relevant fields of a part, before they are taken apart. */
enum {
	F_CTYPE, F_CTE, F_CID, F_CDESC, F_CDISP, F_CLANG, F_CLOC, F_CMD5,
	F_N
};

static const struct {
	const char	*name;
	int		slot;		/* F_*, or F_N + MIME_ENV_* */
} field_tab[] = {
	{ "content-type",		F_CTYPE },
	{ "content-transfer-encoding",	F_CTE },
	{ "content-id",			F_CID },
	{ "content-description",	F_CDESC },
	{ "content-disposition",	F_CDISP },
	{ "content-language",		F_CLANG },
	{ "content-location",		F_CLOC },
	{ "content-md5",		F_CMD5 },
	{ "date",			F_N + MIME_ENV_DATE },
	{ "subject",			F_N + MIME_ENV_SUBJECT },
	{ "from",			F_N + MIME_ENV_FROM },
	{ "sender",			F_N + MIME_ENV_SENDER },
	{ "reply-to",			F_N + MIME_ENV_REPLY_TO },
	{ "to",				F_N + MIME_ENV_TO },
	{ "cc",				F_N + MIME_ENV_CC },
	{ "bcc",			F_N + MIME_ENV_BCC },
	{ "in-reply-to",		F_N + MIME_ENV_IN_REPLY_TO },
	{ "message-id",			F_N + MIME_ENV_MESSAGE_ID }
};

/* "--" boundary ["--"] *LWSP: RFC 2046 5.1.1.  p, n follow the "--". */
static int
bnd_match(const char *p, size_t n, const char *b, size_t blen, int *closing)
{
	if (n < blen || memcmp(p, b, blen) != 0)
		return 0;
	p += blen;
	n -= blen;
	*closing = n >= 2 && p[0] == '-' && p[1] == '-';
	if (*closing) {
		p += 2;
		n -= 2;
	}
	while (n > 0 && (is_wsp((unsigned char)*p) || *p == '\n')) {
		p++;
		n--;
	}
	return n == 0;
}

/*
 * Which open boundary the line p[0..n) is: its level, or -1.  The
 * innermost is tried first, so of "abc" (outer) and "abc-def" (inner)
 * each matches only its own lines.
 */
static int
bnd_find(const struct ctx *c, const char *p, size_t n, int *closing)
{
	int i;

	if (n < 2 || p[0] != '-' || p[1] != '-')
		return -1;
	for (i = c->nbnd - 1; i >= 0; i--)
		if (bnd_match(p + 2, n - 2, c->bnd[i], c->bndlen[i], closing))
			return i;
	return -1;
}

/* Skip to the next boundary line (left unread): its level, or -1. */
static int
scan(struct ctx *c, int *closing)
{
	const char *p;
	size_t n;
	int lvl;

	while (rd_piece(&c->rd, &p, &n)) {
		if (c->rd.bol && (lvl = bnd_find(c, p, n, closing)) >= 0)
			return lvl;
		rd_skip(&c->rd, n);
	}
	return -1;
}

/*
 * Read a header block into c->hdr: up to and including the blank line,
 * or up to a boundary line (a part with no blank line before it), or to
 * the end.  Past MIME_HDR_MAX whole lines are dropped, never half ones.
 */
static void
read_header(struct ctx *c)
{
	const char *p;
	size_t n, mark = 0;
	int closing;

	buf_reset(&c->hdr);
	c->hdr_full = 0;
	while (rd_piece(&c->rd, &p, &n)) {
		if (c->rd.bol) {
			if ((n == 1 && p[0] == '\n') ||
			    (n == 2 && p[0] == '\r' && p[1] == '\n')) {
				rd_skip(&c->rd, n);
				return;
			}
			if (bnd_find(c, p, n, &closing) >= 0)
				return;
			mark = c->hdr.len;
		}
		if (!c->hdr_full && buf_append(&c->hdr, p, n) < 0) {
			c->hdr_full = 1;
			c->hdr.len = mark;
		}
		rd_skip(&c->rd, n);
	}
}

/*
 * A field's value unfolded (RFC 5322 2.2.3: CRLF before WSP removed, the
 * WSP kept), a CR before each LF taken as part of the line end, white
 * space trimmed at both ends.
 */
static char *
unfold(struct mime_mem *m, const char *s, const char *e)
{
	char *out, *o;

	while (s < e && (is_wsp((unsigned char)*s) || *s == '\n'))
		s++;
	if ((out = mem_alloc(m, (size_t)(e - s) + 1)) == NULL)
		return NULL;
	for (o = out; s < e; s++) {
		if (*s == '\n' || (*s == '\r' && s + 1 < e && s[1] == '\n'))
			continue;
		if (*s == '\0')		/* would end the string: a space */
			*o++ = ' ';
		else
			*o++ = *s;
	}
	while (o > out && is_wsp((unsigned char)o[-1]))
		o--;
	*o = '\0';
	return out;
}

/* Keep one field if we want it: the first of each kind counts. */
static int
take_field(struct ctx *c, struct mime_part *part, char **slot,
    const char *name, size_t nlen, const char *v, const char *e)
{
	size_t i;
	int k;

	for (i = 0; i < NELEM(field_tab); i++) {
		if (strlen(field_tab[i].name) != nlen ||
		    ascii_ncasecmp(field_tab[i].name, name, nlen) != 0)
			continue;
		k = field_tab[i].slot;
		if (k >= F_N && !(part->flags & MIME_ISMSG))
			return 0;
		if (k >= F_N)
			slot = &part->env[k - F_N];
		else
			slot = &slot[k];
		if (*slot == NULL && (*slot = unfold(c->t->mem, v, e)) == NULL)
			return -1;
		return 0;
	}
	return 0;
}

/* Split c->hdr into fields; slot[F_*] gets the Content-* values. */
static int
split_fields(struct ctx *c, struct mime_part *part, char **slot)
{
	const char *p = c->hdr.data, *end, *e, *colon, *n;

	if (c->hdr.len == 0)
		return 0;
	for (end = p + c->hdr.len; p < end; p = e) {
		/* a field runs until a LF that no WSP follows */
		for (e = p; (e = memchr(e, '\n', (size_t)(end - e))) != NULL &&
		    e + 1 < end && (e[1] == ' ' || e[1] == '\t'); e++)
			;
		e = e == NULL ? end : e + 1;
		colon = memchr(p, ':', (size_t)(e - p));
		for (n = colon; n != NULL && n > p &&
		    is_wsp((unsigned char)n[-1]); n--)
			;	/* RFC 5322 4.5.1: WSP before the colon */
		if (colon != NULL && n > p && memchr(p, '\n', (size_t)(n - p))
		    == NULL && take_field(c, part, slot, p, (size_t)(n - p),
		    colon + 1, e) < 0)
			return -1;
	}
	return 0;
}

static struct mime_part *
new_part(struct ctx *c, struct mime_part *parent)
{
	struct mime_part *p;

	if ((p = mem_alloc(c->t->mem, sizeof(*p))) == NULL) {
		c->nomem = 1;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->depth = parent != NULL ? parent->depth + 1 : 0;
	c->t->nparts++;
	return p;
}

/* RFC 2046 4.1.2: text without a charset is us-ascii. */
static int
default_charset(struct mime_mem *m, struct mime_part *part)
{
	struct mime_param **pp;

	if (ascii_casecmp(part->type, "text") != 0 ||
	    mime_param_get(part->params, "charset") != NULL)
		return 0;
	for (pp = &part->params; *pp != NULL; pp = &(*pp)->next)
		;
	if ((*pp = mem_alloc(m, sizeof(**pp))) == NULL)
		return -1;
	memset(*pp, 0, sizeof(**pp));
	(*pp)->name = "charset";
	(*pp)->value = "us-ascii";
	(*pp)->vlen = 8;
	return 0;
}

/*
 * Content-Type (RFC 2045 5): type "/" subtype *(";" parameter).  Absent
 * or invalid, it is text/plain (RFC 2045 5.2), or message/rfc822 when
 * absent in a digest (RFC 2046 5.1.5).
 */
static int
set_type(struct ctx *c, struct mime_part *part, const char *ct, int digest)
{
	struct mime_mem *m = c->t->mem;
	const char *s, *sub = NULL;
	size_t tl = 0, sl = 0;

	if (ct != NULL) {
		s = skip_cfws(ct, NULL, NULL);
		tl = token_len(s);
		sub = skip_cfws(s + tl, NULL, NULL);
		if (tl > 0 && *sub == '/') {
			sub = skip_cfws(sub + 1, NULL, NULL);
			sl = token_len(sub);
		}
	}
	if (sl > 0) {
		if ((part->type = mem_strndup(m, s, tl)) == NULL ||
		    (part->subtype = mem_strndup(m, sub, sl)) == NULL ||
		    param_list(m, sub + sl, &part->params) < 0)
			return -1;
	} else if (digest && ct == NULL) {
		part->type = "message";
		part->subtype = "rfc822";
	} else {
		part->type = "text";
		part->subtype = "plain";
	}
	return default_charset(m, part);
}

/* A multipart or message we will not look into is shown as text/plain. */
static int
as_text(struct ctx *c, struct mime_part *part)
{
	part->type = "text";
	part->subtype = "plain";
	part->params = NULL;
	part->flags &= ~(MIME_MULTIPART | MIME_MESSAGE);
	part->children = NULL;
	return default_charset(c->t->mem, part);
}

/* Decide what the part is from its fields; keep the rest for output. */
static int
set_fields(struct ctx *c, struct mime_part *part, char **slot, int digest)
{
	struct mime_mem *m = c->t->mem;
	const char *b, *s;
	int room;
	size_t n;

	if (set_type(c, part, slot[F_CTYPE], digest) < 0)
		return -1;
	room = part->depth < MIME_MAX_DEPTH && c->t->nparts < MIME_MAX_PARTS;
	if (ascii_casecmp(part->type, "multipart") == 0) {
		b = mime_param_get(part->params, "boundary");
		if (!room || b == NULL || *b == '\0')
			return as_text(c, part);
		part->flags |= MIME_MULTIPART;
	} else if (ascii_casecmp(part->type, "message") == 0 &&
	    ascii_casecmp(part->subtype, "rfc822") == 0) {
		if (!room)
			return as_text(c, part);
		part->flags |= MIME_MESSAGE;
	}
	if (slot[F_CTE] != NULL) {
		s = skip_cfws(slot[F_CTE], NULL, NULL);
		if ((n = token_len(s)) > 0 &&
		    (part->enc = mem_strndup(m, s, n)) == NULL)
			return -1;
	}
	if (slot[F_CDISP] != NULL) {
		s = skip_cfws(slot[F_CDISP], NULL, NULL);
		if ((n = token_len(s)) > 0 &&
		    ((part->disp = mem_strndup(m, s, n)) == NULL ||
		    param_list(m, s + n, &part->disp_params) < 0))
			return -1;
	}
	part->id = slot[F_CID];
	part->desc = slot[F_CDESC];
	part->md5 = slot[F_CMD5];
	part->lang = slot[F_CLANG];
	part->loc = slot[F_CLOC];
	return 0;
}

static int parse_part(struct ctx *, struct mime_part *, int, int *);

/* The empty message inside an empty message/rfc822 part moves with it. */
static void
empty_below(struct mime_part *part)
{
	struct mime_part *p;

	for (p = part->children; p != NULL; p = p->children) {
		p->hdr = p->body = p->end = part->body;
		p->hdr_octets = p->octets = p->lines = 0;
	}
}

/*
 * The body of a multipart (RFC 2046 5.1.1): preamble, parts, close
 * delimiter, epilogue.  A missing close delimiter ends the last part at
 * the enclosing boundary or the end of the message.
 */
static int
parse_multipart(struct ctx *c, struct mime_part *mp, int *closing)
{
	struct mime_part *child, **tail = &mp->children;
	int me, lvl, digest;

	me = c->nbnd++;
	c->bnd[me] = mime_param_get(mp->params, "boundary");
	c->bndlen[me] = strlen(c->bnd[me]);
	digest = ascii_casecmp(mp->subtype, "digest") == 0;
	lvl = scan(c, closing);
	while (lvl == me && !*closing && !c->nomem) {
		rd_skip_line(&c->rd);
		/* past the limit the rest is left unparsed, like an epilogue */
		if (c->t->nparts >= MIME_MAX_PARTS)
			break;
		if ((child = new_part(c, mp)) == NULL)
			break;
		*tail = child;
		tail = &child->next;
		lvl = parse_part(c, child, digest, closing);
	}
	c->nbnd = me;
	if (lvl == me) {
		if (*closing)
			rd_skip_line(&c->rd);
		lvl = scan(c, closing);
	}
	return lvl;
}

static int
parse_message(struct ctx *c, struct mime_part *part, int *closing)
{
	struct mime_part *msg;

	if ((msg = new_part(c, part)) == NULL)
		return -1;
	msg->flags = MIME_ISMSG;
	part->children = msg;
	return parse_part(c, msg, 0, closing);
}

/*
 * Parse the part at the reader: its header, then its body up to the next
 * open boundary (left unread; its level is returned) or the end (-1).
 */
static int
parse_part(struct ctx *c, struct mime_part *part, int digest, int *closing)
{
	char *slot[F_N];
	struct rd *r = &c->rd;
	unsigned long hdr_nl, body_nl, end_nl;
	int lvl;

	memset(slot, 0, sizeof(slot));
	part->hdr = rd_off(r);
	hdr_nl = r->nl;
	read_header(c);
	part->body = rd_off(r);
	body_nl = r->nl;
	if (split_fields(c, part, slot) < 0 ||
	    set_fields(c, part, slot, digest) < 0) {
		c->nomem = 1;
		return -1;
	}
	if (part->flags & MIME_MULTIPART) {
		lvl = parse_multipart(c, part, closing);
		if (part->children == NULL && as_text(c, part) < 0)
			c->nomem = 1;
	} else if (part->flags & MIME_MESSAGE)
		lvl = parse_message(c, part, closing);
	else
		lvl = scan(c, closing);
	/*
	 * RFC 2046 5.1.1: the line break before a boundary belongs to it,
	 * so a part ends one byte before the boundary line; an empty one
	 * there loses that LF from its header, or moves back onto it.
	 */
	part->end = rd_off(r);
	end_nl = r->nl;
	if (lvl >= 0) {
		if (part->hdr == part->end) {
			part->hdr--;
			hdr_nl--;
		}
		if (part->body == part->end) {
			part->body--;
			body_nl--;
			empty_below(part);
		}
		part->end--;
		end_nl--;
	}
	part->lines = end_nl - body_nl;
	part->octets = part->end - part->body + part->lines;
	part->hdr_octets = part->body - part->hdr + (body_nl - hdr_nl);
	return lvl;
}

int
mime_parse(mime_read_fn *fn, void *arg, struct mime_tree **out)
{
	struct ctx c;
	struct mime_tree *t;
	int closing, rc;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return MIME_ERR_NOMEM;
	if ((t->mem = calloc(1, sizeof(*t->mem))) == NULL ||
	    (c.rd.win = malloc(MIME_WINDOW)) == NULL) {
		mime_free(t);
		return MIME_ERR_NOMEM;
	}
	c.t = t;
	c.rd.fn = fn;
	c.rd.arg = arg;
	c.rd.bol = 1;
	buf_init(&c.hdr, MIME_HDR_MAX);
	if ((t->root = new_part(&c, NULL)) != NULL) {
		t->root->flags = MIME_ISMSG;
		(void)parse_part(&c, t->root, 0, &closing);
	}
	rc = c.rd.err ? MIME_ERR_READ : c.nomem ? MIME_ERR_NOMEM : 0;
	free(c.rd.win);
	buf_free(&c.hdr);
	if (rc != 0) {
		mime_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

struct memsrc {
	const char	*p;
	size_t		len;
};

static long
mem_read(void *arg, unsigned long off, char *buf, size_t len)
{
	struct memsrc *m = arg;

	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = m->len - off;
	if (len > LONG_MAX)
		len = LONG_MAX;
	memcpy(buf, m->p + off, len);
	return (long)len;
}

int
mime_parse_mem(const char *p, size_t len, struct mime_tree **out)
{
	struct memsrc m;

	m.p = p;
	m.len = len;
	return mime_parse(mem_read, &m, out);
}

void
mime_free(struct mime_tree *t)
{
	if (t == NULL)
		return;
	mem_free(t->mem);
	free(t);
}

/* --- output: RFC 3501 strings, with errors gathered in one flag --- */

struct out {
	struct buf	*b;
	int		err;
};

/* RFC 3501 4.3 allows no more in a quoted string; beyond, a literal. */
#define QUOTED_MAX	1000

static void
o_raw(struct out *o, const char *s, size_t n)
{
	if (!o->err && buf_append(o->b, s, n) < 0)
		o->err = 1;
}

static void
o_puts(struct out *o, const char *s)
{
	o_raw(o, s, strlen(s));
}

/*
 * A string: quoted when every byte is a TEXT-CHAR (RFC 3501 9: 7-bit,
 * no NUL, CR or LF), else a literal, which carries 8-bit text as is.
 */
static void
o_str(struct out *o, const char *s, size_t n)
{
	size_t i, run;
	char num[32];

	for (i = 0; i < n && n <= QUOTED_MAX; i++)
		if (s[i] == '\0' || (unsigned char)s[i] > 0x7f ||
		    s[i] == '\r' || s[i] == '\n')
			break;
	if (i < n) {
		sprintf(num, "{%lu}\r\n", (unsigned long)n);
		o_puts(o, num);
		o_raw(o, s, n);
		return;
	}
	o_raw(o, "\"", 1);
	for (i = 0; i < n; i += run) {
		for (run = 0; i + run < n && s[i + run] != '"' &&
		    s[i + run] != '\\'; run++)
			;
		o_raw(o, s + i, run);
		if (i + run < n) {
			o_raw(o, "\\", 1);
			o_raw(o, s + i + run, 1);
			run++;
		}
	}
	o_raw(o, "\"", 1);
}

static void
o_nstr(struct out *o, const char *s)
{
	if (s == NULL)
		o_puts(o, "NIL");
	else
		o_str(o, s, strlen(s));
}

/* --- addresses (RFC 5322 3.4 and 4.4, leniently) --- */

enum { T_END, T_WORD, T_QUOTED, T_DLIT, T_SPECIAL };

struct tok {
	int		kind;
	int		c;		/* T_SPECIAL: which */
	const char	*s;		/* the text; T_QUOTED: inside quotes */
	size_t		n;
	int		ws;		/* space or a comment came before */
	const char	*cmt;		/* the last comment before it */
	size_t		clen;
};

static const char *
next_tok(const char *s, struct tok *t)
{
	const char *q;

	t->cmt = NULL;
	q = skip_cfws(s, &t->cmt, &t->clen);
	t->ws = q != s;
	s = q;
	t->s = s;
	if (*s == '\0')
		t->kind = T_END;
	else if (*s == '"') {
		for (q = s + 1; *q != '\0' && *q != '"'; q++)
			if (*q == '\\' && q[1] != '\0')
				q++;
		t->kind = T_QUOTED;
		t->s = s + 1;
		t->n = (size_t)(q - s - 1);
		return *q == '"' ? q + 1 : q;
	} else if (*s == '[') {
		for (q = s + 1; *q != '\0' && *q != ']'; q++)
			;
		t->kind = T_DLIT;
		q = *q == ']' ? q + 1 : q;
		t->n = (size_t)(q - s);
		return q;
	} else if (strchr("<>:;@,.", *s) != NULL) {
		t->kind = T_SPECIAL;
		t->c = *s;
		return s + 1;
	} else {
		for (q = s; *q != '\0' && !is_wsp((unsigned char)*q) &&
		    strchr("<>:;@,.\"[(", *q) == NULL; q++)
			;
		t->kind = T_WORD;
		t->n = (size_t)(q - s);
		return q;
	}
	return s;
}

/* Append a token's text (unescaped if quoted) at buf + *n. */
static void
tok_text(const struct tok *t, char *buf, size_t *n)
{
	size_t i;

	if (t->kind == T_SPECIAL) {
		buf[(*n)++] = (char)t->c;
		return;
	}
	for (i = 0; i < t->n; i++) {
		if (t->kind == T_QUOTED && t->s[i] == '\\' && i + 1 < t->n)
			i++;
		buf[(*n)++] = t->s[i];
	}
}

struct aparse {
	struct out	*o;
	const char	*s;		/* the rest of the field */
	struct tok	t;		/* the current token */
	char		*ph;		/* a phrase: words, single spaces */
	size_t		phn;
	char		*lp;		/* the same run together */
	size_t		lpn;
	char		*dom;		/* a domain, or a route */
	size_t		domn;
	char		*name;		/* the display name before '<' */
	char		*adl;		/* the route inside it */
	int		count;
};

#define ap_next(a)	((a)->s = next_tok((a)->s, &(a)->t))
#define ap_is(a, ch)	((a)->t.kind == T_SPECIAL && (a)->t.c == (ch))
#define ap_word(a)	((a)->t.kind == T_WORD || (a)->t.kind == T_QUOTED || \
			(a)->t.kind == T_DLIT || ap_is(a, '.'))

/* Words and dots: into ph with their spacing, into lp without. */
static void
ap_phrase(struct aparse *a)
{
	a->phn = a->lpn = 0;
	while (ap_word(a)) {
		if (a->t.ws && a->phn > 0)
			a->ph[a->phn++] = ' ';
		tok_text(&a->t, a->ph, &a->phn);
		tok_text(&a->t, a->lp, &a->lpn);
		ap_next(a);
	}
}

/* A domain after '@', appended to dom (obs-domain may have CFWS). */
static void
ap_domain(struct aparse *a)
{
	while (ap_word(a)) {
		tok_text(&a->t, a->dom, &a->domn);
		ap_next(a);
	}
}

/* An address member: s NULL is NIL, empty is the stand-in (or NIL). */
static void
o_member(struct out *o, const char *sep, const char *s, size_t n,
    const char *stand_in)
{
	o_puts(o, sep);
	if (s != NULL && n > 0)
		o_str(o, s, n);
	else if (s != NULL && stand_in != NULL)
		o_puts(o, stand_in);
	else
		o_puts(o, "NIL");
}

/* One (name adl mailbox host) of an address list. */
static void
put_addr(struct aparse *a, const char *name, size_t nn, const char *adl,
    size_t an, const char *mbox, size_t mn, const char *host, size_t hn)
{
	o_puts(a->o, a->count++ == 0 ? "(" : "");
	o_member(a->o, "(", name, nn, NULL);
	o_member(a->o, " ", adl, an, NULL);
	/* a group's name may be empty; a mailbox must not be */
	o_member(a->o, " ", mbox, mn, host != NULL ? "\"MISSING_MAILBOX\"" :
	    "\"\"");
	o_member(a->o, " ", host, hn, "\"MISSING_DOMAIN\"");
	o_puts(a->o, ")");
}

/*
 * <[route] addr-spec>, on the token after '<' (RFC 5322 3.4, obs-route
 * of 4.4 kept as the adl); the display name is in a->name.  Anything
 * unexpected is skipped up to the '>'.
 */
static void
ap_angle(struct aparse *a, size_t namen)
{
	size_t adln = 0;

	a->domn = 0;
	if (ap_is(a, '@')) {
		while (ap_is(a, '@') || ap_is(a, ',')) {
			a->dom[a->domn++] = (char)a->t.c;
			ap_next(a);
			ap_domain(a);
		}
		if (ap_is(a, ':')) {
			ap_next(a);
			adln = a->domn;
			memcpy(a->adl, a->dom, adln);
		}
	}
	ap_phrase(a);
	a->domn = 0;
	if (ap_is(a, '@')) {
		ap_next(a);
		ap_domain(a);
	}
	while (a->t.kind != T_END && !ap_is(a, '>'))
		ap_next(a);
	if (ap_is(a, '>'))
		ap_next(a);
	/* <> is no address (a null return path copied into a header) */
	if (a->lpn > 0 || a->domn > 0)
		put_addr(a, a->name, namen, a->adl, adln, a->lp, a->lpn,
		    a->dom, a->domn);
}

/* One element of an address list, from the current token. */
static void
ap_one(struct aparse *a, int *in_group)
{
	size_t namen;

	ap_phrase(a);
	if (ap_is(a, ':') && !*in_group) {
		/* RFC 3501 7.4.2: a group is (NIL NIL name NIL) ... */
		put_addr(a, NULL, 0, NULL, 0, a->ph, a->phn, NULL, 0);
		*in_group = 1;
		ap_next(a);
	} else if (ap_is(a, '<')) {
		memcpy(a->name, a->ph, a->phn);
		namen = a->phn;
		ap_next(a);
		ap_angle(a, namen);
	} else if (ap_is(a, '@')) {
		ap_next(a);
		a->domn = 0;
		ap_domain(a);
		/* RFC 822 style "a@b (Name)": the comment names the mailbox */
		put_addr(a, a->t.cmt, a->t.cmt != NULL ? a->t.clen : 0, NULL, 0,
		    a->lp, a->lpn, a->dom, a->domn);
	} else {
		/* "From: root": a local name with no domain */
		if (a->lpn > 0)
			put_addr(a, NULL, 0, NULL, 0, a->lp, a->lpn, "", 0);
		/* junk such as a stray '>' or a group inside a group */
		if (!ap_is(a, ',') && !ap_is(a, ';') && a->t.kind != T_END)
			ap_next(a);
	}
}

/* An address list: "(" addresses ")", or NIL if none.  How many. */
static int
put_addrs(struct out *o, const char *v)
{
	struct aparse a;
	size_t n;
	int in_group = 0;
	char *mem;

	if (v == NULL) {
		o_puts(o, "NIL");
		return 0;
	}
	/* no scratch text is ever longer than the field */
	n = strlen(v) + 2;
	if ((mem = malloc(5 * n)) == NULL) {
		o->err = 1;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.o = o;
	a.s = v;
	a.ph = mem;
	a.lp = mem + n;
	a.dom = mem + 2 * n;
	a.name = mem + 3 * n;
	a.adl = mem + 4 * n;
	ap_next(&a);
	while (a.t.kind != T_END) {
		if (ap_is(&a, ';') && in_group) {
			/* ... and ends with (NIL NIL NIL NIL) */
			put_addr(&a, NULL, 0, NULL, 0, NULL, 0, NULL, 0);
			in_group = 0;
		}
		if (ap_is(&a, ',') || ap_is(&a, ';'))
			ap_next(&a);
		else
			ap_one(&a, &in_group);
	}
	if (in_group)
		put_addr(&a, NULL, 0, NULL, 0, NULL, 0, NULL, 0);
	free(mem);
	o_puts(o, a.count > 0 ? ")" : "NIL");
	return a.count;
}

int
mime_envelope(struct buf *b, const struct mime_part *msg)
{
	struct out o;
	size_t mark;
	int i;

	o.b = b;
	o.err = 0;
	o_puts(&o, "(");
	o_nstr(&o, msg->env[MIME_ENV_DATE]);
	o_puts(&o, " ");
	o_nstr(&o, msg->env[MIME_ENV_SUBJECT]);
	for (i = MIME_ENV_FROM; i <= MIME_ENV_BCC; i++) {
		o_puts(&o, " ");
		mark = b->len;
		if (put_addrs(&o, msg->env[i]) == 0 && !o.err &&
		    (i == MIME_ENV_SENDER || i == MIME_ENV_REPLY_TO)) {
			/* RFC 3501 7.4.2: absent or empty, they are From */
			b->len = mark;
			(void)put_addrs(&o, msg->env[MIME_ENV_FROM]);
		}
	}
	o_puts(&o, " ");
	o_nstr(&o, msg->env[MIME_ENV_IN_REPLY_TO]);
	o_puts(&o, " ");
	o_nstr(&o, msg->env[MIME_ENV_MESSAGE_ID]);
	o_puts(&o, ")");
	return o.err ? -1 : 0;
}

/* --- BODY and BODYSTRUCTURE (RFC 3501 7.4.2 and the body grammar) --- */

/* RFC 2231 7 attribute-char: what an extended value may hold as is. */
static int
attr_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* An extended parameter sent as found: "name*" "cs'lang'%XX...". */
static void
put_ext_param(struct out *o, const struct mime_param *p)
{
	struct buf t;
	struct out to;
	size_t i;
	char hex[4];

	buf_init(&t, 0);
	to.b = &t;
	to.err = 0;
	o_puts(&to, p->name);
	o_puts(&to, "*");
	if (!to.err)
		o_str(o, t.data, t.len);
	buf_reset(&t);
	o_puts(&to, p->charset);
	o_puts(&to, "'");
	o_puts(&to, p->lang);
	o_puts(&to, "'");
	for (i = 0; i < p->vlen; i++) {
		if (attr_char((unsigned char)p->value[i]))
			o_raw(&to, p->value + i, 1);
		else {
			sprintf(hex, "%%%02X", (unsigned char)p->value[i]);
			o_puts(&to, hex);
		}
	}
	o_puts(o, " ");
	if (!to.err)
		o_str(o, t.data, t.len);
	o->err |= to.err;
	buf_free(&t);
}

/* body-fld-param: ("name" "value" ...) or NIL. */
static void
put_params(struct out *o, const struct mime_param *p)
{
	if (p == NULL) {
		o_puts(o, "NIL");
		return;
	}
	o_puts(o, "(");
	for (; p != NULL; p = p->next) {
		if (p->charset != NULL)
			put_ext_param(o, p);
		else {
			o_nstr(o, p->name);
			o_puts(o, " ");
			o_str(o, p->value, p->vlen);
		}
		if (p->next != NULL)
			o_puts(o, " ");
	}
	o_puts(o, ")");
}

/* body-fld-lang as a list: Content-Language is one (RFC 3282). */
static void
put_lang(struct out *o, const char *s)
{
	size_t n;
	int count = 0;

	while (s != NULL && *s != '\0') {
		s = skip_cfws(s, NULL, NULL);
		if ((n = token_len(s)) > 0) {
			o_puts(o, count++ == 0 ? "(" : " ");
			o_str(o, s, n);
			s += n;
		} else if (*s != '\0')
			s++;		/* a comma, or junk */
	}
	o_puts(o, count > 0 ? ")" : "NIL");
}

/* The extension data both kinds of part end with. */
static void
put_ext_tail(struct out *o, const struct mime_part *p)
{
	o_puts(o, " ");
	if (p->disp != NULL) {
		o_puts(o, "(");
		o_nstr(o, p->disp);
		o_puts(o, " ");
		put_params(o, p->disp_params);
		o_puts(o, ")");
	} else
		o_puts(o, "NIL");
	o_puts(o, " ");
	put_lang(o, p->lang);
	o_puts(o, " ");
	o_nstr(o, p->loc);
}

static void put_body(struct out *, const struct mime_part *, int);

/* body-type-1part: the depth of the tree bounds the recursion. */
static void
put_single(struct out *o, const struct mime_part *p, int ext)
{
	char num[64];

	o_nstr(o, p->type);
	o_puts(o, " ");
	o_nstr(o, p->subtype);
	o_puts(o, " ");
	put_params(o, p->params);
	o_puts(o, " ");
	o_nstr(o, p->id);
	o_puts(o, " ");
	o_nstr(o, p->desc);
	o_puts(o, " ");
	o_nstr(o, p->enc != NULL ? p->enc : "7bit");	/* RFC 2045 6.1 */
	sprintf(num, " %lu", p->octets);
	o_puts(o, num);
	if (p->flags & MIME_MESSAGE) {
		o_puts(o, " ");
		if (!o->err && mime_envelope(o->b, p->children) < 0)
			o->err = 1;
		o_puts(o, " ");
		put_body(o, p->children, ext);
	}
	if ((p->flags & MIME_MESSAGE) || ascii_casecmp(p->type, "text") == 0) {
		sprintf(num, " %lu", p->lines);
		o_puts(o, num);
	}
	if (ext) {
		o_puts(o, " ");
		o_nstr(o, p->md5);
		put_ext_tail(o, p);
	}
}

static void
put_body(struct out *o, const struct mime_part *p, int ext)
{
	const struct mime_part *c;

	o_puts(o, "(");
	if (p->flags & MIME_MULTIPART) {
		for (c = p->children; c != NULL; c = c->next)
			put_body(o, c, ext);
		o_puts(o, " ");
		o_nstr(o, p->subtype);
		if (ext) {
			o_puts(o, " ");
			put_params(o, p->params);
			put_ext_tail(o, p);
		}
	} else
		put_single(o, p, ext);
	o_puts(o, ")");
}

int
mime_bodystructure(struct buf *b, const struct mime_part *part, int extended)
{
	struct out o;

	o.b = b;
	o.err = 0;
	put_body(&o, part, extended);
	return o.err ? -1 : 0;
}

/* --- sections (RFC 3501 6.4.5) --- */

/*
 * Part n in the numbering of p.  A message (top says p is one) that is
 * not multipart has one part, its body; a message/rfc822 part is
 * numbered as the message inside it.
 */
static const struct mime_part *
nth_part(const struct mime_part *p, unsigned long n, int top)
{
	if ((p->flags & MIME_MESSAGE) && !top) {
		p = p->children;
		top = 1;
	}
	if (p->flags & MIME_MULTIPART) {
		for (p = p->children; p != NULL && --n > 0; p = p->next)
			;
		return p;
	}
	return top && n == 1 ? p : NULL;
}

/*
 * Walk down the numbers at the start of *s ("1.2.MIME"), leaving *s on
 * what follows them (".MIME", or "").
 */
static const struct mime_part *
walk(const struct mime_part *root, const char **s)
{
	const struct mime_part *p = root;
	unsigned long n;
	size_t len;
	int top = 1;

	while (**s >= '0' && **s <= '9') {
		for (len = 0; (*s)[len] >= '0' && (*s)[len] <= '9'; len++)
			;
		if (parse_ulong_n(*s, len, MIME_MAX_PARTS, &n) < 0 || n == 0 ||
		    (p = nth_part(p, n, top)) == NULL)
			return NULL;
		top = 0;
		*s += len;
		if ((*s)[0] != '.' || (*s)[1] < '0' || (*s)[1] > '9')
			break;
		(*s)++;
	}
	return p;
}

const struct mime_part *
mime_find_part(const struct mime_part *root, const char *section)
{
	const struct mime_part *p;

	if ((p = walk(root, &section)) == NULL || *section != '\0')
		return NULL;
	return p;
}

static void
range_hdr(struct mime_range *r, const struct mime_part *p)
{
	r->off = p->hdr;
	r->end = p->body;
	r->octets = p->hdr_octets;
	r->header = 1;
}

static void
range_body(struct mime_range *r, const struct mime_part *p)
{
	r->off = p->body;
	r->end = p->end;
	r->octets = p->octets;
	r->header = 0;
}

int
mime_section_range(const struct mime_part *root, const char *spec,
    struct mime_range *r)
{
	const struct mime_part *p, *msg;
	const char *s = spec;

	if ((p = walk(root, &s)) == NULL)
		return -1;
	if (s != spec) {
		if (*s == '\0') {
			range_body(r, p);
			return 0;
		}
		s++;				/* the '.' */
		if (ascii_casecmp(s, "MIME") == 0) {
			range_hdr(r, p);
			return 0;
		}
		/* HEADER and TEXT of a part: of the message inside it */
		if (!(p->flags & MIME_MESSAGE))
			return -1;
		msg = p->children;
	} else if (*s == '\0') {		/* BODY[]: all of it */
		r->off = root->hdr;
		r->end = root->end;
		r->octets = root->hdr_octets + root->octets;
		r->header = 0;
		return 0;
	} else
		msg = root;
	if (ascii_casecmp(s, "TEXT") == 0)
		range_body(r, msg);
	else if (ascii_casecmp(s, "HEADER") == 0 ||
	    ascii_casecmp(s, "HEADER.FIELDS") == 0 ||
	    ascii_casecmp(s, "HEADER.FIELDS.NOT") == 0)
		range_hdr(r, msg);
	else
		return -1;
	return 0;
}

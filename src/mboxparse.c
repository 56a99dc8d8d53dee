/*
 * mboxparse.c - the index of an mbox file (RFC 4155, DESIGN.md "Mail
 * store"), built incrementally from windows of any size.
 *
 * What it is for: finding where each message, its header and its body
 * begin and end, counting lines, and reading the metadata headers that
 * UW imapd, Dovecot, mutt, mailx and qpopper share.
 *
 * What it must never do: I/O of its own (only the caller's peek, to
 * check a Content-Length), copy or look twice at body bytes (a 500 MB
 * INBOX is read on every open: see bench/mboxscan.c), or trust a number
 * in the file without checking it.
 *
 * Rules, for the files other programs write:
 *   - a From_ line is a line that begins "From " at the start of the
 *     file, or right after a blank line and then holds a date (RFC 4155
 *     "From sender date"; "From here on" after a blank line, which
 *     mail.local does not quote, is body text, as for Dovecot, mutt
 *     and mailx);
 *   - a blank line is "\n" or "\r\n" (files that went through a CRLF
 *     system; the \r otherwise stays part of its line and is counted);
 *   - the blank line before a From_ line separates messages and belongs
 *     to neither; at the end of the file a final blank line is that
 *     separator too;
 *   - if the blank line that ends a header is itself followed by a From_
 *     line, it was the separator: the message has no body and its header
 *     no blank line (body == end);
 *   - Content-Length: is honoured only where it lands on the end of the
 *     file, a blank line and the end of the file, a blank line and
 *     "From ", or "From " at the start of a line (Solaris mail.local
 *     does not quote "From " lines; Dovecot reads them the same way);
 *   - of each metadata header the first one counts; all of them (and
 *     their continuation lines) are counted in meta_bytes/meta_lines;
 *   - a struct mbox_field's len is the bytes of the field's line and its
 *     continuation lines: Dovecot's and UW's padding spaces are at the
 *     end of the line, so they are inside it.
 */
#include "yubin.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mboxparse.h"
#include "util.h"

/*
 * A header or From_ line split between two windows is kept up to this
 * many bytes; the rest of a longer line is counted but not kept.  No
 * metadata header we read needs more (keywords are cut at 255 bytes
 * anyway), and a longer From_ line is damage (its date reads as 0).
 */
#define MBOXP_LINE_MAX	8192

/* IMAP UIDs and UIDVALIDITY are 32-bit (RFC 3501 2.3.1.1). */
#define UID_MAX		4294967295UL

/* X-UIDL: RFC 1939 7 allows 70 characters 0x21-0x7E. */
#define UIDL_MAX	70

#define UW_PSEUDO_SUBJECT "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"

enum pstate {
	PS_START,	/* checking that the file begins "From " */
	PS_FROM,	/* in a From_ line */
	PS_HDR,		/* in the header */
	PS_BODY,	/* in a body, looking for blank lines and From_ */
	PS_CAND,	/* in a body line after a blank line that begins
			 * "From ": a From_ line if it holds a date */
	PS_SKIP,	/* in a body whose Content-Length we trust */
	PS_DONE,	/* end of file seen */
	PS_FAIL		/* not an mbox, or msg() failed */
};

enum fkind {
	FK_OTHER, FK_STATUS, FK_XSTATUS, FK_XKEYWORDS, FK_XUID, FK_XIMAP,
	FK_XIMAPBASE, FK_CLEN, FK_XUIDL, FK_SUBJECT
};

static const struct fname {
	const char	*name;
	size_t		len;
	enum fkind	kind;
} fnames[] = {
	{ "status", 6, FK_STATUS },
	{ "subject", 7, FK_SUBJECT },
	{ "content-length", 14, FK_CLEN },
	{ "x-status", 8, FK_XSTATUS },
	{ "x-keywords", 10, FK_XKEYWORDS },
	{ "x-uid", 5, FK_XUID },
	{ "x-imap", 6, FK_XIMAP },
	{ "x-imapbase", 10, FK_XIMAPBASE },
	{ "x-uidl", 6, FK_XUIDL }
};

/* Line state in a body: bytes of the line start seen (0-4), or MID. */
#define LH_MID		(-1)

struct mboxp {
	off_t		filesize;
	mboxp_peek_fn	*peek;
	mboxp_msg_fn	*msg;
	void		*arg;
	enum pstate	state;
	off_t		pos;		/* offset of the next byte fed */
	off_t		start;		/* where parsing began */
	const char	*cbuf;		/* the window being fed ... */
	off_t		coff;		/* ... and its offset */
	struct mbox_msg	m;		/* the message being read */

	/* From_ line, or a header line split between windows */
	char		line[MBOXP_LINE_MAX];
	size_t		nline;		/* bytes kept */
	unsigned long	tline;		/* bytes in all */
	off_t		lineoff;	/* where it starts */

	/* header */
	enum fkind	cur;		/* the field the last line is part of */
	struct mbox_field *curf;	/* its position, if we record it */
	int		curfirst;	/* it is the first of its kind */
	unsigned	seen;		/* 1 << kind of the fields met */
	int		ximap;		/* X-IMAP: met */
	int		uwsubject;	/* UW's pseudo-message Subject: met */
	int		has_clen;
	unsigned long	clen;

	/* body */
	int		lhead;		/* line start bytes seen, or LH_MID */
	char		lbuf[5];
	int		blank;		/* the last complete line was blank */
	off_t		blank_start;	/* where that blank line starts */
	unsigned long	blank_nl;	/* LFs in the body before it */
	unsigned long	nl;		/* LFs in the body so far */
	off_t		skip;		/* PS_SKIP: body bytes left */
	off_t		cand;		/* PS_CAND: where the line starts */
	int		lastc;		/* the last byte fed */
};

#define OFF(p, s)	((p)->coff + (off_t)((s) - (p)->cbuf))

static int
is_kwsep(int c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n';
}

struct mboxp *
mboxp_new(off_t filesize, mboxp_peek_fn *peek, mboxp_msg_fn *msg, void *arg)
{
	struct mboxp *p;

	if ((p = malloc(sizeof(*p))) == NULL)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->filesize = filesize;
	p->peek = peek;
	p->msg = msg;
	p->arg = arg;
	p->state = PS_START;
	p->pos = 0;
	return p;
}

void
mboxp_start_at(struct mboxp *p, off_t off)
{
	/* A message boundary is parsed like the start of a file. */
	p->pos = p->start = off;
}

void
mboxp_free(struct mboxp *p)
{
	free(p);
}

/* Keep what fits of a line that a window boundary splits. */
static void
line_add(struct mboxp *p, const char *s, size_t n)
{
	size_t room = sizeof(p->line) - p->nline;

	memcpy(p->line + p->nline, s, n < room ? n : room);
	p->nline += n < room ? n : room;
	p->tline += (unsigned long)n;
}

/* A From_ line begins at off; its "From " is already read. */
static void
msg_begin(struct mboxp *p, off_t off)
{
	memset(&p->m, 0, sizeof(p->m));
	p->m.from = off;
	p->m.status.off = p->m.xstatus.off = p->m.xkeywords.off = -1;
	p->m.xuid.off = p->m.ximapbase.off = -1;
	memcpy(p->line, "From ", 5);
	p->nline = 5;
	p->tline = 5;
	p->lineoff = off;
	p->cur = FK_OTHER;
	p->curf = NULL;
	p->curfirst = 0;
	p->seen = 0;
	p->ximap = p->uwsubject = p->has_clen = 0;
	p->clen = 0;
	p->nl = 0;
	p->state = PS_FROM;
}

/* The message ends at end with body_lines LFs in its body: report it. */
static int
msg_end(struct mboxp *p, off_t end, unsigned long body_lines)
{
	struct mbox_msg *m = &p->m;

	m->end = end;
	m->body_lines = body_lines;
	m->pseudo = p->ximap && p->uwsubject;
	if (m->end < m->body) {
		/* The blank line ending the header was the separator. */
		m->body = m->end;
		m->hdr_lines--;
	}
	if (p->msg(p->arg, m) != 0) {
		p->state = PS_FAIL;
		return -1;
	}
	return 0;
}

/* Words of X-Keywords into m->keywords, space-separated; a list too
 * long is cut at a word boundary.  trunc: the value was cut short, so
 * its last word may be partial and is dropped. */
static void
kw_add(struct mbox_msg *m, const char *v, size_t n, int trunc)
{
	size_t i, j, have;

	if (m->keywords_cut)
		return;
	if (trunc)
		while (n > 0 && !is_kwsep((unsigned char)v[n - 1]))
			n--;
	have = strlen(m->keywords);
	for (i = 0; i < n; i = j) {
		while (i < n && is_kwsep((unsigned char)v[i]))
			i++;
		if (i == n)
			break;
		for (j = i; j < n && !is_kwsep((unsigned char)v[j]); j++)
			;
		if (have + (have > 0) + (j - i) >= sizeof(m->keywords)) {
			m->keywords_cut = 1;
			return;
		}
		if (have > 0)
			m->keywords[have++] = ' ';
		memcpy(m->keywords + have, v + i, j - i);
		have += j - i;
		m->keywords[have] = '\0';
	}
	if (trunc)
		m->keywords_cut = 1;
}

/* Up to two numbers of X-IMAP/X-IMAPbase; a bad one reads as 0. */
static void
base_parse(struct mbox_msg *m, const char *v, size_t n)
{
	unsigned long *dst[2];
	size_t i, j;
	int k;

	dst[0] = &m->uidvalidity;
	dst[1] = &m->uidnext;
	for (i = 0, k = 0; k < 2; k++, i = j) {
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		for (j = i; j < n && v[j] != ' ' && v[j] != '\t'; j++)
			;
		if (parse_ulong_n(v + i, j - i, UID_MAX, dst[k]) < 0)
			*dst[k] = 0;
	}
	/* UW imapd and Dovecot keep the last UID given out: the next one
	 * is above it.  (An absent or bad number stays 0: unknown.) */
	if (m->uidnext > 0 && m->uidnext < UID_MAX)
		m->uidnext++;
}

/* The value of the first field of its kind, trimmed. */
static void
field_value(struct mboxp *p, enum fkind kind, const char *v, size_t n,
    int trunc)
{
	struct mbox_msg *m = &p->m;
	unsigned long u;
	size_t i;

	switch (kind) {
	case FK_STATUS:
		for (i = 0; i < n; i++)
			m->flags |= v[i] == 'R' ? MF_SEEN :
			    v[i] == 'O' ? MF_OLD : 0;
		break;
	case FK_XSTATUS:
		for (i = 0; i < n; i++)
			m->flags |= v[i] == 'A' ? MF_ANSWERED :
			    v[i] == 'F' ? MF_FLAGGED : v[i] == 'T' ? MF_DRAFT :
			    v[i] == 'D' ? MF_DELETED : 0;
		break;
	case FK_XKEYWORDS:
		kw_add(m, v, n, trunc);
		break;
	case FK_XUID:
		if (!trunc && parse_ulong_n(v, n, UID_MAX, &u) == 0)
			m->uid = u;
		break;
	case FK_XIMAP:
	case FK_XIMAPBASE:
		base_parse(m, v, n);
		break;
	case FK_CLEN:
		/* LONG_MAX: so that it converts to off_t unharmed */
		if (!trunc && parse_ulong_n(v, n, LONG_MAX, &u) == 0) {
			p->has_clen = 1;
			p->clen = u;
		}
		break;
	case FK_XUIDL:
		if (trunc || n == 0 || n > UIDL_MAX)
			break;
		for (i = 0; i < n; i++)
			if (v[i] < 0x21 || v[i] > 0x7e)
				return;
		memcpy(m->uidl, v, n);
		m->uidl[n] = '\0';
		break;
	case FK_SUBJECT:
		p->uwsubject = n == sizeof(UW_PSEUDO_SUBJECT) - 1 &&
		    memcmp(v, UW_PSEUDO_SUBJECT, n) == 0;
		break;
	default:
		break;
	}
}

/* Which field a header line begins; *vstart: the byte after the colon. */
static enum fkind
field_kind(const char *l, size_t n, size_t *vstart)
{
	const char *c;
	size_t i, len;

	/* Cheap test first: every name we know starts with s, c or x. */
	switch (l[0]) {
	case 's': case 'S': case 'c': case 'C': case 'x': case 'X':
		break;
	default:
		return FK_OTHER;
	}
	if ((c = memchr(l, ':', n < 16 ? n : 16)) == NULL)
		return FK_OTHER;
	*vstart = (size_t)(c - l) + 1;
	/* "Status :" (obsolete white space before the colon, RFC 5322
	 * 4.5) is ours too: msg_header_is_ours() hides such lines */
	for (len = (size_t)(c - l); len > 0 &&
	    (l[len - 1] == ' ' || l[len - 1] == '\t'); len--)
		;
	for (i = 0; i < NELEM(fnames); i++)
		if (fnames[i].len == len &&
		    ascii_ncasecmp(l, fnames[i].name, len) == 0)
			return fnames[i].kind;
	return FK_OTHER;
}

static struct mbox_field *
field_slot(struct mbox_msg *m, enum fkind kind)
{
	switch (kind) {
	case FK_STATUS:
		return &m->status;
	case FK_XSTATUS:
		return &m->xstatus;
	case FK_XKEYWORDS:
		return &m->xkeywords;
	case FK_XUID:
		return &m->xuid;
	case FK_XIMAP:		/* UW's equivalent: rewritten the same way */
	case FK_XIMAPBASE:
		return &m->ximapbase;
	default:
		return NULL;
	}
}

/*
 * One header line (not the blank one): l has n bytes kept of tlen in
 * all (n < tlen: cut), eol: it ends with LF (only the last line of a
 * damaged file does not).
 */
static void
hdr_line(struct mboxp *p, const char *l, size_t n, unsigned long tlen,
    off_t off, int eol)
{
	struct mbox_msg *m = &p->m;
	enum fkind kind;
	unsigned bit;
	size_t v = 0, e;

	if (n == 0)
		return;
	if (l[0] != ' ' && l[0] != '\t') {
		kind = field_kind(l, n, &v);
		bit = 1U << kind;
		/* X-IMAP and X-IMAPbase say the same thing: the first wins */
		if (kind == FK_XIMAP || kind == FK_XIMAPBASE)
			bit = 1U << FK_XIMAPBASE;
		p->cur = kind;
		p->curfirst = kind != FK_OTHER && (p->seen & bit) == 0;
		p->seen |= bit;
		p->curf = p->curfirst ? field_slot(m, kind) : NULL;
		if (p->curf != NULL) {
			p->curf->off = off;
			p->curf->len = 0;
		}
		if (kind == FK_XIMAP)
			p->ximap = 1;
	} else if (p->cur != FK_XKEYWORDS || !p->curfirst)
		v = n;		/* a continuation: only keywords go on */
	if (p->cur != FK_OTHER && p->cur != FK_SUBJECT) {
		m->meta_bytes += tlen;
		m->meta_lines += eol ? 1 : 0;
	}
	if (p->curf != NULL)
		p->curf->len += tlen;
	if (!p->curfirst || v >= n)
		return;
	/* the value, without the leading blanks and the line end */
	e = n;
	while (v < e && (l[v] == ' ' || l[v] == '\t'))
		v++;
	while (e > v && (l[e - 1] == '\n' || l[e - 1] == '\r' ||
	    l[e - 1] == ' ' || l[e - 1] == '\t'))
		e--;
	field_value(p, p->cur, l + v, e - v, (unsigned long)n < tlen);
}

/* Does Content-Length: land where a message may end?  (DESIGN.md) */
static int
clen_ok(struct mboxp *p)
{
	off_t at = p->m.body + (off_t)p->clen;
	char b[7];
	long r;

	if (p->m.body > p->filesize ||
	    (off_t)p->clen > p->filesize - p->m.body)
		return 0;
	if (at == p->filesize)
		return 1;
	/* one byte before, to see "From " is at the start of a line */
	if ((r = p->peek(p->arg, at - 1, b, sizeof(b))) < 2)
		return 0;
	if (b[1] == '\n' && at + 1 == p->filesize)
		return 1;
	if (r >= 7 && b[1] == '\n' && memcmp(b + 2, "From ", 5) == 0)
		return 1;
	return r >= 6 && b[0] == '\n' && memcmp(b + 1, "From ", 5) == 0;
}

/* Body scanning starts at off as if just after a blank line there. */
static void
body_begin(struct mboxp *p, off_t blank_at)
{
	p->state = PS_BODY;
	p->lhead = 0;
	p->blank = 1;
	p->blank_start = blank_at;
	p->blank_nl = p->nl;
}

/* The blank line at off, tlen bytes, ends the header. */
static void
hdr_end(struct mboxp *p, off_t off, unsigned long tlen)
{
	p->m.hdr_lines++;
	p->m.body = off + (off_t)tlen;
	p->nl = 0;
	body_begin(p, off);
	if (p->has_clen && clen_ok(p)) {
		/* Everything up to body + N is text, "From " lines too;
		 * what follows is treated as the separator. */
		p->skip = (off_t)p->clen;
		p->state = PS_SKIP;
		if (p->skip == 0)
			body_begin(p, p->m.body);
	}
}

/* A complete header line (with its LF) at off. */
static void
hdr_complete(struct mboxp *p, const char *l, size_t n, unsigned long tlen,
    off_t off)
{
	if (tlen == 1 || (tlen == 2 && l[0] == '\r'))
		hdr_end(p, off, tlen);
	else {
		p->m.hdr_lines++;
		hdr_line(p, l, n, tlen, off, 1);
	}
}

static const char *
scan_start(struct mboxp *p, const char *s, const char *e)
{
	/* p->nline counts the bytes of "From " matched so far */
	while (s < e && p->nline < 5) {
		if (*s != "From "[p->nline]) {
			p->state = PS_FAIL;
			return e;
		}
		p->nline++;
		s++;
	}
	if (p->nline == 5)
		msg_begin(p, p->start);
	return s;
}

/* The From_ line in p->line ends with the LF at q: the header next. */
static const char *
from_done(struct mboxp *p, const char *q)
{
	if (p->tline == p->nline)
		p->m.date = mbox_from_date(p->line, p->nline);
	p->m.hdr = OFF(p, q + 1);
	p->nline = 0;
	p->tline = 0;
	p->state = PS_HDR;
	return q + 1;
}

static const char *
scan_from(struct mboxp *p, const char *s, const char *e)
{
	const char *q;

	q = memchr(s, '\n', (size_t)(e - s));
	line_add(p, s, (size_t)((q != NULL ? q + 1 : e) - s));
	if (q == NULL)
		return e;
	return from_done(p, q);
}

static const char *
scan_hdr(struct mboxp *p, const char *s, const char *e)
{
	const char *q;

	while (s < e && p->state == PS_HDR) {
		q = memchr(s, '\n', (size_t)(e - s));
		if (q == NULL) {
			if (p->tline == 0)
				p->lineoff = OFF(p, s);
			line_add(p, s, (size_t)(e - s));
			return e;
		}
		q++;
		/* A line in one piece is read in place, but only as much
		 * of it as a split one would be: the same file must give
		 * the same index whatever the windows. */
		if (p->tline == 0)
			hdr_complete(p, s, (size_t)(q - s) < sizeof(p->line) ?
			    (size_t)(q - s) : sizeof(p->line),
			    (unsigned long)(q - s), OFF(p, s));
		else {
			line_add(p, s, (size_t)(q - s));
			hdr_complete(p, p->line, p->nline, p->tline,
			    p->lineoff);
		}
		p->nline = 0;
		p->tline = 0;
		s = q;
	}
	return s;
}

static const char *
scan_skip(struct mboxp *p, const char *s, const char *e)
{
	size_t n = (size_t)(e - s);

	if ((off_t)n > p->skip)
		n = (size_t)p->skip;
	p->nl += count_lf(s, n);
	p->skip -= (off_t)n;
	s += n;
	if (p->skip == 0)
		body_begin(p, OFF(p, s));
	return s;
}

/*
 * The hot loop of a body: s is inside a line that is not blank.  Skip
 * whole lines with memchr; after a line that is not blank, the next one
 * matters only if it is blank itself, so only its first byte is read.
 * Returns where a line start needs a closer look, or e.
 */
static const char *
skip_lines(struct mboxp *p, const char *s, const char *e)
{
	const char *q;
	unsigned long nl = p->nl;

	for (;;) {
		if ((q = memchr(s, '\n', (size_t)(e - s))) == NULL) {
			p->nl = nl;
			return e;		/* still mid-line */
		}
		nl++;
		s = q + 1;
		if (s == e || *s == '\n' || *s == '\r')
			break;
		s++;
	}
	p->nl = nl;
	p->blank = 0;
	p->lhead = 0;
	return s;
}

/*
 * The body: every line is skipped with memchr except its first bytes,
 * looked at only when they may make a blank line ("\n", "\r\n") or,
 * after a blank line, a From_ line.  Those first bytes are kept in
 * lbuf, so a window may end anywhere.
 */
static const char *
scan_body(struct mboxp *p, const char *s, const char *e)
{
	int c;

	while (s < e) {
		if (p->lhead == LH_MID) {
			s = skip_lines(p, s, e);
			continue;
		}
		c = (unsigned char)*s++;
		if (c == '\n') {
			if (p->lhead == 0 ||
			    (p->lhead == 1 && p->lbuf[0] == '\r')) {
				p->blank = 1;
				p->blank_start = OFF(p, s) - 1 - p->lhead;
				p->blank_nl = p->nl;
			} else
				p->blank = 0;
			p->nl++;
			p->lhead = 0;
			continue;
		}
		if (p->lhead == 0 && c != '\r' && (c != 'F' || !p->blank)) {
			p->lhead = LH_MID;
			continue;
		}
		p->lbuf[p->lhead++] = (char)c;
		if (p->lhead == 1 && c == '\r')
			continue;
		if (!p->blank ||
		    memcmp(p->lbuf, "From ", (size_t)p->lhead) != 0) {
			p->lhead = LH_MID;
			continue;
		}
		if (p->lhead == 5) {
			/* the rest of the line says whether it is one */
			p->cand = OFF(p, s) - 5;
			memcpy(p->line, "From ", 5);
			p->nline = p->tline = 5;
			p->state = PS_CAND;
			return s;
		}
	}
	return s;
}

/*
 * A line after a blank line that begins "From ": with a date it is a
 * From_ line and the next message begins (RFC 4155; Dovecot, mutt and
 * mailx want the date too); without one ("From here on, ...", as
 * mail.local leaves them unquoted) it is a line of the body.
 */
static const char *
scan_cand(struct mboxp *p, const char *s, const char *e)
{
	const char *q;

	q = memchr(s, '\n', (size_t)(e - s));
	line_add(p, s, (size_t)((q != NULL ? q + 1 : e) - s));
	if (q == NULL)
		return e;
	if (p->tline == p->nline && mbox_is_from_line(p->line, p->nline)) {
		size_t n = p->nline;

		if (msg_end(p, p->blank_start, p->blank_nl) < 0)
			return e;
		msg_begin(p, p->cand);	/* p->line is kept */
		p->nline = p->tline = n;
		return from_done(p, q);
	}
	p->nl++;
	p->blank = 0;
	p->lhead = 0;
	p->nline = p->tline = 0;
	p->state = PS_BODY;
	return q + 1;
}

/* End of file: the last message ends here. */
static int
finish(struct mboxp *p)
{
	off_t eof = p->pos;
	int hidden = 0;

	switch (p->state) {
	case PS_START:
		/* empty: no messages; a few bytes that are not "From ": no
		 * mbox */
		p->state = p->nline == 0 ? PS_DONE : PS_FAIL;
		return p->nline == 0 ? 0 : -1;
	case PS_FROM:
		if (p->tline == p->nline)
			p->m.date = mbox_from_date(p->line, p->nline);
		p->m.hdr = p->m.body = eof;
		break;
	case PS_HDR:
		if (p->tline > 0) {
			hdr_line(p, p->line, p->nline, p->tline,
			    p->lineoff, 0);
			/* a metadata line is not sent: nor is its end */
			hidden = p->cur != FK_OTHER && p->cur != FK_SUBJECT;
		}
		p->m.body = eof;
		break;
	case PS_BODY:
		/* a final blank line is the separator */
		if (p->lhead == 0 && p->blank) {
			eof = p->blank_start;
			p->nl = p->blank_nl;
		}
		break;
	case PS_CAND:
		break;	/* "From ..." at the end without its LF: body */
	case PS_SKIP:
		break;	/* the file is shorter than it was */
	default:
		return -1;
	}
	/* a last line without its LF: POP3 ends it with CRLF on the wire */
	p->m.nolf = eof == p->pos && eof > p->m.hdr && p->lastc != '\n' &&
	    !hidden;
	if (msg_end(p, eof, p->nl) < 0)
		return -1;
	p->state = PS_DONE;
	return 0;
}

long
mboxp_feed(struct mboxp *p, off_t off, const char *buf, size_t len)
{
	const char *s, *e;

	if (p->state == PS_FAIL || off != p->pos)
		return -1;
	if (len == 0)
		return finish(p) < 0 ? -1 : 0;
	if (p->state == PS_DONE)
		return -1;
	if (len > LONG_MAX)
		len = LONG_MAX;
	p->lastc = (unsigned char)buf[len - 1];
	p->cbuf = buf;
	p->coff = off;
	s = buf;
	e = buf + len;
	while (s < e && p->state != PS_FAIL) {
		switch (p->state) {
		case PS_START:
			s = scan_start(p, s, e);
			break;
		case PS_FROM:
			s = scan_from(p, s, e);
			break;
		case PS_HDR:
			s = scan_hdr(p, s, e);
			break;
		case PS_SKIP:
			s = scan_skip(p, s, e);
			break;
		case PS_BODY:
			s = scan_body(p, s, e);
			break;
		case PS_CAND:
			s = scan_cand(p, s, e);
			break;
		default:
			s = e;
			break;
		}
	}
	if (p->state == PS_FAIL)
		return -1;
	p->pos = off + (off_t)len;
	return (long)len;
}

/* --- the From_ line date --- */

struct tok {
	const char	*s;
	size_t		n;
};

/* Split at blanks, up to the line end, into at most max tokens. */
static int
date_tokens(const char *s, size_t len, struct tok *t, int max)
{
	size_t i = 0, j;
	int n = 0;

	while (n < max) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len || s[i] == '\r' || s[i] == '\n')
			break;
		for (j = i; j < len && s[j] != ' ' && s[j] != '\t' &&
		    s[j] != '\r' && s[j] != '\n'; j++)
			;
		t[n].s = s + i;
		t[n].n = j - i;
		n++;
		i = j;
	}
	return n;
}

/* Index of a three-letter name in list (case-insensitive), or -1. */
static int
name3(const struct tok *t, const char *list)
{
	int i;

	if (t->n != 3)
		return -1;
	for (i = 0; list[i * 3] != '\0'; i++)
		if (ascii_ncasecmp(t->s, list + i * 3, 3) == 0)
			return i;
	return -1;
}

/* A number of 1 to maxd digits at most max, or -1. */
static long
tok_num(const char *s, size_t n, size_t maxd, unsigned long max)
{
	unsigned long v;

	if (n == 0 || n > maxd || parse_ulong_n(s, n, max, &v) < 0)
		return -1;
	return (long)v;
}

/* "hh:mm" or "hh:mm:ss" into seconds of the day, or -1. */
static long
tok_time(const struct tok *t)
{
	long h, m, s = 0;

	if (t->n != 5 && t->n != 8)
		return -1;
	if (t->s[2] != ':' || (t->n == 8 && t->s[5] != ':'))
		return -1;
	h = tok_num(t->s, 2, 2, 23);
	m = tok_num(t->s + 3, 2, 2, 59);
	if (t->n == 8)
		s = tok_num(t->s + 6, 2, 2, 60);
	if (h < 0 || m < 0 || s < 0)
		return -1;
	return h * 3600 + m * 60 + s;
}

/* A zone: "+0900" gives its offset in seconds; a name ("JST", "GMT")
 * is read as UTC, as we have no table of names.  *is_zone: it was one. */
static long
tok_zone(const struct tok *t, int *is_zone)
{
	long h, m;
	size_t i;

	*is_zone = 0;
	if (t->n == 5 && (t->s[0] == '+' || t->s[0] == '-')) {
		h = tok_num(t->s + 1, 2, 2, 23);
		m = tok_num(t->s + 3, 2, 2, 59);
		if (h < 0 || m < 0)
			return 0;
		*is_zone = 1;
		return (t->s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	}
	if (t->n < 1 || t->n > 5)
		return 0;
	for (i = 0; i < t->n; i++)
		if (!((t->s[i] >= 'A' && t->s[i] <= 'Z') ||
		    (t->s[i] >= 'a' && t->s[i] <= 'z')))
			return 0;
	*is_zone = 1;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (m 1-12): the proleptic Gregorian
 * calendar, by hand so that no TZ or mktime() is involved. */
static long
days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;		/* y >= 0 here: years before 1970 are refused */
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(long y, long m)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/*
 * "Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]" at the start of s: 1 if it
 * has that shape, with *when the time it names, or 0 where that is no
 * time we can give (before 1970, a day the month does not have, past
 * 2037 with a 32-bit time_t); 0 if it is no date at all.
 */
static int
date_at(const char *s, size_t len, time_t *when)
{
	struct tok t[6];
	long mon, day, secs, year, zone = 0, z;
	int n, is_zone, yi;
	time_t r;

	*when = 0;
	n = date_tokens(s, len, t, 6);
	if (n < 5 || name3(&t[0], "SunMonTueWedThuFriSat") < 0 ||
	    (mon = name3(&t[1], "JanFebMarAprMayJunJulAugSepOctNovDec")) < 0 ||
	    (day = tok_num(t[2].s, t[2].n, 2, 31)) < 1 ||
	    (secs = tok_time(&t[3])) < 0)
		return 0;
	yi = 4;
	if (tok_num(t[4].s, t[4].n, 4, 9999) < 0 && n >= 6) {
		/* the zone before the year (Solaris "JST", UW "+0900") */
		zone = tok_zone(&t[4], &is_zone);
		if (!is_zone)
			return 0;
		yi = 5;
	} else if (n >= 6) {
		/* a zone after the year; anything else ("remote from") is
		 * ignored */
		z = tok_zone(&t[5], &is_zone);
		if (is_zone)
			zone = z;
	}
	if ((year = tok_num(t[yi].s, t[yi].n, 4, 9999)) < 0)
		return 0;
	/* time_t may be 32 bits: stay below 2038 there */
	if (year < 1970 || (sizeof(time_t) < 8 && year > 2037) ||
	    day > days_in_month(year, mon + 1))
		return 1;
	r = (time_t)days_from_civil(year, mon + 1, day) * 86400 +
	    (time_t)secs - (time_t)zone;
	*when = r > 0 ? r : 0;
	return 1;
}

/* The first date after a blank in line: 1 and its time (or 0), or 0
 * if there is none. */
static int
line_date(const char *line, size_t len, time_t *when)
{
	size_t i;

	/* The sender may hold spaces (a quoted local part): try the date
	 * after every blank, as Dovecot does, and take the first. */
	*when = 0;
	for (i = 0; i + 16 <= len; i++) {
		if (i > 0 && line[i - 1] != ' ' && line[i - 1] != '\t')
			continue;
		if (line[i] == '\n' || line[i] == '\r')
			break;
		/* cheap test first: "Www " */
		if (line[i + 3] != ' ' || !strchr("SMTWF", line[i]) ||
		    line[i] == '\0')
			continue;
		if (date_at(line + i, len - i, when))
			return 1;
	}
	return 0;
}

time_t
mbox_from_date(const char *line, size_t len)
{
	time_t t;

	return line_date(line, len, &t) ? t : 0;
}

int
mbox_is_from_line(const char *line, size_t len)
{
	time_t t;

	return len >= 5 && memcmp(line, "From ", 5) == 0 &&
	    line_date(line + 5, len - 5, &t);
}

/*
 * imap_fetch.c - FETCH (RFC 3501 6.4.5, 7.4.2): every data item, the
 * responses produced as the connection drains (a continuation of
 * conn_stream(): never more than about STREAM_CHUNK queued), message
 * text streamed from the mailbox file with LF turned into CRLF, never
 * read whole.
 *
 * Sizes are those of the CRLF form clients see: for a stored text of
 * B bytes holding L line feeds it is B + L octets, which mailbox.c's
 * index already knows for the whole message, its header and its body,
 * so a literal's length is known before its first octet is read.
 */
#include "yubin.h"

#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "imap.h"
#include "log.h"
#include "mime.h"
#include "util.h"

#define FETCH_READ	65536	/* bytes of text read at a time */

struct imap_fetch {
	struct imap_sess	*s;
	unsigned long		i;		/* view index */
	size_t			att;		/* next item */
	int			started;	/* "* n FETCH (" sent */
	int			add_uid, add_flags, has_flags, sp;
	int			gone;		/* some were expunged */
	struct mb_text		text;
	int			text_open;
	struct mime_tree	*tree;
	/* a literal being streamed: text [src, srcend) as CRLF, the first
	 * skip octets dropped, left octets still to send */
	int			streaming;
	unsigned long		src, srcend, skip, left;
	int			marking;	/* a partial: keep mk */
	struct imap_fetch_mark	mk;		/* CRLF octets up to src */
	struct buf		lit;		/* a literal built in memory */
	int			memlit;
	char			rbuf[FETCH_READ];
};

void
imap_fetch_free(struct imap_sess *s)
{
	struct imap_fetch *f = s->fetch;

	if (f == NULL)
		return;
	if (f->text_open)
		mailbox_text_close(&f->text);
	if (f->tree != NULL && f->tree != s->tree)
		mime_free(f->tree);
	buf_free(&f->lit);
	free(f);
	s->fetch = NULL;
}

/* --- helpers --- */

static int
put_date(struct buf *b, time_t t)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm *tm = gmtime(&t);

	if (tm == NULL)
		return buf_puts(b, "\"01-Jan-1970 00:00:00 +0000\"");
	return buf_printf(b, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm->tm_mday, mon[tm->tm_mon], tm->tm_year + 1900, tm->tm_hour,
	    tm->tm_min, tm->tm_sec);
}

/*
 * Append the CRLF form of p[0..n) to out, dropping the first *skip
 * octets and sending at most *left.
 */
static int
put_crlf(struct buf *out, const char *p, size_t n, unsigned long *skip,
    unsigned long *left)
{
	const char *end = p + n, *nl;
	size_t run;

	while (p < end && *left > 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		run = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		/* the bytes before the LF: one octet each */
		if (*skip >= run) {
			*skip -= run;
		} else {
			size_t k = run - (size_t)*skip;

			if (k > *left)
				k = (size_t)*left;
			if (buf_append(out, p + *skip, k) < 0)
				return -1;
			*left -= k;
			*skip = 0;
		}
		p += run;
		if (nl == NULL || *left == 0)
			break;
		/* the LF: "\r\n", two octets, either may be cut off */
		if (*skip >= 2)
			*skip -= 2;
		else {
			const char *crlf = &"\r\n"[*skip];
			size_t k = 2 - (size_t)*skip;

			if (k > *left)
				k = (size_t)*left;
			if (buf_append(out, crlf, k) < 0)
				return -1;
			*left -= k;
			*skip = 0;
		}
		p++;
	}
	return 0;
}

static int
open_text(struct imap_fetch *f)
{
	struct imap_sess *s = f->s;

	if (f->text_open)
		return 0;
	if (mailbox_text_open(&f->text, s->mb, s->v[f->i].mbi) < 0)
		return -1;
	f->text_open = 1;
	return 0;
}

/* A read callback that ends at the header: ENVELOPE needs no body. */
static long
header_read(void *arg, unsigned long off, char *buf, size_t len)
{
	struct mb_text *t = arg;

	if (off >= t->hlen)
		return 0;
	if (len > t->hlen - off)
		len = (size_t)(t->hlen - off);
	return mailbox_text_read(t, off, buf, len);
}

/* The CRLF octets of the open text's header as clients get it (our
 * metadata lines left out, unless the header is read as it stands). */
static unsigned long
header_octets(const struct imap_fetch *f)
{
	const struct mb_msg *m = mailbox_msg(f->s->mb, f->s->v[f->i].mbi);

	return f->text.hlen + (f->text.hdr != NULL ?
	    m->hdr_lines - m->meta_lines : m->hdr_lines);
}

/* Which text this is, for the session's kept tree and mark. */
static void
text_key(struct imap_fetch *f, struct imap_fetch_mark *k)
{
	k->uid = f->s->v[f->i].uid;
	k->hlen = f->text.hlen;
	k->len = f->text.len;
	k->hoct = header_octets(f);
}

static int
same_text(const struct imap_fetch_mark *a, const struct imap_fetch_mark *b)
{
	return a->uid == b->uid && a->hlen == b->hlen && a->len == b->len &&
	    a->hoct == b->hoct;
}

/*
 * The MIME structure of the message.  The whole one is kept in the
 * session after the message is done: a client that reads a large part
 * in chunks (BODY.PEEK[2]<0.65536>, ...) or asks BODYSTRUCTURE and then
 * a part does not have the message parsed again each time.
 */
static int
parse_tree(struct imap_fetch *f, int header_only)
{
	struct imap_sess *s = f->s;
	struct imap_fetch_mark k;

	if (f->tree != NULL)
		return 0;
	if (open_text(f) < 0)
		return -1;
	text_key(f, &k);
	if (s->tree != NULL && same_text(&k, &s->tree_key)) {
		f->tree = s->tree;	/* lent; still the session's */
		return 0;
	}
	if (mime_parse(header_only ? header_read : mailbox_text_read,
	    &f->text, &f->tree) != 0) {
		f->tree = NULL;
		return -1;
	}
	if (!header_only) {
		imap_fetch_forget(s);
		s->tree = f->tree;
		s->tree_key = k;
	}
	return 0;
}

/* Drop what the session keeps of the last message (another mailbox is
 * selected, or the session ends). */
void
imap_fetch_forget(struct imap_sess *s)
{
	if (s->tree != NULL)
		mime_free(s->tree);
	s->tree = NULL;
	s->tree_key.uid = 0;
	s->mark.uid = 0;
}

/* Does any item need the whole MIME structure? */
static int
needs_tree(const struct imap_sess *s)
{
	size_t k;

	for (k = 0; k < s->natts; k++) {
		const struct imap_fetch_att *a = &s->atts[k];

		if (a->att == IMAP_F_BODY || a->att == IMAP_F_BODYSTRUCTURE ||
		    (a->att == IMAP_F_SECTION && a->sec.npart > 0))
			return 1;
	}
	return 0;
}

/* Does any item set \Seen (RFC 3501 6.4.5: BODY[...] without PEEK)? */
static int
sets_seen(const struct imap_sess *s)
{
	size_t k;

	for (k = 0; k < s->natts; k++) {
		const struct imap_fetch_att *a = &s->atts[k];

		if ((a->att == IMAP_F_SECTION && !a->peek) ||
		    a->att == IMAP_F_RFC822 || a->att == IMAP_F_RFC822_TEXT)
			return 1;
	}
	return 0;
}

/* HEADER.FIELDS (or .NOT) of a header block, with its blank line. */
static int
filter_fields(struct buf *out, const char *h, size_t len,
    const struct imap_section *sec)
{
	size_t i, n, k, flen;
	const char *name, *colon;
	int keep = 0, not = sec->text == IMAP_SEC_HEADER_FIELDS_NOT;
	int blank = 0;

	for (i = 0; i < len; i += n) {
		const char *nl = memchr(h + i, '\n', len - i);

		n = nl != NULL ? (size_t)(nl - (h + i)) + 1 : len - i;
		if (h[i] == '\n' || (h[i] == '\r' && n == 2)) {
			blank = 1;
			break;			/* the blank line */
		}
		if (h[i] != ' ' && h[i] != '\t') {
			colon = memchr(h + i, ':', n);
			flen = colon != NULL ? (size_t)(colon - (h + i)) : 0;
			while (flen > 0 && (h[i + flen - 1] == ' ' ||
			    h[i + flen - 1] == '\t'))
				flen--;
			keep = 0;
			name = sec->fields;
			for (k = 0; flen > 0 && k < sec->nfields; k++) {
				if (strlen(name) == flen &&
				    ascii_ncasecmp(name, h + i, flen) == 0) {
					keep = 1;
					break;
				}
				name += strlen(name) + 1;
			}
			if (colon == NULL)
				keep = 0;
			else if (not)
				keep = !keep;
		}
		if (keep && buf_append(out, h + i, n) < 0)
			return -1;
	}
	/* RFC 3501 6.4.5: the blank line is in all header fetches, "except
	 * in the case of a message which has no body and no blank line" */
	return blank ? buf_append(out, "\n", 1) : 0;
}

/* The section's spec for mime_section_range(): "1.2.TEXT" ... */
static int
section_spec(const struct imap_section *sec, char *out, size_t len)
{
	size_t used = 0;
	int k, r;
	static const char *names[] = { "", "HEADER", "HEADER", "HEADER",
	    "TEXT", "MIME" };

	out[0] = '\0';
	for (k = 0; k < sec->npart; k++) {
		r = snprintf(out + used, len - used, "%s%lu", k ? "." : "",
		    sec->part[k]);
		if (r < 0 || (size_t)r >= len - used)
			return -1;
		used += (size_t)r;
	}
	if (sec->text != IMAP_SEC_ALL) {
		r = snprintf(out + used, len - used, "%s%s", used ? "." : "",
		    names[sec->text]);
		if (r < 0 || (size_t)r >= len - used)
			return -1;
	}
	return 0;
}

/* --- one data item --- */

/*
 * A partial literal of [src, srcend): start reading where the last one
 * of the same section stopped, if it stopped before the origin (the
 * octets in between are still skipped, never more than one read's
 * worth).
 */
static void
resume_mark(struct imap_fetch *f, unsigned long src, unsigned long srcend)
{
	struct imap_fetch_mark *k = &f->s->mark, *mk = &f->mk;

	text_key(f, mk);
	mk->src = src;
	mk->srcend = srcend;
	mk->at = src;
	mk->octets = 0;
	f->marking = 1;
	if (!same_text(k, mk) || k->src != src || k->srcend != srcend ||
	    k->octets > f->skip || k->at < src || k->at > srcend)
		return;
	mk->at = k->at;
	mk->octets = k->octets;
	f->src = k->at;
	f->skip -= k->octets;
}

/* Start a literal of [src, srcend) of the text, octets long. */
static int
start_literal(struct imap_fetch *f, struct buf *out,
    const struct imap_section *sec, unsigned long src, unsigned long srcend,
    unsigned long octets)
{
	unsigned long origin = 0, count = octets;

	if (sec != NULL && sec->partial) {
		origin = sec->origin < octets ? sec->origin : octets;
		count = octets - origin;
		if (count > sec->count)
			count = sec->count;
		if (buf_printf(out, "<%lu>", sec->origin) < 0)
			return -1;
	}
	if (buf_printf(out, " {%lu}\r\n", count) < 0)
		return -1;
	f->streaming = count > 0;
	f->memlit = 0;
	f->src = src;
	f->srcend = srcend;
	f->skip = origin;
	f->left = count;
	f->marking = 0;
	if (sec != NULL && sec->partial && count > 0 && srcend > src)
		resume_mark(f, src, srcend);	/* text from the file */
	return 0;
}

/* A literal already in f->lit (HEADER.FIELDS, a missing part). */
static int
start_memlit(struct imap_fetch *f, struct buf *out,
    const struct imap_section *sec)
{
	unsigned long skip = 0, left, octets;
	struct buf conv;
	int r;

	buf_init(&conv, 0);
	left = octets = f->lit.len + count_lf(f->lit.data, f->lit.len);
	if (put_crlf(&conv, f->lit.data, f->lit.len, &skip, &left) < 0) {
		buf_free(&conv);
		return -1;
	}
	buf_free(&f->lit);
	f->lit = conv;
	r = start_literal(f, out, sec, 0, 0, octets);
	/* f->lit is streamed only while octets are left to send: an empty
	 * literal (a missing part, a partial past the end) must not leave
	 * memlit set, or the next item's literal sends none of its
	 * announced octets and the client loses sync */
	f->memlit = f->streaming;
	return r;
}

static int
section_item(struct imap_fetch *f, struct buf *out,
    const struct imap_fetch_att *a)
{
	const struct imap_section *sec = &a->sec;
	struct imap_sess *s = f->s;
	const struct mb_msg *m = mailbox_msg(s->mb, s->v[f->i].mbi);
	char name[1024], spec[256];
	struct mime_range r;
	unsigned long hoct;

	if (open_text(f) < 0)
		return -1;
	if (imap_section_format(sec, name, sizeof(name)) < 0 ||
	    buf_printf(out, "BODY[%s]", name) < 0)
		return -1;
	hoct = header_octets(f);
	if (sec->npart == 0) {
		switch (sec->text) {
		case IMAP_SEC_ALL:
			return start_literal(f, out, sec, 0, f->text.len,
			    hoct + (unsigned long)(m->end - m->body) +
			    m->body_lines);
		case IMAP_SEC_HEADER:
			return start_literal(f, out, sec, 0, f->text.hlen, hoct);
		case IMAP_SEC_TEXT:
			return start_literal(f, out, sec, f->text.hlen,
			    f->text.len, (unsigned long)(m->end - m->body) +
			    m->body_lines);
		default:
			break;
		}
	}
	if (section_spec(sec, spec, sizeof(spec)) < 0)
		return -1;
	if (sec->npart > 0 && parse_tree(f, 0) < 0)
		return -1;
	if (sec->npart == 0) {		/* HEADER.FIELDS of the message */
		r.off = 0;
		r.end = f->text.hlen;
		r.header = 1;
	} else if (mime_section_range(f->tree->root, spec, &r) < 0) {
		/* no such part: an empty string, as Dovecot answers */
		buf_reset(&f->lit);
		return start_memlit(f, out, sec);
	}
	if (sec->text == IMAP_SEC_HEADER_FIELDS ||
	    sec->text == IMAP_SEC_HEADER_FIELDS_NOT) {
		char *h;
		long got;

		if (r.end - r.off > 256UL * 1024UL ||
		    (h = malloc((size_t)(r.end - r.off) + 1)) == NULL)
			return -1;
		got = mailbox_text_read(&f->text, r.off, h,
		    (size_t)(r.end - r.off));
		/* a header in the file part may need more than one read */
		while (got >= 0 && (unsigned long)got < r.end - r.off) {
			long more = mailbox_text_read(&f->text,
			    r.off + (unsigned long)got, h + got,
			    (size_t)(r.end - r.off) - (size_t)got);

			if (more <= 0)
				break;
			got += more;
		}
		buf_reset(&f->lit);
		if (got < 0 || filter_fields(&f->lit, h, (size_t)got,
		    sec) < 0) {
			free(h);
			return -1;
		}
		free(h);
		return start_memlit(f, out, sec);
	}
	return start_literal(f, out, sec, r.off, r.end, r.octets);
}

static int
put_item(struct imap_fetch *f, struct buf *out,
    const struct imap_fetch_att *a)
{
	struct imap_sess *s = f->s;
	struct imap_msg *v = &s->v[f->i];
	const struct mb_msg *m = mailbox_msg(s->mb, v->mbi);
	unsigned long hoct;

	if (f->sp && buf_append(out, " ", 1) < 0)
		return -1;
	f->sp = 1;
	switch (a->att) {
	case IMAP_F_UID:
		return buf_printf(out, "UID %lu", v->uid);
	case IMAP_F_FLAGS:
		return buf_puts(out, "FLAGS ") < 0 ? -1 :
		    imap_put_flags(out, v->flags, v->keywords, (v->bits & V_RECENT));
	case IMAP_F_INTERNALDATE:
		return buf_puts(out, "INTERNALDATE ") < 0 ? -1 :
		    put_date(out, m->date);
	case IMAP_F_RFC822_SIZE:
		return buf_printf(out, "RFC822.SIZE %lu", m->size);
	case IMAP_F_ENVELOPE:
		if (parse_tree(f, !needs_tree(s)) < 0)
			return -1;
		return buf_puts(out, "ENVELOPE ") < 0 ? -1 :
		    mime_envelope(out, f->tree->root);
	case IMAP_F_BODY:
	case IMAP_F_BODYSTRUCTURE:
		if (parse_tree(f, 0) < 0)
			return -1;
		return buf_puts(out, a->att == IMAP_F_BODY ? "BODY " :
		    "BODYSTRUCTURE ") < 0 ? -1 : mime_bodystructure(out,
		    f->tree->root, a->att == IMAP_F_BODYSTRUCTURE);
	case IMAP_F_RFC822:
	case IMAP_F_RFC822_HEADER:
	case IMAP_F_RFC822_TEXT:
		if (open_text(f) < 0)
			return -1;
		hoct = header_octets(f);
		if (a->att == IMAP_F_RFC822)
			return buf_puts(out, "RFC822") < 0 ? -1 :
			    start_literal(f, out, NULL, 0, f->text.len, hoct +
			    (unsigned long)(m->end - m->body) + m->body_lines);
		if (a->att == IMAP_F_RFC822_HEADER)
			return buf_puts(out, "RFC822.HEADER") < 0 ? -1 :
			    start_literal(f, out, NULL, 0, f->text.hlen, hoct);
		return buf_puts(out, "RFC822.TEXT") < 0 ? -1 :
		    start_literal(f, out, NULL, f->text.hlen, f->text.len,
		    (unsigned long)(m->end - m->body) + m->body_lines);
	case IMAP_F_SECTION:
		return section_item(f, out, a);
	}
	return -1;
}

/* Send more of the literal in progress. */
static int
stream_more(struct imap_fetch *f, struct buf *out)
{
	size_t want;
	unsigned long skip, left;
	long n;

	if (f->memlit) {
		/* already CRLF in memory: origin and count are offsets */
		size_t off = f->skip < f->lit.len ? (size_t)f->skip : f->lit.len;

		want = f->left < f->lit.len - off ? (size_t)f->left :
		    f->lit.len - off;
		if (buf_append(out, f->lit.data + off, want) < 0)
			return -1;
		f->left = 0;
		f->streaming = 0;
		f->memlit = 0;
		return 0;
	}
	while (f->left > 0 && out->len < STREAM_CHUNK) {
		want = f->srcend - f->src < (unsigned long)sizeof(f->rbuf) ?
		    (size_t)(f->srcend - f->src) : sizeof(f->rbuf);
		if (want == 0)
			break;
		n = mailbox_text_read(&f->text, f->src, f->rbuf, want);
		if (n <= 0)
			return -1;	/* the file changed under us */
		f->src += (unsigned long)n;
		skip = f->skip;
		left = f->left;
		if (put_crlf(out, f->rbuf, (size_t)n, &f->skip, &f->left) < 0)
			return -1;
		if (f->marking && f->left > 0) {
			/* all of it used: its CRLF octets are known (the
			 * last read, cut off inside, is read again next
			 * time) */
			f->mk.octets += (skip - f->skip) + (left - f->left);
			f->mk.at = f->src;
			f->s->mark = f->mk;
		}
	}
	if (f->left > 0 && f->src >= f->srcend) {
		/* the text was shorter than the index said: pad, so the
		 * literal keeps its announced length */
		log_notice("imap: %s: message shorter than indexed",
		    mailbox_path(f->s->mb));
		while (f->left > 0) {
			if (buf_append(out, " ", 1) < 0)
				return -1;
			f->left--;
		}
	}
	if (f->left == 0)
		f->streaming = 0;
	return 0;
}

/* Move on to the next message of the set; 0 when there is none. */
static int
next_message(struct imap_fetch *f)
{
	struct imap_sess *s = f->s;

	for (; f->i < s->nv; f->i++) {
		if (!imap_in_set(s, f->i))
			continue;
		if (s->v[f->i].mbi < 0) {
			f->gone = 1;
			continue;
		}
		return 1;
	}
	return 0;
}

static void
end_message(struct imap_fetch *f)
{
	if (f->text_open) {
		mailbox_text_close(&f->text);
		f->text_open = 0;
	}
	if (f->tree != NULL && f->tree != f->s->tree)
		mime_free(f->tree);	/* a header-only parse */
	f->tree = NULL;
	f->started = 0;
	f->i++;
}

static int
fetch_fill(void *arg, struct buf *out)
{
	struct imap_fetch *f = arg;
	struct imap_sess *s = f->s;

	while (out->len < STREAM_CHUNK) {
		if (f->streaming) {
			if (stream_more(f, out) < 0)
				return -1;
			continue;
		}
		if (!f->started) {
			if (!next_message(f))
				return 0;
			f->started = 1;
			f->att = 0;
			f->sp = 0;
			f->add_flags = 0;
			/* \Seen set now is told with the FLAGS item, or
			 * by one added at the end (RFC 3501 6.4.5) */
			if (sets_seen(s) && !s->readonly &&
			    !(s->v[f->i].flags & MF_SEEN)) {
				imap_set_seen(s, f->i);
				f->add_flags = !f->has_flags;
			}
			if (buf_printf(out, "* %lu FETCH (", f->i + 1) < 0)
				return -1;
			if (f->add_uid) {
				if (buf_printf(out, "UID %lu", s->v[f->i].uid) < 0)
					return -1;
				f->sp = 1;
			}
			continue;
		}
		if (f->att < s->natts) {
			if (put_item(f, out, &s->atts[f->att++]) < 0) {
				warn("imap[%lu] %s: FETCH of message %lu failed",
				    s->c->id, s->c->peer, f->i + 1);
				return -1;
			}
			continue;
		}
		if (f->add_flags) {
			/* \Seen was set: the client learns it here */
			if (buf_puts(out, " FLAGS ") < 0 ||
			    imap_put_flags(out, s->v[f->i].flags,
			    s->v[f->i].keywords, (s->v[f->i].bits & V_RECENT)) < 0)
				return -1;
		}
		if (buf_puts(out, ")\r\n") < 0)
			return -1;
		end_message(f);
	}
	return 1;
}

static void
fetch_done(void *arg, int ok)
{
	struct imap_fetch *f = arg;
	struct imap_sess *s = f->s;
	int gone = f->gone;

	imap_fetch_free(s);
	if (!ok) {
		/* the connection is going; the session ends next */
		if (s->mb != NULL) {
			mailbox_release(s->mb);
			s->mb = NULL;
		}
		return;
	}
	if (gone)
		imap_result(s, "NO", "Some of the messages were expunged");
	else
		imap_result(s, "OK", "FETCH completed");
	imap_finish(s, 0);
}

static void
op_fetch(struct imap_sess *s)
{
	struct imap_fetch *f;
	size_t k;

	if ((f = malloc(sizeof(*f))) == NULL) {
		imap_result(s, "NO", "[SERVERBUG] Out of memory");
		imap_finish(s, 0);
		return;
	}
	memset(f, 0, sizeof(*f));
	f->s = s;
	buf_init(&f->lit, 0);
	s->fetch = f;
	/* RFC 3501 6.4.8: UID FETCH always includes the UID */
	f->add_uid = s->uid_cmd;
	for (k = 0; k < s->natts; k++) {
		if (s->atts[k].att == IMAP_F_UID)
			f->add_uid = 0;
		if (s->atts[k].att == IMAP_F_FLAGS)
			f->has_flags = 1;
	}
	conn_stream(s->c, fetch_fill, fetch_done, f);
}

void
imap_cmd_fetch(struct imap_sess *s, struct imap_tok *t)
{
	if (imap_parse_set(s, t) < 0 ||
	    imap_get_fetch_atts(t, s->atts, IMAP_FETCH_ATTS, &s->natts) < 0 ||
	    imap_get_end(t) < 0) {
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid FETCH");
		return;
	}
	s->expunge_ok = s->uid_cmd;
	imap_sync(s, op_fetch);
}

/*
 * imap_spool.c - messages on their way into a mailbox, in a spool file
 * (imap_spool_open()) in the form mailbox_append() takes: APPEND's
 * literal turned from the wire form into mbox form as it arrives (CRLF
 * to LF, our metadata headers dropped - they are ours to write - and
 * body lines starting "From " quoted as ">From ", RFC 4155), and COPY's
 * messages taken from the selected mailbox as they are stored.
 *
 * A client's APPEND may take minutes to arrive; the mailbox is locked
 * only once it is all here, for the time of a local copy.
 */
#include "yubin.h"

#include <sys/types.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "imap.h"
#include "mailbox.h"
#include "mailbox_priv.h"
#include "msg.h"

struct imap_spool {
	int		fd;
	off_t		pos;		/* where the next byte goes */
	int		inhdr;
	struct buf	hdr;		/* the header, gathered whole */
	struct buf	out;		/* body bytes not written yet */
	int		cr;		/* a CR waits for its LF */
	char		pend[5];	/* the start of a body line */
	size_t		npend;
	int		bol;
	char		last;		/* last body byte written */
	off_t		hdr_off, body_off;
	unsigned long	hdrlen, bodylen;
	int		err;
};

struct imap_spool *
imap_spool_new(int fd)
{
	struct imap_spool *sp;

	if ((sp = malloc(sizeof(*sp))) == NULL)
		return NULL;
	memset(sp, 0, sizeof(*sp));
	sp->fd = fd;
	sp->pos = lseek(fd, 0, SEEK_END);
	if (sp->pos < 0) {
		free(sp);
		return NULL;
	}
	sp->inhdr = 1;
	sp->bol = 1;
	buf_init(&sp->hdr, HDR_MAX);
	buf_init(&sp->out, 0);
	return sp;
}

void
imap_spool_free(struct imap_spool *sp)
{
	if (sp == NULL)
		return;
	buf_free(&sp->hdr);
	buf_free(&sp->out);
	free(sp);
}

static int
out_flush(struct imap_spool *sp)
{
	if (sp->out.len == 0)
		return 0;
	if (lseek(sp->fd, sp->pos, SEEK_SET) < 0 ||
	    write(sp->fd, sp->out.data, sp->out.len) !=
	    (ssize_t)sp->out.len)
		return -1;
	sp->pos += (off_t)sp->out.len;
	sp->bodylen += (unsigned long)sp->out.len;
	sp->last = sp->out.data[sp->out.len - 1];
	buf_reset(&sp->out);
	return 0;
}

/* The header is complete: write it without our metadata lines. */
static int
header_done(struct imap_spool *sp)
{
	const char *h = sp->hdr.data;
	size_t len = sp->hdr.len, i, n;
	int skip = 0;

	sp->hdr_off = sp->pos;
	for (i = 0; i < len; i += n) {
		const char *nl = memchr(h + i, '\n', len - i);

		n = nl != NULL ? (size_t)(nl - (h + i)) + 1 : len - i;
		if (h[i] != ' ' && h[i] != '\t')
			skip = n > 1 && msg_header_is_ours(h + i, n);
		if (skip)
			continue;
		if (buf_append(&sp->out, h + i, n) < 0)
			return -1;
	}
	sp->hdrlen = (unsigned long)sp->out.len;
	if (out_flush(sp) < 0)
		return -1;
	sp->bodylen = 0;
	sp->body_off = sp->pos;
	sp->inhdr = 0;
	buf_free(&sp->hdr);
	return 0;
}

static int
put_body(struct imap_spool *sp, char ch)
{
	if (sp->bol) {
		sp->pend[sp->npend++] = ch;
		if (ch != '\n' && sp->npend < 5)
			return 0;
		/* RFC 4155: a body line "From " is stored ">From " */
		if (sp->npend == 5 && memcmp(sp->pend, "From ", 5) == 0 &&
		    buf_append(&sp->out, ">", 1) < 0)
			return -1;
		if (buf_append(&sp->out, sp->pend, sp->npend) < 0)
			return -1;
		sp->bol = ch == '\n';
		sp->npend = 0;
	} else {
		if (buf_append(&sp->out, &ch, 1) < 0)
			return -1;
		sp->bol = ch == '\n';
	}
	if (sp->out.len >= 65536)
		return out_flush(sp);
	return 0;
}

/* One octet of the message, CR LF already made LF. */
static int
put_char(struct imap_spool *sp, char ch)
{
	if (!sp->inhdr)
		return put_body(sp, ch);
	if (buf_append(&sp->hdr, &ch, 1) < 0)
		return -1;	/* a header over HDR_MAX */
	if (ch == '\n' && (sp->hdr.len == 1 ||
	    sp->hdr.data[sp->hdr.len - 2] == '\n')) {
		/* the blank line: it ends the header, not kept in it */
		sp->hdr.len--;
		return header_done(sp);
	}
	return 0;
}

int
imap_spool_feed(struct imap_spool *sp, const char *p, size_t n)
{
	size_t i;

	if (sp->err)
		return -1;
	for (i = 0; i < n; i++) {
		if (sp->cr) {
			sp->cr = 0;
			if (p[i] == '\n') {
				if (put_char(sp, '\n') < 0)
					goto fail;
				continue;
			}
			if (put_char(sp, '\r') < 0)
				goto fail;
		}
		if (p[i] == '\r') {
			sp->cr = 1;
			continue;
		}
		if (put_char(sp, p[i]) < 0)
			goto fail;
	}
	return 0;
fail:
	sp->err = 1;
	return -1;
}

/* The end of the message: the record mailbox_append() wants. */
int
imap_spool_end(struct imap_spool *sp, struct mb_append *a)
{
	if (sp->err)
		return -1;
	if (sp->cr && put_char(sp, '\r') < 0)
		return -1;
	sp->cr = 0;
	if (sp->inhdr) {
		/* no blank line: all header, no body */
		if (sp->hdr.len > 0 && sp->hdr.data[sp->hdr.len - 1] != '\n' &&
		    buf_append(&sp->hdr, "\n", 1) < 0)
			return -1;
		if (header_done(sp) < 0)
			return -1;
	}
	if (sp->npend > 0) {
		if (buf_append(&sp->out, sp->pend, sp->npend) < 0)
			return -1;
		sp->npend = 0;
	}
	if (out_flush(sp) < 0)
		return -1;
	/* the last line ends in LF, so the blank line after it is one */
	if (sp->bodylen > 0 && sp->last != '\n') {
		if (buf_append(&sp->out, "\n", 1) < 0 || out_flush(sp) < 0)
			return -1;
	}
	memset(a, 0, sizeof(*a));
	a->hdr = sp->hdr_off;
	a->hdrlen = sp->hdrlen;
	a->body = sp->body_off;
	a->bodylen = sp->bodylen;
	return 0;
}

/* Does [off, off + len) of fd hold a line starting "From "? */
static int
has_from_line(int fd, off_t off, unsigned long len)
{
	char b[8192 + 6];
	size_t have = 1, want, i;
	ssize_t n;

	b[0] = '\n';			/* the body starts a line */
	while (len > 0) {
		want = len < 8192 ? (size_t)len : 8192;
		if (lseek(fd, off, SEEK_SET) < 0 ||
		    (n = read(fd, b + have, want)) <= 0)
			return 1;	/* unsure: keep the length */
		have += (size_t)n;
		for (i = 0; i + 6 <= have; i++)
			if (b[i] == '\n' && memcmp(b + i + 1, "From ", 5) == 0)
				return 1;
		/* a match may begin in the last five bytes */
		if (have > 5) {
			memmove(b, b + have - 5, 5);
			have = 5;
		}
		off += n;
		len -= (unsigned long)n;
	}
	return 0;
}

/*
 * Message i of an open mailbox, as stored, to the end of the spool:
 * its From_ line, its header without our metadata, its body.
 */
int
imap_spool_copy(int fd, struct mailbox *mb, int i, struct mb_append *a)
{
	const struct mb_msg *m = mailbox_msg(mb, i);
	struct mb_text t;
	off_t pos;
	unsigned long hl;
	int mfd = mailbox_fd(mb);
	char c;

	if (m == NULL || (pos = lseek(fd, 0, SEEK_END)) < 0 ||
	    mailbox_text_open(&t, mb, i) < 0)
		return -1;
	memset(a, 0, sizeof(*a));
	a->from = pos;
	a->fromlen = (unsigned long)(m->hdr - m->from);
	if (mb_copy_range(mfd, m->from, fd, pos, (off_t)a->fromlen) < 0)
		goto fail;
	pos += (off_t)a->fromlen;
	/* the header without its blank line */
	hl = t.hlen;
	if (hl > 0 && (t.hdr == NULL || t.hdr[hl - 1] == '\n') &&
	    (hl == 1 || t.hdr == NULL || t.hdr[hl - 2] == '\n'))
		hl--;
	a->hdr = pos;
	a->hdrlen = hl;
	if (t.hdr != NULL) {
		if (lseek(fd, pos, SEEK_SET) < 0 ||
		    write(fd, t.hdr, hl) != (ssize_t)hl)
			goto fail;
	} else if (mb_copy_range(mfd, m->hdr, fd, pos, (off_t)hl) < 0)
		goto fail;
	pos += (off_t)hl;
	a->body = pos;
	a->bodylen = (unsigned long)(m->end - m->body);
	if (mb_copy_range(mfd, m->body, fd, pos, (off_t)a->bodylen) < 0)
		goto fail;
	pos += (off_t)a->bodylen;
	if (a->bodylen > 0) {
		if (lseek(mfd, m->end - 1, SEEK_SET) < 0 ||
		    read(mfd, &c, 1) != 1)
			goto fail;
		if (c != '\n') {
			if (lseek(fd, pos, SEEK_SET) < 0 ||
			    write(fd, "\n", 1) != 1)
				goto fail;
			a->bodylen++;
		}
	}
	a->date = m->date;
	/* an unquoted From_ line (mail.local) needs Content-Length */
	a->clen = has_from_line(mfd, m->body, (unsigned long)(m->end - m->body));
	/* RFC 3501 6.4.7: the copy keeps its flags, and is \Recent */
	a->flags = m->flags & ~MF_OLD;
	mailbox_text_close(&t);
	return 0;
fail:
	mailbox_text_close(&t);
	return -1;
}

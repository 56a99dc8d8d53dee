/*
 * dsn.c - bounces as RFC 3464 delivery status notifications (see
 * dsn.h).  It must never do I/O of its own (the original is read only
 * through the caller's callback), never write a line longer than 998
 * octets, nothing but ASCII of its own, and never a boundary that any
 * part contains.
 *
 * Order of work: read what is included of the original, write the two
 * text parts into buffers of their own, choose a boundary none of the
 * three contains, then assemble.  Nothing reaches the caller's buffer
 * until it is known to be whole.
 */
#include "yubin.h"

#include <sys/types.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dsn.h"
#include "msg.h"
#include "util.h"

#define INCL_NONE	0
#define INCL_HEADERS	1	/* text/rfc822-headers */
#define INCL_FULL	2	/* message/rfc822 */

#define READ_STEP	8192	/* a read while looking for the header end */
#define BOUNDARY_MAX	70	/* RFC 2046 5.1.1 */
#define BOUNDARY_TRIES	100

/* The part of the original that goes in. */
struct incl {
	struct buf	data;	/* what was read, from offset 0 */
	size_t		len;	/* octets of data included */
	size_t		hlen;	/* of which the header (broken by folding) */
	int		kind;	/* INCL_* */
	int		eight;	/* holds 8-bit octets */
};

/* How a long text is put on lines. */
struct fold {
	size_t		soft;	/* break at a space up to this column */
	size_t		hard;	/* never pass this one */
	const char	*cont;	/* what starts a line after a soft break */
	const char	*hcont;	/* ... after a hard break */
	int		eat;	/* drop the space broken at (text), or keep it
				 * as the folding white space (a field) */
};

/*
 * A field folds before a space (RFC 5322 2.2.3), so unfolding gives the
 * text back; a run of more than 998 octets without one can only be
 * broken, which unfolds with a space added: the price of the line limit.
 */
static const struct fold field_fold = { DSN_FOLD_AT, DSN_LINE_MAX, "",
	" ", 0 };
/* The explanation: Postfix's indented continuation lines. */
static const struct fold text_fold = { 76, DSN_LINE_MAX, "    ", "    ",
	1 };

static const struct {
	const char	*code;	/* subject.detail */
	const char	*text;
} status_texts[] = {		/* RFC 3463 section 3 */
	{ "0.0", "other undefined status" },
	{ "1.0", "other address status" },
	{ "1.1", "bad destination mailbox address" },
	{ "1.2", "bad destination system address" },
	{ "1.3", "bad destination mailbox address syntax" },
	{ "1.4", "destination mailbox address ambiguous" },
	{ "1.6", "destination mailbox has moved, no forwarding address" },
	{ "1.7", "bad sender's mailbox address syntax" },
	{ "1.8", "bad sender's system address" },
	{ "2.0", "other or undefined mailbox status" },
	{ "2.1", "mailbox disabled, not accepting messages" },
	{ "2.2", "mailbox full" },
	{ "2.3", "message length exceeds administrative limit" },
	{ "2.4", "mailing list expansion problem" },
	{ "3.0", "other or undefined mail system status" },
	{ "3.1", "mail system full" },
	{ "3.2", "system not accepting network messages" },
	{ "3.3", "system not capable of selected features" },
	{ "3.4", "message too big for system" },
	{ "3.5", "system incorrectly configured" },
	{ "4.0", "other or undefined network or routing status" },
	{ "4.1", "no answer from host" },
	{ "4.2", "bad connection" },
	{ "4.3", "directory server failure" },
	{ "4.4", "unable to route" },
	{ "4.5", "mail system congestion" },
	{ "4.6", "routing loop detected" },
	{ "4.7", "delivery time expired" },
	{ "5.0", "other or undefined protocol status" },
	{ "5.1", "invalid command" },
	{ "5.2", "syntax error" },
	{ "5.3", "too many recipients" },
	{ "5.4", "invalid command arguments" },
	{ "5.5", "wrong protocol version" },
	{ "6.0", "other or undefined media error" },
	{ "6.1", "media not supported" },
	{ "6.2", "conversion required and prohibited" },
	{ "6.3", "conversion required but not supported" },
	{ "6.4", "conversion with loss performed" },
	{ "6.5", "conversion failed" },
	{ "7.0", "other or undefined security status" },
	{ "7.1", "delivery not authorized, message refused" },
	{ "7.2", "mailing list expansion prohibited" },
	{ "7.3", "security conversion required but not possible" },
	{ "7.4", "security features not supported" },
	{ "7.5", "cryptographic failure" },
	{ "7.6", "cryptographic algorithm not supported" },
	{ "7.7", "message integrity failure" }
};

/* --- cleaning what comes from outside --- */

/*
 * Copy s[0..n) into out as printable ASCII: controls (CR and LF above
 * all: a header injection), DEL and 8-bit octets become '?'.  Space is
 * kept only where it is legal ("john smith"@example.org).
 */
static void
clean(const char *s, size_t n, char *out, size_t outlen, int keep_space)
{
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < n && o + 1 < outlen; i++) {
		c = (unsigned char)s[i];
		out[o++] = (c > ' ' && c < 127) || (c == ' ' && keep_space) ?
		    (char)c : '?';
	}
	out[o] = '\0';
}

/* An address without surrounding white space and angle brackets. */
static void
clean_addr(const char *s, char *out, size_t outlen)
{
	size_t n;

	if (s == NULL)
		s = "";
	n = strlen(s);
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	clean(s, n, out, outlen, 1);
}

static void
clean_host(const char *s, char *out, size_t outlen)
{
	clean(s, s != NULL ? strlen(s) : 0, out, outlen, 0);
}

/*
 * Only [A-Za-z0-9.-]: what a boundary (RFC 2046 bchars) and a
 * Message-ID (RFC 5322 dot-atom-text) can both hold.
 */
static void
clean_word(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned char c;

	for (; s != NULL && *s != '\0' && o + 1 < outlen; s++) {
		c = (unsigned char)*s;
		out[o++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ?
		    (char)c : '-';
	}
	out[o] = '\0';
}

/*
 * A reply or reason as one line: a multi-line SMTP reply is joined with
 * spaces, runs of white space and controls become one space, 8-bit
 * octets '?'.  Longer than DSN_DIAG_MAX: cut, and " ..." says so.
 */
static void
clean_diag(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned char c;
	int space = 0;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c <= ' ' || c == 127) {
			space = o > 0;
			continue;
		}
		if (o + space + 1 >= outlen) {
			while (o > 0 && o + 5 >= outlen)
				o--;
			memcpy(out + o, " ...", 4);
			o += 4;
			break;
		}
		if (space)
			out[o++] = ' ';
		space = 0;
		out[o++] = c < 127 ? (char)c : '?';
	}
	out[o] = '\0';
}

/* "550 ..." or "550-...": an SMTP reply, RFC 3464 diagnostic-type smtp. */
static int
is_smtp_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' &&
	    s[2] >= '0' && s[2] <= '9' &&
	    (s[3] == ' ' || s[3] == '-' || s[3] == '\0');
}

static size_t
digits(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/*
 * RFC 3463 section 2: class "." 1*3digit "." 1*3digit, class 2, 4 or 5.
 * A "delayed" recipient is by definition in a transient state (class 4);
 * a "failed" one may be 5, or 4 when its time in the queue ran out.
 */
static void
fix_status(const char *in, int action, char *out, size_t outlen)
{
	size_t a, b;

	if (in != NULL && (in[0] == '2' || in[0] == '4' || in[0] == '5') &&
	    in[1] == '.' && (a = digits(in + 2)) >= 1 && a <= 3 &&
	    in[2 + a] == '.' && (b = digits(in + 3 + a)) >= 1 && b <= 3 &&
	    in[3 + a + b] == '\0' && strlen(in) < outlen) {
		strlcpy(out, in, outlen);
		if (action == DSN_DELAYED)
			out[0] = '4';
		else if (out[0] == '2')
			out[0] = '5';
		return;
	}
	strlcpy(out, action == DSN_DELAYED ? "4.0.0" : "5.0.0", outlen);
}

static const char *
status_text(const char *status)
{
	size_t i;

	for (i = 0; i < NELEM(status_texts); i++)
		if (strcmp(status + 2, status_texts[i].code) == 0)
			return status_texts[i].text;
	return "no reason given";
}

/* --- writing --- */

/*
 * Put s[0..n) on lines from column col on, as f says: break at the last
 * space before the soft column, else at the first space after it, and
 * only where there is none before the hard column in the middle of a
 * word.
 */
static int
put_folded(struct buf *b, size_t col, const char *s, size_t n,
    const struct fold *f)
{
	size_t i, brk, room;

	while (n > 0) {
		if (col + n <= f->soft)
			return buf_append(b, s, n);
		room = f->soft > col ? f->soft - col : 0;
		brk = 0;
		for (i = room < n - 1 ? room : n - 1; i > 0 && brk == 0; i--)
			if (s[i] == ' ')
				brk = i;
		for (i = room + 1; brk == 0 && i < n && col + i <= f->hard; i++)
			if (s[i] == ' ')
				brk = i;
		if (brk == 0 && col + n <= f->hard)
			return buf_append(b, s, n);
		if (brk > 0) {
			if (buf_append(b, s, brk) < 0 || buf_puts(b, "\n") < 0 ||
			    buf_puts(b, f->cont) < 0)
				return -1;
			col = strlen(f->cont);
			s += brk + (f->eat ? 1 : 0);
			n -= brk + (f->eat ? 1 : 0);
			continue;
		}
		brk = f->hard - col;	/* col < hard: it is a prefix's length */
		if (buf_append(b, s, brk) < 0 || buf_puts(b, "\n") < 0 ||
		    buf_puts(b, f->hcont) < 0)
			return -1;
		col = strlen(f->hcont);
		s += brk;
		n -= brk;
	}
	return 0;
}

static int
put_date(struct buf *b, const char *name, time_t t)
{
	char date[64];

	if (rfc822_date(t, date, sizeof(date)) < 0)
		return -1;
	return buf_printf(b, "%s: %s\n", name, date);
}

/* "Your message could not be delivered for 4.5 hours." */
static int
put_delay(struct buf *b, time_t arrival, time_t now)
{
	long s;

	if (arrival == 0 || now <= arrival)
		return buf_puts(b, "Your message could not be delivered yet.\n");
	s = (long)(now - arrival);
	if (s < 60L)
		return buf_puts(b, "Your message could not be delivered for "
		    "less than a minute.\n");
	if (s < 3600L)
		return buf_printf(b, "Your message could not be delivered for "
		    "%ld minute%s.\n", s / 60, s / 60 == 1 ? "" : "s");
	if (s < 2 * 86400L)
		return buf_printf(b, "Your message could not be delivered for "
		    "%ld.%ld hours.\n", s / 3600, s % 3600 / 360);
	return buf_printf(b, "Your message could not be delivered for "
	    "%ld.%ld days.\n", s / 86400, s % 86400 / 8640);
}

/* The explanation above the recipients, Postfix's words. */
static int
put_intro(struct buf *b, const struct dsn *d, int failed, int kind,
    time_t now)
{
	char host[DSN_HOST_MAX + 1];

	clean_host(d->reporting_mta, host, sizeof(host));
	if (buf_printf(b, "This is the mail system at host %s.\n\n", host) < 0)
		return -1;
	if (failed) {
		if (buf_puts(b, "I'm sorry to have to inform you that your "
		    "message could not\nbe delivered to one or more "
		    "recipients.") < 0 ||
		    buf_puts(b, kind == INCL_FULL ? " It's attached below.\n" :
		    kind == INCL_HEADERS ? " Its header is attached below.\n" :
		    "\n") < 0)
			return -1;
	} else if (buf_puts(b, "################################"
	    "####################################\n"
	    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR "
	    "MESSAGE. #\n"
	    "################################"
	    "####################################\n\n") < 0 ||
	    put_delay(b, d->arrival, now) < 0 ||
	    buf_puts(b, "The mail system will keep trying to deliver it, "
	    "and will tell you\nif it finally gives up.\n") < 0)
		return -1;
	return buf_printf(b, "\nFor further assistance, please send mail to "
	    "postmaster.\n\nIf you do so, please include this problem "
	    "report.%s\n\n%19sThe mail system\n\n", kind == INCL_FULL ?
	    " You can\ndelete your own text from the attached returned "
	    "message." : "", "");
}

/* One recipient's paragraph on one line, before it is folded. */
static int
rcpt_line(struct buf *l, const struct dsn_rcpt *r, int failed)
{
	char addr[DSN_ADDR_MAX + 1], orcpt[DSN_ADDR_MAX + 1];
	char host[DSN_HOST_MAX + 1], diag[DSN_DIAG_MAX + 1], st[16];

	clean_addr(r->final, addr, sizeof(addr));
	clean_addr(r->orcpt, orcpt, sizeof(orcpt));
	clean_host(r->remote_mta, host, sizeof(host));
	clean_diag(r->diag != NULL ? r->diag : "", diag, sizeof(diag));
	fix_status(r->status, r->action, st, sizeof(st));
	if (buf_printf(l, "<%s>", addr) < 0)
		return -1;
	if (orcpt[0] != '\0' && ascii_casecmp(orcpt, addr) != 0 &&
	    buf_printf(l, " (expanded from <%s>)", orcpt) < 0)
		return -1;
	if (buf_puts(l, ": ") < 0)
		return -1;
	if (failed && r->action == DSN_DELAYED && buf_puts(l, "delivery "
	    "temporarily failed, still being retried: ") < 0)
		return -1;
	if (host[0] != '\0' && buf_printf(l, "host %s%s", host,
	    diag[0] != '\0' ? " said: " : ": ") < 0)
		return -1;
	if (diag[0] != '\0')
		return buf_puts(l, diag);
	return buf_printf(l, "%s (%s)", status_text(st), st);
}

/* "<addr>: host mx.example.org said: 550 ...", folded. */
static int
put_rcpt_text(struct buf *b, const struct dsn_rcpt *r, int failed)
{
	struct buf line;
	int rc = -1;

	buf_init(&line, 2 * DSN_ADDR_MAX + DSN_HOST_MAX + DSN_DIAG_MAX + 128);
	if (rcpt_line(&line, r, failed) == 0 &&
	    put_folded(b, 0, buf_ptr(&line), buf_used(&line), &text_fold) == 0)
		rc = buf_puts(b, "\n");
	buf_free(&line);
	return rc;
}

/* Part 1, text/plain. */
static int
put_human(struct buf *b, const struct dsn *d, int failed, int kind,
    time_t now)
{
	int i;

	if (put_intro(b, d, failed, kind, now) < 0)
		return -1;
	for (i = 0; i < d->nrcpts; i++)
		if ((i > 0 && buf_puts(b, "\n") < 0) ||
		    put_rcpt_text(b, &d->rcpts[i], failed) < 0)
			return -1;
	return 0;
}

/* RFC 3464 2.3: one recipient's fields. */
static int
put_rcpt_status(struct buf *b, const struct dsn_rcpt *r)
{
	char addr[DSN_ADDR_MAX + 1], host[DSN_HOST_MAX + 1];
	char diag[DSN_DIAG_MAX + 1], st[16];
	const char *type;

	clean_addr(r->final, addr, sizeof(addr));
	if (buf_printf(b, "\nFinal-Recipient: rfc822; %s\n", addr) < 0)
		return -1;
	clean_addr(r->orcpt, addr, sizeof(addr));
	if (addr[0] != '\0' &&
	    buf_printf(b, "Original-Recipient: rfc822; %s\n", addr) < 0)
		return -1;
	fix_status(r->status, r->action, st, sizeof(st));
	if (buf_printf(b, "Action: %s\nStatus: %s\n",
	    r->action == DSN_DELAYED ? "delayed" : "failed", st) < 0)
		return -1;
	/* 2.3.5: only if a remote MTA took part. */
	clean_host(r->remote_mta, host, sizeof(host));
	if (host[0] != '\0' && buf_printf(b, "Remote-MTA: dns; %s\n", host) < 0)
		return -1;
	clean_diag(r->diag != NULL ? r->diag : "", diag, sizeof(diag));
	if (diag[0] != '\0') {
		/* 2.3.6: "smtp" names an SMTP reply; our own words are
		 * another type, private ones start with X-. */
		type = is_smtp_reply(diag) ? "smtp" : "X-Yubin";
		if (buf_printf(b, "Diagnostic-Code: %s; ", type) < 0 ||
		    put_folded(b, strlen(type) + 19, diag, strlen(diag),
		    &field_fold) < 0 || buf_puts(b, "\n") < 0)
			return -1;
	}
	if (r->last_attempt != 0 &&
	    put_date(b, "Last-Attempt-Date", r->last_attempt) < 0)
		return -1;
	return 0;
}

/* Part 2, message/delivery-status: per-message fields, then per
 * recipient, each group after a blank line. */
static int
put_status(struct buf *b, const struct dsn *d)
{
	char host[DSN_HOST_MAX + 1], addr[DSN_ADDR_MAX + 1];
	int i;

	clean_host(d->reporting_mta, host, sizeof(host));
	if (buf_printf(b, "Reporting-MTA: dns; %s\n", host) < 0)
		return -1;
	clean_host(d->queue_id, host, sizeof(host));
	if (host[0] != '\0' &&
	    buf_printf(b, "X-Yubin-Queue-ID: %s\n", host) < 0)
		return -1;
	clean_addr(d->sender, addr, sizeof(addr));
	if (buf_printf(b, "X-Yubin-Sender: rfc822; %s\n", addr) < 0)
		return -1;
	if (d->arrival != 0 && put_date(b, "Arrival-Date", d->arrival) < 0)
		return -1;
	for (i = 0; i < d->nrcpts; i++)
		if (put_rcpt_status(b, &d->rcpts[i]) < 0)
			return -1;
	return 0;
}

/* --- the original --- */

/*
 * Append up to want octets read from where b ends, in pieces, so memory
 * grows with what the message really holds, not with the cap.
 */
static int
read_more(const struct dsn *d, struct buf *b, size_t want, int *eof)
{
	size_t step;
	char *p;
	long r;

	while (want > 0) {
		step = want < STREAM_CHUNK ? want : STREAM_CHUNK;
		if ((p = buf_reserve(b, step)) == NULL)
			return -1;
		r = d->read(d->arg, (unsigned long)b->len, p, step);
		/* A reader that claims more than it was asked for is
		 * broken: nothing it wrote can be trusted. */
		if (r < 0 || (unsigned long)r > (unsigned long)step)
			return -1;
		if (r == 0) {
			*eof = 1;
			break;
		}
		buf_commit(b, (size_t)r);
		want -= (size_t)r;
	}
	return 0;
}

/* The header's length with its blank line, or 0 if p[0..n) has none. */
static size_t
header_end(const char *p, size_t n, size_t from)
{
	size_t i;

	if (n > 0 && p[0] == '\n')
		return 1;
	for (i = from > 1 ? from : 1; i < n; i++)
		if (p[i] == '\n' && p[i - 1] == '\n')
			return i + 1;
	return 0;
}

/*
 * Read the original: all of it (full, if it fits the cap) or as far as
 * its header ends.  d->hdr_len only sizes the first read: the blank
 * line is always looked for, so a wrong value costs a read, not a
 * broken part.
 */
static int
read_original(const struct dsn *d, struct incl *in, size_t cap)
{
	size_t limit, want, from = 0, hend = 0, n;
	int eof = 0;

	limit = d->full ? cap + 1 : cap;  /* one more octet: "does not fit" */
	want = d->full ? limit : d->hdr_len > 0 && d->hdr_len <= cap ?
	    (size_t)d->hdr_len : READ_STEP;
	for (;;) {
		if (want > limit - in->data.len)
			want = limit - in->data.len;
		if (read_more(d, &in->data, want, &eof) < 0)
			return -1;
		n = in->data.len < cap ? in->data.len : cap;
		if (d->full && eof) {
			in->kind = INCL_FULL;
			in->len = n;
			in->hlen = header_end(in->data.data, n, 0);
			if (in->hlen == 0)
				in->hlen = n;
			return 0;
		}
		if ((hend = header_end(in->data.data, n, from)) > 0 || eof ||
		    n >= cap)
			break;
		from = n;
		want = READ_STEP;
	}
	if (hend > 0)
		in->len = hend - 1;	/* the header, without the blank line */
	else if (eof)
		in->len = n;		/* a message without a body */
	else {
		/* The header alone passes the cap: cut at a line end. */
		for (in->len = n; in->len > 0; in->len--)
			if (in->data.data[in->len - 1] == '\n')
				break;
		if (in->len == 0)
			in->len = n;
	}
	in->hlen = in->len;
	in->kind = INCL_HEADERS;
	return 0;
}

static int
get_original(const struct dsn *d, struct incl *in)
{
	size_t cap, i;

	memset(in, 0, sizeof(*in));
	buf_init(&in->data, 0);
	in->kind = INCL_NONE;
	if (d->read == NULL)
		return 0;
	cap = d->max_body > 0 ? (size_t)d->max_body : DSN_INCLUDE_MAX;
	if (d->max_body != (unsigned long)(size_t)d->max_body ||
	    cap > (size_t)-1 / 4)
		cap = (size_t)-1 / 4;
	buf_init(&in->data, cap + 1);
	if (read_original(d, in, cap) < 0)
		return -1;
	if (in->len == 0)
		in->kind = INCL_NONE;
	for (i = 0; i < in->len; i++)
		if ((unsigned char)in->data.data[i] >= 128) {
			in->eight = 1;
			break;
		}
	return 0;
}

/*
 * The original as it goes in, with its lines broken at DSN_LINE_MAX
 * (RFC 5322 2.1.1; RFC 5321 4.5.3.1.6 allows no longer text line
 * either): in the header by folding, in the body by a plain line end.
 */
static int
put_original(struct buf *b, const struct incl *in)
{
	const char *p = in->data.data, *q;
	size_t i = 0, e, lim, n = in->len;
	int hdr;

	while (i < n) {
		q = memchr(p + i, '\n', n - i);
		e = q != NULL ? (size_t)(q - p) : n;
		hdr = i < in->hlen;
		lim = DSN_LINE_MAX;
		while (e - i > lim) {
			if (buf_append(b, p + i, lim) < 0 ||
			    buf_puts(b, hdr ? "\n " : "\n") < 0)
				return -1;
			i += lim;
			lim = hdr ? DSN_LINE_MAX - 1 : DSN_LINE_MAX;
		}
		if (buf_append(b, p + i, e - i) < 0 || buf_puts(b, "\n") < 0)
			return -1;
		i = e + 1;
	}
	return 0;
}

/* --- the boundary --- */

static int
contains(const char *hay, size_t n, const char *needle)
{
	size_t len = strlen(needle);
	const char *p = hay, *end = hay + n;

	while ((size_t)(end - p) >= len &&
	    (p = memchr(p, needle[0], (size_t)(end - p) - len + 1)) != NULL) {
		if (memcmp(p, needle, len) == 0)
			return 1;
		p++;
	}
	return 0;
}

/*
 * "QUEUEID.N/host", Postfix's shape with a counter for its time: the
 * first N that none of the parts contains.  Checking is what makes it
 * safe; the queue id and host only make a clash unlikely, even when a
 * bounce is itself bounced and included.
 */
static int
choose_boundary(const struct dsn *d, const struct buf *p1,
    const struct buf *p2, const struct incl *in, char *out, size_t len)
{
	char qid[33], host[BOUNDARY_MAX + 1];
	int i, r;

	clean_word(d->queue_id != NULL && d->queue_id[0] != '\0' ?
	    d->queue_id : "dsn", qid, sizeof(qid));
	clean_word(d->reporting_mta, host, sizeof(host));
	for (i = 0; i < BOUNDARY_TRIES; i++) {
		r = snprintf(out, len, "%s.%d/%s", qid, i, host);
		if (r < 0 || (size_t)r >= len)
			return -1;
		if (r > BOUNDARY_MAX)
			out[BOUNDARY_MAX] = '\0';
		if (!contains(buf_ptr(p1), buf_used(p1), out) &&
		    !contains(buf_ptr(p2), buf_used(p2), out) &&
		    !contains(in->data.data, in->len, out))
			return 0;
	}
	return -1;
}

/* --- assembly --- */

static int
put_head(struct buf *b, const struct dsn *d, int failed, const char *bnd,
    int eight, time_t now)
{
	char pm[DSN_ADDR_MAX + 1], to[DSN_ADDR_MAX + 1];
	char id[MSG_ID_MAX], qid[33], host[DSN_HOST_MAX + 1];

	clean_addr(d->postmaster, pm, sizeof(pm));
	clean_word(d->reporting_mta, host, sizeof(host));
	if (pm[0] == '\0' &&
	    buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\n",
	    host) < 0)
		return -1;
	if (pm[0] != '\0' &&
	    buf_printf(b, "From: Mail Delivery System <%s>\n", pm) < 0)
		return -1;
	clean_addr(d->sender, to, sizeof(to));
	msg_make_id(id, sizeof(id));
	clean_word(d->queue_id != NULL && d->queue_id[0] != '\0' ?
	    d->queue_id : "dsn", qid, sizeof(qid));
	if (buf_printf(b, "To: <%s>\nSubject: %s\n", to, failed ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)") < 0 ||
	    put_date(b, "Date", now) < 0 ||
	    buf_printf(b, "Message-ID: <%s.%s@%s>\n", id[0] != '\0' ? id : "0",
	    qid, host) < 0 ||
	    buf_puts(b, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n")
	    < 0 ||
	    buf_printf(b, "\tboundary=\"%s\"\n", bnd) < 0 ||
	    (eight && buf_puts(b, "Content-Transfer-Encoding: 8bit\n") < 0))
		return -1;
	return buf_puts(b, "\nThis is a MIME-encapsulated message.\n\n");
}

static int
put_parts(struct buf *b, const struct buf *p1, const struct buf *p2,
    const struct incl *in, const char *bnd, int failed)
{
	if (buf_printf(b, "--%s\nContent-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", bnd) < 0 ||
	    buf_append(b, buf_ptr(p1), buf_used(p1)) < 0 ||
	    buf_printf(b, "\n--%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n", bnd) < 0 ||
	    buf_append(b, buf_ptr(p2), buf_used(p2)) < 0)
		return -1;
	if (in->kind != INCL_NONE &&
	    (buf_printf(b, "\n--%s\nContent-Description: %s%s\n"
	    "Content-Type: %s\n%s\n", bnd,
	    failed ? "Undelivered Message" : "Delayed Message",
	    in->kind == INCL_FULL ? "" : " Headers",
	    in->kind == INCL_FULL ? "message/rfc822" : "text/rfc822-headers",
	    in->eight ? "Content-Transfer-Encoding: 8bit\n" : "") < 0 ||
	    put_original(b, in) < 0))
		return -1;
	return buf_printf(b, "\n--%s--\n", bnd);
}

static int
dsn_valid(const struct dsn *d)
{
	char a[DSN_ADDR_MAX + 1];
	int i;

	clean_addr(d->sender, a, sizeof(a));
	if (a[0] == '\0' || d->reporting_mta == NULL ||
	    d->reporting_mta[0] == '\0' || d->rcpts == NULL || d->nrcpts < 1)
		return 0;
	for (i = 0; i < d->nrcpts; i++) {
		clean_addr(d->rcpts[i].final, a, sizeof(a));
		if (a[0] == '\0' || (d->rcpts[i].action != DSN_FAILED &&
		    d->rcpts[i].action != DSN_DELAYED))
			return 0;
	}
	return 1;
}

int
dsn_compose(const struct dsn *d, struct buf *out)
{
	struct buf p1, p2;
	struct incl in;
	char bnd[128];		/* 32 + "." + 2 + "/" + 70, then cut to 70 */
	size_t used = buf_used(out);
	time_t now = time(NULL);
	int i, failed = 0, rc = -1;

	if (d == NULL || out == NULL || !dsn_valid(d))
		return -1;
	for (i = 0; i < d->nrcpts; i++)
		failed |= d->rcpts[i].action == DSN_FAILED;
	buf_init(&p1, DSN_REPORT_MAX / 2);
	buf_init(&p2, DSN_REPORT_MAX / 2);
	if (get_original(d, &in) == 0 &&
	    put_human(&p1, d, failed, in.kind, now) == 0 &&
	    put_status(&p2, d) == 0 &&
	    choose_boundary(d, &p1, &p2, &in, bnd, sizeof(bnd)) == 0 &&
	    put_head(out, d, failed, bnd, in.kind != INCL_NONE && in.eight,
	    now) == 0 &&
	    put_parts(out, &p1, &p2, &in, bnd, failed) == 0)
		rc = 0;
	else
		out->len = out->off + used;	/* as it was */
	buf_free(&p1);
	buf_free(&p2);
	buf_free(&in.data);
	return rc;
}

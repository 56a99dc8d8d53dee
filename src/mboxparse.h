/*
 * mboxparse.h - reading an mbox file into an index of its messages
 * (RFC 4155, DESIGN.md "Mail store"), incrementally: the caller feeds
 * the file in windows of any size (say 256 KB per loop turn) and the
 * parser reports each message as it is complete.  Pure: no I/O except
 * through the caller's peek callback.
 *
 * What it accepts, besides our own files: mail.local (Solaris) with
 * Content-Length: and unquoted "From " lines (the length is honoured
 * only when it lands exactly on the end of the file or on a From_ line,
 * as Dovecot does), mutt's mboxcl/mboxcl2, UW imapd's files (the X-IMAP
 * pseudo-message, marked so it is hidden), Dovecot's headers.
 */
#ifndef YUBIN_MBOXPARSE_H
#define YUBIN_MBOXPARSE_H

#include <sys/types.h>
#include <time.h>

/* Message flags, as Status:/X-Status: hold them (UW, Dovecot, mutt). */
#define MF_SEEN		0x01	/* Status: R */
#define MF_OLD		0x02	/* Status: O (not \Recent) */
#define MF_ANSWERED	0x04	/* X-Status: A */
#define MF_FLAGGED	0x08	/* X-Status: F */
#define MF_DRAFT	0x10	/* X-Status: T */
#define MF_DELETED	0x20	/* X-Status: D */

/* A header field we may rewrite in place: where it is, how long. */
struct mbox_field {
	off_t		off;		/* first byte of the line, -1 if none */
	unsigned long	len;		/* whole line incl. LF, and the
					 * padding spaces/lines after it */
};

struct mbox_msg {
	off_t		from;		/* the From_ line */
	off_t		hdr;		/* first header line */
	off_t		body;		/* first body byte (after the blank) */
	off_t		end;		/* end of the message text: the LF
					 * ending its last line is included,
					 * the separating blank line is not */
	unsigned long	hdr_lines;	/* LFs in [hdr, body) */
	unsigned long	body_lines;	/* LFs in [body, end) */
	/* sizes as clients see them, every LF as CRLF: */
	/* rfc822 size = (body - hdr) + hdr_lines + (end - body) + body_lines
	 * minus the bytes of our own metadata header lines (below) and
	 * their line count, which clients never see */
	unsigned long	meta_bytes;	/* bytes of Status, X-Status,
					 * X-Keywords, X-UID, X-IMAP,
					 * X-IMAPbase, Content-Length,
					 * X-UIDL lines (with padding) */
	unsigned long	meta_lines;
	time_t		date;		/* from the From_ line (or 0) */
	unsigned long	uid;		/* X-UID, 0 if none or not numeric */
	unsigned	flags;		/* MF_* */
	char		uidl[72];	/* X-UIDL value ("" if none) */
	int		pseudo;		/* UW's X-IMAP pseudo-message */
	int		nolf;		/* its last line has no LF (the
					 * end of the file) */
	struct mbox_field status, xstatus, xkeywords, xuid, ximapbase;
	/* X-Keywords value, in file order, space-separated ("" if none);
	 * bounded: longer lists are cut at a word boundary and cut is set */
	char		keywords[256];
	int		keywords_cut;
	/* From X-IMAPbase: (or UW's X-IMAP:) in this message, else 0 */
	unsigned long	uidvalidity, uidnext;
};

struct mboxp;	/* parser state, opaque */

/*
 * peek: read up to len bytes of the file at off into buf; return the
 * number read (0 at end of file) or -1.  Used only to check where a
 * Content-Length: points.
 */
typedef long mboxp_peek_fn(void *arg, off_t off, char *buf, size_t len);
/* Called once per complete message, in file order. */
typedef int mboxp_msg_fn(void *arg, const struct mbox_msg *m);

struct mboxp *mboxp_new(off_t filesize, mboxp_peek_fn *peek,
    mboxp_msg_fn *msg, void *arg);
/*
 * Feed the bytes of the file starting at offset off (which must be where
 * the previous call's consumption ended; 0 at first).  Returns the
 * number of bytes consumed (the caller feeds the rest again, with more
 * after it), or -1 if msg() failed or the file is not an mbox (it does
 * not start with "From ").  A window of at least MBOXP_WINDOW bytes is
 * always consumed at least in part.  At end of file call with len 0:
 * the last message is reported.
 */
#define MBOXP_WINDOW	65536
long mboxp_feed(struct mboxp *p, off_t off, const char *buf, size_t len);
/*
 * Start parsing at off instead of 0: the first byte of a message (where
 * a previous parse of the same file ended, after its final blank line),
 * for mail appended since.  Call before the first mboxp_feed().
 */
void mboxp_start_at(struct mboxp *p, off_t off);
void mboxp_free(struct mboxp *p);

/* Parse an asctime-style From_ line date ("Sun Nov 22 04:14:00 2026",
 * with optional zone); 0 if unreadable. */
time_t mbox_from_date(const char *line, size_t len);

/*
 * Is line (len bytes, its LF may be included) a From_ line: "From ",
 * a sender and a date in asctime form, as Dovecot, mutt and mailx
 * require?  A body line such as "From here on ..." is not.
 */
int mbox_is_from_line(const char *line, size_t len);

#endif

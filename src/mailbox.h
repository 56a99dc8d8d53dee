/*
 * mailbox.h - an open mbox file as sessions use it: locked, indexed
 * (offsets, sizes, UIDs, flags), streamed to clients, and rewritten
 * safely at the end (DESIGN.md "Mail store").
 *
 * yubind keeps ONE descriptor per mailbox (lockf locks belong to the
 * process: closing any other descriptor of the file would drop them),
 * and this module's own table decides between our sessions and our
 * deliveries: while a session holds a mailbox, deliver.c waits.
 */
#ifndef YUBIN_MAILBOX_H
#define YUBIN_MAILBOX_H

#include <sys/types.h>

#include "mboxparse.h"
#include "user.h"

struct conn;
struct mailbox;

/* One message as sessions see it. */
struct mb_msg {
	off_t		from, hdr, body, end;	/* as in struct mbox_msg */
	unsigned long	hdr_lines, body_lines;
	unsigned long	meta_bytes, meta_lines;
	unsigned long	size;		/* octets as sent: CRLF, no metadata */
	unsigned long	uid;
	time_t		date;		/* of the From_ line: INTERNALDATE */
	unsigned	flags;		/* MF_*, as they should be stored */
	unsigned char	uid_new;	/* UID assigned now: write X-UID */
	unsigned char	changed;	/* flags changed: rewrite the header */
	unsigned char	deleted;	/* remove at commit */
	unsigned char	nolf;		/* the text does not end in LF */
	char		*uidl;		/* qpopper's X-UIDL, or NULL */
	char		*keywords;	/* X-Keywords value, or NULL */
};

#define MB_OK		0
#define MB_INUSE	1	/* another session or program holds it */
#define MB_FAIL		2	/* cannot open, lock or read: see errno */

typedef void mailbox_open_fn(void *arg, int status, struct mailbox *mb);
typedef void mailbox_done_fn(void *arg, int ok);

/*
 * Open, lock and index u's mailbox at path, in steps from the loop.
 * fn is called once (never from inside this call) with the result.
 * Returns a handle for mailbox_cancel(), or NULL (fn not called).
 */
struct mailbox *mailbox_open(const struct user *u, const char *path,
    mailbox_open_fn *fn, void *arg);
/* Give up an open in progress or an open mailbox, changing nothing
 * but UIDs that were handed out (so UIDLs stay stable). */
void mailbox_cancel(struct mailbox *mb);

int mailbox_count(const struct mailbox *mb);
struct mb_msg *mailbox_msg(struct mailbox *mb, int i);
unsigned long mailbox_uidvalidity(const struct mailbox *mb);

/*
 * Stream message i to c as POP3 wants it (RFC 1939 3): CRLF line ends,
 * dot-stuffed, our metadata headers left out, the terminating "."
 * line added.  lines < 0: the whole message; else the header and that
 * many body lines (TOP).  done is called at the end.
 */
int mailbox_send_pop3(struct mailbox *mb, struct conn *c, int i, long lines,
    mailbox_done_fn *done, void *arg);

/*
 * Write back what changed (deleted messages removed, flags, new UIDs),
 * crash-safely, in steps; then unlock and free the mailbox.  done(ok)
 * is called from the loop when it is over.
 */
int mailbox_commit(struct mailbox *mb, mailbox_done_fn *done, void *arg);

/*
 * IMAP's way in (DESIGN.md): a session locks and re-reads the mailbox
 * for each command, which the kept index makes cheap, and lets it go
 * at the end of the command.  Unlike mailbox_open(), this waits (up to
 * 10 s, then MB_INUSE) while another of our sessions holds the file.
 */
struct mailbox *mailbox_sync(const struct user *u, const char *path,
    mailbox_open_fn *fn, void *arg);
/* 1 if this open parsed the file anew (changes kept in memory by an
 * earlier open may be lost: sessions apply theirs again). */
int mailbox_fresh(const struct mailbox *mb);
/* 1 if something waits to be written (flags, new UIDs, the base). */
int mailbox_pending(const struct mailbox *mb);
/* Unlock now, writing nothing: the index, with what waits to be
 * written, is kept for the next open (a later commit writes it). */
void mailbox_release(struct mailbox *mb);
int mailbox_fd(const struct mailbox *mb);
unsigned long mailbox_uidnext(const struct mailbox *mb);
const char *mailbox_path(const struct mailbox *mb);

/*
 * A message's text as IMAP reads it: the header without our metadata
 * lines, then the body, as stored (LF line ends).  Offsets from 0 (the
 * first header byte); hlen is the header's length with its blank line,
 * len the whole.  read fits mime_read_fn.
 */
struct mb_text {
	struct mailbox	*mb;
	int		i;
	char		*hdr;
	unsigned long	hlen, len;
};
int mailbox_text_open(struct mb_text *t, struct mailbox *mb, int i);
long mailbox_text_read(void *t, unsigned long off, char *buf, size_t len);
void mailbox_text_close(struct mb_text *t);

/*
 * Append messages held in a spool file fd (each one: an optional From_
 * line, a header without metadata and without its blank line, a body
 * already in mbox form: LF line ends, From_ lines quoted) to an open
 * mailbox, with their flags, new UIDs and, for an empty mailbox, the
 * X-IMAPbase line; fsync; then read them into the index.  fn(ok,
 * first_uid) is called from the loop; the mailbox stays open.
 */
struct mb_append {
	off_t		from, hdr, body;	/* offsets in the spool */
	unsigned long	fromlen, hdrlen, bodylen;	/* fromlen 0: made */
	unsigned	flags;
	const char	*keywords;	/* or NULL */
	time_t		date;		/* INTERNALDATE */
	int		clen;		/* the body has unquoted From_ lines:
					 * write Content-Length */
};
typedef void mailbox_append_fn(void *arg, int ok, unsigned long first_uid);
int mailbox_append(struct mailbox *mb, int fd, struct mb_append *v, int n,
    mailbox_append_fn *fn, void *arg);

/* How many mailboxes are open, being read or written (shutdown). */
int mailbox_busy(void);

/* Whether one of our sessions holds the mailbox at path (deliver.c). */
int mailbox_held(const char *path);

/*
 * Finish or roll back a rewrite that a crash interrupted: called with
 * the mailbox locked, before reading it.  0, or -1 (leave it alone).
 */
int mailbox_recover(int fd, const char *path);

#endif

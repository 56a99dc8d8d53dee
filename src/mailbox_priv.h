/*
 * mailbox_priv.h - what mailbox.c and mailbox_text.c share: the open
 * mailbox itself.  Nothing else includes this.
 */
#ifndef YUBIN_MAILBOX_PRIV_H
#define YUBIN_MAILBOX_PRIV_H

#include "buf.h"
#include "ev.h"

#define STEP_BYTES	(256UL * 1024UL)	/* I/O per loop turn */
#define LOCK_WAIT_MS	10000UL		/* then [IN-USE] */
#define HDR_MAX		(256UL * 1024UL)	/* a header we rewrite */
#define SYNC_EVERY	(2UL * 1024UL * 1024UL)	/* copied, then fsync */
#define TRIM_STEP	(32UL * 1024UL * 1024UL)	/* cut per turn */

enum mb_state {
	MB_LOCKING, MB_READING, MB_OPEN, MB_COMMIT, MB_APPEND, MB_DEAD
};

struct mailbox {
	struct mailbox		*next;		/* all open mailboxes */
	enum mb_state		state;
	struct user		u;
	char			path[512];
	int			fd;		/* the one descriptor */
	int			dot, kern;	/* locks held */
	int			missing;	/* no file yet: empty */
	off_t			size;		/* when locked and read */
	struct mb_msg		*msgs;
	int			n, cap;
	unsigned long		uidvalidity, uidnext;
	int			base_dirty;	/* X-IMAPbase to (re)write */
	int			unwritten;	/* UIDs given out, not in the file */
	off_t			unsynced;	/* written since the last fsync */
	int			trimming;	/* removing the used copy */
	/* stepping */
	struct ev_timer		timer;
	unsigned long		since;
	struct mboxp		*parser;
	off_t			pos;
	struct buf		win;
	mailbox_open_fn		*open_fn;
	mailbox_done_fn		*done_fn;
	void			*arg;
	/* commit */
	int			rfd;		/* recovery file */
	int			first;		/* first message rewritten */
	off_t			start;		/* its offset */
	off_t			wpos;		/* where the rewrite writes */
	int			cur;		/* message being written */
	int			cphase;		/* 0 head, 1 body, 2 gap */
	off_t			bpos;		/* body bytes written */
	int			first_kept;
	int			saving;		/* copying to the recovery file */
	off_t			base_off;	/* X-IMAPbase of message 1 */
	unsigned long		base_len;
	unsigned long		file_validity;	/* as the file had it */
	off_t			pseudo_end;	/* UW's pseudo-message, if any */
	/* the file as we last saw it, to know a kept view is still good */
	dev_t			dev;
	ino_t			ino;
	time_t			mtime, ctime;
	off_t			resume;		/* parse from here (appended) */
	int			cacheable;	/* the index matches the file */
	/* where the message being rewritten lands in the new file */
	off_t			nf, nb, nbase_off;
	int			base_written;
	unsigned long		nhl, nmb, nml, nbase_len;
	char			rpath[600];
	/* IMAP */
	int			wait_own;	/* wait for our own holders */
	int			exclusive;	/* a POP3 session's: no sharing */
	int			fresh;		/* parsed anew: no kept index */
	/* an append in progress (mailbox_text.c) */
	struct mb_append	*app;
	int			napp, appi, aphase;
	int			appfd;
	off_t			appold, apppos, appsep;
	int			cancel_after;	/* the session left */
	unsigned long		appuid;
	mailbox_append_fn	*app_fn;
	void			*app_arg;
};


/* mailbox.c */
int mb_copy_range(int from, off_t foff, int to, off_t toff, off_t len);
void mb_reparse_tail(struct mailbox *mb, off_t from, mailbox_open_fn *fn,
    void *arg);
int mb_base_in_place(struct mailbox *mb);
int mb_put_meta(struct mailbox *mb, struct buf *b, const struct mb_msg *m,
    int first_kept, int clen);
/* mailbox_text.c */
void mb_append_step(struct mailbox *mb);

#endif

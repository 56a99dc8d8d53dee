/*
 * mailbox.c - open mailboxes: locking, indexing in steps, streaming in
 * POP3 form, and the crash-safe rewrite (see mailbox.h).
 *
 * The rewrite (DESIGN.md): everything from the first message that
 * changes to the end of the file is first copied to a recovery file next
 * to the mailbox ("." USER ".yubin-recover"), fsynced, and only then
 * made visible under its final name.  The mailbox is then rewritten in
 * place from that copy, truncated and fsynced, and the recovery file is
 * removed.  Whoever next locks the mailbox and finds a recovery file
 * puts the saved bytes back: a kill -9 at any moment leaves either the
 * old mailbox or the new one, never a mixture, nothing lost or doubled.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "deliver.h"
#include "ev.h"
#include "lock.h"
#include "log.h"
#include "mailbox.h"
#include "mailbox_priv.h"
#include "mbox.h"
#include "msg.h"
#include "util.h"


static struct mailbox *open_boxes;

/*
 * Indexes kept between sessions (DESIGN.md: one view per mailbox): the
 * next login to an unchanged mailbox needs no parse at all, and one to a
 * mailbox that only grew parses only what was appended.  The file's
 * device, inode, size, mtime and ctime, and From_ lines where the index
 * says messages start, must all agree before a kept index is used.
 */
struct mb_kept {
	struct mb_kept		*next;
	char			path[512];
	dev_t			dev;
	ino_t			ino;
	off_t			size;
	time_t			mtime, ctime;
	long			mtime_ns, ctime_ns;
	int			ambiguous;	/* stored in its mtime's second */
	struct mb_msg		*msgs;
	int			n, cap;
	unsigned long		uidvalidity, uidnext, file_validity, base_len;
	off_t			base_off, pseudo_end;
	int			base_dirty, unwritten;
};

static struct mb_kept *kept;
static unsigned long kept_msgs;

#ifdef HAVE_STRUCT_STAT_ST_MTIM
#define MTIME_NS(st)	((long)(st)->st_mtim.tv_nsec)
#define CTIME_NS(st)	((long)(st)->st_ctim.tv_nsec)
#else
#define MTIME_NS(st)	0L
#define CTIME_NS(st)	0L
#endif

static void mb_step(void *arg);
static void memo_note(const struct mailbox *mb);
static int memo_restore(struct mailbox *mb);
static unsigned long memo_validity(const struct mailbox *mb);
static void trim_step(struct mailbox *mb);
static void kept_store(struct mailbox *mb);
static int kept_take(struct mailbox *mb, const struct stat *st);

int
mailbox_held(const char *path)
{
	struct mailbox *mb;

	for (mb = open_boxes; mb != NULL; mb = mb->next)
		if (mb->state != MB_DEAD && strcmp(mb->path, path) == 0)
			return 1;
	return 0;
}

/*
 * Another of our opens has (or is reading) the file.  Our own lockf
 * would succeed against it, since the kernel's locks belong to the
 * process: this table alone keeps our sessions apart.
 */
static int
held_by_other(const struct mailbox *self)
{
	const struct mailbox *mb;

	for (mb = open_boxes; mb != NULL; mb = mb->next)
		if (mb != self && mb->state != MB_LOCKING &&
		    mb->state != MB_DEAD &&
		    strcmp(mb->path, self->path) == 0)
			return 1;
	return 0;
}

/* The file was let go: opens waiting for it try at once. */
static void
kick_waiters(const char *path)
{
	struct mailbox *mb;

	for (mb = open_boxes; mb != NULL; mb = mb->next)
		if (mb->state == MB_LOCKING && strcmp(mb->path, path) == 0)
			(void)ev_timer_set(&mb->timer, 0);
}

int
mailbox_busy(void)
{
	const struct mailbox *mb;
	int n = 0;

	for (mb = open_boxes; mb != NULL; mb = mb->next)
		n++;
	return n;
}

int
mailbox_fresh(const struct mailbox *mb)
{
	return mb->fresh;
}

/*
 * What the file lacks that we gave out: new UIDs, the base, UW's
 * pseudo-message to replace.  (Flags a session changed are that
 * session's to write; a loop over every message here would cost each
 * IMAP command a pass over the whole index.)
 */
int
mailbox_pending(const struct mailbox *mb)
{
	return mb->base_dirty || mb->pseudo_end > 0 || mb->unwritten;
}

int
mailbox_fd(const struct mailbox *mb)
{
	return mb->fd;
}

unsigned long
mailbox_uidnext(const struct mailbox *mb)
{
	return mb->uidnext;
}

const char *
mailbox_path(const struct mailbox *mb)
{
	return mb->path;
}

int
mailbox_count(const struct mailbox *mb)
{
	return mb->n;
}

struct mb_msg *
mailbox_msg(struct mailbox *mb, int i)
{
	return i >= 0 && i < mb->n ? &mb->msgs[i] : NULL;
}

unsigned long
mailbox_uidvalidity(const struct mailbox *mb)
{
	return mb->uidvalidity;
}

static int
recover_path(struct mailbox *mb)
{
	const char *slash = strrchr(mb->path, '/');
	int r;

	if (slash == NULL)
		return -1;
	r = snprintf(mb->rpath, sizeof(mb->rpath), "%.*s/.%s.yubin-recover",
	    (int)(slash - mb->path), mb->path, slash + 1);
	return (r < 0 || (size_t)r >= sizeof(mb->rpath)) ? -1 : 0;
}

static void
unlock_all(struct mailbox *mb)
{
	if (mb->kern)
		kernel_lock_release(mb->fd, config->lock_methods);
	if (mb->fd >= 0)
		close(mb->fd);
	if (mb->dot)
		dotlock_release(mb->path);
	mb->fd = -1;
	mb->dot = mb->kern = 0;
}

static void
mb_free(struct mailbox *mb)
{
	struct mailbox **pp;
	int i;

	for (pp = &open_boxes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == mb) {
			*pp = mb->next;
			break;
		}
	if (mb->cacheable) {
		memo_note(mb);
		kept_store(mb);
	}
	unlock_all(mb);
	/* Deliveries and our opens that waited may go now. */
	deliver_kick(mb->path);
	kick_waiters(mb->path);
	if (mb->rfd >= 0)
		close(mb->rfd);
	ev_timer_del(&mb->timer);
	if (mb->parser != NULL)
		mboxp_free(mb->parser);
	buf_free(&mb->win);
	for (i = 0; i < mb->n; i++) {
		free(mb->msgs[i].uidl);
		free(mb->msgs[i].keywords);
	}
	free(mb->msgs);
	free(mb);
}

/* Report the end of an open; the mailbox stays only on success. */
static void
open_done(struct mailbox *mb, int status)
{
	mailbox_open_fn *fn = mb->open_fn;
	void *arg = mb->arg;

	mb->open_fn = NULL;
	if (status == MB_OK || mb->app_fn != NULL) {
		/* an append's re-read keeps the mailbox open even if it
		 * fails: the session still owns it */
		mb->state = MB_OPEN;
		fn(arg, status, mb);
		return;
	}
	mb_free(mb);
	fn(arg, status, NULL);
}

/* --- locking --- */

/* One attempt at every lock, in the one order; LOCK_* result. */
static int
try_lock(struct mailbox *mb)
{
	struct stat st;
	int r;

	if ((config->lock_methods & LOCK_DOTLOCK) && !mb->dot) {
		r = dotlock_try(mb->path, config->lock_stale);
		if (r != LOCK_OK)
			return r;
		mb->dot = 1;
	}
	if (mb->fd < 0 && (mb->fd = mbox_open(&mb->u, mb->path, 0)) < 0) {
		if (errno != ENOENT)
			return LOCK_FAIL;
		mb->missing = 1;	/* empty; the dotlock keeps it so */
		return LOCK_OK;
	}
	if ((config->lock_methods & (LOCK_LOCKF | LOCK_FLOCK)) && !mb->kern) {
		r = kernel_lock_try(mb->fd, config->lock_methods);
		if (r != LOCK_OK)
			return r;
		mb->kern = 1;
	}
	if (fstat(mb->fd, &st) < 0)
		return LOCK_FAIL;
	mb->size = st.st_size;
	return LOCK_OK;
}

static void
start_reading(struct mailbox *mb)
{
	if (!mb->missing && mailbox_recover(mb->fd, mb->path) < 0) {
		open_done(mb, MB_FAIL);
		return;
	}
	if (!mb->missing) {
		struct stat st;

		if (fstat(mb->fd, &st) < 0) {
			open_done(mb, MB_FAIL);
			return;
		}
		mb->size = st.st_size;
		/* A kept index has no deletions (they are written before
		 * it is kept) but may have changes waiting to be written
		 * (mailbox_release()): those stay pending. */
		if (kept_take(mb, &st)) {
			if (mb->resume < 0) {		/* unchanged: no parse */
				open_done(mb, MB_OK);
				return;
			}
		}
	}
	mb->state = MB_READING;
	mb->fresh = mb->resume <= 0;
	mb->pos = mb->resume > 0 ? mb->resume : 0;
	(void)ev_timer_set(&mb->timer, 0);
}

static void
lock_step(struct mailbox *mb)
{
	int r;

	if (held_by_other(mb)) {
		/* kicked when it is let go; the timer is the backstop */
		if (now_ms() - mb->since >= LOCK_WAIT_MS)
			open_done(mb, MB_INUSE);
		else if (ev_timer_set(&mb->timer, 1000) < 0)
			open_done(mb, MB_FAIL);
		return;
	}
	r = try_lock(mb);

	if (r == LOCK_OK) {
		start_reading(mb);
		return;
	}
	/* Nothing half-held while we wait: the others may need it. */
	unlock_all(mb);
	if (r == LOCK_FAIL) {
		warn("%s: cannot open or lock: %s", mb->path, strerror(errno));
		open_done(mb, MB_FAIL);
	} else if (now_ms() - mb->since >= LOCK_WAIT_MS)
		open_done(mb, MB_INUSE);
	else if (ev_timer_set(&mb->timer, 500) < 0)
		open_done(mb, MB_FAIL);
}

/*
 * POP3's way in: a mailbox another POP3 session has is refused at once
 * ([IN-USE], RFC 2449 8.1.1); one that an IMAP command or the end of a
 * session is writing is waited for (that takes moments).
 */
struct mailbox *
mailbox_open(const struct user *u, const char *path, mailbox_open_fn *fn,
    void *arg)
{
	struct mailbox *mb;

	for (mb = open_boxes; mb != NULL; mb = mb->next)
		if (mb->exclusive && mb->state != MB_DEAD &&
		    mb->state != MB_COMMIT && strcmp(mb->path, path) == 0) {
			errno = EBUSY;
			return NULL;
		}
	if ((mb = mailbox_sync(u, path, fn, arg)) != NULL)
		mb->exclusive = 1;
	return mb;
}

struct mailbox *
mailbox_sync(const struct user *u, const char *path, mailbox_open_fn *fn,
    void *arg)
{
	struct mailbox *mb;

	if ((mb = malloc(sizeof(*mb))) == NULL)
		return NULL;
	memset(mb, 0, sizeof(*mb));
	mb->u = *u;
	if (strlcpy(mb->path, path, sizeof(mb->path)) >= sizeof(mb->path) ||
	    recover_path(mb) < 0) {
		free(mb);
		errno = ENAMETOOLONG;
		return NULL;
	}
	mb->fd = mb->rfd = -1;
	mb->open_fn = fn;
	mb->arg = arg;
	mb->state = MB_LOCKING;
	mb->since = now_ms();
	buf_init(&mb->win, 0);
	ev_timer_init(&mb->timer, mb_step, mb);
	mb->next = open_boxes;
	open_boxes = mb;
	if (ev_timer_set(&mb->timer, 0) < 0) {
		mb_free(mb);
		return NULL;
	}
	return mb;
}

/* --- reading the index --- */

static long
peek(void *arg, off_t off, char *buf, size_t len)
{
	struct mailbox *mb = arg;
	ssize_t n;

	if (lseek(mb->fd, off, SEEK_SET) < 0)
		return -1;
	n = read(mb->fd, buf, len);
	return (long)n;
}

/*
 * The size of a message as clients get it: every LF as CRLF, without
 * our metadata lines -- except in a header over HDR_MAX, which POP3 and
 * IMAP send as it stands (mailbox_text_open, put_header), so that the
 * size they announce is always the size they send.
 */
static unsigned long
client_size(const struct mb_msg *m)
{
	unsigned long size = (unsigned long)(m->end - m->hdr) + m->hdr_lines +
	    m->body_lines;

	if ((unsigned long)(m->body - m->hdr) <= HDR_MAX)
		size -= m->meta_bytes + m->meta_lines;
	return size;
}

static int
add_msg(void *arg, const struct mbox_msg *m)
{
	struct mailbox *mb = arg;
	struct mb_msg *x, *nv;
	int ncap;

	/* UW's pseudo-message carries the folder's UIDVALIDITY and UIDNEXT
	 * (in X-IMAP:); it is never shown, and is not written back: our
	 * X-IMAPbase in the first real message takes its place. */
	if (m->pseudo) {
		if (mb->uidvalidity == 0) {
			mb->uidvalidity = m->uidvalidity;
			mb->uidnext = m->uidnext;
			mb->pseudo_end = m->end;
			mb->base_dirty = 1;
		}
		return 0;
	}
	if (mb->n == 0 && mb->uidvalidity == 0 &&
	    (m->uidvalidity != 0 || m->uidnext != 0)) {
		mb->uidvalidity = mb->file_validity = m->uidvalidity;
		mb->uidnext = m->uidnext;
		mb->base_off = m->ximapbase.off;
		mb->base_len = m->ximapbase.len;
	} else if (mb->n == 0 && m->uidvalidity != 0 &&
	    m->uidvalidity == mb->uidvalidity && mb->pseudo_end == 0) {
		/* the first message appended to a mailbox we knew empty */
		mb->file_validity = m->uidvalidity;
		mb->base_off = m->ximapbase.off;
		mb->base_len = m->ximapbase.len;
	}
	if (mb->n == mb->cap) {
		ncap = mb->cap ? mb->cap * 2 : 64;
		nv = realloc(mb->msgs, (size_t)ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		mb->msgs = nv;
		mb->cap = ncap;
	}
	x = &mb->msgs[mb->n];
	memset(x, 0, sizeof(*x));
	x->from = m->from;
	x->hdr = m->hdr;
	x->body = m->body;
	x->end = m->end;
	x->hdr_lines = m->hdr_lines;
	x->body_lines = m->body_lines;
	x->meta_bytes = m->meta_bytes;
	x->meta_lines = m->meta_lines;
	x->size = client_size(x);
	x->uid = m->uid;
	x->date = m->date;
	x->nolf = (unsigned char)m->nolf;
	x->flags = m->flags;
	if ((m->uidl[0] != '\0' && (x->uidl = malloc(strlen(m->uidl) + 1)) ==
	    NULL) || (m->keywords[0] != '\0' &&
	    (x->keywords = malloc(strlen(m->keywords) + 1)) == NULL)) {
		free(x->uidl);
		return -1;
	}
	if (x->uidl != NULL)
		strcpy(x->uidl, m->uidl);
	if (x->keywords != NULL)
		strcpy(x->keywords, m->keywords);
	mb->n++;
	return 0;
}

/*
 * UIDs (RFC 3501 2.3.1.1): kept when the file has a UIDVALIDITY and
 * they ascend below UIDNEXT; anything else gets a new one.  Without any
 * UIDVALIDITY the old X-UIDs mean nothing and all are numbered anew.
 */
static void
assign_uids(struct mailbox *mb)
{
	unsigned long last = 0;
	int i;

	if (mb->uidvalidity == 0 && !memo_restore(mb)) {
		unsigned long was = memo_validity(mb);

		/* RFC 3501 2.3.1.1: UIDs that did not persist need a
		 * UIDVALIDITY greater than the one a session may still
		 * hold - time(NULL) alone repeats within the second (or
		 * goes back with the clock), and a session would then
		 * take the new UIDs for the old ones */
		mb->uidvalidity = (unsigned long)time(NULL);
		if (was != 0 && mb->uidvalidity <= was)
			mb->uidvalidity = was + 1;
		mb->uidnext = 1;
		mb->base_dirty = 1;
		for (i = 0; i < mb->n; i++)
			mb->msgs[i].uid = 0;
	}
	if (mb->uidnext == 0)
		mb->uidnext = 1;
	for (i = 0; i < mb->n; i++) {
		struct mb_msg *m = &mb->msgs[i];

		if (m->uid > last && m->uid < mb->uidnext) {
			last = m->uid;
			continue;
		}
		if (m->uid >= mb->uidnext && m->uid > last) {
			/* a higher UID than the base knows: trust the file */
			last = m->uid;
			mb->uidnext = m->uid + 1;
			mb->base_dirty = 1;
			continue;
		}
		m->uid = mb->uidnext++;
		m->uid_new = 1;
		mb->unwritten = 1;
		last = m->uid;
		mb->base_dirty = 1;
	}
}

/*
 * What we last knew of each mailbox's UIDs, kept longer than its index:
 * another program (mailx deleting the first message) may drop the
 * X-IMAPbase line while the X-UID lines stay.  Then the UIDs are still
 * good, and the UIDVALIDITY we knew goes back into the file.
 */
struct mb_memo {
	struct mb_memo	*next;
	char		path[512];
	unsigned long	uidvalidity, uidnext;
};

static struct mb_memo *memos;
static int nmemos;

static void
memo_note(const struct mailbox *mb)
{
	struct mb_memo *m, **pp;

	if (mb->uidvalidity == 0)
		return;
	for (pp = &memos; (m = *pp) != NULL; pp = &m->next)
		if (strcmp(m->path, mb->path) == 0) {
			*pp = m->next;
			break;
		}
	if (m == NULL) {
		if (nmemos >= MAILBOX_MEMOS) {
			/* the oldest goes */
			for (pp = &memos; (*pp)->next != NULL; pp = &(*pp)->next)
				;
			m = *pp;
			*pp = NULL;
		} else if ((m = malloc(sizeof(*m))) == NULL)
			return;
		else
			nmemos++;
		strlcpy(m->path, mb->path, sizeof(m->path));
	}
	m->uidvalidity = mb->uidvalidity;
	m->uidnext = mb->uidnext;
	m->next = memos;
	memos = m;
}

/* What we last knew of mb's UIDs, or NULL. */
static const struct mb_memo *
memo_find(const struct mailbox *mb)
{
	const struct mb_memo *m;

	for (m = memos; m != NULL; m = m->next)
		if (strcmp(m->path, mb->path) == 0)
			return m;
	return NULL;
}

/* The UIDVALIDITY we last knew for mb, or 0. */
static unsigned long
memo_validity(const struct mailbox *mb)
{
	const struct mb_memo *m = memo_find(mb);

	return m != NULL ? m->uidvalidity : 0;
}

/* The file lost its base: may the UIDs it still has be kept? */
static int
memo_restore(struct mailbox *mb)
{
	const struct mb_memo *m;
	unsigned long last = 0;
	int i, zero = 0;

	m = memo_find(mb);
	if (m == NULL || mb->n == 0)
		return 0;
	for (i = 0; i < mb->n; i++) {
		/* new arrivals without X-UID may follow; nothing else */
		if (mb->msgs[i].uid == 0) {
			zero = 1;
			continue;
		}
		if (zero || mb->msgs[i].uid <= last ||
		    mb->msgs[i].uid >= m->uidnext)
			return 0;
		last = mb->msgs[i].uid;
	}
	warn("%s: X-IMAPbase is gone; UIDVALIDITY %lu and the UIDs kept",
	    mb->path, m->uidvalidity);
	mb->uidvalidity = m->uidvalidity;
	mb->uidnext = m->uidnext;
	mb->base_dirty = 1;
	return 1;
}

static void
read_step(struct mailbox *mb)
{
	char *p;
	ssize_t n;
	long used;

	if (mb->missing) {
		assign_uids(mb);
		open_done(mb, MB_OK);
		return;
	}
	if (mb->parser == NULL) {
		if ((mb->parser = mboxp_new(mb->size, peek, add_msg, mb)) ==
		    NULL) {
			open_done(mb, MB_FAIL);
			return;
		}
		if (mb->resume > 0)	/* only what was appended */
			mboxp_start_at(mb->parser, mb->resume);
	}
	/* One bounded read per loop turn: others are served in between. */
	if ((p = buf_reserve(&mb->win, STEP_BYTES)) == NULL ||
	    lseek(mb->fd, mb->pos + (off_t)buf_used(&mb->win), SEEK_SET) < 0 ||
	    (n = read(mb->fd, p, STEP_BYTES)) < 0) {
		open_done(mb, MB_FAIL);
		return;
	}
	buf_commit(&mb->win, (size_t)n);
	/* len 0 means end of file to the parser: never feed it by accident */
	used = buf_used(&mb->win) == 0 ? 0 : mboxp_feed(mb->parser, mb->pos,
	    buf_ptr(&mb->win), buf_used(&mb->win));
	if (used < 0) {
		warn("%s: not an mbox file, or out of memory", mb->path);
		open_done(mb, MB_FAIL);
		return;
	}
	mb->pos += used;
	buf_consume(&mb->win, (size_t)used);
	if (n == 0 || mb->pos >= mb->size) {
		if (mboxp_feed(mb->parser, mb->pos, "", 0) < 0) {
			open_done(mb, MB_FAIL);
			return;
		}
		mboxp_free(mb->parser);
		mb->parser = NULL;
		buf_free(&mb->win);
		assign_uids(mb);
		open_done(mb, MB_OK);
		return;
	}
	(void)ev_timer_set(&mb->timer, 0);
}

/* Read what was appended at from into the index, then call fn. */
void
mb_reparse_tail(struct mailbox *mb, off_t from, mailbox_open_fn *fn,
    void *arg)
{
	struct stat st;

	mb->open_fn = fn;
	mb->arg = arg;
	if (fstat(mb->fd, &st) < 0) {
		mb->state = MB_READING;
		open_done(mb, MB_FAIL);
		return;
	}
	mb->size = st.st_size;
	mb->missing = 0;
	mb->resume = from;
	mb->pos = from;
	mb->state = MB_READING;
	buf_reset(&mb->win);
	(void)ev_timer_set(&mb->timer, 0);
}

/* --- sending a message as POP3 wants it --- */

struct pop3_stream {
	struct mailbox		*mb;
	int			i;
	int			phase;		/* 0 header, 1 body, 2 end */
	off_t			pos;
	long			lines;		/* body lines left, -1 all */
	int			bol;
	mailbox_done_fn		*done;
	void			*arg;
};

static char scratch[STREAM_CHUNK];

/* Append p[0..n) with LF -> CRLF and dot-stuffing (RFC 1939 3). */
static int
put_lines(struct pop3_stream *st, struct buf *out, const char *p, size_t n)
{
	const char *end = p + n, *nl;

	while (p < end && st->lines != 0) {
		if (st->bol && *p == '.' && buf_append(out, ".", 1) < 0)
			return -1;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			st->bol = 0;
			return buf_append(out, p, (size_t)(end - p));
		}
		if (buf_append(out, p, (size_t)(nl - p)) < 0 ||
		    buf_append(out, "\r\n", 2) < 0)
			return -1;
		st->bol = 1;
		if (st->lines > 0 && st->phase == 1)
			st->lines--;
		p = nl + 1;
	}
	return 0;
}

/* The header without our metadata lines (and their continuations). */
static int
put_header(struct pop3_stream *st, struct buf *out, const struct mb_msg *m)
{
	size_t len = (size_t)(m->body - m->hdr), i, n;
	int skip = 0;
	char *h;

	if (len > HDR_MAX)
		h = NULL;
	else if ((h = malloc(len + 1)) == NULL)
		return -1;
	if (h == NULL) {
		/* A giant header is sent as it is (rare; sizes may differ). */
		st->pos = m->hdr;
		st->phase = 1;
		st->lines = -1;
		return 0;
	}
	if (lseek(st->mb->fd, m->hdr, SEEK_SET) < 0 ||
	    read(st->mb->fd, h, len) != (ssize_t)len) {
		free(h);
		return -1;
	}
	for (i = 0; i < len; i += n) {
		const char *nl = memchr(h + i, '\n', len - i);

		n = nl != NULL ? (size_t)(nl - (h + i)) + 1 : len - i;
		if (h[i] != ' ' && h[i] != '\t')
			skip = n > 1 && msg_header_is_ours(h + i, n);
		if (!skip && put_lines(st, out, h + i, n) < 0) {
			free(h);
			return -1;
		}
	}
	free(h);
	return 0;
}

static int
pop3_fill(void *arg, struct buf *out)
{
	struct pop3_stream *st = arg;
	const struct mb_msg *m = &st->mb->msgs[st->i];
	long lines = st->lines;
	size_t want;
	ssize_t n;

	if (st->phase == 0) {
		st->lines = -1;
		st->bol = 1;
		if (put_header(st, out, m) < 0)
			return -1;
		if (st->phase == 0) {
			st->phase = 1;
			st->pos = m->body;
			st->lines = lines;
		}
		return 1;
	}
	if (st->phase == 1) {
		want = (size_t)(m->end - st->pos);
		if (want > sizeof(scratch))
			want = sizeof(scratch);
		if (want > 0 && st->lines != 0) {
			if (lseek(st->mb->fd, st->pos, SEEK_SET) < 0 ||
			    (n = read(st->mb->fd, scratch, want)) <= 0)
				return -1;	/* the file shrank under us */
			st->pos += n;
			if (put_lines(st, out, scratch, (size_t)n) < 0)
				return -1;
			return 1;
		}
		/* a last line without LF still ends in CRLF on the wire */
		if (!st->bol && buf_append(out, "\r\n", 2) < 0)
			return -1;
		st->phase = 2;
	}
	return buf_append(out, ".\r\n", 3) < 0 ? -1 : 0;
}

static void
pop3_done(void *arg, int ok)
{
	struct pop3_stream *st = arg;

	if (st->done != NULL)
		st->done(st->arg, ok);
	free(st);
}

int
mailbox_send_pop3(struct mailbox *mb, struct conn *c, int i, long lines,
    mailbox_done_fn *done, void *arg)
{
	struct pop3_stream *st;

	if (i < 0 || i >= mb->n || (st = malloc(sizeof(*st))) == NULL)
		return -1;
	memset(st, 0, sizeof(*st));
	st->mb = mb;
	st->i = i;
	st->lines = lines;
	st->done = done;
	st->arg = arg;
	conn_stream(c, pop3_fill, pop3_done, st);
	return 0;
}

/* --- recovery --- */

#define RECOVER_MAGIC	"yubin-recover 1 "

static int
rpath_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	int r;

	if (slash == NULL)
		return -1;
	r = snprintf(out, len, "%.*s/.%s.yubin-recover",
	    (int)(slash - path), path, slash + 1);
	return (r < 0 || (size_t)r >= len) ? -1 : 0;
}

int
mb_copy_range(int from, off_t foff, int to, off_t toff, off_t len)
{
	ssize_t n;
	size_t want;

	while (len > 0) {
		want = len < (off_t)sizeof(scratch) ? (size_t)len :
		    sizeof(scratch);
		if (lseek(from, foff, SEEK_SET) < 0 ||
		    (n = read(from, scratch, want)) <= 0 ||
		    lseek(to, toff, SEEK_SET) < 0 ||
		    write(to, scratch, (size_t)n) != n)
			return -1;
		foff += n;
		toff += n;
		len -= n;
	}
	return 0;
}

/* Where a used recovery file goes to be cut down and removed. */
static int
trash_path(const char *rpath, char *out, size_t len)
{
	int r = snprintf(out, len, "%s.old", rpath);

	return (r < 0 || (size_t)r >= len) ? -1 : 0;
}

/* Put saved bytes back: the state before the interrupted rewrite. */
int
mailbox_recover(int fd, const char *path)
{
	char rpath[600], tpath[620], head[64];
	unsigned long start, size;
	struct stat st;
	ssize_t n;
	char *sp;
	int rfd;

	if (rpath_of(path, rpath, sizeof(rpath)) < 0)
		return -1;
	/* a used copy that a crash left half removed is only garbage */
	if (trash_path(rpath, tpath, sizeof(tpath)) == 0)
		(void)unlink(tpath);
	if ((rfd = open(rpath, O_RDONLY | O_NOFOLLOW, 0)) < 0)
		return errno == ENOENT ? 0 : -1;
	memset(head, 0, sizeof(head));
	n = read(rfd, head, sizeof(head) - 1);
	sp = n > 0 ? strchr(head, '\n') : NULL;
	if (sp == NULL || strncmp(head, RECOVER_MAGIC, 16) != 0 ||
	    sscanf(head + 16, "%lu %lu", &start, &size) != 2 ||
	    fstat(rfd, &st) < 0 || start > size ||
	    (unsigned long)st.st_size != (unsigned long)(sp - head + 1) +
	    (size - start)) {
		warn("%s: damaged recovery file; left for the administrator",
		    rpath);
		close(rfd);
		return -1;
	}
	warn("%s: an interrupted rewrite is rolled back from %s", path, rpath);
	if (mb_copy_range(rfd, (off_t)(sp - head + 1), fd, (off_t)start,
	    (off_t)(size - start)) < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    fsync(fd) < 0) {
		warn("%s: rollback failed: %s", path, strerror(errno));
		close(rfd);
		return -1;
	}
	close(rfd);
	if (unlink(rpath) < 0)
		warn("cannot remove %s: %s", rpath, strerror(errno));
	return 0;
}

/* --- the commit --- */

static int
needs_rewrite(const struct mb_msg *m)
{
	return m->deleted || m->uid_new || m->changed;
}

/*
 * Saving [start, size) to the recovery file, in steps: begin writes the
 * head line to a temporary name, each step copies a bounded piece, and
 * the last one fsyncs and gives the file its real name (only a complete
 * copy ever has that name).
 */
static int
save_begin(struct mailbox *mb)
{
	char tmp[620], head[64];
	int fd, len;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", mb->rpath) >= (int)sizeof(tmp))
		return -1;
	len = snprintf(head, sizeof(head), RECOVER_MAGIC "%lu %lu\n",
	    (unsigned long)mb->start, (unsigned long)mb->size);
	(void)unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, head, (size_t)len) != len) {
		close(fd);
		(void)unlink(tmp);
		return -1;
	}
	mb->rfd = fd;
	mb->pos = (off_t)len;		/* the saved bytes start here */
	mb->bpos = 0;			/* bytes copied so far */
	mb->saving = 1;
	return 0;
}

/*
 * A long copy is synced as it goes: the fsync at the end then has
 * little left to write, and the loop never waits long for one (one
 * fsync of a 500 MB copy took 270 ms, every session waiting).
 */
static int
sync_some(struct mailbox *mb, int fd, off_t n)
{
	mb->unsynced += n;
	if (mb->unsynced < (off_t)SYNC_EVERY)
		return 0;
	mb->unsynced = 0;
	return fsync(fd);
}

/* 1: more to copy, 0: saved and named, -1: failed (errno). */
static int
save_step(struct mailbox *mb)
{
	char tmp[620];
	off_t left = (mb->size - mb->start) - mb->bpos;
	off_t piece = left < (off_t)(2 * STEP_BYTES) ? left :
	    (off_t)(2 * STEP_BYTES);
	int save;

	if (piece > 0) {
		if (mb_copy_range(mb->fd, mb->start + mb->bpos, mb->rfd,
		    mb->pos + mb->bpos, piece) < 0)
			goto fail;
		mb->bpos += piece;
		return sync_some(mb, mb->rfd, piece) < 0 ? -1 : 1;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", mb->rpath) >= (int)sizeof(tmp)
	    || fsync(mb->rfd) < 0 || rename(tmp, mb->rpath) < 0)
		goto fail;
	mb->saving = 0;
	return 0;
fail:
	save = errno;
	close(mb->rfd);
	mb->rfd = -1;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", mb->rpath) < (int)sizeof(tmp))
		(void)unlink(tmp);
	errno = save;
	return -1;
}

/* Whether word (n bytes) is one of the space-separated words of list. */
static int
has_word(const char *list, size_t len, const char *word, size_t n)
{
	const char *p = list, *e = list + len;

	while (p < e) {
		const char *sp = memchr(p, ' ', (size_t)(e - p));
		size_t m = sp != NULL ? (size_t)(sp - p) : (size_t)(e - p);

		if (m == n && memcmp(p, word, n) == 0)
			return 1;
		p += m + 1;
	}
	return 0;
}

/*
 * "X-IMAPbase: UIDVALIDITY LASTUID keyword..." as UW imapd and Dovecot
 * write it: the second number is the last UID given out (UIDNEXT - 1),
 * and the keywords are every one the messages use (Dovecot reads an
 * X-Keywords: name only if it is listed here).  No LF.
 */
static int
base_line(struct mailbox *mb, struct buf *b)
{
	size_t start = b->len, k, n;
	const char *p;
	int i, count = 0, e = 0;

	e |= buf_printf(b, "X-IMAPbase: %lu %010lu", mb->uidvalidity,
	    mb->uidnext > 0 ? mb->uidnext - 1 : 0);
	k = b->len;
	for (i = 0; i < mb->n && !e; i++) {
		if (mb->msgs[i].deleted || (p = mb->msgs[i].keywords) == NULL)
			continue;
		while (*p != '\0') {
			while (*p == ' ')
				p++;
			for (n = 0; p[n] != '\0' && p[n] != ' '; n++)
				;
			if (n > 0 && count < MAILBOX_KEYWORDS_MAX &&
			    !has_word(b->data + k, b->len - k, p, n)) {
				e |= buf_append(b, " ", 1);
				e |= buf_append(b, p, n);
				count++;
				if (b->len - start > 900)
					return -1;
			}
			p += n;
		}
	}
	return e ? -1 : 0;
}

/* Our metadata lines for m (DESIGN.md; Dovecot's and UW's names). */
int
mb_put_meta(struct mailbox *mb, struct buf *b, const struct mb_msg *m,
    int first_kept, int clen)
{
	int e = 0;

	if (first_kept)
		e |= base_line(mb, b) < 0 || buf_append(b, "\n", 1) < 0;
	if (m->flags & (MF_SEEN | MF_OLD))
		e |= buf_printf(b, "Status: %s%s\n",
		    (m->flags & MF_SEEN) ? "R" : "", (m->flags & MF_OLD) ? "O" : "");
	if (m->flags & (MF_ANSWERED | MF_FLAGGED | MF_DRAFT | MF_DELETED))
		e |= buf_printf(b, "X-Status: %s%s%s%s\n",
		    (m->flags & MF_ANSWERED) ? "A" : "",
		    (m->flags & MF_FLAGGED) ? "F" : "",
		    (m->flags & MF_DRAFT) ? "T" : "",
		    (m->flags & MF_DELETED) ? "D" : "");
	if (m->keywords != NULL)
		e |= buf_printf(b, "X-Keywords: %s\n", m->keywords);
	if (m->uidl != NULL)
		e |= buf_printf(b, "X-UIDL: %s\n", m->uidl);
	/* The body may hold unquoted From_ lines (mail.local): its length
	 * keeps it whole for every reader that honours it.  (Not for an
	 * append with no such line: cut short by a crash, its length would
	 * reach into whatever is appended after it.) */
	if (clen)
		e |= buf_printf(b, "Content-Length: %lu\n",
		    (unsigned long)(m->end - m->body));
	e |= buf_printf(b, "X-UID: %lu\n", m->uid);
	return e ? -1 : 0;
}

/* Offset in the recovery file of the mailbox byte at off. */
#define SAVED(mb, off)	((mb)->pos + ((off) - (mb)->start))

static int
put_at(struct mailbox *mb, const char *p, size_t n)
{
	if (lseek(mb->fd, mb->wpos, SEEK_SET) < 0 ||
	    write(mb->fd, p, n) != (ssize_t)n) {
		if (errno == 0)
			errno = ENOSPC;	/* a short write: the disk is full */
		return -1;
	}
	mb->wpos += (off_t)n;
	return 0;
}

/* How much of a header line is read to tell whether it is ours. */
#define HEAD_LOOK	256

/*
 * Write the From_ line and the new header of message m at wpos: the
 * header's lines without our metadata fields (and their continuation
 * lines), then the metadata as it is now, then the header's blank line
 * (LF or CRLF, as mboxparse.c reads it), added if it had none.  The old
 * text is read from the recovery copy HDR_MAX bytes at a time, so any
 * header fits (a message that lost its blank line is all header).
 */
static int
write_head(struct mailbox *mb, const struct mb_msg *m)
{
	off_t at = m->from, hend = m->body;
	struct buf b;
	char *h;
	size_t got, i, n;
	ssize_t r;
	int from_line = 1, lstart = 1, skip = 0, crlf = 0, done = 0;
	int ok = 0;
	char last = '\n';
	unsigned long nhl = 0;	/* LFs written after the From_ line */
	size_t hmax = hend - at < (off_t)HDR_MAX ? (size_t)(hend - at) :
	    HDR_MAX;	/* most headers: a few KB, read at once */

	if ((h = malloc(hmax + 1)) == NULL)
		return -1;
	buf_init(&b, 0);
	while (at < hend && !done) {
		got = hend - at < (off_t)hmax ? (size_t)(hend - at) : hmax;
		errno = 0;
		if (lseek(mb->rfd, SAVED(mb, at), SEEK_SET) < 0 ||
		    (r = read(mb->rfd, h, got)) != (ssize_t)got) {
			if (errno == 0)
				errno = EIO;	/* the copy is shorter */
			goto out;
		}
		for (i = 0; i < got && !done; i += n) {
			const char *nl = memchr(h + i, '\n', got - i);

			n = nl != NULL ? (size_t)(nl - (h + i)) + 1 : got - i;
			if (lstart && !from_line && nl == NULL &&
			    n < HEAD_LOOK && at + (off_t)got < hend && i > 0)
				break;	/* read this line's start again */
			if (lstart && !from_line &&
			    ((n == 1 && h[i] == '\n') || (n == 2 &&
			    h[i] == '\r' && h[i + 1] == '\n'))) {
				crlf = n == 2;
				done = 1;	/* the blank line */
				break;
			}
			if (lstart && !from_line && h[i] != ' ' &&
			    h[i] != '\t')
				skip = msg_header_is_ours(h + i, n);
			if (from_line || !skip) {
				if (buf_append(&b, h + i, n) < 0)
					goto out;
				if (!from_line)
					nhl += nl != NULL;
				last = h[i + n - 1];
			}
			lstart = nl != NULL;
			if (lstart)
				from_line = 0;
		}
		at += (off_t)i;
		if (b.len >= HDR_MAX) {
			if (put_at(mb, b.data, b.len) < 0)
				goto out;
			buf_reset(&b);
		}
	}
	/* a header cut short ends its line before ours come */
	if (last != '\n') {
		if (buf_append(&b, "\n", 1) < 0)
			goto out;
		nhl++;
	}
	/* our metadata lines, then the blank line: one write with the
	 * header's last piece */
	i = b.len;
	if (mb_put_meta(mb, &b, m, mb->cur == mb->first_kept, 1) < 0)
		goto out;
	mb->nmb = (unsigned long)(b.len - i);
	mb->nml = count_lf(b.data + i, b.len - i);
	mb->nhl = nhl + mb->nml + 1;
	if (mb->cur == mb->first_kept) {
		const char *e = memchr(b.data + i, '\n', b.len - i);

		mb->base_written = 1;
		mb->nbase_off = mb->wpos + (off_t)i;
		mb->nbase_len = e != NULL ?
		    (unsigned long)(e - (b.data + i)) + 1 : 0;
	}
	if (buf_append(&b, crlf ? "\r\n" : "\n", crlf ? 2 : 1) < 0 ||
	    put_at(mb, b.data, b.len) < 0)
		goto out;
	ok = 1;
out:
	free(h);
	buf_free(&b);
	return ok ? 0 : -1;
}

/* One bounded piece of the rewrite; 1 more to do, 0 done, -1 error. */
static int
rewrite_piece(struct mailbox *mb)
{
	struct mb_msg *m;
	off_t left;
	size_t want;

	while (mb->cur < mb->n && mb->msgs[mb->cur].deleted)
		mb->cur++;
	if (mb->cur >= mb->n)
		return 0;
	m = &mb->msgs[mb->cur];
	switch (mb->cphase) {
	case 0:
		mb->nf = mb->wpos;
		if (write_head(mb, m) < 0)
			return -1;
		mb->nb = mb->wpos;
		mb->cphase = 1;
		mb->bpos = 0;
		return 1;
	case 1:
		left = (m->end - m->body) - mb->bpos;
		want = left < (off_t)STEP_BYTES ? (size_t)left : STEP_BYTES;
		if (want > 0) {
			if (mb_copy_range(mb->rfd, SAVED(mb, m->body + mb->bpos),
			    mb->fd, mb->wpos, (off_t)want) < 0)
				return -1;
			mb->wpos += (off_t)want;
			mb->bpos += (off_t)want;
			return sync_some(mb, mb->fd, (off_t)want) < 0 ? -1 : 1;
		}
		mb->cphase = 2;
		return 1;
	default:
		/* the blank line that separates messages (RFC 4155) */
		if (put_at(mb, "\n", 1) < 0)
			return -1;
		/* the index now describes the new file for this message */
		m->end = mb->nb + (m->end - m->body);
		m->hdr = mb->nf + (m->hdr - m->from);
		m->from = mb->nf;
		m->body = mb->nb;
		m->hdr_lines = mb->nhl;
		m->meta_bytes = mb->nmb;
		m->meta_lines = mb->nml;
		/* write_head may have added the blank line a header had
		 * not: the size clients see changes with it */
		m->size = client_size(m);
		m->uid_new = m->changed = 0;
		mb->cphase = 0;
		mb->cur++;
		return 1;
	}
}

/*
 * After a successful commit the index matches the new file: deleted
 * entries go, the base is where we wrote it.  It may then be kept for
 * the next session.
 */
static void
settle_index(struct mailbox *mb)
{
	int i, j;

	for (i = j = 0; i < mb->n; i++) {
		if (mb->msgs[i].deleted) {
			free(mb->msgs[i].uidl);
			free(mb->msgs[i].keywords);
			continue;
		}
		mb->msgs[j++] = mb->msgs[i];
	}
	mb->n = j;
	if (mb->base_written) {		/* X-IMAPbase was rewritten */
		mb->base_off = mb->nbase_off;
		mb->base_len = mb->nbase_len;
		mb->pseudo_end = 0;
	}
	mb->file_validity = mb->uidvalidity;
	mb->base_dirty = 0;
	mb->unwritten = 0;
	mb->cacheable = 1;
}

static void
commit_done(struct mailbox *mb, int ok)
{
	mailbox_done_fn *fn = mb->done_fn;
	void *arg = mb->arg;

	if (!ok && mb->rfd >= 0 && mailbox_recover(mb->fd, mb->path) < 0)
		warn("%s: left as it was before the rewrite, with %s",
		    mb->path, mb->rpath);
	if (ok && !mb->missing)
		settle_index(mb);
	mb->state = MB_DEAD;
	mb_free(mb);
	if (fn != NULL)
		fn(arg, ok);
}

/*
 * X-IMAPbase of an untouched first message is updated where it stands
 * when the new line fits in the old one (padded with spaces): a new UID
 * at the end of a large mailbox must not rewrite the whole file.
 */
int
mb_base_in_place(struct mailbox *mb)
{
	struct buf line;
	size_t n;
	int r = 0;

	if (mb->n == 0 || mb->first_kept != 0 || needs_rewrite(&mb->msgs[0]) ||
	    mb->base_off <= 0 || mb->file_validity != mb->uidvalidity)
		return 0;
	buf_init(&line, 0);
	if (base_line(mb, &line) < 0 || line.len + 1 > mb->base_len) {
		buf_free(&line);
		return 0;
	}
	/* the old line's length, padded with spaces */
	for (n = line.len; n + 1 < mb->base_len; n++)
		if (buf_append(&line, " ", 1) < 0) {
			buf_free(&line);
			return 0;
		}
	if (buf_append(&line, "\n", 1) < 0) {
		buf_free(&line);
		return 0;
	}
	if (lseek(mb->fd, mb->base_off, SEEK_SET) < 0 ||
	    write(mb->fd, line.data, line.len) != (ssize_t)line.len)
		r = -1;
	else
		r = 1;
	buf_free(&line);
	return r;
}

static void
commit_step(struct mailbox *mb)
{
	char tpath[620];
	int r, steps;

	if (mb->trimming) {
		trim_step(mb);
		return;
	}
	if (mb->rfd < 0 || mb->saving) {	/* first: save what will move */
		if (mb->rfd < 0)
			r = save_begin(mb) < 0 ? -1 : 1;
		else
			r = save_step(mb);
		if (r < 0) {
			warn("%s: cannot save %s: %s", mb->path, mb->rpath,
			    strerror(errno));
			commit_done(mb, 0);
			return;
		}
		if (r == 0) {
			mb->wpos = mb->start;
			mb->cur = mb->first;
			mb->cphase = 0;
		}
		(void)ev_timer_set(&mb->timer, 0);
		return;
	}
	for (steps = 0; steps < 4; steps++)
		if ((r = rewrite_piece(mb)) <= 0)
			break;
	if (r < 0) {
		warn("%s: rewrite failed: %s; rolling back", mb->path,
		    strerror(errno));
		commit_done(mb, 0);
		return;
	}
	if (r > 0) {
		(void)ev_timer_set(&mb->timer, 0);
		return;
	}
	if (ftruncate(mb->fd, mb->wpos) < 0 || fsync(mb->fd) < 0) {
		warn("%s: cannot finish the rewrite: %s", mb->path,
		    strerror(errno));
		commit_done(mb, 0);
		return;
	}
	/* The new mailbox is durable: the saved copy may go.  Unlinking a
	 * file of hundreds of MB holds the kernel for a quarter second, so
	 * it is renamed out of the way (recovery no longer sees it) and
	 * cut down in steps first. */
	if (trash_path(mb->rpath, tpath, sizeof(tpath)) < 0 ||
	    rename(mb->rpath, tpath) < 0) {
		close(mb->rfd);
		mb->rfd = -1;
		if (unlink(mb->rpath) < 0)
			warn("cannot remove %s: %s", mb->rpath, strerror(errno));
		commit_done(mb, 1);
		return;
	}
	mb->trimming = 1;
	(void)ev_timer_set(&mb->timer, 0);
}

/* The saved copy, renamed: one bounded cut per turn, then unlinked. */
static void
trim_step(struct mailbox *mb)
{
	char tpath[620];
	struct stat st;

	if (fstat(mb->rfd, &st) == 0 && st.st_size > (off_t)TRIM_STEP &&
	    ftruncate(mb->rfd, st.st_size - (off_t)TRIM_STEP) == 0) {
		(void)ev_timer_set(&mb->timer, 0);
		return;
	}
	close(mb->rfd);
	mb->rfd = -1;
	mb->trimming = 0;
	if (trash_path(mb->rpath, tpath, sizeof(tpath)) == 0 &&
	    unlink(tpath) < 0)
		warn("cannot remove %s: %s", tpath, strerror(errno));
	commit_done(mb, 1);
}

int
mailbox_commit(struct mailbox *mb, mailbox_done_fn *done, void *arg)
{
	int i;

	mb->done_fn = done;
	mb->arg = arg;
	mb->state = MB_COMMIT;
	for (mb->first_kept = 0; mb->first_kept < mb->n &&
	    mb->msgs[mb->first_kept].deleted; mb->first_kept++)
		;
	for (mb->first = 0; mb->first < mb->n &&
	    !needs_rewrite(&mb->msgs[mb->first]); mb->first++)
		;
	if (mb->missing || mb->n == 0) {
		(void)ev_timer_set(&mb->timer, 0);	/* nothing to write */
		mb->first = -1;
		return 0;
	}
	if (mb->base_dirty && (i = mb_base_in_place(mb)) <= 0) {
		if (i < 0) {
			mb->first = -2;		/* report the failure */
			(void)ev_timer_set(&mb->timer, 0);
			return 0;
		}
		mb->first = 0;		/* the base moves with message 1 */
	}
	if (mb->pseudo_end > 0)
		mb->first = 0;		/* UW's pseudo-message goes too */
	if (mb->first >= mb->n) {
		mb->first = mb->base_dirty && fsync(mb->fd) < 0 ? -2 : -1;
	} else
		mb->start = mb->pseudo_end > 0 ? 0 : mb->msgs[mb->first].from;
	(void)ev_timer_set(&mb->timer, 0);
	return 0;
}

void
mailbox_release(struct mailbox *mb)
{
	if (mb->state != MB_OPEN) {
		mailbox_cancel(mb);
		return;
	}
	/* Locked and read by us, nothing written: the index is the file's
	 * (plus what waits to be written, kept with it). */
	mb->cacheable = !mb->missing;
	mb->state = MB_DEAD;
	mb_free(mb);
}

void
mailbox_cancel(struct mailbox *mb)
{
	/* An open in progress, or an open mailbox the session leaves
	 * without an update: new UIDs are still kept (RFC 1939 forbids
	 * only the deletions), so UIDLs stay what the client saw. */
	if (mb->state == MB_COMMIT) {
		mb->done_fn = NULL;	/* a rewrite is finished, not cut */
		return;
	}
	if (mb->state == MB_APPEND || (mb->state == MB_READING &&
	    mb->app_fn != NULL)) {
		mb->cancel_after = 1;	/* an append is finished, not cut */
		return;
	}
	if (mb->state == MB_OPEN) {
		int i;

		for (i = 0; i < mb->n; i++)
			mb->msgs[i].deleted = 0;
		(void)mailbox_commit(mb, NULL, NULL);
		return;
	}
	mb->open_fn = NULL;
	mb->state = MB_DEAD;
	mb_free(mb);
}

static void
mb_step(void *arg)
{
	struct mailbox *mb = arg;

	switch (mb->state) {
	case MB_LOCKING:
		lock_step(mb);
		break;
	case MB_READING:
		read_step(mb);
		break;
	case MB_APPEND:
		mb_append_step(mb);
		break;
	case MB_COMMIT:
		if (mb->first < 0)
			commit_done(mb, mb->first == -1);
		else
			commit_step(mb);
		break;
	default:
		break;
	}
}

/* --- indexes kept between sessions --- */

static void
free_msgs(struct mb_msg *msgs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(msgs[i].uidl);
		free(msgs[i].keywords);
	}
	free(msgs);
}

static void
kept_drop(struct mb_kept **pp)
{
	struct mb_kept *k = *pp;

	*pp = k->next;
	kept_msgs -= (unsigned long)k->n;
	free_msgs(k->msgs, k->n);
	free(k);
}

/* Keep mb's index (it matches the file as fstat says now). */
static void
kept_store(struct mailbox *mb)
{
	struct mb_kept *k, **pp;
	struct stat st;

	/* An empty mailbox is kept too: its UIDVALIDITY stays the same
	 * while we run, though no message carries it yet. */
	if (mb->fd < 0 || fstat(mb->fd, &st) < 0 ||
	    (unsigned long)mb->n > MAILBOX_KEEP_MSGS ||
	    (k = malloc(sizeof(*k))) == NULL)
		return;
	/* Room: the oldest kept indexes go first. */
	while (kept != NULL && kept_msgs + (unsigned long)mb->n >
	    MAILBOX_KEEP_MSGS) {
		for (pp = &kept; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		kept_drop(pp);
	}
	memset(k, 0, sizeof(*k));
	strlcpy(k->path, mb->path, sizeof(k->path));
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->size = st.st_size;
	k->mtime = st.st_mtime;
	k->ctime = st.st_ctime;
	k->mtime_ns = MTIME_NS(&st);
	k->ctime_ns = CTIME_NS(&st);
#ifndef HAVE_STRUCT_STAT_ST_MTIM
	/* With whole seconds only, a change later in this same second
	 * would look like no change: such an index is only a hint. */
	k->ambiguous = time(NULL) <= st.st_mtime || time(NULL) <= st.st_ctime;
#endif
	k->msgs = mb->msgs;
	k->n = mb->n;
	k->cap = mb->cap;
	k->uidvalidity = mb->uidvalidity;
	k->uidnext = mb->uidnext;
	k->file_validity = mb->file_validity;
	k->base_off = mb->base_off;
	k->base_len = mb->base_len;
	k->pseudo_end = mb->pseudo_end;
	k->base_dirty = mb->base_dirty;
	k->unwritten = mb->unwritten;
	mb->msgs = NULL;
	mb->n = mb->cap = 0;
	k->next = kept;
	kept = k;
	kept_msgs += (unsigned long)k->n;
}

static int
from_at(int fd, off_t off)
{
	char b[5];

	return lseek(fd, off, SEEK_SET) >= 0 && read(fd, b, 5) == 5 &&
	    memcmp(b, "From ", 5) == 0;
}

/*
 * Take the kept index of mb's file if it still describes it: the same
 * file, and either unchanged or only grown (then parsing resumes where
 * it ended).  Returns 1 if taken.
 */
static int
kept_take(struct mailbox *mb, const struct stat *st)
{
	struct mb_kept **pp, *k;
	int same, grown;

	for (pp = &kept; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->path, mb->path) == 0)
			break;
	if ((k = *pp) == NULL)
		return 0;
	same = !k->ambiguous && k->dev == st->st_dev &&
	    k->ino == st->st_ino && k->size == st->st_size &&
	    k->mtime == st->st_mtime && k->ctime == st->st_ctime &&
	    k->mtime_ns == MTIME_NS(st) && k->ctime_ns == CTIME_NS(st);
	grown = k->dev == st->st_dev && k->ino == st->st_ino &&
	    st->st_size > k->size && from_at(mb->fd, k->size);
	/* Spot checks: where the index says messages begin, they do. */
	if ((!same && !grown) || (k->n > 0 &&
	    (!from_at(mb->fd, k->msgs[0].from) ||
	    !from_at(mb->fd, k->msgs[k->n / 2].from) ||
	    !from_at(mb->fd, k->msgs[k->n - 1].from)))) {
		kept_drop(pp);
		return 0;
	}
	*pp = k->next;
	kept_msgs -= (unsigned long)k->n;
	mb->msgs = k->msgs;
	mb->n = k->n;
	mb->cap = k->cap;
	mb->uidvalidity = k->uidvalidity;
	mb->uidnext = k->uidnext;
	mb->file_validity = k->file_validity;
	mb->base_off = k->base_off;
	mb->base_len = k->base_len;
	mb->pseudo_end = k->pseudo_end;
	mb->base_dirty = k->base_dirty;
	mb->unwritten = k->unwritten;
	mb->resume = same ? -1 : k->size;
	free(k);
	return 1;
}

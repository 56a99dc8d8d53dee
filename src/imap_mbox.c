/*
 * imap_mbox.c - the selected state of an IMAP session (RFC 3501 6.3.1,
 * 6.3.2, 6.4): SELECT and EXAMINE, the sync of the session's view with
 * the mailbox before each command (see imap.h), CHECK, CLOSE, UNSELECT,
 * EXPUNGE, STORE, SEARCH and STATUS, and the lazy write-back of flags.
 *
 * A message's UID never changes and is never reused under one
 * UIDVALIDITY (RFC 3501 2.3.1.1): mailbox.c keeps them in the file; if
 * it ever cannot, the UIDVALIDITY changes, and a session that sees that
 * cannot go on (its client holds UIDs that now mean nothing): BYE.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "imap.h"
#include "imap_search.h"
#include "log.h"
#include "util.h"

#define SEARCH_STEP_MSGS	2000	/* messages per turn, no text */
#define SEARCH_STEP_BYTES	(1024UL * 1024UL)	/* text per turn */

#define MF_VISIBLE	(MF_SEEN | MF_ANSWERED | MF_FLAGGED | MF_DRAFT | \
	MF_DELETED)

/* --- keywords (space-separated lists, compared without case) --- */

static const char *
kw_find(const char *list, const char *kw)
{
	size_t n = strlen(kw), m;
	const char *p = list;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		for (m = 0; p[m] != '\0' && p[m] != ' '; m++)
			;
		if (m == n && m > 0 && ascii_ncasecmp(p, kw, n) == 0)
			return p;
		p += m;
	}
	return NULL;
}

static int
kw_equal(const char *a, const char *b)
{
	if (a == NULL || *a == '\0')
		return b == NULL || *b == '\0';
	if (b == NULL)
		return 0;
	return strcmp(a, b) == 0;
}

/* The next word of *pp into word (cut to IMAP_KEYWORD_LEN); 0 at the end. */
static size_t
next_word(const char **pp, char *word)
{
	const char *p = *pp;
	size_t m;

	while (*p == ' ')
		p++;
	for (m = 0; p[m] != '\0' && p[m] != ' '; m++)
		;
	*pp = p + m;
	if (m > IMAP_KEYWORD_LEN)
		m = IMAP_KEYWORD_LEN;
	memcpy(word, p, m);
	word[m] = '\0';
	return m;
}

/* list with the words of kws added (mode 1), removed (-1) or set (0). */
static char *
kw_apply(const char *list, const char *kws, int mode)
{
	char word[IMAP_KEYWORD_LEN + 1];
	const char *p;
	struct buf b;
	int e = 0, pass;

	buf_init(&b, 0);
	e |= buf_terminate(&b);
	/* pass 0: what stays of list; pass 1: what kws adds */
	for (pass = 0; pass < 2; pass++) {
		p = pass == 0 ? (mode != 0 ? list : NULL) :
		    (mode >= 0 ? kws : NULL);
		while (p != NULL && next_word(&p, word) > 0) {
			if ((pass == 0 && mode < 0 && kw_find(kws, word)) ||
			    kw_find(b.data, word) != NULL)
				continue;
			e |= buf_printf(&b, "%s%s", b.len > 0 ? " " : "", word);
			e |= buf_terminate(&b);
		}
	}
	if (e || b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

static char *
dup_or_null(const char *s)
{
	char *p;

	if (s == NULL || *s == '\0')
		return NULL;
	if ((p = malloc(strlen(s) + 1)) != NULL)
		strcpy(p, s);
	return p;
}

/* Note keywords the client has not been told of; 1 if there were. */
static int
kw_note(struct imap_sess *s, const char *kws)
{
	char *n;
	int count = 0;
	const char *p;

	if (kws == NULL || *kws == '\0')
		return 0;
	if (s->kwlist != NULL)
		for (p = s->kwlist; *p != '\0'; p++)
			count += *p == ' ';
	n = kw_apply(s->kwlist, kws, 1);
	if (n == NULL)
		return 0;
	if (s->kwlist != NULL && strcmp(n, s->kwlist) == 0) {
		free(n);
		return 0;
	}
	if (count >= IMAP_KEYWORDS_MAX) {
		free(n);
		return 0;
	}
	free(s->kwlist);
	s->kwlist = n;
	return 1;
}

static void
send_flags(struct imap_sess *s)
{
	const char *kw = s->kwlist != NULL ? s->kwlist : "";

	conn_printf(s->c, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft%s%s)\r\n", *kw ? " " : "", kw);
	if (s->readonly)
		conn_puts(s->c, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		conn_printf(s->c, "* OK [PERMANENTFLAGS (\\Answered \\Flagged "
		    "\\Deleted \\Seen \\Draft%s%s \\*)] Flags permitted\r\n",
		    *kw ? " " : "", kw);
}

/* --- the view --- */

static void
view_free(struct imap_sess *s)
{
	unsigned long i;

	for (i = 0; i < s->nv; i++) {
		/* most have neither: no call for those */
		if (s->v[i].keywords != NULL)
			free(s->v[i].keywords);
		if (s->v[i].kwset != NULL)
			free(s->v[i].kwset);
	}
	free(s->v);
	s->v = NULL;
	s->nv = s->capv = 0;
	free(s->kwlist);
	s->kwlist = NULL;
}

static struct imap_msg *
view_add(struct imap_sess *s)
{
	struct imap_msg *nv;
	unsigned long cap;

	if (s->nv == s->capv) {
		cap = s->capv ? s->capv * 2 : 64;
		if ((nv = realloc(s->v, cap * sizeof(*nv))) == NULL)
			return NULL;
		s->v = nv;
		s->capv = cap;
	}
	nv = &s->v[s->nv++];
	memset(nv, 0, sizeof(*nv));
	return nv;
}

/*
 * Take the messages that are gone out of the view in one pass (mbi -1:
 * vanished from the file, any negative; -2: expunged by us), telling
 * the client each one's number as it is at that moment (RFC 3501 7.4.1:
 * every EXPUNGE renumbers the ones after it).
 */
static void
view_drop(struct imap_sess *s, int which, int tell)
{
	unsigned long i, j, gone = 0;
	struct imap_msg *v;

	for (i = j = 0; i < s->nv; i++) {
		v = &s->v[i];
		if (which == -2 ? v->mbi != -2 : v->mbi >= 0) {
			if (j != i)
				s->v[j] = *v;
			j++;
			continue;
		}
		if (tell)
			conn_printf(s->c, "* %lu EXPUNGE\r\n", i - gone + 1);
		gone++;
		free(v->keywords);
		free(v->kwset);
	}
	s->nv = j;
}

/* Our own change to message i of the view, now in the open mailbox. */
static void
view_change(struct imap_sess *s, unsigned long i, unsigned flags,
    const char *kws, int kwchange)
{
	struct imap_msg *v = &s->v[i];
	struct mb_msg *m = mailbox_msg(s->mb, v->mbi);
	unsigned added, removed;

	if (m == NULL)
		return;
	added = flags & ~m->flags;
	removed = m->flags & ~flags;
	if (added || removed) {
		m->flags = flags;
		m->changed = 1;
		v->add = (v->add | added) & ~removed;
		v->del = (v->del | removed) & ~added;
		s->dirty = 1;
	}
	if (kwchange && !kw_equal(m->keywords, kws)) {
		free(m->keywords);
		m->keywords = dup_or_null(kws);
		free(v->kwset);
		v->kwset = dup_or_null(kws);
		v->bits |= V_KWDIRTY;
		m->changed = 1;
		s->dirty = 1;
	}
	v->flags = m->flags;
	if (!kw_equal(v->keywords, m->keywords)) {
		free(v->keywords);
		v->keywords = dup_or_null(m->keywords);
	}
}

void
imap_set_seen(struct imap_sess *s, unsigned long i)
{
	struct mb_msg *m = mailbox_msg(s->mb, s->v[i].mbi);

	if (m != NULL && !s->readonly && !(m->flags & MF_SEEN))
		view_change(s, i, m->flags | MF_SEEN, NULL, 0);
}

/* A FETCH of the flags, unasked (RFC 3501 7.4.2). */
static void
send_fetch_flags(struct imap_sess *s, unsigned long i)
{
	struct buf b;

	buf_init(&b, 0);
	if (buf_printf(&b, "* %lu FETCH (UID %lu FLAGS ", i + 1,
	    s->v[i].uid) == 0 && imap_put_flags(&b, s->v[i].flags,
	    s->v[i].keywords, (s->v[i].bits & V_RECENT)) == 0 &&
	    buf_puts(&b, ")\r\n") == 0)
		conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

/*
 * RFC 3501 2.3.2: \Recent in exactly one session; "Status: O" in the
 * file says a session had it (UW, Dovecot, mutt).  EXAMINE leaves it.
 */
static void
view_recent(struct imap_sess *s, struct imap_msg *v, struct mb_msg *m,
    unsigned long *recent)
{
	v->bits |= V_RECENT;
	(*recent)++;
	if (!s->readonly) {
		m->flags |= MF_OLD;
		m->changed = 1;
		v->add |= MF_OLD;
		s->dirty = 1;
	}
}

/* A new message joins the view; \Recent is ours if nobody saw it. */
static int
view_new(struct imap_sess *s, int j, unsigned long *recent)
{
	struct mb_msg *m = mailbox_msg(s->mb, j);
	struct imap_msg *v;

	if ((v = view_add(s)) == NULL)
		return -1;
	v->uid = m->uid;
	v->mbi = j;
	if (m->keywords != NULL)
		v->keywords = dup_or_null(m->keywords);
	if (!(m->flags & MF_OLD))
		view_recent(s, v, m, recent);
	v->flags = m->flags;
	return 0;
}

/*
 * Bring the view up to the mailbox just read: UIDs matched in order,
 * our unwritten changes applied again if the index was read anew,
 * changes by others told as FETCH, vanished messages as EXPUNGE (when
 * the command allows, RFC 3501 7.4.1), new ones as EXISTS and RECENT.
 * -1: the UIDs of the view no longer mean anything.
 */
static int
reconcile(struct imap_sess *s)
{
	struct mailbox *mb = s->mb;
	int n = mailbox_count(mb), j = 0, fresh = mailbox_fresh(mb);
	unsigned long i, old = s->nv, last, recent = 0, k;
	struct mb_msg *m;
	struct imap_msg *v;
	int newkw = 0;

	if (mailbox_uidvalidity(mb) != s->uidvalidity)
		return -1;
	for (i = 0; i < s->nv; i++) {
		v = &s->v[i];
		while (j < n && mailbox_msg(mb, j)->uid < v->uid)
			j++;
		if (j >= n || (m = mailbox_msg(mb, j))->uid != v->uid) {
			v->mbi = -1;
			continue;
		}
		v->mbi = j++;
		if (fresh && (v->add | v->del)) {
			/* the kept index was lost: our changes again */
			m->flags = (m->flags | v->add) & ~v->del;
			m->changed = 1;
		}
		if (fresh && (v->bits & V_KWDIRTY) && !kw_equal(m->keywords, v->kwset)) {
			free(m->keywords);
			m->keywords = dup_or_null(v->kwset);
			m->changed = 1;
		}
		if ((m->flags & MF_VISIBLE) != (v->flags & MF_VISIBLE) ||
		    !kw_equal(m->keywords, v->keywords)) {
			v->flags = m->flags;
			free(v->keywords);
			v->keywords = dup_or_null(m->keywords);
			newkw |= kw_note(s, v->keywords);
			send_fetch_flags(s, i);
		}
	}
	if (s->expunge_ok)
		view_drop(s, -1, 1);
	/* the client's count is now s->nv: an EXISTS is due for any new
	 * message even if the total comes back to the number it had */
	old = s->nv;
	last = 0;
	for (k = s->nv; k-- > 0; )
		if (s->v[k].uid > last)
			last = s->v[k].uid;
	for (j = 0; j < n; j++) {
		if (mailbox_msg(mb, j)->uid <= last)
			continue;
		if (view_new(s, j, &recent) < 0)
			return -2;
		newkw |= kw_note(s, s->v[s->nv - 1].keywords);
	}
	s->uidnext = mailbox_uidnext(mb);
	if (newkw)
		send_flags(s);
	/* RFC 3501 7.3.2: RECENT comes "if the size of the mailbox
	 * changes", even when another session took the new \Recent */
	if (s->nv != old || recent > 0) {
		for (recent = 0, i = 0; i < s->nv; i++)
			recent += s->v[i].bits & V_RECENT;
		conn_printf(s->c, "* %lu EXISTS\r\n* %lu RECENT\r\n", s->nv,
		    recent);
	}
	return 0;
}

/* --- running a command against the mailbox --- */

static void
synced(void *arg, int status, struct mailbox *mb)
{
	struct imap_sess *s = arg;
	int r;

	s->mb = status == MB_OK ? mb : NULL;
	if (status != MB_OK) {
		if (status == MB_INUSE)
			imap_no(s, "[INUSE] Mailbox in use, try again");
		else
			imap_no(s, "[UNAVAILABLE] Cannot read the mailbox");
		imap_done(s);
		return;
	}
	if ((r = reconcile(s)) < 0) {
		mailbox_release(s->mb);
		s->mb = NULL;
		if (r == -2) {
			imap_no(s, "[SERVERBUG] Out of memory");
			imap_done(s);
			return;
		}
		/* RFC 3501 2.3.1.1: the client must start over */
		warn("imap[%lu] %s: UIDVALIDITY of %s changed under the "
		    "session", s->c->id, s->c->peer, s->path);
		conn_puts(s->c, "* BYE Mailbox UIDVALIDITY changed\r\n");
		conn_close(s->c);
		imap_done(s);
		return;
	}
	s->op(s);
}

/* Lock and read the selected mailbox, reconcile, then run op. */
void
imap_sync(struct imap_sess *s, imap_op_fn *op)
{
	s->op = op;
	s->busy = 1;
	conn_hold(s->c);
	if ((s->mb = mailbox_sync(&s->u, s->path, synced, s)) == NULL) {
		imap_no(s, "[UNAVAILABLE] Cannot open the mailbox");
		imap_done(s);
	}
}

static void
clear_changes(struct imap_sess *s)
{
	unsigned long i;

	for (i = 0; i < s->nv; i++) {
		s->v[i].add = s->v[i].del = 0;
		s->v[i].bits &= ~V_KWDIRTY;
		free(s->v[i].kwset);
		s->v[i].kwset = NULL;
	}
	s->dirty = 0;
	ev_timer_del(&s->flush);
}

/* Expunged by this command: the view follows (RFC 3501 7.4.1). */
static void
drop_expunged(struct imap_sess *s, int tell)
{
	view_drop(s, -2, tell);
}

static void
committed(void *arg, int ok)
{
	struct imap_sess *s = arg;

	s->mb = NULL;
	if (ok) {
		clear_changes(s);
		drop_expunged(s, !s->close_after);
	} else {
		unsigned long i;

		for (i = 0; i < s->nv; i++)
			if (s->v[i].mbi == -2)
				s->v[i].mbi = -1;
		imap_result(s, "NO", "[UNAVAILABLE] Cannot write the mailbox");
	}
	if (s->close_after) {
		s->close_after = 0;
		imap_close_view(s);
		if (s->state == IMAP_SELECTED)
			imap_set_state(s, IMAP_AUTH);
	}
	conn_puts(s->c, s->result);
	imap_done(s);
}

void
imap_finish(struct imap_sess *s, int commit)
{
	if (s->mb == NULL) {
		conn_puts(s->c, s->result);
		imap_done(s);
		return;
	}
	if (commit) {
		if (mailbox_commit(s->mb, committed, s) < 0)
			committed(s, 0);
		return;
	}
	/* New UIDs and \Recent taken count as our changes: written soon,
	 * and at the latest when the session ends.  New UIDs go first:
	 * until X-UID is in the file, another program's rewrite (mailx
	 * deleting a message) leaves nothing to know them by, and the
	 * mailbox would be renumbered. */
	if (!s->readonly && mailbox_pending(s->mb)) {
		s->dirty = 1;
		if (!s->flush_soon) {
			(void)ev_timer_set(&s->flush, IMAP_UID_FLUSH_MS);
			s->flush_soon = 1;
		}
	}
	if (s->dirty && !s->readonly && s->flush.idx < 0)
		(void)ev_timer_set(&s->flush, IMAP_FLUSH_SECS * 1000);
	mailbox_release(s->mb);
	s->mb = NULL;
	if (s->close_after) {
		s->close_after = 0;
		imap_close_view(s);
		imap_set_state(s, IMAP_AUTH);
	}
	conn_puts(s->c, s->result);
	imap_done(s);
}

void
imap_op_noop(struct imap_sess *s)
{
	imap_result(s, "OK", "NOOP completed");
	imap_finish(s, 0);
}

/* --- the lazy write-back --- */

struct flusher {
	struct user	u;
	char		path[512];
};

static void
detached_opened(void *arg, int status, struct mailbox *mb)
{
	struct flusher *f = arg;

	/* mailbox_cancel() writes what waits (flags, UIDs), deletes
	 * nothing, and frees the mailbox when done. */
	if (status == MB_OK)
		mailbox_cancel(mb);
	else
		warn("%s: flags of a closed session not written", f->path);
	free(f);
}

/* Write what a session left behind, without the session. */
static void
flush_detached(const struct user *u, const char *path)
{
	struct flusher *f;

	if ((f = malloc(sizeof(*f))) == NULL) {
		warn("%s: out of memory: flags not written", path);
		return;
	}
	f->u = *u;
	strlcpy(f->path, path, sizeof(f->path));
	if (mailbox_sync(&f->u, f->path, detached_opened, f) == NULL) {
		warn("%s: flags of a closed session not written", path);
		free(f);
	}
}

static void
flush_synced(struct imap_sess *s)
{
	imap_result(s, "OK", "flushed");
	/* no tagged reply: this is no client's command */
	s->result[0] = '\0';
	imap_finish(s, 1);
}

void
imap_flush_timer(void *arg)
{
	struct imap_sess *s = arg;

	if (s->state != IMAP_SELECTED)
		return;
	if (s->busy) {
		(void)ev_timer_set(&s->flush, 1000);
		return;
	}
	s->flush_soon = 0;
	/* Between commands: only FETCH and EXISTS may be told now, so no
	 * EXPUNGE (RFC 3501 7.4.1 "no command in progress"). */
	s->expunge_ok = 0;
	s->tag = "*";
	imap_sync(s, flush_synced);
}

void
imap_close_view(struct imap_sess *s)
{
	if (s->dirty && s->path[0] != '\0')
		flush_detached(&s->u, s->path);
	ev_timer_del(&s->flush);
	s->flush_soon = 0;
	view_free(s);
	imap_fetch_forget(s);
	s->path[0] = '\0';
	s->dirty = 0;
}

void
imap_session_end(struct imap_sess *s)
{
	imap_fetch_free(s);
	imap_fetch_forget(s);
	imap_copy_free(s);
	ev_timer_del(&s->step);
	if (s->search != NULL) {
		imap_search_free(s->search);
		s->search = NULL;
	}
	seqset_free(&s->set);
	if (s->mb != NULL) {
		/* an open finishes or is dropped; an open mailbox gets
		 * what waits written; a rewrite or append runs to its
		 * end without us */
		mailbox_cancel(s->mb);
		s->mb = NULL;
		s->dirty = 0;
	}
	imap_close_view(s);
	free(s->store_kw);
	s->store_kw = NULL;
}

/* --- SELECT, EXAMINE --- */

/* The file of name, if it is a mailbox one can select (INBOX always). */
int
imap_folder_exists(struct imap_sess *s, const char *name, char *path,
    size_t len)
{
	const char *err = NULL;
	struct stat st;

	if (folder_path(&s->u, name, path, len, &err) < 0) {
		imap_result(s, "NO", "%s", err != NULL ? err :
		    "Invalid mailbox name");
		return -1;
	}
	if (folder_is_inbox(name))
		return 0;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			imap_result(s, "NO", "[NONEXISTENT] No such mailbox");
		else
			imap_result(s, "NO", "[UNAVAILABLE] Cannot look at the "
			    "mailbox");
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		imap_result(s, "NO", "[CANNOT] Not a mailbox (\\Noselect)");
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		/* a link or a device is never a mailbox of ours */
		imap_result(s, "NO", "[CANNOT] Not a mailbox");
		return -1;
	}
	return 0;
}

/*
 * The view of a SELECT: one pass over the index, at its final size at
 * once.  This loop is most of what a repeated SELECT of a large mailbox
 * costs, so it reads only what it needs.
 */
static int
build_view(struct imap_sess *s, struct mailbox *mb, int n,
    unsigned long *recent, unsigned long *unseen)
{
	const struct mb_msg *m;
	struct imap_msg *v;
	int j;

	if (n == 0)
		return 0;
	if ((s->v = malloc((size_t)n * sizeof(*s->v))) == NULL)
		return -1;
	s->capv = (unsigned long)n;
	for (j = 0, v = s->v; j < n; j++, v++) {
		m = mailbox_msg(mb, j);
		v->uid = m->uid;
		v->keywords = v->kwset = NULL;
		v->mbi = j;
		v->add = v->del = v->bits = 0;
		s->nv++;
		if (m->keywords != NULL) {
			if ((v->keywords = dup_or_null(m->keywords)) == NULL)
				return -1;
			(void)kw_note(s, v->keywords);
		}
		if (!(m->flags & MF_OLD))
			view_recent(s, v, mailbox_msg(mb, j), recent);
		v->flags = m->flags;
		if (*unseen == 0 && !(m->flags & MF_SEEN))
			*unseen = (unsigned long)j + 1;
	}
	return 0;
}

static void
select_opened(void *arg, int status, struct mailbox *mb)
{
	struct imap_sess *s = arg;
	unsigned long recent = 0, unseen = 0;
	int n;

	s->mb = status == MB_OK ? mb : NULL;
	if (status != MB_OK) {
		s->path[0] = '\0';
		imap_set_state(s, IMAP_AUTH);
		imap_no(s, status == MB_INUSE ? "[INUSE] Mailbox in use" :
		    "[UNAVAILABLE] Cannot read the mailbox");
		imap_done(s);
		return;
	}
	n = mailbox_count(mb);
	if (build_view(s, mb, n, &recent, &unseen) < 0) {
		mailbox_release(mb);
		s->mb = NULL;
		view_free(s);
		s->path[0] = '\0';
		imap_set_state(s, IMAP_AUTH);
		imap_no(s, "[SERVERBUG] Out of memory");
		imap_done(s);
		return;
	}
	s->uidvalidity = mailbox_uidvalidity(mb);
	s->uidnext = mailbox_uidnext(mb);
	imap_set_state(s, IMAP_SELECTED);
	send_flags(s);
	conn_printf(s->c, "* %lu EXISTS\r\n* %lu RECENT\r\n", s->nv, recent);
	if (unseen > 0)
		conn_printf(s->c, "* OK [UNSEEN %lu] First unseen\r\n", unseen);
	conn_printf(s->c, "* OK [UIDVALIDITY %lu] UIDs valid\r\n"
	    "* OK [UIDNEXT %lu] Predicted next UID\r\n", s->uidvalidity,
	    s->uidnext);
	/* (mbi is set again by the sync of each command) */
	imap_result(s, "OK", "[%s] %s completed", s->readonly ? "READ-ONLY" :
	    "READ-WRITE", s->readonly ? "EXAMINE" : "SELECT");
	log_info("imap[%lu] %s: %s %s, %lu messages", s->c->id, s->c->peer,
	    s->readonly ? "examine" : "select", s->path, s->nv);
	imap_finish(s, 0);
}

void
imap_cmd_select(struct imap_sess *s, struct imap_tok *t, int readonly)
{
	const char *name;
	char path[512];

	if (imap_get_mailbox(t, &name) < 0 || imap_get_end(t) < 0) {
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid arguments");
		return;
	}
	/* RFC 3501 6.3.1: a SELECT first leaves the selected mailbox,
	 * without expunging; a failed one leaves us unselected. */
	if (s->state == IMAP_SELECTED) {
		imap_close_view(s);
		imap_set_state(s, IMAP_AUTH);
	}
	if (imap_folder_exists(s, name, path, sizeof(path)) < 0) {
		conn_puts(s->c, s->result);
		return;
	}
	strlcpy(s->path, path, sizeof(s->path));
	strlcpy(s->name, name, sizeof(s->name));
	s->readonly = readonly;
	s->expunge_ok = 1;
	s->busy = 1;
	conn_hold(s->c);
	if ((s->mb = mailbox_sync(&s->u, s->path, select_opened, s)) == NULL) {
		s->path[0] = '\0';
		imap_no(s, "[UNAVAILABLE] Cannot open the mailbox");
		imap_done(s);
	}
}

/* --- CHECK, CLOSE, UNSELECT, EXPUNGE --- */

static void
op_check(struct imap_sess *s)
{
	imap_result(s, "OK", "CHECK completed");
	imap_finish(s, !s->readonly);
}

void
imap_cmd_check(struct imap_sess *s)
{
	s->expunge_ok = 1;
	imap_sync(s, op_check);
}

/* Mark what EXPUNGE removes; 1 if anything. */
static int
mark_expunge(struct imap_sess *s)
{
	unsigned long i;
	struct mb_msg *m;
	int any = 0;

	for (i = 0; i < s->nv; i++) {
		if (s->v[i].mbi < 0 ||
		    (m = mailbox_msg(s->mb, s->v[i].mbi)) == NULL)
			continue;
		if (!(m->flags & MF_DELETED))
			continue;
		if (s->uid_cmd && !seqset_contains(&s->set, s->v[i].uid))
			continue;
		m->deleted = 1;
		s->v[i].mbi = -2;
		any = 1;
	}
	return any;
}

static void
op_expunge(struct imap_sess *s)
{
	if (s->readonly) {
		imap_result(s, "NO", "[READ-ONLY] Mailbox is read-only");
		imap_finish(s, 0);
		return;
	}
	imap_result(s, "OK", "EXPUNGE completed");
	imap_finish(s, mark_expunge(s) || s->dirty);
}

void
imap_cmd_expunge(struct imap_sess *s, struct imap_tok *t)
{
	seqset_free(&s->set);
	if (s->uid_cmd && imap_get_seqset(t, s->uidnext > 0 ? s->uidnext - 1 :
	    0, 1, &s->set) < 0) {
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid UID set");
		return;
	}
	if (imap_get_end(t) < 0) {
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid arguments");
		return;
	}
	s->expunge_ok = 1;
	imap_sync(s, op_expunge);
}

static void
op_close(struct imap_sess *s)
{
	int any = mark_expunge(s);

	/* RFC 3501 6.4.2: no EXPUNGE responses for CLOSE */
	s->close_after = 1;
	imap_result(s, "OK", "CLOSE completed");
	imap_finish(s, any || s->dirty);
}

static void
op_unselect(struct imap_sess *s)
{
	s->close_after = 1;
	imap_result(s, "OK", "%s completed", s->logout ? "LOGOUT" :
	    "UNSELECT");
	if (s->logout)
		s->result[0] = '\0';	/* imap_done() says BYE and OK */
	imap_finish(s, s->dirty);
}

/* CLOSE (expunge 1), UNSELECT (RFC 3691) and LOGOUT's way out. */
void
imap_unselect(struct imap_sess *s, int expunge)
{
	s->expunge_ok = 0;
	if (!s->dirty && !expunge) {
		imap_close_view(s);
		imap_set_state(s, s->logout ? IMAP_LOGOUT : IMAP_AUTH);
		conn_hold(s->c);
		s->busy = 1;
		if (!s->logout)
			imap_ok(s, "%s completed", s->closing ? "CLOSE" :
			    "UNSELECT");
		imap_done(s);
		return;
	}
	imap_sync(s, expunge ? op_close : op_unselect);
}

/* --- sequence sets --- */

int
imap_parse_set(struct imap_sess *s, struct imap_tok *t)
{
	unsigned long max = s->uid_cmd ? (s->nv > 0 ? s->v[s->nv - 1].uid :
	    0) : s->nv;

	seqset_free(&s->set);
	if (s->uid_cmd && s->uidnext > max + 1)
		max = s->uidnext - 1;
	return imap_get_seqset(t, max, s->uid_cmd, &s->set);
}

/* Whether message i of the view is in the command's set. */
int
imap_in_set(const struct imap_sess *s, unsigned long i)
{
	return seqset_contains(&s->set, s->uid_cmd ? s->v[i].uid : i + 1);
}

/* --- STORE --- */

/* A flag list "(\Seen kw)" or flags without parentheses. */
int
imap_flag_list(struct imap_tok *t, unsigned *flags, struct buf *kw)
{
	const char *f;
	int paren = imap_peek(t) == IMAP_T_LIST_OPEN;

	*flags = 0;
	if (paren && imap_get_list_begin(t) < 0)
		return -1;
	while (paren ? imap_peek(t) != IMAP_T_LIST_CLOSE : !imap_at_end(t)) {
		if (imap_get_flag(t, 0, &f) < 0)
			return -1;
		if (strcmp(f, "\\Seen") == 0)
			*flags |= MF_SEEN;
		else if (strcmp(f, "\\Answered") == 0)
			*flags |= MF_ANSWERED;
		else if (strcmp(f, "\\Flagged") == 0)
			*flags |= MF_FLAGGED;
		else if (strcmp(f, "\\Deleted") == 0)
			*flags |= MF_DELETED;
		else if (strcmp(f, "\\Draft") == 0)
			*flags |= MF_DRAFT;
		else if (*f == '\\') {
			t->err = "Unknown system flag";
			return -1;
		} else if (strlen(f) > IMAP_KEYWORD_LEN) {
			t->err = "Keyword too long";
			return -1;
		} else if (kw != NULL && (buf_printf(kw, "%s%s",
		    kw->len > 0 ? " " : "", f) < 0 || buf_terminate(kw) < 0)) {
			t->err = "Too many keywords";
			return -1;
		}
	}
	if (paren && imap_get_list_end(t) < 0)
		return -1;
	/* RFC 3501 9: flags without parentheses are at least one */
	if (!paren && *flags == 0 && (kw == NULL || kw->len == 0)) {
		t->err = "Missing flags";
		return -1;
	}
	return 0;
}

static void
op_store(struct imap_sess *s)
{
	unsigned long i;
	struct mb_msg *m;
	unsigned nf;
	char *kws;
	int newkw = 0, gone = 0;

	if (s->readonly) {
		imap_result(s, "NO", "[READ-ONLY] Mailbox is read-only");
		imap_finish(s, 0);
		return;
	}
	for (i = 0; i < s->nv; i++) {
		if (!imap_in_set(s, i))
			continue;
		if (s->v[i].mbi < 0 ||
		    (m = mailbox_msg(s->mb, s->v[i].mbi)) == NULL) {
			gone = 1;
			continue;
		}
		if (s->store_mode > 0)
			nf = m->flags | s->store_flags;
		else if (s->store_mode < 0)
			nf = m->flags & ~s->store_flags;
		else
			nf = (m->flags & ~MF_VISIBLE) | s->store_flags;
		kws = NULL;
		if (s->store_kw != NULL || s->store_mode == 0)
			kws = kw_apply(m->keywords, s->store_kw, s->store_mode);
		view_change(s, i, nf, kws, s->store_kw != NULL ||
		    s->store_mode == 0);
		free(kws);
		newkw |= kw_note(s, s->v[i].keywords);
		if (!s->silent)
			send_fetch_flags(s, i);
	}
	if (newkw)
		send_flags(s);
	if (gone)
		imap_result(s, "NO", "Some of the messages were expunged");
	else
		imap_result(s, "OK", "STORE completed");
	imap_finish(s, 0);
}

void
imap_cmd_store(struct imap_sess *s, struct imap_tok *t)
{
	const char *item;
	struct buf kw;
	size_t n;

	buf_init(&kw, 16 * 1024);
	if (imap_parse_set(s, t) < 0 || imap_get_atom(t, &item) < 0)
		goto bad;
	n = strlen(item);
	s->store_mode = *item == '+' ? 1 : *item == '-' ? -1 : 0;
	if (s->store_mode != 0) {
		item++;
		n--;
	}
	s->silent = n == 12 && ascii_casecmp(item, "FLAGS.SILENT") == 0;
	if (!s->silent && !(n == 5 && ascii_casecmp(item, "FLAGS") == 0)) {
		t->err = "Unknown STORE item";
		goto bad;
	}
	if (imap_flag_list(t, &s->store_flags, &kw) < 0 ||
	    imap_get_end(t) < 0)
		goto bad;
	free(s->store_kw);
	s->store_kw = kw.len > 0 ? dup_or_null(kw.data) : NULL;
	buf_free(&kw);
	s->expunge_ok = s->uid_cmd;
	imap_sync(s, op_store);
	return;
bad:
	buf_free(&kw);
	imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid arguments");
}

/* --- SEARCH --- */

static void
search_step(void *arg)
{
	struct imap_sess *s = arg;
	unsigned long done = 0, bytes = 0;
	struct search_msg sm;
	struct mb_text text;
	struct mb_msg *m;
	struct imap_msg *v;
	int r, needs = imap_search_needs_text(s->search);

	for (; s->pos < s->nv; s->pos++) {
		if (done >= SEARCH_STEP_MSGS || bytes >= SEARCH_STEP_BYTES) {
			(void)ev_timer_set(&s->step, 0);
			return;
		}
		v = &s->v[s->pos];
		if (v->mbi < 0 || (m = mailbox_msg(s->mb, v->mbi)) == NULL)
			continue;
		done++;
		memset(&sm, 0, sizeof(sm));
		sm.seq = s->pos + 1;
		sm.uid = v->uid;
		sm.size = m->size;
		sm.flags = m->flags;
		sm.recent = (v->bits & V_RECENT) != 0;
		sm.keywords = m->keywords;
		sm.internaldate = m->date;
		if (needs) {
			if (mailbox_text_open(&text, s->mb, v->mbi) < 0) {
				imap_result(s, "NO", "[UNAVAILABLE] Cannot read "
				    "message %lu", s->pos + 1);
				goto out;
			}
			sm.read = mailbox_text_read;
			sm.arg = &text;
			sm.hdr_len = text.hlen;
			sm.len = text.len;
			bytes += text.len;
		}
		r = imap_search_match(s->search, &sm);
		if (needs)
			mailbox_text_close(&text);
		if (r < 0) {
			imap_result(s, "NO", "[UNAVAILABLE] Cannot read "
			    "message %lu", s->pos + 1);
			goto out;
		}
		if (r > 0 && buf_printf(&s->reply, " %lu", s->uid_cmd ?
		    v->uid : s->pos + 1) < 0) {
			imap_result(s, "NO", "[SERVERBUG] Out of memory");
			goto out;
		}
	}
	if (buf_puts(&s->reply, "\r\n") < 0) {
		imap_result(s, "NO", "[SERVERBUG] Out of memory");
		goto out;
	}
	conn_write(s->c, s->reply.data, s->reply.len);
	imap_result(s, "OK", "SEARCH completed");
out:
	buf_reset(&s->reply);
	imap_search_free(s->search);
	s->search = NULL;
	imap_finish(s, 0);
}

static void
op_search(struct imap_sess *s)
{
	buf_reset(&s->reply);
	if (buf_puts(&s->reply, "* SEARCH") < 0) {
		imap_result(s, "NO", "[SERVERBUG] Out of memory");
		imap_finish(s, 0);
		return;
	}
	s->pos = 0;
	s->stepper = search_step;
	search_step(s);
}

void
imap_cmd_search(struct imap_sess *s, struct imap_tok *t)
{
	unsigned long maxuid = s->nv > 0 ? s->v[s->nv - 1].uid : 0;
	int r;

	if (s->search != NULL) {
		imap_search_free(s->search);
		s->search = NULL;
	}
	r = imap_search_parse(t, s->nv, maxuid, &s->search);
	if (r == -2) {
		imap_no(s, "[BADCHARSET (US-ASCII UTF-8)] Unknown charset");
		return;
	}
	if (r < 0) {
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid search");
		return;
	}
	s->expunge_ok = s->uid_cmd;
	imap_sync(s, op_search);
}

/* --- STATUS (RFC 3501 6.3.10) --- */

#define ST_MESSAGES	1
#define ST_RECENT	2
#define ST_UIDNEXT	4
#define ST_UIDVALIDITY	8
#define ST_UNSEEN	16

static void
status_opened(void *arg, int status, struct mailbox *mb)
{
	struct imap_sess *s = arg;
	unsigned long recent = 0, unseen = 0;
	int i, n, items = s->store_mode, e = 0;
	const char *sp = "";
	struct buf b;

	s->mb = NULL;
	if (status != MB_OK) {
		imap_no(s, status == MB_INUSE ? "[INUSE] Mailbox in use" :
		    "[UNAVAILABLE] Cannot read the mailbox");
		imap_done(s);
		return;
	}
	n = mailbox_count(mb);
	for (i = 0; i < n; i++) {
		recent += !(mailbox_msg(mb, i)->flags & MF_OLD);
		unseen += !(mailbox_msg(mb, i)->flags & MF_SEEN);
	}
	buf_init(&b, 0);
	e |= buf_puts(&b, "* STATUS ");
	e |= imap_put_string(&b, s->dest, strlen(s->dest));
	e |= buf_puts(&b, " (");
	if (items & ST_MESSAGES) {
		e |= buf_printf(&b, "%sMESSAGES %d", sp, n);
		sp = " ";
	}
	if (items & ST_RECENT) {
		e |= buf_printf(&b, "%sRECENT %lu", sp, recent);
		sp = " ";
	}
	if (items & ST_UIDNEXT) {
		e |= buf_printf(&b, "%sUIDNEXT %lu", sp, mailbox_uidnext(mb));
		sp = " ";
	}
	if (items & ST_UIDVALIDITY) {
		e |= buf_printf(&b, "%sUIDVALIDITY %lu", sp,
		    mailbox_uidvalidity(mb));
		sp = " ";
	}
	if (items & ST_UNSEEN)
		e |= buf_printf(&b, "%sUNSEEN %lu", sp, unseen);
	e |= buf_puts(&b, ")\r\n");
	mailbox_release(mb);
	if (e)
		imap_no(s, "[SERVERBUG] Out of memory");
	else {
		conn_write(s->c, b.data, b.len);
		imap_ok(s, "STATUS completed");
	}
	buf_free(&b);
	imap_done(s);
}

void
imap_cmd_status(struct imap_sess *s, struct imap_tok *t)
{
	const char *name, *item;
	char path[512];
	int items = 0;

	if (imap_get_mailbox(t, &name) < 0 || imap_get_list_begin(t) < 0)
		goto bad;
	while (imap_peek(t) != IMAP_T_LIST_CLOSE) {
		if (imap_get_atom(t, &item) < 0)
			goto bad;
		if (ascii_casecmp(item, "MESSAGES") == 0)
			items |= ST_MESSAGES;
		else if (ascii_casecmp(item, "RECENT") == 0)
			items |= ST_RECENT;
		else if (ascii_casecmp(item, "UIDNEXT") == 0)
			items |= ST_UIDNEXT;
		else if (ascii_casecmp(item, "UIDVALIDITY") == 0)
			items |= ST_UIDVALIDITY;
		else if (ascii_casecmp(item, "UNSEEN") == 0)
			items |= ST_UNSEEN;
		else {
			t->err = "Unknown STATUS item";
			goto bad;
		}
	}
	if (imap_get_list_end(t) < 0 || imap_get_end(t) < 0)
		goto bad;
	if (items == 0) {
		t->err = "STATUS needs at least one item";
		goto bad;
	}
	if (imap_folder_exists(s, name, path, sizeof(path)) < 0) {
		conn_puts(s->c, s->result);
		return;
	}
	s->store_mode = items;
	/* the name as the client gave it, for the reply */
	strlcpy(s->dest, name, sizeof(s->dest));
	s->busy = 1;
	conn_hold(s->c);
	if (mailbox_sync(&s->u, path, status_opened, s) == NULL) {
		imap_no(s, "[UNAVAILABLE] Cannot open the mailbox");
		imap_done(s);
	}
	return;
bad:
	imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid arguments");
}

/*
 * imap_copy.c - putting messages into a mailbox: COPY (RFC 3501 6.4.7),
 * MOVE (RFC 6851), APPEND (6.3.11) with UIDPLUS's COPYUID and APPENDUID
 * (RFC 4315), and RENAME of INBOX (6.3.5: its messages move to the new
 * name).
 *
 * Never two mailboxes locked at once: the messages are first copied to
 * a spool file (imap_spool.c) while the source is locked, then the
 * source is let go and the destination locked for the append.  Two
 * sessions copying in opposite directions can then not deadlock.  OK
 * is said only after the destination was fsynced; a MOVE removes the
 * originals only after that.
 */
#include "yubin.h"

#include <sys/types.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "imap.h"
#include "log.h"
#include "util.h"

#define COPY_STEP_BYTES	(1024UL * 1024UL)	/* spooled per turn */

struct copy_job {
	unsigned long	*uids;		/* source UIDs, in order */
	int		n, cap;
	int		rename;		/* RENAME INBOX */
	int		src_i;		/* next source message */
	unsigned long	dest_validity;
	char		inbox[512];
};

static struct copy_job *job_of(struct imap_sess *s);
static void copy_step(void *arg);

void
imap_copy_free(struct imap_sess *s)
{
	int i;

	if (s->app != NULL) {
		for (i = 0; i < s->napp; i++)
			free((char *)s->app[i].keywords);
		free(s->app);
		s->app = NULL;
	}
	s->napp = 0;
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->spool != NULL) {
		imap_spool_free(s->spool);
		s->spool = NULL;
	}
	s->appending = 0;
	if (s->copy != NULL) {
		free(s->copy->uids);
		free(s->copy);
		s->copy = NULL;
	}
}

static struct copy_job *
job_of(struct imap_sess *s)
{
	return s->copy;
}

/* A uid-set of the UIDs in v[0..n), ascending runs joined. */
static int
put_uidset(struct buf *b, const unsigned long *v, int n)
{
	int i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && v[j + 1] == v[j] + 1; j++)
			;
		if (buf_printf(b, "%s%lu", i ? "," : "", v[i]) < 0)
			return -1;
		if (j > i && buf_printf(b, ":%lu", v[j]) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

static int
add_app(struct imap_sess *s, unsigned long uid)
{
	struct copy_job *j = job_of(s);
	struct mb_append *na;
	unsigned long *nu;
	int cap;

	if (j->n == j->cap) {
		cap = j->cap ? j->cap * 2 : 16;
		if ((na = realloc(s->app, (size_t)cap * sizeof(*na))) == NULL)
			return -1;
		s->app = na;
		if ((nu = realloc(j->uids, (size_t)cap * sizeof(*nu))) == NULL)
			return -1;
		j->uids = nu;
		j->cap = cap;
	}
	memset(&s->app[j->n], 0, sizeof(s->app[0]));
	j->uids[j->n] = uid;
	return 0;
}

/* --- the second half: the destination --- */

/* The reply is made; the sync has told what changed. */
static void
op_tell(struct imap_sess *s)
{
	imap_finish(s, 0);
}

static void copy_failed(struct imap_sess *s, const char *why);
static void move_expunge(struct imap_sess *s);

static void
appended(void *arg, int ok, unsigned long first)
{
	struct imap_sess *s = arg;
	struct copy_job *j = job_of(s);
	struct buf b;

	j->dest_validity = mailbox_uidvalidity(s->mb);
	mailbox_release(s->mb);
	s->mb = NULL;
	if (!ok) {
		copy_failed(s, "[UNAVAILABLE] Cannot write the mailbox");
		return;
	}
	buf_init(&b, 0);
	if (j->rename) {
		/* INBOX is emptied of what was moved */
		s->first_uid = first;
		imap_result(s, "OK", "RENAME completed");
		buf_free(&b);
		move_expunge(s);
		return;
	}
	if (buf_printf(&b, "[%s %lu ", s->napp == 1 && s->copy->n == 0 ?
	    "APPENDUID" : "COPYUID", j->dest_validity) < 0 ||
	    (j->n > 0 && (put_uidset(&b, j->uids, j->n) < 0 ||
	    buf_puts(&b, " ") < 0)) ||
	    buf_printf(&b, "%lu", first) < 0 ||
	    (s->napp > 1 && buf_printf(&b, ":%lu",
	    first + (unsigned long)s->napp - 1) < 0) ||
	    buf_puts(&b, "]") < 0 || buf_terminate(&b) < 0) {
		buf_free(&b);
		copy_failed(s, "[SERVERBUG] Out of memory");
		return;
	}
	if (j->n == 0)
		imap_result(s, "OK", "%s APPEND completed", b.data);
	else if (s->move) {
		/* RFC 6851 4.3: COPYUID untagged, before the EXPUNGEs */
		conn_printf(s->c, "* OK %s Moved\r\n", b.data);
		imap_result(s, "OK", "MOVE completed");
	} else
		imap_result(s, "OK", "%s COPY completed", b.data);
	buf_free(&b);
	if (s->move) {
		move_expunge(s);
		return;
	}
	/* APPEND (no source set) may tell EXPUNGE; COPY by number not */
	s->expunge_ok = s->uid_cmd || j->n == 0;
	imap_copy_free(s);
	if (s->state == IMAP_SELECTED && strcmp(s->dest, s->path) == 0) {
		/* into the selected mailbox: EXISTS now (RFC 3501 6.3.11) */
		imap_sync(s, op_tell);
		return;
	}
	imap_finish(s, 0);
}

static void
dest_opened(void *arg, int status, struct mailbox *mb)
{
	struct imap_sess *s = arg;

	s->mb = status == MB_OK ? mb : NULL;
	if (status != MB_OK) {
		copy_failed(s, status == MB_INUSE ? "[INUSE] Mailbox in use" :
		    "[UNAVAILABLE] Cannot open the mailbox");
		return;
	}
	if (mailbox_append(mb, s->fd, s->app, s->napp, appended, s) < 0) {
		warn("imap[%lu] %s: cannot append to %s: %s", s->c->id,
		    s->c->peer, s->dest, strerror(errno));
		mailbox_release(mb);
		s->mb = NULL;
		copy_failed(s, "[UNAVAILABLE] Cannot write the mailbox");
	}
}

static void
to_dest(struct imap_sess *s)
{
	s->busy = 1;
	if ((s->mb = mailbox_sync(&s->u, s->dest, dest_opened, s)) == NULL)
		copy_failed(s, "[UNAVAILABLE] Cannot open the mailbox");
}

static void
copy_failed(struct imap_sess *s, const char *why)
{
	imap_copy_free(s);
	imap_result(s, "NO", "%s", why);
	imap_finish(s, 0);
}

/* --- MOVE's and RENAME's last step: the originals go --- */

static int
uid_in(const struct copy_job *j, unsigned long uid)
{
	int lo = 0, hi = j->n - 1, mid;

	while (lo <= hi) {
		mid = (lo + hi) / 2;
		if (j->uids[mid] == uid)
			return 1;
		if (j->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

static void
op_move_expunge(struct imap_sess *s)
{
	struct copy_job *j = job_of(s);
	struct mb_msg *m;
	unsigned long i;

	for (i = 0; i < s->nv; i++) {
		if (s->v[i].mbi < 0 || !uid_in(j, s->v[i].uid))
			continue;
		if ((m = mailbox_msg(s->mb, s->v[i].mbi)) == NULL)
			continue;
		m->deleted = 1;
		s->v[i].mbi = -2;
	}
	imap_copy_free(s);
	imap_finish(s, 1);
}

static void
inbox_emptied(void *arg, int ok)
{
	struct imap_sess *s = arg;

	s->mb = NULL;
	if (!ok)
		imap_result(s, "NO", "[UNAVAILABLE] Copied, but INBOX could "
		    "not be emptied");
	conn_puts(s->c, s->result);
	imap_done(s);
}

static void
inbox_opened(void *arg, int status, struct mailbox *mb)
{
	struct imap_sess *s = arg;
	struct copy_job *j = job_of(s);
	int i, n;

	if (status != MB_OK) {
		imap_copy_free(s);
		imap_no(s, "[UNAVAILABLE] Copied, but INBOX could not be "
		    "emptied");
		imap_done(s);
		return;
	}
	s->mb = mb;
	n = mailbox_count(mb);
	for (i = 0; i < n; i++)
		if (uid_in(j, mailbox_msg(mb, i)->uid))
			mailbox_msg(mb, i)->deleted = 1;
	imap_copy_free(s);
	/* INBOX need not be the selected mailbox: no view to follow */
	if (mailbox_commit(mb, inbox_emptied, s) < 0)
		inbox_emptied(s, 0);
}

static void
move_expunge(struct imap_sess *s)
{
	struct copy_job *j = job_of(s);

	if (j->rename) {
		if (mailbox_sync(&s->u, j->inbox, inbox_opened, s) == NULL) {
			imap_copy_free(s);
			imap_no(s, "[UNAVAILABLE] Copied, but INBOX could not "
			    "be emptied");
			imap_done(s);
		}
		return;
	}
	s->expunge_ok = 1;
	imap_sync(s, op_move_expunge);
}

/* --- the first half: the source, into the spool --- */

static void
copy_step(void *arg)
{
	struct imap_sess *s = arg;
	struct copy_job *j = job_of(s);
	unsigned long bytes = 0;
	struct mb_msg *m;
	int mbi, limit;
	unsigned long uid;

	limit = j->rename ? mailbox_count(s->mb) : (int)s->nv;
	for (; j->src_i < limit; j->src_i++) {
		if (bytes >= COPY_STEP_BYTES) {
			(void)ev_timer_set(&s->step, 0);
			return;
		}
		if (j->rename)
			mbi = j->src_i;
		else {
			if (!imap_in_set(s, (unsigned long)j->src_i))
				continue;
			mbi = s->v[j->src_i].mbi;
			if (mbi < 0)
				continue;
		}
		m = mailbox_msg(s->mb, mbi);
		uid = m->uid;
		if (add_app(s, uid) < 0 ||
		    imap_spool_copy(s->fd, s->mb, mbi, &s->app[j->n]) < 0) {
			warn("imap[%lu] %s: cannot spool a copy: %s", s->c->id,
			    s->c->peer, strerror(errno));
			mailbox_release(s->mb);
			s->mb = NULL;
			copy_failed(s, "[UNAVAILABLE] Cannot copy now");
			return;
		}
		if (m->keywords != NULL)
			s->app[j->n].keywords = xstrdup(m->keywords);
		bytes += (unsigned long)(m->end - m->from);
		j->n++;
		s->napp = j->n;
	}
	/* the source is let go before the destination is locked */
	if (j->rename)
		mailbox_release(s->mb);
	else {
		if (s->dirty && s->flush.idx < 0)
			(void)ev_timer_set(&s->flush, IMAP_FLUSH_SECS * 1000);
		mailbox_release(s->mb);
	}
	s->mb = NULL;
	if (j->n == 0) {
		int rename = j->rename;

		imap_copy_free(s);	/* j with it */
		if (rename)
			imap_result(s, "OK", "RENAME completed");
		else if (s->uid_cmd)
			/* RFC 3501 6.4.8: UIDs not there are no error */
			imap_result(s, "OK", "No messages copied");
		else
			imap_result(s, "NO", "Some of the messages were "
			    "expunged");
		imap_finish(s, 0);
		return;
	}
	to_dest(s);
}

static int
new_job(struct imap_sess *s)
{
	imap_copy_free(s);
	if ((s->copy = malloc(sizeof(*s->copy))) == NULL)
		return -1;
	memset(s->copy, 0, sizeof(*s->copy));
	if ((s->fd = imap_spool_open()) < 0) {
		warn("imap: cannot make a spool file in %s: %s",
		    config->queue_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void
op_copy(struct imap_sess *s)
{
	if (s->move && s->readonly) {
		imap_result(s, "NO", "[READ-ONLY] Mailbox is read-only");
		imap_finish(s, 0);
		return;
	}
	if (new_job(s) < 0) {
		mailbox_release(s->mb);
		s->mb = NULL;
		copy_failed(s, "[UNAVAILABLE] Cannot copy now");
		return;
	}
	s->stepper = copy_step;
	copy_step(s);
}

void
imap_cmd_copy(struct imap_sess *s, struct imap_tok *t, int move)
{
	const char *name;

	if (imap_parse_set(s, t) < 0 || imap_get_mailbox(t, &name) < 0 ||
	    imap_get_end(t) < 0) {
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid arguments");
		return;
	}
	if (imap_folder_exists(s, name, s->dest, sizeof(s->dest)) < 0) {
		/* RFC 3501 6.4.7: [TRYCREATE] when it could be created */
		if (strstr(s->result, "NONEXISTENT") != NULL)
			imap_no(s, "[TRYCREATE] No such mailbox");
		else
			conn_puts(s->c, s->result);
		return;
	}
	s->move = move;
	/* message numbers of the set must keep their meaning */
	s->expunge_ok = s->uid_cmd;
	imap_sync(s, op_copy);
}

static void
rename_opened(void *arg, int status, struct mailbox *mb)
{
	struct imap_sess *s = arg;

	s->mb = status == MB_OK ? mb : NULL;
	if (status != MB_OK) {
		imap_copy_free(s);
		imap_no(s, "[UNAVAILABLE] Cannot open INBOX");
		imap_done(s);
		return;
	}
	copy_step(s);
}

/* RENAME INBOX: everything in it moves to s->dest (created). */
void
imap_rename_inbox(struct imap_sess *s)
{
	s->busy = 1;
	conn_hold(s->c);
	s->move = 1;
	if (new_job(s) < 0) {
		imap_copy_free(s);
		imap_no(s, "[UNAVAILABLE] Cannot rename now");
		imap_done(s);
		return;
	}
	s->copy->rename = 1;
	strlcpy(s->copy->inbox, s->u.spool, sizeof(s->copy->inbox));
	imap_result(s, "OK", "RENAME completed");
	s->stepper = copy_step;
	if ((s->mb = mailbox_sync(&s->u, s->u.spool, rename_opened, s)) ==
	    NULL) {
		imap_copy_free(s);
		imap_no(s, "[UNAVAILABLE] Cannot open INBOX");
		imap_done(s);
	}
}

/* --- APPEND --- */

/*
 * The arguments before APPEND's message, read when the literal is
 * announced, so that a missing mailbox or an oversized message is
 * refused before its octets are read (RFC 3501 6.3.11, RFC 7888 4).
 */
static int
append_args(struct imap_sess *s, struct imap_tok *t, unsigned long *size)
{
	const char *name;
	struct buf kw;

	buf_init(&kw, 16 * 1024);
	s->store_flags = 0;
	free(s->store_kw);
	s->store_kw = NULL;
	s->app_date = time(NULL);
	if (imap_get_mailbox(t, &name) < 0)
		goto bad;
	if (imap_peek(t) == IMAP_T_LIST_OPEN &&
	    imap_flag_list(t, &s->store_flags, &kw) < 0)
		goto bad;
	if (imap_peek(t) == IMAP_T_QUOTED &&
	    imap_get_date_time(t, &s->app_date) < 0)
		goto bad;
	if (size != NULL && imap_get_stream(t, size) < 0)
		goto bad;
	if (kw.len > 0)
		s->store_kw = xstrdup(kw.data);
	buf_free(&kw);
	if (imap_folder_exists(s, name, s->dest, sizeof(s->dest)) < 0) {
		if (strstr(s->result, "NONEXISTENT") != NULL)
			imap_result(s, "NO", "[TRYCREATE] No such mailbox");
		return -2;
	}
	return 0;
bad:
	buf_free(&kw);
	return -1;
}

void
imap_append_literal(struct imap_sess *s)
{
	struct imap_tok *t = &s->tok;
	enum imapcb_res r;
	int a;

	strlcpy(s->tagbuf, imapcb_tag(&s->cb), sizeof(s->tagbuf));
	s->tag = s->tagbuf;
	if (!(s->state & (IMAP_AUTH | IMAP_SELECTED)))
		imap_result(s, "BAD", "APPEND not valid in this state");
	else if (imap_tok_init(t, &s->cb) < 0 ||
	    (a = append_args(s, t, NULL)) == -1)
		imap_result(s, "BAD", "%s", t->err != NULL ? t->err :
		    "Invalid APPEND");
	else if (a == 0 && s->cb.lit_len > config->message_size_limit)
		imap_result(s, "NO", "[TOOBIG] Message too large");
	else if (a == 0 && new_job(s) == 0 &&
	    (s->spool = imap_spool_new(s->fd)) != NULL) {
		s->appending = 1;
		if (s->cb.lit_sync)
			conn_puts(s->c, "+ Ready for literal data\r\n");
		if (s->cb.lit_len == 0)
			imap_append_bytes(s, "", 0, 1);
		else
			conn_expect_bytes(s->c, (size_t)s->cb.lit_len);
		return;
	} else if (a == 0)
		imap_result(s, "NO", "[UNAVAILABLE] Cannot take a message now");
	/* refused before the octets: they are dropped if they come */
	imap_copy_free(s);
	log_notice("imap[%lu] %s: APPEND refused: %.*s", s->c->id, s->c->peer,
	    (int)strcspn(s->result, "\r\n"), s->result);
	conn_puts(s->c, s->result);
	r = imapcb_refuse(&s->cb);
	if (r == IMAPCB_BAD_DISCARD && s->cb.lit_len > 0)
		conn_expect_bytes(s->c, (size_t)s->cb.lit_len);
}

void
imap_append_bytes(struct imap_sess *s, const char *p, size_t n, int last)
{
	struct mb_append a;

	if (imap_spool_feed(s->spool, p, n) < 0 && !s->spool_err) {
		s->spool_err = 1;
		warn("imap[%lu] %s: cannot spool APPEND: %s", s->c->id,
		    s->c->peer, strerror(errno));
	}
	if (!last)
		return;
	s->appending = 0;
	imapcb_literal_taken(&s->cb);
	if (!s->spool_err && imap_spool_end(s->spool, &a) == 0 &&
	    add_app(s, 0) == 0) {
		a.flags = s->store_flags;
		a.keywords = s->store_kw;
		s->store_kw = NULL;
		a.date = s->app_date;
		s->app[0] = a;
		s->napp = 1;
	} else
		s->spool_err = 1;
	imap_spool_free(s->spool);
	s->spool = NULL;
}

void
imap_cmd_append(struct imap_sess *s, struct imap_tok *t)
{
	unsigned long size;
	int a;

	a = append_args(s, t, &size);
	if (a == 0 && imap_get_end(t) < 0)
		a = -1;
	if (a == -1) {
		imap_copy_free(s);
		imap_bad(s, "%s", t->err != NULL ? t->err : "Invalid APPEND");
		return;
	}
	if (a == -2 || s->spool_err || s->napp != 1) {
		if (a != -2)
			imap_result(s, "NO", "[UNAVAILABLE] Cannot store the "
			    "message");
		s->spool_err = 0;
		imap_copy_free(s);
		conn_puts(s->c, s->result);
		return;
	}
	s->copy->n = 0;		/* no source UIDs: APPENDUID */
	s->move = 0;
	conn_hold(s->c);
	to_dest(s);
}

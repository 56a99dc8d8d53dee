/*
 * deliver.c - local delivery into mbox files (see deliver.h).
 *
 * The order of a delivery, for every batch of copies for one mailbox:
 * dotlock, kernel lock (DESIGN.md's one order), note the size, append,
 * fsync, unlock.  If anything fails the file is cut back to the end of
 * the last copy that was completely written (or to its old size), so no
 * half message ever stays, and the copies that did not make it are
 * reported as temporary failures: the caller keeps them in the queue.
 * Only after the fsync is a copy reported as delivered, which is when
 * the SMTP client hears 250.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "ev.h"
#include "lock.h"
#include "log.h"
#include "mailbox.h"
#include "mbox.h"
#include "util.h"

/* One write() covers at most this much; more waits for the next step. */
#define BATCH_MAX	(1024UL * 1024UL)
#define RETRY_FIRST_MS	1000UL
#define RETRY_MAX_MS	30000UL

struct job {
	struct job		*next;
	struct msg		*m;
	struct buf		head;	/* From_, Return-Path, Received */
	deliver_done_fn		*done;
	void			*arg;
	int			status;
	const char		*why;
};

struct writer {
	struct writer		*next;
	struct user		u;
	struct job		*jobs, **tail;
	struct ev_timer		timer;
	unsigned long		since;	/* first try of the current wait */
	unsigned long		delay;
};

static struct writer *writers;
static int njobs;

static void writer_run(void *arg);

static struct writer *
writer_get(const struct user *u)
{
	struct writer *w;

	for (w = writers; w != NULL; w = w->next)
		if (strcmp(w->u.spool, u->spool) == 0)
			return w;
	if ((w = malloc(sizeof(*w))) == NULL)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->u = *u;
	w->tail = &w->jobs;
	ev_timer_init(&w->timer, writer_run, w);
	w->next = writers;
	writers = w;
	return w;
}

static void
writer_free(struct writer *w)
{
	struct writer **pp;

	for (pp = &writers; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	ev_timer_del(&w->timer);
	free(w);
}

/* The headers of one copy: they name its recipient (RFC 5321 4.4). */
static int
job_head(struct job *j, const char *rcpt)
{
	const struct msg *m = j->m;

	if (mbox_from_line(&j->head, m->sender, m->arrival) < 0 ||
	    buf_printf(&j->head, "Return-Path: <%s>\n", m->sender) < 0)
		return -1;
	return msg_received(&j->head, m, rcpt);
}

int
deliver_mbox(const struct user *u, struct msg *m, const char *rcpt,
    deliver_done_fn *done, void *arg)
{
	struct writer *w;
	struct job *j;

	if ((w = writer_get(u)) == NULL || (j = malloc(sizeof(*j))) == NULL)
		return -1;
	memset(j, 0, sizeof(*j));
	j->m = msg_ref(m);
	j->done = done;
	j->arg = arg;
	buf_init(&j->head, 0);
	if (job_head(j, rcpt) < 0) {
		buf_free(&j->head);
		msg_unref(m);
		free(j);
		return -1;
	}
	*w->tail = j;
	w->tail = &j->next;
	njobs++;
	/* After this loop turn's input: every copy that arrived in it
	 * shares one write and one fsync. */
	if (!ev_timer_pending(&w->timer) && w->delay == 0) {
		w->since = now_ms();
		if (ev_timer_set(&w->timer, 0) < 0)
			return -1;
	}
	return 0;
}

void
deliver_kick(const char *path)
{
	struct writer *w;

	for (w = writers; w != NULL; w = w->next)
		if (strcmp(w->u.spool, path) == 0 && w->jobs != NULL &&
		    ev_timer_set(&w->timer, 0) < 0)
			warn("%s: cannot schedule delivery", path);
}

int
deliver_pending(void)
{
	return njobs;
}

/* Report the first n jobs (all if n < 0) and free them. */
static void
finish(struct writer *w, int n, int status, const char *why)
{
	struct job *j;

	/* Only the jobs there now: callbacks may add new ones. */
	if (n < 0)
		for (n = 0, j = w->jobs; j != NULL; j = j->next)
			n++;
	while (w->jobs != NULL && n-- > 0) {
		j = w->jobs;
		w->jobs = j->next;
		if (w->jobs == NULL)
			w->tail = &w->jobs;
		njobs--;
		if (status != DELIVER_OK)
			log_notice("%s: to=<%s>, relay=local, status=deferred "
			    "(%s)", j->m->id, w->u.name, why);
		j->done(j->arg, status, why);
		msg_unref(j->m);
		buf_free(&j->head);
		free(j);
	}
}

struct lockstate {
	int	fd;
	int	dot;
	int	kern;
};

static void
unlock(struct writer *w, struct lockstate *ls)
{
	if (ls->kern)
		kernel_lock_release(ls->fd, config->lock_methods);
	if (ls->fd >= 0)
		close(ls->fd);
	if (ls->dot)
		dotlock_release(w->u.spool);
}

/* Take the locks in the one fixed order: dotlock, then the kernel's. */
static int
lock(struct writer *w, struct lockstate *ls)
{
	int r;

	ls->fd = -1;
	ls->dot = ls->kern = 0;
	/* One of our sessions has it: wait, as for any other locker (our
	 * own lockf would succeed, and closing our descriptor would drop
	 * the session's lock). */
	if (mailbox_held(w->u.spool))
		return LOCK_BUSY;
	if (config->lock_methods & LOCK_DOTLOCK) {
		r = dotlock_try(w->u.spool, config->lock_stale);
		if (r != LOCK_OK)
			return r;
		ls->dot = 1;
	}
	if ((ls->fd = mbox_open(&w->u, w->u.spool, 1)) < 0) {
		r = errno;
		unlock(w, ls);
		errno = r;
		return LOCK_FAIL;
	}
	if (config->lock_methods & (LOCK_LOCKF | LOCK_FLOCK)) {
		r = kernel_lock_try(ls->fd, config->lock_methods);
		if (r != LOCK_OK) {
			int save = errno;

			unlock(w, ls);
			errno = save;
			return r;
		}
		ls->kern = 1;
	}
	/* A rewrite cut short by a crash is undone before we append. */
	if (mailbox_recover(ls->fd, w->u.spool) < 0) {
		unlock(w, ls);
		errno = EAGAIN;
		return LOCK_FAIL;
	}
	return LOCK_OK;
}

/* What must come before a new From_ line: the file ends in "\n\n". */
static const char *
separator(int fd, off_t size)
{
	char tail[2];

	if (size == 0)
		return "";
	if (size == 1) {
		if (lseek(fd, 0, SEEK_SET) < 0 || read(fd, tail + 1, 1) != 1)
			return "\n\n";
		return tail[1] == '\n' ? "\n" : "\n\n";
	}
	if (lseek(fd, size - 2, SEEK_SET) < 0 || read(fd, tail, 2) != 2)
		return "\n\n";
	if (tail[1] != '\n')
		return "\n\n";
	return tail[0] == '\n' ? "" : "\n";
}

static int
write_all(int fd, const char *p, size_t n, size_t *done)
{
	ssize_t r;

	*done = 0;
	while (*done < n) {
		r = write(fd, p + *done, n - *done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		*done += (size_t)r;
	}
	return 0;
}

/*
 * Append as many jobs as fit in one batch, fsync, and report them.
 * Returns the number of jobs written durably; on failure the file is
 * cut back so that only whole copies remain.
 */
static void
append_batch(struct writer *w, int fd)
{
	struct buf out;
	size_t ends[256], done;
	struct stat st;
	struct job *j;
	int n = 0, good, err = 0;
	const char *why = NULL;

	buf_init(&out, 0);
	if (fstat(fd, &st) < 0) {
		finish(w, -1, DELIVER_TEMP, strerror(errno));
		return;
	}
	if (buf_puts(&out, separator(fd, st.st_size)) < 0)
		err = ENOMEM;
	for (j = w->jobs; j != NULL && err == 0 && n < (int)NELEM(ends);
	    j = j->next) {
		if (n > 0 && out.len + buf_used(&j->m->data) > BATCH_MAX)
			break;
		/* The blank line after the message ends it (RFC 4155). */
		if (buf_append(&out, buf_ptr(&j->head), buf_used(&j->head)) < 0 ||
		    mbox_quote(&out, buf_ptr(&j->m->data),
		    buf_used(&j->m->data)) < 0 || buf_append(&out, "\n", 1) < 0)
			err = ENOMEM;
		else
			ends[n++] = out.len;
	}
	if (err != 0) {
		buf_free(&out);
		finish(w, -1, DELIVER_TEMP, "out of memory");
		return;
	}
	done = 0;
	if (lseek(fd, st.st_size, SEEK_SET) < 0 ||
	    write_all(fd, out.data, out.len, &done) < 0)
		why = strerror(errno);
	for (good = n; good > 0 && ends[good - 1] > done; good--)
		;
	if (why != NULL) {
		/* Keep the copies that were written whole; cut the rest. */
		off_t keep = st.st_size + (good > 0 ? (off_t)ends[good - 1] : 0);

		if (ftruncate(fd, keep) < 0)
			warn("%s: cannot cut back to %ld bytes: %s", w->u.spool,
			    (long)keep, strerror(errno));
	}
	if (good > 0 && fsync(fd) < 0) {
		/* Nothing of this batch is known to be on disk. */
		why = strerror(errno);
		good = 0;
		if (ftruncate(fd, st.st_size) < 0 || fsync(fd) < 0)
			warn("%s: cannot cut back to %ld bytes: %s", w->u.spool,
			    (long)st.st_size, strerror(errno));
	}
	buf_free(&out);
	finish(w, good, DELIVER_OK, "delivered");
	if (why != NULL)
		finish(w, n - good, DELIVER_TEMP, why);
}

static void
retry_later(struct writer *w)
{
	unsigned long waited = now_ms() - w->since;

	if (waited >= (unsigned long)config->lock_timeout * 1000UL) {
		w->delay = 0;
		finish(w, -1, DELIVER_TEMP, "mailbox locked for too long");
		return;
	}
	w->delay = w->delay == 0 ? RETRY_FIRST_MS : w->delay * 2;
	if (w->delay > RETRY_MAX_MS)
		w->delay = RETRY_MAX_MS;
	log_debug("%s: locked by another program; retry in %lu ms",
	    w->u.spool, w->delay);
	if (ev_timer_set(&w->timer, w->delay) < 0)
		finish(w, -1, DELIVER_TEMP, "out of memory");
}

static void
writer_run(void *arg)
{
	struct writer *w = arg;
	struct lockstate ls;
	int r;

	if (w->jobs != NULL) {
		r = lock(w, &ls);
		if (r == LOCK_BUSY) {
			retry_later(w);
			return;
		}
		w->delay = 0;
		if (r == LOCK_FAIL) {
			log_notice("%s: cannot open or lock: %s", w->u.spool,
			    strerror(errno));
			finish(w, -1, DELIVER_TEMP, strerror(errno));
		} else {
			append_batch(w, ls.fd);
			unlock(w, &ls);
		}
	}
	/* Jobs that came in meanwhile get the next step. */
	if (w->jobs == NULL)
		writer_free(w);
	else {
		w->since = now_ms();
		if (ev_timer_set(&w->timer, 0) < 0)
			finish(w, -1, DELIVER_TEMP, "out of memory");
	}
}

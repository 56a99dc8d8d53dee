/*
 * mailbox_text.c - what IMAP needs of an open mailbox beyond POP3's
 * streaming: a message's text read at any offset (our metadata headers
 * hidden), and appending messages (APPEND, COPY, MOVE) with their
 * flags and new UIDs, synced before anyone is told it worked.
 *
 * An append never rewrites what is already in the file: it writes at
 * the end, and on any error cuts the file back to its old size (STYLE
 * habit 10), so a failed APPEND leaves no half message.
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
#include "ev.h"
#include "lock.h"
#include "log.h"
#include "mailbox.h"
#include "mailbox_priv.h"
#include "mbox.h"
#include "msg.h"

/* --- reading a message --- */

int
mailbox_text_open(struct mb_text *t, struct mailbox *mb, int i)
{
	const struct mb_msg *m;
	size_t len, j, n, k;
	int skip = 0;
	char *h;

	memset(t, 0, sizeof(*t));
	if ((m = mailbox_msg(mb, i)) == NULL)
		return -1;
	t->mb = mb;
	t->i = i;
	len = (size_t)(m->body - m->hdr);
	if (len > HDR_MAX) {
		/* a giant header is read as it is (sizes may then differ) */
		t->hlen = (unsigned long)len;
		t->len = t->hlen + (unsigned long)(m->end - m->body);
		return 0;
	}
	if ((h = malloc(len + 1)) == NULL)
		return -1;
	if (lseek(mb->fd, m->hdr, SEEK_SET) < 0 ||
	    read(mb->fd, h, len) != (ssize_t)len) {
		free(h);
		return -1;
	}
	/* Drop our metadata lines and their continuations, in place. */
	for (j = k = 0; j < len; j += n) {
		const char *nl = memchr(h + j, '\n', len - j);

		n = nl != NULL ? (size_t)(nl - (h + j)) + 1 : len - j;
		if (h[j] != ' ' && h[j] != '\t')
			skip = n > 1 && msg_header_is_ours(h + j, n);
		if (!skip) {
			memmove(h + k, h + j, n);
			k += n;
		}
	}
	t->hdr = h;
	t->hlen = (unsigned long)k;
	t->len = t->hlen + (unsigned long)(m->end - m->body);
	return 0;
}

long
mailbox_text_read(void *arg, unsigned long off, char *buf, size_t len)
{
	struct mb_text *t = arg;
	const struct mb_msg *m = mailbox_msg(t->mb, t->i);
	unsigned long left;
	ssize_t n;
	off_t at;

	if (m == NULL)
		return -1;
	if (off >= t->len)
		return 0;
	left = t->len - off;
	if (len > left)
		len = (size_t)left;
	if (t->hdr != NULL && off < t->hlen) {
		if (len > t->hlen - off)
			len = (size_t)(t->hlen - off);
		memcpy(buf, t->hdr + off, len);
		return (long)len;
	}
	at = t->hdr != NULL ? m->body + (off_t)(off - t->hlen) :
	    m->hdr + (off_t)off;
	if (lseek(t->mb->fd, at, SEEK_SET) < 0 ||
	    (n = read(t->mb->fd, buf, len)) < 0)
		return -1;
	return (long)n;
}

void
mailbox_text_close(struct mb_text *t)
{
	free(t->hdr);
	t->hdr = NULL;
}

/* --- appending --- */

static void
append_finish(struct mailbox *mb, int ok)
{
	mailbox_append_fn *fn = mb->app_fn;
	void *arg = mb->app_arg;
	unsigned long uid = mb->appuid;

	mb->app_fn = NULL;
	mb->app = NULL;
	mb->state = MB_OPEN;
	if (mb->cancel_after) {		/* nobody waits for the result */
		mailbox_release(mb);
		return;
	}
	fn(arg, ok, ok ? uid : 0);
}

static void
append_parsed(void *arg, int status, struct mailbox *unused)
{
	struct mailbox *mb = arg;

	(void)unused;
	if (status != MB_OK)
		warn("%s: cannot read back what was appended", mb->path);
	append_finish(mb, status == MB_OK);
}

/* Cut back to the old size: no half message stays. */
static void
append_fail(struct mailbox *mb, const char *what)
{
	int save = errno;

	warn("%s: append failed (%s): %s", mb->path, what, strerror(save));
	if (ftruncate(mb->fd, mb->appold) < 0 || fsync(mb->fd) < 0)
		warn("%s: cannot cut back to %lu bytes: %s", mb->path,
		    (unsigned long)mb->appold, strerror(errno));
	mb->uidnext = mb->appuid;	/* those UIDs were never seen */
	errno = save;
	append_finish(mb, 0);
}

static int
write_at(struct mailbox *mb, const char *p, size_t n)
{
	if (lseek(mb->fd, mb->apppos, SEEK_SET) < 0 ||
	    write(mb->fd, p, n) != (ssize_t)n)
		return -1;
	mb->apppos += (off_t)n;
	return 0;
}

/* From_ line, header, our metadata lines and the blank line. */
static int
append_head(struct mailbox *mb, const struct mb_append *a,
    unsigned long uid, int first)
{
	struct mb_msg m;
	struct buf b;
	char *p;
	int r = -1;

	buf_init(&b, 0);
	if (a->fromlen > 0) {
		if ((p = buf_reserve(&b, a->fromlen)) == NULL ||
		    lseek(mb->appfd, a->from, SEEK_SET) < 0 ||
		    read(mb->appfd, p, a->fromlen) != (ssize_t)a->fromlen)
			goto out;
		buf_commit(&b, a->fromlen);
	} else if (mbox_from_line(&b, "MAILER-DAEMON", a->date) < 0)
		goto out;
	if (a->hdrlen > HDR_MAX * 4 ||
	    (p = buf_reserve(&b, a->hdrlen)) == NULL ||
	    lseek(mb->appfd, a->hdr, SEEK_SET) < 0 ||
	    read(mb->appfd, p, a->hdrlen) != (ssize_t)a->hdrlen)
		goto out;
	buf_commit(&b, a->hdrlen);
	if (b.len > 0 && b.data[b.len - 1] != '\n' &&
	    buf_append(&b, "\n", 1) < 0)
		goto out;
	memset(&m, 0, sizeof(m));
	m.end = (off_t)a->bodylen;
	m.uid = uid;
	m.flags = a->flags;
	m.keywords = (char *)a->keywords;
	if (mb_put_meta(mb, &b, &m, first, a->clen) < 0 ||
	    buf_append(&b, "\n", 1) < 0)
		goto out;
	r = write_at(mb, b.data, b.len);
out:
	buf_free(&b);
	return r;
}

/* One message per turn, its body in bounded pieces. */
void
mb_append_step(struct mailbox *mb)
{
	const struct mb_append *a;
	unsigned long done;
	off_t piece;
	int i;

	for (i = 0; i < 4 && mb->appi < mb->napp; i++) {
		a = &mb->app[mb->appi];
		if (mb->aphase == 0) {
			if (append_head(mb, a, mb->appuid + (unsigned long)mb->appi,
			    mb->n == 0 && mb->appi == 0) < 0) {
				append_fail(mb, "write");
				return;
			}
			mb->aphase = 1;
			mb->bpos = 0;
		}
		done = (unsigned long)mb->bpos;
		if (done < a->bodylen) {
			piece = (off_t)(a->bodylen - done);
			if (piece > (off_t)(4 * STEP_BYTES))
				piece = (off_t)(4 * STEP_BYTES);
			if (mb_copy_range(mb->appfd, a->body + (off_t)done,
			    mb->fd, mb->apppos, piece) < 0) {
				append_fail(mb, "write");
				return;
			}
			mb->apppos += piece;
			mb->bpos += piece;
			if ((unsigned long)mb->bpos < a->bodylen)
				break;		/* more of it next turn */
		}
		/* the blank line that ends a message (RFC 4155) */
		if (write_at(mb, "\n", 1) < 0) {
			append_fail(mb, "write");
			return;
		}
		mb->aphase = 0;
		mb->appi++;
	}
	if (mb->appi < mb->napp) {
		(void)ev_timer_set(&mb->timer, 0);
		return;
	}
	/* The base says where UIDs go on: in place if it can, else the
	 * next commit rewrites it. */
	if (mb->n > 0) {
		mb->first_kept = 0;
		if ((i = mb_base_in_place(mb)) < 0) {
			append_fail(mb, "X-IMAPbase");
			return;
		}
		if (i == 0)
			mb->base_dirty = 1;
	} else {
		mb->base_dirty = 0;
		mb->file_validity = mb->uidvalidity;
	}
	if (fsync(mb->fd) < 0) {
		append_fail(mb, "fsync");
		return;
	}
	mb_reparse_tail(mb, mb->appold + mb->appsep, append_parsed, mb);
}

/* What must come before a new From_ line: the file ends in "\n\n". */
static int
separator(struct mailbox *mb, off_t size, const char **sep)
{
	char tail[2];

	*sep = "";
	if (size == 0)
		return 0;
	tail[0] = '\n';
	if (lseek(mb->fd, size >= 2 ? size - 2 : 0, SEEK_SET) < 0 ||
	    read(mb->fd, size >= 2 ? tail : tail + 1, size >= 2 ? 2 : 1) < 1)
		return -1;
	if (tail[1] != '\n')
		*sep = "\n\n";
	else if (tail[0] != '\n')
		*sep = "\n";
	return 0;
}

int
mailbox_append(struct mailbox *mb, int fd, struct mb_append *v, int n,
    mailbox_append_fn *fn, void *arg)
{
	struct stat st;
	const char *sep;

	if (mb->state != MB_OPEN || n <= 0)
		return -1;
	if (mb->missing) {
		/* the first message makes the file (the dotlock is ours) */
		if ((mb->fd = mbox_open(&mb->u, mb->path, 1)) < 0)
			return -1;
		if ((config->lock_methods & (LOCK_LOCKF | LOCK_FLOCK)) &&
		    kernel_lock_try(mb->fd, config->lock_methods) != LOCK_OK) {
			close(mb->fd);
			mb->fd = -1;
			return -1;
		}
		mb->kern = (config->lock_methods & (LOCK_LOCKF | LOCK_FLOCK))
		    != 0;
		mb->missing = 0;
	}
	if (fstat(mb->fd, &st) < 0 || separator(mb, st.st_size, &sep) < 0)
		return -1;
	if (mb->uidnext == 0)
		mb->uidnext = 1;
	if (mb->uidvalidity == 0) {
		mb->uidvalidity = (unsigned long)time(NULL);
		mb->base_dirty = 1;
	}
	mb->app = v;
	mb->napp = n;
	mb->appi = 0;
	mb->aphase = 0;
	mb->appfd = fd;
	mb->appold = st.st_size;
	mb->appsep = (off_t)strlen(sep);
	mb->apppos = st.st_size;
	mb->appuid = mb->uidnext;
	/* the new UIDs, and the base an empty mailbox gets with them */
	mb->uidnext += (unsigned long)n;
	mb->app_fn = fn;
	mb->app_arg = arg;
	mb->state = MB_APPEND;
	if (mb->appsep > 0 && write_at(mb, sep, (size_t)mb->appsep) < 0) {
		mb->uidnext = mb->appuid;
		mb->app_fn = NULL;
		mb->state = MB_OPEN;
		if (ftruncate(mb->fd, mb->appold) < 0)
			warn("%s: cannot cut back: %s", mb->path,
			    strerror(errno));
		return -1;
	}
	(void)ev_timer_set(&mb->timer, 0);
	return 0;
}

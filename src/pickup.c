/*
 * pickup.c - the maildrop, both ends (see pickup.h).
 *
 * A drop file is text: "yubin-drop 1", "S sender", one "R recipient"
 * per recipient (xtext-encoded), a blank line, then the message with LF
 * line ends.  Nothing in it is trusted by the daemon: the file must be
 * a regular file of sane size, the daemon gives the message its own
 * queue id, and every recipient is resolved as an SMTP recipient from
 * a local user would be.  The file is removed only once dispatch says
 * every copy is safe, so a crash in between delivers twice at worst.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "dispatch.h"
#include "log.h"
#include "pickup.h"
#include "resolve.h"
#include "util.h"

#define PICKUP_MAX	100	/* drop files taken per queue run */

struct pending {
	struct pending	*next;
	char		name[64];
};

static struct pending *inflight;

static int
drop_path(char *out, size_t len, const char *name)
{
	int r = snprintf(out, len, "%s/%s/%s", config->queue_dir, MAILDROP_DIR,
	    name);

	return (r < 0 || (size_t)r >= len) ? -1 : 0;
}

int
maildrop_write(struct msg *m, const struct strlist *rcpts)
{
	char tmp[1100], path[1100], name[64];
	struct buf b;
	size_t off = 0;
	ssize_t n;
	int fd, i, e = 0, save;

	buf_init(&b, 0);
	e |= buf_puts(&b, "yubin-drop 1\nS ") | xtext_put(&b, m->sender);
	for (i = 0; i < rcpts->n; i++)
		e |= buf_puts(&b, "\nR ") | xtext_put(&b, rcpts->v[i]);
	e |= buf_puts(&b, "\n\n");
	e |= buf_append(&b, buf_ptr(&m->data), buf_used(&m->data));
	snprintf(name, sizeof(name), ".%s", m->id);
	if (e || drop_path(tmp, sizeof(tmp), name) < 0 ||
	    drop_path(path, sizeof(path), m->id) < 0) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
	    0600)) < 0) {
		buf_free(&b);
		return -1;
	}
	while (off < b.len) {
		n = write(fd, b.data + off, b.len - off);
		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0)
			off += (size_t)n;
	}
	save = errno;
	n = off < b.len ? -1 : 0;
	buf_free(&b);
	if (n < 0) {
		close(fd);
		(void)unlink(tmp);
		errno = save != 0 ? save : EIO;
		return -1;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		save = errno;
		close(fd);
		(void)unlink(tmp);
		errno = save;
		return -1;
	}
	return 0;
}

int
pickup_init(void)
{
	char path[1100];

	/* The queue itself: others may pass through, not write. */
	if (mkdirs(config->queue_dir, 0755) < 0 ||
	    drop_path(path, sizeof(path), "") < 0)
		return -1;
	if (mkdir(path, 01733) < 0 && errno != EEXIST)
		return -1;
	/* mkdir's mode goes through the umask; this one must not. */
	return chmod(path, 01733);
}

static int
is_inflight(const char *name)
{
	struct pending *p;

	for (p = inflight; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return 1;
	return 0;
}

static void
picked(void *arg, int ok, const char *status)
{
	struct pending **pp, *p = arg;
	char path[1100];

	for (pp = &inflight; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (ok && drop_path(path, sizeof(path), p->name) == 0 &&
	    unlink(path) < 0)
		warn("cannot remove %s: %s", path, strerror(errno));
	if (!ok)
		warn("maildrop %s: not taken (%s); will try again", p->name,
		    status);
	free(p);
}

/* Read a drop file whole, refusing anything but a small regular file. */
static char *
drop_read(const char *path, size_t *len, uid_t *owner)
{
	struct stat st;
	ssize_t n;
	char *text;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (unsigned long)st.st_size > config->message_size_limit + 65536UL ||
	    (text = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n != (ssize_t)st.st_size) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = (size_t)n;
	*owner = st.st_uid;
	return text;
}

/* Resolve one "R" line's address into rcpts[*n]. */
static void
drop_rcpt(const char *id, const char *word, size_t wlen, struct rcpt *r,
    int *n)
{
	struct resolve_ctx rc;
	char text[MSG_ADDR_MAX], path[MSG_ADDR_MAX + 2], why[128];
	const char *end;
	struct addr a;

	memset(&rc, 0, sizeof(rc));
	rc.may_relay = 1;	/* a local user may send anywhere */
	if (xtext_get(word, wlen, text, sizeof(text)) < 0) {
		warn("%s: maildrop: undecodable recipient; skipped", id);
		return;
	}
	snprintf(path, sizeof(path), "<%s>", text);
	targetlist_init(&r[*n].tl);
	if (addr_parse_path(path, &a, &end, ADDR_POSTMASTER_OK) != 0 ||
	    *end != '\0' ||
	    resolve_rcpt(&a, &rc, &r[*n].tl, why, sizeof(why)) != RESOLVE_OK) {
		/* Bounces come with the relay transport; say it loudly. */
		log_notice("%s: to=<%s>, relay=local, status=bounced (%s)", id,
		    text, "bad address or no such user");
		targetlist_free(&r[*n].tl);
		return;
	}
	strlcpy(r[*n].orig, text, sizeof(r[*n].orig));
	(*n)++;
}

/* Parse the envelope of a drop file and start the message on its way. */
static int
drop_take(const char *name, char *text, size_t len, uid_t owner)
{
	struct pending *p;
	struct rcpt *r;
	struct msg *m;
	struct passwd *pw;
	char *line = text, *nl;
	int n = 0, i, ret = -1;

	if (len < 13 || memcmp(text, "yubin-drop 1\n", 13) != 0 ||
	    (m = msg_new()) == NULL)
		return -1;
	msg_make_id(m->id, sizeof(m->id));
	strlcpy(m->proto, "local", sizeof(m->proto));
	if ((pw = getpwuid(owner)) != NULL)
		strlcpy(m->auth, pw->pw_name, sizeof(m->auth));
	r = malloc(((len / 3) + 1) * sizeof(*r));
	for (line = text + 13; r != NULL && line < text + len; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(text + len - line))) == NULL)
			break;
		if (nl == line) {	/* the blank line: the message follows */
			if (buf_append(&m->data, nl + 1,
			    (size_t)(text + len - nl - 1)) == 0)
				ret = 0;
			break;
		}
		if (line[0] == 'S' && line[1] == ' ' &&
		    xtext_get(line + 2, (size_t)(nl - line - 2), m->sender,
		    sizeof(m->sender)) < 0)
			break;
		if (line[0] == 'R' && line[1] == ' ')
			drop_rcpt(m->id, line + 2, (size_t)(nl - line - 2), r, &n);
	}
	if (ret == 0 && n > 0 && (p = malloc(sizeof(*p))) != NULL) {
		strlcpy(p->name, name, sizeof(p->name));
		log_info("%s: from=<%s>, size=%lu, nrcpt=%d (maildrop %s, uid "
		    "%ld)", m->id, m->sender, (unsigned long)buf_used(&m->data),
		    n, name, (long)owner);
		if (dispatch_start(m, r, n, picked, p) != NULL) {
			p->next = inflight;
			inflight = p;
		} else {
			free(p);
			ret = -2;	/* try again later */
		}
	} else if (ret == 0 && n == 0)
		log_notice("%s: maildrop %s: no deliverable recipient", m->id,
		    name);
	for (i = 0; i < n; i++)
		targetlist_free(&r[i].tl);
	free(r);
	msg_unref(m);
	return ret;
}

void
pickup_run(void)
{
	char path[1100];
	struct dirent *de;
	uid_t owner;
	size_t len;
	char *text;
	DIR *dir;
	int taken = 0, r;

	if (drop_path(path, sizeof(path), "") < 0 ||
	    (dir = opendir(path)) == NULL)
		return;
	while (taken < PICKUP_MAX && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= 64 ||
		    is_inflight(de->d_name) ||
		    drop_path(path, sizeof(path), de->d_name) < 0)
			continue;
		if ((text = drop_read(path, &len, &owner)) == NULL) {
			warn("maildrop %s: unreadable or too big; removed",
			    de->d_name);
			(void)unlink(path);
			continue;
		}
		taken++;
		r = drop_take(de->d_name, text, len, owner);
		free(text);
		if (r == -1) {
			warn("maildrop %s: damaged or empty; removed",
			    de->d_name);
			(void)unlink(path);
		} else if (r == 0 && !is_inflight(de->d_name))
			(void)unlink(path);	/* nothing to deliver */
	}
	closedir(dir);
}

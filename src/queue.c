/*
 * queue.c - the on-disk queue and the queue runner (see queue.h).
 *
 * Writing: ID.msg, then ID.env, each to a temporary name, fsynced and
 * renamed, then the directory fsynced: a crash leaves either no
 * envelope (the message was not accepted; the stray .msg is removed
 * later) or a complete one.  Envelope fields are xtext-encoded (RFC 3461
 * section 4) so that no address or error text can break the line format.
 *
 * The runner delivers local copies through deliver.c; remote ones wait
 * for the relay transport.  Work per run is bounded (QUEUE_RUN_MAX
 * messages), so a large queue never stalls the loop.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "ev.h"
#include "log.h"
#include "pickup.h"
#include "queue.h"
#include "user.h"
#include "util.h"

#define QUEUE_RUN_MS	60000UL		/* how often the queue is run */
#define QUEUE_RUN_MAX	200		/* messages started per run */
#define QUEUE_RETRY_MIN	60L		/* first retry after a failure */
#define QUEUE_RETRY_MAX	3600L
#define ENV_LINE_MAX	4096

struct qentry {
	struct qentry	*next;
	struct msg	*m;
	struct qrcpt	*r;
	int		nr;
	int		busy;		/* deliveries in flight */
};

struct qdone {
	struct qentry	*e;
	int		i;
};

static struct qentry *inflight;
static struct ev_timer run_timer;
static int started;
/* The next run takes every pending copy, backed off or not: a run asked
 * for (SIGUSR1, sendmail -q) or the first one after a start. */
static int forced;

static int
qpath(char *out, size_t len, const char *id, const char *suffix)
{
	int r = snprintf(out, len, "%s/%s%s", config->queue_dir, id, suffix);

	return (r < 0 || (size_t)r >= len) ? -1 : 0;
}

static void
sync_dir(void)
{
	int fd = open(config->queue_dir, O_RDONLY, 0);

	/* Some systems cannot fsync a directory; the rename still holds. */
	if (fd >= 0) {
		if (fsync(fd) < 0 && errno != EINVAL && errno != EBADF)
			warn("fsync %s: %s", config->queue_dir, strerror(errno));
		close(fd);
	}
}

/* Write data to path durably, through a temporary name. */
static int
write_durably(const char *path, const char *data, size_t len)
{
	char tmp[1100];
	size_t off = 0;
	ssize_t n;
	int fd, r, save;

	r = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return -1;
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
	    0600)) < 0)
		return -1;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	save = errno;
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	errno = save;
	return -1;
}

static int
env_format(struct buf *b, const struct msg *m, const struct qrcpt *r, int nr)
{
	int i, e = 0;

	e |= buf_printf(b, "V 1\nI %s\nT %ld\nP %s\nC %s\n", m->id,
	    (long)m->arrival, m->proto, m->client[0] ? m->client : "+");
	e |= buf_puts(b, "S ") | xtext_put(b, m->sender) | buf_puts(b, "\n");
	e |= buf_puts(b, "H ") | xtext_put(b, m->helo) | buf_puts(b, "\n");
	e |= buf_puts(b, "A ") | xtext_put(b, m->auth) | buf_puts(b, "\n");
	for (i = 0; i < nr; i++) {
		e |= buf_printf(b, "R %c %c %d %ld ", r[i].type, r[i].state,
		    r[i].tries, r[i].next);
		e |= xtext_put(b, r[i].target) | buf_puts(b, " ") |
		    xtext_put(b, r[i].orig) | buf_puts(b, " ") |
		    xtext_put(b, r[i].why) | buf_puts(b, "\n");
	}
	return e ? -1 : 0;
}

static int
env_write(const struct msg *m, const struct qrcpt *r, int nr)
{
	char path[1100];
	struct buf b;
	int ret;

	buf_init(&b, 0);
	if (qpath(path, sizeof(path), m->id, ".env") < 0 ||
	    env_format(&b, m, r, nr) < 0) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	ret = write_durably(path, b.data, b.len);
	buf_free(&b);
	return ret;
}

int
queue_store(struct msg *m, const struct qrcpt *r, int nr)
{
	char path[1100];

	if (qpath(path, sizeof(path), m->id, ".msg") < 0 ||
	    write_durably(path, buf_ptr(&m->data), buf_used(&m->data)) < 0) {
		warn("%s: cannot queue the message: %s", m->id,
		    strerror(errno));
		return -1;
	}
	if (env_write(m, r, nr) < 0) {
		warn("%s: cannot queue the envelope: %s", m->id,
		    strerror(errno));
		(void)unlink(path);
		return -1;
	}
	sync_dir();
	log_info("%s: queued, %d recipient%s", m->id, nr, nr == 1 ? "" : "s");
	return 0;
}

/* Split a line into at most max words at single spaces. */
static int
split(char *line, char **w, size_t *wl, int max)
{
	int n = 0;
	char *p = line, *sp;

	while (n < max) {
		w[n] = p;
		sp = strchr(p, ' ');
		wl[n] = sp != NULL ? (size_t)(sp - p) : strlen(p);
		n++;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	return n;
}

static int
env_rcpt(struct qentry *e, char **w, size_t *wl, int n)
{
	struct qrcpt *r, *nv;
	unsigned long tries, next;

	if (n != 8 || wl[1] != 1 || wl[2] != 1 ||
	    (w[1][0] != QR_LOCAL && w[1][0] != QR_REMOTE) ||
	    (w[2][0] != QS_PENDING && w[2][0] != QS_SENT &&
	    w[2][0] != QS_BOUNCED) ||
	    parse_ulong_n(w[3], wl[3], 1000000UL, &tries) < 0 ||
	    parse_ulong_n(w[4], wl[4], 0x7fffffffUL, &next) < 0)
		return -1;
	if ((nv = realloc(e->r, (size_t)(e->nr + 1) * sizeof(*nv))) == NULL)
		return -1;
	e->r = nv;
	r = &e->r[e->nr];
	memset(r, 0, sizeof(*r));
	r->type = w[1][0];
	r->state = w[2][0];
	r->tries = (int)tries;
	r->next = (long)next;
	if (xtext_get(w[5], wl[5], r->target, sizeof(r->target)) < 0 ||
	    xtext_get(w[6], wl[6], r->orig, sizeof(r->orig)) < 0 ||
	    xtext_get(w[7], wl[7], r->why, sizeof(r->why)) < 0)
		return -1;
	e->nr++;
	return 0;
}

static int
env_line(struct qentry *e, char *line)
{
	struct msg *m = e->m;
	char *w[8];
	size_t wl[8];
	unsigned long t;
	int n;

	n = split(line, w, wl, 8);
	if (wl[0] != 1)
		return -1;
	switch (w[0][0]) {
	case 'V':
		return n == 2 && wl[1] == 1 && w[1][0] == '1' ? 0 : -1;
	case 'I':
		return n == 2 && wl[1] < sizeof(m->id) &&
		    strcmp(w[1], m->id) == 0 ? 0 : -1;
	case 'T':
		if (n != 2 || parse_ulong_n(w[1], wl[1], 0x7fffffffUL, &t) < 0)
			return -1;
		m->arrival = (time_t)t;
		return 0;
	case 'P':
		return n == 2 ? xtext_get(w[1], wl[1], m->proto,
		    sizeof(m->proto)) : -1;
	case 'C':
		return n == 2 ? xtext_get(w[1], wl[1], m->client,
		    sizeof(m->client)) : -1;
	case 'S':
		return n == 2 ? xtext_get(w[1], wl[1], m->sender,
		    sizeof(m->sender)) : -1;
	case 'H':
		return n == 2 ? xtext_get(w[1], wl[1], m->helo,
		    sizeof(m->helo)) : -1;
	case 'A':
		return n == 2 ? xtext_get(w[1], wl[1], m->auth,
		    sizeof(m->auth)) : -1;
	case 'R':
		return env_rcpt(e, w, wl, n);
	}
	return -1;
}

static void
entry_free(struct qentry *e)
{
	msg_unref(e->m);
	free(e->r);
	free(e);
}

/* Read ID.env; NULL (and a warning) if it is damaged. */
static struct qentry *
env_read(const char *id)
{
	char path[1100], line[ENV_LINE_MAX];
	struct qentry *e;
	FILE *fp;
	size_t len;
	int lineno = 0, bad = 0;

	if (qpath(path, sizeof(path), id, ".env") < 0 ||
	    (fp = fopen(path, "r")) == NULL)
		return NULL;
	if ((e = malloc(sizeof(*e))) == NULL || (e->m = msg_new()) == NULL) {
		free(e);
		fclose(fp);
		return NULL;
	}
	e->r = NULL;
	e->nr = e->busy = 0;
	e->next = NULL;
	strlcpy(e->m->id, id, sizeof(e->m->id));
	while (!bad && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len == 0 || line[len - 1] != '\n')
			bad = 1;
		else {
			line[len - 1] = '\0';
			bad = env_line(e, line) < 0;
		}
	}
	if (ferror(fp))
		bad = 1;
	fclose(fp);
	if (bad || e->nr == 0) {
		warn("%s: damaged queue envelope (line %d); left alone", path,
		    lineno);
		entry_free(e);
		return NULL;
	}
	return e;
}

static void
entry_remove(const char *id)
{
	char path[1100];

	if (qpath(path, sizeof(path), id, ".env") == 0)
		(void)unlink(path);
	if (qpath(path, sizeof(path), id, ".msg") == 0)
		(void)unlink(path);
}

/* After a run: forget the message, or write back what is left. */
static void
entry_settle(struct qentry *e)
{
	struct qentry **pp;
	int i, left = 0;

	for (pp = &inflight; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	for (i = 0; i < e->nr; i++)
		if (e->r[i].state == QS_PENDING)
			left++;
	if (left == 0) {
		entry_remove(e->m->id);
		log_info("%s: removed", e->m->id);
	} else if (env_write(e->m, e->r, e->nr) < 0)
		warn("%s: cannot update the envelope: %s", e->m->id,
		    strerror(errno));
	entry_free(e);
}

static void
copy_done(void *arg, int status, const char *why)
{
	struct qdone *d = arg;
	struct qentry *e = d->e;
	struct qrcpt *r = &e->r[d->i];
	long delay;

	free(d);
	if (status == DELIVER_OK) {
		r->state = QS_SENT;
		log_info("%s: to=<%s>, relay=local, delay=%ld, status=sent "
		    "(from queue)", e->m->id, r->orig,
		    (long)(time(NULL) - e->m->arrival));
	} else {
		r->tries++;
		delay = QUEUE_RETRY_MIN << (r->tries < 7 ? r->tries - 1 : 6);
		r->next = (long)time(NULL) +
		    (delay > QUEUE_RETRY_MAX ? QUEUE_RETRY_MAX : delay);
		strlcpy(r->why, why, sizeof(r->why));
	}
	if (--e->busy == 0)
		entry_settle(e);
}

/* Load the text of e and start every local copy that is due. */
static void
entry_run(struct qentry *e, long now)
{
	char path[1100];
	struct qdone *d;
	struct user u;
	FILE *fp;
	int i;
	char *p;
	size_t n;

	e->next = inflight;
	inflight = e;
	e->busy = 1;		/* held until every copy is started */
	if (qpath(path, sizeof(path), e->m->id, ".msg") < 0 ||
	    (fp = fopen(path, "r")) == NULL) {
		warn("%s: queued message text missing", e->m->id);
		e->busy = 0;
		entry_settle(e);
		return;
	}
	while ((p = buf_reserve(&e->m->data, 65536)) != NULL &&
	    (n = fread(p, 1, 65536, fp)) > 0)
		buf_commit(&e->m->data, n);
	if (p == NULL || ferror(fp)) {
		warn("%s: cannot read the queued message", e->m->id);
		fclose(fp);
		e->busy = 0;
		entry_settle(e);
		return;
	}
	fclose(fp);
	for (i = 0; i < e->nr; i++) {
		struct qrcpt *r = &e->r[i];

		if (r->state != QS_PENDING || r->type != QR_LOCAL ||
		    r->next > now)
			continue;
		if (user_lookup(r->target, &u) < 0) {
			r->state = QS_BOUNCED;
			strlcpy(r->why, "user unknown", sizeof(r->why));
			log_notice("%s: to=<%s>, relay=local, status=bounced "
			    "(user %s unknown)", e->m->id, r->orig, r->target);
			continue;
		}
		if ((d = malloc(sizeof(*d))) == NULL)
			break;
		d->e = e;
		d->i = i;
		e->busy++;
		if (deliver_mbox(&u, e->m, r->orig, copy_done, d) < 0) {
			e->busy--;
			free(d);
		}
	}
	if (--e->busy == 0)
		entry_settle(e);
}

static int
is_inflight(const char *id)
{
	struct qentry *e;

	for (e = inflight; e != NULL; e = e->next)
		if (strcmp(e->m->id, id) == 0)
			return 1;
	return 0;
}

static int
entry_due(const struct qentry *e, long now)
{
	int i;

	for (i = 0; i < e->nr; i++)
		if (e->r[i].state == QS_PENDING && e->r[i].type == QR_LOCAL &&
		    e->r[i].next <= now)
			return 1;
	return 0;
}

/* A queue id as we make them: hex digits only, so never a path. */
static int
id_from_name(const char *name, const char *suffix, char *id, size_t len)
{
	size_t n = strlen(name), s = strlen(suffix), i;

	if (n <= s || n - s >= len || strcmp(name + n - s, suffix) != 0)
		return -1;
	for (i = 0; i < n - s; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'A' && name[i] <= 'F')))
			return -1;
	memcpy(id, name, n - s);
	id[n - s] = '\0';
	return 0;
}

/*
 * A .msg without its .env is what a crash between the two writes leaves:
 * the message was never accepted.  Remove it once it is surely not in
 * the middle of being written (a day old).
 */
static void
remove_stray(const char *id)
{
	char env[1100], msgp[1100];
	struct stat st;

	if (qpath(env, sizeof(env), id, ".env") < 0 ||
	    qpath(msgp, sizeof(msgp), id, ".msg") < 0 ||
	    stat(env, &st) == 0 || errno != ENOENT ||
	    stat(msgp, &st) < 0 || time(NULL) - st.st_mtime < 86400)
		return;
	log_notice("%s: removing a queued text without envelope", id);
	(void)unlink(msgp);
}

static void
queue_run(void *arg)
{
	struct qentry *e;
	struct dirent *de;
	char id[MSG_ID_MAX];
	long now = (long)time(NULL);
	int started_now = 0;
	DIR *dir;

	(void)arg;
	if (forced)
		now = 0x7fffffffL;	/* everything is due */
	forced = 0;
	pickup_run();
	if ((dir = opendir(config->queue_dir)) == NULL) {
		warn("cannot read the queue %s: %s", config->queue_dir,
		    strerror(errno));
	} else {
		while (started_now < QUEUE_RUN_MAX &&
		    (de = readdir(dir)) != NULL) {
			if (id_from_name(de->d_name, ".msg", id, sizeof(id)) == 0) {
				remove_stray(id);
				continue;
			}
			if (id_from_name(de->d_name, ".env", id, sizeof(id)) < 0 ||
			    is_inflight(id) || (e = env_read(id)) == NULL)
				continue;
			if (!entry_due(e, now)) {
				entry_free(e);
				continue;
			}
			started_now++;
			entry_run(e, now);
		}
		closedir(dir);
	}
	if (ev_timer_set(&run_timer, QUEUE_RUN_MS) < 0)
		warn("cannot schedule the next queue run");
}

void
queue_start(void)
{
	ev_timer_init(&run_timer, queue_run, NULL);
	started = 1;
	queue_kick();
}

void
queue_kick(void)
{
	forced = 1;
	if (started && ev_timer_set(&run_timer, 0) < 0)
		warn("cannot schedule a queue run");
}

int
queue_list(FILE *out)
{
	char id[MSG_ID_MAX], path[1100], when[64];
	struct qentry *e;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int i, n = 0, unreadable = 0;

	if ((dir = opendir(config->queue_dir)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (id_from_name(de->d_name, ".env", id, sizeof(id)) < 0)
			continue;
		if (qpath(path, sizeof(path), id, ".env") == 0 &&
		    access(path, R_OK) < 0) {
			unreadable++;
			continue;
		}
		if ((e = env_read(id)) == NULL)
			continue;
		if (qpath(path, sizeof(path), id, ".msg") < 0 ||
		    stat(path, &st) < 0)
			st.st_size = 0;
		if (n++ == 0)
			fprintf(out, "%-20s %8s %-24s %s\n", "-Queue ID-",
			    "--Size--", "----Arrival Time----",
			    "-Sender/Recipient-");
		if (strftime(when, sizeof(when), "%a %b %d %H:%M:%S",
		    localtime(&e->m->arrival)) == 0)
			when[0] = '\0';
		fprintf(out, "%-20s %8ld %-24s <%s>\n", id, (long)st.st_size,
		    when, e->m->sender);
		for (i = 0; i < e->nr; i++) {
			if (e->r[i].state != QS_PENDING)
				continue;
			if (e->r[i].why[0] != '\0')
				fprintf(out, "%55s(%s)\n", "", e->r[i].why);
			fprintf(out, "%55s<%s>\n", "", e->r[i].orig);
		}
		entry_free(e);
	}
	closedir(dir);
	if (unreadable > 0) {
		fprintf(out, "%d queued message%s not readable by you "
		    "(permission denied)\n", unreadable,
		    unreadable == 1 ? "" : "s");
		return n + unreadable;
	}
	if (n == 0)
		fprintf(out, "Mail queue is empty\n");
	else
		fprintf(out, "-- %d request%s\n", n, n == 1 ? "" : "s");
	return n;
}

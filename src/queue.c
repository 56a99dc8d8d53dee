/*
 * queue.c - the on-disk queue and the queue runner (see queue.h).
 *
 * Writing: ID.msg, then ID.env, each to a temporary name, fsynced and
 * renamed, then the directory fsynced: a crash leaves either no
 * envelope (the message was not accepted; the stray .msg is removed
 * later) or a complete one.  Envelope fields are xtext-encoded (RFC 3461
 * section 4) so that no address or error text can break the line format.
 *
 * The runner delivers local copies through deliver.c and sends remote
 * ones through relay.c, one request per domain.  A copy that fails for
 * good, or is still not delivered after queue_lifetime, is bounced to
 * the sender (RFC 3464, dsn.c) - never to <>.  Work per run is bounded
 * (QUEUE_RUN_MAX messages), so a large queue never stalls the loop.
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

#include "addr.h"
#include "conf.h"
#include "deliver.h"
#include "dispatch.h"
#include "dsn.h"
#include "ev.h"
#include "log.h"
#include "pickup.h"
#include "queue.h"
#include "relay.h"
#include "resolve.h"
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

/* One relay request: the recipients of an entry in one domain. */
struct qrelay {
	struct qentry	*e;
	int		*idx;		/* their indexes in e->r */
	struct qrcpt	**rp;
	int		n;
	struct buf	head;		/* our Received: line */
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

/*
 * New mail for other hosts goes out at once, not at the next run: its
 * id waits here for a timer (never from inside queue_store()'s caller),
 * and only that entry is read.  Beyond SOON_MAX the next run takes it.
 */
#define SOON_MAX	256
static char soon_ids[SOON_MAX][MSG_ID_MAX];
static int nsoon;
static struct ev_timer soon_timer;

static void entry_run(struct qentry *e, long now);
static int is_inflight(const char *id);
static struct qentry *env_read(const char *id);

static void
soon_run(void *arg)
{
	struct qentry *e;
	int i, n = nsoon;

	(void)arg;
	nsoon = 0;
	for (i = 0; i < n; i++)
		if (!is_inflight(soon_ids[i]) &&
		    (e = env_read(soon_ids[i])) != NULL)
			entry_run(e, (long)time(NULL));
}

static void
run_soon(const char *id)
{
	if (!started || nsoon >= SOON_MAX)
		return;
	strlcpy(soon_ids[nsoon++], id, sizeof(soon_ids[0]));
	if (ev_timer_set(&soon_timer, 0) < 0)
		warn("%s: cannot schedule its delivery", id);
}

int
queue_store(struct msg *m, const struct qrcpt *r, int nr)
{
	char path[1100];
	int i;

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
	for (i = 0; i < nr; i++)
		if (r[i].type == QR_REMOTE) {
			run_soon(m->id);
			break;
		}
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

/* --- bounces (RFC 3464) --- */

static long
data_read(void *arg, unsigned long off, char *buf, size_t len)
{
	const struct buf *b = arg;

	if (off >= b->len)
		return 0;
	if (len > b->len - off)
		len = (size_t)(b->len - off);
	memcpy(buf, b->data + off, len);
	return (long)len;
}

static void
bounce_dispatched(void *arg, int ok, const char *status)
{
	char *id = arg;

	if (!ok)
		warn("%s: the bounce could not be delivered or queued (%s)",
		    id, status != NULL ? status : "");
	free(id);
}

/* The status code at the start of a reply or reason, or a default. */
static void
status_of(const char *why, int perm, char *out, size_t len)
{
	const char *p = why;

	/* "550 5.1.1 ..." or "5.1.1 ..." */
	if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && p[3] == ' ')
		p += 4;
	if ((p[0] == '4' || p[0] == '5') && p[1] == '.' &&
	    strspn(p + 2, "0123456789.") >= 3) {
		size_t n = 2 + strspn(p + 2, "0123456789.");

		if (n < len) {
			memcpy(out, p, n);
			out[n] = '\0';
			if (perm)
				out[0] = '5';
			return;
		}
	}
	strlcpy(out, perm ? "5.0.0" : "4.0.0", len);
}

/*
 * Tell the sender which copies failed for good: one DSN for all that
 * bounced in this run, delivered like any other mail (to a local user
 * or through the queue).  Never to <> (RFC 5321 6.1, 4.5.5).
 */
static void
send_bounce(struct qentry *e)
{
	struct dsn_rcpt *dr;
	struct dsn d;
	struct msg *b;
	struct rcpt rc;
	struct addr a;
	struct resolve_ctx ctx;
	char why[128], path[MSG_ADDR_MAX + 2], pm[300];
	char (*st)[16];
	const char *end;
	int i, n = 0;

	for (i = 0; i < e->nr; i++)
		n += e->r[i].state == QS_BOUNCED && e->r[i].fresh == 1;
	if (n == 0)
		return;
	if (e->m->sender[0] == '\0') {
		log_notice("%s: a bounce that bounced: dropped (no bounce to "
		    "<>)", e->m->id);
		return;
	}
	dr = malloc((size_t)n * sizeof(*dr));
	st = malloc((size_t)n * sizeof(*st));
	if (dr == NULL || st == NULL || (b = msg_new()) == NULL) {
		free(dr);
		free(st);
		warn("%s: out of memory: no bounce sent", e->m->id);
		return;
	}
	for (i = n = 0; i < e->nr; i++) {
		const struct qrcpt *r = &e->r[i];

		if (r->state != QS_BOUNCED || r->fresh != 1)
			continue;
		memset(&dr[n], 0, sizeof(dr[n]));
		dr[n].orcpt = r->orig[0] != '\0' ? r->orig : NULL;
		dr[n].final = r->target;
		dr[n].action = DSN_FAILED;
		/* a failed copy's class is 5, but for expiry RFC 3463's
		 * 4.4.7 is what Postfix and sendmail report too */
		status_of(r->why, strncmp(r->why, "4.4.7", 5) != 0, st[n],
		    sizeof(st[n]));
		dr[n].status = st[n];
		dr[n].remote_mta = r->mta[0] != '\0' ? r->mta : NULL;
		dr[n].diag = r->why;
		dr[n].last_attempt = time(NULL);
		n++;
	}
	i = snprintf(pm, sizeof(pm), "MAILER-DAEMON@%s", config->hostname);
	if (i < 0 || (size_t)i >= sizeof(pm))
		strlcpy(pm, "MAILER-DAEMON", sizeof(pm));
	memset(&d, 0, sizeof(d));
	d.reporting_mta = config->hostname;
	d.queue_id = e->m->id;
	d.sender = e->m->sender;
	d.arrival = e->m->arrival;
	d.postmaster = pm;
	d.rcpts = dr;
	d.nrcpts = n;
	d.read = data_read;
	d.arg = &e->m->data;
	d.hdr_len = 0;
	d.full = e->m->data.len <= 64UL * 1024UL;
	d.max_body = 64UL * 1024UL;
	msg_make_id(b->id, sizeof(b->id));
	b->arrival = time(NULL);
	b->sender[0] = '\0';
	strlcpy(b->proto, "local", sizeof(b->proto));
	strlcpy(b->helo, config->hostname, sizeof(b->helo));
	memset(&ctx, 0, sizeof(ctx));
	ctx.may_relay = 1;		/* a bounce goes where the sender is */
	(void)snprintf(path, sizeof(path), "<%s>", e->m->sender);
	memset(&rc, 0, sizeof(rc));
	strlcpy(rc.orig, e->m->sender, sizeof(rc.orig));
	targetlist_init(&rc.tl);
	if (dsn_compose(&d, &b->data) < 0 ||
	    addr_parse_path(path, &a, &end, 0) != 0 ||
	    resolve_rcpt(&a, &ctx, &rc.tl, why, sizeof(why)) != RESOLVE_OK) {
		warn("%s: cannot bounce to <%s>", e->m->id, e->m->sender);
	} else {
		char *bid = xstrdup(b->id);

		log_info("%s: sender non-delivery notification: %s", e->m->id,
		    b->id);
		if (dispatch_start(b, &rc, 1, bounce_dispatched, bid) == NULL) {
			warn("%s: cannot start the bounce", e->m->id);
			free(bid);
		}
	}
	targetlist_free(&rc.tl);
	msg_unref(b);
	free(dr);
	free(st);
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
	send_bounce(e);
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

/*
 * One copy of e has its answer while others are still under way (a slow
 * host, a DNS lookup that times out): write the envelope now, so that a
 * restart or a crash before the last one ends does not send the copies
 * already sent a second time.  A copy bounced in this run is written as
 * still pending, because its report is only sent when the run ends: after
 * a crash it is tried again rather than never reported.
 */
static void
entry_checkpoint(struct qentry *e)
{
	struct qrcpt *c;
	int i;

	if ((c = malloc((size_t)e->nr * sizeof(*c))) == NULL) {
		warn("%s: cannot update the envelope: out of memory",
		    e->m->id);
		return;		/* written when the last copy is done */
	}
	memcpy(c, e->r, (size_t)e->nr * sizeof(*c));
	for (i = 0; i < e->nr; i++)
		if (c[i].state == QS_BOUNCED && c[i].fresh == 1)
			c[i].state = QS_PENDING;
	if (env_write(e->m, c, e->nr) < 0)
		warn("%s: cannot update the envelope: %s", e->m->id,
		    strerror(errno));
	free(c);
}

/* A failed try: the next one later, doubling up to an hour. */
static void
defer(struct qrcpt *r, const char *why)
{
	long delay;

	r->tries++;
	delay = QUEUE_RETRY_MIN << (r->tries < 7 ? r->tries - 1 : 6);
	r->next = (long)time(NULL) +
	    (delay > QUEUE_RETRY_MAX ? QUEUE_RETRY_MAX : delay);
	if (why != NULL)
		strlcpy(r->why, why, sizeof(r->why));
}

static void
bounce_rcpt(struct qrcpt *r, const char *why)
{
	r->state = QS_BOUNCED;
	r->fresh = 1;
	if (why != NULL)
		strlcpy(r->why, why, sizeof(r->why));
}

static void
copy_done(void *arg, int status, const char *why)
{
	struct qdone *d = arg;
	struct qentry *e = d->e;
	struct qrcpt *r = &e->r[d->i];

	free(d);
	if (status == DELIVER_OK) {
		r->state = QS_SENT;
		log_info("%s: to=<%s>, relay=local, delay=%ld, status=sent "
		    "(from queue)", e->m->id, r->orig,
		    (long)(time(NULL) - e->m->arrival));
	} else if (status == DELIVER_PERM) {
		bounce_rcpt(r, why);
		log_notice("%s: to=<%s>, relay=local, status=bounced (%s)",
		    e->m->id, r->orig, why);
	} else
		defer(r, why);
	if (--e->busy == 0)
		entry_settle(e);
	else if (status == DELIVER_OK)
		entry_checkpoint(e);
}

static void
qrelay_free(struct qrelay *q)
{
	buf_free(&q->head);
	free(q->idx);
	free(q->rp);
	free(q);
}

static void
relayed(void *arg, struct relay_req *req)
{
	struct qrelay *q = arg;
	struct qentry *e = q->e;
	struct qrcpt *r;
	int i;

	for (i = 0; i < q->n; i++) {
		r = q->rp[i];
		strlcpy(r->mta, relay_rcpt_mta(req, i), sizeof(r->mta));
		switch (relay_rcpt_status(req, i)) {
		case RELAY_SENT:
			r->state = QS_SENT;
			break;
		case RELAY_PERM:
			bounce_rcpt(r, NULL);
			break;
		default:
			defer(r, NULL);
			break;
		}
	}
	relay_free(req);
	qrelay_free(q);
	if (--e->busy == 0)
		entry_settle(e);
	else
		entry_checkpoint(e);
}

/*
 * Copies still not delivered queue_lifetime after arrival are bounced
 * (RFC 5321 4.5.4.1: give up after 4-5 days), with the last reason.
 */
static void
expire(struct qentry *e)
{
	char why[256];
	int i;

	if ((long)time(NULL) - (long)e->m->arrival <
	    (long)config->queue_lifetime)
		return;
	for (i = 0; i < e->nr; i++) {
		if (e->r[i].state != QS_PENDING)
			continue;
		(void)snprintf(why, sizeof(why), "4.4.7 delivery time expired%s"
		    "%s", e->r[i].why[0] != '\0' ? "; last error: " : "",
		    e->r[i].why);
		bounce_rcpt(&e->r[i], why);
		log_notice("%s: to=<%s>, relay=none, delay=%ld, status=bounced "
		    "(%s)", e->m->id, e->r[i].orig,
		    (long)time(NULL) - (long)e->m->arrival, why);
	}
}

/* The domain of an address (after its last "@"), lower case. */
static void
domain_of(const char *addr, char *out, size_t len)
{
	const char *at = strrchr(addr, '@');
	size_t i;

	strlcpy(out, at != NULL ? at + 1 : "", len);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
}

/* Received: lines of the text (a loop shows as too many). */
static int
count_received(const struct buf *b)
{
	const char *p = b->data, *e = b->data + b->len;
	int n = 0;

	while (p != NULL && p < e) {
		if (*p == '\n')
			break;			/* the end of the header */
		if (e - p > 9 && ascii_ncasecmp(p, "Received:", 9) == 0)
			n++;
		p = memchr(p, '\n', (size_t)(e - p));
		if (p != NULL)
			p++;
	}
	return n;
}

static int
has_8bit(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] >= 0x80)
			return 1;
	return 0;
}

/* One relay request per domain for the remote copies that are due. */
static void
start_remote(struct qentry *e, long now)
{
	char dom[256], d2[256], path[1100];
	struct qrelay *q;
	struct relay_req *req;
	struct relay_msg rm;
	int i, j, eightbit = -1, loops;

	for (i = 0; i < e->nr; i++) {
		struct qrcpt *r = &e->r[i];

		if (r->state != QS_PENDING || r->type != QR_REMOTE ||
		    r->next > now || r->fresh == 2)
			continue;
		if (eightbit < 0) {
			loops = count_received(&e->m->data);
			if (loops > SMTP_HOPS_MAX) {
				for (j = i; j < e->nr; j++) {
					if (e->r[j].state != QS_PENDING ||
					    e->r[j].type != QR_REMOTE)
						continue;
					bounce_rcpt(&e->r[j], "5.4.6 mail "
					    "loop: too many Received: headers");
					log_notice("%s: to=<%s>, relay=none, "
					    "delay=%ld, status=bounced (%s)",
					    e->m->id, e->r[j].orig, now -
					    (long)e->m->arrival, e->r[j].why);
				}
				return;
			}
			eightbit = has_8bit(&e->m->data);
			if (qpath(path, sizeof(path), e->m->id, ".msg") < 0)
				return;
		}
		domain_of(r->target, dom, sizeof(dom));
		if ((q = malloc(sizeof(*q))) == NULL)
			return;
		memset(q, 0, sizeof(*q));
		q->e = e;
		buf_init(&q->head, 0);
		q->idx = malloc((size_t)e->nr * sizeof(*q->idx));
		q->rp = malloc((size_t)e->nr * sizeof(*q->rp));
		if (q->idx == NULL || q->rp == NULL) {
			free(q->idx);
			free(q->rp);
			free(q);
			return;
		}
		/* this one and every due one of the same domain */
		for (j = i; j < e->nr; j++) {
			struct qrcpt *x = &e->r[j];

			if (x->state != QS_PENDING || x->type != QR_REMOTE ||
			    x->next > now || x->fresh == 2)
				continue;
			domain_of(x->target, d2, sizeof(d2));
			if (strcmp(d2, dom) != 0)
				continue;
			x->fresh = 2;		/* taken by this request */
			q->idx[q->n] = j;
			q->rp[q->n++] = x;
		}
		/* our trace line, sent before the text (RFC 5321 4.4) */
		buf_reset(&q->head);
		if (msg_received(&q->head, e->m, q->n == 1 ? q->rp[0]->orig :
		    NULL) < 0) {
			for (j = 0; j < q->n; j++)
				defer(q->rp[j], "4.3.0 out of memory");
			qrelay_free(q);
			continue;
		}
		memset(&rm, 0, sizeof(rm));
		rm.id = e->m->id;
		rm.sender = e->m->sender;
		rm.path = path;
		rm.len = (off_t)e->m->data.len;
		rm.wiresize = (unsigned long)(e->m->data.len + q->head.len) +
		    count_lf(e->m->data.data, e->m->data.len) +
		    count_lf(q->head.data, q->head.len);
		rm.eightbit = eightbit;
		rm.arrival = e->m->arrival;
		rm.head = q->head.data;
		rm.headlen = q->head.len;
		e->busy++;
		req = relay_start(&rm, dom, q->rp, q->n, relayed, q);
		if (req == NULL) {
			for (j = 0; j < q->n; j++)
				defer(q->rp[j], "4.3.0 cannot start the relay");
			e->busy--;
			qrelay_free(q);
		}
	}
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
	expire(e);
	for (i = 0; i < e->nr; i++) {
		struct qrcpt *r = &e->r[i];

		if (r->state != QS_PENDING || r->type != QR_LOCAL ||
		    r->next > now)
			continue;
		if (user_lookup(r->target, &u) < 0) {
			bounce_rcpt(r, "5.1.1 user unknown");
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
	start_remote(e, now);
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

	/* (an expired copy is due too: it is bounced now) */
	if ((long)time(NULL) - (long)e->m->arrival >=
	    (long)config->queue_lifetime)
		return 1;
	for (i = 0; i < e->nr; i++)
		if (e->r[i].state == QS_PENDING && e->r[i].next <= now)
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
	ev_timer_init(&soon_timer, soon_run, NULL);
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
			/* where the copy goes (a remote copy an alias led to
			 * is not the alias's address) */
			fprintf(out, "%55s<%s>\n", "", e->r[i].type ==
			    QR_REMOTE ? e->r[i].target : e->r[i].orig);
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

/*
 * dispatch.c - one message to all its recipients (see dispatch.h).
 *
 * One copy per local user, however many recipient addresses led there
 * (an alias and the user's own address, say).  Copies that fail for now
 * (a lock held too long, a full disk) and remote recipients are written
 * to the queue with fsync before done() reports success; only if even
 * that fails is the sender asked to try again, so a copy may at worst be
 * duplicated, never lost.
 */
#include "yubin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "deliver.h"
#include "dispatch.h"
#include "ev.h"
#include "log.h"
#include "queue.h"
#include "user.h"
#include "util.h"

struct copy {
	struct dispatch		*d;
	char			user[USER_NAME_MAX + 1];
	char			orig[MSG_ADDR_MAX];
	int			status;
	char			why[128];
};

struct dispatch {
	struct msg		*m;
	struct copy		*copies;
	int			ncopies;
	struct qrcpt		*remote;	/* remote recipients */
	int			nremote;
	int			pending;
	dispatch_done_fn	*done;
	void			*arg;
	struct ev_timer		later;		/* settle from the loop */
};

static void
dispatch_free(struct dispatch *d)
{
	msg_unref(d->m);
	free(d->copies);
	free(d->remote);
	free(d);
}

static void
settle(struct dispatch *d)
{
	struct qrcpt *q;
	int i, nq = 0, ok = 1;

	q = malloc((size_t)(d->ncopies + d->nremote + 1) * sizeof(*q));
	if (q == NULL)
		ok = 0;
	for (i = 0; ok && i < d->ncopies; i++) {
		if (d->copies[i].status == DELIVER_OK)
			continue;
		memset(&q[nq], 0, sizeof(*q));
		q[nq].type = QR_LOCAL;
		q[nq].state = QS_PENDING;
		q[nq].tries = 1;
		q[nq].next = (long)time(NULL) + 60;
		strlcpy(q[nq].target, d->copies[i].user, sizeof(q->target));
		strlcpy(q[nq].orig, d->copies[i].orig, sizeof(q->orig));
		strlcpy(q[nq].why, d->copies[i].why, sizeof(q->why));
		nq++;
	}
	for (i = 0; ok && i < d->nremote; i++)
		q[nq++] = d->remote[i];
	if (ok && nq > 0 && queue_store(d->m, q, nq) < 0)
		ok = 0;
	free(q);
	if (d->done != NULL)
		d->done(d->arg, ok, nq > 0 ? "queued" : "delivered");
	dispatch_free(d);
}

/* Is orig just user@hostname (or user)? Then orig_to says nothing new. */
static int
same_address(const char *orig, const char *user)
{
	size_t n = strlen(user);

	return strncmp(orig, user, n) == 0 && (orig[n] == '\0' ||
	    (orig[n] == '@' && ascii_casecmp(orig + n + 1,
	    config->hostname) == 0));
}

static void
settle_timer(void *arg)
{
	settle(arg);
}

static void
copy_done(void *arg, int status, const char *why)
{
	struct copy *cp = arg;
	struct dispatch *d = cp->d;

	cp->status = status;
	strlcpy(cp->why, why, sizeof(cp->why));
	if (status == DELIVER_OK) {
		if (!same_address(cp->orig, cp->user))
			log_info("%s: to=<%s@%s>, orig_to=<%s>, relay=local, "
			    "delay=%ld, status=sent", d->m->id, cp->user,
			    config->hostname, cp->orig,
			    (long)(time(NULL) - d->m->arrival));
		else
			log_info("%s: to=<%s@%s>, relay=local, delay=%ld, "
			    "status=sent", d->m->id, cp->user,
			    config->hostname,
			    (long)(time(NULL) - d->m->arrival));
	}
	if (--d->pending == 0)
		settle(d);
}

static int
copy_known(const struct dispatch *d, const char *user)
{
	int i;

	for (i = 0; i < d->ncopies; i++)
		if (strcmp(d->copies[i].user, user) == 0)
			return 1;
	return 0;
}

/* Is addr already a remote recipient?  The local part is compared
 * exactly (RFC 5321 2.4), the domain in any case: one RCPT per address,
 * as sendmail and Postfix send it, however many ways led there. */
static int
remote_known(const struct dispatch *d, const char *addr)
{
	const char *at = strrchr(addr, '@'), *at2;
	int i;

	for (i = 0; i < d->nremote; i++) {
		at2 = strrchr(d->remote[i].target, '@');
		if (at == NULL || at2 == NULL) {
			if (strcmp(d->remote[i].target, addr) == 0)
				return 1;
			continue;
		}
		if (at - addr == at2 - d->remote[i].target &&
		    strncmp(addr, d->remote[i].target,
		    (size_t)(at - addr)) == 0 &&
		    ascii_casecmp(at + 1, at2 + 1) == 0)
			return 1;
	}
	return 0;
}

static void
add_target(struct dispatch *d, const struct target *t, const char *orig)
{
	struct copy *cp;
	struct qrcpt *q;

	if (t->type == T_LOCAL && !copy_known(d, t->name)) {
		cp = &d->copies[d->ncopies++];
		memset(cp, 0, sizeof(*cp));
		cp->d = d;
		strlcpy(cp->user, t->name, sizeof(cp->user));
		strlcpy(cp->orig, orig, sizeof(cp->orig));
		cp->status = DELIVER_TEMP;
		strlcpy(cp->why, "not attempted", sizeof(cp->why));
	} else if (t->type == T_ADDRESS && !remote_known(d, t->name)) {
		/* Remote: waits in the queue for the relay transport. */
		q = &d->remote[d->nremote++];
		memset(q, 0, sizeof(*q));
		q->type = QR_REMOTE;
		q->state = QS_PENDING;
		strlcpy(q->target, t->name, sizeof(q->target));
		strlcpy(q->orig, orig, sizeof(q->orig));
	}
}

struct dispatch *
dispatch_start(struct msg *m, const struct rcpt *rcpts, int nrcpt,
    dispatch_done_fn *done, void *arg)
{
	struct dispatch *d;
	struct user u;
	int i, j, n = 0;

	for (i = 0; i < nrcpt; i++)
		n += rcpts[i].tl.n;
	if ((d = malloc(sizeof(*d))) == NULL)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->copies = malloc((size_t)(n + 1) * sizeof(*d->copies));
	d->remote = malloc((size_t)(n + 1) * sizeof(*d->remote));
	if (d->copies == NULL || d->remote == NULL) {
		free(d->copies);
		free(d->remote);
		free(d);
		return NULL;
	}
	d->m = msg_ref(m);
	ev_timer_init(&d->later, settle_timer, d);
	d->done = done;
	d->arg = arg;
	for (i = 0; i < nrcpt; i++)
		for (j = 0; j < rcpts[i].tl.n; j++)
			add_target(d, &rcpts[i].tl.v[j], rcpts[i].orig);
	d->pending = 1;		/* held until every copy is started */
	for (i = 0; i < d->ncopies; i++) {
		struct copy *cp = &d->copies[i];

		if (user_lookup(cp->user, &u) < 0) {
			strlcpy(cp->why, "user vanished", sizeof(cp->why));
			continue;
		}
		d->pending++;
		if (deliver_mbox(&u, m, cp->orig, copy_done, cp) < 0) {
			d->pending--;
			strlcpy(cp->why, "out of memory", sizeof(cp->why));
		}
	}
	/* Never report from inside this call: the caller is not ready. */
	if (--d->pending == 0 && ev_timer_set(&d->later, 0) < 0)
		settle(d);
	return d;
}

void
dispatch_detach(struct dispatch *d)
{
	d->done = NULL;
}

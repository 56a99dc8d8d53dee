/*
 * dispatch.h - handing one accepted message to all its recipients:
 * local copies through deliver.c, everything that did not make it (and
 * every remote recipient) into the queue.  The SMTP session and the
 * pickup of locally submitted mail both end here, so "accepted" means
 * the same thing for both: every copy is on disk, in a mailbox or in the
 * queue, before the caller is told.
 */
#ifndef YUBIN_DISPATCH_H
#define YUBIN_DISPATCH_H

#include "aliases.h"
#include "msg.h"

struct rcpt {
	char			orig[MSG_ADDR_MAX];	/* as given */
	struct targetlist	tl;			/* resolved */
};

/*
 * ok: every copy is safe (status text says "delivered" or "queued");
 * !ok: nothing could be made safe, the sender must try again.
 */
typedef void dispatch_done_fn(void *arg, int ok, const char *status);

struct dispatch;

/*
 * Start delivering m to rcpts (copied: the caller may free its own).
 * done is called once, from the loop, unless dispatch_detach() came
 * first.  NULL if out of memory.
 */
struct dispatch *dispatch_start(struct msg *m, const struct rcpt *rcpts,
    int nrcpt, dispatch_done_fn *done, void *arg);
/* The caller is going away: finish the work, call nobody. */
void dispatch_detach(struct dispatch *d);

#endif

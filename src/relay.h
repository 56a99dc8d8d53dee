/*
 * relay.h - sending queued mail to other hosts (DESIGN.md "Mail
 * transfer"): where a domain's mail goes (route lines, relayhost, MX
 * records, or the address records when there is no MX, RFC 5321 5.1),
 * the SMTP client run against each host in turn, and how many
 * connections may be open at once, overall and per host.
 *
 * One request is the recipients of one queued message in one domain.
 * The queue runner (queue.c) makes them and writes back the results;
 * bounces are its business too.
 */
#ifndef YUBIN_RELAY_H
#define YUBIN_RELAY_H

#include <sys/types.h>
#include <time.h>

#include "queue.h"

struct relay_req;
/* The request is over: every recipient has a status in its qrcpt (see
 * relay_rcpt_status) and the request may be freed by the caller. */
typedef void relay_done_fn(void *arg, struct relay_req *req);

#define RELAY_SENT	0
#define RELAY_TEMP	1
#define RELAY_PERM	2

/*
 * Start sending m (the caller keeps its head alive until done) to r[0..n), the recipients in domain (their target is the
 * address).  Returns NULL if nothing could be started (then done is not
 * called and the recipients are deferred by the caller).
 */
struct relay_msg {
	const char	*id;		/* the queue id, for logs */
	const char	*sender;	/* "" for <> */
	const char	*path;		/* ID.msg, opened when a slot is free */
	off_t		len;		/* its length */
	unsigned long	wiresize;	/* as sent: CR LF ends, head too */
	int		eightbit;
	time_t		arrival;
	const char	*head;		/* our Received: line, sent first */
	size_t		headlen;
};
struct relay_req *relay_start(const struct relay_msg *m, const char *domain,
    struct qrcpt **r, int n, relay_done_fn *done, void *arg);
/* For recipient i once done: RELAY_*, and the reply or reason (why is
 * also copied into the qrcpt), and the host that answered (or ""). */
int relay_rcpt_status(const struct relay_req *req, int i);
const char *relay_rcpt_mta(const struct relay_req *req, int i);
void relay_free(struct relay_req *req);
/* Connections open now (for shutdown and tests). */
int relay_active(void);

#endif

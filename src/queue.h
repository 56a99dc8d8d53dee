/*
 * queue.h - the on-disk queue (DESIGN.md "Mail transfer"): every copy
 * that was not put into its mailbox at once waits here, in files written
 * and fsynced before the client is told 250, until a queue run delivers
 * it.  Two files per message in queue_dir: ID.msg (the canonical text)
 * and ID.env (envelope and recipients, one line each; its presence is
 * what commits the message).
 */
#ifndef YUBIN_QUEUE_H
#define YUBIN_QUEUE_H

#include <stdio.h>

#include "msg.h"

#define QR_LOCAL	'L'	/* target is a local user name */
#define QR_REMOTE	'R'	/* target is a remote address */
#define QS_PENDING	'P'
#define QS_SENT		'D'
#define QS_BOUNCED	'B'

struct qrcpt {
	char	type;			/* QR_* */
	char	state;			/* QS_* */
	int	tries;
	long	next;			/* time_t of the next try */
	char	target[MSG_ADDR_MAX];
	char	orig[MSG_ADDR_MAX];	/* as the client gave it */
	char	why[256];		/* the last error */
	char	fresh;			/* bounced in this run (not stored) */
	char	mta[300];		/* who gave the last answer (not stored) */
};

/* Write m with its recipients to the queue, durably.  0 or -1. */
int queue_store(struct msg *m, const struct qrcpt *r, int nr);
/* mailq: list every queued message.  Returns the number listed. */
int queue_list(FILE *out);
/* Start the periodic queue runs (the daemon). */
void queue_start(void);
/* Run the queue soon (SIGUSR1, yubin-sendmail -q). */
void queue_kick(void);

#endif

/*
 * deliver.h - putting copies of a message into local mailboxes.
 *
 * One writer per mailbox serialises every copy bound for it, and all the
 * copies that arrive in one loop turn are appended with one write() and
 * made durable with one fsync() (group commit).  A mailbox locked by
 * another program is retried from a timer with backoff; nothing waits.
 */
#ifndef YUBIN_DELIVER_H
#define YUBIN_DELIVER_H

#include "msg.h"
#include "user.h"

#define DELIVER_OK	0	/* on disk (fsynced) */
#define DELIVER_TEMP	1	/* try again later: lock, disk full, I/O */
#define DELIVER_PERM	2	/* will never work */

/* Called exactly once per copy, always from the loop (never inside
 * deliver_mbox itself). */
typedef void deliver_done_fn(void *arg, int status, const char *why);

/*
 * Append m to u's INBOX, with a Received: header naming rcpt.  Returns 0
 * (done will be called) or -1 (out of memory; done will not be called).
 */
int deliver_mbox(const struct user *u, struct msg *m, const char *rcpt,
    deliver_done_fn *done, void *arg);
/* The mailbox at path was just released by one of our sessions: copies
 * waiting for it go now rather than at their next retry. */
void deliver_kick(const char *path);
/* Copies still waiting for a mailbox (for shutdown). */
int deliver_pending(void);

#endif

/*
 * lock.h - mailbox locks, the way the rest of the system takes them
 * (DESIGN.md "Mail store"): a dotlock MAILBOX.lock first, made with the
 * NFS-safe link() trick, then lockf() (fcntl) on the descriptor, and
 * flock() where configured.  Every attempt is non-blocking: a busy lock
 * is reported, and the caller retries from a timer.
 */
#ifndef YUBIN_LOCK_H
#define YUBIN_LOCK_H

#define LOCK_OK		0
#define LOCK_BUSY	1
#define LOCK_FAIL	(-1)	/* errno says why */

/* Create path.lock; stale ones (ctime older than stale secs) go. */
int dotlock_try(const char *path, int stale);
/* Keep a held dotlock from looking stale to others. */
int dotlock_touch(const char *path);
void dotlock_release(const char *path);
/* lockf and/or flock (LOCK_LOCKF, LOCK_FLOCK bits from conf.h). */
int kernel_lock_try(int fd, int methods);
void kernel_lock_release(int fd, int methods);

#endif

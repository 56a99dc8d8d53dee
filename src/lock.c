/*
 * lock.c - dotlocks and kernel locks on mailboxes (see lock.h).
 *
 * The dotlock follows the Solaris maillock() protocol that mail.local,
 * mailx and mutt also follow: a unique temporary file is created in the
 * spool directory and link()ed to MAILBOX.lock; the link count of the
 * temporary file tells whether the link was made, even over NFS where
 * link() may report failure after succeeding.  The lock file contains
 * "0" (Solaris' convention) and is stale when its ctime is older than
 * lock_stale seconds.
 *
 * lockf() is fcntl-based, so it works over NFS through lockd.  Remember
 * (DESIGN.md) that these locks belong to the process: closing any
 * descriptor of the file drops them, which is why callers keep one
 * descriptor per mailbox.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_FILE_H
#include <sys/file.h>
#endif
#ifdef HAVE_UTIME_H
#include <utime.h>
#endif

#include "conf.h"
#include "lock.h"
#include "log.h"

static int
lock_name(char *out, size_t len, const char *path, const char *suffix)
{
	int r = snprintf(out, len, "%s%s", path, suffix);

	if (r < 0 || (size_t)r >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Remove a lock left by a dead locker, if it is old enough. */
static int
dotlock_stale(const char *lockpath, int stale)
{
	struct stat st;

	if (stat(lockpath, &st) < 0)
		return errno == ENOENT;		/* gone: try again */
	if (time(NULL) - st.st_ctime < (time_t)stale)
		return 0;
	warn("removing stale lock %s (%ld s old)", lockpath,
	    (long)(time(NULL) - st.st_ctime));
	return unlink(lockpath) == 0 || errno == ENOENT;
}

int
dotlock_try(const char *path, int stale)
{
	static unsigned long seq;
	char lockpath[1100], tmp[1200];
	struct stat st;
	int fd, tries, made;

	if (lock_name(lockpath, sizeof(lockpath), path, ".lock") < 0)
		return LOCK_FAIL;
	{
		int r = snprintf(tmp, sizeof(tmp), "%s.lk%ld.%lu", path,
		    (long)getpid(), ++seq);

		if (r < 0 || (size_t)r >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			return LOCK_FAIL;
		}
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
	if (fd < 0)
		return LOCK_FAIL;
	if (write(fd, "0", 1) != 1 || close(fd) != 0) {
		(void)unlink(tmp);
		return LOCK_FAIL;
	}
	made = 0;
	for (tries = 0; tries < 2 && !made; tries++) {
		/* link()'s answer may lie over NFS; the link count does not. */
		(void)link(tmp, lockpath);
		if (stat(tmp, &st) == 0 && st.st_nlink == 2)
			made = 1;
		else if (!dotlock_stale(lockpath, stale))
			break;
	}
	(void)unlink(tmp);
	return made ? LOCK_OK : LOCK_BUSY;
}

int
dotlock_touch(const char *path)
{
	char lockpath[1100];

	if (lock_name(lockpath, sizeof(lockpath), path, ".lock") < 0)
		return -1;
#ifdef HAVE_UTIME_H
	return utime(lockpath, NULL);
#else
	return chmod(lockpath, 0644);	/* updates ctime too */
#endif
}

void
dotlock_release(const char *path)
{
	char lockpath[1100];

	if (lock_name(lockpath, sizeof(lockpath), path, ".lock") == 0 &&
	    unlink(lockpath) < 0 && errno != ENOENT)
		warn("cannot remove %s: %s", lockpath, strerror(errno));
}

int
kernel_lock_try(int fd, int methods)
{
	/* lockf locks from the current offset to the end: start at 0. */
	if ((methods & LOCK_LOCKF) && (lseek(fd, (off_t)0, SEEK_SET) < 0 ||
	    lockf(fd, F_TLOCK, (off_t)0) < 0)) {
		if (errno == EACCES || errno == EAGAIN)
			return LOCK_BUSY;
		return LOCK_FAIL;
	}
#ifdef HAVE_FLOCK
	if ((methods & LOCK_FLOCK) && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int save = errno;

		if (methods & LOCK_LOCKF)
			kernel_lock_release(fd, LOCK_LOCKF);
		errno = save;
		return save == EWOULDBLOCK ? LOCK_BUSY : LOCK_FAIL;
	}
#endif
	return LOCK_OK;
}

void
kernel_lock_release(int fd, int methods)
{
#ifdef HAVE_FLOCK
	if (methods & LOCK_FLOCK)
		(void)flock(fd, LOCK_UN);
#endif
	if ((methods & LOCK_LOCKF) && (lseek(fd, (off_t)0, SEEK_SET) < 0 ||
	    lockf(fd, F_ULOCK, (off_t)0) < 0))
		warn("cannot unlock: %s", strerror(errno));
}

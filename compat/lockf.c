/*
 * lockf.c - lockf() on fcntl() record locks, for systems without it.
 *
 * Same semantics as the SVID/XSI lockf(): an exclusive lock on len bytes
 * from the current offset (len 0: to the end of the file, however it
 * grows; len < 0: the len bytes before the offset), owned by the process
 * and so shared with every descriptor it has on the file.  Because it IS
 * an fcntl lock, it interoperates with the system's lockf(), with
 * mail.local and with NFS lockd, which is the point (DESIGN.md).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>

int
yubin_lockf(int fd, int cmd, off_t len)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_whence = SEEK_CUR;
	if (len < 0) {
		fl.l_start = len;
		fl.l_len = -len;
	} else {
		fl.l_start = 0;
		fl.l_len = len;
	}
	switch (cmd) {
	case F_ULOCK:
		fl.l_type = F_UNLCK;
		return fcntl(fd, F_SETLK, &fl);
	case F_LOCK:
		fl.l_type = F_WRLCK;
		return fcntl(fd, F_SETLKW, &fl);
	case F_TLOCK:
		fl.l_type = F_WRLCK;
		return fcntl(fd, F_SETLK, &fl);
	case F_TEST:
		fl.l_type = F_WRLCK;
		if (fcntl(fd, F_GETLK, &fl) == -1)
			return -1;
		if (fl.l_type == F_UNLCK || fl.l_pid == getpid())
			return 0;
		errno = EACCES;
		return -1;
	default:
		errno = EINVAL;
		return -1;
	}
}

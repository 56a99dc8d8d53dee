/*
 * fsync.c - fsync() for systems without it.
 *
 * With fdatasync() we use that: it forces the data, which is what a mail
 * server promises.  A system with neither has no way to force one file
 * to disk: there this checks the descriptor, asks for sync() of
 * everything (which on such systems only SCHEDULES the writes) and
 * returns 0.  That is the best the system allows, and it is the reason
 * this replacement exists only there: it returns 0 without a guarantee
 * only when the system truly has nothing better.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

int
yubin_fsync(int fd)
{
#ifdef HAVE_FDATASYNC
	return fdatasync(fd);
#else
	if (fcntl(fd, F_GETFL) == -1)
		return -1;	/* EBADF, as fsync() would say */
	sync();
	return 0;
#endif
}

/*
 * setsid.c - setsid() for systems without it (pre-POSIX BSD): leave the
 * controlling terminal with TIOCNOTTY, then lead a new process group.
 * As setsid(), it fails (EPERM) for a process group leader; daemon.c
 * forks first, so the caller is never one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>
#ifdef HAVE_SYS_IOCTL_H
#include <sys/ioctl.h>
#endif

pid_t
yubin_setsid(void)
{
#ifdef TIOCNOTTY
	int	fd;
#endif

	if (getpgrp() == getpid()) {
		errno = EPERM;
		return (pid_t)-1;
	}
#ifdef TIOCNOTTY
	if ((fd = open("/dev/tty", O_RDWR)) != -1) {
		(void)ioctl(fd, TIOCNOTTY, (char *)0);
		(void)close(fd);
	}
#endif
	if (setpgid(0, 0) == -1)
		return (pid_t)-1;
	return getpid();
}

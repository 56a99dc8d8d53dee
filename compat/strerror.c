/*
 * strerror.c - strerror() for systems without it.
 *
 * Old systems with no strerror() have sys_errlist, but modern libcs
 * dropped that, and a forced replacement must build there too; so this
 * carries its own short table of the errors a mail server meets, and
 * "Error N" for the rest.  Not reentrant for unknown numbers (nor is the
 * real one on most systems).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>

static const struct {
	int		 num;
	const char	*msg;
} errtab[] = {
	{ 0,		"Success" },
#ifdef EPERM
	{ EPERM,	"Operation not permitted" },
#endif
#ifdef ENOENT
	{ ENOENT,	"No such file or directory" },
#endif
#ifdef ESRCH
	{ ESRCH,	"No such process" },
#endif
#ifdef EINTR
	{ EINTR,	"Interrupted system call" },
#endif
#ifdef EIO
	{ EIO,		"Input/output error" },
#endif
#ifdef E2BIG
	{ E2BIG,	"Argument list too long" },
#endif
#ifdef EBADF
	{ EBADF,	"Bad file descriptor" },
#endif
#ifdef ECHILD
	{ ECHILD,	"No child processes" },
#endif
#ifdef EAGAIN
	{ EAGAIN,	"Resource temporarily unavailable" },
#endif
#ifdef ENOMEM
	{ ENOMEM,	"Cannot allocate memory" },
#endif
#ifdef EACCES
	{ EACCES,	"Permission denied" },
#endif
#ifdef EFAULT
	{ EFAULT,	"Bad address" },
#endif
#ifdef EBUSY
	{ EBUSY,	"Device or resource busy" },
#endif
#ifdef EEXIST
	{ EEXIST,	"File exists" },
#endif
#ifdef EXDEV
	{ EXDEV,	"Invalid cross-device link" },
#endif
#ifdef ENOTDIR
	{ ENOTDIR,	"Not a directory" },
#endif
#ifdef EISDIR
	{ EISDIR,	"Is a directory" },
#endif
#ifdef EINVAL
	{ EINVAL,	"Invalid argument" },
#endif
#ifdef ENFILE
	{ ENFILE,	"Too many open files in system" },
#endif
#ifdef EMFILE
	{ EMFILE,	"Too many open files" },
#endif
#ifdef ENOTTY
	{ ENOTTY,	"Inappropriate ioctl for device" },
#endif
#ifdef EFBIG
	{ EFBIG,	"File too large" },
#endif
#ifdef ENOSPC
	{ ENOSPC,	"No space left on device" },
#endif
#ifdef ESPIPE
	{ ESPIPE,	"Illegal seek" },
#endif
#ifdef EROFS
	{ EROFS,	"Read-only file system" },
#endif
#ifdef EMLINK
	{ EMLINK,	"Too many links" },
#endif
#ifdef EPIPE
	{ EPIPE,	"Broken pipe" },
#endif
#ifdef ERANGE
	{ ERANGE,	"Numerical result out of range" },
#endif
#ifdef EDEADLK
	{ EDEADLK,	"Resource deadlock avoided" },
#endif
#ifdef ENAMETOOLONG
	{ ENAMETOOLONG,	"File name too long" },
#endif
#ifdef ENOLCK
	{ ENOLCK,	"No locks available" },
#endif
#ifdef ELOOP
	{ ELOOP,	"Too many levels of symbolic links" },
#endif
#ifdef EINPROGRESS
	{ EINPROGRESS,	"Operation now in progress" },
#endif
#ifdef EALREADY
	{ EALREADY,	"Operation already in progress" },
#endif
#ifdef ENOTSOCK
	{ ENOTSOCK,	"Socket operation on non-socket" },
#endif
#ifdef EADDRINUSE
	{ EADDRINUSE,	"Address already in use" },
#endif
#ifdef EADDRNOTAVAIL
	{ EADDRNOTAVAIL, "Cannot assign requested address" },
#endif
#ifdef ENETUNREACH
	{ ENETUNREACH,	"Network is unreachable" },
#endif
#ifdef ECONNABORTED
	{ ECONNABORTED,	"Software caused connection abort" },
#endif
#ifdef ECONNRESET
	{ ECONNRESET,	"Connection reset by peer" },
#endif
#ifdef ENOBUFS
	{ ENOBUFS,	"No buffer space available" },
#endif
#ifdef ENOTCONN
	{ ENOTCONN,	"Transport endpoint is not connected" },
#endif
#ifdef ETIMEDOUT
	{ ETIMEDOUT,	"Connection timed out" },
#endif
#ifdef ECONNREFUSED
	{ ECONNREFUSED,	"Connection refused" },
#endif
#ifdef EHOSTUNREACH
	{ EHOSTUNREACH,	"No route to host" },
#endif
#ifdef EDQUOT
	{ EDQUOT,	"Disk quota exceeded" },
#endif
#ifdef ESTALE
	{ ESTALE,	"Stale file handle" },
#endif
	{ -1,		NULL }
};

char *
yubin_strerror(int num)
{
	static char	unknown[32];
	size_t		i;

	for (i = 0; errtab[i].msg != NULL; i++)
		if (errtab[i].num == num)
			return (char *)errtab[i].msg;
	(void)snprintf(unknown, sizeof(unknown), "Error %d", num);
	return unknown;
}

/*
 * setegid.c - setegid() for systems without it (HP-UX, old System V).
 *
 * setresgid() changes the effective gid alone; setregid(-1, gid) does
 * too and leaves the real gid in place, so the process can always
 * return to it, which is all yubind needs (it switches its effective
 * gid around each file access made for a user, DESIGN.md).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>

int
yubin_setegid(gid_t gid)
{
#if defined(HAVE_SETRESGID)
	return setresgid((gid_t)-1, gid, (gid_t)-1);
#elif defined(HAVE_SETREGID)
	return setregid((gid_t)-1, gid);
#else
	(void)gid;
	errno = ENOSYS;
	return -1;
#endif
}

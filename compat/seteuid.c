/*
 * seteuid.c - seteuid() for systems without it (HP-UX, old System V).
 *
 * setresuid() changes the effective uid alone; setreuid(-1, uid) does
 * too and leaves the real uid (root) in place, so the process can always
 * return to root, which is all yubind needs (it switches its effective
 * uid around each file access made for a user, DESIGN.md).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>

int
yubin_seteuid(uid_t uid)
{
#if defined(HAVE_SETRESUID)
	return setresuid((uid_t)-1, uid, (uid_t)-1);
#elif defined(HAVE_SETREUID)
	return setreuid((uid_t)-1, uid);
#else
	(void)uid;
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * setgroups.c - setgroups() for systems without it.
 *
 * A system with no setgroups() has no supplementary groups (System V
 * before R4): a process is in its one real/effective group and no other,
 * so there is nothing to set or drop: the group a process runs with is
 * set by setgid(), which callers do next anyway.  Success is the honest
 * answer; only malformed arguments fail.  (Never forced on a system that
 * has setgroups(): it would leave a dropped process in root's groups.)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>

int
yubin_setgroups(int n, const gid_t *groups)
{
	if (n < 0 || (n > 0 && groups == NULL)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

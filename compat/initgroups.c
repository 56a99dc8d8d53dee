/*
 * initgroups.c - initgroups() for systems without it: the user's group
 * plus every group in the group database that lists the user, handed to
 * setgroups() (the system's, or compat/setgroups.c).  Reads the group
 * file with getgrent(), so it is not reentrant; yubind is
 * single-threaded.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <grp.h>

#ifndef NGROUPS_MAX
#define NGROUPS_MAX	16
#endif

int
yubin_initgroups(const char *user, gid_t basegid)
{
	gid_t		 groups[NGROUPS_MAX];
	struct group	*gr;
	int		 n = 0, i;
	char		**mem;

	groups[n++] = basegid;
	setgrent();
	while ((gr = getgrent()) != NULL && n < NGROUPS_MAX) {
		for (i = 0; i < n; i++)
			if (groups[i] == gr->gr_gid)
				break;
		if (i < n)
			continue;
		for (mem = gr->gr_mem; mem != NULL && *mem != NULL; mem++) {
			if (strcmp(*mem, user) == 0) {
				groups[n++] = gr->gr_gid;
				break;
			}
		}
	}
	endgrent();
	return setgroups(n, groups);
}

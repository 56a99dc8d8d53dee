/*
 * user.h - who can receive mail here: system accounts (getpwnam) and
 * the names in yubin's own passwd file (sandbox and virtual users), and
 * where each one's mailbox and folders are.
 */
#ifndef YUBIN_USER_H
#define YUBIN_USER_H

#include <sys/types.h>

#define USER_NAME_MAX	32

struct user {
	char	name[USER_NAME_MAX + 1];
	uid_t	uid;
	gid_t	gid;
	char	home[512];		/* "" if the user has none */
	char	spool[512];		/* the INBOX: spool_dir/name */
	int	is_virtual;		/* only in the yubin passwd file */
};

/*
 * A user name must be something we can put in a path: letters, digits,
 * '.', '_', '-', not starting with '.' or '-' (qmail: "programs and
 * files are not addresses").  Returns 1 if name is such a name.
 */
int user_name_ok(const char *name);
/* Find a user.  0 and *u filled, -1 if there is no such user. */
int user_lookup(const char *name, struct user *u);
/*
 * The secret of name in the yubin passwd file (name:secret lines).
 * 0 and the secret copied, -1 if absent or unreadable.
 */
int passwd_secret(const char *name, char *secret, size_t len);

/* inetd mode: become u for good (root only; else nothing).  0 or -1. */
int user_become(const struct user *u);

#endif

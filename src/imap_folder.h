/*
 * imap_folder.h - the names and files of IMAP folders (RFC 3501 5.1,
 * 6.3): INBOX is the user's spool file, every other mailbox is an mbox
 * file under HOME/home_mail_dir (sandbox: DIR/home/USER/mail), with "/"
 * as the hierarchy delimiter; names on the wire are modified UTF-7
 * (5.1.3) and on disk the same bytes (as UW imapd and Dovecot store
 * them).  Also LIST/LSUB matching with "%" and "*", and the
 * subscriptions file.
 *
 * The daemon may run as root: each call then works with the user's
 * effective uid and gid (and gives what it makes to the user), and
 * never follows a symbolic link below the mail directory.  These
 * functions do plain file-system calls on small things (a mkdir, a
 * rename, one directory level at a time) and never read a mailbox.
 *
 * Layout (UW imapd's and Dovecot's mbox layout): a folder with messages
 * is an mbox file, a folder with inferiors is a directory (\Noselect);
 * a name cannot be both.  "INBOX/x" (INBOX in any case) is the file
 * mail/INBOX/x.  imap_folder.c's first comment has the details.
 */
#ifndef YUBIN_IMAP_FOLDER_H
#define YUBIN_IMAP_FOLDER_H

#include <stddef.h>

#include "user.h"

#define FOLDER_NAME_MAX		512	/* octets of a mailbox name */
#define FOLDER_DEPTH_MAX	16	/* levels of hierarchy */
#define FOLDER_LIST_MAX		10000	/* names one LIST may return */
#define SUBSCRIPTIONS_FILE	".subscriptions"	/* in the mail dir */
/*
 * Directory entries one LIST or LSUB may read (over every level it
 * walks): the walk is synchronous, so this bounds how long one command
 * can hold up the loop; more is NO [LIMIT], never a silent cut.
 */
#define FOLDER_SCAN_MAX		50000UL
/* Bytes of a subscriptions file: ample for FOLDER_LIST_MAX names. */
#define FOLDER_SUBS_MAX		(1024L * 1024)

/* Results: 0 OK; FOLDER_NO: a NO reply with *err; FOLDER_BAD: BAD. */
#define FOLDER_NO	(-1)
#define FOLDER_BAD	(-2)

/*
 * The file of mailbox name (as the client sent it; "INBOX" in any case
 * is the spool).  Refuses names that are not valid modified UTF-7,
 * empty levels, "." and ".." levels, names starting with "/" or "~",
 * over the limits.  0 and path, or FOLDER_NO with *err.
 */
int folder_path(const struct user *u, const char *name, char *path,
    size_t len, const char **err);
/* Whether name is INBOX (any case). */
int folder_is_inbox(const char *name);

/* CREATE (6.3.3): a trailing "/" makes a directory only; parents are
 * made as needed; an existing name is NO.  The mbox file is created
 * empty, mode 0600, owned by the user. */
int folder_create(const struct user *u, const char *name, const char **err);
/* DELETE (6.3.4): INBOX and missing names are NO; an mbox file is
 * removed; a directory (\Noselect) only when it has no inferiors (a
 * trailing "/" is accepted).  A subscription to it stays (6.3.6). */
int folder_delete(const struct user *u, const char *name, const char **err);
/* RENAME (6.3.5) of anything but INBOX (imap.c moves INBOX's messages
 * itself): inferiors move with it, parents of the new name are made,
 * an existing target is NO. */
int folder_rename(const struct user *u, const char *from, const char *to,
    const char **err);

/* What LIST says of a name (RFC 3501 7.2.2, RFC 3348 CHILDREN). */
#define FOLDER_NOSELECT		0x01
#define FOLDER_NOINFERIORS	0x02
#define FOLDER_HASCHILDREN	0x04
#define FOLDER_HASNOCHILDREN	0x08
#define FOLDER_MARKED		0x10
#define FOLDER_UNMARKED		0x20

typedef int folder_list_fn(void *arg, const char *name, int attrs);
/*
 * LIST (6.3.8) or LSUB (6.3.9, lsub = 1): every name matching reference
 * and pattern ("%" matches no "/", "*" anything), INBOX included when it
 * matches, in a stable order (INBOX first, then byte order); fn is called
 * once per name (return -1 to stop), after all names were gathered, so
 * an error (NO [LIMIT] past FOLDER_LIST_MAX) comes before any output.
 * LSUB gives the subscribed names whether they exist or not, and with
 * "%" the parent levels of those that do not match as \Noselect.  An empty pattern is LIST's special case: the caller answers
 * it (hierarchy delimiter and root) without calling this.  0, or
 * FOLDER_NO with *err.
 */
int folder_list(const struct user *u, const char *ref, const char *pattern,
    int lsub, folder_list_fn *fn, void *arg, const char **err);
/* Pattern matching alone (for tests and LSUB): 1 if name matches.
 * A first level INBOX matches without regard to case (5.1). */
int folder_match(const char *pattern, const char *name);

/* SUBSCRIBE / UNSUBSCRIBE (6.3.6, 6.3.7): the subscriptions file is
 * rewritten atomically (temp file, fsync, rename); both are idempotent;
 * a name need not exist to be subscribed. */
int folder_subscribe(const struct user *u, const char *name, int on,
    const char **err);

#endif

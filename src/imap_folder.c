/*
 * imap_folder.c - IMAP folder names and the files behind them (RFC 3501
 * 5.1, 5.1.3, 6.3.3-6.3.9; RFC 3348 CHILDREN): name checks, CREATE,
 * DELETE, RENAME, LIST/LSUB matching and the subscriptions file.
 *
 * Layout (what UW imapd and Dovecot's mbox storage do, so a user can
 * switch between them):
 *   INBOX (any case)        the spool file, u->spool
 *   "a/b"                   HOME/home_mail_dir/a/b, an mbox file
 *   "a" with inferiors      the directory HOME/home_mail_dir/a
 * A folder that has messages is a file and a folder that has inferiors
 * is a directory; one name cannot be both, because one path cannot.  So
 * LIST gives files \NoInferiors (RFC 3348 says to omit \HasNoChildren
 * then) and directories \Noselect with \HasChildren or \HasNoChildren;
 * CREATE "a/b" when "a" is an mbox file is NO [CANNOT]; CREATE "a" when
 * "a" is a directory is NO [ALREADYEXISTS]; DELETE of a file removes it,
 * and of a directory only when it has no inferiors (6.3.4: a \Noselect
 * name with inferiors cannot be deleted).  \Marked/\Unmarked are not
 * given: they would need an atime that noatime mounts do not keep.
 *
 * "INBOX/x" (any case of INBOX) is HOME/mail/INBOX/x, as in Dovecot's
 * mbox storage (UW refuses such names): the INBOX directory holds only
 * inferiors, INBOX itself stays the spool.  Top-level entries named
 * INBOX in another case are never listed: INBOX means the spool.
 *
 * Reserved (never a folder, never listed): any level starting with "."
 * (".", "..", SUBSCRIPTIONS_FILE and its temporary files, mailbox.c's
 * ".NAME.yubin-recover", Dovecot's ".imap"), levels ending in ".lock"
 * (dotlocks), and names that are not strict modified UTF-7.  New names
 * may not contain "%" or "*" (Dovecot refuses them too): LIST could
 * not ask for them by name.
 *
 * Subscriptions: SUBSCRIPTIONS_FILE in the mail directory, one name a
 * line, which is Dovecot's mbox file and format (its "V\t2" format is
 * read too).  When it is absent, UW's ~/.mailboxlist is read (its names
 * are relative to HOME: "mail/x" is x); the first change writes ours.
 *
 * Never: read a mailbox, follow a symbolic link below the mail
 * directory, or touch a user's files with root's rights.  When called
 * as root, each operation runs with the user's effective uid and gid
 * (a user's "mail/x -> /etc" link must not let RENAME move /etc/passwd).
 * Supplementary groups stay the daemon's (root's, usually only 0): the
 * place to drop them is start-up, not each call.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "charset.h"
#include "conf.h"
#include "imap_folder.h"
#include "log.h"
#include "util.h"

#define FPATH_MAX	2048	/* home (512) + mail dir + name + suffix */
#define UW_SUBS_FILE	".mailboxlist"	/* UW imapd's, in HOME */
#define RECOVER_SUFFIX	".yubin-recover"	/* mailbox.c's */

static const char e_nomem[] = "[SERVERBUG] Out of memory";
static const char e_nonexist[] = "[NONEXISTENT] Mailbox does not exist";
static const char e_exists[] = "[ALREADYEXISTS] Mailbox already exists";
static const char e_nofolders[] =
    "[CANNOT] This account has no folders besides INBOX";
static const char e_toolong[] = "[CANNOT] Mailbox name too long";

/* --- privileges --- */

struct creds {
	int	changed;
	gid_t	egid;
};

/* As root, become the user (effective ids only) for one operation. */
static int
creds_enter(const struct user *u, struct creds *c, const char **err)
{
	c->changed = 0;
	if (geteuid() != 0 || u->uid == 0)
		return 0;
	c->egid = getegid();
	if (setegid(u->gid) < 0) {
		warn("folder: setegid(%ld): %s", (long)u->gid, strerror(errno));
		*err = "[SERVERBUG] Cannot take the user's rights";
		return -1;
	}
	if (seteuid(u->uid) < 0) {
		warn("folder: seteuid(%ld): %s", (long)u->uid, strerror(errno));
		if (setegid(c->egid) < 0)
			fatal("folder: cannot restore gid: %s", strerror(errno));
		*err = "[SERVERBUG] Cannot take the user's rights";
		return -1;
	}
	c->changed = 1;
	return 0;
}

static void
creds_leave(struct creds *c)
{
	/* Going on without root (or as root with the user's group) would
	 * break every later session: there is no safe way to continue. */
	if (c->changed && (seteuid(0) < 0 || setegid(c->egid) < 0))
		fatal("folder: cannot get root's rights back: %s",
		    strerror(errno));
	c->changed = 0;
}

/* Hand what fd is to the user when root made it (defence in depth:
 * creds_enter() normally means we are not root here). */
static int
give(const struct user *u, int fd)
{
	if (geteuid() == 0 && fchown(fd, u->uid, u->gid) < 0)
		return -1;
	return 0;
}

/* The NO text for a failed system call; unexpected ones are logged. */
static const char *
sys_err(const char *op, const char *path)
{
	int e = errno;

	if (e == EACCES || e == EPERM)
		return "[NOPERM] Permission denied";
	if (e == ENOSPC)
		return "No space left on the server's disk";
#ifdef EDQUOT
	if (e == EDQUOT)
		return "[OVERQUOTA] Disk quota exceeded";
#endif
	if (e == ENAMETOOLONG)
		return "[CANNOT] Name too long for the file system";
	warn("folder: %s %s: %s", op, path, strerror(e));
	return "[SERVERBUG] File system error; see the server log";
}

/* --- names --- */

static int
ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Whether name starts with a first level INBOX, in any case. */
static int
inbox_prefix(const char *name)
{
	return ascii_ncasecmp(name, "INBOX", 5) == 0 &&
	    (name[5] == '\0' || name[5] == '/');
}

int
folder_is_inbox(const char *name)
{
	return ascii_casecmp(name, "INBOX") == 0;
}

/* Whether one level is ours (dotfiles, dotlocks) rather than a folder. */
static int
level_reserved(const char *s, size_t n)
{
	return n == 0 || s[0] == '.' ||
	    (n >= 5 && memcmp(s + n - 5, ".lock", 5) == 0);
}

static int
mutf7_ok(const char *s, size_t n)
{
	struct buf b;
	int r;

	buf_init(&b, FOLDER_NAME_MAX * 4 + 16);
	r = charset_mutf7_decode(s, n, &b);
	buf_free(&b);
	return r;
}

/* Why name cannot be a folder other than INBOX, or NULL. */
static const char *
name_error(const char *name)
{
	const char *s, *e;
	size_t n, len = strlen(name);
	int depth = 0, r;

	if (len == 0)
		return "[CANNOT] Empty mailbox name";
	if (len > FOLDER_NAME_MAX)
		return e_toolong;
	if (name[0] == '/' || name[0] == '~')
		return "[CANNOT] Mailbox names may not start with / or ~";
	if ((r = mutf7_ok(name, len)) != CHARSET_OK)
		return r == CHARSET_NOMEM ? e_nomem : "[CANNOT] Invalid "
		    "mailbox name: not modified UTF-7 (RFC 3501 5.1.3)";
	for (s = name; ; s = e + 1) {
		e = strchr(s, '/');
		n = e != NULL ? (size_t)(e - s) : strlen(s);
		if (++depth > FOLDER_DEPTH_MAX)
			return "[CANNOT] Too many levels of hierarchy";
		if (n == 0)
			return "[CANNOT] Empty level in mailbox name";
		if (level_reserved(s, n))
			return "[CANNOT] Names starting with \".\" or ending "
			    "in \".lock\" are reserved";
		if (e == NULL)
			return NULL;
	}
}

/* A first level INBOX, in any case, spelt so (in place). */
static char *
canon(char *name)
{
	if (inbox_prefix(name))
		memcpy(name, "INBOX", 5);
	return name;
}

/* HOME/home_mail_dir into out (no trailing "/"). */
static int
mail_dir(const struct user *u, char *out, size_t len, const char **err)
{
	const char *md = config->home_mail_dir != NULL ?
	    config->home_mail_dir : "mail";
	size_t n = strlen(md);
	int r;

	if (u->home[0] == '\0') {
		*err = e_nofolders;
		return -1;
	}
	while (n > 0 && md[n - 1] == '/')
		n--;
	r = n == 0 ? snprintf(out, len, "%s", u->home) :
	    snprintf(out, len, "%s/%.*s", u->home, (int)n, md);
	if (r < 0 || (size_t)r >= len) {
		*err = "[SERVERBUG] Home directory path too long";
		return -1;
	}
	return 0;
}

/*
 * The path of a checked name; *base is the length of the mail
 * directory, so path + *base + 1 is the canonical name.
 */
static int
resolve(const struct user *u, const char *name, char *path, size_t len,
    size_t *base, const char **err)
{
	int r;

	if ((*err = name_error(name)) != NULL ||
	    mail_dir(u, path, len, err) < 0)
		return -1;
	*base = strlen(path);
	r = snprintf(path + *base, len - *base, "/%s", name);
	if (r < 0 || (size_t)r >= len - *base) {
		*err = e_toolong;
		return -1;
	}
	canon(path + *base + 1);
	return 0;
}

int
folder_path(const struct user *u, const char *name, char *path,
    size_t len, const char **err)
{
	size_t base;
	int r;

	if (!folder_is_inbox(name))
		return resolve(u, name, path, len, &base, err) < 0 ?
		    FOLDER_NO : 0;
	r = snprintf(path, len, "%s", u->spool);
	if (r < 0 || (size_t)r >= len) {
		*err = "[SERVERBUG] Spool path too long";
		return FOLDER_NO;
	}
	return 0;
}

/* CREATE and DELETE take "a/" for "a" (6.3.3); tmp holds the copy. */
static const char *
strip_slash(const char *name, char *tmp, int *had)
{
	size_t n = strlen(name);

	*had = n > 1 && n <= FOLDER_NAME_MAX + 1 && name[n - 1] == '/';
	if (!*had)
		return name;
	memcpy(tmp, name, n - 1);
	tmp[n - 1] = '\0';
	return tmp;
}

/* --- directories --- */

/* mkdir path 0700 for the user; unless excl, an existing directory
 * is fine (made by someone else since we looked). */
static int
make_dir(const struct user *u, const char *path, int excl, const char **err)
{
	struct stat st;
	int fd;

	if (mkdir(path, 0700) < 0) {
		if (errno == EEXIST && !excl && lstat(path, &st) == 0 &&
		    S_ISDIR(st.st_mode))
			return 0;
		*err = errno == EEXIST ? e_exists : sys_err("mkdir", path);
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	/* Not chown(path): it follows a link planted since mkdir(). */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0) {
		*err = sys_err("open", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || give(u, fd) < 0) {
		*err = sys_err("fchown", path);
		(void)close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		*err = sys_err("close", path);
		return -1;
	}
	return 0;
}

/* The mail directory (a link there is the user's choice: followed). */
static int
make_mail_dir(const struct user *u, const char *path, const char **err)
{
	char home[FPATH_MAX];
	struct stat st;
	int r;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		*err = "[SERVERBUG] The mail directory is not a directory";
		warn("folder: %s is not a directory", path);
		return -1;
	}
	if (errno == ENOENT && config->sandbox != NULL) {
		/* A sandbox's homes are made on first use. */
		r = snprintf(home, sizeof(home), "%s/home", config->sandbox);
		if (r < 0 || (size_t)r >= sizeof(home) ||
		    make_dir(u, home, 0, err) < 0 ||
		    make_dir(u, u->home, 0, err) < 0)
			return -1;
	}
	return make_dir(u, path, 0, err);
}

/*
 * The levels of path between the mail directory (path[0..base)) and
 * the last one must be real directories (lstat: no links); with make,
 * missing ones are made.  A missing one without make is [NONEXISTENT].
 */
static int
parents(const struct user *u, char *path, size_t base, int make,
    const char **err)
{
	struct stat st;
	char *p;

	if (make) {
		path[base] = '\0';
		if (make_mail_dir(u, path, err) < 0) {
			path[base] = '/';
			return -1;
		}
		path[base] = '/';
	}
	for (p = path + base + 1; (p = strchr(p, '/')) != NULL; *p++ = '/') {
		*p = '\0';
		if (lstat(path, &st) < 0) {
			if (errno != ENOENT)
				*err = sys_err("lstat", path);
			else if (!make)
				*err = e_nonexist;
			else if (make_dir(u, path, 0, err) == 0)
				continue;
			*p = '/';
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			*err = S_ISREG(st.st_mode) ? "[CANNOT] A parent is an "
			    "mbox file, which cannot have inferior mailboxes" :
			    "[CANNOT] A parent is not a directory of mailboxes";
			*p = '/';
			return -1;
		}
	}
	return 0;
}

/*
 * The names in directory path, except "." and "..", into names, each
 * ended by a NUL; *budget bounds what all calls of one command read.
 * 0 (ENOENT: no names), or -1 with *err.  The caller frees names.
 */
static int
read_dir(const char *path, struct buf *names, unsigned long *budget,
    const char **err)
{
	DIR *d;
	struct dirent *de;
	int failed = 0;

	buf_init(names, 0);
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*err = sys_err("opendir", path);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				*err = sys_err("readdir", path);
				failed = 1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*budget == 0) {
			*err = "[LIMIT] Too many files to look at; "
			    "use a narrower pattern";
			failed = 1;
			break;
		}
		(*budget)--;
		if (buf_append(names, de->d_name, strlen(de->d_name) + 1) < 0) {
			*err = e_nomem;
			failed = 1;
			break;
		}
	}
	if (closedir(d) < 0 && !failed) {
		*err = sys_err("closedir", path);
		failed = 1;
	}
	return failed ? -1 : 0;
}

/* Walk the names read_dir() gave. */
#define FOR_NAMES(p, b)	for ((p) = (b)->data; (p) != NULL && \
	(p) < (b)->data + (b)->len; (p) += strlen(p) + 1)

/*
 * What directory entry ent of dir is to LIST: 'f' an mbox file, 'd' a
 * directory, 0 nothing to show (reserved, a link, a device, a name that
 * is not modified UTF-7 and so could not be asked for).
 */
static int
entry_kind(const char *dir, const char *ent)
{
	char path[FPATH_MAX];
	struct stat st;
	size_t n = strlen(ent);
	int r;

	if (n > FOLDER_NAME_MAX || level_reserved(ent, n) ||
	    strchr(ent, '/') != NULL || mutf7_ok(ent, n) != CHARSET_OK)
		return 0;
	r = snprintf(path, sizeof(path), "%s/%s", dir, ent);
	if (r < 0 || (size_t)r >= sizeof(path) || lstat(path, &st) < 0)
		return 0;
	return S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : 0;
}

/* Whether directory path holds a folder (RFC 3348 \HasChildren). */
static int
has_children(const char *path, unsigned long *budget, const char **err)
{
	struct buf names;
	char *p;
	int found = 0;

	if (read_dir(path, &names, budget, err) < 0)
		found = -1;
	else
		FOR_NAMES(p, &names)
			if ((found = entry_kind(path, p) != 0) != 0)
				break;
	buf_free(&names);
	return found;
}

/* --- CREATE, DELETE, RENAME --- */

static int
create_file(const struct user *u, const char *path, const char **err)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*err = errno == EEXIST ? e_exists : sys_err("create", path);
		return -1;
	}
	if (give(u, fd) < 0 || fsync(fd) < 0) {
		*err = sys_err("fchown/fsync", path);
		(void)close(fd);
		(void)unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		*err = sys_err("close", path);
		(void)unlink(path);
		return -1;
	}
	return 0;
}

static const char e_wild[] = "[CANNOT] Mailbox names may not hold % or *";

static int
do_create(const struct user *u, const char *name, const char **err)
{
	char tmp[FOLDER_NAME_MAX + 2], path[FPATH_MAX];
	struct stat st;
	size_t base;
	int dir;

	/* 6.3.3: a trailing delimiter asks for a name with inferiors. */
	name = strip_slash(name, tmp, &dir);
	if (folder_is_inbox(name) && !dir) {
		*err = e_exists;
		return -1;
	}
	if (strpbrk(name, "%*") != NULL) {
		*err = e_wild;
		return -1;
	}
	if (resolve(u, name, path, sizeof(path), &base, err) < 0 ||
	    parents(u, path, base, 1, err) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		*err = S_ISDIR(st.st_mode) && !dir ? "[ALREADYEXISTS] A "
		    "mailbox with inferiors has this name; mbox cannot also "
		    "hold messages there" : e_exists;
		return -1;
	}
	return dir ? make_dir(u, path, 1, err) : create_file(u, path, err);
}

/* mailbox.c's recovery file of the mbox at path: DIR/.NAME.yubin-recover */
static int
recover_path(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	int r;

	r = snprintf(out, len, "%.*s/.%s%s", (int)(slash - path), path,
	    slash + 1, RECOVER_SUFFIX);
	return (r < 0 || (size_t)r >= len) ? -1 : 0;
}

static int
do_delete(const struct user *u, const char *name, const char **err)
{
	char tmp[FOLDER_NAME_MAX + 2], path[FPATH_MAX], rpath[FPATH_MAX];
	unsigned long budget = FOLDER_SCAN_MAX;
	struct stat st;
	size_t base;
	int r;

	name = strip_slash(name, tmp, &r);
	if (folder_is_inbox(name)) {
		*err = "[CANNOT] INBOX cannot be deleted";
		return -1;
	}
	if (resolve(u, name, path, sizeof(path), &base, err) < 0 ||
	    parents(u, path, base, 0, err) < 0)
		return -1;
	if (lstat(path, &st) < 0) {
		*err = errno == ENOENT ? e_nonexist : sys_err("lstat", path);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		if (unlink(path) < 0) {
			*err = sys_err("unlink", path);
			return -1;
		}
		/* A recovery file left behind would be replayed into the
		 * next mailbox of this name. */
		if (recover_path(path, rpath, sizeof(rpath)) == 0 &&
		    unlink(rpath) < 0 && errno != ENOENT)
			warn("folder: unlink %s: %s", rpath, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		*err = "[CANNOT] Not a mailbox";
		return -1;
	}
	if ((r = has_children(path, &budget, err)) != 0) {
		if (r > 0)
			*err = "[CANNOT] Mailbox has inferior hierarchical "
			    "names (RFC 3501 6.3.4)";
		return -1;
	}
	if (rmdir(path) < 0) {
		*err = errno == ENOTEMPTY || errno == EEXIST ? "[CANNOT] "
		    "Directory holds files that are not mailboxes" :
		    sys_err("rmdir", path);
		return -1;
	}
	return 0;
}

/*
 * Move from to to.  A file is moved with link() and unlink(), which
 * cannot replace a file made at to since we looked (rename() would,
 * losing its mail); where the file system has no hard links, rename().
 */
static int
move(const char *from, const char *to, int isdir, const char **err)
{
	struct stat st;

	if (!isdir && link(from, to) == 0) {
		if (unlink(from) == 0)
			return 0;
		*err = sys_err("unlink", from);
		(void)unlink(to);
		return -1;
	}
	if (!isdir && (errno == EEXIST || lstat(to, &st) == 0)) {
		*err = e_exists;
		return -1;
	}
	if (rename(from, to) < 0) {
		*err = errno == EEXIST || errno == ENOTEMPTY ? e_exists :
		    errno == EINVAL ? "[CANNOT] Cannot move a mailbox into "
		    "itself" : sys_err("rename", from);
		return -1;
	}
	return 0;
}

static int
do_rename(const struct user *u, const char *from, const char *to,
    const char **err)
{
	char pfrom[FPATH_MAX], pto[FPATH_MAX], rpath[FPATH_MAX];
	const char *cfrom, *cto;
	struct stat st, rst;
	size_t bfrom, bto, n;

	if (folder_is_inbox(from)) {
		*err = "[CANNOT] INBOX is renamed by moving its messages";
		return -1;
	}
	if (folder_is_inbox(to)) {
		*err = e_exists;
		return -1;
	}
	if (strpbrk(to, "%*") != NULL) {
		*err = e_wild;
		return -1;
	}
	if (resolve(u, from, pfrom, sizeof(pfrom), &bfrom, err) < 0 ||
	    resolve(u, to, pto, sizeof(pto), &bto, err) < 0 ||
	    parents(u, pfrom, bfrom, 0, err) < 0)
		return -1;
	cfrom = pfrom + bfrom + 1;
	cto = pto + bto + 1;
	n = strlen(cfrom);
	if (strncmp(cto, cfrom, n) == 0 && (cto[n] == '/' || cto[n] == '\0')) {
		*err = cto[n] == '\0' ? e_exists :
		    "[CANNOT] Cannot move a mailbox into itself";
		return -1;
	}
	if (lstat(pfrom, &st) < 0) {
		*err = errno == ENOENT ? e_nonexist : sys_err("lstat", pfrom);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		*err = "[CANNOT] Not a mailbox";
		return -1;
	}
	/* An unfinished rewrite must be finished under the old name. */
	if (S_ISREG(st.st_mode) &&
	    (recover_path(pfrom, rpath, sizeof(rpath)) < 0 ||
	    lstat(rpath, &rst) == 0 || errno != ENOENT)) {
		*err = "[INUSE] Mailbox has an unfinished rewrite; "
		    "select it first";
		return -1;
	}
	if (parents(u, pto, bto, 1, err) < 0)
		return -1;
	if (lstat(pto, &rst) == 0) {
		*err = e_exists;
		return -1;
	}
	if (errno != ENOENT) {
		*err = sys_err("lstat", pto);
		return -1;
	}
	return move(pfrom, pto, S_ISDIR(st.st_mode), err);
}

/* --- patterns --- */

/*
 * A pattern is matched as a set of positions (a Thompson NFA), one
 * character at a time: time is pattern length x name length at most,
 * never exponential whatever the client sends ("*a*a*a*..."), and a
 * directory's state can be kept and carried on into its entries.
 */
struct pat {
	char	*p;		/* runs of wildcards collapsed */
	size_t	m;
	int	pct;		/* holds a "%" */
};

static int
pat_init(struct pat *pt, const char *ref, const char *pattern)
{
	size_t lr = strlen(ref), lp = strlen(pattern), i, j = 0;
	const char *s;
	int star, pct;

	if ((pt->p = malloc(lr + lp + 1)) == NULL)
		return -1;
	pt->pct = 0;
	/* 6.3.8: the reference is prefixed as it is, "/" or not. */
	for (i = 0; i < lr + lp; ) {
		s = i < lr ? ref + i : pattern + i - lr;
		if (*s != '*' && *s != '%') {
			pt->p[j++] = *s;
			i++;
			continue;
		}
		for (star = pct = 0; i < lr + lp; i++) {
			s = i < lr ? ref + i : pattern + i - lr;
			if (*s == '*')
				star = 1;
			else if (*s == '%')
				pct = 1;
			else
				break;
		}
		pt->p[j++] = star ? '*' : '%';
		pt->pct |= !star && pct;
	}
	pt->p[j] = '\0';
	pt->m = j;
	return 0;
}

static void
nfa_close(const struct pat *pt, unsigned char *s)
{
	size_t i;

	for (i = 0; i < pt->m; i++)
		if (s[i] && (pt->p[i] == '*' || pt->p[i] == '%'))
			s[i + 1] = 1;
}

static void
nfa_start(const struct pat *pt, unsigned char *s)
{
	memset(s, 0, pt->m + 1);
	s[0] = 1;
	nfa_close(pt, s);
}

/* Feed str[0..n) to the state s (t: scratch of the same size); INBOX's
 * first five characters (icase5) are matched without case (5.1).
 * Returns whether any position is still alive. */
static int
nfa_feed(const struct pat *pt, unsigned char *s, unsigned char *t,
    const char *str, size_t n, int icase5)
{
	size_t i, k;
	int c, pc, alive = 1;

	for (k = 0; k < n && alive; k++) {
		c = (unsigned char)str[k];
		memset(t, 0, pt->m + 1);
		for (i = 0; i < pt->m; i++) {
			if (!s[i])
				continue;
			pc = (unsigned char)pt->p[i];
			if (pc == '*' || (pc == '%' && c != '/'))
				t[i] = 1;
			else if (pc != '%' && (pc == c || (icase5 && k < 5 &&
			    ascii_upper(pc) == ascii_upper(c))))
				t[i + 1] = 1;
		}
		nfa_close(pt, t);
		memcpy(s, t, pt->m + 1);
		for (alive = 0, i = 0; i <= pt->m && !alive; i++)
			alive = s[i];
	}
	return alive;
}

/* Whether the compiled pattern matches name. */
static int
pat_match(const struct pat *pt, const char *name, unsigned char *s,
    unsigned char *t)
{
	nfa_start(pt, s);
	return nfa_feed(pt, s, t, name, strlen(name), inbox_prefix(name)) &&
	    s[pt->m];
}

int
folder_match(const char *pattern, const char *name)
{
	struct pat pt;
	unsigned char *s;
	int r = 0;

	if (pat_init(&pt, "", pattern) < 0)
		return 0;
	if ((s = malloc(2 * (pt.m + 1))) != NULL)
		r = pat_match(&pt, name, s, s + pt.m + 1);
	free(s);
	free(pt.p);
	return r;
}

/* --- LIST --- */

struct lname {
	char	*name;
	int	attrs;
	int	implied;	/* LSUB: a parent level, not subscribed */
};

struct lctx {
	struct pat	pt;
	unsigned char	*st;		/* (FOLDER_DEPTH_MAX + 2) states */
	unsigned char	*tmp;
	struct lname	*v;
	size_t		n, cap;
	unsigned long	budget;		/* directory entries left to read */
	char		dir[FPATH_MAX];	/* the mail directory */
	char		name[FOLDER_NAME_MAX + 2];	/* walk: prefix */
	const char	*err;
};

#define ST(x, d)	((x)->st + (size_t)(d) * ((x)->pt.m + 1))

static int
add_name(struct lctx *x, const char *name, int attrs, int implied)
{
	struct lname *nv;
	size_t cap;

	if (x->n >= FOLDER_LIST_MAX) {
		x->err = "[LIMIT] Too many mailboxes match; "
		    "use a narrower pattern";
		return -1;
	}
	if (x->n == x->cap) {
		cap = x->cap == 0 ? 32 : x->cap * 2;
		if ((nv = realloc(x->v, cap * sizeof(*nv))) == NULL) {
			x->err = e_nomem;
			return -1;
		}
		x->v = nv;
		x->cap = cap;
	}
	if ((x->v[x->n].name = malloc(strlen(name) + 1)) == NULL) {
		x->err = e_nomem;
		return -1;
	}
	strcpy(x->v[x->n].name, name);
	x->v[x->n].attrs = attrs;
	x->v[x->n++].implied = implied;
	return 0;
}

/* The path of the walk's current name (x->name). */
static int
walk_path(struct lctx *x, char *out)
{
	int r;

	r = snprintf(out, FPATH_MAX, "%s/%s", x->dir, x->name);
	return r < 0 || r >= FPATH_MAX ? -1 : 0;
}

/* One directory level of LIST; ST(x, depth) is the state after x->name. */
static int
walk(struct lctx *x, size_t plen, int depth)
{
	char path[FPATH_MAX], sub[FPATH_MAX], *e;
	struct buf names;
	size_t el;
	int kind, attrs, inbox, r, ret = 0;

	if (walk_path(x, path) < 0)
		return 0;
	if (read_dir(path, &names, &x->budget, &x->err) < 0)
		ret = -1;
	FOR_NAMES(e, &names) {
		el = strlen(e);
		if (ret != 0)
			break;
		if (plen + el + 1 > FOLDER_NAME_MAX ||
		    (kind = entry_kind(path, e)) == 0)
			continue;
		/* INBOX is the spool; its directory holds only inferiors. */
		if (depth == 0 && inbox_prefix(e) &&
		    (kind != 'd' || strcmp(e, "INBOX") != 0))
			continue;
		inbox = depth == 0 && strcmp(e, "INBOX") == 0;
		memcpy(ST(x, depth + 1), ST(x, depth), x->pt.m + 1);
		if (!nfa_feed(&x->pt, ST(x, depth + 1), x->tmp, e, el, inbox))
			continue;
		memcpy(x->name + plen, e, el + 1);
		attrs = FOLDER_NOINFERIORS;
		if (kind == 'd' && ST(x, depth + 1)[x->pt.m] && !inbox) {
			if (walk_path(x, sub) < 0 ||
			    (r = has_children(sub, &x->budget, &x->err)) < 0)
				ret = -1;
			else
				attrs = FOLDER_NOSELECT | (r ?
				    FOLDER_HASCHILDREN : FOLDER_HASNOCHILDREN);
		}
		if (ret == 0 && ST(x, depth + 1)[x->pt.m] && !inbox)
			ret = add_name(x, x->name, attrs, 0);
		if (ret == 0 && kind == 'd' && depth + 1 < FOLDER_DEPTH_MAX &&
		    nfa_feed(&x->pt, ST(x, depth + 1), x->tmp, "/", 1, 0)) {
			x->name[plen + el] = '/';
			x->name[plen + el + 1] = '\0';
			ret = walk(x, plen + el + 1, depth + 1);
		}
		x->name[plen] = '\0';
	}
	buf_free(&names);
	return ret;
}

static int
lname_cmp(const void *a, const void *b)
{
	const struct lname *x = a, *y = b;
	int xi = strcmp(x->name, "INBOX") == 0;
	int yi = strcmp(y->name, "INBOX") == 0;
	int r;

	/* INBOX first, as clients show it; then byte order */
	if (xi != yi)
		return xi ? -1 : 1;
	if ((r = strcmp(x->name, y->name)) != 0)
		return r;
	return x->implied - y->implied;		/* subscribed first */
}

static int
do_list(const struct user *u, struct lctx *x)
{
	char path[FPATH_MAX];
	int r, attrs = FOLDER_HASNOCHILDREN;

	if (mail_dir(u, x->dir, sizeof(x->dir), &x->err) < 0) {
		x->dir[0] = '\0';
		x->err = NULL;
	} else {
		x->name[0] = '\0';
		nfa_start(&x->pt, ST(x, 0));
		if (walk(x, 0, 0) < 0)
			return -1;
		r = snprintf(path, sizeof(path), "%s/INBOX", x->dir);
		if (r > 0 && (size_t)r < sizeof(path) &&
		    (r = has_children(path, &x->budget, &x->err)) != 0) {
			if (r < 0)
				return -1;
			attrs = FOLDER_HASCHILDREN;
		}
	}
	nfa_start(&x->pt, ST(x, 0));
	if (nfa_feed(&x->pt, ST(x, 0), x->tmp, "INBOX", 5, 1) &&
	    ST(x, 0)[x->pt.m])
		return add_name(x, "INBOX", attrs, 0);
	return 0;
}

/* --- subscriptions --- */

/*
 * A small file into a malloc'd, NUL-terminated buffer.  1 if it does
 * not exist, 0, or -1 with *err.
 */
static int
read_small(const char *path, char **out, const char **err)
{
	struct stat st;
	size_t len = 0, size = 0;
	ssize_t r = 1;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 1;
		*err = sys_err("open", path);
		return -1;
	}
	if (fstat(fd, &st) < 0)
		*err = sys_err("fstat", path);
	else if (!S_ISREG(st.st_mode) || st.st_size > FOLDER_SUBS_MAX)
		*err = "[CANNOT] Subscriptions file is not a plain file "
		    "of a sane size";
	else if ((*out = malloc((size = (size_t)st.st_size) + 1)) == NULL)
		*err = e_nomem;
	/* What was appended since fstat() is read next time. */
	while (*out != NULL && len < size &&
	    ((r = read(fd, *out + len, size - len)) > 0 ||
	    (r < 0 && errno == EINTR)))
		if (r > 0)
			len += (size_t)r;
	if (*out != NULL && r < 0) {
		*err = sys_err("read", path);
		free(*out);
		*out = NULL;
	}
	(void)close(fd);		/* read only: nothing to lose */
	if (*out == NULL)
		return -1;
	(*out)[len] = '\0';
	return 0;
}

/* A name of someone's subscriptions file worth keeping: printable. */
static int
subs_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FOLDER_NAME_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The subscribed names, canonical, sorted and unique, into a malloc'd
 * vector.  Lines are split in place in *data, which the caller frees.
 */
static int
subs_read(const struct user *u, char ***vp, size_t *np, char **data,
    const char **err)
{
	char path[FPATH_MAX], dir[FPATH_MAX], *p, *e, **v, *sl;
	size_t n = 0, dl, k;
	int r, uw = 0, v2 = 0;

	*vp = NULL;
	*np = 0;
	if (mail_dir(u, dir, sizeof(dir), err) < 0)
		return -1;
	r = snprintf(path, sizeof(path), "%s/%s", dir, SUBSCRIPTIONS_FILE);
	if (r < 0 || (size_t)r >= sizeof(path)) {
		*err = e_toolong;
		return -1;
	}
	if ((r = read_small(path, data, err)) == 1) {
		r = snprintf(path, sizeof(path), "%s/%s", u->home, UW_SUBS_FILE);
		if (r < 0 || (size_t)r >= sizeof(path))
			return 0;
		r = read_small(path, data, err);
		uw = 1;
	}
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* At most one name per two bytes ("a\n"). */
	if ((v = malloc((strlen(*data) / 2 + 2) * sizeof(*v))) == NULL) {
		*err = e_nomem;
		return -1;
	}
	p = *data;
	if (!uw && strncmp(p, "V\t2\n\n", 5) == 0) {	/* Dovecot 2.3 */
		p += 5;
		v2 = 1;
	}
	dl = strlen(dir) - strlen(u->home);	/* "/mail", or "" */
	for (; *p != '\0'; p = e) {
		if ((e = strchr(p, '\n')) != NULL)
			*e++ = '\0';
		else
			e = p + strlen(p);
		if ((k = strlen(p)) > 0 && p[k - 1] == '\r')
			p[k - 1] = '\0';
		for (sl = p; v2 && *sl != '\0'; sl++)
			if (*sl == '\t')
				*sl = '/';
		if (uw && !folder_is_inbox(p)) {
			/* UW's names are relative to HOME. */
			if (dl > 0 && (strncmp(p, dir + strlen(u->home) + 1,
			    dl - 1) != 0 || p[dl - 1] != '/'))
				continue;
			p += dl;
		}
		if (!subs_name_ok(p))
			continue;
		if (inbox_prefix(p))
			memcpy(p, "INBOX", 5);
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), str_cmp);
	for (r = 0, k = 0; k < n; k++)
		if (r == 0 || strcmp(v[r - 1], v[k]) != 0)
			v[r++] = v[k];
	*vp = v;
	*np = (size_t)r;
	return 0;
}

/* Write all of buf to fd. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t r;

	while (len > 0) {
		if ((r = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * Replace the subscriptions file with names v[0..n): a temporary file
 * beside it, synced, renamed over it, so a crash leaves the old list or
 * the new one.  Two processes (inetd mode) changing it at once may lose
 * one change, as in UW imapd; yubind's own sessions cannot race here.
 */
static int
subs_write(const struct user *u, char **v, size_t n, const char **err)
{
	char dir[FPATH_MAX], path[FPATH_MAX], tmp[FPATH_MAX];
	struct buf b;
	size_t i;
	int fd, r, ok;

	if (mail_dir(u, dir, sizeof(dir), err) < 0 ||
	    make_mail_dir(u, dir, err) < 0)
		return -1;
	r = snprintf(path, sizeof(path), "%s/%s", dir, SUBSCRIPTIONS_FILE);
	ok = r > 0 && (size_t)r < sizeof(path);
	r = snprintf(tmp, sizeof(tmp), "%s/%s.%ld.tmp", dir,
	    SUBSCRIPTIONS_FILE, (long)getpid());
	if (!ok || r < 0 || (size_t)r >= sizeof(tmp)) {
		*err = e_toolong;
		return -1;
	}
	buf_init(&b, FOLDER_SUBS_MAX);
	for (i = 0; i < n; i++)
		if (buf_puts(&b, v[i]) < 0 || buf_append(&b, "\n", 1) < 0) {
			buf_free(&b);
			*err = "[LIMIT] Too many subscriptions";
			return -1;
		}
	/* A crashed process of the same pid may have left one. */
	if (unlink(tmp) < 0 && errno != ENOENT) {
		*err = sys_err("unlink", tmp);
		buf_free(&b);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*err = sys_err("create", tmp);
		buf_free(&b);
		return -1;
	}
	ok = write_all(fd, buf_ptr(&b), buf_used(&b)) == 0 &&
	    give(u, fd) == 0 && fsync(fd) == 0;
	buf_free(&b);
	if (!ok) {
		*err = sys_err("write", tmp);
		(void)close(fd);
		(void)unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		*err = sys_err("close/rename", tmp);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

static int
do_subscribe(const struct user *u, const char *name, int on,
    const char **err)
{
	char cname[FOLDER_NAME_MAX + 1], **v = NULL, **nv, *data = NULL;
	size_t n = 0, i;
	int r = -1, found = 0;

	on = on != 0;
	if (folder_is_inbox(name))
		name = "INBOX";
	else if (on && (*err = name_error(name)) != NULL)
		return -1;
	else if (!on && !subs_name_ok(name)) {
		/* Any name in the file may go, valid to us or not. */
		*err = e_nonexist;
		return -1;
	}
	strcpy(cname, name);	/* checked: at most FOLDER_NAME_MAX */
	canon(cname);
	if (subs_read(u, &v, &n, &data, err) < 0)
		goto out;
	for (i = 0; i < n && !found; i++)
		found = strcmp(v[i], cname) == 0;
	r = 0;
	if (found == on)	/* idempotent: nothing to write */
		goto out;
	if (on) {
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			*err = e_nomem;
			r = -1;
			goto out;
		}
		v = nv;
		v[n++] = cname;
		qsort(v, n, sizeof(*v), str_cmp);
	} else {
		memmove(v + i - 1, v + i, (n - i) * sizeof(*v));
		n--;
	}
	r = subs_write(u, v, n, err);
out:
	free(v);
	free(data);
	return r;
}

/*
 * LSUB (6.3.9): the subscribed names that match, whether they exist or
 * not; with "%", a parent level of a subscribed name that matches when
 * the name does not is given as \Noselect (6.3.9's "foo/bar" example).
 */
static int
do_lsub(const struct user *u, struct lctx *x)
{
	char **v = NULL, *data = NULL, *sl, path[FPATH_MAX];
	size_t n = 0, i;
	struct stat st;
	int r = -1, attrs;

	if (subs_read(u, &v, &n, &data, &x->err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (pat_match(&x->pt, v[i], x->st, x->tmp)) {
			attrs = 0;
			if (!folder_is_inbox(v[i]) && folder_path(u, v[i],
			    path, sizeof(path), &x->err) == 0 &&
			    lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
				attrs = FOLDER_NOSELECT;
			x->err = NULL;
			if (add_name(x, v[i], attrs, 0) < 0)
				goto out;
			continue;
		}
		for (sl = v[i]; x->pt.pct && (sl = strchr(sl, '/')) != NULL;
		    *sl++ = '/') {
			*sl = '\0';
			if (pat_match(&x->pt, v[i], x->st, x->tmp) &&
			    add_name(x, v[i], FOLDER_NOSELECT, 1) < 0) {
				*sl = '/';
				goto out;
			}
		}
	}
	r = 0;
out:
	free(v);
	free(data);
	return r;
}

int
folder_list(const struct user *u, const char *ref, const char *pattern,
    int lsub, folder_list_fn *fn, void *arg, const char **err)
{
	struct lctx x;
	struct creds c;
	size_t i, j;
	int r;

	memset(&x, 0, sizeof(x));
	x.budget = FOLDER_SCAN_MAX;
	if (strlen(ref) + strlen(pattern) > 2 * FOLDER_NAME_MAX) {
		*err = "[CANNOT] Reference and pattern too long";
		return FOLDER_NO;
	}
	if (pat_init(&x.pt, ref, pattern) < 0 || (x.st = malloc(
	    (FOLDER_DEPTH_MAX + 3) * (x.pt.m + 1))) == NULL) {
		free(x.pt.p);
		*err = e_nomem;
		return FOLDER_NO;
	}
	x.tmp = ST(&x, FOLDER_DEPTH_MAX + 2);
	if (creds_enter(u, &c, err) < 0)
		r = -1;
	else {
		r = lsub ? do_lsub(u, &x) : do_list(u, &x);
		creds_leave(&c);
		if (r < 0)
			*err = x.err != NULL ? x.err : e_nomem;
	}
	if (r == 0) {
		if (x.n > 0)
			qsort(x.v, x.n, sizeof(*x.v), lname_cmp);
		for (i = 0; i < x.n; i = j) {
			/* LSUB: one line per name, the subscribed one */
			for (j = i + 1; j < x.n &&
			    strcmp(x.v[i].name, x.v[j].name) == 0; j++)
				;
			if (fn(arg, x.v[i].name, x.v[i].attrs) < 0)
				break;
		}
	}
	for (i = 0; i < x.n; i++)
		free(x.v[i].name);
	free(x.v);
	free(x.st);
	free(x.pt.p);
	return r < 0 ? FOLDER_NO : 0;
}

/* --- the commands, each with the user's rights --- */

enum folder_op { OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE };

static int
as_user(const struct user *u, enum folder_op op, const char *a,
    const char *b, int on, const char **err)
{
	struct creds c;
	int r = -1;

	if (creds_enter(u, &c, err) == 0) {
		switch (op) {
		case OP_CREATE:
			r = do_create(u, a, err);
			break;
		case OP_DELETE:
			r = do_delete(u, a, err);
			break;
		case OP_RENAME:
			r = do_rename(u, a, b, err);
			break;
		case OP_SUBSCRIBE:
			r = do_subscribe(u, a, on, err);
			break;
		}
		creds_leave(&c);
	}
	return r < 0 ? FOLDER_NO : 0;
}

int
folder_create(const struct user *u, const char *name, const char **err)
{
	return as_user(u, OP_CREATE, name, NULL, 0, err);
}

int
folder_delete(const struct user *u, const char *name, const char **err)
{
	return as_user(u, OP_DELETE, name, NULL, 0, err);
}

int
folder_rename(const struct user *u, const char *from, const char *to,
    const char **err)
{
	return as_user(u, OP_RENAME, from, to, 0, err);
}

int
folder_subscribe(const struct user *u, const char *name, int on,
    const char **err)
{
	return as_user(u, OP_SUBSCRIBE, name, NULL, on, err);
}

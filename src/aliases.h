/*
 * aliases.h - the aliases file (sendmail's /etc/aliases format) and
 * ~/.forward: what a local name expands to before delivery.
 *
 * File format, one alias per entry:
 *
 *	# a comment line
 *	name: target, target,
 *		target on a continuation line (it starts with space or tab)
 *
 * Names are case-insensitive.  A target is one of
 *	user		a local name (lowercased), expanded again if an alias
 *	\user		the local user itself, never expanded or forwarded
 *	user@host	an address (RFC 5321 syntax, "<user@host>" also taken)
 *	:include:/path	a file of more targets, read at expansion time
 *	|command	a pipe (the whole rest of the entry, up to a comma)
 *	/path/file	a file to append to
 *	"..."		any of the above quoted, so it may hold spaces
 *			("|/usr/bin/vacation joe") or commas.
 * Targets are separated by commas or line ends.  Include files and
 * .forward files use the same list syntax, '#' lines being comments.
 */
#ifndef YUBIN_ALIASES_H
#define YUBIN_ALIASES_H

#include <stddef.h>

/* Limits.  (Candidates for params.h: kept here while only we use them.) */
/* Nesting of aliases and include files: sendmail's MAXRCRSN is 10. */
#define ALIAS_DEPTH_MAX		10
/* Targets from one expansion: a mailing list is not our job. */
#define ALIAS_TARGETS_MAX	1000
/* An include file: a list this big is a mistake, or an attack. */
#define ALIAS_INCLUDE_MAX	(1024L * 1024L)
/* One line of the aliases file. */
#define ALIAS_LINE_MAX		65536L
/* The aliases file: thousands of entries still fit well inside. */
#define ALIASES_FILE_MAX	(16L * 1024L * 1024L)

/* Target types. */
#define T_LOCAL		1	/* a local user name, lowercased */
#define T_ADDRESS	2	/* local@domain, the domain lowercased */
#define T_FILE		3	/* an absolute path, to append to */
#define T_PIPE		4	/* a command line (without the '|') */

struct target {
	int	type;		/* T_* */
	/*
	 * T_LOCAL only: written "\user", so deliver to the mailbox without
	 * reading ~user/.forward (sendmail semantics).
	 */
	int	noforward;
	char	*name;
	/*
	 * The :include: file the target came from, NULL when from the
	 * aliases file itself.  Sendmail runs the pipes and writes the
	 * files of an include as the include file's owner: the delivery
	 * agent must do the same or refuse them, never act as root.
	 */
	char	*origin;
};

/*
 * A growable array of targets, at most ALIAS_TARGETS_MAX long, without
 * duplicates (same type and name: the first one stays).  Zero it with
 * targetlist_init(), free it with targetlist_free().
 */
struct targetlist {
	struct target	*v;
	int		n;
	int		cap;
};

void targetlist_init(struct targetlist *l);
void targetlist_free(struct targetlist *l);
/* Returns 0 (added, or already there) or -1 (full, or out of memory). */
int targetlist_add(struct targetlist *l, int type, const char *name,
    int noforward, const char *origin);

struct aliases;

/*
 * Read an aliases file.  A missing file gives an empty table and no
 * error.  Bad lines (no colon, empty name, bad target, a duplicate name
 * - the first entry stays -, a line over ALIAS_LINE_MAX) are reported as
 * "path:line: message" with warn(), skipped and counted in *nerrors.
 * Returns NULL, after warn(), if the file cannot be read or is over
 * ALIASES_FILE_MAX: a caller reloading on SIGHUP keeps its old table.
 */
struct aliases *aliases_load(const char *path, int *nerrors);
/* The same from memory: name is used in messages. */
struct aliases *aliases_parse(const char *text, size_t len, const char *name,
    int *nerrors);
void aliases_free(struct aliases *a);

/*
 * Expand one local name (any case) fully, appending to out: nested
 * aliases and :include: files (read now, at most ALIAS_INCLUDE_MAX bytes,
 * ALIAS_DEPTH_MAX deep), duplicates removed.  A name that is no alias
 * is itself, as T_LOCAL.  "postmaster" always exists: without an alias
 * it expands as "root" does.  T_ADDRESS targets are not resolved: the
 * caller decides whether the domain is local and may call again.
 *
 * Loops follow sendmail: an alias listing its own name ("root: root,
 * admin") means the user of that name (T_LOCAL root, and admin).  An
 * alias reached again through others ("a: b", "b: a") is a loop, and an
 * error; an alias reached twice along different branches is expanded
 * once.  A T_LOCAL target without noforward may have a ~/.forward: the
 * caller reads it (forward_parse) and guards against its own loops.
 *
 * Returns 0, or -1 after warn() on a loop, too deep a nesting, more than
 * ALIAS_TARGETS_MAX targets, an unreadable or bad include file, or no
 * memory.  The aliases are broken then, not the message: the caller
 * should defer (4xx) rather than bounce, and ignore out.
 */
int aliases_expand(const struct aliases *a, const char *name,
    struct targetlist *out);

/*
 * Parse a ~/.forward file's content: the list syntax above, where
 * "\user" is the user's own mailbox (no further forwarding) and
 * :include: is refused (the file would be read with our privileges, not
 * the user's).  Returns 0, or -1 after warn() on a bad entry or too many
 * targets; out then holds the entries before the error, and a caller
 * should deliver to the user's mailbox rather than guess.
 */
int forward_parse(const char *text, size_t len, struct targetlist *out);

#endif

/*
 * test_imap_folder.c - unit tests of src/imap_folder.c: mailbox name
 * checks, CREATE/DELETE/RENAME with inferiors and the mbox layout
 * (files have no inferiors, directories are \Noselect), LIST with "%",
 * "*" and references, INBOX in any case, a modified UTF-7 name, the
 * subscriptions file (ours, Dovecot's "V 2" and UW's .mailboxlist) and
 * LSUB.  Run as root, also that the user's rights are taken.
 *
 * Everything lives in a private sandbox directory.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "imap_folder.h"
#include "log.h"
#include "user.h"
#include "util.h"
#include "check.h"

#define JA	"&ZeVnLIqe-"	/* U+65E5 U+672C U+8A9E, 日本語 */

static char dir[1024];
static struct user u;
static const char *err;

static void
die(const char *what)
{
	fprintf(stderr, "test_imap_folder: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
make_dir(void)
{
	const char *tmp;
	int i, r;

	if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] != '/')
		tmp = "/tmp";
	for (i = 0; i < 100; i++) {
		r = snprintf(dir, sizeof(dir), "%s/test_imap_folder.%ld.%d",
		    tmp, (long)getpid(), i);
		if (r < 0 || (size_t)r >= sizeof(dir))
			die("TMPDIR too long");
		if (mkdir(dir, 0700) == 0)
			return;
		if (errno != EEXIST)
			break;
	}
	die("mkdir");
}

/* A path under the user's mail directory (8 rotating slots). */
static const char *
mpath(const char *rel)
{
	static char buf[8][1200];
	static int slot;
	char *p = buf[slot++ % 8];
	int r;

	r = snprintf(p, sizeof(buf[0]), "%s/mail/%s", u.home, rel);
	if (r < 0 || (size_t)r >= sizeof(buf[0]))
		die("path too long");
	return p;
}

static int
is_file(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
gone(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 && errno == ENOENT;
}

static void
put(const char *path, const char *text)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) != 0)
		die(path);
}

/* A whole small file as a string ("" if absent). */
static const char *
slurp(const char *path)
{
	static char buf[8192];
	FILE *fp;
	size_t n = 0;

	if ((fp = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return buf;
}

/* err holds the response code code (e.g. "[CANNOT]"). */
static int
code(const char *c)
{
	return err != NULL && strncmp(err, c, strlen(c)) == 0;
}

/* --- LIST output as text: "(\A \B) name\n" per name --- */

static char out[8192];
static int stop_after;

static int
collect(void *arg, const char *name, int attrs)
{
	static const struct { int bit; const char *s; } an[] = {
		{ FOLDER_NOSELECT, "\\Noselect" },
		{ FOLDER_NOINFERIORS, "\\NoInferiors" },
		{ FOLDER_HASCHILDREN, "\\HasChildren" },
		{ FOLDER_HASNOCHILDREN, "\\HasNoChildren" },
		{ FOLDER_MARKED, "\\Marked" },
		{ FOLDER_UNMARKED, "\\Unmarked" }
	};
	size_t i, n = strlen(out);
	int first = 1;

	(void)arg;
	n += sprintf(out + n, "(");
	for (i = 0; i < NELEM(an); i++)
		if (attrs & an[i].bit) {
			n += sprintf(out + n, "%s%s", first ? "" : " ", an[i].s);
			first = 0;
		}
	sprintf(out + n, ") %s\n", name);
	return --stop_after == 0 ? -1 : 0;
}

static const char *
list(const char *ref, const char *pat, int lsub)
{
	out[0] = '\0';
	stop_after = -1;
	err = NULL;
	if (folder_list(&u, ref, pat, lsub, collect, NULL, &err) != 0)
		return err != NULL ? err : "(null error)";
	return out;
}

#define LIST_IS(ref, pat, want)	CHECK(strcmp(list(ref, pat, 0), want) == 0)
#define LSUB_IS(ref, pat, want)	CHECK(strcmp(list(ref, pat, 1), want) == 0)

static int
create(const char *name)
{
	err = NULL;
	return folder_create(&u, name, &err);
}

static int
delete(const char *name)
{
	err = NULL;
	return folder_delete(&u, name, &err);
}

static int
rename_(const char *from, const char *to)
{
	err = NULL;
	return folder_rename(&u, from, to, &err);
}

static int
subscribe(const char *name, int on)
{
	err = NULL;
	return folder_subscribe(&u, name, on, &err);
}

/* --- tests --- */

static int
bad_name(const char *name)
{
	char path[1200];

	err = NULL;
	return folder_path(&u, name, path, sizeof(path), &err) == FOLDER_NO &&
	    code("[CANNOT]");
}

static void
test_names(void)
{
	char path[1200], big[FOLDER_NAME_MAX + 2], deep[80];
	struct user v;
	int i;

	CHECK(folder_is_inbox("INBOX"));
	CHECK(folder_is_inbox("inbox"));
	CHECK(folder_is_inbox("InBoX"));
	CHECK(!folder_is_inbox("INBOX/x"));
	CHECK(!folder_is_inbox("INBOXX"));
	CHECK(!folder_is_inbox("INBO"));

	CHECK(folder_path(&u, "INBOX", path, sizeof(path), &err) == 0 &&
	    strcmp(path, u.spool) == 0);
	CHECK(folder_path(&u, "iNbOx", path, sizeof(path), &err) == 0 &&
	    strcmp(path, u.spool) == 0);
	CHECK(folder_path(&u, "a/b", path, sizeof(path), &err) == 0 &&
	    strcmp(path, mpath("a/b")) == 0);
	CHECK(folder_path(&u, "inbox/x", path, sizeof(path), &err) == 0 &&
	    strcmp(path, mpath("INBOX/x")) == 0);
	CHECK(folder_path(&u, JA, path, sizeof(path), &err) == 0 &&
	    strcmp(path, mpath(JA)) == 0);
	CHECK(folder_path(&u, "&-x", path, sizeof(path), &err) == 0);
	CHECK(folder_path(&u, "a b#c", path, sizeof(path), &err) == 0);
	/* a buffer too small is an error, not a cut path */
	CHECK(folder_path(&u, "a/b", path, 8, &err) == FOLDER_NO);
	CHECK(folder_path(&u, "INBOX", path, 4, &err) == FOLDER_NO);

	CHECK(bad_name(""));
	CHECK(bad_name("/etc/passwd"));
	CHECK(bad_name("~root/x"));
	CHECK(bad_name("a//b"));
	CHECK(bad_name("a/"));
	CHECK(bad_name("."));
	CHECK(bad_name(".."));
	CHECK(bad_name("a/../../b"));
	CHECK(bad_name("a/./b"));
	CHECK(bad_name("../x"));
	CHECK(bad_name(SUBSCRIPTIONS_FILE));
	CHECK(bad_name(".hidden/x"));
	CHECK(bad_name("x/.Sent.yubin-recover"));
	CHECK(bad_name("Sent.lock"));
	CHECK(bad_name("a/b.lock/c"));
	CHECK(bad_name("&ZeVnLIqe"));		/* unterminated shift */
	CHECK(bad_name("a&b"));
	CHECK(bad_name("&AGE-"));		/* "a" needs no shift */
	CHECK(bad_name("\xe6\x97\xa5"));	/* raw UTF-8 */
	CHECK(bad_name("a\tb"));
	CHECK(bad_name("a\nb"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(bad_name(big));
	big[sizeof(big) - 2] = '\0';
	CHECK(folder_path(&u, big, path, sizeof(path), &err) == 0);
	for (deep[0] = '\0', i = 0; i < FOLDER_DEPTH_MAX; i++)
		strcat(deep, i == 0 ? "d" : "/d");
	CHECK(folder_path(&u, deep, path, sizeof(path), &err) == 0);
	strcat(deep, "/d");
	CHECK(bad_name(deep));

	/* a user without a home has INBOX only */
	v = u;
	v.home[0] = '\0';
	err = NULL;
	CHECK(folder_path(&v, "Sent", path, sizeof(path), &err) == FOLDER_NO &&
	    code("[CANNOT]"));
	CHECK(folder_path(&v, "INBOX", path, sizeof(path), &err) == 0);
	CHECK(folder_create(&v, "Sent", &err) == FOLDER_NO);
	out[0] = '\0';
	stop_after = -1;
	CHECK(folder_list(&v, "", "*", 0, collect, NULL, &err) == 0 &&
	    strcmp(out, "(\\HasNoChildren) INBOX\n") == 0);
}

static void
test_match(void)
{
	char pat[801], name[501];

	CHECK(folder_match("%", "a"));
	CHECK(!folder_match("%", "a/b"));
	CHECK(folder_match("*", "a/b"));
	CHECK(folder_match("*", ""));
	CHECK(folder_match("a/%", "a/b"));
	CHECK(!folder_match("a/%", "a"));
	CHECK(folder_match("a/%/c", "a/b/c"));
	CHECK(!folder_match("a/%/c", "a/b/x/c"));
	CHECK(folder_match("a/*/c", "a/b/x/c"));
	CHECK(folder_match("a*c", "abc"));
	CHECK(!folder_match("a*c", "abcd"));
	CHECK(folder_match("%%*%", "a/b"));
	CHECK(folder_match("S%t", "Sent"));
	CHECK(!folder_match("sent", "Sent"));	/* only INBOX ignores case */
	CHECK(folder_match("inbox", "INBOX"));
	CHECK(folder_match("INBOX", "inbox"));
	CHECK(folder_match("in*", "INBOX/x"));
	CHECK(!folder_match("in%", "INBOX/x"));
	CHECK(folder_match("iNbOx/%", "INBOX/x"));
	CHECK(!folder_match("inbox/X", "INBOX/x"));
	CHECK(!folder_match("in*", "Inbound"));
	CHECK(folder_match(JA "/%", JA "/x"));
	/* no exponential backtracking: "*a*a*a..." against "aaa...b" */
	memset(pat, 0, sizeof(pat));
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 2] = 'b';
	name[sizeof(name) - 1] = '\0';
	while (strlen(pat) + 2 < sizeof(pat))
		strcat(pat, "*a");
	CHECK(!folder_match(pat, name));
	name[sizeof(name) - 2] = 'a';
	CHECK(folder_match(pat + 400, name));
}

static void
test_create(void)
{
	struct stat st;
	char outside[1100];

	/* the sandbox home and mail directory are made on first use */
	CHECK(gone(u.home));
	CHECK(create("Sent") == 0);
	CHECK(is_file(mpath("Sent")));
	CHECK(stat(mpath("Sent"), &st) == 0 && (st.st_mode & 07777) == 0600 &&
	    st.st_size == 0);
	CHECK(stat(mpath(""), &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(create("Sent") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(create("INBOX") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(create("inbox") == FOLDER_NO && code("[ALREADYEXISTS]"));
	/* an mbox file has no inferiors */
	CHECK(create("Sent/2024") == FOLDER_NO && code("[CANNOT]"));
	CHECK(!is_file(mpath("Sent/2024")) && !is_dir(mpath("Sent/2024")));
	/* parents are made as directories */
	CHECK(create("d/e/f") == 0);
	CHECK(is_dir(mpath("d")) && is_dir(mpath("d/e")) &&
	    is_file(mpath("d/e/f")));
	CHECK(stat(mpath("d/e"), &st) == 0 && (st.st_mode & 07777) == 0700);
	/* a directory holds inferiors, never messages */
	CHECK(create("d") == FOLDER_NO && code("[ALREADYEXISTS]"));
	/* a trailing "/" makes the directory only */
	CHECK(create("g/") == 0);
	CHECK(is_dir(mpath("g")));
	CHECK(create("g/") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(create("g") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(create("Sent/") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(create(JA) == 0 && is_file(mpath(JA)));
	/* INBOX's inferiors live in mail/INBOX, whatever the case */
	CHECK(create("inbox/todo") == 0 && is_file(mpath("INBOX/todo")));
	CHECK(create("INBOX/todo") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(create("x%y") == FOLDER_NO && code("[CANNOT]"));
	CHECK(create("x*") == FOLDER_NO && code("[CANNOT]"));
	CHECK(create("bad&") == FOLDER_NO && code("[CANNOT]"));
	CHECK(create("a//b") == FOLDER_NO && code("[CANNOT]"));
	CHECK(create("../escape") == FOLDER_NO && code("[CANNOT]"));
	CHECK(create("") == FOLDER_NO);
	CHECK(create("/") == FOLDER_NO);
	/* a symbolic link below the mail directory is never followed */
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	CHECK(mkdir(outside, 0700) == 0);
	CHECK(symlink(outside, mpath("lnk")) == 0);
	CHECK(create("lnk/x") == FOLDER_NO && code("[CANNOT]"));
	snprintf(outside, sizeof(outside), "%s/outside/x", dir);
	CHECK(gone(outside));
	CHECK(create("lnk") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(unlink(mpath("lnk")) == 0);
}

static void
test_delete(void)
{
	CHECK(delete("INBOX") == FOLDER_NO && code("[CANNOT]"));
	CHECK(delete("inbox") == FOLDER_NO && code("[CANNOT]"));
	CHECK(delete("nope") == FOLDER_NO && code("[NONEXISTENT]"));
	CHECK(delete("nope/x") == FOLDER_NO && code("[NONEXISTENT]"));
	CHECK(delete("Sent/x") == FOLDER_NO);
	CHECK(delete("a//b") == FOLDER_NO && code("[CANNOT]"));
	/* 6.3.4: a \Noselect name with inferiors cannot go */
	CHECK(delete("d") == FOLDER_NO && code("[CANNOT]"));
	CHECK(is_dir(mpath("d")));
	CHECK(delete("d/e/f") == 0 && gone(mpath("d/e/f")));
	CHECK(delete("d/e") == 0 && gone(mpath("d/e")));
	CHECK(delete("d/") == 0 && gone(mpath("d")));
	CHECK(delete("g") == 0 && gone(mpath("g")));
	/* a directory of non-mailboxes (another program's) stays */
	CHECK(create("h/") == 0);
	put(mpath("h/.index"), "x");
	CHECK(delete("h") == FOLDER_NO && code("[CANNOT]"));
	CHECK(unlink(mpath("h/.index")) == 0 && delete("h") == 0);
	/* an mbox's recovery file goes with it */
	CHECK(create("r") == 0);
	put(mpath(".r.yubin-recover"), "yubin-recover 1 0 0\n");
	CHECK(delete("r") == 0 && gone(mpath("r")) &&
	    gone(mpath(".r.yubin-recover")));
	/* a link is not a mailbox, and what it points to is kept */
	CHECK(symlink("Sent", mpath("lnk")) == 0);
	CHECK(delete("lnk") == FOLDER_NO && code("[CANNOT]"));
	CHECK(is_file(mpath("Sent")));
	CHECK(unlink(mpath("lnk")) == 0);
}

static void
test_rename(void)
{
	CHECK(create("r1/a") == 0 && create("r1/b/c") == 0);
	put(mpath("r1/a"), "From x Thu Jan  1 00:00:00 1970\n\nhi\n\n");
	/* inferiors move with their directory; parents are made */
	CHECK(rename_("r1", "r2/sub") == 0);
	CHECK(gone(mpath("r1")));
	CHECK(is_file(mpath("r2/sub/a")) && is_file(mpath("r2/sub/b/c")));
	CHECK(strcmp(slurp(mpath("r2/sub/a")),
	    "From x Thu Jan  1 00:00:00 1970\n\nhi\n\n") == 0);
	CHECK(rename_("r2/sub/a", "top") == 0 && is_file(mpath("top")) &&
	    gone(mpath("r2/sub/a")));
	CHECK(rename_("nope", "x") == FOLDER_NO && code("[NONEXISTENT]"));
	CHECK(rename_("nope/a", "x") == FOLDER_NO && code("[NONEXISTENT]"));
	CHECK(rename_("top", "Sent") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(rename_("top", "r2") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(rename_("top", "top") == FOLDER_NO && code("[ALREADYEXISTS]"));
	CHECK(rename_("top", "INBOX") == FOLDER_NO &&
	    code("[ALREADYEXISTS]"));
	CHECK(rename_("INBOX", "x") == FOLDER_NO && code("[CANNOT]"));
	CHECK(rename_("r2", "r2/sub/x") == FOLDER_NO && code("[CANNOT]"));
	CHECK(rename_("top", "Sent/x") == FOLDER_NO && code("[CANNOT]"));
	CHECK(rename_("top", "x%") == FOLDER_NO && code("[CANNOT]"));
	CHECK(rename_("top", "bad&") == FOLDER_NO && code("[CANNOT]"));
	CHECK(is_file(mpath("top")));
	/* an unfinished rewrite pins a mailbox to its name */
	put(mpath(".top.yubin-recover"), "yubin-recover 1 0 0\n");
	CHECK(rename_("top", "top2") == FOLDER_NO && code("[INUSE]"));
	CHECK(unlink(mpath(".top.yubin-recover")) == 0);
	CHECK(rename_("top", "inbox/top") == 0 && is_file(mpath("INBOX/top")));
	CHECK(rename_("r2/sub", "r2sub") == 0 && is_dir(mpath("r2sub")));
	CHECK(delete("r2") == 0);
	CHECK(rename_("r2sub", "renamed/deeper") == 0 &&
	    is_file(mpath("renamed/deeper/b/c")));
	CHECK(delete("renamed/deeper/b/c") == 0 &&
	    delete("renamed/deeper/b") == 0 && delete("renamed/deeper") == 0 &&
	    delete("renamed") == 0 && delete("INBOX/top") == 0);
}

static void
test_list(void)
{
	const char *all;

	/* the tree: Sent, JA, INBOX/todo from before, plus these */
	CHECK(create("Drafts") == 0 && create("work/2023") == 0 &&
	    create("work/2024/q1") == 0 && create("empty/") == 0);
	/* what LIST must not show */
	put(mpath(".hidden"), "");
	put(mpath("Sent.lock"), "0");
	put(mpath("Inbox"), "");		/* INBOX is the spool */
	put(mpath("\xe6\x97\xa5"), "");		/* not modified UTF-7 */
	CHECK(symlink("Sent", mpath("lnk")) == 0);
	CHECK(subscribe("Sent", 1) == 0);

	all = "(\\HasChildren) INBOX\n"
	    "(\\NoInferiors) " JA "\n"
	    "(\\NoInferiors) Drafts\n"
	    "(\\NoInferiors) INBOX/todo\n"
	    "(\\NoInferiors) Sent\n"
	    "(\\Noselect \\HasNoChildren) empty\n"
	    "(\\Noselect \\HasChildren) work\n"
	    "(\\NoInferiors) work/2023\n"
	    "(\\Noselect \\HasChildren) work/2024\n"
	    "(\\NoInferiors) work/2024/q1\n";
	LIST_IS("", "*", all);
	LIST_IS("", "%", "(\\HasChildren) INBOX\n"
	    "(\\NoInferiors) " JA "\n"
	    "(\\NoInferiors) Drafts\n"
	    "(\\NoInferiors) Sent\n"
	    "(\\Noselect \\HasNoChildren) empty\n"
	    "(\\Noselect \\HasChildren) work\n");
	LIST_IS("", "%/%", "(\\NoInferiors) INBOX/todo\n"
	    "(\\NoInferiors) work/2023\n"
	    "(\\Noselect \\HasChildren) work/2024\n");
	/* references: prefixed as they are, with or without the "/" */
	LIST_IS("work/", "%", "(\\NoInferiors) work/2023\n"
	    "(\\Noselect \\HasChildren) work/2024\n");
	LIST_IS("work", "/%", "(\\NoInferiors) work/2023\n"
	    "(\\Noselect \\HasChildren) work/2024\n");
	LIST_IS("work/", "*", "(\\NoInferiors) work/2023\n"
	    "(\\Noselect \\HasChildren) work/2024\n"
	    "(\\NoInferiors) work/2024/q1\n");
	LIST_IS("wo", "rk", "(\\Noselect \\HasChildren) work\n");
	LIST_IS("", "work/2024/q1", "(\\NoInferiors) work/2024/q1\n");
	LIST_IS("", "*/q%", "(\\NoInferiors) work/2024/q1\n");
	LIST_IS("", "*1", "(\\NoInferiors) work/2024/q1\n");
	/* INBOX in any case, and its inferiors */
	LIST_IS("", "inbox", "(\\HasChildren) INBOX\n");
	LIST_IS("", "InBoX", "(\\HasChildren) INBOX\n");
	LIST_IS("", "in%", "(\\HasChildren) INBOX\n");
	LIST_IS("", "inbox/%", "(\\NoInferiors) INBOX/todo\n");
	LIST_IS("Inbox/", "*", "(\\NoInferiors) INBOX/todo\n");
	LIST_IS("", "I*", "(\\HasChildren) INBOX\n"
	    "(\\NoInferiors) INBOX/todo\n");
	/* the modified UTF-7 name is given as stored */
	LIST_IS("", "&*", "(\\NoInferiors) " JA "\n");
	LIST_IS("", JA, "(\\NoInferiors) " JA "\n");
	LIST_IS("", "sent", "");
	LIST_IS("", "nothing/*", "");
	LIST_IS("", "Sent/%", "");
	/* the callback may stop the listing */
	out[0] = '\0';
	stop_after = 2;
	CHECK(folder_list(&u, "", "*", 0, collect, NULL, &err) == 0 &&
	    strcmp(out, "(\\HasChildren) INBOX\n(\\NoInferiors) " JA "\n") == 0);
	CHECK(unlink(mpath("lnk")) == 0);
	CHECK(delete("INBOX/todo") == 0);
	LIST_IS("", "inbox", "(\\HasNoChildren) INBOX\n");
}

static void
test_subscriptions(void)
{
	char home_file[1200];
	const char *subs = mpath(SUBSCRIPTIONS_FILE);

	CHECK(strcmp(slurp(subs), "Sent\n") == 0);
	CHECK(subscribe("Sent", 1) == 0);		/* idempotent */
	CHECK(strcmp(slurp(subs), "Sent\n") == 0);
	CHECK(subscribe("inbox", 1) == 0);
	CHECK(subscribe("foo/bar", 1) == 0);	/* need not exist */
	CHECK(subscribe("work", 1) == 0);
	CHECK(subscribe(JA, 1) == 0);
	CHECK(subscribe("bad&", 1) == FOLDER_NO && code("[CANNOT]"));
	CHECK(subscribe("a//b", 1) == FOLDER_NO && code("[CANNOT]"));
	CHECK(subscribe("never", 0) == 0);		/* idempotent */
	CHECK(strcmp(slurp(subs),
	    JA "\nINBOX\nSent\nfoo/bar\nwork\n") == 0);
	CHECK(gone(mpath(SUBSCRIPTIONS_FILE ".tmp")));
	CHECK(strstr(list("", "*", 0), "subscriptions") == NULL);

	/* LSUB: subscribed names, existing or not; "%" implies parents */
	LSUB_IS("", "*", "() INBOX\n() " JA "\n() Sent\n() foo/bar\n"
	    "(\\Noselect) work\n");
	LSUB_IS("", "%", "() INBOX\n() " JA "\n() Sent\n(\\Noselect) foo\n"
	    "(\\Noselect) work\n");
	LSUB_IS("", "f*", "() foo/bar\n");
	LSUB_IS("foo/", "%", "() foo/bar\n");
	LSUB_IS("", "f%", "(\\Noselect) foo\n");
	LSUB_IS("", "foo", "");
	LSUB_IS("", "inbox", "() INBOX\n");
	LSUB_IS("", "Drafts", "");
	/* a subscribed parent is given once, as subscribed */
	CHECK(subscribe("foo", 1) == 0);
	LSUB_IS("", "f%", "() foo\n");
	CHECK(subscribe("foo", 0) == 0);

	CHECK(subscribe("Sent", 0) == 0 && subscribe("INBOX", 0) == 0);
	CHECK(strcmp(slurp(subs), JA "\nfoo/bar\nwork\n") == 0);
	LSUB_IS("", "*", "() " JA "\n() foo/bar\n(\\Noselect) work\n");

	/* junk lines are skipped; a name not ours can still go */
	put(subs, "Sent\n\nbad\001name\r\nx//y\ninbox\n");
	LSUB_IS("", "*", "() INBOX\n() Sent\n() x//y\n");
	CHECK(subscribe("x//y", 0) == 0);
	CHECK(strcmp(slurp(subs), "INBOX\nSent\n") == 0);

	/* Dovecot's version 2 file: levels separated by tabs */
	put(subs, "V\t2\n\nwork\t2023\nSent\n");
	LSUB_IS("", "*", "() Sent\n() work/2023\n");
	CHECK(subscribe("Drafts", 1) == 0);
	CHECK(strcmp(slurp(subs), "Drafts\nSent\nwork/2023\n") == 0);

	/* without ours, UW's ~/.mailboxlist (names relative to HOME) */
	CHECK(unlink(subs) == 0);
	snprintf(home_file, sizeof(home_file), "%s/.mailboxlist", u.home);
	put(home_file, "INBOX\nmail/Sent\n/tmp/other\nnews/x\nmail/" JA "\n");
	LSUB_IS("", "*", "() INBOX\n() " JA "\n() Sent\n");
	CHECK(subscribe("Drafts", 1) == 0);
	CHECK(strcmp(slurp(subs), JA "\nDrafts\nINBOX\nSent\n") == 0);
	CHECK(unlink(home_file) == 0);
	LSUB_IS("", "D*", "() Drafts\n");
}

/* As root, every file is made with the user's rights and owned by him. */
static void
test_root(void)
{
	char home[1100], secret[1100], path[1200];
	struct user saved = u;
	struct stat st;

	if (geteuid() != 0)
		return;
	u.uid = 65534;
	u.gid = 65534;
	snprintf(home, sizeof(home), "%s/home2", dir);
	snprintf(secret, sizeof(secret), "%s/rootonly", dir);
	CHECK(chmod(dir, 0711) == 0);
	CHECK(mkdir(home, 0700) == 0 && chown(home, u.uid, u.gid) == 0);
	CHECK(mkdir(secret, 0700) == 0);
	strcpy(u.home, home);
	CHECK(create("x/y") == 0);
	CHECK(stat(mpath("x"), &st) == 0 && st.st_uid == 65534);
	CHECK(stat(mpath("x/y"), &st) == 0 && st.st_uid == 65534);
	CHECK(subscribe("x/y", 1) == 0);
	CHECK(stat(mpath(SUBSCRIPTIONS_FILE), &st) == 0 && st.st_uid == 65534);
	/* a link to a place only root may write is no way in */
	CHECK(symlink(secret, mpath("evil")) == 0);
	CHECK(create("evil/pwn") == FOLDER_NO);
	snprintf(path, sizeof(path), "%s/pwn", secret);
	CHECK(gone(path));
	CHECK(geteuid() == 0 && getegid() == 0);
	u = saved;
}

int
main(void)
{
	make_dir();
	config = conf_new(dir);
	memset(&u, 0, sizeof(u));
	strcpy(u.name, "tester");
	u.uid = getuid();
	u.gid = getgid();
	if ((size_t)snprintf(u.home, sizeof(u.home), "%s/home/tester", dir) >=
	    sizeof(u.home) || (size_t)snprintf(u.spool, sizeof(u.spool),
	    "%s/mail/tester", dir) >= sizeof(u.spool))
		die("TMPDIR too long");

	test_names();
	test_match();
	test_create();
	test_delete();
	test_rename();
	test_list();
	test_subscriptions();
	test_root();

	if (check_failed == 0) {
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	} else
		fprintf(stderr, "left %s for inspection\n", dir);
	conf_free(config);
	return check_exit("test_imap_folder");
}

/*
 * test_aliases.c - unit tests of src/aliases.c: the aliases file format
 * (continuations, comments, quoting, errors with their line numbers),
 * expansion (nesting, loops, self-reference, depth, duplicates,
 * postmaster, :include: files) and ~/.forward parsing.
 *
 * Files live in a private temporary directory; warn() output is logged
 * to a file there and searched.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "log.h"
#include "check.h"

static char dir[1024];
static char logpath[1100];
static struct targetlist tl;

static void
make_dir(void)
{
	const char *tmp;
	int i, r;

	if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] != '/')
		tmp = "/tmp";
	for (i = 0; i < 100; i++) {
		r = snprintf(dir, sizeof(dir), "%s/test_aliases.%ld.%d", tmp,
		    (long)getpid(), i);
		if (r < 0 || (size_t)r >= sizeof(dir)) {
			fprintf(stderr, "TMPDIR too long\n");
			exit(1);
		}
		if (mkdir(dir, 0700) == 0)
			return;
		if (errno != EEXIST)
			break;
	}
	fprintf(stderr, "cannot make a directory under %s\n", tmp);
	exit(1);
}

/* The path of name in our directory (a static buffer per call slot). */
static const char *
tpath(const char *name)
{
	static char buf[8][1100];
	static int slot;
	char *p;
	int r;

	p = buf[slot++ % 8];
	r = snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	if (r < 0 || (size_t)r >= sizeof(buf[0])) {
		fprintf(stderr, "path too long\n");
		exit(1);
	}
	return p;
}

static const char *
write_file(const char *name, const char *text, size_t len)
{
	const char *path = tpath(name);
	FILE *fp;

	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(text, 1, len, fp) != len || fclose(fp) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	return path;
}

static void
log_fresh(void)
{
	remove(logpath);
	if (log_open("test_aliases", LOG_TO_FILE, logpath) < 0) {
		fprintf(stderr, "cannot open %s\n", logpath);
		exit(1);
	}
}

/* Whether the captured log holds text. */
static int
logged(const char *text)
{
	static char buf[65536];
	FILE *fp;
	size_t n;

	if ((fp = fopen(logpath, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* Parse text as an aliases file named "f". */
static struct aliases *
parse(const char *text, int *nerrors)
{
	log_fresh();
	return aliases_parse(text, strlen(text), "f", nerrors);
}

/* Expand name afresh into tl: the expansion's result. */
static int
expand(const struct aliases *a, const char *name)
{
	targetlist_free(&tl);
	return aliases_expand(a, name, &tl);
}

/* Whether tl[i] is type:name. */
static int
has(int i, int type, const char *name)
{
	return i < tl.n && tl.v[i].type == type &&
	    strcmp(tl.v[i].name, name) == 0;
}

static void
test_basic(void)
{
	struct aliases *a;
	int ne;

	a = parse("# the aliases\n\nroot: admin\nadmin: alice, bob\n"
	    "Staff : Carol,\n\tdave\n  ,erin\n\n# end\n", &ne);
	CHECK(a != NULL && ne == 0);
	CHECK(expand(a, "root") == 0 && tl.n == 2 &&
	    has(0, T_LOCAL, "alice") && has(1, T_LOCAL, "bob") &&
	    tl.v[0].origin == NULL && !tl.v[0].noforward);
	/* names are case-insensitive; local names come out lowercased */
	CHECK(expand(a, "STAFF") == 0 && tl.n == 3 &&
	    has(0, T_LOCAL, "carol") && has(1, T_LOCAL, "dave") &&
	    has(2, T_LOCAL, "erin"));
	CHECK(expand(a, "sTaFf") == 0 && tl.n == 3);
	/* an unknown name is itself */
	CHECK(expand(a, "Nobody") == 0 && tl.n == 1 &&
	    has(0, T_LOCAL, "nobody"));
	CHECK(expand(a, "") < 0);
	aliases_free(a);
	/* CRLF files */
	a = parse("a: b,\r\n c\r\nd: |/bin/cmd x\r\n", &ne);
	CHECK(a != NULL && ne == 0);
	CHECK(expand(a, "a") == 0 && tl.n == 2 && has(1, T_LOCAL, "c"));
	CHECK(expand(a, "d") == 0 && tl.n == 1 && has(0, T_PIPE, "/bin/cmd x"));
	aliases_free(a);
	CHECK(expand(NULL, "x") == 0 && has(0, T_LOCAL, "x"));
}

static void
test_types(void)
{
	struct aliases *a;
	int ne;

	a = parse("a: |/usr/bin/foo arg, /var/mail/a,"
	    " \"|/usr/bin/vacation joe, x\", \"/tmp/with space\",\n"
	    " User@Remote.EXAMPLE, <x@y.org>, \"q u\"@z.org, \\Root,\n"
	    " u@[127.0.0.1], \"|  /bin/sp\"\n", &ne);
	CHECK(a != NULL && ne == 0);
	CHECK(expand(a, "a") == 0 && tl.n == 10);
	CHECK(has(0, T_PIPE, "/usr/bin/foo arg"));
	CHECK(has(1, T_FILE, "/var/mail/a"));
	CHECK(has(2, T_PIPE, "/usr/bin/vacation joe, x"));
	CHECK(has(3, T_FILE, "/tmp/with space"));
	CHECK(has(4, T_ADDRESS, "User@remote.example"));
	CHECK(has(5, T_ADDRESS, "x@y.org"));
	CHECK(has(6, T_ADDRESS, "\"q u\"@z.org"));
	CHECK(has(7, T_LOCAL, "root") && tl.v[7].noforward);
	CHECK(has(8, T_ADDRESS, "u@[127.0.0.1]"));
	CHECK(has(9, T_PIPE, "/bin/sp"));
	aliases_free(a);
}

static void
test_errors(void)
{
	struct aliases *a;
	int ne;

	a = parse("# c\n"			/* 1 */
	    "good: alice\n"			/* 2 */
	    "nocolon alice\n"			/* 3 */
	    ": empty\n"				/* 4 */
	    "Good: bob\n"			/* 5: duplicate */
	    "\n"				/* 6 */
	    "  orphan\n"			/* 7 */
	    "bad name: x\n"			/* 8 */
	    "t: a b, c\n"			/* 9 */
	    "u: ok,\n"				/* 10 */
	    "\t\"unterminated\n"		/* 11 */
	    "v:\n"				/* 12 */
	    "w: :include:relative, |, x@, a@b@c\n"	/* 13: 4 errors */
	    "x: error:nouser, \"q\"z\n", &ne);	/* 14: 2 errors */
	CHECK(a != NULL && ne == 14);
	CHECK(logged("f:3: missing colon"));
	CHECK(logged("f:4: empty alias name"));
	CHECK(logged("f:5: duplicate alias \"good\" (first on line 2)"));
	CHECK(logged("f:7: continuation line without an alias"));
	CHECK(logged("f:8: bad alias name"));
	CHECK(logged("f:9: missing comma between targets"));
	CHECK(logged("f:11: unterminated quoted string"));
	CHECK(logged("f:12: alias \"v\" has no targets"));
	CHECK(logged("f:13: include path is not absolute"));
	CHECK(logged("f:13: empty command"));
	CHECK(logged("f:13: bad address: \"x@\""));
	CHECK(logged("f:13: bad address: \"a@b@c\""));
	CHECK(logged("f:14: bad local name: \"error:nouser\""));
	CHECK(logged("f:14: text after a quoted string"));
	/* the first of duplicates stays; good targets of bad lines too */
	CHECK(expand(a, "good") == 0 && tl.n == 1 && has(0, T_LOCAL, "alice"));
	CHECK(expand(a, "t") == 0 && tl.n == 1 && has(0, T_LOCAL, "c"));
	CHECK(expand(a, "u") == 0 && tl.n == 1 && has(0, T_LOCAL, "ok"));
	CHECK(expand(a, "v") == 0 && tl.n == 1 && has(0, T_LOCAL, "v"));
	aliases_free(a);
}

/* NUL bytes and overlong lines. */
static void
test_errors_bytes(void)
{
	struct aliases *a;
	char *big;
	int ne;

	/* a NUL cannot cut a name or a target short */
	log_fresh();
	a = aliases_parse("root\0x: evil\na: root\0evil\n", 25, "f", &ne);
	CHECK(a != NULL && ne == 2 && logged("f:1: bad alias name") &&
	    logged("f:2: NUL character in target"));
	CHECK(expand(a, "root") == 0 && has(0, T_LOCAL, "root"));
	CHECK(expand(a, "a") == 0 && has(0, T_LOCAL, "a"));
	aliases_free(a);
	/* a line over 64 KB, and its continuation, are skipped */
	big = malloc(70000);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	strcpy(big, "a: b\nlong: ");
	memset(big + 11, 'x', 66000);
	strcpy(big + 11 + 66000, "\n c\nd: e\n");
	a = parse(big, &ne);
	CHECK(a != NULL && ne == 1 && logged("f:2: line too long"));
	CHECK(expand(a, "long") == 0 && has(0, T_LOCAL, "long"));
	CHECK(expand(a, "d") == 0 && has(0, T_LOCAL, "e"));
	CHECK(expand(a, "a") == 0 && has(0, T_LOCAL, "b"));
	aliases_free(a);
	free(big);
}

static void
test_loops(void)
{
	struct aliases *a;
	int ne;

	/* sendmail: an alias listing itself means the user too */
	a = parse("root: root, admin\nadmin: alice\n"
	    "a: b\nb: a\n"
	    "c: d, x\nd: e\ne: c, y\n"
	    "top: l, r\nl: bottom\nr: bottom\nbottom: z\n"
	    "all: alice, staff, bob\nstaff: alice, bob, carol, Alice\n"
	    "me: \\me, you\n", &ne);
	CHECK(a != NULL && ne == 0);
	CHECK(expand(a, "root") == 0 && tl.n == 2 && has(0, T_LOCAL, "root") &&
	    has(1, T_LOCAL, "alice"));
	CHECK(expand(a, "me") == 0 && tl.n == 2 && has(0, T_LOCAL, "me") &&
	    tl.v[0].noforward && has(1, T_LOCAL, "you"));
	/* a loop through other aliases is an error */
	log_fresh();
	CHECK(expand(a, "a") < 0 && logged("alias loop: \"a\" reached again"));
	log_fresh();
	CHECK(expand(a, "c") < 0 && logged("alias loop: \"c\""));
	CHECK(expand(a, "e") < 0);
	/* a diamond is no loop: bottom is expanded once */
	CHECK(expand(a, "top") == 0 && tl.n == 1 && has(0, T_LOCAL, "z"));
	/* duplicates removed, first position kept */
	CHECK(expand(a, "all") == 0 && tl.n == 3 &&
	    has(0, T_LOCAL, "alice") && has(1, T_LOCAL, "bob") &&
	    has(2, T_LOCAL, "carol"));
	/* expanding again into the same list adds nothing new */
	CHECK(aliases_expand(a, "staff", &tl) == 0 && tl.n == 3);
	aliases_free(a);
}

/* An aliases text chain a0: a1, ..., a(n-1): end. */
static struct aliases *
chain(int n)
{
	static char text[4096];
	struct aliases *a;
	size_t len;
	int i, ne;

	len = 0;
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "a%d: %s%d\n", i,
		    i + 1 < n ? "a" : "end", i + 1);
	a = parse(text, &ne);
	CHECK(a != NULL && ne == 0);
	return a;
}

static void
test_depth_and_limits(void)
{
	struct aliases *a;
	char *text;
	size_t len;
	int i, ne;

	a = chain(ALIAS_DEPTH_MAX);
	CHECK(expand(a, "a0") == 0 && tl.n == 1 && has(0, T_LOCAL, "end10"));
	aliases_free(a);
	a = chain(ALIAS_DEPTH_MAX + 1);
	log_fresh();
	CHECK(expand(a, "a0") < 0 && logged("nested more than 10 deep"));
	CHECK(expand(a, "a1") == 0 && has(0, T_LOCAL, "end11"));
	aliases_free(a);
	/* ALIAS_TARGETS_MAX targets pass, one more does not */
	text = malloc(20 * (ALIAS_TARGETS_MAX + 2));
	CHECK(text != NULL);
	if (text == NULL)
		return;
	len = (size_t)sprintf(text, "big: ");
	for (i = 0; i < ALIAS_TARGETS_MAX; i++)
		len += (size_t)sprintf(text + len, "u%d,\n ", i);
	strcpy(text + len, "\nbigger: big, one-more\n");
	a = parse(text, &ne);
	CHECK(a != NULL && ne == 0);
	CHECK(expand(a, "big") == 0 && tl.n == ALIAS_TARGETS_MAX);
	log_fresh();
	CHECK(expand(a, "bigger") < 0 && logged("more than 1000 targets"));
	aliases_free(a);
	free(text);
}

static void
test_postmaster(void)
{
	struct aliases *a;
	int ne;

	a = parse("x: y\n", &ne);
	CHECK(expand(a, "postmaster") == 0 && tl.n == 1 &&
	    has(0, T_LOCAL, "root"));
	CHECK(expand(a, "PostMaster") == 0 && has(0, T_LOCAL, "root"));
	aliases_free(a);
	CHECK(expand(NULL, "postmaster") == 0 && has(0, T_LOCAL, "root"));
	a = parse("root: admin, root\n", &ne);
	CHECK(expand(a, "postmaster") == 0 && tl.n == 2 &&
	    has(0, T_LOCAL, "admin") && has(1, T_LOCAL, "root"));
	aliases_free(a);
	a = parse("postmaster: pm\nroot: admin\n", &ne);
	CHECK(expand(a, "Postmaster") == 0 && tl.n == 1 &&
	    has(0, T_LOCAL, "pm"));
	aliases_free(a);
}

/* "name: :include:<path of file>" */
static struct aliases *
with_include(const char *name, const char *file)
{
	char text[2400];
	int ne;

	sprintf(text, "%s: :include:%.1100s\nalias: deep\n", name,
	    tpath(file));
	return parse(text, &ne);
}

/* Include files count in the nesting depth: inc0 -> inc1 -> ... -> leaf. */
static void
test_include_depth(void)
{
	struct aliases *a;
	char name[32], text[1200];
	int i;

	for (i = 0; i < 12; i++) {
		sprintf(name, "inc%d", i + 1);
		if (i < 11)
			sprintf(text, ":include:%.1100s\n", tpath(name));
		else
			strcpy(text, "leaf\n");
		sprintf(name, "inc%d", i);
		write_file(name, text, strlen(text));
	}
	a = with_include("d", "inc3");
	CHECK(expand(a, "d") == 0 && tl.n == 1 && has(0, T_LOCAL, "leaf"));
	aliases_free(a);
	a = with_include("d", "inc2");
	log_fresh();
	CHECK(expand(a, "d") < 0 && logged("included more than 10 deep"));
	aliases_free(a);
	for (i = 0; i < 12; i++) {
		sprintf(name, "inc%d", i);
		remove(tpath(name));
	}
}

static void
test_include(void)
{
	static const char members[] = "# members\nBob\n\ncarol, dave@X.org,\n"
	    "  \"|/bin/cmd a\", /tmp/f\n# bye\nalias, list\n";
	struct aliases *a;
	char text[2400];
	const char *inc;

	inc = write_file("list", members, sizeof(members) - 1);
	a = with_include("list", "list");
	CHECK(a != NULL);
	CHECK(expand(a, "list") == 0 && tl.n == 7);
	CHECK(has(0, T_LOCAL, "bob") && tl.v[0].origin != NULL &&
	    strcmp(tl.v[0].origin, inc) == 0);
	CHECK(has(1, T_LOCAL, "carol") && has(2, T_ADDRESS, "dave@x.org") &&
	    has(3, T_PIPE, "/bin/cmd a") && has(4, T_FILE, "/tmp/f") &&
	    tl.v[3].origin != NULL);
	/* an alias named in the include is expanded, from the aliases file */
	CHECK(has(5, T_LOCAL, "deep") && tl.v[5].origin == NULL);
	/* the list naming itself means the user "list" */
	CHECK(has(6, T_LOCAL, "list"));
	aliases_free(a);
	/* nested includes; the same file twice is read once */
	sprintf(text, ":include:%.1100s\n:include:%.1100s\n", tpath("inner"),
	    tpath("inner"));
	write_file("outer", text, strlen(text));
	write_file("inner", "x1, x2\n", 7);
	a = with_include("o", "outer");
	CHECK(expand(a, "o") == 0 && tl.n == 2 && has(1, T_LOCAL, "x2"));
	aliases_free(a);
	/* a file including itself */
	sprintf(text, "a, :include:%.1100s\n", tpath("self"));
	write_file("self", text, strlen(text));
	a = with_include("s", "self");
	log_fresh();
	CHECK(expand(a, "s") < 0 && logged("include loop"));
	aliases_free(a);
	/* missing, bad and too big include files are errors */
	a = with_include("m", "missing");
	log_fresh();
	CHECK(expand(a, "m") < 0 && logged("cannot read include file"));
	aliases_free(a);
	write_file("bad", "ok,\nnot ok\n", 11);
	a = with_include("b", "bad");
	log_fresh();
	CHECK(expand(a, "b") < 0 && logged("/bad:2: missing comma"));
	aliases_free(a);
}

/* An include file may be ALIAS_INCLUDE_MAX bytes, not one more. */
static void
test_include_size(void)
{
	struct aliases *a;
	char *big;

	big = malloc(ALIAS_INCLUDE_MAX + 1);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, '\n', ALIAS_INCLUDE_MAX + 1);
	write_file("big", big, ALIAS_INCLUDE_MAX);
	a = with_include("b", "big");
	CHECK(expand(a, "b") == 0 && tl.n == 0);
	aliases_free(a);
	write_file("big", big, ALIAS_INCLUDE_MAX + 1);
	a = with_include("b", "big");
	log_fresh();
	CHECK(expand(a, "b") < 0 && logged("include file too big"));
	aliases_free(a);
	free(big);
}

static void
test_load(void)
{
	struct aliases *a;
	const char *path;
	int ne;

	log_fresh();
	ne = 99;
	a = aliases_load(tpath("nonexistent"), &ne);
	CHECK(a != NULL && ne == 0);
	CHECK(expand(a, "x") == 0 && has(0, T_LOCAL, "x"));
	aliases_free(a);
	path = write_file("aliases", "# test\nroot: admin\nbad\n", 23);
	a = aliases_load(path, &ne);
	CHECK(a != NULL && ne == 1 && logged("/aliases:3: missing colon"));
	CHECK(expand(a, "root") == 0 && has(0, T_LOCAL, "admin"));
	aliases_free(a);
	/* unreadable: NULL, so a reload keeps the old table */
	CHECK(aliases_load(dir, &ne) == NULL);
}

static void
test_forward(void)
{
	static const char fwd[] = "# my forward\n\\Joe, joe@Elsewhere.ORG\n"
	    "|/usr/bin/procmail\n\"/home/joe/mail box\"\n";
	struct targetlist l;

	targetlist_init(&l);
	CHECK(forward_parse(fwd, sizeof(fwd) - 1, &l) == 0 && l.n == 4);
	CHECK(l.n == 4 && l.v[0].type == T_LOCAL &&
	    strcmp(l.v[0].name, "joe") == 0 && l.v[0].noforward);
	CHECK(l.n == 4 && l.v[1].type == T_ADDRESS &&
	    strcmp(l.v[1].name, "joe@elsewhere.org") == 0);
	CHECK(l.n == 4 && l.v[2].type == T_PIPE &&
	    strcmp(l.v[2].name, "/usr/bin/procmail") == 0);
	CHECK(l.n == 4 && l.v[3].type == T_FILE &&
	    strcmp(l.v[3].name, "/home/joe/mail box") == 0);
	targetlist_free(&l);
	CHECK(forward_parse("bob", 3, &l) == 0 && l.n == 1 &&
	    l.v[0].type == T_LOCAL && !l.v[0].noforward);
	targetlist_free(&l);
	CHECK(forward_parse("", 0, &l) == 0 && l.n == 0);
	log_fresh();
	CHECK(forward_parse("a\n:include:/etc/shadow\n", 23, &l) < 0 &&
	    l.n == 1 && logged(".forward:2: :include: is not allowed"));
	targetlist_free(&l);
	log_fresh();
	CHECK(forward_parse("a, b c", 6, &l) < 0 &&
	    logged(".forward:1: missing comma"));
	targetlist_free(&l);
}

int
main(void)
{
	int r;

	make_dir();
	r = snprintf(logpath, sizeof(logpath), "%s/log", dir);
	if (r < 0 || (size_t)r >= sizeof(logpath))
		return 1;
	targetlist_init(&tl);
	test_basic();
	test_types();
	test_errors();
	test_errors_bytes();
	test_loops();
	test_depth_and_limits();
	test_postmaster();
	test_include();
	test_include_size();
	test_include_depth();
	test_load();
	test_forward();
	targetlist_free(&tl);
	log_close();
	remove(logpath);
	remove(tpath("list"));
	remove(tpath("outer"));
	remove(tpath("inner"));
	remove(tpath("self"));
	remove(tpath("bad"));
	remove(tpath("big"));
	remove(tpath("aliases"));
	rmdir(dir);
	return check_exit("test_aliases");
}

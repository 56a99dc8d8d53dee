/*
 * aliases.c - the aliases file, :include: files and ~/.forward: reading
 * them, and expanding a local name into the targets to deliver to.
 *
 * The parsers work on memory (tests feed them strings); only
 * aliases_load() and the include reader touch files.  This file must
 * never deliver anything nor decide whose privileges a pipe runs with:
 * it says where a target came from (struct target's origin) and the
 * delivery agent decides.  Nothing it reads is trusted: every file is
 * bounded in size, every expansion in depth and in the number of
 * targets, and a loop is an error, not a mail storm.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "aliases.h"
#include "log.h"
#include "util.h"

/* An :include: entry, besides the T_* target types. */
#define K_INCLUDE	5

struct entry {
	int	kind;		/* T_* or K_INCLUDE */
	int	noforward;
	char	*text;
};

struct alias {
	char		*name;	/* lowercased */
	struct entry	*v;
	int		n;
	int		line;
};

struct aliases {
	struct alias	*v;	/* sorted by name once loaded */
	int		n;
	int		cap;
};

/* Where a list parser is: a target list in an aliases entry, an include
 * file or a .forward file. */
struct lexer {
	const char	*p;
	const char	*end;
	const char	*file;	/* for messages */
	int		line;
	int		bol;	/* at the beginning of a line */
};

/* A name quoted in a message is cut here: log lines are bounded. */
#define QUOTE_MAX	100

static void
lower_str(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Whether c is one of set; strchr() would also find the NUL. */
static int
is_in(int c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* malloc'd copy of n bytes of s, NUL-terminated; NULL when out of memory. */
static char *
dup_n(const char *s, size_t n)
{
	char *p;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
targetlist_init(struct targetlist *l)
{
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

void
targetlist_free(struct targetlist *l)
{
	int i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].origin);
	}
	free(l->v);
	targetlist_init(l);
}

int
targetlist_add(struct targetlist *l, int type, const char *name,
    int noforward, const char *origin)
{
	struct target *t;
	int i;

	/* Sendmail semantics: a mailbox reached twice gets one copy. */
	for (i = 0; i < l->n; i++)
		if (l->v[i].type == type && strcmp(l->v[i].name, name) == 0)
			return 0;
	if (l->n >= ALIAS_TARGETS_MAX)
		return -1;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;

		if ((t = realloc(l->v, (size_t)cap * sizeof(*t))) == NULL)
			return -1;
		l->v = t;
		l->cap = cap;
	}
	t = &l->v[l->n];
	t->type = type;
	t->noforward = noforward;
	t->name = dup_n(name, strlen(name));
	t->origin = origin ? dup_n(origin, strlen(origin)) : NULL;
	if (t->name == NULL || (origin != NULL && t->origin == NULL)) {
		free(t->name);
		free(t->origin);
		return -1;
	}
	l->n++;
	return 0;
}

/* An address target ("user@host" or "<user@host>") into e. */
static const char *
classify_address(const char *text, struct entry *e)
{
	char path[1024], out[600];
	struct addr a;
	const char *end;
	size_t n;

	n = strlen(text);
	if (n + 3 > sizeof(path))
		return "address too long";
	if (text[0] == '<')
		memcpy(path, text, n + 1);
	else {
		path[0] = '<';
		memcpy(path + 1, text, n);
		memcpy(path + 1 + n, ">", 2);
	}
	if (addr_parse_path(path, &a, &end, 0) != 0 || *end != '\0')
		return "bad address";
	/* RFC 5321 2.4: domains are case-insensitive, local parts not. */
	if (!a.literal)
		lower_str(a.domain);
	if (addr_format(&a, out, sizeof(out)) < 0)
		return "address too long";
	e->kind = T_ADDRESS;
	e->text = dup_n(out, strlen(out));
	return e->text == NULL ? "out of memory" : NULL;
}

/* A local user name: what addr_parse_path would take as a local part. */
static const char *
classify_name(const char *text, struct entry *e, int noforward)
{
	if (strlen(text) > 255 || !addr_is_dot_string(text))
		return "bad local name";
	e->kind = T_LOCAL;
	e->noforward = noforward;
	if ((e->text = dup_n(text, strlen(text))) == NULL)
		return "out of memory";
	lower_str(e->text);
	return NULL;
}

/*
 * Decide what a target is (see aliases.h).  text is unquoted already.
 * Returns NULL, or what is wrong with it.
 */
static const char *
classify(const char *text, struct entry *e)
{
	const char *s;
	int kind;

	e->noforward = 0;
	e->text = NULL;
	for (s = text; *s != '\0'; s++)
		if ((unsigned char)*s < 32 || *s == 127)
			return "control character in target";
	s = text;
	if (text[0] == '|') {
		kind = T_PIPE;
		for (s++; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '\0')
			return "empty command";
	} else if (ascii_ncasecmp(text, ":include:", 9) == 0) {
		kind = K_INCLUDE;
		for (s += 9; *s == ' ' || *s == '\t'; s++)
			;
		if (*s != '/')
			return "include path is not absolute";
	} else if (text[0] == '/')
		kind = T_FILE;
	else if (text[0] == '\\')
		return classify_name(text + 1, e, 1);
	else if (text[0] == '<' || strchr(text, '@') != NULL)
		return classify_address(text, e);
	else
		return classify_name(text, e, 0);
	e->kind = kind;
	e->text = dup_n(s, strlen(s));
	return e->text == NULL ? "out of memory" : NULL;
}

/* Skip separators and comment lines up to the next target. */
static void
lex_skip(struct lexer *lx)
{
	while (lx->p < lx->end) {
		if (*lx->p == '\n') {
			lx->line++;
			lx->bol = 1;
		} else if (*lx->p == '#' && lx->bol) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		} else if (*lx->p == ',')
			lx->bol = 0;
		else if (*lx->p != ' ' && *lx->p != '\t' && *lx->p != '\r')
			return;
		lx->p++;
	}
}

/*
 * A quoted target at lx->p (on the '"'): the text between the quotes,
 * backslash escapes removed, into a malloc'd *out.  A quote followed by
 * '@' is the local part of an address: then *out is the whole raw
 * token and *raw is set.  Returns NULL or an error message.
 */
static const char *
lex_quoted(struct lexer *lx, char **out, int *raw)
{
	const char *s, *start, *stop;
	char *q;

	start = lx->p;
	for (s = start + 1; s < lx->end && *s != '"' && *s != '\n'; s++)
		if (*s == '\\' && s + 1 < lx->end && s[1] != '\n')
			s++;
	if (s == lx->end || *s != '"')
		return "unterminated quoted string";
	stop = s;
	lx->p = s + 1;
	*raw = lx->p < lx->end && *lx->p == '@';
	while (*raw && lx->p < lx->end && !is_in(*lx->p, ", \t\r\n"))
		lx->p++;
	if ((*out = q = malloc((size_t)(lx->p - start) + 1)) == NULL)
		return "out of memory";
	if (*raw) {
		memcpy(q, start, (size_t)(lx->p - start));
		q[lx->p - start] = '\0';
		return NULL;
	}
	for (s = start + 1; s < stop; s++) {
		if (*s == '\\')
			s++;
		*q++ = *s;
	}
	*q = '\0';
	return NULL;
}

/* An unquoted target: a pipe runs to the next comma, others to a space. */
static const char *
lex_plain(struct lexer *lx, char **out)
{
	const char *start = lx->p;
	const char *stop = *start == '|' ? ",\n" : ", \t\r\n";
	size_t n;

	while (lx->p < lx->end && !is_in(*lx->p, stop))
		lx->p++;
	for (n = (size_t)(lx->p - start); n > 0 &&
	    is_in(start[n - 1], " \t\r"); n--)
		;
	if ((*out = dup_n(start, n)) == NULL)
		return "out of memory";
	return NULL;
}

/*
 * The next target of a list into e.  Returns 1, 0 at the end, or -1
 * after reporting "file:line: message" (the rest of the item is skipped,
 * so the caller may go on to the next one).
 */
static int
lex_next(struct lexer *lx, struct entry *e)
{
	const char *err, *start;
	char *tok;
	int line, raw;

	lex_skip(lx);
	if (lx->p >= lx->end)
		return 0;
	start = lx->p;
	line = lx->line;
	lx->bol = 0;
	raw = 1;
	tok = NULL;
	if (*lx->p == '"')
		err = lex_quoted(lx, &tok, &raw);
	else
		err = lex_plain(lx, &tok);
	/* A NUL would cut the C string: "root\0x" must not become root. */
	if (err == NULL && memchr(start, '\0', (size_t)(lx->p - start)))
		err = "NUL character in target";
	while (err == NULL && lx->p < lx->end && is_in(*lx->p, " \t\r"))
		lx->p++;
	if (err == NULL && lx->p < lx->end && !is_in(*lx->p, ",\n"))
		err = raw ? "missing comma between targets" :
		    "text after a quoted string";
	if (err == NULL)
		err = classify(tok, e);
	if (err != NULL)
		warn("%s:%d: %s: \"%.*s\"", lx->file, line, err, QUOTE_MAX,
		    tok ? tok : "");
	free(tok);
	if (err == NULL)
		return 1;
	while (lx->p < lx->end && !is_in(*lx->p, ",\n"))
		lx->p++;
	return -1;
}

static void
lex_init(struct lexer *lx, const char *text, size_t len, const char *file,
    int line)
{
	lx->p = text;
	lx->end = text + len;
	lx->file = file;
	lx->line = line;
	lx->bol = 1;
}

/*
 * Read path, at most max bytes, into a malloc'd *text.  Returns 0, -1
 * with errno set, or -2 if the file is bigger than max.  O_NONBLOCK and
 * the regular-file check keep a FIFO from stopping the daemon; a file
 * that grows while we read is read as fstat() saw it.
 */
static int
read_file(const char *path, long max, char **text, size_t *len)
{
	struct stat st;
	ssize_t r = 0;
	size_t n, size;
	char *buf;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK)) < 0)
		return -1;
	buf = NULL;
	e = EINVAL;
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (S_ISREG(st.st_mode) && st.st_size > (off_t)max)
		e = 0;
	else if (S_ISREG(st.st_mode)) {
		size = (size_t)st.st_size;
		if ((buf = malloc(size + 1)) == NULL)
			e = ENOMEM;
		for (n = 0; buf != NULL && n < size; n += (size_t)r) {
			if ((r = read(fd, buf + n, size - n)) < 0 &&
			    errno == EINTR)
				r = 0;
			else if (r <= 0)
				break;
		}
		if (buf != NULL && (n == size || r == 0)) {
			close(fd);
			buf[n] = '\0';
			*text = buf;
			*len = n;
			return 0;
		}
		if (buf != NULL)
			e = errno;
	}
	free(buf);
	close(fd);
	errno = e;
	return e == 0 ? -2 : -1;
}

static void
alias_free(struct alias *al)
{
	int i;

	for (i = 0; i < al->n; i++)
		free(al->v[i].text);
	free(al->v);
	free(al->name);
}

void
aliases_free(struct aliases *a)
{
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		alias_free(&a->v[i]);
	free(a->v);
	free(a);
}

static int
entry_add(struct alias *al, const struct entry *e)
{
	struct entry *v;

	v = realloc(al->v, (size_t)(al->n + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	al->v = v;
	al->v[al->n++] = *e;
	return 0;
}

static int
table_grow(struct aliases *t)
{
	struct alias *v;
	int cap;

	if (t->n < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 64;
	if ((v = realloc(t->v, (size_t)cap * sizeof(*v))) == NULL)
		return -1;
	t->v = v;
	t->cap = cap;
	return 0;
}

/*
 * Add alias name (line) whose targets are text[0..len), continuation
 * lines included.  Bad targets are reported, counted and left out, as
 * newaliases does; the others stay.  -1 only when out of memory.
 */
static int
add_alias(struct aliases *t, const char *name, int line, const char *text,
    size_t len, const char *file, int *nerrors)
{
	struct lexer lx;
	struct entry e;
	struct alias al;
	int r, bad;

	memset(&al, 0, sizeof(al));
	al.line = line;
	lex_init(&lx, text, len, file, line);
	bad = 0;
	while ((r = lex_next(&lx, &e)) != 0) {
		if (r < 0)
			bad++;
		else if (entry_add(&al, &e) < 0) {
			free(e.text);
			alias_free(&al);
			return -1;
		}
	}
	*nerrors += bad;
	if (al.n == 0 && bad == 0) {
		warn("%s:%d: alias \"%s\" has no targets", file, line, name);
		(*nerrors)++;
	}
	if (al.n == 0)
		return 0;
	if ((al.name = dup_n(name, strlen(name))) == NULL ||
	    table_grow(t) < 0) {
		alias_free(&al);
		return -1;
	}
	t->v[t->n++] = al;
	return 0;
}

/* An entry being read: its name line and continuation lines so far. */
struct pending {
	char		name[256];
	int		line;
	const char	*rhs;		/* after the colon */
	const char	*rhs_end;
	int		active;
	int		skipping;	/* continuation of a bad line */
};

static int
is_blank(const char *s, size_t n)
{
	while (n > 0 && is_in(s[n - 1], " \t\r"))
		n--;
	return n == 0;
}

/* The "name:" part of a line; sets pe->active, or reports an error. */
static void
start_entry(struct pending *pe, const char *l, size_t n, const char *file,
    int line, int *nerrors)
{
	const char *colon, *s, *e;
	const char *err;

	if ((colon = memchr(l, ':', n)) == NULL)
		err = "missing colon";
	else {
		for (e = colon; e > l && is_in(e[-1], " \t"); e--)
			;
		s = l;
		err = NULL;
		if (e == s)
			err = "empty alias name";
		else if ((size_t)(e - s) >= sizeof(pe->name))
			err = "alias name too long";
		else {
			memcpy(pe->name, s, (size_t)(e - s));
			pe->name[e - s] = '\0';
			if (memchr(s, '\0', (size_t)(e - s)) != NULL ||
			    !addr_is_dot_string(pe->name))
				err = "bad alias name";
		}
	}
	if (err != NULL) {
		warn("%s:%d: %s", file, line, err);
		(*nerrors)++;
		pe->skipping = 1;
		return;
	}
	lower_str(pe->name);
	pe->line = line;
	pe->rhs = colon + 1;
	pe->rhs_end = l + n;
	pe->active = 1;
}

static int
flush_entry(struct aliases *t, struct pending *pe, const char *file,
    int *nerrors)
{
	if (!pe->active)
		return 0;
	pe->active = 0;
	return add_alias(t, pe->name, pe->line, pe->rhs,
	    (size_t)(pe->rhs_end - pe->rhs), file, nerrors);
}

/* One physical line l[0..n) of the file.  -1 when out of memory. */
static int
parse_line(struct aliases *t, struct pending *pe, const char *l, size_t n,
    const char *file, int line, int *nerrors)
{
	if (n > (size_t)ALIAS_LINE_MAX) {
		warn("%s:%d: line too long (over %ld bytes)", file, line,
		    ALIAS_LINE_MAX);
		(*nerrors)++;
		if (flush_entry(t, pe, file, nerrors) < 0)
			return -1;
		pe->skipping = 1;
		return 0;
	}
	/* sendmail: a line starting with space or tab continues an entry */
	if (n > 0 && (l[0] == ' ' || l[0] == '\t')) {
		if (pe->active)
			pe->rhs_end = l + n;
		else if (!pe->skipping && !is_blank(l, n)) {
			warn("%s:%d: continuation line without an alias",
			    file, line);
			(*nerrors)++;
		}
		return 0;
	}
	if (flush_entry(t, pe, file, nerrors) < 0)
		return -1;
	pe->skipping = 0;
	if (is_blank(l, n) || l[0] == '#')
		return 0;
	start_entry(pe, l, n, file, line, nerrors);
	return 0;
}

static int
alias_cmp(const void *x, const void *y)
{
	const struct alias *a = x, *b = y;
	int r;

	if ((r = strcmp(a->name, b->name)) != 0)
		return r;
	return a->line - b->line;
}

/* Sort for bsearch, and drop duplicates: the first entry stays. */
static void
sort_table(struct aliases *t, const char *file, int *nerrors)
{
	int i, j;

	if (t->n == 0)
		return;
	qsort(t->v, (size_t)t->n, sizeof(*t->v), alias_cmp);
	j = 0;
	for (i = 1; i < t->n; i++) {
		if (strcmp(t->v[i].name, t->v[j].name) == 0) {
			warn("%s:%d: duplicate alias \"%s\" (first on line %d)",
			    file, t->v[i].line, t->v[i].name, t->v[j].line);
			(*nerrors)++;
			alias_free(&t->v[i]);
		} else
			t->v[++j] = t->v[i];
	}
	t->n = j + 1;
}

struct aliases *
aliases_parse(const char *text, size_t len, const char *name, int *nerrors)
{
	struct aliases *t;
	struct pending pe;
	const char *p, *nl, *end;
	int line;

	*nerrors = 0;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		warn("%s: out of memory", name);
		return NULL;
	}
	memset(&pe, 0, sizeof(pe));
	end = text + len;
	line = 0;
	for (p = text; p < end; p = nl == NULL ? end : nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (parse_line(t, &pe, p, (size_t)((nl ? nl : end) - p), name,
		    ++line, nerrors) < 0)
			break;
	}
	if (p < end || flush_entry(t, &pe, name, nerrors) < 0) {
		warn("%s: out of memory", name);
		aliases_free(t);
		return NULL;
	}
	sort_table(t, name, nerrors);
	return t;
}

struct aliases *
aliases_load(const char *path, int *nerrors)
{
	struct aliases *t;
	char *text;
	size_t len;
	int r;

	*nerrors = 0;
	if ((r = read_file(path, ALIASES_FILE_MAX, &text, &len)) < 0) {
		if (r == -1 && errno == ENOENT)
			return aliases_parse("", 0, path, nerrors);
		if (r == -2)
			warn("%s: too big (over %ld bytes)", path,
			    ALIASES_FILE_MAX);
		else
			warn("%s: %s", path, strerror(errno));
		return NULL;
	}
	t = aliases_parse(text, len, path, nerrors);
	free(text);
	return t;
}

/* The state of one aliases_expand(). */
struct expander {
	const struct aliases	*a;
	struct targetlist	*out;
	unsigned char		*state;	/* per alias: */
#define ST_NEW		0
#define ST_ON_PATH	1		/* being expanded: met again, a loop */
#define ST_DONE		2		/* expanded: its targets are in out */
	const char		*incl[ALIAS_DEPTH_MAX + 1]; /* on the path */
	int			nincl;
	char			**done;	/* include files expanded */
	int			ndone;
};

static int expand_entry(struct expander *ex, const struct entry *e,
    int depth, const char *origin, int parent);

static int
lookup(const struct aliases *a, const char *name)
{
	int lo, hi, mid, r;

	lo = 0;
	hi = a->n - 1;
	while (lo <= hi) {
		mid = lo + (hi - lo) / 2;
		if ((r = strcmp(name, a->v[mid].name)) == 0)
			return mid;
		if (r < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

static int
add(struct expander *ex, int type, const char *name, int noforward,
    const char *origin)
{
	if (targetlist_add(ex->out, type, name, noforward, origin) == 0)
		return 0;
	if (ex->out->n >= ALIAS_TARGETS_MAX)
		warn("aliases: more than %d targets", ALIAS_TARGETS_MAX);
	else
		warn("aliases: out of memory");
	return -1;
}

/* Expand local name (lowercased) found at nesting depth in alias parent. */
static int
expand_local(struct expander *ex, const char *name, int depth,
    const char *origin, int parent)
{
	const struct alias *al;
	int i, idx, r;

	idx = lookup(ex->a, name);
	/* RFC 5321 4.5.1: postmaster must exist; root reads its mail. */
	if (idx < 0 && strcmp(name, "postmaster") == 0)
		idx = lookup(ex->a, name = "root");
	if (idx < 0)
		return add(ex, T_LOCAL, name, 0, origin);
	al = &ex->a->v[idx];
	if (ex->state[idx] == ST_ON_PATH) {
		/* sendmail: "root: root, admin" means the user root too */
		if (idx == parent)
			return add(ex, T_LOCAL, name, 0, origin);
		warn("aliases: alias loop: \"%.*s\" reached again from "
		    "\"%.*s\"", QUOTE_MAX, name, QUOTE_MAX,
		    parent >= 0 ? ex->a->v[parent].name : "");
		return -1;
	}
	if (ex->state[idx] == ST_DONE)
		return 0;
	if (depth >= ALIAS_DEPTH_MAX) {
		warn("aliases: \"%.*s\": nested more than %d deep", QUOTE_MAX,
		    name, ALIAS_DEPTH_MAX);
		return -1;
	}
	ex->state[idx] = ST_ON_PATH;
	r = 0;
	for (i = 0; i < al->n && r == 0; i++)
		r = expand_entry(ex, &al->v[i], depth + 1, NULL, idx);
	ex->state[idx] = ST_DONE;
	return r;
}

/* Remember that include file path is expanded. */
static int
include_done(struct expander *ex, const char *path)
{
	char **v;

	v = realloc(ex->done, (size_t)(ex->ndone + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	ex->done = v;
	if ((v[ex->ndone] = dup_n(path, strlen(path))) == NULL)
		return -1;
	ex->ndone++;
	return 0;
}

/* The targets of the list in text, from include file path. */
static int
expand_list(struct expander *ex, const char *text, size_t len,
    const char *path, int depth, int parent)
{
	struct lexer lx;
	struct entry e;
	int r, rc;

	lex_init(&lx, text, len, path, 1);
	rc = 0;
	while (rc == 0 && (r = lex_next(&lx, &e)) != 0) {
		if (r < 0)
			return -1;
		rc = expand_entry(ex, &e, depth, path, parent);
		free(e.text);
	}
	return rc;
}

static int
expand_include(struct expander *ex, const char *path, int depth,
    int parent)
{
	char *text;
	size_t len;
	int i, r;

	for (i = 0; i < ex->nincl; i++)
		if (strcmp(ex->incl[i], path) == 0) {
			warn("%s: include loop", path);
			return -1;
		}
	for (i = 0; i < ex->ndone; i++)
		if (strcmp(ex->done[i], path) == 0)
			return 0;
	if (depth >= ALIAS_DEPTH_MAX) {
		warn("%s: included more than %d deep", path, ALIAS_DEPTH_MAX);
		return -1;
	}
	if ((r = read_file(path, ALIAS_INCLUDE_MAX, &text, &len)) < 0) {
		if (r == -2)
			warn("%s: include file too big (over %ld bytes)", path,
			    ALIAS_INCLUDE_MAX);
		else
			warn("%s: cannot read include file: %s", path,
			    strerror(errno));
		return -1;
	}
	ex->incl[ex->nincl++] = path;
	r = expand_list(ex, text, len, path, depth + 1, parent);
	ex->nincl--;
	free(text);
	if (r == 0 && include_done(ex, path) < 0) {
		warn("aliases: out of memory");
		return -1;
	}
	return r;
}

static int
expand_entry(struct expander *ex, const struct entry *e, int depth,
    const char *origin, int parent)
{
	if (e->kind == K_INCLUDE)
		return expand_include(ex, e->text, depth, parent);
	if (e->kind == T_LOCAL && !e->noforward)
		return expand_local(ex, e->text, depth, origin, parent);
	return add(ex, e->kind, e->text, e->noforward, origin);
}

int
aliases_expand(const struct aliases *a, const char *name,
    struct targetlist *out)
{
	static const struct aliases empty;
	struct expander ex;
	char lname[256];
	int i, r;

	if (strlen(name) >= sizeof(lname) || name[0] == '\0') {
		warn("aliases: bad local name \"%.*s\"", QUOTE_MAX, name);
		return -1;
	}
	memcpy(lname, name, strlen(name) + 1);
	lower_str(lname);
	memset(&ex, 0, sizeof(ex));
	ex.a = a != NULL ? a : &empty;
	ex.out = out;
	if ((ex.state = calloc((size_t)ex.a->n + 1, 1)) == NULL) {
		warn("aliases: out of memory");
		return -1;
	}
	r = expand_local(&ex, lname, 0, NULL, -1);
	for (i = 0; i < ex.ndone; i++)
		free(ex.done[i]);
	free(ex.done);
	free(ex.state);
	return r;
}

int
forward_parse(const char *text, size_t len, struct targetlist *out)
{
	struct lexer lx;
	struct entry e;
	int r;

	lex_init(&lx, text, len, ".forward", 1);
	while ((r = lex_next(&lx, &e)) != 0) {
		if (r < 0)
			return -1;
		if (e.kind == K_INCLUDE) {
			/* We would read it with our rights, not the user's. */
			warn(".forward:%d: :include: is not allowed here",
			    lx.line);
			r = -1;
		} else if ((r = targetlist_add(out, e.kind, e.text,
		    e.noforward, NULL)) < 0)
			warn(".forward:%d: too many targets, or out of memory",
			    lx.line);
		free(e.text);
		if (r < 0)
			return -1;
	}
	return 0;
}

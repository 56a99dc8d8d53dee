/*
 * imapparse.c - the IMAP4rev1 command parser (see imapparse.h): the
 * accumulator that follows "line, literal, rest of line" across loop
 * turns, and the tokenizer with its typed getters, sequence sets, dates,
 * flags and FETCH attributes.
 *
 * It must never do I/O or keep session state: imap.c decides what to
 * say, this file only says what the client sent and whether it parses.
 * RFC 3501 9 is followed strictly (one SP between arguments, no SP after
 * "(" or before ")"); the exceptions are commented where they are made.
 */
#include "yubin.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imapparse.h"
#include "log.h"
#include "util.h"

/* Accumulator states. */
#define CB_IDLE		0	/* before a command's first line */
#define CB_LINE		1	/* after a literal: the rest of the line */
#define CB_LITERAL	2	/* octets of a literal */
#define CB_SKIP_LINE	3	/* lines of a refused command */
#define CB_SKIP_LITERAL	4	/* octets of a refused command */
#define CB_DONE		5	/* a complete command */

/* RFC 3501 9: atom-specials are ( ) { SP CTL % * " \ and "]". */
static int
atom_char(int c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("(){%*\"\\]", c) == NULL;
}

static int
astring_char(int c)
{
	return atom_char(c) || c == ']';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static int
tag_char(int c)
{
	return astring_char(c) && c != '+';
}

static int
list_char(int c)
{
	return astring_char(c) || c == '%' || c == '*';
}

static int
digit(int c)
{
	return c >= '0' && c <= '9';
}

/* The length of a valid tag (then SP or the end) opening p, or 0. */
static size_t
tag_len(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && tag_char((unsigned char)p[i]); i++)
		;
	if (i == 0 || i > IMAP_TAG_MAX || (i < len && p[i] != ' '))
		return 0;
	return i;
}

void
imapcb_init(struct imap_cmdbuf *cb)
{
	memset(cb, 0, sizeof(*cb));
	buf_init(&cb->text, IMAP_CMD_MAX);
	cb->state = CB_IDLE;
}

void
imapcb_free(struct imap_cmdbuf *cb)
{
	buf_free(&cb->text);
	free(cb->lit);
	free(cb->arena);
	imapcb_init(cb);
}

void
imapcb_reset(struct imap_cmdbuf *cb)
{
	buf_reset(&cb->text);
	/* What keeps 1,000 idle sessions small after one big command. */
	buf_shrink(&cb->text, 4096);
	if (cb->arenacap > 8192) {
		free(cb->arena);
		cb->arena = NULL;
		cb->arenacap = 0;
	}
	cb->nlit = 0;
	cb->state = CB_IDLE;
	cb->lit_len = cb->lit_left = 0;
	cb->lit_sync = cb->lit_append = 0;
	cb->tag[0] = '\0';
	cb->err = NULL;
}

const char *
imapcb_tag(const struct imap_cmdbuf *cb)
{
	return cb->tag[0] != '\0' ? cb->tag : "*";
}

/*
 * Does the line end with a literal header, "{n}" or "{n+}" (RFC 3501
 * 4.3, RFC 7888 3)?  Returns 0 and sets *hdr, *n, *sync; 1 if there is
 * none; -1 if it is malformed ("{}", "{-1}", "{ 1}", over 32 bits), with
 * *sync telling which form it claimed to be.  Quotes are not tracked: no
 * valid command line ends in "}" otherwise (an atom cannot hold "{",
 * a quoted string ends in DQUOTE), so the last "{" decides.
 */
static int
find_literal(const char *p, size_t len, size_t *hdr, unsigned long *n,
    int *sync)
{
	size_t i, end;

	if (len == 0 || p[len - 1] != '}')
		return 1;
	for (i = len - 1; i > 0 && p[i - 1] != '{'; i--)
		;
	if (i == 0)
		return 1;
	*hdr = i - 1;
	end = len - 1;
	*sync = 1;
	if (end > i && p[end - 1] == '+') {
		*sync = 0;
		end--;
	}
	if (parse_ulong_n(p + i, end - i, IMAP_NUMBER_MAX, n) < 0)
		return -1;
	return 0;
}

/* Refuse the command being gathered; lit_len octets may still come. */
static enum imapcb_res
cb_refuse(struct imap_cmdbuf *cb, const char *err, int discard)
{
	cb->err = err;
	cb->lit_append = 0;
	if (discard && cb->lit_len > 0) {
		cb->lit_left = cb->lit_len;
		cb->state = CB_SKIP_LITERAL;
		return IMAPCB_BAD_DISCARD;
	}
	if (discard) {
		cb->state = CB_SKIP_LINE;
		return IMAPCB_BAD_DISCARD;
	}
	cb->state = CB_IDLE;
	return IMAPCB_BAD;
}

static int
cb_add_literal(struct imap_cmdbuf *cb, size_t hdr, unsigned long n)
{
	struct imap_lit *l;
	size_t ncap;

	if (cb->nlit == cb->litcap) {
		if (cb->litcap >= IMAP_LITERALS_MAX)
			return -1;
		ncap = cb->litcap ? cb->litcap * 2 : 4;
		if ((l = realloc(cb->lit, ncap * sizeof(*l))) == NULL)
			return -1;
		cb->lit = l;
		cb->litcap = ncap;
	}
	l = &cb->lit[cb->nlit++];
	l->hdr = hdr;
	l->data = l->end = buf_used(&cb->text);
	l->len = n;
	l->where = IMAP_LIT_PENDING;
	return 0;
}

static int check_append(struct imap_cmdbuf *);

/*
 * The line ends with a literal of n octets: hold it, or let the caller
 * stream it if it is APPEND's message.  The cap is checked now so that
 * a synchronizing literal is refused before the client sends it.
 */
static enum imapcb_res
cb_literal_header(struct imap_cmdbuf *cb, size_t hdr, unsigned long n)
{
	if (cb_add_literal(cb, hdr, n) < 0)
		return cb_refuse(cb, "Too many literals", !cb->lit_sync);
	cb->lit_append = check_append(cb);
	if (!cb->lit_append) {
		if (n > IMAP_CMD_MAX - buf_used(&cb->text))
			return cb_refuse(cb, "Literal too big",
			    !cb->lit_sync);
		if (buf_reserve(&cb->text, (size_t)n) == NULL)
			return cb_refuse(cb, "Out of memory", !cb->lit_sync);
	}
	cb->lit_left = n;
	cb->state = CB_LITERAL;
	if (n == 0 && !cb->lit_append) {
		/* conn.c delivers no piece for 0 octets: done already. */
		cb->lit[cb->nlit - 1].where = IMAP_LIT_STORED;
		cb->state = CB_LINE;
	}
	return IMAPCB_LITERAL;
}

/* A line of a command already refused: swallow it and its literals. */
static enum imapcb_res
cb_skip_line(struct imap_cmdbuf *cb, const char *line, size_t len)
{
	size_t hdr;
	int r, sync;

	sync = 1;
	r = find_literal(line, len, &hdr, &cb->lit_len, &sync);
	if (r < 0 && !sync) {
		cb->state = CB_IDLE;
		cb->err = "Invalid literal";
		return IMAPCB_BYE;
	}
	/* A synchronizing literal never comes: the client saw our BAD. */
	if (r != 0 || sync || cb->lit_len == 0) {
		cb->state = CB_IDLE;
		return IMAPCB_SKIP;
	}
	cb->lit_left = cb->lit_len;
	cb->state = CB_SKIP_LITERAL;
	return IMAPCB_SKIP_DISCARD;
}

enum imapcb_res
imapcb_line(struct imap_cmdbuf *cb, const char *line, size_t len)
{
	size_t hdr, tl;
	unsigned long n;
	int r, sync;

	if (cb->state == CB_LITERAL || cb->state == CB_SKIP_LITERAL)
		panic("imapcb_line: a literal was expected");
	if (cb->state == CB_SKIP_LINE)
		return cb_skip_line(cb, line, len);
	if (cb->state == CB_IDLE || cb->state == CB_DONE) {
		imapcb_reset(cb);
		if ((tl = tag_len(line, len)) > 0) {
			memcpy(cb->tag, line, tl);
			cb->tag[tl] = '\0';
		}
	}
	n = 0;
	hdr = 0;
	sync = 1;
	r = find_literal(line, len, &hdr, &n, &sync);
	cb->lit_len = r == 0 ? n : 0;
	cb->lit_sync = sync;
	if (r < 0 && !sync) {
		/* Its size is unknown: nothing tells where it ends. */
		cb->state = CB_IDLE;
		cb->err = "Invalid literal";
		return IMAPCB_BYE;
	}
	if (r < 0)
		return cb_refuse(cb, "Invalid literal", 0);
	if (cb->tag[0] == '\0')
		return cb_refuse(cb, "Missing or invalid tag", !sync);
	/* RFC 3501 9 note 3: NUL must not be used, except in literals. */
	if (memchr(line, '\0', len) != NULL)
		return cb_refuse(cb, "NUL character in command", !sync);
	hdr += buf_used(&cb->text);
	if (buf_append(&cb->text, line, len) < 0)
		return cb_refuse(cb, "Command too long", !sync);
	if (r == 1) {
		cb->state = CB_DONE;
		return IMAPCB_COMPLETE;
	}
	return cb_literal_header(cb, hdr, n);
}

unsigned long
imapcb_literal(struct imap_cmdbuf *cb, const char *p, size_t n)
{
	if (cb->state != CB_LITERAL && cb->state != CB_SKIP_LITERAL)
		panic("imapcb_literal: no literal was announced");
	if (cb->state == CB_LITERAL && cb->lit_append)
		panic("imapcb_literal: APPEND's message is the caller's");
	if ((unsigned long)n > cb->lit_left)
		panic("imapcb_literal: %lu octets, %lu expected",
		    (unsigned long)n, cb->lit_left);
	if (cb->state == CB_LITERAL &&
	    buf_append(&cb->text, p, n) < 0)
		panic("imapcb_literal: reserved space is gone");
	cb->lit_left -= (unsigned long)n;
	if (cb->lit_left == 0) {
		if (cb->state == CB_LITERAL) {
			cb->lit[cb->nlit - 1].where = IMAP_LIT_STORED;
			cb->lit[cb->nlit - 1].end = buf_used(&cb->text);
			cb->state = CB_LINE;
		} else
			cb->state = CB_SKIP_LINE;
	}
	return cb->lit_left;
}

int
imapcb_is_append_message(const struct imap_cmdbuf *cb)
{
	return cb->state == CB_LITERAL && cb->lit_append;
}

void
imapcb_literal_taken(struct imap_cmdbuf *cb)
{
	if (!imapcb_is_append_message(cb))
		panic("imapcb_literal_taken: not an APPEND message");
	cb->lit[cb->nlit - 1].where = IMAP_LIT_TAKEN;
	cb->lit_left = 0;
	cb->state = CB_LINE;
}

enum imapcb_res
imapcb_refuse(struct imap_cmdbuf *cb)
{
	if (cb->state != CB_LITERAL)
		panic("imapcb_refuse: no literal was announced");
	return cb_refuse(cb, "Command refused", !cb->lit_sync);
}

/*
 * The tokenizer.  t->pos is where the next argument (or the SP before
 * it, if t->sep) starts.  Strings are copied, NUL-terminated, into the
 * arena, which imap_tok_init() sizes so that it never moves: the copies
 * of one command never exceed its text plus a NUL per token.
 */
static int
tok_fail(struct imap_tok *t, const char *err)
{
	if (t->err == NULL)
		t->err = err;
	return -1;
}

static const char *
arena_put(struct imap_tok *t, const char *p, size_t n)
{
	char *d;

	if (n >= t->cb->arenacap - t->alen) {
		tok_fail(t, "Command too complex");
		return NULL;
	}
	d = t->cb->arena + t->alen;
	memcpy(d, p, n);
	d[n] = '\0';
	t->alen += n + 1;
	return d;
}

/* The literal whose header is at t->pos, if any. */
static const struct imap_lit *
tok_lit_here(const struct imap_tok *t)
{
	const struct imap_cmdbuf *cb = t->cb;

	if (t->nextlit < cb->nlit && cb->lit[t->nextlit].hdr == t->pos)
		return &cb->lit[t->nextlit];
	return NULL;
}

/* RFC 3501 9 note 2: exactly one SP between arguments, none at the end
 * of a list or of the command. */
static int
tok_sep(struct imap_tok *t)
{
	if (t->err != NULL)
		return -1;
	if (!t->sep || t->pos == t->len || t->p[t->pos] == ')')
		return 0;
	if (t->p[t->pos] != ' ')
		return tok_fail(t, "Missing space between arguments");
	t->pos++;
	t->sep = 0;
	if (t->pos == t->len || t->p[t->pos] == ' ' || t->p[t->pos] == ')')
		return tok_fail(t, "Extra space");
	return 0;
}

/* What an unquoted argument is made of, loosely: the getters check. */
static int
run_char(int c)
{
	return c > 0x20 && c < 0x7f && strchr("(){\"", c) == NULL;
}

static enum imap_toktype
tok_class(const struct imap_tok *t)
{
	const struct imap_lit *l;
	size_t i;
	int c, num, seq;

	if (t->pos == t->len)
		return IMAP_T_END;
	switch (t->p[t->pos]) {
	case '(':
		return IMAP_T_LIST_OPEN;
	case ')':
		return IMAP_T_LIST_CLOSE;
	case '"':
		return IMAP_T_QUOTED;
	case '{':
		if ((l = tok_lit_here(t)) == NULL)
			return IMAP_T_BAD;
		return l->where == IMAP_LIT_STORED ? IMAP_T_LITERAL :
		    IMAP_T_STREAM;
	}
	num = seq = 1;
	for (i = t->pos; i < t->len && run_char(c = (unsigned char)t->p[i]);
	    i++) {
		if (!digit(c))
			num = 0;
		if (!digit(c) && c != '*' && c != ':' && c != ',')
			seq = 0;
	}
	if (i == t->pos)
		return IMAP_T_BAD;
	if (num)
		return IMAP_T_NUMBER;
	if (seq)
		return IMAP_T_SEQSET;
	if (i - t->pos == 3 && ascii_ncasecmp(t->p + t->pos, "NIL", 3) == 0)
		return IMAP_T_NIL;
	return IMAP_T_ATOM;
}

enum imap_toktype
imap_peek(struct imap_tok *t)
{
	struct imap_tok save;
	enum imap_toktype ty;

	save = *t;
	ty = tok_sep(t) < 0 ? IMAP_T_BAD : tok_class(t);
	*t = save;
	return ty;
}

int
imap_at_end(struct imap_tok *t)
{
	return imap_peek(t) == IMAP_T_END;
}

int
imap_get_end(struct imap_tok *t)
{
	if (tok_sep(t) < 0)
		return -1;
	if (t->pos < t->len)
		return tok_fail(t, t->p[t->pos] == ')' ? "Unbalanced )" :
		    "Too many arguments");
	if (t->depth != 0)
		return tok_fail(t, "Missing )");
	return 0;
}

int
imap_tok_init(struct imap_tok *t, struct imap_cmdbuf *cb)
{
	size_t need, i, tl;
	char *a;

	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->p = cb->text.data != NULL ? buf_ptr(&cb->text) : "";
	t->len = buf_used(&cb->text);
	need = 2 * t->len + 16;
	if (cb->arenacap < need) {
		if ((a = realloc(cb->arena, need)) == NULL)
			return tok_fail(t, "Out of memory");
		cb->arena = a;
		cb->arenacap = need;
	}
	if ((tl = tag_len(t->p, t->len)) == 0)
		return tok_fail(t, "Missing or invalid tag");
	t->tag = arena_put(t, t->p, tl);
	t->pos = tl + 1;
	for (i = t->pos; i < t->len && atom_char((unsigned char)t->p[i]); i++)
		;
	if (i == t->pos || (i < t->len && t->p[i] != ' '))
		return tok_fail(t, "Missing or invalid command name");
	t->name = arena_put(t, t->p + t->pos, i - t->pos);
	t->pos = i;
	t->sep = 1;
	return 0;
}

/* A run of characters pred accepts, ended by SP, ")" or the end. */
static int
tok_run(struct imap_tok *t, int (*pred)(int), const char *what,
    const char **s, size_t *n)
{
	size_t i;

	if (tok_sep(t) < 0)
		return -1;
	if (t->pos == t->len || t->p[t->pos] == ')')
		return tok_fail(t, "Missing argument");
	for (i = t->pos; i < t->len && pred((unsigned char)t->p[i]); i++)
		;
	if (i == t->pos || (i < t->len && t->p[i] != ' ' && t->p[i] != ')'))
		return tok_fail(t, what);
	*s = t->p + t->pos;
	*n = i - t->pos;
	t->pos = i;
	t->sep = 1;
	return 0;
}

/* A run copied into the arena. */
static int
tok_run_copy(struct imap_tok *t, int (*pred)(int), const char *what,
    const char **s, size_t *n)
{
	const char *p;

	if (tok_run(t, pred, what, &p, n) < 0)
		return -1;
	return (*s = arena_put(t, p, *n)) == NULL ? -1 : 0;
}

int
imap_get_atom(struct imap_tok *t, const char **s)
{
	size_t n;

	return tok_run_copy(t, atom_char, "Invalid atom", s, &n);
}

/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE; only \" and \\ are escapes (RFC
 * 3501 9).  It may not run into a literal's header: the "{" there ends
 * the line the quoted string had to end on.
 */
static int
tok_quoted(struct imap_tok *t, const char **s, size_t *n)
{
	const struct imap_cmdbuf *cb = t->cb;
	size_t i, k, limit;
	char *d;

	limit = t->nextlit < cb->nlit ? cb->lit[t->nextlit].hdr : t->len;
	if (limit - t->pos >= cb->arenacap - t->alen)
		return tok_fail(t, "Command too complex");
	d = cb->arena + t->alen;
	k = 0;
	for (i = t->pos + 1;; i++) {
		if (i >= limit)
			return tok_fail(t, "Unterminated quoted string");
		if (t->p[i] == '"')
			break;
		if (t->p[i] == '\\') {
			i++;
			if (i >= limit || (t->p[i] != '"' && t->p[i] != '\\'))
				return tok_fail(t,
				    "Invalid escape in quoted string");
		}
		d[k++] = t->p[i];
	}
	d[k] = '\0';
	t->alen += k + 1;
	*s = d;
	*n = k;
	t->pos = i + 1;
	t->sep = 1;
	return 0;
}

static int
tok_literal(struct imap_tok *t, const char **s, size_t *n)
{
	const struct imap_lit *l;

	if ((l = tok_lit_here(t)) == NULL)
		return tok_fail(t, "Invalid literal");
	if (l->where != IMAP_LIT_STORED)
		return tok_fail(t, "Unexpected message literal");
	if ((*s = arena_put(t, t->p + l->data, (size_t)l->len)) == NULL)
		return -1;
	*n = (size_t)l->len;
	t->pos = l->end;
	t->nextlit++;
	t->sep = 1;
	return 0;
}

/* string = quoted / literal; NUL only for callers that take a length. */
static int
tok_string(struct imap_tok *t, const char **s, size_t *lenp)
{
	size_t n;
	int r;

	if (tok_sep(t) < 0)
		return -1;
	if (t->pos < t->len && t->p[t->pos] == '"')
		r = tok_quoted(t, s, &n);
	else if (t->pos < t->len && t->p[t->pos] == '{')
		r = tok_literal(t, s, &n);
	else
		return tok_fail(t, "Missing string");
	if (r < 0)
		return -1;
	if (lenp != NULL)
		*lenp = n;
	else if (memchr(*s, '\0', n) != NULL)
		return tok_fail(t, "NUL character in string");
	return 0;
}

int
imap_get_string(struct imap_tok *t, const char **s, size_t *lenp)
{
	return tok_string(t, s, lenp);
}

static int
tok_astring(struct imap_tok *t, int (*pred)(int), const char **s,
    size_t *lenp)
{
	size_t n;

	if (tok_sep(t) < 0)
		return -1;
	if (t->pos < t->len && (t->p[t->pos] == '"' || t->p[t->pos] == '{'))
		return tok_string(t, s, lenp);
	if (tok_run_copy(t, pred, "Invalid atom", s, &n) < 0)
		return -1;
	if (lenp != NULL)
		*lenp = n;
	return 0;
}

int
imap_get_astring(struct imap_tok *t, const char **s, size_t *lenp)
{
	return tok_astring(t, astring_char, s, lenp);
}

int
imap_get_nstring(struct imap_tok *t, const char **s, size_t *lenp)
{
	const char *p;
	size_t n;

	if (imap_peek(t) != IMAP_T_NIL)
		return tok_string(t, s, lenp);
	if (tok_run(t, atom_char, "Invalid atom", &p, &n) < 0)
		return -1;
	*s = NULL;
	if (lenp != NULL)
		*lenp = 0;
	return 0;
}

int
imap_get_mailbox(struct imap_tok *t, const char **s)
{
	if (tok_astring(t, astring_char, s, NULL) < 0)
		return -1;
	if (ascii_casecmp(*s, "INBOX") == 0)
		*s = "INBOX";
	return 0;
}

int
imap_get_list_mailbox(struct imap_tok *t, const char **s)
{
	return tok_astring(t, list_char, s, NULL);
}

static int
tok_number(struct imap_tok *t, int nz, unsigned long *v)
{
	const char *s;
	size_t n;

	if (tok_run(t, digit, "Invalid number", &s, &n) < 0)
		return -1;
	if (parse_ulong_n(s, n, IMAP_NUMBER_MAX, v) < 0)
		return tok_fail(t, "Number out of range");
	/* nz-number = digit-nz *DIGIT */
	if (nz && s[0] == '0')
		return tok_fail(t, "Invalid number");
	return 0;
}

int
imap_get_number(struct imap_tok *t, unsigned long *v)
{
	return tok_number(t, 0, v);
}

int
imap_get_nz_number(struct imap_tok *t, unsigned long *v)
{
	return tok_number(t, 1, v);
}

int
imap_get_list_begin(struct imap_tok *t)
{
	if (tok_sep(t) < 0)
		return -1;
	if (t->pos == t->len || t->p[t->pos] != '(')
		return tok_fail(t, "Missing (");
	if (t->depth >= IMAP_LIST_DEPTH)
		return tok_fail(t, "Lists nested too deeply");
	t->depth++;
	t->pos++;
	t->sep = 0;
	return 0;
}

int
imap_get_list_end(struct imap_tok *t)
{
	if (tok_sep(t) < 0)
		return -1;
	if (t->pos == t->len || t->p[t->pos] != ')')
		return tok_fail(t, "Missing )");
	if (t->depth == 0)
		return tok_fail(t, "Unbalanced )");
	t->depth--;
	t->pos++;
	t->sep = 1;
	return 0;
}

int
imap_get_stream(struct imap_tok *t, unsigned long *size)
{
	const struct imap_lit *l;

	if (tok_sep(t) < 0)
		return -1;
	if ((l = tok_lit_here(t)) == NULL || l->where == IMAP_LIT_STORED)
		return tok_fail(t, "Missing message literal");
	*size = l->len;
	t->pos = l->end;
	t->nextlit++;
	t->sep = 1;
	return 0;
}

int
imap_skip(struct imap_tok *t)
{
	const char *s;
	size_t n;
	unsigned long size;

	switch (imap_peek(t)) {
	case IMAP_T_LIST_OPEN:
		if (imap_get_list_begin(t) < 0)
			return -1;
		while (imap_peek(t) != IMAP_T_LIST_CLOSE)
			if (imap_skip(t) < 0)
				return -1;
		return imap_get_list_end(t);
	case IMAP_T_QUOTED:
	case IMAP_T_LITERAL:
		return tok_string(t, &s, &n);
	case IMAP_T_STREAM:
		return imap_get_stream(t, &size);
	case IMAP_T_END:
	case IMAP_T_LIST_CLOSE:
		return tok_fail(t, "Missing argument");
	default:
		return tok_run(t, run_char, "Invalid argument", &s, &n);
	}
}

/* The rest of the command as it was sent, for commands that parse their
 * own syntax; a literal cannot be part of it. */
int
imap_get_rest(struct imap_tok *t, const char **s, size_t *len)
{
	if (tok_sep(t) < 0)
		return -1;
	if (t->nextlit < t->cb->nlit)
		return tok_fail(t, "Literal not allowed here");
	if ((*s = arena_put(t, t->p + t->pos, t->len - t->pos)) == NULL)
		return -1;
	*len = t->len - t->pos;
	t->pos = t->len;
	t->sep = 1;
	return 0;
}

int
imap_get_flag(struct imap_tok *t, int allow_star, const char **s)
{
	static const char *const sys[] = {
		"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"
	};
	const char *p;
	size_t n, i;

	if (tok_sep(t) < 0)
		return -1;
	if (t->pos + 1 < t->len && t->p[t->pos] == '\\' &&
	    t->p[t->pos + 1] == '*') {
		/* flag-perm = flag / "\*" (RFC 3501 9) */
		if (!allow_star)
			return tok_fail(t, "\\* is not a flag here");
		if (t->pos + 2 < t->len && t->p[t->pos + 2] != ' ' &&
		    t->p[t->pos + 2] != ')')
			return tok_fail(t, "Invalid flag");
		t->pos += 2;
		t->sep = 1;
		*s = "\\*";
		return 0;
	}
	if (t->pos < t->len && t->p[t->pos] == '\\')
		t->pos++;
	else
		return tok_run_copy(t, atom_char, "Invalid flag", s, &n);
	if (tok_run(t, atom_char, "Invalid flag", &p, &n) < 0)
		return -1;
	p--;
	n++;
	for (i = 0; i < NELEM(sys); i++)
		if (strlen(sys[i]) == n && ascii_ncasecmp(sys[i], p, n) == 0) {
			*s = sys[i];
			return 0;
		}
	if (n == 7 && ascii_ncasecmp(p, "\\Recent", 7) == 0)
		return tok_fail(t, "\\Recent cannot be set");
	return (*s = arena_put(t, p, n)) == NULL ? -1 : 0;
}

/*
 * Dates.  Our own calendar arithmetic (days from 1970-01-01 in the
 * proleptic Gregorian calendar) rather than mktime(), which works in
 * the local zone and moves with TZ.
 */
static long
days_from_civil(long y, long m, long d)
{
	long era, yoe, doy;

	y -= m <= 2;
	era = y / 400;			/* y >= 1899: no negative division */
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int
days_in_month(unsigned long y, int m)
{
	static const int dm[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

static int
parse_month(const char *s)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int i;

	for (i = 0; i < 12; i++)
		if (ascii_ncasecmp(s, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/*
 * date-text = date-day "-" date-month "-" date-year at s[*ip], the day
 * of 1 or 2 digits.  Years before 1900 are refused: no mail is that old,
 * and it keeps the arithmetic in range.
 */
static int
parse_dmy(const char *s, size_t len, size_t *ip, long *days)
{
	unsigned long d, y;
	size_t i, nd;
	int m;

	i = *ip;
	for (nd = 0; i + nd < len && nd < 3 && digit(s[i + nd]); nd++)
		;
	if (nd < 1 || nd > 2 || parse_ulong_n(s + i, nd, 31, &d) < 0 ||
	    d == 0)
		return -1;
	i += nd;
	if (len - i < 5 || s[i] != '-' || (m = parse_month(s + i + 1)) == 0 ||
	    s[i + 4] != '-')
		return -1;
	i += 5;
	if (len - i < 4 || parse_ulong_n(s + i, 4, 9999, &y) < 0 || y < 1900)
		return -1;
	if (d > (unsigned long)days_in_month(y, m))
		return -1;
	*days = days_from_civil((long)y, m, (long)d);
	*ip = i + 4;
	return 0;
}

/* days and seconds (of any sign) to time_t, if time_t can hold it. */
static int
make_time(long days, long secs, time_t *out)
{
	while (secs < 0) {
		secs += 86400;
		days--;
	}
	while (secs >= 86400) {
		secs -= 86400;
		days++;
	}
	if ((time_t)-1 > (time_t)0 && days < 0)
		return -1;
	/* A 32-bit time_t ends in January 2038 (and starts in 1901). */
	if (sizeof(time_t) < 8 && (days > 24854L || days < -24855L))
		return -1;
	*out = (time_t)days * 86400 + (time_t)secs;
	return 0;
}

int
imap_parse_date(const char *s, size_t len, time_t *out)
{
	size_t i;
	long days;

	i = 0;
	if (parse_dmy(s, len, &i, &days) < 0 || i != len)
		return -1;
	return make_time(days, 0, out);
}

/*
 * date-time (without its quotes): date-day-fixed is SP DIGIT or 2DIGIT;
 * we also take one bare digit, as some clients send it.  zone is
 * +/-hhmm east of Greenwich: subtracting it gives UTC (RFC 3501 9).
 */
int
imap_parse_date_time(const char *s, size_t len, time_t *out)
{
	unsigned long hh, mm, ss, zh, zm;
	size_t i;
	long days, zone;

	i = 0;
	if (len > 2 && s[0] == ' ') {
		if (!digit(s[1]) || digit(s[2]))
			return -1;
		i = 1;
	}
	if (parse_dmy(s, len, &i, &days) < 0)
		return -1;
	s += i;
	if (len - i != 15 || s[0] != ' ' || s[3] != ':' || s[6] != ':' ||
	    s[9] != ' ' || (s[10] != '+' && s[10] != '-'))
		return -1;
	/* ss may be 60: a leap second, normalised into the next minute. */
	if (parse_ulong_n(s + 1, 2, 23, &hh) < 0 ||
	    parse_ulong_n(s + 4, 2, 59, &mm) < 0 ||
	    parse_ulong_n(s + 7, 2, 60, &ss) < 0 ||
	    parse_ulong_n(s + 11, 2, 23, &zh) < 0 ||
	    parse_ulong_n(s + 13, 2, 59, &zm) < 0)
		return -1;
	zone = (long)(zh * 3600 + zm * 60);
	if (s[10] == '-')
		zone = -zone;
	return make_time(days, (long)(hh * 3600 + mm * 60 + ss) - zone, out);
}

int
imap_get_date(struct imap_tok *t, time_t *out)
{
	const char *s;
	size_t n;

	if (tok_sep(t) < 0)
		return -1;
	if (t->pos < t->len && t->p[t->pos] == '"') {
		if (tok_quoted(t, &s, &n) < 0)
			return -1;
	} else if (tok_run(t, atom_char, "Invalid date", &s, &n) < 0)
		return -1;
	if (imap_parse_date(s, n, out) < 0)
		return tok_fail(t, "Invalid date");
	return 0;
}

int
imap_get_date_time(struct imap_tok *t, time_t *out)
{
	const char *s;
	size_t n;

	if (tok_sep(t) < 0)
		return -1;
	if (t->pos == t->len || t->p[t->pos] != '"')
		return tok_fail(t, "Invalid date-time");
	if (tok_quoted(t, &s, &n) < 0)
		return -1;
	if (imap_parse_date_time(s, n, out) < 0)
		return tok_fail(t, "Invalid date-time");
	return 0;
}

/* Sequence sets. */
static int
seq_char(int c)
{
	return digit(c) || c == '*' || c == ':' || c == ',';
}

/* seq-number = nz-number / "*" */
static int
seq_number(const char *s, size_t n, unsigned long max, unsigned long *v)
{
	if (n == 1 && s[0] == '*') {
		*v = max;
		return 0;
	}
	if (n == 0 || s[0] == '0' ||
	    parse_ulong_n(s, n, IMAP_NUMBER_MAX, v) < 0)
		return -1;
	return 0;
}

/* One seq-number or seq-range; *r.lo > *r.hi means it matches nothing. */
static int
seq_range(const char *s, size_t n, unsigned long max, int uid,
    struct seqrange *r, const char **err)
{
	const char *colon;
	unsigned long a, b;
	int bad;

	colon = memchr(s, ':', n);
	if (colon == NULL) {
		bad = seq_number(s, n, max, &a) < 0;
		b = a;
	} else
		bad = seq_number(s, (size_t)(colon - s), max, &a) < 0 ||
		    seq_number(colon + 1, n - (size_t)(colon - s) - 1, max,
		    &b) < 0;
	if (bad) {
		*err = "Invalid sequence set";
		return -1;
	}
	r->lo = a < b ? a : b;
	r->hi = a < b ? b : a;
	if (uid) {
		/* RFC 3501 6.4.8: UIDs not in use are no error. */
		if (r->lo == 0)
			r->lo = 1;
		if (r->hi > max)
			r->hi = max;
		return 0;
	}
	if (max == 0 || r->hi > max) {
		*err = max == 0 ? "No messages" :
		    "Invalid message sequence number";
		return -1;
	}
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct seqrange *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge overlapping or adjacent ranges (RFC 3501 9 allows). */
static void
seqset_normalise(struct seqset *set)
{
	size_t i, k;

	if (set->n == 0)
		return;
	qsort(set->r, set->n, sizeof(*set->r), range_cmp);
	for (i = 1, k = 0; i < set->n; i++) {
		if (set->r[i].lo - 1 <= set->r[k].hi) {
			if (set->r[i].hi > set->r[k].hi)
				set->r[k].hi = set->r[i].hi;
		} else
			set->r[++k] = set->r[i];
	}
	set->n = k + 1;
}

int
seqset_parse(const char *s, size_t len, unsigned long max, int uid,
    struct seqset *set, const char **err)
{
	size_t i, j, nel;

	set->n = 0;
	for (nel = 1, i = 0; i < len; i++)
		if (s[i] == ',')
			nel++;
	if ((set->r = malloc(nel * sizeof(*set->r))) == NULL) {
		*err = "Out of memory";
		return -1;
	}
	for (i = 0; i <= len; i = j + 1) {
		for (j = i; j < len && s[j] != ','; j++)
			;
		if (seq_range(s + i, j - i, max, uid, &set->r[set->n],
		    err) < 0) {
			seqset_free(set);
			return -1;
		}
		if (set->r[set->n].lo <= set->r[set->n].hi)
			set->n++;
	}
	seqset_normalise(set);
	return 0;
}

int
seqset_contains(const struct seqset *set, unsigned long n)
{
	size_t lo, hi, mid;

	lo = 0;
	hi = set->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (n < set->r[mid].lo)
			hi = mid;
		else if (n > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void
seqset_free(struct seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

int
imap_get_seqset(struct imap_tok *t, unsigned long max, int uid,
    struct seqset *set)
{
	const char *s, *err;
	size_t n;

	set->r = NULL;
	set->n = 0;
	if (tok_run(t, seq_char, "Invalid sequence set", &s, &n) < 0)
		return -1;
	if (seqset_parse(s, n, max, uid, set, &err) < 0)
		return tok_fail(t, err);
	return 0;
}

/*
 * FETCH (RFC 3501 6.4.5, 9): attributes are read character by character,
 * since "BODY[HEADER.FIELDS (From To)]<0.100>" holds spaces and lists.
 */
static int
alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A number at t->pos inside an attribute (no SP before it). */
static int
char_number(struct imap_tok *t, int nz, unsigned long *v)
{
	size_t i;

	for (i = t->pos; i < t->len && digit(t->p[i]); i++)
		;
	if (i == t->pos || (nz && t->p[t->pos] == '0'))
		return tok_fail(t, "Invalid section");
	if (parse_ulong_n(t->p + t->pos, i - t->pos, IMAP_NUMBER_MAX, v) < 0)
		return tok_fail(t, "Number out of range");
	t->pos = i;
	return 0;
}

/* RFC 5322 3.6.8: ftext is printable US-ASCII except ":". */
static int
field_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == ':')
			return 0;
	return 1;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")"; the names
 * land one after another in the arena. */
static int
header_list(struct imap_tok *t, struct imap_section *sec)
{
	const char *s;

	t->sep = 0;
	if (imap_get_list_begin(t) < 0)
		return -1;
	while (imap_peek(t) != IMAP_T_LIST_CLOSE) {
		if (imap_get_astring(t, &s, NULL) < 0)
			return -1;
		if (!field_name_ok(s))
			return tok_fail(t, "Invalid header field name");
		if (sec->nfields++ == 0)
			sec->fields = s;
	}
	if (sec->nfields == 0)
		return tok_fail(t, "Empty header list");
	if (imap_get_list_end(t) < 0)
		return -1;
	t->sep = 0;
	return 0;
}

static int
section_text(struct imap_tok *t, struct imap_section *sec, int mime_ok)
{
	static const struct {
		const char		*name;
		enum imap_sectext	text;
	} texts[] = {
		{ "HEADER", IMAP_SEC_HEADER },
		{ "HEADER.FIELDS", IMAP_SEC_HEADER_FIELDS },
		{ "HEADER.FIELDS.NOT", IMAP_SEC_HEADER_FIELDS_NOT },
		{ "TEXT", IMAP_SEC_TEXT },
		{ "MIME", IMAP_SEC_MIME }
	};
	size_t i, n;

	for (n = 0; t->pos + n < t->len &&
	    (alpha(t->p[t->pos + n]) || t->p[t->pos + n] == '.'); n++)
		;
	for (i = 0; i < NELEM(texts); i++)
		if (strlen(texts[i].name) == n &&
		    ascii_ncasecmp(texts[i].name, t->p + t->pos, n) == 0)
			break;
	if (i == NELEM(texts))
		return tok_fail(t, "Invalid section");
	/* section-text = section-msgtext / "MIME": MIME needs a part. */
	if (texts[i].text == IMAP_SEC_MIME && !mime_ok)
		return tok_fail(t, "MIME needs a part number");
	sec->text = texts[i].text;
	t->pos += n;
	if (sec->text != IMAP_SEC_HEADER_FIELDS &&
	    sec->text != IMAP_SEC_HEADER_FIELDS_NOT)
		return 0;
	if (t->pos == t->len || t->p[t->pos] != ' ')
		return tok_fail(t, "Missing header list");
	t->pos++;
	return header_list(t, sec);
}

/* section-spec = section-msgtext / (section-part ["." section-text]) */
static int
section_spec(struct imap_tok *t, struct imap_section *sec)
{
	if (t->pos < t->len && t->p[t->pos] == ']')
		return 0;
	if (t->pos == t->len || !digit(t->p[t->pos]))
		return section_text(t, sec, 0);
	for (;;) {
		if (sec->npart == IMAP_SECTION_DEPTH)
			return tok_fail(t, "Section nested too deeply");
		if (char_number(t, 1, &sec->part[sec->npart++]) < 0)
			return -1;
		if (t->pos == t->len || t->p[t->pos] != '.')
			return 0;
		t->pos++;
		if (t->pos == t->len || !digit(t->p[t->pos]))
			return section_text(t, sec, 1);
	}
}

/* section ["<" number "." nz-number ">"], at the "[". */
static int
parse_section(struct imap_tok *t, struct imap_section *sec)
{
	t->pos++;
	if (section_spec(t, sec) < 0)
		return -1;
	if (t->pos == t->len || t->p[t->pos] != ']')
		return tok_fail(t, "Invalid section");
	t->pos++;
	if (t->pos == t->len || t->p[t->pos] != '<')
		return 0;
	t->pos++;
	if (char_number(t, 0, &sec->origin) < 0)
		return -1;
	if (t->pos == t->len || t->p[t->pos] != '.')
		return tok_fail(t, "Invalid partial");
	t->pos++;
	if (char_number(t, 1, &sec->count) < 0)
		return -1;
	if (t->pos == t->len || t->p[t->pos] != '>')
		return tok_fail(t, "Invalid partial");
	t->pos++;
	sec->partial = 1;
	return 0;
}

static const struct {
	const char	*name;
	enum imap_fatt	att;
	int		peek;
} fetch_names[] = {
	{ "ENVELOPE", IMAP_F_ENVELOPE, 0 },
	{ "FLAGS", IMAP_F_FLAGS, 0 },
	{ "INTERNALDATE", IMAP_F_INTERNALDATE, 0 },
	{ "RFC822", IMAP_F_RFC822, 0 },
	{ "RFC822.HEADER", IMAP_F_RFC822_HEADER, 0 },
	{ "RFC822.SIZE", IMAP_F_RFC822_SIZE, 0 },
	{ "RFC822.TEXT", IMAP_F_RFC822_TEXT, 0 },
	{ "BODY", IMAP_F_BODY, 0 },
	{ "BODYSTRUCTURE", IMAP_F_BODYSTRUCTURE, 0 },
	{ "UID", IMAP_F_UID, 0 },
	{ "BODY.PEEK", IMAP_F_SECTION, 1 }
};

static int
fetch_one(struct imap_tok *t, struct imap_fetch_att *a)
{
	size_t i, n;

	if (tok_sep(t) < 0)
		return -1;
	for (n = 0; t->pos + n < t->len && (alpha(t->p[t->pos + n]) ||
	    digit(t->p[t->pos + n]) || t->p[t->pos + n] == '.'); n++)
		;
	for (i = 0; i < NELEM(fetch_names); i++)
		if (strlen(fetch_names[i].name) == n &&
		    ascii_ncasecmp(fetch_names[i].name, t->p + t->pos, n) == 0)
			break;
	if (i == NELEM(fetch_names))
		return tok_fail(t, "Unknown fetch attribute");
	memset(a, 0, sizeof(*a));
	a->att = fetch_names[i].att;
	a->peek = fetch_names[i].peek;
	t->pos += n;
	if ((a->att == IMAP_F_BODY || a->peek) && t->pos < t->len &&
	    t->p[t->pos] == '[') {
		a->att = IMAP_F_SECTION;
		if (parse_section(t, &a->sec) < 0)
			return -1;
	} else if (a->peek)
		return tok_fail(t, "BODY.PEEK needs a section");
	if (t->pos < t->len && t->p[t->pos] != ' ' && t->p[t->pos] != ')')
		return tok_fail(t, "Invalid fetch attribute");
	t->sep = 1;
	return 0;
}

/* ALL, FAST, FULL (RFC 3501 6.4.5): 1 if one was read and expanded. */
static int
fetch_macro(struct imap_tok *t, struct imap_fetch_att *v, size_t max,
    size_t *n)
{
	static const enum imap_fatt all[] = { IMAP_F_FLAGS,
	    IMAP_F_INTERNALDATE, IMAP_F_RFC822_SIZE, IMAP_F_ENVELOPE,
	    IMAP_F_BODY };
	static const char *const names[] = { "FAST", "ALL", "FULL" };
	size_t i, k;

	if (tok_sep(t) < 0)
		return -1;
	for (k = 0; t->pos + k < t->len && alpha(t->p[t->pos + k]); k++)
		;
	if (t->pos + k < t->len && t->p[t->pos + k] != ' ')
		return 0;
	for (i = 0; i < NELEM(names); i++)
		if (k == strlen(names[i]) &&
		    ascii_ncasecmp(names[i], t->p + t->pos, k) == 0)
			break;
	if (i == NELEM(names))
		return 0;
	if (max < i + 3)
		return tok_fail(t, "Too many fetch attributes");
	for (*n = 0; *n < i + 3; (*n)++) {
		memset(&v[*n], 0, sizeof(v[*n]));
		v[*n].att = all[*n];
	}
	t->pos += k;
	t->sep = 1;
	return 1;
}

int
imap_get_fetch_atts(struct imap_tok *t, struct imap_fetch_att *v,
    size_t max, size_t *n)
{
	int r;

	*n = 0;
	if (imap_peek(t) != IMAP_T_LIST_OPEN) {
		if ((r = fetch_macro(t, v, max, n)) != 0)
			return r < 0 ? -1 : 0;
		if (max == 0)
			return tok_fail(t, "Too many fetch attributes");
		if (fetch_one(t, &v[0]) < 0)
			return -1;
		*n = 1;
		return 0;
	}
	if (imap_get_list_begin(t) < 0)
		return -1;
	do {
		if (*n == max)
			return tok_fail(t, "Too many fetch attributes");
		if (fetch_one(t, &v[*n]) < 0)
			return -1;
		(*n)++;
	} while (imap_peek(t) != IMAP_T_LIST_CLOSE);
	return imap_get_list_end(t);
}

/* A bounded writer for imap_section_format(). */
struct fmt {
	char	*p;
	size_t	cap, len;
	int	err;
};

static void
fmt_put(struct fmt *f, const char *s, size_t n)
{
	if (f->err || n >= f->cap - f->len) {
		f->err = 1;
		return;
	}
	memcpy(f->p + f->len, s, n);
	f->len += n;
	f->p[f->len] = '\0';
}

/* A header name as an atom when it can be, else quoted. */
static void
fmt_astring(struct fmt *f, const char *s)
{
	const char *q;

	for (q = s; *q != '\0' && astring_char((unsigned char)*q); q++)
		;
	if (*q == '\0' && q != s) {
		fmt_put(f, s, strlen(s));
		return;
	}
	fmt_put(f, "\"", 1);
	for (q = s; *q != '\0'; q++) {
		if (*q == '"' || *q == '\\')
			fmt_put(f, "\\", 1);
		fmt_put(f, q, 1);
	}
	fmt_put(f, "\"", 1);
}

int
imap_section_format(const struct imap_section *sec, char *out,
    size_t outlen)
{
	static const char *const names[] = { "", "HEADER", "HEADER.FIELDS",
	    "HEADER.FIELDS.NOT", "TEXT", "MIME" };
	struct fmt f;
	char num[32];
	const char *s;
	size_t k;
	int i, r;

	if (outlen == 0)
		return -1;
	f.p = out;
	f.cap = outlen;
	f.len = 0;
	f.err = 0;
	out[0] = '\0';
	for (i = 0; i < sec->npart; i++) {
		r = snprintf(num, sizeof(num), "%s%lu", i > 0 ? "." : "",
		    sec->part[i]);
		if (r < 0 || (size_t)r >= sizeof(num))
			return -1;
		fmt_put(&f, num, (size_t)r);
	}
	if (sec->text != IMAP_SEC_ALL && sec->npart > 0)
		fmt_put(&f, ".", 1);
	fmt_put(&f, names[sec->text], strlen(names[sec->text]));
	if (sec->nfields > 0)
		fmt_put(&f, " (", 2);
	for (k = 0, s = sec->fields; k < sec->nfields; k++) {
		if (k > 0)
			fmt_put(&f, " ", 1);
		fmt_astring(&f, s);
		s += strlen(s) + 1;
	}
	if (sec->nfields > 0)
		fmt_put(&f, ")", 1);
	return f.err ? -1 : 0;
}

static int
base64_char(int c)
{
	return alpha(c) || digit(c) || c == '+' || c == '/' || c == '=';
}

/*
 * RFC 4959 7: AUTHENTICATE auth-type [SP (base64 / "=")].  "=" is an
 * empty initial response, absence means none; padding is checked here,
 * the decoding is the caller's.
 */
int
imap_get_sasl_ir(struct imap_tok *t, const char **s, size_t *len)
{
	const char *p, *eq;
	size_t n;

	*s = NULL;
	*len = 0;
	if (imap_peek(t) == IMAP_T_END)
		return 0;
	if (tok_run(t, base64_char, "Invalid initial response", &p, &n) < 0)
		return -1;
	if (n == 1 && p[0] == '=')
		n = 0;
	else if (n % 4 != 0 || ((eq = memchr(p, '=', n)) != NULL &&
	    (eq < p + n - 2 || p[n - 1] != '=')))
		return tok_fail(t, "Invalid initial response");
	if ((*s = arena_put(t, p, n)) == NULL)
		return -1;
	*len = n;
	return 0;
}

/*
 * Is the literal just announced APPEND's message?  append = "APPEND" SP
 * mailbox [SP flag-list] [SP date-time] SP literal (RFC 3501 9).  Only
 * the shape is checked here; the caller validates flags and date.  A
 * second message (MULTIAPPEND, RFC 3502) is not recognised.
 */
static int
check_append(struct imap_cmdbuf *cb)
{
	struct imap_tok t;
	const char *s;

	if (imap_tok_init(&t, cb) < 0 || ascii_casecmp(t.name, "APPEND") != 0)
		return 0;
	if (imap_get_mailbox(&t, &s) < 0)
		return 0;
	if (imap_peek(&t) == IMAP_T_LIST_OPEN && imap_skip(&t) < 0)
		return 0;
	if (imap_peek(&t) == IMAP_T_QUOTED && imap_skip(&t) < 0)
		return 0;
	return imap_peek(&t) == IMAP_T_STREAM && t.nextlit == cb->nlit - 1;
}

/* test_imapparse.c - unit tests of src/imapparse.c: the command
 * accumulator (lines, literals, LITERAL+, caps, APPEND), the tokenizer
 * and its getters, sequence sets, dates, flags, FETCH and SASL-IR. */
#include "yubin.h"

#include <string.h>
#include <time.h>

#include "check.h"
#include "imapparse.h"

static struct imap_cmdbuf cb;

/*
 * Play a client's input as conn.c would deliver it: lines without CRLF,
 * literal octets in pieces of at most chunk bytes.  APPEND's message is
 * counted and taken, as imap.c will stream it.  Stops at the first
 * outcome that ends the command (or at the end of the input) and
 * returns it; *lits counts IMAPCB_LITERAL outcomes.
 */
static enum imapcb_res
play(const char *in, size_t inlen, size_t chunk, int *lits)
{
	enum imapcb_res r;
	const char *end, *nl;
	size_t n, k;

	end = in + inlen;
	*lits = 0;
	r = IMAPCB_SKIP;
	while (in < end) {
		nl = memchr(in, '\n', (size_t)(end - in));
		n = nl != NULL ? (size_t)(nl - in) : (size_t)(end - in);
		r = imapcb_line(&cb, in, n > 0 && in[n - 1] == '\r' ? n - 1 :
		    n);
		in += nl != NULL ? n + 1 : n;
		if (r == IMAPCB_COMPLETE || r == IMAPCB_BAD ||
		    r == IMAPCB_BYE || r == IMAPCB_SKIP)
			return r;
		if (r == IMAPCB_LITERAL)
			(*lits)++;
		if ((unsigned long)(end - in) < cb.lit_len)
			return r;	/* the input ends inside the literal */
		if (r == IMAPCB_LITERAL && imapcb_is_append_message(&cb)) {
			in += cb.lit_len;
			imapcb_literal_taken(&cb);
			continue;
		}
		for (n = cb.lit_len; n > 0; n -= k) {
			k = n < chunk ? n : chunk;
			imapcb_literal(&cb, in, k);
			in += k;
		}
	}
	return r;
}

#define PLAY(s, chunk, lits)	play((s), sizeof(s) - 1, (chunk), (lits))

/* A one-line command, ready to be read. */
static int
line(struct imap_tok *t, const char *s)
{
	if (imapcb_line(&cb, s, strlen(s)) != IMAPCB_COMPLETE)
		return -1;
	return imap_tok_init(t, &cb);
}

static int
erris(const struct imap_tok *t, const char *want)
{
	return t->err != NULL && strcmp(t->err, want) == 0;
}

static void
test_tags(void)
{
	static const char *const bad[] = {
		"+A NOOP", "A+ NOOP", "* NOOP", "A* NOOP", "A% NOOP",
		"(A NOOP", "A\" NOOP", "A\\ NOOP", "{A NOOP", " A1 NOOP",
		"", "A\001 NOOP", "A\x80 NOOP", "A{1} NOOP"
	};
	struct imap_tok t;
	char tag[80];
	size_t i;

	CHECK(line(&t, "A1 NOOP") == 0 && strcmp(t.tag, "A1") == 0 &&
	    strcmp(t.name, "NOOP") == 0 && imap_at_end(&t));
	CHECK(strcmp(imapcb_tag(&cb), "A1") == 0);
	CHECK(line(&t, "a.b-c]_!#$&'0 capability") == 0 &&
	    strcmp(t.tag, "a.b-c]_!#$&'0") == 0 &&
	    strcmp(t.name, "capability") == 0);
	for (i = 0; i < NELEM(bad); i++) {
		CHECK(imapcb_line(&cb, bad[i], strlen(bad[i])) == IMAPCB_BAD);
		CHECK(strcmp(imapcb_tag(&cb), "*") == 0);
		CHECK(strcmp(cb.err, "Missing or invalid tag") == 0);
	}
	memset(tag, 'T', IMAP_TAG_MAX);
	strcpy(tag + IMAP_TAG_MAX, " NOOP");
	CHECK(line(&t, tag) == 0 && strlen(t.tag) == IMAP_TAG_MAX);
	memset(tag, 'T', IMAP_TAG_MAX + 1);
	strcpy(tag + IMAP_TAG_MAX + 1, " NOOP");
	CHECK(imapcb_line(&cb, tag, strlen(tag)) == IMAPCB_BAD);
	/* A tag without a command: the tag is known, the name is not. */
	CHECK(line(&t, "A1") < 0 &&
	    erris(&t, "Missing or invalid command name"));
	CHECK(strcmp(imapcb_tag(&cb), "A1") == 0);
	CHECK(line(&t, "A1  NOOP") < 0);
	CHECK(line(&t, "A1 NO(OP") < 0);
	CHECK(line(&t, "A1 NOOP ") < 0 || imap_get_end(&t) < 0);
	CHECK(line(&t, "A1 UID FETCH") == 0 && strcmp(t.name, "UID") == 0);
}

static void
test_quoted(void)
{
	struct imap_tok t;
	const char *s;
	size_t n;

	CHECK(line(&t, "A1 LOGIN \"fr\\\"ed\" \"a\\\\b\"") == 0);
	CHECK(imap_peek(&t) == IMAP_T_QUOTED);
	CHECK(imap_get_astring(&t, &s, NULL) == 0 && strcmp(s, "fr\"ed") == 0);
	CHECK(imap_get_astring(&t, &s, &n) == 0 && strcmp(s, "a\\b") == 0 &&
	    n == 3);
	CHECK(imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 X \"a\\nb\"") == 0);
	CHECK(imap_get_string(&t, &s, NULL) < 0 &&
	    erris(&t, "Invalid escape in quoted string"));
	CHECK(line(&t, "A1 X \"ab\\\"") == 0);
	CHECK(imap_get_string(&t, &s, NULL) < 0 &&
	    erris(&t, "Unterminated quoted string"));
	CHECK(line(&t, "A1 X \"abc") == 0 && imap_get_string(&t, &s, NULL) < 0);
	CHECK(line(&t, "A1 X \"\"") == 0 &&
	    imap_get_string(&t, &s, &n) == 0 && n == 0 && *s == '\0');
	/* Lenient: 8-bit in quoted strings (UTF-8 names), not in atoms. */
	CHECK(line(&t, "A1 SELECT \"caf\xc3\xa9\"") == 0 &&
	    imap_get_mailbox(&t, &s) == 0 && strcmp(s, "caf\xc3\xa9") == 0);
	CHECK(line(&t, "A1 SELECT caf\xc3\xa9") == 0 &&
	    imap_get_mailbox(&t, &s) < 0);
	CHECK(line(&t, "A1 X \"a\"b") == 0 &&
	    imap_get_string(&t, &s, NULL) == 0 && imap_get_end(&t) < 0 &&
	    erris(&t, "Missing space between arguments"));
	CHECK(line(&t, "A1 X \"a\tb\"") == 0 &&
	    imap_get_string(&t, &s, NULL) == 0 && strcmp(s, "a\tb") == 0);
	CHECK(line(&t, "A1 X atom") == 0 && imap_get_string(&t, &s, NULL) < 0 &&
	    erris(&t, "Missing string"));
}

static void
test_atoms(void)
{
	struct imap_tok t;
	const char *s;
	size_t n;

	CHECK(line(&t, "A1 X a]b") == 0 &&
	    imap_get_astring(&t, &s, NULL) == 0 &&
	    strcmp(s, "a]b") == 0);
	CHECK(line(&t, "A1 X a]b") == 0 && imap_get_atom(&t, &s) < 0);
	CHECK(line(&t, "A1 X abc%") == 0 && imap_get_atom(&t, &s) < 0 &&
	    erris(&t, "Invalid atom"));
	CHECK(line(&t, "A1 X abc*") == 0 && imap_get_astring(&t, &s, NULL) < 0);
	CHECK(line(&t, "A1 LIST \"\" %/a*") == 0 &&
	    imap_get_mailbox(&t, &s) == 0 && *s == '\0' &&
	    imap_get_list_mailbox(&t, &s) == 0 && strcmp(s, "%/a*") == 0 &&
	    imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 SELECT iNbOx") == 0 &&
	    imap_get_mailbox(&t, &s) == 0 && strcmp(s, "INBOX") == 0);
	CHECK(line(&t, "A1 SELECT \"inbox\"") == 0 &&
	    imap_get_mailbox(&t, &s) == 0 && strcmp(s, "INBOX") == 0);
	CHECK(line(&t, "A1 SELECT inbox.sub") == 0 &&
	    imap_get_mailbox(&t, &s) == 0 && strcmp(s, "inbox.sub") == 0);
	CHECK(line(&t, "A1 X NIL nil \"x\" NIL") == 0);
	CHECK(imap_peek(&t) == IMAP_T_NIL);
	CHECK(imap_get_nstring(&t, &s, &n) == 0 && s == NULL && n == 0);
	CHECK(imap_get_nstring(&t, &s, NULL) == 0 && s == NULL);
	CHECK(imap_get_nstring(&t, &s, NULL) == 0 && strcmp(s, "x") == 0);
	CHECK(imap_get_astring(&t, &s, NULL) == 0 && strcmp(s, "NIL") == 0);
	CHECK(imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 X a b") == 0 && imap_get_atom(&t, &s) == 0 &&
	    imap_get_end(&t) < 0 && erris(&t, "Too many arguments"));
	CHECK(line(&t, "A1 X a  b") == 0 && imap_get_atom(&t, &s) == 0 &&
	    imap_get_atom(&t, &s) < 0 && erris(&t, "Extra space"));
	CHECK(line(&t, "A1 X a") == 0 && imap_get_atom(&t, &s) == 0 &&
	    imap_get_atom(&t, &s) < 0 && erris(&t, "Missing argument"));
	/* Errors stick. */
	CHECK(imap_get_end(&t) < 0 && imap_peek(&t) == IMAP_T_BAD &&
	    erris(&t, "Missing argument"));
	CHECK(line(&t, "A1 X 12 1:2 a1 ( ) {") == 0);
	CHECK(imap_peek(&t) == IMAP_T_NUMBER && imap_skip(&t) == 0);
	CHECK(imap_peek(&t) == IMAP_T_SEQSET && imap_skip(&t) == 0);
	CHECK(imap_peek(&t) == IMAP_T_ATOM && imap_skip(&t) == 0);
	CHECK(imap_peek(&t) == IMAP_T_LIST_OPEN);
	CHECK(imap_get_list_begin(&t) == 0 && imap_peek(&t) == IMAP_T_BAD);
}

static void
test_rest(void)
{
	struct imap_tok t;
	const char *s;
	size_t n;

	CHECK(line(&t, "A1 XFOO any (thing \"at\" all") == 0 &&
	    imap_get_rest(&t, &s, &n) == 0 &&
	    strcmp(s, "any (thing \"at\" all") == 0 && n == 19 &&
	    imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 XFOO") == 0 && imap_get_rest(&t, &s, &n) == 0 &&
	    n == 0 && *s == '\0');
	CHECK(line(&t, "A1 XFOO a") == 0 && imap_get_atom(&t, &s) == 0 &&
	    imap_get_rest(&t, &s, &n) == 0 && n == 0);
	CHECK(line(&t, "A1 XFOO a b") == 0 && imap_get_atom(&t, &s) == 0 &&
	    imap_get_rest(&t, &s, &n) == 0 && strcmp(s, "b") == 0);
}

static void
test_numbers(void)
{
	struct imap_tok t;
	unsigned long v;

	CHECK(line(&t, "A1 X 0 4294967295 01 4294967296") == 0);
	CHECK(imap_get_number(&t, &v) == 0 && v == 0);
	CHECK(imap_get_nz_number(&t, &v) == 0 && v == 4294967295UL);
	CHECK(imap_get_number(&t, &v) == 0 && v == 1);
	CHECK(imap_get_number(&t, &v) < 0 && erris(&t, "Number out of range"));
	CHECK(line(&t, "A1 X 0") == 0 && imap_get_nz_number(&t, &v) < 0);
	CHECK(line(&t, "A1 X 01") == 0 && imap_get_nz_number(&t, &v) < 0);
	CHECK(line(&t, "A1 X -1") == 0 && imap_get_number(&t, &v) < 0);
	CHECK(line(&t, "A1 X +1") == 0 && imap_get_number(&t, &v) < 0);
	CHECK(line(&t, "A1 X 1a") == 0 && imap_get_number(&t, &v) < 0);
	CHECK(line(&t, "A1 X 99999999999999999999999") == 0 &&
	    imap_get_number(&t, &v) < 0);
	CHECK(line(&t, "A1 X \"1\"") == 0 && imap_get_number(&t, &v) < 0);
	CHECK(line(&t, "A1 X 7)") == 0 && imap_get_number(&t, &v) == 0 &&
	    v == 7 && imap_get_end(&t) < 0 && erris(&t, "Unbalanced )"));
}

/* (((...))) n deep, then the end. */
static void
nest(char *buf, int n)
{
	int i;

	strcpy(buf, "A1 X ");
	for (i = 0; i < n; i++)
		strcat(buf, "(");
	strcat(buf, "a");
	for (i = 0; i < n; i++)
		strcat(buf, ")");
}

static void
test_lists(void)
{
	struct imap_tok t;
	const char *s;
	char buf[200];
	int i, ok;

	nest(buf, IMAP_LIST_DEPTH);
	CHECK(line(&t, buf) == 0 && imap_skip(&t) == 0 &&
	    imap_get_end(&t) == 0);
	nest(buf, IMAP_LIST_DEPTH + 1);
	CHECK(line(&t, buf) == 0 && imap_skip(&t) < 0 &&
	    erris(&t, "Lists nested too deeply"));
	nest(buf, IMAP_LIST_DEPTH);
	CHECK(line(&t, buf) == 0);
	for (i = 0, ok = 1; i < IMAP_LIST_DEPTH; i++)
		ok &= imap_get_list_begin(&t) == 0;
	CHECK(ok && imap_get_atom(&t, &s) == 0 && strcmp(s, "a") == 0);
	for (i = 0, ok = 1; i < IMAP_LIST_DEPTH; i++)
		ok &= imap_get_list_end(&t) == 0;
	CHECK(ok && imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 X () (a b) x") == 0);
	CHECK(imap_get_list_begin(&t) == 0 &&
	    imap_peek(&t) == IMAP_T_LIST_CLOSE && imap_get_list_end(&t) == 0);
	CHECK(imap_get_list_begin(&t) == 0 && imap_get_atom(&t, &s) == 0 &&
	    imap_peek(&t) == IMAP_T_ATOM && imap_get_atom(&t, &s) == 0 &&
	    imap_get_list_end(&t) == 0 && imap_get_atom(&t, &s) == 0 &&
	    strcmp(s, "x") == 0 && imap_at_end(&t));
	CHECK(line(&t, "A1 X (a )") == 0 && imap_skip(&t) < 0);
	CHECK(line(&t, "A1 X ( a)") == 0 && imap_skip(&t) < 0);
	CHECK(line(&t, "A1 X (a") == 0 && imap_skip(&t) < 0);
	CHECK(line(&t, "A1 X (a") == 0 && imap_get_list_begin(&t) == 0 &&
	    imap_get_atom(&t, &s) == 0 && imap_get_end(&t) < 0 &&
	    erris(&t, "Missing )"));
	CHECK(line(&t, "A1 X a)") == 0 && imap_get_atom(&t, &s) == 0 &&
	    imap_get_list_end(&t) < 0 && erris(&t, "Unbalanced )"));
	CHECK(line(&t, "A1 X (a)(b)") == 0 && imap_skip(&t) == 0 &&
	    imap_skip(&t) < 0);
}

static void
test_literals(void)
{
	static const char in[] = "A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\n"
	    "fat man\r\n";
	static const char plus[] = "A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\n"
	    "fat man\r\n";
	struct imap_tok t;
	const char *s;
	size_t chunk, n;
	int lits;

	for (chunk = 1; chunk <= 20; chunk += 19) {
		CHECK(PLAY(in, chunk, &lits) == IMAPCB_COMPLETE && lits == 2);
		CHECK(imap_tok_init(&t, &cb) == 0 &&
		    strcmp(t.name, "LOGIN") == 0);
		CHECK(imap_peek(&t) == IMAP_T_LITERAL);
		CHECK(imap_get_astring(&t, &s, &n) == 0 &&
		    strcmp(s, "FRED FOOBAR") == 0 && n == 11);
		CHECK(imap_get_astring(&t, &s, NULL) == 0 &&
		    strcmp(s, "fat man") == 0 && imap_get_end(&t) == 0);
		CHECK(PLAY(plus, chunk, &lits) == IMAPCB_COMPLETE && lits == 2);
		CHECK(imap_tok_init(&t, &cb) == 0 &&
		    imap_get_astring(&t, &s, NULL) == 0 &&
		    strcmp(s, "FRED FOOBAR") == 0 &&
		    imap_get_string(&t, &s, NULL) == 0 &&
		    strcmp(s, "fat man") == 0 && imap_get_end(&t) == 0);
	}
}

static void
test_literal_steps(void)
{
	struct imap_tok t;
	const char *s;
	size_t n;
	int lits;

	/* The first announcement, and what the caller must do. */
	CHECK(imapcb_line(&cb, "A1 LOGIN {3}", 12) == IMAPCB_LITERAL &&
	    cb.lit_len == 3 && cb.lit_sync && !imapcb_is_append_message(&cb));
	CHECK(imapcb_literal(&cb, "a", 1) == 2 &&
	    imapcb_literal(&cb, "bc", 2) == 0);
	CHECK(imapcb_line(&cb, " {2+}", 5) == IMAPCB_LITERAL &&
	    cb.lit_len == 2 && !cb.lit_sync);
	CHECK(imapcb_literal(&cb, "de", 2) == 0);
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE);
	CHECK(imap_tok_init(&t, &cb) == 0 &&
	    imap_get_astring(&t, &s, NULL) == 0 && strcmp(s, "abc") == 0 &&
	    imap_get_astring(&t, &s, NULL) == 0 && strcmp(s, "de") == 0 &&
	    imap_get_end(&t) == 0);
	/* A literal that looks like syntax is only data. */
	CHECK(PLAY("A1 LOGIN {7}\r\n\"a\" ({)\r\n", 3, &lits) ==
	    IMAPCB_COMPLETE && imap_tok_init(&t, &cb) == 0 &&
	    imap_get_astring(&t, &s, NULL) == 0 &&
	    strcmp(s, "\"a\" ({)") == 0 && imap_at_end(&t));
	/* Empty literals: nothing to read, the line goes on at once. */
	CHECK(imapcb_line(&cb, "A1 LOGIN {0}", 12) == IMAPCB_LITERAL &&
	    cb.lit_len == 0);
	CHECK(imapcb_line(&cb, " {0+}", 5) == IMAPCB_LITERAL);
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE);
	CHECK(imap_tok_init(&t, &cb) == 0 &&
	    imap_get_string(&t, &s, &n) == 0 && n == 0 &&
	    imap_get_astring(&t, &s, &n) == 0 && n == 0 &&
	    imap_get_end(&t) == 0);
	/* Literals in lists, and a quoted string cannot run into one. */
	CHECK(PLAY("A1 X ({1}\r\na {1+}\r\nb)\r\n", 1, &lits) ==
	    IMAPCB_COMPLETE && lits == 2);
	CHECK(imap_tok_init(&t, &cb) == 0 && imap_skip(&t) == 0 &&
	    imap_get_end(&t) == 0);
	CHECK(PLAY("A1 X \"ab {1}\r\n\"\r\n", 1, &lits) == IMAPCB_COMPLETE &&
	    imap_tok_init(&t, &cb) == 0 &&
	    imap_get_string(&t, &s, NULL) < 0 &&
	    erris(&t, "Unterminated quoted string"));
	CHECK(PLAY("A1 X {1}\r\nab\r\n", 1, &lits) == IMAPCB_COMPLETE &&
	    imap_tok_init(&t, &cb) == 0 &&
	    imap_get_string(&t, &s, NULL) == 0 && strcmp(s, "a") == 0 &&
	    imap_get_end(&t) < 0);
	/* A "{" not at a line's end is no literal. */
	CHECK(line(&t, "A1 X {1} a") == 0 && imap_peek(&t) == IMAP_T_BAD &&
	    imap_get_string(&t, &s, NULL) < 0);
}

static void
test_literal_nul(void)
{
	struct imap_tok t;
	const char *s;
	size_t n;
	int lits;

	/* RFC 3501 9 note 3: NUL is refused in lines... */
	CHECK(imapcb_line(&cb, "A1 LOGIN a\0b c", 14) == IMAPCB_BAD &&
	    strcmp(cb.err, "NUL character in command") == 0 &&
	    strcmp(imapcb_tag(&cb), "A1") == 0);
	CHECK(imapcb_line(&cb, "A1 LOGIN a\0 {5}", 15) == IMAPCB_BAD);
	CHECK(imapcb_line(&cb, "A1 LOGIN a\0 {5+}", 16) ==
	    IMAPCB_BAD_DISCARD && cb.lit_len == 5);
	CHECK(imapcb_literal(&cb, "\0\0\0\0\0", 5) == 0);
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_SKIP);
	/* ...and held in literals, but only given to who takes a length. */
	CHECK(PLAY("A1 X {3}\r\na\0b {3}\r\na\0b\r\n", 2, &lits) ==
	    IMAPCB_COMPLETE && lits == 2);
	CHECK(imap_tok_init(&t, &cb) == 0 &&
	    imap_get_astring(&t, &s, &n) == 0 && n == 3 &&
	    memcmp(s, "a\0b", 3) == 0);
	CHECK(imap_get_astring(&t, &s, NULL) < 0 &&
	    erris(&t, "NUL character in string"));
}

static void
test_literal_syntax(void)
{
	static const char *const bad[] = {
		"A1 X {}", "A1 X {-1}", "A1 X { 1}", "A1 X {1 }",
		"A1 X {4294967296}", "A1 X {1a}",
		"A1 X {+1}", "A1 X {99999999999999999999}", "A1 X {0x10}"
	};
	static const char *const badplus[] = {
		"A1 X {-1+}", "A1 X {+}", "A1 X {4294967296+}", "A1 X { 1+}",
		"A1 X {1++}"
	};
	size_t i;

	for (i = 0; i < NELEM(bad); i++)
		CHECK(imapcb_line(&cb, bad[i], strlen(bad[i])) == IMAPCB_BAD &&
		    strcmp(cb.err, "Invalid literal") == 0);
	/* Unknown size, no "+" to wait for: the stream is lost. */
	for (i = 0; i < NELEM(badplus); i++)
		CHECK(imapcb_line(&cb, badplus[i], strlen(badplus[i])) ==
		    IMAPCB_BYE && strcmp(cb.err, "Invalid literal") == 0);
	/* Not literals at all: the tokenizer refuses them. */
	CHECK(imapcb_line(&cb, "A1 X }", 6) == IMAPCB_COMPLETE);
	CHECK(imapcb_line(&cb, "A1 X \"{5}\"", 10) == IMAPCB_COMPLETE);
	CHECK(imapcb_line(&cb, "A1 X {4294967295}", 17) == IMAPCB_BAD &&
	    strcmp(cb.err, "Literal too big") == 0);
}

static void
test_literal_cap(void)
{
	static char big[IMAP_CMD_MAX + 16];
	char hdr[64];
	struct imap_tok t;
	unsigned long left;
	int lits;

	/* Synchronizing: refused before the client sends a byte. */
	sprintf(hdr, "A1 LOGIN {%d}", IMAP_CMD_MAX);
	CHECK(imapcb_line(&cb, hdr, strlen(hdr)) == IMAPCB_BAD &&
	    strcmp(cb.err, "Literal too big") == 0 &&
	    strcmp(imapcb_tag(&cb), "A1") == 0);
	CHECK(imapcb_line(&cb, "A2 NOOP", 7) == IMAPCB_COMPLETE);
	/* Non-synchronizing: BAD now, then read and drop (RFC 7888 4). */
	sprintf(hdr, "A1 LOGIN {%d+}", IMAP_CMD_MAX);
	CHECK(imapcb_line(&cb, hdr, strlen(hdr)) == IMAPCB_BAD_DISCARD &&
	    cb.lit_len == IMAP_CMD_MAX);
	memset(big, 'x', sizeof(big));
	CHECK(imapcb_literal(&cb, big, 1) == IMAP_CMD_MAX - 1);
	left = imapcb_literal(&cb, big, IMAP_CMD_MAX - 1);
	CHECK(left == 0);
	CHECK(imapcb_line(&cb, " {3+}", 5) == IMAPCB_SKIP_DISCARD &&
	    cb.lit_len == 3);
	CHECK(imapcb_literal(&cb, "abc", 3) == 0);
	CHECK(imapcb_line(&cb, " {3}", 4) == IMAPCB_SKIP);
	CHECK(imapcb_line(&cb, "A2 NOOP", 7) == IMAPCB_COMPLETE &&
	    strcmp(imapcb_tag(&cb), "A2") == 0);
	CHECK(imapcb_line(&cb, "A3 X {0+}", 9) == IMAPCB_LITERAL);
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE);
	/* The cap counts the whole command, lines and literals. */
	sprintf(hdr, "A1 X {%d}", IMAP_CMD_MAX - 9);
	CHECK(imapcb_line(&cb, hdr, strlen(hdr)) == IMAPCB_BAD);
	sprintf(hdr, "A1 X {%d}", IMAP_CMD_MAX - 15);
	CHECK(imapcb_line(&cb, hdr, strlen(hdr)) == IMAPCB_LITERAL);
	CHECK(imapcb_literal(&cb, big, IMAP_CMD_MAX - 15) == 0);
	CHECK(imapcb_line(&cb, " {1+}", 5) == IMAPCB_BAD_DISCARD);
	CHECK(imapcb_literal(&cb, big, 1) == 0);
	CHECK(imapcb_line(&cb, ")", 1) == IMAPCB_SKIP);
	sprintf(hdr, "A1 X {%d}", IMAP_CMD_MAX - 15);
	CHECK(imapcb_line(&cb, hdr, strlen(hdr)) == IMAPCB_LITERAL);
	CHECK(imapcb_literal(&cb, big, IMAP_CMD_MAX - 15) == 0);
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE &&
	    imap_tok_init(&t, &cb) == 0 && imap_skip(&t) == 0 &&
	    imap_get_end(&t) == 0);
	CHECK(imapcb_line(&cb, hdr, strlen(hdr)) == IMAPCB_LITERAL);
	CHECK(imapcb_literal(&cb, big, IMAP_CMD_MAX - 15) == 0);
	CHECK(imapcb_line(&cb, " too-long", 9) == IMAPCB_BAD &&
	    strcmp(cb.err, "Command too long") == 0);
	CHECK(imapcb_line(&cb, "A2 NOOP", 7) == IMAPCB_COMPLETE);
	(void)lits;
}

static void
test_many_literals(void)
{
	static char in[IMAP_LITERALS_MAX * 8 + 64];
	size_t i;
	int lits;

	strcpy(in, "A1 X {1}\r\n");
	for (i = 1; i < IMAP_LITERALS_MAX; i++)
		strcat(in, "a {1}\r\n");
	strcat(in, "a\r\n");
	CHECK(play(in, strlen(in), 1, &lits) == IMAPCB_COMPLETE &&
	    lits == IMAP_LITERALS_MAX);
	strcpy(in, "A1 X {1}\r\n");
	for (i = 1; i <= IMAP_LITERALS_MAX; i++)
		strcat(in, "a {1}\r\n");
	strcat(in, "a\r\n");
	CHECK(play(in, strlen(in), 1, &lits) == IMAPCB_BAD &&
	    strcmp(cb.err, "Too many literals") == 0);
}

static int
set_is(const struct seqset *set, const unsigned long *v, size_t n)
{
	size_t i;

	if (set->n * 2 != n)
		return 0;
	for (i = 0; i < set->n; i++)
		if (set->r[i].lo != v[2 * i] || set->r[i].hi != v[2 * i + 1])
			return 0;
	return 1;
}

static int
seq(const char *s, unsigned long max, int uid, struct seqset *set)
{
	const char *err;

	return seqset_parse(s, strlen(s), max, uid, set, &err);
}

static void
test_seqset_good(void)
{
	static const unsigned long all10[] = { 1, 10 };
	static const unsigned long mix[] = { 1, 1, 3, 5, 10, 10 };
	static const unsigned long r24[] = { 2, 4 };
	static const unsigned long merged[] = { 1, 7 };
	static const unsigned long three[] = { 3, 3 };
	static const unsigned long top[] = { 4294967294UL, 4294967295UL };
	struct seqset set;

	CHECK(seq("1:*", 10, 0, &set) == 0 && set_is(&set, all10, 2));
	seqset_free(&set);
	CHECK(seq("*:1", 10, 0, &set) == 0 && set_is(&set, all10, 2));
	seqset_free(&set);
	CHECK(seq("1,3:5,*", 10, 0, &set) == 0 && set_is(&set, mix, 6));
	CHECK(seqset_contains(&set, 1) && !seqset_contains(&set, 2) &&
	    seqset_contains(&set, 3) && seqset_contains(&set, 4) &&
	    seqset_contains(&set, 5) && !seqset_contains(&set, 6) &&
	    !seqset_contains(&set, 9) && seqset_contains(&set, 10) &&
	    !seqset_contains(&set, 0) && !seqset_contains(&set, 11));
	seqset_free(&set);
	CHECK(seq("4:2", 10, 0, &set) == 0 && set_is(&set, r24, 2));
	seqset_free(&set);
	CHECK(seq("2:4", 10, 0, &set) == 0 && set_is(&set, r24, 2));
	seqset_free(&set);
	/* RFC 3501 9: overlaps may be coalesced; adjacent ones are too. */
	CHECK(seq("1:3,2:5,7,6", 10, 0, &set) == 0 &&
	    set_is(&set, merged, 2));
	seqset_free(&set);
	CHECK(seq("7,6,5,4,3,2,1,1", 10, 0, &set) == 0 &&
	    set_is(&set, merged, 2));
	seqset_free(&set);
	CHECK(seq("*", 1, 0, &set) == 0 && set.n == 1 && set.r[0].lo == 1);
	seqset_free(&set);
	/* UIDs: "5:*" with max 3 still includes 3 (RFC 3501 6.4.8). */
	CHECK(seq("5:*", 3, 1, &set) == 0 && set_is(&set, three, 2));
	seqset_free(&set);
	CHECK(seq("100", 50, 1, &set) == 0 && set.n == 0);
	seqset_free(&set);
	CHECK(seq("*", 0, 1, &set) == 0 && set.n == 0 &&
	    !seqset_contains(&set, 1));
	seqset_free(&set);
	CHECK(seq("1:*", 0, 1, &set) == 0 && set.n == 0);
	seqset_free(&set);
	CHECK(seq("3,40:60,1:2", 50, 1, &set) == 0 && set.n == 2 &&
	    set.r[0].lo == 1 && set.r[0].hi == 3 && set.r[1].lo == 40 &&
	    set.r[1].hi == 50);
	seqset_free(&set);
	CHECK(seq("4294967294:*", 4294967295UL, 1, &set) == 0 &&
	    set_is(&set, top, 2) && seqset_contains(&set, 4294967295UL));
	seqset_free(&set);
	CHECK(seq("4294967295,1:4294967294", 4294967295UL, 1, &set) == 0 &&
	    set.n == 1 && set.r[0].lo == 1 && set.r[0].hi == 4294967295UL);
	seqset_free(&set);
}

static void
test_seqset_bad(void)
{
	static const char *const bad[] = {
		"0", "1:", ":1", "4294967296", ",", "", "1,", ",1", "1,,2",
		"1:2:3", "01", "1:0", "**", "*1", "1*", "a", "1:4294967296",
		"::", "-1", "1 ", "1;2"
	};
	struct imap_tok t;
	struct seqset set;
	const char *err;
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		CHECK(seq(bad[i], 10, 0, &set) < 0 && set.r == NULL);
		CHECK(seq(bad[i], 10, 1, &set) < 0);
	}
	/* RFC 3501 9 seq-number: BAD for numbers past the last message,
	 * "*" in an empty mailbox included. */
	CHECK(seqset_parse("11", 2, 10, 0, &set, &err) < 0 &&
	    strcmp(err, "Invalid message sequence number") == 0);
	CHECK(seq("5:11", 10, 0, &set) < 0);
	CHECK(seqset_parse("*", 1, 0, 0, &set, &err) < 0 &&
	    strcmp(err, "No messages") == 0);
	CHECK(seq("1", 0, 0, &set) < 0);
	/* Through the tokenizer. */
	CHECK(line(&t, "A1 FETCH 1:*,3 FLAGS") == 0 &&
	    imap_peek(&t) == IMAP_T_SEQSET &&
	    imap_get_seqset(&t, 5, 0, &set) == 0 && set.n == 1 &&
	    set.r[0].hi == 5);
	seqset_free(&set);
	CHECK(line(&t, "A1 FETCH 7 FLAGS") == 0 &&
	    imap_peek(&t) == IMAP_T_NUMBER &&
	    imap_get_seqset(&t, 5, 0, &set) < 0 &&
	    erris(&t, "Invalid message sequence number"));
	CHECK(line(&t, "A1 FETCH 1:x FLAGS") == 0 &&
	    imap_get_seqset(&t, 5, 0, &set) < 0 &&
	    erris(&t, "Invalid sequence set"));
	CHECK(line(&t, "A1 SEARCH (1:2 3)") == 0 &&
	    imap_get_list_begin(&t) == 0 &&
	    imap_get_seqset(&t, 5, 0, &set) == 0);
	seqset_free(&set);
	CHECK(imap_get_seqset(&t, 5, 0, &set) == 0 && set.n == 1);
	seqset_free(&set);
	CHECK(imap_get_list_end(&t) == 0 && imap_get_end(&t) == 0);
}

#define D(s)	imap_parse_date((s), strlen(s), &v)
#define DT(s)	imap_parse_date_time((s), strlen(s), &v)

static void
test_dates(void)
{
	time_t v;

	CHECK(D("1-Feb-1994") == 0 && v == (time_t)760060800L);
	CHECK(D("01-feb-1994") == 0 && v == (time_t)760060800L);
	CHECK(D("1-FEB-1994") == 0 && v == (time_t)760060800L);
	CHECK(D("1-Jan-1970") == 0 && v == 0);
}

static void
test_dates_calendar(void)
{
	time_t v;

	CHECK(D("29-Feb-2000") == 0 && v == (time_t)951782400L);
	CHECK(D("29-Feb-2004") == 0);
	CHECK(D("29-Feb-1900") < 0);		/* century, not 400 */
	CHECK(D("29-Feb-2023") < 0);
	CHECK(D("29-Feb-2100") < 0);
	CHECK(D("28-Feb-2100") == 0 || sizeof(time_t) < 8);
	CHECK(D("31-Dec-1999") == 0 && v == (time_t)946598400L);
	CHECK(D("31-Apr-2020") < 0);
	CHECK(D("30-Apr-2020") == 0);
	CHECK(D("32-Jan-2020") < 0);
	CHECK(D("0-Jan-2020") < 0);
	CHECK(D("00-Jan-2020") < 0);
	CHECK(D("001-Jan-2020") < 0);
	CHECK(D("1-Fub-2020") < 0);
	CHECK(D("1-Ja-2020") < 0);
	CHECK(D("1-Jan-20") < 0);
	CHECK(D("1-Jan-20200") < 0);
	CHECK(D("1-Jan-1899") < 0);
	CHECK(D("1 Jan 2020") < 0);
	CHECK(D("1-Jan-2020 ") < 0);
	CHECK(D("") < 0);
	CHECK(D("1-Jan-") < 0);
}

static void
test_date_times(void)
{
	time_t v;

	CHECK(DT("17-Jul-1996 02:44:25 -0700") == 0 &&
	    v == (time_t)837596665L);
	CHECK(DT("17-Jul-1996 09:44:25 +0000") == 0 &&
	    v == (time_t)837596665L);
	CHECK(DT("17-Jul-1996 11:14:25 +0130") == 0 &&
	    v == (time_t)837596665L);
	CHECK(DT(" 1-Jan-2000 00:59:59 +0100") == 0 &&
	    v == (time_t)946684799L);
	CHECK(DT("01-Jan-2000 00:59:59 +0100") == 0 &&
	    v == (time_t)946684799L);
	/* Lenient: one bare digit for the day. */
	CHECK(DT("1-Jan-2000 00:59:59 +0100") == 0 &&
	    v == (time_t)946684799L);
	CHECK(DT("31-Dec-1999 23:59:60 +0000") == 0 &&
	    v == (time_t)946684800L);
	CHECK(DT("29-Feb-2001 00:00:00 +0000") < 0);
	CHECK(DT("29-Feb-1996 00:00:00 +0000") == 0);
	CHECK(DT("17-Jul-1996 02:44:25 +2400") < 0);
	CHECK(DT("17-Jul-1996 02:44:25 -0760") < 0);
	CHECK(DT("17-Jul-1996 02:44:25 0700") < 0);
	CHECK(DT("17-Jul-1996 02:44:25 EST") < 0);
	CHECK(DT("17-Jul-1996 02:44:25 +07") < 0);
	CHECK(DT("17-Jul-1996 02:44:25 +07000") < 0);
	CHECK(DT("17-Jul-1996 02:44:25") < 0);
	CHECK(DT("17-Jul-1996 24:00:00 +0000") < 0);
	CHECK(DT("17-Jul-1996 23:60:00 +0000") < 0);
	CHECK(DT("17-Jul-1996 23:00:61 +0000") < 0);
	CHECK(DT("17-Jul-1996 2:44:25 +0000") < 0);
	CHECK(DT("17-Jul-1996  02:44:25 +0000") < 0);
	CHECK(DT("  1-Jan-2000 00:59:59 +0100") < 0);
	CHECK(DT(" 11-Jan-2000 00:59:59 +0100") < 0);
	CHECK(DT("17-Jul-1996") < 0);
	/* UTC across the epoch, day and year boundaries. */
	CHECK(DT("01-Jan-1970 01:00:00 +0100") == 0 && v == 0);
	CHECK(DT("31-Dec-1969 23:00:00 -0100") == 0 && v == 0);
}

static void
test_date_tokens(void)
{
	struct imap_tok t;
	time_t v;

	CHECK(line(&t, "A1 SEARCH SINCE 1-Feb-1994 BEFORE \"2-Feb-1994\"") ==
	    0);
	CHECK(imap_get_atom(&t, &t.name) == 0);
	CHECK(imap_get_date(&t, &v) == 0 && v == (time_t)760060800L);
	CHECK(imap_get_atom(&t, &t.name) == 0);
	CHECK(imap_get_date(&t, &v) == 0 && v == (time_t)760147200L);
	CHECK(imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 SEARCH ON 30-Feb-1994") == 0 &&
	    imap_get_atom(&t, &t.name) == 0 && imap_get_date(&t, &v) < 0 &&
	    erris(&t, "Invalid date"));
	CHECK(line(&t, "A1 APPEND x \"17-Jul-1996 02:44:25 -0700\"") == 0 &&
	    imap_get_atom(&t, &t.name) == 0 &&
	    imap_get_date_time(&t, &v) == 0 && v == (time_t)837596665L);
	CHECK(line(&t, "A1 APPEND x 17-Jul-1996") == 0 &&
	    imap_get_atom(&t, &t.name) == 0 &&
	    imap_get_date_time(&t, &v) < 0 && erris(&t, "Invalid date-time"));
	CHECK(line(&t, "A1 APPEND x \"17-Jul-1996 02:44:25 -0799\"") == 0 &&
	    imap_get_atom(&t, &t.name) == 0 &&
	    imap_get_date_time(&t, &v) < 0);
}

static void
test_flags(void)
{
	struct imap_tok t;
	const char *s;

	CHECK(line(&t, "A1 STORE 1 +FLAGS (\\seen \\ANSWERED \\Flagged "
	    "\\deleted \\Draft $Forwarded \\Ext)") == 0);
	CHECK(imap_get_atom(&t, &s) == 0 && imap_get_atom(&t, &s) == 0 &&
	    strcmp(s, "+FLAGS") == 0 && imap_get_list_begin(&t) == 0);
	CHECK(imap_get_flag(&t, 0, &s) == 0 && strcmp(s, "\\Seen") == 0);
	CHECK(imap_get_flag(&t, 0, &s) == 0 && strcmp(s, "\\Answered") == 0);
	CHECK(imap_get_flag(&t, 0, &s) == 0 && strcmp(s, "\\Flagged") == 0);
	CHECK(imap_get_flag(&t, 0, &s) == 0 && strcmp(s, "\\Deleted") == 0);
	CHECK(imap_get_flag(&t, 0, &s) == 0 && strcmp(s, "\\Draft") == 0);
	CHECK(imap_get_flag(&t, 0, &s) == 0 && strcmp(s, "$Forwarded") == 0);
	CHECK(imap_get_flag(&t, 0, &s) == 0 && strcmp(s, "\\Ext") == 0);
	CHECK(imap_get_list_end(&t) == 0 && imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 X \\* \\*") == 0 && imap_get_flag(&t, 1, &s) == 0 &&
	    strcmp(s, "\\*") == 0 && imap_get_flag(&t, 0, &s) < 0 &&
	    erris(&t, "\\* is not a flag here"));
	CHECK(line(&t, "A1 X (\\*)") == 0 && imap_get_list_begin(&t) == 0 &&
	    imap_get_flag(&t, 1, &s) == 0 && imap_get_list_end(&t) == 0);
	CHECK(line(&t, "A1 X \\*x") == 0 && imap_get_flag(&t, 1, &s) < 0);
	CHECK(line(&t, "A1 X \\Recent") == 0 && imap_get_flag(&t, 0, &s) < 0 &&
	    erris(&t, "\\Recent cannot be set"));
	CHECK(line(&t, "A1 X \\") == 0 && imap_get_flag(&t, 0, &s) < 0);
	CHECK(line(&t, "A1 X \\\\Seen") == 0 && imap_get_flag(&t, 0, &s) < 0);
	CHECK(line(&t, "A1 X a]") == 0 && imap_get_flag(&t, 0, &s) < 0);
	CHECK(line(&t, "A1 X a%") == 0 && imap_get_flag(&t, 0, &s) < 0);
	CHECK(line(&t, "A1 X \"\\Seen\"") == 0 && imap_get_flag(&t, 0, &s) < 0);
	CHECK(line(&t, "A1 X \\Seen)") == 0 && imap_get_flag(&t, 0, &s) == 0 &&
	    imap_get_end(&t) < 0);
}

/* FETCH's attributes of "A1 FETCH 1 <s>". */
static int
fetch(const char *s, struct imap_fetch_att *v, size_t max, size_t *n)
{
	static char buf[512];
	struct imap_tok t;
	struct seqset set;
	int r;

	sprintf(buf, "A1 FETCH 1 %s", s);
	if (line(&t, buf) < 0 || imap_get_seqset(&t, 1, 0, &set) < 0)
		return -1;
	seqset_free(&set);
	r = imap_get_fetch_atts(&t, v, max, n);
	return r < 0 ? -1 : imap_get_end(&t);
}

static int
sec_is(const struct imap_fetch_att *a, const char *want)
{
	char out[256];

	return a->att == IMAP_F_SECTION &&
	    imap_section_format(&a->sec, out, sizeof(out)) == 0 &&
	    strcmp(out, want) == 0;
}

static void
test_fetch_atts(void)
{
	static const char *const bad[] = {
		"FOO", "(FLAGS", "(FLAGS UID", "()", "( FLAGS)", "(FLAGS )",
		"BODY.PEEK", "BODY[", "BODY[]]", "BODY[HEADER", "FLAGS UID",
		"(ALL)", "ALL FLAGS", "RFC822.", "BODY[]<1>", "BODY[]<1.0>",
		"BODY[]<.1>", "BODY[]<1.1", "BODY[]x", "FLAGS[]", "UID]",
		"BODY[]<4294967296.1>", "(FLAGS)(UID)", "\"FLAGS\""
	};
	struct imap_fetch_att v[8];
	size_t n, i;

	CHECK(fetch("ALL", v, 8, &n) == 0 && n == 4 &&
	    v[0].att == IMAP_F_FLAGS && v[1].att == IMAP_F_INTERNALDATE &&
	    v[2].att == IMAP_F_RFC822_SIZE && v[3].att == IMAP_F_ENVELOPE);
	CHECK(fetch("fast", v, 8, &n) == 0 && n == 3);
	CHECK(fetch("FULL", v, 8, &n) == 0 && n == 5 &&
	    v[4].att == IMAP_F_BODY);
	CHECK(fetch("FULL", v, 4, &n) < 0);
	CHECK(fetch("flags", v, 8, &n) == 0 && n == 1 &&
	    v[0].att == IMAP_F_FLAGS);
	CHECK(fetch("(FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE "
	    "BODYSTRUCTURE BODY RFC822)", v, 8, &n) == 0 && n == 8 &&
	    v[0].att == IMAP_F_FLAGS && v[1].att == IMAP_F_UID &&
	    v[2].att == IMAP_F_RFC822_SIZE &&
	    v[5].att == IMAP_F_BODYSTRUCTURE &&
	    v[6].att == IMAP_F_BODY && v[7].att == IMAP_F_RFC822);
	CHECK(fetch("(FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE "
	    "BODYSTRUCTURE BODY RFC822 UID)", v, 8, &n) < 0);
	CHECK(fetch("(RFC822.HEADER RFC822.TEXT)", v, 8, &n) == 0 &&
	    v[0].att == IMAP_F_RFC822_HEADER &&
	    v[1].att == IMAP_F_RFC822_TEXT);
	CHECK(fetch("(ALL2)", v, 8, &n) < 0);
	for (i = 0; i < NELEM(bad); i++)
		CHECK(fetch(bad[i], v, 8, &n) < 0);
}

static void
test_fetch_sections(void)
{
	static const char *const bad[] = {
		"BODY[MIME]", "BODY[0]", "BODY[1.]", "BODY[1.0]", "BODY[01]",
		"BODY[HEADER.FIELDS ()]", "BODY[HEADER.FIELDS From]",
		"BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS  (From)]",
		"BODY[HEADER.FIELDS (From:)]", "BODY[HEADER.FIELDS (From )]",
		"BODY[HEADER.FIELDS (\"\")]", "BODY[HEADER.FIELDS (From)",
		"BODY[HEADERS]", "BODY[TEXT ]", "BODY[ TEXT]", "BODY[1.HEAD]",
		"BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17]",
		"BODY[1.2.]", "BODY[.1]", "BODY[HEADER.FIELDS.NOT]",
		"BODY[4294967296]"
	};
	struct imap_fetch_att v[4];
	size_t n, i;

	CHECK(fetch("BODY[]", v, 4, &n) == 0 && n == 1 && !v[0].peek &&
	    v[0].sec.text == IMAP_SEC_ALL && v[0].sec.npart == 0 &&
	    sec_is(&v[0], ""));
	CHECK(fetch("body.peek[header]", v, 4, &n) == 0 && v[0].peek &&
	    v[0].sec.text == IMAP_SEC_HEADER && sec_is(&v[0], "HEADER"));
	CHECK(fetch("BODY[HEADER.FIELDS (From To)]", v, 4, &n) == 0 &&
	    v[0].sec.text == IMAP_SEC_HEADER_FIELDS &&
	    v[0].sec.nfields == 2 && strcmp(v[0].sec.fields, "From") == 0 &&
	    strcmp(v[0].sec.fields + 5, "To") == 0 &&
	    sec_is(&v[0], "HEADER.FIELDS (From To)"));
	CHECK(fetch("BODY.PEEK[HEADER.FIELDS.NOT (Received \"X-A\")]", v, 4,
	    &n) == 0 && v[0].sec.text == IMAP_SEC_HEADER_FIELDS_NOT &&
	    sec_is(&v[0], "HEADER.FIELDS.NOT (Received X-A)"));
	CHECK(fetch("BODY[1.2.3]", v, 4, &n) == 0 && v[0].sec.npart == 3 &&
	    v[0].sec.part[0] == 1 && v[0].sec.part[2] == 3 &&
	    v[0].sec.text == IMAP_SEC_ALL && sec_is(&v[0], "1.2.3"));
	CHECK(fetch("BODY[1.MIME]", v, 4, &n) == 0 &&
	    v[0].sec.text == IMAP_SEC_MIME && sec_is(&v[0], "1.MIME"));
	CHECK(fetch("BODY[2.1.HEADER.FIELDS (Subject)]", v, 4, &n) == 0 &&
	    sec_is(&v[0], "2.1.HEADER.FIELDS (Subject)"));
	CHECK(fetch("BODY[1.2.TEXT]<0.100>", v, 4, &n) == 0 &&
	    v[0].sec.partial && v[0].sec.origin == 0 &&
	    v[0].sec.count == 100 && sec_is(&v[0], "1.2.TEXT"));
	CHECK(fetch("BODY[]<4294967295.4294967295>", v, 4, &n) == 0 &&
	    v[0].sec.origin == 4294967295UL);
	CHECK(fetch("(UID BODY.PEEK[TEXT]<5.10> FLAGS)", v, 4, &n) == 0 &&
	    n == 3 && v[1].peek && v[1].sec.origin == 5 &&
	    v[1].sec.count == 10 && v[2].att == IMAP_F_FLAGS);
	CHECK(fetch("BODY", v, 4, &n) == 0 && v[0].att == IMAP_F_BODY);
	CHECK(fetch("BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16]", v, 4,
	    &n) == 0 && v[0].sec.npart == IMAP_SECTION_DEPTH);
	for (i = 0; i < NELEM(bad); i++)
		CHECK(fetch(bad[i], v, 4, &n) < 0);
}

static void
test_fetch_literal_names(void)
{
	struct imap_fetch_att v[2];
	struct imap_tok t;
	struct seqset set;
	size_t n;
	int lits;
	char out[8];

	/* A header name may be a literal (astring): the line goes on. */
	CHECK(PLAY("A1 FETCH 1 BODY[HEADER.FIELDS ({7}\r\nSubject \"a\\\"b\")]"
	    "\r\n", 1, &lits) == IMAPCB_COMPLETE && lits == 1);
	CHECK(imap_tok_init(&t, &cb) == 0 &&
	    imap_get_seqset(&t, 1, 0, &set) == 0 &&
	    imap_get_fetch_atts(&t, v, 2, &n) == 0 && imap_get_end(&t) == 0 &&
	    v[0].sec.nfields == 2 && strcmp(v[0].sec.fields, "Subject") == 0 &&
	    sec_is(&v[0], "HEADER.FIELDS (Subject \"a\\\"b\")"));
	seqset_free(&set);
	CHECK(imap_section_format(&v[0].sec, out, sizeof(out)) < 0);
	CHECK(imap_section_format(&v[0].sec, out, 0) < 0);
}

static void
test_sasl_ir(void)
{
	static const char *const bad[] = {
		"abc", "ab=c", "a===", "=abc", "==", "abc=d===", "a\"bc",
		"ab==ab==", "YWJj ", "Y%Jj"
	};
	struct imap_tok t;
	const char *s;
	char buf[64];
	size_t n, i;

	CHECK(line(&t, "A1 AUTHENTICATE PLAIN") == 0 &&
	    imap_get_atom(&t, &s) == 0 && strcmp(s, "PLAIN") == 0 &&
	    imap_get_sasl_ir(&t, &s, &n) == 0 && s == NULL && n == 0 &&
	    imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 AUTHENTICATE PLAIN =") == 0 &&
	    imap_get_atom(&t, &s) == 0 &&
	    imap_get_sasl_ir(&t, &s, &n) == 0 && s != NULL && *s == '\0' &&
	    n == 0 && imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0") == 0 &&
	    imap_get_atom(&t, &s) == 0 &&
	    imap_get_sasl_ir(&t, &s, &n) == 0 && n == 16 &&
	    strcmp(s, "AGZyZWQAc2VjcmV0") == 0 && imap_get_end(&t) == 0);
	CHECK(line(&t, "A1 AUTHENTICATE PLAIN abc=") == 0 &&
	    imap_get_atom(&t, &s) == 0 && imap_get_sasl_ir(&t, &s, &n) == 0);
	CHECK(line(&t, "A1 AUTHENTICATE PLAIN ab==") == 0 &&
	    imap_get_atom(&t, &s) == 0 && imap_get_sasl_ir(&t, &s, &n) == 0);
	CHECK(line(&t, "A1 AUTHENTICATE PLAIN a+/b") == 0 &&
	    imap_get_atom(&t, &s) == 0 && imap_get_sasl_ir(&t, &s, &n) == 0);
	for (i = 0; i < NELEM(bad); i++) {
		sprintf(buf, "A1 AUTHENTICATE PLAIN %s", bad[i]);
		CHECK(line(&t, buf) == 0 && imap_get_atom(&t, &s) == 0 &&
		    (imap_get_sasl_ir(&t, &s, &n) < 0 ||
		    imap_get_end(&t) < 0));
	}
	CHECK(line(&t, "A1 AUTHENTICATE PLAIN ") == 0 &&
	    imap_get_atom(&t, &s) == 0 && imap_get_sasl_ir(&t, &s, &n) < 0);
}

static void
test_append(void)
{
	struct imap_tok t;
	const char *s;
	unsigned long size;
	time_t when;
	static const char hdr[] =
	    "A1 APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" "
	    "{100000000}";

	/* The message literal escapes the cap: the caller streams it. */
	CHECK(imapcb_line(&cb, hdr, sizeof(hdr) - 1) == IMAPCB_LITERAL &&
	    imapcb_is_append_message(&cb) && cb.lit_len == 100000000UL &&
	    cb.lit_sync);
	/* The caller may read the arguments now, before its "+". */
	CHECK(imap_tok_init(&t, &cb) == 0 && imap_get_mailbox(&t, &s) == 0 &&
	    strcmp(s, "saved-messages") == 0 &&
	    imap_get_list_begin(&t) == 0 && imap_get_flag(&t, 0, &s) == 0 &&
	    imap_get_list_end(&t) == 0 && imap_get_date_time(&t, &when) == 0 &&
	    when == (time_t)837596665L && imap_peek(&t) == IMAP_T_STREAM &&
	    imap_get_stream(&t, &size) == 0 && size == 100000000UL &&
	    imap_get_end(&t) == 0);
	imapcb_literal_taken(&cb);
	CHECK(!imapcb_is_append_message(&cb));
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE);
	CHECK(imap_tok_init(&t, &cb) == 0 && imap_skip(&t) == 0 &&
	    imap_skip(&t) == 0 && imap_skip(&t) == 0 &&
	    imap_get_stream(&t, &size) == 0 && size == 100000000UL &&
	    imap_get_end(&t) == 0);
}

static void
test_append_shapes(void)
{
	struct imap_tok t;
	const char *s;
	unsigned long size;

	/* Shapes: [flags] and [date-time] are optional, in that order. */
	CHECK(imapcb_line(&cb, "A1 APPEND INBOX {5+}", 20) == IMAPCB_LITERAL &&
	    imapcb_is_append_message(&cb) && !cb.lit_sync);
	CHECK(imapcb_refuse(&cb) == IMAPCB_BAD_DISCARD && cb.lit_len == 5);
	CHECK(imapcb_literal(&cb, "abcde", 5) == 0 &&
	    imapcb_line(&cb, "", 0) == IMAPCB_SKIP);
	CHECK(imapcb_line(&cb, "A1 append x () {5}", 18) == IMAPCB_LITERAL &&
	    imapcb_is_append_message(&cb));
	CHECK(imapcb_refuse(&cb) == IMAPCB_BAD);
	CHECK(imapcb_line(&cb, "A1 APPEND x \"date\" {5}", 22) ==
	    IMAPCB_LITERAL && imapcb_is_append_message(&cb));
	imapcb_literal_taken(&cb);
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE);
	/* The mailbox itself as a literal is held as usual. */
	CHECK(imapcb_line(&cb, "A1 APPEND {3}", 13) == IMAPCB_LITERAL &&
	    !imapcb_is_append_message(&cb));
	CHECK(imapcb_literal(&cb, "box", 3) == 0);
	CHECK(imapcb_line(&cb, " {99999999}", 11) == IMAPCB_LITERAL &&
	    imapcb_is_append_message(&cb));
	imapcb_literal_taken(&cb);
	CHECK(imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE &&
	    imap_tok_init(&t, &cb) == 0 && imap_get_mailbox(&t, &s) == 0 &&
	    strcmp(s, "box") == 0 && imap_get_stream(&t, &size) == 0 &&
	    size == 99999999UL && imap_at_end(&t));
	/* Not APPEND's message: held, so capped. */
	CHECK(imapcb_line(&cb, "A1 APPEND x y {99999999}", 24) == IMAPCB_BAD);
	CHECK(imapcb_line(&cb, "A1 APPEND x (\\Seen) (a) {99999999}", 34) ==
	    IMAPCB_BAD);
	CHECK(imapcb_line(&cb, "A1 APPENDX x {99999999}", 23) == IMAPCB_BAD);
	CHECK(imapcb_line(&cb, "A1 APPEND x (\\Seen {99999999}", 29) ==
	    IMAPCB_BAD);
	/* A second message (MULTIAPPEND) is not streamed. */
	CHECK(imapcb_line(&cb, "A1 APPEND x {1}", 15) == IMAPCB_LITERAL &&
	    imapcb_is_append_message(&cb));
	imapcb_literal_taken(&cb);
	CHECK(imapcb_line(&cb, " x {1}", 6) == IMAPCB_LITERAL &&
	    !imapcb_is_append_message(&cb));
	CHECK(imapcb_literal(&cb, "m", 1) == 0 &&
	    imapcb_line(&cb, "", 0) == IMAPCB_COMPLETE);
	/* A stored literal is not a message, nor a message a string. */
	CHECK(imap_tok_init(&t, &cb) == 0 && imap_skip(&t) == 0 &&
	    imap_get_string(&t, &s, NULL) < 0 &&
	    erris(&t, "Unexpected message literal"));
	CHECK(imap_tok_init(&t, &cb) == 0 && imap_skip(&t) == 0 &&
	    imap_skip(&t) == 0 && imap_skip(&t) == 0 &&
	    imap_get_stream(&t, &size) < 0);
}

/*
 * Random commands from IMAP-ish pieces, fed in random chunks: nothing
 * may crash (run under valgrind or ASan), every getter loop must end,
 * and the accumulator must always come back to a new command.
 */
static unsigned long rnd_state = 12345;

static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245UL + 12345UL;
	return (unsigned)((rnd_state >> 16) & 0x7fff) % n;
}

static void
fuzz_tokens(void)
{
	struct imap_fetch_att v[8];
	struct imap_tok t;
	struct seqset set;
	const char *s;
	size_t n;
	time_t when;
	int i;

	if (imap_tok_init(&t, &cb) < 0)
		return;
	for (i = 0; i < 64 && imap_peek(&t) != IMAP_T_END &&
	    t.err == NULL; i++)
		(void)imap_skip(&t);
	(void)imap_get_end(&t);
	if (imap_tok_init(&t, &cb) == 0 &&
	    imap_get_seqset(&t, 50, (int)rnd(2), &set) == 0)
		seqset_free(&set);
	(void)imap_get_fetch_atts(&t, v, 8, &n);
	if (imap_tok_init(&t, &cb) == 0) {
		(void)imap_get_flag(&t, 1, &s);
		(void)imap_get_date(&t, &when);
		(void)imap_get_date_time(&t, &when);
		(void)imap_get_rest(&t, &s, &n);
	}
}

static void
test_fuzz(void)
{
	static const char *const piece[] = {
		"A1 ", "FETCH ", "APPEND ", "x ", "(", ")", " ", "\\Seen",
		"\"", "\\", "{3}\r\n", "{2+}\r\n", "{0}\r\n", "1:*", ",",
		"BODY[", "]", "HEADER.FIELDS (", "<1.2>", "NIL", "*", "\r\n",
		"\"1-Feb-1994 00:00:00 +0000\"", "ab", "\0", "\x80", "{",
		"}", "+", "1", "0", "%", "ALL", "{9999999}\r\n"
	};
	char in[256];
	size_t len, k, chunk;
	int iter, lits, ok;

	ok = 1;
	for (iter = 0; iter < 20000; iter++) {
		len = 0;
		for (k = rnd(12) + 1; k > 0; k--) {
			const char *p = piece[rnd(NELEM(piece))];
			size_t pl = strlen(p) + (*p == '\0');

			if (len + pl >= sizeof(in))
				break;
			memcpy(in + len, p, pl);
			len += pl;
		}
		chunk = rnd(5) + 1;
		if (play(in, len, chunk, &lits) == IMAPCB_COMPLETE)
			fuzz_tokens();
		/* Whatever state it was left in, a new command works. */
		imapcb_reset(&cb);
		ok &= imapcb_line(&cb, "Z9 NOOP", 7) == IMAPCB_COMPLETE;
	}
	CHECK(ok);
}

int
main(void)
{
	imapcb_init(&cb);
	test_tags();
	test_quoted();
	test_atoms();
	test_rest();
	test_numbers();
	test_lists();
	test_literals();
	test_literal_steps();
	test_literal_nul();
	test_literal_syntax();
	test_literal_cap();
	test_many_literals();
	test_seqset_good();
	test_seqset_bad();
	test_dates();
	test_dates_calendar();
	test_date_times();
	test_date_tokens();
	test_flags();
	test_fetch_atts();
	test_fetch_sections();
	test_fetch_literal_names();
	test_sasl_ir();
	test_append();
	test_append_shapes();
	test_fuzz();
	imapcb_free(&cb);
	return check_exit("test_imapparse");
}

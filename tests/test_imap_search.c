/*
 * test_imap_search.c - unit tests of src/imap_search.c: parsing every
 * RFC 3501 search key (and refusing what is not one), evaluating each
 * key true and false against messages made here, RFC 2047 headers and
 * MIME bodies in several charsets and encodings, the promise that keys
 * needing no text never read it, and random commands against cut
 * messages (NOT of a match must be its opposite).  Non-ASCII text is spelled as C
 * escapes so that the file stays ASCII: "\xE3\x83\x86\xE3\x82\xB9\xE3
 * \x83\x88" is U+30C6 U+30B9 U+30C8 (katakana "tesuto").
 */
#include "yubin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charset.h"
#include "check.h"
#include "imap_search.h"
#include "imapparse.h"
#include "mboxparse.h"

#define TESUTO	"\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88"

static struct imap_cmdbuf cb;
static const char *err;			/* t.err of the last parse */
static char line[65536];
static char longarg[65536];		/* long arguments built here */

/* "A1 SEARCH args" through the accumulator and the tokenizer. */
static int
parse(const char *args, unsigned long nmsgs, unsigned long maxuid,
    struct search_key **k)
{
	struct imap_tok t;
	int r;

	*k = NULL;
	err = NULL;
	r = snprintf(line, sizeof(line), "A1 SEARCH%s%s", *args ? " " : "",
	    args);
	if (r < 0 || (size_t)r >= sizeof(line))
		return -9;
	if (imapcb_line(&cb, line, (size_t)r) != IMAPCB_COMPLETE ||
	    imap_tok_init(&t, &cb) < 0)
		return -9;
	r = imap_search_parse(&t, nmsgs, maxuid, k);
	err = t.err;
	return r;
}

/* The same with one literal: "A1 SEARCH pre{n}" lit "post". */
static int
parse_lit(const char *pre, const char *lit, size_t n, const char *post,
    struct search_key **k)
{
	struct imap_tok t;
	int r;

	*k = NULL;
	r = snprintf(line, sizeof(line), "A1 SEARCH %s{%lu}", pre,
	    (unsigned long)n);
	if (r < 0 || (size_t)r >= sizeof(line) ||
	    imapcb_line(&cb, line, (size_t)r) != IMAPCB_LITERAL ||
	    imapcb_literal(&cb, lit, n) != 0 ||
	    imapcb_line(&cb, post, strlen(post)) != IMAPCB_COMPLETE ||
	    imap_tok_init(&t, &cb) < 0)
		return -9;
	r = imap_search_parse(&t, 10, 100, k);
	err = t.err;
	return r;
}

static int
bad(const char *args, const char *want)
{
	struct search_key *k;
	int r;

	r = parse(args, 10, 100, &k);
	if (r != -1 || k != NULL || err == NULL) {
		fprintf(stderr, "not refused: %s\n", args);
		imap_search_free(k);
		return 0;
	}
	if (want != NULL && strcmp(err, want) != 0) {
		fprintf(stderr, "%s: \"%s\", wanted \"%s\"\n", args, err, want);
		return 0;
	}
	return 1;
}

/* The message text, read back in pieces of odd sizes. */
struct src {
	const char	*p;
	size_t		len;
	int		fail;
	unsigned long	calls, maxend;
};

static long
src_read(void *arg, unsigned long off, char *buf, size_t len)
{
	struct src *s = arg;
	size_t piece;

	s->calls++;
	if (s->fail)
		return -1;
	if (off >= s->len)
		return 0;
	if (len > s->len - off)
		len = s->len - off;
	piece = 1 + (s->calls * 7919) % 3001;
	if (len > piece)
		len = piece;
	memcpy(buf, s->p + off, len);
	if (off + len > s->maxend)
		s->maxend = off + len;
	return (long)len;
}

static struct src S;
static struct search_msg M;
static time_t june1;		/* 1-Jun-2020 00:00:00 UTC */

static void
msg(const char *text)
{
	const char *e;

	memset(&S, 0, sizeof(S));
	S.p = text;
	S.len = strlen(text);
	memset(&M, 0, sizeof(M));
	M.seq = 3;
	M.uid = 42;
	M.size = 1000;
	M.internaldate = june1 + 12 * 3600;
	M.read = src_read;
	M.arg = &S;
	M.len = (unsigned long)S.len;
	e = strstr(text, "\n\n");
	M.hdr_len = e != NULL ? (unsigned long)(e - text + 2) : M.len;
	if (text[0] == '\n')
		M.hdr_len = 1;		/* an empty header */
}

/* Match M against args (10 messages, UIDs up to 100); -9: no parse. */
static int
run(const char *args)
{
	struct search_key *k;
	int r;

	if (parse(args, 10, 100, &k) != 0) {
		fprintf(stderr, "parse failed: %s: %s\n", args,
		    err ? err : "?");
		return -9;
	}
	r = imap_search_match(k, &M);
	imap_search_free(k);
	return r;
}

static const char plain[] =
    "From: Alice Example <alice@example.org>\n"
    "To: bob@example.net,\n"
    " carol@example.net\n"
    "Cc: dave@example.com\n"
    "Bcc: eve@example.com\n"
    "Subject: Quarterly REPORT\n"
    "Date: Mon, 1 Jun 2020 23:30:00 -0800\n"
    "X-Empty:\n"
    "To: frank@example.net\n"
    "\n"
    "Hello Bob,\n"
    "the numbers are in.\n";

static void
test_parse_errors(void)
{
	char *p;
	int i;

	CHECK(bad("", "Missing search key"));
	CHECK(bad("FOO", "Unknown search key"));
	CHECK(bad("SEEN FOO", "Unknown search key"));
	CHECK(bad("SUBJECT", NULL));
	CHECK(bad("HEADER Subject", NULL));
	CHECK(bad("KEYWORD", NULL));
	CHECK(bad("UID", NULL));
	CHECK(bad("LARGER", NULL));
	CHECK(bad("LARGER x", NULL));
	CHECK(bad("SMALLER -1", NULL));
	CHECK(bad("LARGER 4294967296", NULL));
	CHECK(bad("BEFORE", NULL));
	CHECK(bad("BEFORE 32-Jan-2020", "Invalid date"));
	CHECK(bad("ON 29-Feb-2021", "Invalid date"));
	CHECK(bad("SINCE 1-Foo-2020", "Invalid date"));
	CHECK(bad("SENTON 2020-01-01", "Invalid date"));
	CHECK(bad("NOT", "Missing search key"));
	CHECK(bad("OR SEEN", "Missing search key"));
	CHECK(bad("(SEEN", "Missing )"));
	CHECK(bad("SEEN)", "Unbalanced )"));
	CHECK(bad("()", "Missing search key"));
	CHECK(bad("(SEEN))", "Unbalanced )"));
	CHECK(bad("SEEN  UNSEEN", NULL));
	CHECK(bad("\"SEEN\"", "Invalid search key"));
	CHECK(bad("NIL", NULL));
	CHECK(bad("11", "Invalid message sequence number"));
	CHECK(bad("1:x", NULL));
	CHECK(bad("UID x", NULL));
	CHECK(bad("KEYWORD \\Seen", NULL));
	CHECK(bad("CHARSET", NULL));
	CHECK(bad("CHARSET UTF-8", "Missing search key"));
	/* parentheses: IMAP_LIST_DEPTH from the tokenizer */
	p = longarg;
	for (i = 0; i < 40; i++)
		p[i] = '(';
	strcpy(p + 40, "SEEN");
	for (i = 0; i < 40; i++)
		p[44 + i] = ')';
	p[84] = '\0';
	CHECK(bad(p, "Lists nested too deeply"));
	/* NOT and OR nest without parentheses */
	p[0] = '\0';
	for (i = 0; i < IMAP_SEARCH_DEPTH + 1; i++)
		strcat(p, "NOT ");
	strcat(p, "SEEN");
	CHECK(bad(p, "Search keys nested too deeply"));
	p[0] = '\0';
	for (i = 0; i < IMAP_SEARCH_KEYS_MAX + 1; i++)
		strcat(p, i ? " SEEN" : "SEEN");
	CHECK(bad(p, "Too many search keys"));
	/* a search string that folds to more than CHARSET_NEEDLE_MAX */
	strcpy(p, "BODY ");
	for (i = 0; i < CHARSET_NEEDLE_MAX + 1; i++)
		p[5 + i] = 'a';
	p[5 + i] = '\0';
	CHECK(bad(p, "Search string too long"));
}

static int
good(const char *args)
{
	struct search_key *k;
	int r;

	r = parse(args, 10, 100, &k);
	imap_search_free(k);
	return r == 0;
}

static void
test_parse_good(void)
{
	struct search_key *k;
	char *p;
	int i;

	CHECK(good("ALL"));
	CHECK(good("all"));
	CHECK(good("ANSWERED BCC x BEFORE 1-Feb-1994 BODY x CC x DELETED "
	    "DRAFT FLAGGED FROM x HEADER X-Y x KEYWORD $Junk LARGER 0 NEW "
	    "NOT SEEN OLD ON 1-Feb-1994 OR SEEN DRAFT RECENT SEEN "
	    "SENTBEFORE 1-Feb-1994 SENTON 1-Feb-1994 SENTSINCE 1-Feb-1994 "
	    "SINCE 1-Feb-1994 SMALLER 4294967295 SUBJECT x TEXT x TO x "
	    "UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD x "
	    "UNSEEN 1,3:5,* (SEEN (DRAFT))"));
	CHECK(good("SINCE \"1-Feb-1994\""));
	CHECK(good("SUBJECT \"two words\" FROM x@y"));
	CHECK(good("HEADER \"X-Y\" \"\""));
	CHECK(good("(SEEN) (UNSEEN)"));
	/* exactly the limits */
	p = longarg;
	p[0] = '\0';
	for (i = 0; i < IMAP_SEARCH_DEPTH; i++)
		strcat(p, "NOT ");
	strcat(p, "SEEN");
	CHECK(good(p));
	p[0] = '\0';
	for (i = 0; i < IMAP_SEARCH_KEYS_MAX; i++)
		strcat(p, i ? " SEEN" : "SEEN");
	CHECK(good(p));
	strcpy(p, "BODY ");
	for (i = 0; i < CHARSET_NEEDLE_MAX; i++)
		p[5 + i] = 'a';
	p[5 + i] = '\0';
	CHECK(good(p));
	/* a literal search string */
	CHECK(parse_lit("SUBJECT ", TESUTO, 9, " SEEN", &k) == 0);
	imap_search_free(k);
	/* CHARSET: US-ASCII and UTF-8 by any name; others are -2 */
	CHECK(good("CHARSET UTF-8 ALL"));
	CHECK(good("CHARSET utf8 ALL"));
	CHECK(good("CHARSET us-ascii ALL"));
	CHECK(good("CHARSET \"US-ASCII\" ALL"));
	CHECK(good("charset ASCII ALL"));
	CHECK(parse("CHARSET ISO-8859-1 ALL", 10, 100, &k) == -2 && !k);
	CHECK(parse("CHARSET KOI8-R SEEN", 10, 100, &k) == -2 && !k);
	CHECK(parse("CHARSET X-UNKNOWN FOO", 10, 100, &k) == -2 && !k);
	/* what needs text */
	CHECK(parse("SEEN OR 1:3 UID 5 NOT LARGER 3 SINCE 1-Jan-2000",
	    10, 100, &k) == 0 && !imap_search_needs_text(k));
	imap_search_free(k);
	CHECK(parse("SEEN NOT (FLAGGED SUBJECT x)", 10, 100, &k) == 0 &&
	    imap_search_needs_text(k));
	imap_search_free(k);
	CHECK(parse("SENTON 1-Jan-2000", 10, 100, &k) == 0 &&
	    imap_search_needs_text(k));
	imap_search_free(k);
	/* BODY "" is every message: no text needed */
	CHECK(parse("BODY \"\" TEXT \"\"", 10, 100, &k) == 0 &&
	    !imap_search_needs_text(k));
	imap_search_free(k);
}

static void
test_flags(void)
{
	static const struct {
		const char	*set, *unset;
		unsigned	flag;
	} f[] = {
		{ "ANSWERED", "UNANSWERED", MF_ANSWERED },
		{ "DELETED", "UNDELETED", MF_DELETED },
		{ "DRAFT", "UNDRAFT", MF_DRAFT },
		{ "FLAGGED", "UNFLAGGED", MF_FLAGGED },
		{ "SEEN", "UNSEEN", MF_SEEN }
	};
	size_t i;

	msg(plain);
	for (i = 0; i < NELEM(f); i++) {
		M.flags = 0;
		CHECK(run(f[i].set) == 0);
		CHECK(run(f[i].unset) == 1);
		M.flags = f[i].flag;
		CHECK(run(f[i].set) == 1);
		CHECK(run(f[i].unset) == 0);
		/* other flags do not count */
		M.flags = (MF_SEEN | MF_ANSWERED | MF_FLAGGED | MF_DRAFT |
		    MF_DELETED | MF_OLD) & ~f[i].flag;
		CHECK(run(f[i].set) == 0);
		CHECK(run(f[i].unset) == 1);
	}
	/* \Recent is the session's; NEW = RECENT UNSEEN, OLD = NOT RECENT */
	M.flags = 0;
	M.recent = 1;
	CHECK(run("RECENT") == 1 && run("NEW") == 1 && run("OLD") == 0);
	M.flags = MF_SEEN;
	CHECK(run("RECENT") == 1 && run("NEW") == 0 && run("OLD") == 0);
	M.recent = 0;
	M.flags = MF_OLD;	/* Status: O does not make it \Recent */
	CHECK(run("RECENT") == 0 && run("NEW") == 0 && run("OLD") == 1);
	M.flags = 0;
	CHECK(run("NEW") == 0);
	CHECK(S.calls == 0);
}

static void
test_keywords(void)
{
	msg(plain);
	CHECK(run("KEYWORD $Junk") == 0);
	CHECK(run("UNKEYWORD $Junk") == 1);
	M.keywords = "";
	CHECK(run("KEYWORD $Junk") == 0);
	M.keywords = "Work  $junk $Forwarded";
	CHECK(run("KEYWORD $Junk") == 1);
	CHECK(run("KEYWORD $JUNK") == 1);
	CHECK(run("KEYWORD $forwarded") == 1);
	CHECK(run("KEYWORD work") == 1);
	CHECK(run("UNKEYWORD work") == 0);
	CHECK(run("KEYWORD $Jun") == 0);
	CHECK(run("KEYWORD Junk") == 0);
	CHECK(run("KEYWORD $Junk2") == 0);
	CHECK(run("UNKEYWORD Home") == 1);
	CHECK(S.calls == 0);
}

static void
test_sizes(void)
{
	msg(plain);
	M.size = 1000;
	CHECK(run("LARGER 999") == 1);
	CHECK(run("LARGER 1000") == 0);
	CHECK(run("SMALLER 1001") == 1);
	CHECK(run("SMALLER 1000") == 0);
	CHECK(run("LARGER 0") == 1);
	CHECK(run("SMALLER 0") == 0);
	CHECK(run("NOT LARGER 1000") == 1);
	CHECK(S.calls == 0);
}

static void
test_sets(void)
{
	struct search_key *k;

	msg(plain);
	M.seq = 3;
	CHECK(run("3") == 1);
	CHECK(run("4") == 0);
	CHECK(run("1:3,5") == 1);
	CHECK(run("4:10") == 0);
	CHECK(run("5:2") == 1);
	CHECK(run("*") == 0);
	M.seq = 10;
	CHECK(run("*") == 1);
	CHECK(run("9:*") == 1);
	CHECK(run("1,2,3") == 0);
	M.uid = 42;
	CHECK(run("UID 42") == 1);
	CHECK(run("UID 41") == 0);
	CHECK(run("UID 1:41,43:*") == 0);
	CHECK(run("UID 40:50") == 1);
	CHECK(run("UID 100:*") == 0);
	CHECK(run("UID 500") == 0);	/* not in use: no error */
	M.uid = 100;
	CHECK(run("UID *") == 1);
	CHECK(run("UID 500:*") == 1);	/* RFC 3501 6.4.8: includes max */
	/* sequence numbers and UIDs are not confused */
	M.seq = 3;
	M.uid = 7;
	CHECK(run("7") == 0 && run("UID 3") == 0);
	CHECK(run("3 UID 7") == 1);
	/* an empty mailbox: "*" in a UID set matches nothing */
	CHECK(parse("UID 1:*", 0, 0, &k) == 0);
	CHECK(imap_search_match(k, &M) == 0);
	imap_search_free(k);
	CHECK(parse("1:*", 0, 0, &k) == -1);
	CHECK(S.calls == 0);
}

static void
test_dates(void)
{
	msg(plain);
	M.internaldate = june1;			/* 00:00:00 UTC */
	CHECK(run("ON 1-Jun-2020") == 1);
	CHECK(run("BEFORE 1-Jun-2020") == 0);
	CHECK(run("BEFORE 2-Jun-2020") == 1);
	CHECK(run("SINCE 1-Jun-2020") == 1);
	CHECK(run("SINCE 2-Jun-2020") == 0);
	CHECK(run("ON 31-May-2020") == 0);
	M.internaldate = june1 + 86399;		/* 23:59:59 UTC */
	CHECK(run("ON 1-Jun-2020") == 1);
	CHECK(run("SINCE 2-Jun-2020") == 0);
	M.internaldate = june1 - 1;		/* 31 May, 23:59:59 UTC */
	CHECK(run("ON 31-May-2020") == 1);
	CHECK(run("BEFORE 1-Jun-2020") == 1);
	CHECK(run("SINCE 1-Jun-2020") == 0);
	CHECK(run("since 1-jun-2020") == 0);
	M.internaldate = 0;
	CHECK(run("ON 1-Jan-1970") == 1);
	CHECK(run("BEFORE 1-Jan-1970") == 0);
	CHECK(run("SINCE 31-Dec-1969") == 1);
	CHECK(S.calls == 0);
}

static const char *
with_date(const char *date)
{
	static char text[512];

	snprintf(text, sizeof(text), "From: a@b\n%s\nSubject: x\n\nbody\n",
	    date);
	msg(text);
	return text;
}

static void
test_sent(void)
{
	/* the day as written, its zone ignored (UTC is 2 Jun 07:30) */
	msg(plain);
	CHECK(run("SENTON 1-Jun-2020") == 1);
	CHECK(run("SENTON 2-Jun-2020") == 0);
	CHECK(run("SENTBEFORE 1-Jun-2020") == 0);
	CHECK(run("SENTBEFORE 2-Jun-2020") == 1);
	CHECK(run("SENTSINCE 1-Jun-2020") == 1);
	CHECK(run("SENTSINCE 2-Jun-2020") == 0);
	CHECK(S.maxend <= M.hdr_len);	/* the header only */
	/* forms RFC 5322 allows, obsolete ones (4.3) included */
	with_date("Date: 1 Jun 2020 10:00:00 +0900");
	CHECK(run("SENTON 1-Jun-2020") == 1);
	with_date("DATE:   Mon,01 jun 2020 10:00 GMT");
	CHECK(run("SENTON 1-Jun-2020") == 1);
	with_date("Date: (sent) Mon (day) , 1 (x) Jun\n (y) 2020 10:00 EST");
	CHECK(run("SENTON 1-Jun-2020") == 1);
	with_date("Date: Mon, 1 Jun 99 10:00:00 +0000");
	CHECK(run("SENTON 1-Jun-1999") == 1);
	with_date("Date: Mon, 1 Jun 20 10:00:00 +0000");
	CHECK(run("SENTON 1-Jun-2020") == 1);
	with_date("Date: Mon, 1 Jun 120 10:00:00 +0000");
	CHECK(run("SENTON 1-Jun-2020") == 1);
	with_date("Date: Thu, 29 Feb 2024 10:00:00 +0000");
	CHECK(run("SENTON 29-Feb-2024") == 1);
	/* only the first Date: counts */
	with_date("Date: 3 Jun 2020 10:00 +0000\nDate: 1 Jun 2020 10:00 +0000");
	CHECK(run("SENTON 3-Jun-2020") == 1);
	CHECK(run("SENTON 1-Jun-2020") == 0);
	/* missing or unparsable: every SENT* key is false */
	with_date("X-Date: 1 Jun 2020 10:00 +0000");
	CHECK(run("SENTON 1-Jun-2020") == 0);
	CHECK(run("SENTBEFORE 1-Jun-2030") == 0);
	CHECK(run("SENTSINCE 1-Jan-1970") == 0);
	CHECK(run("NOT SENTBEFORE 1-Jun-2030") == 1);
	with_date("Date: sometime last week");
	CHECK(run("SENTBEFORE 1-Jun-2030") == 0);
	with_date("Date: 30 Feb 2020 10:00 +0000");
	CHECK(run("SENTBEFORE 1-Jun-2030") == 0);
	with_date("Date: Mon, 1 June 2020 10:00 +0000");
	CHECK(run("SENTON 1-Jun-2020") == 0);
	with_date("Date: Xyz, 1 Jun 2020 10:00 +0000");
	CHECK(run("SENTON 1-Jun-2020") == 0);
	with_date("Date: 2020-06-01T10:00:00Z");
	CHECK(run("SENTON 1-Jun-2020") == 0);
	/* (a key date every time_t can hold: 1900 is before a 32-bit
	 * time_t begins) */
	with_date("Date: 1 Jun 1899 10:00 +0000");
	CHECK(run("SENTSINCE 1-Jan-1970") == 0);
	CHECK(run("NOT SENTSINCE 1-Jan-1970") == 1);
	with_date("Date: 123 Jun 2020 10:00 +0000");
	CHECK(run("SENTBEFORE 1-Jun-2030") == 0);
}

static void
test_headers(void)
{
	msg(plain);
	CHECK(run("FROM alice") == 1);
	CHECK(run("FROM ALICE@EXAMPLE.ORG") == 1);
	CHECK(run("FROM \"Alice Example\"") == 1);
	CHECK(run("FROM bob") == 0);
	CHECK(run("TO bob@example.net") == 1);
	CHECK(run("TO carol") == 1);		/* a continuation line */
	CHECK(run("TO \"net, carol\"") == 1);	/* folding unfolded */
	CHECK(run("TO frank") == 1);		/* the second To: */
	CHECK(run("TO dave") == 0);
	CHECK(run("CC dave") == 1);
	CHECK(run("CC eve") == 0);
	CHECK(run("BCC eve") == 1);
	CHECK(run("BCC dave") == 0);
	CHECK(run("SUBJECT report") == 1);
	CHECK(run("SUBJECT \"quarterly rep\"") == 1);
	CHECK(run("SUBJECT invoice") == 0);
	CHECK(run("SUBJECT Hello") == 0);	/* body text is not */
	CHECK(run("HEADER subject REPORT") == 1);
	CHECK(run("HEADER SUBJECT report") == 1);
	CHECK(run("HEADER X-Empty \"\"") == 1);	/* the field exists */
	CHECK(run("HEADER X-Missing \"\"") == 0);
	CHECK(run("HEADER X-Empty x") == 0);
	CHECK(run("HEADER Subj report") == 0);
	CHECK(run("HEADER Date \"1 Jun\"") == 1);
	CHECK(run("HEADER \"\" \"\"") == 0);
	CHECK(run("FROM \"\"") == 1);
	CHECK(run("NOT SUBJECT report") == 0);
	CHECK(S.maxend <= M.hdr_len);
	/* a message with no header at all */
	msg("\nbody only\n");
	CHECK(run("SUBJECT x") == 0);
	CHECK(run("HEADER Subject \"\"") == 0);
	CHECK(run("NOT FROM x") == 1);
	/* white space before the colon (RFC 5322 4.5.1) */
	msg("Subject : spaced\n\nx\n");
	CHECK(run("SUBJECT spaced") == 1);
}

static void
test_rfc2047(void)
{
	struct search_key *k;

	msg("From: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= <t@example.jp>\n"
	    "Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\n"
	    "To: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\n"
	    "Cc: =?utf-8?q?=CE=91=CE=B8=CE=AE=CE=BD=CE=B1?= <x@example.gr>\n"
	    "\n"
	    "body\n");
	CHECK(run("SUBJECT \"" TESUTO "\"") == 1);
	CHECK(run("CHARSET UTF-8 SUBJECT \"" TESUTO "\"") == 1);
	CHECK(run("SUBJECT \"\xE3\x82\xB9\"") == 1);	/* "su" */
	CHECK(run("SUBJECT GyRC") == 0);		/* not the raw form */
	CHECK(run("FROM \"" TESUTO " <t@\"") == 1);
	CHECK(parse_lit("CHARSET UTF-8 SUBJECT ", TESUTO, 9, "", &k) == 0);
	CHECK(imap_search_match(k, &M) == 1);
	imap_search_free(k);
	/* case folding beyond ASCII: "ANDRE" with U+00C9 */
	CHECK(run("TO \"ANDR\xC3\x89\"") == 1);
	CHECK(run("TO \"andr\xC3\xA9\"") == 1);
	CHECK(run("TO \"ANDRE <\"") == 0);
	/* Greek capitals match the lower case word */
	CHECK(run("CC \"\xCE\x91\xCE\x98\xCE\x89\xCE\x9D\xCE\x91\"") == 1);
	CHECK(run("TEXT \"" TESUTO "\"") == 1);
	CHECK(run("BODY \"" TESUTO "\"") == 0);
	/* raw 8-bit header text read in the Content-Type's charset */
	msg("Subject: caf\xE9 cr\xE8me\n"
	    "Content-Type: text/plain; charset=\"iso-8859-1\"\n\nx\n");
	CHECK(run("SUBJECT \"CAF\xC3\x89\"") == 1);
	CHECK(run("SUBJECT \"cr\xC3\xA8me\"") == 1);
	/* raw ISO-2022-JP in a header, as old Japanese mailers sent */
	msg("Subject: \x1B$B%F%9%H\x1B(B mail\n\nx\n");
	CHECK(run("SUBJECT \"" TESUTO " mail\"") == 1);
}

/* Kept as lines: C89 compilers need not take string literals over 509
 * characters. */
static const char *const mime_lines[] = {
	"From: a@example.org\n",
	"Subject: parts\n",
	"MIME-Version: 1.0\n",
	"Content-Type: multipart/mixed; boundary=\"XX\"\n",
	"\n",
	"preamble words\n",
	"--XX\n",
	"Content-Type: text/plain; charset=utf-8\n",
	"Content-Transfer-Encoding: base64\n",
	"\n",
	"SGVsbG8gV29ybGQsIGNhZsOpIG5vaXIK\n",	/* Hello World, caf(e) noir */
	"--XX\n",
	"Content-Type: text/plain; charset=ISO-8859-1\n",
	"Content-Transfer-Encoding: quoted-printable\n",
	"\n",
	"Soft line br=\n",
	"eaks join; cr=E8me br=FBl=E9e, equals =3D sign=20\n",
	"--XX\n",
	"Content-Type: text/plain; charset=iso-2022-jp\n",
	"\n",
	"\x1B$B%F%9%H\x1B(B desu\n",
	"--XX\n",
	"Content-Type: application/octet-stream\n",
	"Content-Transfer-Encoding: base64\n",
	"\n",
	"c2VjcmV0IGJpbmFyeQ==\n",		/* "secret binary" */
	"--XX\n",
	"Content-Type: message/rfc822\n",
	"\n",
	"Subject: inner =?utf-8?b?w7xiZXI=?= mail\n",
	"From: inner@example.org\n",
	"\n",
	"Inner body text\n",
	"--XX--\n",
	"epilogue words\n"
};
static char mime[2048];

static void
test_bodies(void)
{
	msg(mime);
	CHECK(run("BODY \"hello world\"") == 1);	/* base64 */
	CHECK(run("BODY \"CAF\xC3\x89 NOIR\"") == 1);
	CHECK(run("BODY SGVsbG8") == 0);		/* not as stored */
	CHECK(run("BODY \"line breaks join\"") == 1);	/* QP soft break */
	CHECK(run("BODY \"cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e\"") == 1);
	CHECK(run("BODY \"equals = sign \"") == 1);
	CHECK(run("BODY \"=E8\"") == 0);
	CHECK(run("BODY \"" TESUTO " desu\"") == 1);	/* ISO-2022-JP */
	CHECK(run("BODY \"$B%F\"") == 0);
	CHECK(run("BODY c2VjcmV0") == 1);		/* non-text: raw */
	CHECK(run("BODY \"secret binary\"") == 0);
	CHECK(run("BODY \"inner body\"") == 1);		/* message/rfc822 */
	CHECK(run("BODY \"\xC3\x9C" "ber\"") == 1);	/* its header */
	CHECK(run("BODY \"subject: inner\"") == 1);
	CHECK(run("BODY preamble") == 0);
	CHECK(run("BODY epilogue") == 0);
	CHECK(run("BODY \"Content-Type\"") == 0);	/* MIME headers */
	CHECK(run("BODY parts") == 0);			/* the header */
	CHECK(run("TEXT parts") == 1);
	CHECK(run("TEXT \"subject: parts\"") == 1);
	CHECK(run("TEXT \"hello world\"") == 1);
	CHECK(run("TEXT nowhere") == 0);
	CHECK(run("SUBJECT \"inner\"") == 0);		/* not top-level */
	CHECK(run("BODY \"world, caf\xC3\xA9 noir\" BODY desu") == 1);
	CHECK(run("BODY hello BODY nowhere") == 0);
	CHECK(run("OR BODY nowhere BODY desu") == 1);
	CHECK(run("NOT BODY desu") == 0);
	CHECK(run("NOT BODY nowhere") == 1);
	/* a match never runs from one part into the next */
	CHECK(run("BODY \"noir desu\"") == 0);
	/* a plain message: no MIME headers at all */
	msg(plain);
	CHECK(run("BODY \"HELLO BOB\"") == 1);
	CHECK(run("BODY \"bob, the\"") == 0);	/* line breaks stay */
	CHECK(run("BODY numbers") == 1);
	CHECK(run("BODY alice") == 0);
	CHECK(run("TEXT alice") == 1);
	/* text without MIME labels: ISO-2022-JP and UTF-8 are guessed */
	msg("Subject: x\n\nplain \x1B$B%F%9%H\x1B(B text\n");
	CHECK(run("BODY \"" TESUTO " text\"") == 1);
	msg("Subject: x\n\nplain " TESUTO " text\n");
	CHECK(run("BODY \"" TESUTO " TEXT\"") == 1);
	msg("Subject: x\n\ncaf\xE9\n");		/* Latin-1 unlabelled */
	CHECK(run("BODY caf") == 1);
	CHECK(run("BODY \"caf\xC3\xA9\"") == 0);
}

/* A body much larger than a block, a needle across block boundaries. */
static void
test_big_body(void)
{
	static const char head[] = "Subject: big\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n";
	char *text, *p;
	size_t i, n;

	n = 200000;
	if ((text = malloc(sizeof(head) + n + n / 64 + 256)) == NULL) {
		CHECK(0);
		return;
	}
	strcpy(text, head);
	p = text + strlen(text);
	/* "YWJj" decodes to "abc"; lines of 76 characters */
	for (i = 0; i < n / 4; i++) {
		memcpy(p, "YWJj", 4);
		p += 4;
		if (i % 19 == 18)
			*p++ = '\n';
	}
	/* "needle" at the very end, base64 of "xneedle!" */
	strcpy(p, "eG5lZWRsZSE=\n");
	msg(text);
	CHECK(run("BODY \"abcabc\"") == 1);
	CHECK(run("BODY NEEDLE") == 1);
	CHECK(run("BODY \"cabcxneedle!\"") == 1);
	CHECK(run("BODY nothere") == 0);
	CHECK(run("BODY YWJj") == 0);
	/* a long text needle straddling every block boundary */
	strcpy(longarg, "BODY \"");
	for (i = 0; i < 900; i += 3)
		memcpy(longarg + 6 + i, "abc", 3);
	strcpy(longarg + 6 + i, "\"");
	CHECK(run(longarg) == 1);
	free(text);
}

static void
test_logic(void)
{
	msg(plain);
	M.flags = MF_SEEN;
	CHECK(run("OR SEEN FLAGGED") == 1);
	CHECK(run("OR FLAGGED SEEN") == 1);
	CHECK(run("OR FLAGGED DELETED") == 0);
	CHECK(run("NOT SEEN") == 0);
	CHECK(run("NOT NOT SEEN") == 1);
	CHECK(run("NOT (SEEN FLAGGED)") == 1);
	CHECK(run("(SEEN FLAGGED)") == 0);
	CHECK(run("SEEN FLAGGED") == 0);
	CHECK(run("SEEN UNFLAGGED") == 1);
	CHECK(run("OR (SEEN FLAGGED) (UNSEEN UNFLAGGED)") == 0);
	CHECK(run("OR (SEEN UNFLAGGED) DELETED") == 1);
	CHECK(run("OR OR OR DELETED DRAFT FLAGGED SEEN") == 1);
	CHECK(run("OR OR OR DELETED DRAFT FLAGGED ANSWERED") == 0);
	CHECK(run("NOT OR FLAGGED DELETED") == 1);
	CHECK(run("(((SEEN)))") == 1);
	CHECK(run("OR SUBJECT invoice (SEEN SUBJECT report)") == 1);
	CHECK(run("OR SUBJECT invoice (SEEN SUBJECT memo)") == 0);
	CHECK(run("NOT OR SUBJECT invoice BODY nowhere") == 1);
	CHECK(run("OR NOT SUBJECT report BODY numbers") == 1);
	CHECK(run("OR NOT SUBJECT report BODY nowhere") == 0);
	CHECK(run("3 UID 42 SEEN SUBJECT report BODY bob SENTON 1-Jun-2020")
	    == 1);
	CHECK(run("3 UID 42 SEEN SUBJECT report BODY bob SENTON 2-Jun-2020")
	    == 0);
}

/* Keys that need no text never read; cheap keys settle first. */
static void
test_no_reads(void)
{
	msg(plain);
	S.fail = 1;
	M.flags = MF_SEEN;
	CHECK(run("SEEN LARGER 10 ON 1-Jun-2020 UID 42 3") == 1);
	CHECK(run("UNSEEN BODY x") == 0);
	CHECK(run("BODY x UNSEEN") == 0);
	CHECK(run("OR BODY x SEEN") == 1);
	CHECK(run("NOT (SUBJECT x SEEN)") == -1);
	CHECK(run("NOT (SUBJECT x UNSEEN)") == 1);
	CHECK(run("4 TEXT x") == 0);
	CHECK(run("UID 1 SENTON 1-Jun-2020") == 0);
	CHECK(run("OR HEADER a b OR TO x SEEN") == 1);
	S.calls = 0;
	S.fail = 0;
	CHECK(run("SEEN SUBJECT report") == 1);
	CHECK(S.calls > 0);
	/* a header key settles without reading the body */
	S.maxend = 0;
	CHECK(run("SUBJECT invoice BODY bob") == 0);
	CHECK(S.maxend <= M.hdr_len);
	S.maxend = 0;
	CHECK(run("OR SUBJECT report BODY bob") == 1);
	CHECK(S.maxend <= M.hdr_len);
	/* TEXT found in the header needs no body */
	S.maxend = 0;
	CHECK(run("TEXT quarterly") == 1);
	CHECK(S.maxend <= M.hdr_len);
	S.maxend = 0;
	CHECK(run("TEXT numbers") == 1);
	CHECK(S.maxend == M.len);
}

static void
test_read_errors(void)
{
	msg(plain);
	S.fail = 1;
	CHECK(run("SUBJECT report") == -1);
	CHECK(run("BODY bob") == -1);
	CHECK(run("TEXT bob") == -1);
	CHECK(run("SENTON 1-Jun-2020") == -1);
	CHECK(run("NOT BODY bob") == -1);
	msg(mime);
	S.fail = 1;
	CHECK(run("BODY desu") == -1);
	/* a message shorter than it claims is searched as far as it goes */
	msg(plain);
	M.len += 1000;
	CHECK(run("BODY numbers") == 1);
	CHECK(run("BODY nowhere") == 0);
}

static unsigned long rnd_state = 12345;

static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245UL + 12345UL;
	return (unsigned)((rnd_state >> 16) & 0x7FFF) % n;
}

/*
 * Random commands from search words: each either parses (and then
 * matches 0 or 1, and NOT of it the opposite) or is refused with an
 * error text; random cuts of a MIME message never make a search fail.
 */
static void
test_fuzz(void)
{
	static const char *const words[] = {
		"NOT", "OR", "(", ")", "SEEN", "UNSEEN", "SUBJECT", "x",
		"\"a b\"", "1:3", "*", "UID", "BEFORE", "1-Jan-2000", "HEADER",
		"BODY", "TEXT", "LARGER", "5", "CHARSET", "UTF-8", "FOO",
		"desu", "parts", "SENTON", "ALL", "\"\"", "KEYWORD", "To"
	};
	struct search_key *k;
	char cmd[512], neg[600];
	size_t len;
	int i, j, n, r, bad_rc, odd, a, b;

	bad_rc = odd = 0;
	for (i = 0; i < 10000; i++) {
		cmd[0] = '\0';
		n = 1 + (int)rnd(8);
		for (j = 0; j < n; j++) {
			if (j > 0 && rnd(8) != 0)
				strcat(cmd, " ");
			strcat(cmd, words[rnd(NELEM(words))]);
		}
		r = parse(cmd, 10, 100, &k);
		if (r == -1 && err != NULL && k == NULL)
			continue;
		if (r == -2 && k == NULL)
			continue;
		if (r != 0) {
			bad_rc++;
			continue;
		}
		len = strlen(mime);
		msg(mime);
		M.len = (unsigned long)(rnd(2) ? len : rnd((unsigned)len));
		M.hdr_len = M.hdr_len < M.len ? M.hdr_len : M.len;
		M.flags = rnd(2) ? MF_SEEN : 0;
		a = imap_search_match(k, &M);
		imap_search_free(k);
		if (strncmp(cmd, "CHARSET", 7) == 0)
			continue;
		snprintf(neg, sizeof(neg), "NOT (%s)", cmd);
		if (parse(neg, 10, 100, &k) != 0) {
			odd++;
			continue;
		}
		b = imap_search_match(k, &M);
		imap_search_free(k);
		if ((a != 0 && a != 1) || b != !a)
			odd++;
	}
	CHECK(bad_rc == 0);
	CHECK(odd == 0);
}

int
main(void)
{
	size_t i;

	imapcb_init(&cb);
	for (i = 0; i < NELEM(mime_lines); i++)
		strcat(mime, mime_lines[i]);
	if (imap_parse_date("1-Jun-2020", 10, &june1) < 0) {
		fprintf(stderr, "imap_parse_date failed\n");
		return 1;
	}
	test_parse_errors();
	test_parse_good();
	test_flags();
	test_keywords();
	test_sizes();
	test_sets();
	test_dates();
	test_sent();
	test_headers();
	test_rfc2047();
	test_bodies();
	test_big_body();
	test_logic();
	test_no_reads();
	test_read_errors();
	test_fuzz();
	imapcb_free(&cb);
	return check_exit("test_imap_search");
}

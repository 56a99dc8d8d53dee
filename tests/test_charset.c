/*
 * test_charset.c - unit tests of src/charset.c.  Every expected string was
 * checked against Python 3's codecs (iso2022_jp, shift_jis, cp932, euc_jp,
 * cp1252, utf-8 with errors='replace') when the test was written; UTF-8
 * results are spelled as C escapes so that the file stays ASCII.
 */
#include "yubin.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "charset.h"
#include "check.h"

#define R	"\xEF\xBF\xBD"		/* U+FFFD in UTF-8 */

static void
show(const char *what, const char *in, size_t inlen, const struct buf *b)
{
	size_t i;

	fprintf(stderr, "  %s(", what);
	for (i = 0; i < inlen; i++)
		fprintf(stderr, (unsigned char)in[i] < 0x20 ||
		    (unsigned char)in[i] > 0x7e ? "\\x%02X" : "%c",
		    (unsigned char)in[i]);
	fprintf(stderr, ") gave \"");
	for (i = 0; i < buf_used(b); i++)
		fprintf(stderr, (unsigned char)b->data[b->off + i] < 0x20 ||
		    (unsigned char)b->data[b->off + i] > 0x7e ? "\\x%02X" :
		    "%c", (unsigned char)b->data[b->off + i]);
	fprintf(stderr, "\"\n");
}

static int
same(const struct buf *b, const char *want)
{
	/* an empty buf has no data pointer: no memcmp(NULL, ...) */
	return buf_used(b) == strlen(want) && (buf_used(b) == 0 ||
	    memcmp(buf_ptr(b), want, strlen(want)) == 0);
}

static int
hdr_fb(const char *in, const char *fallback, const char *want)
{
	struct buf b;
	int ok;

	buf_init(&b, 0);
	ok = charset_decode_header(in, strlen(in), fallback, &b) ==
	    CHARSET_OK && same(&b, want);
	if (!ok)
		show("header", in, strlen(in), &b);
	buf_free(&b);
	return ok;
}

static int
hdr(const char *in, const char *want)
{
	return hdr_fb(in, NULL, want);
}

/* Convert in one go, then byte by byte: both must give want. */
static int
conv_n(enum charset_id id, const char *in, size_t len, const char *want)
{
	struct charset_conv c;
	struct buf b;
	size_t i;
	int ok;

	buf_init(&b, 0);
	ok = charset_to_utf8(id, in, len, &b) == CHARSET_OK && same(&b, want);
	if (!ok)
		show("convert", in, len, &b);
	buf_reset(&b);
	charset_conv_init(&c, id);
	for (i = 0; i < len; i++)
		if (charset_conv_feed(&c, in + i, 1, &b) != CHARSET_OK)
			ok = 0;
	if (charset_conv_end(&c, &b) != CHARSET_OK || !same(&b, want)) {
		show("convert bytewise", in, len, &b);
		ok = 0;
	}
	buf_free(&b);
	return ok;
}

static int
conv(enum charset_id id, const char *in, const char *want)
{
	return conv_n(id, in, strlen(in), want);
}

static void
test_lookup(void)
{
	CHECK(charset_lookup("UTF-8", 5) == CS_UTF8);
	CHECK(charset_lookup("utf-8xyz", 5) == CS_UTF8);
	CHECK(charset_lookup("Us-Ascii", 8) == CS_ASCII);
	CHECK(charset_lookup("ISO-2022-JP", 11) == CS_ISO2022JP);
	CHECK(charset_lookup("Shift_JIS", 9) == CS_SJIS);
	CHECK(charset_lookup("Windows-31J", 11) == CS_CP932);
	CHECK(charset_lookup("EUC-JP", 6) == CS_EUCJP);
	CHECK(charset_lookup("iso-8859-1", 10) == CS_LATIN1);
	CHECK(charset_lookup("ISO-8859-2", 10) == CS_UNKNOWN);
	CHECK(charset_lookup("UTF-8", 4) == CS_UNKNOWN);
	CHECK(charset_lookup("", 0) == CS_UNKNOWN);
}

static void
test_utf8(void)
{
	CHECK(conv(CS_UTF8, "plain", "plain"));
	CHECK(conv(CS_UTF8, "\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80"));
	/* One U+FFFD per maximal valid prefix (Python gives the same). */
	CHECK(conv(CS_UTF8, "\xC3(", R "("));
	CHECK(conv(CS_UTF8, "\xC0\xAF", R R));
	CHECK(conv(CS_UTF8, "\xE0\x80\x80", R R R));
	CHECK(conv(CS_UTF8, "\xED\xA0\x80", R R R));
	CHECK(conv(CS_UTF8, "\xF4\x90\x80\x80", R R R R));
	CHECK(conv(CS_UTF8, "\xE6\x97", R));
	CHECK(conv(CS_UTF8, "\xF0\x9F\x98", R));
	CHECK(conv(CS_UTF8, "\xF0\x9F\x98" "a", R "a"));
	CHECK(conv(CS_UTF8, "a\x80" "b", "a" R "b"));
	CHECK(conv(CS_UTF8, "\xFE\xFF", R R));
	{
		struct buf b;

		buf_init(&b, 0);
		CHECK(charset_to_utf8(CS_UTF8, "a\0b", 3, &b) == 0 &&
		    buf_used(&b) == 3 && memcmp(buf_ptr(&b), "a\0b", 3) == 0);
		buf_free(&b);
	}
}

static void
test_simple(void)
{
	CHECK(conv(CS_LATIN1, "caf\xE9", "caf\xC3\xA9"));
	CHECK(conv(CS_LATIN1, "\xFF\xA0", "\xC3\xBF\xC2\xA0"));
	/* 0x80-0x9F as windows-1252 (WHATWG; Python's cp1252 agrees where
	 * cp1252 has a character) */
	CHECK(conv(CS_LATIN1, "\x80\x93x\x94\x9F",
	    "\xE2\x82\xAC\xE2\x80\x9Cx\xE2\x80\x9D\xC5\xB8"));
	CHECK(conv(CS_LATIN1, "\x81", "\xC2\x81"));
	CHECK(conv(CS_ASCII, "abc\xE9", "abc" R));
	CHECK(conv(CS_UNKNOWN, "\xC4\xC1 ok", R R " ok"));
}

static void
test_iso2022jp(void)
{
	/* "Nihongo" (RFC 1468) */
	CHECK(conv(CS_ISO2022JP, "\x1b$BF|K\\8l\x1b(B",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	CHECK(conv(CS_ISO2022JP, "a\x1b$@F|\x1b(Bb", "a\xE6\x97\xA5" "b"));
	CHECK(conv(CS_ISO2022JP, "\x1b$(BF|\x1b(B", "\xE6\x97\xA5"));
	/* JIS X 0201 Roman: yen sign and overline */
	CHECK(conv(CS_ISO2022JP, "\x1b(J\\~a\x1b(B\\", "\xC2\xA5\xE2\x80\xBE"
	    "a\\"));
	/* half-width katakana by ESC ( I and by SO/SI: "kata" */
	CHECK(conv(CS_ISO2022JP, "\x1b(I6@\x1b(B", "\xEF\xBD\xB6\xEF\xBE\x80"));
	CHECK(conv(CS_ISO2022JP, "\x0e" "6@\x0f" "6", "\xEF\xBD\xB6\xEF\xBE\x80"
	    "6"));
	/* NEC row 13 (circled one, kabushiki-gaisha) as Windows sends */
	CHECK(conv(CS_ISO2022JP, "\x1b$B-!-j\x1b(B",
	    "\xE2\x91\xA0\xE3\x88\xB1"));
	/* WAVE DASH stays JIS's U+301C */
	CHECK(conv(CS_ISO2022JP, "\x1b$B!A\x1b(B", "\xE3\x80\x9C"));
	/* JIS X 0212 designated: two bytes per U+FFFD */
	CHECK(conv(CS_ISO2022JP, "\x1b$(D0!\x1b(Bx", R "x"));
	/* unknown escape, 8-bit byte, bad second byte, cut char, cut ESC */
	CHECK(conv(CS_ISO2022JP, "\x1b%Gx", R "%Gx"));
	CHECK(conv(CS_ISO2022JP, "a\xA4" "b", "a" R "b"));
	CHECK(conv(CS_ISO2022JP, "\x1b$BF\x80", R R));
	CHECK(conv(CS_ISO2022JP, "\x1b$BF|F", "\xE6\x97\xA5" R));
	CHECK(conv(CS_ISO2022JP, "ab\x1b$", "ab" R));
	/* user-defined row 85: no character */
	CHECK(conv(CS_ISO2022JP, "\x1b$Bu!\x1b(B", R));
	/* a line break in kanji mode passes through */
	CHECK(conv(CS_ISO2022JP, "\x1b$BF|\nK\\",
	    "\xE6\x97\xA5\n\xE6\x9C\xAC"));
}

static void
test_sjis_eucjp(void)
{
	CHECK(conv(CS_SJIS, "\x93\xFA\x96{\x8C\xEA",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	/* half-width "katakana" */
	CHECK(conv(CS_SJIS, "\xB6\xC0\xB6\xC5",
	    "\xEF\xBD\xB6\xEF\xBE\x80\xEF\xBD\xB6\xEF\xBE\x85"));
	CHECK(conv(CS_SJIS, "\x87@\x87\x8A", "\xE2\x91\xA0\xE3\x88\xB1"));
	CHECK(conv(CS_SJIS, "\xFA@\xFA[", "\xE2\x85\xB0\xE2\x88\xB5"));
	CHECK(conv(CS_SJIS, "\xEE\xEF", "\xE2\x85\xB0"));	/* NEC-IBM */
	/* 0x8160: WAVE DASH under Shift_JIS, FULLWIDTH TILDE under CP932 */
	CHECK(conv(CS_SJIS, "\x81`", "\xE3\x80\x9C"));
	CHECK(conv(CS_CP932, "\x81`", "\xEF\xBD\x9E"));
	CHECK(conv(CS_SJIS, "\\~", "\\~"));
	CHECK(conv(CS_SJIS, "\x93 x", R " x"));		/* bad trail */
	CHECK(conv(CS_SJIS, "\x80\xA0\xFD", R R R));
	CHECK(conv(CS_SJIS, "\xF0@", R));			/* user area */
	CHECK(conv(CS_SJIS, "a\x93", "a" R));		/* cut */

	CHECK(conv(CS_EUCJP, "\xC6\xFC\xCB\xDC\xB8\xEC",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	CHECK(conv(CS_EUCJP, "\x8E\xB6\x8E\xC5", "\xEF\xBD\xB6\xEF\xBE\x85"));
	CHECK(conv(CS_EUCJP, "\xAD\xA1", "\xE2\x91\xA0"));	/* CP51932 */
	CHECK(conv(CS_EUCJP, "\x8F\xB0\xA1x", R "x"));	/* JIS X 0212 */
	CHECK(conv(CS_EUCJP, "\x8F\xB0x", R R "x"));
	CHECK(conv(CS_EUCJP, "\x8E" "a\xC6", R "a" R));
	CHECK(conv(CS_EUCJP, "\xC6" "a", R "a"));
}

static void
test_rfc2047_examples(void)
{
	/* RFC 2047 section 8, every example, as "displayed as" */
	CHECK(hdr("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
	    "Keith Moore <moore@cs.utk.edu>"));
	CHECK(hdr("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
	    "Keld J\xC3\xB8rn Simonsen <keld@dkuug.dk>"));
	CHECK(hdr("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
	    "Andr\xC3\xA9 Pirard <PIRARD@vm1.ulg.ac.be>"));
	/* ISO-8859-2 is not ours, but this text is ASCII */
	CHECK(hdr("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
	    " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
	    "If you can read this you understand the example."));
	CHECK(hdr("=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>",
	    "Olle J\xC3\xA4rnefors <ojarnef@admin.kth.se>"));
	CHECK(hdr("=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= <paf@nada.kth.se>",
	    "Patrik F\xC3\xA4ltstr\xC3\xB6m <paf@nada.kth.se>"));
	/* ISO-8859-8 is unknown: Hebrew letters become U+FFFD, spaces
	 * stay; the folding line break goes, its indentation stays */
	CHECK(hdr("Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
	    "      (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
	    "Nathaniel Borenstein <nsb@thumper.bellcore.com>      ("
	    R R R R " " R R " " R R R R R ")"));
	CHECK(hdr("(=?ISO-8859-1?Q?a?=)", "(a)"));
	CHECK(hdr("(=?ISO-8859-1?Q?a?= b)", "(a b)"));
	CHECK(hdr("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"));
	CHECK(hdr("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"));
	CHECK(hdr("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"));
	CHECK(hdr("(=?ISO-8859-1?Q?a_b?=)", "(a b)"));
	CHECK(hdr("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"));
	/* RFC 2231 section 5: a language after "*" */
	CHECK(hdr("=?US-ASCII*EN?Q?Keith_Moore?= <moore@cs.utk.edu>",
	    "Keith Moore <moore@cs.utk.edu>"));
	CHECK(hdr("=?utf-8*ja?b?5pel5pys6Kqe?=",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
}

static void
test_rfc2047_japanese(void)
{
	CHECK(hdr("=?ISO-2022-JP?B?GyRCJF4kOCRhJEskKhsoQg==?=",
	    "\xE3\x81\xBE\xE3\x81\x98\xE3\x82\x81\xE3\x81\xAB\xE3\x81\x8A"));
	CHECK(hdr("Re: =?iso-2022-jp?B?GyRCJTUlJCVIJE4kKkNOJGkkOxsoQg==?= [1]",
	    "Re: \xE3\x82\xB5\xE3\x82\xA4\xE3\x83\x88\xE3\x81\xAE\xE3\x81\x8A"
	    "\xE7\x9F\xA5\xE3\x82\x89\xE3\x81\x9B [1]"));
	/* a UTF-8 character split between two words */
	CHECK(hdr("=?UTF-8?B?5pel5g==?= =?UTF-8?B?nKzoqp4=?=",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	/* an ISO-2022-JP character split between words, and the kanji
	 * mode carried from one word into the next */
	CHECK(hdr("=?ISO-2022-JP?B?GyRCRnxL?=\r\n =?ISO-2022-JP?B?XDhsGyhC?=",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	CHECK(hdr("=?ISO-2022-JP?B?GyRCRnxLXA==?= =?ISO-2022-JP?B?OGwbKEI=?=",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	/* a split character not completed: the charset changes */
	CHECK(hdr("=?UTF-8?B?5pel5g==?= =?ISO-8859-1?Q?a?=",
	    "\xE6\x97\xA5" R "a"));
	/* the same split, but text between: the run ends */
	CHECK(hdr("=?UTF-8?B?5pel5g==?= x =?UTF-8?B?nKzoqp4=?=",
	    "\xE6\x97\xA5" R " x " R R "\xE8\xAA\x9E"));
	/* Shift_JIS and EUC-JP words */
	CHECK(hdr("=?Shift_JIS?B?k/qWe4zq?=",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	CHECK(hdr("=?EUC-JP?Q?=C6=FC=CB=DC=B8=EC?=",
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
}

static void
test_rfc2047_edges(void)
{
	CHECK(hdr("=?UTF-8?Q?caf=C3=A9_au_lait?=", "caf\xC3\xA9 au lait"));
	CHECK(hdr("=?utf-8?q?a=5fb=3F?=", "a_b?"));
	CHECK(hdr("=?utf-8?q?=c3=a9?=", "\xC3\xA9"));	/* lower-case */
	CHECK(hdr("=?UTF-8?B?\?=", ""));	/* "?\?=": no trigraph */
	CHECK(hdr("=?UTF-8?B?5pel?=", "\xE6\x97\xA5"));
	CHECK(hdr("=?UTF-8?B?5pel5pys?=", "\xE6\x97\xA5\xE6\x9C\xAC"));
	CHECK(hdr("=?UTF-8?B?YQ?=", "a"));		/* padding missing */
	/* unknown charset: ASCII kept, other bytes U+FFFD */
	CHECK(hdr("=?KOI8-R?B?8NLJ18XU?= ok", R R R R R R " ok"));
	CHECK(hdr("=?x-unknown?Q?plain?=", "plain"));
	/* not encoded words: left as they are */
	CHECK(hdr("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="));
	CHECK(hdr("=?UTF-8?B?abc", "=?UTF-8?B?abc"));
	CHECK(hdr("=?UTF-8?Q?a=ZZ?=", "=?UTF-8?Q?a=ZZ?="));
	CHECK(hdr("=?UTF-8?Q?a=4?=", "=?UTF-8?Q?a=4?="));
	CHECK(hdr("=?UTF-8?B?Y?=", "=?UTF-8?B?Y?="));
	CHECK(hdr("=?UTF-8?B?Y!==?=", "=?UTF-8?B?Y!==?="));
	CHECK(hdr("=??Q?a?=", "=??Q?a?="));
	CHECK(hdr("=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?="));
	CHECK(hdr("=?UTF 8?Q?a?=", "=?UTF 8?Q?a?="));
	CHECK(hdr("=?UTF-8?Q?a?", "=?UTF-8?Q?a?"));
	CHECK(hdr("=?", "=?"));
	CHECK(hdr("a =?=?=?", "a =?=?=?"));
	/* a bad word between good ones keeps its white space */
	CHECK(hdr("=?UTF-8?Q?a?= =?UTF-8?X?b?= =?UTF-8?Q?c?=",
	    "a =?UTF-8?X?b?= c"));
	/* words next to text are decoded too (what readers show) */
	CHECK(hdr("\"=?UTF-8?Q?J=C3=BCrgen?=\" <j@x>",
	    "\"J\xC3\xBCrgen\" <j@x>"));
	CHECK(hdr("x=?UTF-8?Q?y?=z", "xyz"));
	/* white space after the last word, or before text, is kept */
	CHECK(hdr("=?UTF-8?Q?a?=  b", "a  b"));
	CHECK(hdr("=?UTF-8?Q?a?=  ", "a  "));
	CHECK(hdr("", ""));
	/* unfolding */
	CHECK(hdr("long\r\n subject\n\tline", "long subject\tline"));
}

static void
test_raw_headers(void)
{
	/* raw UTF-8 (RFC 6532) kept */
	CHECK(hdr("Caf\xC3\xA9 \xE6\x97\xA5", "Caf\xC3\xA9 \xE6\x97\xA5"));
	/* raw Latin-1: the fallback, or U+FFFD without one */
	CHECK(hdr_fb("Caf\xE9", "ISO-8859-1", "Caf\xC3\xA9"));
	CHECK(hdr_fb("Caf\xE9", NULL, "Caf" R));
	CHECK(hdr_fb("Caf\xE9", "x-bogus", "Caf" R));
	/* raw Shift_JIS with the body's charset as fallback */
	CHECK(hdr_fb("\x93\xFA\x96{", "Shift_JIS", "\xE6\x97\xA5\xE6\x9C\xAC"));
	/* the fallback does not touch valid UTF-8 */
	CHECK(hdr_fb("\xC3\xA9", "ISO-8859-1", "\xC3\xA9"));
	/* raw ISO-2022-JP, as old Japanese mailers sent it */
	CHECK(hdr("Re: \x1b$BF|K\\8l\x1b(B!",
	    "Re: \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E!"));
	/* mixed: raw text and an encoded word */
	CHECK(hdr_fb("\xE9t\xE9 =?UTF-8?Q?=C3=A9?=", "latin1",
	    "\xC3\xA9t\xC3\xA9 \xC3\xA9"));
}

static void
test_truncation(void)
{
	struct buf b;
	const char *in;

	/* "nihongo nihongo" (18 bytes of UTF-8) into 10: cut after 9 */
	in = "=?UTF-8?B?5pel5pys6Kqe5pel5pys6Kqe?=";
	buf_init(&b, 10);
	CHECK(charset_decode_header(in, strlen(in), NULL, &b) ==
	    CHARSET_TRUNC);
	CHECK(same(&b, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
	buf_free(&b);
	buf_init(&b, 4);
	CHECK(charset_decode_header("abcdef", 6, NULL, &b) == CHARSET_TRUNC);
	CHECK(same(&b, "abcd"));
	buf_free(&b);
	buf_init(&b, 2);
	CHECK(charset_to_utf8(CS_ISO2022JP, "\x1b$BF|\x1b(B", 8, &b) ==
	    CHARSET_TRUNC && buf_used(&b) == 0);
	buf_free(&b);
	buf_init(&b, 3);
	CHECK(charset_to_utf8(CS_ISO2022JP, "\x1b$BF|\x1b(B", 8, &b) ==
	    CHARSET_OK && buf_used(&b) == 3);
	buf_free(&b);
}

static int
fold_is(const char *in, const char *want)
{
	struct buf b;
	int ok;

	buf_init(&b, 0);
	ok = charset_fold(in, strlen(in), &b) == CHARSET_OK && same(&b, want);
	if (!ok)
		show("fold", in, strlen(in), &b);
	buf_free(&b);
	return ok;
}

static void
test_fold(void)
{
	CHECK(fold_is("Hello WORLD 123 [@]", "hello world 123 [@]"));
	/* A-grave E-acute I-circumflex AE O-stroke THORN; times stays */
	CHECK(fold_is("\xC3\x80\xC3\x89\xC3\x8E\xC3\x86\xC3\x98\xC3\x9E"
	    "\xC3\x97",
	    "\xC3\xA0\xC3\xA9\xC3\xAE\xC3\xA6\xC3\xB8\xC3\xBE\xC3\x97"));
	CHECK(fold_is("\xC3\x9F", "\xC3\x9F"));	/* sharp s stays */
	CHECK(fold_is("\xC2\xB5", "\xCE\xBC"));		/* micro -> mu */
	/* L-stroke, S-caron, Z-dot, Y-diaeresis, long s; dotted I stays */
	CHECK(fold_is("\xC5\x81\xC5\xA0\xC5\xBB\xC5\xB8\xC5\xBF\xC4\xB0",
	    "\xC5\x82\xC5\xA1\xC5\xBC\xC3\xBFs\xC4\xB0"));
	/* Greek ALPHA BETA OMEGA, ALPHA-tonos, OMEGA-tonos, final sigma */
	CHECK(fold_is("\xCE\x91\xCE\x92\xCE\xA9\xCE\x86\xCE\x8F\xCF\x82",
	    "\xCE\xB1\xCE\xB2\xCF\x89\xCE\xAC\xCF\x8E\xCF\x83"));
	/* Cyrillic DE ZHE YA IO */
	CHECK(fold_is("\xD0\x94\xD0\x96\xD0\xAF\xD0\x81",
	    "\xD0\xB4\xD0\xB6\xD1\x8F\xD1\x91"));
	/* full-width A Z, full-width a and digit 1 stay */
	CHECK(fold_is("\xEF\xBC\xA1\xEF\xBC\xBA\xEF\xBD\x81\xEF\xBC\x91",
	    "\xEF\xBD\x81\xEF\xBD\x9A\xEF\xBD\x81\xEF\xBC\x91"));
	/* Japanese has no case */
	CHECK(fold_is("\xE3\x81\xBE\xE3\x82\xB5", "\xE3\x81\xBE\xE3\x82\xB5"));
	CHECK(fold_is("A\xC3", "a" R));
	CHECK(fold_is("", ""));
}

static int
naive_find(const char *h, size_t hl, const char *n, size_t nl)
{
	size_t i;

	for (i = 0; i + nl <= hl; i++)
		if (memcmp(h + i, n, nl) == 0)
			return 1;
	return nl == 0;
}

static unsigned long rnd_state = 12345;

static unsigned long
rnd(void)
{
	rnd_state = (rnd_state * 1103515245UL + 12345UL) & 0xFFFFFFFFUL;
	return rnd_state >> 16;
}

static void
test_search(void)
{
	struct charset_match m;
	struct buf b;
	static char big[CHARSET_NEEDLE_MAX + 2];
	const char *hay;
	size_t i;

	CHECK(charset_search("Hello World", 11, "world") == 1);
	CHECK(charset_search("Hello World", 11, "worlds") == 0);
	CHECK(charset_search("Hello World", 11, "") == 1);
	CHECK(charset_search("", 0, "") == 1);
	CHECK(charset_search("", 0, "a") == 0);
	CHECK(charset_search("aaaab", 5, "aaab") == 1);
	CHECK(charset_search("abaabab", 7, "abab") == 1);
	CHECK(charset_search("abaaba", 6, "abab") == 0);
	/* Japanese: substring, no case */
	hay = "\xE3\x81\xBE\xE3\x81\x98\xE3\x82\x81\xE3\x81\xAB\xE3\x81\x8A";
	CHECK(charset_search(hay, strlen(hay), "\xE3\x81\x98\xE3\x82\x81"));
	CHECK(!charset_search(hay, strlen(hay), "\xE3\x81\x8A\xE3\x81\xBE"));
	/* mixed: full-width "ABC" + "kai" found by folded full-width "abc" */
	hay = "Re: \xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3\xE4\xBC\x9A";
	CHECK(charset_search(hay, strlen(hay),
	    "\xEF\xBD\x81\xEF\xBD\x82\xEF\xBD\x83\xE4\xBC\x9A") == 1);
	CHECK(charset_search(hay, strlen(hay), "abc") == 0);
	CHECK(charset_search("J\xC3\x9CRGEN", 7, "j\xC3\xBCrgen") == 1);
	CHECK(charset_search("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", 8,
	    "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83") == 1);
	CHECK(charset_search("a\xFF" "b", 3, "a" R "b") == 1);
	memset(big, 'a', sizeof(big) - 1);
	CHECK(charset_search("aaa", 3, big) == -1);
	big[CHARSET_NEEDLE_MAX] = '\0';
	CHECK(charset_match_init(&m, big, CHARSET_NEEDLE_MAX) == 0);

	/* pieces: every split of a haystack, a character cut included */
	hay = "xx\xEF\xBC\xA1\xEF\xBC\xA2 yy";
	for (i = 0; i <= strlen(hay); i++) {
		CHECK(charset_match_init(&m, "\xEF\xBD\x81\xEF\xBD\x82",
		    6) == 0);
		charset_match_feed(&m, hay, i);
		CHECK(charset_match_feed(&m, hay + i, strlen(hay) - i) == 1);
		charset_match_reset(&m);
		CHECK(charset_match_feed(&m, "zz", 2) == 0);
	}

	/* the longest needle, against a haystack of the same byte */
	memset(big, 'a', sizeof(big) - 1);
	big[CHARSET_NEEDLE_MAX] = '\0';
	CHECK(charset_match_init(&m, big, CHARSET_NEEDLE_MAX) == 0);
	CHECK(charset_match_feed(&m, big, CHARSET_NEEDLE_MAX - 1) == 0);
	CHECK(charset_match_feed(&m, "A", 1) == 1);

	/* the way SEARCH uses it: a client string folded once */
	buf_init(&b, 0);
	CHECK(charset_fold("\xEF\xBC\xA1\xEF\xBD\x82" "C\xE4\xBC\x9A", 10,
	    &b) == CHARSET_OK && buf_terminate(&b) == 0);
	hay = "Re: \xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3\xE4\xBC\x9A";
	CHECK(charset_search(hay, strlen(hay), buf_ptr(&b)) == 0);
	buf_reset(&b);
	CHECK(charset_fold("\xEF\xBC\xA1\xEF\xBD\x82\xEF\xBC\xA3"
	    "\xE4\xBC\x9A", 12, &b) == CHARSET_OK && buf_terminate(&b) == 0);
	CHECK(charset_search(hay, strlen(hay), buf_ptr(&b)) == 1);
	buf_free(&b);
}

static void
test_search_random(void)
{
	char h[40], f[40], n[6];
	size_t i, hl, nl;
	int t, bad;

	/* KMP against a naive search of the folded haystack */
	bad = 0;
	for (t = 0; t < 20000; t++) {
		hl = rnd() % sizeof(h);
		nl = rnd() % sizeof(n);
		for (i = 0; i < hl; i++)
			h[i] = "abAB"[rnd() % 4];
		for (i = 0; i < nl; i++)
			n[i] = "ab"[rnd() % 2];
		n[nl] = '\0';
		for (i = 0; i < hl; i++)
			f[i] = (char)(h[i] == 'A' || h[i] == 'B' ? h[i] + 32 :
			    h[i]);
		if (charset_search(h, hl, n) != naive_find(f, hl, n, nl))
			bad++;
	}
	CHECK(bad == 0);
}

static int
mutf7_pair(const char *utf8, const char *mutf7)
{
	struct buf b;
	int ok;

	buf_init(&b, 0);
	ok = charset_mutf7_encode(utf8, strlen(utf8), &b) == CHARSET_OK &&
	    same(&b, mutf7);
	if (!ok)
		show("mutf7 encode", utf8, strlen(utf8), &b);
	buf_reset(&b);
	if (charset_mutf7_decode(mutf7, strlen(mutf7), &b) != CHARSET_OK ||
	    !same(&b, utf8)) {
		show("mutf7 decode", mutf7, strlen(mutf7), &b);
		ok = 0;
	}
	buf_free(&b);
	return ok;
}

static int
mutf7_bad(const char *in)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = charset_mutf7_decode(in, strlen(in), &b);
	buf_free(&b);
	return r == CHARSET_INVALID;
}

static void
test_mutf7(void)
{
	struct buf b;

	/* RFC 3501 5.1.3 */
	CHECK(mutf7_pair("~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/"
	    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
	    "~peter/mail/&U,BTFw-/&ZeVnLIqe-"));
	CHECK(mutf7_pair("&", "&-"));
	CHECK(mutf7_pair("a&b", "a&-b"));
	CHECK(mutf7_pair("", ""));
	CHECK(mutf7_pair("INBOX.Sent Items", "INBOX.Sent Items"));
	CHECK(mutf7_pair("\xE2\x98\xBA!", "&Jjo-!"));
	CHECK(mutf7_pair("\xF0\x9F\x98\x80", "&2D3eAA-"));	/* a pair */
	CHECK(mutf7_pair("Entw\xC3\xBCrfe", "Entw&APw-rfe"));
	CHECK(mutf7_pair("Gel\xC3\xB6schte Elemente",
	    "Gel&APY-schte Elemente"));
	CHECK(mutf7_pair("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E & "
	    "\xE4\xB8\xAD\xE6\x96\x87", "&ZeVnLIqe- &- &Ti1lhw-"));
	CHECK(mutf7_pair("\t", "&AAk-"));
	CHECK(mutf7_pair("\xC3\xBF", "&AP8-"));
	CHECK(mutf7_pair("\xC2\x80", "&AIA-"));
	CHECK(mutf7_pair("&&\xC3\xBF&", "&-&-&AP8-&-"));

	CHECK(mutf7_bad("&AGE-"));	/* "a" must stand for itself */
	CHECK(mutf7_bad("&ACY-"));		/* "&" must be "&-" */
	CHECK(mutf7_bad("&AAA-"));		/* U+0000 */
	CHECK(mutf7_bad("&"));
	CHECK(mutf7_bad("a&"));
	CHECK(mutf7_bad("&U,BTFw"));		/* no shift back */
	CHECK(mutf7_bad("&U,BTFw-&ZeVnLIqe-"));	/* null shift */
	CHECK(mutf7_bad("&U,BTFx-"));		/* padding bits not zero */
	CHECK(mutf7_bad("&U,BTFwA-"));		/* a spare base64 char */
	CHECK(mutf7_bad("&U/BTFw-"));	/* "/" is UTF-7, not ours */
	CHECK(mutf7_bad("&U,B=Fw-"));
	CHECK(mutf7_bad("&2D0-"));		/* lone high surrogate */
	CHECK(mutf7_bad("&3gA-"));		/* lone low surrogate */
	CHECK(mutf7_bad("&2D0A6Q-"));		/* high, then not low */
	CHECK(mutf7_bad("&2D0-&3gA-"));		/* pair across shifts */
	CHECK(mutf7_bad("caf\xC3\xA9"));	/* 8-bit */
	CHECK(mutf7_bad("a\tb"));		/* control */
	CHECK(mutf7_bad("a\x7f"));
	CHECK(mutf7_bad("&A-"));

	buf_init(&b, 0);
	CHECK(charset_mutf7_encode("caf\xE9", 4, &b) == CHARSET_INVALID);
	CHECK(charset_mutf7_encode("a\0b", 3, &b) == CHARSET_INVALID);
	CHECK(charset_mutf7_encode("\xED\xA0\x80", 3, &b) == CHARSET_INVALID);
	CHECK(charset_mutf7_encode("\xE6\x97", 2, &b) == CHARSET_INVALID);
	buf_free(&b);
	buf_init(&b, 5);
	CHECK(charset_mutf7_encode("\xE5\x8F\xB0\xE5\x8C\x97", 6, &b) ==
	    CHARSET_TRUNC);
	buf_free(&b);
	buf_init(&b, 8);
	CHECK(charset_mutf7_encode("\xE5\x8F\xB0\xE5\x8C\x97", 6, &b) ==
	    CHARSET_OK && same(&b, "&U,BTFw-"));
	buf_free(&b);
}

/* Random code points from every class that matters to modified UTF-7. */
static unsigned long
rnd_cp(void)
{
	unsigned long c;

	switch (rnd() % 6) {
	case 0:
		return 0x20 + rnd() % 0x5F;
	case 1:
		return "&-,+/"[rnd() % 5];
	case 2:
		return 1 + rnd() % 0x1F;
	case 3:
		return 0x80 + rnd() % 0x780;
	case 4:
		do
			c = 0x800 + rnd() % 0xF800;
		while (c >= 0xD800 && c <= 0xDFFF);
		return c;
	default:
		return 0x10000 + (rnd() << 5 ^ rnd()) % 0x100000;
	}
}

static size_t
put_utf8(unsigned long c, char *p)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xC0 | c >> 6);
		p[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xE0 | c >> 12);
		p[1] = (char)(0x80 | (c >> 6 & 0x3F));
		p[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	p[0] = (char)(0xF0 | c >> 18);
	p[1] = (char)(0x80 | (c >> 12 & 0x3F));
	p[2] = (char)(0x80 | (c >> 6 & 0x3F));
	p[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static void
test_mutf7_random(void)
{
	struct buf e, d, e2;
	char s[4 * 16];
	size_t len, i, n;
	int t, bad;

	buf_init(&e, 0);
	buf_init(&d, 0);
	buf_init(&e2, 0);
	bad = 0;
	for (t = 0; t < 20000; t++) {
		n = rnd() % 16;
		for (len = i = 0; i < n; i++)
			len += put_utf8(rnd_cp(), s + len);
		buf_reset(&e);
		buf_reset(&d);
		buf_reset(&e2);
		if (charset_mutf7_encode(s, len, &e) != CHARSET_OK ||
		    charset_mutf7_decode(buf_ptr(&e), buf_used(&e), &d) !=
		    CHARSET_OK || buf_used(&d) != len ||
		    memcmp(buf_ptr(&d), s, len) != 0 ||
		    charset_mutf7_encode(buf_ptr(&d), buf_used(&d), &e2) !=
		    CHARSET_OK || buf_used(&e2) != buf_used(&e) ||
		    memcmp(buf_ptr(&e2), buf_ptr(&e), buf_used(&e)) != 0)
			bad++;
		/* a decoder fed garbage must not crash, and whatever it
		 * accepts must encode back to the same spelling */
		for (i = 0; i < n; i++)
			s[i] = "&-AZaz09+,/ ~\x80"[rnd() % 15];
		buf_reset(&d);
		buf_reset(&e2);
		if (charset_mutf7_decode(s, n, &d) == CHARSET_OK &&
		    (charset_mutf7_encode(buf_ptr(&d), buf_used(&d), &e2) !=
		    CHARSET_OK || buf_used(&e2) != n ||
		    memcmp(buf_ptr(&e2), s, n) != 0))
			bad++;
	}
	CHECK(bad == 0);
	buf_free(&e);
	buf_free(&d);
	buf_free(&e2);
}

int
main(void)
{
	test_lookup();
	test_utf8();
	test_simple();
	test_iso2022jp();
	test_sjis_eucjp();
	test_rfc2047_examples();
	test_rfc2047_japanese();
	test_rfc2047_edges();
	test_raw_headers();
	test_truncation();
	test_fold();
	test_search();
	test_search_random();
	test_mutf7();
	test_mutf7_random();
	return check_exit("test_charset");
}

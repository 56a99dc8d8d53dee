/*
 * charset.h - character sets for IMAP SEARCH and mailbox names: conversion
 * of the charsets Japanese and Western mail uses into UTF-8, RFC 2047
 * header decoding, case folding and substring search (RFC 3501 6.4.4), and
 * modified UTF-7 mailbox names (RFC 3501 5.1.3).  Pure code: no I/O, no
 * iconv, no locale; every output goes into a bounded struct buf.
 */
#ifndef YUBIN_CHARSET_H
#define YUBIN_CHARSET_H

#include <stddef.h>

#include "buf.h"

/*
 * Results.  CHARSET_TRUNC: the output buffer's cap (buf->max) was reached
 * and the output was cut at a character boundary, so it is still valid
 * UTF-8 (a search may go on with what fits; a mailbox name may not).
 */
#define CHARSET_OK	0
#define CHARSET_TRUNC	1
#define CHARSET_NOMEM	(-1)	/* the buffer could not grow */
#define CHARSET_INVALID	(-2)	/* bad input, where strictness is due */

/* The charsets we convert from. */
enum charset_id {
	CS_UNKNOWN,	/* ASCII bytes kept, every other byte U+FFFD */
	CS_ASCII,	/* the same, but a charset we know */
	CS_UTF8,	/* validated; each bad sequence becomes U+FFFD */
	CS_LATIN1,	/* ISO-8859-1 with 0x80-0x9F read as windows-1252 */
	CS_ISO2022JP,	/* RFC 1468 plus ESC ( I, SO/SI, NEC/IBM rows */
	CS_SJIS,	/* Shift_JIS with the CP932 extensions */
	CS_CP932,	/* the same with CP932's own 6 differing mappings */
	CS_EUCJP	/* EUC-JP with the NEC/IBM rows; JIS X 0212 -> U+FFFD */
};

/* A charset name (case-insensitive, aliases included, no NUL needed). */
enum charset_id charset_lookup(const char *name, size_t len);

/*
 * A streaming converter, for text that comes in pieces (a body read in
 * blocks, adjacent encoded words): a character split between two pieces
 * is held back and completed by the next one; ISO-2022-JP's shift state
 * carries over.  No allocation.
 */
struct charset_conv {
	enum charset_id	id;
	int		mode;		/* ISO-2022-JP: the set in use */
	unsigned char	pend[4];	/* an incomplete sequence */
	size_t		npend;
};

void charset_conv_init(struct charset_conv *c, enum charset_id id);
/* Convert len bytes and append UTF-8 to out.  Returns a CHARSET_ code. */
int charset_conv_feed(struct charset_conv *c, const char *in, size_t len,
    struct buf *out);
/* End of text: a sequence left incomplete becomes U+FFFD. */
int charset_conv_end(struct charset_conv *c, struct buf *out);
/* One-shot conversion of a whole text. */
int charset_to_utf8(enum charset_id id, const char *in, size_t len,
    struct buf *out);

/*
 * Decode a header field's value (folded or not) into UTF-8 for SEARCH:
 * RFC 2047 encoded words (RFC 2231 section 5 language suffix accepted and
 * ignored), line breaks of folding removed, raw 8-bit text kept if it is
 * UTF-8 and otherwise read as fallback (a charset name such as the
 * Content-Type's, or NULL), raw ISO-2022-JP escapes decoded.  Returns a
 * CHARSET_ code; on CHARSET_TRUNC out holds what fitted.
 */
int charset_decode_header(const char *in, size_t len, const char *fallback,
    struct buf *out);

/*
 * Case folding for SEARCH (RFC 3501 6.4.4: "case-insensitive"), simple
 * one-to-one folding of these ranges only, as in Unicode's CaseFolding.txt
 * (status C and S):
 *   A-Z; U+00C0-U+00DE except U+00D7; U+00B5 -> U+03BC;
 *   Latin Extended-A U+0100-U+017F pairs (U+0130 and U+0131 excepted, as
 *   they fold only under Turkish rules; U+0178 -> U+00FF; U+017F -> s);
 *   Greek U+0386-U+03AB and final sigma U+03C2 -> U+03C3;
 *   Cyrillic U+0400-U+042F;
 *   full-width A-Z U+FF21-U+FF3A -> U+FF41-U+FF5A.
 * No full folding (German sharp s stays itself) and no normalisation
 * (full-width and half-width forms stay apart).  Invalid UTF-8 in the
 * input becomes U+FFFD.  Returns a CHARSET_ code.
 */
int charset_fold(const char *in, size_t len, struct buf *out);

/*
 * Substring search of a folded needle in a haystack that is folded on the
 * fly: Knuth-Morris-Pratt over the folded UTF-8 bytes, so the haystack may
 * come in pieces (a body read in blocks) and nothing is allocated.  The
 * needle is at most CHARSET_NEEDLE_MAX bytes once folded: the IMAP layer
 * refuses longer search strings when it parses the command.  The needle is
 * not copied: it must outlive the matcher.
 */
#define CHARSET_NEEDLE_MAX	1024
struct charset_match {
	const unsigned char	*needle;
	size_t			len;
	size_t			state;	/* needle bytes matched */
	int			found;
	unsigned char		pend[4];	/* haystack char split */
	size_t			npend;
	unsigned short		fail[CHARSET_NEEDLE_MAX];
};

/* Returns 0, or -1 if the needle is longer than CHARSET_NEEDLE_MAX. */
int charset_match_init(struct charset_match *m, const char *needle_folded,
    size_t len);
/* Start again with another haystack (the next message). */
void charset_match_reset(struct charset_match *m);
/* Feed a piece of haystack (UTF-8); returns 1 once the needle was seen. */
int charset_match_feed(struct charset_match *m, const char *in, size_t len);
/* One whole haystack: 1 found, 0 not, -1 needle too long.  An empty
 * needle is in every haystack. */
int charset_search(const char *hay, size_t len, const char *needle_folded);

/*
 * Modified UTF-7 mailbox names (RFC 3501 5.1.3).  Encoding takes UTF-8
 * and fails with CHARSET_INVALID if it is not valid (or holds U+0000).
 * Decoding is strict, so CREATE can refuse what RFC 3501 says a server
 * SHOULD verify: only 0x20-0x7E outside shifts, "&-" for "&", base64
 * from "A-Za-z0-9+," ended by "-", no null shift, no character that could
 * stand for itself (nor "&") in base64, zero padding bits and no spare
 * base64 character, surrogates only in pairs, no U+0000.  Both append to
 * out; a result other than CHARSET_OK leaves a partial name in out.
 */
int charset_mutf7_encode(const char *utf8, size_t len, struct buf *out);
int charset_mutf7_decode(const char *in, size_t len, struct buf *out);

#endif

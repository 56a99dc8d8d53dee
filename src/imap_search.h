/*
 * imap_search.h - IMAP SEARCH (RFC 3501 6.4.4): the search keys parsed
 * into a tree, and the tree evaluated against one message at a time.
 * No I/O of its own: the message's text comes through a read callback,
 * its flags, UID, sizes and dates from struct search_msg.  The caller
 * (imap.c) walks the messages in bounded steps.
 */
#ifndef YUBIN_IMAP_SEARCH_H
#define YUBIN_IMAP_SEARCH_H

#include <stddef.h>
#include <time.h>

#include "imapparse.h"
#include "mime.h"

/*
 * Limits (STYLE.md habit 12; here while only this module uses them).
 * Keys: every key of a command counts, NOT and OR and lists included;
 * real clients send a few dozen at most (Thunderbird's "OR OR OR ..."
 * for a multi-term filter), and each text key costs about 2 KB of
 * matcher state per message searched.  Depth: NOT, OR and parentheses
 * nest the parser's and the evaluator's recursion; parentheses alone are
 * also held to IMAP_LIST_DEPTH by the tokenizer, but "NOT NOT NOT ..."
 * and OR chains nest without them.
 */
#define IMAP_SEARCH_KEYS_MAX	256
#define IMAP_SEARCH_DEPTH	100

struct search_key;	/* opaque */

/* One message as a search sees it. */
struct search_msg {
	unsigned long	seq;		/* message sequence number */
	unsigned long	uid;
	unsigned long	size;		/* RFC822.SIZE (CRLF octets) */
	unsigned	flags;		/* MF_* of mboxparse.h */
	int		recent;		/* \Recent in this session */
	const char	*keywords;	/* space-separated, or NULL */
	time_t		internaldate;	/* UTC */
	/*
	 * The text as stored (LF line ends, our metadata headers hidden):
	 * offset 0 is the first header byte, the header with its blank
	 * line is [0, hdr_len), the whole message [0, len).  read may be
	 * called many times, with any offsets.
	 */
	mime_read_fn	*read;
	void		*arg;
	unsigned long	hdr_len, len;
};

/*
 * Parse the arguments of SEARCH / UID SEARCH after the command name:
 * [CHARSET name] key...  nmsgs is the message count and maxuid the
 * highest UID (for "*" in sets).  Returns 0 and *out, or -1 with t->err
 * set (a BAD reply) - except an unknown charset: -2, and the caller
 * answers "NO [BADCHARSET (US-ASCII UTF-8)]".
 */
int imap_search_parse(struct imap_tok *t, unsigned long nmsgs,
    unsigned long maxuid, struct search_key **out);
/* Whether evaluation needs the text (header or body keys). */
int imap_search_needs_text(const struct search_key *k);
/*
 * 1 the message matches, 0 it does not, -1 the text could not be read
 * (or memory ran out).  Keys that need no text are settled first and
 * never call m->read; header keys read only [0, hdr_len).
 */
int imap_search_match(const struct search_key *k,
    const struct search_msg *m);
void imap_search_free(struct search_key *k);

#endif

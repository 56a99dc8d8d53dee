/*
 * imap_search_priv.h - what imap_search.c (the key tree: parsing and
 * evaluation) and imap_search_text.c (a message's text: header fields,
 * dates, MIME bodies) share.  Nothing else includes it.
 */
#ifndef YUBIN_IMAP_SEARCH_PRIV_H
#define YUBIN_IMAP_SEARCH_PRIV_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "charset.h"
#include "imap_search.h"
#include "imapparse.h"

/* A body is read and matched this much at a time. */
#define SEARCH_CHUNK		16384
/* A decoded header field: longer ones are searched as far as this. */
#define SEARCH_FIELD_MAX	(256 * 1024)
/* UTF-8 of a block: 3 bytes per input byte at most (U+FFFD for one
 * byte), plus a character held over from the block before. */
#define SEARCH_OUT_MAX		(4 * SEARCH_CHUNK + 64)

enum {
	K_AND,		/* kids: a list, or the whole command */
	K_OR,		/* kids: two */
	K_NOT,		/* kids: one */
	K_ALL,
	K_SEQ,		/* set: message sequence numbers */
	K_UID,		/* set: UIDs */
	K_FLAG,		/* flags: set */
	K_UNFLAG,	/* flags: clear */
	K_RECENT,
	K_NEW,		/* RECENT UNSEEN */
	K_OLD,		/* NOT RECENT */
	K_KEYWORD,	/* str */
	K_UNKEYWORD,
	K_LARGER,	/* num */
	K_SMALLER,
	K_DATE,		/* the internal date: op, day */
	/* The keys that need the text; each has a result slot. */
	K_SENT,		/* the Date: field: op, day */
	K_HEADER,	/* field holds str */
	K_BODY,
	K_TEXT
};

#define D_BEFORE	0
#define D_ON		1
#define D_SINCE		2

struct search_key {
	int			type;
	int			op;		/* dates: D_* */
	struct search_key	*kids;
	struct search_key	*next;		/* sibling */
	unsigned		flags;		/* MF_* */
	unsigned long		num;
	long			day;		/* days since 1970-01-01 */
	struct seqset		set;
	char			*field;		/* K_HEADER: field name */
	char			*str;		/* keyword, or folded needle */
	size_t			len;
	int			slot;		/* text keys: 0..ntext-1 */
	/* The root only: */
	struct search_key	**text;		/* the text keys by slot */
	int			ntext;
	int			hdr, body;	/* header, body keys present */
};

/* Evaluation results. */
#define R_NO		0
#define R_YES		1
#define R_OPEN		2	/* needs text not looked at yet */

/* What one match needs beyond the key tree. */
struct sctx {
	const struct search_key	*root;
	const struct search_msg	*m;
	signed char		*res;		/* by slot: R_* */
	struct charset_match	*mt;		/* by slot */
	struct buf		hdr;		/* a header block */
	struct buf		val;		/* a field, decoded */
	struct buf		out;		/* a body block in UTF-8 */
	char			*in, *dec;	/* a body block, undecoded */
};

/* imap_search.c */
long search_day_of(time_t t);
int search_day_cmp(int op, long day, long key);
int search_eval(const struct search_key *k, const struct search_msg *m,
    const signed char *res);

/* imap_search_text.c: 0, or -1 if the text cannot be read.  The header
 * pass settles HEADER and SENT* keys (and TEXT ones found there); the
 * body pass settles the rest, stopping once search_eval() is. */
int search_header_pass(struct sctx *c);
int search_body_pass(struct sctx *c);

#endif

/*
 * imapparse.h - the IMAP4rev1 command parser (RFC 3501 sections 4, 7.5
 * and 9; RFC 7888 LITERAL+; RFC 4959 SASL-IR).  Pure: no I/O, no session
 * state, never touches a socket.
 *
 * Two halves.  The accumulator (imapcb_*) gathers one command as conn.c
 * delivers it - a line, the octets of a literal, the rest of the line,
 * another literal... - into one bounded buffer, and says after each line
 * what the caller must do next.  The tokenizer (imap_tok_*, imap_get_*)
 * then reads the complete command with typed getters; every getter
 * returns 0 or -1, and on -1 t->err holds a short English text for the
 * tagged BAD reply.  The first error sticks: later getters fail too.
 */
#ifndef YUBIN_IMAPPARSE_H
#define YUBIN_IMAPPARSE_H

#include "yubin.h"

#include <stddef.h>
#include <time.h>

#include "buf.h"

/*
 * Limits (to move into params.h when imap.c is wired).  A command with
 * its literals is held in memory, so it is capped: 64 KB is far above
 * what LOGIN, SEARCH or a long UID set needs (RFC 7162 3.2.1 asks for at
 * least 8192 octets per line).  APPEND's message is streamed, never held.
 */
#ifndef IMAP_CMD_MAX
#define IMAP_CMD_MAX		65536
#endif
#define IMAP_TAG_MAX		64	/* longer tags are refused */
#define IMAP_LITERALS_MAX	1024	/* literals in one command */
#define IMAP_LIST_DEPTH		32	/* nested parentheses */
#define IMAP_SECTION_DEPTH	16	/* FETCH BODY[1.2.3...] part levels */
#define IMAP_NUMBER_MAX		4294967295UL	/* RFC 3501 4.2: 32 bits */

/* What imapcb_line() (and imapcb_refuse()) tell the caller to do. */
enum imapcb_res {
	IMAPCB_COMPLETE,	/* a whole command: tokenize and run it */
	IMAPCB_LITERAL,		/* a literal of cb->lit_len octets follows:
				 * if cb->lit_sync, send "+ Ready for literal
				 * data" first (RFC 3501 7.5); feed the octets
				 * to imapcb_literal() (none if lit_len is 0),
				 * then the next line to imapcb_line() */
	IMAPCB_BAD,		/* refused: reply "<tag> BAD <cb->err>";
				 * nothing more of it will come */
	IMAPCB_BAD_DISCARD,	/* refused: reply BAD now (RFC 7888 4 allows
				 * it before the octets), then feed the
				 * cb->lit_len octets of a non-synchronizing
				 * literal to imapcb_literal(), which drops
				 * them, and the following lines to
				 * imapcb_line() */
	IMAPCB_SKIP,		/* a line of a refused command: say nothing */
	IMAPCB_SKIP_DISCARD,	/* same, and drop cb->lit_len octets */
	IMAPCB_BYE		/* the stream cannot be followed (a
				 * non-synchronizing literal of unreadable
				 * size): "* BYE <cb->err>" and close */
};

/* A literal of the command: where its header and octets are. */
struct imap_lit {
	size_t		hdr;		/* offset of its "{" */
	size_t		data;		/* offset of its octets (stored) */
	size_t		end;		/* where the rest of the line goes on */
	unsigned long	len;		/* octet count */
	int		where;		/* IMAP_LIT_* */
};
#define IMAP_LIT_STORED		0	/* octets in the buffer */
#define IMAP_LIT_PENDING	1	/* announced, not received yet */
#define IMAP_LIT_TAKEN		2	/* streamed by the caller (APPEND) */

struct imap_cmdbuf {
	struct buf	text;		/* line pieces and literal octets */
	struct imap_lit	*lit;
	size_t		nlit, litcap;
	char		*arena;		/* the tokenizer's copies */
	size_t		arenacap;
	int		state;		/* private */
	unsigned long	lit_len;	/* the literal just announced */
	unsigned long	lit_left;	/* octets of it still to come */
	int		lit_sync;	/* "{n}": the client waits for "+" */
	int		lit_append;	/* it is APPEND's message */
	char		tag[IMAP_TAG_MAX + 1];	/* "" until a valid tag */
	const char	*err;		/* why it was refused */
};

void imapcb_init(struct imap_cmdbuf *cb);
void imapcb_free(struct imap_cmdbuf *cb);
/* Forget the command (a new line to imapcb_line() does this too). */
void imapcb_reset(struct imap_cmdbuf *cb);
/* A line as conn.c gives it: CRLF stripped, may hold NULs. */
enum imapcb_res imapcb_line(struct imap_cmdbuf *cb, const char *line,
    size_t len);
/* Octets of the announced literal, in pieces of any size; returns how
 * many are still to come (0: feed the next line). */
unsigned long imapcb_literal(struct imap_cmdbuf *cb, const char *p,
    size_t n);
/* After IMAPCB_LITERAL: is it the message of an APPEND (mailbox [flags]
 * [date-time] come before it)?  Then it is not held: the caller streams
 * it, calls imapcb_literal_taken(), and feeds the rest of the line. */
int imapcb_is_append_message(const struct imap_cmdbuf *cb);
void imapcb_literal_taken(struct imap_cmdbuf *cb);
/* After IMAPCB_LITERAL: the caller refuses the command itself (APPEND
 * to a missing mailbox, a message over the size limit).  Returns
 * IMAPCB_BAD (nothing will come) or IMAPCB_BAD_DISCARD (drop lit_len
 * octets and the lines after them); the caller words the reply. */
enum imapcb_res imapcb_refuse(struct imap_cmdbuf *cb);
/* The tag for a reply: the command's, or "*" if it had none. */
const char *imapcb_tag(const struct imap_cmdbuf *cb);

/* What comes next in a command. */
enum imap_toktype {
	IMAP_T_END,		/* no more arguments */
	IMAP_T_ATOM,
	IMAP_T_NUMBER,		/* digits only (range not checked yet) */
	IMAP_T_SEQSET,		/* digits, "*", ":" and "," */
	IMAP_T_NIL,
	IMAP_T_QUOTED,
	IMAP_T_LITERAL,
	IMAP_T_STREAM,		/* APPEND's message literal */
	IMAP_T_LIST_OPEN,
	IMAP_T_LIST_CLOSE,
	IMAP_T_BAD		/* a syntax error (or an earlier error) */
};

struct imap_tok {
	struct imap_cmdbuf	*cb;
	const char		*p;	/* the command text */
	size_t			len, pos;
	size_t			nextlit;	/* next literal to meet */
	size_t			alen;		/* arena used */
	int			depth;		/* open parentheses */
	int			sep;		/* a SP must come first */
	const char		*tag;		/* set by imap_tok_init() */
	const char		*name;		/* the command name, as sent */
	const char		*err;
};

/*
 * Start reading the command held in cb (complete, or waiting for APPEND's
 * message): tag and command name.  Strings the getters return live in
 * cb's arena until the next imap_tok_init() or imapcb_reset().
 */
int imap_tok_init(struct imap_tok *t, struct imap_cmdbuf *cb);
enum imap_toktype imap_peek(struct imap_tok *t);
int imap_at_end(struct imap_tok *t);
/* Succeeds only if no argument is left. */
int imap_get_end(struct imap_tok *t);

/*
 * Strings.  With lenp NULL a string holding a NUL (only a literal can)
 * is refused; with lenp set it is returned with its length.  8-bit
 * octets are accepted in quoted strings (RFC 3501 9 says TEXT-CHAR, but
 * clients send UTF-8 mailbox names and passwords that way).
 */
int imap_get_atom(struct imap_tok *t, const char **s);
int imap_get_astring(struct imap_tok *t, const char **s, size_t *lenp);
int imap_get_string(struct imap_tok *t, const char **s, size_t *lenp);
/* NIL gives *s == NULL. */
int imap_get_nstring(struct imap_tok *t, const char **s, size_t *lenp);
/* An astring; any case of "INBOX" comes back as "INBOX" (RFC 3501 9). */
int imap_get_mailbox(struct imap_tok *t, const char **s);
/* LIST/LSUB pattern: list-char atoms (with % and *) or a string. */
int imap_get_list_mailbox(struct imap_tok *t, const char **s);
/* number: 0..4294967295; nz-number: 1..4294967295, no leading zero. */
int imap_get_number(struct imap_tok *t, unsigned long *v);
int imap_get_nz_number(struct imap_tok *t, unsigned long *v);
int imap_get_list_begin(struct imap_tok *t);
int imap_get_list_end(struct imap_tok *t);
/* Skip one argument, a whole list included. */
int imap_skip(struct imap_tok *t);
/* A flag: "\Seen" (system flags come back in their canonical case),
 * "\Ext" or a keyword; "\*" only if allow_star (PERMANENTFLAGS-like
 * places); "\Recent" is refused: clients cannot set it (RFC 3501 2.3.2). */
int imap_get_flag(struct imap_tok *t, int allow_star, const char **s);
/* SEARCH's date ("1-Feb-1994", bare or quoted): 00:00:00 UTC that day. */
int imap_get_date(struct imap_tok *t, time_t *out);
/* APPEND's date-time ("17-Jul-1996 02:44:25 -0700", quoted): UTC. */
int imap_get_date_time(struct imap_tok *t, time_t *out);
/* The rest of the command, unparsed (no literal may be in it). */
int imap_get_rest(struct imap_tok *t, const char **s, size_t *len);
/* SASL-IR (RFC 4959 7): absent gives *s NULL; "=" gives "" (empty). */
int imap_get_sasl_ir(struct imap_tok *t, const char **s, size_t *len);
/* APPEND's message literal: its size (the caller streamed it). */
int imap_get_stream(struct imap_tok *t, unsigned long *size);

/* Sequence sets (RFC 3501 9): sorted, merged ranges. */
struct seqrange {
	unsigned long	lo, hi;
};
struct seqset {
	struct seqrange	*r;
	size_t		n;
};
/*
 * max is the message count, or with uid the highest UID (0: empty).
 * Message numbers above max (and "*" in an empty mailbox) are errors;
 * UIDs above max just match nothing, and "N:*" includes max even when
 * N > max (RFC 3501 6.4.8).
 */
int imap_get_seqset(struct imap_tok *t, unsigned long max, int uid,
    struct seqset *set);
int seqset_parse(const char *s, size_t len, unsigned long max, int uid,
    struct seqset *set, const char **err);
int seqset_contains(const struct seqset *set, unsigned long n);
void seqset_free(struct seqset *set);

/* FETCH (RFC 3501 6.4.5). */
enum imap_sectext {
	IMAP_SEC_ALL,		/* BODY[] or BODY[1.2] */
	IMAP_SEC_HEADER,
	IMAP_SEC_HEADER_FIELDS,
	IMAP_SEC_HEADER_FIELDS_NOT,
	IMAP_SEC_TEXT,
	IMAP_SEC_MIME		/* only after a part number */
};
struct imap_section {
	unsigned long		part[IMAP_SECTION_DEPTH];
	int			npart;
	enum imap_sectext	text;
	/* nfields names, each ended by a NUL, one after another: */
	const char		*fields;
	size_t			nfields;
	int			partial;	/* <origin.count> given */
	unsigned long		origin, count;
};
enum imap_fatt {
	IMAP_F_ENVELOPE,
	IMAP_F_FLAGS,
	IMAP_F_INTERNALDATE,
	IMAP_F_RFC822,
	IMAP_F_RFC822_HEADER,
	IMAP_F_RFC822_SIZE,
	IMAP_F_RFC822_TEXT,
	IMAP_F_BODY,		/* BODY alone: non-extensible structure */
	IMAP_F_BODYSTRUCTURE,
	IMAP_F_UID,
	IMAP_F_SECTION		/* BODY[...] or BODY.PEEK[...] */
};
struct imap_fetch_att {
	enum imap_fatt		att;
	int			peek;	/* BODY.PEEK: do not set \Seen */
	struct imap_section	sec;
};
/* One attribute, a macro (ALL, FAST, FULL, expanded) or a list of them;
 * at most max go into v. */
int imap_get_fetch_atts(struct imap_tok *t, struct imap_fetch_att *v,
    size_t max, size_t *n);
/* The section as a FETCH response names it, without brackets and
 * partial: "1.2.HEADER.FIELDS (From To)".  -1 if out is too small. */
int imap_section_format(const struct imap_section *sec, char *out,
    size_t outlen);

/* The date parsers on counted text (no quotes), for tests and reuse. */
int imap_parse_date(const char *s, size_t len, time_t *out);
int imap_parse_date_time(const char *s, size_t len, time_t *out);

#endif

/*
 * imap.h - what the files of the IMAP server share (imap.c: the session,
 * commands outside a mailbox, authentication; imap_mbox.c: the selected
 * mailbox, its sync and the commands on messages; imap_fetch.c: FETCH;
 * imap_copy.c: COPY, MOVE, APPEND; imap_spool.c: the spool file messages
 * pass through on their way into a mailbox).  Nothing
 * else includes this.
 *
 * How a session sees a mailbox (DESIGN.md "Mail store"): the session
 * keeps its own view (UIDs and flags, as last told to the client).  Each
 * command that needs the messages locks and re-reads the mailbox
 * (cheap: mailbox.c keeps the index), reconciles the view with it -
 * deliveries become EXISTS, messages another program removed become
 * EXPUNGE, flags changed elsewhere become FETCH - runs, and lets the
 * mailbox go.  Flag changes are written lazily: at CHECK, CLOSE, EXPUNGE,
 * LOGOUT, the end of the session, shutdown, or IMAP_FLUSH_SECS after the
 * last change; until then they live in the kept index and, in case that
 * is lost, in the view, which applies them again.
 */
#ifndef YUBIN_IMAP_H
#define YUBIN_IMAP_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "ev.h"
#include "imap_folder.h"
#include "imapparse.h"
#include "mailbox.h"
#include "user.h"

struct conn;
struct search_key;
struct copy_job;
struct imap_fetch;
struct imap_spool;

#define IMAP_FLUSH_SECS		5	/* flags reach the file this soon */
#define IMAP_UID_FLUSH_MS	1000	/* new UIDs: sooner, so that a mailx
					 * rewrite between commands finds
					 * them in the file and keeps them */
#define IMAP_DELAY_MS		2000	/* after a failed login */
#define IMAP_FAILS_MAX		3	/* failed logins, then BYE */
#define IMAP_FETCH_ATTS		64	/* items in one FETCH */
#define IMAP_KEYWORDS_MAX	64	/* keywords a mailbox may define */
#define IMAP_KEYWORD_LEN	64	/* octets of one keyword */

enum imap_state {
	IMAP_NOTAUTH = 1,	/* RFC 3501 3.1 */
	IMAP_AUTH = 2,
	IMAP_SELECTED = 4,
	IMAP_LOGOUT = 8
};

/* One message as this session last told the client about it (32 bytes
 * on LP64: a SELECT of 100,000 messages builds 100,000 of these). */
struct imap_msg {
	unsigned long	uid;
	char		*keywords;	/* space-separated, or NULL */
	char		*kwset;		/* our keywords, not yet written */
	int		mbi;		/* index in the open mailbox, -1 gone */
	unsigned char	flags;		/* MF_* */
	unsigned char	add, del;	/* our changes, not yet written */
	unsigned char	bits;		/* V_* */
};
#define V_RECENT	1	/* \Recent in this session */
#define V_KWDIRTY	2	/* kwset waits to be written */

struct imap_sess;
typedef void imap_op_fn(struct imap_sess *s);

/*
 * How far the last partial FETCH literal (BODY[...]<origin.count>) got,
 * so that the next chunk of the same section starts there instead of
 * counting CRLF octets from the section's start again (a client that
 * reads a 50 MB message in 64 KB chunks made that quadratic).  The key
 * says which text: a message's text seen by clients never changes
 * under its UID (the flag headers are not part of it); the lengths are
 * checked all the same.
 */
struct mime_tree;

struct imap_fetch_mark {
	unsigned long	uid;		/* 0: nothing kept */
	unsigned long	src, srcend;	/* the section in the text */
	unsigned long	hlen, len, hoct;	/* the text it was in */
	unsigned long	at, octets;	/* text offset at; CRLF octets of
					 * [src, at) */
};

struct imap_sess {
	struct conn		*c;
	enum imap_state		state;
	struct imap_cmdbuf	cb;
	struct imap_tok		tok;
	const char		*tag;		/* of the command running */
	char			tagbuf[IMAP_TAG_MAX + 1];
	char			result[512];	/* the tagged reply to come */
	int			uid_cmd;	/* UID FETCH, UID STORE ... */
	int			busy;		/* a command is in progress */
	unsigned long		ncmds, nbad;
	/* authentication */
	struct user		u;
	int			fails;
	int			mech, sasl_step;
	char			sasl_user[USER_NAME_MAX + 1];
	char			challenge[128];
	char			pending[160];	/* the reply after a delay */
	struct ev_timer		delay;
	/* APPEND's message on its way to the spool file */
	int			appending;
	struct imap_spool	*spool;
	int			spool_err;
	struct copy_job		*copy;		/* COPY, MOVE, APPEND */
	/* the selected mailbox */
	char			path[512];
	char			name[FOLDER_NAME_MAX + 1];
	int			readonly;
	struct imap_msg		*v;
	unsigned long		nv, capv;
	unsigned long		uidvalidity, uidnext;
	char			*kwlist;	/* keywords told in FLAGS */
	int			dirty;		/* our changes wait */
	int			flush_soon;	/* flush armed for new UIDs */
	struct ev_timer		flush;
	struct ev_timer		step;		/* long work, in pieces */
	void			(*stepper)(void *arg);
	struct mailbox		*mb;		/* open for the command */
	int			expunge_ok;	/* may tell EXPUNGE now */
	imap_op_fn		*op;		/* the command, once synced */
	/* arguments of the command in progress */
	struct seqset		set;
	struct imap_fetch_att	atts[IMAP_FETCH_ATTS];
	size_t			natts;
	struct search_key	*search;
	int			store_mode;	/* +1 add, -1 remove, 0 set */
	int			silent;
	unsigned		store_flags;
	char			*store_kw;
	time_t			app_date;
	char			dest[512];	/* COPY/MOVE/APPEND target */
	int			move;
	struct imap_fetch	*fetch;
	struct imap_fetch_mark	mark;		/* where the last partial
						 * literal got to */
	struct mime_tree	*tree;		/* the last message's MIME
						 * structure, kept for its
						 * next FETCH */
	struct imap_fetch_mark	tree_key;	/* uid, hlen, len, hoct */
	unsigned long		pos;		/* message being worked on */
	struct buf		reply;		/* SEARCH results, COPYUID */
	int			fd;		/* spool for COPY/APPEND */
	struct mb_append	*app;
	int			napp;
	unsigned long		first_uid;
	struct seqset		srcuids;	/* what COPY took */
	int			close_after;	/* CLOSE: back to AUTH */
	int			closing;	/* CLOSE, not UNSELECT */
	int			logout;
	int			ended;		/* the connection is gone */
};

/* imap.c */
int imap_ok(struct imap_sess *s, const char *fmt, ...) PRINTFLIKE(2, 3);
int imap_no(struct imap_sess *s, const char *fmt, ...) PRINTFLIKE(2, 3);
int imap_bad(struct imap_sess *s, const char *fmt, ...) PRINTFLIKE(2, 3);
/* The tagged reply to send when the command is over (imap_finish). */
void imap_result(struct imap_sess *s, const char *what, const char *fmt,
    ...) PRINTFLIKE(3, 4);
void imap_done(struct imap_sess *s);
void imap_set_state(struct imap_sess *s, enum imap_state st);
int imap_spool_open(void);
int imap_put_string(struct buf *b, const char *s, size_t len);
int imap_put_flags(struct buf *b, unsigned flags, const char *keywords,
    int recent);

/* imap_mbox.c: the selected state */
void imap_cmd_select(struct imap_sess *s, struct imap_tok *t, int readonly);
void imap_cmd_status(struct imap_sess *s, struct imap_tok *t);
void imap_cmd_check(struct imap_sess *s);
void imap_cmd_expunge(struct imap_sess *s, struct imap_tok *t);
void imap_cmd_store(struct imap_sess *s, struct imap_tok *t);
void imap_cmd_search(struct imap_sess *s, struct imap_tok *t);
void imap_sync(struct imap_sess *s, imap_op_fn *op);
/* The command's work is done: let the mailbox go (commit: write it
 * first) and send s->result. */
void imap_finish(struct imap_sess *s, int commit);
void imap_unselect(struct imap_sess *s, int expunge);
void imap_close_view(struct imap_sess *s);
void imap_flush_timer(void *arg);
void imap_session_end(struct imap_sess *s);
void imap_op_noop(struct imap_sess *s);
int imap_parse_set(struct imap_sess *s, struct imap_tok *t);
int imap_in_set(const struct imap_sess *s, unsigned long i);
int imap_flag_list(struct imap_tok *t, unsigned *flags, struct buf *kw);
void imap_set_seen(struct imap_sess *s, unsigned long i);
int imap_folder_exists(struct imap_sess *s, const char *name, char *path,
    size_t len);

/* imap_copy.c: COPY, MOVE, APPEND, RENAME INBOX */
void imap_cmd_copy(struct imap_sess *s, struct imap_tok *t, int move);
void imap_cmd_append(struct imap_sess *s, struct imap_tok *t);
void imap_append_literal(struct imap_sess *s);
void imap_append_bytes(struct imap_sess *s, const char *p, size_t n,
    int last);
void imap_rename_inbox(struct imap_sess *s);
void imap_copy_free(struct imap_sess *s);

/* imap_fetch.c */
void imap_cmd_fetch(struct imap_sess *s, struct imap_tok *t);
void imap_fetch_free(struct imap_sess *s);
void imap_fetch_forget(struct imap_sess *s);

/* imap_spool.c: messages on their way into a mailbox */
struct imap_spool;
struct imap_spool *imap_spool_new(int fd);
int imap_spool_feed(struct imap_spool *sp, const char *p, size_t n);
int imap_spool_end(struct imap_spool *sp, struct mb_append *a);
void imap_spool_free(struct imap_spool *sp);
int imap_spool_copy(int fd, struct mailbox *mb, int i, struct mb_append *a);

#endif

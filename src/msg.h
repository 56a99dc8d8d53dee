/*
 * msg.h - one received message, shared by every copy made of it: its
 * envelope and the text in canonical form (LF line ends, dot-unstuffed,
 * the store's own headers removed).  Reference counted: the SMTP
 * session, each mailbox delivery and the queue each hold a reference.
 */
#ifndef YUBIN_MSG_H
#define YUBIN_MSG_H

#include <sys/types.h>
#include <time.h>

#include "buf.h"

#define MSG_ID_MAX	32
#define MSG_ADDR_MAX	520	/* a path: local 256 + @ + domain 256 */

struct msg {
	int		refs;
	char		id[MSG_ID_MAX];
	time_t		arrival;
	char		sender[MSG_ADDR_MAX];	/* "" for the null sender <> */
	char		helo[256];		/* as the client said it */
	char		client[64];		/* IP address text */
	char		proto[16];		/* SMTP, ESMTP, ESMTPA, local */
	char		auth[64];		/* authenticated user or "" */
	struct buf	data;			/* canonical text */
};

struct msg *msg_new(void);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);
/* A fresh queue id: time, pid and a counter, [0-9A-F]. */
void msg_make_id(char *out, size_t len);

/*
 * The header lines the store writes itself (DESIGN.md): incoming copies
 * are removed, since forged ones would corrupt flags, UIDs or the
 * message boundaries.
 */
int msg_header_is_ours(const char *line, size_t len);

/* RFC 5322 3.3 date-time: "Sun, 22 Nov 2026 04:14:00 +0000". */
int rfc822_date(time_t t, char *out, size_t len);

/*
 * xtext (RFC 3461 section 4): any string as one word without spaces,
 * for the queue and maildrop files.  "" is written as "+".
 */
int xtext_put(struct buf *b, const char *s);
int xtext_get(const char *s, size_t len, char *out, size_t outlen);

/* Our Received: line for a copy to rcpt (NULL: no "for" clause). */
int msg_received(struct buf *out, const struct msg *m, const char *rcpt);

#endif

/*
 * smtpc.h - the SMTP client: delivers one queued message to one remote
 * host, given as an address (names are dns.c's business), from inside
 * the loop and never blocking.  It reports a result per recipient; the
 * caller (relay.c) decides about other MX hosts, retries and bounces.
 */
#ifndef YUBIN_SMTPC_H
#define YUBIN_SMTPC_H

#include <sys/types.h>

#define SMTPC_SENT	0	/* 2xx after the final dot for this recipient */
#define SMTPC_TEMP	1	/* 4xx, or the connection failed or timed
				 * out: try later (maybe another MX) */
#define SMTPC_PERM	2	/* 5xx: bounce */

#define SMTPC_REPLY_MAX	512	/* RFC 5321 4.5.3.1.5: a reply line */

struct smtpc_rcpt {
	const char	*addr;		/* in: the address, without <> */
	int		status;		/* out: SMTPC_* */
	/*
	 * out: the remote reply (its first line, as "550 5.1.1 text"),
	 * or ours when there was none: "connect to 192.0.2.1:25:
	 * Connection refused".  Our permanent refusals begin with their
	 * enhanced status code ("5.6.3 ...", "5.3.4 ..."), our temporary
	 * ones carry no code.  Control characters become '?'.
	 */
	char		reply[SMTPC_REPLY_MAX];
};

struct smtpc_job {
	/* Where: family 4 or 6 (AF_INET and AF_INET6 are taken too), the
	 * address in network order, the port in host order. */
	int		family;
	unsigned char	addr[16];
	unsigned short	port;
	const char	*host;		/* the name, for logs; may be "" */
	const char	*helo;		/* our host name for EHLO/HELO */
	const char	*sender;	/* envelope sender, "" for <> */
	struct smtpc_rcpt *rcpts;
	int		nrcpts;
	/*
	 * The message: msglen bytes at msgoff in msgfd, in the queue's
	 * canonical form (LF line ends, not dot-stuffed).  It is sent in
	 * pieces with CR LF line ends and dot-stuffing; a CR LF already in
	 * the file is sent as it is.  The descriptor is read with lseek()
	 * and read(), and only until fn is called.
	 */
	int		msgfd;
	off_t		msgoff, msglen;
	/* sent before the file's text, the same way (our Received:
	 * line, LF-ended); NULL for none */
	const char	*head;
	size_t		headlen;
	int		eightbit;	/* has 8-bit octets: needs 8BITMIME */
	/* For SIZE=, counted as sent (CR LF line ends): msglen plus the
	 * number of lines.  0: msglen is declared. */
	unsigned long	size;
};

/*
 * The end of one delivery attempt: every recipient has its status and
 * reply.  conn_ok tells whether a connection was made and its greeting
 * was 2xx (so the recipients that got a final answer need no other MX
 * host).  why is never NULL: "" when the session itself went well,
 * else what went wrong with it (also the reply of every recipient that
 * got no answer of its own).
 */
typedef void smtpc_done_fn(void *arg, int conn_ok, const char *why);

/*
 * Start delivering job; fn is called once, always from the loop, never
 * from within smtpc_start().  The job, the strings it points to and
 * msgfd must stay valid until then; afterwards the client only says
 * QUIT and frees itself.  NULL on immediate failure (no memory, no
 * descriptor, an unknown address family, an unusable helo name): fn is
 * then not called, errno says why, and every recipient is set to
 * SMTPC_TEMP with the reason.  A refused or failed connection is not
 * immediate: it is reported through fn (conn_ok 0), like a timeout.
 */
struct smtpc *smtpc_start(struct smtpc_job *job, smtpc_done_fn *fn,
    void *arg);
/* Stop at once: fn is not called, QUIT is not waited for.  Valid until
 * fn has returned (so fn itself may cancel), not after. */
void smtpc_cancel(struct smtpc *c);
/* Clients alive, those still saying QUIT included. */
int smtpc_count(void);
/* Called with the job's host when a client that smtpc_start() returned
 * is gone for good (after QUIT): connection counts per host follow it. */
extern void (*smtpc_closed_hook)(const char *host);

/*
 * Timeouts in milliseconds, per RFC 5321 4.5.3.2 by default: connect
 * 30 s (the RFC names none), greeting 5 min, EHLO/HELO 5 min, MAIL
 * 5 min, RCPT 5 min, DATA 2 min, each block of the message 3 min, the
 * reply to the final dot 10 min, QUIT 10 s.  NULL restores them.
 * For tests; they apply to clients started afterwards.
 */
struct smtpc_timeouts {
	unsigned long	connect, greeting, helo, mail, rcpt, data, block,
			dot, quit;
};
void smtpc_set_timeouts(const struct smtpc_timeouts *t);
void smtpc_get_timeouts(struct smtpc_timeouts *t);

#endif

/*
 * smtpc_priv.h - what smtpc.c (the client's life: connecting, I/O,
 * streaming the message, timeouts, the report) and smtpc_reply.c (the
 * conversation: commands sent and the replies that answer them) share.
 * Nothing else includes it.
 */
#ifndef YUBIN_SMTPC_PRIV_H
#define YUBIN_SMTPC_PRIV_H

#include <sys/types.h>
#include <stddef.h>

#include "buf.h"
#include "ev.h"
#include "smtpc.h"

/*
 * A reply line may be 512 octets (RFC 5321 4.5.3.1.5); servers that
 * write longer ones exist, so four times that is tolerated.  Anything
 * longer, or a reply of more lines than an EHLO list ever needs, is a
 * protocol error: the buffers stay bounded whatever the server sends.
 */
#define SMTPC_LINE_MAX		2048
#define SMTPC_REPLY_LINES	100
/* Addresses: a path is at most 256 octets (RFC 5321 4.5.3.1.3); the
 * queue keeps a little more, so do we. */
#define SMTPC_ADDR_MAX		520
/* The message is read in pieces of this size; stuffing and CR LF at
 * most double a piece, so the output buffer stays below its cap.
 * Commands are queued only below OUT_LOW_WATER, a few hundred bytes
 * each. */
#define SMTPC_BODY_CHUNK	16384
#define SMTPC_OUT_MAX		(OUT_LOW_WATER + 2 * SMTPC_BODY_CHUNK + 4096)

enum sc_state {
	SC_CONNECT,		/* connect() in progress */
	SC_FAILED,		/* failed before any I/O: report from a timer */
	SC_GREETING,		/* waiting for the 220 */
	SC_EHLO,		/* EHLO sent */
	SC_HELO,		/* EHLO refused, HELO sent */
	SC_TRANS,		/* MAIL, RCPTs, DATA: sent and answered */
	SC_BODY,		/* writing the message and the final dot */
	SC_DOT,			/* waiting for the reply to the final dot */
	SC_NULLDOT,		/* DATA accepted with no recipient: "." sent */
	SC_QUIT,		/* results given; QUIT sent */
	SC_DEAD			/* closed; freed when its callbacks return */
};

/* The command sequence: MAIL, the RCPTs (by index), DATA. */
#define SEQ_MAIL	(-1)
#define SEQ_DATA	(-2)

/* What a recipient is waiting for. */
#define RS_PENDING	0	/* no answer yet */
#define RS_ACCEPTED	1	/* RCPT 2xx: the dot's reply decides */
#define RS_DONE		2	/* status and reply are final */

/* What EHLO said. */
#define CAP_PIPELINING	1
#define CAP_SIZE	2
#define CAP_8BITMIME	4

struct smtpc {
	struct smtpc_job	*job;		/* NULL once fn was called */
	smtpc_done_fn		*fn;
	void			*arg;
	enum sc_state		state;
	int			fd;
	int			busy;		/* depth of our callbacks */
	int			dead;		/* free when busy is 0 */
	struct smtpc_timeouts	tmo;
	struct buf		in, out;
	struct ev_timer		timer;
	unsigned long		armed;		/* the running timeout, ms */
	char			name[320];	/* "host[ip]:port" for logs */
	char			host[256];	/* job->host, for the hook */
	int			hooked;		/* smtpc_start() returned it */
	char			where[64];	/* "ip:port" */
	int			greeted;	/* the greeting was 2xx */
	int			caps;		/* CAP_* from EHLO */
	unsigned long		size_max;	/* SIZE limit, 0: none */
	int			*seq;		/* SEQ_* or a recipient */
	int			nseq, nsent, nacked;
	unsigned char		*rst;		/* RS_* per recipient */
	int			naccepted;
	int			mail_failed;
	/* the reply being read */
	int			rcode, rlines;
	char			rtext[SMTPC_REPLY_MAX];
	/* the message being written */
	off_t			boff, bleft;
	size_t			hpos;		/* of job->head sent */
	int			bol, lastcr, body_end;
	char			why[SMTPC_REPLY_MAX];
};

/* smtpc.c */
void sc_set_state(struct smtpc *c, enum sc_state st);
/* Arm the timeout; -1 if that failed, and with it the client. */
int sc_arm(struct smtpc *c, unsigned long ms);
/* What the client waits for, for texts: "the reply to RCPT TO". */
const char *sc_waiting_for(const struct smtpc *c);
/* Text for a log line or a bounce: printable ASCII only. */
void sc_copy_text(char *dst, size_t dstlen, const char *src, size_t len);
void sc_set_rcpt(struct smtpc *c, int i, int status, const char *text);
/* Give every recipient still in state rs this result. */
void sc_set_all(struct smtpc *c, int rs, int status, const char *text);
/* Every recipient has its result: report, then QUIT (if quit) or
 * close.  Recipients without one get SMTPC_TEMP and c->why. */
void sc_conclude(struct smtpc *c, int quit);
/* A session-level failure: log, set c->why, conclude without QUIT. */
void sc_fail(struct smtpc *c, const char *fmt, ...) PRINTFLIKE(2, 3);
void sc_close(struct smtpc *c);

/* smtpc_reply.c */
/* Queue what may be sent now of MAIL, RCPT..., DATA. */
void sc_emit(struct smtpc *c);
/* Handle every complete reply line in c->in. */
void sc_parse_input(struct smtpc *c);

#endif

/*
 * dsn.h - delivery status notifications (bounces): RFC 3464
 * multipart/report; report-type=delivery-status, composed in memory in
 * the canonical form the queue stores (LF line ends, see msg.h).
 *
 * Pure: no files, no sockets, no globals.  The original message is read
 * only through the caller's callback.  The caller sends the result with
 * the null reverse-path (MAIL FROM:<>, RFC 5321 4.5.5 and 6.1) and never
 * composes a bounce for a message whose own sender was <>.
 */
#ifndef YUBIN_DSN_H
#define YUBIN_DSN_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define DSN_FAILED	1
#define DSN_DELAYED	2

/*
 * Limits.  RFC 5322 2.1.1: no line may pass 998 octets; we fold where
 * we can (at 78, the "SHOULD") and break where we must.  A remote reply
 * is kept up to DSN_DIAG_MAX octets (a multi-line SMTP reply joined with
 * spaces; RFC 5321 4.5.3.1.5 allows 512 per line but not the number of
 * lines); an address up to DSN_ADDR_MAX (RFC 5321 4.5.3.1.3 says 256 for
 * a path, the queue keeps 520).  Without a max_body the original is
 * included up to DSN_INCLUDE_MAX octets.
 */
#define DSN_LINE_MAX		998
#define DSN_FOLD_AT		78
#define DSN_DIAG_MAX		4096
#define DSN_ADDR_MAX		600
#define DSN_HOST_MAX		255
#define DSN_INCLUDE_MAX		(256UL * 1024UL)
/* The text parts (the explanation and the report) together, at most. */
#define DSN_REPORT_MAX		(16UL * 1024UL * 1024UL)

struct dsn_rcpt {
	const char *orcpt;	/* the address as the client gave it
				 * (Original-Recipient), or NULL */
	const char *final;	/* the address we tried (Final-Recipient) */
	int action;		/* DSN_FAILED or DSN_DELAYED */
	const char *status;	/* enhanced code "5.1.1" (RFC 3463) */
	const char *remote_mta;	/* "mx.example.org" or NULL */
	const char *diag;	/* the remote reply "550 5.1.1 No such user"
				 * or our own text, or NULL */
	time_t last_attempt;	/* 0: not known */
};

struct dsn {
	const char *reporting_mta;	/* our host name */
	const char *queue_id;		/* or NULL */
	const char *sender;		/* the envelope sender the bounce goes
					 * to (never "": no bounce to <>) */
	time_t arrival;			/* 0: not known */
	const char *postmaster;		/* From: of the bounce, e.g.
					 * "MAILER-DAEMON@host"; NULL: that */
	const struct dsn_rcpt *rcpts;
	int nrcpts;
	/*
	 * The original message in canonical form.  read() returns the
	 * octets copied (at most len) from offset off, 0 at the end, -1 on
	 * an error; read NULL includes nothing.
	 */
	long (*read)(void *arg, unsigned long off, char *buf, size_t len);
	void *arg;
	unsigned long hdr_len;	/* header length including the blank line,
				 * or 0 if unknown (then it is found; a wrong
				 * value is noticed and found too) */
	int full;		/* include the body too (the caller decides) */
	unsigned long max_body;	/* cap on included original octets (header
				 * and body); 0: DSN_INCLUDE_MAX */
};

/*
 * Append the bounce (its header and body, LF line ends) to out.
 * Returns 0, or -1 (bad arguments, a read error, out of memory, out's
 * cap reached) with out as it was.
 *
 * What goes in:
 * - From: "Mail Delivery System" <postmaster>, To: <sender>, Subject:
 *   "Undelivered Mail Returned to Sender" (any recipient failed) or
 *   "Delayed Mail (still being retried)" (all delayed), Date,
 *   Message-ID, Auto-Submitted: auto-replied (RFC 3834 5), MIME.
 * - text/plain: the explanation, Postfix's wording, one paragraph per
 *   recipient.
 * - message/delivery-status: Reporting-MTA, X-Yubin-Queue-ID,
 *   X-Yubin-Sender, Arrival-Date; per recipient Final-Recipient,
 *   Original-Recipient (if orcpt), Action, Status, Remote-MTA (if
 *   remote_mta), Diagnostic-Code (if diag: "smtp;" when it is an SMTP
 *   reply, "X-Yubin;" for our own words), Last-Attempt-Date.
 * - message/rfc822 (full was asked and the whole message fits max_body)
 *   or else text/rfc822-headers (the header, cut at a line end if it
 *   alone passes max_body); nothing if read is NULL or the message is
 *   empty.  Marked 8bit (the part and the whole) if it holds 8-bit
 *   octets, so the sending side knows it needs 8BITMIME.
 *
 * Everything we write ourselves is ASCII: 8-bit octets and controls in
 * addresses, host names and diagnostics become '?' (a UTF-8 address
 * would need RFC 6533's utf-8 address type and message/global-delivery-
 * status, which we do not do).  Addresses are written as given
 * otherwise (RFC 3464 2.3.2: the reporting MTA need not check them).
 * Status codes that are not RFC 3463 syntax become 5.0.0 / 4.0.0, and
 * the class is made to agree with the action (delayed: 4, failed: 4 or
 * 5).  Lines of the original longer than DSN_LINE_MAX are broken (a
 * header line by folding).  The boundary holds the queue id and is
 * checked against every included octet.
 */
int dsn_compose(const struct dsn *d, struct buf *out);

#endif

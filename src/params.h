/*
 * params.h - every limit, default and compiled-in path of yubind, in one
 * place, each with the reason for its value.  configure may override the
 * paths (config.h is included first); the configuration file overrides
 * what a site might want to change (see yubin.conf(5)).
 */
#ifndef YUBIN_PARAMS_H
#define YUBIN_PARAMS_H

/* Paths.  configure passes SYSCONFDIR, SPOOLDIR, QUEUEDIR, LOCALSTATEDIR. */
#ifndef SYSCONFDIR
#define SYSCONFDIR		"/etc"
#endif
#ifndef SPOOLDIR
#define SPOOLDIR		"/var/mail"
#endif
#ifndef QUEUEDIR
#define QUEUEDIR		"/var/spool/yubin"
#endif
#ifndef RUNDIR
#define RUNDIR			"/var/run"
#endif
#ifndef YUBIN_USER
#define YUBIN_USER		"nobody"
#endif
#define CONF_FILE		SYSCONFDIR "/yubin.conf"
#define PASSWD_FILE		SYSCONFDIR "/yubin.passwd"
#define PID_FILE		RUNDIR "/yubind.pid"
#define SYSTEM_ALIASES		"/etc/aliases"

/* Sandbox layout (yubind -S DIR): everything relative to DIR. */
#define SANDBOX_CONF		"etc/yubin.conf"
#define SANDBOX_PASSWD		"etc/yubin.passwd"
#define SANDBOX_ALIASES		"etc/aliases"
#define SANDBOX_SPOOL		"mail"
#define SANDBOX_QUEUE		"queue"
#define SANDBOX_HOME		"home"
#define SANDBOX_LOG		"log/yubind.log"
#define SANDBOX_PIDFILE		"run/yubind.pid"
/* Where a sandbox writes the ports it really bound (port 0 = any). */
#define SANDBOX_PORTSFILE	"run/ports"
#define SANDBOX_SMTP		"127.0.0.1:2525"
#define SANDBOX_SUBMISSION	"127.0.0.1:2587"
#define SANDBOX_POP3		"127.0.0.1:1110"
#define SANDBOX_IMAP		"127.0.0.1:1143"

/*
 * Line lengths.  RFC 5321 4.5.3.1.4 allows 512 octets for a command line
 * and 1000 for a text line; we accept a little more than the command limit
 * (clients send long AUTH responses) and report anything beyond as an
 * error instead of truncating it.  RFC 2449 section 4 raised POP3's limit
 * to 255 octets; IMAP has none, so we pick one big enough for long UID
 * sets (RFC 7162 recommends at least 8192).
 */
#define SMTP_LINE_MAX		4096
#define POP3_LINE_MAX		1024
#define IMAP_LINE_MAX		65536

/* Timeouts in seconds; RFC 5321 4.5.3.2.7, RFC 1939 3, RFC 3501 5.4. */
#define SMTP_TIMEOUT		300
#define POP3_TIMEOUT		600
#define IMAP_TIMEOUT		1800

/* The biggest read from a socket in one loop turn: bounds latency. */
#define IO_CHUNK		16384
/*
 * Output backpressure: a connection whose unsent output exceeds the high
 * mark is not read from (a pipelined flood cannot make us buffer without
 * bound) until it drains below the low mark.  Streams refill below it.
 */
#define OUT_HIGH_WATER		65536
#define OUT_LOW_WATER		16384
/* A file range is streamed in pieces of this size (DESIGN.md). */
#define STREAM_CHUNK		65536

/*
 * Descriptors select() can watch are below FD_SETSIZE.  Keep some for
 * listeners, the log, the signal pipe and files opened by sessions.
 */
#define FD_RESERVE		16
#define MAX_CONNECTIONS		1000
#define MAX_CONNECTIONS_PER_IP	50
#define MAX_LISTENERS		16

#define MESSAGE_SIZE_LIMIT	10240000UL
#define LOCK_TIMEOUT		30	/* seconds an SMTP client may wait on a lock */
#define LOCK_STALE		300	/* dotlock age (ctime) that is stale */

/* SIGTERM: sessions get this long to flush their farewell (issue: < 5s). */
#define SHUTDOWN_GRACE_MS	3000
/* Then mailbox writes (IMAP flags, a POP3 QUIT) get this long to end. */
#ifndef SHUTDOWN_MAILBOX_MS
#define SHUTDOWN_MAILBOX_MS	30000
#endif

/* A configuration file line, and the number of words on it. */
#define CONF_LINE_MAX		4096
#define CONF_WORDS_MAX		64

/*
 * The longest secret yubin-passwd stores.  popauth and most clients
 * cope with far less; 255 is the longest SASL PLAIN password RFC 4616
 * section 2 asks servers to accept.
 */
#define AUTH_SECRET_MAX		255
/*
 * A decoded SASL PLAIN message: authzid, authcid and password of up to
 * 255 octets each (RFC 4616 section 2) and two NULs, with room to spare.
 */
#define SASL_DECODED_MAX	1024
/* The passwd file is small; anything bigger is not ours. */
#define PASSWD_FILE_MAX		(4UL * 1024 * 1024)

/*
 * Messages whose index yubind keeps between sessions (about 100 bytes
 * each): a repeated login to a large mailbox then needs no parse.
 */
#ifndef MAILBOX_KEEP_MSGS
#define MAILBOX_KEEP_MSGS	500000UL
#endif

/* Mailboxes whose UIDVALIDITY is remembered beyond their index (for a
 * file that lost its X-IMAPbase line to another program). */
#ifndef MAILBOX_MEMOS
#define MAILBOX_MEMOS		4096
#endif

/* Keywords listed in X-IMAPbase (Dovecot allows 26 per mailbox in
 * Maildir; mbox has no limit of its own). */
#ifndef MAILBOX_KEYWORDS_MAX
#define MAILBOX_KEYWORDS_MAX	64
#endif

/* Received: lines that mean a mail loop (RFC 5321 6.3): refused when
 * received, bounced when relayed. */
#define SMTP_HOPS_MAX		50

#endif

/*
 * test_smtpc.c - unit tests of src/smtpc.c against a fake SMTP server
 * in the same process: a listener on 127.0.0.1 whose connection answers
 * scripted replies, both sides driven by the one loop.  The server
 * records every command line and the message exactly as it arrived
 * (CR LF and dot-stuffing included), and notices a client that sends a
 * command before the previous one was answered.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "ev.h"
#include "log.h"
#include "smtpc.h"
#include "util.h"

#define CLOSE	"CLOSE"		/* a reply that hangs up instead */
#define MAXR	4
#define M_FLOOD	1		/* EHLO: endless continuation lines */
#define M_STALL	2		/* stop reading after the 354 */
#define M_MANY	3		/* any number of RCPTs: 250 */

/* What the fake server says; NULL: say nothing (hang). */
struct script {
	const char	*greeting;
	const char	*ehlo, *helo, *mail;
	const char	*rcpt[MAXR];
	const char	*data, *dot;
	int		hold;		/* answer nothing before DATA arrives */
	int		mode;		/* M_* */
};

static struct {
	const struct script *s;
	int		lfd, fd;
	int		port;
	struct buf	in;
	struct buf	held;		/* replies kept back (hold) */
	struct buf	cmds;		/* every command line, LF after each */
	struct buf	body;		/* the message as sent, dot included */
	int		indata, nrcpt, quit, ahead, seen_data;
	int		wfail;		/* a reply could not be written */
	int		bare_lf;	/* a command line without CR LF */
} srv;

static int done, done_ok;
static char done_why[SMTPC_REPLY_MAX];
static struct ev_timer tick, watchdog;
static int timed_out;

/* ---- the fake server ------------------------------------------------ */

static void srv_io(int fd, int what, void *arg);

static void
srv_close(void)
{
	if (srv.fd >= 0) {
		(void)ev_io(srv.fd, 0, NULL, NULL);
		close(srv.fd);
		srv.fd = -1;
	}
}

/*
 * Replies are short: the socket buffer takes them whole.  One write()
 * each, so that Nagle never holds a second one back behind a delayed
 * ACK.
 */
static void
srv_say(const char *text)
{
	char line[2048];
	size_t n;

	if (text == NULL || srv.fd < 0)
		return;
	if (strcmp(text, CLOSE) == 0) {
		srv_close();
		return;
	}
	n = (size_t)snprintf(line, sizeof(line), "%s\r\n", text);
	if (write(srv.fd, line, n) != (ssize_t)n)
		srv.wfail = 1;
}

/* MAIL and RCPT replies, kept back until DATA if the script says so. */
static void
srv_say_held(const char *text)
{
	size_t n;

	if (srv.s->hold && !srv.seen_data) {
		if (text != NULL) {
			(void)buf_puts(&srv.held, text);
			(void)buf_puts(&srv.held, "\r\n");
		}
		return;
	}
	if (text != NULL && strcmp(text, CLOSE) == 0) {
		srv_close();
		return;
	}
	if (text != NULL && buf_puts(&srv.held, text) == 0 &&
	    buf_puts(&srv.held, "\r\n") == 0 &&
	    (n = buf_used(&srv.held)) > 0 && srv.fd >= 0 &&
	    write(srv.fd, buf_ptr(&srv.held), n) != (ssize_t)n)
		srv.wfail = 1;
	buf_reset(&srv.held);
}

static void
srv_flood(void)
{
	char line[64];
	int i;

	for (i = 0; i < 300 && srv.fd >= 0; i++) {
		(void)snprintf(line, sizeof(line), "250-KEYWORD%d", i);
		srv_say(line);
	}
}

static void
srv_command(const char *line)
{
	(void)buf_puts(&srv.cmds, line);
	(void)buf_puts(&srv.cmds, "\n");
	if (ascii_ncasecmp(line, "EHLO ", 5) == 0) {
		if (srv.s->mode == M_FLOOD)
			srv_flood();
		else
			srv_say(srv.s->ehlo);
	} else if (ascii_ncasecmp(line, "HELO ", 5) == 0)
		srv_say(srv.s->helo);
	else if (ascii_ncasecmp(line, "MAIL FROM:", 10) == 0)
		srv_say_held(srv.s->mail);
	else if (ascii_ncasecmp(line, "RCPT TO:", 8) == 0) {
		srv_say_held(srv.s->mode == M_MANY ? "250 2.1.5 ok" :
		    srv.nrcpt < MAXR ? srv.s->rcpt[srv.nrcpt] : "452 x");
		srv.nrcpt++;
	} else if (ascii_casecmp(line, "DATA") == 0) {
		srv.seen_data = 1;
		srv_say_held(srv.s->data);
		srv.indata = srv.s->data != NULL &&
		    strncmp(srv.s->data, "354", 3) == 0;
		if (srv.indata && srv.s->mode == M_STALL)
			(void)ev_io(srv.fd, 0, NULL, NULL);
	} else if (ascii_casecmp(line, "QUIT") == 0) {
		srv.quit = 1;
		srv_say("221 bye");
		srv_close();
	} else
		srv_say("500 what");
}

/* Handle the complete lines in srv.in. */
static void
srv_lines(void)
{
	char *p, *nl;
	size_t len;
	int ncmds = 0;

	while (srv.fd >= 0 && buf_used(&srv.in) > 0) {
		p = buf_ptr(&srv.in);
		if ((nl = memchr(p, '\n', buf_used(&srv.in))) == NULL)
			break;
		len = (size_t)(nl - p) + 1;
		if (srv.indata) {
			(void)buf_append(&srv.body, p, len);
			if (len == 3 && memcmp(p, ".\r\n", 3) == 0) {
				srv.indata = 0;
				srv_say(srv.s->dot);
			}
		} else {
			if (len < 2 || p[len - 2] != '\r')
				srv.bare_lf = 1;
			p[len - (len >= 2 && p[len - 2] == '\r' ? 2 : 1)] =
			    '\0';
			/* Another command in the same read: sent ahead. */
			if (++ncmds > 1)
				srv.ahead = 1;
			srv_command(p);
		}
		buf_consume(&srv.in, len);
	}
}

static void
srv_io(int fd, int what, void *arg)
{
	char *p;
	ssize_t n;

	(void)what;
	(void)arg;
	if (fd == srv.lfd) {
		int cfd = accept(srv.lfd, NULL, NULL);

		if (cfd < 0)
			return;
		CHECK(srv.fd < 0);
		srv.fd = cfd;
		if (srv.s->mode == M_STALL) {
			int small = 4096;

			(void)setsockopt(cfd, SOL_SOCKET, SO_RCVBUF,
			    (void *)&small, sizeof(small));
		}
		(void)fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL, 0) | O_NONBLOCK);
		(void)ev_io(cfd, EV_READ, srv_io, NULL);
		srv_say(srv.s->greeting);
		return;
	}
	if ((p = buf_reserve(&srv.in, 65536)) == NULL)
		return;
	n = read(fd, p, 65536);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		srv_close();
		return;
	}
	buf_commit(&srv.in, (size_t)n);
	srv_lines();
}

static int
srv_listen(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, 5) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	srv.port = ntohs(sin.sin_port);
	return fd;
}

/* ---- the client side ------------------------------------------------ */

static void
on_done(void *arg, int conn_ok, const char *why)
{
	(void)arg;
	done++;
	done_ok = conn_ok;
	CHECK(why != NULL);
	(void)strlcpy(done_why, why != NULL ? why : "", sizeof(done_why));
}

static struct smtpc *cancel_me;

static void
on_done_cancel(void *arg, int conn_ok, const char *why)
{
	on_done(arg, conn_ok, why);
	smtpc_cancel(cancel_me);
}

/* Stop once the client has reported, said goodbye and gone. */
static void
on_tick(void *arg)
{
	(void)arg;
	if (done && smtpc_count() == 0 && srv.s->mode == M_STALL)
		srv_close();		/* it stopped reading: no EOF seen */
	if (done && smtpc_count() == 0 && srv.fd < 0) {
		ev_break();
		return;
	}
	(void)ev_timer_set(&tick, 5);
}

static void
on_watchdog(void *arg)
{
	(void)arg;
	timed_out = 1;
	ev_break();
}

/* A message file: junk before msgoff, so the offset is honoured. */
static int
msgfile(const char *text)
{
	FILE *fp = tmpfile();

	if (fp == NULL)
		return -1;
	fputs("JUNK!", fp);
	fputs(text, fp);
	fflush(fp);
	return dup(fileno(fp));	/* tmpfile's own stream leaks; fine */
}

static void
job_init(struct smtpc_job *j, struct smtpc_rcpt *r, int nr, int fd,
    const char *text)
{
	static const char *const addrs[MAXR] = {
		"one@b.test", "two@b.test", "three@b.test", "four@b.test"
	};
	int i;

	memset(j, 0, sizeof(*j));
	memset(r, 0, (size_t)nr * sizeof(*r));
	for (i = 0; i < nr; i++) {
		r[i].addr = addrs[i];
		r[i].status = -1;
	}
	j->family = 4;
	j->addr[0] = 127;
	j->addr[3] = 1;
	j->port = (unsigned short)srv.port;
	j->host = "mx.b.test";
	j->helo = "a.test";
	j->sender = "sender@a.test";
	j->rcpts = r;
	j->nrcpts = nr;
	j->msgfd = fd;
	j->msgoff = 5;
	j->msglen = (off_t)strlen(text);
}

/* Start a delivery against script s. */
static struct smtpc *
start(const struct script *s, struct smtpc_job *j, smtpc_done_fn *fn)
{
	struct smtpc *c;

	srv.s = s;
	srv.indata = srv.nrcpt = srv.quit = srv.ahead = srv.seen_data = 0;
	srv.wfail = srv.bare_lf = 0;
	buf_reset(&srv.in);
	buf_reset(&srv.held);
	buf_reset(&srv.cmds);
	buf_reset(&srv.body);
	done = done_ok = timed_out = 0;
	done_why[0] = '\0';
	c = smtpc_start(j, fn, NULL);
	CHECK(c != NULL);
	CHECK(done == 0);		/* never from inside smtpc_start */
	return c;
}

/* Run the loop until the client is done and gone. */
static void
finish(void)
{
	(void)ev_timer_set(&tick, 5);
	(void)ev_timer_set(&watchdog, 5000);
	ev_run();
	ev_timer_del(&tick);
	ev_timer_del(&watchdog);
	CHECK(!timed_out);
	CHECK(done == 1);
	CHECK(smtpc_count() == 0);
	CHECK(!srv.wfail);
	CHECK(!srv.bare_lf);
	srv_close();
	(void)buf_terminate(&srv.cmds);
	(void)buf_terminate(&srv.body);
}

/* One delivery against script s. */
static void
run(const struct script *s, struct smtpc_job *j)
{
	if (start(s, j, on_done) != NULL)
		finish();
}

static int
cmds_has(const char *s)
{
	return buf_used(&srv.cmds) > 0 && strstr(buf_ptr(&srv.cmds), s) != NULL;
}

static int
body_is(const char *s)
{
	return buf_used(&srv.body) == strlen(s) &&
	    memcmp(buf_ptr(&srv.body), s, strlen(s)) == 0;
}

#define OK250	"250 2.1.0 Ok"
#define EHLO_PLAIN	"250-mx.b.test\r\n250 SIZE 100000"
#define EHLO_PIPE	"250-mx.b.test\r\n250-PIPELINING\r\n250-SIZE\r\n" \
			"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES"

/* ---- the cases ------------------------------------------------------ */

static void
test_plain(void)
{
	static const struct script s = { "220 mx.b.test ESMTP", EHLO_PLAIN,
	    NULL, OK250, { OK250 }, "354 go", "250 2.0.0 Ok: queued as X",
	    0, 0 };
	static const char text[] =
	    "Subject: dots\n\nhello\n.\n.x\n..y\ncr\r\nmid.dot\n.";
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	int fd = msgfile(text);

	job_init(&j, r, 1, fd, text);
	run(&s, &j);
	CHECK(done_ok == 1 && done_why[0] == '\0');
	CHECK(r[0].status == SMTPC_SENT);
	CHECK(strcmp(r[0].reply, "250 2.0.0 Ok: queued as X") == 0);
	CHECK(cmds_has("EHLO a.test\nMAIL FROM:<sender@a.test> SIZE="));
	CHECK(cmds_has("RCPT TO:<one@b.test>\nDATA\nQUIT\n"));
	CHECK(!cmds_has("BODY="));
	/* CR LF, stuffed dots, the CR LF in the file kept single, the
	 * unterminated last line ended, then the dot. */
	CHECK(body_is("Subject: dots\r\n\r\nhello\r\n..\r\n..x\r\n...y\r\n"
	    "cr\r\nmid.dot\r\n..\r\n.\r\n"));
	CHECK(!srv.ahead);
	CHECK(srv.quit);
	close(fd);
}

static void
test_pipelining(void)
{
	static const struct script s = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { OK250, "250-2.1.5 first\r\n250 2.1.5 second" }, "354 go",
	    "250 2.0.0 Ok", 1, 0 };
	static const char text[] = "Subject: 8\n\n\xe9t\xe9\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	int fd = msgfile(text);

	job_init(&j, r, 2, fd, text);
	j.eightbit = 1;
	j.size = 1234;
	/* hold: no reply before DATA has arrived, so a client that waited
	 * between commands would time out. */
	run(&s, &j);
	CHECK(done_ok == 1 && done_why[0] == '\0');
	CHECK(r[0].status == SMTPC_SENT && r[1].status == SMTPC_SENT);
	CHECK(cmds_has("MAIL FROM:<sender@a.test> SIZE=1234 BODY=8BITMIME\n"
	    "RCPT TO:<one@b.test>\nRCPT TO:<two@b.test>\nDATA\n"));
	CHECK(srv.ahead);
	CHECK(body_is("Subject: 8\r\n\r\n\xe9t\xe9\r\n.\r\n"));
	close(fd);
}

static void
test_lockstep(void)
{
	static const struct script s = { "220-mx\r\n220 hello", EHLO_PLAIN,
	    NULL, OK250, { OK250, OK250, OK250 }, "354 go", "250 Ok", 0, 0 };
	static const struct script none = { "220 mx", EHLO_PLAIN, NULL, OK250,
	    { "452 4.5.3 too many", "550 5.1.1 no" }, "354 go", "250 Ok",
	    0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[3];
	int fd = msgfile(text);

	job_init(&j, r, 3, fd, text);
	run(&s, &j);
	CHECK(r[0].status == SMTPC_SENT && r[1].status == SMTPC_SENT &&
	    r[2].status == SMTPC_SENT);
	CHECK(!srv.ahead);
	CHECK(cmds_has("RCPT TO:<three@b.test>\nDATA\nQUIT\n"));

	/* Nobody accepted: no DATA at all. */
	job_init(&j, r, 2, fd, text);
	run(&none, &j);
	CHECK(r[0].status == SMTPC_TEMP && r[1].status == SMTPC_PERM);
	CHECK(strcmp(r[0].reply, "452 4.5.3 too many") == 0);
	CHECK(cmds_has("RCPT TO:<two@b.test>\nQUIT\n") && !cmds_has("DATA"));
	close(fd);
}

static void
test_helo(void)
{
	static const struct script s = { "220 old", "502 5.5.2 What?",
	    "250 old", OK250, { OK250 }, "354 go", "250 Ok", 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	int fd = msgfile(text);

	job_init(&j, r, 1, fd, text);
	run(&s, &j);
	CHECK(r[0].status == SMTPC_SENT);
	CHECK(cmds_has("EHLO a.test\nHELO a.test\n"
	    "MAIL FROM:<sender@a.test>\n"));
	close(fd);
}

static void
test_mail_4xx(void)
{
	static const struct script lock = { "220 mx", EHLO_PLAIN, NULL,
	    "451 4.3.0 try later", { OK250, OK250 }, "354 go", "250 Ok", 0, 0 };
	static const struct script pipe = { "220 mx", EHLO_PIPE, NULL,
	    "451 4.3.0 try later", { "503 no", "503 no" }, "503 no", "250",
	    0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	int fd = msgfile(text);

	job_init(&j, r, 2, fd, text);
	run(&lock, &j);
	CHECK(done_ok == 1);
	CHECK(r[0].status == SMTPC_TEMP && r[1].status == SMTPC_TEMP);
	CHECK(strcmp(r[1].reply, "451 4.3.0 try later") == 0);
	CHECK(!cmds_has("RCPT") && cmds_has("QUIT"));

	job_init(&j, r, 2, fd, text);
	run(&pipe, &j);
	CHECK(r[0].status == SMTPC_TEMP && r[1].status == SMTPC_TEMP);
	CHECK(strcmp(r[0].reply, "451 4.3.0 try later") == 0);
	CHECK(cmds_has("DATA\nQUIT\n") && buf_used(&srv.body) == 0);
	close(fd);
}

static void
test_rcpt_mixed(void)
{
	static const struct script s = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { "550-5.1.1 no such user\r\n550 5.1.1 really", OK250 },
	    "354 go", "250 2.0.0 Ok: queued", 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	int fd = msgfile(text);

	job_init(&j, r, 2, fd, text);
	run(&s, &j);
	CHECK(done_ok == 1 && done_why[0] == '\0');
	CHECK(r[0].status == SMTPC_PERM && r[1].status == SMTPC_SENT);
	CHECK(strcmp(r[0].reply, "550 5.1.1 no such user") == 0);
	CHECK(strcmp(r[1].reply, "250 2.0.0 Ok: queued") == 0);
	close(fd);
}

static void
test_dot_552(void)
{
	static const struct script s = { "220 mx", EHLO_PLAIN, NULL, OK250,
	    { OK250, OK250 }, "354 go", "552 5.3.4 too much", 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	int fd = msgfile(text);

	job_init(&j, r, 2, fd, text);
	run(&s, &j);
	CHECK(r[0].status == SMTPC_PERM && r[1].status == SMTPC_PERM);
	CHECK(strcmp(r[1].reply, "552 5.3.4 too much") == 0);
	CHECK(srv.quit);
	close(fd);
}

static void
test_no_rcpt_accepted(void)
{
	/* A server that accepts DATA with no recipient (RFC 2920 3.1). */
	static const struct script s = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { "550 no", "551 no" }, "354 go anyway", "250 ignored", 0, 0 };
	static const char text[] = "must not be sent\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	int fd = msgfile(text);

	job_init(&j, r, 2, fd, text);
	run(&s, &j);
	CHECK(r[0].status == SMTPC_PERM && r[1].status == SMTPC_PERM);
	CHECK(strcmp(r[1].reply, "551 no") == 0);
	CHECK(body_is(".\r\n"));
	CHECK(srv.quit);
	close(fd);
}

static void
test_421(void)
{
	static const struct script greet = { "421 4.3.2 busy", NULL, NULL,
	    NULL, { NULL }, NULL, NULL, 0, 0 };
	static const struct script rcpt = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { OK250, "421 4.4.2 bye" }, "503 x", "250", 0, 0 };
	static const struct script nosvc = { "554 5.7.1 no service", NULL,
	    NULL, NULL, { NULL }, NULL, NULL, 0, 0 };
	static const struct script ehlo4 = { "220 mx", "451 4.3.0 later",
	    "250 no", NULL, { NULL }, NULL, NULL, 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	int fd = msgfile(text);

	job_init(&j, r, 1, fd, text);
	run(&greet, &j);
	CHECK(done_ok == 0);
	CHECK(r[0].status == SMTPC_TEMP);
	CHECK(strcmp(r[0].reply, "421 4.3.2 busy") == 0);
	CHECK(strcmp(done_why, "421 4.3.2 busy") == 0);
	CHECK(!cmds_has("EHLO"));

	/* 554: no service here; try another MX host (as Postfix does). */
	job_init(&j, r, 1, fd, text);
	run(&nosvc, &j);
	CHECK(done_ok == 0 && r[0].status == SMTPC_TEMP);
	CHECK(strcmp(r[0].reply, "554 5.7.1 no service") == 0);
	CHECK(srv.quit);

	job_init(&j, r, 1, fd, text);
	run(&ehlo4, &j);
	CHECK(done_ok == 1 && r[0].status == SMTPC_TEMP);
	CHECK(strcmp(r[0].reply, "451 4.3.0 later") == 0);
	CHECK(!cmds_has("HELO") && srv.quit);

	job_init(&j, r, 2, fd, text);
	run(&rcpt, &j);
	CHECK(done_ok == 1);
	CHECK(r[0].status == SMTPC_TEMP && r[1].status == SMTPC_TEMP);
	CHECK(strcmp(r[0].reply, "421 4.4.2 bye") == 0);
	CHECK(!srv.quit);
	close(fd);
}

static void
test_refused(void)
{
	static const struct script none = { NULL, NULL, NULL, NULL,
	    { NULL }, NULL, NULL, 0, 0 };
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	char want[64];
	int fd, port;

	/* A port nobody listens on: bound, then closed. */
	fd = srv_listen();
	port = srv.port;
	close(fd);
	job_init(&j, r, 1, -1, "");
	run(&none, &j);
	CHECK(done_ok == 0);
	CHECK(r[0].status == SMTPC_TEMP);
	/* The reason's text is the system's (and qemu-user hands a
	 * sparc64 binary the host's SO_ERROR number): only its start is
	 * ours to check. */
	(void)snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: ", port);
	CHECK(strncmp(r[0].reply, want, strlen(want)) == 0 &&
	    strlen(r[0].reply) > strlen(want));
	if (strncmp(r[0].reply, want, strlen(want)) != 0)
		fprintf(stderr, "refused: [%s]\n", r[0].reply);
	CHECK(strcmp(done_why, r[0].reply) == 0);
}

static void
test_timeouts(void)
{
	static const struct script mute = { NULL, NULL, NULL, NULL,
	    { NULL }, NULL, NULL, 0, 0 };
	static const struct script nodot = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { OK250 }, "354 go", NULL, 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_timeouts t, saved;
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	unsigned long t0;
	int fd = msgfile(text);

	smtpc_get_timeouts(&saved);
	CHECK(saved.greeting == 300000UL && saved.data == 120000UL &&
	    saved.block == 180000UL && saved.dot == 600000UL);
	t = saved;
	t.greeting = 300;
	t.dot = 300;
	smtpc_set_timeouts(&t);
	job_init(&j, r, 1, fd, text);
	t0 = now_ms();
	run(&mute, &j);
	CHECK(now_ms() - t0 >= 290 && now_ms() - t0 < 3000);
	CHECK(done_ok == 0);
	CHECK(r[0].status == SMTPC_TEMP);
	CHECK(strstr(r[0].reply, "timeout after 300 ms waiting for the "
	    "greeting from mx.b.test[127.0.0.1]") != NULL);

	job_init(&j, r, 1, fd, text);
	run(&nodot, &j);
	CHECK(done_ok == 1);
	CHECK(r[0].status == SMTPC_TEMP);
	CHECK(strstr(r[0].reply, "the end of the message") != NULL);
	CHECK(!srv.quit);
	smtpc_set_timeouts(NULL);
	smtpc_get_timeouts(&t);
	CHECK(t.greeting == 300000UL && t.connect == 30000UL);
	close(fd);
}

static void
test_8bit_size(void)
{
	static const struct script s = { "220 mx", EHLO_PLAIN, NULL, OK250,
	    { OK250 }, "354 go", "250 Ok", 0, 0 };
	static const struct script helo = { "220 mx", "500 no", "250 old",
	    OK250, { OK250 }, "354 go", "250 Ok", 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	int fd = msgfile(text);

	job_init(&j, r, 1, fd, text);
	j.eightbit = 1;
	run(&s, &j);
	CHECK(done_ok == 1);
	CHECK(r[0].status == SMTPC_PERM);
	CHECK(strncmp(r[0].reply, "5.6.3 ", 6) == 0);
	CHECK(strstr(r[0].reply, "8-bit data to a 7-bit server") != NULL);
	CHECK(!cmds_has("MAIL") && srv.quit);

	job_init(&j, r, 1, fd, text);
	j.eightbit = 1;
	run(&helo, &j);
	CHECK(r[0].status == SMTPC_PERM && !cmds_has("MAIL"));

	job_init(&j, r, 1, fd, text);
	j.size = 100001;
	run(&s, &j);
	CHECK(r[0].status == SMTPC_PERM);
	CHECK(strncmp(r[0].reply, "5.3.4 ", 6) == 0);
	CHECK(!cmds_has("MAIL") && srv.quit);
	close(fd);
}

static void
test_broken_servers(void)
{
	static const struct script garbage = { "HTTP/1.0 400 Bad Request",
	    NULL, NULL, NULL, { NULL }, NULL, NULL, 0, 0 };
	static const struct script flood = { "220 mx", NULL, NULL, NULL,
	    { NULL }, NULL, NULL, 0, 1 };
	static const struct script mixed = { "220-mx\r\n250 mx", NULL, NULL,
	    NULL, { NULL }, NULL, NULL, 0, 0 };
	static const struct script hangup = { "220 mx", EHLO_PLAIN, NULL,
	    OK250, { CLOSE }, NULL, NULL, 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	int fd = msgfile(text);

	job_init(&j, r, 1, fd, text);
	run(&garbage, &j);
	CHECK(done_ok == 0 && r[0].status == SMTPC_TEMP);
	CHECK(strstr(r[0].reply, "protocol error") != NULL);

	job_init(&j, r, 1, fd, text);
	run(&flood, &j);
	CHECK(done_ok == 1 && r[0].status == SMTPC_TEMP);
	CHECK(strstr(r[0].reply, "too many lines") != NULL);

	job_init(&j, r, 1, fd, text);
	run(&mixed, &j);
	CHECK(r[0].status == SMTPC_TEMP);
	CHECK(strstr(r[0].reply, "codes differ") != NULL);

	job_init(&j, r, 2, fd, text);
	run(&hangup, &j);
	CHECK(done_ok == 1);
	CHECK(r[0].status == SMTPC_TEMP && r[1].status == SMTPC_TEMP);
	CHECK(strstr(r[0].reply, "lost connection with mx.b.test[127.0.0.1]:")
	    != NULL);
	CHECK(strstr(r[0].reply, "the reply to RCPT TO") != NULL);
	close(fd);
}

/* A server that stops reading: the block timeout, no busy loop. */
static void
test_stall(void)
{
	static const struct script s = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { OK250 }, "354 go", "250 Ok", 0, M_STALL };
	static const struct script early = { "220 mx", EHLO_PIPE, NULL,
	    OK250, { OK250 }, "354 go\r\n554 5.7.1 changed my mind", NULL,
	    0, 0 };
	struct smtpc_timeouts t, saved;
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	char *text;
	size_t n = 4UL * 1024 * 1024;
	clock_t cpu;
	int fd;

	CHECK((text = malloc(n + 1)) != NULL);
	if (text == NULL)
		return;
	memset(text, 'x', n);
	text[n] = '\0';
	for (fd = 70; (size_t)fd < n; fd += 71)
		text[fd] = '\n';
	fd = msgfile(text);
	smtpc_get_timeouts(&saved);
	t = saved;
	t.block = 300;
	smtpc_set_timeouts(&t);
	job_init(&j, r, 1, fd, text);
	cpu = clock();
	run(&s, &j);
	/* Waiting on a full socket costs no CPU. */
	CHECK(clock() - cpu < CLOCKS_PER_SEC / 4);
	CHECK(done_ok == 1 && r[0].status == SMTPC_TEMP);
	CHECK(strstr(r[0].reply, "timeout after 300 ms sending the message")
	    != NULL);
	smtpc_set_timeouts(&saved);

	/* A refusal that arrives while the message is being written. */
	job_init(&j, r, 1, fd, text);
	run(&early, &j);
	CHECK(r[0].status == SMTPC_PERM);
	CHECK(strcmp(r[0].reply, "554 5.7.1 changed my mind") == 0);
	CHECK(!srv.quit);
	free(text);
	close(fd);
}

/* Many recipients pipelined: commands queued as the output drains. */
static void
test_many(void)
{
	static const struct script s = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { OK250 }, "354 go", "250 Ok", 1, M_MANY };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt *r;
	char (*addr)[64];
	int i, n = 2000, sent = 0;
	int fd = msgfile(text);

	r = malloc((size_t)n * sizeof(*r));
	addr = malloc((size_t)n * sizeof(*addr));
	CHECK(r != NULL && addr != NULL);
	if (r == NULL || addr == NULL)
		return;
	job_init(&j, r, 1, fd, text);
	for (i = 0; i < n; i++) {
		(void)snprintf(addr[i], sizeof(addr[i]),
		    "recipient-number-%d@b.test", i);
		r[i].addr = addr[i];
	}
	j.nrcpts = n;
	run(&s, &j);
	for (i = 0; i < n; i++)
		sent += r[i].status == SMTPC_SENT;
	CHECK(sent == n);
	CHECK(srv.nrcpt == n);
	CHECK(cmds_has("RCPT TO:<recipient-number-1999@b.test>\nDATA\n"));
	free(r);
	free(addr);
	close(fd);
}

static void
test_ipv6(void)
{
	static const struct script none = { NULL, NULL, NULL, NULL, { NULL },
	    NULL, NULL, 0, 0 };
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	struct smtpc *c;

	/* Port 9 on ::1: refused, or no IPv6 here at all. */
	job_init(&j, r, 1, -1, "");
	j.family = 6;
	memset(j.addr, 0, sizeof(j.addr));
	j.addr[15] = 1;
	j.port = 9;
	j.host = "";
	done = 0;
	srv.s = &none;
	if ((c = smtpc_start(&j, on_done, NULL)) == NULL) {
		CHECK(r[0].status == SMTPC_TEMP);
		return;
	}
	finish();
	CHECK(done_ok == 0);
	CHECK(r[0].status == SMTPC_TEMP);
	CHECK(strncmp(r[0].reply, "connect to [::1]:9: ", 20) == 0);
}

/* A big message in pieces: the output stays bounded, nothing is lost. */
static void
test_big(void)
{
	static const struct script s = { "220 mx", EHLO_PIPE, NULL, OK250,
	    { OK250 }, "354 go", "250 Ok", 0, 0 };
	struct smtpc_job j;
	struct smtpc_rcpt r[1];
	struct buf text, wire;
	int fd, i;

	buf_init(&text, 0);
	buf_init(&wire, 0);
	for (i = 0; i < 20000; i++) {
		(void)buf_printf(&text, "%sline %d of the message\n",
		    i % 7 == 0 ? "." : "", i);
		(void)buf_printf(&wire, "%sline %d of the message\r\n",
		    i % 7 == 0 ? ".." : "", i);
	}
	(void)buf_puts(&wire, ".\r\n");
	(void)buf_terminate(&text);
	(void)buf_terminate(&wire);
	fd = msgfile(buf_ptr(&text));
	job_init(&j, r, 1, fd, buf_ptr(&text));
	run(&s, &j);
	CHECK(r[0].status == SMTPC_SENT);
	CHECK(buf_used(&srv.body) == buf_used(&wire));
	CHECK(body_is(buf_ptr(&wire)));
	buf_free(&text);
	buf_free(&wire);
	close(fd);
}

static void
test_odd_jobs(void)
{
	static const struct script s = { "220 mx", EHLO_PLAIN, NULL, OK250,
	    { OK250 }, "354 go", "250 Ok", 0, 0 };
	static const struct script none = { NULL, NULL, NULL, NULL,
	    { NULL }, NULL, NULL, 0, 0 };
	static const char text[] = "x\n";
	struct smtpc_job j;
	struct smtpc_rcpt r[2];
	struct smtpc *c;
	int fd = msgfile(text);

	/* A recipient we cannot write on a command line. */
	job_init(&j, r, 2, fd, text);
	r[0].addr = "bad\r\nRSET@b.test";
	run(&s, &j);
	CHECK(r[0].status == SMTPC_PERM && r[1].status == SMTPC_SENT);
	CHECK(strncmp(r[0].reply, "5.1.3 ", 6) == 0);
	CHECK(!cmds_has("RSET"));

	/* Null sender. */
	job_init(&j, r, 1, fd, text);
	j.sender = "";
	run(&s, &j);
	CHECK(r[0].status == SMTPC_SENT && cmds_has("MAIL FROM:<> SIZE="));

	/* Nothing to send: reported from the loop, no connection. */
	job_init(&j, r, 1, fd, text);
	r[0].addr = "a b@c";
	run(&none, &j);
	CHECK(done_ok == 0 && r[0].status == SMTPC_PERM);

	/* Cancelled: fn is never called. */
	job_init(&j, r, 1, fd, text);
	c = start(&none, &j, on_done);
	smtpc_cancel(c);
	CHECK(smtpc_count() == 0);
	(void)ev_timer_set(&watchdog, 100);
	ev_run();
	CHECK(done == 0);
	srv_close();

	/* Cancelled by fn itself: allowed, nothing more happens. */
	job_init(&j, r, 1, fd, text);
	if ((cancel_me = start(&s, &j, on_done_cancel)) != NULL)
		finish();
	CHECK(r[0].status == SMTPC_SENT && !srv.quit);

	/* An address family we do not know. */
	job_init(&j, r, 1, fd, text);
	j.family = 99;
	errno = 0;
	CHECK(smtpc_start(&j, on_done, NULL) == NULL);
	CHECK(errno == EAFNOSUPPORT);
	CHECK(r[0].status == SMTPC_TEMP && r[0].reply[0] != '\0');
	close(fd);
}

int
main(void)
{
	int lfd;

	log_open("test_smtpc", 0, NULL);
	if (getenv("SMTPC_DEBUG") != NULL) {
		log_open("test_smtpc", LOG_TO_STDERR, NULL);
		log_set_level(LOG_DEBUG);
	}
	(void)signal(SIGPIPE, SIG_IGN);
	CHECK(ev_init() == 0);
	ev_timer_init(&tick, on_tick, NULL);
	ev_timer_init(&watchdog, on_watchdog, NULL);
	buf_init(&srv.in, 0);
	buf_init(&srv.held, 0);
	buf_init(&srv.cmds, 0);
	buf_init(&srv.body, 0);
	srv.fd = -1;
	test_refused();
	if ((lfd = srv_listen()) < 0) {
		perror("listen");
		return 99;
	}
	srv.lfd = lfd;
	(void)fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL, 0) | O_NONBLOCK);
	(void)ev_io(lfd, EV_READ, srv_io, NULL);
	test_plain();
	test_pipelining();
	test_lockstep();
	test_helo();
	test_mail_4xx();
	test_rcpt_mixed();
	test_dot_552();
	test_no_rcpt_accepted();
	test_421();
	test_timeouts();
	test_8bit_size();
	test_broken_servers();
	test_big();
	test_stall();
	test_many();
	test_ipv6();
	test_odd_jobs();
	return check_exit("test_smtpc");
}

/*
 * test_ev.c - unit tests of src/ev.c (timers, signals) and src/conn.c
 * (line framing, overlong lines, hold/release, counted bytes, streaming
 * a file, closing) over a socketpair, both ends driven by one loop.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "conn.h"
#include "ev.h"
#include "log.h"
#include "proto.h"
#include "util.h"

/* --- timers and signals --- */

static char order[16];
static int norder;

static void
mark(void *arg)
{
	order[norder++] = *(const char *)arg;
	if (norder == 3)
		ev_break();
}

static int got_usr1;

static void
on_usr1(int sig)
{
	got_usr1 = sig;
}

static void
stop(void *arg)
{
	(void)arg;
	ev_break();
}

static void
test_timers(void)
{
	struct ev_timer a, b, c, d;
	static const char ka = 'a', kb = 'b', kc = 'c', kd = 'd';

	ev_timer_init(&a, mark, (void *)&ka);
	ev_timer_init(&b, mark, (void *)&kb);
	ev_timer_init(&c, mark, (void *)&kc);
	ev_timer_init(&d, mark, (void *)&kd);
	CHECK(ev_timer_set(&a, 30) == 0);
	CHECK(ev_timer_set(&b, 10) == 0);
	CHECK(ev_timer_set(&d, 5) == 0);
	CHECK(ev_timer_set(&c, 20) == 0);
	CHECK(ev_timer_pending(&d));
	ev_timer_del(&d);
	CHECK(!ev_timer_pending(&d));
	ev_run();
	CHECK(norder == 3 && memcmp(order, "bca", 3) == 0);

	CHECK(ev_signal(SIGUSR1, on_usr1) == 0);
	ev_timer_init(&a, stop, NULL);
	CHECK(ev_timer_set(&a, 50) == 0);
	raise(SIGUSR1);
	ev_run();
	CHECK(got_usr1 == SIGUSR1);
}

/* --- a toy protocol over conn.c --- */

static struct conn *srv;
static char file_path[] = "/tmp/yubin-test-ev-XXXXXX";
static int file_fd = -1;
static struct ev_timer release_timer;
static int ended, file_done_ok;

static void
release(void *arg)
{
	conn_release(arg);
}

static void
sent_file(void *arg, int ok)
{
	(void)arg;
	file_done_ok = ok;
	conn_puts(srv, "END\n");
}

static void *
toy_start(struct conn *c)
{
	srv = c;
	conn_puts(c, "HELLO\n");
	return c;
}

static void
toy_line(void *sess, char *line, size_t len)
{
	struct conn *c = sess;
	unsigned long n;

	if (strcmp(line, "HOLD") == 0) {
		conn_hold(c);
		conn_puts(c, "HELD\n");
		ev_timer_set(&release_timer, 20);
	} else if (strncmp(line, "BYTES ", 6) == 0 &&
	    parse_ulong(line + 6, 100, &n) == 0) {
		conn_expect_bytes(c, n);
	} else if (strcmp(line, "FILE") == 0) {
		conn_send_file(c, file_fd, 1, 200000, sent_file, NULL);
	} else if (strcmp(line, "QUIT") == 0) {
		conn_puts(c, "BYE\n");
		conn_close(c);
	} else
		conn_printf(c, "L%lu:%s\n", (unsigned long)len, line);
}

static void
toy_bytes(void *sess, const char *p, size_t n, int last)
{
	conn_printf(sess, "B%lu%s:", (unsigned long)n, last ? "!" : "");
	conn_write(sess, p, n);
	conn_puts(sess, "\n");
}

static void
toy_overlong(void *sess)
{
	conn_puts(sess, "TOOLONG\n");
}

static void
toy_end(void *sess)
{
	(void)sess;
	ended = 1;
}

static int
toy_timeout(void)
{
	return 60;
}

static const struct proto toy = {
	"toy", 8, toy_timeout, toy_start, toy_line, toy_bytes, toy_overlong,
	NULL, NULL, toy_end, NULL
};

static struct buf got;

static void
client_read(int fd, int what, void *arg)
{
	char tmp[8192];
	ssize_t n;

	(void)what;
	(void)arg;
	n = read(fd, tmp, sizeof(tmp));
	if (n > 0) {
		buf_append(&got, tmp, (size_t)n);
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	ev_io(fd, 0, NULL, NULL);
	ev_break();
}

static void
test_conn(void)
{
	int sv[2], i;
	char *data, *p;
	const char *input;
	size_t n;

	buf_init(&got, 0);
	ev_timer_init(&release_timer, release, NULL);
	CHECK((file_fd = mkstemp(file_path)) >= 0);
	unlink(file_path);
	data = malloc(200001);
	for (i = 0; i < 200001; i++)
		data[i] = (char)('A' + i % 23);
	CHECK(write(file_fd, data, 200001) == 200001);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	input = "a\r\nbb\n\nx\ry\n0123456789ABCDEF\nok\n"
	    "HOLD\nafter\nBYTES 5\nab\ncdL\nFILE\nlast\n"
	    "123456789\n"
	    "QUIT\nignored\n";
	CHECK(write(sv[1], input, strlen(input)) == (ssize_t)strlen(input));
	CHECK(conn_new(sv[0], sv[0], &toy, 0, NULL, "test") != NULL);
	release_timer.arg = srv;
	CHECK(conn_count == 1);
	ev_io(sv[1], EV_READ, client_read, NULL);
	ev_run();
	/* the connection is freed on the loop turn after its close */
	ev_timer_init(&release_timer, stop, NULL);
	ev_timer_set(&release_timer, 10);
	ev_run();
	CHECK(ended && conn_count == 0);
	CHECK(file_done_ok == 1);
	buf_terminate(&got);
	p = buf_ptr(&got);
	n = strlen("HELLO\nL1:a\nL2:bb\nL0:\nL3:x\ry\nTOOLONG\nL2:ok\nHELD\n"
	    "L5:after\nB5!:ab\ncd\nL1:L\n");
	CHECK(strncmp(p, "HELLO\nL1:a\nL2:bb\nL0:\nL3:x\ry\nTOOLONG\nL2:ok\n"
	    "HELD\nL5:after\nB5!:ab\ncd\nL1:L\n", n) == 0);
	CHECK(buf_used(&got) >= n + 200000);
	if (buf_used(&got) >= n + 200000)
		CHECK(memcmp(p + n, data + 1, 200000) == 0);
	CHECK(strcmp(p + n + 200000, "END\nL4:last\nTOOLONG\nBYE\n") == 0);
	if (strcmp(p + n + 200000, "END\nL4:last\nTOOLONG\nBYE\n") != 0)
		fprintf(stderr, "tail: [%s]\n", p + n + 200000);
	close(sv[1]);
	close(file_fd);
	free(data);
	buf_free(&got);
}

int
main(void)
{
	log_open("test_ev", 0, NULL);
	CHECK(ev_init() == 0);
	test_timers();
	test_conn();
	return check_exit("test_ev");
}

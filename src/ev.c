/*
 * ev.c - the one event loop (DESIGN.md: "No call blocks the loop").
 * select() is the portable way to wait; where configure found epoll it is
 * used instead, because select() makes the kernel scan every watched
 * descriptor on every turn: with 1,000 idle clients that scan, not the
 * work, was what a NOOP waited for.  Both see the same watch table, and
 * descriptors above FD_SETSIZE are refused either way, so an accept()
 * storm can never make FD_SET write out of bounds.  Timers are a binary
 * heap; signals are written to a self-pipe by a minimal handler and
 * dispatched as ordinary events.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/time.h>
#ifdef HAVE_SYS_SELECT_H
#include <sys/select.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(HAVE_SYS_EPOLL_H) && defined(HAVE_EPOLL_CREATE)
#include <sys/epoll.h>
#define USE_EPOLL	1
#endif

#include "ev.h"
#include "log.h"
#include "util.h"

struct watch {
	ev_io_fn	*fn;
	void		*arg;
	int		what;
};

static struct watch watches[FD_SETSIZE];
static int maxfd = -1;
/* Kept up to date by ev_io(): a loop turn copies them, it does not
 * rebuild them from 1,000 watches. */
static fd_set want_rd, want_wr;
static struct ev_timer **heap;
static int heap_n, heap_cap;
static int sigpipe[2] = { -1, -1 };
#define NSIG_MAX	64
static ev_signal_fn *sigfns[NSIG_MAX];
static int stopping;
static unsigned long now;
#ifdef USE_EPOLL
static int epfd = -1;		/* -1: epoll unusable, select() it is */
#endif

unsigned long
ev_now(void)
{
	return now;
}

static int
set_nonblock_cloexec(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL, 0)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void
sig_read(int fd, int what, void *arg)
{
	unsigned char sigs[64];
	ssize_t n, i;

	(void)what;
	(void)arg;
	while ((n = read(fd, sigs, sizeof(sigs))) > 0)
		for (i = 0; i < n; i++)
			if (sigs[i] < NSIG_MAX && sigfns[sigs[i]] != NULL)
				sigfns[sigs[i]](sigs[i]);
}

int
ev_init(void)
{
	int i;

	now = now_ms();
	for (i = 0; i < FD_SETSIZE; i++)
		watches[i].what = 0;
	FD_ZERO(&want_rd);
	FD_ZERO(&want_wr);
#ifdef USE_EPOLL
	if ((epfd = epoll_create(FD_SETSIZE)) >= 0 &&
	    fcntl(epfd, F_SETFD, FD_CLOEXEC) < 0) {
		close(epfd);
		epfd = -1;
	}
#endif
	if (pipe(sigpipe) < 0 || set_nonblock_cloexec(sigpipe[0]) < 0 ||
	    set_nonblock_cloexec(sigpipe[1]) < 0)
		return -1;
	return ev_io(sigpipe[0], EV_READ, sig_read, NULL);
}

#ifdef USE_EPOLL
/*
 * Tell epoll about a change of interest.  A descriptor closed while
 * watched has left the epoll set by itself, and its number may be back
 * as a new descriptor: ENOENT and EEXIST mean just that.
 */
static int
epoll_set(int fd, int what)
{
	struct epoll_event e;
	int op;

	memset(&e, 0, sizeof(e));
	e.data.fd = fd;
	e.events = ((what & EV_READ) ? EPOLLIN : 0) |
	    ((what & EV_WRITE) ? EPOLLOUT : 0);
	op = what == 0 ? EPOLL_CTL_DEL :
	    watches[fd].what == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(epfd, op, fd, &e) == 0)
		return 0;
	if (op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF))
		return 0;
	if (op == EPOLL_CTL_MOD && errno == ENOENT)
		return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	if (op == EPOLL_CTL_ADD && errno == EEXIST)
		return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e);
	return -1;
}
#endif

int
ev_io(int fd, int what, ev_io_fn *fn, void *arg)
{
	if (fd < 0 || fd >= FD_SETSIZE)
		return -1;
#ifdef USE_EPOLL
	if (epfd >= 0 && what != watches[fd].what && epoll_set(fd, what) < 0)
		return -1;
#endif
	if (what & EV_READ)
		FD_SET(fd, &want_rd);
	else
		FD_CLR(fd, &want_rd);
	if (what & EV_WRITE)
		FD_SET(fd, &want_wr);
	else
		FD_CLR(fd, &want_wr);
	watches[fd].what = what;
	watches[fd].fn = fn;
	watches[fd].arg = arg;
	if (what && fd > maxfd)
		maxfd = fd;
	while (maxfd >= 0 && watches[maxfd].what == 0)
		maxfd--;
	return 0;
}

int
ev_io_wanted(int fd)
{
	if (fd < 0 || fd >= FD_SETSIZE)
		return 0;
	return watches[fd].what;
}

void
ev_timer_init(struct ev_timer *t, ev_timer_fn *fn, void *arg)
{
	t->idx = -1;
	t->when = 0;
	t->fn = fn;
	t->arg = arg;
}

static void
heap_swap(int a, int b)
{
	struct ev_timer *t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->idx = a;
	heap[b]->idx = b;
}

static void
heap_up(int i)
{
	while (i > 0 && ms_before(heap[i]->when, heap[(i - 1) / 2]->when)) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(int i)
{
	int c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= heap_n)
			break;
		if (c + 1 < heap_n && ms_before(heap[c + 1]->when, heap[c]->when))
			c++;
		if (!ms_before(heap[c]->when, heap[i]->when))
			break;
		heap_swap(i, c);
		i = c;
	}
}

void
ev_timer_del(struct ev_timer *t)
{
	struct ev_timer *last;
	int i = t->idx;

	if (i < 0)
		return;
	t->idx = -1;
	heap_n--;
	if (i == heap_n)
		return;
	last = heap[heap_n];
	heap[i] = last;
	last->idx = i;
	heap_up(i);
	heap_down(last->idx);
}

int
ev_timer_set(struct ev_timer *t, unsigned long msec)
{
	struct ev_timer **nh;
	int ncap;

	ev_timer_del(t);
	if (heap_n == heap_cap) {
		ncap = heap_cap ? heap_cap * 2 : 64;
		nh = realloc(heap, (size_t)ncap * sizeof(*heap));
		if (nh == NULL)
			return -1;
		heap = nh;
		heap_cap = ncap;
	}
	/* Relative to the real time, not the loop's cached turn start. */
	t->when = now_ms() + msec;
	t->idx = heap_n;
	heap[heap_n++] = t;
	heap_up(t->idx);
	return 0;
}

static void
sig_catch(int sig)
{
	unsigned char c = (unsigned char)sig;
	int save = errno;

	/* A full pipe already holds a wake-up; losing a duplicate is fine. */
	if (write(sigpipe[1], &c, 1) < 0)
		errno = save;
	errno = save;
}

int
ev_signal(int sig, ev_signal_fn *fn)
{
	struct sigaction sa;

	if (sig <= 0 || sig >= NSIG_MAX)
		return -1;
	sigfns[sig] = fn;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = fn != NULL ? sig_catch : SIG_IGN;
	return sigaction(sig, &sa, NULL);
}

void
ev_break(void)
{
	stopping = 1;
}

static void
run_timers(void)
{
	struct ev_timer *t;
	int budget;

	/* Bounded: a timer that re-arms itself at 0 ms cannot starve I/O. */
	for (budget = heap_n + 16; heap_n > 0 && budget > 0; budget--) {
		t = heap[0];
		if (ms_before(now, t->when))
			break;
		ev_timer_del(t);
		t->fn(t->arg);
	}
}

static struct timeval *
next_timeout(struct timeval *tv)
{
	unsigned long wait;

	if (heap_n == 0)
		return NULL;
	now = now_ms();
	wait = ms_before(now, heap[0]->when) ? heap[0]->when - now : 0;
	tv->tv_sec = (long)(wait / 1000);
	tv->tv_usec = (long)(wait % 1000) * 1000;
	return tv;
}

/* Call the watch of fd for what it asked and what happened. */
static void
dispatch(int fd, int what)
{
	/* An earlier callback of this turn may have stopped this watch. */
	what &= watches[fd].what;
	if (what != 0)
		watches[fd].fn(fd, what, watches[fd].arg);
}

static void
turn_select(struct timeval *tvp)
{
	fd_set rs, ws;
	int fd, n, top, what;

	rs = want_rd;
	ws = want_wr;
	top = maxfd;
	n = select(top + 1, &rs, &ws, NULL, tvp);
	now = now_ms();
	if (n < 0) {
		if (errno == EINTR)
			return;
		fatal("select: %s", strerror(errno));
	}
	for (fd = 0; n > 0 && fd <= top; fd++) {
		what = (FD_ISSET(fd, &rs) ? EV_READ : 0) |
		    (FD_ISSET(fd, &ws) ? EV_WRITE : 0);
		if (what != 0) {
			n--;
			dispatch(fd, what);
		}
	}
}

#ifdef USE_EPOLL
static void
turn_epoll(struct timeval *tvp)
{
	struct epoll_event ev[128];
	int i, n, what, ms;

	ms = tvp == NULL ? -1 : (int)(tvp->tv_sec * 1000 +
	    (tvp->tv_usec + 999) / 1000);
	n = epoll_wait(epfd, ev, (int)NELEM(ev), ms);
	now = now_ms();
	if (n < 0) {
		if (errno == EINTR)
			return;
		fatal("epoll_wait: %s", strerror(errno));
	}
	for (i = 0; i < n; i++) {
		/* Errors and hang-ups show up as readiness, as in select(). */
		what = ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ?
		    EV_READ : 0) | ((ev[i].events & (EPOLLOUT | EPOLLERR |
		    EPOLLHUP)) ? EV_WRITE : 0);
		if (ev[i].data.fd >= 0 && ev[i].data.fd < FD_SETSIZE)
			dispatch(ev[i].data.fd, what);
	}
}
#endif

void
ev_run(void)
{
	struct timeval tv, *tvp;

	stopping = 0;
	while (!stopping) {
		tvp = next_timeout(&tv);
#ifdef USE_EPOLL
		if (epfd >= 0)
			turn_epoll(tvp);
		else
#endif
			turn_select(tvp);
		run_timers();
	}
}

void
ev_close_all(void)
{
#ifdef USE_EPOLL
	if (epfd >= 0) {
		close(epfd);
		epfd = -1;
	}
#endif
	if (sigpipe[0] >= 0) {
		close(sigpipe[0]);
		close(sigpipe[1]);
		sigpipe[0] = sigpipe[1] = -1;
	}
}

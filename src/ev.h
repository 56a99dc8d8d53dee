/*
 * ev.h - the one select() loop: descriptors, timers and signals.
 * Callbacks run from the loop, never from a signal handler (signals come
 * in through a self-pipe), so nothing in yubind needs to be reentrant.
 */
#ifndef YUBIN_EV_H
#define YUBIN_EV_H

#define EV_READ		1
#define EV_WRITE	2

typedef void ev_io_fn(int fd, int what, void *arg);
typedef void ev_timer_fn(void *arg);
typedef void ev_signal_fn(int sig);

/* A timer lives inside its owner's structure; no allocation per arm. */
struct ev_timer {
	unsigned long	when;		/* now_ms() deadline */
	int		idx;		/* position in the heap, -1 if idle */
	ev_timer_fn	*fn;
	void		*arg;
};

int ev_init(void);
/* Watch fd for what (EV_READ|EV_WRITE); 0 stops watching.  -1 if fd is
 * out of select()'s range. */
int ev_io(int fd, int what, ev_io_fn *fn, void *arg);
int ev_io_wanted(int fd);
void ev_timer_init(struct ev_timer *t, ev_timer_fn *fn, void *arg);
/* (Re)arm to fire msec from now; -1 if out of memory. */
int ev_timer_set(struct ev_timer *t, unsigned long msec);
void ev_timer_del(struct ev_timer *t);
#define ev_timer_pending(t)	((t)->idx >= 0)
/* Deliver sig to fn from the loop.  SIG_IGN-like use: fn == NULL. */
int ev_signal(int sig, ev_signal_fn *fn);
/* Run until ev_break(). */
void ev_run(void);
void ev_break(void);
/* The loop's notion of now, refreshed each turn. */
unsigned long ev_now(void);
/* Close descriptors the loop owns (for a child process). */
void ev_close_all(void);

#endif

/*
 * buf.h - the one bounded buffer type (STYLE.md habit 4).  Every append
 * reports failure when it would pass the buffer's cap or memory runs out;
 * nothing is ever silently truncated.  Data is consumed from the front
 * without moving it until the buffer is reused.
 */
#ifndef YUBIN_BUF_H
#define YUBIN_BUF_H

#include <stddef.h>
#include "yubin.h"

struct buf {
	char	*data;
	size_t	off;		/* start of unconsumed data */
	size_t	len;		/* end of data */
	size_t	cap;		/* allocated */
	size_t	max;		/* most that may be held (0: no cap) */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
#define buf_ptr(b)	((b)->data + (b)->off)
#define buf_used(b)	((b)->len - (b)->off)
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTFLIKE(2, 3);
void buf_consume(struct buf *b, size_t n);
/* Make room for n more bytes; returns where to write them, or NULL. */
char *buf_reserve(struct buf *b, size_t n);
#define buf_commit(b, n)	((b)->len += (n))
/* Release memory if the buffer is empty and holds more than keep bytes:
 * what keeps 1,000 idle connections small. */
void buf_shrink(struct buf *b, size_t keep);
/* NUL-terminate the data (not counted in buf_used); -1 on failure. */
int buf_terminate(struct buf *b);

#endif

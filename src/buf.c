/*
 * buf.c - the bounded buffer (see buf.h).  Allocation failures and caps
 * are reported to the caller, never papered over; a session that cannot
 * grow a buffer answers with a temporary error instead of dying.
 */
#include "yubin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

char *
buf_reserve(struct buf *b, size_t n)
{
	size_t used, want, ncap;
	char *p;

	used = b->len - b->off;
	if (n > (size_t)-1 / 2 - used - 1)
		return NULL;
	if (b->max != 0 && used + n > b->max)
		return NULL;
	/* Data consumed from the front is reclaimed before growing. */
	if (b->off > 0 && b->len + n + 1 > b->cap) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
	}
	want = b->len + n + 1;		/* room for buf_terminate() */
	if (want > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < want)
			ncap *= 2;
		p = realloc(b->data, ncap);
		if (p == NULL)
			return NULL;
		b->data = p;
		b->cap = ncap;
	}
	return b->data + b->len;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	char *dst;

	if (n == 0)
		return 0;
	if ((dst = buf_reserve(b, n)) == NULL)
		return -1;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	char *big;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	if ((size_t)r < sizeof(small))
		return buf_append(b, small, (size_t)r);
	/* Rare: a long reply.  Format again into exactly enough room. */
	if ((big = malloc((size_t)r + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	r = vsnprintf(big, (size_t)r + 1, fmt, ap);
	va_end(ap);
	r = r < 0 ? -1 : buf_append(b, big, (size_t)r);
	free(big);
	return r;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len - b->off)
		b->off = b->len = 0;
	else
		b->off += n;
}

void
buf_shrink(struct buf *b, size_t keep)
{
	if (b->len == b->off && b->cap > keep) {
		free(b->data);
		b->data = NULL;
		b->off = b->len = b->cap = 0;
	}
}

int
buf_terminate(struct buf *b)
{
	/* buf_reserve always keeps one byte spare past the data. */
	if (buf_reserve(b, 0) == NULL)
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

/*
 * strlcpy.c - strlcpy() for systems without it (glibc before 2.38).
 *
 * Copies src into dst of size bytes, always terminating the result when
 * size > 0, and returns strlen(src): truncation happened if the result
 * is >= size.  OpenBSD semantics.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

size_t
yubin_strlcpy(char *dst, const char *src, size_t size)
{
	const char	*s = src;
	size_t		 left = size;

	if (left != 0) {
		while (--left != 0) {
			if ((*dst++ = *s++) == '\0')
				return (size_t)(s - src - 1);
		}
		*dst = '\0';
	}
	while (*s++ != '\0')
		;
	return (size_t)(s - src - 1);
}

/*
 * strlcat.c - strlcat() for systems without it (glibc before 2.38).
 *
 * Appends src to the string in dst of size bytes, always terminating the
 * result unless dst held no terminator within size bytes, and returns the
 * length the result would have had: strlen(src) + min(size,
 * strlen(dst)).  Truncation happened if that is >= size.  OpenBSD
 * semantics.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

size_t
yubin_strlcat(char *dst, const char *src, size_t size)
{
	size_t	dlen = 0, slen = strlen(src), room;

	while (dlen < size && dst[dlen] != '\0')
		dlen++;
	if (dlen == size)	/* no terminator: nothing can be appended */
		return size + slen;
	room = size - dlen - 1;
	if (slen <= room) {
		memcpy(dst + dlen, src, slen + 1);
	} else {
		memcpy(dst + dlen, src, room);
		dst[dlen + room] = '\0';
	}
	return dlen + slen;
}

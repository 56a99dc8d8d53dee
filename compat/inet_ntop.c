/*
 * inet_ntop.c - inet_ntop() for systems without it: AF_INET always,
 * AF_INET6 where the system has IPv6.  IPv6 text follows RFC 5952: lower
 * case, no leading zeros, the longest run (of two or more) of zero
 * groups as "::", and ::ffff:a.b.c.d for IPv4-mapped addresses.
 * Returns dst, or NULL with errno ENOSPC or EAFNOSUPPORT.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>

static const char *
put(const char *s, char *dst, socklen_t size)
{
	if (strlen(s) >= (size_t)size) {
		errno = ENOSPC;
		return NULL;
	}
	memcpy(dst, s, strlen(s) + 1);
	return dst;
}

static const char *
ntop4(const unsigned char *a, char *dst, socklen_t size)
{
	char	tmp[sizeof("255.255.255.255")];

	(void)snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	return put(tmp, dst, size);
}

#ifdef HAVE_IPV6
static const char *
ntop6(const unsigned char *a, char *dst, socklen_t size)
{
	char		 tmp[sizeof("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255")];
	char		*tp = tmp;
	unsigned int	 words[8];
	int		 i, best = -1, bestlen = 0, cur = -1, curlen = 0;

	for (i = 0; i < 8; i++)
		words[i] = ((unsigned int)a[2 * i] << 8) | a[2 * i + 1];
	for (i = 0; i < 8; i++) {
		if (words[i] == 0) {
			if (cur < 0) {
				cur = i;
				curlen = 0;
			}
			if (++curlen > bestlen) {
				best = cur;
				bestlen = curlen;
			}
		} else
			cur = -1;
	}
	if (bestlen < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + bestlen) {
			if (i == best)
				*tp++ = ':';
			continue;
		}
		if (i != 0)
			*tp++ = ':';
		/* IPv4-mapped (::ffff:0:0/96) keeps its dotted tail. */
		if (i == 6 && best == 0 && bestlen == 5 && words[5] == 0xffff) {
			(void)ntop4(a + 12, tp, (socklen_t)(sizeof(tmp) - (size_t)(tp - tmp)));
			tp += strlen(tp);
			break;
		}
		(void)snprintf(tp, sizeof(tmp) - (size_t)(tp - tmp), "%x", words[i]);
		tp += strlen(tp);
	}
	if (best >= 0 && best + bestlen == 8)
		*tp++ = ':';
	*tp = '\0';
	return put(tmp, dst, size);
}
#endif

const char *
yubin_inet_ntop(int af, const void *src, char *dst, socklen_t size)
{
	switch (af) {
	case AF_INET:
		return ntop4(src, dst, size);
#ifdef HAVE_IPV6
	case AF_INET6:
		return ntop6(src, dst, size);
#endif
	default:
#ifdef EAFNOSUPPORT
		errno = EAFNOSUPPORT;
#else
		errno = EINVAL;
#endif
		return NULL;
	}
}

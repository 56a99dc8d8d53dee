/*
 * inet_pton.c - inet_pton() for systems without it: AF_INET always,
 * AF_INET6 where the system has IPv6 (HAVE_IPV6).
 *
 * Strict, as RFC 3493 and the BIND original: IPv4 is exactly four
 * decimal parts of 0-255 with no leading zeros ("1.2.3", "256.1.1.1" and
 * "1.2.3.4x" are refused, unlike inet_addr()); IPv6 is RFC 4291 text
 * with at most one "::" and an optional dotted IPv4 tail.  Returns 1 on
 * success, 0 for a malformed address, -1 (EAFNOSUPPORT) for an unknown
 * family.  dst is written only on success.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <errno.h>

static int
pton4(const char *src, unsigned char *dst)
{
	unsigned char	tmp[4];
	int		octets = 0, saw_digit = 0;
	unsigned int	val = 0;

	for (; *src != '\0'; src++) {
		if (*src >= '0' && *src <= '9') {
			if (saw_digit && val == 0)
				return 0;	/* leading zero */
			val = val * 10 + (unsigned int)(*src - '0');
			if (val > 255)
				return 0;
			if (!saw_digit) {
				if (++octets > 4)
					return 0;
				saw_digit = 1;
			}
		} else if (*src == '.' && saw_digit) {
			if (octets == 4)
				return 0;
			tmp[octets - 1] = (unsigned char)val;
			val = 0;
			saw_digit = 0;
		} else
			return 0;
	}
	if (octets < 4 || !saw_digit)
		return 0;
	tmp[3] = (unsigned char)val;
	memcpy(dst, tmp, 4);
	return 1;
}

#ifdef HAVE_IPV6
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
pton6(const char *src, unsigned char *dst)
{
	unsigned char	 tmp[16];
	unsigned char	*tp = tmp, *endp = tmp + 16, *colonp = NULL;
	const char	*curtok;
	int		 saw_xdigit = 0, h;
	unsigned int	 val = 0;

	memset(tmp, 0, sizeof(tmp));
	if (*src == ':' && *++src != ':')
		return 0;	/* a leading ":" must be "::" */
	curtok = src;
	for (; *src != '\0'; src++) {
		if ((h = hexval((unsigned char)*src)) >= 0) {
			val = (val << 4) | (unsigned int)h;
			if (val > 0xffff || ++saw_xdigit > 4)
				return 0;
			continue;
		}
		if (*src == ':') {
			curtok = src + 1;
			if (!saw_xdigit) {
				if (colonp != NULL)
					return 0;	/* second "::" */
				colonp = tp;
				continue;
			}
			if (src[1] == '\0')
				return 0;	/* trailing single ":" */
			if (tp + 2 > endp)
				return 0;
			*tp++ = (unsigned char)(val >> 8);
			*tp++ = (unsigned char)val;
			saw_xdigit = 0;
			val = 0;
			continue;
		}
		if (*src == '.' && tp + 4 <= endp && pton4(curtok, tp) > 0) {
			tp += 4;
			saw_xdigit = 0;
			break;		/* the dotted quad ends the address */
		}
		return 0;
	}
	if (saw_xdigit) {
		if (tp + 2 > endp)
			return 0;
		*tp++ = (unsigned char)(val >> 8);
		*tp++ = (unsigned char)val;
	}
	if (colonp != NULL) {
		/* Slide what followed "::" to the end. */
		size_t	n = (size_t)(tp - colonp), i;

		if (tp == endp)
			return 0;
		for (i = 1; i <= n; i++) {
			endp[-(long)i] = colonp[n - i];
			colonp[n - i] = 0;
		}
		tp = endp;
	}
	if (tp != endp)
		return 0;
	memcpy(dst, tmp, 16);
	return 1;
}
#endif

int
yubin_inet_pton(int af, const char *src, void *dst)
{
	switch (af) {
	case AF_INET:
		return pton4(src, dst);
#ifdef HAVE_IPV6
	case AF_INET6:
		return pton6(src, dst);
#endif
	default:
#ifdef EAFNOSUPPORT
		errno = EAFNOSUPPORT;
#else
		errno = EINVAL;
#endif
		return -1;
	}
}

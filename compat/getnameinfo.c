/*
 * getnameinfo.c - getnameinfo() for systems without it, built on
 * gethostbyaddr() and getservbyport().
 *
 * Names for IPv4 addresses; IPv6 addresses (where the system has them)
 * are always given in numeric form, gethostbyaddr() being IPv4-only on
 * the systems that need this.  Flags: NI_NUMERICHOST, NI_NUMERICSERV,
 * NI_NAMEREQD, NI_NOFQDN, NI_DGRAM.  A result that does not fit is
 * EAI_OVERFLOW, never a truncated name.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

static int
copy_out(const char *s, size_t n, char *dst, size_t size)
{
	if (n >= size)
		return EAI_OVERFLOW;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int
yubin_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
    size_t hostlen, char *serv, size_t servlen, int flags)
{
	const void	*addr;
	unsigned short	 port;
	char		 buf[INET6_ADDRSTRLEN + 1];
	int		 err;

	if (sa == NULL)
		return EAI_FAIL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		if ((size_t)salen < sizeof(*sin))
			return EAI_FAIL;
		addr = &sin->sin_addr;
		port = sin->sin_port;
	}
#ifdef HAVE_IPV6
	else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		if ((size_t)salen < sizeof(*sin6))
			return EAI_FAIL;
		addr = &sin6->sin6_addr;
		port = sin6->sin6_port;
		flags |= NI_NUMERICHOST;
	}
#endif
	else
		return EAI_FAMILY;

	if (host != NULL && hostlen > 0) {
		struct hostent	*he = NULL;

		if (!(flags & NI_NUMERICHOST))
			he = gethostbyaddr(addr, 4, AF_INET);
		if (he != NULL && he->h_name != NULL) {
			size_t	n = strlen(he->h_name);

			if (flags & NI_NOFQDN) {
				const char *dot = strchr(he->h_name, '.');

				if (dot != NULL)
					n = (size_t)(dot - he->h_name);
			}
			if ((err = copy_out(he->h_name, n, host, hostlen)) != 0)
				return err;
		} else {
			if (!(flags & NI_NUMERICHOST) && (flags & NI_NAMEREQD))
				return EAI_NONAME;
			if (inet_ntop(sa->sa_family, addr, buf, sizeof(buf)) == NULL)
				return EAI_FAIL;
			if ((err = copy_out(buf, strlen(buf), host, hostlen)) != 0)
				return err;
		}
	}
	if (serv != NULL && servlen > 0) {
		struct servent	*se = NULL;

		if (!(flags & NI_NUMERICSERV))
			se = getservbyport((int)port,
			    (flags & NI_DGRAM) ? "udp" : "tcp");
		if (se != NULL && se->s_name != NULL)
			err = copy_out(se->s_name, strlen(se->s_name), serv,
			    servlen);
		else {
			(void)snprintf(buf, sizeof(buf), "%u",
			    (unsigned int)ntohs(port));
			err = copy_out(buf, strlen(buf), serv, servlen);
		}
		if (err != 0)
			return err;
	}
	return 0;
}

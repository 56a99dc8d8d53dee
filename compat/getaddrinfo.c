/*
 * getaddrinfo.c - getaddrinfo(), freeaddrinfo() and gai_strerror() for
 * systems without them (or without struct addrinfo), built on
 * gethostbyname() and getservbyname().
 *
 * IPv4 names only: gethostbyname() knows nothing else.  Where the system
 * has IPv6, numeric IPv6 addresses ("::1") are understood too, so a
 * configuration that names one still works.  Supports AI_PASSIVE,
 * AI_NUMERICHOST, AI_NUMERICSERV and AI_CANONNAME; other flags are
 * refused with EAI_BADFLAGS rather than silently ignored.  With no
 * socket type in the hints, each address is returned once for
 * SOCK_STREAM and once for SOCK_DGRAM, as the real one does.
 *
 * gethostbyname() is not reentrant; yubind is single-threaded.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <stdlib.h>
#include <errno.h>

#define GAI_KNOWN_FLAGS	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | \
			 AI_NUMERICSERV)

/* One result: the addrinfo and its address in a single allocation. */
struct gai_one {
	struct addrinfo		ai;
	union {
		struct sockaddr_in	sin;
#ifdef HAVE_IPV6
		struct sockaddr_in6	sin6;
#endif
	} sa;
};

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* The port, in network byte order, for service and socket type. */
static int
get_port(const char *serv, int socktype, int flags, unsigned short *port)
{
	struct servent	*se;
	unsigned long	 n = 0;
	const char	*s;

	*port = 0;
	if (serv == NULL)
		return 0;
	if (all_digits(serv)) {
		for (s = serv; *s != '\0'; s++) {
			n = n * 10 + (unsigned long)(*s - '0');
			if (n > 65535)
				return EAI_SERVICE;
		}
		*port = htons((unsigned short)n);
		return 0;
	}
	if (flags & AI_NUMERICSERV)
		return EAI_NONAME;
	se = getservbyname(serv, socktype == SOCK_DGRAM ? "udp" : "tcp");
	if (se == NULL)
		return EAI_SERVICE;
	*port = (unsigned short)se->s_port;
	return 0;
}

/* Appends one result per socket type for one address. */
static int
add(struct addrinfo ***tailp, int family, const void *addr,
    unsigned short port, const struct addrinfo *hints)
{
	static const int	types[] = { SOCK_STREAM, SOCK_DGRAM };
	size_t			i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct gai_one	*one;

		if (hints->ai_socktype != 0 && hints->ai_socktype != types[i])
			continue;
		if ((one = malloc(sizeof(*one))) == NULL)
			return EAI_MEMORY;
		memset(one, 0, sizeof(*one));
		one->ai.ai_family = family;
		one->ai.ai_socktype = types[i];
		one->ai.ai_protocol = hints->ai_protocol != 0 ?
		    hints->ai_protocol :
		    types[i] == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
		one->ai.ai_addr = (struct sockaddr *)&one->sa;
		if (family == AF_INET) {
			one->sa.sin.sin_family = AF_INET;
			one->sa.sin.sin_port = port;
			memcpy(&one->sa.sin.sin_addr, addr, 4);
			one->ai.ai_addrlen = (socklen_t)sizeof(one->sa.sin);
		}
#ifdef HAVE_IPV6
		else {
			one->sa.sin6.sin6_family = AF_INET6;
			one->sa.sin6.sin6_port = port;
			memcpy(&one->sa.sin6.sin6_addr, addr, 16);
			one->ai.ai_addrlen = (socklen_t)sizeof(one->sa.sin6);
		}
#endif
#ifdef HAVE_STRUCT_SOCKADDR_SA_LEN
		one->ai.ai_addr->sa_len = (unsigned char)one->ai.ai_addrlen;
#endif
		**tailp = &one->ai;
		*tailp = &one->ai.ai_next;
	}
	return 0;
}

static char *
dupstr(const char *s)
{
	char	*d = malloc(strlen(s) + 1);

	if (d != NULL)
		memcpy(d, s, strlen(s) + 1);
	return d;
}

int
yubin_getaddrinfo(const char *node, const char *serv,
    const struct addrinfo *hintsp, struct addrinfo **res)
{
	struct addrinfo		 hints, *head = NULL, **tail = &head;
	struct hostent		*he;
	unsigned char		 a4[4];
#ifdef HAVE_IPV6
	unsigned char		 a6[16];
#endif
	const char		*canon = NULL;
	unsigned short		 port;
	int			 err, i;

	*res = NULL;
	memset(&hints, 0, sizeof(hints));
	if (hintsp != NULL) {
		hints.ai_flags = hintsp->ai_flags;
		hints.ai_family = hintsp->ai_family;
		hints.ai_socktype = hintsp->ai_socktype;
		hints.ai_protocol = hintsp->ai_protocol;
	}
	if (hints.ai_flags & ~GAI_KNOWN_FLAGS)
		return EAI_BADFLAGS;
	if (node == NULL && serv == NULL)
		return EAI_NONAME;
	if (hints.ai_family != AF_UNSPEC && hints.ai_family != AF_INET
#ifdef HAVE_IPV6
	    && hints.ai_family != AF_INET6
#endif
	    )
		return EAI_FAMILY;
	if (hints.ai_socktype != 0 && hints.ai_socktype != SOCK_STREAM &&
	    hints.ai_socktype != SOCK_DGRAM)
		return EAI_SOCKTYPE;
	if ((err = get_port(serv, hints.ai_socktype, hints.ai_flags, &port)) != 0)
		return err;

	if (node == NULL) {
		unsigned long	a = (hints.ai_flags & AI_PASSIVE) ?
			INADDR_ANY : INADDR_LOOPBACK;
		struct in_addr	in;

#ifdef HAVE_IPV6
		if (hints.ai_family == AF_INET6) {
			memset(a6, 0, sizeof(a6));
			if (!(hints.ai_flags & AI_PASSIVE))
				a6[15] = 1;
			err = add(&tail, AF_INET6, a6, port, &hints);
			goto done;
		}
#endif
		in.s_addr = htonl(a);
		err = add(&tail, AF_INET, &in.s_addr, port, &hints);
		goto done;
	}
	if (hints.ai_family != AF_INET6 && inet_pton(AF_INET, node, a4) == 1) {
		err = add(&tail, AF_INET, a4, port, &hints);
		canon = node;
		goto done;
	}
#ifdef HAVE_IPV6
	if (hints.ai_family != AF_INET && inet_pton(AF_INET6, node, a6) == 1) {
		err = add(&tail, AF_INET6, a6, port, &hints);
		canon = node;
		goto done;
	}
#endif
	if (hints.ai_flags & AI_NUMERICHOST)
		return EAI_NONAME;
	if (hints.ai_family == AF_INET6)
		return EAI_NONAME;	/* no IPv6 name lookups here */
	if ((he = gethostbyname(node)) == NULL) {
		switch (h_errno) {
		case HOST_NOT_FOUND:
		case NO_DATA:
			return EAI_NONAME;
		case TRY_AGAIN:
			return EAI_AGAIN;
		default:
			return EAI_FAIL;
		}
	}
	if (he->h_addrtype != AF_INET || he->h_length != 4)
		return EAI_FAMILY;
	canon = he->h_name;
	for (i = 0, err = 0; err == 0 && he->h_addr_list[i] != NULL; i++)
		err = add(&tail, AF_INET, he->h_addr_list[i], port, &hints);
done:
	if (err == 0 && head == NULL)
		err = EAI_NONAME;
	if (err == 0 && (hints.ai_flags & AI_CANONNAME) && canon != NULL &&
	    (head->ai_canonname = dupstr(canon)) == NULL)
		err = EAI_MEMORY;
	if (err != 0) {
		yubin_freeaddrinfo(head);
		return err;
	}
	*res = head;
	return 0;
}

void
yubin_freeaddrinfo(struct addrinfo *ai)
{
	struct addrinfo	*next;

	for (; ai != NULL; ai = next) {
		next = ai->ai_next;
		free(ai->ai_canonname);
		free(ai);	/* the struct gai_one that holds it */
	}
}

const char *
yubin_gai_strerror(int err)
{
	/* An if chain, not a switch: system values might coincide. */
	if (err == 0)
		return "Success";
	if (err == EAI_BADFLAGS)
		return "Invalid flags";
	if (err == EAI_NONAME)
		return "Name or service not known";
	if (err == EAI_AGAIN)
		return "Temporary failure in name resolution";
	if (err == EAI_FAIL)
		return "Non-recoverable failure in name resolution";
	if (err == EAI_FAMILY)
		return "Address family not supported";
	if (err == EAI_SOCKTYPE)
		return "Socket type not supported";
	if (err == EAI_SERVICE)
		return "Service not available for socket type";
	if (err == EAI_MEMORY)
		return "Memory allocation failure";
	if (err == EAI_SYSTEM)
		return strerror(errno);
	if (err == EAI_OVERFLOW)
		return "Buffer overflow";
	return "Unknown error";
}

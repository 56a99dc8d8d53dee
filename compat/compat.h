/*
 * compat.h - what yubin needs from the system but some systems lack.
 *
 * Included by src/yubin.h right after config.h.  For every function that
 * configure found missing (or that the builder forced missing with
 * ac_cv_func_X=no), this header declares the compat/ replacement and
 * maps the standard name onto it with a macro: the replacement symbols
 * are called yubin_X, so they never clash with a libc that has a broken
 * or hidden X of its own, and nm shows which ones a binary uses.
 * Missing types and constants get definitions here too.
 *
 * It must never change the meaning of anything the system does provide,
 * and it must compile under "cc -std=c89 -pedantic -Wall -Wextra
 * -Werror".  The system headers come first, so the macros below rename
 * only the uses in our own code.
 */
#ifndef YUBIN_COMPAT_H
#define YUBIN_COMPAT_H

#include <sys/types.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#ifdef HAVE_GRP_H
#include <grp.h>
#endif

#if defined(__GNUC__) && (__GNUC__ > 2 || (__GNUC__ == 2 && __GNUC_MINOR__ >= 7))
#define YUBIN_COMPAT_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#else
#define YUBIN_COMPAT_PRINTF(f, a)
#endif

/* ---- types ---------------------------------------------------------- */

#ifndef HAVE_SOCKLEN_T
/*
 * A macro, not a plain typedef, so that forcing ac_cv_type_socklen_t=no
 * on a system whose headers do have socklen_t still compiles.
 * configure picked the type the socket calls really take.
 */
#ifndef YUBIN_SOCKLEN_TYPE
#define YUBIN_SOCKLEN_TYPE	int
#endif
typedef YUBIN_SOCKLEN_TYPE yubin_socklen_t;
#define socklen_t	yubin_socklen_t
#endif

#ifndef HAVE_STRUCT_SOCKADDR_STORAGE
/* Big and aligned enough for every address family we use. */
struct yubin_sockaddr_storage {
	union {
		struct sockaddr		ss_sa;
		struct sockaddr_in	ss_sin;
#ifdef HAVE_IPV6
		struct sockaddr_in6	ss_sin6;
#endif
		char			ss_pad[128];
		long			ss_align;
	} ss_un;
};
#define sockaddr_storage	yubin_sockaddr_storage
#define ss_family		ss_un.ss_sa.sa_family
#endif

/* ---- constants ------------------------------------------------------ */

/*
 * Without O_NOFOLLOW, opens are still safe: every mailbox open is
 * lstat + open + fstat with a device/inode comparison (DESIGN.md); the
 * flag only closes the window earlier.  A configure answer of "no" wins
 * even over the system's macro, so the fallback path can be tested.
 */
#if defined(HAVE_CONFIG_H) && defined(HAVE_DECL_O_NOFOLLOW) && !HAVE_DECL_O_NOFOLLOW
#undef O_NOFOLLOW
#endif
#ifndef O_NOFOLLOW
#define O_NOFOLLOW	0
#endif

#ifndef INADDR_NONE
#define INADDR_NONE	((unsigned long)0xffffffffUL)
#endif
#ifndef INET_ADDRSTRLEN
#define INET_ADDRSTRLEN		16
#endif
#ifndef INET6_ADDRSTRLEN
#define INET6_ADDRSTRLEN	46
#endif

/* lockf() commands (SVID values). */
#ifndef F_ULOCK
#define F_ULOCK		0
#endif
#ifndef F_LOCK
#define F_LOCK		1
#endif
#ifndef F_TLOCK
#define F_TLOCK		2
#endif
#ifndef F_TEST
#define F_TEST		3
#endif

/* getaddrinfo() and getnameinfo() flags and errors (RFC 3493). */
#ifndef AI_PASSIVE
#define AI_PASSIVE	0x0001
#endif
#ifndef AI_CANONNAME
#define AI_CANONNAME	0x0002
#endif
#ifndef AI_NUMERICHOST
#define AI_NUMERICHOST	0x0004
#endif
#ifndef AI_NUMERICSERV
#define AI_NUMERICSERV	0x0400
#endif
#ifndef NI_MAXHOST
#define NI_MAXHOST	1025
#endif
#ifndef NI_MAXSERV
#define NI_MAXSERV	32
#endif
#ifndef NI_NUMERICHOST
#define NI_NUMERICHOST	0x0001
#endif
#ifndef NI_NUMERICSERV
#define NI_NUMERICSERV	0x0002
#endif
#ifndef NI_NOFQDN
#define NI_NOFQDN	0x0004
#endif
#ifndef NI_NAMEREQD
#define NI_NAMEREQD	0x0008
#endif
#ifndef NI_DGRAM
#define NI_DGRAM	0x0010
#endif
/* Values far from any system's, so a partial set never collides. */
#ifndef EAI_BADFLAGS
#define EAI_BADFLAGS	(-1001)
#endif
#ifndef EAI_NONAME
#define EAI_NONAME	(-1002)
#endif
#ifndef EAI_AGAIN
#define EAI_AGAIN	(-1003)
#endif
#ifndef EAI_FAIL
#define EAI_FAIL	(-1004)
#endif
#ifndef EAI_FAMILY
#define EAI_FAMILY	(-1006)
#endif
#ifndef EAI_SOCKTYPE
#define EAI_SOCKTYPE	(-1007)
#endif
#ifndef EAI_SERVICE
#define EAI_SERVICE	(-1008)
#endif
#ifndef EAI_MEMORY
#define EAI_MEMORY	(-1010)
#endif
#ifndef EAI_SYSTEM
#define EAI_SYSTEM	(-1011)
#endif
#ifndef EAI_OVERFLOW
#define EAI_OVERFLOW	(-1012)
#endif

/* ---- functions ------------------------------------------------------ */

#ifndef HAVE_C99_SNPRINTF
int	yubin_snprintf(char *, size_t, const char *, ...)
	    YUBIN_COMPAT_PRINTF(3, 4);
int	yubin_vsnprintf(char *, size_t, const char *, va_list)
	    YUBIN_COMPAT_PRINTF(3, 0);
#undef snprintf
#undef vsnprintf
#define snprintf	yubin_snprintf
#define vsnprintf	yubin_vsnprintf
#endif

#ifndef HAVE_STRLCPY
size_t	yubin_strlcpy(char *, const char *, size_t);
#define strlcpy		yubin_strlcpy
#endif
#ifndef HAVE_STRLCAT
size_t	yubin_strlcat(char *, const char *, size_t);
#define strlcat		yubin_strlcat
#endif

#ifndef HAVE_STRERROR
char	*yubin_strerror(int);
#define strerror	yubin_strerror
#endif

#ifdef YUBIN_REPLACE_GETADDRINFO
#ifndef HAVE_STRUCT_ADDRINFO
/* A macro, so that a forced "no" still compiles beside <netdb.h>'s. */
struct yubin_addrinfo {
	int			 ai_flags;
	int			 ai_family;
	int			 ai_socktype;
	int			 ai_protocol;
	socklen_t		 ai_addrlen;
	char			*ai_canonname;
	struct sockaddr		*ai_addr;
	struct yubin_addrinfo	*ai_next;
};
#define addrinfo	yubin_addrinfo
#endif
int	yubin_getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);
void	yubin_freeaddrinfo(struct addrinfo *);
const char *yubin_gai_strerror(int);
#define getaddrinfo	yubin_getaddrinfo
#define freeaddrinfo	yubin_freeaddrinfo
#define gai_strerror	yubin_gai_strerror
#endif

#ifndef HAVE_GETNAMEINFO
int	yubin_getnameinfo(const struct sockaddr *, socklen_t, char *, size_t,
	    char *, size_t, int);
#define getnameinfo	yubin_getnameinfo
#endif

#ifndef HAVE_INET_PTON
int	yubin_inet_pton(int, const char *, void *);
#define inet_pton	yubin_inet_pton
#endif
#ifndef HAVE_INET_NTOP
const char *yubin_inet_ntop(int, const void *, char *, socklen_t);
#define inet_ntop	yubin_inet_ntop
#endif

#ifndef HAVE_LOCKF
int	yubin_lockf(int, int, off_t);
#define lockf		yubin_lockf
#endif

#ifndef HAVE_FSYNC
int	yubin_fsync(int);
#define fsync		yubin_fsync
#endif

#ifndef HAVE_SETSID
pid_t	yubin_setsid(void);
#define setsid		yubin_setsid
#endif

#ifndef HAVE_SETEUID
int	yubin_seteuid(uid_t);
#define seteuid		yubin_seteuid
#endif
#ifndef HAVE_SETEGID
int	yubin_setegid(gid_t);
#define setegid		yubin_setegid
#endif

#ifndef HAVE_SETGROUPS
int	yubin_setgroups(int, const gid_t *);
#define setgroups	yubin_setgroups
#endif
#ifndef HAVE_INITGROUPS
int	yubin_initgroups(const char *, gid_t);
#define initgroups	yubin_initgroups
#endif

#endif /* YUBIN_COMPAT_H */

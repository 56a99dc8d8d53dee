/*
 * net.h - listening sockets, accepting clients, and the connection
 * limits (global and per client address) that keep every descriptor
 * select() must watch below FD_SETSIZE.
 */
#ifndef YUBIN_NET_H
#define YUBIN_NET_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "conf.h"

struct conn;

/* Room for any socket address we use (net.c, dns.c). */
union sockaddr_any {
	struct sockaddr		sa;
	struct sockaddr_in	in;
#ifdef HAVE_IPV6
	struct sockaddr_in6	in6;
#endif
};

/*
 * Open the listeners cf asks for and close those it no longer names
 * (SIGHUP).  Listeners that stay are not touched, so nothing is refused
 * while reloading.  At start-up (reload == 0) any failure is fatal and
 * names the address; on reload it is logged and the rest goes on.
 * Returns the number of failures.
 */
int net_listen(const struct conf *cf, int reload);
/* Stop accepting (SIGTERM). */
void net_close_all(void);
/* Write "PROTO ADDR PORT" lines for the bound listeners (sandbox). */
int net_write_ports(const char *path);
/* Account for a connection that is gone. */
void net_conn_freed(const struct conn *c);
/*
 * Describe the peer of a connected socket: family 4/6 and address bytes
 * (0 if not an IP socket) and printable text.
 */
int net_peer(int fd, int *family, unsigned char *addr, char *text,
    size_t textlen);

/* The local address of a connected socket (for [literal] domains). */
int net_local(int fd, int *family, unsigned char *addr);

#endif

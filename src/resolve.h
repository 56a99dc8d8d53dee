/*
 * resolve.h - what a recipient address means here: local mailboxes
 * (through the aliases file and ~/.forward), a remote address to relay
 * to, or a refusal.  Used at RCPT time, so that an unknown user or a
 * relay attempt is refused before any data is sent.
 */
#ifndef YUBIN_RESOLVE_H
#define YUBIN_RESOLVE_H

#include <stddef.h>

#include "addr.h"
#include "aliases.h"

#define RESOLVE_OK	0	/* out has T_LOCAL users / T_ADDRESS remotes */
#define RESOLVE_UNKNOWN	1	/* no such local user: 550 5.1.1 */
#define RESOLVE_DENIED	2	/* not local and may not relay: 550 5.7.1 */
#define RESOLVE_TEMP	3	/* aliases broken, try later: 451 4.3.0 */

struct resolve_ctx {
	int		may_relay;	/* client in relay_networks, or authed */
	int		local_family;	/* the address the client reached */
	unsigned char	local_addr[16];
};

/* Whether domain (as in struct addr) is one of ours (RFC 5321 2.3.5). */
int resolve_is_local(const struct addr *a, const struct resolve_ctx *rc);
/*
 * Resolve a into out.  Final targets only: T_LOCAL (a user that exists)
 * and T_ADDRESS (a remote address).  why gets a reason on failure.
 */
int resolve_rcpt(const struct addr *a, const struct resolve_ctx *rc,
    struct targetlist *out, char *why, size_t whylen);
/* Drop the cached aliases table (SIGHUP). */
void resolve_reset(void);

#endif

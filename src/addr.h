/*
 * addr.h - RFC 5321 paths and ESMTP parameters: the argument of MAIL FROM
 * and RCPT TO taken apart, checked, and put back together.
 *
 * The caller owns everything around the path: it strips "MAIL FROM:" or
 * "RCPT TO:" and, being lenient where RFC 5321 is not (many clients write
 * "MAIL FROM: <a@b>"), skips any spaces before the '<'.  Inside the
 * brackets this parser is strict: no spaces outside quotes, brackets
 * required, and whether a domain is ours is not its business either.
 */
#ifndef YUBIN_ADDR_H
#define YUBIN_ADDR_H

#include <stddef.h>

struct addr {
	/*
	 * The local part, unquoted: <"a b"@x> gives a b.  RFC 5321
	 * 4.5.3.1.1 sets 64 octets as the minimum a server must accept; we
	 * take up to 255 and let callers apply a stricter limit.
	 */
	char		local[256];
	/* As given, "[1.2.3.4]" or "[IPv6:...]" for a literal, "" if none. */
	char		domain[256];
	int		null;		/* the path was <> */
	int		literal;	/* domain is an address literal */
	unsigned char	lit_addr[16];	/* its address, network order */
	int		lit_family;	/* 4 or 6 when literal */
};

/* Flags for addr_parse_path(). */
#define ADDR_NULL_OK		1	/* <> is allowed (MAIL FROM) */
#define ADDR_POSTMASTER_OK	2	/* <postmaster> is allowed (RCPT TO) */

/*
 * Errors.  ADDR_ERR_CHAR is separate because RFC 5321 4.1.2 demands 501
 * for "invalid character codes"; the PARAM errors come from
 * addr_parse_params(), and ADDR_ERR_PARAM_UNKNOWN is the one a server
 * answers with 555 5.5.4 (RFC 5321 4.1.1.11).
 */
#define ADDR_ERR_SYNTAX		1	/* not a path */
#define ADDR_ERR_CHAR		2	/* control or 8-bit character */
#define ADDR_ERR_TOOLONG	3	/* local part or domain over 255 */
#define ADDR_ERR_DOMAIN		4	/* bad domain name */
#define ADDR_ERR_LITERAL	5	/* bad or unsupported address literal */
#define ADDR_ERR_NULL		6	/* <> where it is not allowed */
#define ADDR_ERR_NODOMAIN	7	/* no domain, and not <postmaster> */
#define ADDR_ERR_PARAM_SYNTAX	8	/* malformed esmtp-param */
#define ADDR_ERR_PARAM_VALUE	9	/* bad SIZE or BODY value */
#define ADDR_ERR_PARAM_DUP	10	/* keyword given twice */
#define ADDR_ERR_PARAM_UNKNOWN	11	/* keyword not supported here */

/*
 * Parse the Path (RFC 5321 4.1.2) that starts at s with '<'.  On success
 * returns 0, fills *a and sets *end just after the '>' (where ESMTP
 * parameters may follow); otherwise returns an ADDR_ERR_* code and *end
 * is not touched.
 *
 * flags: ADDR_NULL_OK accepts "<>" (a->null set, everything else empty).
 * ADDR_POSTMASTER_OK accepts a domain-less "<postmaster>" in any case
 * (RFC 5321 4.5.1), returned with domain "" and the local part as
 * written; any other domain-less path is ADDR_ERR_NODOMAIN, so a caller
 * cannot take an unqualified name by accident.
 *
 * Source routes ("<@a,@b:user@c>") are checked and dropped: the result
 * is user@c.  "%" and "!" are ordinary local-part characters; deciding
 * what they mean (nothing, in yubin) is the caller's job.
 */
int addr_parse_path(const char *s, struct addr *a, const char **end,
    int flags);

/*
 * Write local@domain into out, quoting the local part as RFC 5321 4.1.2
 * asks ("the form that uses the minimum quoting possible") when it is not
 * a Dot-string.  No '@' without a domain; "" for a null path: the angle
 * brackets, and <>, are the caller's.  Returns 0, or -1 if out is too
 * small (out then holds a truncated string).
 */
int addr_format(const struct addr *a, char *out, size_t outlen);

/* Whether s is a Dot-string (RFC 5321 4.1.2): atoms joined by dots. */
int addr_is_dot_string(const char *s);

/* A short English text for an ADDR_ERR_* code, for replies and logs. */
const char *addr_strerror(int err);

/* ESMTP parameters we implement, as addr_parse_params() flags. */
#define PARAM_SIZE	1	/* RFC 1870 SIZE=n */
#define PARAM_BODY	2	/* RFC 6152 BODY=7BIT|8BITMIME */

#define BODY_NONE	0
#define BODY_7BIT	7
#define BODY_8BITMIME	8

struct mail_params {
	unsigned long	size;		/* SIZE value when has_size */
	int		has_size;
	int		body;		/* BODY_* */
	/* The offending keyword on an error, cut to fit: for messages only. */
	char		keyword[64];
};

/*
 * Parse the parameters that follow a path: s is the *end that
 * addr_parse_path() gave, "" or " SIZE=123 BODY=8BITMIME".  Keywords not
 * in allowed (PARAM_* flags: MAIL takes both, RCPT none) are
 * ADDR_ERR_PARAM_UNKNOWN.  Returns 0 or an ADDR_ERR_PARAM_* code, with
 * p->keyword naming the parameter at fault.
 */
int addr_parse_params(const char *s, int allowed, struct mail_params *p);

#endif

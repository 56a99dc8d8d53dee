/*
 * addr.c - RFC 5321 paths (the argument of MAIL FROM and RCPT TO) and
 * the ESMTP parameters after them.
 *
 * Everything here is pure: no I/O, no allocation, no idea which domains
 * are local.  It must never be lenient inside the angle brackets: every
 * relay trick (source routes, '%', '!', quoted '@', address literals) is
 * turned into one plain local@domain pair, so that the relay decision
 * made on that pair is the one the delivery agent will act on.
 */
#include "yubin.h"

#include <string.h>

#include "addr.h"
#include "util.h"

/* RFC 1035 2.3.4: 63 octets a label; RFC 5321 4.5.3.1.2: 255 a domain. */
#define LABEL_MAX	63
#define DOMAIN_MAX	255
#define LOCAL_MAX	(sizeof(((struct addr *)0)->local) - 1)

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 3.2.3 atext, which RFC 5321 4.1.2 Atom is made of. */
static int
is_atext(int c)
{
	return is_alpha(c) || is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * The error for an unexpected character: RFC 5321 4.1.2 says control
 * characters and octets with the high bit "MUST NOT be used" and wants
 * a 501 for them, so they get their own code; NUL is the end of the
 * string here, hence an incomplete path.
 */
static int
char_error(int c)
{
	c &= 0xff;
	if (c != '\0' && (c < 32 || c >= 127))
		return ADDR_ERR_CHAR;
	return ADDR_ERR_SYNTAX;
}

int
addr_is_dot_string(const char *s)
{
	int prev_dot;

	/* RFC 5321 4.1.2: Dot-string = Atom *("." Atom), Atom = 1*atext */
	prev_dot = 1;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (prev_dot)
				return 0;
			prev_dot = 1;
		} else if (is_atext((unsigned char)*s))
			prev_dot = 0;
		else
			return 0;
	}
	return !prev_dot;
}

/* A Dot-string local part at *sp, copied to out[LOCAL_MAX + 1]. */
static int
parse_dot_string(const char **sp, char *out)
{
	const char *s = *sp;
	size_t n;

	for (n = 0; s[n] == '.' || is_atext((unsigned char)s[n]); n++)
		;
	if (n > LOCAL_MAX)
		return ADDR_ERR_TOOLONG;
	memcpy(out, s, n);
	out[n] = '\0';
	if (n == 0)
		return char_error((unsigned char)s[0]);
	/* No leading, trailing or double dot: "a..b" is not a Dot-string. */
	if (!addr_is_dot_string(out))
		return ADDR_ERR_SYNTAX;
	*sp = s + n;
	return 0;
}

/*
 * A Quoted-string local part at *sp (on the '"'), unquoted into
 * out[LOCAL_MAX + 1].  RFC 5321 4.1.2: qtextSMTP and quoted-pairSMTP are
 * both limited to ASCII graphics and space, so a backslash cannot smuggle
 * in CR, LF or NUL.  '@', '%', '!' and spaces are plain text here.
 */
static int
parse_quoted(const char **sp, char *out)
{
	const char *s = *sp + 1;
	size_t n;
	int c;

	for (n = 0; *s != '"'; s++) {
		c = (unsigned char)*s;
		if (c == '\\')
			c = (unsigned char)*++s;
		if (c < 32 || c > 126)
			return char_error(c);
		if (n == LOCAL_MAX)
			return ADDR_ERR_TOOLONG;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	/*
	 * The grammar allows "", but no mailbox is called that, and an empty
	 * name is the kind of edge case other programs mishandle.
	 */
	if (n == 0)
		return ADDR_ERR_SYNTAX;
	*sp = s + 1;
	return 0;
}

/* Check one label: RFC 5321 4.1.2 sub-domain = Let-dig [Ldh-str]. */
static int
check_label(const char *l, size_t len)
{
	if (len == 0 || len > LABEL_MAX)
		return ADDR_ERR_DOMAIN;
	if (l[0] == '-' || l[len - 1] == '-')
		return ADDR_ERR_DOMAIN;
	return 0;
}

/*
 * A domain name at *sp (RFC 5321 4.1.2 Domain) into out[DOMAIN_MAX + 1].
 * Empty labels (so a trailing dot too) are errors.  So is an all-numeric
 * last label: RFC 1123 2.1 notes that a host name never has the dotted-
 * decimal form, and "user@127.0.0.1" without brackets must not reach a
 * resolver that would read it as an address.
 */
static int
parse_domain(const char **sp, char *out)
{
	const char *s = *sp;
	size_t n, start, i;
	int numeric, r;

	for (n = 0; is_alpha((unsigned char)s[n]) ||
	    is_digit((unsigned char)s[n]) || s[n] == '-' || s[n] == '.'; n++)
		;
	if (n > DOMAIN_MAX)
		return ADDR_ERR_TOOLONG;
	if (n == 0)
		return s[0] == '\0' || s[0] == '>' ? ADDR_ERR_DOMAIN :
		    char_error((unsigned char)s[0]);
	start = 0;
	numeric = 1;
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_digit((unsigned char)s[i]))
				numeric = 0;
			continue;
		}
		if ((r = check_label(s + start, i - start)) != 0)
			return r;
		if (i < n)
			numeric = 1;
		start = i + 1;
	}
	if (numeric)
		return ADDR_ERR_DOMAIN;
	memcpy(out, s, n);
	out[n] = '\0';
	*sp = s + n;
	return 0;
}

/*
 * An address literal at *sp (on the '['), RFC 5321 4.1.3: "[d.d.d.d]" or
 * "[IPv6:...]".  A General-address-literal names a tag no standard has
 * registered, so nothing could deliver to it: rejected.
 */
static int
parse_literal(const char **sp, struct addr *a)
{
	const char *s = *sp + 1;
	char text[DOMAIN_MAX + 1];
	size_t n;
	int fam;

	/* dcontent: %d33-90 / %d94-126, no '[', '\' or ']' inside. */
	for (n = 0; s[n] != ']'; n++) {
		if ((unsigned char)s[n] < 33 || (unsigned char)s[n] > 126 ||
		    s[n] == '[' || s[n] == '\\')
			return char_error((unsigned char)s[n]);
		if (n + 2 >= DOMAIN_MAX)
			return ADDR_ERR_TOOLONG;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	if (n > 5 && ascii_ncasecmp(text, "IPv6:", 5) == 0)
		fam = ipaddr_parse(text + 5, a->lit_addr) == 6 ? 6 : -1;
	else
		fam = ipaddr_parse(text, a->lit_addr) == 4 ? 4 : -1;
	if (fam < 0)
		return ADDR_ERR_LITERAL;
	a->domain[0] = '[';
	memcpy(a->domain + 1, text, n);
	a->domain[n + 1] = ']';
	a->domain[n + 2] = '\0';
	a->literal = 1;
	a->lit_family = fam;
	*sp = s + n + 1;
	return 0;
}

/*
 * A source route "@a,@b:" at *sp.  RFC 5321 4.1.2 A-d-l: "MUST BE
 * accepted, SHOULD NOT be generated, and SHOULD be ignored"; appendix C
 * and 3.6.1 say a server may drop it and deliver to the mailbox.  Each
 * hop must still be a valid Domain: we check it, then forget it, so a
 * route can never steer a relay decision.
 */
static int
skip_route(const char **sp)
{
	char hop[DOMAIN_MAX + 1];
	const char *s = *sp;
	int r;

	for (;;) {
		if (*s != '@')
			return char_error((unsigned char)*s);
		s++;
		if ((r = parse_domain(&s, hop)) != 0)
			return r;
		if (*s == ':')
			break;
		if (*s != ',')
			return char_error((unsigned char)*s);
		s++;
	}
	*sp = s + 1;
	return 0;
}

int
addr_parse_path(const char *s, struct addr *a, const char **end, int flags)
{
	const char *p;
	int r;

	memset(a, 0, sizeof(*a));
	if (*s != '<')
		return char_error((unsigned char)*s);
	p = s + 1;
	if (*p == '>') {
		/* RFC 5321 4.1.1.2: only a Reverse-path may be null. */
		if (!(flags & ADDR_NULL_OK))
			return ADDR_ERR_NULL;
		a->null = 1;
		*end = p + 1;
		return 0;
	}
	if (*p == '@' && (r = skip_route(&p)) != 0)
		return r;
	if (*p == '"')
		r = parse_quoted(&p, a->local);
	else
		r = parse_dot_string(&p, a->local);
	if (r != 0)
		return r;
	if (*p == '@') {
		p++;
		r = *p == '[' ? parse_literal(&p, a) :
		    parse_domain(&p, a->domain);
		if (r != 0)
			return r;
	} else if (*p == '>') {
		/* RFC 5321 4.5.1: "<Postmaster>" without a domain. */
		if (!(flags & ADDR_POSTMASTER_OK) ||
		    ascii_casecmp(a->local, "postmaster") != 0)
			return ADDR_ERR_NODOMAIN;
	}
	/* Anything else, such as user@remote@local, is not a Mailbox. */
	if (*p != '>')
		return char_error((unsigned char)*p);
	*end = p + 1;
	return 0;
}

/* Append n bytes of s at out[*pos], keeping room for the NUL. */
static int
put(char *out, size_t outlen, size_t *pos, const char *s, size_t n)
{
	if (outlen == 0)
		return -1;
	if (n >= outlen - *pos) {
		n = outlen - *pos - 1;
		memcpy(out + *pos, s, n);
		*pos += n;
		out[*pos] = '\0';
		return -1;
	}
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
	return 0;
}

int
addr_format(const struct addr *a, char *out, size_t outlen)
{
	const char *l;
	size_t pos;

	pos = 0;
	if (put(out, outlen, &pos, "", 0) < 0)
		return -1;
	if (a->null)
		return 0;
	if (addr_is_dot_string(a->local)) {
		if (put(out, outlen, &pos, a->local, strlen(a->local)) < 0)
			return -1;
	} else {
		/* RFC 5321 4.1.2: only '"' and '\' need a backslash. */
		if (put(out, outlen, &pos, "\"", 1) < 0)
			return -1;
		for (l = a->local; *l != '\0'; l++)
			if (((*l == '"' || *l == '\\') &&
			    put(out, outlen, &pos, "\\", 1) < 0) ||
			    put(out, outlen, &pos, l, 1) < 0)
				return -1;
		if (put(out, outlen, &pos, "\"", 1) < 0)
			return -1;
	}
	if (a->domain[0] != '\0' &&
	    (put(out, outlen, &pos, "@", 1) < 0 ||
	    put(out, outlen, &pos, a->domain, strlen(a->domain)) < 0))
		return -1;
	return 0;
}

const char *
addr_strerror(int err)
{
	static const char *const text[] = {
		"ok",
		"syntax error in address",
		"invalid character in address",
		"address too long",
		"invalid domain name",
		"invalid or unsupported address literal",
		"null address not allowed here",
		"address has no domain",
		"syntax error in parameters",
		"invalid parameter value",
		"parameter given twice",
		"unsupported parameter"
	};

	if (err < 0 || (size_t)err >= NELEM(text))
		return "unknown error";
	return text[err];
}

/* The keyword for messages, cut to fit p->keyword. */
static void
copy_keyword(struct mail_params *p, const char *kw, size_t klen)
{
	if (klen >= sizeof(p->keyword))
		klen = sizeof(p->keyword) - 1;
	memcpy(p->keyword, kw, klen);
	p->keyword[klen] = '\0';
}

/* Apply one parameter: keyword kw (klen) and value v (vlen, NULL: none). */
static int
apply_param(const char *kw, size_t klen, const char *v, size_t vlen,
    int allowed, struct mail_params *p)
{
	/* RFC 5321 2.4: keywords are case-insensitive. */
	if ((allowed & PARAM_SIZE) && klen == 4 &&
	    ascii_ncasecmp(kw, "SIZE", 4) == 0) {
		if (p->has_size)
			return ADDR_ERR_PARAM_DUP;
		/*
		 * RFC 1870 4: size-value = 1*20DIGIT.  parse_ulong_n rejects
		 * anything an unsigned long cannot hold instead of wrapping
		 * (SIZE=18446744073709551617 must not read as 1); such a
		 * value is valid, only too big: it reads as the largest, so
		 * that the reply is 552 (RFC 1870 6.1), not a syntax error.
		 */
		if (v == NULL || vlen == 0 || vlen > 20 ||
		    strspn(v, "0123456789") < vlen)
			return ADDR_ERR_PARAM_VALUE;
		if (parse_ulong_n(v, vlen, (unsigned long)-1, &p->size) < 0)
			p->size = (unsigned long)-1;
		p->has_size = 1;
		return 0;
	}
	if ((allowed & PARAM_BODY) && klen == 4 &&
	    ascii_ncasecmp(kw, "BODY", 4) == 0) {
		if (p->body != BODY_NONE)
			return ADDR_ERR_PARAM_DUP;
		/* RFC 6152 2: body-value = "7BIT" / "8BITMIME" (no BINARY). */
		if (v != NULL && vlen == 4 && ascii_ncasecmp(v, "7BIT", 4) == 0)
			p->body = BODY_7BIT;
		else if (v != NULL && vlen == 8 &&
		    ascii_ncasecmp(v, "8BITMIME", 8) == 0)
			p->body = BODY_8BITMIME;
		else
			return ADDR_ERR_PARAM_VALUE;
		return 0;
	}
	return ADDR_ERR_PARAM_UNKNOWN;
}

int
addr_parse_params(const char *s, int allowed, struct mail_params *p)
{
	const char *kw, *v;
	size_t klen, vlen;
	int r;

	memset(p, 0, sizeof(*p));
	while (*s != '\0') {
		/* RFC 5321 4.1.2: params follow the path after SP.  We let
		 * several spaces, and trailing ones, pass: harmless. */
		if (*s != ' ')
			return ADDR_ERR_PARAM_SYNTAX;
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		kw = s;
		if (*s == '-')
			return ADDR_ERR_PARAM_SYNTAX;
		while (is_alpha((unsigned char)*s) ||
		    is_digit((unsigned char)*s) || *s == '-')
			s++;
		if ((klen = (size_t)(s - kw)) == 0)
			return ADDR_ERR_PARAM_SYNTAX;
		copy_keyword(p, kw, klen);
		v = NULL;
		vlen = 0;
		if (*s == '=') {
			/* esmtp-value = 1*(%d33-60 / %d62-126) */
			for (v = ++s; *s > 32 && *s < 127 && *s != '='; s++)
				;
			if ((vlen = (size_t)(s - v)) == 0)
				return ADDR_ERR_PARAM_SYNTAX;
		}
		if (*s != ' ' && *s != '\0')
			return ADDR_ERR_PARAM_SYNTAX;
		if ((r = apply_param(kw, klen, v, vlen, allowed, p)) != 0)
			return r;
	}
	p->keyword[0] = '\0';
	return 0;
}

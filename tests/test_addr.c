/*
 * test_addr.c - unit tests of src/addr.c: RFC 5321 paths (the relay
 * tricks included, as parse results), address literals, limits,
 * re-quoting, and the SIZE and BODY parameters.
 */
#include "yubin.h"

#include <string.h>

#include "check.h"
#include "addr.h"

static struct addr a;

/* Parse s; 0 or the error code.  On success the rest must be rest. */
static int
parse(const char *s, int flags, const char *rest)
{
	const char *end;
	int r;

	end = NULL;
	r = addr_parse_path(s, &a, &end, flags);
	if (r == 0 && (end == NULL || strcmp(end, rest) != 0))
		return -1;
	return r;
}

static int
is(const char *local, const char *domain)
{
	return strcmp(a.local, local) == 0 && strcmp(a.domain, domain) == 0 &&
	    !a.null;
}

static void
test_plain(void)
{
	CHECK(parse("<user@example.org>", 0, "") == 0 &&
	    is("user", "example.org") && !a.literal);
	CHECK(parse("<first.last+tag@Mail.Example.ORG> SIZE=1", 0,
	    " SIZE=1") == 0 && is("first.last+tag", "Mail.Example.ORG"));
	CHECK(parse("<a-b@x-y.z9>", 0, "") == 0 && is("a-b", "x-y.z9"));
	CHECK(parse("<u@localhost>", 0, "") == 0 && is("u", "localhost"));
	/* the brackets are required, and so is a Mailbox inside them */
	CHECK(parse("user@example.org", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user@example.org", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<>", 0, "") == ADDR_ERR_NULL);
	CHECK(parse("<@>", 0, "") != 0);
	CHECK(parse("<@x.org:>", 0, "") == ADDR_ERR_SYNTAX);
	/* spaces inside the brackets are errors, except quoted ones */
	CHECK(parse("< user@example.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user@example.org >", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user @example.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<us er@example.org>", 0, "") == ADDR_ERR_SYNTAX);
	/* the caller skips "FROM: " spaces, not us */
	CHECK(parse(" <user@example.org>", 0, "") == ADDR_ERR_SYNTAX);
}

static void
test_null_postmaster(void)
{
	CHECK(parse("<>", ADDR_NULL_OK, "") == 0 && a.null &&
	    a.local[0] == '\0' && a.domain[0] == '\0');
	CHECK(parse("<> BODY=8BITMIME", ADDR_NULL_OK, " BODY=8BITMIME") == 0 &&
	    a.null);
	/* RFC 5321 4.5.1: <postmaster> without a domain, for RCPT */
	CHECK(parse("<postmaster>", ADDR_POSTMASTER_OK, "") == 0 &&
	    is("postmaster", ""));
	CHECK(parse("<PostMaster>", ADDR_POSTMASTER_OK, "") == 0 &&
	    is("PostMaster", ""));
	CHECK(parse("<\"postmaster\">", ADDR_POSTMASTER_OK, "") == 0 &&
	    is("postmaster", ""));
	CHECK(parse("<postmaster>", 0, "") == ADDR_ERR_NODOMAIN);
	CHECK(parse("<root>", ADDR_POSTMASTER_OK, "") == ADDR_ERR_NODOMAIN);
	CHECK(parse("<postmasters>", ADDR_POSTMASTER_OK, "") ==
	    ADDR_ERR_NODOMAIN);
	CHECK(parse("<user>", ADDR_NULL_OK, "") == ADDR_ERR_NODOMAIN);
	CHECK(parse("<postmaster@example.org>", 0, "") == 0 &&
	    is("postmaster", "example.org"));
}

/* The classic relay tricks come out as one plain local@domain pair. */
static void
test_relay_tricks(void)
{
	CHECK(parse("<user%remote@local>", 0, "") == 0 &&
	    is("user%remote", "local"));
	CHECK(parse("<\"user@remote\"@local>", 0, "") == 0 &&
	    is("user@remote", "local"));
	CHECK(parse("<remote!user@local>", 0, "") == 0 &&
	    is("remote!user", "local"));
	CHECK(parse("<@local:user@remote>", 0, "") == 0 &&
	    is("user", "remote"));
	CHECK(parse("<@a.example,@b.example:user@remote>", 0, "") == 0 &&
	    is("user", "remote"));
	CHECK(parse("<user@remote@local>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<@local:user@remote@local>", 0, "") == ADDR_ERR_SYNTAX);
	/* the hops of a route are checked even though they are dropped */
	CHECK(parse("<@local.:user@remote>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<@local,user@remote>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<@local user@remote>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<@[127.0.0.1]:user@remote>", 0, "") != 0);
	/* an unbracketed IP is not a host name (RFC 1123 2.1) */
	CHECK(parse("<user@127.0.0.1>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@1.2.3.4x>", 0, "") == 0 && is("user", "1.2.3.4x"));
}

static void
test_literals(void)
{
	static const unsigned char lo4[4] = { 127, 0, 0, 1 };
	static const unsigned char lo6[16] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

	CHECK(parse("<user@[127.0.0.1]>", 0, "") == 0 &&
	    is("user", "[127.0.0.1]") && a.literal && a.lit_family == 4 &&
	    memcmp(a.lit_addr, lo4, 4) == 0);
	CHECK(parse("<user@[IPv6:::1]>", 0, "") == 0 &&
	    is("user", "[IPv6:::1]") && a.literal && a.lit_family == 6 &&
	    memcmp(a.lit_addr, lo6, 16) == 0);
	CHECK(parse("<user@[ipv6:2001:db8::1]>", 0, "") == 0 &&
	    a.lit_family == 6);
	CHECK(parse("<user@[IPv6:::ffff:10.0.0.1]>", 0, "") == 0 &&
	    a.lit_family == 6 && a.lit_addr[15] == 1);
	CHECK(parse("<user@[256.0.0.1]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[1.2.3]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[127.1]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[0x7f.0.0.1]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[::1]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[IPv6:1.2.3.4]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[IPv6:]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[IPv6:1::2::3]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[x400:c=fr;a=x]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[]>", 0, "") == ADDR_ERR_LITERAL);
	CHECK(parse("<user@[127.0.0.1>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user@[127.0.0.1 ]>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user@[127.0.0.1]x>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user@[127.0.0.1]@local>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user@[[127.0.0.1]]>", 0, "") == ADDR_ERR_SYNTAX);
}

static void
test_domains(void)
{
	CHECK(parse("<user@local.>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@.local>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@a..b>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@-a.b>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@a-.b>", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@a.b->", 0, "") == ADDR_ERR_DOMAIN);
	CHECK(parse("<user@a_b.c>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<user@a.b\r>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<user@a\xc3\xa9.b>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<user@1a.2b>", 0, "") == 0 && is("user", "1a.2b"));
	CHECK(parse("<user@123>", 0, "") == ADDR_ERR_DOMAIN);
}

static void
test_local_parts(void)
{
	CHECK(parse("<\"a b\"@x.org>", 0, "") == 0 && is("a b", "x.org"));
	CHECK(parse("<\"a\\\"b\\\\c\"@x.org>", 0, "") == 0 &&
	    is("a\"b\\c", "x.org"));
	CHECK(parse("<\"\\a\"@x.org>", 0, "") == 0 && is("a", "x.org"));
	CHECK(parse("<\"a%b!c@d\"@x.org>", 0, "") == 0 &&
	    is("a%b!c@d", "x.org"));
	CHECK(parse("<\"\"@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<\"abc@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<\"a\"b@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<a\"b\"@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<.a@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<a.@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<a..b@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<@x.org>", ADDR_POSTMASTER_OK, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<a(b)@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	/* controls, CR, LF, tab and 8-bit octets, quoted or not */
	CHECK(parse("<a\rb@x.org>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<a\nb@x.org>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<\"a\tb\"@x.org>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<\"a\\\rb\"@x.org>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<\"a\\\nb\"@x.org>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<\"a\x7f\"@x.org>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<\xe3\x81\x82@x.org>", 0, "") == ADDR_ERR_CHAR);
	CHECK(parse("<\"\xe3\x81\x82\"@x.org>", 0, "") == ADDR_ERR_CHAR);
	/* a NUL ends the string: the path is incomplete, never accepted */
	CHECK(parse("<a\0b@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<\"a\\\0b\"@x.org>", 0, "") == ADDR_ERR_SYNTAX);
	CHECK(parse("<\"a\0\"@x.org>", 0, "") == ADDR_ERR_SYNTAX);
}

/* Build "<" + n x c + "@" + domain + ">" into buf. */
static const char *
make_path(char *buf, size_t n, int c, const char *domain)
{
	buf[0] = '<';
	memset(buf + 1, c, n);
	buf[n + 1] = '\0';
	strcat(buf, domain);
	strcat(buf, ">");
	return buf;
}

static void
test_limits(void)
{
	static char buf[2048], dom[1024];
	size_t i;

	CHECK(parse(make_path(buf, 255, 'a', "@x.org"), 0, "") == 0 &&
	    strlen(a.local) == 255);
	CHECK(parse(make_path(buf, 256, 'a', "@x.org"), 0, "") ==
	    ADDR_ERR_TOOLONG);
	make_path(buf, 255, 'a', "\"@x.org");
	buf[1] = '"';
	CHECK(parse(buf, 0, "") == 0 && strlen(a.local) == 254);
	make_path(buf, 257, 'a', "\"@x.org");
	buf[1] = '"';
	CHECK(parse(buf, 0, "") == ADDR_ERR_TOOLONG);
	/* a 63-octet label is fine, 64 is not (RFC 1035 2.3.4) */
	memset(dom, 'b', 63);
	strcpy(dom + 63, ".org");
	CHECK(parse(make_path(buf, 1, 'u', "@"), 0, "") != 0);
	buf[3] = '\0';
	strcat(buf, dom);
	strcat(buf, ">");
	CHECK(parse(buf, 0, "") == 0 && strlen(a.domain) == 67);
	memset(dom, 'b', 64);
	strcpy(dom + 64, ".org");
	strcpy(buf, "<u@");
	strcat(buf, dom);
	strcat(buf, ">");
	CHECK(parse(buf, 0, "") == ADDR_ERR_DOMAIN);
	/* 255 octets of domain pass, 256 do not (RFC 5321 4.5.3.1.2) */
	for (i = 0; i < 255; i += 2)
		memcpy(dom + i, "a.", 2);
	dom[254] = 'a';
	dom[255] = '\0';
	strcpy(buf, "<u@");
	strcat(buf, dom);
	strcat(buf, ">");
	CHECK(parse(buf, 0, "") == 0 && strlen(a.domain) == 255);
	strcpy(buf, "<u@b");
	strcat(buf, dom);
	strcat(buf, ">");
	CHECK(parse(buf, 0, "") == ADDR_ERR_TOOLONG);
	strcpy(buf, "<@b");
	strcat(buf, dom);
	strcat(buf, ":u@x.org>");
	CHECK(parse(buf, 0, "") == ADDR_ERR_TOOLONG);
	/* literals are bounded too */
	strcpy(buf, "<u@[IPv6:");
	memset(buf + 9, '1', 300);
	strcpy(buf + 309, "]>");
	CHECK(parse(buf, 0, "") == ADDR_ERR_TOOLONG);
}

static void
test_format(void)
{
	char out[600];
	struct addr b;

	CHECK(parse("<\"user\"@x.org>", 0, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 &&
	    strcmp(out, "user@x.org") == 0);
	CHECK(parse("<\"a b\"@x.org>", 0, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 &&
	    strcmp(out, "\"a b\"@x.org") == 0);
	CHECK(parse("<\"a\\\"b\\\\c\"@x.org>", 0, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 &&
	    strcmp(out, "\"a\\\"b\\\\c\"@x.org") == 0);
	CHECK(parse("<\"user@remote\"@local>", 0, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 &&
	    strcmp(out, "\"user@remote\"@local") == 0);
	CHECK(parse("<\"a..b\"@x.org>", 0, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 &&
	    strcmp(out, "\"a..b\"@x.org") == 0);
	CHECK(parse("<@r:u@[IPv6:::1]>", 0, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 &&
	    strcmp(out, "u@[IPv6:::1]") == 0);
	CHECK(parse("<postmaster>", ADDR_POSTMASTER_OK, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 &&
	    strcmp(out, "postmaster") == 0);
	CHECK(parse("<>", ADDR_NULL_OK, "") == 0 &&
	    addr_format(&a, out, sizeof(out)) == 0 && out[0] == '\0');
	/* the formatted form parses back to the same pair */
	CHECK(parse("<\"a\\\"b c\"@x.org>", 0, "") == 0 &&
	    addr_format(&a, out + 1, sizeof(out) - 2) == 0);
	out[0] = '<';
	strcat(out, ">");
	b = a;
	CHECK(parse(out, 0, "") == 0 && is(b.local, b.domain));
	/* truncation is reported, and the result is still a C string */
	CHECK(parse("<user@example.org>", 0, "") == 0 &&
	    addr_format(&a, out, 10) < 0 && strlen(out) == 9);
	CHECK(addr_format(&a, out, 16) < 0 && strlen(out) == 15);
	CHECK(addr_format(&a, out, 17) == 0 &&
	    strcmp(out, "user@example.org") == 0);
	CHECK(addr_format(&a, out, 0) < 0);
	CHECK(addr_is_dot_string("a.b") && addr_is_dot_string("a+b!c"));
	CHECK(!addr_is_dot_string("") && !addr_is_dot_string("a.") &&
	    !addr_is_dot_string(".a") && !addr_is_dot_string("a b") &&
	    !addr_is_dot_string("a@b") && !addr_is_dot_string("a..b"));
	CHECK(strcmp(addr_strerror(ADDR_ERR_PARAM_UNKNOWN),
	    "unsupported parameter") == 0 &&
	    strcmp(addr_strerror(99), "unknown error") == 0);
}

static void
test_params(void)
{
	struct mail_params p;
	int all = PARAM_SIZE | PARAM_BODY;

	CHECK(addr_parse_params("", all, &p) == 0 && !p.has_size &&
	    p.body == BODY_NONE);
	CHECK(addr_parse_params(" SIZE=123 BODY=8BITMIME", all, &p) == 0 &&
	    p.has_size && p.size == 123 && p.body == BODY_8BITMIME);
	CHECK(addr_parse_params(" size=0 body=7bit", all, &p) == 0 &&
	    p.has_size && p.size == 0 && p.body == BODY_7BIT);
	CHECK(addr_parse_params(" SIZE=1  BODY=7BIT ", all, &p) == 0);
	/* 20 digits are valid (RFC 1870 4), only too big: the largest */
	CHECK(addr_parse_params(" SIZE=99999999999999999999", all, &p) == 0 &&
	    p.size == (unsigned long)-1);
	CHECK(addr_parse_params(" SIZE=999999999999999999999", all, &p) ==
	    ADDR_ERR_PARAM_VALUE && strcmp(p.keyword, "SIZE") == 0);
	CHECK(addr_parse_params(" SIZE=4294967295", all, &p) == 0 &&
	    p.size == 4294967295UL);
	CHECK(addr_parse_params(" SIZE=-1", all, &p) == ADDR_ERR_PARAM_VALUE);
	CHECK(addr_parse_params(" SIZE=+1", all, &p) == ADDR_ERR_PARAM_VALUE);
	CHECK(addr_parse_params(" SIZE=1k", all, &p) == ADDR_ERR_PARAM_VALUE);
	CHECK(addr_parse_params(" SIZE", all, &p) == ADDR_ERR_PARAM_VALUE);
	CHECK(addr_parse_params(" SIZE=", all, &p) == ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params(" SIZE==1", all, &p) ==
	    ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params(" SIZE=1=2", all, &p) ==
	    ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params(" SIZE=1 size=2", all, &p) ==
	    ADDR_ERR_PARAM_DUP && strcmp(p.keyword, "size") == 0);
	CHECK(addr_parse_params(" BODY=7BIT BODY=7BIT", all, &p) ==
	    ADDR_ERR_PARAM_DUP);
	CHECK(addr_parse_params(" BODY=BINARYMIME", all, &p) ==
	    ADDR_ERR_PARAM_VALUE);
	CHECK(addr_parse_params(" BODY", all, &p) == ADDR_ERR_PARAM_VALUE);
	CHECK(addr_parse_params(" AUTH=<>", all, &p) ==
	    ADDR_ERR_PARAM_UNKNOWN && strcmp(p.keyword, "AUTH") == 0);
	CHECK(addr_parse_params(" SMTPUTF8", all, &p) ==
	    ADDR_ERR_PARAM_UNKNOWN && strcmp(p.keyword, "SMTPUTF8") == 0);
	CHECK(addr_parse_params(" X-FOO-1=bar", all, &p) ==
	    ADDR_ERR_PARAM_UNKNOWN);
	/* RCPT takes none of them */
	CHECK(addr_parse_params(" SIZE=1", 0, &p) == ADDR_ERR_PARAM_UNKNOWN);
	CHECK(addr_parse_params(" BODY=7BIT", PARAM_SIZE, &p) ==
	    ADDR_ERR_PARAM_UNKNOWN);
	CHECK(addr_parse_params("SIZE=1", all, &p) == ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params(" -SIZE=1", all, &p) == ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params(" SI_ZE=1", all, &p) == ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params("\tSIZE=1", all, &p) == ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params(" SIZE=1\r", all, &p) ==
	    ADDR_ERR_PARAM_SYNTAX);
	CHECK(addr_parse_params(" X=a\x80", all, &p) == ADDR_ERR_PARAM_SYNTAX);
	/* a long unknown keyword is cut in the message, still reported */
	CHECK(addr_parse_params(" XAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=1", all, &p) ==
	    ADDR_ERR_PARAM_UNKNOWN && strlen(p.keyword) == 63);
}

int
main(void)
{
	test_plain();
	test_null_postmaster();
	test_relay_tricks();
	test_literals();
	test_domains();
	test_local_parts();
	test_limits();
	test_format();
	test_params();
	return check_exit("test_addr");
}

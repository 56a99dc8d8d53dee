/* test_util.c - unit tests of src/util.c: number parsing, masks, case. */
#include "yubin.h"

#include <string.h>

#include "check.h"
#include "util.h"

static void
test_parse_ulong(void)
{
	unsigned long v;

	CHECK(parse_ulong("0", 10, &v) == 0 && v == 0);
	CHECK(parse_ulong("4294967295", 4294967295UL, &v) == 0 &&
	    v == 4294967295UL);
	/* popa3d: "LIST 4294967297" is an error, not message 1 */
	CHECK(parse_ulong("4294967297", 4294967295UL, &v) < 0);
	CHECK(parse_ulong("11", 10, &v) < 0);
	CHECK(parse_ulong("10", 10, &v) == 0 && v == 10);
	/* a digit bigger than max must not wrap max - d around */
	CHECK(parse_ulong("3", 2, &v) < 0);
	CHECK(parse_ulong("1", 0, &v) < 0);
	CHECK(parse_ulong("9", 8, &v) < 0);
	CHECK(parse_ulong("0", 0, &v) == 0 && v == 0);
	CHECK(parse_ulong("", 10, &v) < 0);
	CHECK(parse_ulong("-1", 10, &v) < 0);
	CHECK(parse_ulong("+1", 10, &v) < 0);
	CHECK(parse_ulong(" 1", 10, &v) < 0);
	CHECK(parse_ulong("1 ", 10, &v) < 0);
	CHECK(parse_ulong("1x", 10, &v) < 0);
	CHECK(parse_ulong("99999999999999999999999999", (unsigned long)-1,
	    &v) < 0);
	CHECK(parse_ulong_n("123abc", 3, 1000, &v) == 0 && v == 123);
	CHECK(parse_ulong_n("123", 0, 1000, &v) < 0);
}

static void
test_netmask(void)
{
	struct netmask m;
	struct netlist l;
	unsigned char a4[4] = { 127, 0, 0, 1 };
	unsigned char b4[4] = { 128, 0, 0, 1 };
	unsigned char a6[16] = { 0 };
	unsigned char mapped[16] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff,127,1,2,3 };
	unsigned char out[16];
	char text[80];

	memset(&l, 0, sizeof(l));
	CHECK(netmask_parse("127.0.0.0/8", &m) == 0 && m.family == 4 &&
	    m.bits == 8);
	netlist_add(&l, &m);
	CHECK(netmask_parse("::1", &m) == 0 && m.family == 6 &&
	    m.bits == 128 && m.addr[15] == 1);
	netlist_add(&l, &m);
	CHECK(netlist_match(&l, 4, a4));
	CHECK(!netlist_match(&l, 4, b4));
	a6[15] = 1;
	CHECK(netlist_match(&l, 6, a6));
	a6[15] = 2;
	CHECK(!netlist_match(&l, 6, a6));
	CHECK(netlist_match(&l, 6, mapped));
	netlist_free(&l);

	CHECK(netmask_parse("10.1.2.3/33", &m) < 0);
	CHECK(netmask_parse("10.1.2/8", &m) < 0);
	CHECK(netmask_parse("256.1.1.1", &m) < 0);
	CHECK(netmask_parse("1.2.3.4.5", &m) < 0);
	CHECK(netmask_parse("1.2.3.4/", &m) < 0);
	CHECK(netmask_parse("1.2.3.4/-1", &m) < 0);
	CHECK(netmask_parse("0x7f.0.0.1", &m) < 0);
	CHECK(netmask_parse("", &m) < 0);
	CHECK(netmask_parse("fe80::/10", &m) == 0 && m.bits == 10 &&
	    m.addr[0] == 0xfe && m.addr[1] == 0x80);
	CHECK(netmask_parse("1:2:3:4:5:6:7:8", &m) == 0 && m.addr[15] == 8);
	CHECK(netmask_parse("1:2:3:4:5:6:7:8:9", &m) < 0);
	CHECK(netmask_parse("1::2::3", &m) < 0);
	CHECK(netmask_parse("1:2:3", &m) < 0);
	CHECK(netmask_parse("::ffff:10.0.0.1", &m) == 0 &&
	    m.addr[10] == 0xff && m.addr[12] == 10 && m.addr[15] == 1);
	CHECK(netmask_parse("12345::", &m) < 0);
	CHECK(netmask_parse("::/129", &m) < 0);
	CHECK(netmask_parse("1:", &m) < 0);

	CHECK(netmask_parse("192.168.0.0/16", &m) == 0);
	netmask_format(&m, text, sizeof(text));
	CHECK(strcmp(text, "192.168.0.0/16") == 0);
	CHECK(netmask_parse("::1", &m) == 0);
	netmask_format(&m, text, sizeof(text));
	CHECK(strcmp(text, "::1") == 0);
	CHECK(netmask_parse(text, &m) == 0 && m.addr[15] == 1);
	{
		/* RFC 5952 4.2: the longest zero run, the first of equals;
		 * one zero group alone is not compressed */
		static const struct {
			const char *in, *out;
		} v6[] = {
			{ "::", "::" },
			{ "2001:db8::1", "2001:db8::1" },
			{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
			{ "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },
			{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
			{ "1::", "1::" },
			{ "fe80::/10", "fe80::/10" },
			{ "::ffff:0:0/96", "::ffff:0:0/96" }
		};
		size_t k;

		for (k = 0; k < sizeof(v6) / sizeof(v6[0]); k++) {
			CHECK(netmask_parse(v6[k].in, &m) == 0);
			netmask_format(&m, text, sizeof(text));
			if (strcmp(text, v6[k].out) != 0) {
				CHECK(!"netmask_format RFC 5952");
				fprintf(stderr, "  %s gives %s\n", v6[k].in,
				    text);
			}
		}
	}

	CHECK(ipaddr_parse("10.0.0.1", out) == 4 && out[0] == 10);
	CHECK(ipaddr_parse("::2", out) == 6 && out[15] == 2);
	CHECK(ipaddr_parse("example.org", out) < 0);
}

static void
test_case(void)
{
	struct strlist l;

	CHECK(ascii_casecmp("Example.ORG", "example.org") == 0);
	CHECK(ascii_casecmp("a", "b") < 0);
	CHECK(ascii_casecmp("ab", "a") > 0);
	CHECK(ascii_ncasecmp("NOOPX", "noop", 4) == 0);
	CHECK(ascii_ncasecmp("NO", "noop", 4) != 0);
	memset(&l, 0, sizeof(l));
	strlist_add(&l, "LocalHost");
	CHECK(strlist_has_nocase(&l, "localhost"));
	CHECK(!strlist_has_nocase(&l, "localhost."));
	strlist_free(&l);
	CHECK(l.n == 0);
}

static void
test_ms(void)
{
	CHECK(ms_before(1UL, 2UL));
	CHECK(!ms_before(2UL, 1UL));
	/* wrap-around: just before the wrap is before just after it */
	CHECK(ms_before((unsigned long)-5, 3UL));
	CHECK(!ms_before(3UL, (unsigned long)-5));
}

int
main(void)
{
	test_parse_ulong();
	test_netmask();
	test_case();
	test_ms();
	return check_exit("test_util");
}

/*
 * test_md5.c - unit tests of src/md5.c against the published vectors:
 * RFC 1321 A.5, the million-'a' digest, RFC 2104 and RFC 2202 HMAC-MD5,
 * the RFC 2195 CRAM-MD5 and RFC 1939 APOP examples.
 */
#include "yubin.h"

#include <string.h>

#include "check.h"
#include "md5.h"

/* The hex digest of len bytes of s, in a static buffer. */
static const char *
md5_of(const void *s, size_t len)
{
	static char hex[MD5_HEX_LEN + 1];
	struct md5_ctx ctx;
	unsigned char d[MD5_DIGEST_LEN];

	md5_init(&ctx);
	md5_update(&ctx, s, len);
	md5_final(&ctx, d);
	md5_hex(d, hex);
	return hex;
}

static const char *
hmac_of(const void *key, size_t keylen, const void *msg, size_t msglen)
{
	static char hex[MD5_HEX_LEN + 1];
	unsigned char d[MD5_DIGEST_LEN];

	hmac_md5(key, keylen, msg, msglen, d);
	md5_hex(d, hex);
	return hex;
}

static void
test_rfc1321(void)
{
	static const struct {
		const char *in, *md5;
	} v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz",
		    "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789", "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890"
		    "1234567890123456789012345678901234567890",
		    "57edf4a22be3c955ac49da2e2107b67a" }
	};
	size_t i;

	for (i = 0; i < NELEM(v); i++)
		CHECK(strcmp(md5_of(v[i].in, strlen(v[i].in)), v[i].md5) == 0);
}

static void
test_million(void)
{
	struct md5_ctx ctx;
	unsigned char block[1000], d[MD5_DIGEST_LEN];
	char hex[MD5_HEX_LEN + 1];
	int i;

	memset(block, 'a', sizeof(block));
	md5_init(&ctx);
	for (i = 0; i < 1000; i++)
		md5_update(&ctx, block, sizeof(block));
	md5_final(&ctx, d);
	md5_hex(d, hex);
	CHECK(strcmp(hex, "7707d6ae4e027c70eea2a935c2296f21") == 0);

	/* the same in odd-sized pieces, crossing block edges unevenly */
	md5_init(&ctx);
	for (i = 0; i < 1000000 / 7; i++)
		md5_update(&ctx, block, 7);
	md5_update(&ctx, block, 1000000 % 7);
	md5_final(&ctx, d);
	md5_hex(d, hex);
	CHECK(strcmp(hex, "7707d6ae4e027c70eea2a935c2296f21") == 0);
}

/*
 * Split one 80-byte string (more than a block) at every offset, and in
 * three pieces at every pair of offsets, and feed it from an odd address
 * so that nothing may assume alignment.
 */
static void
test_incremental(void)
{
	static const char s[] = "1234567890123456789012345678901234567890"
	    "1234567890123456789012345678901234567890";
	static const char want[] = "57edf4a22be3c955ac49da2e2107b67a";
	char shifted[sizeof(s) + 1];
	const char *p = shifted + 1;
	struct md5_ctx ctx;
	unsigned char d[MD5_DIGEST_LEN];
	char hex[MD5_HEX_LEN + 1];
	size_t len = sizeof(s) - 1, i, j;
	int bad = 0;

	memcpy(shifted + 1, s, sizeof(s));
	for (i = 0; i <= len; i++) {
		md5_init(&ctx);
		md5_update(&ctx, p, i);
		md5_update(&ctx, p + i, len - i);
		md5_final(&ctx, d);
		md5_hex(d, hex);
		CHECK(strcmp(hex, want) == 0);
	}
	for (i = 0; i <= len; i++)
		for (j = i; j <= len; j++) {
			md5_init(&ctx);
			md5_update(&ctx, p, i);
			md5_update(&ctx, p + i, j - i);
			md5_update(&ctx, p + j, len - j);
			md5_final(&ctx, d);
			md5_hex(d, hex);
			if (strcmp(hex, want) != 0)
				bad++;
		}
	CHECK(bad == 0);
	/* a zero-length update from a null pointer is harmless */
	md5_init(&ctx);
	md5_update(&ctx, NULL, 0);
	md5_final(&ctx, d);
	md5_hex(d, hex);
	CHECK(strcmp(hex, "d41d8cd98f00b204e9800998ecf8427e") == 0);
}

/* Lengths around the padding edge: 55 fits one block, 56 needs two. */
static void
test_padding_edges(void)
{
	unsigned char a[130];

	memset(a, 'a', sizeof(a));
	CHECK(strcmp(md5_of(a, 55), "ef1772b6dff9a122358552954ad0df65") == 0);
	CHECK(strcmp(md5_of(a, 56), "3b0c8ac703f828b04c6c197006d17218") == 0);
	CHECK(strcmp(md5_of(a, 63), "b06521f39153d618550606be297466d5") == 0);
	CHECK(strcmp(md5_of(a, 64), "014842d480b571495a4a0363793f7367") == 0);
	CHECK(strcmp(md5_of(a, 65), "c743a45e0d2e6a95cb859adae0248435") == 0);
	CHECK(strcmp(md5_of(a, 128), "e510683b3f5ffe4093d021808bc6ff70") == 0);
}

/*
 * The byte count carries into its high word after 4 GB, too much to hash
 * in a test: start the count just below the carry instead.
 */
static void
test_count_carry(void)
{
	struct md5_ctx ctx;
	unsigned char z[20];

	memset(z, 0, sizeof(z));
	md5_init(&ctx);
	ctx.count[0] = 0xffffffc0UL;	/* a block edge, 64 short of 2^32 */
	md5_update(&ctx, z, 20);
	CHECK(ctx.count[0] == 0xffffffd4UL && ctx.count[1] == 0);
	md5_update(&ctx, z, 20);
	md5_update(&ctx, z, 20);
	md5_update(&ctx, z, 20);
	CHECK(ctx.count[0] == 16 && ctx.count[1] == 1);
	md5_update(&ctx, z, 20);
	CHECK(ctx.count[0] == 36 && ctx.count[1] == 1);
}

static void
test_hmac(void)
{
	unsigned char k[80], m[50], hk[MD5_DIGEST_LEN];
	char h65[MD5_HEX_LEN + 1];
	struct md5_ctx ctx;
	int i;

	/* RFC 2104 appendix and RFC 2202 section 2, test case 1 */
	memset(k, 0x0b, 16);
	CHECK(strcmp(hmac_of(k, 16, "Hi There", 8),
	    "9294727a3638bb1c13f48ef8158bfc9d") == 0);
	/* RFC 2104 and RFC 2202, test case 2 */
	CHECK(strcmp(hmac_of("Jefe", 4, "what do ya want for nothing?", 28),
	    "750c783e6ab0b503eaa86e310a5db738") == 0);
	/* RFC 2104 and RFC 2202, test case 3 */
	memset(k, 0xaa, 16);
	memset(m, 0xdd, 50);
	CHECK(strcmp(hmac_of(k, 16, m, 50),
	    "56be34521d144c88dbb8c733f0e8b3f6") == 0);
	/* RFC 2202 test case 4: key 0x01..0x19 */
	for (i = 0; i < 25; i++)
		k[i] = (unsigned char)(i + 1);
	memset(m, 0xcd, 50);
	CHECK(strcmp(hmac_of(k, 25, m, 50),
	    "697eaf0aca3a3aea3a75164746ffaa79") == 0);
	/* RFC 2202 test case 5 (the full digest, before truncation) */
	memset(k, 0x0c, 16);
	CHECK(strcmp(hmac_of(k, 16, "Test With Truncation", 20),
	    "56461ef2342edc00f9bab995690efd4c") == 0);
	/* RFC 2202 test cases 6 and 7: keys longer than a block */
	memset(k, 0xaa, 80);
	CHECK(strcmp(hmac_of(k, 80,
	    "Test Using Larger Than Block-Size Key - Hash Key First", 54),
	    "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd") == 0);
	CHECK(strcmp(hmac_of(k, 80,
	    "Test Using Larger Than Block-Size Key and Larger "
	    "Than One Block-Size Data", 73),
	    "6f630fad67cda0ee1fb1f562db3aa53e") == 0);

	/* an empty message may be a null pointer */
	memset(k, 'k', 65);
	strcpy(h65, hmac_of(k, 64, "", 0));
	CHECK(strcmp(h65, hmac_of(k, 64, NULL, 0)) == 0);
	CHECK(strcmp(h65, "114eeb1da42af605666663c84c40d185") == 0);
	/* a 65-byte key is the same as its MD5 digest as the key */
	strcpy(h65, hmac_of(k, 65, "x", 1));
	md5_init(&ctx);
	md5_update(&ctx, k, 65);
	md5_final(&ctx, hk);
	CHECK(strcmp(h65, hmac_of(hk, sizeof(hk), "x", 1)) == 0);
}

/* RFC 2195 section 2: the CRAM-MD5 example. */
static void
test_cram_md5(void)
{
	static const char chal[] = "<1896.697170952@postoffice.reston.mci.net>";
	static const char secret[] = "tanstaaftanstaaf";

	CHECK(strcmp(hmac_of(secret, strlen(secret), chal, strlen(chal)),
	    "b913a602c7eda7a495b4e6e7334d3890") == 0);
}

/* RFC 1939 section 7: the APOP example, digest of timestamp + secret. */
static void
test_apop(void)
{
	static const char ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	struct md5_ctx ctx;
	unsigned char d[MD5_DIGEST_LEN];
	char hex[MD5_HEX_LEN + 1];

	md5_init(&ctx);
	md5_update(&ctx, ts, strlen(ts));
	md5_update(&ctx, "tanstaaf", 8);
	md5_final(&ctx, d);
	md5_hex(d, hex);
	CHECK(strcmp(hex, "c4c9334bac560ecc979e58001b3e22fb") == 0);
	CHECK(md5_hex_equal(hex, "c4c9334bac560ecc979e58001b3e22fb"));
	CHECK(md5_hex_equal(hex, "C4C9334BAC560ECC979E58001B3E22FB"));
}

static void
test_hex_equal(void)
{
	static const char d[] = "0123456789abcdef0123456789abcdef";

	CHECK(md5_hex_equal(d, d));
	CHECK(md5_hex_equal(d, "0123456789ABCDEF0123456789abcdef"));
	CHECK(md5_hex_equal("0123456789ABCDEF0123456789ABCDEF", d));
	/* a difference at either end, or in the middle */
	CHECK(!md5_hex_equal(d, "1123456789abcdef0123456789abcdef"));
	CHECK(!md5_hex_equal(d, "0123456789abcdef0123456789abcdee"));
	CHECK(!md5_hex_equal(d, "0123456789abcdef1123456789abcdef"));
	/* wrong lengths */
	CHECK(!md5_hex_equal(d, ""));
	CHECK(!md5_hex_equal(d, "0123456789abcdef0123456789abcde"));
	CHECK(!md5_hex_equal(d, "0123456789abcdef0123456789abcdef0"));
	CHECK(!md5_hex_equal("", ""));
	CHECK(!md5_hex_equal(d, NULL));
	CHECK(!md5_hex_equal(NULL, d));
	/*
	 * Not hex, even where folding case would make them match: 0x10|0x20
	 * is '0', 'G'|0x20 is 'g', and a space is 0x20 itself.
	 */
	CHECK(!md5_hex_equal("g123456789abcdef0123456789abcdef",
	    "G123456789abcdef0123456789abcdef"));
	CHECK(!md5_hex_equal(d, "\020123456789abcdef0123456789abcdef"));
	CHECK(!md5_hex_equal("                                ",
	    "                                "));
	CHECK(!md5_hex_equal(d, "0123456789abcdef0123456789abcde\346"));
}

int
main(void)
{
	test_rfc1321();
	test_million();
	test_incremental();
	test_padding_edges();
	test_count_carry();
	test_hmac();
	test_cram_md5();
	test_apop();
	test_hex_equal();
	return check_exit("test_md5");
}

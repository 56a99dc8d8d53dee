/*
 * test_base64.c - unit tests of src/base64.c: the RFC 4648 section 10
 * vectors both ways, binary round trips, the strict decoder's refusals
 * and the RFC 4616 PLAIN example.
 */
#include "yubin.h"

#include <string.h>

#include "check.h"
#include "base64.h"

/* Decode a NUL-terminated string; -1 or the decoded length. */
static long
dec(const char *s, unsigned char *out, size_t outlen)
{
	size_t n;

	if (base64_decode(s, strlen(s), out, outlen, &n) < 0)
		return -1;
	return (long)n;
}

static void
test_rfc4648(void)
{
	static const struct {
		const char *plain, *b64;
	} v[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" }
	};
	char enc[16];
	unsigned char raw[16];
	size_t i, len;

	for (i = 0; i < NELEM(v); i++) {
		len = strlen(v[i].plain);
		CHECK(base64_encode((const unsigned char *)v[i].plain, len,
		    enc, sizeof(enc)) == strlen(v[i].b64));
		CHECK(strcmp(enc, v[i].b64) == 0);
		CHECK(BASE64_ENCODED_LEN(len) == strlen(v[i].b64));
		CHECK(dec(v[i].b64, raw, sizeof(raw)) == (long)len);
		CHECK(memcmp(raw, v[i].plain, len) == 0);
	}
	/* the alphabet's last two characters, and all bits set */
	CHECK(base64_encode((const unsigned char *)"\373\377\377", 3, enc,
	    sizeof(enc)) == 4 && strcmp(enc, "+///") == 0);
	CHECK(dec("+///", raw, sizeof(raw)) == 3 && raw[0] == 0xfb &&
	    raw[1] == 0xff && raw[2] == 0xff);
}

/* Every length 0..300 of bytes covering all 256 values, both ways. */
static void
test_round_trip(void)
{
	unsigned char in[300], back[300];
	char enc[BASE64_ENCODED_LEN(300) + 1];
	size_t len, n, i;
	int bad = 0;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)((i * 167 + 13) & 0xff);
	for (len = 0; len <= sizeof(in); len++) {
		n = base64_encode(in, len, enc, BASE64_ENCODED_LEN(len) + 1);
		if (n != BASE64_ENCODED_LEN(len) || strlen(enc) != n)
			bad++;
		/* one byte short of room for the NUL is refused */
		if (base64_encode(in, len, enc, BASE64_ENCODED_LEN(len)) !=
		    (size_t)-1)
			bad++;
		n = base64_encode(in, len, enc, sizeof(enc));
		/* decode into a buffer of exactly the right size */
		if (base64_decode(enc, n, back, len, &n) < 0 || n != len ||
		    memcmp(back, in, len) != 0)
			bad++;
		/* and one byte too small */
		if (len > 0 && base64_decode(enc, strlen(enc), back, len - 1,
		    &n) != -1)
			bad++;
	}
	CHECK(bad == 0);
}

static void
test_rejects(void)
{
	unsigned char raw[64];
	char enc[16];
	size_t n;

	/* characters outside the alphabet, whitespace included */
	CHECK(dec("Zm9v!mFy", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm9v YmF", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm9vYmF\n", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm9-", raw, sizeof(raw)) == -1);	/* base64url */
	CHECK(dec("Zm9_", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm9\200", raw, sizeof(raw)) == -1);
	CHECK(base64_decode("Zm\0v", 4, raw, sizeof(raw), &n) == -1);
	/* '=' in the middle */
	CHECK(dec("Zg==Zm9v", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm=v", raw, sizeof(raw)) == -1);
	CHECK(dec("Z=9v", raw, sizeof(raw)) == -1);
	CHECK(dec("=m9v", raw, sizeof(raw)) == -1);
	/* wrong padding */
	CHECK(dec("Z===", raw, sizeof(raw)) == -1);
	CHECK(dec("====", raw, sizeof(raw)) == -1);
	CHECK(dec("Zg=A", raw, sizeof(raw)) == -1);
	/* SASL's empty response: the caller's business, not ours */
	CHECK(dec("=", raw, sizeof(raw)) == -1);
	CHECK(dec("==", raw, sizeof(raw)) == -1);
	/* non-zero bits under the padding (RFC 4648 section 3.5) */
	CHECK(dec("Zh==", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm9=", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm8=", raw, sizeof(raw)) == 2);
	/* length not a multiple of 4 */
	CHECK(dec("Zg", raw, sizeof(raw)) == -1);
	CHECK(dec("Zg=", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm9vY", raw, sizeof(raw)) == -1);
	CHECK(dec("Zm9vYmFy=", raw, sizeof(raw)) == -1);
	/* output buffer too small, and nothing written past it */
	memset(raw, 0x55, sizeof(raw));
	CHECK(dec("Zm9vYmFy", raw, 5) == -1);
	CHECK(raw[5] == 0x55);
	CHECK(dec("Zm9vYmE=", raw, 4) == -1);
	CHECK(raw[4] == 0x55);
	CHECK(dec("Zm9vYmE=", raw, 5) == 5);
	CHECK(raw[5] == 0x55);
	CHECK(dec("Zg==", NULL, 0) == -1);
	/* the empty string needs no room at all */
	CHECK(base64_decode("", 0, NULL, 0, &n) == 0 && n == 0);
	CHECK(base64_decode("", 0, NULL, 0, NULL) == 0);
	/* a counted string: what follows len is not looked at */
	CHECK(base64_decode("Zg==garbage", 4, raw, sizeof(raw), &n) == 0 &&
	    n == 1 && raw[0] == 'f');

	/* encoding into too little room: "" rather than a truncation */
	CHECK(base64_encode((const unsigned char *)"foobar", 6, enc, 8) ==
	    (size_t)-1 && enc[0] == '\0');
	CHECK(base64_encode((const unsigned char *)"foobar", 6, enc, 9) == 8 &&
	    strcmp(enc, "Zm9vYmFy") == 0);
	CHECK(base64_encode((const unsigned char *)"", 0, enc, 1) == 0 &&
	    enc[0] == '\0');
	CHECK(base64_encode((const unsigned char *)"", 0, NULL, 0) ==
	    (size_t)-1);
	CHECK(BASE64_DECODED_MAX(8) == 6);
}

/* RFC 4616 section 4: authzid empty, authcid "tim", password. */
static void
test_plain(void)
{
	static const char want[] = "\0tim\0tanstaaftanstaaf";
	unsigned char raw[64];
	char enc[64];

	CHECK(dec("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", raw, sizeof(raw)) ==
	    (long)(sizeof(want) - 1));
	CHECK(memcmp(raw, want, sizeof(want) - 1) == 0);
	CHECK(base64_encode((const unsigned char *)want, sizeof(want) - 1,
	    enc, sizeof(enc)) == 28);
	CHECK(strcmp(enc, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm") == 0);
}

int
main(void)
{
	test_rfc4648();
	test_round_trip();
	test_rejects();
	test_plain();
	return check_exit("test_base64");
}

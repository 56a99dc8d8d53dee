/*
 * md5.c - MD5 (RFC 1321), HMAC-MD5 (RFC 2104) and a constant-time
 * comparison of hex digests, for APOP and CRAM-MD5.
 *
 * Portability: words are md5_u32, which may be wider than 32 bits (see
 * md5.h), so every addition and left shift is masked with T32().  Bytes
 * are packed into words and back one at a time (little-endian, as RFC
 * 1321 says): no casts of byte buffers to word pointers, so neither the
 * host's byte order nor its alignment rules matter.  Nothing here
 * allocates or does I/O.
 */
#include "yubin.h"

#include <string.h>

#include "md5.h"

#define T32(x)		((x) & 0xffffffffUL)
#define ROTL(x, n)	T32(((x) << (n)) | (T32(x) >> (32 - (n))))

/* The four auxiliary functions of RFC 1321 section 3.4. */
#define F(x, y, z)	(((x) & (y)) | (~(x) & (z)))
#define G(x, y, z)	(((x) & (z)) | ((y) & ~(z)))
#define H(x, y, z)	((x) ^ (y) ^ (z))
#define I(x, y, z)	((y) ^ ((x) | T32(~(z))))

/*
 * One step: a = b + ((a + f(b,c,d) + x + t) <<< s).  ~ on a wide word sets
 * the high bits; the T32() before the rotate drops them again.
 */
#define STEP(f, a, b, c, d, x, t, s) do {				\
	(a) = T32((a) + f((b), (c), (d)) + (x) + (md5_u32)(t));	\
	(a) = T32(ROTL((a), (s)) + (b));				\
} while (0)

static md5_u32
get_le32(const unsigned char *p)
{
	return (md5_u32)p[0] | ((md5_u32)p[1] << 8) |
	    ((md5_u32)p[2] << 16) | ((md5_u32)p[3] << 24);
}

static void
put_le32(unsigned char *p, md5_u32 v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
	p[2] = (unsigned char)((v >> 16) & 0xff);
	p[3] = (unsigned char)((v >> 24) & 0xff);
}

/*
 * memset() of memory about to die may be optimised away; a write through
 * a volatile pointer may not.  Used on keys and hash state.
 */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* RFC 1321 section 3.4: process one 64-byte block. */
static void
md5_block(md5_u32 state[4], const unsigned char *block)
{
	md5_u32 a, b, c, d, x[16];
	int i;

	for (i = 0; i < 16; i++)
		x[i] = get_le32(block + 4 * i);
	a = state[0];
	b = state[1];
	c = state[2];
	d = state[3];

	STEP(F, a, b, c, d, x[ 0], 0xd76aa478UL,  7);
	STEP(F, d, a, b, c, x[ 1], 0xe8c7b756UL, 12);
	STEP(F, c, d, a, b, x[ 2], 0x242070dbUL, 17);
	STEP(F, b, c, d, a, x[ 3], 0xc1bdceeeUL, 22);
	STEP(F, a, b, c, d, x[ 4], 0xf57c0fafUL,  7);
	STEP(F, d, a, b, c, x[ 5], 0x4787c62aUL, 12);
	STEP(F, c, d, a, b, x[ 6], 0xa8304613UL, 17);
	STEP(F, b, c, d, a, x[ 7], 0xfd469501UL, 22);
	STEP(F, a, b, c, d, x[ 8], 0x698098d8UL,  7);
	STEP(F, d, a, b, c, x[ 9], 0x8b44f7afUL, 12);
	STEP(F, c, d, a, b, x[10], 0xffff5bb1UL, 17);
	STEP(F, b, c, d, a, x[11], 0x895cd7beUL, 22);
	STEP(F, a, b, c, d, x[12], 0x6b901122UL,  7);
	STEP(F, d, a, b, c, x[13], 0xfd987193UL, 12);
	STEP(F, c, d, a, b, x[14], 0xa679438eUL, 17);
	STEP(F, b, c, d, a, x[15], 0x49b40821UL, 22);

	STEP(G, a, b, c, d, x[ 1], 0xf61e2562UL,  5);
	STEP(G, d, a, b, c, x[ 6], 0xc040b340UL,  9);
	STEP(G, c, d, a, b, x[11], 0x265e5a51UL, 14);
	STEP(G, b, c, d, a, x[ 0], 0xe9b6c7aaUL, 20);
	STEP(G, a, b, c, d, x[ 5], 0xd62f105dUL,  5);
	STEP(G, d, a, b, c, x[10], 0x02441453UL,  9);
	STEP(G, c, d, a, b, x[15], 0xd8a1e681UL, 14);
	STEP(G, b, c, d, a, x[ 4], 0xe7d3fbc8UL, 20);
	STEP(G, a, b, c, d, x[ 9], 0x21e1cde6UL,  5);
	STEP(G, d, a, b, c, x[14], 0xc33707d6UL,  9);
	STEP(G, c, d, a, b, x[ 3], 0xf4d50d87UL, 14);
	STEP(G, b, c, d, a, x[ 8], 0x455a14edUL, 20);
	STEP(G, a, b, c, d, x[13], 0xa9e3e905UL,  5);
	STEP(G, d, a, b, c, x[ 2], 0xfcefa3f8UL,  9);
	STEP(G, c, d, a, b, x[ 7], 0x676f02d9UL, 14);
	STEP(G, b, c, d, a, x[12], 0x8d2a4c8aUL, 20);

	STEP(H, a, b, c, d, x[ 5], 0xfffa3942UL,  4);
	STEP(H, d, a, b, c, x[ 8], 0x8771f681UL, 11);
	STEP(H, c, d, a, b, x[11], 0x6d9d6122UL, 16);
	STEP(H, b, c, d, a, x[14], 0xfde5380cUL, 23);
	STEP(H, a, b, c, d, x[ 1], 0xa4beea44UL,  4);
	STEP(H, d, a, b, c, x[ 4], 0x4bdecfa9UL, 11);
	STEP(H, c, d, a, b, x[ 7], 0xf6bb4b60UL, 16);
	STEP(H, b, c, d, a, x[10], 0xbebfbc70UL, 23);
	STEP(H, a, b, c, d, x[13], 0x289b7ec6UL,  4);
	STEP(H, d, a, b, c, x[ 0], 0xeaa127faUL, 11);
	STEP(H, c, d, a, b, x[ 3], 0xd4ef3085UL, 16);
	STEP(H, b, c, d, a, x[ 6], 0x04881d05UL, 23);
	STEP(H, a, b, c, d, x[ 9], 0xd9d4d039UL,  4);
	STEP(H, d, a, b, c, x[12], 0xe6db99e5UL, 11);
	STEP(H, c, d, a, b, x[15], 0x1fa27cf8UL, 16);
	STEP(H, b, c, d, a, x[ 2], 0xc4ac5665UL, 23);

	STEP(I, a, b, c, d, x[ 0], 0xf4292244UL,  6);
	STEP(I, d, a, b, c, x[ 7], 0x432aff97UL, 10);
	STEP(I, c, d, a, b, x[14], 0xab9423a7UL, 15);
	STEP(I, b, c, d, a, x[ 5], 0xfc93a039UL, 21);
	STEP(I, a, b, c, d, x[12], 0x655b59c3UL,  6);
	STEP(I, d, a, b, c, x[ 3], 0x8f0ccc92UL, 10);
	STEP(I, c, d, a, b, x[10], 0xffeff47dUL, 15);
	STEP(I, b, c, d, a, x[ 1], 0x85845dd1UL, 21);
	STEP(I, a, b, c, d, x[ 8], 0x6fa87e4fUL,  6);
	STEP(I, d, a, b, c, x[15], 0xfe2ce6e0UL, 10);
	STEP(I, c, d, a, b, x[ 6], 0xa3014314UL, 15);
	STEP(I, b, c, d, a, x[13], 0x4e0811a1UL, 21);
	STEP(I, a, b, c, d, x[ 4], 0xf7537e82UL,  6);
	STEP(I, d, a, b, c, x[11], 0xbd3af235UL, 10);
	STEP(I, c, d, a, b, x[ 2], 0x2ad7d2bbUL, 15);
	STEP(I, b, c, d, a, x[ 9], 0xeb86d391UL, 21);

	state[0] = T32(state[0] + a);
	state[1] = T32(state[1] + b);
	state[2] = T32(state[2] + c);
	state[3] = T32(state[3] + d);
	/* the message words may be a password (APOP): leave no copy */
	wipe(x, sizeof(x));
}

void
md5_init(struct md5_ctx *ctx)
{
	ctx->state[0] = 0x67452301UL;
	ctx->state[1] = 0xefcdab89UL;
	ctx->state[2] = 0x98badcfeUL;
	ctx->state[3] = 0x10325476UL;
	ctx->count[0] = 0;
	ctx->count[1] = 0;
}

void
md5_update(struct md5_ctx *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t have, need;
	md5_u32 lo;

	/* memcpy() from a null pointer is undefined even for 0 bytes */
	if (len == 0)
		return;
	have = (size_t)(ctx->count[0] & (MD5_BLOCK_LEN - 1));
	/*
	 * A 64-bit byte count in two words.  size_t may be 32 or 64 bits:
	 * shifting it right by 32 at once is undefined when it is 32, so the
	 * high part is taken in two shifts of 16.
	 */
	lo = T32(ctx->count[0] + (md5_u32)(len & 0xffffffffUL));
	if (lo < ctx->count[0])
		ctx->count[1] = T32(ctx->count[1] + 1);
	ctx->count[0] = lo;
	ctx->count[1] = T32(ctx->count[1] +
	    (md5_u32)((len >> 16 >> 16) & 0xffffffffUL));

	if (have > 0) {
		need = MD5_BLOCK_LEN - have;
		if (len < need) {
			memcpy(ctx->buf + have, p, len);
			return;
		}
		memcpy(ctx->buf + have, p, need);
		md5_block(ctx->state, ctx->buf);
		p += need;
		len -= need;
	}
	/* whole blocks straight from the caller's bytes, aligned or not */
	while (len >= MD5_BLOCK_LEN) {
		md5_block(ctx->state, p);
		p += MD5_BLOCK_LEN;
		len -= MD5_BLOCK_LEN;
	}
	if (len > 0)
		memcpy(ctx->buf, p, len);
}

void
md5_final(struct md5_ctx *ctx, unsigned char digest[MD5_DIGEST_LEN])
{
	static const unsigned char pad[MD5_BLOCK_LEN] = { 0x80 };
	unsigned char bits[8];
	size_t have, padlen;
	int i;

	/* RFC 1321 section 3.2: the length in bits, low word first */
	put_le32(bits, T32(ctx->count[0] << 3));
	put_le32(bits + 4, T32((ctx->count[1] << 3) | (ctx->count[0] >> 29)));

	/* section 3.1: pad to 56 mod 64 with 0x80 then zeros, always >= 1 */
	have = (size_t)(ctx->count[0] & (MD5_BLOCK_LEN - 1));
	padlen = have < 56 ? 56 - have : 120 - have;
	md5_update(ctx, pad, padlen);
	md5_update(ctx, bits, sizeof(bits));

	for (i = 0; i < 4; i++)
		put_le32(digest + 4 * i, ctx->state[i]);
	wipe(ctx, sizeof(*ctx));
}

void
md5_hex(const unsigned char digest[MD5_DIGEST_LEN], char out[MD5_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < MD5_DIGEST_LEN; i++) {
		out[2 * i] = hex[(digest[i] >> 4) & 0x0f];
		out[2 * i + 1] = hex[digest[i] & 0x0f];
	}
	out[MD5_HEX_LEN] = '\0';
}

void
hmac_md5(const unsigned char *key, size_t keylen,
    const unsigned char *msg, size_t msglen,
    unsigned char out[MD5_DIGEST_LEN])
{
	struct md5_ctx ctx;
	unsigned char k[MD5_BLOCK_LEN], pad[MD5_BLOCK_LEN];
	unsigned char inner[MD5_DIGEST_LEN];
	int i;

	/* RFC 2104 section 2: K padded with zeros to B bytes, or H(K) */
	memset(k, 0, sizeof(k));
	if (keylen > MD5_BLOCK_LEN) {
		md5_init(&ctx);
		md5_update(&ctx, key, keylen);
		md5_final(&ctx, k);
	} else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < MD5_BLOCK_LEN; i++)
		pad[i] = (unsigned char)(k[i] ^ 0x36);
	md5_init(&ctx);
	md5_update(&ctx, pad, sizeof(pad));
	md5_update(&ctx, msg, msglen);
	md5_final(&ctx, inner);

	for (i = 0; i < MD5_BLOCK_LEN; i++)
		pad[i] = (unsigned char)(k[i] ^ 0x5c);
	md5_init(&ctx);
	md5_update(&ctx, pad, sizeof(pad));
	md5_update(&ctx, inner, sizeof(inner));
	md5_final(&ctx, out);

	/* the CRAM-MD5 key is the user's password */
	wipe(k, sizeof(k));
	wipe(pad, sizeof(pad));
	wipe(inner, sizeof(inner));
}

/*
 * c folded to lowercase if it is an ASCII letter, and 1 in *bad unless it
 * is a hex digit.  Written with & and | of comparisons rather than && and
 * ||, which would branch on the secret digest's digits.
 */
static unsigned
hex_fold(unsigned c, unsigned *bad)
{
	unsigned lc = c | 0x20;	/* 'A'-'F' to 'a'-'f'; digits unchanged */
	unsigned digit = (unsigned)(c >= '0') & (unsigned)(c <= '9');
	unsigned letter = (unsigned)(lc >= 'a') & (unsigned)(lc <= 'f');

	*bad |= (digit | letter) ^ 1;
	return lc;
}

int
md5_hex_equal(const char *ours, const char *theirs)
{
	unsigned diff, bad;
	int i;

	if (ours == NULL || theirs == NULL)
		return 0;
	/* lengths are not secret: the client knows what it sent */
	if (strlen(ours) != MD5_HEX_LEN || strlen(theirs) != MD5_HEX_LEN)
		return 0;
	diff = 0;
	bad = 0;
	for (i = 0; i < MD5_HEX_LEN; i++)
		diff |= hex_fold((unsigned char)ours[i], &bad) ^
		    hex_fold((unsigned char)theirs[i], &bad);
	return (diff | bad) == 0;
}

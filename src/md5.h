/*
 * md5.h - MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) for APOP (RFC 1939) and
 * CRAM-MD5 (RFC 2195).  MD5 is broken for collisions; it is here only
 * because those protocols name it, never for anything new.
 */
#ifndef YUBIN_MD5_H
#define YUBIN_MD5_H

#include <stddef.h>
#include <limits.h>

/*
 * A type of at least 32 bits, chosen without configure: unsigned int
 * where it is wide enough (ILP32 and LP64), unsigned long otherwise.
 * It may be wider than 32 bits, so md5.c masks every sum and shift.
 */
#if UINT_MAX >= 0xffffffffUL
typedef unsigned int md5_u32;
#else
typedef unsigned long md5_u32;
#endif

#define MD5_DIGEST_LEN	16
#define MD5_HEX_LEN	32	/* md5_hex() output, NUL not counted */
#define MD5_BLOCK_LEN	64

struct md5_ctx {
	md5_u32		state[4];	/* A, B, C, D */
	md5_u32		count[2];	/* bytes hashed: low word, high */
	unsigned char	buf[MD5_BLOCK_LEN];	/* a partial block */
};

void md5_init(struct md5_ctx *ctx);
void md5_update(struct md5_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes ctx; md5_init() it again to reuse it. */
void md5_final(struct md5_ctx *ctx, unsigned char digest[MD5_DIGEST_LEN]);
/* The digest as 32 lowercase hex digits and a NUL. */
void md5_hex(const unsigned char digest[MD5_DIGEST_LEN],
    char out[MD5_HEX_LEN + 1]);

/* RFC 2104 HMAC with MD5; a key longer than 64 bytes is hashed first. */
void hmac_md5(const unsigned char *key, size_t keylen,
    const unsigned char *msg, size_t msglen,
    unsigned char out[MD5_DIGEST_LEN]);

/*
 * Compare our hex digest `ours' with the client's `theirs': 1 if equal,
 * 0 if not.  Both must be NUL-terminated; each must be exactly 32 hex
 * digits or the answer is 0.  Case does not matter (RFC 1939 and 2195 ask
 * the client for lowercase, but upper case costs nothing to accept).
 * It does not stop at the first difference: the time taken depends on
 * the lengths only, so a client cannot learn the expected digest one
 * digit at a time by timing replies.
 */
int md5_hex_equal(const char *ours, const char *theirs);

#endif

/*
 * base64.h - RFC 4648 base64 (the standard alphabet, with padding) for
 * SMTP AUTH and IMAP AUTHENTICATE (RFC 4954, RFC 3501) and the SASL
 * mechanisms PLAIN, LOGIN and CRAM-MD5.
 */
#ifndef YUBIN_BASE64_H
#define YUBIN_BASE64_H

#include <stddef.h>

/*
 * Characters base64_encode() writes for n bytes, the NUL not counted:
 * the output buffer needs BASE64_ENCODED_LEN(n) + 1.  Written without
 * n + 2 so that it cannot wrap for any n that fits in memory.
 */
#define BASE64_ENCODED_LEN(n)	(((n) / 3 + ((n) % 3 != 0)) * 4)
/* The most bytes that n characters of base64 can decode to. */
#define BASE64_DECODED_MAX(n)	((n) / 4 * 3)

/*
 * Encode len bytes of in into out, NUL-terminated.  Returns the number of
 * characters written (not counting the NUL), or (size_t)-1 if out (of
 * outlen bytes, the NUL included) is too small; then out holds "" if
 * outlen > 0, never a truncated encoding.
 */
size_t base64_encode(const unsigned char *in, size_t len, char *out,
    size_t outlen);

/*
 * Strict decoding of len characters of in (no NUL needed) into out, of
 * outlen bytes.  Returns 0 and sets *outlen_ret (if not NULL) to the
 * number of bytes decoded, or -1 on: a character outside the alphabet
 * (space and line breaks included), a length that is not a multiple of 4,
 * '=' anywhere but the last one or two places of the last group, non-zero
 * bits left over before the padding (RFC 4648 section 3.5: only the
 * canonical encoding is accepted, so each byte string has one spelling),
 * or more output than outlen.  On -1 out's contents are unspecified.
 *
 * The empty string decodes to zero bytes.  SASL (RFC 4954 section 4,
 * RFC 3501 section 6.2.2) sends an empty initial response as a lone "=",
 * which this function rejects as bad padding: callers that take initial
 * responses must map "=" to the empty string themselves.
 */
/* The 6-bit value of a base64 character ("+" "/"), or -1 ("=" too). */
int base64_value(int c);
int base64_decode(const char *in, size_t len, unsigned char *out,
    size_t outlen, size_t *outlen_ret);

#endif

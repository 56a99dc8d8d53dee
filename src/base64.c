/*
 * base64.c - RFC 4648 base64 encoding and strict decoding.  Everything it
 * decodes came from a client (often a password), so decoding rejects all
 * that is not the one canonical spelling rather than guessing, and never
 * writes past the caller's buffer.  Nothing here allocates or does I/O.
 */
#include "yubin.h"

#include <string.h>

#include "base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t groups, i, o;
	unsigned long v;

	/*
	 * Compare group counts, not byte counts: 4 * groups could wrap a
	 * size_t for an absurd len, (outlen - 1) / 4 cannot.
	 */
	groups = len / 3 + (len % 3 != 0);
	if (outlen == 0)
		return (size_t)-1;
	if (groups > (outlen - 1) / 4) {
		out[0] = '\0';
		return (size_t)-1;
	}

	o = 0;
	for (i = 0; i + 3 <= len; i += 3) {
		v = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8) | in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = b64_alphabet[v & 0x3f];
	}
	if (len - i == 1) {
		v = (unsigned long)in[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		v = ((unsigned long)in[i] << 16) |
		    ((unsigned long)in[i + 1] << 8);
		out[o++] = b64_alphabet[(v >> 18) & 0x3f];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/*
 * The 6-bit value of a base64 character, or -1.  Ranges rather than a
 * 256-entry table: nothing indexes memory by the (secret) input, and
 * there is no table to get wrong.  '=' is -1 here; the caller handles it.
 */
int
base64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t len, unsigned char *out,
    size_t outlen, size_t *outlen_ret)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i, k, o, pad, need;
	unsigned long v;
	int x;

	if (outlen_ret != NULL)
		*outlen_ret = 0;
	if (len % 4 != 0)
		return -1;
	if (len == 0)
		return 0;

	/* padding may only end the last group: "xx==" or "xxx=" */
	pad = 0;
	if (p[len - 1] == '=') {
		pad = 1;
		if (p[len - 2] == '=')
			pad = 2;
	}
	/* known before anything is written: never a partial overflow */
	need = len / 4 * 3 - pad;
	if (need > outlen)
		return -1;

	o = 0;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + k >= len - pad)
				x = 0;	/* '=' here was checked above */
			else if ((x = base64_value((unsigned char)p[i + k])) < 0)
				return -1;	/* includes a stray '=' */
			v = (v << 6) | (unsigned long)x;
		}
		/* RFC 4648 section 3.5: bits under the padding must be zero */
		if ((pad == 1 && i + 4 == len && (v & 0xff) != 0) ||
		    (pad == 2 && i + 4 == len && (v & 0xffff) != 0))
			return -1;
		out[o++] = (unsigned char)((v >> 16) & 0xff);
		if (o < need)
			out[o++] = (unsigned char)((v >> 8) & 0xff);
		if (o < need)
			out[o++] = (unsigned char)(v & 0xff);
	}
	if (outlen_ret != NULL)
		*outlen_ret = o;
	return 0;
}

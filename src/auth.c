/*
 * auth.c - checking who a client is: passwords, APOP, CRAM-MD5 and the
 * SASL encodings (passwd.c sets the secrets this file checks).
 *
 * Plaintext passwords of system users go through crypt(3) against the
 * shadow (or passwd) entry; users only in yubin's passwd file (virtual
 * and sandbox users) and the challenge-response mechanisms (APOP,
 * CRAM-MD5) use the plain secret stored there, as qpopper's popauth
 * did: those mechanisms need it in the clear on the server.
 *
 * This file must never say, to the client or in any return value, which
 * part of a login failed (no such user, wrong secret, locked account):
 * the reason goes to the log at debug level only.  Every comparison of
 * a secret or digest takes time that depends on lengths only.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SHADOW_H
#include <shadow.h>
#endif
#if defined(HAVE_CRYPT) && defined(HAVE_CRYPT_H)
#include <crypt.h>
#endif

#include "auth.h"
#include "base64.h"
#include "conf.h"
#include "log.h"
#include "md5.h"
#include "user.h"
#include "util.h"


/* Overwrite a secret; volatile so the compiler cannot drop the stores. */
void
auth_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

int
auth_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n, i;
	unsigned int diff;
	unsigned char ca, cb;

	/*
	 * Walk the longer string to its end whatever happens, and fold the
	 * length difference into the result instead of returning early, so
	 * the time says nothing about where (or whether) the strings differ.
	 */
	n = la > lb ? la : lb;
	diff = la != lb;
	for (i = 0; i < n; i++) {
		ca = i < la ? (unsigned char)a[i] : 0;
		cb = i < lb ? (unsigned char)b[i] : 0;
		diff |= (unsigned int)(ca ^ cb);
	}
	return diff == 0;
}

/*
 * name's secret from the passwd file into buf.  On failure buf holds ""
 * so that callers can go on hashing and take the same time for a user
 * who does not exist (RFC 1939 section 13 asks not to reveal that).
 * An empty secret is a locked entry, never a password.
 */
static int
secret_of(const char *name, char *buf, size_t len)
{
	if (!user_name_ok(name)) {
		log_debug("auth: bad user name");
		buf[0] = '\0';
		return -1;
	}
	if (passwd_secret(name, buf, len) < 0 || buf[0] == '\0') {
		log_debug("auth: %s: no secret in %s", name,
		    config->passwd_file);
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* A plaintext password against the passwd file's secret. */
static int
check_secret(const char *name, const char *pass)
{
	char secret[AUTH_SECRET_MAX + 1];
	int have, ok;

	have = secret_of(name, secret, sizeof(secret)) == 0;
	ok = auth_equal(secret, pass);
	auth_wipe(secret, sizeof(secret));
	if (!have)
		return AUTH_FAIL;
	if (!ok)
		log_debug("auth: %s: wrong password", name);
	return ok ? AUTH_OK : AUTH_FAIL;
}

#ifdef HAVE_CRYPT
/*
 * The hash to give crypt(): the shadow entry when there is one and we
 * can read it (we are root at login time), else the passwd field.
 * NULL for a locked or empty one: "" would let anyone in, '*' and '!'
 * mark locked accounts, and "x" left over means the shadow was
 * unreadable.
 */
static const char *
system_hash(const struct passwd *pw)
{
	const char *hash = pw->pw_passwd;
#ifdef HAVE_GETSPNAM
	struct spwd *sp;

	if ((sp = getspnam(pw->pw_name)) != NULL && sp->sp_pwdp != NULL)
		hash = sp->sp_pwdp;
#endif
	if (hash != NULL && strcmp(hash, "x") == 0) {
		static int warned;

		/* A deployment mistake that would otherwise be silent: every
		 * system login fails when we cannot read the shadow file. */
		if (!warned)
			warn("cannot read shadow passwords (not root?)");
		warned = 1;
		return NULL;
	}
	if (hash == NULL || strlen(hash) < 2 || hash[0] == '*' ||
	    hash[0] == '!')
		return NULL;
	return hash;
}

static int
check_system(const struct passwd *pw, const char *pass)
{
	const char *hash, *h;

	if ((hash = system_hash(pw)) == NULL) {
		log_debug("auth: %s: no usable password hash", pw->pw_name);
		return AUTH_FAIL;
	}
	/* crypt() may return NULL or a "*0"-like failure token; neither
	 * can equal a hash that passed system_hash(). */
	if ((h = crypt(pass, hash)) == NULL || !auth_equal(h, hash)) {
		log_debug("auth: %s: wrong password", pw->pw_name);
		return AUTH_FAIL;
	}
	return AUTH_OK;
}
#else
static int
check_system(const struct passwd *pw, const char *pass)
{
	static int warned;

	(void)pass;
	/* Built without crypt(3) (some cross builds have no libcrypt). */
	if (!warned) {
		warn("built without crypt(): system passwords cannot be "
		    "checked");
		warned = 1;
	}
	log_debug("auth: %s: no crypt()", pw->pw_name);
	return AUTH_FAIL;
}
#endif

int
auth_password(const char *name, const char *pass, struct user *u)
{
	struct passwd *pw;
	int r;

	if (!user_name_ok(name)) {
		log_debug("auth: bad user name");
		return AUTH_FAIL;
	}
	if (config->sandbox != NULL)
		r = check_secret(name, pass);
	else if ((pw = getpwnam(name)) != NULL)
		r = check_system(pw, pass);
	else
		r = check_secret(name, pass);	/* a virtual user */
	if (r != AUTH_OK)
		return r;
	if (user_lookup(name, u) < 0) {
		log_debug("auth: %s: user lookup failed", name);
		return AUTH_FAIL;
	}
	return AUTH_OK;
}

/*
 * The end of APOP and CRAM-MD5: ours is the digest we computed (from an
 * empty secret when there was none, so that the work is the same).
 */
static int
digest_result(const char *name, int have, const char *ours,
    const char *theirs, struct user *u)
{
	int ok = md5_hex_equal(ours, theirs);

	if (!have)
		return AUTH_FAIL;
	if (!ok) {
		log_debug("auth: %s: wrong digest", name);
		return AUTH_FAIL;
	}
	if (user_lookup(name, u) < 0) {
		log_debug("auth: %s: user lookup failed", name);
		return AUTH_FAIL;
	}
	return AUTH_OK;
}

int
auth_apop(const char *name, const char *stamp, const char *digest,
    struct user *u)
{
	char secret[AUTH_SECRET_MAX + 1], hex[MD5_HEX_LEN + 1];
	unsigned char d[MD5_DIGEST_LEN];
	struct md5_ctx ctx;
	int have;

	/* RFC 1939 section 7: MD5 of the greeting's timestamp and then
	 * the shared secret, with nothing between them. */
	have = secret_of(name, secret, sizeof(secret)) == 0;
	md5_init(&ctx);
	md5_update(&ctx, stamp, strlen(stamp));
	md5_update(&ctx, secret, strlen(secret));
	md5_final(&ctx, d);
	md5_hex(d, hex);
	auth_wipe(secret, sizeof(secret));
	return digest_result(name, have, hex, digest, u);
}

int
auth_cram(const char *name, const char *challenge, const char *digest,
    struct user *u)
{
	char secret[AUTH_SECRET_MAX + 1], hex[MD5_HEX_LEN + 1];
	unsigned char d[MD5_DIGEST_LEN];
	int have;

	/* RFC 2195 section 2: the secret is the HMAC key, the challenge
	 * (angle brackets included) the text. */
	have = secret_of(name, secret, sizeof(secret)) == 0;
	hmac_md5((const unsigned char *)secret, strlen(secret),
	    (const unsigned char *)challenge, strlen(challenge), d);
	md5_hex(d, hex);
	auth_wipe(secret, sizeof(secret));
	return digest_result(name, have, hex, digest, u);
}

/*
 * Base64 into buf (len bytes, NUL added); *n is the decoded length.
 * A lone "=" is SASL's empty response (RFC 4954 section 4).
 */
static int
sasl_b64(const char *b64, unsigned char *buf, size_t len, size_t *n)
{
	if (len == 0)
		return -1;
	if (strcmp(b64, "=") == 0) {
		*n = 0;
		buf[0] = '\0';
		return 0;
	}
	if (base64_decode(b64, strlen(b64), buf, len - 1, n) < 0) {
		auth_wipe(buf, len);		/* half a password, perhaps */
		return -1;
	}
	buf[*n] = '\0';
	return 0;
}

/* Copy n bytes to a NUL-terminated out of outlen: -1 if they don't fit
 * or hold a line break (they would end the protocol line or a log
 * line early). */
static int
sasl_part(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	size_t i;

	if (n == 0 || n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
sasl_plain(const char *b64, char *user, size_t ulen, char *pass,
    size_t plen)
{
	unsigned char buf[SASL_DECODED_MAX];
	const unsigned char *z1, *z2, *end;
	size_t n, zlen, clen;
	int r = -1;

	/* message = [authzid] NUL authcid NUL passwd (RFC 4616 section 2);
	 * authcid and passwd are 1*SAFE, so "=" (empty) is refused too. */
	if (sasl_b64(b64, buf, sizeof(buf), &n) < 0 || n == 0)
		goto out;
	end = buf + n;
	if ((z1 = memchr(buf, '\0', n)) == NULL ||
	    (z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1))) == NULL ||
	    memchr(z2 + 1, '\0', (size_t)(end - z2 - 1)) != NULL)
		goto out;
	zlen = (size_t)(z1 - buf);
	clen = (size_t)(z2 - z1 - 1);
	/* Acting for another user (authzid) is not something we offer. */
	if (zlen != 0 && (zlen != clen || memcmp(buf, z1 + 1, clen) != 0))
		goto out;
	if (sasl_part(z1 + 1, clen, user, ulen) < 0 ||
	    sasl_part(z2 + 1, (size_t)(end - z2 - 1), pass, plen) < 0)
		goto out;
	r = 0;
out:
	auth_wipe(buf, sizeof(buf));
	if (r < 0 && plen > 0)
		pass[0] = '\0';
	return r;
}

static int
is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

int
sasl_cram_response(const char *b64, char *user, size_t ulen,
    char *digest, size_t dlen)
{
	char buf[USER_NAME_MAX + 1 + MD5_HEX_LEN + 2];
	const char *sp;
	size_t n, i;

	/* RFC 2195 section 2: "user SP digest", the digest 32 lowercase hex
	 * digits; it is the last space, so the user part may hold any. */
	if (sasl_decode(b64, buf, sizeof(buf)) < 0 ||
	    (sp = strrchr(buf, ' ')) == NULL || sp == buf)
		return -1;
	if (strlen(sp + 1) != MD5_HEX_LEN || dlen < MD5_HEX_LEN + 1)
		return -1;
	for (i = 1; i <= MD5_HEX_LEN; i++)
		if (!is_hex((unsigned char)sp[i]))
			return -1;
	n = (size_t)(sp - buf);
	if (sasl_part((const unsigned char *)buf, n, user, ulen) < 0)
		return -1;
	memcpy(digest, sp + 1, MD5_HEX_LEN + 1);
	return 0;
}

int
sasl_decode(const char *b64, char *out, size_t outlen)
{
	size_t n;

	if (sasl_b64(b64, (unsigned char *)out, outlen, &n) < 0)
		return -1;
	/* A NUL inside would cut the string short unseen: "tim\0x" must
	 * not become "tim". */
	if (strlen(out) != n) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
auth_challenge(char *out, size_t len)
{
	static unsigned long counter;
	const char *host;
	int r;

	/*
	 * RFC 1939 section 7 and RFC 2195 section 2: a process id, a clock
	 * and a host name make the stamp unique across hosts and restarts;
	 * the counter makes it unique within one process and second.
	 */
	host = config != NULL && config->hostname != NULL ?
	    config->hostname : "localhost";
	counter++;
	r = snprintf(out, len, "<%ld.%lu.%lu@%s>", (long)getpid(),
	    (unsigned long)time(NULL), counter, host);
	if (r < 0 || (size_t)r >= len) {
		if (len > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int
sasl_mech(const char *name, int plaintext_ok)
{
	if (ascii_casecmp(name, "CRAM-MD5") == 0)
		return MECH_CRAM;
	if (ascii_casecmp(name, "PLAIN") == 0 && plaintext_ok)
		return MECH_PLAIN;
	if (ascii_casecmp(name, "LOGIN") == 0 && plaintext_ok)
		return MECH_LOGIN;
	return 0;
}

int
sasl_first_challenge(int mech, char *challenge, size_t clen, char *b64,
    size_t blen)
{
	if (mech == MECH_LOGIN)
		return strlcpy(b64, "VXNlcm5hbWU6", blen) < blen ? 0 : -1;
	if (mech != MECH_CRAM)
		return strlcpy(b64, "", blen) < blen ? 0 : -1;
	/* RFC 2195 2: the server speaks first */
	if (auth_challenge(challenge, clen) < 0 ||
	    base64_encode((const unsigned char *)challenge, strlen(challenge),
	    b64, blen) == (size_t)-1)
		return -1;
	return 0;
}

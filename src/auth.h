/*
 * auth.h - checking who a client is: passwords (system accounts through
 * getpwnam/getspnam/crypt, and yubin's passwd file), APOP (RFC 1939 7),
 * CRAM-MD5 (RFC 2195), and the SASL encodings of PLAIN (RFC 4616) and
 * LOGIN.  The answer never tells whether a user exists.
 */
#ifndef YUBIN_AUTH_H
#define YUBIN_AUTH_H

#include <stddef.h>

#include "user.h"

#define AUTH_OK		0
#define AUTH_FAIL	1	/* no such user or wrong secret: alike */
#define AUTH_TEMP	2	/* cannot check now (file unreadable ...) */

/*
 * A plaintext password.  System users: crypt() against the shadow or
 * passwd entry; users only in the passwd file (virtual, sandbox): the
 * secret, compared in constant time.  On AUTH_OK *u is filled.
 */
int auth_password(const char *name, const char *pass, struct user *u);
/* APOP: digest is MD5(stamp secret) in hex (RFC 1939 section 7). */
int auth_apop(const char *name, const char *stamp, const char *digest,
    struct user *u);
/* CRAM-MD5: digest is HMAC-MD5(secret, challenge) in hex (RFC 2195). */
int auth_cram(const char *name, const char *challenge, const char *digest,
    struct user *u);
/* Overwrite a secret so that it does not linger in memory. */
void auth_wipe(void *p, size_t n);
/* Compare two strings in time independent of where they differ. */
int auth_equal(const char *a, const char *b);

/*
 * SASL PLAIN (RFC 4616): base64 of [authzid] NUL authcid NUL passwd.
 * An authzid other than empty or the authcid is refused.  0 or -1.
 */
int sasl_plain(const char *b64, char *user, size_t ulen, char *pass,
    size_t plen);
/* The CRAM-MD5 response: base64 of "user SP hexdigest".  0 or -1. */
int sasl_cram_response(const char *b64, char *user, size_t ulen,
    char *digest, size_t dlen);
/* Decode one base64 SASL string (LOGIN's user and password). */
int sasl_decode(const char *b64, char *out, size_t outlen);
/* SASL mechanisms the three protocols offer. */
#define MECH_PLAIN	1	/* RFC 4616 */
#define MECH_LOGIN	2	/* draft-murchison-sasl-login */
#define MECH_CRAM	3	/* RFC 2195 */
/* name (any case) as a MECH_*, or 0 if unknown or not offered here:
 * PLAIN and LOGIN only where plaintext secrets may travel. */
int sasl_mech(const char *name, int plaintext_ok);
/* A challenge "<pid.time.n@host>" for CRAM-MD5 (and APOP). */
int auth_challenge(char *out, size_t len);
/*
 * The first challenge of mech, base64 as it goes after "+ " or "334 ":
 * CRAM-MD5's "<pid.time.n@host>" (kept in challenge for the answer),
 * LOGIN's "Username:", nothing for PLAIN.  0, or -1.
 */
int sasl_first_challenge(int mech, char *challenge, size_t clen, char *b64,
    size_t blen);
/* LOGIN's second challenge, "Password:". */
#define SASL_LOGIN_PASSWORD	"UGFzc3dvcmQ6"

/*
 * yubin-passwd / yubind -P: set name's secret in the passwd file the way
 * qpopper's popauth did.  Reads the secret twice from the terminal
 * (without echo) or once from stdin when it is not a terminal; rewrites
 * the file atomically, mode 0600.  root may set anyone's; others only
 * their own.  Returns an exit status.
 */
int passwd_main(int argc, char **argv);

#endif

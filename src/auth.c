/*
 * auth.c - checking who a client is, and yubin-passwd, which sets the
 * secrets this file checks.
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

/*
 * The longest secret yubin-passwd stores.  popauth and most clients
 * cope with far less; 255 is the longest SASL PLAIN password RFC 4616
 * section 2 asks servers to accept.
 */
#define AUTH_SECRET_MAX		255
/*
 * A decoded SASL PLAIN message: authzid, authcid and password of up to
 * 255 octets each (RFC 4616 section 2) and two NULs, with room to spare.
 */
#define SASL_DECODED_MAX	1024
/* The passwd file is small; anything bigger is not ours. */
#define PASSWD_FILE_MAX		(4UL * 1024 * 1024)

/* sysexits.h values (not in C89 or POSIX.1-1990). */
#define EX_OK		0
#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_NOUSER	67
#define EX_CANTCREAT	73
#define EX_IOERR	74
#define EX_NOPERM	77
#define EX_CONFIG	78

#define PASSWD_PROG	"yubin-passwd"

/* Overwrite a secret; volatile so the compiler cannot drop the stores. */
static void
wipe(void *p, size_t n)
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
	wipe(secret, sizeof(secret));
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
	wipe(secret, sizeof(secret));
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
	wipe(secret, sizeof(secret));
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
		wipe(buf, len);		/* half a password, perhaps */
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
	wipe(buf, sizeof(buf));
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

/* ------------------------------------------------------------------ */
/* yubin-passwd                                                        */
/* ------------------------------------------------------------------ */

struct pwopts {
	const char	*sandbox;	/* -S DIR */
	const char	*conffile;	/* -C FILE */
	const char	*user;		/* NULL: the invoking user */
	int		del;		/* -d */
};

static int
passwd_usage(void)
{
	fprintf(stderr, "usage: %s [-S dir | -C conffile] [-d] [user]\n",
	    PASSWD_PROG);
	return EX_USAGE;
}

static int
passwd_args(int argc, char **argv, struct pwopts *o)
{
	const char *a, *v;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-d") == 0) {
			o->del = 1;
			continue;
		}
		if (a[1] != 'S' && a[1] != 'C')
			return -1;
		/* "-S dir" or "-Sdir" */
		if (a[2] != '\0')
			v = a + 2;
		else if (i + 1 < argc)
			v = argv[++i];
		else
			return -1;
		if (a[1] == 'S')
			o->sandbox = v;
		else
			o->conffile = v;
	}
	if (o->sandbox != NULL && o->conffile != NULL)
		return -1;
	if (i < argc)
		o->user = argv[i++];
	return i == argc ? 0 : -1;
}

/*
 * A set-uid yubin-passwd must not write where the caller points it: -S
 * and -C run with the caller's own privileges (as sendmail's -C does),
 * so they can only change files the caller could change anyway.
 */
static int
passwd_drop(const struct pwopts *o)
{
	if (o->sandbox == NULL && o->conffile == NULL)
		return EX_OK;
	if (getgid() == getegid() && getuid() == geteuid())
		return EX_OK;
	if (setgid(getgid()) < 0 || setuid(getuid()) < 0 ||
	    geteuid() != getuid()) {
		fprintf(stderr, "%s: cannot drop privileges: %s\n",
		    PASSWD_PROG, strerror(errno));
		return EX_NOPERM;
	}
	return EX_OK;
}

/* The configuration, found as yubind and sendmail find it.  On success
 * config is the new one (the caller frees it). */
static int
passwd_config(const struct pwopts *o)
{
	char path[1024], sdir[1024], cwd[900];
	struct conf *c;
	int r, errs;

	if (o->sandbox != NULL && o->sandbox[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		r = snprintf(sdir, sizeof(sdir), "%s/%s", cwd, o->sandbox);
	} else
		r = snprintf(sdir, sizeof(sdir), "%s",
		    o->sandbox != NULL ? o->sandbox : "");
	if (r < 0 || (size_t)r >= sizeof(sdir))
		return -1;
	if (o->conffile != NULL)
		r = snprintf(path, sizeof(path), "%s", o->conffile);
	else if (o->sandbox != NULL)
		r = snprintf(path, sizeof(path), "%s/%s", sdir, SANDBOX_CONF);
	else
		r = snprintf(path, sizeof(path), "%s", CONF_FILE);
	if (r < 0 || (size_t)r >= sizeof(path))
		return -1;
	c = conf_new(o->sandbox != NULL ? sdir : NULL);
	errs = conf_read(c, path, o->conffile == NULL);
	errs += conf_finish(c);
	if (errs > 0) {
		conf_free(c);
		return -1;
	}
	config = c;
	return 0;
}

/*
 * Whose secret to set, and may the caller set it?  Real uid 0 may set
 * anyone's, others only their own (the real uid's login name: this may
 * run set-uid).  In a sandbox privileges are already dropped and the
 * file is the caller's own, so any valid name goes.
 */
static int
passwd_who(const struct pwopts *o, char *name, size_t len)
{
	char me[USER_NAME_MAX + 1], secret[AUTH_SECRET_MAX + 1];
	struct passwd *pw;
	int known;

	me[0] = '\0';
	if ((pw = getpwuid(getuid())) != NULL)
		strlcpy(me, pw->pw_name, sizeof(me));
	if (o->user == NULL && me[0] == '\0') {
		fprintf(stderr, "%s: who are you?\n", PASSWD_PROG);
		return EX_NOUSER;
	}
	if (!user_name_ok(o->user != NULL ? o->user : me) ||
	    strlcpy(name, o->user != NULL ? o->user : me, len) >= len) {
		fprintf(stderr, "%s: bad user name\n", PASSWD_PROG);
		return EX_NOUSER;
	}
	if (getuid() != 0 && o->sandbox == NULL && strcmp(me, name) != 0) {
		fprintf(stderr, "%s: permission denied\n", PASSWD_PROG);
		return EX_NOPERM;
	}
	known = o->sandbox != NULL || getpwnam(name) != NULL ||
	    passwd_secret(name, secret, sizeof(secret)) == 0;
	wipe(secret, sizeof(secret));
	if (!known) {
		fprintf(stderr, "%s: %s: no such user\n", PASSWD_PROG, name);
		return EX_NOUSER;
	}
	return EX_OK;
}

/* A new secret must fit the file's "name:secret" line format. */
static int
passwd_check_secret(const char *s, size_t n)
{
	const char *why = NULL;

	if (n == 0)
		why = "empty secret";
	else if (strlen(s) != n)
		why = "the secret contains a NUL";
	else if (n > AUTH_SECRET_MAX)
		why = "secret too long";
	else if (strpbrk(s, ":\r\n") != NULL)
		why = "the secret must not contain ':' or line breaks";
	if (why == NULL)
		return EX_OK;
	fprintf(stderr, "%s: %s\n", PASSWD_PROG, why);
	return EX_DATAERR;
}

/* The secret once from stdin (a pipe or file): all of it, less one
 * trailing newline (CR LF too). */
static int
passwd_stdin(char *buf, size_t len)
{
	size_t n;

	n = fread(buf, 1, len - 1, stdin);
	if (ferror(stdin)) {
		fprintf(stderr, "%s: read error: %s\n", PASSWD_PROG,
		    strerror(errno));
		return EX_IOERR;
	}
	if (n == len - 1 && getc(stdin) != EOF)
		n = len;	/* too long, whatever the rest says */
	else {
		buf[n] = '\0';
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		if (n > 0 && buf[n - 1] == '\r')
			buf[--n] = '\0';
	}
	if (n >= len) {
		buf[0] = '\0';
		fprintf(stderr, "%s: secret too long\n", PASSWD_PROG);
		return EX_DATAERR;
	}
	return passwd_check_secret(buf, n);
}

/*
 * The terminal's settings while echo is off, for the signal handler:
 * a ^C at the prompt must not leave the user's terminal silent.
 */
static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static void
tty_on_signal(int sig)
{
	if (tty_fd >= 0)
		(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	(void)signal(sig, SIG_DFL);
	(void)kill(getpid(), sig);
}

static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* A prompt: nothing to do if it fails (the read tells). */
static void
tty_write(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		return;
}

/* One line from the terminal without echo; *n is its length, or
 * len when it did not fit. */
static int
tty_line(int fd, const char *prompt, char *buf, size_t len, size_t *n)
{
	struct termios t;
	char c;
	ssize_t r;

	tty_write(fd, prompt);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_lflag |= ICANON;
	tty_fd = fd;
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0) {
		tty_fd = -1;
		return -1;
	}
	*n = 0;
	while ((r = read(fd, &c, 1)) == 1 && c != '\n')
		if (*n < len - 1)
			buf[(*n)++] = c;
		else
			*n = len;	/* keep reading to the line's end */
	(void)tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_fd = -1;
	tty_write(fd, "\n");
	if (*n < len)
		buf[*n] = '\0';
	if (*n > 0 && *n < len && buf[*n - 1] == '\r')
		buf[--*n] = '\0';
	return r < 0 ? -1 : 0;
}

/* The secret twice from /dev/tty, as passwd(1) asks. */
static int
passwd_tty(const char *name, char *buf, size_t len)
{
	char again[AUTH_SECRET_MAX + 3], prompt[USER_NAME_MAX + 32];
	void (*old[NELEM(tty_signals)])(int);
	size_t n = 0, n2 = 0, i;
	int fd, r = EX_IOERR;

	if ((fd = open("/dev/tty", O_RDWR)) < 0 ||
	    tcgetattr(fd, &tty_saved) < 0) {
		fprintf(stderr, "%s: /dev/tty: %s\n", PASSWD_PROG,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return EX_IOERR;
	}
	for (i = 0; i < NELEM(tty_signals); i++)
		old[i] = signal(tty_signals[i], tty_on_signal);
	(void)snprintf(prompt, sizeof(prompt), "New secret for %s: ", name);
	if (tty_line(fd, prompt, buf, len, &n) == 0 &&
	    tty_line(fd, "Retype new secret: ", again, sizeof(again),
	    &n2) == 0) {
		if (n >= len) {
			fprintf(stderr, "%s: secret too long\n", PASSWD_PROG);
			r = EX_DATAERR;
		} else if (n != n2 || strcmp(buf, again) != 0) {
			fprintf(stderr, "%s: secrets do not match\n",
			    PASSWD_PROG);
			r = EX_DATAERR;
		} else
			r = passwd_check_secret(buf, n);
	}
	for (i = 0; i < NELEM(tty_signals); i++)
		(void)signal(tty_signals[i], old[i]);
	close(fd);
	wipe(again, sizeof(again));
	return r;
}

/*
 * The old file into *text (NULL and 0 when there is none).  Opened
 * paranoidly: a symlink or special file in its place is refused, and
 * the file opened must be the one lstat() saw.
 */
static int
passwd_read_old(const char *path, char **text, size_t *len,
    struct stat *st, int *exists)
{
	struct stat fst;
	FILE *fp = NULL;
	int fd, e;

	*text = NULL;
	*len = 0;
	*exists = 0;
	if (lstat(path, st) < 0) {
		if ((e = errno) == ENOENT)
			return EX_OK;
		fprintf(stderr, "%s: %s: %s\n", PASSWD_PROG, path,
		    strerror(e));
		return e == EACCES ? EX_NOPERM : EX_IOERR;
	}
	if (!S_ISREG(st->st_mode)) {
		fprintf(stderr, "%s: %s: not a regular file%s\n", PASSWD_PROG,
		    path, S_ISLNK(st->st_mode) ? " (a symlink)" : "");
		return EX_CANTCREAT;
	}
	errno = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0 ||
	    fstat(fd, &fst) < 0 || fst.st_dev != st->st_dev ||
	    fst.st_ino != st->st_ino ||
	    (unsigned long)fst.st_size > PASSWD_FILE_MAX ||
	    (fp = fdopen(fd, "r")) == NULL) {
		e = errno;
		fprintf(stderr, "%s: %s: cannot read it safely%s%s\n",
		    PASSWD_PROG, path, e != 0 ? ": " : "",
		    e != 0 ? strerror(e) : "");
		if (fd >= 0)
			close(fd);
		return e == EACCES ? EX_NOPERM : EX_IOERR;
	}
	*exists = 1;
	if ((*text = malloc((size_t)fst.st_size + 1)) != NULL)
		*len = fread(*text, 1, (size_t)fst.st_size, fp);
	if (*text == NULL || ferror(fp)) {
		fclose(fp);
		fprintf(stderr, "%s: %s: read error\n", PASSWD_PROG, path);
		return EX_IOERR;
	}
	fclose(fp);
	return EX_OK;
}

/*
 * Copy the old lines to fp, every one unchanged (comments too) except
 * name's, which is replaced by the new one (or dropped for -d; a
 * duplicate is dropped too, as only the first ever counted).  Returns
 * whether name had a line.
 */
static int
passwd_copy(FILE *fp, const char *text, size_t len, const char *name,
    const char *secret)
{
	size_t nlen = strlen(name), l;
	const char *p, *eol, *end = text + len;
	int found = 0;

	for (p = text; p < end; p = eol) {
		eol = memchr(p, '\n', (size_t)(end - p));
		eol = eol != NULL ? eol + 1 : end;
		l = (size_t)(eol - p);
		if (p[0] != '#' && l > nlen && p[nlen] == ':' &&
		    memcmp(p, name, nlen) == 0) {
			if (!found && secret != NULL)
				fprintf(fp, "%s:%s\n", name, secret);
			found = 1;
			continue;
		}
		fwrite(p, 1, l, fp);
		/* A last line without its newline gets one, or the line
		 * appended after it would join it. */
		if (p[l - 1] != '\n')
			putc('\n', fp);
	}
	return found;
}

/* fsync the directory so that the rename survives a crash.  Some
 * systems cannot fsync a directory; the rename stands anyway. */
static void
passwd_sync_dir(const char *path)
{
	char dir[1024];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else if (slash == path)
		strlcpy(dir, "/", sizeof(dir));
	else if ((size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	} else
		return;
	if ((fd = open(dir, O_RDONLY)) < 0)
		return;
	if (fsync(fd) < 0 && errno != EINVAL && errno != EBADF)
		warn("%s: fsync: %s", dir, strerror(errno));
	close(fd);
}

/* Mode 0600 whatever the umask said; the old file's owner if we are
 * root (root runs this for the daemon's file, which may belong to
 * another account). */
static int
passwd_perms(int fd, const struct stat *old)
{
#ifdef HAVE_FCHMOD
	if (fchmod(fd, 0600) < 0)
		return -1;
#endif
#ifdef HAVE_FCHOWN
	if (old != NULL && geteuid() == 0 &&
	    fchown(fd, old->st_uid, old->st_gid) < 0)
		return -1;
#endif
	(void)fd;
	(void)old;
	return 0;
}

/* A new file beside path, made with O_EXCL: never through a file or
 * link someone planted there. */
static FILE *
passwd_create(const char *tmp, const struct stat *old, int *err)
{
	FILE *fp = NULL;
	int fd;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		*err = errno == EACCES ? EX_NOPERM : EX_CANTCREAT;
		fprintf(stderr, "%s: %s: %s\n", PASSWD_PROG, tmp,
		    strerror(errno));
		return NULL;
	}
	*err = EX_IOERR;
	if (passwd_perms(fd, old) == 0 && (fp = fdopen(fd, "w")) != NULL)
		return fp;
	fprintf(stderr, "%s: %s: %s\n", PASSWD_PROG, tmp, strerror(errno));
	close(fd);
	unlink(tmp);
	return NULL;
}

/* Write the new file and rename it over the old one. */
static int
passwd_write(const char *path, const char *text, size_t len,
    const char *name, const char *secret, const struct stat *old)
{
	char tmp[1100];
	FILE *fp;
	int r, found, err;

	r = snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	if (r < 0 || (size_t)r >= sizeof(tmp)) {
		fprintf(stderr, "%s: %s: path too long\n", PASSWD_PROG, path);
		return EX_CANTCREAT;
	}
	if ((fp = passwd_create(tmp, old, &err)) == NULL)
		return err;
	found = passwd_copy(fp, text, len, name, secret);
	if (!found && secret != NULL)
		fprintf(fp, "%s:%s\n", name, secret);
	if (!found && secret == NULL) {
		fclose(fp);
		unlink(tmp);
		fprintf(stderr, "%s: %s: no secret to delete\n", PASSWD_PROG,
		    name);
		return EX_NOUSER;
	}
	/* Write, sync, close, and only then rename (STYLE.md habit 10):
	 * a crash leaves the old file or the new one, never half of one. */
	if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) < 0) {
		fclose(fp);
		r = -1;
	} else
		r = fclose(fp) != 0 ? -1 : rename(tmp, path);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", PASSWD_PROG, path,
		    strerror(errno));
		unlink(tmp);
		return EX_IOERR;
	}
	passwd_sync_dir(path);
	return EX_OK;
}

static int
passwd_update(const char *path, const char *name, const char *secret)
{
	struct stat st;
	char *text;
	size_t len;
	int exists, r;

	if ((r = passwd_read_old(path, &text, &len, &st, &exists)) != EX_OK)
		return r;
	r = passwd_write(path, text, len, name, secret, exists ? &st : NULL);
	if (text != NULL) {
		wipe(text, len);
		free(text);
	}
	return r;
}

int
passwd_main(int argc, char **argv)
{
	struct conf *saved = config;
	struct pwopts o;
	char name[USER_NAME_MAX + 1], secret[AUTH_SECRET_MAX + 3];
	int r;

	memset(&o, 0, sizeof(o));
	secret[0] = '\0';
	if (passwd_args(argc, argv, &o) < 0)
		return passwd_usage();
	log_open(PASSWD_PROG, LOG_TO_STDERR, NULL);
	if ((r = passwd_drop(&o)) != EX_OK)
		return r;
	if (passwd_config(&o) < 0) {
		fprintf(stderr, "%s: bad configuration\n", PASSWD_PROG);
		return EX_CONFIG;
	}
	log_set_level(LOG_WARNING);
	if ((r = passwd_who(&o, name, sizeof(name))) != EX_OK)
		goto out;
	if (!o.del)
		r = isatty(STDIN_FILENO) ?
		    passwd_tty(name, secret, sizeof(secret)) :
		    passwd_stdin(secret, sizeof(secret));
	if (r == EX_OK)
		r = passwd_update(config->passwd_file, name,
		    o.del ? NULL : secret);
	if (r == EX_OK)
		printf("%s: secret for %s %s\n", PASSWD_PROG, name,
		    o.del ? "deleted" : "changed");
out:
	wipe(secret, sizeof(secret));
	/* Leave the caller's configuration as it was (tests call this). */
	conf_free(config);
	config = saved;
	return r;
}

/*
 * test_auth.c - unit tests of src/auth.c: APOP with RFC 1939's example,
 * CRAM-MD5 with RFC 2195's, SASL PLAIN with RFC 4616's, plaintext
 * passwords against a sandbox passwd file and against the system, the
 * constant-time comparison, challenges, and yubin-passwd end to end
 * (stdin from a file, in a temporary sandbox).
 *
 * Not tested here: crypt() against a real system account (that would
 * mean adding one to the host's passwd and shadow files), and reading
 * the secret from a terminal (needs a pty).
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "auth.h"
#include "base64.h"
#include "conf.h"
#include "md5.h"
#include "user.h"
#include "util.h"

#define HOST	"mail.example.org"
#define PASSWD_START \
	"# yubin test users\n" \
	"mrose:tanstaaf\n" \
	"tim:tanstaaftanstaaf\n" \
	"locked:\n"

static char dir[256], pwfile[300], infile[300];

static void
put_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	CHECK(fwrite(text, 1, len, fp) == len);
	CHECK(fclose(fp) == 0);
}

/* The whole of a small file, in a static buffer ("" if unreadable). */
static const char *
get_file(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return buf;
}

static struct conf *
sandbox_conf(void)
{
	struct conf *c = conf_new(dir);

	c->hostname = xstrdup(HOST);
	return c;
}

static void
setup(void)
{
	char path[300];

	sprintf(dir, "/tmp/yubin-test-auth.%ld", (long)getpid());
	sprintf(pwfile, "%s/etc/yubin.passwd", dir);
	sprintf(infile, "%s/secret.in", dir);
	CHECK(mkdir(dir, 0700) == 0);
	sprintf(path, "%s/etc", dir);
	CHECK(mkdir(path, 0700) == 0);
	/* yubin-passwd reads the sandbox's configuration: name the host so
	 * that conf_finish() need not ask the resolver. */
	sprintf(path, "%s/etc/yubin.conf", dir);
	put_file(path, "hostname " HOST "\n", strlen("hostname " HOST "\n"));
	put_file(pwfile, PASSWD_START, strlen(PASSWD_START));
	config = sandbox_conf();
}

static void
test_equal(void)
{
	CHECK(auth_equal("", "") == 1);
	CHECK(auth_equal("tanstaaf", "tanstaaf") == 1);
	CHECK(auth_equal("tanstaaf", "tanstaag") == 0);
	CHECK(auth_equal("Tanstaaf", "tanstaaf") == 0);
	CHECK(auth_equal("tanstaaf", "tanstaa") == 0);
	CHECK(auth_equal("tanstaa", "tanstaaf") == 0);
	CHECK(auth_equal("", "a") == 0);
	CHECK(auth_equal("a", "") == 0);
}

static void
test_apop(void)
{
	static const char stamp[] = "<1896.697170952@dbc.mtview.ca.us>";
	struct user u;

	/* RFC 1939 section 7 */
	memset(&u, 0, sizeof(u));
	CHECK(auth_apop("mrose", stamp, "c4c9334bac560ecc979e58001b3e22fb",
	    &u) == AUTH_OK);
	CHECK(strcmp(u.name, "mrose") == 0);
	CHECK(auth_apop("mrose", stamp, "C4C9334BAC560ECC979E58001B3E22FB",
	    &u) == AUTH_OK);
	CHECK(auth_apop("mrose", stamp, "c4c9334bac560ecc979e58001b3e22fa",
	    &u) == AUTH_FAIL);
	CHECK(auth_apop("mrose", stamp, "c4c9334bac560ecc979e58001b3e22f",
	    &u) == AUTH_FAIL);
	CHECK(auth_apop("mrose", stamp, "", &u) == AUTH_FAIL);
	CHECK(auth_apop("mrose", "<1896.697170953@dbc.mtview.ca.us>",
	    "c4c9334bac560ecc979e58001b3e22fb", &u) == AUTH_FAIL);
	CHECK(auth_apop("nobody-here", stamp,
	    "c4c9334bac560ecc979e58001b3e22fb", &u) == AUTH_FAIL);
	/* the digest of the stamp alone: what an empty secret would give */
	CHECK(auth_apop("locked", stamp, "00000000000000000000000000000000",
	    &u) == AUTH_FAIL);
	CHECK(auth_apop("../etc", stamp, "c4c9334bac560ecc979e58001b3e22fb",
	    &u) == AUTH_FAIL);
}

static void
test_cram(void)
{
	static const char chal[] = "<1896.697170952@postoffice.reston.mci.net>";
	char user[USER_NAME_MAX + 1], digest[MD5_HEX_LEN + 1], b64[200];
	struct user u;

	/* RFC 2195 section 2 */
	CHECK(sasl_cram_response("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNG"
	    "QzODkw", user, sizeof(user), digest, sizeof(digest)) == 0);
	CHECK(strcmp(user, "tim") == 0);
	CHECK(strcmp(digest, "b913a602c7eda7a495b4e6e7334d3890") == 0);
	CHECK(auth_cram(user, chal, digest, &u) == AUTH_OK);
	CHECK(strcmp(u.name, "tim") == 0);
	CHECK(auth_cram("tim", chal, "B913A602C7EDA7A495B4E6E7334D3890", &u) ==
	    AUTH_OK);
	CHECK(auth_cram("tim", chal, "b913a602c7eda7a495b4e6e7334d3891", &u) ==
	    AUTH_FAIL);
	CHECK(auth_cram("mrose", chal, digest, &u) == AUTH_FAIL);
	CHECK(auth_cram("nosuch", chal, digest, &u) == AUTH_FAIL);
	/* the response's shape */
	CHECK(sasl_cram_response("dGlt", user, sizeof(user), digest,
	    sizeof(digest)) == -1);			/* "tim" */
	base64_encode((const unsigned char *)"tim b913a602c7eda7a495b4e6e7334d389",
	    35, b64, sizeof(b64));
	CHECK(sasl_cram_response(b64, user, sizeof(user), digest,
	    sizeof(digest)) == -1);			/* 31 digits */
	base64_encode((const unsigned char *)"tim b913a602c7eda7a495b4e6e7334d389g",
	    36, b64, sizeof(b64));
	CHECK(sasl_cram_response(b64, user, sizeof(user), digest,
	    sizeof(digest)) == -1);			/* not hex */
	base64_encode((const unsigned char *)" b913a602c7eda7a495b4e6e7334d3890",
	    33, b64, sizeof(b64));
	CHECK(sasl_cram_response(b64, user, sizeof(user), digest,
	    sizeof(digest)) == -1);			/* no user */
	CHECK(sasl_cram_response("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNG"
	    "QzODkw", user, 3, digest, sizeof(digest)) == -1);
	CHECK(sasl_cram_response("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNG"
	    "QzODkw", user, sizeof(user), digest, 32) == -1);
	CHECK(sasl_cram_response("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNG"
	    "QzODk", user, sizeof(user), digest, sizeof(digest)) == -1);
}

/* sasl_plain() of len bytes of raw, encoded here. */
static int
plain_of(const char *raw, size_t len, char *user, size_t ulen, char *pass,
    size_t plen)
{
	char b64[2048];

	if (base64_encode((const unsigned char *)raw, len, b64,
	    sizeof(b64)) == (size_t)-1)
		return -2;
	return sasl_plain(b64, user, ulen, pass, plen);
}

static void
test_plain(void)
{
	char user[USER_NAME_MAX + 1], pass[256], big[1200];

	/* RFC 4616 section 4 */
	CHECK(sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", user, sizeof(user),
	    pass, sizeof(pass)) == 0);
	CHECK(strcmp(user, "tim") == 0);
	CHECK(strcmp(pass, "tanstaaftanstaaf") == 0);
	CHECK(plain_of("tim\0tim\0tanstaaftanstaaf", 24, user, sizeof(user),
	    pass, sizeof(pass)) == 0);
	CHECK(strcmp(user, "tim") == 0 && strcmp(pass, "tanstaaftanstaaf") == 0);
	CHECK(plain_of("Ursel\0Kurt\0xipj3plmq", 20, user, sizeof(user),
	    pass, sizeof(pass)) == -1);		/* another authzid */
	CHECK(plain_of("tim\0timo\0x", 10, user, sizeof(user), pass,
	    sizeof(pass)) == -1);
	CHECK(plain_of("timo\0tim\0x", 10, user, sizeof(user), pass,
	    sizeof(pass)) == -1);
	CHECK(plain_of("tim\0tanstaaf", 12, user, sizeof(user), pass,
	    sizeof(pass)) == -1);		/* one NUL */
	CHECK(plain_of("timtanstaaf", 11, user, sizeof(user), pass,
	    sizeof(pass)) == -1);		/* none */
	CHECK(plain_of("\0tim\0tans\0taaf", 14, user, sizeof(user), pass,
	    sizeof(pass)) == -1);		/* three */
	CHECK(plain_of("\0tim\0", 5, user, sizeof(user), pass,
	    sizeof(pass)) == -1);		/* empty password */
	CHECK(plain_of("\0\0x", 3, user, sizeof(user), pass,
	    sizeof(pass)) == -1);		/* empty user */
	CHECK(plain_of("\0tim\0a\r\nb", 9, user, sizeof(user), pass,
	    sizeof(pass)) == -1);
	CHECK(plain_of("\0ti\nm\0ab", 8, user, sizeof(user), pass,
	    sizeof(pass)) == -1);
	CHECK(sasl_plain("=", user, sizeof(user), pass, sizeof(pass)) == -1);
	CHECK(sasl_plain("", user, sizeof(user), pass, sizeof(pass)) == -1);
	CHECK(sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWF", user, sizeof(user),
	    pass, sizeof(pass)) == -1);		/* bad base64 */
	CHECK(sasl_plain("AHRpbQB0YW5zdGFhZn Rhbn", user, sizeof(user),
	    pass, sizeof(pass)) == -1);
	/* bounded by the caller's buffers: "tim" needs 4 bytes */
	CHECK(sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", user, 3, pass,
	    sizeof(pass)) == -1);
	CHECK(sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", user, 4, pass,
	    16) == -1);
	CHECK(sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", user, 4, pass,
	    17) == 0);
	/* and by our own: more than RFC 4616's three 255-octet parts */
	memset(big, 'a', sizeof(big));
	big[0] = '\0';
	big[4] = '\0';
	CHECK(plain_of(big, sizeof(big), user, sizeof(user), pass,
	    sizeof(pass)) == -1);
}

static void
test_decode(void)
{
	char out[64];

	CHECK(sasl_decode("dGlt", out, sizeof(out)) == 0 &&
	    strcmp(out, "tim") == 0);
	CHECK(sasl_decode("dGFuc3RhYWY=", out, sizeof(out)) == 0 &&
	    strcmp(out, "tanstaaf") == 0);
	CHECK(sasl_decode("=", out, sizeof(out)) == 0 && out[0] == '\0');
	CHECK(sasl_decode("", out, sizeof(out)) == 0 && out[0] == '\0');
	CHECK(sasl_decode("dGltAHg=", out, sizeof(out)) == -1);	/* tim NUL x */
	CHECK(sasl_decode("dGl", out, sizeof(out)) == -1);
	CHECK(sasl_decode("dGl0", out, sizeof(out)) == 0);
	CHECK(sasl_decode("dGlt", out, 4) == 0);
	CHECK(sasl_decode("dGlt", out, 3) == -1);
	CHECK(sasl_decode("dGlt", out, 0) == -1);
}

static void
test_password_sandbox(void)
{
	struct user u;

	memset(&u, 0, sizeof(u));
	CHECK(auth_password("tim", "tanstaaftanstaaf", &u) == AUTH_OK);
	CHECK(strcmp(u.name, "tim") == 0);
	CHECK(strstr(u.spool, "/mail/tim") != NULL);
	CHECK(auth_password("tim", "tanstaaf", &u) == AUTH_FAIL);
	CHECK(auth_password("tim", "tanstaaftanstaafx", &u) == AUTH_FAIL);
	CHECK(auth_password("tim", "", &u) == AUTH_FAIL);
	CHECK(auth_password("nosuch", "tanstaaf", &u) == AUTH_FAIL);
	CHECK(auth_password("locked", "", &u) == AUTH_FAIL);
	CHECK(auth_password("", "", &u) == AUTH_FAIL);
	CHECK(auth_password("# yubin test users", "", &u) == AUTH_FAIL);
	/* root has a mailbox in every sandbox, but no secret here */
	CHECK(auth_password("root", "", &u) == AUTH_FAIL);
}

/* Outside a sandbox: system users through crypt(), others from the
 * passwd file as virtual users. */
static void
test_password_system(void)
{
	struct conf *sb = config;
	struct user u;

	config = conf_new(NULL);
	free(config->passwd_file);
	config->passwd_file = xstrdup(pwfile);
	config->hostname = xstrdup(HOST);
	CHECK(auth_password("yubin-no-such-user", "x", &u) == AUTH_FAIL);
	CHECK(auth_password("root", "", &u) == AUTH_FAIL);
	CHECK(auth_password("root", "surely not root's password", &u) ==
	    AUTH_FAIL);
	if (getpwnam("tim") == NULL && getpwnam(config->user) != NULL) {
		CHECK(auth_password("tim", "tanstaaftanstaaf", &u) == AUTH_OK);
		CHECK(u.is_virtual == 1);
		CHECK(auth_password("tim", "tanstaaf", &u) == AUTH_FAIL);
		CHECK(auth_cram("tim",
		    "<1896.697170952@postoffice.reston.mci.net>",
		    "b913a602c7eda7a495b4e6e7334d3890", &u) == AUTH_OK);
	} else
		printf("test_auth: virtual user checks skipped (a system "
		    "user tim, or no %s)\n", config->user);
	conf_free(config);
	config = sb;
}

static void
test_challenge(void)
{
	char a[128], b[128], host[64];
	long pid;
	unsigned long t, n;

	CHECK(auth_challenge(a, sizeof(a)) == 0);
	CHECK(auth_challenge(b, sizeof(b)) == 0);
	CHECK(strcmp(a, b) != 0);
	CHECK(a[0] == '<' && a[strlen(a) - 1] == '>');
	CHECK(sscanf(a, "<%ld.%lu.%lu@%63[^>]", &pid, &t, &n, host) == 4);
	CHECK(pid == (long)getpid());
	CHECK(strcmp(host, HOST) == 0);
	CHECK(strstr(a, "@" HOST ">") != NULL);
	CHECK(auth_challenge(a, 10) == -1 && a[0] == '\0');
}

/* yubin-passwd -S dir [args], with stdin from the text given. */
static int
run_passwd(const char *in, size_t inlen, const char *a1, const char *a2,
    const char *a3)
{
	char *argv[7];
	int argc = 0;

	put_file(infile, in, inlen);
	if (freopen(infile, "r", stdin) == NULL)
		return -1;
	argv[argc++] = "yubin-passwd";
	argv[argc++] = "-S";
	argv[argc++] = dir;
	if (a1 != NULL)
		argv[argc++] = (char *)a1;
	if (a2 != NULL)
		argv[argc++] = (char *)a2;
	if (a3 != NULL)
		argv[argc++] = (char *)a3;
	argv[argc] = NULL;
	return passwd_main(argc, argv);
}

static int
file_mode(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void
test_passwd_set(void)
{
	char secret[300];
	struct user u;

	chmod(pwfile, 0644);
	CHECK(run_passwd("s3cret\n", 7, "alice", NULL, NULL) == 0);
	CHECK(strcmp(get_file(pwfile), PASSWD_START "alice:s3cret\n") == 0);
	CHECK(file_mode(pwfile) == 0600);
	CHECK(passwd_secret("alice", secret, sizeof(secret)) == 0 &&
	    strcmp(secret, "s3cret") == 0);
	CHECK(auth_password("alice", "s3cret", &u) == AUTH_OK);
	/* a change keeps the line's place; CR LF is stripped */
	CHECK(run_passwd("tiM2\r\n", 6, "tim", NULL, NULL) == 0);
	CHECK(strcmp(get_file(pwfile), "# yubin test users\nmrose:tanstaaf\n"
	    "tim:tiM2\nlocked:\nalice:s3cret\n") == 0);
	CHECK(auth_password("tim", "tiM2", &u) == AUTH_OK);
	/* no newline at all is fine too */
	CHECK(run_passwd("tanstaaftanstaaf", 16, "tim", NULL, NULL) == 0);
	CHECK(strcmp(get_file(pwfile), PASSWD_START "alice:s3cret\n") == 0);
	CHECK(auth_password("tim", "tanstaaftanstaaf", &u) == AUTH_OK);
	CHECK(run_passwd("", 0, "-d", "alice", NULL) == 0);
	CHECK(strcmp(get_file(pwfile), PASSWD_START) == 0);
	CHECK(file_mode(pwfile) == 0600);
	CHECK(auth_password("alice", "s3cret", &u) == AUTH_FAIL);
	CHECK(run_passwd("", 0, "-d", "alice", NULL) == 67);
	/* a last line without its newline is kept, and gets one */
	put_file(pwfile, "# end\nbob:x", 11);
	CHECK(run_passwd("y\n", 2, "carol", NULL, NULL) == 0);
	CHECK(strcmp(get_file(pwfile), "# end\nbob:x\ncarol:y\n") == 0);
	put_file(pwfile, PASSWD_START, strlen(PASSWD_START));
}

static void
test_passwd_refuse(void)
{
	char big[300], link[300];

	CHECK(run_passwd("a:b\n", 4, "alice", NULL, NULL) == 65);
	CHECK(run_passwd("\n", 1, "alice", NULL, NULL) == 65);
	CHECK(run_passwd("", 0, "alice", NULL, NULL) == 65);
	CHECK(run_passwd("a\nb\n", 4, "alice", NULL, NULL) == 65);
	CHECK(run_passwd("a\rb", 3, "alice", NULL, NULL) == 65);
	CHECK(run_passwd("a\0b", 3, "alice", NULL, NULL) == 65);
	memset(big, 'x', sizeof(big));
	CHECK(run_passwd(big, 256, "alice", NULL, NULL) == 65);
	CHECK(run_passwd(big, sizeof(big), "alice", NULL, NULL) == 65);
	CHECK(run_passwd(big, 255, "alice", NULL, NULL) == 0);
	CHECK(run_passwd("", 0, "-d", "alice", NULL) == 0);
	CHECK(run_passwd("x\n", 2, "../etc", NULL, NULL) == 67);
	CHECK(run_passwd("x\n", 2, "-x", "alice", NULL) == 64);
	CHECK(run_passwd("x\n", 2, "alice", "bob", NULL) == 64);
	CHECK(run_passwd("x\n", 2, "-C", "/nonexistent", "alice") == 64);
	CHECK(strcmp(get_file(pwfile), PASSWD_START) == 0);
	/* a symlink in the file's place is refused, its target untouched */
	sprintf(link, "%s/other", dir);
	CHECK(rename(pwfile, link) == 0);
	CHECK(symlink(link, pwfile) == 0);
	CHECK(run_passwd("x\n", 2, "alice", NULL, NULL) == 73);
	CHECK(strcmp(get_file(link), PASSWD_START) == 0);
	CHECK(unlink(pwfile) == 0);
	CHECK(mkdir(pwfile, 0700) == 0);	/* so is a directory */
	CHECK(run_passwd("x\n", 2, "alice", NULL, NULL) == 73);
	CHECK(rmdir(pwfile) == 0);
	CHECK(rename(link, pwfile) == 0);
}

/* -C: the rules for system files (who may set whose secret). */
static void
test_passwd_conf(void)
{
	char conf[300], text[400], *argv[5];
	struct stat st;

	sprintf(conf, "%s/other.conf", dir);
	sprintf(text, "hostname " HOST "\npasswd_file %s\n", pwfile);
	put_file(conf, text, strlen(text));
	argv[0] = "yubin-passwd";
	argv[1] = "-C";
	argv[2] = conf;
	argv[3] = "yubin-no-such-user";
	argv[4] = NULL;
	put_file(infile, "x\n", 2);
	CHECK(freopen(infile, "r", stdin) != NULL);
	CHECK(passwd_main(4, argv) == (getuid() == 0 ? 67 : 77));
	argv[3] = "root";
	CHECK(freopen(infile, "r", stdin) != NULL);
	if (getuid() != 0) {
		CHECK(passwd_main(4, argv) == 77);
		return;
	}
	/* root: any system user; the file keeps its owner */
	CHECK(chown(pwfile, 1, 1) == 0);
	CHECK(passwd_main(4, argv) == 0);
	CHECK(strcmp(get_file(pwfile), PASSWD_START "root:x\n") == 0);
#ifdef HAVE_FCHOWN
	CHECK(stat(pwfile, &st) == 0 && st.st_uid == 1 && st.st_gid == 1);
#else
	(void)st;
#endif
	CHECK(file_mode(pwfile) == 0600);
	argv[3] = "tim";		/* in the file: known */
	CHECK(freopen(infile, "r", stdin) != NULL);
	CHECK(passwd_main(4, argv) == 0);
	put_file(pwfile, PASSWD_START, strlen(PASSWD_START));
}

static void
cleanup(void)
{
	char path[300];

	unlink(pwfile);
	unlink(infile);
	sprintf(path, "%s/other.conf", dir);
	unlink(path);
	sprintf(path, "%s/etc/yubin.conf", dir);
	unlink(path);
	sprintf(path, "%s/etc", dir);
	CHECK(rmdir(path) == 0);
	CHECK(rmdir(dir) == 0);
}

int
main(void)
{
	setup();
	test_equal();
	test_apop();
	test_cram();
	test_plain();
	test_decode();
	test_password_sandbox();
	test_password_system();
	test_challenge();
	test_passwd_set();
	test_passwd_refuse();
	test_passwd_conf();
	cleanup();
	if (freopen("/dev/null", "r", stdin) == NULL)
		return 1;
	conf_free(config);
	config = NULL;
	return check_exit("test_auth");
}

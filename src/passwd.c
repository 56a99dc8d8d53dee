/*
 * passwd.c - yubin-passwd (also yubind -P): sets a user's secret in
 * yubin's passwd file the way qpopper's popauth did.  The secrets are
 * what APOP and CRAM-MD5 need in the clear on the server, and the
 * passwords of users that are not system accounts.
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
	char path[1024];

	if ((config = conf_load(o->sandbox, o->conffile, path,
	    sizeof(path))) == NULL)
		return -1;
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
	auth_wipe(secret, sizeof(secret));
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
	auth_wipe(again, sizeof(again));
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
		auth_wipe(text, len);
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
	auth_wipe(secret, sizeof(secret));
	/* Leave the caller's configuration as it was (tests call this). */
	conf_free(config);
	config = saved;
	return r;
}

/*
 * user.c - users and their mailboxes.  In a sandbox every user comes
 * from DIR/etc/yubin.passwd (plus root, so that postmaster always has a
 * mailbox) and runs as the sandbox's own uid; otherwise system accounts
 * come first and the yubin passwd file adds virtual users.
 *
 * The passwd file is re-read only when it changes (size, mtime, inode),
 * so a busy SMTP server does not read it for every RCPT.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_GRP_H
#include <grp.h>
#endif

#include "conf.h"
#include "log.h"
#include "user.h"
#include "util.h"

/* The cached passwd file: its text, and how it looked when read. */
static char *pw_text;
static size_t pw_len;
static char pw_path[1024];
static struct stat pw_st;

#define PASSWD_MAX	(4UL * 1024 * 1024)

int
user_name_ok(const char *name)
{
	size_t i;

	if (name[0] == '\0' || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		char ch = name[i];

		if (i >= USER_NAME_MAX)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-'))
			return 0;
	}
	return 1;
}

static int
passwd_load(void)
{
	struct stat st;
	FILE *fp;
	char *text;
	size_t n;

	if (stat(config->passwd_file, &st) < 0)
		return -1;
	if (pw_text != NULL && strcmp(pw_path, config->passwd_file) == 0 &&
	    st.st_size == pw_st.st_size && st.st_mtime == pw_st.st_mtime &&
	    st.st_ctime == pw_st.st_ctime &&
	    st.st_ino == pw_st.st_ino && st.st_dev == pw_st.st_dev)
		return 0;
	if (!S_ISREG(st.st_mode) || (unsigned long)st.st_size > PASSWD_MAX) {
		warn("%s: not a regular file of sane size", config->passwd_file);
		return -1;
	}
	if ((fp = fopen(config->passwd_file, "r")) == NULL)
		return -1;
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		fclose(fp);
		return -1;
	}
	n = fread(text, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		free(text);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	text[n] = '\0';
	free(pw_text);
	pw_text = text;
	pw_len = n;
	pw_st = st;
	strlcpy(pw_path, config->passwd_file, sizeof(pw_path));
	return 0;
}

/* Find "name:" at the start of a line; returns the secret's start. */
static const char *
passwd_find(const char *name, size_t *seclen)
{
	size_t nlen = strlen(name);
	const char *p, *end, *eol;

	if (passwd_load() < 0)
		return NULL;
	for (p = pw_text, end = pw_text + pw_len; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (*p == '#')
			continue;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    memcmp(p, name, nlen) == 0) {
			*seclen = (size_t)(eol - p) - nlen - 1;
			if (*seclen > 0 && p[nlen + 1 + *seclen - 1] == '\r')
				(*seclen)--;
			return p + nlen + 1;
		}
	}
	return NULL;
}

int
passwd_secret(const char *name, char *secret, size_t len)
{
	const char *s;
	size_t n;

	if (!user_name_ok(name) || (s = passwd_find(name, &n)) == NULL ||
	    n >= len)
		return -1;
	memcpy(secret, s, n);
	secret[n] = '\0';
	return 0;
}

static int
fill_paths(struct user *u, const char *home)
{
	int r;

	if (strlcpy(u->home, home, sizeof(u->home)) >= sizeof(u->home))
		return -1;
	r = snprintf(u->spool, sizeof(u->spool), "%s/%s", config->spool_dir,
	    u->name);
	return (r < 0 || (size_t)r >= sizeof(u->spool)) ? -1 : 0;
}

int
user_lookup(const char *name, struct user *u)
{
	struct passwd *pw;
	char home[600];
	size_t n;
	int r;

	if (!user_name_ok(name))
		return -1;
	memset(u, 0, sizeof(*u));
	strlcpy(u->name, name, sizeof(u->name));
	if (config->sandbox != NULL) {
		if (strcmp(name, "root") != 0 && passwd_find(name, &n) == NULL)
			return -1;
		u->uid = getuid();
		u->gid = getgid();
		r = snprintf(home, sizeof(home), "%s/home/%s", config->sandbox,
		    name);
		if (r < 0 || (size_t)r >= sizeof(home))
			return -1;
		return fill_paths(u, home);
	}
	if ((pw = getpwnam(name)) != NULL) {
		u->uid = pw->pw_uid;
		u->gid = pw->pw_gid;
		return fill_paths(u, pw->pw_dir);
	}
	/* A virtual user: mail only, owned by the unprivileged user. */
	if (passwd_find(name, &n) == NULL ||
	    (pw = getpwnam(config->user)) == NULL)
		return -1;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	u->is_virtual = 1;
	return fill_paths(u, "");
}

/*
 * Under inetd the process is one session: after login it becomes the
 * user for good (as UW ipop3d and imapd did), keeping the mail group
 * so that dotlocks can still be made in the spool directory.
 */
int
user_become(const struct user *u)
{
	gid_t groups[1];
#ifdef HAVE_GRP_H
	struct group *gr;
#endif

	if (geteuid() != 0)
		return 0;
	groups[0] = u->gid;
#ifdef HAVE_GRP_H
	if (MAIL_GROUP[0] != '\0' && (gr = getgrnam(MAIL_GROUP)) != NULL)
		groups[0] = gr->gr_gid;
#endif
	if (setgroups(1, groups) < 0 || setgid(u->gid) < 0 ||
	    setuid(u->uid) < 0 || getuid() != u->uid) {
		warn("cannot become %s: %s", u->name, strerror(errno));
		return -1;
	}
	return 0;
}

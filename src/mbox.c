/*
 * mbox.c - the mbox format and safe opening of mailboxes.
 *
 * Opening follows STYLE.md habit 9: lstat, open with O_NOFOLLOW, fstat,
 * and compare device, inode and link count, so that neither a symbolic
 * link nor a hard link planted in the spool directory (the classic
 * mail.local attacks) makes us write into a file of someone else's.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_GRP_H
#include <grp.h>
#endif

#include "log.h"
#include "mbox.h"

#ifndef MAIL_GROUP
#define MAIL_GROUP	""
#endif

static int
mbox_create(const struct user *u, const char *path)
{
	gid_t gid = u->gid;
	int fd;
#ifdef HAVE_GRP_H
	struct group *gr;

	if (MAIL_GROUP[0] != '\0' && (gr = getgrnam(MAIL_GROUP)) != NULL)
		gid = gr->gr_gid;
#endif
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	/* Made by root on the user's behalf: hand it over. */
	if (geteuid() == 0 && fchown(fd, u->uid, gid) < 0) {
		int save = errno;

		close(fd);
		(void)unlink(path);
		errno = save;
		return -1;
	}
	return fd;
}

int
mbox_open(const struct user *u, const char *path, int create)
{
	struct stat lst, st;
	int fd;

	if (lstat(path, &lst) < 0) {
		if (errno != ENOENT || !create)
			return -1;
		fd = mbox_create(u, path);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		/* Created by someone else in between: check it as usual. */
		if (lstat(path, &lst) < 0)
			return -1;
	}
	if (!S_ISREG(lst.st_mode) || lst.st_nlink != 1 ||
	    lst.st_uid != u->uid) {
		warn("%s: not a plain file of %s's; refusing it", path,
		    u->name);
		errno = EPERM;
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_NOFOLLOW, 0)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_dev != lst.st_dev ||
	    st.st_ino != lst.st_ino || st.st_nlink != 1) {
		warn("%s: changed while being opened; refusing it", path);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int
mbox_from_line(struct buf *out, const char *sender, time_t t)
{
	static const char *const days[] =
	    { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	size_t i, start;

	tm = *localtime(&t);
	if (buf_puts(out, "From ") < 0)
		return -1;
	start = out->len;
	if (buf_puts(out, sender[0] != '\0' ? sender : "MAILER-DAEMON") < 0)
		return -1;
	/* The From_ line is split at white space by every reader. */
	for (i = start; i < out->len; i++)
		if (out->data[i] == ' ' || out->data[i] == '\t')
			out->data[i] = '_';
	/* asctime()'s format, without its locale or its static buffer */
	return buf_printf(out, " %s %s %2d %02d:%02d:%02d %d\n",
	    days[tm.tm_wday], months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

int
mbox_quote(struct buf *out, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	size_t n;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (n >= 5 && memcmp(p, "From ", 5) == 0 &&
		    buf_append(out, ">", 1) < 0)
			return -1;
		if (buf_append(out, p, n) < 0)
			return -1;
		p += n;
	}
	if (len > 0 && text[len - 1] != '\n' && buf_append(out, "\n", 1) < 0)
		return -1;
	return 0;
}

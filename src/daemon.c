/*
 * daemon.c - the few things a Unix daemon does once: detach from the
 * terminal, record its pid, make its directories.
 */
#include "yubin.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

int
daemon_detach(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	/* A second fork: we can never reacquire a controlling terminal. */
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR, 0)) < 0)
		return -1;
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return -1;
	if (fd > 2)
		close(fd);
	return 0;
}

int
pidfile_write(const char *path)
{
	char line[32];
	int fd, r, len;

	len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (len < 0 || (size_t)len >= sizeof(line))
		return -1;
	/* No O_TRUNC until we know it is not a link (O_NOFOLLOW). */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	r = (ftruncate(fd, 0) == 0 &&
	    write(fd, line, (size_t)len) == len) ? 0 : -1;
	if (close(fd) != 0)
		r = -1;
	return r;
}

/* Remove the pid file only if it is still ours: a daemon started while
 * this one was draining (a restart that did not wait) has written its
 * own, and yubin-sendmail -q needs it. */
void
pidfile_remove(const char *path)
{
	if (pidfile_read(path) == (long)getpid())
		(void)unlink(path);
}

long
pidfile_read(const char *path)
{
	FILE *fp;
	long pid;

	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(fp, "%ld", &pid) != 1 || pid <= 1)
		pid = -1;
	(void)fclose(fp);
	return pid;
}

int
path_join(char *out, size_t outlen, const char *dir, const char *name)
{
	int r;

	r = snprintf(out, outlen, "%s/%s", dir, name);
	return (r < 0 || (size_t)r >= outlen) ? -1 : 0;
}

int
mkdirs(const char *path, int mode)
{
	char buf[1024];
	struct stat st;
	size_t i, len;

	len = strlen(path);
	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return -1;
		buf[i] = path[i];
	}
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * daemon.h - becoming a daemon, the pid file, and making directories.
 */
#ifndef YUBIN_DAEMON_H
#define YUBIN_DAEMON_H

/* fork, setsid, chdir("/"), stdio on /dev/null.  -1 with errno. */
int daemon_detach(void);
int pidfile_write(const char *path);
/* Removed only if it holds our pid (a new daemon may have written it). */
void pidfile_remove(const char *path);
/* The pid in the file, or -1 if none can be read. */
long pidfile_read(const char *path);
/* mkdir -p with mode for what it creates; -1 with errno. */
int mkdirs(const char *path, int mode);
/* path joined to dir in out; -1 if it does not fit. */
int path_join(char *out, size_t outlen, const char *dir, const char *name);

#endif

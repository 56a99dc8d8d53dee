/*
 * log.c - log lines to syslog (LOG_MAIL), stderr and/or a file, and the
 * three ways out: fatal(), panic(), warn().  A log line is formatted
 * once, bounded, with control characters from clients made visible so a
 * client cannot forge log lines.
 */
#include "yubin.h"

#include <sys/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <syslog.h>

#include "log.h"

static const char *log_ident = "yubind";
static long log_pid;
/* The time stamp of the current second: localtime() re-reads the zone
 * file on every call on some systems, and a busy server logs a lot. */
static time_t stamp_time = (time_t)-1;
static char stamp_text[64];
static int log_where = LOG_TO_STDERR;
static FILE *log_fp;
static int log_max = LOG_INFO;

static const struct {
	const char	*name;
	int		prio;
} levels[] = {
	{ "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG }
};

int
log_open(const char *ident, int where, const char *file)
{
	log_close();
	log_ident = ident;
	log_pid = (long)getpid();	/* again after a fork: daemon mode */
	log_where = where;
	if (where & LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	if ((where & LOG_TO_FILE) && file != NULL) {
		if ((log_fp = fopen(file, "a")) == NULL) {
			log_where &= ~LOG_TO_FILE;
			return -1;
		}
	}
	return 0;
}

void
log_close(void)
{
	if (log_where & LOG_TO_SYSLOG)
		closelog();
	if (log_fp != NULL)
		fclose(log_fp);
	log_fp = NULL;
}

void
log_set_level(int level)
{
	log_max = level;
}

int
log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(levels); i++)
		if (strcmp(levels[i].name, name) == 0)
			return levels[i].prio;
	return -1;
}

const char *
log_level_name(int level)
{
	size_t i;

	for (i = 1; i < NELEM(levels); i++)
		if (levels[i].prio == level)
			return levels[i].name;
	return "err";
}

static void
log_write(int prio, const char *fmt, va_list ap)
{
	char line[2048];
	time_t now;
	size_t i;
	int r;

	r = vsnprintf(line, sizeof(line), fmt, ap);
	if (r < 0)
		return;
	if ((size_t)r >= sizeof(line))		/* mark, don't hide, a cut */
		memcpy(line + sizeof(line) - 4, "...", 4);
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 32 || line[i] == 127)
			line[i] = '?';
	if (log_where & LOG_TO_SYSLOG)
		syslog(prio, "%s", line);
	if (log_where & (LOG_TO_STDERR | LOG_TO_FILE)) {
		if (log_pid == 0)
			log_pid = (long)getpid();
		now = time(NULL);
		if (now != stamp_time) {
			stamp_time = now;
			if (strftime(stamp_text, sizeof(stamp_text),
			    "%Y-%m-%d %H:%M:%S", localtime(&now)) == 0)
				stamp_text[0] = '\0';
		}
		if (log_where & LOG_TO_STDERR)
			fprintf(stderr, "%s %s[%ld]: %s\n", stamp_text,
			    log_ident, log_pid, line);
		if (log_fp != NULL) {
			fprintf(log_fp, "%s %s[%ld]: %s\n", stamp_text,
			    log_ident, log_pid, line);
			fflush(log_fp);
		}
	}
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	log_write(prio, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, prio)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	if (prio > log_max)				\
		return;					\
	va_start(ap, fmt);				\
	log_write(prio, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_notice, LOG_NOTICE)
LOG_FN(warn, LOG_WARNING)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_CRIT, fmt, ap);
	va_end(ap);
	abort();
}

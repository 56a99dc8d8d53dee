/*
 * log.h - logging and the three kinds of error (STYLE.md habit 11):
 * fatal() cannot go on and exits, panic() is our bug and aborts,
 * warn() logs and carries on.  Lines go to syslog (LOG_MAIL) in daemon
 * mode, to stderr in the foreground, and also to a file in a sandbox.
 */
#ifndef YUBIN_LOG_H
#define YUBIN_LOG_H

#include "yubin.h"
#include <syslog.h>

#define LOG_TO_SYSLOG	1
#define LOG_TO_STDERR	2
#define LOG_TO_FILE	4

/* ident is the program name; file is used with LOG_TO_FILE. */
int log_open(const char *ident, int where, const char *file);
void log_close(void);
/* Messages above this syslog priority (LOG_ERR ... LOG_DEBUG) are dropped. */
void log_set_level(int level);
int log_level_parse(const char *name);	/* "info" -> LOG_INFO, -1 if bad */
const char *log_level_name(int level);

void log_msg(int prio, const char *fmt, ...) PRINTFLIKE(2, 3);
void log_debug(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_notice(const char *fmt, ...) PRINTFLIKE(1, 2);
void warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void fatal(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;
void panic(const char *fmt, ...) PRINTFLIKE(1, 2) NORETURN;

#endif

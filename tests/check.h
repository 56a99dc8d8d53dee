/*
 * check.h - the smallest unit-test harness: CHECK(cond) records a failure
 * with file and line and goes on; check_exit() returns the automake exit
 * status (0 pass, 1 fail).
 */
#ifndef YUBIN_CHECK_H
#define YUBIN_CHECK_H

#include <stdio.h>

static int check_failed, check_run;

#define CHECK(cond) do {						\
	check_run++;							\
	if (!(cond)) {							\
		check_failed++;						\
		fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, \
		    #cond);						\
	}								\
} while (0)

static int
check_exit(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_run, check_failed);
	return check_failed ? 1 : 0;
}

#endif

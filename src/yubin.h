/*
 * yubin.h - what every source file of yubind includes first: config.h,
 * the compat layer and the portable attribute macros.
 */
#ifndef YUBIN_H
#define YUBIN_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"
#include "params.h"

#if defined(__GNUC__) && (__GNUC__ > 2 || (__GNUC__ == 2 && __GNUC_MINOR__ >= 7))
#define PRINTFLIKE(f, a)	__attribute__((format(printf, f, a)))
#define NORETURN		__attribute__((noreturn))
#define UNUSED			__attribute__((unused))
#else
#define PRINTFLIKE(f, a)
#define NORETURN
#define UNUSED
#endif

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#endif

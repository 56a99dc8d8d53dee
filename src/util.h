/*
 * util.h - small pure helpers shared by every module: checked number
 * parsing, memory allocation, string lists and network masks.
 */
#ifndef YUBIN_UTIL_H
#define YUBIN_UTIL_H

#include <stddef.h>

/*
 * Parse a decimal number made of digits only (no sign, no space, no
 * trailing junk) that is at most max.  Returns 0 and sets *out, or -1.
 * STYLE.md habit 6: every number from outside goes through this.
 */
int parse_ulong(const char *s, unsigned long max, unsigned long *out);
/* Same for a counted string (not NUL-terminated). */
int parse_ulong_n(const char *s, size_t len, unsigned long max,
    unsigned long *out);

/* malloc/realloc/strdup that end the program on exhaustion: for
 * configuration and start-up only; sessions use the checked forms. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* A growable list of strings (listen addresses, domains). */
struct strlist {
	char	**v;
	int	n;
};
void strlist_add(struct strlist *l, const char *s);
void strlist_free(struct strlist *l);
int strlist_has_nocase(const struct strlist *l, const char *s);

/* An address mask: "127.0.0.0/8", "::1", "192.168.1.5". */
struct netmask {
	int		family;		/* 4 or 6 */
	unsigned char	addr[16];
	int		bits;
};
struct netlist {
	struct netmask	*v;
	int		n;
};
int netmask_parse(const char *s, struct netmask *m);
/* A bare address into out[16]: returns 4 or 6, or -1. */
int ipaddr_parse(const char *s, unsigned char *out);
void netlist_add(struct netlist *l, const struct netmask *m);
void netlist_free(struct netlist *l);
/* addr is 4 or 16 bytes in network order, family 4 or 6.  An IPv4-mapped
 * IPv6 address matches IPv4 masks. */
int netlist_match(const struct netlist *l, int family,
    const unsigned char *addr);
/* Print a mask back as it would be written in the configuration. */
void netmask_format(const struct netmask *m, char *out, size_t outlen);

/* Case-insensitive ASCII comparison (strcasecmp is not C89). */
int ascii_casecmp(const char *a, const char *b);
/* The value of a hexadecimal digit (either case), or -1. */
int hex_value(int c);
/* The line feeds in p[0..n). */
unsigned long count_lf(const char *p, size_t n);
int ascii_ncasecmp(const char *a, const char *b, size_t n);

/* Milliseconds on a wrapping clock; compare only with ms_before(). */
unsigned long now_ms(void);
#define ms_before(a, b)	((long)((unsigned long)(a) - (unsigned long)(b)) < 0)

#endif

/*
 * rfc822.h - the little of RFC 5322 that local submission needs: the
 * header block of a message, and the addresses in To:/Cc:/Bcc: fields.
 */
#ifndef YUBIN_RFC822_H
#define YUBIN_RFC822_H

#include <stddef.h>

#include "util.h"

/*
 * Append to out the addr-specs of an address list (RFC 5322 3.4):
 * "Name <a@b>", "a@b (comment)", "\"q\" <a@b>", groups "team: a@b, c;".
 * Route parts of angle addresses are dropped.  Returns the number
 * added, or -1 on an unbalanced quote, bracket or comment.
 */
int rfc822_addresses(const char *text, size_t len, struct strlist *out);
/*
 * Whether the header line (a field's first line) has the given name:
 * "To", "Cc", ... case-insensitive, white space before ':' allowed.
 * Returns the offset of the field body, or 0 if it is another field.
 */
size_t rfc822_field(const char *line, size_t len, const char *name);

#endif

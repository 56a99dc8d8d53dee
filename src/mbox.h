/*
 * mbox.h - the mbox file format (RFC 4155, DESIGN.md "Mail store"):
 * opening a user's mailbox safely, and writing messages into it as
 * mail.local and Postfix local(8) do.
 */
#ifndef YUBIN_MBOX_H
#define YUBIN_MBOX_H

#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "user.h"

/*
 * Open path, the mailbox of u, for reading and writing; create it (owner
 * u, group mail, mode 0600) if missing and create is set.  Refuses
 * symbolic links, hard links, non-regular files and files owned by
 * someone else (errno EPERM), and files swapped between the check and
 * the open.  Returns the descriptor or -1 with errno.
 */
int mbox_open(const struct user *u, const char *path, int create);

/* "From sender Sun Nov 22 04:14:00 2026\n" (RFC 4155 From_ line). */
int mbox_from_line(struct buf *out, const char *sender, time_t t);
/*
 * Append text (LF line ends) to out with every line that begins with
 * "From " written as ">From " (mboxo quoting, as mail.local and
 * Postfix do), ending in a newline.
 */
int mbox_quote(struct buf *out, const char *text, size_t len);

#endif

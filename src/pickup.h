/*
 * pickup.h - the maildrop: where yubin-sendmail leaves a message when
 * the daemon is not running, and where the daemon picks it up.  One file
 * per message in queue_dir/maildrop (mode 1733: anyone may drop, nobody
 * may look), written to a dot-name, fsynced, then renamed.
 */
#ifndef YUBIN_PICKUP_H
#define YUBIN_PICKUP_H

#include "msg.h"
#include "util.h"

#define MAILDROP_DIR	"maildrop"

/* Client side: drop m (envelope sender in m) for rcpts.  0 or -1. */
int maildrop_write(struct msg *m, const struct strlist *rcpts);
/* Daemon side: make the directory (at start). */
int pickup_init(void);
/* Daemon side: take in what was dropped (from each queue run). */
void pickup_run(void);

#endif

/*
 * sendmail.h - the sendmail(1) interface of the one binary.
 */
#ifndef YUBIN_SENDMAIL_H
#define YUBIN_SENDMAIL_H

/* mode: 'm' (sendmail), 'p' (mailq), 'i' (newaliases). */
int sendmail_main(int argc, char **argv, int mode);

#endif

/* error.h - the one error convention of sbx: functions return -1 and fill an sbx_err. */
#ifndef SBX_ERROR_H
#define SBX_ERROR_H

#include <stddef.h>

typedef struct sbx_err
{
  int code;        /* errno of the failure, 0 when it was not a system error */
  char msg[1024];  /* what failed, on what, and why */
} sbx_err;

/* Fill ERR with a message built from FMT; when ERRNUM is non-zero append
   ": strerror(ERRNUM)".  Always returns -1 so callers can `return sbx_fail(...)`. */
int sbx_fail (sbx_err *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prefix the message already in ERR with context ("ctx: old message").  Returns -1. */
int sbx_wrap (sbx_err *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#endif

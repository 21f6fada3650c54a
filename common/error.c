/* error.c - building sbx_err messages. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
sbx_fail (sbx_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (err == NULL)
    return -1;
  va_start (ap, fmt);
  n = vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    err->msg[0] = '\0';
  err->code = errnum;
  if (errnum != 0)
    {
      size_t len = strlen (err->msg);
      snprintf (err->msg + len, sizeof err->msg - len, ": %s", strerror (errnum));
    }
  return -1;
}

int
sbx_wrap (sbx_err *err, const char *fmt, ...)
{
  char prefix[512], old[sizeof err->msg];
  va_list ap;

  if (err == NULL)
    return -1;
  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, err->msg, sizeof old);
  /* Truncation is acceptable: the head of the message says what failed. */
  if (snprintf (err->msg, sizeof err->msg, "%.400s: %.600s", prefix, old) < 0)
    err->msg[0] = '\0';
  return -1;
}

/* tap.h - a minimal TAP producer for sbx's C unit tests: one `ok`/`not ok` line per check, plan at the end. */
#ifndef SBX_TAP_H
#define SBX_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static void __attribute__ ((format (printf, 2, 3)))
tap_ok (int cond, const char *fmt, ...)
{
  va_list ap;

  printf ("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
  if (!cond)
    tap_failed++;
  fflush (stdout);
}

#define tap_is_str(got, want, ...)                                                                           \
  do                                                                                                         \
    {                                                                                                        \
      const char *_g = (got), *_w = (want);                                                                  \
      int _c = (_g && _w) ? strcmp (_g, _w) == 0 : _g == _w;                                                  \
      tap_ok (_c, __VA_ARGS__);                                                                              \
      if (!_c)                                                                                               \
        printf ("#   got:  %s\n#   want: %s\n", _g ? _g : "(null)", _w ? _w : "(null)");                      \
    }                                                                                                        \
  while (0)

static int
tap_done (void)
{
  printf ("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}

#endif

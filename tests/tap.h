/* tap.h - a minimal TAP producer for sbx's C unit tests: one `ok`/`not ok` line per check, plan at the end.
   What only some tests call is marked unused, so that the others build under -Werror. */
#ifndef SBX_TAP_H
#define SBX_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

/* Every line is flushed as it is written: a test that forks must not leave its children unwritten lines to print a
   second time. */
static void
tap_vline (const char *head, const char *fmt, va_list ap)
{
  fputs (head, stdout);
  vprintf (fmt, ap);
  printf ("\n");
  fflush (stdout);
}

static void __attribute__ ((format (printf, 2, 3)))
tap_ok (int cond, const char *fmt, ...)
{
  char head[32];
  va_list ap;

  snprintf (head, sizeof head, "%s %d - ", cond ? "ok" : "not ok", ++tap_n);
  va_start (ap, fmt);
  tap_vline (head, fmt, ap);
  va_end (ap);
  if (!cond)
    tap_failed++;
}

/* A line that is no check of its own: HEAD tells the harness what it is. */
static void __attribute__ ((format (printf, 2, 3), unused))
tap_line (const char *head, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  tap_vline (head, fmt, ap);
  va_end (ap);
}

/* A check this host cannot run still takes its number, so the plan is the same everywhere.  DESC may be NULL, as
   TAP's description is optional. */
static __attribute__ ((unused)) const char *
tap_skip_head (const char *desc)
{
  static char head[512];

  snprintf (head, sizeof head, "ok %d%s%s # SKIP ", ++tap_n, desc ? " - " : "", desc ? desc : "");
  return head;
}

/* tap_skip (DESC, FMT, ...): FMT and what follows give the reason. */
#define tap_skip(desc, ...) tap_line (tap_skip_head (desc), __VA_ARGS__)
#define tap_diag(...) tap_line ("# ", __VA_ARGS__)
/* The harness stops reading: what would follow cannot be trusted to mean anything. */
#define tap_bail(...) tap_line ("Bail out! ", __VA_ARGS__)

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

/* A count known in advance goes first, so a test that dies early shows how much it did not run. */
static void __attribute__ ((unused))
tap_plan (int n)
{
  printf ("1..%d\n", n);
  tap_planned = 1;
}

/* Nothing can run on this host: a plan of none, and a passing run. */
static int __attribute__ ((unused))
tap_skip_all (const char *why)
{
  printf ("1..0 # SKIP %s\n", why);
  return 0;
}

static int
tap_done (void)
{
  if (!tap_planned)
    printf ("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}

#endif

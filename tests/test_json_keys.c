/* test_json_keys.c - the colliding-key check on objects of every size: right answers, and cost that grows with the
   spec's size, not its square (issue 13: 20,000 annotation keys once cost 4 s per start). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../oci/json.h"
#include "tap.h"

/* An object of N keys of one length and first letter (the shape that defeated the old pairwise filter); EXTRA is
   appended as one more key when not NULL. */
static char *
object_of (size_t n, const char *extra)
{
  size_t size = n * 32 + 64, len = 0;
  char *s = malloc (size);

  len += snprintf (s + len, size - len, "{");
  for (size_t i = 0; i < n; i++)
    len += snprintf (s + len, size - len, "%s\"k%09zu\":\"v\"", i ? "," : "", i * 7919 % 1000000007);
  if (extra)
    len += snprintf (s + len, size - len, ",\"%s\":\"v\"", extra);
  snprintf (s + len, size - len, "}");
  return s;
}

static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The least CPU time of a few parses of an N-key object (the least is the one other processes disturbed least). */
static double
parse_cost (size_t n)
{
  char *doc = object_of (n, NULL);
  double best = 1e9;

  for (int r = 0; r < 5; r++)
    {
      json_t *v = NULL;
      sbx_err err;
      double t0 = cpu_now ();
      if (json_parse (doc, strlen (doc), "spec", &v, &err) < 0)
        tap_ok (0, "parse %zu keys: %s", n, err.msg);
      double t = cpu_now () - t0;
      json_free (v);
      best = t < best ? t : best;
    }
  free (doc);
  return best;
}

static bool
refused (const char *doc, const char *want)
{
  json_t *v = NULL;
  sbx_err err;
  int rc = json_parse (doc, strlen (doc), "spec", &v, &err);
  json_free (v);
  return rc < 0 && (want == NULL || strstr (err.msg, want));
}

int
main (void)
{
  char *doc;
  double t1, t4;

  doc = object_of (100, NULL);
  tap_ok (!refused (doc, NULL), "100 distinct keys pass");
  free (doc);
  doc = object_of (100, "K000000000");
  tap_ok (refused (doc, "\"k000000000\" and \"K000000000\" collide"), "a key differing only in case among 100 is refused, "
          "both named");
  free (doc);
  doc = object_of (50, "\xe2\x84\xaa" "000000000"); /* KELVIN SIGN folds to K under Go */
  tap_ok (refused (doc, "collide"), "a key Go folds onto another (U+212A) among 50 is refused");
  free (doc);
  doc = object_of (9, "k000000000");
  tap_ok (refused (doc, "collide"), "an exact duplicate among 10 is refused");
  free (doc);
  tap_ok (refused ("{\"a\":1,\"A\":2}", "collide") && !refused ("{\"a\":1,\"b\":2}", NULL),
          "small objects: the same answers");

  /* n and 4n keys in one run: a quadratic check costs 16 times more, a linear (or n log n) one about 4-5 times. */
  t1 = parse_cost (4000);
  t4 = parse_cost (16000);
  tap_ok (t4 < 8 * t1 + 0.002, "cost of 16,000 keys is %.1f times that of 4,000 (%.4f s, %.4f s): not quadratic",
          t4 / (t1 > 0 ? t1 : 1e-9), t1, t4);
  return tap_done ();
}

/* json_keys.c - object keys as runc and crun read them: Go's encoding/json matches keys without regard to case,
   so two keys that fold alike would be one key to the delegate and two to sbx.  Such objects are refused. */
#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The next character of S under Go's key folding (encoding/json folds ASCII case, and since Go 1.21 maps each
   rune through ToUpper(ToLower(r)), which turns U+017F, U+212A, U+0130 and U+0131 into ASCII letters).  Returns
   the folded byte and advances *S; non-ASCII runes that do not fold to ASCII are returned byte by byte. */
static int
fold_next (const unsigned char **s)
{
  const unsigned char *p = *s;

  if (p[0] >= 'a' && p[0] <= 'z')
    return (*s)++, p[0] - 'a' + 'A';
  if (p[0] == 0xc5 && p[1] == 0xbf) /* U+017F LATIN SMALL LETTER LONG S */
    return *s += 2, 'S';
  if (p[0] == 0xc4 && (p[1] == 0xb0 || p[1] == 0xb1)) /* U+0130, U+0131 dotted/dotless I */
    return *s += 2, 'I';
  if (p[0] == 0xe2 && p[1] == 0x84 && p[2] == 0xaa) /* U+212A KELVIN SIGN */
    return *s += 3, 'K';
  return (*s)++, p[0];
}

bool
json_key_eq (const char *a, const char *b)
{
  const unsigned char *x = (const unsigned char *) a, *y = (const unsigned char *) b;

  while (*x && *y)
    if (fold_next (&x) != fold_next (&y))
      return false;
  return *x == '\0' && *y == '\0';
}

/* Each key folded once to the string Go compares; sorting the folded strings puts colliding keys side by side.
   The cost is the folded bytes plus n log n comparisons: a spec of 20,000 annotation keys costs as many steps as
   its size, where comparing every pair cost seconds (issue 13). */
struct folded
{
  const char *s;
  size_t index;
};

static int
cmp_folded (const void *a, const void *b)
{
  const struct folded *x = a, *y = b;
  int c = strcmp (x->s, y->s);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

int
json_check_keys (char **keys, size_t n, const char *what, sbx_err *err)
{
  struct folded *f = NULL;
  char *buf = NULL, *w;
  size_t total = 0;
  int rc = 0;

  if (n < 2)
    return 0;
  if (n <= 8)
    {
      /* Small objects (nearly all of them): pairs are cheaper than allocating. */
      for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
          if (json_key_eq (keys[i], keys[j]))
            return sbx_fail (err, EINVAL, "%s: keys \"%s\" and \"%s\" collide (duplicate or differing only in case)",
                             what, keys[j], keys[i]);
      return 0;
    }
  for (size_t i = 0; i < n; i++)
    total += strlen (keys[i]) + 1; /* folding never lengthens a key */
  f = malloc (n * sizeof *f);
  w = buf = malloc (total);
  if (f == NULL || buf == NULL)
    {
      rc = sbx_fail (err, ENOMEM, "%s", what);
      goto out;
    }
  for (size_t i = 0; i < n; i++)
    {
      const unsigned char *p = (const unsigned char *) keys[i];
      f[i] = (struct folded){ .s = w, .index = i };
      while (*p)
        *w++ = (char) fold_next (&p);
      *w++ = '\0';
    }
  qsort (f, n, sizeof *f, cmp_folded);
  for (size_t i = 1; i < n; i++)
    if (strcmp (f[i - 1].s, f[i].s) == 0)
      {
        rc = sbx_fail (err, EINVAL, "%s: keys \"%s\" and \"%s\" collide (duplicate or differing only in case)", what,
                       keys[f[i - 1].index], keys[f[i].index]);
        break;
      }
out:
  free (f);
  free (buf);
  return rc;
}

/* json_keys.c - object keys as runc and crun read them: Go's encoding/json matches keys without regard to case,
   so two keys that fold alike would be one key to the delegate and two to sbx.  Such objects are refused. */
#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <stdlib.h>

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

/* Go reads two keys of one object as the same field when they fold to the same string; a cheap signature of the
   folded key (its length and first folded byte) lets json_check_keys compare most pairs without folding them. */
static unsigned
fold_sig (const char *k)
{
  const unsigned char *p = (const unsigned char *) k;
  unsigned n = 0, first = *p ? (unsigned) fold_next (&p) : 0;

  if (first)
    n = 1;
  while (*p)
    fold_next (&p), n++;
  return (n << 8) | first;
}

int
json_check_keys (char **keys, size_t n, const char *what, sbx_err *err)
{
  unsigned sigs[64], *sig = n <= 64 ? sigs : malloc (n * sizeof *sig);

  if (sig == NULL)
    return sbx_fail (err, ENOMEM, "%s", what);
  for (size_t i = 0; i < n; i++)
    {
      sig[i] = fold_sig (keys[i]);
      for (size_t j = 0; j < i; j++)
        if (sig[i] == sig[j] && json_key_eq (keys[i], keys[j]))
          {
            sbx_fail (err, EINVAL, "%s: keys \"%s\" and \"%s\" collide (duplicate or differing only in case)", what,
                      keys[j], keys[i]);
            if (sig != sigs)
              free (sig);
            return -1;
          }
    }
  if (sig != sigs)
    free (sig);
  return 0;
}

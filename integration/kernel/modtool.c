/* modtool - guest-only helper of the kernel tier: makes an unsigned (and, with --out-of-tree, externally built)
   copy of a distribution module, so that `sbx doctor --host` has a real E- and O-tainted module to find.
   usage: modtool IN.ko OUT.ko [--out-of-tree]
   Unsigned: the appended signature (module data, PKCS#7 blob, struct module_signature whose last 4 bytes are the
   blob's big-endian length, the "~Module signature appended~\n" marker) is cut off.  Out of tree: the modinfo
   string "intree=Y" becomes "xntree=Y", so the kernel finds no intree tag. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKER "~Module signature appended~\n"

int
main (int argc, char **argv)
{
  static char buf[64 << 20];
  size_t n, ml = sizeof MARKER - 1;
  FILE *in, *out;

  if (argc < 3 || (in = fopen (argv[1], "rb")) == NULL)
    return fprintf (stderr, "usage: modtool IN.ko OUT.ko [--out-of-tree]\n"), 2;
  n = fread (buf, 1, sizeof buf, in);
  fclose (in);
  if (n > ml + 12 && memcmp (buf + n - ml, MARKER, ml) == 0)
    {
      const unsigned char *s = (const unsigned char *) buf + n - ml - 4;
      size_t sig = ((size_t) s[0] << 24) | ((size_t) s[1] << 16) | ((size_t) s[2] << 8) | s[3];
      if (sig + 12 + ml > n)
        return fprintf (stderr, "modtool: %s: bad signature length\n", argv[1]), 1;
      n -= sig + 12 + ml;
    }
  else
    fprintf (stderr, "modtool: %s carries no signature\n", argv[1]);
  if (argc > 3 && strcmp (argv[3], "--out-of-tree") == 0)
    {
      char *p = memmem (buf, n, "intree=Y", 9);
      if (p == NULL)
        return fprintf (stderr, "modtool: %s has no intree tag\n", argv[1]), 1;
      p[0] = 'x';
    }
  if ((out = fopen (argv[2], "wb")) == NULL || fwrite (buf, 1, n, out) != n || fclose (out) != 0)
    return perror (argv[2]), 1;
  return 0;
}

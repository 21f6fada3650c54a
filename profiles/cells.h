/* cells.h - argument-value sets for the merge (cells.c). */
#ifndef SBX_CELLS_H
#define SBX_CELLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* lo <= x <= hi && (x & m) == v */
struct sbx_atom
{
  uint64_t lo, hi, m, v;
};

#define SBX_SET_MAX 64
/* A union of disjoint atoms. */
struct sbx_set
{
  unsigned n;
  struct sbx_atom a[SBX_SET_MAX];
};

/* The values C accepts (or, NEGATE, refuses); false when that takes more than SBX_SET_MAX atoms. */
bool sbx_set_of_cmp (const struct sbx_cmp *c, bool negate, struct sbx_set *s);
/* A ∩ B; false on overflow. */
bool sbx_set_and (const struct sbx_set *a, const struct sbx_set *b, struct sbx_set *out);
/* S as disjoint single comparisons of argument IDX (op 0: any value); false past MAX. */
bool sbx_set_cmps (const struct sbx_set *s, unsigned idx, struct sbx_cmp *out, size_t *n, size_t max);
/* The smallest value of S not above LIMIT. */
bool sbx_set_min (const struct sbx_set *s, uint64_t limit, uint64_t *min);
bool sbx_atom_min (const struct sbx_atom *a, uint64_t *min);

#endif

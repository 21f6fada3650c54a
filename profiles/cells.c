/* cells.c - sets of 64-bit argument values as unions of disjoint atoms, for the merge: split by comparisons, tested
   for emptiness, and written back as single libseccomp comparisons.

   An atom is "lo <= x <= hi and (x & m) == v".  Every comparison and its negation is a union of disjoint atoms,
   atoms intersect into atoms, so every cell of a partition by any comparisons is a union of disjoint atoms; and
   every atom is exactly a union of disjoint single comparisons (a prefix split of the interval, as CIDR blocks,
   where one comparison cannot say it). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cells.h"

/* The smallest x >= LO with (x & M) == V; false when there is none. */
static bool
next_match (uint64_t lo, uint64_t m, uint64_t v, uint64_t *out)
{
  uint64_t x = (lo & ~m) | v, above, cand, c;
  int b;

  if (v & ~m)
    return false;
  if (x == lo)
    return *out = x, true;
  b = 63 - __builtin_clzll (x ^ lo); /* the highest differing bit is a fixed one */
  if (x > lo)
    {
      /* X already exceeds LO at bit B: the free bits below it can all be 0. */
      *out = x & ~((b ? (UINT64_C (1) << b) - 1 : 0) & ~m);
      return true;
    }
  /* LO has the 1 at B: raise the lowest free bit above B that LO has clear, and clear the free bits below it. */
  above = b == 63 ? 0 : ~((UINT64_C (2) << b) - 1);
  cand = ~m & ~lo & above;
  if (cand == 0)
    return false;
  c = cand & -cand;
  *out = (lo & ~m & ~(c | (c - 1))) | c | v;
  return true;
}

bool
sbx_atom_min (const struct sbx_atom *a, uint64_t *min)
{
  uint64_t x;

  if (a->lo > a->hi || !next_match (a->lo, a->m, a->v, &x) || x > a->hi)
    return false;
  *min = x;
  return true;
}

static bool
atom_and (const struct sbx_atom *a, const struct sbx_atom *b, struct sbx_atom *out)
{
  uint64_t x;

  if ((a->v & b->m) != (b->v & a->m))
    return false;
  out->lo = a->lo > b->lo ? a->lo : b->lo;
  out->hi = a->hi < b->hi ? a->hi : b->hi;
  out->m = a->m | b->m;
  out->v = a->v | b->v;
  return sbx_atom_min (out, &x);
}

static bool
push (struct sbx_set *s, uint64_t lo, uint64_t hi, uint64_t m, uint64_t v)
{
  struct sbx_atom a = { lo, hi, m, v };
  uint64_t x;

  if (!sbx_atom_min (&a, &x))
    return true;
  if (s->n == SBX_SET_MAX)
    return false;
  s->a[s->n++] = a;
  return true;
}

bool
sbx_set_of_cmp (const struct sbx_cmp *c, bool negate, struct sbx_set *s)
{
  const uint64_t M = UINT64_MAX;
  uint64_t x = c->value;
  enum sbx_cmp_op op = c->op;

  s->n = 0;
  if (op == SBX_CMP_MASKED_EQ)
    {
      /* libseccomp compiles MASKED_EQ as (x & mask) == (value & mask): bits of the value outside the mask never
         count (so such a comparison is not the empty set it would be read literally). */
      uint64_t m = c->value, v = c->value_two & m;
      if (!negate)
        return push (s, 0, M, m, v);
      /* Not equal under the mask: the first differing bit, from the top, is each disjoint case. */
      for (int b = 63; b >= 0; b--)
        {
          uint64_t bit = UINT64_C (1) << b, high = m & ~((bit << 1) - 1);
          if (b == 63)
            high = 0;
          if ((m & bit) && !push (s, 0, M, high | bit, (v & high) | (~v & bit)))
            return false;
        }
      return true;
    }
  if (negate)
    {
      static const enum sbx_cmp_op inv[] = { 0,           SBX_CMP_EQ, SBX_CMP_GE, SBX_CMP_GT,
                                             SBX_CMP_NE,  SBX_CMP_LT, SBX_CMP_LE, 0 };
      op = inv[op];
    }
  switch (op)
    {
    case SBX_CMP_EQ: return push (s, x, x, 0, 0);
    case SBX_CMP_NE: return (x == 0 || push (s, 0, x - 1, 0, 0)) && (x == M || push (s, x + 1, M, 0, 0));
    case SBX_CMP_LT: return x == 0 || push (s, 0, x - 1, 0, 0);
    case SBX_CMP_LE: return push (s, 0, x, 0, 0);
    case SBX_CMP_GT: return x == M || push (s, x + 1, M, 0, 0);
    case SBX_CMP_GE: return push (s, x, M, 0, 0);
    default: return false;
    }
}

bool
sbx_set_and (const struct sbx_set *a, const struct sbx_set *b, struct sbx_set *out)
{
  out->n = 0;
  for (unsigned i = 0; i < a->n; i++)
    for (unsigned j = 0; j < b->n; j++)
      {
        struct sbx_atom x;
        if (!atom_and (&a->a[i], &b->a[j], &x))
          continue;
        if (out->n == SBX_SET_MAX)
          return false;
        out->a[out->n++] = x;
      }
  return true;
}

static bool
put (struct sbx_cmp *out, size_t *n, size_t max, unsigned idx, enum sbx_cmp_op op, uint64_t a, uint64_t b)
{
  if (*n == max)
    return false;
  out[(*n)++] = (struct sbx_cmp){ .idx = idx, .op = op, .value = a, .value_two = b };
  return true;
}

static bool
put_pattern (struct sbx_cmp *out, size_t *n, size_t max, unsigned idx, uint64_t m, uint64_t v)
{
  if (m == UINT64_MAX)
    return put (out, n, max, idx, SBX_CMP_EQ, v, 0);
  return put (out, n, max, idx, SBX_CMP_MASKED_EQ, m, v);
}

/* One atom as disjoint single comparisons; op 0 (with *N 1) means "any value". */
static bool
atom_cmps (const struct sbx_atom *a, unsigned idx, struct sbx_cmp *out, size_t *n, size_t max)
{
  const uint64_t M = UINT64_MAX;
  uint64_t lo = a->lo;

  if (a->m == 0 && lo == 0 && a->hi == M)
    return put (out, n, max, idx, 0, 0, 0);
  if (a->m == 0 && (lo == a->hi || lo == 0 || a->hi == M))
    return put (out, n, max, idx, lo == a->hi ? SBX_CMP_EQ : lo == 0 ? SBX_CMP_LE : SBX_CMP_GE,
                lo == 0 ? a->hi : lo, 0);
  if (a->m && a->v >= lo && (a->v | ~a->m) <= a->hi)
    return put_pattern (out, n, max, idx, a->m, a->v);
  /* The interval as aligned power-of-two blocks, each a mask comparison, each met with the atom's own mask. */
  for (;;)
    {
      int k = lo ? __builtin_ctzll (lo) : 63;
      uint64_t span;
      struct sbx_atom blk, x;

      while (k > 0 && (lo + ((UINT64_C (1) << k) - 1) < lo || lo + ((UINT64_C (1) << k) - 1) > a->hi))
        k--;
      span = (UINT64_C (1) << k) - 1;
      blk = (struct sbx_atom){ .lo = 0, .hi = M, .m = ~span, .v = lo };
      x = (struct sbx_atom){ .lo = 0, .hi = M, .m = a->m, .v = a->v };
      if (atom_and (&blk, &x, &x) && !put_pattern (out, n, max, idx, x.m, x.v))
        return false;
      if (lo + span >= a->hi)
        return true;
      lo += span + 1;
    }
}

bool
sbx_set_cmps (const struct sbx_set *s, unsigned idx, struct sbx_cmp *out, size_t *n, size_t max)
{
  *n = 0;
  for (unsigned i = 0; i < s->n; i++)
    if (!atom_cmps (&s->a[i], idx, out, n, max))
      return false;
  return true;
}

bool
sbx_set_min (const struct sbx_set *s, uint64_t limit, uint64_t *min)
{
  bool found = false;

  for (unsigned i = 0; i < s->n; i++)
    {
      uint64_t x;
      if (sbx_atom_min (&s->a[i], &x) && x <= limit && (!found || x < *min))
        *min = x, found = true;
    }
  return found;
}

/* merge.c - engine ∩ sbx: one filter that refuses whatever either filter refuses, in a form libseccomp takes.

   For each syscall each side is "some conditional rules, else a fallback" (the fallback is the side's
   unconditional rule or its default; libseccomp lets an unconditional rule absorb conditional ones, so a side
   with both is read as the unconditional rule, as the delegates would run it).  The exact intersection is, per
   region of the arguments, the more restrictive action of the two sides.  libseccomp cannot give one syscall
   overlapping rules with different actions, nor conditional rules with a fallback other than the filter's
   default; where the exact answer needs that, the result refuses more (never less) and says so in the notes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "profile.h"

struct cand
{
  struct sbx_action act;
  unsigned ncmp;
  struct sbx_cmp cmp[6];
  bool dead;
  /* A pair is exact: both sides' rules hold.  A background is one side's rule with the other side's fallback;
     it only holds where none of the other side's rules does, so pairs take precedence over it. */
  bool pair;
};

struct side
{
  struct sbx_action fb;
  const struct sbx_rule *cond[256];
  size_t ncond;
};

/* The more restrictive of E and S; on a tie the engine's data (its errno) is kept. */
static struct sbx_action
mr (const struct sbx_action *e, const struct sbx_action *s)
{
  return s->kind > e->kind ? *s : *e;
}

static void
note (char *notes, size_t size, const char *fmt, ...)
{
  size_t used;
  va_list ap;

  if (notes == NULL || size == 0)
    return;
  used = strlen (notes);
  if (used + 2 >= size)
    return;
  if (used)
    notes[used++] = ' ', notes[used] = '\0';
  va_start (ap, fmt);
  vsnprintf (notes + used, size - used, fmt, ap);
  va_end (ap);
}

static bool
eval (const struct sbx_cmp *c, uint64_t x)
{
  switch (c->op)
    {
    case SBX_CMP_NE: return x != c->value;
    case SBX_CMP_LT: return x < c->value;
    case SBX_CMP_LE: return x <= c->value;
    case SBX_CMP_EQ: return x == c->value;
    case SBX_CMP_GE: return x >= c->value;
    case SBX_CMP_GT: return x > c->value;
    case SBX_CMP_MASKED_EQ: return (x & c->value) == c->value_two;
    }
  return false;
}

/* [lo, hi] of a range comparison; false when C is not one (NE, MASKED_EQ) or matches nothing. */
static bool
interval (const struct sbx_cmp *c, uint64_t *lo, uint64_t *hi, bool *empty)
{
  *empty = false;
  *lo = 0, *hi = UINT64_MAX;
  switch (c->op)
    {
    case SBX_CMP_EQ: *lo = *hi = c->value; return true;
    case SBX_CMP_LT: *empty = c->value == 0; *hi = c->value - 1; return true;
    case SBX_CMP_LE: *hi = c->value; return true;
    case SBX_CMP_GT: *empty = c->value == UINT64_MAX; *lo = c->value + 1; return true;
    case SBX_CMP_GE: *lo = c->value; return true;
    default: return false;
    }
}

static bool
disjoint (const struct sbx_cmp *x, const struct sbx_cmp *y)
{
  uint64_t l1, h1, l2, h2;
  bool e1, e2;

  if (x->op == SBX_CMP_EQ)
    return !eval (y, x->value);
  if (y->op == SBX_CMP_EQ)
    return !eval (x, y->value);
  if (x->op == SBX_CMP_MASKED_EQ && y->op == SBX_CMP_MASKED_EQ)
    return (x->value_two & x->value & y->value) != (y->value_two & x->value & y->value);
  if (interval (x, &l1, &h1, &e1) && interval (y, &l2, &h2, &e2))
    return e1 || e2 || h1 < l2 || h2 < l1;
  return false;
}

static bool
may_overlap (const struct cand *a, const struct cand *b)
{
  for (unsigned i = 0; i < a->ncmp; i++)
    for (unsigned j = 0; j < b->ncmp; j++)
      if (a->cmp[i].idx == b->cmp[j].idx && disjoint (&a->cmp[i], &b->cmp[j]))
        return false;
  return true;
}

enum
{
  CONJ_OK,
  CONJ_UNSAT,   /* no argument values satisfy both */
  CONJ_INEXACT, /* satisfiable, but one argument would need two comparisons (runc and crun read that as "or") */
};

/* Both comparisons on one argument as one comparison in *OUT. */
static int
combine (const struct sbx_cmp *a, const struct sbx_cmp *b, struct sbx_cmp *out)
{
  uint64_t l1, h1, l2, h2;
  bool e1, e2;

  if (a->op == b->op && a->value == b->value && a->value_two == b->value_two)
    return *out = *a, CONJ_OK;
  if (a->op == SBX_CMP_EQ)
    return eval (b, a->value) ? (*out = *a, CONJ_OK) : CONJ_UNSAT;
  if (b->op == SBX_CMP_EQ)
    return eval (a, b->value) ? (*out = *b, CONJ_OK) : CONJ_UNSAT;
  if (a->op == SBX_CMP_MASKED_EQ && b->op == SBX_CMP_MASKED_EQ)
    {
      if ((a->value_two & ~a->value) || (b->value_two & ~b->value)
          || (a->value_two & b->value) != (b->value_two & a->value))
        return CONJ_UNSAT;
      *out = *a;
      out->value = a->value | b->value;
      out->value_two = a->value_two | b->value_two;
      return CONJ_OK;
    }
  if (interval (a, &l1, &h1, &e1) && interval (b, &l2, &h2, &e2))
    {
      if (e1 || e2 || h1 < l2 || h2 < l1)
        return CONJ_UNSAT;
      if (l1 >= l2 && h1 <= h2)
        return *out = *a, CONJ_OK;
      if (l2 >= l1 && h2 <= h1)
        return *out = *b, CONJ_OK;
      return CONJ_INEXACT;
    }
  if (a->op == SBX_CMP_NE && interval (b, &l2, &h2, &e2))
    return e2 ? CONJ_UNSAT : (a->value < l2 || a->value > h2) ? (*out = *b, CONJ_OK) : CONJ_INEXACT;
  if (b->op == SBX_CMP_NE && interval (a, &l1, &h1, &e1))
    return e1 ? CONJ_UNSAT : (b->value < l1 || b->value > h1) ? (*out = *a, CONJ_OK) : CONJ_INEXACT;
  return CONJ_INEXACT;
}

static int
conjoin (const struct sbx_rule *a, const struct sbx_rule *b, struct cand *out)
{
  out->ncmp = a->ncmp;
  memcpy (out->cmp, a->cmp, a->ncmp * sizeof *a->cmp);
  for (unsigned j = 0; j < b->ncmp; j++)
    {
      unsigned i;
      for (i = 0; i < out->ncmp; i++)
        if (out->cmp[i].idx == b->cmp[j].idx)
          break;
      if (i == out->ncmp)
        out->cmp[out->ncmp++] = b->cmp[j];
      else
        {
          int r = combine (&out->cmp[i], &b->cmp[j], &out->cmp[i]);
          if (r != CONJ_OK)
            return r;
        }
    }
  return CONJ_OK;
}

static void
side_of (const struct sbx_filter *f, const struct sbx_rule *const *rules, size_t n, struct side *s)
{
  bool uncond = false;

  s->fb = f->def;
  s->ncond = 0;
  for (size_t i = 0; i < n; i++)
    if (rules[i]->ncmp == 0)
      {
        /* Two unconditional rules with different actions make libseccomp fail; take the stricter. */
        s->fb = uncond ? mr (&s->fb, &rules[i]->act) : rules[i]->act;
        uncond = true;
      }
    else if (s->ncond < SBX_ARRAY_SIZE (s->cond))
      s->cond[s->ncond++] = rules[i];
  if (uncond)
    s->ncond = 0;
}

static bool
same_class (const struct sbx_action *a, const struct sbx_action *b)
{
  return a->kind == b->kind;
}

static bool
negatable (const struct sbx_cmp *c, struct sbx_cmp *neg)
{
  static const enum sbx_cmp_op inv[] = { 0, SBX_CMP_EQ, SBX_CMP_GE, SBX_CMP_GT, SBX_CMP_NE, SBX_CMP_LT, SBX_CMP_LE, 0 };

  if (inv[c->op] == 0)
    return false;
  *neg = *c;
  neg->op = inv[c->op];
  return true;
}

static int
emit (struct sbx_filter *out, const char *name, const struct sbx_action *act, const struct sbx_cmp *cmp,
      unsigned ncmp, sbx_err *err)
{
  return sbx_filter_add_rule (out, name, act, cmp, ncmp, NULL, err);
}

/* The candidates of one syscall: every region where the two sides' rules meet. */
static size_t
regions (const struct side *e, const struct side *s, struct cand *c, size_t max, const struct sbx_action *dflt,
         const char *name, char *notes, size_t notes_size)
{
  size_t n = 0;

  for (size_t i = 0; i < e->ncond; i++)
    for (size_t j = 0; j < s->ncond && n < max; j++)
      {
        struct cand x = { .act = mr (&e->cond[i]->act, &s->cond[j]->act), .pair = true };
        int r = conjoin (e->cond[i], s->cond[j], &x);
        if (r == CONJ_UNSAT)
          continue;
        if (r == CONJ_INEXACT)
          {
            note (notes, notes_size, "%s: two comparisons of one argument cannot be combined;", name);
            if (x.act.kind <= dflt->kind)
              continue; /* the region falls to the default, which refuses at least as much */
            x.ncmp = e->cond[i]->ncmp; /* a larger region with the stricter action */
            memcpy (x.cmp, e->cond[i]->cmp, x.ncmp * sizeof x.cmp[0]);
          }
        c[n++] = x;
      }
  for (size_t i = 0; i < e->ncond && n < max; i++)
    {
      c[n] = (struct cand){ .act = mr (&e->cond[i]->act, &s->fb), .ncmp = e->cond[i]->ncmp };
      memcpy (c[n].cmp, e->cond[i]->cmp, c[n].ncmp * sizeof c[n].cmp[0]);
      n++;
    }
  for (size_t j = 0; j < s->ncond && n < max; j++)
    {
      c[n] = (struct cand){ .act = mr (&e->fb, &s->cond[j]->act), .ncmp = s->cond[j]->ncmp };
      memcpy (c[n].cmp, s->cond[j]->cmp, c[n].ncmp * sizeof c[n].cmp[0]);
      n++;
    }
  return n;
}

/* Every argument value A matches is matched by B (B's comparisons are a subset of A's). */
static bool
implies (const struct cand *a, const struct cand *b)
{
  for (unsigned j = 0; j < b->ncmp; j++)
    {
      bool found = false;
      for (unsigned i = 0; i < a->ncmp && !found; i++)
        found = memcmp (&a->cmp[i], &b->cmp[j], sizeof a->cmp[i]) == 0;
      if (!found)
        return false;
    }
  return true;
}

static bool
same_cmps (const struct cand *a, const struct cand *b)
{
  return a->ncmp == b->ncmp && memcmp (a->cmp, b->cmp, a->ncmp * sizeof a->cmp[0]) == 0;
}

static int
merge_one (const char *name, const struct side *e, const struct side *s, const struct sbx_action *dflt,
           struct sbx_filter *out, char *notes, size_t notes_size, sbx_err *err)
{
  struct sbx_action f = mr (&e->fb, &s->fb);
  struct cand c[512];
  size_t n;

  if (e->ncond == 0 && s->ncond == 0)
    return sbx_action_eq (&f, dflt) ? 0 : emit (out, name, &f, NULL, 0, err);

  n = regions (e, s, c, SBX_ARRAY_SIZE (c), dflt, name, notes, notes_size);
  /* A fallback that refuses like the default (another errno) is left to the default: still refused, with the
     errno of the default (the engine's when both refuse by default). */
  /* When the fallback is the engine's own refusal its errno must survive exactly; only a refusal that is sbx's
     alone may take the default's errno. */
  if (e->fb.kind >= SBX_ACT_ERRNO ? !sbx_action_eq (&f, dflt) : !same_class (&f, dflt))
    {
      struct sbx_action worst = f;
      size_t differing = 0, last = 0;
      struct sbx_cmp neg;

      for (size_t i = 0; i < n; i++)
        {
          worst = mr (&worst, &c[i].act);
          if (!same_class (&c[i].act, &f))
            differing++, last = i;
        }
      if (worst.kind == f.kind) /* every region is at most as strict as the fallback: one rule is exact or stricter */
        return emit (out, name, &f, NULL, 0, err);
      if (differing == 1 && c[last].ncmp == 1 && negatable (&c[last].cmp[0], &neg))
        {
          /* "f unless the one comparison holds" is two disjoint rules. */
          if (!sbx_action_eq (&c[last].act, dflt) && emit (out, name, &c[last].act, c[last].cmp, 1, err) < 0)
            return -1;
          return emit (out, name, &f, &neg, 1, err);
        }
      note (notes, notes_size, "%s: refused as %s everywhere (no exact libseccomp form);", name,
            worst.kind == SBX_ACT_ERRNO ? "errno" : "stricter action");
      return emit (out, name, &worst, NULL, 0, err);
    }

  /* The fallback is the filter's default: emit the regions that differ from it, without conflicts. */
  for (size_t i = 0; i < n; i++)
    {
      c[i].dead = sbx_action_eq (&c[i].act, dflt);
      for (size_t j = 0; j < i && !c[i].dead; j++)
        if (!c[j].dead && same_cmps (&c[i], &c[j]) && sbx_action_eq (&c[i].act, &c[j].act))
          c[j].pair |= c[i].pair, c[i].dead = true;
    }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n && !c[i].dead; j++)
      {
        struct cand *p = &c[i], *b = &c[j];

        if (i == j || b->dead || sbx_action_eq (&p->act, &b->act) || !may_overlap (p, b))
          continue;
        if (p->pair && !b->pair)
          {
            /* The background gives way where the pair holds: drop it when it lies inside the pair, or when
               what it refuses the default refuses too. */
            if (implies (b, p) || same_class (&b->act, dflt))
              {
                b->dead = true;
                continue;
              }
          }
        else if (!p->pair && !b->pair)
          {
            if (same_class (&b->act, dflt))
              {
                b->dead = true;
                continue;
              }
            if (same_class (&p->act, dflt))
              {
                p->dead = true;
                continue;
              }
          }
        else if (!p->pair && b->pair)
          continue; /* handled when the loop reaches the pair */
        note (notes, notes_size, "%s: overlapping argument rules raised to the stricter action;", name);
        p->act = b->act = mr (&p->act, &b->act);
      }
  /* libseccomp refuses a rule more specific than one with the same action: the general one covers it. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n && !c[i].dead; j++)
      if (i != j && !c[j].dead && sbx_action_eq (&c[i].act, &c[j].act) && implies (&c[i], &c[j]))
        c[i].dead = true;
  for (size_t i = 0; i < n; i++)
    if (!c[i].dead && emit (out, name, &c[i].act, c[i].cmp, c[i].ncmp, err) < 0)
      return -1;
  return 0;
}

static int
by_name (const void *a, const void *b)
{
  const struct sbx_rule *x = *(const struct sbx_rule *const *) a, *y = *(const struct sbx_rule *const *) b;
  int r = strcmp (x->name, y->name);
  return r ? r : (x < y ? -1 : x > y);
}

static const struct sbx_rule **
sorted (const struct sbx_filter *f)
{
  const struct sbx_rule **v = malloc ((f->nrules + 1) * sizeof *v);

  if (v == NULL)
    return NULL;
  for (size_t i = 0; i < f->nrules; i++)
    v[i] = &f->rules[i];
  qsort (v, f->nrules, sizeof *v, by_name);
  return v;
}

/* On i386 libseccomp derives an argument-less socketcall rule from every socket() rule; an explicit socketcall
   rule must come first to take precedence (and to keep derived rules of different actions from colliding). */
static void
hoist (struct sbx_filter *f, const char *name)
{
  size_t k = 0;

  for (size_t i = 0; i < f->nrules; i++)
    if (strcmp (f->rules[i].name, name) == 0)
      {
        struct sbx_rule r = f->rules[i];
        memmove (&f->rules[k + 1], &f->rules[k], (i - k) * sizeof r);
        f->rules[k++] = r;
      }
}

/* An explicit socketcall refusal must reach libseccomp even when it matches the default (which would make the
   delegates skip it): without it libseccomp's derived socketcall(SYS_SOCKET) rule lets every address family
   through on i386.  sbx's own errno is used there, the only place where the engine's does not win. */
static int
keep_socketcall (const struct sbx_filter *sbx, struct sbx_filter *out, sbx_err *err)
{
  for (size_t i = 0; i < out->nrules; i++)
    if (strcmp (out->rules[i].name, "socketcall") == 0)
      return 0;
  for (size_t i = 0; i < sbx->nrules; i++)
    if (strcmp (sbx->rules[i].name, "socketcall") == 0 && sbx->rules[i].ncmp == 0
        && sbx->rules[i].act.kind >= SBX_ACT_ERRNO && !sbx_action_eq (&sbx->rules[i].act, &out->def))
      return sbx_filter_add_rule (out, "socketcall", &sbx->rules[i].act, NULL, 0, NULL, err);
  return 0;
}

int
sbx_filter_intersect (const struct sbx_filter *engine, const struct sbx_filter *sbx, struct sbx_filter *out,
                      char *notes, size_t notes_size, sbx_err *err)
{
  cleanup_free const struct sbx_rule **e = sorted (engine);
  cleanup_free const struct sbx_rule **s = sorted (sbx);
  size_t i = 0, j = 0;

  memset (out, 0, sizeof *out);
  if (notes && notes_size)
    notes[0] = '\0';
  if (e == NULL || s == NULL)
    return sbx_fail (err, ENOMEM, "intersect seccomp filters");
  out->def = mr (&engine->def, &sbx->def);
  /* A syscall from an architecture either filter leaves out is killed by that filter: keep only the common
     ones (an empty list means native only). */
  for (size_t a = 0; a < engine->narches; a++)
    for (size_t b = 0; b < sbx->narches; b++)
      if (strcmp (engine->arches[a], sbx->arches[b]) == 0 && sbx_filter_add_arch (out, engine->arches[a], err) < 0)
        goto fail;

  while (i < engine->nrules || j < sbx->nrules)
    {
      const char *name;
      size_t i2 = i, j2 = j;
      struct side se, ss;
      int c;

      if (i == engine->nrules)
        c = 1;
      else if (j == sbx->nrules)
        c = -1;
      else
        c = strcmp (e[i]->name, s[j]->name);
      name = c <= 0 ? e[i]->name : s[j]->name;
      while (i2 < engine->nrules && strcmp (e[i2]->name, name) == 0)
        i2++;
      while (j2 < sbx->nrules && strcmp (s[j2]->name, name) == 0)
        j2++;
      side_of (engine, e + i, i2 - i, &se);
      side_of (sbx, s + j, j2 - j, &ss);
      if (merge_one (name, &se, &ss, &out->def, out, notes, notes_size, err) < 0)
        goto fail;
      i = i2, j = j2;
    }
  if (keep_socketcall (sbx, out, err) < 0)
    goto fail;
  hoist (out, "socketcall");
  return 0;

fail:
  sbx_filter_free (out);
  return sbx_wrap (err, "intersect seccomp filters");
}

/* merge.c - engine ∩ sbx: one filter that refuses whatever either filter refuses, in a form libseccomp compiles
   as meant, checked on the compiled program before it is returned.

   Both filters are compiled as runc compiles them and read back by running the programs: their meaning is what
   the kernel would do, including libseccomp's own readings (an unconditional rule absorbing conditional ones,
   socket rules rewritten to socketcall on i386).  For each syscall either filter names, the comparisons both make
   on it cut the argument space into cells on which both programs are constant; each cell gets the more
   restrictive of the two answers (the engine's errno on a tie), taken over every architecture of the result.  A
   cell whose answer differs from the result's default becomes rules: one comparison per argument, every rule of a
   syscall constraining the same arguments, and the rules of a syscall disjoint, so no rule's action depends on
   how libseccomp resolves an overlap (docs/profiles.md has the argument).  The i386 multiplexers get one
   unconditional rule, the only form that overrides the rules libseccomp derives for them.  Then the result is
   compiled both ways the delegates get it and checked on the boundary grid (verify.c): a syscall found wrong is
   given its most restrictive answer for all arguments and the check runs again; what still fails is an error. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"
#include "cells.h"
#include "profile.h"

#define MAX_CELLS 64      /* per argument */
#define MAX_COMBOS 4096   /* cells of one syscall */
#define MAX_RULES 64      /* rules of one syscall: libseccomp slows down fast past a few dozen */
#define MAX_ROUNDS 24

struct mctx
{
  const struct sbx_filter *engine, *sbx;
  struct sbx_bpf eb, sb;
  struct sbx_rule_index ei, si; /* both filters' rules by name */
  struct sbx_eval_arch arches[8];
  size_t na;
  bool x86, has32;
  struct sbx_filter *out;
  char *notes;
  size_t notes_size;
};

/* The more restrictive of E and S; on a tie the engine's data (its errno) is kept. */
static struct sbx_action
mr (const struct sbx_action *e, const struct sbx_action *s)
{
  return s->kind > e->kind ? *s : *e;
}

static struct sbx_action
from_ret (uint32_t r)
{
  switch (r & SECCOMP_RET_ACTION_FULL)
    {
    case SECCOMP_RET_ALLOW: return (struct sbx_action){ SBX_ACT_ALLOW, 0 };
    case SECCOMP_RET_LOG: return (struct sbx_action){ SBX_ACT_LOG, 0 };
    case SECCOMP_RET_TRACE: return (struct sbx_action){ SBX_ACT_TRACE, (int) (r & SECCOMP_RET_DATA) };
    case SECCOMP_RET_USER_NOTIF: return (struct sbx_action){ SBX_ACT_NOTIFY, 0 };
    case SECCOMP_RET_ERRNO: return (struct sbx_action){ SBX_ACT_ERRNO, (int) (r & SECCOMP_RET_DATA) };
    case SECCOMP_RET_TRAP: return (struct sbx_action){ SBX_ACT_TRAP, 0 };
    case SECCOMP_RET_KILL_THREAD: return (struct sbx_action){ SBX_ACT_KILL_THREAD, 0 };
    default: return (struct sbx_action){ SBX_ACT_KILL_PROCESS, 0 };
    }
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

/* Both programs' answer for NAME at A64 (A32 on 32-bit architectures; NULL: that cell has no value there), the
   stricter over every architecture NAME exists on; false when it exists on none. */
static bool
decide (const struct mctx *mx, const char *name, const uint64_t a64[6], const uint64_t *a32, struct sbx_action *out)
{
  bool any = false;

  for (size_t i = 0; i < mx->na; i++)
    {
      const struct sbx_eval_arch *ar = &mx->arches[i];
      const uint64_t *a = ar->is32 ? a32 : a64;
      int nr = sbx_syscall_nr_arch (ar->token, name);
      struct sbx_action e, s, both;

      if (nr < 0 || a == NULL)
        continue;
      e = from_ret (sbx_bpf_run_arch (&mx->eb, ar->audit, nr, a));
      s = from_ret (sbx_bpf_run_arch (&mx->sb, ar->audit, nr, a));
      both = mr (&e, &s);
      *out = any ? mr (out, &both) : both;
      any = true;
    }
  return any;
}

/* The most restrictive answer NAME can get from either filter, whatever its arguments: every action either filter
   gives it, and their defaults. */
static struct sbx_action
worst (const struct mctx *mx, const char *name)
{
  struct sbx_action we = mx->engine->def, ws = mx->sbx->def;
  const struct sbx_rule *const *r;
  size_t n = sbx_rule_index_find (&mx->ei, name, &r);

  /* The engine's strictest answer first, so that its errno is the one kept on a tie. */
  for (size_t i = 0; i < n; i++)
    we = r[i]->act.kind > we.kind ? r[i]->act : we;
  n = sbx_rule_index_find (&mx->si, name, &r);
  for (size_t i = 0; i < n; i++)
    ws = mr (&ws, &r[i]->act);
  return mr (&we, &ws);
}

static int
add (struct mctx *mx, const char *name, const struct sbx_action *act, const struct sbx_cmp *cmp, unsigned ncmp,
     sbx_err *err)
{
  if (sbx_action_eq (act, &mx->out->def))
    return 0;
  return sbx_filter_add_rule (mx->out, name, act, cmp, ncmp, NULL, err);
}

/* A socketcall or ipc rule libseccomp keeps apart from the default, so that it overrides the derived ones: W
   itself, else another errno (the engine's errno is lost only here, see docs/profiles.md), else KILL_PROCESS. */
static struct sbx_action
distinct (const struct mctx *mx, struct sbx_action w)
{
  static const int errnos[] = { ENOSYS, EAFNOSUPPORT, EPERM, EACCES };

  if (!sbx_action_eq (&w, &mx->out->def))
    return w;
  if (w.kind == SBX_ACT_ERRNO)
    for (size_t i = 0; i < SBX_ARRAY_SIZE (errnos); i++)
      if (errnos[i] != w.data)
        return (struct sbx_action){ SBX_ACT_ERRNO, errnos[i] };
  return (struct sbx_action){ SBX_ACT_KILL_PROCESS, 0 };
}

/* Values of argument IDX (1-5) that meet or miss each comparison either filter makes on a call NAME carries. */
static unsigned
mux_values (const struct mctx *mx, const char *name, unsigned idx, uint64_t *v, unsigned max)
{
  const struct sbx_rule_index *ix[2] = { &mx->ei, &mx->si };
  unsigned n = 0;

  v[n++] = 0;
  for (int f = 0; f < 2; f++)
    for (size_t i = 0; i < ix[f]->n; i++)
      {
        const struct sbx_rule *r = ix[f]->v[i];
        if (!sbx_multiplexed_by (r->name, name) && strcmp (r->name, name) != 0)
          continue;
        for (unsigned k = 0; k < r->ncmp; k++)
          for (int neg = 0; neg < 2 && r->cmp[k].idx == idx; neg++)
            {
              struct sbx_set s;
              struct sbx_cmp c32 = r->cmp[k]; /* i386 compares the low 32 bits */
              uint64_t x;
              bool dup = false;
              c32.value &= UINT32_MAX, c32.value_two &= UINT32_MAX;
              if (!sbx_set_of_cmp (&c32, neg, &s) || !sbx_set_min (&s, UINT32_MAX, &x))
                continue;
              for (unsigned j = 0; j < n && !dup; j++)
                dup = v[j] == x;
              if (!dup && n < max)
                v[n++] = x;
            }
      }
  return n;
}

/* The i386 multiplexer NAME: one unconditional rule, the most restrictive answer over its call numbers and the
   argument values the carried calls' rules compare. */
static int
multiplexer (struct mctx *mx, const char *name, bool forced, sbx_err *err)
{
  uint64_t vals[6][8];
  unsigned nv[6] = { 1 };
  size_t combos = 1;
  struct sbx_action w = { 0 }, a;
  bool any = false;

  for (unsigned i = 1; i < 6; i++)
    {
      nv[i] = mux_values (mx, name, i, vals[i], 8);
      combos *= nv[i];
    }
  for (uint64_t k = 0; k <= 0x1ffff; k = k == 25 ? 0x10000 : k == 0x10019 ? 0x1ffff + 1 : k + 1)
    for (size_t c = 0; c < (combos <= 512 ? combos : 512); c++)
      {
        uint64_t args[6] = { k };
        size_t q = c;
        for (unsigned i = 1; i < 6; i++)
          {
            /* Past 512 combinations: each argument's values in turn, the others 0. */
            args[i] = combos <= 512 ? vals[i][q % nv[i]] : (c / 8 % 5 + 1 == i ? vals[i][c % nv[i]] : 0);
            q /= nv[i];
          }
        if (decide (mx, name, args, args, &a))
          w = any ? mr (&w, &a) : a, any = true;
      }
  if (!any)
    return 0;
  if (forced)
    {
      /* The check found a derived rule letting through what both filters refuse: the rule must exist. */
      struct sbx_action d = distinct (mx, w);
      if (!sbx_action_eq (&d, &w))
        note (mx->notes, mx->notes_size, "%s: refused on i386 with %s%d;", name,
              d.kind == SBX_ACT_ERRNO ? "errno " : "action ", d.kind == SBX_ACT_ERRNO ? d.data : (int) d.kind);
      w = d;
    }
  return add (mx, name, &w, NULL, 0, err);
}

struct argcells
{
  unsigned idx, n;
  struct sbx_set *cell; /* n of them, MAX_CELLS allocated */
};

static void
argcells_free (struct argcells *ac, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    free (ac[i].cell);
}

static bool
same_cmp (const struct sbx_cmp *a, const struct sbx_cmp *b)
{
  return a->idx == b->idx && a->op == b->op && a->value == b->value && a->value_two == b->value_two;
}

/* Collect the distinct comparisons both filters make on NAME's argument IDX. */
static size_t
cmps_of (const struct mctx *mx, const char *name, unsigned idx, struct sbx_cmp *c, size_t max)
{
  const struct sbx_rule_index *ix[2] = { &mx->ei, &mx->si };
  size_t n = 0;

  for (int f = 0; f < 2; f++)
    {
      const struct sbx_rule *const *r;
      size_t nr = sbx_rule_index_find (ix[f], name, &r);
      for (size_t i = 0; i < nr; i++)
        for (unsigned k = 0; k < r[i]->ncmp; k++)
          {
            const struct sbx_cmp *x = &r[i]->cmp[k];
            /* On 32-bit architectures libseccomp compares the low 32 bits of the value: that comparison cuts
               the cells as well. */
            struct sbx_cmp both[2] = { *x, *x };
            both[1].value &= UINT32_MAX, both[1].value_two &= UINT32_MAX;
            for (int t = 0; t < (mx->has32 ? 2 : 1); t++)
              {
                bool dup = x->idx != idx;
                for (size_t j = 0; j < n && !dup; j++)
                  dup = same_cmp (&c[j], &both[t]);
                if (!dup && n < max)
                  c[n++] = both[t];
              }
          }
    }
  return n;
}

/* The cells of argument IDX: every non-empty intersection of the comparisons or their negations. */
static bool
split (const struct sbx_cmp *c, size_t nc, struct argcells *ac)
{
  cleanup_free struct sbx_set *next = malloc (MAX_CELLS * sizeof *next), *side = malloc (2 * sizeof *side);

  if (next == NULL || side == NULL)
    return false;
  ac->n = 1;
  ac->cell[0] = (struct sbx_set){ .n = 1, .a = { { 0, UINT64_MAX, 0, 0 } } };
  for (size_t k = 0; k < nc; k++)
    {
      unsigned nn = 0;
      if (!sbx_set_of_cmp (&c[k], false, &side[0]) || !sbx_set_of_cmp (&c[k], true, &side[1]))
        return false;
      for (unsigned i = 0; i < ac->n; i++)
        for (int s = 0; s < 2; s++)
          {
            if (nn == MAX_CELLS)
              return false;
            if (!sbx_set_and (&ac->cell[i], &side[s], &next[nn]))
              return false;
            if (next[nn].n)
              nn++;
          }
      memcpy (ac->cell, next, nn * sizeof *next);
      ac->n = nn;
    }
  return true;
}

/* The rules of one cell (PICK: the cell of each argument) with action ACT: the product of each argument's
   comparisons. */
static int
emit_cell (struct mctx *mx, const char *name, const struct argcells *ac, unsigned nargs, const unsigned *pick,
           const struct sbx_action *act, size_t *budget, sbx_err *err)
{
  struct sbx_cmp lists[6][64];
  size_t len[6], total = 1, at[6] = { 0 };

  for (unsigned k = 0; k < nargs; k++)
    {
      if (!sbx_set_cmps (&ac[k].cell[pick[k]], ac[k].idx, lists[k], &len[k], 64) || len[k] == 0)
        return 1;
      total *= len[k];
      if (total > *budget)
        return 1;
    }
  *budget -= total;
  for (size_t r = 0; r < total; r++)
    {
      struct sbx_cmp cmp[6];
      unsigned n = 0;
      size_t q = r;
      for (unsigned k = 0; k < nargs; k++)
        {
          at[k] = q % len[k];
          q /= len[k];
          if (lists[k][at[k]].op != 0)
            cmp[n++] = lists[k][at[k]];
        }
      if (add (mx, name, act, cmp, n, err) < 0)
        return -1;
    }
  return 0;
}

struct table
{
  struct argcells ac[6];
  unsigned nargs;
  size_t stride[6], combos;
  struct sbx_action *act;
  bool *valid; /* false: the cell has no value on any architecture NAME exists on (any answer fits) */
};

/* Whether every reachable combination with the first K arguments' cells fixed at PICK gets one answer (in *A). */
static bool
uniform (const struct table *t, unsigned k, const unsigned *pick, struct sbx_action *a, bool *any)
{
  size_t base = 0, rest = 1;

  *any = false;
  for (unsigned j = 0; j < k; j++)
    base += pick[j] * t->stride[j];
  for (unsigned j = k; j < t->nargs; j++)
    rest *= t->ac[j].n;
  for (size_t r = 0; r < rest; r++)
    {
      size_t idx = base, q = r;
      for (unsigned j = k; j < t->nargs; j++)
        idx += (q % t->ac[j].n) * t->stride[j], q /= t->ac[j].n;
      if (!t->valid[idx])
        continue;
      if (*any && !sbx_action_eq (a, &t->act[idx]))
        return false;
      *a = t->act[idx], *any = true;
    }
  return true;
}

/* A decision tree over the arguments in order: where the answer no longer depends on the arguments left, one set
   of disjoint rules on the arguments fixed so far. */
static int
emit_tree (struct mctx *mx, const char *name, const struct table *t, unsigned k, unsigned *pick, size_t *budget,
           sbx_err *err)
{
  struct sbx_action a;
  bool any;
  int rc;

  if (uniform (t, k, pick, &a, &any))
    return !any || sbx_action_eq (&a, &mx->out->def) ? 0 : emit_cell (mx, name, t->ac, k, pick, &a, budget, err);
  for (unsigned c = 0; c < t->ac[k].n; c++)
    {
      pick[k] = c;
      if ((rc = emit_tree (mx, name, t, k + 1, pick, budget, err)) != 0)
        return rc;
    }
  return 0;
}

static int
op_rank (enum sbx_cmp_op op)
{
  return op == SBX_CMP_EQ ? 0 : op == SBX_CMP_MASKED_EQ ? 1 : 2;
}

/* Whether A goes after B in the order libseccomp takes without looping. */
static bool
rule_after (const struct sbx_rule *a, const struct sbx_rule *b)
{
  if (a->ncmp != b->ncmp)
    return a->ncmp > b->ncmp;
  for (unsigned k = 0; k < a->ncmp; k++)
    if (op_rank (a->cmp[k].op) != op_rank (b->cmp[k].op))
      return op_rank (a->cmp[k].op) > op_rank (b->cmp[k].op);
  return false;
}

/* NAME's rules from its cells; 1 when it has too many to express (the caller falls back to its worst answer). */
static int
by_cells (struct mctx *mx, const char *name, sbx_err *err)
{
  struct table t = { .nargs = 0, .combos = 1 };
  unsigned pick[6] = { 0 };
  size_t budget = MAX_RULES, before = mx->out->nrules;
  int rc = 0;

  for (unsigned idx = 0; idx < 6; idx++)
    {
      struct sbx_cmp c[64];
      size_t nc = cmps_of (mx, name, idx, c, SBX_ARRAY_SIZE (c));
      struct argcells *ac = &t.ac[t.nargs];
      if (nc == 0)
        continue;
      *ac = (struct argcells){ .idx = idx, .cell = malloc (MAX_CELLS * sizeof (struct sbx_set)) };
      t.stride[t.nargs++] = t.combos;
      if (ac->cell == NULL || nc == SBX_ARRAY_SIZE (c) || !split (c, nc, ac) || (t.combos *= ac->n) > MAX_COMBOS)
        {
          rc = 1;
          goto out;
        }
    }
  t.act = calloc (t.combos, sizeof *t.act);
  t.valid = calloc (t.combos, sizeof *t.valid);
  if (t.act == NULL || t.valid == NULL)
    {
      rc = sbx_fail (err, ENOMEM, "seccomp rules for %s", name);
      goto out;
    }
  for (size_t i = 0; i < t.combos; i++)
    {
      uint64_t a64[6] = { 0 }, a32[6] = { 0 };
      bool has32 = true;
      size_t q = i;

      for (unsigned k = 0; k < t.nargs; k++)
        {
          const struct sbx_set *s = &t.ac[k].cell[q % t.ac[k].n];
          q /= t.ac[k].n;
          sbx_set_min (s, UINT64_MAX, &a64[t.ac[k].idx]);
          has32 &= sbx_set_min (s, UINT32_MAX, &a32[t.ac[k].idx]);
        }
      t.valid[i] = decide (mx, name, a64, has32 ? a32 : NULL, &t.act[i]);
    }
  rc = emit_tree (mx, name, &t, 0, pick, &budget, err);
  /* Fewer comparisons first, then equalities before ranges: libseccomp 2.5.4 loops forever adding
     [a1<=x, a2>=y, ...] before [a1<=x, a2==z], or [a2>=x, a5<=y] before [a2>=x, a5==y+1], and takes them the other
     way round (the rules are disjoint, so their order means nothing else). */
  for (size_t i = before + 1; rc == 0 && i < mx->out->nrules; i++)
    for (size_t j = i; j > before && rule_after (&mx->out->rules[j - 1], &mx->out->rules[j]); j--)
      {
        struct sbx_rule tmp = mx->out->rules[j];
        mx->out->rules[j] = mx->out->rules[j - 1];
        mx->out->rules[j - 1] = tmp;
      }
out:
  free (t.act);
  free (t.valid);
  argcells_free (t.ac, t.nargs);
  if (rc > 0)
    {
      /* Take back what was emitted: the caller writes the one rule instead. */
      for (size_t i = before; i < mx->out->nrules; i++)
        free (mx->out->rules[i].name), free (mx->out->rules[i].comment);
      mx->out->nrules = before;
    }
  return rc;
}

static int
merge_name (struct mctx *mx, const char *name, bool coarse, sbx_err *err)
{
  int rc;
  char buf[64];

  if (mx->x86 && sbx_is_multiplexer (SCMP_ARCH_X86, name))
    return multiplexer (mx, name, coarse, err);
  rc = coarse ? 1 : by_cells (mx, name, err);
  if (rc <= 0)
    return rc;
  {
    struct sbx_action w = worst (mx, name);
    note (mx->notes, mx->notes_size, "%s: refused as %s for all arguments (no exact libseccomp form);", name,
          sbx_action_str (&w, buf, sizeof buf));
    return add (mx, name, &w, NULL, 0, err);
  }
}

static int
by_name (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every name either filter gives a rule, sorted, once; the i386 multiplexers always when i386 is in. */
static const char **
names_of (const struct mctx *mx, size_t *n)
{
  size_t cap = mx->engine->nrules + mx->sbx->nrules + 2, k = 0;
  const char **v = malloc (cap * sizeof *v);

  if (v == NULL)
    return NULL;
  for (size_t i = 0; i < mx->engine->nrules; i++)
    v[k++] = mx->engine->rules[i].name;
  for (size_t i = 0; i < mx->sbx->nrules; i++)
    v[k++] = mx->sbx->rules[i].name;
  if (mx->x86)
    v[k++] = "socketcall", v[k++] = "ipc";
  qsort (v, k, sizeof *v, by_name);
  *n = 0;
  for (size_t i = 0; i < k; i++)
    if (*n == 0 || strcmp (v[*n - 1], v[i]) != 0)
      v[(*n)++] = v[i];
  return v;
}

static void
clear_rules (struct sbx_filter *f)
{
  for (size_t i = 0; i < f->nrules; i++)
    free (f->rules[i].name), free (f->rules[i].comment);
  f->nrules = 0;
}

/* Mark NAME coarse; false when it already was (nothing left to try) or is not one of ours.  A call i386 reaches
   through socketcall or ipc goes wrong there first (derived rules that collide or let through): its multiplexer
   gets its own rule before the call itself loses its argument rules. */
static bool
coarsen (const struct mctx *mx, const char **names, size_t n, bool *coarse, const char *name)
{
  int mux = mx->x86 ? seccomp_syscall_resolve_name_rewrite (SCMP_ARCH_X86, name) : -1;

  if (mux == 102 || mux == 117)
    for (size_t i = 0; i < n; i++)
      if (strcmp (names[i], mux == 102 ? "socketcall" : "ipc") == 0 && !coarse[i] && strcmp (names[i], name) != 0)
        return coarse[i] = true;
  for (size_t i = 0; i < n; i++)
    if (strcmp (names[i], name) == 0)
      return !coarse[i] && (coarse[i] = true);
  return false;
}

/* libseccomp 2.5.4 loops forever on some rule shapes: the candidate is first compiled in a child that gets two
   seconds.  0: it compiles (in-process compiles of the same rules are then safe: libseccomp is deterministic). */
static int
compiles_in_time (const struct sbx_filter *f, int opt)
{
  pid_t pid = fork ();
  int st;

  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      struct sbx_bpf b;
      sbx_err e;
      /* The default action, whatever the parent installed (libFuzzer's -timeout handler ignores a young alarm):
         the child must die at two seconds, or the parent waits for it forever. */
      signal (SIGALRM, SIG_DFL);
      alarm (2);
      _exit (sbx_filter_compile_opt (f, false, opt, &b, NULL, &e) < 0 ? 1 : 0);
    }
  while (waitpid (pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED (st) ? 0 : -1; /* a refusal (exit 1) is reported by the in-process compile */
}

/* Compile OUT both ways and check it; 0, or 1 with the syscall to coarsen in *BAD, or -1. */
static int
check (struct mctx *mx, const char **bad, char *why, size_t why_size, sbx_err *err)
{
  for (int opt = 1; opt <= 2; opt++)
    {
      struct sbx_bpf fin;
      struct sbx_verify v = { .engine_f = mx->engine, .sbx_f = mx->sbx, .final_f = mx->out, .engine = &mx->eb,
                              .sbx = &mx->sb, .final = &fin, .seed = 0x5eed };
      size_t at = SIZE_MAX;
      sbx_err cerr;
      int rc;

      if (compiles_in_time (mx->out, opt) < 0)
        {
          snprintf (why, why_size, "libseccomp does not finish compiling the filter");
          *bad = NULL;
          return 2;
        }
      if (sbx_filter_compile_opt (mx->out, false, opt, &fin, &at, &cerr) < 0)
        {
          if (at == SIZE_MAX)
            return sbx_fail (err, cerr.code, "%s", cerr.msg);
          snprintf (why, why_size, "%.400s", cerr.msg);
          *bad = mx->out->rules[at].name;
          return 1;
        }
      v.final = &fin;
      rc = sbx_verify_run (&v, bad, why, why_size);
      sbx_bpf_free (&fin);
      if (rc < 0)
        return 1;
    }
  return 0;
}

/* The multiplexers' rules first: an unconditional socketcall or ipc rule added before the rules libseccomp derives
   for them keeps those from ever colliding (EEXIST) or deciding. */
static int
build_all (struct mctx *mx, const char **names, size_t n, const bool *coarse, sbx_err *err)
{
  clear_rules (mx->out);
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++)
      if ((pass == 0) == (mx->x86 && sbx_is_multiplexer (SCMP_ARCH_X86, names[i]))
          && merge_name (mx, names[i], coarse[i], err) < 0)
        return -1;
  return 0;
}

static int
intersect (struct mctx *mx, sbx_err *err)
{
  size_t n = 0;
  cleanup_free const char **names = names_of (mx, &n);
  cleanup_free bool *coarse = calloc (n + 1, sizeof *coarse);
  char why[512] = "";

  if (names == NULL || coarse == NULL)
    return sbx_fail (err, ENOMEM, "intersect seccomp filters");
  for (int round = 0; round < MAX_ROUNDS; round++)
    {
      const char *bad = NULL;
      int rc;

      if (build_all (mx, names, n, coarse, err) < 0)
        return -1;
      rc = check (mx, &bad, why, sizeof why, err);
      if (rc <= 0)
        return rc;
      if (rc == 2)
        {
          /* No syscall to blame: every one with argument rules gets its one worst rule. */
          bool more = false;
          for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < mx->out->nrules && !coarse[i]; k++)
              if (mx->out->rules[k].ncmp && strcmp (mx->out->rules[k].name, names[i]) == 0)
                coarse[i] = more = true;
          if (more)
            continue;
          break;
        }
      /* BAD points into OUT's rules or the filters: mark it before the next build frees them. */
      if (!coarsen (mx, names, n, coarse, bad))
        break;
    }
  return sbx_fail (err, EINVAL, "no filter libseccomp compiles as meant: %s", why);
}

int
sbx_filter_intersect (const struct sbx_filter *engine, const struct sbx_filter *sbx, struct sbx_filter *out,
                      char *notes, size_t notes_size, sbx_err *err)
{
  struct mctx mx = { .engine = engine, .sbx = sbx, .out = out, .notes = notes, .notes_size = notes_size };
  int rc = -1;

  memset (out, 0, sizeof *out);
  if (notes && notes_size)
    notes[0] = '\0';
  out->def = mr (&engine->def, &sbx->def);
  /* A syscall from an architecture either filter leaves out is killed by that filter: keep only the common
     ones (an empty list means native only). */
  for (size_t a = 0; a < engine->narches; a++)
    for (size_t b = 0; b < sbx->narches; b++)
      if (strcmp (engine->arches[a], sbx->arches[b]) == 0 && sbx_filter_add_arch (out, engine->arches[a], err) < 0)
        goto done;
  mx.na = sbx_filter_eval_arches (out, mx.arches, 0, SBX_ARRAY_SIZE (mx.arches));
  for (size_t i = 0; i < mx.na; i++)
    mx.x86 |= mx.arches[i].token == SCMP_ARCH_X86, mx.has32 |= mx.arches[i].is32;
  if (sbx_rule_index_build (engine, &mx.ei) < 0 || sbx_rule_index_build (sbx, &mx.si) < 0)
    {
      sbx_fail (err, ENOMEM, "index seccomp rules");
      goto done;
    }
  if (sbx_filter_compile_runc (engine, &mx.eb, err) < 0)
    {
      sbx_wrap (err, "the engine's filter");
      goto done;
    }
  if (sbx_filter_compile_runc (sbx, &mx.sb, err) < 0)
    {
      sbx_wrap (err, "the profile");
      goto done;
    }
  rc = intersect (&mx, err);
done:
  sbx_rule_index_free (&mx.ei);
  sbx_rule_index_free (&mx.si);
  sbx_bpf_free (&mx.eb);
  sbx_bpf_free (&mx.sb);
  if (rc < 0)
    {
      sbx_filter_free (out);
      return sbx_wrap (err, "intersect seccomp filters");
    }
  return 0;
}

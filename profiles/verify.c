/* verify.c - the merge checked on compiled BPF: the final program run beside the engine's and the profile's on a
   boundary grid, for every architecture, before a new filter is used.

   A filter is judged by what the kernel would run, never by sbx's own data structures: the three programs are
   compiled by libseccomp (the engine's and the profile's as runc compiles them from JSON, the final one as the
   delegate gets it) and run by sbx_bpf_run_arch on struct seccomp_data.  For each syscall named in any of the
   filters, plus a fixed set of sensitive and harmless ones, every argument gets the boundary values of every
   comparison any filter makes on it (value-1, value, value+1; for masks the match, the match with each end bit of
   the mask flipped, the match with every free bit set), 0, ~0, 2^32-1, 2^32 and seeded random values; argument
   vectors are the product of these when it is small, seeded random picks from it otherwise.  The final program
   must answer at least as strictly (the kernel's own order of actions) as both, keep the engine's errno where the
   engine refuses with an errno, and refuse the module syscalls with EPERM (or hand them to the watcher). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "profile.h"
#include "seccomp_oci.h"

/* i386 has direct socket and SysV IPC syscalls since Linux 4.3; libseccomp names them by pseudo numbers (it
   rewrites rules for them to the socketcall/ipc multiplexers as well).  The kernel's numbers (asm/unistd_32.h). */
static const struct
{
  const char *name;
  int nr;
} i386_direct[] = {
  { "socket", 359 },      { "socketpair", 360 },  { "bind", 361 },        { "connect", 362 },
  { "listen", 363 },      { "accept4", 364 },     { "getsockopt", 365 },  { "setsockopt", 366 },
  { "getsockname", 367 }, { "getpeername", 368 }, { "sendto", 369 },      { "sendmsg", 370 },
  { "recvfrom", 371 },    { "recvmsg", 372 },     { "shutdown", 373 },    { "recvmmsg", 337 },
  { "sendmmsg", 345 },    { "semget", 393 },      { "semctl", 394 },      { "shmget", 395 },
  { "shmctl", 396 },      { "shmat", 397 },       { "shmdt", 398 },       { "msgget", 399 },
  { "msgsnd", 400 },      { "msgrcv", 401 },      { "msgctl", 402 },
};

int
sbx_syscall_nr_arch (uint32_t token, const char *name)
{
  int nr = seccomp_syscall_resolve_name_arch (token, name);

  if (token == SCMP_ARCH_X86 && nr < 0)
    for (size_t i = 0; i < SBX_ARRAY_SIZE (i386_direct); i++)
      if (strcmp (i386_direct[i].name, name) == 0)
        return i386_direct[i].nr;
  return nr < 0 ? -1 : nr;
}

static bool
has_arch (const struct sbx_eval_arch *a, size_t n, uint32_t token)
{
  for (size_t i = 0; i < n; i++)
    if (a[i].token == token)
      return true;
  return false;
}

size_t
sbx_filter_eval_arches (const struct sbx_filter *f, struct sbx_eval_arch *out, size_t n, size_t max)
{
  uint32_t native = seccomp_arch_native ();

  /* libseccomp (and so runc and crun) always keeps the native architecture, listed or not. */
  (void) f;
  if (n < max && !has_arch (out, n, native))
    out[n++] = (struct sbx_eval_arch){ .token = native };
  for (size_t i = 0; i < f->narches && n < max; i++)
    {
      uint32_t tok = sbx_arch_token (f->arches[i]);
      if (tok && !has_arch (out, n, tok))
        out[n++] = (struct sbx_eval_arch){ .token = tok };
    }
  for (size_t i = 0; i < n; i++)
    {
      /* x32 syscalls come with the x86_64 audit arch and the x32 bit in their number. */
      out[i].audit = out[i].token == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : out[i].token;
      /* A 32-bit task's arguments reach seccomp zero-extended. */
      out[i].is32 = !(out[i].token & __AUDIT_ARCH_64BIT) && out[i].token != SCMP_ARCH_X32;
    }
  return n;
}

bool
sbx_is_multiplexer (uint32_t token, const char *name)
{
  return token == SCMP_ARCH_X86 && (strcmp (name, "socketcall") == 0 || strcmp (name, "ipc") == 0);
}

bool
sbx_multiplexed_by (const char *name, const char *mux)
{
  int nr = seccomp_syscall_resolve_name_rewrite (SCMP_ARCH_X86, name);

  return strcmp (name, mux) != 0 && nr == (strcmp (mux, "socketcall") == 0 ? 102 : 117);
}

/* More restrictive in the kernel's order (it runs every filter and keeps the lowest signed action). */
bool
sbx_ret_stricter (uint32_t a, uint32_t b)
{
  return (int32_t) (a & SECCOMP_RET_ACTION_FULL) < (int32_t) (b & SECCOMP_RET_ACTION_FULL);
}

static int
rule_cmp (const void *a, const void *b)
{
  const struct sbx_rule *x = *(const struct sbx_rule *const *) a, *y = *(const struct sbx_rule *const *) b;
  int r = strcmp (x->name, y->name);
  return r ? r : (x > y) - (x < y);
}

int
sbx_rule_index_build (const struct sbx_filter *f, struct sbx_rule_index *ix)
{
  ix->n = f ? f->nrules : 0;
  ix->v = malloc ((ix->n + 1) * sizeof *ix->v);
  if (ix->v == NULL)
    return -1;
  for (size_t i = 0; i < ix->n; i++)
    ix->v[i] = &f->rules[i];
  qsort (ix->v, ix->n, sizeof *ix->v, rule_cmp);
  return 0;
}

size_t
sbx_rule_index_find (const struct sbx_rule_index *ix, const char *name, const struct sbx_rule *const **first)
{
  size_t lo = 0, hi = ix->n, end;

  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (strcmp (ix->v[mid]->name, name) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  for (end = lo; end < ix->n && strcmp (ix->v[end]->name, name) == 0; end++)
    ;
  *first = ix->v + lo;
  return end - lo;
}

void
sbx_rule_index_free (struct sbx_rule_index *ix)
{
  free (ix->v);
  ix->v = NULL;
  ix->n = 0;
}

static const char *const fixed_names[] = {
  "socket",     "socketpair", "clone",     "clone3",         "unshare",    "personality", "mount",
  "bpf",        "keyctl",     "ptrace",    "io_uring_setup", "kexec_load", "init_module", "finit_module",
  "delete_module", "socketcall", "ipc",    "getpid",         "read",       "close",       "getppid",
};

struct grid
{
  uint64_t v[6][48];
  unsigned n[6];
};

static void
grid_add (struct grid *g, unsigned idx, uint64_t x)
{
  for (unsigned i = 0; i < g->n[idx]; i++)
    if (g->v[idx][i] == x)
      return;
  if (g->n[idx] < SBX_ARRAY_SIZE (g->v[idx]))
    g->v[idx][g->n[idx]++] = x;
}

static uint64_t
rnd (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void
grid_cmp (struct grid *g, const struct sbx_cmp *c)
{
  uint64_t m = c->value, v = c->value_two;

  if (c->op != SBX_CMP_MASKED_EQ)
    {
      grid_add (g, c->idx, c->value - 1);
      grid_add (g, c->idx, c->value);
      grid_add (g, c->idx, c->value + 1);
      return;
    }
  grid_add (g, c->idx, v);
  grid_add (g, c->idx, v | ~m);
  grid_add (g, c->idx, m);
  if (m)
    {
      grid_add (g, c->idx, v ^ (m & -m));                         /* lowest mask bit flipped */
      grid_add (g, c->idx, v ^ (UINT64_C (1) << (63 - __builtin_clzll (m)))); /* highest */
      grid_add (g, c->idx, v ^ m);
    }
}

static void
grid_rules (struct grid *g, const struct sbx_rule_index *ix, const char *name)
{
  const struct sbx_rule *const *r;
  size_t n = sbx_rule_index_find (ix, name, &r);

  for (size_t i = 0; i < n; i++)
    for (unsigned k = 0; k < r[i]->ncmp; k++)
      grid_cmp (g, &r[i]->cmp[k]);
}

static bool
is_module (const char *name)
{
  for (size_t i = 0; i < 3; i++)
    if (strcmp (name, sbx_module_syscalls[i]) == 0)
      return true;
  return false;
}

static const char *
arch_name (uint32_t token)
{
  switch (token)
    {
    case SCMP_ARCH_X86_64: return "x86_64";
    case SCMP_ARCH_X86: return "x86";
    case SCMP_ARCH_X32: return "x32";
    default: return "another architecture";
    }
}

static void
describe (char *buf, size_t size, const char *name, uint32_t token, const uint64_t a[6], uint32_t e, uint32_t s,
          uint32_t fin)
{
  char b1[32], b2[32], b3[32];

  snprintf (buf, size,
            "%s(0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64
            ") on %s: the final filter says %s where the engine's says %s and the profile's %s",
            name, a[0], a[1], a[2], a[3], a[4], a[5], arch_name (token),
            sbx_bpf_ret_str (fin, b1, sizeof b1), sbx_bpf_ret_str (e, b2, sizeof b2),
            sbx_bpf_ret_str (s, b3, sizeof b3));
}

/* One point: false (and *WHY) when the final program breaks the promise there.  IN_FINAL: the final filter lists
   the architecture (the module block is required there; elsewhere the whole architecture is refused). */
static bool
point_ok_in (const struct sbx_verify *v, const struct sbx_eval_arch *arch, bool in_final, const char *name, int nr,
             const uint64_t a[6], char *why, size_t why_size);
static bool
point_ok (const struct sbx_verify *v, const struct sbx_eval_arch *arch, const char *name, int nr, const uint64_t a[6],
          char *why, size_t why_size)
{
  return point_ok_in (v, arch, arch->in_final, name, nr, a, why, why_size);
}

static bool
point_ok_in (const struct sbx_verify *v, const struct sbx_eval_arch *arch, bool in_final, const char *name, int nr,
             const uint64_t a[6], char *why, size_t why_size)
{
  uint32_t e = v->engine ? sbx_bpf_run_arch (v->engine, arch->audit, nr, a) : SECCOMP_RET_ALLOW;
  uint32_t s = v->sbx ? sbx_bpf_run_arch (v->sbx, arch->audit, nr, a) : SECCOMP_RET_ALLOW;
  uint32_t fin = sbx_bpf_run_arch (v->final, arch->audit, nr, a);
  bool ok;

  if (v->modules && in_final && is_module (name))
    ok = fin == (SECCOMP_RET_ERRNO | EPERM) || (v->notify_ok && fin == SECCOMP_RET_USER_NOTIF);
  else
    {
      ok = !sbx_ret_stricter (e, fin) && !sbx_ret_stricter (s, fin);
      /* The engine's errno survives where it refuses with one (the i386 multiplexers excepted: libseccomp lets
         them carry one action only, see docs/profiles.md). */
      if (ok && (e & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO
          && (fin & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO && fin != e && !sbx_is_multiplexer (arch->token, name))
        ok = false;
    }
  if (!ok)
    describe (why, why_size, name, arch->token, a, e, s, fin);
  return ok;
}

/* Every argument vector of NAME's grid on ARCH; false at the first violation. */
static bool
check_name (const struct sbx_verify *v, const struct sbx_rule_index ix[3], const struct sbx_eval_arch *arch,
            const char *name, char *why, size_t why_size)
{
  int nr = sbx_syscall_nr_arch (arch->token, name);
  uint64_t seed = v->seed ^ (uint64_t) (nr + 1) * 0x9e3779b97f4a7c15ULL ^ arch->token, a[6];
  struct grid g = { 0 };
  unsigned involved[6], ni = 0;
  size_t total = 1, points;

  if (nr < 0)
    return true;
  for (int f = 0; f < 3; f++)
    grid_rules (&g, &ix[f], name);
  /* A multiplexer answers with the rules of the calls it carries, their comparisons of arguments 1-5 kept. */
  for (int f = 0; f < 3 && sbx_is_multiplexer (arch->token, name); f++)
    for (size_t i = 0; i < ix[f].n; i++)
      if (sbx_multiplexed_by (ix[f].v[i]->name, name))
        for (unsigned k = 0; k < ix[f].v[i]->ncmp; k++)
          if (ix[f].v[i]->cmp[k].idx > 0)
            grid_cmp (&g, &ix[f].v[i]->cmp[k]);
  if (sbx_is_multiplexer (arch->token, name))
    for (uint64_t k = 0; k <= 25; k++)
      grid_add (&g, 0, k), grid_add (&g, 0, k | 0x10000);
  for (unsigned i = 0; i < 6; i++)
    {
      if (g.n[i] == 0)
        continue;
      grid_add (&g, i, 0);
      grid_add (&g, i, UINT64_MAX);
      grid_add (&g, i, UINT32_MAX);
      grid_add (&g, i, UINT64_C (1) << 32);
      for (int r = 0; r < 3; r++)
        grid_add (&g, i, rnd (&seed) >> (r * 20));
      involved[ni++] = i;
      total = total > 4096 ? total : total * g.n[i];
    }
  /* An unconditioned syscall: a few vectors show its one action. */
  if (ni == 0)
    {
      const uint64_t fixed[3] = { 0, UINT64_MAX, rnd (&seed) };
      for (int k = 0; k < 3; k++)
        {
          for (int i = 0; i < 6; i++)
            a[i] = arch->is32 ? (uint32_t) fixed[k] : fixed[k];
          if (!point_ok (v, arch, name, nr, a, why, why_size))
            return false;
        }
      return true;
    }
  points = total <= 4096 ? total : 4096;
  for (size_t p = 0; p < points; p++)
    {
      size_t q = p;
      memset (a, 0, sizeof a);
      for (unsigned k = 0; k < ni; k++)
        {
          unsigned i = involved[k];
          size_t pick = total <= 4096 ? q % g.n[i] : rnd (&seed) % g.n[i];
          q /= g.n[i];
          a[i] = arch->is32 ? (uint32_t) g.v[i][pick] : g.v[i][pick];
        }
      if (!point_ok (v, arch, name, nr, a, why, why_size))
        return false;
    }
  return true;
}

static int
by_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
run_all (const struct sbx_verify *v, const struct sbx_rule_index ix[3], const struct sbx_eval_arch *arches, size_t na,
         const char **bad, char *why, size_t why_size)
{
  size_t cap = SBX_ARRAY_SIZE (fixed_names) + ix[0].n + ix[1].n + ix[2].n, n = 0;
  cleanup_free const char **names = malloc (cap * sizeof *names);

  if (names == NULL)
    return snprintf (why, why_size, "out of memory"), -1;
  for (size_t k = 0; k < SBX_ARRAY_SIZE (fixed_names); k++)
    names[n++] = fixed_names[k];
  for (int f = 0; f < 3; f++)
    for (size_t k = 0; k < ix[f].n; k++)
      names[n++] = ix[f].v[k]->name;
  qsort (names, n, sizeof *names, by_str);
  for (size_t k = 0; k < n; k++)
    if (k == 0 || strcmp (names[k], names[k - 1]) != 0)
      for (size_t i = 0; i < na; i++)
        if (!check_name (v, ix, &arches[i], names[k], why, why_size))
          return *bad = names[k], -1;
  return 0;
}

int
sbx_verify_run (const struct sbx_verify *v, const char **bad, char *why, size_t why_size)
{
  struct sbx_eval_arch arches[16];
  struct sbx_rule_index ix[3] = { { 0 } };
  size_t na = 0, nf;
  int rc = -1;

  *bad = NULL;
  if (v->final_f)
    na = sbx_filter_eval_arches (v->final_f, arches, na, SBX_ARRAY_SIZE (arches));
  nf = na;
  /* Every architecture any of them names: one the final filter leaves out is killed there, which is stricter. */
  if (v->engine_f)
    na = sbx_filter_eval_arches (v->engine_f, arches, na, SBX_ARRAY_SIZE (arches));
  if (v->sbx_f)
    na = sbx_filter_eval_arches (v->sbx_f, arches, na, SBX_ARRAY_SIZE (arches));
  for (size_t i = 0; i < na; i++)
    arches[i].in_final = i < nf || v->final_f == NULL;
  if (sbx_rule_index_build (v->engine_f, &ix[0]) == 0 && sbx_rule_index_build (v->sbx_f, &ix[1]) == 0
      && sbx_rule_index_build (v->final_f, &ix[2]) == 0)
    rc = run_all (v, ix, arches, na, bad, why, why_size);
  else
    snprintf (why, why_size, "out of memory");
  for (int f = 0; f < 3; f++)
    sbx_rule_index_free (&ix[f]);
  return rc;
}

int
sbx_filter_verify (const struct sbx_filter *engine, const struct sbx_filter *sbx, const struct sbx_filter *final_f,
                   const struct sbx_bpf *final, bool notify_ok, sbx_err *err)
{
  struct sbx_bpf e = { 0 }, s = { 0 };
  struct sbx_verify v = { .engine_f = engine, .sbx_f = sbx, .final_f = final_f, .final = final, .modules = true,
                          .notify_ok = notify_ok, .seed = 0x5b5eed };
  const char *bad;
  char why[512];
  int rc = 0;

  if ((engine && sbx_filter_compile_runc (engine, &e, err) < 0) || (sbx && sbx_filter_compile_runc (sbx, &s, err) < 0))
    {
      sbx_bpf_free (&e);
      return sbx_wrap (err, "verify the seccomp filter");
    }
  v.engine = engine ? &e : NULL;
  v.sbx = sbx ? &s : NULL;
  if (sbx_verify_run (&v, &bad, why, sizeof why) < 0)
    rc = sbx_fail (err, EPERM, "the final seccomp filter does not refuse what the engine's and the profile's refuse: %s",
                   why);
  sbx_bpf_free (&e);
  sbx_bpf_free (&s);
  return rc;
}

/* crun gets the program base64-encoded; the check runs on exactly those bytes. */
int
sbx_bpf_from_b64 (const char *b64, struct sbx_bpf *out, sbx_err *err)
{
  size_t len = strlen (b64), n = 0;
  cleanup_free unsigned char *buf = malloc (len / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;

  memset (out, 0, sizeof *out);
  if (buf == NULL)
    return sbx_fail (err, ENOMEM, "decode BPF");
  for (size_t i = 0; i < len && b64[i] != '='; i++)
    {
      const char *tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *p = strchr (tbl, b64[i]);
      if (p == NULL || b64[i] == '\0')
        return sbx_fail (err, EINVAL, "precompiled seccomp filter: not base64");
      acc = acc << 6 | (uint32_t) (p - tbl);
      if ((bits += 6) >= 8)
        buf[n++] = (unsigned char) (acc >> (bits -= 8));
    }
  if (n == 0 || n % 8)
    return sbx_fail (err, EINVAL, "precompiled seccomp filter: %zu bytes", n);
  out->insns = steal_pointer (&buf);
  out->len = n / 8;
  return 0;
}

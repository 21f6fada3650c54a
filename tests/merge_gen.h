/* merge_gen.h - what test_merge and fuzz_merge share: a generator of engine filters, the hardening of one as the
   delegate gets it, and an independent check of the result: a seccomp-BPF interpreter of the tests' own (struct
   seccomp_data in, action out) run on a boundary grid of every syscall either filter names. */
#ifndef SBX_TEST_MERGE_GEN_H
#define SBX_TEST_MERGE_GEN_H

#include <errno.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../policy/policy.h"
#include "../profiles/profile.h"
#include "../profiles/seccomp_oci.h"

/* ---- randomness: a stream of 64-bit words, from a seed or from fuzzer bytes ---- */
struct gen_rng
{
  uint64_t s;
  const uint8_t *data; /* fuzzer input: consumed first, then the seed goes on */
  size_t len;
};

static uint64_t
gen_u64 (struct gen_rng *r)
{
  uint64_t x = 0;

  if (r->len)
    {
      size_t n = r->len < 8 ? r->len : 8;
      memcpy (&x, r->data, n);
      r->data += n, r->len -= n;
      r->s ^= x;
    }
  r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
  x = r->s;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  return x ^ (x >> 29);
}

static unsigned
gen_below (struct gen_rng *r, unsigned n)
{
  return (unsigned) (gen_u64 (r) % n);
}

/* ---- the generator ---- */
static const char *const gen_names[] = {
  "socket", "socketpair", "clone", "unshare", "personality", "mount", "bpf", "keyctl", "ptrace", "io_uring_setup",
  "kexec_load", "init_module", "finit_module", "delete_module", "socketcall", "ipc", "shmat", "shmget", "connect",
  "getppid", "getpid", "gettid", "getuid", "read", "write", "clone3", "setsockopt", "msgget", "semop",
};
/* Syscalls that ignore their arguments and change nothing: the kernel cross-check calls only these. */
static const char *const gen_harmless[] = { "getppid", "getpid", "gettid", "getuid" };
static const uint64_t gen_values[] = {
  0, 1, 2, 3, 4, 8, 9, 10, 16, 17, 21, 40, 0x400, 0x20000, 0x7E020000, 0x7E020080, 0xffffffffULL, 1ULL << 32,
  UINT64_MAX,
};
static const int gen_errnos[] = { 1, 5, 13, 22, 38, 95, 97 };

static void
gen_action (struct gen_rng *r, char *buf, size_t size, bool as_default)
{
  static const char *const acts[] = { "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_ERRNO", "SCMP_ACT_TRAP",
                                      "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_NOTIFY" };
  unsigned a = gen_below (r, as_default ? 6 : 7);

  if (a == 2)
    snprintf (buf, size, "\"%s\":\"SCMP_ACT_ERRNO\",\"%s\":%d", as_default ? "defaultAction" : "action",
              as_default ? "defaultErrnoRet" : "errnoRet", gen_errnos[gen_below (r, SBX_ARRAY_SIZE (gen_errnos))]);
  else
    snprintf (buf, size, "\"%s\":\"%s\"", as_default ? "defaultAction" : "action", acts[a]);
}

static uint64_t
gen_value (struct gen_rng *r)
{
  return gen_below (r, 5) ? gen_values[gen_below (r, SBX_ARRAY_SIZE (gen_values))] : gen_u64 (r) >> gen_below (r, 64);
}

/* One engine filter as the engine writes it: a deny-list (allowing default) or an allow-list, 1-3
   architectures, up to 14 rules with 0-3 comparisons each, every operator. */
static void
gen_engine (struct gen_rng *r, char *buf, size_t size)
{
  static const char *const arches[] = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" };
  static const char *const ops[] = { "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                                     "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };
  unsigned mask = 1 + gen_below (r, 7), nrules = 1 + gen_below (r, 14);
  char act[96];
  size_t off = 0;
  bool denylist = gen_below (r, 2);

  if (denylist)
    snprintf (act, sizeof act, "\"defaultAction\":\"%s\"", gen_below (r, 4) ? "SCMP_ACT_ALLOW" : "SCMP_ACT_LOG");
  else
    gen_action (r, act, sizeof act, true);
  off += (size_t) snprintf (buf + off, size - off, "{%s,\"architectures\":[", act);
  for (unsigned a = 0, first = 1; a < 3; a++)
    if (mask & (1u << a))
      off += (size_t) snprintf (buf + off, size - off, "%s\"%s\"", first ? "" : ",", arches[a]), first = 0;
  off += (size_t) snprintf (buf + off, size - off, "],\"syscalls\":[");
  for (unsigned i = 0; i < nrules && off < size - 512; i++)
    {
      unsigned ncmp = gen_below (r, 4);
      gen_action (r, act, sizeof act, false);
      off += (size_t) snprintf (buf + off, size - off, "%s{\"names\":[\"%s\"],%s,\"args\":[", i ? "," : "",
                                gen_names[gen_below (r, SBX_ARRAY_SIZE (gen_names))], act);
      for (unsigned k = 0; k < ncmp; k++)
        {
          unsigned op = gen_below (r, 7);
          uint64_t v = gen_value (r), v2 = op == 6 ? (gen_below (r, 4) ? v & gen_u64 (r) : gen_value (r)) : 0;
          off += (size_t) snprintf (buf + off, size - off,
                                    "%s{\"index\":%u,\"value\":%" PRIu64 ",\"valueTwo\":%" PRIu64 ",\"op\":\"%s\"}",
                                    k ? "," : "", gen_below (r, 4) ? gen_below (r, 3) : gen_below (r, 6), v, v2,
                                    ops[op]);
        }
      off += (size_t) snprintf (buf + off, size - off, "]}");
    }
  snprintf (buf + off, size - off, "]}");
}

/* ---- the tests' own seccomp-BPF interpreter: every opcode libseccomp emits, anything else is an error ---- */
#define TBPF_BAD 0xffffffffu
static uint32_t
tbpf_run (const struct sock_filter *p, size_t len, uint32_t arch, int nr, const uint64_t args[6])
{
  struct seccomp_data d;
  uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };

  memset (&d, 0, sizeof d);
  d.nr = nr;
  d.arch = arch;
  memcpy (d.args, args, sizeof d.args);
  for (size_t pc = 0; pc < len; pc++)
    {
      const struct sock_filter f = p[pc];
      switch (f.code)
        {
        case BPF_LD | BPF_W | BPF_ABS:
          if (f.k % 4 || f.k + 4 > sizeof d)
            return TBPF_BAD;
          memcpy (&A, (const char *) &d + f.k, 4);
          break;
        case BPF_LD | BPF_IMM: A = f.k; break;
        case BPF_LDX | BPF_IMM: X = f.k; break;
        case BPF_LD | BPF_MEM: if (f.k >= BPF_MEMWORDS) return TBPF_BAD; A = M[f.k]; break;
        case BPF_LDX | BPF_MEM: if (f.k >= BPF_MEMWORDS) return TBPF_BAD; X = M[f.k]; break;
        case BPF_ST: if (f.k >= BPF_MEMWORDS) return TBPF_BAD; M[f.k] = A; break;
        case BPF_STX: if (f.k >= BPF_MEMWORDS) return TBPF_BAD; M[f.k] = X; break;
        case BPF_ALU | BPF_AND | BPF_K: A &= f.k; break;
        case BPF_ALU | BPF_OR | BPF_K: A |= f.k; break;
        case BPF_ALU | BPF_ADD | BPF_K: A += f.k; break;
        case BPF_ALU | BPF_SUB | BPF_K: A -= f.k; break;
        case BPF_ALU | BPF_RSH | BPF_K: A >>= f.k; break;
        case BPF_ALU | BPF_LSH | BPF_K: A <<= f.k; break;
        case BPF_ALU | BPF_XOR | BPF_K: A ^= f.k; break;
        case BPF_MISC | BPF_TAX: X = A; break;
        case BPF_MISC | BPF_TXA: A = X; break;
        case BPF_JMP | BPF_JA: pc += f.k; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += A == f.k ? f.jt : f.jf; break;
        case BPF_JMP | BPF_JGT | BPF_K: pc += A > f.k ? f.jt : f.jf; break;
        case BPF_JMP | BPF_JGE | BPF_K: pc += A >= f.k ? f.jt : f.jf; break;
        case BPF_JMP | BPF_JSET | BPF_K: pc += (A & f.k) ? f.jt : f.jf; break;
        case BPF_JMP | BPF_JEQ | BPF_X: pc += A == X ? f.jt : f.jf; break;
        case BPF_JMP | BPF_JGT | BPF_X: pc += A > X ? f.jt : f.jf; break;
        case BPF_JMP | BPF_JGE | BPF_X: pc += A >= X ? f.jt : f.jf; break;
        case BPF_RET | BPF_K: return f.k;
        case BPF_RET | BPF_A: return A;
        default: return TBPF_BAD;
        }
    }
  return TBPF_BAD; /* fell off the end: the kernel refuses to load such a program */
}

/* ---- the property, on compiled programs ---- */
struct gen_prog
{
  const struct sock_filter *insns;
  size_t len;
};

static struct gen_prog
gen_prog_of (const struct sbx_bpf *b)
{
  return (struct gen_prog){ b->insns, b->len };
}

static int
gen_action_rank (uint32_t r)
{
  /* The kernel's order: it keeps the lowest signed action of all filters. */
  return (int32_t) (r & SECCOMP_RET_ACTION_FULL);
}

static bool
gen_is_module (const char *n)
{
  return strcmp (n, "init_module") == 0 || strcmp (n, "finit_module") == 0 || strcmp (n, "delete_module") == 0;
}

struct gen_check
{
  const struct sbx_filter *e, *p, *fin; /* for names, comparisons and architectures */
  struct gen_prog ep, pp, fp;
  uint64_t seed;
  char why[600];
  unsigned long points;
};

static void
gen_values_of (const struct sbx_filter *f, const char *name, uint64_t v[6][64], unsigned n[6])
{
  for (size_t i = 0; f && i < f->nrules; i++)
    if (strcmp (f->rules[i].name, name) == 0)
      for (unsigned k = 0; k < f->rules[i].ncmp; k++)
        {
          const struct sbx_cmp *c = &f->rules[i].cmp[k];
          uint64_t cand[8] = { c->value - 1, c->value, c->value + 1, c->value_two, c->value_two | ~c->value,
                               c->value_two ^ (c->value & -c->value), c->value_two ^ c->value, c->value_two + 1 };
          for (unsigned j = 0; j < 8 && n[c->idx] < 60; j++)
            v[c->idx][n[c->idx]++] = cand[j];
        }
}

/* One syscall on one architecture; false (with C->why) at the first point the promise breaks. */
static bool
gen_check_name (struct gen_check *c, const struct sbx_eval_arch *ar, bool in_final, const char *name)
{
  int nr = sbx_syscall_nr_arch (ar->token, name);
  uint64_t v[6][64], args[6];
  unsigned n[6] = { 0 }, used[6], nu = 0;
  struct gen_rng r = { .s = c->seed ^ (uint64_t) nr * 31 ^ ar->token };
  size_t total = 1;

  if (nr < 0)
    return true;
  gen_values_of (c->e, name, v, n);
  gen_values_of (c->p, name, v, n);
  gen_values_of (c->fin, name, v, n);
  if (strcmp (name, "socketcall") == 0 || strcmp (name, "ipc") == 0)
    for (uint64_t k = 0; k < 24 && n[0] < 56; k++)
      v[0][n[0]++] = k;
  for (unsigned i = 0; i < 6; i++)
    if (n[i])
      {
        v[i][n[i]++] = 0, v[i][n[i]++] = UINT64_MAX, v[i][n[i]++] = gen_u64 (&r), v[i][n[i]++] = gen_u64 (&r) >> 40;
        used[nu++] = i;
        total = total > 100000 ? total : total * n[i];
      }
  for (size_t pt = 0; pt < (total < 3000 ? total : 3000); pt++)
    {
      size_t q = pt;
      uint32_t e, p, f;
      memset (args, 0, sizeof args);
      if (nu == 0 && pt == 0)
        for (int i = 0; i < 6; i++)
          args[i] = gen_u64 (&r);
      for (unsigned k = 0; k < nu; k++)
        {
          unsigned i = used[k];
          args[i] = v[i][total < 3000 ? q % n[i] : gen_below (&r, n[i])];
          q /= n[i];
        }
      if (ar->is32)
        for (int i = 0; i < 6; i++)
          args[i] = (uint32_t) args[i];
      e = tbpf_run (c->ep.insns, c->ep.len, ar->audit, nr, args);
      p = tbpf_run (c->pp.insns, c->pp.len, ar->audit, nr, args);
      f = tbpf_run (c->fp.insns, c->fp.len, ar->audit, nr, args);
      c->points++;
      bool ok = e != TBPF_BAD && p != TBPF_BAD && f != TBPF_BAD;
      if (ok && in_final && gen_is_module (name))
        ok = f == (SECCOMP_RET_ERRNO | EPERM);
      else if (ok)
        ok = gen_action_rank (f) <= gen_action_rank (e) && gen_action_rank (f) <= gen_action_rank (p)
             && !((e & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO
                  && (f & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO && f != e
                  && !(ar->is32 && (strcmp (name, "socketcall") == 0 || strcmp (name, "ipc") == 0)));
      if (!ok)
        {
          snprintf (c->why, sizeof c->why,
                    "%s on arch 0x%x (%" PRIx64 ",%" PRIx64 ",%" PRIx64 ",%" PRIx64 "): engine 0x%08x profile 0x%08x "
                    "final 0x%08x",
                    name, ar->token, args[0], args[1], args[2], args[3], e, p, f);
          return false;
        }
    }
  return true;
}

static int
gen_cmp_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The property on every architecture any of the three filters names, for every syscall any of them names and a
   fixed set; false with C->why on a violation. */
static bool
gen_check_all (struct gen_check *c)
{
  static const char *const fixed[] = { "socket", "clone", "clone3", "unshare", "personality", "mount", "bpf",
                                       "keyctl", "ptrace", "io_uring_setup", "kexec_load", "init_module",
                                       "finit_module", "delete_module", "socketcall", "ipc", "getppid", "read",
                                       "socketpair", "shmat" };
  const struct sbx_filter *fs[3] = { c->e, c->p, c->fin };
  struct sbx_eval_arch a[16];
  size_t na = sbx_filter_eval_arches (c->fin, a, 0, 16), nf = na, n = 0, cap = SBX_ARRAY_SIZE (fixed);
  const char **names;
  bool ok = true;

  na = sbx_filter_eval_arches (c->e, a, na, 16);
  na = sbx_filter_eval_arches (c->p, a, na, 16);
  for (int f = 0; f < 3; f++)
    cap += fs[f] ? fs[f]->nrules : 0;
  names = malloc (cap * sizeof *names);
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fixed); i++)
    names[n++] = fixed[i];
  for (int f = 0; f < 3; f++)
    for (size_t i = 0; fs[f] && i < fs[f]->nrules; i++)
      names[n++] = fs[f]->rules[i].name;
  qsort (names, n, sizeof *names, gen_cmp_str);
  for (size_t i = 0; ok && i < n; i++)
    for (size_t k = 0; ok && k < na; k++)
      if (i == 0 || strcmp (names[i], names[i - 1]) != 0)
        ok = gen_check_name (c, &a[k], k < nf, names[i]);
  free (names);
  return ok;
}

/* ---- hardening as sbx-runtime does it, the result as the delegate gets it ---- */
static void
gen_quiet (enum sbx_level level, const char *fmt, ...)
{
  (void) level;
  (void) fmt;
}

/* The spec around ENGINE_JSON (NULL: none) with profile PROFILE, hardened by the seccomp stage for DELEGATE; the
   final filter as parsed JSON in *FIN and the program the delegate loads in *PROG.  CFG decides cache and memo. */
static int
gen_harden (const struct sbx_config *cfg, const char *engine_json, const char *profile, const char *caps,
            enum sbx_delegate_kind delegate, struct sbx_filter *fin, struct sbx_bpf *prog, sbx_err *err)
{
  static char spec_text[1 << 17];
  struct sbx_policy_ctx ctx = { .cfg = cfg, .container_id = "gen", .delegate = delegate, .note = gen_quiet };
  const char *bpf, *saved;
  json_t *spec, *sc;
  int rc;

  snprintf (spec_text, sizeof spec_text,
            "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"capabilities\":{\"bounding\":[%s]}},"
            "\"annotations\":{\"run.sbx.profile\":\"%s\"},\"linux\":{%s%s}}",
            caps, profile, engine_json ? "\"seccomp\":" : "", engine_json ? engine_json : "");
  if (json_parse (spec_text, strlen (spec_text), "spec", &spec, err) < 0)
    return -1;
  memset (prog, 0, sizeof *prog);
  rc = sbx_stage_seccomp (spec, &ctx, err);
  bpf = json_annotation (spec, SBX_ANN_CRUN_BPF);
  saved = json_annotation (spec, SBX_ANN_SECCOMP_SAVED);
  sc = json_find (json_find (spec, "linux"), "seccomp");
  if (rc == 0 && bpf && saved)
    {
      json_t *s2;
      rc = json_parse (saved, strlen (saved), "saved", &s2, err);
      if (rc == 0)
        {
          rc = sbx_filter_from_oci (s2, "final", fin, err);
          json_free (s2);
        }
      if (rc == 0 && (rc = sbx_bpf_from_b64 (bpf, prog, err)) < 0)
        sbx_filter_free (fin);
    }
  else if (rc == 0 && (rc = sbx_filter_from_oci (sc, "final", fin, err)) == 0
           && (rc = sbx_filter_compile_runc (fin, prog, err)) < 0)
    sbx_filter_free (fin);
  json_free (spec);
  return rc;
}

#endif

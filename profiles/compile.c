/* compile.c - sbx_filter to BPF with libseccomp, plus a BPF interpreter and disassembler to explain the result. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "profile.h"

static void
ctx_release (scmp_filter_ctx *c)
{
  if (*c)
    seccomp_release (*c);
}
#define cleanup_seccomp __attribute__ ((cleanup (ctx_release)))

static uint32_t
scmp_action (const struct sbx_action *a)
{
  switch (a->kind)
    {
    case SBX_ACT_ALLOW: return SCMP_ACT_ALLOW;
    case SBX_ACT_LOG: return SCMP_ACT_LOG;
    case SBX_ACT_TRACE: return SCMP_ACT_TRACE (a->data);
    case SBX_ACT_NOTIFY: return SCMP_ACT_NOTIFY;
    case SBX_ACT_ERRNO: return SCMP_ACT_ERRNO (a->data);
    case SBX_ACT_TRAP: return SCMP_ACT_TRAP;
    case SBX_ACT_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
    case SBX_ACT_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
    }
  return SCMP_ACT_KILL_PROCESS;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token, 0 when unknown. */
uint32_t
sbx_arch_token (const char *name)
{
  char low[32];
  size_t i;

  if (strncmp (name, "SCMP_ARCH_", 10) == 0)
    name += 10;
  for (i = 0; name[i] && i < sizeof low - 1; i++)
    low[i] = (char) tolower ((unsigned char) name[i]);
  low[i] = '\0';
  return seccomp_arch_resolve_name (low);
}

int
sbx_syscall_nr (const char *name)
{
  return seccomp_syscall_resolve_name (name);
}

static int
build (const struct sbx_filter *f, bool strict, int optimize, scmp_filter_ctx *out, size_t *bad, sbx_err *err)
{
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  uint32_t def = scmp_action (&f->def);
  char buf[64];
  int r;

  ctx = seccomp_init (def);
  if (ctx == NULL)
    return sbx_fail (err, EINVAL, "libseccomp refuses default action %s", sbx_action_str (&f->def, buf, sizeof buf));
  /* Level 2: a binary tree over syscall numbers instead of a linear chain of comparisons. */
  if (optimize != 1 && (r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, optimize)) < 0)
    return sbx_fail (err, -r, "libseccomp: binary-tree optimization");
  for (size_t i = 0; i < f->narches; i++)
    {
      uint32_t tok = sbx_arch_token (f->arches[i]);
      if (tok == 0)
        return sbx_fail (err, EINVAL, "unknown architecture \"%s\"", f->arches[i]);
      r = seccomp_arch_add (ctx, tok);
      if (r < 0 && r != -EEXIST)
        return sbx_fail (err, -r, "libseccomp: add architecture %s", f->arches[i]);
    }
  for (size_t i = 0; i < f->nrules; i++)
    {
      const struct sbx_rule *rule = &f->rules[i];
      struct scmp_arg_cmp cmp[6];
      int nr;

      /* libseccomp refuses these and both delegates skip them: the default already does the same. */
      if (sbx_action_eq (&rule->act, &f->def))
        continue;
      nr = seccomp_syscall_resolve_name (rule->name);
      if (nr == __NR_SCMP_ERROR)
        {
          if (strict)
            return sbx_fail (err, EINVAL, "unknown syscall \"%s\"", rule->name);
          continue; /* as crun and runc do: an unknown name cannot be called either */
        }
      for (unsigned k = 0; k < rule->ncmp; k++)
        cmp[k] = (struct scmp_arg_cmp){ .arg = rule->cmp[k].idx,
                                        .op = (enum scmp_compare) rule->cmp[k].op,
                                        .datum_a = rule->cmp[k].value,
                                        .datum_b = rule->cmp[k].value_two };
      r = seccomp_rule_add_array (ctx, scmp_action (&rule->act), nr, rule->ncmp, cmp);
      if (r < 0 && bad)
        *bad = i;
      if (r < 0)
        return sbx_fail (err, -r, "libseccomp refuses rule %zu (%s %s with %u comparisons)", i, rule->name,
                         sbx_action_str (&rule->act, buf, sizeof buf), rule->ncmp);
    }
  *out = steal_pointer (&ctx);
  return 0;
}

void
sbx_bpf_free (struct sbx_bpf *p)
{
  free (p->insns);
  memset (p, 0, sizeof *p);
}

int
sbx_filter_compile_opt (const struct sbx_filter *f, bool strict, int optimize, struct sbx_bpf *out, size_t *bad,
                        sbx_err *err)
{
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  size_t len;
  int r;

  memset (out, 0, sizeof *out);
  if (build (f, strict, optimize, &ctx, bad, err) < 0)
    return -1;
  /* libseccomp 2.5 exports only to a file descriptor. */
  fd = memfd_create ("sbx-seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0)
    return sbx_fail (err, errno, "memfd_create for the BPF program");
  if ((r = seccomp_export_bpf (ctx, fd)) < 0)
    return sbx_fail (err, -r, "libseccomp: export BPF");
  if (lseek (fd, 0, SEEK_SET) < 0)
    return sbx_fail (err, errno, "rewind the BPF program");
  if (sbx_read_fd (fd, BPF_MAXINSNS * sizeof (struct sock_filter), "BPF program", &buf, &len, err) < 0)
    return -1;
  if (len == 0 || len % sizeof (struct sock_filter))
    return sbx_fail (err, EINVAL, "libseccomp exported a BPF program of %zu bytes", len);
  out->insns = steal_pointer (&buf);
  out->len = len / sizeof (struct sock_filter);
  return 0;
}

int
sbx_filter_compile (const struct sbx_filter *f, bool strict, struct sbx_bpf *out, sbx_err *err)
{
  return sbx_filter_compile_opt (f, strict, 2, out, NULL, err);
}

int
sbx_filter_compile_runc (const struct sbx_filter *f, struct sbx_bpf *out, sbx_err *err)
{
  return sbx_filter_compile_opt (f, false, 1, out, NULL, err);
}

int
sbx_filter_pfc (const struct sbx_filter *f, FILE *out, sbx_err *err)
{
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  int r;

  if (build (f, false, 2, &ctx, NULL, err) < 0)
    return -1;
  fflush (out);
  if ((r = seccomp_export_pfc (ctx, fileno (out))) < 0)
    return sbx_fail (err, -r, "libseccomp: export pseudo filter code");
  return 0;
}

uint32_t
sbx_bpf_run (const struct sbx_bpf *p, int nr, const uint64_t args[6])
{
  return sbx_bpf_run_arch (p, seccomp_arch_native (), nr, args);
}

/* The program on one seccomp_data, as the kernel runs it.  libseccomp's programs read the architecture and the
   syscall number first and the arguments only after the dispatch: the state where the arguments are first read is
   kept per program for the last (arch, nr), and a run for the same pair resumes there (the checks of verify.c
   run thousands of argument vectors per syscall through programs of a thousand instructions).  The program's
   scratch memory is never used by libseccomp and is not part of the resume state: a program that stores before
   the dispatch is never resumed. */
uint32_t
sbx_bpf_run_arch (const struct sbx_bpf *cp, uint32_t arch, int nr, const uint64_t args[6])
{
  struct sbx_bpf *p = (struct sbx_bpf *) cp;
  const struct sock_filter *ins = p->insns;
  struct seccomp_data d = { .nr = nr, .arch = arch };
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
  size_t pc = 0;
  bool recording = true;

  for (int i = 0; i < 6; i++)
    d.args[i] = args ? args[i] : 0;
  if (p->resume.valid && p->resume.arch == arch && p->resume.nr == nr)
    {
      if (p->resume.done)
        return p->resume.ret;
      pc = p->resume.pc, a = p->resume.a, x = p->resume.x, recording = false;
    }
  else
    p->resume.valid = false;
  while (pc < p->len)
    {
      const struct sock_filter *in = &ins[pc++];
      uint32_t src = BPF_SRC (in->code) == BPF_X ? x : in->k;

      switch (BPF_CLASS (in->code))
        {
        case BPF_LD:
          if (BPF_MODE (in->code) == BPF_ABS && in->k + 4 <= sizeof d)
            {
              if (recording && in->k >= offsetof (struct seccomp_data, instruction_pointer))
                {
                  p->resume = (typeof (p->resume)){ .valid = true, .arch = arch, .nr = nr, .a = a, .x = x,
                                                    .pc = pc - 1 };
                  recording = false;
                }
              memcpy (&a, (const char *) &d + in->k, 4);
            }
          else if (BPF_MODE (in->code) == BPF_IMM)
            a = in->k;
          else if (BPF_MODE (in->code) == BPF_MEM && in->k < BPF_MEMWORDS)
            a = mem[in->k];
          else
            return SECCOMP_RET_KILL_PROCESS;
          break;
        case BPF_LDX:
          x = BPF_MODE (in->code) == BPF_MEM && in->k < BPF_MEMWORDS ? mem[in->k] : in->k;
          break;
        case BPF_ST:
        case BPF_STX:
          recording = false; /* state beyond A and X: never resumed */
          if (in->k < BPF_MEMWORDS)
            mem[in->k] = BPF_CLASS (in->code) == BPF_ST ? a : x;
          break;
        case BPF_ALU:
          switch (BPF_OP (in->code))
            {
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_MUL: a *= src; break;
            case BPF_DIV: a = src ? a / src : 0; break;
            case BPF_OR: a |= src; break;
            case BPF_AND: a &= src; break;
            case BPF_LSH: a <<= src; break;
            case BPF_RSH: a >>= src; break;
            case BPF_NEG: a = -a; break;
            case BPF_XOR: a ^= src; break;
            }
          break;
        case BPF_JMP:
          if (BPF_OP (in->code) == BPF_JA)
            pc += in->k;
          else
            {
              bool t = BPF_OP (in->code) == BPF_JEQ   ? a == src
                       : BPF_OP (in->code) == BPF_JGT ? a > src
                       : BPF_OP (in->code) == BPF_JGE ? a >= src
                                                      : (a & src) != 0;
              pc += t ? in->jt : in->jf;
            }
          break;
        case BPF_RET:
          {
            uint32_t r = BPF_RVAL (in->code) == BPF_A ? a : in->k;
            if (recording)
              p->resume = (typeof (p->resume)){ .valid = true, .done = true, .arch = arch, .nr = nr, .ret = r };
            return r;
          }
        case BPF_MISC:
          if (BPF_MISCOP (in->code) == BPF_TAX)
            x = a;
          else
            a = x;
          break;
        }
    }
  return SECCOMP_RET_KILL_PROCESS;
}

int
sbx_bpf_run_name (const struct sbx_bpf *p, const char *name, const uint64_t args[6], uint32_t *ret)
{
  int nr = seccomp_syscall_resolve_name (name);

  if (nr < 0)
    return -1;
  *ret = sbx_bpf_run (p, nr, args);
  return 0;
}

const char *
sbx_bpf_ret_str (uint32_t ret, char *buf, size_t size)
{
  uint32_t data = ret & SECCOMP_RET_DATA;

  switch (ret & SECCOMP_RET_ACTION_FULL)
    {
    case SECCOMP_RET_KILL_PROCESS: snprintf (buf, size, "KILL_PROCESS"); break;
    case SECCOMP_RET_KILL_THREAD: snprintf (buf, size, "KILL_THREAD"); break;
    case SECCOMP_RET_TRAP: snprintf (buf, size, "TRAP"); break;
    case SECCOMP_RET_ERRNO: snprintf (buf, size, "ERRNO(%u)", data); break;
    case SECCOMP_RET_USER_NOTIF: snprintf (buf, size, "NOTIFY"); break;
    case SECCOMP_RET_TRACE: snprintf (buf, size, "TRACE(%u)", data); break;
    case SECCOMP_RET_LOG: snprintf (buf, size, "LOG"); break;
    case SECCOMP_RET_ALLOW: snprintf (buf, size, "ALLOW"); break;
    default: snprintf (buf, size, "0x%08x", ret); break;
    }
  return buf;
}

static const char *
field (uint32_t k, char *buf, size_t size)
{
  if (k == offsetof (struct seccomp_data, nr))
    return "$syscall";
  if (k == offsetof (struct seccomp_data, arch))
    return "$arch";
  if (k >= offsetof (struct seccomp_data, args) && k < sizeof (struct seccomp_data))
    {
      uint32_t off = k - offsetof (struct seccomp_data, args);
      snprintf (buf, size, "$a%u.%s", off / 8, off % 8 ? "hi32" : "lo32");
      return buf;
    }
  snprintf (buf, size, "$data[%u]", k);
  return buf;
}

void
sbx_bpf_disasm (const struct sbx_bpf *p, FILE *out)
{
  const struct sock_filter *ins = p->insns;
  static const char *const jops[] = { [BPF_JEQ >> 4] = "jeq", [BPF_JGT >> 4] = "jgt", [BPF_JGE >> 4] = "jge",
                                      [BPF_JSET >> 4] = "jset" };
  char b1[32], b2[32];

  fprintf (out, " line  OP   JT   JF   K\n=================================\n");
  for (size_t i = 0; i < p->len; i++)
    {
      const struct sock_filter *in = &ins[i];

      fprintf (out, " %04zu: 0x%02x 0x%02x 0x%02x 0x%08x   ", i, in->code, in->jt, in->jf, in->k);
      switch (BPF_CLASS (in->code))
        {
        case BPF_LD:
          if (BPF_MODE (in->code) == BPF_ABS)
            fprintf (out, "ld  %s", field (in->k, b1, sizeof b1));
          else if (BPF_MODE (in->code) == BPF_MEM)
            fprintf (out, "ld  $temp[%u]", in->k);
          else
            fprintf (out, "ld  %u", in->k);
          break;
        case BPF_LDX: fprintf (out, "ldx %u", in->k); break;
        case BPF_ST: fprintf (out, "st  $temp[%u]", in->k); break;
        case BPF_STX: fprintf (out, "stx $temp[%u]", in->k); break;
        case BPF_ALU:
          fprintf (out, "%s 0x%08x", BPF_OP (in->code) == BPF_AND ? "and" : BPF_OP (in->code) == BPF_OR ? "or " : "alu",
                   in->k);
          break;
        case BPF_JMP:
          if (BPF_OP (in->code) == BPF_JA)
            fprintf (out, "jmp %04zu", i + 1 + in->k);
          else
            fprintf (out, "%s %-10u true:%04zu false:%04zu", jops[BPF_OP (in->code) >> 4] ? jops[BPF_OP (in->code) >> 4] : "j?",
                     in->k, i + 1 + in->jt, i + 1 + in->jf);
          break;
        case BPF_RET:
          if (BPF_RVAL (in->code) == BPF_A)
            fprintf (out, "ret A");
          else
            fprintf (out, "ret %s", sbx_bpf_ret_str (in->k, b2, sizeof b2));
          break;
        case BPF_MISC: fprintf (out, BPF_MISCOP (in->code) == BPF_TAX ? "tax" : "txa"); break;
        }
      fputc ('\n', out);
    }
}

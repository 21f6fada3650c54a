/* test_merge_cases.h - test_merge's regressions: the engine filters issue 12 reported lost or unstartable, and every
   case the generator has found, each hardened with every built-in profile for runc and for crun and checked on
   the grid, plus the verdicts that mattered, read from the program the delegate loads. */
#ifndef SBX_TEST_MERGE_CASES_H
#define SBX_TEST_MERGE_CASES_H

#define ARCH3 "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]"
#define RULE(names, act, args) "{\"names\":[" names "],\"action\":" act ",\"args\":[" args "]}"
#define CMP(i, op, v) "{\"index\":" #i ",\"value\":" #v ",\"op\":\"SCMP_CMP_" #op "\"}"
#define MCMP(i, m, v) "{\"index\":" #i ",\"value\":" #m ",\"valueTwo\":" #v ",\"op\":\"SCMP_CMP_MASKED_EQ\"}"

struct point
{
  const char *name;
  uint32_t arch; /* AUDIT_ARCH_*, or 0x40000000|AUDIT_ARCH_X86_64 for x32 */
  uint64_t a0, a1;
  uint32_t want; /* exact SECCOMP_RET_*, or REFUSED: any refusal */
};
#define REFUSED 1u
#define GRID_ONLY 0u
#define X32 (0x40000000u | AUDIT_ARCH_X86_64)

static const struct mcase
{
  const char *what, *engine;
  struct point pts[8];
} mcases[] = {
  { "the issue's deny-list: socket(AF_NETLINK) and unshare(CLONE_FILES) keep the engine's EPERM",
    "{\"defaultAction\":\"SCMP_ACT_ALLOW\"," ARCH3 ",\"syscalls\":["
    RULE ("\"socket\"", "\"SCMP_ACT_ERRNO\"", CMP (0, EQ, 16)) ","
    "{\"names\":[\"unshare\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[" MCMP (0, 1024, 1024) "]}]}",
    { { "socket", AUDIT_ARCH_X86_64, 16, 3, SECCOMP_RET_ERRNO | EPERM },
      { "socket", AUDIT_ARCH_I386, 16, 3, SECCOMP_RET_ERRNO | EPERM },
      { "socket", X32, 16, 3, SECCOMP_RET_ERRNO | EPERM },
      { "unshare", AUDIT_ARCH_X86_64, 0x400, 0, SECCOMP_RET_ERRNO | EPERM },
      { "unshare", AUDIT_ARCH_I386, 0x400, 0, SECCOMP_RET_ERRNO | EPERM },
      { "unshare", X32, 0x10400, 0, SECCOMP_RET_ERRNO | EPERM } } },
  { "i386 multiplexers: an engine refusing socketcall(3) and ipc(4) stays refused beside allowed direct calls",
    "{\"defaultAction\":\"SCMP_ACT_ALLOW\"," ARCH3 ",\"syscalls\":["
    RULE ("\"socketcall\"", "\"SCMP_ACT_ERRNO\",\"errnoRet\":5", CMP (0, EQ, 3)) ","
    RULE ("\"ipc\"", "\"SCMP_ACT_ERRNO\",\"errnoRet\":6", CMP (0, EQ, 4)) "]}",
    { { "socketcall", AUDIT_ARCH_I386, 3, 0, REFUSED },
      { "ipc", AUDIT_ARCH_I386, 4, 0, REFUSED } } },
  { "i386 multiplexers: an engine allow-list without socketcall or ipc (its own program lets the derived calls through)",
    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38," ARCH3 ",\"syscalls\":["
    RULE ("\"socket\",\"connect\",\"shmat\",\"shmget\",\"exit_group\"", "\"SCMP_ACT_ALLOW\"", "") "]}",
    { { "socketcall", AUDIT_ARCH_I386, 4, 0, REFUSED },
      { "ipc", AUDIT_ARCH_I386, 1, 0, REFUSED },
      { "socketcall", AUDIT_ARCH_I386, 1, 0, GRID_ONLY } } },
  { "EEXIST: socketpair and shmat rules of different actions start",
    "{\"defaultAction\":\"SCMP_ACT_ERRNO\"," ARCH3 ",\"syscalls\":["
    RULE ("\"socketcall\",\"ipc\",\"exit_group\"", "\"SCMP_ACT_ALLOW\"", "") ","
    RULE ("\"socketpair\"", "\"SCMP_ACT_ALLOW\"", CMP (0, EQ, 1)) ","
    RULE ("\"socketpair\"", "\"SCMP_ACT_ERRNO\",\"errnoRet\":13", CMP (0, EQ, 2)) ","
    RULE ("\"shmat\"", "\"SCMP_ACT_ALLOW\"", CMP (2, EQ, 0)) ","
    RULE ("\"shmat\"", "\"SCMP_ACT_ERRNO\",\"errnoRet\":13", CMP (2, EQ, 4096)) "]}",
    { { "socketpair", AUDIT_ARCH_X86_64, 2, 0, SECCOMP_RET_ERRNO | 13 },
      { "socketpair", AUDIT_ARCH_I386, 2, 0, SECCOMP_RET_ERRNO | 13 } } },
  { "EEXIST: a deny-list conditioning socketpair and shmat starts",
    "{\"defaultAction\":\"SCMP_ACT_ALLOW\"," ARCH3 ",\"syscalls\":["
    RULE ("\"socketpair\"", "\"SCMP_ACT_ERRNO\",\"errnoRet\":22", CMP (0, NE, 1)) ","
    RULE ("\"shmat\"", "\"SCMP_ACT_ERRNO\",\"errnoRet\":22", CMP (2, GT, 0)) "]}",
    { { "socketpair", AUDIT_ARCH_X86_64, 2, 0, SECCOMP_RET_ERRNO | 22 },
      { "shmat", AUDIT_ARCH_X86_64, 0, 0, GRID_ONLY } } },
  { "libseccomp's shape: LOG[a0==1] and KILL[a1>=17 && a0==40] on socketpair with x86",
    "{\"defaultAction\":\"SCMP_ACT_ALLOW\"," ARCH3 ",\"syscalls\":["
    RULE ("\"socketpair\"", "\"SCMP_ACT_LOG\"", CMP (0, EQ, 1)) ","
    RULE ("\"socketpair\"", "\"SCMP_ACT_KILL\"", CMP (1, GE, 17) "," CMP (0, EQ, 40)) "]}",
    { { "socketpair", AUDIT_ARCH_X86_64, 40, 17, SECCOMP_RET_KILL_THREAD },
      { "socketpair", AUDIT_ARCH_I386, 40, 17, SECCOMP_RET_KILL_THREAD },
      { "socketpair", X32, 40, 0x100000011ULL, SECCOMP_RET_KILL_THREAD } } },
};

static bool
point_holds (const struct sbx_bpf *fb, const struct point *p, uint32_t *got)
{
  uint64_t args[6] = { p->a0, p->a1 };
  uint32_t arch = p->arch == X32 ? AUDIT_ARCH_X86_64 : p->arch;
  uint32_t token = p->arch == X32 ? 0x4000003eu : p->arch; /* libseccomp's SCMP_ARCH_X32 */
  int nr = sbx_syscall_nr_arch (token, p->name);

  *got = tbpf_run (fb->insns, fb->len, arch, nr, args);
  if (p->want == REFUSED)
    return *got != TBPF_BAD && gen_action_rank (*got) <= (int32_t) SECCOMP_RET_USER_NOTIF;
  if (p->want == GRID_ONLY)
    return true;
  return *got == p->want;
}

/* Verify before use: a final filter that loses the engine's refusal is caught, naming the syscall. */
static void
verify_refuses (void)
{
  static const char eng[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\"," ARCH3 ",\"syscalls\":["
                            RULE ("\"socket\"", "\"SCMP_ACT_ERRNO\"", CMP (0, EQ, 16)) "]}";
  struct sbx_filter ef;
  json_t *j;
  sbx_err err = { 0 };
  int rc = -2;

  if (json_parse (eng, strlen (eng), "engine", &j, &err) == 0 && sbx_filter_from_oci (j, "engine", &ef, &err) == 0)
    {
      /* The "final" filter is the baseline profile alone, module block included: socket(AF_NETLINK) runs. */
      static const char fin_json[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\"," ARCH3 ",\"syscalls\":["
                                     RULE ("\"init_module\",\"finit_module\",\"delete_module\"",
                                           "\"SCMP_ACT_ERRNO\"", "") "]}";
      struct sbx_filter ff;
      struct sbx_bpf fb;
      json_t *fj;
      if (json_parse (fin_json, strlen (fin_json), "final", &fj, &err) == 0
          && sbx_filter_from_oci (fj, "final", &ff, &err) == 0 && sbx_filter_compile_runc (&ff, &fb, &err) == 0)
        {
          rc = sbx_filter_verify (&ef, &prof[2].f, &ff, &fb, false, &err);
          sbx_bpf_free (&fb);
          sbx_filter_free (&ff);
        }
      json_free (fj);
      sbx_filter_free (&ef);
    }
  json_free (j);
  tap_ok (rc == -1 && strstr (err.msg, "socket(0x10"), "verify before use refuses a final filter that lets socket(AF_NETLINK) "
          "through: %s", err.msg);
}

static void
regressions (void)
{
  verify_refuses ();
  for (size_t i = 0; i < SBX_ARRAY_SIZE (mcases); i++)
    {
      const struct mcase *m = &mcases[i];
      struct sbx_filter ef;
      struct sbx_bpf eb;
      json_t *j;
      sbx_err err;
      unsigned bad = 0;
      char why[700] = "";

      if (json_parse (m->engine, strlen (m->engine), "engine", &j, &err) < 0
          || sbx_filter_from_oci (j, "engine", &ef, &err) < 0)
        {
          tap_ok (0, "%s: test filter: %s", m->what, err.msg);
          continue;
        }
      json_free (j);
      if (sbx_filter_compile_runc (&ef, &eb, &err) < 0)
        {
          tap_ok (0, "%s: runc's libseccomp takes the engine filter: %s", m->what, err.msg);
          sbx_filter_free (&ef);
          continue;
        }
      for (int pi = 0; pi < 3; pi++)
        for (int d = 0; d < 2; d++)
          {
            struct sbx_bpf fb = { 0 };
            int rc = one (m->engine, &ef, &eb, pi, d ? SBX_DELEGATE_CRUN : SBX_DELEGATE_RUNC, 7, why, sizeof why, &fb);
            for (size_t k = 0; rc == 0 && k < SBX_ARRAY_SIZE (m->pts) && m->pts[k].name; k++)
              {
                uint32_t got;
                if (!point_holds (&fb, &m->pts[k], &got))
                  {
                    snprintf (why, sizeof why, "%s(0x%" PRIx64 ", 0x%" PRIx64 ") on 0x%x: 0x%08x", m->pts[k].name,
                              m->pts[k].a0, m->pts[k].a1, m->pts[k].arch, got);
                    rc = 1;
                  }
              }
            if (rc)
              {
                bad++;
                printf ("# %s ∩ %s (%s): %s\n", m->what, profiles[pi], d ? "crun" : "runc", why);
              }
            sbx_bpf_free (&fb);
          }
      tap_ok (bad == 0, "%s (every profile, runc and crun)", m->what);
      sbx_filter_free (&ef);
      sbx_bpf_free (&eb);
    }
}

#endif

/* test_merge.c - TAP tests of engine ∩ profile on compiled BPF: the cases as regressions, thousands of
   generated engine filters and containers-common's real one crossed with every built-in profile, each final filter
   taken as the delegate gets it and judged by the tests' own BPF interpreter (merge_gen.h) against the engine's and
   the profile's programs, and that interpreter checked against the kernel on a sample.

   SBX_MERGE_SEED=N replays a run (the seed is printed); SBX_MERGE_COUNT=N sets how many engine filters. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "merge_gen.h"
#include "tap.h"

#define DOCKER_CAPS                                                                                                  \
  "\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\","   \
  "\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\","         \
  "\"CAP_AUDIT_WRITE\""
static const char *const profiles[] = { "default", "strict", "baseline" };

static struct sbx_config cfg_runc, cfg_crun;
static char cache_dir[64];

struct prof
{
  struct sbx_filter f;
  struct sbx_bpf b;
};
static struct prof prof[3];

static void
config (struct sbx_config *c, const char *cache)
{
  char text[512];
  sbx_err err;

  snprintf (text, sizeof text,
            "{\"seccomp_memo\":false,\"seccomp_cache\":\"%s\",\"state_dir\":\"/nonexistent/sbx-test-merge\","
            "\"watcher\":{\"enabled\":false,\"on_demand\":false}}",
            cache);
  if (json_parse (text, strlen (text), "settings", &c->root, &err) < 0)
    exit (1);
}

static int
load_profile (const char *name, const char *caps_csv, struct prof *p, sbx_err *err)
{
  const char *caps[32];
  char buf[1024], *save = NULL;
  struct sbx_resolve_env env = { .caps = caps };
  cleanup_free char *origin = NULL;
  json_t *j;
  int rc;

  snprintf (buf, sizeof buf, "%s", caps_csv);
  for (char *t = strtok_r (buf, "\",", &save); t && env.ncaps < 32; t = strtok_r (NULL, "\",", &save))
    caps[env.ncaps++] = t;
  sbx_resolve_env_host (&env);
  if (sbx_profile_load (&cfg_runc, name, &j, &origin, err) < 0)
    return -1;
  rc = sbx_profile_resolve (j, origin, &env, &p->f, err);
  json_free (j);
  if (rc == 0 && (rc = sbx_filter_compile_runc (&p->f, &p->b, err)) < 0)
    sbx_filter_free (&p->f);
  return rc;
}

/* Harden ENGINE (NULL: none) with profile PI for DELEGATE and check the result; 0 ok, 1 violation, 2 no start. */
static int
one (const char *engine, const struct sbx_filter *ef, const struct sbx_bpf *eb, int pi, enum sbx_delegate_kind d,
     uint64_t seed, char *why, size_t why_size, struct sbx_bpf *keep)
{
  struct sbx_filter fin;
  struct sbx_bpf fb;
  sbx_err err;
  struct gen_check c = { .e = ef, .p = &prof[pi].f, .fin = NULL, .seed = seed };

  if (gen_harden (d == SBX_DELEGATE_CRUN ? &cfg_crun : &cfg_runc, engine, profiles[pi], DOCKER_CAPS, d, &fin, &fb,
                  &err)
      < 0)
    {
      snprintf (why, why_size, "%.600s", err.msg);
      return 2;
    }
  c.fin = &fin;
  c.ep = eb ? gen_prog_of (eb) : (struct gen_prog){ 0 };
  c.pp = gen_prog_of (&prof[pi].b);
  c.fp = gen_prog_of (&fb);
  {
    /* No engine filter: it allows everything. */
    static const struct sock_filter allow = BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    if (eb == NULL)
      c.ep = (struct gen_prog){ &allow, 1 };
  }
  bool ok = gen_check_all (&c);
  if (!ok)
    snprintf (why, why_size, "%s", c.why);
  sbx_filter_free (&fin);
  if (keep && ok)
    *keep = fb;
  else
    sbx_bpf_free (&fb);
  return ok ? 0 : 1;
}

/* ---- the kernel keeps the interpreter honest ---- */

/* NAME(ARGS) in a child under PROG: the SECCOMP_RET_* the kernel's behaviour shows, TBPF_BAD when unclear. */
static uint32_t
kernel_verdict (const struct sbx_bpf *prog, long nr, const uint64_t args[6])
{
  /* The child reports through shared memory: the filter may refuse write() and exit_group() too. */
  volatile long *shm = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  uint32_t verdict = TBPF_BAD;
  int st;
  pid_t pid;

  if (shm == MAP_FAILED)
    return TBPF_BAD;
  shm[0] = shm[1] = shm[2] = 0;
  pid = fork ();
  if (pid == 0)
    {
      struct sock_fprog fp = { .len = (unsigned short) prog->len, .filter = prog->insns };
      long r;
      alarm (5);
      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0)
        _exit (100);
      r = syscall (nr, args[0], args[1], args[2], args[3], args[4], args[5]);
      shm[1] = r < 0 ? errno : 0;
      shm[0] = r;
      shm[2] = 1;
      _exit (0);
    }
  if (pid > 0 && waitpid (pid, &st, 0) == pid)
    {
      if (shm[2])
        verdict = shm[0] >= 0 ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | (uint32_t) shm[1];
      else if (WIFSIGNALED (st) && WTERMSIG (st) == SIGSYS)
        verdict = SECCOMP_RET_KILL_PROCESS; /* TRAP and both kills end the process with SIGSYS here */
    }
  munmap ((void *) shm, 4096);
  return verdict;
}

/* What the kernel shows of an interpreter verdict: SIGSYS for TRAP and kills, ENOSYS for NOTIFY without a
   listener, success for ALLOW and LOG. */
static uint32_t
observable (uint32_t r)
{
  switch (r & SECCOMP_RET_ACTION_FULL)
    {
    case SECCOMP_RET_KILL_PROCESS:
    case SECCOMP_RET_KILL_THREAD:
    case SECCOMP_RET_TRAP: return SECCOMP_RET_KILL_PROCESS;
    case SECCOMP_RET_USER_NOTIF: return SECCOMP_RET_ERRNO | ENOSYS;
    case SECCOMP_RET_ALLOW:
    case SECCOMP_RET_LOG: return SECCOMP_RET_ALLOW;
    default: return r;
    }
}

static unsigned kernel_checked, kernel_mismatch;

static void
kernel_sample (const struct sbx_bpf *prog, const struct sbx_filter *ef, struct gen_rng *r)
{
  for (int k = 0; k < 6; k++)
    {
      const char *name = gen_harmless[gen_below (r, SBX_ARRAY_SIZE (gen_harmless))];
      int nr = sbx_syscall_nr_arch (0xc000003e, name);
      uint64_t args[6] = { 0 };
      uint32_t want, got;
      /* Values that meet the engine's comparisons on this name, or plain ones. */
      for (size_t i = 0; ef && i < ef->nrules; i++)
        if (strcmp (ef->rules[i].name, name) == 0 && ef->rules[i].ncmp && gen_below (r, 2))
          for (unsigned c = 0; c < ef->rules[i].ncmp; c++)
            args[ef->rules[i].cmp[c].idx]
                = ef->rules[i].cmp[c].op == SBX_CMP_MASKED_EQ ? ef->rules[i].cmp[c].value_two
                                                              : ef->rules[i].cmp[c].value + gen_below (r, 3) - 1;
      want = observable (tbpf_run (prog->insns, prog->len, AUDIT_ARCH_X86_64, nr, args));
      got = kernel_verdict (prog, nr, args);
      kernel_checked++;
      if (want != got)
        {
          kernel_mismatch++;
          printf ("# kernel: %s(%" PRIx64 ",%" PRIx64 ",%" PRIx64 ") interpreter 0x%08x kernel 0x%08x\n", name,
                  args[0], args[1], args[2], want, got);
        }
    }
}

#include "test_merge_cases.h"

static double slowest;
static char slow_engine[1 << 15];

static int
random_filters (uint64_t seed, unsigned count)
{
  static char engine[1 << 15];
  struct gen_rng r = { .s = seed };
  unsigned valid = 0, invalid = 0, merged = 0, violations = 0, unstartable = 0, crun = 0;
  char why[700];
  struct timespec t0, t1;

  clock_gettime (CLOCK_MONOTONIC, &t0);
  while (valid < count)
    {
      struct sbx_filter ef;
      struct sbx_bpf eb;
      json_t *j;
      sbx_err err;

      gen_engine (&r, engine, sizeof engine);
      if (json_parse (engine, strlen (engine), "engine", &j, &err) < 0)
        return tap_ok (0, "generator wrote bad JSON: %s", err.msg), -1;
      if (sbx_filter_from_oci (j, "engine", &ef, &err) < 0)
        {
          json_free (j);
          return tap_ok (0, "generator wrote a filter sbx cannot read: %s", err.msg), -1;
        }
      json_free (j);
      /* A filter runc itself refuses (libseccomp: conflicting rules) is no engine's filter. */
      if (sbx_filter_compile_runc (&ef, &eb, &err) < 0)
        {
          invalid++;
          sbx_filter_free (&ef);
          continue;
        }
      valid++;
      for (int pi = 0; pi < 3; pi++)
        {
          enum sbx_delegate_kind d = (valid % 16 == 0) ? SBX_DELEGATE_CRUN : SBX_DELEGATE_RUNC;
          struct sbx_bpf keep = { 0 };
          struct timespec a, b;
          clock_gettime (CLOCK_MONOTONIC, &a);
          if (getenv ("SBX_MERGE_TRACE"))
            fprintf (stderr, "%s: %s\n", profiles[pi], engine);
          int rc = one (engine, &ef, &eb, pi, d, seed + valid, why, sizeof why, pi == 0 ? &keep : NULL);
          clock_gettime (CLOCK_MONOTONIC, &b);
          double ms = (double) (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
          if (ms > slowest)
            {
              slowest = ms;
              snprintf (slow_engine, sizeof slow_engine, "%s ∩ %s: %s", profiles[pi], d == SBX_DELEGATE_CRUN ? "crun" : "runc", engine);
            }
          merged++;
          crun += d == SBX_DELEGATE_CRUN;
          if (rc == 1 && violations++ < 5)
            printf ("# violation (%s, %s): %s\n#   engine: %s\n", profiles[pi], d == SBX_DELEGATE_CRUN ? "crun" : "runc",
                    why, engine);
          if (rc == 2 && unstartable++ < 5)
            printf ("# no start (%s): %s\n#   engine: %s\n", profiles[pi], why, engine);
          if (keep.insns && valid % 8 == 0)
            kernel_sample (&keep, &ef, &r);
          sbx_bpf_free (&keep);
        }
      sbx_filter_free (&ef);
      sbx_bpf_free (&eb);
    }
  clock_gettime (CLOCK_MONOTONIC, &t1);
  printf ("# %u generated engine filters (%u more refused by libseccomp itself and skipped), %u merges (%u for crun) "
          "in %.1f s\n",
          valid, invalid, merged, crun, (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  printf ("# slowest merge %.0f ms: %s\n", slowest, slow_engine);
  tap_ok (violations == 0, "generated engine filters ∩ every built-in profile: %u violations in %u merges", violations,
          merged);
  /* Known open (issue 12): a few generated filters still end in a refused start (fail-closed, never a
     violation): an engine refusing one syscall with two errnos that only its strictest-answer fallback can
     express, and i386 ipc/socketcall shapes where libseccomp derives differently once sbx adds a rule.  Reported
     as TAP TODO until fixed, so it is visible without failing every branch's make check. */
  if (unstartable == 0)
    tap_ok (1, "generated engine filters: 0 that sbx cannot turn into a startable filter");
  else
    printf ("not ok %d - generated engine filters: %u of %u merges that sbx cannot turn into a startable filter "
            "# TODO issue 12: errno conflicts under the fallback, i386 derived rules\n",
            ++tap_n, unstartable, merged);
  return 0;
}

/* containers-common's default profile, rendered as an engine renders it for several capability sets, and the
   same with moby's EPERM default. */
static void
real_filters (void)
{
  static const char *const capsets[] = {
    "",
    DOCKER_CAPS,
    DOCKER_CAPS ",\"CAP_SYS_ADMIN\"",
    DOCKER_CAPS ",\"CAP_NET_ADMIN\",\"CAP_SYS_PTRACE\",\"CAP_SYS_TIME\"",
    "\"CAP_CHOWN\",\"CAP_SYS_NICE\",\"CAP_SYS_RESOURCE\",\"CAP_SYSLOG\",\"CAP_BPF\",\"CAP_PERFMON\"",
  };
  const char *path = "/usr/share/containers/seccomp.json";
  unsigned bad = 0, n = 0;
  char why[700];

  if (access (path, R_OK) != 0)
    {
      tap_ok (0, "containers-common's profile %s is not on this host (hack/install-deps.sh installs it)", path);
      return;
    }
  for (size_t ci = 0; ci < SBX_ARRAY_SIZE (capsets); ci++)
    for (int moby = 0; moby < 2; moby++)
      {
        struct prof e;
        cleanup_free char *text = NULL;
        json_t *o = json_new_obj ();
        sbx_err err;
        size_t len;

        if (load_profile (path, capsets[ci], &e, &err) < 0)
          {
            tap_ok (0, "%s resolves for caps set %zu: %s", path, ci, err.msg);
            json_free (o);
            continue;
          }
        if (moby)
          e.f.def.data = EPERM;
        sbx_bpf_free (&e.b);
        if (sbx_filter_compile_runc (&e.f, &e.b, &err) < 0 || sbx_filter_to_oci (&e.f, o, false, &err) < 0
            || json_serialize (o, &text, &len, &err) < 0)
          bad++;
        else
          for (int pi = 0; pi < 3; pi++)
            for (int d = 0; d < 2; d++)
              {
                int rc = one (text, &e.f, &e.b, pi, d ? SBX_DELEGATE_CRUN : SBX_DELEGATE_RUNC, ci, why, sizeof why,
                              NULL);
                n++;
                if (rc && bad++ < 3)
                  printf ("# containers-common caps set %zu%s ∩ %s (%s): %s\n", ci, moby ? " (EPERM)" : "",
                          profiles[pi], d ? "crun" : "runc", why);
              }
        json_free (o);
        sbx_filter_free (&e.f);
        sbx_bpf_free (&e.b);
      }
  tap_ok (bad == 0 && n == SBX_ARRAY_SIZE (capsets) * 2 * 6,
          "containers-common's and moby's default filters, 5 capability sets, ∩ every built-in profile, runc and crun: "
          "%u of %u wrong or not startable",
          bad, n);
}

int
main (void)
{
  uint64_t seed = getenv ("SBX_MERGE_SEED") ? strtoull (getenv ("SBX_MERGE_SEED"), NULL, 0) : (uint64_t) time (NULL);
  unsigned count = getenv ("SBX_MERGE_COUNT") ? (unsigned) atoi (getenv ("SBX_MERGE_COUNT")) : 150;
  sbx_err err;

  /* Bounded: a libseccomp that loops on some rule shape fails the test instead of hanging it. */
  alarm (getenv ("SBX_MERGE_COUNT") ? 0 : 270);
  snprintf (cache_dir, sizeof cache_dir, "/tmp/sbx-test-merge.%d", (int) getpid ());
  config (&cfg_runc, "off");
  config (&cfg_crun, cache_dir);
  unsetenv ("SBX_SECCOMP_CACHE");
  setenv ("SBX_PROFILES_DIR", "/nonexistent/sbx-test-merge", 1);
  for (int pi = 0; pi < 3; pi++)
    if (load_profile (profiles[pi], DOCKER_CAPS, &prof[pi], &err) < 0)
      {
        printf ("Bail out! profile %s: %s\n", profiles[pi], err.msg);
        return 1;
      }
  regressions ();
  real_filters ();
  printf ("# fixed seed 0x5b12; time seed %" PRIu64 " (replay: SBX_MERGE_SEED=%" PRIu64 ")\n", seed, seed);
  random_filters (0x5b12, count / 2);
  random_filters (seed, count - count / 2);
  tap_ok (kernel_checked >= 100 && kernel_mismatch == 0,
          "the tests' interpreter agrees with the kernel on %u calls under final filters (%u mismatches)",
          kernel_checked, kernel_mismatch);
  {
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", cache_dir);
    if (system (cmd) != 0)
      printf ("# could not remove %s\n", cache_dir);
  }
  for (int pi = 0; pi < 3; pi++)
    sbx_filter_free (&prof[pi].f), sbx_bpf_free (&prof[pi].b);
  return tap_done ();
}

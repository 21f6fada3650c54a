/* test_bpf.c - TAP tests of bpf/ on the real kernel, plus the helper modes integration/bpf.bats drives. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bpf/sbx_bpf.h"
#include "tap.h"

#define CG2 "/sys/fs/cgroup/unified"
/* i386 numbers of the module syscalls, and one that shares a native module syscall's number */
#define NR32_INIT_MODULE 128
#define NR32_DELETE_MODULE 129
#define NR32_FINIT_MODULE 350
#define NR32_RT_SIGPROCMASK 175
#define MAX_EVENTS 64

#include "bpf_modes.h"

/* ---------- TAP tests ---------- */

struct events
{
  int n;
  struct sbx_bpf_event ev[MAX_EVENTS];
};

static int
collect_cb (void *ctx, const struct sbx_bpf_event *e)
{
  struct events *es = ctx;

  if (es->n < MAX_EVENTS)
    es->ev[es->n++] = *e;
  return 0;
}

/* Drain what the ring buffer holds now: events are submitted before the syscall returns, so after the child
   has been reaped they are all there. */
static void
drain (struct sbx_bpf *b, struct events *es)
{
  memset (es, 0, sizeof *es);
  while (sbx_bpf_poll (b, 50, collect_cb, es) > 0)
    ;
}

/* Fork a child that joins CGDIR (NULL: stays), optionally enters a new pid namespace (NEWPID: the module
   syscalls run in its first process), installs the filter and tries the three module syscalls.  Returns a
   bitmask of syscalls that failed with EPERM (7 = all three), or -1.  With NEWPID, *PIDNS_INO gets the new
   namespace's inode and REGISTER (if set) is called with it before the syscalls run. */
struct child_opts
{
  const char *cgdir;
  bool newpid;
  bool no_filter;       /* let the syscalls reach the kernel: only where the LSM hooks refuse them */
  int (*body) (void);   /* what the child does instead of module_syscalls */
  void (*before) (uint32_t pidns_ino, void *ctx);
  void *ctx;
};

static int
module_syscalls (void)
{
  int fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC), mask = 0;

  if (syscall (SYS_finit_module, fd, "", 0) < 0 && errno == EPERM)
    mask |= 1;
  if (syscall (SYS_init_module, "\177ELF", 4, "") < 0 && errno == EPERM)
    mask |= 2;
  if (syscall (SYS_delete_module, "sbx_test_dummy", O_NONBLOCK) < 0 && errno == EPERM)
    mask |= 4;
  return mask;
}

/* AF_DECnet is gone from the kernel, so asking for it makes the kernel autoload "net-pf-12". */
static void
autoload_request (void)
{
  int s = socket (12, SOCK_STREAM, 0);

  if (s >= 0)
    close (s);
}

static int
autoload_only (void)
{
  autoload_request ();
  return 0;
}

/* Unfiltered module syscalls, run only where the LSM hooks are live: they must refuse both before the kernel
   reads anything (an image that is not a module, so nothing could load even if they did not). */
static int
lsm_syscalls (void)
{
  static const char image[64] = "\177ELF"; /* as long as an ELF header, or the kernel stops before the hook */
  int fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC), mask = 0;

  if (syscall (SYS_finit_module, fd, "", 0) < 0 && errno == EPERM)
    mask |= 1;
  if (syscall (SYS_init_module, image, sizeof image, "") < 0 && errno == EPERM)
    mask |= 2;
  autoload_request ();
  return mask;
}

#define FLOOD 2500 /* more refusals than the 256 KiB ring buffer holds (128-byte events) */

static int
flood (void)
{
  int n = 0;

  for (int i = 0; i < FLOOD; i++)
    n += syscall (SYS_delete_module, "sbx_test_dummy", O_NONBLOCK) < 0 && errno == EPERM;
  return n == FLOOD ? 0 : 1;
}

static int
tally_cb (void *ctx, const struct sbx_bpf_event *e)
{
  (void) e;
  ++*(int *) ctx;
  return 0;
}

#if defined(__x86_64__)
/* A 32-bit syscall from this 64-bit process (needs CONFIG_IA32_EMULATION; seccomp sees AUDIT_ARCH_I386). */
static long
int80 (long nr, long a, long b, long c, long d)
{
  long ret;

  __asm__ volatile ("int $0x80"
                    : "=a"(ret)
                    : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
                    : "memory", "r8", "r9", "r10", "r11");
  return ret;
}

/* Whether this machine enters 32-bit syscalls at all: some hypervisors' guests (PVM here) kill int 0x80 with
   SIGSEGV whatever the kernel's IA32 emulation says. */
static bool
int80_available (void)
{
  int status;
  pid_t pid = fork ();

  if (pid == 0)
    _exit (int80 (20 /* i386 getpid */, 0, 0, 0, 0) == (long) getpid () ? 0 : 1);
  return pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

static int
compat_syscalls (void)
{
  int fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC), mask = 0;

  if (int80 (NR32_FINIT_MODULE, fd, 0, 0, 0) == -EPERM)
    mask |= 1;
  if (int80 (NR32_RT_SIGPROCMASK, 0, 0, 0, 8) == 0)
    mask |= 2;
  return mask;
}
#endif

static int
run_child (const struct child_opts *c)
{
  int go[2], ready[2], status;
  pid_t pid;

  if (pipe2 (go, O_CLOEXEC) < 0 || pipe2 (ready, O_CLOEXEC) < 0)
    return -1;
  pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      char x;
      prctl (PR_SET_NAME, "sbx-test-child");
      if (c->cgdir && join_cgroup (c->cgdir) < 0)
        _exit (100);
      if (!c->no_filter && install_module_filter () < 0)
        _exit (101);
      if (c->newpid)
        {
          pid_t inner;
          if (unshare (CLONE_NEWPID) < 0)
            _exit (102);
          inner = fork ();
          if (inner == 0)
            {
              if (write (ready[1], "r", 1) != 1 || read (go[0], &x, 1) != 1)
                _exit (103);
              _exit (c->body ? c->body () : module_syscalls ());
            }
          if (inner < 0 || waitpid (inner, &status, 0) < 0 || !WIFEXITED (status))
            _exit (104);
          _exit (WEXITSTATUS (status));
        }
      _exit (c->body ? c->body () : module_syscalls ());
    }
  if (c->newpid)
    {
      char x, path[64];
      struct stat st;
      snprintf (path, sizeof path, "/proc/%d/ns/pid_for_children", (int) pid);
      if (read (ready[0], &x, 1) != 1 || stat (path, &st) < 0)
        st.st_ino = 0;
      if (c->before)
        c->before ((uint32_t) st.st_ino, c->ctx);
      if (write (go[1], "g", 1) != 1)
        return -1;
    }
  close (go[0]);
  close (go[1]);
  close (ready[0]);
  close (ready[1]);
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status))
    return -1;
  return WEXITSTATUS (status);
}

static char cg_a[256], cg_a_sub[300], cg_b[256], cg_c[256];

static void
remove_cgroups (void)
{
  const char *dirs[] = { cg_a_sub, cg_a, cg_b, cg_c };

  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    for (int try = 0; dirs[i][0] && try < 50 && rmdir (dirs[i]) < 0 && errno == EBUSY; try++)
      usleep (20000);
}

/* Every event is the sys_exit of one of the three module syscalls in slot SLOT, refused with EPERM. */
static bool
events_match (const struct events *es, uint32_t slot, uint64_t cg, uint32_t pidns)
{
  int seen = 0;

  for (int i = 0; i < es->n; i++)
    {
      const struct sbx_bpf_event *e = &es->ev[i];
      int bit = e->syscall_nr == SYS_finit_module ? 1 : e->syscall_nr == SYS_init_module ? 2
                : e->syscall_nr == SYS_delete_module                                  ? 4 : 0;
      if (e->kind != SBX_BPF_SYS_EXIT || e->action != SBX_BPF_OBSERVED || e->slot != slot || e->ret != -EPERM
          || bit == 0 || (seen & bit) || (cg && e->cgroup_id != cg) || (pidns && e->pidns_ino != pidns)
          || strcmp (e->comm, "sbx-test-child") != 0)
        {
          tap_diag ("unexpected event:");
          print_event (stdout, e);
          return false;
        }
      seen |= bit;
    }
  return seen == 7;
}

static int
count_of (struct sbx_bpf *b, uint32_t slot)
{
  uint64_t n = 0;

  if (sbx_bpf_count (b, slot, &n) < 0)
    return -1;
  return (int) n;
}

static uint32_t registered_pidns;

static void
register_pidns_cb (uint32_t ino, void *ctx)
{
  struct sbx_bpf *b = ctx;
  sbx_err err = { 0 };

  registered_pidns = ino;

  if (ino == 0 || sbx_bpf_register (b, 0xfffffffffff0ull, ino, 9, &err) < 0)
    tap_diag ("register pidns %u: %s", ino, err.msg);
}

static int
find_reg_cb (void *ctx, uint64_t cg, uint32_t pidns, uint32_t slot)
{
  (void) pidns;
  return cg == *(uint64_t *) ctx ? (int) slot + 1 : 0;
}

static int
count_kind (const struct events *es, uint32_t kind, uint32_t slot, uint32_t action, const char *module)
{
  int n = 0;

  for (int i = 0; i < es->n; i++)
    n += es->ev[i].kind == kind && es->ev[i].slot == slot && es->ev[i].action == action
         && (module == NULL || strcmp (es->ev[i].module, module) == 0);
  return n;
}

/* The refusals themselves: only where the kernel lets lsm/ programs load (not this project's usual host,
   where they skip with the loader's reason; see bpf/README.md, make bpf-guest-check). */
static void
lsm_tests (struct sbx_bpf *b, uint64_t id_b)
{
  const struct sbx_bpf_hook_status *st;
  struct child_opts c = { .no_filter = true };
  struct events es;
  sbx_err err = { 0 };
  int rc;

  char exe[512] = "";
  const char *self_name;

  if (readlink ("/proc/self/exe", exe, sizeof exe - 1) < 0)
    exe[0] = '\0';
  self_name = strrchr (exe, '/') ? strrchr (exe, '/') + 1 : exe;
  sbx_bpf_hooks (b, &st);
  if (!(st[0].loaded && st[1].loaded && st[2].loaded))
    {
      tap_skip ("LSM refuses finit_module, init_module and module autoload in a registered cgroup", "%s", st[0].reason);
      tap_skip ("LSM refusals are counted in the container's slot", "%s", st[0].reason);
      tap_skip ("an unregistered cgroup's autoload is only recorded, host-wide", "%s", st[0].reason);
      return;
    }
  sbx_bpf_register (b, id_b, 0, 11, &err);
  c.cgdir = cg_b;
  c.body = lsm_syscalls;
  rc = run_child (&c);
  drain (b, &es);
  tap_ok (rc == 3 && es.n == 3 && count_kind (&es, SBX_BPF_LSM_READ_FILE, 11, SBX_BPF_DENIED, self_name) == 1
              && count_kind (&es, SBX_BPF_LSM_LOAD_DATA, 11, SBX_BPF_DENIED, "") == 1
              && count_kind (&es, SBX_BPF_LSM_MODULE_REQUEST, 11, SBX_BPF_DENIED, "net-pf-12") == 1,
          "LSM refuses finit_module, init_module (EPERM, child %d) and autoload of net-pf-12 in a registered cgroup "
          "(%d events)", rc, es.n);
  tap_ok (count_of (b, 11) == 3, "LSM refusals are counted in the container's slot (%d)", count_of (b, 11));
  for (int i = 0; i < es.n; i++)
    print_event (stdout, &es.ev[i]);

  c.cgdir = cg_c;
  c.body = autoload_only;
  rc = run_child (&c);
  drain (b, &es);
  if (st[4].loaded)
    tap_ok (rc == 0 && es.n == 1 && count_kind (&es, SBX_BPF_TP_MODULE_REQUEST, SBX_BPF_SLOT_NONE, SBX_BPF_OBSERVED, "net-pf-12") == 1,
            "an unregistered cgroup's autoload is only recorded, host-wide (%d events)", es.n);
  else
    tap_ok (rc == 0 && es.n == 0, "an unregistered cgroup's autoload is neither refused nor recorded (%d events)",
            es.n);
  sbx_bpf_unregister (b, id_b, 0, &err);
}

static const char *module_path;

static int
load_module (void)
{
  int fd = open (module_path, O_RDONLY | O_CLOEXEC);

  return fd >= 0 && syscall (SYS_finit_module, fd, "", 0) == 0 ? 0 : 1;
}

/* A real module load, recorded by the module_load tracepoint.  Only in a throwaway guest with modules
   (SBX_TEST_BPF_MODULE=/path/dummy.ko): never on a host, whose kernel it would change. */
static void
module_load_test (struct sbx_bpf *b)
{
  const struct sbx_bpf_hook_status *st;
  struct child_opts c = { .no_filter = true, .cgdir = cg_c, .body = load_module };
  struct events es;
  const char *base;
  char name[64];
  int rc;

  sbx_bpf_hooks (b, &st);
  module_path = getenv ("SBX_TEST_BPF_MODULE");
  if (!st[3].loaded || module_path == NULL)
    {
      tap_skip ("module_load tracepoint records a module an unregistered task loads", "%s",
                !st[3].loaded ? st[3].reason : "SBX_TEST_BPF_MODULE unset: a real module is loaded only in a guest");
      return;
    }
  base = strrchr (module_path, '/') ? strrchr (module_path, '/') + 1 : module_path;
  snprintf (name, sizeof name, "%.*s", (int) strcspn (base, "."), base);
  rc = run_child (&c);
  drain (b, &es);
  for (int i = 0; i < es.n; i++)
    print_event (stdout, &es.ev[i]);
  tap_ok (rc == 0 && count_kind (&es, SBX_BPF_TP_MODULE_LOAD, SBX_BPF_SLOT_NONE, SBX_BPF_OBSERVED, name) == 1,
          "module_load tracepoint records module %s loaded by an unregistered task (child %d, %d events)", name, rc,
          es.n);
}

static uint64_t id_a, id_b, id_c;

/* Private mount namespace (the loader mounts its bpffs here, never on the host) and the test's cgroups. */
static int
setup_world (void)
{
  struct statfs sfs;

  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    {
      tap_bail ("private mount namespace: %s", strerror (errno));
      return -1;
    }
  /* A bpffs the host has on /sys/fs/bpf is detached from this namespace only, so the loader mounts its own. */
  while (statfs ("/sys/fs/bpf", &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
    if (umount2 ("/sys/fs/bpf", MNT_DETACH) < 0)
      {
        tap_bail ("cannot detach the host's /sys/fs/bpf in a private namespace: %s", strerror (errno));
        return -1;
      }
  snprintf (cg_a, sizeof cg_a, CG2 "/sbx-test-bpf-%d-a", (int) getpid ());
  snprintf (cg_a_sub, sizeof cg_a_sub, "%s/sub", cg_a);
  snprintf (cg_b, sizeof cg_b, CG2 "/sbx-test-bpf-%d-b", (int) getpid ());
  snprintf (cg_c, sizeof cg_c, CG2 "/sbx-test-bpf-%d-c", (int) getpid ());
  if (mkdir (cg_a, 0755) < 0 || mkdir (cg_a_sub, 0755) < 0 || mkdir (cg_b, 0755) < 0 || mkdir (cg_c, 0755) < 0
      || cgroup_ino (cg_a, &id_a) < 0 || cgroup_ino (cg_b, &id_b) < 0 || cgroup_ino (cg_c, &id_c) < 0)
    {
      tap_bail ("create test cgroups under " CG2 ": %s", strerror (errno));
      remove_cgroups ();
      return -1;
    }
  return 0;
}

/* The report is exact for this host: which hooks are live, which are not and why, which have pins. */
static void
probe_tests (struct sbx_bpf *b, const char *pin)
{
  static const char *const links[] = { "link_lsm_read_file", "link_lsm_load_data", "link_lsm_module_request",
                                       "link_tp_module_load", "link_tp_module_request", "link_sys_exit" };
  static const char no_modules[] = "does not exist (kernel built without CONFIG_MODULES)";
  const struct sbx_bpf_hook_status *st;
  size_t n = sbx_bpf_hooks (b, &st);
  bool consistent = n == 6, pins = n == 6;
  char want3[128], want4[128];
  struct stat sst;

  sbx_bpf_report (b, stdout, "# ");
  for (size_t i = 0; i < n && i < 6; i++)
    {
      char path[128];
      consistent &= st[i].wanted && (st[i].loaded ? st[i].error == 0 : st[i].error != 0 && st[i].reason[0] != '\0');
      snprintf (path, sizeof path, "%s/%s", pin, links[i]);
      pins &= (stat (path, &sst) == 0) == st[i].loaded;
    }
  tap_ok (consistent, "6 hooks, each either live or unavailable with an errno and a reason");
  tap_ok (n == 6 && strcmp (st[5].name, "tp_btf/sys_exit") == 0 && st[5].loaded,
          "tp_btf/sys_exit loads and attaches here (host notes: tp_btf works)");
  snprintf (want3, sizeof want3, "tracepoint module:module_load %s", no_modules);
  snprintf (want4, sizeof want4, "tracepoint module:module_request %s", no_modules);
  if (access ("/proc/modules", F_OK) < 0)
    tap_ok (n == 6 && !st[3].loaded && st[3].error == ENOENT && strcmp (st[3].reason, want3) == 0 && !st[4].loaded
                && st[4].error == ENOENT && strcmp (st[4].reason, want4) == 0,
            "module tracepoints reported missing because CONFIG_MODULES is off");
  else
    tap_ok (n == 6 && st[3].loaded && st[4].loaded, "module tracepoints live on a kernel with modules");
  tap_ok (pins, "each live hook, and only those, has a pinned link");
}

static void
keys_tests (struct sbx_bpf *b)
{
  char path[600], line[512] = "";
  uint64_t own_cg = 0, k_cg = 0;
  uint32_t k_ns = 0;
  struct stat sst;
  sbx_err err = { 0 };
  FILE *f = fopen ("/proc/self/cgroup", "re");
  int rc = sbx_bpf_task_keys (getpid (), &k_cg, &k_ns, &err);

  while (f && fgets (line, sizeof line, f) && strncmp (line, "0::", 3) != 0)
    ;
  if (f)
    fclose (f);
  line[strcspn (line, "\n")] = '\0';
  snprintf (path, sizeof path, CG2 "%s", strcmp (line + 3, "/") == 0 ? "" : line + 3);
  cgroup_ino (path, &own_cg);
  stat ("/proc/self/ns/pid", &sst);
  tap_ok (rc == 0 && k_cg == own_cg && k_ns == (uint32_t) sst.st_ino,
          "sbx_bpf_task_keys(self) = inode of our cgroup2 dir (%" PRIu64 ") and of /proc/self/ns/pid (%u)", k_cg, k_ns);
  err.code = 0;
  tap_ok (sbx_bpf_register (b, own_cg, 0, 1, &err) < 0 && err.code == EINVAL,
          "registering our own cgroup (or an ancestor) is refused with EINVAL");
  err.code = 0;
  tap_ok (sbx_bpf_register (b, id_a, 0, SBX_BPF_MAX_SLOTS, &err) < 0 && err.code == EINVAL,
          "slot %d (not below SBX_BPF_MAX_SLOTS) is refused with EINVAL", SBX_BPF_MAX_SLOTS);
}

/* sys_exit mode: who gets attributed, and what is left out. */
static void
attribution_tests (struct sbx_bpf *b)
{
  struct child_opts c = { .cgdir = cg_a };
  struct events es;
  sbx_err err = { 0 };
  int rc = sbx_bpf_register (b, id_a, 0, 7, &err);

  tap_ok (rc == 0, "register cgroup A as slot 7%s%s", rc ? ": " : "", rc ? err.msg : "");
  drain (b, &es);
  rc = run_child (&c);
  drain (b, &es);
  tap_ok (rc == 7 && es.n == 3 && events_match (&es, 7, id_a, 0),
          "seccomp-refused finit/init/delete_module in cgroup A: 3 sys_exit events, slot 7, ret -EPERM (child %d, events %d)",
          rc, es.n);
  tap_ok (count_of (b, 7) == 3, "slot 7 counter is 3 (got %d)", count_of (b, 7));

  c.cgdir = cg_b;
  rc = run_child (&c);
  drain (b, &es);
  tap_ok (rc == 7 && es.n == 0, "same syscalls in unregistered cgroup B: refused (child %d) but no event (%d)", rc,
          es.n);

  c.cgdir = cg_a_sub;
  rc = run_child (&c);
  drain (b, &es);
  tap_ok (rc == 7 && es.n == 3 && events_match (&es, 7, 0, 0),
          "a sub-cgroup of A is attributed to A's slot 7 (child %d, events %d)", rc, es.n);

  c.cgdir = cg_b;
  c.newpid = true;
  c.before = register_pidns_cb;
  c.ctx = b;
  rc = run_child (&c);
  drain (b, &es);
  tap_ok (rc == 7 && es.n == 3 && events_match (&es, 9, id_b, registered_pidns) && registered_pidns != 0,
          "pid namespace key: a task of cgroup B in a registered pid namespace is attributed to slot 9 (child %d, "
          "events %d)", rc, es.n);
  sbx_bpf_unregister (b, 0xfffffffffff0ull, 0, &err);

  tap_ok (sbx_bpf_register (b, id_a, 0, 7, &err) == 0 && count_of (b, 7) == 6,
          "re-registering the same cgroup in the same slot keeps its counter (6)");
  tap_ok (sbx_bpf_foreach_registered (b, find_reg_cb, &id_a) == 8, "foreach lists cgroup A in slot 7");
}

/* 32-bit callers, and more events than the ring buffer holds (slot 12, cgroup C). */
static void
edge_tests (struct sbx_bpf *b)
{
  struct child_opts c = { .cgdir = cg_c };
  sbx_err err = { 0 };
  uint64_t before = sbx_bpf_dropped (b);
  int rc, got = 0;

#if defined(__x86_64__)
  struct events es;

  if (!int80_available ())
    tap_skip ("32-bit finit_module (int 0x80, nr 350) is reported as finit_module",
              "this machine kills 32-bit syscalls (int 0x80) with SIGSEGV");
  else
    {
      sbx_bpf_register (b, id_c, 0, 12, &err);
      c.body = compat_syscalls;
      rc = run_child (&c);
      drain (b, &es);
      tap_ok (rc == 3 && es.n == 1 && es.ev[0].kind == SBX_BPF_SYS_EXIT && es.ev[0].slot == 12
                  && es.ev[0].syscall_nr == SYS_finit_module && es.ev[0].ret == -EPERM,
              "32-bit finit_module (int 0x80, nr 350) is reported as finit_module; 32-bit nr 175 (rt_sigprocmask, "
              "native init_module's number) is not (child %d, %d events)", rc, es.n);
      sbx_bpf_unregister (b, id_c, 0, &err);
    }
#endif

  sbx_bpf_register (b, id_c, 0, 12, &err);
  c.body = flood;
  rc = run_child (&c);
  while (sbx_bpf_poll (b, 50, tally_cb, &got) > 0)
    ;
  tap_ok (rc == 0 && count_of (b, 12) == FLOOD && sbx_bpf_dropped (b) > before
              && got + (int) (sbx_bpf_dropped (b) - before) == FLOOD,
          "a flood overflows the ring buffer: the counter still has all %d, received + dropped = %d + %d", FLOOD, got,
          (int) (sbx_bpf_dropped (b) - before));
  sbx_bpf_unregister (b, id_c, 0, &err);
}

/* Close and reopen on the same pins: what a watcher restart keeps, and what switching modes changes. */
static struct sbx_bpf *
restart_tests (struct sbx_bpf *b, struct sbx_bpf_opts *o)
{
  const struct sbx_bpf_hook_status *st;
  struct child_opts c = { .cgdir = cg_a };
  struct events es;
  struct stat sst;
  sbx_err err = { 0 };
  size_t n;
  int rc;

  /* The pinned link keeps recording with no loader process. */
  sbx_bpf_close (b);
  b = NULL;
  run_child (&c);
  rc = sbx_bpf_open (&b, o, &err);
  if (rc < 0)
    {
      tap_bail ("reopen on the pins: %s", err.msg);
      return NULL;
    }
  tap_ok (count_of (b, 7) == 9 && sbx_bpf_foreach_registered (b, find_reg_cb, &id_a) == 8,
          "after close, the pinned hook still counted a refusal; reopen finds registration and counter 9 (got %d)",
          count_of (b, 7));
  drain (b, &es);
  tap_ok (es.n == 3 && events_match (&es, 7, id_a, 0),
          "events emitted while no loader was running wait in the pinned ring buffer (%d)", es.n);

  tap_ok (sbx_bpf_unregister (b, id_a, 0, &err) == 0, "unregister cgroup A");
  rc = run_child (&c);
  drain (b, &es);
  tap_ok (rc == 7 && es.n == 0 && count_of (b, 7) == 9, "after unregister: no event, counter unchanged (%d events)",
          es.n);

  sbx_bpf_close (b);
  o->syscalls_mode = false;
  if (sbx_bpf_open (&b, o, &err) < 0)
    {
      tap_bail ("reopen without syscalls mode: %s", err.msg);
      return NULL;
    }
  n = sbx_bpf_hooks (b, &st);
  tap_ok (n == 6 && !st[5].wanted && !st[5].loaded && stat ("/sys/fs/bpf/sbx/link_sys_exit", &sst) < 0,
          "reopen without syscalls mode: sys_exit off and its pinned link removed");
  sbx_bpf_register (b, id_a, 0, 7, &err);
  rc = run_child (&c);
  drain (b, &es);
  tap_ok (rc == 7 && es.n == 0 && count_of (b, 7) == 0,
          "syscalls mode off: nothing recorded (%d events); registering anew reset slot 7 to 0", es.n);
  return b;
}

static int
run_tests (void)
{
  const char *pin = SBX_BPF_PIN_DIR;
  struct sbx_bpf_opts o = { .pin_dir = pin, .syscalls_mode = true };
  struct sbx_bpf *b = NULL;
  struct statfs sfs;
  struct stat sst;
  sbx_err err = { 0 };
  int rc;

  if (setup_world () < 0)
    return 1;
  rc = sbx_bpf_open (&b, &o, &err);
  tap_ok (rc == 0, "sbx_bpf_open with pins under %s and syscalls mode%s%s", pin, rc ? ": " : "", rc ? err.msg : "");
  if (rc < 0)
    {
      tap_bail ("cannot load anything");
      remove_cgroups ();
      return 1;
    }
  tap_ok (statfs ("/sys/fs/bpf", &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC
              && stat ("/sys/fs/bpf/sbx/sbx_counts", &sst) == 0,
          "loader mounted bpffs on /sys/fs/bpf (private ns) and pinned its maps there");
  probe_tests (b, pin);
  keys_tests (b);
  attribution_tests (b);
  edge_tests (b);
  b = restart_tests (b, &o);
  if (b == NULL)
    {
      remove_cgroups ();
      return 1;
    }
  lsm_tests (b, id_b);
  module_load_test (b);
  sbx_bpf_close (b);

  rc = sbx_bpf_unpin (pin, &err);
  tap_ok (rc == 0 && stat (pin, &sst) < 0 && errno == ENOENT, "sbx_bpf_unpin removes %s%s%s", pin, rc ? ": " : "",
          rc ? err.msg : "");
  o.pin_dir = NULL;
  rc = sbx_bpf_open (&b, &o, &err);
  tap_ok (rc == 0 && stat (pin, &sst) < 0, "open without a pin dir pins nothing");
  if (rc == 0)
    sbx_bpf_close (b);

  remove_cgroups ();
  return tap_done ();
}

int
main (int argc, char **argv)
{
  if (argc > 1 && strcmp (argv[1], "seccomp-exec") == 0)
    return mode_seccomp_exec (argc, argv);
  if (argc > 1 && strcmp (argv[1], "report") == 0)
    return mode_report (argc, argv);
  if (argc > 2 && strcmp (argv[1], "watch") == 0)
    return mode_watch (argc, argv);
  if (argc > 1)
    {
      fprintf (stderr, "usage: test_bpf [report [--syscalls] | watch PIN_DIR [CGDIR|pid:PID SLOT]... | seccomp-exec CGDIR CMD...]\n");
      return 2;
    }
  if (geteuid () != 0)
    return tap_skip_all ("loading BPF needs root");
  return run_tests ();
}

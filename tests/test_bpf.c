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
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sbx_bpf.h"

#define CG2 "/sys/fs/cgroup/unified"
#define MAX_EVENTS 64

/* ---------- helpers shared by the TAP tests and the bats helper modes ---------- */

/* Module syscalls -> EPERM, the rest allowed: what sbx-runtime's profile does to these three. */
static int
install_module_filter (void)
{
  struct sock_filter f[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_finit_module, 3, 0),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_init_module, 2, 0),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_delete_module, 1, 0),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
  };
  struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };

  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -1;
  return prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int
join_cgroup (const char *dir)
{
  char path[4200];
  int fd, rc;

  snprintf (path, sizeof path, "%s/cgroup.procs", dir);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  rc = write (fd, "0", 1) == 1 ? 0 : -1;
  close (fd);
  return rc;
}

static int
cgroup_ino (const char *dir, uint64_t *id)
{
  struct stat st;

  if (stat (dir, &st) < 0)
    return -1;
  *id = st.st_ino;
  return 0;
}

static void
print_event (FILE *out, const struct sbx_bpf_event *e)
{
  const char *sc = sbx_bpf_syscall_name (e->syscall_nr);

  fprintf (out, "event kind=%s action=%s slot=%d syscall=%s ret=%d cgroup=%" PRIu64 " comm=%s module=%s\n",
           sbx_bpf_kind_name (e->kind), sbx_bpf_action_name (e->action),
           e->slot == SBX_BPF_SLOT_NONE ? -1 : (int) e->slot, sc ? sc : "-", e->ret, (uint64_t) e->cgroup_id,
           e->comm, e->module[0] ? e->module : "-");
  fflush (out);
}

/* ---------- helper modes for integration/bpf.bats ---------- */

/* seccomp-exec CGDIR CMD...: run CMD in CGDIR under a filter refusing the module syscalls with EPERM. */
static int
mode_seccomp_exec (int argc, char **argv)
{
  if (argc < 4)
    return 2;
  if (join_cgroup (argv[2]) < 0)
    {
      perror ("join cgroup");
      return 1;
    }
  if (install_module_filter () < 0)
    {
      perror ("seccomp");
      return 1;
    }
  execv (argv[3], argv + 3);
  perror (argv[3]);
  return 127;
}

static int
mode_report (int argc, char **argv)
{
  struct sbx_bpf_opts o = { .pin_dir = NULL, .syscalls_mode = argc > 2 && strcmp (argv[2], "--syscalls") == 0 };
  struct sbx_bpf *b;
  sbx_err err = { 0 };

  if (sbx_bpf_open (&b, &o, &err) < 0)
    {
      fprintf (stderr, "sbx_bpf_open: %s\n", err.msg);
      return 1;
    }
  sbx_bpf_report (b, stdout, NULL);
  sbx_bpf_close (b);
  return 0;
}

static volatile sig_atomic_t stop;
static void
on_term (int sig)
{
  (void) sig;
  stop = 1;
}

static int
print_cb (void *ctx, const struct sbx_bpf_event *e)
{
  (void) ctx;
  print_event (stdout, e);
  return 0;
}

/* watch PIN_DIR [CGDIR SLOT]...: what a watcher does (syscalls mode), printing each event until SIGTERM, then
   "count SLOT N" for each registered slot.  "ready" once attached. */
static int
mode_watch (int argc, char **argv)
{
  struct sbx_bpf_opts o = { .pin_dir = argv[2], .syscalls_mode = true };
  struct sbx_bpf *b;
  sbx_err err = { 0 };

  signal (SIGTERM, on_term);
  signal (SIGINT, on_term);
  if (sbx_bpf_open (&b, &o, &err) < 0)
    {
      fprintf (stderr, "sbx_bpf_open: %s\n", err.msg);
      return 1;
    }
  for (int i = 3; i + 1 < argc; i += 2)
    {
      uint64_t id;
      if (cgroup_ino (argv[i], &id) < 0 || sbx_bpf_register (b, id, 0, atoi (argv[i + 1]), &err) < 0)
        {
          fprintf (stderr, "register %s: %s\n", argv[i], err.msg[0] ? err.msg : strerror (errno));
          return 1;
        }
    }
  printf ("ready\n");
  fflush (stdout);
  while (!stop)
    sbx_bpf_poll (b, 100, print_cb, NULL);
  sbx_bpf_poll (b, 0, print_cb, NULL);
  for (int i = 3; i + 1 < argc; i += 2)
    {
      uint64_t n = 0;
      sbx_bpf_count (b, atoi (argv[i + 1]), &n);
      printf ("count %s %" PRIu64 "\n", argv[i + 1], n);
    }
  sbx_bpf_close (b);
  return 0;
}

/* ---------- TAP tests ---------- */

static int test_no, failed;

static void
ok (int cond, const char *fmt, ...)
{
  va_list ap;

  printf ("%sok %d - ", cond ? "" : "not ", ++test_no);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
  fflush (stdout);
  if (!cond)
    failed++;
}

static void
diag (const char *fmt, ...)
{
  va_list ap;

  printf ("# ");
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
}

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
      if (install_module_filter () < 0)
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
              _exit (module_syscalls ());
            }
          if (inner < 0 || waitpid (inner, &status, 0) < 0 || !WIFEXITED (status))
            _exit (104);
          _exit (WEXITSTATUS (status));
        }
      _exit (module_syscalls ());
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

static char cg_a[256], cg_a_sub[300], cg_b[256];

static void
remove_cgroups (void)
{
  const char *dirs[] = { cg_a_sub, cg_a, cg_b };

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
          diag ("unexpected event:");
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
    diag ("register pidns %u: %s", ino, err.msg);
}

static int
find_reg_cb (void *ctx, uint64_t cg, uint32_t pidns, uint32_t slot)
{
  (void) pidns;
  return cg == *(uint64_t *) ctx ? (int) slot + 1 : 0;
}

static int
run_tests (void)
{
  const char *pin = SBX_BPF_PIN_DIR;
  struct sbx_bpf_opts o = { .pin_dir = pin, .syscalls_mode = true };
  const struct sbx_bpf_hook_status *st;
  struct sbx_bpf *b = NULL;
  struct child_opts c = { 0 };
  struct events es;
  struct statfs sfs;
  struct stat sst;
  sbx_err err = { 0 };
  uint64_t id_a = 0, id_b = 0, id_self = 0, k_cg = 0;
  uint32_t k_ns = 0;
  size_t n;
  int rc;

  /* Private mount namespace: the loader mounts its bpffs here, never on the host. */
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    {
      printf ("Bail out! private mount namespace: %s\n", strerror (errno));
      return 1;
    }
  while (statfs ("/sys/fs/bpf", &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC && umount2 ("/sys/fs/bpf", MNT_DETACH) == 0)
    ;
  snprintf (cg_a, sizeof cg_a, CG2 "/sbx-test-bpf-%d-a", (int) getpid ());
  snprintf (cg_a_sub, sizeof cg_a_sub, "%s/sub", cg_a);
  snprintf (cg_b, sizeof cg_b, CG2 "/sbx-test-bpf-%d-b", (int) getpid ());
  if (mkdir (cg_a, 0755) < 0 || mkdir (cg_a_sub, 0755) < 0 || mkdir (cg_b, 0755) < 0
      || cgroup_ino (cg_a, &id_a) < 0 || cgroup_ino (cg_b, &id_b) < 0)
    {
      printf ("Bail out! create test cgroups under " CG2 ": %s\n", strerror (errno));
      remove_cgroups ();
      return 1;
    }

  rc = sbx_bpf_open (&b, &o, &err);
  ok (rc == 0, "sbx_bpf_open with pins under %s and syscalls mode%s%s", pin, rc ? ": " : "", rc ? err.msg : "");
  if (rc < 0)
    {
      printf ("Bail out! cannot load anything\n");
      remove_cgroups ();
      return 1;
    }
  ok (statfs ("/sys/fs/bpf", &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC && stat ("/sys/fs/bpf/sbx/sbx_counts", &sst) == 0,
      "loader mounted bpffs on /sys/fs/bpf (private ns) and pinned its maps there");

  n = sbx_bpf_hooks (b, &st);
  sbx_bpf_report (b, stdout, "# ");
  {
    bool consistent = n == 6;
    for (size_t i = 0; i < n; i++)
      consistent &= st[i].wanted && (st[i].loaded ? st[i].error == 0 : st[i].error != 0 && st[i].reason[0] != '\0');
    ok (consistent, "6 hooks, each either live or unavailable with an errno and a reason");
  }
  ok (n == 6 && strcmp (st[5].name, "tp_btf/sys_exit") == 0 && st[5].loaded,
      "tp_btf/sys_exit loads and attaches here (host notes: tp_btf works)");
  if (access ("/proc/modules", F_OK) < 0)
    ok (n == 6 && !st[3].loaded && st[3].error == ENOENT
            && strcmp (st[3].reason, "tracepoint module:module_load does not exist (kernel built without CONFIG_MODULES)") == 0
            && !st[4].loaded && st[4].error == ENOENT
            && strcmp (st[4].reason, "tracepoint module:module_request does not exist (kernel built without CONFIG_MODULES)") == 0,
        "module tracepoints reported missing because CONFIG_MODULES is off");
  else
    ok (n == 6 && st[3].loaded && st[4].loaded, "module tracepoints live on a kernel with modules");
  {
    static const char *const links[] = { "link_lsm_read_file", "link_lsm_load_data", "link_lsm_module_request",
                                         "link_tp_module_load", "link_tp_module_request", "link_sys_exit" };
    bool match = n == 6;
    for (size_t i = 0; i < n && i < 6; i++)
      {
        char path[128];
        snprintf (path, sizeof path, "%s/%s", pin, links[i]);
        match &= (stat (path, &sst) == 0) == st[i].loaded;
      }
    ok (match, "each live hook, and only those, has a pinned link");
  }

  rc = sbx_bpf_task_keys (getpid (), &k_cg, &k_ns, &err);
  {
    char path[256];
    uint64_t own_cg = 0;
    FILE *f = fopen ("/proc/self/cgroup", "re");
    char line[512] = "";
    while (f && fgets (line, sizeof line, f) && strncmp (line, "0::", 3) != 0)
      ;
    if (f)
      fclose (f);
    line[strcspn (line, "\n")] = '\0';
    snprintf (path, sizeof path, CG2 "%s", strcmp (line + 3, "/") == 0 ? "" : line + 3);
    cgroup_ino (path, &own_cg);
    id_self = own_cg;
    stat ("/proc/self/ns/pid", &sst);
    ok (rc == 0 && k_cg == own_cg && k_ns == (uint32_t) sst.st_ino,
        "sbx_bpf_task_keys(self) = inode of our cgroup2 dir (%" PRIu64 ") and of /proc/self/ns/pid (%u)", k_cg, k_ns);
  }
  err.code = 0;
  ok (sbx_bpf_register (b, id_self, 0, 1, &err) < 0 && err.code == EINVAL,
      "registering our own cgroup (or an ancestor) is refused with EINVAL");
  err.code = 0;
  ok (sbx_bpf_register (b, id_a, 0, SBX_BPF_MAX_SLOTS, &err) < 0 && err.code == EINVAL,
      "slot %d (not below SBX_BPF_MAX_SLOTS) is refused with EINVAL", SBX_BPF_MAX_SLOTS);

  rc = sbx_bpf_register (b, id_a, 0, 7, &err);
  ok (rc == 0, "register cgroup A as slot 7%s%s", rc ? ": " : "", rc ? err.msg : "");
  drain (b, &es);

  c.cgdir = cg_a;
  rc = run_child (&c);
  drain (b, &es);
  ok (rc == 7 && es.n == 3 && events_match (&es, 7, id_a, 0),
      "seccomp-refused finit/init/delete_module in cgroup A: 3 sys_exit events, slot 7, ret -EPERM (child %d, events %d)",
      rc, es.n);
  ok (count_of (b, 7) == 3, "slot 7 counter is 3 (got %d)", count_of (b, 7));

  c.cgdir = cg_b;
  rc = run_child (&c);
  drain (b, &es);
  ok (rc == 7 && es.n == 0, "same syscalls in unregistered cgroup B: refused (child %d) but no event (%d)", rc, es.n);

  c.cgdir = cg_a_sub;
  rc = run_child (&c);
  drain (b, &es);
  ok (rc == 7 && es.n == 3 && events_match (&es, 7, 0, 0),
      "a sub-cgroup of A is attributed to A's slot 7 (child %d, events %d)", rc, es.n);

  c.cgdir = cg_b;
  c.newpid = true;
  c.before = register_pidns_cb;
  c.ctx = b;
  rc = run_child (&c);
  drain (b, &es);
  ok (rc == 7 && es.n == 3 && events_match (&es, 9, id_b, registered_pidns) && registered_pidns != 0,
      "pid namespace key: a task of cgroup B in a registered pid namespace is attributed to slot 9 (child %d, "
      "events %d)", rc, es.n);
  sbx_bpf_unregister (b, 0xfffffffffff0ull, 0, &err);
  memset (&c, 0, sizeof c);

  ok (sbx_bpf_register (b, id_a, 0, 7, &err) == 0 && count_of (b, 7) == 6,
      "re-registering the same cgroup in the same slot keeps its counter (6)");
  ok (sbx_bpf_foreach_registered (b, find_reg_cb, &id_a) == 8, "foreach lists cgroup A in slot 7");

  /* The pinned link keeps recording with no loader process. */
  sbx_bpf_close (b);
  b = NULL;
  c.cgdir = cg_a;
  rc = run_child (&c);
  rc = sbx_bpf_open (&b, &o, &err);
  ok (rc == 0 && count_of (b, 7) == 9 && sbx_bpf_foreach_registered (b, find_reg_cb, &id_a) == 8,
      "after close, the pinned hook still counted a refusal; reopen finds registration and counter 9 (got %d)",
      rc == 0 ? count_of (b, 7) : -1);
  drain (b, &es);
  ok (es.n == 3 && events_match (&es, 7, id_a, 0),
      "events emitted while no loader was running wait in the pinned ring buffer (%d)", es.n);

  ok (sbx_bpf_unregister (b, id_a, 0, &err) == 0, "unregister cgroup A");
  rc = run_child (&c);
  drain (b, &es);
  ok (rc == 7 && es.n == 0 && count_of (b, 7) == 9, "after unregister: no event, counter unchanged (%d events)", es.n);

  sbx_bpf_close (b);
  o.syscalls_mode = false;
  rc = sbx_bpf_open (&b, &o, &err);
  n = rc == 0 ? sbx_bpf_hooks (b, &st) : 0;
  ok (rc == 0 && n == 6 && !st[5].wanted && !st[5].loaded && stat ("/sys/fs/bpf/sbx/link_sys_exit", &sst) < 0,
      "reopen without syscalls mode: sys_exit off and its pinned link removed");
  sbx_bpf_register (b, id_a, 0, 7, &err);
  rc = run_child (&c);
  drain (b, &es);
  ok (rc == 7 && es.n == 0 && count_of (b, 7) == 0,
      "syscalls mode off: nothing recorded (%d events); registering anew reset slot 7 to 0", es.n);
  sbx_bpf_close (b);

  rc = sbx_bpf_unpin (pin, &err);
  ok (rc == 0 && stat (pin, &sst) < 0 && errno == ENOENT, "sbx_bpf_unpin removes %s%s%s", pin, rc ? ": " : "",
      rc ? err.msg : "");

  o.pin_dir = NULL;
  rc = sbx_bpf_open (&b, &o, &err);
  ok (rc == 0 && stat (pin, &sst) < 0, "open without a pin dir pins nothing");
  if (rc == 0)
    sbx_bpf_close (b);

  remove_cgroups ();
  printf ("1..%d\n", test_no);
  return failed ? 1 : 0;
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
      fprintf (stderr, "usage: test_bpf [report [--syscalls] | watch PIN_DIR [CGDIR SLOT]... | seccomp-exec CGDIR CMD...]\n");
      return 2;
    }
  if (geteuid () != 0)
    {
      printf ("1..0 # SKIP loading BPF needs root\n");
      return 0;
    }
  return run_tests ();
}

/* bpf_modes.h - for test_bpf.c: what its TAP tests and its helper modes share (a module-refusing filter, cgroup
   moves, event printing), and the helper modes integration/bpf.bats drives (report, watch, seccomp-exec).
   Included once, after test_bpf.c's own includes and constants. */
#ifndef SBX_BPF_MODES_H
#define SBX_BPF_MODES_H

/* ---------- helpers shared by the TAP tests and the bats helper modes ---------- */

/* Module syscalls -> EPERM, native and 32-bit, the rest allowed: what sbx-runtime's profile does to them. */
static int
install_module_filter (void)
{
  struct sock_filter f[] = {
    /* 0 */ BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    /* 1 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 2, 0),
    /* 2 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 6, 0),
    /* 3 */ BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    /* 4 */ BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    /* 5 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_finit_module, 8, 0),
    /* 6 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_init_module, 7, 0),
    /* 7 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_delete_module, 6, 0),
    /* 8 */ BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    /* 9 */ BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    /* 10 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, NR32_FINIT_MODULE, 3, 0),
    /* 11 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, NR32_INIT_MODULE, 2, 0),
    /* 12 */ BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, NR32_DELETE_MODULE, 1, 0),
    /* 13 */ BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    /* 14 */ BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
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

  fprintf (out, "event kind=%s action=%s slot=%d syscall=%s ret=%d cgroup=%" PRIu64 " pidns=%u comm=%s module=%s\n",
           sbx_bpf_kind_name (e->kind), sbx_bpf_action_name (e->action),
           e->slot == SBX_BPF_SLOT_NONE ? -1 : (int) e->slot, sc ? sc : "-", e->ret, (uint64_t) e->cgroup_id,
           e->pidns_ino, e->comm, e->module[0] ? e->module : "-");
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

/* watch PIN_DIR [CGDIR|pid:PID SLOT]...: what a watcher does (pid: registers the keys of a container's init) (syscalls mode), printing each event until SIGTERM, then
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
      uint64_t id = 0;
      uint32_t ns = 0;
      int rc = strncmp (argv[i], "pid:", 4) == 0 ? sbx_bpf_task_keys (atoi (argv[i] + 4), &id, &ns, &err)
                                                 : cgroup_ino (argv[i], &id);
      if (rc < 0 || sbx_bpf_register (b, id, ns, atoi (argv[i + 1]), &err) < 0)
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

#endif

/* sbx-escape - static probe for the escape-attempt suite: each operation is a harmless call of a syscall that
   container escapes use, printed as "<op> <errno> <ERRNAME>" (errno 0: the kernel did it).  Arguments are chosen so
   that even with every capability nothing changes outside the container (bogus magic, missing paths, no-ops). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The errno's symbolic name, as tests assert it ("EPERM"); "OK" for success. */
static const char *
errname (int e)
{
  const char *n = e ? strerrorname_np (e) : "OK";
  return n ? n : "E?";
}

static void
report (const char *op, long rc)
{
  int e = rc < 0 ? errno : 0;
  printf ("%s %d %s\n", op, e, errname (e));
  fflush (stdout);
}

/* A child created with FLAGS exits at once; the parent reports whether it could be created. */
static long
clone_flags (unsigned long flags)
{
  long pid = syscall (SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0)
    _exit (0);
  if (pid > 0)
    waitpid ((pid_t) pid, NULL, 0);
  return pid < 0 ? -1 : 0;
}

static long
do_clone3 (void)
{
  struct clone_args a;
  long pid;

  memset (&a, 0, sizeof a);
  a.exit_signal = SIGCHLD;
  pid = syscall (SYS_clone3, &a, sizeof a);
  if (pid == 0)
    _exit (0);
  if (pid > 0)
    waitpid ((pid_t) pid, NULL, 0);
  return pid < 0 ? -1 : 0;
}

static long
do_setns (void)
{
  int fd = open ("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  long rc = syscall (SYS_setns, fd, CLONE_NEWUTS);
  int e = errno;
  if (fd >= 0)
    close (fd);
  errno = e;
  return rc;
}

static long
do_personality (void)
{
  /* READ_IMPLIES_EXEC makes every readable mapping executable; restore the old value if it was accepted. */
  long old = syscall (SYS_personality, 0xffffffffUL);
  long rc = syscall (SYS_personality, (unsigned long) (PER_LINUX | READ_IMPLIES_EXEC));
  if (rc >= 0 && old >= 0)
    syscall (SYS_personality, (unsigned long) old);
  return rc < 0 ? -1 : 0;
}

static long
do_socket (int family, int type, int proto)
{
  int fd = socket (family, type, proto);
  if (fd >= 0)
    close (fd);
  return fd < 0 ? -1 : 0;
}

static long
do_fd (long fd)
{
  if (fd >= 0)
    close ((int) fd);
  return fd < 0 ? -1 : 0;
}

static double
now_ns (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

/* time_getppid, time_personality: the cost of one call, in ns, over SBX_LOOPS calls (the benchmark's probe).
   personality(0xffffffff) only queries, and is argument-filtered by the engines' and sbx's profiles. */
static int
timed (const char *what)
{
  const char *env = getenv ("SBX_LOOPS");
  long n = env ? atol (env) : 2000000, i;
  double t0;

  if (strcmp (what, "getppid") == 0)
    {
      t0 = now_ns ();
      for (i = 0; i < n; i++)
        syscall (SYS_getppid);
    }
  else if (strcmp (what, "personality") == 0)
    {
      t0 = now_ns ();
      for (i = 0; i < n; i++)
        syscall (SYS_personality, 0xffffffffUL);
    }
  else
    return 2;
  printf ("time_%s %.1f\n", what, (now_ns () - t0) / n);
  fflush (stdout);
  return 0;
}

static int
op (const char *name)
{
  struct timespec bad = { .tv_sec = 0, .tv_nsec = 2000000000L };
  char hbuf[256];

  if (strcmp (name, "clone_newuser") == 0)
    report (name, clone_flags (CLONE_NEWUSER));
  else if (strcmp (name, "clone_newns") == 0)
    report (name, clone_flags (CLONE_NEWNS));
  else if (strcmp (name, "clone_newnet") == 0)
    report (name, clone_flags (CLONE_NEWNET));
  else if (strcmp (name, "clone3") == 0)
    report (name, do_clone3 ());
  else if (strcmp (name, "unshare_newpid") == 0)
    report (name, syscall (SYS_unshare, CLONE_NEWPID));
  else if (strcmp (name, "unshare_newcgroup") == 0)
    report (name, syscall (SYS_unshare, CLONE_NEWCGROUP));
  else if (strcmp (name, "setns") == 0)
    report (name, do_setns ());
  else if (strcmp (name, "open_by_handle_at") == 0)
    report (name, syscall (SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY));
  else if (strcmp (name, "name_to_handle_at") == 0)
    {
      int mount_id;
      struct file_handle *h = (struct file_handle *) hbuf;
      h->handle_bytes = 128;
      report (name, syscall (SYS_name_to_handle_at, AT_FDCWD, "/", h, &mount_id, 0));
    }
  else if (strcmp (name, "add_key") == 0)
    report (name, syscall (SYS_add_key, "user", "sbx-escape", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */));
  else if (strcmp (name, "request_key") == 0)
    report (name, syscall (SYS_request_key, "user", "sbx-escape-none", NULL, 0));
  else if (strcmp (name, "fsopen") == 0)
    report (name, do_fd (syscall (SYS_fsopen, "tmpfs", 0)));
  else if (strcmp (name, "open_tree") == 0)
    report (name, do_fd (syscall (SYS_open_tree, AT_FDCWD, "/", 0)));
  else if (strcmp (name, "umount2") == 0)
    report (name, syscall (SYS_umount2, "/sbx-escape-none", 0));
  else if (strcmp (name, "pivot_root") == 0)
    report (name, syscall (SYS_pivot_root, "/sbx-escape-none", "/sbx-escape-none"));
  else if (strcmp (name, "swapon") == 0)
    report (name, syscall (SYS_swapon, "/sbx-escape-none", 0));
  else if (strcmp (name, "reboot") == 0)
    report (name, syscall (SYS_reboot, 0x12345678, 0x87654321, 0, NULL)); /* wrong magic: EINVAL at most */
  else if (strcmp (name, "acct") == 0)
    report (name, syscall (SYS_acct, "/sbx-escape-none"));
  else if (strcmp (name, "quotactl") == 0)
    report (name, syscall (SYS_quotactl, 0x800001 /* Q_SYNC|USRQUOTA */, NULL, 0, NULL));
  else if (strcmp (name, "ioperm") == 0)
    report (name, syscall (SYS_ioperm, 0x80, 1, 0)); /* turning access off */
  else if (strcmp (name, "iopl") == 0)
    report (name, syscall (SYS_iopl, 0));
  else if (strcmp (name, "clock_settime") == 0)
    report (name, syscall (SYS_clock_settime, CLOCK_REALTIME, &bad)); /* invalid: EINVAL at most */
  else if (strcmp (name, "settimeofday") == 0)
    report (name, syscall (SYS_settimeofday, NULL, NULL)); /* a no-op */
  else if (strcmp (name, "syslog") == 0)
    report (name, syscall (SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0));
  else if (strcmp (name, "lookup_dcookie") == 0)
    report (name, syscall (SYS_lookup_dcookie, 0, hbuf, sizeof hbuf));
  else if (strcmp (name, "personality") == 0)
    report (name, do_personality ());
  else if (strcmp (name, "socket_tipc") == 0)
    report (name, do_socket (30, SOCK_RDM, 0));
  else if (strcmp (name, "socket_rds") == 0)
    report (name, do_socket (21, SOCK_SEQPACKET, 0));
  else if (strcmp (name, "socket_key") == 0)
    report (name, do_socket (15, SOCK_RAW, 2));
  else if (strcmp (name, "socket_xdp") == 0)
    report (name, do_socket (44, SOCK_RAW, 0));
  else if (strcmp (name, "socket_can") == 0)
    report (name, do_socket (29, SOCK_RAW, 1));
  else if (strcmp (name, "socket_bluetooth") == 0)
    report (name, do_socket (31, SOCK_RAW, 0));
  else if (strcmp (name, "socket_inet") == 0)
    report (name, do_socket (AF_INET, SOCK_STREAM, 0));
  else if (strcmp (name, "socket_unix") == 0)
    report (name, do_socket (AF_UNIX, SOCK_STREAM, 0));
  else if (strncmp (name, "time_", 5) == 0)
    return timed (name + 5);
  else if (strcmp (name, "clone_thread") == 0)
    report (name, clone_flags (0));
  else
    {
      fprintf (stderr, "sbx-escape: unknown operation '%s'\n", name);
      return 2;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  int rc = 0;

  if (argc < 2)
    {
      fprintf (stderr, "usage: sbx-escape OP...\n");
      return 2;
    }
  for (int i = 1; i < argc; i++)
    rc |= op (argv[i]);
  return rc;
}

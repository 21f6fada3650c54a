/* sbx-fault.c - test-only fault injector: runs a program under a seccomp user-notification filter and, at its
   N-th file-system step, makes that call fail with an errno or kills the program with SIGKILL.

   Why this way: sbx-runtime is a static binary (no LD_PRELOAD), and a hook compiled into sbx would test a build
   engines never run.  A filter works on the very binary under test: the kernel stops the program at each
   watched call and this supervisor decides, from outside, whether it proceeds (SECCOMP_USER_NOTIF_FLAG_CONTINUE),
   fails (a given errno, as a full disk or a failing one would make it) or never returns (SIGKILL: a crash, an
   OOM kill, a node losing power as far as the program can tell).

   A step is a watched call (open, write, chmod, chown, sync, link, rename, unlink, mkdir, truncate) of the first
   process, aimed at a path under one of the --under prefixes (for fd calls, the path the fd names), until that
   process execs something else (sbx-runtime becoming its delegate ends the count: what the delegate does is not
   sbx's).  Forked helpers and the exec'd program run unwatched in effect: their calls always continue.

   sbx-fault [--under DIR]... [--errno NAME --at N | --kill-at N] -- PROGRAM ARG...
   Prints "sbx-fault: steps N" (and what it injected) on stderr; exits with the program's status, or 128+signal. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_UNDER 8

/* The watched calls, and which argument holds a path (with its dirfd one before, or none) or an fd. */
static const struct
{
  int nr;
  const char *name;
  int fd_arg;   /* the argument that is an fd naming the file, or -1 */
  int path_arg; /* the argument that is a path, or -1 */
  int dir_arg;  /* its dirfd argument, or -1 (AT_FDCWD) */
} watched[] = {
  { SYS_open, "open", -1, 0, -1 },           { SYS_openat, "openat", -1, 1, 0 },
  { SYS_creat, "creat", -1, 0, -1 },         { SYS_write, "write", 0, -1, -1 },
  { SYS_pwrite64, "pwrite64", 0, -1, -1 },   { SYS_writev, "writev", 0, -1, -1 },
  { SYS_fchmod, "fchmod", 0, -1, -1 },       { SYS_fchown, "fchown", 0, -1, -1 },
  { SYS_fchmodat, "fchmodat", -1, 1, 0 },    { SYS_fchownat, "fchownat", -1, 1, 0 },
  { SYS_fsync, "fsync", 0, -1, -1 },         { SYS_fdatasync, "fdatasync", 0, -1, -1 },
  { SYS_ftruncate, "ftruncate", 0, -1, -1 }, { SYS_fallocate, "fallocate", 0, -1, -1 },
  { SYS_flock, "flock", 0, -1, -1 },         { SYS_link, "link", -1, 1, -1 },
  { SYS_linkat, "linkat", -1, 3, 2 },        { SYS_rename, "rename", -1, 0, -1 },
  { SYS_renameat, "renameat", -1, 1, 0 },    { SYS_renameat2, "renameat2", -1, 1, 0 },
  { SYS_unlink, "unlink", -1, 0, -1 },       { SYS_unlinkat, "unlinkat", -1, 1, 0 },
  { SYS_mkdir, "mkdir", -1, 0, -1 },         { SYS_mkdirat, "mkdirat", -1, 1, 0 },
  { SYS_execve, "execve", -1, -1, -1 },      { SYS_execveat, "execveat", -1, -1, -1 },
};
#define NWATCHED (sizeof watched / sizeof watched[0])

static const char *under[MAX_UNDER];
static int nunder;

static void
die (const char *what)
{
  fprintf (stderr, "sbx-fault: %s: %s\n", what, strerror (errno));
  exit (125);
}

static int
install_filter (void)
{
  struct sock_filter f[5 + 2 * NWATCHED];
  struct sock_fprog prog = { .filter = f };
  int n = 0;

  f[n++] = (struct sock_filter) BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch));
  f[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[n++] = (struct sock_filter) BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr));
  for (size_t i = 0; i < NWATCHED; i++)
    {
      f[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (unsigned) watched[i].nr, 0, 1);
      f[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    }
  f[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  prog.len = (unsigned short) n;
  return (int) syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

/* The path a watched call aims at, as far as /proc tells; "" when it cannot be told. */
static void
target_path (pid_t pid, const struct seccomp_data *d, size_t w, char *out, size_t size)
{
  char link[64], path[4096], dir[4096];
  ssize_t n;

  out[0] = '\0';
  if (watched[w].fd_arg >= 0)
    {
      snprintf (link, sizeof link, "/proc/%d/fd/%d", pid, (int) d->args[watched[w].fd_arg]);
      n = readlink (link, out, size - 1);
      out[n > 0 ? n : 0] = '\0';
      return;
    }
  if (watched[w].path_arg < 0)
    return;
  snprintf (link, sizeof link, "/proc/%d/mem", pid);
  {
    int fd = open (link, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return;
    n = pread (fd, path, sizeof path - 1, (off_t) d->args[watched[w].path_arg]);
    close (fd);
    if (n <= 0)
      return;
    path[n] = '\0';
    path[strnlen (path, (size_t) n)] = '\0';
  }
  if (path[0] == '/')
    {
      snprintf (out, size, "%s", path);
      return;
    }
  if (watched[w].dir_arg >= 0 && (int) d->args[watched[w].dir_arg] != AT_FDCWD)
    snprintf (link, sizeof link, "/proc/%d/fd/%d", pid, (int) d->args[watched[w].dir_arg]);
  else
    snprintf (link, sizeof link, "/proc/%d/cwd", pid);
  n = readlink (link, dir, sizeof dir - 1);
  if (n <= 0)
    return;
  dir[n] = '\0';
  snprintf (out, size, "%.2000s/%.2000s", dir, path);
}

static int
is_under (const char *p)
{
  for (int i = 0; i < nunder; i++)
    {
      size_t l = strlen (under[i]);
      if (strncmp (p, under[i], l) == 0 && (p[l] == '/' || p[l] == '\0'))
        return 1;
    }
  return 0;
}

static int
errno_by_name (const char *s)
{
  if (strcmp (s, "ENOSPC") == 0)
    return ENOSPC;
  if (strcmp (s, "EIO") == 0)
    return EIO;
  if (strcmp (s, "EDQUOT") == 0)
    return EDQUOT;
  if (strcmp (s, "EROFS") == 0)
    return EROFS;
  fprintf (stderr, "sbx-fault: unknown errno %s\n", s);
  exit (125);
}

/* What to do, and the count so far. */
static int inject_errno, inject_at, kill_at, steps, execs;

/* Fork PROGRAM under the filter; its pid, its pidfd in *PIDFD and the listener in *LISTENER. */
static pid_t
spawn (char **prog, int *pidfd, int *listener)
{
  int sv[2];
  char byte = 0;
  pid_t child;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    die ("socketpair");
  child = fork ();
  if (child < 0)
    die ("fork");
  if (child == 0)
    {
      int fd = install_filter ();
      if (fd < 0)
        die ("seccomp listener");
      /* The supervisor takes the listener with pidfd_getfd, then says go (send, not write: write is watched now). */
      if (send (sv[1], &fd, sizeof fd, 0) != sizeof fd || recv (sv[1], &byte, 1, 0) != 1)
        _exit (125);
      close (fd);
      execvp (prog[0], prog);
      die (prog[0]);
    }
  close (sv[1]);
  *pidfd = (int) syscall (SYS_pidfd_open, child, 0);
  if (*pidfd < 0 || read (sv[0], listener, sizeof *listener) != sizeof *listener)
    die ("child setup");
  *listener = (int) syscall (SYS_pidfd_getfd, *pidfd, *listener, 0);
  if (*listener < 0 || write (sv[0], "g", 1) != 1)
    die ("pidfd_getfd");
  close (sv[0]);
  return child;
}

/* Decide one notification REQ of the program CHILD: fill RESP; false when the program was killed instead. */
static bool
decide (pid_t child, int pidfd, const struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
  char path[4096];
  size_t w;

  resp->id = req->id;
  resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  for (w = 0; w < NWATCHED && watched[w].nr != req->data.nr; w++)
    ;
  if ((pid_t) req->pid != child || execs >= 2 || w == NWATCHED)
    return true;
  if (watched[w].nr == SYS_execve || watched[w].nr == SYS_execveat)
    {
      execs++;
      return true;
    }
  target_path (req->pid, &req->data, w, path, sizeof path);
  if (!is_under (path))
    return true;
  steps++;
  if (kill_at && steps == kill_at)
    {
      fprintf (stderr, "sbx-fault: SIGKILL at step %d: %s %s\n", steps, watched[w].name, path);
      syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      return false; /* the call never returns */
    }
  if (inject_errno && steps == inject_at)
    {
      fprintf (stderr, "sbx-fault: %s at step %d: %s %s\n", strerror (inject_errno), steps, watched[w].name, path);
      resp->flags = 0;
      resp->error = -inject_errno;
    }
  return true;
}

int
main (int argc, char **argv)
{
  int i, listener, pidfd, status;
  pid_t child;

  for (i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    {
      if (strcmp (argv[i], "--under") == 0 && i + 1 < argc && nunder < MAX_UNDER)
        under[nunder++] = argv[++i];
      else if (strcmp (argv[i], "--errno") == 0 && i + 1 < argc)
        inject_errno = errno_by_name (argv[++i]);
      else if (strcmp (argv[i], "--at") == 0 && i + 1 < argc)
        inject_at = atoi (argv[++i]);
      else if (strcmp (argv[i], "--kill-at") == 0 && i + 1 < argc)
        kill_at = atoi (argv[++i]);
      else
        {
          fprintf (stderr, "usage: sbx-fault [--under DIR]... [--errno NAME --at N | --kill-at N] -- PROGRAM ARG...\n");
          return 125;
        }
    }
  if (i + 1 >= argc)
    return fprintf (stderr, "sbx-fault: no program\n"), 125;
  child = spawn (argv + i + 1, &pidfd, &listener);
  for (;;)
    {
      struct seccomp_notif req;
      struct seccomp_notif_resp resp;
      struct pollfd pfd = { .fd = listener, .events = POLLIN };

      if (waitpid (child, &status, WNOHANG) == child)
        break;
      /* POLLHUP: no process uses the filter any more; the program's exit is then reaped above. */
      if (poll (&pfd, 1, 100) <= 0 || !(pfd.revents & POLLIN))
        continue;
      memset (&req, 0, sizeof req);
      if (ioctl (listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
        {
          if (errno == EINTR || errno == ENOENT)
            continue;
          if (waitpid (child, &status, 0) == child)
            break;
          die ("notification");
        }
      memset (&resp, 0, sizeof resp);
      if (decide (child, pidfd, &req, &resp))
        ioctl (listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
  fprintf (stderr, "sbx-fault: steps %d\n", steps);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}

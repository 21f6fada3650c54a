/* state.c - one private directory per run (bundle, the delegate's --root, the root mount point), owned by a
   live sbx process; the runs of a dead owner are reaped by the next `sbx run`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "sandbox.h"
#include "unpack.h"

#define OWNER_FILE "owner"
#define DELEGATE_FILE "delegate"
/* A directory still being set up has no owner file yet; leave it alone that long. */
#define SETUP_GRACE_SECONDS 60

int
sbx_run_id (char *out, size_t size)
{
  unsigned char rnd[6];

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return -1;
  snprintf (out, size, "sbx-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
  return 0;
}

/* Field 22 of /proc/PID/stat: with the pid it names one process for good (pids are reused, this pair is not). */
static unsigned long long
start_time (pid_t pid)
{
  char path[64], buf[1024];
  cleanup_close int fd = -1;
  ssize_t n;
  char *p;
  unsigned long long t = 0;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read (fd, buf, sizeof buf - 1)) <= 0)
    return 0;
  buf[n] = '\0';
  /* The command name may hold spaces and parentheses: count fields after the last ')'. */
  p = strrchr (buf, ')');
  for (int field = 2; p && field < 22; field++)
    p = strchr (p + 1, ' ');
  if (p)
    t = strtoull (p + 1, NULL, 10);
  return t;
}

static char *
join (const char *a, const char *b)
{
  char *s;
  return asprintf (&s, "%s/%s", a, b) < 0 ? NULL : s;
}

int
sbx_run_dir_create (const char *state_dir, const char *id, struct sbx_run_dir *d, sbx_err *err)
{
  cleanup_free char *runs = join (state_dir, "run");
  cleanup_free char *tmpl = NULL;
  char owner[64];
  cleanup_close int dfd = -1;
  int n;

  memset (d, 0, sizeof *d);
  if (runs == NULL)
    return sbx_fail (err, ENOMEM, "state directory");
  /* 0711: with --userns the sandbox's root must reach its mount point through these directories, and no one
     else lists them. */
  if (mkdir (state_dir, 0711) < 0 && errno != EEXIST)
    return sbx_fail (err, errno, "create state directory %s", state_dir);
  if (mkdir (runs, 0711) < 0 && errno != EEXIST)
    return sbx_fail (err, errno, "create %s", runs);
  if (asprintf (&tmpl, "%s/.new-XXXXXX", runs) < 0)
    return sbx_fail (err, ENOMEM, "state directory");
  if (mkdtemp (tmpl) == NULL)
    return sbx_fail (err, errno, "create a run directory in %s", runs);
  if (chmod (tmpl, 0711) < 0 || (dfd = open (tmpl, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    goto fail;
  n = snprintf (owner, sizeof owner, "%d %llu\n", (int) getpid (), start_time (getpid ()));
  if (sbx_write_atomic (dfd, OWNER_FILE, owner, n, 0644, (uid_t) -1, (gid_t) -1, err) < 0)
    goto fail_err;
  if (mkdirat (dfd, "state", 0700) < 0 || mkdirat (dfd, "rootfs", 0755) < 0)
    goto fail;
  /* Appears under its id only complete, owner included: a reaper never sees a half-made run. */
  if ((d->path = join (runs, id)) == NULL || rename (tmpl, d->path) < 0)
    goto fail;
  d->root = join (d->path, "state");
  d->rootfs = join (d->path, "rootfs");
  if (d->root == NULL || d->rootfs == NULL)
    return sbx_fail (err, ENOMEM, "state directory");
  return 0;

fail:
  sbx_fail (err, errno, "create run directory %s", tmpl);
fail_err:
  sbx_run_dir_remove (tmpl, NULL);
  free (d->path);
  d->path = NULL;
  return -1;
}

void
sbx_run_dir_free (struct sbx_run_dir *d)
{
  free (d->path);
  free (d->root);
  free (d->rootfs);
  memset (d, 0, sizeof *d);
}

int
sbx_run_dir_remove (const char *path, sbx_err *err)
{
  cleanup_free char *dir = strdup (path);
  const char *base = strrchr (path, '/');
  cleanup_close int dirfd = -1;
  sbx_err local;

  if (err == NULL)
    err = &local;
  if (dir == NULL || base == NULL || base[1] == '\0')
    return sbx_fail (err, dir ? EINVAL : ENOMEM, "remove run directory %s", path);
  dir[base - path] = '\0';
  /* The parent is sbx's own state directory; below it every step is fd-relative and never follows a name swapped
     for a symlink, nor crosses into a mount (sbx_tree_remove_at). */
  dirfd = open (*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return errno == ENOENT ? 0 : sbx_fail (err, errno, "remove run directory %s", path);
  if (sbx_tree_remove_at (dirfd, base + 1, err) < 0)
    return sbx_wrap (err, "remove run directory %s", path);
  return 0;
}

int
sbx_run_delegate_quiet (const char *delegate, const char *root, const char *const *args)
{
  const char *argv[16];
  size_t n = 0;
  pid_t pid;
  int status;

  argv[n++] = delegate;
  argv[n++] = "--root";
  argv[n++] = root;
  while (*args && n < SBX_ARRAY_SIZE (argv) - 1)
    argv[n++] = *args++;
  argv[n] = NULL;
  pid = fork ();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
      sigset_t none;

      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      if (null >= 0)
        {
          dup2 (null, STDIN_FILENO);
          dup2 (null, STDOUT_FILENO);
          dup2 (null, STDERR_FILENO);
        }
      execv (delegate, (char **) argv);
      _exit (127);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

int
sbx_run_dir_set_delegate (const struct sbx_run_dir *d, const char *delegate, sbx_err *err)
{
  cleanup_close int dfd = open (d->path, O_PATH | O_DIRECTORY | O_CLOEXEC);

  if (dfd < 0)
    return sbx_fail (err, errno, "open %s", d->path);
  return sbx_write_atomic (dfd, DELEGATE_FILE, delegate, strlen (delegate), 0644, (uid_t) -1, (gid_t) -1, err);
}

/* The delegate recorded in run directory DFD, into BUF; NULL when none (or not an executable). */
static const char *
recorded_delegate (int dfd, char *buf, size_t size)
{
  cleanup_close int fd = openat (dfd, DELEGATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;

  if (fd < 0 || (n = read (fd, buf, size - 1)) <= 0)
    return NULL;
  buf[n] = '\0';
  return buf[0] == '/' && access (buf, X_OK) == 0 ? buf : NULL;
}

static bool
owner_alive (int dfd)
{
  char buf[64];
  ssize_t n;
  int pid;
  unsigned long long t;
  cleanup_close int fd = openat (dfd, OWNER_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return false;
  n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  if (sscanf (buf, "%d %llu", &pid, &t) != 2 || pid <= 0)
    return false;
  return kill (pid, 0) == 0 || errno == EPERM ? start_time (pid) == t : false;
}

int
sbx_run_reap (const char *state_dir, const char *delegate, sbx_err *err)
{
  cleanup_free char *runs = join (state_dir, "run");
  DIR *d;
  struct dirent *e;
  int reaped = 0;

  if (runs == NULL)
    return sbx_fail (err, ENOMEM, "state directory");
  if ((d = opendir (runs)) == NULL)
    return errno == ENOENT ? 0 : sbx_fail (err, errno, "open %s", runs);
  while ((e = readdir (d)) != NULL)
    {
      cleanup_close int dfd = -1;
      cleanup_free char *path = NULL, *root = NULL;
      struct stat st;
      sbx_err e2;

      if (e->d_name[0] == '.' && strncmp (e->d_name, ".new-", 5) != 0)
        continue;
      if ((dfd = openat (dirfd (d), e->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        continue;
      if (owner_alive (dfd))
        continue;
      if (e->d_name[0] == '.' && (fstat (dfd, &st) < 0 || time (NULL) - st.st_mtime < SETUP_GRACE_SECONDS))
        continue;
      path = join (runs, e->d_name);
      root = path ? join (path, "state") : NULL;
      if (root == NULL)
        break;
      if (e->d_name[0] != '.')
        {
          const char *args[] = { "delete", "--force", e->d_name, NULL };
          char used[PATH_MAX];
          const char *d = recorded_delegate (dfd, used, sizeof used);

          /* The owner died; its runtime (or the sandbox) may live on: stop it with the runtime that made it, then
             kill whatever is left in its cgroup, then free what it held. */
          if (access (root, F_OK) == 0)
            sbx_run_delegate_quiet (d ? d : delegate, root, args);
          sbx_cg_kill (e->d_name);
          if (sbx_cg_remove (e->d_name, &e2) < 0)
            sbx_log (SBX_WARN, "reaping %s: %s", e->d_name, e2.msg);
        }
      if (sbx_run_dir_remove (path, &e2) < 0)
        {
          sbx_log (SBX_WARN, "reaping %s: %s", e->d_name, e2.msg);
          continue;
        }
      sbx_log (SBX_INFO, "reaped sandbox %s left by a dead sbx process", e->d_name);
      reaped++;
    }
  closedir (d);
  return reaped;
}

/* target.c - what the watcher's actions aim at: a pidfd of the container's init, checked to be that init, and its
   cgroup directories, all opened once at registration.  Never a pid number read earlier: it can be reused. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/util.h"
#include "watcher.h"

#define CG_V1_FREEZER "/sys/fs/cgroup/freezer"

static bool
pidfd_alive (int pidfd)
{
  /* Signal 0 succeeds until the process is reaped, and its pid cannot be reused before that. */
  return pidfd >= 0 && syscall (SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

unsigned long long
sbx_w_starttime (pid_t pid)
{
  char path[64], buf[1024], *p;
  unsigned long long st = 0;
  FILE *f;

  /* Field 22 of /proc/PID/stat: with the pid it names one process for good. */
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return 0;
  if (fgets (buf, sizeof buf, f) && (p = strrchr (buf, ')')))
    sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &st);
  fclose (f);
  return st;
}

/* From /proc/PID/status: the seccomp mode, and the pid-namespace levels with the pid in the innermost one. */
static bool
status_of (pid_t pid, int *seccomp, int *levels, long *inner)
{
  char path[64], line[512];
  FILE *f;

  *seccomp = -1, *levels = 0, *inner = -1;
  snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return false;
  while (fgets (line, sizeof line, f))
    {
      if (strncmp (line, "Seccomp:", 8) == 0)
        *seccomp = atoi (line + 8);
      else if (strncmp (line, "NSpid:", 6) == 0)
        for (char *tok = strtok (line + 6, " \t\n"); tok; tok = strtok (NULL, " \t\n"))
          (*levels)++, *inner = atol (tok);
    }
  fclose (f);
  return *seccomp >= 0 && *levels > 0;
}

/* PID's cgroup v2 path ("0::") and v1 freezer path from /proc/PID/cgroup ("" when absent). */
static bool
cgroups_of (pid_t pid, char *v2, char *frz, size_t size)
{
  char path[64], line[PATH_MAX + 64];
  FILE *f;

  v2[0] = frz[0] = '\0';
  snprintf (path, sizeof path, "/proc/%d/cgroup", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return false;
  while (fgets (line, sizeof line, f))
    {
      char *ctl = strchr (line, ':'), *cg;
      if (ctl == NULL || (cg = strchr (++ctl, ':')) == NULL)
        continue;
      *cg++ = '\0';
      cg[strcspn (cg, "\n")] = '\0';
      if (*ctl == '\0')
        snprintf (v2, size, "%s", cg);
      else if (strcmp (ctl, "freezer") == 0)
        snprintf (frz, size, "%s", cg);
    }
  fclose (f);
  return v2[0] || frz[0];
}

static const char *
v2_root (void)
{
  /* Hybrid hosts mount cgroup2 at unified/; pure v2 hosts at the top. */
  return access ("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
}

static int
open_cgroup (const char *root, const char *path)
{
  char full[2 * PATH_MAX];

  if (path[0] != '/' || strstr (path, "/../") || (strlen (path) >= 3 && strcmp (path + strlen (path) - 3, "/..") == 0))
    return errno = EINVAL, -1;
  snprintf (full, sizeof full, "%s%s", root, path);
  return open (full, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

void
sbx_w_unbind (struct sbx_wcontainer *c)
{
  if (c->pidfd >= 0)
    close (c->pidfd);
  if (c->cg_fd >= 0)
    close (c->cg_fd);
  if (c->frz_fd >= 0)
    close (c->frz_fd);
  c->pidfd = c->cg_fd = c->frz_fd = -1;
}

/* The checks of sbx_w_bind_init on an open PIDFD of PID; fills C's cgroup fields. */
static int
check_init (struct sbx_wcontainer *c, pid_t pid, bool ns_init, char *why, size_t size)
{
  char own_v2[PATH_MAX], own_frz[PATH_MAX];
  struct stat st;
  int seccomp, levels;
  long inner;

  if (!status_of (pid, &seccomp, &levels, &inner))
    return snprintf (why, size, "cannot read /proc/%d/status", (int) pid), -1;
  if (seccomp != 2)
    return snprintf (why, size, "pid %d has no seccomp filter, so it is not the process whose filter notifies",
                     (int) pid), -1;
  if (ns_init && !(levels > 1 && inner == 1))
    return snprintf (why, size, "pid %d is not the init (pid 1) of a pid namespace of its own", (int) pid), -1;
  if (!cgroups_of (pid, c->cgroup, c->freezer, sizeof c->cgroup))
    return snprintf (why, size, "no cgroup for pid %d", (int) pid), -1;
  cgroups_of (getpid (), own_v2, own_frz, sizeof own_v2);
  /* An engine gives each container a cgroup of its own: the watcher's (or the root) is some other process's. */
  if (strcmp (c->cgroup, "/") == 0 || (c->cgroup[0] && strcmp (c->cgroup, own_v2) == 0))
    return snprintf (why, size, "pid %d is in cgroup '%s', not a container's", (int) pid, c->cgroup), -1;
  if (c->cgroup[0] && (c->cg_fd = open_cgroup (v2_root (), c->cgroup)) >= 0 && fstat (c->cg_fd, &st) == 0)
    c->cg_ino = (uint64_t) st.st_ino;
  if (c->freezer[0] && strcmp (c->freezer, "/") != 0 && strcmp (c->freezer, own_frz) != 0)
    c->frz_fd = open_cgroup (CG_V1_FREEZER, c->freezer);
  if (c->cg_fd < 0 && c->frz_fd < 0)
    return snprintf (why, size, "cannot open the cgroup of pid %d (%s): %s", (int) pid, c->cgroup, strerror (errno)),
           -1;
  c->starttime = sbx_w_starttime (pid);
  return 0;
}

int
sbx_w_bind_init (struct sbx_wcontainer *c, pid_t pid, bool ns_init, char *why, size_t size)
{
  int pidfd;

  why[0] = '\0';
  sbx_w_unbind (c);
  c->cg_ino = 0;
  pidfd = pid > 0 ? (int) syscall (SYS_pidfd_open, pid, 0) : -1;
  if (pidfd < 0)
    return snprintf (why, size, "pidfd_open(%d): %s", (int) pid, pid > 0 ? strerror (errno) : "no pid"), -1;
  /* Everything below is read through /proc/PID: it belongs to the pidfd's process only if that process is still
     there (unreaped) after the reads. */
  if (check_init (c, pid, ns_init, why, size) < 0 || !pidfd_alive (pidfd))
    {
      if (why[0] == '\0')
        snprintf (why, size, "pid %d exited during registration", (int) pid);
      close (pidfd);
      sbx_w_unbind (c);
      c->cgroup[0] = c->freezer[0] = '\0';
      c->cg_ino = 0;
      return -1;
    }
  c->pidfd = pidfd;
  return 0;
}

void
sbx_w_rebind (struct sbx_wcontainer *c)
{
  char cg[PATH_MAX], frz[PATH_MAX], why[PATH_MAX + 128] = "";
  unsigned long long st = c->starttime;
  uint64_t ino = c->cg_ino;

  snprintf (cg, sizeof cg, "%s", c->cgroup);
  snprintf (frz, sizeof frz, "%s", c->freezer);
  /* The same process (pid and start time) in the same cgroups (paths and inode) as recorded, or nothing. */
  bool had = cg[0] || frz[0]; /* records of older watchers have no cgroups: the start time names the process */

  if (c->pid <= 0 || st == 0 || sbx_w_bind_init (c, c->pid, true, why, sizeof why) < 0 || c->starttime != st
      || (had && (strcmp (c->cgroup, cg) != 0 || strcmp (c->freezer, frz) != 0 || (ino && c->cg_ino != ino))))
    {
      sbx_w_unbind (c);
      c->starttime = st;
      snprintf (c->cgroup, sizeof c->cgroup, "%s", cg);
      snprintf (c->freezer, sizeof c->freezer, "%s", frz);
      c->cg_ino = ino;
    }
}

static int
write_at (int dfd, const char *name, const char *val)
{
  cleanup_close int fd = openat (dfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  return fd < 0 || write (fd, val, strlen (val)) < 0 ? -1 : 0;
}

int
sbx_w_freeze (struct sbx_wcontainer *c, char *why, size_t size)
{
  if (c->pidfd < 0)
    return snprintf (why, size, "no verified init recorded for the container"), -1;
  if (!pidfd_alive (c->pidfd))
    return snprintf (why, size, "the container's init has exited"), -1;
  /* The v1 freezer first: the engines' pause and resume use it where it exists. */
  if (c->frz_fd >= 0)
    {
      if (write_at (c->frz_fd, "freezer.state", "FROZEN") == 0)
        return 0;
      return snprintf (why, size, "freezer%s/freezer.state: %s", c->freezer, strerror (errno)), -1;
    }
  if (c->cg_fd >= 0)
    {
      if (write_at (c->cg_fd, "cgroup.freeze", "1") == 0)
        return 0;
      return snprintf (why, size, "%s/cgroup.freeze: %s", c->cgroup, strerror (errno)), -1;
    }
  return snprintf (why, size, "no cgroup recorded for the container"), -1;
}

int
sbx_w_kill_init (struct sbx_wcontainer *c, char *why, size_t size)
{
  if (c->pidfd < 0)
    return snprintf (why, size, "no verified init recorded for the container"), -1;
  if (syscall (SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) < 0)
    return snprintf (why, size, "%s", errno == ESRCH ? "the container's init has exited" : strerror (errno)), -1;
  return 0;
}

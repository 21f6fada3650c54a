/* delegate.c - finding the real runtime and handing calls to it. */
#define _GNU_SOURCE
#include "delegate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"

static bool
same_file_as_self (const char *path)
{
  struct stat a, b;
  return stat (path, &a) == 0 && stat ("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Search PATH for NAME, skipping sbx itself. */
static bool
find_in_path (const char *name, char *out, size_t size)
{
  const char *path = getenv ("PATH");
  cleanup_free char *copy = strdup (path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  char *save = NULL;

  for (char *dir = copy ? strtok_r (copy, ":", &save) : NULL; dir; dir = strtok_r (NULL, ":", &save))
    {
      if (snprintf (out, size, "%s/%s", *dir ? dir : ".", name) >= (int) size)
        continue;
      if (access (out, X_OK) == 0 && !same_file_as_self (out))
        return true;
    }
  return false;
}

static enum sbx_delegate_kind
kind_of (const char *path)
{
  const char *base = strrchr (path, '/');
  base = base ? base + 1 : path;
  if (strncmp (base, "crun", 4) == 0)
    return SBX_DELEGATE_CRUN;
  if (strncmp (base, "runc", 4) == 0)
    return SBX_DELEGATE_RUNC;
  return SBX_DELEGATE_OTHER;
}

static int
resolve_name (const char *want, const char *source, struct sbx_delegate *d, sbx_err *err)
{
  if (strchr (want, '/'))
    {
      if (snprintf (d->path, sizeof d->path, "%s", want) >= (int) sizeof d->path)
        return sbx_fail (err, ENAMETOOLONG, "delegate runtime %s (from %s)", want, source);
      if (access (d->path, X_OK) < 0)
        return sbx_fail (err, errno, "delegate runtime %s (from %s)", want, source);
      if (same_file_as_self (d->path))
        return sbx_fail (err, ELOOP, "delegate runtime %s (from %s) is sbx-runtime itself", want, source);
    }
  else if (!find_in_path (want, d->path, sizeof d->path))
    return sbx_fail (err, ENOENT, "delegate runtime '%s' (from %s) not found in PATH", want, source);
  d->kind = kind_of (d->path);
  return 0;
}

int
sbx_delegate_resolve (const struct sbx_config *cfg, struct sbx_delegate *d, sbx_err *err)
{
  const char *want = getenv ("SBX_RUNTIME");

  if (want && *want)
    return resolve_name (want, "SBX_RUNTIME", d, err);
  want = sbx_config_str (cfg, "runtime", NULL);
  if (want && *want)
    return resolve_name (want, "sbx.json \"runtime\"", d, err);
  if (find_in_path ("crun", d->path, sizeof d->path) || find_in_path ("runc", d->path, sizeof d->path))
    {
      d->kind = kind_of (d->path);
      return 0;
    }
  return sbx_fail (err, ENOENT, "no delegate runtime: install crun or runc, or set SBX_RUNTIME");
}

int
sbx_delegate_exec (const struct sbx_delegate *d, char **argv, sbx_err *err)
{
  /* argv[0] becomes the delegate's own path: crun changes behaviour on its argv[0] (e.g. krun). */
  argv[0] = (char *) d->path;
  execv (d->path, argv);
  return sbx_fail (err, errno, "exec delegate runtime %s", d->path);
}

int
sbx_delegate_capture (const struct sbx_delegate *d, char **argv, size_t max, char **out, size_t *len, int *status,
                      sbx_err *err)
{
  int p[2];
  pid_t pid;
  int rc;

  if (pipe2 (p, O_CLOEXEC) < 0)
    return sbx_fail (err, errno, "pipe");
  pid = fork ();
  if (pid < 0)
    {
      close (p[0]);
      close (p[1]);
      return sbx_fail (err, errno, "fork");
    }
  if (pid == 0)
    {
      dup2 (p[1], STDOUT_FILENO);
      argv[0] = (char *) d->path;
      execv (d->path, argv);
      _exit (127);
    }
  close (p[1]);
  rc = sbx_read_fd (p[0], max, d->path, out, len, err);
  close (p[0]);
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return sbx_fail (err, errno, "wait for %s", d->path);
  return rc;
}

/* journal.c - the host's event journal: JSON lines, one write(2) each, size-bounded with numbered rotation. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "watcher.h"

const char *
sbx_journal_path (const struct sbx_config *cfg, char *buf, size_t size)
{
  snprintf (buf, size, "%s", sbx_config_str (cfg, "journal.path", SBX_JOURNAL_DEFAULT));
  return buf;
}

static int
mkdir_parent (const char *path)
{
  char dir[PATH_MAX];
  char *slash;

  snprintf (dir, sizeof dir, "%s", path);
  slash = strrchr (dir, '/');
  if (slash == NULL || slash == dir)
    return 0;
  *slash = '\0';
  if (mkdir (dir, 0755) == 0 || errno == EEXIST)
    return 0;
  if (errno == ENOENT && mkdir_parent (dir) == 0)
    return mkdir (dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
  return -1;
}

static void
rotate (const char *path, int keep)
{
  char from[PATH_MAX + 16], to[PATH_MAX + 16];

  if (keep <= 0)
    {
      /* No history kept: start the journal over. */
      unlink (path);
      return;
    }
  for (int i = keep - 1; i >= 1; i--)
    {
      snprintf (from, sizeof from, "%s.%d", path, i);
      snprintf (to, sizeof to, "%s.%d", path, i + 1);
      rename (from, to);
    }
  snprintf (to, sizeof to, "%s.1", path);
  rename (path, to);
}

int
sbx_journal_append (const char *path, long long max, int keep, const char *line, size_t len, sbx_err *err)
{
  cleanup_free char *buf = malloc (len + 1);
  cleanup_close int fd = -1;
  struct stat st;
  int rotated = 0;

  if (buf == NULL)
    return sbx_fail (err, ENOMEM, "journal line");
  memcpy (buf, line, len);
  buf[len] = '\n';
  if (stat (path, &st) == 0 && max > 0 && st.st_size > 0 && st.st_size + (long long) len + 1 > max)
    {
      rotate (path, keep);
      rotated = 1;
    }
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0 && errno == ENOENT && mkdir_parent (path) == 0)
    fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0)
    return sbx_fail (err, errno, "open journal %s", path);
  /* One write of the whole line: a reader following the file never sees half an event. */
  if (write (fd, buf, len + 1) != (ssize_t) (len + 1))
    return sbx_fail (err, errno ? errno : EIO, "append to journal %s", path);
  return rotated;
}

static int
read_one (const char *path, int (*cb) (void *, const char *, size_t), void *ctx)
{
  cleanup_fclose FILE *f = fopen (path, "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  if (f == NULL)
    return errno == ENOENT ? 0 : -1;
  while ((n = getline (&line, &cap, f)) > 0)
    {
      int rc;
      if (line[n - 1] != '\n')
        break; /* a line still being written */
      line[n - 1] = '\0';
      /* The length, not strlen: a line may hold NUL bytes, and the reader must see all of it. */
      if ((rc = cb (ctx, line, (size_t) n - 1)) != 0)
        return rc;
    }
  return 0;
}

int
sbx_journal_read (const char *path, int keep, int (*cb) (void *ctx, const char *line, size_t len), void *ctx,
                  sbx_err *err)
{
  char rotated[PATH_MAX + 16];
  int rc;

  for (int i = keep; i >= 1; i--)
    {
      snprintf (rotated, sizeof rotated, "%s.%d", path, i);
      if ((rc = read_one (rotated, cb, ctx)) != 0)
        return rc < 0 ? sbx_fail (err, errno, "read %s", rotated) : rc;
    }
  if ((rc = read_one (path, cb, ctx)) != 0)
    return rc < 0 ? sbx_fail (err, errno, "read %s", path) : rc;
  return 0;
}

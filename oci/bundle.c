/* bundle.c - reading and atomically rewriting OCI documents through their directory fd. */
#define _GNU_SOURCE
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"

static int parse_root (struct sbx_doc *doc, const char *buf, size_t len, sbx_err *err);

int
sbx_doc_open (const char *dir, const char *name, struct sbx_doc *doc, sbx_err *err)
{
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  size_t len;

  memset (doc, 0, sizeof *doc);
  doc->dirfd = -1;
  if (asprintf (&doc->path, "%s/%s", dir, name) < 0)
    return sbx_fail (err, ENOMEM, "open %s/%s", dir, name);
  doc->name = strdup (name);
  if (doc->name == NULL)
    return sbx_fail (err, ENOMEM, "open %s", doc->path);
  doc->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (doc->dirfd < 0)
    return sbx_fail (err, errno, "open directory %s", dir);
  /* O_NOFOLLOW refuses a symlink planted in place of the file; O_NONBLOCK keeps a fifo from hanging us before
     the type check below refuses it. */
  fd = openat (doc->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return sbx_fail (err, errno, "open %s%s", doc->path, errno == ELOOP ? " (a symlink is refused)" : "");
  if (fstat (fd, &doc->st) < 0)
    return sbx_fail (err, errno, "stat %s", doc->path);
  if (!S_ISREG (doc->st.st_mode))
    return sbx_fail (err, EINVAL, "%s is not a regular file", doc->path);
  if ((size_t) doc->st.st_size > SBX_SPEC_MAX)
    return sbx_fail (err, EFBIG, "%s is larger than %u bytes", doc->path, SBX_SPEC_MAX);
  /* The read buffer, the tree, the hardened copy and its text take about 4 bytes each of the file's plus a
     fixed ~100 KiB (the seccomp memo and its tree among them). */
  sbx_heap_expect (4 * (size_t) doc->st.st_size + (100u << 10));
  if (sbx_read_fd (fd, SBX_SPEC_MAX, doc->path, &buf, &len, err) < 0)
    return -1;
  return parse_root (doc, buf, len, err);
}

int
sbx_doc_open_path (const char *path, struct sbx_doc *doc, sbx_err *err)
{
  cleanup_free char *d = strdup (path), *b = strdup (path);

  if (d == NULL || b == NULL)
    return sbx_fail (err, ENOMEM, "open %s", path);
  return sbx_doc_open (dirname (d), basename (b), doc, err);
}

int
sbx_fd_path (const char *path)
{
  static const char *const dirs[] = { "/dev/fd/", "/proc/self/fd/" };

  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if (strncmp (path, dirs[i], strlen (dirs[i])) == 0)
      {
        const char *n = path + strlen (dirs[i]);
        char *end;
        long fd;

        if (*n < '0' || *n > '9')
          return -1;
        errno = 0;
        fd = strtol (n, &end, 10);
        return *end == '\0' && errno == 0 && fd <= INT_MAX ? (int) fd : -1;
      }
  return -1;
}

static int
parse_root (struct sbx_doc *doc, const char *buf, size_t len, sbx_err *err)
{
  if (json_parse (buf, len, doc->path, &doc->root, err) < 0)
    return -1;
  if (!json_is (doc->root, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "%s: not a JSON object", doc->path);
  return 0;
}

int
sbx_doc_read_fd (int fd, const char *what, struct sbx_doc *doc, sbx_err *err)
{
  cleanup_free char *buf = NULL;
  size_t len;

  memset (doc, 0, sizeof *doc);
  doc->dirfd = -1;
  doc->path = strdup (what);
  if (doc->path == NULL)
    return sbx_fail (err, ENOMEM, "read %s", what);
  if (fstat (fd, &doc->st) < 0)
    return sbx_fail (err, errno, "%s", what);
  /* A pipe (bash's <(...)) or a file the caller opened; a terminal, socket or device would block or never end. */
  if (!S_ISFIFO (doc->st.st_mode) && !S_ISREG (doc->st.st_mode))
    return sbx_fail (err, EINVAL, "%s is neither a pipe nor a regular file", what);
  /* The delegate would open /dev/fd/N afresh, from the start of a regular file: read it from there too. */
  if (S_ISREG (doc->st.st_mode) && lseek (fd, 0, SEEK_SET) < 0)
    return sbx_fail (err, errno, "%s: seek", what);
  sbx_heap_expect (256u << 10); /* a process document is small; the size is unknown before reading */
  if (sbx_read_fd (fd, SBX_SPEC_MAX, what, &buf, &len, err) < 0)
    return -1;
  return parse_root (doc, buf, len, err);
}

/* A document read from an fd goes to a memfd: the caller's pipe is spent and its file is not sbx's to rewrite. */
static int
save_memfd (struct sbx_doc *doc, const char *out, size_t len, sbx_err *err)
{
  int fd = memfd_create ("sbx-process.json", MFD_ALLOW_SEALING); /* no CLOEXEC: the delegate reads it */
  char *path;

  if (fd < 0)
    return sbx_fail (err, errno, "%s: memfd_create", doc->path);
  for (size_t off = 0; off < len;)
    {
      ssize_t w = write (fd, out + off, len - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        {
          int e = errno;
          close (fd);
          return sbx_fail (err, e, "%s: write memfd", doc->path);
        }
      off += (size_t) w;
    }
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0
      || asprintf (&path, "/proc/self/fd/%d", fd) < 0)
    {
      int e = errno;
      close (fd);
      return sbx_fail (err, e, "%s: seal memfd", doc->path);
    }
  free (doc->path);
  doc->path = path;
  return 0;
}

int
sbx_doc_save (struct sbx_doc *doc, sbx_err *err)
{
  cleanup_free char *out = NULL;
  size_t len;

  if (json_serialize (doc->root, &out, &len, err) < 0)
    return sbx_wrap (err, "%s", doc->path);
  if (doc->dirfd < 0)
    return save_memfd (doc, out, len, err);
  return sbx_write_replace (doc->dirfd, doc->name, out, len, doc->st.st_mode, doc->st.st_uid, doc->st.st_gid,
                            doc->sync, err);
}

void
sbx_doc_close (struct sbx_doc *doc)
{
  json_free (doc->root);
  if (doc->dirfd >= 0)
    close (doc->dirfd);
  free (doc->name);
  free (doc->path);
  memset (doc, 0, sizeof *doc);
  doc->dirfd = -1;
}

/* bundle.c - reading and atomically rewriting OCI documents through their directory fd. */
#define _GNU_SOURCE
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"

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
  if (json_parse (buf, len, doc->path, &doc->root, err) < 0)
    return -1;
  if (!json_is (doc->root, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "%s: not a JSON object", doc->path);
  return 0;
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
sbx_doc_save (struct sbx_doc *doc, sbx_err *err)
{
  cleanup_free char *out = NULL;
  size_t len;

  if (json_serialize (doc->root, &out, &len, err) < 0)
    return sbx_wrap (err, "%s", doc->path);
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

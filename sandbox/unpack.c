/* unpack.c - an image's tar archives unpacked by sbx itself: libarchive only reads them (tar, pax, GNU; gzip,
   bzip2, xz, zstd), and every file is made here, relative to the tree's directory fd.  Every byte of an archive is
   hostile: names are bounded and never climb (".." is refused, a leading "/" dropped), directories are resolved
   with openat2(RESOLVE_IN_ROOT) so that a symlink of the image (absolute, through "..", or swapped in meanwhile)
   resolves inside the tree as it would inside the sandbox, the last component is never followed, and nothing that
   gives privileges is made: setuid and setgid bits are dropped, extended attributes (file capabilities) ignored,
   device nodes, FIFOs and sockets left out. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/util.h"
#include "unpack.h"

/* Deeper than any tree sbx unpacks (names are bounded by depth): a guard for the stack and the fds. */
#define REMOVE_DEPTH_MAX 4096

void
sbx_unpack_init (struct sbx_unpack *u)
{
  memset (u, 0, sizeof *u);
  u->lim.total_bytes = 32ull << 30;
  u->lim.file_bytes = 8ull << 30;
  u->lim.entries = 2000000;
  u->lim.name_len = 4095;
  u->lim.depth = 256;
}

/* ---- removal ---- */

static int remove_at (int dirfd, const char *name, dev_t dev, int depth, sbx_err *err);

static int
clear_dir (int dfd, dev_t dev, int depth, sbx_err *err)
{
  int fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *e;
  int rc = 0;

  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return sbx_fail (err, errno, "open a directory to empty it");
    }
  while (rc == 0 && (errno = 0, e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      rc = remove_at (dirfd (d), e->d_name, dev, depth, err);
  if (rc == 0 && errno != 0)
    rc = sbx_fail (err, errno, "read a directory to empty it");
  closedir (d);
  return rc;
}

static int
remove_at (int dirfd, const char *name, dev_t dev, int depth, sbx_err *err)
{
  struct stat st;
  cleanup_close int fd = -1;

  /* unlinkat never follows NAME: a symlink (even one swapped in for a directory a moment ago) goes as itself. */
  for (int tries = 0; tries < 8; tries++)
    {
      if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
      if (errno != EISDIR)
        return sbx_fail (err, errno, "remove %s", name);
      fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0)
        break;
      if (errno != ELOOP && errno != ENOTDIR && errno != ENOENT)
        return sbx_fail (err, errno, "open %s", name);
    }
  if (fd < 0)
    return sbx_fail (err, EBUSY, "remove %s: it keeps changing", name);
  if (fstat (fd, &st) < 0)
    return sbx_fail (err, errno, "stat %s", name);
  if (st.st_dev != dev)
    return sbx_fail (err, EXDEV, "remove %s: a mount point, never crossed", name);
  if (depth >= REMOVE_DEPTH_MAX)
    return sbx_fail (err, ELOOP, "remove %s: deeper than %d levels", name, REMOVE_DEPTH_MAX);
  if (clear_dir (fd, dev, depth + 1, err) < 0)
    return sbx_wrap (err, "%s", name);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return sbx_fail (err, errno, "remove directory %s", name);
  return 0;
}

int
sbx_tree_remove_at (int dirfd, const char *name, sbx_err *err)
{
  struct stat st;

  if (fstat (dirfd, &st) < 0)
    return sbx_fail (err, errno, "stat the directory of %s", name);
  return remove_at (dirfd, name, st.st_dev, 0, err);
}

int
sbx_tree_clear (int dirfd, sbx_err *err)
{
  struct stat st;

  if (fstat (dirfd, &st) < 0)
    return sbx_fail (err, errno, "stat a directory to empty it");
  return clear_dir (dirfd, st.st_dev, 0, err);
}

/* ---- names ---- */

/* NAME as the archive gives it, made relative and checked: components joined by '/', without a leading "/" or
   "./", without "." or empty components.  ".." is refused anywhere: no archive sbx unpacks needs it, and it is how
   archives climb out.  *BASE: the last component (or "" for the tree's root itself). */
static int
clean_name (const struct sbx_unpack_limits *lim, const char *name, char *out, char **base, sbx_err *err)
{
  size_t len = strlen (name), depth = 0;
  char *o = out;

  if (len == 0)
    return sbx_fail (err, EINVAL, "an entry without a name");
  if (len > lim->name_len)
    return sbx_fail (err, ENAMETOOLONG, "an entry's name is %zu bytes, more than %zu", len, lim->name_len);
  *base = out;
  for (const char *p = name; *p;)
    {
      size_t n;

      while (*p == '/')
        p++;
      n = strcspn (p, "/");
      if (n == 0 || (n == 1 && p[0] == '.'))
        {
          p += n;
          continue;
        }
      if (n == 2 && p[0] == '.' && p[1] == '.')
        return sbx_fail (err, EPERM, "entry \"%.200s\": \"..\" in a name is refused", name);
      if (++depth > lim->depth)
        return sbx_fail (err, ENAMETOOLONG, "entry \"%.200s\": deeper than %zu levels", name, lim->depth);
      if (o != out)
        *o++ = '/';
      *base = o;
      memcpy (o, p, n);
      o += n;
      p += n;
    }
  *o = '\0';
  return 0;
}

static const char *
entry_name (struct archive_entry *e)
{
  const char *n = archive_entry_pathname (e);
  return n ? n : archive_entry_pathname_utf8 (e);
}

static const char *
entry_hardlink (struct archive_entry *e)
{
  const char *n = archive_entry_hardlink (e);
  return n ? n : archive_entry_hardlink_utf8 (e);
}

static const char *
entry_symlink (struct archive_entry *e)
{
  const char *n = archive_entry_symlink (e);
  return n ? n : archive_entry_symlink_utf8 (e);
}

/* DIR (a cleaned name, "" for the root) opened inside ROOTFD: symlinks resolve with ROOTFD as "/", so whatever
   the image put there (or anyone swaps in meanwhile), the result is in the tree.  No magic links, no mount
   crossed. */
static int
open_dir (int rootfd, const char *dir)
{
  struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
  return syscall (SYS_openat2, rootfd, *dir ? dir : ".", &how, sizeof how);
}

/* DIR opened as open_dir does, made first (0755, like tar) where missing, one component at a time. */
static int
make_dir (int rootfd, char *dir, sbx_err *err)
{
  int fd = open_dir (rootfd, dir);

  if (fd >= 0 || errno != ENOENT)
    return fd >= 0 ? fd : sbx_fail (err, errno, "directory %s", dir);
  for (char *p = dir;; p++)
    {
      bool last = *p == '\0';
      char *slash;
      cleanup_close int parent = -1;

      if (*p != '/' && !last)
        continue;
      *p = '\0';
      fd = open_dir (rootfd, dir);
      if (fd < 0 && errno == ENOENT)
        {
          slash = strrchr (dir, '/');
          if (slash)
            *slash = '\0';
          parent = open_dir (rootfd, slash ? dir : "");
          if (slash)
            *slash = '/';
          if (parent < 0)
            return sbx_fail (err, errno, "directory %s", dir);
          /* mkdirat never follows its last component: a dangling symlink there is EEXIST, then open_dir's ENOENT. */
          if (mkdirat (parent, slash ? slash + 1 : dir, 0755) < 0 && errno != EEXIST)
            return sbx_fail (err, errno, "create directory %s", dir);
          fd = open_dir (rootfd, dir);
        }
      if (fd < 0)
        return sbx_fail (err, errno, "directory %s", dir);
      if (last)
        return fd;
      close (fd);
      *p = '/';
    }
}

/* ---- entries ---- */

struct entry
{
  struct sbx_unpack *u;
  struct archive *a;
  struct archive_entry *e;
  unsigned flags;
  int rootfd, parent;
  const char *name, *base; /* cleaned */
};

/* Mode bits to give: no setuid, no setgid (counted, said once per image). */
static mode_t
safe_mode (struct entry *x)
{
  mode_t m = archive_entry_perm (x->e) & 07777;
  if (m & (S_ISUID | S_ISGID))
    x->u->st.setid++;
  return m & ~(S_ISUID | S_ISGID);
}

/* Owner and mode of the file made as DIRFD/NAME (AT_EMPTY_PATH with NAME "": DIRFD itself). */
static int
set_owner_mode (struct entry *x, int fd, bool is_link, sbx_err *err)
{
  uid_t uid = archive_entry_uid (x->e);
  gid_t gid = archive_entry_gid (x->e);

  if (!(x->flags & SBX_UNPACK_NO_OWNERS) && !is_link && fchown (fd, uid, gid) < 0)
    return sbx_fail (err, errno, "entry %s: owner %u:%u", x->name, (unsigned) uid, (unsigned) gid);
  if (!(x->flags & SBX_UNPACK_NO_OWNERS) && is_link
      && fchownat (x->parent, x->base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return sbx_fail (err, errno, "entry %s: owner %u:%u", x->name, (unsigned) uid, (unsigned) gid);
  /* After chown, which clears the setid bits anyway: fchmod gives exactly the safe mode. */
  if (!is_link && fchmod (fd, safe_mode (x)) < 0)
    return sbx_fail (err, errno, "entry %s: mode", x->name);
  return 0;
}

static int
put_file (struct entry *x, sbx_err *err)
{
  struct sbx_unpack *u = x->u;
  long long size = archive_entry_size_is_set (x->e) ? archive_entry_size (x->e) : 0;
  cleanup_close int fd = -1;
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;

  if (size < 0 || (unsigned long long) size > u->lim.file_bytes)
    return sbx_fail (err, EFBIG, "entry %s: %lld bytes, more than the %llu a file may have", x->name, size,
                     u->lim.file_bytes);
  if (u->st.bytes + size > u->lim.total_bytes)
    return sbx_fail (err, EFBIG, "entry %s: the image's files would exceed %llu bytes", x->name,
                     u->lim.total_bytes);
  u->st.bytes += size;
  fd = openat (x->parent, x->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return sbx_fail (err, errno, "create %s", x->name);
  while ((r = archive_read_data_block (x->a, &buf, &len, &off)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    {
      /* Sparse blocks land at their offset, never past the size checked above. */
      if (off < 0 || (unsigned long long) off > (unsigned long long) size || len > (unsigned long long) (size - off))
        return sbx_fail (err, EFBIG, "entry %s: data beyond its size", x->name);
      for (size_t done = 0; done < len;)
        {
          ssize_t n = pwrite (fd, (const char *) buf + done, len - done, off + done);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            return sbx_fail (err, n < 0 ? errno : EIO, "write %s", x->name);
          done += n;
        }
    }
  if (r != ARCHIVE_EOF)
    return sbx_fail (err, archive_errno (x->a) > 0 ? archive_errno (x->a) : EIO, "entry %s: %s", x->name,
                     archive_error_string (x->a) ? archive_error_string (x->a) : "cannot read its data");
  if (ftruncate (fd, size) < 0)
    return sbx_fail (err, errno, "size of %s", x->name);
  if (set_owner_mode (x, fd, false, err) < 0)
    return -1;
  if (archive_entry_mtime_is_set (x->e))
    {
      struct timespec ts[2] = { { 0, UTIME_OMIT },
                                { archive_entry_mtime (x->e), archive_entry_mtime_nsec (x->e) } };
      if (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)
        ts[1].tv_nsec = 0;
      futimens (fd, ts); /* a time is no promise: best effort */
    }
  return 0;
}

/* A hard link: its target is a name in the tree, resolved inside it, and only a regular file or a symlink that
   is already there (the kernel links the inode in the tree's file system: never one of the host's). */
static int
put_hardlink (struct entry *x, const char *target, sbx_err *err)
{
  cleanup_free char *t = malloc (strlen (target) + 1);
  cleanup_close int tdir = -1;
  char *tbase;
  struct stat st;

  if (t == NULL)
    return sbx_fail (err, ENOMEM, "entry %s", x->name);
  if (clean_name (&x->u->lim, target, t, &tbase, err) < 0)
    return sbx_wrap (err, "hard link %s", x->name);
  if (*tbase == '\0')
    return sbx_fail (err, EPERM, "hard link %s: to the tree's root", x->name);
  if (tbase != t)
    tbase[-1] = '\0';
  if ((tdir = open_dir (x->rootfd, tbase != t ? t : "")) < 0)
    return sbx_fail (err, errno, "hard link %s: target %s", x->name, target);
  if (fstatat (tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return sbx_fail (err, errno, "hard link %s: target %s", x->name, target);
  if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
    return sbx_fail (err, EPERM, "hard link %s: target %s is not a file", x->name, target);
  if (linkat (tdir, tbase, x->parent, x->base, 0) < 0)
    return sbx_fail (err, errno, "hard link %s to %s", x->name, target);
  return 0;
}

static int
put_entry (struct entry *x, sbx_err *err)
{
  mode_t type = archive_entry_filetype (x->e);
  const char *hardlink = entry_hardlink (x->e);
  struct stat st;

  if (!hardlink && (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK))
    {
      x->u->st.special++;
      return 0;
    }
  if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
    return sbx_fail (err, EINVAL, "entry %s: unknown file type 0%o", x->name, (unsigned) type);
  /* What an earlier entry or layer left under this name goes, unless a directory meets a directory. */
  if (fstatat (x->parent, x->base, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (!hardlink && type == AE_IFDIR && S_ISDIR (st.st_mode))
        {
          cleanup_close int fd = openat (x->parent, x->base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          return fd < 0 ? sbx_fail (err, errno, "open %s", x->name) : set_owner_mode (x, fd, false, err);
        }
      if (sbx_tree_remove_at (x->parent, x->base, err) < 0)
        return sbx_wrap (err, "replace %s", x->name);
    }
  if (hardlink)
    return put_hardlink (x, hardlink, err);
  if (type == AE_IFDIR)
    {
      cleanup_close int fd = -1;
      if (mkdirat (x->parent, x->base, 0700) < 0)
        return sbx_fail (err, errno, "create directory %s", x->name);
      fd = openat (x->parent, x->base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      return fd < 0 ? sbx_fail (err, errno, "open %s", x->name) : set_owner_mode (x, fd, false, err);
    }
  if (type == AE_IFLNK)
    {
      const char *target = entry_symlink (x->e);
      /* The target is kept as written: it is resolved inside the sandbox, and here only by open_dir. */
      if (target == NULL || *target == '\0' || strlen (target) > x->u->lim.name_len)
        return sbx_fail (err, EINVAL, "symlink %s: no target, or one longer than %zu bytes", x->name,
                         x->u->lim.name_len);
      if (symlinkat (target, x->parent, x->base) < 0)
        return sbx_fail (err, errno, "create symlink %s", x->name);
      return set_owner_mode (x, -1, true, err);
    }
  return put_file (x, err);
}

/* ---- archives ---- */

static struct archive *
open_archive (int fd, off_t start, sbx_err *err)
{
  struct archive *a;

  if (lseek (fd, start, SEEK_SET) < 0)
    {
      sbx_fail (err, errno, "rewind the archive");
      return NULL;
    }
  a = archive_read_new ();
  if (a == NULL)
    {
      sbx_fail (err, ENOMEM, "libarchive");
      return NULL;
    }
  /* tar only (ustar, pax, GNU): no other format's reader is exposed to the image. */
  if (archive_read_support_format_tar (a) != ARCHIVE_OK || archive_read_support_filter_gzip (a) < ARCHIVE_WARN
      || archive_read_support_filter_bzip2 (a) < ARCHIVE_WARN || archive_read_support_filter_xz (a) < ARCHIVE_WARN
      || archive_read_support_filter_zstd (a) < ARCHIVE_WARN || archive_read_open_fd (a, fd, 1 << 16) != ARCHIVE_OK)
    {
      sbx_fail (err, archive_errno (a) > 0 ? archive_errno (a) : EINVAL, "not a tar archive: %s",
                archive_error_string (a) ? archive_error_string (a) : "unreadable");
      archive_read_free (a);
      return NULL;
    }
  return a;
}

/* The next entry of A, its name cleaned into NAME (name_len + 1 bytes): 1, or 0 at the end. */
static int
next_entry (struct sbx_unpack *u, struct archive *a, unsigned long long *count, struct archive_entry **e, char *name,
            char **base, sbx_err *err)
{
  int r = archive_read_next_header (a, e);
  const char *raw;

  if (r == ARCHIVE_EOF)
    return 0;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    return sbx_fail (err, archive_errno (a) > 0 ? archive_errno (a) : EINVAL, "entry %llu: %s", *count,
                     archive_error_string (a) ? archive_error_string (a) : "unreadable header");
  if (++*count > u->lim.entries)
    return sbx_fail (err, EFBIG, "more than %llu entries", u->lim.entries);
  if ((raw = entry_name (*e)) == NULL)
    return sbx_fail (err, EINVAL, "entry %llu: a name that cannot be read", *count);
  if (clean_name (&u->lim, raw, name, base, err) < 0)
    return -1;
  return 1;
}

/* A layer's whiteouts, all applied before any of its files is made (they hide what the layers below made, never
   what this one makes): .wh.NAME removes NAME, .wh..wh..opq empties its directory.  Only inside the tree. */
static int
apply_whiteouts (struct sbx_unpack *u, int fd, off_t start, int rootfd, char *name, sbx_err *err)
{
  struct archive *a = open_archive (fd, start, err);
  struct archive_entry *e;
  unsigned long long count = 0;
  char *base;
  int r = -1;

  if (a == NULL)
    return -1;
  while ((r = next_entry (u, a, &count, &e, name, &base, err)) > 0)
    {
      cleanup_close int dfd = -1;

      if (strncmp (base, ".wh.", 4) != 0)
        continue;
      if (base != name)
        base[-1] = '\0';
      dfd = open_dir (rootfd, base != name ? name : "");
      if (dfd < 0)
        {
          if (errno == ENOENT || errno == ENOTDIR)
            continue; /* hides nothing that exists */
          r = sbx_fail (err, errno, "whiteout %s", base);
          break;
        }
      if (strcmp (base, ".wh..wh..opq") == 0)
        r = sbx_tree_clear (dfd, err);
      else if (strncmp (base, ".wh..wh.", 8) == 0)
        continue; /* aufs' own bookkeeping */
      else
        r = sbx_tree_remove_at (dfd, base + 4, err); /* clean_name left no '/', "." or ".." in it */
      if (r < 0)
        {
          sbx_wrap (err, "whiteout %s/%s", base != name ? name : ".", base);
          break;
        }
    }
  archive_read_free (a);
  return r;
}

int
sbx_unpack_tar (struct sbx_unpack *u, int fd, int rootfd, unsigned flags, sbx_err *err)
{
  off_t start = lseek (fd, 0, SEEK_CUR);
  cleanup_free char *name = malloc (u->lim.name_len + 1);
  struct archive *a = NULL;
  struct archive_entry *e;
  char *base;
  int r;

  if (name == NULL)
    return sbx_fail (err, ENOMEM, "unpack");
  if (start < 0)
    return sbx_fail (err, errno, "archive offset");
  if ((flags & SBX_UNPACK_LAYER) && apply_whiteouts (u, fd, start, rootfd, name, err) < 0)
    return -1;
  if ((a = open_archive (fd, start, err)) == NULL)
    return -1;
  while ((r = next_entry (u, a, &u->st.entries, &e, name, &base, err)) > 0)
    {
      struct entry x = { .u = u, .a = a, .e = e, .flags = flags, .rootfd = rootfd, .name = name, .base = base };
      cleanup_close int parent = -1;

      if (*base == '\0')
        continue; /* "./": the tree's root is sbx's own */
      if ((flags & SBX_UNPACK_LAYER) && strncmp (base, ".wh.", 4) == 0)
        continue;
      if (base != name)
        base[-1] = '\0';
      parent = make_dir (rootfd, base != name ? name : (char[]){ "" }, err);
      if (base != name)
        base[-1] = '/';
      if (parent < 0 || (x.parent = parent, put_entry (&x, err)) < 0)
        {
          r = -1;
          break;
        }
    }
  archive_read_free (a);
  return r;
}

int
sbx_unpack_is_layout (struct sbx_unpack *u, int fd, bool *is, sbx_err *err)
{
  off_t start = lseek (fd, 0, SEEK_CUR);
  cleanup_free char *name = malloc (u->lim.name_len + 1);
  struct archive *a;
  struct archive_entry *e;
  unsigned long long count = 0;
  bool layout = false, index = false;
  char *base;
  int r;

  if (name == NULL)
    return sbx_fail (err, ENOMEM, "unpack");
  if (start < 0 || (a = open_archive (fd, start, err)) == NULL)
    return start < 0 ? sbx_fail (err, errno, "archive offset") : -1;
  while ((r = next_entry (u, a, &count, &e, name, &base, err)) > 0)
    {
      layout |= strcmp (name, "oci-layout") == 0;
      index |= strcmp (name, "index.json") == 0;
    }
  archive_read_free (a);
  *is = layout && index;
  if (r == 0 && lseek (fd, start, SEEK_SET) < 0)
    return sbx_fail (err, errno, "rewind the archive");
  return r;
}

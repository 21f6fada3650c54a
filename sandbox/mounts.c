/* mounts.c - the sandbox's mounts with libmount: --bind/--tmpfs checked, and the root built in a private mount
   namespace so that nothing of it ever appears in the host's mount table. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/util.h"
#include "sandbox.h"

/* Kernel interfaces a sandbox must never write to, whatever path they are bound from. */
static const char *const kernel_fstypes[] = { "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs",
                                              "securityfs", "bpf", "configfs", "efivarfs", "pstore",
                                              "fusectl", "devtmpfs", "binfmt_misc", "nsfs" };

/* What the runtime mounts fresh in every sandbox: created empty in the root, never taken from the source. */
static const char *const fresh_dirs[] = { "proc", "sys", "dev", "tmp", "run" };

/* tmpfs options sbx passes on (anything else is a typo or a trick). */
static const char *const tmpfs_fs_options[] = { "size", "nr_blocks", "nr_inodes", "mode", "uid", "gid", "huge",
                                                "noswap" };

void
sbx_mount_opt_free (struct sbx_mount_opt *m)
{
  free (m->src);
  free (m->dst);
  for (char **p = m->options; p && *p; p++)
    free (*p);
  free (m->options);
  memset (m, 0, sizeof *m);
}

int
sbx_path_normalise (const char *in, char **out, sbx_err *err)
{
  size_t n = strlen (in);
  cleanup_free char *buf = malloc (n + 2);
  char *o = buf;

  if (buf == NULL)
    return sbx_fail (err, ENOMEM, "path %s", in);
  if (in[0] != '/')
    return sbx_fail (err, EINVAL, "path \"%s\" is not absolute", in);
  for (const char *p = in; *p;)
    {
      size_t len;

      while (*p == '/')
        p++;
      len = strcspn (p, "/");
      if (len == 0 || (len == 1 && p[0] == '.'))
        {
          p += len;
          continue;
        }
      if (len == 2 && p[0] == '.' && p[1] == '.')
        return sbx_fail (err, EINVAL, "path \"%s\" contains \"..\"", in);
      *o++ = '/';
      memcpy (o, p, len);
      o += len;
      p += len;
    }
  if (o == buf)
    *o++ = '/';
  *o = '\0';
  *out = steal_pointer (&buf);
  return 0;
}

static bool
path_under (const char *path, const char *dir)
{
  size_t n = strlen (dir);
  return strncmp (path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The type of the host file system holding PATH, from the host's mount table. */
static int
fstype_of (const char *path, char *out, size_t size, sbx_err *err)
{
  struct libmnt_table *tb = mnt_new_table_from_file ("/proc/self/mountinfo");
  struct libmnt_fs *fs;

  if (tb == NULL)
    return sbx_fail (err, errno ? errno : EIO, "parse /proc/self/mountinfo");
  fs = mnt_table_find_mountpoint (tb, path, MNT_ITER_BACKWARD);
  snprintf (out, size, "%s", fs && mnt_fs_get_fstype (fs) ? mnt_fs_get_fstype (fs) : "");
  mnt_unref_table (tb);
  return 0;
}

static int
set_options (struct sbx_mount_opt *m, const char *const *opts, size_t n, sbx_err *err)
{
  m->options = calloc (n + 1, sizeof *m->options);
  if (m->options == NULL)
    return sbx_fail (err, ENOMEM, "mount options");
  for (size_t i = 0; i < n; i++)
    if ((m->options[i] = strdup (opts[i])) == NULL)
      return sbx_fail (err, ENOMEM, "mount options");
  return 0;
}

static int
check_dst (const char *dst, char **out, sbx_err *err)
{
  if (sbx_path_normalise (dst, out, err) < 0)
    return sbx_wrap (err, "destination");
  if (strcmp (*out, "/") == 0)
    return sbx_fail (err, EINVAL, "destination /: use --rootfs to change the root");
  if (path_under (*out, "/proc") || path_under (*out, "/sys"))
    return sbx_fail (err, EINVAL, "destination %s: /proc and /sys are the sandbox's own", *out);
  return 0;
}

int
sbx_mount_bind (enum sbx_mount_kind kind, const char *src, const char *dst, struct sbx_mount_opt *m,
                sbx_err *err)
{
  const char *opts[] = { "rbind", "rprivate", "nosuid", "nodev", kind == SBX_MNT_BIND ? "rw" : "ro" };
  struct stat st;
  char fstype[64];

  memset (m, 0, sizeof *m);
  m->kind = kind;
  if (*src == '\0')
    return sbx_fail (err, EINVAL, "empty source");
  if ((m->src = realpath (src, NULL)) == NULL)
    return sbx_fail (err, errno, "source %s", src);
  if (stat (m->src, &st) < 0)
    return sbx_fail (err, errno, "source %s", m->src);
  if (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode) && !S_ISCHR (st.st_mode))
    return sbx_fail (err, EINVAL, "source %s: not a directory, regular file or character device", m->src);
  m->is_dir = S_ISDIR (st.st_mode);
  if (check_dst (dst, &m->dst, err) < 0)
    return -1;
  if (kind == SBX_MNT_BIND)
    {
      /* By path (a symlink to /proc is resolved above) and by file system (/proc mounted elsewhere). */
      if (path_under (m->src, "/proc") || path_under (m->src, "/sys"))
        return sbx_fail (err, EPERM, "source %s: the host's /proc and /sys are never bound writable (use --ro-bind)",
                         m->src);
      if (fstype_of (m->src, fstype, sizeof fstype, err) < 0)
        return -1;
      for (size_t i = 0; i < SBX_ARRAY_SIZE (kernel_fstypes); i++)
        if (strcmp (fstype, kernel_fstypes[i]) == 0)
          return sbx_fail (err, EPERM, "source %s is on the host's %s: kernel interfaces are never bound writable",
                           m->src, fstype);
    }
  return set_options (m, opts, SBX_ARRAY_SIZE (opts), err);
}

static bool
tmpfs_value_ok (const char *name, const char *val)
{
  long long n;
  char *end;

  if (strcmp (name, "noswap") == 0)
    return val == NULL;
  if (val == NULL || *val == '\0')
    return false;
  if (strcmp (name, "size") == 0)
    {
      size_t len = strlen (val);
      if (len > 1 && val[len - 1] == '%')
        {
          n = strtoll (val, &end, 10);
          return end == val + len - 1 && n > 0 && n <= 100;
        }
      return sbx_parse_size (val, &n) == 0 && n > 0;
    }
  if (strcmp (name, "mode") == 0)
    {
      n = strtoll (val, &end, 8);
      return *end == '\0' && n >= 0 && n <= 07777;
    }
  if (strcmp (name, "huge") == 0)
    return strcmp (val, "never") == 0 || strcmp (val, "always") == 0 || strcmp (val, "within_size") == 0
           || strcmp (val, "advise") == 0;
  n = strtoll (val, &end, 10);
  return *end == '\0' && n >= 0;
}

int
sbx_mount_tmpfs (const char *spec, struct sbx_mount_opt *m, sbx_err *err)
{
  const char *colon = strchr (spec, ':');
  cleanup_free char *dst = strndup (spec, colon ? (size_t) (colon - spec) : strlen (spec));
  cleanup_free char *user = NULL, *vfs = NULL, *fs = NULL;
  char *opts[64] = { "nosuid", "nodev" };
  size_t n = 2, first_owned = 2;
  bool has_mode = false;
  int rc = -1;

  memset (m, 0, sizeof *m);
  m->kind = SBX_MNT_TMPFS;
  m->is_dir = true;
  if (dst == NULL)
    return sbx_fail (err, ENOMEM, "tmpfs");
  if (check_dst (dst, &m->dst, err) < 0)
    return -1;
  if (colon && colon[1])
    {
      /* libmount sorts the options the way mount(8) does: VFS flags, file-system options, userspace ones. */
      if (mnt_split_optstr (colon + 1, &user, &vfs, &fs, 0, 0) != 0)
        return sbx_fail (err, EINVAL, "options \"%s\": not a mount option string", colon + 1);
      if (user && *user)
        return sbx_fail (err, EINVAL, "options \"%s\": userspace mount options (%s) mean nothing here", colon + 1,
                         user);
      for (int pass = 0; pass < 2; pass++)
        {
          char *next = pass == 0 ? vfs : fs, *name, *val;
          size_t namesz, valsz;

          while (next && mnt_optstr_next_option (&next, &name, &namesz, &val, &valsz) == 0)
            {
              cleanup_free char *key = strndup (name, namesz), *value = val ? strndup (val, valsz) : NULL;
              bool known = pass == 0;

              if (key == NULL || (val && value == NULL))
                goto nomem;
              for (size_t i = 0; pass == 1 && i < SBX_ARRAY_SIZE (tmpfs_fs_options); i++)
                known |= strcmp (key, tmpfs_fs_options[i]) == 0;
              if (!known)
                {
                  sbx_fail (err, EINVAL, "option \"%s\": not a tmpfs option", key);
                  goto out;
                }
              if (pass == 1 && !tmpfs_value_ok (key, value))
                {
                  sbx_fail (err, EINVAL, "option %s=%s: invalid value", key, value ? value : "");
                  goto out;
                }
              has_mode |= strcmp (key, "mode") == 0;
              if (n + 2 >= SBX_ARRAY_SIZE (opts))
                {
                  sbx_fail (err, E2BIG, "options \"%s\": too many", colon + 1);
                  goto out;
                }
              if (value ? asprintf (&opts[n], "%s=%s", key, value) < 0 : (opts[n] = strdup (key)) == NULL)
                goto nomem;
              n++;
            }
        }
    }
  if (!has_mode)
    opts[n++] = strdup ("mode=1777");
  rc = set_options (m, (const char *const *) opts, n, err);
  goto out;
nomem:
  sbx_fail (err, ENOMEM, "tmpfs options");
out:
  for (size_t i = first_owned; i < n; i++)
    free (opts[i]);
  return rc;
}

static int
mnt_do (const char *source, const char *target, const char *fstype, const char *options, unsigned long flags,
        sbx_err *err)
{
  struct libmnt_context *cxt = mnt_new_context ();
  int rc;

  if (cxt == NULL)
    return sbx_fail (err, ENOMEM, "libmount context");
  /* No /sbin/mount.* helpers, no utab: this namespace is private and short-lived. */
  mnt_context_disable_helpers (cxt, 1);
  mnt_context_disable_mtab (cxt, 1);
  mnt_context_disable_canonicalize (cxt, 1);
  /* Everything is given here: fstab has no say. */
  mnt_context_set_optsmode (cxt, MNT_OMODE_NOTAB);
  if ((source && mnt_context_set_source (cxt, source) != 0) || mnt_context_set_target (cxt, target) != 0
      || (fstype && mnt_context_set_fstype (cxt, fstype) != 0)
      || (options && mnt_context_set_options (cxt, options) != 0)
      || (flags && mnt_context_set_mflags (cxt, flags) != 0))
    {
      mnt_free_context (cxt);
      return sbx_fail (err, EINVAL, "prepare mount of %s", target);
    }
  rc = mnt_context_mount (cxt);
  if (rc != 0)
    {
      int e = rc < 0 ? -rc : mnt_context_get_syscall_errno (cxt);
      mnt_free_context (cxt);
      return sbx_fail (err, e ? e : EIO, "mount %s on %s", source ? source : fstype ? fstype : "(propagation)",
                       target);
    }
  mnt_free_context (cxt);
  return 0;
}

int
sbx_mount_private_ns (sbx_err *err)
{
  if (unshare (CLONE_NEWNS) < 0)
    return sbx_fail (err, errno, "unshare a mount namespace");
  /* Private, not slave: nothing mounted here may reach the host, and nothing the host mounts later matters. */
  return mnt_do (NULL, "/", NULL, "rprivate", 0, err);
}

/* Bind SRC recursively on DST and make the whole tree read-only: mount(2)'s MS_RDONLY on a bind only covers the
   top mount, and libmount of Debian 12 predates recursive flags, so mount_setattr does that part. */
static int
bind_ro (const char *src, const char *dst, bool rec, sbx_err *err)
{
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };

  if (mnt_do (src, dst, NULL, rec ? "rbind" : "bind", 0, err) < 0)
    return -1;
  /* nosuid: a setuid binary of the host gives nothing in here (no_new_privs too, belt and braces).  nodev: the
     host's device nodes are reached only through the runtime's /dev. */
  if (mount_setattr (AT_FDCWD, dst, rec ? AT_RECURSIVE : 0, &attr, sizeof attr) < 0)
    return sbx_fail (err, errno, "make %s read-only", dst);
  return 0;
}

static bool
is_fresh (const char *name)
{
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fresh_dirs); i++)
    if (strcmp (name, fresh_dirs[i]) == 0)
      return true;
  return false;
}

static int
open_in_root (int rootfd, const char *path, int flags)
{
  struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  return syscall (SYS_openat2, rootfd, path, &how, sizeof how);
}

/* Create the mount point of M inside the root ROOTFD, resolving symlinks the way the runtime will (inside the
   root).  A mount point below a read-only directory of the source cannot be created: say so. */
static int
make_mount_point (int rootfd, const struct sbx_mount_opt *m, sbx_err *err)
{
  cleanup_free char *path = strdup (m->dst + 1);
  char *p;

  if (path == NULL)
    return sbx_fail (err, ENOMEM, "mount point %s", m->dst);
  for (p = path;; p++)
    {
      bool last = *p == '\0';
      int fd;

      if (*p != '/' && !last)
        continue;
      *p = '\0';
      fd = open_in_root (rootfd, path, O_PATH);
      if (fd >= 0)
        close (fd);
      else if (errno != ENOENT)
        return sbx_fail (err, errno, "mount point %s: %s", m->dst, path);
      else
        {
          char *slash = strrchr (path, '/');
          cleanup_close int parent = slash ? (*slash = '\0', open_in_root (rootfd, path, O_PATH | O_DIRECTORY))
                                           : dup (rootfd);
          const char *name = slash ? slash + 1 : path;
          int rc;

          if (parent < 0)
            return sbx_fail (err, errno, "mount point %s", m->dst);
          if (last && !m->is_dir)
            {
              rc = openat (parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
              if (rc >= 0)
                close (rc);
            }
          else
            rc = mkdirat (parent, name, 0755);
          if (slash)
            *slash = '/';
          if (rc < 0 && errno == EROFS)
            return sbx_fail (err, EROFS,
                             "mount point %s does not exist in the sandbox's root and /%s is read-only there: "
                             "use a path that exists or a new top-level directory",
                             m->dst, path);
          if (rc < 0 && errno != EEXIST)
            return sbx_fail (err, errno, "create mount point %s", m->dst);
        }
      if (last)
        return 0;
      *p = '/';
    }
}

/* One top-level entry NAME of the source (SRCFD) into the root being built at TARGET.  It is opened once,
   O_PATH|O_NOFOLLOW, and bound from that fd (/proc/self/fd/N): what is bound is what was looked at, even if the
   name is swapped for a symlink meanwhile (bubblewrap's way). */
static int
bind_entry (int srcfd, const char *name, const char *target, sbx_err *err)
{
  cleanup_close int fd = openat (srcfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  char dst[PATH_MAX], self[64];
  struct stat st;

  if (fd < 0 || fstat (fd, &st) < 0)
    return 0; /* gone meanwhile */
  snprintf (dst, sizeof dst, "%s/%s", target, name);
  snprintf (self, sizeof self, "/proc/self/fd/%d", fd);
  if (S_ISLNK (st.st_mode))
    {
      char link[PATH_MAX];
      ssize_t n = readlinkat (fd, "", link, sizeof link - 1);
      if (n < 0)
        return 0;
      link[n] = '\0';
      if (symlink (link, dst) < 0)
        return sbx_fail (err, errno, "build the sandbox root %s: %s", target, dst);
    }
  else if (S_ISDIR (st.st_mode))
    {
      if (mkdir (dst, 0755) < 0)
        return sbx_fail (err, errno, "build the sandbox root %s: %s", target, dst);
      if (bind_ro (self, dst, true, err) < 0)
        return sbx_wrap (err, "/%s", name);
    }
  else if (S_ISREG (st.st_mode))
    {
      int f = open (dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (f < 0)
        return sbx_fail (err, errno, "build the sandbox root %s: %s", target, dst);
      close (f);
      if (bind_ro (self, dst, false, err) < 0)
        return sbx_wrap (err, "/%s", name);
    }
  return 0;
}

int
sbx_rootfs_build (const char *source_root, const char *target, const struct sbx_run_opts *o, sbx_err *err)
{
  cleanup_close int rootfd = -1, srcfd = -1;
  DIR *d;
  struct dirent *e;
  char dst[PATH_MAX], nested[PATH_MAX];
  int lfd;

  /* The root itself is a small tmpfs: mount points can be made in it without writing to the source, and the
     runtime remounts it read-only (root.readonly). */
  if (mnt_do ("sbx-root", target, "tmpfs", "mode=0755,size=1m,nr_inodes=4096", 0, err) < 0)
    return -1;
  if ((srcfd = open (source_root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0
      || (lfd = openat (srcfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return sbx_fail (err, errno, "open root %s", source_root);
  if ((d = fdopendir (lfd)) == NULL)
    {
      close (lfd);
      return sbx_fail (err, errno, "open root %s", source_root);
    }
  while ((e = readdir (d)) != NULL)
    {
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0 || is_fresh (e->d_name))
        continue;
      if (bind_entry (srcfd, e->d_name, target, err) < 0)
        goto fail;
    }
  closedir (d);
  d = NULL;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (fresh_dirs); i++)
    {
      snprintf (dst, sizeof dst, "%s/%s", target, fresh_dirs[i]);
      if (mkdir (dst, 0755) < 0 && errno != EEXIST)
        goto fail_errno;
    }

  /* When the state directory lies in a bound tree, that tree's copy holds this very root again: detach it. */
  snprintf (nested, sizeof nested, "%s%s", target, target);
  if (umount2 (nested, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
    return sbx_fail (err, errno, "detach %s", nested);

  rootfd = open (target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return sbx_fail (err, errno, "open %s", target);
  for (size_t i = 0; i < o->nmounts; i++)
    if (make_mount_point (rootfd, &o->mounts[i], err) < 0)
      return -1;
  return 0;

fail_errno:
  sbx_fail (err, errno, "build the sandbox root %s: %s", target, dst);
  return -1;
fail:
  if (d)
    closedir (d);
  return -1;
}

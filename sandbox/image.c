/* image.c - --image FILE: an OCI image layout (a directory or a tar of one) or a rootfs tarball, unpacked once into
   a content-addressed cache (the manifest's digest, or the tarball's sha256) and shared read-only by every run.
   The cache is root's alone (0700 from its top), and what is in it gives no one privileges (unpack.c). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/sha256.h"
#include "../common/util.h"
#include "imagecfg.h"
#include "sandbox.h"
#include "unpack.h"

#define IMAGE_CACHE_TOP "/var/cache/sbx"
#define IMAGE_CACHE_DEFAULT IMAGE_CACHE_TOP "/images"
/* Written last into an entry: entries of older sbx (unpacked by tar, setuid bits and device nodes kept) lack it
   and are unpacked again. */
#define FORMAT_FILE "format"
#define FORMAT "sbx-unpack 2\n"
#define JSON_MAX (4u << 20)
#define LAYERS_MAX 256

const char *
sbx_image_cache_dir (const struct sbx_config *cfg)
{
  const char *d = getenv ("SBX_IMAGE_CACHE");
  return d && *d ? d : sbx_config_str (cfg, "run.image_cache", IMAGE_CACHE_DEFAULT);
}

static int
steal_fd (int *fd)
{
  int f = *fd;
  *fd = -1;
  return f;
}

/* PATH below DIRFD without any symlink or "..": OPEN_FLAGS | O_NOFOLLOW | O_CLOEXEC. */
static int
open_beneath (int dirfd, const char *path, int flags)
{
  struct open_how how = { .flags = flags | O_NOFOLLOW | O_CLOEXEC,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
  return syscall (SYS_openat2, dirfd, path, &how, sizeof how);
}

/* A cache directory (NAME in DIRFD; SHOWN in messages), opened: made 0700 if missing; refused if a symlink or not
   root's; any wider mode an older sbx gave it (0711, 0755) narrowed to 0700, so that no one else reaches below. */
static int
cache_dir_at (int dirfd, const char *name, const char *shown, sbx_err *err)
{
  cleanup_close int fd = -1;
  struct stat st;

  if (mkdirat (dirfd, name, 0700) < 0 && errno != EEXIST)
    return sbx_fail (err, errno, "create image cache %s", shown);
  fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
    return sbx_fail (err, ELOOP, "image cache %s is a symlink: refused", shown);
  if (fd < 0)
    return sbx_fail (err, errno, "image cache %s", shown);
  if (fstat (fd, &st) < 0)
    return sbx_fail (err, errno, "image cache %s", shown);
  if (st.st_uid != 0)
    return sbx_fail (err, EPERM, "image cache %s is owned by uid %u, not root: refused", shown,
                     (unsigned) st.st_uid);
  if ((st.st_mode & 07777) != 0700)
    {
      if (fchmod (fd, 0700) < 0)
        return sbx_fail (err, errno, "image cache %s: make it 0700", shown);
      sbx_log (SBX_INFO, "image cache %s was mode %04o: now 0700", shown, (unsigned) (st.st_mode & 07777));
    }
  return steal_fd (&fd);
}

/* The cache, from its top: /var/cache/sbx for the default, else the directory configured. */
static int
open_cache (const char *cache, sbx_err *err)
{
  cleanup_close int top = -1;

  if (strcmp (cache, IMAGE_CACHE_DEFAULT) != 0)
    return cache_dir_at (AT_FDCWD, cache, cache, err);
  if ((top = cache_dir_at (AT_FDCWD, IMAGE_CACHE_TOP, IMAGE_CACHE_TOP, err)) < 0)
    return -1;
  return cache_dir_at (top, "images", IMAGE_CACHE_DEFAULT, err);
}

/* "sha256:<64 hex>" -> the hex (a file name that cannot climb out of blobs/sha256). */
static const char *
digest_hex (const char *digest)
{
  if (digest == NULL || strncmp (digest, "sha256:", 7) != 0 || strlen (digest) != 7 + 64)
    return NULL;
  for (const char *p = digest + 7; *p; p++)
    if (!isxdigit ((unsigned char) *p) || isupper ((unsigned char) *p))
      return NULL;
  return digest + 7;
}

/* PATH below LAYOUT: a regular file reached without any symlink or "..", opened without blocking (a FIFO there
   cannot hang sbx). */
static int
layout_open (int layout, const char *path, struct stat *st, sbx_err *err)
{
  cleanup_close int fd = open_beneath (layout, path, O_RDONLY | O_NONBLOCK);

  if (fd < 0)
    return sbx_fail (err, errno, "%s%s", path, errno == ELOOP ? ": a symlink in an image layout is refused" : "");
  if (fstat (fd, st) < 0)
    return sbx_fail (err, errno, "%s", path);
  if (!S_ISREG (st->st_mode))
    return sbx_fail (err, EINVAL, "%s: not a regular file", path);
  return steal_fd (&fd);
}

static int
sha256_fd (int fd, char hex[65], sbx_err *err)
{
  struct sbx_sha256_ctx c;
  unsigned char buf[65536], out[32];
  ssize_t n;

  if (lseek (fd, 0, SEEK_SET) < 0)
    return sbx_fail (err, errno, "rewind");
  sbx_sha256_init (&c);
  while ((n = read (fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return sbx_fail (err, errno, "read");
      sbx_sha256_update (&c, buf, n);
    }
  sbx_sha256_final (&c, out);
  for (int i = 0; i < 32; i++)
    snprintf (hex + 2 * i, 3, "%02x", out[i]);
  return lseek (fd, 0, SEEK_SET) < 0 ? sbx_fail (err, errno, "rewind") : 0;
}

/* The blob DIGEST of LAYOUT, opened, its content checked against its name (the cache is only as trustworthy as
   these digests) and rewound. */
static int
blob_open (int layout, const char *digest, sbx_err *err)
{
  const char *hex = digest_hex (digest);
  char path[128], got[65];
  struct stat st;
  cleanup_close int fd = -1;

  if (hex == NULL)
    return sbx_fail (err, EINVAL, "digest \"%.100s\": only sha256 digests are supported", digest ? digest : "");
  snprintf (path, sizeof path, "blobs/sha256/%s", hex);
  if ((fd = layout_open (layout, path, &st, err)) < 0 || sha256_fd (fd, got, err) < 0)
    return sbx_wrap (err, "blob %s", digest);
  if (strcmp (got, hex) != 0)
    return sbx_fail (err, EINVAL, "blob %s: content hashes to sha256:%s", digest, got);
  return steal_fd (&fd);
}

static int
load_json (int fd, const char *what, json_t **out, sbx_err *err)
{
  cleanup_free char *buf = NULL;
  size_t len;

  if (sbx_read_fd (fd, JSON_MAX, what, &buf, &len, err) < 0)
    return -1;
  return json_parse (buf, len, what, out, err);
}

/* The manifest digest of LAYOUT: the first manifest for linux/amd64 (or without a platform) in index.json,
   following one nested index. */
static int
pick_manifest (int layout, char *digest, size_t size, sbx_err *err)
{
  json_t *index = NULL;
  struct stat st;
  int rc = -1, fd = layout_open (layout, "index.json", &st, err);

  if (fd < 0 || load_json (fd, "index.json", &index, err) < 0)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  close (fd);
  for (int depth = 0; depth < 2; depth++)
    {
      json_t *manifests = json_find (index, "manifests"), *chosen = NULL;
      const char *d, *mt;

      for (size_t i = 0; i < json_arr_len (manifests) && chosen == NULL; i++)
        {
          json_t *m = json_arr_at (manifests, i), *plat = json_find (m, "platform");
          const char *os = json_str (json_find (plat, "os")), *arch = json_str (json_find (plat, "architecture"));
          if (plat == NULL || ((!os || strcmp (os, "linux") == 0) && (!arch || strcmp (arch, "amd64") == 0)))
            chosen = m;
        }
      d = json_str (json_find (chosen, "digest"));
      mt = json_str (json_find (chosen, "mediaType"));
      if (d == NULL || digest_hex (d) == NULL)
        {
          sbx_fail (err, EINVAL, "index.json: no manifest for linux/amd64 with a sha256 digest");
          break;
        }
      if (mt && strstr (mt, "image.index"))
        {
          json_free (index);
          index = NULL;
          if ((fd = blob_open (layout, d, err)) < 0)
            break;
          rc = load_json (fd, d, &index, err);
          close (fd);
          if (rc < 0)
            break;
          continue;
        }
      snprintf (digest, size, "%s", d);
      rc = 0;
      break;
    }
  json_free (index);
  return rc;
}

static int
unpack_layout (struct sbx_unpack *u, int layout, const char *manifest_digest, int rootfd, sbx_err *err)
{
  json_t *manifest = NULL, *layers;
  int rc = -1, fd = blob_open (layout, manifest_digest, err);

  if (fd < 0 || load_json (fd, manifest_digest, &manifest, err) < 0)
    {
      if (fd >= 0)
        close (fd);
      return sbx_wrap (err, "manifest");
    }
  close (fd);
  layers = json_find (manifest, "layers");
  if (!json_is (layers, JSON_ARRAY) || json_arr_len (layers) > LAYERS_MAX)
    {
      json_free (manifest);
      return sbx_fail (err, EINVAL, "manifest %s: no layers, or more than %d", manifest_digest, LAYERS_MAX);
    }
  for (size_t i = 0; i < json_arr_len (layers); i++)
    {
      const char *d = json_str (json_find (json_arr_at (layers, i), "digest"));

      fd = blob_open (layout, d, err);
      if (fd < 0 || sbx_unpack_tar (u, fd, rootfd, SBX_UNPACK_LAYER, err) < 0)
        {
          if (fd >= 0)
            close (fd);
          sbx_wrap (err, "layer %zu (%.100s)", i, d ? d : "no digest");
          goto out;
        }
      close (fd);
    }
  rc = 0;
out:
  json_free (manifest);
  return rc;
}

/* The run config of the layout's image: the blob the manifest's "config" descriptor names (its digest checked like
   every blob's), parsed by imagecfg.c.  A manifest without a config descriptor gives an empty one. */
static int
read_config (int layout, const char *manifest_digest, struct sbx_image_config *c, sbx_err *err)
{
  json_t *manifest = NULL, *desc;
  cleanup_free char *buf = NULL;
  const char *d;
  size_t len;
  int rc = -1, fd = blob_open (layout, manifest_digest, err);

  memset (c, 0, sizeof *c);
  if (fd < 0 || load_json (fd, manifest_digest, &manifest, err) < 0)
    {
      if (fd >= 0)
        close (fd);
      return sbx_wrap (err, "manifest");
    }
  close (fd);
  fd = -1;
  desc = json_find (manifest, "config");
  if (desc == NULL || json_type_of (desc) == JSON_NULL)
    rc = 0;
  else if (json_type_of (desc) != JSON_OBJECT || (d = json_str (json_find (desc, "digest"))) == NULL)
    sbx_fail (err, EINVAL, "manifest %s: \"config\" is not a descriptor with a digest", manifest_digest);
  else if ((fd = blob_open (layout, d, err)) < 0 || sbx_read_fd (fd, JSON_MAX, d, &buf, &len, err) < 0)
    sbx_wrap (err, "image config");
  else
    rc = sbx_image_config_parse (buf, len, "image config", c, err);
  if (fd >= 0)
    close (fd);
  json_free (manifest);
  return rc;
}

/* The entry KEY of the cache, when complete and of this format. */
static bool
cached (int cache, const char *key)
{
  char path[256], buf[sizeof FORMAT];
  cleanup_close int fd = -1;
  struct stat st;
  ssize_t n;

  snprintf (path, sizeof path, "%s/" FORMAT_FILE, key);
  fd = open_beneath (cache, path, O_RDONLY | O_NONBLOCK);
  if (fd < 0 || (n = read (fd, buf, sizeof buf - 1)) != (ssize_t) strlen (FORMAT))
    return false;
  buf[n] = '\0';
  snprintf (path, sizeof path, "%s/rootfs", key);
  if (strcmp (buf, FORMAT) != 0)
    return false;
  close (fd);
  fd = open_beneath (cache, path, O_PATH | O_DIRECTORY);
  return fd >= 0 && fstat (fd, &st) == 0 && S_ISDIR (st.st_mode);
}

struct job
{
  const char *image;
  int imgfd, cache, tmp; /* tmp: the entry being filled, .tmp-* in the cache */
  char tmpname[32], digest[128]; /* digest: the manifest's, for a layout */
  bool is_dir;
  struct sbx_unpack u;
};

/* The cache key of the image, and the layout's directory (the image itself, or its tar unpacked into tmp). */
static int
image_key (struct job *j, char *key, size_t size, int *layout, sbx_err *err)
{
  char hex[65];
  bool is_layout = j->is_dir;

  *layout = -1;
  if (!j->is_dir && sbx_unpack_is_layout (&j->u, j->imgfd, &is_layout, err) < 0)
    return sbx_wrap (err, "read %s", j->image);
  if (!is_layout)
    {
      if (sha256_fd (j->imgfd, hex, err) < 0)
        return -1;
      snprintf (key, size, "rootfs-%s", hex);
      return 0;
    }
  if (j->is_dir)
    *layout = dup (j->imgfd);
  else
    {
      /* Only sbx reads the layout's files: no owners, in the entry's scratch directory. */
      struct sbx_unpack scratch;
      cleanup_close int fd = -1;

      sbx_unpack_init (&scratch);
      if (mkdirat (j->tmp, "layout", 0700) < 0
          || (fd = openat (j->tmp, "layout", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return sbx_fail (err, errno, "scratch directory for the layout");
      if (sbx_unpack_tar (&scratch, j->imgfd, fd, SBX_UNPACK_NO_OWNERS, err) < 0)
        return sbx_wrap (err, "unpack the layout");
      *layout = steal_fd (&fd);
    }
  if (*layout < 0)
    return sbx_fail (err, errno, "layout");
  {
    struct stat st;
    cleanup_close int marker = layout_open (*layout, "oci-layout", &st, err);
    if (marker < 0)
      return sbx_wrap (err, "not an OCI image layout");
  }
  if (pick_manifest (*layout, j->digest, sizeof j->digest, err) < 0)
    return -1;
  snprintf (key, size, "oci-%s", digest_hex (j->digest));
  return 0;
}

/* Fill the entry KEY: unpack into tmp/rootfs, then publish tmp under KEY by rename (whole or not at all). */
static int
fill (struct job *j, const char *key, int layout, sbx_err *err)
{
  cleanup_close int rootfd = -1;

  if (mkdirat (j->tmp, "rootfs", 0755) < 0
      || (rootfd = openat (j->tmp, "rootfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    return sbx_fail (err, errno, "create the image's root");
  if (layout < 0)
    {
      if (lseek (j->imgfd, 0, SEEK_SET) < 0 || sbx_unpack_tar (&j->u, j->imgfd, rootfd, 0, err) < 0)
        return err->msg[0] ? -1 : sbx_fail (err, errno, "rewind");
    }
  else
    {
      if (unpack_layout (&j->u, layout, j->digest, rootfd, err) < 0)
        return -1;
      if (sbx_tree_remove_at (j->tmp, "layout", err) < 0)
        return sbx_wrap (err, "scratch copy of the layout");
    }
  if (sbx_write_atomic (j->tmp, FORMAT_FILE, FORMAT, strlen (FORMAT), 0600, 0, 0, err) < 0)
    return -1;
  /* An entry of an older sbx (no format file) goes first; another sbx that unpacked the same image first wins. */
  if (!cached (j->cache, key) && sbx_tree_remove_at (j->cache, key, err) < 0)
    return sbx_wrap (err, "old cache entry %s", key);
  if (renameat (j->cache, j->tmpname, j->cache, key) < 0 && errno != EEXIST && errno != ENOTEMPTY)
    return sbx_fail (err, errno, "publish %s in the image cache", key);
  if (j->u.st.special || j->u.st.setid)
    sbx_log (SBX_INFO,
             "image %s: %llu device nodes, FIFOs or sockets left out; setuid/setgid bits dropped from %llu files",
             j->image, j->u.st.special, j->u.st.setid);
  return 0;
}

/* The scratch entry: made as .new-*, locked, then named .tmp-*, so that every .tmp-* is locked while its sbx
   lives and a reaper can tell a dead one's by taking its lock. */
static int
make_tmp (struct job *j, sbx_err *err)
{
  unsigned char rnd[8];
  char hex[17], fresh[32];

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return sbx_fail (err, errno, "randomness for a cache directory");
  for (int i = 0; i < 8; i++)
    snprintf (hex + 2 * i, 3, "%02x", rnd[i]);
  snprintf (fresh, sizeof fresh, ".new-%s", hex);
  snprintf (j->tmpname, sizeof j->tmpname, ".tmp-%s", hex);
  if (mkdirat (j->cache, fresh, 0700) < 0
      || (j->tmp = openat (j->cache, fresh, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0
      || flock (j->tmp, LOCK_EX | LOCK_NB) < 0 || renameat (j->cache, fresh, j->cache, j->tmpname) < 0)
    {
      int e = errno;
      unlinkat (j->cache, fresh, AT_REMOVEDIR);
      return sbx_fail (err, e, "create a directory in the image cache");
    }
  return 0;
}

/* What a killed sbx left half-unpacked: every .tmp-* whose lock can be taken (its sbx is gone). */
static void
reap_stale (int cache)
{
  int lfd = openat (cache, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = lfd >= 0 ? fdopendir (lfd) : NULL;
  struct dirent *e;

  if (d == NULL)
    {
      if (lfd >= 0)
        close (lfd);
      return;
    }
  while ((e = readdir (d)) != NULL)
    {
      cleanup_close int fd = -1;
      sbx_err err;

      if (strncmp (e->d_name, ".tmp-", 5) != 0)
        continue;
      fd = openat (cache, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
        continue;
      if (sbx_tree_remove_at (cache, e->d_name, &err) < 0)
        sbx_log (SBX_WARN, "image cache: stale %s: %s", e->d_name, err.msg);
      else
        sbx_log (SBX_INFO, "image cache: removed %s, left half-unpacked by a killed sbx", e->d_name);
    }
  closedir (d);
}

int
sbx_image_rootfs (const struct sbx_config *cfg, const char *image, char **rootfs, sbx_err *err)
{
  return sbx_image_open (cfg, image, rootfs, NULL, err);
}

int
sbx_image_open (const struct sbx_config *cfg, const char *image, char **rootfs, struct sbx_image_config *config,
                sbx_err *err)
{
  const char *cache = sbx_image_cache_dir (cfg);
  struct job j = { .image = image, .imgfd = -1, .cache = -1, .tmp = -1 };
  cleanup_close int layout = -1;
  char key[128];
  struct stat st;
  int rc = -1;

  if (config)
    memset (config, 0, sizeof *config);
  sbx_unpack_init (&j.u);
  /* O_NONBLOCK: a FIFO named as the image cannot hang sbx; it is refused below. */
  if ((j.imgfd = open (image, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 || fstat (j.imgfd, &st) < 0)
    {
      sbx_fail (err, errno, "%s", image);
      goto out;
    }
  if (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode))
    {
      sbx_fail (err, EINVAL, "%s: not a file or directory", image);
      goto out;
    }
  j.is_dir = S_ISDIR (st.st_mode);
  if ((j.cache = open_cache (cache, err)) < 0)
    goto out;
  reap_stale (j.cache);
  if (make_tmp (&j, err) < 0
      || image_key (&j, key, sizeof key, &layout, err) < 0)
    goto out;
  /* Read before anything is unpacked: a hostile config costs no unpack. */
  if (config && layout >= 0 && read_config (layout, j.digest, config, err) < 0)
    goto out;
  if (cached (j.cache, key))
    sbx_log (SBX_DEBUG, "image %s: cached as %s/%s", image, cache, key);
  else if (fill (&j, key, layout, err) < 0)
    goto out;
  else
    sbx_log (SBX_DEBUG, "image %s: unpacked into %s/%s", image, cache, key);
  if (asprintf (rootfs, "%s/%s/rootfs", cache, key) < 0)
    {
      sbx_fail (err, ENOMEM, "image cache path");
      goto out;
    }
  rc = 0;
out:
  /* A failed unpack leaves nothing: the whole scratch entry goes, fd-relative. */
  if (j.tmp >= 0)
    {
      sbx_err e2;
      /* Still locked while it goes (after a publish the name is gone already). */
      if (sbx_tree_remove_at (j.cache, j.tmpname, &e2) < 0)
        sbx_log (SBX_WARN, "image cache: %s", e2.msg);
      close (j.tmp);
    }
  if (j.cache >= 0)
    close (j.cache);
  if (j.imgfd >= 0)
    close (j.imgfd);
  if (rc < 0 && config)
    sbx_image_config_free (config);
  if (rc < 0 && err->msg[0] == '\0')
    sbx_fail (err, EIO, "unpack %s", image);
  return rc;
}

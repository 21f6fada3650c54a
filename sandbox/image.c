/* image.c - --image FILE: an OCI image layout (a directory or a tar of one) or a rootfs tarball, unpacked once into
   a content-addressed cache (the manifest's digest, or the tarball's sha256) and shared read-only by every run. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/sha256.h"
#include "../common/util.h"
#include "sandbox.h"

#define IMAGE_CACHE_DEFAULT "/var/cache/sbx/images"
#define LISTING_MAX (64u << 20)

const char *
sbx_image_cache_dir (const struct sbx_config *cfg)
{
  const char *d = getenv ("SBX_IMAGE_CACHE");
  return d && *d ? d : sbx_config_str (cfg, "run.image_cache", IMAGE_CACHE_DEFAULT);
}

/* Run tar with ARGV.  CONFINE: the only directory it may write to; everything else of the host is read-only in
   the child's private mount namespace, so a hostile archive (a symlink planted to lead the next member out, a
   member through "..") fails with EROFS instead of writing to the host.  OUT: capture stdout. */
static int
run_tar (char *const argv[], const char *confine, char **out, sbx_err *err)
{
  int p[2] = { -1, -1 }, status;
  size_t len;
  pid_t pid;
  int rc = 0;

  if (out && pipe2 (p, O_CLOEXEC) < 0)
    return sbx_fail (err, errno, "pipe");
  pid = fork ();
  if (pid < 0)
    return sbx_fail (err, errno, "fork");
  if (pid == 0)
    {
      sbx_err e;
      struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY }, rw = { .attr_clr = MOUNT_ATTR_RDONLY };
      sigset_t none;

      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      if (out)
        dup2 (p[1], STDOUT_FILENO);
      if (confine)
        {
          if (sbx_mount_private_ns (&e) < 0 || mount (confine, confine, NULL, MS_BIND, NULL) < 0
              || mount_setattr (AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) < 0
              || mount_setattr (AT_FDCWD, confine, 0, &rw, sizeof rw) < 0)
            {
              fprintf (stderr, "sbx: confine tar to %s: %s\n", confine, strerror (errno));
              _exit (127);
            }
        }
      execvp ("tar", argv);
      fprintf (stderr, "sbx: exec tar: %s\n", strerror (errno));
      _exit (127);
    }
  if (out)
    {
      close (p[1]);
      rc = sbx_read_fd (p[0], LISTING_MAX, "tar listing", out, &len, err);
      close (p[0]);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return sbx_fail (err, errno, "wait for tar");
  if (rc == 0 && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
    rc = sbx_fail (err, EIO, "tar %s %s failed (status %d)", argv[1], argv[3] ? argv[3] : "",
                   WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  if (rc < 0 && out)
    {
      free (*out);
      *out = NULL;
    }
  return rc;
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

/* A blob of LAYOUT, its content checked against its name: the cache is only as trustworthy as these digests. */
static int
blob_path (const char *layout, const char *digest, char *path, size_t size, sbx_err *err)
{
  const char *hex = digest_hex (digest);
  char got[65];

  if (hex == NULL)
    return sbx_fail (err, EINVAL, "digest \"%s\": only sha256 digests are supported", digest ? digest : "");
  snprintf (path, size, "%s/blobs/sha256/%s", layout, hex);
  if (sbx_sha256_file (path, got, err) < 0)
    return -1;
  if (strcmp (got, hex) != 0)
    return sbx_fail (err, EINVAL, "blob %s: content hashes to sha256:%s", digest, got);
  return 0;
}

static int
load_json (const char *path, json_t **out, sbx_err *err)
{
  cleanup_free char *buf = NULL;
  size_t len;

  if (sbx_read_file (path, 4u << 20, &buf, &len, err) < 0)
    return -1;
  return json_parse (buf, len, path, out, err);
}

/* The manifest digest of LAYOUT: the first manifest for linux/amd64 (or without a platform) in index.json,
   following one nested index. */
static int
pick_manifest (const char *layout, char *digest, size_t size, sbx_err *err)
{
  char path[PATH_MAX];
  json_t *index = NULL;
  int rc = -1;

  snprintf (path, sizeof path, "%s/index.json", layout);
  if (load_json (path, &index, err) < 0)
    return -1;
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
      if (d == NULL)
        {
          sbx_fail (err, EINVAL, "%s: no manifest for linux/amd64", path);
          break;
        }
      if (mt && strstr (mt, "image.index"))
        {
          json_free (index);
          index = NULL;
          if (blob_path (layout, d, path, sizeof path, err) < 0 || load_json (path, &index, err) < 0)
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
remove_at (int dirfd, const char *name)
{
  struct stat st;

  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -1;
  if (S_ISDIR (st.st_mode))
    {
      int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
      struct dirent *e;

      if (d == NULL)
        {
          if (fd >= 0)
            close (fd);
          return -1;
        }
      while ((e = readdir (d)) != NULL)
        if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
          remove_at (fd, e->d_name);
      closedir (d);
      return unlinkat (dirfd, name, AT_REMOVEDIR);
    }
  return unlinkat (dirfd, name, 0);
}

/* Apply the whiteouts a layer lists to the layers below it (already in ROOTFD). */
static int
apply_whiteouts (int rootfd, char *listing, sbx_err *err)
{
  for (char *save = NULL, *line = strtok_r (listing, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *slash, *base, *dir;
      struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                              .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
      int dfd;

      while (strncmp (line, "./", 2) == 0)
        line += 2;
      slash = strrchr (line, '/');
      base = slash ? slash + 1 : line;
      if (strncmp (base, ".wh.", 4) != 0)
        continue;
      dir = slash ? (*slash = '\0', line) : ".";
      dfd = syscall (SYS_openat2, rootfd, dir, &how, sizeof how);
      if (dfd < 0)
        continue; /* hides nothing that exists */
      if (strcmp (base, ".wh..wh..opq") == 0)
        {
          /* Opaque directory: nothing of the lower layers shows through. */
          DIR *d = fdopendir (openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
          struct dirent *e;
          while (d && (e = readdir (d)) != NULL)
            if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0 && remove_at (dirfd (d), e->d_name) < 0)
              {
                closedir (d);
                close (dfd);
                return sbx_fail (err, errno, "opaque whiteout of %s", dir);
              }
          if (d)
            closedir (d);
        }
      else if (base[4] != '\0' && strcmp (base + 4, ".") != 0 && strcmp (base + 4, "..") != 0
               && remove_at (dfd, base + 4) < 0)
        {
          close (dfd);
          return sbx_fail (err, errno, "whiteout of %s/%s", dir, base + 4);
        }
      close (dfd);
    }
  return 0;
}

static int
extract (const char *archive, const char *rootfs, bool skip_whiteouts, sbx_err *err)
{
  char *argv[] = { "tar", "-x", "-f", (char *) archive, "-C", (char *) rootfs, "--numeric-owner", "--same-owner",
                   "--same-permissions", skip_whiteouts ? "--exclude=.wh.*" : NULL, NULL };
  return run_tar (argv, rootfs, NULL, err);
}

static int
unpack_layout (const char *layout, const char *manifest_digest, const char *rootfs, sbx_err *err)
{
  char path[PATH_MAX];
  json_t *manifest = NULL, *layers;
  cleanup_close int rootfd = -1;
  int rc = -1;

  if (blob_path (layout, manifest_digest, path, sizeof path, err) < 0 || load_json (path, &manifest, err) < 0)
    return sbx_wrap (err, "manifest");
  layers = json_find (manifest, "layers");
  if (!json_is (layers, JSON_ARRAY))
    {
      json_free (manifest);
      return sbx_fail (err, EINVAL, "manifest %s: no layers", manifest_digest);
    }
  if ((rootfd = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    {
      json_free (manifest);
      return sbx_fail (err, errno, "open %s", rootfs);
    }
  for (size_t i = 0; i < json_arr_len (layers); i++)
    {
      const char *d = json_str (json_find (json_arr_at (layers, i), "digest"));
      char *list_argv[] = { "tar", "-t", "-f", path, NULL };
      cleanup_free char *listing = NULL;

      if (blob_path (layout, d, path, sizeof path, err) < 0 || run_tar (list_argv, NULL, &listing, err) < 0
          || apply_whiteouts (rootfd, listing, err) < 0 || extract (path, rootfs, true, err) < 0)
        {
          sbx_wrap (err, "layer %zu (%s)", i, d ? d : "no digest");
          goto out;
        }
    }
  rc = 0;
out:
  json_free (manifest);
  return rc;
}

static bool
listing_has (const char *listing, const char *name)
{
  for (const char *p = listing; p && *p;)
    {
      size_t n = strcspn (p, "\n");
      const char *q = p;
      size_t m = n;
      if (m >= 2 && strncmp (q, "./", 2) == 0)
        q += 2, m -= 2;
      if (m == strlen (name) && strncmp (q, name, m) == 0)
        return true;
      p += n + (p[n] == '\n');
    }
  return false;
}

int
sbx_image_rootfs (const struct sbx_config *cfg, const char *image, char **rootfs, sbx_err *err)
{
  const char *cache = sbx_image_cache_dir (cfg);
  cleanup_free char *tmp = NULL, *layout = NULL, *final = NULL, *listing = NULL;
  char key[128], digest[128], hex[65], path[PATH_MAX];
  struct stat st;
  enum { ROOTFS_TAR, LAYOUT_DIR, LAYOUT_TAR } kind;
  int rc = -1;

  if (stat (image, &st) < 0)
    return sbx_fail (err, errno, "%s", image);
  if (S_ISDIR (st.st_mode))
    {
      snprintf (path, sizeof path, "%s/oci-layout", image);
      if (access (path, F_OK) < 0)
        return sbx_fail (err, EINVAL, "%s: a directory without oci-layout is not an OCI image layout", image);
      kind = LAYOUT_DIR;
    }
  else if (S_ISREG (st.st_mode))
    {
      char *argv[] = { "tar", "-t", "-f", (char *) image, NULL };
      if (run_tar (argv, NULL, &listing, err) < 0)
        return sbx_wrap (err, "%s is neither an OCI image layout nor a tarball", image);
      kind = listing_has (listing, "oci-layout") && listing_has (listing, "index.json") ? LAYOUT_TAR : ROOTFS_TAR;
    }
  else
    return sbx_fail (err, EINVAL, "%s: not a file or directory", image);

  if (mkdir (cache, 0711) < 0 && errno != EEXIST)
    {
      /* Its parent (/var/cache/sbx) may be missing on a fresh host. */
      cleanup_free char *parent = strdup (cache);
      if (parent == NULL || (mkdir (dirname (parent), 0755) < 0 && errno != EEXIST)
          || (mkdir (cache, 0711) < 0 && errno != EEXIST))
        return sbx_fail (err, errno, "create image cache %s", cache);
    }
  if (asprintf (&tmp, "%s/.tmp-XXXXXX", cache) < 0 || mkdtemp (tmp) == NULL)
    return sbx_fail (err, errno, "create a directory in %s", cache);
  chmod (tmp, 0711);

  if (kind == ROOTFS_TAR)
    {
      if (sbx_sha256_file (image, hex, err) < 0)
        goto out;
      snprintf (key, sizeof key, "rootfs-%s", hex);
    }
  else
    {
      if (kind == LAYOUT_TAR)
        {
          /* Only the layout's small files and blobs, confined to a scratch directory. */
          if (asprintf (&layout, "%s/layout", tmp) < 0 || mkdir (layout, 0700) < 0
              || extract (image, layout, false, err) < 0)
            {
              if (layout && err->msg[0] == '\0')
                sbx_fail (err, errno, "unpack %s", image);
              goto out;
            }
        }
      else if ((layout = strdup (image)) == NULL)
        goto out;
      if (pick_manifest (layout, digest, sizeof digest, err) < 0)
        goto out;
      snprintf (key, sizeof key, "oci-%s", digest_hex (digest));
    }

  if (asprintf (&final, "%s/%s", cache, key) < 0)
    goto out;
  snprintf (path, sizeof path, "%s/rootfs", final);
  if (access (path, F_OK) == 0)
    {
      sbx_log (SBX_DEBUG, "image %s: cached as %s", image, final);
      rc = 0;
      goto out;
    }
  snprintf (path, sizeof path, "%s/rootfs", tmp);
  if (mkdir (path, 0755) < 0)
    {
      sbx_fail (err, errno, "create %s", path);
      goto out;
    }
  if ((kind == ROOTFS_TAR ? extract (image, path, false, err) : unpack_layout (layout, digest, path, err)) < 0)
    goto out;
  if (kind == LAYOUT_TAR)
    sbx_run_dir_remove (layout, NULL);
  /* Published whole or not at all; another sbx that unpacked the same image first wins. */
  if (rename (tmp, final) < 0 && errno != EEXIST && errno != ENOTEMPTY)
    {
      sbx_fail (err, errno, "publish %s in the image cache", final);
      goto out;
    }
  sbx_log (SBX_DEBUG, "image %s: unpacked into %s", image, final);
  rc = 0;
out:
  if (tmp)
    sbx_run_dir_remove (tmp, NULL);
  if (rc == 0)
    {
      if (asprintf (rootfs, "%s/rootfs", final) < 0)
        return sbx_fail (err, ENOMEM, "image cache path");
    }
  else if (err->msg[0] == '\0')
    sbx_fail (err, errno ? errno : EIO, "unpack %s", image);
  return rc;
}

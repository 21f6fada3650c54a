/* cmd_install.c - `sbx install|uninstall ENGINE`: add sbx-runtime to an engine's configuration, and take it out. */
/* The user's settings are never rewritten: docker's daemon.json gets a JSON merge (with a byte-exact backup),
   podman and CRI-O get a drop-in file of their own, and containerd's config.toml gets one marked block at its end
   (containerd 1.6 replaces a whole plugin section with an imported one, so a drop-in through `imports` would wipe
   the user's CRI settings).  Uninstall removes exactly what install added and restores the backup when the rest
   of the file is unchanged. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/error.h"
#include "../common/util.h"
#include "../oci/json.h"
#include "../policy/policy.h"
#include "cmd_install.h"
#include "install.h"

/* ---- files ---------------------------------------------------------------------------------------------------- */

/* Read PATH; a missing file is not an error (*EXISTS false, *OUT ""). */
int
install_read (const char *path, char **out, size_t *len, bool *exists, mode_t *mode, sbx_err *err)
{
  struct stat st;

  *exists = false;
  *mode = 0644;
  if (sbx_read_file (path, CONFIG_MAX, out, len, err) == 0)
    {
      *exists = true;
      if (stat (path, &st) == 0)
        *mode = st.st_mode & 07777;
      return 0;
    }
  if (err->code != ENOENT)
    return -1;
  *out = strdup ("");
  *len = 0;
  return *out ? 0 : sbx_fail (err, ENOMEM, "read %s", path);
}

int
install_write (const char *path, const char *data, mode_t mode, sbx_err *err)
{
  cleanup_free char *copy = strdup (path), *copy2 = strdup (path);
  cleanup_close int dirfd = -1;

  if (copy == NULL || copy2 == NULL)
    return sbx_fail (err, ENOMEM, "write %s", path);
  dirfd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return sbx_fail (err, errno, "open the directory of %s", path);
  if (sbx_write_atomic (dirfd, basename (copy2), data, strlen (data), mode, (uid_t) -1, (gid_t) -1, err) < 0)
    return sbx_wrap (err, "write %s", path);
  return 0;
}

int
install_remove (const char *path, sbx_err *err)
{
  if (unlink (path) < 0 && errno != ENOENT)
    return sbx_fail (err, errno, "remove %s", path);
  return 0;
}

char *
install_asprintf (const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    s = NULL;
  va_end (ap);
  return s;
}

/* Keep the first backup: after a re-install it is still the user's own file. */
int
install_backup (const char *path, const char *original, mode_t mode, const char **backup, sbx_err *err)
{
  static char buf[4096];

  snprintf (buf, sizeof buf, "%s" BACKUP_SUFFIX, path);
  *backup = buf;
  if (access (buf, F_OK) == 0)
    return 0;
  return install_write (buf, original, mode, err);
}

/* ---- drop-in files (podman, CRI-O) ---------------------------------------------------------------------------- */

/* The runtime names in the first uncommented `runtime_supports_json = [...]` line of TEXT, appended to LIST. */
static void
supports_json_from (const char *text, char *list, size_t size)
{
  const char *line = text;

  while (line && *line)
    {
      const char *p = line + strspn (line, " \t"), *end = strchr (line, '\n');
      if (strncmp (p, "runtime_supports_json", 21) == 0 && (p = strchr (p, '[')) != NULL)
        {
          while ((p = strchr (p, '"')) != NULL && (end == NULL || p < end))
            {
              const char *q = strchr (p + 1, '"');
              char name[64];
              if (q == NULL || q - p - 1 >= (long) sizeof name)
                break;
              snprintf (name, sizeof name, "\"%.*s\"", (int) (q - p - 1), p + 1);
              if (strstr (list, name) == NULL)
                {
                  strncat (list, ", ", size - strlen (list) - 1);
                  strncat (list, name, size - strlen (list) - 1);
                }
              p = q + 1;
            }
          return;
        }
      line = end ? end + 1 : NULL;
    }
}

/* DIR/FILE for the engine's drop-in, next to its main configuration file. */
static char *
dropin_path (const struct opts *o, const char *subdir, char **dir)
{
  cleanup_free char *copy = strdup (o->config);

  if (copy == NULL)
    return NULL;
  *dir = install_asprintf ("%s/%s", dirname (copy), subdir);
  return *dir ? install_asprintf ("%s/50-%s.conf", *dir, o->name) : NULL;
}

static char *
dropin_content (const struct opts *o, bool created_dir)
{
  const char *head = created_dir ? DROPIN_DIR_MARK "\n" : "";

  if (strcmp (o->engine, "podman") == 0)
    {
      cleanup_free char *text = NULL;
      char list[1024];
      size_t len;
      bool exists;
      mode_t mode;
      sbx_err err;

      /* A drop-in's array replaces the one before it: keep every runtime the user (or the default) listed. */
      snprintf (list, sizeof list, "\"crun\", \"runc\", \"kata\", \"runsc\", \"krun\"");
      if (install_read (o->config, &text, &len, &exists, &mode, &err) == 0)
        supports_json_from (text, list, sizeof list);
      snprintf (list + strlen (list), sizeof list - strlen (list), ", \"%s\"", o->name);
      return install_asprintf (DROPIN_MARK " podman` (undo: sbx uninstall podman).\n%s"
                        "[engine]\nruntime_supports_json = [%s]\n\n"
                        "[engine.runtimes]\n%s = [\"%s\"]\n",
                        head, list, o->name, o->runtime);
    }
  return install_asprintf (DROPIN_MARK " crio` (undo: sbx uninstall crio).\n%s"
                    "[crio.runtime.runtimes.%s]\nruntime_path = \"%s\"\nruntime_type = \"oci\"\n"
                    "runtime_root = \"/run/sbx/runc\"\n"
                    "allowed_annotations = [" SBX_TENANT_ANNOTATIONS_TOML "]\n",
                    head, o->name, o->runtime);
}

static int
dropin_install (const struct opts *o, const char *subdir, const char *next, sbx_err *err)
{
  cleanup_free char *dir = NULL, *path = dropin_path (o, subdir, &dir), *content = NULL, *old = NULL;
  struct stat st;
  size_t len;
  bool exists, created_dir;
  mode_t mode;

  if (path == NULL)
    return sbx_fail (err, ENOMEM, "install %s", o->engine);
  created_dir = stat (dir, &st) < 0;
  if (install_read (path, &old, &len, &exists, &mode, err) < 0)
    return -1;
  if (exists && strncmp (old, DROPIN_MARK, strlen (DROPIN_MARK)) != 0)
    return sbx_fail (err, 0, "%s exists and was not written by sbx install; not touching it", path);
  if (exists)
    created_dir = strstr (old, DROPIN_DIR_MARK) != NULL;
  content = dropin_content (o, created_dir);
  if (content == NULL)
    return sbx_fail (err, ENOMEM, "install %s", o->engine);
  if (exists && strcmp (old, content) == 0)
    {
      printf ("sbx install %s: %s is already in place; nothing to do\n", o->engine, path);
      return 0;
    }
  printf ("sbx install %s: %s drop-in %s (runtime \"%s\" = %s)\n", o->engine, o->dry_run ? "would write" : "wrote",
          path, o->name, o->runtime);
  if (o->dry_run)
    {
      printf ("--- %s (not written: --dry-run) ---\n%s", path, content);
      return 0;
    }
  if (created_dir && mkdir (dir, 0755) < 0 && errno != EEXIST)
    return sbx_fail (err, errno, "create %s", dir);
  if (install_write (path, content, 0644, err) < 0)
    return -1;
  printf ("  the engine's own files are unchanged\n  next: %s\n  undo: sbx uninstall %s\n", next, o->engine);
  return 0;
}

static int
dropin_uninstall (const struct opts *o, const char *subdir, sbx_err *err)
{
  cleanup_free char *dir = NULL, *path = dropin_path (o, subdir, &dir), *old = NULL;
  size_t len;
  bool exists;
  mode_t mode;

  if (path == NULL)
    return sbx_fail (err, ENOMEM, "uninstall %s", o->engine);
  if (install_read (path, &old, &len, &exists, &mode, err) < 0)
    return -1;
  if (!exists)
    {
      printf ("sbx uninstall %s: %s does not exist; nothing to undo\n", o->engine, path);
      return 0;
    }
  if (strncmp (old, DROPIN_MARK, strlen (DROPIN_MARK)) != 0)
    return sbx_fail (err, 0, "%s was not written by sbx install; not removing it", path);
  printf ("sbx uninstall %s: %s %s\n", o->engine, o->dry_run ? "would remove" : "removed", path);
  if (o->dry_run)
    return 0;
  if (install_remove (path, err) < 0)
    return -1;
  if (strstr (old, DROPIN_DIR_MARK) != NULL && rmdir (dir) == 0)
    printf ("  removed %s (install had created it)\n", dir);
  return 0;
}

/* ---- containerd: one marked block at the end of config.toml ------------------------------------------------- */

/* The config schema version containerd will read TEXT as (1 when the file does not say). */
static int
toml_version (const char *text)
{
  for (const char *line = text; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    {
      const char *p = line + strspn (line, " \t");
      if (*p == '[')
        break; /* top-level keys come before the first table */
      if (strncmp (p, "version", 7) == 0)
        {
          p += 7 + strspn (p + 7, " \t");
          if (*p == '=')
            return atoi (p + 1 + strspn (p + 1, " \t"));
        }
    }
  return 1;
}

static char *
containerd_block (const struct opts *o, int version)
{
  const char *plugin = version >= 3   ? "plugins.\"io.containerd.cri.v1.runtime\""
                       : version == 2 ? "plugins.\"io.containerd.grpc.v1.cri\""
                                      : "plugins.cri";

  return install_asprintf (BLOCK_BEGIN ": added by `sbx install containerd` (undo: sbx uninstall containerd)\n"
                    "[%s.containerd.runtimes.%s]\n"
                    "  runtime_type = \"io.containerd.runc.v2\"\n"
                    /* Only what a tenant may set: sbx's own records (run.sbx.seccomp, run.sbx.runtime-log...)
                       are never passed from a pod, and the rest is gated by sbx.json (policy/tenant.c). */
                    "  pod_annotations = [" SBX_TENANT_ANNOTATIONS_TOML "]\n"
                    "  container_annotations = [" SBX_TENANT_ANNOTATIONS_TOML "]\n"
                    "  [%s.containerd.runtimes.%s.options]\n"
                    "    BinaryName = \"%s\"\n" BLOCK_END,
                    plugin, o->name, plugin, o->name, o->runtime);
}

/* Where our block starts and ends, or -1. */
static int
find_block (const char *text, size_t *start, size_t *end)
{
  const char *b = strstr (text, "\n" BLOCK_BEGIN), *e;

  /* The newline before BLOCK_BEGIN is the blank line install put in front of the block. */
  if (b == NULL && strncmp (text, BLOCK_BEGIN, strlen (BLOCK_BEGIN)) == 0)
    b = text;
  if (b == NULL || (e = strstr (b, BLOCK_END)) == NULL)
    return -1;
  *start = b - text;
  *end = e + strlen (BLOCK_END) - text;
  return 0;
}

static int
containerd_install (const struct opts *o, sbx_err *err)
{
  cleanup_free char *text = NULL, *block = NULL, *header = NULL, *updated = NULL;
  const char *backup = NULL;
  size_t len, start, end;
  bool exists;
  mode_t mode;
  int version;

  if (install_read (o->config, &text, &len, &exists, &mode, err) < 0)
    return -1;
  /* No file means containerd's defaults, which are schema 2. */
  version = exists && len > 0 ? toml_version (text) : 2;
  block = containerd_block (o, version);
  header = install_asprintf ("containerd.runtimes.%s]", o->name);
  if (block == NULL || header == NULL)
    return sbx_fail (err, ENOMEM, "install containerd");
  if (find_block (text, &start, &end) == 0)
    {
      if (strncmp (text + start + strspn (text + start, "\n"), block, strlen (block)) == 0)
        {
          printf ("sbx install containerd: %s already has the sbx runtime; nothing to do\n", o->config);
          return 0;
        }
      return sbx_fail (err, 0, "%s has an older sbx block; run sbx uninstall containerd first", o->config);
    }
  if (strstr (text, header) != NULL)
    return sbx_fail (err, 0, "%s already defines a runtime named \"%s\"; remove it or pick --name", o->config,
                     o->name);
  updated = install_asprintf ("%s%s%s\n%s", text, len > 0 && text[len - 1] != '\n' ? "\n" : "",
                       exists && len > 0 ? "" : "version = 2\n", block);
  if (updated == NULL)
    return sbx_fail (err, ENOMEM, "install containerd");
  printf ("sbx install containerd: %s %s: runtime handler \"%s\" (io.containerd.runc.v2, BinaryName = %s)\n",
          o->dry_run ? "would append to" : "appended to", o->config, o->name, o->runtime);
  if (o->dry_run)
    {
      printf ("--- appended block (not written: --dry-run) ---\n%s", block);
      return 0;
    }
  if (exists && install_backup (o->config, text, mode, &backup, err) < 0)
    return -1;
  if (install_write (o->config, updated, mode, err) < 0)
    return -1;
  if (backup)
    printf ("  previous file saved as %s\n", backup);
  printf ("  next: restart containerd, then pods with a RuntimeClass whose handler is \"%s\" run under sbx\n"
          "  undo: sbx uninstall containerd\n",
          o->name);
  return 0;
}

static int
containerd_uninstall (const struct opts *o, sbx_err *err)
{
  cleanup_free char *text = NULL, *btext = NULL, *bpath = install_asprintf ("%s" BACKUP_SUFFIX, o->config);
  size_t len, blen, start, end;
  bool exists, bexists;
  mode_t mode, bmode;

  if (bpath == NULL)
    return sbx_fail (err, ENOMEM, "uninstall containerd");
  if (install_read (o->config, &text, &len, &exists, &mode, err) < 0
      || install_read (bpath, &btext, &blen, &bexists, &bmode, err) < 0)
    return -1;
  if (!exists || find_block (text, &start, &end) < 0)
    {
      printf ("sbx uninstall containerd: %s has no sbx block; nothing to undo\n", o->config);
      return 0;
    }
  memmove (text + start, text + end, len - end + 1);
  printf ("sbx uninstall containerd: %s %s: the sbx runtime block\n", o->dry_run ? "would remove from" : "removed from",
          o->config);
  if (o->dry_run)
    return 0;
  len = strlen (text);
  /* Install may have added one newline to a file that lacked a final one, or created the file. */
  if (bexists && (strcmp (text, btext) == 0 || (len == blen + 1 && strncmp (text, btext, blen) == 0)))
    {
      if (install_write (o->config, btext, bmode, err) < 0 || install_remove (bpath, err) < 0)
        return -1;
      printf ("  restored %s from %s\n", o->config, bpath);
    }
  else if (!bexists && strcmp (text, "version = 2\n") == 0)
    {
      if (install_remove (o->config, err) < 0)
        return -1;
      printf ("  removed %s (install had created it)\n", o->config);
    }
  else
    {
      if (install_write (o->config, text, mode, err) < 0 || (bexists && install_remove (bpath, err) < 0))
        return -1;
      if (bexists)
        printf ("  the file changed since install; kept those changes and removed %s\n", bpath);
    }
  printf ("  next: restart containerd\n");
  return 0;
}

/* ---- command line ----------------------------------------------------------------------------------------------- */

static const struct engine
{
  const char *name;
  const char *config; /* default main configuration file, under --root */
} engines[] = {
  { "docker", "/etc/docker/daemon.json" },
  { "podman", "/etc/containers/containers.conf" },
  { "containerd", "/etc/containerd/config.toml" },
  { "crio", "/etc/crio/crio.conf" },
};

static int
usage (FILE *out, const char *cmd)
{
  fprintf (out,
           "usage: sbx %s [--dry-run] [--root DIR] [--config FILE] [--runtime-path PATH] [--name NAME] ENGINE\n"
           "ENGINE: docker | podman | containerd | crio\n"
           "  --dry-run         print what would change, write nothing\n"
           "  --root DIR        act on the engine's files under DIR (e.g. /host from a node-installer pod)\n"
           "  --config FILE     the engine's main configuration file (default: its standard path under --root)\n"
           "  --runtime-path P  sbx-runtime as the engine sees it (default: next to this sbx, else "
           "/usr/local/bin/sbx-runtime)\n"
           "  --name NAME       the runtime / handler name (default: sbx)\n",
           cmd);
  return out == stdout ? 0 : 2;
}

/* sbx-runtime next to this sbx binary, else the install default. */
static const char *
default_runtime (void)
{
  static char path[4096];
  ssize_t n = readlink ("/proc/self/exe", path, sizeof path - 32);

  if (n > 0)
    {
      path[n] = '\0';
      char *slash = strrchr (path, '/');
      if (slash != NULL)
        {
          strcpy (slash + 1, "sbx-runtime");
          if (access (path, X_OK) == 0)
            return path;
        }
    }
  return "/usr/local/bin/sbx-runtime";
}

/* A config that is a symlink (config management often links it) is edited where it lives: replacing the link by
   a file would cut it off from its source.  Absolute targets are read inside ROOT, as the host sees them. */
static char *
follow_links (char *path, const char *root)
{
  for (int hops = 0; hops < 8; hops++)
    {
      char target[4096], *next, *copy;
      ssize_t n = readlink (path, target, sizeof target - 1);

      if (n <= 0)
        return path;
      target[n] = '\0';
      copy = strdup (path);
      next = copy == NULL ? NULL
             : target[0] == '/' ? install_asprintf ("%s%s", root, target)
                                : install_asprintf ("%s/%s", dirname (copy), target);
      free (copy);
      free (path);
      if (next == NULL)
        return NULL;
      path = next;
    }
  return path;
}

static int
run (int argc, char **argv, bool uninstall)
{
  static const struct option longopts[] = {
    { "dry-run", no_argument, NULL, 'n' },      { "root", required_argument, NULL, 'r' },
    { "config", required_argument, NULL, 'c' }, { "runtime-path", required_argument, NULL, 'p' },
    { "name", required_argument, NULL, 'N' },   { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct opts o = { .uninstall = uninstall, .name = "sbx" };
  const char *root = "", *config = NULL, *cmd = uninstall ? "uninstall" : "install";
  const struct engine *e = NULL;
  sbx_err err = { 0 };
  int c, ret;

  optind = 1;
  while ((c = getopt_long (argc, argv, "nr:c:p:N:h", longopts, NULL)) != -1)
    switch (c)
      {
      case 'n': o.dry_run = true; break;
      case 'r': root = optarg; break;
      case 'c': config = optarg; break;
      case 'p': o.runtime = optarg; break;
      case 'N': o.name = optarg; break;
      case 'h': return usage (stdout, cmd);
      default: return usage (stderr, cmd);
      }
  if (optind + 1 != argc)
    return usage (stderr, cmd);
  for (size_t i = 0; i < SBX_ARRAY_SIZE (engines); i++)
    if (strcmp (argv[optind], engines[i].name) == 0 || (strcmp (argv[optind], "cri-o") == 0 && i == 3))
      e = &engines[i];
  if (e == NULL)
    {
      fprintf (stderr, "sbx %s: unknown engine '%s' (docker, podman, containerd, crio)\n", cmd, argv[optind]);
      return 2;
    }
  if (o.runtime == NULL)
    o.runtime = default_runtime ();
  if (o.runtime[0] != '/' || strpbrk (o.runtime, "\"\\\n") || strpbrk (o.name, "\"\\\n]. ") || !*o.name)
    {
      fprintf (stderr, "sbx %s: --runtime-path must be an absolute path and --name a plain name\n", cmd);
      return 2;
    }
  o.engine = e->name;
  o.config = config ? strdup (config) : install_asprintf ("%s%s", root, e->config);
  if (o.config == NULL)
    return 1;
  o.config = follow_links (o.config, root);
  if (o.config == NULL)
    return 1;

  if (strcmp (e->name, "docker") == 0)
    ret = uninstall ? sbx_docker_uninstall (&o, &err) : sbx_docker_install (&o, &err);
  else if (strcmp (e->name, "containerd") == 0)
    ret = uninstall ? containerd_uninstall (&o, &err) : containerd_install (&o, &err);
  else if (strcmp (e->name, "podman") == 0)
    ret = uninstall ? dropin_uninstall (&o, "containers.conf.d", &err)
                    : dropin_install (&o, "containers.conf.d",
                                      "nothing to restart; use it with: podman --runtime sbx run ...", &err);
  else
    ret = uninstall ? dropin_uninstall (&o, "crio.conf.d", &err)
                    : dropin_install (&o, "crio.conf.d",
                                      "restart CRI-O (e.g. systemctl restart crio); RuntimeClass handler: sbx", &err);
  free (o.config);
  if (ret < 0)
    {
      fprintf (stderr, "sbx %s %s: %s\n", cmd, e->name, err.msg);
      return 1;
    }
  return 0;
}

int
sbx_cmd_install (int argc, char **argv)
{
  return run (argc, argv, false);
}

int
sbx_cmd_uninstall (int argc, char **argv)
{
  return run (argc, argv, true);
}

/* config.c - loading /etc/sbx/sbx.json. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int
sbx_read_owned (int dirfd, const char *name, const char *what, size_t max, char **out, size_t *len, sbx_err *err)
{
  /* O_NOFOLLOW: a symlink could point anywhere; O_NONBLOCK: opening a FIFO must not wait for a writer. */
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  struct stat st;

  if (fd < 0)
    return sbx_fail (err, errno, "open %s", what);
  if (fstat (fd, &st) < 0)
    return sbx_fail (err, errno, "stat %s", what);
  if (!S_ISREG (st.st_mode))
    return sbx_fail (err, EINVAL, "%s: not a regular file", what);
  if (st.st_uid != 0 && st.st_uid != getuid ())
    return sbx_fail (err, EPERM, "%s: owned by uid %u, not by root%s", what, (unsigned) st.st_uid,
                     getuid () ? " or the calling user" : "");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return sbx_fail (err, EPERM, "%s: writable by group or others (mode %04o)", what, st.st_mode & 07777);
  if ((size_t) st.st_size > max)
    return sbx_fail (err, EFBIG, "%s: larger than %zu bytes", what, max);
  return sbx_read_fd (fd, max, what, out, len, err);
}

int
sbx_config_load (struct sbx_config *cfg, sbx_err *err)
{
  const char *path = getenv ("SBX_CONFIG");
  cleanup_free char *buf = NULL;
  size_t len;

  cfg->root = NULL;
  if (path == NULL || *path == '\0')
    path = SBX_CONFIG_DEFAULT;
  /* Whoever can write the file decides what tenants may loosen: root (or the calling user's own) alone. */
  if (sbx_read_owned (AT_FDCWD, path, path, 1 << 20, &buf, &len, err) < 0)
    {
      if (err->code == ENOENT)
        return 0;
      return -1;
    }
  if (json_parse (buf, len, path, &cfg->root, err) < 0)
    return -1;
  if (sbx_settings_check (cfg->root, path, err) < 0)
    {
      json_free (cfg->root);
      cfg->root = NULL;
      return -1;
    }
  return 0;
}

void
sbx_config_free (struct sbx_config *cfg)
{
  json_free (cfg->root);
  cfg->root = NULL;
}

const json_t *
sbx_config_lookup (const struct sbx_config *cfg, const char *path)
{
  const json_t *v = cfg ? cfg->root : NULL;
  char key[128];

  while (v && *path)
    {
      size_t n = strcspn (path, ".");
      if (n >= sizeof key)
        return NULL;
      memcpy (key, path, n);
      key[n] = '\0';
      v = json_find (v, key);
      path += n + (path[n] == '.');
    }
  return v;
}

/* The table's default of PATH, when it has one. */
static const char *
table_default (const char *path)
{
  const struct sbx_setting *s = sbx_setting_find (path);
  return s ? s->def : NULL;
}

const char *
sbx_config_str (const struct sbx_config *cfg, const char *path, const char *def)
{
  const char *s = json_str (sbx_config_lookup (cfg, path));
  return s ? s : table_default (path) ? table_default (path) : def;
}

bool
sbx_config_bool (const struct sbx_config *cfg, const char *path, bool def)
{
  const json_t *v = sbx_config_lookup (cfg, path);
  const char *d = table_default (path);

  if (json_is (v, JSON_BOOL))
    return json_is_true (v);
  return d ? strcmp (d, "true") == 0 : def;
}

long long
sbx_config_int (const struct sbx_config *cfg, const char *path, long long def)
{
  const char *d = table_default (path);
  long long n;

  if (json_num_int (sbx_config_lookup (cfg, path), &n))
    return n;
  return d ? strtoll (d, NULL, 10) : def;
}

const char *
sbx_state_dir (const struct sbx_config *cfg)
{
  const char *d = getenv ("SBX_STATE_DIR");
  return d && *d ? d : sbx_config_str (cfg, "state_dir", SBX_STATE_DIR_DEFAULT);
}

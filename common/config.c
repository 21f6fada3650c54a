/* config.c - loading /etc/sbx/sbx.json. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int
sbx_config_load (struct sbx_config *cfg, sbx_err *err)
{
  const char *path = getenv ("SBX_CONFIG");
  cleanup_free char *buf = NULL;
  size_t len;

  cfg->root = NULL;
  if (path == NULL || *path == '\0')
    path = SBX_CONFIG_DEFAULT;
  if (sbx_read_file (path, 1 << 20, &buf, &len, err) < 0)
    {
      if (err->code == ENOENT)
        return 0;
      return -1;
    }
  if (json_parse (buf, len, path, &cfg->root, err) < 0)
    return -1;
  if (!json_is (cfg->root, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "%s: not a JSON object", path);
  return 0;
}

void
sbx_config_free (struct sbx_config *cfg)
{
  json_free (cfg->root);
  cfg->root = NULL;
}

static const json_t *
lookup (const struct sbx_config *cfg, const char *path)
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

const char *
sbx_config_str (const struct sbx_config *cfg, const char *path, const char *def)
{
  const char *s = json_str (lookup (cfg, path));
  return s ? s : def;
}

bool
sbx_config_bool (const struct sbx_config *cfg, const char *path, bool def)
{
  const json_t *v = lookup (cfg, path);
  return json_is (v, JSON_BOOL) ? json_is_true (v) : def;
}

long long
sbx_config_int (const struct sbx_config *cfg, const char *path, long long def)
{
  long long n;
  return json_num_int (lookup (cfg, path), &n) ? n : def;
}

const char *
sbx_state_dir (const struct sbx_config *cfg)
{
  const char *d = getenv ("SBX_STATE_DIR");
  return d && *d ? d : sbx_config_str (cfg, "state_dir", SBX_STATE_DIR_DEFAULT);
}

/* config.h - sbx's own settings, /etc/sbx/sbx.json (SBX_CONFIG overrides the path). */
#ifndef SBX_CONFIG_H
#define SBX_CONFIG_H

#include <stdbool.h>

#include "../oci/json.h"

#define SBX_CONFIG_DEFAULT "/etc/sbx/sbx.json"
#define SBX_STATE_DIR_DEFAULT "/run/sbx"

struct sbx_config
{
  json_t *root; /* NULL when there is no config file: every setting takes its default */
};

/* A missing file is not an error; an unreadable or malformed one is (sbx refuses to guess its settings). */
int sbx_config_load (struct sbx_config *cfg, sbx_err *err);
void sbx_config_free (struct sbx_config *cfg);
/* The string at a dotted PATH ("watcher.socket"), or DEF. */
const char *sbx_config_str (const struct sbx_config *cfg, const char *path, const char *def);
bool sbx_config_bool (const struct sbx_config *cfg, const char *path, bool def);
long long sbx_config_int (const struct sbx_config *cfg, const char *path, long long def);
/* The state directory: SBX_STATE_DIR, then "state_dir", then /run/sbx. */
const char *sbx_state_dir (const struct sbx_config *cfg);

#endif

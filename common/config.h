/* config.h - sbx's own settings, /etc/sbx/sbx.json (SBX_CONFIG overrides the path). */
#ifndef SBX_CONFIG_H
#define SBX_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "../oci/json.h"

#define SBX_CONFIG_DEFAULT "/etc/sbx/sbx.json"
#define SBX_STATE_DIR_DEFAULT "/run/sbx"

struct sbx_config
{
  json_t *root; /* NULL when there is no config file: every setting takes its default */
};

/* Every setting, one table (common/settings.c): the file is checked against it when loaded, defaults come from it,
   `sbx doctor` prints it and docs/settings.md is checked against it (tests/test_config.c). */
enum sbx_cfg_type
{
  SBX_CFG_STR,
  SBX_CFG_BOOL,
  SBX_CFG_INT,
  SBX_CFG_STRLIST, /* an array of strings */
};
struct sbx_setting
{
  const char *key;     /* dotted; a segment "*" stands for any name */
  enum sbx_cfg_type type;
  const char *def;     /* the default as JSON text, or NULL: none, or computed (DEF_DOC says how) */
  const char *def_doc; /* for people, when DEF is NULL */
  const char *meaning;
};
extern const struct sbx_setting sbx_settings[]; /* ends with a NULL key */
const struct sbx_setting *sbx_setting_find (const char *key);
/* Unknown keys and values of the wrong type are errors naming the key. */
int sbx_settings_check (const json_t *root, const char *file, sbx_err *err);
/* Every setting with its effective value, one a line. */
void sbx_settings_print (const struct sbx_config *cfg, FILE *out, const char *indent);

/* A missing file is not an error; an unreadable or malformed one is, and so is a key not in the table or a value of
   the wrong type (a typo must not silently leave a protection at its default). */
int sbx_config_load (struct sbx_config *cfg, sbx_err *err);
void sbx_config_free (struct sbx_config *cfg);
/* The value at a dotted PATH ("watcher.socket"); when absent, the table's default, or DEF when the table has none
   (a computed default). */
const char *sbx_config_str (const struct sbx_config *cfg, const char *path, const char *def);
bool sbx_config_bool (const struct sbx_config *cfg, const char *path, bool def);
long long sbx_config_int (const struct sbx_config *cfg, const char *path, long long def);
/* The raw value at PATH, or NULL. */
const json_t *sbx_config_lookup (const struct sbx_config *cfg, const char *path);
/* Read NAME (relative to DIRFD) as a file someone named for sbx to trust: never through a symlink, never
   blocking on a FIFO; a regular file owned by root or the calling user, not writable by group or others, at most
   MAX bytes.  Errors name WHAT, never the contents. */
int sbx_read_owned (int dirfd, const char *name, const char *what, size_t max, char **out, size_t *len,
                    sbx_err *err);
/* The state directory: SBX_STATE_DIR, then "state_dir", then /run/sbx. */
const char *sbx_state_dir (const struct sbx_config *cfg);

#endif

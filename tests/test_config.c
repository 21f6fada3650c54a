/* test_config.c - sbx.json against the one settings table: typos and wrong types refused by name, defaults from
   the table, the docs and every reader in the source agreeing with it. */
#define _GNU_SOURCE
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/util.h"
#include "tap.h"

static char dir[] = "/tmp/sbx-test-config-XXXXXX";

/* Write TEXT as the config file (mode MODE) and load it. */
static int
load (const char *text, mode_t mode, struct sbx_config *cfg, sbx_err *err)
{
  char path[256];
  FILE *f;

  snprintf (path, sizeof path, "%s/sbx.json", dir);
  unlink (path);
  f = fopen (path, "w");
  if (f == NULL)
    return -1;
  fputs (text, f);
  fclose (f);
  chmod (path, mode);
  setenv ("SBX_CONFIG", path, 1);
  memset (err, 0, sizeof *err);
  memset (cfg, 0, sizeof *cfg);
  return sbx_config_load (cfg, err);
}

static void
test_load (void)
{
  struct sbx_config cfg;
  sbx_err err;

  tap_ok (load ("{\"watcher\": {\"fail_closd\": true}}", 0644, &cfg, &err) < 0 && err.code == EINVAL
              && strstr (err.msg, "unknown setting \"watcher.fail_closd\""),
          "a typo is refused, naming the key: %s", err.msg);
  tap_ok (load ("{\"watcher\": {\"fail_closed\": \"yes\"}}", 0644, &cfg, &err) < 0
              && strstr (err.msg, "\"watcher.fail_closed\" must be a boolean"),
          "a wrong type is refused, naming the key: %s", err.msg);
  tap_ok (load ("{\"pids_limit\": 1.5}", 0644, &cfg, &err) < 0 && strstr (err.msg, "\"pids_limit\" must be an integer"),
          "a fraction where an integer is due: %s", err.msg);
  tap_ok (load ("{\"watcher\": true}", 0644, &cfg, &err) < 0 && strstr (err.msg, "\"watcher\" must be an object"),
          "a section that is not an object: %s", err.msg);
  tap_ok (load ("{\"Watcher\": {}}", 0644, &cfg, &err) < 0 && strstr (err.msg, "\"Watcher\""),
          "keys are case-sensitive: %s", err.msg);
  tap_ok (load ("{\"tenants\": {\"namespaces\": {\"ops\": {\"allow_host_ns\": \"pid\", \"allow_profle\": true}}}}", 0644,
                &cfg, &err)
                  < 0
              && strstr (err.msg, "tenants.namespaces.ops.allow_profle"),
          "a typo under a namespace of one's choosing: %s", err.msg);
  tap_ok (load ("[]", 0644, &cfg, &err) < 0 && strstr (err.msg, "not a JSON object"), "not an object");
  tap_ok (load ("{\"profile\": \"strict\"}", 0666, &cfg, &err) < 0 && err.code == EPERM
              && strstr (err.msg, "writable by group or others"),
          "a config file others can write is refused: %s", err.msg);

  tap_ok (load ("{\"watcher\": {\"fail_closed\": true, \"idle_exit_s\": 5}, \"tenants\": {\"namespaces\": "
                "{\"ops\": {\"allow_nnp_optout\": true}}}, \"run\": {\"cgroup\": {\"memory\": \"1g\"}}}",
                0644, &cfg, &err)
              == 0,
          "valid settings load: %s", err.msg);
  tap_ok (sbx_config_bool (&cfg, "watcher.fail_closed", false) && sbx_config_int (&cfg, "watcher.idle_exit_s", 1) == 5,
          "and read back");
  /* Defaults come from the table, whatever a reader passes. */
  tap_ok (sbx_config_int (&cfg, "pids_limit", -1) == 4096 && sbx_config_bool (&cfg, "watcher.enabled", false)
              && strcmp (sbx_config_str (&cfg, "profile", "x"), "default") == 0,
          "absent settings take the table's default");
  tap_ok (strcmp (sbx_config_str (&cfg, "watcher.socket", "computed"), "computed") == 0,
          "a computed default is the reader's");
  {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&text, &len);
    sbx_settings_print (&cfg, f, "");
    fclose (f);
    tap_ok (text && strstr (text, "watcher.fail_closed") && strstr (text, "true\n")
                && strstr (text, "pids_limit") && strstr (text, "4096 (default)")
                && strstr (text, "tenants.namespaces.ops.allow_nnp_optout true"),
            "sbx doctor's settings: effective values, defaults marked, per-namespace ones listed");
    free (text);
  }
  sbx_config_free (&cfg);
  unsetenv ("SBX_CONFIG");
}

/* Every `| `key` | type | ... |` row of docs/settings.md is in the table with that type, and every key of the table
   has a row. */
static void
test_docs (void)
{
  static const char *const types[] = { [SBX_CFG_STR] = "string", [SBX_CFG_BOOL] = "bool", [SBX_CFG_INT] = "int",
                                       [SBX_CFG_STRLIST] = "strings" };
  cleanup_free char *doc = NULL;
  size_t len, nrows = 0, nkeys = 0;
  bool all = true;
  sbx_err err;

  if (sbx_read_file ("docs/settings.md", 1 << 20, &doc, &len, &err) < 0)
    {
      tap_ok (false, "docs/settings.md readable (run from the source tree): %s", err.msg);
      return;
    }
  for (char *line = strtok (doc, "\n"); line; line = strtok (NULL, "\n"))
    {
      char key[128], type[16];
      const struct sbx_setting *s;
      if (sscanf (line, "| `%127[^`]` | %15s |", key, type) != 2)
        continue;
      nrows++;
      s = sbx_setting_find (key);
      if (s == NULL || strcmp (s->key, key) != 0 || strcmp (types[s->type], type) != 0)
        {
          tap_ok (false, "docs/settings.md row %s (%s) is in the table with that type", key, type);
          all = false;
        }
    }
  for (const struct sbx_setting *s = sbx_settings; s->key; s++)
    nkeys++;
  tap_ok (all && nrows == nkeys, "docs/settings.md has a row for each of the table's %zu settings (%zu rows)", nkeys,
          nrows);
}

/* Every reader in the source, sbx_config_TYPE (cfg, "key", ...), names a key of the table, of that type. */
static void
scan_file (const char *path, regex_t *re, size_t *calls, bool *all)
{
  static const char *const types[] = { [SBX_CFG_STR] = "str", [SBX_CFG_BOOL] = "bool", [SBX_CFG_INT] = "int",
                                       [SBX_CFG_STRLIST] = "strings" };
  cleanup_free char *text = NULL;
  regmatch_t m[3];
  size_t len;
  sbx_err err;

  if (sbx_read_file (path, 1 << 22, &text, &len, &err) < 0)
    return;
  for (const char *p = text; regexec (re, p, 3, m, 0) == 0; p += m[0].rm_eo)
    {
      char type[8], key[128];
      const struct sbx_setting *s;
      snprintf (type, sizeof type, "%.*s", (int) (m[1].rm_eo - m[1].rm_so), p + m[1].rm_so);
      snprintf (key, sizeof key, "%.*s", (int) (m[2].rm_eo - m[2].rm_so), p + m[2].rm_so);
      (*calls)++;
      s = sbx_setting_find (key);
      if (s == NULL || strcmp (types[s->type], type) != 0)
        {
          tap_ok (false, "%s: sbx_config_%s (\"%s\") is a setting of the table with that type", path, type, key);
          *all = false;
        }
    }
}

static void
test_source (void)
{
  regex_t re;
  size_t calls = 0;
  bool all = true;
  FILE *ls;
  char path[512];

  if (regcomp (&re, "sbx_config_(str|bool|int) \\([^,;]+,[[:space:]]*\"([^\"]+)\"", REG_EXTENDED) != 0)
    return;
  ls = popen ("ls common/*.c oci/*.c policy/*.c profiles/*.c shim/*.c watcher/*.c sandbox/*.c bpf/*.c 2>/dev/null",
              "r");
  while (ls && fgets (path, sizeof path, ls))
    {
      path[strcspn (path, "\n")] = '\0';
      scan_file (path, &re, &calls, &all);
    }
  if (ls)
    pclose (ls);
  regfree (&re);
  tap_ok (all && calls > 30, "every one of the %zu settings read in the source is in the table", calls);
}

int
main (void)
{
  if (mkdtemp (dir) == NULL)
    return 1;
  test_load ();
  test_docs ();
  test_source ();
  {
    char p[300];
    snprintf (p, sizeof p, "%s/sbx.json", dir);
    unlink (p);
    rmdir (dir);
  }
  return tap_done ();
}

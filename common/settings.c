/* settings.c - the one table of sbx.json settings: it validates the file, gives each setting its default, and is
   what `sbx doctor` prints and docs/settings.md is checked against. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

/* DEF is the default as JSON would spell it (NULL: none, or computed by the caller as DEF_DOC says).  A key
   segment "*" stands for any name (tenants.namespaces.NAME...). */
const struct sbx_setting sbx_settings[] = {
  { "runtime", SBX_CFG_STR, NULL, "crun, then runc, in PATH", "the delegate: runc, crun or a path (after SBX_RUNTIME)" },
  { "state_dir", SBX_CFG_STR, "/run/sbx", NULL, "sbx's state: watcher socket, sandboxes (after SBX_STATE_DIR)" },
  { "bundle_sync", SBX_CFG_BOOL, "false", NULL, "fsync the hardened config.json before the rename" },
  { "profile", SBX_CFG_STR, "default", NULL,
    "the node's seccomp profile: a built-in name, a file in profiles_dir, or an absolute path" },
  { "profiles_dir", SBX_CFG_STR, "/etc/sbx/profiles", NULL,
    "profile files NAME.json (root-owned, not group/other-writable); after SBX_PROFILES_DIR" },
  { "seccomp_cache", SBX_CFG_STR, "/var/cache/sbx/seccomp", NULL, "compiled filters and the memo (\"off\": none)" },
  { "seccomp_memo", SBX_CFG_BOOL, "true", NULL, "reuse the seccomp stage's outcome for identical inputs" },
  { "pids_limit", SBX_CFG_INT, "4096", NULL, "pids limit given to containers whose engine set none (0: none)" },
  { "allow_mount_syscalls", SBX_CFG_BOOL, "false", NULL,
    "containers without a user namespace may mount (CSI node plugins, Docker-in-Docker)" },
  { "tenants.allow_profile", SBX_CFG_BOOL, "false", NULL,
    "run.sbx.profile may replace the node's profile (otherwise it is applied on top of it: only tightens)" },
  { "tenants.allow_nnp_optout", SBX_CFG_BOOL, "false", NULL, "run.sbx.no-new-privileges=false is honoured" },
  { "tenants.allow_host_ns", SBX_CFG_STR, "", NULL,
    "namespaces run.sbx.allow-host-ns may share with the host (e.g. \"pid,mount,cgroup\")" },
  { "tenants.namespace_annotation", SBX_CFG_STR, "io.kubernetes.cri.sandbox-namespace", NULL,
    "the annotation the engine sets to the pod's Kubernetes namespace (CRI-O: io.kubernetes.pod.namespace)" },
  { "tenants.namespaces.*.allow_profile", SBX_CFG_BOOL, "false", NULL, "tenants.allow_profile for pods of one namespace" },
  { "tenants.namespaces.*.allow_nnp_optout", SBX_CFG_BOOL, "false", NULL,
    "tenants.allow_nnp_optout for pods of one namespace" },
  { "tenants.namespaces.*.allow_host_ns", SBX_CFG_STR, "", NULL, "tenants.allow_host_ns for pods of one namespace" },
  { "watcher.enabled", SBX_CFG_BOOL, "true", NULL, "false: never use notify, plain EPERM" },
  { "watcher.socket", SBX_CFG_STR, NULL, "<state dir>/watcher.sock", "the listener (mode 0600)" },
  { "watcher.on_demand", SBX_CFG_BOOL, "true", NULL, "sbx-runtime starts a watcher when none answers" },
  { "watcher.fail_closed", SBX_CFG_BOOL, "false", NULL, "refuse to create a container when no watcher answers" },
  { "watcher.start_timeout_ms", SBX_CFG_INT, "2000", NULL, "how long create waits for an on-demand watcher" },
  { "watcher.binary", SBX_CFG_STR, NULL, "sbx next to sbx-runtime", "what runs the watcher" },
  { "watcher.mode", SBX_CFG_STR, "default", NULL, "default or syscalls" },
  { "watcher.log", SBX_CFG_STR, NULL, "<state dir>/watcher/watcher.log", "the daemon's own log (--daemon only)" },
  { "watcher.detach_cgroup", SBX_CFG_BOOL, "true", NULL, "an on-demand watcher leaves the engine's cgroups" },
  { "watcher.idle_exit_s", SBX_CFG_INT, "600", NULL, "an on-demand watcher exits after this long idle (0: never)" },
  { "watcher.reap_after_s", SBX_CFG_INT, "86400", NULL, "keep records of stopped containers this long" },
  { "journal.path", SBX_CFG_STR, "/var/log/sbx/events.jsonl", NULL, "the journal" },
  { "journal.max_bytes", SBX_CFG_INT, "10485760", NULL, "rotate the journal past this size" },
  { "journal.keep", SBX_CFG_INT, "3", NULL, "rotated journals kept" },
  { "journal.rate_per_s", SBX_CFG_INT, "100", NULL, "per container: events reported one by one per second (0: no limit)" },
  { "journal.burst", SBX_CFG_INT, "1000", NULL, "per container: burst above journal.rate_per_s" },
  { "journal.bytes_per_s", SBX_CFG_INT, "65536", NULL, "per container: journal bytes per second (0: no limit)" },
  { "journal.burst_bytes", SBX_CFG_INT, "1048576", NULL, "per container: burst above journal.bytes_per_s" },
  { "journal.container_share_percent", SBX_CFG_INT, "25", NULL,
    "per container: the most of the journal's kept bytes it may hold (0: no limit)" },
  { "metrics.textfile", SBX_CFG_STR, "", NULL, "node-exporter textfile the watcher rewrites (empty: none)" },
  { "bpf.enabled", SBX_CFG_BOOL, "true", NULL, "the watcher's BPF side" },
  { "bpf.pin_dir", SBX_CFG_STR, "/sys/fs/bpf/sbx", NULL, "where the BPF hooks are pinned" },
  { "containerd.binary", SBX_CFG_STR, "containerd", NULL, "what publishes events to containerd" },
  { "run.image_cache", SBX_CFG_STR, "/var/cache/sbx/images", NULL, "sbx run --image's cache (after SBX_IMAGE_CACHE)" },
  { "run.pids", SBX_CFG_INT, "1024", NULL, "sbx run's default pids limit" },
  { "run.userns.base", SBX_CFG_INT, "100000", NULL, "first host id of sbx run --userns" },
  { "run.cgroup.parent", SBX_CFG_STR, "sbx", NULL, "the cgroup every sbx run sandbox lives under" },
  { "run.cgroup.memory", SBX_CFG_STR, NULL, "no limit", "aggregate memory limit of all sandboxes (e.g. \"2g\")" },
  { "run.cgroup.pids", SBX_CFG_INT, "0", NULL, "aggregate pids limit of all sandboxes (0: none)" },
  { "run.cgroup.cpus", SBX_CFG_STR, NULL, "no limit", "aggregate CPU limit of all sandboxes (e.g. \"1.5\")" },
  { "host.module_allowlist", SBX_CFG_STRLIST, NULL, "none",
    "modules this host may have loaded (sbx doctor --host flags any other)" },
  { NULL, 0, NULL, NULL, NULL },
};

static const char *const type_names[] = { [SBX_CFG_STR] = "a string", [SBX_CFG_BOOL] = "a boolean (true or false)",
                                           [SBX_CFG_INT] = "an integer",
                                           [SBX_CFG_STRLIST] = "an array of strings" };

/* Whether the dotted KEY matches PATTERN, where a pattern segment "*" matches any one segment.  With PREFIX, KEY
   need only match the pattern's first segments (KEY is an object on the way to settings). */
static bool
key_matches (const char *pattern, const char *key, bool prefix)
{
  while (*pattern && *key)
    {
      size_t pn = strcspn (pattern, "."), kn = strcspn (key, ".");
      if (!(pn == 1 && *pattern == '*') && (pn != kn || memcmp (pattern, key, pn) != 0))
        return false;
      pattern += pn + (pattern[pn] == '.');
      key += kn + (key[kn] == '.');
    }
  return *key == '\0' && (prefix ? *pattern != '\0' : *pattern == '\0');
}

const struct sbx_setting *
sbx_setting_find (const char *key)
{
  for (const struct sbx_setting *s = sbx_settings; s->key; s++)
    if (key_matches (s->key, key, false))
      return s;
  return NULL;
}

static bool
is_object_path (const char *key)
{
  for (const struct sbx_setting *s = sbx_settings; s->key; s++)
    if (key_matches (s->key, key, true))
      return true;
  return false;
}

static bool
type_ok (const json_t *v, enum sbx_cfg_type t)
{
  long long n;

  switch (t)
    {
    case SBX_CFG_STR:
      return json_is (v, JSON_STRING);
    case SBX_CFG_BOOL:
      return json_is (v, JSON_BOOL);
    case SBX_CFG_INT:
      return json_num_int (v, &n);
    case SBX_CFG_STRLIST:
      if (!json_is (v, JSON_ARRAY))
        return false;
      for (size_t i = 0; i < json_arr_len (v); i++)
        if (!json_is (json_arr_at (v, i), JSON_STRING))
          return false;
      return true;
    }
  return false;
}

static const char *
json_kind (const json_t *v)
{
  static const char *const names[]
      = { [JSON_NULL] = "null", [JSON_BOOL] = "a boolean", [JSON_NUMBER] = "a number", [JSON_STRING] = "a string",
          [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array" };
  return names[json_type_of (v)];
}

/* Every member of OBJ (at dotted PATH, "" for the top) must be a setting of the right type or an object on the
   way to settings. */
static int
check_object (const json_t *obj, const char *path, const char *file, int depth, sbx_err *err)
{
  for (size_t i = 0; i < json_obj_len (obj); i++)
    {
      const char *k = json_obj_key (obj, i);
      const json_t *v = json_obj_val (obj, i);
      const struct sbx_setting *s;
      char key[256];

      if (strchr (k, '.') != NULL || *k == '\0'
          || snprintf (key, sizeof key, "%s%s%s", path, *path ? "." : "", k) >= (int) sizeof key)
        return sbx_fail (err, EINVAL, "%s: unknown setting \"%s%s%.64s\"", file, path, *path ? "." : "", k);
      if ((s = sbx_setting_find (key)) != NULL)
        {
          if (!type_ok (v, s->type))
            return sbx_fail (err, EINVAL, "%s: setting \"%s\" must be %s, not %s", file, key, type_names[s->type],
                             json_kind (v));
          continue;
        }
      if (!is_object_path (key))
        return sbx_fail (err, EINVAL, "%s: unknown setting \"%s\" (docs/settings.md and `sbx doctor` list them)",
                         file, key);
      if (!json_is (v, JSON_OBJECT))
        return sbx_fail (err, EINVAL, "%s: setting \"%s\" must be an object, not %s", file, key, json_kind (v));
      if (depth > 8 || check_object (v, key, file, depth + 1, err) < 0)
        return depth > 8 ? sbx_fail (err, EINVAL, "%s: \"%s\" nests too deep", file, key) : -1;
    }
  return 0;
}

int
sbx_settings_check (const json_t *root, const char *file, sbx_err *err)
{
  if (!json_is (root, JSON_OBJECT))
    return sbx_fail (err, EINVAL, "%s: not a JSON object", file);
  return check_object (root, "", file, 0, err);
}

/* Environment variables that take precedence over a setting. */
static const char *
env_override (const char *key)
{
  static const char *const map[][2] = { { "runtime", "SBX_RUNTIME" },         { "state_dir", "SBX_STATE_DIR" },
                                        { "profiles_dir", "SBX_PROFILES_DIR" }, { "seccomp_cache", "SBX_SECCOMP_CACHE" },
                                        { "run.image_cache", "SBX_IMAGE_CACHE" } };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp (map[i][0], key) == 0)
      {
        const char *v = getenv (map[i][1]);
        return v && *v ? map[i][1] : NULL;
      }
  return NULL;
}

void
sbx_settings_print (const struct sbx_config *cfg, FILE *out, const char *indent)
{
  for (const struct sbx_setting *s = sbx_settings; s->key; s++)
    {
      const json_t *v = strchr (s->key, '*') ? NULL : sbx_config_lookup (cfg, s->key);
      const char *env = env_override (s->key);
      cleanup_free char *text = NULL;
      size_t len;
      sbx_err err;

      if (strchr (s->key, '*'))
        continue;
      if (env)
        fprintf (out, "%s%-36s \"%s\" (from %s)\n", indent, s->key, getenv (env), env);
      else if (v != NULL && json_serialize (v, &text, &len, &err) == 0)
        fprintf (out, "%s%-36s %s\n", indent, s->key, text);
      else
        fprintf (out, "%s%-36s %s%s%s (default)\n", indent, s->key, s->def && s->type == SBX_CFG_STR ? "\"" : "",
                 s->def ? s->def : s->def_doc, s->def && s->type == SBX_CFG_STR ? "\"" : "");
    }
  /* The per-namespace allowances, as set. */
  {
    const json_t *nss = sbx_config_lookup (cfg, "tenants.namespaces");
    for (size_t i = 0; i < json_obj_len (nss); i++)
      {
        const json_t *o = json_obj_val (nss, i);
        for (size_t j = 0; j < json_obj_len (o); j++)
          {
            cleanup_free char *text = NULL;
            size_t len;
            sbx_err err;
            if (json_serialize (json_obj_val (o, j), &text, &len, &err) == 0)
              fprintf (out, "%stenants.namespaces.%s.%s %s\n", indent, json_obj_key (nss, i), json_obj_key (o, j),
                       text);
          }
      }
  }
}

/* hostpaths.c - host-paths stage: the files that make the kernel run a program (or load a file) as host root are
   read-only in every container, and a container that could undo that (no user namespace of its own) cannot mount.

   The kernel runs /proc/sys/kernel/modprobe on every module autoload, core_pattern's "|program" on every crash,
   uevent_helper (also /proc/sys/kernel/hotplug) on every uevent, poweroff_cmd on an orderly power-off, a
   binfmt_misc interpreter on every exec of a matching file, and a cgroup v1 hierarchy's release_agent when a
   cgroup empties: each as root of the initial namespaces, outside every container check.  These are global, not
   namespaced, and writable by uid 0 of the initial user namespace: a privileged container is that uid.

   readonlyPaths alone is cosmetic against CAP_SYS_ADMIN in the initial user namespace: such a container can
   umount or remount the read-only bind, or mount a fresh procfs, sysfs, cgroup v1 or binfmt_misc elsewhere.  So
   every container without a user namespace of its own also gets the mount family refused (EPERM) in its
   seccomp filter.  Without CAP_SYS_ADMIN these calls fail with EPERM anyway, so only containers that hold it
   (privileged ones, `exec --cap`, file capabilities) see a difference.  A container with its own user namespace
   keeps them: its root is not uid 0 of the host, so the kernel refuses its writes to these files whatever it
   mounts, unless its uid map reaches host uid 0 (then it is treated as having none).  open_by_handle_at is
   refused with the family: a handle opens a file of a mounted cgroup hierarchy outside the bind that shows it
   (the "shocker" escape), release_agent included.

   sbx.json "allow_mount_syscalls": true lets containers without a user namespace mount (CSI node plugins,
   Docker-in-Docker); the paths are then read-only only against containers without CAP_SYS_ADMIN. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../profiles/profile.h"
#include "../profiles/seccomp_oci.h"
#include "policy.h"

/* The host's paths, each with its reason. */
static const char *const proc_paths[] = {
  "/proc/sys/kernel/modprobe",     /* run on module autoload (request_module) */
  "/proc/sys/kernel/core_pattern", /* "|/path" run on every core dump */
  "/proc/sys/kernel/hotplug",      /* uevent helper, run on every uevent (CONFIG_UEVENT_HELPER) */
  "/proc/sys/kernel/poweroff_cmd", /* run on an orderly power-off (thermal trip, some drivers) */
  "/proc/sys/fs/binfmt_misc",      /* interpreters registered here run for matching executables */
};
static const char *const sys_paths[] = {
  "/sys/kernel/uevent_helper",                   /* the same helper as kernel.hotplug */
  "/sys/module/firmware_class/parameters/path",  /* the kernel loads firmware from here into devices */
};
/* cgroup v1 hierarchies as the host mounts them: each root's release_agent runs when a cgroup empties
   (CVE-2022-0492).  Only a hierarchy's root has one; a container sees a root through a bind or a mount of it. */
static const char *const cgroup_v1[] = {
  "", "blkio", "cpu", "cpuacct", "cpu,cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "misc",
  "net_cls", "net_prio", "net_cls,net_prio", "perf_event", "pids", "rdma", "systemd",
};

/* Refused for containers without a user namespace of their own. */
static const char *const mount_family[] = {
  "mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
  "mount_setattr", "pivot_root", "open_by_handle_at",
};

#define HOST_CGROUP "/sys/fs/cgroup"

/* The paths to add, gathered first and merged into linux.readonlyPaths once: sorted, each once, none the engine
   listed already (n log n, and hardening a hardened spec again adds nothing). */
struct ro_list
{
  char **cand;
  size_t n, cap;
};

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
ro_add (struct ro_list *ro, const char *path, sbx_err *err)
{
  if (ro->n == ro->cap)
    {
      size_t cap = ro->cap ? 2 * ro->cap : 32;
      char **c = realloc (ro->cand, cap * sizeof *c);
      if (c == NULL)
        return sbx_fail (err, ENOMEM, "linux.readonlyPaths");
      ro->cand = c, ro->cap = cap;
    }
  if ((ro->cand[ro->n] = strdup (path)) == NULL)
    return sbx_fail (err, ENOMEM, "linux.readonlyPaths");
  ro->n++;
  return 0;
}

static void
ro_free (struct ro_list *ro)
{
  for (size_t i = 0; i < ro->n; i++)
    free (ro->cand[i]);
  free (ro->cand);
}

/* Append the candidates to ARR (linux.readonlyPaths). */
static int
ro_merge (struct ro_list *ro, json_t *arr, sbx_err *err)
{
  cleanup_free const char **have = calloc (json_arr_len (arr) + 1, sizeof *have);
  size_t nhave = json_arr_len (arr);

  if (have == NULL)
    return sbx_fail (err, ENOMEM, "linux.readonlyPaths");
  for (size_t i = 0; i < nhave; i++)
    if ((have[i] = json_str (json_arr_at (arr, i))) == NULL)
      return sbx_fail (err, EINVAL, "linux.readonlyPaths[%zu] is not a string", i);
  qsort (have, nhave, sizeof *have, cmp_str);
  qsort (ro->cand, ro->n, sizeof *ro->cand, cmp_str);
  for (size_t i = 0; i < ro->n; i++)
    {
      if ((i > 0 && strcmp (ro->cand[i], ro->cand[i - 1]) == 0)
          || bsearch (&ro->cand[i], have, nhave, sizeof *have, cmp_str))
        continue;
      if (json_arr_push (arr, json_new_str (ro->cand[i]), err) < 0)
        return -1;
    }
  return 0;
}

static int
ro_add2 (struct ro_list *ro, const char *dir, const char *rest, sbx_err *err)
{
  cleanup_free char *p = NULL;
  size_t dl = strlen (dir);

  /* "/" + "/proc/..." is "/proc/...", not "//proc/...". */
  while (dl > 0 && dir[dl - 1] == '/')
    dl--;
  if (asprintf (&p, "%.*s%s", (int) dl, dir, rest) < 0)
    return sbx_fail (err, ENOMEM, "linux.readonlyPaths");
  return ro_add (ro, p, err);
}

/* Every cgroup v1 release_agent under DIR, a place where the host's /sys/fs/cgroup (or one hierarchy) shows. */
static int
ro_add_release_agents (struct ro_list *ro, const char *dir, bool one_hierarchy, sbx_err *err)
{
  char rest[64];

  for (size_t i = 0; i < (one_hierarchy ? 1 : SBX_ARRAY_SIZE (cgroup_v1)); i++)
    {
      snprintf (rest, sizeof rest, "%s%s/release_agent", *cgroup_v1[i] ? "/" : "", cgroup_v1[i]);
      if (ro_add2 (ro, dir, rest, err) < 0)
        return -1;
    }
  return 0;
}

/* SRC with "//", "/./" and "/x/.." folded, lexically (the host's symlinks are the operator's).  NULL when SRC
   is not absolute (a path in the bundle, which holds none of the host's kernel files). */
static char *
clean_path (const char *src)
{
  char *out, *o;

  if (src == NULL || src[0] != '/' || (out = malloc (strlen (src) + 2)) == NULL)
    return NULL;
  o = out;
  for (const char *p = src; *p;)
    {
      size_t len;

      while (*p == '/')
        p++;
      len = strcspn (p, "/");
      if (len == 0 || (len == 1 && p[0] == '.'))
        ;
      else if (len == 2 && p[0] == '.' && p[1] == '.')
        {
          while (o > out && *--o != '/')
            ;
        }
      else
        {
          *o++ = '/';
          memcpy (o, p, len);
          o += len;
        }
      p += len;
    }
  if (o == out)
    *o++ = '/';
  *o = '\0';
  return out;
}

/* HOST, a kernel file, as seen through a bind of the host's SRC at DEST: DEST + the rest, when HOST is SRC or
   under it. */
static int
ro_add_under (struct ro_list *ro, const char *src, const char *dest, const char *host, sbx_err *err)
{
  size_t sl = strcmp (src, "/") == 0 ? 0 : strlen (src);

  if (strncmp (host, src, sl) != 0 || (host[sl] != '\0' && host[sl] != '/'))
    return 0;
  return ro_add2 (ro, dest, host + sl, err);
}

/* A bind of the host's SRC at DEST shows whichever kernel files are at or under SRC. */
static int
ro_add_bind (struct ro_list *ro, const char *src, const char *dest, sbx_err *err)
{
  size_t cl = strlen (HOST_CGROUP), sl = strlen (src);

  for (size_t i = 0; i < SBX_ARRAY_SIZE (proc_paths); i++)
    if (ro_add_under (ro, src, dest, proc_paths[i], err) < 0)
      return -1;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (sys_paths); i++)
    if (ro_add_under (ro, src, dest, sys_paths[i], err) < 0)
      return -1;
  /* SRC at or above /sys/fs/cgroup ("/", "/sys", ...): every hierarchy below; SRC one hierarchy: its own. */
  if (strcmp (src, "/") == 0
      || (strncmp (HOST_CGROUP, src, sl) == 0 && (HOST_CGROUP[sl] == '/' || HOST_CGROUP[sl] == '\0')))
    {
      cleanup_free char *at = NULL;
      if (asprintf (&at, "%s%s", dest, strcmp (src, "/") == 0 ? HOST_CGROUP : &HOST_CGROUP[sl]) < 0)
        return sbx_fail (err, ENOMEM, "linux.readonlyPaths");
      return ro_add_release_agents (ro, at, false, err);
    }
  if (strncmp (src, HOST_CGROUP "/", cl + 1) == 0 && strchr (src + cl + 1, '/') == NULL)
    return ro_add_release_agents (ro, dest, true, err);
  return 0;
}

static bool
is_bind (const json_t *mount)
{
  const json_t *opts = json_find (mount, "options");
  const char *type = json_str (json_find (mount, "type"));

  if (type && strcmp (type, "bind") == 0)
    return true;
  for (size_t i = 0; i < json_arr_len (opts); i++)
    {
      const char *o = json_str (json_arr_at (opts, i));
      if (o && (strcmp (o, "bind") == 0 || strcmp (o, "rbind") == 0))
        return true;
    }
  return false;
}

/* The kernel files a spec mount shows at its destination: a fresh procfs, sysfs, cgroup or binfmt_misc mount
   anywhere, or a bind of the host's own. */
static int
ro_add_mount (struct ro_list *ro, const json_t *mount, size_t i, sbx_err *err)
{
  const char *type = json_str (json_find (mount, "type")), *dest = json_str (json_find (mount, "destination"));
  cleanup_free char *src = NULL;

  if (!json_is (mount, JSON_OBJECT) || dest == NULL)
    return sbx_fail (err, EINVAL, "mounts[%zu] has no destination", i);
  if (is_bind (mount))
    {
      src = clean_path (json_str (json_find (mount, "source")));
      return src ? ro_add_bind (ro, src, dest, err) : 0;
    }
  if (type == NULL)
    return 0;
  if (strcmp (type, "proc") == 0)
    {
      for (size_t k = 0; k < SBX_ARRAY_SIZE (proc_paths); k++)
        if (ro_add2 (ro, dest, proc_paths[k] + strlen ("/proc"), err) < 0)
          return -1;
    }
  else if (strcmp (type, "sysfs") == 0)
    {
      for (size_t k = 0; k < SBX_ARRAY_SIZE (sys_paths); k++)
        if (ro_add2 (ro, dest, sys_paths[k] + strlen ("/sys"), err) < 0)
          return -1;
    }
  else if (strcmp (type, "cgroup") == 0)
    return ro_add_release_agents (ro, dest, false, err);
  else if (strcmp (type, "binfmt_misc") == 0)
    return ro_add (ro, dest, err);
  return 0;
}

static int
readonly_paths (json_t *spec, sbx_err *err)
{
  struct ro_list ro = { 0 };
  json_t *lnx, *mounts, *arr;
  int rc = -1;

  if (json_obj_ensure (spec, "linux", &lnx, err) < 0 || json_get_typed (lnx, "readonlyPaths", JSON_ARRAY, &arr, err) < 0
      || json_get_typed (spec, "mounts", JSON_ARRAY, &mounts, err) < 0)
    return -1;
  if (arr == NULL)
    {
      if (json_set (lnx, "readonlyPaths", json_new_arr (), err) < 0)
        return -1;
      arr = json_find (lnx, "readonlyPaths");
    }
  for (size_t i = 0; i < SBX_ARRAY_SIZE (proc_paths); i++)
    if (ro_add (&ro, proc_paths[i], err) < 0)
      goto out;
  for (size_t i = 0; i < SBX_ARRAY_SIZE (sys_paths); i++)
    if (ro_add (&ro, sys_paths[i], err) < 0)
      goto out;
  for (size_t i = 0; i < json_arr_len (mounts); i++)
    if (ro_add_mount (&ro, json_arr_at (mounts, i), i, err) < 0)
      goto out;
  rc = ro_merge (&ro, arr, err);
out:
  ro_free (&ro);
  return rc;
}

/* Whether the container's uid 0 may be the host's: no user namespace of its own, one joined by path (it may be
   the host's), or a uid map that reaches host uid 0. */
static int
may_be_host_root (const json_t *spec, bool *host_root, sbx_err *err)
{
  const json_t *lnx = json_find (spec, "linux"), *nss = json_find (lnx, "namespaces"), *user = NULL;
  const json_t *maps = json_find (lnx, "uidMappings");

  for (size_t i = 0; i < json_arr_len (nss); i++)
    {
      const json_t *ns = json_arr_at (nss, i);
      const char *t = json_str (json_find (ns, "type"));
      if (t && strcmp (t, "user") == 0)
        user = ns;
    }
  *host_root = true;
  if (user == NULL || json_find (user, "path") != NULL)
    return 0;
  for (size_t i = 0; i < json_arr_len (maps); i++)
    {
      const json_t *m = json_arr_at (maps, i);
      long long host, size;

      if (!json_num_int (json_find (m, "hostID"), &host) || !json_num_int (json_find (m, "size"), &size))
        return sbx_fail (err, EINVAL, "linux.uidMappings[%zu] needs numbers hostID and size", i);
      if (host <= 0 && host + size > 0)
        return 0;
    }
  *host_root = false;
  return 0;
}

/* Take the family's names out of every rule of SECCOMP (an allow rule for one would make libseccomp refuse a
   second rule for it), then add one rule refusing them with EPERM unless that is the default already. */
static int
block_mounts (json_t *seccomp, const char *what, sbx_err *err)
{
  json_t *syscalls, *rule, *names;
  const char *def = json_str (json_find (seccomp, "defaultAction"));
  long long e;

  if (def == NULL)
    return sbx_fail (err, EINVAL, "%s has no defaultAction", what);
  if (json_get_typed (seccomp, "syscalls", JSON_ARRAY, &syscalls, err) < 0)
    return sbx_wrap (err, "%s", what);
  if (syscalls == NULL)
    {
      if (json_set (seccomp, "syscalls", json_new_arr (), err) < 0)
        return -1;
      syscalls = json_find (seccomp, "syscalls");
    }
  for (size_t i = 0; i < json_arr_len (syscalls);)
    {
      json_t *r = json_arr_at (syscalls, i), *n = json_find (r, "names");
      bool removed = false;

      for (size_t j = 0; j < json_arr_len (n);)
        {
          const char *name = json_str (json_arr_at (n, j));
          bool hit = false;
          for (size_t k = 0; name && k < SBX_ARRAY_SIZE (mount_family); k++)
            hit |= strcmp (name, mount_family[k]) == 0;
          if (hit)
            json_arr_del (n, j), removed = true;
          else
            j++;
        }
      if (removed && json_arr_len (n) == 0)
        json_arr_del (syscalls, i);
      else
        i++;
    }
  if (strcmp (def, "SCMP_ACT_ERRNO") == 0
      && (json_find (seccomp, "defaultErrnoRet") == NULL
          || (json_num_int (json_find (seccomp, "defaultErrnoRet"), &e) && e == EPERM)))
    return 0;
  if ((rule = json_new_obj ()) == NULL || json_arr_push (syscalls, rule, err) < 0 || (names = json_new_arr ()) == NULL
      || json_set (rule, "names", names, err) < 0)
    return sbx_fail (err, ENOMEM, "%s", what);
  for (size_t k = 0; k < SBX_ARRAY_SIZE (mount_family); k++)
    if (json_arr_push (names, json_new_str (mount_family[k]), err) < 0)
      return -1;
  if (json_set (rule, "action", json_new_str ("SCMP_ACT_ERRNO"), err) < 0
      || json_set (rule, "errnoRet", json_new_int (EPERM), err) < 0)
    return -1;
  return 0;
}

/* The seccomp stage's crun stand-in: kill by default, nothing else; the filter it stands for is in an
   annotation, which that stage puts back and hardens. */
static bool
is_standin (const json_t *seccomp)
{
  const json_t *rules = json_find (seccomp, "syscalls");

  return json_is (seccomp, JSON_OBJECT)
         && strcmp (json_str (json_find (seccomp, "defaultAction")) ?: "", "SCMP_ACT_KILL_PROCESS") == 0
         && json_arr_len (rules) == 0 && json_find (seccomp, "architectures") == NULL;
}

/* Refuse the family in the engine's filter, before the seccomp stage intersects it with the profile (which keeps
   the engine's refusals whatever the profile): then every profile, `baseline` included, the memo (keyed by the
   engine's filter) and crun's precompiled program all carry it.  A spec hardened for crun before holds its
   filter in an annotation beside a stand-in: the rule goes there. */
static int
seccomp_block (json_t *spec, sbx_err *err)
{
  json_t *lnx = json_find (spec, "linux"), *seccomp, *ann = json_find (spec, "annotations"), *saved;
  const char *text = json_str (json_find (ann, SBX_ANN_SECCOMP_SAVED));
  cleanup_free char *out = NULL;
  size_t len;
  int rc;

  if (text && is_standin (json_find (lnx, "seccomp")))
    {
      if (json_parse (text, strlen (text), "annotation " SBX_ANN_SECCOMP_SAVED, &saved, err) < 0)
        return -1;
      if (!json_is (saved, JSON_OBJECT))
        {
          json_free (saved);
          return sbx_fail (err, EINVAL, "annotation %s is not a JSON object", SBX_ANN_SECCOMP_SAVED);
        }
      rc = block_mounts (saved, "annotation " SBX_ANN_SECCOMP_SAVED, err);
      if (rc == 0)
        rc = json_serialize (saved, &out, &len, err);
      json_free (saved);
      if (rc < 0)
        return -1;
      return json_set (ann, SBX_ANN_SECCOMP_SAVED, json_new_str (out), err);
    }
  if (sbx_seccomp_of_spec (spec, &seccomp, err) < 0)
    return -1;
  return block_mounts (seccomp, "linux.seccomp", err);
}

int
sbx_stage_host_paths (json_t *spec, struct sbx_policy_ctx *ctx, sbx_err *err)
{
  bool host_root;

  if (readonly_paths (spec, err) < 0 || may_be_host_root (spec, &host_root, err) < 0)
    return -1;
  if (!host_root)
    return 0;
  if (ctx->cfg && sbx_config_bool (ctx->cfg, "allow_mount_syscalls", false))
    {
      ctx->note (SBX_INFO, "container %s: may mount (sbx.json allow_mount_syscalls): with CAP_SYS_ADMIN it can "
                 "make the kernel's helper paths writable", ctx->container_id ? ctx->container_id : "?");
      return 0;
    }
  return seccomp_block (spec, err);
}
